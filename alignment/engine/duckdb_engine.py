"""The embedded engine: DuckDB, in process, on files and DataFrames."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from ..data.read import quote, sql_string
from ..exceptions import InputError


def duckdb_message(error: Exception) -> str:
    """The first informative line of a DuckDB error, without its class prefix."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.split(": ", 1)[1] if text.split(": ", 1)[0].endswith("Error") else text


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(value)


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
        # Naive strings cast to TIMESTAMPTZ must not pick up the machine's zone.
        self.con.execute("SET TimeZone = 'UTC'")

    def view(self, name: str, sql: str) -> None:
        """The temporary view ``name`` of the query ``sql``."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS {sql}")

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def message(self, error: Exception) -> str:
        return duckdb_message(error)

    def types(self, view: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {quote(view)}").fetchall()}

    def scan(self, source, kind: str, name: str, read_options=None) -> None:
        """Views ``{name}__scan`` (the source as read) and ``{name}__numbered`` (with a 1-based
        ``__row`` in file order, used only to name the first bad row); ``kind`` as
        :func:`alignment.data.read.source_kind` gives it."""
        scan_view, numbered_view = quote(name + "__scan"), quote(name + "__numbered")
        if kind == "table":
            raise InputError("names a table; tables are read by the Spark engine (set [engine] kind = "
                             "\"spark\", or pass engine=SparkEngine(spark))", source=source.label)
        if kind == "delta":
            raise InputError("is a Delta table; Delta tables are read by the Spark engine (set [engine] "
                             "kind = \"spark\")", source=source.label)
        if kind == "frame":
            self.con.register(name + "__frame", source.data)
            scan = f"SELECT * FROM {quote(name + '__frame')}"
        elif kind == "parquet":
            folder = Path(source.data).is_dir()
            path = sql_string(Path(source.data) / "*.parquet" if folder else source.data)
            scan = f"SELECT * FROM read_parquet({path})"
            # rows count through the files in name order, as on Spark
            numbered = (f"SELECT * EXCLUDE (file_row_number, filename), row_number() OVER (ORDER BY filename, "
                        f"file_row_number) AS __row FROM read_parquet({path}, file_row_number = true, "
                        f"filename = true)")
        else:
            options = {"header": True, "all_varchar": True, "sample_size": 20480}
            options.update(read_options or {})
            opts = ", ".join(f"{k} = {_literal(v)}" for k, v in options.items())
            scan = f"SELECT * FROM read_csv({sql_string(source.data)}, {opts})"
        if kind != "parquet":  # numbered over the view, so that a CSV is sniffed once
            numbered = f"SELECT row_number() OVER () AS __row, * FROM {scan_view}"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {scan_view} AS {scan}")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {numbered_view} AS {numbered}")
        except duckdb.Error as error:
            raise InputError(f"cannot be read: {duckdb_message(error)}", source=source.label) from None

    def close(self) -> None:
        self.con.close()
