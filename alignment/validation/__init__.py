"""Step 6 of the method: learn whether the statistical correlation also works in real life.

A KPI that correlates with CX in the panel may still be no lever: it may only differ between
segments with different baselines, trend together with CX, owe its significance to
autocorrelation or to trying many lags, or hold in one stretch of time only. :func:`validate`
puts each driver, at its lag chosen on the training periods, through seven checks and gives a
verdict:

==================  ==================================================================
check               passes when
==================  ==================================================================
``within_segment``  the correlation holds with segment (and period) effects removed
``trend``           it survives a linear trend removed, and differences keep the sign
``placebo``         it beats circularly shifted copies of the KPI, each lag-searched
``holdout``         it holds after ``holdout_start`` at the lag and sign frozen on the
                    training periods (one-sided p < alpha)
``intervention``    a declared change moved the KPI and CX moved as predicted
``lag``             diagnostic: the chosen lag survives Holm over the lags tried
``stability``       diagnostic: rolling windows of the training periods
==================  ==================================================================

``validated`` needs an out-of-time confirmation (holdout or intervention) and a verdict p that
survives Benjamini-Hochberg across the KPIs; ``not_validated`` means refuted; everything else is
``inconclusive``, with what more data would decide it. KPIs built from the same contacts form
families (:mod:`alignment.validation.families`) with one verdict and named proxies.

Details and references are in :mod:`alignment.validation.checks`, the verdict rules in
:mod:`alignment.validation.verdict`, the thresholds in :class:`Thresholds`.

Examples
--------
>>> from alignment.validation import Thresholds, Intervention, VerdictRules
>>> Thresholds().stability_share
0.7
"""

from .._lazy import lazy

from .options import Intervention, Thresholds

# The checks pull in scipy and statsmodels (about a second); the study loader needs only the
# options, so the rest loads on first use.
_LAZY = {"CHECKS": "checks", "STATUSES": "checks", "ValidationResult": "result", "validate": "run",
         "VERDICTS": "verdict", "VerdictRules": "verdict", "verdict_p": "verdict"}


__getattr__, __dir__ = lazy(__name__, _LAZY, globals())


__all__ = ["validate", "ValidationResult", "Thresholds", "Intervention", "VerdictRules", "CHECKS", "STATUSES",
           "VERDICTS", "verdict_p"]
