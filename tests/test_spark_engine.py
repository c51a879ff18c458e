"""The Spark engine builds the same panel as DuckDB, from the same SQL transpiled by SQLGlot.

Every comparison is exact (``check_exact=True``): the components are integer sums on both
engines, so every KPI, period and segment must agree to the last bit, including the days
when New York's clocks change. All tests share one local[2] Spark session and run in one
xdist worker (``xdist_group``), so CI starts one JVM.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment import ExtraSource, InputError, Intervals, Source, build_panel
from alignment.engine import SparkEngine
from alignment.simulate import simulate
from alignment.study import load_study

pytestmark = pytest.mark.xdist_group("spark")

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "data" / "anonymous_bank" / "anonymous_bank_feb1999.txt"
NY = "America/New_York"


@pytest.fixture(scope="module")
def spark():
    return SparkEngine(master="local[2]")


def both(spark, contacts, **kw):
    duck = build_panel(contacts, **kw).table
    on_spark = build_panel(contacts, engine=spark, **kw).table
    pd.testing.assert_frame_equal(duck, on_spark, check_exact=True)
    return duck


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulated year from Monday 2025-01-06: both DST changes of 2025 (9 Mar, 2 Nov) fall inside."""
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=7, days=364, queues=3, contacts_per_day=15)
    extras = pd.read_csv(folder / "backlog.csv")
    # the two aggregation rules the simulator's sources do not use
    extras.rename(columns={"email_backlog": "peak_backlog"}).to_csv(folder / "peak.csv", index=False)
    extras.rename(columns={"email_backlog": "open_cases"}).to_csv(folder / "open.csv", index=False)
    return folder


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_simulated_world_every_kpi_period_and_segment(spark, world, grain):
    extras = [ExtraSource(world / "backlog.csv", by=["queue"]),
              ExtraSource(world / "marketing.csv", aggregate="sum"),
              ExtraSource(world / "peak.csv", by=["queue"], aggregate="max"),
              ExtraSource(world / "open.csv", by=["queue"], aggregate="last")]
    table = both(spark, world / "contacts.csv", surveys=world / "surveys.csv", extras=extras, grain=grain,
                 by=["queue"], timezone=NY)
    assert table["n_contacts"].sum() == len(pd.read_csv(world / "contacts.csv"))
    if grain == "day":
        # the 23-hour and the 25-hour day are there, with their evening contacts
        days = set(table["period"].dt.strftime("%Y-%m-%d"))
        assert {"2025-03-09", "2025-11-02"} <= days
        assert table["csat"].notna().sum() > 0 and table["open_cases__at"].notna().all()


def test_simulated_world_whole_center_and_a_window(spark, world):
    both(spark, world / "contacts.csv", surveys=world / "surveys.csv", grain="week", timezone=NY,
         start="2025-03-03", end="2025-11-09")


@pytest.fixture(scope="module")
def instants():
    """Aware contacts around local midnights and the DST changes, plus a queue nobody answered."""
    rng = np.random.default_rng(1)
    n = 3000
    at = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365 * 86400, n), unit="s")
    edges = pd.to_datetime(["2025-03-09 06:59:59", "2025-03-09 07:00:00", "2025-11-02 05:00:00",
                            "2025-11-02 06:00:00", "2025-11-03 04:59:59", "2025-11-03 05:00:00"], utc=True)
    at = at.append(edges)
    n = len(at)
    answered = rng.random(n) < 0.85
    queue = rng.choice(["a", "b", "z"], n)
    answered[queue == "z"] = False  # no answered contact: every per-answered KPI divides by zero
    return pd.DataFrame({
        "contact_id": np.arange(1, n + 1), "queue": queue, "arrived_at": at,
        "answered": answered, "abandoned": ~answered,
        "wait_s": np.round(rng.exponential(30, n), 3), "handle_s": np.where(answered, 300.5, np.nan),
    })


@pytest.mark.parametrize("buckets", [False, True])
def test_aware_parquet_dst_days_and_zero_denominators(spark, instants, tmp_path, monkeypatch, buckets):
    if buckets:  # the two-stage aggregation by 15-minute UTC bucket, whatever the volume
        monkeypatch.setattr("alignment.panel.build.MIN_CONTACTS_PER_BUCKET", 0)
    path = tmp_path / "contacts.parquet"
    instants.to_parquet(path, coerce_timestamps="us", allow_truncated_timestamps=True)
    table = both(spark, path, grain="day", by=["queue"], timezone=NY, start="2025-03-08", end="2025-11-03")
    z = table[table["queue"] == "z"]
    # an empty denominator is NULL on both engines (Spark in ANSI mode would raise on x / 0)
    assert z["n_contacts"].sum() > 0 and z["asa"].isna().all() and z["aht"].isna().all()
    assert table.loc[table["queue"] != "z", "asa"].notna().any()


def test_a_folder_of_parquet_files(spark, instants, tmp_path):
    folder = tmp_path / "contacts"
    folder.mkdir()
    half = len(instants) // 2
    for i, part in enumerate((instants.iloc[:half], instants.iloc[half:])):
        part.to_parquet(folder / f"part-{i}.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
    table = both(spark, folder, grain="month", by=["queue"], timezone=NY)
    assert table["n_contacts"].sum() == len(instants)
    # a bad row in the second file is named by that file and its row in it, on both engines
    bad = instants.iloc[half:].copy()
    bad.iloc[10, bad.columns.get_loc("wait_s")] = -1.0
    bad.to_parquet(folder / "part-1.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
    messages = []
    for engine in (None, spark):
        with pytest.raises(InputError) as error:
            build_panel(folder, engine=engine, timezone=NY)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{folder / 'part-1.parquet'}, column 'wait_s', row 11: is negative"), messages


def test_pandas_dataframe_source(spark, instants):
    both(spark, instants, grain="week", by=["queue"], timezone="Europe/Paris")


def test_naive_times_of_another_zone(spark, tmp_path):
    # Chicago wall-clock times read into a New York study, across both of Chicago's clock changes;
    # the times in the spring gap (02:30) and the autumn repeat (01:30) are included on purpose
    times = ["2025-03-08 23:30:00", "2025-03-09 01:59:59", "2025-03-09 02:30:00", "2025-03-09 03:00:00",
             "2025-03-09 22:59:59", "2025-03-09 23:00:00", "2025-11-01 23:30:00", "2025-11-02 01:30:00",
             "2025-11-02 02:00:00", "2025-11-02 22:59:00", "2025-11-02 23:00:00", "2025-06-30 23:00:00"]
    frame = pd.DataFrame({"contact_id": [f"c{i}" for i in range(len(times))], "queue": "q", "arrived_at": times,
                          "answered": "yes", "abandoned": "no", "wait_s": "12.5"})
    path = tmp_path / "chicago.csv"
    frame.to_csv(path, index=False)
    table = both(spark, Source(path, timezone="America/Chicago"), grain="day", timezone=NY)
    assert table["n_contacts"].sum() == len(times)


def test_anonymous_bank_format(spark):
    table = both(spark, Source(BANK, format="technion-anonymous-bank"), grain="day", by=["queue"],
                 timezone="Asia/Jerusalem")
    assert table["n_contacts"].sum() == 31125  # 33,344 rows - 278 PHANTOM - 1,941 hung up in the VRU


def test_table_source_through_a_global_temporary_view(spark, instants):
    session = spark.session()
    import pyarrow as pa
    text = instants.assign(arrived_at=instants["arrived_at"].astype(str))
    session.createDataFrame(pa.Table.from_pandas(text, preserve_index=False)) \
        .createOrReplaceGlobalTempView("al_contacts")
    kw = dict(grain="week", by=["queue"], timezone=NY)
    from_table = build_panel(Source(table="global_temp.al_contacts"), engine=spark, **kw).table
    pd.testing.assert_frame_equal(build_panel(instants, **kw).table, from_table, check_exact=True)


def test_a_missing_table_is_one_line(spark):
    with pytest.raises(InputError, match=r"^table cx\.nothing: is not a table of the Spark catalog .*"
                                         r"createOrReplaceGlobalTempView") as error:
        build_panel(Source(table="cx.nothing"), engine=spark, timezone=NY)
    assert "\n" not in str(error.value)


def test_a_delta_folder_without_delta_spark_is_one_line(spark, tmp_path):
    # the machines cannot download Delta's jars (Maven), so only the message is checked here
    (tmp_path / "contacts" / "_delta_log").mkdir(parents=True)
    with pytest.raises(InputError, match=r"contacts: is a Delta table, and this SparkSession cannot read Delta: "
                                         r"configure the delta-spark package") as error:
        build_panel(tmp_path / "contacts", engine=spark, timezone=NY)
    assert "\n" not in str(error.value)


def test_a_delta_folder_on_duckdb_is_refused_in_one_line(tmp_path):
    (tmp_path / "contacts" / "_delta_log").mkdir(parents=True)
    with pytest.raises(InputError, match=r"contacts: is a Delta table; Delta tables are read by the Spark engine"):
        build_panel(tmp_path / "contacts", timezone=NY)


def test_a_table_on_duckdb_is_refused_in_one_line():
    with pytest.raises(InputError, match=r"^table cx\.contacts: names a table; tables are read by the Spark"):
        build_panel(Source(table="cx.contacts"), timezone=NY)


@pytest.mark.parametrize("problem", ["bad value", "duplicate id", "duplicate integer id"])
def test_bad_rows_are_named_alike_on_both_engines(spark, tmp_path, problem, monkeypatch):
    from alignment.engine.spark_engine import SparkSqlSession
    seen, rows = [], SparkSqlSession.rows
    monkeypatch.setattr(SparkSqlSession, "rows", lambda self, sql: seen.append(sql) or rows(self, sql))
    n = 40
    ids = list(range(1, n + 1)) if problem == "duplicate integer id" else [f"c{i}" for i in range(n)]
    frame = pd.DataFrame({"contact_id": ids, "queue": "q",
                          "arrived_at": "2025-05-05T10:00:00-04:00", "answered": "true", "abandoned": "false",
                          "wait_s": "3"})
    if problem == "bad value":
        frame.loc[[17, 30], "wait_s"] = "soon"
    else:
        frame.loc[[22, 35], "contact_id"] = frame.loc[4, "contact_id"]
    if problem == "duplicate integer id":  # typed integer ids take the bitmap check on both engines
        path = tmp_path / "contacts.parquet"
        frame.to_parquet(path)
    else:
        path = tmp_path / "contacts.csv"
        frame.to_csv(path, index=False)
    messages = []
    for engine in (None, spark):
        with pytest.raises(InputError) as error:
            build_panel(path, timezone=NY, engine=engine)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert ("row 18" if problem == "bad value" else "row 23") in messages[0]  # 1-based, header not counted
    assert "(2 rows are bad)" in messages[0]
    assert any("bitmap_construct_agg" in q for q in seen) == (problem == "duplicate integer id")


def test_study_file_with_a_spark_engine_gives_the_same_results(world, tmp_path, spark):
    from conftest import STUDY
    # 15 contacts a queue a day leave about 20 surveys a week: below the default 30, every period would
    # leave the inference
    text = STUDY.format(outcome="csat").replace("n_boot = 60", "n_boot = 60\nmin_responses = 5")
    for name in ("contacts.csv", "surveys.csv", "backlog.csv", "marketing.csv"):
        (tmp_path / name).write_bytes((world / name).read_bytes())
    (tmp_path / "duck.toml").write_text(text)
    (tmp_path / "spark.toml").write_text(text + '\n[engine]\nkind = "spark"\nmaster = "local[2]"\n')
    duck, on_spark = (load_study(tmp_path / f"{k}.toml") for k in ("duck", "spark"))
    assert isinstance(on_spark.engine, SparkEngine) and on_spark.engine.master == "local[2]"
    a, b = duck.run().to_dict(), on_spark.run().to_dict()
    for d in (a, b):
        d.pop("study_file", None)
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _without(module: str) -> str:
    """Python code that makes ``import module`` fail, as on a machine without it."""
    return textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r} or name.startswith({module!r} + "."):
                    raise ImportError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
    """)


@pytest.mark.parametrize("missing, expected", [
    ("pyspark", "the study asks for the Spark engine but pyspark is not installed: pip install 'alignment[spark]'"),
    ("java", "the Spark engine needs Java 17 or newer, and no java was found (install a JDK, or set JAVA_HOME)"),
])
def test_missing_pyspark_or_java_is_one_line(tmp_path, missing, expected):
    code = (_without("pyspark") if missing == "pyspark" else "") + textwrap.dedent("""
        from alignment import build_panel, EngineError
        from alignment.engine import SparkEngine
        try:
            build_panel("data/demo/contacts.csv", timezone="UTC", engine=SparkEngine())
        except EngineError as error:
            print(error)
    """)
    env = dict(os.environ)
    if missing == "java":
        env.pop("JAVA_HOME", None)
        env["PATH"] = str(Path(sys.executable).parent)  # the venv's tools, no java
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == expected, out.stderr[-2000:]


def test_cli_names_the_missing_engine_in_one_line(tmp_path):
    study = tmp_path / "study.toml"
    demo = (ROOT / "data" / "demo" / "study.toml").read_text()
    study.write_text(demo.replace('path = "', f'path = "{ROOT / "data" / "demo"}/') +
                     '\n[engine]\nkind = "spark"\n')
    code = _without("pyspark") + "from alignment.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, "run", str(study), "--out", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("pyspark is not installed: pip install 'alignment[spark]'")
    assert not (tmp_path / "out").exists()


# ---- the transpiler's rewrites, one by one (no JVM) --------------------------------------

@pytest.mark.parametrize("duck, spark_sql", [
    ("SELECT timezone('America/New_York', t) FROM x",
     "SELECT CAST(FROM_UTC_TIMESTAMP(t, 'America/New_York') AS TIMESTAMP_NTZ) FROM x"),
    ("SELECT timezone('UTC', (w AT TIME ZONE 'Asia/Jerusalem')) FROM x",
     "SELECT CAST(FROM_UTC_TIMESTAMP((TO_UTC_TIMESTAMP(w, 'Asia/Jerusalem')), 'UTC') AS TIMESTAMP_NTZ) FROM x"),
    ("SELECT epoch_us(t), to_timestamp(b * 900) FROM x", "SELECT UNIX_MICROS(t), TIMESTAMP_SECONDS(b * 900) FROM x"),
    ("SELECT count_if(isinf(v)) FROM x", "SELECT COUNT_IF(ABS(v) = CAST('Infinity' AS DOUBLE)) FROM x"),
    ("SELECT d + INTERVAL (s) SECOND FROM x", "SELECT d + MAKE_DT_INTERVAL(0, 0, 0, (s)) FROM x"),
    ("SELECT d + INTERVAL 1 DAY FROM x", "SELECT d + INTERVAL '1' DAY FROM x"),
    ("SELECT arg_max(v, t) FILTER (WHERE v IS NOT NULL) FROM x",
     "SELECT MAX_BY(v, t) FILTER(WHERE NOT v IS NULL) FROM x"),
])
def test_each_rewrite_of_the_transpiler(duck, spark_sql):
    from alignment.engine.dialect import to_spark
    assert to_spark(duck) == spark_sql


@pytest.mark.parametrize("engine, message", [
    ('kind = "hadoop"', r"key 'engine\.kind': must be one of 'duckdb', 'spark'\. Got 'hadoop' instead\."),
    ('master = "local[2]"', r"key 'engine\.master': is a Spark setting: add kind = \"spark\""),
    ('kind = "spark"\nthreads = 4', r"key 'engine\.threads': unknown key \(known: kind, master\)"),
])
def test_engine_section_errors_name_the_key(tmp_path, engine, message):
    from alignment import StudyError
    from conftest import STUDY
    for name in ("contacts.csv", "surveys.csv", "backlog.csv", "marketing.csv"):
        (tmp_path / name).write_text("x\n1\n")
    (tmp_path / "study.toml").write_text(STUDY.format(outcome="csat") + f"\n[engine]\n{engine}\n")
    with pytest.raises(StudyError, match=message):
        load_study(tmp_path / "study.toml")


def test_a_table_needs_the_spark_engine_in_a_study_file(tmp_path):
    from alignment import StudyError
    from conftest import STUDY
    for name in ("surveys.csv", "backlog.csv", "marketing.csv"):
        (tmp_path / name).write_text("x\n1\n")
    text = STUDY.format(outcome="csat").replace('path = "contacts.csv"', 'table = "cx.contacts"')
    (tmp_path / "study.toml").write_text(text)
    with pytest.raises(StudyError, match=r"key 'data\.contacts\.table': a table is read by the Spark engine"):
        load_study(tmp_path / "study.toml")
    (tmp_path / "study.toml").write_text(text + '\n[engine]\nkind = "spark"\n')
    study = load_study(tmp_path / "study.toml")
    assert study.contacts.table == "cx.contacts" and study.contacts.label == "table cx.contacts"
    assert str(tmp_path / "study.toml") in study.inputs() and len(study.inputs()) == 4


def test_interval_reports_give_the_same_panel_on_spark(spark, tmp_path):
    """The avaya-cms-hsplit mapping and the interval panel are SQL: they must transpile and agree."""
    hsplit = tmp_path / "hsplit.csv"
    hsplit.write_text("row_date,starttime,split,callsoffered,acdcalls,abncalls,acceptable,anstime,abntime,"
                      "acdtime,holdtime,acwtime,transferred\n"
                      "2025-03-08,2330,7,10,6,3,5,60,90,1200,30,300,1\n"
                      "03/09/2025,130,7,4,4,0,4,20,0,800,0,100,0\n"       # the night New York's clocks change
                      "2025-03-09,300,8,5,2,2,1,70,40,500,10,60,0\n")
    source = Intervals(hsplit, format="avaya-cms-hsplit", timezone=NY, service_level_s=20)
    given = both(spark, source, grain="day", by=["queue"], timezone=NY)
    lines = hsplit.read_text().splitlines()  # the report's own threshold, and abandons within it
    within = (1, 0, 1)  # slvlabns, at most abncalls
    hsplit.write_text("\n".join([lines[0] + ",servicelevel,slvlabns"]
                                + [f"{line},20,{n}" for line, n in zip(lines[1:], within)]) + "\n")
    table = both(spark, Intervals(hsplit, format="avaya-cms-hsplit", timezone=NY), grain="day", by=["queue"],
                 timezone=NY)
    pd.testing.assert_series_equal(table["service_level"], given["service_level"])  # 20 s, said by the report
    assert table["n_abandoned_within_t"].sum() == 2
