"""Writing outputs so that they appear whole or not at all, and never at the expense of other files.

An output (a file or a folder) is built in a temporary folder beside its target, named
``.NAME.XXXXXXXX.part``, holding a marker file (:data:`MARKER`, written first: the writer's process
id and host) and the output itself under its final name; it is moved into place only when complete.
A folder that matches both that name and that marker, and whose writer is no longer running, is
debris of a killed run: the next write to the same target removes it. Nothing else is ever removed.
Parent folders that a write creates are removed again when it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

MARKER = ".alignment-part"
_MARKER_HEAD = "alignment: partial output of a run still writing or killed while writing\n"
# mkdtemp's random part: 8 characters of [a-z0-9_].
_DEBRIS = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.(?P<kind>part|old)")
# A marker written on another host: its process cannot be checked; leave it this long.
_FOREIGN_HOST_AGE_S = 7 * 24 * 3600


def missing_parents(folder) -> list[Path]:
    """The ancestors of ``folder`` (itself included) that do not exist, outermost first."""
    folder = Path(os.path.abspath(folder))
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return missing[::-1]


def make_parents(folder) -> list[Path]:
    """Create ``folder`` and its missing ancestors; return the folders created, outermost first."""
    created = []
    try:
        for f in missing_parents(folder):
            f.mkdir()
            created.append(f)
    except BaseException:
        remove_created(created)
        raise
    return created


def remove_created(created) -> None:
    """Remove folders :func:`make_parents` created, innermost first, as long as they are empty."""
    for f in reversed(list(created)):
        try:
            f.rmdir()
        except OSError:
            return


def writable_problem(path) -> str | None:
    """Why an output could not be written at ``path`` (None when it can): tried, not guessed.

    Creates and removes an empty probe folder in the nearest existing ancestor of ``path``'s
    parent, where the output and its temporary folder go. ``os.access`` would not do: it says yes
    to root on a read-only file system.
    """
    path = Path(os.path.abspath(path))
    missing = missing_parents(path.parent)
    where = missing[0].parent if missing else path.parent
    if not where.is_dir():
        return f"{where} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".alignment-probe.", dir=where))
    except OSError as error:
        return f"cannot write in {where} ({error.strerror or error})"
    if path.is_dir() and not os.access(path, os.W_OK):  # moving a folder aside rewrites its '..'
        return f"cannot replace {path}: it is not writable"
    return None


def _marker(folder: Path) -> None:
    (folder / MARKER).write_text(f"{_MARKER_HEAD}pid={os.getpid()}\nhost={socket.gethostname()}\n",
                                 encoding="utf-8")


def _temporary(path: Path, kind: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=f".{kind}", dir=path.parent))
    try:
        _marker(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


def _is_debris(folder: Path) -> bool:
    """A temporary folder of ours whose writer is gone: our name, our marker, a dead process."""
    try:
        info = os.lstat(folder)
        mark = os.lstat(folder / MARKER)
        if not stat.S_ISDIR(info.st_mode) or not stat.S_ISREG(mark.st_mode) or mark.st_size > 4096:
            return False
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            return False
        text = (folder / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not text.startswith(_MARKER_HEAD):
        return False
    fields = dict(line.partition("=")[::2] for line in text[len(_MARKER_HEAD):].splitlines())
    if not fields.get("pid", "").isdigit():
        return False
    if fields.get("host") != socket.gethostname():
        return time.time() - mark.st_mtime > _FOREIGN_HOST_AGE_S
    return int(fields["pid"]) != os.getpid() and not _alive(int(fields["pid"]))


def clean_debris(path) -> list[Path]:
    """Remove the temporary folders that killed writes of ``path`` left beside it; return them.

    When a write was killed after moving the previous ``path`` aside and before moving the new one
    in, the previous one is put back first.
    """
    path = Path(path)
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    removed = []
    for entry in sorted(entries, key=lambda e: e.name):
        match = _DEBRIS.fullmatch(entry.name)
        if not match or match["name"] != path.name or not _is_debris(Path(entry.path)):
            continue
        folder = Path(entry.path)
        previous = folder / "previous"
        if match["kind"] == "old" and not os.path.lexists(path) and os.path.lexists(previous):
            os.replace(previous, path)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@contextmanager
def _staging(path: Path):
    """The temporary ``.part`` folder beside ``path`` (after cleaning our own debris there), always
    removed afterwards; on failure, the parent folders made for ``path`` are removed too."""
    created = make_parents(path.parent)
    part = None
    try:
        clean_debris(path)
        part = _temporary(path, "part")
        yield part
    except BaseException:
        if part is not None:
            shutil.rmtree(part, ignore_errors=True)
        remove_created(created)         # after the part folder, which lies in them
        raise
    else:
        shutil.rmtree(part, ignore_errors=True)


@contextmanager
def atomic_path(path):
    """Yield a temporary path for the file ``path``; move it into place only if the block succeeds.

    The block must create the file. An existing ``path`` is kept untouched when the block fails.
    """
    path = Path(path)
    with _staging(path) as part:
        yield part / path.name
        os.replace(part / path.name, path)


@contextmanager
def atomic_directory(path):
    """Yield a fresh temporary folder for the folder ``path``; on success it replaces ``path`` whole.

    An existing ``path`` is kept untouched when the block fails, and replaced only after the
    new folder is complete. Whether ``path`` may be replaced at all is the caller's decision.
    """
    path = Path(path)
    with _staging(path) as part:
        new = part / path.name
        new.mkdir()  # under the umask, unlike mkdtemp's private mode
        yield new
        if not os.path.lexists(path):
            os.replace(new, path)
            return
        old = _temporary(path, "old")
        try:
            os.replace(path, old / "previous")
        except BaseException:
            shutil.rmtree(old, ignore_errors=True)
            raise
        try:
            os.replace(new, path)
        except BaseException:
            os.replace(old / "previous", path)  # should this fail, the next write puts it back
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
