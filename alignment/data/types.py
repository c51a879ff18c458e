"""Typing raw columns in SQL: each helper returns the typed expression and the
conditions under which a raw value is bad, so that every problem can be counted
and located (file, column, first row) before anything is computed."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.sql import quote, sql_string

_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT")
_NUMERIC_PREFIX = _INTEGER + ("FLOAT", "DOUBLE", "DECIMAL", "REAL")
# An ISO 8601 time of day followed by a UTC offset or Z: the mark of an aware time.
_OFFSET = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"
_DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
# The same, with an offset that exists: up to 14 hours either way (Kiribati is +14:00, Baker
# Island -12:00), minutes 00-59. "+24:00" or "+99:00" parse, and would move a contact days away.
_REAL_OFFSET = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-](0\d|1[0-3])(:?[0-5]\d)?|[+-]14(:?00)?)$"
#: Times are accepted from the first to the last of these years (local time, inclusive). Beyond
#: them a time is a placeholder (0001-01-01, 9999-12-31) or a unit mistake, not a contact, and
#: pandas could not hold its period (1677-2262). Historical records stay readable (time zones kept
#: local mean time until the 1880s); a few placeholder dates inside the range, such as 1900-01-01
#: or 1970-01-01, are caught by the panel's SpanWarning instead.
YEARS = (1800, 2199)
# Control characters (C0, DEL and C1): invisible in a report, they make look-alike segments.
_CONTROL = r"[\x00-\x1F\x7F-\x9F]"


@dataclass(frozen=True)
class Rule:
    """A condition that marks a row bad, with the column it names and what is wrong."""

    column: str
    bad: str
    what: str


def _is_numeric(dtype: str) -> bool:
    return dtype.upper().startswith(_NUMERIC_PREFIX)


def blank(col: str, dtype: str) -> str:
    """Missing: NULL, or only spaces in a text column (typed columns need no text conversion)."""
    if dtype.upper() in ("VARCHAR", '"NULL"'):
        return f"({col} IS NULL OR trim({col}) = '')"
    return f"({col} IS NULL)"


def boolean(name: str, dtype: str, *, required: bool) -> tuple[str, list[Rule]]:
    """true/false, t/f, yes/no, y/n, 1/0 (any case); blank is missing."""
    col = quote(name)
    if dtype == "BOOLEAN":
        expr, invalid = col, None
    elif _is_numeric(dtype):
        expr = f"(CASE WHEN {col} = 1 THEN true WHEN {col} = 0 THEN false END)"
        invalid = f"({col} IS NOT NULL AND NOT isnan(CAST({col} AS DOUBLE)) AND {col} NOT IN (0, 1))"
    else:
        low = f"lower(trim(CAST({col} AS VARCHAR)))"
        expr = (f"(CASE WHEN {low} IN ('true', 't', '1', 'yes', 'y') THEN true "
                f"WHEN {low} IN ('false', 'f', '0', 'no', 'n') THEN false END)")
        invalid = f"(NOT {blank(col, dtype)} AND {expr} IS NULL)"
    rules = []
    if invalid:
        rules.append(Rule(name, invalid, "is not true/false (accepted: true/false, yes/no, 1/0)"))
    if required:
        rules.append(Rule(name, f"{expr} IS NULL AND {blank(col, dtype)}", "is missing"))
    return expr, rules


def number(name: str, dtype: str, *, required: bool = False, minimum: float | None = None,
           maximum: float | None = None, unit: str = "") -> tuple[str, list[Rule]]:
    """A finite number, optionally within [minimum, maximum]; blank is missing."""
    col = quote(name)
    if _is_numeric(dtype):
        expr = f"CAST({col} AS DOUBLE)"
        rules = []
    else:
        expr = f"TRY_CAST(NULLIF(trim(CAST({col} AS VARCHAR)), '') AS DOUBLE)"
        rules = [Rule(name, f"(NOT {blank(col, dtype)} AND {expr} IS NULL)", "is not a number")]
    rules.append(Rule(name, f"(isinf({expr}) OR isnan({expr}))", "is not a finite number"))
    if minimum is not None and maximum is not None:
        rules.append(Rule(name, f"({expr} < {minimum!r} OR {expr} > {maximum!r})",
                          f"is outside its scale {minimum:g}-{maximum:g}"))
    elif minimum is not None:
        what = "is negative" if minimum == 0 else f"is below {minimum:g}"
        rules.append(Rule(name, f"{expr} < {minimum!r}", what + (f" ({unit})" if unit else "")))
    if required:
        rules.append(Rule(name, blank(col, dtype), "is missing"))
    return expr, rules


def text(name: str, dtype: str, *, required: bool = True) -> tuple[str, list[Rule]]:
    """A label such as a queue name; blank is missing, a control character (NUL, tab...) is bad."""
    col = quote(name)
    expr = f"CAST({col} AS VARCHAR)"
    rules = [Rule(name, f"regexp_matches({expr}, {sql_string(_CONTROL)})",
                  "holds a control character (such as NUL or a tab), which would make a look-alike "
                  "segment; remove it from the file")]
    if required:
        rules.append(Rule(name, blank(col, dtype), "is missing"))
    return expr, rules


def _in_years(expr: str) -> str:
    lo, hi = YEARS
    return (f"({expr} NOT BETWEEN TIMESTAMP '{lo:04d}-01-01 00:00:00' "
            f"AND TIMESTAMP '{hi:04d}-12-31 23:59:59.999999')")


def local_time(name: str, dtype: str, *, source_tz: str | None, study_tz: str | None,
               required: bool = True, dates: bool = False) -> tuple[str, list[Rule]]:
    """Local wall-clock time in the study timezone.

    Aware times (with a UTC offset) are converted to the study timezone (UTC
    when the study names none). Naive times are wall-clock times of the
    source's timezone, or of the study's when the source names none; with
    neither they are an error. With ``dates``, a bare date is a local calendar
    date and needs no timezone.
    """
    col = quote(name)
    target = sql_string(study_tz or "UTC")
    naive_tz = source_tz or study_tz

    def from_naive(ts: str) -> str:
        if naive_tz is None or naive_tz == (study_tz or "UTC"):
            return ts
        # wall time of naive_tz -> instant -> wall time of the study (see alignment.engine.dialect)
        return f"timezone({target}, ({ts} AT TIME ZONE {sql_string(naive_tz)}))"

    rules = []
    kind = dtype.upper()
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        expr = f"timezone({target}, {col})"
    elif kind == "DATE":
        expr = f"CAST({col} AS TIMESTAMP)"
    elif kind.startswith("TIMESTAMP"):
        expr = from_naive(col)
        if naive_tz is None:
            rules.append(Rule(name, f"{col} IS NOT NULL", _NAIVE))
    else:
        s = f"trim(CAST({col} AS VARCHAR))"
        aware = f"regexp_matches({s}, {sql_string(_OFFSET)})"
        naive = f"TRY_CAST(NULLIF({s}, '') AS TIMESTAMP)"
        date_only = f"regexp_matches({s}, {sql_string(_DATE_ONLY)})"
        naive_expr = from_naive(naive)
        if dates:
            naive_expr = f"(CASE WHEN {date_only} THEN {naive} ELSE {naive_expr} END)"
        expr = (f"(CASE WHEN {aware} THEN timezone({target}, TRY_CAST({s} AS TIMESTAMPTZ)) "
                f"ELSE {naive_expr} END)")
        rules.append(Rule(name, f"(NOT {blank(col, dtype)} AND {expr} IS NULL)",
                          "is not an ISO 8601 date-time (e.g. 2025-03-09T08:15:00-05:00)"))
        rules.append(Rule(name, f"({aware} AND NOT regexp_matches({s}, {sql_string(_REAL_OFFSET)}))",
                          "has a UTC offset beyond -14:00..+14:00 (such as +24:00), which no place has"))
        if naive_tz is None:
            no_tz = f"(NOT {blank(col, dtype)} AND NOT {aware}"
            no_tz += f" AND NOT {date_only})" if dates else ")"
            rules.append(Rule(name, no_tz, _NAIVE))
    rules.append(Rule(name, _in_years(expr), f"is outside the years {YEARS[0]}-{YEARS[1]} (a placeholder date "
                                             f"such as 0001-01-01 or 9999-12-31?)"))
    if required:
        rules.append(Rule(name, blank(col, dtype), "is missing"))
    return expr, rules


_NAIVE = ("has a time without a UTC offset and no timezone was given "
          "(add the offset, or name the timezone of the source or study)")
