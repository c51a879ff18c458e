"""The contact-level driver model (issue 13): each survey set beside its own contact.

* reference: the within-cell fit and its clustered errors equal a statsmodels OLS with explicit
  cell and hour dummies (``cov_type="cluster"``), once the two small-sample corrections are put
  side by side; the p-value is a t with G - 1 degrees of freedom;
* planted truth: a simulated year whose waiting driver acts on each customer's own wait
  (``simulate(..., wait_effect="contact")``) is found, with its 60 s threshold; the contact
  reason makes handle time look like a driver until it is declared as a control;
* ordinal scores: the stacked fixed-effects ordered logit's average marginal effect equals that of
  statsmodels' ``OrderedModel`` with explicit dummies, and covers the planted one;
* engines: DuckDB and Spark give the same survey-level frame;
* bad input names what is wrong.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alignment import InputError, OptionError, build_panel
from alignment.contact import fit_contact_model
from alignment.simulate import simulate

NY = "America/New_York"


# ----------------------------------------------------------------- reference: dummy OLS

def _small_frame(seed=5, n=3000, G=40):
    """3,000 surveys in 40 queue-week cells; waits and CX share a cell-level shock."""
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, G, n)
    hour = rng.integers(8, 18, n)
    shock = rng.normal(0, 0.5, G)
    wait = rng.exponential(60, n) * np.exp(shock[cell])
    resolved = (rng.random(n) < 0.7).astype(float)
    transferred = (rng.random(n) < 0.1).astype(float)       # no effect: a moderate p-value
    eta = 0.5 - 0.5 * shock[cell] + 1.5 * resolved - 0.01 * wait + 0.05 * (hour - 12)
    csat = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), 5, 2)
    return pd.DataFrame({"period": cell // 4, "queue": np.array(list("abcd"))[cell % 4], "hour": hour,
                         "wait_s": wait, "resolved": resolved, "transferred": transferred,
                         "csat": csat}), cell


def test_matches_statsmodels_ols_with_dummies():
    import statsmodels.api as sm
    frame, cell = _small_frame()
    res = fit_contact_model(frame, "csat", threshold=False, logit=False)
    table = res.table.set_index("variable")

    y = np.where(frame["csat"] >= 4, 100.0, 0.0)
    cells = pd.get_dummies(pd.Series(cell).map("c{}".format), dtype=float)
    hours = pd.get_dummies(frame["hour"].map("h{}".format), drop_first=True, dtype=float)
    X = pd.concat([frame[["wait_s", "resolved", "transferred"]], cells, hours], axis=1)
    ols = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cell})
    n, G, K = len(frame), 40, X.shape[1]
    assert np.linalg.matrix_rank(X.to_numpy()) == K == 3 + 40 + 9
    # Both use CRV1: V = G/(G-1) * (N-1)/(N-k) * bread meat bread, with the same bread and meat
    # (FWL: the within-cell fit has the dummy regression's residuals). They differ in k only:
    # statsmodels counts every column, k = K = 3 + 40 cell dummies + 9 hour dummies = 52;
    # pyfixest (ssc fixef_k="nested", fixest's default) leaves out the cell effects, which are
    # nested in the clusters, and counts k = 3 regressors + 10 hour levels = 13. Hence
    # se_statsmodels^2 / se_pyfixest^2 = (N - 13) / (N - 52) exactly.
    k_pf = 3 + frame["hour"].nunique()
    factor = np.sqrt((n - k_pf) / (n - K))
    for v, step in (("wait_s", 10.0), ("resolved", 1.0), ("transferred", 1.0)):
        assert table.loc[v, "effect"] == pytest.approx(ols.params[v] * step, rel=1e-6)
        assert table.loc[v, "se"] * factor == pytest.approx(ols.bse[v] * step, rel=1e-6)
        # statsmodels' cluster p-value is normal; ours is t(G - 1), fixest's cluster_df="min".
        # pyfixest computes 2 * (1 - cdf): below ~1e-9 only the absolute difference is meaningful
        t = table.loc[v, "effect"] / table.loc[v, "se"]
        assert table.loc[v, "p_value"] == pytest.approx(2 * stats.t.sf(abs(t), G - 1), rel=1e-6, abs=1e-9)
        lo, hi = table.loc[v, ["ci_low", "ci_high"]]
        q = stats.t.ppf(0.975, G - 1)
        assert lo == pytest.approx(table.loc[v, "effect"] - q * table.loc[v, "se"], rel=1e-6)
        assert hi == pytest.approx(table.loc[v, "effect"] + q * table.loc[v, "se"], rel=1e-6)
    moderate = table.loc["transferred", "p_value"]
    assert 0.01 < moderate < 0.99      # where t(39) and the normal differ visibly
    assert res.n_clusters == G and res.n_surveys == n


# ----------------------------------------------------------------- ordinal: ordered logit

def _ordinal_frame(seed=1, n=6000, periods=30, beta=-0.01):
    """A 1-5 score from an ordered logit with queue-period effects that also raise the waits."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"period": rng.integers(0, periods, n), "queue": rng.choice(list("abcd"), n),
                      "hour": rng.integers(8, 12, n)})
    cell = f.groupby(["period", "queue"]).ngroup().to_numpy()
    a = rng.normal(0, 0.7, cell.max() + 1)[cell]
    f["wait_s"] = np.clip(rng.exponential(60, n) + 20 * a, 0, None)
    index = a + beta * f["wait_s"].to_numpy() + 0.1 * (f["hour"].to_numpy() - 10)
    cuts = np.array([-2.5, -1.2, 0.0, 1.3])
    f["csat"] = 1 + (index[:, None] + rng.logistic(size=n)[:, None] > cuts).sum(axis=1)
    p = 1 / (1 + np.exp(-(index[:, None] - cuts)))               # P(score > each cut)
    true_ame = float(np.mean(beta * (p * (1 - p)).sum(axis=1)))  # d E[score] / d wait, per second
    return f, cell, true_ame


def test_ordered_logit_matches_statsmodels_ordered_model():
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    f, cell, true_ame = _ordinal_frame(n=4000, periods=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_contact_model(f, "csat", coding_kind="ordinal", threshold=False, by_day=False)
    row = res.row("asa")
    assert res.coding.kind == "ordinal" and res.coding.unit == "points (1-5)"
    # the reference: one ordered logit with a dummy per queue-period and per hour
    X = pd.concat([f[["wait_s"]],
                   pd.get_dummies(pd.Series(cell).map("c{}".format), drop_first=True, dtype=float),
                   pd.get_dummies(f["hour"].map("h{}".format), drop_first=True, dtype=float)], axis=1)
    ref = OrderedModel(f["csat"], X, distr="logit").fit(method="bfgs", maxiter=5000, disp=False)
    h = 1e-3
    def expected(x):
        return (ref.model.predict(ref.params, exog=x.to_numpy()) * np.arange(1, 6)).sum(axis=1)
    ame_ref = float(np.mean((expected(X.assign(wait_s=X["wait_s"] + h))
                             - expected(X.assign(wait_s=X["wait_s"] - h))) / (2 * h))) * 10
    assert row["effect_logit"] == pytest.approx(ame_ref, rel=0.03)
    assert row["ci_low_logit"] < true_ame * 10 < row["ci_high_logit"]
    assert row["p_value_logit"] < 1e-6
    # the linear model in points tells the same story
    assert row["ci_low"] < row["effect_logit"] < row["ci_high"]
    assert any("odds ratios of a higher score wait_s 0.9" in note for note in res.notes)


def test_ordinal_coding_is_a_study_key():
    from dataclasses import replace as dc_replace
    from alignment import StudyError
    from alignment.study import load_study
    study = load_study("data/demo/study.toml")
    assert study.contact_coding == "auto"
    with pytest.raises(StudyError, match="contact_coding.*'ordinal'.*Got 'ordnial'"):
        dc_replace(study, contact_coding="ordnial")


# ----------------------------------------------------------------- planted truth

@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A year, 4 queues, waiting acting on the customer's own wait (hinge at 60 s), reasons on."""
    folder = tmp_path_factory.mktemp("contact_world")
    truth = simulate(folder, seed=11, days=364, queues=4, wait_effect="contact", reasons=True)
    panel = build_panel(folder / "contacts.csv", surveys=folder / "surveys.csv", grain="week", by=["queue"],
                        timezone=NY, contact_frame=True, contact_controls=["reason"])
    frame = panel.contact_frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_reason = fit_contact_model(frame, "csat", contact_controls=["reason"], n_boot=99, seed=1)
        without = fit_contact_model(frame, "csat", threshold=False, logit=False)
    return truth, frame, with_reason, without


@pytest.mark.xdist_group("contact_planted")   # one worker builds the world once
def test_truth_records_the_contact_level_wait(planted):
    truth = planted[0]
    asa = next(d for d in truth["drivers"] if d["name"] == "asa")
    assert asa["level"] == "contact" and asa["threshold"] == 60.0 and asa["logit_coefficient"] < 0
    assert truth["wait_effect"] == "contact" and "WAIT_r" in truth["outcome_model"]


@pytest.mark.xdist_group("contact_planted")
def test_planted_wait_and_resolution_are_found(planted):
    res = planted[2]
    wait, fcr = res.row("asa"), res.row("fcr")
    assert wait["variable"] == "wait_s" and wait["effect"] < 0 and wait["p_value"] < 0.001
    assert fcr["effect"] > 0 and fcr["p_value"] < 0.001
    assert res.row("service_level")["effect"] > 0
    # every survey but those alone in their queue-day (no within-day comparison) is used
    assert 0.995 * len(planted[1]) <= res.n_surveys <= len(planted[1]) and res.controls == ["reason"]


@pytest.mark.xdist_group("contact_planted")
def test_planted_threshold_is_recovered(planted):
    wait = planted[2].row("asa")
    assert abs(wait["threshold"] - 60) <= 15
    assert wait["threshold_ci_low"] <= 60 <= wait["threshold_ci_high"]
    assert wait["effect_above"] < 0


@pytest.mark.xdist_group("contact_planted")
def test_handle_time_looks_like_a_driver_without_the_reason(planted):
    aht = planted[3].row("aht")
    assert aht["variable"] == "handle_s" and aht["effect"] < 0 and aht["p_value"] < 0.001


@pytest.mark.xdist_group("contact_planted")
def test_handle_time_is_no_driver_once_the_reason_is_declared(planted):
    aht = planted[2].row("aht")
    assert aht["p_value"] > 0.05
    # and the planted non-driver transfer stays a non-driver either way
    assert planted[2].row("transfer_rate")["p_value"] > 0.01


# ----------------------------------------------------------------- engines

@pytest.mark.xdist_group("spark")
def test_duckdb_and_spark_give_the_same_frame(tmp_path):
    from alignment import SparkEngine
    simulate(tmp_path, seed=3, days=21, queues=2, contacts_per_day=20, wait_effect="contact")
    kw = dict(surveys=tmp_path / "surveys.csv", grain="day", by=["queue"], timezone=NY,
              contact_frame=True, contact_controls=["reason", "agent_id"])
    duck = build_panel(tmp_path / "contacts.csv", **kw).contact_frame
    spark = build_panel(tmp_path / "contacts.csv", engine=SparkEngine(master="local[2]"), **kw).contact_frame
    assert len(duck) > 100
    pd.testing.assert_frame_equal(duck, spark, check_exact=True)


# ----------------------------------------------------------------- bad input

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    simulate(folder, seed=4, days=14, queues=2, contacts_per_day=20)
    return folder


def test_unknown_contact_control_names_file_and_column(tiny):
    with pytest.raises(InputError) as err:
        build_panel(tiny / "contacts.csv", surveys=tiny / "surveys.csv", by=["queue"], timezone=NY,
                    contact_frame=True, contact_controls=["topic"])
    assert "contacts.csv" in str(err.value) and "topic" in str(err.value)


def test_contact_frame_needs_contact_ids_on_the_surveys(tiny):
    surveys = pd.read_csv(tiny / "surveys.csv").drop(columns="contact_id")
    with pytest.raises(OptionError, match="contact_id"):
        build_panel(tiny / "contacts.csv", surveys=surveys, by=["queue"], timezone=NY, contact_frame=True)


def test_too_few_cells_is_an_option_error():
    frame, _ = _small_frame()
    few = frame[frame["period"] < 2]          # 8 cells
    with pytest.raises(OptionError, match="10 segment-period cells"):
        fit_contact_model(few, "csat", threshold=False, logit=False)
