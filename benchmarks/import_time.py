"""How fast a typo in a study file is reported: ``alignment check`` on a broken study vs ``import pandas``.

Usage (from the project root)::

    .venv/bin/python benchmarks/import_time.py            # 7 runs of each
    .venv/bin/python benchmarks/import_time.py --runs 15

The demo study with a misspelt key (``grian = "week"``, reported before any data file is
opened) is written to a temporary folder, and two commands run alternately in fresh processes: ``alignment check
STUDY.toml`` (exit 2, one line on stderr) and ``python -c "import pandas"``, the floor of any
command that reads a table. Each run's CPU time (user + system, of the child process) and wall
time are measured; the medians and their ratios are printed. The target is a CPU ratio of at
most 1.5: the loader and the command line must not import scipy, statsmodels or numba just to
report a typo (see tests/test_hardening_study.py for the structural test). CPU time is the
measure because wall time on a shared machine mostly measures the other processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.5


def _command() -> list[str]:
    script = Path(sys.executable).with_name("alignment")
    return [str(script)] if script.exists() else [sys.executable, "-m", "alignment.cli"]


def _timed(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.returncode


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    args = p.parse_args(argv)
    env_note = os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demo = ROOT / "data" / "demo" / "study.toml"
        text = demo.read_text(encoding="utf-8")
        assert 'grain = "week"' in text, "the demo study changed: update the typo"
        (folder / "study.toml").write_text(text.replace('grain = "week"', 'grian = "week"', 1), encoding="utf-8")
        check = _command() + ["check", "study.toml"]
        pandas = [sys.executable, "-c", "import pandas"]
        _timed(pandas, folder), _timed(check, folder)  # warm the file cache and the bytecode
        rows = {"alignment check (typo)": [], "python -c 'import pandas'": []}
        for _ in range(args.runs):
            for name, cmd in zip(rows, (check, pandas)):
                cpu, wall, code = _timed(cmd, folder)
                expected = 2 if cmd is check else 0
                if code != expected:
                    print(f"{name}: exit {code}, expected {expected}", file=sys.stderr)
                    return 1
                rows[name].append((cpu, wall))
    med = {name: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for name, v in rows.items()}
    print(f"median of {args.runs} runs each{' (PYTHONPATH=' + env_note + ')' if env_note else ''}:")
    for name, (cpu, wall) in med.items():
        print(f"  {name:<28} CPU {cpu:6.3f} s   wall {wall:6.3f} s")
    (c_cpu, c_wall), (p_cpu, p_wall) = med.values()
    ratio = c_cpu / p_cpu
    print(f"ratio: CPU {ratio:.2f}x, wall {c_wall / p_wall:.2f}x (target: CPU <= {TARGET}x) -> "
          f"{'ok' if ratio <= TARGET else 'over target'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
