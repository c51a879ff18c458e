"""The study report for a manager: headline, driver table, figures, data coverage, checks, method.

``render_html`` gives one self-contained page (inline CSS and SVG, no network); ``render_markdown``
the same content in Markdown; ``write_report`` writes them into a folder.
"""

from .render import figures, render_html, render_markdown, write_report

__all__ = ["figures", "render_html", "render_markdown", "write_report"]
