"""Survey exports: Qualtrics (three header rows, or the legacy two).

The export is written here from a simulated world's surveys in Qualtrics' documented layout:
the column codes (metadata ``StartDate`` ... ``UserLanguage``, questions ``Q1``..., the NPS
question's ``Q2_NPS_GROUP``, an embedded-data field), the question text quoted over several lines
with commas and quotes, and the ``ImportId`` JSON row whose ``timeZone`` says the zone of the dates
(here America/Denver, unlike the study's). A preview and a spam response must be left out. The
round trip: the panel from the export equals the panel from the canonical surveys, exactly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from alignment import build_panel
from alignment.data import Source
from alignment.exceptions import FormatError, InputError, OptionError
from alignment.simulate import simulate

ZONE = "America/New_York"
META = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
        "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
        "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage"]
TEXT = {"Q1": 'How satisfied were you with your call today?\n(1 = "very dissatisfied", 5 = "very satisfied")',
        "Q2": "How likely are you to recommend us to a friend or colleague?\n\n0 = not at all, 10 = extremely",
        "Q2_NPS_GROUP": "How likely are you to recommend us to a friend or colleague? - Group",
        "Q3": "How easy was it to get your issue handled?", "ContactId": "ContactId"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=11, days=14, queues=2, contacts_per_day=15)
    return folder, pd.read_csv(folder / "surveys.csv")


@pytest.fixture(scope="module")
def canonical(world):
    folder, _ = world
    return build_panel(folder / "contacts.csv", surveys=folder / "surveys.csv", grain="day", by=["queue"],
                       timezone=ZONE)


def group(score) -> str:
    return "" if pd.isna(score) else "1" if score <= 6 else "2" if score <= 8 else "3"


def write_qualtrics(surveys: pd.DataFrame, path: Path, *, legacy=False, embedded=False, csat_codes=None,
                    nps_offset=0) -> None:
    codes = META + ["Q1", "Q2", "Q2_NPS_GROUP", "Q3", "ContactId"]
    texts = [c for c in META] + [TEXT[c] for c in codes[len(META):]]
    imports = [json.dumps({"ImportId": c[0].lower() + c[1:], **({"timeZone": "America/Denver"}
                                                                if c.endswith("Date") else {})})
               for c in META] + [json.dumps({"ImportId": "QID" + c[1:]}) for c in codes[len(META):-1]] \
        + [json.dumps({"ImportId": "ContactId"})]
    rows = []
    fmt = lambda v: "" if pd.isna(v) else str(int(v))  # noqa: E731
    for s in surveys.itertuples():
        denver = pd.Timestamp(s.responded_at).tz_convert("America/Denver").strftime("%Y-%m-%d %H:%M:%S")
        csat = fmt(s.csat) if csat_codes is None or pd.isna(s.csat) else str(csat_codes[int(s.csat)])
        nps = "" if pd.isna(s.nps) else str(int(s.nps) + nps_offset)
        rows.append([denver, denver, "IP Address", "203.0.113.9", "100", "75", "True", denver, f"R_{s.survey_id}",
                     "", "", "", "" if embedded else s.contact_id, "40.7", "-74.0", "email", "EN",
                     csat, nps, group(s.nps), fmt(s.ces), s.contact_id if embedded else ""])
    preview = list(rows[0])
    preview[2], preview[8] = "Survey Preview", "R_preview"
    spam = list(rows[1])
    spam[2], spam[8] = "Spam", "R_spam"
    rows[3:3] = [preview, spam]
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        if legacy:  # V1... codes named by the second row; no ImportId row; EndDate, ExternalDataReference
            names = {"ResponseId": "ResponseID", "ExternalReference": "ExternalDataReference"}
            w.writerow([f"V{i + 1}" if c in META else c for i, c in enumerate(codes)])
            w.writerow([names.get(c, c) if c in META else t for c, t in zip(codes, texts)])
        else:
            w.writerow(codes)
            w.writerow(texts)
            w.writerow(imports)
        w.writerows(rows)


RENAMES = {"csat": "Q1", "nps": "Q2", "ces": "Q3"}


def panel_of(folder, path, **source):
    return build_panel(folder / "contacts.csv", surveys=Source(path, format="qualtrics-csv", **source),
                       grain="day", by=["queue"], timezone=ZONE)


def same(panel, canonical):
    cols = [c for c in canonical.table.columns]
    pd.testing.assert_frame_equal(panel.table[cols], canonical.table[cols], check_exact=True)
    assert (panel.n_surveys, panel.n_surveys_matched) == (canonical.n_surveys, canonical.n_surveys_matched)


def test_three_header_rows_round_trip(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    write_qualtrics(surveys, path)
    text = path.read_text(encoding="utf-8-sig")
    assert '"How satisfied were you with your call today?\n(1 = ""very dissatisfied""' in text  # quoted, multi-line
    same(panel_of(folder, path, columns=RENAMES), canonical)
    from alignment.data.formats import get_format
    frame = get_format("qualtrics-csv").reader(path, label="q", timezone=None)
    assert len(frame) == len(surveys)  # the preview and the spam are not responses
    first = surveys.iloc[0]
    assert pd.Timestamp(frame.loc[0, "responded_at"]) == pd.Timestamp(first["responded_at"])  # Denver's clock


def test_responses_a_file_a_week(world, canonical, tmp_path):
    folder, surveys = world
    (tmp_path / "qualtrics").mkdir()
    half = len(surveys) // 2  # each export file with its three header rows, its preview and its spam
    write_qualtrics(surveys.iloc[:half], tmp_path / "qualtrics" / "week1.csv")
    write_qualtrics(surveys.iloc[half:], tmp_path / "qualtrics" / "week2.csv")
    same(panel_of(folder, tmp_path / "qualtrics" / "week*.csv", columns=RENAMES, glob=True), canonical)
    same(panel_of(folder, tmp_path / "qualtrics", columns=RENAMES), canonical)


def test_contact_id_from_an_embedded_field(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    write_qualtrics(surveys, path, embedded=True)
    same(panel_of(folder, path, columns={**RENAMES, "contact_id": "ContactId"}), canonical)


def test_legacy_two_header_rows_need_the_zone(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "legacy.csv"
    write_qualtrics(surveys, path, legacy=True)
    with pytest.raises(OptionError, match="account's time zone"):
        panel_of(folder, path, columns=RENAMES)
    same(panel_of(folder, path, columns=RENAMES, timezone="America/Denver"), canonical)


def test_recode_of_exported_codes(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    codes = {1: 6, 2: 7, 3: 8, 4: 9, 5: 10}  # a 1-5 scale exported as Qualtrics' codes 6-10
    write_qualtrics(surveys, path, csat_codes=codes)
    with pytest.raises(InputError, match="csat"):  # 6-10 is off the 1-5 scale of csat
        panel_of(folder, path, columns=RENAMES)
    recode = {"Q1": {str(v): k for k, v in codes.items()}}
    same(panel_of(folder, path, columns=RENAMES, options={"recode": recode}), canonical)


def test_nps_group_disagreeing_with_the_score_is_an_error(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    write_qualtrics(surveys, path, nps_offset=1)  # NPS exported as 1-11
    with pytest.raises(FormatError, match=r"qualtrics.csv, field 'Q2_NPS_GROUP', row \d+: says \w+ but Q2 is"):
        panel_of(folder, path, columns=RENAMES)
    recode = {"Q2": {str(k + 1): k for k in range(11)}}
    same(panel_of(folder, path, columns=RENAMES, options={"recode": recode}), canonical)


def test_recoded_value_outside_the_table(world, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    write_qualtrics(surveys, path)
    with pytest.raises(FormatError, match=r"field 'Q1', row 1: is '\d', which the recode table does not list"):
        panel_of(folder, path, columns=RENAMES, options={"recode": {"Q1": {"9": 5}}})


def test_a_contact_format_for_surveys_is_refused(world, tmp_path):
    folder, surveys = world
    path = tmp_path / "qualtrics.csv"
    write_qualtrics(surveys, path)
    with pytest.raises(InputError, match="the qualtrics-csv format is for surveys, not contacts"):
        build_panel(Source(path, format="qualtrics-csv"), grain="day", timezone=ZONE)


def test_cli_survey_format(world, tmp_path, capsys):
    from alignment import cli
    folder, surveys = world
    bad = tmp_path / "bad.csv"
    bad.write_text("StartDate,Q1\nStart Date,How?\n")
    capsys.readouterr()
    code = cli.main(["kpis", str(folder / "contacts.csv"), "--surveys", str(bad), "--survey-format", "qualtrics-csv",
                     "--timezone", ZONE, "--out", str(tmp_path / "p.csv")])
    assert code == 2 and not (tmp_path / "p.csv").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "field 'ResponseId': is not a Qualtrics export" in lines[0], lines


# ---------------------------------------------------------------------------
# SurveyMonkey: two header rows (question text, then Response or each option)
# ---------------------------------------------------------------------------

CSAT_Q = "Overall, how satisfied or dissatisfied are you with our support?"
NPS_Q = "How likely is it that you would recommend us to a friend or colleague?"
CES_Q = "How easy was it to get your issue resolved?"
LABELS = {1: "Very dissatisfied", 2: "Somewhat dissatisfied", 3: "Neither satisfied nor dissatisfied",
          4: "Somewhat satisfied", 5: "Very satisfied"}


def write_surveymonkey(surveys: pd.DataFrame, path: Path) -> None:
    top = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address", "First Name",
           "Last Name", "Custom Data 1", CSAT_Q, NPS_Q, "Which channels did you use?", "", "", CES_Q]
    sub = [""] * 9 + ["Response", "Response", "Phone", "Chat", "Email", "Response"]
    rows = []
    for k, s in enumerate(surveys.itertuples()):
        end = pd.Timestamp(s.responded_at).tz_convert(ZONE).strftime("%m/%d/%Y %I:%M:%S %p")
        num = lambda v: "" if pd.isna(v) else str(int(v))  # noqa: E731
        rows.append([str(11400000000 + k), "430112233", end, end, "203.0.113.9", "", "", "", s.contact_id,
                     "" if pd.isna(s.csat) else LABELS[int(s.csat)], num(s.nps), "Phone", "", "Email" if k % 2 else "",
                     num(s.ces)])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(top)
        w.writerow(sub)
        w.writerows(rows)


def test_surveymonkey_round_trip(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "surveymonkey.csv"
    write_surveymonkey(surveys, path)
    renames = {"csat": CSAT_Q, "nps": NPS_Q, "ces": CES_Q}
    source = dict(format="surveymonkey-csv", columns=renames, timezone=ZONE,
                  options={"recode": {CSAT_Q: {v: k for k, v in LABELS.items()}}})
    panel = build_panel(folder / "contacts.csv", surveys=Source(path, **source), grain="day", by=["queue"],
                        timezone=ZONE)
    same(panel, canonical)
    from alignment.data.formats import get_format
    frame = get_format("surveymonkey-csv").reader(path, label="s", timezone=ZONE)
    assert {"Which channels did you use? | Phone", "Which channels did you use? | Email"} <= set(frame.columns)
    with pytest.raises(InputError, match="csat"):  # the answers are text: without recode they are not scores
        build_panel(folder / "contacts.csv", surveys=Source(path, format="surveymonkey-csv", columns=renames,
                                                            timezone=ZONE), grain="day", by=["queue"], timezone=ZONE)


def test_surveymonkey_bad_date_and_unknown_option(world, tmp_path):
    folder, surveys = world
    path = tmp_path / "surveymonkey.csv"
    write_surveymonkey(surveys.head(3), path)
    text = path.read_text().splitlines()
    text[3] = text[3].replace("/2025 ", "/2025T", 2)
    path.write_text("\n".join(text) + "\n")
    from alignment.data.formats import get_format
    with pytest.raises(FormatError, match=r"^s.csv, field 'End Date', row 2: is not a date-time"):
        get_format("surveymonkey-csv").reader(path, label="s.csv", timezone=ZONE)
    with pytest.raises(OptionError, match="takes 'recode'. Got 'recodes'"):
        get_format("surveymonkey-csv").reader(path, label="s.csv", timezone=ZONE, options={"recodes": {}})


# ---------------------------------------------------------------------------
# Medallia: a_ / e_ record fields, q_ answers named by the program
# ---------------------------------------------------------------------------

def write_medallia(surveys: pd.DataFrame, path: Path) -> None:
    num = lambda v: "" if pd.isna(v) else str(int(v))  # noqa: E731
    rows = [{"a_surveyid": f"100{k}", "a_unit_identifier": "contact-centre",
             "e_creationdate": pd.Timestamp(s.responded_at).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"),
             "e_responsedate": pd.Timestamp(s.responded_at).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
             "e_contactid": s.contact_id, "q_ltr_scale11": num(s.nps) or "N/A", "q_osat_scale5": num(s.csat),
             "q_ces_scale7": num(s.ces)} for k, s in enumerate(surveys.itertuples())]
    pd.DataFrame(rows).to_csv(path, index=False)


def test_medallia_round_trip(world, canonical, tmp_path):
    folder, surveys = world
    path = tmp_path / "medallia.csv"
    write_medallia(surveys, path)
    source = Source(path, format="medallia", columns={"csat": "q_osat_scale5", "ces": "q_ces_scale7"},
                    options={"ltr": "q_ltr_scale11", "contact_field": "e_contactid"})
    panel = build_panel(folder / "contacts.csv", surveys=source, grain="day", by=["queue"], timezone=ZONE)
    same(panel, canonical)
    with pytest.raises(OptionError, match="needs the likelihood-to-recommend field named"):
        build_panel(folder / "contacts.csv", surveys=Source(path, format="medallia"), grain="day", timezone=ZONE)
    with pytest.raises(OptionError, match="options name 'q_nps', which medallia.csv does not have"):
        from alignment.data.formats import get_format
        get_format("medallia").reader(path, label="medallia.csv", options={"ltr": "q_nps"})
