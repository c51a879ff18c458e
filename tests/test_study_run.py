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
    simulate(folder, seed=11, days=364, queues=3, wait_effect="contact")
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
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert list(doc) == ["schema_version", "study", "data", "drivers", "families", "correlations", "models",
                         "contact_model", "warnings"]
    assert doc["study"]["seed"] == 5 and doc["study"]["max_lag"] == 1 and doc["study"]["holdout_start"]
    assert doc["data"]["n_segments"] == 3 and doc["data"]["n_contacts"] > 0
    names = [d["name"] for d in doc["drivers"]]
    assert sorted(names) == sorted(["asa", "fcr", "aht", "email_backlog", "marketing_spend"])
    assert doc["study"]["effects"] == "twoway" and doc["study"]["weights"] == "responses"
    spend = next(d for d in doc["drivers"] if d["name"] == "marketing_spend")
    assert spend["evidence"] == "time_series" and spend["effect"] is not None
    # the surveys link to their contacts: the contact-level model is on by default, and its measures
    # (own wait, handle time, resolution) are the evidence of their KPIs
    evidence = {d["name"]: d["evidence"] for d in doc["drivers"]}
    assert evidence == {"asa": "contact", "fcr": "contact", "aht": "contact", "email_backlog": "panel",
                        "marketing_spend": "time_series"}
    assert doc["contact_model"]["clustering"] == "queue x period" and doc["study"]["contact_model"] is True
    check_schema_2(doc)
    assert any(d["rank"] == 1 for d in doc["drivers"])                 # something was validated here
    row = doc["correlations"][0]
    assert list(row)[:12] == ["kpi", "outcome", "lag", "method", "scope", "segment", "n", "n_effective", "r", "ci_low",
                              "ci_high", "p_value"]
    assert (first / "panel.csv").exists() and (first / "figures" / "importance.svg").exists()
    other = tmp_path / "c"
    assert run("run", world / "csat.toml", "--out", other, "--seed", "6", "--quiet", cwd=world).returncode == 0
    assert strict_json(other / "results.json")["study"]["seed"] == 6


DRIVER_KEYS = {"name", "rank", "tier", "lag", "sign", "importance", "importance_ci", "rank_ci", "effect",
               "effect_ci", "effect_unit", "effect_phrase", "effect_source", "effect_marginal", "effect_marginal_ci",
               "p_value",
               "verdict", "verdict_p", "verdict_p_adjusted", "family", "proxy_of", "evidence", "reasons", "checks",
               "threshold", "threshold_ci", "by_segment", "by_segment_unit", "heterogeneity_p"}


def check_schema_2(doc):
    """The promises of results.json schema 2 (README): ranked means validated, validated means
    confirmed out of time, ranked drivers first, proxies never ranked."""
    ranks = [d["rank"] for d in doc["drivers"]]
    ranked = [r for r in ranks if r is not None]
    assert ranks[:len(ranked)] == ranked == sorted(ranked)             # validated drivers first, by rank
    for d in doc["drivers"]:
        assert DRIVER_KEYS <= set(d), DRIVER_KEYS - set(d)
        assert "p_adjusted" not in d
        assert d["verdict"] in ("validated", "not_validated", "inconclusive") and d["reasons"]
        if d["rank"] is not None:
            assert d["verdict"] == "validated" and d["tier"] is not None
        if d["verdict"] == "validated":
            assert d["rank"] is not None and d["verdict_p_adjusted"] < 0.05
            if d["evidence"] == "panel":
                assert d["effect_source"] == "joint model of the validated drivers"
            if d["evidence"] == "contact":
                assert d["effect_source"] == "contact-level model" and d["checks"]["contact"]["status"] == "pass"
            assert "pass" in (d["checks"]["holdout"]["status"], d["checks"]["intervention"]["status"])
        if d["proxy_of"] is not None:
            assert d["rank"] is None and d["verdict"] != "validated" and d["family"]
    for f in doc["families"]:
        assert {"name", "members", "verdict", "importance", "importance_ci", "carried_by"} <= set(f)


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
    (out / "figures").mkdir(parents=True)
    (out / "results.json").write_text('{"schema_version": 2}\n')   # a previous output: replaceable
    (out / "figures" / "old.svg").write_text("<svg/>")
    broken = world / "broken.toml"
    broken.write_text(STUDY.format(outcome="csat").replace('max_lag = 1', 'max_lag = "1"'))
    assert run("run", broken, "--out", out, cwd=world).returncode == 2
    assert (out / "figures" / "old.svg").read_text() == "<svg/>"
    assert run("run", world / "csat.toml", "--out", out, "--quiet", cwd=world).returncode == 0
    assert not (out / "figures" / "old.svg").exists() and (out / "results.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_demo_puts_validated_drivers_first_everywhere(tmp_path):
    """`alignment demo`: its first printed driver, the report's first table row and the first bar of
    figure 1 are validated drivers, and results.json keeps the schema 2 promises."""
    from alignment import plot
    from alignment.cli import demo_study_path
    from alignment.report.context import driver_rows
    out = tmp_path / "demo"
    done = subprocess.run([str(SCRIPT), "demo", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = strict_json(out / "results.json")
    check_schema_2(doc)
    by_name = {d["name"]: d for d in doc["drivers"]}
    first = next(line for line in done.stdout.splitlines() if line.strip().startswith("1. "))
    name = first.strip().split()[1]
    assert by_name[name]["verdict"] == "validated" and by_name[name]["rank"] == 1
    assert "(validated" in first
    # every KPI of the study is printed once, with its verdict
    printed = [line.strip() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()
               or line.strip().startswith("-  ")]
    assert len(printed) == len(doc["drivers"])
    for d in doc["drivers"]:
        line = next(x for x in printed if x.split()[1] == d["name"])
        assert d["verdict"].replace("_", " ") in line
    result = load_study(demo_study_path()).run()
    assert driver_rows(result)[0]["verdict"] == "validated"
    import matplotlib
    matplotlib.use("Agg")
    ax = plot.importance(result)
    bars = [t.get_text() for t in ax.get_yticklabels()]
    # the bars carry plain names ("e-mail backlog"): map each unit's plain name back to its verdict
    verdict_of = {**{plot._name(result, d["name"]): d["verdict"] for d in doc["drivers"]},
                  **{plot._name(result, f["name"]): f["verdict"] for f in doc["families"]}}
    assert bars and all(verdict_of[b] == "validated" for b in bars)
    assert by_name["marketing_spend"]["rank"] is None                   # the trend trap is never ranked


def test_a_validated_kpi_without_an_effect_of_its_own_given_the_others_is_not_ranked():
    """b is a noisy copy of the real driver a: both pass validation alone, but given a, b's joint
    effect is nil, so b leaves the joint model, is inconclusive and names a as what it moves with."""
    import numpy as np
    import pandas as pd
    from types import SimpleNamespace
    from alignment.study.run import _carried
    from alignment.validation import Thresholds
    rng = np.random.default_rng(3)
    T, periods = 80, pd.date_range("2024-01-01", periods=80, freq="W-MON")
    rows = []
    for q in range(5):
        a = np.cumsum(rng.normal(size=T)) * 0.3 + rng.normal(size=T)
        c = rng.normal(size=T)
        rows.append(pd.DataFrame({"period": periods, "queue": f"q{q}", "a": a, "b": a + rng.normal(scale=0.3, size=T),
                                  "c": c, "csat": 70 + 2 * a + 1.5 * c + rng.normal(size=T)}))
    df = pd.concat(rows, ignore_index=True)
    study = SimpleNamespace(outcome="csat", weights="none", calendar=None, validation=Thresholds(), units=None,
                            by=("queue",), grain="week")
    verdicts = pd.DataFrame({"verdict": ["validated"] * 3, "proxy_of": [None] * 3, "reasons": [["ok"]] * 3},
                            index=pd.Index(["a", "b", "c"], name="kpi"))
    kept, joint = _carried(df, study, ["a", "b", "c"], {"a": 0, "b": 0, "c": 0}, "twoway", verdicts)
    assert kept == ["a", "c"] and [e["kpi"] for e in joint["effects"]] == ["a", "c"]
    assert verdicts.loc["b", "verdict"] == "inconclusive" and verdicts.loc["b", "proxy_of"] == "a"
    assert "indistinguishable from zero" in verdicts.loc["b", "reasons"][0]
    assert abs(joint["effects"][0]["coef"] - 2) < 0.3                  # the planted effect, quoted jointly
