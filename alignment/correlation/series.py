"""The scopes of a correlation: their names, the lagged pairs, and the transforms.

Periods, segments, lags and demeaning live in the shared layer :mod:`alignment.panel.frame`;
this module names the scopes (``within_twoway_detrended`` ...) and applies them to the pairs
(KPI at t - lag, outcome at t): a lag never reaches across a segment boundary or a gap in the
periods, and the transforms (segment and period means, linear trends, first differences) are
computed per segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from ..panel.frame import demean, lag_columns

BASES = ("pooled", "within", "within_twoway", "per_segment")
TRANSFORMS = ("", "detrended", "differenced")
SCOPES = tuple(b if not t else f"{b}_{t}" for t in TRANSFORMS for b in BASES)


def parse_scope(scope: str) -> tuple[str, str]:
    """``"within_twoway_detrended"`` -> ``("within_twoway", "detrended")``."""
    if scope not in SCOPES:
        raise OptionError(f"The 'scope' parameter of correlate must be among {', '.join(SCOPES)}. "
                          f"Got {scope!r} instead.")
    base = max((b for b in BASES if scope == b or scope.startswith(b + "_") and scope[len(b) + 1:] in TRANSFORMS),
               key=len)
    return base, scope[len(base) + 1:]


def lagged_frame(data: pd.DataFrame, outcome: str, kpi: str, lag: int, by: list[str],
                 number: np.ndarray, extra: list[str]) -> pd.DataFrame:
    """Pairs (KPI at t - lag, outcome at t) within each segment, complete cases only.

    Returns columns ``seg`` (segment code of the ``by`` columns), ``t`` (period number), ``x``
    (the KPI), ``y`` (the outcome) and the ``extra`` columns (covariates, weights) taken at the
    outcome's period. ``x`` and ``y`` are working names of the regressor and the regressand;
    result tables call them ``kpi`` and ``outcome``.
    """
    pairs = lag_columns(data, {kpi: lag}, by, number).rename(columns={kpi: "x"})
    pairs["y"] = data[outcome].to_numpy(dtype=float)
    for col in extra:
        pairs[col] = data[col].to_numpy(dtype=float)
    pairs = pairs.replace([np.inf, -np.inf], np.nan).dropna()
    return pairs.sort_values(["seg", "t"], kind="stable").reset_index(drop=True)


def transform(pairs: pd.DataFrame, columns: list[str], base: str, kind: str) -> tuple[pd.DataFrame, int]:
    """Apply a scope to ``columns`` of ``pairs``; return the frame and the parameters it used up.

    - differenced: first differences within a segment, between consecutive periods only;
    - detrended: a linear time trend removed (per segment, or one common trend for pooled);
    - within / per_segment: segment means removed (per_segment data holds one segment);
    - within_twoway: segment and period means removed (two-way fixed effects).
    Weighted when ``pairs`` has a ``w`` column. Returns the parameters estimated beyond the one
    mean that every correlation test already allows for.
    """
    out = pairs.reset_index(drop=True)
    if kind == "differenced":
        g = out.groupby("seg", sort=False)
        step = g["t"].diff()
        for c in columns:
            out[c] = g[c].diff().where(step == 1)
        out = out.dropna(subset=columns).reset_index(drop=True)
    if out.empty:
        return out, 0
    n_seg, n_per = out["seg"].nunique(), out["t"].nunique()
    effects = {"pooled": "none", "within": "segment", "per_segment": "segment", "within_twoway": "twoway"}[base]
    trend = kind == "detrended"
    if base == "pooled" and not trend:
        used = 0
    elif base == "pooled":
        used = 1
    else:
        used = n_seg - 1 + (n_per - 1 if effects == "twoway" else 0)
        if trend:
            used += n_seg - (1 if effects == "twoway" else 0)
    if used == 0:
        return out, 0
    w = out["w"].to_numpy(dtype=float) if "w" in out else None
    seg = out["seg"].to_numpy() if effects != "none" else np.zeros(len(out), dtype=np.int64)
    out[columns] = demean(out[columns].to_numpy(dtype=float), seg, out["t"].to_numpy(), effects, w, trend=trend)
    return out, used
