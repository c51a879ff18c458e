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
