"""From the link's observations to the business-impact result (pure computation)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..contact.model import KPI_OF, MEASURES
from ..exceptions import OptionError
from . import model as M
from .link import Link
from .result import BusinessImpactResult

LOGIT = "logit: leaving within the window on the CX score, segment and period effects, clustered by customer"


def _pct(a: np.ndarray, alpha: float) -> list:
    a = a[np.isfinite(a)]
    if not len(a):
        return [float("nan"), float("nan")]
    return [float(np.percentile(a, 100 * alpha / 2)), float(np.percentile(a, 100 * (1 - alpha / 2)))]


def estimate_impact(link: Link, *, cx: str, outcome: str = "churn", values: pd.Series | None = None,
                    value_name: str | None = None, customers_per_year: float | None = None,
                    mediators: Sequence[str] | None = None, nps: bool = False, cox: bool = True,
                    n_boot: int = 999, seed=0, alpha: float = 0.05,
                    steps: dict | None = None) -> BusinessImpactResult:
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
        split into the part through CX and the rest; default those in the link.
    nps : bool
        The CX score is an NPS answer (0-10): also the churn of promoters, passives and detractors.
    n_boot, seed, alpha
        Customer-bootstrap replicates (multinomial weights over customers, from ``seed``).

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
    med_fit = _mediation_fits(data, [m for m in mediators if m in data.columns], ids)
    v = ok = None
    if values is not None:
        v = values.reindex(ids).to_numpy(dtype=float)
        ok = np.isfinite(v)
    # one pass of customer draws serves every model: each statistic's replicate is linear in
    # sum_g (w_g - 1) c_g over the customers' contributions c_g, stacked here side by side
    blocks = [M.ame_influence(fit, "x")[:, None]] + ([med_fit["psi"]] if med_fit else []) + (
        [np.column_stack([np.where(ok, v, 0.0), ok.astype(float)])] if v is not None else [])
    widths = np.cumsum([0] + [b.shape[1] for b in blocks])
    sums = M.customer_sums(np.hstack(blocks), n_boot, np.random.SeedSequence(seed)) if n_boot else None
    part = (lambda i: sums[:, widths[i]:widths[i + 1]]) if n_boot else None  # noqa: E731
    boot = ame + part(0)[:, 0] if n_boot else np.array([])
    cx_effect = {"estimate": ame, "ci": [ame - z * se, ame + z * se], "p_value": p_value, "model": "logit",
                 "se": se, "ci_bootstrap": _pct(boot, alpha) if n_boot else None,
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
            ci = _pct(-boot / 100.0 * customers_per_year * vb, alpha)
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

    med, what_if = _mediation(med_fit, part(1) if (med_fit and n_boot) else None, steps, alpha, cx, outcome,
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


MEDIATION = ["kpi", "variable", "step", "total", "indirect", "indirect_ci_low", "indirect_ci_high", "direct",
             "direct_ci_low", "direct_ci_high", "share_through_cx", "share_ci_low", "share_ci_high"]


def _mediation_fits(data, mediators, ids) -> dict | None:
    """The two equations of the product of coefficients, with each customer's contributions (rows
    in the order of ``ids``, zero for customers with no complete row).

    The mediator model is least squares of the CX score on the contact measures with the churn
    model's segment and period effects; the outcome model the logit of leaving on the CX score and
    the measures. Both equations share one set of confounders, which the product of coefficients
    needs.
    """
    if not mediators:
        return None
    sub = data.dropna(subset=mediators).reset_index(drop=True)
    if len(sub) < 50:
        return None
    X, names = M.design(sub, tuple(mediators))
    keep = [j for j in range(X.shape[1]) if j == 0 or X[:, j].std() > 0]
    X, names = X[:, keep], [names[k] for k in keep]
    xs = sub["x"].to_numpy(dtype=float)
    XtXi = np.linalg.inv(X.T @ X)
    a = XtXi @ (X.T @ xs)
    codes = pd.factorize(sub["customer_id"])[0]
    rows = ids.get_indexer(pd.unique(sub["customer_id"]))
    Sa = np.asarray(M._cluster_matrix(codes, int(codes.max()) + 1) @ (X * (xs - X @ a)[:, None]))
    out = M.fit_logit(sub, ("x", *mediators))
    kept = [m for m in mediators if m in names and m in out.names]
    # each customer's contribution to a replicate of: a_m (least squares: a_b = a + (X'X)^-1 sum (w-1) X'e),
    # the logit's marginal effect of a CX point, and of each measure (rows: the customers of ids)
    cols = [Sa @ XtXi[:, names.index(m)] for m in kept] + [M.ame_influence(out, "x")] + [
        M.ame_influence(out, m) for m in kept]
    psi = np.zeros((len(ids), len(cols)))
    psi[rows] = np.column_stack(cols)
    return {"mediators": kept, "a": a, "names": names, "out": out, "psi": psi}


def _mediation(mf, sums, steps, alpha, cx, outcome, window, value):
    """Product of coefficients with the customer bootstrap, one row per contact measure.

    indirect = a x (the logit's average marginal effect of a CX point), direct = the logit's
    average marginal effect of the measure, both in percentage points of leaving per step;
    replicates from the same customer draws as every other interval (:func:`~alignment.impact.model.ame_influence`).
    """
    if mf is None or sums is None:
        return pd.DataFrame(columns=MEDIATION), []
    out, names, kept = mf["out"], mf["names"], mf["mediators"]
    k = len(kept)
    ame_x = out.ame("x")
    ame_x_b = ame_x + sums[:, k]
    rows, what_if = [], []
    for i, m in enumerate(kept):
        st = float(steps.get(m, 1.0))
        am = mf["a"][names.index(m)] * st
        am_b = am + sums[:, i] * st
        ind, ind_b = am * ame_x, am_b * ame_x_b
        dr = out.ame(m) * st
        dr_b = dr + sums[:, k + 1 + i] * st
        tot, tot_b = ind + dr, ind_b + dr_b
        share = ind / tot if tot != 0 else float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            share_b = ind_b / tot_b
        ic, dc, sc = _pct(ind_b, alpha), _pct(dr_b, alpha), _pct(share_b, alpha)
        rows.append(dict(kpi=KPI_OF.get(m, m), variable=m, step=st, total=tot, indirect=ind, indirect_ci_low=ic[0],
                         indirect_ci_high=ic[1], direct=dr, direct_ci_low=dc[0], direct_ci_high=dc[1],
                         share_through_cx=share, share_ci_low=sc[0], share_ci_high=sc[1]))
        what_if.append(_chain(m, st, am, am_b, ind, ind_b, cx, outcome, window, value, alpha))
    return pd.DataFrame(rows, columns=MEDIATION), what_if


def _chain(m, step, am, am_b, ind, ind_b, cx, outcome, window, value, alpha) -> dict:
    """The what-if chain of one contact measure, uncertainty carried through every link by the
    same bootstrap replicates: an improvement of one step -> CX points -> churn -> value."""
    better = -1.0 if m in ("wait_s", "handle_s", "transferred") else 1.0
    change = {"wait_s": f"the customer's own wait {step:g} s shorter", "handle_s": f"handle time {step:g} s shorter",
              "transferred": "one transfer fewer", "resolved": "one more contact resolved first time"}.get(m, m)
    d_cx, d_cx_ci = better * am, sorted(_pct(better * am_b, alpha))
    d_churn, d_churn_ci = better * ind, sorted(_pct(better * ind_b, alpha))
    item = {"kpi": KPI_OF.get(m, m), "variable": m, "change": change, "cx_change": d_cx, "cx_change_ci": d_cx_ci,
            "churn_change_pp": d_churn, "churn_change_ci": d_churn_ci}
    sentence = (f"{change} -> {d_cx:+.3g} {cx} points [{d_cx_ci[0]:+.3g}, {d_cx_ci[1]:+.3g}] -> "
                f"{d_churn:+.3g} percentage points {outcome} within {window} days [{d_churn_ci[0]:+.3g}, "
                f"{d_churn_ci[1]:+.3g}]")
    if value is not None and math.isfinite(value["value_per_customer"]):
        scale = value["customers_per_year"] * value["value_per_customer"] / 100.0
        kept, kept_ci = -d_churn * scale, sorted(_pct(-better * ind_b * scale, alpha))
        item |= {"value_kept": kept, "value_kept_ci": kept_ci, "unit": value["unit"]}
        sentence += f" -> about {kept:,.0f} {value['unit']} kept [{kept_ci[0]:,.0f}, {kept_ci[1]:,.0f}]"
    item["sentence"] = sentence
    return item
