"""What the report says, as plain Python values: one dict shared by the HTML and Markdown templates.

Everything the templates show is computed here, so both formats carry the same content and the
templates hold only layout.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import catalog
from ..validation.checks import CHECKS

CX = ("csat", "nps", "ces", "cis")
CHECK_TITLES = {"contact": "contact by contact", "within_segment": "within segment", "trend": "trend", "placebo": "placebo", "lag": "lag",
                "holdout": "holdout", "stability": "stability", "intervention": "intervention"}
EVIDENCE_WORDS = {"contact": "each survey against its own contact (contact-level model)",
                  "panel": "queue-period panel with queue and period effects",
                  "time_series": "time series only (centre-wide KPI; calendar controls stand in for period shocks)"}
VERDICT_WORDS = {"validated": "validated", "not_validated": "not validated", "inconclusive": "inconclusive"}
# A KPI "looked strong" when it would catch a manager's eye in a plain ranking: a large share of
# the explained variance or an effect that is significant after the Benjamini-Hochberg correction.
STRONG_IMPORTANCE = 0.10


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or (np.isscalar(x) and pd.isna(x))


def _num(x, digits=2) -> str:
    return "–" if _missing(x) else f"{float(x):.{digits}g}"


def _pct(x) -> str:
    return "–" if _missing(x) else f"{100 * float(x):.0f} %"


def _count(x) -> str:
    return "–" if _missing(x) else f"{int(x):,}".replace(",", " ")


def _label(name: str) -> str:
    if name == "interaction_quality_score":    # the Customer Quality Interaction Score
        return "CQIS"
    return name.upper() if name in CX else name


def _lag_words(lag, grain: str) -> str:
    if _missing(lag):
        return "–"
    lag = int(lag)
    if lag == 0:
        return f"same {grain}"
    return f"{lag} {grain}{'s' if lag != 1 else ''} earlier"


def _direction(sign, outcome: str) -> str:
    if _missing(sign) or int(sign) == 0:
        return "–"
    return f"higher → {'better' if int(sign) > 0 else 'worse'} {_label(outcome)}"


def _interval(pair, fmt) -> str:
    if not pair or any(_missing(v) for v in pair):
        return ""
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def _rank_range(pair) -> str:
    if not pair or any(_missing(v) for v in pair):
        return "–"
    lo, hi = int(round(pair[0])), int(round(pair[1]))
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _effect(d: dict) -> str:
    if _missing(d.get("effect")):
        return "–"
    lo, hi = d.get("effect_ci") or (None, None)
    ci = f" [{float(lo):+.3g}, {float(hi):+.3g}]" if not (_missing(lo) or _missing(hi)) else ""
    return f"{float(d['effect']):+.3g}{ci} {d.get('effect_unit') or ''}".strip()


def driver_rows(result) -> list[dict]:
    """One row per KPI of the study, in the order of results.json (ranked first)."""
    doc = result.to_dict()
    outcome, grain = doc["study"]["outcome"], doc["study"]["grain"]
    rows = []
    for d in doc["drivers"]:
        checks = d.get("checks") or {}
        from .first_screen import kpi_label
        label = kpi_label(result, d["name"])
        rows.append({
            "name": d["name"], "label": label if label != d["name"] else "",
            "rank": "–" if _missing(d["rank"]) else str(int(d["rank"])),
            "rank_ci": _rank_range(d.get("rank_ci")),
            "lag": "–" if _missing(d["lag"]) else str(int(d["lag"])),
            "lag_words": _lag_words(d["lag"], grain),
            "direction": _direction(d.get("sign"), outcome),
            "importance": _pct(d["importance"]) if not _missing(d["importance"]) else "–",
            "importance_ci": _interval(d.get("importance_ci"), lambda v: f"{100 * v:.0f} %"),
            "effect": _effect(d),
            "effect_phrase": d.get("effect_phrase") or "",
            "p_value": _num(d.get("p_value"), 2),
            "verdict_p_adjusted": _num(d.get("verdict_p_adjusted"), 2),
            "proxy_of": d.get("proxy_of"), "family": d.get("family"), "tier": d.get("tier"),
            "verdict": d["verdict"],
            "evidence": d.get("evidence"), "evidence_words": EVIDENCE_WORDS.get(d.get("evidence"), "–"),
            "threshold": (f"{float(d['threshold']):.0f} s" + (f" [{float(d['threshold_ci'][0]):.0f}, "
                          f"{float(d['threshold_ci'][1]):.0f}]" if not _missing((d.get('threshold_ci') or [None])[0])
                          else "")) if not _missing(d.get("threshold")) else "",
            "verdict_words": VERDICT_WORDS.get(d["verdict"], d["verdict"]),
            "reasons": list(d.get("reasons") or []),
            "checks": [{"name": c, "title": CHECK_TITLES[c], "status": (checks.get(c) or {}).get("status", "–"),
                        "reason": (checks.get(c) or {}).get("reason", "")} for c in CHECKS],
            "raw_importance": d["importance"], "raw_p_value": d.get("p_value"),
        })
    return rows


def _headline(rows: list[dict], outcome: str, alpha: float, result=None) -> dict:
    validated = [r for r in rows if r["verdict"] == "validated"]
    strong_failed = []
    for r in rows:
        if r["verdict"] == "validated":
            continue
        why = []
        if not _missing(r["raw_importance"]) and r["raw_importance"] >= STRONG_IMPORTANCE:
            why.append(f"{r['importance']} of the total variation")
        if not _missing(r["raw_p_value"]) and r["raw_p_value"] < alpha:
            why.append(f"a significant effect on its own (p = {r['p_value']})")
        if why:
            strong_failed.append({**r, "looked_strong": " and ".join(why)})
    n_ranked = sum(1 for r in rows if r["rank"] != "–")
    o = _label(outcome)
    if validated:
        from .first_screen import kpi_label
        names = ", ".join(kpi_label(result, r["name"]) for r in validated)
        sentence = (f"{len(validated)} of the {len(rows)} KPIs studied are validated drivers of {o}, confirmed "
                    f"out of time: {names}.")
    else:
        sentence = (f"None of the {len(rows)} KPIs studied is a validated driver of {o}; the table below says, "
                    f"for each, whether it was refuted or what more data would decide it.")
    return {"sentence": sentence, "validated": validated, "strong_failed": strong_failed, "n_ranked": n_ranked,
            "strong_rule": (f"importance of at least {STRONG_IMPORTANCE:.0%} or a one-KPI effect with "
                            f"p < {alpha:g}").replace("%", " %")}


def _segments(table: pd.DataFrame, by) -> list[str]:
    if not by:
        return []
    seg = table[list(by)].drop_duplicates().astype(str)
    return sorted(" / ".join(v) for v in seg.itertuples(index=False))


def _coverage(result) -> dict:
    from ..panel.frame import period_number
    doc = result.to_dict()
    p, t, by = result.panel, result.panel.table, list(result.study.by)
    d = doc["data"]
    periods = pd.to_datetime(pd.Series(t["period"].unique())).sort_values().reset_index(drop=True)
    numbers = period_number(periods, result.study.grain)
    missing = sorted(set(range(int(numbers.min()), int(numbers.max()) + 1)) - set(numbers.tolist())) \
        if len(numbers) else []
    seg_label = (t[by].astype(str).agg(" / ".join, axis=1) if by else pd.Series("all", index=t.index))
    day = lambda v: pd.Timestamp(v).date().isoformat()
    zero = [f"{day(r)} ({s})" if by else day(r) for r, s in zip(t.loc[t["n_contacts"] == 0, "period"],
                                                            seg_label[t["n_contacts"] == 0])]
    low = t["low_responses"].astype(bool) if "low_responses" in t else pd.Series(False, index=t.index)
    low_items = [f"{day(r)} ({s})" if by else day(r) for r, s in zip(t.loc[low, "period"], seg_label[low])]
    matched = d["n_surveys_matched"]
    share = (f" ({100 * matched / d['n_surveys']:.0f} % of surveys)" if d["n_surveys"] and matched is not None
             else "")
    return {
        "window": f"{doc['study']['start']} to {doc['study']['end']}",
        "timezone": doc["study"]["timezone"],
        "grain": doc["study"]["grain"],
        "n_periods": _count(d["n_periods"]),
        "by": ", ".join(by) if by else "none (the whole center)",
        "segments": _segments(t, by),
        "n_segments": _count(d["n_segments"]),
        "n_rows": _count(d["n_rows"]),
        "n_contacts": _count(d["n_contacts"]),
        "n_surveys": _count(d["n_surveys"]),
        "n_surveys_matched": _count(matched) + share,
        "min_responses": p.min_responses,
        "low_responses": low_items,
        "n_low_responses": len(low_items),
        "gaps_zero": zero,
        "gaps_missing": [f"period {n - int(numbers.min()) + 1} of the window" for n in missing],
        "holdout_start": doc["study"]["holdout_start"],
    }


def _definition(result, name: str) -> dict:
    """A KPI's definition: the panel's (it knows the study's variant), else the catalog's, else an extra source."""
    metric = result.panel.definitions.get(name)
    d = metric.to_dict() if metric is not None else (catalog.get(name).to_dict() if catalog.entry(name) else None)
    if d is None:
        sources = [e for e in result.study.extras if e.values is None or name in (e.values or ())]
        src = sources[0] if len(sources) == 1 else None
        how = (f"column of the extra source {getattr(src.data, 'name', src.data)}, aggregated per period by "
               f"{src.aggregate}" + (f" per {', '.join(src.by)}" if src.by else " and applied to every segment")
               if src else "column of an extra source")
        return {"name": name, "label": name, "definition": how, "formula": "", "unit": "", "direction": "–",
                "bands": "", "targets": "", "variant": ""}
    bands = "; ".join(f"{b.get('name')} {b.get('low')}–{b.get('high')}" for b in d.get("bands") or [])
    hib = d.get("higher_is_better")
    return {"name": name, "label": d.get("label") or name, "definition": d.get("definition") or "",
            "formula": d.get("formula") or "", "unit": d.get("unit") or "",
            "direction": "higher is better" if hib else ("lower is better" if hib is False else "–"),
            "bands": bands, "targets": d.get("targets") or "", "variant": d.get("variant") or ""}


def _method(result) -> dict:
    s, v = result.study, result.validation
    names = [s.outcome] + [k for k in s.kpis if k != s.outcome]
    o = s.kpi_options
    options = [("service level threshold", f"{o.service_level_threshold_s:g} s"),
               ("service level variant (denominator)", o.service_level_variant),
               ("short abandon threshold", f"{o.short_abandon_s:g} s"),
               ("CSAT variant", o.csat_variant)]
    th, rules = v.thresholds, v.rules
    n_periods = result.panel.table["period"].nunique()
    block = max(2, int(round(n_periods ** (1 / 3))))
    return {
        "definitions": [_definition(result, n) for n in names],
        "options": options,
        "service_level_used": "service_level" in names,
        "thresholds": [(k, "default" if val is None else f"{val:g}" if isinstance(val, float) else str(val))
                       for k, val in vars(th).items()],
        "rules": rules,
        "n_boot": s.n_boot, "block": block, "seed": s.seed, "max_lag": s.max_lag,
        "alpha": th.alpha,
    }


def _contact(model: dict | None) -> dict | None:
    """The contact-level model's rows in words for the report (None when it was not fitted)."""
    if not model:
        return None
    rows = []
    for r in model["rows"]:
        per = f"per {r['step']:g} s" if r["variable"] in ("wait_s", "handle_s") else "yes vs no"
        threshold = ""
        if not _missing(r.get("threshold")):
            threshold = (f"{r['threshold']:.0f} s [{r['threshold_ci_low']:.0f}, {r['threshold_ci_high']:.0f}]; "
                         f"beyond it {r['effect_above']:+.3g} per {r['step']:g} s")
        rows.append({"kpi": r["kpi"], "variable": r["variable"], "per": per,
                     "effect": f"{r['effect']:+.3g} [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]",
                     "p_value": _num(r["p_value"]), "threshold": threshold})
    return {"rows": rows, "unit": model["effect_unit"], "n_surveys": _count(model["n_surveys"]),
            "n_clusters": _count(model["n_clusters"]), "fixed_effects": " + ".join(model["fixed_effects"]),
            "clustering": model["clustering"], "notes": list(model.get("notes") or [])}


def _first_screen(result) -> dict:
    """The manager's first screen: levers, what did not hold up, what needs more data, caveats."""
    from . import first_screen as fs
    imp = getattr(result, "importance", None)
    r2 = getattr(imp, "r2", None)
    kind = result.to_dict()["study"].get("effects")
    seg = "/".join(result.study.by) or "segment"
    effects = {"twoway": f"{seg} and {result.study.grain} averages", "segment": f"{seg} averages"}.get(kind)
    levers = fs.levers(result)
    for lever in levers:
        lever["importance_text"] = _pct(lever["importance"])
        lever["importance_ci_text"] = _interval(lever["importance_ci"], lambda v: f"{100 * v:.0f} %")
        lever["rank_ci_text"] = _rank_range(lever["rank_ci"])
        lever["business"] = _lever_business(result, lever["name"])
    return {
        "levers": levers,
        "period": levers[0]["period"] if levers else None,
        "r2": None if _missing(r2) else f"{float(r2):.2f}",
        "r2_scope": (f"the variation in {_label(result.study.outcome)} left once {effects} are removed" if effects
                     else f"the variation in {_label(result.study.outcome)}"),
        "not_held_up": fs.not_held_up(result),
        "needs_more_data": fs.needs_more_data(result),
        "caveats": fs.caveats(result),
    }


def _decisions(result) -> dict | None:
    """The staffing Decisions table (:func:`alignment.staffing.whatif.decision_rows`), or None."""
    from ..staffing.whatif import decision_rows
    return decision_rows(result)


def _business(result) -> dict | None:
    """The "Business impact" section in words (None without a customers source: the section is left out)."""
    bi = getattr(result, "business_impact", None)
    if bi is None:
        return None
    cx = _label(result.study.outcome)
    leaving = "leaving" if bi.outcome == "churn" else f"a {bi.outcome.replace('_', ' ')}"
    metric = result.panel.definitions.get(result.study.outcome)
    scale = getattr(metric, "scale", None)
    composite = any(m.name == result.study.outcome and hasattr(m, "weights") for m in result.study.survey_metrics)
    whose = "the composite's" if composite else "each answer's"
    scale = f"one point of {whose} {scale[0]:g}–{scale[1]:g} scale" if scale else "one point of its scale"
    observation = "surveyed contact"
    if result.study.outcome == "interaction_quality_score":   # measured on the contacts (impact/cqis.py)
        observation = "quality-scored contact"
        scale = "one point of the customer's CQIS so far (its quality scores up to that contact, averaged; 0–100)"
    return {"cx": cx, "outcome": leaving, "window_days": bi.window_days, "scale": scale, "observation": observation,
            "lines": bi.lines(cx_label=cx), "notes": list(bi.notes)}


def _lever_business(result, kpi: str) -> str:
    """What moving a lever is worth in customers kept and value, when the study links CX to churn."""
    bi = getattr(result, "business_impact", None)
    return (bi.lever_line(kpi, cx_label=_label(result.study.outcome)) or "") if bi is not None else ""


def build(result) -> dict:
    """The report's content for ``result`` (a :class:`~alignment.study.StudyResult`)."""
    import alignment
    doc = result.to_dict()
    rows = driver_rows(result)
    alpha = result.validation.thresholds.alpha
    study = doc["study"]
    return {
        "title": f"{study['name']}: what drives {_label(study['outcome'])}",
        "study": study,
        "outcome": _label(study["outcome"]),
        "headline": _headline(rows, study["outcome"], alpha, result),
        "first": _first_screen(result),
        "drivers": rows,
        "coverage": _coverage(result),
        "warnings": [(w["code"], w["message"]) for w in doc["warnings"]],
        "method": _method(result),
        "checks": CHECKS,
        "check_titles": CHECK_TITLES,
        "contact": _contact(doc.get("contact_model")),
        "decisions": _decisions(result),
        "business": _business(result),
        "version": alignment.__version__,
    }
