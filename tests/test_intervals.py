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

import re
from dataclasses import replace

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


def write_hsplit(report: pd.DataFrame, path, seed=3):
    rng = np.random.default_rng(seed)
    handle = report["handle_answered_s"].astype(int).to_numpy()
    hold = np.array([rng.integers(0, h // 5 + 1) for h in handle])
    acw = np.array([rng.integers(0, (h - o) // 4 + 1) for h, o in zip(handle, hold)])
    start = report["interval"]
    hsplit = pd.DataFrame({
        # both date spellings CMS reports use; starttime is HHMM without a leading zero
        "row_date": [d.strftime("%Y-%m-%d") if i % 2 else d.strftime("%m/%d/%Y") for i, d in enumerate(start)],
        "starttime": (start.dt.hour * 100 + start.dt.minute).astype(str), "intrvl": 30, "split": report["queue"],
        "callsoffered": report["n_contacts"], "acdcalls": report["n_answered"], "abncalls": report["n_abandoned"],
        "acceptable": report["n_answered_within_t"], "anstime": report["wait_answered_s"].astype(int),
        "abntime": report["wait_abandoned_s"].astype(int), "acdtime": handle - hold - acw, "holdtime": hold,
        "acwtime": acw, "transferred": report["n_transferred"]})
    hsplit.to_csv(path, index=False)
    return hsplit


def hsplit_source(path, **kw):
    return Intervals(path, format="avaya-cms-hsplit", timezone=ZONE, service_level_s=20, **kw)


def test_avaya_hsplit_gives_the_contact_panel(world, canonical, tmp_path):
    _, contacts = world
    write_hsplit(sums(contacts), tmp_path / "hsplit.csv")
    panel = build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE)
    cols = compare(panel, canonical)
    assert {"service_level", "abandon_rate", "asa", "aht", "transfer_rate", "avg_time_to_abandon"} <= set(cols)
    assert "fcr" not in panel.table  # no resolution counts in hsplit


def test_fcr_without_resolution_counts_is_an_error(world, tmp_path):
    _, contacts = world
    write_hsplit(sums(contacts), tmp_path / "hsplit.csv")
    with pytest.raises(InputError, match=r"the metric 'fcr' needs n_resolved \(resolution counts\), which the "
                                         r"avaya-cms-hsplit intervals do not have"):
        build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE,
                    metrics=["fcr"])


def test_service_level_at_another_threshold_is_an_error(world, tmp_path):
    _, contacts = world
    write_hsplit(sums(contacts), tmp_path / "hsplit.csv")
    with pytest.raises(InputError, match=r"hsplit.csv, column 'acceptable': the metric 'service_level' needs "
                                         r"n_answered_within_t at 30 s, but the avaya-cms-hsplit intervals count "
                                         r"it at 20 s \(service_level_s\); set service_level_threshold_s = 20"):
        build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE,
                    metrics=["service_level"], options=KpiOptions(service_level_threshold_s=30))
    with pytest.raises(InputError, match="at a threshold they do not say"):
        build_panel(Intervals(tmp_path / "hsplit.csv", format="avaya-cms-hsplit", timezone=ZONE), grain="day",
                    by=["queue"], timezone=ZONE, metrics=["service_level"])


def write_hsplit_with_servicelevel(contacts, path, threshold=20):
    """hsplit as CMS writes it with the split's acceptable service level and slvlabns beside acceptable."""
    report = sums(contacts, t=threshold)
    hsplit = write_hsplit(report, path)
    hsplit["servicelevel"], hsplit["svclevelchg"] = threshold, 0
    hsplit["slvlabns"] = report["n_abandoned_within_t"]
    hsplit.to_csv(path, index=False)
    return hsplit


def test_avaya_servicelevel_is_the_threshold_of_acceptable(world, canonical, tmp_path):
    _, contacts = world
    write_hsplit_with_servicelevel(contacts, tmp_path / "hsplit.csv")
    source = Intervals(tmp_path / "hsplit.csv", format="avaya-cms-hsplit", timezone=ZONE)  # no service_level_s
    panel = build_panel(source, grain="day", by=["queue"], timezone=ZONE)
    assert {"service_level", "n_abandoned_within_t"} <= set(compare(panel, canonical))  # slvlabns too
    with pytest.raises(InputError, match=r"hsplit.csv, column 'acceptable': the metric 'service_level' needs "
                                         r"n_answered_within_t at 30 s, but the avaya-cms-hsplit intervals count "
                                         r"it at 20 s \(servicelevel\); set service_level_threshold_s = 20"):
        build_panel(source, grain="day", by=["queue"], timezone=ZONE, metrics=["service_level"],
                    options=KpiOptions(service_level_threshold_s=30))
    with pytest.raises(InputError, match=r"hsplit.csv, column 'servicelevel': counts contacts answered within "
                                         r"20 s, not 30 s as service_level_s says"):
        build_panel(replace(source, service_level_s=30), grain="day", by=["queue"], timezone=ZONE)


def test_avaya_splits_of_different_service_levels_give_no_service_level(world, tmp_path):
    _, contacts = world
    hsplit = write_hsplit_with_servicelevel(contacts, tmp_path / "hsplit.csv")
    source = Intervals(tmp_path / "hsplit.csv", format="avaya-cms-hsplit", timezone=ZONE)
    first_b = int(np.flatnonzero(hsplit["split"] == "orders")[0]) + 1
    hsplit.loc[hsplit["split"] == "orders", "servicelevel"] = 30
    hsplit.to_csv(tmp_path / "hsplit.csv", index=False)
    with pytest.raises(InputError, match=rf"needs n_answered_within_t at 20 s; the report counts it at several "
                                         rf"thresholds \(servicelevel: 20 s from row 1, 30 s from row {first_b}\)"):
        build_panel(source, grain="day", by=["queue"], timezone=ZONE, metrics=["service_level"])
    panel = build_panel(source, grain="day", by=["queue"], timezone=ZONE)  # the other KPIs still come
    assert "service_level" not in panel.table and "abandon_rate" in panel.table
    hsplit["servicelevel"], hsplit.loc[4, "svclevelchg"] = 20, 1
    hsplit.to_csv(tmp_path / "hsplit.csv", index=False)
    with pytest.raises(InputError, match=r"servicelevel changed during the interval of row 5 \(svclevelchg = 1\)"):
        build_panel(source, grain="day", by=["queue"], timezone=ZONE, metrics=["service_level"])
    hsplit["svclevelchg"], hsplit["servicelevel"] = 0, hsplit["servicelevel"].astype(str)
    hsplit.loc[2, "servicelevel"] = "20s"
    hsplit.to_csv(tmp_path / "hsplit.csv", index=False)
    with pytest.raises(InputError, match=r"hsplit.csv, column 'servicelevel', row 3: is not a number of seconds "
                                         r"\(got '20s'\)"):
        build_panel(source, grain="day", by=["queue"], timezone=ZONE)


def test_avaya_offered_includes_calls_that_are_not_abandons(tmp_path):
    (tmp_path / "hsplit.csv").write_text(
        "row_date,starttime,split,callsoffered,acdcalls,abncalls,acceptable,anstime,abntime\n"
        "2025-01-06,900,7,10,6,3,5,60,90\n")  # one call neither answered nor abandoned (busy, disconnected)
    panel = build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE)
    row = panel.table.iloc[0]
    assert (row["n_contacts"], row["n_answered"], row["n_abandoned"]) == (10, 6, 3)
    assert row["abandon_rate"] == pytest.approx(30.0) and row["service_level"] == pytest.approx(50.0)
    assert "aht" not in panel.table  # no acdtime: no handle times


def test_avaya_bad_item_names_the_cms_item(tmp_path):
    (tmp_path / "hsplit.csv").write_text("row_date,starttime,split,callsoffered,acdcalls,abncalls\n"
                                         "2025-01-06,900,7,10,6,3\n2025-01-06,930,7,1O,6,3\n")
    with pytest.raises(InputError, match=r"hsplit.csv, column 'callsoffered', row 2: is not a number"):
        build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE)
    (tmp_path / "hsplit.csv").write_text("row_date,starttime,split,callsoffered,acdcalls,abncalls\n"
                                         "2025-01-06,900,7,10,8,3\n")
    with pytest.raises(InputError, match=r"column 'acdcalls', row 1: and the abandoned count add up to more than"):
        build_panel(hsplit_source(tmp_path / "hsplit.csv"), grain="day", by=["queue"], timezone=ZONE)


def test_avaya_report_a_day_a_file(world, canonical, tmp_path):
    _, contacts = world
    hsplit = write_hsplit(sums(contacts), tmp_path / "all.csv")
    day = pd.to_datetime(hsplit["row_date"], format="mixed")
    (tmp_path / "cms").mkdir()
    for i, part in enumerate((day < day.median(), day >= day.median())):
        hsplit[part].to_csv(tmp_path / "cms" / f"hsplit_{i}.csv", index=False)
    for path, glob in ((tmp_path / "cms" / "hsplit_*.csv", True), (tmp_path / "cms", False)):
        source = Intervals(path, format="avaya-cms-hsplit", timezone=ZONE, service_level_s=20, glob=glob)
        compare(build_panel(source, grain="day", by=["queue"], timezone=ZONE), canonical)
    second = tmp_path / "cms" / "hsplit_1.csv"
    lines = second.read_text().splitlines()
    cells = lines[3].split(",")
    cells[lines[0].split(",").index("callsoffered")] = "1O"  # a letter O in row 3 of the second day's file
    lines[3] = ",".join(cells)
    second.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"^{second}, column 'callsoffered', row 3: is not a number"):
        build_panel(Intervals(tmp_path / "cms", format="avaya-cms-hsplit", timezone=ZONE, service_level_s=20),
                    grain="day", by=["queue"], timezone=ZONE)
    with pytest.raises(InputError, match=r"cms/none-\*\.csv: no file matches the pattern"):
        build_panel(Intervals(tmp_path / "cms" / "none-*.csv", format="avaya-cms-hsplit", timezone=ZONE, glob=True))


def test_surveys_attach_to_intervals_by_time_and_segment(world, tmp_path):
    folder, contacts = world
    write_hsplit(sums(contacts), tmp_path / "hsplit.csv")
    surveys = pd.read_csv(folder / "surveys.csv").merge(contacts[["contact_id", "queue"]], on="contact_id")
    surveys.drop(columns="contact_id").to_csv(tmp_path / "surveys.csv", index=False)
    panel = build_panel(hsplit_source(tmp_path / "hsplit.csv"), surveys=tmp_path / "surveys.csv", grain="day",
                        by=["queue"], timezone=ZONE, end=contacts["interval"].max().date())
    day = pd.to_datetime(surveys["responded_at"], utc=True).dt.tz_convert(ZONE).dt.tz_localize(None).dt.normalize()
    last = contacts["interval"].max().normalize()
    by_hand = (surveys[day <= last].assign(period=day[day <= last]).groupby(["period", "queue"])
               .agg(n_surveys=("survey_id", "size"), csat_n=("csat", "count"), csat_sum=("csat", "sum")))
    got = panel.table.set_index(["period", "queue"])
    got = got[got["n_surveys"] > 0]
    assert got["n_surveys"].to_dict() == by_hand["n_surveys"].to_dict()
    assert got["csat_n"].to_dict() == by_hand["csat_n"].to_dict()
    with pytest.raises(InputError, match="surveys attach to intervals by their own time"):
        build_panel(hsplit_source(tmp_path / "hsplit.csv"), surveys=folder / "surveys.csv", grain="day",
                    by=["queue"], timezone=ZONE)


def test_cli_and_study_file_read_intervals(world, canonical, tmp_path, capsys, monkeypatch):
    from alignment import cli
    _, contacts = world
    write_hsplit(sums(contacts), tmp_path / "hsplit.csv")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["kpis", "--intervals", "hsplit.csv", "--format", "avaya-cms-hsplit", "--contacts-timezone", ZONE,
                     "--intervals-service-level", "20", "--grain", "day", "--by", "queue", "--timezone", ZONE,
                     "--out", "panel.csv", "--quiet"])
    assert code == 0, capsys.readouterr().err
    panel = pd.read_csv(tmp_path / "panel.csv")
    assert panel["n_answered_within_t"].tolist() == canonical.table["n_answered_within_t"].tolist()
    assert panel["service_level"].round(6).tolist() == canonical.table["service_level"].round(6).tolist()
    capsys.readouterr()
    code = cli.main(["kpis", "--intervals", "hsplit.csv", "--format", "avaya-cms-hsplit", "--contacts-timezone", ZONE,
                     "--metrics", "fcr", "--timezone", ZONE, "--out", "p.csv"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "needs n_resolved (resolution counts)" in lines[0], lines

    from alignment.study.config import load_study
    (tmp_path / "surveys.csv").write_text("survey_id,responded_at,queue,csat\ns1,2025-01-06T10:00:00Z,billing,5\n")
    (tmp_path / "study.toml").write_text(f"""
[study]
name = "cms"
outcome = "csat"
kpis = ["service_level", "abandon_rate", "asa", "aht"]
grain = "week"
by = ["queue"]
timezone = "{ZONE}"

[data.intervals]
path = "hsplit.csv"
format = "avaya-cms-hsplit"
timezone = "{ZONE}"
service_level_s = 20

[data.surveys]
path = "surveys.csv"
""")
    study = load_study(tmp_path / "study.toml")
    assert isinstance(study.contacts, Intervals) and study.contacts.service_level_s == 20


def write_aggregates(report: pd.DataFrame, path):
    import json
    results = {}
    for r in report.itertuples():
        begin = pd.Timestamp(r.interval).tz_localize(ZONE).tz_convert("UTC")
        span = f"{begin:%Y-%m-%dT%H:%M:%S}.000Z/{begin + pd.Timedelta(minutes=30):%Y-%m-%dT%H:%M:%S}.000Z"
        metrics = [{"metric": "nOffered", "stats": {"count": int(r.n_contacts)}}]
        if r.n_answered:  # Genesys leaves out a metric with nothing to count in the interval
            metrics += [{"metric": "tAnswered", "stats": {"max": 1, "min": 0, "count": int(r.n_answered),
                                                          "sum": int(r.wait_answered_s * 1000)}},
                        {"metric": "tHandle", "stats": {"count": int(r.n_answered),
                                                        "sum": int(r.handle_answered_s * 1000)}},
                        {"metric": "nOverSla", "stats": {"count": int(r.n_answered - r.n_answered_within_t)}}]
        if r.n_abandoned:
            metrics.append({"metric": "tAbandon", "stats": {"count": int(r.n_abandoned),
                                                            "sum": int(r.wait_abandoned_s * 1000)}})
        if r.n_transferred:
            metrics.append({"metric": "nTransferred", "stats": {"count": int(r.n_transferred)}})
        results.setdefault(r.queue, []).append({"interval": span, "metrics": metrics})
    path.write_text(json.dumps({"results": [{"group": {"queueId": q, "mediaType": "voice"}, "data": d}
                                            for q, d in results.items()]}))


def test_genesys_aggregates_give_the_contact_panel(world, canonical, tmp_path):
    _, contacts = world
    write_aggregates(sums(contacts), tmp_path / "aggregates.json")
    panel = build_panel(Intervals(tmp_path / "aggregates.json", format="genesys-cloud-aggregates", service_level_s=20),
                        grain="day", by=["queue"], timezone=ZONE)
    cols = compare(panel, canonical)
    assert {"service_level", "abandon_rate", "asa", "aht", "transfer_rate"} <= set(cols)
    assert "system_disconnects" in dict(panel.notes)  # aggregates cannot tell system drops from abandons


def test_genesys_aggregates_bad_interval_names_the_field(tmp_path):
    import json
    (tmp_path / "aggregates.json").write_text(json.dumps({"results": [
        {"group": {"queueId": "q1"}, "data": [{"interval": "2025-01-06T13:00:00.000Z/2025-01-06T13:30:00.000Z",
                                               "metrics": [{"metric": "nOffered", "stats": {"count": 3}}]}]},
        {"group": {"queueId": "q2"}, "data": [{"interval": "yesterday", "metrics": []}]}]}))
    from alignment.exceptions import FormatError
    with pytest.raises(FormatError, match=r"aggregates.json, field 'data\[0\].interval', record 2: is not an interval"):
        build_panel(Intervals(tmp_path / "aggregates.json", format="genesys-cloud-aggregates"), grain="day",
                    by=["queue"], timezone=ZONE)


def write_connect_historical(report: pd.DataFrame, path, threshold=20):
    import json
    results = []
    for i, r in enumerate(report.itertuples()):
        begin = pd.Timestamp(r.interval).tz_localize(ZONE).tz_convert("UTC")
        start = begin.timestamp() if i % 2 else begin.strftime("%Y-%m-%dT%H:%M:%SZ")  # the API's JSON: epoch
        avg = lambda total, n: total / n if n else None  # noqa: E731 - Connect reports averages
        metrics = [("CONTACTS_QUEUED", r.n_contacts), ("CONTACTS_HANDLED", r.n_answered),
                   ("CONTACTS_ABANDONED", r.n_abandoned), ("CONTACTS_TRANSFERRED_OUT", r.n_transferred),
                   ("AVG_QUEUE_ANSWER_TIME", avg(r.wait_answered_s, r.n_answered)),
                   ("AVG_HANDLE_TIME", avg(r.handle_answered_s, r.n_answered)),
                   ("AVG_ABANDON_TIME", avg(r.wait_abandoned_s, r.n_abandoned))]
        collections = [{"Metric": {"Name": n}, "Value": None if v is None else float(v)} for n, v in metrics]
        collections.append({"Metric": {"Name": "SUM_CONTACTS_ANSWERED_IN_X",
                                       "Threshold": [{"Comparison": "LT", "ThresholdValue": threshold}]},
                            "Value": float(r.n_answered_within_t)})
        results.append({"Dimensions": {"QUEUE": r.queue, "CHANNEL": "VOICE"},
                        "MetricInterval": {"Interval": "THIRTY_MIN", "StartTime": start,
                                           "EndTime": (begin + pd.Timedelta(minutes=30)).isoformat()},
                        "Collections": collections})
    path.write_text(json.dumps({"MetricResults": results}))


def test_connect_historical_gives_the_contact_panel(world, canonical, tmp_path):
    _, contacts = world
    write_connect_historical(sums(contacts), tmp_path / "historical.json")
    panel = build_panel(Intervals(tmp_path / "historical.json", format="amazon-connect-historical"),
                        grain="day", by=["queue"], timezone=ZONE)
    cols = compare(panel, canonical)  # the threshold comes from the metric itself
    assert {"service_level", "abandon_rate", "asa", "aht", "transfer_rate", "avg_time_to_abandon"} <= set(cols)
    with pytest.raises(InputError, match="counts contacts answered within 20 s, not 30 s as service_level_s says"):
        build_panel(Intervals(tmp_path / "historical.json", format="amazon-connect-historical", service_level_s=30),
                    grain="day", by=["queue"], timezone=ZONE)


def test_study_file_intervals_keys(tmp_path):
    from alignment.study.config import StudyError, load_study
    (tmp_path / "hsplit.csv").write_text("row_date,starttime,split,callsoffered\n2025-01-06,900,7,3\n")
    (tmp_path / "surveys.csv").write_text("survey_id,responded_at,queue,csat\ns1,2025-01-06T10:00:00Z,7,5\n")
    base = (f'[study]\nname = "cms"\noutcome = "csat"\nkpis = ["abandon_rate"]\ntimezone = "{ZONE}"\n'
            f'[data.surveys]\npath = "surveys.csv"\n')
    for extra, message in (('service_level = 20\n', "unknown key (known: columns, format, glob, options, path, "
                                                    "service_level_s, short_abandon_s"),
                           ('service_level_s = "20"\n', "must be a number of seconds")):
        (tmp_path / "study.toml").write_text(base + f'[data.intervals]\npath = "hsplit.csv"\n'
                                                    f'format = "avaya-cms-hsplit"\n{extra}')
        with pytest.raises(StudyError, match=re.escape(message)):
            load_study(tmp_path / "study.toml")
    (tmp_path / "study.toml").write_text(base + '[data.intervals]\npath = "hsplit.csv"\n[data.contacts]\npath = "x.csv"\n')
    with pytest.raises(StudyError, match="not both"):
        load_study(tmp_path / "study.toml")
