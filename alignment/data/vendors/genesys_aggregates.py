"""``genesys-cloud-aggregates``: Genesys Cloud conversation aggregates, an interval report (JSON).

The export is what ``POST /api/v2/analytics/conversations/aggregates/query`` returns, with an
``interval`` granularity (``PT15M``, ``PT30M``, ``PT1H``): ``{"results": [{"group": {"queueId": ...,
"mediaType": ...}, "data": [{"interval": "2025-01-06T13:00:00.000Z/2025-01-06T13:30:00.000Z",
"metrics": [{"metric": "tAnswered", "stats": {"count": 10, "sum": 123000, ...}}]}]}]}``. Times are
UTC; durations milliseconds.

Rules:

- One row per group and interval: ``interval_start`` is the interval's start; ``queueId`` is the
  ``queue`` segment and ``mediaType`` the ``channel`` (other group keys keep their names).
- ``nOffered`` count → ``n_contacts``; ``tAnswered`` count and sum → ``n_answered``,
  ``wait_answered_s``; ``tAbandon`` count and sum → ``n_abandoned``, ``wait_abandoned_s``; ``tHandle``
  sum → ``handle_answered_s``; ``nTransferred`` count → ``n_transferred``; ``tAnswered`` count minus
  ``nOverSla`` count → ``n_answered_within_t`` (at the queue's SLA threshold: give it as
  ``service_level_s``).
- **Genesys counts a system disconnect as tAbandon**, and aggregates cannot tell the two apart:
  the abandon rate from aggregates includes system drops (the panel notes it). Conversation
  details (``genesys-cloud-conversations``) tell them apart.
- A transfer into another queue is offered there: interval reports count it in that queue, where
  contact records do not.
- A metric Genesys leaves out of an interval had nothing to count there (0); a metric absent from
  the whole file was not queried, and the KPIs needing it are errors.
"""

from __future__ import annotations

import datetime as dt

from ...exceptions import FormatError
from ._common import check_options, list_items

NAME = "genesys-cloud-aggregates"
KIND = "intervals"
_COUNTS = {"nOffered": "n_contacts", "tAnswered": "n_answered", "tAbandon": "n_abandoned",
           "nTransferred": "n_transferred"}
_SUMS = {"tAnswered": "wait_answered_s", "tAbandon": "wait_abandoned_s", "tHandle": "handle_answered_s"}
_GROUP = {"queueId": "queue", "mediaType": "channel"}
FIELDS = (
    ("data[].interval", "interval_start", "the start of the interval, UTC"),
    ("group.queueId", "queue", "the queue id (segment); group.mediaType -> channel"),
    ("nOffered count", "n_contacts", "offered, including transfers into the queue"),
    ("tAnswered count, sum", "n_answered, wait_answered_s", "milliseconds / 1000"),
    ("tAbandon count, sum", "n_abandoned, wait_abandoned_s", "includes system disconnects, which aggregates "
                                                              "cannot tell apart"),
    ("tHandle sum", "handle_answered_s", "milliseconds / 1000"),
    ("nTransferred count", "n_transferred", "transfers"),
    ("tAnswered count - nOverSla count", "n_answered_within_t", "at the queue's SLA threshold: give it as "
                                                                "service_level_s"),
)


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The interval rows of the aggregates in ``path`` (see the module notes), as a DataFrame.

    Raises
    ------
    FormatError
        A result lacks ``data`` or an interval, or a statistic is not a non-negative number: the file,
        the field (``results[2].data[5].interval``) and the record (the result, from 1) are named.
    """
    import pandas as pd
    check_options(options, (), NAME)
    rows, seen = [], set()
    results = list_items(path, label, "results")  # one response, or one response page a line
    for res in results:
        group = res.raw("group") or {}
        if not isinstance(group, dict):
            raise res.fail("group", "is not an object")
        data = res.raw("data")
        if not isinstance(data, list):
            raise res.fail("data", "is missing" if data is None else "is not a list")
        for d, item in enumerate(data):
            where = f"data[{d}]"
            span = item.get("interval") if isinstance(item, dict) else None
            try:
                begin = dt.datetime.fromisoformat(str(span).split("/")[0].replace("Z", "+00:00"))
            except ValueError:
                raise res.fail(f"{where}.interval", f"is not an interval such as 2025-01-06T13:00:00.000Z/"
                                                    f"2025-01-06T13:30:00.000Z (got {span!r})") from None
            if begin.tzinfo is None:
                begin = begin.replace(tzinfo=dt.timezone.utc)
            row = {_GROUP.get(k, k): None if v is None else str(v) for k, v in group.items()}
            row["interval_start"] = begin.astimezone(dt.timezone.utc).isoformat()
            over = 0.0
            for m, metric in enumerate(item.get("metrics") or []):
                name = metric.get("metric") if isinstance(metric, dict) else None
                stats = metric.get("stats") if isinstance(metric, dict) else None
                if not name or not isinstance(stats, dict):
                    raise res.fail(f"{where}.metrics[{m}]", "is not a metric (expected {\"metric\": ..., \"stats\": "
                                                            "{...}})")
                for stat in ("count", "sum"):
                    value = stats.get(stat)
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                              or value < 0):
                        raise res.fail(f"{where}.metrics[{m}].stats.{stat}",
                                       f"of {name} is not a non-negative number (got {value!r})")
                seen.add(name)
                count, total = stats.get("count") or 0, stats.get("sum") or 0
                if name in _COUNTS:
                    row[_COUNTS[name]] = row.get(_COUNTS[name], 0) + count
                if name in _SUMS:
                    row[_SUMS[name]] = row.get(_SUMS[name], 0) + total / 1000
                if name == "nOverSla":
                    over += count
            if "nOverSla" in seen or over:
                row["__over"] = over
            rows.append(row)
    if not rows:
        raise FormatError("holds no intervals (results[].data[] is empty)", source=label)
    frame = pd.DataFrame.from_records(rows)
    made = {_COUNTS[n] for n in seen if n in _COUNTS} | {_SUMS[n] for n in seen if n in _SUMS}
    for col in made:
        frame[col] = frame[col].fillna(0) if col in frame else 0
    if "nOverSla" in seen and "tAnswered" in seen:
        frame["n_answered_within_t"] = frame["n_answered"] - frame["__over"].fillna(0)
    return frame.drop(columns=[c for c in frame.columns if c == "__over"])
