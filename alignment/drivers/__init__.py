"""Step 5 of the method: rank the KPIs that go with better CX, with effect sizes and uncertainty."""

from importlib import import_module

from .importance import ImportanceResult, relative_importance

# The regressions pull in statsmodels and scipy (about a second); they load on first use so that
# a study can be checked against the ranking's limits (importance.MAX_PREDICTORS) cheaply.
_LAZY = {"RegressionResult": "regression", "regress": "regression", "TippingPoint": "tipping",
         "tipping_point": "tipping"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["relative_importance", "ImportanceResult", "regress", "RegressionResult", "tipping_point", "TippingPoint"]
