"""``five9-call-log``: the Five9 call log report (CSV), one row per call.

Five9 writes ``TIMESTAMP`` as the account's clock ("Thu, 27 Oct 2016 14:51:34"), in the time
zone the study names for the source, and durations as hh:mm:ss.

Rules:

- **Contacts** are the calls that reached a skill: ``SKILL`` not blank or ``[None]``; with a
  ``CALL TYPE`` column, only inbound calls (``Inbound``, ``Inbound Voicemail`` and the like).
- **arrived_at** = ``TIMESTAMP`` + ``IVR TIME`` (when the report has the column): the time the
  call joined the skill's queue.
- **abandoned** = ``ABANDONED`` 1 (also yes/true); **answered** = not abandoned and an ``AGENT``
  (not blank or ``[None]``; without the column, ``TALK TIME`` above 0).
- **wait_s** = ``QUEUE WAIT TIME``; **handle_s** = ``TALK TIME`` + ``HOLD TIME`` +
  ``AFTER CALL WORK TIME``; **transferred** = ``TRANSFERS`` above 0.
"""

from __future__ import annotations

import datetime as dt

from ._common import account_zone, check_options, clock_seconds, contacts_frame, csv_records, local_iso

NAME = "five9-call-log"
REQUIRED = ("CALL ID", "TIMESTAMP", "SKILL", "QUEUE WAIT TIME", "TALK TIME", "ABANDONED")
_NONE = (None, "", "[None]", "[none]")
FIELDS = (
    ("CALL ID", "contact_id", "one row, one call"),
    ("SKILL", "queue", "calls without a skill never queued and are not contacts"),
    ("CALL TYPE", "(filter)", "only inbound calls, when the column is present"),
    ("(voice)", "channel", "voice"),
    ("TIMESTAMP (+ IVR TIME)", "arrived_at", "\"Thu, 27 Oct 2016 14:51:34\" in the account time zone "
                                            "(named in the study), plus the IVR time"),
    ("ABANDONED", "abandoned", "1 (yes, true)"),
    ("ABANDONED, AGENT", "answered", "not abandoned and an AGENT (not blank or [None])"),
    ("QUEUE WAIT TIME", "wait_s", "hh:mm:ss"),
    ("TALK TIME + HOLD TIME + AFTER CALL WORK TIME", "handle_s", "hh:mm:ss"),
    ("TRANSFERS", "transferred", "above 0"),
    ("AGENT", "agent_id", "blank or [None] is no agent"),
)
_FORMATS = ("%a, %d %b %Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def _time(r) -> dt.datetime:
    value = r.text("TIMESTAMP", required=True)
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            pass
    raise r.fail("TIMESTAMP", f"is not a Five9 timestamp (got {value!r}; expected such as "
                              f"'Thu, 27 Oct 2016 14:51:34')")


def _flag(r, field: str) -> bool:
    value = (r.text(field) or "0").lower()
    if value in ("1", "yes", "true", "y"):
        return True
    if value in ("0", "no", "false", "n"):
        return False
    raise r.fail(field, f"is not 1 or 0 (got {r.text(field)!r})")


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the Five9 call log in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A required column is absent, or a row holds what Five9 does not write (a TIMESTAMP in
        another form, a duration that is not hh:mm:ss): the file, the field and the row are named.
    OptionError
        The study names no time zone for the source (Five9 writes the account's clock).
    """
    check_options(options, (), NAME)
    zone = account_zone(timezone, NAME, "TIMESTAMP")
    out, seen = [], {}
    for r in csv_records(path, label, REQUIRED, "Five9 call log"):
        cid = r.text("CALL ID", required=True)
        if cid in seen:
            raise r.fail("CALL ID", f"repeats the CALL ID of {seen[cid].place(r)}")
        seen[cid] = r
        skill = r.text("SKILL")
        kind = r.text("CALL TYPE")
        if skill in _NONE or (kind is not None and not kind.lower().startswith("inbound")):
            continue
        start = local_iso(_time(r), zone, clock_seconds(r, "IVR TIME") or 0.0)
        abandoned = _flag(r, "ABANDONED")
        talk = clock_seconds(r, "TALK TIME", required=True)
        agent = r.text("AGENT")
        agent = None if agent in _NONE else agent
        answered = not abandoned and (agent is not None if "AGENT" in r.data else talk > 0)
        transfers = r.number("TRANSFERS") or 0.0
        out.append({
            "contact_id": cid, "queue": skill, "channel": "voice", "arrived_at": start,
            "answered": answered, "abandoned": abandoned,
            "wait_s": clock_seconds(r, "QUEUE WAIT TIME", required=True),
            "handle_s": talk + (clock_seconds(r, "HOLD TIME") or 0.0) + (clock_seconds(r, "AFTER CALL WORK TIME") or 0.0),
            "transferred": transfers > 0, "agent_id": agent,
        })
    return contacts_frame(out)
