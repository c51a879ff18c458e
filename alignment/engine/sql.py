"""Quoting for the panel SQL, in one place: identifiers and string literals of DuckDB's dialect.

Every name from a study or a data file (columns, segments, metrics, timezones, paths) reaches
SQL through these two functions, so a name holding quotes cannot change a statement. On Spark
the statements are transpiled by SQLGlot (:mod:`alignment.engine.dialect`), which re-quotes
identifiers with backticks and escapes string literals for Spark.

Examples
--------
>>> print(quote('wait "s'))
"wait ""s"
>>> sql_string("O'Brien")
"'O''Brien'"
"""

from __future__ import annotations

__all__ = ["quote", "sql_string", "literal", "backtick"]


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def literal(value) -> str:
    """A SQL literal of a boolean, a number or a string (e.g. a ``read_csv`` option)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(value)


def backtick(name: str) -> str:
    """A Spark SQL identifier, for the few names Spark's own API parses (``spark.table``)."""
    return "`" + str(name).replace("`", "``") + "`"
