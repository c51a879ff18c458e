"""Additive components of the panel: the sums every pooled metric is computed from.

Each component is an integer aggregate over typed contact (or survey) rows -- a count, or
a sum of durations and scores in integer microseconds -- plus the input columns it needs.
Integers add up exactly in any order, so a parallel aggregation, a two-stage one (first
by 15-minute UTC bucket, then by local period) and a re-pooling all give the same bytes.
Sums become floating point only when the panel is finalised.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import KpiOptions

#: Durations and scores are summed in millionths.
SCALE = 1_000_000


@dataclass(frozen=True)
class Component:
    """``partial``: an integer SQL aggregate; ``scaled``: it holds millionths of the value."""

    name: str
    partial: str
    needs: tuple[str, ...]
    additive: bool = True
    scaled: bool = False

    def final(self, partial: str) -> str:
        """The component's value from its (summed) partial."""
        if self.scaled:
            return f"CAST(coalesce({partial}, 0) AS DOUBLE) / {SCALE}"
        return f"CAST(coalesce({partial}, 0) AS BIGINT)"

    @property
    def sql(self) -> str:
        """The component computed in one stage."""
        return self.final(self.partial)


def count(name: str, condition: str | None, needs: tuple[str, ...]) -> Component:
    return Component(name, "count(*)" if condition is None else f"count_if({condition})", needs)


def micro_sum(name: str, expr: str, needs: tuple[str, ...]) -> Component:
    """Exact sum of a value (bounded by the input checks) in integer millionths."""
    return Component(name, f"sum(CAST(round(({expr}) * {SCALE}) AS BIGINT))", needs, scaled=True)


def contact_components(options: KpiOptions) -> dict[str, Component]:
    """Every contact-level component, given the thresholds in ``options``."""
    t, s = options.service_level_threshold_s, options.short_abandon_s
    items = [
        count("n_contacts", None, ()),
        count("n_answered", "answered", ("answered",)),
        count("n_abandoned", "abandoned", ("abandoned",)),
        count("n_answered_within_t", f"answered AND wait_s <= {t!r}", ("answered", "wait_s")),
        count("n_abandoned_within_t", f"abandoned AND wait_s <= {t!r}", ("abandoned", "wait_s")),
        count("n_short_abandons", f"abandoned AND wait_s <= {s!r}", ("abandoned", "wait_s")),
        micro_sum("wait_answered_s", "CASE WHEN answered THEN wait_s END", ("answered", "wait_s")),
        micro_sum("wait_abandoned_s", "CASE WHEN abandoned THEN wait_s END", ("abandoned", "wait_s")),
        micro_sum("handle_answered_s", "CASE WHEN answered THEN handle_s END", ("answered", "handle_s")),
        count("n_resolved", "answered AND resolved", ("answered", "resolved")),
        count("n_transferred", "answered AND transferred", ("answered", "transferred")),
        count("n_identified", "customer_id IS NOT NULL", ("customer_id",)),
        Component("n_customers", "count(DISTINCT customer_id)", ("customer_id",), additive=False),
        micro_sum("quality_sum", "quality_score", ("quality_score",)),
        count("n_quality_scored", "quality_score IS NOT NULL", ("quality_score",)),
    ]
    return {c.name: c for c in items}


def survey_components(metric, score: str) -> dict[str, Component]:
    """Components of a survey metric (``SurveyMetric`` or ``CompositeScore``) over the score expression."""
    n = metric.name
    parts = [count(f"{n}_n", f"{score} IS NOT NULL", ())]
    if getattr(metric, "aggregation", None) == "nps":
        parts += [count(f"{n}_promoters", f"{score} >= 9", ()), count(f"{n}_detractors", f"{score} <= 6", ())]
    else:
        parts.append(micro_sum(f"{n}_sum", score, ()))
        if getattr(metric, "top_box", None) is not None:
            lo, hi = metric.top_box
            parts.append(count(f"{n}_top", f"{score} BETWEEN {lo!r} AND {hi!r}", ()))
    return {c.name: c for c in parts}
