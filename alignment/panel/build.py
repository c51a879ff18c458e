"""Build the KPI panel (step 3 of the method): validate inputs, run the panel query, wrap the result."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

from .. import catalog
from ..catalog import CompositeScore, KpiOptions, Metric, SurveyMetric, builtin_survey_metrics
from ..data.checks import run_rules
from ..data.read import RawTable, quote, register, sql_string
from ..data.sources import AGGREGATES, ExtraSource, Intervals, Source, as_source
from ..exceptions import InputError, OptionError, SpanWarning, UnmatchedSurveysWarning
from ..engine import DuckDBEngine, Engine
from .components import Component, contact_components, survey_components
from .query import (BUCKET_S, CONTACT_MEASURES, GRAINS, ExtraSpec, PanelSpec, SurveyFrameSpec, extra_columns,
                    panel_sql, survey_frame_sql)
from .timezones import check_timezone, is_aware, local_window, quarter_hour_offsets, utc_window, wide_span
from .result import Panel
from .schema import BOOLEAN_COLUMNS, contacts_view, extra_view, surveys_view

__all__ = ["build_panel", "reserved_names"]

#: The two-stage (15-minute UTC bucket) aggregation is used from this many contacts per bucket of
#: the data's span: measured on 2 cores, 28 per bucket (1M contacts in a year) ran 1.6x faster
#: converting every contact, 285 (10M) ran 1.2x faster with buckets (benchmarks/scale.py).
MIN_CONTACTS_PER_BUCKET = 100

#: Canonical columns the typed views key on, besides the inputs of the components.
CONTACT_KEYS = ("contact_id", "arrived_at")
SURVEY_KEYS = ("survey_id", "contact_id", "responded_at")
#: Columns the panel query makes besides segments, components, metrics and extra values
#: (:func:`~alignment.panel.query.panel_sql`; ``local_ts`` is the local time of every typed view).
QUERY_COLUMNS = {"period": "the period column", "n_surveys": "the panel's count of survey responses",
                 "low_responses": "the panel's low-responses flag",
                 "local_ts": "the local time of the typed tables"}
#: Columns the survey-level frame adds to the contact's measures (:func:`_frame`, ``survey_frame_sql``).
FRAME_COLUMNS = ("contact_ts", "hour", "weekday")


def _date(name: str, value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise OptionError(f"The '{name}' parameter must be a date YYYY-MM-DD. Got {value!r} instead.") from None


class _Survey:
    """Which survey metrics exist: built in (CSAT, NPS, CES), or declared by the study."""

    def __init__(self, declared: Sequence[SurveyMetric | CompositeScore]):
        self.simple: dict[str, SurveyMetric] = builtin_survey_metrics()
        self.declared: set[str] = set()
        self.composites: dict[str, CompositeScore] = {}
        for m in declared:
            if isinstance(m, CompositeScore):
                self.composites[m.name] = m
            elif isinstance(m, SurveyMetric):
                self.simple[m.name] = m
                self.declared.add(m.name)
            else:
                raise OptionError(f"survey_metrics must hold SurveyMetric or CompositeScore. Got {m!r} instead.")
        for c in self.composites.values():
            for k in c.weights:
                if k not in self.simple:
                    raise OptionError(f"The composite score '{c.name}' uses '{k}', which is not a survey "
                                      f"metric (known: {', '.join(self.simple)}).")

    def __contains__(self, name: str) -> bool:
        return name in self.simple or name in self.composites

    @property
    def metrics(self) -> list[SurveyMetric | CompositeScore]:
        return [*self.simple.values(), *self.composites.values()]

    def metric(self, name: str, options: KpiOptions) -> Metric:
        """The catalog's definition for undeclared built-ins (CSAT variant from the options), else the declaration's."""
        if name in self.composites:
            return self.composites[name].metric(catalog.entry(name))
        if name in self.declared or name not in catalog.names():
            return self.simple[name].metric(catalog.entry(name))
        return catalog.resolve(name, options)

    def columns(self, name: str) -> list[str]:
        """Survey columns a metric reads."""
        if name in self.composites:
            return [self.simple[k].column for k in self.composites[name].weights]
        return [self.simple[name].column]

    def scores(self, name: str) -> list[SurveyMetric]:
        """The simple survey metrics whose typed scores a metric needs."""
        keys = self.composites[name].weights if name in self.composites else [name]
        return [self.simple[k] for k in keys]


@dataclass(frozen=True)
class ReservedNames:
    """Column names the panel makes itself (``names``: name -> what it is), and the endings of its
    support columns (``suffixes``: ``__sum``, ``__n``, ``__at``) that a column of the data may not use."""

    names: Mapping[str, str]
    suffixes: tuple[str, ...]

    def what(self, name: str) -> str | None:
        """What ``name`` already is in the panel, or None when it is free."""
        if name in self.names:
            return self.names[name]
        end = next((s for s in self.suffixes if name.endswith(s)), None)
        return None if end is None else f"a support column of the panel (ending in '{end}')"


def reserved_names(survey_metrics: Sequence[SurveyMetric | CompositeScore] = (), *,
                   segments: bool = False) -> ReservedNames:
    """The names a segment column (``segments=True``) or an extra source's value column may not take.

    Taken from the code's own lists: the panel query's columns, every contact and survey component,
    every catalog and survey metric (with its ``_se``), the support-column endings of the extra
    sources' rules, and for segments also the canonical columns the typed views and the survey-level
    frame use. A clash would rename or overwrite a column, so it is refused with the name.

    Examples
    --------
    >>> reserved_names().what("n_surveys")
    "the panel's count of survey responses"
    >>> reserved_names().what("email_backlog__sum")
    "a support column of the panel (ending in '__sum')"
    >>> reserved_names().what("email_backlog") is None
    True
    """
    declared = {m.name: m for m in survey_metrics if isinstance(m, (SurveyMetric, CompositeScore))}
    return _reserved({**builtin_survey_metrics(), **declared}.values(), segments)


def _reserved(survey_metrics, segments: bool) -> ReservedNames:
    comps = contact_components(KpiOptions())
    out = dict(QUERY_COLUMNS)
    out.update({n: "a panel component (an additive count or sum)" for n in comps})
    for m in survey_metrics:
        out.update({n: "a panel component (an additive count or sum)" for n in survey_components(m, "score")})
        out.setdefault(m.name, "a survey metric")
        out.setdefault(f"{m.name}_se", "a standard-error column of the panel")
    for n in catalog.names():
        out.setdefault(n, "a metric of the catalog")
    if segments:
        inputs = {c for comp in comps.values() for c in comp.needs}
        for col in (*CONTACT_KEYS, *SURVEY_KEYS, *BOOLEAN_COLUMNS, *sorted(inputs)):
            out.setdefault(col, "a canonical contact or survey column")
        for col in (*CONTACT_MEASURES, *FRAME_COLUMNS):
            out.setdefault(col, "a column of the survey-level frame")
    probe = "v"
    suffixes = {name[len(probe):] for rule in AGGREGATES
                for name, _ in extra_columns(ExtraSpec("probe", (), rule, (probe,)))} - {""}
    return ReservedNames(out, tuple(sorted(suffixes)))


def _choose(metrics, contacts: RawTable, surveys: RawTable | None, known: _Survey, options: KpiOptions):
    """The metrics to compute, the contact components they need, the survey scores to type,
    the composite scores, and names left for extra sources."""
    comps = contact_components(options)

    def columns_of(m: Metric) -> list[str]:
        return sorted({col for c in m.components if c in comps for col in comps[c].needs})

    if metrics is None:
        chosen = [catalog.resolve(n, options) for n in catalog.names("operational")]
        chosen = [m for m in chosen if all(contacts.has(c) for c in columns_of(m))]
        if surveys is not None:
            chosen += [known.metric(n, options) for n in [*known.simple, *known.composites]
                       if all(surveys.has(c) for c in known.columns(n))]
        leftover = []
    else:
        names = list(dict.fromkeys([metrics] if isinstance(metrics, str) else metrics))
        chosen, leftover = [], []
        for n in names:
            if n in known:
                if surveys is None:
                    raise OptionError(f"The metric '{n}' is a survey metric: give a surveys table.")
                chosen.append(known.metric(n, options))
            elif n == "cis":
                raise OptionError("The metric 'cis' (Customer Impact Score) has no standard formula: "
                                  "declare it as a CompositeScore with weights.")
            elif n in catalog.names():
                chosen.append(catalog.resolve(n, options))
            else:
                leftover.append(n)
        for m in chosen:
            if m.kind == "operational":
                for col in columns_of(m):
                    if not contacts.has(col):
                        raise InputError(f"is missing; the metric '{m.name}' needs it",
                                         source=contacts.label, column=col)
    if metrics is None:  # everything the inputs allow, so that any variant can be re-derived
        needed = {n for n, c in comps.items() if all(contacts.has(col) for col in c.needs)}
    else:
        needed = {"n_contacts", *(c for m in chosen if m.kind == "operational" for c in m.components)}
        if contacts.has("answered"):
            needed.add("n_answered")
    scores, composites = survey_scores(chosen, known, surveys)
    return chosen, needed, scores, composites, leftover


def survey_scores(chosen, known, surveys: RawTable) -> tuple[dict[str, SurveyMetric], list[CompositeScore]]:
    """The survey scores and composites the chosen CX metrics read (a missing score column is named)."""
    scores: dict[str, SurveyMetric] = {}
    for m in chosen:
        if m.kind == "cx":
            for sm in known.scores(m.name):
                if not surveys.has(sm.column):
                    raise InputError(f"is missing; the survey metric '{m.name}' needs it",
                                     source=surveys.label, column=sm.column)
                scores[sm.name] = sm
    return scores, [known.composites[m.name] for m in chosen if m.name in known.composites]


def build_panel(contacts, *, surveys=None, extras: Sequence[ExtraSource] = (), grain: str = "week",
                by: Sequence[str] = (), timezone: str | None = None, start=None, end=None,
                metrics: Sequence[str] | None = None, options: KpiOptions | None = None,
                survey_metrics: Sequence[SurveyMetric | CompositeScore] = (),
                min_responses: int = 30, engine=None, contact_frame: bool = False,
                contact_controls: Sequence[str] = ()) -> Panel:
    """Build a KPI panel: one row per period x segment with pooled KPIs and CX metrics.

    Raw data is read, joined and aggregated by the engine (DuckDB, or Spark);
    only the panel (periods x segments) comes back into pandas. Every rate is pooled: sums of
    numerators over sums of denominators within the period and segment.

    Parameters
    ----------
    contacts : str, Path, pandas.DataFrame, Source or Intervals
        Contact records (see the README for the canonical columns), or an interval report
        (:class:`~alignment.data.Intervals`: counts and sums per interval and segment).
    surveys : str, Path, pandas.DataFrame or Source, optional
        Survey responses; each counts in the period and segment of the contact it rates.
    extras : sequence of ExtraSource
        Other data, rolled up to the grain by each source's declared rule.
    grain : {"day", "week", "month"}
        Periods in the local calendar of ``timezone``; weeks are ISO weeks (Monday start).
    by : sequence of str
        Segment columns (e.g. ``["queue"]``); empty for the whole center.
    timezone : str, optional
        IANA timezone of the study. Aware times are converted to it; naive
        times are taken as its wall-clock time unless their source names another.
    start, end : str or date, optional
        Inclusive window of local dates; default the data's first and last day.
    metrics : sequence of str, optional
        Catalog metrics to compute; default every metric the inputs allow.
    options : KpiOptions, optional
        Service-level threshold and variant, short-abandon threshold, CSAT variant.
    survey_metrics : sequence of SurveyMetric or CompositeScore
        Declarations that override the built-in CSAT/NPS/CES scales or add metrics (e.g. a CIS).
    min_responses : int, default 30
        Rows with fewer survey responses are flagged in ``low_responses``.
    engine : DuckDBEngine or SparkEngine, optional
        Where the raw data is processed; default DuckDB, embedded. Both run the same SQL.
    contact_frame : bool or "auto", default False
        Also return the survey-level frame (``Panel.contact_frame``): one row per survey that
        rates a contact in the window, with the period and segments of that contact, its local
        arrival time ``contact_ts``, ``hour`` and ``weekday`` (0 = Monday), its own measures
        (``wait_s``, ``answered_within_t`` at the service-level threshold, ``handle_s``,
        ``transferred``, ``resolved``, those the contacts have), the ``contact_controls``, the
        contact's ``customer_id`` when the contacts have one (blank: missing), and the survey scores. The engine joins surveys to their contacts; only surveyed contacts come
        out. This is the input of :func:`alignment.contact_model`. ``"auto"``: when the surveys
        link to contacts (a ``contact_id`` column) and the contacts have a measure.
    contact_controls : sequence of str
        Contact columns carried into the frame as controls (reason, topic, channel, agent_id ...).

    Returns
    -------
    Panel

    Raises
    ------
    InputError
        A file is missing or unreadable, a column is missing, or rows hold bad
        values (the message names the file, column, first bad row and count).
    OptionError
        A parameter has an invalid value.

    Examples
    --------
    >>> from alignment import build_panel
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> {"period", "queue", "service_level", "csat"} <= set(panel.table.columns)
    True
    """
    if grain not in GRAINS:
        raise OptionError(f"The 'grain' parameter of build_panel must be one of 'day', 'week', 'month'. "
                          f"Got {grain!r} instead.")
    by = (by,) if isinstance(by, str) else tuple(by or ())
    if len(set(by)) != len(by):
        raise OptionError(f"The 'by' parameter of build_panel lists a column twice: {list(by)}.")
    check_timezone(timezone)
    start, end = _date("start", start), _date("end", end)
    if start and end and end < start:
        raise OptionError(f"The window ends ({end}) before it starts ({start}).")
    if isinstance(min_responses, bool) or not isinstance(min_responses, int) or min_responses < 0:
        raise OptionError(f"The 'min_responses' parameter must be a non-negative whole number. "
                          f"Got {min_responses!r} instead.")
    options = options or KpiOptions()
    if not isinstance(options, KpiOptions):
        raise OptionError(f"The 'options' parameter must be a KpiOptions. Got {type(options).__name__} instead.")
    known = _Survey(survey_metrics)
    reserved = _reserved(known.metrics, segments=True)
    for b in by:
        what = reserved.what(b)
        if what:
            raise OptionError(f"The segment column {b!r} (by) is already {what}; rename it "
                              f"(e.g. Source(..., columns={{'new_name': {b!r}}})).")
    contacts_src = as_source(contacts, "contacts")
    surveys_src = as_source(surveys, "surveys") if surveys is not None else None
    extras = tuple(extras or ())
    for e in extras:
        if not isinstance(e, ExtraSource):
            raise OptionError(f"extras must hold ExtraSource declarations. Got {type(e).__name__} instead.")
    for src in (contacts_src, surveys_src, *extras):
        if src is not None and src.timezone is not None:
            try:
                check_timezone(src.timezone)
            except OptionError:
                raise OptionError(f"The timezone of {src.label} must be an IANA timezone such as "
                                  f"'America/New_York'. Got {src.timezone!r} instead.") from None

    engine = DuckDBEngine() if engine is None else engine
    contact_controls = (contact_controls,) if isinstance(contact_controls, str) else tuple(contact_controls)
    if contact_frame not in (True, False, "auto"):
        raise OptionError(f"The 'contact_frame' parameter of build_panel must be True, False or 'auto'. "
                          f"Got {contact_frame!r} instead.")
    if contact_controls and not contact_frame:
        raise OptionError("The 'contact_controls' parameter of build_panel needs contact_frame=True.")
    if not isinstance(engine, Engine):
        raise OptionError(f"The 'engine' parameter must be a DuckDBEngine or SparkEngine. "
                          f"Got {type(engine).__name__} instead.")
    intervals = isinstance(contacts_src, Intervals)
    if intervals and (contact_frame is True or contact_controls):
        raise OptionError("contact_frame and contact_controls need contact records; interval reports hold no "
                          "contacts to link surveys to.")
    session = engine.connect()
    try:
        if intervals:  # interval reports: the components are already summed per interval
            from .intervals import build_interval_panel
            return build_interval_panel(session, contacts_src, surveys_src, extras, grain, tuple(by), timezone,
                                        start, end, metrics, options, known, min_responses)
        return _build(session, contacts_src, surveys_src, extras, grain, by, timezone, start, end,
                      metrics, options, known, min_responses, contact_frame, contact_controls)
    except session.errors as error:  # a value the checks let through but the engine refused
        raise InputError(f"the data engine refused the input: {session.message(error)}") from None
    finally:
        session.close()


def _build(session, contacts_src: Source, surveys_src: Source | None, extras, grain, by, timezone, start,
           end, metrics, options, known: _Survey, min_responses, frame: bool = False,
           controls: tuple[str, ...] = ()) -> Panel:
    contacts = register(session, contacts_src, "contacts_raw", kind="contacts")
    for col in (*CONTACT_KEYS, *by):
        if not contacts.has(col):
            raise InputError(f"is missing; the file has {', '.join(map(repr, contacts.types))}",
                             source=contacts.label, column=col)
    surveys = register(session, surveys_src, "surveys_raw", kind="surveys") if surveys_src is not None else None
    if surveys is not None and not surveys.has("survey_id"):
        raise InputError(f"is missing; the file has {', '.join(map(repr, surveys.types))}",
                         source=surveys.label, column="survey_id")
    chosen, needed, scores, composites, leftover = _choose(metrics, contacts, surveys, known, options)
    extra_tables, extra_rules = _extra_tables(session, extras, by, _reserved(known.metrics, segments=False))

    comps = contact_components(options)
    needed_cols = {col for name in needed for col in comps[name].needs}
    measures: tuple[str, ...] = ()
    if frame == "auto":
        frame = surveys is not None and surveys.has("contact_id") and any(
            all(contacts.has(c) for c in cols) for cols in CONTACT_MEASURES.values())
        if controls and not frame:
            raise OptionError("contact controls need surveys linked to their contacts (a contact_id column) "
                              "and contacts with a wait, handle, transfer or resolution measure.")
    if frame:
        if surveys is None or not surveys.has("contact_id"):
            raise OptionError("contact_frame=True needs surveys with a contact_id column: the frame links each "
                              "survey to the contact it rates.")
        for col in controls:
            if not contacts.has(col):
                raise InputError(f"is missing; it is named as a contact control (the file has "
                                 f"{', '.join(map(repr, contacts.types))})", source=contacts.label, column=col)
            if col in (*by, *CONTACT_MEASURES, "contact_id", "arrived_at", "answered", "abandoned"):
                raise OptionError(f"The contact control {col!r} is already a column of the survey-level frame; "
                                  f"name a different column.")
        measures = tuple(m for m, cols in CONTACT_MEASURES.items() if all(contacts.has(c) for c in cols))
        needed_cols |= {c for m in measures for c in CONTACT_MEASURES[m]}
        if contacts.has("customer_id"):     # the business-impact link follows each survey to its customer
            needed_cols.add("customer_id")
    id_as_text = bool(surveys is not None and surveys.has("contact_id")
                      and surveys.types["contact_id"] != contacts.types["contact_id"])
    cview = contacts_view(contacts, needed_cols, by, source_tz=contacts_src.timezone or _fmt_tz(contacts_src),
                          study_tz=timezone, id_as_text=id_as_text, controls=controls)
    aware = is_aware(contacts.types["arrived_at"])
    zone = sql_string(timezone or "UTC")
    # the local date is monotone in the instant, so the window of an aware column needs two conversions only
    bounds = ((f"timezone({zone}, min(arrived_at))", f"timezone({zone}, max(arrived_at))") if aware else
              (f"min({cview.columns['local_ts']})", f"max({cview.columns['local_ts']})"))
    n_contacts, (first, last) = run_rules(session, contacts, cview.rules, unique=("contact_id",), aggregates=bounds)
    if n_contacts == 0:
        raise InputError("has no contact rows", source=contacts.label)
    if aware:
        cview.columns["arrived_at"] = quote("arrived_at")
    cview.create(session, contacts, "contacts_t")
    window = ""
    given = (start is not None, end is not None)
    if start is not None or end is not None:
        lo, hi = start or first.date(), end or last.date()
        window = utc_window(lo, hi, timezone) if aware else local_window(lo, hi)
    start = start or first.date()
    end = end or last.date()
    if end < start:
        raise OptionError(f"The window ends ({end}) before it starts ({start}).")
    # buckets pay off once they hold many contacts each; below that, converting every contact is cheaper
    n_buckets = max((last - first).total_seconds() / BUCKET_S, 1.0)
    bucket_tz = (timezone or "UTC") if (aware and "n_customers" not in needed
                                        and n_contacts >= MIN_CONTACTS_PER_BUCKET * n_buckets
                                        and quarter_hour_offsets(timezone or "UTC", first, last)) else None

    n_surveys = n_matched = 0
    notes = []
    survey_parts: dict[str, Component] = {}
    own_segments = False
    if surveys is not None:
        sview = surveys_view(surveys, scores, by, source_tz=surveys_src.timezone or _fmt_tz(surveys_src),
                             study_tz=timezone, id_as_text=id_as_text)
        for c in composites:
            # over the typed scores (the raw columns may be text, as CSV columns are read)
            sview.columns[c.name] = c.row_sql(known.simple, lambda name: f"({sview.columns[name]})")
        missing_seg = [b for b in by if not surveys.has(b)]
        n_surveys, _ = run_rules(session, surveys, sview.rules, unique=("survey_id",))
        sview.create(session, surveys, "surveys_t")
        n_orphan, n_unknown, first_unknown = session.rows(
            "SELECT count_if(s.contact_id IS NULL), count_if(s.contact_id IS NOT NULL AND k.contact_id IS NULL), "
            "min(s.survey_id) FILTER (WHERE s.contact_id IS NOT NULL AND k.contact_id IS NULL) "
            "FROM surveys_t s LEFT JOIN (SELECT DISTINCT contact_id FROM contacts_t) k "
            "ON s.contact_id = k.contact_id")[0]
        n_orphan, n_unknown = int(n_orphan or 0), int(n_unknown or 0)
        if n_orphan and (missing_seg or not surveys.has("responded_at")):
            col = missing_seg[0] if missing_seg else "responded_at"
            raise InputError(f"is missing: {n_orphan} surveys have no contact_id, so they need their own "
                             f"time and segment columns", source=surveys.label, column=col)
        own_segments = bool(n_orphan)
        n_matched = n_surveys - n_orphan - n_unknown
        if n_unknown and n_unknown == n_surveys - n_orphan:
            raise InputError(f"none of the {n_unknown} surveys rates a known contact (first: survey "
                             f"{first_unknown}); are these the surveys of these contacts?",
                             source=surveys.label, column="contact_id")
        if n_unknown:
            message = (f"{n_unknown} of {n_surveys} surveys rate a contact that is not in {contacts.label} "
                       f"(first: survey {first_unknown}); they are left out")
            notes.append(("unmatched_surveys", message))
            warnings.warn(message, UnmatchedSurveysWarning, stacklevel=3)
        for m in [*scores.values(), *composites]:
            if m.name in {x.name for x in chosen}:
                survey_parts.update(survey_components(m, quote(m.name)))

    extra_specs = _extras(session, extras, extra_tables, by, timezone)
    unknown = [n for n in leftover if n not in extra_rules]
    if unknown:
        raise OptionError(f"Unknown metric {unknown[0]!r}: not in the catalog "
                          f"({', '.join(catalog.names())}), not a declared survey metric and not a "
                          f"column of an extra source.")

    spec = PanelSpec(grain=grain, by=by, start=start, end=end, contacts_view="contacts_t",
                     contact_components={n: comps[n] for n in comps if n in needed},
                     contact_window=window, bucket_timezone=bucket_tz,
                     metrics=tuple(chosen), surveys_view="surveys_t" if surveys is not None else None,
                     survey_components=survey_parts, surveys_have_own_segments=own_segments,
                     survey_scores=tuple(sview.columns)[len(sview.columns) - len(scores) - len(composites):]
                     if surveys is not None else (),
                     extras=tuple(extra_specs), min_responses=min_responses)
    table = session.frame(panel_sql(spec))
    if int(table["n_contacts"].sum()) == 0:
        raise InputError(f"no contacts between {start} and {end} (the data runs from {first.date()} "
                         f"to {last.date()}, local time)", source=contacts.label, column="arrived_at")
    table["period"] = table["period"].astype("datetime64[ns]")
    span = wide_span(table["n_contacts"], table["period"], grain, start_given=given[0], end_given=given[1])
    if span:  # a study run records the warning in results.json
        warnings.warn(f"{contacts.label}, column 'arrived_at': {span}", SpanWarning, stacklevel=3)
    if surveys is not None:
        low = int(table["low_responses"].sum())
        if low:
            notes.append(("low_responses", f"{low} of {len(table)} rows have fewer than {min_responses} "
                                           f"survey responses"))
    contact_frame = None
    if frame:
        fspec = SurveyFrameSpec(grain=grain, by=by, contacts_view="contacts_t", surveys_view="surveys_t",
                                measures=measures, controls=controls, scores=spec.survey_scores,
                                contact_window=window,
                                service_level_threshold_s=options.service_level_threshold_s,
                                customer_id="customer_id" in needed_cols and "customer_id" not in controls)
        contact_frame = _frame(session.frame(survey_frame_sql(fspec)))
    return Panel(table=table, grain=grain, by=by, timezone=timezone, start=start, end=end,
                 definitions={m.name: m for m in chosen}, extra_rules=extra_rules,
                 min_responses=min_responses, n_contacts=n_contacts, n_surveys=n_surveys,
                 n_surveys_matched=n_matched, notes=tuple(notes), contact_frame=contact_frame)


def _frame(frame):
    """The survey-level frame as the engine returned it, with hour and weekday of the contact."""
    import pandas as pd
    ts = pd.to_datetime(frame["contact_ts"])
    frame["contact_ts"] = ts
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[ns]")
    frame.insert(frame.columns.get_loc("contact_ts") + 1, "hour", ts.dt.hour.astype("int64"))
    frame.insert(frame.columns.get_loc("hour") + 1, "weekday", ts.dt.day_of_week.astype("int64"))
    for col in ("answered_within_t", "transferred", "resolved"):
        if col in frame:
            frame[col] = frame[col].astype("float64")
    return frame


def _fmt_tz(source: Source) -> str | None:
    if source.format is None:
        return None
    from ..data.formats import get_format
    return get_format(source.format).timezone


def _extra_tables(session, extras, by, reserved: ReservedNames) -> tuple[list[tuple[RawTable, list[str]]],
                                                                           dict[str, str]]:
    """Each extra source registered with its value columns, and the rule of each value: the names are
    checked before any data is, so a column named like a panel column fails at once."""
    tables, rules = [], {}
    for i, e in enumerate(extras):
        raw = register(session, e, f"extra{i}_raw")
        for col in (e.time, *e.by):
            if not raw.has(col):
                raise InputError(f"is missing; the file has {', '.join(map(repr, raw.types))}",
                                 source=raw.label, column=col)
        values = list(e.values) if e.values is not None else [c for c in raw.types if c not in (e.time, *e.by)]
        if not values:
            raise InputError("has no value columns besides its time and segment columns", source=raw.label)
        for v in values:
            if not raw.has(v):
                raise InputError("is missing", source=raw.label, column=v)
            what = (reserved.what(v) or ("a segment column" if v in by else None)
                    or ("a column of another extra source" if v in rules else None))
            if what:
                hint = "" if e.values is not None else " (or list the value columns to read in values = [...])"
                raise InputError(f"has the same name as {what}; rename it in the source{hint}",
                                 source=raw.label, column=v)
            rules[v] = e.aggregate
        tables.append((raw, values))
    return tables, rules


def _extras(session, extras, tables, by, timezone) -> list[ExtraSpec]:
    specs = []
    for i, (e, (raw, values)) in enumerate(zip(extras, tables)):
        view = extra_view(raw, e.time, e.by, values, source_tz=e.timezone, study_tz=timezone)
        unique = (e.time, *e.by) if e.aggregate == "last" else ()
        run_rules(session, raw, view.rules, unique=unique)
        view.create(session, raw, f"extra{i}_t")
        specs.append(ExtraSpec(view=f"extra{i}_t", by=tuple(b for b in e.by if b in by),
                               aggregate=e.aggregate, values=tuple(values)))
    return specs
