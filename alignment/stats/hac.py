"""Sandwich covariances for KPI panels: Driscoll-Kraay, Newey-West by period, cluster-robust.

Every estimator here takes the *scores* of a least-squares fit, ``h_i = w_i x_i e_i`` (the
design row, the residual and the weight of row ``i``), and returns the "meat" of the sandwich
``V = (X'WX)^-1 meat (X'WX)^-1`` (:func:`sandwich`). They differ in which pairs of rows may be
correlated:

* :func:`driscoll_kraay` (Driscoll & Kraay 1998, Rev. Econ. Stat. 80: 549-560): the scores of
  each period are summed over segments, and the period sums get a Bartlett HAC estimate. Any
  correlation between segments in the same period (centre-wide staffing, volume, incidents) and
  across nearby periods is allowed for. This is the default for panel regressions.
* :func:`newey_west_panel`: a Bartlett HAC estimate within each segment, summed over segments
  (``plm::vcovNW``). Segments are taken as independent of one another.
* :func:`cluster_meat`: scores summed within clusters (Liang & Zeger 1986; ``sandwich::vcovCL``).

Lags are taken by **period number**, never by row order: two rows are ``j`` periods apart when
their period numbers differ by ``j``, so a gap in a segment's periods is a real gap (a missing
week is not paired with the week before it). The Bartlett weight of a pair ``j`` periods apart is
``1 - j / (bandwidth + 1)`` for ``j <= bandwidth``: the **bandwidth** is the number of Bartlett
lags (the truncation lag; plm's ``maxlag``, statsmodels' ``maxlags``). No small-sample factor is
applied (plm's ``type = "HC0"``); inference uses fixed-b critical values
(:mod:`alignment.stats.fixed_b`) for the HAC estimators and t(G - 1) with the
``G / (G - 1) (n - 1) / (n - k)`` factor for clusters (see :func:`cluster_factor`).

Checked against R (``plm::vcovSCC``, ``plm::vcovNW``, ``plm::vcovHC``) in
``tests/test_panel_inference_r.py`` with the script ``tests/results/panel_inference.R``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bartlett_bandwidth", "driscoll_kraay", "newey_west_panel", "cluster_meat", "cluster_factor",
           "sandwich"]


def bartlett_bandwidth(n_periods: int) -> int:
    """The bandwidth for ``n_periods``: ``ceil(1.3 sqrt(T)) - 1`` Bartlett lags, at least 1.

    Lazarus, Lewis, Stock & Watson (2018, JBES 36: 541-559) recommend Bartlett weights
    ``1 - j / S`` that reach zero at ``S = 1.3 sqrt(T)``, with fixed-b critical values: tests then
    keep their size under the persistence of KPI series, at a small cost in power. The bandwidth
    here counts the lags with a positive weight, ``S - 1`` (weights ``1 - j / (bandwidth + 1)``),
    so ``b = (bandwidth + 1) / T = 1.3 / sqrt(T)``.

    Examples
    --------
    >>> bartlett_bandwidth(52), bartlett_bandwidth(364)
    (9, 24)
    """
    return max(1, int(math.ceil(1.3 * math.sqrt(max(int(n_periods), 1)))) - 1)


def _as_2d(scores) -> np.ndarray:
    h = np.asarray(scores, dtype=float)
    return h[:, None] if h.ndim == 1 else h


def _period_sums(h: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the score rows of each distinct period, and the distinct period numbers."""
    periods, inverse = np.unique(np.asarray(period, dtype=np.int64), return_inverse=True)
    sums = np.zeros((len(periods), h.shape[1]))
    np.add.at(sums, inverse, h)
    return sums, periods


def _hac(sums: np.ndarray, periods: np.ndarray, bandwidth: int) -> np.ndarray:
    """Bartlett HAC of a series ``sums`` observed at (sorted, distinct) ``periods``."""
    meat = sums.T @ sums
    for j in range(1, int(bandwidth) + 1):
        pos = np.searchsorted(periods, periods + j)
        ok = pos < len(periods)
        ok[ok] = periods[pos[ok]] == periods[ok] + j
        if not ok.any():
            continue
        cross = sums[ok].T @ sums[pos[ok]]
        meat += (1.0 - j / (bandwidth + 1.0)) * (cross + cross.T)
    return meat


def driscoll_kraay(scores, period, bandwidth: int) -> np.ndarray:
    """Driscoll-Kraay meat: a Bartlett HAC of the period sums of the scores.

    Parameters
    ----------
    scores : array of shape (n,) or (n, k)
        ``w_i x_i e_i`` for each row.
    period : array of int, shape (n,)
        Period number of each row (consecutive periods differ by 1; gaps are real gaps).
    bandwidth : int
        Number of Bartlett lags M >= 0: pairs of periods up to M apart, weights ``1 - j / (M + 1)``.

    Returns
    -------
    ndarray of shape (k, k)

    Examples
    --------
    >>> h = np.array([1.0, -1.0, 2.0, 0.5])
    >>> float(driscoll_kraay(h, np.array([0, 0, 1, 1]), 0)[0, 0])   # (1 - 1)^2 + (2 + 0.5)^2
    6.25
    """
    h = _as_2d(scores)
    sums, periods = _period_sums(h, period)
    return _hac(sums, periods, bandwidth)


def newey_west_panel(scores, group, period, bandwidth: int) -> np.ndarray:
    """Newey-West meat within each group (segment), summed over groups; lags by period number.

    Examples
    --------
    >>> h = np.array([1.0, 2.0, 3.0])
    >>> # periods 0 and 2 of one segment are two apart: with bandwidth 1 they are not paired
    >>> float(newey_west_panel(h[[0, 2]], np.array([0, 0]), np.array([0, 2]), 1)[0, 0])
    10.0
    """
    h = _as_2d(scores)
    group = np.asarray(group)
    period = np.asarray(period, dtype=np.int64)
    meat = np.zeros((h.shape[1], h.shape[1]))
    for g in np.unique(group):
        rows = group == g
        sums, periods = _period_sums(h[rows], period[rows])
        meat += _hac(sums, periods, bandwidth)
    return meat


def cluster_meat(scores, groups) -> np.ndarray:
    """Cluster-robust meat: the outer products of the score sums of each cluster.

    ``groups`` is one label per row, or a 2-d array whose rows' combinations are the clusters
    (e.g. segment x period).
    """
    h = _as_2d(scores)
    g = np.asarray(groups)
    if g.ndim == 2:
        _, codes = np.unique(g, axis=0, return_inverse=True)
    else:
        _, codes = np.unique(g, return_inverse=True)
    codes = codes.ravel()
    sums = np.zeros((int(codes.max()) + 1 if len(codes) else 0, h.shape[1]))
    np.add.at(sums, codes, h)
    return sums.T @ sums


def cluster_factor(n_clusters: int, n: int, k: int) -> float:
    """The small-sample factor ``G / (G - 1) * (n - 1) / (n - k)`` (Stata's, plm's ``"sss"``)."""
    if n_clusters < 2 or n <= k:
        return float("nan")
    return n_clusters / (n_clusters - 1) * (n - 1) / (n - k)


def sandwich(X, meat, weights=None) -> np.ndarray:
    """``(X'WX)^-1 meat (X'WX)^-1`` (pseudo-inverse, so an absorbed column gives no error)."""
    X = _as_2d(X)
    xw = X if weights is None else X * np.asarray(weights, dtype=float)[:, None]
    bread = np.linalg.pinv(xw.T @ X)
    return bread @ meat @ bread
