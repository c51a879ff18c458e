"""relative_importance(..., groups=...): group Shapley (LMG) importance against R, invariants, errors.

References: ``tests/results/group_importance_reference.csv``, written by
``tests/results/group_importance.R`` from the panel in ``tests/results/group_importance_data.csv``
with relaimpo's ``calc.relimp(fit, type = "lmg", groups = , groupnames = )``; the script
checks every value against a brute-force Shapley value over the coalitions (R² from plain
``lm`` fits) and, for the fixed-effects cases, against relaimpo on data demeaned in R
(versions and the meaning of every ``case``: ``tests/results/group_importance_SOURCES.txt``).
R is not needed to run these tests.
"""

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment.drivers import relative_importance
from alignment.drivers import shapley as kernels
from alignment.exceptions import OptionError, SmallSampleWarning
from alignment.stats import PanelResampler, spawn_generators

RESULTS = Path(__file__).parent / "results"
DATA = pd.read_csv(RESULTS / "group_importance_data.csv")
REF = pd.read_csv(RESULTS / "group_importance_reference.csv", keep_default_na=False)

KPIS = ["asa", "abandon_rate", "service_level", "aht", "transfer_rate", "fcr"]
GROUPS = {"waiting": ["asa", "abandon_rate", "service_level"], "handling": ["aht", "transfer_rate"]}
# relaimpo's case -> our options (R's always = dummies, divided by 1 - R²(dummies): the within R²)
CASES = {
    "pooled": {},
    "pooled_weighted": dict(weights="w"),
    "within": dict(by="queue"),
    "within_weighted": dict(by="queue", weights="w"),
    "twoway": dict(by="queue", effects="twoway"),
}
TOL = 1e-8


def reference(case):
    rows = REF[REF["case"] == case]
    values = rows[rows["quantity"] == "importance"].set_index("player")["value"].astype(float)
    r2 = float(rows.loc[rows["quantity"] == "r2", "value"].iloc[0])
    return values, r2


def naive_group_shapley(X, y, members):
    """Shapley value over the coalitions of players, each coalition's R² by least squares on the rows."""
    n, q = len(y), len(members)
    tss = ((y - y.mean()) ** 2).sum()

    def r2(coalition):
        cols = [c for k in coalition for c in members[k]]
        A = np.column_stack([np.ones(n), X[:, cols]])
        return 1 - ((y - A @ np.linalg.lstsq(A, y, rcond=None)[0]) ** 2).sum() / tss

    v = {S: r2(S) for k in range(q + 1) for S in itertools.combinations(range(q), k)}
    phi = np.zeros(q)
    for j in range(q):
        for S, vs in v.items():
            if j not in S:
                w = math.factorial(len(S)) * math.factorial(q - len(S) - 1) / math.factorial(q)
                phi[j] += w * (v[tuple(sorted(S + (j,)))] - vs)
    return phi, v


# ─── against R (relaimpo, and brute force in R) ───────────────────────────────


@pytest.mark.parametrize("case", list(CASES))
def test_group_lmg_matches_relaimpo(case):
    expected, r2 = reference(case)
    res = relative_importance(DATA, "csat", KPIS, groups=GROUPS, n_boot=0, **CASES[case])
    assert res.table["kpi"].tolist() == ["waiting", "handling", "fcr"]
    assert res.table["members"].tolist() == [("asa", "abandon_rate", "service_level"),
                                             ("aht", "transfer_rate"), ("fcr",)]
    np.testing.assert_allclose(res.table["importance"], expected[res.table["kpi"]], rtol=0, atol=TOL)
    assert res.r2 == pytest.approx(r2, abs=TOL)


def test_players_come_in_the_order_they_first_appear_in_predictors():
    order = ["fcr", "transfer_rate", "asa", "aht", "service_level", "abandon_rate"]
    expected, _ = reference("within")
    res = relative_importance(DATA, "csat", order, groups=GROUPS, by="queue", n_boot=0)
    assert res.table["kpi"].tolist() == ["fcr", "handling", "waiting"]
    assert res.table.columns[:2].tolist() == ["kpi", "members"]
    np.testing.assert_allclose(res.table["importance"], expected[res.table["kpi"]], rtol=0, atol=TOL)


def test_kernel_equals_naive_refits_for_random_partitions():
    rng = np.random.default_rng(7)
    for trial in range(6):
        p = int(rng.integers(2, 8))
        X = rng.normal(size=(80, p)) @ rng.normal(size=(p, p))
        y = X @ rng.normal(size=p) + 2 * rng.normal(size=80)
        labels = rng.integers(0, int(rng.integers(1, p + 1)), p)
        members = [list(np.flatnonzero(labels == k)) for k in np.unique(labels)]
        R = np.corrcoef(np.column_stack([X, y]), rowvar=False)
        phi, r2 = kernels.group_shapley(R, members)
        naive, v = naive_group_shapley(X, y, members)
        np.testing.assert_allclose(phi, naive, rtol=0, atol=1e-10)
        assert r2 == pytest.approx(v[tuple(range(len(members)))], abs=1e-10)
        table = kernels.group_subset_r2(R, members)
        for S, vs in v.items():
            assert table[sum(1 << k for k in S)] == pytest.approx(vs, abs=1e-10)


# ─── invariants ───────────────────────────────────────────────────────────────


def test_groups_of_one_equal_the_ungrouped_shapley_value():
    expected, _ = reference("pooled_ungrouped")
    singletons = {k: [k] for k in KPIS}
    res = relative_importance(DATA, "csat", KPIS, groups=singletons, n_boot=0)
    plain = relative_importance(DATA, "csat", KPIS, n_boot=0)
    np.testing.assert_allclose(res.table["importance"], plain.table["importance"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.table["importance"], expected[KPIS], rtol=0, atol=TOL)
    assert res.table["members"].tolist() == [(k,) for k in KPIS]
    # renamed groups of one, and the bootstrap per player is the bootstrap per predictor
    kw = dict(by="queue", block=5, n_boot=60, seed=11)
    renamed = relative_importance(DATA, "csat", KPIS, groups={"wait": ["asa"], "handle": ["aht"]}, **kw)
    plain = relative_importance(DATA, "csat", KPIS, **kw)
    assert renamed.table["kpi"].tolist() == ["wait", "abandon_rate", "service_level", "handle",
                                                   "transfer_rate", "fcr"]
    np.testing.assert_allclose(renamed.boot, plain.boot, rtol=0, atol=1e-12)
    for col in ["importance", "ci_low", "ci_high"]:
        np.testing.assert_allclose(renamed.table[col], plain.table[col], rtol=0, atol=1e-12)
    for col in ["rank", "rank_ci_low", "rank_ci_high"]:
        assert renamed.table[col].tolist() == plain.table[col].tolist()


@pytest.mark.parametrize("method", ["shapley", "dominance"])
@pytest.mark.parametrize("case", ["pooled", "within_weighted", "twoway"])
def test_group_importances_sum_to_r2(method, case):
    res = relative_importance(DATA, "csat", KPIS, groups=GROUPS, method=method, n_boot=0, **CASES[case])
    full = relative_importance(DATA, "csat", KPIS, n_boot=0, **CASES[case])
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    assert res.table["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert res.r2 == pytest.approx(full.r2, abs=1e-12)  # grouping shares the same R² out


def test_group_dominance_is_between_players():
    res = relative_importance(DATA, "csat", KPIS, groups=GROUPS, method="dominance", by="queue", n_boot=0)
    shap = relative_importance(DATA, "csat", KPIS, groups=GROUPS, by="queue", n_boot=0)
    np.testing.assert_allclose(res.table["importance"], shap.table["importance"], rtol=0, atol=1e-12)
    cond = res.dominance["conditional"]
    assert set(cond["kpi"]) == {"waiting", "handling", "fcr"} and cond["subset_size"].max() == 2
    # mean conditional increments average to the Shapley value (equal weight per subset size)
    means = cond.groupby("kpi", sort=False)["importance"].mean()
    np.testing.assert_allclose(means[shap.table["kpi"]], shap.table["importance"], rtol=0, atol=1e-12)
    pairs = res.dominance["pairwise"]
    assert len(pairs) == 6 and set(pairs["other"]) == {"waiting", "handling", "fcr"}


def test_many_predictors_in_few_groups_pass_the_24_limit():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(80, 31)), columns=[f"k{j}" for j in range(30)] + ["y"])
    cols = [f"k{j}" for j in range(30)]
    groups = {f"g{g}": cols[10 * g:10 * g + 10] for g in range(3)}
    res = relative_importance(frame, "y", cols, groups=groups, n_boot=0)
    assert len(res.table) == 3 and res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    with pytest.raises(OptionError, match="at most 24 of them; got 29"):
        relative_importance(frame, "y", cols, groups={"pair": ["k0", "k1"]}, n_boot=0)


# ─── the bootstrap ────────────────────────────────────────────────────────────


def test_bootstrap_intervals_exist_and_are_seed_reproducible():
    kw = dict(groups=GROUPS, by="queue", block=5, n_boot=200)
    a = relative_importance(DATA, "csat", KPIS, seed=4, **kw)
    b = relative_importance(DATA, "csat", KPIS, seed=4, **kw)
    c = relative_importance(DATA, "csat", KPIS, seed=5, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    np.testing.assert_array_equal(a.boot, b.boot)
    assert not np.allclose(a.boot, c.boot)
    t = a.table
    assert a.boot.shape == (200, 3) and not np.isnan(a.boot).any()
    assert (t["ci_low"] < t["importance"]).all() and (t["importance"] < t["ci_high"]).all()
    assert t["rank_ci_low"].notna().all() and t["rank_ci_high"].notna().all()
    assert ((1 <= t["rank_ci_low"]) & (t["rank_ci_low"] <= t["rank"]) & (t["rank"] <= t["rank_ci_high"])
            & (t["rank_ci_high"] <= 3)).all()
    assert (a.boot.sum(axis=1) > 0).all()


def test_resampled_group_importances_equal_refits_on_the_expanded_rows():
    """Each resample's group values = the estimator run on the resampled rows themselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        res = relative_importance(DATA, "csat", KPIS, groups=GROUPS, by="queue", block=5, cluster="queue",
                                  n_boot=4, seed=9)
    plan = PanelResampler.from_frame(DATA, time="period", block=5, cluster="queue")
    for b, rng in enumerate(spawn_generators(9, 4)[0]):
        expanded = DATA.loc[np.repeat(np.arange(len(DATA)), plan.counts(rng))]
        again = relative_importance(expanded, "csat", KPIS, groups=GROUPS, by="queue", n_boot=0)
        np.testing.assert_allclose(res.boot[b], again.table["importance"], rtol=0, atol=1e-10)


# ─── the result and bad input ─────────────────────────────────────────────────


def test_result_keeps_the_groups_summarizes_and_serializes():
    res = relative_importance(DATA, "csat", KPIS, groups=GROUPS, by="queue", block=5, n_boot=30, seed=1)
    assert res.groups == {"waiting": ("asa", "abandon_rate", "service_level"), "handling": ("aht", "transfer_rate")}
    text = res.summary()
    assert "3 players (2 groups, 1 ungrouped)" in text
    assert "group waiting = asa + abandon_rate + service_level" in text
    d = res.to_dict()
    json.dumps(d)
    assert d["groups"]["handling"] == ["aht", "transfer_rate"]
    assert [row["members"] for row in d["table"]] == [["asa", "abandon_rate", "service_level"],
                                                      ["aht", "transfer_rate"], ["fcr"]]
    ungrouped = relative_importance(DATA, "csat", KPIS, n_boot=0)
    assert "members" not in ungrouped.table.columns and ungrouped.groups is None


@pytest.mark.parametrize("groups, method, match", [
    ({"waiting": ["asa", "nope"]}, "shapley", "group 'waiting' has 'nope'"),
    ({"waiting": ["asa", "csat"]}, "shapley", "group 'waiting' has 'csat'"),
    ({"a": ["asa", "aht"], "b": ["aht"]}, "shapley", "'aht' of group 'b' is also in group 'a'"),
    ({"a": ["asa", "asa"]}, "shapley", "'asa' of group 'a' is twice"),
    ({"waiting": []}, "shapley", "group 'waiting' has no members"),
    ({"fcr": ["asa", "aht"]}, "shapley", "group 'fcr' is named like the predictor 'fcr'"),
    ({"asa": ["aht"], "w": ["asa"]}, "shapley", "group 'asa' is named like the predictor 'asa'"),
    (GROUPS, "johnson", "None with method='johnson'"),
    ({}, "shapley", "non-empty dict"),
    ([["asa", "aht"]], "shapley", "non-empty dict"),
    ({"waiting": [1, 2]}, "shapley", "list of predictor names for group 'waiting'"),
    ({3: ["asa"]}, "shapley", "keys .* non-empty strings"),
])
def test_bad_groups_raise_one_line_option_errors(groups, method, match):
    with pytest.raises(OptionError, match=match) as info:
        relative_importance(DATA, "csat", KPIS, groups=groups, method=method, n_boot=0)
    message = str(info.value)
    assert "\n" not in message and message.startswith("The 'groups' parameter of relative_importance")


def test_groups_do_not_mutate_their_input():
    groups = {"waiting": ["asa", "abandon_rate", "service_level"], "handling": ("aht", "transfer_rate")}
    before = {k: list(v) for k, v in groups.items()}
    frame = DATA.copy()
    relative_importance(frame, "csat", KPIS, groups=groups, n_boot=0)
    assert {k: list(v) for k, v in groups.items()} == before
    pd.testing.assert_frame_equal(frame, DATA)
