"""``salesforce-voicecall``: Salesforce Service Cloud Voice ``VoiceCall`` records (CSV or JSON).

An export of the ``VoiceCall`` object with its API field names: a Data Loader or report CSV, or the
JSON of a SOQL query (``{"records": [...]}``, or one record a line). For Amazon Connect telephony,
Salesforce fills these fields from the contact record (the CTRDataSyncFunction of the Salesforce
Voice Developer Guide: ``Queue.EnqueueTimestamp`` → ``CallQueuedDateTime``, ``Queue.Name`` →
``QueueName``, ``Agent.ConnectedToAgentTimestamp`` → ``CallAcceptDateTime``, ``DisconnectTimestamp``
→ ``CallEndDateTime``, ``InitiationMethod`` → ``CallType``; ``DisconnectReason`` from the contact
record's since Contact Center version 13.0). Times are UTC. The fields and their values are those of
the Object Reference's ``VoiceCall`` page; the README's table marks which rule rests on it.

Rules:

- **Contacts** are the calls that entered a queue (``CallQueuedDateTime``), other than outbound
  calls, internal calls (``InternalCall``) and an agent's consultation of another (``Consult``). A
  ``Callback`` is a contact of its own: no field links it to the call that asked for it.
- **Legs.** A ``CallType`` ``Transfer`` record is a leg of the call its ``PreviousCallId`` names
  ("the previous call if the call was transferred from another agent"), followed back to the first
  call: not a contact of its queue. Its agent time adds to the call's handle time, and the call is
  transferred (so is a call with a ``NextCallId``). An export without ``PreviousCallId`` and
  ``NextCallId`` cannot tell: its legs are left out and no transfer is counted (``transferred`` is
  not made, so no transfer KPI comes from it).
- **answered** = ``CallAcceptDateTime``; **abandoned** = queued, never accepted, and
  ``DisconnectReason`` not ``TELECOM_PROBLEM`` (a telephony drop: neither answered nor abandoned).
- **wait_s** = ``CallAcceptDateTime`` (else ``CallEndDateTime``) − ``CallQueuedDateTime``.
- **handle_s** = ``CallEndDateTime`` − ``CallAcceptDateTime``: talk and hold (``CustomerHoldDuration``
  is part of it). No ``VoiceCall`` field holds after-conversation work time, so AHT here excludes it.
"""

from __future__ import annotations

from ._common import check_options, contacts_frame, csv_records, is_json, iso_utc, json_records

NAME = "salesforce-voicecall"
REQUIRED = ("Id", "CallType", "CallQueuedDateTime", "CallAcceptDateTime", "CallEndDateTime", "QueueName")
COLUMNS = ("contact_id", "queue", "channel", "arrived_at", "answered", "abandoned", "wait_s", "handle_s")
NOT_CONTACTS = ("outbound", "internalcall", "internal", "consult")
FIELDS = (
    ("Id", "contact_id", "one record, one call"),
    ("CallType", "(filter)", "Outbound, InternalCall and Consult calls are not contacts; Transfer records are legs; "
                             "a Callback is a contact of its own"),
    ("PreviousCallId, NextCallId", "(legs), transferred", "a Transfer record is a leg of the call PreviousCallId "
                                                        "names (up the chain); the call is transferred when a leg "
                                                        "names it or it has a NextCallId; without either field, "
                                                        "legs are left out and no transfer is counted"),
    ("QueueName", "queue", "the queue (segment) of the call; a leg's queue is never the call's"),
    ("CallQueuedDateTime", "arrived_at", "UTC; calls without it never queued and are not contacts"),
    ("CallAcceptDateTime", "answered", "present"),
    ("DisconnectReason", "abandoned", "queued, never accepted, and not TELECOM_PROBLEM"),
    ("CallAcceptDateTime (else CallEndDateTime) - CallQueuedDateTime", "wait_s", "seconds"),
    ("CallEndDateTime - CallAcceptDateTime", "handle_s", "talk and hold, summed over the call and its legs; no "
                                                        "after-conversation work in the standard fields"),
)


def _handle(r) -> float:
    """Seconds from acceptance to the end of the call (0 when never accepted)."""
    accepted, ended = r.utc_time("CallAcceptDateTime"), r.utc_time("CallEndDateTime")
    if accepted is None:
        return 0.0
    if ended is None:
        raise r.fail("CallEndDateTime", "is missing for an accepted call (its handle time is unknown)")
    handle = (ended - accepted).total_seconds()
    if handle < 0:
        raise r.fail("CallEndDateTime", "is before CallAcceptDateTime")
    return handle


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
    calls, legs, seen, linked = [], {}, {}, False
    for r in records:
        cid = r.text("Id", required=True)
        if cid in seen:
            raise r.fail("Id", f"repeats the call of {seen[cid].place(r)}")
        seen[cid] = r
        linked = linked or "PreviousCallId" in r.data or "NextCallId" in r.data
        kind = (r.text("CallType") or "").lower()
        queued = r.utc_time("CallQueuedDateTime")  # checked on every record, a leg's too
        if kind == "transfer":
            legs[cid] = r
        elif kind not in NOT_CONTACTS and queued is not None:
            calls.append(r)

    def call_of(leg) -> str | None:
        """The call a leg continues, up the chain of PreviousCallId; None when it is not in the export."""
        chain = set()
        while leg is not None and leg.text("Id") not in chain:
            chain.add(leg.text("Id"))
            prev = leg.text("PreviousCallId")
            if prev in legs:
                leg = legs[prev]
            else:
                return prev if prev in seen else None
        return None

    leg_handle, continued = {}, set()
    for leg in legs.values():
        top = call_of(leg)
        if top is not None:
            leg_handle[top] = leg_handle.get(top, 0.0) + _handle(leg)
            continued.add(top)
    rows = []
    for r in calls:
        cid, queued = r.text("Id"), r.utc_time("CallQueuedDateTime")
        accepted, ended = r.utc_time("CallAcceptDateTime"), r.utc_time("CallEndDateTime")
        until = accepted or ended
        if until is None:
            raise r.fail("CallEndDateTime", "is missing for a call that was never accepted (its wait is unknown)")
        wait = (until - queued).total_seconds()
        if wait < 0:
            raise r.fail("CallAcceptDateTime" if accepted else "CallEndDateTime", "is before CallQueuedDateTime")
        drop = (r.text("DisconnectReason") or "").upper() == "TELECOM_PROBLEM"
        rows.append({"contact_id": cid, "queue": r.text("QueueName", required=True), "channel": "voice",
                     "arrived_at": iso_utc(queued), "answered": accepted is not None,
                     "abandoned": accepted is None and not drop, "wait_s": wait,
                     "handle_s": _handle(r) + leg_handle.get(cid, 0.0),
                     "transferred": cid in continued or r.text("NextCallId") is not None})
    return contacts_frame(rows, COLUMNS + (("transferred",) if linked else ()))
