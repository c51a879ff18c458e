"""The driver report as a person sees it: headless Chromium at desktop and phone width.

Runs when Debian's ``chromium`` is installed (``.ci/run`` installs it when missing); otherwise it
is skipped with the reason shown. Screenshots are saved under the test's temporary folder.
"""

import shutil
import subprocess

import pytest
from conftest import STUDY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); "
                                                          "the browser check of the report is skipped")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from alignment.simulate import simulate
    from alignment.study import load_study
    from alignment.report import write_report
    folder = tmp_path_factory.mktemp("world")
    simulate(folder, seed=11, days=364, queues=3)
    (folder / "study.toml").write_text(STUDY.format(outcome="csat"))
    result = load_study(folder / "study.toml").run()
    write_report(result, folder)
    return folder / "report.html"


def chromium(*args, profile):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("width", [1280, 390])
def test_report_renders_without_errors(report, tmp_path, width):
    shot = tmp_path / f"report_{width}.png"
    run = chromium(f"--window-size={width},2400", f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "p")
    assert shot.exists(), run.stderr[-2000:]
    console_errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "error" in line.lower()]
    assert not console_errors, console_errors
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pixels = plt.imread(shot)[:, :, :3]
    assert pixels.shape[1] == width
    assert (pixels < 0.9).any(axis=2).mean() > 0.02, "the page looks blank"


def test_every_figure_is_in_the_rendered_page(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "p").stdout
    n_figures = report.read_text().count("<figure")
    assert n_figures >= 5
    assert dom.count("<svg") >= n_figures and dom.count("<figure") == n_figures
    assert "<img" not in dom or "src=\"data:" in dom  # nothing loaded from elsewhere
