"""Mediation of a contact measure's effect on leaving: the part through CX and the rest.

Product of coefficients. The path from a contact measure to the CX score (a) is the contact-level
model's (:func:`alignment.contact.contact_slopes`): the score on its own scale, on every surveyed
contact of the survey-level frame, with the model's segment x day fixed effects, hour of day and
contact controls, so a is the effect that the contact model reports in points. The path from the
CX score to leaving (b) and the measure's direct effect come from the churn model: the logit of
leaving within the window on the score and the contact measures, with its segment and period
effects (:func:`alignment.impact.model.fit_logit`). indirect = a x b, direct = the measure's own
average marginal effect, share through CX = indirect / (indirect + direct). Every interval comes
from one bootstrap over customers, shared with the rest of the link.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..contact.model import KPI_OF, MEASURES, ContactSlopes, contact_slopes
from ..exceptions import SmallSampleWarning
from . import model as M

MEDIATION = ["kpi", "variable", "step", "total", "indirect", "indirect_ci_low", "indirect_ci_high", "direct",
             "direct_ci_low", "direct_ci_high", "share_through_cx", "share_ci_low", "share_ci_high"]


@dataclass(frozen=True)
class CXPath:
    """The path from the contact measures to the CX score: the contact model's ``slopes`` and the
    customer of each survey it fitted (``customer_id``; a survey without one is a customer of its own)."""

    slopes: ContactSlopes
    customer_id: np.ndarray


def cx_path(frame: pd.DataFrame, cx: str, *, by, variables=None, contact_controls=(), metric=None) -> CXPath:
    """The contact model's slopes of ``cx`` (on its own scale) on the contact measures of ``frame``.

    The score is coded as itself (``coding="mean"``): the churn model's CX effect is per point of
    it, and the product of coefficients needs one scale in both equations.

    Parameters
    ----------
    frame : pandas.DataFrame
        The survey-level frame of the link (``Panel.contact_frame``).
    cx : str
        The CX score column.
    by : sequence of str
        The segments.
    variables : sequence of str, optional
        The contact measures fitted jointly (default all in the frame but ``answered_within_t``).
    contact_controls : sequence of str
        As for :func:`alignment.contact_model`; the hour of day is absorbed when the frame has it.
    metric : SurveyMetric or CompositeScore, optional

    Returns
    -------
    CXPath

    Examples
    --------
    >>> from alignment import build_panel
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv", by=["queue"],
    ...                     timezone="America/New_York", contact_frame=True)
    >>> path = cx_path(panel.contact_frame, "csat", by=["queue"])
    >>> bool(path.slopes.slopes["wait_s"] < 0 < path.slopes.slopes["resolved"])
    True
    """
    if variables is None:
        variables = [m for m in MEASURES if m in frame.columns and m != "answered_within_t"]
    controls = ("hour",) if "hour" in frame.columns else ()
    with warnings.catch_warnings():     # its intervals come from the customer bootstrap, not t(G - 1)
        warnings.simplefilter("ignore", SmallSampleWarning)
        slopes = contact_slopes(frame, cx, by=by, variables=variables, controls=controls,
                                contact_controls=contact_controls, coding_kind="mean", metric=metric)
    cid = frame["customer_id"].iloc[slopes.rows] if "customer_id" in frame else pd.Series(pd.NA, index=slopes.rows)
    has = cid.notna() & (cid.astype(str).str.strip() != "")
    ids = np.where(has, cid.astype(str), [f"(no customer_id: survey {r})" for r in slopes.rows]).astype(object)
    return CXPath(slopes=slopes, customer_id=ids)


def mediation_fits(data: pd.DataFrame, path: CXPath, mediators, ids: pd.Index) -> dict | None:
    """Both equations and each customer's contributions to a bootstrap replicate of their statistics.

    Rows of ``psi`` are the customers ``units``: ``ids`` (the churn model's) followed by those
    only the contact model sees (their windows run past the data, their customer is unknown to
    the customers file or they have none), zero where a customer has no row in an equation.
    """
    measures = [m for m in path.slopes.slopes.index if m in data.columns]
    mediators = [m for m in mediators if m in measures]
    if not mediators:
        return None
    sub = data.dropna(subset=measures).reset_index(drop=True)
    if len(sub) < 50:
        return None
    out = M.fit_logit(sub, ("x", *measures))
    kept = [m for m in mediators if m in out.names]
    others = pd.Index(pd.unique(path.customer_id)).difference(ids, sort=False)
    units = ids.append(others)
    a_codes = units.get_indexer(path.customer_id)
    j = {m: list(path.slopes.slopes.index).index(m) for m in kept}
    cols = [np.bincount(a_codes, weights=path.slopes.influence[:, j[m]], minlength=len(units)) for m in kept]
    b_rows = units.get_indexer(pd.unique(sub["customer_id"]))       # the order of out.cluster's codes
    for c in [M.ame_influence(out, "x")] + [M.ame_influence(out, m) for m in kept]:
        col = np.zeros(len(units))
        col[b_rows] = c
        cols.append(col)
    return {"mediators": kept, "a": path.slopes.slopes, "out": out, "psi": np.column_stack(cols), "units": units}


def mediation(mf, sums, steps, alpha, cx, outcome, window, value):
    """Product of coefficients with the customer bootstrap, one row per contact measure.

    indirect = a x (the logit's average marginal effect of a CX point), direct = the logit's
    average marginal effect of the measure, both in percentage points of leaving per step;
    replicates from the same customer draws as every other interval (:func:`~alignment.impact.model.ame_influence`).
    """
    if mf is None or sums is None:
        return pd.DataFrame(columns=MEDIATION), []
    out, kept = mf["out"], mf["mediators"]
    k = len(kept)
    ame_x = out.ame("x")
    ame_x_b = ame_x + sums[:, k]
    rows, what_if = [], []
    for i, m in enumerate(kept):
        st = float(steps.get(m, 1.0))
        am = float(mf["a"][m]) * st
        am_b = am + sums[:, i] * st
        ind, ind_b = am * ame_x, am_b * ame_x_b
        dr = out.ame(m) * st
        dr_b = dr + sums[:, k + 1 + i] * st
        tot, tot_b = ind + dr, ind_b + dr_b
        share = ind / tot if tot != 0 else float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            share_b = ind_b / tot_b
        ic, dc, sc = (M.percentile_interval(b, alpha) for b in (ind_b, dr_b, share_b))
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
    d_cx, d_cx_ci = better * am, sorted(M.percentile_interval(better * am_b, alpha))
    d_churn, d_churn_ci = better * ind, sorted(M.percentile_interval(better * ind_b, alpha))
    item = {"kpi": KPI_OF.get(m, m), "variable": m, "change": change, "cx_change": d_cx, "cx_change_ci": d_cx_ci,
            "churn_change_pp": d_churn, "churn_change_ci": d_churn_ci}
    sentence = (f"{change} -> {d_cx:+.3g} {cx} points [{d_cx_ci[0]:+.3g}, {d_cx_ci[1]:+.3g}] -> "
                f"{d_churn:+.3g} percentage points {outcome} within {window} days [{d_churn_ci[0]:+.3g}, "
                f"{d_churn_ci[1]:+.3g}]")
    if value is not None and math.isfinite(value["value_per_customer"]):
        scale = value["customers_per_year"] * value["value_per_customer"] / 100.0
        kept, kept_ci = -d_churn * scale, sorted(M.percentile_interval(-better * ind_b * scale, alpha))
        item |= {"value_kept": kept, "value_kept_ci": kept_ci, "unit": value["unit"]}
        sentence += f" -> about {kept:,.0f} {value['unit']} kept [{kept_ci[0]:,.0f}, {kept_ci[1]:,.0f}]"
    item["sentence"] = sentence
    return item
