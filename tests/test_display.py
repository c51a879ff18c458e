"""Every result shows itself in a notebook: ``repr`` is its summary, ``_repr_html_`` a compact card
(the summary and the key table cut to 30 rows), names from the data escaped."""

import warnings

import pytest

from alignment import build_panel, correlate, regress, relative_importance, tipping_point
from alignment.display import MAX_HTML_ROWS


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    import pandas as pd
    folder = tmp_path_factory.mktemp("display")
    contacts = pd.read_csv("data/demo/contacts.csv")
    contacts["queue"] = contacts["queue"].replace({"billing": "<script>alert(1)</script>"})
    contacts.to_csv(folder / "contacts.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_panel(folder / "contacts.csv", surveys="data/demo/surveys.csv", grain="week", by=["queue"],
                           timezone="America/New_York", metrics=["csat", "asa", "fcr"])


def _results(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield "panel", panel
        yield "correlate", correlate(panel, "csat", ["asa", "fcr"], n_boot=0)
        yield "regress", regress(panel, "csat", ["asa", "fcr"])
        yield "relative_importance", relative_importance(panel, "csat", ["asa", "fcr"], n_boot=0)
        yield "tipping_point", tipping_point(panel, "csat", "asa", n_boot=20, seed=1)


def test_every_result_shows_its_summary_and_a_short_escaped_table(panel):
    for name, result in _results(panel):
        assert repr(result) == result.summary(), name
        page = result._repr_html_()
        assert "<table" in page and len(page) < 40_000, name
        assert "<script>" not in page, name
        rows = page.count("<tr>") - 1                      # less the header row
        assert rows <= MAX_HTML_ROWS + 1, name               # + the "..." row of a cut table
    assert "&lt;script&gt;" in panel._repr_html_()
