"""Size and power of the intervention check (:mod:`alignment.validation.intervention`).

Monte Carlo on planted panels: ``S`` queues x ``T`` periods, the first ``n_treated`` queues
treated from period ``T // 2``. Every queue has its own level, every period a shock common to
all queues (the gap removes both), and each queue its own unit-variance noise:

``iid``        white noise
``ar0.5``      AR(1), phi = 0.5 (unit marginal variance)
``ar0.8``      AR(1), phi = 0.8
``rw``         white noise plus a random walk with innovations of sd 0.3 (the queues drift apart)

The KPI of the treated queues drops by 3 noise sd at the change (so the KPI always moves); the
KPI's noise is of the same kind as the outcome's and independent of it. Under the null the
outcome does not respond. ``pretrend`` adds to the treated queues' outcome a linear drift of
``--trend`` noise sd over the whole sample (parallel trends fail, no effect). ``power`` adds a
real outcome step of ``--effect`` noise sd in the predicted direction, with the slope the
driver would have observed (``slope = -effect / 3``, ``slope_se = 0.1 |slope|``).

Each replication calls :func:`alignment.validation.intervention.intervention` once, exactly as
the validation does, with its own child seed (``numpy.random.SeedSequence.spawn``). Columns:

``two_sided``  share with the outcome DiD's two-sided p < alpha (``p_two_sided``, parallel
               trends): the size of the test under a null, its power otherwise
``one_sided``  share with ``p_value`` < alpha: CX "moved in the predicted direction" in both
               readings (parallel trends, and a steady drift of the treated queues allowed)
``pretrend``   share with ``p_pretrend`` < alpha (parallel trends rejected)
``pass`` ``fail`` ``ned``   shares of the check's statuses (ned: not_enough_data)
``pass_parallel`` ``fail_parallel``   what the statuses would be on the parallel-trends reading
               alone (no drift-adjusted reading), after the pre-trend test
``ar1_ml``     with ``--compare``: the two-sided rejection rate of the previous check's test (the
               gap on the post indicator with AR(1) errors, exact ML, t(n - 3))

    .venv/bin/python benchmarks/intervention_size.py          # 50 reps a cell: 2-5 minutes on 2 cores
    # the figures in alignment/validation/intervention.py (about an hour on 2 cores):
    .venv/bin/python benchmarks/intervention_size.py --reps 400 --designs null --periods 40 60 120 --compare
    .venv/bin/python benchmarks/intervention_size.py --reps 200 --designs pretrend power --compare

Monte Carlo standard error of a rate near 5 %: 3.1 points at 50 reps, 1.5 at 200, 1.1 at 400.
A check takes 0.1-0.6 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# one BLAS thread per worker: the workers already use the cores
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOISES = ("iid", "ar0.5", "ar0.8", "rw")
LAYOUTS = ((4, 1), (8, 2))       # (segments, treated)
KPI_SHIFT = -3.0
RW_SD = 0.3


def noise(rng: np.random.Generator, kind: str, S: int, T: int, burn: int = 100) -> np.ndarray:
    """(S, T) unit-scale noise of one kind (see the module docstring)."""
    if kind == "iid":
        return rng.standard_normal((S, T))
    if kind.startswith("ar"):
        phi = float(kind[2:])
        e = rng.standard_normal((S, T + burn))
        x = np.zeros_like(e)
        for t in range(1, T + burn):
            x[:, t] = phi * x[:, t - 1] + e[:, t]
        return x[:, burn:] * np.sqrt(1 - phi ** 2)
    if kind == "rw":
        return rng.standard_normal((S, T)) + RW_SD * np.cumsum(rng.standard_normal((S, T)), axis=1)
    raise ValueError(f"unknown noise {kind!r}")


def world(rng: np.random.Generator, kind: str, S: int, T: int, n_treated: int, *, effect: float = 0.0,
          trend: float = 0.0) -> pd.DataFrame:
    t0 = T // 2
    seg, t = np.repeat(np.arange(S), T), np.tile(np.arange(T), S)
    treated = seg < n_treated
    post = t >= t0
    common_kpi, common_y = rng.standard_normal(T), rng.standard_normal(T)
    kpi = (rng.normal(10, 2, S)[seg] + common_kpi[t] + noise(rng, kind, S, T).ravel()
           + KPI_SHIFT * (treated & post))
    y = (rng.normal(75, 5, S)[seg] + common_y[t] + noise(rng, kind, S, T).ravel()
         + effect * (treated & post) + trend * treated * (t - t0) / T)
    return pd.DataFrame({"queue": [f"q{s}" for s in seg], "t": t, "kpi": kpi, "y": y})


def check_once(data: pd.DataFrame, S: int, T: int, n_treated: int, slope: float, slope_se: float):
    from alignment.validation import Intervention, Thresholds
    from alignment.validation.checks import Driver
    from alignment.validation.intervention import intervention
    d = Driver(kpi="kpi", lag=0, outcome="y", data=data, by=["queue"], number=data["t"].to_numpy(), n_segments=S,
               cor=pd.DataFrame(), pairs=pd.DataFrame(), max_lag=0, assoc=-1)
    d.slope, d.slope_se = slope, slope_se
    item = Intervention("2024-01-01", tuple(f"q{s}" for s in range(n_treated)), "kpi", direction=-1)
    return intervention(d, Thresholds(), [item], treated_codes=[list(range(n_treated))], date_numbers=[T // 2])


def ar1_ml_p(data: pd.DataFrame, n_treated: int, T: int) -> float:
    """The previous check's test: the gap on the post indicator, AR(1) errors by exact ML, t(n - 3)."""
    from scipy import stats
    from statsmodels.tsa.arima.model import ARIMA
    wide = data.pivot(index="t", columns="queue", values="y").to_numpy()
    gap = wide[:, :n_treated].mean(axis=1) - wide[:, n_treated:].mean(axis=1)
    post = (np.arange(T) >= T // 2).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(gap, exog=post, order=(1, 0, 0)).fit()
    return float(2 * stats.t.sf(abs(fit.params[1] / fit.bse[1]), T - 3))


def run_cell(args) -> dict:
    design, kind, S, n_treated, T, reps, seed, effect, trend, alpha, compare = args
    children = seed.spawn(reps)
    counts = dict.fromkeys(("two_sided", "one_sided", "pretrend", "pass", "fail", "ned", "pass_parallel",
                            "fail_parallel", "ar1_ml"), 0)
    # power: CX rises by `effect` when the KPI falls by 3, so slope = effect / KPI_SHIFT (< 0)
    slope = effect / KPI_SHIFT if design == "power" else float("nan")
    tic = time.perf_counter()
    for child in children:
        rng = np.random.default_rng(child)
        data = world(rng, kind, S, T, n_treated, effect=effect if design == "power" else 0.0,
                     trend=trend if design == "pretrend" else 0.0)
        c = check_once(data, S, T, n_treated, slope, 0.1 * abs(slope))
        f = c.figures
        counts["two_sided"] += f.get("p_two_sided", 1.0) < alpha
        counts["one_sided"] += f.get("p_value", 1.0) < alpha
        counts["pretrend"] += f.get("p_pretrend", 1.0) < alpha
        counts[{"pass": "pass", "fail": "fail"}.get(c.status, "ned")] += 1
        pretrend_ok = not f.get("p_pretrend", 1.0) < alpha
        counts["pass_parallel"] += pretrend_ok and f.get("status_parallel_trends") == "pass"
        counts["fail_parallel"] += pretrend_ok and f.get("status_parallel_trends") == "fail"
        if compare:
            counts["ar1_ml"] += ar1_ml_p(data, n_treated, T) < alpha
    out = {"design": design, "noise": kind, "segments": S, "treated": n_treated, "periods": T, "reps": reps,
           **{k: v / reps for k, v in counts.items()}, "seconds_per_check": (time.perf_counter() - tic) / reps}
    if not compare:
        out["ar1_ml"] = None
    return out


def cells(args) -> list[tuple]:
    todo = []
    for design, noises in (("null", NOISES), ("pretrend", ("iid", "ar0.5")), ("power", NOISES)):
        if design not in args.designs:
            continue
        for kind in noises:
            for S, n_treated in LAYOUTS:
                for T in args.periods:
                    todo.append((design, kind, S, n_treated, T))
    seeds = np.random.SeedSequence(args.seed).spawn(len(todo))
    return [(*cell, args.reps, seed, args.effect, args.trend, args.alpha, args.compare)
            for cell, seed in zip(todo, seeds)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=50, help="replications per cell (default 50)")
    ap.add_argument("--periods", type=int, nargs="+", default=[40, 120], help="numbers of periods (default 40 120)")
    ap.add_argument("--effect", type=float, default=1.0, help="outcome step of the power design, noise sd")
    ap.add_argument("--trend", type=float, default=0.5, help="treated drift over the sample in the pretrend design")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--designs", nargs="+", default=["null", "pretrend", "power"],
                    choices=["null", "pretrend", "power"])
    ap.add_argument("--compare", action="store_true", help="also run the previous AR(1)-ML test")
    ap.add_argument("--json", type=Path, help="write the table as JSON")
    args = ap.parse_args(argv)
    todo = cells(args)
    tic = time.perf_counter()
    print(f"{len(todo)} cells x {args.reps} reps, alpha = {args.alpha:g}, effect = {args.effect:g}, "
          f"trend = {args.trend:g}, seed = {args.seed}", flush=True)
    cols = ["design", "noise", "segments", "treated", "periods", "two_sided", "one_sided", "pretrend", "pass",
            "fail", "ned", "pass_parallel", "fail_parallel"]
    cols += (["ar1_ml"] if args.compare else []) + ["seconds_per_check"]
    widths = [max(len(c), 8) for c in cols]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)), flush=True)
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(run_cell, todo):
            rows.append(row)
            print("  ".join((f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])).rjust(w)
                            for c, w in zip(cols, widths)), flush=True)
    print(f"total {time.perf_counter() - tic:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
