"""Reading raw tables into the engine: files, DataFrames or tables, renamed to canonical columns.

Nothing here loads a file into pandas: the engine session reads each source
(:meth:`scan`: CSV with its separator, BOM and line ends sniffed, Parquet, a
DataFrame, or on Spark a table) into a view, and this module renames its
columns in SQL; the schema layer then types and validates them in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class RawTable:
    """A source registered in the engine under canonical column names.

    ``view`` selects the source; ``numbered_sql`` selects it with a 1-based
    ``__row`` column in file order, used only to name the first bad row.
    """

    label: str
    view: str
    types: dict[str, str]
    numbered_sql: str

    def has(self, column: str) -> bool:
        return column in self.types


def source_kind(source: Source) -> str:
    """How the engines read ``source``: "frame", "table", "delta" (a Delta table's folder),
    "parquet" (a file, or a folder of ``*.parquet`` files) or "text" (delimited text).

    Raises
    ------
    InputError
        The file is missing or empty, or the folder holds neither Parquet files nor a Delta table.
    """
    if isinstance(source.data, pd.DataFrame):
        return "frame"
    if source.table is not None:
        return "table"
    path = Path(source.data)
    if not path.exists():
        raise InputError("file not found", source=source.label)
    if path.is_dir():
        if (path / "_delta_log").is_dir():
            return "delta"
        if any(path.glob("*.parquet")):
            return "parquet"
        raise InputError("is a folder, not a file", source=source.label)
    if path.stat().st_size == 0:
        raise InputError("the file is empty", source=source.label)
    return "parquet" if path.suffix.lower() in PARQUET_SUFFIXES else "text"


def register(session, source: Source, name: str) -> RawTable:
    """Register ``source`` in the engine ``session`` as the view ``name`` with canonical column names.

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
    session.scan(source, source_kind(source), name, fmt.read_options if fmt else None)
    raw_types = session.types(f"{name}__scan")
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
    session.view(name, f"SELECT {select} FROM {quote(name + '__scan')}{where}")
    numbered_sql = f"SELECT __row, {select} FROM {quote(name + '__numbered')}{where}"
    return RawTable(label=source.label, view=name, types=session.types(name), numbered_sql=numbered_sql)
