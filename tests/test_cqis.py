"""The Customer Quality Interaction Score: each customer's running CQIS by hand, its bands, and as
the CX score of the churn link (a planted effect found, a null world's interval holding 0)."""

import numpy as np
import pandas as pd
import pytest

from alignment import business_impact
from alignment.exceptions import InputError
from alignment.impact import cqis_band, cqis_frame


def test_running_score_and_bands_by_hand():
    c = pd.DataFrame({"contact_id": list("abcdef"), "customer_id": ["K1", "K1", "K2", "K1", None, "K2"],
                      "queue": "q", "quality_score": [90, None, 55, 60, 70, 65],
                      "arrived_at": ["2025-01-06T09:00:00-05:00", "2025-01-07T09:00:00-05:00",
                                     "2025-01-06T10:00:00", "2025-03-10T09:00:00-04:00",
                                     "2025-01-06T11:00:00-05:00", "2025-01-20T08:00:00Z"]})
    f = cqis_frame(c, timezone="America/New_York").set_index("contact_id")
    # unscored (b) and anonymous (e) contacts are not in it; K1: 90, then (90 + 60) / 2; K2: 55, then (55 + 65) / 2
    assert list(f.index) == ["a", "c", "f", "d"]           # by local time
    assert f["cqis"].to_dict() == {"c": 55.0, "a": 90.0, "f": 60.0, "d": 75.0}
    assert f["cqis_n"].to_dict() == {"c": 1, "a": 1, "f": 2, "d": 2}
    assert f["cqis_band"].to_dict() == {"c": "critical", "a": "excellent", "f": "acceptable", "d": "acceptable"}
    assert str(f.loc["f", "contact_ts"]) == "2025-01-20 03:00:00"          # 08:00 UTC is 03:00 in New York
    assert str(f.loc["d", "period"].date()) == "2025-03-10"                # the Monday of its week
    assert cqis_band([100, 80, 79.99, 60, 59.9, 0]).tolist() == ["excellent", "excellent", "acceptable",
                                                               "acceptable", "critical", "critical"]


def test_input_untouched_same_result_and_empty_refused():
    contacts, _, _ = _planted(-0.05, n=300)
    before = contacts.copy()
    a, b = cqis_frame(contacts, timezone="UTC"), cqis_frame(contacts, timezone="UTC")
    pd.testing.assert_frame_equal(contacts, before)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError, match="no quality-scored contact"):
        cqis_frame(contacts.assign(quality_score=None), timezone="UTC")


def test_a_bad_score_or_missing_column_is_named():
    c = pd.DataFrame({"customer_id": ["K1", "K2"], "queue": "q", "arrived_at": ["2025-01-06T09:00:00Z"] * 2,
                      "quality_score": [50, 140]})
    with pytest.raises(InputError, match=r"column 'quality_score'.*row 2: a quality score must be a number from 0 to 100"):
        cqis_frame(c, timezone="UTC")
    with pytest.raises(InputError, match=r"column 'queue'"):
        cqis_frame(c.drop(columns="queue"), timezone="UTC")


def _planted(slope: float, n: int = 6000, seed: int = 4):
    """Customers each with one scored contact; leaving within 90 days is logistic in the quality score."""
    rng = np.random.default_rng(seed)
    at = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 270, n), unit="D")
    q = np.clip(np.round(rng.normal(75, 12, n)), 0, 100)
    p = 1 / (1 + np.exp(-(-2.5 + slope * (q - 75))))
    left = rng.uniform(size=n) < p
    churned = at + pd.to_timedelta(rng.uniform(0.01, 89.9, n), unit="D")
    ids = [f"K{i}" for i in range(n)]
    contacts = pd.DataFrame({"contact_id": [f"C{i}" for i in range(n)], "customer_id": ids,
                             "queue": rng.choice(["a", "b"], n), "arrived_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "quality_score": q})
    customers = pd.DataFrame({"customer_id": ids, "churned_at": churned.where(left)})
    # the average marginal effect of a point on the chance of leaving, in percentage points
    return contacts, customers, float(100 * np.mean(p * (1 - p)) * slope)


def test_cqis_as_the_cx_score_of_the_churn_link_finds_the_planted_effect():
    contacts, customers, truth = _planted(-0.05)
    frame = cqis_frame(contacts, timezone="UTC")
    res = business_impact(frame, "cqis", customers=customers, by=["queue"], timezone="UTC",
                          as_of="2025-12-31", n_boot=0, cox=False, mediators=[])
    lo, hi = res.cx_effect["ci"]
    assert res.n_contacts == len(contacts) and hi < 0 and lo < truth < hi


def test_a_null_world_gives_an_interval_holding_zero():
    contacts, customers, truth = _planted(0.0)
    res = business_impact(cqis_frame(contacts, timezone="UTC"), "cqis", customers=customers, by=["queue"],
                          timezone="UTC", as_of="2025-12-31", n_boot=0, cox=False, mediators=[])
    lo, hi = res.cx_effect["ci"]
    assert truth == 0 and lo < 0 < hi


def test_cqis_as_the_study_outcome(tmp_path):
    from conftest import STUDY

    from alignment.report import render_markdown
    from alignment.simulate import simulate
    from alignment.study import load_study
    simulate(tmp_path, seed=11, days=182, queues=2, churn="cx")
    (tmp_path / "study.toml").write_text(STUDY.format(outcome="interaction_quality_score")
                                         + '[data.customers]\npath = "customers.csv"\nvalue = "annual_revenue"\n')
    result = load_study(tmp_path / "study.toml").run(progress=False)
    assert result.to_dict()["study"]["outcome"] == "interaction_quality_score"
    # the outcome of one week and queue by hand: the sum of its quality scores over its scored contacts
    c = pd.read_csv(tmp_path / "contacts.csv")
    local = pd.to_datetime(c["arrived_at"], utc=True).dt.tz_convert("America/New_York").dt.tz_localize(None)
    c["period"] = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
    t = result.panel.table
    row = t.iloc[len(t) // 2]
    part = c[(c["period"] == row["period"]) & (c["queue"] == row["queue"])]["quality_score"].dropna()
    assert row["interaction_quality_score"] == pytest.approx(part.sum() / len(part), rel=1e-12)
    md = render_markdown(result)
    assert "what drives CQIS" in md and "interaction_quality_score" in md    # the plain name; the column in the table

    # the churn link runs on the CQIS: each quality-scored contact with its customer's CQIS so far
    doc = result.to_dict()["business_impact"]
    assert doc["cx"] == "interaction_quality_score" and doc["value_per_cx_point"] is not None
    by_hand = cqis_frame(c, timezone="America/New_York", name="interaction_quality_score")
    day = by_hand["contact_ts"].dt.normalize()
    by_hand = by_hand[(day >= pd.Timestamp(result.panel.start)) & (day <= pd.Timestamp(result.panel.end))]
    assert result.business_impact.n_contacts < len(by_hand)       # the windows past the data end are dropped
    # the simulated quality scores play no part in leaving (churn follows the experienced CSAT only)
    lo, hi = doc["cx_effect"]["ci"]
    assert lo < 0 < hi
    assert "Business impact: what a CQIS point is worth" in md and "Each quality-scored contact followed" in md
