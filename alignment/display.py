"""How results show themselves: ``repr`` is the text summary, ``_repr_html_`` a compact card.

Jupyter calls ``_repr_html_``: the summary's first line as a heading, its other lines, and the
result's key table cut to :data:`MAX_HTML_ROWS` rows, every name from the data escaped. A
dataclass result takes :class:`Displayed` as a base and ``@dataclass(repr=False)``, so that the
generated field-by-field repr (tens of thousands of characters for a table) is not used.
"""

from __future__ import annotations

import html

#: Rows of a result's table shown in a notebook (the whole table stays in ``.table``).
MAX_HTML_ROWS = 30


class Displayed:
    """``__repr__`` = ``summary()``; ``_repr_html_`` = the summary and :meth:`_html_table`."""

    def _html_table(self):
        return getattr(self, "table", None)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head, *rest = self.summary().splitlines() or [""]
        parts = [f"<p><b>{html.escape(head)}</b></p>"]
        if rest:
            parts.append(f"<pre>{html.escape(chr(10).join(rest))}</pre>")
        table = self._html_table()
        if table is not None:
            parts.append(table.to_html(index=False, max_rows=MAX_HTML_ROWS, float_format="{:.4g}".format,
                                       na_rep="", escape=True))
        return "\n".join(parts)
