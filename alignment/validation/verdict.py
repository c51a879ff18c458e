"""The verdict on each driver, from the statuses of its checks.

Default rules (:class:`VerdictRules`; every list can be changed):

``not_validated``
    a *fatal* check fails: ``within_segment``, ``trend``, ``placebo`` or ``intervention``; or the
    holdout fails with a reversed sign (``fatal_reversed_holdout``).
``validated``
    every *required* check passes: ``within_segment`` (or is not applicable: no segments),
    ``trend``, ``placebo`` and ``lag`` (or is not applicable: no lag search); and at least one
    *confirming* check (``holdout``, ``stability``) passes and none of them fails.
``inconclusive``
    anything else: too little data for a required check, a lag that may be a search artifact,
    a holdout that neither confirms nor reverses, unstable windows.

The reasons are the checks' headlines in plain words: for ``validated`` what held, then as
caveats the confirming checks that could not decide (a holdout too short, or weaker but not
reversed); for
``not_validated`` what failed (fatal failures first); for ``inconclusive`` what is missing,
then what held. A verdict depends only on the KPI's own checks, never on its importance rank.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping

from ..exceptions import OptionError
from .checks import CHECKS, Check

VERDICTS = ("validated", "not_validated", "inconclusive")


@dataclass(frozen=True)
class VerdictRules:
    """Which checks decide a verdict (see the module docstring).

    Attributes
    ----------
    required : tuple of str
        Checks that must pass for ``validated``.
    may_be_not_applicable : tuple of str
        Required checks that may instead be ``not_applicable``.
    confirming : tuple of str
        At least one must pass and none may fail for ``validated``.
    fatal : tuple of str
        A failure of any of these gives ``not_validated``.
    fatal_reversed_holdout : bool
        A holdout that fails because the sign reversed gives ``not_validated``.

    Examples
    --------
    >>> strict = VerdictRules(confirming=("holdout",))   # the holdout itself must confirm
    >>> strict.confirming
    ('holdout',)
    """

    required: tuple[str, ...] = ("within_segment", "trend", "placebo", "lag")
    may_be_not_applicable: tuple[str, ...] = ("within_segment", "lag")
    confirming: tuple[str, ...] = ("holdout", "stability")
    fatal: tuple[str, ...] = ("within_segment", "trend", "placebo", "intervention")
    fatal_reversed_holdout: bool = True

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "fatal_reversed_holdout":
                if not isinstance(value, bool):
                    raise OptionError(f"The 'fatal_reversed_holdout' parameter of VerdictRules must be True or "
                                      f"False. Got {value!r} instead.")
                continue
            value = (value,) if isinstance(value, str) else tuple(value)
            unknown = [v for v in value if v not in CHECKS]
            if unknown:
                raise OptionError(f"The '{f.name}' parameter of VerdictRules must list checks among "
                                  f"{', '.join(CHECKS)}. Got {unknown[0]!r} instead.")
            object.__setattr__(self, f.name, value)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def decide(checks: Mapping[str, Check], rules: VerdictRules) -> tuple[str, list[str]]:
    """The verdict and its reasons for one driver's checks."""
    status = {name: c.status for name, c in checks.items()}

    def heads(names, wanted):
        return [checks[n].headline for n in names if n in checks and status[n] in wanted]

    fatal = [n for n in rules.fatal if status.get(n) == "fail"]
    if rules.fatal_reversed_holdout and status.get("holdout") == "fail" and \
            checks["holdout"].figures.get("reversed"):
        fatal.append("holdout")
    if fatal:
        others = [n for n in CHECKS if status.get(n) == "fail" and n not in fatal]
        return "not_validated", heads(fatal, {"fail"}) + heads(others, {"fail"})
    missing = [n for n in rules.required
               if status.get(n) != "pass" and not (status.get(n) == "not_applicable"
                                                   and n in rules.may_be_not_applicable)]
    confirmed = any(status.get(n) == "pass" for n in rules.confirming)
    contradicted = [n for n in rules.confirming if status.get(n) == "fail"]
    order = [n for n in CHECKS if n in checks]
    if not missing and confirmed and not contradicted:
        caveats = [f"caveat: {h}" for h in heads(rules.confirming, {"not_enough_data"})]
        return "validated", heads(order, {"pass"}) + caveats
    blocking = [n for n in order if n in missing or n in contradicted or
                (n in rules.confirming and not confirmed and status.get(n) != "pass")]
    blocking += [n for n in order if status.get(n) == "fail" and n not in blocking]
    return "inconclusive", heads(blocking, {"fail", "not_enough_data", "not_applicable"}) + heads(order, {"pass"})
