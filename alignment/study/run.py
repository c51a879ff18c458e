"""Running a study: steps 1-6 in order, from the study's data to a :class:`StudyResult`."""

from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from .. import catalog
from ..correlation import correlate
from ..drivers import regress, relative_importance
from ..exceptions import AlignmentWarning, InputError
from ..panel import build_panel
from ..panel.frame import PanelFrame, block_length, centre_wide
from .config import Study, StudyError
from .result import StudyResult, warning_code


class _Progress:
    def __init__(self, report: Callable[[str], None] | None):
        self.report = report

    def __call__(self, message: str) -> None:
        if self.report:
            self.report(message)


def build_study_panel(study: Study):
    """Steps 1-3: the panel with the outcome, the catalog KPIs and every extra source."""
    metrics = [study.outcome] + [k for k in study.kpis if catalog.entry(k) is not None]
    try:
        panel = build_panel(study.contacts, surveys=study.surveys, extras=study.extras, grain=study.grain,
                            by=study.by, timezone=study.timezone, start=study.start, end=study.end,
                            metrics=metrics, options=study.kpi_options, survey_metrics=study.survey_metrics,
                            min_responses=study.min_responses, engine=study.engine)
    except StudyError:
        raise
    missing = [k for k in study.kpis if k not in panel.table.columns]
    if missing:
        raise StudyError(f"{missing[0]!r} is neither a catalog KPI nor a column of an extra source "
                         f"(catalog: {', '.join(catalog.names('operational'))})", source=study.source,
                         key="study.kpis")
    return panel


def run_study(study: Study, *, progress=None) -> StudyResult:
    """Run steps 1-6 of ``study``."""
    from ..validation import validate
    say = _Progress(progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AlignmentWarning)
        say("reading and checking the data")
        panel = build_study_panel(study)
        table = panel.table
        n_periods = table["period"].nunique()
        outcome_metric = panel.definitions[study.outcome]
        if table[study.outcome].notna().sum() == 0:
            raise InputError(f"no survey response has a {study.outcome} score in the window, so the outcome "
                             f"is missing in every period", source=str(study.surveys.data),
                             column=study.outcome)
        _check_interventions(study, table)
        usable_rows = int((table[study.outcome].notna() & ~table["low_responses"].fillna(False).astype(bool)).sum())
        if usable_rows < 8:
            raise StudyError(f"only {usable_rows} of {len(table)} period x segment rows have at least "
                             f"{study.min_responses} survey responses; the others leave the inference. Lower "
                             f"min_responses or use a coarser grain", source=study.source, key="study.min_responses")
        if n_periods < study.max_lag + 8:
            raise StudyError(f"{n_periods} periods are too few for max_lag = {study.max_lag} "
                             f"(need at least {study.max_lag + 8}); widen the window or use a finer grain",
                             source=study.source, key="study.max_lag")
        kpis = list(study.kpis)
        usable = _usable(table, kpis)
        frame = PanelFrame.from_panel(panel)
        fixed = frame.effects(study.effects)
        # a centre-wide KPI is absorbed by period effects: its lag, effect and rank come from
        # its time variation (segment effects with the calendar controls)
        own = {k: ("segment" if fixed == "twoway" and centre_wide(table[k].to_numpy(dtype=float), frame.seg, frame.t)
                   else fixed) for k in usable}
        say("choosing lags and correlating")
        correlations = correlate(panel, study.outcome, usable, lags=study.max_lag, seed=study.seed,
                                 weights=study.weights)
        lags = choose_lags(correlations, usable, study.max_lag, own)
        say("estimating effects")
        effects = {k: regress(panel, study.outcome, [k], lags={k: lags[k]}, effects=own[k], weights=study.weights,
                              calendar=study.calendar).table.iloc[0] for k in usable}
        joint = _joint_model(panel, study, [k for k in usable if own[k] == fixed], lags, fixed)
        say(f"ranking drivers ({study.n_boot} bootstrap resamples)")
        ranked = [k for k in usable if own[k] == fixed]
        importance = _importance(panel, study, ranked or usable, lags, fixed if ranked else own[usable[0]])
        holdout_start = study.holdout_start or default_holdout(table["period"])
        say("validating each driver")
        validation = validate(panel, study.outcome, usable, lags=lags, by=study.by, max_lag=study.max_lag,
                              holdout_start=holdout_start, thresholds=study.validation,
                              interventions=study.interventions,
                              outcome_higher_is_better=outcome_metric.higher_is_better, seed=study.seed,
                              effects=study.effects, weights=study.weights, calendar=study.calendar)
    notes = [(code, message) for code, message in panel.notes]
    seen = set()
    for w in caught:
        if issubclass(w.category, AlignmentWarning):
            item = (warning_code(w.category), str(w.message))
            if item not in seen:
                seen.add(item)
                notes.append(item)
    drivers = _drivers(study, kpis, usable, lags, effects, importance, validation, outcome_metric)
    return StudyResult(study=study, panel=panel, correlations=correlations, models={"joint": joint},
                       importance=importance, validation=validation, drivers=drivers,
                       lags=lags, holdout_start=holdout_start, warnings=tuple(notes))


def _check_interventions(study: Study, table: pd.DataFrame) -> None:
    """Every segment an intervention names must exist in the panel."""
    if not study.interventions:
        return
    if not study.by:
        raise StudyError("an intervention compares changed and unchanged segments: the study needs by = [...]",
                         source=study.source, key="interventions")
    labels = {" / ".join(str(v) for v in row) for row in table[list(study.by)].drop_duplicates().itertuples(index=False)}
    for i, iv in enumerate(study.interventions):
        unknown = [s for s in iv.segments if s not in labels]
        if unknown:
            raise StudyError(f"names segment {unknown[0]!r}, which is not in the panel (segments: "
                             f"{', '.join(sorted(labels))})", source=study.source, key=f"interventions[{i}].segments")


def default_holdout(periods: pd.Series):
    """The start of the last quarter of the periods."""
    distinct = np.sort(pd.to_datetime(periods).unique())
    return pd.Timestamp(distinct[int(len(distinct) * 0.75)]).date()


def _usable(table: pd.DataFrame, kpis: list[str]) -> list[str]:
    """KPIs that vary and are not exact copies of an earlier KPI (those get a named warning)."""
    from ..exceptions import CollinearityWarning, ConstantPredictorWarning
    out = []
    for k in kpis:
        x = table[k].astype(float)
        if x.dropna().nunique() <= 1:
            warnings.warn(f"{k} is constant over the whole panel: it cannot drive anything and is not ranked",
                          ConstantPredictorWarning, stacklevel=3)
            continue
        twin = next((o for o in out if np.allclose(table[o].astype(float), x, equal_nan=True)), None)
        if twin:
            warnings.warn(f"{k} is identical to {twin}: it is analysed with it and not ranked on its own",
                          CollinearityWarning, stacklevel=3)
            continue
        out.append(k)
    if not out:
        raise InputError("no KPI of the study varies over the panel; nothing can be ranked")
    return out


TRUSTED_SCOPE = {"twoway": "within_twoway", "segment": "within", "none": "pooled_detrended"}


def choose_lags(correlations, kpis: list[str], max_lag: int, effects: dict[str, str]) -> dict[str, int]:
    """Each KPI's lag: the one with the smallest p-value in the scope its checks trust.

    ``effects`` maps each KPI to the fixed effects its evidence uses (``"twoway"``,
    ``"segment"`` or ``"none"``); ties go to the shorter lag.
    """
    if max_lag == 0:
        return {k: 0 for k in kpis}
    table = correlations.table
    lags = {}
    for k in kpis:
        rows = table[(table["x"] == k) & (table["status"] == "ok") & (table["scope"] == TRUSTED_SCOPE[effects[k]])]
        lags[k] = int(rows.sort_values(["p_value", "lag"]).iloc[0]["lag"]) if len(rows) else 0
    return lags


def _importance(panel, study: Study, kpis: list[str], lags: dict[str, int], effects: str):
    """Shapley importance at the chosen lags, on the variation the validation trusts.

    With period effects a centre-wide KPI has none of that variation, so it is not ranked
    (its effect and verdict come from its time variation); only when every KPI is centre-wide
    are they ranked on segment effects.
    """
    pf = PanelFrame.from_panel(panel)
    data, wcol, _, _ = pf.analysis_table(study.outcome, study.weights)
    frame = pf.lag({k: lags[k] for k in kpis})
    frame[study.outcome] = data[study.outcome].to_numpy(dtype=float)
    frame["period"] = data["period"].to_numpy()
    if wcol:
        frame["_w"] = data[wcol].to_numpy(dtype=float)
    for b in study.by:
        frame[b] = data[b].to_numpy()
    frame = frame.dropna(subset=[study.outcome, *kpis]).reset_index(drop=True)
    return relative_importance(frame, study.outcome, kpis, method="shapley",
                               within=list(study.by) or None, n_boot=study.n_boot,
                               block=block_length(frame["period"].nunique()), time="period", seed=study.seed,
                               effects=effects, weights="_w" if wcol else None)


def _joint_model(panel, study: Study, kpis: list[str], lags: dict[str, int], fixed: str) -> dict:
    if not kpis:
        return {"error": "every KPI is centre-wide: period effects absorb them all"}
    try:
        return regress(panel, study.outcome, kpis, lags=lags, effects=fixed, weights=study.weights,
                       calendar=study.calendar).to_dict()
    except (InputError, np.linalg.LinAlgError) as error:
        return {"error": str(error)}


def _drivers(study, kpis, usable, lags, effects, importance, validation, outcome_metric) -> pd.DataFrame:
    imp = importance.table.set_index("predictor")
    verdicts = validation.verdicts.set_index("driver")
    p = pd.Series({k: effects[k]["p_value"] for k in usable}, dtype=float)
    adjusted = pd.Series(multipletests(p.to_numpy(), method="fdr_bh")[1], index=p.index) if len(p) else p
    rows = []
    for k in kpis:
        if k not in usable:
            rows.append(dict(name=k, rank=None, lag=None, sign=None, importance=None, importance_ci=[None, None],
                             rank_ci=[None, None], effect=None, effect_ci=[None, None], effect_unit=None,
                             effect_phrase=None, p_value=None, p_adjusted=None, verdict="inconclusive", evidence=None,
                             reasons=["constant or a copy of another KPI: not analysed"], checks={}))
            continue
        e, v = effects[k], verdicts.loc[k]
        i = imp.loc[k] if k in imp.index else pd.Series({"rank": None, "importance": None, "ci_low": None,
                                                          "ci_high": None, "rank_ci_low": None, "rank_ci_high": None})
        evidence = v["evidence"]
        unit_words = _unit(k, e, outcome_metric)
        rows.append(dict(name=k, rank=None if i["rank"] is None else int(i["rank"]), lag=int(lags[k]),
                         sign=int(v["sign"]), importance=_f(i["importance"]),
                         importance_ci=[_f(i["ci_low"]), _f(i["ci_high"])],
                         rank_ci=[_f(i["rank_ci_low"]), _f(i["rank_ci_high"])],
                         effect=float(e["effect"]), effect_ci=[float(e["effect_ci_low"]), float(e["effect_ci_high"])],
                         effect_unit=unit_words, effect_phrase=e["phrase"], p_value=float(e["p_value"]),
                         p_adjusted=float(adjusted[k]), verdict=v["verdict"], reasons=list(v["reasons"]),
                         evidence=evidence, checks=validation.checks[k]))
    out = pd.DataFrame(rows)
    out["_order"] = out["rank"].fillna(math.inf)
    return out.sort_values(["_order", "name"]).drop(columns="_order").reset_index(drop=True)


def _unit(kpi: str, effect_row, outcome_metric) -> str:
    outcome = outcome_metric.name.upper() if outcome_metric.kind == "cx" else outcome_metric.name
    step, unit = effect_row["step"], effect_row["unit"]
    per = f"{step:g} {unit}".strip() if unit else f"{step:g}"
    if unit == "point":
        per = f"{step:g} point" + ("s" if step != 1 else "")
    return f"{outcome} points per {per} of {kpi}"


def _f(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x) else float(x)
