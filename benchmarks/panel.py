"""Benchmark ``alignment.build_panel`` against a hand-written DuckDB aggregate.

Usage (from the project root)::

    .venv/bin/python benchmarks/panel.py                      # 5M and 50M rows
    .venv/bin/python benchmarks/panel.py --quick              # 1M rows only
    .venv/bin/python benchmarks/panel.py --sizes 5000000      # any sizes

What it does
------------
1. Generates synthetic contacts (one Parquet file per size, cached under
   ``benchmarks/.data/``) with DuckDB SQL itself, streaming from ``range(n)``,
   so generation is quick and needs little memory. The data are deterministic
   (hash-based pseudo-random numbers; the same file for the same size and seed).
2. Checks on the 1M-row file that build_panel's day x queue numbers equal the
   hand-written SQL's (counts exactly, sums and ratios to a relative 1e-9) and
   prints ``check: equal``; exits with status 1 when they differ.
3. For each size, runs (a) build_panel and (b) the hand-written SQL, each in a
   fresh subprocess, ``--repeat`` times (interleaved), and prints the median
   wall time of the call (imports excluded), the peak RSS of the child process
   (its own VmHWM from /proc/self/status; ``ru_maxrss`` is printed only as a
   cross-check: a per-child ``wait4`` value inherits the parent's high-water mark
   through fork/exec, and RUSAGE_CHILDREN also keeps the largest child so far)
   and the ratio of build_panel's median to the SQL's median. Data generation and
   the check run in children too, so the parent stays small.

Exit status: 0 success, 1 check failed or a measurement crashed, and with
``--strict`` also 3 when a target (ratio <= 1.5, peak RSS <= 4 GiB at 50M) is
missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"

TIMEZONE = "America/New_York"
THRESHOLD_S = 20
METRICS = ["service_level", "abandon_rate", "asa", "aht", "fcr", "transfer_rate", "offered"]
CHECK_ROWS = 1_000_000
DEFAULT_SIZES = [5_000_000, 50_000_000]
SEED = 20250309

TARGET_RATIO = 1.5
TARGET_RSS_MIB = 4 * 1024
TARGET_RSS_ROWS = 50_000_000

KEYS = ["period", "queue"]
COUNT_COLS = ["n_contacts", "n_answered", "n_abandoned", "n_answered_within_t",
              "n_resolved", "n_transferred", "offered"]
FLOAT_COLS = ["wait_answered_s", "handle_answered_s",
              "service_level", "abandon_rate", "asa", "aht", "fcr", "transfer_rate"]

QUEUES = ["billing", "sales", "tech_support", "retention", "onboarding", "claims",
          "payments", "fraud", "loyalty", "shipping", "returns", "premium", "business",
          "spanish", "french", "outage", "collections", "activation", "upgrades", "general"]


# --------------------------------------------------------------------------- data

def _u(k: int) -> str:
    """SQL for a deterministic uniform [0, 1) number per row ``i`` and stream ``k``."""
    # one hash per (row, stream) of distinct integers: hash(i, k) of DuckDB combines
    # two hashes and gives correlated streams for nearby k, hash(integer) does not
    return f"((hash({SEED * 2**32} + i * 16 + {k}) >> 11)::DOUBLE / 9007199254740992.0)"


def generation_sql(n: int, out: str) -> str:
    """One COPY statement that streams ``n`` synthetic contacts into a Parquet file.

    Contacts are in arrival order (as exports usually are) and spread uniformly
    over 2024 in New York local time, with a minute of jitter. ~20 queues with
    skewed volumes, 3 channels, 90 % answered, 9.5 % abandoned, 0.5 % neither
    (e.g. deflected); exponential waits (rounded to 0.1 s, so wait_s <= 20 has
    ties on the threshold) and handle times; transfers and first-contact
    resolution only among answered contacts.
    """
    queues = "[" + ", ".join(f"'{q}'" for q in QUEUES) + "]"
    start_epoch = 1704085200  # 2024-01-01 00:00 America/New_York
    year_s = 366 * 86400
    return f"""
COPY (
  WITH r AS (
    SELECT i,
           {_u(1)} AS u_queue, {_u(2)} AS u_chan, {_u(3)} AS u_time,
           {_u(4)} AS u_ans, {_u(5)} AS u_aban, {_u(6)} AS u_wait,
           {_u(7)} AS u_handle, {_u(8)} AS u_xfer, {_u(9)} AS u_res
    FROM range({n}) t(i)
  ), f AS (
    SELECT *, u_ans < 0.90 AS answered, (u_ans >= 0.90 AND u_aban < 0.95) AS abandoned
    FROM r
  )
  SELECT
    (i + 1)::BIGINT AS contact_id,
    {queues}[1 + least(19, floor(20 * pow(u_queue, 1.6))::INTEGER)] AS queue,
    CASE WHEN u_chan < 0.70 THEN 'voice' WHEN u_chan < 0.92 THEN 'chat' ELSE 'email' END
      AS channel,
    to_timestamp({start_epoch} + floor(i * {year_s - 60}.0 / {n}) + floor(u_time * 60)) AS arrived_at,
    answered,
    abandoned,
    CASE WHEN answered THEN round(-ln(1 - u_wait) * 25, 1)
         WHEN abandoned THEN round(-ln(1 - u_wait) * 45, 1)
         ELSE 0.0 END::DOUBLE AS wait_s,
    CASE WHEN answered THEN round(30 - ln(1 - u_handle) * 270, 1) ELSE 0.0 END::DOUBLE
      AS handle_s,
    answered AND u_xfer < 0.11 AS transferred,
    answered AND u_xfer >= 0.11 AND u_res < 0.80 AS resolved
  FROM f
) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
"""


def data_path(n: int) -> Path:
    return DATA_DIR / f"contacts_{n}_s{SEED}.parquet"


def ensure_data(n: int) -> Path:
    """Return the cached Parquet file of ``n`` contacts, generating it if needed."""
    import duckdb

    path = data_path(n)
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    tmp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '4GB'")
    con.execute(f"SET temp_directory = '{DATA_DIR / 'tmp'}'")
    con.execute(generation_sql(n, str(tmp).replace("'", "''")))
    got = con.execute(
        f"SELECT count(*), count(DISTINCT contact_id), count_if(answered AND abandoned) "
        f"FROM read_parquet('{str(tmp).replace(chr(39), chr(39) * 2)}')").fetchone()
    con.close()
    if got != (n, n, 0):
        raise SystemExit(f"generated data are wrong: rows, distinct ids, both flags = {got}")
    tmp.rename(path)
    print(f"generated {path.relative_to(ROOT)}: {n:,} rows, "
          f"{path.stat().st_size / 2**20:,.0f} MiB in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return path


def prepare(n: int) -> Path:
    """Generate the file of ``n`` rows in a child process unless it is cached."""
    if not data_path(n).exists():
        code, _, _, _ = run_child("gen", str(n), capture=False)
        if code != 0:
            raise SystemExit(f"generating {n:,} rows failed (exit {code})")
    return data_path(n)


def warm_page_cache(path: Path) -> None:
    """Read the file once so every timed run starts from the same (warm) page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


# ---------------------------------------------------------------- the two methods

def baseline_sql(path: str) -> str:
    """The hand-written day x queue aggregate (the baseline)."""
    p = path.replace("'", "''")
    return f"""
WITH agg AS (
  SELECT
    date_trunc('day', timezone('{TIMEZONE}', arrived_at)) AS period,
    queue,
    count(*) AS n_contacts,
    count_if(answered) AS n_answered,
    count_if(abandoned) AS n_abandoned,
    count_if(answered AND wait_s <= {THRESHOLD_S}) AS n_answered_within_t,
    coalesce(sum(wait_s) FILTER (WHERE answered), 0) AS wait_answered_s,
    coalesce(sum(handle_s) FILTER (WHERE answered), 0) AS handle_answered_s,
    count_if(answered AND resolved) AS n_resolved,
    count_if(answered AND transferred) AS n_transferred
  FROM read_parquet('{p}')
  GROUP BY ALL
)
SELECT *,
  100.0 * n_answered_within_t / nullif(n_contacts, 0) AS service_level,
  100.0 * n_abandoned / nullif(n_contacts, 0) AS abandon_rate,
  wait_answered_s / nullif(n_answered, 0) AS asa,
  handle_answered_s / nullif(n_answered, 0) AS aht,
  100.0 * n_resolved / nullif(n_answered, 0) AS fcr,
  100.0 * n_transferred / nullif(n_answered, 0) AS transfer_rate,
  n_contacts AS offered
FROM agg
ORDER BY period, queue
"""


def run_baseline(path: str):
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(baseline_sql(path)).df()
    finally:
        con.close()


def run_panel(path: str, engine=None):
    """build_panel's day x queue table (on DuckDB, or on ``engine``)."""
    from alignment import build_panel

    return build_panel(path, grain="day", by=("queue",), timezone=TIMEZONE,
                       metrics=list(METRICS), engine=engine).table


def vm_hwm_mib(pid: int | str = "self") -> float:
    """Peak RSS of a process's own address space (VmHWM), in MiB; by default this process's.

    Unlike ``ru_maxrss`` this is not inherited: on Linux ``exec`` folds the high-water
    RSS of the pre-exec address space (the parent's, after fork/vfork) into the
    child's ``ru_maxrss``, so a parent that once held gigabytes would make every child
    look that big.
    """
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid != "self":
        return 0.0
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(method: str, arg: str) -> int:
    """Body of one subprocess: a measurement, the data generation or the check."""
    if method == "gen":
        ensure_data(int(arg))
        return 0
    if method == "check":
        problems = check_equal(Path(arg))
        if problems:
            print("check: DIFFERENT", flush=True)
            for p in problems:
                print("  " + p, flush=True)
            return 1
        print("check: equal", flush=True)
        return 0
    import duckdb  # noqa: F401  (imports are not timed)
    import pandas  # noqa: F401

    if method == "panel":
        import alignment  # noqa: F401
        fn = run_panel
    else:
        fn = run_baseline
    t0 = time.perf_counter()
    table = fn(arg)
    wall = time.perf_counter() - t0
    n_col = "n_contacts" if "n_contacts" in table.columns else None
    total = int(table[n_col].sum()) if n_col else None
    print(json.dumps({"wall_s": wall, "table_rows": len(table), "n_contacts": total,
                      "hwm_mib": vm_hwm_mib()}))
    return 0


def run_child(method: str, arg: str, *, capture: bool = True):
    """Run ``panel.py --child METHOD ARG`` in a fresh interpreter.

    Returns (exit code, stdout, stderr, rusage of that very child via wait4).
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method, arg]
    pipe = subprocess.PIPE if capture else None
    proc = subprocess.Popen(cmd, stdout=pipe, stderr=pipe, cwd=ROOT)
    out, err = _drain(proc) if capture else (b"", b"")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, err, usage


def measure(method: str, path: Path) -> dict:
    """Run one measurement in a fresh interpreter; return its wall time and peak RSS."""
    t0 = time.perf_counter()
    code, out, err, usage = run_child(method, str(path))
    proc_wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"{method} on {path.name} failed (exit {code}):\n"
                           f"{err.decode(errors='replace')[-4000:]}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["rss_mib"] = res["hwm_mib"]
    res["ru_maxrss_mib"] = usage.ru_maxrss / 1024  # Linux: KiB; an upper bound, see vm_hwm_mib
    res["proc_wall_s"] = proc_wall
    return res


def _drain(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    import threading

    bufs: dict[str, bytes] = {}

    def reader(name, stream):
        bufs[name] = stream.read()
        stream.close()

    threads = [threading.Thread(target=reader, args=(n, s))
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bufs["out"], bufs["err"]


# ----------------------------------------------------------------------- the check

def check_equal(path: Path) -> list[str]:
    """Compare build_panel's day x queue table with the baseline's. Return the problems."""
    import numpy as np
    import pandas as pd

    base = run_baseline(str(path))
    panel = run_panel(str(path))
    problems = []
    cols = KEYS + COUNT_COLS + FLOAT_COLS
    missing = [c for c in cols if c not in panel.columns]
    if missing:
        return [f"build_panel table lacks columns {missing}; it has {list(panel.columns)}"]

    def norm(df):
        df = df[cols].copy()
        df["period"] = pd.to_datetime(df["period"]).astype("datetime64[ns]")
        df["queue"] = df["queue"].astype(str)
        return df

    b, p = norm(base), norm(panel)
    m = b.merge(p, on=KEYS, how="outer", suffixes=("_sql", "_panel"), indicator=True)
    only_panel = m[m["_merge"] == "right_only"]
    only_sql = m[m["_merge"] == "left_only"]
    if len(only_sql):
        problems.append(f"{len(only_sql)} day x queue cells only in the SQL, e.g. "
                        f"{only_sql[KEYS].head(3).to_dict('records')}")
    # build_panel may add empty cells (no contacts); they must have zero counts
    nonempty = only_panel[only_panel["n_contacts_panel"].fillna(0) != 0]
    if len(nonempty):
        problems.append(f"{len(nonempty)} non-empty cells only in build_panel, e.g. "
                        f"{nonempty[KEYS].head(3).to_dict('records')}")
    both = m[m["_merge"] == "both"]
    for c in COUNT_COLS:
        a, q = both[f"{c}_sql"].astype("int64"), both[f"{c}_panel"].astype("float64")
        bad = ~(q == a.astype("float64")) | ~np.isfinite(q)
        if bad.any():
            problems.append(f"{c}: {int(bad.sum())} cells differ, e.g. "
                            f"{both.loc[bad, KEYS + [f'{c}_sql', f'{c}_panel']].head(3).to_dict('records')}")
    for c in FLOAT_COLS:
        a = both[f"{c}_sql"].astype("float64").to_numpy()
        q = both[f"{c}_panel"].astype("float64").to_numpy()
        ok = np.isclose(q, a, rtol=1e-9, atol=0.0, equal_nan=True)
        if not ok.all():
            bad = ~ok
            worst = np.nanmax(np.abs(q[bad] - a[bad]) / np.maximum(np.abs(a[bad]), 1e-300))
            problems.append(f"{c}: {int(bad.sum())} cells differ beyond 1e-9 relative "
                            f"(worst {worst:.3g}), e.g. "
                            f"{both.loc[bad, KEYS + [f'{c}_sql', f'{c}_panel']].head(3).to_dict('records')}")
    print(f"check on {len(b):,} SQL cells / {len(p):,} build_panel cells "
          f"({len(only_panel)} empty extra cells in build_panel)", flush=True)
    return problems


# --------------------------------------------------------------------------- main

def environment() -> str:
    import duckdb
    import pandas as pd

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    con = duckdb.connect()
    threads, mlimit = con.execute(
        "SELECT current_setting('threads'), current_setting('memory_limit')").fetchone()
    con.close()
    return (f"DuckDB {duckdb.__version__} (default threads={threads}, memory_limit={mlimit}); "
            f"cores: {os.cpu_count()} (usable {affinity}); RAM {mem:.1f} GiB; "
            f"Python {platform.python_version()}; pandas {pd.__version__}; "
            f"{platform.platform()}; load average {os.getloadavg()[0]:.2f}")


def fmt_rows(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n:,}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="row counts to benchmark (default: 5000000 50000000)")
    ap.add_argument("--quick", action="store_true", help="benchmark 1M rows only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per method and size (default 3)")
    ap.add_argument("--no-check", action="store_true", help="skip the equality check")
    ap.add_argument("--baseline-only", action="store_true",
                    help="measure only the hand-written SQL (no alignment import)")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        return child_main(*args.child)

    sizes = [CHECK_ROWS] if args.quick else (args.sizes or DEFAULT_SIZES)
    print(environment(), flush=True)
    print(f"query: build_panel(path, grain='day', by=('queue',), timezone='{TIMEZONE}', "
          f"metrics={METRICS})", flush=True)

    status = 0
    # everything heavy runs in children, so this process stays small (see vm_hwm_mib)
    if not args.no_check and not args.baseline_only:
        prepare(CHECK_ROWS)
        code, _, _, _ = run_child("check", str(data_path(CHECK_ROWS)), capture=False)
        if code != 0:
            status = 1

    methods = ["sql"] if args.baseline_only else ["sql", "panel"]
    results = []
    for n in sizes:
        path = prepare(n)
        warm_page_cache(path)
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        for r in range(args.repeat):
            for m in methods:  # interleaved, so drift hits both alike
                try:
                    res = measure(m, path)
                except RuntimeError as exc:
                    print(str(exc), file=sys.stderr, flush=True)
                    status = 1
                    continue
                if res["n_contacts"] is not None and res["n_contacts"] != n:
                    print(f"warning: {m} counted {res['n_contacts']:,} contacts, expected {n:,}",
                          file=sys.stderr, flush=True)
                runs[m].append(res)
                print(f"  {fmt_rows(n):>4} {m:<5} run {r + 1}: {res['wall_s']:8.2f} s "
                      f"(process {res['proc_wall_s']:.2f} s), peak RSS {res['rss_mib']:8.0f} MiB "
                      f"(ru_maxrss {res['ru_maxrss_mib']:.0f}), "
                      f"{res['table_rows']} table rows", flush=True)
        base_med = (statistics.median(x["wall_s"] for x in runs["sql"])
                    if runs.get("sql") else math.nan)
        for m in methods:
            if not runs[m]:
                continue
            walls = [x["wall_s"] for x in runs[m]]
            rss = [x["rss_mib"] for x in runs[m]]
            med = statistics.median(walls)
            results.append({
                "rows": n, "method": "build_panel" if m == "panel" else "hand-written SQL",
                "wall_s_median": med, "wall_s_min": min(walls), "wall_s_max": max(walls),
                "rss_mib_peak": max(rss), "rss_mib_median": statistics.median(rss),
                "ratio": med / base_med if base_med else math.nan, "runs": len(walls)})

    print()
    print(f"targets: build_panel wall <= {TARGET_RATIO} x hand-written SQL; "
          f"peak RSS <= {TARGET_RSS_MIB / 1024:.0f} GiB at {fmt_rows(TARGET_RSS_ROWS)} rows")
    hdr = (f"{'rows':>5}  {'method':<17} {'wall s (median)':>15} {'min-max s':>13} "
           f"{'peak RSS MiB':>12} {'ratio':>6}  targets")
    print(hdr)
    print("-" * (len(hdr) + 20))
    missed = False
    for r in results:
        notes = []
        if r["method"] == "build_panel":
            ok = r["ratio"] <= TARGET_RATIO
            notes.append(f"ratio {'OK' if ok else 'MISS'} (<= {TARGET_RATIO})")
            missed |= not ok
        if r["rows"] >= TARGET_RSS_ROWS:
            ok = r["rss_mib_peak"] <= TARGET_RSS_MIB
            notes.append(f"RSS {'OK' if ok else 'MISS'} (<= 4096 MiB)")
            missed |= not ok and r["method"] == "build_panel"
        print(f"{fmt_rows(r['rows']):>5}  {r['method']:<17} {r['wall_s_median']:>15.2f} "
              f"{r['wall_s_min']:>6.2f}-{r['wall_s_max']:<6.2f} {r['rss_mib_peak']:>12.0f} "
              f"{r['ratio']:>6.2f}  {'; '.join(notes)}")
    print(f"load average now {os.getloadavg()[0]:.2f} (above ~0.5 on an idle machine means "
          f"something else competed for the {os.cpu_count()} cores)")
    print("(wall: the call only, imports excluded; peak RSS: max over the runs of the child "
          "process's own VmHWM; ratio: median wall / median wall of the hand-written SQL)")
    if args.json:
        args.json.write_text(json.dumps({"environment": environment(), "results": results},
                                        indent=2))
    if status == 0 and missed and args.strict:
        status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
