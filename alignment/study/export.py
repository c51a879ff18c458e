"""drivers.csv and drivers.xlsx: results.json's drivers as one flat table for spreadsheets.

One row per KPI of the study, in the order of results.json, and only scalar cells: each
``[low, high]`` interval becomes two columns (``effect_ci`` becomes ``ci_low`` and ``ci_high``,
``importance_ci`` becomes ``importance_ci_low`` and ``importance_ci_high``, ...), the reasons are
one cell with one reason per line, and each validation check becomes ``check_NAME`` (its status),
``check_NAME_reason`` and, where the check has one, ``check_NAME_p_value``. The other figures of a
check stay in results.json. A text cell or a column name that a spreadsheet would run as a formula
is written with a leading ``'`` (:func:`alignment.panel.result.spreadsheet_safe`), in both files;
the workbook stores every text as a string, never as a formula.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import pandas as pd

from ..panel.result import spreadsheet_safe_frame

__all__ = ["flat_drivers", "write_drivers_csv", "write_drivers_xlsx"]

# Columns that hold whole numbers (written as 1, not 1.0).
_WHOLE = ("rank", "tier", "lag", "sign", "rank_ci_low", "rank_ci_high")
_REASONS_SEPARATOR = "\n"
# What a reader of the sheet looks for first; the other fields follow in results.json's order.
_FIRST = ("kpi", "verdict", "rank", "tier", "lag", "effect", "ci_low", "ci_high", "effect_unit")


def _check_order(drivers) -> list[str]:
    from ..validation.checks import CHECKS
    seen = []
    for d in drivers:
        for name in (d.get("checks") or {}):
            if name not in seen:
                seen.append(name)
    return [c for c in CHECKS if c in seen] + [c for c in seen if c not in CHECKS]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def flat_drivers(drivers) -> pd.DataFrame:
    """The drivers of a results.json document (a list of dicts) as a flat table.

    Parameters
    ----------
    drivers : list of dict
        ``StudyResult.to_dict()["drivers"]`` or results.json's ``drivers``.

    Returns
    -------
    pandas.DataFrame
        One row per driver: ``kpi`` (results.json's ``name``), the scalar fields, each interval as
        ``*_low``/``*_high`` (the effect's as ``ci_low``/``ci_high``), ``reasons`` (one per line)
        and ``check_NAME``, ``check_NAME_reason``, ``check_NAME_p_value`` for every check.

    Examples
    --------
    >>> d = {"name": "asa", "rank": 1.0, "effect": -1.5, "effect_ci": [-2.0, -1.0],
    ...      "reasons": ["holds", "survives detrending"],
    ...      "checks": {"holdout": {"status": "pass", "reason": "holds", "p_value": 0.01}}}
    >>> flat_drivers([d]).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'kpi': 'asa', 'rank': 1, 'effect': -1.5, 'ci_low': -2.0, 'ci_high': -1.0,
     'reasons': 'holds\\nsurvives detrending', 'check_holdout': 'pass', 'check_holdout_reason': 'holds',
     'check_holdout_p_value': 0.01}
    """
    checks = _check_order(drivers)
    with_p = {c for d in drivers for c, v in (d.get("checks") or {}).items() if _number(v.get("p_value"))}
    rows = []
    for d in drivers:
        row = {}
        for key, value in d.items():
            if key == "name":
                row["kpi"] = value
            elif key == "checks":
                for c in checks:
                    check = (value or {}).get(c) or {}
                    row[f"check_{c}"] = check.get("status")
                    row[f"check_{c}_reason"] = check.get("reason")
                    if c in with_p:
                        p = check.get("p_value")
                        row[f"check_{c}_p_value"] = p if _number(p) else None
            elif key == "reasons":
                row["reasons"] = _REASONS_SEPARATOR.join(map(str, value or []))
            elif isinstance(value, (list, tuple)) and len(value) == 2 and key.endswith("_ci"):
                stem = "ci" if key == "effect_ci" else key
                row[f"{stem}_low"], row[f"{stem}_high"] = value
            elif isinstance(value, (list, tuple, dict)):
                row[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)  # a future nested field
            else:
                row[key] = value
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in _FIRST if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    for c in _WHOLE:
        if c in table.columns:
            values = pd.to_numeric(table[c], errors="coerce")
            if all(float(v).is_integer() for v in values.dropna()):
                table[c] = values.astype("Int64")
    return table


def write_drivers_csv(table: pd.DataFrame, path) -> None:
    """Write :func:`flat_drivers`' table as UTF-8 CSV, text cells neutralised against formulas."""
    spreadsheet_safe_frame(table).to_csv(path, index=False, lineterminator="\n")


def _cell(value):
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):  # numpy and pandas scalars
        value = value.item()
    return value


def write_drivers_xlsx(table: pd.DataFrame, path) -> None:
    """Write :func:`flat_drivers`' table as an Excel workbook (one sheet, ``drivers``).

    Text is stored as strings (never formulas), with the same neutralised text as drivers.csv;
    numbers as numbers; a missing value as an empty cell. Characters that XML cannot hold (control
    characters other than tab and line breaks) become U+FFFD.
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    safe = spreadsheet_safe_frame(table)
    book = Workbook()
    sheet = book.active
    sheet.title = "drivers"
    for row_number, values in enumerate([list(safe.columns), *safe.itertuples(index=False, name=None)], start=1):
        for col_number, value in enumerate(values, start=1):
            value = _cell(value)
            cell = sheet.cell(row=row_number, column=col_number)
            if isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
                cell.data_type = "s"  # a string, even when it looks like a formula
                if "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            else:
                cell.value = value
            if row_number == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    from openpyxl.utils import get_column_letter
    for number, column in enumerate(safe.columns, start=1):
        longest = max([len(str(column))] + [len(str(v).split("\n")[0]) for v in safe[column].dropna()])
        sheet.column_dimensions[get_column_letter(number)].width = min(longest, 60) + 2
    buffer = io.BytesIO()
    book.save(buffer)
    Path(path).write_bytes(_reproducible(buffer.getvalue()))


def _reproducible(workbook: bytes) -> bytes:
    """The same workbook without the moments it was made and saved: ZIP entries dated 1980-01-01 and
    no created/modified properties, so that the same study gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)\b[^>]*>[^<]*</dcterms:\1>", b"", data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data)
    return out.getvalue()
