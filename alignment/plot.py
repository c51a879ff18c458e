"""Figures of a study, each drawn on a matplotlib Axes (``ax=None`` makes a new one).

matplotlib is imported lazily, so that computing never needs a display or a plotting backend.
Every name from the data (KPIs, the outcome) is drawn as plain text (:func:`_plain`): a ``$`` in
a column name is a dollar sign, never the start of mathtext.
"""

from __future__ import annotations

import contextlib

import numpy as np

_OFFSCREEN = False


@contextlib.contextmanager
def offscreen():
    """Inside, new figures are plain ``matplotlib.figure.Figure`` objects, unknown to pyplot.

    The report draws its figures this way, so that rendering one never touches the user's
    pyplot state or backend (in Jupyter, inline plotting keeps working). Outside, a figure is
    made by ``pyplot.subplots`` with whatever backend the user has; the backend is never set.
    """
    global _OFFSCREEN
    before, _OFFSCREEN = _OFFSCREEN, True
    try:
        yield
    finally:
        _OFFSCREEN = before


def _axes(ax, size=(6.4, 4.0)):
    if ax is not None:
        return ax
    if _OFFSCREEN:
        from matplotlib.figure import Figure
        return Figure(figsize=size).subplots()
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=size)
    return ax


def _close(figure) -> None:
    """Close a pyplot figure (a figure made offscreen needs nothing)."""
    if getattr(figure, "number", None) is not None:
        import matplotlib.pyplot as plt
        plt.close(figure)


def _plain(text) -> str:
    """``text`` as matplotlib draws it literally: each ``$`` escaped, so that no mathtext is parsed."""
    return str(text).replace("$", r"\$")


def importance(result, ax=None):
    """Horizontal bars of each driver's importance with its bootstrap interval, best on top.

    ``result`` is an :class:`~alignment.drivers.ImportanceResult` or a :class:`~alignment.study.StudyResult`
    (whose importance ranks the validated drivers only, a family as one bar).
    """
    imp = getattr(result, "importance", result)
    own = ax is None
    if imp is None:                  # a study that validated no driver ranks none
        ax = _axes(ax, (6.4, 1.6))
        ax.text(0.5, 0.5, "no validated driver to rank", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    t = imp.table.sort_values("importance")
    ax = _axes(ax, (6.4, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))
    lo = (t["importance"] - t["ci_low"]).clip(lower=0).fillna(0).to_numpy(dtype=float)
    hi = (t["ci_high"] - t["importance"]).clip(lower=0).fillna(0).to_numpy(dtype=float)
    ax.barh(y, t["importance"], xerr=[lo, hi], color="#3b6ea5", ecolor="#333333", capsize=3)
    ax.set_yticks(y, [_plain(k) for k in t["kpi"]])
    ax.set_xlabel("share of explained variance (Shapley R²)")
    ax.set_title("Driver importance with 95 % bootstrap intervals")
    if own:
        ax.figure.tight_layout()
    return ax


def _pairs(result, kpi: str, *, within: bool = True):
    """(KPI at t - lag, outcome at t) per segment, with segment means removed when ``within``."""
    from .correlation.series import lagged_frame, transform
    from .panel.frame import period_number
    s, t = result.study, result.panel.table
    if kpi not in t.columns:
        raise ValueError(f"{kpi!r} is not a column of the study's panel (KPIs: {', '.join(s.kpis)})")
    lag = int(result.lags.get(kpi, 0))
    pairs = lagged_frame(t, s.outcome, kpi, lag, list(s.by), period_number(t["period"], s.grain), [])
    if within and s.by:
        scope = ((result.validation.setup or {}).get(kpi) or {}).get("scope", "within")
        pairs, _ = transform(pairs, ["x", "y"], scope, "")
    return pairs, lag


def _period_dates(result):
    """Period number -> period start, for labelling windows of period numbers with dates."""
    from .panel.frame import period_number
    import pandas as pd
    periods = pd.Series(pd.to_datetime(result.panel.table["period"].unique())).sort_values()
    return dict(zip(period_number(periods, result.study.grain).tolist(), periods))


def _label(result, name: str) -> str:
    return _plain(name.upper() if name in ("csat", "nps", "ces", "cis") else name)


def _top_driver(result) -> str | None:
    d = result.drivers[result.drivers["rank"].notna()]
    if not len(d):
        return None
    validated = d[d["verdict"] == "validated"]
    return str((validated if len(validated) else d).iloc[0]["name"])


def heatmap(result, ax=None):
    """Correlation r of each KPI (rows) with the outcome at each lag (columns), segment means removed.

    Uses the ``within`` scope of ``result.correlations`` (``pooled`` when the study has no segments);
    the lag each KPI was given is outlined.
    """
    c = result.correlations.table
    scope = "within" if (c["scope"] == "within").any() else "pooled"
    c = c[(c["scope"] == scope) & c["segment"].isna()]
    kpis = [k for k in result.drivers["name"] if k in set(c["kpi"])]
    grid = c.pivot_table(index="kpi", columns="lag", values="r", aggfunc="first").reindex(kpis)
    own = ax is None
    ax = _axes(ax, (1.2 * grid.shape[1] + 3.2, 0.45 * len(grid) + 1.4))
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(int(v)) for v in grid.columns])
    ax.set_yticks(range(len(grid)), [_plain(k) for k in kpis])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(values[i, j]) > 0.5 else "black")
    from matplotlib.patches import Rectangle
    for i, k in enumerate(kpis):
        if k in result.lags and result.lags[k] in list(grid.columns):
            j = list(grid.columns).index(result.lags[k])
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xlabel(f"lag (periods of a {result.study.grain} the KPI leads {_label(result, result.study.outcome)})")
    where = "within segments" if scope == "within" else "pooled"
    ax.set_title(f"Correlation with {_label(result, result.study.outcome)} ({where}); chosen lag outlined")
    ax.figure.colorbar(image, ax=ax, label="r", shrink=0.8)
    if own:
        ax.figure.tight_layout()
    return ax


def scatter(result, kpi: str, ax=None, *, within: bool = True):
    """The KPI at its lag against the outcome, each point a period x segment, with a least-squares line.

    With ``within`` (default, when the study has segments) each segment's means are removed from
    both axes, which is the association the driver statistics use.
    """
    pairs, lag = _pairs(result, kpi, within=within)
    own = ax is None
    ax = _axes(ax, (5.2, 4.0))
    x, y = pairs["x"].to_numpy(dtype=float), pairs["y"].to_numpy(dtype=float)
    ax.scatter(x, y, s=14, alpha=0.6, color="#3b6ea5", edgecolors="none")
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.array([x.min(), x.max()])
        ax.plot(grid, intercept + slope * grid, color="#b5412b", linewidth=2,
                label=f"fitted: {slope:+.3g} per unit")
        ax.legend(loc="best", fontsize=8, frameon=False)
    centred = " (segment means removed)" if within and result.study.by else ""
    lagged = f" {lag} period{'s' if lag != 1 else ''} earlier" if lag else ""
    ax.set_xlabel(f"{_plain(kpi)}{lagged}{centred}")
    ax.set_ylabel(f"{_label(result, result.study.outcome)}{centred}")
    ax.set_title(f"{_label(result, result.study.outcome)} against {_plain(kpi)}")
    if own:
        ax.figure.tight_layout()
    return ax


def timeline(result, kpi: str | None = None, ax=None):
    """The outcome and one driver over time, pooled over all segments, with the holdout shaded.

    Pooling re-sums each period's components (numerators and denominators) before dividing
    (:meth:`Panel.repool`), never averages the segments' rates. ``kpi`` defaults to the top
    validated driver (or the top-ranked one).
    """
    import warnings
    import pandas as pd
    from .exceptions import AlignmentWarning
    s = result.study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        pooled = result.panel.repool(by=()).table if result.panel.by else result.panel.table
    kpi = kpi or _top_driver(result)
    own = ax is None
    ax = _axes(ax, (7.2, 3.6))
    periods = pd.to_datetime(pooled["period"])
    ax.plot(periods, pooled[s.outcome].astype(float), color="#222222", marker="o", markersize=3,
            linewidth=1.6, label=_label(result, s.outcome))
    ax.set_ylabel(_label(result, s.outcome))
    handles = list(ax.get_lines())
    if kpi is not None and kpi in pooled.columns:
        other = ax.twinx()
        other.plot(periods, pooled[kpi].astype(float), color="#3b6ea5", linewidth=1.6, label=_plain(kpi))
        other.set_ylabel(_plain(kpi), color="#3b6ea5")
        handles += list(other.get_lines())
    if result.holdout_start is not None:
        handles.append(ax.axvspan(pd.Timestamp(result.holdout_start), periods.max() + pd.Timedelta(days=1),
                                  color="#999999", alpha=0.18, linewidth=0, label="holdout"))
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8, frameon=False)
    scope = "all segments pooled" if s.by else "whole center"
    ax.set_title(f"{_label(result, s.outcome)}" + (f" and {_plain(kpi)}" if kpi else "") + f" per {s.grain} ({scope})")
    ax.tick_params(axis="x", labelrotation=30)
    if own:
        ax.figure.tight_layout()
    return ax


def rolling_correlations(result, kpi: str):
    """The rolling-window r of ``kpi`` (at its lag) that the ``stability`` check counted.

    Returns a DataFrame with ``start, end`` (period starts), ``n`` and ``r``: the windows the check
    recorded (with the effects and weights it used), so the figure shows what the check counted.
    """
    import pandas as pd
    windows = result.validation.checks.get(kpi, {}).get("stability", {}).get("windows") or []
    dates = _period_dates(result)
    rows = [{"start": dates.get(w["first"]), "end": dates.get(w["last"]), "n": w["n"], "r": w["r"]} for w in windows]
    return pd.DataFrame(rows, columns=["start", "end", "n", "r"])


def stability(result, ax=None, *, kpis=None):
    """Rolling-window within-segment r per driver (window end on the x axis), with ±min_effect marked.

    ``kpis`` defaults to every ranked KPI. The windows are those of the ``stability`` check.
    """
    import pandas as pd
    ranked = [str(k) for k in result.drivers.loc[result.drivers["rank"].notna(), "name"]]
    kpis = ranked if kpis is None else list(kpis)
    own = ax is None
    ax = _axes(ax, (7.2, 3.8))
    colors = ["#3b6ea5", "#b5412b", "#4d8b31", "#8a5a9e", "#c48a1b", "#2a9d8f", "#6d6d6d", "#d16ba5"]
    for i, k in enumerate(kpis):
        rolled = rolling_correlations(result, k)
        if len(rolled):
            ax.plot(pd.to_datetime(rolled["end"]), rolled["r"], marker="o", markersize=3, linewidth=1.4,
                    color=colors[i % len(colors)], label=_plain(k))
    m = result.validation.thresholds.min_effect
    ax.axhline(0, color="#333333", linewidth=0.8)
    for v in (m, -m):
        ax.axhline(v, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_ylim(-1, 1)
    ax.set_ylabel("r within segments" if result.study.by else "r")
    ax.set_xlabel("window end")
    ax.set_title(f"Rolling-window correlation with {_label(result, result.study.outcome)} (dashed: ±{m:g})")
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):  # the reference lines have none
        ax.legend(loc="best", fontsize=8, frameon=False, ncol=2)
    ax.tick_params(axis="x", labelrotation=30)
    if own:
        ax.figure.tight_layout()
    return ax


def to_svg(ax, *, prefix: str = "") -> str:
    """The Axes' figure as an inline ``<svg>`` element (fixed ids, no date, no metadata) and close it.

    ``prefix`` is put before every id (and every reference to one), so that several figures can
    share one HTML page without their clip paths and glyphs colliding.
    """
    import io
    import re
    import matplotlib
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "alignment", "svg.fonttype": "path"}):
        ax.figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    _close(ax.figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    if prefix:
        text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
        text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', text)
        text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", text)
    return text


def save(ax, path) -> None:
    """Save the Axes' figure reproducibly (fixed SVG ids, no date) and close it."""
    import matplotlib
    with matplotlib.rc_context({"svg.hashsalt": "alignment"}):
        ax.figure.savefig(path, metadata={"Date": None} if str(path).endswith(".svg") else None)
    _close(ax.figure)
