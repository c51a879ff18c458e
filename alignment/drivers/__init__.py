"""Step 5 of the method: rank the KPIs that go with better CX, with effect sizes and uncertainty."""

from .._lazy import lazy

from .importance import ImportanceResult, relative_importance

# The regressions pull in statsmodels and scipy (about a second); they load on first use so that
# a study can be checked against the ranking's limits (importance.MAX_PREDICTORS) cheaply.
_LAZY = {"RegressionResult": "regression", "regress": "regression", "TippingPoint": "tipping",
         "tipping_point": "tipping", "segment_effects": "segments", "SegmentEffects": "segments"}


__getattr__, __dir__ = lazy(__name__, _LAZY, globals())


__all__ = ["relative_importance", "ImportanceResult", "regress", "RegressionResult", "tipping_point", "TippingPoint",
           "segment_effects", "SegmentEffects"]
