"""Staffing what-if: a change of agents, through the queue, to the KPIs, to CX, to churn and value.

:func:`whatif` takes the queue inputs of a study's contacts (:func:`~alignment.staffing.queue_inputs`,
one row per interval x segment), predicts with Erlang A (M/M/N+M) each changed interval's KPIs with
the agents it had and with the change, and adds the predicted change of each additive component
(abandoned, answered within T, wait of the answered) to what the interval observed. The components
are then pooled to the study's grain (sums over the intervals of a period, never a mean of
interval rates); a KPI's change is the mean over the segment's periods of its pooled change.

Each KPI change goes to CX through the study's validated effects (the joint model's, per the
KPI's natural step):

- only validated drivers contribute; any other KPI contributes nothing, and the result says so;
- a family (waiting: ASA, service level, abandon rate) acts once, through the member that
  carries it (``families[].carried_by``); its other members contribute nothing;
- a driver with a threshold in the customer's own wait (the contact-level hinge: no effect up to
  tau, a slope beyond it) acts, with the contact model's logit hinge (``wait_hinge``), through
  P(top box | own wait) integrated over each changed interval's answered waits under Erlang A
  (:func:`~alignment.staffing.answered_wait_mass`) before and after, averaged over the surveyed
  customers' offsets; without it, its slope acts on the answered customers' mean wait beyond tau,
  E[(W - tau)+ | answered] (:func:`~alignment.staffing.answered_wait_beyond`). Either way the
  threshold's uncertainty enters the CX interval, and the change is scaled by the observed over
  Erlang A's wait of the answered in the changed intervals (``queue_calibration``);
- Erlang A's misfit there (``queue_misfit``, |Erlang A's / observed wait - 1|) scales each draw
  of the queue's change by 1 + e, e ~ N(0, misfit^2): the KPI changes' interval (``change_ci``),
  and a wider CX one.

Churn and value follow the business-impact link when the study declares customers (else they
are null with a note). The link prices a point of the CX score on its own scale (CSAT 1-5) while
the effects are on the panel's (CSAT top-2-box percentage points), so the two are not multiplied:
the link's own chain of the driver's contact measure (for ASA, the customer's own wait -> CX score
-> churn -> value, the part through CX of its mediation) is applied per step of the predicted
change. Intervals come from seeded normal draws of every coefficient (standard errors from their
95 % intervals): the effects, and the chain's churn change, whose value change is the same draw
scaled as the link scales it. With ``agent_cost_per_hour``, the cost is the agent hours added
times the price, per period of the grain and per year, and the cost per CX point is the cost per
period over the CX change.

Examples
--------
>>> from alignment.staffing.whatif import parse_hours, parse_days
>>> parse_hours("10-14"), parse_days("mon-fri")
((10, 11, 12, 13), (0, 1, 2, 3, 4))
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..display import Displayed
from ..exceptions import OptionError
from .erlang import WAIT_EDGES, _check, _queue, answered_wait_mass

__all__ = ["WhatIf", "whatif", "whatif_from_inputs", "study_inputs", "check_segment", "Decisions", "decisions", "decision_rows", "parse_agents", "parse_hours", "parse_days", "QUEUE_KPIS"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: KPIs the queue model predicts, and the quantity each is read from.
QUEUE_KPIS = ("asa", "service_level", "abandon_rate")
Z95 = 1.959963984540054
PERIODS_PER_YEAR = {"day": 365.25, "week": 365.25 / 7, "month": 12.0}
_PERIOD = {"day": "D", "week": "W-SUN", "month": "M"}   # pandas' period of each grain


def parse_agents(value) -> float:
    """``"+2"``, ``"2"``, ``"-1"`` or a number -> the change of agents on duty (not 0).

    Examples
    --------
    >>> parse_agents("+2"), parse_agents(-1.5)
    (2.0, -1.5)
    """
    text = str(value).strip()
    try:
        change = float(text)
    except ValueError:
        change = math.nan
    if isinstance(value, bool) or not math.isfinite(change) or change == 0:
        raise OptionError(f"The 'agents' parameter must be a change of agents such as +2 or -1 (not 0). "
                          f"Got {value!r} instead.")
    return change


def parse_hours(value) -> tuple[int, ...] | None:
    """``"10-14"`` -> the local hours 10, 11, 12, 13 (the end is excluded); ``"9"`` -> (9,); None -> all.

    Examples
    --------
    >>> parse_hours("22-24")
    (22, 23)
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        hours = tuple(int(h) for h in value)
        if not hours or any(not 0 <= h <= 23 for h in hours):
            raise OptionError(f"The 'hours' parameter must list hours 0-23. Got {value!r} instead.")
        return tuple(sorted(set(hours)))
    text = str(value).strip()
    start, sep, end = text.partition("-")
    try:
        a = int(start)
        b = int(end) if sep else a + 1
    except ValueError:
        a = b = -1
    if not (0 <= a < b <= 24):
        raise OptionError(f"The 'hours' parameter must be local hours START-END with 0 <= START < END <= 24 "
                          f"(e.g. 10-14 for 10:00 to 14:00). Got {value!r} instead.")
    return tuple(range(a, b))


def parse_days(value) -> tuple[int, ...] | None:
    """``"mon-fri"``, ``"sat,sun"`` or ``"tue"`` -> weekdays (0 = Monday); None -> every day.

    Examples
    --------
    >>> parse_days("fri-mon"), parse_days("sat,sun")
    ((0, 4, 5, 6), (5, 6))
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    days = set()
    for part in str(value).lower().split(","):
        start, sep, end = part.strip().partition("-")
        names = (start.strip()[:3], end.strip()[:3]) if sep else (start.strip()[:3],)
        if not all(n in DAYS for n in names) or not part.strip():
            raise OptionError(f"The 'days' parameter must be weekdays such as mon-fri, sat,sun or tue. "
                              f"Got {value!r} instead.")
        a = DAYS.index(names[0])
        b = DAYS.index(names[-1])
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return tuple(sorted(days))


@dataclass(frozen=True)
class _Lever:
    """How one KPI's change reaches CX: its effect per step, with a standard error."""

    kpi: str
    effect: float
    se: float
    step: float
    threshold: float | None  # seconds of the customer's own wait (a hinge), or None
    threshold_ci: tuple[float, float] | None = None  # its 95 % interval, when the study has one


def _interval_kpis(agents, rate, handle, patience, threshold_s, beyond):
    """Per-offered shares (abandoned, answered within T, wait of the answered, answered wait beyond tau)."""
    return _interval_kpis_cached(agents, rate, handle, patience, threshold_s, beyond).copy()


@functools.lru_cache(maxsize=65536)
def _interval_kpis_cached(agents, rate, handle, patience, threshold_s, beyond):
    lam = rate / 3600.0
    mu = 1.0 / handle
    theta = 0.0 if math.isinf(patience) else 1.0 / patience
    low = math.floor(agents)
    w = agents - low
    parts = [(1 - w, _queue(low, lam, mu, theta, threshold_s, beyond))]
    if w > 0:
        parts.append((w, _queue(low + 1, lam, mu, theta, threshold_s, beyond)))
    out = np.zeros(4)
    for weight, k in parts:
        if weight == 0:
            continue
        answered = 1.0 - k[1]
        asa = k[3] if math.isfinite(k[3]) else (math.inf if answered > 0 else 0.0)
        out += weight * np.array([k[1], k[2], answered * asa if answered > 0 else 0.0,
                                  k[6] if beyond is not None else 0.0])
    return out


#: Nodes of the answered customers' waits: 0 (answered at once) and the middle of each bin of WAIT_EDGES.
WAIT_NODES = np.concatenate([[0.0], 0.5 * (WAIT_EDGES[:-1] + WAIT_EDGES[1:])])


@functools.lru_cache(maxsize=65536)
def _answered_nodes(agents, rate, handle, patience):
    """The answered customers' waits per offered customer on WAIT_NODES (Erlang A; read-only)."""
    at_once, bins = answered_wait_mass(agents, arrival_rate_per_h=rate, mean_handle_s=handle, patience_s=patience)
    out = np.concatenate([[at_once], bins])
    out.flags.writeable = False
    return out


#: A day's surveys stand for that day's customers when it has at least this many.
MIN_DAY_SURVEYS = 10
#: Spacing of the grid of logit offsets the surveyed customers' offsets are spread over (linearly).
OFFSET_STEP = 0.2


def _offset_weights(off: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Surveyed customers' logit offsets as weights on ``grid`` (each split linearly between its two
    grid points) and, last, the share at +inf; the surveys of cells all yes (+inf) or all no (-inf)
    never move, and count with their share."""
    out = np.zeros(len(grid) + 1)
    finite = off[np.isfinite(off)]
    x = np.clip((finite - grid[0]) / OFFSET_STEP, 0, len(grid) - 1)
    low = np.minimum(np.floor(x).astype(int), len(grid) - 2) if len(grid) > 1 else np.zeros(len(x), int)
    frac = x - low
    np.add.at(out, low, 1 - frac)
    if len(grid) > 1:
        np.add.at(out, low + 1, frac)
    out[-1] = np.sum(off == np.inf)
    return out / len(off)


def _hinge_cx(hinge, surveys: np.ndarray, survey_period: np.ndarray, days: dict, periods, answered,
              d_answered, tau_d, coef_d, chunk: int = 1000) -> tuple[float, np.ndarray, float]:
    """The CX change (top-box percentage points, mean over periods) from the logit hinge.

    ``days``: ``{(period, day): change of answered customers on WAIT_NODES}`` over the changed
    intervals; ``periods`` the periods (``answered`` and ``d_answered`` their answered customers
    and its change). A day's customers are its surveyed customers' offsets (its fixed effect: an
    incident day's customers are less satisfied), the segment's when the day has fewer than
    MIN_DAY_SURVEYS; the offsets are spread over a grid (OFFSET_STEP), so that P(yes | wait) is
    computed once per grid point and draw. A period's top-box share of the answered, weighted as
    the surveys are (an answered customer is surveyed with the same chance whatever the wait),
    changes by ``(dS - s dA) / (A + dA)``: dS the change of the summed P(yes | wait), s the
    period's share before, the mean predicted probability of its surveys at their own waits (the
    segment's without any). Returns ``(estimate, draws, s)``.
    """
    off, day = hinge.offset[surveys], hinge.day[surveys]
    with np.errstate(over="ignore"):
        p_own = 1.0 / (1.0 + np.exp(-(off + hinge.linear(hinge.wait[surveys], hinge.coef, hinge.threshold)[0])))
    share_all = float(np.mean(p_own))
    share = np.array([float(np.mean(p_own[survey_period == p])) if np.any(survey_period == p) else share_all
                      for p in periods])
    used = max((int(np.flatnonzero(m).max()) for m in days.values() if np.any(m)), default=0)
    nodes = WAIT_NODES[: used + 1]
    finite = off[np.isfinite(off)]
    grid = (np.arange(np.floor(finite.min() / OFFSET_STEP), np.ceil(finite.max() / OFFSET_STEP) + 1) * OFFSET_STEP
            if len(finite) else np.zeros(1))
    index = {p: i for i, p in enumerate(periods)}
    # per period, the change of answered customers on (offset grid point, wait node)
    mass = np.zeros((len(periods), len(grid) + 1, len(nodes)))
    pooled = _offset_weights(off, grid)
    for (period, d), m in days.items():
        on_day = day == d
        wts = _offset_weights(off[on_day], grid) if on_day.sum() >= MIN_DAY_SURVEYS else pooled
        mass[index[period]] += wts[:, None] * m[None, : len(nodes)]
    after = answered + d_answered
    ok = after > 0
    if not ok.any():
        return 0.0, np.zeros(len(coef_d)), share_all

    def change(coef, tau):   # -> (draws,): the mean over periods of the share's change
        coef, tau = np.atleast_2d(coef), np.atleast_1d(tau)
        d_s = np.empty((len(coef), len(periods)))
        for i in range(0, len(coef), chunk):
            lin = hinge.linear(nodes, coef[i:i + chunk], tau[i:i + chunk])
            acc = mass[:, -1, :].sum(axis=1)[None, :].repeat(len(lin), 0)   # +inf: P = 1 at any wait
            for g, a in enumerate(grid):
                acc += (1.0 / (1.0 + np.exp(-(a + lin)))) @ mass[:, g, :].T
            d_s[i:i + chunk] = acc
        return 100 * np.mean((d_s[:, ok] - share[ok] * d_answered[ok]) / after[ok], axis=1)

    return float(change(hinge.coef, hinge.threshold)[0]), change(coef_d, tau_d), share_all


@dataclass(frozen=True, repr=False)
class WhatIf(Displayed):
    """A staffing change, through the queue and the validated effects, to CX, churn, value and cost.

    ``table``: one row per segment x KPI: ``segment, kpi, before, after, change, ci_low, ci_high,
    unit, contributes, cx_change, reason`` (``contributes``: whether the KPI's change reaches CX; the
    reason says why not). ``segments``: per segment the ``cx_change``, ``churn_change`` and
    ``value_change`` (each ``estimate`` and ``ci``), ``cost`` and ``cost_per_cx_point``.
    :meth:`to_dict` is whatif.json.
    """

    change: dict
    segments: list
    table: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        c = self.change
        lines = [f"what-if: {c['agents']:+g} agents on duty"
                 + (f", hours {c['hours']}" if c["hours"] else "") + (f", days {c['days']}" if c["days"] else "")]
        for s in self.segments:
            lines.append(f"  {s['segment']}: {s['sentence']}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from ..study.result import plain
        return plain({"change": self.change, "segments": self.segments, "notes": list(self.notes)})

    def to_json(self, path) -> None:
        """Write whatif.json atomically (UTF-8, no NaN)."""
        import json
        from ..io import atomic_path
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                           encoding="utf-8")


def _levers(drivers: pd.DataFrame, families: Sequence[dict], outcome_unit_kpis) -> tuple[dict, dict]:
    """``({kpi: _Lever}, {kpi: reason it contributes nothing})`` for the queue KPIs."""
    from ..drivers.regression import natural_step
    carried = {}
    for fam in families or ():
        for member in fam.get("members", ()):
            carried[member] = fam.get("carried_by")
    levers, silent = {}, {}
    rows = {r["name"]: r for r in drivers.to_dict("records")} if drivers is not None else {}
    for kpi in QUEUE_KPIS:
        row = rows.get(kpi)
        if row is None:
            silent[kpi] = "not a KPI of the study"
            continue
        if row.get("verdict") != "validated":
            silent[kpi] = (f"{str(row.get('verdict')).replace('_', ' ')}, not a validated driver: contributes "
                           f"nothing" + (f" (acts through {row['proxy_of']})" if isinstance(row.get("proxy_of"), str)
                                         else ""))
            continue
        if kpi in carried and carried[kpi] not in (None, kpi):
            silent[kpi] = f"its family's effect is carried by {carried[kpi]}: counted once, there"
            continue
        lo, hi = (row.get("effect_ci") or (math.nan, math.nan))
        effect = float(row["effect"])
        se = (float(hi) - float(lo)) / (2 * Z95) if lo is not None and hi is not None else 0.0
        threshold = row.get("threshold")
        threshold = float(threshold) if threshold is not None and np.isfinite(threshold) else None
        t_ci = row.get("threshold_ci")
        t_ci = (tuple(float(v) for v in t_ci[:2]) if threshold is not None and isinstance(t_ci, (list, tuple))
                and len(t_ci) >= 2 and all(v is not None and np.isfinite(v) for v in t_ci[:2])
                and t_ci[0] <= threshold <= t_ci[1] and t_ci[0] < t_ci[1] else None)
        levers[kpi] = _Lever(kpi, effect, se if math.isfinite(se) else 0.0,
                             natural_step(kpi, outcome_unit_kpis).step, threshold if kpi == "asa" else None,
                             t_ci if kpi == "asa" else None)
    # a waiting family counted once even without a declared carrier: keep the first validated member
    if len(levers) > 1 and not any(k in carried for k in levers):
        first = next(iter(levers))
        for k in list(levers)[1:]:
            silent[k] = f"the waiting family acts once: through {first}"
            del levers[k]
    return levers, silent


def check_segment(inputs, segment) -> tuple[pd.Series, list[str]]:
    """Each row's segment label and the segments to change; an unknown segment is an OptionError."""
    t = inputs.table
    by = list(inputs.by)
    if len(by) > 1:
        raise OptionError(f"The what-if changes one segment of one segment column; this study has {len(by)} "
                          f"({', '.join(by)}).")
    if by:
        labels = t[by[0]].astype(str)
        known = sorted(labels.unique())
        if segment is not None and str(segment) not in known:
            shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
            raise OptionError(f"The 'segment' parameter must be a segment of {by[0]} ({shown}). "
                              f"Got {segment!r} instead.")
        return labels, ([str(segment)] if segment is not None else known)
    if segment not in (None, "all"):
        raise OptionError(f"This study has no segments: leave 'segment' out (or 'all'). Got {segment!r} instead.")
    return pd.Series("all", index=t.index), ["all"]


def whatif_from_inputs(inputs, *, agents, segment=None, hours=None, days=None, grain: str = "week",
                       drivers=None, families=(), business_impact=None, agent_cost_per_hour=None,
                       units=None, service_level_variant: str = "offered", same_scale: bool = False,
                       n_draws: int = 2000, seed: int = 0, alpha: float = 0.05, wait_hinge=None) -> WhatIf:
    """The what-if on given queue inputs and study findings (pure; :func:`whatif` reads them from a study).

    Parameters
    ----------
    inputs : QueueInputs
        Interval x segment queue inputs (:func:`~alignment.staffing.queue_inputs`).
    agents : float or str
        Change of agents on duty in every selected interval (``+2``).
    segment : str, optional
        The segment to change (the value of the one segment column); default each segment in turn.
    hours, days : str or sequence, optional
        Local hours (``"10-14"``: 10:00-14:00) and weekdays (``"mon-fri"``) of the change; default all.
    grain : {"day", "week", "month"}
        The study's grain: KPIs are pooled per period of it.
    drivers : DataFrame
        The study's drivers (``name, verdict, effect, effect_ci, threshold, proxy_of``; optionally
        ``threshold_ci``).
    families : list of dict
        The study's families (``members, carried_by``).
    business_impact : BusinessImpactResult or dict, optional
        The study's link (``cx_effect``, ``value_per_cx_point``).
    agent_cost_per_hour : float, optional
        What an agent hour costs (in the unit of the value column, if any).
    units : mapping, optional
        The study's ``[kpis.NAME]`` declarations (a KPI's step).
    service_level_variant : str, default "offered"
        The study's service-level variant; Erlang A predicts the ``offered`` one, so another
        variant's effect is left out, with a note.
    same_scale : bool, default False
        The effects are on the link's CX scale (CSAT as a mean score, ``csat_variant = "mean"``): the
        CX change is multiplied by the link's churn per CX point and priced by its value per point,
        each draw of the CX change by a draw of the link. Otherwise churn and value follow the
        link's chain of the driver's contact measure.
    n_draws, seed, alpha
        Normal draws of the coefficients for the intervals, their seed, 1 - the interval's level.
    wait_hinge : WaitHinge, optional
        The contact-level model's logit hinge in the customer's own wait
        (``ContactModelResult.wait_hinge``). With it, a validated ASA driver with a threshold acts
        through P(top box | own wait) integrated over each interval's answered waits under Erlang A,
        before and after, averaged over the surveyed customers' offsets; its interval draws the
        threshold from the profile likelihood and the coefficients from their clustered covariance.

    Returns
    -------
    WhatIf
    """
    change = parse_agents(agents)
    hour_set, day_set = parse_hours(hours), parse_days(days)
    if grain not in PERIODS_PER_YEAR:
        raise OptionError(f"The 'grain' parameter must be one of 'day', 'week', 'month'. Got {grain!r} instead.")
    if agent_cost_per_hour is not None and not (isinstance(agent_cost_per_hour, (int, float))
                                                and not isinstance(agent_cost_per_hour, bool)
                                                and math.isfinite(agent_cost_per_hour) and agent_cost_per_hour >= 0):
        raise OptionError(f"The 'agent_cost_per_hour' parameter must be a number >= 0. "
                          f"Got {agent_cost_per_hour!r} instead.")
    t = inputs.table
    labels, chosen = check_segment(inputs, segment)
    levers, silent = _levers(drivers, families, units)
    if service_level_variant != "offered" and "service_level" in levers:
        del levers["service_level"]
        silent["service_level"] = (f"the study's service level is the {service_level_variant!r} variant; the queue "
                                   f"model predicts the 'offered' one: left out (contributes nothing)")
    # the first as before; the second for the hinge, the third for the queue model's misfit
    seeds = np.random.SeedSequence(seed).spawn(3)
    rng, rng_queue = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[2])
    hinge = wait_hinge if "asa" in levers and levers["asa"].threshold is not None else None
    if hinge is not None:
        tau_hinge, coef_hinge = hinge.draws(n_draws, np.random.default_rng(seeds[1]))
        hinge_period = (pd.Series(pd.to_datetime(hinge.day)).dt.to_period(_PERIOD[grain]).dt.start_time.to_numpy()
                        if pd.notna(hinge.day).any() else np.full(len(hinge.day), np.datetime64("NaT")))
    draws = {k: rng.normal(lv.effect, lv.se, n_draws) for k, lv in levers.items()}
    impact = business_impact.to_dict() if hasattr(business_impact, "to_dict") else business_impact
    notes = []
    # The link prices a point of the CX score on its own scale (CSAT 1-5), the effects are on the
    # panel's (top-2-box percentage points): the two do not multiply. The link's own chain of each
    # contact measure (wait_s for ASA: own wait -> CX score -> churn, its mediator) is on its scale,
    # so churn and value follow it, per step of the measure.
    chains = {}
    direct = None
    if impact and same_scale and impact.get("cx_effect"):
        # the effects and the link share one scale (CSAT as a mean score): CX change x churn per point
        cx = impact["cx_effect"]
        se = cx.get("se") or (cx["ci"][1] - cx["ci"][0]) / (2 * Z95)
        direct = rng.normal(cx["estimate"], se, n_draws)
        impact = {**impact, "what_if": ()}
    if direct is not None:
        pass
    elif impact:
        for row in impact.get("what_if") or ():
            if row.get("kpi") in levers:
                chains[row["kpi"]] = row
        if not chains:
            notes.append("the business-impact link has no chain for a validated queue driver (a mediator such as "
                         "wait_s): churn_change and value_change are null")
    else:
        notes.append("no business-impact link (declare [data.customers]): churn_change and value_change are null")
    link_draws = {}
    for kpi, row in chains.items():
        est, (lo, hi) = row["churn_change_pp"], row["churn_change_ci"]
        churn_d = rng.normal(est, (hi - lo) / (2 * Z95), n_draws)
        value_d = None
        if row.get("value_kept") is not None:
            vlo, vhi = row["value_kept_ci"]
            # the same draw of the churn link, scaled as the link scales it
            value_d = churn_d * (row["value_kept"] / est) if est else rng.normal(row["value_kept"], (vhi - vlo) / (2 * Z95), n_draws)
        link_draws[kpi] = (row, churn_d, value_d)
    if link_draws and all(v[2] is None for v in link_draws.values()):
        notes.append("the customers file has no value column: value_change is null")
    beyond = levers["asa"].threshold if "asa" in levers else None
    # the hinge's threshold uncertainty: the wait beyond it is also predicted at its interval's ends,
    # and each draw of the effect acts on the change beyond a drawn threshold (interpolated)
    t_ci = levers["asa"].threshold_ci if "asa" in levers else None
    taus = () if t_ci is None else (t_ci[0], t_ci[1])
    if t_ci is not None:
        z = rng.standard_normal(n_draws)
        tau_draws = np.where(z < 0, beyond + z * (beyond - t_ci[0]) / Z95, beyond + z * (t_ci[1] - beyond) / Z95)
    q = alpha / 2
    ts = pd.to_datetime(t["period_start"])
    period = ts.dt.to_period(_PERIOD[grain]).dt.start_time
    selected_time = np.ones(len(t), bool)
    if hour_set is not None:
        selected_time &= ts.dt.hour.isin(hour_set).to_numpy()
    if day_set is not None:
        selected_time &= ts.dt.day_of_week.isin(day_set).to_numpy()
    thr = inputs.threshold_s
    results, rows = [], []
    for seg in chosen:
        in_seg = (labels == seg).to_numpy()
        sel = in_seg & selected_time & np.isfinite(t["agents"].to_numpy(float))
        seg_t = t[in_seg]
        handle_fb = seg_t["handle_answered_s"].sum() / max(seg_t["answered"].sum(), 1)
        delta = np.zeros((len(t), 4 + len(taus)))
        mass = {}   # the logit hinge: each changed interval's change of answered customers on WAIT_NODES
        wait_fit = np.zeros(2)   # the answered customers' wait of the changed intervals: Erlang A's, observed
        for i in np.flatnonzero(sel):
            r = t.iloc[i]
            h = r["mean_handle_s"] if r["mean_handle_s"] > 0 else handle_fb
            n0 = float(r["agents"])
            n1 = max(n0 + change, 0.0)
            if not (h > 0):
                continue
            patience = float(r["patience_s"])
            patience = patience if patience > 0 else math.inf   # no estimate at all: the Erlang C limit
            _check(n0, float(r["arrival_rate_per_h"]), float(h), patience, thr)
            b = _interval_kpis(n0, float(r["arrival_rate_per_h"]), float(h), patience, thr, beyond)
            a = _interval_kpis(n1, float(r["arrival_rate_per_h"]), float(h), patience, thr, beyond)
            for tau in taus:   # only the wait beyond another threshold
                kw = (float(r["arrival_rate_per_h"]), float(h), patience, thr, tau)
                a, b = np.append(a, _interval_kpis(n1, *kw)[3]), np.append(b, _interval_kpis(n0, *kw)[3])
            d = (a - b) * float(r["offered"])
            delta[i] = np.where(np.isfinite(d), d, 0.0) if np.all(np.isfinite(a)) else np.nan
            if np.isfinite(b[2]):
                wait_fit += (b[2] * float(r["offered"]), float(r["wait_answered_s"]))
            if hinge is not None:
                kw = (float(r["arrival_rate_per_h"]), float(h), patience)
                mass[i] = (_answered_nodes(n1, *kw) - _answered_nodes(n0, *kw)) * float(r["offered"])
        comp = pd.DataFrame({"period": period[in_seg].to_numpy(), "offered": seg_t["offered"].to_numpy(float),
                             "abandoned": seg_t["abandoned"].to_numpy(float),
                             "within": seg_t["answered_within_t"].to_numpy(float),
                             "wait": seg_t["wait_answered_s"].to_numpy(float),
                             "d_abandoned": delta[in_seg, 0], "d_within": delta[in_seg, 1],
                             "d_wait": delta[in_seg, 2], "d_beyond": delta[in_seg, 3],
                             **{f"d_beyond_{k}": delta[in_seg, 4 + k] for k in range(len(taus))}})
        per = comp.groupby("period").sum()
        if hinge is not None:   # each changed day's change of answered customers on WAIT_NODES
            hinge_days = {}
            day = ts.dt.normalize().to_numpy()
            for i, m in mass.items():
                key = (period.to_numpy()[i], day[i])
                hinge_days[key] = hinge_days.get(key, 0.0) + np.nan_to_num(m)
        answered = per["offered"] - per["abandoned"]
        answered_after = (answered - per["d_abandoned"]).clip(lower=0)
        kpi_before = {"abandon_rate": 100 * per["abandoned"] / per["offered"],
                      "service_level": 100 * per["within"] / per["offered"],
                      "asa": per["wait"] / answered.where(answered > 0)}
        kpi_after = {"abandon_rate": 100 * (per["abandoned"] + per["d_abandoned"]).clip(lower=0) / per["offered"],
                     "service_level": 100 * (per["within"] + per["d_within"]).clip(lower=0) / per["offered"],
                     "asa": (per["wait"] + per["d_wait"]).clip(lower=0) / answered_after.where(answered_after > 0)}
        tot = per.sum()
        tot_answered = tot["offered"] - tot["abandoned"]
        tot_after = max(tot_answered - tot["d_abandoned"], 0.0)
        pooled_before = {"abandon_rate": 100 * tot["abandoned"] / tot["offered"],
                         "service_level": 100 * tot["within"] / tot["offered"],
                         "asa": tot["wait"] / tot_answered if tot_answered > 0 else math.nan}
        pooled_after = {"abandon_rate": 100 * max(tot["abandoned"] + tot["d_abandoned"], 0) / tot["offered"],
                        "service_level": 100 * max(tot["within"] + tot["d_within"], 0) / tot["offered"],
                        "asa": max(tot["wait"] + tot["d_wait"], 0) / tot_after if tot_after > 0 else math.nan}
        # Erlang A's misfit where the change acts (its wait of the answered against the observed, before
        # the change): the predicted change of the queue is taken as uncertain by that share, each
        # draw scaled by (1 + e), e ~ N(0, misfit^2); it gives the KPI changes their interval
        misfit = abs(wait_fit[0] / wait_fit[1] - 1.0) if wait_fit[1] > 0 else 0.0
        scale = 1.0 + rng_queue.normal(0.0, misfit, n_draws)
        # the tail of the wait beyond a threshold is where Erlang A's misfit shows most: a change that acts
        # there (a hinge) is scaled by the observed over Erlang A's wait of the changed intervals (a ratio
        # estimator; the mean wait's own change is left as Erlang A predicts it)
        calibration = wait_fit[1] / wait_fit[0] if wait_fit[0] > 0 and wait_fit[1] > 0 else 1.0

        def interval(x):
            return [float(np.quantile(x, q)), float(np.quantile(x, 1 - q))]

        cx_draws = np.zeros(n_draws)
        cx_point = 0.0
        churn_point, churn_dr, value_point, value_dr = 0.0, np.zeros(n_draws), 0.0, np.zeros(n_draws)
        kpis_out = {}
        for kpi in QUEUE_KPIS:
            period_change = float((kpi_after[kpi] - kpi_before[kpi]).mean())
            unit = "s" if kpi == "asa" else "%"
            lv = levers.get(kpi)
            contributes, reason, cx_k = lv is not None, silent.get(kpi, ""), 0.0
            acts_on = acts_on_draws = period_change
            if lv is not None and kpi == "asa" and hinge is not None:
                surveys = hinge.segment == seg if np.any(hinge.segment == seg) else np.ones(len(hinge.offset), bool)
                cx_k, cx_k_draws, base = _hinge_cx(hinge, surveys, hinge_period[surveys], hinge_days,
                                                   per.index.to_numpy(),
                                                   answered.to_numpy(float), -per["d_abandoned"].to_numpy(float),
                                                   tau_hinge, coef_hinge)
                reason = (f"through the contact-level logit hinge: P(top box | own wait) integrated over the "
                          f"answered customers' waits under Erlang A, before and after (threshold "
                          f"{hinge.threshold:.0f} s, {hinge.threshold_ci[0]:.0f}-{hinge.threshold_ci[1]:.0f} s, "
                          f"drawn from its profile; base {100 * base:.1f} % top box)")
            elif lv is not None:
                if lv.threshold is not None:
                    def beyond(col):
                        return float((per[col] / answered.where(answered > 0)).mean())
                    beyond_change = acts_on = acts_on_draws = beyond("d_beyond")
                    reason = (f"through the contact-level hinge: the answered customers' mean wait beyond "
                              f"{lv.threshold:.0f} s changes by {beyond_change:+.2f} s")
                    if taus:
                        ends = [beyond(f"d_beyond_{k}") for k in range(len(taus))]
                        acts_on_draws = np.interp(tau_draws, [taus[0], lv.threshold, taus[1]],
                                                  [ends[0], beyond_change, ends[1]])
                        reason += (f" ({ends[0]:+.2f} to {ends[1]:+.2f} s beyond the ends of its interval, "
                                   f"{taus[0]:.0f}-{taus[1]:.0f} s, which the CX interval includes)")
                else:
                    reason = "validated driver: its joint effect per step"
                cx_k = lv.effect * acts_on / lv.step
                cx_k_draws = draws[kpi] * acts_on_draws / lv.step
            if lv is not None:
                if lv.threshold is not None:   # acts through the wait beyond the threshold
                    cx_k, cx_k_draws = cx_k * calibration, cx_k_draws * calibration
                if kpi in link_draws:
                    row, churn_d, value_d = link_draws[kpi]
                    # the chain is for one step better (10 s shorter): x s longer is -x/10 of it
                    steps_better = -period_change / lv.step
                    churn_point += steps_better * row["churn_change_pp"]
                    churn_dr += steps_better * churn_d
                    if value_d is not None:
                        value_point += steps_better * row["value_kept"]
                        value_dr += steps_better * value_d
                cx_point += cx_k
                cx_draws += cx_k_draws
            change_ci = interval(period_change * scale) if np.isfinite(period_change) else [math.nan, math.nan]
            kpis_out[kpi] = {"before": pooled_before[kpi], "after": pooled_after[kpi],
                             "change_per_period": period_change, "change_ci": change_ci, "unit": unit,
                             "contributes": contributes,
                             "cx_change": cx_k, "reason": reason}
            rows.append({"segment": seg, "kpi": kpi, "before": pooled_before[kpi], "after": pooled_after[kpi],
                         "change": period_change, "ci_low": change_ci[0], "ci_high": change_ci[1], "unit": unit,
                         "contributes": contributes, "cx_change": cx_k,
                         "reason": reason})
        any_lever = bool(levers)
        cx_draws, churn_dr, value_dr = cx_draws * scale, churn_dr * scale, value_dr * scale

        cx_change = {"estimate": cx_point, "ci": interval(cx_draws) if any_lever else [0.0, 0.0],
                     "unit": "points of the study's outcome (as its effects: e.g. CSAT top-2-box percentage points)"}
        churn = value_change = None
        if direct is not None:
            churn_dr = cx_draws * direct
            churn = {"estimate": cx_point * impact["cx_effect"]["estimate"], "ci": interval(churn_dr),
                     "unit": f"percentage points of {impact.get('outcome', 'churn')} within "
                             f"{impact.get('window_days')} days, through CX", "through": ["cx_effect"]}
            value = impact.get("value_per_cx_point")
            if value and np.isfinite(value.get("value_per_customer", math.nan)):
                per_pp = value["customers_per_year"] * value["value_per_customer"] / 100.0
                value_dr = -churn_dr * per_pp
                value_change = {"estimate": -churn["estimate"] * per_pp, "ci": interval(value_dr),
                                "unit": value.get("unit")}
        elif link_draws:
            churn = {"estimate": churn_point, "ci": interval(churn_dr),
                     "unit": f"percentage points of {impact.get('outcome', 'churn')} within "
                             f"{impact.get('window_days')} days, through CX",
                     "through": sorted(link_draws)}
            units_v = [v[0].get("unit") for v in link_draws.values() if v[2] is not None]
            if units_v:
                value_change = {"estimate": value_point, "ci": interval(value_dr), "unit": units_v[0]}
        hours_changed = float((t["interval_h"].to_numpy(float) * sel).sum())
        on_duty = _agents_changed(t, sel, change)
        n_periods = max(per.index.nunique(), 1)
        cost = cost_per_point = payback = None
        if agent_cost_per_hour is not None:
            per_period = change * hours_changed / n_periods * agent_cost_per_hour
            per_year = per_period * PERIODS_PER_YEAR[grain]
            cost = {"agent_hours_per_period": change * hours_changed / n_periods, "per_period": per_period,
                    "per_year": per_year, "total": change * hours_changed * agent_cost_per_hour,
                    "agent_cost_per_hour": agent_cost_per_hour, "period": grain}
            if cx_point != 0:
                ratio = per_period / cx_draws
                lo, hi = interval(ratio) if (np.sign(cx_draws) == np.sign(cx_point)).all() else (None, None)
                cost_per_point = {"estimate": per_period / cx_point, "ci": [lo, hi],
                                  "unit": f"cost per {grain} per point of CX"}
            if value_change is not None:
                value_change["net_per_year"] = value_change["estimate"] - per_year
                if per_year > 0:
                    payback = {"value_per_cost": value_change["estimate"] / per_year,
                               "ci": interval(value_dr / per_year), "net_per_year": value_change["estimate"] - per_year,
                               "net_ci": interval(value_dr - per_year),
                               "rule": "value kept per year / cost per year (above 1: it pays for itself)"}
        sentence = (f"{change:+g} agents ({hours_changed / n_periods:.1f} h per {grain}) change CX by "
                    f"{cx_point:+.2f} [{cx_change['ci'][0]:+.2f}, {cx_change['ci'][1]:+.2f}]")
        if not any_lever:
            sentence += " (no validated queue driver: nothing reaches CX)"
        if churn is not None:
            sentence += f", churn by {churn['estimate']:+.3f} pp [{churn['ci'][0]:+.3f}, {churn['ci'][1]:+.3f}]"
        if value_change is not None:
            sentence += (f", worth {value_change['estimate']:,.0f} [{value_change['ci'][0]:,.0f}, "
                         f"{value_change['ci'][1]:,.0f}] {value_change['unit']}")
        if cost is not None:
            sentence += f"; cost {cost['per_year']:,.0f} per year"
        if payback is not None:
            sentence += (f"; returns {payback['value_per_cost']:.2f} per 1 spent [{payback['ci'][0]:.2f}, "
                         f"{payback['ci'][1]:.2f}]")
        results.append({"segment": seg, "intervals_changed": int(sel.sum()), "agent_hours_changed": hours_changed,
                        "queue_misfit": misfit, "queue_calibration": calibration,
                        "agents": on_duty,
                        "n_periods": int(n_periods), "kpis": kpis_out, "cx_change": cx_change,
                        "churn_change": churn, "value_change": value_change, "cost": cost,
                        "cost_per_cx_point": cost_per_point, "payback": payback, "sentence": sentence})
    for kpi, reason in silent.items():
        notes.append(f"{kpi}: {reason}")
    note = agents_note(t)
    if note:
        notes.append(note)
    notes.append("aht, fcr and every other KPI are not changed by staffing in this model and contribute nothing")
    change_d = {"agents": change, "segment": segment, "hours": hours if hours is None or isinstance(hours, str)
                else ",".join(map(str, hours)), "days": days if days is None or isinstance(days, str)
                else ",".join(map(str, days)), "grain": grain, "model": "Erlang A per interval",
                "interval_minutes": inputs.interval, "n_draws": n_draws, "seed": seed, "alpha": alpha}
    return WhatIf(change=change_d, segments=results, table=pd.DataFrame(rows), notes=tuple(notes))


def _agents_changed(t: pd.DataFrame, sel: np.ndarray, change: float) -> dict:
    """The agents on duty of the changed intervals: time-averages before and after, and their source."""
    h = t["interval_h"].to_numpy(float)[sel]
    n0 = t["agents"].to_numpy(float)[sel]
    before = float((n0 * h).sum() / h.sum()) if h.sum() > 0 else None
    after = float((np.maximum(n0 + change, 0.0) * h).sum() / h.sum()) if h.sum() > 0 else None
    sources = sorted(set(t["agents_source"].to_numpy()[sel]))
    return {"before": before, "after": after, "source": " and ".join(sources) if sources else None}


def agents_note(t: pd.DataFrame) -> str | None:
    """Where the agents on duty came from, for a result's notes: None when all from a staffing source."""
    inferred = int((t["agents_source"] == "inferred").sum())
    if not inferred:
        return None
    return (f"the agents on duty of {inferred:,} of {len(t):,} intervals are inferred from agent_id (an estimate, "
            f"AgentsInferredWarning); declare [data.staffing] for the real counts")


def _same_scale(study) -> bool:
    """Whether the study's effects are on the business-impact link's CX scale: CSAT as a mean score."""
    options = getattr(study, "kpi_options", None)
    return getattr(study, "outcome", None) == "csat" and getattr(options, "csat_variant", "top2") == "mean"


def study_inputs(study, *, panel=None, interval: int = 60):
    """The queue inputs of a study's contacts, by its segment column, over the window it used (its
    panel's, when given, else the study's ``start`` and ``end``).

    Agents come from the study's staffing source (``[data.staffing]``, ``agents_source =
    "staffing"``) when it declares one, else from the on-duty estimate of ``agent_id``
    (``"inferred"``, with an :class:`~alignment.exceptions.AgentsInferredWarning`).
    """
    from .inputs import queue_inputs
    options = getattr(study, "kpi_options", None)
    return queue_inputs(study.contacts, interval=interval, by=study.by, timezone=study.timezone,
                        start=getattr(panel, "start", None) or study.start,
                        end=getattr(panel, "end", None) or study.end, staffing=study.staffing,
                        threshold_s=getattr(options, "service_level_threshold_s", 20))


def whatif(result, *, agents, segment=None, hours=None, days=None, interval: int = 60, n_draws: int = 2000,
           inputs=None) -> WhatIf:
    """The what-if of a staffing change on a study's findings (:meth:`StudyResult.whatif`).

    Reads the study's contacts into queue inputs (agents from ``[data.staffing]`` when given, else
    the on-duty estimate, with its warning), over the window the study used, by its segment
    column, and calls :func:`whatif_from_inputs` with the study's drivers, families,
    business-impact link, ``[study] agent_cost_per_hour``, seed and the contact-level model's
    logit hinge in the customer's own wait (when it found a threshold).
    """
    s = result.study
    options = getattr(s, "kpi_options", None)
    inputs = study_inputs(s, panel=result.panel, interval=interval) if inputs is None else inputs
    return whatif_from_inputs(inputs, agents=agents, segment=segment, hours=hours, days=days, grain=s.grain,
                              drivers=result.drivers, families=result.families,
                              business_impact=result.business_impact,
                              agent_cost_per_hour=getattr(s, "agent_cost_per_hour", None),
                              units=getattr(s, "units", None), n_draws=n_draws, seed=s.seed,
                              service_level_variant=getattr(options, "service_level_variant", "offered"),
                              same_scale=_same_scale(s), wait_hinge=_wait_hinge(result))


def _wait_hinge(result):
    """The study's contact-level logit hinge in the customer's own wait, if its contact model has one."""
    return getattr(getattr(result, "contact_model", None), "wait_hinge", None)


def _cells(inputs, grain: str):
    """The inputs pooled into weekday x hour cells per segment, as one synthetic period of the grain.

    Counts and sums are added; the arrival rate is offered over the cell's real hours, the handle
    time and patience pooled from their sums, the agents a time-average. Each cell's hours are
    scaled to hours per period of the grain, so that the what-if's cost per period holds.
    """
    from dataclasses import replace
    t = inputs.table.copy()
    by = list(inputs.by)
    ts = pd.to_datetime(t["period_start"])
    t["weekday"], t["hour"] = ts.dt.day_of_week, ts.dt.hour
    t["agent_h"] = t["agents"] * t["interval_h"]
    keys = [*by, "weekday", "hour"]
    sums = t.groupby(keys, sort=True)[["offered", "abandoned", "answered", "answered_within_t", "wait_answered_s",
                                        "wait_queued_s", "handle_answered_s", "interval_h", "agent_h"]].sum().reset_index()
    period = ts.dt.to_period(_PERIOD[grain])
    n_real = max(period.nunique(), 1)
    n_synth = 7 if grain == "day" else 1
    sums["arrival_rate_per_h"] = sums["offered"] / sums["interval_h"]
    sums["mean_handle_s"] = sums["handle_answered_s"] / sums["answered"].where(sums["answered"] > 0)
    sums["patience_s"] = (sums["wait_queued_s"] / sums["abandoned"].where(sums["abandoned"] > 0)).fillna(math.inf)
    sums["agents"] = sums["agent_h"] / sums["interval_h"]
    sums["interval_h"] = sums["interval_h"] * n_synth / n_real
    sums["mean_handle_s"] = sums["mean_handle_s"].fillna(0.0)
    # 2001-01-01 is a Monday: one synthetic week (a day per weekday, or one month)
    sums["agents_source"] = t.groupby(keys, sort=True)["agents_source"].agg(
        lambda x: " and ".join(sorted(set(x)))).to_numpy()
    sums["period_start"] = (pd.Timestamp("2001-01-01") + pd.to_timedelta(sums["weekday"], unit="D")
                            + pd.to_timedelta(sums["hour"], unit="h"))
    return replace(inputs, table=sums.drop(columns=["agent_h"]))


def _hours_words(hours) -> str:
    """(9, 10, 11, 14) -> "9-12 h and 14-15 h"."""
    runs, start, prev = [], None, None
    for h in sorted(hours):
        if start is None:
            start = prev = h
        elif h == prev + 1:
            prev = h
        else:
            runs.append((start, prev + 1))
            start = prev = h
    if start is not None:
        runs.append((start, prev + 1))
    if runs == [(0, 24)]:
        return "around the clock"
    words = [f"{a}-{b} h" for a, b in runs]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True, repr=False)
class Decisions(Displayed):
    """Per segment, the cheapest staffing change (``+1`` .. ``+max_agents`` agents in some hours of
    every day) that gains one CX point, its cost and what it is worth.

    ``table``: ``segment, agents, hours, hours_per_period, cx_change, cx_ci_low, cx_ci_high, cost_per_year,
    value_per_year, value_ci_low, value_ci_high, reaches_one_point, sentence``.
    """

    table: pd.DataFrame
    max_agents: int
    grain: str
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return list(self.table["sentence"])

    def summary(self) -> str:
        return "\n".join(["Decisions: the cheapest staffing change that gains one CX point", *self.lines(),
                          *(f"note: {n}" for n in self.notes)])

    def to_dict(self) -> dict:
        from ..study.result import plain
        return plain({"max_agents": self.max_agents, "grain": self.grain, "rows": self.table.to_dict("records"),
                      "notes": list(self.notes)})


def decisions(result, *, max_agents: int = 5, n_draws: int = 1000, inputs=None) -> Decisions | None:
    """The Decisions table of a study, or None when it cannot be computed (no ``agent_cost_per_hour``,
    or no validated queue driver).

    For each segment and each of +1 .. +``max_agents`` agents on duty, the hours of the day are
    added greedily, those where an agent buys the most CX per agent hour first, until the CX gain
    estimate reaches one point; the cheapest such change is kept (when none reaches it, the one
    with the largest gain, and the line says so). Computed on the weekday x hour cells of the
    window (the queue inputs pooled per cell: one Erlang A per cell rather than per interval, so
    that the search takes seconds; ``alignment whatif --hours`` gives the per-interval figure).
    Agents come from the study's ``[data.staffing]`` when it declares one, else from the on-duty
    estimate (:func:`study_inputs`, with its warning); a note says which.
    """
    s = result.study
    cost = getattr(s, "agent_cost_per_hour", None)
    levers, _ = _levers(result.drivers, result.families, getattr(s, "units", None))
    if cost is None or not levers:
        return None
    options = getattr(s, "kpi_options", None)
    inputs = study_inputs(s, panel=result.panel, interval=60) if inputs is None else inputs
    if len(inputs.by) > 1:
        return None
    cells = _cells(inputs, s.grain)
    rows, notes = [], []
    _, segments = check_segment(cells, None)
    kw = dict(grain=s.grain, drivers=result.drivers, families=result.families,
              business_impact=result.business_impact, agent_cost_per_hour=cost, units=getattr(s, "units", None),
              n_draws=n_draws, seed=s.seed,
              service_level_variant=getattr(options, "service_level_variant", "offered"), same_scale=_same_scale(s))

    def run(seg, n, hours):
        return whatif_from_inputs(cells, agents=n, segment=None if not inputs.by else seg, hours=hours,
                                  **kw).segments[0]

    for seg in segments:
        # greedy over the hours of the day: add the hours where an agent buys the most CX per agent
        # hour until the gain reaches one point; the cheapest such change over +1 .. +max_agents wins
        open_hours = sorted({int(h) for h in pd.to_datetime(cells.table["period_start"]).dt.hour})
        best = fallback = None
        seg_rows = cells.table if not inputs.by else cells.table[cells.table[inputs.by[0]].astype(str) == seg]
        least_hours = float(seg_rows.groupby(pd.to_datetime(seg_rows["period_start"]).dt.hour)["interval_h"]
                            .sum().min()) if len(seg_rows) else 0.0
        for n in range(1, max_agents + 1):
            if best is not None and n * least_hours * cost * PERIODS_PER_YEAR[s.grain] >= best[0]:
                break  # n agents in the one cheapest hour already cost more than the best change
            gains = []
            for h in open_hours:
                r = run(seg, n, (h,))
                if r["agent_hours_changed"] > 0:
                    gains.append((r["cx_change"]["estimate"] / r["agent_hours_changed"], h))
            chosen_hours = []
            for _, h in sorted(gains, reverse=True):
                chosen_hours.append(h)
                r = run(seg, n, tuple(sorted(chosen_hours)))
                if r["cx_change"]["estimate"] >= 1:
                    break
            candidate = (r["cost"]["per_year"], n, tuple(sorted(chosen_hours)), r)
            if r["cx_change"]["estimate"] >= 1:
                best = min(best, candidate, key=lambda c: c[0]) if best else candidate
            elif fallback is None or r["cx_change"]["estimate"] > fallback[3]["cx_change"]["estimate"]:
                fallback = candidate
        _, n, hour_set, r = best or fallback
        cx, c, v = r["cx_change"], r["cost"], r["value_change"]
        reaches = cx["estimate"] >= 1
        hours = r["agent_hours_changed"] / max(r["n_periods"], 1)
        head = (f"{seg}: {n} more agent{'s' if n > 1 else ''} on duty {_hours_words(hour_set)} every day "
                f"({hours:,.0f} agent hours a {s.grain}, costing about {c['per_year']:,.0f} a year)")
        gain = (f"{'gains' if reaches else 'gains only'} {cx['estimate']:.1f} CX points (95 % interval "
                f"{cx['ci'][0]:.1f} to {cx['ci'][1]:.1f})")
        if not reaches:
            gain += f": no change up to +{max_agents} agents reaches one point"
        worth = (f"worth about {v['estimate']:,.0f} {v['unit']} in customers kept ({v['ci'][0]:,.0f} to "
                 f"{v['ci'][1]:,.0f})" if v is not None else "its value is unknown without a customers file "
                                                             "with a value column")
        per_point = r["cost_per_cx_point"]
        rows.append({"segment": seg, "agents": n, "hours": _hours_words(hour_set), "hours_per_period": hours, "cx_change": cx["estimate"],
                     "cx_ci_low": cx["ci"][0], "cx_ci_high": cx["ci"][1], "cost_per_year": c["per_year"],
                     "cost_per_cx_point_per_year": (per_point["estimate"] * PERIODS_PER_YEAR[s.grain]
                                                    if per_point else None),
                     "value_per_year": v["estimate"] if v else None, "value_ci_low": v["ci"][0] if v else None,
                     "value_ci_high": v["ci"][1] if v else None, "reaches_one_point": reaches,
                     "sentence": f"{head} {gain}; {worth}."})
    notes.append("searched on weekday x hour cells of the window (one Erlang A per cell); "
                 "alignment whatif --hours gives the per-interval figure")
    notes.append(agents_note(inputs.table) or "agents on duty from the staffing source ([data.staffing])")
    return Decisions(table=pd.DataFrame(rows), max_agents=max_agents, grain=s.grain, notes=tuple(notes))


_DECISIONS: dict = {}


def decision_rows(result) -> dict | None:
    """The report's Decisions table for ``result``: formatted rows and notes, or None when the study
    cannot compute it (computed once per result: the HTML and Markdown reports share it)."""
    key = id(result)
    if key not in _DECISIONS:
        d = decisions(result) if getattr(result.study, "agent_cost_per_hour", None) is not None else None
        _DECISIONS[key] = d
        try:
            import weakref
            weakref.finalize(result, _DECISIONS.pop, key, None)
        except TypeError:  # an object without weak references: keep it
            pass
    d = _DECISIONS[key]
    if d is None:
        return None
    rows = []
    for r in d.table.to_dict("records"):
        worth = (f"{r['value_per_year']:,.0f} ({r['value_ci_low']:,.0f} to {r['value_ci_high']:,.0f})"
                 if r["value_per_year"] is not None and r["value_per_year"] == r["value_per_year"] else "unknown")
        rows.append({"segment": r["segment"],
                     "change": f"+{r['agents']} agent{'s' if r['agents'] > 1 else ''}, {r['hours']} every day",
                     "cost": f"{r['cost_per_year']:,.0f}",
                     "gain": f"{r['cx_change']:+.1f} ({r['cx_ci_low']:+.1f} to {r['cx_ci_high']:+.1f})"
                             + ("" if r["reaches_one_point"] else ", below one point"),
                     "worth": worth, "sentence": r["sentence"]})
    by = tuple(getattr(result.study, "by", ()) or ())
    return {"rows": rows, "notes": list(d.notes), "segment_word": by[0] if by else "centre"}
