"""KPI families: KPIs built from the same contacts get one verdict, and the proxies are named.

ASA, service level and abandon rate are computed from the same waits; when waiting drives CSAT
all three correlate with it, and three "validated levers" would invite a manager to add up
three effects that are one. A family is judged together:

1. The *carrier* is the member with the largest \\|t\\| in a joint model of the members at their
   lags, fitted on the training periods only (the same effects, weights and Driscoll-Kraay
   errors as the checks; members whose joint sign disagrees with their own training sign are
   passed over when another member agrees). The choice is frozen before the holdout is used.
2. On all periods, the joint model gives each member's effect given the others. A member whose
   joint effect is indistinguishable from zero (p >= alpha) or has the opposite sign to its own
   association is a *proxy* of the carrier: ``proxy_of = carrier``, no verdict of its own
   (``inconclusive`` unless its own checks refuted it), no rank.
3. The family's verdict is the carrier's, and its verdict p is the larger of the carrier's and
   of the joint test that the family matters at all (Bonferroni over the members' fixed-b t
   tests in the joint model). A member with an effect of its own given the carrier keeps its own
   verdict as a separate unit.

Centre-wide members (time-series evidence under period effects) are left out of the joint model.

On contact evidence (:mod:`alignment.validation.contact`) the contact-level model decides
instead: the carrier is the member whose contact measure has the largest \\|t\\| in the training
fit; a member keeps a verdict of its own only when its own contact measure has an effect given
the carrier's in the same joint fit (resolution and transfers are fitted together; the wait and
answered-within-threshold measures are two readings of one waiting and are not), and every other
member, panel-evidence members included, is a proxy of the carrier.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import AlignmentWarning, InputError, OptionError

__all__ = ["family_verdict"]


def _joint(data, outcome, members, lags, *, by, grain, time, effects, wcol):
    from ..drivers import regress
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        fit = regress(data, outcome, members, by=by or None, lags={m: lags[m] for m in members},
                      effects=effects, errors="driscoll-kraay", weights=wcol or "none", calendar=False,
                      grain=grain, time=time, drop_low_responses=False)
    return fit.table.set_index("kpi")


def family_verdict(name: str, members, rows: dict, drivers: dict, *, data, train_data, outcome: str, by,
                   grain: str, time: str, effects: str, wcol, alpha: float, contact=None) -> dict:
    """Judge one family: choose its carrier on training data, label the proxies, and give its verdict.

    ``rows`` (KPI -> verdict row) and the proxies' rows are updated in place; the return value is
    the family's entry of ``ValidationResult.families``: ``name, members, carried_by, verdict,
    verdict_p, verdict_p_adjusted, p_joint, joint`` (member -> coef, se, p_value on all periods)
    and ``note`` when the joint model could not be fitted.

    Examples
    --------
    >>> from alignment import build_panel
    >>> from alignment.validation import validate
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = validate(panel, "csat", ["asa", "service_level"], max_lag=0,
    ...                families={"waiting": ["asa", "service_level"]})
    >>> res.families[0]["members"]
    ['asa', 'service_level']
    """
    members = [m for m in members if m in rows]
    joint_members = [m for m in members if drivers[m].evidence == "panel" or effects != "twoway"]
    out = {"name": name, "members": list(members), "carried_by": None, "verdict": "inconclusive",
           "verdict_p": 1.0, "verdict_p_adjusted": None, "p_joint": None, "joint": {}, "note": None}
    for m in members:
        rows[m]["family"] = name
    on_contact = [m for m in members if drivers[m].evidence == "contact"]
    if on_contact:
        return _contact_family(out, members, on_contact, rows, drivers, contact, alpha)
    if len(joint_members) < 2:
        out["note"] = "fewer than two members vary between segments: no joint model"
        return out
    lags = {m: rows[m]["lag"] for m in joint_members}
    try:
        train = _joint(train_data if train_data is not None else data, outcome, joint_members, lags, by=by,
                       grain=grain, time=time, effects=effects, wcol=wcol)
        full = _joint(data, outcome, joint_members, lags, by=by, grain=grain, time=time, effects=effects,
                      wcol=wcol)
    except (InputError, OptionError, np.linalg.LinAlgError) as error:
        out["note"] = f"the joint model could not be fitted ({error})"
        return out
    t_train = {m: train.loc[m, "coef"] / train.loc[m, "se"] if m in train.index and train.loc[m, "se"] > 0
               else 0.0 for m in joint_members}
    agrees = [m for m in joint_members if np.sign(t_train[m]) == drivers[m].assoc != 0]
    carrier = max(agrees or joint_members, key=lambda m: abs(t_train[m]))
    joint = {m: {"coef": float(full.loc[m, "coef"]), "se": float(full.loc[m, "se"]),
                 "p_value": float(full.loc[m, "p_value"]), "t_train": float(t_train[m])}
             for m in joint_members if m in full.index}
    p_joint = min(1.0, len(joint) * min(v["p_value"] for v in joint.values())) if joint else 1.0
    out.update(carried_by=carrier, p_joint=p_joint, joint=joint)
    for m in joint_members:
        if m == carrier or m not in joint:
            continue
        j = joint[m]
        flips = np.sign(j["coef"]) != drivers[m].assoc
        if j["p_value"] >= alpha or flips:
            why = ("has the opposite sign" if flips else "is indistinguishable from zero")
            plain = drivers[carrier].name
            _proxy(rows[m], carrier, f"moves with {plain}, which carries the {name} family's effect: given {plain} "
                                 f"its own effect {why} (p = {j['p_value']:.2g}), so it is not a separate lever")
    return _carried_by(out, rows[carrier], p_joint)


def _proxy(row: dict, carrier: str, text: str) -> None:
    """Label a member the proxy of the carrier: no verdict of its own unless its checks refuted it."""
    row["proxy_of"] = carrier
    if row["verdict"] != "not_validated":
        row["verdict"] = "inconclusive"
        row["reasons"] = [text] + list(row["reasons"])
    else:
        row["reasons"] = list(row["reasons"]) + [text]


def _carried_by(out: dict, carrier_row: dict, p_joint: float) -> dict:
    """The family's verdict is its carrier's; its verdict p also covers the joint test."""
    out["verdict"] = carrier_row["verdict"]
    out["verdict_p"] = float(max(carrier_row["verdict_p"], p_joint))
    return out


def _contact_family(out: dict, members, on_contact, rows: dict, drivers: dict, contact, alpha: float) -> dict:
    """The family judged by the contact-level model (see the module docstring)."""
    fit = contact.train.table.set_index("kpi")
    t = {m: abs(fit.loc[m, "effect"] / fit.loc[m, "se"]) if fit.loc[m, "se"] > 0 else 0.0 for m in on_contact}
    carrier = max(on_contact, key=lambda m: t[m])
    # the measures fitted with the carrier's: the wait and answered-within-threshold fits share the rest
    together = {"handle_s", "transferred", "resolved"} | (
        set() if fit.loc[carrier, "variable"] in ("wait_s", "answered_within_t") else {"wait_s"})
    joint = {m: {"coef": float(fit.loc[m, "effect"]), "se": float(fit.loc[m, "se"]),
                 "p_value": float(fit.loc[m, "p_value"]), "t_train": float(t[m])} for m in on_contact}
    p_joint = min(1.0, len(joint) * min(v["p_value"] for v in joint.values()))
    out.update(carried_by=carrier, p_joint=p_joint, joint=joint, note="judged by the contact-level model")
    for m in members:
        if m == carrier:
            continue
        own = (m in on_contact and fit.loc[m, "variable"] in together and joint[m]["p_value"] < alpha)
        if own:
            continue
        _proxy(rows[m], carrier, f"moves with {drivers[carrier].name}, which carries the {out['name']} family's effect at the "
                                 f"contact level: it is not a separate lever")
    return _carried_by(out, rows[carrier], p_joint)
