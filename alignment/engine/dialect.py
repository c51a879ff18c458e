"""One SQL, two engines: the DuckDB SQL of the panel, transpiled to Spark SQL with SQLGlot.

The panel's logic is written once, in DuckDB's dialect (:mod:`alignment.panel.query`,
the typed views of :mod:`alignment.panel.schema`, the checks of
:mod:`alignment.data.checks`). :func:`to_spark` parses each statement with SQLGlot
and writes it in Spark's dialect. SQLGlot handles the bulk (quoting, ``TRY_CAST``,
``count_if``, ``regexp_matches`` to ``RLIKE``, ``arg_max`` to ``max_by``, ``date_trunc``,
types); a handful of constructs it has no type information to translate right are
rewritten here, each one a rule of how the panel SQL is written:

``timezone(tz, instant)``
    The panel SQL uses this form only to turn an instant (``TIMESTAMPTZ``) into the
    wall-clock time of ``tz``. Spark: ``CAST(from_utc_timestamp(instant, tz) AS TIMESTAMP_NTZ)``.
    (Casting to a timezone type only relabels it in some front ends, e.g. Ibis: the
    UTC date would come back for evening contacts.)
``wall AT TIME ZONE tz``
    Used only to read a naive wall-clock time of ``tz`` as an instant. Spark:
    ``to_utc_timestamp(wall, tz)``.
``epoch_us(instant)``, ``to_timestamp(seconds)``
    Spark: ``unix_micros``, ``timestamp_seconds``.
``isinf(x)``
    Spark has none: ``abs(x) = CAST('Infinity' AS DOUBLE)``.
``INTERVAL (expr) SECOND``
    Spark takes only literals there: ``make_dt_interval(0, 0, 0, expr)``.

Both rewrites of time assume a Spark session whose ``spark.sql.session.timeZone``
is UTC, which :class:`alignment.engine.SparkEngine` sets on its own session.
Division needs no rewrite because the panel SQL guards every denominator
(``CASE WHEN d = 0 THEN NULL ...``): DuckDB would return NULL or infinity where
Spark in ANSI mode raises, and the guard gives NULL on both.

Examples
--------
>>> to_spark("SELECT timezone('Asia/Jerusalem', arrived_at) AS local_ts FROM t")
"SELECT CAST(FROM_UTC_TIMESTAMP(arrived_at, 'Asia/Jerusalem') AS TIMESTAMP_NTZ) AS local_ts FROM t"
"""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

__all__ = ["to_spark"]


_NTZ = exp.DataType.build("TIMESTAMP_NTZ", dialect="spark")


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _rewrite(node: exp.Expression) -> exp.Expression:
    # transform() does not descend into a replaced node: rewrite the children first
    for child in list(node.iter_expressions()):
        child.replace(_rewrite(child))
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        args = node.expressions
        if name == "timezone" and len(args) == 2:
            return exp.cast(_call("FROM_UTC_TIMESTAMP", args[1], args[0]), _NTZ.copy(), copy=False)
        if name == "epoch_us" and len(args) == 1:
            return _call("UNIX_MICROS", args[0])
    if isinstance(node, exp.AtTimeZone):
        return _call("TO_UTC_TIMESTAMP", node.this, node.args["zone"])
    if isinstance(node, exp.UnixToTime) and node.args.get("scale") is None:
        return _call("TIMESTAMP_SECONDS", node.this)
    if isinstance(node, exp.Interval) and not isinstance(node.this, exp.Literal) \
            and node.text("unit").upper() == "SECOND":
        zero = exp.Literal.number(0)
        return _call("MAKE_DT_INTERVAL", zero, zero.copy(), zero.copy(), node.this)
    if isinstance(node, exp.IsInf):
        return exp.EQ(this=exp.Abs(this=node.this),
                      expression=exp.cast(exp.Literal.string("Infinity"), exp.DataType.Type.DOUBLE, copy=False))
    return node


@functools.lru_cache(maxsize=512)
def to_spark(sql: str) -> str:
    """The DuckDB statement ``sql`` in Spark SQL (see the module notes for what is rewritten)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return _rewrite(tree).sql(dialect="spark")
