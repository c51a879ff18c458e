"""Running a study: steps 1-6 in order, from the study's data to a :class:`StudyResult`."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from .. import catalog
from ..correlation import correlate
from ..drivers import regress, relative_importance
from ..drivers.regression import natural_step
from ..contact import KPI_OF, MEASURES, fit_contact_model
from ..exceptions import AlignmentWarning, InputError, OptionError, SmallSampleWarning
from ..validation.contact import ContactEvidence
from ..panel.frame import PanelFrame, block_length, centre_wide
from ..progress import using
from .config import Study, StudyError, build_study_panel  # noqa: F401  (steps 1-3, re-exported)
from .result import StudyResult, warning_code


def run_study(study: Study, *, progress=None) -> StudyResult:
    """Run steps 1-6 of ``study``; ``progress`` as for :meth:`Study.run`."""
    from ..validation import validate
    with warnings.catch_warnings(record=True) as caught, using(progress, where="Study.run") as shown:
        say = shown.step
        warnings.simplefilter("always", AlignmentWarning)
        say("reading and checking the data")
        panel = build_study_panel(study)
        if study.customers is not None:     # a bad customers file fails now, not after the statistics
            from ..impact.customers import read_customers
            read_customers(study.customers.source, value=study.customers.value, timezone=study.timezone,
                           engine=study.engine)
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
        say("correlating")
        correlations = correlate(panel, study.outcome, usable, lags=study.max_lag, seed=study.seed,
                                 weights=study.weights)
        holdout_start = study.holdout_start or default_holdout(table["period"])
        contact_fit, evidence = None, None
        if panel.contact_frame is not None and study.contact_model is not False and any(
                KPI_OF[m] in usable for m in MEASURES if m in panel.contact_frame):
            say("fitting the contact-level model (each survey against its own contact)")
            contact_fit, evidence = study_contact_model(study, panel, holdout_start, usable)
        say("validating each driver (lags and signs chosen on the training periods)")
        validation = validate(panel, study.outcome, usable, lags=None, by=study.by, max_lag=study.max_lag,
                              holdout_start=holdout_start, thresholds=study.validation,
                              interventions=study.interventions,
                              outcome_higher_is_better=outcome_metric.higher_is_better, seed=study.seed,
                              effects=study.effects, weights=study.weights, calendar=study.calendar,
                              families=study_families(study, usable), contact=evidence, units=study.units)
        lags = dict(validation.lags)
        say("estimating effects")
        marginal = {k: regress(panel, study.outcome, [k], lags={k: lags[k]}, effects=own[k], weights=study.weights,
                               calendar=study.calendar, **_units(study)).table.iloc[0] for k in usable}
        verdicts = validation.verdicts.set_index("kpi").copy()
        validated = [k for k in usable if verdicts.loc[k, "verdict"] == "validated"]
        on_panel = [k for k in validated if own[k] == fixed]
        on_contact = {k for k in validated if verdicts.loc[k, "evidence"] == "contact"}
        on_panel, joint = _carried(panel, study, on_panel, lags, fixed, verdicts, keep=on_contact)
        all_kpis = _joint_model(panel, study, [k for k in usable if own[k] == fixed], lags, fixed)
        by_segment = _by_segment(panel, study, frame, validated, lags, own)
        say(f"ranking the validated drivers ({study.n_boot} bootstrap resamples)")
        groups = _groups(validation, on_panel)
        importance = _importance(panel, study, on_panel, lags, fixed, groups) if on_panel else None
        impact = None
        if study.customers is not None:
            say("linking CX to what customers do next (business impact)")
            impact = study_business_impact(study, panel, validated)
    notes = [(code, message) for code, message in panel.notes]
    seen = set()
    for w in caught:
        if issubclass(w.category, AlignmentWarning):
            item = (warning_code(w.category), str(w.message))
            if item not in seen:
                seen.add(item)
                notes.append(item)
    drivers, families = _drivers(study, kpis, usable, lags, marginal, joint, importance, groups, validation,
                                 verdicts, contact_fit, by_segment)
    return StudyResult(study=study, panel=panel, correlations=correlations,
                       models={"joint": joint, "all_kpis": all_kpis},
                       importance=importance, validation=validation, drivers=drivers, families=families,
                       lags=lags, holdout_start=holdout_start, warnings=tuple(notes), contact_model=contact_fit,
                       business_impact=impact)


def study_business_impact(study: Study, panel, validated):
    """The business-impact link of the study (:func:`alignment.business_impact`), reusing the panel's
    survey-level frame; mediation for the validated drivers a contact measure speaks for."""
    from ..impact import business_impact
    frame = panel.contact_frame
    if frame is None or "customer_id" not in frame:
        raise StudyError("needs surveys linked to contacts that carry customer_id (the link follows each survey "
                         "to its customer)", source=study.source, key="data.customers")
    mediators = [m for m in MEASURES if m in frame and m != "answered_within_t" and KPI_OF[m] in validated]
    try:
        return business_impact(study, panel=panel, mediators=mediators, n_boot=min(study.n_boot, 999))
    except OptionError as error:     # too few windows, or no departure at all: the drivers still stand
        warnings.warn(f"the business-impact link was not estimated: {error}", SmallSampleWarning, stacklevel=2)
        return None


def study_contact_model(study: Study, panel, holdout_start, kpis):
    """The contact-level model on all surveys (quoted effects, threshold) and the evidence for
    the verdicts: the same model on the training surveys and on the holdout's."""
    from ..panel.result import period_start
    frame = panel.contact_frame
    variables = [m for m in MEASURES if m in frame and KPI_OF[m] in kpis]
    declared = {m.name: m for m in study.survey_metrics}
    common = dict(by=study.by, variables=variables, contact_controls=study.contact_controls,
                  coding_kind=study.contact_coding, metric=declared.get(study.outcome), alpha=study.validation.alpha, seed=study.seed,
                  steps=_contact_steps(study, variables))
    first = period_start(pd.Series([pd.Timestamp(holdout_start)]), study.grain).iloc[0]
    train, test = frame[frame["period"] < first], frame[frame["period"] >= first]
    try:
        full = fit_contact_model(frame, study.outcome, n_boot=min(study.n_boot, 999), **common)
        fit_train = fit_contact_model(train, study.outcome, threshold=False, logit=False, **common)
    except OptionError as error:
        warnings.warn(f"the contact-level model was not fitted: {error}", SmallSampleWarning, stacklevel=2)
        return None, None
    try:
        fit_test = fit_contact_model(test, study.outcome, threshold=False, logit=False, **common)
    except OptionError:
        fit_test = None
    return full, ContactEvidence(train=fit_train, holdout=fit_test)


def _contact_steps(study: Study, variables) -> dict[str, float]:
    """Quote the wait and handle-time effects per the study's ASA and AHT steps."""
    return {v: float(natural_step(KPI_OF[v], getattr(study, "units", None) or {}).step)
            for v in variables if v in ("wait_s", "handle_s")}


def _contact_effect(study: Study, kpi: str, fit) -> dict | None:
    """A KPI's effect from the contact-level model, per the KPI's natural step, in words.

    A duration is quoted per its step of the customer's own time (beyond the threshold when one
    was found); a yes/no measure per percentage point of the KPI: one point more of contacts
    resolved first time moves the outcome by a hundredth of the resolved-versus-not difference
    (exact for the linear probability model).
    """
    row = fit.row(kpi) if fit is not None else None
    if row is None:
        return None
    ns = natural_step(kpi, getattr(study, "units", None) or {})
    outcome = study.outcome.upper()
    unit = fit.coding.unit
    points = unit if outcome in unit else f"{outcome} {unit}"     # "NPS points", "CSAT top-2-box ..."
    ci = int(round((1 - fit.alpha) * 100))
    threshold = [None, None]
    if row["variable"] in ("wait_s", "handle_s"):
        e, lo, hi = row["effect"], row["ci_low"], row["ci_high"]
        if np.isfinite(row["threshold"]):
            e, lo, hi = row["effect_above"], row["effect_above_ci_low"], row["effect_above_ci_high"]
            threshold = [_f(row["threshold_ci_low"]), _f(row["threshold_ci_high"])]
            words = (f"each {ns.step:g} s a customer waits beyond {row['threshold']:.0f} s ({ci} % CI "
                     f"{row['threshold_ci_low']:.0f}-{row['threshold_ci_high']:.0f} s) "
                     f"{'costs' if e < 0 else 'adds'} {abs(e):.2g} {points} ({ci} % CI "
                     f"{_signed(lo)} to {_signed(hi)})")
        else:
            whose = "waits" if row["variable"] == "wait_s" else "is handled"
            words = (f"each {ns.step:g} s longer a customer {whose} goes with {abs(e):.2g} "
                     f"{'fewer' if e < 0 else 'more'} {points} ({ci} % CI {_signed(lo)} to {_signed(hi)})")
        own = "wait" if row["variable"] == "wait_s" else "handle time"
        per = f"{points} per {ns.step:g} s of the customer's own {own}"
    else:
        share = ns.step / 100.0
        e, lo, hi = row["effect"] * share, row["ci_low"] * share, row["ci_high"] * share
        what = MEASURES[row["variable"]][2]
        words = (f"each extra percentage point of {ns.label} goes with {abs(e):.2g} {'more' if e > 0 else 'fewer'} "
                 f"{points} ({ci} % CI {_signed(lo)} to {_signed(hi)}); contact by contact, {what}: "
                 f"{row['effect']:+.3g}")
        per = f"{points} per percentage point of {ns.label}"
    return {"effect": _f(e), "effect_ci": [_f(lo), _f(hi)], "effect_unit": per, "effect_phrase": words,
            "threshold": _f(row["threshold"]), "threshold_ci": threshold}


def _signed(x: float) -> str:
    return f"{x:+.2g}"


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


def study_families(study: Study, kpis: list[str]) -> dict[str, tuple[str, ...]]:
    """The study's KPI families among ``kpis``: declared ones (``[families]``) first, then the catalog's."""
    declared = {name: tuple(m for m in members if m in kpis)
                for name, members in (getattr(study, "families", None) or {}).items()}
    return dict(catalog.families(kpis, declared))


def _units(study: Study) -> dict:
    """The ``units`` keyword of :func:`regress` when the study declares steps and units."""
    units = getattr(study, "units", None)
    return {"units": dict(units)} if units else {}


def _groups(validation, ranked: list[str]) -> dict[str, list[str]]:
    """Players of the importance ranking: a family whose validated members are ranked is one player."""
    out = {}
    for f in validation.families:
        inside = [m for m in f["members"] if m in ranked]
        if inside:
            out[f["name"]] = inside
    return out


def _importance(panel, study: Study, kpis: list[str], lags: dict[str, int], effects: str, groups=None):
    """Shapley importance of the validated drivers at their training lags, on the variation the
    validation trusts (two-way effects, weighted); a family is one player (group Shapley)."""
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
                               by=list(study.by) or None, n_boot=study.n_boot,
                               block=block_length(frame["period"].nunique()), time="period", seed=study.seed,
                               effects=effects, weights="_w" if wcol else None, groups=groups or None)


def _joint_model(panel, study: Study, kpis: list[str], lags: dict[str, int], fixed: str) -> dict:
    if not kpis:
        return {"error": "no KPI to put in the model"}
    try:
        return regress(panel, study.outcome, kpis, by=list(study.by) or None, grain=study.grain, lags=lags,
                       effects=fixed, weights=study.weights, calendar=study.calendar, **_units(study)).to_dict()
    except (InputError, np.linalg.LinAlgError) as error:
        return {"error": str(error)}


def _carried(panel, study: Study, kpis: list[str], lags: dict, fixed: str, verdicts: pd.DataFrame, keep=()):
    """The validated panel drivers that keep an effect of their own in their joint model, and that model.

    A validated KPI whose joint effect, given the other validated drivers, is indistinguishable
    from zero (p >= alpha) acts through them or moves with them (contact volume through waiting):
    quoting its effect beside theirs would count one effect twice. The weakest such KPI leaves
    the model, which is refitted, until every one left has an effect of its own; each one that
    left becomes ``inconclusive`` with ``proxy_of`` the driver it moves with most (``verdicts``
    is updated in place). KPIs in ``keep`` (validated on contact-level evidence, whose own joint
    model already holds the other contact measures) never leave.
    """
    alpha = study.validation.alpha
    kept = list(kpis)
    joint = _joint_model(panel, study, kept, lags, fixed)
    table = getattr(panel, "table", panel)
    while len(kept) >= 2 and "effects" in joint:
        p = {t["kpi"]: t["p_value"] for t in joint["effects"]}
        weak = [k for k in kept if not (p.get(k) is not None and p[k] < alpha) and k not in keep]
        if not weak:
            break
        drop = max(weak, key=lambda k: p.get(k) if p.get(k) is not None else 1.0)
        kept.remove(drop)
        carrier = max(kept, key=lambda m: abs(np.nan_to_num(table[drop].astype(float).corr(table[m].astype(float)))))
        verdicts.loc[drop, "verdict"] = "inconclusive"
        verdicts.loc[drop, "proxy_of"] = carrier
        verdicts.at[drop, "reasons"] = [
            f"validated on its own, but given the other validated drivers its effect is indistinguishable from "
            f"zero (joint p = {p.get(drop, float('nan')):.2g}): it acts through or moves with "
            f"{natural_step(carrier, study.units).label}"
        ] + list(verdicts.loc[drop, "reasons"])
        joint = _joint_model(panel, study, kept, lags, fixed)
    return kept, joint


def tiers(ranks: pd.DataFrame) -> dict[str, int]:
    """Tiers of ranked players: a player joins the tier above when its rank interval overlaps it.

    ``ranks`` has ``player, rank, rank_ci_low, rank_ci_high``; without intervals every player is
    its own tier.

    Examples
    --------
    >>> t = pd.DataFrame({"player": ["asa", "fcr", "aht"], "rank": [1, 2, 3],
    ...                   "rank_ci_low": [1, 1, 3], "rank_ci_high": [2, 2, 3]})
    >>> tiers(t)
    {'asa': 1, 'fcr': 1, 'aht': 2}
    """
    out, tier, reach = {}, 0, -math.inf
    for row in ranks.sort_values("rank").itertuples():
        lo, hi = row.rank_ci_low, row.rank_ci_high
        if pd.isna(lo) or pd.isna(hi) or lo > reach:
            tier += 1
            reach = -math.inf
        out[row.player] = tier
        reach = max(reach, hi if not pd.isna(hi) else row.rank)
    return out


def _by_segment(panel, study: Study, frame: PanelFrame, kpis: list[str], lags: dict, own: dict) -> dict:
    """Each validated driver's effect per segment and the test that the segments agree
    (:func:`alignment.drivers.segments.segment_effects`, the driver's own model); {} for one series."""
    from ..drivers.segments import segment_effects
    if frame.n_segments < 2:
        return {}
    out = {}
    for k in kpis:
        try:
            out[k] = segment_effects(panel, study.outcome, k, lag=lags[k], effects=own[k], weights=study.weights,
                                     calendar=study.calendar, units=study.units, alpha=study.validation.alpha)
        except (InputError, OptionError):   # too few rows in a segment: the driver keeps its pooled effect
            continue
    return out


_NO_SEGMENTS = {"by_segment": None, "by_segment_unit": None, "heterogeneity_p": None}


def _drivers(study, kpis, usable, lags, marginal, joint, importance, groups, validation, verdicts, contact_fit=None,
             by_segment=None):
    """The drivers table (ranked validated drivers first) and the families list of results.json."""
    by_segment = by_segment or {}
    imp = importance.table.set_index("kpi") if importance is not None else pd.DataFrame()
    player_of = {m: g for g, members in groups.items() for m in members}
    tier_of = tiers(imp.reset_index().rename(columns={"kpi": "player"})) if len(imp) else {}
    n_panel = int(imp["rank"].max()) if len(imp) else 0
    quoted = {t["kpi"]: t for t in joint.get("effects", [])} if isinstance(joint, dict) else {}
    # validated drivers on time-series evidence cannot be ranked against panel ones: after them
    series = [k for k in usable if verdicts.loc[k, "verdict"] == "validated" and k not in player_of
              and k not in imp.index]
    rows = []
    for k in kpis:
        if k not in usable:
            rows.append(dict(name=k, rank=None, tier=None, lag=None, sign=None, importance=None,
                             importance_ci=[None, None], rank_ci=[None, None], effect=None, effect_ci=[None, None],
                             effect_unit=None, effect_phrase=None, effect_source=None, effect_marginal=None,
                             effect_marginal_ci=[None, None], **_NO_SEGMENTS, p_value=None, verdict="inconclusive",
                             verdict_p=None, verdict_p_adjusted=None, family=None, proxy_of=None, evidence=None,
                             threshold=None, threshold_ci=[None, None],
                             reasons=["constant or a copy of another KPI: not analysed"], checks={}))
            continue
        m, v = marginal[k], verdicts.loc[k]
        player = player_of.get(k, k)
        rank = tier = None
        i = None
        if v["verdict"] == "validated" and player in imp.index:
            i = imp.loc[player]
            rank, tier = int(i["rank"]), tier_of[player]
        elif k in series:
            rank = n_panel + 1 + series.index(k)
            tier = (max(tier_of.values()) if tier_of else 0) + 1 + series.index(k)
        q = quoted.get(k) if v["verdict"] == "validated" else None
        e = q if q is not None else m
        effect = {"effect": _f(e["effect"]), "effect_ci": [_f(e["effect_ci_low"]), _f(e["effect_ci_high"])],
                  "effect_unit": e["effect_unit"], "effect_phrase": e["phrase"], "threshold": None,
                  "threshold_ci": [None, None]}
        source = "joint model of the validated drivers" if q is not None else "one-KPI model"
        if v["evidence"] == "contact":
            effect, source = _contact_effect(study, k, contact_fit), "contact-level model"
        rows.append(dict(name=k, rank=rank, tier=tier, lag=int(lags[k]), sign=int(v["sign"]),
                         importance=_f(i["importance"]) if i is not None else None,
                         importance_ci=[_f(i["ci_low"]), _f(i["ci_high"])] if i is not None else [None, None],
                         rank_ci=[_f(i["rank_ci_low"]), _f(i["rank_ci_high"])] if i is not None else [None, None],
                         **effect, effect_source=source,
                         effect_marginal=_f(m["effect"]),
                         effect_marginal_ci=[_f(m["effect_ci_low"]), _f(m["effect_ci_high"])],
                         **(by_segment[k].to_dict() if k in by_segment else _NO_SEGMENTS),
                         p_value=_f(m["p_value"]), verdict=v["verdict"], verdict_p=_f(v["verdict_p"]),
                         verdict_p_adjusted=_f(v["verdict_p_adjusted"]), family=_s(v["family"]), proxy_of=_s(v["proxy_of"]),
                         evidence=v["evidence"], reasons=list(v["reasons"]), checks=validation.checks[k]))
    out = pd.DataFrame(rows)
    order = {"validated": 0, "inconclusive": 1, "not_validated": 2}
    out["_order"] = out["rank"].fillna(math.inf)
    out["_verdict"] = out["verdict"].map(order)
    out = out.sort_values(["_order", "_verdict", "name"]).drop(columns=["_order", "_verdict"]).reset_index(drop=True)
    families = []
    for f in validation.families:
        i = imp.loc[f["name"]] if f["name"] in imp.index else (
            imp.loc[f["carried_by"]] if f["carried_by"] in imp.index and f["carried_by"] not in player_of else None)
        families.append({**f, "importance": _f(i["importance"]) if i is not None else None,
                         "importance_ci": [_f(i["ci_low"]), _f(i["ci_high"])] if i is not None else [None, None]})
    return out, families


def _f(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x) else float(x)


def _s(x):
    """A text cell, or None where pandas holds a missing value."""
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x
