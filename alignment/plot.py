"""Figures of a study, each drawn on a matplotlib Axes (``ax=None`` makes a new one).

matplotlib is imported lazily, so that computing never needs a display or a plotting backend.
Every name from the data (KPIs, the outcome) is drawn as plain text (:func:`_plain`): a ``$`` in
a column name is a dollar sign, never the start of mathtext.
"""

from __future__ import annotations

import contextlib

import numpy as np

_OFFSCREEN = False
_MAX_WIDTH = None      # inches; set by report_style() so that figure text stays readable on a phone
# Font sizes of the report's figures, in points of the figure. A figure at most REPORT_WIDTH
# inches wide, shown across a 370 px phone column, scales 1 pt to 370 / (72 * 5.0) = 1.03 px, so
# the smallest text (10 pt) renders at >= 10 px at any width the page allows (the browser test
# measures it).
REPORT_WIDTH = 5.0
REPORT_RC = {"font.size": 10.5, "axes.titlesize": 10.5, "axes.labelsize": 10.5, "xtick.labelsize": 10,
             "ytick.labelsize": 10, "legend.fontsize": 10, "figure.titlesize": 11}


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


@contextlib.contextmanager
def report_style():
    """Inside, figures are drawn for the report: plain labels at readable sizes, at most
    :data:`REPORT_WIDTH` inches wide (see :data:`REPORT_RC`)."""
    import matplotlib
    global _MAX_WIDTH
    before, _MAX_WIDTH = _MAX_WIDTH, REPORT_WIDTH
    try:
        with matplotlib.rc_context(REPORT_RC):
            yield
    finally:
        _MAX_WIDTH = before


def _axes(ax, size=(6.4, 4.0)):
    if ax is not None:
        return ax
    if _MAX_WIDTH is not None and size[0] > _MAX_WIDTH:
        size = (_MAX_WIDTH, size[1])
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


def _name(result, kpi: str) -> str:
    """A KPI's plain name for a figure (``ASA``, ``e-mail backlog``), drawn literally."""
    from .drivers.regression import natural_step
    units = getattr(getattr(result, "study", None), "units", None) or {}
    try:
        return _plain(natural_step(kpi, units).label)
    except Exception:  # a name the catalog cannot describe is shown as it is
        return _plain(kpi)


def _unit(result, name: str) -> str:
    """The unit of a KPI's or the outcome's values (``s``, ``%``, ``e-mails``), or ''."""
    from .report.first_screen import kpi_unit
    try:
        return kpi_unit(result, name)
    except AttributeError:
        return ""


def _with_unit(label: str, unit: str) -> str:
    return f"{label} ({_plain(unit)})" if unit else label


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
    ax.set_yticks(y, [_name(result, k) for k in t["kpi"]])
    r2 = float(getattr(imp, "r2", float("nan")))
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.set_xlabel(f"share of the total variation (%, Shapley; all together R² = {r2:.2f})")
    ax.set_title("Driver importance with 95 % bootstrap intervals")
    if own:
        ax.figure.tight_layout()
    return ax


def _percent_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _: f"{100 * v:.0f}")


def priority_matrix(result, ax=None):
    """The key-driver view: each validated lever's importance against its gap to target.

    x is the lever's share of the total variation in the outcome; y how far its latest value
    is from the study's target (``[kpis.NAME] target``), in the lever's natural steps (0 when
    the target is met). Levers without a target are named below the axes, not placed.
    """
    from .report.first_screen import levers
    items = levers(result)
    own = ax is None
    ax = _axes(ax, (5.0, 3.8))
    placed = [v for v in items if v["gap"] is not None and v["importance"] is not None]
    missing = [v["label"] for v in items if v not in placed]
    from .drivers.regression import natural_step
    units = result.study.units or {}
    xs = [float(v["importance"]) for v in placed]
    ys = [abs(float(v["gap"])) / natural_step(v["name"], units).step for v in placed]
    ax.scatter(xs, ys, s=60, color=["#b3261e" if y > 0 else "#1e7b34" for y in ys], zorder=3)
    seen: dict[float, int] = {}
    for v, x, y in zip(placed, xs, ys):
        k = seen[round(y, 1)] = seen.get(round(y, 1), -1) + 1   # coinciding gaps: labels stacked upwards
        ax.annotate(_plain(v["label"]), (x, y), xytext=(6, 4 + 13 * k), textcoords="offset points",
                    arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.6} if k else None)
    top = max(ys + [1.0]) * 1.35
    right = max(xs + [0.1]) * 1.6
    split = float(np.mean(xs)) if xs else right / 2
    ax.axvline(split, color="#999999", linewidth=0.8, linestyle="--")
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, right)
    ax.set_ylim(-0.08 * top, top)
    for x, y, text, ha in ((right * 0.98, top * 0.95, "fix first", "right"), (0.02 * right, top * 0.95, "next", "left"),
                           (right * 0.98, -0.04 * top, "keep up", "right"),
                           (0.02 * right, -0.04 * top, "maintain", "left")):
        ax.text(x, y, text, ha=ha, va="top" if y > 0 else "bottom", color="#5f6368", style="italic")
    ax.xaxis.set_major_formatter(_percent_formatter())
    o = _label(result, result.study.outcome)
    ax.set_xlabel(f"importance: share of the total variation in {o} (%)")
    ax.set_ylabel("gap to target (natural steps)")
    ax.set_title("Priority matrix: importance against gap to target")
    if missing:
        ax.figure.text(0.01, 0.01, "no target set: " + ", ".join(_plain(m) for m in missing), color="#5f6368")
    if own:
        ax.figure.tight_layout(rect=(0, 0.06 if missing else 0, 1, 1))
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
    ax.set_yticks(range(len(grid)), [_name(result, k) for k in kpis])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.2f}", ha="center", va="center",
                        color="white" if abs(values[i, j]) > 0.5 else "black")
    from matplotlib.patches import Rectangle
    for i, k in enumerate(kpis):
        if k in result.lags and result.lags[k] in list(grid.columns):
            j = list(grid.columns).index(result.lags[k])
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xlabel(f"lag ({result.study.grain}s the KPI leads {_label(result, result.study.outcome)})")
    where = "within segments" if scope == "within" else "pooled"
    ax.set_title(f"Correlation with {_label(result, result.study.outcome)} ({where})")
    ax.figure.colorbar(image, ax=ax, label="correlation r (-1 to +1)", shrink=0.8)
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
        unit = _unit(result, kpi)
        ax.plot(grid, intercept + slope * grid, color="#b5412b", linewidth=2,
                label=f"fitted: {slope:+.3g} per {_plain(unit) or 'unit'}")
        ax.legend(loc="best", frameon=False)
    centred = ", segment means removed" if within and result.study.by else ""
    grain = result.study.grain
    lagged = f", {lag} {grain}{'s' if lag != 1 else ''} earlier" if lag else ""
    o = _label(result, result.study.outcome)
    ax.set_xlabel(f"{_name(result, kpi)} ({_plain(_unit(result, kpi)) or 'its unit'}{lagged}{centred})")
    ax.set_ylabel(f"{o} ({_plain(_unit(result, result.study.outcome)) or 'points'}{centred})")
    ax.set_title(f"{o} against {_name(result, kpi)}")
    if own:
        ax.figure.tight_layout()
    return ax


def timeline(result, kpi: str | None = None, ax=None):
    """The outcome and one driver over time, pooled over all segments, with the holdout shaded.

    The driver is drawn at its lag: with lag 1, the point under a week is the driver's value of
    the week before, the one the study relates to that week's outcome.

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
    o = _label(result, s.outcome)
    ax.plot(periods, pooled[s.outcome].astype(float), color="#222222", marker="o", markersize=3,
            linewidth=1.6, label=o)
    ax.set_ylabel(_with_unit(o, _unit(result, s.outcome)))
    handles = list(ax.get_lines())
    lag = int(result.lags.get(kpi, 0)) if kpi is not None else 0
    if kpi is not None and kpi in pooled.columns:
        # drawn at its lag: the value of `lag` periods earlier sits under the outcome it goes with
        shifted = pooled[kpi].astype(float).shift(lag)
        name = _name(result, kpi) + (f", {lag} {s.grain}{'s' if lag != 1 else ''} earlier" if lag else "")
        other = ax.twinx()
        other.plot(periods, shifted, color="#3b6ea5", linewidth=1.6, label=name)
        other.set_ylabel(_with_unit(_name(result, kpi), _unit(result, kpi)), color="#3b6ea5")
        handles += list(other.get_lines())
    if result.holdout_start is not None:
        handles.append(ax.axvspan(pd.Timestamp(result.holdout_start), periods.max() + pd.Timedelta(days=1),
                                  color="#999999", alpha=0.18, linewidth=0, label="holdout"))
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", frameon=False)
    scope = "all segments pooled" if s.by else "whole center"
    ax.set_title(f"{o}" + (f" and {_name(result, kpi)}" if kpi else "") + f" per {s.grain} ({scope})")
    ax.set_xlabel(f"{s.grain} (start date)")
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
                    color=colors[i % len(colors)], label=_name(result, k))
    m = result.validation.thresholds.min_effect
    ax.axhline(0, color="#333333", linewidth=0.8)
    for v in (m, -m):
        ax.axhline(v, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_ylim(-1, 1)
    ax.set_ylabel("correlation r within segments" if result.study.by else "correlation r")
    ax.set_xlabel("last week of the window (date)" if result.study.grain == "week" else "window end (date)")
    ax.set_title(f"Rolling-window correlation with {_label(result, result.study.outcome)} (dashed: ±{m:g})")
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):  # the reference lines have none
        ax.legend(loc="best", frameon=False, ncol=2)
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
    # text stays text (fonttype none): readable by screen readers and search, and its size can be
    # measured in the page (tests/test_browser.py)
    with matplotlib.rc_context({"svg.hashsalt": "alignment", "svg.fonttype": "none"}):
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
