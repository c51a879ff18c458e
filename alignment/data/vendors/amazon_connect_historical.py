"""``amazon-connect-historical``: Amazon Connect historical metrics per interval (GetMetricDataV2, JSON).

The export is the ``GetMetricDataV2`` response (or its pages, one a line) for queues, with an
``Interval`` of ``FIFTEEN_MIN``, ``THIRTY_MIN`` or ``HOUR``: ``{"MetricResults": [{"Dimensions":
{"QUEUE": ..., "CHANNEL": ...}, "MetricInterval": {"StartTime": ..., "EndTime": ...}, "Collections":
[{"Metric": {"Name": "CONTACTS_QUEUED"}, "Value": 12.0}, ...]}]}``. Times are UTC (ISO 8601, or
epoch seconds as the API's JSON writes them).

Rules:

- One row per queue (and channel) and interval; ``interval_start`` is ``MetricInterval.StartTime``.
- Counts: ``CONTACTS_QUEUED`` → ``n_contacts``, ``CONTACTS_HANDLED`` → ``n_answered``,
  ``CONTACTS_ABANDONED`` → ``n_abandoned``, ``CONTACTS_TRANSFERRED_OUT`` → ``n_transferred``,
  ``SUM_CONTACTS_ANSWERED_IN_X`` → ``n_answered_within_t`` and ``SUM_CONTACTS_ABANDONED_IN_X`` →
  ``n_abandoned_within_t``, at the metric's own ``Threshold`` (which says the report's
  ``service_level_s``; two thresholds in one file are an error).
- Connect reports times as averages; they are turned back into the sums the panel pools:
  ``AVG_QUEUE_ANSWER_TIME`` × ``CONTACTS_HANDLED`` → ``wait_answered_s``, ``AVG_HANDLE_TIME`` ×
  ``CONTACTS_HANDLED`` → ``handle_answered_s``, ``AVG_ABANDON_TIME`` × ``CONTACTS_ABANDONED`` →
  ``wait_abandoned_s`` (exact to the precision of the averages Connect returns). The names of the
  first API version (``QUEUE_ANSWER_TIME``, ``HANDLE_TIME``) are read the same way.
- A transfer into another queue is queued there: interval reports count it in that queue, where
  contact records do not.
"""

from __future__ import annotations

import datetime as dt

from ...exceptions import FormatError
from ._common import Record, check_options, list_items

NAME = "amazon-connect-historical"
KIND = "intervals"
_COUNTS = {"CONTACTS_QUEUED": "n_contacts", "CONTACTS_HANDLED": "n_answered", "CONTACTS_ABANDONED": "n_abandoned",
           "CONTACTS_TRANSFERRED_OUT": "n_transferred", "SUM_CONTACTS_ANSWERED_IN_X": "n_answered_within_t",
           "SUM_CONTACTS_ABANDONED_IN_X": "n_abandoned_within_t"}
_AVERAGES = {"AVG_QUEUE_ANSWER_TIME": ("wait_answered_s", "CONTACTS_HANDLED"),
             "QUEUE_ANSWER_TIME": ("wait_answered_s", "CONTACTS_HANDLED"),
             "AVG_HANDLE_TIME": ("handle_answered_s", "CONTACTS_HANDLED"),
             "HANDLE_TIME": ("handle_answered_s", "CONTACTS_HANDLED"),
             "AVG_ABANDON_TIME": ("wait_abandoned_s", "CONTACTS_ABANDONED")}
_DIMENSIONS = {"QUEUE": "queue", "CHANNEL": "channel", "ROUTING_PROFILE": "routing_profile"}
FIELDS = (
    ("MetricInterval.StartTime", "interval_start", "UTC"),
    ("Dimensions.QUEUE", "queue", "the queue (segment); Dimensions.CHANNEL -> channel"),
    ("CONTACTS_QUEUED", "n_contacts", "offered, including transfers into the queue"),
    ("CONTACTS_HANDLED", "n_answered", "answered"),
    ("CONTACTS_ABANDONED", "n_abandoned", "abandoned"),
    ("CONTACTS_TRANSFERRED_OUT", "n_transferred", "transferred out"),
    ("SUM_CONTACTS_ANSWERED_IN_X", "n_answered_within_t", "at the metric's Threshold (the report's service_level_s)"),
    ("AVG_QUEUE_ANSWER_TIME x CONTACTS_HANDLED", "wait_answered_s", "an average times its count: the sum"),
    ("AVG_HANDLE_TIME x CONTACTS_HANDLED", "handle_answered_s", "an average times its count: the sum"),
    ("AVG_ABANDON_TIME x CONTACTS_ABANDONED", "wait_abandoned_s", "an average times its count: the sum"),
)


def _time(res: Record, field: str) -> dt.datetime:
    value = res.raw(field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    return res.utc_time(field, required=True)


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The interval rows of the historical metrics in ``path`` (see the module notes), as a DataFrame.

    Raises
    ------
    FormatError
        A result lacks its interval, a value is not a non-negative number, or the file mixes thresholds:
        the file, the field and the record (the metric result, from 1) are named.
    """
    import pandas as pd
    check_options(options, (), NAME)
    results = list_items(path, label, "MetricResults")  # one response, or one response page a line
    rows, seen, thresholds = [], set(), set()
    for res in results:
        begin = _time(res, "MetricInterval.StartTime")
        dims = res.raw("Dimensions") or {}
        row = {_DIMENSIONS.get(k, k.lower()): None if v is None else str(v) for k, v in dims.items()}
        row["interval_start"] = begin.astimezone(dt.timezone.utc).isoformat()
        values = {}
        for c, item in enumerate(res.raw("Collections") or []):
            name = ((item.get("Metric") or {}).get("Name") if isinstance(item, dict) else None)
            if not name:
                raise res.fail(f"Collections[{c}].Metric.Name", "is missing")
            value = item.get("Value")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise res.fail(f"Collections[{c}].Value", f"of {name} is not a non-negative number (got {value!r})")
            for t in (item.get("Metric") or {}).get("Threshold") or []:
                if name in ("SUM_CONTACTS_ANSWERED_IN_X", "SUM_CONTACTS_ABANDONED_IN_X"):
                    thresholds.add(float(t.get("ThresholdValue")))
            seen.add(name)
            values[name] = float(value or 0)
        for name, col in _COUNTS.items():
            if name in values:
                row[col] = values[name]
        for name, (col, count) in _AVERAGES.items():
            if name in values:
                row[col] = values[name] * values.get(count, 0.0)
        rows.append(row)
    if not rows:
        raise FormatError("holds no metric results (MetricResults is empty)", source=label)
    if len(thresholds) > 1:
        listed = ", ".join(f"{t:g} s" for t in sorted(thresholds))
        raise FormatError(f"counts contacts answered within several thresholds ({listed}): export one",
                          source=label, field="Metric.Threshold")
    frame = pd.DataFrame.from_records(rows)
    made = {_COUNTS[n] for n in seen if n in _COUNTS} | {_AVERAGES[n][0] for n in seen if n in _AVERAGES}
    for col in made:
        frame[col] = frame[col].fillna(0)
    if thresholds:
        frame["report_service_level_s"] = thresholds.pop()
    return frame
