"""Step 5 of the method: rank the KPIs that drive the CX metric (relative importance)."""

from .importance import ImportanceResult, relative_importance

__all__ = ["relative_importance", "ImportanceResult"]
