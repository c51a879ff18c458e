"""The churn models of the business-impact link (pure computation on :class:`~alignment.impact.link.Link`).

* :func:`fit_logit`: logistic regression of leaving within the window on the contact's CX score,
  with segment and period effects (dummies), errors clustered by customer; the CX effect is its
  average marginal effect in percentage points per CX point, with a delta-method interval.
* :func:`customer_bootstrap`: replicates of the logit over customers drawn with replacement.
  Each replicate is one linearised Newton step from the full-sample fit (the estimating-equation
  bootstrap: beta_b = beta + H^-1 sum_g (w_g - 1) s_g, s_g a customer's score), so a thousand
  replicates cost one matrix product instead of a thousand fits.
* :func:`fit_cox`: a Cox proportional-hazards model of time to leaving (lifelines), strata by
  segment, errors clustered by customer.
* :func:`nps_groups`: the churn of promoters, passives and detractors, pooled rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..exceptions import OptionError


@dataclass(frozen=True)
class LogitFit:
    """A logit with clustered errors: ``names``, ``beta``, ``V`` (clustered covariance), ``H`` (the
    information), ``X``, ``y``, ``p``, the per-cluster scores ``S`` (G x k) and ``cluster``."""

    names: list
    beta: np.ndarray
    V: np.ndarray
    H: np.ndarray
    X: np.ndarray
    y: np.ndarray
    p: np.ndarray
    S: np.ndarray
    cluster: np.ndarray

    def ame(self, term: str = "x", beta: np.ndarray | None = None) -> float:
        """Average marginal effect of ``term`` on the probability, in percentage points per unit."""
        b = self.beta if beta is None else beta
        p = self.p if beta is None else 1 / (1 + np.exp(-(self.X @ b)))
        return 100.0 * float(b[self.names.index(term)] * np.mean(p * (1 - p)))

    def ame_grad(self, term: str = "x") -> np.ndarray:
        """The gradient of :meth:`ame` in the coefficients (percentage points)."""
        j = self.names.index(term)
        w = self.p * (1 - self.p)
        grad = self.beta[j] * (self.X * (w * (1 - 2 * self.p))[:, None]).mean(axis=0)
        grad[j] += w.mean()
        return 100.0 * grad

    def ame_se(self, term: str = "x") -> float:
        """Delta-method standard error of :meth:`ame` under the clustered covariance."""
        grad = self.ame_grad(term)
        return math.sqrt(max(float(grad @ self.V @ grad), 0.0))


#: Period effects are fitted for blocks of consecutive periods with at least this many departures each.
MIN_EVENTS_PER_BLOCK = 20


def period_blocks(period: pd.Series, y: np.ndarray, min_events: int = MIN_EVENTS_PER_BLOCK) -> np.ndarray:
    """Each row's block of consecutive periods, each block holding at least ``min_events`` departures
    (the last block joins the one before when it has fewer). A week with no departure would be
    perfectly predicted by its own dummy (its coefficient runs off to minus infinity); departures
    are rare, so weekly periods are pooled until each block has enough to estimate its level."""
    levels = np.sort(pd.unique(period))
    codes = np.searchsorted(levels, period.to_numpy())
    events = np.bincount(codes, weights=y, minlength=len(levels))
    block, total, b = np.zeros(len(levels), dtype=np.int64), 0.0, 0
    for i, e in enumerate(events):
        block[i] = b
        total += e
        if total >= min_events:
            b, total = b + 1, 0.0
    if 0 < total < min_events and b > 0:
        block[block == b] = b - 1
    return block[codes]


def design(table: pd.DataFrame, terms=("x",)) -> tuple[np.ndarray, list]:
    """Intercept, ``terms``, and segment and period-block dummies (first level of each left out;
    the blocks of :func:`period_blocks`, or the ``period`` column itself without a ``block``)."""
    cols, names = [np.ones(len(table))], ["const"]
    for t in terms:
        cols.append(table[t].to_numpy(dtype=float))
        names.append(t)
    for factor in ("segment", "block" if "block" in table else "period"):
        codes, levels = pd.factorize(table[factor], sort=True)
        for k in range(1, len(levels)):
            cols.append((codes == k).astype(float))
            names.append(f"{factor}[{levels[k]}]")
    return np.column_stack(cols), names


def _cluster_matrix(cluster: np.ndarray, G: int):
    return sparse.csr_matrix((np.ones(len(cluster)), (cluster, np.arange(len(cluster)))), shape=(G, len(cluster)))


def fit_logit(table: pd.DataFrame, terms=("x",), cluster: str = "customer_id") -> LogitFit:
    """Logit of ``y`` on ``terms`` + segment + period dummies by Newton steps; errors CRV1 by customer.

    The small-sample factor is statsmodels' for a clustered discrete model, G / (G - 1) x
    (n - 1) / (n - k); the tests check estimates and errors against ``statsmodels`` ``Logit`` with
    explicit dummies and ``cov_type="cluster"``.
    """
    X, names = design(table, terms)
    # drop dummies of levels with no rows left (after censoring) or with no variation
    keep = [j for j in range(X.shape[1]) if j == 0 or X[:, j].std() > 0]
    X, names = X[:, keep], [names[j] for j in keep]
    y = table["y"].to_numpy(dtype=float)
    if y.sum() == 0 or y.sum() == len(y):
        raise OptionError(f"The churn link needs both outcomes: all {len(y):,} observed windows "
                          f"{'end with' if y.sum() else 'end without'} the customer leaving.")
    b = np.zeros(X.shape[1])
    b[0] = math.log(y.mean() / (1 - y.mean()))
    dev = np.inf
    for _ in range(50):
        p = 1 / (1 + np.exp(-(X @ b)))
        H = (X * (p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H, X.T @ (y - p))
        b = b + step
        p = np.clip(1 / (1 + np.exp(-(X @ b))), 1e-300, 1 - 1e-16)
        new = float(-2 * np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
        if np.max(np.abs(step)) < 1e-8 or abs(dev - new) < 1e-10 * (1 + abs(new)):
            break
        dev = new
    p = 1 / (1 + np.exp(-(X @ b)))
    H = (X * (p * (1 - p))[:, None]).T @ X
    codes = pd.factorize(table[cluster])[0]
    G, n, k = int(codes.max()) + 1, len(y), X.shape[1]
    S = _cluster_matrix(codes, G) @ (X * (y - p)[:, None])
    Hi = np.linalg.inv(H)
    V = Hi @ (S.T @ S) @ Hi * (G / (G - 1)) * ((n - 1) / (n - k))
    return LogitFit(names=names, beta=b, V=V, H=H, X=X, y=y, p=p, S=np.asarray(S), cluster=codes)


def customer_sums(columns: np.ndarray, n_boot: int, seed, chunk: int = 100) -> np.ndarray:
    """``sum_g (w_g - 1) columns[g]`` for ``n_boot`` customer-bootstrap replicates (rows).

    ``columns`` has one row per customer (their score contributions, values ...); ``w_g`` is how
    often customer g is drawn when G customers are drawn with replacement (a multinomial count),
    drawn replicate by replicate from ``seed`` and used in chunks, so that the G x n_boot weights
    are never held at once.
    """
    G = columns.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, columns.shape[1]))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        W = np.stack([np.bincount(rng.integers(0, G, G), minlength=G) for _ in range(stop - start)]).astype(float)
        W -= 1.0
        out[start:stop] = W @ columns
    return out


def percentile_interval(replicates: np.ndarray, alpha: float) -> list:
    """The percentile interval of the finite bootstrap ``replicates`` ([nan, nan] when none is)."""
    a = replicates[np.isfinite(replicates)]
    if not len(a):
        return [float("nan"), float("nan")]
    return [float(np.percentile(a, 100 * alpha / 2)), float(np.percentile(a, 100 * (1 - alpha / 2)))]


def ame_influence(fit: LogitFit, term: str = "x") -> np.ndarray:
    """Each customer's contribution to a bootstrap replicate of the average marginal effect of ``term``.

    A replicate's coefficients are one linearised Newton step from the fit, beta + H^-1 sum_g
    (w_g - 1) s_g, and its average marginal effect, to the same first order, AME + grad' (beta_b
    - beta); so AME_b = AME + sum_g (w_g - 1) psi_g with psi_g = s_g' H^-1 grad, one number per
    customer. A thousand replicates then cost one product of the draws with these numbers.
    """
    return fit.S @ np.linalg.solve(fit.H, fit.ame_grad(term))


def fit_cox(link_table: pd.DataFrame, cluster: str = "customer_id", alpha: float = 0.05,
            whole_days: bool = True) -> dict | None:
    """Cox model of time to leaving on the CX score, strata by segment, errors clustered by customer.

    lifelines fits the model (time in whole days after the contact, rounded up, ties by Efron's
    method: with at most ``window_days`` distinct times the fit takes a second or two at 75,000
    contacts); the clustered (Lin-Wei) variance is computed here from the score residuals,
    I^-1 (sum_g r_g^2) I^-1 (:func:`cox_score_residuals`), because lifelines' own ``cluster_col``
    takes minutes at that size. The tests check it against lifelines' ``cluster_col`` on data without
    ties. Returns ``hazard_ratio`` per CX point with ``ci`` and ``p_value``, or None without
    lifelines (``pip install lifelines``).
    """
    try:
        from lifelines import CoxPHFitter
    except ImportError:
        return None
    T = link_table["duration_days"].to_numpy(dtype=float)
    T = np.maximum(np.ceil(T), 1.0) if whole_days else np.maximum(T, 1e-9)
    d = pd.DataFrame({"T": T, "E": link_table["event"].to_numpy(dtype=bool),
                      "x": link_table["x"].to_numpy(dtype=float),
                      "segment": pd.factorize(link_table["segment"])[0]})
    if not d["E"].any():
        return None
    strata = ["segment"] if d["segment"].nunique() > 1 else None
    cph = CoxPHFitter().fit(d if strata else d.drop(columns="segment"), "T", "E", strata=strata)
    b = float(cph.params_["x"])
    var_model = float(cph.variance_matrix_.loc["x", "x"])
    r = cox_score_residuals(d["T"].to_numpy(), d["E"].to_numpy(), d["x"].to_numpy(), d["segment"].to_numpy(), b)
    codes = pd.factorize(link_table[cluster])[0]
    rg = np.bincount(codes, weights=r)
    se = math.sqrt(var_model ** 2 * float(rg @ rg))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"hazard_ratio": math.exp(b), "ci": [math.exp(b - z * se), math.exp(b + z * se)], "coef": b, "se": se,
            "p_value": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else float("nan"),
            "n": int(len(d)), "events": int(d["E"].sum()),
            "model": "cox: time to leaving in whole days, strata by segment, clustered by customer (lifelines)"}


def cox_score_residuals(T, E, x, strata, beta: float) -> np.ndarray:
    """Each subject's score residual of a one-covariate Cox model (Breslow), within its stratum:
    r_i = E_i (x_i - xbar(T_i)) - exp(beta x_i) sum_{t <= T_i} (x_i - xbar(t)) dLambda0(t)."""
    r = np.zeros(len(T))
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        t, e, xs = T[idx], E[idx].astype(float), x[idx]
        u, inv = np.unique(t, return_inverse=True)
        risk = np.exp(beta * xs)
        # risk-set sums at each distinct time: everyone with T >= u
        s0 = np.bincount(inv, weights=risk, minlength=len(u))[::-1].cumsum()[::-1]
        s1 = np.bincount(inv, weights=risk * xs, minlength=len(u))[::-1].cumsum()[::-1]
        d = np.bincount(inv, weights=e, minlength=len(u))
        xbar = s1 / s0
        dlam = d / s0
        A, B = np.cumsum(dlam), np.cumsum(xbar * dlam)
        r[idx] = e * (xs - xbar[inv]) - risk * (xs * A[inv] - B[inv])
    return r


NPS_GROUPS = ("promoter", "passive", "detractor")


def nps_groups(table: pd.DataFrame, alpha: float = 0.05) -> tuple[pd.DataFrame, dict]:
    """Pooled churn rate of each NPS group (churned / observations, in percent) with a cluster-robust
    interval, and promoter against detractor in percentage points (clustered by customer)."""
    x, y = table["x"].to_numpy(dtype=float), table["y"].to_numpy(dtype=float)
    group = np.where(x >= 9, 0, np.where(x >= 7, 1, 2))
    codes = pd.factorize(table["customer_id"])[0]
    G = int(codes.max()) + 1
    C = _cluster_matrix(codes, G)
    D = np.column_stack([(group == g).astype(float) for g in range(3)])
    n = D.sum(axis=0)
    rates = np.divide(D.T @ y, n, out=np.full(3, np.nan), where=n > 0)
    resid = y - D @ np.nan_to_num(rates)
    S = np.asarray(C @ (D * resid[:, None]))
    Vi = np.diag(np.divide(1.0, n, out=np.zeros(3), where=n > 0))
    V = Vi @ (S.T @ S) @ Vi * G / (G - 1)
    z = stats.norm.ppf(1 - alpha / 2)
    se = np.sqrt(np.maximum(np.diag(V), 0))
    rows = pd.DataFrame({"group": NPS_GROUPS, "n": n.astype(int), "n_churned": (D.T @ y).astype(int),
                         "rate": 100 * rates, "ci_low": 100 * (rates - z * se), "ci_high": 100 * (rates + z * se)})
    diff = rates[0] - rates[2]
    se_d = math.sqrt(max(V[0, 0] + V[2, 2] - 2 * V[0, 2], 0.0))
    p = float(2 * stats.norm.sf(abs(diff / se_d))) if se_d > 0 else float("nan")
    return rows, {"estimate": 100 * diff, "ci": [100 * (diff - z * se_d), 100 * (diff + z * se_d)], "p_value": p}
