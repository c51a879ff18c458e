"""Figures of a study, each drawn on a matplotlib Axes (``ax=None`` makes a new one).

matplotlib is imported lazily, so that computing never needs a display or a plotting backend.
"""

from __future__ import annotations

import numpy as np


def _axes(ax, size=(6.4, 4.0)):
    if ax is not None:
        return ax
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=size)
    return ax


def importance(result, ax=None):
    """Horizontal bars of each driver's importance with its bootstrap interval, best on top.

    ``result`` is an :class:`~alignment.drivers.ImportanceResult` or a :class:`~alignment.study.StudyResult`.
    """
    imp = getattr(result, "importance", result)
    t = imp.table.sort_values("importance")
    ax = _axes(ax, (6.4, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))
    lo = (t["importance"] - t["ci_low"]).clip(lower=0).fillna(0).to_numpy(dtype=float)
    hi = (t["ci_high"] - t["importance"]).clip(lower=0).fillna(0).to_numpy(dtype=float)
    ax.barh(y, t["importance"], xerr=[lo, hi], color="#3b6ea5", ecolor="#333333", capsize=3)
    ax.set_yticks(y, t["predictor"])
    ax.set_xlabel("share of explained variance (Shapley R²)")
    ax.set_title("Driver importance with 95 % bootstrap intervals")
    ax.figure.tight_layout()
    return ax


def save(ax, path) -> None:
    """Save the Axes' figure reproducibly (fixed SVG ids, no date) and close it."""
    import matplotlib
    import matplotlib.pyplot as plt
    matplotlib.rcParams["svg.hashsalt"] = "alignment"
    ax.figure.savefig(path, metadata={"Date": None} if str(path).endswith(".svg") else None)
    plt.close(ax.figure)
