"""The study file: a TOML document that declares all six steps, validated when it loads.

This is a public contract (see the README's "Study file" section): unknown keys, wrong types
and unknown KPIs are one-line errors that name the file and the key.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from .. import catalog
from ..catalog import CompositeScore, KpiOptions, SurveyMetric
from ..data.sources import AGGREGATES, ExtraSource, Source
from ..engine import ENGINES, engine_from_kind
from ..panel.build import build_panel, reserved_names
from ..panel.frame import EFFECTS, WEIGHTS, Calendar
from ..panel.query import first_period
from ..panel.timezones import check_timezone
from ..exceptions import AlignmentError, OptionError
from ..stats.resample import MAX_RESAMPLES
from ..validation.options import Intervention, Thresholds

# CX scores measured on the contacts themselves rather than by a survey: the Customer Quality
# Interaction Score (the catalog's interaction_quality_score) can be a study's outcome (the study
# still reads its surveys; the contact-level model, which explains a survey score, is not fitted)
CONTACT_OUTCOMES = ("interaction_quality_score",)

GRAINS = ("day", "week", "month")
#: A study file larger than this is refused unread (a study file is a few KB; this catches a
#: wrong path such as a data file or a device).
MAX_STUDY_BYTES = 1_000_000
#: The default of ``[study] max_segments``: more segments than this are refused before the
#: statistics, which grow with the segments (the bootstrap resamples whole segments).
MAX_SEGMENTS = 2000


class StudyError(AlignmentError):
    """The study file is malformed or names something unknown."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.source, self.key = source, key
        where = ", ".join(p for p in (source, f"key '{key}'" if key else None) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Study:
    """A study: every choice of the six steps, as a value.

    Build one in Python or load it with :meth:`Study.from_toml`; :meth:`run` does steps 1-6.
    ``engine`` builds the panel: None or :class:`~alignment.DuckDBEngine` (embedded, the
    default), or :class:`~alignment.SparkEngine`, e.g. ``Study(..., engine=SparkEngine(spark))``
    with the active SparkSession; the results are the same.

    ``units`` maps a KPI to how its effects are reported (``{"step": 1000, "unit": "USD",
    "label": "marketing spend"}``, each key optional; ``[kpis.NAME]`` in the study file), for
    KPIs the catalog does not know or to change a catalog KPI's step or label. ``families``
    maps a family name to KPIs built from the same contacts (``[families]``), beyond the
    catalog's own (see :func:`alignment.catalog.families`); only the declared ones are kept here.
    ``targets`` maps a KPI to the value the centre aims for (``[kpis.NAME] target = 30``) or a
    band (``target = [70, 75]``), kept as a ``(low, high)`` pair (equal for a single value); the
    report sets today's value against it.
    ``contact_model`` (``[study] contact_model``): None (the default) fits the contact-level model
    (:func:`alignment.contact_model`) when the surveys link to contacts, True demands it, False
    turns it off; ``contact_controls`` (``[study] contact_controls = ["reason"]``) are contact
    columns it controls for; ``contact_coding`` (``[study] contact_coding``) how the score is its
    outcome (:func:`alignment.contact.coding`: ``auto``, ``top_box``, ``mean``, ``ordinal``, ``nps``,
    ``promoters``, ``detractors``). ``max_segments`` (default 2000): a panel with more segments is
    refused once it is built, before the statistics; ``n_boot`` is at most 100,000.

    Examples
    --------
    >>> from alignment import Study
    >>> study = Study.from_toml("data/demo/study.toml")
    >>> study.outcome, study.grain, study.by
    ('csat', 'week', ('queue',))
    """

    name: str
    outcome: str
    kpis: tuple[str, ...]
    contacts: Source
    surveys: Source | None = None
    extras: tuple[ExtraSource, ...] = ()
    grain: str = "week"
    by: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    timezone: str | None = None
    max_lag: int = 0
    holdout_start: dt.date | None = None
    min_responses: int = 30
    seed: int = 0
    n_boot: int = 1000
    kpi_options: KpiOptions = field(default_factory=KpiOptions)
    survey_metrics: tuple[SurveyMetric | CompositeScore, ...] = ()
    validation: Thresholds = field(default_factory=Thresholds)
    interventions: tuple[Intervention, ...] = ()
    source: str | None = None
    engine: object = None
    effects: str | None = None
    weights: str = "responses"
    calendar: Calendar = field(default_factory=Calendar)
    units: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    families: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    contact_model: bool | None = None
    contact_controls: tuple[str, ...] = ()
    contact_coding: str = "auto"
    max_segments: int = MAX_SEGMENTS
    staffing: object = None  # alignment.staffing.StaffingSource: [data.staffing], agents on duty per interval
    targets: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    customers: object = None
    customer_events: tuple = ()
    agent_cost_per_hour: float | None = None  # [study] agent_cost_per_hour: the price of an agent hour (what-if)

    def __post_init__(self):
        where = self.source
        from ..impact.customers import as_customers
        object.__setattr__(self, "customers", as_customers(self.customers))
        object.__setattr__(self, "customer_events", tuple(self.customer_events or ()))
        if self.customers is not None and self.customers.outcome != "churn" and self.customers.outcome not in {
                e.event for e in self.customer_events}:
            raise StudyError(f"names the event {self.customers.outcome!r}, which no [[data.customer_events]] "
                             f"declares", source=where, key="data.customers.outcome")
        for key, value, low, high in (("n_boot", self.n_boot, 0, MAX_RESAMPLES),
                                      ("max_segments", self.max_segments, 1, None)):
            whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if not whole or value < low or (high and value > high):
                bound = f"from {low:,} to {high:,}" if high else f">= {low}"
                raise StudyError(f"must be a whole number {bound}. Got {value!r} instead.", source=where,
                                 key=f"study.{key}")
        from ..catalog.codings import CODINGS
        if self.contact_coding not in CODINGS:
            raise StudyError(f"must be one of {', '.join(repr(c) for c in CODINGS)}. Got {self.contact_coding!r} "
                             f"instead.", source=where, key="study.contact_coding")
        if self.contact_model is not None and not isinstance(self.contact_model, bool):
            raise StudyError(f"must be true or false. Got {self.contact_model!r} instead.", source=where,
                             key="study.contact_model")
        object.__setattr__(self, "contact_controls", tuple(self.contact_controls))
        if self.contact_controls and self.contact_model is False:
            raise StudyError("contact_controls are controls of the contact-level model, which contact_model = "
                             "false turns off", source=where, key="study.contact_controls")
        if self.effects is not None and self.effects not in EFFECTS:
            raise StudyError(f"must be one of 'twoway', 'segment', 'none'. Got {self.effects!r} instead.",
                             source=where, key="study.effects")
        if self.effects == "twoway" and len(self.by) == 0:
            raise StudyError("'twoway' needs segments (by = [...]): with one series, period effects would absorb "
                             "everything", source=where, key="study.effects")
        if self.weights not in WEIGHTS:
            raise StudyError(f"must be 'responses' or 'none'. Got {self.weights!r} instead.",
                             source=where, key="study.weights")
        if self.grain not in GRAINS:
            raise StudyError(f"must be one of 'day', 'week', 'month'. Got {self.grain!r} instead.",
                             source=where, key="study.grain")
        if not self.kpis:
            raise StudyError("lists no KPI", source=where, key="study.kpis")
        if len(set(self.by)) != len(self.by):
            dup = next(b for b in self.by if self.by.count(b) > 1)
            raise StudyError(f"lists {dup!r} twice", source=where, key="study.by")
        taken = reserved_names(self.survey_metrics, segments=True)
        for b in self.by:
            what = taken.what(b) or ("a KPI of the study" if b in self.kpis else None)
            if what:
                raise StudyError(f"the segment column {b!r} is already {what}; rename the column (in the "
                                 f"file, or with [data.contacts] columns = {{ new_name = \"{b}\" }})",
                                 source=where, key="study.by")
        if len(set(self.kpis)) != len(self.kpis):
            dup = next(k for k in self.kpis if self.kpis.count(k) > 1)
            raise StudyError(f"lists {dup!r} twice", source=where, key="study.kpis")
        if self.outcome in self.kpis:
            raise StudyError(f"the outcome {self.outcome!r} cannot also be a KPI", source=where, key="study.kpis")
        declared = {m.name for m in self.survey_metrics}
        if self.outcome not in declared and catalog.entry(self.outcome) is None:
            raise StudyError(f"{self.outcome!r} is not a survey metric (csat, nps, ces, cis, or one declared "
                             f"in [metrics.NAME])", source=where, key="study.outcome")
        entry = catalog.entry(self.outcome)
        if entry is not None and entry["kind"] != "cx" and self.outcome not in declared \
                and self.outcome not in CONTACT_OUTCOMES:
            raise StudyError(f"{self.outcome!r} is an operational KPI, not a CX metric", source=where,
                             key="study.outcome")
        if self.outcome == "cis" and "cis" not in declared:
            raise StudyError("the Customer Impact Score has no standard formula: declare it in [metrics.cis] "
                             "with weights = { column = weight, ... } and scale = [low, high]",
                             source=where, key="study.outcome")
        simple = {"csat", "nps", "ces"} | {m.name for m in self.survey_metrics if isinstance(m, SurveyMetric)}
        for m in self.survey_metrics:
            if isinstance(m, CompositeScore):
                unknown = [k for k in m.weights if k not in simple]
                if unknown:
                    raise StudyError(f"weights name {unknown[0]!r}, which is not a survey metric "
                                     f"(known: {', '.join(sorted(simple))})", source=where, key=f"metrics.{m.name}")
        for i, iv in enumerate(self.interventions):
            if iv.kpi not in self.kpis:
                raise StudyError(f"{iv.kpi!r} is not one of the study's KPIs ({', '.join(self.kpis)})",
                                 source=where, key=f"interventions[{i}].kpi")
        for k in self.kpis:
            e = catalog.entry(k)
            if e is not None and e["kind"] == "cx":
                raise StudyError(f"{k!r} is a CX metric, not an operational KPI", source=where, key="study.kpis")
        self._check_units_and_families()
        self._check_players()
        if self.start and self.end and self.end < self.start:
            raise StudyError(f"the window ends ({self.end}) before it starts ({self.start})", source=where,
                             key="study.end")
        self._check_holdout(self.start, self.end, "the window")
        if self.surveys is None:
            raise StudyError("a study needs survey responses for its CX outcome: add [data.surveys] path = "
                             "\"surveys.csv\"; without surveys, correlate or regress an operational KPI on a "
                             "panel instead (README: 'No surveys yet?')", source=where, key="data.surveys")

    def _check_players(self) -> None:
        """The exact Shapley ranking visits all 2**p subsets of its players (a family is one player)."""
        from ..drivers.importance import MAX_PREDICTORS
        declared = {name: tuple(m for m in members if m in self.kpis) for name, members in self.families.items()}
        players = len(self.kpis) - sum(len(m) - 1 for m in catalog.families(self.kpis, declared).values())
        if players > MAX_PREDICTORS:
            raise StudyError(f"lists {len(self.kpis)} KPIs, {players} after grouping families, but the exact "
                             f"Shapley ranking accepts at most {MAX_PREDICTORS} (it visits all 2**p subsets): "
                             f"group KPIs of the same contacts in [families] (a family counts as one), or list "
                             f"fewer KPIs; in Python, relative_importance(..., method='johnson') (Johnson's "
                             f"relative weights) ranks any number", source=self.source, key="study.kpis")

    def _check_holdout(self, start, end, window: str) -> None:
        """The holdout needs training periods before it and holdout periods from it."""
        h, start, end = _as_date(self.holdout_start), _as_date(start), _as_date(end)
        if h is None:  # none given (or not a date: the validation step says so)
            return
        period = first_period(h, self.grain)
        if start is not None and period <= first_period(start, self.grain):
            raise StudyError(f"{h} is not after the first {self.grain} of {window} (from {start}), so no "
                             f"period is left to train on; choose a later date", source=self.source,
                             key="study.holdout_start")
        if end is not None and h > end:
            raise StudyError(f"{h} is after {window} ends ({end}), so the holdout would hold no period; "
                             f"choose an earlier date", source=self.source, key="study.holdout_start")

    def check_panel(self, panel) -> None:
        """What only the data tells: the number of segments and, for a window taken from the data,
        whether ``holdout_start`` lies inside it. Called on the panel before any statistics."""
        if self.by:
            n = len(panel.table[list(self.by)].drop_duplicates())
            if n > self.max_segments:
                raise StudyError(f"the panel has {n:,} segments (by = {list(self.by)}), more than max_segments "
                                 f"= {self.max_segments:,}, and the statistics slow down with every segment; "
                                 f"segment by a coarser column, or raise max_segments to run this many",
                                 source=self.source, key="study.max_segments")
        if self.start is None or self.end is None:
            self._check_holdout(panel.start, panel.end, "the data's window")

    def _check_units_and_families(self) -> None:
        where, known = self.source, ", ".join(self.kpis)
        if not isinstance(self.units, Mapping):
            raise StudyError(f"must map KPIs to tables of step, unit and label. Got {self.units!r} instead.",
                             source=where, key="kpis")
        units = {}
        for name, spec in self.units.items():
            if name not in self.kpis:
                raise StudyError(f"{name!r} is not one of the study's KPIs ({known})", source=where,
                                 key=f"kpis.{name}")
            try:
                units.update(catalog.check_units({name: spec}, owner="units"))
            except OptionError as error:
                message = str(error)
                raise StudyError(message[0].lower() + message[1:], source=where, key=f"kpis.{name}") from None
        if not isinstance(self.families, Mapping):
            raise StudyError(f"must map family names to lists of KPIs. Got {self.families!r} instead.",
                             source=where, key="families")
        families, family_of = {}, {}
        for name, members in self.families.items():
            key = f"families.{name}"
            if isinstance(members, str) or not all(isinstance(m, str) for m in members):
                raise StudyError(f"must list KPI names as strings. Got {members!r} instead.", source=where, key=key)
            members = tuple(members)
            if name in self.kpis or catalog.entry(name) is not None:
                raise StudyError(f"the family name {name!r} is also the name of a KPI; name the family differently",
                                 source=where, key=key)
            if len(members) < 2:
                raise StudyError(f"must list at least 2 KPIs. Got {list(members)!r} instead.", source=where, key=key)
            for m in members:
                if members.count(m) > 1:
                    raise StudyError(f"lists {m!r} twice", source=where, key=key)
                if m not in self.kpis:
                    raise StudyError(f"{m!r} is not one of the study's KPIs ({known})", source=where, key=key)
                if m in family_of:
                    raise StudyError(f"{m!r} is already in family {family_of[m]!r}; a KPI belongs to one family "
                                     f"at most", source=where, key=key)
                family_of[m] = name
            families[name] = members
        # normalized copies: plain dicts, steps as floats, members as tuples
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "families", families)
        object.__setattr__(self, "targets", self._checked_targets())

    def _checked_targets(self) -> dict[str, tuple[float, float]]:
        """``targets`` as ``{kpi: (low, high)}``: a number is a band of one value, a pair a band."""
        where, known = self.source, ", ".join(self.kpis)
        if not isinstance(self.targets, Mapping):
            raise StudyError(f"must map KPIs to a target value or a [low, high] band. Got {self.targets!r} "
                             f"instead.", source=where, key="kpis")
        out = {}
        for name, value in self.targets.items():
            key = f"kpis.{name}.target"
            if name not in self.kpis:
                raise StudyError(f"{name!r} is not one of the study's KPIs ({known})", source=where, key=key)
            number = lambda v: (isinstance(v, numbers.Real) and not isinstance(v, bool)  # noqa: E731
                                and math.isfinite(v))
            if number(value):
                out[name] = (float(value), float(value))
            elif (isinstance(value, (list, tuple)) and len(value) == 2 and all(number(v) for v in value)
                  and value[0] <= value[1]):
                out[name] = (float(value[0]), float(value[1]))
            else:
                raise StudyError(f"must be a number (target = 30) or a band [low, high] with low <= high. "
                                 f"Got {value!r} instead.", source=where, key=key)
        return out

    @classmethod
    def from_toml(cls, path) -> "Study":
        """Load and validate a study file; paths inside it are relative to the file."""
        return load_study(path)

    def run(self, *, progress=None):
        """Run steps 1-6 and return a :class:`~alignment.study.StudyResult`.

        ``progress``: ``None`` (the default) draws progress bars (validation, the bootstrap) only
        when a person is watching, a terminal or a notebook; ``False`` nothing; ``True`` bars
        always; a callable such as ``print`` also gets each step as a line of text
        (:mod:`alignment.progress`).
        """
        from .run import run_study
        return run_study(self, progress=progress)

    def with_seed(self, seed: int) -> "Study":
        """The same study with another seed (>= 0)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise StudyError(f"must be a whole number >= 0. Got {seed!r} instead.", source=self.source, key="study.seed")
        return replace(self, seed=seed)

    def inputs(self) -> list[str]:
        """Every file the study reads, the study file included."""
        sources = [self.contacts, self.surveys, *self.extras,
                   *((self.customers.source,) if self.customers is not None else ()),
                   *(e.source for e in self.customer_events)]
        paths = [str(s.data) for s in sources
                 if s is not None and s.data is not None and not hasattr(s.data, "columns")]
        return ([self.source] if self.source else []) + paths


def build_study_panel(study: Study):
    """Steps 1-3: the panel with the outcome, the catalog KPIs and every extra source (and the
    survey-level frame of the contact model unless the study turns it off)."""
    metrics = [study.outcome] + [k for k in study.kpis if catalog.entry(k) is not None]
    frame = {None: "auto", True: True, False: False}[study.contact_model] if study.surveys is not None else False
    if study.customers is not None and study.surveys is not None:
        frame = True        # the business-impact link follows each survey of the frame to its customer
    try:
        panel = build_panel(study.contacts, surveys=study.surveys, extras=study.extras, grain=study.grain,
                            by=study.by, timezone=study.timezone, start=study.start, end=study.end,
                            metrics=metrics, options=study.kpi_options, survey_metrics=study.survey_metrics,
                            min_responses=study.min_responses, engine=study.engine, contact_frame=frame,
                            contact_controls=study.contact_controls)
    except StudyError:
        raise
    missing = [k for k in study.kpis if k not in panel.table.columns]
    if missing:
        raise StudyError(f"{missing[0]!r} is neither a catalog KPI nor a column of an extra source "
                         f"(catalog: {', '.join(catalog.names('operational'))})", source=study.source,
                         key="study.kpis")
    study.check_panel(panel)
    return panel


def _as_date(value) -> dt.date | None:
    """A date from a date, datetime or ISO text (a Study made in Python may hold any), else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# ---- loading -------------------------------------------------------------------------------

_SECTIONS = {"study", "kpi_options", "data", "metrics", "validation", "interventions", "engine", "events",
             "kpis", "families"}
_STUDY_KEYS = {"name", "outcome", "kpis", "grain", "by", "start", "end", "timezone", "max_lag",
               "holdout_start", "min_responses", "seed", "n_boot", "description", "effects", "weights",
               "calendar", "contact_model", "contact_controls", "contact_coding", "max_segments",
               "agent_cost_per_hour"}
_CALENDAR_KEYS = {"country", "subdivision"}
_EVENT_KEYS = {"date", "name"}
_SOURCE_KEYS = {"path", "table", "columns", "format", "timezone", "glob"}
_STAFFING_KEYS = {"path", "table", "columns", "timezone", "time", "by", "agents", "glob"}
#: Keys of [data.contacts], [data.surveys] and [data.intervals] only: a platform export's options.
_FORMAT_KEYS = {"options"}
_EXTRA_KEYS = {"path", "table", "columns", "timezone", "time", "by", "aggregate", "values", "glob"}
_METRIC_KEYS = {"column", "scale", "higher_is_better", "aggregation", "top_box", "weights"}
_INTERVENTION_KEYS = {"name", "date", "segments", "kpi", "direction"}
_UNIT_KEYS = set(catalog.UNIT_KEYS) | {"target"}


class _Reader:
    """Typed access to the parsed TOML with errors that name the file and the key."""

    def __init__(self, label: str):
        self.label = label

    def fail(self, key: str, message: str):
        raise StudyError(message, source=self.label, key=key)

    def table(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table ([{key}]). Got {type(value).__name__} instead.")
        return value

    def known(self, table: Mapping, allowed: set[str], key: str) -> None:
        for k in table:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k, f"unknown key (known: {', '.join(sorted(allowed))})")

    def get(self, table: Mapping, name: str, key: str, kind, default=None, required=False):
        full = f"{key}.{name}"
        if name not in table:
            if required:
                self.fail(full, "is required")
            return default
        value = table[name]
        expected = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                    list: "a list", dict: "a table", "date": "a date YYYY-MM-DD"}[kind]
        if kind == "date":
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    self.fail(full, f"must be {expected}. Got {value!r} instead.")
            if not isinstance(value, dt.date):
                self.fail(full, f"must be {expected}. Got {value!r} instead.")
            return value
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            self.fail(full, f"must be {expected}. Got {value!r} instead.")
        return value

    def count(self, table: Mapping, name: str, key: str, default: int) -> int:
        """A whole number >= 0."""
        value = self.get(table, name, key, int, default)
        if value < 0:
            self.fail(f"{key}.{name}", f"must be >= 0. Got {value} instead.")
        return value

    def tables(self, value, key: str, allowed: set[str]):
        """``(key, table)`` for each table of an array of tables (``[[key]]``), its keys checked."""
        if not isinstance(value, list):
            self.fail(key, f"must be an array of tables ([[{key}]])")
        for i, t in enumerate(value):
            item = f"{key}[{i}]"
            t = self.table(t, item)
            self.known(t, allowed, item)
            yield item, t

    def strings(self, table: Mapping, name: str, key: str) -> tuple[str, ...]:
        value = self.get(table, name, key, list, default=[])
        if not all(isinstance(v, str) and v for v in value):
            self.fail(f"{key}.{name}", f"must list names as strings. Got {value!r} instead.")
        return tuple(value)

    def timezone(self, table: Mapping, key: str) -> str | None:
        """An IANA timezone name (the rule of :func:`~alignment.panel.timezones.check_timezone`)."""
        value = self.get(table, "timezone", key, str)
        try:
            check_timezone(value)
        except OptionError:
            self.fail(f"{key}.timezone", f"must be an IANA timezone such as 'America/New_York'. "
                                         f"Got {value!r} instead.")
        return value

    def path(self, table: Mapping, key: str, base: Path) -> Path:
        raw = self.get(table, "path", key, str, required=True)
        path = (base / raw) if not Path(raw).is_absolute() else Path(raw)
        if not path.exists() and not self.get(table, "glob", key, bool, False):  # a pattern is matched on reading
            self.fail(f"{key}.path", f"file not found: {path}")
        return path

    def data(self, table: Mapping, key: str, base: Path) -> dict:
        """``data=`` (a path, a pattern with ``glob = true``) or ``table=`` (a Spark catalog table) of a source."""
        if "table" in table:
            if "path" in table:
                self.fail(f"{key}.table", "give a path or a table, not both")
            if "glob" in table:
                self.fail(f"{key}.glob", "makes the path a pattern; a table has no path")
            return {"table": self.get(table, "table", key, str)}
        return {"data": self.path(table, key, base), "glob": self.get(table, "glob", key, bool, False)}


def load_study(path) -> Study:
    """Read a study TOML file into a :class:`Study` (see the README for every key)."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise StudyError("study file not found", source=label)
    if path.is_dir():
        raise StudyError("is a folder; give the study's TOML file", source=label)
    try:
        with path.open("rb") as file:  # at most one byte past the limit: a device such as /dev/zero never ends
            raw = file.read(MAX_STUDY_BYTES + 1)
    except OSError as error:
        raise StudyError(f"cannot be read: {error.strerror or error}", source=label) from None
    if len(raw) > MAX_STUDY_BYTES:
        raise StudyError(f"is larger than {MAX_STUDY_BYTES:,} bytes, the limit for a study file; give the "
                         f"study's TOML file, not a data file", source=label)
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise StudyError("is not UTF-8 text", source=label) from None
    except tomllib.TOMLDecodeError as error:
        raise StudyError(f"is not valid TOML: {error}", source=label) from None
    except RecursionError:
        raise StudyError("nests tables or arrays too deeply to be read; a study file needs a few levels",
                         source=label) from None
    r = _Reader(label)
    r.known(doc, _SECTIONS, "")
    base = path.parent
    if "study" not in doc:
        r.fail("study", "the [study] section is missing")
    s = r.table(doc["study"], "study")
    r.known(s, _STUDY_KEYS, "study")
    data = r.table(doc.get("data", {}), "data")
    r.known(data, {"contacts", "intervals", "surveys", "extra", "staffing", "customers", "customer_events"}, "data")
    if "contacts" in data and "intervals" in data:
        r.fail("data.intervals", "give contact records ([data.contacts]) or interval reports ([data.intervals]), "
                                 "not both")
    if "intervals" in data:
        contacts = _intervals(r, r.table(data["intervals"], "data.intervals"), "data.intervals", base)
    elif "contacts" not in data:
        r.fail("data.contacts", "the [data.contacts] section is missing (or [data.intervals] for interval reports)")
    else:
        contacts = _source(r, r.table(data["contacts"], "data.contacts"), "data.contacts", base)
    surveys = (_source(r, r.table(data["surveys"], "data.surveys"), "data.surveys", base)
               if "surveys" in data else None)
    customers = (_customers(r, r.table(data["customers"], "data.customers"), "data.customers", base)
                 if "customers" in data else None)
    customer_events = tuple(_event(r, t, item, base) for item, t in r.tables(data.get("customer_events", []),
                                                                          "data.customer_events",
                                                                          _SOURCE_KEYS | {"time", "event"}))
    extras_raw = data.get("extra", [])
    if not isinstance(extras_raw, list):
        r.fail("data.extra", "must be an array of tables ([[data.extra]])")
    extras = tuple(_extra(r, r.table(e, f"data.extra[{i}]"), f"data.extra[{i}]", base)
                   for i, e in enumerate(extras_raw))
    staffing = (_staffing(r, r.table(data["staffing"], "data.staffing"), "data.staffing", base)
                if "staffing" in data else None)
    options = _kpi_options(r, r.table(doc.get("kpi_options", {}), "kpi_options"))
    metrics = _metrics(r, r.table(doc.get("metrics", {}), "metrics"))
    validation = _validation(r, r.table(doc.get("validation", {}), "validation"))
    interventions = _interventions(r, doc.get("interventions", []))
    calendar = _calendar(r, s.get("calendar", {}), doc.get("events", []))
    engine = _engine(r, r.table(doc.get("engine", {}), "engine"))
    units = _units(r, doc.get("kpis", {}))
    families = _families(r, r.table(doc.get("families", {}), "families"))
    for key, src in [("data.contacts", contacts), ("data.surveys", surveys), ("data.staffing", staffing),
                     *((f"data.extra[{i}]", e) for i, e in enumerate(extras))]:
        if src is not None and src.table is not None and engine.kind != "spark":
            r.fail(f"{key}.table", "a table is read by the Spark engine: add [engine] kind = \"spark\"")
    max_lag, min_responses, n_boot, seed = (r.count(s, name, "study", default) for name, default in
                                            (("max_lag", 0), ("min_responses", 30), ("n_boot", 1000), ("seed", 0)))
    max_segments = r.get(s, "max_segments", "study", int, MAX_SEGMENTS)
    timezone = r.timezone(s, "study")
    kpis = r.strings(s, "kpis", "study")
    outcome = r.get(s, "outcome", "study", str, required=True)
    try:
        return Study(
            name=r.get(s, "name", "study", str, default=path.stem), outcome=outcome, kpis=kpis,
            contacts=contacts, surveys=surveys, extras=extras,
            grain=r.get(s, "grain", "study", str, "week"), by=r.strings(s, "by", "study"),
            start=r.get(s, "start", "study", "date"), end=r.get(s, "end", "study", "date"),
            timezone=timezone, max_lag=max_lag, holdout_start=r.get(s, "holdout_start", "study", "date"),
            min_responses=min_responses, seed=seed, n_boot=n_boot, kpi_options=options,
            survey_metrics=metrics, validation=validation, interventions=interventions, source=label,
            engine=engine, effects=r.get(s, "effects", "study", str), weights=r.get(s, "weights", "study", str,
                                                                                  "responses"),
            calendar=calendar, units=units, families=families, targets=_targets(doc.get("kpis", {})),
            contact_model=r.get(s, "contact_model", "study", bool),
            contact_controls=r.strings(s, "contact_controls", "study"),
            contact_coding=r.get(s, "contact_coding", "study", str, "auto"), max_segments=max_segments,
            staffing=staffing, customers=customers, customer_events=customer_events,
            agent_cost_per_hour=_agent_cost(r, s))
    except StudyError:
        raise
    except OptionError as error:
        raise StudyError(str(error), source=label) from None


def _agent_cost(r: _Reader, s: dict):
    """``[study] agent_cost_per_hour``: a number >= 0 (the what-if's price of an agent hour), or None."""
    value = r.get(s, "agent_cost_per_hour", "study", float)
    if value is not None and not (math.isfinite(value) and value >= 0):
        r.fail("study.agent_cost_per_hour", f"must be a number >= 0 (the cost of one agent hour). "
                                            f"Got {value!r} instead.")
    return value


def _customers(r: _Reader, t: dict, key: str, base: Path):
    """``[data.customers]``: a source with ``value``, ``window_days`` and ``as_of``."""
    from ..impact.customers import CustomerSpec
    r.known(t, _SOURCE_KEYS | {"value", "window_days", "as_of", "outcome"}, key)
    source = _source(r, {k: v for k, v in t.items() if k in _SOURCE_KEYS}, key, base)
    window = r.get(t, "window_days", key, int, 90)
    if window < 1:
        r.fail(f"{key}.window_days", f"must be a whole number of days >= 1. Got {window} instead.")
    return CustomerSpec(source, value=r.get(t, "value", key, str), window_days=window,
                        as_of=r.get(t, "as_of", key, "date"), outcome=r.get(t, "outcome", key, str, "churn"))


def _event(r: _Reader, t: dict, key: str, base: Path):
    """``[[data.customer_events]]``: a source of ``customer_id`` and ``time``, named by ``event``."""
    from ..impact.customers import EventSpec
    source = _source(r, {k: v for k, v in t.items() if k in _SOURCE_KEYS}, key, base)
    return EventSpec(source, event=r.get(t, "event", key, str, required=True), time=r.get(t, "time", key, str, "time"))


def _source(r: _Reader, t: dict, key: str, base: Path) -> Source:
    r.known(t, _SOURCE_KEYS | _FORMAT_KEYS, key)
    columns = r.get(t, "columns", key, dict, {})
    if not all(isinstance(v, str) for v in columns.values()):
        r.fail(f"{key}.columns", "must map canonical names to column names (strings)")
    fmt = r.get(t, "format", key, str)
    if fmt is not None:
        from ..data.formats import FORMATS
        if fmt not in FORMATS:
            r.fail(f"{key}.format", f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    options = r.get(t, "options", key, dict, {})  # a platform export's options (e.g. qualtrics-csv recode)
    return Source(**r.data(t, key, base), columns=columns, format=fmt, timezone=r.timezone(t, key), options=options)


def _intervals(r: _Reader, t: dict, key: str, base: Path):
    """``[data.intervals]``: an interval report, with the thresholds its counts were made at."""
    from ..data.sources import Intervals
    r.known(t, _SOURCE_KEYS | _FORMAT_KEYS | {"service_level_s", "short_abandon_s"}, key)
    t = dict(t)
    thresholds = {k: t.pop(k) for k in ("service_level_s", "short_abandon_s") if k in t}
    for k, v in thresholds.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            r.fail(f"{key}.{k}", f"must be a number of seconds. Got {v!r} instead.")
    s = _source(r, t, key, base)
    return Intervals(s.data, columns=s.columns, format=s.format, timezone=s.timezone, table=s.table, glob=s.glob,
                     options=s.options, **thresholds)


def _staffing(r: _Reader, t: dict, key: str, base: Path):
    """``[data.staffing]``: path (or table), time, by, agents; the agents on duty of the queueing models."""
    from ..staffing.inputs import StaffingSource
    r.known(t, _STAFFING_KEYS, key)
    by = r.strings(t, "by", key) if "by" in t else None
    return StaffingSource(**r.data(t, key, base), columns=r.get(t, "columns", key, dict, {}),
                          timezone=r.timezone(t, key), time=r.get(t, "time", key, str, "time"), by=by,
                          agents=r.get(t, "agents", key, str, "agents"))


def _extra(r: _Reader, t: dict, key: str, base: Path) -> ExtraSource:
    r.known(t, _EXTRA_KEYS, key)
    aggregate = r.get(t, "aggregate", key, str, "mean")
    if aggregate not in AGGREGATES:
        r.fail(f"{key}.aggregate", f"must be one of {', '.join(AGGREGATES)}. Got {aggregate!r} instead.")
    values = r.strings(t, "values", key) if "values" in t else None
    return ExtraSource(**r.data(t, key, base), columns=r.get(t, "columns", key, dict, {}),
                       timezone=r.timezone(t, key), time=r.get(t, "time", key, str, "date"),
                       by=r.strings(t, "by", key), aggregate=aggregate, values=values)


def _units(r: _Reader, value) -> dict[str, dict]:
    """``[kpis.NAME]`` tables: how each KPI's effects are reported (checked against the KPIs by Study)."""
    if isinstance(value, list):
        r.fail("kpis", "is a table of per-KPI settings ([kpis.NAME] step = ..., unit = ..., label = ...); "
                       "the list of KPIs goes in [study] kpis = [...]")
    out = {}
    for name, spec in r.table(value, "kpis").items():
        key = f"kpis.{name}"
        spec = r.table(spec, key)
        r.known(spec, _UNIT_KEYS, key)
        out[name] = {k: r.get(spec, k, key, float if k == "step" else str) for k in catalog.UNIT_KEYS if k in spec}
    return out


def _targets(value) -> dict:
    """``target`` of each ``[kpis.NAME]`` table, as written (the Study checks it and names the key)."""
    if not isinstance(value, dict):
        return {}
    return {name: spec["target"] for name, spec in value.items() if isinstance(spec, dict) and "target" in spec}


def _families(r: _Reader, t: dict) -> dict[str, tuple[str, ...]]:
    """``[families]``: name = [KPIs built from the same contacts] (checked against the KPIs by Study)."""
    return {name: r.strings(t, name, "families") for name in t}


def _engine(r: _Reader, t: dict):
    r.known(t, {"kind", "master"}, "engine")
    kind = r.get(t, "kind", "engine", str, "duckdb")
    if kind not in ENGINES:
        r.fail("engine.kind", f"must be one of {', '.join(map(repr, ENGINES))}. Got {kind!r} instead.")
    master = r.get(t, "master", "engine", str)
    if master is not None and kind != "spark":
        r.fail("engine.master", "is a Spark setting: add kind = \"spark\"")
    return engine_from_kind(kind, master=master)


def _kpi_options(r: _Reader, t: dict) -> KpiOptions:
    allowed = {f.name for f in fields(KpiOptions)}
    r.known(t, allowed, "kpi_options")
    kwargs = {}
    for f in fields(KpiOptions):
        if f.name in t:
            kind = str if isinstance(f.default, str) else float
            kwargs[f.name] = r.get(t, f.name, "kpi_options", kind)
    try:
        return KpiOptions(**kwargs)
    except OptionError as error:
        bad = next((k for k in kwargs if f"'{k}'" in str(error)), None)
        message = re.sub(r"^The '\w+' parameter of KpiOptions ", "", str(error))
        r.fail(f"kpi_options.{bad}" if bad else "kpi_options", message)


def _pair(r: _Reader, t: dict, name: str, key: str):
    value = r.get(t, name, key, list)
    if value is None:
        return None
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        r.fail(f"{key}.{name}", f"must be two numbers [low, high]. Got {value!r} instead.")
    return tuple(value)


def _metrics(r: _Reader, t: dict) -> tuple:
    out = []
    for name, spec in t.items():
        key = f"metrics.{name}"
        spec = r.table(spec, key)
        r.known(spec, _METRIC_KEYS, key)
        try:
            if "weights" in spec:
                weights = r.get(spec, "weights", key, dict)
                out.append(CompositeScore(name, weights=weights, scale=_pair(r, spec, "scale", key) or (0, 100),
                                          higher_is_better=r.get(spec, "higher_is_better", key, bool, True)))
            else:
                builtin = {"csat": dict(scale=(1, 5), top_box=(4, 5), aggregation="top_box"),
                           "nps": dict(scale=(0, 10), aggregation="nps"),
                           "ces": dict(scale=(1, 7), higher_is_better=False)}.get(name, {})
                kwargs = dict(builtin)
                for k, kind in (("column", str), ("higher_is_better", bool), ("aggregation", str)):
                    if k in spec:
                        kwargs[k] = r.get(spec, k, key, kind)
                for k in ("scale", "top_box"):
                    if k in spec:
                        kwargs[k] = _pair(r, spec, k, key)
                out.append(SurveyMetric(name, **kwargs))
        except OptionError as error:
            r.fail(key, str(error))
    return tuple(out)


def _validation(r: _Reader, t: dict) -> Thresholds:
    types = {f.name: (str if isinstance(f.default, str) else float if isinstance(f.default, float) else int)
             for f in fields(Thresholds)}
    r.known(t, set(types), "validation")
    kwargs = {name: r.get(t, name, "validation", kind) for name, kind in types.items() if name in t}
    try:
        return Thresholds(**kwargs)
    except OptionError as error:
        bad = next((k for k in kwargs if f"'{k}'" in str(error)), None)
        r.fail(f"validation.{bad}" if bad else "validation", str(error))


def _interventions(r: _Reader, value) -> tuple[Intervention, ...]:
    out = []
    for key, t in r.tables(value, "interventions", _INTERVENTION_KEYS):
        segments = r.strings(t, "segments", key)
        if not segments:
            r.fail(f"{key}.segments", "must list the segments that were changed")
        try:
            out.append(Intervention(date=r.get(t, "date", key, "date", required=True), segments=segments,
                                    kpi=r.get(t, "kpi", key, str, required=True),
                                    direction=r.get(t, "direction", key, int), name=r.get(t, "name", key, str, "")))
        except OptionError as error:
            r.fail(key, str(error))
    return tuple(out)


def _calendar(r: _Reader, value, events) -> Calendar:
    t = r.table(value, "study.calendar")
    r.known(t, _CALENDAR_KEYS, "study.calendar")
    country = r.get(t, "country", "study.calendar", str)
    subdivision = r.get(t, "subdivision", "study.calendar", str)
    if subdivision and not country:
        r.fail("study.calendar.subdivision", "needs a country (calendar = { country = \"US\", subdivision = \"NY\" })")
    out = [(r.get(e, "date", key, "date", required=True).isoformat(), r.get(e, "name", key, str, required=True))
           for key, e in r.tables(events, "events", _EVENT_KEYS)]
    calendar = Calendar(country=country, subdivision=subdivision, events=tuple(out))
    if country:
        from ..panel.frame import _holidays
        try:
            _holidays(calendar, "2020-01-01", "2020-12-31")
        except OptionError as error:
            r.fail("study.calendar", str(error))
    return calendar
