"""Apache Spark as the panel engine, for contact records that outgrow one machine.

The panel SQL is the DuckDB SQL, transpiled by :func:`alignment.engine.dialect.to_spark`;
only reading the sources is Spark's own code. pyspark is an optional dependency
(``pip install 'alignment[spark]'``) and needs Java 17 or newer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd

from ..exceptions import EngineError, InputError
from .sql import backtick

#: Spark types as the typing layer names them (DuckDB's names).
_TYPES = {"StringType": "VARCHAR", "VarcharType": "VARCHAR", "CharType": "VARCHAR", "BooleanType": "BOOLEAN",
          "ByteType": "TINYINT", "ShortType": "SMALLINT", "IntegerType": "INTEGER", "LongType": "BIGINT",
          "FloatType": "FLOAT", "DoubleType": "DOUBLE", "DecimalType": "DECIMAL", "DateType": "DATE",
          "TimestampType": "TIMESTAMP WITH TIME ZONE", "TimestampNTZType": "TIMESTAMP", "NullType": '"NULL"'}
# Hadoop reads these as a pattern; a backslash makes each one literal
_GLOB = re.compile(r"[\\{}\[\]*?]")


def literal_path(path: str) -> str:
    """``path`` as Spark (Hadoop) reads it literally: its glob characters escaped with a backslash.

    >>> literal_path("/data/contacts[1].csv")
    '/data/contacts\\\\[1\\\\].csv'
    """
    return _GLOB.sub(lambda m: "\\" + m.group(), str(path))


@contextlib.contextmanager
def _quiet():
    """Errors become one-line InputErrors here, so pyspark need not also log them as JSON; and its
    warning about pandas 3 does not concern us (results come back through Arrow, not its pandas layer)."""
    logger = logging.getLogger("SQLQueryContextLogger")
    disabled, logger.disabled = logger.disabled, True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                    category=FutureWarning)
            yield
    finally:
        logger.disabled = disabled


def _pyspark():
    try:
        import sqlglot  # noqa: F401
        with _quiet():
            from pyspark.sql import SparkSession
    except ImportError as error:
        raise EngineError(f"the study asks for the Spark engine but {error.name or 'pyspark'} is not "
                          f"installed: pip install 'alignment[spark]'") from None
    return SparkSession


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if not (home and Path(home, "bin", "java").exists()) and shutil.which("java") is None:
        raise EngineError("the Spark engine needs Java 17 or newer, and no java was found (install a JDK, "
                          "or set JAVA_HOME)")


class SparkEngine:
    """Apache Spark: the panel SQL runs on a SparkSession (a cluster, or ``local[N]`` cores).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession, optional
        The session to use, e.g. the active one of a notebook on a cluster.
    master : str, optional
        Without ``spark``: the master of the session to start (default ``"local[2]"``). Spark
        allows one SparkContext per process: when one is running already, it is reused as it is.

    Each panel build runs in a child session (``spark.newSession()``), so its temporary views and
    its session time zone (set to UTC, as the transpiled SQL assumes) never touch the caller's.

    Examples
    --------
    >>> from alignment.engine import SparkEngine
    >>> SparkEngine(master="local[2]")
    SparkEngine(master='local[2]')
    """

    kind = "spark"

    def __init__(self, spark=None, *, master: str | None = None):
        self.spark, self.master = spark, master

    def session(self):
        """The SparkSession: the one given, else one started (or reused) with ``master``."""
        SparkSession = _pyspark()
        if self.spark is None:
            _check_java()
            try:
                with _quiet():
                    builder = SparkSession.builder.master(self.master or "local[2]").appName("alignment")
                    log4j = f"-Dlog4j2.configurationFile=file:{Path(__file__).with_name('log4j2.properties')}"
                    for key, value in (("spark.ui.enabled", "false"), ("spark.ui.showConsoleProgress", "false"),
                                       ("spark.sql.session.timeZone", "UTC"), ("spark.driver.extraJavaOptions", log4j)):
                        builder = builder.config(key, value)
                    self.spark = builder.getOrCreate()
            except Exception as error:  # the JVM did not start: say so in one line
                raise EngineError(f"Spark did not start: {str(error).strip().splitlines()[0]}") from None
            self.spark.sparkContext.setLogLevel("ERROR")
        return self.spark

    def connect(self) -> "SparkSqlSession":
        with _quiet():
            return SparkSqlSession(self.session().newSession())

    def __repr__(self) -> str:
        return f"SparkEngine(master={self.master!r})" if self.spark is None else "SparkEngine(spark)"


class SparkSqlSession:
    """One child SparkSession: DuckDB SQL in, transpiled, Spark SQL run."""

    dialect = "spark"

    def __init__(self, spark):
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
        from .dialect import to_spark
        self.to_spark = to_spark
        self.spark = spark
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.errors = (PySparkException, Py4JError)
        self.views: list[str] = []
        self._scans = {}  # name -> (source, scan) read under it

    def view(self, name: str, sql: str) -> None:
        """The temporary view ``name`` of the query ``sql`` (dropped by :meth:`close`)."""
        self.views.append(name)
        with _quiet():
            self.spark.sql(self.to_spark(sql)).createOrReplaceTempView(name)

    def rows(self, sql: str) -> list[tuple]:
        with _quiet():
            return [tuple(r) for r in self.spark.sql(self.to_spark(sql)).collect()]

    def frame(self, sql: str) -> pd.DataFrame:
        # through Arrow, not pyspark's pandas layer (which does not fully support pandas 3)
        with _quiet():
            return self.spark.sql(self.to_spark(sql)).toArrow().to_pandas()

    def message(self, error: Exception) -> str:
        java = getattr(error, "java_exception", None)  # a raw Py4JJavaError says only which call failed
        text = (str(java) if java is not None else str(error)).strip()
        return text.splitlines()[0] if text else type(error).__name__

    def types(self, view: str) -> dict[str, str]:
        return {f.name: _TYPES.get(type(f.dataType).__name__, f.dataType.simpleString().upper())
                for f in self.spark.table(backtick(view)).schema.fields}

    def bitmap_duplicates(self, column: str, view: str, low: int, high: int) -> str:
        """One bitmap per bucket of 32,768 ids (``bitmap_construct_agg``, for ids from 1), which spares
        Spark shuffling every id: 2.6 s instead of 11 s for ``count(DISTINCT ...)`` over 10M ids on
        2 cores. '' for ids below 1, which a bucket and a bit position cannot identify."""
        if low < 1:
            return ""
        return (f"count({column}) - (SELECT coalesce(sum(bitmap_count(b)), 0) FROM (SELECT "
                f"bitmap_construct_agg(bitmap_bit_position({column})) AS b FROM {view} WHERE {column} IS NOT NULL "
                f"GROUP BY bitmap_bucket_number({column})) AS m)")

    def _read(self, source, scan):
        kind = scan.kind
        if kind == "frame":
            import pyarrow as pa
            return self.spark.createDataFrame(pa.Table.from_pandas(source.data, preserve_index=False))
        if kind == "table":
            return self.spark.table(source.table)
        if kind == "delta":
            try:
                return self.spark.read.format("delta").load(literal_path(scan.folder))
            except self.errors as error:
                if "delta" not in self.message(error).lower():
                    raise
                raise InputError(f"is a Delta table, and this SparkSession cannot read Delta: configure the "
                                 f"delta-spark package in it ({self.message(error)})", source=source.label) from None
        if kind == "parquet":
            paths = [scan.folder] if scan.folder else scan.files
            return self.spark.read.parquet(*[literal_path(p) for p in paths])
        if scan.compression == "gzip" and not all(f.lower().endswith(".gz") for f in scan.files):
            raise InputError("is gzip-compressed, and the Spark engine reads gzip only from a name that ends "
                             "in .gz: rename it (e.g. contacts.csv.gz)", source=source.label)
        options = dict(scan.read_options or {})
        sep = options.get("delim") or options.get("sep") or scan.delimiter or ","
        reader = self.spark.read.option("header", bool(options.get("header", True))).option("sep", sep)
        if options.get("quote") == "":
            reader = reader.option("quote", "")
        frame = reader.csv([literal_path(f) for f in scan.files])
        return frame.toDF(*[c.lstrip("\ufeff") for c in frame.columns])

    def scan(self, source, scan, name: str) -> None:
        """Temporary views ``{name}__scan`` and ``{name}__numbered`` (with a 1-based ``__row``);
        ``scan`` as :func:`alignment.data.read.plan` gives it (the exact files, read literally)."""
        kind = scan.kind
        from pyspark.sql import Window
        from pyspark.sql import functions as F
        try:
            with _quiet():
                frame = self._read(source, scan)
                _ = frame.schema  # resolve now: Spark Connect resolves lazily, and this is where to name the source
        except self.errors as error:
            if kind != "table":
                hint = ("; Spark reads timestamps in micro- or milliseconds, not nanoseconds (pandas: "
                        "to_parquet(..., coerce_timestamps='us'))" if "NANOS" in self.message(error) else "")
                raise InputError(f"cannot be read: {self.message(error)}{hint}", source=source.label) from None
            raise InputError(f"is not a table of the Spark catalog ({self.message(error)}); a temporary view "
                             f"of your own session is not visible here: register it with "
                             f"createOrReplaceGlobalTempView and name it global_temp.NAME",
                             source=source.label) from None
        self.views += [f"{name}__scan", f"{name}__numbered"]
        self._scans[name] = (source, scan)
        frame.createOrReplaceTempView(f"{name}__scan")
        # file order, files in name order: within a file, ids grow with its splits and their rows
        numbered = (frame.withColumn("__mono", F.monotonically_increasing_id())
                    .withColumn("__file", F.input_file_name())
                    .withColumn("__row", F.row_number().over(Window.orderBy("__file", "__mono")))
                    .drop("__mono", "__file"))
        numbered.createOrReplaceTempView(f"{name}__numbered")

    def file_rows(self, name: str) -> list[int]:
        """The rows of each file of the scan ``name``, in its order (read again: only to name a bad row)."""
        from dataclasses import replace
        source, scan = self._scans[name]
        return [self._read(source, replace(scan, files=(f,), folder=None)).count() for f in scan.files]

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)

