"""The fast paths of the panel engine give exactly what the straightforward ones give.

Aware timestamps (Parquet, pandas) are summed by 15-minute UTC bucket and then by local
period, with the window applied as UTC bounds; text timestamps are converted per row. Integer
ids are checked for duplicates with a bitmap, others with a hash table.
"""

import numpy as np
import pandas as pd
import pytest

import alignment.panel.build as panel_build
from alignment import InputError, build_panel
from alignment.engine.duckdb_engine import DuckDBSession


@pytest.fixture
def buckets(monkeypatch):
    """Take the bucket path whatever the volume, and record the panel SQL that ran."""
    monkeypatch.setattr(panel_build, "MIN_CONTACTS_PER_BUCKET", 0)
    seen = []
    frame = DuckDBSession.frame
    monkeypatch.setattr(DuckDBSession, "frame", lambda self, sql: seen.append(sql) or frame(self, sql))
    return seen


@pytest.fixture(scope="module")
def contacts():
    rng = np.random.default_rng(0)
    n = 6000
    # a year of New York time, with extra mass around the DST changes and local midnights
    instants = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365 * 86400, n), unit="s")
    edges = pd.to_datetime(["2025-03-09 06:59:59", "2025-03-09 07:00:00", "2025-11-02 05:00:00",
                            "2025-11-02 06:00:00", "2025-11-03 04:59:59", "2025-11-03 05:00:00",
                            "2025-06-30 03:59:59", "2025-06-30 04:00:00"], utc=True)
    instants = instants.append(edges)
    n = len(instants)
    answered = rng.random(n) < 0.85
    return pd.DataFrame({
        "contact_id": np.arange(1, n + 1) * 3, "queue": rng.choice(["a", "b", "c"], n),
        "arrived_at": instants, "answered": answered, "abandoned": ~answered,
        "wait_s": np.round(rng.exponential(30, n), 3), "handle_s": np.round(rng.lognormal(5, 0.5, n), 3),
        "transferred": rng.random(n) < 0.1, "resolved": rng.random(n) < 0.7,
    })


def as_text(frame):
    out = frame.copy()
    out["arrived_at"] = out["arrived_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return out


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("window", [(None, None), ("2025-03-09", "2025-11-02"), ("2025-06-30", "2025-06-30")])
def test_bucketed_aware_path_equals_per_row_conversion(contacts, grain, window, buckets):
    kw = dict(grain=grain, by=["queue"], timezone="America/New_York", start=window[0], end=window[1])
    fast = build_panel(contacts, **kw).table
    slow = build_panel(as_text(contacts), **kw).table
    assert "cb AS (" in buckets[0] and "cb AS (" not in buckets[1]
    pd.testing.assert_frame_equal(fast, slow)


def test_buckets_only_where_they_hold_many_contacts(contacts, monkeypatch):
    seen = []
    frame = DuckDBSession.frame
    monkeypatch.setattr(DuckDBSession, "frame", lambda self, sql: seen.append(sql) or frame(self, sql))
    build_panel(contacts, grain="day", timezone="UTC")  # 6,000 contacts over 35,000 buckets
    dense = contacts.assign(arrived_at=pd.Timestamp("2025-05-05", tz="UTC")
                            + pd.to_timedelta(np.arange(len(contacts)), unit="s"))  # 100 minutes
    build_panel(dense, grain="day", timezone="UTC")
    assert "cb AS (" not in seen[0] and "cb AS (" in seen[1]


def test_a_zone_with_odd_historical_offsets_falls_back_to_per_row_conversion(contacts, buckets):
    # New York kept local mean time (UTC-4:56:02) until 1883: no quarter-hour buckets there
    old = contacts.assign(arrived_at=contacts["arrived_at"] - pd.DateOffset(years=143))
    kw = dict(grain="day", by=["queue"], timezone="America/New_York")
    pd.testing.assert_frame_equal(build_panel(old, **kw).table, build_panel(as_text(old), **kw).table)


@pytest.mark.parametrize("ids", ["dense", "sparse", "text"])
def test_duplicate_ids_are_found_on_every_path(contacts, ids):
    frame = contacts.head(50).copy()
    if ids == "sparse":
        frame["contact_id"] = frame["contact_id"] * 10**9
    if ids == "text":
        frame["contact_id"] = "id-" + frame["contact_id"].astype(str)
    frame.loc[[7, 30], "contact_id"] = frame.loc[3, "contact_id"]
    with pytest.raises(InputError, match=r"column 'contact_id', row 8: repeats an id .*\(2 rows are bad\)"):
        build_panel(frame, timezone="UTC")
