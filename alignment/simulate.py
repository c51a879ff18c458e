"""Simulate a contact-center world whose customer-experience drivers are known.

:func:`simulate` writes contact records, survey responses and daily extra
sources in the canonical formats of the API contract, together with the truth
it planted (``truth.json``). The world is built to test a driver analysis the
way real data would test it:

* three real drivers of satisfaction at the week x queue grain: the week's
  average speed of answer (ASA) with a threshold (no effect below 60 s, a steep
  fall above), first-contact resolution (FCR), and last week's e-mail backlog
  (a lagged driver: lag 7 days, lag 1 at week grain);
* non-drivers that fool a naive correlation, as real data's traps do: a trend
  trap (``marketing_spend`` rises over the year while satisfaction drifts up for
  an unmeasured reason), a between-segment trap (queues with a higher baseline
  satisfaction have a shorter average handle time, ``aht``, but week-to-week
  handle time does not move satisfaction) and a common-shock trap (``offered``,
  the contact volume, see below);
* pure noise (``training_hours``, ``transfer_rate``).

Three mechanisms of real centres can be switched off one by one (all are on by
default):

* **incident days** (``incidents``): about one day in 25, sometimes two or three
  days running, an outage or a billing run gone wrong hits every queue at once:
  volume rises 1.3-1.8 times, so occupancy and waits rise through the queue
  mechanics, and satisfaction falls for reasons of its own (a direct shift of
  the response latent of that day's contacts, whatever the wait);
* **weekday mood** (``weekday_mood``): customers are grumpier on Mondays and
  milder on Fridays and weekends, on top of the weekday volume pattern, so at
  day grain volume and mood move together through the weekday;
* **contact reasons** (``reasons``): every contact has a ``reason`` (order status,
  billing question, change of plan, technical fault, complaint) whose complexity
  lengthens handling and lowers satisfaction. The reason mix shifts mostly
  centre-wide (complaints and faults rise on incident days and in a few
  product-defect weeks), so panel-level handle time co-moves with satisfaction
  although handle time itself has no effect.

Incidents and weekday mood make ``offered`` a common-shock trap: it has no
effect of its own but rises on the days satisfaction falls. Shocks common to
all queues are what period fixed effects remove; a sound analysis (within queue
and period, or detrended or differenced, lags considered) of the default
52 weeks x 4 queues finds the drivers and rejects the traps.

The outcome model, every coefficient and the role of every column are written
to ``truth.json`` (see :func:`simulate`).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd

from alignment.exceptions import OptionError

__all__ = ["simulate"]

# One independent random stream per component, spawned in this fixed order, so
# that changing how one component is generated leaves the others unchanged.
_COMPONENTS = (
    "queues", "volume", "intraday", "staffing", "waits", "handle", "resolution",
    "transfer", "customers", "agents", "quality", "backlog", "marketing", "training",
    "response", "timing", "scores",
    # Appended later; new streams go at the end so the ones above stay unchanged.
    "incidents", "reasons", "churn",
)

_QUEUE_NAMES = ("billing", "orders", "tech_support", "retention",
                "claims", "accounts", "loyalty", "business")

# Planted outcome model (logit scale of the top-two-box probability).
_DRIFT_LOGIT = 1.0            # unmeasured drift over the whole window
_FCR_LOGIT = 2.0              # resolved on first contact vs not
_ASA_THRESHOLD_S = 60.0       # ASA threshold of the hinge
_ASA_SLOPE = -0.02            # logit per second of weekly ASA above the threshold
# wait_effect="contact": the hinge sits on the customer's OWN wait instead. A customer's wait
# varies far more than a queue-week's mean, so the slope is smaller: -0.01 logit per second
# above 60 s is -0.6 per extra minute, about -14 top-2-box points for a customer with
# baseline 80 % who waits 120 s, and a fall of only 1-3 points in a queue-week's mean CSAT
# (most customers wait less than 60 s): modest at the panel grain, real for the customer.
_CONTACT_WAIT_SLOPE = -0.01   # logit per second of the customer's own wait above the threshold
_WAIT_EFFECTS = ("period", "contact")
_QUEUE_PATIENCE_S = 300.0     # queue=True: mean of the exponential patience
_BACKLOG_SLOPE = -0.003       # logit per e-mail of last week's mean daily backlog
_ITEM_SD = 0.4                # per-item noise added to the shared response latent
_FCR_WEEK_SD = 0.5            # sd of the weekly FCR logit around the queue's typical level
_MARKETING_GROWTH = 1.5       # spend grows by this multiple of its start level
_CSAT_CUTS = (-2.2, -1.2, 0.0, 1.8)                  # 1..5, top-two box above 0
_NPS_CUTS = (-4.0, -3.4, -2.8, -2.2, -1.7, -1.2, -0.5, 0.3, 1.0, 2.3)  # 0..10
_CES_CUTS = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)        # 1..7 on the negated latent

# Incident days: episodes of 1-3 consecutive days common to all queues. One
# severity s ~ U(0, 1) per episode sets both the volume multiplier and the
# direct logit shift, so bigger incidents bring more and angrier customers.
_INCIDENT_RATE = 0.04                       # expected share of incident days (1 in 25)
_INCIDENT_LENGTHS = (1, 2, 3)
_INCIDENT_LENGTH_P = (0.7, 0.2, 0.1)
_INCIDENT_VOLUME = (1.3, 1.8)               # volume multiplier at s = 0 and s = 1
_INCIDENT_LOGIT = (-0.4, -0.8)              # direct latent shift at s = 0 and s = 1
_INCIDENT_TILT = 1.5                        # reason-mix tilt towards complex reasons

# Weekday mood: logit shift of the response latent by the contact's local
# weekday, Monday first. Wednesday is the reference (0); the volume-weighted
# mean is about -0.01, so alpha keeps its meaning.
_WEEKDAY_MOOD = np.array([-0.25, -0.10, 0.0, 0.05, 0.15, 0.10, 0.10])
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                  "Sunday")

# Contact reasons: (name, base share, complexity in [0, 1]). Complexity sets the
# handle-time multiplier exp(_REASON_HANDLE * c) and the latent shift
# _REASON_LOGIT * c, both centred on the base mix (mean multiplier 1, mean shift
# 0), so aht_s and alpha keep their meaning at the base mix.
_REASONS = (("order_status", 0.25, 0.0), ("billing_question", 0.30, 0.2),
            ("change_of_plan", 0.20, 0.4), ("technical_fault", 0.15, 0.8),
            ("complaint", 0.10, 1.0))
_REASON_HANDLE = 1.0          # log handle multiplier per unit of complexity
_REASON_LOGIT = -2.0          # logit per unit of complexity
_REASON_CENTRE_SD = 0.4       # sd of the centre-wide weekly tilt (AR(1))
_REASON_CENTRE_PHI = 0.7
_DEFECT_RATE = 0.06           # weekly chance that a product-defect episode starts
_DEFECT_LENGTH_P = (0.6, 0.4)  # lasting 1 or 2 weeks
_DEFECT_TILT = 1.0            # reason-mix tilt in defect weeks
_REASON_QUEUE_SD = 0.15       # sd of the queue-specific weekly tilt (AR(1))
_REASON_QUEUE_PHI = 0.5

# Calendar patterns (normalized to mean 1 where they scale volume).
_WEEKDAY_VOLUME = np.array([1.25, 1.15, 1.10, 1.05, 1.00, 0.55, 0.35])
_WEEKDAY_HOURS = np.arange(8, 20)       # 08:00-19:59 Monday-Friday
_WEEKDAY_PROFILE = np.array([0.6, 1.0, 1.3, 1.35, 1.1, 1.0, 1.2, 1.25, 1.1, 0.9, 0.7, 0.5])
_WEEKEND_HOURS = np.arange(9, 17)       # 09:00-16:59 Saturday-Sunday
_WEEKEND_PROFILE = np.array([0.7, 1.0, 1.2, 1.2, 1.1, 1.0, 0.9, 0.6])
_WEEKDAY_BACKLOG = np.array([1.10, 1.05, 1.00, 0.97, 0.95, 0.95, 0.98])
_WEEKDAY_MARKETING = np.array([1.1, 1.1, 1.1, 1.1, 1.0, 0.6, 0.5])


def simulate(out_dir, *, seed, days=364, queues=4, start="2025-01-06",
             timezone="America/New_York", contacts_per_day=60, incidents=True,
             incident_rate=_INCIDENT_RATE, weekday_mood=True, reasons=True,
             wait_effect="period", churn=None, queue=False, staffing=None):
    """Write a simulated contact-center world and return its planted truth.

    Parameters
    ----------
    out_dir : str or path-like
        Directory to write into (created if missing; existing files of the same
        names are overwritten).
    seed : int
        Non-negative seed. Child streams come from ``numpy.random.SeedSequence
        (seed).spawn``, one per component; the same arguments give byte-identical
        files.
    days : int, default 364
        Number of local calendar days, from ``start``. 364 days from a Monday
        are 52 full ISO weeks.
    queues : int, default 4
        Number of queues (segments). The first four are billing, orders,
        tech_support and retention, in falling order of baseline satisfaction
        and rising order of handle time.
    start : str, default "2025-01-06"
        First local date, ``YYYY-MM-DD``.
    timezone : str, default "America/New_York"
        IANA timezone of the center; times are written with its UTC offset, so
        daylight-saving changes show in the offsets.
    contacts_per_day : float, default 60
        Mean number of contacts offered per queue per day (queues differ in
        size around this mean; weekends are quieter).
    incidents : bool, default True
        Plant incident days common to all queues: volume x 1.3-1.8 (so
        occupancy and waits rise), and a direct logit shift of -0.4 to -0.8 on
        the satisfaction of that day's contacts, whatever their wait.
    incident_rate : float, default 0.04
        Expected share of incident days (0 to 0.5), about 1 day in 25. Episodes
        last 1, 2 or 3 consecutive days (probabilities 0.7, 0.2, 0.1).
    weekday_mood : bool, default True
        Shift the satisfaction latent by the local weekday of the contact
        (Monday -0.25, Tuesday -0.10, Wednesday 0, Thursday +0.05, Friday +0.15,
        Saturday and Sunday +0.10 logit).
    reasons : bool, default True
        Give every contact a ``reason`` whose complexity multiplies its handle
        time and shifts its satisfaction latent; the reason mix tilts to complex
        reasons on incident days and in product-defect weeks, and wobbles a
        little per queue and week.
    wait_effect : {"period", "contact"}, default "period"
        Where the waiting driver acts. ``"period"``: the hinge on the realized
        weekly ASA of the queue (every response of a queue-week gets the same
        shift; the files are those of the simulator before this switch).
        ``"contact"``: the same hinge (no effect up to 60 s) on the customer's
        own ``wait_s``, with a slope of -0.01 logit per second above it (-0.6
        per extra minute): a customer-level effect, the one a contact-level
        model (:func:`alignment.contact.fit_contact_model`) estimates; weekly
        ASA then drives satisfaction only through the customers who waited.
        No new random draws: contacts, waits and every other file but
        ``surveys.csv`` are the same as with ``"period"``.
    churn : {None, "cx", "none"}, default None
        Also write ``customers.csv`` (``customer_id, churned_at, annual_revenue``)
        for the identified customers. ``"cx"``: every answered contact has an
        experienced satisfaction, the CSAT the customer would give it (the survey
        reports it for the surveyed contacts); with probability
        ``expit(-3.9 - 0.45 (csat - 3))`` the contact makes the customer decide to
        leave, uniformly within the next 90 days; the customer leaves at the first
        such date. Waiting thus moves churn only through satisfaction.
        ``"none"``: the same with a slope of 0 (a null world). A departure after
        the last contact is not yet seen (blank). ``truth["business_impact"]``
        holds the planted slope and the effect a churn link should find (see
        :func:`_churn_truth`). No other file changes.
    queue : bool, default False
        A real queue instead of the reduced-form waits: per queue and local hour,
        N agents on duty from a staffing plan, exponential service (mean: the
        queue's handle time, times the week's and the reason's factors) and
        exponential patience (mean 300 s), first come first served (M/M/N+M per
        hour; an agent going off duty finishes the call). ``wait_s``,
        ``abandoned``, ``handle_s`` and ``agent_id`` come out of the queue, and
        satisfaction depends on the waits as ``wait_effect`` says (``"contact"``:
        the customer's own wait). The plan staffs the load it expects (without
        the day's surprise and incidents) at the queue's planned occupancy, less
        the shortfall episodes; it is written to ``staffing.csv`` (``time, queue,
        agents``, the local start of each open hour, readable as
        ``[data.staffing]``) and recorded in ``truth["queue"]`` with the queue's
        parameters; training hours go to ``training.csv``. Other streams are
        unchanged, so the arrivals, reasons, resolution, customers and surveys'
        draws are those of ``queue=False``. Give ``contacts_per_day`` of a few
        hundred or more: at 60 a queue has one or two agents.
    staffing : DataFrame or path, optional
        With ``queue=True``: the staffing plan to use instead (``time, queue,
        agents``, one row per open hour and queue, such as a world's
        ``staffing.csv`` with changed agents). The same seed with a changed plan
        reruns the same customers (arrivals, service times, patience) through the
        changed queue: the planted truth of a staffing what-if.

    Returns
    -------
    dict
        The planted truth, identical to the content of ``out_dir/truth.json``:
        ``seed, days, queues, start, timezone, contacts_per_day, grain_note,
        drivers`` (one entry per planted variable with ``name, role, sign,
        lag_days, lag_weeks, threshold, effect, traps``; ``role`` is ``driver``,
        ``trap_trend``, ``trap_between_segment``, ``non_driver`` or ``noise``,
        ``traps`` lists the mechanisms that make a non-driver look like one:
        ``trend``, ``between_segment``, ``common_shock``, ``reason_mix``),
        ``proxies`` (KPIs that move with a driver without entering the outcome
        model), ``queue_parameters``, ``outcome_model`` (text), ``files``, and
        one entry per switchable mechanism, ``incidents`` (its parameters and
        the incident ``dates``), ``weekday_mood`` (the shift per weekday) and
        ``reasons`` (each reason's base share, complexity, handle multiplier
        and logit shift, and the product-defect weeks), each with ``enabled``.
        With ``queue=True`` also ``queue``: the queue's model and parameters, the
        staffing plan (``agents`` per queue, date and open hour; ``plan`` is
        ``planned`` or ``given``) and ``expected_csat_top2_pct`` per queue and
        week (``weeks``), the expected CSAT top-two-box share of the week's
        responses given its contacts.

    Raises
    ------
    alignment.exceptions.OptionError
        If a parameter has an invalid value.

    Notes
    -----
    Files (CSV, UTF-8, comma-separated, ``\\n`` line ends):

    ``contacts.csv``
        contact_id, queue, channel, arrived_at, answered, abandoned, wait_s,
        handle_s, transferred, resolved, customer_id, quality_score, agent_id,
        and with ``reasons=True`` a last column ``reason`` (order_status,
        billing_question, change_of_plan, technical_fault, complaint).
    ``surveys.csv``
        survey_id, contact_id, responded_at, csat (1-5), nps (0-10), ces (1-7,
        higher = more effort).
    ``backlog.csv``
        date, queue, email_backlog (daily snapshot of open e-mails).
    ``marketing.csv``
        date, marketing_spend (center-wide daily spend).
    ``staffing.csv``
        date, queue, training_hours (agent hours spent in training); with
        ``queue=True`` instead time, queue, agents (the staffing plan) and the
        training hours in ``training.csv``.
    ``truth.json``
        The returned dictionary.

    Booleans are written ``true``/``false``; ``wait_s`` and ``handle_s`` are
    whole seconds, ``handle_s`` is 0 unless the contact was answered. About
    0.2 % of the contacts that queue are dropped by the system (neither
    answered nor abandoned). Surveys go to answered contacts only; 5 % of the
    responses leave ``nps`` and 8 % leave ``ces`` blank. Weeks are Monday-start
    weeks of the local calendar; the planted drivers act at the week x queue
    grain, incidents and weekday mood on the contact's local day, reasons on the
    contact (see ``truth["outcome_model"]``). With ``incidents=False,
    weekday_mood=False, reasons=False`` the files are byte-identical to those of
    the simulator before these mechanisms existed (``truth.json`` only gains
    keys).

    Examples
    --------
    >>> import tempfile
    >>> from alignment.simulate import simulate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     truth = simulate(tmp, seed=1, days=14, queues=2)
    >>> [d["name"] for d in truth["drivers"] if d["role"] == "driver"]
    ['asa', 'fcr', 'email_backlog']
    """
    seed, days, queues, start_ts, tz, cpd = _validate(
        seed, days, queues, start, timezone, contacts_per_day)
    switches = _validate_switches(incidents, incident_rate, weekday_mood, reasons, wait_effect)
    if churn not in (None, "cx", "none"):
        raise _option("churn", "None, 'cx' or 'none'", churn)
    if not isinstance(queue, (bool, np.bool_)):
        raise _option("queue", "True or False", queue)
    if staffing is not None and not queue:
        raise OptionError("The 'staffing' parameter of simulate needs queue=True (a staffing plan of the real "
                          "queue). Got a staffing table with queue=False instead.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rngs = dict(zip(_COMPONENTS, (np.random.default_rng(s) for s in
                                  np.random.SeedSequence(seed).spawn(len(_COMPONENTS)))))

    cal = _calendar(start_ts, days)
    qp = _queue_parameters(queues, cpd, rngs["queues"])
    inc = _incidents(cal, switches["incident_rate"], rngs["incidents"]) if incidents else None
    mix = _reason_mix(cal, qp, inc, rngs["reasons"]) if reasons else None
    queue_state = {"staffing": staffing} if queue else None
    contacts = _contacts(cal, qp, cpd, tz, rngs, inc, mix, queue=queue_state)
    backlog, backlog_prev = _backlog(cal, qp, rngs["backlog"])
    marketing = _marketing(cal, rngs["marketing"])
    training = _training(cal, qp, rngs["training"])
    experience = {} if churn is not None else None
    surveys = _surveys(contacts, cal, qp, backlog_prev, tz, rngs, inc, weekday_mood, mix,
                       switches["wait_effect"], experience=experience)

    _write_contacts(contacts, qp, tz, out / "contacts.csv", mix)
    _write_csv(surveys, out / "surveys.csv")
    _write_csv(backlog, out / "backlog.csv")
    _write_csv(marketing, out / "marketing.csv")
    truth = _truth(seed, days, queues, start, timezone, cpd, qp, cal, switches, inc, mix)
    if queue:
        # the staffing plan is the staffing source; training hours move to training.csv
        _write_csv(_plan_table(cal, qp, queue_state["plan"]), out / "staffing.csv")
        _write_csv(training, out / "training.csv")
        truth["files"]["staffing.csv"] = ("time, queue, agents: the agents on duty per local hour of the staffing "
                                          "plan (open hours only; the queue's N)")
        truth["files"]["training.csv"] = "date, queue, training_hours: agent hours in training per day"
        top2 = _expected_top2(contacts, cal, qp, backlog_prev, inc, weekday_mood, mix, switches["wait_effect"])
        truth["queue"] = _queue_truth(cal, qp, queue_state["plan"], top2)
    else:
        _write_csv(training, out / "staffing.csv")
    if churn is not None:
        # the data's end: local midnight after the last day
        data_end = int(_to_utc_seconds([start_ts + pd.Timedelta(days=days)], tz)[0])
        customers, truth["business_impact"] = _customers(contacts, experience, surveys, tz, rngs["churn"],
                                                         slope=_CHURN_SLOPE if churn == "cx" else 0.0,
                                                         end=data_end)
        _write_csv(customers, out / "customers.csv")
        truth["files"] = list(truth.get("files", [])) + ["customers.csv"]
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


# --------------------------------------------------------------------------- checks

def _option(name, expected, got):
    return OptionError(f"The '{name}' parameter of simulate must be {expected}. "
                       f"Got {got!r} instead.")


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _validate(seed, days, queues, start, timezone, contacts_per_day):
    if not _is_int(seed) or seed < 0:
        raise _option("seed", "a non-negative integer", seed)
    if not _is_int(days) or days < 1:
        raise _option("days", "a positive integer", days)
    if not _is_int(queues) or not 1 <= queues <= 50:
        raise _option("queues", "an integer from 1 to 50", queues)
    if not isinstance(start, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
        raise _option("start", "a date 'YYYY-MM-DD'", start)
    try:
        start_ts = pd.Timestamp(start)
    except ValueError:
        raise _option("start", "a date 'YYYY-MM-DD'", start) from None
    try:
        tz = zoneinfo.ZoneInfo(timezone) if isinstance(timezone, str) else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = None
    if tz is None:
        raise _option("timezone", "an IANA timezone name such as 'America/New_York'",
                      timezone)
    if (isinstance(contacts_per_day, bool)
            or not isinstance(contacts_per_day, (int, float, np.integer, np.floating))
            or not np.isfinite(contacts_per_day) or not 1 <= contacts_per_day <= 100_000):
        raise _option("contacts_per_day", "a number from 1 to 100000", contacts_per_day)
    return int(seed), int(days), int(queues), start_ts, timezone, float(contacts_per_day)


def _validate_switches(incidents, incident_rate, weekday_mood, reasons, wait_effect="period"):
    for name, value in (("incidents", incidents), ("weekday_mood", weekday_mood),
                        ("reasons", reasons)):
        if not isinstance(value, (bool, np.bool_)):
            raise _option(name, "True or False", value)
    if (isinstance(incident_rate, bool)
            or not isinstance(incident_rate, (int, float, np.integer, np.floating))
            or not np.isfinite(incident_rate) or not 0 <= incident_rate <= 0.5):
        raise _option("incident_rate", "a number from 0 to 0.5", incident_rate)
    if not isinstance(wait_effect, str) or wait_effect not in _WAIT_EFFECTS:
        raise _option("wait_effect", "one of 'period', 'contact'", wait_effect)
    return {"incidents": bool(incidents), "incident_rate": float(incident_rate),
            "weekday_mood": bool(weekday_mood), "reasons": bool(reasons),
            "wait_effect": wait_effect}


# ------------------------------------------------------------------------- calendar

def _calendar(start, days):
    """Local dates with their weekday and Monday-start week index (0 = first week)."""
    dates = pd.date_range(start, periods=days, freq="D")
    weekday = dates.day_of_week.to_numpy()
    monday = dates - pd.to_timedelta(weekday, unit="D")
    week = ((monday - monday[0]).days // 7).to_numpy()
    tfrac = np.arange(days) / max(days - 1, 1)
    return {"dates": dates, "weekday": weekday, "week": week, "n_weeks": int(week[-1]) + 1,
            "monday0": monday[0], "tfrac": tfrac, "doy": dates.day_of_year.to_numpy()}


def _queue_parameters(queues, cpd, rng):
    """Per-queue constants. Baseline satisfaction falls and handle time rises with
    the queue's rank: the between-segment trap."""
    rank = np.arange(queues)
    frac = rank / max(queues - 1, 1)
    names = [(_QUEUE_NAMES[i] if i < len(_QUEUE_NAMES) else f"queue_{i + 1:02d}")
             for i in rank]
    # Sizes deliberately unrelated to baseline satisfaction, so that volume is
    # not a second between-segment trap.
    weight = 1 + 0.15 * np.cos(2.1 * rank)
    weight = weight / weight.mean()
    return pd.DataFrame({
        "queue": names,
        "weight": weight,                                  # share of volume
        "alpha": 1.8 - 1.2 * frac,                         # baseline logit of top-two box
        "aht_s": 270.0 + 390.0 * frac,                     # mean handle time
        "fcr0": 0.80 - 0.10 * frac,                        # typical FCR
        "transfer0": np.full(queues, 0.10),                # typical transfer rate
        "rho0": rng.uniform(0.76, 0.82, queues),           # planned occupancy
        "backlog0": np.round(250 * weight * rng.uniform(0.8, 1.2, queues)),  # open e-mails
        "response_rate": rng.uniform(0.21, 0.25, queues),
        "n_agents": np.maximum(4, np.round(cpd * weight / 5)).astype(int),
    })


# ----------------------------------------------------------------------- mechanisms

def _incidents(cal, rate, rng):
    """Incident episodes common to all queues.

    After a quiet day an episode starts with probability ``p``, chosen so that
    the long-run share of incident days is ``rate`` (a renewal process with
    mean episode length L: share = L p / (L p + 1 - p)). Each episode draws one
    severity s ~ U(0, 1) for all its days.
    """
    nd = len(cal["dates"])
    p_start = _incident_start_probability(rate)
    go = rng.random(nd)
    length = rng.choice(_INCIDENT_LENGTHS, size=nd, p=_INCIDENT_LENGTH_P)
    severity = rng.random(nd)
    day = np.zeros(nd, dtype=bool)
    sev = np.zeros(nd)
    episodes = []
    d = 0
    while d < nd:
        if go[d] < p_start:
            end = min(d + int(length[d]), nd)
            day[d:end] = True
            sev[d:end] = severity[d]
            episodes.append((d, end - d))
            d = end + 1                    # an episode is followed by a quiet day
        else:
            d += 1
    lo, hi = _INCIDENT_VOLUME
    volume = np.where(day, lo + (hi - lo) * sev, 1.0)
    lo, hi = _INCIDENT_LOGIT
    logit = np.where(day, lo + (hi - lo) * sev, 0.0)
    return {"day": day, "volume": volume, "logit": logit, "episodes": episodes}


def _incident_start_probability(rate):
    mean_len = float(np.dot(_INCIDENT_LENGTHS, _INCIDENT_LENGTH_P))
    return rate / (mean_len * (1 - rate) + rate)


def _reason_table():
    """Reasons with their base share, complexity, handle multiplier and logit shift."""
    names = [r[0] for r in _REASONS]
    share = np.array([r[1] for r in _REASONS])
    cx = np.array([r[2] for r in _REASONS])
    raw = np.exp(_REASON_HANDLE * cx)
    return {"names": names, "share": share, "complexity": cx,
            "handle": raw / np.dot(share, raw),
            "logit": _REASON_LOGIT * (cx - np.dot(share, cx))}


def _reason_mix(cal, qp, inc, rng):
    """The reason mix of every queue and day.

    P(reason k | queue q, day d) is proportional to share_k * exp(tilt[q, d] *
    complexity_k): a centre-wide tilt towards complex reasons on incident days
    and in product-defect weeks, a slow centre-wide weekly wobble (the product
    and billing cycle), plus a small queue-specific weekly wobble.
    """
    nq, nw = len(qp), cal["n_weeks"]
    table = _reason_table()
    go = rng.random(nw)
    length = rng.choice((1, 2), size=nw, p=_DEFECT_LENGTH_P)
    defect = np.zeros(nw, dtype=bool)
    w = 0
    while w < nw:
        if go[w] < _DEFECT_RATE:
            defect[w:w + int(length[w])] = True
            w += int(length[w]) + 1
        else:
            w += 1
    centre = _REASON_CENTRE_SD * _ar1(rng, (1, nw), _REASON_CENTRE_PHI)[0]
    wobble = _REASON_QUEUE_SD * _ar1(rng, (nq, nw), _REASON_QUEUE_PHI)
    week_tilt = _DEFECT_TILT * defect[None, :] + centre[None, :] + wobble
    tilt = week_tilt[:, cal["week"]]
    if inc is not None:
        tilt = tilt + _INCIDENT_TILT * inc["day"][None, :]
    weight = table["share"] * np.exp(tilt[:, :, None] * table["complexity"])
    prob = weight / weight.sum(axis=2, keepdims=True)
    return {**table, "prob": prob, "cdf": np.cumsum(prob, axis=2), "defect_weeks": defect}


# ------------------------------------------------------------------------- contacts

def _ar1(rng, shape, phi):
    """Stationary AR(1) series with unit variance along the last axis."""
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[..., 0] = e[..., 0]
    s = np.sqrt(1 - phi ** 2)
    for t in range(1, shape[-1]):
        x[..., t] = phi * x[..., t - 1] + s * e[..., t]
    return x


def _contacts(cal, qp, cpd, tz, rngs, inc=None, mix=None, queue=None):
    nq, nd, nw = len(qp), len(cal["dates"]), cal["n_weeks"]

    # Daily volume: weekday and yearly patterns, a day-level surprise the
    # staffing plan did not foresee, Poisson arrivals.
    r = rngs["volume"]
    wd = _WEEKDAY_VOLUME / _WEEKDAY_VOLUME.mean()
    season = 1 + 0.08 * np.cos(2 * np.pi * (cal["doy"] - 15) / 365.25)
    lam = cpd * qp["weight"].to_numpy()[:, None] * wd[cal["weekday"]][None, :] * season
    surprise = r.gamma(150.0, 1 / 150.0, (nq, nd))
    if inc is None:
        counts = r.poisson(lam * surprise)
    else:
        # Incidents are unforeseen: they add to arrivals and, below, to occupancy.
        counts = r.poisson(lam * surprise * inc["volume"][None, :])

    q_idx = np.repeat(np.repeat(np.arange(nq), nd), counts.ravel())
    d_idx = np.repeat(np.tile(np.arange(nd), nq), counts.ravel())
    n = len(q_idx)

    # Arrival hour from the intraday profile (weekday vs weekend), second uniform.
    r = rngs["intraday"]
    weekend = cal["weekday"][d_idx] >= 5
    u = r.random(n)
    hour = np.where(weekend, _hour_of(u, _WEEKEND_HOURS, _WEEKEND_PROFILE),
                    _hour_of(u, _WEEKDAY_HOURS, _WEEKDAY_PROFILE))
    second = r.integers(0, 3600, n)
    local = (cal["dates"].to_numpy()[d_idx].astype("datetime64[s]")
             + (hour * 3600 + second).astype("timedelta64[s]"))

    # Staffing: weekly shortfall episodes (absence, attrition) as a two-state
    # Markov chain, day-level wobble and hour-level mismatch with the plan.
    r = rngs["staffing"]
    state = np.zeros((nq, nw), dtype=bool)
    go = r.random((nq, nw))
    for w in range(nw):
        prev = state[:, w - 1] if w else np.zeros(nq, dtype=bool)
        state[:, w] = np.where(prev, go[:, w] < 0.55, go[:, w] < 0.18)
    depth = r.uniform(0.06, 0.16, (nq, nw))
    staff_w = 1 - depth * state + r.normal(0, 0.015, (nq, nw))
    staff_d = staff_w[:, cal["week"]] * (1 + r.normal(0, 0.02, (nq, nd)))
    mismatch = r.normal(0, 0.03, (nq, nd, 24))
    mismatch[:, :, 12:14] += 0.02                   # lunch breaks
    rho = (qp["rho0"].to_numpy()[q_idx] * surprise[q_idx, d_idx] / staff_d[q_idx, d_idx]
           * (1 + mismatch[q_idx, d_idx, hour]))
    if inc is not None:
        rho = rho * inc["volume"][d_idx]
    rho = np.clip(rho, 0.3, 0.975)

    # Contact reasons, drawn from the day's mix of the queue (inverse CDF); the
    # stream already drew the mix in _reason_mix.
    if mix is None:
        reason = np.full(n, -1, dtype=np.int64)
    else:
        u = rngs["reasons"].random(n)
        reason = (u[:, None] > mix["cdf"][q_idx, d_idx, :-1]).sum(axis=1).astype(np.int64)

    # Handle time around the queue's mean, scaled by a weekly factor and by the
    # reason's complexity (no effect on satisfaction).
    r = rngs["handle"]
    week_factor = np.exp(0.07 * _ar1(r, (nq, nw), 0.5))
    mean_h = qp["aht_s"].to_numpy()[q_idx] * week_factor[q_idx, cal["week"][d_idx]]
    if mix is not None:
        mean_h = mean_h * mix["handle"][reason]

    served_by = None
    if queue is None:
        # Waiting: the chance of queueing and the mean wait grow with occupancy
        # (Erlang-C-like); callers hang up when their patience runs out first, so
        # abandonment grows with the wait. Handle times are lognormal.
        r = rngs["waits"]
        waits = r.random(n) < rho ** 3
        potential = np.where(waits, r.exponential(1.0, n) * 10.0 / (1 - rho), 0.0)
        quick = r.random(n) < 0.08
        patience = np.where(quick, r.exponential(4.0, n), r.exponential(480.0, n))
        abandoned = waits & (patience < potential)
        disconnected = ~abandoned & waits & (r.random(n) < 0.002)   # dropped by the system
        answered = ~abandoned & ~disconnected
        wait_s = np.round(np.where(abandoned, patience, potential)).astype(np.int64)
        sd_log = 0.55
        handle = np.exp(np.log(mean_h) - sd_log ** 2 / 2 + sd_log * rngs["handle"].standard_normal(n))
        handle_s = np.where(answered, np.maximum(np.round(handle), 10), 0).astype(np.int64)
    else:
        # A real queue, M/M/N+M per local hour: the staffing plan's agents, exponential
        # service and patience, first come first served (see _serve).
        plan = _staffing_plan(cal, qp, lam, staff_d, mismatch, queue.get("staffing"))
        queue["plan"] = plan
        service = np.maximum(np.round(mean_h * rngs["handle"].exponential(1.0, n)), 1).astype(np.int64)
        patience = rngs["waits"].exponential(_QUEUE_PATIENCE_S, n)
        arrive = d_idx.astype(np.int64) * 86400 + hour.astype(np.int64) * 3600 + second
        answered = np.zeros(n, dtype=bool)
        wait_s = np.zeros(n, dtype=np.int64)
        served_by = np.zeros(n, dtype=np.int64)
        for qi in range(nq):
            rows = np.flatnonzero(q_idx == qi)
            rows = rows[np.argsort(arrive[rows], kind="stable")]
            ans, wait, served_by[rows] = _serve(arrive[rows], service[rows], patience[rows],
                                                plan["agents"][qi].ravel())
            answered[rows], wait_s[rows] = ans, np.round(wait).astype(np.int64)
        abandoned = ~answered
        handle_s = np.where(answered, service, 0).astype(np.int64)

    # First-contact resolution and transfers: weekly rates wander (AR(1) on the
    # logit scale) independently of each other and of staffing.
    r = rngs["resolution"]
    fcr_w = _expit(_logit(qp["fcr0"].to_numpy())[:, None]
                   + _FCR_WEEK_SD * _ar1(r, (nq, nw), 0.5))
    resolved = answered & (r.random(n) < fcr_w[q_idx, cal["week"][d_idx]])
    r = rngs["transfer"]
    tr_w = _expit(_logit(qp["transfer0"].to_numpy())[:, None] + 0.3 * _ar1(r, (nq, nw), 0.5))
    transferred = answered & (r.random(n) < tr_w[q_idx, cal["week"][d_idx]])

    # Repeat customers: a center-wide pool with heavy-tailed calling propensity;
    # a few callers stay anonymous.
    r = rngs["customers"]
    pool = max(int(0.5 * n), 1)
    propensity = r.gamma(0.5, 1.0, pool)
    cust = r.choice(pool, size=n, p=propensity / propensity.sum())
    anonymous = r.random(n) < 0.04

    r = rngs["agents"]
    n_agents = qp["n_agents"].to_numpy()
    agent = np.floor(r.random(n) * n_agents[q_idx]).astype(int)
    if served_by is not None:   # the agent of the queue who served the contact
        agent = served_by

    r = rngs["quality"]
    scored = answered & (r.random(n) < 0.10)
    quality = np.clip(np.round(r.normal(84, 8, n)), 0, 100).astype(np.int64)

    # Sort into ACD export order (by arrival), then number the contacts.
    utc = _to_utc_seconds(local, tz)
    order = np.lexsort((q_idx, utc))
    df = pd.DataFrame({
        "q": q_idx, "d": d_idx, "utc": utc, "answered": answered, "abandoned": abandoned,
        "wait_s": wait_s, "handle_s": handle_s, "transferred": transferred,
        "resolved": resolved, "cust": cust, "anonymous": anonymous, "agent": agent,
        "scored": scored, "quality": quality, "reason": reason,
    }).iloc[order].reset_index(drop=True)
    df["week"] = cal["week"][df["d"].to_numpy()]
    df["contact_id"] = [f"C{i:07d}" for i in range(1, len(df) + 1)]
    return df


def _hour_of(u, hours, profile):
    """Inverse-CDF draw of an hour from an intraday profile, given uniforms ``u``."""
    cdf = np.cumsum(profile) / profile.sum()
    return hours[np.minimum(np.searchsorted(cdf, u, side="right"), len(hours) - 1)]


# ---------------------------------------------------------------------- the queue

def _open_hours(weekday):
    """The open local hours of a weekday (0 = Monday) and their arrival profile."""
    return (_WEEKEND_HOURS, _WEEKEND_PROFILE) if weekday >= 5 else (_WEEKDAY_HOURS, _WEEKDAY_PROFILE)


def _staffing_plan(cal, qp, lam, staff_d, mismatch, given=None):
    """Agents on duty per queue, local day and hour (``queue=True``).

    The plan staffs the load it expects (the day's expected volume, without the surprise or the
    incident it cannot foresee, times the hour's share of the profile, times the queue's mean
    handle time) at the queue's planned occupancy ``rho0``; the day's shortfall (absence
    episodes, as ``staff_d``) and the hour's mismatch take agents away, at least one agent in an
    open hour. A ``given`` table (``time, queue, agents``, one row per open hour and queue, as
    staffing.csv) replaces it.
    """
    nq, nd = lam.shape
    is_open = np.zeros((nd, 24), dtype=bool)
    share = np.zeros((nd, 24))
    for d in range(nd):
        hours, profile = _open_hours(cal["weekday"][d])
        is_open[d, hours] = True
        share[d, hours] = profile / profile.sum()
    load = lam[:, :, None] * share[None] * qp["aht_s"].to_numpy()[:, None, None] / 3600.0
    planned = load / qp["rho0"].to_numpy()[:, None, None] * staff_d[:, :, None] / (1 + mismatch)
    agents = np.where(is_open[None], np.maximum(np.round(planned), 1), 0).astype(np.int64)
    if given is not None:
        agents = _given_staffing(given, cal, qp, is_open)
    return {"agents": agents, "open": is_open, "source": "planned" if given is None else "given"}


def _given_staffing(given, cal, qp, is_open):
    """The agents of a given staffing table (a DataFrame or a CSV path), checked against the open hours."""
    def bad(what):
        return OptionError(f"The 'staffing' parameter of simulate must be a table time, queue, agents with one "
                           f"row per open hour and queue of the world (as its staffing.csv); {what}.")
    if isinstance(given, (str, Path)):
        given = pd.read_csv(given)
    if not isinstance(given, pd.DataFrame):
        raise bad(f"got {type(given).__name__}")
    missing = [c for c in ("time", "queue", "agents") if c not in given.columns]
    if missing:
        raise bad(f"it has no column {missing[0]!r}")
    names = list(qp["queue"])
    times = pd.to_datetime(given["time"], errors="coerce")
    agents = pd.to_numeric(given["agents"], errors="coerce").to_numpy(float)
    q = given["queue"].astype(str).map({n: i for i, n in enumerate(names)}).to_numpy(float)
    d = ((times.dt.normalize() - cal["dates"][0]).dt.days).to_numpy(float)
    h = times.dt.hour.to_numpy(float)
    ok = (np.isfinite(q) & np.isfinite(d) & (d >= 0) & (d < len(cal["dates"])) & np.isfinite(agents)
          & (agents >= 0) & (agents == np.round(agents)))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise bad(f"row {i + 1} (time {given['time'].iloc[i]!r}, queue {given['queue'].iloc[i]!r}, agents "
                  f"{given['agents'].iloc[i]!r}) has an unknown queue, a time outside the world's days or an "
                  f"agents value that is not a whole number >= 0")
    qi, di, hi = q.astype(int), d.astype(int), h.astype(int)
    out = np.full((len(names), len(cal["dates"]), 24), -1, dtype=np.int64)
    if not is_open[di, hi].all() or len(set(zip(qi, di, hi))) != len(given):
        raise bad("a row is outside the open hours or repeats an hour")
    out[qi, di, hi] = agents.astype(np.int64)
    if (out[:, is_open] < 0).any():
        raise bad(f"{int((out[:, is_open] < 0).sum())} open hours have no row")
    return np.maximum(out, 0)


def _plan_table(cal, qp, plan):
    """staffing.csv of ``queue=True``: time (local start of the hour), queue, agents; open hours only."""
    q, d, h = np.nonzero(np.broadcast_to(plan["open"][None], plan["agents"].shape))
    order = np.lexsort((q, h, d))
    q, d, h = q[order], d[order], h[order]
    time = (cal["dates"].to_numpy()[d].astype("datetime64[s]") + (h * 3600).astype("timedelta64[s]"))
    return pd.DataFrame({"time": np.datetime_as_string(time, unit="s"), "queue": qp["queue"].to_numpy()[q],
                         "agents": plan["agents"][q, d, h]}).assign(time=lambda t: t["time"].str.replace("T", " "))


def _serve(arrive, service, patience, agents):
    """One queue, first come first served, with ``agents[j]`` agents on duty in hour ``j``.

    ``arrive``: whole seconds from the first local midnight, ascending; ``agents``: per hour of
    that timeline. Agent k (0, 1, ...) is on duty in the hours with more than k agents; it starts
    a call only while on duty and finishes a call it started (going off duty after). Each
    customer takes the agent who can start soonest; a customer whose patience runs out first
    hangs up (wait = patience) and takes no agent. Within an hour of constant N this is exactly
    M/M/N+M's FCFS dynamics. Returns ``(answered, wait_s, agent)`` per customer (agent -1 if
    none; the waits as floats, whole seconds when the times are).
    """
    n, slots = len(arrive), len(agents)
    answered = np.zeros(n, dtype=bool)
    wait = np.asarray(patience, dtype=float).copy()
    served_by = np.full(n, -1, dtype=np.int64)
    k_max = int(agents.max()) if slots else 0
    if k_max == 0 or n == 0:
        return answered, wait, served_by
    # next_on[k, j]: the first hour from j on in which agent k is on duty (slots: never)
    on = np.zeros((k_max, slots + 1), dtype=bool)
    on[:, :slots] = agents[None, :] > np.arange(k_max)[:, None]
    next_on = np.where(on, np.arange(slots + 1)[None, :], slots)
    next_on = np.minimum.accumulate(next_on[:, ::-1], axis=1)[:, ::-1]
    free = np.zeros(k_max, dtype=np.result_type(arrive.dtype, service.dtype))
    rows = np.arange(k_max)
    for i in range(n):
        t = np.maximum(free, arrive[i])
        j = np.minimum(t // 3600, slots).astype(np.int64)
        j_on = next_on[rows, j]
        start = np.where(j_on == j, t, j_on * 3600)
        k = int(start.argmin())
        if j_on[k] < slots and start[k] - arrive[i] <= patience[i]:
            answered[i], wait[i], served_by[i] = True, start[k] - arrive[i], k
            free[k] = start[k] + service[i]
    return answered, wait, served_by


def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1 / (1 + np.exp(-x))


def _to_utc_seconds(local, tz):
    """Local wall-clock times -> UTC epoch seconds. Times in a spring-forward gap
    move forward; ambiguous autumn times take standard time."""
    idx = pd.DatetimeIndex(local).tz_localize(
        tz, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="shift_forward")
    utc = idx.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
    return utc.astype(np.int64)


def _iso_local(utc_seconds, tz):
    """UTC epoch seconds -> 'YYYY-MM-DDTHH:MM:SS+HH:MM' in the local time of ``tz``."""
    utc = pd.DatetimeIndex(np.asarray(utc_seconds).astype("datetime64[s]"))
    naive = utc.tz_localize("UTC").tz_convert(tz).tz_localize(None)
    offset_min = ((naive - utc).total_seconds().to_numpy() // 60).astype(np.int64)
    text = np.datetime_as_string(naive.to_numpy().astype("datetime64[s]"), unit="s")
    labels = {m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
              for m in np.unique(offset_min).tolist()}
    suffix = pd.Series(offset_min, dtype=np.int64).map(labels).astype(object)
    return pd.Series(text, dtype=object) + suffix


# ---------------------------------------------------------------- extra sources

def _backlog(cal, qp, rng):
    """Daily e-mail backlog per queue, and each week's previous-week mean.

    The weekly level wanders with little memory (AR(1), phi = 0.1) so that the
    lag-1 effect is not mirrored at lag 0. A burn-in week before the first week
    (not written) gives the first week its previous-week value.
    """
    nq, nw = len(qp), cal["n_weeks"]
    first = cal["monday0"] - pd.Timedelta(days=7)
    all_dates = pd.date_range(first, cal["dates"][-1], freq="D")
    week = ((all_dates - first).days // 7).to_numpy() - 1           # -1 = burn-in
    weekday = all_dates.day_of_week.to_numpy()
    level = qp["backlog0"].to_numpy()[:, None] * np.exp(0.3 * _ar1(rng, (nq, nw + 1), 0.1))
    wd = _WEEKDAY_BACKLOG / _WEEKDAY_BACKLOG.mean()
    daily = np.round(level[:, week + 1] * wd[weekday]
                     * np.exp(rng.normal(0, 0.07, (nq, len(all_dates)))))
    written = np.asarray(all_dates >= cal["dates"][0])
    use = written | (week == -1)
    # Mean over the days a reader of the file sees (the burn-in week in full).
    mean_w = np.full((nq, nw + 1), np.nan)
    for w in range(-1, nw):
        sel = use & (week == w)
        mean_w[:, w + 1] = daily[:, sel].mean(axis=1)
    prev = mean_w[:, :-1]                                   # previous week, for weeks 0..nw-1
    table = pd.DataFrame({
        "date": np.tile(all_dates[written].strftime("%Y-%m-%d"), nq),
        "queue": np.repeat(qp["queue"].to_numpy(), written.sum()),
        "email_backlog": daily[:, written].ravel().astype(np.int64),
    })
    return table, prev


def _marketing(cal, rng):
    """Center-wide daily marketing spend: an upward trend, campaign weeks and noise.
    It has no effect on arrivals or on satisfaction (the trend trap)."""
    nw = cal["n_weeks"]
    campaign = np.where(rng.random(nw) < 0.2, 1.3, 1.0)
    wd = _WEEKDAY_MARKETING / _WEEKDAY_MARKETING.mean()
    spend = (20000.0 * (1 + _MARKETING_GROWTH * cal["tfrac"]) * wd[cal["weekday"]]
             * campaign[cal["week"]] * np.exp(rng.normal(0, 0.10, len(cal["dates"]))))
    return pd.DataFrame({"date": cal["dates"].strftime("%Y-%m-%d"),
                         "marketing_spend": np.round(spend, 2)})


def _training(cal, qp, rng):
    """Agent hours in training per queue and day: pure noise (sessions are
    back-filled, so they do not change capacity)."""
    nq, nd = len(qp), len(cal["dates"])
    session = (rng.random((nq, nd)) < 0.4) & (cal["weekday"][None, :] < 5)
    hours = np.where(session, np.round(rng.uniform(2, 16, (nq, nd)) * 2) / 2, 0.0)
    return pd.DataFrame({
        "date": np.tile(cal["dates"].strftime("%Y-%m-%d"), nq),
        "queue": np.repeat(qp["queue"].to_numpy(), nd),
        "training_hours": hours.ravel(),
    })


# -------------------------------------------------------------------------- surveys

def _surveys(c, cal, qp, backlog_prev, tz, rngs, inc=None, weekday_mood=False, mix=None,
             wait_effect="period", experience=None):
    nq, nw = len(qp), cal["n_weeks"]
    q = c["q"].to_numpy()
    answered = c["answered"].to_numpy()
    asa_w = _weekly_asa(c, nq, nw)

    responds = answered & (rngs["response"].random(len(c)) < qp["response_rate"].to_numpy()[q])
    if experience is not None:
        # every answered contact's experienced csat (the surveyed ones' below, from the survey's draws)
        everyone = _survey_eta(c.loc[answered].reset_index(drop=True), cal, qp, backlog_prev, asa_w, inc,
                               weekday_mood, mix, wait_effect)
        r = rngs["churn"]
        lat = everyone + r.logistic(0.0, 1.0, len(everyone))
        exp_csat = np.full(len(c), np.nan)
        exp_csat[answered] = 1 + _cut(lat + r.normal(0, _ITEM_SD, len(everyone)), _CSAT_CUTS)
    s = c.loc[responds].reset_index(drop=True)
    # the outcome model's latent, with the shifts of their own (none of them a KPI): the day's
    # incident, the weekday's mood and the contact's reason
    eta = _survey_eta(s, cal, qp, backlog_prev, asa_w, inc, weekday_mood, mix, wait_effect)

    r = rngs["scores"]
    m = len(s)
    latent = eta + r.logistic(0.0, 1.0, m)
    csat = 1 + _cut(latent + r.normal(0, _ITEM_SD, m), _CSAT_CUTS)
    nps = _cut(latent + r.normal(0, _ITEM_SD, m), _NPS_CUTS)
    if experience is not None:
        exp_csat[np.flatnonzero(responds)] = csat
        experience["csat"] = exp_csat
    ces = 1 + _cut(-latent + r.normal(0, _ITEM_SD, m), _CES_CUTS)
    # Some respondents skip the later questions.
    nps = pd.array(nps, dtype="Int64")
    ces = pd.array(ces, dtype="Int64")
    nps[r.random(m) < 0.05] = pd.NA
    ces[r.random(m) < 0.08] = pd.NA

    # Responses arrive hours to days after the call ends (median ~4 h, up to a week).
    r = rngs["timing"]
    delay = np.minimum(np.exp(np.log(4 * 3600) + 1.2 * r.standard_normal(m)), 7 * 86400)
    delay = np.maximum(delay, 300)
    end = s["utc"].to_numpy() + s["wait_s"].to_numpy() + s["handle_s"].to_numpy()
    at = end + np.round(delay).astype(np.int64)

    order = np.argsort(at, kind="stable")
    out = pd.DataFrame({
        "contact_id": s["contact_id"].to_numpy()[order],
        "responded_at": _iso_local(at[order], tz).to_numpy(),
        "csat": csat[order],
        "nps": nps[order],
        "ces": ces[order],
    })
    out.insert(0, "survey_id", [f"S{i:07d}" for i in range(1, m + 1)])
    return out


def _weekly_asa(c, nq, nw):
    """The realized weekly ASA of each queue, exactly as a panel computes it."""
    q, w, answered = c["q"].to_numpy(), c["week"].to_numpy(), c["answered"].to_numpy()
    wait_sum = np.zeros((nq, nw))
    n_ans = np.zeros((nq, nw))
    np.add.at(wait_sum, (q[answered], w[answered]), c["wait_s"].to_numpy()[answered])
    np.add.at(n_ans, (q[answered], w[answered]), 1)
    return np.divide(wait_sum, n_ans, out=np.zeros_like(wait_sum), where=n_ans > 0)


# Gauss-Hermite nodes for the item noise N(0, _ITEM_SD^2) of the expected top-two box
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(20)


def _expected_top2(c, cal, qp, backlog_prev, inc, weekday_mood, mix, wait_effect):
    """The expected CSAT top-two-box percentage of each queue-week, over its answered contacts.

    A response's top-two box is ``eta + e + u > 0`` with ``e`` logistic and ``u`` the item noise,
    so its probability is ``E_u[expit(eta + u)]`` (20-node Gauss-Hermite); every answered contact
    is surveyed with its queue's response rate whatever its experience, so the queue-week's
    expected share is the mean over its answered contacts. NaN in a week without any.
    """
    nq, nw = len(qp), cal["n_weeks"]
    a = c.loc[c["answered"].to_numpy()].reset_index(drop=True)
    eta = _survey_eta(a, cal, qp, backlog_prev, _weekly_asa(c, nq, nw), inc, weekday_mood, mix, wait_effect)
    p = (_GH_W[None, :] * _expit(eta[:, None] + np.sqrt(2) * _ITEM_SD * _GH_X[None, :])).sum(axis=1) / np.sqrt(np.pi)
    total = np.zeros((nq, nw))
    count = np.zeros((nq, nw))
    np.add.at(total, (a["q"].to_numpy(), a["week"].to_numpy()), p)
    np.add.at(count, (a["q"].to_numpy(), a["week"].to_numpy()), 1)
    return 100 * np.divide(total, count, out=np.full((nq, nw), np.nan), where=count > 0)


def _survey_eta(s, cal, qp, backlog_prev, asa_w, inc, weekday_mood, mix, wait_effect):
    """The satisfaction latent's linear part for the contacts ``s`` (as in :func:`_surveys`)."""
    sq, sw = s["q"].to_numpy(), s["week"].to_numpy()
    tfrac = cal["tfrac"][s["d"].to_numpy()]
    if wait_effect == "contact":
        waiting = _CONTACT_WAIT_SLOPE * np.maximum(s["wait_s"].to_numpy() - _ASA_THRESHOLD_S, 0.0)
    else:
        waiting = _ASA_SLOPE * np.maximum(asa_w[sq, sw] - _ASA_THRESHOLD_S, 0.0)
    eta = (qp["alpha"].to_numpy()[sq] + _DRIFT_LOGIT * (tfrac - 0.5)
           + _FCR_LOGIT * (s["resolved"].to_numpy() - qp["fcr0"].to_numpy()[sq]) + waiting
           + _BACKLOG_SLOPE * (backlog_prev[sq, sw] - qp["backlog0"].to_numpy()[sq]))
    sd = s["d"].to_numpy()
    if inc is not None:
        eta = eta + inc["logit"][sd]
    if weekday_mood:
        eta = eta + _WEEKDAY_MOOD[cal["weekday"][sd]]
    if mix is not None:
        eta = eta + mix["logit"][s["reason"].to_numpy()]
    return eta


# churn: each answered contact makes its customer decide to leave with probability
# expit(_CHURN_BASE + slope * (csat - 3)), leaving uniformly within the next _CHURN_WINDOW_DAYS
_CHURN_BASE = -3.9
_CHURN_SLOPE = -0.45
_CHURN_WINDOW_DAYS = 90


def _customers(c, experience, surveys, tz, rng, *, slope, end):
    """customers.csv and the business-impact truth (see :func:`_churn_truth`)."""
    W = _CHURN_WINDOW_DAYS * 86400
    csat = experience["csat"]
    known = ~c["anonymous"].to_numpy()
    cust = c["cust"].to_numpy()
    t = c["utc"].to_numpy()
    p = np.where(np.isfinite(csat), _expit(_CHURN_BASE + slope * (np.nan_to_num(csat, nan=3.0) - 3.0)), 0.0)
    p[~known] = 0.0
    decide = rng.random(len(c)) < p
    delay = np.ceil(rng.random(len(c)) * W).astype(np.int64)      # in (0, W] seconds
    ids = np.unique(cust[known])
    pos = {k: i for i, k in enumerate(ids.tolist())}
    idx = np.array([pos[k] for k in cust[known].tolist()])
    leave = np.full(len(ids), np.iinfo(np.int64).max)
    np.minimum.at(leave, idx[decide[known]], (t + delay)[known][decide[known]])
    seen = leave <= end
    value = np.round(rng.lognormal(np.log(500.0), 0.6, len(ids)), 2)
    text = pd.Series([""] * len(ids), dtype=object)
    if seen.any():
        text[seen] = _iso_local(leave[seen], tz).to_numpy()
    table = pd.DataFrame({"customer_id": [f"K{k:06d}" for k in ids], "churned_at": text.to_numpy(),
                          "annual_revenue": value})
    truth = _churn_truth(c, surveys, csat, p, leave, pos, end, slope, known)
    return table, truth


def _churn_truth(c, surveys, csat, p, leave, pos, end, slope, known):
    """The effect on churn within 90 days that a link of each survey to its customer should find.

    A survey of contact c at time t (its customer still a customer at t, the window within the
    data) is followed by a departure within (t, t + 90 d] when c's own decision fires (probability
    p_c, which always lands in the window) or another contact's decision lands there; given that
    none landed before t, contact j's does with probability w_j / (1 - b_j), w_j and b_j the parts
    of its decision's landing interval (t_j, t_j + 90 d] inside the window and before it. So
    P(churn) = 1 - (1 - p_c) prod_j (1 - w_j / (1 - b_j)) and its derivative in c's csat is
    (1 - q_c) slope p_c (1 - p_c): ``cx_effect_pp`` is 100 times its mean over those surveys,
    in percentage points per CSAT point, as the average marginal effect of a logit reads it.
    """
    W = float(_CHURN_WINDOW_DAYS * 86400)
    t = c["utc"].to_numpy().astype(np.int64)
    cust = c["cust"].to_numpy()
    row_of = pd.Series(np.arange(len(c)), index=c["contact_id"].to_numpy())
    rows = row_of.reindex(surveys["contact_id"].to_numpy()).to_numpy()
    rows = rows[known[rows]]
    order = np.lexsort((t, cust))
    cs, ts, ps = cust[order], t[order], p[order]
    starts = np.searchsorted(cs, cs, side="left")
    stops = np.searchsorted(cs, cs, side="right")
    where = np.empty(len(c), dtype=np.int64)
    where[order] = np.arange(len(c))
    derivs, n_obs = [], 0
    for r in rows:
        tc = t[r]
        left = leave[pos[cust[r]]]
        if tc + W > end or left <= tc:
            continue
        n_obs += 1
        k = where[r]
        lo, hi = starts[k], stops[k]
        tj, pj = ts[lo:hi], ps[lo:hi]
        near = (np.abs(tj - tc) < W) & (np.arange(lo, hi) != k)
        tj, pj = tj[near].astype(float), pj[near]
        before = np.clip(tc - tj, 0.0, W) / W
        inside = (np.minimum(tj + W, tc + W) - np.maximum(tj, tc)).clip(0.0) / W
        b, w = pj * before, pj * inside
        keep = np.prod(1 - w / np.maximum(1 - b, 1e-12))
        derivs.append(keep * slope * p[r] * (1 - p[r]))
    effect = 100.0 * float(np.mean(derivs)) if derivs else 0.0
    return {"outcome": "churn", "window_days": _CHURN_WINDOW_DAYS, "cx": "csat",
            "logit_slope_per_csat_point": slope, "base_logit_at_csat_3": _CHURN_BASE,
            "cx_effect_pp": effect, "n_contacts": n_obs, "data_end_utc": int(end),
            "share_through_cx": {"asa": 1.0} if slope != 0 else None,
            "value": "annual_revenue",
            "note": ("churn depends on each answered contact's experienced csat only (waiting acts only "
                     "through it); cx_effect_pp is the average marginal effect per csat point on churn "
                     "within 90 days of a surveyed contact, over the surveys whose customer was still a "
                     "customer at the contact and whose window lies within the data")}


def _cut(x, cuts):
    return (x[:, None] > np.asarray(cuts)[None, :]).sum(axis=1).astype(np.int64)


# -------------------------------------------------------------------------- writing

def _bool_text(x):
    return np.where(np.asarray(x, dtype=bool), "true", "false")


def _write_contacts(c, qp, tz, path, mix=None):
    names = qp["queue"].to_numpy(dtype=object)[c["q"].to_numpy()]
    answered = c["answered"].to_numpy()
    customer = np.array([f"K{k:06d}" for k in c["cust"].to_numpy()], dtype=object)
    customer[c["anonymous"].to_numpy()] = ""
    quality = pd.array(c["quality"].to_numpy(), dtype="Int64")
    quality[~c["scored"].to_numpy()] = pd.NA
    agent = np.array([f"A{qi + 1:02d}{a + 1:02d}" for qi, a in
                      zip(c["q"].to_numpy(), c["agent"].to_numpy())], dtype=object)
    agent[~answered] = ""
    table = pd.DataFrame({
        "contact_id": c["contact_id"],
        "queue": names,
        "channel": "voice",
        "arrived_at": _iso_local(c["utc"].to_numpy(), tz).to_numpy(),
        "answered": _bool_text(answered),
        "abandoned": _bool_text(c["abandoned"]),
        "wait_s": c["wait_s"],
        "handle_s": c["handle_s"],
        "transferred": _bool_text(c["transferred"]),
        "resolved": _bool_text(c["resolved"]),
        "customer_id": customer,
        "quality_score": quality,
        "agent_id": agent,
    })
    if mix is not None:
        table["reason"] = np.asarray(mix["names"], dtype=object)[c["reason"].to_numpy()]
    _write_csv(table, path)


def _write_csv(df, path):
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


# ---------------------------------------------------------------------------- truth

def _driver(name, role, sign, effect, *, lag_weeks=0, threshold=None, traps=(), **extra):
    return {"name": name, "role": role, "sign": sign, "lag_days": 7 * lag_weeks,
            "lag_weeks": lag_weeks, "threshold": threshold, "effect": effect, **extra,
            "traps": list(traps)}


def _truth(seed, days, queues, start, timezone, cpd, qp, cal, switches, inc, mix):
    """The planted truth, in JSON-ready Python types.

    With every switch off, every key the simulator wrote before the switches
    existed keeps its value; the switches only add keys (``traps`` per entry,
    ``incident_rate``, ``incidents``, ``weekday_mood``, ``reasons``) and, when on,
    extend the texts.
    """
    on_inc, on_mood, on_reasons = (switches["incidents"], switches["weekday_mood"],
                                   switches["reasons"])
    common_shock = on_inc or on_mood
    asa_text = ("Weekly ASA varies with staffing shortfall episodes and unplanned volume"
                + (" (incident days included)." if on_inc else "."))
    if on_inc:
        asa_text += (" Incident days raise waits AND lower satisfaction directly, so a "
                     "naive analysis overstates ASA's effect; period effects remove the "
                     "common shock.")
    aht_text = ("None within a queue. Queues with a higher baseline satisfaction have "
                "a shorter mean handle time (see queue_parameters: alpha falls and "
                "aht_s rises with the queue's rank), so a pooled correlation across "
                "queues is strongly negative; the weekly handle-time factor "
                "(lognormal AR(1), sd 0.07) does not enter the outcome model.")
    if on_reasons:
        aht_text += (" Contact reasons (see reasons) are a second trap: complex reasons "
                     "take longer AND lower satisfaction, and the reason mix tilts to "
                     "complex reasons centre-wide on incident days and in product-defect "
                     "weeks (plus a small queue-specific weekly wobble), so panel-level "
                     "aht co-moves negatively with csat. At the contact level, once the "
                     "reason (and queue) is controlled for, handle time has no effect.")
    if switches["wait_effect"] == "contact":
        # only this mode adds the key, so the default truth.json keeps its bytes
        asa = _driver("asa", "driver", -1, threshold=_ASA_THRESHOLD_S,
                      logit_coefficient=_CONTACT_WAIT_SLOPE, level="contact", variable="wait_s",
                      effect=(f"Threshold (hinge) on the customer's OWN wait (wait_s of the rated "
                              f"contact): no effect up to {_ASA_THRESHOLD_S:g} s; above it the "
                              f"logit of that response's satisfaction falls by "
                              f"{-_CONTACT_WAIT_SLOPE:g} per second "
                              f"({-_CONTACT_WAIT_SLOPE * 60:g} per extra minute). The queue-week "
                              "ASA has no effect of its own: it moves satisfaction only through "
                              "the share of its customers who waited beyond the threshold, so "
                              "at the panel grain the effect is diluted and not a sharp hinge "
                              "in ASA. ") + asa_text)
    else:
        asa = _driver("asa", "driver", -1, threshold=_ASA_THRESHOLD_S, logit_coefficient=_ASA_SLOPE,
                      effect=(f"Threshold (hinge) on the realized weekly ASA of the queue: no effect "
                              f"up to {_ASA_THRESHOLD_S:g} s; above it the logit of every response's "
                              f"satisfaction falls by {-_ASA_SLOPE:g} per second "
                              f"({-_ASA_SLOPE * 60:g} per extra minute). ") + asa_text)
    drivers = [
        asa,
        _driver("fcr", "driver", +1, logit_coefficient=_FCR_LOGIT,
                effect=(f"A response whose own contact was resolved on first contact has a "
                        f"logit {_FCR_LOGIT:g} higher; the weekly FCR rate of a queue wanders "
                        f"(AR(1) on the logit scale, sd {_FCR_WEEK_SD:g}, phi 0.5), so weekly "
                        "CSAT rises about linearly with weekly FCR.")),
        _driver("email_backlog", "driver", -1, lag_weeks=1, logit_coefficient=_BACKLOG_SLOPE,
                effect=(f"Lagged: the logit falls by {-_BACKLOG_SLOPE * 100:g} per 100 e-mails "
                        "of the queue's mean daily backlog in the PREVIOUS Monday-Sunday week "
                        "(above the queue's typical level); this week's backlog has no effect. "
                        "Weekly backlog levels have little memory (AR(1), phi 0.2).")),
        _driver("marketing_spend", "trap_trend", 0, logit_coefficient=0.0, traps=["trend"],
                effect=("None. Center-wide daily spend grows linearly to "
                        f"{1 + _MARKETING_GROWTH:g} times its start level over the window (plus "
                        "campaign weeks and noise) while satisfaction drifts up by an unmeasured "
                        f"{_DRIFT_LOGIT:g} logit over the same window; pooled levels "
                        "correlate, first differences or detrended series do not.")),
        _driver("aht", "trap_between_segment", 0, logit_coefficient=0.0,
                traps=["between_segment"] + (["reason_mix"] if on_reasons else []),
                effect=aht_text),
        _driver("training_hours", "noise", 0, logit_coefficient=0.0,
                effect="None: daily sessions drawn independently of everything else."),
        _driver("transfer_rate", "noise", 0, logit_coefficient=0.0,
                effect=("None: weekly transfer rates wander independently of resolution, "
                        "staffing and satisfaction; transfers do not enter the outcome model.")),
    ]
    if common_shock:
        shocks = ([f"incident days (about {100 * switches['incident_rate']:g} % of days, "
                   "see incidents) raise the volume of every queue and lower satisfaction "
                   "directly"] if on_inc else [])
        shocks += (["the weekday sets both volume (Monday peak, quiet weekends) and mood "
                    "(Monday grumpiest, see weekday_mood), so at day grain high-volume "
                    "days are low-mood days"] if on_mood else [])
        drivers.append(_driver(
            "offered", "non_driver", 0, logit_coefficient=0.0, traps=["common_shock"],
            mediated_by="asa",
            effect=("None: the number of contacts offered does not enter the outcome model. "
                    "It is a common-shock trap: " + "; ".join(shocks) + ". Within a queue "
                    "offered therefore correlates negatively with csat, more so at day "
                    "grain; shocks common to all queues are removed by period effects "
                    "(two-way fixed effects). Its only path to satisfaction is weak and "
                    "indirect: unforeseen volume raises occupancy and waits, i.e. the asa "
                    "driver.")))
    proxies = [
        {"name": "service_level", "of": "asa", "sign": +1,
         "note": "Moves with the same congestion that drives ASA; not in the outcome model."},
        {"name": "abandon_rate", "of": "asa", "sign": -1,
         "note": "Abandonment grows with waiting; not in the outcome model."},
        {"name": "abandon_rate_excl_short", "of": "asa", "sign": -1,
         "note": "As abandon_rate."},
        {"name": "avg_time_to_abandon", "of": "asa", "sign": -1,
         "note": "Longer when queues are long; not in the outcome model."},
        # With a common shock, offered is listed with the drivers as a non-driver.
        *([] if common_shock else [
            {"name": "offered", "of": "asa", "sign": -1,
             "note": ("Weak: unforeseen volume raises occupancy and waits; seasonal volume "
                      "is planned for and does not.")}]),
        {"name": "interaction_quality_score", "of": None, "sign": 0,
         "note": "Pure noise: a 10 % QA sample scored independently of everything."},
        {"name": "nps", "of": "csat", "sign": +1,
         "note": "Generated from the same response latent as csat (same drivers, same signs)."},
        {"name": "ces", "of": "csat", "sign": -1,
         "note": ("Generated from the negated response latent: every csat driver moves ces "
                  "with the opposite sign (higher ces = more effort).")},
    ]
    outcome_model = (
        "One latent per survey response r (a survey is sent only for answered contacts; "
        "whether a customer responds does not depend on the experience): "
        "eta_r = alpha[q] + %(drift)g * (t_r - 0.5) + %(fcr)g * (resolved_r - fcr0[q]) "
        "- %(asa)g * max(0, ASA[q, w] - %(thr)g) - %(bl)g * (BACKLOG[q, w-1] - backlog0[q])"
        "%(terms)s, "
        "where q is the contact's queue, w its Monday-start week in the local calendar, "
        "t_r = (contact's local day index) / (days - 1) runs from 0 to 1 (the unmeasured "
        "drift: it is in no file), resolved_r is 1 if the contact was resolved on first "
        "contact, ASA[q, w] is the realized mean wait_s of answered contacts of queue q in "
        "week w (as the panel computes it), BACKLOG[q, w-1] is the mean of the daily "
        "email_backlog rows of queue q in the previous week (the week before the first "
        "week is an unwritten burn-in week), and alpha, fcr0, backlog0 are listed in "
        "queue_parameters%(defs)s. Then y_r = eta_r + e_r with e_r ~ Logistic(0, 1) shared by the "
        "three answers, and each answer adds its own N(0, %(item)g^2) noise: "
        "csat = 1 + #{c in %(csat)s : y_r + u1 > c} (so csat >= 4 iff y_r + u1 > 0); "
        "nps = #{c in %(nps)s : y_r + u2 > c}; "
        "ces = 1 + #{c in %(ces)s : -y_r + u3 > c} (higher = more effort). "
        "5 %% of nps and 8 %% of ces answers are blank (skipped). No other column "
        "(aht, transfers, marketing_spend, training_hours, quality_score, agent, customer) "
        "enters the model.%(tail)s"
    ) % {"drift": _DRIFT_LOGIT, "fcr": _FCR_LOGIT, "asa": -_ASA_SLOPE,
         "thr": _ASA_THRESHOLD_S, "bl": -_BACKLOG_SLOPE, "item": _ITEM_SD,
         "csat": list(_CSAT_CUTS), "nps": list(_NPS_CUTS), "ces": list(_CES_CUTS),
         **_outcome_model_extras(switches)}
    if switches["wait_effect"] == "contact":
        outcome_model = outcome_model.replace(
            "- %g * max(0, ASA[q, w] - %g)" % (-_ASA_SLOPE, _ASA_THRESHOLD_S),
            "- %g * max(0, WAIT_r - %g)" % (-_CONTACT_WAIT_SLOPE, _ASA_THRESHOLD_S)).replace(
            "ASA[q, w] is the realized mean wait_s of answered contacts of queue q in "
            "week w (as the panel computes it)",
            "WAIT_r is the wait_s of the rated contact itself (the customer's own wait; "
            "wait_effect = contact)")
    queue_parameters = [
        {"queue": row.queue, "volume_weight": round(float(row.weight), 4),
         "alpha": round(float(row.alpha), 4),
         "baseline_csat_top2_pct": round(100 * float(_expit(row.alpha)), 1),
         "aht_s": round(float(row.aht_s), 1), "fcr0": round(float(row.fcr0), 4),
         "transfer0": round(float(row.transfer0), 4), "backlog0": float(row.backlog0),
         "planned_occupancy": round(float(row.rho0), 4),
         "response_rate": round(float(row.response_rate), 4)}
        for row in qp.itertuples()
    ]
    grain_note = ("Effects are planted at the week x queue grain: ISO weeks starting "
                  "Monday in the local calendar of the timezone, segments = queue. "
                  "lag_weeks counts weeks at that grain and lag_days = 7 * lag_weeks. "
                  "Signs are on csat (top-two box or mean); nps has the same signs, "
                  "ces the opposite.")
    if switches["wait_effect"] == "contact":
        grain_note += (" Exception: the asa driver acts on the contact (level 'contact'): "
                       "the hinge is on each customer's own wait_s.")
    if on_inc or on_mood or on_reasons:
        grain_note += (" The switchable shifts are no KPI and act below that grain: "
                       "incidents and weekday mood on the contact's local day (common to "
                       "all queues), reasons on the contact.")
    alpha_note = "mid-window"
    conditions = ((["on a Wednesday"] if on_mood else []) + (["no incident"] if on_inc else [])
                  + (["at the base reason mix"] if on_reasons else []))
    if conditions:
        alpha_note += ", " + ", ".join(conditions)
    contacts_file = "one row per contact (canonical contacts format)"
    if on_reasons:
        contacts_file += "; last column reason (see reasons)"
    return {
        "seed": seed, "days": days, "queues": queues, "start": start, "timezone": timezone,
        "contacts_per_day": cpd,
        "grain_note": grain_note,
        "drivers": drivers,
        "proxies": proxies,
        "queue_parameters": queue_parameters,
        "queue_parameters_note": (
            "alpha: the queue's baseline logit of satisfaction at typical conditions "
            "(FCR at fcr0, weekly ASA at or below the threshold, backlog at backlog0, "
            f"{alpha_note}); baseline_csat_top2_pct = 100 * expit(alpha), ignoring the small "
            "item noise. aht_s: mean handle time. planned_occupancy: occupancy the "
            "staffing plan aims at; shortfall weeks and unforeseen volume raise it."),
        "outcome_model": outcome_model,
        "files": {
            "contacts.csv": contacts_file,
            "surveys.csv": "one row per survey response (canonical surveys format)",
            "backlog.csv": "date, queue, email_backlog: daily open e-mails per queue",
            "marketing.csv": "date, marketing_spend: center-wide daily spend",
            "staffing.csv": "date, queue, training_hours: agent hours in training per day",
            "truth.json": "this planted truth",
        },
        "incident_rate": switches["incident_rate"],
        "incidents": _incidents_truth(cal, switches, inc),
        "weekday_mood": _mood_truth(on_mood),
        "reasons": _reasons_truth(cal, switches, mix),
        # only a non-default value adds the key, so the default truth.json keeps its bytes
        **({"wait_effect": switches["wait_effect"]} if switches["wait_effect"] != "period" else {}),
    }



def _queue_truth(cal, qp, plan, top2):
    """``truth["queue"]`` of ``queue=True``: the queue's parameters, the staffing plan and the
    expected CSAT top-two-box share per queue-week (``top2``, :func:`_expected_top2`)."""
    dates = cal["dates"].strftime("%Y-%m-%d")
    agents = {name: {dates[d]: plan["agents"][q, d, plan["open"][d]].tolist() for d in range(len(dates))}
              for q, name in enumerate(qp["queue"])}
    return {
        "enabled": True,
        "model": ("M/M/N+M per local hour, first come first served, per queue: the contacts arrive as "
                  "before (Poisson per queue and day, hour from the intraday profile, second uniform); "
                  "each has an exponential service time (mean: the queue's aht_s times the week's "
                  "handle factor and, with reasons, the reason's handle_multiplier; whole seconds, at "
                  "least 1) and an exponential patience (mean patience_mean_s). N agents are on duty "
                  "per local hour from the staffing plan (staffing.csv); an agent coming on duty takes "
                  "the next waiting customer, one going off duty finishes the call. A customer whose "
                  "patience runs out before an agent takes the call hangs up: abandoned, wait_s = the "
                  "patience; customers still waiting at closing time hang up too. wait_s, abandoned, "
                  "handle_s and agent_id (the agent who served) come out of the queue; no contact is "
                  "dropped by the system. Satisfaction depends on waiting as wait_effect says (with "
                  "'contact', on the customer's own wait_s)."),
        "interval_minutes": 60,
        "service": "exponential",
        "patience": "exponential",
        "patience_mean_s": _QUEUE_PATIENCE_S,
        "open_hours": {"weekday": [int(_WEEKDAY_HOURS[0]), int(_WEEKDAY_HOURS[-1]) + 1],
                       "weekend": [int(_WEEKEND_HOURS[0]), int(_WEEKEND_HOURS[-1]) + 1]},
        "plan": plan["source"],
        "plan_rule": ("planned: N = max(1, round(expected load / planned_occupancy x the day's staffing "
                      "factor / (1 + the hour's mismatch))), the expected load = the day's expected "
                      "volume (without the unforeseen surprise and incidents) x the hour's profile "
                      "share x aht_s / 3600; given: the table passed as staffing"),
        "agents": agents,
        "agents_note": "per queue and local date, the agents on duty in each open hour, in order",
        "weeks": [(cal["monday0"] + pd.Timedelta(weeks=w)).strftime("%Y-%m-%d") for w in range(cal["n_weeks"])],
        "expected_csat_top2_pct": {name: [None if np.isnan(v) else round(float(v), 6) for v in top2[q]]
                                   for q, name in enumerate(qp["queue"])},
        "expected_csat_note": (
            "per queue and week (weeks: their Mondays), the expected CSAT top-two-box percentage of the "
            "week's responses given its contacts: the mean over its answered contacts of P(csat >= 4) = "
            "E[expit(eta + u)], u ~ N(0, item_sd^2), eta as outcome_model says; rerun with a changed "
            "staffing plan, its change is the planted effect of the change on CSAT"),
    }

def _outcome_model_extras(switches):
    """The outcome model's extra terms for the switches that are on ('' when off)."""
    terms, defs, tail = "", "", ""
    if switches["incidents"]:
        terms += " + INCIDENT[d]"
        defs += ("; d is the contact's local day and INCIDENT[d] the direct shift of an "
                 "incident day, the same in every queue and whatever the wait (0 on other "
                 "days; see incidents.days)")
    if switches["weekday_mood"]:
        terms += " + MOOD[weekday(d)]"
        defs += "; MOOD is weekday_mood.logit_shift of the contact's local weekday"
    if switches["reasons"]:
        terms += " + REASON[k_r]"
        defs += ("; REASON[k_r] is the logit_shift of the reason k_r of the rated contact "
                 "(see reasons.list)")
        tail += (" Handle time in particular has no effect: the reason lengthens handling "
                 "and lowers satisfaction, handle_s does not enter eta_r.")
    if switches["incidents"] or switches["weekday_mood"]:
        tail += (" The number of contacts offered does not enter eta_r either; incidents "
                 "and weekdays move it together with the shifts above.")
    return {"terms": terms, "defs": defs, "tail": tail}


def _incidents_truth(cal, switches, inc):
    rate = switches["incident_rate"]
    days = []
    if inc is not None:
        for k, (d0, length) in enumerate(inc["episodes"]):
            for d in range(d0, d0 + length):
                days.append({"date": cal["dates"][d].strftime("%Y-%m-%d"), "episode": k + 1,
                             "volume_multiplier": round(float(inc["volume"][d]), 6),
                             "logit_shift": round(float(inc["logit"][d]), 6)})
    return {
        "enabled": switches["incidents"],
        "role": "common_shock",
        "rate": rate,
        "episode_lengths": {str(n): p for n, p in zip(_INCIDENT_LENGTHS, _INCIDENT_LENGTH_P)},
        "episode_start_probability": round(_incident_start_probability(rate), 6),
        "volume_multiplier": list(_INCIDENT_VOLUME),
        "logit_shift": list(_INCIDENT_LOGIT),
        "reason_tilt": _INCIDENT_TILT if switches["reasons"] else 0.0,
        "model": (
            "After a day that is no incident day, an incident episode starts with "
            "episode_start_probability (so that the expected share of incident days is rate) "
            "and lasts 1, 2 or 3 days (episode_lengths; the day after an episode is quiet). "
            "Each episode draws a severity s ~ U(0, 1): on its days every queue's expected "
            "volume and its occupancy (the staffing plan did not foresee it) are multiplied by "
            "volume_multiplier[0] + s * (volume_multiplier[1] - volume_multiplier[0]), so waits "
            "and abandonment rise through the queue mechanics, and the satisfaction latent of "
            "the contacts arriving that day shifts by logit_shift[0] + s * (logit_shift[1] - "
            "logit_shift[0]), whatever their wait. With reasons on, the reason mix tilts by "
            "reason_tilt towards complex reasons."),
        "dates": [d["date"] for d in days],
        "days": days,
    }


def _mood_truth(on):
    return {
        "enabled": on,
        "logit_shift": {n: float(v) for n, v in zip(_WEEKDAY_NAMES, _WEEKDAY_MOOD)},
        "note": ("Shift of the satisfaction latent by the local weekday of the rated contact, "
                 "the same in every queue and week. The weekday also sets volume "
                 "(Monday peak, quiet weekends), so at day grain volume and mood are "
                 "confounded through the weekday; at week grain every week holds each "
                 "weekday once and the shift averages out."),
    }


def _reasons_truth(cal, switches, mix):
    t = _reason_table()
    defect = [] if mix is None else [
        (cal["monday0"] + pd.Timedelta(weeks=int(w))).strftime("%Y-%m-%d")
        for w in np.flatnonzero(mix["defect_weeks"])]
    return {
        "enabled": switches["reasons"],
        "role": "confounder",
        "column": "reason",
        "list": [{"reason": name, "base_share": float(share), "complexity": float(cx),
                  "handle_multiplier": round(float(h), 6), "logit_shift": round(float(b), 6)}
                 for name, share, cx, h, b in zip(t["names"], t["share"], t["complexity"],
                                                  t["handle"], t["logit"])],
        "handle_log_per_complexity": _REASON_HANDLE,
        "logit_per_complexity": _REASON_LOGIT,
        "incident_tilt": _INCIDENT_TILT if switches["incidents"] else 0.0,
        "defect_rate": _DEFECT_RATE,
        "defect_lengths": {"1": _DEFECT_LENGTH_P[0], "2": _DEFECT_LENGTH_P[1]},
        "defect_tilt": _DEFECT_TILT,
        "defect_weeks": defect,
        "centre_wobble_sd": _REASON_CENTRE_SD,
        "centre_wobble_phi": _REASON_CENTRE_PHI,
        "queue_wobble_sd": _REASON_QUEUE_SD,
        "queue_wobble_phi": _REASON_QUEUE_PHI,
        "model": (
            "Each contact's reason k is drawn with P(k | queue q, day d) proportional to "
            "base_share[k] * exp(tilt[q, d] * complexity[k]), tilt[q, d] = incident_tilt * "
            "(d is an incident day) + defect_tilt * (d's week w is a defect week) + "
            "centre_wobble_sd * z0[w] + queue_wobble_sd * z[q, w], with z0 (centre-wide, phi "
            "centre_wobble_phi) and z[q] (one per queue, phi queue_wobble_phi) unit-variance "
            "AR(1) series over weeks: mostly centre-wide, a little queue-specific. A "
            "product-defect episode starts in a week with probability defect_rate and lasts "
            "1 or 2 weeks (defect_lengths). The reason multiplies the contact's expected "
            "handle time by handle_multiplier[k] = exp(handle_log_per_complexity * "
            "complexity[k]) / (its base-mix mean) and shifts its satisfaction latent by "
            "logit_shift[k] = logit_per_complexity * (complexity[k] - base-mix mean "
            "complexity). Handle time itself has no effect on satisfaction."),
    }
