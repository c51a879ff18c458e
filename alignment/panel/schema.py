"""Canonical tables as typed views, with the validation rules of each column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..data.read import RawTable
from ..engine.sql import quote
from ..data import types as ty
from ..data.types import Rule

# Durations longer than this are not seconds of a contact (a unit mistake or a corrupt value).
MAX_DURATION_S = 10_000_000
#: Extra-source values beyond this magnitude are refused: two of 1.7e308 already sum to infinity,
#: and no measured KPI comes near it (a sentinel or a corrupt value).
MAX_EXTRA_VALUE = 1e300

BOOLEAN_COLUMNS = ("answered", "abandoned", "transferred", "resolved")


@dataclass
class TypedView:
    """SELECT expressions of a typed view and the rules checked on the raw view."""

    columns: dict[str, str] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)

    def add(self, name: str, typed: tuple[str, list[Rule]]) -> str:
        expr, rules = typed
        self.columns[name] = expr
        self.rules += rules
        return expr

    def create(self, session, raw: RawTable, name: str) -> None:
        select = ", ".join(f"{expr} AS {quote(col)}" for col, expr in self.columns.items())
        session.view(name, f"SELECT {select} FROM {quote(raw.view)}")


def _id(raw: RawTable, name: str, as_text: bool) -> tuple[str, list[Rule]]:
    col = quote(name)
    expr = f"CAST({col} AS VARCHAR)" if as_text else col
    return expr, [Rule(name, ty.blank(col, raw.types[name]), "is missing")]


def contacts_view(raw: RawTable, needed: Sequence[str], by: Sequence[str], *,
                  source_tz: str | None, study_tz: str | None, id_as_text: bool,
                  controls: Sequence[str] = ()) -> TypedView:
    """Typed contacts: contact_id, local_ts, segments, the columns the metrics need and any
    contact-level ``controls`` (carried as text; blank is a level of its own, not an error)."""
    v = TypedView()
    v.add("contact_id", _id(raw, "contact_id", id_as_text))
    v.add("local_ts", ty.local_time("arrived_at", raw.types["arrived_at"],
                                    source_tz=source_tz, study_tz=study_tz))
    for b in by:
        v.add(b, ty.text(b, raw.types[b]))
    flags = {}
    for name in BOOLEAN_COLUMNS:
        if name in needed or (name in ("answered", "abandoned") and raw.has(name)):
            flags[name] = v.add(name, ty.boolean(name, raw.types[name],
                                                 required=name in ("answered", "abandoned")))
    answered, abandoned = flags.get("answered"), flags.get("abandoned")
    if answered and abandoned:
        v.rules.append(Rule("abandoned", f"({answered} AND {abandoned})",
                            "is true on a contact that was also answered"))
    for name in ("wait_s", "handle_s"):
        if name in needed:
            expr = v.add(name, ty.number(name, raw.types[name], minimum=0, unit="seconds"))
            v.rules.append(Rule(name, f"{expr} > {MAX_DURATION_S}",
                                f"is larger than {MAX_DURATION_S:,} s (116 days): not a duration in seconds?"))
            when = [f for f in ((answered, abandoned) if name == "wait_s" else (answered,)) if f]
            if when:
                v.rules.append(Rule(name, f"({expr} IS NULL AND ({' OR '.join(when)}))",
                                    "is missing for an " + ("answered or abandoned" if name == "wait_s"
                                                            else "answered") + " contact"))
    for name in ("transferred", "resolved"):
        if name in flags and answered:
            v.rules.append(Rule(name, f"({flags[name]} IS NULL AND {answered})",
                                "is missing for an answered contact"))
    if "customer_id" in needed:
        v.add("customer_id", (f"NULLIF(trim(CAST({quote('customer_id')} AS VARCHAR)), '')", []))
    if "quality_score" in needed:
        v.add("quality_score", ty.number("quality_score", raw.types["quality_score"], minimum=0, maximum=100))
    for name in controls:
        v.add(name, ty.text(name, raw.types[name], required=False))
    return v


def surveys_view(raw: RawTable, scores: Mapping[str, object], by: Sequence[str], *,
                 source_tz: str | None, study_tz: str | None, id_as_text: bool) -> TypedView:
    """Typed surveys: survey_id, contact_id, local_ts, segments and one typed column per survey metric."""
    v = TypedView()
    v.add("survey_id", _id(raw, "survey_id", False))
    has_contact = raw.has("contact_id")
    contact = quote("contact_id")
    if has_contact:
        v.columns["contact_id"] = f"CAST({contact} AS VARCHAR)" if id_as_text else contact
        orphan = ty.blank(contact, raw.types["contact_id"])
    else:
        v.columns["contact_id"] = "CAST(NULL AS VARCHAR)"
        orphan = "true"
    if raw.has("responded_at"):
        expr = v.add("local_ts", ty.local_time("responded_at", raw.types["responded_at"], source_tz=source_tz,
                                               study_tz=study_tz, required=False))
        v.rules.append(Rule("responded_at", f"({orphan} AND {expr} IS NULL)",
                            "is missing for a survey without contact_id (its time is needed)"))
    else:
        v.columns["local_ts"] = "CAST(NULL AS TIMESTAMP)"
    for b in by:
        if raw.has(b):
            expr = v.add(b, ty.text(b, raw.types[b], required=False))
            v.rules.append(Rule(b, f"({orphan} AND {expr} IS NULL)",
                                "is missing for a survey without contact_id (its segment is needed)"))
    for name, metric in scores.items():
        expr = v.add(name, ty.number(metric.column, raw.types[metric.column],
                                     minimum=metric.scale[0], maximum=metric.scale[1]))
        if metric.integer_scores:
            v.rules.append(Rule(metric.column, f"({expr} <> round({expr}))", "is not a whole-number score"))
    return v


def extra_view(raw: RawTable, time: str, by: Sequence[str], values: Sequence[str], *,
               source_tz: str | None, study_tz: str | None) -> TypedView:
    """Typed extra source: local_ts (a bare date is a local date), segments and numeric values."""
    v = TypedView()
    v.add("local_ts", ty.local_time(time, raw.types[time], source_tz=source_tz, study_tz=study_tz, dates=True))
    for b in by:
        v.add(b, ty.text(b, raw.types[b]))
    for name in values:
        expr = v.add(name, ty.number(name, raw.types[name]))
        v.rules.append(Rule(name, f"(NOT isinf({expr}) AND abs({expr}) > {MAX_EXTRA_VALUE!r})",
                            f"is beyond ±{MAX_EXTRA_VALUE:g}: too large to add up without overflowing "
                            f"(a sentinel or a corrupt value?)"))
    return v
