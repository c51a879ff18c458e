"""Built-in file formats: how a known raw export maps onto the canonical contact columns.

A :class:`Format` is data, not code: DuckDB ``read_csv`` options, the raw
columns that must be present, and one SQL expression per canonical column,
evaluated over the raw columns read as VARCHAR. The reader
(:func:`alignment.data.read.register`) applies it; this module never touches a file.

Formats
-------
``"technion-anonymous-bank"``
    The call-by-call log of the small call center of an Israeli bank
    ("Anonymous Bank", 1999), collected by the Technion SEE lab and analysed
    in Brown et al., JASA 100 (2005) 36-50. The project bundles February 1999
    as ``data/anonymous_bank/anonymous_bank_feb1999.txt``.
``"amazon-connect-ctr"``, ``"genesys-cloud-conversations"``, ``"nice-cxone-contacts"``, ``"five9-call-log"``
    Platform exports of contact records, read by the vendor modules of
    :mod:`alignment.data.vendors` (one per vendor): their rules look across records (duplicate
    copies, transfer legs) and their errors name the vendor's field, so they are code, not SQL.

Examples
--------
>>> from alignment.data.formats import get_format
>>> fmt = get_format("technion-anonymous-bank")
>>> fmt.timezone
'Asia/Jerusalem'
>>> sorted(fmt.columns)[:3]
['abandoned', 'agent_id', 'answered']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from ..exceptions import OptionError

__all__ = ["Format", "FORMATS", "get_format"]


@dataclass(frozen=True)
class Format:
    """A built-in raw-file format, as data for the reader.

    Parameters
    ----------
    name : str
        The name users pass as ``Source(..., format=name)``.
    description : str
        What the file is and every mapping decision, for humans.
    read_options : mapping
        DuckDB ``read_csv`` options (e.g. ``{"delim": "\\t", "header": True}``).
    required : tuple of str
        Raw column names that must be present.
    columns : mapping
        Canonical column -> DuckDB SQL expression over the raw columns (all read
        as VARCHAR; raw names quoted with double quotes, e.g. ``"vru+line"``).
    timezone : str or None
        IANA timezone of the format's naive times.
    where : str or None
        DuckDB SQL boolean over the raw columns (as VARCHAR): the rows that are
        contacts. Rows where it is not true are not contacts at all (e.g. records
        that never reached the agent queue) and are left out before anything is
        validated or counted; None keeps every row.
    reader : callable, optional
        For a platform export: ``reader(path, *, label, timezone)`` returns the canonical rows as a
        pandas DataFrame (see :mod:`alignment.data.vendors`); ``read_options``, ``columns`` and
        ``where`` are then unused.
    fields : tuple of (str, str, str)
        Vendor field, canonical column, rule: the mapping as the README's table shows it.
    kind : {"contacts", "surveys", "intervals"}
        Which source the format is for.
    needs : mapping, optional
        Canonical column -> the raw columns its expression reads. A column whose raw columns are
        absent is left out instead of failing (interval reports carry some items and not others);
        columns not named here are always made.
    """

    name: str
    description: str
    read_options: Mapping[str, object]
    required: tuple[str, ...]
    columns: Mapping[str, str]
    timezone: str | None
    where: str | None = None
    reader: Callable | None = None
    fields: tuple[tuple[str, str, str], ...] = ()
    kind: str = "contacts"
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# technion-anonymous-bank
# ---------------------------------------------------------------------------

_CLOCK = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"


def _seconds(raw: str) -> str:
    """Seconds since midnight of an 'H:MM:SS' clock time (hours are not zero-padded).

    NULL for a malformed time, so that the reader's validation names the row instead of
    the whole query failing. Written with split_part and a pattern, not a TIME cast,
    so that the same SQL runs on DuckDB and on Spark (which has no TIME type).
    """
    h, m, s = (f"TRY_CAST(split_part({raw}, ':', {i}) AS INTEGER)" for i in (1, 2, 3))
    return f"(CASE WHEN regexp_matches({raw}, '{_CLOCK}') THEN {h} * 3600 + {m} * 60 + {s} END)"


# The file writes 0:00:00 in q_start for calls that never joined the queue. But
# one call (AA0102 31056, 15 Feb) really joined it at midnight: q_start 0:00:00
# with q_time 27. A positive q_time tells the two apart.
_QUEUED = """("q_start" <> '0:00:00' OR TRY_CAST("q_time" AS INTEGER) > 0)"""

# Rows that are not contacts offered to the agent queue: PHANTOM calls ("a
# virtual call to be ignored" in the Technion documentation) and HANG calls that
# never queued, i.e. hung up in the VRU (self-service), not in the agent queue.
# HANG calls that queued and left in the same second (q_time 0) stay: offered
# and abandoned. A row whose test is NULL (a malformed q_time) is kept by the
# COALESCE, so that the reader's validation names it instead of the filter hiding it.
_OFFERED = f"""(NOT COALESCE("outcome" = 'PHANTOM' OR ("outcome" = 'HANG' AND NOT {_QUEUED}), false))"""

# When the call reached the agent queue: q_start if it queued, else the end of its
# VRU stage (it went straight to an agent; the calls that hung up in the VRU are
# not contacts, see _OFFERED). Not vru_entry: the time spent in self-service is
# not waiting for an agent, and q_start is what q_time (our wait_s) is measured from.
_ENTERED = f"""(CASE WHEN {_QUEUED} THEN {_seconds('"q_start"')} ELSE {_seconds('"vru_exit"')} END)"""

# `date` is the date of vru_entry (call_ids grow with (date, vru_entry) on every
# line). A call entering the VRU just before midnight joins the queue after it
# (2 calls in Feb 1999), so its clock time is smaller than vru_entry's. Move it
# to the next day only when it is more than 12 h "earlier": 25 calls have
# vru_exit up to 192 s before vru_entry (negative vru_time, a clock
# discrepancy between the VRU and the switch), which must stay on their day.
_DAY_SHIFT = f"""(CASE WHEN {_ENTERED} < {_seconds('"vru_entry"')} - 43200 THEN 86400 ELSE 0 END)"""

# The date is YYMMDD; two-digit years follow the POSIX pivot (69-99 -> 19xx), so 990201
# is 1999-02-01. Spelled out because Spark's 'yy' pattern reads every year as 20xx.
_DATE = ("""(CASE WHEN regexp_matches("date", '^[0-9]{6}$') THEN TRY_CAST("""
         """(CASE WHEN substr("date", 1, 2) >= '69' THEN '19' ELSE '20' END) || substr("date", 1, 2) || '-' """
         """|| substr("date", 3, 2) || '-' || substr("date", 5, 2) AS TIMESTAMP) END)""")
_ARRIVED_AT = (
    f"""strftime({_DATE} + INTERVAL (CAST({_ENTERED} + {_DAY_SHIFT} AS BIGINT)) SECOND, """
    """'%Y-%m-%d %H:%M:%S')"""
)

_ANONYMOUS_BANK_DESCRIPTION = """\
Call-by-call log of the small call center of an Israeli bank ("Anonymous Bank"),
1999, from the Technion Service Enterprise Engineering (SEE) lab; analysed in
Brown, Gans, Mandelbaum, Sakov, Shen, Zeltyn and Zhao, "Statistical Analysis of a
Telephone Call Center: A Queueing-Science Perspective", JASA 100 (2005) 36-50.
Tab-separated text with a header row (CRLF line ends), one row per call, times
as naive Israel local clock times (Asia/Jerusalem).

Mapping to the canonical contact columns, and why:
- contact_id = "vru+line" + "-" + call_id (e.g. 'AA0101-34536'). call_id alone is
  not unique (each VRU numbers its own calls: in Feb 1999, 8,559 call_ids occur
  on 2 to 7 lines), the pair is.
- queue = type (PS regular, PE English, IN internet, NE stock exchange,
  NW prospective customers, TT callbacks); channel = 'voice'.
- arrived_at = when the call entered the agent queue: q_start when the call
  queued, else vru_exit (it went straight to an agent).
  q_start 0:00:00 means "never queued" unless q_time > 0 (a call can queue at
  midnight). The date column is the date of vru_entry, so a call that reaches
  the queue after midnight is moved to the next day. Text 'YYYY-MM-DD HH:MM:SS'.
- Contacts are the calls offered to the agent queue. Two kinds of rows are
  not, and are left out (the format's `where`), so they count nowhere, not
  even in offered (n_contacts):
  * PHANTOM calls (outcome 'PHANTOM', 278 in Feb 1999): "a virtual call to be
    ignored" in the Technion documentation;
  * HANG calls that never queued (q_start 0:00:00 and q_time 0; 1,941 in Feb
    1999): they hung up in the VRU (self-service) and never reached the agent
    queue, so they did not abandon it.
  Feb 1999 thus gives 33,344 - 278 - 1,941 = 31,125 contacts.
- answered = outcome 'AGENT'; abandoned = outcome 'HANG' (every HANG call left
  is one that queued). The 31 HANG calls that joined the queue and left it in
  the same second (q_time 0) are offered and abandoned with a wait of 0 s.
- wait_s = q_time (seconds in the agent queue; 0 for calls that never queued).
  The VRU (self-service) time is not part of it.
- handle_s = ser_time (seconds with an agent). The log has no after-call work,
  so AHT here is talk time only.
- customer_id = customer_id, NULL when '0' (caller not identified). 21 ids in
  Feb 1999 were mangled to scientific notation (e.g. '3.26702E+11') before
  publication; they are kept verbatim and may merge distinct customers.
- agent_id = server, NULL for 'NO_SERVER'. 491 AGENT calls in Feb 1999 have
  NO_SERVER (mostly a few seconds of service): answered, without an agent.
- priority = priority as an integer (0 unidentified/legacy, 1 regular,
  2 high priority, which starts 1.5 minutes ahead in the queue).
Unused raw columns: vru_time (25 negative values in Feb 1999), q_exit,
ser_start, ser_exit (these are implied by the start times and durations).
"""

TECHNION_ANONYMOUS_BANK = Format(
    name="technion-anonymous-bank",
    description=_ANONYMOUS_BANK_DESCRIPTION,
    read_options=MappingProxyType({
        "delim": "\t",
        "header": True,
        # The export never quotes a field; turning quoting off means a stray quote
        # character cannot swallow the rest of the file.
        "quote": "",
        "escape": "",
    }),
    required=("vru+line", "call_id", "customer_id", "priority", "type", "date", "vru_entry",
              "vru_exit", "q_start", "q_time", "outcome", "ser_time", "server"),
    columns=MappingProxyType({
        "contact_id": """("vru+line" || '-' || "call_id")""",
        "queue": '"type"',
        "channel": "'voice'",
        "arrived_at": _ARRIVED_AT,
        "answered": """("outcome" = 'AGENT')""",
        "abandoned": """("outcome" = 'HANG')""",
        "wait_s": """TRY_CAST("q_time" AS DOUBLE)""",
        "handle_s": """TRY_CAST("ser_time" AS DOUBLE)""",
        "customer_id": """NULLIF("customer_id", '0')""",
        "agent_id": """NULLIF("server", 'NO_SERVER')""",
        "priority": """TRY_CAST("priority" AS INTEGER)""",
    }),
    timezone="Asia/Jerusalem",
    where=_OFFERED,
)


# ---------------------------------------------------------------------------
# avaya-cms-hsplit
# ---------------------------------------------------------------------------

_ROW_DATE = ("""(CASE WHEN regexp_matches(trim("row_date"), '^[0-9]{4}-[0-9]{2}-[0-9]{2}$') THEN trim("row_date") """
             """WHEN regexp_matches(trim("row_date"), '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$') THEN """
             """split_part(trim("row_date"), '/', 3) || '-' || lpad(split_part(trim("row_date"), '/', 1), 2, '0') """
             """|| '-' || lpad(split_part(trim("row_date"), '/', 2), 2, '0') END)""")
_HHMM = """lpad(trim("starttime"), 4, '0')"""
_START = (f"""(CASE WHEN regexp_matches(trim("starttime"), '^[0-9]{{1,4}}$') THEN {_ROW_DATE} || ' ' || """
          f"""substr({_HHMM}, 1, 2) || ':' || substr({_HHMM}, 3, 2) || ':00' END)""")


def _seconds_sum(*raw: str) -> str:
    """The sum of numeric text columns, as text; 'not a number' when one of them is not one, so that the
    reader's number check names the sum instead of a bad part silently adding nothing."""
    parts = [f"TRY_CAST(trim(CAST({quote_raw(r)} AS VARCHAR)) AS DOUBLE)" for r in raw]
    bad = " OR ".join(f"({p} IS NULL AND NULLIF(trim(CAST({quote_raw(r)} AS VARCHAR)), '') IS NOT NULL)"
                      for p, r in zip(parts, raw))
    total = " + ".join(f"coalesce({p}, 0)" for p in parts)
    return f"(CASE WHEN {bad} THEN 'not a number' ELSE CAST({total} AS VARCHAR) END)"


def quote_raw(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_HSPLIT_FIELDS = (
    ("row_date + starttime", "interval_start", "the interval's start: row_date (YYYY-MM-DD or MM/DD/YYYY) and "
                                               "starttime HHMM, the CMS server's local time (name its timezone)"),
    ("split", "queue", "the split or skill number (segment)"),
    ("callsoffered", "n_contacts", "offered; it includes calls that were neither answered nor abandoned "
                                   "(busy, disconnected, flowed out), which are not abandons"),
    ("acdcalls", "n_answered", "ACD calls answered"),
    ("abncalls", "n_abandoned", "abandoned calls"),
    ("acceptable", "n_answered_within_t", "answered within the split's acceptable service level (servicelevel)"),
    ("slvlabns", "n_abandoned_within_t", "abandoned within the split's acceptable service level (servicelevel)"),
    ("servicelevel", "(threshold)", "the acceptable service level, seconds: a service level at another threshold, "
                                    "or over splits or intervals of different ones, is an error naming it; without "
                                    "the item give it as service_level_s"),
    ("svclevelchg", "(threshold)", "1: the service level changed during the interval, whose acceptable and "
                                   "slvlabns then mix two thresholds: no service level from that report"),
    ("anstime", "wait_answered_s", "seconds, summed"),
    ("abntime", "wait_abandoned_s", "seconds, summed"),
    ("acdtime + holdtime + acwtime", "handle_answered_s", "talk, hold and after-call work, seconds, summed"),
    ("transferred", "n_transferred", "transferred calls"),
)

AVAYA_CMS_HSPLIT = Format(
    name="avaya-cms-hsplit",
    description="""\
Avaya CMS interval split/skill data (the hsplit table, or a report exported from it), one row per
split and interval (15, 30 or 60 minutes), CMS database item names as columns. CMS counts a call
in the interval in which it and its after-call work finish, not in the one it arrived in, so a
call spanning midnight counts on the next day: interval KPIs can differ from contact-record KPIs
at period edges. `callsoffered` includes calls that were neither answered nor abandoned
(busy, disconnected, flowed out): they count as offered and as neither. Times are the CMS
server's clock: name its time zone for the source. Every item but callsoffered is optional: a KPI
needing an absent one is an error naming it. `acceptable` and `slvlabns` count the calls answered
and abandoned within the split's `servicelevel` (the acceptable service level of the Split/Skill
Call Profile, seconds; Avaya CMS Database Items and Calculations, split/skill items), which the
report carries: a service level at another threshold cannot be computed from it.""",
    read_options=MappingProxyType({}),
    required=("row_date", "starttime", "split", "callsoffered"),
    columns=MappingProxyType({
        "interval_start": _START, "queue": 'trim("split")', "n_contacts": '"callsoffered"',
        "n_answered": '"acdcalls"', "n_abandoned": '"abncalls"', "n_answered_within_t": '"acceptable"',
        "n_abandoned_within_t": '"slvlabns"', "report_service_level_s": '"servicelevel"',
        "report_service_level_changed": '"svclevelchg"',
        "wait_answered_s": '"anstime"', "wait_abandoned_s": '"abntime"',
        "handle_answered_s": _seconds_sum("acdtime", "holdtime", "acwtime"), "n_transferred": '"transferred"',
    }),
    timezone=None,
    fields=_HSPLIT_FIELDS,
    kind="intervals",
    needs=MappingProxyType({
        "n_answered": ("acdcalls",), "n_abandoned": ("abncalls",), "n_answered_within_t": ("acceptable",),
        "n_abandoned_within_t": ("slvlabns",), "report_service_level_s": ("servicelevel",),
        "report_service_level_changed": ("svclevelchg",),
        "wait_answered_s": ("anstime",), "wait_abandoned_s": ("abntime",),
        "handle_answered_s": ("acdtime", "holdtime", "acwtime"), "n_transferred": ("transferred",),
    }),
)


def _vendor(module, timezone: str | None) -> Format:
    """The format of a vendor module of :mod:`alignment.data.vendors`."""
    return Format(name=module.NAME, description=module.__doc__, read_options=MappingProxyType({}),
                  required=getattr(module, "REQUIRED", ()), columns=MappingProxyType({}), timezone=timezone,
                  reader=module.read, fields=module.FIELDS, kind=getattr(module, "KIND", "contacts"))


def _vendor_formats() -> list[Format]:
    from .vendors import (amazon_connect, amazon_connect_historical, five9, medallia, genesys_aggregates, genesys_cloud, nice_cxone, qualtrics,
                          salesforce, surveymonkey, zendesk)
    # Connect and Genesys write UTC; CXone and Five9 the account's clock, which the study names;
    # Qualtrics says its zone in the ImportId row (else the study names it)
    return [_vendor(amazon_connect, "UTC"), _vendor(genesys_cloud, "UTC"),
            _vendor(nice_cxone, None), _vendor(five9, None), _vendor(qualtrics, None),
            _vendor(surveymonkey, None), _vendor(genesys_aggregates, "UTC"), _vendor(zendesk, "UTC"),
            _vendor(amazon_connect_historical, "UTC"), _vendor(salesforce, "UTC"), _vendor(medallia, None),
            Format(name=zendesk.SATISFACTION, description=zendesk.__doc__, read_options=MappingProxyType({}),
                   required=(), columns=MappingProxyType({}), timezone="UTC", reader=zendesk.read_satisfaction,
                   fields=zendesk.SATISFACTION_FIELDS, kind="surveys")]


FORMATS: dict[str, Format] = {f.name: f for f in (TECHNION_ANONYMOUS_BANK, *_vendor_formats(), AVAYA_CMS_HSPLIT)}


def get_format(name: str) -> Format:
    """The built-in format called ``name``.

    Raises
    ------
    OptionError
        ``name`` is not a built-in format; the message lists the known ones.

    Examples
    --------
    >>> get_format("technion-anonymous-bank").name
    'technion-anonymous-bank'
    """
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(n) for n in sorted(FORMATS))
        raise OptionError(
            f"The 'format' parameter of Source must be one of {known}. Got {name!r} instead.") from None
