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
from ..correlation.series import lag_columns, period_number
from ..drivers import regress, relative_importance
from ..exceptions import AlignmentWarning, InputError
from ..panel import build_panel
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
        if n_periods < study.max_lag + 8:
            raise StudyError(f"{n_periods} periods are too few for max_lag = {study.max_lag} "
                             f"(need at least {study.max_lag + 8}); widen the window or use a finer grain",
                             source=study.source, key="study.max_lag")
        kpis = list(study.kpis)
        usable = _usable(table, kpis)
        say("choosing lags and correlating")
        correlations = correlate(panel, study.outcome, usable, lags=study.max_lag, seed=study.seed)
        lags = _choose_lags(correlations, study, usable)
        say("estimating effects")
        effects = {k: regress(panel, study.outcome, [k], lags={k: lags[k]},
                              model="fe" if study.by else "ols").table.iloc[0] for k in usable}
        joint = _joint_model(panel, study, usable, lags)
        say(f"ranking drivers ({study.n_boot} bootstrap resamples)")
        importance = _importance(panel, study, usable, lags)
        holdout_start = study.holdout_start or default_holdout(table["period"])
        say("validating each driver")
        validation = validate(panel, study.outcome, usable, lags=lags, by=study.by, max_lag=study.max_lag,
                              holdout_start=holdout_start, thresholds=study.validation,
                              interventions=study.interventions,
                              outcome_higher_is_better=outcome_metric.higher_is_better, seed=study.seed)
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


def _choose_lags(correlations, study: Study, kpis: list[str]) -> dict[str, int]:
    """Each KPI's lag: the one with the strongest within-segment (or detrended) association."""
    if study.max_lag == 0:
        return {k: 0 for k in kpis}
    scope = "within" if study.by else "pooled_detrended"
    table = correlations.table[correlations.table["scope"] == scope]
    lags = {}
    for k in kpis:
        rows = table[(table["x"] == k) & (table["status"] == "ok")]
        lags[k] = int(rows.sort_values(["p_value", "lag"]).iloc[0]["lag"]) if len(rows) else 0
    return lags


def _lagged(panel, study: Study, kpis: list[str], lags: dict[str, int]) -> pd.DataFrame:
    table = panel.table
    frame = lag_columns(table, {k: lags[k] for k in kpis}, list(study.by), period_number(table["period"], study.grain))
    frame[study.outcome] = table[study.outcome].to_numpy(dtype=float)
    frame["period"] = table["period"].to_numpy()
    for b in study.by:
        frame[b] = table[b].to_numpy()
    return frame.dropna(subset=[study.outcome, *kpis]).reset_index(drop=True)


def _importance(panel, study: Study, kpis: list[str], lags: dict[str, int]):
    frame = _lagged(panel, study, kpis, lags)
    n_periods = frame["period"].nunique()
    block = max(2, int(round(n_periods ** (1 / 3))))
    return relative_importance(frame, study.outcome, kpis, method="shapley",
                               within=list(study.by) or None, n_boot=study.n_boot, block=block,
                               time="period", seed=study.seed)


def _joint_model(panel, study: Study, kpis: list[str], lags: dict[str, int]) -> dict:
    try:
        return regress(panel, study.outcome, kpis, lags=lags, model="fe" if study.by else "ols").to_dict()
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
                             effect_phrase=None, p_value=None, p_adjusted=None, verdict="inconclusive",
                             reasons=["constant or a copy of another KPI: not analysed"], checks={}))
            continue
        e, i, v = effects[k], imp.loc[k], verdicts.loc[k]
        unit_words = _unit(k, e, outcome_metric)
        rows.append(dict(name=k, rank=int(i["rank"]), lag=int(lags[k]), sign=int(v["sign"]),
                         importance=float(i["importance"]), importance_ci=[_f(i["ci_low"]), _f(i["ci_high"])],
                         rank_ci=[_f(i["rank_ci_low"]), _f(i["rank_ci_high"])],
                         effect=float(e["effect"]), effect_ci=[float(e["effect_ci_low"]), float(e["effect_ci_high"])],
                         effect_unit=unit_words, effect_phrase=e["phrase"], p_value=float(e["p_value"]),
                         p_adjusted=float(adjusted[k]), verdict=v["verdict"], reasons=list(v["reasons"]),
                         checks=validation.checks[k]))
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
