"""The report: figures, the HTML page (one self-contained file) and its Markdown twin."""

from __future__ import annotations

import re
from pathlib import Path

from . import context

TEMPLATES = Path(__file__).with_name("templates")
MAX_SCATTERS = 3


def _environment():
    import jinja2
    # autoescape for every template: KPI, queue and study names come from user files.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["md"] = _markdown_cell
    return env


# Inline Markdown syntax (CommonMark and GitHub's): links and images need [ ], code `, emphasis *
# and _ (at a word's edge), strikethrough ~, math $, tables |, and a backslash escapes the rest.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]~$|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# GitHub also turns bare addresses into links: "scheme://" and "www.".
_AUTOLINK = re.compile(r"(?<=[A-Za-z0-9])(?=://)|(?<=\bwww)(?=\.)", re.I)


def _markdown_cell(value) -> str:
    """Text shown literally in Markdown, also inside a table cell: no link, image, raw HTML,
    emphasis, code, autolink or table break can come from a name in the data.

    HTML is escaped as entities, Markdown punctuation with a backslash, line breaks become spaces.
    """
    import html
    text = html.escape(" ".join(str(value).splitlines()), quote=False)
    text = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text)
    return _AUTOLINK.sub(lambda m: "\\", text)


def figure_specs(result) -> list[tuple[str, str, callable]]:
    """(file stem, caption, draw) for every figure of the report, in order."""
    from .. import plot
    from .first_screen import kpi_label
    rows = [r for r in result.drivers.to_dict("records") if not context._missing(r["rank"])]
    validated = [r["name"] for r in rows if r["verdict"] == "validated"]
    scatters = (validated or [r["name"] for r in rows[:1]])[:MAX_SCATTERS]
    top = plot._top_driver(result)
    o = context._label(result.study.outcome)
    pooled = "pooled over all segments (components summed, then divided)" if result.study.by else "whole center"
    r2 = getattr(result.importance, "r2", None)
    r2_text = f" (all together R² = {r2:.2f})" if r2 is not None else ""
    levers = [r for r in rows if r["verdict"] == "validated" and context._missing(r.get("proxy_of"))]
    specs = [] if not levers else [
        ("matrix", f"Priority matrix: each validated lever's share of the total variation in {o} against how far "
                   "its latest value is from the study's target, in natural steps (0 when met). Top right: "
                   "important and off target.", plot.priority_matrix)]
    specs += [
        ("importance", f"Share of the total variation in {o} each validated driver accounts for{r2_text}, Shapley "
                       "R² with segment and period means removed, with 95 % block-bootstrap intervals.", plot.importance),
    ]
    if top is not None:
        lag = int(result.lags.get(top, 0))
        at = f" drawn {lag} {result.study.grain}{'s' if lag != 1 else ''} later, at its lag," if lag else ""
        specs.append(("timeline", f"{o} and {kpi_label(result, top)}{at} per {result.study.grain}, {pooled}; the shaded part is the "
                                  "holdout period the validation kept aside.", lambda r: plot.timeline(r, top)))
    for k in scatters:
        specs.append((f"scatter_{_slug(k)}", f"{o} against {kpi_label(result, k)} at its lag, each point a period and segment, "
                                             "segment means removed, with the least-squares line.",
                      lambda r, k=k: plot.scatter(r, k)))
    specs.append(("heatmap", f"Correlation of each KPI with {o} at each lag, within segments; the lag used is "
                             "outlined.", plot.heatmap))
    specs.append(("stability", f"Correlation of each KPI with {o} in rolling windows (the windows of the "
                               "stability check); a stable driver stays on one side beyond the dashed lines.",
                  plot.stability))
    return specs


def _slug(name: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "kpi"


def figures(result) -> list[dict]:
    """Every figure as ``{"stem", "caption", "svg"}`` with ids unique on one page."""
    from .. import plot
    out = []
    with plot.offscreen(), plot.report_style():
        for i, (stem, caption, draw) in enumerate(figure_specs(result)):
            out.append({"stem": stem, "caption": caption, "svg": plot.to_svg(draw(result), prefix=f"f{i}-")})
    return out


def render_html(result) -> str:
    """The report as one self-contained HTML page: inline styles, inline SVG figures, no network.

    Examples
    --------
    >>> from alignment.report import render_html
    >>> page = render_html(result)  # doctest: +SKIP
    """
    from markupsafe import Markup
    ctx = context.build(result)
    figs = [{**f, "svg": Markup(f["svg"])} for f in figures(result)]  # our own SVG, not user text
    return _environment().get_template("report.html.j2").render(**ctx, figures=figs)


def render_markdown(result, *, figures_folder: str | None = None) -> str:
    """The report in Markdown, with the same content as the HTML page.

    With ``figures_folder`` (a path relative to the Markdown file) figures are linked as
    ``FOLDER/STEM.svg``; without it they are left out with a note.
    """
    ctx = context.build(result)
    figs = [{"stem": s, "caption": c} for s, c, _ in figure_specs(result)]
    env = _environment()
    env.autoescape = False  # Markdown: cells are escaped by the |md filter instead
    return env.get_template("report.md.j2").render(**ctx, figures=figs, figures_folder=figures_folder)


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_S = 120


def chromium() -> str:
    """The Chromium (or Chrome) that prints the report to PDF, or a one-line error saying how to get it.

    Raises
    ------
    OptionError
        When none is on the PATH.
    """
    import shutil
    from ..exceptions import OptionError
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise OptionError("a PDF report is printed by Chromium, which is not installed: install it "
                      "(Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium) "
                      "or write the HTML report and print it from a browser")


def html_to_pdf(html_path, pdf_path) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (its print stylesheet, A4, no header).

    The PDF appears whole or not at all (:func:`alignment.io.atomic_path`).
    """
    import subprocess
    import tempfile
    from ..exceptions import OutputError, one_line
    from ..io import atomic_path
    browser = chromium()
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="alignment-chromium-") as profile, atomic_path(pdf_path) as part:
        run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={profile}", "--no-pdf-header-footer",
                              f"--print-to-pdf={part}", html_path.as_uri()],
                             capture_output=True, text=True, timeout=PDF_TIMEOUT_S)
        if not Path(part).exists() or Path(part).stat().st_size == 0:
            last = [line for line in run.stderr.splitlines() if line.strip()][-1:] or ["no message"]
            raise OutputError(f"{one_line(pdf_path)}: Chromium did not print the report "
                              f"(exit {run.returncode}: {one_line(last[0])})")
    return pdf_path


def write_report(result, folder, formats=("html",)) -> list[Path]:
    """Write ``folder/report.html``, ``folder/report.md`` (with ``figures/*.svg``) and/or
    ``folder/report.pdf`` (the HTML page printed by headless Chromium, which must be installed).

    Returns the paths written.
    """
    from ..exceptions import OptionError
    formats = tuple([formats] if isinstance(formats, str) else formats)
    unknown = [f for f in formats if f not in ("html", "md", "markdown", "pdf")]
    if unknown or not formats:
        raise OptionError(f"The 'formats' parameter of write_report must hold 'html', 'md' and/or 'pdf'. "
                          f"Got {formats!r} instead.")
    if "pdf" in formats:
        chromium()  # before any work: a missing browser is one line, not a half-written folder
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "html" in formats or "pdf" in formats:
        path = folder / "report.html"
        path.write_text(render_html(result), encoding="utf-8")
        written.append(path)
    if "pdf" in formats:
        written.append(html_to_pdf(folder / "report.html", folder / "report.pdf"))
    if "md" in formats or "markdown" in formats:
        from .. import plot
        (folder / "figures").mkdir(exist_ok=True)
        with plot.offscreen(), plot.report_style():
            for stem, _, draw in figure_specs(result):
                target = folder / "figures" / f"{stem}.svg"
                plot.save(draw(result), target)
                written.append(target)
        path = folder / "report.md"
        path.write_text(render_markdown(result, figures_folder="figures"), encoding="utf-8")
        written.append(path)
    return written
