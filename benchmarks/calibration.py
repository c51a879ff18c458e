"""Monte Carlo calibration: the size of every test, the false-validation rate of a study, and power.

Usage (from the project root)::

    .venv/bin/python benchmarks/calibration.py                  # the full table (see --help for reps)
    .venv/bin/python benchmarks/calibration.py --quick          # a couple of minutes, few reps
    .venv/bin/python benchmarks/calibration.py --reps 200 --seed 20261201 --jobs 2 --json out/calibration.json

The worlds are ``benchmarks/calibration_worlds.py``: queue x period panels whose ``csat`` is a survey
percentage with its binomial sampling noise, weighted by ``csat_n``, under nine nulls real contact
centres produce (``x_null`` never affects csat) and one world where ASA drives csat by about one
point per 10 s. On each replication, through the public API only:

* ``correlate(df, "csat", ["x_null"], by=["queue"], lags=max_lag, scope=["within_twoway", "within"])``
  (default inference: Driscoll-Kraay fixed-b), read at lag 0: columns ``cor tw`` and ``cor w``;
  ``correlate(..., scope="within", inference="fisher")``: column ``cor w fisher``;
* ``regress(df, "csat", ["x_null"], by=["queue"], effects="twoway", errors=...)`` with
  ``"driscoll-kraay"``, ``"hac"``, ``"cluster"``: ``reg tw dk / hac / cl``; ``effects="segment"`` with
  the default errors (and the calendar controls regress adds itself): ``reg seg``;
* the study's decision path: ``alignment.validation.validate(df, "csat", kpis, by=["queue"],
  max_lag=..., grain=...)`` with its defaults (lags and signs chosen on the training periods). ``false val`` is the share of
  replications whose ``x_null`` verdict is ``validated``. max_lag is 2 at both grains; three day cells
  repeat with max_lag = 7 (a week of daily lags).
* ``regress(rows, "score", ["x_null"], by=["queue"], model="ordinal")`` on respondent rows (1-5
  scores) under the cross-dependence null, and on a control world without the shared components:
  column ``ordinal``.

Every replication runs the full ``validate`` (the former shortcut for KPIs failing the within
check no longer holds: a KPI that is simply not significant is ``inconclusive``, and lags are
chosen on the training periods inside ``validate``). ``--audit-every`` is kept and has no effect.

Seeds: replication ``r`` of a cell uses ``SeedSequence(seed, spawn_key=(crc32(cell), r))``, so a
cell's numbers do not depend on which other cells run, on ``--jobs`` or on the order workers finish.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # 2 worker processes on 2 cores: no nested threads

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
import warnings
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import calibration_worlds as W  # noqa: E402

SEED = 20261201
ALPHA = 0.05
MAX_LAG = {"week": 2, "day": 2}   # the lags a study searches; a few day cells also use 7
SIZE_TESTS = ("cor_tw", "cor_w", "cor_w_fisher", "reg_tw_dk", "reg_tw_hac", "reg_tw_cl", "reg_seg")
HEAD = {"cor_tw": "cor tw", "cor_w": "cor w", "cor_w_fisher": "cor w fisher", "reg_tw_dk": "reg tw dk",
        "reg_tw_hac": "reg tw hac", "reg_tw_cl": "reg tw cl", "reg_seg": "reg seg", "ordinal": "ordinal",
        "false_val": "false val"}
CHECK_NAMES = ("within_segment", "trend", "placebo", "lag", "holdout", "stability")
SIZE_TARGET = (3.0, 7.0)
FALSE_TARGET = 5.0
POWER_TARGET = 90.0


@dataclass(frozen=True)
class Cell:
    """One row of the table: a kind of replication on one kind of world."""

    kind: str          # "null", "power" or "ordinal"
    scenario: str
    grain: str
    queues: int
    reps: int
    family: str = "A"
    periods: int | None = None
    shared: bool = True    # ordinal: the cross-dependence world (True) or its control (False)
    max_lag: int | None = None   # the study's lag search; default MAX_LAG of the grain

    @property
    def lag(self) -> int:
        return MAX_LAG[self.grain] if self.max_lag is None else self.max_lag

    @property
    def T(self) -> int:
        return W.n_periods(self.scenario, self.grain, self.periods)

    @property
    def key(self) -> str:
        extra = ("" if self.shared else "-control") + ("" if self.max_lag is None else f"/L{self.max_lag}")
        return f"{self.kind}/{self.family}/{self.scenario}/{self.grain}{self.T}/{self.queues}{extra}"


# ----------------------------------------------------------------------------- one replication

def _p(table, scope, lag=0, kpi=None):
    t = table[(table["scope"] == scope) & (table["lag"] == lag) & table["segment"].isna()]
    if kpi is not None:
        t = t[t["kpi"] == kpi]
    if t.empty or t.iloc[0]["status"] != "ok":
        return math.nan
    return float(t.iloc[0]["p_value"])


def _reject(p) -> float:
    return math.nan if p is None or not np.isfinite(p) else float(p < ALPHA)


def _tests(df, kpi, grain, wide, cor):
    """The size (or power) battery for one KPI: 1 = rejected at 5 %, 0 = not, NaN = not applicable."""
    import alignment
    # a centre-wide KPI has no within_twoway variation; correlate still reports an r of rounding noise
    # (status "ok", |r| ~ 1e-5, p ~ 1), which is not a test: left out of the table
    out = {"cor_tw": math.nan if wide else _reject(_p(cor, "within_twoway", 0, kpi)),
           "cor_w": _reject(_p(cor, "within", 0, kpi))}
    fisher = alignment.correlate(df, "csat", [kpi], by=["queue"], grain=grain, scope="within", inference="fisher")
    out["cor_w_fisher"] = _reject(_p(fisher.table, "within", 0, kpi))
    for name, errors in (("reg_tw_dk", "driscoll-kraay"), ("reg_tw_hac", "hac"), ("reg_tw_cl", "cluster")):
        if wide:          # a centre-wide KPI is absorbed by period effects: regress refuses it
            out[name] = math.nan
            continue
        fit = alignment.regress(df, "csat", [kpi], by=["queue"], grain=grain, effects="twoway", errors=errors)
        out[name] = _reject(fit.table["p_value"].iloc[0])
    fit = alignment.regress(df, "csat", [kpi], by=["queue"], grain=grain, effects="segment")
    out["reg_seg"] = _reject(fit.table["p_value"].iloc[0])
    return out


def _study_path(df, kpis, grain, max_lag, wide, cor, audit):
    """Verdict, sign and lag of each KPI on the study's decision path: ``validate`` with its
    defaults, which chooses the lags and signs on the training periods itself (as ``run_study``
    does). ``wide``, ``cor`` and ``audit`` are kept for the call signature; nothing is skipped."""
    from alignment.validation import validate
    res = validate(df, "csat", kpis, by=["queue"], max_lag=max_lag, grain=grain, families={})
    v = res.verdicts.set_index("kpi")
    out = {}
    for k in kpis:
        checks = res.table[res.table["kpi"] == k]
        out[k] = {"verdict": str(v.loc[k, "verdict"]), "sign": int(v.loc[k, "sign"]), "lag": int(v.loc[k, "lag"]),
                  "shortcut": False, "checks": dict(zip(checks["check"], checks["status"]))}
    return out, 0


def replicate(cell: Cell, rep: int, seed: int, audit_every: int) -> dict:
    """One replication of ``cell``: the 0/1 outcomes of every test, and the verdicts."""
    warnings.simplefilter("ignore")
    import alignment
    from alignment.panel.frame import PanelFrame, centre_wide
    ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(cell.key.encode()), rep))
    started = time.process_time()
    if cell.kind == "ordinal":
        rows = W.survey_rows(cell.grain, cell.queues, ss, family=cell.family, periods=cell.periods,
                             shared=cell.shared)
        fit = alignment.regress(rows, "score", ["x_null"], by=["queue"], model="ordinal")
        return {"ordinal": _reject(fit.table["p_value"].iloc[0]), "cpu": time.process_time() - started}
    df = W.world(cell.scenario, cell.grain, cell.queues, ss, family=cell.family, periods=cell.periods)
    kpis = ["asa", "x_null"] if cell.kind == "power" else ["x_null"]
    pf = PanelFrame.from_panel(df, by=["queue"], grain=cell.grain)
    wide = {k: centre_wide(df[k].to_numpy(dtype=float), pf.seg, pf.t) for k in kpis}
    cor = alignment.correlate(df, "csat", kpis, by=["queue"], grain=cell.grain, lags=cell.lag,
                              scope=["within_twoway", "within"])
    out = {"tests": {k: _tests(df, k, cell.grain, wide[k], cor.table) for k in kpis}}
    out["study"], out["mismatches"] = _study_path(df, kpis, cell.grain, cell.lag, wide, cor,
                                                  audit=audit_every > 0 and rep % audit_every == 0)
    out["audited"] = int(audit_every > 0 and rep % audit_every == 0)
    out["cpu"] = time.process_time() - started
    return out


def _task(args):
    cell, rep, seed, audit_every = args
    try:
        return cell.key, rep, replicate(cell, rep, seed, audit_every), None
    except Exception as error:  # a failing replication is counted and reported, never hidden
        return cell.key, rep, None, f"{type(error).__name__}: {error}"


# ----------------------------------------------------------------------------- the plan

def plan(reps: int, quick: bool, families: list[str]) -> list[Cell]:
    """Cells of the table.

    Family A: every null at week and day grain with 4 and 8 queues, power at 52 and 104 weeks and
    364 days with 4 and 8 queues, at ``reps``; the ordinal model at ``reps // 2`` (a fit takes
    seconds). Family B (the worlds nothing was tuned on): 8 queues, at ``reps // 2``. Three day cells
    repeat with the study searching lags 0-7 (``/L7``), at ``reps // 2``.
    """
    half = max(4, reps // 2)
    cells = []
    if quick:
        for s in W.NULL_SCENARIOS:
            for grain in ("week", "day"):
                if s == "weekday" and grain == "week":
                    continue
                cells.append(Cell("null", s, grain, 4, reps))
        cells += [Cell("power", "power", "week", 8, reps), Cell("power", "power", "day", 8, reps),
                  Cell("ordinal", "cross_dependence", "week", 4, max(4, reps // 2))]
        return cells
    for fam in families:
        n = reps if fam == "A" else half
        queue_counts = (4, 8) if fam == "A" else (8,)
        for s in W.NULL_SCENARIOS:
            for grain in ("week", "day"):
                if s == "weekday" and grain == "week":
                    continue
                for q in queue_counts:
                    cells.append(Cell("null", s, grain, q, n, fam))
        for grain, periods in (("week", 52), ("week", 104), ("day", 364)):
            if fam != "A" and periods == 104:
                continue
            for q in queue_counts:
                cells.append(Cell("power", "power", grain, q, n, fam, periods))
        if fam == "A":
            cells += [Cell("ordinal", "cross_dependence", "week", 4, half),
                      Cell("ordinal", "cross_dependence", "week", 8, half),
                      Cell("ordinal", "cross_dependence", "week", 8, half, shared=False),
                      Cell("null", "weekday", "day", 8, half, max_lag=7),
                      Cell("null", "common_shock", "day", 8, half, max_lag=7),
                      Cell("power", "power", "day", 8, half, periods=364, max_lag=7)]
    return cells


def run(cells: list[Cell], seed: int, jobs: int, audit_every: int, progress=True, cache: Path | None = None,
        from_cache: bool = False) -> dict:
    """Every replication of every cell, in ``jobs`` processes; ``cache`` (JSON lines) keeps finished
    replications, so an interrupted run resumes where it stopped with the same numbers."""
    results: dict[str, dict[int, dict]] = {c.key: {} for c in cells}
    if cache and cache.exists():
        for line in cache.read_text().splitlines():
            item = json.loads(line)
            if item["seed"] == seed and item["audit_every"] == audit_every and item["key"] in results:
                results[item["key"]][item["rep"]] = item["res"]
    # expensive cells first, so the two workers finish together
    cost = {"ordinal": 6.0, "power": 4.0, "null": 1.0}
    order = sorted(cells, key=lambda c: -(cost[c.kind] * (3 if c.grain == "day" else 1)))
    tasks = [(c, r, seed, audit_every) for c in order for r in range(c.reps) if r not in results[c.key]]
    if from_cache:
        tasks = []
    for key in results:   # a longer cached run: keep the first ``reps`` of each cell
        reps = next(c.reps for c in cells if c.key == key)
        results[key] = {r: v for r, v in results[key].items() if r < reps}
    errors: dict[str, list[str]] = {}
    done, start = 0, time.perf_counter()
    sink = None
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        sink = cache.open("a")
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs) as pool:
        for key, rep, res, err in pool.imap_unordered(_task, tasks, chunksize=1):
            done += 1
            if err:
                errors.setdefault(key, []).append(f"rep {rep}: {err}")
            else:
                results[key][rep] = res
                if sink:
                    sink.write(json.dumps({"key": key, "rep": rep, "seed": seed, "audit_every": audit_every,
                                           "res": res}) + "\n")
                    sink.flush()
            if progress and (done % 50 == 0 or done == len(tasks)):
                print(f"  {done}/{len(tasks)} replications, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    if sink:
        sink.close()
    return {"results": results, "errors": errors, "wall": time.perf_counter() - start}


# ----------------------------------------------------------------------------- the table

def _rate(values):
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return (math.nan, 0) if len(v) == 0 else (100.0 * v.mean(), len(v))


def _far(rate, n, null=ALPHA) -> bool:
    """An exact binomial test rejects a true rate of ``null`` at 1 % (the miss is not Monte Carlo noise)."""
    from scipy.stats import binomtest
    return n > 0 and binomtest(int(round(rate * n / 100)), n, null).pvalue < 0.01


def _fmt(rate, lo=None, hi=None, flag_above=None, n=0):
    if not np.isfinite(rate):
        return "–"
    text = f"{rate:.1f}"
    if (lo is not None and not (lo <= rate <= hi)) or (flag_above is not None and rate > flag_above):
        text += " !!" if _far(rate, n) else " !"
    return text


def summarise(cells: list[Cell], out: dict) -> dict:
    rows = []
    for c in cells:
        res = [r for _, r in sorted(out["results"][c.key].items())]
        row = {"cell": asdict(c), "key": c.key, "T": c.T, "n": len(res), "errors": len(out["errors"].get(c.key, [])),
               "cpu_per_rep": float(np.mean([r["cpu"] for r in res])) if res else math.nan}
        if c.kind == "ordinal":
            row["ordinal"] = _rate([r["ordinal"] for r in res])[0]
        else:
            row["mismatches"] = int(sum(r["mismatches"] for r in res))
            row["audited"] = int(sum(r["audited"] for r in res))
            for kpi in (["asa", "x_null"] if c.kind == "power" else ["x_null"]):
                part = {t: _rate([r["tests"][kpi][t] for r in res])[0] for t in SIZE_TESTS}
                verdicts = [r["study"][kpi] for r in res]
                part["validated"] = _rate([float(v["verdict"] == "validated") for v in verdicts])[0]
                part["validated_right_sign"] = _rate([float(v["verdict"] == "validated" and v["sign"] == -1)
                                                      for v in verdicts])[0]
                part["lag0"] = _rate([float(v["lag"] == 0) for v in verdicts])[0]
                part["not_validated"] = _rate([float(v["verdict"] == "not_validated") for v in verdicts])[0]
                part["inconclusive"] = _rate([float(v["verdict"] == "inconclusive") for v in verdicts])[0]
                part["shortcut"] = _rate([float(v["shortcut"]) for v in verdicts])[0]
                part["check_fail"] = {name: _rate([float(v["checks"].get(name) == "fail") for v in verdicts])[0]
                                      for name in CHECK_NAMES}
                part["check_not_enough_data"] = {
                    name: _rate([float(v["checks"].get(name) == "not_enough_data") for v in verdicts])[0]
                    for name in CHECK_NAMES}
                row[kpi] = part
        rows.append(row)
    return {"rows": rows}


def render(cells: list[Cell], summary: dict, meta: dict) -> str:
    rows = {r["key"]: r for r in summary["rows"]}
    ordinal = {(r["cell"]["family"], r["cell"]["grain"], r["T"], r["cell"]["queues"],
                "ar1" if not r["cell"]["shared"] else "cross_dependence"): r for r in summary["rows"]
               if r["cell"]["kind"] == "ordinal"}
    cols = [*SIZE_TESTS, "ordinal", "false_val"]
    lines = ["Size of each 5 % test (% of replications with p < 0.05) and false validation of x_null (%); "
             "`!` = outside the target (size 3-7 %, false validation <= 5 %), `!!` = outside and an exact "
             "binomial test rejects a true rate of 5 % at the 1 % level", "",
             "| family | null | grain | T | queues | max lag | reps | " + " | ".join(HEAD[c] for c in cols) + " |",
             "|" + "---|" * (7 + len(cols))]
    for c in cells:
        if c.kind != "null":
            continue
        r = rows[c.key]
        x = r["x_null"]
        o = ordinal.get((c.family, c.grain, c.T, c.queues, c.scenario))
        vals = [_fmt(x[t], *SIZE_TARGET, n=r["n"]) for t in SIZE_TESTS]
        vals.append(_fmt(o["ordinal"], *SIZE_TARGET, n=o["n"]) + f" ({o['n']})" if o else "–")
        vals.append(_fmt(x["validated"], flag_above=FALSE_TARGET, n=r["n"]))
        lines.append(f"| {c.family} | {c.scenario} | {c.grain} | {c.T} | {c.queues} | {c.lag} | {r['n']} | "
                     + " | ".join(vals) + " |")
    lines += ["", "Power: ASA costs 1 CSAT point per 10 s (power world: ASA AR(1) per queue, common incidents, "
              "weekday patterns at day grain; x_null is a null KPI in the same world)", "",
              "| family | grain | T | queues | max lag | reps | cor tw | cor w | reg tw dk | reg tw hac | reg tw cl | "
              "reg seg | "
              "validated, right sign | lag 0 chosen | not validated | inconclusive | x_null: reg tw dk | "
              "x_null: false val |", "|" + "---|" * 18]
    for c in cells:
        if c.kind != "power":
            continue
        r = rows[c.key]
        a, x = r["asa"], r["x_null"]
        vals = [_fmt(a[t]) for t in ("cor_tw", "cor_w", "reg_tw_dk", "reg_tw_hac", "reg_tw_cl", "reg_seg")]
        target = c.queues == 8 and (c.grain == "day" or c.T == 52) and c.max_lag is None
        vals.append(_fmt(a["validated_right_sign"]) + (" !" if target and a["validated_right_sign"] < POWER_TARGET
                                                       else ""))
        vals += [_fmt(a["lag0"]), _fmt(a["not_validated"]), _fmt(a["inconclusive"]), _fmt(x["reg_tw_dk"]),
                 _fmt(x["validated"], flag_above=FALSE_TARGET)]
        lines.append(f"| {c.family} | {c.grain} | {c.T} | {c.queues} | {c.lag} | {r['n']} | " + " | ".join(vals) + " |")
    lines.append("")
    for c in cells:
        if c.kind != "power":
            continue
        a = rows[c.key]["asa"]
        fails = ", ".join(f"{k} {v:.1f} %" for k, v in a["check_fail"].items() if v > 0) or "none"
        short = ", ".join(f"{k} {v:.1f} %" for k, v in a["check_not_enough_data"].items() if v > 0) or "none"
        lines.append(f"ASA checks, {c.family} {c.grain} {c.T} x {c.queues} (max lag {c.lag}): fail: {fails}; "
                     f"not enough data: {short}")
    lines += ["", "Pooled over grains and queue counts (each null's cells at the study's default max lag; "
              "N = replications pooled, size in %, `!`/`!!` as above):", "",
              "| family | null | N | " + " | ".join(HEAD[c] for c in (*SIZE_TESTS, "false_val")) + " |",
              "|" + "---|" * (3 + len(SIZE_TESTS) + 1)]
    for fam in dict.fromkeys(c.family for c in cells):
        for scen in W.NULL_SCENARIOS:
            group = [rows[c.key] for c in cells if c.kind == "null" and c.family == fam and c.scenario == scen
                     and c.max_lag is None]
            if not group:
                continue
            n = sum(g["n"] for g in group)
            vals = []
            for t in (*SIZE_TESTS, "validated"):
                pairs = [(g["x_null"][t], g["n"]) for g in group if np.isfinite(g["x_null"][t])]
                m = sum(p[1] for p in pairs)
                rate = sum(p[0] * p[1] for p in pairs) / m if m else math.nan
                vals.append(_fmt(rate, *SIZE_TARGET, n=m) if t != "validated"
                            else _fmt(rate, flag_above=FALSE_TARGET, n=m))
            lines.append(f"| {fam} | {scen} | {n} | " + " | ".join(vals) + " |")
    reps = sorted({r["n"] for r in summary["rows"]})
    se = "; ".join(f"N = {n}: {100 * math.sqrt(0.05 * 0.95 / n):.1f} points at 5 %, "
                   f"{100 * math.sqrt(0.9 * 0.1 / n):.1f} at 90 %" for n in reps if n)
    mism = sum(r.get("mismatches", 0) for r in summary["rows"])
    audited = sum(r.get("audited", 0) for r in summary["rows"])
    errors = sum(r["errors"] for r in summary["rows"])
    lines += ["", f"Monte Carlo standard error sqrt(p(1-p)/N): {se}. The ordinal column gives its reps in brackets "
              f"(ar1 row: the control world without the shared components). "
              f"Shortcut audit: {audited} replications re-run through validate, "
              f"{mism} verdict mismatches. Failed replications: {errors}.",
              f"Command: {meta['command']}  (" + ("rendered from the cache of earlier runs" if meta.get("from_cache")
                                                   else f"{meta['wall']:.0f} s wall on {meta['jobs']} workers")
              + f", seed {meta['seed']})"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- follow-up: where a size is lost

def _diagnose_one(args):
    name, fam, scenario, grain, queues, rep, seed = args
    warnings.simplefilter("ignore")
    import alignment
    ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(f"diagnose/{name}".encode()), rep))
    df = W.world(scenario, grain, queues, ss, family=fam)
    cor = alignment.correlate(df, "csat", ["x_null"], by=["queue"], grain=grain, scope="within_twoway").table
    out = {"cor tw (dk)": float(cor["p_value"].iloc[0] < ALPHA)}
    for effects in ("twoway", "segment"):
        for errors in ("driscoll-kraay", "hac", "cluster"):
            fit = alignment.regress(df, "csat", ["x_null"], by=["queue"], grain=grain, effects=effects, errors=errors)
            out[f"{effects[:3]} {errors[:3]}"] = float(fit.table["p_value"].iloc[0] < ALPHA)
    return name, out


def diagnose(reps: int, seed: int, jobs: int, grain: str = "week", queues: int = 8) -> str:
    """Sizes of the regressions' errors on variants of two nulls, to tell the causes apart:
    white noise (no persistence), phi = 0.9 (high persistence), and cross-dependence without and
    with wide queue loadings."""
    from dataclasses import replace
    A = W.FAMILIES["A"]
    worlds = {"ar1 (phi 0.6-0.8)": (A, "ar1"), "ar1, white noise (phi 0)": (replace(A, phi=(0.0, 0.0)), "ar1"),
              "ar1, phi 0.9": (replace(A, phi=(0.9, 0.9)), "ar1"),
              "cross_dependence, loadings sd 0": (replace(A, loading_sd=0.0), "cross_dependence"),
              "cross_dependence, loadings sd 0.25": (A, "cross_dependence"),
              "cross_dependence, loadings sd 0.5": (replace(A, loading_sd=0.5), "cross_dependence")}
    tasks = [(n, f, s, grain, queues, r, seed) for n, (f, s) in worlds.items() for r in range(reps)]
    with mp.get_context("fork").Pool(jobs) as pool:
        results = pool.map(_diagnose_one, tasks, chunksize=4)
    by: dict[str, list[dict]] = {}
    for name, out in results:
        by.setdefault(name, []).append(out)
    cols = list(results[0][1])
    lines = [f"Size (%) at {grain} grain, {queues} queues, {reps} replications per world (family A unless said; "
             f"tw = two-way effects, seg = segment effects; dk / hac / clu = the regress errors)", "",
             "| world | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for name in worlds:
        lines.append(f"| {name} | " + " | ".join(f"{100 * np.mean([o[c] for o in by[name]]):.1f}" for c in cols) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the contact-level model (issue 13)
#
# ``--contact``: fit_contact_model on survey-level frames drawn directly (no files), one row per survey:
# Q queues x T periods, Poisson(m) surveys per queue-period. Own wait = (queued, p 0.55) x the
# queue-period's wait level x an exponential (x a lognormal in the heavy-tailed family); the level's
# log is an AR(1) common to all queues (phi 0.6) plus a queue AR(1) (phi 0.5), and peaks with the hour.
# The outcome is the top-2-box of a logit: base + queue effect + a period shock common to all queues
# and correlated (-0.7) with the common wait level, so a naive pooled fit sees waiting hurt CX,
# + the reason's shift (-2 per unit of complexity; the reason mix tilts centre-wide with the shock,
# and the reason multiplies the handle time by exp(complexity): the handle-time trap) + 2 x resolved
# + a small hour effect + beta x max(0, own wait - 60) + Logistic noise. beta = -0.01 logit/s is the
# "modest" effect (the simulator's wait_effect="contact"), beta = 0 the null.

CONTACT_THRESHOLD_S = 60.0
CONTACT_BETA = -0.01
_REASON_CX = np.array([0.0, 0.2, 0.4, 0.8, 1.0])
_REASON_SHARE = np.array([0.25, 0.30, 0.20, 0.15, 0.10])


@dataclass(frozen=True)
class ContactFamily:
    """A family of survey-level worlds for the contact-model calibration."""

    grain: str = "week"
    queues: int = 4
    periods: int = 52
    surveys: float = 80.0          # mean surveys per queue-period
    level_s: float = 45.0          # typical mean wait of those who queue
    common_sd: float = 0.35        # sd of the log wait level common to all queues
    queue_sd: float = 0.20         # sd of the queue-specific log wait level
    shock_sd: float = 0.30         # sd of the period shock of the CX logit (common to all queues)
    shock_corr: float = -0.7       # its correlation with the common wait level
    tail_sd: float = 0.0           # lognormal multiplier of each wait (heavier tail when > 0)
    day_sd: float = 0.0            # sd of a day shock common to all queues inside a week (an incident
                                   # day: longer waits and lower CX of its own), week grain only
    tuned: bool = True             # the family the settings were chosen on


CONTACT_FAMILIES = {
    "week4": ContactFamily(),
    "day8": ContactFamily(grain="day", queues=8, periods=364, surveys=12.0, tuned=False),
    "heavy": ContactFamily(tail_sd=0.9, common_sd=0.5, shock_sd=0.5, shock_corr=-0.9, tuned=False),
    "week2short": ContactFamily(queues=2, periods=26, surveys=60.0, tuned=False),
    "week4days": ContactFamily(day_sd=0.5, tuned=False),
}


def _ar1_series(rng, shape, phi):
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[..., 0] = e[..., 0]
    for t in range(1, shape[-1]):
        x[..., t] = phi * x[..., t - 1] + math.sqrt(1 - phi ** 2) * e[..., t]
    return x


def contact_world(fam: ContactFamily, ss: np.random.SeedSequence, beta: float = CONTACT_BETA):
    """One survey-level frame (pandas) of the family, planted wait slope ``beta`` above 60 s."""
    import pandas as pd
    rng = np.random.default_rng(ss)
    Q, T = fam.queues, fam.periods
    common = _ar1_series(rng, (T,), 0.6)
    level = (math.log(fam.level_s) + 0.15 * (np.arange(Q)[:, None] - (Q - 1) / 2)
             + fam.common_sd * common[None, :] + fam.queue_sd * _ar1_series(rng, (Q, T), 0.5))
    shock = fam.shock_sd * (fam.shock_corr * common + math.sqrt(1 - fam.shock_corr ** 2) * rng.standard_normal(T))
    tilt = -1.5 * shock[None, :] / max(fam.shock_sd, 1e-9) * 0.5 + 0.15 * _ar1_series(rng, (Q, T), 0.5)
    counts = rng.poisson(fam.surveys, (Q, T))
    q = np.repeat(np.repeat(np.arange(Q), T), counts.ravel())
    t = np.repeat(np.tile(np.arange(T), Q), counts.ravel())
    n = len(q)
    hour = rng.integers(8, 20, n)
    peak = np.exp(-((hour - 11.0) ** 2) / 8.0)
    queued = rng.random(n) < 0.55
    mult = np.exp(fam.tail_sd * rng.standard_normal(n) - fam.tail_sd ** 2 / 2) if fam.tail_sd else 1.0
    # each survey's local day (inside its week at week grain): the contact model's day effects
    day = rng.integers(0, 7, n) if fam.grain == "week" else np.zeros(n, dtype=int)
    z_day = rng.standard_normal((T, 7))[t, day] if fam.day_sd else np.zeros(n)
    mult = mult * np.exp(fam.day_sd * z_day)
    wait = np.round(np.where(queued, np.exp(level[q, t] + 0.3 * peak) * rng.exponential(1.0, n) * mult, 0.0))
    weight = _REASON_SHARE * np.exp(tilt[q, t][:, None] * _REASON_CX[None, :])
    cdf = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    reason = (rng.random(n)[:, None] > cdf[:, :-1]).sum(axis=1)
    cx = _REASON_CX[reason]
    handle = np.round(300.0 * np.exp(cx - 0.55 ** 2 / 2 + 0.55 * rng.standard_normal(n)))
    resolved = (rng.random(n) < 0.75).astype(float)
    eta = (1.0 + 0.2 * (q - (Q - 1) / 2) + shock[t] - 2.0 * (cx - _REASON_SHARE @ _REASON_CX)
           + 2.0 * (resolved - 0.75) + 0.1 * peak + beta * np.maximum(wait - CONTACT_THRESHOLD_S, 0.0)
           - fam.day_sd * z_day)
    top = eta + rng.logistic(0.0, 1.0, n) > 0
    step = 7 if fam.grain == "week" else 1
    ts = (pd.Timestamp("2025-01-06") + pd.to_timedelta(t * step + day, unit="D")
          + pd.to_timedelta(hour, unit="h"))
    if os.environ.get("CONTACT_BY_PERIOD"):   # measure the segment x period fixed effects instead
        ts = None
    return pd.DataFrame({"period": t, "queue": q, **({"contact_ts": ts} if ts is not None else {}), "hour": hour, "wait_s": wait,
                         "handle_s": handle, "resolved": resolved, "reason": reason, "csat": np.where(top, 5, 2)})


def _logit_profile_threshold(frame, others=("handle_s", "resolved"), controls=("hour", "reason")):
    """The breakpoint by the (IRLS-approximated) logit profile deviance: the fix proposed for
    ``alignment.contact.model._threshold``, measured beside it. Same grid as the module's."""
    from pyfixest.estimation import demean
    import pandas as pd
    y = (frame["csat"].to_numpy() >= 4).astype(float)
    w = frame["wait_s"].to_numpy(dtype=float)
    cell = pd.factorize(frame["period"].astype(str) + "|" + frame["queue"].astype(str))[0]
    flist = np.column_stack([cell] + [pd.factorize(frame[c])[0] for c in controls]).astype(np.uint64)
    Z0 = frame[list(others)].to_numpy(dtype=float)
    grid = np.unique(np.round(np.quantile(w, np.linspace(0.1, 0.9, 33)) / 5) * 5)
    grid = grid[(grid > w.min()) & (grid < w.max())]
    if len(grid) < 3:
        return math.nan

    def dm(a, wt):
        return demean(np.ascontiguousarray(a, dtype=float), flist, wt, tol=1e-7)[0]
    tau = float(np.median(grid))
    for _ in range(2):                                   # re-centred once at the chosen breakpoint
        X = np.column_stack([w, np.maximum(w - tau, 0.0), Z0])
        eta = np.zeros(len(y))
        for _ in range(15):                              # FE logit by IRLS
            p = 1 / (1 + np.exp(-eta))
            W = np.clip(p * (1 - p), 1e-6, None)
            z = eta + (y - p) / W
            D = dm(np.column_stack([z, X]), W) * np.sqrt(W)[:, None]
            b = np.linalg.lstsq(D[:, 1:], D[:, 0], rcond=None)[0]
            new = np.clip(z - (D[:, 0] - D[:, 1:] @ b) / np.sqrt(W), -30, 30)
            if np.max(np.abs(new - eta)) < 1e-4:
                eta = new
                break
            eta = new
        p = 1 / (1 + np.exp(-eta))
        W = np.clip(p * (1 - p), 1e-6, None)
        z = eta + (y - p) / W
        sw = np.sqrt(W)[:, None]
        base = dm(np.column_stack([z, w, Z0]), W) * sw
        q, _ = np.linalg.qr(base[:, 2:])
        proj = lambda a: a - q @ (q.T @ a)  # noqa: E731
        ry, rw = proj(base[:, 0]), proj(base[:, 1])
        H = proj(dm(np.maximum(w[:, None] - grid[None, :], 0.0), W) * sw)
        a, bb, c = rw @ rw, rw @ H, np.sum(H * H, axis=0)
        u, v = rw @ ry, H.T @ ry
        det = a * c - bb ** 2
        ssr = ry @ ry - ((c * u - bb * v) * u + (a * v - bb * u) * v) / det
        tau = float(grid[int(np.argmin(np.where(det > 1e-9 * a * c, ssr, np.inf)))])
    return tau


def _contact_one(args):
    """One world: the four contact-model measurements (1/0, NaN = not applicable)."""
    name, kind, rep, seed = args
    warnings.simplefilter("ignore")
    from alignment.contact import fit_contact_model
    fam = CONTACT_FAMILIES[name]
    ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(f"contact/{name}/{kind}".encode()), rep))
    t0 = time.process_time()
    frame = contact_world(fam, ss, beta=0.0 if kind == "null" else CONTACT_BETA)
    out = {}
    if kind == "null":
        declared = fit_contact_model(frame, "csat", contact_controls=["reason"], threshold=False, logit=False)
        naive = fit_contact_model(frame, "csat", threshold=False, logit=False)
        out["wait_size"] = float(declared.row("asa")["p_value"] < ALPHA)
        out["handle_size"] = float(declared.row("aht")["p_value"] < ALPHA)
        out["handle_undeclared"] = float(naive.row("aht")["p_value"] < ALPHA)
    else:
        fit = fit_contact_model(frame, "csat", contact_controls=["reason"], logit=False, n_boot=49, seed=rep)
        r = fit.row("asa")
        out["power"] = float(r["p_value"] < ALPHA and r["effect"] < 0)
        thr = r["threshold"]
        out["threshold_found"] = float(np.isfinite(thr))
        out["threshold_15s"] = float(np.isfinite(thr) and abs(thr - CONTACT_THRESHOLD_S) <= 15)
        out["threshold_covers"] = (float(r["threshold_ci_low"] <= CONTACT_THRESHOLD_S <= r["threshold_ci_high"])
                                   if np.isfinite(thr) else math.nan)
        # the prototype of the logit profile, kept for comparison (set CONTACT_PROTOTYPE=1): the module now
        # profiles the breakpoint on the logit scale itself
        tau = _logit_profile_threshold(frame) if os.environ.get("CONTACT_PROTOTYPE") else math.nan
        out["threshold_15s_logit_profile"] = (float(abs(tau - CONTACT_THRESHOLD_S) <= 15) if np.isfinite(tau)
                                              else math.nan)
        out["threshold_value"] = float(thr)
        out["threshold_value_logit_profile"] = float(tau)
    out["n_surveys"] = len(frame)
    out["cpu"] = time.process_time() - t0
    return name, kind, rep, out


CONTACT_TARGETS = {"wait_size": ("<=", 6.0), "handle_size": ("<=", 6.0), "power": (">=", 95.0),
                   "threshold_15s": (">=", 90.0), "threshold_15s_logit_profile": (">=", 90.0)}
CONTACT_HEAD = {"wait_size": "wait size", "handle_size": "handle size (reason declared)",
                "handle_undeclared": "handle, reason not declared",
                "power": "power", "threshold_found": "threshold found",
                "threshold_15s": "threshold within 15 s", "threshold_covers": "its 95 % interval covers 60 s",
                "threshold_15s_logit_profile": "within 15 s, logit profile"}


def contact_calibration(reps: int, seed: int, jobs: int, families: list[str]) -> tuple[str, dict]:
    """Size, power and threshold recovery of the contact-level model; the table and the figures."""
    tasks = [(f, kind, r, seed) for f in families for kind in ("null", "effect") for r in range(reps)]
    t0 = time.time()
    results = []
    with mp.get_context("fork").Pool(jobs) as pool:
        for i, res in enumerate(pool.imap_unordered(_contact_one, tasks, chunksize=2), 1):
            results.append(res)
            if i % 100 == 0 or i == len(tasks):
                print(f"  {i}/{len(tasks)} worlds, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    results.sort(key=lambda r: (r[0], r[1], r[2]))
    wall = time.time() - t0
    figures: dict = {}
    for name, kind, rep, out in results:
        figures.setdefault(name, {}).setdefault(kind, []).append(out)
    cols = list(CONTACT_HEAD)
    lines = [f"Contact-level model (fit_contact_model), {reps} worlds per family and kind; rates in % "
             f"(`!` misses its target: sizes <= 6, power >= 95, threshold within 15 s >= 90)", "",
             "| family | grain | Q x T | surveys | " + " | ".join(CONTACT_HEAD[c] for c in cols) + " |",
             "|" + "---|" * (4 + len(cols))]
    summary = {}
    for name in families:
        fam = CONTACT_FAMILIES[name]
        pooled = [o for kind in ("null", "effect") for o in figures.get(name, {}).get(kind, [])]
        cells = []
        summary[name] = {"family": asdict(fam)}
        for c in cols:
            vals = [o[c] for o in pooled if c in o and np.isfinite(o[c])]
            rate = 100 * float(np.mean(vals)) if vals else math.nan
            summary[name][c] = rate
            text = "–" if not vals else f"{rate:.1f}"
            if c in CONTACT_TARGETS and vals:
                op, target = CONTACT_TARGETS[c]
                if (op == "<=" and rate > target) or (op == ">=" and rate < target):
                    text += " !"
            cells.append(text)
        thr = [o["threshold_value"] for o in figures.get(name, {}).get("effect", [])]
        thr_lp = [o["threshold_value_logit_profile"] for o in figures.get(name, {}).get("effect", [])]
        summary[name]["threshold_median"] = float(np.nanmedian(thr)) if np.isfinite(thr).any() else math.nan
        summary[name]["threshold_median_logit_profile"] = (float(np.nanmedian(thr_lp)) if np.isfinite(thr_lp).any()
                                                           else math.nan)
        size = np.mean([o["n_surveys"] for o in pooled])
        tag = "" if fam.tuned else " (not tuned on)"
        lines.append(f"| {name}{tag} | {fam.grain} | {fam.queues} x {fam.periods} | {size:,.0f} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Median threshold found (s; planted 60): " + "; ".join(
        f"{n} {summary[n]['threshold_median']:.0f} (logit profile {summary[n]['threshold_median_logit_profile']:.0f})"
        for n in families),
        f"Monte Carlo se at N = {reps}: {100 * math.sqrt(0.05 * 0.95 / reps):.1f} points at 5 %, "
        f"{100 * math.sqrt(0.1 * 0.9 / reps):.1f} at 90 %. {wall:.0f} s wall on {jobs} workers, seed {seed}."]
    return "\n".join(lines), {"reps": reps, "seed": seed, "wall": wall, "families": summary}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=None,
                    help="replications per family-A cell (default 100; 16 with --quick)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--quick", action="store_true", help="family A, 4 queues, 2 power cells, few reps")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--families", nargs="+", default=["A", "B"], choices=sorted(W.FAMILIES))
    ap.add_argument("--only", nargs="+", default=None,
                    help="keep the cells whose key contains one of these strings (e.g. null/A/trend power/)")
    ap.add_argument("--audit-every", type=int, default=20,
                    help="run validate in full on every k-th replication to audit the shortcut (0: never)")
    ap.add_argument("--json", type=Path, help="also write the per-cell figures to this JSON file")
    ap.add_argument("--cache", type=Path, default=None,
                    help="JSON-lines file of finished replications: a rerun with the same --seed resumes")
    ap.add_argument("--from-cache", action="store_true", help="print the table of what --cache holds; run nothing")
    ap.add_argument("--diagnose", action="store_true",
                    help="instead of the table: the follow-up that separates the causes of the HAC and DK misses")
    ap.add_argument("--contact", action="store_true",
                    help="instead of the table: size, power and threshold recovery of the contact-level model")
    ap.add_argument("--contact-families", nargs="+", default=list(CONTACT_FAMILIES),
                    choices=sorted(CONTACT_FAMILIES), help="with --contact: the world families")
    args = ap.parse_args(argv)
    if args.contact:
        text, figures = contact_calibration(args.reps or (20 if args.quick else 200), args.seed, args.jobs,
                                            args.contact_families)
        command = "python benchmarks/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:])
        print(text + f"\nCommand: {command.strip()}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"command": command.strip(), **figures}, indent=1, default=float))
        return 0
    if args.diagnose:
        print(diagnose(args.reps or 200, args.seed, args.jobs))
        return 0
    reps = args.reps or (16 if args.quick else 100)
    cells = plan(reps, args.quick, args.families)
    if args.only:
        cells = [c for c in cells if any(s in c.key for s in args.only)]
    command = "python benchmarks/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{len(cells)} cells, {sum(c.reps for c in cells)} replications, {args.jobs} workers; "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    out = run(cells, args.seed, args.jobs, args.audit_every, cache=args.cache, from_cache=args.from_cache)
    summary = summarise(cells, out)
    meta = {"command": command.strip(), "wall": out["wall"], "jobs": args.jobs, "seed": args.seed,
            "load_end": os.getloadavg()[0], "from_cache": args.from_cache}
    print(render(cells, summary, meta))
    for key, errs in out["errors"].items():
        print(f"errors in {key}: {len(errs)}; first: {errs[0]}", file=sys.stderr)
    print("cpu seconds per replication: " + ", ".join(f"{r['key']} {r['cpu_per_rep']:.2f}" for r in summary["rows"]),
          file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, **summary}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
