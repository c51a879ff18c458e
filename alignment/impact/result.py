"""The business-impact result: what a CX point is worth in customers kept and in value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..display import Displayed


def _ci(pair) -> str:
    lo, hi = pair
    return f"[{lo:+.3g}, {hi:+.3g}]"


@dataclass(frozen=True, repr=False)
class BusinessImpactResult(Displayed):
    """The link of CX to what customers did next.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per estimate: ``model, term, estimate, ci_low, ci_high, p_value, unit, n``
        (the logit's CX effect in percentage points per CX point, the Cox hazard ratio, the value
        of a CX point, promoter against detractor).
    outcome : str
        ``"churn"`` or the event's name.
    cx : str
        The CX score (the study's outcome) on its own scale.
    window_days, n_contacts, n_customers : int
        The window, and the surveyed contacts and their customers in the yes/no outcome.
    censoring : str
        The censoring rule applied, in words.
    cx_effect : dict
        ``estimate`` (percentage points per CX point), ``ci``, ``p_value``, ``model``, ``se``,
        ``ci_bootstrap``.
    value_per_cx_point : dict or None
        ``estimate``, ``ci`` (customer bootstrap), ``unit``, ``customers_per_year``,
        ``value_per_customer``; None without a value column.
    cox : dict or None
        The Cox model's hazard ratio per CX point (None without lifelines).
    nps_groups : pandas.DataFrame or None
        ``group, n, n_churned, rate, ci_low, ci_high`` (rates in percent), for an NPS outcome.
    promoter_vs_detractor : dict or None
    mediation : pandas.DataFrame
        ``kpi, variable, step, total, indirect, indirect_ci_low, indirect_ci_high, direct,
        direct_ci_low, direct_ci_high, share_through_cx, share_ci_low, share_ci_high``: effects in
        percentage points of churn per step of the contact measure.
    what_if : list of dict
        The chain per contact measure, with a sentence.
    """

    table: pd.DataFrame
    outcome: str
    cx: str
    window_days: int
    n_contacts: int
    n_customers: int
    censoring: str
    cx_effect: dict
    value_per_cx_point: dict | None = None
    cox: dict | None = None
    nps_groups: pd.DataFrame | None = None
    promoter_vs_detractor: dict | None = None
    mediation: pd.DataFrame = field(default_factory=pd.DataFrame)
    what_if: tuple = ()
    n_boot: int = 0
    seed: int | None = None
    alpha: float = 0.05
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        e = self.cx_effect
        lines = [f"Business impact of {self.cx} on {self.outcome} within {self.window_days} days: "
                 f"{self.n_contacts:,} surveyed contacts of {self.n_customers:,} customers",
                 f"  one {self.cx} point: {e['estimate']:+.3g} percentage points of {self.outcome} "
                 f"{_ci(e['ci'])}, p = {e['p_value']:.2g} ({e['model']})"]
        if self.cox is not None:
            c = self.cox
            lines.append(f"  Cox: hazard ratio {c['hazard_ratio']:.3g} per {self.cx} point "
                         f"[{c['ci'][0]:.3g}, {c['ci'][1]:.3g}], p = {c['p_value']:.2g}")
        v = self.value_per_cx_point
        if v is not None:
            lines.append(f"  value of one {self.cx} point: {v['estimate']:,.0f} {v['unit']} "
                         f"[{v['ci'][0]:,.0f}, {v['ci'][1]:,.0f}]")
        if self.promoter_vs_detractor is not None:
            d = self.promoter_vs_detractor
            lines.append(f"  promoters against detractors: {d['estimate']:+.3g} percentage points {_ci(d['ci'])}")
        for w in self.what_if:
            lines.append(f"  {w['sentence']}")
        lines.append(f"  censoring: {self.censoring}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The ``business_impact`` object of results.json (schema 2)."""
        from ..validation.result import plain
        med = [{"kpi": r.kpi, "variable": r.variable, "step": r.step, "total": r.total, "indirect": r.indirect,
                "indirect_ci": [r.indirect_ci_low, r.indirect_ci_high], "direct": r.direct,
                "direct_ci": [r.direct_ci_low, r.direct_ci_high], "share_through_cx": r.share_through_cx,
                "share_ci": [r.share_ci_low, r.share_ci_high]} for r in self.mediation.itertuples()]
        return plain({
            "outcome": self.outcome, "cx": self.cx, "window_days": self.window_days,
            "n_contacts": self.n_contacts, "n_customers": self.n_customers, "censoring": self.censoring,
            "cx_effect": self.cx_effect, "value_per_cx_point": self.value_per_cx_point,
            "cox": self.cox,
            "nps_groups": None if self.nps_groups is None else self.nps_groups.to_dict(orient="records"),
            "promoter_vs_detractor": self.promoter_vs_detractor,
            "mediation": med, "what_if": list(self.what_if), "n_boot": self.n_boot, "seed": self.seed,
            "alpha": self.alpha, "notes": list(self.notes)})

    def lines(self) -> list[str]:
        """The plain-words lines of the report's "Business impact" section."""
        e = self.cx_effect
        out = [f"Each {self.cx} point changes the chance that a surveyed customer leaves within "
               f"{self.window_days} days by {e['estimate']:+.2f} percentage points "
               f"(95 % interval {e['ci'][0]:+.2f} to {e['ci'][1]:+.2f})."]
        v = self.value_per_cx_point
        if v is not None and all(math.isfinite(x) for x in v["ci"]):
            out.append(f"One {self.cx} point is worth about {v['estimate']:,.0f} {v['unit']} "
                       f"(95 % interval {v['ci'][0]:,.0f} to {v['ci'][1]:,.0f}).")
        out += [w["sentence"] for w in self.what_if]
        if len(self.mediation):
            out.append("A survey score is a noisy measure of the experience, so the part of a driver's effect "
                       "that seems not to run through CX (the direct part) is overstated.")
        return out
