"""Step 6 of the method: learn whether the statistical correlation also works in real life.

A KPI that correlates with CX in the panel may still be no lever: it may only differ between
segments with different baselines, trend together with CX, owe its significance to
autocorrelation or to trying many lags, or hold in one stretch of time only. :func:`validate`
puts each driver, at its chosen lag, through seven checks and gives a verdict:

==================  ==================================================================
check               passes when
==================  ==================================================================
``within_segment``  the correlation holds with segment means removed (p < alpha)
``trend``           it survives a linear trend removed and first differences
``placebo``         it beats circularly shifted copies of the KPI (p < alpha)
``lag``             the chosen lag survives a Holm correction over the lags tried
``holdout``         it holds after ``holdout_start`` (same sign, interval excluding 0,
                    or a significantly better prediction than segment means alone)
``stability``       >= ``stability_share`` of rolling windows agree in sign and size
``intervention``    a declared change moved the KPI and CX followed (diff-in-diff)
==================  ==================================================================

Details and references are in :mod:`alignment.validation.checks`, the verdict rules in
:mod:`alignment.validation.verdict`, the thresholds in :class:`Thresholds`.

Examples
--------
>>> from alignment.validation import Thresholds, Intervention, VerdictRules
>>> Thresholds().stability_share
0.7
"""


from .checks import CHECKS, STATUSES
from .options import Intervention, Thresholds
from .result import ValidationResult
from .run import validate
from .verdict import VERDICTS, VerdictRules

__all__ = ["validate", "ValidationResult", "Thresholds", "Intervention", "VerdictRules", "CHECKS", "STATUSES",
           "VERDICTS"]
