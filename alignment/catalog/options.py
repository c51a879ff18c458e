"""Study options for the catalog: KPI thresholds and variants, declared survey metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from ..exceptions import OptionError
from .expressions import NAME_RULE, Linear, is_name

SERVICE_LEVEL_VARIANTS = ("offered", "answered", "offered_minus_abandoned_within_t",
                          "offered_minus_short_abandons")
CSAT_VARIANTS = ("top2", "mean")


def _choice(owner: str, name: str, value, allowed) -> None:
    if value not in allowed:
        raise OptionError(
            f"The '{name}' parameter of {owner} must be one of "
            f"{', '.join(map(repr, allowed))}. Got {value!r} instead.")


def _positive_number(owner: str, name: str, value, *, allow_zero: bool = False) -> None:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 or (allow_zero and value == 0)))
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise OptionError(
            f"The '{name}' parameter of {owner} must be {kind} number of seconds. Got {value!r} instead.")


@dataclass(frozen=True)
class KpiOptions:
    """Thresholds and variants of the operational KPIs.

    Parameters
    ----------
    service_level_threshold_s : float, default 20
        T in "answered within T seconds" (a wait of exactly T counts as within).
    service_level_variant : str, default "offered"
        Denominator of service level: ``"offered"``, ``"answered"``,
        ``"offered_minus_abandoned_within_t"`` or ``"offered_minus_short_abandons"``.
    short_abandon_s : float, default 5
        Contacts abandoned after a wait of at most this many seconds are short abandons.
    csat_variant : {"top2", "mean"}, default "top2"
        CSAT as the share of 4-5 scores, or as the mean score.

    Examples
    --------
    >>> KpiOptions(service_level_threshold_s=30).service_level_variant
    'offered'
    """

    service_level_threshold_s: float = 20
    service_level_variant: str = "offered"
    short_abandon_s: float = 5
    csat_variant: str = "top2"

    def __post_init__(self):
        _positive_number("KpiOptions", "service_level_threshold_s", self.service_level_threshold_s)
        _positive_number("KpiOptions", "short_abandon_s", self.short_abandon_s, allow_zero=True)
        _choice("KpiOptions", "service_level_variant", self.service_level_variant,
                SERVICE_LEVEL_VARIANTS)
        _choice("KpiOptions", "csat_variant", self.csat_variant, CSAT_VARIANTS)


def _check_name(kind: str, name) -> None:
    """Metric names become panel columns and component names (``{name}_sum``) in formulas and SQL."""
    if not is_name(name):
        raise OptionError(f"A {kind} name may hold only {NAME_RULE} (e.g. customer_impact). "
                          f"Got {name!r} instead.")


def _scale(owner: str, scale) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise OptionError(f"The scale of {owner} must be two numbers [low, high]. Got {scale!r} instead.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise OptionError(f"The scale of {owner} must have low < high. Got {scale!r} instead.")
    return low, high


@dataclass(frozen=True)
class SurveyMetric:
    """A survey score column and how it becomes a CX metric.

    Parameters
    ----------
    name : str
        Metric name (also the panel column).
    column : str, optional
        Score column in the surveys table; default ``name``.
    scale : (low, high)
        Valid range of a score; responses outside it are an input error.
    higher_is_better : bool
    aggregation : {"mean", "top_box", "nps"}
        Mean score, share of responses in ``top_box`` (percent), or NPS.
    top_box : (low, high), optional
        Inclusive range that counts as a top-box response.

    Examples
    --------
    >>> ces = SurveyMetric("ces", scale=(1, 5), higher_is_better=True)
    >>> ces.components
    ('ces_n', 'ces_sum')
    """

    name: str
    column: str | None = None
    scale: tuple[float, float] = (1, 5)
    higher_is_better: bool = True
    aggregation: str = "mean"
    top_box: tuple[float, float] | None = None

    def __post_init__(self):
        _check_name("survey metric", self.name)
        object.__setattr__(self, "column", self.column or self.name)
        object.__setattr__(self, "scale", _scale(f"survey metric '{self.name}'", self.scale))
        _choice(f"SurveyMetric '{self.name}'", "aggregation", self.aggregation, ("mean", "top_box", "nps"))
        if self.aggregation == "top_box":
            box = _scale(f"the top box of '{self.name}'", self.top_box or ())
            if box[0] < self.scale[0] or box[1] > self.scale[1]:
                raise OptionError(f"The top_box {list(box)} of '{self.name}' lies outside its scale "
                                  f"{list(self.scale)}.")
            object.__setattr__(self, "top_box", box)

    @property
    def integer_scores(self) -> bool:
        """Counting categories (top box, NPS) needs whole-number scores."""
        return self.aggregation in ("top_box", "nps") or self.top_box is not None

    @property
    def components(self) -> tuple[str, ...]:
        """Additive panel components this metric needs."""
        n = self.name
        if self.aggregation == "nps":
            return (f"{n}_n", f"{n}_promoters", f"{n}_detractors")
        return (f"{n}_n", f"{n}_sum") + ((f"{n}_top",) if self.top_box is not None else ())

    def metric(self, entry: Mapping | None = None):
        """The catalog :class:`~alignment.catalog.Metric` for this declaration."""
        from . import Metric
        entry = entry or {}
        n = self.name
        if self.aggregation == "nps":
            num, den, mult, unit = f"{n}_promoters - {n}_detractors", f"{n}_n", 100.0, "points (-100..100)"
            formula = "100 * (promoters - detractors) / responses"
        elif self.aggregation == "top_box":
            num, den, mult, unit = f"{n}_top", f"{n}_n", 100.0, "%"
            formula = f"100 * responses scoring {self.top_box[0]:g}-{self.top_box[1]:g} / responses"
        else:
            num, den, mult = f"{n}_sum", f"{n}_n", 1.0
            unit = f"points ({self.scale[0]:g}-{self.scale[1]:g})"
            formula = "sum of scores / responses"
        return Metric(
            name=n, label=entry.get("label", n.upper()), kind="cx",
            definition=entry.get("definition", f"Survey metric from column '{self.column}'."),
            unit=unit, higher_is_better=self.higher_is_better,
            numerator=Linear.parse(num), denominator=Linear.parse(den), multiplier=mult,
            rollup="pooled_ratio" if mult == 100 else "mean_over_contacts",
            formula=formula, inputs=(f"surveys.{self.column}",), scale=self.scale,
            short_label=entry.get("short_label", n.upper()),
        )


@dataclass(frozen=True)
class CompositeScore:
    """A user-defined composite of survey scores, such as a Customer Impact Score.

    Each response's component scores are rescaled to 0-1 on their declared
    scales (reversed where lower is better), combined with the weights
    (normalized to sum to one) and mapped onto ``scale``. Responses missing
    any component are left out of the composite.

    Parameters
    ----------
    name : str, default "cis"
    weights : mapping of survey metric name -> positive weight
    scale : (low, high), default (0, 100)

    Examples
    --------
    >>> cis = CompositeScore("cis", weights={"csat": 2, "nps": 1})
    >>> cis.components
    ('cis_n', 'cis_sum')
    """

    name: str = "cis"
    weights: Mapping[str, float] = field(default_factory=dict)
    scale: tuple[float, float] = (0, 100)
    higher_is_better: bool = True

    def __post_init__(self):
        _check_name("composite score", self.name)
        owner = f"composite score '{self.name}'"
        if not self.weights:
            raise OptionError(f"The {owner} needs weights: {{survey column = weight, ...}}.")
        for col, w in self.weights.items():
            if not (isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0):
                raise OptionError(f"The weight of '{col}' in the {owner} must be a positive number. Got {w!r} instead.")
        object.__setattr__(self, "weights", dict(self.weights))
        object.__setattr__(self, "scale", _scale(owner, self.scale))

    @property
    def components(self) -> tuple[str, ...]:
        return (f"{self.name}_n", f"{self.name}_sum")

    def row_sql(self, declared: Mapping[str, SurveyMetric], quote) -> str:
        """Per-response composite as SQL over typed scores named after their metrics; NULL unless all are present."""
        total = sum(self.weights.values())
        terms, present = [], []
        for col, w in self.weights.items():
            if col not in declared:
                raise OptionError(
                    f"The composite score '{self.name}' uses '{col}', which is not a declared survey "
                    f"metric (known: {', '.join(declared)}).")
            m = declared[col]
            lo, hi = m.scale
            x = quote(m.name)
            norm = f"(({x}) - {lo!r}) / {hi - lo!r}"
            if not m.higher_is_better:
                norm = f"(1 - {norm})"
            terms.append(f"{w / total!r} * {norm}")
            present.append(f"{x} IS NOT NULL")
        lo, hi = self.scale
        return (f"CASE WHEN {' AND '.join(present)} THEN "
                f"{lo!r} + {hi - lo!r} * ({' + '.join(terms)}) END")

    def metric(self, entry: Mapping | None = None):
        from . import Metric
        entry = entry or {}
        n = self.name
        parts = ", ".join(f"{k} x {v:g}" for k, v in self.weights.items())
        return Metric(
            name=n, label=entry.get("label", n.upper()), kind="cx",
            definition=entry.get("definition", "User-defined composite score.") + f" Declared as: {parts}.",
            unit=f"points ({self.scale[0]:g}-{self.scale[1]:g})",
            higher_is_better=self.higher_is_better, numerator=Linear.parse(f"{n}_sum"),
            denominator=Linear.parse(f"{n}_n"), multiplier=1.0, rollup="mean_over_contacts",
            formula="sum of per-response composite scores / responses with every component",
            inputs=tuple(f"surveys.{k}" for k in self.weights), scale=self.scale,
            short_label=entry.get("short_label", n.upper()),
        )


def builtin_survey_metrics() -> dict[str, SurveyMetric]:
    """The survey metrics known without a declaration: CSAT, NPS and CES."""
    return {
        "csat": SurveyMetric("csat", scale=(1, 5), top_box=(4, 5)),
        "nps": SurveyMetric("nps", scale=(0, 10), aggregation="nps"),
        "ces": SurveyMetric("ces", scale=(1, 7), higher_is_better=False),
    }
