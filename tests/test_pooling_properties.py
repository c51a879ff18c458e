"""Property tests for pooling: rates are re-pooled from additive components.

Random contact (and survey) tables over four weeks around the 2025 spring DST
change, several queues, waits that often sit exactly on the thresholds
(T = 20 s, short abandon = 5 s). Properties:

(a) the day panel re-pooled to weeks equals the panel built at week grain;
(b) re-pooling over segments equals building without segments;
(c) components are additive over a split of the contacts;
(d) every rate lies in its range and equals multiplier * numerator / denominator
    of the row's own components (NaN exactly when the denominator is 0).

The distinct count n_customers (and customer_interaction_rate built on it) is
not additive and is checked separately: repool must never invent it by summing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignment import KpiOptions, NonAdditiveMetricWarning, build_panel

TZ = "America/New_York"
T0 = pd.Timestamp("2025-02-24T05:00:00Z")       # Monday 2025-02-24 00:00 EST
SPAN_S = 28 * 86400                              # four weeks, crossing 2025-03-09 (DST)
QUEUES = ["A", "B", "C"]
CUSTOMERS = [None, "c1", "c2", "c3", "c4", "c5", "c6"]
WAITS = [0.0, 4.5, 5.0, 5.5, 19.5, 20.0, 20.5, 60.0]

ADDITIVE = [
    "n_contacts", "n_answered", "n_abandoned", "n_answered_within_t", "n_abandoned_within_t",
    "n_short_abandons", "wait_answered_s", "wait_abandoned_s", "handle_answered_s", "n_resolved",
    "n_transferred", "n_identified", "quality_sum", "n_quality_scored", "n_surveys", "csat_n",
    "csat_top", "csat_sum", "nps_n", "nps_promoters", "nps_detractors", "ces_n", "ces_sum",
]
RATIO_METRICS = [
    "service_level", "abandon_rate", "abandon_rate_excl_short", "asa", "avg_time_to_abandon",
    "aht", "fcr", "transfer_rate", "offered", "interaction_quality_score", "csat", "nps",
    "nps_se", "ces",
]
DISTINCT = ["n_customers", "customer_interaction_rate"]

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------

_contact = st.fixed_dictionaries({
    "queue": st.sampled_from(QUEUES),
    "offset_s": st.integers(0, SPAN_S - 1),
    "answered": st.booleans(),
    "wait_s": st.one_of(st.sampled_from(WAITS), st.integers(0, 600).map(lambda x: x / 2)),
    "handle_s": st.integers(0, 1200).map(float),
    "transferred": st.booleans(),
    "resolved": st.booleans(),
    "customer_id": st.sampled_from(CUSTOMERS),
    "quality_score": st.one_of(st.none(), st.integers(0, 100)),
    "survey": st.one_of(st.none(), st.fixed_dictionaries({
        "delay_s": st.integers(0, 10 * 86400),
        "csat": st.one_of(st.none(), st.integers(1, 5)),
        "nps": st.one_of(st.none(), st.integers(0, 10)),
        "ces": st.one_of(st.none(), st.integers(1, 7)),
    })),
})


def _tables(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    c_rows, s_rows = [], []
    for i, r in enumerate(rows):
        at = T0 + pd.Timedelta(seconds=r["offset_s"])
        c_rows.append({
            "contact_id": f"k{i}",
            "queue": r["queue"],
            "channel": "voice",
            "arrived_at": at.tz_convert(TZ).isoformat(),
            "answered": r["answered"],
            "abandoned": not r["answered"],
            "wait_s": r["wait_s"],
            "handle_s": r["handle_s"] if r["answered"] else 0.0,
            "transferred": r["transferred"],
            "resolved": r["resolved"],
            "customer_id": r["customer_id"],
            "quality_score": np.nan if r["quality_score"] is None else float(r["quality_score"]),
        })
        s = r["survey"]
        if s is not None:
            s_rows.append({
                "survey_id": f"s{i}",
                "contact_id": f"k{i}",
                "responded_at": (at + pd.Timedelta(seconds=s["delay_s"])).tz_convert(TZ).isoformat(),
                "csat": np.nan if s["csat"] is None else float(s["csat"]),
                "nps": np.nan if s["nps"] is None else float(s["nps"]),
                "ces": np.nan if s["ces"] is None else float(s["ces"]),
            })
    contacts = pd.DataFrame(c_rows)
    surveys = pd.DataFrame(s_rows, columns=["survey_id", "contact_id", "responded_at", "csat", "nps", "ces"])
    return contacts, surveys


@st.composite
def center(draw, min_rows=1, max_rows=30):
    rows = draw(st.lists(_contact, min_size=min_rows, max_size=max_rows))
    return _tables(rows)


def _window(contacts: pd.DataFrame) -> tuple[str, str]:
    local = pd.to_datetime(contacts["arrived_at"], utc=True).dt.tz_convert(TZ)
    return local.min().strftime("%Y-%m-%d"), local.max().strftime("%Y-%m-%d")


def _build(contacts, surveys, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # low-response / unmatched warnings are not under test
        return build_panel(contacts, surveys=surveys if len(surveys) else None, timezone=TZ, **kw)


def _repool(panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return panel.repool(**kw)


def _keyed(panel, by) -> pd.DataFrame:
    t = panel.table.copy()
    t["period"] = pd.to_datetime(t["period"]).dt.strftime("%Y-%m-%d")
    return t.set_index(["period", *by]).sort_index()


def _close(a, b) -> bool:
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _assert_same(left: pd.DataFrame, right: pd.DataFrame, columns, what: str):
    """Rows present on both sides must agree; a row on one side only must be empty."""
    for key in left.index.union(right.index):
        if key not in left.index or key not in right.index:
            only = left if key in left.index else right
            assert only.loc[key, "n_contacts"] == 0, f"{what}: row {key} only on one side and not empty"
            continue
        for col in columns:
            if col not in left.columns and col not in right.columns:
                continue
            assert col in left.columns and col in right.columns, f"{what}: column {col} on one side only"
            a, b = left.loc[key, col], right.loc[key, col]
            assert _close(a, b), f"{what}: {key} {col}: {a!r} != {b!r}"


# --------------------------------------------------------------------------------------
# (a) day -> week, (b) segments -> center
# --------------------------------------------------------------------------------------

@SETTINGS
@given(center())
def test_day_panel_repooled_to_week_equals_week_panel(tables):
    contacts, surveys = tables
    by = ("queue",)
    day = _build(contacts, surveys, grain="day", by=by)
    week = _build(contacts, surveys, grain="week", by=by)
    repooled = _repool(day, grain="week")
    assert repooled.grain == "week"
    _assert_same(_keyed(repooled, by), _keyed(week, by), ADDITIVE + RATIO_METRICS + ["low_responses"],
                 "day->week")
    _check_distinct_not_summed(repooled)


@SETTINGS
@given(center())
def test_segment_panel_repooled_to_center_equals_center_panel(tables):
    contacts, surveys = tables
    by_queue = _build(contacts, surveys, grain="week", by=("queue",))
    center_ = _build(contacts, surveys, grain="week", by=())
    repooled = _repool(by_queue, by=())
    assert tuple(repooled.by) == ()
    _assert_same(_keyed(repooled, ()), _keyed(center_, ()), ADDITIVE + RATIO_METRICS + ["low_responses"],
                 "queue->center")
    _check_distinct_not_summed(repooled)


@SETTINGS
@given(center())
def test_day_by_queue_repooled_to_week_center_in_one_step(tables):
    contacts, surveys = tables
    day = _build(contacts, surveys, grain="day", by=("queue",))
    week = _build(contacts, surveys, grain="week", by=())
    with pytest.warns(NonAdditiveMetricWarning):
        repooled = day.repool(grain="week", by=())
    _assert_same(_keyed(repooled, ()), _keyed(week, ()),
                 ADDITIVE + RATIO_METRICS, "day x queue -> week x center")
    _check_distinct_not_summed(repooled)


# --------------------------------------------------------------------------------------
# distinct counts are not additive
# --------------------------------------------------------------------------------------

def _check_distinct_not_summed(repooled):
    """Documented in Panel.repool: distinct-count metrics cannot be re-pooled from a
    panel and are dropped (with a NonAdditiveMetricWarning), never summed."""
    cols = set(repooled.table.columns)
    assert "customer_interaction_rate" not in cols
    assert "n_customers" not in cols
    assert "customer_interaction_rate" not in repooled.metrics


def test_repool_distinct_customers_worked_example():
    # c1 calls on Monday and on Tuesday: 2 distinct customers-days, 1 distinct customer in the week.
    contacts = pd.DataFrame({
        "contact_id": ["x1", "x2", "x3"], "queue": ["A"] * 3, "channel": ["voice"] * 3,
        "arrived_at": ["2025-01-06T09:00:00-05:00", "2025-01-07T09:00:00-05:00", "2025-01-07T10:00:00-05:00"],
        "answered": [True] * 3, "abandoned": [False] * 3, "wait_s": [1.0] * 3, "handle_s": [60.0] * 3,
        "transferred": [False] * 3, "resolved": [True] * 3, "customer_id": ["c1", "c1", "c2"],
    })
    day = build_panel(contacts, grain="day", timezone=TZ)
    week = build_panel(contacts, grain="week", timezone=TZ)
    # Monday: 1 interaction / 1 customer = 100; Tuesday: 2 / 2 = 100; week: 3 / 2 = 150
    assert week.table["customer_interaction_rate"].iloc[0] == pytest.approx(150.0)
    # summing the daily distinct counts would give 100 * 3 / (1 + 2) = 100: the metric
    # is dropped with a named warning instead
    with pytest.warns(NonAdditiveMetricWarning, match="customer_interaction_rate"):
        rp = day.repool(grain="week")
    _check_distinct_not_summed(rp)
    assert rp.table["n_identified"].iloc[0] == 3      # additive components still pool
    # a panel without the distinct-count metric re-pools silently
    plain = build_panel(contacts.drop(columns="customer_id"), grain="day", timezone=TZ)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonAdditiveMetricWarning)
        plain.repool(grain="week")


# --------------------------------------------------------------------------------------
# (c) additivity over a split of the contacts
# --------------------------------------------------------------------------------------

@SETTINGS
@given(center(min_rows=2), st.data())
def test_components_add_up_over_a_split(tables, data):
    contacts, surveys = tables
    n = len(contacts)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if mask.all() or not mask.any():
        mask[0] = not mask[0]
    start, end = _window(contacts)
    by = ("queue",)
    kw = dict(grain="week", by=by, start=start, end=end)
    parts = []
    for m in (mask, ~mask):
        c = contacts[m].reset_index(drop=True)
        s = surveys[surveys["contact_id"].isin(c["contact_id"])].reset_index(drop=True)
        parts.append(_keyed(_build(c, s, **kw), by))
    whole = _keyed(_build(contacts, surveys, **kw), by)
    # a part without surveys has no survey columns: its survey components are 0
    cols = [c for c in ADDITIVE if c in whole.columns]
    total = (parts[0].reindex(columns=cols, fill_value=0)
             .add(parts[1].reindex(columns=cols, fill_value=0), fill_value=0))
    for key in whole.index.union(total.index):
        for col in cols:
            w = whole.loc[key, col] if key in whole.index else 0
            t = total.loc[key, col] if key in total.index else 0
            assert _close(w, t), f"{key} {col}: whole {w!r} != sum of parts {t!r}"
    # the distinct count is sub-additive: max(parts) <= whole <= sum(parts)
    for key in whole.index:
        w = whole.loc[key, "n_customers"]
        p = [part.loc[key, "n_customers"] if key in part.index else 0 for part in parts]
        assert max(p) <= w <= sum(p), f"{key}: n_customers {w} vs parts {p}"


# --------------------------------------------------------------------------------------
# (d) each metric is multiplier * numerator / denominator of its row's components
# --------------------------------------------------------------------------------------

def _ratio(num, den, mult=1.0):
    return float("nan") if den == 0 else mult * num / den


def _expected(r: pd.Series, variant: str, csat_variant: str) -> dict[str, float]:
    sl_den = {
        "offered": r.n_contacts,
        "answered": r.n_answered,
        "offered_minus_abandoned_within_t": r.n_contacts - r.n_abandoned_within_t,
        "offered_minus_short_abandons": r.n_contacts - r.n_short_abandons,
    }[variant]
    n = r.nps_n
    if n:
        p, d = r.nps_promoters / n, r.nps_detractors / n
        nps_se = 100 * math.sqrt((p + d - (p - d) ** 2) / n)
    else:
        nps_se = float("nan")
    return {
        "service_level": _ratio(r.n_answered_within_t, sl_den, 100),
        "abandon_rate": _ratio(r.n_abandoned, r.n_contacts, 100),
        "abandon_rate_excl_short": _ratio(r.n_abandoned - r.n_short_abandons,
                                          r.n_contacts - r.n_short_abandons, 100),
        "asa": _ratio(r.wait_answered_s, r.n_answered),
        "avg_time_to_abandon": _ratio(r.wait_abandoned_s, r.n_abandoned),
        "aht": _ratio(r.handle_answered_s, r.n_answered),
        "fcr": _ratio(r.n_resolved, r.n_answered, 100),
        "transfer_rate": _ratio(r.n_transferred, r.n_answered, 100),
        "offered": float(r.n_contacts),
        "customer_interaction_rate": _ratio(r.n_identified, r.n_customers, 100),
        "interaction_quality_score": _ratio(r.quality_sum, r.n_quality_scored),
        "csat": (_ratio(r.csat_top, r.csat_n, 100) if csat_variant == "top2"
                 else _ratio(r.csat_sum, r.csat_n)),
        "nps": _ratio(r.nps_promoters - r.nps_detractors, n, 100),
        "nps_se": nps_se,
        "ces": _ratio(r.ces_sum, r.ces_n),
    }


PERCENT = ["service_level", "abandon_rate", "abandon_rate_excl_short", "fcr", "transfer_rate"]


@SETTINGS
@given(center(),
       st.sampled_from(["offered", "answered", "offered_minus_abandoned_within_t",
                        "offered_minus_short_abandons"]),
       st.sampled_from(["top2", "mean"]),
       st.sampled_from(["day", "week", "month"]))
def test_metrics_are_ratios_of_components_and_in_range(tables, variant, csat_variant, grain):
    contacts, surveys = tables
    opts = KpiOptions(service_level_threshold_s=20, service_level_variant=variant,
                      short_abandon_s=5, csat_variant=csat_variant)
    panel = _build(contacts, surveys, grain=grain, by=("queue",), options=opts)
    t = panel.table.copy()
    has_surveys = "n_surveys" in t.columns
    for c in ADDITIVE + ["n_customers"]:          # no surveys table -> no survey columns; treat as 0
        if c not in t.columns:
            t[c] = 0
    for _, r in t.iterrows():
        # components are consistent with each other
        assert r.n_answered + r.n_abandoned == r.n_contacts          # exclusive and exhaustive here
        assert r.n_answered_within_t <= r.n_answered
        assert r.n_short_abandons <= r.n_abandoned_within_t <= r.n_abandoned
        assert r.n_resolved <= r.n_answered and r.n_transferred <= r.n_answered
        assert r.csat_top <= r.csat_n and r.nps_promoters + r.nps_detractors <= r.nps_n
        assert r.n_customers <= r.n_identified <= r.n_contacts
        exp = _expected(r, variant, csat_variant)
        for name, value in exp.items():
            if name not in t.columns:
                assert not has_surveys or name not in ("csat", "nps", "nps_se", "ces"), f"{name} missing"
                continue
            assert _close(r[name], value), f"{r.period} {r.queue} {name}: {r[name]!r} != {value!r}"
        for name in PERCENT:
            assert pd.isna(r[name]) or 0.0 <= r[name] <= 100.0, f"{name} = {r[name]}"
        assert pd.isna(r.customer_interaction_rate) or r.customer_interaction_rate >= 100.0
        if not has_surveys:
            continue
        if csat_variant == "top2":
            assert pd.isna(r.csat) or 0.0 <= r.csat <= 100.0
        else:
            assert pd.isna(r.csat) or 1.0 <= r.csat <= 5.0
        assert pd.isna(r.nps) or -100.0 <= r.nps <= 100.0
        assert pd.isna(r.nps_se) or 0.0 <= r.nps_se <= 100.0
        assert pd.isna(r.ces) or 1.0 <= r.ces <= 7.0
        assert bool(r.low_responses) == (r.n_surveys < 30)
