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
    rows = [r for r in result.drivers.to_dict("records") if not context._missing(r["rank"])]
    validated = [r["name"] for r in rows if r["verdict"] == "validated"]
    scatters = (validated or [r["name"] for r in rows[:1]])[:MAX_SCATTERS]
    top = plot._top_driver(result)
    o = context._label(result.study.outcome)
    pooled = "pooled over all segments (components summed, then divided)" if result.study.by else "whole center"
    specs = [
        ("importance", f"Share of the explained variation in {o} each validated driver accounts for (Shapley R², two-way "
                       "means removed), with 95 % block-bootstrap intervals.", plot.importance),
        ("heatmap", f"Correlation of each KPI with {o} at each lag, within segments; the lag used is outlined.",
         plot.heatmap),
    ]
    if top is not None:
        specs.append(("timeline", f"{o} and {top} per {result.study.grain}, {pooled}; the shaded part is the "
                                  "holdout period the validation kept aside.", lambda r: plot.timeline(r, top)))
    for k in scatters:
        specs.append((f"scatter_{_slug(k)}", f"{o} against {k} at its lag, each point a period and segment, "
                                             "segment means removed, with the least-squares line.",
                      lambda r, k=k: plot.scatter(r, k)))
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
    with plot.offscreen():
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


def write_report(result, folder, formats=("html",)) -> list[Path]:
    """Write ``folder/report.html`` and/or ``folder/report.md`` (and, for Markdown, ``figures/*.svg``).

    Returns the paths written.
    """
    from ..exceptions import OptionError
    formats = tuple([formats] if isinstance(formats, str) else formats)
    unknown = [f for f in formats if f not in ("html", "md", "markdown")]
    if unknown or not formats:
        raise OptionError(f"The 'formats' parameter of write_report must hold 'html' and/or 'md'. "
                          f"Got {formats!r} instead.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "html" in formats:
        path = folder / "report.html"
        path.write_text(render_html(result), encoding="utf-8")
        written.append(path)
    if "md" in formats or "markdown" in formats:
        from .. import plot
        (folder / "figures").mkdir(exist_ok=True)
        with plot.offscreen():
            for stem, _, draw in figure_specs(result):
                target = folder / "figures" / f"{stem}.svg"
                plot.save(draw(result), target)
                written.append(target)
        path = folder / "report.md"
        path.write_text(render_markdown(result, figures_folder="figures"), encoding="utf-8")
        written.append(path)
    return written
