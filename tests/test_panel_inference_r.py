"""Fixed effects and panel sandwich covariances against R (plm, sandwich, lmtest) and linearmodels.

References: ``tests/results/panel_inference_reference.csv``, written by
``tests/results/panel_inference.R`` from the panels in ``tests/results/panel_inference_data.csv``
(versions and the meaning of every ``estimator`` key: ``tests/results/panel_inference_SOURCES.txt``).

Our side is built from the public pieces only: :func:`alignment.panel.frame.demean` and
``numpy.linalg.lstsq`` for the within fit, then the scores ``w * xdot * e`` into
:mod:`alignment.stats.hac`.

What the references do with gaps (read from plm's source, and checked by the R script):
plm's ``vcovSCC`` and ``vcovNW`` lag by the *position* of a period among the periods observed
in the panel. A period missing for every segment (period 17 of the gapped panel) is skipped,
so periods 16 and 18 count as one lag apart; a segment's own gaps are respected (``vcovNW``
pairs a segment only with itself at the lagged position). Our estimators lag by period number,
so they are compared with plm on the period *positions* (which reproduces plm), and with the
by-hand R values ``*_byperiod`` on the period numbers (the definition we want).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alignment.panel.frame import demean
from alignment.stats.hac import cluster_factor, cluster_meat, driscoll_kraay, newey_west_panel, sandwich

RESULTS = Path(__file__).parent / "results"
DATA = pd.read_csv(RESULTS / "panel_inference_data.csv")
# R (plm) names the coefficient column "term"; our result tables call it "kpi"
REF = pd.read_csv(RESULTS / "panel_inference_reference.csv").rename(columns={"term": "kpi"})
TERMS = ["x1", "x2"]
DATASETS = ["balanced", "gapped"]
EFFECTS = {"twoways": "twoway", "individual": "segment"}   # plm's name -> ours

RTOL_COEF = 1e-10
RTOL_SE = 1e-8


def ref(dataset, estimator, quantity, terms=TERMS):
    sel = REF[(REF.dataset == dataset) & (REF.estimator == estimator) & (REF.quantity == quantity)]
    values = sel.set_index("kpi")["value"]
    assert len(values), f"no reference {dataset}/{estimator}/{quantity}"
    return values.loc[terms].to_numpy(dtype=float)


def ref_vcov(dataset, estimator):
    """(se of x1, x2; covariance x1, x2) of one reference covariance."""
    return ref(dataset, estimator, "se"), ref(dataset, estimator, "cov", ["x1:x2"])[0]


def assert_vcov(V, dataset, estimator, rtol=RTOL_SE):
    se, cov = ref_vcov(dataset, estimator)
    np.testing.assert_allclose(np.sqrt(np.diag(V)), se, rtol=rtol, err_msg=f"{dataset} {estimator} se")
    np.testing.assert_allclose(V[0, 1], cov, rtol=rtol, err_msg=f"{dataset} {estimator} cov")


class Within:
    """A within (fixed-effects) fit of y on x1, x2 from the CSV, with our demean."""

    def __init__(self, dataset, effects, weighted):
        d = DATA[DATA.dataset == dataset].reset_index(drop=True)
        self.data = d
        self.labels, self.seg = np.unique(d["queue"].to_numpy(), return_inverse=True)
        self.period = d["period"].to_numpy(dtype=np.int64)
        # plm's lag clock: the position of each row's period among the periods observed
        self.position = np.searchsorted(np.unique(self.period), self.period)
        self.w = d["w"].to_numpy(dtype=float) if weighted else None
        w = np.ones(len(d)) if self.w is None else self.w
        X = d[TERMS].to_numpy(dtype=float)
        y = d["y"].to_numpy(dtype=float)
        self.X = demean(X, self.seg, self.period, effects=EFFECTS[effects], weights=self.w)
        yd = demean(y, self.seg, self.period, effects=EFFECTS[effects], weights=self.w)
        sw = np.sqrt(w)
        self.coef = np.linalg.lstsq(self.X * sw[:, None], yd * sw, rcond=None)[0]
        self.resid = yd - self.X @ self.coef
        self.scores = w[:, None] * self.X * self.resid[:, None]
        self.n, self.k = self.X.shape
        self.G = len(self.labels)

    def vcov(self, meat):
        return sandwich(self.X, meat, weights=self.w)


@pytest.fixture(scope="module")
def fits():
    cache = {}

    def get(dataset, effects, weighted=False):
        key = (dataset, effects, weighted)
        if key not in cache:
            cache[key] = Within(*key)
        return cache[key]

    return get


# ----------------------------------------------------------------------------- the data

def test_the_gapped_panel_has_the_gaps_the_script_made():
    g = DATA[DATA.dataset == "gapped"]
    b = DATA[DATA.dataset == "balanced"]
    assert len(b) == 240 and b.groupby("queue").size().eq(40).all()
    assert 17 not in set(g.period)                                   # missing for all segments
    assert not g[(g.queue == "sales") & g.period.between(25, 27)].size   # a 3-period run
    assert 190 < len(g) < 220                                         # ~10 % more dropped at random
    assert not g.duplicated(["queue", "period"]).any()


# ----------------------------------------------------------------------------- coefficients

@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("effects", ["twoways", "individual"])
def test_within_coefficients_match_plm(fits, dataset, effects):
    f = fits(dataset, effects)
    np.testing.assert_allclose(f.coef, ref(dataset, f"coef_{effects}", "estimate"), rtol=RTOL_COEF)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("effects", ["twoways", "individual"])
def test_weighted_within_coefficients_match_weighted_lsdv(fits, dataset, effects):
    # lm(y ~ x1 + x2 + factor(queue) [+ factor(period)], weights = w): weighted demeaning
    f = fits(dataset, effects, weighted=True)
    np.testing.assert_allclose(f.coef, ref(dataset, f"coef_{effects}_w", "estimate"), rtol=RTOL_COEF)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("effects", ["twoways", "individual"])
def test_plm_weighted_within_is_unweighted_demeaning_then_wls(fits, dataset, effects):
    """plm(..., weights = w) demeans without weights, then runs WLS: not the weighted FE estimator.

    Pinned so that nobody "fixes" our weighted demeaning to match plm's weighted coefficients.
    """
    f = fits(dataset, effects, weighted=True)
    d = f.data
    X = demean(d[TERMS].to_numpy(dtype=float), f.seg, f.period, effects=EFFECTS[effects])
    y = demean(d["y"].to_numpy(dtype=float), f.seg, f.period, effects=EFFECTS[effects])
    sw = np.sqrt(f.w)
    plm_like = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    plm_w = ref(dataset, f"coef_{effects}_w_plm", "estimate")
    np.testing.assert_allclose(plm_like, plm_w, rtol=RTOL_COEF)
    assert np.max(np.abs(f.coef - plm_w) / np.abs(plm_w)) > 1e-4


# ----------------------------------------------------------------------------- Driscoll-Kraay

@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_driscoll_kraay_matches_plm_vcovSCC_on_period_positions(fits, dataset, M):
    # plm::vcovSCC(fit, type = "HC0", maxlag = M): our bandwidth is plm's maxlag
    f = fits(dataset, "twoways")
    assert_vcov(f.vcov(driscoll_kraay(f.scores, f.position, M)), dataset, f"dk_twoways_m{M}")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_driscoll_kraay_lags_by_period_number(fits, dataset, M):
    f = fits(dataset, "twoways")
    V = f.vcov(driscoll_kraay(f.scores, f.period, M))
    assert_vcov(V, dataset, f"dk_twoways_m{M}_byperiod")
    if dataset == "gapped":   # the by-period and by-position values really differ here
        se_plm, _ = ref_vcov(dataset, f"dk_twoways_m{M}")
        assert np.max(np.abs(np.sqrt(np.diag(V)) - se_plm) / se_plm) > 1e-3


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
@pytest.mark.parametrize("clock", ["period", "position"])
def test_weighted_driscoll_kraay_matches_r_by_hand(fits, dataset, M, clock):
    f = fits(dataset, "twoways", weighted=True)
    V = f.vcov(driscoll_kraay(f.scores, getattr(f, clock), M))
    assert_vcov(V, dataset, f"dk_twoways_m{M}_w_by{clock}")


# ----------------------------------------------------------------------------- Newey-West

@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_newey_west_panel_matches_plm_vcovNW_on_period_positions(fits, dataset, M):
    f = fits(dataset, "individual")
    V = f.vcov(newey_west_panel(f.scores, f.seg, f.position, M))
    assert_vcov(V, dataset, f"nw_individual_m{M}")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_newey_west_panel_lags_by_period_number(fits, dataset, M):
    f = fits(dataset, "individual")
    V = f.vcov(newey_west_panel(f.scores, f.seg, f.period, M))
    assert_vcov(V, dataset, f"nw_individual_m{M}_byperiod")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_weighted_newey_west_panel_matches_r_by_hand(fits, dataset, M):
    f = fits(dataset, "individual", weighted=True)
    V = f.vcov(newey_west_panel(f.scores, f.seg, f.period, M))
    assert_vcov(V, dataset, f"nw_individual_m{M}_w_byperiod")


def test_newey_west_panel_does_not_pair_across_a_segment_gap_by_row_order(fits):
    """Row order within a segment is not a lag: renumbering the rows 0, 1, 2, ... changes the answer."""
    f = fits("gapped", "individual")
    by_period = newey_west_panel(f.scores, f.seg, f.period, 2)
    order = np.lexsort((f.period, f.seg))
    row_clock = np.empty(f.n, dtype=np.int64)
    row_clock[order] = np.concatenate([np.arange(c) for c in np.bincount(f.seg)])
    by_row = newey_west_panel(f.scores, f.seg, row_clock, 2)
    assert not np.allclose(by_row, by_period, rtol=1e-4)


# ----------------------------------------------------------------------------- clusters

@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("effects", ["twoways", "individual"])
@pytest.mark.parametrize("kind", ["hc0", "sss"])
def test_cluster_robust_matches_plm_vcovHC_arellano(fits, dataset, effects, kind):
    """vcovHC(fit, method = "arellano", type = kind, cluster = "group") and coeftest(df = G - 1).

    plm's "sss" scales the residuals by sqrt(G/(G-1) (N-1)/(N-K)), K the number of slopes
    (the fixed effects are not counted): checked here with K = 2.
    """
    f = fits(dataset, effects)
    V = f.vcov(cluster_meat(f.scores, f.seg))
    if kind == "sss":
        factor = f.G / (f.G - 1) * (f.n - 1) / (f.n - f.k)
        assert cluster_factor(f.G, f.n, f.k) == pytest.approx(factor, rel=1e-15)
        V = V * factor
    key = f"cluster_{effects}_{kind}"
    assert_vcov(V, dataset, key)
    t = f.coef / np.sqrt(np.diag(V))
    np.testing.assert_allclose(t, ref(dataset, key, "t"), rtol=RTOL_SE)
    p = 2 * stats.t.sf(np.abs(t), df=f.G - 1)
    np.testing.assert_allclose(p, ref(dataset, key, "p_value"), rtol=RTOL_SE)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("effects", ["twoways", "individual"])
def test_weighted_cluster_robust_matches_r_by_hand(fits, dataset, effects):
    f = fits(dataset, effects, weighted=True)
    assert_vcov(f.vcov(cluster_meat(f.scores, f.seg)), dataset, f"cluster_{effects}_hc0_w")


# ----------------------------------------------------------------------------- linearmodels

def _panel_ols(f, M, **fit_options):
    # linearmodels is not a declared dependency of the project (it is in the dev venv)
    PanelOLS = pytest.importorskip("linearmodels").PanelOLS

    d = f.data.set_index(["queue", "period"])
    model = PanelOLS(d["y"], d[TERMS], entity_effects=True, time_effects=True, weights=d["w"])
    return model.fit(cov_type="kernel", kernel="bartlett", bandwidth=M, **fit_options)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("M", [2, 4])
def test_weighted_driscoll_kraay_matches_linearmodels(fits, dataset, M):
    """A second, independent reference for the weighted two-way Driscoll-Kraay covariance.

    linearmodels' conventions (PanelOLS ``cov_type="kernel"``, linearmodels 7.1):

    - ``bandwidth`` is the truncation lag: Bartlett weights ``1 - j / (bw + 1)``, j = 0..bw,
      the same as plm's ``maxlag`` and our ``bandwidth``;
    - the lags are positions in the sorted distinct time ids, like plm: a period missing for
      every segment is skipped, so we compare with our estimator on the period positions;
    - the weighted fit multiplies y and the (weighted-)demeaned x by sqrt(w), so its scores are
      ``w * xdot * e`` as ours;
    - small-sample factor: none with ``debiased=False, auto_df=False, count_effects=False``;
      by default (``debiased=True``, effects counted) it scales by n / (n - d - k), with
      d = G + T - 1 effects (no constant) and k = 2 slopes; pinned below.
    """
    f = fits(dataset, "twoways", weighted=True)
    res = _panel_ols(f, M, debiased=False, auto_df=False, count_effects=False)
    np.testing.assert_allclose(res.params.loc[TERMS].to_numpy(), f.coef, rtol=1e-10)
    ours = f.vcov(driscoll_kraay(f.scores, f.position, M))
    lm_cov = res.cov.loc[TERMS, TERMS].to_numpy()
    np.testing.assert_allclose(lm_cov, ours, rtol=RTOL_SE)
    assert_vcov(lm_cov, dataset, f"dk_twoways_m{M}_w_byposition")

    default = _panel_ols(f, M)
    n_periods = len(np.unique(f.period))
    d_effects = f.G + n_periods - 1
    np.testing.assert_allclose(default.cov.loc[TERMS, TERMS].to_numpy(),
                               lm_cov * f.n / (f.n - d_effects - f.k), rtol=1e-10)
