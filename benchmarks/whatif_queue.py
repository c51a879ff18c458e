"""A staffing what-if against a rerun of a world with a real queue (M/M/N+M), 20 worlds.

    .venv/bin/python benchmarks/whatif_queue.py [--worlds 20] [--days 28]

Each world is one queue open 8-20 h for ``--days`` days: Poisson arrivals with an hourly profile,
exponential handle times (mean 240 s) and patience (mean 300 s), and a staffing table of agents
per hour (about 95 % of the offered load, so that customers wait and some hang up). Customers are
served first come, first served; an agent who comes on duty takes the next waiting customer, one
going off duty finishes the call. The same world is then rerun with the same arrivals, handle
times and patience (common random numbers) and two more agents 10-14 h on weekdays: the planted
truth of the change. The what-if (``whatif_from_inputs`` on the base world's queue inputs, agents
from the staffing table, a planted linear ASA effect of -1.0 CX points per 10 s with interval
[-1.2, -0.8]) is set against the rerun: the predicted ASA, abandon rate and service level after
the change against the rerun's, and whether the CX interval holds the planted CX change
(-1.0 x the rerun's change of the weekly pooled ASA / 10).

This simulator is separate from ``alignment.simulate`` (whose waits come from a reduced-form
occupancy model); it is not in the test suite.
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alignment.staffing import StaffingSource, queue_inputs  # noqa: E402
from alignment.staffing.whatif import whatif_from_inputs  # noqa: E402

PROFILE = {8: 40, 9: 70, 10: 90, 11: 95, 12: 80, 13: 85, 14: 90, 15: 80, 16: 70, 17: 60, 18: 50, 19: 40}
HANDLE, PATIENCE = 240.0, 300.0
START = pd.Timestamp("2025-01-06")   # a Monday


def world(seed: int, days: int):
    """Arrivals (seconds from START), handle times, patience; the base staffing per (day, hour)."""
    rng = np.random.default_rng(seed)
    arrivals, staffing = [], {}
    for d in range(days):
        scale = 0.6 if (START + pd.Timedelta(days=d)).weekday() >= 5 else 1.0
        for h, rate in PROFILE.items():
            lam = rate * scale * rng.uniform(0.85, 1.15)
            n = rng.poisson(lam)
            t0 = d * 86400 + h * 3600
            arrivals.append(t0 + np.sort(rng.uniform(0, 3600, n)))
            staffing[(d, h)] = max(1, int(round(0.95 * rate * scale * HANDLE / 3600)))
    arr = np.concatenate(arrivals)
    return arr, rng.exponential(HANDLE, len(arr)), rng.exponential(PATIENCE, len(arr)), staffing


def serve(arr, handle, patience, staffing):
    """FCFS M/M/N+M with agents per hour: (answered, wait_s) per customer."""
    n = len(arr)
    answered = np.zeros(n, bool)
    wait = np.zeros(n)
    events = [(t, 1, i) for i, t in enumerate(arr)]                     # 1: arrival
    events += [(d * 86400 + h * 3600, 0, -1) for (d, h) in staffing]     # 0: a staffing change
    heapq.heapify(events)
    busy, on_duty, queue = 0, 0, deque()

    def start(t):
        nonlocal busy
        while busy < on_duty and queue:
            i = queue.popleft()
            if arr[i] + patience[i] < t:      # hung up before now
                wait[i] = patience[i]
                continue
            answered[i], wait[i] = True, t - arr[i]
            busy += 1
            heapq.heappush(events, (t + handle[i], 2, i))               # 2: a call ends

    while events:
        t, kind, i = heapq.heappop(events)
        if kind == 0:
            day, hour = divmod(int(t) // 3600, 24)
            on_duty = staffing.get((day, hour), 0)
            nxt = (day, hour + 1)
            if nxt not in staffing and hour + 1 <= 23:
                heapq.heappush(events, ((day * 24 + hour + 1) * 3600, 3, -1))   # 3: off duty after the day
        elif kind == 3:
            on_duty = 0
        elif kind == 1:
            queue.append(i)
        else:
            busy -= 1
        start(t)
    for i in queue:                            # still waiting when everyone left: they hung up
        wait[i] = patience[i]
    return answered, wait


def contacts(arr, handle, patience, staffing):
    answered, wait = serve(arr, handle, patience, staffing)
    return pd.DataFrame({"contact_id": np.arange(len(arr)).astype(str),
                         "arrived_at": (START + pd.to_timedelta(arr, unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
                         "queue": "billing", "answered": answered, "abandoned": ~answered,
                         "wait_s": np.round(wait, 1), "handle_s": np.where(answered, np.round(handle, 1), 0.0)})


def pooled(df):
    a = df["answered"]
    ts = pd.to_datetime(df["arrived_at"])
    weekly = df.assign(week=ts.dt.to_period("W-SUN")).groupby("week")
    asa_w = weekly.apply(lambda g: g.loc[g["answered"], "wait_s"].sum() / g["answered"].sum(), include_groups=False)
    return {"asa": df.loc[a, "wait_s"].mean(), "abandon_rate": 100 * (~a).mean(),
            "service_level": 100 * (a & (df["wait_s"] <= 20)).mean(), "asa_weekly": asa_w}


def experiment(seed: int, days: int):
    """One world with its queue inputs, run as staffed and rerun with two more agents 10-14 h on
    weekdays (the same customers): ``(queue_inputs, base contacts, rerun contacts)``."""
    arr, handle, patience, staffing = world(seed, days)
    changed = {key: v + (2 if 10 <= key[1] < 14 and (START + pd.Timedelta(days=key[0])).weekday() < 5 else 0)
               for key, v in staffing.items()}
    base, rerun = contacts(arr, handle, patience, staffing), contacts(arr, handle, patience, changed)
    table = pd.DataFrame([{"time": (START + pd.Timedelta(days=d, hours=h)).strftime("%Y-%m-%d %H:%M:%S"),
                           "queue": "billing", "agents": v} for (d, h), v in staffing.items()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = queue_inputs(base, interval=60, by=["queue"], timezone="UTC",
                         staffing=StaffingSource(table, time="time", agents="agents"))
    return q, base, rerun


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--days", type=int, default=28)
    args = ap.parse_args()
    drivers = pd.DataFrame([{"name": "asa", "verdict": "validated", "effect": -1.0, "effect_ci": [-1.2, -0.8],
                             "threshold": None, "proxy_of": None}])
    seeds = np.random.SeedSequence(2026).spawn(args.worlds)
    rows = []
    started = time.perf_counter()
    for k, ss in enumerate(seeds):
        q, base, rerun = experiment(int(ss.generate_state(1)[0]), args.days)
        w = whatif_from_inputs(q, agents=2, segment="billing", hours="10-14", days="mon-fri", drivers=drivers,
                               n_draws=4000, seed=k).segments[0]
        b, r = pooled(base), pooled(rerun)
        true_cx = float((-1.0 * (r["asa_weekly"] - b["asa_weekly"]) / 10).mean())
        lo, hi = w["cx_change"]["ci"]
        rows.append({"world": k, "asa_before": b["asa"], "asa_pred": w["kpis"]["asa"]["after"], "asa_rerun": r["asa"],
                     "ab_pred": w["kpis"]["abandon_rate"]["after"], "ab_rerun": r["abandon_rate"],
                     "sl_pred": w["kpis"]["service_level"]["after"], "sl_rerun": r["service_level"],
                     "cx_pred": w["cx_change"]["estimate"], "cx_true": true_cx, "covered": lo <= true_cx <= hi})
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(t.round(2).to_string(index=False))
    d_pred = t["asa_pred"] - t["asa_before"]
    d_true = t["asa_rerun"] - t["asa_before"]
    print(f"\n{args.worlds} worlds of {args.days} days in {time.perf_counter() - started:.0f} s")
    print(f"ASA change: predicted {d_pred.mean():+.2f} s, rerun {d_true.mean():+.2f} s (mean over worlds); "
          f"mean error {(d_pred - d_true).mean():+.2f} s, sd {(d_pred - d_true).std():.2f} s")
    print(f"abandon rate after: predicted {t['ab_pred'].mean():.2f} %, rerun {t['ab_rerun'].mean():.2f} %; "
          f"service level after: predicted {t['sl_pred'].mean():.1f} %, rerun {t['sl_rerun'].mean():.1f} %")
    print(f"CX interval holds the planted CX change in {int(t['covered'].sum())} of {len(t)} worlds")


if __name__ == "__main__":
    main()
