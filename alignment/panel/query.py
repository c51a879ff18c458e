"""The panel query: contacts + surveys + extra sources -> one row per period x segment.

This module holds the whole of the panel's logic as one SQL statement built
from a :class:`PanelSpec`: local-time periods, the inclusive window, pooled
components, survey attribution to the rated contact's period and segment,
extra sources rolled up by their declared rule, and the metrics computed from
the summed components. No pandas step takes part, so that another SQL engine
can run the same logic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..catalog import Metric
from ..engine.sql import quote, sql_string
from .components import Component

GRAINS = ("day", "week", "month")
#: Two-stage aggregation first sums contacts by UTC bucket of this many seconds.
BUCKET_S = 900


@dataclass(frozen=True)
class ExtraSpec:
    """An extra source as the query needs it: typed view, shared segments, rule, value columns."""

    view: str
    by: tuple[str, ...]
    aggregate: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class PanelSpec:
    """Everything the panel query needs, already validated.

    ``contact_window`` is a SQL condition on the contacts view selecting the window (empty:
    every contact). With ``bucket_timezone`` set, contacts are first summed by 15-minute UTC
    bucket of their aware ``arrived_at`` and only the buckets are converted to local periods:
    exact when every UTC offset and offset change of the timezone falls on a quarter hour
    (checked by the caller), and far cheaper than converting every contact.
    """

    grain: str
    by: tuple[str, ...]
    start: dt.date
    end: dt.date
    contacts_view: str
    contact_components: Mapping[str, Component]
    metrics: tuple[Metric, ...]
    contact_window: str = ""
    bucket_timezone: str | None = None
    surveys_view: str | None = None
    survey_components: Mapping[str, Component] = field(default_factory=dict)
    survey_scores: tuple[str, ...] = ()
    surveys_have_own_segments: bool = False
    extras: tuple[ExtraSpec, ...] = ()
    min_responses: int = 30


def period_of(ts: str, grain: str) -> str:
    """The local start date of the period that the local timestamp ``ts`` falls in."""
    if grain == "day":
        return f"CAST({ts} AS DATE)"
    return f"CAST(date_trunc('{grain}', {ts}) AS DATE)"


def first_period(day: dt.date, grain: str) -> dt.date:
    """Start date of the period holding ``day`` (ISO weeks start on Monday)."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def periods(start: dt.date, end: dt.date, grain: str) -> list[dt.date]:
    """Start dates of every period from the one holding ``start`` to the one holding ``end``."""
    out, day = [], first_period(start, grain)
    while day <= end:
        out.append(day)
        if grain == "month":
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            day += dt.timedelta(days=1 if grain == "day" else 7)
    return out


def extra_columns(extra: ExtraSpec) -> list[tuple[str, str]]:
    """(name, SQL aggregate) pairs an extra source contributes, support columns included."""
    out = []
    for v in extra.values:
        q = quote(v)
        if extra.aggregate == "mean":
            out += [(f"{v}__sum", f"sum({q})"), (f"{v}__n", f"count({q})")]
        elif extra.aggregate == "sum":
            out.append((v, f"sum({q})"))
        elif extra.aggregate == "max":
            out.append((v, f"max({q})"))
        else:  # last: the latest non-missing value of the period
            out += [(v, f"arg_max({q}, local_ts) FILTER (WHERE {q} IS NOT NULL)"),
                    (f"{v}__at", f"max(local_ts) FILTER (WHERE {q} IS NOT NULL)")]
    return out


def extra_value(extra: ExtraSpec, v: str, alias: str) -> list[str]:
    """Final-select expressions for value ``v`` of an extra joined as ``alias``."""
    if extra.aggregate == "mean":
        s, n = f"{alias}.{quote(v + '__sum')}", f"{alias}.{quote(v + '__n')}"
        return [f"CASE WHEN {n} > 0 THEN {s} / {n} END AS {quote(v)}",
                f"{s} AS {quote(v + '__sum')}", f"coalesce({n}, 0) AS {quote(v + '__n')}"]
    cols = [f"CAST({alias}.{quote(v)} AS DOUBLE) AS {quote(v)}"]
    if extra.aggregate == "last":
        cols.append(f"{alias}.{quote(v + '__at')} AS {quote(v + '__at')}")
    return cols


def panel_sql(spec: PanelSpec) -> str:
    """The single SQL statement that builds the panel described by ``spec``."""
    by = [quote(b) for b in spec.by]
    start = f"TIMESTAMP '{spec.start.isoformat()} 00:00:00'"
    stop = f"TIMESTAMP '{(spec.end + dt.timedelta(days=1)).isoformat()} 00:00:00'"
    window = f"local_ts >= {start} AND local_ts < {stop}"
    by_sel = "".join(f", {b}" for b in by)
    group = "GROUP BY period" + by_sel
    comps = spec.contact_components
    ctes = [f"cr AS (SELECT * FROM {quote(spec.contacts_view)}"
            + (f" WHERE {spec.contact_window})" if spec.contact_window else ")")]
    if spec.bucket_timezone:
        bucket_start = f"to_timestamp(bucket * {BUCKET_S})"
        local = f"timezone({sql_string(spec.bucket_timezone)}, {bucket_start})"
        ctes.append(f"cb AS (SELECT CAST(floor(epoch_us(arrived_at) / {BUCKET_S * 1_000_000}) AS BIGINT) AS bucket"
                    f"{by_sel}" + "".join(f", {c.partial} AS {quote(n)}" for n, c in comps.items())
                    + f" FROM cr GROUP BY bucket{by_sel})")
        ctes.append(f"ca AS (SELECT {period_of(local, spec.grain)} AS period{by_sel}"
                    + "".join(f", {c.final(f'sum({quote(n)})')} AS {quote(n)}" for n, c in comps.items())
                    + f" FROM cb {group})")
    else:
        ctes.append(f"ca AS (SELECT {period_of('local_ts', spec.grain)} AS period{by_sel}"
                    + "".join(f", {c.sql} AS {quote(n)}" for n, c in comps.items()) + f" FROM cr {group})")
    segment_sources = ["ca"]
    if spec.surveys_view:
        sv = quote(spec.surveys_view)
        scores = ", ".join(["s.survey_id", *(f"s.{quote(x)}" for x in spec.survey_scores)])
        # the period is computed after the join, for rated contacts only
        parts = [f"SELECT {period_of('c.local_ts', spec.grain)} AS period" + "".join(f", c.{b}" for b in by)
                 + f", {scores} FROM {sv} s JOIN cr c ON s.contact_id = c.contact_id"]
        if spec.surveys_have_own_segments:
            parts.append(f"SELECT {period_of('s.local_ts', spec.grain)} AS period"
                         + "".join(f", s.{b}" for b in by) + f", {scores} FROM {sv} s "
                         f"WHERE s.contact_id IS NULL AND s.{window}")
        ctes.append("sv AS (" + " UNION ALL ".join(parts) + ")")
        ctes.append("sa AS (SELECT period" + by_sel + ", CAST(count(*) AS BIGINT) AS n_surveys" + "".join(
            f", {c.sql} AS {quote(name)}" for name, c in spec.survey_components.items())
            + f" FROM sv {group})")
        segment_sources.append("sv")
    for i, extra in enumerate(spec.extras):
        shared = [quote(b) for b in extra.by]
        sel = "".join(f", {b}" for b in shared)
        aggs = "".join(f", {sql} AS {quote(name)}" for name, sql in extra_columns(extra))
        ctes.append(f"e{i} AS (SELECT {period_of('local_ts', spec.grain)} AS period{sel}{aggs} "
                    f"FROM {quote(extra.view)} WHERE {window} GROUP BY period{sel})")
    days = ", ".join(f"(DATE '{d.isoformat()}')" for d in periods(spec.start, spec.end, spec.grain))
    ctes.append(f"periods AS (SELECT period FROM (VALUES {days}) AS p(period))")
    if by:
        segs = " UNION ".join(f"SELECT DISTINCT {', '.join(by)} FROM {src}" for src in segment_sources)
        ctes.append(f"segs AS ({segs})")
        ctes.append("grid AS (SELECT * FROM periods CROSS JOIN segs)")
    else:
        ctes.append("grid AS (SELECT * FROM periods)")

    def on(alias: str, cols: Sequence[str]) -> str:
        return " AND ".join([f"g.period = {alias}.period"] + [f"g.{b} = {alias}.{b}" for b in cols])

    select = ["g.period"] + [f"g.{b}" for b in by]
    select += [f"coalesce(ca.{quote(n)}, 0) AS {quote(n)}" for n in spec.contact_components]
    joins = [f"LEFT JOIN ca ON {on('ca', by)}"]
    if spec.surveys_view:
        select += [f"coalesce(sa.{quote(n)}, 0) AS {quote(n)}"
                   for n in ["n_surveys", *spec.survey_components]]
        joins.append(f"LEFT JOIN sa ON {on('sa', by)}")
    extra_select = []
    for i, extra in enumerate(spec.extras):
        joins.append(f"LEFT JOIN e{i} ON {on(f'e{i}', [quote(b) for b in extra.by])}")
        for v in extra.values:
            extra_select += extra_value(extra, v, f"e{i}")
    inner = (f"SELECT {', '.join(select + extra_select)} FROM grid g {' '.join(joins)}")

    outer = ["period"] + by + [quote(n) for n in spec.contact_components]
    if spec.surveys_view:
        outer += [quote(n) for n in ["n_surveys", *spec.survey_components]]
    for m in spec.metrics:
        outer.append(f"{m.sql(quote)} AS {quote(m.name)}")
        if m.name == "nps" and m.denominator is not None:
            outer.append(_nps_se_sql(m))
    if spec.surveys_view:
        outer.append(f"n_surveys < {int(spec.min_responses)} AS low_responses")
    for extra in spec.extras:
        for v in extra.values:
            outer.append(quote(v))
    support = [name for extra in spec.extras for v in extra.values
               for name in (f"{v}__sum", f"{v}__n", f"{v}__at") if _has_support(extra, name, v)]
    outer += [quote(s) for s in support]
    return ("WITH " + ",\n".join(ctes) + f"\nSELECT {', '.join(outer)} FROM ({inner}) "
            f"ORDER BY period{by_sel}")


def _has_support(extra: ExtraSpec, name: str, v: str) -> bool:
    suffix = name[len(v):]
    return (extra.aggregate == "mean" and suffix in ("__sum", "__n")) or (
        extra.aggregate == "last" and suffix == "__at")


def _nps_se_sql(m: Metric) -> str:
    n = quote(m.denominator.names[0])
    prom, det = (quote(name) for name in m.numerator.names)
    p, d = f"(CAST({prom} AS DOUBLE) / {n})", f"(CAST({det} AS DOUBLE) / {n})"
    return (f"CASE WHEN {n} > 0 THEN 100 * sqrt(({p} + {d} - ({p} - {d}) ^ 2) / {n}) END "
            f"AS {quote(m.name + '_se')}")


#: The contact's own measures carried by the survey-level frame, with the contact columns they need.
CONTACT_MEASURES = {
    "wait_s": ("wait_s",),
    "answered_within_t": ("answered", "wait_s"),
    "handle_s": ("handle_s",),
    "transferred": ("transferred",),
    "resolved": ("resolved",),
}


@dataclass(frozen=True)
class SurveyFrameSpec:
    """What the survey-level frame query needs: one row per survey that rates a contact in the window.

    ``measures`` are keys of :data:`CONTACT_MEASURES` the contacts allow; ``controls`` are contact
    columns carried as text (reason, channel, agent ...); ``scores`` the typed survey score columns.
    """

    grain: str
    by: tuple[str, ...]
    contacts_view: str
    surveys_view: str
    measures: tuple[str, ...]
    controls: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    contact_window: str = ""
    service_level_threshold_s: float = 20.0
    #: carry the contact's ``customer_id`` (blank: NULL), for the business-impact link
    customer_id: bool = False


def survey_frame_sql(spec: SurveyFrameSpec) -> str:
    """One SQL statement: each survey joined to the contact it rates, with the contact's own measures.

    Only surveyed contacts come out (a join, not a load of the contacts), so the frame's size is
    the number of surveys whatever the number of contacts. Surveys without a ``contact_id`` have
    no contact of their own and are left out. The contact's local arrival time comes out as
    ``contact_ts`` (hour of day and weekday are read from it).
    """
    t = float(spec.service_level_threshold_s)
    expr = {"wait_s": "c.wait_s", "answered_within_t": f"(c.answered AND c.wait_s <= {t!r})",
            "handle_s": "c.handle_s", "transferred": "c.transferred", "resolved": "c.resolved"}
    cols = ["s.survey_id", "c.contact_id", f"{period_of('c.local_ts', spec.grain)} AS period"]
    cols += [f"c.{quote(b)}" for b in spec.by]
    cols.append("c.local_ts AS contact_ts")
    cols += [f"{expr[m]} AS {quote(m)}" for m in spec.measures]
    cols += [f"c.{quote(x)}" for x in spec.controls]
    if spec.customer_id:
        cols.append("c.customer_id")
    cols += [f"s.{quote(x)}" for x in spec.scores]
    where = f" WHERE {spec.contact_window}" if spec.contact_window else ""
    return (f"WITH cr AS (SELECT * FROM {quote(spec.contacts_view)}{where})\n"
            f"SELECT {', '.join(cols)} FROM {quote(spec.surveys_view)} s JOIN cr c "
            f"ON s.contact_id = c.contact_id ORDER BY s.survey_id")
