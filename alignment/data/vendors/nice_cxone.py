"""``nice-cxone-contacts``: the NICE CXone Data Download call detail report (CSV).

One row per *leg*: a transfer creates a new ``Contact_ID`` whose ``Master_Contact_ID`` names the
contact that created it (after two transfers, the leg that created it). Times are the account's
clock (``Start_Date`` MM/DD/YYYY, ``Start_Time`` HH:MM:SS), in the time zone the study names for
the source; durations are seconds.

Rules:

- **The contact** is the row whose ``Contact_ID`` equals its ``Master_Contact_ID``; every other
  row is a leg, followed up its ``Master_Contact_ID`` chain to that row. A leg's skill is never a
  contact of that skill; legs whose chain leaves the file are left out. A contact with legs is
  transferred, and its handle time adds the legs' agent time.
- **arrived_at** = ``Start_Date`` + ``Start_Time`` + ``PreQueue`` (seconds before the queue, when
  the report has the column), in the account time zone.
- **abandoned** = ``Abandon`` ``Y``; **answered** = ``Abandon`` ``N`` and an agent (``Agent_No``
  not blank or 0; without the column, ``Active_Talk_Time`` above 0).
- **wait_s** = ``InQueue`` (seconds in queue); without the column, ``Abandon_Time`` for
  abandoned contacts.
- **handle_s** = ``Active_Talk_Time`` + ``Hold_Time`` (when present) + ``ACW_Seconds``.
"""

from __future__ import annotations

import datetime as dt

from ._common import account_zone, check_options, contacts_frame, csv_records, local_iso

NAME = "nice-cxone-contacts"
REQUIRED = ("Contact_ID", "Master_Contact_ID", "Skill_Name", "Start_Date", "Start_Time", "Abandon",
            "ACW_Seconds", "Active_Talk_Time")
FIELDS = (
    ("Contact_ID, Master_Contact_ID", "contact_id",
     "the row whose Contact_ID = Master_Contact_ID; other rows are legs of it (followed up the chain)"),
    ("Skill_Name", "queue", "of the contact's row; a leg's skill is never the contact's"),
    ("Media_Name", "channel", "Call -> voice, else lower case (chat, email...)"),
    ("Start_Date + Start_Time (+ PreQueue)", "arrived_at", "MM/DD/YYYY HH:MM:SS in the account time zone "
                                                          "(named in the study), plus the seconds before the queue"),
    ("Abandon", "abandoned", "Y"),
    ("Abandon, Agent_No", "answered", "N and an agent (Agent_No not blank or 0)"),
    ("InQueue (else Abandon_Time)", "wait_s", "seconds"),
    ("Active_Talk_Time + Hold_Time + ACW_Seconds", "handle_s", "seconds, summed over the contact and its legs"),
    ("(legs)", "transferred", "the contact has at least one leg"),
    ("Agent_No", "agent_id", "of the contact's row"),
)


def _agent(r) -> str | None:
    agent = r.text("Agent_No")
    return None if agent in (None, "0") else agent


def _handle(r) -> float:
    return (r.number("Active_Talk_Time", required=True) + (r.number("Hold_Time") or 0.0)
            + r.number("ACW_Seconds", required=True))


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The canonical contacts of the CXone call detail download in ``path`` (see the module notes).

    Raises
    ------
    FormatError
        A required column is absent, or a row holds what CXone does not write (a date that is not
        MM/DD/YYYY, ``Abandon`` other than Y/N, a negative duration): file, field and row are named.
    OptionError
        The study names no time zone for the source (CXone writes the account's clock).
    """
    check_options(options, (), NAME)
    zone = account_zone(timezone, NAME, "Start_Date")
    rows = {}
    for r in csv_records(path, label, REQUIRED, "NICE CXone call detail"):
        cid = r.text("Contact_ID", required=True)
        if cid in rows:
            raise r.fail("Contact_ID", f"repeats the Contact_ID of {rows[cid].place(r)}")
        rows[cid] = r

    def root(cid):
        seen = set()
        while cid in rows and cid not in seen:
            seen.add(cid)
            master = rows[cid].text("Master_Contact_ID", required=True)
            if master == cid:
                return cid
            cid = master
        return None

    legs: dict[str, list] = {}
    for cid in rows:
        top = root(cid)
        if top is not None and top != cid:
            legs.setdefault(top, []).append(rows[cid])
    out = []
    for cid, r in rows.items():
        if r.text("Master_Contact_ID", required=True) != cid:
            continue
        day, clock = r.text("Start_Date", required=True), r.text("Start_Time", required=True)
        try:
            start = dt.datetime.strptime(f"{day} {clock}", "%m/%d/%Y %H:%M:%S")
        except ValueError:
            try:
                dt.datetime.strptime(day, "%m/%d/%Y")
            except ValueError:
                raise r.fail("Start_Date", f"is not a date MM/DD/YYYY (got {day!r})") from None
            raise r.fail("Start_Time", f"is not a time HH:MM:SS (got {clock!r})") from None
        flag = (r.text("Abandon", required=True) or "").upper()
        if flag not in ("Y", "N"):
            raise r.fail("Abandon", f"is not Y or N (got {r.text('Abandon')!r})")
        abandoned = flag == "Y"
        if "Agent_No" in r.data:
            answered = not abandoned and _agent(r) is not None
        else:
            answered = not abandoned and r.number("Active_Talk_Time", required=True) > 0
        wait = r.number("InQueue")
        if wait is None and "InQueue" not in r.data and abandoned:
            wait = r.number("Abandon_Time", required=True)
        if wait is None and (answered or abandoned):
            raise r.fail("InQueue", "is missing for a contact that was answered or abandoned")
        media = (r.text("Media_Name") or "Call").lower()
        out.append({
            "contact_id": cid, "queue": r.text("Skill_Name", required=True),
            "channel": "voice" if media in ("call", "phone call", "voice") else media,
            "arrived_at": local_iso(start, zone, r.number("PreQueue") or 0.0), "answered": answered, "abandoned": abandoned,
            "wait_s": wait, "handle_s": _handle(r) + sum(_handle(leg) for leg in legs.get(cid, [])),
            "transferred": bool(legs.get(cid)), "agent_id": _agent(r),
        })
    return contacts_frame(out)
