"""The result of a study and its machine-readable form, results.json (schema version 1)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1
CORRELATION_KEYS = ["x", "y", "lag", "method", "scope", "segment", "n", "n_effective", "r", "ci_low", "ci_high",
                    "p_value", "p_adjusted", "status", "reason"]


def warning_code(category: type) -> str:
    """``CollinearityWarning`` -> ``collinearity``."""
    name = re.sub(r"Warning$", "", category.__name__)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or "warning"


def plain(value):
    """JSON-ready: numpy scalars to Python, NaN and infinities to None, recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp,)):
        return value.date().isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class StudyResult:
    """Everything a study found: the panel, correlations, models, importance, validation and drivers.

    ``drivers`` is the ranked table (one row per KPI of the study) that results.json publishes.
    """

    study: object
    panel: object
    correlations: object
    models: dict
    importance: object
    validation: object
    drivers: pd.DataFrame
    lags: dict
    holdout_start: object = None
    warnings: tuple[tuple[str, str], ...] = field(default=())

    def summary(self) -> str:
        s = self.study
        t = self.panel.table
        lines = [f"{s.name}: drivers of {s.outcome} ({s.grain} grain, {self.panel.start} to {self.panel.end}, "
                 f"{t['period'].nunique()} periods x {len(t) // max(t['period'].nunique(), 1)} segments)"]
        for row in self.drivers.itertuples():
            if row.rank is None or (isinstance(row.rank, float) and math.isnan(row.rank)):
                lines.append(f"   -  {row.name:<22} {row.verdict}: {'; '.join(row.reasons)}")
                continue
            lo, hi = row.importance_ci
            ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
            lines.append(f"  {int(row.rank):>2}. {row.name:<22} lag {row.lag}  importance {row.importance:.3f}{ci}  "
                         f"{row.verdict}")
            lines.append(f"      {row.effect_phrase}")
            lines.append(f"      {'; '.join(row.reasons)}")
        if self.warnings:
            lines.append(f"  {len(self.warnings)} warnings (see results.json)")
        return "\n".join(lines)

    def top_lines(self, n: int = 3) -> list[str]:
        """One line per top-ranked driver: rank, name, verdict and its effect in plain words."""
        lines = []
        for row in self.drivers.head(n).itertuples():
            if row.rank is None or (isinstance(row.rank, float) and math.isnan(row.rank)):
                continue
            lines.append(f"{int(row.rank)}. {row.name} ({row.verdict.replace('_', ' ')}): {row.effect_phrase}")
        return lines

    def to_dict(self) -> dict:
        """The results.json document (schema version 1)."""
        s, p = self.study, self.panel
        t = p.table
        corr = self.correlations.table.reindex(columns=CORRELATION_KEYS)
        return plain({
            "schema_version": SCHEMA_VERSION,
            "study": {"name": s.name, "outcome": s.outcome, "kpis": list(s.kpis), "grain": s.grain,
                      "by": list(s.by), "start": p.start, "end": p.end, "timezone": s.timezone,
                      "max_lag": s.max_lag, "holdout_start": self.holdout_start,
                      "seed": s.seed, "n_boot": s.n_boot, "effects": self.validation.effects,
                      "weights": self.validation.weights, "calendar": self.validation.calendar},
            "data": {"n_contacts": p.n_contacts, "n_surveys": p.n_surveys,
                     "n_surveys_matched": p.n_surveys_matched, "n_periods": int(t["period"].nunique()),
                     "n_segments": int(len(t.drop_duplicates(list(p.by)))) if p.by else 1,
                     "n_rows": int(len(t)), "n_low_response_rows": int(t["low_responses"].sum())},
            "drivers": self.drivers.to_dict("records"),
            "correlations": corr.to_dict("records"),
            "models": self.models,
            "warnings": [{"code": c, "message": m} for c, m in self.warnings],
        })

    def to_json(self, path) -> None:
        """Write results.json (UTF-8, sorted as published, no NaN)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                              encoding="utf-8")
