"""Step 4 of the method: lag-aware correlations with inference that respects autocorrelation."""

from .correlate import CorrelationResult, correlate
from .series import SCOPES

__all__ = ["correlate", "CorrelationResult", "SCOPES"]
