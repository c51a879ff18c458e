"""drivers.csv and drivers.xlsx beside results.json: the drivers, flat, and safe to open.

The references are results.json itself (written by the same run) and the mapping the README
documents, re-stated here by hand: each interval ``X_ci`` is ``X_ci_low``/``X_ci_high`` (the
effect's ``ci_low``/``ci_high``), reasons one per line, checks ``check_NAME`` (status),
``check_NAME_reason`` and ``check_NAME_p_value``.
"""

import csv
import json
import math
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from alignment.simulate import simulate
from alignment.study import load_study
from alignment.study.result import not_an_output
from conftest import STUDY

openpyxl = pytest.importorskip("openpyxl")

FORMULA_KPI = "=2+3"   # an extra-source column that a spreadsheet would run as a formula
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=11, days=182, queues=3)
    backlog = pd.read_csv(folder / "backlog.csv").rename(columns={"email_backlog": FORMULA_KPI})
    backlog.to_csv(folder / "backlog_formula.csv", index=False)
    study = (STUDY.format(outcome="csat").replace("n_boot = 60", "n_boot = 20\ncontact_model = false")
             .replace('"email_backlog"', json.dumps(FORMULA_KPI)).replace('"backlog.csv"', '"backlog_formula.csv"'))
    (folder / "study.toml").write_text(study)
    steps = []
    result = load_study(folder / "study.toml").run(progress=steps.append)
    target = folder / "out"
    result.write(target)
    (target.parent / "steps.json").write_text(json.dumps(steps))
    return target


def inert(text: str) -> str:
    """What the README promises for a text cell: a leading ' when a spreadsheet would run it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.fullmatch(text) else text


def expected_cells(driver: dict) -> dict:
    """The flat cells of one results.json driver, by the documented mapping."""
    cells = {}
    for key, value in driver.items():
        if key == "name":
            cells["kpi"] = value
        elif key == "reasons":
            cells["reasons"] = "\n".join(value)
        elif key == "checks":
            for name, check in value.items():
                cells[f"check_{name}"] = check["status"]
                cells[f"check_{name}_reason"] = check["reason"]
                if "p_value" in check:
                    cells[f"check_{name}_p_value"] = check["p_value"]
        elif key == "by_segment":   # one cell: the rows as JSON text (null when not estimated)
            cells[key] = None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
        elif key == "effect_ci":
            cells["ci_low"], cells["ci_high"] = value
        elif key.endswith("_ci"):
            cells[f"{key}_low"], cells[f"{key}_high"] = value
        else:
            assert not isinstance(value, (list, dict)), f"drivers[].{key} is nested: the test needs its mapping"
            cells[key] = value
    return cells


def same(cell: str, value) -> bool:
    """A CSV cell (text) against a results.json value."""
    if value is None:
        return cell == ""
    if isinstance(value, bool):
        return cell == str(value)
    if isinstance(value, (int, float)):
        return cell != "" and math.isclose(float(cell), value, rel_tol=1e-15, abs_tol=0)
    return cell == inert(value)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_drivers_csv_holds_every_field_of_results_json(out):
    drivers = json.loads((out / "results.json").read_text())["drivers"]
    header, *rows = read_csv(out / "drivers.csv")
    assert len(rows) == len(drivers) and len(set(header)) == len(header)
    assert header[:8] == ["kpi", "verdict", "rank", "tier", "lag", "effect", "ci_low", "ci_high"]
    for driver, row in zip(drivers, rows):
        cells = dict(zip(header, row))
        expected = expected_cells(driver)
        missing = sorted(set(expected) - set(cells))
        assert not missing, f"{driver['name']}: no column for {missing}"
        wrong = {k: (cells[k], v) for k, v in expected.items() if not same(cells[k], v)}
        assert not wrong, f"{driver['name']}: {wrong}"
        # a check a driver lacks (none here) would be empty; a p-value column only where checks have one
        extra = set(cells) - set(expected)
        assert all(cells[c] == "" for c in extra), {c: cells[c] for c in extra if cells[c]}
    validated = [r for r in rows if r[1] == "validated"]
    assert validated and all(r[2].isdigit() for r in validated)   # ranks as 1, 2, not 1.0


def test_drivers_xlsx_equals_the_csv_and_holds_no_formula(out):
    header, *rows = read_csv(out / "drivers.csv")
    book = openpyxl.load_workbook(out / "drivers.xlsx")
    assert book.sheetnames == ["drivers"]
    sheet = book["drivers"]
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]] == header and len(cells) == len(rows) + 1
    for csv_row, xlsx_row in zip(rows, cells[1:]):
        for text, cell in zip(csv_row, xlsx_row):
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            if text == "":
                assert cell.value is None, cell.coordinate
            elif isinstance(cell.value, str):
                assert cell.data_type == "s" and cell.value == text, cell.coordinate
            else:   # numbers stay numbers in the workbook
                assert math.isclose(float(text), cell.value, rel_tol=1e-15), cell.coordinate


def test_a_kpi_named_like_a_formula_comes_out_inert(out):
    header, *rows = read_csv(out / "drivers.csv")
    kpis = [r[0] for r in rows]
    assert "'" + FORMULA_KPI in kpis and FORMULA_KPI not in kpis
    # no text cell anywhere starts a formula, in either file
    texts = [t for r in rows for t in r if t] + header
    assert not [t for t in texts if t[:1] in "=+-@" and not NUMBER.fullmatch(t)]
    sheet = openpyxl.load_workbook(out / "drivers.xlsx")["drivers"]
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "'" + FORMULA_KPI in values
    assert not [v for v in values if v[:1] in "=+-@" and not NUMBER.fullmatch(v)]
    # results.json keeps the name as it is: only the spreadsheet files neutralise it
    names = [d["name"] for d in json.loads((out / "results.json").read_text())["drivers"]]
    assert FORMULA_KPI in names


def test_a_folder_with_the_exports_is_a_previous_output(out):
    assert {"drivers.csv", "drivers.xlsx", "results.json"} <= {p.name for p in Path(out).iterdir()}
    assert not_an_output(out) is None


def test_study_run_tells_a_callable_each_step(out):
    steps = json.loads((out.parent / "steps.json").read_text())
    assert steps == ["reading and checking the data", "correlating",
                     "validating each driver (lags and signs chosen on the training periods)",
                     "estimating effects", "ranking the validated drivers (20 bootstrap resamples)"]


def test_drivers_xlsx_is_the_same_bytes_for_the_same_table(out, tmp_path):
    from alignment.study.export import write_drivers_xlsx
    table = pd.read_csv(out / "drivers.csv")
    write_drivers_xlsx(table, tmp_path / "a.xlsx")
    time.sleep(1.1)             # a workbook records its save time to the second: cross one
    write_drivers_xlsx(table, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert openpyxl.load_workbook(tmp_path / "a.xlsx")["drivers"].max_row == len(table) + 1
