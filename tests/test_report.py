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


def test_headline_names_validated_drivers_with_their_effects(result, page):
    drivers = result.drivers
    validated = drivers[drivers["verdict"] == "validated"]
    assert len(validated), "the simulated world plants validated drivers"
    text = html.unescape(page)
    headline = text[text.index('id="headline"'):text.index('id="drivers"')]
    for row in validated.itertuples():
        assert row.effect_phrase in headline
        assert row.reasons[0] in headline
    import pandas as pd
    looked = pd.to_numeric(drivers["p_value"], errors="coerce") < 0.05      # the report's "looked strong" rule
    strong = drivers[(drivers["verdict"] != "validated") & looked]
    for row in strong.itertuples():  # looked strong but failed: named with the reason
        assert row.name in headline and row.reasons[0] in headline


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


def test_write_report(result, tmp_path):
    written = write_report(result, tmp_path, formats=("html", "md"))
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(result)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((figures/[^)]+)\)", md):
        assert (tmp_path / link).exists()
    assert len(written) >= 3
    with pytest.raises(ValueError, match="formats"):
        write_report(result, tmp_path, formats=("pdf",))


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
