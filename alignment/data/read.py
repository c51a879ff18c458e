"""Reading raw tables into DuckDB: CSV (separator, BOM and line ends sniffed), Parquet, DataFrames.

Nothing here loads a file into pandas: each source becomes a DuckDB view with
canonical column names, which the schema layer types and validates in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ..exceptions import InputError
from .sources import Source

PARQUET_SUFFIXES = (".parquet", ".pq")


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def duckdb_message(error: Exception) -> str:
    """The first informative line of a DuckDB error, without its class prefix."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.split(": ", 1)[1] if text.split(": ", 1)[0].endswith("Error") else text


@dataclass(frozen=True)
class RawTable:
    """A source registered in DuckDB under canonical column names.

    ``view`` selects the source; ``numbered_sql`` selects it with a 1-based
    ``__row`` column in file order, used only to name the first bad row.
    """

    label: str
    view: str
    types: dict[str, str]
    numbered_sql: str

    def has(self, column: str) -> bool:
        return column in self.types


def _scan_sql(con: duckdb.DuckDBPyConnection, source: Source, name: str, read_options) -> tuple[str, str]:
    """SQL that scans the source, and the same with a ``__row`` column."""
    if isinstance(source.data, pd.DataFrame):
        frame_name = f"{name}__frame"
        con.register(frame_name, source.data)
        scan = quote(frame_name)
        return f"SELECT * FROM {scan}", f"SELECT row_number() OVER () AS __row, * FROM {scan}"
    path = Path(source.data)
    if not path.exists():
        raise InputError("file not found", source=source.label)
    if path.is_dir():
        raise InputError("is a folder, not a file", source=source.label)
    if path.stat().st_size == 0:
        raise InputError("the file is empty", source=source.label)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        scan = f"read_parquet({sql_string(path)})"
        numbered = (f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS __row "
                    f"FROM read_parquet({sql_string(path)}, file_row_number = true)")
        return f"SELECT * FROM {scan}", numbered
    options = {"header": True, "all_varchar": True, "sample_size": 20480}
    options.update(read_options or {})
    opts = ", ".join(f"{k} = {_literal(v)}" for k, v in options.items())
    scan = f"read_csv({sql_string(path)}, {opts})"
    return f"SELECT * FROM {scan}", f"SELECT row_number() OVER () AS __row, * FROM {scan}"


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(value)


def register(con: duckdb.DuckDBPyConnection, source: Source, name: str) -> RawTable:
    """Register ``source`` as the view ``name`` with canonical column names.

    Applies the source's built-in ``format`` (a SQL mapping of raw columns, and
    its filter of the rows that are contacts) or its ``columns`` renames; every
    other column keeps its name.

    Raises
    ------
    InputError
        The file is missing, empty or unreadable, or a renamed column is absent.
    """
    fmt = None
    if source.format is not None:
        from .formats import get_format
        fmt = get_format(source.format)
    scan, numbered = _scan_sql(con, source, name, fmt.read_options if fmt else None)
    try:
        raw_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {scan}").fetchall()}
    except duckdb.Error as error:
        raise InputError(f"cannot be read: {duckdb_message(error)}", source=source.label) from None
    # An empty DataFrame column has no type; text is the safe reading of "nothing".
    typed = {c: (f"CAST({quote(c)} AS VARCHAR)" if t == '"NULL"' else quote(c)) for c, t in raw_types.items()}
    if fmt is not None:
        missing = [c for c in fmt.required if c not in raw_types]
        if missing:
            raise InputError(
                f"is not in the {fmt.name} format: columns {', '.join(map(repr, missing))} are missing",
                source=source.label, column=missing[0])
        select = ", ".join(f"{expr} AS {quote(canon)}" for canon, expr in fmt.columns.items())
    else:
        renamed = {}
        for canonical, original in source.columns.items():
            if original not in raw_types:
                raise InputError(
                    f"is missing (renamed to '{canonical}' by the study); the file has "
                    f"{', '.join(map(repr, raw_types))}", source=source.label, column=original)
            renamed[original] = canonical
        taken = set(renamed.values())
        parts = [f"{typed[c]} AS {quote(renamed.get(c, c))}"
                 for c in raw_types if c in renamed or c not in taken]
        select = ", ".join(parts)
    # A format's `where` keeps only the rows that are contacts. In numbered_sql it
    # filters after the numbering, so that __row stays the row of the raw file.
    where = f" WHERE {fmt.where}" if fmt is not None and fmt.where else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT {select} FROM ({scan}){where}")
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {quote(name)}").fetchall()}
    numbered_sql = f"SELECT __row, {select} FROM ({numbered}){where}"
    return RawTable(label=source.label, view=name, types=types, numbered_sql=numbered_sql)
