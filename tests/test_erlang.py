"""Erlang C and Erlang A against references computed another way.

Erlang C: textbook values (the Erlang C table value C(11 agents, 10 Erlangs) = 0.6821, M/M/1
``C = rho`` and M/M/2 ``C = 2 rho^2 / (1 + rho)``) and, at hundreds and thousands of agents, the
definition itself in exact rational arithmetic (Python integers: sum of A^k / k!, no floating
point), which the module never uses.

Erlang A: the M/M/N+M birth-death chain solved directly here, truncated at a long queue, its
stationary distribution normalised in logarithms; the service level from the tagged customer's
absorbing Markov chain (states: customers ahead of it; absorbing: answered, abandoned) by a
matrix exponential, and the mean wait of answered customers from its fundamental matrix. The
module instead integrates the closed-form density of the virtual wait. Then the limits (infinite
patience gives Erlang C, no agents means everyone abandons), the fluid limit of an overloaded
queue of thousands of agents (abandonment 1 - N mu / lambda), and the Garnett-Mandelbaum-Reiman
(2002) QED approximation of the probability of waiting at N = 1000.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.stats import norm

from alignment.exceptions import OptionError
from alignment.staffing import erlang_a, erlang_c, required_agents


def exact_erlang_c(n: int, load: int) -> float:
    """C(n, A) from its definition, A an integer number of Erlangs, in exact rationals."""
    term, total = Fraction(1), Fraction(0)
    terms = []
    for k in range(n):
        terms.append(term)
        term = term * load / (k + 1)
    total = sum(terms)
    last = term * Fraction(n, n - load)  # A^n / n! * n / (n - A)
    return float(last / (total + last))


def chain_reference(n: int, lam: float, mu: float, theta: float, t: float, max_queue: int = 400):
    """(p_wait, p_abandon, p_within_t, asa) of M/M/n+M from the truncated chain, rates per second."""
    states = n + max_queue + 1
    death = np.array([min(k, n) * mu + max(k - n, 0) * theta for k in range(1, states)])
    logw = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death))])
    pi = np.exp(logw - logw.max())
    pi /= pi.sum()
    assert pi[-1] < 1e-14  # the truncation is harmless
    p_wait = pi[n:].sum()
    queue = np.arange(states) - n
    p_abandon = theta * (pi[n:] * queue[n:]).sum() / lam
    # The tagged customer finds m queued (state n + m): m ahead of it. Transient states j = 0..M
    # (customers ahead), then answered, abandoned.
    m_max = max_queue
    size = m_max + 1
    q = np.zeros((size + 2, size + 2))
    for j in range(size):
        if j == 0:
            q[j, size] = n * mu
        else:
            q[j, j - 1] = n * mu + j * theta
        q[j, size + 1] = theta
        q[j, j] = -(n * mu + j * theta + theta)
    start = pi[n:n + size] / pi[n:n + size].sum() * p_wait
    answered_by_t = start @ expm(q * t)[:size, size]
    p_within = (1 - p_wait) + answered_by_t
    # E[wait * 1{answered}]: expected time in transient states before absorption in "answered"
    qt = q[:size, :size]
    to_answer = -np.linalg.solve(qt, q[:size, size])          # P(answered | start j)
    time_weighted = -np.linalg.solve(qt, to_answer)           # E[T 1{answered} | j]
    asa = (start @ time_weighted) / (1 - p_abandon)
    return p_wait, p_abandon, p_within, asa


# ---------------------------------------------------------------------------
# Erlang C
# ---------------------------------------------------------------------------

def test_erlang_c_textbook_table_value():
    # 10 Erlangs (360 calls an hour of 100 s) on 11 agents: the classic table entry 0.6821
    k = erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100)
    assert k.p_wait == pytest.approx(0.6821, abs=5e-5)
    assert k.asa_s == pytest.approx(0.6821182 / (11 / 100 - 0.1), rel=1e-6)  # C / (N mu - lambda)
    assert k.p_within_t == pytest.approx(1 - 0.6821182 * math.exp(-0.01 * 20), rel=1e-6)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_erlang_c_small_systems_closed_forms(rho):
    one = erlang_c(1, arrival_rate_per_h=rho * 3600, mean_handle_s=1)
    two = erlang_c(2, arrival_rate_per_h=2 * rho * 3600, mean_handle_s=1)
    assert one.p_wait == pytest.approx(rho, rel=1e-12)
    assert two.p_wait == pytest.approx(2 * rho ** 2 / (1 + rho), rel=1e-12)


@pytest.mark.parametrize("n,load", [(12, 10), (105, 100), (560, 500), (2050, 2000)])
def test_erlang_c_matches_exact_rationals_at_large_n(n, load):
    k = erlang_c(n, arrival_rate_per_h=load * 36, mean_handle_s=100)
    assert k.p_wait == pytest.approx(exact_erlang_c(n, load), rel=1e-9)


def test_erlang_c_overloaded_queue_never_clears():
    k = erlang_c(9, arrival_rate_per_h=360, mean_handle_s=100)
    assert (k.p_wait, k.p_within_t, k.asa_s) == (1.0, 0.0, math.inf)


# ---------------------------------------------------------------------------
# Erlang A
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,per_h,handle,patience", [
    (11, 360, 100, 300),      # a little over capacity without abandonment's help
    (20, 600, 120, 60),       # impatient, 100 % offered load
    (8, 500, 90, 600),        # overloaded (12.5 Erlangs on 8)
    (30, 700, 150, 258),      # the Anonymous Bank's regular patience
])
def test_erlang_a_matches_the_chain_solved_directly(n, per_h, handle, patience):
    k = erlang_a(n, arrival_rate_per_h=per_h, mean_handle_s=handle, patience_s=patience, threshold_s=20)
    p_wait, p_abandon, p_within, asa = chain_reference(n, per_h / 3600, 1 / handle, 1 / patience, 20.0)
    assert k.p_wait == pytest.approx(p_wait, rel=1e-7)
    assert k.p_abandon == pytest.approx(p_abandon, rel=1e-7)
    assert k.p_within_t == pytest.approx(p_within, rel=1e-7)
    assert k.asa_s == pytest.approx(asa, rel=1e-6)
    assert k.mean_wait_s == pytest.approx(p_abandon * patience, rel=1e-7)  # Little + theta E[Q] = lambda P(ab)


def test_infinite_patience_gives_erlang_c():
    c = erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100)
    a = erlang_a(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=math.inf)
    assert a == c
    nearly = erlang_a(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=1e10)
    assert nearly.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert nearly.asa_s == pytest.approx(c.asa_s, rel=1e-5)
    assert nearly.p_within_t == pytest.approx(c.p_within_t, rel=1e-6)
    assert nearly.p_abandon < 1e-6


def test_zero_agents_everyone_abandons():
    k = erlang_a(0, arrival_rate_per_h=100, mean_handle_s=180, patience_s=200)
    assert (k.p_abandon, k.p_within_t, k.p_wait, k.occupancy) == (1.0, 0.0, 1.0, 0.0)
    assert math.isnan(k.asa_s)
    assert k.mean_wait_s == pytest.approx(200)


def test_overloaded_thousands_of_agents_follow_the_fluid_limit():
    # 3000 Erlangs offered to 2000 agents: abandonment -> 1 - N mu / lambda = 1/3 as N grows
    k = erlang_a(2000, arrival_rate_per_h=3000 * 36, mean_handle_s=100, patience_s=60)
    assert k.p_abandon == pytest.approx(1 / 3, abs=2e-3)
    assert k.p_wait == pytest.approx(1.0, abs=1e-9)
    assert k.occupancy == pytest.approx(1.0, abs=1e-3)


def test_qed_regime_at_a_thousand_agents_matches_garnett_mandelbaum_reiman():
    # P(wait) ~ [1 + sqrt(theta / mu) h(beta sqrt(mu / theta)) / h(-beta)]^-1, h = phi / (1 - Phi)
    mu, theta, n = 1 / 100, 1 / 400, 1000
    for load in (1016.0, 1000.0, 984.0, 969.0):
        beta = (n - load) / math.sqrt(load)
        h = lambda x: norm.pdf(x) / norm.sf(x)  # noqa: E731
        r = math.sqrt(theta / mu)
        approx = 1 / (1 + r * h(beta / r) / h(-beta))
        k = erlang_a(n, arrival_rate_per_h=load * mu * 3600, mean_handle_s=100, patience_s=400)
        assert k.p_wait == pytest.approx(approx, abs=0.02)


@pytest.mark.parametrize("n", [300, 1000, 5000])
def test_stable_and_monotone_at_large_n(n):
    kpis = [erlang_a(m, arrival_rate_per_h=n * 36, mean_handle_s=100, patience_s=300)
            for m in (n - 20, n, n + 20, n + 100)]
    for k in kpis:
        assert all(math.isfinite(v) for v in (k.p_wait, k.p_abandon, k.p_within_t, k.asa_s))
        assert 0 <= k.p_abandon <= k.p_wait <= 1 and 0 <= k.p_within_t <= 1
    assert [k.p_abandon for k in kpis] == sorted([k.p_abandon for k in kpis], reverse=True)
    assert [k.p_within_t for k in kpis] == sorted(k.p_within_t for k in kpis)


def test_fractional_agents_interpolate_between_whole_counts():
    lo, hi = (erlang_a(m, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300) for m in (10, 11))
    mid = erlang_a(10.25, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300)
    assert mid.p_abandon == pytest.approx(0.75 * lo.p_abandon + 0.25 * hi.p_abandon)


# ---------------------------------------------------------------------------
# Staffing for a target
# ---------------------------------------------------------------------------

def test_required_agents_is_the_first_count_that_meets_the_target():
    for target in (dict(service_level=0.8), dict(asa_s=15), dict(abandon_rate=0.03)):
        n = required_agents(arrival_rate_per_h=360, mean_handle_s=100, patience_s=300, **target)
        ok = []
        for m in (n - 1, n):
            k = erlang_a(m, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300)
            ok.append((k.p_within_t >= target.get("service_level", 0))
                      and k.asa_s <= target.get("asa_s", math.inf)
                      and k.p_abandon <= target.get("abandon_rate", 1))
        assert ok == [False, True]


def test_required_agents_erlang_c_textbook():
    # 10 Erlangs, 80 % within 20 s: the Erlang C table gives 13 agents (12 reach only 75.6 %)
    assert required_agents(arrival_rate_per_h=360, mean_handle_s=100, service_level=0.8) == 13
    assert erlang_c(12, arrival_rate_per_h=360, mean_handle_s=100).p_within_t < 0.8


def test_required_agents_large_center_is_fast_and_right():
    n = required_agents(arrival_rate_per_h=4000 * 36, mean_handle_s=100, patience_s=300, service_level=0.9)
    assert erlang_a(n, arrival_rate_per_h=4000 * 36, mean_handle_s=100, patience_s=300).p_within_t >= 0.9
    assert erlang_a(n - 1, arrival_rate_per_h=4000 * 36, mean_handle_s=100, patience_s=300).p_within_t < 0.9


def test_bad_parameters_are_option_errors():
    with pytest.raises(OptionError, match="agents"):
        erlang_a(-1, arrival_rate_per_h=1, mean_handle_s=1)
    with pytest.raises(OptionError, match="patience_s"):
        erlang_a(1, arrival_rate_per_h=1, mean_handle_s=1, patience_s=0)
    with pytest.raises(OptionError, match="target"):
        required_agents(arrival_rate_per_h=1, mean_handle_s=1)
    with pytest.raises(OptionError, match="service_level"):
        required_agents(arrival_rate_per_h=1, mean_handle_s=1, service_level=80)


def test_very_patient_customers_in_an_overloaded_queue(recwarn):
    # theta -> 0 with lambda > N mu: the queue grows until abandonment takes the excess, P(ab) -> 1 - 1/rho
    for n in (1, 10, 500):
        k = erlang_a(n, arrival_rate_per_h=1.2 * n * 3600, mean_handle_s=1, patience_s=1e7)
        assert k.p_abandon == pytest.approx(1 - 1 / 1.2, rel=1e-3)
        assert k.p_wait == pytest.approx(1.0) and k.occupancy == pytest.approx(1.0, abs=1e-3)
    # and customers who hang up at once: only those who find a free agent are answered
    k = erlang_a(50, arrival_rate_per_h=1800, mean_handle_s=100, patience_s=1e-9)
    assert k.p_abandon == pytest.approx(k.p_wait, rel=1e-6)
    assert not [w for w in recwarn if "Integration" in w.category.__name__]
