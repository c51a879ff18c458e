"""The contact-level driver model: each survey set beside its own contact.

A panel row's average wait stands in for every customer of the queue and period; most of the
variation in waiting is between the customers of one period, and the panel averages it away.
Here each survey is one observation, with the contact it rates:

* the outcome is coded from the CX metric (:func:`coding`): CSAT top-2-box as 0/100 (a linear
  probability model, effects in percentage points) with a logit beside it, NPS as +100/0/-100
  (effects in NPS points) with promoter and detractor shares beside it, CES, a CIS or a mean
  score linearly on their own scale;
* the regressors are the contact's own measures (``wait_s``, ``handle_s``, ``transferred``,
  ``resolved``; ``answered_within_t`` in a second fit in place of ``wait_s``, since both measure
  waiting);
* segment x day fixed effects (segment x period at day grain, or without contact times) absorb
  every confounder common to a segment's day or period (incidents, weekdays, drift, marketing,
  weather); the hour of day and the declared contact controls (reason, topic, channel, agent ...)
  are absorbed as fixed effects too;
* standard errors are clustered by segment x period (CRV1, t with G - 1 degrees of freedom).

One design (:func:`_design`) serves every fit of the model; :func:`contact_slopes` gives its
least-squares slopes with each survey's influence, the path from a contact measure to CX that
the business-impact link's mediation multiplies (:mod:`alignment.impact.mediation`).

pyfixest sweeps out the high-dimensional fixed effects (its alternating-projections demeaning,
weighted where a logit needs it); least squares, the logit (IRLS on the demeaned columns, every
factor absorbed) and the clustered sandwiches on the demeaned columns are a few lines here (see
:func:`_fit_lpm` for why not ``feols``, and :func:`_fit_logit`; the tests check them against
``feols`` and against statsmodels with explicit dummies). An ordinal score has, beside the linear
fit in points, a stacked fixed-effects ordered logit (:func:`_fe_ologit`).
The threshold on the customer's own wait is a continuous hinge on the logit scale of a yes/no
reading (flat below the breakpoint unless a slope below fits significantly better), profiled
over a grid with a profile-likelihood interval adjusted for the clustering, and reported when
the change of slope is significant after a Bonferroni correction over the grid
(:func:`_threshold_logit`); a score with no yes/no reading falls back to a least-squares hinge
with a cluster bootstrap (:func:`_threshold`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..catalog.codings import CODINGS
from ..exceptions import OptionError, SmallSampleWarning

#: Each contact-level measure and the KPI it speaks for, with the step its effect is quoted per.
MEASURES = {
    "wait_s": ("asa", 10.0, "each 10 s of the customer's own wait"),
    "answered_within_t": ("service_level", 1.0, "answered within the service-level threshold (vs not)"),
    "handle_s": ("aht", 30.0, "each 30 s of the contact's own handle time"),
    "transferred": ("transfer_rate", 1.0, "a transferred contact (vs not)"),
    "resolved": ("fcr", 1.0, "a contact resolved first time (vs not)"),
}
#: The KPI each measure speaks for.
KPI_OF = {m: kpi for m, (kpi, _, _) in MEASURES.items()}
TABLE = ["kpi", "variable", "effect", "ci_low", "ci_high", "p_value", "threshold", "threshold_ci_low",
         "threshold_ci_high", "n_surveys", "se", "step", "effect_unit", "n_clusters", "effect_above",
         "effect_above_ci_low", "effect_above_ci_high", "p_kink", "effect_logit", "ci_low_logit",
         "ci_high_logit", "p_value_logit"]


@dataclass(frozen=True)
class Coding:
    """How a survey score becomes the model's outcome: ``y = f(score)`` and what a unit of y is."""

    kind: str
    unit: str
    binary: bool
    top_box: tuple[float, float] | None = None
    higher_is_better: bool = True

    def values(self, score: pd.Series) -> np.ndarray:
        s = score.to_numpy(dtype=float)
        if self.kind == "top_box":
            lo, hi = self.top_box
            y = np.where((s >= lo) & (s <= hi), 100.0, 0.0)
        elif self.kind == "nps":
            y = np.where(s >= 9, 100.0, np.where(s <= 6, -100.0, 0.0))
        elif self.kind == "promoters":
            y = np.where(s >= 9, 100.0, 0.0)
        elif self.kind == "detractors":
            y = np.where(s <= 6, 100.0, 0.0)
        else:
            y = s.copy()
        y[~np.isfinite(s)] = np.nan
        return y


def coding(outcome: str, metric=None, kind: str = "auto") -> Coding:
    """The outcome coding of a CX metric.

    Parameters
    ----------
    outcome : str
        The survey score column (``csat``, ``nps``, ``ces``, a composite ...).
    metric : SurveyMetric or CompositeScore, optional
        Its declaration; default the built-in one of that name, else a mean score.
    kind : {"auto", "top_box", "mean", "ordinal", "nps", "promoters", "detractors"}
        ``auto``: top box for a metric with a top box (CSAT: 4-5 of 1-5), NPS coding for an NPS
        metric, the score itself otherwise. ``ordinal``: the score's categories in order (CSAT
        1-5), fitted linearly in points and by a fixed-effects ordered logit beside it.

    Examples
    --------
    >>> coding("csat").kind, coding("csat").unit
    ('top_box', 'top-2-box percentage points')
    >>> coding("nps").unit
    'NPS points'
    """
    from ..catalog import builtin_survey_metrics
    if kind not in CODINGS:
        raise OptionError(f"The outcome coding of the contact model must be one of {', '.join(CODINGS)}. "
                          f"Got {kind!r} instead.")
    metric = metric if metric is not None else builtin_survey_metrics().get(outcome)
    agg = getattr(metric, "aggregation", "mean")
    box = getattr(metric, "top_box", None)
    higher = bool(getattr(metric, "higher_is_better", True))
    if kind == "auto":
        kind = "nps" if agg == "nps" else "top_box" if box is not None else "mean"
    if kind == "top_box":
        if box is None:
            raise OptionError(f"'{outcome}' has no top box declared; code it as 'mean', or declare top_box.")
        width = int(box[1] - box[0] + 1)
        return Coding("top_box", f"top-{width}-box percentage points", True, tuple(box), higher)
    if kind in ("nps", "promoters", "detractors"):
        if agg != "nps" and metric is not None and getattr(metric, "scale", (0, 10)) != (0, 10):
            raise OptionError(f"'{outcome}' is not an NPS metric (0-10); code it as 'mean'.")
        if kind == "nps":
            return Coding("nps", "NPS points", False, None, True)
        return Coding(kind, f"percentage points of {kind}", True, None, kind == "promoters")
    scale = getattr(metric, "scale", None)
    unit = f"points ({scale[0]:g}-{scale[1]:g})" if scale else "points"
    return Coding(kind, unit, False, tuple(box) if box is not None else None, higher)


@dataclass(frozen=True, repr=False)
class WaitHinge:
    """The contact-level logit hinge in the customer's own wait, on the logit scale.

    ``logit P(yes | wait w) = offset + c0 [+ c_below w] + c_hinge (w - tau)+`` for a surveyed
    customer with ``offset`` (its fixed effects and other contact measures, from the fixed-effects
    logit; +inf or -inf for the surveys of cells all yes or all no, whose probability does not
    move). ``coef`` are the coefficients (intercept, [slope below,] hinge; per second) at the
    threshold ``threshold``, ``cov`` their covariance clustered by segment x period; the profile
    over candidate thresholds (``grid``) keeps each one's coefficients (``coefs``) and weight
    (``weight``, the profile likelihood exp(-(D - D_min) / (2 deff)) times the grid's spacing,
    summing to 1). ``offset``, ``wait``, ``segment`` and ``day`` (the contact's local day, NaT
    without contact times) are per survey.
    """

    threshold: float
    threshold_ci: tuple[float, float]
    shape: str
    coef: np.ndarray
    cov: np.ndarray
    grid: np.ndarray
    coefs: np.ndarray
    weight: np.ndarray
    offset: np.ndarray
    wait: np.ndarray
    segment: np.ndarray
    day: np.ndarray

    def linear(self, w, coef, tau):
        """The hinge's part of the logit at waits ``w`` for coefficients ``coef`` (rows: draws) and
        thresholds ``tau``: shape (draws, len(w))."""
        coef, tau, w = np.atleast_2d(coef), np.atleast_1d(tau)[:, None], np.asarray(w, float)[None, :]
        out = coef[:, :1] + coef[:, -1:] * np.maximum(w - tau, 0.0)
        return out + coef[:, 1:2] * w if self.shape == "two slopes" else out

    def draws(self, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
        """``(tau, coef)``: ``n`` thresholds from the profile likelihood, and for each the coefficients
        drawn normal around that threshold's fit with the clustered covariance."""
        k = rng.choice(len(self.grid), size=n, p=self.weight)
        noise = rng.multivariate_normal(np.zeros(len(self.coef)), self.cov, size=n, method="cholesky")
        return self.grid[k], self.coefs[k] + noise

    def to_dict(self) -> dict:
        names = ["intercept", *(["slope_below"] if self.shape == "two slopes" else []), "hinge"]
        return {"threshold": self.threshold, "threshold_ci": list(self.threshold_ci), "shape": self.shape,
                "coef": dict(zip(names, map(float, self.coef))),
                "se": dict(zip(names, map(float, np.sqrt(np.diag(self.cov))))), "unit": "logit per second",
                "n_surveys": int(len(self.offset))}


@dataclass
class ContactModelResult:
    """The contact-level model's estimates: one row per contact measure (``table``).

    Attributes
    ----------
    table : pandas.DataFrame
        ``kpi, variable, effect, ci_low, ci_high, p_value, threshold, threshold_ci_low,
        threshold_ci_high, n_surveys`` and the details: ``se``, ``step`` (the effect is per this
        many units of the variable; 1 for a yes/no measure), ``effect_unit``, ``n_clusters``,
        for the wait threshold ``effect_above`` (the slope above the threshold, per step, with its
        bootstrap interval) and ``p_kink`` (the change of slope, Bonferroni over the grid), and
        the logit reading of a binary outcome as an average marginal effect in the same unit.
    outcome, coding
        The CX metric and how it was coded.
    fixed_effects, controls, clustering : list of str
    n_surveys, n_clusters : int
    notes : list of str
    wait_curve : pandas.DataFrame or None
        With ``spline_df``: ``wait_s, effect, ci_low, ci_high``, the outcome against the
        customer's own wait relative to no wait (natural cubic spline).
    wait_hinge : WaitHinge or None
        The threshold's logit hinge on the logit scale, with its clustered covariance, profile
        and each survey's offset (a yes/no outcome with a threshold found), for the staffing
        what-if's CX change.
    """

    table: pd.DataFrame
    outcome: str
    coding: Coding
    fixed_effects: list[str]
    controls: list[str]
    clustering: str
    n_surveys: int
    n_clusters: int
    alpha: float = 0.05
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    wait_curve: pd.DataFrame | None = None
    wait_hinge: WaitHinge | None = None

    def row(self, kpi: str) -> pd.Series | None:
        """The table row of a KPI (None when no contact measure speaks for it)."""
        rows = self.table[self.table["kpi"] == kpi]
        return rows.iloc[0] if len(rows) else None

    def summary(self) -> str:
        lines = [f"Contact-level model of {self.outcome} ({self.coding.unit}): {self.n_surveys:,} surveys, "
                 f"{self.n_clusters:,} clusters",
                 f"  fixed effects: {' + '.join(self.fixed_effects)}; errors clustered by {self.clustering}"]
        for _, r in self.table.iterrows():
            ci = f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]"
            line = f"  {r['kpi']:<14} {r['variable']:<18} {r['effect']:+9.3g} {ci:<22} p = {r['p_value']:.2g}"
            if np.isfinite(r["threshold"]):
                line += (f"  threshold {r['threshold']:.0f} s [{r['threshold_ci_low']:.0f}, "
                         f"{r['threshold_ci_high']:.0f}]")
            lines.append(line)
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from ..validation.result import plain
        return plain({"outcome": self.outcome, "coding": self.coding.kind, "effect_unit": self.coding.unit,
                      "fixed_effects": self.fixed_effects, "controls": self.controls,
                      "clustering": self.clustering, "n_surveys": self.n_surveys, "n_clusters": self.n_clusters,
                      "alpha": self.alpha, "seed": self.seed, "notes": list(self.notes),
                      "rows": self.table.to_dict(orient="records"),
                      "wait_curve": None if self.wait_curve is None else self.wait_curve.to_dict(orient="records"),
                      "wait_hinge": None if self.wait_hinge is None else self.wait_hinge.to_dict()})

    def _repr_html_(self) -> str:
        cols = ["kpi", "variable", "effect", "ci_low", "ci_high", "p_value", "threshold", "n_surveys"]
        return (f"<p><b>Contact-level model of {self.outcome}</b> ({self.coding.unit}; "
                f"{self.n_surveys:,} surveys; fixed effects {' + '.join(self.fixed_effects)}; clustered by "
                f"{self.clustering})</p>" + self.table[cols].to_html(index=False, float_format="%.3g", na_rep=""))

    def __repr__(self) -> str:
        return self.summary()


def fit_contact_model(frame: pd.DataFrame, outcome: str, *, by: Sequence[str] = ("queue",),
                      period: str = "period", variables: Sequence[str] | None = None,
                      controls: Sequence[str] = ("hour",), contact_controls: Sequence[str] = (),
                      coding_kind: str = "auto", metric=None, threshold: bool = True, logit: bool = True,
                      spline_df: int = 0, by_day: bool = True,
                      n_boot: int = 199, seed: int | None = 0, alpha: float = 0.05,
                      steps: Mapping[str, float] | None = None) -> ContactModelResult:
    """Fit the contact-level model on a survey-level frame (pure computation).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per survey, as :func:`alignment.build_panel` gives it with ``contact_frame=True``:
        the outcome's score column, ``period``, the ``by`` columns and the contact measures.
    outcome : str
        The score column.
    by : sequence of str
        Segment columns; the fixed effects are segment x period.
    variables : sequence of str, optional
        Contact measures to estimate (keys of :data:`MEASURES`); default those in the frame.
    controls, contact_controls : sequence of str
        Categorical columns absorbed as fixed effects (default the hour of day; contact controls
        such as reason, topic or agent: without the reason, complex contacts that take longer
        and leave customers less happy make handle time look like a driver).
    coding_kind, metric
        See :func:`coding`.
    threshold : bool
        Search a breakpoint in the customer's own wait.
    logit : bool
        Also fit a logit (binary codings) and report its average marginal effects.
    spline_df : int
        With 3 or more, also fit the outcome against the customer's own wait as a natural cubic
        spline of that many degrees of freedom (``ContactModelResult.wait_curve``: the effect
        relative to no wait, with pointwise intervals); 0 (the default) for none.
    n_boot, seed
        Cluster-bootstrap replicates (and their seed) for the threshold's interval.
    alpha : float
    by_day : bool
        Fixed effects by segment x day (the contact's local day, from ``contact_ts``) rather than
        by segment x period, which absorbs the shocks of one day too (an incident, a weekday mood)
        at week or month grain; the errors stay clustered by segment x period, in which the days
        are nested. Without ``contact_ts`` in the frame, segment x period.
    steps : mapping variable -> step, optional
        The step each effect is quoted per (default: 10 s of wait, 30 s of handle time, yes/no).

    Returns
    -------
    ContactModelResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 4000
    >>> f = pd.DataFrame({"period": rng.integers(0, 20, n), "queue": rng.choice(list("abcd"), n),
    ...                   "hour": rng.integers(8, 18, n), "wait_s": rng.exponential(60, n),
    ...                   "resolved": rng.random(n) < 0.7})
    >>> p = 1 / (1 + np.exp(-(0.5 + 1.5 * f["resolved"] - 0.01 * f["wait_s"])))
    >>> f["csat"] = np.where(rng.random(n) < p, 5, 2)
    >>> res = fit_contact_model(f, "csat", threshold=False, logit=False)
    >>> bool(res.row("asa")["effect"] < 0 < res.row("fcr")["effect"])
    True
    """
    code = coding(outcome, metric, coding_kind)
    by = [by] if isinstance(by, str) else list(by)
    d = _design(frame, outcome, code, by=by, period=period, variables=variables, controls=controls,
                contact_controls=contact_controls, by_day=by_day)
    variables, data, flist, n_fixef, reading = d.variables, d.data, d.flist, d.n_fixef, d.reading
    absorbed, cells, n, G, notes = d.absorbed, d.cells, len(d.data), d.n_clusters, list(d.notes)
    steps = {v: MEASURES[v][1] for v in variables} | dict(steps or {})
    waits = [v for v in variables if v != "answered_within_t"]
    others = [v for v in waits if v != "wait_s"]
    fits = [waits] if waits else []
    if "answered_within_t" in variables:   # a second measure of waiting: fitted in place of wait_s
        fits.append(["answered_within_t", *others])
    rows = {}
    hinge = None
    fe_logit = None     # one fixed-effects logit serves the logit reading and the threshold search
    if code.binary and waits and (logit or (threshold and "wait_s" in waits)):
        fe_logit, why = _fe_logit(data, waits, flist, n_fixef)
        if why:
            notes.append(why)
    ordered = None      # the ordinal coding's ordered logit, beside the linear model in points
    if code.kind == "ordinal" and logit:
        ordered, why = _fe_ologit(data, fits[0] if fits else [], flist, n_fixef, alpha, steps)
        if why:
            notes.append(why)
        else:
            notes.append(ordered.pop("note"))
    for i, xs in enumerate(fits):
        est = _lpm(data, xs, flist, n_fixef, alpha)
        lg = _logit_rows(fe_logit, xs, alpha) if (logit and i == 0 and fe_logit is not None) else {}
        if i == 0 and ordered is not None:
            lg = ordered
        for v in xs:
            if v in rows or v not in est:
                continue
            b, se_v, p_v, lo, hi = est[v]
            s = steps[v]
            rows[v] = dict(kpi=KPI_OF[v], variable=v, effect=b * s, ci_low=lo * s, ci_high=hi * s, p_value=p_v,
                           se=se_v * s, n_surveys=n, n_clusters=G, step=s, effect_unit=code.unit,
                           **{k: (val * s if k != "p_value_logit" else val) for k, val in lg.get(v, {}).items()})
    if threshold and "wait_s" in variables:
        found = None
        if fe_logit is not None:
            found = _threshold_logit(data, "wait_s", fe_logit, steps["wait_s"], alpha, segments=d.segments)
        elif reading is not None:
            # a score on a wider scale: locate the breakpoint on its yes/no reading (promoters of an
            # NPS, the top box), where a logit hinge fits; the slope beyond it in the score's own unit
            yes = data.assign(y=data["y_yes"])
            fit_yes, _ = _fe_logit(yes, waits, flist, n_fixef)
            found = (_threshold_logit(yes, "wait_s", fit_yes, steps["wait_s"], alpha, segments=d.segments)
                     if fit_yes is not None else None)
            if found is not None and np.isfinite(found["threshold"]):
                found |= _slope_beyond(data, found, others, flist, n_fixef, steps["wait_s"], alpha)
                notes.append(f"the wait threshold is located on the {reading.kind.replace('_', ' ')} share (a logit "
                             f"hinge); the slope beyond it is in {code.unit}")
        if found is None:
            found = _threshold(data, "wait_s", others, absorbed, steps["wait_s"], n_boot, seed, alpha)
        found.pop("shape", None)
        hinge = found.pop("hinge", None)
        if fe_logit is None:   # located on a yes/no reading of a wider score: not the outcome's scale
            hinge = None
        rows["wait_s"].update(found)
        if not np.isfinite(rows["wait_s"].get("threshold", np.nan)):
            notes.append("no threshold in the customer's own wait: the change of slope is not significant "
                         "anywhere on the grid")
    curve = None
    if spline_df:
        if isinstance(spline_df, bool) or not isinstance(spline_df, int) or spline_df < 3:
            raise OptionError(f"The 'spline_df' parameter of the contact model must be 0 or a whole number of at "
                              f"least 3. Got {spline_df!r} instead.")
        if "wait_s" in variables:
            curve = _wait_curve(data, others, flist, n_fixef, spline_df, alpha)
    table = pd.DataFrame([rows[v] for v in variables if v in rows]).reindex(columns=TABLE)
    for c in TABLE[2:]:
        if c == "effect_unit":
            continue
        table[c] = pd.to_numeric(table[c], errors="coerce").astype(float)
    table["n_surveys"] = table["n_surveys"].astype("int64")
    table["n_clusters"] = table["n_clusters"].astype("int64")
    if "wait_s" in variables or "answered_within_t" in variables:
        notes.append("abandoned contacts are never surveyed: the effect of waiting is measured on customers "
                     "who waited and stayed")
    return ContactModelResult(table=table, outcome=outcome, coding=code,
                              fixed_effects=[cells, *controls, *contact_controls],
                              controls=list(contact_controls), clustering=" x ".join([*by, "period"]),
                              n_surveys=n, n_clusters=G, alpha=alpha, seed=seed, notes=notes, wait_curve=curve,
                              wait_hinge=hinge)


@dataclass(frozen=True)
class ContactSlopes:
    """The contact model's least-squares slopes of the CX score on the contact measures, with what a
    resample of the surveys needs (:func:`contact_slopes`).

    Attributes
    ----------
    outcome : str
    coding : Coding
    slopes : pandas.Series
        Per unit of each measure (the contact model's ``effect`` divided by its ``step``).
    rows : numpy.ndarray
        The positions in the frame of the surveys fitted.
    influence : numpy.ndarray
        One row per survey fitted, one column per slope: a resample with survey weights w has
        slopes ``slopes + sum_i (w_i - 1) influence_i`` to first order (the fixed effects held at
        the full-sample fit).
    fixed_effects : list of str
    """

    outcome: str
    coding: Coding
    slopes: pd.Series
    rows: np.ndarray
    influence: np.ndarray
    fixed_effects: list


def contact_slopes(frame: pd.DataFrame, outcome: str, *, by: Sequence[str] = ("queue",), period: str = "period",
                   variables: Sequence[str] | None = None, controls: Sequence[str] = ("hour",),
                   contact_controls: Sequence[str] = (), coding_kind: str = "auto", metric=None,
                   by_day: bool = True) -> ContactSlopes:
    """The slopes of :func:`fit_contact_model`'s joint least-squares fit, with each survey's influence.

    The same design (outcome coding, segment x day fixed effects, the hour of day and the contact
    controls absorbed, singletons dropped) and the same fit: ``slopes[v] * step`` is the contact
    model's ``effect`` of ``v`` with the same options (``answered_within_t`` is left out, as in the
    model's first fit). The business-impact link takes its path from a contact measure to CX from here.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = pd.DataFrame({"period": rng.integers(0, 20, 3000), "queue": rng.choice(list("ab"), 3000),
    ...                   "hour": rng.integers(8, 18, 3000), "wait_s": rng.exponential(60, 3000)})
    >>> f["csat"] = np.clip(np.round(4 - 0.01 * f["wait_s"] + rng.normal(0, 1, 3000)), 1, 5)
    >>> s = contact_slopes(f, "csat", coding_kind="mean")
    >>> fit = fit_contact_model(f, "csat", coding_kind="mean", threshold=False, logit=False)
    >>> bool(np.isclose(s.slopes["wait_s"] * 10, fit.row("asa")["effect"]))
    True
    """
    code = coding(outcome, metric, coding_kind)
    by = [by] if isinstance(by, str) else list(by)
    d = _design(frame, outcome, code, by=by, period=period, variables=variables, controls=controls,
                contact_controls=contact_controls, by_day=by_day)
    xs = [v for v in d.variables if v != "answered_within_t"] or d.variables
    fit = _fit_lpm(d.data, d.data[xs], d.flist, d.n_fixef)
    return ContactSlopes(outcome=outcome, coding=code, slopes=pd.Series(fit.beta, index=fit.names, dtype=float),
                         rows=d.rows, influence=fit.score @ fit.bread,
                         fixed_effects=[d.cells, *controls, *contact_controls])


@dataclass(frozen=True)
class _Design:
    """The contact model's observations: ``data`` holds the coded outcome ``y`` (and ``y_yes``, the
    yes/no reading of a wider score), the measures, ``cluster`` (segment x period), ``cell`` (the
    fixed effects' segment x day) and the codes of the other absorbed factors, one row per survey
    kept; ``rows`` are those surveys' positions in the frame."""

    data: pd.DataFrame
    rows: np.ndarray
    variables: list
    absorbed: list
    flist: np.ndarray
    n_fixef: int
    n_clusters: int
    cells: str
    reading: Coding | None
    notes: tuple
    segments: tuple = ("all",)


def _design(frame: pd.DataFrame, outcome: str, code: Coding, *, by, period: str = "period", variables=None,
            controls=("hour",), contact_controls=(), by_day: bool = True) -> _Design:
    """The observations and fixed effects of the contact model (one design for every fit of it:
    :func:`fit_contact_model` and :func:`contact_slopes`)."""
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [outcome, period, *by, *controls, *contact_controls] if c not in frame.columns]
    if missing:
        raise OptionError(f"The survey-level frame has no column {missing[0]!r} (it has "
                          f"{', '.join(map(str, frame.columns))}).")
    if variables is None:
        variables = [v for v in MEASURES if v in frame.columns]
    variables = list(variables)
    unknown = [v for v in variables if v not in MEASURES]
    if unknown:
        raise OptionError(f"{unknown[0]!r} is not a contact measure; the contact model knows "
                          f"{', '.join(MEASURES)}.")
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise OptionError(f"The survey-level frame has no column {absent[0]!r}: the contacts have no such measure.")
    if not variables:
        raise OptionError("The survey-level frame has none of the contact measures "
                          f"({', '.join(MEASURES)}); the contact model needs at least one.")
    data = pd.DataFrame({"y": code.values(frame[outcome]), "row": np.arange(len(frame))})
    reading = None      # the yes/no reading of a wider score, where the wait threshold is located
    if not code.binary and (code.kind == "nps" or code.top_box is not None):
        reading = replace(code, kind="promoters" if code.kind == "nps" else "top_box", binary=True)
        data["y_yes"] = reading.values(frame[outcome])
    for v in variables:
        data[v] = pd.to_numeric(frame[v], errors="coerce").astype(float).to_numpy()
    # clusters: segment x period; fixed effects: segment x day where the frame has the contact's
    # time (finer than the period at week or month grain, so that an incident day or a weekday mood,
    # which move waits and satisfaction within a week, are absorbed too), nested in the clusters
    data["cluster"] = frame.groupby([period, *by], sort=False, dropna=False).ngroup().to_numpy()
    day = pd.to_datetime(frame["contact_ts"]).dt.normalize() if "contact_ts" in frame else None
    data["day"] = day.to_numpy() if day is not None else np.datetime64("NaT")
    # each survey's segment as a code into ``segments`` (labels joined by " / " for several columns)
    if by:
        groups = frame.groupby(by, sort=True, dropna=False)
        data["segment"] = groups.ngroup().to_numpy()
        segments = tuple(str(k) if len(by) == 1 else " / ".join(map(str, k))
                         for k in groups.size().index)
    else:
        data["segment"], segments = 0, ("all",)
    if by_day and day is not None:
        data["cell"] = pd.DataFrame({"c": data["cluster"].to_numpy(), "d": day.to_numpy()}).groupby(
            ["c", "d"], sort=False, dropna=False).ngroup().to_numpy()
    else:
        data["cell"] = data["cluster"].to_numpy()
    absorbed = ["cell"]
    for c in [*controls, *contact_controls]:
        name = f"fe_{c}"
        data[name] = pd.factorize(frame[c].where(frame[c].notna(), "(blank)").astype(str))[0]
        absorbed.append(name)
    keep = data[["y", *variables]].notna().all(axis=1).to_numpy()
    notes = []
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"{dropped:,} of {len(data):,} surveys have no outcome or a missing contact measure; "
                     f"left out")
    data = data[keep].reset_index(drop=True)
    # a cell with one survey carries no within-cell information (pyfixest drops singletons too)
    sizes = np.bincount(data["cell"].to_numpy())
    data = data[sizes[data["cell"].to_numpy()] > 1].reset_index(drop=True)
    data["cell"] = pd.factorize(data["cell"])[0]
    data["cluster"] = pd.factorize(data["cluster"])[0]
    n, G = len(data), int(data["cluster"].nunique()) if len(data) else 0
    if G < 10 or n < 50:
        raise OptionError(f"The contact model needs at least 50 surveys in 10 segment-period cells with two "
                          f"surveys or more; the frame has {n} in {G}.")
    if G < 30:
        warnings.warn(f"The contact model's errors are clustered over only {G} segment-period cells; "
                      f"its p-values use t({G - 1}), but treat them with care.", SmallSampleWarning, stacklevel=3)
    cells = " x ".join([*by, "day" if data["cell"].nunique() > G else "period"])
    flist = data[absorbed].to_numpy().astype(np.uint64)
    # the fixed-effect parameters counted in the small-sample factor, as pyfixest counts them: one
    # for the cells (nested in the clusters), and each other factor's levels less one
    n_fixef = 1 + sum(int(data[a].nunique()) - 1 for a in absorbed[1:])
    return _Design(data=data.drop(columns="row"), rows=data["row"].to_numpy(), variables=variables,
                   absorbed=absorbed, flist=flist, n_fixef=n_fixef, n_clusters=G, cells=cells, reading=reading,
                   notes=tuple(notes), segments=segments)


@dataclass(frozen=True)
class _LinearFit:
    """A least-squares fit of the contact model: the slopes kept (``names``, ``beta``), their
    clustered covariance ``V`` over ``G`` clusters, the bread (X'X)^-1 and each survey's score
    x_i e_i on the demeaned columns (``score``, n x k), from which a resample's slopes follow to
    first order: beta + bread sum_i (w_i - 1) score_i."""

    names: list
    beta: np.ndarray
    V: np.ndarray
    G: int
    bread: np.ndarray
    score: np.ndarray


def _fit_lpm(data: pd.DataFrame, columns: pd.DataFrame, flist: np.ndarray, n_fixef: int) -> _LinearFit:
    """Least squares of ``y`` on ``columns`` with every absorbed factor swept out, CRV1 by cell.

    pyfixest's alternating projections (``pyfixest.estimation.demean``, the factors in a fixed
    order) sweep out the fixed effects; least squares and the clustered sandwich follow on the
    demeaned columns. The small-sample factor is pyfixest's: G / (G - 1) x (n - 1) / (n - k), k
    counting the slopes, one, and the levels less one of each factor not nested in the clusters
    (the cells are); p-values and intervals use t(G - 1). (pyfixest's ``feols`` gives the same numbers,
    which the tests check; it is not called here because it orders the fixed effects through a
    Python set, so the last digits of its estimates change from one process to the next, and
    results.json must be byte-identical.) Returns the names kept (a column with no variation
    within cells is dropped), the coefficients, their covariance, the clusters' count, the bread and
    each survey's score (:class:`_LinearFit`).
    """
    from pyfixest.core import demean
    raw = np.column_stack([data["y"].to_numpy(dtype=float), columns.to_numpy(dtype=float)])
    M, _ = demean(np.ascontiguousarray(raw), flist, np.ones(len(data)), tol=1e-10, maxiter=100_000)
    y, X = M[:, 0], M[:, 1:]
    keep = [j for j in range(X.shape[1]) if float(X[:, j] @ X[:, j]) > 1e-9 * max(1.0, float(
        raw[:, j + 1].var() * len(data)))]
    X = X[:, keep]
    names = [columns.columns[j] for j in keep]
    cl = data["cluster"].to_numpy()
    G, n, k = int(cl.max()) + 1, len(y), len(names) + n_fixef
    if not names:
        return _LinearFit([], np.array([]), np.zeros((0, 0)), G, np.zeros((0, 0)), np.zeros((n, 0)))
    bread = np.linalg.pinv(X.T @ X)
    beta = bread @ (X.T @ y)
    score = X * (y - X @ beta)[:, None]
    g = np.column_stack([np.bincount(cl, weights=score[:, j], minlength=G) for j in range(X.shape[1])])
    V = bread @ (g.T @ g) @ bread * (G / (G - 1)) * ((n - 1) / max(n - k, 1))
    return _LinearFit(names, beta, V, G, bread, score)


def _lpm(data: pd.DataFrame, xs: list[str], flist: np.ndarray, n_fixef: int, alpha: float) -> dict:
    """Each variable's (coefficient, se, p, ci_low, ci_high) in the linear model (:func:`_fit_lpm`)."""
    fit = _fit_lpm(data, data[xs], flist, n_fixef)
    names, beta, V, G = fit.names, fit.beta, fit.V, fit.G
    se = np.sqrt(np.maximum(np.diag(V), 0.0))
    q = stats.t.ppf(1 - alpha / 2, G - 1)
    out = {}
    for j, v in enumerate(names):
        t = beta[j] / se[j] if se[j] > 0 else np.nan
        p = float(2 * stats.t.sf(abs(t), G - 1)) if np.isfinite(t) else np.nan
        out[v] = (float(beta[j]), float(se[j]), p, float(beta[j] - q * se[j]), float(beta[j] + q * se[j]))
    return out


def _wait_curve(data: pd.DataFrame, others: list[str], flist: np.ndarray, n_fixef: int, df: int,
                alpha: float) -> pd.DataFrame:
    """The outcome against the customer's own wait as a natural cubic spline (``df`` degrees of
    freedom, centred so that the fixed effects keep the level), relative to a wait of 0 s, with
    clustered pointwise intervals, at 25 waits from 0 to the 95th percentile."""
    import patsy
    w = data["wait_s"].to_numpy(dtype=float)
    basis = patsy.dmatrix(f"cr(w, df={int(df)}, constraints='center') - 1", {"w": w}, return_type="dataframe")
    basis.columns = [f"spline{i}" for i in range(basis.shape[1])]
    columns = pd.concat([basis, data[others].reset_index(drop=True)], axis=1)
    fit = _fit_lpm(data, columns, flist, n_fixef)
    names, beta, V, G = fit.names, fit.beta, fit.V, fit.G
    idx = [names.index(c) for c in basis.columns if c in names]
    grid = np.linspace(0.0, float(np.quantile(w, 0.95)), 25)
    at = patsy.build_design_matrices([basis.design_info], {"w": grid})[0]
    zero = patsy.build_design_matrices([basis.design_info], {"w": np.array([0.0])})[0]
    keep = [j for j, c in enumerate(basis.columns) if c in names]
    D = (np.asarray(at) - np.asarray(zero))[:, keep]
    b, Vb = beta[idx], V[np.ix_(idx, idx)]
    effect = D @ b
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", D, Vb, D), 0.0))
    q = stats.t.ppf(1 - alpha / 2, G - 1)
    return pd.DataFrame({"wait_s": grid, "effect": effect, "ci_low": effect - q * se, "ci_high": effect + q * se})


@dataclass(frozen=True)
class _Logit:
    """A fixed-effects logit: slopes, their clustered errors, and each survey's linear predictor
    (NaN for the surveys of cells that are all yes or all no, which carry no information)."""

    coef: pd.Series
    se: pd.Series
    eta: np.ndarray


def _fit_logit(y: np.ndarray, columns: pd.DataFrame, flist: np.ndarray, cell: np.ndarray,
               cluster: np.ndarray, n_fixef: int) -> _Logit:
    """Logit of a 0/1 ``y`` on ``columns`` with every factor of ``flist`` as fixed effects.

    Iteratively reweighted least squares in which each step sweeps the fixed effects out of the
    working response and the columns by pyfixest's weighted alternating projections (the
    algorithm of fixest's ``feglm`` and Stata's ``ppmlhdfe``), so that no fixed effect is ever a
    dummy. Cells (the first factor) that are all yes or all no are left out, as ``feglm`` does.
    Errors are CRV1 by ``cluster`` with pyfixest's small-sample factor, G / (G - 1) x
    (n - 1) / (n - k), k as in :func:`_fit_lpm`; the tests check the estimates and errors
    against pyfixest's ``feglm`` with the same model.
    """
    from pyfixest.core import demean
    total = np.bincount(cell, weights=y)
    size = np.bincount(cell)
    rows = ((total > 0) & (total < size))[cell]
    yy, X, fl, cl = y[rows], columns.to_numpy(dtype=float)[rows], flist[rows], cluster[rows]
    names = list(columns.columns)
    mu = (yy + 0.5) / 2
    eta = np.log(mu / (1 - mu))
    dev = np.inf
    for _ in range(100):
        p = 1 / (1 + np.exp(-eta))
        W = np.maximum(p * (1 - p), 1e-12)
        z = eta + (yy - p) / W
        M, _ = demean(np.ascontiguousarray(np.column_stack([z, X])), fl, W, tol=1e-10, maxiter=100_000)
        zt, Xt = M[:, 0], M[:, 1:]
        sw = np.sqrt(W)
        b = np.linalg.lstsq(Xt * sw[:, None], zt * sw, rcond=None)[0]
        eta = z - (zt - Xt @ b)
        p = np.clip(1 / (1 + np.exp(-eta)), 1e-15, 1 - 1e-15)
        new = float(-2 * np.sum(yy * np.log(p) + (1 - yy) * np.log(1 - p)))
        if abs(new - dev) / (0.1 + abs(new)) < 1e-11:
            break
        dev = new
    else:
        raise np.linalg.LinAlgError("the fixed-effects logit did not converge")
    p = 1 / (1 + np.exp(-eta))
    W = p * (1 - p)
    Xt, _ = demean(np.ascontiguousarray(X), fl, W, tol=1e-10, maxiter=100_000)
    bread = np.linalg.inv((Xt * W[:, None]).T @ Xt)
    cl = pd.factorize(cl)[0]
    G, n, k = int(cl.max()) + 1, len(yy), len(names) + n_fixef
    g = np.column_stack([np.bincount(cl, weights=Xt[:, j] * (yy - p), minlength=G) for j in range(len(names))])
    V = bread @ (g.T @ g) @ bread * (G / (G - 1)) * ((n - 1) / max(n - k, 1))
    full = np.full(len(y), np.nan)
    full[rows] = eta
    return _Logit(coef=pd.Series(b, index=names), se=pd.Series(np.sqrt(np.maximum(np.diag(V), 0.0)), index=names),
                  eta=full)


def _fe_logit(data, xs, flist, n_fixef):
    """The fixed-effects logit of the yes/no outcome on ``xs`` (:func:`_fit_logit`), or None and the
    reason it was not fitted."""
    y = (data["y"].to_numpy() > 0).astype(float)
    try:
        with np.errstate(all="ignore"):
            fit = _fit_logit(y, data[xs], flist, data["cell"].to_numpy(), data["cluster"].to_numpy(), n_fixef)
    except np.linalg.LinAlgError:  # separation or non-convergence: the linear reading stands alone
        return None, "no logit reading: the fixed-effects logit did not converge"
    if not np.all(np.isfinite(fit.coef)):
        return None, "no logit reading: the fixed-effects logit did not converge"
    return fit, None


def _logit_rows(fit: _Logit, xs, alpha, factor: float = 100.0, weight=1.0, n: int | None = None) -> dict:
    """Average marginal effects of the logit, in the outcome's percentage points (per unit of x):
    ``b x factor x sum(weight p (1 - p)) / n`` over every survey (those of cells all yes or all no
    count as 0; ``n`` the surveys, default one per row)."""
    p = 1 / (1 + np.exp(-fit.eta))
    scale = factor * float(np.nansum(weight * p * (1 - p))) / (n or len(p))
    z = stats.norm.ppf(1 - alpha / 2)
    out = {}
    for v in xs:
        if v in fit.coef.index and np.isfinite(fit.se[v]) and fit.se[v] > 0:
            b, se = float(fit.coef[v]), float(fit.se[v])
            out[v] = {"effect_logit": b * scale, "ci_low_logit": (b - z * se) * scale,
                      "ci_high_logit": (b + z * se) * scale, "p_value_logit": float(2 * stats.norm.sf(abs(b / se)))}
    return out


#: An ordinal score with more categories than this is fitted linearly only (each cut adds a copy
#: of the surveys to the stacked ordered logit).
MAX_ORDINAL_LEVELS = 11


def _fe_ologit(data, xs, flist, n_fixef, alpha, steps):
    """The fixed-effects ordered logit of an ordinal score, as average marginal effects on it.

    Each cut c of the score (y >= c, for every category c but the lowest) is a yes/no outcome
    with fixed effects of its own (cell x cut) and common slopes; the copies are stacked and
    fitted as one logit (:func:`_fit_logit`), with errors clustered by the surveys' segment x
    period, so that the copies of a survey are one cluster's. This is the "blow-up and cluster"
    estimator of Baetschmann, Staub and Winkelmann (2015), with the unconditional fixed-effects
    logit in place of the conditional one: under proportional odds its slopes are the ordered
    logit's, and it needs no cut-point to be the same in every cell. The average marginal
    effect on the expected score is ``b x mean_i sum_c gap_c p_ic (1 - p_ic)``, gap_c being the
    distance between category c and the one below (1 on a 1-5 scale). Returns
    ``{variable: {effect_logit, ci_low_logit, ci_high_logit, p_value_logit}}`` (per unit of the
    variable) with a ``note`` giving the odds ratios per step, or None and why not.
    """
    y = data["y"].to_numpy(dtype=float)
    levels = np.unique(y)
    if len(levels) < 3:
        return None, "no ordered logit: the score has fewer than three categories (the linear model stands alone)"
    if len(levels) > MAX_ORDINAL_LEVELS:
        return None, (f"no ordered logit: the score has {len(levels)} categories (more than "
                      f"{MAX_ORDINAL_LEVELS}); the linear model in points stands alone")
    if not xs:
        return None, None
    cuts = levels[1:]
    n, cell = len(data), data["cell"].to_numpy()
    ncell = int(cell.max()) + 1
    stack = lambda a: np.concatenate([a] * len(cuts))  # noqa: E731
    cellcut = np.concatenate([cell + j * ncell for j in range(len(cuts))])
    fl = np.column_stack([cellcut, stack(flist[:, 1:])]).astype(np.uint64)
    columns = pd.DataFrame({v: stack(data[v].to_numpy(dtype=float)) for v in xs})
    try:
        with np.errstate(all="ignore"):
            fit = _fit_logit(np.concatenate([(y >= c).astype(float) for c in cuts]), columns, fl, cellcut,
                             stack(data["cluster"].to_numpy()), n_fixef)
    except np.linalg.LinAlgError:  # separation or non-convergence: the linear reading stands alone
        return None, "no ordered logit: the fixed-effects ordered logit did not converge"
    out = _logit_rows(fit, xs, alpha, factor=1.0, weight=np.repeat(np.diff(levels), n), n=n)
    z = stats.norm.ppf(1 - alpha / 2)
    ratios = []
    for v in out:
        b, se, st = float(fit.coef[v]), float(fit.se[v]), steps.get(v, 1.0)
        ratios.append(f"{v} {math.exp(b * st):.3g} [{math.exp((b - z * se) * st):.3g}, "
                      f"{math.exp((b + z * se) * st):.3g}] per {st:g}")
    out["note"] = ("ordered logit (proportional odds; each cut of the score with its own fixed effects, "
                   "stacked and clustered): odds ratios of a higher score " + "; ".join(ratios)
                   + "; its average marginal effects on the score are the logit columns")
    return out, None


def _wait_grid(w: np.ndarray) -> np.ndarray:
    """Candidate breakpoints: 41 whole seconds spread over the 5-95 % range of the waits above zero
    (most customers are answered at once; a breakpoint among them is not identified)."""
    pos = w[w > 0]
    if len(pos) < 20:
        return np.array([])
    lo, hi = np.quantile(pos, [0.05, 0.95])
    return np.unique(np.round(np.linspace(lo, hi, 41)))


def _irls(y, off, X, b, iters: int = 25):
    """Logit of ``y`` on ``X`` with offset ``off``, from ``b`` (Newton steps); coefficients and p."""
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(off + X @ b)))
        W = p * (1 - p)
        H = (X * W[:, None]).T @ X
        step = np.linalg.solve(H, X.T @ (y - p))
        b = b + step
        if np.max(np.abs(step)) < 1e-9:
            break
    p = 1 / (1 + np.exp(-(off + X @ b)))
    return b, p


def _hinge_irls(y, off, w, tau, b, slope_below: bool, iters: int = 25, exp_off=None, buffers=None):
    """:func:`_irls` for the hinge designs ``1, (w - tau)+`` and ``1, w, (w - tau)+``, with the rows
    sorted by ``w``: the hinge is zero up to one row and the design is never built.

    ``exp(-eta)`` is ``exp(-off)`` (``exp_off``, computed once for a whole profile) times
    ``exp(-b0)``, times ``exp(-b1 w)`` where the wait is positive and ``exp(-bh (w - tau))``
    beyond the breakpoint: a Newton step evaluates exponentials only for the customers who
    waited (beyond the breakpoint for the flat shape), in preallocated buffers. ``eta`` is
    clipped to [-30, 30]. Newton stops once the decrement ``g' H^-1 g`` (about the deviance
    still to gain) is below 1e-3 after its step. ``buffers`` (five arrays shaped like ``off``) are
    reused from one fit of a profile to the next. Returns the coefficients, the probabilities and
    the deviance ``2 sum(log(1 + exp(-eta)) + (1 - y) eta)`` (the probabilities live in a buffer).
    """
    if exp_off is None:
        exp_off = np.exp(-off)
    s = int(np.searchsorted(w, tau, side="right"))
    z = int(np.searchsorted(w, 0.0, side="right"))   # the first customer who waited
    h = w[s:] - tau
    e, p, W, r, tmp = buffers if buffers is not None else (np.empty_like(off) for _ in range(5))

    def probabilities(b):
        np.multiply(exp_off, math.exp(-b[0]), out=e)
        if slope_below:
            np.multiply(w[z:], -b[1], out=tmp[z:])
            np.exp(tmp[z:], out=tmp[z:])
            e[z:] *= tmp[z:]
        np.multiply(h, -b[-1], out=tmp[s:])
        np.exp(tmp[s:], out=tmp[s:])
        e[s:] *= tmp[s:]
        np.clip(e, _EXP_LOW, _EXP_HIGH, out=e)
        np.add(e, 1.0, out=p)
        np.reciprocal(p, out=p)

    for _ in range(iters):
        probabilities(b)
        np.subtract(1.0, p, out=W)
        W *= p
        np.subtract(y, p, out=r)
        Wh = W[s:] @ h
        if slope_below:
            np.multiply(W, w, out=tmp)
            Ww, Www, Wwh = tmp.sum(), tmp @ w, tmp[s:] @ h
        np.multiply(W[s:], h, out=tmp[s:])
        Whh = tmp[s:] @ h
        if slope_below:
            H = np.array([[W.sum(), Ww, Wh], [Ww, Www, Wwh], [Wh, Wwh, Whh]])
            g = np.array([r.sum(), r @ w, r[s:] @ h])
        else:
            H = np.array([[W.sum(), Wh], [Wh, Whh]])
            g = np.array([r.sum(), r[s:] @ h])
        step = np.linalg.solve(H, g)
        b = b + step
        if g @ step < 1e-3:
            break
    probabilities(b)
    # the linear predictor, clipped as e was
    lin = tmp
    np.add(off, b[0], out=lin)
    if slope_below:
        lin += b[1] * w
    lin[s:] += b[-1] * h
    np.clip(lin, -30.0, 30.0, out=lin)
    np.log1p(e, out=e)
    deviance = 2.0 * float(e.sum() + lin.sum() - y @ lin)
    return b, p, deviance


_EXP_LOW, _EXP_HIGH = math.exp(-30.0), math.exp(30.0)


def _in_threads(*calls):
    """Run zero-argument ``calls`` in threads, one each, and return their results in order. The
    profiles' numpy passes release the GIL, so two chains use two cores; each chain is a fixed
    sequence of fits, so the results do not depend on the machine."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def _deviance(y, p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-2 * np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _threshold_logit(data: pd.DataFrame, x: str, fit, step: float, alpha: float,
                     segments: Sequence[str] = ("all",)) -> dict | None:
    """Continuous hinge in ``x`` on the logit scale, for a yes/no outcome (None when too few waits).

    The fixed-effects logit with ``x`` linear (``fit``, from :func:`_fe_logit`) gives each
    survey's linear predictor; less its ``x`` term, that is
    an offset, and each candidate breakpoint tau adds ``max(x - tau, 0)`` to it, with ``x`` itself
    (a slope below the breakpoint) or without (flat below: no effect until tau), fitted by Newton
    steps warm-started from the previous tau; the slope below is kept only when it fits
    significantly better (adjusted likelihood ratio). The breakpoint minimises the deviance; its interval is the profile-likelihood set {tau : (D(tau) - D_min) / deff <=
    chi2_1(1 - alpha)}, with deff the design effect of the clustering on the change of slope
    (clustered over model-based variance, a Rao-Scott adjustment). The change of slope is tested
    by the same adjusted likelihood ratio against no breakpoint, Bonferroni over the grid. The
    slope beyond the threshold is an average marginal effect over the customers who waited longer,
    in percentage points per ``step``, with a delta-method clustered interval.
    """
    w = data[x].to_numpy(dtype=float)
    grid = _wait_grid(w)
    if len(grid) < 5:
        return None
    y = (data["y"].to_numpy() > 0).astype(float)
    eta, bw = fit.eta, float(fit.coef[x])
    ok = np.isfinite(eta)
    order = np.argsort(w[ok], kind="stable")        # sorted by the wait for _hinge_irls
    y, w, off, cl = (a[ok][order] for a in (y, w, eta - bw * w, data["cluster"].to_numpy()))
    G = int(cl.max()) + 1
    ones = np.ones(len(y))
    exp_off = np.exp(-np.clip(off, -700.0, 700.0))     # shared by every fit of the profile
    b0, p0 = _irls(y, off, np.column_stack([ones, w]), np.array([0.0, bw]))
    d_lin = _deviance(y, p0)
    # two shapes at each breakpoint: flat below (the classic tipping point, the default) or a slope
    # of its own below, kept only when it fits significantly better (adjusted likelihood ratio)
    shapes = {"flat": lambda tau: np.column_stack([ones, np.maximum(w - tau, 0.0)]),
              "two slopes": lambda tau: np.column_stack([ones, w, np.maximum(w - tau, 0.0)])}
    def profile(shape, taus, b):
        dev, coefs = [], []
        buffers = tuple(np.empty_like(off) for _ in range(5)) if len(taus) else None
        for i, tau in enumerate(taus):
            # warm start: the previous breakpoint's fit, extrapolated along the profile once there are two
            start = b if i < 2 else coefs[-1] + (coefs[-1] - coefs[-2]) * (tau - taus[i - 1]) / (taus[i - 1] - taus[i - 2])
            b, _, d = _hinge_irls(y, off, w, tau, start, shape == "two slopes", exp_off=exp_off, buffers=buffers)
            coefs.append(b.copy())
            dev.append(d)
        return np.array(dev), coefs

    def at(design, tau, b):
        """The fit at one breakpoint: p, clustered covariance and the design effect of the hinge."""
        X = design(tau)
        p = 1 / (1 + np.exp(-(off + X @ b)))
        bread = np.linalg.inv((X * (p * (1 - p))[:, None]).T @ X)
        g = np.column_stack([np.bincount(cl, weights=X[:, i] * (y - p), minlength=G) for i in range(X.shape[1])])
        V = bread @ (g.T @ g) @ bread * G / (G - 1)
        j = X.shape[1] - 1            # the hinge's column
        return p, V, j, (max(V[j, j] / bread[j, j], 1.0) if bread[j, j] > 0 else 1.0)

    fits = {}
    starts = {"flat": np.array([b0[0], b0[1]]), "two slopes": np.array([b0[0], b0[1], 0.0])}
    profiles = _in_threads(*(partial(profile, shape, grid, starts[shape]) for shape in shapes))
    for (shape, design), (dev, coefs) in zip(shapes.items(), profiles):
        k = int(np.argmin(dev))
        fits[shape] = dict(dev=dev, coefs=coefs, k=k, deff=at(design, float(grid[k]), coefs[k])[3])
    crit = stats.chi2.ppf(1 - alpha, 1)
    two = fits["two slopes"]
    better = (fits["flat"]["dev"].min() - two["dev"].min()) / two["deff"] > crit
    shape = "two slopes" if better else "flat"
    design, (dev, coefs, k, deff) = shapes[shape], (fits[shape][key] for key in ("dev", "coefs", "k", "deff"))
    empty = dict(threshold=np.nan, threshold_ci_low=np.nan, threshold_ci_high=np.nan, effect_above=np.nan,
                 effect_above_ci_low=np.nan, effect_above_ci_high=np.nan, p_kink=1.0)
    if k in (0, len(grid) - 1):
        return empty
    # against no breakpoint: the linear model (two slopes nest it; flat-below has as many parameters)
    p_kink = min(1.0, len(grid) * float(stats.chi2.sf(max(d_lin - dev[k], 0.0) / deff, 1)))
    if not p_kink < alpha:
        return empty | {"p_kink": p_kink}
    # refine to whole seconds from one grid step below the interval to one step above it
    inside = np.flatnonzero((dev - dev[k]) / deff <= crit)
    lo, hi = grid[max(inside.min() - 1, 0)], grid[min(inside.max() + 1, len(grid) - 1)]
    fine = np.setdiff1d(np.arange(np.ceil(lo), np.floor(hi) + 1.0), grid)
    if len(fine):
        # two chains warm-started at the grid's best breakpoint, one going down and one going up
        down, up = fine[fine < grid[k]][::-1], fine[fine > grid[k]]
        (dev_d, coefs_d), (dev_u, coefs_u) = _in_threads(partial(profile, shape, down, coefs[k]),
                                                         partial(profile, shape, up, coefs[k]))
        fine = np.concatenate([down[::-1], up])
        dev_f, coefs_f = np.concatenate([dev_d[::-1], dev_u]), coefs_d[::-1] + coefs_u
        order = np.argsort(np.concatenate([grid, fine]))
        grid = np.concatenate([grid, fine])[order]
        dev = np.concatenate([dev, dev_f])[order]
        coefs = [(coefs + coefs_f)[i] for i in order]
        k = int(np.argmin(dev))
    tau, b = float(grid[k]), coefs[k]
    p, V, j, deff = at(design, tau, b)
    inside = grid[(dev - dev[k]) / deff <= crit]
    above = b[j] + (b[1] if shape == "two slopes" else 0.0)
    var = V[j, j] + ((V[1, 1] + 2 * V[1, j]) if shape == "two slopes" else 0.0)
    beyond = w > tau
    scale = 100.0 * step * float(np.mean(p[beyond] * (1 - p[beyond])))
    slope = above * scale
    se = math.sqrt(max(var, 0.0)) * scale
    z = stats.norm.ppf(1 - alpha / 2)
    # the hinge on the logit scale, for the what-if: each survey's offset in the data's order (the
    # surveys of cells all yes or all no at +-inf), and the profile as weights over the thresholds
    w_all = data[x].to_numpy(dtype=float)
    offset = np.where(ok, eta - bw * w_all, np.where(data["y"].to_numpy() > 0, np.inf, -np.inf))
    weight = np.exp(-(dev - dev[k]) / (2 * deff)) * np.gradient(grid)
    hinge = WaitHinge(threshold=tau, threshold_ci=(float(inside.min()), float(inside.max())), shape=shape,
                      coef=np.asarray(b, float), cov=V, grid=np.asarray(grid, float),
                      coefs=np.array(coefs, float), weight=weight / weight.sum(), offset=offset, wait=w_all,
                      segment=np.asarray(segments, dtype=object)[data["segment"].to_numpy()],
                      day=data["day"].to_numpy())
    return dict(threshold=tau, threshold_ci_low=float(inside.min()), threshold_ci_high=float(inside.max()),
                effect_above=slope, effect_above_ci_low=slope - z * se, effect_above_ci_high=slope + z * se,
                p_kink=p_kink, shape=shape, hinge=hinge)


def _slope_beyond(data, found: dict, others, flist, n_fixef: int, step: float, alpha: float) -> dict:
    """The slope beyond a breakpoint found elsewhere, in the outcome's own unit: the linear model with
    the hinge at that breakpoint (and the wait itself when the shape has a slope below)."""
    w = data["wait_s"].to_numpy(dtype=float)
    cols = pd.DataFrame({"hinge": np.maximum(w - found["threshold"], 0.0)})
    if found.get("shape") == "two slopes":
        cols["wait_s"] = w
    cols = pd.concat([cols, data[others].reset_index(drop=True)], axis=1)
    fit = _fit_lpm(data, cols, flist, n_fixef)
    names, beta, V, G = fit.names, fit.beta, fit.V, fit.G
    idx = [names.index(c) for c in ("hinge", "wait_s") if c in names]
    slope = float(sum(beta[i] for i in idx)) * step
    se = math.sqrt(max(float(sum(V[i, j] for i in idx for j in idx)), 0.0)) * step
    q = stats.t.ppf(1 - alpha / 2, G - 1)
    return {"effect_above": slope, "effect_above_ci_low": slope - q * se, "effect_above_ci_high": slope + q * se}


def _threshold(data: pd.DataFrame, x: str, others: list[str], absorbed: list[str], step: float,
               n_boot: int, seed, alpha: float) -> dict:
    """Continuous hinge in ``x``: breakpoint by profiled least squares, bootstrap over clusters.

    The other regressors and the fixed effects are partialled out once (Frisch-Waugh-Lovell);
    each grid point adds one demeaned hinge column. Every fixed effect is nested in or crossed
    with the clusters; the bootstrap resamples clusters with the partialling held at its
    full-sample fit, re-estimating the breakpoint in each replicate.
    """
    from pyfixest.core import demean
    w = data[x].to_numpy(dtype=float)
    grid = _wait_grid(w)
    empty = dict(threshold=np.nan, threshold_ci_low=np.nan, threshold_ci_high=np.nan, effect_above=np.nan,
                 effect_above_ci_low=np.nan, effect_above_ci_high=np.nan, p_kink=np.nan)
    if len(grid) < 3:
        return empty
    flist = data[absorbed].to_numpy().astype(np.uint64)
    ones = np.ones(len(data))

    def dm(a):
        out, _ = demean(np.ascontiguousarray(a, dtype=float), flist, ones)
        return out
    base = dm(np.column_stack([data["y"].to_numpy(dtype=float), w] + [data[o].to_numpy(dtype=float)
                                                                       for o in others]))
    Z = base[:, 2:]
    if Z.shape[1]:
        q, _ = np.linalg.qr(Z)
        proj = lambda a: a - q @ (q.T @ a)  # noqa: E731
    else:
        proj = lambda a: a  # noqa: E731
    ry, rw = proj(base[:, 0]), proj(base[:, 1])
    cl = data["cluster"].to_numpy()
    G = int(cl.max()) + 1
    sums = lambda v: np.bincount(cl, weights=v, minlength=G)  # noqa: E731
    Sww, Swy, Syy = sums(rw * rw), sums(rw * ry), sums(ry * ry)
    Swh, Shh, Shy = (np.empty((G, len(grid))) for _ in range(3))
    RH = np.empty((len(data), len(grid)))
    for start in range(0, len(grid), 8):
        part = grid[start:start + 8]
        h = proj(dm(np.maximum(w[:, None] - part[None, :], 0.0)))
        RH[:, start:start + len(part)] = h
        for j in range(len(part)):
            Swh[:, start + j], Shh[:, start + j], Shy[:, start + j] = sums(rw * h[:, j]), sums(h[:, j] ** 2), \
                sums(h[:, j] * ry)

    def solve(v):
        """Breakpoint, slope below and kink for cluster weights ``v`` (rows: replicates)."""
        a, b, c = v @ Sww, v @ Swh, v @ Shh
        u, t, yy = v @ Swy, v @ Shy, v @ Syy
        det = a[:, None] * c - b ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            bw = (c * u[:, None] - b * t) / det
            bh = (a[:, None] * t - b * u[:, None]) / det
            ssr = yy[:, None] - bw * u[:, None] - bh * t
        ssr = np.where(det > 1e-9 * np.abs(a[:, None] * c), ssr, np.inf)
        k = np.argmin(ssr, axis=1)
        idx = np.arange(len(k))
        return k, bw[idx, k], bh[idx, k]

    k0, bw0, bh0 = (a[0] for a in solve(np.ones((1, G))))
    tau = float(grid[k0])
    if k0 in (0, len(grid) - 1):
        return empty | {"p_kink": 1.0}
    # clustered t test of the kink at the chosen breakpoint, Bonferroni over the grid
    X = np.column_stack([rw, RH[:, k0]])
    e = ry - X @ np.array([bw0, bh0])
    bread = np.linalg.inv(X.T @ X)
    g = np.column_stack([sums(X[:, 0] * e), sums(X[:, 1] * e)])
    n = len(data)
    V = bread @ (g.T @ g) @ bread * G / (G - 1) * (n - 1) / (n - 2 - len(others))
    t_kink = bh0 / math.sqrt(V[1, 1]) if V[1, 1] > 0 else 0.0
    p_kink = min(1.0, len(grid) * 2 * float(stats.t.sf(abs(t_kink), G - 1)))
    rng = np.random.default_rng(seed)
    v = rng.multinomial(G, np.full(G, 1.0 / G), size=n_boot).astype(float)
    kb, bwb, bhb = solve(v)
    lo, hi = alpha / 2 * 100, (1 - alpha / 2) * 100
    taus, above = grid[kb], (bwb + bhb) * step
    if not p_kink < alpha:
        return empty | {"p_kink": p_kink}
    return dict(threshold=tau, threshold_ci_low=float(np.percentile(taus, lo)),
                threshold_ci_high=float(np.percentile(taus, hi)), effect_above=(bw0 + bh0) * step,
                effect_above_ci_low=float(np.percentile(above, lo)),
                effect_above_ci_high=float(np.percentile(above, hi)), p_kink=p_kink)
