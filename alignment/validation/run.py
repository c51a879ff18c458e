"""``validate``: run the checks of step 6 on each driver and give the verdicts."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..correlation import correlate
from ..correlation.series import lagged_frame
from ..drivers.regression import natural_step
from ..exceptions import InputError, OptionError
from ..panel.frame import Calendar, PanelFrame, centre_wide, period_number, require_columns
from ..progress import each, setting
from ..stats.resample import spawn_generators
from . import checks as C
from .options import Intervention, Thresholds
from .result import TABLE, VERDICT_TABLE, ValidationResult, plain
from .contact import ContactEvidence, contact_check, contact_holdout, rules_for_contact
from .families import family_verdict
from .intervention import intervention
from .verdict import VerdictRules, adjust, decide, verdict_p

BASE_SCOPE = {"twoway": "within_twoway", "segment": "within", "none": "pooled"}
KEY_FIGURES = ("n", "r", "ci_low", "ci_high", "p_value", "p_adjusted", "share")


def validate(panel, outcome: str, kpis: Sequence[str], *, lags: Mapping[str, int] | int | None = None,
             by: Sequence[str] | None = None, max_lag: int = 0, holdout_start=None,
             thresholds: Thresholds = Thresholds(), rules: VerdictRules = VerdictRules(),
             interventions: Sequence[Intervention] = (), outcome_higher_is_better: bool | None = True,
             placebo: str = "shift", n_permutations: int = 999, grain: str | None = None,
             time: str = "period", seed=None, effects: str | None = None, weights: str | None = "responses",
             calendar: Calendar | None = None, drop_low_responses: bool = True,
             families: Mapping[str, Sequence[str]] | None = None,
             contact: ContactEvidence | None = None, units: Mapping[str, Mapping] | None = None,
             progress=None) -> ValidationResult:
    """Check whether each KPI's correlation with the outcome also holds in real life.

    Each KPI, at its chosen lag, goes through the checks of :mod:`alignment.validation.checks`
    (within segments, trends, placebo, lag search, holdout, stability, interventions) and gets a
    verdict by the rules of :mod:`alignment.validation.verdict`.

    Parameters
    ----------
    panel : Panel or pandas.DataFrame
        One row per period x segment.
    outcome : str
        The CX metric column.
    kpis : sequence of str
        The drivers to validate.
    lags : mapping KPI -> lag, int, or None
        None (the default): each KPI's lag is chosen on the training periods (before
        ``holdout_start``) among 0..``max_lag``, by the smallest p in the scope the checks trust,
        and frozen before the holdout is looked at. A mapping or an int fixes the lags (the KPI at
        t - lag against the outcome at t); choose them on the training periods too, or the
        holdout is not out of time.
    by : sequence of str, optional
        Segment columns; default the panel's.
    max_lag : int
        The largest lag that was tried when the lags were chosen (the lag check corrects for the
        search); 0 means no search.
    holdout_start : date or str, optional
        First period of the holdout; default the start of the last quarter of the periods. The
        period containing the date is the first holdout period.
    thresholds : Thresholds
    rules : VerdictRules
    interventions : sequence of Intervention
        Declared changes; those on KPIs not in ``kpis`` are ignored.
    outcome_higher_is_better : bool or None
        False for outcomes like CES where lower is better; None reads it from the panel's metric
        definitions or the catalog.
    placebo : {"shift", "block"}
        Circular shifts (deterministic, the default) or ``n_permutations`` seeded permutations of
        blocks of periods.
    n_permutations : int
    grain, time
        As for :func:`alignment.correlate`.
    seed : None, int or numpy.random.SeedSequence
        Used by ``placebo="block"`` only; each KPI gets its own child stream.
    effects : {"twoway", "segment", "none"}, optional
        What every check removes before it looks at the association: segment and period effects
        (default with 3 or more segments: an outage or a weekday that moves every queue cannot pass
        for a driver), segment means (default with 2), or nothing (one series). A KPI with no
        variation between segments (centre-wide: marketing spend, weather) is absorbed by period
        effects; it is checked on its time variation with segment means and the calendar controls
        removed, and its evidence is marked ``"time_series"`` (weaker: nothing but the calendar
        stands in for the period shocks).
    weights : {"responses", "none"} or str
        Weight each period by the inverse sampling variance of its CX value (default), none, or a
        weight column (see :func:`alignment.correlate`).
    calendar : Calendar, optional
        Holidays and event days; with weekday indicators at day grain, these are controls wherever
        period effects are not.
    drop_low_responses : bool
        Leave periods flagged ``low_responses`` out of every check (they stay in the panel).
    families : mapping name -> KPIs, optional
        KPIs built from the same contacts, which get one verdict: default the catalog's families
        (waiting: ASA, service level, abandon rate ...; resolution: FCR, transfer rate) among
        ``kpis``; ``{}`` for none. See :func:`alignment.validation.families.family_verdict`.
    contact : ContactEvidence, optional
        The contact-level model fitted on the training surveys and on the holdout's
        (:mod:`alignment.validation.contact`). A KPI a contact measure speaks for gets evidence
        ``"contact"``: the contact estimate is required and its holdout refit confirms; the panel
        checks stay as diagnostics.
    units : mapping of KPI -> mapping, optional
        As for :func:`alignment.regress`; its ``label`` names the KPI in the reasons (a study passes
        its ``[kpis.NAME]`` tables). Default: the catalog's short label (``ASA``), else the column name.
    progress : None, bool or callable, optional
        A progress bar over the KPIs: ``None`` shows one only when a person is watching (a
        terminal or a notebook), ``False`` never, ``True`` always (:mod:`alignment.progress`).

    Returns
    -------
    ValidationResult

    Examples
    --------
    >>> from alignment import build_panel
    >>> from alignment.validation import validate
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = validate(panel, "csat", ["asa", "aht"], lags={"asa": 0, "aht": 0})
    >>> res.verdict("aht")
    'not_validated'
    >>> res.checks["aht"]["within_segment"]["status"]
    'fail'
    """
    shown = setting(progress, where="validate")
    pf = PanelFrame.from_panel(panel, by=by, grain=grain, time=time)
    by, grain = list(pf.by), pf.grain
    effects = pf.effects(effects)
    kpis = [kpis] if isinstance(kpis, str) else list(kpis)
    if not kpis:
        raise OptionError("validate needs at least one KPI.")
    if len(set(kpis)) != len(kpis):
        raise OptionError(f"The 'kpis' parameter of validate lists a KPI twice. Got {kpis!r} instead.")
    if not isinstance(thresholds, Thresholds):
        raise OptionError(f"The 'thresholds' parameter of validate must be a Thresholds. "
                          f"Got {type(thresholds).__name__} instead.")
    if not isinstance(rules, VerdictRules):
        raise OptionError(f"The 'rules' parameter of validate must be a VerdictRules. "
                          f"Got {type(rules).__name__} instead.")
    if not isinstance(max_lag, (int, np.integer)) or isinstance(max_lag, bool) or max_lag < 0:
        raise OptionError(f"The 'max_lag' parameter of validate must be an integer >= 0. Got {max_lag!r} instead.")
    max_lag = int(max_lag)
    lags = None if lags is None else _lag_map(kpis, lags, max_lag)
    if placebo not in C.PLACEBOS:
        raise OptionError(f"The 'placebo' parameter of validate must be 'shift' or 'block'. Got {placebo!r} instead.")
    if not isinstance(n_permutations, (int, np.integer)) or isinstance(n_permutations, bool) or n_permutations < 19:
        raise OptionError(f"The 'n_permutations' parameter of validate must be an integer >= 19. "
                          f"Got {n_permutations!r} instead.")
    require_columns(pf.data, [outcome, *kpis], numeric=[outcome, *kpis])
    higher = _direction(panel, outcome, outcome_higher_is_better)
    interventions = tuple(interventions)
    for item in interventions:
        if not isinstance(item, Intervention):
            raise OptionError(f"The 'interventions' parameter of validate must hold Intervention values. "
                              f"Got {type(item).__name__} instead.")

    data, wcol, weights_used, n_low = pf.analysis_table(outcome, weights, drop_low_responses)
    cal = pf.calendar(calendar)
    for c in cal.columns:
        data[c] = cal[c].to_numpy()
    number = pf.t
    start, start_label = _holdout(data[time], holdout_start, grain)
    train_data, test_data = _masked(data, outcome, number, start)
    labels = pf.labels
    codes_of = {label: code for code, label in labels.items()}
    n_segments = len(labels) if by else 1
    rngs, entropy = spawn_generators(seed, len(kpis))
    family_map = _families(kpis, families)

    tables, rows, all_checks, setup, drivers, results = [], {}, {}, {}, {}, {}
    w_all = data[wcol].to_numpy(dtype=float) if wcol else None
    for kpi, rng in each(zip(kpis, rngs), "validating", total=len(kpis), unit="KPI", progress=shown):
        base, covariates, evidence = BASE_SCOPE[effects], [], "panel" if n_segments >= 2 else "time_series"
        if effects == "twoway" and centre_wide(data[kpi].to_numpy(dtype=float), pf.seg, number):
            base, evidence = "within", "time_series"
        if base != "within_twoway":
            covariates = list(cal.columns)
        # lags, signs and slopes come from the training periods only, frozen before the holdout
        fit_on = train_data if train_data is not None else data
        crow, ctest = contact.rows(kpi) if contact is not None else (None, None)
        # a customer's own contact speaks for the same period: contact evidence is at lag 0, no search
        searched = [0] if crow is not None else list(range(max_lag + 1)) if lags is None else sorted({lags[kpi]})
        training = correlate(fit_on, outcome, [kpi], by=by, lags=searched, scope=base, grain=grain, time=time,
                             covariates=covariates, weights=wcol, drop_low_responses=False).table
        lag = 0 if crow is not None else lags[kpi] if lags is not None else _best_lag(training)
        tried = tuple(sorted(set(range(max_lag + 1)) | {lag}))
        scopes = [base, f"{base}_detrended", f"{base}_differenced", "pooled"]
        if by:
            scopes += ["per_segment"] + (["within"] if base == "within_twoway" else [])
        cor = correlate(data, outcome, [kpi], by=by, lags=list(tried), scope=list(dict.fromkeys(scopes)),
                        grain=grain, time=time, covariates=covariates, weights=wcol, drop_low_responses=False).table
        pairs = lagged_frame(data, outcome, kpi, lag, by, number, [wcol] if wcol else [])
        if wcol:
            pairs = pairs.rename(columns={wcol: "w"})
        d = C.Driver(kpi=kpi, lag=lag, outcome=outcome, data=data, by=by, number=number, n_segments=n_segments,
                     cor=cor, pairs=pairs, max_lag=max_lag, base=base, weights=w_all,
                     covariates=tuple(covariates), evidence=evidence, tried=tried, train_end=start,
                     kpi_label=natural_step(kpi, units).label)
        setup[kpi] = {"scope": base, "evidence": evidence, "controls": list(covariates),
                      "lag_chosen_on": "the contact-level model (lag 0)" if crow is not None else
                      "training periods" if start is not None else "all periods"}
        train_row = training[training["lag"] == lag]
        train_row = train_row.iloc[0] if len(train_row) else None
        _sign_and_slope(d, train_row, pairs if start is None else pairs[pairs["t"] < start])
        if pairs.empty:
            result = {name: C.Check("not_enough_data", "no period has both the KPI and the outcome",
                                    "no complete periods") for name in C.CHECKS}
        else:
            # rolling folds on panel evidence only: a centre-wide KPI is one series, whose tests are the
            # least reliable (benchmarks/README.md), so it keeps the single, stricter split
            folds = ([] if crow is not None or start is None or evidence == "time_series" else
                     _earlier_folds(d, thresholds, data, outcome=outcome, by=by, grain=grain, time=time,
                                    start=start, searched=searched, wcol=wcol))
            result = _run_checks(d, thresholds, outcome=outcome, kpi=kpi, lag=lag, by=by, grain=grain,
                                 time=time, start=start, start_label=start_label, train_row=train_row,
                                 test_data=test_data, interventions=interventions, codes_of=codes_of,
                                 wcol=wcol, labels=labels, placebo=placebo, n_permutations=n_permutations, rng=rng,
                                 folds=folds)
        kpi_rules = rules
        result.pop("contact", None)
        if crow is not None:
            result = {"contact": contact_check(crow, thresholds.alpha, outcome), **result,
                      "holdout": contact_holdout(crow, ctest, thresholds.alpha, outcome, start_label)}
            d.evidence = evidence = setup[kpi]["evidence"] = "contact"
            d.assoc = C._sign(crow["effect"]) or d.assoc
            kpi_rules = rules_for_contact(rules)
        else:
            result = {"contact": C.Check("not_applicable", "no contact-level measure speaks for this KPI"
                                         if contact is not None else "the contact-level model was not fitted",
                                         "no contact-level evidence"), **result}
        verdict, reasons = decide(result, kpi_rules)
        sign = d.assoc if higher else -d.assoc
        statuses = [c.status for c in result.values()]
        drivers[kpi], results[kpi] = d, result
        rows[kpi] = dict(kpi=kpi, lag=lag, sign=int(sign), verdict=verdict, reasons=reasons, evidence=evidence,
                         family=None, proxy_of=None, verdict_p=verdict_p(result, kpi_rules), verdict_p_adjusted=None,
                         n_pass=statuses.count("pass"), n_fail=statuses.count("fail"),
                         n_not_enough_data=statuses.count("not_enough_data"))
        for name, c in result.items():
            tables.append(dict(kpi=kpi, lag=lag, check=name, status=c.status, method=c.method, reason=c.reason,
                               **{k: c.figures.get(k) for k in KEY_FIGURES}))
    fams = [family_verdict(name, members, rows, drivers, data=data, train_data=train_data, outcome=outcome,
                           by=by, grain=grain, time=time, effects=effects, wcol=wcol, alpha=thresholds.alpha,
                           contact=contact)
            for name, members in family_map.items()]
    _adjust(rows, fams, rules, thresholds.alpha)
    for kpi, result in results.items():
        all_checks[kpi] = {name: plain({"status": c.status, "reason": c.reason, "method": c.method, **c.figures})
                           for name, c in result.items()}
    table = pd.DataFrame(tables, columns=TABLE)
    for col in KEY_FIGURES:
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    verdicts = pd.DataFrame([rows[k] for k in kpis], columns=VERDICT_TABLE)
    return ValidationResult(table=table, verdicts=verdicts, checks=all_checks,
                            outcome=outcome, kpis=tuple(kpis), lags={k: rows[k]["lag"] for k in kpis},
                            max_lag=max_lag, holdout_start=start_label, outcome_higher_is_better=higher,
                            thresholds=thresholds, rules=rules, placebo=placebo,
                            seed=plain(entropy) if placebo == "block" else seed,
                            effects=effects, weights=weights_used,
                            calendar=(calendar or Calendar()).to_dict(), n_low_responses=n_low, setup=setup,
                            families=tuple(plain(f) for f in fams))


def _best_lag(training: pd.DataFrame) -> int:
    """The lag with the smallest training p-value (ties to the shorter lag); 0 when none is estimable."""
    ok = training[(training["status"] == "ok") & training["segment"].isna()]
    return int(ok.sort_values(["p_value", "lag"]).iloc[0]["lag"]) if len(ok) else 0


def _sign_and_slope(d: C.Driver, row, pairs: pd.DataFrame) -> None:
    """The driver's sign, r, slope and its standard error from the training periods (trusted scope)."""
    if row is None or row["status"] != "ok" or not np.isfinite(row["r"]):
        return
    d.r_train = float(row["r"])
    d.r, d.assoc = d.r_train, C._sign(row["r"])
    part = C._demeaned(pairs, d)
    if part.empty:
        return
    w = part["w"].to_numpy(dtype=float) if "w" in part else np.ones(len(part))
    sxx, syy = float(np.dot(w, part["x"] ** 2)), float(np.dot(w, part["y"] ** 2))
    if sxx > 0 and syy > 0 and row["n_effective"] > 2:
        d.slope = float(np.dot(w, part["x"] * part["y"])) / sxx
        d.slope_se = math.sqrt(syy / sxx) * math.sqrt(max(1 - d.r_train ** 2, 0.0) / (row["n_effective"] - 2))


def _families(kpis: list[str], families) -> dict[str, tuple[str, ...]]:
    """The KPI families among ``kpis``: the catalog's (default) or the given mapping ({} for none)."""
    from .. import catalog
    if families is None:
        return dict(catalog.families(kpis))
    if not isinstance(families, Mapping):
        raise OptionError(f"The 'families' parameter of validate must be a mapping name -> KPIs. "
                          f"Got {families!r} instead.")
    out, seen = {}, {}
    for name, members in families.items():
        members = (members,) if isinstance(members, str) else tuple(members)
        unknown = [m for m in members if m not in kpis]
        if unknown:
            raise OptionError(f"Family {name!r} given to validate names {unknown[0]!r}, which is not one of its "
                              f"KPIs ({', '.join(kpis)}).")
        for m in members:
            if m in seen:
                raise OptionError(f"{m!r} is in two families given to validate ({seen[m]!r} and {name!r}).")
            seen[m] = name
        if len(members) >= 2:
            out[str(name)] = members
    return out


def _adjust(rows: dict, fams: list[dict], rules: VerdictRules, alpha: float) -> None:
    """Adjust the verdict p across units (families and lone KPIs) and downgrade what does not survive."""
    unit_of = {}
    for f in fams:
        for m in f["members"]:
            if rows[m]["proxy_of"] is None and m != f["carried_by"]:
                unit_of[m] = m          # a member with an effect of its own is its own unit
            elif m == f["carried_by"]:
                unit_of[m] = f"family:{f['name']}"
    p_units = {}
    for k, row in rows.items():
        if row["proxy_of"] is not None:
            continue
        unit = unit_of.get(k, k)
        fam = next((f for f in fams if unit == f"family:{f['name']}"), None)
        p_units[unit] = fam["verdict_p"] if fam else row["verdict_p"]
    adjusted = adjust(p_units, rules.adjust)
    m = len(p_units)
    for k, row in rows.items():
        if row["proxy_of"] is not None:
            continue
        unit = unit_of.get(k, k)
        row["verdict_p_adjusted"] = adjusted[unit]
        if row["verdict"] == "validated" and not adjusted[unit] < alpha:
            row["verdict"] = "inconclusive"
            row["reasons"] = [f"not significant once the study's {m} KPIs are allowed for (verdict p = "
                              f"{p_units[unit]:.2g}, adjusted {adjusted[unit]:.2g})"] + list(row["reasons"])
    for f in fams:
        carrier = rows.get(f["carried_by"])
        if carrier is not None:
            f["verdict"], f["verdict_p_adjusted"] = carrier["verdict"], carrier["verdict_p_adjusted"]


def _run_checks(d, th, *, outcome, kpi, lag, by, grain, time, start, start_label, train_row, test_data,
                interventions, codes_of, labels, placebo, n_permutations, rng, wcol, folds=()) -> dict:
    out = {"within_segment": C.within_segment(d, th), "trend": C.trend(d, th),
           "placebo": C.placebo(d, th, kind=placebo, n_permutations=n_permutations, rng=rng),
           "lag": C.lag(d, th)}
    if start is None:
        out["holdout"] = C.Check("not_enough_data", "the panel has too few periods for a holdout",
                                 "too few periods for a holdout")
    else:
        test = _within_row(_frozen_calendar(test_data, d, start) if d.covariates else test_data, outcome, kpi,
                           lag, by, grain, time, d, wcol, covariates=False)
        out["holdout"] = C.holdout(d, th, start=start, train=train_row, test=test, start_label=start_label,
                                   earlier=folds)
    out["stability"] = C.stability(d, th)
    mine = [i for i in interventions if i.kpi == kpi]
    treated, dates = [], []
    for item in mine:
        unknown = [s for s in item.segments if s not in codes_of]
        if unknown:
            raise InputError(f"intervention {item.label!r} names segment {unknown[0]!r}, which is not in the panel "
                             f"(segments: {', '.join(labels.values())})")
        treated.append([codes_of[s] for s in item.segments])
        dates.append(int(period_number(pd.Series([pd.Timestamp(item.date)]), grain)[0]))
    out["intervention"] = intervention(d, th, mine, treated_codes=treated, date_numbers=dates)
    return out


def _earlier_folds(d, th, data, *, outcome, by, grain, time, start, searched, wcol) -> list[C.Fold]:
    """The out-of-time folds before the holdout (rolling origin; ``th.holdout_folds - 1`` of them).

    Fold ``j`` is the block of periods ``[start - j L, start - (j - 1) L)``, ``L`` the holdout's
    length. Its lag and sign are chosen on the periods before the block only, exactly as the
    holdout's are on the periods before ``start``, and its calendar effects are frozen from those
    periods; the block itself is then judged like the holdout. Under no effect, each fold's
    one-sided p is (close to) uniform given everything before it, whatever was chosen there, so
    the folds' evidence can be combined.
    """
    number = d.number
    end = int(number.max()) + 1
    length = end - start
    periods = np.unique(d.pairs["t"].to_numpy())
    out = []
    for j in range(1, th.holdout_folds):
        lo, hi = start - j * length, start - (j - 1) * length
        n_train = int((periods < lo).sum())
        n_test = int(((periods >= lo) & (periods < hi)).sum())
        if n_train < th.min_periods or n_test < th.holdout_min_periods:
            break
        past = data.copy()
        past[outcome] = past[outcome].astype(float).where(number < lo)
        training = correlate(past, outcome, [d.kpi], by=by, lags=searched, scope=d.base, grain=grain, time=time,
                             covariates=list(d.covariates), weights=wcol, drop_low_responses=False).table
        lag = _best_lag(training) if len(searched) > 1 else searched[0]
        row = training[(training["lag"] == lag) & training["segment"].isna()]
        if row.empty or row.iloc[0]["status"] != "ok" or not np.isfinite(row.iloc[0]["r"]):
            break
        block = data.copy()
        block[outcome] = block[outcome].astype(float).where((number >= lo) & (number < hi))
        if d.covariates:
            block = _frozen_calendar(block, d, lo)
        test = _within_row(block, outcome, d.kpi, lag, by, grain, time, d, wcol, covariates=False)
        label = pd.Timestamp(data.loc[number >= lo, time].min()).date().isoformat()
        out.append(C.Fold(start=label, n_train_periods=n_train, n_periods=n_test, lag=int(lag),
                          sign=C._sign(row.iloc[0]["r"]), test=test))
    return out[::-1]


def _within_row(data, outcome, kpi, lag, by, grain, time, d, wcol, covariates=True):
    """The holdout's correlation in the trusted scope; detrended within the holdout on time-series
    evidence, where nothing else would stop a trend that continues past the split from confirming
    a KPI that merely trends with CX."""
    scope = d.base + ("_detrended" if d.evidence == "time_series" else "")
    table = correlate(data, outcome, [kpi], by=by, lags=[lag], scope=scope, grain=grain, time=time,
                      covariates=list(d.covariates) if covariates else [], weights=wcol,
                      drop_low_responses=False).table
    return table.iloc[0] if len(table) else None


def _frozen_calendar(data: pd.DataFrame, d: C.Driver, start: int) -> pd.DataFrame:
    """The KPI and the outcome less their calendar effects, estimated on the training periods only.

    A quarter of weekly data cannot estimate week-of-year seasonality (six Fourier terms) or
    holiday effects of its own: refitting them inside the holdout would use up its degrees of
    freedom. The training fit is frozen and subtracted instead, like the lag and the sign.
    """
    out = data.copy()
    train = d.number < start
    out[d.kpi] = out[d.kpi].to_numpy(dtype=float) - C.calendar_part(d, d.data[d.kpi].to_numpy(dtype=float), train)
    out[d.outcome] = (out[d.outcome].to_numpy(dtype=float)
                      - C.calendar_part(d, d.data[d.outcome].to_numpy(dtype=float), train))
    return out


def _lag_map(kpis, lags, max_lag) -> dict[str, int]:
    if isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
        lags = {k: int(lags) for k in kpis}
    if not isinstance(lags, Mapping):
        raise OptionError(f"The 'lags' parameter of validate must be a mapping KPI -> lag or an integer. "
                          f"Got {lags!r} instead.")
    missing = [k for k in kpis if k not in lags]
    if missing:
        raise OptionError(f"The 'lags' parameter of validate must give a lag for every KPI. "
                          f"Got none for {missing[0]!r}.")
    out = {}
    for k in kpis:
        v = lags[k]
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise OptionError(f"The lag of {k!r} given to validate must be an integer >= 0. Got {v!r} instead.")
        if max_lag > 0 and v > max_lag:
            raise OptionError(f"The lag of {k!r} given to validate must be at most max_lag = {max_lag}. "
                              f"Got {v!r} instead.")
        out[k] = int(v)
    return out


def _direction(panel, outcome: str, given) -> bool:
    if given is not None:
        if not isinstance(given, (bool, np.bool_)):
            raise OptionError(f"The 'outcome_higher_is_better' parameter of validate must be True, False or None. "
                              f"Got {given!r} instead.")
        return bool(given)
    definitions = getattr(panel, "definitions", None) or {}
    if outcome in definitions:
        return bool(definitions[outcome].higher_is_better)
    from .. import catalog
    entry = catalog.entry(outcome)
    return bool(entry["higher_is_better"]) if entry else True


def _holdout(periods: pd.Series, holdout_start, grain: str) -> tuple[int | None, str | None]:
    """The period number where the holdout starts, and its date as text."""
    distinct = np.sort(pd.to_datetime(periods).unique())
    if holdout_start is None:
        if len(distinct) < 4:
            return None, None
        first = pd.Timestamp(distinct[int(len(distinct) * 0.75)])
    else:
        try:
            first = pd.Timestamp(holdout_start)
        except (ValueError, TypeError):
            raise OptionError(f"The 'holdout_start' parameter of validate must be a date 'YYYY-MM-DD'. "
                              f"Got {holdout_start!r} instead.") from None
        if pd.isna(first):
            raise OptionError(f"The 'holdout_start' parameter of validate must be a date 'YYYY-MM-DD'. "
                              f"Got {holdout_start!r} instead.")
    return int(period_number(pd.Series([first]), grain)[0]), first.date().isoformat()


def _masked(data: pd.DataFrame, outcome: str, number: np.ndarray, start: int | None):
    """The panel with the outcome blanked after (training) and before (holdout) the holdout start.

    Blanking the outcome rather than dropping rows keeps the KPI's earlier values, so a lagged
    pair at the boundary stays usable.
    """
    if start is None:
        return None, None
    train, test = data.copy(), data.copy()
    train[outcome] = train[outcome].astype(float).where(number < start)
    test[outcome] = test[outcome].astype(float).where(number >= start)
    return train, test
