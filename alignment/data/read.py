"""Reading raw tables into the engine: files, DataFrames or tables, renamed to canonical columns.

Nothing here loads a file into pandas: the engine session reads each source
(:meth:`scan`: CSV with its separator, BOM and line ends sniffed, Parquet, a
DataFrame, or on Spark a table) into a view, and this module renames its
columns in SQL; the schema layer then types and validates them in SQL.
"""

from __future__ import annotations

import glob as globbing
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..engine.sql import quote, sql_string  # noqa: F401 - re-exported: the panel modules import them from here
from ..exceptions import InputError
from .files import TextFile, check_header, inspect_text, twice
from .sources import ExtraSource, Source

PARQUET_SUFFIXES = (".parquet", ".pq")


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
    files: tuple[str, ...] = ()

    def has(self, column: str) -> bool:
        return column in self.types

    def locate(self, session, row: int) -> tuple[str, int]:
        """The file and its own row of the source's ``row``: a source of several files (a pattern's or
        a folder's) numbers its rows through them, and a message names the file and its row."""
        if not self.files:
            return self.label, row
        before = 0
        for file, n in zip(self.files, session.file_rows(self.view)):
            if row <= before + n:
                return file, row - before
            before += n
        return self.label, row


@dataclass(frozen=True)
class Scan:
    """What an engine session reads for one source, decided once for both engines.

    ``kind`` is "frame", "table", "delta" (a Delta table's folder), "parquet" or "text"
    (delimited text). ``files`` are the exact files to read, as absolute paths to be taken
    literally (an engine escapes its own glob characters); for a folder of Parquet files
    ``folder`` is the folder. ``compression`` is "gzip" for gzip content whatever the name, and
    ``delimiter`` the separator guessed from the header (Spark does not sniff one); ``texts``
    what :func:`~alignment.data.files.inspect_text` found in each text file.
    """

    kind: str
    files: tuple[str, ...] = ()
    folder: str | None = None
    read_options: Mapping[str, object] = field(default_factory=dict)
    compression: str | None = None
    delimiter: str | None = None
    texts: tuple[TextFile, ...] = ()


def _absolute(path) -> str:
    # absolute, so that no engine reads a leading "~" as the home folder
    return os.path.abspath(str(path))


def _matches(source: Source) -> list[Path]:
    """The files a ``glob = true`` pattern names, in name order (``**`` spans folders)."""
    files = sorted(Path(p) for p in globbing.glob(str(source.data), recursive=True) if Path(p).is_file())
    if not files:
        raise InputError("no file matches the pattern (glob = true: *, ?, [abc] and ** for any folders)",
                         source=source.label)
    return files


def _folder_files(folder: Path) -> list[Path]:
    """The data files of a folder, in name order: every file but a writer's metadata or leftovers
    (names starting with _ or .), not descending into sub-folders."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))


def export_files(source: Source) -> Path | list[Path]:
    """What a platform export's vendor reader reads: the file, or the files of a pattern
    (``glob = true``) or of a folder, in name order (a day a file, read as one export).

    Raises
    ------
    InputError
        The file is missing or empty, the pattern matches nothing, or the folder holds no file.
    """
    if source.glob:
        return _matches(source)
    path = Path(source.data)
    if path.is_dir():
        files = _folder_files(path)
        if not files:
            raise InputError("is a folder holding no export file", source=source.label)
        return files
    source_kind(source)  # a missing or empty file is said as for any other source
    return path


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
    if source.glob:
        files = _matches(source)
        return "parquet" if all(f.suffix.lower() in PARQUET_SUFFIXES for f in files) else "text"
    path = Path(source.data)
    if not path.exists():
        raise InputError("file not found", source=source.label)
    if path.is_dir():
        if (path / "_delta_log").is_dir():
            return "delta"
        if _parquet_parts(path):
            return "parquet"
        if _folder_files(path):  # a folder of text files (one a day), read as one table
            return "text"
        raise InputError("is a folder holding no data file", source=source.label)
    if path.stat().st_size == 0:
        raise InputError("the file is empty", source=source.label)
    return "parquet" if path.suffix.lower() in PARQUET_SUFFIXES else "text"


def _parquet_parts(folder: Path) -> list[Path]:
    # files named _* or .* are a writer's metadata or leftovers, not data (Spark skips them too)
    return sorted(p for p in folder.glob("*.parquet") if p.is_file() and not p.name.startswith(("_", ".")))


def plan(source: Source, read_options: Mapping[str, object] | None = None) -> Scan:
    """The :class:`Scan` of ``source``: its kind, exact files, and for text what the file is.

    Raises
    ------
    InputError
        As :func:`source_kind`; and a text file that is not UTF-8 text (binary, UTF-16,
        Latin-1...) or whose header names a column twice (see :mod:`alignment.data.files`).
    """
    kind = source_kind(source)
    options = dict(read_options or {})
    if kind == "frame":
        error = twice(list(source.data.columns), source.label, "the DataFrame")
        if error is not None:
            raise error
    if kind in ("frame", "table"):
        return Scan(kind, read_options=options)
    if kind == "delta":
        return Scan(kind, folder=_absolute(source.data), read_options=options)
    many = source.glob or Path(source.data).is_dir()
    if source.glob:
        files = _matches(source)
    elif kind == "parquet" and Path(source.data).is_dir():
        return Scan(kind, files=tuple(_absolute(p) for p in _parquet_parts(Path(source.data))),
                    folder=_absolute(source.data), read_options=options)
    elif Path(source.data).is_dir():
        files = _folder_files(Path(source.data))
    else:
        files = [Path(source.data)]
    if kind == "parquet":
        return Scan(kind, files=tuple(_absolute(p) for p in files), read_options=options)
    delimiter = options.get("delim") or options.get("sep")
    found = [inspect_text(f, str(f) if many else source.label, delimiter) for f in files]
    compression = {f.compression for f in found}
    if len(compression) > 1:
        raise InputError("the files are gzip-compressed and plain: give one kind", source=source.label)
    return Scan(kind, files=tuple(_absolute(p) for p in files), read_options=options,
                compression=compression.pop(), delimiter=found[0].delimiter, texts=tuple(found))


def register(session, source: Source, name: str, kind: str | None = None) -> RawTable:
    """Register ``source`` in the engine ``session`` as the view ``name`` with canonical column names.

    Applies the source's built-in ``format`` (a SQL mapping of raw columns, and
    its filter of the rows that are contacts) or its ``columns`` renames; every
    other column keeps its name. A platform export's format (one with a ``reader``) is read by
    its vendor module into canonical rows, then renamed by ``columns``. ``kind`` ("contacts" or
    "surveys") is the role of the source, checked against the format's.

    Raises
    ------
    InputError
        The file is missing, empty or unreadable (see :func:`plan`), its header names a column
        twice, a renamed column is absent, or an extra source has no rows.
    """
    fmt = None
    label = source.label
    if source.format is not None:
        from .formats import get_format
        fmt = get_format(source.format)
        if kind is not None and fmt.kind != kind:
            raise InputError(f"the {fmt.name} format is for {fmt.kind}, not {kind}: give it as the "
                             f"format of the {fmt.kind}", source=label)
        if fmt.reader is not None:  # a platform export: its vendor module makes the canonical rows
            if source.table is not None or isinstance(source.data, pd.DataFrame):
                raise InputError(f"the {fmt.name} format reads the platform's export file, not a "
                                 f"{'table' if source.table is not None else 'DataFrame'}", source=label)
            frame = fmt.reader(export_files(source), label=label, timezone=source.timezone, options=source.options)
            source, fmt = Source(frame, columns=source.columns), None
    scan = plan(source, fmt.read_options if fmt else None)
    session.scan(source, scan, name)
    raw_types = session.types(f"{name}__scan")
    for text in scan.texts:
        check_header(text, raw_types)
    if isinstance(source, ExtraSource) and not session.rows(f"SELECT 1 FROM {quote(name + '__scan')} LIMIT 1"):
        raise InputError("has no rows, only a header: give it data, or leave it out", source=source.label)
    # An empty DataFrame column has no type; text is the safe reading of "nothing".
    typed = {c: (f"CAST({quote(c)} AS VARCHAR)" if t == '"NULL"' else quote(c)) for c, t in raw_types.items()}
    if fmt is not None:
        missing = [c for c in fmt.required if c not in raw_types]
        if missing:
            raise InputError(
                f"is not in the {fmt.name} format: columns {', '.join(map(repr, missing))} are missing",
                source=source.label, column=missing[0])
        made = {canon: expr for canon, expr in fmt.columns.items()
                if all(r in raw_types for r in fmt.needs.get(canon, ()))}  # items the file does not carry
        select = ", ".join(f"{expr} AS {quote(canon)}" for canon, expr in made.items())
    else:
        renamed = {}
        for canonical, original in source.columns.items():
            if original not in raw_types:
                raise InputError(
                    f"is missing (renamed to '{canonical}' by the study); the file has "
                    f"{', '.join(map(repr, raw_types))}", source=label, column=original)
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
    files = (tuple(t.label for t in scan.texts) or scan.files) if len(scan.files) > 1 else ()  # rows named by file
    return RawTable(label=label, view=name, types=session.types(name), numbered_sql=numbered_sql, files=files)
