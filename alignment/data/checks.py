"""Running validation rules: count every problem in one pass, then name the first bad row of each.

Like pandera's lazy validation, all problems are collected before raising, so
the user sees every failing column at once; the message's first clause names
the first one precisely (file, column, row, how many rows).
"""

from __future__ import annotations

from typing import Sequence

from ..exceptions import InputError
from ..engine.sql import quote
from .read import RawTable
from .types import Rule


class ValidationFailed(InputError):
    """Input rows break one or more rules; ``problems`` lists them all."""

    def __init__(self, problems: list[dict]):
        self.problems = problems
        first = problems[0]
        more = ""
        if len(problems) > 1:
            others = "; ".join(f"column '{p['column']}' {p['what']} ({p['count']} rows)" for p in problems[1:3])
            extra = len(problems) - 3
            more = f"; also {others}" + (f" and {extra} more problems" if extra > 0 else "")
        rows = "row is" if first["count"] == 1 else "rows are"
        super().__init__(f"{first['what']} ({first['count']} {rows} bad){more}",
                         source=first["source"], column=first["column"], row=first["row"])


#: Integer ids spanning at most this range are checked with a bitmap instead of a hash table.
BITMAP_RANGE = 100_000_000


def _dense_duplicates(session, table: RawTable, unique: Sequence[str]) -> str:
    """Duplicates of an integer id as ``count - bits set`` in a bitmap over its range.

    A bitmap of the id range costs one bit per possible id (12 MB for 100 million) where a
    hash table of the ids costs about 50 bytes per row (2.6 GB for 50 million contacts); each
    engine builds its own (:meth:`alignment.engine.protocol.Session.bitmap_duplicates`).
    Returns '' when the key is not a single integer column of moderate range.
    """
    if len(unique) != 1 or not table.types[unique[0]].upper().endswith(("INT", "INTEGER")):
        return ""
    col, view = quote(unique[0]), quote(table.view)
    lo, hi = session.rows(f"SELECT min({col}), max({col}) FROM {view}")[0]
    if lo is None or hi - lo >= BITMAP_RANGE:
        return ""
    sql = session.bitmap_duplicates(col, view, int(lo), int(hi))
    return f", {sql}" if sql else ""


def run_rules(session, table: RawTable, rules: Sequence[Rule],
              unique: Sequence[str] = (), aggregates: Sequence[str] = ()) -> tuple[int, list]:
    """Check ``rules`` (and uniqueness of the ``unique`` key) on ``table`` in one scan of ``session``.

    Returns the row count and the values of ``aggregates`` (SQL aggregates
    computed in the same scan, e.g. the first and last timestamp).

    Raises
    ------
    ValidationFailed
        Listing every broken rule with its count and first bad row.
    """
    view = quote(table.view)
    counts = ", ".join([f"count_if({r.bad})" for r in rules] + list(aggregates))
    dup = ""
    if unique:
        key = ", ".join(quote(c) for c in unique)
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in unique)  # blanks are reported as missing
        dup = _dense_duplicates(session, table, unique) or (
            f", (SELECT count(*) - count(DISTINCT {key}) FROM {view} WHERE {present})" if len(unique) == 1 else
            f", (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {view} WHERE {present} "
            f"GROUP BY {key}) AS k)")
    try:
        row = session.rows(f"SELECT count(*){', ' + counts if counts else ''}{dup} FROM {view}")[0]
    except session.errors as error:  # the whole file is read here first: name it
        raise InputError(f"cannot be read: {session.message(error)}", source=table.label) from None
    n_rows, bad = row[0], [b or 0 for b in row[1:1 + len(rules)]]
    values = list(row[1 + len(rules):1 + len(rules) + len(aggregates)])
    problems = []
    for rule, count in zip(rules, bad):
        if count:
            first = session.rows(f"SELECT min(__row) FROM ({table.numbered_sql}) AS t WHERE {rule.bad}")[0][0]
            problems.append({"source": table.label, "column": rule.column, "what": rule.what,
                             "count": int(count), "row": int(first)})
    if unique and row[-1]:  # duplicates (None on an empty table)
        key = ", ".join(quote(c) for c in unique)
        first, count = session.rows(
            f"SELECT min(__row), count(*) FROM (SELECT __row, row_number() OVER "
            f"(PARTITION BY {key} ORDER BY __row) AS k FROM ({table.numbered_sql}) AS t) AS d WHERE k > 1")[0]
        problems.append({"source": table.label, "column": ", ".join(unique),
                         "what": "repeats an id already used in an earlier row",
                         "count": int(count), "row": int(first)})
    if problems:
        problems.sort(key=lambda p: p["row"])
        problems[0]["source"], problems[0]["row"] = table.locate(session, problems[0]["row"])
        raise ValidationFailed(problems)
    return int(n_rows), values
