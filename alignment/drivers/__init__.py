"""Step 5 of the method: rank the KPIs that go with better CX, with effect sizes and uncertainty."""

from .importance import ImportanceResult, relative_importance
from .regression import RegressionResult, regress
from .tipping import TippingPoint, tipping_point

__all__ = ["relative_importance", "ImportanceResult", "regress", "RegressionResult", "tipping_point", "TippingPoint"]
