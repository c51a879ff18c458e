"""What a delimited text file is, from its first bytes: compression, encoding, header.

The engines' CSV sniffers answer a binary, UTF-16 or Latin-1 file with a page about dialects
and delimiters. :func:`inspect_text` reads the first :data:`HEAD_BYTES` of the file (of its
content, for a gzip file) before any engine does and turns each of these into one line that
says what the file is and what is expected instead:

- gzip: read as it is (``compression = 'gzip'``), also when the name does not end in ``.gz``;
- UTF-16 or UTF-32 (a byte-order mark, or a NUL byte beside every character): refused, save as UTF-8;
- Latin-1 or Windows-1252 (bytes that are not UTF-8): refused with the line, save as UTF-8. Such
  bytes cannot be told apart from other 8-bit encodings, and a guess would split a segment
  (``Qu\\xe9bec`` against ``Québec``), so nothing is decoded on a guess;
- a ZIP archive (an Excel workbook), an old Office file, a PDF, a Parquet file named as text, or
  any other binary content: refused;
- a column name given twice in the header (DuckDB silently renames the second one): refused with
  both 1-based column positions. DuckDB's names ignore case, so ``Wait_s`` repeats ``wait_s``.

Bytes past the head that are not UTF-8 are found by the engine while it reads the whole file;
its message is rewritten the same way (:func:`alignment.engine.duckdb_engine.duckdb_message`).
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import InputError

#: How much of a file (of its decompressed content, for gzip) is inspected.
HEAD_BYTES = 1 << 16
DELIMITERS = (",", ";", "\t", "|")

SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As > CSV UTF-8)"
_BINARY = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?), not delimited text: export the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (an Excel .xls workbook?), not delimited text: export the sheet "
                          "as CSV UTF-8"),
    (b"%PDF", "a PDF document, not delimited text: give the CSV or Parquet export of the data"),
    (b"PAR1", "a Parquet file named as text: rename it to end in .parquet"),
    (b"SQLite format 3\x00", "an SQLite database, not delimited text: export the table as CSV UTF-8"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it (or gzip it as .csv.gz)"),
    (b"BZh", "bzip2-compressed: decompress it (or gzip it as .csv.gz)"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it (or gzip it as .csv.gz)"),
)
_GZIP = b"\x1f\x8b"
# control bytes that text files do not hold (tab, line feed, carriage return and form feed aside)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


@dataclass(frozen=True)
class TextFile:
    """What :func:`inspect_text` found: the compression, the guessed delimiter, the header's names."""

    label: str
    compression: str | None
    delimiter: str
    header: tuple[str, ...]


def _head(path: Path, label: str) -> tuple[bytes, str | None, bool]:
    """The first bytes of the file's content, its compression, and whether the content is longer."""
    with open(path, "rb") as f:
        raw = f.read(HEAD_BYTES)
        more = bool(f.read(1))
    if not raw.startswith(_GZIP):
        return raw, None, more
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as f:
        out = b""
        while len(out) < HEAD_BYTES:
            chunk = f.read(HEAD_BYTES)
            if not chunk:
                break
            try:
                out += inflate.decompress(chunk, HEAD_BYTES - len(out))
            except zlib.error:
                raise InputError("starts like a gzip file but does not decompress (a damaged or cut "
                                 "download?)", source=label) from None
            if inflate.eof:
                break
        more = not inflate.eof or bool(inflate.unused_data)
    return out, "gzip", more


def _utf16(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # also the UTF-32 little-endian mark
        return True
    pairs = head[: len(head) - len(head) % 2]
    if len(pairs) < 8:
        return False
    even, odd = pairs[0::2].count(0), pairs[1::2].count(0)
    return max(even, odd) > 0.3 * len(pairs) / 2 and min(even, odd) < 0.05 * len(pairs) / 2


def inspect_text(path, label: str, delimiter: str | None = None) -> TextFile:
    """What the delimited text file ``path`` is; an :class:`InputError` naming ``label`` when it is
    not UTF-8 text (see the module notes) or its header names a column twice.

    ``delimiter`` is the one the reader will use, if it is given; otherwise the most frequent of
    ``, ; TAB |`` in the header line is taken (for the header check and for Spark, which does
    not sniff).
    """
    path = Path(path)
    head, compression, more = _head(path, label)
    for magic, what in _BINARY:
        if head.startswith(magic):
            raise InputError(f"is {what}", source=label)
    if head.startswith(b"\x00\x00\xfe\xff") or _utf16(head):
        raise InputError(f"is UTF-16 (or UTF-32) text; {SAVE_AS_UTF8}", source=label)
    if sum(head.count(bytes([b])) for b in _CONTROL) > 0.05 * len(head):
        raise InputError("is a binary file, not delimited text: expected CSV (UTF-8) or Parquet", source=label)
    # a multi-byte character may be cut at the end of the head: decode up to the last whole line
    body = head[: head.rfind(b"\n") + 1] if more and b"\n" in head else head
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        byte = body[error.start]
        raise InputError(f"is not UTF-8 text: line {line} holds the byte 0x{byte:02X} (Latin-1 or Windows-1252 "
                         f"text?); {SAVE_AS_UTF8}", source=label) from None
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    sep = delimiter or max(DELIMITERS, key=first_line.count)
    try:
        header = tuple(next(csv.reader(io.StringIO(text), delimiter=sep), []))
    except csv.Error:
        header = ()
    return TextFile(label=label, compression=compression, delimiter=sep, header=header)


def repeated(names) -> tuple[int, int] | None:
    """The 1-based positions of the first name that repeats an earlier one (ignoring case), or None."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = str(name).strip().lower()
        if key in seen:
            return seen[key], i
        seen[key] = i
    return None


def twice(names, label: str, where: str = "the header") -> InputError | None:
    """The error for a name given twice in ``names`` (see :func:`repeated`), or None."""
    pair = repeated(names)
    if pair is None:
        return None
    j, i = pair
    first, second = str(names[j - 1]).strip(), str(names[i - 1]).strip()
    how = "twice" if first == second else f"twice ({first!r} and {second!r}: names ignore case)"
    return InputError(f"{where} names this column {how}, as columns {j} and {i}: rename one of them",
                      source=label, column=first)


def check_header(file: TextFile, columns) -> None:
    """An :class:`InputError` when the header names a column twice (or two names differ only in case).

    ``columns`` are the names the engine read; the check runs only when the header as parsed here
    has as many names, so that a file this simple parse misreads is left to the engine.
    """
    if len(file.header) != len(list(columns)):
        return
    error = twice(file.header, file.label)
    if error is not None:
        raise error
