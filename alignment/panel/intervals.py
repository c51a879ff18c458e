"""The panel from interval reports: counts and sums per interval and segment, summed to periods.

An interval report already holds the panel's additive components (offered, answered, abandoned,
answered within the threshold, sums of waits and handle times...). They are summed to the
study's periods exactly as contact rows are counted, and the catalog's pooled formulas run on
the sums: a rate is a ratio of summed counts, never an average of interval rates. A KPI whose
component the report does not hold is an error that names the component (FCR without
resolution counts; a service level at 30 s from a report counting at 20 s).

Surveys cannot be linked to contacts here: each counts in the period of its ``responded_at``
and in its own segment columns, which must match the report's segments.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .. import catalog
from ..catalog import KpiOptions
from ..data import types as ty
from ..data.checks import run_rules
from ..data.read import RawTable, quote, register
from ..data.sources import Intervals, Source
from ..data.types import Rule
from ..exceptions import InputError, OptionError
from .components import SCALE, Component, survey_components
from .query import PanelSpec, panel_sql
from .result import Panel
from .schema import TypedView, surveys_view
from .timezones import local_window

#: The canonical interval columns: the panel's additive components (``scaled`` ones are seconds).
COUNTS = ("n_contacts", "n_answered", "n_abandoned", "n_answered_within_t", "n_abandoned_within_t",
          "n_short_abandons", "n_transferred", "n_resolved")
SECONDS = ("wait_answered_s", "wait_abandoned_s", "handle_answered_s")
WHAT = {"n_contacts": "offered counts", "n_answered": "answered counts", "n_abandoned": "abandoned counts",
        "n_answered_within_t": "counts answered within the threshold",
        "n_abandoned_within_t": "counts abandoned within the threshold", "n_short_abandons": "short-abandon counts",
        "n_transferred": "transfer counts", "n_resolved": "resolution counts",
        "wait_answered_s": "sums of answer times", "wait_abandoned_s": "sums of abandon times",
        "handle_answered_s": "sums of handle times"}
_AT_THRESHOLD = {"n_answered_within_t": ("service_level_s", "service_level_threshold_s"),
                 "n_abandoned_within_t": ("service_level_s", "service_level_threshold_s"),
                 "n_short_abandons": ("short_abandon_s", "short_abandon_s")}


def _vendor_names(source: Source) -> dict[str, str]:
    """Canonical column -> the vendor's field, for messages in the vendor's words."""
    if source.format is None:
        return {canonical: original for canonical, original in source.columns.items()}
    from ..data.formats import get_format
    fmt = get_format(source.format)
    names = {canonical: vendor for vendor, canonical, _ in fmt.fields}
    for canonical, raw in fmt.needs.items():  # columns the README table lists under a rule, not a column
        if len(raw) == 1:
            names.setdefault(canonical, raw[0])
    return names


def _row(session, raw: RawTable, row: int) -> str:
    """'row 7', or 'row 7 of day2.csv' in a report of several files."""
    source, own = raw.locate(session, row)
    return f"row {own}" + (f" of {source}" if raw.files else "")


def _report_threshold(session, raw: RawTable, vendor: dict[str, str]) -> tuple[float | None, str | None]:
    """The service-level threshold the report says it counts at (``report_service_level_s``, e.g.
    Avaya's ``servicelevel``), and why no one threshold holds when it does not (rows of different
    thresholds, or a threshold changed within an interval: ``report_service_level_changed``).

    Raises
    ------
    InputError
        A threshold that is not a number of seconds: the file, the vendor's field and the row.
    """
    if not raw.has("report_service_level_s"):
        return None, None
    field = vendor.get("report_service_level_s", "report_service_level_s")
    rows = session.rows(f"SELECT trim(CAST(report_service_level_s AS VARCHAR)) AS t, min(__row) "
                        f"FROM ({raw.numbered_sql}) WHERE report_service_level_s IS NOT NULL "
                        f"AND trim(CAST(report_service_level_s AS VARCHAR)) <> '' GROUP BY 1 ORDER BY 2")
    said = {}
    for text, row in rows:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value >= 0 or value == float("inf"):
            source, row = raw.locate(session, row)
            raise InputError(f"is not a number of seconds (got {text!r})", source=source, column=field, row=row)
        said.setdefault(value, row)
    if raw.has("report_service_level_changed"):
        changed = session.rows(f"SELECT min(__row) FROM ({raw.numbered_sql}) WHERE "
                               f"trim(CAST(report_service_level_changed AS VARCHAR)) IN ('1', '1.0')")[0][0]
        if changed is not None:
            flag = vendor.get("report_service_level_changed", "report_service_level_changed")
            return None, (f"{field} changed during the interval of {_row(session, raw, changed)} ({flag} = 1), "
                          f"whose counts within the threshold mix two thresholds")
    if len(said) > 1:
        listed = ", ".join(f"{t:g} s from {_row(session, raw, r)}" for t, r in said.items())
        return None, f"the report counts it at several thresholds ({field}: {listed}), which do not pool"
    return (next(iter(said)) if said else None), None


def _unavailable(raw: RawTable, src: Intervals, options: KpiOptions, fmt_name: str,
                 said_by: str | None = None, mixed: str | None = None) -> dict[str, str]:
    """Components the report cannot give, with why, in words. ``said_by`` names the report's field
    holding its threshold; ``mixed`` says why the report has no one threshold."""
    why = {}
    for name in (*COUNTS, *SECONDS):
        if not raw.has(name):
            why[name] = f"{name} ({WHAT[name]}), which the {fmt_name} do not have"
        elif name in _AT_THRESHOLD:
            own, wanted = _AT_THRESHOLD[name]
            at, threshold = getattr(src, own), getattr(options, wanted)
            if mixed is not None and own == "service_level_s":
                why[name] = f"{name} at {threshold:g} s; {mixed}: use contact records"
            elif at is None:
                why[name] = (f"{name} at {threshold:g} s; the {fmt_name} count it at a threshold they do not "
                             f"say: give it ({own} = ... on the intervals)")
            elif float(at) != float(threshold):
                by = said_by if said_by and own == "service_level_s" else own
                why[name] = (f"{name} at {threshold:g} s, but the {fmt_name} count it at {at:g} s ({by}); set "
                             f"{wanted} = {at:g}, or use contact records")
    return why


def build_interval_panel(session, src: Intervals, surveys_src: Source | None, extras, grain: str,
                         by: Sequence[str], timezone, start, end, metrics, options: KpiOptions, known,
                         min_responses: int) -> Panel:
    """The panel of an interval report (see the module notes); called by :func:`~alignment.build_panel`."""
    from .build import _extra_tables, _extras, _reserved, survey_scores  # the panel builder's own helpers
    raw = register(session, src, "intervals_raw", kind="intervals")
    fmt_name = f"{src.format} intervals" if src.format else "intervals"
    vendor = _vendor_names(src)
    for col in ("interval_start", "n_contacts", *by):
        if not raw.has(col):
            named = f" ({vendor[col]})" if col in vendor and vendor[col] != col else ""
            raise InputError(f"is missing{named}; the intervals have {', '.join(map(repr, raw.types))}",
                             source=raw.label, column=col)
    said, mixed = _report_threshold(session, raw, vendor)  # the report may say its own threshold
    if said is not None:
        if src.service_level_s is not None and float(src.service_level_s) != said:
            raise InputError(f"counts contacts answered within {said:g} s, not {src.service_level_s:g} s as "
                             f"service_level_s says", source=raw.label,
                             column=vendor.get("report_service_level_s"))
        src = replace(src, service_level_s=said)
    why = _unavailable(raw, src, options, fmt_name, said_by=said is not None and vendor.get("report_service_level_s"),
                       mixed=mixed)
    available = [n for n in (*COUNTS, *SECONDS) if n not in why]

    surveys = register(session, surveys_src, "surveys_raw", kind="surveys") if surveys_src is not None else None
    chosen, leftover = [], []
    if metrics is None:
        for n in catalog.names("operational"):
            m = catalog.resolve(n, options)
            if all(c in available for c in m.components):
                chosen.append(m)
        if surveys is not None:
            chosen += [known.metric(n, options) for n in [*known.simple, *known.composites]
                       if all(surveys.has(c) for c in known.columns(n))]
    else:
        for n in dict.fromkeys([metrics] if isinstance(metrics, str) else metrics):
            if n in known:
                if surveys is None:
                    raise OptionError(f"The metric '{n}' is a survey metric: give a surveys table.")
                chosen.append(known.metric(n, options))
            elif n in catalog.names():
                m = catalog.resolve(n, options)
                missing = [c for c in m.components if c not in available]
                if missing:
                    raise InputError(f"the metric '{n}' needs {why[missing[0]]}", source=raw.label,
                                     column=vendor.get(missing[0]))
                chosen.append(m)
            else:
                leftover.append(n)
    extra_tables, extra_rules = _extra_tables(session, extras, by, _reserved(known.metrics, segments=False))
    unknown = [n for n in leftover if n not in extra_rules]
    if unknown:
        raise OptionError(f"Unknown metric {unknown[0]!r}: not in the catalog ({', '.join(catalog.names())}), "
                          f"not a declared survey metric and not a column of an extra source.")

    view = TypedView()
    view.columns["contact_id"] = "CAST(NULL AS VARCHAR)"  # nothing links a survey to an interval
    local = view.add("local_ts", ty.local_time("interval_start", raw.types["interval_start"],
                                               source_tz=src.timezone or _format_tz(src), study_tz=timezone))
    for b in by:
        view.add(b, ty.text(b, raw.types[b]))
    comps = {}
    for name in available:
        expr = view.add(name, ty.number(name, raw.types[name], required=name == "n_contacts", minimum=0))
        if name in COUNTS:
            view.rules.append(Rule(name, f"({expr} <> round({expr}))", "is not a whole count"))
            comps[name] = Component(name, f"sum(CAST(coalesce({quote(name)}, 0) AS BIGINT))", ())
        else:
            comps[name] = Component(name, f"sum(CAST(round(coalesce({quote(name)}, 0) * {SCALE}) AS BIGINT))",
                                    (), scaled=True)
    if "n_answered" in comps and "n_abandoned" in comps:
        view.rules.append(Rule("n_answered", f"({view.columns['n_answered']} + {view.columns['n_abandoned']} "
                                             f"> {view.columns['n_contacts']})",
                               "and the abandoned count add up to more than the offered count"))
    for within, total in (("n_answered_within_t", "n_answered"), ("n_abandoned_within_t", "n_abandoned")):
        if within in comps and total in comps:
            view.rules.append(Rule(within, f"({view.columns[within]} > {view.columns[total]})",
                                   f"is larger than {vendor.get(total, total)}"))
    view.rules = [Rule(vendor.get(r.column, r.column), r.bad, r.what) for r in view.rules]
    n_rows, (first, last) = run_rules(session, raw, view.rules, aggregates=(f"min({local})", f"max({local})"))
    if n_rows == 0:
        raise InputError("has no intervals", source=raw.label)
    view.create(session, raw, "intervals_t")
    window = local_window(start or first.date(), end or last.date()) if (start or end) else ""
    start, end = start or first.date(), end or last.date()
    if end < start:
        raise OptionError(f"The window ends ({end}) before it starts ({start}).")

    n_surveys, survey_parts, scores_cols, own = 0, {}, (), False
    if surveys is not None:
        for col in ("survey_id", "responded_at", *by):
            if not surveys.has(col):
                raise InputError(f"is missing: surveys attach to intervals by their own time (responded_at) and "
                                 f"segments ({', '.join(by) or 'none'})", source=surveys.label, column=col)
        unlinked = RawTable(surveys.label, surveys.view, {c: t for c, t in surveys.types.items() if c != "contact_id"},
                            surveys.numbered_sql)
        scores, composites = survey_scores(chosen, known, surveys)
        sview = surveys_view(unlinked, scores, by, source_tz=surveys_src.timezone or _format_tz(surveys_src),
                             study_tz=timezone, id_as_text=False)
        for c in composites:
            sview.columns[c.name] = c.row_sql(known.simple, lambda name: f"({sview.columns[name]})")
        n_surveys, _ = run_rules(session, unlinked, sview.rules, unique=("survey_id",))
        sview.create(session, unlinked, "surveys_t")
        for m in [*scores.values(), *composites]:
            if m.name in {x.name for x in chosen}:
                survey_parts.update(survey_components(m, quote(m.name)))
        scores_cols = tuple(sview.columns)[len(sview.columns) - len(scores) - len(composites):]
        own = True
    spec = PanelSpec(grain=grain, by=tuple(by), start=start, end=end, contacts_view="intervals_t",
                     contact_components=comps, contact_window=window, metrics=tuple(chosen),
                     surveys_view="surveys_t" if surveys is not None else None, survey_components=survey_parts,
                     surveys_have_own_segments=own, survey_scores=scores_cols,
                     extras=tuple(_extras(session, extras, extra_tables, by, timezone)), min_responses=min_responses)
    table = session.frame(panel_sql(spec))
    table["period"] = table["period"].astype("datetime64[ns]")
    notes = []
    if src.format == "genesys-cloud-aggregates" and "n_abandoned" in comps:
        notes.append(("system_disconnects", "Genesys aggregates count system disconnects in tAbandon: the abandon "
                                            "rate includes them (conversation details tell them apart)"))
    if surveys is not None:
        low = int(table["low_responses"].sum())
        if low:
            notes.append(("low_responses", f"{low} of {len(table)} rows have fewer than {min_responses} "
                                           f"survey responses"))
    return Panel(table=table, grain=grain, by=tuple(by), timezone=timezone, start=start, end=end,
                 definitions={m.name: m for m in chosen}, extra_rules=extra_rules, min_responses=min_responses,
                 n_contacts=int(table["n_contacts"].sum()), n_surveys=n_surveys, n_surveys_matched=0,
                 notes=tuple(notes))


def _format_tz(source: Source) -> str | None:
    if source.format is None:
        return None
    from ..data.formats import get_format
    return get_format(source.format).timezone
