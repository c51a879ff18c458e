"""Contact-level evidence in the verdict: the contact model's estimate, in training and out of time.

Where a contact measure speaks for a KPI (the customer's own wait for ASA, whether the contact
was answered within the threshold for service level, its own resolution for FCR, its transfer
for transfer rate, its handle time for AHT; :data:`alignment.contact.KPI_OF`), the contact-level
model of :mod:`alignment.contact` is the primary evidence. Its segment x period fixed effects
absorb every period-level confounder, so the panel's within, trend and placebo checks become
diagnostics for that KPI; what it needs is:

``contact`` (required)
    The training-period fit (surveys on contacts before the holdout start): passes when the
    measure's clustered test has p < alpha. Its sign is frozen for the holdout. Otherwise
    ``not_enough_data``, with about how many surveys would detect an effect of the size seen.
``holdout`` (confirming)
    The same model fitted on the holdout's surveys alone: passes when its effect has the
    training sign with one-sided p < alpha; fails when it reverses with an interval that excludes
    zero; otherwise ``not_enough_data``.

An intervention on the KPI still confirms or refutes it as on panel evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .checks import Check, fmt_p
from .verdict import VerdictRules

METHOD = "contact-level model: each survey against its own contact, segment x period fixed effects, clustered errors"


@dataclass(frozen=True)
class ContactEvidence:
    """The contact model fitted on the training surveys and on the holdout's (``None``: no holdout)."""

    train: object
    holdout: object | None = None

    def kpis(self) -> list[str]:
        return list(self.train.table["kpi"])

    def rows(self, kpi: str) -> tuple[pd.Series | None, pd.Series | None]:
        test = self.holdout.row(kpi) if self.holdout is not None else None
        return self.train.row(kpi), test


def rules_for_contact(rules: VerdictRules) -> VerdictRules:
    """The verdict rules of a KPI on contact evidence: the contact estimate is required, the
    panel's within, trend and placebo checks are diagnostics (the fixed effects do their work)."""
    fatal = tuple(dict.fromkeys(("contact", *(f for f in rules.fatal if f in ("holdout", "intervention")))))
    return replace(rules, required=("contact",), may_be_not_applicable=(), may_be_not_enough_data=(), fatal=fatal)


def _df(row) -> int:
    return max(int(row["n_clusters"]) - 1, 1)


def _p_one(row, sign: int) -> float:
    se = row["se"]
    if not (np.isfinite(se) and se > 0 and sign):
        return float("nan")
    return float(stats.t.sf(sign * row["effect"] / se, _df(row)))


# a contact measure in the words of the reasons
MEASURE_WORDS = {"wait_s": "a customer's own wait", "handle_s": "a contact's own handle time",
                 "answered_within_t": "answered within the threshold", "resolved": "resolved first time",
                 "transferred": "transferred"}


def _what(row, outcome: str) -> str:
    unit = row["effect_unit"]
    step = f"per {row['step']:g} s" if row["variable"] in ("wait_s", "handle_s") else "yes vs no"
    words = MEASURE_WORDS.get(row["variable"], row["variable"])
    return (f"{words} {step}: {row['effect']:+.3g} {outcome.upper()} {unit} "
            f"[{row['ci_low']:+.3g}, {row['ci_high']:+.3g}]")


def surveys_needed(row, alpha: float, *, one_sided: bool = False, power: float = 0.8) -> int | None:
    """Surveys needed to detect the effect seen 8 times in 10 (the standard error falls as 1/sqrt(n))."""
    t = abs(row["effect"] / row["se"]) if row["se"] > 0 else 0.0
    if not np.isfinite(t) or t == 0:
        return None
    z = stats.norm.ppf(1 - (alpha if one_sided else alpha / 2)) + stats.norm.ppf(power)
    return int(math.ceil(row["n_surveys"] * (z / t) ** 2))


def contact_check(row, alpha: float, outcome: str) -> Check:
    """The ``contact`` check from the training fit's row of the KPI."""
    if row is None:
        return Check("not_applicable", "no contact-level measure speaks for this KPI", "no contact-level measure")
    figures = {"variable": row["variable"], "effect": row["effect"], "ci_low": row["ci_low"],
               "ci_high": row["ci_high"], "p_value": row["p_value"], "n_surveys": int(row["n_surveys"]),
               "n_clusters": int(row["n_clusters"]), "effect_unit": row["effect_unit"], "step": row["step"]}
    where = f"on {int(row['n_surveys']):,} training surveys, {_what(row, outcome)}"
    if np.isfinite(row["p_value"]) and row["p_value"] < alpha:
        return Check("pass", f"customers' own contacts show it {where}, {fmt_p(row['p_value'])}",
                     f"holds contact by contact ({fmt_p(row['p_value'])})", METHOD, figures)
    need = surveys_needed(row, alpha)
    figures["surveys_needed"] = need
    if need is None or need > 10 * row["n_surveys"]:
        plan = "even 10 times the surveys would probably not show an effect of the size seen: it is small if it exists"
    else:
        plan = f"about {need:,} surveys would detect an effect of the size seen 8 times in 10"
    return Check("not_enough_data", f"not shown contact by contact {where}, {fmt_p(row['p_value'])}; {plan}",
                 f"not shown contact by contact ({plan})", METHOD, figures)


def contact_holdout(train, test, alpha: float, outcome: str, start_label: str | None) -> Check:
    """The ``holdout`` check of a KPI on contact evidence: the holdout's own fit at the frozen sign."""
    method = "contact-level model refitted on the holdout's surveys, one-sided at the training sign"
    if start_label is None or test is None:
        return Check("not_enough_data", "no holdout surveys for the contact-level model",
                     "no holdout for the contact-level model", method)
    sign = int(np.sign(train["effect"])) if train is not None and np.isfinite(train["effect"]) else 0
    p_one = _p_one(test, sign)
    reversed_ = bool(sign and np.sign(test["effect"]) == -sign and
                     (test["ci_high"] < 0 if sign > 0 else test["ci_low"] > 0))
    figures = {"holdout_start": start_label, "effect_train": train["effect"], "effect_holdout": test["effect"],
               "ci_low": test["ci_low"], "ci_high": test["ci_high"], "p_value": p_one,
               "p_two_sided": test["p_value"], "n_surveys": int(test["n_surveys"]),
               "reversed": reversed_, "confirms": bool(np.isfinite(p_one) and p_one < alpha)}
    where = (f"from {start_label} on {int(test['n_surveys']):,} holdout surveys: {_what(test, outcome)}, "
             f"training {train['effect']:+.3g}")
    if reversed_:
        return Check("fail", f"the sign reverses {where}", f"reverses out of time ({test['effect']:+.3g})",
                     method, figures)
    if figures["confirms"]:
        return Check("pass", f"holds {where} (one-sided {fmt_p(p_one)})",
                     f"holds out of time contact by contact (one-sided {fmt_p(p_one)})", method, figures)
    need = surveys_needed(train.to_dict() | {"n_surveys": test["n_surveys"], "se": test["se"]}, alpha,
                          one_sided=True)
    figures["surveys_needed"] = need
    plan = (f"a holdout of about {need:,} surveys would confirm an effect of the training size 8 times in 10"
            if need is not None else "no effect to plan for")
    return Check("not_enough_data", f"neither confirmed nor contradicted {where}; {plan}",
                 f"holdout too small to confirm or refute contact by contact ({plan})", method, figures)
