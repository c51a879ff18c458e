"""From the link's observations to the business-impact result (pure computation)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..contact.model import MEASURES
from ..exceptions import OptionError
from . import model as M
from .link import Link
from .mediation import CXPath, mediation, mediation_fits
from .result import BusinessImpactResult

LOGIT = "logit: leaving within the window on the CX score, segment and period effects, clustered by customer"


def estimate_impact(link: Link, *, cx: str, outcome: str = "churn", values: pd.Series | None = None,
                    value_name: str | None = None, customers_per_year: float | None = None,
                    mediators: Sequence[str] | None = None, nps: bool = False, cox: bool = True,
                    n_boot: int = 999, seed=0, alpha: float = 0.05,
                    steps: dict | None = None, cx_path: CXPath | None = None) -> BusinessImpactResult:
    """Fit the churn models on ``link`` and value a CX point.

    Parameters
    ----------
    link : Link
        From :func:`alignment.impact.link_surveys`.
    cx : str
        The name of the CX score (the study's outcome).
    values : pandas.Series, optional
        Value per customer per year, indexed by ``customer_id``.
    customers_per_year : float, optional
        The customers a CX point reaches in a year; default the distinct customers of the
        surveyed contacts, scaled to a year by the span of the contacts (a lower bound: customers
        who are never surveyed are reached too).
    mediators : sequence of str, optional
        Contact measures (keys of :data:`alignment.contact.MEASURES`) whose effect on leaving is
        split into the part through CX and the rest; default those in the link. Needs ``cx_path``.
    nps : bool
        The CX score is an NPS answer (0-10): also the churn of promoters, passives and detractors.
    n_boot, seed, alpha
        Customer-bootstrap replicates (multinomial weights over customers, from ``seed``).
    cx_path : CXPath, optional
        The mediation's path from the contact measures to CX, the contact-level model's
        (:func:`alignment.impact.mediation.cx_path` on the survey-level frame of the link); without
        it there is no mediation.

    Returns
    -------
    BusinessImpactResult
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise OptionError(f"The 'n_boot' parameter of business_impact must be a whole number >= 0. "
                          f"Got {n_boot!r} instead.")
    data = link.modelled.reset_index(drop=True)
    if len(data) < 50:
        raise OptionError(f"The churn link needs at least 50 surveyed contacts whose {link.window_days}-day "
                          f"window lies within the data; it has {len(data)}.")
    data["block"] = M.period_blocks(data["period"], data["y"].to_numpy())
    fit = M.fit_logit(data, ("x",))
    z = stats.norm.ppf(1 - alpha / 2)
    ame, se = fit.ame("x"), fit.ame_se("x")
    j = fit.names.index("x")
    p_value = float(2 * stats.norm.sf(abs(fit.beta[j] / math.sqrt(fit.V[j, j]))))
    G = int(fit.cluster.max()) + 1
    ids = pd.Index(pd.unique(data["customer_id"]))       # the order of fit.cluster's codes
    steps = {m: MEASURES[m][1] for m in MEASURES} | dict(steps or {})
    if mediators is None:
        mediators = [m for m in MEASURES if m in data.columns and m != "answered_within_t"]
    med_fit = mediation_fits(data, cx_path, mediators, ids) if (cx_path is not None and mediators) else None
    # the customers resampled: the churn model's, then those only the contact model's path sees
    units = med_fit["units"] if med_fit else ids
    pad = lambda b: np.vstack([b, np.zeros((len(units) - len(ids), b.shape[1]))])  # noqa: E731
    v = ok = None
    if values is not None:
        v = values.reindex(ids).to_numpy(dtype=float)
        ok = np.isfinite(v)
    # one pass of customer draws serves every model: each statistic's replicate is linear in
    # sum_g (w_g - 1) c_g over the customers' contributions c_g, stacked here side by side
    blocks = [pad(M.ame_influence(fit, "x")[:, None])] + ([med_fit["psi"]] if med_fit else []) + (
        [pad(np.column_stack([np.where(ok, v, 0.0), ok.astype(float)]))] if v is not None else [])
    widths = np.cumsum([0] + [b.shape[1] for b in blocks])
    sums = M.customer_sums(np.hstack(blocks), n_boot, np.random.SeedSequence(seed)) if n_boot else None
    part = (lambda i: sums[:, widths[i]:widths[i + 1]]) if n_boot else None  # noqa: E731
    boot = ame + part(0)[:, 0] if n_boot else np.array([])
    cx_effect = {"estimate": ame, "ci": [ame - z * se, ame + z * se], "p_value": p_value, "model": "logit",
                 "se": se, "ci_bootstrap": M.percentile_interval(boot, alpha) if n_boot else None,
                 "unit": f"percentage points of {outcome} per {cx} point", "method": LOGIT,
                 "logit_coef": float(fit.beta[j])}
    rows = [dict(model="logit", term=f"{cx} point", estimate=ame, ci_low=ame - z * se, ci_high=ame + z * se,
                 p_value=p_value, unit="percentage points", n=len(data))]
    notes = list(link.notes)
    notes.append(f"period effects for {int(data['block'].nunique())} blocks of consecutive periods with at least "
                 f"{M.MIN_EVENTS_PER_BLOCK} departures each")

    # the customers a CX point reaches in a year, and what each is worth
    span_days = max((link.table["contact_ts"].max() - link.table["contact_ts"].min()) / pd.Timedelta(days=1), 1.0)
    if customers_per_year is None:
        customers_per_year = link.table["customer_id"].nunique() * min(365.25 / span_days, 1e6)
    value = None
    if v is not None:
        mean_v = float(v[ok].mean()) if ok.any() else float("nan")
        est = -ame / 100.0 * customers_per_year * mean_v
        ci = [float("nan"), float("nan")]
        if n_boot:
            vs = part(len(blocks) - 1)
            vb = (v[ok].sum() + vs[:, 0]) / np.maximum(ok.sum() + vs[:, 1], 1.0)
            ci = M.percentile_interval(-boot / 100.0 * customers_per_year * vb, alpha)
        unit = f"{value_name or 'value'} per year"
        value = {"estimate": est, "ci": ci, "unit": unit, "customers_per_year": customers_per_year,
                 "value_per_customer": mean_v,
                 "rule": "minus the change in the chance of leaving x customers reached per year x mean value "
                         "per customer; interval from the customer bootstrap"}
        rows.append(dict(model="logit", term=f"value of a {cx} point", estimate=est, ci_low=ci[0], ci_high=ci[1],
                         p_value=np.nan, unit=unit, n=len(data)))

    cox_fit = None
    if cox:
        cox_fit = M.fit_cox(link.table)
        if cox_fit is None:
            notes.append("no Cox model: lifelines is not installed (pip install lifelines)")
        else:
            rows.append(dict(model="cox", term=f"hazard ratio per {cx} point", estimate=cox_fit["hazard_ratio"],
                             ci_low=cox_fit["ci"][0], ci_high=cox_fit["ci"][1], p_value=cox_fit["p_value"],
                             unit="hazard ratio", n=cox_fit["n"]))

    groups = pvd = None
    if nps:
        groups, pvd = M.nps_groups(data, alpha)
        rows.append(dict(model="nps groups", term="promoters vs detractors", estimate=pvd["estimate"],
                         ci_low=pvd["ci"][0], ci_high=pvd["ci"][1], p_value=pvd["p_value"],
                         unit="percentage points", n=len(data)))

    med, what_if = mediation(med_fit, part(1) if (med_fit and n_boot) else None, steps, alpha, cx, outcome,
                              link.window_days, value)
    table = pd.DataFrame(rows, columns=["model", "term", "estimate", "ci_low", "ci_high", "p_value", "unit", "n"])
    censoring = (f"windows running past the data end ({link.end:%Y-%m-%d}) are dropped from the logit "
                 f"({link.n_censored:,} contacts) and kept as censored in the Cox model; contacts after the "
                 f"customer had left are left out ({link.n_after_leaving:,})")
    return BusinessImpactResult(table=table, outcome=outcome, cx=cx, window_days=link.window_days,
                                n_contacts=len(data), n_customers=G, censoring=censoring, cx_effect=cx_effect,
                                value_per_cx_point=value, cox=cox_fit, nps_groups=groups, promoter_vs_detractor=pvd,
                                mediation=med, what_if=tuple(what_if), n_boot=int(n_boot), seed=seed, alpha=alpha,
                                notes=tuple(notes), n_censored=int(link.n_censored),
                                n_after_leaving=int(link.n_after_leaving))
