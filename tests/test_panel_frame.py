"""The shared panel layer: demeaning, centre-wide KPIs, weights, calendar; and period effects at work.

Reference values are independent of the code under test: dummy-variable least squares for the
demeaning, the ``holidays`` package's own calendar for holidays, numbers worked out by hand for
weights, and planted truth for what period effects must remove.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from alignment import OptionError, correlate, regress
from alignment.panel.frame import (Calendar, PanelFrame, calendar_columns, centre_wide, demean, outcome_weights)
from alignment.validation import validate


def _unbalanced(rng, n_seg=5, T=30):
    seg = np.repeat(np.arange(n_seg), T)
    t = np.tile(np.arange(T), n_seg) + 100
    keep = rng.random(len(seg)) > 0.2
    return seg[keep], t[keep]


@pytest.mark.parametrize("effects", ["twoway", "segment", "none"])
@pytest.mark.parametrize("trend", [False, True])
def test_demean_equals_weighted_least_squares_on_dummies(effects, trend):
    rng = np.random.default_rng(1)
    seg, t = _unbalanced(rng)
    x = rng.normal(size=(len(seg), 2)) + seg[:, None]
    w = rng.uniform(1, 50, len(seg))
    cols = [np.ones(len(seg))] if effects == "none" else [np.eye(seg.max() + 1)[seg]]
    if effects == "twoway":
        cols.append(np.eye(t.max() + 1)[t][:, np.unique(t)])
    if trend:
        cols.append((np.eye(seg.max() + 1)[seg] if effects != "none" else np.ones((len(seg), 1))) * t[:, None])
    D = np.column_stack(cols)
    sw = np.sqrt(w)[:, None]
    beta, *_ = np.linalg.lstsq(D * sw, x * sw, rcond=None)
    assert demean(x, seg, t, effects, w, trend=trend) == pytest.approx(x - D @ beta, abs=1e-10)


@pytest.mark.parametrize("n_seg, T, exact", [(5, 30, True), (40, 6, True), (5, 30, False)])
def test_twoway_demean_both_ways_equals_the_dummy_regression(monkeypatch, n_seg, T, exact):
    """The exact two-way solve (through the segments, or through the periods when they are
    fewer) and alternating projections both give the weighted dummy regression's residuals, on an
    unbalanced panel with a period where only one segment is seen."""
    from alignment.panel import frame
    if not exact:
        monkeypatch.setattr(frame, "MAX_EXACT_SIDE", -1)
    rng = np.random.default_rng(7)
    seg, t = _unbalanced(rng, n_seg=n_seg, T=T)
    lone = t == t.max()
    seg, t = seg[~lone | (seg == 0)], t[~lone | (seg == 0)]
    x = rng.normal(size=(len(seg), 2)) + seg[:, None] + np.sin(t)[:, None]
    w = rng.uniform(1, 50, len(seg))
    D = np.column_stack([np.eye(seg.max() + 1)[seg], np.eye(t.max() + 1)[t][:, np.unique(t)]])
    sw = np.sqrt(w)[:, None]
    beta, *_ = np.linalg.lstsq(D * sw, x * sw, rcond=None)
    assert demean(x, seg, t, "twoway", w) == pytest.approx(x - D @ beta, abs=1e-10)


def test_centre_wide_kpis_are_recognised():
    rng = np.random.default_rng(2)
    seg, t = np.repeat(np.arange(4), 20), np.tile(np.arange(20), 4)
    spend = np.tile(rng.normal(size=20), 4)
    assert centre_wide(spend, seg, t)
    assert not centre_wide(spend + 0.5 * rng.normal(size=80), seg, t)
    assert not centre_wide(spend, np.zeros(80, dtype=int), t)       # one segment: nothing to compare


def test_weights_follow_the_outcome():
    table = pd.DataFrame({"csat": [80.0, 90.0], "csat_n": [10, 40], "nps": [20.0, 30.0],
                          "nps_promoters": [5, 10], "nps_se": [10.0, 0.0], "n_surveys": [12, 44]})
    assert outcome_weights(table, "csat").tolist() == [10.0, 40.0]
    # NPS: 1 / se^2, a zero standard error floored at a quarter of the median positive one (2.5)
    assert outcome_weights(table, "nps").tolist() == pytest.approx([1 / 100, 1 / 6.25])
    assert outcome_weights(table, "cis").tolist() == [12.0, 44.0]     # a composite: all responses
    assert outcome_weights(table, "csat", "none") is None
    with pytest.raises(OptionError, match="'weights' parameter"):
        outcome_weights(table, "csat", "surveys")


def test_low_response_periods_leave_the_inference_and_are_counted():
    periods = pd.date_range("2025-01-06", periods=4, freq="7D")
    t = pd.DataFrame({"period": np.tile(periods, 2), "queue": np.repeat(["a", "b"], 4),
                      "csat": [80.0, 81, 82, 83, 70, 71, 72, 73], "csat_n": [50, 5, 50, 50, 50, 50, 3, 50],
                      "low_responses": [False, True, False, False, False, False, True, False]})
    data, col, label, n_low = PanelFrame.from_panel(t, by=["queue"]).analysis_table("csat")
    assert (col, label, n_low) == ("_w", "responses", 2)
    assert data["csat"].isna().tolist() == [False, True, False, False, False, False, True, False]
    assert t["csat"].notna().all()                                   # the panel itself is untouched


def test_calendar_columns_weekdays_holidays_events_and_seasonality():
    days = pd.Series(pd.date_range("2025-07-01", "2025-07-08", freq="D"))
    cal = calendar_columns(days, "day", Calendar(country="US", subdivision="NY",
                                                  events=(("2025-07-02", "Billing run"),)))
    import holidays
    us = holidays.country_holidays("US", subdiv="NY", years=2025)
    assert cal["cal_holiday"].tolist() == [float(d in us) for d in days.dt.date]
    assert cal["cal_holiday"].sum() == 1                             # 4 July
    assert cal["event_billing_run"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    assert cal["cal_fri"].tolist() == [float(d.day_of_week == 4) for d in days]
    assert "cal_mon" not in cal                                      # Monday is the base
    weeks = pd.Series(pd.date_range("2024-01-01", periods=104, freq="7D"))
    woy = calendar_columns(weeks, "week", Calendar(country="US"))
    assert {"cal_woy_sin1", "cal_woy_cos3", "cal_holidays"} <= set(woy.columns)
    assert woy["cal_holidays"].max() >= 1
    assert calendar_columns(weeks[:52], "week").empty                # a year or less: no seasonality
    with pytest.raises(OptionError, match="not known to the holidays package"):
        calendar_columns(days, "day", Calendar(country="XX"))


def _shocked_world(seed=0, n_seg=6, T=80):
    """A KPI that moves with incident periods common to every queue, which also lower CSAT directly:
    no causal effect. The true driver ``asa`` varies within queues and periods."""
    rng = np.random.default_rng(seed)
    shock = (rng.random(T) < 0.1) * rng.uniform(3, 6, T)
    rows = []
    for s in range(n_seg):
        volume = 100 + 20 * shock + 5 * rng.normal(size=T)
        asa = 40 + 8 * rng.normal(size=T)
        csat = 75 + 2 * s - 2.0 * shock - 0.1 * asa + rng.normal(size=T)
        rows.append(pd.DataFrame({"period": pd.date_range("2025-01-06", periods=T, freq="7D"), "queue": f"q{s}",
                                  "volume": volume, "asa": asa, "csat": csat}))
    return pd.concat(rows, ignore_index=True)


def test_period_effects_remove_a_common_shock_that_segment_effects_do_not():
    data = _shocked_world()
    t = correlate(data, "csat", ["volume"], by=["queue"], scope=["within", "within_twoway"]).table.set_index("scope")
    assert t.loc["within", "p_value"] < 0.01                         # fooled by the shared shock
    assert t.loc["within_twoway", "p_value"] > 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = regress(data, "csat", ["volume", "asa"], by=["queue"], effects="segment").table.set_index("kpi")
        tw = regress(data, "csat", ["volume", "asa"], by=["queue"]).table.set_index("kpi")
        v = validate(data, "csat", ["volume", "asa"], lags=0, by=["queue"])
    assert fe.loc["volume", "p_value"] < 0.01 and tw.loc["volume", "p_value"] > 0.05
    assert tw.loc["asa", "ci_low"] < -0.1 < tw.loc["asa", "ci_high"]
    assert v.effects == "twoway"
    assert v.verdict("volume") == "not_validated"
    assert "shocks common to all queues" in v.checks["volume"]["within_segment"]["reason"]
    assert v.verdict("asa") != "not_validated"


def test_a_centre_wide_kpi_is_analysed_on_time_variation_and_marked():
    data = _shocked_world(seed=1)
    spend = data.groupby("period")["volume"].transform("mean")        # the same in every queue
    data = data.assign(spend=spend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = validate(data, "csat", ["spend", "asa"], lags=0, by=["queue"])
    verdicts = v.verdicts.set_index("kpi")
    assert verdicts.loc["spend", "evidence"] == "time_series" and verdicts.loc["asa", "evidence"] == "panel"
    assert v.setup["spend"]["scope"] == "within" and v.setup["asa"]["scope"] == "within_twoway"
    with pytest.raises(Exception, match="no KPI varies.*period effects absorb it"):
        regress(data, "csat", ["spend"], by=["queue"])


def test_ordinal_model_clusters_by_segment_and_period():
    rng = np.random.default_rng(3)
    periods = pd.date_range("2025-01-06", periods=20, freq="7D")
    rows = []
    for q in range(4):
        for p in periods:
            x = rng.normal()
            n = 15
            latent = 0.3 * q + rng.logistic(size=n)
            rows.append(pd.DataFrame({"queue": f"q{q}", "period": p, "x": x,
                                      "score": np.clip(np.round(3 + latent), 1, 5).astype(int)}))
    data = pd.concat(rows, ignore_index=True)
    res = regress(data, "score", ["x"], by=["queue"], model="ordinal")
    assert res.errors == "cluster by queue x period (80 clusters)"
    assert res.effects == "twoway"                                    # 4 queues: segment and period effects
