"""Fixed-b p-values and critical values, checked against sources other than the packaged table.

References (none of them reads ``fixed_b_bartlett.npz``):

* Kiefer & Vogelsang (2005), Econometric Theory 21: 1130-1164, Table 1: cubic polynomials
  in ``b`` for the Bartlett-kernel t quantiles (90, 95, 97.5 and 99 %). Their ``b = M / T``
  with weights ``1 - |j| / M`` is our ``(maxlags + 1) / T`` with weights ``1 - j / (maxlags + 1)``.
* Kiefer & Vogelsang (2002), Econometrica 70: 2093-2095, Table I: the same quantiles at
  ``b = 1`` (Bartlett kernel without truncation).
* The exact distribution of the discrete statistic (T = 200), a quadratic form in normal
  variables, by Imhof's (1961) numerical inversion.
* Small seeded Monte Carlo simulations of the t statistics themselves, single series and a
  panel of 6 segments, with tolerances set by their Monte Carlo error.
"""

import math
import re

import numpy as np
import pytest
from scipy import integrate, linalg, optimize, special

from alignment.exceptions import OptionError
from alignment.stats.fixed_b import bandwidth_ratio, critical_value, p_value
from alignment.stats.fixed_b_table import N_PERIODS, N_REPS, SEED

# Series length of the exact references. The table simulates T = 1000. At T = 200 the exact
# critical values differ from T = 1000 by at most 0.0005 and p-values near 1e-6 by up to 2 %
# (the discrete tail is a little heavier), and the eigenvalue problems stay small enough for
# LAPACK to run single-threaded, so the tests stay fast on a busy machine.
EXACT_T = 200

# Kiefer & Vogelsang (2005), Table 1, Bartlett rows: one-sided quantile -> (a0, a1, a2, a3).
# The t limit is symmetric, so one-sided quantile q is two-sided level 2 q - 1.
KV2005 = {0.80: (1.2816, 1.3040, 0.5135, -0.3386),
          0.90: (1.6449, 2.1859, 0.3142, -0.3427),
          0.95: (1.9600, 2.9694, 0.4160, -0.5324),
          0.98: (2.3263, 4.1618, 0.5368, -0.9060)}
# Kiefer & Vogelsang (2002), Table I, Bartlett kernel with M = T (b = 1).
KV2002 = {0.80: 2.740, 0.90: 3.764, 0.95: 4.771, 0.98: 6.090}


def kv_polynomial(level, b):
    a0, a1, a2, a3 = KV2005[level]
    return a0 + a1 * b + a2 * b ** 2 + a3 * b ** 3


def bartlett_matrix(n_periods, lags_plus_one):
    lag = np.abs(np.subtract.outer(np.arange(n_periods), np.arange(n_periods)))
    return np.clip(1 - lag / lags_plus_one, 0, None)


def eigenvalues(n_periods, lags_plus_one, demean):
    """Eigenvalues of the quadratic form Q = e' W e / T (e demeaned or not)."""
    W = bartlett_matrix(n_periods, lags_plus_one)
    if demean:  # C W C with C = I - 11'/T, written out to stay clear of threaded matrix products
        W = W - W.mean(axis=0)[None, :] - W.mean(axis=1)[:, None] + W.mean()
    return linalg.eigvalsh(W / n_periods)


def exact_p(c, parts):
    """P(Z^2 > c^2 Q) with Q = sum of lambda chi2_1 terms, by Imhof's formula.

    ``parts`` is a list of (eigenvalues, multiplicity, scale): the form holds every eigenvalue
    times ``scale``, ``multiplicity`` times.
    """
    mu = np.concatenate([[1.0]] + [-c * c * scale * lam for lam, _, scale in parts])
    mult = np.concatenate([[1.0]] + [np.full(len(lam), float(m)) for lam, m, _ in parts])
    keep = np.abs(mu) > 1e-14
    mu, mult = mu[keep], mult[keep]

    def integrand(u):
        theta = 0.5 * np.sum(mult * np.arctan(mu * u))
        log_rho = 0.25 * np.sum(mult * np.log1p((mu * u) ** 2))
        return np.sin(theta) / u * np.exp(-log_rho)

    value, _ = integrate.quad(integrand, 0, np.inf, limit=5000, epsabs=1e-14, epsrel=1e-11)
    return 0.5 + value / np.pi


def hac(e, lags_plus_one):
    """Bartlett long-run variance of each row, lag by lag (weights 1 - j / K), as statsmodels does."""
    n_periods = e.shape[1]
    out = np.einsum("ij,ij->i", e, e) / n_periods
    for j in range(1, lags_plus_one):
        out += 2 * (1 - j / lags_plus_one) * np.einsum("ij,ij->i", e[:, j:], e[:, :-j]) / n_periods
    return out


def test_bandwidth_ratio_matches_statsmodels_maxlags():
    # The t statistic of a mean with statsmodels HAC(maxlags=M) uses our K = M + 1.
    import statsmodels.api as sm

    y = np.random.default_rng(0).standard_normal(60).cumsum() * 0.1 + 1
    fit = sm.OLS(y, np.ones(60)).fit(cov_type="HAC", cov_kwds={"maxlags": 7, "use_correction": False})
    e = (y - y.mean())[None, :]
    ours = y.mean() / math.sqrt(hac(e, 8)[0] / 60)
    assert fit.tvalues[0] == pytest.approx(ours, rel=1e-10)
    assert bandwidth_ratio(7, 60) == 8 / 60


def test_panel_statistic_matches_statsmodels_hac_panel():
    # groups=G is meant for cov_type="hac-panel": per-segment sums around the pooled mean.
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    y = rng.standard_normal((6, 40)) + 0.3
    seg = np.repeat(np.arange(6), 40)
    fit = sm.OLS(y.ravel(), np.ones(240)).fit(
        cov_type="hac-panel", cov_kwds={"groups": seg, "maxlags": 5, "use_correction": False})
    e = y - y.mean()
    ours = y.sum() / math.sqrt(40 * hac(e, 6).sum())
    assert fit.tvalues[0] == pytest.approx(ours, rel=1e-10)


@pytest.mark.parametrize("level", sorted(KV2005))
def test_kiefer_vogelsang_2005_polynomials(level):
    # The polynomials are cubic fits to simulated quantiles. The exact distribution of the
    # same statistic (Imhof, tests below) lies up to 0.035 below them around b = 0.1 - 0.3
    # (at b = 0.2: 2.537 exact, 2.566 polynomial for the 5 % test) and meets them again near
    # b = 0 and b = 1, where the Kiefer-Vogelsang (2002) values agree to 0.002. So the
    # tolerance is 0.04, not the 0.02 that the fit's quoted accuracy would suggest.
    b = np.linspace(0.02, 0.5, 25)
    ours = np.array([critical_value(x, level) for x in b])
    kv = kv_polynomial(level, b)
    assert np.max(np.abs(ours - kv)) < 0.04
    assert np.all(ours <= kv + 0.01)  # the fit errs on the high side; ours must not sit above it


@pytest.mark.parametrize("level", sorted(KV2002))
def test_kiefer_vogelsang_2002_at_b_equal_one(level):
    assert critical_value(1.0, level) == pytest.approx(KV2002[level], abs=0.01)


@pytest.fixture(scope="module")
def bridge_eigenvalues():
    return {b: eigenvalues(EXACT_T, round(b * EXACT_T), demean=True) for b in (0.05, 0.15, 0.5)}


@pytest.mark.parametrize("b", [0.05, 0.15, 0.5])
def test_exact_distribution_single_series(b, bridge_eigenvalues):
    parts = [(bridge_eigenvalues[b], 1, 1.0)]
    # Measured against T = 1000: critical values within 0.0011, p-values within 0.2 % at 1e-2,
    # 0.7 % at 1e-4 and 3.4 % at 1e-6 (b = 0.02 - 1, G = 1, 2, 6, 50). Against T = 200 add up to
    # 0.3 %, 1.1 % and 2.2 % of finite-T gap; the tolerances cover both with some room.
    exact_cv = optimize.brentq(lambda c: exact_p(c, parts) - 0.05, 1.5, 6, xtol=1e-9)
    assert critical_value(b, 0.95) == pytest.approx(exact_cv, abs=0.003)
    for target, rel in ((1e-2, 0.006), (1e-4, 0.025), (1e-6, 0.08)):
        t = critical_value(b, 1 - target)
        assert exact_p(t, parts) == pytest.approx(target, rel=rel)


def test_exact_distribution_six_segments(bridge_eigenvalues):
    b, groups = 0.15, 6
    brownian = eigenvalues(EXACT_T, round(b * EXACT_T), demean=False)
    # Q_6 = (one bridge form + five Brownian-motion forms) / 6; see the next test for why.
    parts = [(bridge_eigenvalues[b], 1, 1 / groups), (brownian, groups - 1, 1 / groups)]
    exact_cv = optimize.brentq(lambda c: exact_p(c, parts) - 0.05, 1.5, 4, xtol=1e-9)
    assert critical_value(b, 0.95, groups) == pytest.approx(exact_cv, abs=0.003)
    for target, rel in ((1e-2, 0.006), (1e-4, 0.025), (1e-6, 0.08)):
        t = critical_value(b, 1 - target, groups)
        assert exact_p(t, parts) == pytest.approx(target, rel=rel)


def test_pooled_centring_splits_into_one_bridge_and_g_minus_one_brownian_forms():
    # The panel form e' C (I_G x W) C e / (G T), C the pooled demeaning, has the eigenvalues
    # of one demeaned segment and G - 1 undemeaned ones: the basis of the table's G rows.
    G, T, K = 4, 30, 7
    C = np.eye(G * T) - 1 / (G * T)
    panel = linalg.eigvalsh(C @ np.kron(np.eye(G), bartlett_matrix(T, K)) @ C / T)
    parts = np.concatenate([eigenvalues(T, K, demean=True)] + [eigenvalues(T, K, demean=False)] * (G - 1))
    np.testing.assert_allclose(np.sort(panel), np.sort(parts), atol=1e-10)


def test_six_segment_panel_monte_carlo():
    # The panel statistic itself: 6 segments of 200 periods, pooled mean, per-segment Bartlett
    # HAC sums added up. 20,000 panels give the rejection rate to +-0.0015 (one sd).
    G, T, b = 6, 200, 0.15
    K = round(b * T)
    c = critical_value(b, 0.95, groups=G)
    assert 2.0 <= c <= 2.1  # the issue tracker measured "about 2.04" for this statistic
    rng = np.random.default_rng(2024)
    rejections, n = 0, 0
    for _ in range(10):
        e = rng.standard_normal((2000, G, T))
        resid = e - e.mean(axis=(1, 2), keepdims=True)
        lrv = hac(resid.reshape(-1, T), K).reshape(2000, G).sum(axis=1)
        t = e.sum(axis=(1, 2)) / np.sqrt(T * lrv)
        rejections += int(np.sum(np.abs(t) > c))
        n += len(t)
    assert rejections / n == pytest.approx(0.05, abs=0.006)
    # Each segment demeaned on its own (mean of G bridge draws) would need a larger value.
    assert c < 1.96 / math.sqrt(1 - b + b * b / 3)


@pytest.mark.parametrize("b", [0.1, 0.5])
def test_single_series_monte_carlo(b):
    T = 200
    K = round(b * T)
    rng = np.random.default_rng(7)
    e = rng.standard_normal((20000, T))
    t = e.sum(axis=1) / np.sqrt(T * hac(e - e.mean(axis=1, keepdims=True), K))
    for level in (0.90, 0.95, 0.99):
        alpha = 1 - level
        rate = np.mean(np.abs(t) > critical_value(b, level))
        assert rate == pytest.approx(alpha, abs=4 * math.sqrt(alpha * (1 - alpha) / len(t)) + 0.002)
    # And the p-values of those draws are uniform: their 5 % point is near 0.05.
    assert np.quantile(p_value(t, b), 0.05) == pytest.approx(0.05, abs=0.006)


def test_small_b_tends_to_the_normal():
    z = special.ndtri(0.975)
    assert critical_value(0.0) == pytest.approx(z, abs=1e-9)
    for b in (1e-4, 1e-3, 0.005):
        assert z < critical_value(b) < z + 3.1 * b
    t = np.linspace(0, 6, 61)
    np.testing.assert_allclose(p_value(t, 0.0), special.erfc(t / math.sqrt(2)), rtol=1e-9)
    np.testing.assert_allclose(p_value(t[:30], 1e-4), special.erfc(t[:30] / math.sqrt(2)), rtol=0.005, atol=1e-6)


def test_many_segments_tend_to_the_normal():
    values = [critical_value(0.2, 0.95, g) for g in (1, 2, 3, 6, 10, 50, 100, 10 ** 6)]
    assert np.all(np.diff(values) < 0)
    assert values[-1] == pytest.approx(special.ndtri(0.975), abs=1e-4)
    assert critical_value(0.2, 0.95, math.inf) == pytest.approx(special.ndtri(0.975), abs=1e-12)


@pytest.mark.parametrize("groups", [1, 3, 6, 9, 40, 200])
@pytest.mark.parametrize("b", [0.0125, 0.1, 0.37, 0.8])
def test_p_value_of_the_critical_value_is_one_minus_level(b, groups):
    for level in (0.5, 0.9, 0.95, 0.99, 0.999, 0.999999):
        assert p_value(critical_value(b, level, groups), b, groups) == pytest.approx(1 - level, abs=1e-6, rel=1e-6)


def test_p_value_is_monotone_symmetric_and_in_range():
    t = np.linspace(0, 60, 3001)
    for b, groups in ((0.02, 1), (0.5, 1), (1.0, 1), (0.3, 7)):
        p = p_value(t, b, groups)
        assert p[0] == 1.0
        assert np.all(np.diff(p) <= 0)
        assert np.all(np.diff(p)[p[1:] > 1e-250] < 0)  # strictly, until the floor of tiny floats
        assert np.all((p > 0) & (p <= 1))
        np.testing.assert_array_equal(p_value(-t, b, groups), p)
    assert 0 < p_value(1e6, 0.05) <= 1e-300
    assert math.isnan(p_value(float("nan"), 0.1))


def test_p_value_is_vectorised():
    t = np.array([[0.5, 1.0, 2.0], [3.0, -4.0, 8.0]])
    p = p_value(t, 0.2, groups=4)
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p, [[p_value(float(x), 0.2, groups=4) for x in row] for row in t], rtol=1e-14)
    assert isinstance(p_value(2.0, 0.2), float)
    np.testing.assert_array_equal(p_value([1.0, 2.0], 0.2), p_value(np.array([1.0, 2.0]), 0.2))
    assert p_value(np.arange(25_000.0) / 1000, 0.3).shape == (25_000,)


def test_interpolation_is_continuous():
    for b in (0.05, 0.2, 0.5):  # grid points
        assert critical_value(b - 1e-9) == pytest.approx(critical_value(b + 1e-9), abs=1e-6)
    between = critical_value(0.17, 0.95, 9)
    assert critical_value(0.17, 0.95, 10) < between < critical_value(0.17, 0.95, 8)
    assert critical_value(0.165) == pytest.approx((critical_value(0.16) + critical_value(0.17)) / 2, abs=0.002)


def test_bandwidth_ratio():
    assert bandwidth_ratio(0, 364) == 1 / 364
    assert bandwidth_ratio(np.int64(4), 12) == 5 / 12
    assert bandwidth_ratio(30, 12) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: critical_value(0.1, level=1.5),
     "The 'level' parameter of critical_value must be between 0 and 1. Got 1.5 instead."),
    (lambda: critical_value(0.1, level=0), "'level' parameter of critical_value"),
    (lambda: critical_value(1.2), "The 'b' parameter of critical_value must be a number between 0 and 1"),
    (lambda: p_value(2.0, -0.1), "The 'b' parameter of p_value"),
    (lambda: p_value(2.0, float("nan")), "The 'b' parameter of p_value"),
    (lambda: p_value(2.0, 0.1, groups=0), "The 'groups' parameter of p_value"),
    (lambda: p_value(2.0, 0.1, groups=2.5), "The 'groups' parameter of p_value"),
    (lambda: critical_value(0.1, groups=True), "The 'groups' parameter of critical_value"),
    (lambda: p_value("big", 0.1), "The 't' parameter of p_value"),
    (lambda: bandwidth_ratio(-1, 52), "The 'bandwidth' parameter of bandwidth_ratio"),
    (lambda: bandwidth_ratio(3, 0), "The 'n_periods' parameter of bandwidth_ratio"),
    (lambda: bandwidth_ratio(2.0, 52), "The 'bandwidth' parameter of bandwidth_ratio"),
])
def test_bad_options_raise_option_error(call, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        call()


def test_table_records_how_it_was_made():
    from importlib import resources

    path = resources.files("alignment.stats").joinpath("fixed_b_bartlett.npz")
    with path.open("rb") as fh, np.load(fh) as data:
        assert int(data["seed"]) == SEED
        assert int(data["n_periods"]) == N_PERIODS
        assert int(data["n_reps"]) == N_REPS
        assert data["quantiles"].shape == (len(data["b"]), len(data["groups"]), len(data["points"]))
    with path.open("rb") as fh:
        assert len(fh.read()) < 3_000_000
