"""Erlang A on the Anonymous Bank calls (February 1999): how well it predicts each hour, and where it fails.

    .venv/bin/python benchmarks/queueing.py            # about 15 s; the figures of the README

Prints, for the two inferred agent estimates (distinct agents serving; agents on duty from their
service spans) and the two patience readings (each hour's own estimate; the pooled one):
the fit across weekday x hour cells of Sunday-Thursday (the bank's working week), weighted by
offered (Pearson r and mean error, predicted - observed, of the abandon rate, ASA and service
level); the sensitivity to the idle gap that joins services into spans; and the known misfits:
the afternoon, priority customers' patience, and patience that is not exponential (abandonment
times counted from the raw file with the csv module).
"""

from __future__ import annotations

import csv
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alignment import Source  # noqa: E402
from alignment.staffing import queueing  # noqa: E402

DATA = ROOT / "data" / "anonymous_bank" / "anonymous_bank_feb1999.txt"
TZ = "Asia/Jerusalem"
SUN_THU = [6, 0, 1, 2, 3]


def fit_line(fit, label: str) -> None:
    stats = fit.fit_stats(weekdays=SUN_THU).set_index("kpi")
    parts = [f"{k} r {stats.loc[k, 'r']:.2f} err {stats.loc[k, 'mean_error']:+.1f} "
             f"(obs {stats.loc[k, 'observed']:.1f} pred {stats.loc[k, 'predicted']:.1f})"
             for k in ("abandon_rate", "asa", "service_level")]
    print(f"{label:<34} " + "; ".join(parts) + f"; {int(stats.loc['abandon_rate', 'n'])} cells")


def main() -> None:
    warnings.simplefilter("ignore")
    src = Source(DATA, format="technion-anonymous-bank")
    t0 = time.perf_counter()
    print("Fit across weekday x hour cells, Sunday-Thursday, weighted by offered (rates in %, ASA in s)")
    fits = {}
    for agents in ("distinct", "on_duty"):
        for patience in ("interval", "pooled"):
            fits[agents, patience] = fit = queueing(src, timezone=TZ, agents=agents, patience=patience)
            fit_line(fit, f"agents={agents}, patience={patience}")
    fit_line(queueing(src, timezone=TZ, no_abandonment="erlang_c"), "on_duty, no abandonment -> Erlang C")
    fit_line(queueing(src, timezone=TZ, interval=30), "on_duty, 30-minute intervals")
    fit_line(queueing(src, timezone=TZ, by=["queue"]), "on_duty, by queue (agents split)")

    print("\nIdle gap joining services into spans of duty (agents=on_duty, patience=interval)")
    for gap in (600, 900, 1800, 3600):
        fit_line(queueing(src, timezone=TZ, gap_s=gap), f"gap {gap // 60} min")

    fit = fits["on_duty", "interval"]
    t = fit.table
    t = t.assign(hour=t["period_start"].dt.hour)
    g = t.groupby("hour")[["handle_answered_s", "agents_distinct", "agents_on_duty", "offered", "abandoned"]].sum()
    print("\nBusy share of the agents, and abandonment, by hour (all days)")
    print("hour  offered  abandon%  busy share of distinct agents  of agents on duty")
    for hour, row in g.iterrows():
        if row["offered"] >= 100:
            print(f"{hour:>4} {int(row['offered']):>8} {100 * row['abandoned'] / row['offered']:>9.1f} "
                  f"{row['handle_answered_s'] / (row['agents_distinct'] * 3600):>30.2f} "
                  f"{row['handle_answered_s'] / (row['agents_on_duty'] * 3600):>18.2f}")

    cells = fit.cells(weekdays=SUN_THU)
    print("\nBy hour, Sunday-Thursday (on duty, own patience): observed vs predicted abandon %, agents")
    for hour, c in cells.groupby("hour"):
        w = c["offered"]
        obs = (c["observed_abandon_rate"] * w).sum() / w.sum()
        pred = (c["predicted_abandon_rate"] * w).sum() / w.sum()
        print(f"{hour:>4}  offered {int(w.sum()):>5}  observed {obs:5.1f}  predicted {pred:5.1f}  "
              f"agents on duty {(c['agents'] * c['intervals_h']).sum() / c['intervals_h'].sum():4.1f}")

    prio = queueing(src, timezone=TZ, by=["priority"]).inputs.pooled_patience_s
    print("\nPooled patience by priority (s):", {k: round(v, 1) for k, v in prio.items()})
    regular = queueing(src, timezone=TZ, by=["priority"]).table
    reg = regular[regular["priority"].isin(["0", "1"])]
    print(f"priority 0-1 together: {reg['wait_queued_s'].sum() / reg['abandoned'].sum():.1f} s")

    with open(DATA, newline="", encoding="ascii") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    queued = [r for r in rows if r["outcome"] == "HANG" and (r["q_start"] != "0:00:00" or int(r["q_time"]) > 0)]
    times = Counter(int(r["q_time"]) for r in queued)
    n = len(queued)
    print(f"\nAbandonment times of {n} abandoned calls: seconds beyond 60 s with more than twice the calls of "
          f"the 6 seconds around them (an exponential patience has no spikes)")
    for sec in range(61, 601):
        around = sum(times.get(sec + d, 0) for d in (-3, -2, -1, 1, 2, 3)) / 6
        if times.get(sec, 0) >= 10 and times[sec] > 2 * around:
            print(f"  {sec:>4} s: {times[sec]} calls (mean of the 6 seconds around it: {around:.1f})")
    print(f"\n{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
