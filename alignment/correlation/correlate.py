"""Step 4 of the method: correlate KPIs with the CX metric, honestly for time series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ..display import Displayed
from ..exceptions import OptionError
from ..panel.frame import PanelFrame, block_length, require_columns
from ..progress import each, setting
from ..stats.resample import circular_block_periods
from .inference import (driscoll_kraay_test, effective_n, equivalent_interval, fisher_interval, kish_factor,
                        p_value, weighted_r)
from .series import lagged_frame, parse_scope, transform

METHODS = ("pearson", "spearman", "kendall")
ADJUST = {"bh": "fdr_bh", "holm": "holm"}
INFERENCE = ("auto", "driscoll-kraay", "fisher", "block_bootstrap")
COLUMNS = ["kpi", "outcome", "lag", "method", "scope", "segment", "n", "n_effective", "r", "ci_low", "ci_high",
           "p_value", "p_adjusted", "status", "reason"]


@dataclass(frozen=True, repr=False)
class CorrelationResult(Displayed):
    """Correlations of KPIs (at lags) with an outcome, by scope.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per KPI x lag x scope (x segment for ``per_segment`` scopes) with columns
        ``kpi, outcome, lag, method, scope, segment, n, n_effective, r, ci_low, ci_high, p_value,
        p_adjusted, status, reason``. ``status`` is ``ok``, ``not_enough_data`` or
        ``constant``; r and its inference are missing unless it is ``ok``.
    """

    table: pd.DataFrame
    outcome: str
    kpis: tuple[str, ...]
    lags: tuple[int, ...]
    method: str
    scopes: tuple[str, ...]
    adjust: str
    inference: str
    ci: float
    n_boot: int
    seed: int | None
    weights: str = "none"
    n_low_responses: int = 0

    def summary(self) -> str:
        """The strongest association of each KPI in each scope, best lag first."""
        t = self.table[self.table["status"] == "ok"]
        lines = [f"Correlations with {self.outcome} ({self.method}, {self.inference} inference, "
                 f"{int(self.ci * 100)} % CI, p adjusted by {self.adjust} over {len(self.table)} tests)"]
        for scope in self.scopes:
            s = t[(t["scope"] == scope) & t["segment"].isna()]
            if s.empty:
                continue
            lines.append(f"  scope {scope}:")
            best = s.loc[s.groupby("kpi")["p_value"].idxmin()].sort_values("p_value")
            for row in best.itertuples():
                lines.append(f"    {row.kpi:<24} lag {row.lag}  r = {row.r:+.2f} [{row.ci_low:+.2f}, "
                             f"{row.ci_high:+.2f}]  n = {row.n}, n_eff = {row.n_effective:.1f}, "
                             f"p_adj = {row.p_adjusted:.3g}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return {"outcome": self.outcome, "kpis": list(self.kpis), "lags": list(self.lags),
                "method": self.method, "scopes": list(self.scopes), "adjust": self.adjust,
                "inference": self.inference, "ci": self.ci, "n_boot": self.n_boot, "seed": self.seed,
                "weights": self.weights, "n_low_responses": self.n_low_responses, "rows": rows}


def _lags(lags) -> tuple[int, ...]:
    if isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
        values = tuple(range(0, int(lags) + 1))
    else:
        values = tuple(int(v) for v in lags)
    if not values or any(v < 0 for v in values):
        raise OptionError(f"The 'lags' parameter of correlate must be a maximum lag >= 0 or a list of "
                          f"lags >= 0. Got {lags!r} instead.")
    return values


def correlate(panel, outcome: str, kpis: Sequence[str], *, by: Sequence[str] | None = None, lags=0,
              method: str = "pearson", scope: Sequence[str] | str | None = None,
              covariates: Sequence[str] | None = None, weights: str | None = "responses", adjust: str = "bh",
              ci: float = 0.95, inference: str = "auto", n_boot: int = 1000, block: int | None = None,
              seed: int | None = None, grain: str | None = None, time: str = "period",
              autocorrelation: bool = True, drop_low_responses: bool = True, progress=None) -> CorrelationResult:
    """Correlate each KPI, at each lag, with the outcome, in each scope.

    Parameters
    ----------
    panel : Panel or pandas.DataFrame
        One row per period x segment.
    outcome : str
        The CX metric column (e.g. ``"csat"``).
    kpis : sequence of str
        KPI columns.
    by : sequence of str, optional
        Segment columns; default the panel's.
    lags : int or sequence of int
        Maximum lag (0..lags) or explicit lags: the KPI at period t - lag against the outcome at
        t, within each segment, never across a gap in the periods.
    method : {"pearson", "spearman", "kendall"}
    scope : str or sequence of str
        Any of ``pooled``, ``within`` (segment means removed), ``per_segment`` and each of them
        ``_detrended`` (linear trend removed) or ``_differenced`` (first differences), and
        ``within_twoway`` (segment and period means removed: shocks common to every segment in a
        period are absorbed) with its ``_detrended`` and ``_differenced`` forms. Default with 3 or
        more segments: pooled, within_twoway, within_twoway_detrended, within_twoway_differenced and
        within; with 2 segments pooled, within, within_detrended, within_differenced; with none the
        pooled ones.
    covariates : sequence of str, optional
        Partial correlation: both series are residualized on these (at the outcome's period).
    weights : {"responses", "none"} or str
        ``"responses"`` (the default) weights each period by the inverse sampling variance of its
        CX value: the outcome's response count (``csat_n``), or ``1 / nps_se^2`` for NPS (see
        :func:`alignment.panel.frame.outcome_weights`); a DataFrame without a count column is
        unweighted. ``"none"`` or None: unweighted. Any other string names a weight column.
    adjust : {"bh", "holm"}
        Multiple-testing adjustment across every row of the table.
    ci : float
        Confidence level.
    inference : {"auto", "driscoll-kraay", "fisher", "block_bootstrap"}
        ``"driscoll-kraay"``: the slope of the (scope-transformed) outcome on the KPI gets
        Driscoll-Kraay errors (period sums of the scores, a Bartlett HAC with a bandwidth of
        ``ceil(1.3 sqrt(T)) - 1`` lags over the span of T periods) and a fixed-b p-value, so the test
        keeps its size when KPIs and errors move together across segments; the interval is the
        Fisher-z interval whose width matches that p-value. ``"fisher"``: Fisher-z with the
        Pyper-Peterman effective sample size (segments taken as independent). ``"auto"`` (the
        default) uses Driscoll-Kraay for the ``within`` and ``within_twoway`` scopes of 2 or more
        segments and Fisher
        otherwise (pooled scopes keep segment effects in their errors, which are then persistent
        within a segment: the effective-n correction sees that, a HAC over periods does not).
        ``"block_bootstrap"``: a circular block bootstrap of periods.
    n_boot, block, seed
        Bootstrap resamples, block length in periods (default the cube root of the number of
        periods, at least 2), seed.
    grain : {"day", "week", "month"}, optional
        The period grain; default the panel's, or inferred from the period dates.
    time : str
        The period column.
    autocorrelation : bool
        False gives textbook inference (n_effective = n minus estimated parameters), for comparison.
    drop_low_responses : bool
        Leave periods flagged ``low_responses`` (fewer than the panel's ``min_responses``
        surveys) out of the inference; they stay in the panel. The count is in
        ``n_low_responses``.
    progress : None, bool or callable, optional
        A progress bar over the KPIs: ``None`` shows one only when a person is watching (a
        terminal or a notebook), ``False`` never, ``True`` always (:mod:`alignment.progress`).

    Returns
    -------
    CorrelationResult

    Examples
    --------
    >>> from alignment import build_panel, correlate
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = correlate(panel, "csat", ["asa", "fcr"], lags=1, scope="within")
    >>> sorted(res.table["lag"].unique().tolist())
    [0, 1]
    """
    shown = setting(progress, where="correlate")
    frame = PanelFrame.from_panel(panel, by=by, grain=grain, time=time)
    data, by, grain = frame.data, list(frame.by), frame.grain
    kpis = [kpis] if isinstance(kpis, str) else list(kpis)
    covariates = list(covariates or ())
    lags = _lags(lags)
    if method not in METHODS:
        raise OptionError(f"The 'method' parameter of correlate must be one of 'pearson', 'spearman', "
                          f"'kendall'. Got {method!r} instead.")
    if adjust not in ADJUST:
        raise OptionError(f"The 'adjust' parameter of correlate must be 'bh' or 'holm'. Got {adjust!r} instead.")
    if inference not in INFERENCE:
        raise OptionError(f"The 'inference' parameter of correlate must be one of "
                          f"{', '.join(map(repr, INFERENCE))}. Got {inference!r} instead.")
    if not 0 < ci < 1:
        raise OptionError(f"The 'ci' parameter of correlate must be between 0 and 1. Got {ci!r} instead.")
    from ..stats.resample import MAX_RESAMPLES
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or not 0 <= n_boot <= MAX_RESAMPLES:
        raise OptionError(f"The 'n_boot' parameter of correlate must be a whole number from 0 to "
                          f"{MAX_RESAMPLES:,}. Got {n_boot!r} instead.")
    if scope is None:
        scope = default_scopes(frame.n_segments)
    scopes = (scope,) if isinstance(scope, str) else tuple(scope)
    for s in scopes:
        parse_scope(s)
    values = [outcome, *kpis, *covariates]
    require_columns(data, [*values, time, *by], numeric=values)
    if method == "kendall" and weights == "responses":
        weights = "none"  # Kendall's tau has no weighted form; the default quietly steps aside
    data, weight_col, weights_used, n_low = frame.analysis_table(outcome, weights, drop_low_responses)
    if method == "kendall" and (weight_col or covariates):
        raise OptionError("Kendall's tau takes neither weights nor covariates; use pearson or spearman "
                          "(or weights='none').")
    number = frame.t
    root = np.random.SeedSequence(seed)
    extra = covariates + ([weight_col] if weight_col else [])
    labels = frame.labels
    rows, boot_seeds = [], iter(root.spawn(len(kpis) * len(lags) * len(scopes)))
    for kpi in each(kpis, f"correlating with {outcome}", unit="KPI", progress=shown):
        for lag in lags:
            pairs = lagged_frame(data, outcome, kpi, lag, by, number, extra)
            if weight_col:
                pairs = pairs.rename(columns={weight_col: "w"})
            for s in scopes:
                child = next(boot_seeds)
                base, kind = parse_scope(s)
                groups = [(None, pairs)] if base != "per_segment" else list(pairs.groupby("seg", sort=True))
                how = inference
                if how == "auto":
                    # segment effects first: with them left in, errors are persistent within a
                    # segment, which a HAC over periods (weak dependence in time) cannot see
                    how = ("driscoll-kraay" if base in ("within", "within_twoway") and pairs["seg"].nunique() >= 2
                           else "fisher")
                for seg_code, part in groups:
                    row = _one(part, base, kind, covariates, "w" in pairs, method, ci, how,
                               n_boot, block, child, autocorrelation)
                    row.update(kpi=kpi, outcome=outcome, lag=lag, method=method, scope=s,
                               segment=None if seg_code is None else labels[seg_code])
                    rows.append(row)
    table = pd.DataFrame(rows)
    table["p_adjusted"] = np.nan
    ok = table["p_value"].notna()
    if ok.any():
        table.loc[ok, "p_adjusted"] = multipletests(table.loc[ok, "p_value"], method=ADJUST[adjust])[1]
    table["n"] = table["n"].astype(int)
    return CorrelationResult(table=table[COLUMNS], outcome=outcome, kpis=tuple(kpis), lags=lags,
                             method=method, scopes=scopes, adjust=adjust, inference=inference, ci=ci,
                             n_boot=n_boot if inference == "block_bootstrap" else 0, seed=seed,
                             weights=weights_used, n_low_responses=n_low)


def default_scopes(n_segments: int) -> tuple[str, ...]:
    """The scopes :func:`correlate` reports by default for a panel of ``n_segments``."""
    if n_segments >= 3:
        return ("pooled", "within", "within_twoway", "within_twoway_detrended", "within_twoway_differenced")
    if n_segments == 2:
        return ("pooled", "within", "within_detrended", "within_differenced")
    return ("pooled", "pooled_detrended", "pooled_differenced")


def _empty(n: int, status: str, reason: str) -> dict:
    return dict(n=n, n_effective=np.nan, r=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                status=status, reason=reason)


def _one(pairs: pd.DataFrame, base: str, kind: str, covariates: list[str], weighted: bool, method: str,
         ci: float, inference: str, n_boot: int, block: int | None, seed, autocorrelation: bool) -> dict:
    cols = ["x", "y", *covariates]
    tf, used = transform(pairs, cols, base, kind)
    n = len(tf)
    used += len(covariates)
    if n - used < 4:
        return _empty(n, "not_enough_data", f"{n} pairs for {used} estimated parameters")
    w = tf["w"].to_numpy(dtype=float) if weighted else None
    x, y = tf["x"].to_numpy(dtype=float), tf["y"].to_numpy(dtype=float)
    if covariates:
        x, y = _partial(x, y, tf[covariates].to_numpy(dtype=float), w)
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
    if method == "kendall":
        r = float(stats.kendalltau(x, y).statistic) if np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan
    else:
        r = weighted_r(x, y, w)
    if not np.isfinite(r) or _absorbed(pairs, x, y):
        return _empty(n, "constant", "the KPI or the outcome does not vary in this scope")
    seg, t = tf["seg"].to_numpy(), tf["t"].to_numpy()
    if inference == "driscoll-kraay":
        p, n_eff = driscoll_kraay_test(x, y, w, t, r, n - used)
        lo, hi = equivalent_interval(r, p, ci)
        return dict(n=n, n_effective=n_eff, r=r, ci_low=lo, ci_high=hi, p_value=p, status="ok", reason="")
    if autocorrelation:
        xc, yc = x - np.average(x, weights=w), y - np.average(y, weights=w)
        n_star = effective_n(xc, yc, seg, t)
    else:
        n_star = float(n)
    n_eff = max(n_star * (n - used) / n * kish_factor(w), 2.0)
    if inference == "fisher":
        lo, hi = fisher_interval(r, n_eff, method, ci)
        p = p_value(r, n_eff, method)
    else:
        lo, hi, p = _block_bootstrap(x, y, w, t, r, method, ci, n_boot, block, seed)
    return dict(n=n, n_effective=n_eff, r=r, ci_low=lo, ci_high=hi, p_value=p, status="ok", reason="")


def _absorbed(pairs: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> bool:
    """True when the scope's effects removed (almost) all of the KPI's or the outcome's variation.

    A centre-wide KPI under period effects keeps only rounding noise, about 1e-16 of its spread,
    which a correlation would otherwise treat as data.
    """
    for before, after in ((pairs["x"].to_numpy(dtype=float), x), (pairs["y"].to_numpy(dtype=float), y)):
        spread = float(np.var(before)) if len(before) > 1 else 0.0
        if spread > 0 and float(np.var(after)) <= 1e-12 * spread:
            return True
    return False


def _partial(x, y, z, w):
    design = np.column_stack([np.ones(len(x)), z])
    sw = np.sqrt(w) if w is not None else np.ones(len(x))
    out = []
    for v in (x, y):
        beta, *_ = np.linalg.lstsq(design * sw[:, None], v * sw, rcond=None)
        out.append(v - design @ beta)
    return out


def _block_bootstrap(x, y, w, t, r, method, ci, n_boot, block, seed):
    """Circular blocks of consecutive periods; every row of a drawn period comes along."""
    periods, inverse = np.unique(t, return_inverse=True)
    n_periods = len(periods)
    length = block or block_length(n_periods)
    length = min(length, n_periods)
    rows_of = [np.flatnonzero(inverse == k) for k in range(n_periods)]
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rows_of[k] for k in circular_block_periods(n_periods, length, rng)])
        xb, yb = x[idx], y[idx]
        if method == "kendall":
            draws[b] = stats.kendalltau(xb, yb).statistic
        elif method == "spearman":
            draws[b] = weighted_r(stats.rankdata(xb), stats.rankdata(yb), None if w is None else w[idx])
        else:
            draws[b] = weighted_r(xb, yb, None if w is None else w[idx])
    draws = draws[np.isfinite(draws)]
    if len(draws) < max(10, n_boot // 2):
        return np.nan, np.nan, np.nan
    lo, hi = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2])
    p = (1 + np.sum(np.abs(draws - r) >= abs(r))) / (len(draws) + 1)
    return float(lo), float(hi), float(p)
