"""Bad-input matrix through the real command: ``alignment run STUDY.toml --out DIR``.

Every case builds a small study in its own folder (a simulated world of 120 days and 3 queues,
copied from one made per test session), breaks one thing, and runs the console script in a
subprocess. A broken input must give exit code 2, one line on stderr that starts with
``alignment: error:`` and names the file and the key, column or row, no traceback, and no
output: the study folder is byte-identical afterwards (no ``--out``, no temporary folder, no
changed input), and for one case of each failing stage a previous ``--out`` folder stays
byte-identical. The inputs that must still work (BOM, semicolons, CRLF, a constant KPI, two
identical KPIs) give exit code 0, a complete output folder, the same bytes as the unbroken study
where only the encoding changed, and a named warning in results.json where the data calls for one.

A case may carry ``bug="..."`` to mark a known project bug (xfail, strict): when it is fixed the
case passes and strict xfail turns that into a failure, so the mark is removed. None is open.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

SCRIPT = Path(sys.executable).with_name("alignment")

# Small on purpose: 18 weekly periods x 3 queues, 20 bootstrap resamples, lags up to 1.
BASE_TOML = """\
[study]
name = "bad-input matrix"
outcome = "csat"
kpis = ["service_level", "asa", "aht", "email_backlog"]
grain = "week"
by = ["queue"]
timezone = "America/New_York"
max_lag = 1
seed = 3
n_boot = 20

[data.contacts]
path = "contacts.csv"

[data.surveys]
path = "surveys.csv"

[[data.extra]]
path = "backlog.csv"
time = "date"
by = ["queue"]
aggregate = "mean"
"""

DATA_FILES = ("contacts.csv", "surveys.csv", "backlog.csv")


# ---- the world each case starts from -------------------------------------------------------

class World:
    """A study folder: study.toml plus the data files, with small editing helpers."""

    def __init__(self, root: Path):
        self.root = root
        self.study = root / "study.toml"

    # study.toml
    @property
    def toml(self) -> str:
        return self.study.read_text(encoding="utf-8")

    def write_toml(self, text: str) -> None:
        self.study.write_text(text, encoding="utf-8")

    def replace(self, old: str, new: str) -> None:
        text = self.toml
        assert old in text, f"fixture: {old!r} is not in study.toml"
        self.write_toml(text.replace(old, new, 1))

    def set(self, key: str, literal: str) -> None:
        """Set ``key = literal`` in [study] (the first section, so the first match is its own)."""
        text = self.toml
        line = re.compile(rf"^{re.escape(key)} = .*$", re.M)
        if line.search(text):
            self.write_toml(line.sub(lambda m: f"{key} = {literal}", text, count=1))
        else:
            self.write_toml(text.replace("[study]\n", f"[study]\n{key} = {literal}\n", 1))

    def drop(self, key: str) -> None:
        text = self.toml
        line = re.compile(rf"^{re.escape(key)} = .*\n", re.M)
        assert line.search(text), f"fixture: no {key} in study.toml"
        self.write_toml(line.sub("", text, count=1))

    def after(self, header: str, lines: str) -> None:
        """Insert ``lines`` just after the section header ``header``."""
        self.replace(f"{header}\n", f"{header}\n{lines}\n")

    # data files, read as text so that untouched values keep their bytes
    def read(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.root / name, dtype=str, keep_default_na=False)

    def save(self, name: str, frame: pd.DataFrame, **to_csv) -> None:
        frame.to_csv(self.root / name, index=False, **to_csv)

    def edit(self, name: str, row: int, **values) -> None:
        """Set ``values`` in data row ``row`` (1-based, header not counted) of file ``name``."""
        frame = self.read(name)
        for column, value in values.items():
            frame.loc[row - 1, column] = value
        self.save(name, frame)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> Path:
    from alignment.simulate import simulate
    root = tmp_path_factory.mktemp("world")
    simulate(root, seed=3, days=120, queues=3)
    return root


@pytest.fixture
def world(tmp_path, simulated) -> World:
    root = tmp_path / "study"
    root.mkdir()
    for name in DATA_FILES:
        shutil.copyfile(simulated / name, root / name)
    w = World(root)
    w.write_toml(BASE_TOML)
    return w


def run(world: World, out: str = "out", study: str = "study.toml", args=()) -> subprocess.CompletedProcess:
    out = out.format(root=world.root)
    return subprocess.run([str(SCRIPT), "run", study, "--out", out, "--quiet", *args], cwd=world.root,
                          capture_output=True, text=True, timeout=300)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, simulated) -> dict[str, bytes]:
    """The outputs of the unbroken study, to compare the re-encoded inputs against."""
    root = tmp_path_factory.mktemp("baseline")
    for name in DATA_FILES:
        shutil.copyfile(simulated / name, root / name)
    w = World(root)
    w.write_toml(BASE_TOML)
    result = run(w)
    assert result.returncode == 0, result.stderr
    return {name: (root / "out" / name).read_bytes() for name in ("results.json", "panel.csv")}


# ---- the cases ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[World], None]
    fragments: tuple[str, ...] = ()  # substrings of the one error line (or of a warning's message)
    warning: str | None = None       # success cases: a code expected in results.json "warnings"
    same_as_baseline: bool = False   # success cases: same panel and results as the unbroken study
    bug: str | None = None           # a project bug this case exposes (xfail strict)
    study: str = "study.toml"        # what the command is given as the study file
    out: str = "results/run"         # --out ("{root}" is the study folder); must not appear on failure
    args: tuple[str, ...] = ()       # more command-line arguments


def _remove_section(header: str):
    def change(w: World):
        text = w.toml
        start = text.index(header)
        end = text.find("\n[", start + 1)
        w.write_toml(text[:start] + (text[end + 1:] if end >= 0 else ""))
    return change


def _drop_column(name: str, column: str):
    def change(w: World):
        w.save(name, w.read(name).drop(columns=[column]))
    return change


def _naive_times(w: World):
    frame = w.read("contacts.csv")
    frame["arrived_at"] = frame["arrived_at"].str.replace(r"[+-]\d{2}:\d{2}$", "", regex=True)
    w.save("contacts.csv", frame)
    w.drop("timezone")


def _duplicate_id(w: World):
    frame = w.read("contacts.csv")
    frame.loc[4, "contact_id"] = frame.loc[3, "contact_id"]
    w.save("contacts.csv", frame)


def _unknown_contacts(w: World):
    frame = w.read("surveys.csv")
    frame["contact_id"] = "X" + frame["contact_id"]
    w.save("surveys.csv", frame)


def _negative_durations(w: World):
    w.edit("contacts.csv", 2, wait_s="-3")
    w.edit("contacts.csv", 5, handle_s="-1")


def _backlog_column(name: str, value: Callable[[pd.DataFrame], pd.Series]):
    def change(w: World):
        frame = w.read("backlog.csv")
        frame[name] = value(frame)
        w.save("backlog.csv", frame)
        w.set("kpis", f'["service_level", "asa", "aht", "email_backlog", "{name}"]')
    return change


def _reencode(transform: Callable[[bytes], bytes], names=("contacts.csv", "surveys.csv")):
    def change(w: World):
        for name in names:
            path = w.root / name
            path.write_bytes(transform(path.read_bytes()))
    return change


def _semicolons(w: World):
    for name in ("contacts.csv", "surveys.csv"):
        w.save(name, w.read(name), sep=";")


def _empty_file(w: World):
    (w.root / "contacts.csv").write_bytes(b"")


def _header_only(w: World):
    path = w.root / "contacts.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def _latin1_study(w: World):
    w.study.write_bytes(BASE_TOML.replace('"bad-input matrix"', '"\xe9tude"').encode("latin-1"))


def _contacts_folder(w: World):
    (w.root / "exports").mkdir()
    w.replace('path = "contacts.csv"', 'path = "exports"')


def _study_folder(w: World):
    (w.root / "study_dir").mkdir()


def _ragged_row(late: bool):
    """A contacts row with one field too many: early (row 3000, inside the rows DuckDB sniffs, 20,480)
    or late (100 rows before the end, past them)."""
    def change(w: World):
        path = w.root / "contacts.csv"
        lines = path.read_bytes().split(b"\n")
        assert len(lines) - 101 > 20_480, "fixture: the world is too small for a row past the sniffed part"
        lines[len(lines) - 101 if late else 3000] += b",surplus"
        path.write_bytes(b"\n".join(lines))
    return change


def _latin1_byte_in_surveys(w: World):
    path = w.root / "surveys.csv"
    lines = path.read_bytes().split(b"\n")
    lines[4000] = lines[4000].replace(b"S", b"\xe9S", 1)  # a Latin-1 byte, invalid in UTF-8
    path.write_bytes(b"\n".join(lines))


def _all_csat_blank(w: World):
    frame = w.read("surveys.csv")
    frame["csat"] = ""
    w.save("surveys.csv", frame)


def _file_beside(name: str):
    def change(w: World):
        (w.root / name).write_text("a note of the user\n")
    return change


def _intervention(body: str):
    return lambda w: w.write_toml(w.toml + f"\n[[interventions]]\n{body}\n")


def _do(*changes):
    def change(w: World):
        for c in changes:
            c(w)
    return change


CASES = [
    # -- the study file: TOML, sections, keys
    Case("toml-syntax", lambda w: w.set("kpis", '["asa", "aht"'), ("study.toml", "is not valid TOML")),
    Case("study-file-not-utf8", _latin1_study, ("study.toml", "is not UTF-8")),
    Case("study-file-missing", lambda w: None, ("nope.toml", "not found"), study="nope.toml"),
    Case("study-file-is-a-folder", _study_folder, ("study_dir",), study="study_dir"),
    Case("unknown-section", lambda w: w.write_toml(w.toml + "\n[reporting]\nstyle = 1\n"),
         ("study.toml", "key 'reporting'", "unknown key")),
    Case("unknown-study-key", lambda w: w.set("colour", '"red"'), ("study.toml", "key 'study.colour'", "unknown key")),
    Case("unknown-kpi-options-key", lambda w: w.write_toml(w.toml + "\n[kpi_options]\nsl_threshold = 20\n"),
         ("study.toml", "key 'kpi_options.sl_threshold'", "unknown key")),
    Case("unknown-extra-key", lambda w: w.replace('aggregate = "mean"', 'aggregate = "mean"\nagg = "sum"'),
         ("study.toml", "key 'data.extra[0].agg'", "unknown key")),
    Case("unknown-metric-key", lambda w: w.write_toml(w.toml + '\n[metrics.csat]\ncolour = "blue"\n'),
         ("study.toml", "key 'metrics.csat.colour'", "unknown key")),
    Case("missing-study-section", _remove_section("[study]"), ("study.toml", "key 'study'", "missing")),
    Case("data-extra-not-an-array", lambda w: w.replace("[[data.extra]]", "[data.extra]"),
         ("study.toml", "key 'data.extra'", "[[data.extra]]")),
    # -- outcome and KPIs
    Case("missing-outcome", lambda w: w.drop("outcome"), ("study.toml", "key 'study.outcome'", "required")),
    Case("outcome-unknown", lambda w: w.set("outcome", '"happiness"'),
         ("study.toml", "key 'study.outcome'", "'happiness' is not a survey metric")),
    Case("outcome-is-operational", lambda w: w.set("outcome", '"abandon_rate"'),
         ("study.toml", "key 'study.outcome'", "'abandon_rate' is an operational KPI")),
    Case("cis-without-declaration", lambda w: w.set("outcome", '"cis"'),
         ("study.toml", "key 'study.outcome'", "[metrics.cis]")),
    Case("unknown-kpi", lambda w: w.set("kpis", '["asa", "speed_of_light"]'),
         ("study.toml", "key 'study.kpis'", "'speed_of_light'")),
    Case("cx-metric-as-kpi", lambda w: w.set("kpis", '["asa", "nps"]'),
         ("study.toml", "key 'study.kpis'", "'nps' is a CX metric")),
    Case("duplicate-kpi", lambda w: w.set("kpis", '["asa", "aht", "asa"]'),
         ("study.toml", "key 'study.kpis'", "'asa' twice")),
    Case("no-kpi", lambda w: w.set("kpis", "[]"), ("study.toml", "key 'study.kpis'", "no KPI")),
    # -- types and values of [study]
    Case("grain-is-a-number", lambda w: w.set("grain", "7"), ("study.toml", "key 'study.grain'", "a string")),
    Case("grain-unknown", lambda w: w.set("grain", '"fortnight"'),
         ("study.toml", "key 'study.grain'", "'fortnight'")),
    Case("kpis-is-a-string", lambda w: w.set("kpis", '"asa"'), ("study.toml", "key 'study.kpis'", "a list")),
    Case("max-lag-is-a-string", lambda w: w.set("max_lag", '"2"'),
         ("study.toml", "key 'study.max_lag'", "an integer")),
    Case("seed-negative", lambda w: w.set("seed", "-1"), ("study.toml", "key 'study.seed'", ">= 0")),
    Case("start-month-13", lambda w: w.set("start", '"2025-13-01"'),
         ("study.toml", "key 'study.start'", "2025-13-01")),
    Case("timezone-unknown", lambda w: w.set("timezone", '"Mars/Olympus_Mons"'),
         ("study.toml", "key 'study.timezone'", "Mars/Olympus_Mons")),
    Case("end-before-start", _do(lambda w: w.set("start", '"2025-03-03"'), lambda w: w.set("end", '"2025-02-02"')),
         ("study.toml", "key 'study.end'", "before it starts")),
    Case("unknown-format", lambda w: w.after("[data.contacts]", 'format = "genesys-cloud"'),
         ("study.toml", "key 'data.contacts.format'", "genesys-cloud")),
    Case("extra-aggregate-unknown", lambda w: w.replace('aggregate = "mean"', 'aggregate = "median"'),
         ("study.toml", "key 'data.extra[0].aggregate'", "median")),
    # -- files
    Case("contacts-file-missing", lambda w: w.replace('path = "contacts.csv"', 'path = "nope.csv"'),
         ("study.toml", "key 'data.contacts.path'", "nope.csv")),
    Case("surveys-file-missing", lambda w: w.replace('path = "surveys.csv"', 'path = "nope.csv"'),
         ("study.toml", "key 'data.surveys.path'", "nope.csv")),
    Case("contacts-path-is-a-folder", _contacts_folder, ("exports", "folder")),
    Case("contacts-file-empty", _empty_file, ("contacts.csv", "empty")),
    Case("contacts-header-only", _header_only, ("contacts.csv", "no contact rows")),
    Case("ragged-row-in-sniffed-part", _ragged_row(late=False), ("contacts.csv", "cannot be read")),
    Case("ragged-row-after-sniffed-part", _ragged_row(late=True), ("contacts.csv",)),
    Case("surveys-not-utf8-in-a-row", _latin1_byte_in_surveys, ("surveys.csv",)),
    # -- columns
    Case("missing-column-for-kpi", _drop_column("contacts.csv", "wait_s"),
         ("contacts.csv", "column 'wait_s'", "is missing", "needs it")),
    Case("renamed-column-absent", lambda w: w.after("[data.contacts]", 'columns = { wait_s = "WaitSeconds" }'),
         ("contacts.csv", "column 'WaitSeconds'", "missing")),
    Case("segment-column-missing", lambda w: w.set("by", '["site"]'), ("contacts.csv", "column 'site'", "missing")),
    Case("extra-column-shadows-a-kpi", lambda w: w.save("backlog.csv", w.read("backlog.csv").rename(
        columns={"email_backlog": "asa"})), ("backlog.csv", "column 'asa'", "same name")),
    Case("extra-time-column-missing", lambda w: w.replace('time = "date"', 'time = "day"'),
         ("backlog.csv", "column 'day'", "missing")),
    # -- rows
    Case("wait-not-a-number", lambda w: w.edit("contacts.csv", 3, wait_s="abc"),
         ("contacts.csv", "column 'wait_s', row 3", "not a number")),
    Case("negative-durations", _negative_durations,
         ("contacts.csv", "column 'wait_s', row 2", "negative", "column 'handle_s'")),
    Case("answered-and-abandoned", lambda w: w.edit("contacts.csv", 4, answered="true", abandoned="true"),
         ("contacts.csv", "column 'abandoned', row 4", "also answered")),
    Case("answered-not-boolean", lambda w: w.edit("contacts.csv", 7, answered="maybe"),
         ("contacts.csv", "column 'answered', row 7", "not true/false")),
    Case("huge-wait", lambda w: w.edit("contacts.csv", 2, wait_s="1e300"),
         ("contacts.csv", "column 'wait_s', row 2", "larger than")),
    Case("naive-times-no-timezone", _naive_times,
         ("contacts.csv", "column 'arrived_at', row 1", "without a UTC offset")),
    Case("duplicate-contact-id", _duplicate_id, ("contacts.csv", "column 'contact_id', row 5", "repeats")),
    Case("csat-out-of-scale", lambda w: w.edit("surveys.csv", 2, csat="6"),
         ("surveys.csv", "column 'csat', row 2", "outside its scale 1-5")),
    Case("surveys-rate-unknown-contacts", _unknown_contacts,
         ("surveys.csv", "column 'contact_id'", "none of the")),
    Case("csat-all-blank", _all_csat_blank, ("surveys.csv", "csat")),
    # -- declarations checked only once the statistics run
    Case("kpi-options-variant-unknown",
         lambda w: w.write_toml(w.toml + '\n[kpi_options]\nservice_level_variant = "bogus"\n'),
         ("study.toml", "key 'kpi_options.service_level_variant'", "must be one of", "bogus")),
    Case("by-lists-a-column-twice", lambda w: w.set("by", '["queue", "queue"]'), ("study.toml", "study.by")),
    Case("cis-weight-names-unknown-column",
         _do(lambda w: w.set("outcome", '"cis"'),
             lambda w: w.write_toml(w.toml + "\n[metrics.cis]\nweights = { csat = 1, happiness = 2 }\n")),
         ("study.toml", "metrics.cis", "happiness")),
    Case("csat-top-box-outside-scale", lambda w: w.write_toml(w.toml + "\n[metrics.csat]\ntop_box = [6, 7]\n"),
         ("study.toml", "metrics.csat", "top_box")),
    Case("validation-step-zero", lambda w: w.write_toml(w.toml + "\n[validation]\nstep = 0\n"),
         ("study.toml", "key 'validation.step'")),
    Case("intervention-without-segments", _intervention('date = "2025-03-03"\nkpi = "asa"'),
         ("study.toml", "interventions[0].segments")),
    Case("intervention-unknown-segment",
         _intervention('date = "2025-03-03"\nsegments = ["nowhere"]\nkpi = "asa"'),
         ("study.toml", "interventions[0]", "nowhere")),
    Case("intervention-kpi-not-in-study",
         _intervention('date = "2025-03-03"\nsegments = ["billing"]\nkpi = "fcr"'),
         ("study.toml", "interventions[0].kpi", "fcr")),
    # -- the command line and the output folder
    Case("cli-seed-negative", lambda w: None, ("seed", "-1"), args=("--seed", "-1")),
    Case("out-is-an-input-file", lambda w: None, ("contacts.csv",), out="contacts.csv"),
    Case("out-is-the-study-folder", lambda w: None, ("study",), out="{root}"),
    Case("out-is-the-current-folder", lambda w: None, (), out="."),
    Case("out-under-a-file", _file_beside("notes.txt"), ("notes.txt",), out="notes.txt/run"),
    # -- the window and the periods
    Case("window-outside-data", _do(lambda w: w.set("start", '"2030-01-07"'), lambda w: w.set("end", '"2030-03-03"')),
         ("contacts.csv", "no contacts between 2030-01-07 and 2030-03-03")),
    Case("too-few-periods-for-lags",
         _do(lambda w: w.set("start", '"2025-01-06"'), lambda w: w.set("end", '"2025-02-09"'),
             lambda w: w.set("max_lag", "2")),
         ("study.toml", "key 'study.max_lag'", "5 periods")),
    # -- inputs that must still work
    Case("constant-kpi", _backlog_column("queue_open", lambda f: pd.Series("5", index=f.index)),
         ("queue_open",), warning="constant_predictor"),
    Case("identical-kpis", _backlog_column("backlog_copy", lambda f: f["email_backlog"]),
         ("backlog_copy", "identical to email_backlog"), warning="collinearity"),
    Case("utf8-bom", _reencode(lambda b: b"\xef\xbb\xbf" + b), same_as_baseline=True),
    Case("crlf-line-ends", _reencode(lambda b: b.replace(b"\n", b"\r\n")), same_as_baseline=True),
    Case("semicolon-separated", _semicolons, same_as_baseline=True),
    Case("metrics-csat-declared", lambda w: w.write_toml(w.toml + '\n[metrics.csat]\ncolumn = "csat"\n'),
         same_as_baseline=True),
]

SUCCESS = [c for c in CASES if c.warning or c.same_as_baseline]
ERRORS = [c for c in CASES if c not in SUCCESS]


def _params(cases):
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
            for c in cases]


# ---- the assertions ----------------------------------------------------------------------------

def assert_one_error_line(result: subprocess.CompletedProcess, case: Case) -> None:
    assert result.returncode == 2, f"exit {result.returncode}, stderr: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), f"expected one line, got: {result.stderr!r}"
    assert lines[0].startswith("alignment: error: "), lines[0]
    missing = [f for f in case.fragments if f not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"
    assert result.stdout == "", result.stdout


@pytest.mark.parametrize("case", _params(ERRORS))
def test_bad_input_is_one_line_and_writes_nothing(world, case):
    case.change(world)
    before = snapshot(world.root)
    result = run(world, out=case.out, study=case.study, args=case.args)
    assert_one_error_line(result, case)
    assert snapshot(world.root) == before, "a failed run created, changed or deleted files"


# One case per stage at which a run can fail: a failure must leave a previous output folder as it was.
STAGES = ["toml-syntax", "contacts-file-missing", "negative-durations", "unknown-kpi", "too-few-periods-for-lags"]


@pytest.mark.parametrize("case", _params([c for c in ERRORS if c.id in STAGES]))
def test_failure_keeps_a_previous_output_folder(world, case):
    case.change(world)
    previous = world.root / "previous"
    (previous / "figures").mkdir(parents=True)
    (previous / "results.json").write_text('{"schema_version": 2, "previous": true}\n')  # replaceable: ours
    (previous / "panel.csv").write_text("period,queue\n")
    (previous / "figures" / "importance.svg").write_text("<svg/>\n")
    before = snapshot(world.root)
    result = run(world, out="previous", study=case.study, args=case.args)
    assert_one_error_line(result, case)
    assert snapshot(world.root) == before, "a failed run changed the previous output folder"


@pytest.mark.parametrize("case", _params(SUCCESS))
def test_input_that_must_still_work(world, case, baseline):
    case.change(world)
    result = run(world)
    assert result.returncode == 0, f"exit {result.returncode}, stderr: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    out = world.root / "out"
    names = {str(p.relative_to(out)) for p in out.rglob("*")}
    assert {"figures", "figures/importance.svg", "panel.csv", "results.json", "report.html"} <= names
    assert not [n for n in names if n.startswith(".") or n.endswith((".part", ".old"))]
    assert not [p.name for p in world.root.iterdir() if p.name.startswith(".")], "temporary folders left"
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if case.same_as_baseline:
        assert (out / "panel.csv").read_bytes() == baseline["panel.csv"]
        assert (out / "results.json").read_bytes() == baseline["results.json"]
    if case.warning:
        named = [w["message"] for w in doc["warnings"] if w["code"] == case.warning]
        assert any(all(f in m for f in case.fragments) for m in named), doc["warnings"]
        kpi = case.fragments[0]
        row = next(d for d in doc["drivers"] if d["name"] == kpi)
        assert row["rank"] is None and row["verdict"] == "inconclusive", row


def test_the_matrix_is_wide_enough():
    assert len(CASES) >= 35 and len({c.id for c in CASES}) == len(CASES)
    assert set(STAGES) <= {c.id for c in ERRORS}
