"""correlate: against scipy/statsmodels, planted structure, calibration under autocorrelation."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from alignment import InputError, OptionError, correlate

WEEKS = pd.date_range("2025-01-06", periods=52, freq="7D")


def ar1(n, phi, rng, burn=100):
    e = rng.standard_normal(n + burn)
    x = np.zeros(n + burn)
    for t in range(1, n + burn):
        x[t] = phi * x[t - 1] + e[t]
    return x[burn:]


def one_series(x, y, **extra):
    return pd.DataFrame({"period": WEEKS[: len(x)], "x": x, "y": y, **extra})


@pytest.fixture
def iid():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(52)
    return one_series(x, 0.4 * x + rng.standard_normal(52))


@pytest.mark.parametrize("method, reference", [
    ("pearson", stats.pearsonr), ("spearman", stats.spearmanr), ("kendall", stats.kendalltau)])
def test_coefficients_match_scipy(iid, method, reference):
    row = correlate(iid, "y", ["x"], method=method, scope="pooled").table.iloc[0]
    assert row["r"] == pytest.approx(reference(iid["x"], iid["y"]).statistic, abs=1e-12)


def test_textbook_inference_matches_scipy_exactly(iid):
    row = correlate(iid, "y", ["x"], scope="pooled", autocorrelation=False).table.iloc[0]
    ref = stats.pearsonr(iid["x"], iid["y"])
    ci = ref.confidence_interval(0.95)
    assert row["n_effective"] == 52
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_weighted_correlation_matches_statsmodels():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(52)
    data = one_series(x, x + rng.standard_normal(52), n=rng.integers(5, 100, 52).astype(float))
    row = correlate(data, "y", ["x"], scope="pooled", weights="n").table.iloc[0]
    ref = DescrStatsW(data[["x", "y"]].to_numpy(), weights=data["n"].to_numpy()).corrcoef[0, 1]
    assert row["r"] == pytest.approx(ref, abs=1e-12)


def test_partial_correlation_matches_the_precision_matrix():
    rng = np.random.default_rng(2)
    z = rng.standard_normal(52)
    x = z + rng.standard_normal(52)
    y = z + 0.3 * x + rng.standard_normal(52)
    data = one_series(x, y, z=z)
    row = correlate(data, "y", ["x"], scope="pooled", covariates=["z"]).table.iloc[0]
    precision = np.linalg.inv(np.corrcoef(np.vstack([x, y, z])))
    expected = -precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
    assert row["r"] == pytest.approx(expected, abs=1e-12)


def panel(segments, periods=WEEKS):
    frames = [pd.DataFrame({"period": periods[: len(v["x"])], "queue": k, **v}) for k, v in segments.items()]
    return pd.concat(frames, ignore_index=True)


def test_lag_is_within_segment_and_never_across_a_gap():
    x = np.arange(10, dtype=float) ** 1.5
    a = {"x": x, "y": np.r_[np.nan, np.nan, x[:-2]]}       # y_t = x_{t-2}
    b = {"x": -x, "y": np.r_[np.nan, np.nan, -x[:-2]]}
    data = panel({"a": a, "b": b})
    t = correlate(data, "y", ["x"], by=["queue"], lags=3, scope="per_segment").table
    best = t.loc[t.groupby("segment")["r"].idxmax()]
    assert set(best["lag"]) == {2} and np.allclose(best["r"], 1.0)
    # 10 periods, lag 2: outcomes at periods 2..9 have a KPI two periods back
    assert t[(t["lag"] == 2)]["n"].tolist() == [8, 8]
    # remove period 5 of segment a: pairs that would reach across the gap disappear
    gap = data.drop(index=5)
    n_gap = correlate(gap, "y", ["x"], by=["queue"], lags=[1], scope="per_segment").table["n"].tolist()
    n_full = correlate(data, "y", ["x"], by=["queue"], lags=[1], scope="per_segment").table["n"].tolist()
    assert n_full == [8, 8] and n_gap == [6, 8]


def test_within_scope_removes_a_between_segment_trap():
    rng = np.random.default_rng(3)
    segments = {}
    for k, level in enumerate([-2, -1, 0, 1, 2]):
        # KPI and CX both differ by segment; within a segment they are unrelated
        segments[f"q{k}"] = {"x": level + 0.3 * rng.standard_normal(52),
                             "y": -level + 0.3 * rng.standard_normal(52)}
    t = correlate(panel(segments), "y", ["x"], by=["queue"]).table.set_index("scope")
    assert t.loc["pooled", "r"] < -0.9
    assert t.loc["within", "p_value"] > 0.05 and abs(t.loc["within", "r"]) < 0.15
    # and the pooled scope knows it has far fewer independent observations than rows
    assert t.loc["pooled", "n_effective"] < 0.5 * t.loc["pooled", "n"]


def test_differencing_removes_a_shared_trend():
    rng = np.random.default_rng(4)
    trend = np.linspace(0, 3, 52)
    data = one_series(trend + 0.3 * rng.standard_normal(52), trend + 0.3 * rng.standard_normal(52))
    t = correlate(data, "y", ["x"]).table.set_index("scope")
    assert t.loc["pooled", "r"] > 0.9
    assert t.loc["pooled_differenced", "p_value"] > 0.05
    assert t.loc["pooled_detrended", "p_value"] > 0.05


def test_false_positive_rate_is_near_nominal_for_independent_ar1_series():
    # 1000 pairs of independent AR(1) series, phi = 0.7, 52 weeks. A textbook test rejects
    # about a quarter of them at 5 %; the effective-n test should stay near 5 %.
    rng = np.random.default_rng(2025)
    honest = naive = 0
    reps = 1000
    for _ in range(reps):
        data = one_series(ar1(52, 0.7, rng), ar1(52, 0.7, rng))
        honest += correlate(data, "y", ["x"], scope="pooled").table["p_value"].iloc[0] < 0.05
        naive += correlate(data, "y", ["x"], scope="pooled", autocorrelation=False).table["p_value"].iloc[0] < 0.05
    assert 0.03 <= honest / reps <= 0.07, honest / reps
    assert naive / reps > 0.15, naive / reps


def test_intervals_cover_a_planted_correlation():
    # y = b x + e with x, e independent AR(1) (phi 0.5): population r = b / sqrt(b^2 + 1).
    rng = np.random.default_rng(7)
    b = 0.6
    truth = b / np.sqrt(b * b + 1)
    covered, reps = 0, 300
    for _ in range(reps):
        x, e = ar1(52, 0.5, rng), ar1(52, 0.5, rng)
        row = correlate(one_series(x, b * x + e), "y", ["x"], scope="pooled").table.iloc[0]
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.88 <= covered / reps <= 0.99, covered / reps


def test_benjamini_hochberg_and_holm_by_hand():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(52)
    data = one_series(x, x + rng.standard_normal(52), z=rng.standard_normal(52))
    res = correlate(data, "y", ["x", "z"], lags=1, scope="pooled")
    p = res.table["p_value"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    bh = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(bh, 1)
    assert np.allclose(res.table["p_adjusted"], expected)
    holm = correlate(data, "y", ["x", "z"], lags=1, scope="pooled", adjust="holm").table["p_adjusted"]
    h = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    expected[order] = np.minimum(h, 1)
    assert np.allclose(holm, expected)


def test_block_bootstrap_is_seeded_and_agrees_with_fisher_on_iid_data(iid):
    a = correlate(iid, "y", ["x"], scope="pooled", inference="block_bootstrap", n_boot=400, seed=1).table
    b = correlate(iid, "y", ["x"], scope="pooled", inference="block_bootstrap", n_boot=400, seed=1).table
    pd.testing.assert_frame_equal(a, b)
    fisher = correlate(iid, "y", ["x"], scope="pooled").table.iloc[0]
    assert a["ci_low"].iloc[0] == pytest.approx(fisher["ci_low"], abs=0.1)
    assert a["ci_high"].iloc[0] == pytest.approx(fisher["ci_high"], abs=0.1)


def test_constant_kpi_and_too_few_periods_are_reported_not_guessed(iid):
    data = iid.assign(flat=1.0)
    t = correlate(data, "y", ["flat"], scope="pooled").table.iloc[0]
    assert t["status"] == "constant" and np.isnan(t["r"])
    short = iid.head(4)
    t = correlate(short, "y", ["x"], lags=2, scope="pooled_detrended").table
    assert set(t["status"]) == {"not_enough_data"}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "pearsonn"}, OptionError, "'method'"),
    ({"scope": "inside"}, OptionError, "'scope'"),
    ({"lags": -1}, OptionError, "'lags'"),
    ({"adjust": "bonferroni"}, OptionError, "'adjust'"),
    ({"covariates": ["nope"]}, InputError, "column 'nope'"),
])
def test_bad_options(iid, kwargs, error, match):
    with pytest.raises(error, match=match):
        correlate(iid, "y", ["x"], **kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulated world with a planted truth (seed fixed), as a weekly panel by queue."""
    import json
    from alignment import ExtraSource, build_panel
    from alignment.simulate import simulate
    out = tmp_path_factory.mktemp("world")
    simulate(out, seed=11)
    truth = json.loads((out / "truth.json").read_text())
    p = build_panel(out / "contacts.csv", surveys=out / "surveys.csv", grain="week", by=["queue"],
                    timezone=truth["timezone"],
                    extras=[ExtraSource(out / "backlog.csv", by=["queue"], aggregate="mean"),
                            ExtraSource(out / "marketing.csv", aggregate="sum")])
    return p, {d["name"]: d for d in truth["drivers"]}


def test_world_within_scope_removes_the_between_segment_trap(world):
    panel, truth = world
    trap = next(n for n, d in truth.items() if d["role"] == "trap_between_segment")
    # aht differs between queues, and (contact reasons shift centre-wide) moves with CSAT in
    # every queue at once: segment and period effects remove both
    t = correlate(panel, "csat", [trap], scope=["pooled", "within_twoway"]).table.set_index("scope")
    assert t.loc["pooled", "p_value"] < 0.05
    assert t.loc["within_twoway", "p_value"] > 0.05


def test_world_differences_remove_the_trend_trap(world):
    panel, truth = world
    trap = next(n for n, d in truth.items() if d["role"] == "trap_trend")
    t = correlate(panel, "csat", [trap], scope=["within", "within_differenced"]).table.set_index("scope")
    assert t.loc["within", "p_value"] < 0.05
    assert t.loc["within_differenced", "p_value"] > 0.05


def test_world_lagged_driver_shows_its_planted_lag(world):
    panel, truth = world
    lagged = next(n for n, d in truth.items() if d["role"] == "driver" and d["lag_weeks"] > 0)
    t = correlate(panel, "csat", [lagged], lags=3, scope="within_differenced").table
    best = t.loc[t["p_value"].idxmin()]
    assert best["lag"] == truth[lagged]["lag_weeks"]
    assert np.sign(best["r"]) == truth[lagged]["sign"] and best["p_adjusted"] < 0.01


def test_n_boot_is_capped_before_any_work():
    """A billion resamples would allocate 8 GB of draws: refused with the parameter's name."""
    from alignment import OptionError
    table = pd.DataFrame({"period": pd.date_range("2025-01-06", periods=30, freq="W-MON"),
                          "csat": np.arange(30.0) % 7, "asa": np.arange(30.0) % 5})
    with pytest.raises(OptionError, match="'n_boot' parameter of correlate.*100,000. Got 1000000000"):
        correlate(table, "csat", ["asa"], n_boot=10**9, inference="block_bootstrap")
