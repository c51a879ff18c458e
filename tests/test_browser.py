"""The driver report as a person sees it: headless Chromium at desktop and phone width, and on paper.

Runs when Debian's ``chromium`` is installed (``.ci/run`` installs it when missing); otherwise it
is skipped with the reason shown. One study run serves every test (module scope).

What the page looks like is measured inside the browser: a copy of the report gets a small
inline script at the end of its body that measures the laid-out page (overflow, the rendered size
of every figure text, empty sections, errors) and writes its findings into the DOM, which
``--dump-dom`` returns. The copy is shown in an iframe exactly WIDTH px wide, because headless
Chromium will not make its window narrower than 500 px. The report itself holds no script
(tests/test_report.py checks that).
"""

import json
import re
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
MIN_TEXT_PX = 10
MIN_PAPER_PX = 9

# Measures the laid-out page and writes the findings as JSON into <pre id="findings">.
MEASURE = r"""
<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message || e.target && e.target.src)); }, true);
  var width = window.innerWidth, doc = document.documentElement;
  var visible = function (el) {
    var s = getComputedStyle(el);
    if (el.closest("details:not([open])") && !el.closest("summary") && el.tagName !== "DETAILS") return false;
    return s.display !== "none" && s.visibility !== "hidden";
  };
  var wide = [];
  document.querySelectorAll("main *").forEach(function (el) {
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") return;
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " right=" + Math.round(r.right));
    var s = getComputedStyle(el);
    if ((s.overflowX === "auto" || s.overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1)
      wide.push("scroller " + el.tagName.toLowerCase() + "." + el.className + " " + el.scrollWidth + ">" + el.clientWidth);
  });
  var texts = [];
  document.querySelectorAll("figure svg text").forEach(function (t) {
    var m = t.getScreenCTM();
    if (!m || !t.textContent.trim()) return;
    var px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    texts.push([Math.round(px * 100) / 100, t.textContent.trim().slice(0, 40), t.closest("figure").id]);
  });
  texts.sort(function (a, b) { return a[0] - b[0]; });
  var empty = [];
  document.querySelectorAll("section, ul, ol, dl, table, figure").forEach(function (el) {
    if (!visible(el)) return;
    var text = el.innerText.replace(/\s+/g, " ").trim();
    el.querySelectorAll("h2, h3").forEach(function (h) { text = text.replace(h.innerText.trim(), ""); });
    if (!text.trim() && !el.querySelector("svg")) empty.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""));
  });
  document.querySelectorAll("h3").forEach(function (h) {
    var next = h.nextElementSibling;
    if (visible(h) && (!next || /^H[23]$/.test(next.tagName))) empty.push("h3 " + h.innerText);
  });
  var out = parent.document.createElement("pre");
  out.id = "findings";
  out.textContent = JSON.stringify({width: width, scroll_width: doc.scrollWidth, wide: wide.slice(0, 20),
    n_texts: texts.length, smallest: texts.slice(0, 5), empty: empty, errors: errors});
  parent.document.body.appendChild(out);
})();
</script>
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from alignment.report import write_report
    from alignment.simulate import simulate
    from alignment.study import load_study
    folder = tmp_path_factory.mktemp("world")
    # churn on (customers.csv; the other files are the same bytes): the report's business-impact section is measured too
    simulate(folder, seed=11, days=364, queues=3, churn="cx")
    (folder / "study.toml").write_text(STUDY.format(outcome="csat") + "\n[kpis.asa]\ntarget = 30\n"
                                       '[data.customers]\npath = "customers.csv"\nvalue = "annual_revenue"\n')
    result = load_study(folder / "study.toml").run()
    write_report(result, folder, formats=("html", "pdf"))
    return folder / "report.html"


def chromium(*args, profile):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and "error" in line.lower()]


def measuring_page(report, width: int, folder, *, paper: bool = False):
    """A page showing a copy of ``report`` (with the MEASURE script) in an iframe ``width`` px wide.

    With ``paper`` the copy applies its print stylesheet on screen (``@media print`` made
    ``@media all``), so that what prints can be measured too.
    """
    import html as html_lib
    page = report.read_text(encoding="utf-8")
    assert "</body>" in page and page.count("@media print") == 1
    if paper:
        page = page.replace("@media print", "@media all")
    copy = html_lib.escape(page.replace("</body>", MEASURE + "</body>"), quote=True)
    path = folder / "measure.html"
    path.write_text(f'<!DOCTYPE html><html><body style="margin:0"><iframe srcdoc="{copy}" '
                    f'style="width:{width}px;height:2400px;border:0;display:block"></iframe></body></html>',
                    encoding="utf-8")
    return path


A4_PX = 703   # the width of an A4 page inside 12 mm margins, in CSS px (186 mm at 96 px per inch)


@pytest.fixture(scope="module", params=[(1280, False), (390, False), (A4_PX, True)], ids=["desktop", "phone", "paper"])
def measured(request, report, tmp_path_factory):
    """(width, findings, stderr) of the report laid out at ``width`` px (on paper: with its print styles)."""
    width, paper = request.param
    tmp = tmp_path_factory.mktemp(f"measure{width}")
    page = measuring_page(report, width, tmp, paper=paper)
    run = chromium(f"--window-size={width + 40},2400", "--dump-dom", page.as_uri(), profile=tmp / "p")
    found = re.search(r'<pre id="findings">(.*?)</pre>', run.stdout, flags=re.S)
    assert found, run.stderr[-2000:]
    import html as html_lib
    return width, json.loads(html_lib.unescape(found.group(1))), run.stderr


def test_no_sideways_scroll(measured):
    width, found, _ = measured
    assert found["width"] == width
    assert found["scroll_width"] <= width, found["wide"]
    assert not found["wide"], found["wide"]


def test_figure_text_is_at_least_10_px(measured):
    width, found, _ = measured
    assert found["n_texts"] > 50, "figure text should be text (svg.fonttype none), measurable in the page"
    smallest = found["smallest"][0]
    # on paper two figures sit in a row: 9 CSS px is 6.75 pt, readable in print
    assert smallest[0] >= (MIN_PAPER_PX if width == A4_PX else MIN_TEXT_PX), f"at {width} px: {found['smallest']}"


def test_no_empty_section_and_no_error(measured):
    _, found, stderr = measured
    assert not found["empty"], found["empty"]
    assert not found["errors"], found["errors"]
    assert not console_errors(stderr), console_errors(stderr)


def test_first_screen_shows_the_levers_at_phone_width(report, tmp_path):
    shot = tmp_path / "report_390.png"
    run = chromium("--window-size=390,900", f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "p")
    assert shot.exists(), run.stderr[-2000:]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pixels = plt.imread(shot)[:, :, :3]
    assert pixels.shape[1] == 390
    assert (pixels < 0.9).any(axis=2).mean() > 0.02, "the page looks blank"
    dom = chromium("--window-size=390,900", "--dump-dom", report.as_uri(), profile=tmp_path / "p").stdout
    assert dom.index('id="levers"') < dom.index('id="drivers"')   # what to act on comes first
    assert dom.index('id="caveats"') < dom.index('id="business-impact"') < dom.index('id="drivers"')


def test_every_figure_is_in_the_rendered_page(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "p").stdout
    n_figures = report.read_text().count("<figure")
    assert n_figures >= 5
    assert dom.count("<svg") >= n_figures and dom.count("<figure") == n_figures
    assert "<img" not in dom or "src=\"data:" in dom  # nothing loaded from elsewhere


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF as its page objects (Chromium writes them uncompressed), cross-checked
    against the page tree's /Count."""
    pages = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data, flags=re.S)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data, flags=re.S)]
    assert not counts or max(counts) == pages, (pages, counts)
    return pages


def test_the_report_prints_to_a_few_pages(report):
    pdf = report.with_name("report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert 2 <= pdf_pages(data) <= 4
