"""``zendesk-tickets`` and ``zendesk-satisfaction``: Zendesk Support tickets and satisfaction ratings (JSON).

Tickets come from the ticket APIs (``/api/v2/incremental/tickets`` or ``/api/v2/tickets``) with
their metrics, side-loaded (``include=metric_sets``: ``{"tickets": [...], "metric_sets": [...]}``)
or embedded (``"metric_set": {...}``) or as one ticket a line; ratings from
``/api/v2/satisfaction_ratings`` (``{"satisfaction_ratings": [...]}`` or one a line). Times are UTC;
ticket metrics are in minutes (calendar time is used, not business hours).

Rules for tickets (digital contacts: they are never abandoned, and Zendesk has no handle time, so
no abandon or handle KPI comes from them):

- **contact_id** = ``id``; **queue** = ``group_id``; **channel** = ``via.channel``; **arrived_at** =
  ``created_at``; **agent_id** = ``assignee_id``. Deleted tickets (``status`` ``deleted``) are left out.
- **answered** = a first reply (``reply_time_in_minutes.calendar`` of its metric set);
  **wait_s** = that time × 60 (minute precision).
- **transferred** = ``group_stations`` above 1 (the ticket passed through more than one group).
- **resolved** = ``status`` ``solved`` or ``closed`` and ``reopens`` 0: resolved without being reopened.

Rules for ratings: **survey_id** = ``id``, **contact_id** = ``ticket_id``, **responded_at** =
``created_at`` (else ``updated_at``), **csat_good** = 1 for ``good``, 0 for ``bad``; ``offered`` and
``unoffered`` are requests without an answer, not responses, and are left out. Declare the metric
as a share: ``SurveyMetric("csat_good", scale=(0, 1))`` (``[metrics.csat_good] scale = [0, 1]``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...exceptions import FormatError
from ._common import Record, check_options, contacts_frame, each_file, iso_utc, json_records, read_text

NAME = "zendesk-tickets"
SATISFACTION = "zendesk-satisfaction"
TICKET_COLUMNS = ("contact_id", "queue", "channel", "arrived_at", "answered", "wait_s", "transferred",
                  "resolved", "agent_id")
FIELDS = (
    ("id", "contact_id", "deleted tickets left out"),
    ("group_id", "queue", "the group (segment)"),
    ("via.channel", "channel", "email, web, chat, api..."),
    ("created_at", "arrived_at", "UTC"),
    ("metric_set.reply_time_in_minutes.calendar", "answered, wait_s", "a first reply; minutes x 60"),
    ("metric_set.group_stations", "transferred", "above 1"),
    ("status, metric_set.reopens", "resolved", "solved or closed, and never reopened"),
    ("assignee_id", "agent_id", "the assignee"),
)
SATISFACTION_FIELDS = (
    ("id", "survey_id", "ratings offered or unoffered are not responses"),
    ("ticket_id", "contact_id", "the rated ticket"),
    ("created_at (else updated_at)", "responded_at", "UTC"),
    ("score", "csat_good", "good = 1, bad = 0: declare SurveyMetric(\"csat_good\", scale=(0, 1))"),
)


def _document(path, label: str, key: str) -> dict | None:
    """The whole JSON document when the file is one (an API page), else None (JSON lines)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        return None
    text = read_text(path, label)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None  # one record a line: read line by line, with the line's record number
    if isinstance(doc, dict) and isinstance(doc.get(key), list):
        return doc
    if isinstance(doc, list):
        return {key: doc}
    return None


def _records(path, label: str, key: str):
    doc = _document(path, label, key)
    if doc is None:
        return list(json_records(path, label)), {}
    items = doc[key]
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise FormatError("is not a JSON object", source=label, record=i)
    return [Record(item, label, i) for i, item in enumerate(items, start=1)], doc


@each_file
def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the Zendesk tickets in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A ticket lacks ``id`` or ``created_at``, or a metric is not a non-negative number: the file, the
        field and the record are named.
    """
    check_options(options, (), NAME)
    records, doc = _records(path, label, "tickets")
    side = {}
    for m in doc.get("metric_sets") or []:
        if isinstance(m, dict) and m.get("ticket_id") is not None:
            side[str(m["ticket_id"])] = m
    rows, seen = [], {}
    for r in records:
        tid = r.text("id", required=True)
        if tid in seen:
            raise r.fail("id", f"repeats the ticket of {seen[tid].place(r)}")
        seen[tid] = r
        status = (r.text("status") or "").lower()
        if status == "deleted":
            continue
        metrics = r.raw("metric_set") or side.get(tid) or {}
        m = Record({"metric_set": metrics}, r.label, r.index)
        reply = m.number("metric_set.reply_time_in_minutes.calendar")
        stations = m.number("metric_set.group_stations")
        reopens = m.number("metric_set.reopens") or 0
        rows.append({
            "contact_id": tid, "queue": r.text("group_id", required=True),
            "channel": (r.text("via.channel") or "web").lower(),
            "arrived_at": iso_utc(r.utc_time("created_at", required=True)),
            "answered": reply is not None, "wait_s": None if reply is None else reply * 60,
            "transferred": (stations or 0) > 1, "resolved": status in ("solved", "closed") and reopens == 0,
            "agent_id": r.text("assignee_id"),
        })
    return contacts_frame(rows, TICKET_COLUMNS)


@each_file
def read_satisfaction(path, *, label: str, timezone: str | None = None, options=None):
    """The survey rows of the Zendesk satisfaction ratings in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A rating lacks ``id`` or ``ticket_id``, or its ``score`` is not good, bad, offered or unoffered.
    """
    import pandas as pd
    check_options(options, (), SATISFACTION)
    records, _ = _records(path, label, "satisfaction_ratings")
    rows = []
    for r in records:
        score = (r.text("score") or "").lower()
        if score not in ("good", "bad", "offered", "unoffered"):
            raise r.fail("score", f"is not good, bad, offered or unoffered (got {r.text('score')!r})")
        if score in ("offered", "unoffered"):
            continue
        when = r.utc_time("created_at") or r.utc_time("updated_at", required=True)
        rows.append({"survey_id": r.text("id", required=True), "contact_id": r.text("ticket_id", required=True),
                     "responded_at": iso_utc(when), "csat_good": 1.0 if score == "good" else 0.0,
                     "group_id": r.text("group_id")})
    return pd.DataFrame.from_records(rows, columns=["survey_id", "contact_id", "responded_at", "csat_good",
                                                    "group_id"])
