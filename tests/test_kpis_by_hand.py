"""Every KPI of the contract checked against numbers worked out by hand.

The expected values below are literals computed on paper from the tables in this
file (the arithmetic is in the comment next to each); nothing here calls the
code under test to produce an expected value. Reference: /work/contract/API.md
and alignment/catalog/metrics.toml (formulas), threshold T = 20 s and short
abandon = 5 s unless a test says otherwise; "within" means wait_s <= threshold.

The toy center: queues A and B, Monday 2025-01-06 and Tuesday 2025-01-07 (one
ISO week, 2025-W02, starting Monday 2025-01-06), local time America/New_York.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alignment import KpiOptions, NonAdditiveMetricWarning, build_panel

TZ = "America/New_York"
WEEK = "2025-01-06"
DAY1, DAY2 = "2025-01-06", "2025-01-07"

# id, queue, arrived_at, answered, abandoned, wait_s, handle_s, transferred, resolved,
# customer_id, quality_score
_CONTACTS = [
    ("a1", "A", "2025-01-06T09:00:00-05:00", True, False, 10.0, 300.0, False, True, "c1", 80.0),
    ("a2", "A", "2025-01-06T09:10:00-05:00", True, False, 20.0, 200.0, True, False, "c2", None),   # wait == T: within
    ("a3", "A", "2025-01-06T10:00:00-05:00", True, False, 21.0, 400.0, False, True, "c1", 90.0),   # wait == T+1: not within
    ("a4", "A", "2025-01-06T11:00:00-05:00", False, True, 5.0, 0.0, False, False, "c3", None),     # wait == short: short abandon
    # resolved=True on an abandoned contact: n_resolved counts answered AND resolved only
    ("a5", "A", "2025-01-06T12:00:00-05:00", False, True, 30.0, 0.0, False, True, None, None),
    ("a6", "A", "2025-01-06T13:00:00-05:00", True, False, 0.0, 100.0, False, True, "c2", 70.0),
    ("a7", "A", "2025-01-07T09:00:00-05:00", True, False, 15.0, 250.0, False, False, "c1", None),
    # transferred=True on an abandoned contact: n_transferred counts answered AND transferred only
    ("a8", "A", "2025-01-07T10:00:00-05:00", False, True, 6.0, 0.0, True, False, "c4", None),      # wait == short+1: not short
    ("b1", "B", "2025-01-06T09:30:00-05:00", True, False, 25.0, 600.0, True, True, "c5", 60.0),
    ("b2", "B", "2025-01-06T10:30:00-05:00", False, True, 3.0, 0.0, False, False, "c5", None),
    # quality 0 is a scored contact (counts in the denominator), unlike a blank
    ("b3", "B", "2025-01-06T11:30:00-05:00", True, False, 5.0, 120.0, False, True, "c1", 0.0),
    ("b4", "B", "2025-01-07T09:30:00-05:00", True, False, 40.0, 180.0, False, False, "c5", 50.0),
    ("b5", "B", "2025-01-07T10:30:00-05:00", True, False, 12.0, 240.0, False, True, "c7", 100.0),
    ("b6", "B", "2025-01-07T11:30:00-05:00", False, True, 20.0, 0.0, False, False, None, None),    # abandoned at exactly T
    ("b7", "B", "2025-01-07T12:30:00-05:00", False, True, 2.0, 0.0, False, False, "c7", None),
]

# survey_id, contact_id, responded_at, csat (1-5), nps (0-10), ces (1-7)
_SURVEYS = [
    ("s1", "a1", "2025-01-06T15:00:00-05:00", 5, 10, 2),
    ("s2", "a2", "2025-01-06T16:00:00-05:00", 4, 9, 3),
    ("s3", "a3", "2025-01-07T08:00:00-05:00", 3, 7, 5),
    ("s4", "a6", "2025-01-08T09:00:00-05:00", 2, 3, 6),
    # answered in the NEXT ISO week (Monday 2025-01-13) about a contact of week 2025-01-06
    ("s5", "a7", "2025-01-13T10:00:00-05:00", 5, 6, None),
    ("s6", "b1", "2025-01-06T18:00:00-05:00", 1, 0, 7),
    ("s7", "b3", "2025-01-07T09:00:00-05:00", 4, 10, 1),
    ("s8", "b5", "2025-01-07T20:00:00-05:00", None, 9, 2),
    ("s9", "b4", "2025-01-09T12:00:00-05:00", 5, 8, 4),
]


def contacts_df() -> pd.DataFrame:
    cols = ["contact_id", "queue", "arrived_at", "answered", "abandoned", "wait_s", "handle_s",
            "transferred", "resolved", "customer_id", "quality_score"]
    df = pd.DataFrame(_CONTACTS, columns=cols)
    df.insert(2, "channel", "voice")
    df["quality_score"] = df["quality_score"].astype(float)
    return df


def surveys_df() -> pd.DataFrame:
    df = pd.DataFrame(_SURVEYS, columns=["survey_id", "contact_id", "responded_at", "csat", "nps", "ces"])
    for c in ("csat", "nps", "ces"):
        df[c] = df[c].astype(float)
    return df


def build(*, grain="week", by=("queue",), options=None, **kw):
    kw.setdefault("start", DAY1)
    kw.setdefault("end", "2025-01-12")
    kw.setdefault("surveys", surveys_df())
    return build_panel(contacts_df(), grain=grain, by=by, timezone=TZ,
                       options=options, **kw)


def rows(panel, **keys) -> pd.DataFrame:
    t = panel.table
    mask = pd.Series(True, index=t.index)
    for k, v in keys.items():
        if k == "period":
            mask &= pd.to_datetime(t["period"]).dt.strftime("%Y-%m-%d") == v
        else:
            mask &= t[k] == v
    return t[mask]


def one(panel, **keys) -> pd.Series:
    r = rows(panel, **keys)
    assert len(r) == 1, f"expected exactly one row for {keys}, got {len(r)}:\n{panel.table}"
    return r.iloc[0]


def check(actual, expected, what=""):
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        assert actual is None or pd.isna(actual), f"{what}: expected NaN, got {actual!r}"
    else:
        assert not pd.isna(actual), f"{what}: expected {expected!r}, got NaN"
        assert float(actual) == pytest.approx(expected, rel=1e-9, abs=1e-9), \
            f"{what}: expected {expected!r}, got {actual!r}"


# --------------------------------------------------------------------------------------
# components (week x queue and whole center)
# --------------------------------------------------------------------------------------

COMPONENTS_A = {
    "n_contacts": 8,                  # a1..a8
    "n_answered": 5,                  # a1 a2 a3 a6 a7
    "n_abandoned": 3,                 # a4 a5 a8
    "n_answered_within_t": 4,         # a1(10) a2(20 = T) a6(0) a7(15); a3(21) is not
    "n_abandoned_within_t": 2,        # a4(5) a8(6); a5(30) is not
    "n_short_abandons": 1,            # a4(5 = short); a8(6) is not
    "wait_answered_s": 66.0,          # 10 + 20 + 21 + 0 + 15
    "wait_abandoned_s": 41.0,         # 5 + 30 + 6
    "handle_answered_s": 1250.0,      # 300 + 200 + 400 + 100 + 250
    "n_resolved": 3,                  # a1 a3 a6 (a5 is resolved but abandoned)
    "n_transferred": 1,               # a2 (a8 is transferred but abandoned)
    "n_identified": 7,                # all but a5
    "n_customers": 4,                 # c1 c2 c3 c4
    "quality_sum": 240.0,             # 80 + 90 + 70
    "n_quality_scored": 3,            # a1 a3 a6
    "n_surveys": 5,                   # s1..s5 (s5 answered next week, still counts here)
    "csat_n": 5,                      # 5 4 3 2 5
    "csat_top": 3,                    # 5 4 5
    "csat_sum": 19.0,                 # 5 + 4 + 3 + 2 + 5
    "nps_n": 5,                       # 10 9 7 3 6
    "nps_promoters": 2,               # 10 9
    "nps_detractors": 2,              # 3 6
    "ces_n": 4,                       # 2 3 5 6 (s5 blank)
    "ces_sum": 16.0,                  # 2 + 3 + 5 + 6
}

COMPONENTS_B = {
    "n_contacts": 7,                  # b1..b7
    "n_answered": 4,                  # b1 b3 b4 b5
    "n_abandoned": 3,                 # b2 b6 b7
    "n_answered_within_t": 2,         # b3(5) b5(12); b1(25) b4(40) are not
    "n_abandoned_within_t": 3,        # b2(3) b6(20 = T) b7(2)
    "n_short_abandons": 2,            # b2(3) b7(2); b6(20) is not
    "wait_answered_s": 82.0,          # 25 + 5 + 40 + 12
    "wait_abandoned_s": 25.0,         # 3 + 20 + 2
    "handle_answered_s": 1140.0,      # 600 + 120 + 180 + 240
    "n_resolved": 3,                  # b1 b3 b5
    "n_transferred": 1,               # b1
    "n_identified": 6,                # all but b6
    "n_customers": 3,                 # c5 c1 c7
    "quality_sum": 210.0,             # 60 + 0 + 50 + 100
    "n_quality_scored": 4,            # b1 b3(0 is a score) b4 b5
    "n_surveys": 4,                   # s6..s9
    "csat_n": 3,                      # 1 4 5 (s8 blank)
    "csat_top": 2,                    # 4 5
    "csat_sum": 10.0,                 # 1 + 4 + 5
    "nps_n": 4,                       # 0 10 9 8
    "nps_promoters": 2,               # 10 9
    "nps_detractors": 1,              # 0
    "ces_n": 4,                       # 7 1 2 4
    "ces_sum": 14.0,                  # 7 + 1 + 2 + 4
}

COMPONENTS_ALL = {
    "n_contacts": 15, "n_answered": 9, "n_abandoned": 6, "n_answered_within_t": 6,
    "n_abandoned_within_t": 5, "n_short_abandons": 3, "wait_answered_s": 148.0,
    "wait_abandoned_s": 66.0, "handle_answered_s": 2390.0, "n_resolved": 6, "n_transferred": 2,
    "n_identified": 13,
    "n_customers": 6,                 # c1 c2 c3 c4 c5 c7 -- c1 is in both queues, so NOT 4 + 3
    "quality_sum": 450.0, "n_quality_scored": 7, "n_surveys": 9, "csat_n": 8, "csat_top": 5,
    "csat_sum": 29.0, "nps_n": 9, "nps_promoters": 4, "nps_detractors": 3, "ces_n": 8,
    "ces_sum": 30.0,
}


# n_abandoned_within_t feeds only the "offered_minus_abandoned_within_t" service level;
# the value tests select that variant so that every component has a column whatever
# the implementation does with components no chosen metric needs (see the next test).
ALL_COMPONENTS_OPTS = KpiOptions(service_level_variant="offered_minus_abandoned_within_t")


@pytest.mark.parametrize("queue,expected", [("A", COMPONENTS_A), ("B", COMPONENTS_B)])
def test_components_week_by_queue(queue, expected):
    r = one(build(options=ALL_COMPONENTS_OPTS), period=WEEK, queue=queue)
    for name, value in expected.items():
        check(r[name], value, f"queue {queue} {name}")


def test_components_whole_center():
    r = one(build(by=(), options=ALL_COMPONENTS_OPTS), period=WEEK)
    for name, value in COMPONENTS_ALL.items():
        check(r[name], value, f"whole center {name}")


def test_every_contract_component_is_a_column_with_default_options():
    # API.md lists the components of Panel.table; with every input column present
    # and default options, each of them should be there.
    missing = [c for c in COMPONENTS_ALL if c not in build(by=()).table.columns]
    assert not missing, f"components listed in the contract but absent from the table: {missing}"


# --------------------------------------------------------------------------------------
# metrics (default options: T = 20 s, short = 5 s, service_level "offered", csat "top2")
# --------------------------------------------------------------------------------------

METRICS_A = {
    "service_level": 50.0,                    # 4 answered within 20 s of 8 offered
    "abandon_rate": 37.5,                     # 3 abandoned of 8 offered
    "abandon_rate_excl_short": 28.571428571428573,  # (3 - 1) / (8 - 1) = 2/7
    "asa": 13.2,                              # 66 s / 5 answered (abandoners excluded)
    "avg_time_to_abandon": 13.666666666666666,  # 41 s / 3 abandoned
    "aht": 250.0,                             # 1250 s / 5 answered
    "fcr": 60.0,                              # 3 resolved / 5 answered
    "transfer_rate": 20.0,                    # 1 transferred / 5 answered
    "offered": 8,                             # 8 contacts
    "customer_interaction_rate": 175.0,       # 100 * 7 identified / 4 distinct customers
    "interaction_quality_score": 80.0,        # (80 + 90 + 70) / 3 scored (blanks excluded)
    "csat": 60.0,                             # 3 of 5 responses in 4-5
    "nps": 0.0,                               # 100 * (2 - 2) / 5
    "nps_se": 40.0,                           # p = d = 0.4: 100 * sqrt((0.8 - 0) / 5) = 100 * 0.4
    "ces": 4.0,                               # 16 / 4
}

METRICS_B = {
    "service_level": 28.571428571428573,      # 2 within 20 s of 7 offered = 200/7
    "abandon_rate": 42.857142857142854,       # 3 / 7
    "abandon_rate_excl_short": 20.0,          # (3 - 2) / (7 - 2) = 1/5
    "asa": 20.5,                              # 82 / 4
    "avg_time_to_abandon": 8.333333333333334,  # 25 / 3
    "aht": 285.0,                             # 1140 / 4
    "fcr": 75.0,                              # 3 / 4
    "transfer_rate": 25.0,                    # 1 / 4
    "offered": 7,
    "customer_interaction_rate": 200.0,       # 100 * 6 / 3
    "interaction_quality_score": 52.5,        # (60 + 0 + 50 + 100) / 4
    "csat": 66.66666666666667,                # 2 of 3 in 4-5
    "nps": 25.0,                              # 100 * (2 - 1) / 4
    "nps_se": 41.4578098794425,               # p = .5, d = .25: 100 * sqrt((.75 - .0625) / 4) = 100 * sqrt(.171875)
    "ces": 3.5,                               # 14 / 4
}

METRICS_ALL = {
    "service_level": 40.0,                    # 6 / 15
    "abandon_rate": 40.0,                     # 6 / 15
    "abandon_rate_excl_short": 25.0,          # (6 - 3) / (15 - 3)
    "asa": 16.444444444444443,                # 148 / 9
    "avg_time_to_abandon": 11.0,              # 66 / 6
    "aht": 265.55555555555554,                # 2390 / 9
    "fcr": 66.66666666666667,                 # 6 / 9
    "transfer_rate": 22.22222222222222,       # 2 / 9
    "offered": 15,
    "customer_interaction_rate": 216.66666666666666,  # 100 * 13 / 6 (not 13 / (4 + 3))
    "interaction_quality_score": 64.28571428571429,   # 450 / 7
    "csat": 62.5,                             # 5 / 8
    "nps": 11.11111111111111,                 # 100 * (4 - 3) / 9
    "nps_se": 29.162992125969673,             # p = 4/9, d = 3/9: 100 * sqrt((7/9 - 1/81) / 9) = 100 * sqrt(62/729)
    "ces": 3.75,                              # 30 / 8
}


@pytest.mark.parametrize("queue,expected", [("A", METRICS_A), ("B", METRICS_B)])
def test_metrics_week_by_queue(queue, expected):
    r = one(build(), period=WEEK, queue=queue)
    for name, value in expected.items():
        check(r[name], value, f"queue {queue} {name}")


def test_metrics_whole_center():
    r = one(build(by=()), period=WEEK)
    for name, value in METRICS_ALL.items():
        check(r[name], value, f"whole center {name}")


def test_nps_se_formula_literal():
    # the contract's formula spelled out once more for queue B, to pin its shape
    p, d, n = 2 / 4, 1 / 4, 4
    assert 100 * math.sqrt((p + d - (p - d) ** 2) / n) == pytest.approx(41.4578098794425)
    r = one(build(), period=WEEK, queue="B")
    check(r["nps_se"], 41.4578098794425, "nps_se B")


# service level, the 4 denominators.    queue A: within 4, offered 8, answered 5,
# abandoned within T 2, short 1.         queue B: within 2, offered 7, answered 4,
# abandoned within T 3, short 2.         all:     within 6, offered 15, answered 9, 5, 3.
SERVICE_LEVEL = {
    "offered": (50.0,                     # A: 4 / 8
                28.571428571428573,       # B: 2 / 7
                40.0),                    # all: 6 / 15
    "answered": (80.0,                    # A: 4 / 5
                 50.0,                    # B: 2 / 4
                 66.66666666666667),      # all: 6 / 9
    "offered_minus_abandoned_within_t": (
        66.66666666666667,                # A: 4 / (8 - 2)
        50.0,                             # B: 2 / (7 - 3)
        60.0),                            # all: 6 / (15 - 5)
    "offered_minus_short_abandons": (
        57.142857142857146,               # A: 4 / (8 - 1)
        40.0,                             # B: 2 / (7 - 2)
        50.0),                            # all: 6 / (15 - 3)
}


@pytest.mark.parametrize("variant", sorted(SERVICE_LEVEL))
def test_service_level_variants(variant):
    opts = KpiOptions(service_level_threshold_s=20, service_level_variant=variant, short_abandon_s=5)
    exp_a, exp_b, exp_all = SERVICE_LEVEL[variant]
    by_queue = build(options=opts)
    check(one(by_queue, period=WEEK, queue="A")["service_level"], exp_a, f"{variant} A")
    check(one(by_queue, period=WEEK, queue="B")["service_level"], exp_b, f"{variant} B")
    check(one(build(by=(), options=opts), period=WEEK)["service_level"], exp_all, f"{variant} all")


def test_thresholds_are_options():
    # T = 10, short = 6.  Queue A: answered within 10 s: a1(10 = T) a6(0) -> 2;
    # abandoned within 10: a4(5) a8(6) -> 2; short (<= 6): a4(5) a8(6) -> 2.
    opts = KpiOptions(service_level_threshold_s=10, short_abandon_s=6)
    r = one(build(options=opts), period=WEEK, queue="A")
    check(r["n_answered_within_t"], 2, "n_answered_within_t")
    check(r["n_abandoned_within_t"], 2, "n_abandoned_within_t")
    check(r["n_short_abandons"], 2, "n_short_abandons")
    check(r["service_level"], 25.0, "service_level")                 # 2 / 8
    check(r["abandon_rate_excl_short"], 16.666666666666668, "ar_xs")  # (3 - 2) / (8 - 2)


def test_csat_mean_variant():
    opts = KpiOptions(csat_variant="mean")
    by_queue = build(options=opts)
    check(one(by_queue, period=WEEK, queue="A")["csat"], 3.8, "A")                 # 19 / 5
    check(one(by_queue, period=WEEK, queue="B")["csat"], 3.3333333333333335, "B")  # 10 / 3
    check(one(build(by=(), options=opts), period=WEEK)["csat"], 3.625, "all")     # 29 / 8


def test_day_grain_values():
    p = build(grain="day", end=DAY2)
    # A, Monday: a1..a6: 6 offered, within T a1 a2 a6 = 3, abandoned a4 a5 = 2
    a1 = one(p, period=DAY1, queue="A")
    check(a1["n_contacts"], 6, "A d1 n_contacts")
    check(a1["service_level"], 50.0, "A d1 SL")          # 3 / 6
    check(a1["abandon_rate"], 33.333333333333336, "A d1 AR")  # 2 / 6
    check(a1["asa"], 12.75, "A d1 asa")                   # (10 + 20 + 21 + 0) / 4
    # A, Tuesday: a7 a8 -> within a7 = 1 of 2; abandoned a8 = 1 of 2
    a2 = one(p, period=DAY2, queue="A")
    check(a2["service_level"], 50.0, "A d2 SL")
    check(a2["abandon_rate"], 50.0, "A d2 AR")
    # s5 (responded 2025-01-13) rates a7, a Tuesday contact: it counts on Tuesday
    check(a2["csat_n"], 1, "A d2 csat_n")
    check(a2["csat"], 100.0, "A d2 csat")                 # one response of 5
    # B, Tuesday: b4..b7, csat responses: b4 -> 5 (b5's survey has no csat)
    b2 = one(p, period=DAY2, queue="B")
    check(b2["n_contacts"], 4, "B d2 n_contacts")
    check(b2["service_level"], 25.0, "B d2 SL")           # b5 only of 4
    check(b2["abandon_rate_excl_short"], 33.333333333333336, "B d2")  # (2 - 1) / (4 - 1)
    check(b2["csat_n"], 1, "B d2 csat_n")
    check(b2["nps_n"], 2, "B d2 nps_n")                   # b4 -> 8, b5 -> 9
    check(b2["nps"], 50.0, "B d2 nps")                    # 100 * (1 - 0) / 2


# --------------------------------------------------------------------------------------
# pooled, never averaged
# --------------------------------------------------------------------------------------

def _tiny_two_days() -> pd.DataFrame:
    # Monday: 1 contact answered in 10 s       -> SL 100 %, abandon 0 %
    # Tuesday: answered in 30 s and 45 s and one abandoned after 60 s
    #                                           -> SL 0 %,  abandon 33.3 %
    rows_ = [
        ("t1", "A", "2025-01-06T09:00:00-05:00", True, False, 10.0),
        ("t2", "A", "2025-01-07T09:00:00-05:00", True, False, 30.0),
        ("t3", "A", "2025-01-07T10:00:00-05:00", True, False, 45.0),
        ("t4", "A", "2025-01-07T11:00:00-05:00", False, True, 60.0),
    ]
    df = pd.DataFrame(rows_, columns=["contact_id", "queue", "arrived_at", "answered", "abandoned", "wait_s"])
    df["channel"] = "voice"
    df["handle_s"] = np.where(df["answered"], 100.0, 0.0)
    df["transferred"] = False
    df["resolved"] = df["answered"]
    return df


def test_week_is_pooled_not_mean_of_daily_rates_worked_example():
    contacts = _tiny_two_days()
    day = build_panel(contacts, grain="day", timezone=TZ)
    check(one(day, period=DAY1)["service_level"], 100.0, "Mon SL")   # 1 / 1
    check(one(day, period=DAY2)["service_level"], 0.0, "Tue SL")     # 0 / 3
    check(one(day, period=DAY2)["abandon_rate"], 33.333333333333336, "Tue AR")  # 1 / 3
    week = one(build_panel(contacts, grain="week", timezone=TZ), period=WEEK)
    # pooled: 1 within T of 4 offered = 25 %; the mean of daily rates would be (100 + 0) / 2 = 50
    check(week["service_level"], 25.0, "week SL")
    assert week["service_level"] != pytest.approx(50.0)
    # pooled: 1 abandoned of 4 = 25 %; mean of daily rates (0 + 33.33) / 2 = 16.67
    check(week["abandon_rate"], 25.0, "week AR")
    assert week["abandon_rate"] != pytest.approx(16.666666666666668)
    # asa pooled: (10 + 30 + 45) / 3 = 28.33; mean of daily asa (10 + 37.5) / 2 = 23.75
    check(week["asa"], 28.333333333333332, "week asa")
    assert week["asa"] != pytest.approx(23.75)


def test_week_is_pooled_on_toy_center_and_repool_agrees():
    # whole center, Monday: 9 offered, within T a1 a2 a6 b3 = 4 -> 44.44 %
    #               Tuesday: 6 offered, within T a7 b5 = 2     -> 33.33 %
    # mean of the daily rates = 38.89 %; pooled week = 6 / 15 = 40 %
    day = build(grain="day", by=(), end=DAY2)
    check(one(day, period=DAY1)["service_level"], 44.44444444444444, "Mon")
    check(one(day, period=DAY2)["service_level"], 33.333333333333336, "Tue")
    week = one(build(by=()), period=WEEK)
    check(week["service_level"], 40.0, "week")
    assert week["service_level"] != pytest.approx(38.888888888888886)
    with pytest.warns(NonAdditiveMetricWarning):      # customer_interaction_rate is dropped
        repooled = one(day.repool(grain="week"), period=WEEK)
    check(repooled["service_level"], 40.0, "repooled week")
    # ASA: Monday (10+20+21+0+25+5)/6 = 13.5, Tuesday (15+40+12)/3 = 22.33; pooled 148/9
    check(repooled["asa"], 16.444444444444443, "repooled asa")
    assert repooled["asa"] != pytest.approx((13.5 + 22.333333333333332) / 2)


def test_repool_queues_to_center_keeps_distinct_customers_honest():
    # summing queue A's 4 and B's 3 distinct customers would give 7; the truth is 6.
    # Whatever repool does for customer_interaction_rate it must not report 100*13/7.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rp = build().repool(by=())
    r = one(rp, period=WEEK)
    check(r["service_level"], 40.0, "repooled SL")        # 6 / 15
    check(r["csat"], 62.5, "repooled csat")               # 5 / 8
    if "customer_interaction_rate" in rp.table.columns and not pd.isna(r["customer_interaction_rate"]):
        check(r["customer_interaction_rate"], 216.66666666666666, "CIR")  # 100 * 13 / 6
    assert not ("customer_interaction_rate" in rp.table.columns
                and r["customer_interaction_rate"] == pytest.approx(100 * 13 / 7))


# --------------------------------------------------------------------------------------
# surveys, empty periods, low responses, panel attributes, layout
# --------------------------------------------------------------------------------------

def test_survey_answered_next_week_counts_in_contact_week():
    # explicit window 2025-01-06..12: s5 (responded 2025-01-13) must still count for a7's week
    r = one(build(), period=WEEK, queue="A")
    check(r["csat_n"], 5, "csat_n")
    check(r["nps_n"], 5, "nps_n")
    # default window: the survey must not open a new week of its own with its responses
    p = build_panel(contacts_df(), surveys=surveys_df(), grain="week", by=("queue",), timezone=TZ)
    check(one(p, period=WEEK, queue="A")["csat_n"], 5, "csat_n default window")
    later = rows(p, period="2025-01-13")
    assert (later["n_surveys"].fillna(0) == 0).all() if len(later) else True


def test_period_without_contacts_stays_with_zeros_and_nan():
    c = contacts_df()
    # keep Monday 2025-01-06 and move Tuesday's contacts to Thursday 2025-01-09:
    # Tuesday and Wednesday have no contact at all
    c["arrived_at"] = c["arrived_at"].str.replace("2025-01-07", "2025-01-09")
    p = build_panel(c, surveys=surveys_df(), grain="day", by=(), timezone=TZ)
    for empty in ("2025-01-07", "2025-01-08"):
        r = one(p, period=empty)
        for comp in ("n_contacts", "n_answered", "n_abandoned", "n_answered_within_t",
                     "wait_answered_s", "handle_answered_s", "n_surveys", "csat_n", "nps_n"):
            check(r[comp], 0, f"{empty} {comp}")
        for m in ("service_level", "abandon_rate", "abandon_rate_excl_short", "asa", "aht", "fcr",
                  "transfer_rate", "avg_time_to_abandon", "interaction_quality_score",
                  "customer_interaction_rate", "csat", "nps", "ces"):
            check(r[m], float("nan"), f"{empty} {m}")
    check(one(p, period="2025-01-09")["n_contacts"], 6, "Thursday")   # a7 a8 b4 b5 b6 b7
    # offered is a count, not a rate: an empty period offers 0 contacts (never NaN)
    check(one(p, period="2025-01-07")["offered"], 0, "offered on empty day")
    # by queue: if an empty (period, queue) row is listed, it must be zeros and NaN
    pq = build_panel(c, grain="day", by=("queue",), timezone=TZ)
    for _, r in rows(pq, period="2025-01-08").iterrows():
        check(r["n_contacts"], 0, "empty queue-day")
        check(r["service_level"], float("nan"), "empty queue-day SL")


def test_week_with_no_contacts_between_two_weeks():
    c = contacts_df()
    c["arrived_at"] = c["arrived_at"].str.replace("2025-01-07", "2025-01-21")  # week of Jan 20
    p = build_panel(c, grain="week", by=(), timezone=TZ)
    check(one(p, period="2025-01-06")["n_contacts"], 9, "wk1")   # Monday's 9 contacts
    check(one(p, period="2025-01-13")["n_contacts"], 0, "wk2 empty")
    check(one(p, period="2025-01-13")["abandon_rate"], float("nan"), "wk2 AR")
    check(one(p, period="2025-01-20")["n_contacts"], 6, "wk3")


def test_low_responses_flag():
    p = build(min_responses=5)
    # A has 5 surveys (5 < 5 is false), B has 4 (4 < 5 is true)
    assert bool(one(p, period=WEEK, queue="A")["low_responses"]) is False
    assert bool(one(p, period=WEEK, queue="B")["low_responses"]) is True
    # default min_responses = 30: both are low
    p30 = build()
    assert one(p30, period=WEEK, queue="A")["low_responses"]
    assert one(p30, period=WEEK, queue="B")["low_responses"]
    # whole center: 9 surveys
    assert not one(build(by=(), min_responses=9), period=WEEK)["low_responses"]
    assert one(build(by=(), min_responses=10), period=WEEK)["low_responses"]


def test_panel_attributes_and_layout():
    p = build()
    assert p.grain == "week"
    assert tuple(p.by) == ("queue",)
    assert p.n_contacts == 15
    assert p.n_surveys == 9
    assert p.n_surveys_matched == 9
    assert str(p.start)[:10] == DAY1
    assert str(p.end)[:10] == "2025-01-12"
    cols = list(p.table.columns)
    assert cols[0] == "period" and cols[1] == "queue"
    assert pd.api.types.is_datetime64_any_dtype(p.table["period"])
    # components before metrics before low_responses
    assert cols.index("n_contacts") < cols.index("service_level") < cols.index("low_responses")
    assert cols.index("ces_sum") < cols.index("csat")
    assert len(p.table) == 2                     # one week x two queues


def test_contact_neither_answered_nor_abandoned_is_still_offered():
    # The contract only forbids answered AND abandoned; a contact that is neither
    # (e.g. deflected to a callback) is offered but neither answered nor abandoned.
    c = contacts_df()
    extra = c.iloc[[0]].copy()
    extra["contact_id"] = "a9"
    extra["answered"] = False
    extra["abandoned"] = False
    extra["wait_s"] = 3.0
    extra["handle_s"] = 0.0
    extra["customer_id"] = None
    extra["quality_score"] = float("nan")
    c = pd.concat([c, extra], ignore_index=True)
    p = build_panel(c, grain="week", by=("queue",), timezone=TZ, start=DAY1, end="2025-01-12")
    r = one(p, period=WEEK, queue="A")
    check(r["n_contacts"], 9, "n_contacts")
    check(r["n_answered"], 5, "n_answered")
    check(r["n_abandoned"], 3, "n_abandoned")
    check(r["n_short_abandons"], 1, "short")                 # a9 waited 3 s but did not abandon
    check(r["service_level"], 44.44444444444444, "SL")       # 4 / 9
    check(r["abandon_rate"], 33.333333333333336, "AR")       # 3 / 9


def test_composite_score_from_csv_files(tmp_path):
    """A CompositeScore over CSV surveys (read as text, then typed): cis = 0 + 100 x (2/3 x
    (csat - 1) / 4 + 1/3 x nps / 10), over the responses that have both scores.
    Queue A: s1 100, s2 2/3 x .75 + 1/3 x .9 = .8 -> 80, s3 .3333 + .2333 -> 56.667,
    s4 .1667 + .1 -> 26.667, s5 .6667 + .2 -> 86.667: sum 350, n 5, mean 70.
    Queue B: s6 0, s7 .5 + .3333 -> 83.333, s9 .6667 + .2667 -> 93.333 (s8 has no csat): sum
    176.667, n 3, mean 58.889."""
    from alignment import CompositeScore
    contacts_df().to_csv(tmp_path / "contacts.csv", index=False)
    surveys_df().to_csv(tmp_path / "surveys.csv", index=False)
    panel = build_panel(tmp_path / "contacts.csv", surveys=tmp_path / "surveys.csv", grain="week", by=["queue"],
                        timezone=TZ, start=DAY1, end="2025-01-12", metrics=["cis"],
                        survey_metrics=[CompositeScore("cis", weights={"csat": 2, "nps": 1}, scale=(0, 100))],
                        min_responses=1)
    for queue, total, n in (("A", 350.0, 5), ("B", 176.0 + 2 / 3, 3)):
        row = one(panel, queue=queue, period=WEEK)
        check(row["cis_n"], n, f"{queue} cis_n")
        # sums are exact to the sixth decimal of each response (for byte-identical panels)
        assert row["cis_sum"] == pytest.approx(total, abs=n * 1e-6)
        assert row["cis"] == pytest.approx(total / n, abs=1e-6)
