"""Progress bars: drawn for a person watching (a terminal, a notebook), never in a pipe or a log
unless asked, never with quiet; and the results do not depend on them."""

import io

import numpy as np
import pandas as pd
import pytest

import alignment.progress as progress
from alignment import relative_importance, tipping_point
from alignment.exceptions import OptionError


class Terminal(io.StringIO):
    """A stderr that says it is a terminal and keeps what was written to it."""

    def isatty(self):
        return True


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    periods = pd.date_range("2025-01-06", periods=40, freq="W-MON")
    rows = []
    for queue in ("a", "b", "c"):
        x1, x2 = rng.normal(size=40), rng.normal(size=40)
        y = 2 * x1 - x2 + rng.normal(size=40)
        rows.append(pd.DataFrame({"period": periods, "queue": queue, "y": y, "x1": x1, "x2": x2}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(autouse=True)
def no_delay(monkeypatch):
    # bars normally wait 0.5 s before showing; these loops are shorter than that
    monkeypatch.setattr(progress, "DELAY_S", 0)


def importance(frame, **kw):
    return relative_importance(frame, "y", ["x1", "x2"], by="queue", n_boot=120, block=4, seed=1, **kw)


def test_no_bar_when_stderr_is_not_a_terminal(frame, capsys):
    importance(frame)                                   # pytest's captured stderr is no terminal
    tipping_point(frame, "y", "x1", by=["queue"], n_boot=20, seed=1)
    assert capsys.readouterr().err == ""


def test_a_bar_on_a_terminal_and_none_when_quiet(frame, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    shown = importance(frame)
    text = terminal.getvalue()
    assert "importance: bootstrap" in text and "/120 " in text   # drawn, over the 120 resamples
    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    silent = importance(frame, progress=False)
    tipping_point(frame, "y", "x1", by=["queue"], n_boot=20, seed=1, progress=False)
    assert quiet.getvalue() == ""
    pd.testing.assert_frame_equal(shown.table, silent.table)   # the same numbers either way


def test_true_draws_a_bar_even_in_a_pipe(frame, capsys):
    tipping_point(frame, "y", "x1", by=["queue"], n_boot=20, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "tipping point of x1: bootstrap" in err and "/20 " in err


def test_a_function_inside_a_quiet_block_stays_quiet(frame, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with progress.using(False):      # what Study.run(progress=False) does around its steps
        importance(frame)
    assert terminal.getvalue() == ""


def test_a_bad_progress_value_is_one_clear_error(frame):
    with pytest.raises(OptionError, match="'progress' parameter of relative_importance .* Got 'yes'"):
        importance(frame, progress="yes")


def test_cli_progress_is_off_when_quiet_or_not_a_terminal(monkeypatch):
    from alignment.cli import _progress
    assert _progress(False) is False                    # pytest's stderr is no terminal
    monkeypatch.setattr("sys.stderr", Terminal())
    assert _progress(True) is False
    assert callable(_progress(False))


def test_reading_the_data_has_a_bar_and_the_same_panel(capsys):
    from pathlib import Path
    from alignment import Source, build_panel
    bank = Path(__file__).resolve().parents[1] / "data" / "anonymous_bank" / "anonymous_bank_feb1999.txt"
    with progress.using(True):
        panel = build_panel(Source(bank, format="technion-anonymous-bank"), grain="day", by=["queue"])
    assert "reading the data" in capsys.readouterr().err
    # February 1999 holds 31,125 contacts (counted in plain Python in tests/test_anonymous_bank.py)
    assert panel.n_contacts == 31_125 and int(panel.table["n_contacts"].sum()) == 31_125
