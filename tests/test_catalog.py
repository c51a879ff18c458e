"""The catalog: every entry complete, formulas parse, options validated, NPS standard error."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from alignment import CompositeScore, KpiOptions, OptionError, SurveyMetric, catalog

REQUIRED_CX = {"csat", "nps", "ces", "cis"}
REQUIRED_OPS = {"service_level", "abandon_rate", "abandon_rate_excl_short", "asa", "avg_time_to_abandon",
                "aht", "fcr", "transfer_rate", "offered", "customer_interaction_rate",
                "interaction_quality_score"}


def test_catalog_holds_every_metric_the_issue_names():
    assert REQUIRED_CX <= set(catalog.names("cx"))
    assert REQUIRED_OPS <= set(catalog.names("operational"))


@pytest.mark.parametrize("name", catalog.names())
def test_each_entry_is_complete(name):
    m = catalog.get(name)
    assert m.label and m.definition and m.unit and m.formula and m.inputs
    assert m.rollup in {"pooled_ratio", "sum", "mean_over_contacts", "distinct_ratio"}
    assert isinstance(m.higher_is_better, bool)
    text = catalog.describe(name)
    assert text.startswith(f"{name}: ") and "rolls up as" in text


def test_no_metric_rolls_up_as_a_mean_of_rates():
    # Every ratio has a numerator and a denominator of summed components.
    for row in catalog.table().itertuples():
        m = catalog.get(row.name, row.variant if isinstance(row.variant, str) else None)
        assert (m.denominator is None) == (m.rollup == "sum")


def test_service_level_variants_and_default():
    assert catalog.get("service_level").variant == "offered"
    assert set(catalog.get("service_level").variants) == {
        "offered", "answered", "offered_minus_abandoned_within_t", "offered_minus_short_abandons"}
    parts = pd.DataFrame({"n_answered_within_t": [6], "n_contacts": [10], "n_answered": [8],
                          "n_abandoned_within_t": [1], "n_short_abandons": [2]})
    # 6/10, 6/8, 6/(10-1), 6/(10-2), worked by hand
    expected = {"offered": 60.0, "answered": 75.0, "offered_minus_abandoned_within_t": 100 * 6 / 9,
                "offered_minus_short_abandons": 75.0}
    for variant, value in expected.items():
        assert catalog.get("service_level", variant).evaluate(parts).iloc[0] == pytest.approx(value)


def test_zero_denominator_gives_nan_not_inf():
    parts = pd.DataFrame({"n_resolved": [0], "n_answered": [0]})
    assert math.isnan(catalog.get("fcr").evaluate(parts).iloc[0])


def test_quality_bands_and_benchmarks():
    m = catalog.get("interaction_quality_score")
    assert [m.band(v) for v in (100, 80, 79.9, 60, 59.9, 0)] == [
        "excellent", "excellent", "acceptable", "acceptable", "critical", "critical"]
    assert m.benchmarks == {"retail": 75, "telecom": 70, "financial_services": 80}


def test_customer_interaction_rate_is_not_additive():
    assert not catalog.get("customer_interaction_rate").additive


def test_nps_standard_error_matches_the_variance_of_a_three_point_score():
    # An independent route: the sample variance (ddof=0) of scores +1/0/-1.
    scores = np.array([1] * 50 + [0] * 30 + [-1] * 20)
    by_hand = 100 * math.sqrt(scores.var() / len(scores))
    assert catalog.nps_standard_error(50, 20, 100) == pytest.approx(by_hand)
    assert math.isnan(catalog.nps_standard_error(0, 0, 0))


def test_unknown_name_and_variant_are_option_errors():
    with pytest.raises(OptionError, match="Unknown metric 'sla'"):
        catalog.get("sla")
    with pytest.raises(OptionError, match="variant of 'service_level'"):
        catalog.get("service_level", "bogus")


@pytest.mark.parametrize("kwargs, match", [
    ({"service_level_threshold_s": -1}, "service_level_threshold_s"),
    ({"service_level_threshold_s": float("nan")}, "service_level_threshold_s"),
    ({"service_level_variant": "offerd"}, "service_level_variant"),
    ({"short_abandon_s": "5"}, "short_abandon_s"),
    ({"csat_variant": "top3"}, "csat_variant"),
])
def test_kpi_options_are_validated(kwargs, match):
    with pytest.raises(OptionError, match=match):
        KpiOptions(**kwargs)


def test_declared_survey_metrics_and_composites_are_validated():
    with pytest.raises(OptionError, match="low < high"):
        SurveyMetric("ces", scale=(7, 1))
    with pytest.raises(OptionError, match="positive number"):
        CompositeScore("cis", weights={"csat": -1})
    with pytest.raises(OptionError, match="needs weights"):
        CompositeScore("cis", weights={})
    ces = SurveyMetric("ces", scale=(1, 5), higher_is_better=True).metric()
    assert ces.higher_is_better and ces.scale == (1.0, 5.0)


# ---- steps, short labels and families ---------------------------------------------------

@pytest.mark.parametrize("name", catalog.names("operational"))
def test_every_operational_kpi_declares_a_step_and_a_short_label(name):
    m = catalog.get(name)
    assert m.step is not None and m.step > 0 and math.isfinite(m.step)
    assert m.short_label and m.short_label != name


def test_steps_managers_think_in():
    steps = {n: catalog.get(n).step for n in ("asa", "avg_time_to_abandon", "aht", "service_level",
                                              "abandon_rate", "fcr", "transfer_rate", "offered")}
    assert steps == {"asa": 10, "avg_time_to_abandon": 10, "aht": 30, "service_level": 1, "abandon_rate": 1,
                     "fcr": 1, "transfer_rate": 1, "offered": 100}
    assert [catalog.get(n).short_label for n in ("csat", "nps", "asa", "service_level")] == \
        ["CSAT", "NPS", "ASA", "service level"]
    assert "effects per step of 1 percentage point" in catalog.describe("fcr")
    assert "effects per step of 100 contacts" in catalog.describe("offered")


def test_catalog_families():
    family = {n: catalog.get(n).family for n in catalog.names() if catalog.get(n).family}
    assert family == {"asa": "waiting", "service_level": "waiting", "abandon_rate": "waiting",
                      "abandon_rate_excl_short": "waiting", "avg_time_to_abandon": "waiting",
                      "fcr": "resolution", "transfer_rate": "resolution"}


def test_families_among_the_given_kpis():
    # order of members as in kpis, families in the order of their first member, singletons dropped
    assert catalog.families(["transfer_rate", "asa", "aht", "fcr", "service_level"]) == {
        "resolution": ("transfer_rate", "fcr"), "waiting": ("asa", "service_level")}
    assert catalog.families(["asa", "fcr", "aht"]) == {}
    assert catalog.families(("asa", "asa", "abandon_rate")) == {"waiting": ("asa", "abandon_rate")}


def test_declared_families_take_precedence():
    kpis = ["asa", "service_level", "abandon_rate", "agents", "occupancy", "fcr", "transfer_rate"]
    out = catalog.families(kpis, declared={"staffing": ["occupancy", "agents", "asa"], "other": ["x", "fcr"]})
    # asa leaves "waiting"; "other" has one of the given KPIs only; unknown names are ignored
    assert out == {"staffing": ("asa", "agents", "occupancy"), "waiting": ("service_level", "abandon_rate")}
    # a declared family named like a catalog family replaces it
    assert catalog.families(kpis, declared={"waiting": ["asa", "agents"]}) == {
        "waiting": ("asa", "agents"), "resolution": ("fcr", "transfer_rate")}
    assert catalog.families(kpis, declared={}) == catalog.families(kpis)


@pytest.mark.parametrize("declared, words", [
    (["asa"], "must map family names to lists of KPIs"),
    ({"staffing": "agents"}, "members of family 'staffing' must be a list"),
    ({"a": ["asa", "fcr"], "b": ["fcr", "aht"]}, "'fcr' is in two families"),
])
def test_bad_declared_families_are_option_errors(declared, words):
    with pytest.raises(OptionError, match=re.escape(words)):
        catalog.families(["asa", "fcr", "aht"], declared=declared)


def test_check_units():
    assert catalog.check_units(None) == {}
    assert catalog.check_units({"spend": {"step": 5, "label": "spend"}, "asa": {"unit": "s"}}) == {
        "spend": {"step": 5.0, "label": "spend"}, "asa": {"unit": "s"}}
    with pytest.raises(OptionError, match="declare its step or label only"):
        catalog.check_units({"service_level": {"unit": "ratio"}})
