"""The result of a study and its machine-readable form, results.json (schema version 2)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..display import Displayed

SCHEMA_VERSION = 2
# What StudyResult.write puts in a folder; a folder holding anything else is not ours to replace.
OUTPUT_NAMES = frozenset({"results.json", "panel.csv", "report.html", "report.md", "report.pdf", "figures",
                          "drivers.csv", "drivers.xlsx"})
# Files a desktop adds to a folder that was opened.
_DESKTOP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
# results.json as to_json writes it opens with its schema version.
_RESULTS_HEAD = re.compile(rb'\A\s*\{\s*"schema_version"\s*:\s*\d+\s*[,}]')
CORRELATION_KEYS = ["kpi", "outcome", "lag", "method", "scope", "segment", "n", "n_effective", "r", "ci_low", "ci_high",
                    "p_value", "p_adjusted", "status", "reason"]


def warning_code(category: type) -> str:
    """``CollinearityWarning`` -> ``collinearity``."""
    name = re.sub(r"Warning$", "", category.__name__)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or "warning"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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


def not_an_output(folder) -> str | None:
    """Why the existing folder ``folder`` must not be replaced by a study's outputs, or None.

    A folder may be replaced when it is empty or holds a previous output: a results.json that
    opens with its schema version, and nothing that :meth:`StudyResult.write` does not write
    (``figures/`` holding SVG files only).
    """
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.name not in _DESKTOP_FILES)
    if not names:
        return None
    results = folder / "results.json"
    try:
        with open(results, "rb") as f:
            ours = results.is_file() and bool(_RESULTS_HEAD.match(f.read(256)))
    except OSError:
        ours = False
    if not ours:
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        return (f"holds {names[0]!r}{more} but no results.json of a previous alignment run; alignment "
                f"replaces a folder only when it holds its own previous output")
    figures = folder / "figures"
    foreign = [n for n in names if n not in OUTPUT_NAMES]
    if os.path.lexists(figures):
        if figures.is_symlink() or not figures.is_dir():
            foreign.append("figures")
        else:
            foreign += [f"figures/{p.name}" for p in sorted(figures.iterdir())
                        if p.suffix != ".svg" or p.is_symlink() or not p.is_file()]
    if foreign:
        return (f"holds a previous output but also {foreign[0]!r}, which alignment did not write; replacing "
                f"the folder would delete it")
    return None


def _verdict_label(row) -> str:
    """An unranked KPI's verdict in words ("inconclusive, proxy of asa")."""
    return row.verdict.replace("_", " ") + (f", proxy of {row.proxy_of}" if isinstance(row.proxy_of, str) else "")


@dataclass(frozen=True, repr=False)
class StudyResult(Displayed):
    """Everything a study found: the panel, correlations, models, importance, validation and drivers.

    ``drivers`` is the table (one row per KPI of the study) that results.json publishes: the
    validated drivers first, by rank, then every other KPI with its verdict and reasons.
    ``families`` lists the KPI families with their one verdict, carrier and group importance.
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
    families: list = field(default_factory=list)
    contact_model: object = None
    business_impact: object = None

    def _ranked(self):
        return [r for r in self.drivers.itertuples() if not _missing(r.rank)]

    def summary(self) -> str:
        s = self.study
        t = self.panel.table
        lines = [f"{s.name}: drivers of {s.outcome} ({s.grain} grain, {self.panel.start} to {self.panel.end}, "
                 f"{t['period'].nunique()} periods x {len(t) // max(t['period'].nunique(), 1)} segments)"]
        ranked = self._ranked()
        if not ranked:
            lines.append("  no KPI was validated as a driver (see each KPI's reasons below)")
        for row in ranked:
            lo, hi = row.importance_ci
            ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
            imp = f"importance {row.importance:.3f}{ci}" if row.importance is not None else "time-series evidence"
            lines.append(f"  {int(row.rank):>2}. {row.name:<22} lag {row.lag}  tier {int(row.tier)}  {imp}")
            lines.append(f"      {row.effect_phrase}")
            lines.append(f"      {'; '.join(row.reasons)}")
        for row in self.drivers.itertuples():
            if _missing(row.rank):
                lines.append(f"   -  {row.name:<22} {_verdict_label(row)}: {'; '.join(row.reasons)}")
        if self.business_impact is not None:
            lines.append("  business impact: " + self.business_impact.lines()[0])
        if self.warnings:
            lines.append(f"  {len(self.warnings)} warnings (see results.json)")
        return "\n".join(lines)

    def top_lines(self, n: int = 3) -> list[str]:
        """One line per validated driver in rank order (at most ``n``): rank, name and effect in plain
        words; a line saying so when none was validated."""
        lines = [f"{int(row.rank)}. {row.name} (validated, tier {int(row.tier)}): {row.effect_phrase}"
                 for row in self._ranked()[:n]]
        if not lines:
            n_inc = int((self.drivers["verdict"] == "inconclusive").sum())
            lines.append(f"no KPI was validated as a driver ({n_inc} inconclusive, "
                         f"{len(self.drivers) - n_inc} refuted); the report says what more data would decide")
        return lines

    def _html_table(self):
        cols = [c for c in ("name", "verdict", "rank", "tier", "lag", "effect_phrase", "family", "proxy_of", "evidence")
                if c in self.drivers.columns]
        return self.drivers[cols]

    def verdict_lines(self) -> list[str]:
        """One line per KPI: the validated drivers in rank order (:meth:`top_lines`), then every
        other KPI with its verdict and its first reason."""
        lines = self.top_lines(len(self.drivers)) if self._ranked() else []
        for row in self.drivers.itertuples():
            if _missing(row.rank):
                reason = row.reasons[0] if len(row.reasons) else ""
                lines.append(f"-  {row.name} ({_verdict_label(row)}): {reason}")
        return lines

    def to_dict(self) -> dict:
        """The results.json document (schema version 2, documented in the README)."""
        s, p = self.study, self.panel
        t = p.table
        corr = self.correlations.table.reindex(columns=CORRELATION_KEYS)
        return plain({
            "schema_version": SCHEMA_VERSION,
            "study": {"name": s.name, "outcome": s.outcome, "kpis": list(s.kpis), "grain": s.grain,
                      "by": list(s.by), "start": p.start, "end": p.end, "timezone": s.timezone,
                      "max_lag": s.max_lag, "holdout_start": self.holdout_start,
                      "seed": s.seed, "n_boot": s.n_boot, "effects": self.validation.effects,
                      "weights": self.validation.weights, "calendar": self.validation.calendar,
                      "contact_model": self.contact_model is not None,
                      "contact_controls": list(getattr(s, "contact_controls", ())),
                      "contact_coding": getattr(s, "contact_coding", "auto")},
            "data": {"n_contacts": p.n_contacts, "n_surveys": p.n_surveys,
                     "n_surveys_matched": p.n_surveys_matched, "n_periods": int(t["period"].nunique()),
                     "n_segments": int(len(t.drop_duplicates(list(p.by)))) if p.by else 1,
                     "n_rows": int(len(t)), "n_low_response_rows": int(t["low_responses"].sum())},
            "drivers": self.drivers.to_dict("records"),
            "families": list(self.families),
            "correlations": corr.to_dict("records"),
            "models": self.models,
            "contact_model": self.contact_model.to_dict() if self.contact_model is not None else None,
            **({"business_impact": self.business_impact.to_dict()} if self.business_impact is not None else {}),
            "warnings": [{"code": c, "message": m} for c, m in self.warnings],
        })

    def whatif(self, *, agents, segment=None, hours=None, days=None, interval: int = 60, n_draws: int = 2000):
        """A staffing change through the queue (Erlang A per interval) to the KPIs, CX, churn, value and
        cost (:func:`alignment.staffing.whatif.whatif`; see the README, "Staffing what-if").

        Examples
        --------
        >>> w = result.whatif(segment="billing", agents="+2", hours="10-14", days="mon-fri")  # doctest: +SKIP
        >>> w.to_json("whatif.json")  # doctest: +SKIP
        """
        from ..staffing.whatif import whatif
        return whatif(self, agents=agents, segment=segment, hours=hours, days=days, interval=interval,
                      n_draws=n_draws)

    def to_json(self, path) -> None:
        """Write results.json (UTF-8, sorted as published, no NaN)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                              encoding="utf-8")

    def flat_drivers(self) -> pd.DataFrame:
        """results.json's drivers as a flat table, as drivers.csv and drivers.xlsx hold it: scalar
        columns, intervals as ``*_low``/``*_high`` (``ci_low``, ``ci_high`` for the effect), one
        ``check_NAME`` status column per check (:func:`alignment.study.export.flat_drivers`)."""
        from .export import flat_drivers
        return flat_drivers(self.to_dict()["drivers"])

    def write(self, folder, *, formats=("html",)) -> Path:
        """Write results.json, drivers.csv, drivers.xlsx, panel.csv, the report and figures/ into
        ``folder``, whole or not at all.

        The outputs are built in a temporary folder beside ``folder`` that replaces it only once
        complete (:func:`alignment.io.atomic_directory`); an existing ``folder`` is replaced only
        when it is empty or holds a previous output (an :class:`~alignment.exceptions.OutputError`
        otherwise). ``formats`` is as for :func:`alignment.report.write_report`.
        """
        from .. import plot
        from ..exceptions import OutputError, one_line
        from ..io import atomic_directory
        from ..report import write_report
        from .export import write_drivers_csv, write_drivers_xlsx
        folder = Path(folder)
        if folder.is_dir():
            problem = not_an_output(folder)
            if problem:
                raise OutputError(f"{one_line(folder)}: {problem}; choose a new folder")
        with atomic_directory(folder) as tmp:
            self.to_json(tmp / "results.json")
            drivers = self.flat_drivers()
            write_drivers_csv(drivers, tmp / "drivers.csv")
            write_drivers_xlsx(drivers, tmp / "drivers.xlsx")
            self.panel.to_csv(tmp / "panel.csv")
            write_report(self, tmp, formats=formats)
            figures = tmp / "figures"
            figures.mkdir(exist_ok=True)
            if not (figures / "importance.svg").exists():
                with plot.offscreen():
                    plot.save(plot.importance(self), figures / "importance.svg")
        return folder
