"""Hostile inputs to the data layer (issue 14), through the real command line.

Each case breaks one thing in a copy of the bad-input world (:mod:`test_bad_inputs`) and runs
``alignment run``, ``alignment check`` or ``alignment kpis`` in a subprocess. A refused input gives
exit code 2, one line on stderr that names the file (and the column and row where there is one),
and leaves the study folder byte-identical. An input that must be read gives exit code 0 and the
right rows. The paths a study names are literal unless the source says ``glob = true``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import pandas as pd
import pytest

from test_bad_inputs import SCRIPT, Case, World, assert_one_error_line, run, simulated, snapshot, world  # noqa: F401


def cli(w: World, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], cwd=w.root, capture_output=True, text=True, timeout=300)


def kpis(w: World, contacts: str, *args: str, out: str = "panel.csv") -> subprocess.CompletedProcess:
    return cli(w, "kpis", contacts, "--by", "queue", "--timezone", "America/New_York", "--out", out, "--quiet", *args)


def n_contacts(w: World, panel: str = "panel.csv") -> int:
    return int(pd.read_csv(w.root / panel)["n_contacts"].sum())


def refused(w: World, result_of, *fragments: str) -> str:
    """Run ``result_of()`` and check it is refused in one line naming ``fragments``, writing nothing."""
    before = snapshot(w.root)
    result = result_of()
    assert_one_error_line(result, Case("", lambda _: None, fragments))
    assert snapshot(w.root) == before, "a refused input created, changed or deleted files"
    return result.stderr


# ---- 1. paths are literal; patterns only with glob = true ---------------------------------------

def test_a_path_with_brackets_is_that_file_not_a_pattern(world):
    contacts = world.read("contacts.csv")
    world.save("contacts[1].csv", contacts.head(500))
    world.save("contacts1.csv", contacts)  # what the pattern contacts[1].csv would match
    result = kpis(world, "contacts[1].csv")
    assert result.returncode == 0, result.stderr
    assert n_contacts(world) == 500


def test_a_parquet_folder_with_brackets_is_that_folder(world):
    contacts = world.read("contacts.csv")
    for folder, rows in (("pq[1]", 300), ("pq1", len(contacts))):
        (world.root / folder).mkdir()
        contacts.head(rows).to_parquet(world.root / folder / "part-0.parquet")
    result = kpis(world, "pq[1]")
    assert result.returncode == 0, result.stderr
    assert n_contacts(world) == 300


def test_a_tilde_is_a_folder_here_not_home(world):
    (world.root / "~").mkdir()
    lines = (world.root / "contacts.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (world.root / "~" / "x.csv").write_text("".join(lines[:201]), encoding="utf-8")
    result = kpis(world, "~/x.csv")
    assert result.returncode == 0, result.stderr
    assert n_contacts(world) == 200


def test_glob_true_reads_every_matching_file_and_a_pattern_without_it_is_not_found(world):
    contacts = world.read("contacts.csv")
    os.remove(world.root / "contacts.csv")
    world.save("contacts-a.csv", contacts.iloc[:6000])
    world.save("contacts-b.csv", contacts.iloc[6000:])
    world.replace('path = "contacts.csv"', 'path = "contacts-*.csv"')
    refused(world, lambda: cli(world, "check", "study.toml"), "study.toml", "key 'data.contacts.path'", "not found")
    world.replace('path = "contacts-*.csv"', 'path = "contacts-*.csv"\nglob = true')
    result = cli(world, "check", "study.toml")
    assert result.returncode == 0, result.stderr
    assert f"contacts in window: {len(contacts)} of {len(contacts)} read" in result.stdout.replace(",", "")


def test_a_pattern_that_matches_nothing_is_one_line(tmp_path, monkeypatch):
    from alignment import InputError, OptionError, Source, build_panel
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"^nothing-\*\.csv: no file matches the pattern"):
        build_panel(Source("nothing-*.csv", glob=True))
    with pytest.raises(OptionError, match="needs a path"):
        Source(table="cx.contacts", glob=True)


def test_glob_must_be_true_or_false(world):
    world.after("[data.contacts]", 'glob = "yes"')
    refused(world, lambda: run(world), "study.toml", "key 'data.contacts.glob'", "true or false")


# ---- 2. a column named twice -------------------------------------------------------------------

def test_a_column_named_twice_names_both_positions(world):
    path = world.root / "contacts.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at = header.index("wait_s") + 1
    path.write_text("\n".join([lines[0] + ",wait_s"] + [line + ",0" for line in lines[1:]]) + "\n", encoding="utf-8")
    refused(world, lambda: kpis(world, "contacts.csv"), "contacts.csv", "column 'wait_s'", "twice",
            f"columns {at} and {len(header) + 1}")


# ---- 3. what the file is: binary, gzip, UTF-16, Latin-1, a 30 MB field -------------------------

def _contacts_bytes(w: World) -> bytes:
    return (w.root / "contacts.csv").read_bytes()


@pytest.mark.parametrize("kind, fragments", [
    ("binary", ("contacts.csv", "binary file", "CSV (UTF-8) or Parquet")),
    ("xlsx", ("contacts.csv", "ZIP archive", "Excel", "CSV UTF-8")),
    ("utf-16", ("contacts.csv", "UTF-16", "save it as UTF-8")),
    ("latin-1", ("contacts.csv", "not UTF-8 text", "line 3", "0xE9", "save it as UTF-8")),
    ("huge-field", ("contacts.csv", "Maximum line size", "quote that is never closed")),
])
def test_a_file_that_is_not_utf8_csv_says_what_it_is(world, kind, fragments):
    path = world.root / "contacts.csv"
    data = _contacts_bytes(world)
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "xlsx":
        path.write_bytes(b"PK\x03\x04" + bytes(200))
    elif kind == "utf-16":
        path.write_bytes(data.decode("utf-8").encode("utf-16"))
    elif kind == "latin-1":
        lines = data.split(b"\n")
        lines[2] = lines[2].replace(b",", b",\xe9", 1)  # data row 2 of a Latin-1 file: Qu\xe9bec
        path.write_bytes(b"\n".join(lines))
    else:  # 3 MB say what 30 MB say (DuckDB's sniffer only takes longer)
        lines = data.split(b"\n")
        lines[5] += b"x" * 3_000_000  # the last field of a row
        path.write_bytes(b"\n".join(lines))
    refused(world, lambda: kpis(world, "contacts.csv"), *fragments)


def test_gzip_files_are_read_with_or_without_the_gz_name(world):
    assert kpis(world, "contacts.csv", out="plain.csv").returncode == 0
    data = _contacts_bytes(world)
    (world.root / "contacts.csv.gz").write_bytes(gzip.compress(data))
    (world.root / "packed.csv").write_bytes(gzip.compress(data))
    for name in ("contacts.csv.gz", "packed.csv"):
        result = kpis(world, name, out=f"{name}.panel.csv")
        assert result.returncode == 0, result.stderr
        assert (world.root / f"{name}.panel.csv").read_bytes() == (world.root / "plain.csv").read_bytes()


# ---- 4. impossible offsets, placeholder years, a window stretched by outliers -----------------

@pytest.mark.parametrize("value, what", [
    ("2025-01-07T09:00:00+24:00", "UTC offset beyond -14:00..+14:00"),
    ("2025-01-07T09:00:00+99:00", "UTC offset beyond -14:00..+14:00"),
    ("9999-12-31T23:59:59-05:00", "outside the years 1800-2199"),
    ("0001-01-01T00:00:00-05:00", "outside the years 1800-2199"),
])
def test_impossible_offsets_and_placeholder_years_are_refused(world, value, what):
    world.edit("contacts.csv", 7, arrived_at=value)
    refused(world, lambda: kpis(world, "contacts.csv"), "contacts.csv", "column 'arrived_at', row 7", what)


def test_extra_dates_are_held_to_the_same_years(world):
    world.edit("backlog.csv", 4, date="9999-12-31")
    refused(world, lambda: kpis(world, "contacts.csv", "--extra", "backlog.csv,by=queue"),
            "backlog.csv", "column 'date', row 4", "outside the years")


def test_one_outlying_contact_warns_in_results_and_report(world):
    world.edit("contacts.csv", 6, arrived_at="2024-01-08T08:22:24-05:00")  # a year before the others
    kpi_run = kpis(world, "contacts.csv")
    assert kpi_run.returncode == 0 and "SpanWarning" in kpi_run.stderr, kpi_run.stderr
    result = run(world, out="out")
    assert result.returncode == 0, result.stderr
    doc = json.loads((world.root / "out" / "results.json").read_text(encoding="utf-8"))
    span = [w["message"] for w in doc["warnings"] if w["code"] == "span"]
    assert len(span) == 1 and "runs from 2024-01-08" in span[0] and "contacts.csv" in span[0], doc["warnings"]
    assert "runs from 2024-01-08" in (world.root / "out" / "report.html").read_text(encoding="utf-8")


def test_no_span_warning_when_the_study_fixes_the_window(world):
    world.edit("contacts.csv", 6, arrived_at="2024-01-08T08:22:24-05:00")
    result = kpis(world, "contacts.csv", "--start", "2025-01-06", "--end", "2025-04-27")
    assert result.returncode == 0 and result.stderr == "", result.stderr


# ---- 5. overflow: kpis and run refuse alike ---------------------------------------------------

def test_values_that_overflow_a_sum_are_refused_by_kpis_and_run_alike(world):
    world.edit("backlog.csv", 2, email_backlog="1.7e308")
    world.edit("backlog.csv", 3, email_backlog="1.7e308")
    fragments = ("backlog.csv", "column 'email_backlog', row 2", "too large to add up")
    by_kpis = refused(world, lambda: kpis(world, "contacts.csv", "--extra", "backlog.csv,by=queue,aggregate=sum"),
                      *fragments)
    assert by_kpis == refused(world, lambda: run(world), *fragments)


# ---- 6. control characters in segment values ----------------------------------------------------

@pytest.mark.parametrize("value", ["bill\0ing", "billing\x1b", "bill\x85ing"])
def test_a_control_character_in_a_segment_is_refused(world, value):
    world.edit("contacts.csv", 9, queue=value)
    refused(world, lambda: kpis(world, "contacts.csv"), "contacts.csv", "column 'queue', row 9", "control character")


# ---- 7. an extra source with a header and no rows ---------------------------------------------

def test_an_extra_source_without_rows_says_so(world):
    path = world.root / "backlog.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    refused(world, lambda: kpis(world, "contacts.csv", "--extra", "backlog.csv,by=queue"), "backlog.csv",
            "has no rows")


# ---- the same paths on Spark ------------------------------------------------------------------

@pytest.mark.xdist_group("spark")
def test_spark_reads_the_same_literal_paths(tmp_path):
    from alignment import InputError, build_panel
    from alignment.engine import SparkEngine
    spark = SparkEngine(master="local[2]")
    rows = pd.DataFrame({"contact_id": [f"c{i}" for i in range(40)], "queue": "q", "answered": "true",
                         "abandoned": "false", "wait_s": "3",
                         "arrived_at": [f"2025-05-{5 + i % 20:02d}T10:00:00-04:00" for i in range(40)]})
    rows.head(10).to_csv(tmp_path / "c[1].csv", index=False)
    rows.to_csv(tmp_path / "c1.csv", index=False)
    for folder, n in (("pq[1]", 15), ("pq1", 40)):
        (tmp_path / folder).mkdir()
        rows.head(n).to_parquet(tmp_path / folder / "part-0.parquet")
    (tmp_path / "{a,b}.csv").write_bytes((tmp_path / "c[1].csv").read_bytes())
    for name, n in (("c[1].csv", 10), ("pq[1]", 15), ("{a,b}.csv", 10)):
        for engine in (None, spark):
            assert build_panel(tmp_path / name, engine=engine).n_contacts == n, (name, engine)
    (tmp_path / "packed.csv").write_bytes(gzip.compress((tmp_path / "c1.csv").read_bytes()))
    assert build_panel(tmp_path / "packed.csv").n_contacts == 40
    with pytest.raises(InputError, match="gzip-compressed, and the Spark engine reads gzip only from a name"):
        build_panel(tmp_path / "packed.csv", engine=spark)
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress((tmp_path / "c1.csv").read_bytes()))
    assert build_panel(tmp_path / "c.csv.gz", engine=spark).n_contacts == 40
