"""The intervention check of step 6: when a KPI was changed on purpose, did CX follow as predicted?

A declared :class:`~alignment.validation.Intervention` changes some queues (the *treated*
segments) from a date on. Every other queue that no intervention on the same KPI touched is a
*control*. The check compares the treated queues with the controls before and after the date
(difference in differences), for the KPI and, ``lag`` periods later, for the outcome, and asks
three questions:

1. **Were the queues comparable before the change?** An event study of the treated-minus-control
   gap, and tests that it was flat before the change (parallel trends).
2. **Did the change move the KPI, and did CX move the way the driver predicts?** The difference
   in differences of the KPI and of the outcome, with intervals that keep their size under
   autocorrelated and drifting noise, read twice: assuming parallel trends, and allowing the
   treated queues a steady (linear) drift of their own.
3. **Did CX move as much as the observational slope predicts?** Predicted CX change = slope x
   KPI change; a CX change significantly smaller than that contradicts the driver.

Design
------
*The gap.* In each period, the mean of the treated segments minus the mean of the controls
(unweighted means over the segments observed that period). The gap removes segment effects
and every shock common to all queues in a period (the two-way fixed-effects design with one
treated group). The check assumes **parallel trends** (without the change, the gap would have
stayed level up to noise, or, in the drift-adjusted reading, kept drifting at a steady rate)
and **no spillover** (the change did not also move the controls, for instance through shared
agents).

*Noise model.* The gap's noise is an AR(1) process plus white noise, ``u_t = a_t + v_t`` with
``a_t = phi a_(t-1) + e_t``. It covers white noise, AR(1) noise, a persistent queue state seen
through survey sampling noise (both parts), and a random walk plus noise (``phi`` near 1: the
queues wander apart). Its two parameters are not estimated and plugged in but averaged over:
every estimate and p-value is the average over a grid of 29 x 18 noise models (``phi`` from
-0.8 to 0.998, denser near 1; the ratio of innovation to white-noise variance on a log grid
from 1e-3 to 100, plus the two pure cases), weighted by their restricted (REML) likelihood
under a uniform prior on the grid. For each noise model the regression is exact GLS (a Kalman
filter whitens the gap and the regressors; missing periods are handled exactly) and the
coefficient has a t distribution with n - k degrees of freedom, so the average is a mixture of
t distributions; intervals are its quantiles. In the prototype runs that chose this design
(500 replications, one treated of 4 queues, 40 periods, AR(1) phi = 0.8), plugging in the REML
estimate of an AR(1) model rejected a true null 10 % of the time, averaging over ``phi`` 6 %.

*Noise learned from the controls.* A slow drift of the gap is hard to tell from a step at the
change date when only the gap is looked at: with white noise plus a random walk of 0.3 noise sd
per period, 4 queues and 40 periods, the gap-only version rejected a true null 25-30 % of the
time (prototype, 300 replications). The control queues never changed, so their differences
(orthonormal contrasts between control segments) show the noise dynamics with no effect to hide
behind. Their restricted likelihood is added to the gap's (each series keeps its own level and
scale; they share the noise model), assuming the treated queues' noise is like the controls'.
With a single control segment there is no contrast and the gap alone informs the noise model.

*Event study.* The gap is regressed on a constant and event-time indicators, ``k = -E .. E``
periods from the change (``E = min(pre, post) // 2`` clipped to 2..8; the endpoints are bins:
``-E`` holds every earlier period, ``E`` every later one); the reference is the last period
before the change (``k = -1``), so each coefficient is the gap's change since then. The
outcome's event time is shifted by the driver's lag. Figures ``event_study_kpi`` and
``event_study_outcome``; their intervals are the mixture's mean plus or minus the t quantile
times its standard deviation.

*Pre-trend test.* For the KPI and for the outcome: the joint Wald (F) test that the lead
coefficients (``k <= -2``) are zero, and the test of a linear trend of the gap over the
pre-period alone (more power against a steady divergence); the four p-values are combined by
Bonferroni into ``p_pretrend``. ``p_pretrend < alpha``: ``not_enough_data``, the queues were
already diverging. A pre-trend test that passes proves little (Roth 2022): a drift too slow to
show in the pre-period still biases a before/after comparison over the whole sample, which is
why every conclusion is also read with a drift allowed (below).

*Difference in differences, two readings.* The gap regressed on a constant and the post
indicator (``kpi_effect``, ``effect`` and their intervals at level ``1 - alpha``: the
parallel-trends reading); and on a constant, the post indicator and a linear trend over all
periods (the ``..._trend_adjusted`` figures: the treated queues may drift steadily apart from
the controls at any rate, the change is the jump on top of the drift). The second costs
precision (the jump at mid-sample is partly confounded with a trend: about twice the standard
error), and buys protection against the drifts no pre-trend test can see. A conclusion holds
when it holds in both readings (an intersection-union test): ``p_value``, ``p_other_way`` and
``p_consistency`` are the larger p of the two readings, whose own p-values are in
``..._parallel_trends`` and ``..._trend_adjusted``; ``status_parallel_trends`` and
``status_trend_adjusted`` say what each reading alone would conclude.

*Placebo dates.* The same outcome difference in differences at every fake date inside the
pre-period that leaves at least 4 pre-period periods on each side (at most 20 dates, evenly
spread), estimated on the pre-period alone. ``placebo_dates_p = (1 + #{|placebo| >=
|observed|}) / (1 + K)``. Reported, not used for the status: the placebo windows are shorter
than the real one, so their effects are noisier and this p is conservative.

*Consistency.* ``predicted_effect = slope x kpi_effect`` where ``slope`` (``Driver.slope``, its
standard error ``Driver.slope_se``) is the observational slope of the outcome per unit of the
KPI in the trusted scope on the training periods; its standard error by the delta method,
``sqrt(kpi_effect^2 slope_se^2 + slope^2 kpi_se^2)``. ``p_consistency`` is the one-sided p of
"CX moved less than predicted" (the outcome change against the prediction, both
uncertainties). Without a slope (NaN) the direction comes from the driver's sign alone and
the size of the response is not checked.

Status
------
``pass`` (confirms the driver)
    no pre-trend (``p_pretrend >= alpha``); in both readings the KPI moved (interval excludes
    zero, in ``direction`` if given) and CX moved in the predicted direction (``p_value <
    alpha``, one-sided: the direction is fixed in advance by the driver's association); and in
    neither reading did CX move significantly less than predicted.
``fail`` (contradicts the driver)
    no pre-trend, the KPI moved, and in both readings CX moved significantly the other way
    (``p_other_way < alpha``) or significantly less than predicted (``p_consistency <
    alpha``). A CX change that is merely not significant does not fail: with little power it
    decides nothing.
``not_enough_data``
    no control segment; fewer than 4 periods before or after the change; the gaps cannot be
    estimated; a pre-trend; the KPI did not move; no expected direction (unknown sign and no
    slope); a CX change that neither confirms nor contradicts; or readings that disagree (the
    conclusion would rest on parallel trends alone).
``not_applicable``
    no intervention was declared on the KPI.

Several interventions on one KPI: any ``fail`` fails, else any ``pass`` passes; each one's
figures are in ``interventions``. A segment treated by another intervention on the same KPI
is never a control (staggered adoption would allow it as a control before its own date; this
check simply leaves it out) and is listed in ``excluded_controls``.

Measured size and power
-----------------------
``benchmarks/intervention_size.py`` (seeded Monte Carlo, one call of :func:`intervention` per
replication): ``S`` queues x ``T`` periods, the first queue(s) treated from mid-sample, each
queue with its own level and unit-variance noise, and a shock common to all queues each period;
the treated queues' KPI is cut by 3 noise sd; ``white + walk`` is white noise plus a random walk
with innovations of 0.3 noise sd. Each cell reads "4 queues, 1 treated / 8 queues, 2 treated";
alpha = 0.05.

True null (CX does not respond, no slope given; 400 replications, ``--reps 400 --designs null
--periods 40 60 120 --compare``). ``DiD 2-sided``: rejection rate of the outcome difference in
differences (parallel-trends reading); ``pass`` and ``fail``: rates of a false confirmation and
of a false contradiction; ``previous``: two-sided rejection rate of the test this check
replaces (the gap on the post indicator with AR(1) errors by exact ML, t(n - 3)).

============ ==== ============= ============= ============= =============
noise           T   DiD 2-sided          pass          fail      previous
============ ==== ============= ============= ============= =============
white          40 0.040 / 0.028 0.005 / 0.003 0.013 / 0.013 0.058 / 0.045
white          60 0.022 / 0.030 0.005 / 0.015 0.003 / 0.010 0.037 / 0.045
white         120 0.033 / 0.037 0.013 / 0.018 0.010 / 0.005 0.045 / 0.048
AR(1) 0.5      40 0.030 / 0.052 0.013 / 0.015 0.020 / 0.005 0.083 / 0.080
AR(1) 0.5      60 0.033 / 0.050 0.005 / 0.015 0.013 / 0.003 0.068 / 0.080
AR(1) 0.5     120 0.048 / 0.033 0.015 / 0.007 0.007 / 0.010 0.065 / 0.048
AR(1) 0.8      40 0.052 / 0.048 0.035 / 0.035 0.040 / 0.035 0.117 / 0.130
AR(1) 0.8      60 0.052 / 0.060 0.025 / 0.028 0.033 / 0.035 0.105 / 0.120
AR(1) 0.8     120 0.055 / 0.040 0.025 / 0.022 0.025 / 0.025 0.098 / 0.077
white + walk   40 0.125 / 0.083 0.033 / 0.030 0.015 / 0.033 0.468 / 0.450
white + walk   60 0.055 / 0.052 0.030 / 0.037 0.022 / 0.010 0.598 / 0.605
white + walk  120 0.045 / 0.045 0.025 / 0.022 0.022 / 0.040 0.695 / 0.690
============ ==== ============= ============= ============= =============

A slow drift (``pretrend``: the treated queues' CX drifts by 0.5 noise sd over the sample and
does not answer the change) and a real effect (``power``: CX moves by 1 noise sd at the change,
as the slope predicts); 200 replications (``--reps 200 --designs pretrend power --compare``).
``pass``: rate of confirmation; ``parallel only``: what the parallel-trends reading alone would
confirm (after the pre-trend test); ``pre-trend``: rate of ``p_pretrend < alpha``;
``previous``: the old test's two-sided rejection rate.

========= ============ ==== ============= ============= ============= =============
design    noise           T          pass parallel only     pre-trend      previous
========= ============ ==== ============= ============= ============= =============
pretrend  white          40 0.015 / 0.055 0.140 / 0.210 0.035 / 0.050 0.120 / 0.170
pretrend  white         120 0.050 / 0.030 0.240 / 0.430 0.030 / 0.075 0.205 / 0.405
pretrend  AR(1) 0.5      40 0.030 / 0.020 0.105 / 0.115 0.055 / 0.020 0.145 / 0.140
pretrend  AR(1) 0.5     120 0.010 / 0.025 0.170 / 0.220 0.055 / 0.050 0.160 / 0.145
power     white          40 0.315 / 0.640 0.730 / 0.920 0.110 / 0.035 0.740 / 0.940
power     white         120 0.690 / 0.880 0.915 / 0.945 0.045 / 0.055 0.995 / 1.000
power     AR(1) 0.5      40 0.245 / 0.410 0.485 / 0.750 0.030 / 0.045 0.485 / 0.670
power     AR(1) 0.5     120 0.390 / 0.620 0.865 / 0.885 0.025 / 0.080 0.835 / 0.980
power     AR(1) 0.8      40 0.375 / 0.605 0.495 / 0.715 0.040 / 0.070 0.380 / 0.575
power     AR(1) 0.8     120 0.395 / 0.665 0.600 / 0.820 0.015 / 0.020 0.455 / 0.735
power     white + walk   40 0.155 / 0.290 0.295 / 0.440 0.095 / 0.045 0.610 / 0.635
power     white + walk  120 0.235 / 0.330 0.355 / 0.415 0.055 / 0.115 0.780 / 0.725
========= ============ ==== ============= ============= ============= =============

The drift reading is what keeps a slow divergence from confirming a driver (the pre-trend tests
catch 2-8 % of these drifts, as Roth (2022) leads one to expect), and it costs power: in 40
periods it confirms a real 1-sd effect 15-57 % less often than the parallel-trends reading
alone would (57 % less with one treated queue of 4 and white noise). The intersection-union rule is
conservative when there is no drift (false confirmations 0.3-3.5 %); with a linear drift its
size is that of the drift reading, which models the drift. Monte Carlo standard error near 5 %:
1.1 points at 400 replications, 1.5 at 200. One check takes 0.1-0.6 s.

References
----------
Harvey, A. C. (1989). *Forecasting, structural time series models and the Kalman filter*.
Cambridge University Press (the AR(1)-plus-noise model and GLS by the Kalman filter).
Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. *Review of
Economic Studies* 90(5), 2555-2591 (linear violations of parallel trends, the drift reading).
Roth, J. (2022). Pretest with caution: event-study estimates after testing for parallel trends.
*American Economic Review: Insights* 4(3), 305-322.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..exceptions import OptionError
from ..panel.frame import segment_codes, segment_labels
from . import checks as _checks
from .options import Intervention, Thresholds

__all__ = ["intervention"]

METHOD = ("event study and difference in differences of the treated-minus-control gap, read assuming parallel "
          "trends and with a linear drift allowed (AR(1)-plus-noise errors averaged over their restricted "
          "likelihood, noise dynamics learned from the control queues); pre-trend tests; placebo dates; the CX "
          "change against the one the observational slope predicts")

MIN_SIDE = 4            # periods needed before and after the change
MAX_PLACEBO_DATES = 20
MIN_CONTRAST_PERIODS = 8
PRUNE = 40.0            # log-likelihood units below the best noise model that are dropped

# The noise grid: phi denser near 1; noise share = white-noise variance / (white + innovation)
_PHI = np.r_[np.linspace(-0.8, 0.8, 17), 1 - np.geomspace(0.15, 0.002, 12)]
_RATIO = np.r_[0.0, np.geomspace(1e-3, 1e2, 16)]          # innovation / white-noise variance
_SHARE = np.r_[1 / (1 + _RATIO), 0.0]
_GRID_PHI, _GRID_SHARE = (a.ravel() for a in np.meshgrid(_PHI, _SHARE, indexing="ij"))


# ----------------------------------------------------------------------------- GLS under the noise grid

def _whiten(Z: np.ndarray, times: np.ndarray, keep=slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """Innovations of each column of ``Z`` under the noise models ``keep`` of the grid, scaled to unit variance.

    ``Z`` is (n, C), observed at the increasing integer ``times``; returns ``E`` (n, G, C) and the
    log innovation variances (n, G). The Kalman filter is linear in the data, so one pass whitens
    the response and the regressors alike (GLS); a jump in ``times`` is a run of missing periods.
    """
    phi, share = _GRID_PHI[keep], _GRID_SHARE[keep]
    q, r = 1.0 - share, share
    n, C = Z.shape
    E = np.empty((n, phi.size, C))
    logF = np.empty((n, phi.size))
    state = np.zeros((phi.size, C))
    P = q / (1 - phi ** 2)                      # stationary variance of the AR part
    for i in range(n):
        if i:
            decay = phi ** int(times[i] - times[i - 1])
            state *= decay[:, None]
            P = decay ** 2 * P + q * (1 - decay ** 2) / (1 - phi ** 2)
        F = P + r
        e = Z[i][None, :] - state
        state += (P / F)[:, None] * e
        P = P * r / F
        E[i] = e / np.sqrt(F)[:, None]
        logF[i] = np.log(F)
    return E, logF


@dataclass(frozen=True)
class _Moments:
    """Cross-products of the whitened columns over the first ``n`` periods, under every noise model.

    The Kalman filter is causal, so the first rows of a whitened series are the whitened first
    rows: a regression on the pre-period alone needs no second pass.
    """

    M: np.ndarray       # (G, C, C)
    logdet: np.ndarray  # (G,) sum of the log innovation variances
    n: int

    @classmethod
    def of(cls, E: np.ndarray, logF: np.ndarray, n: int) -> "_Moments":
        part = np.ascontiguousarray(E[:n].transpose(1, 2, 0))          # (G, C, n)
        return cls(part @ part.transpose(0, 2, 1), logF[:n].sum(axis=0), n)


@dataclass(frozen=True)
class _Fit:
    """GLS of one regression under every noise model: coefficients, covariances, REML log-likelihood."""

    beta: np.ndarray    # (G, k)
    cov: np.ndarray     # (G, k, k)
    loglik: np.ndarray  # (G,)
    df: int


def _gls(m: _Moments, cols: list[int], response: int = 0) -> _Fit | None:
    """Column ``response`` on columns ``cols``: GLS and restricted log-likelihood under each noise model."""
    k = len(cols)
    df = m.n - k
    if df < 2:
        return None
    XtX = m.M[:, cols][:, :, cols]
    Xty = m.M[:, cols, response]
    yty = m.M[:, response, response]
    sign, logdet = np.linalg.slogdet(XtX)
    if np.any(sign <= 0) or not np.all(np.isfinite(logdet)):
        return None
    inv = np.linalg.inv(XtX)
    beta = (inv @ Xty[..., None])[..., 0]
    s2 = (yty - (beta * Xty).sum(axis=1)) / df
    s2 = np.maximum(s2, 1e-12 * yty / m.n + 1e-300)      # a noiseless series stays finite
    loglik = -0.5 * (df * np.log(s2) + m.logdet + logdet)
    return _Fit(beta, s2[:, None, None] * inv, loglik, df)


def _contrast_loglik(panel: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, int]:
    """Restricted log-likelihood of the noise models from orthonormal contrasts between untreated segments.

    ``panel`` is (segments, periods) with NaN where missing; only periods where every segment is
    observed are used. Each contrast has its own level and scale; they share the noise model.
    Returns the summed log-likelihood (zeros when there is no usable contrast) and the number of
    contrasts used.
    """
    zeros = np.zeros(_GRID_PHI.size)
    if panel.shape[0] < 2:
        return zeros, 0
    full = np.all(np.isfinite(panel), axis=0)
    if full.sum() < MIN_CONTRAST_PERIODS:
        return zeros, 0
    m = panel.shape[0]
    helmert = np.zeros((m - 1, m))
    for i in range(1, m):
        helmert[i - 1, :i] = 1.0 / i
        helmert[i - 1, i] = -1.0
        helmert[i - 1] /= np.linalg.norm(helmert[i - 1])
    contrasts = (helmert @ panel[:, full]).T                      # (n, m - 1)
    scale = contrasts.std(axis=0)
    keep = scale > 1e-12 * (np.abs(contrasts).max(axis=0) + 1e-300)
    if not keep.any():
        return zeros, 0
    contrasts = contrasts[:, keep] / scale[keep]
    E, logF = _whiten(np.column_stack([np.ones(len(contrasts)), contrasts]), times[full])
    moments = _Moments.of(E, logF, len(contrasts))
    total = zeros.copy()
    for j in range(1, contrasts.shape[1] + 1):
        fit = _gls(moments, [0], response=j)
        if fit is not None:
            total += fit.loglik
    return total, int(keep.sum())


def _weights(loglik: np.ndarray) -> np.ndarray:
    w = np.exp(loglik - loglik.max())
    return w / w.sum()


@dataclass(frozen=True)
class _Coef:
    """One coefficient averaged over the noise models: a mixture of t distributions."""

    beta: np.ndarray
    se: np.ndarray
    w: np.ndarray
    df: int

    @classmethod
    def of(cls, fit: _Fit, j: int, w: np.ndarray) -> "_Coef":
        keep = w > 1e-10 * w.max()      # negligible noise models change nothing but the run time
        return cls(fit.beta[keep, j], np.sqrt(fit.cov[keep, j, j]), w[keep] / w[keep].sum(), fit.df)

    @property
    def effect(self) -> float:
        return float(self.w @ self.beta)

    @property
    def se_total(self) -> float:
        """Standard deviation of the mixture (t variances plus the spread between noise models)."""
        t_var = self.df / (self.df - 2) if self.df > 2 else 3.0
        second = float(self.w @ (self.se ** 2 * t_var + self.beta ** 2))
        return math.sqrt(max(second - self.effect ** 2, 0.0))

    def p_side(self, sign: int, null: float = 0.0, extra_se: float = 0.0) -> float:
        """One-sided p of "the coefficient is on the ``sign`` side of ``null``" (small: it is)."""
        scale = np.sqrt(self.se ** 2 + extra_se ** 2)
        return float(self.w @ special.stdtr(self.df, -sign * (self.beta - null) / scale))

    @property
    def p_two_sided(self) -> float:
        return min(1.0, 2 * min(self.p_side(1), self.p_side(-1)))

    def interval(self, alpha: float, exact: bool = True) -> tuple[float, float]:
        """Interval of level ``1 - alpha``: the mixture's quantiles, or (``exact=False``, cheaper)
        its mean plus or minus the t quantile times its standard deviation."""
        if not exact:
            half = float(special.stdtrit(self.df, 1 - alpha / 2)) * self.se_total
            return self.effect - half, self.effect + half

        def cdf(x):
            return float(self.w @ special.stdtr(self.df, (x - self.beta) / self.se))

        q = float(special.stdtrit(self.df, 1 - alpha / 4))
        low, high = float(np.min(self.beta - 4 * q * self.se)), float(np.max(self.beta + 4 * q * self.se))
        if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
            return self.effect, self.effect
        tol = 1e-7 * float(np.min(self.se))
        return (optimize.brentq(lambda x: cdf(x) - alpha / 2, low, high, xtol=tol),
                optimize.brentq(lambda x: cdf(x) - 1 + alpha / 2, low, high, xtol=tol))


def _wald_p(fit: _Fit, cols: list[int], w: np.ndarray) -> float:
    """Joint F test that ``cols`` are zero, its p averaged over the noise models."""
    if not cols:
        return float("nan")
    b = fit.beta[:, cols]
    V = fit.cov[:, cols][:, :, cols]
    F = np.einsum("gi,gi->g", b, np.linalg.solve(V, b[..., None])[..., 0]) / len(cols)
    return float(w @ special.fdtrc(len(cols), fit.df, F))


# ----------------------------------------------------------------------------- one series

@dataclass(frozen=True)
class _Series:
    """Everything the check estimates on one gap series (the KPI's or the outcome's)."""

    did: _Coef
    difference_of_means: float
    event_study: list
    p_pretrend_wald: float
    p_pretrend_trend: float
    placebo_effects: list
    n: int
    phi: float
    noise_share: float
    n_contrasts: int
    trend_adjusted: _Coef | None    # the step with a linear drift of the gap allowed over all periods

    @property
    def p_pretrend(self) -> float:
        return _bonferroni(self.p_pretrend_wald, self.p_pretrend_trend)


def _bonferroni(*ps: float) -> float:
    """Bonferroni combination of the finite p-values (NaN when none is)."""
    ps = [p for p in ps if np.isfinite(p)]
    return min(1.0, len(ps) * min(ps)) if ps else float("nan")


def _gap(values: pd.DataFrame, treated: list[int], controls: list[int]) -> pd.Series:
    """Treated mean minus control mean in each period (missing when either side has no segment)."""
    return values[treated].mean(axis=1) - values[controls].mean(axis=1)


def _bins(event: np.ndarray, pre: int, post: int) -> tuple[list[int], np.ndarray, int, int]:
    """Event-time indicators (binned endpoints), their event times, the bin edge and the reference period.

    The reference is the last observed period before the change (``-1`` unless it is missing).
    """
    E = int(np.clip(min(pre, post) // 2, 2, 8))
    binned = np.clip(event, -E, E)
    ref = int(binned[event < 0].max())
    ks = [k for k in range(-E, E + 1) if k != ref and np.any(binned == k)]
    D = np.column_stack([(binned == k).astype(float) for k in ks]) if ks else np.empty((len(event), 0))
    return ks, D, E, ref


def _series(gap: pd.Series, start: int, noise: tuple[np.ndarray, int], alpha: float, *,
            placebos: bool) -> _Series | None:
    """Event study, pre-trend tests, difference in differences and placebo dates of one gap series.

    ``start`` is the first period after the change on this series' own clock (the outcome's is
    shifted by the lag).
    """
    gap = gap.dropna()
    times = gap.index.to_numpy(dtype=np.int64)
    y = gap.to_numpy(dtype=float)
    event = times - start
    n_pre, n_post = int((event < 0).sum()), int((event >= 0).sum())    # pre rows come first
    if n_pre < MIN_SIDE or n_post < MIN_SIDE:
        return None
    post = (event >= 0).astype(float)
    ks, D, E, ref = _bins(event, n_pre, n_post)
    # placebo dates inside the pre-period, at least MIN_SIDE pre periods on each side
    pre_times = times[:n_pre]
    dates = [int(pre_times[i]) for i in range(MIN_SIDE, n_pre - MIN_SIDE + 1)] if placebos else []
    if len(dates) > MAX_PLACEBO_DATES:
        dates = [dates[i] for i in np.unique(np.linspace(0, len(dates) - 1, MAX_PLACEBO_DATES).round().astype(int))]
    fake = [(times >= d).astype(float) for d in dates]
    trend = np.where(event < 0, event, 0).astype(float)
    # columns: 0 response, 1 constant, 2 post, 3 pre-period trend, 4 trend over all periods,
    # 5.. event dummies, then the placebo steps
    first = 5
    Z = np.column_stack([y, np.ones(len(y)), post, trend, event.astype(float), D, *fake])
    prior, n_contrasts = noise
    # Screen the grid with the difference in differences alone, then fit everything on the noise
    # models that carry weight: the other regressions are on the same data, and a model 40 log
    # units below the best (posterior weight < 1e-17) cannot matter to any of them.
    E_all, logF = _whiten(Z[:, :3], times)
    screen = _gls(_Moments.of(E_all, logF, len(y)), [1, 2])
    if screen is None:
        return None
    keep = np.flatnonzero(screen.loglik + prior > np.max(screen.loglik + prior) - PRUNE)
    prior = prior[keep]
    E_all, logF = _whiten(Z, times, keep)
    every, before = _Moments.of(E_all, logF, len(y)), _Moments.of(E_all, logF, n_pre)
    did_fit = _gls(every, [1, 2])
    if did_fit is None:
        return None
    w_did = _weights(did_fit.loglik + prior)
    did = _Coef.of(did_fit, 1, w_did)
    dummies = list(range(first, first + len(ks)))
    es_fit = _gls(every, [1, *dummies])
    event_study, p_wald = [], float("nan")
    if es_fit is not None:
        w_es = _weights(es_fit.loglik + prior)
        for j, k in enumerate(ks):
            c = _Coef.of(es_fit, j + 1, w_es)
            lo, hi = c.interval(alpha, exact=False)
            event_study.append({"event_time": k, "effect": c.effect, "ci_low": lo, "ci_high": hi,
                                "p_value": c.p_two_sided, "binned": abs(k) == E, "reference": False})
        event_study.append({"event_time": ref, "effect": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": None,
                            "binned": False, "reference": True})
        event_study.sort(key=lambda r: r["event_time"])
        leads = [j + 1 for j, k in enumerate(ks) if k < 0]
        p_wald = _wald_p(es_fit, leads, w_es)
    trend_fit = _gls(before, [1, 3])
    p_trend = float("nan")
    if trend_fit is not None:
        p_trend = _Coef.of(trend_fit, 1, _weights(trend_fit.loglik + prior)).p_two_sided
    adjusted_fit = _gls(every, [1, 2, 4])
    adjusted = None if adjusted_fit is None else _Coef.of(adjusted_fit, 1, _weights(adjusted_fit.loglik + prior))
    placebo_effects = []
    for j in range(len(fake)):
        fit = _gls(before, [1, first + len(ks) + j])
        if fit is not None:
            placebo_effects.append(_Coef.of(fit, 1, _weights(fit.loglik + prior)).effect)
    phi = float(w_did @ _GRID_PHI[keep])
    share = float(w_did @ _GRID_SHARE[keep])
    return _Series(did=did, difference_of_means=float(y[post == 1].mean() - y[post == 0].mean()),
                   event_study=event_study, p_pretrend_wald=p_wald, p_pretrend_trend=p_trend,
                   placebo_effects=placebo_effects, n=len(y), phi=phi, noise_share=share, n_contrasts=n_contrasts,
                   trend_adjusted=adjusted)


# ----------------------------------------------------------------------------- the check

def intervention(d, th: Thresholds, items: list[Intervention], *, treated_codes: list[list[int]],
                 date_numbers: list[int], other_treated: list[list[int]] | None = None):
    """Did CX follow, as much as predicted, when a KPI was changed on purpose? (step 6, ``intervention``)

    Parameters
    ----------
    d : alignment.validation.checks.Driver
        The KPI at its lag; reads ``kpi, outcome, lag, data, by, number, assoc`` and, when
        present, ``slope`` and ``slope_se`` (the observational slope of the outcome per unit of the
        KPI in the trusted scope on the training periods, and its standard error; NaN or absent:
        the size of the response is not checked).
    th : Thresholds
        ``th.alpha`` is the level of every test and ``1 - alpha`` the level of every interval.
    items : list of Intervention
        The interventions declared on this KPI.
    treated_codes : list of list of int
        Segment codes (:func:`alignment.panel.frame.segment_codes`) treated by each item.
    date_numbers : list of int
        Period number of each item's date: its first treated period.
    other_treated : list of list of int, optional
        For each item, segment codes treated by other interventions on the same KPI. They are
        never controls. Whatever is given, the segments treated by the other ``items`` are
        left out as well, so the default (None) is already safe when all interventions on the
        KPI are in ``items``.

    Returns
    -------
    alignment.validation.checks.Check
        Status and reason in words (see the module docstring for the rules), ``method``, and
        figures: ``intervention, date, segments, controls, excluded_controls, direction,
        outcome_lag, expected_sign``; the KPI's ``kpi_effect, kpi_ci_low, kpi_ci_high,
        kpi_p_value`` (two-sided) and the outcome's ``effect, ci_low, ci_high, p_two_sided``
        (parallel-trends reading); ``p_value`` (one-sided p of CX moving in the predicted
        direction, the larger of the two readings': the confirmation p), ``p_other_way``,
        ``predicted_effect, predicted_se, slope, slope_se`` and ``p_consistency`` (one-sided p of
        "less than predicted", the larger of the two readings'); the same figures of each
        reading with the suffixes ``_parallel_trends`` and ``_trend_adjusted``, and
        ``status_parallel_trends``, ``status_trend_adjusted``; ``p_pretrend`` (with
        ``p_pretrend_kpi``, ``p_pretrend_outcome`` and their Wald and trend parts);
        ``placebo_dates_p`` and ``placebo_effects``; ``event_study_kpi`` and
        ``event_study_outcome`` (lists of ``event_time, effect, ci_low, ci_high, p_value, binned,
        reference``); ``n`` (outcome periods), ``difference_of_means`` and
        ``kpi_difference_of_means`` (the plain post-minus-pre change of the gap), ``phi`` and
        ``noise_share`` (the outcome gap's noise model, averaged), ``n_noise_contrasts``. With
        several items, the decisive one's figures and ``interventions``, a list of every item's
        status, reason and figures.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from alignment.validation import Intervention, Thresholds
    >>> from alignment.validation.checks import Driver
    >>> rng = np.random.default_rng(0)
    >>> S, T = 4, 60
    >>> seg, t = np.repeat(np.arange(S), T), np.tile(np.arange(T), S)
    >>> asa = rng.normal(size=S * T) - 3.0 * ((seg == 0) & (t >= 30))    # queue q0 cut ASA by 3
    >>> csat = -1.0 * asa + rng.normal(size=S * T)                         # and CSAT rose by 3
    >>> data = pd.DataFrame({"queue": [f"q{s}" for s in seg], "asa": asa, "csat": csat})
    >>> d = Driver(kpi="asa", lag=0, outcome="csat", data=data, by=["queue"], number=t, n_segments=S,
    ...            cor=pd.DataFrame(), pairs=pd.DataFrame(), max_lag=0, assoc=-1, slope=-1.0, slope_se=0.1)
    >>> check = intervention(d, Thresholds(), [Intervention("2024-01-01", ("q0",), "asa", direction=-1)],
    ...                      treated_codes=[[0]], date_numbers=[30])
    >>> check.status, round(check.figures["effect"], 1), check.figures["controls"]
    ('pass', 2.3, ['q1', 'q2', 'q3'])
    """
    if not items:
        return _checks.Check("not_applicable", f"no intervention on {d.name} was declared",
                             "no intervention declared")
    others = list(other_treated) if other_treated is not None else [[] for _ in items]
    if len(others) != len(items):
        raise OptionError(f"The 'other_treated' parameter of intervention must hold one list of segment codes "
                          f"per intervention ({len(items)}). Got {len(others)} instead.")
    seg = segment_codes(d.data, d.by)
    labels = segment_labels(d.data, d.by)
    frame = pd.DataFrame({"seg": seg, "t": np.asarray(d.number, dtype=np.int64),
                          "kpi": d.data[d.kpi].to_numpy(dtype=float),
                          "y": d.data[d.outcome].to_numpy(dtype=float)})
    kpi_wide = frame.pivot_table(index="t", columns="seg", values="kpi", aggfunc="mean", dropna=False)
    y_wide = frame.pivot_table(index="t", columns="seg", values="y", aggfunc="mean", dropna=False)
    results = []
    for i, (item, codes, number) in enumerate(zip(items, treated_codes, date_numbers)):
        siblings = {c for j, cs in enumerate(treated_codes) if j != i for c in cs}
        excluded = (siblings | set(others[i])) - set(codes)
        results.append(_one(d, th, item, list(codes), int(number), excluded, kpi_wide, y_wide, labels))
    order = {"fail": 0, "pass": 1, "not_enough_data": 2}
    decisive = min(results, key=lambda c: order[c.status])
    figures = dict(decisive.figures)
    if len(results) > 1:
        figures["interventions"] = [{"status": c.status, "reason": c.reason, **c.figures} for c in results]
    return _checks.Check(decisive.status, decisive.reason, decisive.headline, METHOD, figures)


def _ci(x: float) -> str:
    return f"{x:+.3g}"


def _one(d, th: Thresholds, item: Intervention, treated: list[int], start: int, excluded: set,
         kpi_wide: pd.DataFrame, y_wide: pd.DataFrame, labels: dict):
    Check = _checks.Check
    alpha = th.alpha
    present = list(kpi_wide.columns)
    controls = [c for c in present if c not in treated and c not in excluded]
    treated = [c for c in treated if c in present]
    unit = d.by[0] if len(d.by) == 1 else "segment"
    base = {"intervention": item.label, "date": item.date, "segments": list(item.segments),
            "controls": [labels.get(c, str(c)) for c in controls],
            "excluded_controls": [labels.get(c, str(c)) for c in sorted(excluded) if c in present],
            "direction": item.direction, "outcome_lag": d.lag}
    label = item.name or f"the {item.date} change"
    if not controls or not treated:
        why = (f" ({', '.join(base['excluded_controls'])} changed by another intervention)"
               if base["excluded_controls"] else "")
        return Check("not_enough_data", f"{label}: no untreated {unit} to compare with{why}",
                     f"{label}: no control {unit}s", figures=base)
    kpi_gap = _gap(kpi_wide, treated, controls)
    y_gap = _gap(y_wide, treated, controls)
    y_gap.index = y_gap.index - d.lag          # the outcome's clock: CX at t answers the KPI at t - lag
    pre = int((kpi_gap.dropna().index < start).sum()), int((y_gap.dropna().index < start).sum())
    post = int((kpi_gap.dropna().index >= start).sum()), int((y_gap.dropna().index >= start).sum())
    if min(*pre, *post) < MIN_SIDE:
        return Check("not_enough_data", f"{label}: {min(pre)} periods before and {min(post)} after; "
                     f"{MIN_SIDE} are needed on each side", f"{label}: too few periods around the change",
                     figures=base)
    kpi_noise = _contrast_loglik(kpi_wide[controls].to_numpy(dtype=float).T, kpi_wide.index.to_numpy())
    y_noise = _contrast_loglik(y_wide[controls].to_numpy(dtype=float).T, y_wide.index.to_numpy() - d.lag)
    kpi = _series(kpi_gap, start, kpi_noise, alpha, placebos=False)
    cx = _series(y_gap, start, y_noise, alpha, placebos=True)
    if kpi is None or cx is None:
        return Check("not_enough_data", f"{label}: the difference in differences could not be estimated",
                     f"{label}: not estimable", figures=base)
    placebo_p = (float((1 + sum(abs(p) >= abs(cx.did.effect) for p in cx.placebo_effects))
                       / (1 + len(cx.placebo_effects))) if cx.placebo_effects else float("nan"))
    p_pretrend = _bonferroni(kpi.p_pretrend, cx.p_pretrend)
    slope, slope_se = float(getattr(d, "slope", float("nan"))), float(getattr(d, "slope_se", float("nan")))
    parallel = _read(kpi.did, cx.did, alpha, item.direction, slope, slope_se, d.assoc)
    drift = (_read(kpi.trend_adjusted, cx.trend_adjusted, alpha, item.direction, slope, slope_se, d.assoc,
                   expected=parallel.expected) if kpi.trend_adjusted and cx.trend_adjusted else None)
    readings = [parallel] + ([drift] if drift else [])
    moved = all(r.moved for r in readings)
    # intersection-union: a conclusion holds when it holds in both readings, its p is the larger p
    p_value = max(r.p_value for r in readings)
    p_other = max(r.p_other for r in readings)
    p_consistency = max(r.p_consistency for r in readings)
    shortfall_somewhere = any(r.p_consistency < alpha for r in readings)
    figures = {**base, "n": cx.n, **parallel.figures(""),
               "p_value": p_value, "p_other_way": p_other, "p_consistency": p_consistency,
               "p_value_parallel_trends": parallel.p_value, "p_other_way_parallel_trends": parallel.p_other,
               "p_consistency_parallel_trends": parallel.p_consistency,
               "kpi_se": kpi.did.se_total, "kpi_difference_of_means": kpi.difference_of_means,
               "se": cx.did.se_total, "p_two_sided": cx.did.p_two_sided,
               "difference_of_means": cx.difference_of_means, "slope": slope, "slope_se": slope_se,
               **(drift.figures("_trend_adjusted") if drift else {}),
               "status_parallel_trends": parallel.status, "status_trend_adjusted": drift.status if drift else None,
               "p_pretrend": p_pretrend, "p_pretrend_kpi": kpi.p_pretrend, "p_pretrend_outcome": cx.p_pretrend,
               "p_pretrend_wald_kpi": kpi.p_pretrend_wald, "p_pretrend_trend_kpi": kpi.p_pretrend_trend,
               "p_pretrend_wald_outcome": cx.p_pretrend_wald, "p_pretrend_trend_outcome": cx.p_pretrend_trend,
               "placebo_dates_p": placebo_p, "placebo_effects": cx.placebo_effects,
               "phi": cx.phi, "noise_share": cx.noise_share, "n_noise_contrasts": cx.n_contrasts,
               "event_study_kpi": kpi.event_study, "event_study_outcome": cx.event_study}
    k_text = f"{d.name} moved by {parallel.kpi_text}"
    c_text = f"{d.label} changed by {parallel.cx_text}"
    if np.isfinite(p_pretrend) and p_pretrend < alpha:
        which = [name for name, s in ((d.name, kpi), (d.label, cx)) if 2 * s.p_pretrend < alpha]
        return Check("not_enough_data",
                     f"{label}: the treated and control {unit}s were already diverging before the change "
                     f"({' and '.join(which)}, {_checks.fmt_p(p_pretrend)}): parallel trends fail, so the "
                     f"before/after comparison cannot be read as the effect of the change",
                     f"{label}: treated and control {unit}s already diverging before the change", figures=figures)
    if not parallel.moved:
        want = {1: "up", -1: "down", None: "at all"}[item.direction]
        return Check("not_enough_data", f"{label}: {k_text}, not clearly {want}; it cannot test whether "
                     f"{d.label} follows", f"{label} did not move {d.name}", figures=figures)
    if parallel.expected == 0:
        return Check("not_enough_data", f"{label}: {k_text} but the driver's sign is unknown",
                     f"{label}: no expected direction", figures=figures)
    pred_text = (f"; the observational slope predicted {_ci(parallel.predicted)}" if parallel.has_slope
                 else "; no observational slope was given, so the size of the response was not checked")
    drift_text = (f"allowing the treated {unit}s a steady drift of their own ({d.name} {drift.kpi_text}, "
                  f"{d.label} {drift.cx_text})" if drift else "")
    assumptions = (f"assuming parallel trends: without the change the treated and control {unit}s would have kept "
                   f"running in parallel or drifting steadily apart; and no spillover of the change to the "
                   f"control {unit}s")
    if moved and p_other < alpha:
        status, how = "fail", "moved the other way"
        reason = f"{label}: {k_text} but {d.label} moved the other way, {c_text}{pred_text}"
    elif moved and p_consistency < alpha:
        status, how = "fail", parallel.how
        reason = (f"{label}: {k_text} but {d.label} {how}: {c_text}, significantly less than the "
                  f"{_ci(parallel.predicted)} the observational slope predicts "
                  f"({_checks.fmt_p(p_consistency)})")
    elif moved and p_value < alpha and not shortfall_somewhere:
        status, how = "pass", "followed"
        reason = (f"{label}: {k_text} and {d.label} followed with lag {d.lag}, {c_text} (one-sided "
                  f"{_checks.fmt_p(p_value)}){pred_text}")
    else:
        status = "not_enough_data"
    if status != "not_enough_data":
        if drift:
            reason += f"; the same holds {drift_text}"
        return Check(status, f"{reason} ({assumptions})",
                     f"{d.label} {how} when {d.name} was changed ({item.date})", figures=figures)
    if parallel.status != "not_enough_data" and drift is not None:
        would = "confirm" if parallel.status == "pass" else "contradict"
        return Check("not_enough_data",
                     f"{label}: {k_text} and {c_text}{pred_text}, which would {would} the driver if the treated "
                     f"and control {unit}s had run in parallel; but {drift_text}, which does not: the conclusion "
                     f"rests on parallel trends, which the periods before the change cannot establish",
                     f"{label}: the result depends on the treated {unit}s not drifting apart", figures=figures)
    return Check("not_enough_data", f"{label}: {k_text}; {c_text}{pred_text}: too uncertain to confirm or "
                 f"contradict the driver (one-sided {_checks.fmt_p(p_value)})",
                 f"{label}: too little data to tell whether {d.label} followed", figures=figures)


@dataclass(frozen=True)
class _Reading:
    """The KPI and CX changes read one way (parallel trends, or a linear drift allowed), and what they say."""

    kpi: _Coef
    cx: _Coef
    alpha: float
    kpi_ci: tuple
    cx_ci: tuple
    moved: bool
    expected: int
    has_slope: bool
    p_value: float = float("nan")
    p_other: float = float("nan")
    predicted: float = float("nan")
    predicted_se: float = float("nan")
    p_consistency: float = float("nan")

    @property
    def status(self) -> str:
        if not self.moved or self.expected == 0:
            return "not_enough_data"
        if self.p_other < self.alpha or (self.has_slope and self.p_consistency < self.alpha):
            return "fail"
        return "pass" if self.p_value < self.alpha else "not_enough_data"

    @property
    def how(self) -> str:
        """How CX answered a failing change, in words."""
        if self.p_other < self.alpha:
            return "moved the other way"
        return "did not follow" if self.cx_ci[0] <= 0 <= self.cx_ci[1] else "followed only partly"

    @property
    def kpi_text(self) -> str:
        return f"{_ci(self.kpi.effect)} [{_ci(self.kpi_ci[0])}, {_ci(self.kpi_ci[1])}]"

    @property
    def cx_text(self) -> str:
        return f"{_ci(self.cx.effect)} [{_ci(self.cx_ci[0])}, {_ci(self.cx_ci[1])}]"

    def figures(self, suffix: str) -> dict:
        keys = {"kpi_effect": self.kpi.effect, "kpi_ci_low": self.kpi_ci[0], "kpi_ci_high": self.kpi_ci[1],
                "kpi_p_value": self.kpi.p_two_sided, "effect": self.cx.effect, "ci_low": self.cx_ci[0],
                "ci_high": self.cx_ci[1], "expected_sign": self.expected or None, "p_value": self.p_value,
                "p_other_way": self.p_other, "predicted_effect": self.predicted, "predicted_se": self.predicted_se,
                "p_consistency": self.p_consistency}
        return {f"{k}{suffix}": v for k, v in keys.items()}


def _read(kpi: _Coef, cx: _Coef, alpha: float, direction: int | None, slope: float, slope_se: float,
          assoc: int, expected: int | None = None) -> _Reading:
    """Did the KPI move, which way should CX then move, and did it (and as much as predicted)?

    ``expected`` (the CX direction) is fixed by the parallel-trends reading and passed to the
    drift-adjusted one, so both answer the same question.
    """
    k_ci, c_ci = kpi.interval(alpha), cx.interval(alpha)
    k_sign = int(np.sign(kpi.effect))
    moved = ((k_sign > 0 and k_ci[0] > 0) or (k_sign < 0 and k_ci[1] < 0)) and direction in (None, k_sign)
    has_slope = bool(np.isfinite(slope) and slope != 0)
    if expected is None:
        expected = int(np.sign(slope)) * k_sign if has_slope else int(assoc) * k_sign
    elif int(np.sign(slope if has_slope else assoc)) * k_sign != expected:
        moved = False                     # the KPI moved the other way once a drift is allowed
    reading = dict(kpi=kpi, cx=cx, alpha=alpha, kpi_ci=k_ci, cx_ci=c_ci, moved=moved, expected=expected,
                   has_slope=has_slope)
    if expected == 0:
        return _Reading(**reading)
    reading.update(p_value=cx.p_side(expected), p_other=cx.p_side(-expected))
    if has_slope:
        s_se = slope_se if np.isfinite(slope_se) else 0.0
        predicted = slope * kpi.effect
        predicted_se = math.sqrt((kpi.effect * s_se) ** 2 + (slope * kpi.se_total) ** 2)
        reading.update(predicted=predicted, predicted_se=predicted_se,
                       p_consistency=cx.p_side(-expected, null=predicted, extra_se=predicted_se))
    return _Reading(**reading)
