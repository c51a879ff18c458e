"""The report's "Business impact" section and the levers' worth in customers kept, checked against
hand computation from the result's own fields; results.json's ``business_impact`` against the README."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import STUDY

from alignment.report import render_html, render_markdown
from alignment.simulate import simulate
from alignment.study import load_study

README = Path(__file__).resolve().parents[1] / "README.md"
NESTED = ("cx_effect", "value_per_cx_point", "cox", "mediation", "what_if")


DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("churn_world")
    simulate(folder, seed=11, days=364, queues=3, churn="cx", wait_effect="contact")
    return folder


@pytest.fixture(scope="module")
def result(world):
    folder = world
    (folder / "study.toml").write_text(STUDY.format(outcome="csat") + '\n[data.customers]\npath = "customers.csv"\n'
                                       'value = "annual_revenue"\n')
    return load_study(folder / "study.toml").run(progress=False)


@pytest.fixture(scope="module")
def page(result):
    return render_html(result)


def _section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}"')
    return page[start:page.index("</section>", start)]


def _n(x) -> str:
    return f"{x:,.0f}".replace(",", " ")


def test_section_gives_the_effect_and_the_value_of_a_point_computed_by_hand(result, page):
    bi = result.business_impact
    text = _section(page, "business-impact")
    e, v = bi.cx_effect, bi.value_per_cx_point
    assert f"by {e['estimate']:+.2g} percentage points (95 % interval {e['ci'][0]:+.2g} to {e['ci'][1]:+.2g})" in text
    assert f"{_n(bi.n_contacts)} surveyed contacts of {_n(bi.n_customers)} customers" in text
    # the value of a point by hand: minus the change in the chance of leaving x customers a year x mean value
    worth = -e["estimate"] / 100 * v["customers_per_year"] * v["value_per_customer"]
    assert worth == pytest.approx(v["estimate"], rel=1e-12) and worth > 0
    assert f"worth about {_n(worth)} of annual revenue a year" in text
    assert f"(95 % interval {_n(v['ci'][0])} to {_n(v['ci'][1])})" in text
    assert v["ci"][0] < worth < v["ci"][1]
    # the Cox model's hazard ratio as a change in the rate of leaving
    assert f"by {100 * (bi.cox['hazard_ratio'] - 1):+.2g} %" in text
    assert f"The {_n(bi.n_censored)} surveyed contacts less than 90 days before the data end" in text
    assert "noisy measure" in text and "if the association is causal" in text.lower()
    # plain words: no raw column names or arrows
    assert "annual_revenue" not in text and "csat point" not in text and "->" not in text


def test_each_what_if_chain_is_in_plain_words_with_its_intervals(result, page):
    bi = result.business_impact
    text = _section(page, "business-impact")
    scale = bi.value_per_cx_point["customers_per_year"] * bi.value_per_cx_point["value_per_customer"] / 100
    assert len(bi.what_if) >= 2
    for w in bi.what_if:
        row = bi.mediation.set_index("variable").loc[w["variable"]]
        better = -1.0 if w["variable"] in ("wait_s", "handle_s", "transferred") else 1.0
        # the chain's churn change is the mediation's indirect effect of an improvement, its value that times the scale
        assert w["churn_change_pp"] == pytest.approx(better * row["indirect"], rel=1e-12)
        assert w["value_kept"] == pytest.approx(-w["churn_change_pp"] * scale, rel=1e-12)
        lo, hi = w["churn_change_ci"]
        assert lo <= w["churn_change_pp"] <= hi
        assert (f"{w['cx_change']:+.2g} CSAT points (95 % interval {w['cx_change_ci'][0]:+.2g} to "
                f"{w['cx_change_ci'][1]:+.2g}), so {w['churn_change_pp']:+.2g} percentage points") in text
        assert f"about {_n(w['value_kept'])} of annual revenue a year kept" in text


def test_each_lever_says_what_moving_it_is_worth_in_customers_kept(result, page):
    bi = result.business_impact
    chained = {w["kpi"]: w for w in bi.what_if}
    levers = _section(page, "levers")
    cards = re.findall(r'<li class="lever".*?</li>', levers, flags=re.S)
    validated = [d for d in result.to_dict()["drivers"] if d["verdict"] == "validated" and not d.get("proxy_of")]
    assert len(cards) == len(validated) and any(d["name"] in chained for d in validated)
    for d, card in zip(sorted(validated, key=lambda d: d["rank"]), cards):
        if d["name"] in chained:
            assert "Customers kept" in card and f"about {_n(chained[d['name']]['value_kept'])} of annual revenue" in card
        else:                         # no contact measure speaks for it: no chain, nothing said
            assert "Customers kept" not in card


def test_markdown_carries_the_same_section(result):
    md = render_markdown(result)
    part = md[md.index("## Business impact"):md.index("## Driver table")]
    for line in result.business_impact.lines(cx_label="CSAT"):
        assert line.split(" (")[0].replace("_", "\\_") in part
    assert "**Customers kept:**" in md


def test_without_customers_the_section_is_left_out(result):
    bare = dataclasses.replace(result, business_impact=None)
    page, md = render_html(bare), render_markdown(bare)
    assert 'id="business-impact"' not in page and "Customers kept" not in page
    assert "## Business impact" not in md and "Customers kept" not in md


def _documented_fields() -> dict[str, set]:
    """The README's table of results.json's ``business_impact``: field -> the subfields it documents."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Business impact"):]
    table = section[section.index("**results.json.**"):]
    table = table[table.index("| field |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        field, meaning = [c.strip() for c in line.strip("|").split("|")[:2]]
        names = lambda cell: {n.strip() for code in re.findall(r"`([^`]+)`", cell)  # noqa: E731
                              for n in code.split(",") if re.fullmatch(r"\s*[a-z_]+\s*", n)}
        subs = names(meaning)
        for f in names(field.replace("[]", "")):
            rows[f] = subs
    return rows


def test_business_impact_in_results_json_has_exactly_the_documented_fields(result, tmp_path):
    documented = _documented_fields()
    result.to_json(tmp_path / "results.json")
    d = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["business_impact"]
    assert d == json.loads(json.dumps(result.to_dict()["business_impact"]))
    assert set(d) == set(documented)
    for field in NESTED:
        items = d[field] if isinstance(d[field], list) else [d[field]]
        assert items and all(item is not None for item in items), field
        for item in items:
            assert set(item) == documented[field], field


def test_the_demo_second_study_is_built_on_the_cis_and_the_demo_is_unchanged():
    study = load_study(DEMO / "study_cis.toml")
    cis = next(m for m in study.survey_metrics if m.name == "cis")
    assert study.outcome == "cis" and cis.weights == {"csat": 0.5, "nps": 0.3, "ces": 0.2}
    assert study.customers.value == "annual_revenue" and str(DEMO / "customers.csv") in study.inputs()
    assert load_study(DEMO / "study.toml").customers is None      # `alignment demo` links nothing


def test_the_bundled_customers_are_the_simulators_from_the_demo_seed(tmp_path):
    simulate(tmp_path, seed=2028, incidents=False, weekday_mood=False, wait_effect="contact", churn="cx")
    assert (tmp_path / "customers.csv").read_bytes() == (DEMO / "customers.csv").read_bytes()
    for name in ("contacts.csv", "surveys.csv"):           # churn on leaves the demo's other files as they are
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
    truth = json.loads((tmp_path / "truth.json").read_text())["business_impact"]
    assert json.loads((DEMO / "truth.json").read_text())["business_impact"] == truth
