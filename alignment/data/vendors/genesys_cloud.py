"""``genesys-cloud-conversations``: Genesys Cloud analytics conversation details, as JSON.

The export is what ``POST /api/v2/analytics/conversations/details/query`` (or the details job)
returns: ``{"conversations": [...]}``, a JSON list of conversations, or one conversation a line.
Each conversation has ``participants`` (``purpose`` customer, ivr, acd, agent...), each with
``sessions`` holding ``segments`` and ``metrics`` (``{"name": "tAnswered", "value": 12000}``;
times in milliseconds). Times are UTC (ISO 8601).

Rules:

- **Contacts** are the conversations that entered a queue: an ``acd`` participant. The contact's
  queue is the first acd participant's (``participantName``, else the segment's ``queueId``), its
  time the start of that participant's first segment: a later acd participant is a transfer into
  another queue, which is not a contact of that queue here (interval aggregates do count it there).
- **answered** = a ``tAnswered`` metric; ``wait_s`` = the first ``tAnswered``, else the first
  ``tAbandon``, else the acd session's ``tAcd`` (milliseconds / 1000).
- **abandoned** = ``tAbandon`` and no ``tAnswered``, unless a customer or acd segment ends with
  ``disconnectType`` ``system``: Genesys counts a system disconnect as ``tAbandon``, and the details
  tell it apart; such a drop is neither answered nor abandoned. Aggregates (``tAbandon`` per
  interval) cannot tell them apart.
- **handle_s** = the sum of ``tHandle`` over agent sessions, else of ``tTalk`` + ``tHeld`` + ``tAcw``.
- **transferred** = an ``nTransferred`` above 0.
- A conversation still in queue when the details were exported (no ``conversationEnd`` and no
  outcome metric yet) is left out; an ended one without ``tAnswered``, ``tAbandon`` or ``tAcd`` is
  an error.
"""

from __future__ import annotations

from ._common import Record, check_options, contacts_frame, iso_utc, json_records

NAME = "genesys-cloud-conversations"
FIELDS = (
    ("conversationId", "contact_id", "one conversation, one contact"),
    ("participants[purpose=acd].participantName (else segments[].queueId)", "queue",
     "the first acd participant; a transfer into another queue is not that queue's contact"),
    ("sessions[].mediaType", "channel", "voice, chat, email, message, callback..."),
    ("segments[0].segmentStart of the first acd participant", "arrived_at", "UTC; conversationStart when absent"),
    ("metrics tAnswered", "answered", "present"),
    ("metrics tAbandon, segments[].disconnectType", "abandoned",
     "tAbandon without tAnswered, unless disconnectType is system (a system drop: neither)"),
    ("metrics tAnswered / tAbandon / tAcd", "wait_s", "milliseconds / 1000"),
    ("metrics tHandle (else tTalk + tHeld + tAcw)", "handle_s", "milliseconds / 1000, summed over agents"),
    ("metrics nTransferred", "transferred", "above 0"),
    ("participants[purpose=agent].userId", "agent_id", "the first agent"),
)


def _metrics(conv: Record, p: int, s: int, session: dict) -> list[tuple[str, float]]:
    out = []
    for m, metric in enumerate(session.get("metrics") or []):
        where = f"participants[{p}].sessions[{s}].metrics[{m}]"
        if not isinstance(metric, dict) or not metric.get("name"):
            raise conv.fail(where, "is not a metric (expected {\"name\": ..., \"value\": ...})")
        value = metric.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
            raise conv.fail(f"{where}.value", f"of {metric['name']} is not a non-negative number of "
                                              f"milliseconds (got {value!r})")
        out.append((str(metric["name"]), float(value)))
    return out


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the conversation details in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A conversation lacks ``conversationId`` or ``participants``, or holds a value Genesys does
        not write: the file, the field and the record (conversation) are named.
    """
    check_options(options, (), NAME)
    rows = []
    seen: dict[str, int] = {}
    for conv in json_records(path, label, list_key="conversations"):
        cid = conv.text("conversationId", required=True)
        if cid in seen:
            raise conv.fail("conversationId", f"repeats the conversation of {seen[cid].place(conv)}")
        seen[cid] = conv
        participants = conv.raw("participants")
        if not isinstance(participants, list):
            raise conv.fail("participants", "is missing" if participants is None else "is not a list")
        start = conv.utc_time("conversationStart")
        queue = arrived = channel = agent = None
        answered = abandon = acd = None
        system = False
        handle = parts = 0.0
        transferred = False
        for p, part in enumerate(participants):
            if not isinstance(part, dict):
                raise conv.fail(f"participants[{p}]", "is not an object")
            purpose = str(part.get("purpose") or "").lower()
            for s, session in enumerate(part.get("sessions") or []):
                segments = session.get("segments") or []
                metrics = _metrics(conv, p, s, session)
                names = dict(metrics)
                if purpose in ("customer", "external", "acd"):
                    system = system or any(str(g.get("disconnectType") or "").lower() == "system" for g in segments)
                if purpose == "acd" and queue is None:
                    queue = part.get("participantName") or next(
                        (g.get("queueId") for g in segments if g.get("queueId")), None)
                    if not queue:
                        raise conv.fail(f"participants[{p}].participantName", "is missing (and no segment "
                                                                              "has a queueId)")
                    first = Record(segments[0], conv.label, conv.index).utc_time("segmentStart") if segments else None
                    arrived = first or start
                    channel = session.get("mediaType")
                    acd = names.get("tAcd")
                if answered is None and "tAnswered" in names:
                    answered = names["tAnswered"] / 1000
                if abandon is None and "tAbandon" in names:
                    abandon = names["tAbandon"] / 1000
                if purpose == "agent":
                    agent = agent or part.get("userId")
                    if "tHandle" in names:
                        handle += sum(v for n, v in metrics if n == "tHandle")
                    else:
                        parts += sum(v for n, v in metrics if n in ("tTalk", "tHeld", "tAcw"))
                transferred = transferred or any(n == "nTransferred" and v > 0 for n, v in metrics)
        if queue is None:
            continue  # never queued: self-service, or an outbound call
        if arrived is None:
            raise conv.fail("conversationStart", "is missing (and the acd segment has no segmentStart)")
        reached = answered is not None
        wait = answered if reached else abandon if abandon is not None else (acd / 1000 if acd is not None else None)
        if wait is None and conv.raw("conversationEnd") is None:
            continue  # still in progress when exported: it has no outcome yet
        if wait is None:
            raise conv.fail("participants[purpose=acd].metrics", "have neither tAnswered, tAbandon nor tAcd: the "
                                                                 "time in queue is unknown")
        rows.append({
            "contact_id": cid, "queue": str(queue), "channel": str(channel or "voice").lower(),
            "arrived_at": iso_utc(arrived), "answered": reached,
            "abandoned": not reached and abandon is not None and not system,
            "wait_s": wait, "handle_s": (handle + parts) / 1000, "transferred": transferred,
            "agent_id": agent,
        })
    return contacts_frame(rows)
