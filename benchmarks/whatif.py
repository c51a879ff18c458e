"""The staffing what-if on one simulated year: the figures of the README ("Staffing what-if").

    .venv/bin/python benchmarks/whatif.py            # about a minute (the study's run included)

Simulates the tests' world (seed 11, 3 queues, waiting acting on each customer's own wait, churn
through CX), runs the tests' small study with ``[data.customers]`` and ``agent_cost_per_hour = 30``,
then ``result.whatif(segment="billing", agents="+1", hours="10-14", days="mon-fri")`` and the
report's Decisions table, and prints each with its time. Not done here: the check against a rerun
of the world with changed staffing, which needs a simulator with a real queue.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import STUDY  # noqa: E402

from alignment.simulate import simulate  # noqa: E402
from alignment.staffing.whatif import decisions  # noqa: E402
from alignment.study import load_study  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        simulate(folder, seed=11, days=364, queues=3, wait_effect="contact", churn="cx")
        text = (STUDY.format(outcome="csat").replace("seed = 5", "seed = 5\nagent_cost_per_hour = 30")
                + '\n[data.customers]\npath = "customers.csv"\nvalue = "annual_revenue"\n')
        (folder / "study.toml").write_text(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = load_study(folder / "study.toml").run(progress=False)
            print(f"study run: {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            w = result.whatif(segment="billing", agents="+1", hours="10-14", days="mon-fri")
            print(f"what-if: {time.perf_counter() - start:.1f} s")
            print(w.summary())
            asa = w.segments[0]["kpis"]["asa"]
            print(f"  ASA {asa['before']:.1f} -> {asa['after']:.1f} s; {asa['reason']}")
            start = time.perf_counter()
            d = decisions(result)
            print(f"decisions: {time.perf_counter() - start:.1f} s")
            print(d.summary())


if __name__ == "__main__":
    main()
