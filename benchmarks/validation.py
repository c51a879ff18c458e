"""Acceptance benchmark of step 6: does validation find the planted truth, and only it?

For each seed, the simulator writes a year of a 4-queue contact center with a planted truth
(``truth.json``): real drivers (ASA with a threshold, FCR, and last week's e-mail backlog) and
non-drivers built as the traps real data holds (marketing spend that trends with an unmeasured
drift, handle time that differs between queues with their baselines and lengthens with complex
contact reasons, contact volume that rises on incident days common to all queues, and pure
noise), with weekday moods. The full study runs on each world, at week or day grain; we count

* planted drivers validated with the right sign (and the lagged one at its lag +- 1 period),
* non-drivers wrongly validated,

and, for comparison, what a naive pooled correlation (textbook p < 0.05, lag 0) would call a driver.
Proxies of a driver (service level and abandon rate move with ASA) are reported apart, and so is each
verdict's ``evidence`` (the contact-level model or the panel) and, for ASA, the wait threshold the
contact-level model found and whether its interval covers the planted 60 s.

``--wait-effect`` picks where the simulator's waiting driver acts: ``contact`` (default, realistic) on
each customer's own wait, ``period`` (the simulator's old default) on the queue-week ASA, which the
contact-level model's queue x period effects absorb, so ASA is inconclusive there by design.
``--no-contact-controls`` drops the contact reason from the contact-level model's controls.

    .venv/bin/python benchmarks/validation.py --seeds 20 [--grain week|day] [--days 364|728] [--n-boot 200]
                                              [--wait-effect contact|period] [--no-contact-controls]
                                              [--json out/validation.json]

Targets: >= 95 % of planted drivers validated, <= 5 % of non-drivers validated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import pandas as pd
from scipy import stats

KPIS = ["service_level", "abandon_rate", "asa", "aht", "fcr", "transfer_rate", "offered", "email_backlog",
        "marketing_spend", "training_hours"]
MAX_LAG = {"week": 2, "day": 7}
# a queue-day has about 13 surveys: weights by responses carry their precision, so only nearly
# empty days leave the inference
MIN_RESPONSES = {"week": 30, "day": 5}


def study_for(world: Path, truth: dict, n_boot: int, grain: str = "week", contact_controls: bool = True):
    from alignment import ExtraSource, Source
    from alignment.study import Study
    return Study(name=f"world {truth['seed']}", outcome="csat", kpis=tuple(KPIS),
                 contacts=Source(world / "contacts.csv"), surveys=Source(world / "surveys.csv"),
                 extras=(ExtraSource(world / "backlog.csv", by=["queue"], aggregate="mean"),
                         ExtraSource(world / "marketing.csv", aggregate="sum"),
                         ExtraSource(world / "staffing.csv", by=["queue"], aggregate="sum")),
                 grain=grain, by=("queue",), timezone=truth["timezone"], max_lag=MAX_LAG[grain], n_boot=n_boot,
                 min_responses=MIN_RESPONSES[grain], seed=42,
                 # the simulator writes each contact's reason, which shifts satisfaction and handle time
                 contact_controls=("reason",) if contact_controls else ())


def one_world(seed: int, n_boot: int, grain: str = "week", days: int = 364, wait_effect: str = "contact",
              contact_controls: bool = True) -> dict:
    from alignment.simulate import simulate
    with tempfile.TemporaryDirectory() as tmp:
        truth = simulate(tmp, seed=seed, days=days, wait_effect=wait_effect)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = study_for(Path(tmp), truth, n_boot, grain, contact_controls).run()
    drivers = result.drivers.set_index("name")
    families = {f["name"]: f for f in result.families}
    table = result.panel.table
    out = {"seed": seed, "kpis": {}, "asa_threshold": _asa_threshold(result, truth)}
    for d in truth["drivers"]:
        name = d["name"]
        if name not in drivers.index:
            continue
        planted_lag = d["lag_weeks"] if grain == "week" else d.get("lag_days", 0)
        row = drivers.loc[name]
        naive = stats.pearsonr(*table[[name, "csat"]].dropna().to_numpy().T)
        family = families.get(row["family"]) if row["family"] else None
        out["kpis"][name] = {"role": d["role"], "planted_sign": d["sign"], "planted_lag": planted_lag,
                             "verdict": row["verdict"], "evidence": _s(row.get("evidence")),
                             "sign": _i(row["sign"]), "lag": _i(row["lag"]),
                             # missing cells come back as NaN, which `is not None` would count as a proxy
                             "family": _s(row["family"]), "proxy_of": _s(row["proxy_of"]),
                             "family_verdict": family["verdict"] if family else None,
                             "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
                             "naive_significant": bool(naive.pvalue < 0.05), "naive_r": float(naive.statistic)}
    for name in truth.get("proxies", []):
        key = name if isinstance(name, str) else name.get("name")
        if key in drivers.index:
            out["kpis"][key] = {"role": "proxy", "verdict": drivers.loc[key, "verdict"],
                                "evidence": _s(drivers.loc[key].get("evidence")),
                                "proxy_of": _s(drivers.loc[key, "proxy_of"]),
                                "rank": None if pd.isna(drivers.loc[key, "rank"]) else int(drivers.loc[key, "rank"])}
    return out


def _i(x):
    """An integer cell as a JSON integer (numpy's int64 is not one), or None when missing."""
    return None if x is None or pd.isna(x) else int(x)


def _s(x):
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x


def _asa_threshold(result, truth: dict) -> dict:
    """The wait threshold of the contact-level model (fitted on all surveys, whatever ASA's verdict)
    against the planted one."""
    planted = next((d.get("threshold") for d in truth["drivers"] if d["name"] == "asa"), None)
    fit = getattr(result, "contact_model", None)
    row = fit.row("asa") if fit is not None else None
    out = {"planted": planted, "threshold": None, "ci": [None, None], "covers": None}
    if row is None or not math.isfinite(float(row["threshold"])):
        return out
    lo, hi = float(row["threshold_ci_low"]), float(row["threshold_ci_high"])
    out.update(threshold=float(row["threshold"]), ci=[lo, hi],
               covers=None if planted is None else bool(lo <= planted <= hi))
    return out


def score(worlds: list[dict]) -> dict:
    """Planted drivers found (itself validated, or its family validated through another member that
    carries it), non-drivers validated, worlds with at least one non-driver validated, proxies
    labelled and traps ranked."""
    found = planted = wrong = non = naive_wrong = studies_wrong = proxies = labelled = ranked_traps = 0
    per_driver: dict[str, dict] = {}
    evidence: dict[str, dict] = {}
    for w in worlds:
        any_wrong = False
        for name, k in w["kpis"].items():
            if k["role"] == "driver":
                planted += 1
                own = k["verdict"] == "validated"
                via_family = k.get("proxy_of") is not None and k.get("family_verdict") == "validated"
                ok = (own or via_family) and k["sign"] == k["planted_sign"] and abs(k["lag"] - k["planted_lag"]) <= 1
                found += ok
                d = per_driver.setdefault(name, {"found": 0, "n": 0})
                d["found"] += ok
                d["n"] += 1
            elif k["role"] == "proxy":
                proxies += 1
                labelled += k.get("proxy_of") is not None or k["verdict"] != "validated"
            else:
                non += 1
                wrong += k["verdict"] == "validated"
                any_wrong |= k["verdict"] == "validated"
                ranked_traps += k["role"].startswith("trap") and k.get("rank") is not None
                naive_wrong += k["naive_significant"]
        studies_wrong += any_wrong
        for name, k in w["kpis"].items():
            e = evidence.setdefault(name, {})
            key = f"{k['verdict']}/{k.get('evidence') or 'none'}"
            e[key] = e.get(key, 0) + 1
    thresholds = [w["asa_threshold"] for w in worlds if w.get("asa_threshold")]
    found_t = [t for t in thresholds if t["threshold"] is not None]
    return {"drivers_validated": found / planted if planted else None, "n_drivers": planted,
            "non_drivers_validated": wrong / non if non else None, "n_non_drivers": non,
            "studies_with_a_false_validation": studies_wrong / len(worlds) if worlds else None,
            "proxies_not_separate_levers": labelled / proxies if proxies else None, "n_proxies": proxies,
            "traps_ranked": ranked_traps, "per_driver": per_driver, "verdict_evidence": evidence,
            "asa_threshold_found": len(found_t), "asa_threshold_covers_planted": sum(bool(t["covers"]) for t in found_t),
            "asa_thresholds": [t["threshold"] for t in found_t],
            "naive_non_drivers_called_drivers": naive_wrong / non if non else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--grain", choices=sorted(MAX_LAG), default="week")
    parser.add_argument("--days", type=int, default=364, help="length of each simulated world")
    parser.add_argument("--wait-effect", choices=["period", "contact"], default="contact",
                        help="where the simulator's waiting driver acts (simulate(wait_effect=...))")
    parser.add_argument("--contact-controls", action=argparse.BooleanOptionalAction, default=True,
                        help="give the contact-level model the contact reason as a control (default on)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    args.package_digest = package_digest()
    print(f"grain {args.grain}, {args.days} days, seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, "
          f"n_boot {args.n_boot}, wait_effect {args.wait_effect}, contact_controls "
          f"{['reason'] if args.contact_controls else []}, package {args.package_digest}", flush=True)
    worlds, failed = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        try:
            w = one_world(seed, args.n_boot, args.grain, args.days, args.wait_effect, args.contact_controls)
        except Exception as error:  # a study that raises is a finding: record it, go on with the next world
            where = traceback.extract_tb(error.__traceback__)[-1]
            failed.append({"seed": seed, "error": f"{type(error).__name__}: {error}",
                           "at": f"{where.filename}:{where.lineno} ({where.name})",
                           "seconds": round(time.perf_counter() - t0, 1)})
            print(f"seed {seed:>3} ({failed[-1]['seconds']:5.1f} s): FAILED {failed[-1]['error']} at "
                  f"{failed[-1]['at']}", flush=True)
            if args.json:
                _write(args, worlds, failed=failed)
            continue
        w["seconds"] = round(time.perf_counter() - t0, 1)
        worlds.append(w)
        line = ", ".join(f"{n}:{k['verdict'][:5]}{'(c)' if k.get('evidence') == 'contact' else ''}"
                         for n, k in w["kpis"].items())
        t = w["asa_threshold"]
        tau = f"{t['threshold']:.0f} s [{t['ci'][0]:.0f}, {t['ci'][1]:.0f}]" if t["threshold"] is not None else "none"
        print(f"seed {seed:>3} ({w['seconds']:5.1f} s): {line}; asa threshold {tau}", flush=True)
        if args.json:  # partial results survive an interrupted run
            _write(args, worlds, failed=failed)
    if failed:
        print(f"\n{len(failed)} of {args.seeds} worlds raised (not scored): "
              + ", ".join(f"seed {f['seed']}" for f in failed))
    if not worlds:
        if args.json:
            _write(args, worlds, failed=failed)
        return 1
    s = score(worlds)
    print()
    print(f"planted drivers validated (right sign, lag +-1): {s['drivers_validated']:.1%} of {s['n_drivers']} "
          f"(target >= 95 %)")
    print(f"non-drivers wrongly validated:                  {s['non_drivers_validated']:.1%} of "
          f"{s['n_non_drivers']} (target <= 5 %)")
    print(f"studies with at least one false validation:     {s['studies_with_a_false_validation']:.1%} of "
          f"{len(worlds)} (target <= 5 %)")
    if s["n_proxies"]:
        print(f"proxies not reported as separate levers:        {s['proxies_not_separate_levers']:.1%} of "
              f"{s['n_proxies']}")
    print(f"traps given a rank:                             {s['traps_ranked']}")
    for name, d in s["per_driver"].items():
        print(f"  planted {name:<20} found {d['found']}/{d['n']}")
    print(f"asa threshold found in {s['asa_threshold_found']}/{len(worlds)} worlds; its CI covers the planted "
          f"60 s in {s['asa_threshold_covers_planted']}/{s['asa_threshold_found']}")
    print("verdict/evidence per KPI:")
    for name, e in s["verdict_evidence"].items():
        print(f"  {name:<22} " + ", ".join(f"{k} {v}" for k, v in sorted(e.items())))
    secs = [w["seconds"] for w in worlds]
    print(f"wall time per world: median {sorted(secs)[len(secs) // 2]:.1f} s, range {min(secs):.1f}-{max(secs):.1f} s")
    print(f"naive pooled correlation calls non-drivers drivers: {s['naive_non_drivers_called_drivers']:.1%}")
    roles = sorted({k["role"] for w in worlds for k in w["kpis"].values()} - {"driver", "proxy"})
    for role in roles:
        ks = [k for w in worlds for k in w["kpis"].values() if k["role"] == role]
        if ks:
            print(f"  {role:<22} validated {sum(k['verdict'] == 'validated' for k in ks)}/{len(ks)}, "
                  f"naive {sum(k['naive_significant'] for k in ks)}/{len(ks)}")
    if args.json:
        _write(args, worlds, s, failed)
    return 1 if failed else 0


def package_digest() -> str:
    """SHA-256 of the package's source files (several people edit it while benchmarks run)."""
    root = Path(__file__).resolve().parents[1] / "alignment"
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _write(args, worlds: list[dict], s: dict | None = None, failed: list[dict] = ()) -> None:
    options = {"package_sha256": args.package_digest, "grain": args.grain, "days": args.days, "first_seed": args.first_seed, "seeds": args.seeds,
               "n_boot": args.n_boot, "wait_effect": args.wait_effect,
               "contact_controls": ["reason"] if args.contact_controls else []}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"options": options, "worlds": worlds, "failed": list(failed), "score": s}, indent=2,
                                          default=str))


if __name__ == "__main__":
    sys.exit(main())
