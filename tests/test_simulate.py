"""Tests of the simulator: determinism, file schemas, invariants of the records,
daylight-saving offsets, the truth file, and the planted truth itself.

The planted-truth checks recompute the week x queue panel independently with
plain pandas (local dates are read straight from the ISO strings, so they do not
depend on the package's own time handling) and check what a sound analysis must
see: drivers correlate with CSAT within queues after detrending, the
between-segment trap vanishes within queues, and the trend trap vanishes in
first differences, while naive pooled correlations are fooled by both traps.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alignment.exceptions import OptionError
from alignment.simulate import simulate

FILES = ("contacts.csv", "surveys.csv", "backlog.csv", "marketing.csv", "staffing.csv",
         "truth.json")
COLUMNS = {
    "contacts.csv": ["contact_id", "queue", "channel", "arrived_at", "answered", "abandoned",
                     "wait_s", "handle_s", "transferred", "resolved", "customer_id",
                     "quality_score", "agent_id"],
    "surveys.csv": ["survey_id", "contact_id", "responded_at", "csat", "nps", "ces"],
    "backlog.csv": ["date", "queue", "email_backlog"],
    "marketing.csv": ["date", "marketing_spend"],
    "staffing.csv": ["date", "queue", "training_hours"],
}
BOOLS = ["answered", "abandoned", "transferred", "resolved"]
SMALL = dict(days=21, queues=2, contacts_per_day=30)


def _read_contacts(path):
    c = pd.read_csv(path / "contacts.csv",
                    dtype={"customer_id": str, "agent_id": str, **dict.fromkeys(BOOLS, str)})
    for col in BOOLS:
        assert set(c[col].unique()) <= {"true", "false"}, col
        c[col] = c[col] == "true"
    return c


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    truth = simulate(out, seed=7, **SMALL)
    return out, truth


# ------------------------------------------------------------------ determinism

def test_same_seed_same_bytes_different_seed_differs(tmp_path, small):
    out, _ = small
    again, other = tmp_path / "again", tmp_path / "other"
    simulate(again, seed=7, **SMALL)
    simulate(other, seed=8, **SMALL)
    for name in FILES:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    for name in ("contacts.csv", "surveys.csv", "backlog.csv", "marketing.csv"):
        assert (out / name).read_bytes() != (other / name).read_bytes(), name


# ------------------------------------------------------------------ schemas

def test_files_and_columns(small):
    out, _ = small
    for name in FILES:
        assert (out / name).is_file(), name
    for name, cols in COLUMNS.items():
        raw = (out / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
        assert list(pd.read_csv(out / name, nrows=1).columns) == cols, name


def test_extra_sources_cover_every_day_and_queue(small):
    out, truth = small
    days = pd.date_range("2025-01-06", periods=SMALL["days"]).strftime("%Y-%m-%d")
    queues = [q["queue"] for q in truth["queue_parameters"]]
    m = pd.read_csv(out / "marketing.csv")
    assert list(m["date"]) == list(days) and (m["marketing_spend"] > 0).all()
    for name, col in (("backlog.csv", "email_backlog"), ("staffing.csv", "training_hours")):
        t = pd.read_csv(out / name)
        assert len(t) == len(days) * len(queues)
        assert set(t["queue"]) == set(queues) and set(t["date"]) == set(days)
        assert (t[col] >= 0).all()


# ------------------------------------------------------------------ invariants

def test_contact_invariants(small):
    out, _ = small
    c = _read_contacts(out)
    assert c["contact_id"].is_unique
    assert not (c["answered"] & c["abandoned"]).any()
    assert (c["wait_s"] >= 0).all() and (c["handle_s"] >= 0).all()
    assert (c.loc[~c["answered"], "handle_s"] == 0).all()
    assert (c.loc[c["answered"], "handle_s"] > 0).all()
    assert not (c["resolved"] & ~c["answered"]).any()
    assert not (c["transferred"] & ~c["answered"]).any()
    assert c.loc[~c["answered"], "agent_id"].isna().all()
    assert c.loc[c["answered"], "agent_id"].notna().all()
    q = c["quality_score"].dropna()
    assert q.between(0, 100).all() and c.loc[~c["answered"], "quality_score"].isna().all()
    assert 0.05 < len(q) / c["answered"].sum() < 0.15
    assert c["customer_id"].value_counts().max() > 1          # repeat customers
    assert set(c["channel"]) == {"voice"}
    # Arrival order, local times within opening hours.
    t = pd.to_datetime(c["arrived_at"], utc=True, format="ISO8601")
    assert t.is_monotonic_increasing
    hours = c["arrived_at"].str[11:13].astype(int)
    assert hours.between(8, 19).all()


def test_survey_invariants(small):
    out, _ = small
    c = _read_contacts(out)
    s = pd.read_csv(out / "surveys.csv")
    assert s["survey_id"].is_unique and s["contact_id"].is_unique
    assert s["contact_id"].isin(c["contact_id"]).all()
    m = s.merge(c, on="contact_id")
    assert m["answered"].all()
    assert s["csat"].between(1, 5).all() and s["csat"].notna().all()
    assert s["nps"].dropna().between(0, 10).all() and s["ces"].dropna().between(1, 7).all()
    for col in ("csat", "nps", "ces"):
        assert (s[col].dropna() == s[col].dropna().round()).all()
    delay = (pd.to_datetime(m["responded_at"], utc=True, format="ISO8601")
             - pd.to_datetime(m["arrived_at"], utc=True, format="ISO8601"))
    assert (delay > pd.Timedelta(0)).all() and (delay <= pd.Timedelta(days=8)).all()
    rate = len(s) / c["answered"].sum()
    assert 0.15 <= rate <= 0.25


def test_offsets_change_at_dst(tmp_path):
    simulate(tmp_path, seed=3, days=14, queues=1, start="2025-03-03",
             contacts_per_day=40)
    c = pd.read_csv(tmp_path / "contacts.csv")
    date, offset = c["arrived_at"].str[:10], c["arrived_at"].str[-6:]
    assert set(offset[date < "2025-03-09"]) == {"-05:00"}
    assert set(offset[date >= "2025-03-09"]) == {"-04:00"}
    s = pd.read_csv(tmp_path / "surveys.csv")
    assert set(s["responded_at"].str[-6:]) <= {"-05:00", "-04:00"}
    # Another zone, another offset, and the autumn change.
    simulate(tmp_path / "berlin", seed=3, days=14, queues=1, start="2025-10-20",
             timezone="Europe/Berlin", contacts_per_day=40)
    c = pd.read_csv(tmp_path / "berlin" / "contacts.csv")
    date, offset = c["arrived_at"].str[:10], c["arrived_at"].str[-6:]
    assert set(offset[date < "2025-10-26"]) == {"+02:00"}
    assert set(offset[date >= "2025-10-26"]) == {"+01:00"}


# ------------------------------------------------------------------ truth.json

def test_truth_file_matches_return_value(small):
    out, truth = small
    assert json.loads((out / "truth.json").read_text(encoding="utf-8")) == truth
    assert {k: truth[k] for k in ("seed", "days", "queues", "start", "timezone")} == {
        "seed": 7, "days": 21, "queues": 2, "start": "2025-01-06",
        "timezone": "America/New_York"}
    assert isinstance(truth["grain_note"], str) and "week" in truth["grain_note"]
    assert "csat" in truth["outcome_model"] and "eta" in truth["outcome_model"]


def test_truth_drivers(tmp_path):
    truth = simulate(str(tmp_path), seed=1, days=7, queues=1, contacts_per_day=5)
    by_name = {d["name"]: d for d in truth["drivers"]}
    required = {"name", "role", "sign", "lag_days", "lag_weeks", "threshold", "effect"}
    for d in truth["drivers"]:
        assert required <= set(d)
        assert d["role"] in {"driver", "trap_trend", "trap_between_segment", "noise"}
        assert d["sign"] in (-1, 0, 1) and d["lag_days"] == 7 * d["lag_weeks"]
        assert (d["sign"] != 0) == (d["role"] == "driver")
    assert by_name["asa"]["role"] == "driver" and by_name["asa"]["sign"] == -1
    assert by_name["asa"]["threshold"] == 60
    assert by_name["fcr"]["sign"] == 1 and by_name["fcr"]["lag_weeks"] == 0
    assert by_name["email_backlog"]["sign"] == -1
    assert (by_name["email_backlog"]["lag_weeks"], by_name["email_backlog"]["lag_days"]) == (1, 7)
    assert by_name["marketing_spend"]["role"] == "trap_trend"
    assert by_name["aht"]["role"] == "trap_between_segment"
    assert by_name["training_hours"]["role"] == "noise"


@pytest.mark.parametrize("kwargs", [
    dict(seed=-1), dict(seed=1.5), dict(seed=True), dict(seed=1, days=0),
    dict(seed=1, queues=0), dict(seed=1, start="2025-13-01"), dict(seed=1, start="6 Jan"),
    dict(seed=1, timezone="Mars/Olympus"), dict(seed=1, contacts_per_day=0),
])
def test_invalid_options_raise(tmp_path, kwargs):
    with pytest.raises(OptionError, match="parameter of simulate"):
        simulate(tmp_path, **kwargs)


def test_queue_names(tmp_path):
    truth = simulate(tmp_path, seed=1, days=7, queues=6, contacts_per_day=10)
    names = [q["queue"] for q in truth["queue_parameters"]]
    assert names[:4] == ["billing", "orders", "tech_support", "retention"]
    assert len(set(names)) == 6
    assert set(pd.read_csv(tmp_path / "contacts.csv")["queue"]) <= set(names)


# ------------------------------------------------------------------ planted truth

def _week(dates):
    d = pd.to_datetime(dates)
    return d - pd.to_timedelta(d.dt.day_of_week, unit="D")


def _panel(path):
    """Week x queue panel from the files, with plain pandas."""
    c = _read_contacts(path)
    c["week"] = _week(c["arrived_at"].str[:10])          # the local calendar date
    a = c[c["answered"]].groupby(["queue", "week"])
    p = pd.DataFrame({"asa": a["wait_s"].mean(), "aht": a["handle_s"].mean(),
                      "fcr": 100 * a["resolved"].mean()})
    s = pd.read_csv(path / "surveys.csv").merge(c[["contact_id", "queue", "week"]])
    p["csat"] = 100 * (s["csat"] >= 4).groupby([s["queue"], s["week"]]).mean()
    p["n_surveys"] = s.groupby(["queue", "week"]).size()
    b = pd.read_csv(path / "backlog.csv")
    b["week"] = _week(b["date"])
    p["email_backlog"] = b.groupby(["queue", "week"])["email_backlog"].mean()
    m = pd.read_csv(path / "marketing.csv")
    m["week"] = _week(m["date"])
    t = pd.read_csv(path / "staffing.csv")
    t["week"] = _week(t["date"])
    p["training_hours"] = t.groupby(["queue", "week"])["training_hours"].sum()
    p = p.reset_index().merge(m.groupby("week")["marketing_spend"].sum().reset_index())
    p = p.sort_values(["queue", "week"]).reset_index(drop=True)
    p["email_backlog_lag1"] = p.groupby("queue")["email_backlog"].shift(1)
    p["asa_excess"] = (p["asa"] - 60).clip(lower=0)
    p["t"] = p.groupby("queue").cumcount().astype(float)
    return p


def _within_detrended(p, x, y="csat"):
    """Correlation after removing each queue's mean and linear trend."""
    q = p.dropna(subset=[x, y])
    parts = []
    for _, g in q.groupby("queue"):
        design = np.column_stack([np.ones(len(g)), g["t"]])
        res = {v: g[v] - design @ np.linalg.lstsq(design, g[v].to_numpy(), rcond=None)[0]
               for v in (x, y)}
        parts.append(pd.DataFrame(res))
    r = pd.concat(parts)
    return r[x].corr(r[y])


def _within(p, x, y="csat"):
    q = p.dropna(subset=[x, y])
    dm = q.groupby("queue")[[x, y]].transform(lambda v: v - v.mean())
    return dm[x].corr(dm[y])


def _first_diff(p, x, y="csat"):
    d = p.groupby("queue")[[x, y]].diff().dropna()
    return d[x].corr(d[y])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    truth = simulate(out, seed=11)                        # 52 weeks x 4 queues
    return _panel(out), truth


def test_world_size(world):
    p, _ = world
    assert len(p) == 52 * 4
    assert p["n_surveys"].min() >= 30 and p["n_surveys"].mean() > 50


def test_drivers_have_planted_sign_within_queues(world):
    p, truth = world
    sign = {d["name"]: d["sign"] for d in truth["drivers"]}
    for col, name in (("asa_excess", "asa"), ("asa", "asa"), ("fcr", "fcr"),
                      ("email_backlog_lag1", "email_backlog")):
        r = _within_detrended(p, col)
        assert np.sign(r) == sign[name] and abs(r) > 0.2, (col, r)


def test_lagged_driver_acts_at_lag_one(world):
    p, _ = world
    assert abs(_within_detrended(p, "email_backlog_lag1")) > \
        2 * abs(_within_detrended(p, "email_backlog"))


def test_asa_threshold(world):
    """Below the threshold the weekly ASA has no slope; above it a steep one."""
    p, truth = world
    thr = next(d["threshold"] for d in truth["drivers"] if d["name"] == "asa")
    q = p.copy()
    q["below"] = q["asa"].clip(upper=thr)
    q["above"] = (q["asa"] - thr).clip(lower=0)
    dummies = pd.get_dummies(q["queue"], dtype=float)
    design = np.column_stack([dummies, q["t"], q["fcr"], q["below"], q["above"]])
    ok = ~np.isnan(design).any(axis=1)
    coef = np.linalg.lstsq(design[ok], q["csat"].to_numpy()[ok], rcond=None)[0]
    below, above = coef[-2], coef[-1]
    assert above < -0.1 and abs(below) < abs(above) / 2, (below, above)


def test_between_segment_trap_vanishes_within_queues(world):
    p, _ = world
    pooled = p["aht"].corr(p["csat"])
    assert pooled < -0.3                                  # the naive analysis is fooled
    assert abs(_within(p, "aht")) < 0.2 and abs(_within_detrended(p, "aht")) < 0.2


def test_trend_trap_vanishes_in_first_differences(world):
    p, _ = world
    assert p["marketing_spend"].corr(p["csat"]) > 0.15    # the naive analysis is fooled
    assert _within(p, "marketing_spend") > 0.15
    assert abs(_first_diff(p, "marketing_spend")) < 0.15
    assert abs(_within_detrended(p, "marketing_spend")) < 0.15


def test_noise_is_noise(world):
    p, _ = world
    assert abs(_within_detrended(p, "training_hours")) < 0.15
    assert abs(p["training_hours"].corr(p["csat"])) < 0.15
