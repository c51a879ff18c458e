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
    n_censored: int | None = None
    n_after_leaving: int | None = None

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

    def lines(self, *, cx_label: str | None = None, value_label: str | None = None) -> list[str]:
        """The plain-words lines of the report's "Business impact" section, with their intervals.

        Parameters
        ----------
        cx_label, value_label : str, optional
            The names a reader knows: of the CX score (``"CSAT"``; default the column's name) and of
            the value per customer (``"annual revenue"``; default the column's name in words).
        """
        cx, value_label = self._labels(cx_label, value_label)
        verb, noun = self._event_words()
        e = self.cx_effect
        out = [f"Each {cx} point changes the chance that the customer {verb} within {self.window_days} days "
               f"of the contact by {_pp(e['estimate'])} percentage points (95 % interval {_pp(e['ci'][0])} to "
               f"{_pp(e['ci'][1])}), from {_n(self.n_contacts)} surveyed contacts of {_n(self.n_customers)} "
               f"customers."]
        if self.cox is not None and all(math.isfinite(x) for x in self.cox["ci"]):
            c = self.cox
            out.append(f"A second model, of the time until a customer leaves, agrees in direction: each {cx} point "
                       f"changes the rate of {noun} by {_pp(100 * (c['hazard_ratio'] - 1))} % (95 % interval "
                       f"{_pp(100 * (c['ci'][0] - 1))} to {_pp(100 * (c['ci'][1] - 1))} %)."
                       if (c["hazard_ratio"] - 1) * e["estimate"] > 0 else
                       f"A second model, of the time until a customer leaves, does not agree in direction: each "
                       f"{cx} point changes the rate of {noun} by {_pp(100 * (c['hazard_ratio'] - 1))} % (95 % "
                       f"interval {_pp(100 * (c['ci'][0] - 1))} to {_pp(100 * (c['ci'][1] - 1))} %).")
        v = self.value_per_cx_point
        if v is not None and all(math.isfinite(x) for x in v["ci"]):
            out.append(f"If the association is causal, one {cx} point is worth about {_n(v['estimate'])} of "
                       f"{value_label} a year in customers kept (95 % interval {_n(v['ci'][0])} to "
                       f"{_n(v['ci'][1])}): the change in the chance of {noun}, times the "
                       f"{_n(v['customers_per_year'])} customers the surveyed contacts reach in a year, times the "
                       f"average {value_label} of a customer, {_n(v['value_per_customer'])}.")
        for w in self.what_if:
            out.append(self._chain_words(w, cx, value_label))
        if self.promoter_vs_detractor is not None:
            d = self.promoter_vs_detractor
            out.append(f"Promoters' chance of {noun} within {self.window_days} days differs from detractors' by "
                       f"{_pp(d['estimate'])} percentage points (95 % interval {_pp(d['ci'][0])} to {_pp(d['ci'][1])}).")
        if len(self.mediation):
            out.append("A survey score is a noisy measure of the experience, so the part of a driver's effect "
                       "that seems not to run through CX (the direct part) is overstated.")
        if self.n_censored is not None:
            after = (f"; {_n(self.n_after_leaving)} contacts after the customer had already left are left out too"
                     if self.n_after_leaving else "")
            out.append(f"The {_n(self.n_censored)} surveyed contacts less than {self.window_days} days before the "
                       f"data end are left out of the chance of {noun}, because their customers may yet leave "
                       f"inside the window{after}.")
        return out

    def _event_words(self) -> tuple[str, str]:
        if self.outcome == "churn":
            return "leaves", "leaving"
        name = self.outcome.replace("_", " ")
        return f"has a {name}", f"a {name}"

    def _labels(self, cx_label, value_label):
        v = self.value_per_cx_point
        default = (v["unit"].removesuffix(" per year") if v else "value").replace("_", " ")
        return cx_label or self.cx, value_label or default

    def lever_line(self, kpi: str, *, cx_label: str | None = None, value_label: str | None = None) -> str | None:
        """What moving ``kpi`` one step is worth in customers kept (its what-if chain), or None."""
        cx, value_label = self._labels(cx_label, value_label)
        chains = [w for w in self.what_if if w["kpi"] == kpi]
        return self._chain_words(chains[0], cx, value_label) if chains else None

    def _chain_words(self, w: dict, cx: str, value_label: str) -> str:
        # the value is the change for every customer reached, so the words say "every"
        step = w.get("step") or next((float(r.step) for r in self.mediation.itertuples() if r.variable == w["variable"]),
                                     None)
        every = {"wait_s": f"Every customer's own wait {step:g} s shorter",
                 "handle_s": f"Every contact handled {step:g} s faster",
                 "resolved": "Every contact resolved first time instead of not",
                 "transferred": "Every contact handled without a transfer instead of with one"}
        change = every.get(w["variable"]) if step is not None else None
        change = change or w["change"][0].upper() + w["change"][1:]
        lo, hi = w["churn_change_ci"]
        text = (f"{change}: {_pp(w['cx_change'])} {cx} points (95 % interval {_pp(w['cx_change_ci'][0])} to "
                f"{_pp(w['cx_change_ci'][1])}), so {_pp(w['churn_change_pp'])} percentage points in the chance of "
                f"{self._event_words()[1]} within {self.window_days} days ({_pp(lo)} to {_pp(hi)})")
        if "value_kept" in w and all(math.isfinite(x) for x in w["value_kept_ci"]):
            text += (f", about {_n(w['value_kept'])} of {value_label} a year kept ({_n(w['value_kept_ci'][0])} "
                     f"to {_n(w['value_kept_ci'][1])})")
        return text + ", if the association is causal."


def _pp(x) -> str:
    """A signed change with two significant digits: ``-0.039``, ``+27``."""
    if not math.isfinite(x):
        return "–"
    return f"{x:+.2g}" if abs(x) >= 1e-4 or x == 0 else f"{x:+.1e}"


def _n(x) -> str:
    """A count or an amount as the report prints it: ``2 209``."""
    return "–" if x is None or not math.isfinite(x) else f"{x:,.0f}".replace(",", " ")
