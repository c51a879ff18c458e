"""Additive components of the panel: the sums every pooled metric is computed from.

Each component is a SQL aggregate over typed contact (or survey) rows, with the
input columns it needs. Durations are summed exactly, in integer microseconds,
so that the panel does not depend on the order of a parallel floating-point sum
(the same input always gives the same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import KpiOptions


@dataclass(frozen=True)
class Component:
    name: str
    sql: str
    needs: tuple[str, ...]
    additive: bool = True


def exact_sum(expr: str) -> str:
    """Sum of a non-negative duration or score, exact to a microsecond; 0 over no rows."""
    return f"coalesce(CAST(sum(CAST(round(({expr}) * 1e6) AS BIGINT)) AS DOUBLE) / 1e6, 0)"


def contact_components(options: KpiOptions) -> dict[str, Component]:
    """Every contact-level component, given the thresholds in ``options``."""
    t, s = options.service_level_threshold_s, options.short_abandon_s
    items = [
        Component("n_contacts", "CAST(count(*) AS BIGINT)", ()),
        Component("n_answered", "CAST(count_if(answered) AS BIGINT)", ("answered",)),
        Component("n_abandoned", "CAST(count_if(abandoned) AS BIGINT)", ("abandoned",)),
        Component("n_answered_within_t", f"CAST(count_if(answered AND wait_s <= {t!r}) AS BIGINT)", ("answered", "wait_s")),
        Component("n_abandoned_within_t", f"CAST(count_if(abandoned AND wait_s <= {t!r}) AS BIGINT)", ("abandoned", "wait_s")),
        Component("n_short_abandons", f"CAST(count_if(abandoned AND wait_s <= {s!r}) AS BIGINT)", ("abandoned", "wait_s")),
        Component("wait_answered_s", exact_sum("CASE WHEN answered THEN wait_s END"), ("answered", "wait_s")),
        Component("wait_abandoned_s", exact_sum("CASE WHEN abandoned THEN wait_s END"), ("abandoned", "wait_s")),
        Component("handle_answered_s", exact_sum("CASE WHEN answered THEN handle_s END"), ("answered", "handle_s")),
        Component("n_resolved", "CAST(count_if(answered AND resolved) AS BIGINT)", ("answered", "resolved")),
        Component("n_transferred", "CAST(count_if(answered AND transferred) AS BIGINT)", ("answered", "transferred")),
        Component("n_identified", "CAST(count(customer_id) AS BIGINT)", ("customer_id",)),
        Component("n_customers", "CAST(count(DISTINCT customer_id) AS BIGINT)", ("customer_id",), additive=False),
        Component("quality_sum", exact_sum("quality_score"), ("quality_score",)),
        Component("n_quality_scored", "CAST(count(quality_score) AS BIGINT)", ("quality_score",)),
    ]
    return {c.name: c for c in items}


def survey_components(metric, score: str) -> dict[str, str]:
    """Components of a survey metric (``SurveyMetric`` or ``CompositeScore``) over the score expression."""
    n = metric.name
    if getattr(metric, "aggregation", None) == "nps":
        return {f"{n}_n": f"CAST(count({score}) AS BIGINT)",
                f"{n}_promoters": f"CAST(count_if({score} >= 9) AS BIGINT)",
                f"{n}_detractors": f"CAST(count_if({score} <= 6) AS BIGINT)"}
    parts = {f"{n}_n": f"CAST(count({score}) AS BIGINT)", f"{n}_sum": exact_sum(score)}
    if getattr(metric, "top_box", None) is not None:
        lo, hi = metric.top_box
        parts[f"{n}_top"] = f"CAST(count_if({score} BETWEEN {lo!r} AND {hi!r}) AS BIGINT)"
    return parts
