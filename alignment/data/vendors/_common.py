"""What every vendor reader shares: records as read from the file, typed field access whose
errors name the vendor's field and the record, and the canonical frame they return.

A vendor reader reads the export in Python, one record at a time, because the rules that make
a contact out of an export (keep the latest copy of a record, fold transfer legs into the
contact they continue) look across records, and because a bad value must be reported in the
vendor's words: ``contacts.jsonl, field 'Queue.EnqueueTimestamp', record 12: not a timestamp``.
The result is a pandas DataFrame in the canonical contact (or survey) columns, which the engine
then reads like any other DataFrame source; it holds one row per contact and a few columns, so
a year of a large centre (millions of contacts) fits in memory, but the export is held whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Iterator, Mapping
from zoneinfo import ZoneInfo

from ...exceptions import FormatError, OptionError

#: The canonical contact columns a vendor reader returns, in this order (agent_id may be all None).
CONTACT_COLUMNS = ("contact_id", "queue", "channel", "arrived_at", "answered", "abandoned",
                   "wait_s", "handle_s", "transferred", "agent_id")


def contacts_frame(rows: list[dict], columns=CONTACT_COLUMNS) -> pd.DataFrame:
    """The canonical frame of ``rows`` (dicts with the keys ``columns``), typed for the engines."""
    import pandas as pd
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for col in ("answered", "abandoned", "transferred"):
        if col in frame:
            frame[col] = frame[col].astype("boolean")
    for col in ("wait_s", "handle_s"):
        if col in frame:
            frame[col] = frame[col].astype("float64")
    for col in ("contact_id", "queue", "channel", "arrived_at", "agent_id"):
        if col in frame:
            frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
    return frame


class Record:
    """One record of an export, with typed getters whose errors say where, in the vendor's words.

    ``where`` is "record" (JSON) or "row" (CSV: data rows from 1, the header not counted).
    Nested JSON fields are named with dots, as the vendors document them (``Queue.Name``).
    """

    def __init__(self, data: Mapping, label: str, number: int, where: str = "record"):
        self.data, self.label, self.index, self.where = data, label, number, where

    def place(self, seen_from: "Record | None" = None) -> str:
        """Where this record is, as said from ``seen_from``: 'row 3', or 'row 3 of day1.csv' when
        that one is in another file of the export."""
        other = "" if seen_from is None or seen_from.label == self.label else f" of {self.label}"
        return f"{self.where} {self.index}{other}"

    def name(self, field: str) -> str:
        """How the file names ``field`` (a reader of another shape of the same export renames it)."""
        return field

    def fail(self, field: str, what: str) -> FormatError:
        return FormatError(what, source=self.label, field=self.name(field), record=self.index, where=self.where)

    def raw(self, field: str):
        """The value at the dotted path ``field``; None when any part is absent or null."""
        value = self.data
        if field in value:  # a flattened export (Parquet, CSV) names the path as one column
            return _blank(value[field])
        for part in field.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
            if value is None:
                return None
        return _blank(value)

    def text(self, field: str, *, required: bool = False) -> str | None:
        value = self.raw(field)
        if value is None:
            if required:
                raise self.fail(field, "is missing")
            return None
        if isinstance(value, (Mapping, list)):
            raise self.fail(field, f"is not a single value (got {type(value).__name__})")
        return str(value).strip()

    def number(self, field: str, *, required: bool = False, scale: float = 1.0) -> float | None:
        """A non-negative number, divided by ``scale`` (1000 for milliseconds)."""
        value = self.raw(field)
        if value is None:
            if required:
                raise self.fail(field, "is missing")
            return None
        if isinstance(value, bool):
            raise self.fail(field, f"is not a number (got {value!r})")
        try:
            number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
        except ValueError:
            raise self.fail(field, f"is not a number (got {str(value)[:40]!r})") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise self.fail(field, "is not a finite number")
        if number < 0:
            raise self.fail(field, f"is negative ({value})")
        return number / scale

    def utc_time(self, field: str, *, required: bool = False) -> dt.datetime | None:
        """An ISO 8601 time with Z or an offset (the vendor writes UTC), as an aware datetime."""
        value = self.raw(field)
        if value is None:
            if required:
                raise self.fail(field, "is missing")
            return None
        if isinstance(value, dt.datetime):  # Parquet timestamps
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
            value = value.to_pydatetime()
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise self.fail(field, f"not a timestamp (got {str(value)[:40]!r}; expected ISO 8601 UTC "
                                   f"such as 2025-03-09T13:15:00Z)") from None
        # the vendor documents these times as UTC: a naive one is UTC, as written
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def read_text(path, label: str) -> str:
    """The whole export as text (gzip-compressed or not, as Connect's S3 delivery writes it), refused
    in one line when it is not UTF-8 text (binary, UTF-16, Latin-1, a workbook...), as any other
    source is (:func:`alignment.data.files.inspect_text`)."""
    import gzip
    from ..files import SAVE_AS_UTF8, inspect_text
    found = inspect_text(path, label)
    raw = Path(path).read_bytes()
    if found.compression == "gzip":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise FormatError(f"is not UTF-8 text: line {line} holds the byte 0x{raw[error.start]:02X}; {SAVE_AS_UTF8}",
                          source=label) from None


def _blank(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` as ISO 8601 in UTC with its offset, the form the canonical reader takes."""
    return moment.astimezone(dt.timezone.utc).isoformat()


def many(path) -> bool:
    """Whether ``path`` is several files of one export (a pattern's or a folder's, in name order)."""
    return isinstance(path, (list, tuple))


def is_json(path) -> bool:
    """Whether the export (every file of it) is JSON by its name, rather than CSV."""
    return all(Path(p).suffix.lower() in (".json", ".jsonl", ".ndjson") for p in (path if many(path) else [path]))


def each_file(read_one):
    """A reader of one export file made a reader of several, each read on its own and the rows stacked:
    for exports whose every file stands alone (a survey export repeats its header rows)."""
    import functools

    @functools.wraps(read_one)
    def read(path, *, label: str, **kw):
        if not many(path):
            return read_one(path, label=label, **kw)
        import pandas as pd
        return pd.concat([read_one(p, label=str(p), **kw) for p in path], ignore_index=True)
    return read


def json_records(path, label: str, *, list_key: str | None = None) -> Iterator[Record]:
    """The records of a JSON-lines file (one object a line), or of one JSON document holding a
    list of objects (under ``list_key``, e.g. Genesys' ``{"conversations": [...]}``), or of a
    Parquet file (its nested columns as nested mappings). Several files are read in turn, each
    record named by its own file."""
    if many(path):
        for p in path:
            yield from json_records(p, str(p), list_key=list_key)
        return
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        yield from _parquet_records(path, label)
        return
    import io
    with io.StringIO(read_text(path, label)) as f:
        head = f.read(1 << 16)
        f.seek(0)
        start = head.lstrip()[:1]
        if start == "[" or (start == "{" and list_key and _one_document(head, list_key)):
            try:
                document = json.load(f)
            except json.JSONDecodeError as error:
                raise FormatError(f"is not valid JSON (line {error.lineno}: {error.msg})", source=label) from None
            items = document.get(list_key) if isinstance(document, dict) and list_key else document
            if isinstance(document, dict) and list_key and items is None:
                items = [document]
            if not isinstance(items, list):
                raise FormatError(f"holds no list of records (expected a list, or {{\"{list_key}\": [...]}})",
                                  source=label)
            for i, item in enumerate(items, start=1):
                if not isinstance(item, dict):
                    raise FormatError("is not a JSON object", source=label, record=i)
                yield Record(item, label, i)
            return
        number = 0
        for line in f:
            if not line.strip():
                continue
            number += 1
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise FormatError(f"is not valid JSON ({error.msg}); expected one JSON object a line",
                                  source=label, record=number) from None
            if not isinstance(item, dict):
                raise FormatError("is not a JSON object", source=label, record=number)
            yield Record(item, label, number)


def list_items(path, label: str, list_key: str) -> list[Record]:
    """The items of the ``list_key`` lists of an API response export: one response (JSON), or one
    response page a line, each item named by its file and its place in that file's lists; a line
    that is not a page is an item itself."""
    items, counted = [], {}
    for doc in json_records(path, label, list_key=list_key):
        if isinstance(doc.data.get(list_key), list):
            for item in doc.data[list_key]:
                counted[doc.label] = counted.get(doc.label, 0) + 1
                items.append(Record(item, doc.label, counted[doc.label]))
        else:
            items.append(doc)
    return items


def _one_document(head: str, list_key: str) -> bool:
    """Whether the file is one JSON document holding the list (rather than one record a line): its
    first line is not a whole object, or is one holding ``list_key``."""
    first = head.lstrip().split("\n", 1)[0]
    try:
        item = json.loads(first)
    except json.JSONDecodeError:
        return True
    return isinstance(item, dict) and isinstance(item.get(list_key), list)


def _parquet_records(path: Path, label: str) -> Iterator[Record]:
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(path)
    except Exception as error:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        raise FormatError(f"cannot be read as Parquet ({error})", source=label) from None
    for i, item in enumerate(table.to_pylist(maps_as_pydicts="lossy"), start=1):  # a map column as a mapping
        yield Record(item, label, i)


def csv_records(path, label: str, required: tuple[str, ...], vendor: str) -> Iterator[Record]:
    """The rows of a CSV export with a header, checked to have the ``required`` vendor columns.
    Several files are read in turn, each with its header, each row named by its own file."""
    if many(path):
        for p in path:
            yield from csv_records(p, str(p), required, vendor)
        return
    import io
    with io.StringIO(read_text(path, label), newline="") as f:
        sample = f.read(1 << 16)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(f, dialect=dialect)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise FormatError(f"is not a {vendor} export: columns {', '.join(map(repr, missing))} are missing "
                              f"(the header has {', '.join(map(repr, header[:8]))}"
                              f"{', ...' if len(header) > 8 else ''})", source=label, field=missing[0])
        for i, row in enumerate(reader, start=1):
            yield Record(row, label, i, where="row")


def account_zone(timezone: str | None, fmt: str, field: str) -> ZoneInfo:
    """The account time zone a vendor writes its naive times in; it must be named."""
    if not timezone:
        raise OptionError(f"The {fmt} export writes '{field}' in the account's time zone, which the file does "
                          f"not say: name it (timezone = \"America/New_York\" on the source in the study, "
                          f"--contacts-timezone, or Source(..., timezone=...)).")
    try:
        return ZoneInfo(timezone)
    except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds for a bad key
        raise OptionError(f"The timezone of the {fmt} source must be an IANA timezone such as "
                          f"'America/New_York'. Got {timezone!r} instead.") from None


def local_iso(naive: dt.datetime, zone: ZoneInfo, later_s: float = 0.0) -> str:
    """``later_s`` seconds after the naive wall-clock time ``naive`` of ``zone``, as ISO 8601 with its
    offset. The seconds are elapsed time (added to the instant, across a DST change); a wall time
    repeated by the change is its first occurrence."""
    instant = naive.replace(tzinfo=zone).astimezone(dt.timezone.utc) + dt.timedelta(seconds=later_s)
    return instant.astimezone(zone).isoformat()


def clock_seconds(record: Record, field: str, *, required: bool = False) -> float | None:
    """A duration written as hh:mm:ss (hours may exceed 23), or as plain seconds, in seconds."""
    value = record.text(field, required=required)
    if value is None:
        return None
    parts = value.split(":")
    try:
        if len(parts) == 1:
            seconds = float(parts[0])
        elif len(parts) in (2, 3):
            numbers = [float(p) for p in parts]
            if any(n < 0 for n in numbers) or any(n >= 60 for n in numbers[1:]):
                raise ValueError
            seconds = sum(n * 60 ** (len(numbers) - 1 - i) for i, n in enumerate(numbers))
        else:
            raise ValueError
    except ValueError:
        raise record.fail(field, f"is not a duration (got {value!r}; expected hh:mm:ss)") from None
    if seconds < 0:
        raise record.fail(field, f"is negative ({value})")
    return seconds


def recode_table(options, fmt: str) -> dict[str, dict[str, float]]:
    """The ``recode`` option of a survey format: {column: {exported value: score}}."""
    recode = (options or {}).get("recode") or {}
    if not isinstance(recode, dict):
        raise OptionError(f"The 'recode' option of {fmt} must map question codes to tables of "
                          f"{{exported value: score}}. Got {recode!r} instead.")
    out = {}
    for code, table in recode.items():
        if not isinstance(table, dict) or not table or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in table.values()):
            raise OptionError(f"The 'recode' option of {fmt} for {code!r} must map exported values to scores, "
                              f"e.g. {{\"6\" = 1, \"7\" = 2}}. Got {table!r} instead.")
        out[str(code)] = {str(k).strip(): float(v) for k, v in table.items()}
    return out


def check_options(options, allowed: tuple[str, ...], fmt: str) -> None:
    """Refuse an option the format does not take (a typo would otherwise be ignored)."""
    unknown = sorted(set(options or {}) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(map(repr, allowed))}" if allowed else "takes no options"
        raise OptionError(f"The {fmt} format {takes}. Got {unknown[0]!r}.")
