"""Platform exports of contact records: Amazon Connect, Genesys Cloud, NICE CXone and Five9.

Each export is written here, in the vendor's documented shape (field names and types from the
vendors' published data models: the Amazon Connect contact records data model, the Genesys Cloud
analytics conversation detail model, the NICE CXone Data Download call detail report and the Five9
call log report), from a simulated world (``alignment.simulate``). The writers below are
independent of the readers: they split handle time into its vendor parts, add transfer legs into
*other* queues, stale duplicate copies, self-service and outbound records, and write local clocks
for the vendors that use the account's time zone. The round trip asserts that the panel built
from the export equals the panel built from the canonical files: exactly, on counts and on
durations (the simulated durations are whole seconds, within every vendor's precision). Then one
test per trap the vendors document, and one bad input per format through the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from alignment import build_panel
from alignment.data import Source
from alignment.exceptions import FormatError, OptionError
from alignment.simulate import simulate

ZONE = "America/New_York"
SCRIPT = Path(sys.executable).with_name("alignment")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=7, days=14, queues=3, contacts_per_day=12)
    contacts = pd.read_csv(folder / "contacts.csv")
    contacts["utc"] = pd.to_datetime(contacts["arrived_at"], utc=True)
    return folder, contacts


@pytest.fixture(scope="module")
def canonical(world):
    folder, _ = world
    return build_panel(folder / "contacts.csv", surveys=folder / "surveys.csv", grain="day", by=["queue"],
                       timezone=ZONE)


def same_panel(panel, canonical):
    cols = [c for c in panel.table.columns if c in canonical.table.columns]
    assert len(cols) >= 15, cols  # the contact KPIs and the survey metrics, not a handful
    assert {"n_contacts", "n_abandoned", "n_transferred", "handle_answered_s", "csat"} <= set(cols)
    pd.testing.assert_frame_equal(panel.table[cols], canonical.table[cols], check_exact=True)
    assert panel.n_surveys_matched == canonical.n_surveys_matched


def parts(handle: int, rng) -> tuple[int, int, int]:
    """Talk, hold and after-contact work summing to ``handle`` (whole seconds)."""
    hold = int(rng.integers(0, handle // 4 + 1))
    acw = int(rng.integers(0, (handle - hold) // 3 + 1))
    return handle - hold - acw, hold, acw


def other_queue(queue: str, queues: list[str]) -> str:
    return queues[(queues.index(queue) + 1) % len(queues)]


def z(moment) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# writers, one per vendor
# ---------------------------------------------------------------------------

def write_connect(contacts: pd.DataFrame, path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    queues = sorted(contacts["queue"].unique())
    lines = []
    for i, c in enumerate(contacts.itertuples()):
        enq = c.utc
        ivr = int(rng.integers(5, 60))
        handle = int(c.handle_s)
        leg_handle = int(rng.integers(0, handle // 2 + 1)) if c.transferred else 0
        talk, hold, acw = parts(handle - leg_handle, rng) if c.answered else (0, 0, 0)
        rec = {"ContactId": c.contact_id, "Channel": c.channel.upper(), "InitiationMethod": "INBOUND",
               "InitiationTimestamp": z(enq - pd.Timedelta(seconds=ivr)),
               "Queue": {"Name": c.queue, "ARN": f"arn:aws:connect:queue/{c.queue}", "EnqueueTimestamp": z(enq),
                         "DequeueTimestamp": z(enq + pd.Timedelta(seconds=int(c.wait_s))),
                         "Duration": int(c.wait_s)},
               "Agent": None, "Attributes": {"reason": c.reason},
               # a contact neither answered nor abandoned is a telephony drop
               "DisconnectReason": ("CUSTOMER_DISCONNECT" if c.abandoned else "AGENT_DISCONNECT" if c.answered
                                    else "TELECOM_PROBLEM"),
               "LastUpdateTimestamp": z(enq + pd.Timedelta(hours=1))}
        if c.answered:
            rec["Agent"] = {"Username": c.agent_id,
                            "ConnectedToAgentTimestamp": z(enq + pd.Timedelta(seconds=int(c.wait_s))),
                            "AgentInteractionDuration": talk, "CustomerHoldDuration": hold,
                            "AfterContactWorkDuration": acw}
        if c.transferred and i % 2:
            rec["TransferCompletedTimestamp"] = z(enq + pd.Timedelta(seconds=int(c.wait_s) + talk))
        stale = dict(rec, Agent=None, Queue=dict(rec["Queue"], Name="stale"),
                     LastUpdateTimestamp=z(enq + pd.Timedelta(minutes=1)))
        if i % 7 == 0:  # a stale copy delivered before the latest one
            lines.append(stale)
        lines.append(rec)
        if i % 11 == 0:  # ... and one delivered after it: the latest is by LastUpdateTimestamp, not line
            lines.append(stale)
        if c.transferred:  # a leg into another queue: not a contact of that queue
            lt, lh, la = parts(leg_handle, rng) if leg_handle else (0, 0, 0)
            start = enq + pd.Timedelta(seconds=int(c.wait_s) + talk)
            lines.append({"ContactId": f"{c.contact_id}-T", "PreviousContactId": c.contact_id,
                          "InitialContactId": c.contact_id, "Channel": c.channel.upper(),
                          "InitiationMethod": "TRANSFER", "InitiationTimestamp": z(start),
                          "Queue": {"Name": other_queue(c.queue, queues), "EnqueueTimestamp": z(start),
                                    "Duration": 3},
                          "Agent": {"Username": "A9999", "ConnectedToAgentTimestamp": z(start),
                                    "AgentInteractionDuration": lt, "CustomerHoldDuration": lh,
                                    "AfterContactWorkDuration": la}})
        if i % 13 == 0:  # self-service in the flow: never queued, not a contact
            lines.append({"ContactId": f"{c.contact_id}-IVR", "Channel": "VOICE", "InitiationMethod": "INBOUND",
                          "InitiationTimestamp": z(enq), "Queue": None, "Agent": None,
                          "DisconnectReason": "CONTACT_FLOW_DISCONNECT"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def write_genesys(contacts: pd.DataFrame, path: Path, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    queues = sorted(contacts["queue"].unique())
    conversations = []
    for i, c in enumerate(contacts.itertuples()):
        start = c.utc
        ms = lambda s: int(round(s * 1000))  # noqa: E731
        wait = int(c.wait_s)
        handle = int(c.handle_s)
        leg_handle = int(rng.integers(0, handle // 2 + 1)) if c.transferred else 0
        talk, hold, acw = parts(handle - leg_handle, rng) if c.answered else (0, 0, 0)
        end = start + pd.Timedelta(seconds=wait)
        acd_metrics = [{"name": "tAcd", "value": ms(wait), "emitDate": z(end)}]
        acd_metrics.append({"name": "tAnswered" if c.answered else "tAbandon", "value": ms(wait), "emitDate": z(end)})
        participants = [
            {"purpose": "customer", "participantId": f"p{i}c",
             "sessions": [{"mediaType": c.channel, "direction": "inbound",
                           "segments": [{"segmentStart": z(start - pd.Timedelta(seconds=20)),
                                         "segmentEnd": z(end), "segmentType": "interact",
                                         "disconnectType": "endpoint" if c.abandoned else "peer"}]}]},
            {"purpose": "acd", "participantName": c.queue,
             "sessions": [{"mediaType": c.channel,
                           "segments": [{"segmentStart": z(start), "segmentEnd": z(end), "segmentType": "interact",
                                         "queueId": f"q-{c.queue}",
                                         # Genesys counts a system drop in tAbandon; the segment tells
                                         "disconnectType": "peer" if c.answered or c.abandoned else "system"}],
                           "metrics": acd_metrics}]},
        ]
        if c.answered:
            agent_metrics = ([{"name": "tHandle", "value": ms(talk + hold + acw)}] if i % 2 else
                             [{"name": "tTalk", "value": ms(talk)}, {"name": "tHeld", "value": ms(hold)},
                              {"name": "tAcw", "value": ms(acw)}])
            if c.transferred:
                agent_metrics.append({"name": "nTransferred", "value": 1})
            participants.append({"purpose": "agent", "userId": c.agent_id,
                                 "sessions": [{"mediaType": c.channel, "segments": [
                                     {"segmentStart": z(end), "segmentType": "interact"}],
                                     "metrics": agent_metrics}]})
        if c.transferred:  # a second queue and agent: the transfer, not a contact of that queue
            later = end + pd.Timedelta(seconds=talk)
            participants.append({"purpose": "acd", "participantName": other_queue(c.queue, queues),
                                 "sessions": [{"mediaType": c.channel, "segments": [
                                     {"segmentStart": z(later), "segmentType": "interact"}],
                                     "metrics": [{"name": "tAnswered", "value": 4000}]}]})
            participants.append({"purpose": "agent", "userId": "A9999",
                                 "sessions": [{"mediaType": c.channel, "segments": [{"segmentStart": z(later)}],
                                               "metrics": [{"name": "tHandle", "value": ms(leg_handle)}]}]})
        conversations.append({"conversationId": c.contact_id, "conversationStart": z(start - pd.Timedelta(seconds=20)),
                              "originatingDirection": "inbound", "participants": participants})
        if i % 13 == 0:  # IVR only: no acd participant, not a contact
            conversations.append({"conversationId": f"{c.contact_id}-ivr", "conversationStart": z(start),
                                  "participants": [{"purpose": "customer", "sessions": []},
                                                   {"purpose": "ivr", "sessions": []}]})
    path.write_text(json.dumps({"conversations": conversations, "totalHits": len(conversations)}, indent=1))


def local(moment, zone=ZONE) -> dt.datetime:
    return pd.Timestamp(moment).tz_convert(zone).to_pydatetime().replace(tzinfo=None)


def write_cxone(contacts: pd.DataFrame, path: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    queues = sorted(contacts["queue"].unique())
    rows = []
    for i, c in enumerate(contacts.itertuples()):
        pre = int(rng.integers(0, 40))
        start = local(c.utc) - dt.timedelta(seconds=pre)
        handle = int(c.handle_s)
        leg_handle = int(rng.integers(0, handle // 2 + 1)) if c.transferred else 0
        talk, hold, acw = parts(handle - leg_handle, rng) if c.answered else (0, 0, 0)
        row = {"Contact_ID": c.contact_id, "Master_Contact_ID": c.contact_id, "Media_Name": "Call",
               "Skill_Name": c.queue, "Campaign_Name": "Inbound", "Agent_No": c.agent_id if c.answered else "0",
               "Start_Date": start.strftime("%m/%d/%Y"), "Start_Time": start.strftime("%H:%M:%S"),
               "PreQueue": pre, "InQueue": int(c.wait_s), "Abandon": "Y" if c.abandoned else "N",
               "Abandon_Time": pre + int(c.wait_s) if c.abandoned else 0, "Active_Talk_Time": talk,
               "Hold_Time": hold, "ACW_Seconds": acw}
        rows.append(row)
        if c.transferred:  # a leg into another queue; every third has a second leg, chained to the first
            first_leg = leg_handle // 2 if i % 3 == 0 else leg_handle
            for k, (leg_id, master, secs) in enumerate(
                    [(f"{c.contact_id}-L1", c.contact_id, first_leg)]
                    + ([(f"{c.contact_id}-L2", f"{c.contact_id}-L1", leg_handle - first_leg)] if i % 3 == 0 else [])):
                lt, lh, la = parts(secs, rng) if secs else (0, 0, 0)
                rows.append(dict(row, Contact_ID=leg_id, Master_Contact_ID=master,
                                 Skill_Name=other_queue(c.queue, queues), PreQueue=0, InQueue=2 + k,
                                 Abandon="N", Abandon_Time=0, Agent_No="9999", Active_Talk_Time=lt,
                                 Hold_Time=lh, ACW_Seconds=la))
    pd.DataFrame(rows).to_csv(path, index=False)


def hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def write_five9(contacts: pd.DataFrame, path: Path, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for i, c in enumerate(contacts.itertuples()):
        ivr = int(rng.integers(0, 90))
        start = local(c.utc) - dt.timedelta(seconds=ivr)
        talk, hold, acw = parts(int(c.handle_s), rng) if c.answered else (0, 0, 0)
        row = {"CALL ID": c.contact_id, "TIMESTAMP": start.strftime("%a, %d %b %Y %H:%M:%S"),
               "CAMPAIGN": "Inbound Sales", "CALL TYPE": "Inbound", "SKILL": c.queue,
               "AGENT": c.agent_id if c.answered else "[None]",
               "DISPOSITION": "Abandon" if c.abandoned else "Resolved", "IVR TIME": hms(ivr),
               "QUEUE WAIT TIME": hms(int(c.wait_s)), "TALK TIME": hms(talk), "HOLD TIME": hms(hold),
               "AFTER CALL WORK TIME": hms(acw), "TRANSFERS": int(c.transferred) * (1 + i % 2),
               "ABANDONED": int(c.abandoned)}
        rows.append(row)
        if i % 9 == 0:  # an outbound call and an IVR-only call: not contacts
            rows.append(dict(row, **{"CALL ID": f"{c.contact_id}-OUT", "CALL TYPE": "Outbound", "ABANDONED": 0}))
            rows.append(dict(row, **{"CALL ID": f"{c.contact_id}-IVR", "SKILL": "[None]", "ABANDONED": 0}))
    pd.DataFrame(rows).to_csv(path, index=False)


WRITERS = {"amazon-connect-ctr": (write_connect, "contacts.jsonl", None),
           "genesys-cloud-conversations": (write_genesys, "conversations.json", None),
           "nice-cxone-contacts": (write_cxone, "call_detail.csv", ZONE),
           "five9-call-log": (write_five9, "call_log.csv", ZONE)}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_round_trip_gives_the_canonical_panel(fmt, world, canonical, tmp_path):
    folder, contacts = world
    write, name, zone = WRITERS[fmt]
    path = tmp_path / name
    write(contacts, path)
    panel = build_panel(Source(path, format=fmt, timezone=zone), surveys=folder / "surveys.csv",
                        grain="day", by=["queue"], timezone=ZONE)
    same_panel(panel, canonical)
    assert panel.n_contacts == len(contacts)
