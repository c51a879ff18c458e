"""Zendesk tickets and satisfaction ratings, written from a simulated world in the shapes of the
Zendesk Support API (tickets with side-loaded ``metric_sets``: ``reply_time_in_minutes``,
``group_stations``, ``reopens``; ``satisfaction_ratings`` with ``score`` good/bad/offered/unoffered).

Tickets are digital contacts: never abandoned, no handle time, first reply in whole minutes. The
round trip compares with the canonical panel of the same contacts at Zendesk's precision: the
answered contacts, their waits rounded to minutes, without abandon and handle columns.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alignment import build_panel
from alignment.catalog import SurveyMetric
from alignment.data import Source
from alignment.exceptions import FormatError
from alignment.simulate import simulate

ZONE = "America/New_York"
METRIC = [SurveyMetric("csat_good", scale=(0, 1))]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=9, days=14, queues=2, contacts_per_day=15)
    contacts = pd.read_csv(folder / "contacts.csv")
    contacts = contacts[contacts["answered"]].copy()
    contacts["wait_s"] = (contacts["wait_s"] / 60).round() * 60
    surveys = pd.read_csv(folder / "surveys.csv")
    surveys = surveys[surveys["contact_id"].isin(contacts["contact_id"]) & surveys["csat"].notna()].copy()
    surveys["csat_good"] = (surveys["csat"] >= 4).astype(float)
    return contacts, surveys


def write(contacts, surveys, folder):
    rng = np.random.default_rng(1)
    tickets, metric_sets = [], []
    for c in contacts.itertuples():
        status = "solved" if c.resolved or rng.random() < 0.5 else "open"
        reopens = 0 if c.resolved else int(status == "solved")
        tickets.append({"id": c.contact_id, "url": f"https://example.zendesk.com/api/v2/tickets/{c.contact_id}.json",
                        "created_at": pd.Timestamp(c.arrived_at).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "via": {"channel": c.channel, "source": {}}, "group_id": c.queue, "status": status,
                        "assignee_id": c.agent_id, "subject": "Help", "tags": []})
        metric_sets.append({"ticket_id": c.contact_id, "group_stations": 2 if c.transferred else 1,
                            "assignee_stations": 1, "reopens": reopens, "replies": 1,
                            "reply_time_in_minutes": {"calendar": int(c.wait_s // 60), "business": 0},
                            "full_resolution_time_in_minutes": {"calendar": 30, "business": 0}})
    tickets.append(dict(tickets[0], id="deleted-1", status="deleted"))
    (folder / "tickets.json").write_text(json.dumps({"tickets": tickets, "metric_sets": metric_sets,
                                                     "end_of_stream": True}))
    ratings = [{"id": s.survey_id, "ticket_id": s.contact_id, "score": "good" if s.csat_good else "bad",
                "created_at": pd.Timestamp(s.responded_at).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                "comment": "", "group_id": None} for s in surveys.itertuples()]
    ratings += [dict(ratings[0], id="asked-1", score="offered"), dict(ratings[1], id="asked-2", score="unoffered")]
    (folder / "ratings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ratings))  # one a line


def test_zendesk_round_trip(world, tmp_path):
    contacts, surveys = world
    write(contacts, surveys, tmp_path)
    expected = build_panel(contacts.drop(columns=["abandoned", "handle_s", "customer_id", "quality_score"]),
                           surveys=surveys[["survey_id", "contact_id", "responded_at", "csat_good"]],
                           grain="day", by=["queue"], timezone=ZONE, survey_metrics=METRIC)
    panel = build_panel(Source(tmp_path / "tickets.json", format="zendesk-tickets"),
                        surveys=Source(tmp_path / "ratings.jsonl", format="zendesk-satisfaction"),
                        grain="day", by=["queue"], timezone=ZONE, survey_metrics=METRIC)
    cols = list(expected.table.columns)
    assert {"asa", "transfer_rate", "fcr", "csat_good"} <= set(cols) and "abandon_rate" not in cols
    pd.testing.assert_frame_equal(panel.table[cols], expected.table[cols], check_exact=True)
    assert panel.n_contacts == len(contacts) and panel.n_surveys == len(surveys)


def test_zendesk_bad_score_names_the_field(tmp_path):
    (tmp_path / "ratings.jsonl").write_text(json.dumps({"id": 1, "ticket_id": 2, "score": "good",
                                                        "created_at": "2025-01-06T10:00:00Z"}) + "\n"
                                            + json.dumps({"id": 2, "ticket_id": 3, "score": "5",
                                                          "created_at": "2025-01-06T10:00:00Z"}) + "\n")
    from alignment.data.formats import get_format
    with pytest.raises(FormatError, match=r"^ratings.jsonl, field 'score', record 2: is not good, bad, offered"):
        get_format("zendesk-satisfaction").reader(tmp_path / "ratings.jsonl", label="ratings.jsonl")
