"""Linear combinations of panel components: ``"n_contacts - n_short_abandons"``.

Metric formulas in the catalog are kept as data; this small parser turns them
into something that evaluates the same way on a pandas frame and in SQL, so
the panel builder and the re-pooling of a panel share one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

#: A component or metric name: an ASCII letter or underscore, then ASCII letters, digits and
#: underscores. Survey metric names become component names (``{name}_sum``), so they follow it too.
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: The characters a name may hold, in words, for error messages.
NAME_RULE = "ASCII letters, digits and underscores, not starting with a digit"
_TOKEN = re.compile(rf"\s*([+-])?\s*({NAME})\s*")
_NAME = re.compile(NAME)


def is_name(text) -> bool:
    """Whether ``text`` can name a component or metric (see :data:`NAME`)."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None


@dataclass(frozen=True)
class Linear:
    """A signed sum of component names, e.g. ``(("n_contacts", 1), ("n_short_abandons", -1))``."""

    terms: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> "Linear":
        terms, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos or (terms and not m.group(1)):
                raise ValueError(f"Cannot parse component expression {text!r} at {pos}.")
            terms.append((m.group(2), -1 if m.group(1) == "-" else 1))
            pos = m.end()
        if not terms:
            raise ValueError("Empty component expression.")
        return cls(tuple(terms))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.terms)

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        total = 0
        for name, sign in self.terms:
            total = total + sign * frame[name]
        return total

    def sql(self, quote) -> str:
        parts = []
        for i, (name, sign) in enumerate(self.terms):
            op = ("-" if sign < 0 else "") if i == 0 else (" - " if sign < 0 else " + ")
            parts.append(f"{op}{quote(name)}")
        return "".join(parts)

    def __str__(self) -> str:
        return self.sql(lambda n: n)
