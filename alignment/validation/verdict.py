"""The verdict on each driver, from the statuses of its checks, and the study-wide error control.

A verdict says what is known, not only whether every box was ticked (:class:`VerdictRules`;
every list can be changed):

``not_validated``: refuted, with positive evidence against
    a *fatal* check fails: the association is significant raw but vanishes once segment or period
    effects are removed (``within_segment``) or once trends are removed (``trend``); the holdout
    reverses or is significantly weaker (``holdout``); an intervention moved the KPI and CX moved
    the other way or significantly less than predicted (``intervention``).
``validated``
    every *required* check passes (``within_segment`` may be not applicable: one series; the
    ``placebo`` may lack the periods to reach ``alpha``), at least one
    *confirming* out-of-time check passes (``holdout`` or ``intervention``), and the verdict p,
    adjusted across the study's KPIs (Benjamini-Hochberg by default), is below ``alpha``.
``inconclusive``
    anything else, which is mostly too little data: the reasons say what is missing and, where a
    test ran, about how many periods would decide it.

The ``lag`` check (Holm over the lags tried) and ``stability`` are diagnostics by default, not
requirements: the lag is chosen on the training periods and frozen, so the search cannot inflate
the out-of-time test that every validated driver needs (a false validation needs a false holdout
or intervention confirmation at the frozen lag, whose chance is at most alpha whatever the
search did). Add ``"lag"`` to ``required`` to demand it as well.

The verdict p of a KPI is the largest p of its required parametric checks (within, detrended,
and Holm over the lags when the lag is required) and of the out-of-time confirmation (the holdout's one-sided p, or the
intervention's; Bonferroni when both are declared). Validation is an intersection-union rule,
so its p is the largest of the parts (Berger 1982, Technometrics 24: 295). The placebo is
required but stays out of the verdict p: its p moves in steps of 1/(K + 1) (K shifted copies),
too coarse for a multiplicity correction across KPIs. A verdict depends only on the KPI's own
checks and on the other KPIs' verdict p (for the adjustment), never on an importance rank.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping

import numpy as np
from statsmodels.stats.multitest import multipletests

from ..exceptions import OptionError
from .checks import CHECKS, Check

VERDICTS = ("validated", "not_validated", "inconclusive")
ADJUSTMENTS = ("fdr_bh", "holm", "none")
# the check figure whose p enters the verdict p
_P_OF = {"contact": "p_value", "within_segment": "p_value", "trend": "p_value_detrended", "lag": "p_adjusted",
         "holdout": "p_value", "intervention": "p_value"}


@dataclass(frozen=True)
class VerdictRules:
    """Which checks decide a verdict (see the module docstring).

    Attributes
    ----------
    required : tuple of str
        Checks that must pass for ``validated``.
    may_be_not_applicable : tuple of str
        Required checks that may instead be ``not_applicable``.
    may_be_not_enough_data : tuple of str
        Required checks that may instead lack data (a caveat, not a block).
    confirming : tuple of str
        Out-of-time checks; at least one must pass for ``validated``.
    fatal : tuple of str
        A failure of any of these refutes the driver (``not_validated``).
    adjust : {"fdr_bh", "holm", "none"}
        How the verdict p-values are adjusted across the KPIs (or KPI families) of one validation.

    Examples
    --------
    >>> strict = VerdictRules(confirming=("holdout",))   # only the holdout confirms
    >>> strict.confirming
    ('holdout',)
    """

    required: tuple[str, ...] = ("within_segment", "trend", "placebo")
    may_be_not_applicable: tuple[str, ...] = ("within_segment", "lag")
    may_be_not_enough_data: tuple[str, ...] = ("placebo",)
    confirming: tuple[str, ...] = ("holdout", "intervention")
    fatal: tuple[str, ...] = ("within_segment", "trend", "holdout", "intervention")
    adjust: str = "fdr_bh"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "adjust":
                if value not in ADJUSTMENTS:
                    raise OptionError(f"The 'adjust' parameter of VerdictRules must be one of "
                                      f"{', '.join(ADJUSTMENTS)}. Got {value!r} instead.")
                continue
            value = (value,) if isinstance(value, str) else tuple(value)
            unknown = [v for v in value if v not in CHECKS]
            if unknown:
                raise OptionError(f"The '{f.name}' parameter of VerdictRules must list checks among "
                                  f"{', '.join(CHECKS)}. Got {unknown[0]!r} instead.")
            object.__setattr__(self, f.name, value)
        if not self.confirming:
            raise OptionError("The 'confirming' parameter of VerdictRules must name at least one out-of-time "
                              "check (holdout or intervention): a validated driver needs confirmation.")

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def verdict_p(checks: Mapping[str, Check], rules: VerdictRules) -> float:
    """The largest p of the required parametric checks and the out-of-time confirmation (1 if missing)."""
    parts = []
    for name in rules.required:
        c = checks.get(name)
        if name not in _P_OF or c is None or c.status == "not_applicable":
            continue
        parts.append(_p(c, name))
    confirming = [(n, checks[n]) for n in rules.confirming if n in checks and checks[n].status != "not_applicable"]
    if confirming:
        parts.append(min(1.0, len(confirming) * min(_p(c, n) for n, c in confirming)))
    else:
        parts.append(1.0)
    return float(max(parts)) if parts else 1.0


def _p(check: Check, name: str) -> float:
    value = check.figures.get(_P_OF.get(name, "p_value"))
    return float(value) if value is not None and np.isfinite(value) else 1.0


def decide(checks: Mapping[str, Check], rules: VerdictRules) -> tuple[str, list[str]]:
    """The verdict and its reasons for one driver's checks, before the study-wide adjustment."""
    status = {name: c.status for name, c in checks.items()}

    def heads(names, wanted):
        return [checks[n].headline for n in names if n in checks and status[n] in wanted]

    order = [n for n in CHECKS if n in checks]
    fatal = [n for n in rules.fatal if status.get(n) == "fail"]
    if fatal:
        others = [n for n in rules.required if status.get(n) == "fail" and n not in fatal]
        return "not_validated", heads(fatal, {"fail"}) + heads(others, {"fail"})
    missing = [n for n in rules.required
               if status.get(n) != "pass"
               and not (status.get(n) == "not_applicable" and n in rules.may_be_not_applicable)
               and not (status.get(n) == "not_enough_data" and n in rules.may_be_not_enough_data)]
    confirmed = [n for n in rules.confirming if status.get(n) == "pass"]
    decisive = [n for n in order if n in rules.required or n in rules.confirming]
    if not missing and confirmed:
        caveats = [f"caveat: {h}" for h in heads([n for n in rules.required if n in rules.may_be_not_enough_data],
                                                 {"not_enough_data"})]
        return "validated", heads(decisive, {"pass"}) + caveats
    unconfirmed = [] if confirmed else [n for n in rules.confirming if n in checks and status[n] != "not_applicable"]
    if not confirmed and not unconfirmed:
        note = ["no out-of-time evidence: no holdout and no intervention"]
    else:
        note = []
    blocking = [n for n in order if n in missing or n in unconfirmed]
    return "inconclusive", (heads(blocking, {"fail", "not_enough_data", "not_applicable"}) + note
                            + heads(decisive, {"pass"}))


def adjust(p_values: Mapping[str, float], method: str) -> dict[str, float]:
    """The verdict p-values adjusted across units (``"fdr_bh"``, ``"holm"`` or ``"none"``)."""
    names = list(p_values)
    if not names:
        return {}
    p = np.array([p_values[n] for n in names], dtype=float)
    if method == "none":
        return dict(zip(names, p.tolist()))
    return dict(zip(names, multipletests(p, method=method)[1].tolist()))
