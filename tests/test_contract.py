"""One contract over the public panel API: deterministic, inputs untouched, empty input refused."""

import hashlib

import pandas as pd
import pytest

from alignment import ExtraSource, InputError, build_panel

DEMO = "data/demo"


@pytest.fixture(scope="module")
def frames():
    contacts = pd.read_csv(f"{DEMO}/contacts.csv", dtype=str, keep_default_na=False, nrows=5000)
    ids = set(contacts["contact_id"])
    surveys = pd.read_csv(f"{DEMO}/surveys.csv", dtype=str, keep_default_na=False)
    return contacts, surveys[surveys["contact_id"].isin(ids)].reset_index(drop=True)


def build(contacts, surveys):
    return build_panel(contacts, surveys=surveys, grain="day", by=["queue"], timezone="America/New_York",
                       extras=[ExtraSource(f"{DEMO}/backlog.csv", by=["queue"])])


def digest(panel, tmp_path):
    path = tmp_path / "p.csv"
    panel.to_csv(path, support=True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_input_gives_the_same_bytes(frames, tmp_path):
    contacts, surveys = frames
    assert digest(build(contacts, surveys), tmp_path) == digest(build(contacts, surveys), tmp_path)


def test_files_and_frames_give_the_same_panel(tmp_path):
    from_files = build_panel(f"{DEMO}/contacts.csv", surveys=f"{DEMO}/surveys.csv", grain="month",
                             by=["queue"], timezone="America/New_York")
    contacts = pd.read_csv(f"{DEMO}/contacts.csv", dtype=str, keep_default_na=False)
    surveys = pd.read_csv(f"{DEMO}/surveys.csv", dtype=str, keep_default_na=False)
    from_frames = build_panel(contacts, surveys=surveys, grain="month", by=["queue"],
                              timezone="America/New_York")
    pd.testing.assert_frame_equal(from_files.table, from_frames.table)


def test_inputs_are_not_mutated(frames):
    contacts, surveys = frames
    before = (contacts.copy(deep=True), surveys.copy(deep=True))
    build(contacts, surveys)
    pd.testing.assert_frame_equal(contacts, before[0])
    pd.testing.assert_frame_equal(surveys, before[1])


def test_empty_input_is_refused(frames):
    contacts, _ = frames
    with pytest.raises(InputError, match="has no contact rows"):
        build_panel(contacts.iloc[:0], timezone="UTC")


def test_result_objects_summarize_and_serialize(frames):
    contacts, surveys = frames
    panel = build(contacts, surveys)
    assert panel.summary().startswith("KPI panel: day grain")
    d = panel.to_dict()
    assert d["n_rows"] == len(panel.table) and d["metrics"]["csat"]["variant"] == "top2"
    with pytest.raises(Exception):
        panel.grain = "week"  # frozen


@pytest.fixture(scope="module")
def weekly():
    from alignment import build_panel
    return build_panel(f"{DEMO}/contacts.csv", surveys=f"{DEMO}/surveys.csv", grain="week", by=["queue"],
                       timezone="America/New_York",
                       extras=[ExtraSource(f"{DEMO}/backlog.csv", by=["queue"])]).table


ANALYSES = {
    "correlate": lambda f, d: f(d, "csat", ["asa", "fcr"], by=["queue"], lags=1,
                                inference="block_bootstrap", n_boot=50, seed=3),
    "regress": lambda f, d: f(d, "csat", ["asa", "fcr"], by=["queue"]),
    "relative_importance": lambda f, d: f(d, "csat", ["asa", "fcr", "email_backlog"], by="queue",
                                          n_boot=50, block=4, time="period", seed=3),
    "tipping_point": lambda f, d: f(d, "csat", "asa", by=["queue"], n_boot=30, seed=3),
}


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_is_deterministic_leaves_its_input_alone_and_summarizes(weekly, name):
    import warnings
    import alignment
    fn = getattr(alignment, name)
    before = weekly.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, second = ANALYSES[name](fn, weekly), ANALYSES[name](fn, weekly)
    pd.testing.assert_frame_equal(weekly, before)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert isinstance(first.summary(), str) and first.summary()
    assert isinstance(first.to_dict(), dict)
    with pytest.raises(Exception):
        first.table = None  # results are frozen


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_refuses_empty_input(weekly, name):
    import alignment
    from alignment import AlignmentError
    with pytest.raises(AlignmentError):
        ANALYSES[name](getattr(alignment, name), weekly.iloc[:0])
