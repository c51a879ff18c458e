"""regress and tipping_point: independent references (hand-made sandwich estimators), planted truth."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from alignment import (AlignmentDeprecationWarning, CollinearityWarning, InputError, OptionError, regress,
                       tipping_point)
from alignment.exceptions import (ConstantPredictorWarning, InfluenceWarning, MissingDataWarning,
                                  SmallSampleWarning)

WEEKS = pd.date_range("2024-01-01", periods=104, freq="7D")


def series(rng, n=104, phi=0.6):
    e = rng.standard_normal(n + 50)
    x = np.zeros(n + 50)
    for t in range(1, n + 50):
        x[t] = phi * x[t - 1] + e[t]
    return x[50:]


def single(rng, beta=-0.05):
    asa = 40 + 10 * series(rng)
    csat = 80 + beta * asa + series(rng)
    return pd.DataFrame({"period": WEEKS, "asa": asa, "csat": csat})


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_hac_errors_match_a_hand_made_newey_west_sandwich():
    rng = np.random.default_rng(0)
    data = single(rng)
    res = quiet(regress, data, "csat", ["asa"], model="ols", errors="hac", bandwidth=4, calendar=False)
    X = np.column_stack([np.ones(len(data)), data["asa"]])
    y = data["csat"].to_numpy()
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    g = X * u[:, None]
    S = g.T @ g
    for lag in range(1, 5):
        k = 1 - lag / 5  # Bartlett kernel
        gamma = g[lag:].T @ g[:-lag]
        S += k * (gamma + gamma.T)
    bread = np.linalg.inv(X.T @ X)
    cov = bread @ S @ bread
    row = res.table.iloc[0]
    assert row["coef"] == pytest.approx(beta[1], rel=1e-10)
    assert row["se"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-8)


def test_maxlags_is_the_old_name_of_bandwidth():
    data = single(np.random.default_rng(0))
    new = quiet(regress, data, "csat", ["asa"], model="ols", errors="hac", bandwidth=4, calendar=False)
    with pytest.warns(AlignmentDeprecationWarning, match="'maxlags' parameter of regress is now called 'bandwidth'"):
        old = regress(data, "csat", ["asa"], model="ols", errors="hac", maxlags=4, calendar=False)
    pd.testing.assert_frame_equal(old.table, new.table)
    assert old.bandwidth == new.bandwidth == 4
    with pytest.raises(OptionError, match="both 'maxlags' and 'bandwidth'"):
        regress(data, "csat", ["asa"], model="ols", errors="hac", maxlags=4, bandwidth=4, calendar=False)


def panel(rng, effect=-0.05, n_seg=6, n_weeks=52, between=0.0):
    frames = []
    for s in range(n_seg):
        asa = 40 + 5 * s + 10 * series(rng, n_weeks)
        base = 70 + 3 * s + between * (40 + 5 * s)
        frames.append(pd.DataFrame({"period": WEEKS[:n_weeks], "queue": f"q{s}", "asa": asa,
                                    "fcr": 70 + 5 * series(rng, n_weeks),
                                    "csat": base + effect * asa + series(rng, n_weeks),
                                    "csat_n": rng.integers(30, 200, n_weeks).astype(float)}))
    return pd.concat(frames, ignore_index=True)


def test_fixed_effects_equal_ols_on_within_demeaned_data():
    rng = np.random.default_rng(1)
    data = panel(rng, between=0.5)
    res = quiet(regress, data, "csat", ["asa", "fcr"], by=["queue"], model="fe", weights="none")
    d = data.copy()
    for c in ("csat", "asa", "fcr"):
        d[c] = d[c] - d.groupby("queue")[c].transform("mean")
    beta, *_ = np.linalg.lstsq(d[["asa", "fcr"]].to_numpy(), d["csat"].to_numpy(), rcond=None)
    assert res.table["coef"].to_numpy() == pytest.approx(beta, rel=1e-9)


def test_cluster_errors_match_a_hand_made_cr1_sandwich():
    rng = np.random.default_rng(2)
    data = panel(rng, n_seg=25)
    res = quiet(regress, data, "csat", ["asa"], by=["queue"], model="ols", errors="cluster", weights="none")
    X = np.column_stack([np.ones(len(data)), data["asa"]])
    y = data["csat"].to_numpy()
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    meat = sum(np.outer(X[m].T @ u[m], X[m].T @ u[m]) for m in
               (data["queue"] == q for q in data["queue"].unique()))
    G, n, k = 25, len(y), 2
    bread = np.linalg.inv(X.T @ X)
    cov = G / (G - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    assert res.table["se"].iloc[0] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-8)


def test_planted_effect_is_recovered_in_its_own_units():
    rng = np.random.default_rng(3)
    data = panel(rng, effect=-0.08, between=0.5)
    res = quiet(regress, data, "csat", ["asa"], by=["queue"], model="fe", weights="none")
    row = res.table.iloc[0]
    assert row["ci_low"] < -0.08 < row["ci_high"]
    assert row["step"] == 10 and row["unit"] == "s"
    assert row["effect"] == pytest.approx(10 * row["coef"])
    assert re.match(r"each extra 10 s of ASA goes with 0\.\d+ fewer CSAT percentage points "
                    r"\(95 % CI 0\.\d+ to 0\.\d+\)", row["phrase"]), row["phrase"]
    assert row["effect_unit"] == "CSAT percentage points per 10 s of ASA"
    within = data.assign(**{c: data[c] - data.groupby("queue")[c].transform("mean") for c in ("asa", "csat")})
    assert row["std_coef"] == pytest.approx(row["coef"] * within["asa"].std() / within["csat"].std())


def test_two_way_driscoll_kraay_is_the_default_and_records_what_it_used():
    rng = np.random.default_rng(4)
    res = quiet(regress, panel(rng), "csat", ["asa"], by=["queue"])
    assert (res.model, res.effects, res.weights, res.bandwidth) == ("twoway", "twoway", "responses", 9)
    assert res.errors.startswith("Driscoll-Kraay (Bartlett, 9 lags, fixed-b")
    d = res.to_dict()
    assert (d["fixed_effects"], d["weights"], d["bandwidth"], d["ci"]) == ("twoway", "responses", 9, 0.95)


def test_cluster_inference_uses_t_with_g_minus_1_df_and_warns_below_10_clusters():
    from scipy import stats
    from alignment.exceptions import FewClustersWarning
    rng = np.random.default_rng(5)
    with pytest.warns(FewClustersWarning):
        res = regress(panel(rng, n_seg=6), "csat", ["asa"], by=["queue"], errors="cluster")
    row = res.table.iloc[0]
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["coef"] / row["se"]), 5), rel=1e-10)
    assert row["ci_high"] - row["coef"] == pytest.approx(stats.t.ppf(0.975, 5) * row["se"], rel=1e-10)


def test_fixed_effects_hac_is_calibrated_under_autocorrelation():
    # 200 panels (6 queues x 52 weeks, KPI and errors AR(1) phi 0.6): with no effect the 5 % test
    # should reject about 5 %; with an effect of -0.05 the 95 % interval should cover it about 95 %.
    # The default (two-way effects, Driscoll-Kraay, fixed-b) uses only the 52 periods' information:
    # with both series this persistent it rejects 8-10 % at T = 52 (benchmarks/calibration.py
    # measures it); the bound here catches a broken estimator, not that finite-sample distortion.
    rng = np.random.default_rng(16)
    reps, rejected, covered = 200, 0, 0
    for _ in range(reps):
        rejected += quiet(regress, panel(rng, effect=0.0, between=-1.0), "csat", ["asa"],
                          by=["queue"]).table["p_value"].iloc[0] < 0.05
        row = quiet(regress, panel(rng, effect=-0.05), "csat", ["asa"], by=["queue"]).table.iloc[0]
        covered += row["ci_low"] <= -0.05 <= row["ci_high"]
    assert rejected / reps <= 0.12, rejected / reps
    assert 0.88 <= covered / reps <= 0.99, covered / reps


def test_pooled_ols_is_fooled_by_between_segment_differences_and_fixed_effects_are_not():
    rng = np.random.default_rng(4)
    data = panel(rng, effect=0.0, between=-1.0)  # queues with long waits have low CSAT, no weekly effect
    ols = quiet(regress, data, "csat", ["asa"], by=["queue"], model="ols").table.iloc[0]
    fe = quiet(regress, data, "csat", ["asa"], by=["queue"], model="fe").table.iloc[0]
    assert ols["p_value"] < 0.001
    assert fe["p_value"] > 0.05


def test_weighted_least_squares_uses_the_weights():
    rng = np.random.default_rng(5)
    data = panel(rng)
    res = quiet(regress, data, "csat", ["asa"], by=["queue"], model="ols", errors="nonrobust", weights="csat_n")
    ref = sm.WLS(data["csat"], sm.add_constant(data[["asa"]]), weights=data["csat_n"]).fit()
    assert res.table["coef"].iloc[0] == pytest.approx(ref.params["asa"], rel=1e-10)
    assert res.table["se"].iloc[0] == pytest.approx(ref.bse["asa"], rel=1e-10)


def test_mixed_model_matches_statsmodels_formula_interface():
    rng = np.random.default_rng(6)
    data = panel(rng)
    res = quiet(regress, data, "csat", ["asa", "fcr"], by=["queue"], model="mixed")
    ref = smf.mixedlm("csat ~ asa + fcr", data, groups=data["queue"]).fit(reml=True)
    assert res.table["coef"].to_numpy() == pytest.approx(ref.fe_params[["asa", "fcr"]].to_numpy(), rel=1e-4)


def test_ordinal_logit_recovers_a_planted_coefficient():
    rng = np.random.default_rng(7)
    n = 4000
    asa = rng.uniform(0, 120, n)
    latent = -0.03 * asa + rng.logistic(size=n)
    score = np.digitize(latent, [-4, -2.5, -1, 0.5]) + 1  # 1..5
    res = quiet(regress, pd.DataFrame({"score": score, "asa": asa}), "score", ["asa"], model="ordinal")
    row = res.table.iloc[0]
    assert row["ci_low"] < -0.03 < row["ci_high"]
    assert (row["step"], row["unit"]) == (10.0, "s") and row["effect"] == pytest.approx(10 * row["coef"])
    assert row["phrase"] == f"each extra 10 s of ASA multiplies the odds of a higher score by {np.exp(row['effect']):.3g}"


def test_lags_come_from_the_same_segment():
    rng = np.random.default_rng(8)
    data = panel(rng, effect=0.0)
    # CSAT follows last week's backlog within each queue
    data["backlog"] = rng.normal(100, 20, len(data))
    prev = data.groupby("queue")["backlog"].shift(1)
    data["csat"] = data["csat"] - 0.05 * prev.fillna(100)
    res = quiet(regress, data, "csat", ["backlog"], by=["queue"], lags={"backlog": 1}).table.iloc[0]
    assert res["lag"] == 1 and res["ci_low"] < -0.05 < res["ci_high"]
    assert quiet(regress, data, "csat", ["backlog"], by=["queue"]).table["p_value"].iloc[0] > 0.01


def test_diagnostics_are_named_warnings_and_rows():
    rng = np.random.default_rng(9)
    data = panel(rng)
    data["asa2"] = data["asa"] * 1.01 + rng.normal(0, 0.5, len(data))
    data["flat"] = 5.0
    data.loc[data.index[: int(0.6 * len(data))], "fcr"] = np.nan
    with pytest.warns(CollinearityWarning, match="asa2 has VIF"):
        res = regress(data, "csat", ["asa", "asa2"], by=["queue"])
    assert set(res.diagnostics.loc[res.diagnostics["check"] == "vif", "status"]) == {"strong"}
    with pytest.warns(ConstantPredictorWarning, match="flat does not vary"):
        res = regress(data, "csat", ["asa", "flat"], by=["queue"])
    assert list(res.table["kpi"]) == ["asa"]
    with pytest.warns(MissingDataWarning, match="fcr: 60% of the periods have no value"):
        regress(data, "csat", ["asa", "fcr"], by=["queue"])
    small = data[data["queue"].isin(["q0", "q1"])].groupby("queue").head(10)
    with pytest.warns(SmallSampleWarning, match="20 complete rows"):
        regress(small, "csat", ["asa"], by=["queue"])
    spike = data.copy()
    spike.loc[5, "asa"] += 80   # a period far out on the KPI with an outcome off the line
    spike.loc[5, "csat"] += 30
    with pytest.warns(InfluenceWarning, match="Cook's distance"):
        regress(spike, "csat", ["asa"], by=["queue"])


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "probit"}, "'model'"), ({"errors": "hc3"}, "'errors'"), ({"lags": -1}, "Lags"),
    ({"model": "fe", "by": []}, "needs segments"),
])
def test_bad_options(kwargs, match):
    data = panel(np.random.default_rng(10))
    kwargs.setdefault("by", ["queue"])
    with pytest.raises(OptionError, match=match):
        quiet(regress, data, "csat", ["asa"], **kwargs)


def test_missing_column_is_an_input_error():
    with pytest.raises(InputError, match="column 'nope'"):
        regress(panel(np.random.default_rng(11)), "csat", ["nope"], by=["queue"])


def hinge_panel(rng, threshold=60.0, n_seg=4, n_weeks=104):
    frames = []
    for s in range(n_seg):
        asa = rng.uniform(10, 120, n_weeks)
        csat = 80 + 2 * s - 0.02 * asa - 0.4 * np.maximum(asa - threshold, 0) + rng.normal(0, 1.5, n_weeks)
        frames.append(pd.DataFrame({"period": WEEKS[:n_weeks], "queue": f"q{s}", "asa": asa, "csat": csat}))
    return pd.concat(frames, ignore_index=True)


def test_tipping_point_recovers_a_planted_threshold():
    tp = tipping_point(hinge_panel(np.random.default_rng(12)), "csat", "asa", by=["queue"], n_boot=200, seed=3)
    assert tp.found
    assert tp.ci_low <= 60 <= tp.ci_high and abs(tp.breakpoint - 60) < 5
    assert tp.slope_above == pytest.approx(-0.42, abs=0.05)
    assert tp.summary().startswith("CSAT falls faster once asa passes about")


def test_no_tipping_point_in_a_straight_line():
    rng = np.random.default_rng(13)
    data = hinge_panel(rng, threshold=1e9)
    tp = tipping_point(data, "csat", "asa", by=["queue"], n_boot=200, seed=4)
    assert not tp.found and tp.summary().startswith("No clear tipping point")


def test_tipping_point_is_reproducible():
    data = hinge_panel(np.random.default_rng(14))
    a = tipping_point(data, "csat", "asa", by=["queue"], n_boot=50, seed=5)
    b = tipping_point(data, "csat", "asa", by=["queue"], n_boot=50, seed=5)
    assert (a.ci_low, a.ci_high, a.slope_change_ci) == (b.ci_low, b.ci_high, b.slope_change_ci)


def test_tipping_point_resamples_whole_segments_when_asked():
    rng = np.random.default_rng(21)
    data = panel(rng, n_seg=6)
    tp = quiet(tipping_point, data, "csat", "asa", by=["queue"], n_boot=40, seed=2, cluster="queue")
    assert tp.n_boot == 40 and np.isfinite(tp.ci_low)
    with pytest.raises(InputError, match="'site'"):
        tipping_point(data, "csat", "asa", by=["queue"], n_boot=10, seed=2, cluster="site")


# ---- steps, units and phrases ------------------------------------------------------------

def spend_panel(rng):
    data = panel(rng)
    # a KPI outside the catalog with a large spread: its step must not come from that spread
    data["spend"] = rng.normal(250_000, 80_000, len(data))
    data["csat"] = data["csat"] - 2e-5 * data["spend"]
    return data


def test_a_kpi_outside_the_catalog_is_reported_per_unit_not_per_its_spread():
    res = quiet(regress, spend_panel(np.random.default_rng(30)), "csat", ["spend"], by=["queue"])
    row = res.table.iloc[0]
    assert (row["step"], row["unit"]) == (1.0, "")
    assert row["effect"] == pytest.approx(row["coef"])
    assert row["phrase"].startswith("each extra unit of spend goes with ")
    assert row["effect_unit"] == "CSAT percentage points per unit of spend"


def test_declared_units_give_the_step_unit_and_label():
    units = {"spend": {"step": 1000, "unit": "USD", "label": "marketing spend"}, "unused": {"step": 2}}
    res = quiet(regress, spend_panel(np.random.default_rng(30)), "csat", ["spend", "asa"], by=["queue"],
                units=units)
    spend, asa = res.table.iloc[0], res.table.iloc[1]
    assert (spend["step"], spend["unit"]) == (1000.0, "USD")
    assert spend["effect"] == pytest.approx(1000 * spend["coef"])
    assert [spend["effect_ci_low"], spend["effect_ci_high"]] == pytest.approx(
        [1000 * spend["ci_low"], 1000 * spend["ci_high"]])
    assert re.match(r"each extra 1,000 USD of marketing spend goes with 0\.0\d+ fewer CSAT percentage points",
                    spend["phrase"]), spend["phrase"]
    assert spend["effect_unit"] == "CSAT percentage points per 1,000 USD of marketing spend"
    assert (asa["step"], asa["unit"]) == (10.0, "s")  # the catalog's step, untouched


def test_a_catalog_kpi_may_declare_its_step_and_label_but_not_its_unit():
    data = panel(np.random.default_rng(31))
    row = quiet(regress, data, "csat", ["asa"], by=["queue"], units={"asa": {"step": 5, "label": "wait"}}).table.iloc[0]
    assert row["step"] == 5 and row["phrase"].startswith("each extra 5 s of wait goes with")
    with pytest.raises(OptionError, match=r"unit of 'asa' is fixed by the catalog \('s'\)"):
        regress(data, "csat", ["asa"], by=["queue"], units={"asa": {"unit": "min"}})


def test_percentages_read_as_percentage_points_and_nps_as_points():
    data = panel(np.random.default_rng(32))
    row = quiet(regress, data, "csat", ["fcr"], by=["queue"]).table.iloc[0]
    assert (row["step"], row["unit"]) == (1.0, "percentage point")
    assert row["phrase"].startswith("each extra percentage point of FCR goes with ")
    assert "CSAT percentage points (95 % CI" in row["phrase"]
    nps = quiet(regress, data.rename(columns={"csat": "nps"}), "nps", ["asa"], by=["queue"],
                weights="none").table.iloc[0]
    assert re.search(r" (more|fewer) NPS points \(95 % CI", nps["phrase"]), nps["phrase"]
    other = quiet(regress, data.rename(columns={"csat": "loyalty"}), "loyalty", ["asa"], by=["queue"],
                  weights="none").table.iloc[0]
    assert re.search(r" (more|fewer) loyalty points \(", other["phrase"]), other["phrase"]


def test_phrases_name_the_lag_in_the_grain():
    data = panel(np.random.default_rng(33))
    table = quiet(regress, data, "csat", ["asa", "fcr"], by=["queue"], lags={"asa": 1, "fcr": 3}).table
    assert table["phrase"].iloc[0].startswith("each extra 10 s of last week's ASA goes with")
    assert table["phrase"].iloc[1].startswith("each extra percentage point of FCR 3 weeks earlier goes with")
    assert table["effect_unit"].iloc[0] == "CSAT percentage points per 10 s of ASA"


def test_the_panel_definition_of_the_outcome_sets_its_words():
    from alignment import KpiOptions, build_panel
    kw = dict(surveys="data/demo/surveys.csv", grain="week", by=["queue"], timezone="America/New_York",
              metrics=["csat", "asa"])
    mean = build_panel("data/demo/contacts.csv", options=KpiOptions(csat_variant="mean"), **kw)
    row = quiet(regress, mean, "csat", ["asa"], lags=1).table.iloc[0]
    assert row["phrase"].startswith("each extra 10 s of last week's ASA goes with ")
    assert re.search(r" (more|fewer) CSAT points \(95 % CI", row["phrase"]), row["phrase"]


@pytest.mark.parametrize("units, words", [
    ([1, 2], "must map each KPI to a mapping"),
    ({"spend": 3}, "Got 3 for 'spend'"),
    ({"spend": {"stp": 1000}}, "unknown key 'stp' for 'spend'"),
    ({"spend": {"step": 0}}, "step of 'spend' must be a positive number"),
    ({"spend": {"step": True}}, "step of 'spend' must be a positive number"),
    ({"spend": {"step": float("inf")}}, "step of 'spend' must be a positive number"),
    ({"spend": {"unit": 5}}, "unit of 'spend' must be a string"),
    ({"spend": {"label": " "}}, "label of 'spend' must be a non-empty string"),
])
def test_bad_units_are_one_line_option_errors(units, words):
    with pytest.raises(OptionError) as info:
        regress(spend_panel(np.random.default_rng(34)), "csat", ["spend"], by=["queue"], units=units)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_phrase_and_lag_words_are_pure_text():
    from alignment.drivers.regression import lag_words, natural_step, phrase
    args = ("asa", 10, "s", -0.82, -1.1, -0.51, "csat")
    assert phrase(*args) == phrase(*args)
    assert phrase(*args, lag=1, grain="day").startswith("each extra 10 s of the previous day's ASA ")
    assert phrase(*args, lag=1, grain="month").startswith("each extra 10 s of last month's ASA ")
    assert phrase(*args, lag=2, grain="week").startswith("each extra 10 s of ASA 2 weeks earlier ")
    assert phrase("asa", 10, "s", float("nan"), np.nan, np.nan, "csat") == "the effect of ASA could not be estimated"
    assert phrase("x", 1, "", 1.0, 0.5, 1.5, "csat").startswith("each extra unit of x goes with 1 more CSAT "
                                                               "percentage point (")
    assert lag_words("ASA", 0, "day") == "ASA"
    assert natural_step("offered") == (100.0, "contacts", "offered volume")
    assert natural_step("interaction_quality_score").unit == "point"
