"""Erlang C (M/M/N) and Erlang A (M/M/N+M): the queue's KPIs for N agents, and the staffing for a target.

Erlang A (Palm 1943; Garnett, Mandelbaum & Reiman 2002) is Erlang C with impatient customers:
each waiting customer hangs up after an exponential patience of mean ``patience_s``. Both are
computed here without factorials, in a numerically stable way at any N:

- the Erlang B blocking probability by its recursion, in logarithms
  (``log 1/B(k) = log(1 + (k / R) / B(k - 1))``), never ``R**N / N!``;
- for Erlang A, every KPI is an integral of the closed-form density of the *virtual* wait V (the
  wait of a customer with infinite patience) over its continuous part. A customer who finds all N
  agents busy and m customers queued waits a sum of exponential stages of rates ``N mu + i theta``
  (i = m .. 0); summing these over the stationary queue gives, for v > 0,

      g(v) = pi_N * N mu * exp(-N mu v + (lambda / theta) (1 - exp(-theta v))),

  with ``pi_N = B / (1 + (J - 1) B)`` and ``J = integral of g / pi_N`` (Mandelbaum & Zeltyn 2007,
  "Service engineering in action: the Palm/Erlang-A queue"). The integrand is log-concave, so each
  integral is taken by adaptive quadrature around its single peak, scaled by the peak's logarithm
  (no overflow when the queue is heavily overloaded). With patience tau ~ Exp(theta) independent
  of V, the wait is ``min(V, tau)``, a customer is answered when ``V <= tau`` (probability
  ``E exp(-theta V)``) and answered within T when ``V <= min(tau, T)``.

Erlang C is the limit ``theta -> 0`` and has closed forms; with ``lambda >= N mu`` its queue grows
without bound (every customer waits, ASA is infinite). Fractional agent counts (a time-average of
agents on duty) are interpolated linearly between the two whole counts around them.

References
----------
Garnett, O., Mandelbaum, A. & Reiman, M. (2002). Designing a call center with impatient
customers. *Manufacturing & Service Operations Management* 4(3), 208-227.
Mandelbaum, A. & Zeltyn, S. (2007). Service engineering in action: the Palm/Erlang-A queue, with
applications to call centers. In *Advances in Services Innovations*, Springer, 17-45.

Examples
--------
>>> from alignment.staffing import erlang_a, erlang_c, required_agents
>>> round(erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100).p_wait, 4)
0.6821
>>> kpis = erlang_a(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300)
>>> kpis.p_abandon < 0.1 and kpis.asa_s < erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100).asa_s
True
>>> required_agents(arrival_rate_per_h=360, mean_handle_s=100, service_level=0.8, threshold_s=20)
13
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..exceptions import OptionError

__all__ = ["QueueKPIs", "erlang_a", "erlang_c", "required_agents", "answered_wait_beyond", "answered_wait_mass",
           "WAIT_EDGES"]

#: The integrals stop where the integrand has fallen below exp(-TAIL) of its peak.
TAIL = 60.0
#: Largest staffing ``required_agents`` searches.
MAX_AGENTS = 1_000_000


@dataclass(frozen=True)
class QueueKPIs:
    """The stationary KPIs of one queue with ``agents`` agents (probabilities as fractions 0-1).

    ``p_wait``: an arriving customer finds every agent busy. ``p_abandon``: hangs up before an
    agent answers. ``p_within_t``: is answered within ``threshold_s`` seconds (of all offered, as
    the catalog's ``service_level`` variant ``offered``). ``asa_s``: the mean wait of answered
    customers (NaN when nobody is answered, infinite for an overloaded Erlang C queue).
    ``mean_wait_s``: the mean wait of all customers. ``occupancy``: the share of agent time busy.
    """

    agents: float
    arrival_rate_per_h: float
    mean_handle_s: float
    patience_s: float
    threshold_s: float
    p_wait: float
    p_abandon: float
    p_within_t: float
    asa_s: float
    mean_wait_s: float
    occupancy: float

    def to_dict(self) -> dict:
        """The fields, with NaN and infinity as None (JSON has neither)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _check(agents, arrival_rate_per_h, mean_handle_s, patience_s, threshold_s) -> None:
    for name, value, low in (("agents", agents, 0), ("arrival_rate_per_h", arrival_rate_per_h, 0),
                             ("threshold_s", threshold_s, 0)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < low:
            raise OptionError(f"The '{name}' parameter must be a finite number >= {low}. Got {value!r} instead.")
    for name, value in (("mean_handle_s", mean_handle_s), ("patience_s", patience_s)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value <= 0:
            raise OptionError(f"The '{name}' parameter must be a number > 0. Got {value!r} instead.")
    if math.isinf(mean_handle_s):
        raise OptionError("The 'mean_handle_s' parameter must be finite.")


def _log_inv_erlang_b(n: int, load: float) -> float:
    """log(1 / B(n, load)), B the Erlang B blocking probability, by the stable recursion."""
    log_inv = 0.0
    if load <= 0:
        return math.inf if n > 0 else 0.0
    log_load = math.log(load)
    for k in range(1, n + 1):
        log_inv = _softplus(math.log(k) - log_load + log_inv)
    return log_inv


def _log_expm1(x: float) -> float:
    """log(exp(x) - 1) for x > 0 without overflow."""
    return x + math.log1p(-math.exp(-x)) if x > 1 else math.log(math.expm1(x))


def _softplus(x: float) -> float:
    """log(1 + exp(x)) without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _phi(z: float) -> float:
    """z + expm1(-z) = z^2/2 - z^3/6 + ..., by its series where the two terms would cancel."""
    if abs(z) < 1e-3:
        return z * z * (0.5 - z * (1 / 6 - z * (1 / 24 - z / 120)))
    return z + math.expm1(-z)


def _phi_array(z):
    """:func:`_phi` on a numpy array."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-3
    zs = np.where(small, z, 0.0)
    return np.where(small, zs * zs * (0.5 - zs * (1 / 6 - zs * (1 / 24 - zs / 120))), z + np.expm1(-z))


def _whole(n: int, lam: float, mu: float, theta: float, t: float) -> tuple[float, ...]:
    """(p_wait, p_abandon, p_within_t, asa_s, mean_wait_s, occupancy) for a whole number n of agents."""
    return _queue(n, lam, mu, theta, t, None)[:6]


@dataclass(frozen=True)
class _VirtualWait:
    """The continuous part of the virtual wait V of an Erlang A queue with whole ``n`` agents.

    ``p_wait`` = P(V > 0); on v > 0 the density of V is ``p_wait * exp(dh(v)) / whole``, exp(dh)
    the integrand scaled by its peak, negligible (below exp(-TAIL)) outside [lo, hi];
    ``integral(f, upper)`` is the scaled integral of f(v) exp(dh(v)) up to ``upper``.
    """

    p_wait: float
    theta: float
    dh: object
    lo: float
    hi: float
    integral: object
    whole: float

    def density(self, v):
        """The density of V at the points ``v > 0`` (numpy), per customer offered."""
        v = np.asarray(v, dtype=float)
        inside = (v >= self.lo) & (v <= self.hi)
        out = np.zeros_like(v)
        out[inside] = self.p_wait * np.exp(self.dh(v[inside])) / self.whole
        return out


def _virtual_wait(n: int, lam: float, mu: float, theta: float, log_inv_b: float) -> _VirtualWait:
    """:class:`_VirtualWait` of Erlang A (theta > 0, lam > 0, n >= 1); ``log_inv_b`` = log 1/B(n, lam/mu)."""
    from scipy.integrate import quad

    a = n * mu
    peak = math.log(lam / a) / theta if lam > a else 0.0
    # h(v) - h(peak), written without subtracting large numbers: with d = v - peak and
    # phi(z) = z + expm1(-z), it is -slope d - (rate / theta) phi(theta d), where rate = lambda e^(-theta peak)
    rate = min(lam, a)
    slope = a - rate

    def dh(v):
        d = v - peak
        return -slope * d - rate / theta * (_phi(theta * d) if np.ndim(d) == 0 else _phi_array(theta * d))

    h_max = -a * peak + (lam / theta) * -math.expm1(-theta * peak)
    # where the integrand exp(dh) is above exp(-TAIL): dh is concave, with slope tending to -a on the
    # right, so doubling the distance from the peak brackets each end, and bisection finds it
    width = max(1.0 / a, 1.0 / math.sqrt(theta * a))
    hi = peak + width
    while dh(hi) > -TAIL:
        hi = peak + 2 * (hi - peak)
    lo = 0.0
    if peak > 0 and dh(0.0) < -TAIL:
        a_, b_ = 0.0, peak
        while b_ - a_ > 1e-9 * max(peak, 1.0):
            mid = 0.5 * (a_ + b_)
            a_, b_ = (mid, b_) if dh(mid) < -TAIL else (a_, mid)
        lo = a_
    scale = 1e-14 * width

    def integral(f, upper: float = math.inf) -> float:
        end = min(hi, upper)
        total = 0.0
        for lo_, hi_ in ((lo, min(peak, end)), (max(lo, min(peak, end)), end)):
            if hi_ > lo_:
                total += quad(lambda v: f(v) * math.exp(dh(v)), lo_, hi_, epsabs=scale, epsrel=1e-10,
                              limit=200)[0]
        return total  # times a exp(h_max)

    whole = integral(lambda v: 1.0)
    log_j = math.log(a) + h_max + math.log(whole)
    # P(V > 0) = J / (1/B - 1 + J); every other KPI is P(V > 0) times a ratio of integrals, in which
    # the scale a exp(h_max) cancels exactly
    p_wait = math.exp(-_softplus(_log_expm1(log_inv_b) - log_j)) if log_inv_b > 0 else 1.0

    return _VirtualWait(p_wait, theta, dh, lo, hi, integral, whole)


def _queue(n: int, lam: float, mu: float, theta: float, t: float, beyond: float | None) -> tuple[float, ...]:
    """:func:`_whole`'s six KPIs and a seventh: E[(W - beyond)+ ; answered], the wait of answered
    customers beyond ``beyond`` seconds per offered customer (NaN when ``beyond`` is None)."""
    nan = math.nan
    if lam == 0:
        return 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0
    if n == 0:  # nobody is answered: each customer waits until patience runs out
        return 1.0, (1.0 if theta > 0 else 0.0), 0.0, nan, (1 / theta if theta > 0 else math.inf), 0.0, 0.0
    load = lam / mu
    log_inv_b = _log_inv_erlang_b(n, load)
    a = n * mu
    if theta == 0:  # Erlang C
        if lam >= a:
            return 1.0, 0.0, 0.0, math.inf, math.inf, 1.0, math.inf
        rho = lam / a
        # 1 / C = 1 + (1 - rho) (1 / B - 1)
        log_inv_c = _softplus(math.log1p(-rho) + _log_expm1(log_inv_b)) if log_inv_b > 0 else 0.0
        c = math.exp(-log_inv_c)
        p_late = c * math.exp(-(a - lam) * t)
        asa = c / (a - lam)
        # the wait beyond b of an exponential wait is again exponential (memoryless)
        excess = c * math.exp(-(a - lam) * beyond) / (a - lam) if beyond is not None else nan
        return c, 0.0, 1.0 - p_late, asa, asa, rho, excess
    vw = _virtual_wait(n, lam, mu, theta, log_inv_b)
    p_wait, integral, whole = vw.p_wait, vw.integral, vw.whole

    def share(f, upper: float = math.inf) -> float:
        return p_wait * integral(f, upper) / whole

    p_abandon = share(lambda v: -math.expm1(-theta * v))
    served_late = share(lambda v: math.exp(-theta * v), t) if t > 0 else 0.0
    p_within = (1.0 - p_wait) + served_late
    wait_served = share(lambda v: v * math.exp(-theta * v))
    answered = 1.0 - p_abandon
    asa = wait_served / answered if answered > 0 else nan
    occupancy = lam * answered / a
    excess = nan
    if beyond is not None:
        excess = share(lambda v: (v - beyond) * math.exp(-theta * v)) - share(
            lambda v: (v - beyond) * math.exp(-theta * v), beyond) if beyond > 0 else wait_served
    return p_wait, p_abandon, min(p_within, 1.0), asa, p_abandon / theta, occupancy, excess


#: Bin edges (seconds) of the answered customers' waits (:func:`answered_wait_mass`): 2 s bins up to
#: 10 minutes, where a hinge in the customer's own wait sits, then 10 s to an hour and 1 min to 4 h.
WAIT_EDGES = np.concatenate([np.arange(0.0, 600.0, 2.0), np.arange(600.0, 3600.0, 10.0),
                             np.arange(3600.0, 14400.0 + 1.0, 60.0)])


def _answered_mass(n: int, lam: float, mu: float, theta: float) -> tuple[float, np.ndarray]:
    """(answered at once, answered after a wait in each bin of WAIT_EDGES), per customer offered, for
    whole ``n``; NaN for an unstable Erlang C queue (its waits grow without bound)."""
    bins = np.zeros(len(WAIT_EDGES) - 1)
    if lam == 0:
        return 1.0, bins
    if n == 0:
        return 0.0, bins
    log_inv_b = _log_inv_erlang_b(n, lam / mu)
    a = n * mu
    if theta == 0:   # Erlang C: the wait of those who wait is exponential with rate a - lam
        if lam >= a:
            return math.nan, bins + math.nan
        rho = lam / a
        c = math.exp(-_softplus(math.log1p(-rho) + _log_expm1(log_inv_b))) if log_inv_b > 0 else 1.0
        tail = np.exp(-(a - lam) * WAIT_EDGES)
        bins = c * (tail[:-1] - tail[1:])
        bins[-1] += c * tail[-1]     # beyond the last edge: counted in the last bin
        return 1.0 - c, bins
    vw = _virtual_wait(n, lam, mu, theta, log_inv_b)
    mid = 0.5 * (WAIT_EDGES[:-1] + WAIT_EDGES[1:])
    bins = vw.density(mid) * np.exp(-theta * mid) * np.diff(WAIT_EDGES)
    # the midpoint rule's mass, scaled to the exact share answered after a wait (P(V > 0, V <= patience))
    exact = vw.p_wait * vw.integral(lambda v: math.exp(-theta * v)) / vw.whole
    total = bins.sum()
    return 1.0 - vw.p_wait, (bins * (exact / total) if total > 0 else bins)


def answered_wait_mass(agents: float, *, arrival_rate_per_h: float, mean_handle_s: float,
                       patience_s: float = math.inf) -> tuple[float, np.ndarray]:
    """The distribution of the answered customers' waits under Erlang A, per customer offered.

    Returns ``(at_once, bins)``: the share answered without waiting (P(V = 0), the point mass at 0)
    and the share answered after a wait in each bin of :data:`WAIT_EDGES` (the density of the
    virtual wait times P(patience > V), integrated by the midpoint rule and scaled to the exact
    share). Their sum is 1 - ``p_abandon``. A fractional agent count is interpolated linearly, as
    in :func:`erlang_a`. What a model of the customer's own wait (a logit hinge) is integrated over.

    Examples
    --------
    >>> at_once, bins = answered_wait_mass(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300)
    >>> k = erlang_a(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300)
    >>> bool(round(at_once + bins.sum(), 6) == round(1 - k.p_abandon, 6))
    True
    """
    _check(agents, arrival_rate_per_h, mean_handle_s, patience_s, 0.0)
    lam = arrival_rate_per_h / 3600.0
    mu = 1.0 / mean_handle_s
    theta = 0.0 if math.isinf(patience_s) else 1.0 / patience_s
    return _answered_mass_mixed(agents, lam, mu, theta)


def _answered_mass_mixed(agents: float, lam: float, mu: float, theta: float) -> tuple[float, np.ndarray]:
    low = math.floor(agents)
    w = agents - low
    at_once, bins = _answered_mass(low, lam, mu, theta)
    if w > 0:
        up_once, up_bins = _answered_mass(low + 1, lam, mu, theta)
        at_once, bins = (1 - w) * at_once + w * up_once, (1 - w) * bins + w * up_bins
    return at_once, bins


def erlang_a(agents: float, *, arrival_rate_per_h: float, mean_handle_s: float, patience_s: float = math.inf,
             threshold_s: float = 20.0) -> QueueKPIs:
    """Erlang A (M/M/N+M): the KPIs of a queue whose customers abandon after an exponential patience.

    Parameters
    ----------
    agents : float
        Agents available to the queue, N >= 0; a fractional count is interpolated linearly
        between the whole counts around it (the ASA of 0 agents, undefined, takes that of 1).
    arrival_rate_per_h : float
        Offered contacts per hour, lambda.
    mean_handle_s : float
        Mean handle time 1/mu, seconds.
    patience_s : float, default inf
        Mean patience 1/theta, seconds; infinite gives Erlang C.
    threshold_s : float, default 20
        T of "answered within T" (``p_within_t``).

    Returns
    -------
    QueueKPIs

    Examples
    --------
    >>> k = erlang_a(0, arrival_rate_per_h=60, mean_handle_s=180, patience_s=120)
    >>> k.p_abandon, k.p_within_t
    (1.0, 0.0)
    >>> round(erlang_a(11, arrival_rate_per_h=360, mean_handle_s=100, patience_s=300).p_abandon, 4)
    0.0552
    """
    _check(agents, arrival_rate_per_h, mean_handle_s, patience_s, threshold_s)
    lam = arrival_rate_per_h / 3600.0
    mu = 1.0 / mean_handle_s
    theta = 0.0 if math.isinf(patience_s) else 1.0 / patience_s
    low = math.floor(agents)
    w = agents - low
    kpis = _whole(low, lam, mu, theta, threshold_s)
    if w > 0:
        upper = _whole(low + 1, lam, mu, theta, threshold_s)
        # the ASA of 0 agents (nobody answered) is undefined: take that of 1
        mixed = [z if math.isnan(x) else (1 - w) * x + w * z for x, z in zip(kpis, upper)]
        kpis = tuple(mixed)
    return QueueKPIs(float(agents), float(arrival_rate_per_h), float(mean_handle_s), float(patience_s),
                     float(threshold_s), *(float(k) for k in kpis))


def erlang_c(agents: float, *, arrival_rate_per_h: float, mean_handle_s: float,
             threshold_s: float = 20.0) -> QueueKPIs:
    """Erlang C (M/M/N): infinitely patient customers; :func:`erlang_a` with ``patience_s = inf``.

    With ``arrival_rate_per_h * mean_handle_s / 3600 >= agents`` the queue is unstable: every
    customer waits (``p_wait = 1``), ``asa_s`` is infinite and ``p_within_t`` is 0.

    Examples
    --------
    >>> round(erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100).asa_s, 2)
    68.21
    """
    return erlang_a(agents, arrival_rate_per_h=arrival_rate_per_h, mean_handle_s=mean_handle_s,
                    patience_s=math.inf, threshold_s=threshold_s)


def answered_wait_beyond(agents: float, *, arrival_rate_per_h: float, mean_handle_s: float, beyond_s: float,
                         patience_s: float = math.inf) -> float:
    """E[(W - beyond_s)+ | answered]: the mean wait of answered customers beyond ``beyond_s`` seconds.

    What a hinge in the customer's own wait (no effect up to a threshold, a slope beyond it) acts
    on; with ``beyond_s = 0`` it is the ASA. Erlang A (Erlang C with infinite patience), from the
    same density of the virtual wait as :func:`erlang_a`; a fractional agent count is interpolated
    as there (on the per-offered quantity, then divided by the interpolated share answered).

    Examples
    --------
    >>> k = erlang_c(11, arrival_rate_per_h=360, mean_handle_s=100)
    >>> round(answered_wait_beyond(11, arrival_rate_per_h=360, mean_handle_s=100, beyond_s=0), 2) == round(k.asa_s, 2)
    True
    """
    _check(agents, arrival_rate_per_h, mean_handle_s, patience_s, 0.0)
    if not isinstance(beyond_s, (int, float)) or isinstance(beyond_s, bool) or not (beyond_s >= 0) \
            or math.isinf(beyond_s):
        raise OptionError(f"The 'beyond_s' parameter must be a finite number >= 0. Got {beyond_s!r} instead.")
    lam = arrival_rate_per_h / 3600.0
    mu = 1.0 / mean_handle_s
    theta = 0.0 if math.isinf(patience_s) else 1.0 / patience_s
    low = math.floor(agents)
    w = agents - low
    parts = [(1 - w, _queue(low, lam, mu, theta, 0.0, float(beyond_s)))]
    if w > 0:
        parts.append((w, _queue(low + 1, lam, mu, theta, 0.0, float(beyond_s))))
    answered = sum(weight * (1.0 - k[1]) for weight, k in parts)
    excess = sum(weight * k[6] for weight, k in parts if weight > 0)
    return excess / answered if answered > 0 else math.nan


def required_agents(*, arrival_rate_per_h: float, mean_handle_s: float, patience_s: float = math.inf,
                    service_level: float | None = None, asa_s: float | None = None,
                    abandon_rate: float | None = None, threshold_s: float = 20.0) -> int:
    """The fewest whole agents that reach every given target.

    Parameters
    ----------
    arrival_rate_per_h, mean_handle_s, patience_s, threshold_s
        As :func:`erlang_a` (infinite patience: Erlang C).
    service_level : float, optional
        Target share (0-1) of offered contacts answered within ``threshold_s``.
    asa_s : float, optional
        Target mean wait of answered contacts, seconds.
    abandon_rate : float, optional
        Target share (0-1) of offered contacts that abandon.

    Each KPI improves with every agent added, so the answer is found by doubling and bisection.

    Examples
    --------
    >>> required_agents(arrival_rate_per_h=360, mean_handle_s=100, asa_s=10)
    13
    >>> required_agents(arrival_rate_per_h=360, mean_handle_s=100, patience_s=120, abandon_rate=0.05)
    12
    """
    targets = {"service_level": service_level, "asa_s": asa_s, "abandon_rate": abandon_rate}
    if all(v is None for v in targets.values()):
        raise OptionError("required_agents needs a target: service_level, asa_s or abandon_rate.")
    for name in ("service_level", "abandon_rate"):
        v = targets[name]
        if v is not None and not (isinstance(v, (int, float)) and 0 <= v <= 1):
            raise OptionError(f"The '{name}' parameter of required_agents must be a share between 0 and 1. "
                              f"Got {v!r} instead.")
    if asa_s is not None and not (isinstance(asa_s, (int, float)) and asa_s >= 0):
        raise OptionError(f"The 'asa_s' parameter of required_agents must be >= 0 seconds. Got {asa_s!r} instead.")
    if service_level is not None and service_level >= 1:
        raise OptionError("A service level of 1 (every contact within T) needs infinitely many agents; "
                          "give a target below 1.")
    if abandon_rate is not None and abandon_rate <= 0 and not math.isinf(patience_s):
        raise OptionError("An abandon rate of 0 needs infinitely many agents with impatient customers; "
                          "give a target above 0.")

    def meets(n: int) -> bool:
        k = erlang_a(n, arrival_rate_per_h=arrival_rate_per_h, mean_handle_s=mean_handle_s,
                     patience_s=patience_s, threshold_s=threshold_s)
        return ((service_level is None or k.p_within_t >= service_level)
                and (asa_s is None or (math.isfinite(k.asa_s) and k.asa_s <= asa_s))
                and (abandon_rate is None or k.p_abandon <= abandon_rate))

    load = arrival_rate_per_h * mean_handle_s / 3600.0
    low = 0
    high = max(1, math.ceil(load))
    while not meets(high):
        low = high
        high *= 2
        if high > MAX_AGENTS:
            raise OptionError(f"No staffing up to {MAX_AGENTS:,} agents reaches the target.")
    while high - low > 1:  # meets(high), and low fails (or is 0, checked below)
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid
    return 0 if low == 0 and meets(0) else high
