"""Per-segment effects against statsmodels on a world with planted per-queue slopes.

The reference is statsmodels' own least squares: each queue's regression on its own time
variation (segment effects), and the dummy regression ``y ~ C(queue) + C(period) + x:C(queue)``
(two-way effects), weighted where the panel carries response counts.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from alignment import OptionError, segment_effects

T = 60


def world(slopes, seed=0, lagged=False):
    """Queues q0, q1, ... with CSAT = queue level + a shock common to the week + slope x ASA + noise."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-01-01", periods=T, freq="W-MON")
    shock = rng.normal(scale=2.0, size=T)
    rows = []
    for q, b in enumerate(slopes):
        asa = 30 + 5 * q + np.cumsum(rng.normal(size=T)) * 0.5 + rng.normal(scale=3.0, size=T)
        driver = np.r_[np.nan, asa[:-1]] if lagged else asa
        csat = 70 + 3 * q + shock + b * driver + rng.normal(scale=1.0, size=T)
        rows.append(pd.DataFrame({"period": periods, "queue": f"q{q}", "asa": asa, "csat": csat,
                                  "csat_n": rng.integers(20, 80, size=T)}))
    return pd.concat(rows, ignore_index=True)


def slope_per_unit(res):
    return dict(zip(res.table["segment"], res.table["coef"]))


def test_segment_effects_equal_each_queues_own_regression():
    data = world([-0.2, -0.05], seed=1)
    # calendar=False: over more than a year the segment-effects model adds week-of-year controls
    res = segment_effects(data, "csat", "asa", by=["queue"], effects="segment", weights="none", calendar=False)
    for q, part in data.groupby("queue"):
        ref = smf.ols("csat ~ asa", data=part).fit()
        assert slope_per_unit(res)[q] == pytest.approx(ref.params["asa"], rel=1e-9)
    assert list(res.table["n"]) == [T, T]
    # the effect is per natural step of ASA (10 s), its interval around it
    row = res.table.iloc[0]
    assert row["effect"] == pytest.approx(10 * row["coef"]) and row["ci_low"] < row["effect"] < row["ci_high"]
    assert res.effect_unit.endswith("per 10 s of ASA")
    assert "heterogeneity p = " in res.summary() and "<table" in res._repr_html_()


@pytest.mark.parametrize("weights", ["none", "responses"])
def test_two_way_segment_effects_equal_the_dummy_regression_at_a_lag(weights):
    data = world([-0.3, -0.1, -0.1], seed=2, lagged=True)
    res = segment_effects(data, "csat", "asa", by=["queue"], lag=1, effects="twoway", weights=weights)
    ref_data = data.sort_values(["queue", "period"]).assign(
        asa_lag=lambda d: d.groupby("queue")["asa"].shift(1)).dropna(subset=["asa_lag", "csat"])
    formula = "csat ~ C(queue) + C(period) + asa_lag:C(queue)"
    ref = (smf.wls(formula, data=ref_data, weights=ref_data["csat_n"]) if weights == "responses"
           else smf.ols(formula, data=ref_data)).fit()
    for q, b in slope_per_unit(res).items():
        assert b == pytest.approx(ref.params[f"asa_lag:C(queue)[{q}]"], rel=1e-8)
    assert list(res.table["n"]) == [T - 1] * 3
    # the planted slopes are inside the intervals, and the queues are told apart
    planted = dict(q0=-3.0, q1=-1.0, q2=-1.0)
    for r in res.table.itertuples():
        assert r.ci_low < planted[r.segment] < r.ci_high
    assert res.heterogeneity_p < 0.001 and res.differ


def test_heterogeneity_is_not_found_when_the_slopes_are_equal():
    p = [segment_effects(world([-0.2] * 3, seed=s), "csat", "asa", by=["queue"], weights="none").heterogeneity_p
         for s in range(6)]
    assert sum(v < 0.05 for v in p) <= 1 and np.median(p) > 0.2
    differ = segment_effects(world([-0.3, -0.3, 0.0], seed=0), "csat", "asa", by=["queue"], weights="none")
    assert differ.heterogeneity_p < 0.001
    doc = differ.to_dict()
    assert [r["segment"] for r in doc["by_segment"]] == ["q0", "q1", "q2"]
    assert set(doc["by_segment"][0]) == {"segment", "effect", "ci", "n_periods"}


def test_segment_effects_need_segments_and_a_kpi_that_differs_between_them():
    data = world([-0.2, -0.1], seed=3)
    with pytest.raises(OptionError, match="at least two segments"):
        segment_effects(data[data["queue"] == "q0"], "csat", "asa", by=["queue"])
    data["spend"] = data.groupby("period")["asa"].transform("mean")
    with pytest.raises(OptionError, match="effects='segment'"):
        segment_effects(data, "csat", "spend", by=["queue"], effects="twoway")
