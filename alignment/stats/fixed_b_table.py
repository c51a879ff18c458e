"""Simulate the fixed-b table for Bartlett HAC t statistics and write ``fixed_b_bartlett.npz``.

Run ``python -m alignment.stats.fixed_b_table`` from the project root (``--help`` lists the
options). :mod:`alignment.stats.fixed_b` reads the table; this script is how it was made,
so anyone can rebuild it and get the same numbers.

What the table holds
--------------------
A HAC t statistic with a bandwidth of ``M`` Bartlett lags (weights ``1 - j / (M + 1)``,
``j = 0 .. M``; statsmodels' ``maxlags = M``) whose bandwidth ratio ``b = (M + 1) / T`` is a fixed
fraction of the ``T`` periods has the fixed-b limit ``t -> Z / sqrt(Q)`` (Kiefer & Vogelsang, 2005), where
``Z ~ N(0, 1)`` is independent of ``Q``, the HAC long-run variance estimate divided by the
true long-run variance. For one series (or a regression with an intercept) ``Q`` is a
functional of a Brownian bridge, the continuous form of ``(2/b) [int B^2 - int B(r+b) B(r)]``,
with mean ``1 - b + b^2/3``. The table stores quantiles of ``Q`` for a grid of ``b`` and
of the number of segments ``G``, at probability points that are dense in the lower tail
(small ``Q`` makes large ``t``). A p-value is then the average of ``2 Phi(-|t| sqrt(q))``
over the quantiles ``q``, weighted by the probability each stands for.

Segments. The panel HAC of statsmodels (``cov_type="hac-panel"``, used by
:mod:`alignment.drivers.regression`) adds up per-segment HAC sums of scores that are
centred on the *pooled* estimate, not on each segment's own mean. With ``G`` segments of
``T`` periods, ``e`` i.i.d. N(0, 1) and ``e_hat = e - mean(e)`` over all ``G T`` values::

    t = sum(e) / sqrt(sum_g T * HAC(e_hat_g))   ->   Z / sqrt(Q_G),

    Q_G = (Q_bridge + Q_bm,1 + ... + Q_bm,G-1) / G

with independent terms: one Brownian-bridge ``Q`` and ``G - 1`` Brownian-motion ``Q``
(the HAC of an i.i.d. series that is *not* demeaned, mean exactly 1). The reason: rotate
the ``G`` segments by an orthogonal matrix whose first row is ``1/sqrt(G)``. The sum of
per-segment quadratic forms is unchanged (every segment has the same weights), the
rotated mean segment is demeaned by the pooled centring and the other ``G - 1`` are not
touched by it. Hence ``E[Q_G] = 1 - (b - b^2/3) / G`` and the limit for ``G -> inf`` is
N(0, 1). (Demeaning every segment on its own, as with segment-specific slopes, would
instead give the mean of ``G`` bridge draws and the limit N(0, 1 / (1 - b + b^2/3)); on 6
segments with ``b = 0.15`` its 5 % critical value is about 2.16 where the pooled-centred
statistic needs about 2.03.) In large samples the fixed-effects slope behaves like the
pooled mean when segments have equal length and similar regressor variance.

How it is simulated
-------------------
The discrete statistic itself, not a discretised Brownian functional: ``T = 1000``
i.i.d. N(0, 1) values, demeaned (bridge) or not (Brownian motion); autocovariances by FFT;
the Bartlett estimate with ``M + 1 = b T`` for every ``b`` in the grid from the same draws.
5,000,000 bridge and 5,000,000 Brownian-motion series, in chunks of 5,000 whose
generators are children of ``numpy.random.SeedSequence(20050907)`` (so the table does not
depend on the number of worker processes). Row ``G`` uses ``n_G`` disjoint sets of one
bridge and ``G - 1`` Brownian-motion draws (``n_1 = 5e6``, ``n_G = 5e6 // (G - 1)``;
``samples`` in the file). The rows ``b = 0`` and ``G = inf`` are exact (``Q = 1``).
Probability points: cell midpoints of 0 | 40 log-spaced cells from 1e-6 to 0.01 | 196
cells of 0.005 | 20 log-spaced cells from 0.99 to 1 - 1e-6 | 1, i.e. 258 points. Their
weights are the cell widths.

Accuracy, against the exact distribution of the same discrete statistic (a quadratic form
in normal variables, by Imhof's method, T = 1000; b from 0.02 to 1; G = 1, 2, 6, 50) at grid
points: critical values within 0.0011; p-values within 0.2 % at 1e-2, 0.7 % at 1e-4 and
3.4 % at 1e-6 (for one segment a little low there: the lowest cells rest on few draws).
Linear interpolation in ``b`` adds at most 0.001 to the 5 % critical value (0.002 to the 1 %
one) between b = 0.005 and 0.5, and up to 0.004 (0.006) above 0.5 and below 0.005, always
on the low side. The
Kiefer-Vogelsang (2005) cubic polynomials lie up to 0.035 above the exact values around
b = 0.1-0.3; their (2002) values at b = 1 agree to 0.002. ``tests/test_fixed_b.py`` keeps
these checks.

Run time of the committed table: 11.8 minutes wall with 2 worker processes on 2 cores that
other jobs were sharing (load average 5-8), 7.6 CPU-minutes in all, so about 5 minutes on
2 idle cores; peak memory 2.2 GB. ``--reps 200000`` makes a rough table in about 20 seconds.

References
----------
Kiefer, N. M., & Vogelsang, T. J. (2005). A new asymptotic theory for
heteroskedasticity-autocorrelation robust tests. *Econometric Theory* 21(6), 1130-1164.
Imhof, J. P. (1961). Computing the distribution of quadratic forms in normal variables.
*Biometrika* 48(3/4), 419-426.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["B_GRID", "G_GRID", "SEED", "N_PERIODS", "N_REPS", "CHUNK", "probability_cells",
           "bartlett_lrv", "simulate", "quantile_table", "build_table", "main"]

SEED = 20050907
N_PERIODS = 1000
N_REPS = 5_000_000
CHUNK = 5_000
OUTPUT = Path(__file__).with_name("fixed_b_bartlett.npz")

# Multiples of 0.005 so that b * T is a whole number of lags. Dense where real studies sit
# (day grain ~0.02 to month grain ~0.5), where linear interpolation costs at most 0.002 in
# the critical value; coarser above 0.5, where it costs up to 0.004.
B_GRID = np.round(np.concatenate([
    [0.0], np.arange(0.005, 0.0501, 0.005), np.arange(0.06, 0.2001, 0.01),
    np.arange(0.22, 0.5001, 0.02), np.arange(0.55, 1.0001, 0.05)]), 3)
G_GRID = np.array([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 30, 50, np.inf])


def probability_cells() -> tuple[np.ndarray, np.ndarray]:
    """Probability points of the stored quantiles and the weight each stands for.

    Returns
    -------
    points, weights : ndarray
        Cell midpoints and cell widths of a partition of [0, 1]; the weights sum to 1.

    Examples
    --------
    >>> points, weights = probability_cells()
    >>> len(points), float(weights.sum())
    (258, 1.0)
    """
    lower = np.geomspace(1e-6, 1e-2, 41)
    middle = np.linspace(0.01, 0.99, 197)[1:-1]
    upper = 1 - np.geomspace(1e-2, 1e-6, 21)
    edges = np.concatenate([[0.0], lower, middle, upper, [1.0]])
    return (edges[1:] + edges[:-1]) / 2, np.diff(edges)


def bartlett_lrv(e: np.ndarray, lags_plus_one: np.ndarray) -> np.ndarray:
    """Bartlett long-run variance of each row of ``e`` for several bandwidths ``M`` at once.

    Parameters
    ----------
    e : ndarray, shape (n, T)
        Series in rows, used as given (demean them first for the usual estimator).
    lags_plus_one : ndarray of int
        ``K = M + 1`` for each bandwidth; the weight of lag ``j`` is ``max(0, 1 - j / K)``.

    Returns
    -------
    ndarray, shape (n, len(lags_plus_one))
        ``gamma_0 + 2 sum_j (1 - j / K) gamma_j`` with ``gamma_j = sum_t e_t e_{t-j} / T``.

    Examples
    --------
    >>> e = np.array([[1.0, -1.0, 2.0, 0.0]])
    >>> bartlett_lrv(e, np.array([1, 2]))  # gamma_0 = 1.5, gamma_1 = -0.75
    array([[1.5 , 0.75]])
    """
    from scipy import fft

    n, T = e.shape
    k_max = int(lags_plus_one.max())
    n_fft = fft.next_fast_len(2 * T)
    spec = fft.rfft(e, n=n_fft, axis=1)
    # Zero padding to 2T makes the circular autocorrelation the ordinary one.
    acov = fft.irfft(spec.real ** 2 + spec.imag ** 2, n=n_fft, axis=1)[:, :k_max]
    j = np.arange(k_max)[:, None]
    weights = np.clip(1 - j / lags_plus_one[None, :], 0, None)
    weights[1:] *= 2
    return acov @ weights.astype(acov.dtype) / T


def _chunk(args) -> np.ndarray:
    seed, n, demean, n_periods, lags_plus_one = args
    rng = np.random.default_rng(seed)
    # float32 halves the time; the Bartlett estimate keeps a relative error near 1e-5.
    e = rng.standard_normal((n, n_periods), dtype=np.float32)
    if demean:
        e -= e.mean(axis=1, keepdims=True)
    return bartlett_lrv(e, lags_plus_one).astype(np.float32)


def simulate(kind: str, n_reps: int, seed: np.random.SeedSequence, *, n_periods: int = N_PERIODS,
             b_grid: np.ndarray = B_GRID, workers: int = 2, chunk: int = CHUNK) -> np.ndarray:
    """Draws of ``Q`` (Bartlett HAC estimate over the true variance) for every ``b > 0``.

    Parameters
    ----------
    kind : {'bridge', 'brownian'}
        Demean each series first (``'bridge'``) or not.
    n_reps : int
        Number of series; rounded up to whole chunks.
    seed : numpy.random.SeedSequence
        Spawned into one child per chunk.
    n_periods, b_grid, workers, chunk
        Series length, bandwidth ratios (zeros are skipped), worker processes, chunk size.

    Returns
    -------
    ndarray of float32, shape (number of positive b, n_reps)

    Examples
    --------
    >>> q = simulate("bridge", 4000, np.random.SeedSequence(1), n_periods=200,
    ...              b_grid=np.array([0.1]), workers=1, chunk=2000)
    >>> q.shape, abs(float(q.mean()) - (1 - 0.1 + 0.1 ** 2 / 3)) < 0.02
    ((1, 4000), True)
    """
    b = b_grid[b_grid > 0]
    lags_plus_one = np.round(b * n_periods).astype(int)
    if not np.allclose(lags_plus_one, b * n_periods) or lags_plus_one.min() < 1:
        raise ValueError(f"every b times n_periods must be a whole number of lags; n_periods={n_periods} is not")
    n_chunks = -(-n_reps // chunk)
    tasks = [(child, chunk, kind == "bridge", n_periods, lags_plus_one) for child in seed.spawn(n_chunks)]
    out = np.empty((len(b), n_chunks * chunk), dtype=np.float32)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for i, q in enumerate(pool.map(_chunk, tasks, chunksize=4)):
                out[:, i * chunk:(i + 1) * chunk] = q.T
    else:
        for i, task in enumerate(tasks):
            out[:, i * chunk:(i + 1) * chunk] = _chunk(task).T
    return out


def _quantiles(sorted_x: np.ndarray, points: np.ndarray) -> np.ndarray:
    # Hazen plotting positions (i - 0.5) / n, linear in between, clamped at the extremes.
    h = np.clip(points * len(sorted_x) - 0.5, 0, len(sorted_x) - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, len(sorted_x) - 1)
    return sorted_x[lo] + (h - lo) * (sorted_x[hi] - sorted_x[lo])


def quantile_table(bridge: np.ndarray, brownian: np.ndarray, points: np.ndarray,
                   groups: np.ndarray = G_GRID) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of ``Q_G`` for each simulated ``b`` (rows of the inputs) and each ``G``.

    Parameters
    ----------
    bridge, brownian : ndarray, shape (n_b, n)
        Draws from :func:`simulate`.
    points : ndarray
        Probability points.
    groups : ndarray
        Numbers of segments; ``inf`` gives the exact limit ``Q = 1``.

    Returns
    -------
    quantiles : ndarray of float32, shape (n_b, len(groups), len(points))
    samples : ndarray of int, shape (len(groups),)
        Number of independent ``Q_G`` draws behind each row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, n = quantile_table(rng.gamma(50, 1 / 50, (1, 1000)), np.ones((1, 1000)),
    ...                       np.array([0.5]), np.array([1, 2, np.inf]))
    >>> n.tolist(), bool(abs(q[0, 1, 0] - (1 + q[0, 0, 0]) / 2) < 0.01), float(q[0, 2, 0])
    ([1000, 1000, 1000], True, 1.0)
    """
    n_b, n = bridge.shape
    out = np.empty((n_b, len(groups), len(points)), dtype=np.float32)
    samples = np.array([n if not np.isfinite(g) or g == 1 else min(n, brownian.shape[1] // (int(g) - 1))
                        for g in groups])
    for i in range(n_b):
        for k, g in enumerate(groups):
            if not np.isfinite(g):
                out[i, k] = 1.0
                continue
            m = samples[k]
            draws = bridge[i, :m].astype(np.float64)
            if g > 1:
                draws = draws + brownian[i, :m * (int(g) - 1)].reshape(m, int(g) - 1).sum(axis=1, dtype=np.float64)
            out[i, k] = _quantiles(np.sort(draws / g), points)
    return out, samples


def build_table(n_reps: int = N_REPS, *, seed: int = SEED, n_periods: int = N_PERIODS,
                workers: int = 2, chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """Simulate and assemble the arrays written to ``fixed_b_bartlett.npz``.

    Parameters
    ----------
    n_reps : int
        Bridge series, and again Brownian-motion series, to simulate.
    seed : int
        Entropy of the root ``numpy.random.SeedSequence``.
    n_periods, workers, chunk
        See :func:`simulate`.

    Returns
    -------
    dict
        ``b``, ``groups``, ``points``, ``weights``, ``quantiles`` (b x groups x points),
        ``samples`` and the settings ``seed``, ``n_periods``, ``n_reps``, ``chunk``,
        ``kernel``, ``centring``.

    Examples
    --------
    >>> table = build_table(2000, workers=1, chunk=1000)
    >>> table["quantiles"].shape
    (51, 15, 258)
    """
    bridge_seed, brownian_seed = np.random.SeedSequence(seed).spawn(2)
    options = dict(n_periods=n_periods, workers=workers, chunk=chunk)
    bridge = simulate("bridge", n_reps, bridge_seed, **options)
    brownian = simulate("brownian", n_reps, brownian_seed, **options)
    points, weights = probability_cells()
    simulated, samples = quantile_table(bridge, brownian, points)
    quantiles = np.ones((len(B_GRID), len(G_GRID), len(points)), dtype=np.float32)
    quantiles[B_GRID > 0] = simulated
    return dict(b=B_GRID, groups=G_GRID, points=points, weights=weights, quantiles=quantiles,
                samples=samples, seed=np.int64(seed), n_periods=np.int64(n_periods),
                n_reps=np.int64(bridge.shape[1]), chunk=np.int64(chunk),
                kernel=np.str_("bartlett"), centring=np.str_("pooled"))


def main(argv: list[str] | None = None) -> int:
    """Command line: simulate the table and write it (see ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m alignment.stats.fixed_b_table",
                                     description="Simulate the fixed-b Bartlett table.")
    parser.add_argument("--reps", type=int, default=N_REPS, help=f"series of each kind (default {N_REPS})")
    parser.add_argument("--periods", type=int, default=N_PERIODS, help=f"series length (default {N_PERIODS})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default {SEED})")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="output file (default: the packaged table)")
    args = parser.parse_args(argv)
    if args.periods % 200:
        parser.error("--periods must be a multiple of 200 so that every b in the grid is a whole number of lags")
    start = time.perf_counter()
    table = build_table(args.reps, seed=args.seed, n_periods=args.periods, workers=args.workers)
    np.savez_compressed(args.out, **table)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
