"""Queue inputs from the raw contacts: offered, arrival rate, handle time, patience and agents per interval.

The engine (DuckDB, or Spark through the same SQL) reads and checks the contacts with the panel's
typed view and rules, and aggregates them to intervals of 15, 30 or 60 minutes of local wall-clock
time in the study timezone, by segment. Only the intervals (and, for the on-duty estimate, one
row per agent's service span) come back into pandas.

Per interval x segment, from additive counts and sums (rates are pooled, never averaged):

- ``offered`` and ``arrival_rate_per_h`` = offered / the interval's real length in hours (the
  local hour repeated when clocks go back holds two hours);
- ``mean_handle_s`` = handle time of answered contacts / answered (1/mu);
- ``patience_s`` = total wait of all queued contacts (answered and abandoned) / abandoned:
  1/theta, the maximum-likelihood estimate of an exponential patience censored by service
  (Brown et al. 2005). Without any abandonment the interval has no estimate of its own: its
  segment's pooled patience over the whole window is used (``patience_source = "pooled"``), or
  the Erlang C limit (infinite patience) with ``no_abandonment="erlang_c"``;
- ``agents``, from a staffing table when one is given (``agents_source = "staffing"``), else
  inferred from ``agent_id`` (``"inferred"``, with an :class:`~alignment.exceptions.AgentsInferredWarning`):

  * ``agents="on_duty"`` (the default): each agent's services (answer = arrival + wait, end =
    answer + handle) are joined into spans of duty wherever the idle gap between them is at most
    ``gap_s`` (30 min); the time-average number of spans open in the interval is the agents on
    duty. By segment, a span's time is split over the segments by the agent's busy time in them.
  * ``agents="distinct"``: the distinct agents who answered a contact arriving in the interval.
    This overstates the agents available to the queue: on the Anonymous Bank they are busy only
    31-65 % of the hour while 12.7 % of callers hang up (see the README, "Queueing and staffing").

Examples
--------
>>> from alignment import Source
>>> from alignment.staffing import queue_inputs
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     q = queue_inputs(Source("data/anonymous_bank/anonymous_bank_feb1999.txt",
...                             format="technion-anonymous-bank"), interval=60, timezone="Asia/Jerusalem")
>>> int(q.table["offered"].sum())
31125
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
import zoneinfo
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.checks import run_rules
from ..data.read import RawTable, quote, register
from ..data.sources import Source, as_source
from ..display import Displayed
from ..engine import DuckDBEngine, Engine
from ..exceptions import AgentsInferredWarning, InputError, OptionError
from ..panel.build import _date
from ..panel.schema import contacts_view, extra_view
from ..panel.timezones import check_timezone, local_window

__all__ = ["QueueInputs", "StaffingSource", "queue_inputs", "INTERVALS", "AGENT_ESTIMATES"]

INTERVALS = (15, 30, 60)
AGENT_ESTIMATES = ("on_duty", "distinct")
NO_ABANDONMENT = ("pooled", "erlang_c")
PATIENCE = ("interval", "pooled")

#: Columns of :attr:`QueueInputs.table` after the period and the segments.
INPUT_COLUMNS = ("offered", "arrival_rate_per_h", "mean_handle_s", "patience_s", "agents", "agents_source",
                 "patience_source", "interval_h", "answered", "abandoned", "answered_within_t",
                 "wait_answered_s", "wait_queued_s", "handle_answered_s", "agents_on_duty", "agents_distinct")


@dataclass(frozen=True)
class StaffingSource(Source):
    """Agents on duty per interval: a table with a time column, segment columns and an agents column.

    Parameters
    ----------
    data, columns, timezone, table, glob
        As for :class:`~alignment.Source`.
    time : str, default "time"
        The column holding the local start of each staffing interval (or any time inside it).
    by : sequence of str, optional
        Its segment columns; default those of the queue inputs' ``by`` that it has.
    agents : str, default "agents"
        The column of agents on duty (a count, or a time-average such as 7.5).

    Examples
    --------
    >>> StaffingSource("staffing.csv", time="interval_start", by=["queue"], agents="n_agents").agents
    'n_agents'
    """

    time: str = "time"
    by: Sequence[str] | None = None
    agents: str = "agents"

    def __post_init__(self):
        super().__post_init__()
        for name in ("time", "agents"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise OptionError(f"The '{name}' parameter of StaffingSource must be a column name. "
                                  f"Got {value!r} instead.")
        if self.by is not None:
            by = (self.by,) if isinstance(self.by, str) else tuple(self.by)
            if not all(isinstance(b, str) and b for b in by):
                raise OptionError(f"The 'by' parameter of StaffingSource must list column names. Got {self.by!r} "
                                  f"instead.")
            object.__setattr__(self, "by", by)


def as_staffing(data) -> StaffingSource | None:
    """A :class:`StaffingSource` from one, a plain :class:`~alignment.Source`, a path or a DataFrame."""
    if data is None or isinstance(data, StaffingSource):
        return data
    if isinstance(data, Source):
        return StaffingSource(data.data, columns=data.columns, timezone=data.timezone, table=data.table,
                              glob=data.glob)
    src = as_source(data, "staffing")
    return StaffingSource(src.data)


@dataclass(frozen=True, repr=False)
class QueueInputs(Displayed):
    """The queue's inputs per interval x segment (``.table``), with what produced them.

    ``table`` columns: ``period_start`` (local start of the interval), the segment columns,
    ``offered, arrival_rate_per_h, mean_handle_s, patience_s, agents, agents_source,
    patience_source, interval_h`` and the additive components behind them (``answered,
    abandoned, answered_within_t, wait_answered_s, wait_queued_s, handle_answered_s``), plus both
    inferred agent estimates (``agents_on_duty, agents_distinct``).
    """

    table: pd.DataFrame
    interval: int
    by: tuple[str, ...]
    timezone: str | None
    agents: str
    gap_s: float
    threshold_s: float
    no_abandonment: str
    patience: str = "interval"
    pooled_patience_s: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        t = self.table
        offered = int(t["offered"].sum())
        sources = t["agents_source"].value_counts()
        lines = [f"Queue inputs: {len(t):,} intervals of {self.interval} min x segment, {offered:,} offered contacts",
                 f"agents: {self.agents} ({', '.join(f'{k} {v}' for k, v in sources.items())})",
                 f"patience: {t['patience_source'].value_counts().to_dict()}; no abandonment -> {self.no_abandonment}"]
        return "\n".join([*lines, *self.notes])

    def to_dict(self) -> dict:
        finite = self.table.notna() & ~self.table.isin([math.inf, -math.inf])
        table = self.table.astype(object).where(finite, None)
        table["period_start"] = self.table["period_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        return {"interval": self.interval, "by": list(self.by), "timezone": self.timezone, "agents": self.agents,
                "gap_s": self.gap_s, "threshold_s": self.threshold_s, "no_abandonment": self.no_abandonment,
                "patience": self.patience, "pooled_patience_s": self.pooled_patience_s, "notes": list(self.notes),
                "rows": table.to_dict(orient="records")}


def _check_options(interval, agents, gap_s, threshold_s, no_abandonment, patience="interval") -> None:
    if patience not in PATIENCE:
        raise OptionError(f"The 'patience' parameter of queue_inputs must be one of 'interval', 'pooled'. "
                          f"Got {patience!r} instead.")
    if interval not in INTERVALS or isinstance(interval, bool):
        raise OptionError(f"The 'interval' parameter of queue_inputs must be one of 15, 30, 60 (minutes). "
                          f"Got {interval!r} instead.")
    if agents not in AGENT_ESTIMATES:
        raise OptionError(f"The 'agents' parameter of queue_inputs must be one of 'on_duty', 'distinct'. "
                          f"Got {agents!r} instead.")
    if no_abandonment not in NO_ABANDONMENT:
        raise OptionError(f"The 'no_abandonment' parameter of queue_inputs must be one of 'pooled', 'erlang_c'. "
                          f"Got {no_abandonment!r} instead.")
    for name, value in (("gap_s", gap_s), ("threshold_s", threshold_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise OptionError(f"The '{name}' parameter of queue_inputs must be a number of seconds >= 0. "
                              f"Got {value!r} instead.")


def _fmt_tz(source: Source) -> str | None:
    if source.format is None:
        return None
    from ..data.formats import get_format
    return get_format(source.format).timezone


def queue_inputs(contacts, *, interval: int = 60, by: Sequence[str] = (), timezone: str | None = None,
                 start=None, end=None, staffing=None, agents: str = "on_duty", gap_s: float = 1800,
                 threshold_s: float = 20, patience: str = "interval", no_abandonment: str = "pooled",
                 engine=None) -> QueueInputs:
    """The inputs of a queueing model per interval x segment, from raw contacts.

    Parameters
    ----------
    contacts : str, Path, DataFrame or Source
        Contacts with ``contact_id, arrived_at, answered, abandoned, wait_s, handle_s`` and, to infer
        the agents, ``agent_id``.
    interval : {15, 30, 60}
        Minutes of local wall-clock time in ``timezone``.
    by : sequence of str
        Segment columns (e.g. ``["queue"]``); empty for the whole center.
    timezone : str, optional
        The study's IANA timezone (naive times are read as its wall-clock time).
    start, end : date or str, optional
        Inclusive local dates of the window.
    staffing : StaffingSource, str, Path, DataFrame or Source, optional
        Agents on duty: a table with a time column (the interval's local start, or a time inside
        it), segment columns and an agents column (:class:`StaffingSource`; a plain path or
        frame has the columns ``time`` and ``agents`` and the segments of ``by`` it has). Several
        rows in one interval are averaged. Intervals it does not cover fall back to the inferred
        estimate (``agents_source = "inferred"``).
    agents : {"on_duty", "distinct"}
        The inferred estimate used when no staffing row covers an interval (see the module notes).
    gap_s : float, default 1800
        Idle gaps up to this many seconds join an agent's services into one span of duty.
    threshold_s : float, default 20
        T of the service level (answered within T, over offered).
    patience : {"interval", "pooled"}
        ``"interval"``: each interval's own estimate (abandoned / total wait of its queued contacts);
        ``"pooled"``: its segment's estimate over the whole window, in every interval. The
        interval's own estimate uses the abandonments the model is then asked to predict, so its
        fit is partly in-sample; the pooled one is the stricter check.
    no_abandonment : {"pooled", "erlang_c"}
        With ``patience="interval"``, the patience of an interval without abandonment: its
        segment's pooled patience, or infinite (the Erlang C limit).
    engine : DuckDBEngine or SparkEngine, optional

    Returns
    -------
    QueueInputs

    Raises
    ------
    InputError
        A column is missing or rows hold bad values (file, column, first row).
    OptionError
        An option is invalid.

    Warns
    -----
    AgentsInferredWarning
        When any interval's agents are inferred from ``agent_id``.
    """
    _check_options(interval, agents, gap_s, threshold_s, no_abandonment, patience)
    by = (by,) if isinstance(by, str) else tuple(by or ())
    check_timezone(timezone)
    start = _date("start", start)
    end = _date("end", end)
    if start and end and end < start:
        raise OptionError(f"The window ends ({end}) before it starts ({start}).")
    source = as_source(contacts, "contacts")
    staffing_src = as_staffing(staffing)
    engine = DuckDBEngine() if engine is None else engine
    if not isinstance(engine, Engine):
        raise OptionError(f"The 'engine' parameter must be a DuckDBEngine or SparkEngine. "
                          f"Got {type(engine).__name__} instead.")
    session = engine.connect()
    try:
        table, notes = _inputs(session, source, staffing_src, interval, by, timezone, start, end, gap_s,
                               threshold_s)
    except session.errors as error:
        raise InputError(f"the data engine refused the input: {session.message(error)}") from None
    finally:
        session.close()
    return _finish(table, notes, interval=interval, by=by, timezone=timezone, agents=agents, gap_s=gap_s,
                   threshold_s=threshold_s, patience=patience, no_abandonment=no_abandonment)


NEEDED = ("answered", "abandoned", "wait_s", "handle_s")


def _inputs(session, source, staffing_src, interval, by, timezone, start, end, gap_s, threshold_s):
    raw = register(session, source, "contacts_raw")
    for col in ("contact_id", "arrived_at", *NEEDED, *by):
        if not raw.has(col):
            raise InputError(f"is missing; the queue inputs need it (the file has "
                             f"{', '.join(map(repr, raw.types))})", source=raw.label, column=col)
    has_agents = raw.has("agent_id") and "agent_id" not in by
    view = contacts_view(raw, NEEDED, by, source_tz=source.timezone or _fmt_tz(source), study_tz=timezone,
                         id_as_text=False, controls=("agent_id",) if has_agents else ())
    n_rows, _ = run_rules(session, raw, view.rules, unique=("contact_id",))
    if n_rows == 0:
        raise InputError("has no contact rows", source=raw.label)
    view.create(session, raw, "contacts_t")
    window = local_window(start or dt.date(1800, 1, 1), end or dt.date(2199, 12, 31))
    seconds = interval * 60
    segs = "".join(f"{quote(b)}, " for b in by)
    agent = "agent_id" if has_agents else "CAST(NULL AS VARCHAR)"
    session.view("contacts_in", f"""
        SELECT {segs}{agent} AS agent_id, answered, abandoned, wait_s, handle_s,
               epoch_us(local_ts) / 1000000.0 AS arrived_s
        FROM contacts_t WHERE {window}""")
    intervals = session.frame(f"""
        SELECT {segs}CAST(floor(arrived_s / {seconds}) AS BIGINT) * {seconds} AS slot_s,
               count(*) AS offered,
               count_if(answered) AS answered,
               count_if(abandoned) AS abandoned,
               count_if(answered AND wait_s <= {threshold_s!r}) AS answered_within_t,
               coalesce(sum(CASE WHEN answered THEN wait_s END), 0) AS wait_answered_s,
               coalesce(sum(CASE WHEN answered OR abandoned THEN wait_s END), 0) AS wait_queued_s,
               coalesce(sum(CASE WHEN answered THEN handle_s END), 0) AS handle_answered_s,
               count(CASE WHEN answered THEN handle_s END) AS n_handled,
               count(DISTINCT CASE WHEN answered THEN agent_id END) AS agents_distinct
        FROM contacts_in GROUP BY {segs}slot_s ORDER BY {segs}slot_s""")
    if intervals.empty:
        raise InputError("has no contacts in the window", source=raw.label, column="arrived_at")
    notes = []
    spans = pd.DataFrame()
    if has_agents:
        # services of each agent in time order; a span of duty starts where the idle time since the
        # latest end of an earlier service exceeds gap_s
        spans = session.frame(f"""
            WITH services AS (
                SELECT {segs}agent_id, arrived_s + wait_s AS begin_s, arrived_s + wait_s + handle_s AS end_s
                FROM contacts_in WHERE answered AND agent_id IS NOT NULL AND handle_s IS NOT NULL),
            services_ordered AS (
                SELECT *, max(end_s) OVER (PARTITION BY agent_id ORDER BY begin_s, end_s
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
                FROM services),
            services_spans AS (
                SELECT *, sum(CASE WHEN previous_end IS NULL OR begin_s - previous_end > {gap_s!r} THEN 1 ELSE 0 END)
                          OVER (PARTITION BY agent_id ORDER BY begin_s, end_s ROWS UNBOUNDED PRECEDING) AS span
                FROM services_ordered),
            spans_bounds AS (
                SELECT agent_id, span, min(begin_s) AS span_begin_s, max(end_s) AS span_end_s
                FROM services_spans GROUP BY agent_id, span)
            SELECT {"".join(f"s.{quote(b)}, " for b in by)}s.agent_id, s.span, b.span_begin_s, b.span_end_s,
                   sum(s.end_s - s.begin_s) AS busy_s
            FROM services_spans s JOIN spans_bounds b ON s.agent_id = b.agent_id AND s.span = b.span
            GROUP BY {"".join(f"s.{quote(b)}, " for b in by)}s.agent_id, s.span, b.span_begin_s, b.span_end_s
            ORDER BY s.agent_id, s.span{"".join(f", s.{quote(b)}" for b in by)}""")
    else:
        notes.append("the contacts have no agent_id column: agents can come only from a staffing table")
    intervals["agents_on_duty"] = _on_duty(intervals, spans, by, seconds) if has_agents else np.nan
    if not has_agents:
        intervals["agents_distinct"] = np.nan
    intervals["agents_staffing"] = np.nan
    if staffing_src is not None:
        intervals["agents_staffing"] = _staffing(session, staffing_src, by, timezone, seconds, intervals)
    if not has_agents:
        uncovered = intervals[intervals["agents_staffing"].isna()]
        if len(uncovered):
            first = uncovered.iloc[0]
            when = pd.Timestamp(first["slot_s"], unit="s").strftime("%Y-%m-%d %H:%M")
            where = "".join(f", {b} {first[b]}" for b in by)
            what = (f"{staffing_src.label} has no row for {len(uncovered):,} of {len(intervals):,} intervals "
                    f"(first: {when}{where})" if staffing_src is not None else "no staffing table is given")
            raise InputError(f"has no agent_id column to infer the agents from, and {what}: give a staffing "
                             f"row for every interval, or contacts with agent_id", source=raw.label, column="agent_id")
    return intervals, notes


def _on_duty(intervals: pd.DataFrame, spans: pd.DataFrame, by, seconds: int) -> np.ndarray:
    """Time-average of the spans of duty open in each interval x segment (pure numpy)."""
    if spans.empty:
        return np.zeros(len(intervals))
    total = spans.groupby(["agent_id", "span"], sort=False)["busy_s"].transform("sum").to_numpy(float)
    share = np.divide(spans["busy_s"].to_numpy(float), total, out=np.ones(len(spans)), where=total > 0)
    begin = spans["span_begin_s"].to_numpy(float)
    end = spans["span_end_s"].to_numpy(float)
    first = np.floor(begin / seconds).astype(np.int64)
    last = np.floor(np.maximum(end - 1e-9, begin) / seconds).astype(np.int64)
    counts = last - first + 1
    rows = np.repeat(np.arange(len(spans)), counts)
    slot = (np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)))
    lo = np.maximum(begin[rows], slot * seconds)
    hi = np.minimum(end[rows], (slot + 1) * seconds)
    agent_time = np.clip(hi - lo, 0, None) * share[rows]
    keys = pd.DataFrame({"slot_s": slot * seconds, "agent_s": agent_time})
    for b in by:
        keys[b] = spans[b].to_numpy()[rows]
    per = keys.groupby([*by, "slot_s"], sort=False)["agent_s"].sum()
    index = pd.MultiIndex.from_frame(intervals[[*by, "slot_s"]]) if by else pd.Index(intervals["slot_s"])
    return (per.reindex(index).fillna(0.0).to_numpy() / seconds)


def _staffing(session, source: StaffingSource, by, timezone, seconds, intervals) -> np.ndarray:
    raw: RawTable = register(session, source, "staffing_raw")
    time, agents = source.time, source.agents
    keys = tuple(b for b in by if raw.has(b)) if source.by is None else source.by
    for col in (time, *keys, agents):
        if not raw.has(col):
            raise InputError(f"is missing; a staffing table needs its time column {time!r}, its segment columns "
                             f"and its agents column {agents!r} (the file has {', '.join(map(repr, raw.types))})",
                             source=raw.label, column=col)
    unknown = [k for k in keys if k not in by]
    if unknown:
        raise OptionError(f"The staffing table's segment column {unknown[0]!r} is not one of the segments "
                          f"({', '.join(by) or 'none'}); add it to by, or leave it out of the staffing's by.")
    view = extra_view(raw, time, keys, [agents], source_tz=source.timezone, study_tz=timezone)
    from ..data.types import Rule
    view.rules.append(Rule(agents, f"({view.columns[agents]} < 0)", "is negative (agents on duty)"))
    view.columns["agents"] = view.columns.pop(agents)
    run_rules(session, raw, view.rules)
    view.create(session, raw, "staffing_t")
    segs = "".join(f"{quote(b)}, " for b in keys)
    table = session.frame(f"""
        SELECT {segs}CAST(floor(epoch_us(local_ts) / 1000000.0 / {seconds}) AS BIGINT) * {seconds} AS slot_s,
               avg(agents) AS agents_staffing
        FROM staffing_t WHERE agents IS NOT NULL GROUP BY {segs}slot_s""")
    merged = intervals[[*keys, "slot_s"]].merge(table, on=[*keys, "slot_s"], how="left")
    return merged["agents_staffing"].to_numpy(float)


def _interval_hours(period_start: pd.Series, minutes: int, timezone: str | None) -> np.ndarray:
    """Real length in hours of each local interval: a repeated local hour (clocks going back) holds two."""
    if timezone in (None, "UTC"):
        return np.full(len(period_start), minutes / 60)
    zone = zoneinfo.ZoneInfo(timezone)
    out = []
    step = dt.timedelta(minutes=minutes)
    for ts in period_start.dt.to_pydatetime():
        a = ts.replace(tzinfo=zone, fold=0).astimezone(dt.timezone.utc)
        b = (ts + step).replace(tzinfo=zone, fold=1).astimezone(dt.timezone.utc)
        out.append((b - a).total_seconds() / 3600)
    return np.asarray(out)


def _finish(table: pd.DataFrame, notes, *, interval, by, timezone, agents, gap_s, threshold_s, patience,
            no_abandonment) -> QueueInputs:
    t = table.copy()
    t.insert(0, "period_start", pd.to_datetime(t.pop("slot_s"), unit="s"))
    t["interval_h"] = _interval_hours(t["period_start"], interval, timezone)
    t["arrival_rate_per_h"] = t["offered"] / t["interval_h"]
    n_handled = t.pop("n_handled")
    t["mean_handle_s"] = np.where(n_handled > 0, t["handle_answered_s"] / n_handled.where(n_handled > 0, 1), np.nan)
    own = np.where(t["abandoned"] > 0, t["wait_queued_s"] / t["abandoned"].where(t["abandoned"] > 0, 1), np.nan)
    pooled = {}
    groups = t.groupby(list(by), sort=True) if by else [((), t)]
    t["patience_s"] = own
    own_ok = (t["abandoned"] > 0) & (patience == "interval")
    t["patience_source"] = np.where(own_ok, "interval", "pooled" if patience == "pooled" else no_abandonment)
    for key, g in groups:
        ab, wait = g["abandoned"].sum(), g["wait_queued_s"].sum()
        value = float(wait / ab) if ab > 0 else math.inf
        name = "|".join(map(str, key if isinstance(key, tuple) else (key,))) or "all"
        pooled[name] = value if math.isfinite(value) else None
        fill = value if (patience == "pooled" or no_abandonment == "pooled") else math.inf
        t.loc[g.index[~own_ok.loc[g.index]], "patience_s"] = fill
    # abandonments after waits of 0 s only: an estimate of no patience at all (Erlang A needs theta finite)
    t.loc[t["patience_s"] == 0, "patience_s"] = 1e-9
    inferred = t["agents_on_duty"] if agents == "on_duty" else t["agents_distinct"]
    staffed = t.pop("agents_staffing")
    t["agents"] = staffed.where(staffed.notna(), inferred)
    t["agents_source"] = np.where(staffed.notna(), "staffing", "inferred")
    n_inferred = int((t["agents_source"] == "inferred").sum())
    if n_inferred:
        how = (f"time on duty in spans of services, idle gaps up to {gap_s:g} s joined" if agents == "on_duty"
               else "distinct agents serving")
        message = (f"the agents of {n_inferred:,} of {len(t):,} intervals are inferred from agent_id ({how}): "
                   f"an estimate; give a staffing table for the real counts")
        notes = [*notes, message]
        warnings.warn(message, AgentsInferredWarning, stacklevel=3)
    order = ["period_start", *by, *INPUT_COLUMNS]
    t = t[order].sort_values(["period_start", *by], kind="stable").reset_index(drop=True)
    return QueueInputs(table=t, interval=interval, by=tuple(by), timezone=timezone, agents=agents, gap_s=float(gap_s),
                       threshold_s=float(threshold_s), no_abandonment=no_abandonment, patience=patience,
                       pooled_patience_s=pooled,
                       notes=tuple(notes))
