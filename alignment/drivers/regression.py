"""Step 5 of the method, effect sizes: regressions of the CX metric on the KPIs.

Two-way (segment + period) or segment fixed effects by the within transformation of
:func:`alignment.panel.frame.demean`, Driscoll-Kraay (default), Newey-West or cluster-robust
errors from :mod:`alignment.stats.hac` with fixed-b or t(G - 1) inference, WLS by survey counts,
calendar controls, a random-intercept mixed model and an ordinal logit for respondent-level
scores. The least-squares fit on the transformed data stays available as ``RegressionResult.fit``
(a statsmodels results object; its own standard errors are classical, ours are in ``.table``).
Effects are reported per unit, per natural step of the KPI in its own units ("each extra 10 s of
last week's ASA": the catalog's or the study's step, never one taken from the data) and
standardized, with diagnostics raised as named warnings and kept in the result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS, WLS
from statsmodels.regression.mixed_linear_model import MixedLM
from scipy import stats
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.outliers_influence import variance_inflation_factor

from ..display import Displayed
from .. import catalog
from ..exceptions import (CollinearityWarning, ConstantPredictorWarning, FewClustersWarning,
                          HeteroskedasticityWarning, InfluenceWarning, InputError, MissingDataWarning,
                          OptionError, SmallSampleWarning, renamed)
from ..panel.frame import Calendar, PanelFrame, demean, require_columns
from ..stats import hac

MODELS = ("twoway", "fe", "ols", "mixed", "ordinal")
MODEL_EFFECTS = {"twoway": "twoway", "fe": "segment", "ols": "none", "mixed": "segment"}
EFFECT_MODELS = {"twoway": "twoway", "segment": "fe", "none": "ols"}
ERRORS = ("driscoll-kraay", "hac", "cluster", "nonrobust")
TABLE = ["kpi", "lag", "coef", "se", "ci_low", "ci_high", "p_value", "std_coef", "std_ci_low",
         "std_ci_high", "step", "unit", "effect", "effect_ci_low", "effect_ci_high", "effect_unit", "phrase"]


@dataclass(frozen=True, repr=False)
class RegressionResult(Displayed):
    """A fitted driver regression.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per KPI: ``kpi, lag, coef, se, ci_low, ci_high, p_value`` (per unit of the KPI),
        ``std_coef, std_ci_low, std_ci_high`` (standard deviations of the outcome per standard
        deviation of the KPI, within segments for fixed effects), ``step, unit, effect,
        effect_ci_low, effect_ci_high`` (per natural step of the KPI: the catalog's or the declared
        step, see :func:`natural_step`; for the ordinal model in log-odds), ``effect_unit``
        ("CSAT percentage points per 10 s of ASA") and a plain-words ``phrase`` that names the lag.
    diagnostics : pandas.DataFrame
        ``check, kpi, value, threshold, status, message`` for VIF, Breusch-Pagan, Cook's
        distance, sample size, constant KPIs and missing periods.
    warnings : tuple of (code, message)
    fit : statsmodels results
    cov : pandas.DataFrame or None
        The covariance of the KPIs' coefficients (per unit) under the errors used, KPI x KPI (the
        ``se`` column is the root of its diagonal); None for the mixed and ordinal models.
    """

    table: pd.DataFrame
    diagnostics: pd.DataFrame
    outcome: str
    model: str
    errors: str
    n: int
    r2: float | None
    warnings: tuple[tuple[str, str], ...] = ()
    fit: object = field(default=None, repr=False, compare=False)
    effects: str = "segment"
    weights: str = "none"
    bandwidth: int | None = None
    ci: float = 0.95
    controls: tuple[str, ...] = ()
    n_low_responses: int = 0
    cov: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        head = (f"{self.model.upper()} regression of {self.outcome} on {len(self.table)} KPIs, n = {self.n}, "
                f"{self.errors} errors" + (f", R2 = {self.r2:.3f}" if self.r2 is not None else ""))
        lines = [head]
        for row in self.table.itertuples():
            lines.append(f"  {row.kpi:<22} lag {row.lag}  {row.coef:+.4g} per unit "
                         f"[{row.ci_low:+.3g}, {row.ci_high:+.3g}]  p = {row.p_value:.3g}")
            lines.append(f"      {row.phrase}")
        for code, message in self.warnings:
            lines.append(f"  warning {code}: {message}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def records(frame):
            return frame.astype(object).where(frame.notna(), None).to_dict("records")
        return {"outcome": self.outcome, "model": self.model, "fixed_effects": self.effects,
                "errors": self.errors, "weights": self.weights, "bandwidth": self.bandwidth, "ci": self.ci,
                "controls": list(self.controls), "n": self.n, "n_low_responses": self.n_low_responses,
                "r2": self.r2, "effects": records(self.table), "diagnostics": records(self.diagnostics),
                "warnings": [{"code": c, "message": m} for c, m in self.warnings]}


def _lag_map(kpis: list[str], lags) -> dict[str, int]:
    if isinstance(lags, Mapping):
        out = {k: int(lags.get(k, 0)) for k in kpis}
    elif isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
        out = {k: int(lags) for k in kpis}
    else:
        raise OptionError(f"The 'lags' parameter of regress must be an integer or a mapping KPI -> lag. "
                          f"Got {lags!r} instead.")
    if any(v < 0 for v in out.values()):
        raise OptionError(f"Lags must be >= 0. Got {out}.")
    return out


class NaturalStep(NamedTuple):
    """The step an effect is reported per, the unit it reads in and the KPI's name in sentences."""

    step: float
    unit: str
    label: str


def _display_unit(unit: str) -> str:
    """The unit as it reads after a number of steps: a step of a percentage is a percentage point."""
    if unit in ("%", "percentage point", "percentage points"):
        return "percentage point"
    if unit == "point" or unit.startswith("points"):
        return "point"
    return unit


def natural_step(name: str, units: Mapping[str, Mapping] | None = None) -> NaturalStep:
    """The step a manager thinks in, from the catalog or a declaration -- never from the data's spread.

    A catalog KPI takes its ``step``, unit and short label from ``metrics.toml`` (ASA: 10 s,
    service level: 1 percentage point, offered: 100 contacts); ``units`` (as for :func:`regress`)
    may override its step and label. Any other KPI takes them from ``units``; without a
    declaration it is reported per unit of its own (step 1, no unit name).

    Examples
    --------
    >>> natural_step("asa")
    NaturalStep(step=10.0, unit='s', label='ASA')
    >>> natural_step("service_level")
    NaturalStep(step=1.0, unit='percentage point', label='service level')
    >>> natural_step("marketing_spend")
    NaturalStep(step=1.0, unit='', label='marketing_spend')
    >>> natural_step("marketing_spend", {"marketing_spend": {"step": 1000, "unit": "USD",
    ...                                                      "label": "marketing spend"}})
    NaturalStep(step=1000.0, unit='USD', label='marketing spend')
    """
    declared = catalog.check_units(units).get(name, {})
    entry = catalog.entry(name)
    if entry is not None:
        step, unit, label = float(entry.get("step", 1.0)), entry["unit"], entry.get("short_label", name)
    else:
        step, unit, label = 1.0, "", name
    return NaturalStep(step=declared.get("step", step), unit=_display_unit(declared.get("unit", unit)),
                       label=declared.get("label", label))


_PREVIOUS = {"day": "the previous day's", "week": "last week's", "month": "last month's"}


def lag_words(label: str, lag: int, grain: str | None = None) -> str:
    """A KPI at a lag, in words: ``ASA``, ``last week's ASA``, ``ASA 3 weeks earlier``.

    Examples
    --------
    >>> lag_words("ASA", 0, "week"), lag_words("ASA", 1, "week"), lag_words("ASA", 1, "day")
    ('ASA', "last week's ASA", "the previous day's ASA")
    >>> lag_words("service level", 3, "month"), lag_words("ASA", 2)
    ('service level 3 months earlier', 'ASA 2 periods earlier')
    """
    lag = int(lag)
    if lag == 0:
        return label
    if lag == 1 and grain in _PREVIOUS:
        return f"{_PREVIOUS[grain]} {label}"
    return f"{label} {lag} {grain if grain in _PREVIOUS else 'period'}{'s' if lag != 1 else ''} earlier"


def _number(x: float) -> str:
    """A step as written: ``10``, ``1,000``, ``0.5``."""
    x = float(x)
    return f"{int(x):,}" if x.is_integer() else np.format_float_positional(x, trim="-")


def _two(x: float) -> str:
    """Two significant digits without an exponent for everyday sizes: ``0.82``, ``1.1``, ``1,200``."""
    x = float(f"{float(x):.2g}")
    if x != 0 and not 1e-3 <= abs(x) < 1e6:
        return f"{x:.2g}"
    return f"{int(x):,}" if x.is_integer() else np.format_float_positional(x, trim="-")


def _amount(step: float, unit: str) -> str:
    """``10 s``, ``second``, ``percentage point``, ``5 percentage points``, ``unit``, ``1,000 USD``."""
    n = _number(step)
    if unit in ("percentage point", "point", ""):
        word = unit or "unit"
        return word if step == 1 else f"{n} {word}s"
    if unit == "s":
        return "second" if step == 1 else f"{n} s"
    if step == 1 and unit.isalpha() and unit.islower() and len(unit) > 2 and unit.endswith("s") \
            and not unit.endswith("ss"):
        return unit[:-1]  # "contacts" -> "each extra contact"
    return f"{n} {unit}"


def _points(outcome_unit: str, value: str) -> str:
    """What a CX metric moves in: percentage points for a percentage (CSAT top-2-box), else points."""
    word = "percentage point" if outcome_unit == "%" else "point"
    return word if value == "1" else word + "s"


def _outcome_words(outcome: str, outcome_label: str | None, outcome_unit: str | None) -> tuple[str, str]:
    entry = catalog.entry(outcome)
    if outcome_label is None:
        outcome_label = entry.get("short_label", outcome) if entry else outcome
    if outcome_unit is None:
        outcome_unit = catalog.get(outcome).unit if entry else ""
    return outcome_label, outcome_unit


def phrase(kpi: str, step: float, unit: str, effect: float, lo: float, hi: float, outcome: str,
           ci: float = 0.95, *, lag: int = 0, grain: str | None = None, label: str | None = None,
           outcome_label: str | None = None, outcome_unit: str | None = None) -> str:
    """An effect per step of a KPI in plain words.

    Pure: the words come from the arguments, and only where one is None from the catalog
    (the KPI's and the outcome's short label; the outcome's unit in its default variant).

    Parameters
    ----------
    kpi : str
        The KPI's name; ``label`` (default: the catalog's short label, else ``kpi``) is what the
        sentence says.
    step, unit : float, str
        The step the effect is per and its unit, as :func:`natural_step` gives them
        (``"percentage point"`` for a percentage, ``""`` for a KPI without a unit).
    effect, lo, hi : float
        The effect per step and its confidence interval at level ``ci``.
    outcome : str
        The CX metric; ``outcome_label`` (default: the catalog's short label, e.g. ``"CSAT"``)
        and ``outcome_unit`` (``"%"`` reads as percentage points, anything else as points).
    lag, grain
        The KPI's lag in periods of ``grain`` ("day", "week", "month"), named in words.

    Examples
    --------
    >>> phrase("asa", 10, "s", -0.82, -1.1, -0.51, "csat")
    'each extra 10 s of ASA goes with 0.82 fewer CSAT percentage points (95 % CI 0.51 to 1.1)'
    >>> phrase("service_level", 1, "percentage point", 0.3, 0.1, 0.5, "nps", lag=1, grain="week")
    "each extra percentage point of last week's service level goes with 0.3 more NPS points (95 % CI 0.1 to 0.5)"
    >>> phrase("marketing_spend", 1000, "USD", 0.04, -0.01, 0.09, "csat", ci=0.9, lag=3, grain="month",
    ...        label="marketing spend", outcome_unit="points (1-5)")
    'each extra 1,000 USD of marketing spend 3 months earlier goes with 0.04 more CSAT points (90 % CI -0.01 to +0.09)'
    """
    entry = catalog.entry(kpi)
    label = label if label is not None else (entry.get("short_label", kpi) if entry else kpi)
    if not np.isfinite(effect):
        return f"the effect of {lag_words(label, lag, grain)} could not be estimated"
    outcome_label, outcome_unit = _outcome_words(outcome, outcome_label, outcome_unit)
    direction = "more" if effect > 0 else "fewer"
    if np.sign(lo) == np.sign(hi):
        a, b = sorted((abs(lo), abs(hi)))
        bounds = f"{_two(a)} to {_two(b)}"
    else:
        bounds = " to ".join(("+" if v > 0 else "-" if v < 0 else "") + _two(abs(v)) for v in (lo, hi))
    size = _two(abs(effect))
    return (f"each extra {_amount(step, unit)} of {lag_words(label, lag, grain)} goes with {size} {direction} "
            f"{outcome_label} {_points(outcome_unit, size)} ({int(round(ci * 100))} % CI {bounds})")


def effect_unit(step: float, unit: str, label: str, outcome_label: str, outcome_unit: str = "") -> str:
    """What the ``effect`` column is in: ``CSAT percentage points per 10 s of ASA``.

    Examples
    --------
    >>> effect_unit(1, "percentage point", "service level", "NPS", "points (-100..100)")
    'NPS points per percentage point of service level'
    """
    return f"{outcome_label} {_points(outcome_unit, '')} per {_amount(step, unit)} of {label}"


def regress(panel, outcome: str, kpis: Sequence[str], *, by: Sequence[str] | None = None, lags=0,
            model: str | None = None, effects: str | None = None, errors: str = "driscoll-kraay",
            weights: str | None = "responses", bandwidth: int | None = None, ci: float = 0.95,
            calendar: Calendar | bool | None = None, grain: str | None = None, time: str = "period",
            drop_low_responses: bool = True,
            units: Mapping[str, Mapping[str, object]] | None = None,
            maxlags: int | None = None) -> RegressionResult:
    """Regress the outcome on the KPIs (each at its lag), with honest standard errors.

    Parameters
    ----------
    panel : Panel or pandas.DataFrame
        One row per period x segment; for ``model="ordinal"``, one row per survey response
        with an integer score in ``outcome`` and the KPIs of its period.
    outcome : str
    kpis : sequence of str
    by : sequence of str, optional
        Segment columns; default the panel's.
    lags : int or mapping
        Lag of every KPI, or ``{kpi: lag}``: the KPI at t - lag explains the outcome at t.
    model : {"twoway", "fe", "ols", "mixed", "ordinal"}, optional
        Two-way fixed effects (segment and period: shocks common to every segment in a period,
        such as an outage or a weekday, are absorbed), segment fixed effects, pooled OLS, a random
        intercept by segment (MixedLM), or an ordinal logit. Default from ``effects``.
    effects : {"twoway", "segment", "none"}, optional
        The fixed effects when ``model`` is not given: default ``"twoway"`` with 3 or more
        segments, ``"segment"`` with 2, ``"none"`` for a single series. A KPI with no variation
        between segments (centre-wide) is absorbed by period effects; analyse it with
        ``effects="segment"`` and the calendar controls.
    errors : {"driscoll-kraay", "hac", "cluster", "nonrobust"}
        ``"driscoll-kraay"`` (default): scores summed by period, Bartlett HAC over periods with a
        bandwidth of ``ceil(1.3 sqrt(T)) - 1`` lags over the span of T periods (Lazarus, Lewis,
        Stock & Watson 2018) and fixed-b p-values and intervals at the level asked
        (:mod:`alignment.stats.fixed_b`): robust to correlation between segments and over time.
        ``"hac"``: Newey-West within each segment (segments independent), lags by period, with
        the fixed-b limit of the sum over G segments. ``"cluster"``: by segment, with the
        ``G/(G-1) (n-1)/(n-k)`` factor and t(G - 1) (a :class:`FewClustersWarning` below 10
        clusters). ``"nonrobust"``: classical. The mixed model uses its own errors.
    weights : {"responses", "none"} or str
        ``"responses"`` (default): weighted least squares by the inverse sampling variance of
        each period's CX value (see :func:`alignment.panel.frame.outcome_weights`); ``"none"``;
        or a weight column.
    bandwidth : int, optional
        The HAC bandwidth: the number of Bartlett lags (lag ``j`` has weight
        ``1 - j / (bandwidth + 1)``) of the ``"driscoll-kraay"`` and ``"hac"`` errors; default
        ``ceil(1.3 sqrt(T)) - 1`` (:func:`alignment.stats.hac.bartlett_bandwidth`). Not to be
        confused with ``max_lag`` of a study, the largest KPI lag searched.
    ci : float
    calendar : Calendar or False, optional
        Public holidays and event days as controls. Unless period effects absorb them, weekday
        indicators are controls at day grain and week-of-year seasonality (three Fourier pairs) at
        week grain over more than a year. ``False``: no calendar controls at all.
    grain, time
        As for :func:`alignment.correlate`.
    drop_low_responses : bool
        Leave periods flagged ``low_responses`` out (they stay in the panel).
    units : mapping of KPI -> mapping, optional
        How to report a KPI the catalog does not know: ``{"marketing_spend": {"step": 1000,
        "unit": "USD", "label": "marketing spend"}}``, each key optional (a catalog KPI may
        declare its step and label; its unit is the catalog's). Effects are per ``step``;
        without a declaration a KPI outside the catalog is reported per unit of its own
        ("each extra unit of marketing_spend"), never per a step taken from the data's spread.
        Entries for KPIs not in ``kpis`` are ignored. The sentences name the lag in the
        panel's grain ("last week's ASA") and the outcome in its unit ("CSAT percentage points"
        for a top-box share, "NPS points").
    maxlags : int, optional
        Deprecated name of ``bandwidth`` (an :class:`~alignment.exceptions.AlignmentDeprecationWarning`).

    Returns
    -------
    RegressionResult

    Examples
    --------
    >>> from alignment import build_panel, regress
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = regress(panel, "csat", ["asa", "fcr"])
    >>> list(res.table["kpi"]), res.model
    (['asa', 'fcr'], 'twoway')
    """
    bandwidth = renamed("regress", "maxlags", "bandwidth", maxlags, bandwidth)
    if model is not None and model not in MODELS:
        raise OptionError(f"The 'model' parameter of regress must be one of {', '.join(map(repr, MODELS))}. "
                          f"Got {model!r} instead.")
    if errors not in ERRORS:
        raise OptionError(f"The 'errors' parameter of regress must be one of {', '.join(map(repr, ERRORS))}. "
                          f"Got {errors!r} instead.")
    if not 0 < ci < 1:
        raise OptionError(f"The 'ci' parameter of regress must be between 0 and 1. Got {ci!r} instead.")
    declared = catalog.check_units(units)
    kpis = [kpis] if isinstance(kpis, str) else list(kpis)
    if not kpis:
        raise OptionError("regress needs at least one KPI.")
    if model == "ordinal":
        return _ordinal(panel, outcome, kpis, by, errors, ci, time, declared)
    if model in ("fe", "mixed", "twoway") and by is not None and not list(by):
        raise OptionError(f"model={model!r} needs segments (by=...); use model='ols' for a single series.")
    pf = PanelFrame.from_panel(panel, by=by, grain=grain, time=time)
    by = list(pf.by)
    if model is None:
        model = EFFECT_MODELS[pf.effects(effects)]
    elif effects is not None and MODEL_EFFECTS.get(model) != effects:
        raise OptionError(f"model={model!r} and effects={effects!r} disagree; give one of them.")
    if model in ("fe", "mixed", "twoway") and not by:
        raise OptionError(f"model={model!r} needs segments (by=...); use model='ols' for a single series.")
    fixed = MODEL_EFFECTS[model]
    require_columns(pf.data, [outcome, *kpis], numeric=[outcome, *kpis])
    data, weight_col, weights_used, n_low = pf.analysis_table(outcome, weights, drop_low_responses)
    lag = _lag_map(kpis, lags)
    frame = pf.lag(lag)
    frame["y"] = data[outcome].to_numpy(dtype=float)
    frame[time] = data[time].to_numpy()
    controls = []
    if fixed != "twoway" and calendar is not False:
        cal = pf.calendar(calendar or None)
        controls = list(cal.columns)
        for c in controls:
            frame[c] = cal[c].to_numpy()
    if weight_col:
        frame["w"] = data[weight_col].to_numpy(dtype=float)
    notes: list[tuple[str, str, type]] = []
    diag: list[dict] = []
    for k in kpis:
        share = float(frame[k].isna().mean())
        status = "warn" if share > 0.5 else "ok"
        diag.append(dict(check="missing_periods", kpi=k, value=share, threshold=0.5, status=status,
                         message=f"{share:.0%} of rows lack {k} (lag {lag[k]})"))
        if share > 0.5:
            notes.append(("missing_periods", f"{k}: {share:.0%} of the periods have no value", MissingDataWarning))
    frame = frame.replace([np.inf, -np.inf], np.nan).dropna(subset=["y", *kpis] + (["w"] if weight_col else []))
    frame = frame.sort_values(["seg", "t"], kind="stable").reset_index(drop=True)
    frame["segment"] = frame["seg"].map(pf.labels) if by else "all"
    seg, t = frame["seg"].to_numpy(), frame["t"].to_numpy()
    w = frame["w"].to_numpy(dtype=float) if weight_col else None

    def within(values):
        return demean(values, seg, t, fixed, w)

    kept = []
    for k in kpis:
        x = frame[k].to_numpy(dtype=float)
        sd, scale = float(np.std(within(x))), float(np.abs(x).mean()) + 1e-300
        where = {"twoway": " within segments and periods", "segment": " within segments", "none": ""}[fixed]
        if sd <= 1e-9 * max(scale, 1.0):
            hint = (" (it is the same in every segment: period effects absorb it; use effects='segment')"
                    if fixed == "twoway" and np.std(demean(x, seg, t, "segment", w)) > 1e-9 * max(scale, 1.0) else "")
            notes.append(("constant_kpi", f"{k} does not vary{where} and is left out{hint}",
                          ConstantPredictorWarning))
            diag.append(dict(check="constant", kpi=k, value=sd, threshold=0.0, status="fail",
                             message=f"{k} is constant{where}: left out"))
        else:
            if len(np.unique(x)) <= 2 or sd <= 1e-6 * max(scale, 1.0):
                notes.append(("near_constant_kpi", f"{k} barely varies", ConstantPredictorWarning))
            kept.append(k)
    if not kept:
        why = "; ".join(m for c, m, _ in notes if c == "constant_kpi")
        raise InputError(f"no KPI varies enough to be estimated ({why})")
    n, p = len(frame), len(kept)
    n_seg, n_per = int(frame["seg"].nunique()), int(frame["t"].nunique())
    absorbed = {"twoway": n_seg + n_per - 1, "segment": n_seg, "none": 1}[fixed] + len(controls)
    minimum = max(30, 10 * p)
    diag.append(dict(check="sample_size", kpi=None, value=n, threshold=minimum,
                     status="warn" if n < minimum else "ok",
                     message=f"{n} complete rows for {p} KPIs (want at least {minimum})"))
    if n < minimum:
        notes.append(("small_sample", f"{n} complete rows for {p} KPIs; at least {minimum} are advised",
                      SmallSampleWarning))
    if n <= p + absorbed:
        raise InputError(f"too few complete rows ({n}) for {p} KPIs"
                         + (" and the fixed effects" if fixed != "none" else ""))

    y = frame["y"].to_numpy(dtype=float)
    X = frame[kept].to_numpy(dtype=float)
    span = int(t.max() - t.min()) + 1
    hac_bandwidth = hac.bartlett_bandwidth(span) if bandwidth is None else bandwidth
    hac_bandwidth = min(int(hac_bandwidth), max(span - 1, 0))
    bandwidth = None  # reported only when a HAC estimate used it
    kpi_cov = None
    if model == "mixed":
        fit = MixedLM(y, np.column_stack([np.ones(n), X]), groups=seg).fit(reml=True)
        params, bse = np.asarray(fit.fe_params)[1:], np.asarray(fit.bse_fe)[1:]
        r2 = None
        used_errors = "model-based"
        critical = stats.norm.ppf(0.5 + ci / 2)
        pvals = 2 * stats.norm.sf(np.abs(params / bse))
    else:
        cols = [y[:, None], X] + ([frame[controls].to_numpy(dtype=float)] if controls else [])
        Z = demean(np.column_stack(cols), seg, t, fixed, w)
        yt, Xt = Z[:, 0], Z[:, 1:]
        ols = WLS(yt, Xt, weights=w) if w is not None else OLS(yt, Xt)
        fit = ols.fit()
        params_all = np.asarray(fit.params)
        resid = yt - Xt @ params_all
        scores = Xt * (resid * (w if w is not None else 1.0))[:, None]
        k_all = Xt.shape[1]
        if errors == "nonrobust":
            cov = np.asarray(fit.cov_params()) * (fit.df_resid / max(n - absorbed - k_all, 1))
            dof = n - absorbed - k_all
            critical = stats.t.ppf(0.5 + ci / 2, dof)
            used_errors = "classical"
            pvals = None
        elif errors == "cluster":
            if not by:
                raise OptionError("errors='cluster' needs segments (by=...).")
            if n_seg < 10:
                notes.append(("few_clusters", f"cluster-robust errors from only {n_seg} segments are unreliable "
                              f"(want 10 or more; p-values use t({n_seg - 1})); the default "
                              f"errors='driscoll-kraay' does not need many segments", FewClustersWarning))
            # k counts the slopes, and the intercept of a pooled model (not absorbed effects: plm's "sss")
            k = k_all + (1 if fixed == "none" else 0)
            cov = hac.cluster_factor(n_seg, n, k) * hac.sandwich(Xt, hac.cluster_meat(scores, seg), w)
            dof = n_seg - 1
            critical = stats.t.ppf(0.5 + ci / 2, dof)
            used_errors = f"cluster by segment ({n_seg} clusters, t with {dof} df)"
            pvals = None
        else:
            from ..stats import fixed_b
            groups = 1 if errors == "driscoll-kraay" or n_seg < 2 else n_seg
            meat = (hac.driscoll_kraay(scores, t, hac_bandwidth) if groups == 1 else
                    hac.newey_west_panel(scores, seg, t, hac_bandwidth))
            cov = hac.sandwich(Xt, meat, w)
            b_ratio = fixed_b.bandwidth_ratio(hac_bandwidth, span)
            critical = fixed_b.critical_value(b_ratio, ci, groups=groups)
            bandwidth = hac_bandwidth
            name = "Driscoll-Kraay" if errors == "driscoll-kraay" else "Newey-West by segment"
            used_errors = f"{name} (Bartlett, {hac_bandwidth} lags, fixed-b, b = {b_ratio:.2f})"
            pvals = ("fixed_b", b_ratio, groups)
        se_all = np.sqrt(np.clip(np.diag(cov), 0, None))
        params, bse = params_all[:p], se_all[:p]
        kpi_cov = pd.DataFrame(cov[:p, :p], index=kept, columns=kept)
        stat = params / np.where(bse > 0, bse, np.nan)
        if pvals is None:
            pvals = 2 * stats.t.sf(np.abs(stat), dof)
        else:
            from ..stats import fixed_b
            pvals = np.asarray(fixed_b.p_value(np.nan_to_num(stat), pvals[1], groups=pvals[2]), dtype=float)
        r2 = float(1 - np.sum((w if w is not None else 1.0) * resid ** 2)
                   / np.sum((w if w is not None else 1.0) * yt ** 2)) if np.any(yt != 0) else None
        vif_x = within(X) if fixed != "none" else X
        _diagnose(fit, np.column_stack([np.ones(n), Xt]), resid, vif_x, kept, frame, time, by, diag, notes)
    y_sd = float(np.std(within(y), ddof=1))
    outcome_label, outcome_unit = _outcome_label(outcome, pf.definitions)
    rows = []
    for j, k in enumerate(kept):
        x_sd = float(np.std(within(X[:, j]), ddof=1))
        b, se = float(params[j]), float(bse[j])
        lo, hi = b - critical * se, b + critical * se
        step, unit, label = natural_step(k, declared)
        rows.append(dict(kpi=k, lag=lag[k], coef=b, se=se, ci_low=lo, ci_high=hi, p_value=float(pvals[j]),
                         std_coef=b * x_sd / y_sd, std_ci_low=lo * x_sd / y_sd, std_ci_high=hi * x_sd / y_sd,
                         step=step, unit=unit, effect=b * step, effect_ci_low=lo * step,
                         effect_ci_high=hi * step,
                         effect_unit=effect_unit(step, unit, label, outcome_label, outcome_unit),
                         phrase=phrase(k, step, unit, b * step, lo * step, hi * step, outcome, ci, lag=lag[k],
                                       grain=pf.grain, label=label, outcome_label=outcome_label,
                                       outcome_unit=outcome_unit)))
    _emit(notes)
    return RegressionResult(table=pd.DataFrame(rows, columns=TABLE), diagnostics=pd.DataFrame(diag),
                            outcome=outcome, model=model, errors=used_errors, n=n, r2=r2,
                            warnings=tuple((c, m) for c, m, _ in notes), fit=fit, effects=fixed,
                            weights=weights_used, bandwidth=bandwidth, ci=ci, controls=tuple(controls),
                            n_low_responses=n_low, cov=kpi_cov)


def _outcome_label(outcome: str, definitions: Mapping) -> tuple[str, str]:
    """The outcome's short label and unit: the panel's definition (its variant), else the catalog's default."""
    metric = definitions.get(outcome)
    if metric is None and catalog.entry(outcome) is not None:
        metric = catalog.get(outcome)
    if metric is None:
        return outcome, ""
    return metric.short_label or outcome, metric.unit


def _diagnose(fit, exog, resid, X, kept, frame, time, by, diag, notes) -> None:
    """VIF, Breusch-Pagan and Cook's distance, as rows of ``diag`` and named warnings."""
    if X.shape[1] > 1:
        design = np.column_stack([np.ones(len(X)), X])
        for j, k in enumerate(kept):
            vif = float(variance_inflation_factor(design, j + 1))
            status = "strong" if vif >= 10 else "warn" if vif >= 5 else "ok"
            diag.append(dict(check="vif", kpi=k, value=vif, threshold=5.0, status=status,
                             message=f"VIF of {k} is {vif:.1f}"))
            if vif >= 5:
                notes.append(("collinearity", f"{k} has VIF {vif:.1f} ({'strong' if vif >= 10 else 'moderate'} "
                              f"collinearity): its separate effect is poorly identified", CollinearityWarning))
    lm, lm_p, _, _ = het_breuschpagan(resid, exog)
    diag.append(dict(check="breusch_pagan", kpi=None, value=float(lm_p), threshold=0.05,
                     status="warn" if lm_p < 0.05 else "ok",
                     message=f"Breusch-Pagan LM = {lm:.2f}, p = {lm_p:.3g}"))
    if lm_p < 0.05:
        notes.append(("heteroskedasticity", f"residual variance changes with the KPIs (Breusch-Pagan "
                      f"p = {lm_p:.3g}); the robust errors allow for it", HeteroskedasticityWarning))
    cooks = _cooks_distance(exog, resid, getattr(fit.model, "weights", None))
    n = len(cooks)
    flagged = np.flatnonzero(cooks > 4 / n)
    worst = flagged[np.argsort(-cooks[flagged])][:5]
    where = [" ".join([str(pd.Timestamp(frame.loc[i, time]).date())] +
                      [str(frame.loc[i, "segment"])] * bool(by)) for i in worst]
    status = "warn" if (cooks > 1).any() or len(flagged) > 0.1 * n else "ok"
    diag.append(dict(check="cooks_distance", kpi=None, value=float(cooks.max()), threshold=4 / n, status=status,
                     message=f"{len(flagged)} rows above 4/n; largest at {'; '.join(where) or '-'}"))
    if status == "warn":
        notes.append(("influential_periods", f"{len(flagged)} periods have Cook's distance above 4/n "
                      f"(largest {cooks.max():.2f} at {where[0] if where else '-'})", InfluenceWarning))


def _cooks_distance(exog: np.ndarray, resid: np.ndarray, weights) -> np.ndarray:
    """Cook's distance of each row of a (weighted) least-squares fit."""
    w = np.ones(len(resid)) if weights is None or np.isscalar(weights) else np.asarray(weights, dtype=float)
    xw = exog * np.sqrt(w)[:, None]
    q, _ = np.linalg.qr(xw)
    h = np.einsum("ij,ij->i", q, q)
    k = np.linalg.matrix_rank(xw)
    ew = resid * np.sqrt(w)
    s2 = float(ew @ ew) / max(len(ew) - k, 1)
    return ew ** 2 / (k * s2) * h / (1 - np.minimum(h, 1 - 1e-12)) ** 2


def _emit(notes) -> None:
    for _, message, category in notes:
        warnings.warn(message, category, stacklevel=3)


def _ordinal(data, outcome, kpis, by, errors, ci, time="period", declared=None) -> RegressionResult:
    """Ordinal logit of respondent-level scores on the KPIs of the rated contact's period.

    Responses of one segment and period share that period's KPIs, so they are not independent
    draws: the model has segment effects and its errors are clustered by segment x period
    (without either, the Moulton problem makes the test reject a true null several times too
    often). With 3 or more segments and a period column it also has period effects, as the panel
    models do: a shock common to every segment in a period (and a centre-wide KPI) is absorbed
    rather than left to correlate the clusters. Without segments, errors are clustered by period.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    if not isinstance(data, pd.DataFrame):
        raise OptionError("model='ordinal' needs respondent-level rows: a DataFrame with one row per response.")
    by = [by] if isinstance(by, str) else list(by or ())
    for c in [outcome, *kpis, *by]:
        if c not in data.columns:
            raise InputError("is not a column of the responses", column=c)
    cluster_cols = [*by, *([time] if time in data.columns else [])]
    frame = data[[outcome, *kpis, *cluster_cols]].dropna(subset=[outcome, *kpis]).reset_index(drop=True)
    scores = frame[outcome].to_numpy()
    if not np.all(np.equal(np.mod(scores, 1), 0)):
        raise InputError("holds scores that are not whole numbers; an ordinal model needs categories",
                         column=outcome)
    y = pd.Series(pd.Categorical(scores.astype(int), ordered=True))
    exog = frame[kpis].astype(float)
    effects = "none"
    if by:
        codes = frame.groupby(by, sort=True, dropna=False).ngroup()
        dummies = [pd.get_dummies(codes, prefix="segment", drop_first=True, dtype=float)]
        effects = "segment"
        if time in frame.columns and codes.nunique() >= 3:
            periods = pd.factorize(frame[time], sort=True)[0]
            dummies.append(pd.get_dummies(periods, prefix="period", drop_first=True, dtype=float))
            effects = "twoway"
        exog = pd.concat([exog, *dummies], axis=1)
    mod = OrderedModel(y, exog, distr="logit")
    if cluster_cols and errors != "nonrobust":
        groups = frame.groupby(cluster_cols, sort=True, dropna=False).ngroup().to_numpy()
        n_clusters = int(groups.max()) + 1
        fit = mod.fit(method="bfgs", disp=False, maxiter=2000, cov_type="cluster", cov_kwds={"groups": groups})
        used_errors = f"cluster by {' x '.join(cluster_cols)} ({n_clusters} clusters)"
        dof = n_clusters - 1
    else:
        fit = mod.fit(method="bfgs", disp=False, maxiter=2000)
        used_errors, dof = "nonrobust", None
    params, bse = np.asarray(fit.params)[: len(kpis)], np.asarray(fit.bse)[: len(kpis)]
    z = stats.t.ppf(0.5 + ci / 2, dof) if dof else stats.norm.ppf(0.5 + ci / 2)
    outcome_label = _outcome_label(outcome, {})[0]
    score = outcome_label if outcome_label.lower().endswith("score") else f"{outcome_label} score"
    rows = []
    for j, k in enumerate(kpis):
        b, se = float(params[j]), float(bse[j])
        p = 2 * (stats.t.sf(abs(b / se), dof) if dof else stats.norm.sf(abs(b / se)))
        step, unit, label = natural_step(k, declared)
        amount = _amount(step, unit)
        rows.append(dict(kpi=k, lag=0, coef=b, se=se, ci_low=b - z * se, ci_high=b + z * se,
                         p_value=float(p), std_coef=np.nan, std_ci_low=np.nan,
                         std_ci_high=np.nan, step=step, unit=unit, effect=b * step,
                         effect_ci_low=(b - z * se) * step, effect_ci_high=(b + z * se) * step,
                         effect_unit=f"log-odds of a higher {score} per {amount} of {label}",
                         phrase=f"each extra {amount} of {label} multiplies the odds of a higher {score} by "
                                f"{np.exp(b * step):.3g}"))
    return RegressionResult(table=pd.DataFrame(rows, columns=TABLE), diagnostics=pd.DataFrame(),
                            outcome=outcome, model="ordinal", errors=used_errors, n=len(frame), r2=None,
                            fit=fit, effects=effects, ci=ci)
