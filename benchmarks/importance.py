"""Benchmark exact Shapley (LMG) relative importance against two all-subsets baselines.

Usage (from the project root)::

    .venv/bin/python benchmarks/importance.py                    # p = 8, 12, 16, 20
    .venv/bin/python benchmarks/importance.py --sizes 8 12       # quicker
    .venv/bin/python benchmarks/importance.py --json out/bench_importance.json

What it measures, on the same synthetic data (n = 2,000 rows, predictors with
correlation 0.6^|i-j|, outcome = X beta + noise, fixed seed):

* **ours, 1 pass**: ``relative_importance(frame, "y", kpis, n_boot=0)``, the
  whole call (validation, correlation matrix, subset-tree walk).
* **ours, B resamples**: the same call with ``n_boot=B`` (default 1,000) i.i.d. row
  resamples (per resample: weighted correlation matrix + subset-tree walk, in
  parallel over resamples on every core numba sees).
* **naive numpy**: one pass of the textbook method: refit every one of the 2**p
  subsets with ``numpy.linalg.lstsq`` on the rows, then Shapley weights. When the full
  loop would exceed ``--naive-budget`` seconds (p = 20), a fixed random sample of
  subsets is timed and the total is extrapolated (marked ``~``).
* **pingouin**: ``pingouin.linear_regression(X, y, relimp=True)`` (one pass, no
  bootstrap), run in a child process with a ``--pingouin-timeout`` (default 60 s); a
  run that times out is reported as ``>60s``.

Ratios are baseline time / our 1-pass time, and pingouin's 1 pass / our B resamples.
Before timing, our values are checked against pingouin's and the naive loop's (p <= 12)
to 1e-8.

Numba compile time is measured separately in child processes with an empty
``NUMBA_CACHE_DIR``: "compile" = first call with a cold cache (compiles and writes the
cache), "cache load" = the same first call in a new process with that cache.

Wall time is ``time.perf_counter``; CPU time (all threads) is ``time.process_time``.
The load average before and after is printed because this machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_ROWS = 2000
SEED = 20250309
TARGET_P, TARGET_S = 20, 10.0


def make_data(p: int, n: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng([seed, p])
    idx = np.arange(p)
    corr = 0.6 ** np.abs(idx[:, None] - idx[None, :])
    X = rng.normal(size=(n, p)) @ np.linalg.cholesky(corr).T
    beta = rng.uniform(0.1, 1.0, p) * rng.choice([-1, 1], p)
    frame = pd.DataFrame(X, columns=[f"k{j:02d}" for j in range(p)])
    frame["y"] = X @ beta + 2.0 * rng.normal(size=n)
    return frame


def naive_shapley(X, y, masks=None):
    """Refit every subset (or the given bit masks) by least squares on the rows; Shapley by the formula."""
    n, p = X.shape
    tss = ((y - y.mean()) ** 2).sum()
    ones = np.ones((n, 1))
    todo = range(1, 1 << p) if masks is None else masks
    r2 = np.zeros(1 << p)
    for mask in todo:
        cols = [j for j in range(p) if (mask >> j) & 1]
        A = np.hstack([ones, X[:, cols]])
        resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
        r2[mask] = 1.0 - resid @ resid / tss
    if masks is not None:
        return None
    all_masks = np.arange(1 << p)
    size = np.array([bin(m).count("1") for m in all_masks])
    w = np.array([math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p) if k < p else 0.0
                  for k in range(p + 1)])
    phi = np.zeros(p)
    for j in range(p):
        without = all_masks[(all_masks >> j) & 1 == 0]
        phi[j] = (w[size[without]] * (r2[without | (1 << j)] - r2[without])).sum()
    return phi


def time_naive(frame, p, budget):
    X, y = frame.iloc[:, :p].to_numpy(), frame["y"].to_numpy()
    # a full loop costs about 2**p refits; time a sample first to decide
    rng = np.random.default_rng(1)
    sample = rng.integers(1, 1 << p, size=min(2000, (1 << p) - 1))
    t0 = time.perf_counter()
    naive_shapley(X, y, masks=sample)
    per_subset = (time.perf_counter() - t0) / len(sample)
    if per_subset * (1 << p) <= budget:
        t0 = time.perf_counter()
        phi = naive_shapley(X, y)
        return time.perf_counter() - t0, False, phi
    bigger = rng.integers(1, 1 << p, size=20000)
    t0 = time.perf_counter()
    naive_shapley(X, y, masks=bigger)
    return (time.perf_counter() - t0) / len(bigger) * ((1 << p) - 1), True, None


PINGOUIN_CHILD = r"""
import json, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, {root!r})
from benchmarks.importance import make_data
import pingouin as pg
frame = make_data({p})
X, y = frame.iloc[:, :{p}], frame["y"]
t0 = time.perf_counter()
out = pg.linear_regression(X, y, relimp=True)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "relimp": out["relimp"].iloc[1:].tolist(),
                   "version": pg.__version__}}))
"""


def time_pingouin(p, timeout):
    code = PINGOUIN_CHILD.format(root=str(ROOT), p=p)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout + 30, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, None, "timeout"
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return None, None, f"failed: {tail}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["seconds"] > timeout:
        return out["seconds"], np.array(out["relimp"]), "over"
    return out["seconds"], np.array(out["relimp"]), out["version"]


COMPILE_CHILD = r"""
import sys, time, warnings
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import numpy as np
from alignment.drivers import relative_importance
from benchmarks.importance import make_data
frame = make_data(4, n=200)
t1 = time.perf_counter()
relative_importance(frame, "y", list(frame.columns[:4]), n_boot=10, seed=1)
relative_importance(frame, "y", list(frame.columns[:4]), n_boot=0, method="dominance")
t2 = time.perf_counter()
print(t2 - t1)
"""


def time_compile():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", COMPILE_CHILD.format(root=str(ROOT))],
                                  capture_output=True, text=True, env=env, cwd=ROOT)
            if done.returncode != 0:
                raise SystemExit(f"compile timing failed:\n{done.stderr}")
            out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - w0, time.process_time() - c0, value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 12, 16, 20])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--naive-budget", type=float, default=60.0,
                    help="seconds a full naive loop may take before it is extrapolated")
    ap.add_argument("--pingouin-timeout", type=float, default=60.0)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import numba

    from alignment.drivers import relative_importance

    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"{os.cpu_count()} cores, numba threads {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    cold, warm = time_compile()
    print(f"numba: compile with a cold cache {cold:.2f} s; first call with the cache {warm:.2f} s")

    rows = []
    for p in args.sizes:
        frame = make_data(p)
        preds = list(frame.columns[:p])
        relative_importance(frame, "y", preds, n_boot=2, seed=0)  # loads kernels
        w1, c1, res = timed(lambda: relative_importance(frame, "y", preds, n_boot=0))
        wb, cb, _ = timed(lambda: relative_importance(frame, "y", preds, n_boot=args.n_boot, seed=1))
        row = {"p": p, "ours_1pass_s": w1, "ours_boot_s": wb, "ours_boot_cpu_s": cb,
               "n_boot": args.n_boot}
        ours = res.table["importance"].to_numpy()
        if not args.no_baselines:
            tn, extrapolated, phi = time_naive(frame, p, args.naive_budget)
            row.update(naive_s=tn, naive_extrapolated=extrapolated)
            if phi is not None and p <= 12:
                assert np.allclose(phi, ours, atol=1e-8), "naive loop disagrees"
            tp, relimp, status = time_pingouin(p, args.pingouin_timeout)
            row.update(pingouin_s=tp, pingouin_status=status)
            if relimp is not None:
                assert np.allclose(relimp, ours, atol=1e-8), "pingouin disagrees"
        rows.append(row)
        print(f"  p={p}: done ({wb:.2f} s for {args.n_boot} resamples)", flush=True)

    print()
    print(f"n = {N_ROWS} rows, {args.n_boot} resamples (i.i.d. rows); times in seconds (wall)")
    head = (f"{'p':>3} {'ours 1 pass':>12} {f'ours {args.n_boot} boot':>14} {'(cpu)':>8} "
            f"{'naive numpy':>12} {'pingouin':>10} {'naive/ours':>11} {'pg/ours':>9} "
            f"{'pg 1 pass / ours boot':>22}")
    print(head)
    for r in rows:
        ours1, oursb = r["ours_1pass_s"], r["ours_boot_s"]
        naive, pg, status = r.get("naive_s"), r.get("pingouin_s"), r.get("pingouin_status")
        if naive is None:
            naive_txt = naive_ratio = "-"
        else:
            naive_txt = ("~" if r["naive_extrapolated"] else "") + f"{naive:.3g}"
            naive_ratio = f"{naive / ours1:,.0f}x"
        if pg is None:
            pg_txt = {"timeout": f">{args.pingouin_timeout:.0f}", None: "-"}.get(status, "failed")
            pg_ratio = pg_boot = "-"
        else:
            pg_txt = f"{pg:.3g}"
            pg_ratio = f"{pg / ours1:,.0f}x"
            pg_boot = f"{pg / oursb:.2f}x"
        print(f"{r['p']:>3} {ours1:>12.4f} {oursb:>14.3f} {r['ours_boot_cpu_s']:>8.2f} "
              f"{naive_txt:>12} {pg_txt:>10} {naive_ratio:>11} {pg_ratio:>9} {pg_boot:>22}")
    print(f"load average now {os.getloadavg()[0]:.2f}")
    target = [r for r in rows if r["p"] == TARGET_P]
    if target:
        ok = target[0]["ours_boot_s"] <= TARGET_S
        print(f"target: p = {TARGET_P} with {args.n_boot} resamples <= {TARGET_S:.0f} s: "
              f"{'met' if ok else 'MISSED'} ({target[0]['ours_boot_s']:.2f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"compile_s": cold, "cache_load_s": warm, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
