"""relative_importance: naive all-subsets reference, invariants, published values, bootstrap plans.

Reference values (tests/results/relaimpo_*): relaimpo's LMG on R's swiss data
(Grömping's vignette / JSS 2006 example), dominanceanalysis's README on R's attitude
data, rwa's vignette on R's mtcars; sources and printed output in
tests/results/relaimpo_SOURCES.txt.
"""

import importlib.util
import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment.drivers import ImportanceResult, relative_importance
from alignment.drivers import shapley as kernels
from alignment.drivers.importance import IIDBootstrapWarning
from alignment.exceptions import AlignmentDeprecationWarning, InputError, OptionError, SmallSampleWarning
from alignment.stats import PanelResampler, circular_block_periods, spawn_generators
RESULTS = Path(__file__).parent / "results"
_spec = importlib.util.spec_from_file_location("relaimpo_reference", RESULTS / "relaimpo_reference.py")
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


# ─── naive references, written out from the definitions ─────────────────────


def naive_subset_r2(X, y):
    """R² of every subset by least squares on the rows (intercept included)."""
    n, p = X.shape
    tss = ((y - y.mean()) ** 2).sum()
    out = {}
    for k in range(p + 1):
        for S in itertools.combinations(range(p), k):
            A = np.column_stack([np.ones(n), X[:, list(S)]])
            beta = np.linalg.lstsq(A, y, rcond=None)[0]
            out[frozenset(S)] = 1 - ((y - A @ beta) ** 2).sum() / tss
    return out


def naive_shapley(v, p):
    """phi_j = sum over S not containing j of |S|! (p-|S|-1)! / p! * (v(S + j) - v(S))."""
    phi = np.zeros(p)
    for j in range(p):
        for S, vs in v.items():
            if j not in S:
                weight = math.factorial(len(S)) * math.factorial(p - len(S) - 1) / math.factorial(p)
                phi[j] += weight * (v[S | {j}] - vs)
    return phi


def naive_dominance(v, p):
    cond = np.zeros((p, p))
    for j in range(p):
        for k in range(p):
            incs = [v[S | {j}] - v[S] for S in v if j not in S and len(S) == k]
            cond[j, k] = np.mean(incs)
    complete = np.zeros((p, p), dtype=bool)
    for i, j in itertools.permutations(range(p), 2):
        others = [S for S in v if i not in S and j not in S]
        complete[i, j] = all(v[S | {i}] > v[S | {j}] for S in others)
    return cond, complete


def demean_within(frame, cols, by):
    return frame[cols] - frame.groupby(by)[cols].transform("mean")


def random_panel(p, *, n_periods=12, n_segments=5, seed=0):
    """Correlated predictors, segment effects in outcome and predictors, one row per period x segment."""
    rng = np.random.default_rng(seed)
    n = n_periods * n_segments
    mix = rng.normal(size=(p, p))
    X = rng.normal(size=(n, p)) @ mix + 0.5 * rng.normal(size=(n, p))
    seg = np.tile(np.arange(n_segments), n_periods)
    X += 3.0 * rng.normal(size=(n_segments, p))[seg]
    y = X @ rng.normal(size=p) + 2.0 * rng.normal(size=n) + 5.0 * rng.normal(size=n_segments)[seg]
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    frame["y"] = y
    frame["period"] = np.repeat(np.arange(n_periods), n_segments)
    frame["queue"] = [f"q{s}" for s in seg]
    return frame


# ─── (1) agreement with the naive reference ──────────────────────────────────


@pytest.mark.parametrize("p", range(1, 9))
def test_shapley_equals_naive_all_subsets_refit(p):
    frame = random_panel(p, seed=p)
    cols = [f"x{j}" for j in range(p)]
    v = naive_subset_r2(frame[cols].to_numpy(), frame["y"].to_numpy())
    res = relative_importance(frame, "y", cols, n_boot=0)
    np.testing.assert_allclose(res.table["importance"], naive_shapley(v, p), rtol=0, atol=1e-10)
    assert res.r2 == pytest.approx(v[frozenset(range(p))], abs=1e-10)


@pytest.mark.parametrize("p", range(1, 9))
def test_within_shapley_equals_naive_on_demeaned_rows(p):
    frame = random_panel(p, seed=100 + p)
    cols = [f"x{j}" for j in range(p)]
    d = demean_within(frame, [*cols, "y"], "queue")
    v = naive_subset_r2(d[cols].to_numpy(), d["y"].to_numpy())
    res = relative_importance(frame, "y", cols, by="queue", n_boot=0)
    np.testing.assert_allclose(res.table["importance"], naive_shapley(v, p), rtol=0, atol=1e-10)
    assert res.r2 == pytest.approx(v[frozenset(range(p))], abs=1e-10)
    # the within transformation matters here: segments carry large level differences
    pooled = relative_importance(frame, "y", cols, n_boot=0)
    assert abs(pooled.r2 - res.r2) > 1e-3


@pytest.mark.parametrize("p", [3, 6])
def test_subset_table_and_dominance_equal_naive(p):
    frame = random_panel(p, seed=200 + p)
    cols = [f"x{j}" for j in range(p)]
    v = naive_subset_r2(frame[cols].to_numpy(), frame["y"].to_numpy())
    table = kernels.subset_r2(np.corrcoef(frame[[*cols, "y"]].to_numpy(), rowvar=False))
    for S, value in v.items():
        assert table[sum(1 << j for j in S)] == pytest.approx(value, abs=1e-10)
    res = relative_importance(frame, "y", cols, method="dominance", n_boot=0)
    cond, complete = naive_dominance(v, p)
    got = res.dominance["conditional"].pivot(index="kpi", columns="subset_size",
                                             values="importance").loc[cols].to_numpy()
    np.testing.assert_allclose(got, cond, rtol=0, atol=1e-10)
    pw = res.dominance["pairwise"].set_index(["kpi", "other"])
    for i, j in itertools.permutations(range(p), 2):
        assert pw.loc[(cols[i], cols[j]), "complete"] == complete[i, j]
    # general dominance = mean of conditional dominance = Shapley value
    np.testing.assert_allclose(res.table["importance"], cond.mean(axis=1), rtol=0, atol=1e-12)


def test_larger_p_agrees_with_naive_subset_sums():
    """p = 12 (4096 subsets) through the kernel's table: Shapley from the table by the textbook formula."""
    p = 12
    frame = random_panel(p, n_periods=30, seed=7)
    cols = [f"x{j}" for j in range(p)]
    R = np.corrcoef(frame[[*cols, "y"]].to_numpy(), rowvar=False)
    table = kernels.subset_r2(R)
    phi = np.zeros(p)
    masks = np.arange(1 << p)
    sizes = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
                       if k < p else 0.0 for k in range(p + 1)])
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        phi[j] = (weight[sizes[without]] * (table[without | (1 << j)] - table[without])).sum()
    got, r2 = kernels.shapley(R)
    np.testing.assert_allclose(got, phi, rtol=0, atol=1e-12)
    A = np.column_stack([np.ones(len(frame)), frame[cols].to_numpy()])
    y = frame["y"].to_numpy()
    resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    assert r2 == pytest.approx(1 - resid @ resid / ((y - y.mean()) ** 2).sum(), abs=1e-10)


# ─── (2) invariants ──────────────────────────────────────────────────────────


@pytest.mark.parametrize("method", ["shapley", "dominance", "johnson"])
def test_importances_sum_to_r2_and_shares_to_one(method):
    frame = random_panel(6, seed=11)
    cols = [f"x{j}" for j in range(6)]
    res = relative_importance(frame, "y", cols, method=method, by="queue", n_boot=0)
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    assert res.table["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (res.table["importance"] >= -1e-12).all()
    assert sorted(res.table["rank"]) == list(range(1, 7))
    assert res.table.loc[res.table["rank"] == 1, "importance"].item() == res.table["importance"].max()


@pytest.mark.parametrize("method", ["shapley", "johnson"])
def test_symmetric_predictors_get_equal_shares(method):
    rng = np.random.default_rng(3)
    base = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "c": rng.normal(size=200)})
    base["y"] = base["a"] + base["b"] + 0.5 * base["c"] + rng.normal(size=200)
    # every row also appears with a and b swapped: a and b are exchangeable in the sample
    frame = pd.concat([base, base.rename(columns={"a": "b", "b": "a"})], ignore_index=True)
    t = relative_importance(frame, "y", ["a", "b", "c"], method=method, n_boot=0).table
    assert t["share"][0] == pytest.approx(t["share"][1], abs=1e-12)
    assert t["share"][0] > t["share"][2]


def test_pure_noise_predictor_gets_about_nothing():
    rng = np.random.default_rng(4)
    n = 5000
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + 0.8 * rng.normal(size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=n)})
    frame["y"] = 1.0 * x1 + 0.5 * x2 + rng.normal(size=n)
    t = relative_importance(frame, "y", ["x1", "x2", "noise"], n_boot=0).table.set_index("kpi")
    assert t.loc["noise", "importance"] < 2e-3
    assert t.loc["noise", "rank"] == 3


def test_input_is_not_mutated_and_missing_rows_are_counted():
    frame = random_panel(3, seed=5)
    frame.loc[[2, 7], "x1"] = np.nan
    frame.loc[9, "y"] = np.nan
    before = frame.copy(deep=True)
    res = relative_importance(frame, "y", ["x0", "x1", "x2"], n_boot=0)
    pd.testing.assert_frame_equal(frame, before)
    assert (res.n, res.n_dropped) == (len(frame) - 3, 3)
    clean = relative_importance(frame.dropna(), "y", ["x0", "x1", "x2"], n_boot=0)
    pd.testing.assert_frame_equal(res.table, clean.table)


# ─── (3) published values ────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def swiss():
    frame = pd.read_csv(RESULTS / "relaimpo_swiss.csv")
    # the data are the ones relaimpo analysed: "Total response variance: 156.0425"
    assert frame["Fertility"].var() == pytest.approx(ref.SWISS_VARIANCE, abs=5e-5)
    return frame


def test_swiss_lmg_matches_relaimpo(swiss):
    res = relative_importance(swiss, ref.SWISS_OUTCOME, ref.SWISS_PREDICTORS, n_boot=0)
    t = res.table.set_index("kpi")
    assert 100 * res.r2 == pytest.approx(ref.SWISS_R2_PERCENT, abs=5e-3)
    for name in ref.SWISS_PREDICTORS:
        assert t.loc[name, "importance"] == pytest.approx(ref.SWISS_LMG[name], abs=5e-9)
        assert t.loc[name, "share"] == pytest.approx(ref.SWISS_LMG_SHARE[name], abs=5e-9)
    assert list(t["rank"]) == [5, 2, 1, 4, 3]


def test_swiss_all_subset_r2_match_hier_part(swiss):
    R = np.corrcoef(swiss[[*ref.SWISS_PREDICTORS, ref.SWISS_OUTCOME]].to_numpy(), rowvar=False)
    table = kernels.subset_r2(R)
    ordered = [0.0] + [table[sum(1 << j for j in S)] for k in range(1, 6)
                       for S in itertools.combinations(range(5), k)]
    np.testing.assert_allclose(ordered, ref.SWISS_GFS, rtol=0, atol=5e-8)
    firsts = [table[1 << j] for j in range(5)]
    np.testing.assert_allclose(firsts, [ref.SWISS_FIRST[c] for c in ref.SWISS_PREDICTORS], atol=5e-8)


def test_attitude_dominance_matches_dominanceanalysis():
    frame = pd.read_csv(RESULTS / "relaimpo_attitude.csv")
    res = relative_importance(frame, ref.ATTITUDE_OUTCOME, ref.ATTITUDE_PREDICTORS,
                              method="dominance", n_boot=0)
    assert res.r2 == pytest.approx(ref.ATTITUDE_R2, abs=5e-4)
    t = res.table.set_index("kpi")
    for name, value in ref.ATTITUDE_GENERAL.items():
        assert t.loc[name, "importance"] == pytest.approx(value, abs=5e-4)
    cond = res.dominance["conditional"].pivot(index="kpi", columns="subset_size",
                                              values="importance")
    for name, values in ref.ATTITUDE_CONDITIONAL.items():
        np.testing.assert_allclose(cond.loc[name].to_numpy(), values, rtol=0, atol=5e-4 + 1e-12)
    pw = res.dominance["pairwise"]
    for column, expected in [("complete", ref.ATTITUDE_COMPLETE),
                             ("conditional", ref.ATTITUDE_CONDITIONAL_DOMINANCE),
                             ("general", ref.ATTITUDE_GENERAL_DOMINANCE)]:
        got = {name: sorted(pw.loc[(pw["kpi"] == name) & pw[column], "other"])
               for name in ref.ATTITUDE_PREDICTORS}
        assert got == {k: sorted(v) for k, v in expected.items()}, column


@pytest.mark.parametrize("weights", [ref.MTCARS_RWA_4, ref.MTCARS_RWA_5])
def test_mtcars_johnson_matches_rwa(weights):
    frame = pd.read_csv(RESULTS / "relaimpo_mtcars.csv")
    res = relative_importance(frame, ref.MTCARS_OUTCOME, list(weights), method="johnson", n_boot=0)
    t = res.table.set_index("kpi")
    digits = {k: 0.5 * 10.0 ** -len(f"{v:.10g}".split(".")[1]) for k, v in weights.items()}
    for name, value in weights.items():
        assert t.loc[name, "importance"] == pytest.approx(value, abs=digits[name])
    if len(weights) == 4:
        assert res.r2 == pytest.approx(ref.MTCARS_RWA_4_R2, abs=5e-8)
        for name, value in ref.MTCARS_RWA_4_RESCALED.items():
            assert 100 * t.loc[name, "share"] == pytest.approx(value, abs=5e-6)


def johnson_by_svd(X, y):
    """Johnson (2000) from the data: Z = U V' is the orthonormal matrix closest to X (standardized)."""
    Xs = (X - X.mean(0)) / np.sqrt(((X - X.mean(0)) ** 2).sum(0))
    ys = (y - y.mean()) / np.sqrt(((y - y.mean()) ** 2).sum())
    U, s, Vt = np.linalg.svd(Xs, full_matrices=False)
    Z = U @ Vt
    beta = Z.T @ ys                      # Z has orthonormal columns
    lam = Vt.T @ np.diag(s) @ Vt         # X = Z lam
    return (lam ** 2) @ (beta ** 2)


@pytest.mark.parametrize("p", [2, 5, 9])
def test_johnson_equals_an_independent_svd_implementation(p):
    frame = random_panel(p, seed=300 + p)
    cols = [f"x{j}" for j in range(p)]
    res = relative_importance(frame, "y", cols, method="johnson", n_boot=0)
    expected = johnson_by_svd(frame[cols].to_numpy(), frame["y"].to_numpy())
    np.testing.assert_allclose(res.table["importance"], expected, rtol=0, atol=1e-12)


# ─── (4) bootstrap ───────────────────────────────────────────────────────────


def test_same_seed_same_table_and_other_seed_differs():
    frame = random_panel(4, n_periods=20, seed=8)
    cols = [f"x{j}" for j in range(4)]
    kw = dict(by="queue", block=3, cluster="queue", n_boot=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)  # 5 clusters
        a = relative_importance(frame, "y", cols, seed=42, **kw)
        b = relative_importance(frame, "y", cols, seed=42, **kw)
        c = relative_importance(frame, "y", cols, seed=43, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    np.testing.assert_array_equal(a.boot, b.boot)
    assert not np.array_equal(a.boot, c.boot)
    assert a.seed == 42 and a.boot.shape == (150, 4)


def test_seed_none_records_entropy_that_reproduces_the_run():
    frame = random_panel(3, seed=9)
    cols = ["x0", "x1", "x2"]
    a = relative_importance(frame, "y", cols, n_boot=50, block=2, time="period")
    b = relative_importance(frame, "y", cols, n_boot=50, block=2, time="period", seed=a.seed)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_no_bootstrap_gives_missing_intervals():
    frame = random_panel(3, seed=10)
    res = relative_importance(frame, "y", ["x0", "x1", "x2"], n_boot=0)
    assert res.boot is None
    assert res.table[["ci_low", "ci_high", "rank_ci_low", "rank_ci_high"]].isna().all().all()
    assert list(res.table.columns) == ["kpi", "importance", "share", "ci_low", "ci_high",
                                       "rank", "rank_ci_low", "rank_ci_high"]


def test_intervals_bracket_the_estimate_and_ranks_are_whole():
    frame = random_panel(4, n_periods=40, seed=12)
    res = relative_importance(frame, "y", [f"x{j}" for j in range(4)], by="queue",
                              block=4, n_boot=300, seed=1)
    t = res.table
    assert (t["ci_low"] <= t["ci_high"]).all()
    assert ((t["rank_ci_low"] >= 1) & (t["rank_ci_high"] <= 4)).all()
    assert (t["rank_ci_low"] <= t["rank"]).all() and (t["rank"] <= t["rank_ci_high"]).all()
    assert str(t["rank_ci_low"].dtype) == "Int64"


def test_cluster_resampling_keeps_segments_whole():
    frame = random_panel(2, n_periods=6, n_segments=7, seed=13)
    plan = PanelResampler.from_frame(frame, cluster="queue")
    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = plan.counts(rng)
        per_segment = pd.Series(counts).groupby(frame["queue"].to_numpy()).agg(["min", "max"])
        assert (per_segment["min"] == per_segment["max"]).all()   # a segment comes whole or not at all
        assert counts.sum() == len(frame)                          # 7 segment draws of 6 rows each


def test_block_resampling_keeps_consecutive_periods_and_whole_cross_sections():
    T, L = 23, 4
    rng = np.random.default_rng(1)
    for _ in range(50):
        pos = circular_block_periods(T, L, rng)
        assert len(pos) == T
        for start in range(0, T, L):
            run = pos[start:start + L]
            assert np.all((np.diff(run) % T) == 1)   # consecutive periods, wrapping circularly
    frame = random_panel(2, n_periods=T, n_segments=3, seed=14)
    frame["period"] = pd.Timestamp("2025-01-06") + pd.to_timedelta(7 * frame["period"], unit="D")
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    plan = PanelResampler.from_frame(shuffled, time="period", block=L)
    counts = plan.counts(np.random.default_rng(2))
    by_period = pd.Series(counts).groupby(shuffled["period"].to_numpy()).agg(["min", "max"])
    assert (by_period["min"] == by_period["max"]).all()            # all segments of a period together
    assert counts.sum() == len(frame)


def test_cluster_and_block_multiply():
    frame = random_panel(2, n_periods=8, n_segments=4, seed=15)
    plan = PanelResampler.from_frame(frame, time="period", block=2, cluster="queue")
    assert plan.scheme == "cluster+block"
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    counts = plan.counts(rng_a)
    seg = np.bincount(rng_b.integers(0, 4, 4), minlength=4)
    per = np.bincount(circular_block_periods(8, 2, rng_b), minlength=8)
    seg_code = frame.groupby("queue").ngroup().to_numpy()
    np.testing.assert_array_equal(counts, seg[seg_code] * per[frame["period"].to_numpy()])


def test_resample_estimates_equal_refits_on_the_expanded_rows():
    """Weighted moments with redone within-demeaning = the estimator on the resampled rows."""
    frame = random_panel(3, n_periods=10, n_segments=4, seed=16)
    cols = ["x0", "x1", "x2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        res = relative_importance(frame, "y", cols, by="queue", block=3, cluster="queue",
                                  n_boot=5, seed=3)
    plan = PanelResampler.from_frame(frame, time="period", block=3, cluster="queue")
    rngs, _ = spawn_generators(3, 5)
    for b, rng in enumerate(rngs):
        counts = plan.counts(rng)
        expanded = frame.loc[np.repeat(np.arange(len(frame)), counts)]
        again = relative_importance(expanded, "y", cols, by="queue", n_boot=0)
        np.testing.assert_allclose(res.boot[b], again.table["importance"], rtol=0, atol=1e-10)


def test_iid_bootstrap_on_a_time_series_warns_and_blocks_do_not():
    frame = random_panel(2, seed=17)
    with pytest.warns(IIDBootstrapWarning, match="block="):
        relative_importance(frame, "y", ["x0", "x1"], n_boot=20, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IIDBootstrapWarning)
        relative_importance(frame, "y", ["x0", "x1"], n_boot=20, seed=1, block=3)
        relative_importance(frame.drop(columns="period"), "y", ["x0", "x1"], n_boot=20, seed=1)


def test_percentile_intervals_cover_the_population_shapley_value():
    """Planted model: 50 samples of 300 i.i.d. rows; the 95 % interval should cover the truth most times."""
    beta = np.array([0.5, 0.3, 0.2])
    sigma = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]])
    cov = np.zeros((4, 4))
    cov[:3, :3] = sigma
    cov[:3, 3] = cov[3, :3] = sigma @ beta
    cov[3, 3] = beta @ sigma @ beta + 0.5
    d = np.sqrt(np.diag(cov))
    truth, _ = kernels.shapley(cov / np.outer(d, d))
    rng = np.random.default_rng(2024)
    chol = np.linalg.cholesky(sigma)
    hits = np.zeros(3)
    for rep in range(50):
        X = rng.normal(size=(300, 3)) @ chol.T
        frame = pd.DataFrame(X, columns=["a", "b", "c"])
        frame["y"] = X @ beta + np.sqrt(0.5) * rng.normal(size=300)
        t = relative_importance(frame, "y", ["a", "b", "c"], n_boot=200, seed=rep).table
        hits += (t["ci_low"] <= truth) & (truth <= t["ci_high"])
    coverage = hits / 50
    assert (coverage >= 0.8).all(), coverage
    assert coverage.mean() >= 0.85, coverage


def test_block_intervals_are_wider_than_iid_on_autocorrelated_panels():
    rng = np.random.default_rng(21)
    T, G = 120, 3
    def ar1(shape, phi=0.9):
        e = rng.normal(size=shape)
        out = np.empty(shape)
        out[0] = e[0]
        for t in range(1, shape[0]):
            out[t] = phi * out[t - 1] + e[t]
        return out
    x = ar1((T, G, 2))
    y = x[..., 0] + 0.5 * x[..., 1] + 2 * ar1((T, G))
    frame = pd.DataFrame({"period": np.repeat(np.arange(T), G), "queue": np.tile(np.arange(G), T),
                          "x0": x[..., 0].ravel(), "x1": x[..., 1].ravel(), "y": y.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IIDBootstrapWarning)
        iid = relative_importance(frame, "y", ["x0", "x1"], by="queue", n_boot=400, seed=1).table
    blk = relative_importance(frame, "y", ["x0", "x1"], by="queue", block=12, n_boot=400, seed=1).table
    assert ((blk["ci_high"] - blk["ci_low"]) > (iid["ci_high"] - iid["ci_low"])).all()


# ─── errors and the result object ────────────────────────────────────────────


@pytest.fixture(scope="module")
def small():
    return random_panel(3, seed=18)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kpis=["x0", "nope"]), InputError, "column 'nope': is not in the data"),
    (dict(outcome="nope"), InputError, "column 'nope'"),
    (dict(by="segment"), InputError, "column 'segment'"),
    (dict(method="lmg"), OptionError, "The 'method' parameter of relative_importance must be one of "
                                      "'shapley', 'johnson', 'dominance'. Got 'lmg' instead."),
    (dict(n_boot=-1), OptionError, "'n_boot' parameter .* non-negative integer"),
    (dict(ci=1.0), OptionError, "'ci' parameter"),
    (dict(ci=0), OptionError, "'ci' parameter"),
    (dict(block=0), OptionError, "'block' parameter"),
    (dict(block=999), OptionError, "number of periods"),
    (dict(kpis=["x0", "x0"]), OptionError, "distinct"),
    (dict(kpis=["x0", "y"]), OptionError, "other than the outcome"),
    (dict(seed=-3, n_boot=5), OptionError, "'seed' parameter"),
])
def test_bad_options_and_columns_raise_one_line_errors(small, kwargs, error, match):
    args = dict(outcome="y", kpis=["x0", "x1"], n_boot=0)
    args.update(kwargs)
    outcome, kpis = args.pop("outcome"), args.pop("kpis")
    with pytest.raises(error, match=match) as info:
        relative_importance(small, outcome, kpis, **args)
    assert "\n" not in str(info.value)


def test_too_many_predictors_is_refused_for_exact_methods():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 26)),
                         columns=[f"k{j}" for j in range(25)] + ["y"])
    with pytest.raises(OptionError, match="at most 24 KPIs; got 25"):
        relative_importance(frame, "y", [f"k{j}" for j in range(25)], n_boot=0)
    res = relative_importance(frame, "y", [f"k{j}" for j in range(25)], method="johnson", n_boot=0)
    assert len(res.table) == 25


def test_data_problems_raise_input_errors(small):
    with pytest.raises(InputError, match="4 complete rows for 3 predictors; at least 5"):
        relative_importance(small.head(4), "y", ["x0", "x1", "x2"], n_boot=0)
    const = small.assign(flat=7.0)
    with pytest.raises(InputError, match="column 'flat': is constant"):
        relative_importance(const, "y", ["x0", "flat"], n_boot=0)
    # varies between queues but not within them
    per_queue = small.assign(level=small["queue"].str[1:].astype(float))
    with pytest.raises(InputError, match="column 'level': is constant within every segment of queue"):
        relative_importance(per_queue, "y", ["x0", "level"], by="queue", n_boot=0)
    collinear = small.assign(sum01=small["x0"] + 2 * small["x1"])
    with pytest.raises(InputError, match="perfectly collinear predictors: 'x0', 'x1', 'sum01'"):
        relative_importance(collinear, "y", ["x0", "x1", "x2", "sum01"], n_boot=0)
    with pytest.raises(InputError, match="column 'queue': must be numeric"):
        relative_importance(small, "y", ["x0", "queue"], n_boot=0)
    with pytest.raises(InputError, match="pandas DataFrame"):
        relative_importance(small.to_numpy(), "y", ["x0"], n_boot=0)


def test_result_is_frozen_summarizes_and_serializes(small):
    res = relative_importance(small, "y", ["x0", "x1", "x2"], method="dominance", by="queue",
                              block=2, n_boot=50, seed=5)
    assert isinstance(res, ImportanceResult)
    with pytest.raises(Exception):
        res.r2 = 0.0
    text = res.summary()
    assert text.startswith("Relative importance for 'y': general dominance")
    assert "circular blocks of 2 consecutive periods" in text and "complete dominance:" in text
    d = res.to_dict()
    json.dumps(d)
    assert d["by"] == ["queue"] and d["seed"] == 5 and len(d["table"]) == 3
    assert set(d["dominance"]) == {"conditional", "pairwise"}


def test_old_keywords_within_and_predictors_still_work_with_a_deprecation_warning(small):
    new = relative_importance(small, "y", ["x0", "x1"], by="queue", n_boot=0)
    with pytest.warns(AlignmentDeprecationWarning, match="'within' parameter of relative_importance is now "
                                                         "called 'by'"):
        old = relative_importance(small, "y", ["x0", "x1"], within="queue", n_boot=0)
    pd.testing.assert_frame_equal(old.table, new.table)
    with pytest.warns(AlignmentDeprecationWarning, match="'predictors'"):
        old = relative_importance(small, "y", predictors=["x0", "x1"], by="queue", n_boot=0)
    pd.testing.assert_frame_equal(old.table, new.table)
    assert issubclass(AlignmentDeprecationWarning, DeprecationWarning)
    with pytest.raises(OptionError, match="both 'within' and 'by'"):
        relative_importance(small, "y", ["x0", "x1"], within="queue", by="queue", n_boot=0)


def test_a_panel_is_accepted_with_its_segments_as_by():
    """relative_importance takes a Panel as correlate and regress do: its table, its segments."""
    from alignment import build_panel
    panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv", grain="week", by=["queue"],
                        timezone="America/New_York", metrics=["csat", "asa", "fcr", "aht"])
    kpis = ["asa", "fcr", "aht"]
    from_panel = relative_importance(panel, "csat", kpis, n_boot=0)
    from_table = relative_importance(panel.table, "csat", kpis, by="queue", n_boot=0)
    pooled = relative_importance(panel.table, "csat", kpis, n_boot=0)
    pd.testing.assert_frame_equal(from_panel.table, from_table.table)
    assert from_panel.r2 == from_table.r2 != pooled.r2          # within the queues, not pooled
    assert relative_importance(panel, "csat", kpis, by=(), n_boot=0).r2 == pooled.r2
