"""Panel series for correlation: period numbering, lags, and the scope transforms.

Contact-center panels are short time series per segment. Everything here works
within segments: a lag never reaches across a segment boundary or across a gap
in the periods, and the scope transforms (segment means, linear trends, first
differences) are computed per segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import InputError, OptionError

BASES = ("pooled", "within", "per_segment")
TRANSFORMS = ("", "detrended", "differenced")
SCOPES = tuple(b if not t else f"{b}_{t}" for t in TRANSFORMS for b in BASES)


def parse_scope(scope: str) -> tuple[str, str]:
    """``"within_detrended"`` -> ``("within", "detrended")``."""
    if scope not in SCOPES:
        raise OptionError(f"The 'scope' parameter of correlate must be among {', '.join(SCOPES)}. "
                          f"Got {scope!r} instead.")
    base, _, transform = scope.partition("_") if not scope.startswith("per_segment") else (
        "per_segment", "_", scope[len("per_segment_"):])
    return base, transform


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
    """Consecutive periods get consecutive integers, so a gap shows as a jump."""
    p = pd.to_datetime(periods)
    if grain == "month":
        return (p.dt.year * 12 + p.dt.month - 1).to_numpy(dtype=np.int64)
    days = (p - pd.Timestamp("1970-01-05")).dt.days.to_numpy(dtype=np.int64)  # a Monday
    return days // 7 if grain == "week" else days


def lagged_frame(data: pd.DataFrame, outcome: str, kpi: str, lag: int, segments: list[str],
                 number: np.ndarray, extra: list[str]) -> pd.DataFrame:
    """Pairs (KPI at t - lag, outcome at t) within each segment, complete cases only.

    Returns columns ``seg`` (segment code), ``t`` (period number), ``x``, ``y`` and the
    ``extra`` columns (covariates, weights) taken at the outcome's period.
    """
    pairs = lag_columns(data, {kpi: lag}, segments, number).rename(columns={kpi: "x"})
    pairs["y"] = data[outcome].to_numpy(dtype=float)
    for col in extra:
        pairs[col] = data[col].to_numpy(dtype=float)
    pairs = pairs.replace([np.inf, -np.inf], np.nan).dropna()
    return pairs.sort_values(["seg", "t"], kind="stable").reset_index(drop=True)


def require_columns(data: pd.DataFrame, columns, numeric=()) -> None:
    """Every column must exist, and those in ``numeric`` must hold numbers (InputError otherwise)."""
    for c in dict.fromkeys(columns):
        if c not in data.columns:
            raise InputError(f"is not a column of the panel (columns: {', '.join(map(str, data.columns))})",
                             column=c)
    for c in dict.fromkeys(numeric):
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise InputError("is not numeric", column=c)


def lag_columns(data: pd.DataFrame, lags: dict[str, int], segments: list[str],
                number: np.ndarray) -> pd.DataFrame:
    """``seg``, ``t`` and each column of ``lags`` taken ``lag`` periods earlier in the same segment.

    One row per row of ``data``, in its order; a value whose earlier period is absent (a gap,
    or before the segment's first period) is missing, never borrowed from another segment.
    """
    seg = _segment_codes(data, segments)
    out = pd.DataFrame({"seg": seg, "t": number})
    for col, lag in lags.items():
        shifted = pd.DataFrame({"seg": seg, "t": number + lag, col: data[col].to_numpy(dtype=float)})
        out[col] = out.merge(shifted, on=["seg", "t"], how="left")[col].to_numpy()
    return out


def check_unique_periods(data: pd.DataFrame, time: str, segments: list[str]) -> None:
    """A panel has one row per period and segment; two rows would make lags ambiguous."""
    dup = data.duplicated([time, *segments])
    if dup.any():
        row = int(np.argmax(dup.to_numpy()))
        where = ", ".join(f"{c}={data.iloc[row][c]}" for c in [time, *segments])
        raise InputError(f"has more than one row for {where}: give the segment columns (by=...)",
                         column=time, row=row + 1)


def _segment_codes(data: pd.DataFrame, segments: list[str]) -> np.ndarray:
    if not segments:
        return np.zeros(len(data), dtype=np.int64)
    return data.groupby(segments, sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)


def transform(pairs: pd.DataFrame, columns: list[str], base: str, kind: str) -> tuple[pd.DataFrame, int]:
    """Apply a scope to ``columns`` of ``pairs``; return the frame and the parameters it used up.

    - differenced: first differences within a segment, between consecutive periods only;
    - detrended: a linear time trend removed (per segment for within/per_segment, common for pooled);
    - within / per_segment: segment means removed (per_segment data holds one segment).
    Returns the parameters estimated beyond the one mean that every correlation test already
    allows for, to be subtracted from the effective sample size.
    """
    out = pairs.reset_index(drop=True)
    used = 0
    if kind == "differenced":
        g = out.groupby("seg", sort=False)
        step = g["t"].diff()
        for c in columns:
            out[c] = g[c].diff().where(step == 1)
        out = out.dropna(subset=columns).reset_index(drop=True)
    n_seg = out["seg"].nunique()
    if kind == "detrended":
        if base == "pooled":
            out, used = _residualize(out, columns, by=None, trend=True), 1
        else:
            out, used = _residualize(out, columns, by="seg", trend=True), 2 * n_seg - 1
    elif base in ("within", "per_segment"):
        out, used = _residualize(out, columns, by="seg", trend=False), n_seg - 1
    return out, used


def _residualize(frame: pd.DataFrame, columns: list[str], by: str | None, trend: bool) -> pd.DataFrame:
    """Residuals of each column on an intercept (and a time trend), per group, weighted if ``w`` exists."""
    out = frame.copy()
    groups = [(None, out.index)] if by is None else out.groupby(by, sort=False).groups.items()
    w_all = out["w"].to_numpy(dtype=float) if "w" in out else np.ones(len(out))
    for _, idx in groups:
        idx = np.asarray(idx)
        w = w_all[idx]
        design = np.ones((len(idx), 1))
        if trend:
            t = out.loc[idx, "t"].to_numpy(dtype=float)
            design = np.column_stack([design, t - t.mean()])
        sw = np.sqrt(w)[:, None]
        for c in columns:
            v = out.loc[idx, c].to_numpy(dtype=float)
            beta, *_ = np.linalg.lstsq(design * sw, v * sw[:, 0], rcond=None)
            out.loc[idx, c] = v - design @ beta
    return out


def unpack_panel(panel, by, grain, time):
    """The table, segment columns and grain of a Panel or DataFrame, checked for analysis."""
    from ..panel import Panel
    if isinstance(panel, Panel):
        data = panel.table
        by = panel.by if by is None else by
        grain = grain or panel.grain
    elif isinstance(panel, pd.DataFrame):
        data = panel
        by = by or ()
    else:
        raise OptionError(f"The analysis needs a Panel or a DataFrame. Got {type(panel).__name__} instead.")
    by = [by] if isinstance(by, str) else list(by)
    if data.empty:
        raise InputError("the panel has no rows")
    if time not in data.columns:
        raise InputError("is not a column of the panel", column=time)
    check_unique_periods(data, time, by)
    grain = grain or infer_grain(data[time])
    if grain not in ("day", "week", "month"):
        raise OptionError(f"The 'grain' parameter must be 'day', 'week' or 'month'. Got {grain!r} instead.")
    return data, by, grain


def segment_labels(data: pd.DataFrame, by: list[str]) -> dict[int, str]:
    if not by:
        return {0: "all"}
    keys = data[by].drop_duplicates().sort_values(by).reset_index(drop=True)
    return {i: " / ".join(str(v) for v in row) for i, row in enumerate(keys.itertuples(index=False))}
