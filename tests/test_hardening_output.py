"""Hostile inputs against the outputs, through the real command (issue 14, output items).

No lost files: ``kpis --out`` never overwrites an input and ``run --out`` replaces only a previous
output; a killed run's temporary folder is cleaned by the next run (and nothing that is not ours);
a failed write removes the parent folders it made; an unwritable output fails before any work.
One line for every hostile name: a line break in a file name, a closed stdout pipe, a library's
warning under ``--quiet``. Names from the data cannot become formulas (panel.csv), links or markup
(report.md, report.html), or mathtext (figures).

The small world, its study file and the helpers are those of ``test_bad_inputs.py``. Two cases
run the statistics (with the contact-level model off, to stay fast): one study full of hostile
names, shared by the tests that read its outputs, and one whose write fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test_bad_inputs import (BASE_TOML, DATA_FILES, SCRIPT, Case, World, assert_one_error_line,  # noqa: F401
                             run, simulated, snapshot, world)

KPIS_ARGS = ("--surveys", "surveys.csv", "--extra", "backlog.csv,by=queue,time=date", "--grain", "week",
             "--by", "queue", "--timezone", "America/New_York", "--quiet")


def kpis(root: Path, out: str, contacts: str = "contacts.csv", args=KPIS_ARGS) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "kpis", contacts, *args, "--out", out], cwd=root,
                          capture_output=True, text=True, timeout=300)


def one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert_one_error_line(result, Case("output", lambda w: None, fragments))
    return result.stderr


def python(code: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script's own ``main`` in a subprocess, after ``code`` (which patches something)."""
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _negative_durations(w: World) -> None:
    """An error the statistics would raise (it is found when the data are read, after the study loads)."""
    w.edit("contacts.csv", 2, wait_s="-3")


# ---- kpis --out: never an input, never a folder ---------------------------------------------------

@pytest.mark.parametrize("out, input_name", [
    ("contacts.csv", "contacts.csv"),
    ("./surveys.csv", "surveys.csv"),
    ("sub/../backlog.csv", "backlog.csv"),
    ("link.csv", "contacts.csv"),          # a symbolic link to an input
    ("hard.csv", "surveys.csv"),           # a hard link to an input
])
def test_kpis_refuses_to_overwrite_an_input(world, out, input_name):
    (world.root / "sub").mkdir()
    (world.root / "link.csv").symlink_to("contacts.csv")
    os.link(world.root / "surveys.csv", world.root / "hard.csv")
    before = snapshot(world.root)
    result = kpis(world.root, out)
    one_error_line(result, f"--out {out}", input_name, "input")
    assert snapshot(world.root) == before


def test_kpis_out_is_an_existing_folder(world):
    (world.root / "exports").mkdir()
    (world.root / "exports" / "notes.txt").write_text("mine\n")
    before = snapshot(world.root)
    one_error_line(kpis(world.root, "exports"), "--out exports", "is a folder", "exports/panel.csv")
    assert snapshot(world.root) == before


# ---- run --out: only a previous output is replaced -------------------------------------------------

def _thesis(w: World) -> Path:
    folder = w.root / "thesis"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "thesis.tex").write_text("\\documentclass{article}\n")
    return folder


def _results_without_version(w: World) -> Path:
    folder = w.root / "thesis"
    folder.mkdir()
    (folder / "results.json").write_text('{"chapter": 3}\n')
    return folder


def _previous_output_and_a_file(w: World) -> Path:
    folder = w.root / "thesis"
    (folder / "figures").mkdir(parents=True)
    (folder / "results.json").write_text('{\n  "schema_version": 2\n}\n')
    (folder / "figures" / "importance.svg").write_text("<svg/>\n")
    (folder / "figures" / "draft.tex").write_text("mine\n")
    return folder


@pytest.mark.parametrize("make, fragments", [
    (_thesis, (".git", "no results.json of a previous alignment run")),
    (_results_without_version, ("results.json", "no results.json of a previous alignment run")),
    (_previous_output_and_a_file, ("figures/draft.tex", "which alignment did not write")),
], ids=["thesis-and-git", "results-json-without-schema-version", "previous-output-and-a-file"])
def test_run_never_replaces_a_folder_alignment_did_not_write(world, make, fragments):
    make(world)
    before = snapshot(world.root)
    one_error_line(run(world, out="thesis"), "--out thesis", *fragments)
    assert snapshot(world.root) == before


# ---- an unwritable --out fails before any work -----------------------------------------------------

@pytest.fixture
def unwritable(tmp_path) -> str:
    """An --out whose parent cannot be written: /sys for root (who ignores modes), else mode 555."""
    if os.geteuid() == 0:
        yield "/sys/alignment-hardening-test/out"
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield str(folder / "out")
    folder.chmod(0o755)


@pytest.mark.parametrize("command", ["run", "kpis"])
def test_unwritable_out_fails_before_any_statistics(world, unwritable, command):
    # The data are broken in a way only reading them shows: an error about the output, not about
    # wait_s, proves the output was checked first.
    _negative_durations(world)
    before = snapshot(world.root)
    out = unwritable if command == "run" else f"{unwritable}/panel.csv"
    result = run(world, out=out) if command == "run" else kpis(world.root, out)
    line = one_error_line(result, f"--out {out}", "cannot write in")
    assert "wait_s" not in line
    assert snapshot(world.root) == before


# ---- a failed write removes the folders it created -------------------------------------------------

FULL_DISK = """
import errno, sys
import alignment.report
def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")
alignment.report.write_report = full_disk
from alignment.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_failed_write_removes_the_parent_folders_it_created(world):
    world.set("contact_model", "false")
    before = snapshot(world.root)
    result = python(FULL_DISK, "run", "study.toml", "--out", "new/deep/results", "--quiet", cwd=world.root)
    one_error_line(result, "--out new/deep/results", "No space left on device", "nothing was written")
    assert not (world.root / "new").exists()
    assert snapshot(world.root) == before


def test_failed_kpis_write_removes_the_parent_folders_it_created(world):
    code = FULL_DISK.replace("import alignment.report\n", "import alignment.panel.result as r\n").replace(
        "alignment.report.write_report = full_disk", "r.Panel.to_csv = full_disk")
    before = snapshot(world.root)
    result = python(code, "kpis", "contacts.csv", *KPIS_ARGS, "--out", "new/deep/panel.csv", cwd=world.root)
    one_error_line(result, "--out new/deep/panel.csv", "No space left on device")
    assert snapshot(world.root) == before


# ---- one line, whatever the names -----------------------------------------------------------------

def test_study_file_name_with_a_line_break_is_one_line(world):
    one_error_line(run(world, study="no\nsuch.toml"), "no\\nsuch.toml", "not found")


def test_data_file_name_with_control_characters_is_one_line(world):
    name = "con\ntacts\x1b[31m.csv"
    os.rename(world.root / "contacts.csv", world.root / name)
    world.replace('path = "contacts.csv"', 'path = "con\\ntacts\\u001b[31m.csv"')
    world.edit(name, 2, wait_s="-3")
    line = one_error_line(run(world), "con\\ntacts\\x1b[31m.csv", "wait_s", "negative")
    assert "\x1b" not in line
    line = one_error_line(kpis(world.root, "panel.csv", contacts="gone\r\n.csv"), "gone\\r\\n.csv")
    assert "\r" not in line


@pytest.mark.parametrize("command", ["check", "catalog"])
def test_closed_stdout_pipe_ends_quietly(world, command):
    """``alignment check ... | head``: the reader goes away; no internal error, no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    try:
        done = subprocess.run([str(SCRIPT), command, *(["study.toml"] if command == "check" else [])],
                              cwd=world.root, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


# ---- a study full of hostile names -----------------------------------------------------------------

HOSTILE_QUEUES = {"billing": "[x](javascript:alert(1))",
                  "orders": "<script>alert(1)</script> ![](http://evil.example/p.png)",
                  "tech_support": '=HYPERLINK("http://evil.example")'}
DOLLAR_KPI = "fee$^$\u4e2d"  # mathtext that does not parse, and a glyph DejaVu Sans lacks (a UserWarning)

KILLED_WRITER = """
import os, signal, sys
from alignment.io import atomic_directory
with atomic_directory(sys.argv[1]) as tmp:
    (tmp / "results.json").write_text("{")
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, simulated):
    """A study whose queue names, KPI name and study name are hostile, run once with --report-format md
    --quiet into an --out that holds a previous output, beside the debris of a killed write and
    decoys that look like it but are not ours."""
    root = tmp_path_factory.mktemp("hostile")
    for name in DATA_FILES:
        shutil.copyfile(simulated / name, root / name)
    w = World(root)
    w.write_toml(BASE_TOML)
    w.set("contact_model", "false")
    w.set("name", '"[click](http://phish.example) *now*"')
    w.set("kpis", f'["service_level", "asa", "aht", "email_backlog", "{DOLLAR_KPI}"]')
    for name in ("contacts.csv", "backlog.csv"):
        frame = w.read(name)
        frame["queue"] = frame["queue"].map(HOSTILE_QUEUES)
        if name == "backlog.csv":
            frame[DOLLAR_KPI] = (pd.to_numeric(frame["email_backlog"]) * 0.3
                                 + pd.Series(range(len(frame))) % 7).round(2).astype(str)
        w.save(name, frame)
    previous = root / "out"
    (previous / "figures").mkdir(parents=True)
    (previous / "results.json").write_text('{\n  "schema_version": 2,\n  "previous": true\n}\n')
    (previous / "figures" / "old.svg").write_text("<svg/>\n")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, "out"], cwd=root, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    debris = [p.name for p in root.iterdir() if p.name.startswith(".out.") and p.name.endswith(".part")]
    assert len(debris) == 1 and (root / debris[0] / ".alignment-part").is_file()
    decoys = {".out.abcdefgh.part": "a folder with our name but no marker",
              ".out.zzzzzzzz.part": None,  # a file with our name
              ".other.abcdefgh.part": "a marker of a dead writer, for another target"}
    for name, text in decoys.items():
        if text is None:
            (root / name).write_text("not a folder\n")
        else:
            (root / name).mkdir()
            (root / name / "keep.txt").write_text(text + "\n")
    shutil.copyfile(root / debris[0] / ".alignment-part", root / ".other.abcdefgh.part" / ".alignment-part")
    result = run(w, args=("--report-format", "md"))
    return {"root": root, "result": result, "debris": debris[0], "decoys": decoys}


def _ok(hostile) -> Path:
    result = hostile["result"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return hostile["root"] / "out"


def test_dollar_in_a_kpi_name_is_drawn_as_plain_text(hostile):
    out = _ok(hostile)
    assert (out / "figures" / "importance.svg").exists() and (out / "figures" / "heatmap.svg").exists()
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert DOLLAR_KPI in [d["name"] for d in doc["drivers"]]
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")


def test_quiet_keeps_library_warnings_off_stderr(hostile):
    _ok(hostile)
    stderr = hostile["result"].stderr
    assert "UserWarning" not in stderr and "matplotlib" not in stderr and "Glyph" not in stderr, stderr


def test_run_replaces_a_previous_output_and_cleans_a_killed_write(hostile):
    out = _ok(hostile)
    root = hostile["root"]
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert "figures/old.svg" not in names and "results.json" in names
    assert not [n for n in names if Path(n).name.startswith(".")]
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["schema_version"] == 2
    assert not (root / hostile["debris"]).exists(), "the killed write's folder is still there"
    hidden = sorted(p.name for p in root.iterdir() if p.name.startswith("."))
    assert hidden == sorted(hostile["decoys"]), "a folder that is not ours was removed, or debris was left"
    assert (root / ".out.abcdefgh.part" / "keep.txt").exists()
    assert (root / ".other.abcdefgh.part" / "keep.txt").exists()


def test_panel_csv_of_a_run_neutralises_formulas(hostile):
    out = _ok(hostile)
    panel = pd.read_csv(out / "panel.csv", dtype=str, keep_default_na=False)
    assert set(panel["queue"]) == {HOSTILE_QUEUES["billing"], HOSTILE_QUEUES["orders"],
                                   "'" + HOSTILE_QUEUES["tech_support"]}


def test_report_md_escapes_names_from_the_data(hostile):
    out = _ok(hostile)
    md = (out / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"(?<!\\)\]\(([^)]*)", md)  # every live link or image: only the report's figures
    assert links and all(target.startswith("figures/") for target in links), links
    for live in ("<script", "*now*", "http://evil", "http://phish", "$^$"):
        assert live not in md, live
    assert "\\[x\\](javascript:alert(1))" in md and "&lt;script&gt;" in md
    assert md.startswith("# \\[click\\](http\\://phish.example) \\*now\\*: what drives CSAT")
    assert "fee\\$^\\$" in md
    # the report's own figure links stay links
    assert "![Figure 1](figures/importance.svg)" in md


def test_report_html_escapes_names_from_the_data(hostile):
    out = _ok(hostile)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and 'href="javascript' not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---- CSV injection in kpis' panel.csv ---------------------------------------------------------------

KILLED_FILE_WRITER = """
import os, signal, sys
from alignment.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("period,queue")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kpis_panel_csv_neutralises_formulas_but_not_numbers(world):
    """Also: the next kpis to panel.csv removes what a killed kpis left beside it."""
    killed = subprocess.run([sys.executable, "-c", KILLED_FILE_WRITER, "panel.csv"], cwd=world.root)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in world.root.glob(".panel.csv.*.part")]
    queues = {"billing": "=1+2", "orders": "@SUM(A1:A9)", "tech_support": "-2+3"}
    for name in ("contacts.csv", "backlog.csv"):
        frame = world.read(name)
        frame["queue"] = frame["queue"].map(queues)
        if name == "backlog.csv":
            frame["+delta"] = (pd.to_numeric(frame["email_backlog"]) - 300).astype(str)  # negatives too
        world.save(name, frame)
    result = kpis(world.root, "panel.csv")
    assert result.returncode == 0, result.stderr
    raw = (world.root / "panel.csv").read_text(encoding="utf-8")
    panel = pd.read_csv(world.root / "panel.csv", dtype=str, keep_default_na=False)
    assert set(panel["queue"]) == {"'=1+2", "'@SUM(A1:A9)", "'-2+3"}
    assert "'+delta" in panel.columns
    delta = pd.to_numeric(panel["'+delta"])
    assert (delta < 0).any() and not panel["'+delta"].str.startswith("'").any()
    number = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
    cells = panel.stack()
    live = cells[cells.str.match(r"[=+\-@]") & ~cells.str.fullmatch(number)]
    assert live.empty, live
    assert "=1+2" in raw and "\n=1+2" not in raw and ",=1+2" not in raw
    assert not [p.name for p in world.root.iterdir() if p.name.startswith(".")]


KILLED_BETWEEN_MOVES = """
import os, signal, sys
import alignment.io
real = os.replace
def replace(source, target):
    real(source, target)
    if str(target).endswith("previous"):  # the previous output moved aside, the new one not yet in
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
with alignment.io.atomic_directory(sys.argv[1]) as tmp:
    (tmp / "results.json").write_text("{}")
"""


def test_a_write_killed_between_its_two_moves_puts_the_previous_output_back(tmp_path):
    """The one moment a killed write leaves no DIR: the next write restores it before it starts
    (here the writer's own clean-up, called as the next run calls it)."""
    from alignment.io import clean_debris
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text('{"schema_version": 2}\n')
    killed = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_MOVES, "out"], cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL and not out.exists()
    assert len(clean_debris(out)) == 2  # the .old folder holding the previous output, and the .part
    assert (out / "results.json").read_text() == '{"schema_version": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
