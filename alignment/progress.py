"""Progress for a person watching: a study's steps and tqdm bars on the long loops.

The ``progress=`` option of :meth:`alignment.Study.run`, :func:`alignment.validate`,
:func:`alignment.relative_importance`, :func:`alignment.tipping_point` and
:func:`alignment.correlate` takes:

- ``None`` (the default): bars only when a person is watching: stderr is a terminal, or the code
  runs in a Jupyter kernel (a notebook widget through ``tqdm.auto`` when ipywidgets is installed,
  a text bar otherwise). Nothing in a log, a pipe, CI or pytest.
- ``False``: nothing (quiet).
- ``True``: bars even when stderr is not a terminal.
- a callable, such as ``print``: it receives each step of a study as a line of text
  ("validating each driver ..."); bars as with ``None``.

A bar appears only once its loop has run for :data:`DELAY_S` seconds, so quick calls stay silent,
and it is removed when its loop ends. The bars draw on stderr; results never depend on them. A
function called inside another (``relative_importance`` inside ``Study.run``) follows the outer
call's setting unless given its own.

Examples
--------
>>> from alignment.progress import bar, using
>>> with using(False):
...     with bar(3, "resamples") as b:
...         for _ in range(3):
...             b.update()
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

from .exceptions import OptionError

__all__ = ["DELAY_S", "Progress", "bar", "each", "in_notebook", "setting", "using", "watching"]

#: Seconds a loop runs before its bar shows.
DELAY_S = 0.5


@dataclass(frozen=True)
class Progress:
    """A resolved ``progress=`` setting: whether bars are drawn, and who hears the steps."""

    bars: bool
    report: Callable[[str], None] | None = None

    def step(self, message: str) -> None:
        """Tell the listener (if any) which step a study is in."""
        if self.report is not None:
            self.report(message)


_ACTIVE: ContextVar[Progress | None] = ContextVar("alignment_progress", default=None)


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (not a terminal IPython or a Qt console)."""
    if "ipykernel.zmqshell" not in sys.modules or "IPython" not in sys.modules:
        return False
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython: not a notebook we know
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"


def watching() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or a Jupyter kernel runs us."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stderr
        pass
    return in_notebook()


def setting(progress=None, *, where: str = "progress") -> Progress:
    """Resolve a ``progress=`` value (see the module docstring) to a :class:`Progress`."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        active = _ACTIVE.get()
        return active if active is not None else Progress(bars=watching())
    if progress is True or progress is False:
        return Progress(bars=progress)
    if callable(progress):
        return Progress(bars=watching(), report=progress)
    raise OptionError(f"The 'progress' parameter of {where} must be None (bars when a person is watching), "
                      f"True, False or a callable that takes a line of text. Got {progress!r} instead.")


@contextmanager
def using(progress=None, *, where: str = "progress"):
    """Make ``progress`` the setting of the loops run inside the block; yield the :class:`Progress`."""
    resolved = setting(progress, where=where)
    token = _ACTIVE.set(resolved)
    try:
        yield resolved
    finally:
        _ACTIVE.reset(token)


class _Silent:
    n = 0

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _tqdm():
    # Without ipywidgets tqdm.auto warns and falls back to its text bar, which Jupyter shows
    # well: the fallback is what we want, the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm


def bar(total: int, desc: str, *, unit: str = "it", progress=None):
    """A progress bar over ``total`` steps (a silent one when bars are off).

    ``progress`` is a ``progress=`` value or a :class:`Progress`; None takes the setting of the
    enclosing :func:`using` block, or shows bars when a person is watching. Use the bar as a
    context manager and call ``update(n)`` as the loop advances.
    """
    current = setting(progress)
    if not current.bars or total < 2:
        return _Silent()
    tqdm = _tqdm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's experimental-notebook-mode notice
        return tqdm(total=total, desc=desc, unit=unit, leave=False, delay=DELAY_S, file=sys.stderr,
                    dynamic_ncols=True, mininterval=0.2)


def each(items, desc: str, *, total: int | None = None, unit: str = "it", progress=None):
    """Yield ``items`` with a progress bar over them (see :func:`bar`)."""
    items = list(items) if total is None else items
    with bar(len(items) if total is None else total, desc, unit=unit, progress=progress) as shown:
        for item in items:
            yield item
            shown.update()
