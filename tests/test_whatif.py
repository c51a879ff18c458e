"""Staffing what-if (issue 17, item 4): the queue's change by hand from Erlang A, the pooled roll-up,
the validated effects (a non-driver and a family's non-carrier contribute nothing), the hinge, the
chain to churn and value, the cost, and one-line mistakes on the command line."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment.exceptions import OptionError
from alignment.staffing import answered_wait_beyond, erlang_a, erlang_c
from alignment.staffing.inputs import QueueInputs
from alignment.staffing.whatif import parse_agents, parse_days, parse_hours, whatif_from_inputs

T = 20.0


def _inputs(rows):
    """Queue inputs of hand-made intervals (queue q, one week)."""
    t = pd.DataFrame(rows)
    t["period_start"] = pd.to_datetime(t["period_start"])
    t["queue"] = t.get("queue", "q")
    t["interval_h"] = 1.0
    t["arrival_rate_per_h"] = t["offered"] / t["interval_h"]
    t["answered"] = t["offered"] - t["abandoned"]
    t["handle_answered_s"] = t["answered"] * t["mean_handle_s"]
    t["wait_queued_s"] = t["patience_s"] * t["abandoned"]
    t["agents_source"] = "staffing"
    return QueueInputs(table=t, interval=60, by=("queue",), timezone=None, agents="on_duty", gap_s=1800,
                       threshold_s=T, no_abandonment="pooled")


# Monday 2025-01-06 10h and 11h, and Saturday 10h; observed components chosen freely
ROWS = [dict(period_start="2025-01-06 10:00", offered=120, abandoned=12, answered_within_t=60, wait_answered_s=4000,
             mean_handle_s=240, patience_s=200, agents=9.0),
        dict(period_start="2025-01-06 11:00", offered=90, abandoned=5, answered_within_t=55, wait_answered_s=2000,
             mean_handle_s=240, patience_s=250, agents=7.5),
        dict(period_start="2025-01-11 10:00", offered=40, abandoned=1, answered_within_t=35, wait_answered_s=300,
             mean_handle_s=240, patience_s=250, agents=4.0)]


def _drivers(**verdicts):
    base = {"asa": ("validated", -1.5, [-2.0, -1.0], None), "service_level": ("not_validated", 0.4, [0.1, 0.7], None),
            "abandon_rate": ("inconclusive", -0.5, [-1.0, 0.0], None)}
    base.update(verdicts)
    return pd.DataFrame([{"name": k, "verdict": v, "effect": e, "effect_ci": ci, "threshold": th, "proxy_of": None}
                         for k, (v, e, ci, th) in base.items()])


def _by_hand(agents_change, hours=None, beyond=None):
    """The pooled week's change of ASA (and of the wait beyond `beyond`) from erlang_a directly."""
    d_wait = d_ab = d_beyond = 0.0
    for r in ROWS:
        hour = int(r["period_start"][11:13])
        if hours is not None and hour not in hours:
            continue
        kw = dict(arrival_rate_per_h=r["offered"], mean_handle_s=r["mean_handle_s"], patience_s=r["patience_s"])
        b, a = erlang_a(r["agents"], **kw), erlang_a(r["agents"] + agents_change, **kw)
        d_ab += r["offered"] * (a.p_abandon - b.p_abandon)
        d_wait += r["offered"] * ((1 - a.p_abandon) * a.asa_s - (1 - b.p_abandon) * b.asa_s)
        if beyond is not None:
            d_beyond += r["offered"] * ((1 - a.p_abandon) * answered_wait_beyond(r["agents"] + agents_change, beyond_s=beyond, **kw)
                                        - (1 - b.p_abandon) * answered_wait_beyond(r["agents"], beyond_s=beyond, **kw))
    offered = sum(r["offered"] for r in ROWS)
    abandoned = sum(r["abandoned"] for r in ROWS)
    wait = sum(r["wait_answered_s"] for r in ROWS)
    asa_before = wait / (offered - abandoned)
    asa_after = (wait + d_wait) / (offered - abandoned - d_ab)
    return asa_before, asa_after, d_beyond / (offered - abandoned)


def _answered_wait(r):
    """Erlang A's wait of the answered of a row, offered x (1 - p_abandon) x ASA, a fractional agent
    count interpolated on that product (as the what-if does)."""
    low, w = math.floor(r["agents"]), r["agents"] - math.floor(r["agents"])
    kw = dict(arrival_rate_per_h=r["offered"], mean_handle_s=r["mean_handle_s"], patience_s=r["patience_s"])
    return r["offered"] * sum(weight * (1 - k.p_abandon) * k.asa_s for weight, k in
                              ((1 - w, erlang_a(low, **kw)), (w, erlang_a(low + 1, **kw))) if weight > 0)


def test_queue_change_by_hand_and_only_a_validated_driver_contributes():
    w = whatif_from_inputs(_inputs(ROWS), agents="+2", segment="q", hours="10-11", drivers=_drivers(),
                           agent_cost_per_hour=25.0, n_draws=4000, seed=1)
    seg = w.segments[0]
    before, after, _ = _by_hand(2, hours=(10,))
    asa = seg["kpis"]["asa"]
    assert asa["before"] == pytest.approx(before, rel=1e-9) and asa["after"] == pytest.approx(after, rel=1e-6)
    assert asa["change_per_period"] == pytest.approx(after - before, rel=1e-6)   # one week: one period
    assert after < before
    # the CX change: the validated ASA effect per 10 s, nothing from the others
    assert seg["cx_change"]["estimate"] == pytest.approx(-1.5 * (after - before) / 10, rel=1e-6)
    lo, hi = seg["cx_change"]["ci"]
    assert lo < seg["cx_change"]["estimate"] < hi
    # interval from the effect's own interval [-2, -1] and Erlang A's misfit of the changed intervals'
    # observed wait (e ~ N(0, misfit^2) scales the queue's change): about the width of their product
    fitted = sum(_answered_wait(r) for r in ROWS if r["period_start"][11:13] == "10")
    misfit = abs(fitted / sum(r["wait_answered_s"] for r in ROWS if r["period_start"][11:13] == "10") - 1)
    assert seg["queue_misfit"] == pytest.approx(misfit, rel=1e-9) and misfit > 0.1
    se = 0.5 / 1.959964
    sd = math.sqrt(se ** 2 + (1.5 * misfit) ** 2 + (se * misfit) ** 2)
    assert hi - lo == pytest.approx(2 * 1.959964 * sd * abs(after - before) / 10, rel=0.15)
    c_lo, c_hi = asa["change_ci"]
    assert c_lo < after - before < c_hi
    assert c_hi - c_lo == pytest.approx(2 * 1.959964 * misfit * abs(after - before), rel=0.1)
    for kpi in ("service_level", "abandon_rate"):
        k = seg["kpis"][kpi]
        assert k["contributes"] is False and k["cx_change"] == 0 and "contributes nothing" in k["reason"]
        assert k["change_per_period"] != 0                      # the queue moved it, and still nothing counts
    assert any("service_level" in n and "nothing" in n for n in w.notes)
    # cost: +2 agents x 2 changed hours (Monday and Saturday 10h) in one week x 25
    assert seg["agent_hours_changed"] == 2 and seg["cost"]["per_period"] == pytest.approx(2 * 2 * 25)
    assert seg["cost_per_cx_point"]["estimate"] == pytest.approx(100 / seg["cx_change"]["estimate"])
    assert seg["churn_change"] is None and any("no business-impact link" in n for n in w.notes)
    assert seg["payback"] is None and seg["value_change"] is None
    assert "<table" in w._repr_html_() and "q:" in repr(w)
    d = w.to_dict()
    assert set(d["segments"][0]) >= {"kpis", "cx_change", "churn_change", "value_change", "cost", "cost_per_cx_point"}


def test_no_validated_driver_changes_nothing_and_says_so():
    w = whatif_from_inputs(_inputs(ROWS), agents=3, drivers=_drivers(asa=("not_validated", -1.5, [-2, -1], None)))
    seg = w.segments[0]
    assert seg["cx_change"]["estimate"] == 0 and seg["cx_change"]["ci"] == [0.0, 0.0]
    assert "nothing reaches CX" in seg["sentence"]
    assert seg["kpis"]["asa"]["after"] < seg["kpis"]["asa"]["before"]


def test_a_family_acts_once_through_its_carrier():
    drivers = _drivers(abandon_rate=("validated", -0.8, [-1.0, -0.6], None))
    fams = [{"name": "waiting", "members": ["asa", "abandon_rate"], "carried_by": "asa"}]
    w = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=drivers, families=fams)
    seg = w.segments[0]
    assert seg["kpis"]["abandon_rate"]["contributes"] is False
    assert "carried by asa" in seg["kpis"]["abandon_rate"]["reason"]
    assert seg["cx_change"]["estimate"] == pytest.approx(seg["kpis"]["asa"]["cx_change"])


def test_the_contact_level_hinge_acts_on_the_wait_beyond_its_threshold():
    drivers = _drivers(asa=("validated", -1.5, [-2.0, -1.0], 30.0))
    w = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=drivers)
    _, _, d_beyond = _by_hand(1, beyond=30.0)
    assert d_beyond < 0
    # scaled by the observed over Erlang A's wait of the changed intervals (the tail's calibration)
    calibration = sum(r["wait_answered_s"] for r in ROWS) / sum(_answered_wait(r) for r in ROWS)
    assert w.segments[0]["queue_calibration"] == pytest.approx(calibration, rel=1e-9)
    assert w.segments[0]["cx_change"]["estimate"] == pytest.approx(-1.5 * d_beyond / 10 * calibration, rel=1e-6)


def test_churn_and_value_follow_the_links_chain_with_its_uncertainty():
    impact = {"outcome": "churn", "window_days": 90,
              "what_if": [{"kpi": "asa", "variable": "wait_s", "churn_change_pp": -0.035, "churn_change_ci": [-0.046, -0.026],
                           "value_kept": 2270.0, "value_kept_ci": [1666.0, 2970.0], "unit": "USD per year"}]}
    w = whatif_from_inputs(_inputs(ROWS), agents=2, drivers=_drivers(), business_impact=impact, n_draws=4000,
                           agent_cost_per_hour=10.0)
    seg = w.segments[0]
    # payback: value kept per year over the cost per year (2 agents x 3 changed hours a week x 10 x 52.18 weeks)
    cost_year = 2 * 3 * 10.0 * 365.25 / 7
    assert seg["cost"]["per_year"] == pytest.approx(cost_year)
    assert seg["payback"]["value_per_cost"] == pytest.approx(seg["value_change"]["estimate"] / cost_year)
    assert seg["payback"]["net_per_year"] == pytest.approx(seg["value_change"]["estimate"] - cost_year)
    d_asa = seg["kpis"]["asa"]["change_per_period"]
    assert seg["churn_change"]["estimate"] == pytest.approx(-d_asa / 10 * -0.035)
    assert seg["value_change"]["estimate"] == pytest.approx(-d_asa / 10 * 2270.0)
    assert seg["churn_change"]["estimate"] < 0 < seg["value_change"]["estimate"]
    lo, hi = seg["churn_change"]["ci"]
    assert lo < seg["churn_change"]["estimate"] < hi < 0


def test_answered_wait_beyond_against_erlang_c_closed_form():
    lam, n, h = 360.0, 11, 100.0
    c = erlang_c(n, arrival_rate_per_h=lam, mean_handle_s=h)
    rate = n / h - lam / 3600                       # N mu - lambda, per second
    for b in (0.0, 15.0, 60.0):
        exact = c.p_wait * math.exp(-rate * b) / rate   # memoryless: every waiting customer is answered
        assert answered_wait_beyond(n, arrival_rate_per_h=lam, mean_handle_s=h, beyond_s=b) == pytest.approx(exact)
        # Erlang A with a very long patience tends to it
        assert answered_wait_beyond(n, arrival_rate_per_h=lam, mean_handle_s=h, beyond_s=b,
                                    patience_s=1e8) == pytest.approx(exact, rel=1e-4)
    a = erlang_a(9, arrival_rate_per_h=lam, mean_handle_s=h, patience_s=120)
    assert answered_wait_beyond(9, arrival_rate_per_h=lam, mean_handle_s=h, beyond_s=0,
                                patience_s=120) == pytest.approx(a.asa_s, rel=1e-9)
    assert answered_wait_beyond(9, arrival_rate_per_h=lam, mean_handle_s=h, beyond_s=30, patience_s=120) < a.asa_s


@pytest.mark.parametrize("bad", ["0", "two", "", "nan", True])
def test_bad_agents(bad):
    with pytest.raises(OptionError, match="change of agents"):
        parse_agents(bad)


def test_hours_and_days():
    assert parse_hours("10-14") == (10, 11, 12, 13) and parse_hours("23") == (23,)
    assert parse_days("mon-fri") == (0, 1, 2, 3, 4) and parse_days("sat,sun") == (5, 6)
    for bad in ("14-10", "25", "10-25", "ten"):
        with pytest.raises(OptionError, match="hours"):
            parse_hours(bad)
    for bad in ("weekdays", "mon-xyz", ""):
        with pytest.raises(OptionError, match="days"):
            parse_days(bad)
    with pytest.raises(OptionError, match="segment of queue"):
        whatif_from_inputs(_inputs(ROWS), agents=1, segment="nope", drivers=_drivers())


SCRIPT = Path(sys.executable).with_name("alignment")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from conftest import STUDY
    from alignment.simulate import simulate
    folder = tmp_path_factory.mktemp("whatif")
    simulate(folder, seed=2, days=14, queues=2)
    (folder / "study.toml").write_text(STUDY.format(outcome="csat"))
    return folder


@pytest.mark.parametrize("args, message", [
    (["--segment", "nowhere", "--agents", "+1"], "segment of queue"),
    (["--segment", "billing", "--agents", "+x"], "change of agents"),
    (["--segment", "billing", "--agents", "+1", "--hours", "18-9"], "hours"),
    (["--segment", "billing", "--agents", "+1", "--days", "someday"], "days"),
])
def test_cli_mistakes_are_one_line_and_exit_2(small, args, message):
    p = subprocess.run([sys.executable, "-m", "alignment.cli", "whatif", str(small / "study.toml"), *args],
                       capture_output=True, text=True, cwd=small)
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if not line.startswith("alignment: warning:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in p.stderr


def test_agent_cost_per_hour_is_validated(small):
    from alignment.study.config import StudyError
    from alignment.study import load_study
    text = (small / "study.toml").read_text()
    path = small / "cost.toml"
    path.write_text(text.replace("seed = 5", "seed = 5\nagent_cost_per_hour = 32.5"))
    assert load_study(path).agent_cost_per_hour == 32.5
    path.write_text(text.replace("seed = 5", "seed = 5\nagent_cost_per_hour = -1"))
    with pytest.raises(StudyError, match="agent_cost_per_hour"):
        load_study(path)


def test_a_service_level_variant_the_queue_does_not_predict_is_left_out():
    drivers = _drivers(asa=("not_validated", -1.5, [-2, -1], None), service_level=("validated", 0.4, [0.2, 0.6], None))
    w = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=drivers)
    assert w.segments[0]["cx_change"]["estimate"] == pytest.approx(0.4 * w.segments[0]["kpis"]["service_level"]
                                                                   ["change_per_period"])
    w = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=drivers, service_level_variant="answered")
    assert w.segments[0]["cx_change"]["estimate"] == 0
    assert "'answered' variant" in w.segments[0]["kpis"]["service_level"]["reason"]


def _fake_result(cost, drivers):
    from types import SimpleNamespace
    study = SimpleNamespace(agent_cost_per_hour=cost, by=("queue",), grain="week", seed=3, units=None,
                            kpi_options=None, contacts=None, staffing=None, timezone=None, start=None, end=None)
    return SimpleNamespace(study=study, panel=None, drivers=drivers, families=[], business_impact=None)


def test_decisions_pick_the_cheapest_change_that_gains_one_point():
    from alignment.staffing.whatif import _cells, decisions
    res = _fake_result(20.0, _drivers(asa=("validated", -3.0, [-4.0, -2.0], None)))
    d = decisions(res, inputs=_inputs(ROWS), max_agents=4)
    row = d.table.iloc[0]
    assert row["reaches_one_point"] and row["cx_change"] >= 1
    # re-run the chosen change on the same cells: the same gain, and the cost is agents x hours x price
    cells = _cells(_inputs(ROWS), "week")
    hours = tuple(int(h) for h in row["hours"].replace(" h", "").split("-")[:1])
    w = whatif_from_inputs(cells, agents=int(row["agents"]), hours=hours, drivers=res.drivers, grain="week",
                           agent_cost_per_hour=20.0)
    assert row["hours"] == f"{hours[0]}-{hours[0] + 1} h"           # one hour of the day is enough here
    assert w.segments[0]["cx_change"]["estimate"] == pytest.approx(row["cx_change"])
    assert row["cost_per_year"] == pytest.approx(row["agents"] * row["hours_per_period"] * 20.0 * 365.25 / 7)
    # the cheapest, by brute force over every change of the search (agents x sets of hours)
    options = []
    for n in range(1, 5):
        for hours_ in [(10,), (11,), (10, 11)]:
            r = whatif_from_inputs(cells, agents=n, hours=hours_, drivers=res.drivers, grain="week",
                                   agent_cost_per_hour=20.0).segments[0]
            if r["cx_change"]["estimate"] >= 1:
                options.append(r["cost"]["per_year"])
    assert row["cost_per_year"] == pytest.approx(min(options))
    assert "gains" in row["sentence"] and "interval" in row["sentence"]


def test_decisions_only_when_the_study_can_compute_them():
    from alignment.report.render import _environment
    from alignment.staffing.whatif import decision_rows, decisions
    assert decision_rows(_fake_result(None, _drivers())) is None                   # no agent_cost_per_hour
    no_driver = _drivers(asa=("not_validated", -1.5, [-2, -1], None))
    assert decisions(_fake_result(20.0, no_driver), inputs=_inputs(ROWS)) is None   # no validated queue driver
    env = _environment()
    assert env.get_template("_decisions.html.j2").render(decisions=None, outcome="CSAT").strip() == ""
    ctx = {"rows": [{"segment": "<b>q</b>", "change": "+1 agent, 10-11 h every day", "cost": "7,305",
                     "gain": "+1.2 (+0.8 to +1.6)", "worth": "unknown", "sentence": "q: one more agent."}],
           "notes": ["searched on cells"], "segment_word": "queue"}
    page = env.get_template("_decisions.html.j2").render(decisions=ctx, outcome="CSAT")
    assert "<h2>Decisions</h2>" in page and "&lt;b&gt;q&lt;/b&gt;" in page and "+1.2 (+0.8 to +1.6)" in page
    md = env.get_template("_decisions.md.j2").render(decisions=ctx, outcome="CSAT")
    assert "## Decisions" in md and "| +1 agent, 10-11 h every day |" in md


def test_a_whatif_against_a_rerun_of_a_world_with_a_real_queue(tmp_path):
    """Planted truth: a 14-day world of alignment.simulate(queue=True) rerun with its staffing plan
    changed, two more billing agents 10-14 h on weekdays, the same customers
    (benchmarks/whatif_queue.py); the what-if on the base world, agents from its staffing.csv,
    against the rerun's ASA and abandon rate."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from whatif_queue import CHANGE, contacts, experiment, pooled_asa
    q, truth, truth_rerun = experiment(7, 14, tmp_path, contacts_per_day=300)
    assert truth_rerun["queue"]["plan"] == "given" and (q.table["agents_source"] == "staffing").all()
    w = whatif_from_inputs(q, **CHANGE, drivers=_drivers())
    k = w.segments[0]["kpis"]
    before, after = pooled_asa(tmp_path / "base"), pooled_asa(tmp_path / "rerun")
    assert k["asa"]["before"] == pytest.approx(before, rel=1e-6)
    assert after - before < -4
    assert k["asa"]["after"] - k["asa"]["before"] == pytest.approx(after - before, abs=1.5)
    rerun = contacts(tmp_path / "rerun")
    assert k["abandon_rate"]["after"] == pytest.approx(100 * rerun.loc[rerun["queue"] == "billing", "abandoned"].mean(),
                                                       abs=1.0)
    # the planted CSAT change: billing's expected top-2-box share rises, orders' does not move
    b, r = truth["queue"]["expected_csat_top2_pct"], truth_rerun["queue"]["expected_csat_top2_pct"]
    assert np.nanmean(np.subtract(r["billing"], b["billing"], dtype=float)) > 0
    assert r["orders"] == b["orders"]


def test_the_hinges_threshold_interval_widens_the_cx_interval():
    hinge = ("validated", -1.5, [-2.0, -1.0], 30.0)
    point = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=_drivers(asa=hinge), n_draws=4000)
    drivers = _drivers(asa=hinge).assign(threshold_ci=[[20.0, 45.0], None, None])
    wide = whatif_from_inputs(_inputs(ROWS), agents=1, drivers=drivers, n_draws=4000)
    a, b = point.segments[0]["cx_change"], wide.segments[0]["cx_change"]
    assert b["estimate"] == pytest.approx(a["estimate"])
    assert b["ci"][0] < a["ci"][0] and b["ci"][1] > a["ci"][1]
    _, _, d20 = _by_hand(1, beyond=20.0)
    _, _, d45 = _by_hand(1, beyond=45.0)
    assert d20 < d45 < 0          # a lower threshold: more of the wait beyond it to cut
    assert "20-45 s" in wide.segments[0]["kpis"]["asa"]["reason"]


def test_on_the_links_own_scale_the_cx_change_is_priced_directly():
    impact = {"outcome": "churn", "window_days": 90,
              "cx_effect": {"estimate": -0.8, "ci": [-1.0, -0.6], "se": 0.1},
              "value_per_cx_point": {"estimate": 4000.0, "ci": [3000.0, 5000.0], "unit": "USD per year",
                                     "customers_per_year": 1000.0, "value_per_customer": 500.0}, "what_if": []}
    w = whatif_from_inputs(_inputs(ROWS), agents=2, drivers=_drivers(), business_impact=impact, same_scale=True,
                           n_draws=4000)
    seg = w.segments[0]
    cx = seg["cx_change"]["estimate"]
    assert seg["churn_change"]["estimate"] == pytest.approx(cx * -0.8)
    assert seg["value_change"]["estimate"] == pytest.approx(cx * 4000.0)     # the link's value of a point
    lo, hi = seg["value_change"]["ci"]
    assert lo < seg["value_change"]["estimate"] < hi
    # on different scales the same link gives no chain for ASA: null, with a note
    w = whatif_from_inputs(_inputs(ROWS), agents=2, drivers=_drivers(), business_impact=impact)
    assert w.segments[0]["churn_change"] is None and any("no chain" in n for n in w.notes)


def test_a_study_with_a_staffing_source_uses_its_agents(tmp_path):
    """[data.staffing] gives the what-if's and the Decisions' agents on duty (agents_source
    "staffing", no warning); without it they are the on-duty estimate, with its named warning."""
    import dataclasses
    import warnings
    from types import SimpleNamespace
    from conftest import STUDY
    from alignment.exceptions import AgentsInferredWarning
    from alignment.simulate import simulate
    from alignment.staffing.whatif import decisions, whatif
    from alignment.study import load_study
    simulate(tmp_path, seed=3, days=7, queues=2, contacts_per_day=150, queue=True, wait_effect="contact")
    (tmp_path / "staffed.toml").write_text(STUDY.format(outcome="csat") + '\n[data.staffing]\npath = "staffing.csv"\n')
    (tmp_path / "inferred.toml").write_text(STUDY.format(outcome="csat"))
    plan = pd.read_csv(tmp_path / "staffing.csv", parse_dates=["time"])
    chosen = plan[(plan["queue"] == "billing") & (plan["time"].dt.hour == 10) & (plan["time"].dt.day_of_week == 0)]

    def result(toml, **change):
        return SimpleNamespace(study=dataclasses.replace(load_study(tmp_path / toml), **change), panel=None,
                               drivers=_drivers(), families=[], business_impact=None)

    with warnings.catch_warnings():
        warnings.simplefilter("error", AgentsInferredWarning)
        staffed = whatif(result("staffed.toml"), agents=1, segment="billing", hours="10-11", days="mon")
    agents = staffed.segments[0]["agents"]
    assert agents["source"] == "staffing" and len(chosen) == 1
    assert agents["before"] == pytest.approx(chosen["agents"].mean()) and agents["after"] == agents["before"] + 1
    assert not any("inferred" in n for n in staffed.notes)
    with pytest.warns(AgentsInferredWarning):
        inferred = whatif(result("inferred.toml"), agents=1, segment="billing", hours="10-11", days="mon")
    assert inferred.segments[0]["agents"]["source"] == "inferred"
    assert inferred.segments[0]["agents"]["before"] != pytest.approx(agents["before"])
    assert any("inferred from agent_id" in n and "[data.staffing]" in n for n in inferred.notes)
    # the Decisions table reads its inputs the same way (study_inputs) and says where the agents came from
    cells = _inputs(ROWS)
    d = decisions(_fake_result(20.0, _drivers(asa=("validated", -3.0, [-4.0, -2.0], None))), inputs=cells,
                  max_agents=1, n_draws=200)
    assert "agents on duty from the staffing source ([data.staffing])" in d.notes


def _mmnm_waits(agents, arrivals, service, patience):
    """Waits of an M/M/N+M queue served first come first served, by event: each customer's virtual
    wait is the time until the first agent is free; who waits longer than the patience hangs up
    (NaN) and takes no agent."""
    import heapq
    free = [0.0] * agents
    waits = np.full(len(arrivals), np.nan)
    for i, (t, s, p) in enumerate(zip(arrivals, service, patience)):
        v = max(free[0] - t, 0.0)
        if v <= p:
            waits[i] = v
            heapq.heapreplace(free, t + v + s)
    return waits


def _hinge(waits, offset=1.0, slope=-0.01, tau=30.0, cov=1e-12, day="2025-01-06"):
    from alignment.contact import WaitHinge
    n = len(waits)
    return WaitHinge(threshold=tau, threshold_ci=(tau, tau), shape="flat", coef=np.array([0.0, slope]),
                     cov=np.eye(2) * cov, grid=np.array([tau]), coefs=np.array([[0.0, slope]]), weight=np.array([1.0]),
                     offset=np.full(n, offset), wait=np.asarray(waits, float), segment=np.full(n, "q", dtype=object),
                     day=np.full(n, np.datetime64(day), dtype="datetime64[ns]"))


def test_the_logit_hinge_integrated_over_erlang_a_waits_against_a_simulated_queue():
    """Reference: an M/M/N+M queue simulated customer by customer (150,000 arrivals, the same
    arrivals, service times and patience with 8 and with 10 agents) against the what-if's CX change,
    P(yes | wait) = expit(1 - 0.01 (w - 30)+) integrated over Erlang A's answered waits."""
    rate, handle, patience = 120.0, 240.0, 250.0
    rng = np.random.default_rng(5)
    n = 150_000
    arrivals = np.cumsum(rng.exponential(3600 / rate, n))
    service, pat = rng.exponential(handle, n), rng.exponential(patience, n)
    before, after = (_mmnm_waits(k, arrivals, service, pat)[n // 10:] for k in (8, 10))   # without the warm-up

    def share(w):
        w = w[np.isfinite(w)]
        return float(np.mean(1 / (1 + np.exp(-(1.0 - 0.01 * np.maximum(w - 30, 0))))))

    k = erlang_a(8, arrival_rate_per_h=rate, mean_handle_s=handle, patience_s=patience)
    row = dict(period_start="2025-01-06 10:00", offered=120, abandoned=120 * k.p_abandon,
               answered_within_t=60, wait_answered_s=120 * (1 - k.p_abandon) * k.asa_s, mean_handle_s=handle,
               patience_s=patience, agents=8.0)
    hinge = _hinge(rng.choice(before[np.isfinite(before)], 20_000))
    drivers = _drivers(asa=("validated", -1.5, [-2.0, -1.0], 30.0))
    result = whatif_from_inputs(_inputs([row]), agents=2, days="mon", drivers=drivers, wait_hinge=hinge, n_draws=200)
    assert result.change["days"] == "mon"
    w = result.segments[0]
    simulated = 100 * (share(after) - share(before))
    assert simulated > 3
    assert w["queue_misfit"] == pytest.approx(0.0, abs=1e-9)
    assert w["cx_change"]["estimate"] == pytest.approx(simulated, rel=0.05)
    assert "logit hinge" in w["kpis"]["asa"]["reason"]
    # the KPIs are Erlang A's, as without the hinge
    plain = whatif_from_inputs(_inputs([row]), agents=2, drivers=drivers, n_draws=200).segments[0]
    assert w["kpis"]["asa"]["after"] == pytest.approx(plain["kpis"]["asa"]["after"])
    assert np.nanmean(before) - np.nanmean(after) == pytest.approx(plain["kpis"]["asa"]["before"]
                                                                  - plain["kpis"]["asa"]["after"], rel=0.05)


def test_the_hinges_cx_interval_widens_with_fewer_surveys():
    """The hinge of the contact model fitted on 12,000 and on 3,000 surveys of one world: with a
    quarter of the surveys the CX interval is about twice as wide, around about the same change
    (the interval observed as Erlang A predicts it: no misfit widens it)."""
    from alignment.contact import fit_contact_model
    rng = np.random.default_rng(11)

    def hinge(n):
        f = pd.DataFrame({"period": rng.integers(0, 40, n), "queue": "q", "hour": rng.integers(8, 18, n),
                          "wait_s": rng.exponential(60, n)})
        p = 1 / (1 + np.exp(-(1.2 - 0.02 * np.maximum(f["wait_s"] - 60, 0))))
        f["csat"] = np.where(rng.random(n) < p, 5, 2)
        return fit_contact_model(f, "csat", logit=False).wait_hinge

    r = ROWS[0]
    k = erlang_a(r["agents"], arrival_rate_per_h=r["offered"], mean_handle_s=r["mean_handle_s"],
                 patience_s=r["patience_s"])
    rows = [dict(r, abandoned=r["offered"] * k.p_abandon, wait_answered_s=r["offered"] * (1 - k.p_abandon) * k.asa_s)]
    widths, estimates = [], []
    for n in (12_000, 3_000):
        h = hinge(n)
        assert h is not None and 40 <= h.threshold <= 80
        drivers = _drivers(asa=("validated", -1.5, [-2.0, -1.0], h.threshold))
        cx = whatif_from_inputs(_inputs(rows), agents=2, drivers=drivers, wait_hinge=h, n_draws=2000,
                                seed=3).segments[0]["cx_change"]
        widths.append(cx["ci"][1] - cx["ci"][0])
        estimates.append(cx["estimate"])
    assert widths[1] > 1.4 * widths[0]
    assert estimates[1] == pytest.approx(estimates[0], rel=0.3)
