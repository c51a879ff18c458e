"""The manager's report: one self-contained, escaped, deterministic HTML page, its Markdown twin, the figures."""

import html
import re
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from alignment import plot  # noqa: E402
from alignment.report import render_html, render_markdown, write_report  # noqa: E402
from alignment.simulate import simulate  # noqa: E402
from alignment.study import load_study  # noqa: E402
from conftest import STUDY  # noqa: E402

HOSTILE = "<script>alert(1)</script>"

def study_text(name: str) -> str:
    """The shared small study, named ``name`` (a hostile name tests escaping)."""
    return STUDY.format(outcome="csat").replace('name = "small world"', f'name = "{name}"')



@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=11, days=364, queues=3)
    (folder / "study.toml").write_text(study_text("small world"))
    return load_study(folder / "study.toml").run()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A world whose study name and one queue name are a script tag."""
    folder = tmp_path_factory.mktemp("hostile")
    simulate(folder, seed=11, days=364, queues=3)
    for name in ("contacts.csv", "surveys.csv", "backlog.csv"):
        path = folder / name
        path.write_text(path.read_text().replace("billing", HOSTILE))
    (folder / "study.toml").write_text(study_text(HOSTILE.replace('"', '\\"')))
    return load_study(folder / "study.toml").run()


@pytest.fixture(scope="module")
def page(result):
    return render_html(result)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.scripts += tag == "script"
        self.links += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]


def test_html_parses_and_is_self_contained(page):
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert {"html", "table", "svg", "style"} <= set(parser.tags)
    assert not [u for u in parser.links if re.match(r"(https?:)?//", u)]
    assert parser.scripts == 0
    assert "<link" not in page and "@import" not in page
    assert page.count("<svg") == len(plot_functions_in_report(page))


def plot_functions_in_report(page):
    return re.findall(r'<figure id="figure-([^"]+)"', page)


def _between(page, start, end):
    text = html.unescape(page)
    return text[text.index(f'id="{start}"'):text.index(f'id="{end}"')]


def test_first_screen_names_each_lever_with_its_effect_and_reasons(result, page):
    drivers = result.drivers
    validated = drivers[(drivers["verdict"] == "validated") & drivers["proxy_of"].isna()]
    assert len(validated), "the simulated world plants validated drivers"
    first = _between(page, "headline", "drivers")
    for row in validated.itertuples():
        assert row.effect_phrase in first and row.reasons[0] in first
    import pandas as pd
    looked = pd.to_numeric(drivers["p_value"], errors="coerce") < 0.05
    for row in drivers[(drivers["verdict"] != "validated") & looked].itertuples():  # looked strong, did not hold
        assert row.reasons[0] in first


def test_levers_come_in_ranking_order_one_per_family(result, page):
    from alignment.report.first_screen import kpi_label
    d = result.drivers
    expected = d[(d["verdict"] == "validated") & d["proxy_of"].isna()].sort_values("rank")["name"].tolist()
    levers = _between(page, "levers", "drivers")
    titles = re.findall(r'<li class="lever" id="lever-\d+">\s*<h3>\d+\. ([^<]+?) <span', levers)
    assert titles == [kpi_label(result, k) for k in expected]
    for proxy in d.loc[d["proxy_of"].notna(), "name"]:               # a proxy is named under its lever only
        assert f"<h3>" not in levers.split(kpi_label(result, proxy))[0][-20:]
    refuted = _between(page, "not-held-up", "caveats") if 'id="not-held-up"' in page else ""
    for row in d[d["verdict"] == "not_validated"].itertuples():
        assert kpi_label(result, row.name) in refuted


def test_r2_is_shown_and_is_the_sum_of_the_shares(result, page):
    r2 = result.importance.r2
    assert result.importance.table["importance"].sum() == pytest.approx(r2)   # Shapley shares add up to R²
    assert f"R² = {r2:.2f}" in html.unescape(page)
    assert "explained variation" not in page                  # importance is a share of the total


def test_each_lever_says_whether_its_effect_differs_between_queues(result, page):
    """results.json carries each validated driver's effect per queue (drivers[].by_segment, the
    heterogeneity p); the lever card lists the queues only when the test rejects at alpha."""
    from alignment.report.first_screen import segment_effects_text
    doc = result.to_dict()
    alpha = result.validation.thresholds.alpha
    queues = sorted(result.panel.table["queue"].unique())
    levers = html.unescape(_between(page, "levers", "drivers"))
    for d in doc["drivers"]:
        if d["verdict"] != "validated":
            assert d["by_segment"] is None and d["heterogeneity_p"] is None
            continue
        assert [r["segment"] for r in d["by_segment"]] == queues and 0 <= d["heterogeneity_p"] <= 1
        for r in d["by_segment"]:
            assert r["ci"][0] < r["effect"] < r["ci"][1] and r["n_periods"] >= 40
        if d["proxy_of"] is None:
            words = segment_effects_text(d, ["queue"], alpha)
            assert words["text"] in levers
            assert ("similar across queues" in words["text"]) == (d["heterogeneity_p"] >= alpha)
    # where the queues differ, one row per queue with its interval, in the unit of the effect
    d = {"by_segment": [{"segment": "billing", "effect": -1.2, "ci": [-1.6, -0.8], "n_periods": 50},
                        {"segment": "sales", "effect": -0.1, "ci": [-0.5, 0.3], "n_periods": 48}],
         "by_segment_unit": "CSAT points per 10 s of ASA", "heterogeneity_p": 0.0004}
    words = segment_effects_text(d, ["queue"], 0.05, "week")
    assert words["line"] == ("differs between queues (p < 0.001), CSAT points per 10 s of ASA: billing -1.2 "
                             "[-1.6, -0.8] (50 weeks); sales -0.1 [-0.5, +0.3] (48 weeks)")


def test_passed_every_check_only_when_every_check_that_applies_passed():
    from alignment.report.first_screen import _checks_line
    checks = lambda **s: {"checks": {k: {"status": v} for k, v in s.items()}}  # noqa: E731
    assert _checks_line(checks(trend="pass", placebo="pass", lag="pass")) == "passed every check"
    line = _checks_line(checks(trend="pass", placebo="pass", holdout="not_enough_data", contact="not_applicable"))
    assert "every" not in line and line.startswith("passed 2 of the 3 checks that apply")
    assert "too little data to decide holdout" in line
    assert _checks_line(checks(trend="pass", contact="not_applicable")).startswith("passed every check that applies")


def test_target_status_by_hand():
    from alignment.report.first_screen import target_status
    # lower is better (ASA): 45 s against 30 s is 15 s short; 25 s meets it
    assert target_status(45.0, (30.0, 30.0), "s", False)["gap"] == -15.0
    assert target_status(25.0, (30.0, 30.0), "s", False)["met"] is True
    # a band (FCR 70-75 %, higher is better): below is 2.5 points short, above is on the better side
    assert target_status(67.5, (70.0, 75.0), "%", True)["gap"] == 2.5
    above = target_status(80.0, (70.0, 75.0), "%", True)
    assert above["met"] is True and "better side" in above["text"]
    assert "percentage points below" in target_status(67.5, (70.0, 75.0), "%", True)["text"]


@pytest.fixture(scope="module")
def with_targets(result):
    """The same result with targets on every validated lever: 10 % better than the latest pooled value."""
    import dataclasses
    from alignment.report.first_screen import latest
    _, pooled, _ = latest(result)
    d = result.drivers
    levers = d[(d["verdict"] == "validated") & d["proxy_of"].isna()]
    values = {r.name: float(pooled[r.name]) for r in levers.itertuples()}
    targets = {r.name: values[r.name] * (1 + 0.1 * (1 if r.sign > 0 else -1)) for r in levers.itertuples()}
    return dataclasses.replace(result, study=dataclasses.replace(result.study, targets=targets)), targets, values


def test_todays_value_is_the_last_period_pooled_from_counts(with_targets):
    from alignment.report.first_screen import fmt_value, kpi_unit, levers
    res, targets, values = with_targets
    t = res.panel.table
    last = t[t["period"] == t["period"].max()]
    by_hand = {"asa": last["wait_answered_s"].sum() / last["n_answered"].sum(),
               "fcr": 100 * last["n_resolved"].sum() / last["n_answered"].sum(),
               "aht": last["handle_answered_s"].sum() / last["n_answered"].sum()}
    shown = {lever["name"]: lever for lever in levers(res)}
    checked = [k for k in by_hand if k in shown]
    assert checked, "a contact KPI among the levers"
    for k in checked:
        assert shown[k]["value"] == fmt_value(by_hand[k], kpi_unit(res, k))
    for k, lever in shown.items():          # every lever is 10 % short of its target
        assert lever["met"] is False and lever["gap"] == pytest.approx(targets[k] - values[k], rel=1e-9)
        assert abs(lever["gap"]) == pytest.approx(0.1 * abs(values[k]))


def test_priority_matrix_places_each_lever_by_importance_and_gap(with_targets):
    from alignment.drivers.regression import natural_step
    res, targets, values = with_targets
    ax = plot.priority_matrix(res)
    xy = ax.collections[0].get_offsets()
    d = res.drivers.set_index("name")
    expected = sorted((float(d.loc[k, "importance"]), 0.1 * abs(values[k]) / natural_step(k).step)
                      for k in targets)
    import numpy as np
    np.testing.assert_allclose(np.array(sorted(map(tuple, xy.tolist()))), np.array(expected), rtol=1e-9)
    assert ax.get_xlabel().endswith("(%)") and "steps" in ax.get_ylabel()
    plt.close(ax.figure)


def test_caveats_give_the_response_rate_of_the_data(result, page):
    t = result.panel.table
    rate = t["n_surveys"].sum() / t["n_answered"].sum()
    caveats = _between(page, "caveats", "drivers")
    assert f"a response rate of {100 * rate:.0f} %" in caveats
    assert "not an experiment" in caveats and "only answered contacts" in caveats


def test_study_file_targets(tmp_path):
    from alignment.study.config import StudyError
    simulate(tmp_path, seed=3, days=35, queues=1)
    base = study_text("targets")
    (tmp_path / "s.toml").write_text(base + '\n[kpis.asa]\ntarget = 30\n\n[kpis.fcr]\ntarget = [70, 75]\n')
    assert load_study(tmp_path / "s.toml").targets == {"asa": (30.0, 30.0), "fcr": (70.0, 75.0)}
    for bad in ('"soon"', "[75, 70]", "[1, 2, 3]", "true"):
        (tmp_path / "s.toml").write_text(base + f"\n[kpis.asa]\ntarget = {bad}\n")
        with pytest.raises(StudyError, match=r"kpis\.asa\.target.*number .*band"):
            load_study(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(base + "\n[kpis.offered]\ntarget = 5\n")
    with pytest.raises(StudyError, match="not one of the study's KPIs"):
        load_study(tmp_path / "s.toml")


def test_timeline_draws_the_driver_at_its_lag(result):
    lagged = [k for k, v in result.lags.items() if v > 0 and k in result.panel.table]
    if not lagged:
        pytest.skip("no driver at a lag > 0 in this world")
    k = lagged[0]
    lag = result.lags[k]
    ax = plot.timeline(result, k)
    other = [a for a in ax.figure.axes if a is not ax][0]
    y = other.lines[0].get_ydata()
    t = result.panel.table
    periods = sorted(t["period"].unique())
    first = t[t["period"] == periods[0]]
    assert all(v != v for v in y[:lag])                       # nothing drawn before the first lagged value
    if k == "asa":
        assert y[lag] == pytest.approx(first["wait_answered_s"].sum() / first["n_answered"].sum())
    plt.close(ax.figure)


def test_figure_axes_have_units(result):
    ax = plot.scatter(result, "asa")
    assert "(s" in ax.get_xlabel() and "(%" in ax.get_ylabel()
    plt.close(ax.figure)
    ax = plot.timeline(result, "asa")
    assert "(%)" in ax.get_ylabel() and "(s)" in ax.figure.axes[1].get_ylabel() and ax.get_xlabel()
    plt.close(ax.figure)


def test_pdf_needs_chromium_and_says_how_to_install_it(result, tmp_path, monkeypatch):
    import shutil
    from alignment.exceptions import OptionError
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(OptionError, match="apt-get install chromium"):
        write_report(result, tmp_path, formats=("pdf",))
    assert not list(tmp_path.iterdir())                      # refused before writing anything


def test_cli_refuses_pdf_without_chromium_before_running(tmp_path, monkeypatch, capsys):
    import shutil
    import time
    from alignment.cli import main
    monkeypatch.setattr(shutil, "which", lambda name: None)
    simulate(tmp_path, seed=3, days=35, queues=1)
    (tmp_path / "s.toml").write_text(study_text("pdf"))
    start = time.perf_counter()
    code = main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), "--report-format", "pdf"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "apt-get install chromium" in err[0]
    assert time.perf_counter() - start < 5 and not (tmp_path / "out").exists()
    from alignment.cli import parser
    assert parser().parse_args(["demo", "--format", "pdf"]).report_format == "pdf"   # the former name too


def test_driver_table_and_sections(result, page):
    for section in ("drivers", "figures", "coverage", "checks", "method"):
        assert f'id="{section}"' in page
    for name in result.study.kpis:
        assert f"<strong>{name}</strong>" in page
    assert "fixed-b" in page and "effective sample size" in page and "block bootstrap" in page
    assert "service level threshold" in page
    assert "@media print" in page and "overflow-x: auto" in page and "width: 100%" in page


def test_svg_ids_are_unique_on_the_page(page):
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_same_result_gives_the_same_bytes(result, page):
    assert render_html(result).encode() == page.encode()
    assert render_markdown(result) == render_markdown(result)


def test_hostile_names_stay_text(hostile):
    page = render_html(hostile)
    assert HOSTILE not in page
    assert html.escape(HOSTILE) in page  # the study name, shown as text
    parser = _Collect()
    parser.feed(page)
    assert parser.scripts == 0
    assert page.count(html.escape(HOSTILE)) >= 2  # study name and the queue among the segments
    assert HOSTILE not in render_markdown(hostile)


def test_markdown_has_the_driver_table(result):
    md = render_markdown(result)
    assert "| Rank | KPI | Lag |" in md
    for row in result.drivers.itertuples():
        assert re.search(rf"^\| [^|]* \| {re.escape(row.name)} \|", md, flags=re.M)
    for row in result.drivers[result.drivers["verdict"] == "validated"].itertuples():
        assert row.effect_phrase in md
    assert "left out of this Markdown" in md
    for heading in ("## What to act on", "## What this study can and cannot claim"):
        assert heading in md


def test_write_report(result, tmp_path):
    written = write_report(result, tmp_path, formats=("html", "md"))
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(result)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((figures/[^)]+)\)", md):
        assert (tmp_path / link).exists()
    assert len(written) >= 3
    with pytest.raises(ValueError, match="formats"):
        write_report(result, tmp_path, formats=("docx",))


def _has_data(ax):
    return bool(ax.lines or ax.collections or ax.patches or ax.images)


@pytest.mark.parametrize("draw", [
    plot.importance, plot.heatmap, plot.timeline, plot.stability,
    lambda r: plot.scatter(r, "asa"), lambda r: plot.timeline(r, "email_backlog"),
], ids=["importance", "heatmap", "timeline", "stability", "scatter", "timeline_extra"])
def test_plot_functions_return_axes_with_data(result, draw):
    ax = draw(result)
    assert isinstance(ax, matplotlib.axes.Axes) and _has_data(ax)
    plt.close(ax.figure)


def test_plot_functions_draw_on_a_given_axes(result):
    fig, axes = plt.subplots(1, 5)
    for ax, draw in zip(axes, [plot.importance, plot.heatmap, plot.timeline, plot.stability,
                               lambda r, ax: plot.scatter(r, "asa", ax=ax)]):
        assert draw(result, ax=ax) is ax and _has_data(ax)
    plt.close(fig)


def test_timeline_pools_components_not_rates(result):
    ax = plot.timeline(result, "asa")
    t = result.panel.table
    first = t[t["period"] == t["period"].min()]
    pooled = 100 * first["csat_top"].sum() / first["csat_n"].sum()
    assert ax.lines[0].get_ydata()[0] == pytest.approx(pooled)
    plt.close(ax.figure)


def test_stability_uses_the_checks_windows(result):
    for k in result.drivers.loc[result.drivers["rank"].notna(), "name"]:
        figures = result.validation.checks[k]["stability"]
        if "r_min" not in figures:
            continue
        rolled = plot.rolling_correlations(result, k)
        assert len(rolled) == figures["n_windows"]
        assert rolled["r"].min() == pytest.approx(figures["r_min"])
        assert rolled["r"].max() == pytest.approx(figures["r_max"])


def test_drawing_the_report_never_touches_the_users_pyplot(result, tmp_path, monkeypatch):
    """The report's figures are made offscreen: the user's backend stays (inline in Jupyter; here
    the svg backend stands for it), pyplot makes no figure, and a plot function called by the user
    still makes a pyplot figure on that backend."""
    import matplotlib
    import matplotlib.pyplot as plt
    from alignment import plot
    from alignment.report.render import figures, write_report
    previous = matplotlib.get_backend()
    plt.close("all")
    plt.switch_backend("svg")
    try:
        def refuse(*args, **kwargs):
            raise AssertionError("the report drew through pyplot")
        with monkeypatch.context() as m:
            m.setattr(plt, "subplots", refuse)
            m.setattr(plt, "figure", refuse)
            assert figures(result)
            write_report(result, tmp_path, formats=("html", "md"))
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == []
        ax = plot.importance(result)
        assert plt.get_fignums() == [ax.figure.number] and matplotlib.get_backend() == "svg"
    finally:
        plt.close("all")
        plt.switch_backend(previous)


def test_a_study_result_shows_its_summary_and_drivers_in_a_notebook(result):
    assert repr(result) == result.summary()
    page = result._repr_html_()
    assert "<table" in page and len(page) < 40_000
    for name in result.drivers["name"]:
        assert name in page


def test_without_a_validated_lever_there_is_no_lever_card_and_no_matrix(result):
    import dataclasses
    from alignment.report import context
    from alignment.report.render import figure_specs
    drivers = result.drivers.assign(verdict="inconclusive")
    none = dataclasses.replace(result, drivers=drivers)
    ctx = context.build(none)
    assert ctx["first"]["levers"] == [] and ctx["headline"]["sentence"].startswith("None of the")
    assert "matrix" not in [stem for stem, _, _ in figure_specs(none)]
    assert len(ctx["first"]["needs_more_data"]) == int(drivers["proxy_of"].isna().sum())


def test_a_study_result_runs_a_staffing_whatif_and_shows_no_decisions_without_a_cost(result, page):
    """StudyResult.whatif on a real study (issue 17): the validated drivers decide what counts; without
    [study] agent_cost_per_hour the report has no Decisions table and the what-if no cost."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = result.whatif(segment="billing", agents="+1", hours="10-12", days="mon")
    seg = w.segments[0]
    assert seg["intervals_changed"] > 0 and seg["cost"] is None and seg["cost_per_cx_point"] is None
    assert seg["kpis"]["asa"]["after"] < seg["kpis"]["asa"]["before"]
    asa = result.drivers.set_index("name").loc["asa"]
    assert seg["kpis"]["asa"]["contributes"] == (asa["verdict"] == "validated")
    if asa["verdict"] != "validated":
        assert seg["cx_change"]["estimate"] == 0
    assert 'id="decisions"' not in page
