"""The seven checks of step 6, one function each.

Every check takes a :class:`Driver` (one KPI at its chosen lag, with the correlations step 4
computes for it) and the :class:`~alignment.validation.Thresholds`, and returns a :class:`Check`:
a status (``pass``, ``fail``, ``not_enough_data`` or ``not_applicable``), the figures behind it,
a one-line reason in plain words and a short headline for the verdict. Checks that cannot run
say so in their result; they never raise.

Every check works on the scope the driver trusts (``Driver.base``): ``within_twoway`` (segment and
period effects) by default with 3 or more segments, ``within`` (segment effects) with 2 or for a
centre-wide KPI, which is also partialled on the calendar controls, ``pooled`` for one series; a
"within" scope below means that one. Rows are weighted by the outcome's responses when the
validation is (``Driver.weights``).

The driver's sign (``Driver.assoc``), training r and slope come from the training periods only
(before the holdout), as does its lag when :func:`~alignment.validation.validate` chooses it. A
check *fails* only on positive evidence against the driver (refuted); a check that could not
show the association says ``not_enough_data`` and, where it can, how many periods would decide.

The checks and their rules (``alpha``, ``min_effect`` ... are :class:`Thresholds`):

``within_segment``
    Passes when the correlation with the driver's effects removed (Driscoll-Kraay fixed-b test of
    :func:`alignment.correlate`) has p < alpha and the training sign. Fails (refuted) when the
    association is significant raw but gone once the effects are removed: the pooled
    correlation is significant and the within interval lies below half of it ("differs between
    segments with different baselines"), or the segment-only correlation is significant and the
    interval with period effects removed lies below half of it ("only through shocks common to
    all segments"). An estimate below half with an interval that reaches above it is low power,
    not evidence: ``not_enough_data``. Otherwise ``not_enough_data`` with :func:`more_data`'s plan. Also
    reported: the share of segments whose own correlation has the same sign. Not applicable
    without at least two segments.
``trend``
    Passes when the correlation after a linear trend removed per segment (``within_detrended``)
    has p < alpha with the driver's sign and first differences (``within_differenced``) keep the
    sign (on time-series evidence, also one-sided p < alpha in differences). Fails when the level
    association is significant but the detrended one is not and its interval lies below half of
    it ("only because both trend over time"), or when the differences are significant the other way.
    Otherwise ``not_enough_data``.
``placebo``
    Circular-shift placebo (after the "circular shift" tests of ecology and climate science, e.g.
    Ebisuzaki 1997, J. Climate 10: 2147): the lagged KPI series is rotated by k periods inside each
    segment on a complete period grid, the same k in every segment, for every k from
    ``placebo_min_shift`` to T - ``placebo_min_shift``, and the within-segment correlation is
    recomputed. With a lag search (max_lag > 0) the statistic is the strongest \\|r\\| over the lags
    tried, for the KPI and for every copy alike. p = (1 + #{s_k >= s_obs}) / (1 + K). Rotation
    keeps each series' autocorrelation and the cross-section, which row shuffling destroys (and
    which makes shuffled placebos far too easy to beat). Passes when p < alpha; a failure blocks
    ``validated`` but does not refute; ``not_enough_data`` when K shifts cannot give p < alpha. ``placebo="block"`` permutes blocks of periods instead (seeded).
``lag`` (diagnostic)
    Holm adjustment of the within-scope p-values over the lags tried (0..max_lag); passes when the
    chosen lag's adjusted p < alpha. Not applicable when max_lag = 0. Not required by default:
    the lag is frozen on the training periods, so the search cannot inflate the holdout test.
``holdout``
    Out of time. The lag and sign are frozen on the periods before ``holdout_start``. Passes when
    the holdout's within correlation (Driscoll-Kraay fixed-b; detrended within the holdout on
    time-series evidence) has the training sign with one-sided p < alpha (``p_value``). With
    ``Thresholds.holdout_folds = K > 1`` (default 2), the K - 1 blocks of the same length just
    before the holdout are judged the same way, each with its own lag and sign chosen on the
    periods before it (rolling origin), and ``p_value`` is the Stouffer combination of the folds'
    one-sided p-values (``p_folds``): twice the out-of-time periods for a year of weekly data. Fails
    when the sign reverses with an interval excluding zero (``reversed``) or, with
    ``Thresholds.holdout_fail = "weaker"``, when the holdout slope is significantly
    smaller than the training slope in the training direction (one-sided z test, standard errors
    from the effective sample sizes, ``weaker``); ``"reversed"`` (the default) refutes only reversals,
    ``"unconfirmed"`` anything that does not pass. Otherwise ``not_enough_data``, with the holdout
    length that would confirm an effect of the training size 8 times in 10. The training
    slope's prediction of the holdout (Diebold-Mariano with the HLN correction) is reported, not
    used.
``stability`` (diagnostic)
    Rolling windows of ``window`` periods every ``step`` periods over the training periods, each
    r with an approximate interval; the share of windows with the training sign and
    \\|r\\| >= ``min_effect`` is compared with ``stability_share``. Never decides a verdict.
``intervention``
    In :mod:`alignment.validation.intervention`: an event study and pre-trend test of the
    treated-minus-control gap, a difference in differences of the KPI and of CX with noise-robust
    intervals, and a consistency test of CX's change against the observational slope times the
    KPI's change. A pass confirms the driver out of time; CX moving the other way or
    significantly less than predicted refutes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from .. import catalog
from ..correlation.inference import weighted_r
from ..correlation.series import transform
from ..panel.frame import block_length, demean, lag_columns
from .options import Thresholds

CHECKS = ("contact", "within_segment", "trend", "placebo", "lag", "holdout", "stability", "intervention")
STATUSES = ("pass", "fail", "not_enough_data", "not_applicable")
PLACEBOS = ("shift", "block")


@dataclass(frozen=True)
class Check:
    """The outcome of one check for one driver."""

    status: str
    reason: str
    headline: str
    method: str = ""
    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fold:
    """An out-of-time block before the holdout (rolling origin): its first period, how many periods
    trained it and how many it holds, the lag and sign chosen on its past, and its within row."""

    start: str
    n_train_periods: int
    n_periods: int
    lag: int
    sign: int
    test: pd.Series | None

    @property
    def p_one(self) -> float:
        ok = self.test is not None and self.test["status"] == "ok" and np.isfinite(self.test["p_value"])
        return one_sided(self.test["p_value"], self.test["r"], self.sign) if ok else float("nan")


def stouffer(p_one: list[float]) -> float:
    """One-sided p of the sum of the folds' z scores (Stouffer): valid when each fold's p is uniform
    under no effect given the folds before it, which the rolling origin gives."""
    p = np.clip(np.asarray(p_one, dtype=float), 1e-300, 1 - 1e-16)
    return float(stats.norm.sf(stats.norm.isf(p).sum() / math.sqrt(len(p))))


@dataclass
class Driver:
    """One KPI at its chosen lag, with everything the checks share.

    ``cor`` is the :func:`alignment.correlate` table of this KPI (scopes within, within_detrended,
    within_differenced, pooled and per_segment at every lag tried); ``pairs`` the complete
    (KPI at t - lag, outcome at t) pairs with segment code ``seg`` and period number ``t``.
    """

    kpi: str
    lag: int
    outcome: str
    data: pd.DataFrame
    by: list
    number: np.ndarray
    n_segments: int
    cor: pd.DataFrame
    pairs: pd.DataFrame
    max_lag: int
    assoc: int = 0          # sign of the within-segment correlation at the chosen lag (0: unknown)
    r: float = float("nan")
    base: str = "within"    # the scope the checks trust: within_twoway, within or pooled
    weights: np.ndarray | None = None   # row weights of ``data`` (None: unweighted)
    covariates: tuple = ()  # calendar columns of ``data`` partialled out (time-series evidence)
    evidence: str = "panel"
    tried: tuple = ()       # the lags the lag search tried (0..max_lag and the chosen one)
    train_end: int | None = None   # first holdout period number (None: no holdout)
    r_train: float = float("nan")  # the trusted-scope r on the training periods (it fixes ``assoc``)
    slope: float = float("nan")    # outcome per unit of the KPI, trusted scope, training periods
    slope_se: float = float("nan")
    kpi_label: str = ""     # the KPI's plain name in the reasons ("": the catalog's short label)

    @property
    def name(self) -> str:
        """The KPI as a manager reads it (``ASA``, ``e-mail backlog``): ``kpi_label``, else the catalog's."""
        from ..drivers.regression import natural_step
        return self.kpi_label or natural_step(self.kpi).label

    @property
    def effects(self) -> str:
        return {"within_twoway": "twoway", "within": "segment", "pooled": "none"}[self.base]

    @property
    def controlled(self) -> str:
        """What the trusted scope removes, in words."""
        return {"twoway": f"{self.unit} and period effects", "segment": f"{self.unit} means",
                "none": "nothing"}[self.effects] + (" and calendar effects" if self.covariates else "")

    @property
    def label(self) -> str:
        entry = catalog.entry(self.outcome)
        return self.outcome.upper() if entry and entry.get("kind") == "cx" else self.outcome

    @property
    def unit(self) -> str:
        return self.by[0] if len(self.by) == 1 else "segment"

    @property
    def n_periods(self) -> int:
        return int(self.pairs["t"].nunique())

    def row(self, scope: str, lag: int | None = None) -> pd.Series | None:
        """The correlation row of a scope; ``within...`` means the scope the checks trust."""
        if scope.startswith("within"):
            scope = self.base + scope[len("within"):]
        return self.raw_row(scope, lag)

    def raw_row(self, scope: str, lag: int | None = None) -> pd.Series | None:
        """The correlation row of exactly this scope."""
        t = self.cor
        hit = t[(t["scope"] == scope) & (t["lag"] == (self.lag if lag is None else lag)) & t["segment"].isna()]
        return None if hit.empty else hit.iloc[0]


# ----------------------------------------------------------------------------- helpers

def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def fmt_r(row) -> str:
    return f"r = {row['r']:+.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}], {fmt_p(row['p_value'])}"


def _ok(row) -> bool:
    return row is not None and row["status"] == "ok" and np.isfinite(row["p_value"])


def _sign(x) -> int:
    return 0 if x is None or not np.isfinite(x) or x == 0 else int(np.sign(x))


def _figures(row, suffix: str = "") -> dict:
    if row is None:
        return {}
    keys = ("n", "n_effective", "r", "ci_low", "ci_high", "p_value")
    return {f"{k}{suffix}": row[k] for k in keys}


def _excludes_zero(lo: float, hi: float, sign: int) -> bool:
    return (sign > 0 and lo > 0) or (sign < 0 and hi < 0)


def _too_few(check: str, d: Driver, periods: int, need: int, what: str = "periods") -> Check:
    return Check("not_enough_data", f"{periods} {what}, fewer than the {need} this check needs",
                 f"too few {what} for the {check.replace('_', ' ')} check ({periods} < {need})")


def _clearly_below(row, reference: float) -> bool:
    """The row's interval lies below half of \\|reference\\| in the reference's direction: positive
    evidence that more than half of an association is gone (not merely an estimate below half,
    which a low-powered test gives a real driver often)."""
    if row is None or not np.isfinite(row["ci_low"]) or not np.isfinite(row["ci_high"]):
        return False
    s = _sign(reference)
    return s != 0 and max(s * row["ci_low"], s * row["ci_high"]) < abs(reference) / 2


def _movement(d: Driver, r: float) -> str:
    return f"rises with {d.label}" if r > 0 else f"falls as {d.label} rises"


# ----------------------------------------------------------------------------- how much more data

def more_data(r: float, n_effective: float, n_periods: int, alpha: float, *, one_sided: bool = False,
              power: float = 0.8) -> tuple[int | None, str]:
    """Periods needed to detect an association of the size seen, and the words for it.

    With Fisher's z, an association of size r is detected with probability ``power`` by a test
    at ``alpha`` when ``atanh|r| sqrt(n_eff - 3) >= z_alpha + z_power``. The effective sample
    grows in proportion to the periods (the segments stay the same), so the periods needed are
    ``n_periods * n_needed / n_eff``. The observed r is a noisy guide to the true one: the
    figure says which order of magnitude of data would decide, not an exact plan.

    Examples
    --------
    >>> more_data(0.2, 40, 20, 0.05)[0]
    97
    """
    if not (np.isfinite(r) and np.isfinite(n_effective)) or n_effective <= 3 or n_periods <= 0 or r == 0:
        return None, "no sign of an association to plan for"
    z = stats.norm.ppf(1 - (alpha if one_sided else alpha / 2)) + stats.norm.ppf(power)
    needed = (z / math.atanh(min(abs(r), 0.999))) ** 2 + 3
    periods = int(math.ceil(n_periods * needed / n_effective))
    if periods > 10 * n_periods:
        return periods, (f"at the size seen (r = {r:+.2f}) even 10 times the {n_periods} periods would "
                         f"probably not show it: it is small if it exists")
    if periods <= n_periods:
        return periods, f"about as many periods again would tell whether the r = {r:+.2f} seen is real"
    return periods, (f"about {periods} periods ({periods - n_periods} more than the {n_periods} here) would "
                     f"detect an association of the size seen (r = {r:+.2f}) 8 times in 10")


def one_sided(p_two: float, r: float, sign: int) -> float:
    """The one-sided p of an association in direction ``sign`` from a two-sided p and its r."""
    if not np.isfinite(p_two) or sign == 0:
        return float("nan")
    return p_two / 2 if _sign(r) == sign else 1 - p_two / 2


# ----------------------------------------------------------------------------- within segment

def within_segment(d: Driver, th: Thresholds) -> Check:
    """Refuted when the association is significant raw (pooled, or within segments) but vanishes
    once the driver's effects are removed; not shown (``not_enough_data``) when it is simply not
    significant; passes when significant with the driver's (training) sign."""
    method = (f"correlation with {d.controlled} removed"
              + (", Driscoll-Kraay fixed-b test" if d.n_segments >= 2 else ""))
    if d.n_segments < 2:
        return Check("not_applicable", f"one {d.unit} only: there is nothing to compare within",
                     f"single series: no {d.unit}s to compare", method)
    if d.n_periods < th.min_periods:
        return _too_few("within_segment", d, d.n_periods, th.min_periods)
    row = d.row("within")
    if not _ok(row):
        reason = row["reason"] if row is not None else "no pairs"
        return Check("not_enough_data", f"the within-{d.unit} correlation could not be estimated ({reason})",
                     f"within-{d.unit} correlation not estimable", method, _figures(row))
    segs = d.cor[(d.cor["scope"] == "per_segment") & (d.cor["lag"] == d.lag) & (d.cor["status"] == "ok")]
    same = int((np.sign(segs["r"]) == d.assoc).sum())
    share = same / len(segs) if len(segs) else float("nan")
    pooled = d.row("pooled")
    figures = {**_figures(row), "share": share, "n_segments_same_sign": same, "n_segments": len(segs),
               "r_pooled": pooled["r"] if pooled is not None else None,
               "p_pooled": pooled["p_value"] if pooled is not None else None}
    units = f"{d.unit}s"
    seg_text = f"same sign in {same} of {len(segs)} {units}"
    significant = row["p_value"] < th.alpha
    if significant and _sign(row["r"]) == d.assoc:
        moves = "rises" if row["r"] > 0 else "falls"
        where = "and period " if d.effects == "twoway" else ""
        return Check("pass", f"within a {d.unit} {where}({d.controlled} removed), {d.label} {moves} as {d.name} "
                     f"rises ({fmt_r(row)}); {seg_text}",
                     f"holds with {d.controlled} removed ({fmt_p(row['p_value'])}, {seg_text})", method, figures)
    one_way = d.raw_row("within") if d.effects == "twoway" else None
    if (not significant and one_way is not None and _ok(one_way) and one_way["p_value"] < th.alpha
            and _clearly_below(row, one_way["r"])):
        figures.update(r_within_segment=one_way["r"], p_within_segment=one_way["p_value"], refuted_by="period")
        head = (f"moves with {d.label} only through shocks common to all {units} (gone once period effects "
                f"are removed)")
        reason = (f"{head}: within a {d.unit} r = {one_way['r']:+.2f} ({fmt_p(one_way['p_value'])}); with "
                  f"{d.controlled} removed {fmt_r(row)}")
        return Check("fail", reason, head, method, figures)
    # "between segments only": the pooled association is significant and more than half of it
    # disappears once segment means are removed
    if not significant and _ok(pooled) and pooled["p_value"] < th.alpha and _clearly_below(row, pooled["r"]):
        figures["refuted_by"] = "segment"
        reason = (f"differs between {units} with different baselines (pooled r = {pooled['r']:+.2f}, "
                  f"{fmt_p(pooled['p_value'])}) but does not move with {d.label} within a {d.unit} "
                  f"({fmt_r(row)})")
        head = (f"differs between {units} with different baselines but does not move with {d.label} "
                f"within a {d.unit}")
        return Check("fail", reason, head, method, figures)
    if significant:
        head = f"the sign over all periods differs from the training periods' ({fmt_r(row)})"
        return Check("not_enough_data", head, "sign not settled between training and all periods", method, figures)
    periods, plan = more_data(row["r"], row["n_effective"], d.n_periods, th.alpha)
    figures["periods_needed"] = periods
    return Check("not_enough_data", f"no association shown within a {d.unit} yet ({fmt_r(row)}); {plan}",
                 f"not shown within a {d.unit} ({fmt_p(row['p_value'])}): {plan}", method, figures)


# ----------------------------------------------------------------------------- trend

def trend(d: Driver, th: Thresholds) -> Check:
    """Passes when the association survives a linear trend per segment (significant, the driver's
    sign) and first differences keep its sign (and, on time-series evidence, are significant too, one-sided);
    refuted when the level association is significant
    but most of it goes once trends are removed, or the differences are significant the other way;
    otherwise not shown."""
    method = "within-segment correlation after a linear trend and after first differences"
    if d.n_periods < th.min_periods:
        return _too_few("trend", d, d.n_periods, th.min_periods)
    det, dif = d.row("within_detrended"), d.row("within_differenced")
    level = d.row("within")
    figures = {**_figures(det, "_detrended"), **_figures(dif, "_differenced")}
    if _ok(det):
        figures.update({k: det[k] for k in ("r", "ci_low", "ci_high", "p_value", "n")})
    text = "; ".join(f"{k} r = {row['r']:+.2f}, {fmt_p(row['p_value'])}"
                     for k, row in (("detrended", det), ("differenced", dif)) if _ok(row))
    if not _ok(det) and not _ok(dif):
        return Check("not_enough_data", "the detrended and differenced correlations could not be estimated",
                     "too few periods to remove trends", method, figures)
    level_sig = _ok(level) and level["p_value"] < th.alpha
    det_gone = (_ok(det) and det["p_value"] >= th.alpha and _clearly_below(det, level["r"])) if level_sig else False
    dif_against = _ok(dif) and dif["p_value"] < th.alpha and _sign(dif["r"]) == -d.assoc
    if det_gone or dif_against:
        figures["refuted_by"] = "trend" if det_gone else "differences"
        if det_gone:
            head = f"{_movement(d, level['r'])} only because both trend over time"
        else:
            head = "period-to-period changes move the other way"
        return Check("fail", f"{d.name} {head} ({text})", head, method, figures)
    det_ok = _ok(det) and det["p_value"] < th.alpha and _sign(det["r"]) == d.assoc
    # on panel evidence the period effects already remove every trend the segments share, and the
    # per-segment linear trend what is left, so the differences (twice the survey noise) need only
    # keep the sign; on time-series evidence nothing but the calendar stands in for a common drift,
    # so the differences must show the association too
    p_dif = one_sided(dif["p_value"], dif["r"], d.assoc) if _ok(dif) else float("nan")
    figures["p_differenced_one_sided"] = p_dif
    dif_ok = not _ok(dif) or (p_dif < th.alpha if d.evidence == "time_series" else _sign(dif["r"]) == d.assoc)
    if det_ok and dif_ok:
        return Check("pass", f"survives a linear trend removed per {d.unit}, and first differences keep the "
                     f"sign ({text})", "survives detrending and first differences", method, figures)
    if det_ok:
        need = "the association" if d.evidence == "time_series" else "the same sign"
        return Check("not_enough_data", f"survives detrending but period-to-period changes do not show {need} "
                     f"({text})", f"first differences do not confirm {need}", method, figures)
    row = det if _ok(det) else dif
    periods, plan = more_data(row["r"], row["n_effective"], d.n_periods, th.alpha)
    figures["periods_needed"] = periods
    return Check("not_enough_data", f"not shown once trends are removed ({text}); {plan}",
                 f"not shown once trends are removed: {plan}", method, figures)


# ----------------------------------------------------------------------------- placebo

def _grid(d: Driver, lag: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """KPI at t - lag, outcome at t and weights on a complete segment x period grid over the pairs' periods.

    With calendar covariates (time-series evidence), both series are first residualized on them,
    so a shifted copy is not judged on the weekday pattern it shares with the outcome.
    """
    lag = d.lag if lag is None else lag
    lagged = lag_columns(d.data, {d.kpi: lag}, d.by, d.number)
    x = lagged[d.kpi].to_numpy(dtype=float, copy=True)
    y = d.data[d.outcome].to_numpy(dtype=float, copy=True)
    w = np.ones(len(y)) if d.weights is None else np.asarray(d.weights, dtype=float)
    if d.covariates:
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w)
        for v in (x, y):
            v[ok] -= calendar_part(d, v, ok)[ok]
    t0, t1 = int(d.pairs["t"].min()), int(d.pairs["t"].max())
    tt = lagged["t"].to_numpy()
    keep = (tt >= t0) & (tt <= t1)
    seg = lagged["seg"].to_numpy()[keep]
    col = tt[keep] - t0
    n_seg = int(lagged["seg"].max()) + 1
    X = np.full((n_seg, t1 - t0 + 1), np.nan)
    Y = np.full_like(X, np.nan)
    W = np.full_like(X, np.nan)
    X[seg, col] = x[keep]
    Y[seg, col] = y[keep]
    W[seg, col] = w[keep]
    for A in (X, Y, W):
        A[~np.isfinite(A)] = np.nan
    return X, Y, W, t1 - t0 + 1


def calendar_part(d: Driver, values: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """The calendar effects in ``values`` (each row's), fitted by weighted least squares on the rows
    ``fit`` on the driver's calendar columns with an intercept; the intercept is left out, so
    subtracting the result keeps the series' level. Zeros when too few rows to fit."""
    Z = np.column_stack([np.ones(len(values)), d.data[list(d.covariates)].to_numpy(dtype=float)])
    w = np.ones(len(values)) if d.weights is None else np.asarray(d.weights, dtype=float)
    fit = fit & np.isfinite(values) & np.isfinite(w) & np.isfinite(Z).all(axis=1)
    if fit.sum() <= Z.shape[1]:
        return np.zeros(len(values))
    sw = np.sqrt(w[fit])
    beta, *_ = np.linalg.lstsq(Z[fit] * sw[:, None], values[fit] * sw, rcond=None)
    return np.nan_to_num(Z[:, 1:] @ beta[1:])


def within_r(X: np.ndarray, Y: np.ndarray, W: np.ndarray | None = None, effects: str = "segment") -> float:
    """Correlation of two segment x period grids after the fixed effects (weighted), complete pairs only."""
    ok = ~np.isnan(X) & ~np.isnan(Y)
    if W is not None:
        ok &= ~np.isnan(W)
    if ok.sum() < 3:
        return float("nan")
    seg, t = np.nonzero(ok)
    w = None if W is None else W[ok]
    both = demean(np.column_stack([X[ok], Y[ok]]), seg, t, effects, w)
    ww = np.ones(len(both)) if w is None else w
    sxx, syy = float(np.dot(ww, both[:, 0] ** 2)), float(np.dot(ww, both[:, 1] ** 2))
    if sxx <= 1e-300 or syy <= 1e-300:
        return float("nan")
    return float(np.dot(ww, both[:, 0] * both[:, 1]) / math.sqrt(sxx * syy))


def _searched(Xs: list[np.ndarray], Y: np.ndarray, W, effects: str, shift) -> float:
    """The strongest \\|r\\| over the lags' grids, each moved by ``shift`` (a function of a grid)."""
    values = [abs(within_r(shift(X), Y, W, effects)) for X in Xs]
    values = [v for v in values if np.isfinite(v)]
    return max(values) if values else float("nan")


def placebo(d: Driver, th: Thresholds, *, kind: str = "shift", n_permutations: int = 999,
            rng: np.random.Generator | None = None) -> Check:
    """Shifted (or block-permuted) copies of the KPI, each given the same lag search as the KPI.

    The statistic is the strongest \\|r\\| over the lags tried (0..max_lag), for the KPI and for
    every copy alike, so the search cannot make the KPI look better than its copies. A placebo
    whose smallest attainable p is at or above alpha reports ``not_enough_data``.
    """
    if d.n_periods < th.min_periods:
        return _too_few("placebo", d, d.n_periods, th.min_periods)
    lags = list(d.tried) or [d.lag]
    grids = {k: _grid(d, k) for k in lags}
    X, Y, W, T = grids[d.lag]
    W = None if d.weights is None else W
    Xs = [grids[k][0] for k in lags]
    r_obs = within_r(X, Y, W, d.effects)
    stat = _searched(Xs, Y, W, d.effects, lambda A: A)
    if not (np.isfinite(r_obs) and np.isfinite(stat)):
        return Check("not_enough_data", "the KPI or the outcome does not vary within segments",
                     "no within-segment variation for a placebo test")
    search = f", each with the lag search over {len(lags)} lags" if len(lags) > 1 else ""
    if kind == "shift":
        low = th.placebo_min_shift or max(2, max(d.max_lag, d.lag) + 1)
        shifts = list(range(low, T - low + 1))
        method = f"circular shifts of the KPI by {low}..{T - low} periods within each {d.unit}{search}"
        if (1 / (len(shifts) + 1)) >= th.alpha:
            return Check("not_enough_data", f"{T} periods allow only {len(shifts)} circular shifts of at "
                         f"least {low}, so p cannot fall below {th.alpha:g}",
                         f"too few periods for a placebo test ({len(shifts)} shifts)", method,
                         {"r": r_obs, "n_placebos": len(shifts), "min_shift": low,
                          "p_min": 1 / (len(shifts) + 1)})
        draws = np.array([_searched(Xs, Y, W, d.effects, lambda A, k=k: np.roll(A, k, axis=1)) for k in shifts])
        extra = {"min_shift": low}
    else:
        block = block_length(T)
        starts = np.arange(0, T, block)
        pieces = [np.arange(s, min(s + block, T)) for s in starts]
        method = (f"{n_permutations} permutations of blocks of {block} periods (same order in every "
                  f"{d.unit}){search}")
        draws = np.empty(n_permutations)
        for b in range(n_permutations):
            order = np.concatenate([pieces[i] for i in rng.permutation(len(pieces))])
            draws[b] = _searched(Xs, Y, W, d.effects, lambda A, o=order: A[:, o])
        extra = {"block": block}
    draws = draws[np.isfinite(draws)]
    K = len(draws)
    beats = int(np.sum(draws >= stat - 1e-12))
    p = (1 + beats) / (1 + K)
    figures = {"r": r_obs, "statistic": stat, "p_value": p, "n_placebos": K, "n_at_least_as_strong": beats,
               "n_lags_searched": len(lags), "p_min": 1 / (1 + K),
               "r_placebo_q95": float(np.quantile(draws, 0.95)) if K else None, **extra}
    share = f"{beats} of {K} placebo copies are at least as strong (|r| >= {stat:.2f}), p = {p:.2g}"
    if p < th.alpha:
        # with no copy as strong, p is the smallest value K copies can give, not a measured strength
        floor = " (the smallest p this many copies can give)" if beats == 0 else ""
        return Check("pass", share + floor, f"stronger than {'every one' if beats == 0 else K - beats} of "
                     f"{K} {'shifted' if kind == 'shift' else 'reshuffled'} copies of itself", method, figures)
    copies = "shifted" if kind == "shift" else "block-permuted"
    return Check("fail", share, f"no stronger than {copies} placebo copies of itself (p = {p:.2g})",
                 method, figures)


# ----------------------------------------------------------------------------- lag

def lag(d: Driver, th: Thresholds) -> Check:
    row = d.row("within")
    p0 = row["p_value"] if _ok(row) else None
    if d.max_lag == 0:
        unadjusted = fmt_p(p0) if p0 is not None else "p unknown"
        return Check("not_applicable", f"no lag search (max_lag = 0); unadjusted {unadjusted}",
                     "no lag search", "Holm over the lags tried", {"p_value": p0, "n_lags": 1})
    method = f"Holm over lags 0..{d.max_lag}"
    if d.n_periods < th.min_periods:
        return _too_few("lag", d, d.n_periods, th.min_periods)
    tried = [(k, d.row("within", k)) for k in range(d.max_lag + 1)]
    tried = [(k, r) for k, r in tried if _ok(r)]
    if p0 is None or d.lag not in [k for k, _ in tried]:
        return Check("not_enough_data", f"the within-{d.unit} correlation at lag {d.lag} could not be estimated",
                     f"lag {d.lag} not estimable", method)
    p = np.array([r["p_value"] for _, r in tried])
    adj = multipletests(p, method="holm")[1]
    by_lag = dict(zip([k for k, _ in tried], adj))
    best = min(tried, key=lambda kr: kr[1]["p_value"])[0]
    figures = {"r": row["r"], "p_value": p0, "p_adjusted": float(by_lag[d.lag]), "n_lags": len(tried),
               "best_lag": int(best), "p_by_lag": {str(k): float(r["p_value"]) for k, r in tried}}
    span = f"lags 0-{d.max_lag}"
    text = f"lag {d.lag} has {fmt_p(p0)}, Holm-adjusted over {len(tried)} lags p = {by_lag[d.lag]:.2g}"
    if by_lag[d.lag] < th.alpha:
        return Check("pass", text, f"lag {d.lag} stays significant after allowing for trying {span}",
                     method, figures)
    return Check("fail", text, f"lag {d.lag} may have been picked by chance among {span} "
                 f"(p = {by_lag[d.lag]:.2g} once the {len(tried)} lags tried are allowed for)", method, figures)


# ----------------------------------------------------------------------------- holdout

def holdout(d: Driver, th: Thresholds, *, start: int, train: pd.Series | None, test: pd.Series | None,
            start_label: str, earlier: list[Fold] | tuple = ()) -> Check:
    """``train`` and ``test``: the within rows of :func:`correlate` on the panel with the outcome
    masked outside the training and holdout periods; ``earlier``: the rolling-origin folds before
    the holdout (oldest first), whose one-sided evidence is combined with the holdout's."""
    method = "train/holdout split: within-segment r and slope, Diebold-Mariano test"
    pairs = d.pairs
    tr, te = pairs[pairs["t"] < start], pairs[pairs["t"] >= start]
    n_tr, n_te = int(tr["t"].nunique()), int(te["t"].nunique())
    if n_tr < th.min_periods:
        return _too_few("holdout", d, n_tr, th.min_periods, "training periods")
    if n_te < th.holdout_min_periods:
        return _too_few("holdout", d, n_te, th.holdout_min_periods, "holdout periods")
    if not _ok(train):
        return Check("not_enough_data", "the training correlation could not be estimated",
                     "training correlation not estimable", method)
    s_train = d.assoc or _sign(train["r"])
    figures = {"holdout_start": start_label, "n_train_periods": n_tr, "n_holdout_periods": n_te,
               "r_train": train["r"], "p_train": train["p_value"], "n_effective_train": train["n_effective"],
               **_figures(test)}
    slope, mse0, mse1, dm_p = _prediction(_demeaned(tr, d), _demeaned(te, d))
    figures.update(slope_train=slope, mse_without=mse0, mse_with=mse1,
                   skill=1 - mse1 / mse0 if mse0 > 0 else None, p_prediction=dm_p)
    slope_tr, slope_te, p_weaker = (_weaker(_demeaned(tr, d), _demeaned(te, d), train, test) if _ok(test)
                                    else (None, None, None))
    p_last = one_sided(test["p_value"], test["r"], s_train) if _ok(test) else float("nan")
    folds = [f for f in earlier if np.isfinite(f.p_one)]
    p_one = stouffer([f.p_one for f in folds] + [p_last]) if folds and np.isfinite(p_last) else p_last
    figures.update(slope_holdout=slope_te, p_weaker=p_weaker, p_value=p_one, p_two_sided=figures.get("p_value"),
                   p_holdout=p_last)
    if folds and np.isfinite(p_last):
        method = "rolling origin: within-segment r of each out-of-time fold, Stouffer combination; slope, Diebold-Mariano test"
        figures.update(n_folds=len(folds) + 1, fold_starts=[f.start for f in folds] + [start_label],
                       fold_lags=[f.lag for f in folds] + [d.lag], p_folds=[f.p_one for f in folds] + [p_last],
                       n_out_of_time_periods=sum(f.n_periods for f in folds) + n_te)
    confirms = np.isfinite(p_one) and p_one < th.alpha
    reversed_ = _ok(test) and _sign(test["r"]) == -s_train and _excludes_zero(test["ci_low"], test["ci_high"], -s_train)
    weaker = p_weaker is not None and p_weaker < th.alpha and not confirms
    figures.update(reversed=bool(reversed_), weaker=bool(weaker), confirms=bool(confirms))
    test_text = fmt_r(test) if _ok(test) else "r not estimable"
    if mse0 > 0:
        change = 100 * (1 - mse1 / mse0)
        pred_text = (f"the training slope {'cuts' if change >= 0 else 'raises'} the holdout squared error by "
                     f"{abs(change):.0f} %")
    else:
        pred_text = "no holdout variation to predict"
    where = f"from {start_label}: training r = {train['r']:+.2f}, holdout {test_text}; {pred_text}"
    if "n_folds" in figures:
        where += (f"; with the {len(folds)} earlier out-of-time {'fold' if len(folds) == 1 else 'folds'} from "
                  f"{', '.join(f.start for f in folds)} (each judged on its own past), "
                  f"{figures['n_out_of_time_periods']} periods out of time")
    if reversed_:
        return Check("fail", f"the sign reverses {where}", f"reverses out of time (holdout r = {test['r']:+.2f})",
                     method, figures)
    if confirms:
        kind = "combined one-sided" if "n_folds" in figures else "one-sided"
        return Check("pass", f"holds {where} ({kind} {fmt_p(p_one)})",
                     f"holds out of time ({kind} {fmt_p(p_one)})", method, figures)
    if weaker and th.holdout_fail in ("weaker", "unconfirmed"):
        return Check("fail", f"the effect per unit is significantly smaller out of time: "
                     f"{_slopes(slope_te, slope_tr)} ({fmt_p(p_weaker)}) {where}",
                     f"significantly weaker out of time (holdout r = {test['r']:+.2f} vs {train['r']:+.2f} before)",
                     method, figures)
    if th.holdout_fail == "unconfirmed":
        return Check("fail", f"not confirmed {where}", "not confirmed out of time", method, figures)
    if weaker:
        return Check("not_enough_data", f"weaker but not reversed: {_slopes(slope_te, slope_tr)} "
                     f"({fmt_p(p_weaker)}) {where}",
                     f"weaker out of time (holdout r = {test['r']:+.2f} vs {train['r']:+.2f} before), not reversed",
                     method, figures)
    n_eff = test["n_effective"] if _ok(test) else float("nan")
    periods, plan = more_data(train["r"], n_eff, n_te, th.alpha, one_sided=True)
    figures["periods_needed"] = periods
    if periods is not None and periods <= n_te:
        plan = (f"an effect of the training size would usually have shown in {n_te} periods; a longer "
                f"holdout would tell whether it is weaker or was missed by chance")
    elif periods is not None and periods <= 10 * n_te:
        plan = (f"a holdout of about {periods} periods would confirm an effect of the training size "
                f"8 times in 10")
    return Check("not_enough_data", f"neither confirmed nor contradicted {where}; {plan}",
                 f"holdout of {n_te} periods too short to confirm or refute ({plan})", method, figures)


def _slopes(holdout: float, train: float) -> str:
    """The holdout slope against the training slope in words that are true whatever their signs.

    "Weaker" is said only of a slope of the training sign and a smaller size; a slope of the other
    sign points the other way (its holdout interval reaches zero, or the check would have called it
    reversed).

    Examples
    --------
    >>> _slopes(0.02, 0.05)
    'the holdout slope +0.02 has the training sign but is smaller than the training slope +0.05'
    >>> _slopes(-0.718, 0.0489)
    'the holdout slope -0.718 points the other way from the training slope +0.0489, though not clearly enough to count as reversed'
    """
    if np.sign(holdout) == np.sign(train) and holdout != 0:
        size = "smaller than" if abs(holdout) < abs(train) else "no smaller than"
        return f"the holdout slope {holdout:+.3g} has the training sign but is {size} the training slope {train:+.3g}"
    if holdout == 0:
        return f"the holdout slope is zero against a training slope of {train:+.3g}"
    return (f"the holdout slope {holdout:+.3g} points the other way from the training slope {train:+.3g}, "
            f"though not clearly enough to count as reversed")


def _demeaned(part: pd.DataFrame, d: Driver) -> pd.DataFrame:
    """``x`` and ``y`` of a part of the pairs with the driver's fixed effects removed within that part."""
    out = part.reset_index(drop=True)
    if out.empty:
        return out
    tf, _ = transform(out, ["x", "y"], d.base, "")
    return tf


def _prediction(tr: pd.DataFrame, te: pd.DataFrame):
    """Training slope; holdout squared error without and with it; one-sided DM p.

    Both parts come with the driver's fixed effects removed within the part, so both predictions
    take each segment's (and period's) level from the holdout itself and the comparison is decided
    by the training slope alone: a level drift of the outcome between the two parts (common in
    CX) would otherwise reward any KPI whose level happened to drift the same way.
    """
    wt = tr["w"].to_numpy(dtype=float) if "w" in tr else np.ones(len(tr))
    sxx = float(np.dot(wt, tr["x"] ** 2))
    slope = float(np.dot(wt, tr["x"] * tr["y"])) / sxx if sxx > 0 else 0.0
    base = te["y"]
    model = base - slope * te["x"]
    loss = pd.DataFrame({"t": te["t"], "d": base ** 2 - model ** 2}).groupby("t")["d"].mean().to_numpy()
    return slope, float(np.mean(base ** 2)), float(np.mean(model ** 2)), _diebold_mariano(loss)


def _weaker(tr: pd.DataFrame, te: pd.DataFrame, train: pd.Series, test: pd.Series):
    """Slopes before and after (fixed effects removed within each part), and the one-sided p that
    the holdout slope is smaller in the training direction.

    Slopes rather than correlations: a correlation also falls when the KPI merely varies less in
    the holdout, while the effect per unit of the KPI is unchanged. The test is a Chow-type
    regression over both parts, ``y = b x + delta x 1[holdout]``, with Driscoll-Kraay errors
    over the whole span and the fixed-b reference, so the holdout's few periods and the
    persistence of the series weigh on the test as they do on the correlation tests (a z test
    on effective sample sizes refuted 17 % of constant-effect drivers at 52 weeks x 8 queues in
    the calibration benchmark).
    """
    from ..stats import fixed_b
    from ..stats.hac import bartlett_bandwidth, driscoll_kraay
    if tr.empty or te.empty:
        return None, None, None
    both = pd.concat([tr.assign(_post=0.0), te.assign(_post=1.0)], ignore_index=True)
    w = both["w"].to_numpy(dtype=float) if "w" in both else np.ones(len(both))
    x, y, post = (both[c].to_numpy(dtype=float) for c in ("x", "y", "_post"))
    X = np.column_stack([x, x * post])
    XtWX = X.T @ (X * w[:, None])
    if np.linalg.matrix_rank(XtWX) < 2:
        return None, None, None
    beta = np.linalg.solve(XtWX, X.T @ (w * y))
    e = y - X @ beta
    t = both["t"].to_numpy()
    span = int(t.max() - t.min()) + 1
    bandwidth = min(bartlett_bandwidth(span), max(span - 1, 0))
    bread = np.linalg.inv(XtWX)
    cov = bread @ driscoll_kraay(X * (w * e)[:, None], t, bandwidth) @ bread
    b1, delta = float(beta[0]), float(beta[1])
    se = math.sqrt(max(cov[1, 1], 0.0))
    if se <= 0 or _sign(b1) == 0:
        return b1, b1 + delta, None
    stat = -_sign(b1) * delta / se              # > 0 when the holdout slope is smaller
    p_two = float(fixed_b.p_value(abs(stat), fixed_b.bandwidth_ratio(bandwidth, span)))
    return b1, b1 + delta, (p_two / 2 if stat > 0 else 1 - p_two / 2)


def _diebold_mariano(loss: np.ndarray) -> float | None:
    """One-sided p of mean(loss) > 0 (HLN-corrected DM test on per-period loss differences)."""
    H = len(loss)
    if H < 3:
        return None
    dbar = float(loss.mean())
    dc = loss - dbar
    bandwidth = max(1, int(H ** (1 / 3)))
    var = float(dc @ dc) / H
    for k in range(1, bandwidth + 1):
        var += 2 * (1 - k / (bandwidth + 1)) * float(dc[k:] @ dc[:-k]) / H
    if var <= 0:
        return 0.0 if dbar > 0 else 1.0
    stat = dbar / math.sqrt(var / H) * math.sqrt((H - 1) / H)
    return float(stats.t.sf(stat, H - 1))


# ----------------------------------------------------------------------------- stability

def stability(d: Driver, th: Thresholds) -> Check:
    """A diagnostic on the training periods: the within r in rolling windows, each with an approximate
    95 % interval (Fisher z on the window's rows less the effects it removes, so it ignores
    autocorrelation and is too narrow when the series are persistent). It never decides a verdict:
    a window's r is noisy, and the holdout is the out-of-time test."""
    pairs = d.pairs if d.train_end is None else d.pairs[d.pairs["t"] < d.train_end]
    if pairs.empty:
        return _too_few("stability", d, 0, th.min_periods, "training periods")
    t0, t1 = int(pairs["t"].min()), int(pairs["t"].max())
    T = t1 - t0 + 1
    if pairs["t"].nunique() < th.min_periods:
        return _too_few("stability", d, int(pairs["t"].nunique()), th.min_periods, "training periods")
    window = th.window or max(8, T // 2)
    step = th.step or max(1, window // 4)
    method = f"rolling windows of {window} periods every {step}"
    if d.assoc == 0:
        return Check("not_enough_data", "the overall sign is unknown", "no overall sign", method)
    rs, windows = [], []
    for s in range(t0, t1 - window + 2, step):
        part = pairs[(pairs["t"] >= s) & (pairs["t"] < s + window)]
        tf, used = transform(part, ["x", "y"], d.base, "")
        if len(tf) - used < 4:
            continue
        r = weighted_r(tf["x"].to_numpy(dtype=float), tf["y"].to_numpy(dtype=float),
                       tf["w"].to_numpy(dtype=float) if "w" in tf else None)
        if np.isfinite(r):
            rs.append(r)
            half = 1.96 / math.sqrt(max(len(tf) - used - 3, 1))
            z = math.atanh(max(min(r, 0.999999), -0.999999))
            windows.append({"first": s, "last": s + window - 1, "n": len(tf), "r": r,
                            "ci_low": math.tanh(z - half), "ci_high": math.tanh(z + half)})
    if len(rs) < 3:
        return Check("not_enough_data", f"{len(rs)} usable windows of {window} periods in {T} periods; 3 are needed",
                     f"too few rolling windows ({len(rs)})", method, {"n_windows": len(rs), "window": window,
                                                                      "step": step})
    rs = np.array(rs)
    agree = (np.sign(rs) == d.assoc) & (np.abs(rs) >= th.min_effect)
    share = float(agree.mean())
    figures = {"share": share, "n_windows": len(rs), "n_agree": int(agree.sum()), "window": window,
               "step": step, "r": float(np.median(rs)), "r_min": float(rs.min()), "r_max": float(rs.max()),
               "windows": windows}
    against = sum(1 for w_ in windows if _excludes_zero(w_["ci_low"], w_["ci_high"], -d.assoc))
    figures["n_against"] = against
    text = (f"diagnostic on the training periods: {int(agree.sum())} of {len(rs)} windows of {window} periods "
            f"have the training sign with |r| >= {th.min_effect:g} (r from {rs.min():+.2f} to {rs.max():+.2f}; "
            f"{against} with an interval on the other side of zero)")
    if share >= th.stability_share:
        return Check("pass", text, f"stable across training windows ({int(agree.sum())} of {len(rs)})", method,
                     figures)
    return Check("fail", text, f"varies across training windows (only {int(agree.sum())} of {len(rs)} agree)",
                 method, figures)
