"""Hostile study files and names (issue 14): one line, exit 2, nothing written, through the real command.

Most cases run ``alignment check STUDY.toml`` on the small world of ``test_bad_inputs`` and fail
while the study loads (about a second each); the cases only the data can decide (an extra
column named like a panel column, a holdout outside the data's window, too many segments) build
the panel and stop before the statistics. Beside them: the rules behind each case through the
Python API (every reserved name, the lazy resample generators, the n_boot cap) and a structural
test that a typo is reported without importing scipy or statsmodels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_bad_inputs import (SCRIPT, Case, World, _backlog_column, _do, assert_one_error_line,  # noqa: F401
                             run, simulated, snapshot, world)


def check(w: World, study: str = "study.toml") -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "check", study], cwd=w.root, capture_output=True, text=True, timeout=300)


def _metric(name: str, body: str):
    """Declare ``[metrics."NAME"]`` and make it the outcome."""
    def change(w: World):
        w.set("outcome", json.dumps(name))
        w.write_toml(w.toml + f'\n[metrics."{name}"]\n{body}\n')
    return change


def _segment(name: str):
    """Rename the contacts' queue column to ``name`` and segment by it (the extra source drops its queue)."""
    def change(w: World):
        w.save("contacts.csv", w.read("contacts.csv").rename(columns={"queue": name}))
        w.set("by", json.dumps([name]))
        w.replace('by = ["queue"]\naggregate', 'aggregate')
    return change


def _file(name: str, data: bytes):
    def change(w: World):
        (w.root / name).write_bytes(data)
    return change


def _kpis(n: int):
    """A backlog file with ``n`` value columns, all of them KPIs (no catalog family among them)."""
    def change(w: World):
        frame = w.read("backlog.csv")
        names = [f"load_{i:02d}" for i in range(n)]
        for i, name in enumerate(names):
            frame[name] = (pd.to_numeric(frame["email_backlog"]) + i).astype(str)
        w.save("backlog.csv", frame.drop(columns=["email_backlog"]))
        w.set("kpis", json.dumps(names))
    return change


CHECK_CASES = [
    # 1. survey metric names become component names and SQL columns: letters, digits, underscores
    Case("metric-name-with-a-space", _metric("customer impact", 'column = "csat"\nscale = [1, 5]'),
         ("study.toml", "key 'metrics.customer impact'", "ASCII letters, digits and underscores")),
    Case("metric-name-non-ascii", _metric("qualité", 'column = "csat"\nscale = [1, 5]'),
         ("study.toml", "key 'metrics.qualité'", "ASCII letters")),
    Case("composite-name-with-a-minus", _metric("cx-index", "weights = { csat = 1, nps = 1 }"),
         ("study.toml", "key 'metrics.cx-index'", "ASCII letters")),
    # 2. segment columns named like the panel's own columns
    Case("segment-local-ts", _segment("local_ts"), ("study.toml", "key 'study.by'", "'local_ts'", "rename")),
    Case("segment-period", _segment("period"), ("study.toml", "key 'study.by'", "'period'", "the period column")),
    Case("segment-n-contacts", _segment("n_contacts"), ("study.toml", "key 'study.by'", "'n_contacts'",
                                                        "a panel component")),
    # (every other reserved name: test_every_reserved_name_is_refused_as_a_segment)
    # 3. extra-source columns named like panel columns or components
    Case("extra-n-surveys", _backlog_column("n_surveys", lambda f: f["email_backlog"]),
         ("backlog.csv", "column 'n_surveys'", "same name", "rename it")),
    Case("extra-low-responses", _backlog_column("low_responses", lambda f: pd.Series("0", index=f.index)),
         ("backlog.csv", "column 'low_responses'", "same name", "rename it")),
    Case("extra-support-column", _backlog_column("email_backlog__sum", lambda f: f["email_backlog"]),
         ("backlog.csv", "column 'email_backlog__sum'", "same name", "'__sum'")),
    # 4. study files that are no study files
    Case("study-file-is-dev-zero", lambda w: None, ("/dev/zero", "larger than 1,000,000 bytes"), study="/dev/zero"),
    Case("study-file-is-dev-urandom", lambda w: None, ("/dev/urandom", "larger than"), study="/dev/urandom"),
    Case("study-file-too-large", _file("big.toml", b"# " + b"x" * 1_000_000 + b"\n"),
         ("big.toml", "larger than 1,000,000 bytes"), study="big.toml"),
    Case("study-file-nested-too-deeply", _file("deep.toml", b"[study]\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n"),
         ("deep.toml", "too deeply"), study="deep.toml"),
    # 5. a bootstrap too large to run
    Case("n-boot-a-billion", lambda w: w.set("n_boot", str(10**9)), ("study.toml", "key 'study.n_boot'", "100,000")),
    # 6. a source's timezone follows the study timezone's rule
    Case("contacts-timezone-right-utc", lambda w: w.after("[data.contacts]", 'timezone = "right/UTC"'),
         ("study.toml", "key 'data.contacts.timezone'", "right/UTC")),
    Case("extra-timezone-unknown", lambda w: w.replace('aggregate = "mean"', 'aggregate = "mean"\ntimezone = "Mars/Base"'),
         ("study.toml", "key 'data.extra[0].timezone'", "Mars/Base")),
    Case("study-timezone-right-utc", lambda w: w.set("timezone", '"right/UTC"'),
         ("study.toml", "key 'study.timezone'", "right/UTC")),
    # 7. a holdout outside a declared window
    Case("holdout-after-the-window", _do(lambda w: w.set("start", '"2025-01-06"'), lambda w: w.set("end", '"2025-03-30"'),
                                         lambda w: w.set("holdout_start", '"2026-01-05"')),
         ("study.toml", "key 'study.holdout_start'", "2026-01-05", "after the window ends")),
    Case("holdout-in-the-first-period", _do(lambda w: w.set("start", '"2025-01-06"'),
                                            lambda w: w.set("holdout_start", '"2025-01-08"')),
         ("study.toml", "key 'study.holdout_start'", "no period is left to train on")),
    # 8. more players than the exact Shapley ranking takes
    Case("shapley-25-kpis", _kpis(25), ("study.toml", "key 'study.kpis'", "25 KPIs", "at most 24", "[families]",
                                        "johnson")),
    # 9. the segment limit's own key, and more segments than it allows (3 queues here, limit 2): refused
    # once the panel is built, before any statistics (check and run share that step)
    Case("max-segments-zero", lambda w: w.set("max_segments", "0"), ("study.toml", "key 'study.max_segments'", ">= 1")),
    Case("too-many-segments", lambda w: w.set("max_segments", "2"),
         ("study.toml", "key 'study.max_segments'", "3 segments", "max_segments = 2")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CHECK_CASES])
def test_check_refuses_with_one_line_and_writes_nothing(world, case):
    case.change(world)
    before = snapshot(world.root)
    result = check(world, case.study)
    assert_one_error_line(result, case)
    assert snapshot(world.root) == before, "a failed check created, changed or deleted files"


RUN_CASES = [
    # 7. the window comes from the data: refused once the panel is built, before the statistics
    # (``run`` here; ``check`` takes the same step)
    Case("holdout-after-the-data", lambda w: w.set("holdout_start", '"2026-01-05"'),
         ("study.toml", "key 'study.holdout_start'", "after the data's window ends")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in RUN_CASES])
def test_run_refuses_before_the_statistics(world, case):
    case.change(world)
    before = snapshot(world.root)
    result = run(world, out=case.out)
    assert_one_error_line(result, case)
    assert snapshot(world.root) == before, "a failed run created, changed or deleted files"


# ---- the rules behind the cases, through the Python API ------------------------------------------

def _study(**kwargs):
    from alignment import Source, Study
    args = dict(name="t", outcome="csat", kpis=("asa", "aht"), contacts=Source(data="c.csv"),
                surveys=Source(data="s.csv"))
    return Study(**(args | kwargs))


def test_every_reserved_name_is_refused_as_a_segment():
    from alignment.panel import build_panel
    from alignment.panel.build import reserved_names
    from alignment.exceptions import OptionError
    from alignment.study import StudyError
    reserved = reserved_names(segments=True)
    names = [*reserved.names, *(f"x{s}" for s in reserved.suffixes)]
    assert {"local_ts", "period", "n_contacts", "n_surveys", "low_responses", "csat_n", "nps_se", "contact_id",
            "wait_s", "hour", "service_level", "x__sum", "x__n", "x__at"} <= set(names)
    for name in names:
        with pytest.raises(StudyError, match="key 'study.by'") as info:
            _study(by=(name,))
        assert repr(name) in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(OptionError, match=f"segment column {name!r}"):
            build_panel(pd.DataFrame({"contact_id": [1], "arrived_at": ["2025-01-06T08:00:00Z"]}), by=[name])
    _study(by=("queue", "channel"))  # ordinary names pass


@pytest.fixture(scope="module")
def tiny():
    """Five contacts and surveys of one queue, one week: enough for the panel's checks."""
    contacts = pd.DataFrame({"contact_id": [f"C{i}" for i in range(5)], "queue": "billing",
                             "arrived_at": [f"2025-01-{6 + i:02d}T09:00:00-05:00" for i in range(5)],
                             "answered": True, "abandoned": False, "wait_s": 10.0, "handle_s": 300.0})
    surveys = pd.DataFrame({"survey_id": [f"S{i}" for i in range(5)], "contact_id": contacts["contact_id"],
                            "csat": [5, 4, 3, 5, 4], "nps": [10, 9, 3, 8, 10]})
    return contacts, surveys


def test_every_panel_name_is_refused_as_an_extra_column(tiny):
    from alignment import ExtraSource, build_panel
    from alignment.exceptions import InputError
    from alignment.panel.build import reserved_names
    contacts, surveys = tiny
    reserved = reserved_names()
    for name in [*reserved.names, *(f"x{s}" for s in reserved.suffixes)]:
        extra = pd.DataFrame({"date": ["2025-01-06"], "queue": ["billing"], name: [1.0]})
        with pytest.raises(InputError, match=f"column {name!r}: has the same name as") as info:
            build_panel(contacts, surveys=surveys, by=["queue"], extras=[ExtraSource(extra, by=["queue"])])
        assert "rename it" in str(info.value)


def test_the_reserved_names_cover_every_column_the_panel_makes(tiny):
    """The structural names are listed by hand beside the query: this keeps the list whole."""
    from alignment import ExtraSource, build_panel
    from alignment.panel.build import reserved_names
    contacts, surveys = tiny
    mean = ExtraSource(pd.DataFrame({"date": ["2025-01-06"], "queue": ["billing"], "backlog": [3.0]}), by=["queue"])
    last = ExtraSource(pd.DataFrame({"date": ["2025-01-07"], "agents": [4.0]}), aggregate="last")
    panel = build_panel(contacts, surveys=surveys, by=["queue"], extras=[mean, last])
    reserved = reserved_names()
    own = [c for c in panel.table.columns if c not in ("queue", "backlog", "agents")]
    assert {"period", "n_surveys", "low_responses", "backlog__sum", "agents__at", "nps_se"} <= set(own)
    assert [c for c in own if reserved.what(c) is None] == []


def test_metric_names_follow_the_component_rule():
    from alignment import CompositeScore, SurveyMetric
    from alignment.exceptions import OptionError
    for bad in ("customer impact", "qualité", "cx-index", "1st", ""):
        with pytest.raises(OptionError, match="ASCII letters, digits and underscores"):
            SurveyMetric(bad)
        with pytest.raises(OptionError, match="ASCII letters, digits and underscores"):
            CompositeScore(bad, weights={"csat": 1})
    assert SurveyMetric("customer_impact_2").components == ("customer_impact_2_n", "customer_impact_2_sum")


def test_holdout_and_limits_in_python():
    from alignment.study import StudyError
    import datetime as dt
    with pytest.raises(StudyError, match="key 'study.holdout_start'"):
        _study(start=dt.date(2025, 1, 6), end=dt.date(2025, 3, 30), holdout_start=dt.date(2025, 4, 7))
    _study(start=dt.date(2025, 1, 6), end=dt.date(2025, 3, 30), holdout_start=dt.date(2025, 3, 3))
    with pytest.raises(StudyError, match="key 'study.n_boot'"):
        _study(n_boot=100_001)
    with pytest.raises(StudyError, match="key 'study.max_segments'"):
        _study(max_segments=0)
    # 26 KPIs, but the 4 waiting KPIs of the catalog are one family: 23 players
    waiting = ("asa", "service_level", "abandon_rate", "avg_time_to_abandon")
    _study(kpis=waiting + tuple(f"k{i}" for i in range(22)))
    with pytest.raises(StudyError, match="key 'study.kpis'.*25 after grouping families"):
        _study(kpis=tuple(f"k{i}" for i in range(25)))
    _study(kpis=tuple(f"k{i}" for i in range(25)), families={"loads": ("k0", "k1")})


def test_the_panel_checks_of_a_study():
    """``Study.check_panel``: segments against max_segments; a window from the data against the holdout."""
    import datetime as dt
    from types import SimpleNamespace
    from alignment.study import StudyError
    table = pd.DataFrame({"queue": ["a", "b", "c", "a"]})
    panel = SimpleNamespace(table=table, start=dt.date(2025, 1, 6), end=dt.date(2025, 5, 4))
    _study(by=("queue",), max_segments=3).check_panel(panel)
    with pytest.raises(StudyError, match="key 'study.max_segments': the panel has 3 segments"):
        _study(by=("queue",), max_segments=2).check_panel(panel)
    for day, words in ((dt.date(2025, 1, 7), "no period is left to train on"), (dt.date(2025, 5, 5), "after the data")):
        with pytest.raises(StudyError, match=f"key 'study.holdout_start'.*{words}"):
            _study(holdout_start=day).check_panel(panel)
    _study(holdout_start=dt.date(2025, 1, 13)).check_panel(panel)
    _study(holdout_start=dt.date(2025, 5, 4)).check_panel(panel)
    # a declared window was checked when the study was made; the data's window is not used then
    _study(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), holdout_start=dt.date(2025, 10, 6)).check_panel(panel)


def test_n_boot_is_capped_in_relative_importance():
    from alignment import relative_importance
    from alignment.exceptions import OptionError
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.normal(size=30), "a": rng.normal(size=30), "b": rng.normal(size=30)})
    with pytest.raises(OptionError, match="'n_boot' parameter .* at most 100,000"):
        relative_importance(data, "y", ["a", "b"], n_boot=10**9)


def test_generators_are_made_lazily_and_equal_the_spawned_ones():
    from alignment.exceptions import OptionError
    from alignment.stats.resample import MAX_RESAMPLES, spawn_generators

    def spawned(seed, n):
        return [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(n)]

    gens, entropy = spawn_generators(11, MAX_RESAMPLES)  # instant: nothing is made up front
    assert entropy == 11 and len(gens) == MAX_RESAMPLES
    children = np.random.SeedSequence(11).spawn(MAX_RESAMPLES)
    for i in (0, 1, 999, MAX_RESAMPLES - 1):
        expected = np.random.default_rng(children[i]).integers(0, 2**62, 4)
        assert np.array_equal(gens[i].integers(0, 2**62, 4), expected)
    ref = spawned(11, 40)
    assert [g.random() for g in gens[10:40:7]] == [r.random() for r in ref[10:40:7]]
    assert [g.random() for g, _ in zip(gens, range(3))] == [r.random() for r in spawned(11, 3)]
    # a SeedSequence passed in counts its children as spawned, as SeedSequence.spawn does
    seq, again = np.random.SeedSequence(5), np.random.SeedSequence(5)
    spawn_generators(seq, 3)
    second, _ = spawn_generators(seq, 2)
    again.spawn(3)
    assert seq.n_children_spawned == 5
    assert second[1].random() == np.random.default_rng(again.spawn(2)[1]).random()
    with pytest.raises(OptionError, match="100,000"):
        spawn_generators(0, MAX_RESAMPLES + 1)


# ---- a typo is reported without the statistics stack ---------------------------------------------

HEAVY = ("scipy", "statsmodels", "numba", "matplotlib", "sklearn")

PROBE = """
import sys
from alignment.cli import main
code = main(["check", "typo.toml"])
assert code == 2, code
from alignment import load_study
study = load_study("study.toml")
print("after loading:", " ".join(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))) or "none")
code = main(["check", "study.toml"])
assert code == 0, code
print("after checking:", " ".join(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))) or "none")
"""


def test_check_and_loading_a_study_import_no_statistics_stack(world):
    """Structural, not a timing test: ``benchmarks/import_time.py`` measures the time."""
    world.write_toml(world.toml.replace('grain = "week"', 'grian = "week"'))
    (world.root / "typo.toml").write_text(world.toml, encoding="utf-8")
    world.write_toml(world.toml.replace('grian = "week"', 'grain = "week"'))
    result = subprocess.run([sys.executable, "-c", PROBE, *HEAVY], cwd=world.root, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "after loading: none" in lines, result.stdout
    assert lines[-1] == "after checking: none", result.stdout  # the panel alone needs no statistics
    assert "key 'study.grian'" in result.stderr
