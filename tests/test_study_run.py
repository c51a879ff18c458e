"""Study.run and `alignment run`: results.json contract, determinism, the sign convention."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alignment.simulate import simulate
from alignment.study import SCHEMA_VERSION, load_study
from conftest import STUDY

SCRIPT = Path(sys.executable).with_name("alignment")




@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=11, days=210, queues=3)
    for outcome in ("csat", "ces"):
        (folder / f"{outcome}.toml").write_text(STUDY.format(outcome=outcome))
    return folder


def run(*args, cwd):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"{constant} in results.json")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def test_run_writes_the_documented_results_and_is_byte_identical(world, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert run("run", world / "csat.toml", "--out", first, "--quiet", cwd=world).returncode == 0
    assert run("run", world / "csat.toml", "--out", second, "--quiet", cwd=world).returncode == 0
    assert (first / "results.json").read_bytes() == (second / "results.json").read_bytes()
    doc = strict_json(first / "results.json")
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert list(doc) == ["schema_version", "study", "data", "drivers", "correlations", "models", "warnings"]
    assert doc["study"]["seed"] == 5 and doc["study"]["max_lag"] == 1 and doc["study"]["holdout_start"]
    assert doc["data"]["n_segments"] == 3 and doc["data"]["n_contacts"] > 0
    names = [d["name"] for d in doc["drivers"]]
    assert sorted(names) == sorted(["asa", "fcr", "aht", "email_backlog", "marketing_spend"])
    # with 3 queues the default effects are two-way: marketing_spend is centre-wide, so period
    # effects absorb it; it keeps its effect and verdict from its time variation, but no rank
    assert doc["study"]["effects"] == "twoway" and doc["study"]["weights"] == "responses"
    assert [d["rank"] for d in doc["drivers"]] == [1, 2, 3, 4, None]
    spend = next(d for d in doc["drivers"] if d["name"] == "marketing_spend")
    assert spend["rank"] is None and spend["evidence"] == "time_series" and spend["effect"] is not None
    assert {d["evidence"] for d in doc["drivers"] if d["name"] != "marketing_spend"} == {"panel"}
    for d in doc["drivers"]:
        assert {"name", "rank", "lag", "sign", "importance", "importance_ci", "effect", "effect_ci", "effect_unit",
                "p_value", "p_adjusted", "verdict", "reasons", "checks"} <= set(d)
        assert d["verdict"] in ("validated", "not_validated", "inconclusive") and d["reasons"]
        assert set(d["checks"]) >= {"holdout", "stability", "trend", "within_segment", "placebo", "lag"}
    row = doc["correlations"][0]
    assert list(row)[:12] == ["x", "y", "lag", "method", "scope", "segment", "n", "n_effective", "r", "ci_low",
                              "ci_high", "p_value"]
    assert (first / "panel.csv").exists() and (first / "figures" / "importance.svg").exists()
    other = tmp_path / "c"
    assert run("run", world / "csat.toml", "--out", other, "--seed", "6", "--quiet", cwd=world).returncode == 0
    assert strict_json(other / "results.json")["study"]["seed"] == 6


def test_sign_means_better_experience_whatever_the_scale_direction(world):
    csat = {d["name"]: d for d in load_study(world / "csat.toml").run().to_dict()["drivers"]}
    ces = {d["name"]: d for d in load_study(world / "ces.toml").run().to_dict()["drivers"]}
    # longer waits make the experience worse: lower CSAT, higher (worse) effort
    assert csat["asa"]["sign"] == -1 and ces["asa"]["sign"] == -1
    assert csat["asa"]["effect"] < 0 < ces["asa"]["effect"]
    assert csat["fcr"]["sign"] == ces["fcr"]["sign"] == 1


def test_check_validates_without_statistics(world):
    result = run("check", world / "csat.toml", cwd=world)
    assert result.returncode == 0 and "OK" in result.stdout and "KPI panel" in result.stdout


def test_run_replaces_an_existing_output_only_on_success(world, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    broken = world / "broken.toml"
    broken.write_text(STUDY.format(outcome="csat").replace('max_lag = 1', 'max_lag = "1"'))
    assert run("run", broken, "--out", out, cwd=world).returncode == 2
    assert (out / "keep.txt").read_text() == "old"
    assert run("run", world / "csat.toml", "--out", out, "--quiet", cwd=world).returncode == 0
    assert not (out / "keep.txt").exists() and (out / "results.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
