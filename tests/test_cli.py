"""The command line: --help everywhere, exit codes 0/1/2, one line on a user mistake, no partial output."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from alignment import cli

SCRIPT = Path(sys.executable).with_name("alignment")


def run(*args, cwd=None):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def contacts(tmp_path):
    path = tmp_path / "contacts.csv"
    pd.DataFrame({
        "contact_id": ["a", "b", "c"], "queue": ["q1", "q1", "q2"], "channel": "voice",
        "arrived_at": ["2025-01-06T09:00:00Z", "2025-01-07T09:00:00Z", "2025-01-08T09:00:00Z"],
        "answered": [True, False, True], "abandoned": [False, True, False], "wait_s": [10, 40, 25],
        "handle_s": [100, None, 200], "transferred": [False, None, True], "resolved": [True, None, False],
    }).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", [[], ["kpis"], ["catalog"], ["simulate"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: alignment" in result.stdout


def test_catalog_lists_and_describes():
    listing = run("catalog")
    assert listing.returncode == 0 and "service_level[offered]" in listing.stdout
    one = run("catalog", "interaction_quality_score")
    assert one.returncode == 0 and "band excellent: 80 to 100" in one.stdout


def test_user_mistakes_exit_2_with_one_line():
    for args in (["catalog", "sla"], ["kpis"], ["frobnicate"], ["kpis", "missing.csv", "--out", "x.csv"]):
        result = run(*args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("alignment: error:"), result.stderr
        assert "Traceback" not in result.stderr


def test_kpis_writes_the_panel(tmp_path, contacts):
    out = tmp_path / "out" / "panel.csv"
    result = run("kpis", contacts, "--grain", "week", "--by", "queue", "--timezone", "UTC", "--out", out)
    assert result.returncode == 0, result.stderr
    panel = pd.read_csv(out)
    assert list(panel["queue"]) == ["q1", "q2"]
    # q1: one answered within 20 s of two offered -> 50 %
    assert panel.loc[panel["queue"] == "q1", "service_level"].item() == 50.0
    assert "KPI panel: week grain" in result.stdout


def test_failed_run_writes_nothing_and_keeps_old_output(tmp_path, contacts):
    out = tmp_path / "panel.csv"
    out.write_text("previous\n")
    result = run("kpis", contacts, "--grain", "fortnight", "--out", out)
    assert result.returncode == 2 and "'grain'" in result.stderr
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv", "panel.csv"]


def test_internal_error_exits_1(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "cmd_catalog", boom)
    assert cli.main(["catalog"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("alignment: internal error: RuntimeError: a bug") and err.count("\n") == 1


def test_report_format_has_its_own_name(tmp_path):
    """--report-format is the report's format in run and demo; --format (its former name) still
    parses there; kpis --format stays the contacts' input format; run --help says what it writes."""
    from alignment.cli import parser
    p = parser()
    assert p.parse_args(["run", "s.toml", "--out", "o"]).report_format == "html"
    assert p.parse_args(["run", "s.toml", "--out", "o", "--report-format", "md"]).report_format == "md"
    assert p.parse_args(["run", "s.toml", "--out", "o", "--format", "md"]).report_format == "md"
    assert p.parse_args(["demo", "--report-format", "md"]).report_format == "md"
    assert p.parse_args(["kpis", "c.csv", "--out", "p.csv", "--format", "technion-anonymous-bank"]).format \
        == "technion-anonymous-bank"
    text = run("run", "--help").stdout
    for name in ("results.json", "drivers.csv", "drivers.xlsx", "panel.csv", "report.html", "report.md",
                 "--report-format"):
        assert name in text
