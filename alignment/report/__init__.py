"""The study report for a manager: headline, driver table, figures, data coverage, checks, method.

It opens with the manager's first screen (:mod:`alignment.report.first_screen`). ``render_html``
gives one self-contained page (inline CSS and SVG, no network); ``render_markdown`` the same
content in Markdown; ``write_report`` writes them into a folder, and ``report.pdf`` (the page
printed by headless Chromium) on request.
"""

from .render import figures, render_html, render_markdown, write_report

__all__ = ["figures", "render_html", "render_markdown", "write_report"]
