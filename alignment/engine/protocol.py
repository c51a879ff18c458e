"""What the panel builder asks of an engine: the :class:`Engine` and :class:`Session` protocols.

An engine (DuckDB, Spark) is a factory of sessions; a session reads sources into temporary views
and runs the panel SQL, which is written once in DuckDB's dialect. Everything that differs
between engines lives behind these methods, in :mod:`alignment.engine`: how files are read
(:meth:`Session.scan`), how SQL is run (transpiled on Spark), how an error reads in one line,
and the few aggregates that have no common SQL (:meth:`Session.bitmap_duplicates`).

Examples
--------
>>> from alignment.engine import DuckDBEngine
>>> isinstance(DuckDBEngine(), Engine), isinstance(DuckDBEngine().connect(), Session)
(True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from ..data.read import Scan
    from ..data.sources import Source

__all__ = ["Engine", "Session"]


@runtime_checkable
class Session(Protocol):
    """One connection of an engine: temporary views, queries, and its own error types.

    ``dialect`` names the engine's SQL ("duckdb", "spark"); ``errors`` are the exception types its
    queries raise, which the panel builder turns into one-line :class:`~alignment.InputError`\\ s.
    """

    dialect: str
    errors: tuple[type[BaseException], ...]

    def scan(self, source: "Source", scan: "Scan", name: str) -> None:
        """Views ``{name}__scan`` (the source as read) and ``{name}__numbered`` (with a 1-based ``__row``)."""

    def file_rows(self, name: str) -> list[int]:
        """How many rows each file of the scan ``name`` holds, in the order ``__row`` counts them."""

    def view(self, name: str, sql: str) -> None:
        """The temporary view ``name`` of the (DuckDB-dialect) query ``sql``."""

    def types(self, view: str) -> dict[str, str]:
        """Column -> type of a view, in DuckDB's type names."""

    def rows(self, sql: str) -> list[tuple]:
        """The rows of the query ``sql``."""

    def frame(self, sql: str) -> "pd.DataFrame":
        """The result of the query ``sql`` as a pandas DataFrame."""

    def message(self, error: BaseException) -> str:
        """One informative line for an error of :attr:`errors`."""

    def bitmap_duplicates(self, column: str, view: str, low: int, high: int) -> str:
        """A SQL aggregate of ``view`` counting the rows whose integer ``column`` (quoted) repeats an
        earlier value, by a bitmap over ``low..high``; '' when the engine cannot build one here."""

    def close(self) -> None:
        """Drop what the session created."""


@runtime_checkable
class Engine(Protocol):
    """A place to build panels: :class:`~alignment.DuckDBEngine` or :class:`~alignment.SparkEngine`."""

    def connect(self) -> Session:
        """A new session; each panel build uses its own."""
