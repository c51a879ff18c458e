"""``salesforce-voicecall``: Salesforce Service Cloud Voice ``VoiceCall`` records (CSV or JSON).

An export of the ``VoiceCall`` object with its API field names: a Data Loader or report CSV, or the
JSON of a SOQL query (``{"records": [...]}``, or one record a line). For Amazon Connect telephony,
Salesforce fills these fields from the contact record (``Queue.EnqueueTimestamp`` →
``CallQueuedDateTime``, ``Queue.Name`` → ``QueueName``, ``Agent.ConnectedToAgentTimestamp`` →
``CallAcceptDateTime``, ``DisconnectTimestamp`` → ``CallEndDateTime``, ``InitiationMethod`` →
``CallType``). Times are UTC.

Rules:

- **Contacts** are the calls that entered a queue (``CallQueuedDateTime``), other than outbound and
  internal calls. A ``CallType`` ``Transfer`` record is a leg of an earlier call and is left out:
  the standard fields do not name the call it continues, so no transfer is counted
  (``transferred`` is not derived; a transfer KPI needs another source).
- **answered** = ``CallAcceptDateTime``; **abandoned** = queued, never accepted, and
  ``DisconnectReason`` not ``TELECOM_PROBLEM`` (a telephony drop: neither answered nor abandoned).
- **wait_s** = ``CallAcceptDateTime`` (else ``CallEndDateTime``) − ``CallQueuedDateTime``.
- **handle_s** = ``CallEndDateTime`` − ``CallAcceptDateTime``: talk and hold. The standard fields
  hold no after-conversation work time, so AHT here excludes it.
"""

from __future__ import annotations

from ._common import check_options, contacts_frame, csv_records, is_json, iso_utc, json_records

NAME = "salesforce-voicecall"
REQUIRED = ("Id", "CallType", "CallQueuedDateTime", "CallAcceptDateTime", "CallEndDateTime", "QueueName")
COLUMNS = ("contact_id", "queue", "channel", "arrived_at", "answered", "abandoned", "wait_s", "handle_s")
FIELDS = (
    ("Id", "contact_id", "one record, one call"),
    ("CallType", "(filter)", "Outbound and Internal calls are not contacts; Transfer records are legs, left out"),
    ("QueueName", "queue", "the queue (segment)"),
    ("CallQueuedDateTime", "arrived_at", "UTC; calls without it never queued and are not contacts"),
    ("CallAcceptDateTime", "answered", "present"),
    ("DisconnectReason", "abandoned", "queued, never accepted, and not TELECOM_PROBLEM"),
    ("CallAcceptDateTime (else CallEndDateTime) - CallQueuedDateTime", "wait_s", "seconds"),
    ("CallEndDateTime - CallAcceptDateTime", "handle_s", "talk and hold; no after-conversation work in the "
                                                        "standard fields"),
)


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the VoiceCall export in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A required field is absent, or a time is not ISO 8601, or a call ends before it was
        accepted or queued: the file, the field and the record (or CSV row) are named.
    """
    check_options(options, (), NAME)
    records = (json_records(path, label, list_key="records") if is_json(path)
               else csv_records(path, label, REQUIRED, "Salesforce VoiceCall"))
    rows, seen = [], {}
    for r in records:
        cid = r.text("Id", required=True)
        if cid in seen:
            raise r.fail("Id", f"repeats the call of {seen[cid].place(r)}")
        seen[cid] = r
        kind = (r.text("CallType") or "").lower()
        queued = r.utc_time("CallQueuedDateTime")
        if queued is None or kind in ("outbound", "internal", "transfer"):
            continue
        accepted, ended = r.utc_time("CallAcceptDateTime"), r.utc_time("CallEndDateTime")
        until = accepted or ended
        if until is None:
            raise r.fail("CallEndDateTime", "is missing for a call that was never accepted (its wait is unknown)")
        wait = (until - queued).total_seconds()
        if wait < 0:
            raise r.fail("CallAcceptDateTime" if accepted else "CallEndDateTime", "is before CallQueuedDateTime")
        handle = 0.0
        if accepted is not None:
            if ended is None:
                raise r.fail("CallEndDateTime", "is missing for an accepted call (its handle time is unknown)")
            handle = (ended - accepted).total_seconds()
            if handle < 0:
                raise r.fail("CallEndDateTime", "is before CallAcceptDateTime")
        drop = (r.text("DisconnectReason") or "").upper() == "TELECOM_PROBLEM"
        rows.append({"contact_id": cid, "queue": r.text("QueueName", required=True), "channel": "voice",
                     "arrived_at": iso_utc(queued), "answered": accepted is not None,
                     "abandoned": accepted is None and not drop, "wait_s": wait, "handle_s": handle})
    return contacts_frame(rows, COLUMNS)
