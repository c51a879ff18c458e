"""A staffing what-if against a rerun of the simulated world with the changed staffing, 20 worlds.

    .venv/bin/python benchmarks/whatif_queue.py [--worlds 20] [--days 56] [--contacts-per-day 400] [--no-reasons]

Each world is ``alignment.simulate(..., queue=True, wait_effect="contact")``: two queues with a
real queue (M/M/N+M per local hour, first come first served, agents on duty from the staffing plan
it writes to staffing.csv, exponential service and patience), satisfaction falling with the
customer's own wait beyond 60 s, and every other mechanism of the simulator on (incidents,
weekday mood, contact reasons). The same world is rerun (same seed: the same customers, service
times and patience) with the plan changed, two more billing agents 10-14 h on weekdays: the
planted truth of the change, its ASA realised and its CSAT the expected top-two-box share that
the simulator records per queue-week (``truth["queue"]["expected_csat_top2_pct"]``).

The what-if is the study's chain on the base world: queue inputs with the agents from
staffing.csv (``[data.staffing]``), the contact-level model of the surveys for the waiting effect
(its hinge on the customer's own wait, effect and 95 % interval, as a study's validated ASA driver
carries it), and :func:`~alignment.staffing.whatif.whatif_from_inputs`. It is set against the
rerun: the predicted ASA change against the realised one, and whether the CX interval holds the
planted CSAT change (the mean over weeks of the change of billing's expected top-two-box share).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alignment.contact import contact_model  # noqa: E402
from alignment.simulate import simulate  # noqa: E402
from alignment.staffing import StaffingSource, queue_inputs  # noqa: E402
from alignment.staffing.whatif import whatif_from_inputs  # noqa: E402

CHANGE = dict(agents=2, segment="billing", hours="10-14", days="mon-fri")
TIMEZONE = "America/New_York"


def _world(folder, seed, days, contacts_per_day, staffing=None, reasons=True):
    return simulate(folder, seed=seed, days=days, queues=2, contacts_per_day=contacts_per_day, queue=True,
                    wait_effect="contact", timezone=TIMEZONE, staffing=staffing, reasons=reasons)


def changed_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan with two more billing agents 10-14 h on weekdays."""
    t = pd.to_datetime(plan["time"])
    hit = (plan["queue"] == "billing") & t.dt.hour.between(10, 13) & (t.dt.day_of_week < 5)
    return plan.assign(agents=plan["agents"] + 2 * hit)


def contacts(folder) -> pd.DataFrame:
    c = pd.read_csv(Path(folder) / "contacts.csv", dtype={"answered": str, "abandoned": str})
    return c.assign(answered=c["answered"] == "true", abandoned=c["abandoned"] == "true")


def experiment(seed: int, days: int, folder, *, contacts_per_day: float = 400, reasons: bool = True):
    """One world run as staffed (``folder/base``) and rerun with the changed plan (``folder/rerun``):
    ``(queue_inputs of the base world, base truth, rerun truth)``, the agents from its staffing.csv."""
    base, rerun = Path(folder) / "base", Path(folder) / "rerun"
    truth = _world(base, seed, days, contacts_per_day, reasons=reasons)
    plan = pd.read_csv(base / "staffing.csv")
    truth_rerun = _world(rerun, seed, days, contacts_per_day, staffing=changed_plan(plan), reasons=reasons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = queue_inputs(base / "contacts.csv", interval=60, by=["queue"], timezone=TIMEZONE,
                         staffing=StaffingSource(base / "staffing.csv"))
    return q, truth, truth_rerun


def pooled_asa(folder, queue="billing") -> float:
    c = contacts(folder)
    c = c[c["queue"] == queue]
    return float(c.loc[c["answered"], "wait_s"].mean())


def planted_cx_change(truth, truth_rerun, queue="billing") -> float:
    """The planted CSAT change: the mean over weeks of the change of the expected top-two-box share."""
    b = np.array(truth["queue"]["expected_csat_top2_pct"][queue], dtype=float)
    r = np.array(truth_rerun["queue"]["expected_csat_top2_pct"][queue], dtype=float)
    return float(np.nanmean(r - b))


def waiting_driver(folder, seed: int) -> pd.DataFrame:
    """The waiting effect as a study's validated ASA driver carries it, from the contact-level model."""
    res = contact_model(Path(folder) / "contacts.csv", "csat", surveys=Path(folder) / "surveys.csv", by=["queue"],
                        grain="day", timezone=TIMEZONE, n_boot=49, seed=seed, logit=False)
    row = res.table.set_index("variable").loc["wait_s"]
    return pd.DataFrame([{"name": "asa", "verdict": "validated", "effect": float(row["effect"]),
                          "effect_ci": [float(row["ci_low"]), float(row["ci_high"])],
                          "threshold": float(row["threshold"]),
                          "threshold_ci": [float(row["threshold_ci_low"]), float(row["threshold_ci_high"])],
                          "proxy_of": None}])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--days", type=int, default=56)
    ap.add_argument("--contacts-per-day", type=float, default=400)
    ap.add_argument("--no-reasons", dest="reasons", action="store_false",
                    help="no contact reasons: every service time exponential with the week's mean (exact M/M/N+M)")
    args = ap.parse_args()
    seeds = np.random.SeedSequence(2026).spawn(args.worlds)
    rows = []
    started = time.perf_counter()
    for k, ss in enumerate(seeds):
        seed = int(ss.generate_state(1)[0])
        with tempfile.TemporaryDirectory() as tmp:
            q, truth, truth_rerun = experiment(seed, args.days, tmp, contacts_per_day=args.contacts_per_day,
                                               reasons=args.reasons)
            drivers = waiting_driver(Path(tmp) / "base", seed)
            w = whatif_from_inputs(q, **CHANGE, drivers=drivers, n_draws=4000, seed=k).segments[0]
            asa_b, asa_r = pooled_asa(Path(tmp) / "base"), pooled_asa(Path(tmp) / "rerun")
        true_cx = planted_cx_change(truth, truth_rerun)
        lo, hi = w["cx_change"]["ci"]
        rows.append({"world": k, "asa_before": asa_b, "asa_pred": w["kpis"]["asa"]["after"], "asa_rerun": asa_r,
                     "effect": drivers["effect"][0], "threshold": drivers["threshold"][0],
                     "cx_pred": w["cx_change"]["estimate"], "cx_low": lo, "cx_high": hi, "cx_true": true_cx,
                     "covered": lo <= true_cx <= hi})
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(t.round(2).to_string(index=False))
    d_pred = t["asa_pred"] - t["asa_before"]
    d_true = t["asa_rerun"] - t["asa_before"]
    print(f"\n{args.worlds} worlds of {args.days} days x 2 queues ({args.contacts_per_day:g} contacts a queue-day"
          f"{'' if args.reasons else ', no reasons'}) "
          f"in {time.perf_counter() - started:.0f} s")
    print(f"ASA change: predicted {d_pred.mean():+.2f} s, rerun {d_true.mean():+.2f} s (mean over worlds); "
          f"mean error {(d_pred - d_true).mean():+.2f} s, sd {(d_pred - d_true).std():.2f} s, "
          f"largest |error| {(d_pred - d_true).abs().max():.2f} s")
    print(f"CSAT change: predicted {t['cx_pred'].mean():+.3f}, planted {t['cx_true'].mean():+.3f} top-2-box points "
          f"(mean over worlds); mean error {(t['cx_pred'] - t['cx_true']).mean():+.3f}")
    print(f"CX interval holds the planted CSAT change in {int(t['covered'].sum())} of {len(t)} worlds")


if __name__ == "__main__":
    main()
