"""A staffing what-if against a rerun of the simulated world with the changed staffing, 20 worlds.

    .venv/bin/python benchmarks/whatif_queue.py [--worlds 20] [--days 56] [--contacts-per-day 400] [--no-reasons]
                                                [--seed 2026]

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
(its threshold and slope beyond it, as a study's validated ASA driver carries them, and its logit
hinge, ``ContactModelResult.wait_hinge``, through which the CX change is computed), and
:func:`~alignment.staffing.whatif.whatif_from_inputs`. It is set against the rerun: the predicted
ASA change against the realised one, and whether the CX interval holds the planted CSAT change
(the mean over weeks of the change of billing's expected top-two-box share). ``--seed`` is the
entropy of the worlds' seeds (``SeedSequence(seed).spawn(worlds)``): another set of worlds.
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


def waiting_driver(folder, seed: int):
    """The waiting effect as a study's validated ASA driver carries it (the slope beyond the
    threshold, as ``alignment.study.run._contact_effect`` quotes it), and the contact-level model's
    logit hinge: ``(drivers, wait_hinge)``."""
    res = contact_model(Path(folder) / "contacts.csv", "csat", surveys=Path(folder) / "surveys.csv", by=["queue"],
                        grain="day", timezone=TIMEZONE, n_boot=49, seed=seed, logit=False)
    row = res.table.set_index("variable").loc["wait_s"]
    above = np.isfinite(row["threshold"])
    e, lo, hi = ((row["effect_above"], row["effect_above_ci_low"], row["effect_above_ci_high"]) if above
                 else (row["effect"], row["ci_low"], row["ci_high"]))
    drivers = pd.DataFrame([{"name": "asa", "verdict": "validated", "effect": float(e),
                             "effect_ci": [float(lo), float(hi)], "threshold": float(row["threshold"]),
                             "threshold_ci": [float(row["threshold_ci_low"]), float(row["threshold_ci_high"])],
                             "proxy_of": None}])
    return drivers, res.wait_hinge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--days", type=int, default=56)
    ap.add_argument("--contacts-per-day", type=float, default=400)
    ap.add_argument("--no-reasons", dest="reasons", action="store_false",
                    help="no contact reasons: every service time exponential with the week's mean (exact M/M/N+M)")
    ap.add_argument("--seed", type=int, default=2026, help="entropy of the worlds' seeds (another set of worlds)")
    args = ap.parse_args()
    seeds = np.random.SeedSequence(args.seed).spawn(args.worlds)
    rows = []
    started = time.perf_counter()
    for k, ss in enumerate(seeds):
        seed = int(ss.generate_state(1)[0])
        with tempfile.TemporaryDirectory() as tmp:
            q, truth, truth_rerun = experiment(seed, args.days, tmp, contacts_per_day=args.contacts_per_day,
                                               reasons=args.reasons)
            drivers, hinge = waiting_driver(Path(tmp) / "base", seed)
            w = whatif_from_inputs(q, **CHANGE, drivers=drivers, n_draws=4000, seed=k, wait_hinge=hinge).segments[0]
            asa_b, asa_r = pooled_asa(Path(tmp) / "base"), pooled_asa(Path(tmp) / "rerun")
        true_cx = planted_cx_change(truth, truth_rerun)
        lo, hi = w["cx_change"]["ci"]
        asa = w["kpis"]["asa"]
        # the ASA change's interval is multiplicative (Erlang A's misfit): the same ratios for the pooled change
        ratio = np.array(asa["change_ci"]) / asa["change_per_period"]
        asa_lo, asa_hi = np.sort((asa["after"] - asa["before"]) * ratio)
        rows.append({"world": k, "asa_before": asa_b, "asa_pred": asa["after"], "asa_rerun": asa_r,
                     "asa_covered": bool(asa_lo <= asa_r - asa_b <= asa_hi), "misfit": w["queue_misfit"],
                     "effect": drivers["effect"][0], "threshold": drivers["threshold"][0],
                     "hinge": hinge is not None,
                     "cx_pred": w["cx_change"]["estimate"], "cx_low": lo, "cx_high": hi, "cx_true": true_cx,
                     "covered": lo <= true_cx <= hi})
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(t.round(2).to_string(index=False))
    d_pred = t["asa_pred"] - t["asa_before"]
    d_true = t["asa_rerun"] - t["asa_before"]
    print(f"\n{args.worlds} worlds of {args.days} days x 2 queues ({args.contacts_per_day:g} contacts a queue-day"
          f"{'' if args.reasons else ', no reasons'}; seed {args.seed}) "
          f"in {time.perf_counter() - started:.0f} s")
    print(f"ASA change: predicted {d_pred.mean():+.2f} s, rerun {d_true.mean():+.2f} s (mean over worlds); "
          f"mean error {(d_pred - d_true).mean():+.2f} s, sd {(d_pred - d_true).std():.2f} s, "
          f"largest |error| {(d_pred - d_true).abs().max():.2f} s")
    print(f"CSAT change: predicted {t['cx_pred'].mean():+.3f}, planted {t['cx_true'].mean():+.3f} top-2-box points "
          f"(mean over worlds); mean error {(t['cx_pred'] - t['cx_true']).mean():+.3f}")
    print(f"ASA change interval holds the rerun's change in {int(t['asa_covered'].sum())} of {len(t)} worlds")
    print(f"CX interval holds the planted CSAT change in {int(t['covered'].sum())} of {len(t)} worlds "
          f"(through the logit hinge in {int(t['hinge'].sum())})")


if __name__ == "__main__":
    main()
