"""The result of step 6: one verdict per driver and the checks behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .options import Thresholds
from .verdict import VerdictRules

TABLE = ["kpi", "lag", "check", "status", "method", "n", "r", "ci_low", "ci_high", "p_value", "p_adjusted",
         "share", "reason"]
VERDICT_TABLE = ["kpi", "lag", "sign", "verdict", "reasons", "evidence", "family", "proxy_of", "verdict_p",
                 "verdict_p_adjusted", "n_pass", "n_fail", "n_not_enough_data"]


def plain(value):
    """A JSON-able copy: numpy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ValidationResult:
    """Whether each driver's correlation also holds in real life.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per driver x check: ``kpi, lag, check, status, method, n, r, ci_low, ci_high,
        p_value, p_adjusted, share, reason``. The figure columns hold each check's key figures
        (missing where a check has none): the within-segment r for ``within_segment`` (``share``:
        segments with the same sign), the weaker of the detrended and differenced correlations for
        ``trend``, the observed r and placebo p for ``placebo``, the unadjusted and Holm p for
        ``lag``, the holdout r for ``holdout``, the median window r and the agreeing share for
        ``stability``, and the outcome's difference-in-differences effect for ``intervention``.
    verdicts : pandas.DataFrame
        One row per driver: ``kpi, lag, sign, verdict, reasons, evidence, family, proxy_of,
        verdict_p, verdict_p_adjusted, n_pass, n_fail, n_not_enough_data``. ``lag`` is the one
        chosen on the training periods (or given); ``family`` the KPI family (or None);
        ``proxy_of`` the family member that carries the effect when this one is its proxy;
        ``verdict_p`` the largest p of the required checks and the out-of-time confirmation, and
        ``verdict_p_adjusted`` its Benjamini-Hochberg adjustment across the units (families and
        lone KPIs; None for a proxy). ``sign`` is +1 when a higher KPI goes with better CX, -1 when with
        worse, 0 when unknown; ``reasons`` is a list of plain-words phrases; ``evidence`` is
        ``"panel"`` (variation between segments within periods, with the chosen effects) or
        ``"time_series"`` (a centre-wide KPI or a single series: time variation only, with
        calendar controls: weaker evidence, since nothing else stands in for period shocks).
    checks : dict
        KPI -> check -> ``{"status", "reason", "method", **figures}``, JSON-able (no NaN).
    families : tuple of dict
        One per KPI family: ``name, members, carried_by, verdict, verdict_p, verdict_p_adjusted,
        p_joint, joint, note`` (see :mod:`alignment.validation.families`).
    """

    table: pd.DataFrame
    verdicts: pd.DataFrame
    checks: dict
    outcome: str
    kpis: tuple[str, ...]
    lags: dict
    max_lag: int
    holdout_start: str | None
    outcome_higher_is_better: bool
    thresholds: Thresholds
    rules: VerdictRules
    placebo: str
    seed: int | None = None
    effects: str = "segment"
    weights: str = "none"
    calendar: dict | None = None
    n_low_responses: int = 0
    setup: dict | None = None
    families: tuple = ()

    def verdict(self, kpi: str) -> str:
        """The verdict on one driver."""
        return str(self.verdicts.set_index("kpi").loc[kpi, "verdict"])

    def summary(self) -> str:
        """The verdict and reasons of each driver, then each check's status and reason."""
        lines = [f"Validation of {len(self.kpis)} drivers of {self.outcome} "
                 f"(alpha {self.thresholds.alpha:g}, holdout from {self.holdout_start or '-'}, "
                 f"{self.placebo} placebo)"]
        for row in self.verdicts.itertuples():
            better = {1: "higher is better", -1: "lower is better", 0: "direction unknown"}[row.sign]
            adjusted = "" if row.verdict_p_adjusted is None or pd.isna(row.verdict_p_adjusted) else \
                f", adjusted {row.verdict_p_adjusted:.2g}"
            proxy = f", proxy of {row.proxy_of}" if row.proxy_of else ""
            lines.append(f"  {row.kpi} (lag {row.lag}, {better}): {row.verdict.upper()} "
                         f"(verdict p {row.verdict_p:.2g}{adjusted}{proxy})")
            lines.append(f"      {'; '.join(row.reasons)}")
            for check, info in self.checks[row.kpi].items():
                lines.append(f"      {check:<15} {info['status']:<16} {info['reason']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        frame = self.verdicts.assign(reasons=self.verdicts["reasons"].map("; ".join))
        return frame.to_html(index=False)

    def to_dict(self) -> dict:
        return plain({
            "outcome": self.outcome, "kpis": list(self.kpis), "lags": dict(self.lags), "max_lag": self.max_lag,
            "holdout_start": self.holdout_start, "outcome_higher_is_better": self.outcome_higher_is_better,
            "thresholds": self.thresholds.to_dict(), "rules": self.rules.to_dict(), "placebo": self.placebo,
            "seed": self.seed, "effects": self.effects, "weights": self.weights, "calendar": self.calendar,
            "n_low_responses": self.n_low_responses, "setup": self.setup, "families": list(self.families),
            "verdicts": [dict(zip(VERDICT_TABLE, [plain(v) for v in row]))
                         for row in self.verdicts[VERDICT_TABLE].itertuples(index=False)],
            "checks": self.checks,
        })
