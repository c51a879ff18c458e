"""``surveymonkey-csv``: a SurveyMonkey "All responses" export (CSV), with its two header rows.

The first header row holds the metadata names (``Respondent ID``, ``Collector ID``, ``Start Date``,
``End Date``, ``IP Address``, ``Email Address``, ``First Name``, ``Last Name``, custom data such as
``Custom Data 1``) and each question's text, once, above its first column; the second row holds
``Response`` (a single answer), ``Open-Ended Response``, or each answer option of a question that
spans several columns. Dates are ``MM/DD/YYYY hh:mm:ss AM`` in the account's time zone, which the
study names for the source.

Rules:

- A column is named by its question text; a question spanning several columns names each
  ``question | option``. Rename the score columns (``columns = { csat = "How satisfied ...?" }``).
- **survey_id** = ``Respondent ID``; **responded_at** = ``End Date``; **contact_id** = ``Custom
  Data 1`` (or another custom variable, renamed: ``columns = { contact_id = "contact" }``).
- Answers exported as text ("Very satisfied") are turned into scores with the option
  ``recode = { "How satisfied ...?" = { "Very satisfied" = 5, ... } }``; a value outside the table is
  an error. Export "numerical values" to read scores as they are.
"""

from __future__ import annotations

import csv
import io
import datetime as dt

from ...exceptions import FormatError, OptionError
from ._common import Record, account_zone, check_options, each_file, read_text, recode_table

NAME = "surveymonkey-csv"
KIND = "surveys"
FIELDS = (
    ("Respondent ID", "survey_id", "one row, one response"),
    ("End Date", "responded_at", "MM/DD/YYYY hh:mm:ss AM/PM in the account time zone (named in the study)"),
    ("Custom Data 1", "contact_id", "or another custom variable, renamed in columns"),
    ("question text (| option)", "csat, nps...", "renamed in columns; recode = { ... } maps answer text to scores"),
)
_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M:%S")


@each_file
def read(path, *, label: str, timezone: str | None = None, options=None):
    """The survey rows of the SurveyMonkey export in ``path`` (see the module notes), as a DataFrame.

    Raises
    ------
    FormatError
        The header is not a SurveyMonkey export, a date is not a date or a recoded answer is
        outside its table: the file, the field and the row (data rows from 1) are named.
    OptionError
        The study names no time zone for the source; a malformed ``recode`` option.
    """
    import pandas as pd
    check_options(options, ("recode",), NAME)
    recode = recode_table(options, NAME)
    rows = list(csv.reader(io.StringIO(read_text(path, label), newline="")))
    if len(rows) < 2 or "Respondent ID" not in [c.strip() for c in rows[0]]:
        raise FormatError("is not a SurveyMonkey export: the first header row has no 'Respondent ID'",
                          source=label, field="Respondent ID")
    top, sub = rows[0], rows[1] + [""] * (len(rows[0]) - len(rows[1]))
    names, question = [], None
    for i, head in enumerate(top):
        head, option = head.strip(), sub[i].strip()
        if head:
            question = head
            spans = i + 1 < len(top) and not top[i + 1].strip() and sub[i + 1].strip() != ""
            names.append(f"{head} | {option}" if spans and option not in ("", "Response", "Open-Ended Response")
                         else head)
        else:
            names.append(f"{question} | {option}" if question else f"column {i + 1}")
    seen = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n}#{seen[n]}"
    for code in recode:
        if code not in names:
            raise OptionError(f"The 'recode' option of {NAME} names {code!r}, which is not a column of {label} "
                              f"(columns are named by their question text).")
    zone = account_zone(timezone, NAME, "End Date")
    ref = "Custom Data 1" if "Custom Data 1" in names else None
    out = []
    for i, values in enumerate(rows[2:], start=1):
        if not any(v.strip() for v in values):
            continue
        data = dict(zip(names, values + [""] * (len(names) - len(values))))
        r = Record(data, label, i, where="row")
        stamp = r.text("End Date", required=True)
        for fmt in _FORMATS:
            try:
                moment = dt.datetime.strptime(stamp, fmt).replace(tzinfo=zone)
                break
            except ValueError:
                pass
        else:
            raise r.fail("End Date", f"is not a date-time (got {stamp!r}; expected such as 01/06/2025 03:42:37 PM)")
        row = dict(data)
        for code, table in recode.items():
            value = r.text(code)
            if value is not None:
                if value not in table:
                    raise r.fail(code, f"is {value!r}, which the recode table does not list ({', '.join(table)})")
                row[code] = table[value]
        row.update({"survey_id": r.text("Respondent ID", required=True), "responded_at": moment.isoformat(),
                    "contact_id": r.text(ref) if ref else None})
        out.append(row)
    first = ["survey_id", "contact_id", "responded_at"]
    frame = pd.DataFrame.from_records(out, columns=first + [n for n in names if n not in first])
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].where(~frame[col].isin([""]) & frame[col].notna(), None)
    return frame
