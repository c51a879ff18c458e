"""Reading real-world exports, and one clear line for each kind of bad input."""

import re

import pandas as pd
import pytest

from alignment import ExtraSource, InputError, OptionError, Source, build_panel

HEADER = ["contact_id", "queue", "channel", "arrived_at", "answered", "abandoned", "wait_s",
          "handle_s", "transferred", "resolved"]
ROWS = [
    ["c1", "Sales, EMEA", "voice", "2025-03-03T09:00:00-05:00", "true", "false", "12", "300", "false", "true"],
    ["c2", "Sales, EMEA", "voice", "2025-03-03T10:00:00-05:00", "true", "false", "45", "200", "true", "false"],
    ["c3", "Support", "voice", "2025-03-04T11:00:00-05:00", "false", "true", "30", "", "", ""],
    ["c4", "Support", "chat", "2025-03-04T12:00:00-05:00", "yes", "no", "5", "100", "no", "yes"],
]


def write_csv(path, rows=ROWS, header=HEADER, sep=",", newline="\n", bom=False):
    def cell(v):
        v = str(v)
        return f'"{v}"' if (sep in v or '"' in v) else v
    text = newline.join(sep.join(cell(v) for v in row) for row in [header, *rows]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def panel_of(source, **kw):
    kw.setdefault("grain", "day")
    kw.setdefault("by", ["queue"])
    kw.setdefault("timezone", "America/New_York")
    return build_panel(source, **kw).table


@pytest.fixture
def reference(tmp_path):
    return panel_of(write_csv(tmp_path / "plain.csv"))


def test_reference_panel_is_right(reference):
    sales = reference[(reference["queue"] == "Sales, EMEA") & (reference["period"] == "2025-03-03")].iloc[0]
    # c1 waited 12 s (within 20), c2 45 s: 1 of 2 offered -> 50 %; ASA (12 + 45) / 2 = 28.5
    assert sales["service_level"] == 50.0 and sales["asa"] == 28.5


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
def test_separators_line_ends_and_bom_give_the_same_panel(tmp_path, reference, sep, newline, bom):
    path = write_csv(tmp_path / "export.csv", sep=sep, newline=newline, bom=bom)
    pd.testing.assert_frame_equal(panel_of(path), reference)


def test_parquet_and_dataframe_give_the_same_panel(tmp_path, reference):
    frame = pd.read_csv(write_csv(tmp_path / "x.csv"), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(panel_of(frame), reference)
    typed = frame.assign(
        arrived_at=pd.to_datetime(frame["arrived_at"], utc=True),
        answered=frame["answered"].isin(["true", "yes"]), abandoned=frame["abandoned"].isin(["true", "yes"]),
        wait_s=frame["wait_s"].astype(float), handle_s=pd.to_numeric(frame["handle_s"]),
        transferred=frame["transferred"].map({"true": True, "false": False, "yes": True, "no": False}),
        resolved=frame["resolved"].map({"true": True, "false": False, "yes": True, "no": False}))
    typed.to_parquet(tmp_path / "x.parquet")
    pd.testing.assert_frame_equal(panel_of(tmp_path / "x.parquet"), reference)


def test_renamed_columns(tmp_path, reference):
    header = ["Id", "Queue", "channel", "StartTime", "answered", "abandoned", "wait_s", "handle_s",
              "transferred", "resolved"]
    path = write_csv(tmp_path / "vendor.csv", header=header)
    source = Source(path, columns={"contact_id": "Id", "queue": "Queue", "arrived_at": "StartTime"})
    pd.testing.assert_frame_equal(panel_of(source), reference)


def bad(tmp_path, change, **kw):
    rows = [list(r) for r in ROWS]
    header = list(HEADER)
    change(header, rows)
    path = write_csv(tmp_path / "contacts.csv", rows=rows, header=header)
    with pytest.raises((InputError, OptionError)) as info:
        panel_of(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def set_cell(row, col, value):
    def change(header, rows):
        rows[row][HEADER.index(col)] = value
    return change


@pytest.mark.parametrize("change, expected", [
    (set_cell(2, "wait_s", "-3"), "column 'wait_s', row 3: is negative"),
    (set_cell(1, "wait_s", "abc"), "column 'wait_s', row 2: is not a number"),
    (set_cell(0, "wait_s", "1e12"), "column 'wait_s', row 1: is larger than"),
    (set_cell(3, "answered", "maybe"), "column 'answered', row 4: is not true/false"),
    (set_cell(2, "answered", "true"), "column 'abandoned', row 3: is true on a contact that was also answered"),
    (set_cell(1, "arrived_at", "03/03/2025 10:00"), "column 'arrived_at', row 2: is not an ISO 8601"),
    (set_cell(3, "contact_id", "c1"), "column 'contact_id', row 4: repeats an id"),
    (set_cell(0, "contact_id", ""), "column 'contact_id', row 1: is missing"),
    (set_cell(1, "queue", ""), "column 'queue', row 2: is missing"),
    (set_cell(0, "handle_s", ""), "column 'handle_s', row 1: is missing for an answered contact"),
])
def test_bad_values_name_file_column_and_first_row(tmp_path, change, expected):
    message = bad(tmp_path, change)
    assert message.startswith(str(tmp_path / "contacts.csv"))
    assert expected in message


def test_naive_time_without_timezone_is_refused_and_accepted_with_one(tmp_path):
    message = bad(tmp_path, set_cell(0, "arrived_at", "2025-03-03 09:00:00"), timezone=None)
    assert "column 'arrived_at', row 1: has a time without a UTC offset" in message
    rows = [list(r) for r in ROWS]
    rows[0][3] = "2025-03-03 09:00:00"  # the same instant as 09:00 -05:00, written naively
    path = write_csv(tmp_path / "naive.csv", rows=rows)
    pd.testing.assert_frame_equal(panel_of(path), panel_of(write_csv(tmp_path / "aware.csv")))


def test_every_problem_is_counted_and_the_first_row_named(tmp_path):
    def change(header, rows):
        rows[1][HEADER.index("wait_s")] = "-1"
        rows[3][HEADER.index("wait_s")] = "-2"
        rows[2][HEADER.index("answered")] = "perhaps"
    message = bad(tmp_path, change)
    assert re.search(r"row 2: is negative \(seconds\) \(2 rows are bad\); also column 'answered'", message)


def test_missing_column_names_the_metric_that_needs_it(tmp_path):
    def drop_handle(header, rows):
        i = header.index("handle_s")
        header.pop(i)
        for r in rows:
            r.pop(i)
    message = bad(tmp_path, drop_handle, metrics=["aht"])
    assert "column 'handle_s': is missing; the metric 'aht' needs it" in message


def test_missing_file_empty_file_and_empty_window(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        panel_of(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        panel_of(tmp_path / "empty.csv")
    with pytest.raises(InputError, match="no contacts between 2026-01-01 and 2026-01-31"):
        panel_of(write_csv(tmp_path / "c.csv"), start="2026-01-01", end="2026-01-31")


@pytest.mark.parametrize("kw, match", [
    ({"grain": "wk"}, "'grain' parameter of build_panel must be one of"),
    ({"timezone": "Mars/Olympus"}, "IANA timezone"),
    ({"start": "2025-13-01"}, "'start' parameter must be a date"),
    ({"start": "2025-03-05", "end": "2025-03-01"}, "ends"),
    ({"metrics": ["sla"]}, "Unknown metric 'sla'"),
    ({"min_responses": -1}, "min_responses"),
])
def test_bad_options(tmp_path, kw, match):
    with pytest.raises(OptionError, match=match):
        panel_of(write_csv(tmp_path / "c.csv"), **kw)


SURVEYS = pd.DataFrame({"survey_id": ["s1", "s2", "s3"], "contact_id": ["c1", "c2", "c9"],
                        "responded_at": ["2025-03-03T12:00:00Z"] * 3, "csat": [5, 2, 4]})


def test_unknown_contacts_are_counted_and_reported_not_fatal(tmp_path):
    from alignment import UnmatchedSurveysWarning
    with pytest.warns(UnmatchedSurveysWarning, match="1 of 3 surveys rate a contact that is not in"):
        panel = build_panel(write_csv(tmp_path / "c.csv"), surveys=SURVEYS, grain="week",
                            timezone="America/New_York")
    assert panel.n_surveys == 3 and panel.n_surveys_matched == 2
    assert panel.table["n_surveys"].sum() == 2


def test_all_surveys_unknown_is_fatal(tmp_path):
    surveys = SURVEYS.assign(contact_id=["x1", "x2", "x3"])
    with pytest.raises(InputError, match="none of the 3 surveys rates a known contact"):
        build_panel(write_csv(tmp_path / "c.csv"), surveys=surveys, timezone="America/New_York")


@pytest.mark.parametrize("score, match", [
    (6, "column 'csat', row 2: is outside its scale 1-5"),
    (3.5, "column 'csat', row 2: is not a whole-number score"),
])
def test_scores_outside_their_scale(tmp_path, score, match):
    surveys = SURVEYS.assign(csat=[5, score, 4])
    with pytest.raises(InputError, match=match):
        build_panel(write_csv(tmp_path / "c.csv"), surveys=surveys, timezone="America/New_York")


def test_extra_source_rules_and_errors(tmp_path):
    extra = pd.DataFrame({"date": ["2025-03-03", "2025-03-03", "2025-03-04"],
                          "queue": ["Support", "Support", "Support"], "backlog": [10, 30, 5]})
    contacts = write_csv(tmp_path / "c.csv")
    expected = {"mean": (20.0, 5.0), "sum": (40.0, 5.0), "max": (30.0, 5.0)}
    for rule, (day1, day2) in expected.items():
        t = panel_of(contacts, extras=[ExtraSource(extra, by=["queue"], aggregate=rule)])
        support = t[t["queue"] == "Support"].set_index("period")["backlog"]
        assert (support["2025-03-03"], support["2025-03-04"]) == (day1, day2), rule
        assert t[t["queue"] == "Sales, EMEA"]["backlog"].isna().all()
    with pytest.raises(InputError, match="column 'date, queue', row 2: repeats"):
        panel_of(contacts, extras=[ExtraSource(extra, by=["queue"], aggregate="last")])
    with pytest.raises(InputError, match="column 'backlog', row 3: is not a number"):
        panel_of(contacts, extras=[ExtraSource(extra.assign(backlog=["1", "2", "lots"]), by=["queue"])])
