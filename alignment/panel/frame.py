"""The shared layer for panel series: segments, periods and gaps, lags, demeaning, calendar, weights.

Every analysis of steps 4-6 (``correlate``, ``regress``, ``relative_importance``,
``tipping_point``, ``validate`` and the study) reads a panel through :class:`PanelFrame` and the
functions here, so a control such as period effects is one change, not six.

Conventions
-----------
- **Segments** are coded 0..S-1 in the sorted order of their labels (``segment_codes``).
- **Periods** are numbered so that consecutive periods differ by one (``period_number``); a
  missing period is a jump, and nothing is ever paired across it.
- **Lags** are taken within a segment by period number (``lag_columns``): the KPI ``lag``
  periods earlier in the same segment, missing when that period is absent.
- **Effects** (``EFFECTS``): ``"twoway"`` removes segment and period means (two-way fixed
  effects: shocks common to all segments in a period are absorbed), ``"segment"`` removes
  segment means, ``"none"`` the overall mean. Weighted and unbalanced panels are demeaned by
  alternating projections to machine precision (``demean``).
- **Weights** follow the survey outcome: a period's CX value is an estimate whose sampling
  variance is known, so rows are weighted by its inverse (``outcome_weights``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, OptionError

__all__ = ["EFFECTS", "WEIGHTS", "PanelFrame", "period_number", "infer_grain", "segment_codes",
           "segment_labels", "lag_columns", "demean", "block_length", "outcome_weights",
           "calendar_columns", "centre_wide", "require_columns", "check_unique_periods"]

EFFECTS = ("twoway", "segment", "none")
WEIGHTS = ("responses", "none")


# ----------------------------------------------------------------------------- periods, segments

def infer_grain(periods: pd.Series) -> str:
    """The grain of a period column: month when every date is a 1st, week when all are Mondays 7k days apart."""
    p = pd.to_datetime(pd.Series(periods).dropna().unique())
    if len(p) == 0:
        return "day"
    p = pd.Series(np.sort(p))
    if (p.dt.day == 1).all() and len(p) > 1 and p.diff().dropna().dt.days.min() >= 28:
        return "month"
    days = p.diff().dropna().dt.days
    if (p.dt.day_of_week == 0).all() and (len(days) == 0 or (days % 7 == 0).all()):
        return "week"
    return "day"


def period_number(periods: pd.Series, grain: str) -> np.ndarray:
    """Consecutive periods get consecutive integers, so a gap shows as a jump.

    Examples
    --------
    >>> period_number(pd.Series(pd.to_datetime(["2025-01-06", "2025-01-20"])), "week").tolist()
    [2870, 2872]
    """
    p = pd.to_datetime(pd.Series(periods))
    if grain == "month":
        return (p.dt.year * 12 + p.dt.month - 1).to_numpy(dtype=np.int64)
    days = (p - pd.Timestamp("1970-01-05")).dt.days.to_numpy(dtype=np.int64)  # a Monday
    return days // 7 if grain == "week" else days


def segment_codes(data: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Segment code of each row: 0..S-1 in the sorted order of the segment labels (0 without segments)."""
    if not by:
        return np.zeros(len(data), dtype=np.int64)
    return data.groupby(list(by), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)


def segment_labels(data: pd.DataFrame, by: Sequence[str]) -> dict[int, str]:
    """Code -> label (``"billing"``, or ``"billing / voice"`` for several segment columns)."""
    if not by:
        return {0: "all"}
    keys = data[list(by)].drop_duplicates().sort_values(list(by)).reset_index(drop=True)
    return {i: " / ".join(str(v) for v in row) for i, row in enumerate(keys.itertuples(index=False))}


def require_columns(data: pd.DataFrame, columns, numeric=()) -> None:
    """Every column must exist, and those in ``numeric`` must hold numbers (InputError otherwise)."""
    for c in dict.fromkeys(columns):
        if c not in data.columns:
            raise InputError(f"is not a column of the panel (columns: {', '.join(map(str, data.columns))})",
                             column=c)
    for c in dict.fromkeys(numeric):
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise InputError("is not numeric", column=c)


def check_unique_periods(data: pd.DataFrame, time: str, by: Sequence[str]) -> None:
    """A panel has one row per period and segment; two rows would make lags ambiguous."""
    dup = data.duplicated([time, *by])
    if dup.any():
        row = int(np.argmax(dup.to_numpy()))
        where = ", ".join(f"{c}={data.iloc[row][c]}" for c in [time, *by])
        raise InputError(f"has more than one row for {where}: give the segment columns (by=...)",
                         column=time, row=row + 1)


def lag_columns(data: pd.DataFrame, lags: Mapping[str, int], by: Sequence[str],
                number: np.ndarray) -> pd.DataFrame:
    """``seg``, ``t`` and each column of ``lags`` taken ``lag`` periods earlier in the same segment.

    One row per row of ``data``, in its order; a value whose earlier period is absent (a gap,
    or before the segment's first period) is missing, never borrowed from another segment.
    """
    seg = segment_codes(data, by)
    out = pd.DataFrame({"seg": seg, "t": np.asarray(number, dtype=np.int64)})
    for col, lag in lags.items():
        shifted = pd.DataFrame({"seg": seg, "t": out["t"].to_numpy() + int(lag),
                                col: data[col].to_numpy(dtype=float)})
        out[col] = out.merge(shifted, on=["seg", "t"], how="left")[col].to_numpy()
    return out


def block_length(n_periods: int) -> int:
    """Block length of the circular block bootstrap: the cube root of the periods, at least 2.

    Examples
    --------
    >>> block_length(52), block_length(364)
    (4, 7)
    """
    return max(2, int(round(max(int(n_periods), 1) ** (1 / 3))))


# ----------------------------------------------------------------------------- demeaning

def _group_means(values: np.ndarray, codes: np.ndarray, n: int, w: np.ndarray) -> np.ndarray:
    sw = np.bincount(codes, weights=w, minlength=n)
    out = np.empty((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=w * values[:, j], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sw[:, None] > 0, out / sw[:, None], 0.0)


def _trend_residual(values: np.ndarray, seg: np.ndarray, n_seg: int, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Residuals of each column on a segment-specific intercept and linear trend (weighted)."""
    tm = _group_means(t[:, None].astype(float), seg, n_seg, w)[:, 0]
    tc = t - tm[seg]
    means = _group_means(values, seg, n_seg, w)
    vc = values - means[seg]
    stt = np.bincount(seg, weights=w * tc * tc, minlength=n_seg)
    out = np.empty_like(vc)
    for j in range(values.shape[1]):
        stv = np.bincount(seg, weights=w * tc * vc[:, j], minlength=n_seg)
        slope = np.divide(stv, stt, out=np.zeros(n_seg), where=stt > 0)
        out[:, j] = vc[:, j] - slope[seg] * tc
    return out


#: Two-way demeaning is solved exactly through the smaller of the two sides (segments or periods)
#: when it has at most this many levels; beyond, by alternating projections.
MAX_EXACT_SIDE = 2000


def _twoway_exact(v: np.ndarray, seg: np.ndarray, n_seg: int, pcode: np.ndarray, n_per: int,
                  w: np.ndarray) -> np.ndarray:
    """Weighted residuals of each column on segment and period dummies, solved exactly.

    The period effects are swept out in closed form and the segment effects solve the small
    (n_seg x n_seg) reduced normal equations (their Schur complement), by least squares since
    they are singular (a constant moves between the two sides); the sides swap when there are
    more segments than periods. The residuals are those of alternating projections at
    convergence (the tests check both against a dummy regression).
    """
    if n_seg > n_per:
        seg, n_seg, pcode, n_per = pcode, n_per, seg, n_seg
    M = np.bincount(pcode * n_seg + seg, weights=w, minlength=n_per * n_seg).reshape(n_per, n_seg)
    wp = M.sum(axis=1)
    inv = np.divide(1.0, wp, out=np.zeros(n_per), where=wp > 0)
    MtD = M.T * inv
    A = np.diag(M.sum(axis=0)) - MtD @ M
    k = v.shape[1]
    xp = np.column_stack([np.bincount(pcode, weights=w * v[:, j], minlength=n_per) for j in range(k)])
    xs = np.column_stack([np.bincount(seg, weights=w * v[:, j], minlength=n_seg) for j in range(k)])
    alpha = np.linalg.lstsq(A, xs - MtD @ xp, rcond=None)[0]
    gamma = (xp - M @ alpha) * inv[:, None]
    return v - alpha[seg] - gamma[pcode]


def demean(values, seg, period, effects: str = "twoway", weights=None, *, trend: bool = False,
           tol: float = 1e-13, max_iter: int = 10_000) -> np.ndarray:
    """Residuals of each column after the fixed effects (and segment trends), weighted least squares.

    Parameters
    ----------
    values : array of shape (n,) or (n, k)
    seg, period : arrays of int, shape (n,)
        Segment code and period number of each row.
    effects : {"twoway", "segment", "none"}
        Segment and period effects, segment effects, or the overall mean.
    weights : array of shape (n,), optional
    trend : bool
        Also remove a linear time trend per segment (per panel for ``effects="none"``).

    Returns
    -------
    ndarray of the shape of ``values``
        The residuals of the weighted projection on the effects. For ``"twoway"``: solved
        exactly through the smaller side (:func:`_twoway_exact`) when it has at most
        :data:`MAX_EXACT_SIDE` levels; otherwise, and with ``trend``, alternating projections
        (Guimarães & Portugal 2010, the method of ``lfe``/``fixest``) iterate until the largest
        change is below ``tol`` times the column's scale.

    Examples
    --------
    >>> seg = np.array([0, 0, 1, 1]); t = np.array([0, 1, 0, 1])
    >>> demean(np.array([1.0, 2.0, 3.0, 5.0]), seg, t).round(2).tolist()
    [0.25, -0.25, -0.25, 0.25]
    """
    if effects not in EFFECTS:
        raise OptionError(f"The 'effects' parameter must be one of 'twoway', 'segment', 'none'. "
                          f"Got {effects!r} instead.")
    v = np.asarray(values, dtype=float)
    flat = v.ndim == 1
    v = v[:, None] if flat else v.copy()
    n = len(v)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    seg = np.asarray(seg, dtype=np.int64) if effects != "none" else np.zeros(n, dtype=np.int64)
    t = np.asarray(period, dtype=np.int64)
    if n == 0:
        return v[:, 0] if flat else v
    n_seg = int(seg.max()) + 1

    def one_way(x):
        if trend:
            return _trend_residual(x, seg, n_seg, t, w)
        return x - _group_means(x, seg, n_seg, w)[seg]

    if effects != "twoway":
        out = one_way(v)
        return out[:, 0] if flat else out
    periods, pcode = np.unique(t, return_inverse=True)
    n_per = len(periods)
    if not trend and min(n_seg, n_per) <= MAX_EXACT_SIDE:
        out = _twoway_exact(v, seg, n_seg, pcode, n_per, w)
        return out[:, 0] if flat else out
    scale = np.maximum(np.abs(v).max(axis=0), 1e-300)
    x = v
    for _ in range(max_iter):
        prev = x
        x = one_way(x)
        x = x - _group_means(x, pcode, n_per, w)[pcode]
        if np.all(np.abs(x - prev).max(axis=0) <= tol * scale):
            break
    else:  # pragma: no cover - alternating projections always converge; this guards a pathology
        raise InputError(f"two-way demeaning did not converge in {max_iter} sweeps")
    return x[:, 0] if flat else x


def centre_wide(values, seg, period, weights=None) -> bool:
    """True when a series has (almost) no variation between segments in any period.

    Such a KPI (marketing spend, weather, a centre-wide staffing figure) is absorbed by period
    effects: it can be analysed on time variation only.
    """
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    if ok.sum() < 2 or len(np.unique(np.asarray(seg)[ok])) < 2:
        return False
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    within = demean(x[ok], np.asarray(seg)[ok], np.asarray(period)[ok], "segment", w)
    both = demean(x[ok], np.asarray(seg)[ok], np.asarray(period)[ok], "twoway", w)
    total = float(np.dot(within, within))
    return total <= 0 or float(np.dot(both, both)) <= 1e-8 * total


# ----------------------------------------------------------------------------- weights

def outcome_weights(data: pd.DataFrame, outcome: str, kind: str = "responses", definitions=None) -> np.ndarray | None:
    """Weight of each row for a survey outcome: the inverse of its sampling variance, up to a constant.

    ``"responses"``: the outcome's response count (``csat_n``, ``ces_n``, or ``n_surveys`` for a
    composite) for CSAT, CES and means; for NPS ``1 / nps_se^2``, with the standard error floored
    at a quarter of its median so a cell of only promoters does not get an infinite weight.
    ``"none"``: no weights (returns None). A DataFrame without a count column gets no weights.

    Examples
    --------
    >>> t = pd.DataFrame({"csat": [80.0, 90.0], "csat_n": [10, 40]})
    >>> outcome_weights(t, "csat").tolist()
    [10.0, 40.0]
    """
    if kind not in WEIGHTS:
        raise OptionError(f"The 'weights' parameter must be 'responses' or 'none'. Got {kind!r} instead.")
    if kind == "none":
        return None
    se = f"{outcome}_se"
    if se in data.columns and f"{outcome}_promoters" in data.columns:
        s = data[se].to_numpy(dtype=float)
        floor = 0.25 * np.nanmedian(s[s > 0]) if np.any(s > 0) else 1.0
        return 1.0 / np.maximum(np.where(np.isfinite(s), s, np.nan), floor) ** 2
    for col in (f"{outcome}_n", "n_surveys"):
        if col in data.columns:
            return data[col].to_numpy(dtype=float)
    return None


# ----------------------------------------------------------------------------- calendar

@dataclass(frozen=True)
class Calendar:
    """Calendar controls of a day or week panel.

    Attributes
    ----------
    country, subdivision : str or None
        Public holidays from the ``holidays`` package (``country="US", subdivision="NY"``).
    events : tuple of (date, name)
        Declared event days (outages, billing runs) as controls.
    """

    country: str | None = None
    subdivision: str | None = None
    events: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        return {"country": self.country, "subdivision": self.subdivision,
                "events": [{"date": d, "name": n} for d, n in self.events]}


def calendar_columns(periods: pd.Series, grain: str, calendar: Calendar | None = None) -> pd.DataFrame:
    """Calendar control columns for each row's period (one row per row of ``periods``).

    - day grain: weekday indicators (Monday is the base), a public-holiday indicator when a
      country is declared, and an indicator per declared event name;
    - week grain: the number of holiday weekdays in the week and the event days per name, and
      when the periods span more than a year, week-of-year seasonality as three Fourier pairs
      (sin/cos of 2 pi k week / 52.18, k = 1..3);
    - month grain: nothing (period effects or segment trends cover months).

    Columns that do not vary are left out.
    """
    p = pd.to_datetime(pd.Series(periods)).reset_index(drop=True)
    cols: dict[str, np.ndarray] = {}
    cal = calendar or Calendar()
    holiday_days: set = set()
    if cal.country and grain in ("day", "week"):
        holiday_days = _holidays(cal, p.min(), p.max() + pd.Timedelta(days=6))
    events: dict[str, set] = {}
    for d, name in cal.events:
        events.setdefault(name, set()).add(pd.Timestamp(d).normalize())
    if grain == "day":
        wd = p.dt.day_of_week.to_numpy()
        for k, name in enumerate(("tue", "wed", "thu", "fri", "sat", "sun"), start=1):
            cols[f"cal_{name}"] = (wd == k).astype(float)
        if holiday_days:
            cols["cal_holiday"] = p.isin(holiday_days).to_numpy(dtype=float)
        for name, days in events.items():
            cols[f"event_{_slug(name)}"] = p.isin(days).to_numpy(dtype=float)
    elif grain == "week":
        if holiday_days:
            hol = pd.Series(sorted(holiday_days))
            hol = hol[hol.dt.day_of_week < 5]
            weeks = (hol - pd.to_timedelta(hol.dt.day_of_week, unit="D")).value_counts()
            cols["cal_holidays"] = p.map(weeks).fillna(0).to_numpy(dtype=float)
        for name, days in events.items():
            ev = pd.Series(sorted(days))
            weeks = (ev - pd.to_timedelta(ev.dt.day_of_week, unit="D")).value_counts()
            cols[f"event_{_slug(name)}"] = p.map(weeks).fillna(0).to_numpy(dtype=float)
        if len(p) and (p.max() - p.min()).days > 371:
            woy = p.dt.isocalendar().week.to_numpy(dtype=float)
            for k in (1, 2, 3):
                cols[f"cal_woy_sin{k}"] = np.sin(2 * math.pi * k * woy / 52.18)
                cols[f"cal_woy_cos{k}"] = np.cos(2 * math.pi * k * woy / 52.18)
    out = pd.DataFrame(cols, index=range(len(p)))
    keep = [c for c in out.columns if out[c].nunique() > 1]
    return out[keep]


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).lower()).strip("_") or "event"


def _holidays(cal: Calendar, first, last) -> set:
    try:
        import holidays
    except ImportError:  # pragma: no cover - holidays is a runtime dependency
        raise OptionError("calendar holidays need the 'holidays' package: pip install holidays") from None
    years = range(pd.Timestamp(first).year, pd.Timestamp(last).year + 1)
    try:
        days = holidays.country_holidays(cal.country, subdiv=cal.subdivision, years=years)
    except NotImplementedError:
        raise OptionError(f"The calendar country {cal.country!r} is not known to the holidays package "
                          f"(use an ISO 3166 code such as 'US', 'GB', 'DE').") from None
    except Exception as error:  # an unknown subdivision raises a plain exception in holidays
        raise OptionError(f"The calendar subdivision {cal.subdivision!r} of {cal.country!r} is not known "
                          f"to the holidays package ({error}).") from None
    return {pd.Timestamp(d) for d in days}


# ----------------------------------------------------------------------------- the frame

@dataclass(frozen=True)
class PanelFrame:
    """A panel read for analysis: its table, segment codes, period numbers and grain.

    Build it with :meth:`from_panel` from a :class:`~alignment.Panel` or a DataFrame with a
    period column.

    Attributes
    ----------
    data : pandas.DataFrame
    by : tuple of str
        Segment columns.
    grain : {"day", "week", "month"}
    time : str
        The period column.
    seg : ndarray of int
        Segment code of each row (see :func:`segment_codes`).
    t : ndarray of int
        Period number of each row (see :func:`period_number`).
    labels : dict
        Segment code -> label.
    definitions : mapping
        Metric definitions of a Panel (empty for a DataFrame).

    Examples
    --------
    >>> t = pd.DataFrame({"period": pd.to_datetime(["2025-01-06", "2025-01-13"] * 2),
    ...                   "queue": ["a", "a", "b", "b"], "csat": [80.0, 82, 70, 75]})
    >>> f = PanelFrame.from_panel(t, by=["queue"])
    >>> f.grain, f.n_segments, f.n_periods
    ('week', 2, 2)
    """

    data: pd.DataFrame
    by: tuple[str, ...]
    grain: str
    time: str
    seg: np.ndarray = field(repr=False)
    t: np.ndarray = field(repr=False)
    labels: dict = field(repr=False)
    definitions: Mapping = field(default_factory=dict, repr=False)

    @classmethod
    def from_panel(cls, panel, by: Sequence[str] | None = None, grain: str | None = None,
                   time: str = "period") -> "PanelFrame":
        """Read a Panel or a DataFrame, check it for analysis, and code segments and periods."""
        from .result import Panel
        definitions = {}
        if isinstance(panel, PanelFrame):
            return panel
        if isinstance(panel, Panel):
            data = panel.table
            by = panel.by if by is None else by
            grain = grain or panel.grain
            definitions = dict(panel.definitions)
        elif isinstance(panel, pd.DataFrame):
            data = panel
            by = by or ()
        else:
            raise OptionError(f"The analysis needs a Panel or a DataFrame. Got {type(panel).__name__} instead.")
        by = (by,) if isinstance(by, str) else tuple(by)
        if data.empty:
            raise InputError("the panel has no rows")
        if time not in data.columns:
            raise InputError("is not a column of the panel", column=time)
        for b in by:
            if b not in data.columns:
                raise InputError("is not a column of the panel", column=b)
        check_unique_periods(data, time, by)
        grain = grain or infer_grain(data[time])
        if grain not in ("day", "week", "month"):
            raise OptionError(f"The 'grain' parameter must be 'day', 'week' or 'month'. Got {grain!r} instead.")
        data = data.reset_index(drop=True)
        return cls(data=data, by=by, grain=grain, time=time, seg=segment_codes(data, by),
                   t=period_number(data[time], grain), labels=segment_labels(data, by),
                   definitions=definitions)

    @property
    def n_segments(self) -> int:
        return len(self.labels) if self.by else 1

    @property
    def n_periods(self) -> int:
        return int(len(np.unique(self.t)))

    def lag(self, lags: Mapping[str, int]) -> pd.DataFrame:
        """``seg``, ``t`` and each column at its lag (see :func:`lag_columns`)."""
        return lag_columns(self.data, lags, self.by, self.t)

    def default_effects(self) -> str:
        """``"twoway"`` with 3 or more segments, ``"segment"`` with 2, ``"none"`` for one series."""
        return "twoway" if self.n_segments >= 3 else "segment" if self.n_segments == 2 else "none"

    def effects(self, effects: str | None) -> str:
        """The effects to use: the default for ``None``; checked against the segments."""
        if effects is None:
            return self.default_effects()
        if effects not in EFFECTS:
            raise OptionError(f"The 'effects' parameter must be one of 'twoway', 'segment', 'none'. "
                              f"Got {effects!r} instead.")
        if effects == "twoway" and self.n_segments < 2:
            raise OptionError("effects='twoway' needs at least two segments: with one series, period effects "
                              "would absorb everything. Use effects='none' (or 'segment').")
        return effects

    def weights(self, outcome: str, kind: str = "responses") -> np.ndarray | None:
        """Row weights for a survey outcome (see :func:`outcome_weights`)."""
        return outcome_weights(self.data, outcome, kind)

    def analysis_table(self, outcome: str, weights="responses", drop_low_responses: bool = True):
        """The table an analysis uses: low-response periods' outcome blanked, and the weight column.

        Returns ``(table, weight column or None, weights label, rows left out for low responses)``.
        ``weights`` is ``"responses"``, ``"none"`` (or None) or a column name; weights that come from
        the outcome's responses are added as the column ``_w``. The table is a copy.
        """
        data = self.data.copy()
        n_low = 0
        if drop_low_responses and "low_responses" in data.columns:
            low = data["low_responses"].fillna(False).to_numpy(dtype=bool) & data[outcome].notna().to_numpy()
            n_low = int(low.sum())
            data[outcome] = data[outcome].astype(float).where(~low)
        if weights is None or weights == "none":
            return data, None, "none", n_low
        if weights in WEIGHTS:
            w = self.weights(outcome, weights)
            if w is None:
                return data, None, "none", n_low
            data["_w"] = w
            return data, "_w", weights, n_low
        require_columns(data, [weights], numeric=[weights])
        if (data[weights].dropna() < 0).any():
            raise InputError("has negative weights", column=weights)
        return data, weights, weights, n_low

    def calendar(self, calendar: Calendar | None = None) -> pd.DataFrame:
        """Calendar control columns for each row (see :func:`calendar_columns`)."""
        return calendar_columns(self.data[self.time], self.grain, calendar)
