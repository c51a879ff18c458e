"""Fixed-b p-values and critical values for Bartlett HAC (Newey-West) t statistics.

With a bandwidth (the number of Bartlett lags ``M``) that is a sizeable fraction of the
sample, which is the rule for the short panels of a contact centre (52 weeks, 12 to 24
months), a HAC t statistic is not normal even in large samples: it tends to ``Z / sqrt(Q)``,
where ``Q`` is the HAC variance estimate over the true variance and depends on the bandwidth
ratio ``b = (M + 1) / T`` (Kiefer & Vogelsang, 2005). Normal critical values then reject a
true null too often: at ``b = 0.2`` the two-sided 5 % test needs about 2.54, not 1.96.

Because ``Z`` is independent of ``Q``, the two-sided p-value is exactly
``E[2 Phi(-|t| sqrt(Q))]``. The packaged table ``fixed_b_bartlett.npz`` holds 258
quantiles of ``Q`` for each ``b`` and number of segments ``G``, and the p-value is their
weighted average of ``2 Phi(-|t| sqrt(q))``. It is smooth in ``t`` and stays accurate
far into the tail, where a table of a few critical values cannot go (about 1 % down to
p = 1e-4, a few per cent at 1e-6). Between grid points the quantiles are interpolated
linearly in ``b`` and in ``1 / G``; critical values are found by root-finding on the
p-value. :mod:`alignment.stats.fixed_b_table` is the script that simulated the table; its
docstring gives the method, seed and run time.

Segments (``groups``) are for the panel HAC that adds per-segment HAC sums around the
pooled estimate (statsmodels' ``cov_type="hac-panel"``). Its limit moves towards the normal
as segments are added: ``Q_G`` is one Brownian-bridge draw and ``G - 1`` Brownian-motion
draws averaged, with mean ``1 - (b - b^2/3) / G``. Segments are assumed to have the same
number of periods; with unequal lengths use the typical (median) length.

References
----------
Kiefer, N. M., & Vogelsang, T. J. (2005). A new asymptotic theory for
heteroskedasticity-autocorrelation robust tests. *Econometric Theory* 21(6), 1130-1164.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..exceptions import OptionError

__all__ = ["bandwidth_ratio", "p_value", "critical_value"]

TABLE_FILE = "fixed_b_bartlett.npz"
# Rows of t evaluated at once: bounds memory at about 20 MB whatever the input size.
_BLOCK = 10_000


@dataclass(frozen=True)
class _Table:
    b: np.ndarray            # increasing, from 0 to 1
    inv_groups: np.ndarray   # 1 / G, increasing, from 0 (G = inf) to 1
    weights: np.ndarray      # probability carried by each quantile; sums to 1
    quantiles: np.ndarray    # (b, inv_groups, point), float64


@functools.cache
def _table() -> _Table:
    with resources.files(__package__).joinpath(TABLE_FILE).open("rb") as fh, np.load(fh) as data:
        order = np.argsort(1 / data["groups"])
        table = _Table(b=data["b"].astype(float), inv_groups=(1 / data["groups"])[order],
                       weights=data["weights"].astype(float),
                       quantiles=data["quantiles"].astype(float)[:, order, :])
    for array in (table.b, table.inv_groups, table.weights, table.quantiles):
        array.flags.writeable = False
    return table


def _bracket(grid: np.ndarray, x: float) -> tuple[int, float]:
    i = int(np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2))
    return i, float(np.clip((x - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0))


def _quantiles(b: float, groups: float) -> np.ndarray:
    """Quantiles of ``Q_G`` at ``b``, bilinear in ``b`` and ``1 / G`` between table rows."""
    table = _table()
    i, u = _bracket(table.b, b)
    k, v = _bracket(table.inv_groups, 1 / groups)
    q = table.quantiles
    return ((1 - u) * ((1 - v) * q[i, k] + v * q[i, k + 1])
            + u * ((1 - v) * q[i + 1, k] + v * q[i + 1, k + 1]))


def _p_from_quantiles(abs_t: np.ndarray, q: np.ndarray) -> np.ndarray:
    from scipy.special import erfc

    weights = _table().weights
    scale = np.sqrt(q / 2)
    flat = abs_t.ravel()
    out = np.empty(flat.shape)
    for start in range(0, flat.size, _BLOCK):
        block = flat[start:start + _BLOCK]
        out[start:start + _BLOCK] = erfc(block[:, None] * scale[None, :]) @ weights
    return out.reshape(abs_t.shape)


def _check_b(owner: str, b) -> float:
    ok = isinstance(b, numbers.Real) and not isinstance(b, bool) and math.isfinite(b) and 0 <= b <= 1
    if not ok:
        raise OptionError(f"The 'b' parameter of {owner} must be a number between 0 and 1 "
                          f"(see bandwidth_ratio). Got {b!r} instead.")
    return float(b)


def _check_groups(owner: str, groups) -> float:
    ok = ((isinstance(groups, numbers.Integral) and not isinstance(groups, bool) and groups >= 1)
          or (isinstance(groups, float) and groups == math.inf))
    if not ok:
        raise OptionError(f"The 'groups' parameter of {owner} must be a whole number of segments "
                          f"(1 or more). Got {groups!r} instead.")
    return float(groups)


def bandwidth_ratio(bandwidth: int, n_periods: int) -> float:
    """Fixed-b bandwidth ratio ``b = (bandwidth + 1) / n_periods`` of a Bartlett HAC estimate.

    Parameters
    ----------
    bandwidth : int
        Number of lags ``M`` (statsmodels' ``maxlags``); lag ``j`` has weight ``1 - j / (M + 1)``.
        Kiefer & Vogelsang write the same weights as ``1 - j / M'`` with ``M' = M + 1`` and
        ``b = M' / T``, so this ``b`` is theirs.
    n_periods : int
        Number of periods (per segment in a panel).

    Returns
    -------
    float
        ``b``, clipped to the table's range: ratios above 1 (a bandwidth longer than the
        series) are treated as 1, which slightly understates the critical value.

    Examples
    --------
    >>> bandwidth_ratio(9, 52)  # the 1.3 sqrt(T) rule on 52 weeks
    0.19230769230769232
    >>> bandwidth_ratio(30, 12)
    1.0
    """
    for name, value, low in (("bandwidth", bandwidth, 0), ("n_periods", n_periods, 1)):
        if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low):
            raise OptionError(f"The '{name}' parameter of bandwidth_ratio must be an integer of at "
                              f"least {low}. Got {value!r} instead.")
    return min((int(bandwidth) + 1) / int(n_periods), 1.0)


def p_value(t, b: float, groups: int = 1):
    """Two-sided fixed-b p-value of a Bartlett HAC t statistic.

    Parameters
    ----------
    t : float or array_like
        t statistic(s): estimate over its HAC standard error.
    b : float
        Bandwidth ratio in [0, 1], from :func:`bandwidth_ratio`; 0 gives the normal p-value.
    groups : int, default 1
        Number of segments whose HAC sums are added (panel HAC around the pooled estimate).
        Values between table rows (1-8, 10, 12, 16, 20, 30, 50, inf) are interpolated in
        ``1 / groups``.

    Returns
    -------
    float or ndarray
        ``P(|T| > |t|)`` under the fixed-b limit, in (0, 1] (never exactly 0: values
        below the smallest positive float are returned as that float; NaN stays NaN).
        A float for scalar ``t``, else an array of the same shape.

    Examples
    --------
    >>> b = bandwidth_ratio(9, 52)
    >>> round(p_value(1.96, b), 3)  # the normal 5 % point is far from 5 % here
    0.112
    >>> p_value([0.0, 2.5, 4.0], b, groups=6).round(4).tolist()
    [1.0, 0.0173, 0.0002]
    """
    b = _check_b("p_value", b)
    groups = _check_groups("p_value", groups)
    try:
        values = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise OptionError(f"The 't' parameter of p_value must be a number or an array of numbers. "
                          f"Got {t!r} instead.") from None
    p = _p_from_quantiles(np.abs(values), _quantiles(b, groups))
    p = np.clip(p, np.finfo(float).tiny, 1.0)
    return float(p) if values.ndim == 0 else p


def critical_value(b: float, level: float = 0.95, groups: int = 1) -> float:
    """Two-sided fixed-b critical value ``c`` with ``P(|T| > c) = 1 - level``.

    Parameters
    ----------
    b : float
        Bandwidth ratio in [0, 1], from :func:`bandwidth_ratio`.
    level : float, default 0.95
        Confidence level, strictly between 0 and 1 (0.95 gives the 5 % two-sided test).
    groups : int, default 1
        Number of segments, as in :func:`p_value`.

    Returns
    -------
    float
        The critical value; the half-width of a ``level`` interval is ``c`` standard errors.

    Examples
    --------
    >>> round(critical_value(0.0), 4)
    1.96
    >>> b = bandwidth_ratio(9, 52)  # 52 weeks, 9 lags
    >>> round(critical_value(b), 2), round(critical_value(b, level=0.99), 2)
    (2.51, 3.56)
    >>> round(critical_value(b, groups=6), 2)  # a panel of 6 segments
    2.04
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    b = _check_b("critical_value", b)
    groups = _check_groups("critical_value", groups)
    ok = isinstance(level, numbers.Real) and not isinstance(level, bool) and 0 < level < 1
    if not ok:
        raise OptionError(f"The 'level' parameter of critical_value must be between 0 and 1. "
                          f"Got {level!r} instead.")
    alpha = 1 - float(level)
    q = _quantiles(b, groups)
    z = float(ndtri(1 - alpha / 2))
    if q.max() - q.min() < 1e-12:  # a point mass (b = 0 or G = inf): the scaled normal
        return z / math.sqrt(q[0])
    # Every term of the p-value is at most alpha at z / sqrt(min q), so the root lies below.
    high = 1.001 * z / math.sqrt(q.min())
    log_alpha = math.log(alpha)
    return float(brentq(lambda c: math.log(_p_from_quantiles(np.array(c), q)) - log_alpha,
                        0.0, high, xtol=1e-12, rtol=1e-14, maxiter=200))
