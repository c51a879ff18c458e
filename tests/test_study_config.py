"""The study file loader: the public contract of keys, types and one-line errors."""

import datetime as dt
from pathlib import Path

import pytest

from alignment import CompositeScore, SurveyMetric
from alignment.study import StudyError, load_study

DEMO = Path("data/demo").resolve()


def write(tmp_path, text, name="study.toml"):
    for f in ("contacts.csv", "surveys.csv", "backlog.csv"):
        target = tmp_path / f
        if not target.exists():
            target.symlink_to(DEMO / f)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
[study]
name = "t"
outcome = "csat"
kpis = ["asa", "fcr", "email_backlog"]
grain = "week"
by = ["queue"]
timezone = "America/New_York"
max_lag = 1
seed = 7

[data.contacts]
path = "contacts.csv"

[data.surveys]
path = "surveys.csv"

[[data.extra]]
path = "backlog.csv"
time = "date"
by = ["queue"]
aggregate = "mean"
"""


def test_demo_study_loads_with_paths_relative_to_the_file():
    study = load_study("data/demo/study.toml")
    assert study.outcome == "csat" and study.by == ("queue",) and study.max_lag == 2
    assert Path(study.contacts.data).resolve() == DEMO / "contacts.csv"
    assert study.start == dt.date(2025, 1, 6)


def test_declared_metrics_validation_options_and_interventions(tmp_path):
    text = BASE.replace('outcome = "csat"', 'outcome = "cis"') + """
[metrics.ces]
scale = [1, 5]
higher_is_better = true

[metrics.cis]
weights = { csat = 2, nps = 1 }
scale = [0, 10]

[validation]
alpha = 0.01
window = 20

[[interventions]]
name = "more agents"
date = "2025-06-02"
segments = ["billing"]
kpi = "asa"
direction = -1
"""
    study = load_study(write(tmp_path, text))
    ces, cis = study.survey_metrics
    assert isinstance(ces, SurveyMetric) and ces.scale == (1, 5) and ces.higher_is_better
    assert isinstance(cis, CompositeScore) and cis.weights == {"csat": 2, "nps": 1} and cis.scale == (0, 10)
    assert study.validation.alpha == 0.01 and study.validation.window == 20
    assert study.interventions[0].date == "2025-06-02" and study.interventions[0].direction == -1


@pytest.mark.parametrize("change, key, fragment", [
    (('kpis = ["asa", "fcr", "email_backlog"]', 'kpis = ["asa", "asa"]'), "study.kpis", "twice"),
    (('grain = "week"', 'grain = "fortnight"'), "study.grain", "must be one of"),
    (('max_lag = 1', 'max_lag = "1"'), "study.max_lag", "must be an integer"),
    (('seed = 7', 'seed = 7\nsede = 8'), "study.sede", "unknown key"),
    (('outcome = "csat"', 'outcome = "aht"'), "study.outcome", "operational KPI"),
    (('outcome = "csat"', 'outcome = "cis"'), "study.outcome", "no standard formula"),
    (('kpis = ["asa", "fcr", "email_backlog"]', 'kpis = ["nps"]'), "study.kpis", "CX metric"),
    (('path = "surveys.csv"', 'path = "nope.csv"'), "data.surveys.path", "file not found"),
    (('aggregate = "mean"', 'aggregate = "median"'), "data.extra[0].aggregate", "must be one of"),
    (('timezone = "America/New_York"', 'timezone = "New York"'), "study.timezone", "IANA"),
])
def test_errors_name_the_file_and_the_key(tmp_path, change, key, fragment):
    path = write(tmp_path, BASE.replace(*change))
    with pytest.raises(StudyError) as info:
        load_study(path)
    message = str(info.value)
    assert message.startswith(f"{path}, key '{key}': ") and fragment in message and "\n" not in message


def test_broken_toml_is_one_line(tmp_path):
    with pytest.raises(StudyError, match=r"is not valid TOML: .*line 3"):
        load_study(write(tmp_path, "[study]\nname = 't'\noutcome = \n"))


def test_effects_weights_calendar_and_events_keys(tmp_path):
    text = BASE.replace('seed = 7', 'seed = 7\neffects = "segment"\nweights = "none"\n'
                        'calendar = { country = "US", subdivision = "NY" }')
    text += '\n[[events]]\ndate = "2025-03-04"\nname = "outage"\n'
    study = load_study(write(tmp_path, text))
    assert (study.effects, study.weights) == ("segment", "none")
    assert (study.calendar.country, study.calendar.subdivision) == ("US", "NY")
    assert study.calendar.events == (("2025-03-04", "outage"),)
    default = load_study(write(tmp_path, BASE, "plain.toml"))
    assert (default.effects, default.weights, default.calendar.country) == (None, "responses", None)


@pytest.mark.parametrize("change, key, words", [
    ('effects = "period"', "study.effects", "must be one of 'twoway', 'segment', 'none'"),
    ('weights = "surveys"', "study.weights", "must be 'responses' or 'none'"),
    ('calendar = { country = "XX" }', "study.calendar", "not known to the holidays package"),
    ('calendar = { subdivision = "NY" }', "study.calendar.subdivision", "needs a country"),
    ('calendar = { country = "US", city = "NYC" }', "study.calendar", "city"),
])
def test_bad_statistics_keys_are_one_line_errors(tmp_path, change, key, words):
    with pytest.raises(StudyError) as error:
        load_study(write(tmp_path, BASE.replace("seed = 7", "seed = 7\n" + change)))
    message = str(error.value)
    assert f"key '{key}" in message and words in message and "\n" not in message


def test_an_event_without_a_date_names_its_key(tmp_path):
    with pytest.raises(StudyError, match=r"key 'events\[0\]\.date'"):
        load_study(write(tmp_path, BASE + '\n[[events]]\nname = "outage"\n'))


# ---- [kpis.NAME] and [families] ---------------------------------------------------------

MORE = BASE.replace('kpis = ["asa", "fcr", "email_backlog"]', 'kpis = ["asa", "fcr", "email_backlog", "aht"]')
UNITS_AND_FAMILIES = MORE + """
[kpis.email_backlog]
step = 10
unit = "emails"
label = "email backlog"

[kpis.asa]
label = "speed of answer"

[families]
workload = ["email_backlog", "aht"]
"""


def test_kpi_units_and_families_are_parsed(tmp_path):
    study = load_study(write(tmp_path, UNITS_AND_FAMILIES))
    assert study.units == {"email_backlog": {"step": 10.0, "unit": "emails", "label": "email backlog"},
                           "asa": {"label": "speed of answer"}}
    assert study.families == {"workload": ("email_backlog", "aht")}
    assert study.kpis == ("asa", "fcr", "email_backlog", "aht")  # [study] kpis is untouched by [kpis.x]
    plain = load_study(write(tmp_path, BASE, "plain.toml"))
    assert (plain.units, plain.families) == ({}, {})


def test_units_and_families_in_python_are_normalized():
    from alignment import Study
    from alignment.data.sources import Source
    study = Study(name="t", outcome="csat", kpis=("asa", "aht", "spend"), contacts=Source(data="c.csv"),
                  surveys=Source(data="s.csv"), units={"spend": {"step": 500, "unit": "USD"}},
                  families={"pace": ["asa", "aht"]})
    assert study.units == {"spend": {"step": 500.0, "unit": "USD"}} and study.families == {"pace": ("asa", "aht")}
    with pytest.raises(StudyError, match=r"key 'kpis\.spend': the step of 'spend' must be a positive number"):
        Study(name="t", outcome="csat", kpis=("spend",), contacts=Source(data="c.csv"),
              surveys=Source(data="s.csv"), units={"spend": {"step": -1}})


@pytest.mark.parametrize("extra, key, words", [
    ('[kpis.nope]\nstep = 1\n', "kpis.nope", "'nope' is not one of the study's KPIs (asa, fcr, email_backlog, aht)"),
    ('[kpis.email_backlog]\nstp = 1\n', "kpis.email_backlog.stp", "unknown key (known: label, step, target, unit)"),
    ('[kpis.email_backlog]\nstep = "ten"\n', "kpis.email_backlog.step", "must be a number. Got 'ten' instead."),
    ('[kpis.email_backlog]\nstep = 0\n', "kpis.email_backlog", "step of 'email_backlog' must be a positive number"),
    ('[kpis.email_backlog]\nunit = 3\n', "kpis.email_backlog.unit", "must be a string"),
    ('[kpis.email_backlog]\nlabel = ""\n', "kpis.email_backlog", "must be a non-empty string"),
    ('[kpis.asa]\nunit = "min"\n', "kpis.asa", "unit of 'asa' is fixed by the catalog ('s')"),
    ('[kpis]\nasa = 3\n', "kpis.asa", "must be a table"),
    ('[families]\nworkload = ["email_backlog"]\n', "families.workload", "must list at least 2 KPIs"),
    ('[families]\nworkload = ["email_backlog", "nope"]\n', "families.workload",
     "'nope' is not one of the study's KPIs"),
    ('[families]\nworkload = ["email_backlog", "email_backlog"]\n', "families.workload", "lists 'email_backlog' twice"),
    ('[families]\na = ["email_backlog", "aht"]\nb = ["aht", "asa"]\n', "families.b",
     "'aht' is already in family 'a'"),
    ('[families]\nasa = ["email_backlog", "aht"]\n', "families.asa", "is also the name of a KPI"),
    ('[families]\noffered = ["email_backlog", "aht"]\n', "families.offered", "is also the name of a KPI"),
    ('[families]\nworkload = "aht"\n', "families.workload", "must be a list"),
    ('[families]\nworkload = ["aht", 3]\n', "families.workload", "must list names as strings"),
])
def test_bad_units_and_families_are_one_line_errors(tmp_path, extra, key, words):
    path = write(tmp_path, MORE + "\n" + extra)
    with pytest.raises(StudyError) as error:
        load_study(path)
    message = str(error.value)
    assert message.startswith(f"{path}, key '{key}': ") and words in message and "\n" not in message


def test_a_top_level_kpis_list_points_to_the_study_section(tmp_path):
    path = write(tmp_path, 'kpis = ["asa"]\n' + MORE)
    with pytest.raises(StudyError, match=r"key 'kpis': .*goes in \[study\] kpis = \[\.\.\.\]"):
        load_study(path)
