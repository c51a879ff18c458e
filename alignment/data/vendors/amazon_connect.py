"""``amazon-connect-ctr``: Amazon Connect contact records (CTRs), as JSON lines or Parquet.

Amazon Connect streams one JSON object per contact record (Kinesis, then S3 as JSON lines, or
Parquet when the stream is converted); its fields are those of the *contact records data model*
in the Amazon Connect Administrator Guide. Times are UTC (ISO 8601); durations are whole seconds.

The analytics data lake holds the same records in its ``contact_record`` table, with other names:
snake_case and flattened (``Queue.EnqueueTimestamp`` is ``queue_enqueue_timestamp``; a ``queue``
struct with ``enqueue_timestamp`` is read too), durations in milliseconds (``queue_duration_ms``),
``attributes`` a map ("Contact data in the Connect Customer data lake", Administrator Guide).
A Parquet extract of that table is read by the same rules: :data:`DATA_LAKE` names each field's
column, and errors name the data lake's column. A stream converted to Parquet through a Glue table
(Kinesis Data Firehose) has the contact-record names in lower case (``contactid``,
``queue.enqueuetimestamp``): they are read too.

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
#: Contact-record field -> its column in the data lake's ``contact_record`` table (``_ms``: milliseconds).
DATA_LAKE = {
    "ContactId": "contact_id", "PreviousContactId": "previous_contact_id", "InitiationMethod": "initiation_method",
    "InitiationTimestamp": "initiation_timestamp", "LastUpdateTimestamp": "last_update_timestamp",
    "Channel": "channel", "DisconnectReason": "disconnect_reason", "Queue.Name": "queue_name",
    "Queue.EnqueueTimestamp": "queue_enqueue_timestamp", "Queue.DequeueTimestamp": "queue_dequeue_timestamp",
    "Queue.Duration": "queue_duration_ms", "Agent.Username": "agent_username", "Agent.ARN": "agent_arn",
    "Agent.ConnectedToAgentTimestamp": "agent_connected_to_agent_timestamp",
    "Agent.AgentInteractionDuration": "agent_interaction_duration_ms",
    "Agent.CustomerHoldDuration": "agent_customer_hold_duration_ms",
    "Agent.AfterContactWorkDuration": "agent_after_contact_work_duration_ms",
    "TransferCompletedTimestamp": "transfer_completed_timestamp", "Attributes": "attributes",
}
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


class _LakeRecord(Record):
    """A row of the data lake's ``contact_record`` table, read by the contact-record field names: each
    is looked up under its data lake column (flattened, ``queue_name``, or in a struct,
    ``queue.name``), milliseconds become seconds, and errors name the data lake's column."""

    def raw(self, field: str):
        column = self.name(field)
        value = super().raw(column)
        if value is None and "_" in column:
            value = super().raw(column.replace("_", ".", 1))
        if column.endswith("_ms") and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = value / 1000
        return value

    def name(self, field: str) -> str:
        return DATA_LAKE.get(field, field)


class _LowerCaseRecord(Record):
    """A contact record whose names a Glue (Hive) schema wrote in lower case, as Kinesis Data Firehose
    does when it converts the stream to Parquet: ``queue.enqueuetimestamp``; errors name them so."""

    def raw(self, field: str):
        return super().raw(self.name(field))

    def name(self, field: str) -> str:
        return field.lower()


def _in_connect_names(r: Record) -> Record:
    """``r`` read by the contact-record field names, whether it has them, the data lake's, or their
    lower-case spelling."""
    if "ContactId" in r.data:
        return r
    if "contact_id" in r.data:
        return _LakeRecord(r.data, r.label, r.index, r.where)
    if "contactid" in r.data:
        return _LowerCaseRecord(r.data, r.label, r.index, r.where)
    return r


def _wait(r: Record) -> float:
    wait = r.number("Queue.Duration")
    if wait is None:
        enq, deq = r.utc_time("Queue.EnqueueTimestamp"), r.utc_time("Queue.DequeueTimestamp")
        if deq is None:
            raise r.fail("Queue.Duration", f"is missing (and so is {r.name('Queue.DequeueTimestamp')})")
        wait = (deq - enq).total_seconds()
        if wait < 0:
            raise r.fail("Queue.DequeueTimestamp", f"is before {r.name('Queue.EnqueueTimestamp')}")
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
    for order, r in enumerate(map(_in_connect_names, json_records(path, label))):  # files in name order
        cid = r.text("ContactId", required=True)
        updated = r.utc_time("LastUpdateTimestamp")
        r.utc_time("InitiationTimestamp")  # checked: a malformed time is an error even where unused
        key = (updated is not None, updated, order)
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
