"""``qualtrics-csv``: a Qualtrics response export (CSV), with three header rows or the legacy two.

Since 2017 Qualtrics writes three header rows: the column codes (``ResponseId``, ``RecordedDate``,
``Q1``, ``Q2_NPS_GROUP``, embedded-data fields...), the question text (quoted, often over several
lines), and the ``ImportId`` JSON of each column (``{"ImportId":"recordedDate","timeZone":
"America/Denver"}``). The legacy export has two: ``V1``... codes whose second row names them
(``ResponseID``, ``ExternalDataReference``, ``EndDate``), and question text. Export with
"Use numeric values".

Rules:

- **survey_id** = ``ResponseId`` (legacy ``ResponseID``). Previews, tests and spam (``Status``
  ``Survey Preview``, ``Survey Test``, ``Spam``, or 1, 2, 8) are not responses and are left out.
- **responded_at** = ``RecordedDate`` (legacy ``EndDate``), in the time zone of its ``ImportId``
  JSON; without one (legacy), in the time zone the study names for the source.
- **contact_id** = ``ExternalReference`` (legacy ``ExternalDataReference``); to take it from an
  embedded-data field, rename it: ``columns = { contact_id = "ContactId" }``.
- **Scores** keep their column code: rename them (``columns = { csat = "Q1", nps = "Q2" }``) and
  declare the scale as for any survey metric. A question exported with Qualtrics' own codes
  instead of its scale (a 1-5 scale as 6-10, an NPS as 1-11) is recoded with the option
  ``recode = { Q1 = { "6" = 1, "7" = 2, "8" = 3, "9" = 4, "10" = 5 } }``; a value outside the
  recode table is an error.
- **NPS groups**: where ``Q_NPS_GROUP`` sits beside an NPS question ``Q`` (1 detractor,
  2 passive, 3 promoter, or the words), every group must agree with the (recoded) score: 0-6,
  7-8, 9-10. A disagreement means the question is exported on another scale (recode it).
- A column code repeated in the header (Qualtrics repeats codes of copied questions) keeps its
  first name; the later ones are named ``CODE#2``, ``CODE#3``.
"""

from __future__ import annotations

import csv
import io
import datetime as dt
import json
from zoneinfo import ZoneInfo

from ...exceptions import FormatError, OptionError
from ._common import Record, account_zone, check_options, each_file, read_text, recode_table

NAME = "qualtrics-csv"
KIND = "surveys"
FIELDS = (
    ("ResponseId (legacy ResponseID)", "survey_id", "Status Survey Preview / Survey Test / Spam left out"),
    ("RecordedDate (legacy EndDate)", "responded_at", "in the ImportId JSON's timeZone, else the source's"),
    ("ExternalReference (legacy ExternalDataReference)", "contact_id",
     "or an embedded-data field: columns = { contact_id = \"ContactId\" }"),
    ("Q1, Q2...", "csat, nps...", "renamed in columns; recode = { Q1 = { \"6\" = 1, ... } } for exported codes"),
    ("Q2_NPS_GROUP", "(check)", "must agree with the NPS score: 0-6, 7-8, 9-10"),
)
_NOT_RESPONSES = {"survey preview", "survey test", "spam", "1", "2", "8"}
_GROUPS = {"1": "detractor", "2": "passive", "3": "promoter",
           "detractor": "detractor", "passive": "passive", "promoter": "promoter"}


def _band(score: float) -> str:
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def _zone(name: str | None) -> dt.tzinfo | None:
    if not name:
        return None
    if name in ("Z", "UTC", "GMT"):
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds for a bad key
        return None


@each_file
def read(path, *, label: str, timezone: str | None = None, options=None):
    """The survey rows of the Qualtrics export in ``path`` (see the module notes), as a DataFrame.

    Raises
    ------
    FormatError
        The header is not a Qualtrics export, a date is not a date, a recoded value is outside the
        recode table, or an NPS group disagrees with its score: the file, the field and the row
        (data rows from 1, the header rows not counted) are named.
    OptionError
        The export says no time zone and the study names none; a malformed ``recode`` option.
    """
    check_options(options, ("recode",), NAME)
    import pandas as pd
    recode = recode_table(options, NAME)
    rows = list(csv.reader(io.StringIO(read_text(path, label), newline="")))
    if len(rows) < 2:
        raise FormatError("is not a Qualtrics export: it needs its header rows (codes and question text)",
                          source=label)
    codes, texts = [c.strip() for c in rows[0]], rows[1]
    imports = rows[2] if len(rows) > 2 else []
    three = bool(imports) and all(c.strip().startswith("{") for c in imports if c.strip()) and any(
        '"ImportId"' in c for c in imports)
    body = rows[3:] if three else rows[2:]
    legacy = not three
    if legacy:  # V1, V2... are named by the second row
        codes = [texts[i].strip() if c.startswith("V") and c[1:].isdigit() and i < len(texts) else c
                 for i, c in enumerate(codes)]
    names, seen = [], {}
    for c in codes:
        seen[c] = seen.get(c, 0) + 1
        names.append(c if seen[c] == 1 else f"{c}#{seen[c]}")
    pick = lambda *options_: next((n for n in options_ if n in names), None)  # noqa: E731
    rid, when = pick("ResponseId", "ResponseID"), pick("RecordedDate", "EndDate")
    ref, status = pick("ExternalReference", "ExternalDataReference"), pick("Status")
    if rid is None or when is None:
        missing = "ResponseId" if rid is None else "RecordedDate"
        raise FormatError(f"is not a Qualtrics export: the first header row has no {missing} "
                          f"(it has {', '.join(map(repr, names[:6]))}...)", source=label, field=missing)
    zone = None
    if three:
        meta = imports[names.index(when)].strip()
        try:
            zone = _zone(json.loads(meta).get("timeZone"))
        except (json.JSONDecodeError, AttributeError):
            raise FormatError(f"is not ImportId JSON (got {meta[:40]!r})", source=label, field=when,
                              record=3, where="header row") from None
    if zone is None:
        zone = account_zone(timezone, NAME, when)
    groups = {n[: -len("_NPS_GROUP")]: n for n in names if n.endswith("_NPS_GROUP")}
    for code in recode:
        if code not in names:
            raise OptionError(f"The 'recode' option of {NAME} names {code!r}, which is not a column code of "
                              f"{label}.")
    out = []
    for i, values in enumerate(body, start=1):
        if not any(v.strip() for v in values):
            continue
        data = dict(zip(names, values + [""] * (len(names) - len(values))))
        r = Record(data, label, i, where="row")
        if status is not None and (r.text(status) or "").lower() in _NOT_RESPONSES:
            continue
        sid = r.text(rid, required=True)
        stamp = r.text(when, required=True)
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("/", "-"))
        except ValueError:
            raise r.fail(when, f"is not a date-time (got {stamp!r}; expected such as 2025-01-06 15:42:37)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        row = dict(data)
        for code, table in recode.items():
            value = r.text(code)
            if value is not None:
                if value not in table:
                    raise r.fail(code, f"is {value!r}, which the recode table does not list "
                                       f"({', '.join(table)})")
                row[code] = table[value]
        for code, group_col in groups.items():
            raw = r.text(group_col)
            if raw is None or code not in names or r.text(code) is None:
                continue
            group = _GROUPS.get(raw.lower())
            if group is None:
                raise r.fail(group_col, f"is not an NPS group (got {raw!r}; expected 1-3 or "
                                        f"Detractor/Passive/Promoter)")
            score = row[code] if code in recode else r.number(code)
            if _band(score) != group:
                raise r.fail(group_col, f"says {group} but {code} is {score:g}: the question is exported on "
                                        f"another scale than 0-10; recode it (recode = {{ {code} = {{ ... }} }})")
        row.update({"survey_id": sid, "responded_at": moment.isoformat(),
                    "contact_id": r.text(ref) if ref else None})
        out.append(row)
    first = ["survey_id", "contact_id", "responded_at"]
    columns = first + [n for n in names if n not in first]
    frame = pd.DataFrame.from_records(out, columns=columns)
    for col in frame.columns:  # blanks are missing answers
        if frame[col].dtype == object:
            frame[col] = frame[col].where(~frame[col].isin([""]) & frame[col].notna(), None)
    return frame
