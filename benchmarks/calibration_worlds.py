"""World generators for ``benchmarks/calibration.py``: contact-centre panels under realistic nulls.

Every world is one DataFrame, one row per queue x period, with the columns the API reads:

``period``  Mondays (week grain) or consecutive days (day grain), from 2024-01-01;
``queue``   ``q1`` .. ``qS``;
``csat``    a top-2-box percentage, ``100 * Binomial(csat_n, p) / csat_n``, so the sampling noise of a
            survey percentage is in the data (missing when no survey came back);
``csat_n``  survey responses of the queue-period: Poisson around ``responses`` (300 a week, 60 a day in
            family A) times a queue size factor (and a weekday factor at day grain);
``asa``     seconds; a driver only in the power worlds (``effect`` != 0);
``x_null``  the KPI under test; it never affects ``csat``. How it and the csat latent move together
            (without a causal link) is the scenario.

The csat latent of a queue-period is ``base_q + u_qt + scenario terms - effect * asa_qt`` in points,
with ``u`` an AR(1) per queue. ``x_null`` is ``a_q + v_qt + scenario terms``, ``v`` an independent
AR(1) per queue. Scenario terms that are shared by the queues carry queue loadings ``1 + h z_q``
(``h`` = ``loading_sd``, independent draws for x and for csat): real queues never move by exactly
the same amount, so period effects remove the common part and leave a queue-specific remainder whose
x-part and csat-part are independent (the null holds, but the remainders are persistent).

Two families of parameters. ``A`` is the one the table reports first; ``B`` changes every nuisance
(more persistence, heavy-tailed innovations, wider loadings, fewer responses, 3 % of queue-periods
missing) and is the check on worlds nothing was looked at on first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01")   # a Monday

NULL_SCENARIOS = ("ar1", "trend", "season", "level_shift", "cross_dependence", "common_shock", "weekday",
                  "between_segment", "centre_wide")
SCENARIOS = NULL_SCENARIOS + ("power",)


@dataclass(frozen=True)
class Family:
    """The nuisance parameters of a family of worlds (see the module docstring)."""

    name: str = "A"
    phi: tuple[float, float] = (0.6, 0.8)       # AR(1) coefficient of x and csat latent, uniform range
    x_sd: float = 8.0                           # stationary sd of x_null's own AR(1)
    y_sd: float = 1.5                           # stationary sd of the csat latent's AR(1), points
    tail_df: float | None = None                # t innovations (None: normal)
    loading_sd: float = 0.25                    # queue loadings 1 + h z on shared terms
    responses_week: float = 300.0
    responses_day: float = 60.0
    missing: float = 0.0                        # share of queue-periods dropped (gaps)
    shock_rate: float = 0.04                    # share of incident periods (common_shock, power)


FAMILIES = {
    "A": Family(),
    "B": Family(name="B", phi=(0.8, 0.95), x_sd=10.0, y_sd=2.0, tail_df=4.0, loading_sd=0.5,
                responses_week=150.0, responses_day=30.0, missing=0.03, shock_rate=0.06),
}


def n_periods(scenario: str, grain: str, periods: int | None = None) -> int:
    """Periods of a world: 364 days, 52 weeks (104 for yearly seasonality), unless given."""
    if periods:
        return int(periods)
    if grain == "day":
        return 364
    return 104 if scenario == "season" else 52


def _innov(rng, shape, df):
    if df is None:
        return rng.standard_normal(shape)
    return rng.standard_t(df, shape) / np.sqrt(df / (df - 2))    # unit variance


def ar1(rng, n_series: int, T: int, phi, sd: float, df=None) -> np.ndarray:
    """``n_series`` stationary AR(1) paths of length T (rows), stationary sd ``sd``; phi scalar or per row."""
    phi = np.broadcast_to(np.asarray(phi, dtype=float), (n_series,))
    e = _innov(rng, (n_series, T), df) * sd * np.sqrt(1 - phi ** 2)[:, None]
    out = np.empty((n_series, T))
    out[:, 0] = _innov(rng, n_series, df) * sd
    for t in range(1, T):
        out[:, t] = phi * out[:, t - 1] + e[:, t]
    return out


def _weekday(T: int) -> np.ndarray:
    return (START + pd.to_timedelta(np.arange(T), unit="D")).day_of_week.to_numpy()


def world(scenario: str, grain: str, n_queues: int, seed, *, family: Family | str = "A",
          periods: int | None = None, effect: float = 0.1) -> pd.DataFrame:
    """One panel of ``scenario`` (see ``SCENARIOS``); ``effect``: csat points lost per second of ASA
    in the ``power`` scenario (0.1 = one point per 10 s); the null scenarios ignore it."""
    fam = FAMILIES[family] if isinstance(family, str) else family
    rng = np.random.default_rng(seed)
    S, T = n_queues, n_periods(scenario, grain, periods)
    day = grain == "day"
    t = np.arange(T)
    wd = _weekday(T) if day else None
    lam = 1 + fam.loading_sd * rng.standard_normal(S)        # loadings of x on shared terms
    mu = 1 + fam.loading_sd * rng.standard_normal(S)         # loadings of csat
    base = 78 + 5 * rng.standard_normal(S)                   # queue csat baselines, points
    level = 50 + 10 * rng.standard_normal(S)                 # queue x levels
    size = rng.uniform(0.5, 1.5, S)                          # queue size factor of the responses
    phix, phiy = rng.uniform(*fam.phi, S), rng.uniform(*fam.phi, S)
    y_sd = fam.y_sd * (1.3 if day else 1.0)                  # days are noisier than weeks
    latent = base[:, None] + ar1(rng, S, T, phiy, y_sd, fam.tail_df)
    x = level[:, None] + ar1(rng, S, T, phix, fam.x_sd, fam.tail_df)
    asa_level = rng.uniform(25, 60, S)
    asa = asa_level[:, None] + ar1(rng, S, T, rng.uniform(*fam.phi, S), 15.0 if day else 10.0, fam.tail_df)
    frac = t / (T - 1)

    if scenario == "ar1":
        pass
    elif scenario == "trend":
        x += lam[:, None] * 15 * frac
        latent -= mu[:, None] * 4 * frac
    elif scenario == "season":
        cycle = 2 * np.pi * (t / 30.4 if day else t / 52.18)
        phase = rng.uniform(0, 2 * np.pi)
        x += lam[:, None] * 8 * np.sin(cycle + phase)
        latent -= mu[:, None] * 2 * np.sin(cycle + phase + rng.normal(0, 0.5))
    elif scenario == "level_shift":
        tau = int(rng.integers(int(0.25 * T), int(0.75 * T)))
        x += lam[:, None] * 10 * (t >= tau)
        latent -= mu[:, None] * 3 * (t >= tau)
    elif scenario == "cross_dependence":
        x += lam[:, None] * ar1(rng, 1, T, 0.7, fam.x_sd, fam.tail_df)
        latent += mu[:, None] * ar1(rng, 1, T, 0.7, y_sd, fam.tail_df)
    elif scenario == "common_shock":
        shock = rng.random(T) < fam.shock_rate
        x += shock * 25 * (1 + 0.25 * rng.standard_normal((S, T)))
        latent -= shock * 5 * (1 + 0.25 * rng.standard_normal((S, T)))
    elif scenario == "weekday":
        if not day:
            raise ValueError("the weekday scenario is a day-grain world")
        x += lam[:, None] * np.array([12, 6, 3, 0, -3, -8, -10])[wd]
        latent += mu[:, None] * np.array([-3, -1.5, -0.5, 0, 0.5, 1.5, 2])[wd]
    elif scenario == "between_segment":
        x += -2.5 * (base[:, None] - 78)                      # high-csat queues have low x
    elif scenario == "centre_wide":
        common = 100 + ar1(rng, 1, T, 0.8, 10.0, fam.tail_df)[0]
        latent += ar1(rng, 1, T, 0.8, y_sd, fam.tail_df)[0]   # a centre-wide csat drift
        if day:
            common = common + np.array([15, 10, 8, 5, 0, -20, -25])[wd]
            latent += np.array([-3, -1.5, -0.5, 0, 0.5, 1.5, 2])[wd]
        x = np.broadcast_to(common, (S, T)).copy()            # the same in every queue
    elif scenario == "power":
        shock = rng.random(T) < fam.shock_rate
        asa += shock * 40 * (1 + 0.25 * rng.standard_normal((S, T)))
        x += shock * 25 * (1 + 0.25 * rng.standard_normal((S, T)))
        latent -= shock * 4 * (1 + 0.25 * rng.standard_normal((S, T)))
        if day:   # ASA's own queue loadings: x_null must not share a weekday remainder with ASA
            asa += (1 + fam.loading_sd * rng.standard_normal(S))[:, None] * np.array([15, 8, 4, 0, -4, -10, -12])[wd]
            x += lam[:, None] * np.array([12, 6, 3, 0, -3, -8, -10])[wd]
            latent += mu[:, None] * np.array([-3, -1.5, -0.5, 0, 0.5, 1.5, 2])[wd]
    else:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")

    asa = np.maximum(asa, 1.0)
    if scenario == "power":
        latent -= effect * asa
    mean_n = fam.responses_day if day else fam.responses_week
    rate = mean_n * np.broadcast_to(size[:, None], (S, T))
    if day:
        rate = rate * np.array([1.2, 1.1, 1.05, 1.0, 0.95, 0.6, 0.5])[wd]
    n = rng.poisson(rate)
    p = np.clip(latent / 100, 0.01, 0.99)
    hits = rng.binomial(n, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        csat = np.where(n > 0, 100.0 * hits / np.maximum(n, 1), np.nan)
    periods_ = START + pd.to_timedelta(t * (1 if day else 7), unit="D")
    out = pd.DataFrame({
        "period": np.tile(periods_, S),
        "queue": np.repeat([f"q{i + 1}" for i in range(S)], T),
        "csat": csat.ravel(), "csat_n": n.ravel().astype(float),
        "asa": asa.ravel(), "x_null": x.ravel(),
    })
    if fam.missing > 0:
        keep = rng.random(len(out)) >= fam.missing
        out = out[keep].reset_index(drop=True)
    return out


def survey_rows(grain: str, n_queues: int, seed, *, family: Family | str = "A", responses: float = 40.0,
                periods: int | None = None, shared: bool = True) -> pd.DataFrame:
    """Respondent-level rows under the cross-dependence null, for the ordinal model.

    ``x_null`` is a queue level plus a queue AR(1) plus a centre-wide AR(1) (loadings ``1 + h z``);
    each response's latent satisfaction is a queue effect, a queue-period AR(1), a centre-wide AR(1)
    with its own loadings (independent of x), and a logistic draw; cut points map it to 1-5 (about
    10/10/20/30/30 %). ``responses`` per queue-period (Poisson); the KPI never enters the score.
    ``shared=False`` leaves out both centre-wide components (independent queues: the control world).
    """
    fam = FAMILIES[family] if isinstance(family, str) else family
    rng = np.random.default_rng(seed)
    S, T = n_queues, n_periods("cross_dependence", grain, periods)
    lam = 1 + fam.loading_sd * rng.standard_normal(S)
    mu = 1 + fam.loading_sd * rng.standard_normal(S)
    x = (50 + 10 * rng.standard_normal(S))[:, None] + ar1(rng, S, T, rng.uniform(*fam.phi, S), fam.x_sd,
                                                          fam.tail_df)
    common_x = ar1(rng, 1, T, 0.7, fam.x_sd, fam.tail_df)
    x += lam[:, None] * common_x * shared
    # the latent in logit units: a shared period component of sd 0.3 is about 1.5 CSAT points
    u = (0.4 * rng.standard_normal(S))[:, None] + ar1(rng, S, T, rng.uniform(*fam.phi, S), 0.2, fam.tail_df)
    u += mu[:, None] * ar1(rng, 1, T, 0.7, 0.3, fam.tail_df) * shared
    n = rng.poisson(responses * rng.uniform(0.5, 1.5, S)[:, None] * np.ones((1, T)))
    seg = np.repeat(np.arange(S), T)
    tt = np.tile(np.arange(T), S)
    counts = n.ravel()
    row_seg, row_t = np.repeat(seg, counts), np.repeat(tt, counts)
    eta = u.ravel()[np.repeat(np.arange(S * T), counts)] + rng.logistic(size=counts.sum())
    cuts = np.array([-2.2, -1.4, -0.4, 0.85])         # logit(0.1, 0.2, 0.4, 0.7): about 10/10/20/30/30 %
    score = 1 + np.searchsorted(cuts, eta)
    step = 1 if grain == "day" else 7
    return pd.DataFrame({"period": START + pd.to_timedelta(row_t * step, unit="D"),
                         "queue": np.array([f"q{i + 1}" for i in range(S)])[row_seg],
                         "score": score.astype(int), "x_null": x.ravel()[np.repeat(np.arange(S * T), counts)]})

