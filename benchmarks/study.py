"""Benchmark: a whole study end to end, and where its time goes (issue 14).

Usage (from the project root)::

    .venv/bin/python benchmarks/study.py                       # 1.2M contacts, 75k surveys, day x 8 queues
    .venv/bin/python benchmarks/study.py --contacts-per-day 100 --json out/study_bench.json

The world is simulated once into ``benchmarks/.data/`` (``alignment.simulate``: a year, 8
queues, about 412 contacts per queue and day, i.e. 1.2M contacts; its surveys thinned at random,
seeded, to 75,000; backlog, marketing and staffing as extra sources). The study is the demo's
(nine KPIs, lags up to 2, the contact-level model with the reason as control) at day grain.

Measured in one run:

* ``alignment run STUDY --out DIR --quiet`` in a fresh process: the wall time a user waits;
* the same study in this process, phase by phase, from the moments ``Study.run`` reports
  progress (reading and the panel, correlations, the contact-level model, validation, effects,
  the bootstrap ranking) and then ``StudyResult.write`` (results.json, panel.csv, the report);
* the baseline: DuckDB reading the contacts and surveys files once (``count(*)`` and a sum of
  every column) in a fresh process, so the ratio says how many "reads of the data" a study costs.

The target of issue 14 is the command's wall time <= 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

def study_text() -> str:
    """The demo's study file (its KPIs, lags, sources and contact controls) at day grain over the
    whole simulated year."""
    text = (ROOT / "data" / "demo" / "study.toml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(("start =", "end ="))]
    return "\n".join(lines).replace('grain = "week"', 'grain = "day"') + "\n"


def world(folder: Path, contacts_per_day: float, surveys: int, seed: int = 1) -> Path:
    """Simulate the world once (cached by its parameters) and write the study file beside it."""
    import duckdb

    from alignment.simulate import simulate
    done = folder / "done.json"
    params = {"contacts_per_day": contacts_per_day, "surveys": surveys, "seed": seed}
    if not (done.exists() and json.loads(done.read_text()) == params):
        folder.mkdir(parents=True, exist_ok=True)
        simulate(folder, seed=seed, days=364, queues=8, contacts_per_day=contacts_per_day,
                 wait_effect="contact")
        con = duckdb.connect()
        path = str(folder / "surveys.csv")
        con.execute(f"CREATE TABLE s AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        total = con.execute("SELECT count(*) FROM s").fetchone()[0]
        if total > surveys:
            con.execute(f"SELECT setseed(0.{seed})")
            con.execute(f"COPY (SELECT * FROM s ORDER BY random() LIMIT {surveys}) TO '{path}' (HEADER)")
        done.write_text(json.dumps(params))
    (folder / "study.toml").write_text(study_text())
    return folder / "study.toml"


def baseline(folder: Path) -> float:
    """Seconds for DuckDB to read the contacts and surveys once, in a fresh process."""
    code = (
        "import duckdb, time; t = time.perf_counter(); con = duckdb.connect()\n"
        f"for f in ('contacts.csv', 'surveys.csv'):\n"
        f"    rel = con.read_csv('{folder}/' + f)\n"
        "    con.execute('SELECT count(*), ' + ', '.join(f'count(\"{c}\")' for c in rel.columns) + "
        f"\" FROM read_csv('{folder}/\" + f + \"')\").fetchall()\n"
        "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def command(study: Path) -> float:
    """Wall seconds of ``alignment run STUDY --out DIR --quiet`` in a fresh process."""
    script = Path(sys.executable).with_name("alignment")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([str(script), "run", str(study), "--out", f"{tmp}/out", "--quiet"], check=True)
        return time.perf_counter() - t0


def phases(study_path: Path) -> list[tuple[str, float]]:
    """(phase, seconds) of one ``Study.run`` and the write, in this process: each phase lasts from
    its progress message to the next."""
    from alignment.study import load_study
    marks = [("loading the study file", time.perf_counter())]
    study = load_study(study_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = study.run(progress=lambda message: marks.append((message, time.perf_counter())))
        marks.append(("writing results.json, panel.csv and the report", time.perf_counter()))
        with tempfile.TemporaryDirectory() as tmp:
            result.write(Path(tmp) / "out")
    ends = [t for _, t in marks[1:]] + [time.perf_counter()]
    return [(name, end - t) for (name, t), end in zip(marks, ends)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts-per-day", type=float, default=412.0)
    ap.add_argument("--surveys", type=int, default=75_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    folder = HERE / ".data" / f"study_day8_{args.contacts_per_day:g}_{args.surveys}"
    study = world(folder, args.contacts_per_day, args.surveys)
    n_contacts = sum(1 for _ in open(folder / "contacts.csv")) - 1
    n_surveys = sum(1 for _ in open(folder / "surveys.csv")) - 1
    read = baseline(folder)
    wall = command(study)
    split = phases(study)
    load = os.getloadavg()[0]
    print(f"{n_contacts:,} contacts, {n_surveys:,} surveys; day grain x 8 queues; {os.cpu_count()} cores; "
          f"load average {load:.1f}")
    print(f"alignment run: {wall:.1f} s wall (target <= 30 s); DuckDB reading the two files once: {read:.2f} s "
          f"(ratio {wall / read:.1f}x)")
    total = sum(s for _, s in split)
    for name, seconds in split:
        print(f"  {seconds:6.1f} s  {100 * seconds / total:4.0f} %  {name}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"n_contacts": n_contacts, "n_surveys": n_surveys, "wall_s": wall,
                                         "read_s": read, "ratio": wall / read, "load_average": load,
                                         "phases": [{"phase": n, "seconds": s} for n, s in split]}, indent=2))


if __name__ == "__main__":
    main()
