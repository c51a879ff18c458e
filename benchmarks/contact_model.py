"""Benchmark: the contact-level model on 1M surveys with queue x day fixed effects (issue 13).

Usage (from the project root)::

    .venv/bin/python benchmarks/contact_model.py                       # 1M surveys, 8 queues x 364 days
    .venv/bin/python benchmarks/contact_model.py --surveys 200000 --ols-sizes 6000 --json out/contact_bench.json

Measures, in one run on the same survey-level frame (drawn directly, no files: 8 queues x 364
days = 2,912 queue-day cells, hour of day and five contact reasons as further fixed effects,
own wait, handle time and resolution as the regressors):

* ``fit_contact_model(frame, "csat", threshold=False, logit=False)``: the linear-probability fit
  with queue x day, hour and reason fixed effects absorbed by pyfixest and CRV1 errors clustered by
  queue x day;
* the whole default fit (``threshold=True, logit=True, n_boot=199``): adds the hinge profile with
  its cluster bootstrap and the fixed-effects logit;
* the same linear model as a plain statsmodels OLS with explicit dummies (one column per cell,
  hour and reason level) and ``cov_type="cluster"``. At 1M rows that design is 1M x ~2,925 dense
  doubles (23 GB) and cannot be built here, so it runs on random subsamples that keep every cell
  (``--ols-sizes``); its cost is O(n k^2) at fixed k, so the 1M figure is the largest subsample's
  time scaled linearly in n (the two sizes show how close to linear it is).

Wall time is ``time.perf_counter`` of an untraced call; peak memory is tracemalloc's peak of the
allocations made during a second, traced call (numpy and pandas buffers included; tracing slows the
call, so it is not timed), and the process's peak RSS is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def survey_frame(n: int, queues: int = 8, days: int = 364, seed: int = 0) -> pd.DataFrame:
    """``n`` surveys over queues x days, shaped like ``build_panel(contact_frame=True)``'s frame."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, queues, n)
    d = rng.integers(0, days, n)
    level = np.log(45.0) + 0.35 * rng.standard_normal(days)[d] + 0.2 * rng.standard_normal((queues, days))[q, d]
    shock = -0.2 * (level - np.log(45.0)) + 0.1 * rng.standard_normal(days)[d]
    hour = rng.integers(8, 20, n)
    wait = np.round(np.where(rng.random(n) < 0.55, np.exp(level) * rng.exponential(1.0, n), 0.0))
    cx = np.array([0.0, 0.2, 0.4, 0.8, 1.0])
    reason = rng.choice(5, n, p=[0.25, 0.30, 0.20, 0.15, 0.10])
    handle = np.round(300 * np.exp(cx[reason] + 0.55 * rng.standard_normal(n)))
    resolved = (rng.random(n) < 0.75).astype(float)
    eta = (1.0 + 0.2 * (q - 3.5) / 3.5 + shock - 2.0 * (cx[reason] - 0.4) + 2.0 * (resolved - 0.75)
           - 0.01 * np.maximum(wait - 60.0, 0.0))
    csat = np.where(eta + rng.logistic(0, 1, n) > 0, 5, 2)
    names = np.array([f"queue_{i + 1}" for i in range(queues)], dtype=object)
    reasons = np.array(["order_status", "billing_question", "change_of_plan", "technical_fault", "complaint"],
                       dtype=object)
    return pd.DataFrame({"period": pd.Timestamp("2025-01-06") + pd.to_timedelta(d, unit="D"), "queue": names[q],
                         "hour": hour, "wait_s": wait, "handle_s": handle, "resolved": resolved,
                         "reason": reasons[reason], "csat": csat})


def measure(fn):
    """(wall seconds, tracemalloc peak MB, result): the call timed untraced, then called again under
    tracemalloc for its peak (tracing every allocation slows numpy's large ones down)."""
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return wall, peak, out


def dummy_ols(frame: pd.DataFrame):
    """The linear model by statsmodels: explicit dummies, errors clustered by queue x day."""
    import statsmodels.api as sm
    cell = frame.groupby(["period", "queue"], sort=False).ngroup().to_numpy()
    parts = [frame[["wait_s", "handle_s", "resolved"]].astype(float),
             pd.get_dummies(pd.Series(cell, index=frame.index), prefix="c", dtype=float),
             pd.get_dummies(frame["hour"], prefix="h", drop_first=True, dtype=float),
             pd.get_dummies(frame["reason"], prefix="r", drop_first=True, dtype=float)]
    X = pd.concat(parts, axis=1)
    y = np.where(frame["csat"] >= 4, 100.0, 0.0)
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cell})
    return fit, X.shape[1]


def subsample_all_cells(frame: pd.DataFrame, n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` rows that keep at least two surveys of every cell (the dummy design stays the same)."""
    rng = np.random.default_rng(seed)
    key = frame.groupby(["period", "queue"], sort=False).ngroup().to_numpy()
    order = rng.permutation(len(frame))
    first = order[pd.Series(key[order]).groupby(key[order]).cumcount().to_numpy() < 2]
    rest = np.setdiff1d(order, first, assume_unique=True)
    take = np.concatenate([first, rng.choice(rest, max(n - len(first), 0), replace=False)])
    return frame.iloc[np.sort(take)].reset_index(drop=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--surveys", type=int, default=1_000_000)
    ap.add_argument("--queues", type=int, default=8)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--ols-sizes", type=int, nargs="+", default=[6_000, 12_000],
                    help="subsample sizes of the statsmodels dummy regression (scaled linearly to --surveys)")
    ap.add_argument("--skip-default", action="store_true", help="time only the linear fit")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from alignment.contact import fit_contact_model

    frame = survey_frame(args.surveys, args.queues, args.days)
    cells = args.queues * args.days
    print(f"{len(frame):,} surveys, {args.queues} queues x {args.days} days = {cells:,} cells; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    # pyfixest compiles its numba kernels on first use: warm up on a small frame, outside the timing
    fit_contact_model(survey_frame(20_000, args.queues, 30, seed=9), "csat", contact_controls=["reason"],
                      n_boot=9)
    rows = {}
    wall, peak, lin = measure(lambda: fit_contact_model(frame, "csat", contact_controls=["reason"],
                                                        threshold=False, logit=False))
    rows["linear"] = {"wall_s": wall, "peak_mb": peak}
    print(f"fit_contact_model(threshold=False, logit=False): {wall:.2f} s, peak {peak:,.0f} MB", flush=True)
    if not args.skip_default:
        wall, peak, full = measure(lambda: fit_contact_model(frame, "csat", contact_controls=["reason"]))
        rows["default"] = {"wall_s": wall, "peak_mb": peak, "threshold": float(full.row("asa")["threshold"])}
        print(f"fit_contact_model(default: threshold, logit, n_boot=199): {wall:.2f} s, peak {peak:,.0f} MB; "
              f"threshold {full.row('asa')['threshold']:.0f} s", flush=True)
    ols = []
    for n in args.ols_sizes:
        sub = subsample_all_cells(frame, n)
        wall, peak, (fit, k) = measure(lambda: dummy_ols(sub))
        mine = fit_contact_model(sub, "csat", contact_controls=["reason"], threshold=False, logit=False)
        agree = abs(mine.row("asa")["effect"] - 10 * fit.params["wait_s"]) / abs(10 * fit.params["wait_s"])
        ols.append({"n": len(sub), "k": k, "wall_s": wall, "peak_mb": peak, "rel_diff_wait_effect": agree})
        print(f"statsmodels OLS with {k:,} dummy columns on {len(sub):,} surveys: {wall:.2f} s, peak {peak:,.0f} MB "
              f"(wait effect agrees to {agree:.1e})", flush=True)
    big = ols[-1]
    scale = len(frame) / big["n"]
    rows["ols_scaled"] = {"wall_s": big["wall_s"] * scale, "peak_mb": big["peak_mb"] * scale,
                          "from_n": big["n"], "note": "linear scaling in n at fixed k"}
    if len(ols) > 1:
        a, b = ols[0], ols[-1]
        rows["ols_scaling_exponent"] = float(np.log(b["wall_s"] / a["wall_s"]) / np.log(b["n"] / a["n"]))
    ratio = rows["ols_scaled"]["wall_s"] / rows["linear"]["wall_s"]
    print(f"statsmodels scaled to {len(frame):,} surveys: ~{rows['ols_scaled']['wall_s']:,.0f} s and "
          f"~{rows['ols_scaled']['peak_mb'] / 1024:,.0f} GB (x{scale:.0f} from {big['n']:,}); "
          f"fit_contact_model(linear) is {ratio:,.0f}x faster"
          + (f", the default fit {rows['ols_scaled']['wall_s'] / rows['default']['wall_s']:,.0f}x"
             if "default" in rows else ""))
    if "ols_scaling_exponent" in rows:
        print(f"measured scaling of the dummy OLS in n between the subsamples: n^{rows['ols_scaling_exponent']:.2f}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"surveys": len(frame), "cells": cells, "rows": rows, "ols": ols,
                                         "command": "python benchmarks/contact_model.py " + " ".join(
                                             argv if argv is not None else sys.argv[1:])}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
