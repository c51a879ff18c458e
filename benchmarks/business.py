"""Benchmark: the business-impact link (issue 16): speed at 1M contacts and coverage over worlds.

Usage (from the project root)::

    .venv/bin/python benchmarks/business.py                    # timing and 20 + 20 worlds
    .venv/bin/python benchmarks/business.py --worlds 0         # timing only
    .venv/bin/python benchmarks/business.py --timing 0 --worlds 20 --json out/business_bench.json

**Timing.** A survey-level frame shaped like ``build_panel(contact_frame=True)``'s (8 queues x 364
days, weekly periods, own wait, handle time, resolution, transfer, ``customer_id``) is drawn
directly: 1M contacts of 60k customers, 75k of them surveyed; each answered contact makes its
customer decide to leave with a probability falling in its CSAT, as in the simulator. Timed:
``business_impact(frame, "csat", customers=DataFrame, value="annual_revenue", n_boot=999)`` in
full (reading and checking the customers through DuckDB, the link, the clustered logit, 999
customer-bootstrap replicates, mediation of four contact measures and the what-if chains, the Cox
model), against the baseline measured in the same run: one plain statsmodels ``Logit`` of the same
outcome on the score with explicit segment and period-block dummies and ``cov_type="cluster"``
by customer (no bootstrap, no Cox, no mediation). Target: <= 15 s. Both run with one BLAS thread
(``--blas-threads`` leaves the default). The panel is not rebuilt: the
link starts from the frame.

**Coverage.** ``--worlds`` simulated worlds (``simulate(..., churn="cx", wait_effect="contact")``,
a year of 4 queues at 60 contacts per queue-day) and as many null worlds (``churn="none"``: no
link from experience to leaving). Each is built into a panel and linked with ``n_boot=199``.
Reported: how often the CX effect has the planted sign and its 95 % interval covers the planted
``truth["business_impact"]["cx_effect_pp"]`` (target >= 90 %), how often the waiting family's share
through CX has an interval that includes the planted share 1, and how often a null world's interval
includes 0 (target >= 95 %).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

# One BLAS thread, set before numpy loads, for both the link and the baseline: on a machine whose
# cores are shared, BLAS threads spinning against each other made every matrix product several times slower.
if "--blas-threads" not in sys.argv:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def draw(n_contacts: int = 1_000_000, n_customers: int = 60_000, n_surveys: int = 75_000, seed: int = 0):
    """The survey-level frame and the customers table of the timing run."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n_customers, n_contacts)
    t = np.sort(rng.uniform(0, 364, n_contacts))
    q = rng.integers(0, 8, n_contacts)
    wait = np.round(rng.exponential(45, n_contacts))
    handle = np.round(300 * np.exp(0.5 * rng.standard_normal(n_contacts)))
    resolved = rng.random(n_contacts) < 0.75
    transferred = rng.random(n_contacts) < 0.1
    eta = 1.0 + 2.0 * (resolved - 0.75) - 0.01 * np.maximum(wait - 60, 0) - 0.5 * transferred
    latent = eta + rng.logistic(0, 1, n_contacts)
    csat = 1 + (latent[:, None] > np.array([-2.0, -1.0, 0.0, 1.5])[None, :]).sum(axis=1)
    p = 1 / (1 + np.exp(-(-3.9 - 0.45 * (csat - 3))))
    decide = rng.random(n_contacts) < p
    leave_at = np.full(n_customers, np.inf)
    np.minimum.at(leave_at, cust[decide], t[decide] + rng.uniform(0, 90, int(decide.sum())))
    surveyed = np.sort(rng.choice(n_contacts, n_surveys, replace=False))
    start = pd.Timestamp("2025-01-06")
    ts = start + pd.to_timedelta(t[surveyed], unit="D")
    frame = pd.DataFrame({
        "survey_id": np.arange(n_surveys), "contact_id": surveyed,
        "period": ts.to_period("W").start_time, "queue": np.array([f"q{i}" for i in range(8)])[q[surveyed]],
        "contact_ts": ts, "wait_s": wait[surveyed], "handle_s": handle[surveyed],
        "transferred": transferred[surveyed].astype(float), "resolved": resolved[surveyed].astype(float),
        "customer_id": np.array([f"K{k:06d}" for k in range(n_customers)], dtype=object)[cust[surveyed]],
        "csat": csat[surveyed].astype(float)})
    seen = leave_at < 364
    churned = pd.Series(pd.NaT, index=range(n_customers), dtype="datetime64[ns]")
    churned[seen] = start + pd.to_timedelta(leave_at[seen], unit="D")
    customers = pd.DataFrame({"customer_id": [f"K{k:06d}" for k in range(n_customers)],
                              "churned_at": churned.dt.strftime("%Y-%m-%dT%H:%M:%S").where(seen, None),
                              "annual_revenue": np.round(rng.lognormal(np.log(500), 0.6, n_customers), 2)})
    return frame, customers


def timing(args) -> dict:
    import statsmodels.api as sm
    from alignment.impact import business_impact, link_surveys, read_customers
    from alignment.impact import model as M
    frame, customers = draw(args.contacts, args.customers, args.surveys)
    end = pd.Timestamp("2025-01-06") + pd.Timedelta(days=364)
    # the baseline: one statsmodels logit with explicit dummies and clustered errors, same rows
    link = link_surveys(frame, read_customers(customers, timezone="UTC").table, outcome="csat", end=end)
    data = link.modelled.reset_index(drop=True)
    data["block"] = M.period_blocks(data["period"], data["y"].to_numpy())
    t0 = time.perf_counter()
    X = sm.add_constant(pd.concat([data[["x"]], pd.get_dummies(data[["segment", "block"]].astype(str),
                                                                 drop_first=True).astype(float)], axis=1))
    ref = sm.Logit(data["y"].to_numpy(), X).fit(disp=0, cov_type="cluster",
                                                cov_kwds={"groups": pd.factorize(data["customer_id"])[0]})
    baseline = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = business_impact(frame, "csat", customers=customers, value="annual_revenue", n_boot=args.n_boot,
                              as_of=end - pd.Timedelta(days=1), by=["queue"], seed=0, timezone="UTC")
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        business_impact(frame, "csat", customers=customers, value="annual_revenue", n_boot=args.n_boot,
                        as_of=end - pd.Timedelta(days=1), by=["queue"], seed=0, timezone="UTC", cox=False)
        no_cox = time.perf_counter() - t0
    out = {"contacts": args.contacts, "customers": args.customers, "surveys": args.surveys, "n_boot": args.n_boot,
           "n_linked": res.n_contacts, "business_impact_s": full, "without_cox_s": no_cox,
           "statsmodels_logit_s": baseline, "ratio": full / baseline,
           "logit_coef_vs_statsmodels": float(res.cx_effect["logit_coef"] - ref.params["x"]),
           "target_s": 15.0, "met": full <= 15.0}
    print(f"timing: {args.contacts:,} contacts, {args.customers:,} customers, {args.surveys:,} surveys "
          f"({res.n_contacts:,} windows in the logit)")
    print(f"  business_impact (n_boot={args.n_boot}, mediation, Cox): {full:.2f} s; without Cox {no_cox:.2f} s")
    print(f"  baseline statsmodels Logit with dummies, clustered: {baseline:.2f} s; ratio {full / baseline:.2f}")
    print(f"  target <= 15 s: {'met' if out['met'] else 'MISSED'}; logit coefficient - statsmodels' = "
          f"{out['logit_coef_vs_statsmodels']:.2e}")
    return out


def worlds(args) -> dict:
    from alignment import build_panel
    from alignment.impact import business_impact
    from alignment.simulate import simulate
    rows = []
    for kind in ("cx", "none"):
        for i in range(args.worlds):
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                truth = simulate(tmp, seed=1000 + i, churn=kind, wait_effect="contact")
                panel = build_panel(f"{tmp}/contacts.csv", surveys=f"{tmp}/surveys.csv", by=["queue"],
                                    timezone="America/New_York", contact_frame=True)
                res = business_impact(panel, "csat", customers=f"{tmp}/customers.csv", n_boot=199, cox=False,
                                      mediators=["wait_s"], seed=i)
            t = truth["business_impact"]
            lo, hi = res.cx_effect["ci"]
            med = res.mediation.set_index("kpi").loc["asa"] if len(res.mediation) else None
            rows.append({"world": kind, "seed": 1000 + i, "truth": t["cx_effect_pp"], "estimate": res.cx_effect["estimate"],
                         "ci_low": lo, "ci_high": hi, "covers": lo <= t["cx_effect_pp"] <= hi,
                         "sign": np.sign(res.cx_effect["estimate"]) == np.sign(t["cx_effect_pp"]) if kind == "cx" else None,
                         "includes_0": lo <= 0 <= hi,
                         "share": None if med is None else float(med["share_through_cx"]),
                         "share_ci": None if med is None else [float(med["share_ci_low"]), float(med["share_ci_high"])],
                         "n": res.n_contacts})
            r = rows[-1]
            print(f"  {kind:<4} seed {r['seed']}: truth {r['truth']:+.3f} estimate {r['estimate']:+.3f} "
                  f"[{lo:+.3f}, {hi:+.3f}] covers={r['covers']} share {r['share']} {r['share_ci']}", flush=True)
    df = pd.DataFrame(rows)
    cx, null = df[df["world"] == "cx"], df[df["world"] == "none"]
    share_ok = [s is not None and s[0] <= 1.0 <= s[1] for s in cx["share_ci"]]
    out = {"worlds": args.worlds, "coverage": float(cx["covers"].mean()), "sign": float(cx["sign"].mean()),
           "share_covers_1": float(np.mean(share_ok)), "null_includes_0": float(null["includes_0"].mean()),
           "rows": rows}
    print(f"worlds: CX effect covers the truth in {out['coverage']:.0%} (target >= 90 %), planted sign in "
          f"{out['sign']:.0%}; waiting's share through CX includes 1 in {out['share_covers_1']:.0%}; "
          f"null worlds include 0 in {out['null_includes_0']:.0%} (target >= 95 %)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=60_000)
    ap.add_argument("--surveys", type=int, default=75_000)
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--timing", type=int, default=1, help="1: run the timing, 0: skip it")
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--blas-threads", action="store_true", help="leave the BLAS thread count at its default")
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    out = {}
    if args.timing:
        out["timing"] = timing(args)
    if args.worlds:
        out["worlds"] = worlds(args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
