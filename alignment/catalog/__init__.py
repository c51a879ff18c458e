"""Steps 1 and 2 of the method: the catalog of CX metrics and operational KPIs.

The catalog is data (``metrics.toml`` beside this file). Each metric is a
pooled formula over additive *components* that the panel keeps, so a rate is
always ``multiplier * sum(numerator) / sum(denominator)`` over the contacts of a
period and segment, never a mean of period rates.

Examples
--------
>>> from alignment import catalog
>>> catalog.get("asa").formula
'sum of wait of answered contacts / answered'
>>> "service_level" in catalog.names()
True
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from .expressions import Linear
from .options import CompositeScore, KpiOptions, SurveyMetric, builtin_survey_metrics

__all__ = [
    "Metric",
    "KpiOptions",
    "SurveyMetric",
    "CompositeScore",
    "get",
    "entry",
    "names",
    "table",
    "describe",
    "resolve",
    "families",
    "check_units",
    "UNIT_KEYS",
    "nps_standard_error",
    "builtin_survey_metrics",
]

_FIELDS = ("numerator", "denominator", "multiplier", "unit", "formula", "rollup")


@dataclass(frozen=True)
class Metric:
    """One metric of the catalog, in one variant.

    Attributes
    ----------
    name : str
        snake_case id used everywhere (panel column, study file).
    label, definition, unit, formula : str
        Human-readable description.
    kind : {"cx", "operational", "extra"}
    higher_is_better : bool
    numerator, denominator : Linear or None
        Sums and differences of panel components. ``denominator`` is None for
        a summed count (``rollup == "sum"``).
    multiplier : float
        100 for percentages.
    rollup : {"pooled_ratio", "sum", "mean_over_contacts", "distinct_ratio"}
        How the metric rolls up from contacts to any grain. ``distinct_ratio``
        needs a distinct count and can only be recomputed from raw records.
    inputs : tuple of str
        Input columns it needs, as ``table.column``.
    variant : str or None
        The chosen variant for metrics that have several definitions.
    short_label : str
        The name a sentence uses: ``"ASA"``, ``"service level"``, ``"CSAT"``.
    step : float or None
        For operational KPIs, the change a manager thinks in, in ``unit`` (percentage points
        for a ``"%"`` KPI): effects are reported per step.
    family : str or None
        KPIs built from the same contacts share a family (see :func:`families`).
    """

    name: str
    label: str
    kind: str
    definition: str
    unit: str
    higher_is_better: bool
    numerator: Linear
    denominator: Linear | None
    multiplier: float
    rollup: str
    formula: str
    inputs: tuple[str, ...] = ()
    variant: str | None = None
    variants: tuple[str, ...] = ()
    scale: tuple[float, float] | None = None
    targets: str | None = None
    bands: tuple[Mapping[str, object], ...] = ()
    benchmarks: Mapping[str, float] = field(default_factory=dict)
    short_label: str = ""
    step: float | None = None
    family: str | None = None

    @property
    def additive(self) -> bool:
        """True when the metric can be re-pooled from summed components."""
        return self.rollup != "distinct_ratio"

    @property
    def components(self) -> tuple[str, ...]:
        """Components the metric is computed from."""
        den = self.denominator.names if self.denominator is not None else ()
        return tuple(dict.fromkeys(self.numerator.names + den))

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Compute the metric from a frame of summed components.

        A zero (or missing) denominator gives NaN, never an infinity.

        Examples
        --------
        >>> import pandas as pd
        >>> from alignment import catalog
        >>> parts = pd.DataFrame({"n_answered_within_t": [3, 1], "n_contacts": [4, 0]})
        >>> catalog.get("service_level").evaluate(parts).tolist()
        [75.0, nan]
        """
        num = self.numerator.evaluate(frame)
        if self.denominator is None:
            return (self.multiplier * num).astype(float)
        den = self.denominator.evaluate(frame).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.multiplier * num / den.where(den != 0)
        return out.astype(float)

    def sql(self, quote=lambda name: f'"{name}"') -> str:
        """The metric as a SQL expression over summed components (null on a zero denominator)."""
        num = self.numerator.sql(quote)
        if self.denominator is None:
            return f"CAST({self.multiplier!r} * ({num}) AS DOUBLE)"
        den = self.denominator.sql(quote)
        return (f"CASE WHEN ({den}) = 0 THEN NULL "
                f"ELSE {self.multiplier!r} * CAST({num} AS DOUBLE) / ({den}) END")

    def band(self, value: float) -> str | None:
        """Name of the band that ``value`` falls in (bands are [low, high), the top one closed)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        top = max((b["high"] for b in self.bands), default=None)
        for b in self.bands:
            if b["low"] <= value < b["high"] or (value == top == b["high"]):
                return str(b["name"])
        return None

    def to_dict(self) -> dict:
        """Plain-Python description of the metric (for JSON and the report)."""
        return {
            "name": self.name, "label": self.label, "kind": self.kind,
            "definition": self.definition, "unit": self.unit,
            "higher_is_better": self.higher_is_better, "formula": self.formula,
            "numerator": str(self.numerator),
            "denominator": None if self.denominator is None else str(self.denominator),
            "multiplier": self.multiplier, "rollup": self.rollup,
            "inputs": list(self.inputs), "variant": self.variant,
            "variants": list(self.variants),
            "scale": None if self.scale is None else list(self.scale),
            "targets": self.targets, "bands": [dict(b) for b in self.bands],
            "benchmarks": dict(self.benchmarks),
            "short_label": self.short_label, "step": self.step, "family": self.family,
        }


def _load() -> dict[str, dict]:
    text = resources.files(__package__).joinpath("metrics.toml").read_text("utf-8")
    return tomllib.loads(text)


_ENTRIES: dict[str, dict] = _load()


def entry(name: str) -> dict | None:
    """The raw catalog entry for ``name`` (None when the catalog does not know it)."""
    return _ENTRIES.get(name)


def names(kind: str | None = None) -> list[str]:
    """Names of the catalog's metrics, optionally of one kind ("cx" or "operational")."""
    return [n for n, e in _ENTRIES.items() if kind is None or e["kind"] == kind]


def _build(name: str, entry: Mapping, variant: str | None, **override) -> Metric:
    variants = tuple(entry.get("variants", {}))
    spec = dict(entry)
    if variants:
        variant = variant or entry["default"]
        if variant not in entry["variants"]:
            raise OptionError(
                f"The variant of '{name}' must be one of {', '.join(map(repr, variants))}. "
                f"Got {variant!r} instead.")
        spec.update(entry["variants"][variant])
    else:
        variant = None
    spec.update(override)
    den = spec.get("denominator")
    return Metric(
        name=name, label=spec["label"], kind=spec["kind"], definition=spec["definition"],
        unit=spec["unit"], higher_is_better=bool(spec["higher_is_better"]),
        numerator=Linear.parse(spec["numerator"]),
        denominator=None if den is None else Linear.parse(den),
        multiplier=float(spec.get("multiplier", 1)), rollup=spec["rollup"],
        formula=spec["formula"], inputs=tuple(spec.get("inputs", ())), variant=variant,
        variants=variants, scale=tuple(spec["scale"]) if "scale" in spec else None,
        targets=spec.get("targets"), bands=tuple(spec.get("bands", ())),
        benchmarks=dict(spec.get("benchmarks", {})), short_label=spec.get("short_label", name),
        step=float(spec["step"]) if "step" in spec else None, family=spec.get("family"),
    )


def get(name: str, variant: str | None = None) -> Metric:
    """Look up one catalog metric.

    Parameters
    ----------
    name : str
        Catalog name, e.g. ``"service_level"``.
    variant : str, optional
        For metrics with several definitions (service level, CSAT); default
        the catalog's default variant.

    Raises
    ------
    OptionError
        For an unknown name or variant.

    Examples
    --------
    >>> from alignment import catalog
    >>> catalog.get("service_level", "answered").formula
    '100 * answered within T / answered'
    """
    if name not in _ENTRIES:
        raise OptionError(
            f"Unknown metric {name!r}. Known metrics: {', '.join(_ENTRIES)}.")
    return _build(name, _ENTRIES[name], variant)


def resolve(name: str, options: KpiOptions | None = None,
            survey_metrics: Sequence[SurveyMetric | CompositeScore] = ()) -> Metric:
    """The metric a study means by ``name``, given its options and declared survey metrics.

    Declared survey metrics override the built-in scale and direction (CES is
    declared per study); a declared name the catalog does not know becomes a
    mean-score or top-box metric of its own.
    """
    options = options or KpiOptions()
    declared = {m.name: m for m in survey_metrics}
    if name in declared:
        return declared[name].metric(_ENTRIES.get(name))
    if name == "service_level":
        return get(name, options.service_level_variant)
    if name == "csat":
        return get(name, options.csat_variant)
    return get(name)


def table() -> pd.DataFrame:
    """The whole catalog as a tidy DataFrame, one row per metric and variant."""
    rows = []
    for name, entry in _ENTRIES.items():
        for variant in entry.get("variants", {None: None}):
            m = _build(name, entry, variant)
            rows.append({
                "name": name, "variant": m.variant, "label": m.label, "kind": m.kind,
                "unit": m.unit, "higher_is_better": m.higher_is_better,
                "formula": m.formula, "rollup": m.rollup,
                "inputs": ", ".join(m.inputs), "targets": m.targets,
            })
    return pd.DataFrame(rows)


def describe(name: str) -> str:
    """Multi-line text describing one metric and all its variants."""
    entry = _ENTRIES.get(name)
    m = get(name)
    lines = [f"{m.name}: {m.label}", f"  {m.definition}",
             f"  unit: {m.unit}; higher is better: {'yes' if m.higher_is_better else 'no'}",
             f"  rolls up as: {m.rollup.replace('_', ' ')}",
             f"  needs: {', '.join(m.inputs)}"]
    if m.variants:
        for v in m.variants:
            mv = get(name, v)
            default = " (default)" if v == entry["default"] else ""
            lines.append(f"  variant {v}{default}: {mv.formula}  [{_ratio(mv)}]")
    else:
        lines.append(f"  formula: {m.formula}  [{_ratio(m)}]")
    if "standard_error" in entry:
        lines.append(f"  standard error: {entry['standard_error']}")
    if m.step is not None:
        word = "percentage point" if m.unit == "%" else "point" if m.unit.startswith("points") else None
        step_unit = (word + "s" * (m.step != 1)) if word else m.unit
        lines.append(f"  effects per step of {m.step:g} {step_unit}")
    if m.family:
        kin = [n for n, e in _ENTRIES.items() if n != name and e.get("family") == m.family]
        lines.append(f"  family: {m.family} (with {', '.join(kin)})")
    if m.scale:
        lines.append(f"  scale: {m.scale[0]:g}-{m.scale[1]:g}")
    if m.targets:
        lines.append(f"  targets: {m.targets}")
    top = max((b["high"] for b in m.bands), default=None)
    for b in m.bands:
        upper = f"to {b['high']}" if b["high"] == top else f"to below {b['high']}"
        lines.append(f"  band {b['name']}: {b['low']} {upper}")
    if m.benchmarks:
        lines.append("  industry benchmarks: " + ", ".join(
            f"{k.replace('_', ' ')} {v:g}" for k, v in m.benchmarks.items()))
    return "\n".join(lines)


def _ratio(m: Metric) -> str:
    """``multiplier * numerator / denominator`` in component names."""
    def part(lin: Linear) -> str:
        return f"({lin})" if len(lin.terms) > 1 else str(lin)
    text = part(m.numerator) + ("" if m.denominator is None else f" / {part(m.denominator)}")
    return f"{m.multiplier:g} * {text}" if m.multiplier != 1 else text


def families(kpis: Sequence[str],
             declared: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """The families among ``kpis``: KPIs computed from the same contacts.

    KPIs of one family move together by construction -- ASA, service level and the abandon
    rates all come from the waits of the same queue, FCR and the transfer rate from how the
    same answered contacts ended -- so their separate effects are poorly identified and a
    check or ranking may want to treat them as one group. The catalog declares ``waiting``
    (asa, service_level, abandon_rate, abandon_rate_excl_short, avg_time_to_abandon) and
    ``resolution`` (fcr, transfer_rate); a study declares its own in ``[families]``.

    Parameters
    ----------
    kpis : sequence of str
        The KPIs to group, e.g. a study's KPIs.
    declared : mapping of family name -> sequence of KPI names, optional
        Families a study declares. They take precedence: a KPI in a declared family leaves its
        catalog family, and a declared family named like a catalog family replaces it (its
        members are exactly the declared ones). Members not in ``kpis`` are ignored.

    Returns
    -------
    dict of str -> tuple of str
        Only families with at least 2 of the given KPIs; members in the order of ``kpis``,
        families in the order of their first member.

    Raises
    ------
    OptionError
        When ``declared`` does not map names to lists of KPI names, or puts a KPI in two
        families.

    Examples
    --------
    >>> from alignment import catalog
    >>> catalog.families(["fcr", "asa", "aht", "service_level", "transfer_rate"])
    {'resolution': ('fcr', 'transfer_rate'), 'waiting': ('asa', 'service_level')}
    >>> catalog.families(["asa", "service_level", "agents", "occupancy"],
    ...                  declared={"staffing": ["agents", "occupancy", "asa"]})
    {'staffing': ('asa', 'agents', 'occupancy')}
    """
    kpis = list(dict.fromkeys([kpis] if isinstance(kpis, str) else kpis))
    declared = {} if declared is None else declared
    if not isinstance(declared, Mapping):
        raise OptionError(f"The 'declared' parameter of families must map family names to lists of KPIs. "
                          f"Got {declared!r} instead.")
    family_of: dict[str, str] = {}
    for name, members in declared.items():
        if (isinstance(members, str) or not isinstance(members, Sequence)
                or not all(isinstance(m, str) for m in members)):
            raise OptionError(f"The members of family {name!r} must be a list of KPI names. "
                              f"Got {members!r} instead.")
        for m in members:
            if family_of.get(m, name) != name:
                raise OptionError(f"{m!r} is in two families, {family_of[m]!r} and {name!r}; "
                                  f"a KPI belongs to one family at most.")
            family_of[m] = name
    for k in kpis:
        own = (_ENTRIES.get(k) or {}).get("family")
        if k not in family_of and own is not None and own not in declared:
            family_of[k] = own
    groups: dict[str, list[str]] = {}
    for k in kpis:
        if k in family_of:
            groups.setdefault(family_of[k], []).append(k)
    return {name: tuple(members) for name, members in groups.items() if len(members) >= 2}


UNIT_KEYS = ("step", "unit", "label")


def check_units(units: Mapping[str, Mapping[str, object]] | None,
                owner: str = "The 'units' parameter of regress") -> dict[str, dict]:
    """Validate declared steps, units and labels of KPIs; return them as plain dicts.

    ``units`` maps a KPI to a mapping with any of ``step`` (a positive number, in the KPI's
    unit), ``unit`` (a string such as ``"USD"``) and ``label`` (a non-empty string used in
    sentences). A catalog KPI's unit is fixed by its formula, so only its step and label may
    be declared.

    Raises
    ------
    OptionError
        With one line naming the KPI and the key.

    Examples
    --------
    >>> from alignment import catalog
    >>> catalog.check_units({"marketing_spend": {"step": 1000, "unit": "USD"}})
    {'marketing_spend': {'step': 1000.0, 'unit': 'USD'}}
    """
    if units is None:
        return {}
    keys = ", ".join(map(repr, UNIT_KEYS))
    if not isinstance(units, Mapping):
        raise OptionError(f"{owner} must map each KPI to a mapping with keys {keys}. Got {units!r} instead.")
    out = {}
    for name, spec in units.items():
        if not isinstance(spec, Mapping):
            raise OptionError(f"{owner} must map each KPI to a mapping with keys {keys}. "
                              f"Got {spec!r} for {name!r} instead.")
        unknown = [k for k in spec if k not in UNIT_KEYS]
        if unknown:
            raise OptionError(f"{owner} has an unknown key {unknown[0]!r} for {name!r} (known: {keys}).")
        clean = {}
        if "step" in spec:
            step = spec["step"]
            if (isinstance(step, bool) or not isinstance(step, (int, float, np.integer, np.floating))
                    or not math.isfinite(step) or step <= 0):
                raise OptionError(f"The step of {name!r} must be a positive number. Got {step!r} instead.")
            clean["step"] = float(step)
        for key in ("unit", "label"):
            if key in spec:
                value = spec[key]
                if not isinstance(value, str) or (key == "label" and not value.strip()):
                    raise OptionError(f"The {key} of {name!r} must be a {'non-empty ' * (key == 'label')}string. "
                                      f"Got {value!r} instead.")
                clean[key] = value
        entry = _ENTRIES.get(name)
        if entry is not None and "unit" in clean and clean["unit"] != entry["unit"]:
            raise OptionError(f"The unit of {name!r} is fixed by the catalog ({entry['unit']!r}); declare its "
                              f"step or label only. Got {clean['unit']!r} instead.")
        out[name] = clean
    return out


def nps_standard_error(promoters, detractors, n):
    """Standard error of NPS (on the -100..100 scale) from counts.

    ``100 * sqrt((p + d - (p - d)**2) / n)`` with ``p = promoters / n`` and
    ``d = detractors / n``: the variance of a response scored +1, 0 or -1.
    NaN where ``n`` is zero.

    Examples
    --------
    >>> round(float(nps_standard_error(50, 20, 100)), 4)
    7.8102
    """
    promoters, detractors, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        p, d = promoters / n, detractors / n
        return 100 * np.sqrt((p + d - (p - d) ** 2) / n)
