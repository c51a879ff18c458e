"""Engines that build the panel: DuckDB (embedded, the default) and Apache Spark.

The panel's logic is one SQL definition in DuckDB's dialect; the Spark engine runs
it transpiled by SQLGlot (:mod:`alignment.engine.dialect`). What the panel builder asks of
an engine is spelt out by the :class:`Engine` and :class:`Session` protocols
(:mod:`alignment.engine.protocol`): ``connect()`` gives a session with ``scan`` (read a source
into views), ``types``, ``view``, ``rows``, ``frame``, ``message`` and the engine's own
aggregates. Every dialect branch lives in this package, and all quoting in :mod:`alignment.engine.sql`.
"""

from __future__ import annotations

from ..exceptions import OptionError
from .duckdb_engine import DuckDBEngine
from .protocol import Engine, Session
from .spark_engine import SparkEngine

__all__ = ["DuckDBEngine", "SparkEngine", "Engine", "Session", "ENGINES", "engine_from_kind"]

ENGINES = ("duckdb", "spark")


def engine_from_kind(kind: str = "duckdb", *, master: str | None = None):
    """The engine a study file names: ``kind`` "duckdb" or "spark" (with an optional ``master``).

    Examples
    --------
    >>> engine_from_kind("duckdb")
    DuckDBEngine()
    """
    if kind == "duckdb":
        if master is not None:
            raise OptionError("A master is a Spark setting; the DuckDB engine runs in process.")
        return DuckDBEngine()
    if kind == "spark":
        return SparkEngine(master=master)
    raise OptionError(f"The engine kind must be one of 'duckdb', 'spark'. Got {kind!r} instead.")
