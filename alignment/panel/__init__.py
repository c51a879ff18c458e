"""Step 3 of the method: the KPI panel, one row per period x segment, built by DuckDB."""

from .build import build_panel
from .result import NonAdditiveMetricWarning, Panel

__all__ = ["build_panel", "Panel", "NonAdditiveMetricWarning"]
