"""``medallia``: a Medallia Experience Cloud feedback export (CSV, or JSON records).

Medallia names its fields by prefix: ``a_`` and ``e_`` fields describe the feedback record
(``a_surveyid``, ``a_unit_identifier``, ``e_responsedate``, ``e_creationdate``...), ``q_`` fields
hold the answers, their names set by each program (``q_ltr_scale11``, ``q_osat_scale5``). Because
the question fields differ between programs, the study names them:

- ``options = { ltr = "q_ltr_scale11" }``: the likelihood-to-recommend question (0-10), which
  becomes ``nps`` (required);
- ``options = { contact_field = "e_contactid" }``: the field holding the rated contact's id
  (the contact record's id as the platform wrote it); without it the surveys count by their own
  time and segments;
- other scores by rename, as for any survey: ``columns = { csat = "q_osat_scale5" }``.

Rules: **survey_id** = ``a_surveyid``; **responded_at** = ``e_responsedate`` (else ``e_creationdate``):
a time without an offset is UTC, or the time zone the study names for the source; every other
field keeps its name. Answers Medallia writes as blank or ``N/A`` are missing.

Medallia's public documentation names no export fields (its Query API reads each program's field
metadata): ``e_responsedate`` and ``e_creationdate`` are as Fivetran's Medallia connector schema
lists them, ``a_surveyid`` and ``N/A`` are assumed; the README's table marks each.
"""

from __future__ import annotations

import datetime as dt

from ...exceptions import OptionError
from ._common import check_options, csv_records, is_json, json_records

NAME = "medallia"
KIND = "surveys"
FIELDS = (
    ("a_surveyid", "survey_id", "one feedback record, one response"),
    ("e_responsedate (else e_creationdate)", "responded_at", "UTC unless the study names the program's zone"),
    ("options.contact_field (e.g. e_contactid)", "contact_id", "named in the study; none: surveys count by "
                                                              "their own time and segments"),
    ("options.ltr (e.g. q_ltr_scale11)", "nps", "named in the study; 0-10; blank or N/A is missing"),
    ("q_... fields", "csat, ces...", "renamed in columns"),
)


def read(path, *, label: str, timezone: str | None = None, options=None):
    """The survey rows of the Medallia export in ``path`` (see the module notes), as a DataFrame.

    Raises
    ------
    OptionError
        The study does not name the likelihood-to-recommend field (``ltr``), or names a field the
        export does not have.
    FormatError
        A record lacks ``a_surveyid`` or its date, or a date is not ISO 8601: the file, the field and the
        record (or CSV row) are named.
    """
    import pandas as pd
    from zoneinfo import ZoneInfo
    check_options(options, ("ltr", "contact_field"), NAME)
    options = dict(options or {})
    ltr, contact = options.get("ltr"), options.get("contact_field")
    if not isinstance(ltr, str) or not ltr:
        raise OptionError(f"The {NAME} format needs the likelihood-to-recommend field named, e.g. "
                          f"options = {{ ltr = \"q_ltr_scale11\" }} (Medallia programs name their own questions).")
    zone = ZoneInfo(timezone) if timezone else dt.timezone.utc
    records = (json_records(path, label) if is_json(path)
               else csv_records(path, label, ("a_surveyid",), "Medallia"))
    rows, names = [], {}
    for r in records:
        for key in r.data:
            names.setdefault(key, None)
        for field in (ltr, contact):
            if field and field not in r.data:
                raise OptionError(f"The {NAME} options name {field!r}, which {r.label} does not have.")
        when_field = "e_responsedate" if r.text("e_responsedate") is not None else "e_creationdate"
        stamp = r.text(when_field, required=True)
        try:
            moment = dt.datetime.fromisoformat(stamp.replace(" ", "T", 1) if "T" not in stamp else stamp)
        except ValueError:
            raise r.fail(when_field, f"is not an ISO 8601 date-time (got {stamp!r})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        row = {k: (None if v in (None, "", "N/A") else v) for k, v in r.data.items()}
        row.update({"survey_id": r.text("a_surveyid", required=True), "responded_at": moment.isoformat(),
                    "contact_id": r.text(contact) if contact else None, "nps": row.get(ltr)})
        rows.append(row)
    first = ["survey_id", "contact_id", "responded_at", "nps"]
    return pd.DataFrame.from_records(rows, columns=first + [n for n in names if n not in first])
