"""Per-segment effects of one driver: does the KPI move CX the same way in every queue?

One regression per driver: the study's model (:func:`alignment.regress`: the same fixed effects,
weights, calendar controls and Driscoll-Kraay errors) with the KPI's slope allowed to differ by
segment, the KPI at its lag interacted with each segment's indicator. With segment effects each
slope is exactly the one of the segment's own regression on its own time variation; with two-way
effects the shocks common to all segments in a period are removed first, as in the study. The
heterogeneity test is the Wald test that all slopes are equal, with the same covariance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..display import Displayed
from ..exceptions import AlignmentWarning, OptionError
from ..panel.frame import PanelFrame, centre_wide, require_columns

__all__ = ["segment_effects", "SegmentEffects"]

TABLE = ["kpi", "segment", "lag", "n", "effect", "ci_low", "ci_high", "coef", "se"]


@dataclass(frozen=True, repr=False)
class SegmentEffects(Displayed):
    """A driver's effect per segment and the test that the segments agree.

    Attributes
    ----------
    kpi, outcome : str
    lag : int
    table : pandas.DataFrame
        One row per segment: ``kpi, segment, lag, n`` (periods used), ``effect, ci_low, ci_high``
        (per natural step of the KPI, the interval at ``ci``) and ``coef, se`` (per unit).
        A segment where the KPI does not vary has no row.
    effect_unit : str
        What ``effect`` is in ("CSAT percentage points per 10 s of ASA").
    heterogeneity_p : float
        p of the Wald test that every segment's slope is the same (chi-square with one degree of
        freedom fewer than the segments), NaN with fewer than two estimable segments.
    statistic : float
        The Wald statistic.
    alpha : float
        The level at which :attr:`differ` reads the test.
    regression : RegressionResult
        The interacted regression (its ``warnings`` are kept here, not raised).
    """

    kpi: str
    outcome: str
    lag: int
    table: pd.DataFrame
    effect_unit: str
    heterogeneity_p: float
    statistic: float
    alpha: float = 0.05
    ci: float = 0.95
    regression: object = field(default=None, repr=False, compare=False)

    @property
    def differ(self) -> bool:
        """Whether the segments' effects differ at ``alpha``."""
        return bool(np.isfinite(self.heterogeneity_p) and self.heterogeneity_p < self.alpha)

    def summary(self) -> str:
        lines = [f"{self.kpi} (lag {self.lag}) on {self.outcome} by segment, {self.effect_unit}: "
                 f"{'differ' if self.differ else 'similar'} (heterogeneity p = {self.heterogeneity_p:.2g})"]
        for r in self.table.itertuples():
            lines.append(f"  {r.segment:<22} {r.effect:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}]  n = {r.n}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """``by_segment`` rows (``segment, effect, ci, n_periods``) and ``heterogeneity_p``, as in results.json."""
        def num(v):
            return float(v) if v is not None and np.isfinite(v) else None
        rows = [{"segment": r.segment, "effect": num(r.effect), "ci": [num(r.ci_low), num(r.ci_high)],
                 "n_periods": int(r.n)} for r in self.table.itertuples()]
        return {"by_segment": rows, "by_segment_unit": self.effect_unit,
                "heterogeneity_p": num(self.heterogeneity_p)}


def segment_effects(panel, outcome: str, kpi: str, *, lag: int = 0, by: Sequence[str] | None = None,
                    effects: str | None = None, weights: str | None = "responses", calendar=None,
                    units: Mapping[str, Mapping] | None = None, ci: float = 0.95, alpha: float = 0.05,
                    grain: str | None = None, time: str = "period",
                    drop_low_responses: bool = True) -> SegmentEffects:
    """The effect of ``kpi`` at ``lag`` in each segment, and whether the segments differ.

    Parameters
    ----------
    panel : Panel or pandas.DataFrame
        One row per period x segment, at least two segments.
    outcome, kpi : str
    lag : int
        The KPI at t - lag against the outcome at t, within each segment.
    by, effects, weights, calendar, units, ci, grain, time, drop_low_responses
        As for :func:`alignment.regress` (a study passes its own, and each driver's effects).
    alpha : float
        The level of the heterogeneity test that :attr:`SegmentEffects.differ` reads.

    Returns
    -------
    SegmentEffects

    Examples
    --------
    >>> from alignment import build_panel
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = segment_effects(panel, "csat", "fcr", weights="none")
    >>> list(res.table["segment"]) == sorted(panel.table["queue"].unique())
    True
    """
    from scipy import stats
    from .regression import _outcome_label, effect_unit, natural_step, regress
    pf = PanelFrame.from_panel(panel, by=by, grain=grain, time=time)
    if pf.n_segments < 2:
        raise OptionError("segment_effects needs at least two segments (by=...). Got one series.")
    require_columns(pf.data, [outcome, kpi], numeric=[outcome, kpi])
    fixed = pf.effects(effects)
    x = pf.data[kpi].to_numpy(dtype=float)
    if fixed == "twoway" and centre_wide(x, pf.seg, pf.t):
        raise OptionError(f"{kpi} is the same in every segment, so period effects absorb it: use "
                          f"effects='segment' for its per-segment effects.")
    # one column per segment: the KPI in that segment, 0 elsewhere (a lag within a segment keeps it so)
    columns = {code: f"_by_segment_{code}" for code in pf.labels}
    data = pf.data.assign(**{c: np.where(pf.seg == code, x, 0.0) for code, c in columns.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        fit = regress(data, outcome, list(columns.values()), by=pf.by, lags=int(lag), effects=fixed,
                      weights=weights, calendar=calendar, ci=ci, grain=pf.grain, time=time,
                      drop_low_responses=drop_low_responses)
    step = natural_step(kpi, units)
    rows = fit.table.set_index("kpi")
    analysed, wcol, _, _ = pf.analysis_table(outcome, weights, drop_low_responses)
    lagged = pf.lag({kpi: int(lag)})
    complete = np.isfinite(lagged[kpi].to_numpy(dtype=float)) & np.isfinite(analysed[outcome].to_numpy(dtype=float))
    if wcol:
        complete &= np.isfinite(analysed[wcol].to_numpy(dtype=float))
    n = np.bincount(pf.seg[complete], minlength=pf.n_segments)
    out = []
    for code, c in columns.items():
        if c not in rows.index:
            continue
        r = rows.loc[c]
        out.append(dict(kpi=kpi, segment=pf.labels[code], lag=int(lag), n=int(n[code]), effect=r["coef"] * step.step,
                        ci_low=r["ci_low"] * step.step, ci_high=r["ci_high"] * step.step, coef=r["coef"],
                        se=r["se"]))
    kept = [columns[code] for code in columns if columns[code] in rows.index]
    statistic, p = float("nan"), float("nan")
    if len(kept) >= 2 and fit.cov is not None:
        b = rows.loc[kept, "coef"].to_numpy(dtype=float)
        V = fit.cov.loc[kept, kept].to_numpy(dtype=float)
        R = np.eye(len(kept))[:-1] - np.eye(len(kept))[1:]    # consecutive differences: all equal
        d = R @ b
        statistic = float(d @ np.linalg.pinv(R @ V @ R.T) @ d)
        p = float(stats.chi2.sf(statistic, len(kept) - 1))
    outcome_label, outcome_unit = _outcome_label(outcome, pf.definitions)
    return SegmentEffects(kpi=kpi, outcome=outcome, lag=int(lag), table=pd.DataFrame(out, columns=TABLE),
                          effect_unit=effect_unit(step.step, step.unit, step.label, outcome_label, outcome_unit),
                          heterogeneity_p=p, statistic=statistic, alpha=alpha, ci=ci, regression=fit)
