"""The :class:`Panel` result and its re-pooling to coarser grains and segments."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Mapping

import pandas as pd

from ..display import Displayed
from ..catalog import Metric, nps_standard_error
from ..exceptions import AlignmentWarning, OptionError

_ORDER = {"day": 0, "week": 1, "month": 2}


class NonAdditiveMetricWarning(AlignmentWarning):
    """A metric needs a distinct count and cannot be re-pooled from a panel."""


# A cell a spreadsheet would read as a formula (CSV injection): = + - @, and the tab and carriage
# return that some of them skip first; a plain number such as -3.5 or +1e3 is not one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """``value`` with a leading ``'`` when it is text that a spreadsheet would run as a formula.

    Only text is changed, and only when it starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return and is not a plain number: numbers (a negative one too) stay numbers.

    Examples
    --------
    >>> print(spreadsheet_safe("=SUM(A1:A9)"), spreadsheet_safe("-3.5"), spreadsheet_safe(-3.5))
    '=SUM(A1:A9) -3.5 -3.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells and column names are :func:`spreadsheet_safe`.

    Numeric, boolean and date columns are left as they are; in text columns, only strings change.
    """
    out = table.rename(columns=lambda c: spreadsheet_safe(c) if isinstance(c, str) else c)
    for i, column in enumerate(table.columns):
        values = table.iloc[:, i]
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            out.isetitem(i, values.map(spreadsheet_safe, na_action="ignore"))
    return out


def period_start(periods: pd.Series, grain: str) -> pd.Series:
    """Start date of the ``grain`` period holding each date (ISO weeks start on Monday)."""
    periods = pd.to_datetime(periods)
    if grain == "week":
        return periods - pd.to_timedelta(periods.dt.day_of_week, unit="D")
    if grain == "month":
        return periods.dt.to_period("M").dt.start_time
    return periods


@dataclass(frozen=True, repr=False)
class Panel(Displayed):
    """A KPI panel: one row per period x segment, with pooled components and metrics.

    Attributes
    ----------
    table : pandas.DataFrame
        ``period``, the segment columns, additive components (``n_contacts``,
        ``n_answered``, ..., ``n_surveys``), metric columns, ``low_responses``
        and extra-source columns. Columns ending in ``__sum``, ``__n`` or
        ``__at`` support re-pooling of extra sources.
    grain, by, timezone, start, end
        How the panel was cut.
    definitions : mapping of metric name -> Metric
        The exact definition (variant, formula) of each metric column.
    extra_rules : mapping of column -> aggregate rule
    n_contacts, n_surveys, n_surveys_matched : int
        Contacts read, surveys read, surveys whose contact is known.
    notes : tuple of (code, message)
        Data-quality remarks for reports (unmatched surveys, thin periods).
    contact_frame : pandas.DataFrame or None
        With ``build_panel(contact_frame=True)``: one row per survey joined to the contact it
        rates (see :func:`alignment.build_panel`); None otherwise.
    """

    table: pd.DataFrame
    grain: str
    by: tuple[str, ...]
    timezone: str | None
    start: dt.date
    end: dt.date
    definitions: Mapping[str, Metric]
    extra_rules: Mapping[str, str] = field(default_factory=dict)
    min_responses: int = 30
    n_contacts: int = 0
    n_surveys: int = 0
    n_surveys_matched: int = 0
    notes: tuple[tuple[str, str], ...] = ()
    contact_frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the metric columns."""
        return tuple(self.definitions)

    @property
    def support_columns(self) -> list[str]:
        return [c for c in self.table.columns if c.endswith(("__sum", "__n", "__at"))]

    def totals(self) -> pd.Series:
        """Every metric pooled over the whole panel (components summed, then divided)."""
        sums = self.table[[c for c in _components(self) if c != "n_customers"]].sum().to_frame().T
        out = {}
        for name, m in self.definitions.items():
            if m.additive:
                out[name] = float(m.evaluate(sums).iloc[0])
        return pd.Series(out, dtype=float)

    def summary(self) -> str:
        """A short text summary: cut, coverage and the pooled value of each metric."""
        t = self.table
        n_periods = t["period"].nunique()
        n_segments = len(t.drop_duplicates(list(self.by))) if self.by else 1
        lines = [
            f"KPI panel: {self.grain} grain, {self.start} to {self.end}"
            + (f" ({self.timezone})" if self.timezone else ""),
            f"  {n_periods} periods x {n_segments} segments"
            + (f" by {', '.join(self.by)}" if self.by else " (whole center)") + f" = {len(t)} rows",
            f"  contacts in window: {int(t['n_contacts'].sum()):,} of {self.n_contacts:,} read",
        ]
        if "n_surveys" in t:
            lines.append(f"  surveys in window: {int(t['n_surveys'].sum()):,} of {self.n_surveys:,} read "
                         f"({self.n_surveys_matched:,} matched to a contact); "
                         f"{int(t['low_responses'].sum())} rows below {self.min_responses} responses")
        totals = self.totals()
        if len(totals):
            lines.append("  pooled over the whole panel:")
            for name, value in totals.items():
                m = self.definitions[name]
                shown = f"{value:>12,.0f}" if m.rollup == "sum" else f"{value:>12.2f}"
                lines.append(f"    {name:<28} {shown} {m.unit}")
            per_row = [n for n, m in self.definitions.items() if not m.additive]
            if per_row:
                lines.append(f"    ({', '.join(per_row)}: per row only, distinct counts do not add up)")
        for _, message in self.notes:
            lines.append(f"  note: {message}")
        return "\n".join(lines)

    def contact_frame_at(self, lags: Mapping[str, int]) -> pd.DataFrame:
        """The survey-level frame with queue-period values of panel columns at their lags.

        Each survey gets, for each column of ``lags`` (an extra source such as ``email_backlog``,
        or any KPI of the panel), the value of its own segment ``lag`` periods before its period,
        in a column named after it (``email_backlog_lag1`` for a lag of 1). Under segment x period
        fixed effects these values are constant within a cell, so the contact model cannot
        estimate them; they are there for the analyst's own models.

        Examples
        --------
        >>> from alignment import ExtraSource, build_panel
        >>> p = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv", grain="week",
        ...                 by=["queue"], timezone="America/New_York", contact_frame=True,
        ...                 extras=[ExtraSource("data/demo/backlog.csv", by=["queue"])])
        >>> f = p.contact_frame_at({"email_backlog": 1})
        >>> int(f["email_backlog_lag1"].notna().sum()) < len(f) == p.n_surveys_matched
        True
        """
        from .frame import lag_columns, period_number
        if self.contact_frame is None:
            raise OptionError("This panel has no survey-level frame: build it with contact_frame=True.")
        unknown = [c for c in lags if c not in self.table.columns]
        if unknown:
            raise OptionError(f"{unknown[0]!r} is not a column of the panel.")
        keys = ["period", *self.by]
        lagged = lag_columns(self.table, lags, self.by, period_number(self.table["period"], self.grain))
        values = self.table[keys].copy()
        for col, lag in lags.items():
            values[f"{col}_lag{int(lag)}" if int(lag) else col] = lagged[col].to_numpy()
        return self.contact_frame.merge(values, on=keys, how="left", suffixes=("", "_panel"))

    def to_dict(self) -> dict:
        """Plain-Python description (without the table)."""
        return {
            "grain": self.grain, "by": list(self.by), "timezone": self.timezone,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "metrics": {k: m.to_dict() for k, m in self.definitions.items()},
            "n_rows": int(len(self.table)), "n_contacts": self.n_contacts,
            "n_surveys": self.n_surveys, "n_surveys_matched": self.n_surveys_matched,
            "notes": [{"code": c, "message": m} for c, m in self.notes],
        }

    def to_csv(self, path, *, support: bool = False, spreadsheet_safe: bool = True) -> None:
        """Write the table as CSV (dates as YYYY-MM-DD), without re-pooling support columns unless asked.

        With ``spreadsheet_safe`` (the default) a text cell or column name that a spreadsheet would
        run as a formula (it starts with ``=``, ``+``, ``-`` or ``@``, such as a queue named
        ``=HYPERLINK(...)``) is written with a leading ``'`` (:func:`spreadsheet_safe`); numbers
        are never changed.
        """
        table = self.table if support else self.table.drop(columns=self.support_columns)
        if spreadsheet_safe:
            table = spreadsheet_safe_frame(table)
        table.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.10g")

    def repool(self, *, grain: str | None = None, by=None) -> "Panel":
        """Re-pool to a coarser grain and/or fewer segments by summing components.

        Rates are recomputed from summed numerators and denominators, never
        averaged. A day panel re-pools to weeks or months; weeks do not nest in
        months, so a week panel does not re-pool to months. Distinct-count
        metrics (customer interaction rate) cannot be re-pooled and are dropped
        with a :class:`NonAdditiveMetricWarning`.

        Examples
        --------
        >>> from alignment import build_panel
        >>> day = build_panel("data/demo/contacts.csv", grain="day", by=["queue"],
        ...                   timezone="America/New_York")
        >>> week = day.repool(grain="week", by=())
        >>> week.grain, week.by
        ('week', ())
        """
        grain = grain or self.grain
        by = self.by if by is None else tuple([by] if isinstance(by, str) else by)
        if grain not in _ORDER:
            raise OptionError(f"The 'grain' parameter of repool must be one of 'day', 'week', 'month'. Got {grain!r} instead.")
        if _ORDER[grain] < _ORDER[self.grain] or (self.grain == "week" and grain == "month"):
            raise OptionError(f"A {self.grain} panel cannot be re-pooled to {grain}s: periods must nest "
                              f"(build the {grain} panel from the contacts instead).")
        unknown = [b for b in by if b not in self.by]
        if unknown:
            raise OptionError(f"Cannot re-pool by {unknown}: the panel's segments are {list(self.by)}.")
        t = self.table.copy()
        t["period"] = period_start(t["period"], grain)
        keys = ["period", *by]
        comps = [c for c in _components(self) if c != "n_customers"]
        grouped = t.groupby(keys, sort=True, dropna=False)
        out = grouped[comps].sum().reset_index()
        dropped = [n for n, m in self.definitions.items() if not m.additive]
        if dropped:
            warnings.warn(f"{', '.join(dropped)} need distinct counts and cannot be re-pooled from a "
                          f"panel; build the panel at the {grain} grain instead", NonAdditiveMetricWarning,
                          stacklevel=2)
        definitions = {n: m for n, m in self.definitions.items() if m.additive}
        for name, m in definitions.items():
            out[name] = m.evaluate(out).to_numpy()
            if name == "nps" and "nps_n" in out:
                out["nps_se"] = nps_standard_error(out["nps_promoters"], out["nps_detractors"], out["nps_n"])
        if "low_responses" in t:
            out["low_responses"] = out["n_surveys"] < self.min_responses
        for col, rule in self.extra_rules.items():
            out = out.merge(_repool_extra(t, keys, col, rule), on=keys, how="left")
        return replace(self, table=out, grain=grain, by=by, definitions=definitions, contact_frame=None)


def _components(panel: Panel) -> list[str]:
    """Additive component columns: everything between the keys and the first metric."""
    skip = {"period", *panel.by, *panel.definitions, "nps_se", "low_responses", *panel.extra_rules}
    return [c for c in panel.table.columns if c not in skip and not c.endswith(("__sum", "__n", "__at"))]


def _repool_extra(t: pd.DataFrame, keys: list[str], col: str, rule: str) -> pd.DataFrame:
    g = t.groupby(keys, sort=True, dropna=False)
    if rule == "mean":
        s, n = g[f"{col}__sum"].sum(min_count=1), g[f"{col}__n"].sum()
        frame = pd.DataFrame({col: (s / n.where(n > 0)).astype(float), f"{col}__sum": s, f"{col}__n": n})
    elif rule == "sum":
        frame = g[col].sum(min_count=1).to_frame()
    elif rule == "max":
        frame = g[col].max().to_frame()
    else:
        at = f"{col}__at"
        latest = t.dropna(subset=[at]).sort_values(at).groupby(keys, sort=True).tail(1)
        frame = latest.set_index(keys)[[col, at]]
    return frame.reset_index()
