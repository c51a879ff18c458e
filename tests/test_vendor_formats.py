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
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from alignment import build_panel
from alignment.data import Source
from alignment.exceptions import FormatError, InputError, OptionError
from alignment.simulate import simulate

ZONE = "America/New_York"


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
    if fmt == "amazon-connect-ctr":  # contact attributes become columns: a segment like any other
        by_reason = build_panel(Source(path, format=fmt), grain="week", by=["reason"], timezone=ZONE)
        expected = build_panel(folder / "contacts.csv", grain="week", by=["reason"], timezone=ZONE)
        pd.testing.assert_frame_equal(by_reason.table[["period", "reason", "n_contacts"]],
                                      expected.table[["period", "reason", "n_contacts"]])


# ---------------------------------------------------------------------------
# traps, one test each
# ---------------------------------------------------------------------------

def read(fmt: str, path: Path, zone: str | None = None) -> pd.DataFrame:
    from alignment.data.formats import get_format
    label = "export" if isinstance(path, list) else path.name  # several files: each names itself
    return get_format(fmt).reader(path, label=label, timezone=zone).set_index("contact_id")


def ctr(cid, *, queue="billing", at="2025-01-06T13:00:00Z", wait=30, agent=True, method="INBOUND", **extra):
    rec = {"ContactId": cid, "Channel": "VOICE", "InitiationMethod": method, "InitiationTimestamp": at,
           "Queue": {"Name": queue, "EnqueueTimestamp": at, "Duration": wait}}
    if agent:
        rec["Agent"] = {"ConnectedToAgentTimestamp": at, "AgentInteractionDuration": 100,
                        "CustomerHoldDuration": 10, "AfterContactWorkDuration": 5}
    rec.update(extra)
    return rec


def jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_connect_keeps_the_latest_copy_of_a_contact(tmp_path):
    path = jsonl(tmp_path / "contacts.jsonl", [
        ctr("a", queue="billing", agent=False, LastUpdateTimestamp="2025-01-06T13:05:00Z"),
        ctr("a", queue="orders", LastUpdateTimestamp="2025-01-06T14:00:00Z"),
        ctr("a", queue="stale", agent=False, LastUpdateTimestamp="2025-01-06T13:01:00Z"),  # later line, older copy
        ctr("b", queue="billing", agent=False), ctr("b", queue="orders")])  # no times: the later line
    got = read("amazon-connect-ctr", path)
    assert len(got) == 2
    assert got.loc["a", "queue"] == "orders" and bool(got.loc["a", "answered"])
    assert got.loc["b", "queue"] == "orders" and bool(got.loc["b", "answered"])


def test_connect_transfer_leg_is_not_a_contact_of_the_next_queue(tmp_path):
    path = jsonl(tmp_path / "contacts.jsonl", [
        ctr("a", queue="billing"),
        ctr("a2", queue="orders", method="TRANSFER", PreviousContactId="a", wait=4),
        ctr("a3", queue="retention", method="QUEUE_TRANSFER", PreviousContactId="a2", wait=4),
        ctr("x2", queue="orders", method="TRANSFER", PreviousContactId="not-in-the-file"),
        ctr("b", queue="billing", TransferCompletedTimestamp="2025-01-06T13:02:00Z"),
        ctr("c", queue="billing")])
    got = read("amazon-connect-ctr", path)
    assert sorted(got.index) == ["a", "b", "c"]
    assert got["queue"].tolist() == ["billing"] * 3
    assert got.loc["a", "handle_s"] == 3 * 115 and got.loc["a", "wait_s"] == 30  # legs' agent time, own wait
    assert got["transferred"].tolist() == [True, True, False]


def test_connect_telecom_problem_is_a_drop_not_an_abandon(tmp_path):
    path = jsonl(tmp_path / "contacts.jsonl", [
        ctr("a", agent=False, DisconnectReason="TELECOM_PROBLEM"),
        ctr("b", agent=False, DisconnectReason="CUSTOMER_DISCONNECT")])
    got = read("amazon-connect-ctr", path)
    assert got[["answered", "abandoned"]].values.tolist() == [[False, False], [False, True]]


def test_connect_callback_is_not_an_abandon(tmp_path):
    path = jsonl(tmp_path / "contacts.jsonl", [
        ctr("a", agent=False, wait=40, DisconnectReason="CONTACT_FLOW_DISCONNECT"),
        ctr("a-cb", method="CALLBACK", PreviousContactId="a", wait=300),
        ctr("b", agent=False, wait=40),
        ctr("b-cb", method="CALLBACK", PreviousContactId="b", agent=False, wait=600),
        ctr("c", method="CALLBACK", agent=False)])  # the request is not in the file: stands alone
    got = read("amazon-connect-ctr", path)
    assert sorted(got.index) == ["a", "b", "c"]
    assert got.loc["a", ["answered", "abandoned", "wait_s", "handle_s"]].tolist() == [True, False, 340, 115]
    assert got.loc["b", ["answered", "abandoned"]].tolist() == [False, False]
    assert not got.loc["c", "abandoned"]


def test_connect_self_service_and_outbound_are_not_contacts(tmp_path):
    path = jsonl(tmp_path / "contacts.jsonl", [
        ctr("a"), {"ContactId": "ivr", "Channel": "VOICE", "InitiationMethod": "INBOUND", "Queue": None},
        {"ContactId": "out", "InitiationMethod": "OUTBOUND", "Queue": {"Name": "billing"},
         "Agent": {"ConnectedToAgentTimestamp": "2025-01-06T13:00:00Z", "AgentInteractionDuration": 50}}])
    assert read("amazon-connect-ctr", path).index.tolist() == ["a"]


def test_connect_parquet_nested_and_flattened_read_as_the_json_lines(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    records = [ctr("a"), ctr("b", agent=False, wait=12, DisconnectReason="CUSTOMER_DISCONNECT"),
               ctr("a2", method="TRANSFER", PreviousContactId="a", queue="orders")]
    for r in records:
        r.setdefault("Agent", None), r.setdefault("PreviousContactId", None), r.setdefault("DisconnectReason", None)
    expected = read("amazon-connect-ctr", jsonl(tmp_path / "contacts.jsonl", records))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "nested.parquet")
    flat = pd.json_normalize(records)
    pq.write_table(pa.Table.from_pandas(flat), tmp_path / "flat.parquet")
    for name in ("nested.parquet", "flat.parquet"):
        pd.testing.assert_frame_equal(read("amazon-connect-ctr", tmp_path / name), expected)


def data_lake(records, *, queue_struct=False):
    """``records`` as rows of the Connect data lake's ``contact_record`` table: snake_case, flattened,
    durations in milliseconds, typed timestamps and an attributes map (Administrator Guide, "Contact
    data in the Connect Customer data lake")."""
    import pyarrow as pa
    from alignment.data.vendors.amazon_connect import DATA_LAKE

    def stamp(text):
        return None if text is None else pd.Timestamp(text).to_pydatetime()

    rows = []
    for rec in records:
        flat = pd.json_normalize(rec).iloc[0].to_dict()
        row = {"instance_id": "i-1"}
        for field, column in DATA_LAKE.items():
            value = rec.get("Attributes") if field == "Attributes" else flat.get(field)
            value = None if isinstance(value, float) and np.isnan(value) else value
            if column.endswith("_timestamp"):
                value = stamp(value)
            elif column.endswith("_ms") and value is not None:
                value = int(value * 1000)
            row[column] = value
        row["attributes"] = list((row["attributes"] or {}).items())
        rows.append(row)
    schema = {c: (pa.timestamp("ms", tz="UTC") if c.endswith("_timestamp") else pa.int64() if c.endswith("_ms")
                  else pa.map_(pa.string(), pa.string()) if c == "attributes" else pa.string())
              for c in rows[0]}
    table = pa.Table.from_pylist(rows, schema=pa.schema(schema))
    if queue_struct:  # the queue's columns in one struct: queue.name, queue.enqueue_timestamp...
        names = [c for c in table.column_names if c.startswith("queue_")]
        struct = pa.StructArray.from_arrays([table[c].combine_chunks() for c in names],
                                            names=[c[len("queue_"):] for c in names])
        table = table.drop_columns(names).append_column("queue", struct)
    return table


def test_connect_data_lake_parquet_reads_as_the_contact_records(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    records = [ctr("a", Attributes={"reason": "refund"}, LastUpdateTimestamp="2025-01-06T14:00:00Z"),
               ctr("a", queue="stale", agent=False, LastUpdateTimestamp="2025-01-06T13:01:00Z"),  # an older copy
               ctr("b", agent=False, wait=12, DisconnectReason="CUSTOMER_DISCONNECT"),
               ctr("c", agent=False, DisconnectReason="TELECOM_PROBLEM"),
               ctr("a2", method="TRANSFER", PreviousContactId="a", queue="orders", wait=4),
               ctr("d", agent=False, wait=40), ctr("d-cb", method="CALLBACK", PreviousContactId="d", wait=300)]
    records[0]["Agent"]["AgentInteractionDuration"] = 100.5  # milliseconds need not be whole seconds
    records[2]["Queue"]["DequeueTimestamp"] = "2025-01-06T13:00:12.250Z"
    del records[2]["Queue"]["Duration"]  # the wait from the dequeue time, as from the JSON
    expected = read("amazon-connect-ctr", jsonl(tmp_path / "contacts.jsonl", records))
    assert expected.loc["a", "reason"] == "refund" and expected.loc["b", "wait_s"] == 12.25
    for shape in (False, True):
        pq.write_table(data_lake(records, queue_struct=shape), tmp_path / "contact_record.parquet")
        pd.testing.assert_frame_equal(read("amazon-connect-ctr", tmp_path / "contact_record.parquet"), expected)

    def lower(value):  # the names as a Glue (Hive) schema keeps them, Firehose's conversion to Parquet
        return {k.lower(): lower(v) for k, v in value.items()} if isinstance(value, dict) else value
    lowered = [lower(r) for r in records]
    for r, original in zip(lowered, records):
        r["attributes"] = original.get("Attributes") or {}  # attribute keys keep their case
    table = pa.Table.from_struct_array(pa.array(lowered))  # the columns of every record, not the first's
    attributes = pa.array([list(r["attributes"].items()) for r in lowered], type=pa.map_(pa.string(), pa.string()))
    table = table.set_column(table.schema.get_field_index("attributes"), "attributes", attributes)
    pq.write_table(table, tmp_path / "firehose.parquet")
    pd.testing.assert_frame_equal(read("amazon-connect-ctr", tmp_path / "firehose.parquet"), expected)
    bad = data_lake(records).to_pylist()
    bad[3]["queue_duration_ms"] = -4000
    pq.write_table(pa.Table.from_pylist(bad, schema=data_lake(records).schema), tmp_path / "bad.parquet")
    with pytest.raises(FormatError, match=r"^bad.parquet, field 'queue_duration_ms', record 4: is negative"):
        read("amazon-connect-ctr", tmp_path / "bad.parquet")


def test_connect_bad_timestamp_names_the_field_and_the_record(tmp_path):
    bad = ctr("b")
    bad["Queue"]["EnqueueTimestamp"] = "06/01/2025 13:00"
    path = jsonl(tmp_path / "contacts.jsonl", [ctr("a"), bad])
    with pytest.raises(FormatError) as info:
        read("amazon-connect-ctr", path)
    assert str(info.value).startswith("contacts.jsonl, field 'Queue.EnqueueTimestamp', record 2: not a timestamp")


def conversation(cid, *, queue="billing", answered=True, system=False, second_queue=None):
    acd = [{"name": "tAcd", "value": 15000}, {"name": "tAnswered" if answered else "tAbandon", "value": 15000}]
    parts_ = [{"purpose": "customer", "sessions": [{"mediaType": "voice", "segments": [
                  {"segmentStart": "2025-01-06T13:00:00Z", "disconnectType": "system" if system else "endpoint"}]}]},
              {"purpose": "acd", "participantName": queue, "sessions": [{"mediaType": "voice", "segments": [
                  {"segmentStart": "2025-01-06T13:00:05.250Z", "queueId": "q1"}], "metrics": acd}]}]
    if answered:
        parts_.append({"purpose": "agent", "userId": "u1", "sessions": [{"mediaType": "voice", "metrics": [
            {"name": "tTalk", "value": 60500}, {"name": "tHeld", "value": 1000}, {"name": "tAcw", "value": 9000},
            {"name": "nTransferred", "value": 1 if second_queue else 0}]}]})
    if second_queue:
        parts_.append({"purpose": "acd", "participantName": second_queue, "sessions": [{"mediaType": "voice",
                       "segments": [{"segmentStart": "2025-01-06T13:02:00Z"}],
                       "metrics": [{"name": "tAbandon", "value": 3000}]}]})
    return {"conversationId": cid, "conversationStart": "2025-01-06T13:00:00Z", "participants": parts_}


def test_genesys_system_disconnect_is_not_an_abandon(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps({"conversations": [conversation("a", answered=False, system=True),
                                                  conversation("b", answered=False)]}))
    got = read("genesys-cloud-conversations", path)
    assert got[["answered", "abandoned"]].values.tolist() == [[False, False], [False, True]]


def test_genesys_milliseconds_and_the_first_queue(tmp_path):
    path = tmp_path / "conversations.jsonl"  # one conversation a line works too
    path.write_text(json.dumps(conversation("a", second_queue="orders")) + "\n")
    got = read("genesys-cloud-conversations", path)
    assert got.loc["a", ["queue", "wait_s", "handle_s", "transferred", "abandoned"]].tolist() == \
        ["billing", 15.0, 70.5, True, False]
    assert got.loc["a", "arrived_at"] == "2025-01-06T13:00:05.250000+00:00"


def test_genesys_conversation_still_in_queue_is_left_out(tmp_path):
    waiting = conversation("w", answered=False)
    waiting["participants"][1]["sessions"][0]["metrics"] = []
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps({"conversations": [conversation("a"), waiting]}))
    assert read("genesys-cloud-conversations", path).index.tolist() == ["a"]
    waiting["conversationEnd"] = "2025-01-06T13:10:00Z"
    path.write_text(json.dumps({"conversations": [conversation("a"), waiting]}))
    with pytest.raises(FormatError, match=r"record 2: have neither tAnswered, tAbandon nor tAcd"):
        read("genesys-cloud-conversations", path)


def test_genesys_bad_metric_names_the_field(tmp_path):
    conv = conversation("a")
    conv["participants"][1]["sessions"][0]["metrics"][1]["value"] = "15s"
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps({"conversations": [conversation("z"), conv]}))
    with pytest.raises(FormatError, match=r"^conversations.json, field 'participants\[1\].sessions\[0\].metrics\[1\]"
                                          r".value', record 2: of tAnswered is not a non-negative number"):
        read("genesys-cloud-conversations", path)


CXONE = ("Contact_ID,Master_Contact_ID,Media_Name,Skill_Name,Agent_No,Start_Date,Start_Time,PreQueue,InQueue,"
         "Abandon,Abandon_Time,Active_Talk_Time,Hold_Time,ACW_Seconds\n")


def test_cxone_one_row_per_leg_the_master_is_the_contact(tmp_path):
    path = tmp_path / "call_detail.csv"
    path.write_text(CXONE
                    + "101,101,Call,Billing,7,03/09/2025,01:59:50,20,30,N,0,100,10,5\n"   # DST starts 02:00
                    + "102,101,Call,Orders,8,03/09/2025,03:05:00,0,4,N,0,50,0,5\n"       # leg of 101
                    + "103,102,Call,Retention,9,03/09/2025,03:09:00,0,4,N,0,20,0,0\n"    # leg of the leg
                    + "104,999,Call,Orders,9,03/09/2025,03:09:00,0,4,N,0,20,0,0\n"       # master not in file
                    + "105,105,Chat,Billing,0,03/09/2025,09:00:00,0,80,Y,80,0,0,0\n")
    got = read("nice-cxone-contacts", path, ZONE)
    assert got.index.tolist() == ["101", "105"]
    assert got.loc["101", ["queue", "handle_s", "transferred", "wait_s"]].tolist() == ["Billing", 190, True, 30]
    assert got.loc["101", "arrived_at"] == "2025-03-09T03:00:10-04:00"  # 01:59:50 + 20 s, across the DST change
    assert got.loc["105", ["channel", "answered", "abandoned", "agent_id"]].tolist() == ["chat", False, True, None]


def test_cxone_and_five9_need_the_account_time_zone(tmp_path):
    path = tmp_path / "call_detail.csv"
    path.write_text(CXONE + "101,101,Call,Billing,7,03/09/2025,09:00:00,0,30,N,0,100,10,5\n")
    with pytest.raises(OptionError, match="account's time zone"):
        read("nice-cxone-contacts", path)


def test_cxone_bad_date_names_the_field_and_row(tmp_path):
    path = tmp_path / "call_detail.csv"
    path.write_text(CXONE + "101,101,Call,Billing,7,03/09/2025,09:00:00,0,30,N,0,100,10,5\n"
                    + "102,102,Call,Billing,7,2025-03-09,09:00:00,0,30,N,0,100,10,5\n")
    with pytest.raises(FormatError, match=r"^call_detail.csv, field 'Start_Date', row 2: is not a date MM/DD/YYYY"):
        read("nice-cxone-contacts", path, ZONE)


FIVE9 = ("CALL ID,TIMESTAMP,CAMPAIGN,CALL TYPE,SKILL,AGENT,DISPOSITION,IVR TIME,QUEUE WAIT TIME,TALK TIME,"
         "HOLD TIME,AFTER CALL WORK TIME,TRANSFERS,ABANDONED\n")


def test_five9_clock_times_and_what_is_not_a_contact(tmp_path):
    path = tmp_path / "call_log.csv"
    path.write_text(FIVE9
                    + '1,"Thu, 27 Oct 2016 14:51:34",Sales,Inbound,Billing,jo,Resolved,00:00:26,00:01:05,00:10:00,'
                      '00:00:30,00:01:00,1,0\n'
                    + '2,"Thu, 27 Oct 2016 14:52:00",Sales,Outbound,Billing,jo,Resolved,0:00:00,0:00:00,0:05:00,'
                      '0:00:00,0:00:00,0,0\n'
                    + '3,"Thu, 27 Oct 2016 14:53:00",Sales,Inbound,[None],[None],Hangup,0:01:00,0:00:00,0:00:00,'
                      '0:00:00,0:00:00,0,0\n'
                    + '4,"Thu, 27 Oct 2016 15:00:00",Sales,Inbound,Billing,[None],Abandon,0:00:00,0:02:03,0:00:00,'
                      '0:00:00,0:00:00,0,1\n')
    got = read("five9-call-log", path, "America/Los_Angeles")
    assert got.index.tolist() == ["1", "4"]
    assert got.loc["1", ["arrived_at", "wait_s", "handle_s", "transferred", "answered"]].tolist() == \
        ["2016-10-27T14:52:00-07:00", 65, 690, True, True]
    assert got.loc["4", ["answered", "abandoned", "wait_s", "agent_id"]].tolist() == [False, True, 123, None]


def test_five9_bad_duration_names_the_field_and_row(tmp_path):
    path = tmp_path / "call_log.csv"
    path.write_text(FIVE9 + '1,"Thu, 27 Oct 2016 14:51:34",Sales,Inbound,Billing,jo,Resolved,0:00:00,1:65,'
                            '0:10:00,0:00:30,0:01:00,0,0\n')
    with pytest.raises(FormatError, match=r"^call_log.csv, field 'QUEUE WAIT TIME', row 1: is not a duration"):
        read("five9-call-log", path, ZONE)


# ---------------------------------------------------------------------------
# several files: a day a file
# ---------------------------------------------------------------------------

def test_connect_daily_files_read_as_one_export(world, canonical, tmp_path):
    folder, contacts = world
    write_connect(contacts, tmp_path / "all.jsonl")
    lines = (tmp_path / "all.jsonl").read_text().splitlines(keepends=True)
    # split just before a transfer leg: the leg's file is the next day's, its contact's the day before
    cut = next(i for i, line in enumerate(lines) if i > len(lines) // 2 and '"TRANSFER"' in line)
    (tmp_path / "ctr").mkdir()
    (tmp_path / "ctr" / "2025-01-01.jsonl").write_text("".join(lines[:cut]))
    (tmp_path / "ctr" / "2025-01-02.jsonl").write_text("".join(lines[cut:]))
    pattern = Source(tmp_path / "ctr" / "*.jsonl", format="amazon-connect-ctr", glob=True)
    same_panel(build_panel(pattern, surveys=folder / "surveys.csv", grain="day", by=["queue"], timezone=ZONE),
               canonical)
    from alignment.data.read import export_files  # a folder is every file in it, in name order, as the pattern
    assert export_files(Source(tmp_path / "ctr", format="amazon-connect-ctr")) == export_files(pattern)
    # a copy of a contact in the next day's file replaces the older one, whatever the file
    first = json.loads(lines[0])
    later = dict(first, Queue=dict(first["Queue"], Name="moved"), LastUpdateTimestamp="2030-01-01T00:00:00Z")
    jsonl(tmp_path / "ctr" / "2025-01-03.jsonl", [later])
    got = read("amazon-connect-ctr", sorted((tmp_path / "ctr").iterdir()))
    assert got.loc[first["ContactId"], "queue"] == "moved" and len(got) == len(contacts)
    with pytest.raises(InputError, match=r"^.*ctr/none-\*\.jsonl: no file matches the pattern"):
        build_panel(Source(tmp_path / "ctr" / "none-*.jsonl", format="amazon-connect-ctr", glob=True))


def test_csv_exports_a_day_a_file_and_errors_name_the_file(world, canonical, tmp_path):
    folder, contacts = world
    days = contacts["utc"].dt.tz_convert(ZONE).dt.date
    (tmp_path / "log").mkdir()
    for day in sorted(days.unique())[:3]:  # one call log per day, each with its header
        write_five9(contacts[days == day], tmp_path / "log" / f"call_log_{day}.csv")
    expected = read("five9-call-log", tmp_path / "log" / f"call_log_{min(days)}.csv", ZONE)
    got = read("five9-call-log", sorted((tmp_path / "log").iterdir()), ZONE)
    assert len(got) == (days <= sorted(days.unique())[2]).sum()
    pd.testing.assert_frame_equal(got.loc[expected.index], expected)
    second = sorted((tmp_path / "log").iterdir())[1]
    text = second.read_text().splitlines()
    text[1] = text[1].replace(":", "h", 1)  # a bad clock time in row 1 of the second day
    second.write_text("\n".join(text) + "\n")
    with pytest.raises(FormatError, match=rf"^{second}, field 'TIMESTAMP', row 1: is not a Five9 timestamp"):
        build_panel(Source(tmp_path / "log", format="five9-call-log", timezone=ZONE))
    dupe = sorted((tmp_path / "log").iterdir())[2]
    write_five9(contacts[days == min(days)].head(1), dupe)  # a call of the first day again
    with pytest.raises(FormatError, match=rf"^{dupe}, field 'CALL ID', row 1: repeats the CALL ID of row 1 of "):
        read("five9-call-log", [sorted((tmp_path / "log").iterdir())[0], dupe], ZONE)


# ---------------------------------------------------------------------------
# the command line and the study file
# ---------------------------------------------------------------------------

def run(capsys, monkeypatch, *args, cwd):
    """The command line in process (the console script calls the same ``main``): exit code and stderr."""
    from alignment import cli
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err


BAD = {
    "amazon-connect-ctr": ("contacts.jsonl", '{"ContactId": "a", "Queue": {"Name": "q", "EnqueueTimestamp": "soon"}}\n',
                           "contacts.jsonl, field 'Queue.EnqueueTimestamp', record 1: not a timestamp"),
    "genesys-cloud-conversations": ("conversations.json", '{"conversations": [{"participants": []}]}',
                                    "conversations.json, field 'conversationId', record 1: is missing"),
    "nice-cxone-contacts": ("call_detail.csv", "Contact_ID,Skill_Name\n1,Billing\n",
                            "call_detail.csv, field 'Master_Contact_ID': is not a NICE CXone call detail export"),
    "five9-call-log": ("call_log.csv", FIVE9 + '1,"27/10/2016 14:51",S,Inbound,B,jo,R,0:00:00,0:00:05,0:01:00,'
                                               '0:00:00,0:00:00,0,0\n',
                       "call_log.csv, field 'TIMESTAMP', row 1: is not a Five9 timestamp"),
}


@pytest.mark.parametrize("fmt", list(BAD))
def test_cli_bad_export_exits_2_with_one_line(fmt, tmp_path, capsys, monkeypatch):
    name, text, start = BAD[fmt]
    (tmp_path / name).write_text(text)
    code, err = run(capsys, monkeypatch, "kpis", name, "--format", fmt, "--contacts-timezone", ZONE,
                    "--timezone", ZONE, "--out", "panel.csv", cwd=tmp_path)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"alignment: error: {start}"), lines
    assert not (tmp_path / "panel.csv").exists()


def test_cli_and_study_file_read_an_export(world, canonical, tmp_path, capsys, monkeypatch):
    folder, contacts = world
    write_five9(contacts, tmp_path / "call_log.csv")
    code, err = run(capsys, monkeypatch, "kpis", "call_log.csv", "--format", "five9-call-log", "--contacts-timezone",
                    ZONE, "--surveys", folder / "surveys.csv", "--grain", "day", "--by", "queue", "--timezone", ZONE,
                    "--out", "panel.csv", "--quiet", cwd=tmp_path)
    assert code == 0, err
    panel = pd.read_csv(tmp_path / "panel.csv")
    assert panel["n_contacts"].tolist() == canonical.table["n_contacts"].tolist()
    assert panel["n_transferred"].tolist() == canonical.table["n_transferred"].tolist()

    from alignment.study.config import load_study
    (tmp_path / "study.toml").write_text(f"""
[study]
name = "five9"
outcome = "csat"
grain = "week"
by = ["queue"]
timezone = "{ZONE}"
kpis = ["service_level", "abandon_rate", "asa", "aht", "transfer_rate"]

[data.contacts]
path = "call_log.csv"
format = "five9-call-log"
timezone = "{ZONE}"

[data.surveys]
path = "{(folder / 'surveys.csv').as_posix()}"
""")
    study = load_study(tmp_path / "study.toml")
    assert study.contacts.format == "five9-call-log" and study.contacts.timezone == ZONE


def test_cli_and_study_file_read_an_export_a_day_a_file(world, canonical, tmp_path, capsys, monkeypatch):
    folder, contacts = world
    days = contacts["utc"].dt.tz_convert(ZONE).dt.date
    (tmp_path / "logs").mkdir()
    for day in sorted(days.unique()):
        write_five9(contacts[days == day], tmp_path / "logs" / f"call_log_{day}.csv")
    args = ("kpis", "logs/call_log_*.csv", "--glob", "--format", "five9-call-log", "--contacts-timezone", ZONE,
            "--grain", "day", "--by", "queue", "--timezone", ZONE, "--quiet")
    code, err = run(capsys, monkeypatch, *args, "--out", "panel.csv", cwd=tmp_path)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "panel.csv")["n_contacts"].tolist() == canonical.table["n_contacts"].tolist()
    code, err = run(capsys, monkeypatch, *args, "--out", "logs/call_log_all.csv", cwd=tmp_path)
    assert code == 2 and err.strip() == ("alignment: error: --out logs/call_log_all.csv: matches the input pattern "
                                         "logs/call_log_*.csv; the next run would read the panel as an input: "
                                         "write it elsewhere")
    code, err = run(capsys, monkeypatch, *args[:1], "logs/none_*.csv", *args[2:], "--out", "panel.csv", cwd=tmp_path)
    assert code == 2 and err.strip() == ("alignment: error: logs/none_*.csv: no file matches the pattern (glob = "
                                         "true: *, ?, [abc] and ** for any folders)")
    from alignment.study.config import load_study
    (tmp_path / "study.toml").write_text(f"""
[study]
name = "five9"
outcome = "csat"
timezone = "{ZONE}"
kpis = ["service_level", "abandon_rate"]

[data.contacts]
path = "logs/call_log_*.csv"
glob = true
format = "five9-call-log"
timezone = "{ZONE}"

[data.surveys]
path = "{(folder / 'surveys.csv').as_posix()}"
""")
    study = load_study(tmp_path / "study.toml")
    panel = build_panel(study.contacts, grain="day", by=["queue"], timezone=ZONE)
    assert panel.table["n_contacts"].tolist() == canonical.table["n_contacts"].tolist()


def test_readme_tables_list_every_rule_of_every_format():
    from alignment.data.formats import FORMATS
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Platform exports"):readme.index("### My platform is not listed")]
    for fmt in FORMATS.values():
        if not fmt.fields:
            continue
        table = section[section.index(f"#### `{fmt.name}`"):]
        for vendor, canonical, rule in fmt.fields:
            assert f"| `{vendor}` |" in table and rule in table, (fmt.name, vendor)


def test_exports_gzip_and_not_utf8(tmp_path):
    import gzip
    records = [ctr("a"), ctr("b", agent=False)]
    plain = read("amazon-connect-ctr", jsonl(tmp_path / "contacts.jsonl", records))
    (tmp_path / "contacts.jsonl.gz").write_bytes(gzip.compress((tmp_path / "contacts.jsonl").read_bytes()))
    pd.testing.assert_frame_equal(read("amazon-connect-ctr", tmp_path / "contacts.jsonl.gz"), plain)
    (tmp_path / "call_log.csv").write_bytes((FIVE9 + '1,"Thu, 27 Oct 2016 14:51:34",Caf\xe9,Inbound,B,jo,R,0:00:00,'
                                                     '0:00:05,0:01:00,0:00:00,0:00:00,0,0\n').encode("latin-1"))
    with pytest.raises(InputError, match=r"call_log.csv: is not UTF-8 text: line 2 holds the byte 0xE9"):
        read("five9-call-log", tmp_path / "call_log.csv", ZONE)


def test_connect_wait_from_dequeue_when_duration_is_absent(tmp_path):
    rec = ctr("a", agent=False)
    rec["Queue"] = {"Name": "billing", "EnqueueTimestamp": "2025-01-06T13:00:00Z",
                    "DequeueTimestamp": "2025-01-06T13:01:12.500Z"}
    got = read("amazon-connect-ctr", jsonl(tmp_path / "contacts.jsonl", [rec]))
    assert got.loc["a", "wait_s"] == 72.5
    rec["Queue"].pop("DequeueTimestamp")
    with pytest.raises(FormatError, match="field 'Queue.Duration', record 1: is missing"):
        read("amazon-connect-ctr", jsonl(tmp_path / "contacts.jsonl", [rec]))


def test_genesys_json_list_and_five9_without_call_type(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conversation("a"), conversation("b", answered=False)], indent=2))
    assert read("genesys-cloud-conversations", path).index.tolist() == ["a", "b"]
    log = tmp_path / "call_log.csv"
    log.write_text("CALL ID,TIMESTAMP,SKILL,QUEUE WAIT TIME,TALK TIME,ABANDONED\n"
                   '1,"Mon, 06 Jan 2025 09:00:00",Billing,0:00:10,0:02:00,0\n'
                   '2,"Mon, 06 Jan 2025 09:05:00",Billing,0:00:40,0:00:00,0\n')
    got = read("five9-call-log", log, ZONE)  # without AGENT, a call with talk time was answered
    assert got["answered"].tolist() == [True, False] and got["handle_s"].tolist() == [120, 0]


CONTACTS = ("contact_id,queue,arrived_at,answered,abandoned,wait_s\n"
            "c1,billing,2025-01-06T09:00:00Z,true,false,10\n")
BAD_MORE = {  # format: (role, file name, text, start of the one line)
    "surveymonkey-csv": ("surveys", "sm.csv", "Respondent ID,End Date\n,\n1,yesterday\n",
                         "sm.csv, field 'End Date', row 1: is not a date-time"),
    "zendesk-satisfaction": ("surveys", "ratings.json", '{"satisfaction_ratings": [{"id": 1, "ticket_id": "c1", '
                                                        '"score": "great"}]}',
                             "ratings.json, field 'score', record 1: is not good, bad"),
    "zendesk-tickets": ("contacts", "tickets.json", '{"tickets": [{"id": 1, "group_id": 5}]}',
                        "tickets.json, field 'created_at', record 1: is missing"),
    "avaya-cms-hsplit": ("intervals", "hsplit.csv", "row_date,starttime,split,callsoffered\n2025-01-06,900,7,-3\n",
                         "hsplit.csv, column 'callsoffered', row 1: is negative"),
    "genesys-cloud-aggregates": ("intervals", "aggregates.json", '{"results": [{"group": {}, "data": [{"interval": '
                                                                 '"soon"}]}]}',
                                 "aggregates.json, field 'data[0].interval', record 1: is not an interval"),
    "amazon-connect-historical": ("intervals", "historical.json", '{"MetricResults": [{"Dimensions": {"QUEUE": "q"}, '
                                  '"MetricInterval": {"StartTime": "2025-01-06T13:00:00Z"}, "Collections": '
                                  '[{"Metric": {"Name": "CONTACTS_QUEUED"}, "Value": "12"}]}]}',
                                  "historical.json, field 'Collections[0].Value', record 1: of CONTACTS_QUEUED is not"),
}


@pytest.mark.parametrize("fmt", list(BAD_MORE))
def test_cli_bad_export_of_every_other_format_exits_2(fmt, tmp_path, capsys, monkeypatch):
    role, name, text, start = BAD_MORE[fmt]
    (tmp_path / name).write_text(text)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    args = {"contacts": [name, "--format", fmt],
            "surveys": ["contacts.csv", "--surveys", name, "--survey-format", fmt, "--surveys-timezone", ZONE],
            "intervals": ["--intervals", name, "--format", fmt, "--contacts-timezone", ZONE]}[role]
    code, err = run(capsys, monkeypatch, "kpis", *args, "--timezone", ZONE, "--out", "panel.csv", cwd=tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"alignment: error: {start}"), lines
    assert not (tmp_path / "panel.csv").exists()


def sf_time(moment) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000+0000")  # as the API writes it


def write_voicecall(contacts: pd.DataFrame, path: Path, seed: int = 5) -> None:
    """VoiceCall records as Salesforce Voice fills them from Connect (Object Reference, VoiceCall)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, c in enumerate(contacts.itertuples()):
        queued = c.utc
        accepted = queued + pd.Timedelta(seconds=int(c.wait_s)) if c.answered else None
        leg = int(rng.integers(0, int(c.handle_s) // 2 + 1)) if c.answered and c.transferred else 0
        ended = (accepted + pd.Timedelta(seconds=int(c.handle_s) - leg) if c.answered
                 else queued + pd.Timedelta(seconds=int(c.wait_s)))
        rows.append({"Id": c.contact_id, "CallType": "Inbound", "QueueName": c.queue,
                     "CallStartDateTime": sf_time(queued - pd.Timedelta(seconds=15)),
                     "CallQueuedDateTime": sf_time(queued), "CallAcceptDateTime": sf_time(accepted) if accepted else "",
                     "CallEndDateTime": sf_time(ended), "CallDisposition": "completed",
                     "DisconnectReason": ("CUSTOMER_DISCONNECT" if c.abandoned else "AGENT_DISCONNECT" if c.answered
                                          else "TELECOM_PROBLEM"), "PreviousCallId": "", "NextCallId": ""})
        if c.answered and c.transferred:  # a leg into another queue (and on, every third one): not its contact
            prev = c.contact_id
            for hop in range(1 + (i % 3 == 0)):
                part = leg if hop == 0 else 0
                rows.append(dict(rows[-1], Id=f"{c.contact_id}-T{hop}", CallType="Transfer", QueueName="other",
                                 CallQueuedDateTime=sf_time(ended), CallAcceptDateTime=sf_time(ended),
                                 CallEndDateTime=sf_time(ended + pd.Timedelta(seconds=part)), PreviousCallId=prev,
                                 NextCallId=""))
                prev = rows[-1]["Id"]
        if i % 10 == 0:  # outbound, internal and consultation calls, and a call that never queued
            for kind in ("Outbound", "InternalCall", "Consult"):
                rows.append(dict(rows[-1], Id=f"{c.contact_id}-{kind}", CallType=kind, PreviousCallId=""))
            rows.append(dict(rows[-1], Id=f"{c.contact_id}-N", CallType="Inbound", CallQueuedDateTime=""))
    pd.DataFrame(rows).to_csv(path, index=False)


def voicecall(cid, kind="Inbound", *, handle=100, **extra):
    at = "2025-01-06T13:00:00.000+0000"
    rec = {"Id": cid, "CallType": kind, "QueueName": "billing", "CallQueuedDateTime": at,
           "CallAcceptDateTime": "2025-01-06T13:00:30.000+0000",
           "CallEndDateTime": (pd.Timestamp("2025-01-06T13:00:30Z") + pd.Timedelta(seconds=handle)).strftime(
               "%Y-%m-%dT%H:%M:%S.000+0000")}
    rec.update(extra)
    return rec


def test_salesforce_transfer_legs_by_previous_call_id(tmp_path):
    path = jsonl(tmp_path / "voicecall.jsonl", [
        voicecall("a"), voicecall("a-T", "Transfer", handle=40, QueueName="orders", PreviousCallId="a"),
        voicecall("a-T2", "Transfer", handle=20, QueueName="retention", PreviousCallId="a-T"),
        voicecall("b", NextCallId="b-T-not-exported"),
        voicecall("x-T", "Transfer", PreviousCallId="not-in-the-export"),  # its call began before the export
        voicecall("c", "InternalCall"), voicecall("d", "Consult"), voicecall("e", "Callback"), voicecall("f")])
    got = read("salesforce-voicecall", path)
    assert got.index.tolist() == ["a", "b", "e", "f"] and set(got["queue"]) == {"billing"}
    assert got["handle_s"].tolist() == [160, 100, 100, 100]  # the legs' agent time is the call's
    assert got["transferred"].tolist() == [True, True, False, False]


def test_salesforce_voicecall_round_trip(world, tmp_path):
    folder, contacts = world
    write_voicecall(contacts, tmp_path / "voicecall.csv")
    panel = build_panel(Source(tmp_path / "voicecall.csv", format="salesforce-voicecall"), surveys=folder / "surveys.csv",
                        grain="day", by=["queue"], timezone=ZONE)
    expected = build_panel(folder / "contacts.csv", surveys=folder / "surveys.csv", grain="day", by=["queue"],
                           timezone=ZONE)
    cols = [c for c in panel.table.columns if c in expected.table.columns]
    assert {"service_level", "abandon_rate", "asa", "aht", "transfer_rate", "csat"} <= set(cols)
    pd.testing.assert_frame_equal(panel.table[cols], expected.table[cols], check_exact=True)
    unlinked = pd.read_csv(tmp_path / "voicecall.csv", dtype=str).drop(columns=["PreviousCallId", "NextCallId"])
    unlinked.to_csv(tmp_path / "unlinked.csv", index=False)  # no field links a leg to its call
    got = read("salesforce-voicecall", tmp_path / "unlinked.csv")
    assert "transferred" not in got and len(got) == len(contacts)
    text = (tmp_path / "voicecall.csv").read_text().splitlines()
    text[1] = text[1].replace(".000+0000", "", 1).replace("T", " ", 1)  # still a time; now break one
    text[2] = text[2].replace("+0000", "+0000 UTC", 2)
    (tmp_path / "bad.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(FormatError, match=r"^bad.csv, field 'Call\w+DateTime', row 2: not a timestamp"):
        read("salesforce-voicecall", tmp_path / "bad.csv")
