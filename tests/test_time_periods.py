"""Periods in the local calendar: DST days, ISO weeks, months, naive times, windows.

Every expected local date below was worked out by hand from the UTC offset; the
America/New_York rules used: EST = UTC-5, EDT = UTC-4; 2025 spring-forward on
Sunday 2025-03-09 at 02:00 EST (-> 03:00 EDT; that day lasts 23 hours, from
05:00Z to 04:00Z next day); fall-back on Sunday 2025-11-02 at 02:00 EDT
(-> 01:00 EST; that day lasts 25 hours, from 04:00Z to 05:00Z next day).
ISO weeks start on Monday; ISO week 2025-W01 starts Monday 2024-12-30.
"""

from __future__ import annotations

import pandas as pd
import pytest

from alignment import Source, build_panel
from alignment.exceptions import InputError

NY = "America/New_York"


def contacts(*arrived, queue="A") -> pd.DataFrame:
    """Answered contacts (10 s wait) arriving at the given ISO 8601 strings."""
    n = len(arrived)
    return pd.DataFrame({
        "contact_id": [f"k{i}" for i in range(n)],
        "queue": [queue] * n,
        "channel": ["voice"] * n,
        "arrived_at": list(arrived),
        "answered": [True] * n,
        "abandoned": [False] * n,
        "wait_s": [10.0] * n,
        "handle_s": [100.0] * n,
        "transferred": [False] * n,
        "resolved": [True] * n,
    })


def counts(panel) -> dict[str, int]:
    """{local period start 'YYYY-MM-DD': n_contacts} for a by=() panel."""
    t = panel.table
    keys = pd.to_datetime(t["period"]).dt.strftime("%Y-%m-%d")
    return {k: int(v) for k, v in zip(keys, t["n_contacts"])}


def nonzero(panel) -> dict[str, int]:
    return {k: v for k, v in counts(panel).items() if v}


# --------------------------------------------------------------------------------------
# DST days
# --------------------------------------------------------------------------------------

FALL_BACK = [
    "2025-11-02T03:59:59+00:00",   # Nov 1 23:59:59 EDT      -> Nov 1
    "2025-11-02T04:00:00+00:00",   # Nov 2 00:00:00 EDT      -> Nov 2 (first instant)
    "2025-11-02T01:30:00-04:00",   # first 01:30 (EDT)       -> Nov 2
    "2025-11-02T01:30:00-05:00",   # second 01:30 (EST), one hour later -> Nov 2
    "2025-11-03T03:30:00+00:00",   # Nov 2 22:30 EST         -> Nov 2 (Nov 3 in UTC)
    "2025-11-03T04:59:59+00:00",   # Nov 2 23:59:59 EST      -> Nov 2 (last instant, 24h59m59s after the first)
    "2025-11-03T05:00:00+00:00",   # Nov 3 00:00 EST         -> Nov 3
]


def test_fall_back_day_has_25_hours_of_contacts():
    first, last = pd.Timestamp(FALL_BACK[1]), pd.Timestamp(FALL_BACK[5])
    assert last - first == pd.Timedelta(hours=24, minutes=59, seconds=59)  # fixture sanity
    p = build_panel(contacts(*FALL_BACK), grain="day", timezone=NY)
    assert counts(p) == {"2025-11-01": 1, "2025-11-02": 5, "2025-11-03": 1}


def test_fall_back_same_instants_in_utc_calendar_differ():
    # the same instants on UTC days: Nov 2 = 03:59:59Z 04:00Z 05:30Z 06:30Z; Nov 3 = the rest
    p = build_panel(contacts(*FALL_BACK), grain="day", timezone="UTC")
    assert counts(p) == {"2025-11-02": 4, "2025-11-03": 3}


SPRING_FORWARD = [
    "2025-03-09T04:59:59+00:00",   # Mar 8 23:59:59 EST      -> Mar 8
    "2025-03-09T05:00:00+00:00",   # Mar 9 00:00 EST         -> Mar 9 (first instant)
    "2025-03-09T01:59:59-05:00",   # last second of EST      -> Mar 9
    "2025-03-09T03:00:00-04:00",   # the next second, EDT    -> Mar 9
    "2025-03-10T03:59:59+00:00",   # Mar 9 23:59:59 EDT      -> Mar 9 (22h59m59s after the first)
    "2025-03-10T04:00:00+00:00",   # Mar 10 00:00 EDT        -> Mar 10
]


def test_spring_forward_day_has_23_hours_of_contacts():
    assert (pd.Timestamp(SPRING_FORWARD[3]) - pd.Timestamp(SPRING_FORWARD[2])) == pd.Timedelta(seconds=1)
    assert (pd.Timestamp(SPRING_FORWARD[4]) - pd.Timestamp(SPRING_FORWARD[1])
            == pd.Timedelta(hours=22, minutes=59, seconds=59))
    p = build_panel(contacts(*SPRING_FORWARD), grain="day", timezone=NY)
    assert counts(p) == {"2025-03-08": 1, "2025-03-09": 4, "2025-03-10": 1}


def test_fall_back_sunday_closes_its_iso_week():
    # Sunday Nov 2 is the last day of the week starting Monday Oct 27
    p = build_panel(contacts("2025-11-02T01:30:00-05:00",     # Sun Nov 2 01:30 EST
                             "2025-11-03T04:59:59+00:00",     # Sun Nov 2 23:59:59 EST
                             "2025-11-03T05:00:00+00:00"),    # Mon Nov 3 00:00 EST
                    grain="week", timezone=NY)
    assert counts(p) == {"2025-10-27": 2, "2025-11-03": 1}


# --------------------------------------------------------------------------------------
# ISO weeks
# --------------------------------------------------------------------------------------

def test_iso_week_boundary_sunday_2359_vs_monday_0000():
    p = build_panel(contacts("2025-01-12T23:59:00-05:00",     # Sun Jan 12 23:59 -> week Jan 6
                             "2025-01-13T03:00:00+00:00",     # Sun Jan 12 22:00 local (Mon in UTC) -> week Jan 6
                             "2025-01-13T00:00:00-05:00"),    # Mon Jan 13 00:00 -> week Jan 13
                    grain="week", timezone=NY)
    assert counts(p) == {"2025-01-06": 2, "2025-01-13": 1}


def test_iso_week_spanning_new_year_starts_monday_2024_12_30():
    p = build_panel(contacts("2024-12-30T09:00:00-05:00",     # Mon, ISO 2025-W01
                             "2025-01-01T09:00:00-05:00",     # Wed Jan 1, same week
                             "2025-01-05T23:59:59-05:00",     # Sun, last second of that week
                             "2025-01-06T00:00:00-05:00"),    # Mon, ISO 2025-W02
                    grain="week", timezone=NY)
    assert counts(p) == {"2024-12-30": 3, "2025-01-06": 1}


def test_week_periods_start_on_monday_even_when_data_starts_midweek():
    p = build_panel(contacts("2025-01-08T12:00:00-05:00",     # Wednesday
                             "2025-01-17T12:00:00-05:00"),    # Friday of the next week
                    grain="week", timezone=NY)
    periods = pd.to_datetime(p.table["period"])
    assert (periods.dt.day_of_week == 0).all()
    assert counts(p) == {"2025-01-06": 1, "2025-01-13": 1}


# --------------------------------------------------------------------------------------
# months
# --------------------------------------------------------------------------------------

def test_month_boundary_in_local_time():
    p = build_panel(contacts("2025-01-31T23:59:00-05:00",     # Jan 31 local (Feb 1 04:59Z) -> January
                             "2025-02-01T04:59:00+00:00",     # the same instant written in UTC -> January
                             "2025-02-01T05:00:00+00:00"),    # Feb 1 00:00 EST -> February
                    grain="month", timezone=NY)
    assert counts(p) == {"2025-01-01": 2, "2025-02-01": 1}


def test_month_boundary_in_utc_calendar():
    # in the UTC calendar the first two are Feb 1
    p = build_panel(contacts("2025-01-31T23:59:00-05:00", "2025-02-01T04:59:00+00:00",
                             "2025-02-01T05:00:00+00:00", "2025-01-31T12:00:00+00:00"),
                    grain="month", timezone="UTC")
    assert counts(p) == {"2025-01-01": 1, "2025-02-01": 3}


# --------------------------------------------------------------------------------------
# naive times
# --------------------------------------------------------------------------------------

# the same four instants, naive in New York local time and with offsets
NAIVE = ["2025-01-12T22:00:00", "2025-01-13T00:30:00", "2025-03-09T01:30:00", "2025-03-09T03:30:00"]
AWARE = ["2025-01-12T22:00:00-05:00", "2025-01-13T00:30:00-05:00",
         "2025-03-09T01:30:00-05:00", "2025-03-09T03:30:00-04:00"]


def test_naive_times_without_timezone_are_rejected():
    with pytest.raises(InputError) as err:
        build_panel(contacts(*NAIVE), grain="day")
    assert "arrived_at" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_naive_csv_without_timezone_names_the_file(tmp_path):
    path = tmp_path / "contacts.csv"
    contacts(*NAIVE).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        build_panel(str(path), grain="day")
    msg = str(err.value)
    assert "contacts.csv" in msg and "arrived_at" in msg
    assert "\n" not in msg.strip()


def test_naive_times_with_build_panel_timezone_equal_aware():
    naive = build_panel(contacts(*NAIVE), grain="day", timezone=NY)
    aware = build_panel(contacts(*AWARE), grain="day", timezone=NY)
    assert nonzero(naive) == {"2025-01-12": 1, "2025-01-13": 1, "2025-03-09": 2}
    pd.testing.assert_frame_equal(naive.table, aware.table)


def test_naive_times_with_source_timezone_equal_aware():
    src = Source(contacts(*NAIVE), timezone=NY)
    naive = build_panel(src, grain="week", timezone=NY)
    aware = build_panel(contacts(*AWARE), grain="week", timezone=NY)
    # Jan 12 (Sun) -> week Jan 6; Jan 13 (Mon) -> week Jan 13; Mar 9 (Sun) -> week Mar 3
    assert nonzero(naive) == {"2025-01-06": 1, "2025-01-13": 1, "2025-03-03": 2}
    pd.testing.assert_frame_equal(naive.table, aware.table)


def test_source_timezone_reads_naive_times_panel_timezone_sets_calendar():
    # naive New York times, panel in the UTC calendar:
    # Jan 12 22:00 EST = Jan 13 03:00Z; Jan 13 00:30 EST = Jan 13 05:30Z;
    # Mar 9 01:30 EST = Mar 9 06:30Z; Mar 9 03:30 EDT = Mar 9 07:30Z
    p = build_panel(Source(contacts(*NAIVE), timezone=NY), grain="day", timezone="UTC")
    assert nonzero(p) == {"2025-01-13": 2, "2025-03-09": 2}
    aware = build_panel(contacts(*AWARE), grain="day", timezone="UTC")
    pd.testing.assert_frame_equal(p.table, aware.table)


def test_mixed_offsets_and_utc_z_in_one_column():
    p = build_panel(contacts("2025-07-01T12:00:00-04:00", "2025-07-01T16:00:00Z",
                             "2025-07-02T03:59:59+00:00",   # Jul 1 23:59:59 EDT
                             "2025-07-02T04:00:00+00:00"),  # Jul 2 00:00 EDT
                    grain="day", timezone=NY)
    assert counts(p) == {"2025-07-01": 3, "2025-07-02": 1}


# --------------------------------------------------------------------------------------
# start / end windows (inclusive, local dates)
# --------------------------------------------------------------------------------------

WINDOW = [
    "2025-01-06T04:00:00+00:00",   # Jan 5 23:00 EST -> Jan 5
    "2025-01-06T05:00:00+00:00",   # Jan 6 00:00     -> Jan 6
    "2025-01-07T12:00:00-05:00",   # Jan 7
    "2025-01-08T03:00:00+00:00",   # Jan 7 22:00     -> Jan 7
    "2025-01-08T05:00:00+00:00",   # Jan 8 00:00     -> Jan 8
]


def test_start_end_inclusive_local_dates():
    p = build_panel(contacts(*WINDOW), grain="day", timezone=NY, start="2025-01-06", end="2025-01-07")
    assert counts(p) == {"2025-01-06": 1, "2025-01-07": 2}


def test_default_window_is_data_first_to_last_local_date():
    p = build_panel(contacts(*WINDOW), grain="day", timezone=NY)
    assert counts(p) == {"2025-01-05": 1, "2025-01-06": 1, "2025-01-07": 2, "2025-01-08": 1}
    assert str(p.start)[:10] == "2025-01-05"
    assert str(p.end)[:10] == "2025-01-08"


def test_window_wider_than_data_lists_empty_days():
    p = build_panel(contacts(*WINDOW), grain="day", timezone=NY, start="2025-01-03", end="2025-01-10")
    assert counts(p) == {"2025-01-03": 0, "2025-01-04": 0, "2025-01-05": 1, "2025-01-06": 1,
                         "2025-01-07": 2, "2025-01-08": 1, "2025-01-09": 0, "2025-01-10": 0}
    empty = p.table[p.table["n_contacts"] == 0]
    assert empty["service_level"].isna().all()


def test_single_day_window():
    p = build_panel(contacts(*WINDOW), grain="day", timezone=NY, start="2025-01-07", end="2025-01-07")
    assert counts(p) == {"2025-01-07": 2}
