"""The business-impact link (issue 16): readers and messages, the link by hand, the models against
statsmodels and lifelines fitted independently, and one simulated world with a planted truth."""

import json

import numpy as np
import pandas as pd
import pytest

from alignment.exceptions import InputError, OptionError, UnknownCustomersWarning
from alignment.impact import business_impact, estimate_impact, link_surveys, read_customers
from alignment.impact import model as M


def _frame(n=4000, seed=0, slope=-0.4, mediated=True):
    """A survey-level frame and customers whose churn within 90 days is logistic in the score."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n // 2, n)
    ts = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 250, n), unit="D")
    wait = rng.exponential(60, n)
    x = np.clip(np.round(4 - 0.01 * wait * mediated + rng.normal(0, 1, n)), 1, 5)
    queue = rng.choice(["a", "b", "c"], n)
    p = 1 / (1 + np.exp(-(-2.5 + slope * (x - 3) + 0.3 * (queue == "b"))))
    y = rng.random(n) < p
    frame = pd.DataFrame({"survey_id": np.arange(n), "customer_id": [f"K{c}" for c in cust], "contact_ts": ts,
                          "period": ts.to_period("M").start_time, "queue": queue, "csat": x, "wait_s": wait})
    # one observation per customer keeps the churn times consistent: keep each customer's first survey
    frame = frame.sort_values("contact_ts").drop_duplicates("customer_id").reset_index(drop=True)
    y = y[frame["survey_id"].to_numpy()]
    left = frame["contact_ts"] + pd.to_timedelta(rng.uniform(1, 89, len(frame)), unit="D")
    customers = pd.DataFrame({"customer_id": frame["customer_id"], "churned_at": left.where(y),
                              "annual_revenue": rng.lognormal(6, 0.5, len(frame))})
    return frame, customers


def test_duplicate_customer_id_names_the_row():
    bad = pd.DataFrame({"customer_id": ["K1", "K2", "K3", "K2"], "churned_at": [None, None, None, None]})
    with pytest.raises(InputError, match=r"column 'customer_id', row 4: repeats an id"):
        read_customers(bad, timezone="UTC")


def test_bad_time_and_missing_column_are_named():
    with pytest.raises(InputError, match=r"column 'churned_at', row 2"):
        read_customers(pd.DataFrame({"customer_id": ["K1", "K2"], "churned_at": [None, "next week"]}),
                       timezone="UTC")
    with pytest.raises(InputError, match=r"column 'churned_at': is missing"):
        read_customers(pd.DataFrame({"customer_id": ["K1"], "left": [None]}), timezone="UTC")
    with pytest.raises(InputError, match=r"column 'annual_revenue': is missing"):
        read_customers(pd.DataFrame({"customer_id": ["K1"], "churned_at": [None]}), value="annual_revenue")
    with pytest.raises(InputError, match=r"column 'annual_revenue', row 1"):
        read_customers(pd.DataFrame({"customer_id": ["K1"], "churned_at": [None], "annual_revenue": [-5]}),
                       value="annual_revenue")


def test_link_by_hand():
    """Each survey's outcome, censoring and the contacts after leaving, counted by hand."""
    ts = pd.to_datetime(["2025-01-01", "2025-01-10", "2025-03-01", "2025-11-20", "2025-06-01", "2025-06-02"])
    f = pd.DataFrame({"customer_id": ["A", "B", "B", "C", "D", "E"], "contact_ts": ts, "period": ts, "queue": "q",
                      "csat": [5, 1, 2, 3, 4, 4]})
    c = pd.DataFrame({"customer_id": ["A", "B", "C", "X"],
                      "churned_at": pd.to_datetime([None, "2025-02-15", "2025-12-01", "2025-01-01"])})
    with pytest.warns(UnknownCustomersWarning, match="2 of 6 surveyed contacts"):
        link = link_surveys(f, c, outcome="csat", end="2025-12-31")
    t = link.table.set_index("contact_ts")
    # A never left; B left 36 days after its first contact (within 90), and its second contact is after
    # leaving; C's window runs past the end of the data: censored (left out of y), an event for Cox
    assert t.loc["2025-01-01", "y"] == 0 and t.loc["2025-01-10", "y"] == 1
    assert pd.Timestamp("2025-03-01") not in t.index and link.n_after_leaving == 1
    assert bool(t.loc["2025-11-20", "censored"]) and np.isnan(t.loc["2025-11-20", "y"])
    assert bool(t.loc["2025-11-20", "event"]) and t.loc["2025-11-20", "duration_days"] == pytest.approx(11)
    assert t.loc["2025-01-10", "duration_days"] == pytest.approx(36)
    assert link.n_unknown == 2 and link.n_censored == 1
    with pytest.raises(InputError, match="none of the"):
        link_surveys(f.assign(customer_id="Z"), c, outcome="csat")
    with pytest.raises(OptionError, match="window_days"):
        link_surveys(f, c, outcome="csat", window_days=0)


def test_logit_matches_statsmodels_with_explicit_dummies():
    import statsmodels.api as sm
    frame, customers = _frame(n=3000)
    link = link_surveys(frame, customers, outcome="csat", end="2026-06-01")
    data = link.modelled.reset_index(drop=True)
    fit = M.fit_logit(data)
    X = pd.get_dummies(data[["segment", "period"]].astype(str), drop_first=True).astype(float)
    X.insert(0, "x", data["x"])
    X = sm.add_constant(X)
    ref = sm.Logit(data["y"], X).fit(disp=0, cov_type="cluster",
                                      cov_kwds={"groups": pd.factorize(data["customer_id"])[0]})
    assert fit.beta[fit.names.index("x")] == pytest.approx(ref.params["x"], rel=1e-7)
    assert np.sqrt(fit.V[1, 1]) == pytest.approx(ref.bse["x"], rel=1e-6)
    me = ref.get_margeff(at="overall")
    assert fit.ame("x") == pytest.approx(100 * me.margeff[0], rel=1e-6)
    assert fit.ame_se("x") == pytest.approx(100 * me.margeff_se[0], rel=1e-5)


def test_cox_clustered_variance_matches_lifelines():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(1)
    n = 1500
    x = rng.integers(1, 6, n).astype(float)
    T = rng.exponential(60 * np.exp(0.2 * (x - 3)))
    E = T < 90
    T = np.minimum(T, 90 - rng.random(n) * 1e-3)     # no ties
    tab = pd.DataFrame({"duration_days": T, "event": E, "x": x, "segment": rng.choice(["a", "b"], n),
                        "customer_id": rng.integers(0, 400, n)})
    res = M.fit_cox(tab, whole_days=False)
    ref = lifelines.CoxPHFitter().fit(pd.DataFrame({"T": T, "E": E, "x": x, "s": tab["segment"],
                                                    "cl": tab["customer_id"]}), "T", "E", strata=["s"],
                                      cluster_col="cl")
    assert res["coef"] == pytest.approx(ref.params_["x"], rel=1e-6)
    assert res["se"] == pytest.approx(ref.standard_errors_["x"], rel=1e-4)


def test_nps_groups_by_hand():
    rng = np.random.default_rng(3)
    n = 900
    x = rng.integers(0, 11, n).astype(float)
    y = (rng.random(n) < np.where(x >= 9, 0.05, np.where(x <= 6, 0.15, 0.1))).astype(float)
    tab = pd.DataFrame({"x": x, "y": y, "customer_id": np.arange(n)})
    rows, diff = M.nps_groups(tab)
    r = rows.set_index("group")["rate"]
    assert r["promoter"] == pytest.approx(100 * y[x >= 9].mean())
    assert r["passive"] == pytest.approx(100 * y[(x >= 7) & (x <= 8)].mean())
    assert r["detractor"] == pytest.approx(100 * y[x <= 6].mean())
    assert diff["estimate"] == pytest.approx(r["promoter"] - r["detractor"])
    # one survey per customer: the clustered error of a rate is the binomial one (times sqrt(G/(G-1)))
    k = y[x >= 9]
    se = np.sqrt(k.var() / len(k) * n / (n - 1))
    assert rows.set_index("group").loc["promoter", "ci_high"] - r["promoter"] == pytest.approx(1.96 * 100 * se,
                                                                                             rel=1e-3)


def test_bootstrap_agrees_with_the_delta_method_and_value_by_hand():
    frame, customers = _frame(seed=4)
    link = link_surveys(frame, customers, outcome="csat", end="2026-06-01")
    values = customers.set_index("customer_id")["annual_revenue"]
    res = estimate_impact(link, cx="csat", values=values, value_name="annual_revenue", cox=False, n_boot=999,
                          seed=7, customers_per_year=1000.0)
    e = res.cx_effect
    lo, hi = e["ci_bootstrap"]
    assert (hi - lo) / (e["ci"][1] - e["ci"][0]) == pytest.approx(1.0, abs=0.15)
    ids = pd.unique(link.modelled["customer_id"])
    v = res.value_per_cx_point
    assert v["estimate"] == pytest.approx(-e["estimate"] / 100 * 1000.0 * values.reindex(ids).mean())
    assert v["ci"][0] < v["estimate"] < v["ci"][1]
    again = estimate_impact(link, cx="csat", values=values, cox=False, n_boot=999, seed=7,
                            customers_per_year=1000.0)
    assert again.value_per_cx_point["ci"] == v["ci"]


def test_mediation_against_a_product_of_statsmodels_fits():
    """indirect = a x b from statsmodels with explicit dummies: a the least-squares slope of the score
    on the wait over every survey with segment x day dummies (the contact-level model's design,
    cells of one survey dropped), b the logit's average marginal effect of the score."""
    import statsmodels.api as sm
    frame, customers = _frame(n=6000, seed=5)
    res = business_impact(frame, "csat", customers=customers, by=["queue"], timezone="UTC", as_of="2026-05-31",
                          mediators=["wait_s"], cox=False, n_boot=499, seed=1)
    f = frame.assign(cell=frame["queue"] + frame["contact_ts"].dt.strftime(" %Y-%m-%d"))
    f = f[f.groupby("cell")["cell"].transform("size") > 1]
    # the cell dummies partialled out by their means (Frisch-Waugh-Lovell; 546 dummies in full take seconds)
    within = f[["csat", "wait_s"]] - f.groupby("cell")[["csat", "wait_s"]].transform("mean")
    a = sm.OLS(within["csat"], within[["wait_s"]]).fit()
    link = link_surveys(frame, customers, outcome="csat", end="2026-06-01")
    data = link.modelled.reset_index(drop=True)
    data["block"] = M.period_blocks(data["period"], data["y"].to_numpy())
    D = pd.get_dummies(data[["segment", "block"]].astype(str), drop_first=True).astype(float)
    lg = sm.Logit(data["y"], sm.add_constant(pd.concat([data[["x", "wait_s"]], D], axis=1))).fit(disp=0)
    me = lg.get_margeff(at="overall")
    ame_x, ame_w = 100 * me.margeff[0], 100 * me.margeff[1]
    row = res.mediation.iloc[0]
    assert res.what_if[0]["cx_change"] == pytest.approx(-10 * a.params["wait_s"], rel=1e-6)
    assert row["indirect"] == pytest.approx(a.params["wait_s"] * 10 * ame_x, rel=1e-5)
    assert row["direct"] == pytest.approx(ame_w * 10, rel=1e-5)
    # churn depends on the score only: the direct part's interval holds 0, the share's holds 1
    assert row["direct_ci_low"] < 0 < row["direct_ci_high"]
    assert row["share_ci_low"] < 1 < row["share_ci_high"]
    # the bootstrap of the path to CX (customers resampled) agrees with its least-squares error
    lo, hi = res.what_if[0]["cx_change_ci"]
    assert (hi - lo) / (2 * 1.96 * 10 * a.HC0_se["wait_s"]) == pytest.approx(1, abs=0.15)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from alignment import build_panel
    from alignment.simulate import simulate
    out = tmp_path_factory.mktemp("churn")
    truth = simulate(out, seed=3, days=364, queues=4, churn="cx", wait_effect="contact")
    panel = build_panel(out / "contacts.csv", surveys=out / "surveys.csv", by=["queue"],
                        timezone="America/New_York", contact_frame=True)
    return out, truth, panel


def test_planted_truth_in_a_simulated_world(world):
    out, truth, panel = world
    res = business_impact(panel, "csat", customers=out / "customers.csv", value="annual_revenue", n_boot=199,
                          cox=False, mediators=["wait_s"])
    t = truth["business_impact"]
    assert json.loads((out / "truth.json").read_text())["business_impact"]["cx_effect_pp"] == t["cx_effect_pp"]
    assert res.n_contacts == t["n_contacts"]           # the same surveys, the same censoring rule
    lo, hi = res.cx_effect["ci"]
    assert hi < 0 and lo < t["cx_effect_pp"] < hi
    d = res.to_dict()
    assert set(d) >= {"outcome", "window_days", "n_contacts", "n_customers", "censoring", "cx_effect",
                      "value_per_cx_point", "mediation"}
    assert set(d["cx_effect"]) >= {"estimate", "ci", "p_value", "model"}
    assert set(d["value_per_cx_point"]) >= {"estimate", "ci", "unit"}
    assert set(d["mediation"][0]) >= {"kpi", "indirect", "indirect_ci", "direct", "direct_ci", "share_through_cx",
                                      "share_ci"}
    asa = next(m for m in d["mediation"] if m["kpi"] == "asa")
    assert asa["share_ci"][0] < 1.0 < asa["share_ci"][1]           # waiting acts only through CSAT
    # the path to CX is the contact-level model's: its effect of the wait in CSAT points, same design
    from alignment.contact import fit_contact_model
    contact = fit_contact_model(panel.contact_frame, "csat", coding_kind="mean", threshold=False, logit=False)
    assert -res.what_if[0]["cx_change"] == pytest.approx(contact.row("asa")["effect"], rel=1e-9)
    json.dumps(d, allow_nan=False)


def test_customers_unknown_to_the_contacts_are_counted(world):
    out, truth, panel = world
    customers = pd.read_csv(out / "customers.csv")
    extra = pd.DataFrame({"customer_id": ["NEW1", "NEW2"], "churned_at": [None, None], "annual_revenue": [1, 2]})
    res = business_impact(panel, "csat", customers=pd.concat([customers.iloc[1:], extra]), n_boot=0, cox=False,
                          mediators=[])
    assert any("have no surveyed contact" in n for n in res.notes)
    assert any("have a customer not in DataFrame" in n for n in res.notes)


def test_study_file_declares_customers(tmp_path):
    from alignment import load_study
    from alignment.study import StudyError
    (tmp_path / "c.csv").write_text("contact_id,queue,arrived_at,answered,abandoned\n")
    (tmp_path / "k.csv").write_text("customer_id,churned_at,revenue\nK1,,10\n")
    (tmp_path / "s.csv").write_text("survey_id,contact_id,csat\n")
    head = ('[study]\noutcome = "csat"\nkpis = ["asa"]\n[data.contacts]\npath = "c.csv"\n'
            '[data.surveys]\npath = "s.csv"\n'
            '[data.customers]\npath = "k.csv"\nvalue = "revenue"\n')
    (tmp_path / "s.toml").write_text(head + "window_days = 30\nas_of = 2025-12-31\n")
    study = load_study(tmp_path / "s.toml")
    assert study.customers.value == "revenue" and study.customers.window_days == 30
    assert str(study.customers.as_of) == "2025-12-31" and str(tmp_path / "k.csv") in study.inputs()
    (tmp_path / "bad.toml").write_text(head + "window_days = 0\n")
    with pytest.raises(StudyError, match=r"key 'data.customers.window_days': must be a whole number of days"):
        load_study(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text(head + "windows = 30\n")
    with pytest.raises(StudyError, match=r"key 'data.customers.windows': unknown key"):
        load_study(tmp_path / "typo.toml")


def test_study_link_reuses_the_panel_and_mediates_validated_drivers(world, monkeypatch):
    from alignment import Source, Study
    from alignment.panel import build as panel_build
    from alignment.study import config as study_config
    from alignment.study.run import study_business_impact
    out, truth, panel = world

    def rebuilt(*args, **kwargs):
        raise AssertionError("the link rebuilt the panel")
    monkeypatch.setattr(panel_build, "build_panel", rebuilt)
    monkeypatch.setattr(study_config, "build_panel", rebuilt)
    study = Study(name="w", outcome="csat", kpis=("asa", "fcr"), contacts=Source(out / "contacts.csv"),
                  surveys=Source(out / "surveys.csv"), by=("queue",), timezone="America/New_York", seed=3,
                  n_boot=99, customers=Source(out / "customers.csv"))
    res = study_business_impact(study, panel, validated=["asa"])
    assert list(res.mediation["kpi"]) == ["asa"] and res.n_boot == 99 and res.seed == 3
    assert res.value_per_cx_point is None                   # no value column declared
    assert res.n_contacts == truth["business_impact"]["n_contacts"]


def test_nps_outcome_reads_promoters_against_detractors(world):
    out, truth, panel = world
    res = business_impact(panel, "nps", customers=out / "customers.csv", n_boot=0, cox=False, mediators=[])
    groups = res.nps_groups.set_index("group")
    assert list(groups.index) == ["promoter", "passive", "detractor"]
    assert groups["n"].sum() == res.n_contacts
    # churn falls with the experience that NPS answers measure too: detractors leave more often
    d = res.promoter_vs_detractor
    assert d["estimate"] == pytest.approx(groups.loc["promoter", "rate"] - groups.loc["detractor", "rate"])
    assert d["ci"][1] < 0
    assert res.to_dict()["nps_groups"][0]["group"] == "promoter"


def test_a_study_with_a_bad_customers_file_fails_before_the_statistics(world):
    from alignment import Source, Study
    out, truth, panel = world
    customers = pd.read_csv(out / "customers.csv")
    bad = pd.concat([customers.iloc[:3], customers.iloc[[1]], customers.iloc[3:]], ignore_index=True)
    study = Study(name="w", outcome="csat", kpis=("asa",), contacts=Source(out / "contacts.csv"),
                  surveys=Source(out / "surveys.csv"), by=("queue",), timezone="America/New_York",
                  customers=Source(bad))
    with pytest.raises(InputError, match=r"DataFrame, column 'customer_id', row 4: repeats an id"):
        study.run()


def test_a_customer_event_in_place_of_leaving():
    """The next event strictly after the contact, within the window (by hand)."""
    from alignment.impact import EventSpec, read_events
    from alignment import Source
    ts = pd.to_datetime(["2025-01-01", "2025-01-10", "2025-03-01", "2025-06-01"])
    f = pd.DataFrame({"customer_id": ["A", "B", "B", "A"], "contact_ts": ts, "period": ts, "queue": "q",
                      "csat": [5, 1, 2, 3]})
    c = pd.DataFrame({"customer_id": ["A", "B"], "churned_at": pd.to_datetime([None, None])})
    raw = pd.DataFrame({"customer_id": ["A", "B", "A"], "at": ["2025-02-01", "2025-01-10", "2025-12-01"]})
    ev = read_events(EventSpec(Source(raw), event="repurchase", time="at"))
    link = link_surveys(f, c, outcome="csat", end="2025-12-31", events=ev)
    # A buys again 31 days after its first contact; B's purchase is at the contact itself (not after it);
    # A's purchase on 1 December is 183 days after its June contact
    assert link.table["y"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert link.table["duration_days"].tolist() == [31.0, 90.0, 90.0, 90.0]
    with pytest.raises(InputError, match=r"column 'at', row 2"):
        read_events(EventSpec(Source(raw.assign(at=["2025-02-01", "later", None])), event="x", time="at"))
    with pytest.raises(OptionError, match="churn"):
        EventSpec(Source(raw), event="churn")


def test_study_file_declares_customer_events(tmp_path):
    from alignment import load_study
    from alignment.study import StudyError
    for name, text in (("c.csv", "contact_id,queue,arrived_at,answered,abandoned\n"),
                       ("s.csv", "survey_id,contact_id,csat\n"), ("k.csv", "customer_id,churned_at\n"),
                       ("e.csv", "customer_id,bought_at\n")):
        (tmp_path / name).write_text(text)
    head = ('[study]\noutcome = "csat"\nkpis = ["asa"]\n[data.contacts]\npath = "c.csv"\n[data.surveys]\n'
            'path = "s.csv"\n[[data.customer_events]]\npath = "e.csv"\ntime = "bought_at"\nevent = "repurchase"\n'
            '[data.customers]\npath = "k.csv"\n')
    (tmp_path / "s.toml").write_text(head + 'outcome = "repurchase"\n')
    study = load_study(tmp_path / "s.toml")
    assert study.customers.outcome == "repurchase" and study.customer_events[0].time == "bought_at"
    (tmp_path / "bad.toml").write_text(head + 'outcome = "complaint"\n')
    with pytest.raises(StudyError, match=r"key 'data.customers.outcome': names the event 'complaint'"):
        load_study(tmp_path / "bad.toml")


def test_business_impact_on_an_event(world):
    out, truth, panel = world
    customers = pd.read_csv(out / "customers.csv")
    left = customers.dropna(subset=["churned_at"])
    # a 'cancellation' event at each departure: the same outcome as churn, so the same estimate
    events = pd.DataFrame({"customer_id": left["customer_id"], "time": pd.to_datetime(left["churned_at"], utc=True)
                           .dt.tz_convert("America/New_York").dt.tz_localize(None)})
    a = business_impact(panel, "csat", customers=customers, n_boot=0, cox=False, mediators=[])
    b = business_impact(panel, "csat", customers=customers, n_boot=0, cox=False, mediators=[],
                        event="cancellation", events=events)
    assert b.outcome == "cancellation" and b.to_dict()["outcome"] == "cancellation"
    assert b.cx_effect["estimate"] == pytest.approx(a.cx_effect["estimate"], rel=1e-9)
