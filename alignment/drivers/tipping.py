"""Tipping points: where the outcome starts to fall (or rise) faster with a KPI.

A segmented (piecewise-linear, hinge) regression ``y = a_s + b x + d (x - c)+`` with a
segment intercept ``a_s``, fitted by profiling the breakpoint ``c`` over a grid of the KPI's
quantiles (each candidate is an ordinary least-squares fit), with a bootstrap interval for
``c`` and the slope change ``d`` that resamples the panel as its structure requires
(:class:`alignment.stats.PanelResampler`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..display import Displayed
from ..panel.frame import PanelFrame, block_length, require_columns
from ..exceptions import InputError, OptionError
from ..progress import bar, setting, using
from ..stats.resample import PanelResampler, spawn_generators


@dataclass(frozen=True, repr=False)
class TippingPoint(Displayed):
    """A fitted hinge: the breakpoint, the slopes on each side, and their bootstrap intervals."""

    kpi: str
    outcome: str
    lag: int
    breakpoint: float
    ci_low: float
    ci_high: float
    slope_below: float
    slope_above: float
    slope_change: float
    slope_change_ci: tuple[float, float]
    delta_aic: float
    n: int
    n_boot: int
    found: bool
    table: pd.DataFrame
    unit: str = ""

    def summary(self) -> str:
        if not self.found:
            return (f"No clear tipping point of {self.outcome} in {self.kpi}: the change of slope at "
                    f"{self.breakpoint:.3g} has a {int(100 * 0.95)} % interval "
                    f"[{self.slope_change_ci[0]:+.3g}, {self.slope_change_ci[1]:+.3g}] that includes zero "
                    f"or the hinge does not beat a straight line (delta AIC {self.delta_aic:+.1f}).")
        verb = "falls" if self.slope_above < self.slope_below else "rises"
        unit = f" {self.unit}" if self.unit else ""
        return (f"{self.outcome.upper()} {verb} faster once {self.kpi} passes about {self.breakpoint:.3g}{unit} "
                f"(95 % CI {self.ci_low:.3g} to {self.ci_high:.3g}{unit}): slope {self.slope_below:+.3g} per unit "
                f"below, {self.slope_above:+.3g} above (delta AIC {self.delta_aic:+.1f} against a straight line).")

    def to_dict(self) -> dict:
        return {"kpi": self.kpi, "outcome": self.outcome, "lag": self.lag, "breakpoint": self.breakpoint,
                "ci": [self.ci_low, self.ci_high], "slope_below": self.slope_below,
                "slope_above": self.slope_above, "slope_change": self.slope_change,
                "slope_change_ci": list(self.slope_change_ci), "delta_aic": self.delta_aic, "n": self.n,
                "n_boot": self.n_boot, "found": self.found}


def _hinge_fit(x, y, base, grid, w):
    """Best breakpoint on ``grid`` by weighted least squares; returns (c, coefficients, sse)."""
    best = (np.nan, None, np.inf)
    sw = np.sqrt(w)
    for c in grid:
        design = np.column_stack([base, x, np.maximum(x - c, 0.0)]) * sw[:, None]
        coef, *_ = np.linalg.lstsq(design, y * sw, rcond=None)
        resid = y * sw - design @ coef
        sse = float(resid @ resid)
        if sse < best[2]:
            best = (float(c), coef, sse)
    return best


def tipping_point(panel, outcome: str, kpi: str, *, by=None, lag: int = 0, n_boot: int = 500,
                  block: int | None = None, cluster=None, grid: int = 60, trim: float = 0.1,
                  ci: float = 0.95, seed: int | None = None, grain: str | None = None,
                  time: str = "period", progress=None) -> TippingPoint:
    """Find where the outcome's slope in a KPI changes (a hinge), with a bootstrap interval.

    Parameters
    ----------
    panel : Panel or pandas.DataFrame
    outcome, kpi : str
    by : sequence of str, optional
        Segment columns (segment intercepts); default the panel's.
    lag : int
        The KPI at t - lag.
    n_boot : int
        Bootstrap resamples for the intervals (0 skips them).
    block, cluster
        Resampling plan (see :class:`alignment.stats.PanelResampler`); default blocks of about
        the cube root of the number of periods, whole periods with all their segments.
    grid : int
        Candidate breakpoints, evenly spaced in quantiles of the KPI between ``trim`` and
        ``1 - trim`` (so that each side keeps at least that share of the rows).
    ci, seed, grain, time
        As elsewhere.
    progress : None, bool or callable, optional
        A progress bar over the resamples: ``None`` shows one only when a person is watching (a
        terminal or a notebook), ``False`` never, ``True`` always (:mod:`alignment.progress`).

    Returns
    -------
    TippingPoint
        ``found`` is true when the slope-change interval excludes zero and the hinge beats a
        straight line by at least 2 AIC points.

    Examples
    --------
    >>> from alignment import build_panel
    >>> from alignment.drivers import tipping_point
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> tp = tipping_point(panel, "csat", "asa", n_boot=50, seed=1)
    >>> tp.breakpoint > 0
    True
    """
    shown = setting(progress, where="tipping_point")
    pf = PanelFrame.from_panel(panel, by=by, grain=grain, time=time)
    data, by = pf.data, list(pf.by)
    require_columns(data, [outcome, kpi], numeric=[outcome, kpi])
    if not 0 < trim < 0.5 or grid < 3 or n_boot < 0 or not 0 < ci < 1:
        raise OptionError("tipping_point needs 0 < trim < 0.5, grid >= 3, n_boot >= 0 and 0 < ci < 1.")
    clusters = [] if cluster is None else [cluster] if isinstance(cluster, str) else list(cluster)
    require_columns(data, clusters)
    frame = pf.lag({kpi: lag})
    frame["y"] = data[outcome].to_numpy(dtype=float)
    frame[time] = data[time].to_numpy()
    for c in dict.fromkeys([*by, *clusters]):
        frame[c] = data[c].to_numpy()
    frame = frame.replace([np.inf, -np.inf], np.nan).dropna(subset=["y", kpi]).reset_index(drop=True)
    n = len(frame)
    if n < 20:
        raise InputError(f"too few complete rows ({n}) to look for a tipping point in {kpi} (want 20 or more)")
    x, y = frame[kpi].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float)
    base = pd.get_dummies(frame["seg"], dtype=float).to_numpy()
    candidates = np.unique(np.quantile(x, np.linspace(trim, 1 - trim, grid)))
    if len(candidates) < 3:
        raise InputError(f"{kpi} takes too few distinct values to look for a tipping point")
    ones = np.ones(n)
    c, coef, sse = _hinge_fit(x, y, base, candidates, ones)
    lin, *_ = np.linalg.lstsq(np.column_stack([base, x]), y, rcond=None)
    sse_lin = float(np.sum((y - np.column_stack([base, x]) @ lin) ** 2))
    k = base.shape[1]
    # the breakpoint is a fitted parameter too: the hinge has two more than the line
    delta_aic = n * np.log(sse / n) + 2 * (k + 3) - (n * np.log(sse_lin / n) + 2 * (k + 1))
    slope_below, change = float(coef[k]), float(coef[k + 1])
    boot = np.full((n_boot, 2), np.nan)
    if n_boot:
        plan = PanelResampler.from_frame(frame, time=time, block=block or block_length(frame[time].nunique()),
                                         cluster=cluster)
        rngs, _ = spawn_generators(seed, n_boot)
        with using(shown), bar(n_boot, f"tipping point of {kpi}: bootstrap", unit="resample") as moving:
            for b, rng in enumerate(rngs):
                w = plan.counts(rng).astype(float)
                keep = w > 0
                if base[keep].sum(axis=0).min() == 0:
                    keep_cols = base[keep].sum(axis=0) > 0
                    bb = base[:, keep_cols]
                else:
                    bb = base
                cb, coefb, _ = _hinge_fit(x[keep], y[keep], bb[keep], candidates, w[keep])
                boot[b] = (cb, coefb[bb.shape[1] + 1])
                moving.update()
    alpha = (1 - ci) / 2
    ok = np.isfinite(boot[:, 0])
    lo, hi = (np.quantile(boot[ok, 0], [alpha, 1 - alpha]) if ok.sum() >= 10 else (np.nan, np.nan))
    dlo, dhi = (np.quantile(boot[ok, 1], [alpha, 1 - alpha]) if ok.sum() >= 10 else (np.nan, np.nan))
    found = bool(np.isfinite(dlo) and (dlo > 0 or dhi < 0) and delta_aic <= -2)
    table = pd.DataFrame({"breakpoint": candidates,
                          "sse": [_hinge_fit(x, y, base, [cc], ones)[2] for cc in candidates]})
    return TippingPoint(kpi=kpi, outcome=outcome, lag=lag, breakpoint=c, ci_low=float(lo), ci_high=float(hi),
                        slope_below=slope_below, slope_above=slope_below + change, slope_change=change,
                        slope_change_ci=(float(dlo), float(dhi)), delta_aic=float(delta_aic), n=n,
                        n_boot=n_boot, found=found, table=table, unit=_unit(kpi))


def _unit(kpi: str) -> str:
    from .. import catalog
    entry = catalog.entry(kpi)
    return {"s": "s", "%": "%"}.get(entry["unit"], "") if entry else ""
