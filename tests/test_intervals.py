"""Interval reports (``Intervals``): counts and sums per interval and segment give the same pooled KPIs.

A simulated world (``alignment.simulate``) is summed here by half hour of arrival and queue, with
pandas, into each report's shape: the generic canonical columns, and Avaya CMS ``hsplit``
(``row_date``, ``starttime`` HHMM, ``callsoffered``, ``acdcalls``, ``abncalls``, ``acceptable``,
``anstime``, ``abntime``, ``acdtime``, ``acwtime``, ``holdtime``, ``transferred``, as the CMS
database items are named). The panel of the report must equal the panel of the contact records
on every component and KPI the report holds: exactly, since every sum is of whole seconds.
Each KPI the report cannot give is an error naming the missing component; surveys attach by
their own time and segment, checked against a count by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alignment import build_panel
from alignment.catalog import KpiOptions
from alignment.data import Intervals
from alignment.exceptions import InputError
from alignment.simulate import simulate

ZONE = "America/New_York"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=5, days=14, queues=3, contacts_per_day=15)
    contacts = pd.read_csv(folder / "contacts.csv")
    local = pd.to_datetime(contacts["arrived_at"], utc=True).dt.tz_convert(ZONE).dt.tz_localize(None)
    contacts["interval"] = local.dt.floor("30min")
    return folder, contacts


@pytest.fixture(scope="module")
def canonical(world):
    folder, _ = world
    return build_panel(folder / "contacts.csv", grain="day", by=["queue"], timezone=ZONE)


def sums(contacts: pd.DataFrame, t: float = 20, short: float = 5) -> pd.DataFrame:
    c = contacts
    ans, abn, wait = c["answered"], c["abandoned"], c["wait_s"]
    parts = pd.DataFrame({
        "interval": c["interval"], "queue": c["queue"], "n_contacts": 1, "n_answered": ans.astype(int),
        "n_abandoned": abn.astype(int), "n_answered_within_t": (ans & (wait <= t)).astype(int),
        "n_abandoned_within_t": (abn & (wait <= t)).astype(int), "n_short_abandons": (abn & (wait <= short)).astype(int),
        "wait_answered_s": np.where(ans, wait, 0), "wait_abandoned_s": np.where(abn, wait, 0),
        "handle_answered_s": np.where(ans, c["handle_s"], 0), "n_transferred": (ans & c["transferred"]).astype(int),
        "n_resolved": (ans & c["resolved"]).astype(int)})
    return parts.groupby(["interval", "queue"], as_index=False).sum()


def compare(panel, canonical):
    cols = [c for c in panel.table.columns if c in canonical.table.columns]
    pd.testing.assert_frame_equal(panel.table[cols], canonical.table[cols], check_exact=True)
    return cols


def test_generic_intervals_give_the_contact_panel(world, canonical, tmp_path):
    _, contacts = world
    report = sums(contacts).rename(columns={"interval": "Interval", "queue": "Queue", "n_contacts": "Offered"})
    report["Interval"] = report["Interval"].dt.strftime("%Y-%m-%d %H:%M:%S")
    report.to_csv(tmp_path / "intervals.csv", index=False)
    source = Intervals(tmp_path / "intervals.csv", columns={"interval_start": "Interval", "queue": "Queue",
                                                             "n_contacts": "Offered"},
                       timezone=ZONE, service_level_s=20, short_abandon_s=5)
    panel = build_panel(source, grain="day", by=["queue"], timezone=ZONE)
    cols = compare(panel, canonical)
    assert {"service_level", "abandon_rate", "asa", "aht", "fcr", "transfer_rate", "n_short_abandons"} <= set(cols)
    assert panel.n_contacts == len(contacts)
