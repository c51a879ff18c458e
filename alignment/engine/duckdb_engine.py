"""The embedded engine: DuckDB, in process, on files and DataFrames."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import duckdb
import pandas as pd

from ..data.files import SAVE_AS_UTF8
from ..exceptions import InputError
from .sql import literal, quote, sql_string


def duckdb_message(error: Exception) -> str:
    """The informative part of a DuckDB error in one line, without its class prefix.

    A CSV error's first line only says where ("CSV Error on Line: 7"); its reason is on a later
    line, after the raw line (which may be megabytes long): the two are joined, and the reasons
    a user can act on are said in our words (not UTF-8, a line over the maximum line size, a
    file whose dialect could not be sniffed).
    """
    lines = [line.strip() for line in str(error).strip().splitlines()]
    if not lines or not lines[0]:
        return type(error).__name__
    first = lines[0]
    head, _, rest = first.partition(": ")
    if head.endswith("Error") and rest:
        first = rest
    if first.startswith("CSV Error on Line"):
        where = first.replace("CSV Error on Line:", "line").strip()
        reason = next((line for line in lines[1:] if line and not line.startswith("Original Line:")), "")
        if "not utf-8 encoded" in reason.lower():
            return f"{where} is not UTF-8 text (Latin-1 or Windows-1252?); {SAVE_AS_UTF8}"
        if "maximum line size" in reason.lower():
            return (f"{reason.rstrip('.')} (a field that long is usually a quote that is never closed, or "
                    f"not a CSV file)")
        return f"{where}: {reason}" if reason else where
    if first.startswith("Error when sniffing file"):
        return ("its separator and quoting could not be detected: is it delimited text (CSV, UTF-8, "
                "one header line)?")
    return first


_GLOB = re.compile(r"[\[*?]")



def literal_path(path: str) -> str:
    """``path`` as DuckDB reads it literally: its glob characters in brackets (``[*]``, ``[?]``, ``[[]``).

    >>> literal_path("/data/contacts[1].csv")
    '/data/contacts[[]1].csv'
    """
    return _GLOB.sub(lambda m: f"[{m.group()}]", str(path))


def _files(paths) -> str:
    items = [sql_string(literal_path(p)) for p in paths]
    return items[0] if len(items) == 1 else "[" + ", ".join(items) + "]"


def _read_files(scan, files) -> str:
    """The query reading ``files`` of ``scan`` (Parquet, or delimited text all read as VARCHAR)."""
    if scan.kind == "parquet":
        return f"SELECT * FROM read_parquet({_files(files)})"
    options = {"header": True, "all_varchar": True, "sample_size": 20480}
    options.update(scan.read_options or {})
    if scan.compression:
        options["compression"] = scan.compression
    opts = ", ".join(f"{k} = {literal(v)}" for k, v in options.items())
    return f"SELECT * FROM read_csv({_files(files)}, {opts})"


class DuckDBEngine:
    """DuckDB, embedded: the default engine. Each panel build gets its own in-memory database.

    Examples
    --------
    >>> session = DuckDBEngine().connect()
    >>> session.rows("SELECT 1 + 1")
    [(2,)]
    >>> session.close()
    """

    kind = "duckdb"

    def connect(self) -> "DuckDBSession":
        return DuckDBSession()

    def __repr__(self) -> str:
        return "DuckDBEngine()"


class DuckDBSession:
    """One DuckDB connection: runs the panel SQL as written (DuckDB is its dialect)."""

    dialect = "duckdb"
    errors = (duckdb.Error,)

    def __init__(self):
        self.con = duckdb.connect()
        self._scans = {}  # name -> the Scan read under it
        # Naive strings cast to TIMESTAMPTZ must not pick up the machine's zone.
        self.con.execute("SET TimeZone = 'UTC'")
        # DuckDB draws its own progress bar on stderr for long queries: never ours to show. (In
        # Jupyter without ipywidgets DuckDB refuses to change the setting, and draws none anyway.)
        try:
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:
            pass

    def view(self, name: str, sql: str) -> None:
        """The temporary view ``name`` of the query ``sql``."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS {sql}")

    def rows(self, sql: str) -> list[tuple]:
        with self._progress():
            return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        with self._progress():
            return self.con.execute(sql).df()

    @contextmanager
    def _progress(self):
        """Our bar (:mod:`alignment.progress`) over a query that reads the data, when bars are on.

        DuckDB tracks a query's progress without printing it (``enable_progress_bar_print``
        off); a thread reads ``query_progress()`` (a percentage, -1 before the query starts) and
        moves the bar. Where DuckDB refuses the settings (Jupyter without ipywidgets), no bar.
        """
        from ..progress import bar, setting
        if not setting().bars:
            yield
            return
        try:
            self.con.execute("SET enable_progress_bar_print = false")
            self.con.execute("SET enable_progress_bar = true")
        except duckdb.Error:
            yield
            return
        done = threading.Event()
        with bar(100, "reading the data", unit="%") as shown:
            def follow():
                while not done.wait(0.1):
                    percent = int(min(self.con.query_progress(), 100.0))
                    if percent > shown.n:
                        shown.update(percent - shown.n)
            watcher = threading.Thread(target=follow, daemon=True)
            watcher.start()
            try:
                yield
            finally:
                done.set()
                watcher.join()
                try:
                    self.con.execute("SET enable_progress_bar = false")
                except duckdb.Error:
                    pass

    def message(self, error: Exception) -> str:
        return duckdb_message(error)

    def types(self, view: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {quote(view)}").fetchall()}

    def bitmap_duplicates(self, column: str, view: str, low: int, high: int) -> str:
        """One bitmap of the whole range (``bitstring_agg``), in the main scan."""
        return f"count({column}) - bit_count(bitstring_agg({column}, {int(low)}, {int(high)}))"

    def scan(self, source, scan, name: str) -> None:
        """Views ``{name}__scan`` (the source as read) and ``{name}__numbered`` (with a 1-based
        ``__row`` in file order, used only to name the first bad row); ``scan`` as
        :func:`alignment.data.read.plan` gives it (the exact files, read literally)."""
        kind = scan.kind
        scan_view, numbered_view = quote(name + "__scan"), quote(name + "__numbered")
        if kind == "table":
            raise InputError("names a table; tables are read by the Spark engine (set [engine] kind = "
                             "\"spark\", or pass engine=SparkEngine(spark))", source=source.label)
        if kind == "delta":
            raise InputError("is a Delta table; Delta tables are read by the Spark engine (set [engine] "
                             "kind = \"spark\")", source=source.label)
        if kind == "frame":
            self.con.register(name + "__frame", source.data)
            select = f"SELECT * FROM {quote(name + '__frame')}"
        elif kind == "parquet":
            files = _files(scan.files)
            select = _read_files(scan, scan.files)
            # rows count through the files in name order, as on Spark
            numbered = (f"SELECT * EXCLUDE (file_row_number, filename), row_number() OVER (ORDER BY filename, "
                        f"file_row_number) AS __row FROM read_parquet({files}, file_row_number = true, "
                        f"filename = true)")
        else:
            select = _read_files(scan, scan.files)
        self._scans[name] = scan
        if kind != "parquet":  # numbered over the view, so that a CSV is sniffed once
            numbered = f"SELECT row_number() OVER () AS __row, * FROM {scan_view}"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {scan_view} AS {select}")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {numbered_view} AS {numbered}")
        except duckdb.Error as error:
            raise InputError(f"cannot be read: {duckdb_message(error)}", source=source.label) from None

    def file_rows(self, name: str) -> list[int]:
        """The rows of each file of the scan ``name``, in its order (read again: only to name a bad row)."""
        scan = self._scans[name]
        return [self.con.execute(f"SELECT count(*) FROM ({_read_files(scan, (f,))})").fetchone()[0]
                for f in scan.files]

    def close(self) -> None:
        self.con.close()
