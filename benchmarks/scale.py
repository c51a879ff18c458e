"""How the panel build scales: DuckDB and Spark local[2] against a hand-written DuckDB aggregate.

Usage (from the project root)::

    .venv/bin/python benchmarks/scale.py                        # 1M, 10M and 50M rows
    .venv/bin/python benchmarks/scale.py --sizes 1000000        # any sizes
    .venv/bin/python benchmarks/scale.py --engines duckdb sql   # leave Spark out

Same data and query as ``benchmarks/panel.py`` (synthetic contacts in Parquet, generated
once into ``benchmarks/.data/``; a day x queue panel of seven KPIs in New York time), built
three ways in one run, each in a fresh subprocess:

* ``sql``: the hand-written DuckDB aggregate (the reference);
* ``duckdb``: ``build_panel(path, ...)``, the default engine;
* ``spark``: ``build_panel(path, ..., engine=SparkEngine(master="local[2]"))``; the session
  is started before the clock starts, and its start time is reported apart.

Wall time is the ``build_panel`` call alone. Peak memory is the high-water resident set
(``VmHWM``) of the Python process plus, for Spark, that of the JVM it started (read from
``/proc`` just before the process exits): a slight overestimate of the combined peak, since the
two peaks need not coincide. Before timing, the Spark panel of the smallest size is checked to
equal the DuckDB panel exactly (``check: equal``; exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import panel as bench  # noqa: E402  (the data generator and the hand-written SQL)

DEFAULT_SIZES = [1_000_000, 10_000_000, 50_000_000]
ENGINES = ["sql", "duckdb", "spark"]
MASTER = "local[2]"


def _descendants(pid: int) -> list[int]:
    """Every process started (directly or not) by ``pid``: the JVM of a local Spark session."""
    children, out = {}, []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def child_main(engine: str, path: str) -> int:
    import pandas as pd  # noqa: F401  (imports are not timed)

    import alignment  # noqa: F401
    from alignment.engine import SparkEngine

    start_s, spark = 0.0, None
    if engine == "spark":
        t0 = time.perf_counter()
        spark = SparkEngine(master=MASTER)
        spark.session()
        start_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = bench.run_baseline(path) if engine == "sql" else bench.run_panel(path, engine=spark)
    wall = time.perf_counter() - t0
    jvm = sum(bench.vm_hwm_mib(p) for p in _descendants(os.getpid()))
    print(json.dumps({"wall_s": wall, "start_s": start_s, "python_mib": bench.vm_hwm_mib(), "jvm_mib": jvm,
                      "n_contacts": int(table["n_contacts"].sum()), "rows": len(table)}))
    return 0


def check_main(path: str) -> int:
    import pandas as pd

    from alignment.engine import SparkEngine

    duck = bench.run_panel(path)
    spark = bench.run_panel(path, engine=SparkEngine(master=MASTER))
    try:
        pd.testing.assert_frame_equal(duck, spark, check_exact=True)
    except AssertionError as error:
        print(f"check: DIFFERENT\n{error}", flush=True)
        return 1
    print(f"check: equal (Spark panel = DuckDB panel, {len(duck):,} rows, exact)", flush=True)
    return 0


def run_child(*args: str) -> tuple[int, str, str]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True,
                         text=True, cwd=bench.ROOT)
    return out.returncode, out.stdout, out.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES)
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine and size (default 1)")
    ap.add_argument("--no-check", action="store_true", help="skip the Spark = DuckDB check")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--check", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(*args.child)
    if args.check:
        return check_main(args.check)

    print(bench.environment(), flush=True)
    status = 0
    if "spark" in args.engines and not args.no_check:
        path = bench.prepare(min(args.sizes))
        code, out, err = run_child("--check", str(path))
        print(out.strip() or err.strip()[-2000:], flush=True)
        status |= code != 0
    results = []
    for n in args.sizes:
        path = bench.prepare(n)
        bench.warm_page_cache(path)
        runs = {e: [] for e in args.engines}
        for r in range(args.repeat):
            for engine in args.engines:
                code, out, err = run_child("--child", engine, str(path))
                if code != 0:
                    print(f"{engine} on {n:,} rows failed (exit {code}):\n{err[-3000:]}", file=sys.stderr)
                    status = 1
                    continue
                res = json.loads(out.strip().splitlines()[-1])
                if res["n_contacts"] != n:
                    print(f"{engine} counted {res['n_contacts']:,} contacts, not {n:,}", file=sys.stderr)
                    status = 1
                runs[engine].append(res)
                print(f"  {bench.fmt_rows(n):>4} {engine:<6} run {r + 1}: {res['wall_s']:7.2f} s, "
                      f"peak {res['python_mib'] + res['jvm_mib']:7.0f} MiB"
                      + (f" (JVM {res['jvm_mib']:.0f}; session start {res['start_s']:.1f} s)"
                         if engine == "spark" else ""), flush=True)
        base = statistics.median(x["wall_s"] for x in runs["sql"]) if runs.get("sql") else float("nan")
        for engine, rs in runs.items():
            if rs:
                wall = statistics.median(x["wall_s"] for x in rs)
                results.append({"rows": n, "engine": engine, "wall_s": wall, "ratio": wall / base,
                                "peak_mib": max(x["python_mib"] + x["jvm_mib"] for x in rs),
                                "jvm_mib": max(x["jvm_mib"] for x in rs),
                                "start_s": statistics.median(x["start_s"] for x in rs), "runs": len(rs)})
    names = {"sql": "hand-written SQL (DuckDB)", "duckdb": "build_panel, DuckDB",
             "spark": f"build_panel, Spark {MASTER}"}
    print(f"\n{'rows':>5}  {'engine':<27} {'wall s':>8} {'x SQL':>6} {'peak MiB':>9}  notes")
    for r in results:
        note = f"+ {r['start_s']:.1f} s session start; JVM {r['jvm_mib']:.0f} MiB" if r["engine"] == "spark" else ""
        print(f"{bench.fmt_rows(r['rows']):>5}  {names[r['engine']]:<27} {r['wall_s']:>8.2f} {r['ratio']:>6.2f} "
              f"{r['peak_mib']:>9.0f}  {note}")
    print("(wall: the call only, median of the runs; x SQL: ratio to the hand-written SQL of the same run; "
          "peak: VmHWM of Python + JVM)")
    if args.json:
        args.json.write_text(json.dumps({"environment": bench.environment(), "results": results}, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
