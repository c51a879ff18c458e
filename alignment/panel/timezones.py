"""Local calendars for the panel: windows as UTC bounds, and when 15-minute UTC buckets are exact."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from ..exceptions import OptionError
from .query import BUCKET_S

UTC = dt.timezone.utc


def check_timezone(timezone: str | None) -> None:
    """OptionError unless ``timezone`` is None or an IANA timezone name.

    A name of the IANA database, not any file of the system's zoneinfo folder: ``right/UTC``
    (leap seconds), ``posix/...`` and ``localtime`` load in Python but the engines do not know them.
    """
    if timezone is None:
        return
    try:
        zoneinfo.ZoneInfo(str(timezone))
        known = str(timezone) in _iana_names()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        raise OptionError(f"The 'timezone' parameter must be an IANA timezone such as "
                          f"'America/New_York'. Got {timezone!r} instead.") from None


@functools.lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def is_aware(dtype: str) -> bool:
    """An instant type (timestamp with time zone), as Parquet and pandas deliver aware times."""
    return dtype.upper() in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")


def _zone(name: str | None):
    return zoneinfo.ZoneInfo(name) if name and name != "UTC" else UTC


def utc_window(start: dt.date, end: dt.date, timezone: str | None) -> str:
    """SQL condition on aware ``arrived_at``: local midnight of ``start`` up to local midnight after ``end``.

    The first instant whose local time is at or after local midnight is midnight in the offset
    before any change (``fold=0``), also when midnight is skipped or repeated by a clock change.
    """
    zone = _zone(timezone)

    def instant(day: dt.date) -> str:
        local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        return local.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    return (f"arrived_at >= TIMESTAMPTZ '{instant(start)}' AND "
            f"arrived_at < TIMESTAMPTZ '{instant(end + dt.timedelta(days=1))}'")


def local_window(start: dt.date, end: dt.date) -> str:
    """SQL condition on the local wall-clock time ``local_ts``."""
    return (f"local_ts >= TIMESTAMP '{start.isoformat()} 00:00:00' AND "
            f"local_ts < TIMESTAMP '{(end + dt.timedelta(days=1)).isoformat()} 00:00:00'")


def quarter_hour_offsets(timezone: str, first: dt.datetime, last: dt.datetime) -> bool:
    """True when, between two local times, every UTC offset of ``timezone`` and every instant at
    which it changes fall on whole ``BUCKET_S`` seconds, so a UTC bucket never straddles a local
    midnight and buckets sum exactly to local periods."""
    zone = _zone(timezone)
    if zone is UTC:
        return True
    lo = first.replace(tzinfo=zone).astimezone(UTC) - dt.timedelta(days=1)
    hi = last.replace(tzinfo=zone).astimezone(UTC) + dt.timedelta(days=1)
    step = dt.timedelta(hours=6)
    t, previous = lo, lo.astimezone(zone).utcoffset()
    while t <= hi:
        offset = t.astimezone(zone).utcoffset()
        if offset.total_seconds() % BUCKET_S:
            return False
        if offset != previous:
            # find the change to the second by bisection between t - step and t
            a, b = t - step, t
            while (b - a) > dt.timedelta(seconds=1):
                mid = a + (b - a) / 2
                if mid.astimezone(zone).utcoffset() == previous:
                    a = mid
                else:
                    b = mid
            if int(b.timestamp()) % BUCKET_S:
                return False
            previous = offset
        t += step
    return True


#: The share of contacts left out at each end to find where most contacts lie (0.5 %).
SPAN_TAIL = 0.005
#: The data's span is called far wider than where most contacts lie from this ratio of periods on.
SPAN_RATIO = 3


def wide_span(n_contacts, periods, grain: str, *, start_given: bool, end_given: bool) -> str | None:
    """Why the window is far wider than where the contacts lie, or None.

    ``n_contacts`` and ``periods`` are the panel's columns. The core of the data runs from the
    period holding the first 0.5 % of the contacts to the one holding the last 0.5 %; when the
    window (the data's first to last day, on each side the study does not fix) spans more than
    3 times as many periods as that core, a few outlying contacts (one dated 1970 among a
    year of 2025) stretch the panel into mostly empty periods, and the answer says where.
    """
    import pandas as pd
    per = pd.Series(n_contacts.to_numpy(dtype=float), index=pd.to_datetime(periods)).groupby(level=0).sum().sort_index()
    total = per.sum()
    if total <= 0 or len(per) < 2 or (start_given and end_given):
        return None
    share = per.cumsum() / total
    lo = share.index[(share > SPAN_TAIL).to_numpy().argmax()]
    hi = share.index[(share >= 1 - SPAN_TAIL).to_numpy().argmax()]
    core = int(((per.index >= lo) & (per.index <= hi)).sum())
    wide = (not start_given and per.index[0] < lo) or (not end_given and per.index[-1] > hi)
    if not wide or len(per) <= SPAN_RATIO * core:
        return None
    empty = int((per == 0).sum())
    name = {"day": "daily", "week": "weekly", "month": "monthly"}[grain]
    return (f"the data runs from {per.index[0].date()} to {per.index[-1].date()}, but 99 % of the contacts lie "
            f"between {lo.date()} and {hi.date()}: {len(per):,} {name} periods where {core:,} would hold them "
            f"({empty:,} empty); a few outlying contacts stretch the window: set start and end in the study, "
            f"or correct those rows")
