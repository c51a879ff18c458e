"""``amazon-connect-ctr``: Amazon Connect contact records (CTRs), as JSON lines or Parquet.

Amazon Connect streams one JSON object per contact record (Kinesis, then S3 as JSON lines, or
Parquet when the stream is converted); its fields are those of the *contact records data model*
in the Amazon Connect Administrator Guide. Times are UTC (ISO 8601); durations are whole seconds.

Rules (the README's table "Platform exports" lists them field by field):

- **Duplicates.** Connect delivers some records more than once (and updates a record after the
  contact ends): the latest copy of each ``ContactId`` is kept, by ``LastUpdateTimestamp``, or
  the later line of the file when the times tie or are absent.
- **Legs.** A record initiated by ``TRANSFER`` or ``QUEUE_TRANSFER`` continues the contact named by
  its ``PreviousContactId`` (followed back to the first one): it is not a contact of the queue it
  was transferred to. Its agent time adds to the contact's handle time and marks it transferred.
  A leg whose earlier contact is not in the file is left out (its contact began before the export).
- **Callbacks.** A ``CALLBACK`` record continues the contact whose customer asked to be called back:
  that contact is not abandoned; it is answered when the callback reached an agent, and its wait
  is the time in queue of both. A callback whose first contact is not in the file stands alone and
  is never abandoned.
- **Contacts** are the first records of a chain that entered an agent queue
  (``Queue.EnqueueTimestamp``); flows that ended in self-service and outbound calls are not.
- **Abandoned**: queued, never connected to an agent (``Agent.ConnectedToAgentTimestamp``), no
  callback, and ``DisconnectReason`` not ``TELECOM_PROBLEM``: a telephony drop is a system drop,
  neither answered nor abandoned (it stays offered).
- **Handle** = ``Agent.AgentInteractionDuration`` + ``Agent.CustomerHoldDuration`` +
  ``Agent.AfterContactWorkDuration`` (hold and after-contact work are 0 when absent).
- **Attributes** (the contact attributes the flows set) become columns named by their keys, so
  that they can be segments or contact controls (``by = ["reason"]``); a key that is already a
  canonical column is named ``Attributes.key``.
"""

from __future__ import annotations

from ._common import CONTACT_COLUMNS, Record, check_options, contacts_frame, iso_utc, json_records

NAME = "amazon-connect-ctr"
LEG_METHODS = ("TRANSFER", "QUEUE_TRANSFER")
FIELDS = (
    ("ContactId", "contact_id", "the latest copy of each ContactId (LastUpdateTimestamp, then file order)"),
    ("InitiationMethod, PreviousContactId", "(legs)",
     "TRANSFER / QUEUE_TRANSFER records are legs of the PreviousContactId chain, not contacts; CALLBACK "
     "records continue the contact that asked for the callback"),
    ("Queue.Name", "queue", "of the first record; a leg's queue is never the contact's"),
    ("Channel", "channel", "lower case: voice, chat, task, email"),
    ("Queue.EnqueueTimestamp", "arrived_at", "UTC; records without it never queued and are not contacts"),
    ("Agent.ConnectedToAgentTimestamp", "answered", "present on the contact or on its callback"),
    ("DisconnectReason", "abandoned", "queued, no agent, no callback, and not TELECOM_PROBLEM "
                                      "(a system drop: neither answered nor abandoned)"),
    ("Queue.Duration", "wait_s", "seconds (Queue.DequeueTimestamp - EnqueueTimestamp when absent); "
                                 "plus the callback's time in queue"),
    ("Agent.AgentInteractionDuration + Agent.CustomerHoldDuration + Agent.AfterContactWorkDuration",
     "handle_s", "seconds, summed over the contact and its transfer and callback legs"),
    ("TransferCompletedTimestamp", "transferred", "present, or a TRANSFER / QUEUE_TRANSFER leg follows"),
    ("Agent.Username (else Agent.ARN)", "agent_id", "of the first agent"),
    ("Attributes.KEY", "KEY", "each contact attribute, as text (Attributes.KEY when KEY is a canonical column)"),
)


def _wait(r: Record) -> float:
    wait = r.number("Queue.Duration")
    if wait is None:
        enq, deq = r.utc_time("Queue.EnqueueTimestamp"), r.utc_time("Queue.DequeueTimestamp")
        if deq is None:
            raise r.fail("Queue.Duration", "is missing (and so is Queue.DequeueTimestamp)")
        wait = (deq - enq).total_seconds()
        if wait < 0:
            raise r.fail("Queue.DequeueTimestamp", "is before Queue.EnqueueTimestamp")
    return wait


def _handle(r: Record) -> float:
    if r.utc_time("Agent.ConnectedToAgentTimestamp") is None:
        return 0.0
    talk = r.number("Agent.AgentInteractionDuration", required=True)
    return talk + (r.number("Agent.CustomerHoldDuration") or 0.0) + (r.number("Agent.AfterContactWorkDuration") or 0.0)


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the contact records in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A record lacks ``ContactId``, or a field holds what Connect does not write (a timestamp that
        is not ISO 8601, a negative duration...): the file, the field and the record are named.
    """
    check_options(options, (), NAME)
    latest: dict[str, tuple] = {}
    for r in json_records(path, label):
        cid = r.text("ContactId", required=True)
        updated = r.utc_time("LastUpdateTimestamp")
        r.utc_time("InitiationTimestamp")  # checked: a malformed time is an error even where unused
        key = (updated is not None, updated, r.index)
        if cid not in latest or key >= latest[cid][0]:
            latest[cid] = (key, r)
    records = {cid: r for cid, (_, r) in latest.items()}

    def method(r: Record) -> str:
        return (r.text("InitiationMethod") or "").upper()

    def root(cid: str) -> str | None:
        seen = set()
        while cid in records and cid not in seen:
            seen.add(cid)
            r = records[cid]
            if method(r) not in (*LEG_METHODS, "CALLBACK"):
                return cid
            prev = r.text("PreviousContactId")
            if prev is None or prev not in records:
                return cid if method(r) == "CALLBACK" else None
            cid = prev
        return None

    legs: dict[str, list[Record]] = {}
    for cid, r in records.items():
        top = root(cid)
        if top is not None and top != cid:
            legs.setdefault(top, []).append(r)

    rows, attributes = [], {}
    for cid, r in records.items():
        if root(cid) != cid or r.utc_time("Queue.EnqueueTimestamp") is None:
            continue
        own = legs.get(cid, [])
        callbacks = [leg for leg in own if method(leg) == "CALLBACK"]
        is_callback = method(r) == "CALLBACK" or bool(callbacks)
        reached = r.utc_time("Agent.ConnectedToAgentTimestamp") is not None or any(
            c.utc_time("Agent.ConnectedToAgentTimestamp") is not None for c in callbacks)
        wait = _wait(r) + sum(_wait(c) for c in callbacks if c.utc_time("Queue.EnqueueTimestamp") is not None)
        drop = (r.text("DisconnectReason") or "").upper() == "TELECOM_PROBLEM"
        rows.append({
            "contact_id": cid,
            "queue": r.text("Queue.Name", required=True),
            "channel": (r.text("Channel") or "voice").lower(),
            "arrived_at": iso_utc(r.utc_time("Queue.EnqueueTimestamp")),
            "answered": reached,
            "abandoned": not reached and not is_callback and not drop,
            "wait_s": wait,
            "handle_s": _handle(r) + sum(_handle(leg) for leg in own),
            "transferred": (r.utc_time("TransferCompletedTimestamp") is not None
                            or any(method(leg) in LEG_METHODS for leg in own)),
            "agent_id": r.text("Agent.Username") or r.text("Agent.ARN"),
        })
        attrs = r.raw("Attributes") or {}
        if not isinstance(attrs, dict):
            raise r.fail("Attributes", "is not an object of key-value pairs")
        for key, value in attrs.items():
            name = f"Attributes.{key}" if key in CONTACT_COLUMNS else str(key)
            attributes.setdefault(name, {})[cid] = None if value in (None, "") else str(value)
    frame = contacts_frame(rows)
    for name, values in attributes.items():
        frame[name] = frame["contact_id"].map(values).astype("object")
        frame[name] = frame[name].where(frame[name].notna(), None)
    return frame
