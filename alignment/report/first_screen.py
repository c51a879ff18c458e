"""The manager's first screen: what to act on, in the ranking's order, with today's value and target.

Plain Python values for the templates (HTML, Markdown, PDF), computed from a
:class:`~alignment.study.StudyResult` only: its drivers and families, the contact-level model,
the panel (today's value, response rates) and the study's targets (``[kpis.NAME] target``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

CX = ("csat", "nps", "ces", "cis")
# checks in the order a reader meets them, with the words the first screen uses for a pass
CHECK_WORDS = {"contact": "holds contact by contact", "within_segment": "holds within a segment",
               "trend": "survives trends", "placebo": "beats shifted copies of itself",
               "lag": "its lag is not a chance pick", "holdout": "holds out of time",
               "stability": "stable across the year", "intervention": "followed a declared change"}


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or (np.isscalar(x) and pd.isna(x))


def outcome_label(name: str) -> str:
    if name == "interaction_quality_score":    # the Customer Quality Interaction Score
        return "CQIS"
    return name.upper() if name in CX else name


def kpi_unit(result, name: str) -> str:
    """The unit a KPI's values are in: the catalog's (``%``, ``s``), else the study's ``[kpis.NAME] unit``."""
    metric = result.panel.definitions.get(name)
    if metric is not None and getattr(metric, "unit", None):
        return str(metric.unit)
    from .. import catalog
    entry = catalog.entry(name)
    if entry is not None and entry.get("unit"):
        return str(entry["unit"])
    return str((result.study.units or {}).get(name, {}).get("unit", ""))


def kpi_label(result, name: str) -> str:
    """A KPI's plain name (``ASA``, ``e-mail backlog``) instead of its column name."""
    from ..drivers.regression import natural_step
    return natural_step(name, result.study.units or {}).label


def fmt_value(value, unit: str) -> str:
    """``31 s``, ``75.2 %``, ``381 e-mails``, ``474 649 USD``: a value as a manager reads it."""
    if _missing(value):
        return "–"
    v = float(value)
    digits = 0 if abs(v) >= 100 or unit == "s" else 1
    text = f"{v:,.{digits}f}".replace(",", " ")
    return f"{text} {unit}".strip() if unit else text


def _gap_unit(unit: str) -> str:
    return "percentage points" if unit == "%" else unit


def higher_is_better_for_cx(driver: dict) -> bool | None:
    """Whether raising the KPI goes with better CX, from the sign the study found."""
    sign = driver.get("sign")
    return None if _missing(sign) or int(sign) == 0 else int(sign) > 0


def target_status(value, band, unit: str, up_is_good: bool | None) -> dict:
    """Today's ``value`` against a ``(low, high)`` target: met, or the gap in the KPI's unit.

    A single target (``low == high``) is met on the side that is better for CX; a band is met
    inside it. ``gap`` is how far the value is from being met, signed in the direction of a fix
    (0 when met).

    Examples
    --------
    >>> target_status(45.0, (30.0, 30.0), "s", False)["text"]
    'target 30 s: 15 s above it'
    >>> target_status(72.0, (70.0, 75.0), "%", True)["text"]
    'band 70–75 %: within it'
    """
    low, high = band
    what = f"target {low:g} {unit}".strip() if low == high else f"band {low:g}–{high:g} {unit}".strip()
    if _missing(value):
        return {"text": f"{what}: no value in the latest period", "gap": None, "met": None}
    v = float(value)
    if low == high:
        if up_is_good is None:
            gap = low - v
        else:
            gap = max(0.0, low - v) if up_is_good else min(0.0, high - v)
    else:
        gap = low - v if v < low else (high - v if v > high else 0.0)
        if (up_is_good is True and gap < 0) or (up_is_good is False and gap > 0):
            return {"text": f"{what}: {'above' if gap < 0 else 'below'} it, on the better side", "gap": 0.0,
                    "met": True}
    if gap == 0:
        return {"text": f"{what}: {'within it' if low != high else 'met'}", "gap": 0.0, "met": True}
    side = "below" if gap > 0 else "above"
    return {"text": f"{what}: {fmt_value(abs(gap), _gap_unit(unit))} {side} it", "gap": gap, "met": False}


def latest(result) -> tuple[str | None, pd.Series | None, pd.DataFrame | None]:
    """The latest period, its values pooled over all segments (components summed, then divided)
    and its rows per segment."""
    from ..exceptions import AlignmentWarning
    t = result.panel.table
    if not len(t):
        return None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        pooled = result.panel.repool(by=()).table if result.panel.by else t
    pooled = pooled.sort_values("period")
    last = pooled["period"].max()
    segments = t[t["period"] == last] if result.panel.by else None
    return pd.Timestamp(last).date().isoformat(), pooled.iloc[-1], segments


def _threshold(result, d: dict, doc: dict) -> str:
    """The tipping point, in words, when the study found one for this KPI."""
    if _missing(d.get("threshold")):
        return ""
    lo, hi = (d.get("threshold_ci") or [None, None])[:2]
    ci = f" (95 % CI {float(lo):.0f}–{float(hi):.0f} s)" if not (_missing(lo) or _missing(hi)) else ""
    rows = [r for r in ((doc.get("contact_model") or {}).get("rows") or []) if r["kpi"] == d["name"]]
    o = outcome_label(result.study.outcome)
    if rows and not _missing(rows[0].get("effect_above")):
        r = rows[0]
        above, overall = float(r["effect_above"]), float(r["effect"])
        # the slope beyond the kink against the straight-line slope over all waits
        pace = "faster" if abs(above) > abs(overall) else "more slowly"
        moves = "falls" if above < 0 else "rises"
        return (f"{o} {moves} {pace} once a customer's own wait passes {float(d['threshold']):.0f} s{ci}: "
                f"beyond it each {r['step']:g} s {'costs' if above < 0 else 'adds'} {abs(above):.2g} points "
                f"({abs(overall):.2g} on average over all waits)")
    return f"a threshold at {float(d['threshold']):.0f} s{ci}"


def _checks_line(d: dict) -> str:
    """"passed every check that applies" only when it did; otherwise what passed and what could not be decided."""
    checks = d.get("checks") or {}
    status = {c: (v or {}).get("status") for c, v in checks.items()}
    applied = [c for c, s in status.items() if s not in (None, "not_applicable")]
    passed = [c for c in applied if status[c] == "pass"]
    if applied and len(passed) == len(applied):
        return f"passed every check that applies ({len(applied)} of {len(status)}; the others do not apply)" \
            if len(applied) < len(status) else "passed every check"
    undecided = [c for c in applied if status[c] == "not_enough_data"]
    failed = [c for c in applied if status[c] == "fail"]
    parts = [f"passed {len(passed)} of the {len(applied)} checks that apply"]
    if undecided:
        parts.append("too little data to decide " + ", ".join(c.replace("_", " ") for c in undecided))
    if failed:
        parts.append("failed " + ", ".join(c.replace("_", " ") for c in failed) + " (a diagnostic only)")
    return "; ".join(parts)


def _worth(result, d: dict, gap, up_is_good) -> str:
    """What a natural step (and, where it means the same, closing the gap to target) is worth in CX."""
    from ..drivers.regression import natural_step
    if _missing(d.get("effect")):
        return ""
    ns = natural_step(d["name"], result.study.units or {})
    o = outcome_label(result.study.outcome)
    per = abs(float(d["effect"]))
    verb = {True: "Raising", False: "Lowering", None: "Moving"}[up_is_good]
    step_unit = _gap_unit(kpi_unit(result, d["name"])) if ns.unit in ("", "percentage point") else ns.unit
    if ns.step == 1 and step_unit.endswith("s") and step_unit != "s":
        step_unit = step_unit[:-1]
    step = f"{ns.step:g} {step_unit}".strip() if step_unit else f"{ns.step:g}"
    points = "percentage points" if kpi_unit(result, result.study.outcome) == "%" else "points"
    text = f"{verb} {ns.label} by {step} is worth about {per:.2g} {o} {points}"
    # the contact-level effect with a threshold is per customer's own wait, not per step of the KPI,
    # so it is said of a customer's wait and a gap in the KPI is not converted through it
    in_kpi_units = d.get("effect_source") != "contact-level model" or _missing(d.get("threshold"))
    if not in_kpi_units:
        return (f"Every {step} cut from a wait beyond {float(d['threshold']):.0f} s is worth about {per:.2g} "
                f"{o} {points} for that customer")
    if in_kpi_units and gap not in (None, 0) and not _missing(gap):
        steps = abs(float(gap)) / ns.step
        text += (f"; reaching the target ({steps:.2g} steps) about {steps * per:.2g} {points}, if the association "
                 f"is causal")
    return text


def segment_effects_text(d: dict, by, alpha: float, grain: str = "period") -> dict | None:
    """A lever's effect per segment in words: one line when the segments agree (the heterogeneity
    test does not reject at ``alpha``), else a row per segment with its interval.

    Examples
    --------
    >>> d = {"by_segment": [{"segment": "billing", "effect": -0.8, "ci": [-1.4, -0.3], "n_periods": 52}],
    ...      "by_segment_unit": "CSAT points per 10 s of ASA", "heterogeneity_p": 0.43}
    >>> segment_effects_text(d, ["queue"], 0.05, "week")["text"]
    'similar across queues (p = 0.43)'
    """
    from ..validation.checks import fmt_p
    rows, p = d.get("by_segment"), d.get("heterogeneity_p")
    if not rows or _missing(p):
        return None
    word, unit = (f"{by[0]}s" if len(by) == 1 else "segments"), d.get("by_segment_unit") or ""
    if not p < alpha:
        text = f"similar across {word} ({fmt_p(p)})"
        return {"text": text, "rows": [], "unit": unit, "line": text}
    shown = [{"segment": r["segment"], "effect": f"{r['effect']:+.3g}",
              "ci": "" if any(_missing(v) for v in r["ci"]) else f"[{r['ci'][0]:+.3g}, {r['ci'][1]:+.3g}]",
              "n_periods": r["n_periods"]} for r in rows if not _missing(r["effect"])]
    text = f"differs between {word} ({fmt_p(p)})"
    line = "; ".join(f"{r['segment']} {r['effect']} {r['ci']} ({r['n_periods']} {grain}s)".replace("  ", " ")
                     for r in shown)
    return {"text": text, "rows": shown, "unit": unit, "line": f"{text}, {unit}: {line}"}


def levers(result) -> list[dict]:
    """The validated levers in the ranking's order, one per family (its carrier), in words."""
    doc = result.to_dict()
    grain = doc["study"]["grain"]
    family_members = {f["carried_by"]: [m for m in f["members"] if m != f["carried_by"]]
                      for f in doc.get("families") or [] if f.get("carried_by")}
    period, pooled, segments = latest(result)
    targets = getattr(result.study, "targets", None) or {}
    by = list(result.study.by)
    alpha = result.validation.thresholds.alpha
    out = []
    # a proxy's first reason says whose lever it is; its other reasons are in the driver table
    reasons_of = {d["name"]: (d.get("reasons") or [""])[0] for d in doc["drivers"]}
    drivers = [d for d in doc["drivers"] if d["verdict"] == "validated" and not d.get("proxy_of")]
    drivers.sort(key=lambda d: (d["rank"] is None, d["rank"] if d["rank"] is not None else 0))
    for d in drivers:
        name, unit = d["name"], kpi_unit(result, d["name"])
        up = higher_is_better_for_cx(d)
        value = pooled.get(name) if pooled is not None else None
        if name in targets:
            status = target_status(value, targets[name], unit, up)
        else:
            status = {"text": _catalog_reference(result, name, value) or
                      f"no target set (add [kpis.{name}] target = … to the study file)", "gap": None, "met": None}
        by_segment = []
        if segments is not None and name in segments:
            for _, row in segments.sort_values(by).iterrows():
                seg = " / ".join(str(row[c]) for c in by)
                flag = name in targets and target_status(row[name], targets[name], unit, up)["met"] is False
                by_segment.append({"segment": seg, "value": fmt_value(row[name], unit), "short": bool(flag)})
        lag = 0 if _missing(d["lag"]) else int(d["lag"])
        within = ((d.get("checks") or {}).get("within_segment") or {})
        same = within.get("n_segments_same_sign")
        n_seg = within.get("n_segments")
        out.append({
            "name": name, "label": kpi_label(result, name), "rank": None if _missing(d["rank"]) else int(d["rank"]),
            "rank_ci": d.get("rank_ci"), "members": [{"name": m, "label": kpi_label(result, m), "why": reasons_of.get(m, "")}
                                          for m in family_members.get(name, [])],
            "reasons": list(d.get("reasons") or []),
            "family": d.get("family"),
            "importance": d.get("importance"), "importance_ci": d.get("importance_ci"),
            "value": fmt_value(value, unit), "period": period, "target": status["text"], "gap": status["gap"],
            "met": status["met"], "by_segment": by_segment,
            "effect": d.get("effect_phrase") or "",
            "lag": lag, "lag_words": ("acts within the same " + grain) if lag == 0 else
            f"acts {lag} {grain}{'s' if lag != 1 else ''} later",
            "threshold": _threshold(result, d, doc),
            "worth": _worth(result, d, status["gap"], up),
            "checks": _checks_line(d),
            "effects_by_segment": segment_effects_text(d, by, alpha, grain),
            "segments_agree": (f"same direction in {same} of {n_seg} {by[0] if len(by) == 1 else 'segment'}s"
                               if not (_missing(same) or _missing(n_seg)) and by else ""),
            "evidence": d.get("evidence"),
        })
    return out


def _catalog_reference(result, name: str, value) -> str:
    """The catalog's band the value falls in, or its typical targets, when the study set none."""
    from .. import catalog
    entry = catalog.entry(name)
    if entry is None:
        return ""
    m = catalog.get(name).to_dict()
    if not _missing(value):
        for b in m.get("bands") or []:
            if b["low"] <= float(value) <= b["high"]:
                return f"in the catalog's {b['name']} band ({b['low']}–{b['high']})"
    return f"no study target; the catalog's reference: {m['targets']}" if m.get("targets") else ""


def _plain_reason(d: dict) -> str:
    reasons = [r for r in (d.get("reasons") or []) if r]
    return "; ".join(reasons) if reasons else "no reason recorded"


def not_held_up(result) -> list[dict]:
    """KPIs the study refuted, with what made them look like drivers in a plain ranking."""
    out = []
    for d in result.to_dict()["drivers"]:
        if d["verdict"] != "not_validated":
            continue
        looked = d.get("effect_phrase") or ""
        out.append({"name": d["name"], "label": kpi_label(result, d["name"]),
                    "looked": f"on its own, {looked}" if looked else "", "why": _plain_reason(d)})
    return out


def needs_more_data(result) -> list[dict]:
    """Inconclusive KPIs that are not a proxy of a lever: what more data would decide them."""
    out = []
    for d in result.to_dict()["drivers"]:
        if d["verdict"] != "inconclusive" or d.get("proxy_of"):
            continue
        out.append({"name": d["name"], "label": kpi_label(result, d["name"]), "why": _plain_reason(d)})
    return out


def response_rates(result) -> dict:
    """Surveys per answered contact, pooled from counts over the study and per segment."""
    t = result.panel.table
    if "n_surveys" not in t or "n_answered" not in t:
        return {"overall": "", "by_segment": []}
    def rate(part):
        answered = float(part["n_answered"].sum())
        return float(part["n_surveys"].sum()) / answered if answered else float("nan")
    by = list(result.study.by)
    seg = []
    if by:
        for key, part in t.groupby(by, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            seg.append({"segment": " / ".join(map(str, key)), "rate": f"{100 * rate(part):.0f} %"})
    total = rate(t)
    contacts = float(t["n_contacts"].sum()) if "n_contacts" in t else float("nan")
    return {"overall": f"{100 * total:.0f} %", "surveys": int(t["n_surveys"].sum()),
            "answered": int(t["n_answered"].sum()),
            "of_contacts": f"{100 * t['n_surveys'].sum() / contacts:.0f} %" if contacts else "",
            "by_segment": seg}


def caveats(result) -> list[str]:
    """What the study can and cannot claim, with the response rates of its own data."""
    o = outcome_label(result.study.outcome)
    rates = response_rates(result)
    items = [
        "These are associations in the centre's own history, not an experiment. The checks rule out the "
        "usual false drivers (differences between segments, shared trends, chance among many KPIs and lags, "
        "patterns that fade out of time), but a lever's effect is what the data are consistent with, not a "
        "promise of what a change will do. A declared change ([[interventions]] in the study file) is the "
        "strongest test.",
    ]
    if rates["overall"]:
        seg = ", ".join(f"{s['segment']} {s['rate']}" for s in rates["by_segment"])
        count = lambda n: f"{n:,}".replace(",", " ")  # noqa: E731
        items.append(f"{o} comes from surveys, and surveys reach only answered contacts: "
                     f"{count(rates['surveys'])} surveys for {count(rates['answered'])} answered contacts, a "
                     f"response rate of {rates['overall']} ({rates['of_contacts']} of all contacts)"
                     + (f"; by segment {seg}" if seg else "")
                     + ". Customers who abandon or never answer the survey are not in it.")
    notes = (result.to_dict().get("contact_model") or {}).get("notes") or []
    items += [n[0].upper() + n[1:] + "." for n in notes]
    if result.study.by:
        seg = result.study.by[0] if len(result.study.by) == 1 else "segment"
        items.append(f"Effects are the whole centre's. Each lever's card also says whether its effect differs "
                     f"between {seg}s (the study's panel model with one slope per {seg}, per step of the KPI, and "
                     f"a test that the slopes are equal); the slopes are listed only where they differ.")
    return items
