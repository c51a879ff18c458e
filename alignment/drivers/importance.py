"""Relative importance of KPIs for a CX outcome: Shapley/LMG, dominance analysis, Johnson's weights.

The three methods answer "how much of the explained variance (R²) of the outcome does
each KPI account for?" when KPIs are correlated with one another, which they always
are in a contact center (waits, abandonment and service level move together):

* ``"shapley"``: the Shapley value of R² over all ``2**p`` predictor subsets, also
  known as LMG (Lindeman, Merenda & Gold, 1980) or averaging over orderings; matches
  ``relaimpo::calc.relimp(type = "lmg")`` in R (Grömping, 2006).
* ``"dominance"``: dominance analysis (Budescu, 1993; Azen & Budescu, 2003). Its general
  dominance statistic equals the Shapley value; it adds conditional dominance (mean
  increment by number of other predictors in the model) and pairwise complete,
  conditional and general dominance; matches R's ``dominanceanalysis`` package.
* ``"johnson"``: Johnson's (2000) relative weights, from the eigendecomposition of the
  predictors' correlation matrix; a fast approximation of the Shapley value; matches
  R's ``rwa`` package.

With ``groups``, Shapley and dominance share R² among groups of KPIs (say all the
waiting-time KPIs together) and the remaining KPIs on their own; this is relaimpo's
``groups =`` (Grömping, 2006, section 3).

Everything is computed from the (within-segment) correlation matrix, so no model is
refitted on rows. The bootstrap resamples rows as a panel requires (see
:mod:`alignment.stats.resample`).

References
----------
Azen, R., & Budescu, D. V. (2003). The dominance analysis approach for comparing
predictors in multiple regression. *Psychological Methods* 8(2), 129-148.
Grömping, U. (2006). Relative importance for linear regression in R: the package
relaimpo. *Journal of Statistical Software* 17(1), 1-27.
Johnson, J. W. (2000). A heuristic method for estimating the relative weight of
predictor variables in multiple regression. *Multivariate Behavioral Research* 35(1), 1-19.
Lindeman, R. H., Merenda, P. F., & Gold, R. Z. (1980). *Introduction to Bivariate and
Multivariate Analysis*. Scott, Foresman.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..display import Displayed
from ..exceptions import AlignmentWarning, InputError, OptionError, SmallSampleWarning, renamed
from ..progress import bar, setting, using
from ..stats.resample import MAX_RESAMPLES, PanelResampler, spawn_generators

__all__ = ["relative_importance", "ImportanceResult", "IIDBootstrapWarning"]

METHODS = ("shapley", "johnson", "dominance")
#: The largest number of predictors (or players) of the exact methods (2**24 = 16.8 million subsets
#: per pass). Defined here, without numba, so that a study can be checked against it cheaply.
MAX_PREDICTORS = 24
TABLE_COLUMNS = ["kpi", "importance", "share", "ci_low", "ci_high", "rank",
                 "rank_ci_low", "rank_ci_high"]
GROUPED_METHODS = ("shapley", "dominance")
_LABELS = {"shapley": "Shapley value (LMG) of R²", "dominance": "general dominance (= Shapley value) of R²",
           "johnson": "Johnson's relative weights"}
# Eigenvalues of the predictors' correlation matrix below this mean exact collinearity;
# a matrix that close to singular gives R² increments that are rounding noise.
_SINGULAR_TOL = 1e-10
# R² differences smaller than this are rounding, not dominance.
_TIE_TOL = 1e-12
# Rows per bootstrap chunk x resamples: bounds the memory of the count matrix (int32).
_CHUNK_CELLS = 16_000_000


class IIDBootstrapWarning(AlignmentWarning):
    """The bootstrap resampled i.i.d. rows of data that are a time series (pass ``block``)."""


@dataclass(frozen=True, repr=False)
class ImportanceResult(Displayed):
    """Relative importance of each predictor, with bootstrap intervals.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per KPI, in the order given: ``kpi``, ``importance``
        (its part of R²), ``share`` (importance / R², sums to 1), ``ci_low``,
        ``ci_high`` (percentile interval of the importance), ``rank`` (1 = most
        important), ``rank_ci_low``, ``rank_ci_high`` (percentile interval of the
        resampled ranks). Interval columns are NaN / <NA> when ``n_boot == 0``.
        With ``groups``: one row per player (a group, or a predictor in no group), in
        the order players first appear in ``kpis``; ``kpi`` holds the
        group's name and a ``members`` column, second, the tuple of its predictors
        (one-element for a predictor in no group).
    r2 : float
        R² of the full model (within segments when ``by`` is set).
    method : str
        ``"shapley"``, ``"dominance"`` or ``"johnson"``.
    n, n_dropped : int
        Rows used, and rows dropped for a missing value.
    n_boot : int
        Bootstrap resamples requested.
    seed : int or None
        The seed that reproduces the resamples (the drawn entropy when ``seed=None``
        was passed and ``n_boot > 0``).
    by, cluster : tuple of str or None
        Segment columns for demeaning and for cluster resampling.
    block : int or None
        Block length in periods of the circular block bootstrap.
    boot : ndarray of shape (n_boot, rows of table) or None
        The resampled importances (NaN rows: resamples whose outcome had no variance).
    dominance : dict of DataFrames or None
        For ``method="dominance"``: ``"conditional"`` (``kpi``, ``subset_size``,
        ``importance``: mean R² increment of the predictor over models holding
        ``subset_size`` of the other predictors) and ``"pairwise"`` (``kpi``,
        ``other``, ``complete``, ``conditional``, ``general``: whether ``kpi``
        dominates ``other`` at that level; neither way round = undetermined). With
        ``groups``, between players.
    groups : dict of str to tuple of str, or None
        The groups as given (group name -> member predictors).
    outcome : str
    ci : float
        Confidence level of the intervals.
    resampling : str
        How rows were resampled, in words.
    """

    table: pd.DataFrame
    r2: float
    method: str
    n: int
    n_dropped: int
    n_boot: int
    seed: Any
    by: tuple[str, ...] | None
    block: int | None
    cluster: tuple[str, ...] | None
    boot: np.ndarray | None = field(default=None, repr=False)
    dominance: dict[str, pd.DataFrame] | None = field(default=None, repr=False)
    outcome: str = ""
    ci: float = 0.95
    resampling: str = ""
    effects: str = "none"
    weights: str | None = None
    groups: dict[str, tuple[str, ...]] | None = None

    def summary(self) -> str:
        """Text summary: the model, the resampling and the predictors by rank."""
        t = self.table.sort_values(["rank", "kpi"])
        level = f"{100 * self.ci:g}%"
        lines = [
            f"Relative importance for '{self.outcome}': {_LABELS[self.method]}",
            f"  n = {self.n} rows ({self.n_dropped} dropped for missing values), "
            + (f"{len(t)} predictors" if self.groups is None
               else f"{len(t)} players ({len(self.groups)} groups, {len(t) - len(self.groups)} ungrouped)")
            + f", R² = {self.r2:.4f}"
            + (f" within {', '.join(self.by)}" if self.by else "")
            + (" and periods" if self.effects == "twoway" else "") + (f", weighted by {self.weights}" if self.weights else ""),
        ]
        for name, members in (self.groups or {}).items():
            lines.append(f"  group {name} = {' + '.join(members)}")
        if self.n_boot:
            lines.append(f"  {self.n_boot} bootstrap resamples: {self.resampling}; "
                         f"{level} percentile intervals; seed {self.seed}")
        else:
            lines.append("  no bootstrap (n_boot = 0): no intervals")
        width = max(9, *(len(str(x)) for x in t["kpi"]))
        lines.append(f"  {'rank':>4}  {'kpi':<{width}}  {'importance':>10}  {'share':>6}  "
                     f"{level + ' interval':>18}  {'rank interval':>13}")
        for row in t.itertuples(index=False):
            interval = "" if np.isnan(row.ci_low) else f"[{row.ci_low:.4f}, {row.ci_high:.4f}]"
            ranks = "" if pd.isna(row.rank_ci_low) else f"{row.rank_ci_low}-{row.rank_ci_high}"
            lines.append(f"  {row.rank:>4}  {row.kpi:<{width}}  {row.importance:>10.4f}  "
                         f"{100 * row.share:>5.1f}%  {interval:>18}  {ranks:>13}")
        if self.dominance is not None:
            pw = self.dominance["pairwise"]
            for level_name in ("complete", "conditional", "general"):
                pairs = pw[pw[level_name]]
                lines.append(f"  {level_name} dominance:" + ("" if len(pairs) else " none"))
                for name in t["kpi"]:  # most important first
                    beaten = pairs.loc[pairs["kpi"] == name, "other"]
                    if len(beaten):
                        lines.append(f"    {name} > {', '.join(beaten)}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain-Python description (the table as records; without the bootstrap draws)."""
        def plain(v):
            if isinstance(v, (tuple, list)):  # the members of a group
                return [plain(x) for x in v]
            return None if pd.isna(v) else v.item() if hasattr(v, "item") else v

        def records(frame):
            return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]

        return {
            "method": self.method, "outcome": self.outcome, "r2": float(self.r2),
            "n": self.n, "n_dropped": self.n_dropped, "n_boot": self.n_boot,
            "seed": self.seed if self.seed is None or isinstance(self.seed, int) else list(self.seed),
            "by": list(self.by) if self.by else None, "block": self.block,
            "cluster": list(self.cluster) if self.cluster else None, "ci": self.ci,
            "resampling": self.resampling, "effects": self.effects, "weights": self.weights,
            "groups": None if self.groups is None else {k: list(v) for k, v in self.groups.items()},
            "table": records(self.table),
            "dominance": None if self.dominance is None
            else {k: records(v) for k, v in self.dominance.items()},
        }


def relative_importance(data: pd.DataFrame, outcome: str, kpis=None, *, method: str = "shapley",
                        by=None, n_boot: int = 1000, block: int | None = None, cluster=None,
                        time: str | None = "period", ci: float = 0.95, seed=None, effects: str | None = None,
                        weights: str | None = None, groups=None, within=None, predictors=None,
                        progress=None) -> ImportanceResult:
    """How much of the outcome's explained variance each KPI accounts for, with bootstrap intervals.

    Parameters
    ----------
    data : Panel or pandas.DataFrame
        A KPI panel, one row per period x segment (a :class:`~alignment.Panel`, whose segments
        are the default ``by``, or a table such as ``Panel.table``).
        Rows with a missing value in ``outcome``, ``kpis`` or a grouping column
        in use (``by``, ``cluster``, and ``time`` when ``block`` is set) are
        dropped and counted in ``n_dropped``.
    outcome : str
        The CX metric column.
    kpis : str or list of str
        KPI columns (at most 24 for ``"shapley"`` and ``"dominance"``, which visit all
        ``2**p`` subsets; with ``groups``, at most 24 players).
    method : {"shapley", "dominance", "johnson"}
        Shapley value (LMG) of R²; dominance analysis (general dominance in the table,
        conditional and pairwise dominance in ``result.dominance``); Johnson's
        relative weights.
    by : str or list of str, optional
        Segment column(s). Outcome and KPIs are demeaned within each segment
        first (the fixed-effects "within" transformation), so importance is about
        variation over time inside segments, not about differences between segments.
        R² is then the within R². The demeaning is redone in every resample.
    n_boot : int
        Bootstrap resamples, at most 100,000 (``alignment.stats.resample.MAX_RESAMPLES``);
        0 skips the bootstrap (interval columns are NaN).
    block : int, optional
        Circular block bootstrap over periods: blocks of ``block`` consecutive
        periods of the ``time`` column, all segments of a period together.
    cluster : str or list of str, optional
        Resample whole segments (these columns) with replacement. With ``block``
        too, segments and period blocks are drawn independently.
    time : str or None
        The period column (used by ``block`` and to detect time-series data).
    ci : float
        Confidence level of the percentile intervals, in (0, 1).
    seed : None, int or numpy.random.SeedSequence
        Seeds the resamples (one spawned child per resample); the same seed gives
        the same table.
    effects : {"twoway", "segment", "none"}, optional
        ``"twoway"`` removes segment (``by``) and period (``time``) means first, so
        shocks common to every segment in a period count for nothing; ``"segment"`` is
        ``by`` alone. Default: ``"segment"`` when ``by`` is given, else ``"none"``.
        With period effects, each resample re-centres the two-way residuals of the full
        sample within segments (a period block brings all its segments, so its period mean
        stays removed) rather than redoing the two-way projection.
    weights : str, optional
        Column of row weights (e.g. the outcome's response count): importance is then that
        of the weighted R².
    groups : dict of str to list of str, optional
        Share R² among groups of predictors, e.g. ``{"waiting": ["asa", "abandon_rate"]}``:
        the players of the Shapley value are the groups and every predictor in no group
        (on its own), and a coalition's value is the R² of all its columns, so nothing
        is said about the members of a group separately. Each member must be one of
        ``kpis`` and in one group only; a group may have one member; a group's
        name must not be that of an ungrouped KPI. The table has one row per
        player (in the order players first appear in ``kpis``, the group's name
        as ``kpi``) and a ``members`` column. For ``"shapley"`` and
        ``"dominance"`` (between players); matches relaimpo's ``groups =``.
    progress : None, bool or callable, optional
        A progress bar over the resamples: ``None`` shows one only when a person is watching
        (a terminal or a notebook), ``False`` never, ``True`` always (:mod:`alignment.progress`).
    within, predictors
        Deprecated names of ``by`` and ``kpis`` (an
        :class:`~alignment.exceptions.AlignmentDeprecationWarning`; giving both names is an
        :class:`~alignment.exceptions.OptionError`).

    Returns
    -------
    ImportanceResult

    Raises
    ------
    OptionError
        Unknown ``method``, more than 24 predictors or players (shapley, dominance),
        ``n_boot`` below 0 or above 100,000, ``ci`` outside (0, 1), a bad ``block``; ``groups`` with
        ``method="johnson"``, an empty group, a member that is not a predictor or is in
        two groups, a group named like an ungrouped predictor.
    InputError
        Unknown or non-numeric column, fewer than ``p + 2`` complete rows, a constant
        outcome or KPI (within segments when ``by`` is set), perfectly
        collinear predictors (the message names them).

    Warns
    -----
    IIDBootstrapWarning
        Neither ``block`` nor ``cluster`` was given but the data has several periods
        in ``time``: i.i.d. rows ignore autocorrelation, so intervals are too narrow.
    SmallSampleWarning
        Fewer than 10 clusters, or resamples in which a predictor had no variance
        (its importance counts as 0 there).

    Notes
    -----
    Intervals are bootstrap percentile intervals (numpy's default linear
    interpolation for importances; order statistics for ranks, so rank bounds are
    whole numbers). Ranks are 1 for the largest importance, ties sharing the best rank.
    Shapley values are computed exactly by a depth-first walk over the subset tree
    that carries partial covariances (see :mod:`alignment.drivers.shapley`): about
    10 ms per pass at p = 20 on one core, and the resamples run in parallel.
    ``method="dominance"`` also keeps the R² of all ``2**p`` subsets (8 bytes each:
    8 MB at p = 20, 134 MB at p = 24) for the pairwise comparisons; its intervals are
    those of general dominance (the Shapley value).
    With ``groups`` the walk is over the ``2**q`` coalitions of the ``q`` players (the
    R² of a coalition again from the correlation matrix, adding a group's columns one
    sweep at a time); grouping a group of ``m`` predictors divides the work by about
    ``2**(m - 1)``. A group's value is the average, over the orders in which the
    players can enter, of what its columns add together to R²; it is not the sum of its
    members' ungrouped Shapley values.

    Examples
    --------
    >>> from alignment import build_panel
    >>> from alignment.drivers import relative_importance
    >>> panel = build_panel("data/demo/contacts.csv", surveys="data/demo/surveys.csv",
    ...                     grain="week", by=["queue"], timezone="America/New_York")
    >>> res = relative_importance(panel.table, "csat", ["asa", "fcr", "aht", "transfer_rate"],
    ...                           by="queue", block=4, n_boot=200, seed=1)
    >>> res.table.columns.tolist()
    ['kpi', 'importance', 'share', 'ci_low', 'ci_high', 'rank', 'rank_ci_low', 'rank_ci_high']
    >>> bool(abs(res.table["importance"].sum() - res.r2) < 1e-12)
    True

    Waiting-time KPIs as one player, FCR and AHT on their own:

    >>> res = relative_importance(panel.table, "csat", ["asa", "fcr", "aht", "abandon_rate", "service_level"],
    ...                           by="queue", block=4, n_boot=200, seed=1,
    ...                           groups={"waiting": ["asa", "abandon_rate", "service_level"]})
    >>> res.table[["kpi", "members"]].to_dict("list")
    {'kpi': ['waiting', 'fcr', 'aht'], 'members': [('asa', 'abandon_rate', 'service_level'), ('fcr',), ('aht',)]}
    >>> bool(abs(res.table["importance"].sum() - res.r2) < 1e-12)
    True
    """
    shown = setting(progress, where="relative_importance")
    by = renamed("relative_importance", "within", "by", within, by)
    kpis = renamed("relative_importance", "predictors", "kpis", predictors, kpis)
    if kpis is None:
        raise TypeError("relative_importance() missing the argument 'kpis' (the KPI columns)")
    from ..panel.frame import PanelFrame
    from ..panel.result import Panel
    if isinstance(data, (Panel, PanelFrame)):     # its table, and its segments unless by= says otherwise
        by = list(data.by) if by is None else by
        by = None if not isinstance(by, str) and len(by) == 0 else by     # by=() pools the segments
        data = data.table if isinstance(data, Panel) else data.data
    kpis, by, cluster, group_map = _validate(data, outcome, kpis, method, by, n_boot,
                                                       block, cluster, time, ci, seed, groups)
    players = None if group_map is None else _players(kpis, group_map)
    effects = effects or ("segment" if by else "none")
    if effects not in ("twoway", "segment", "none"):
        raise _option("effects", "one of 'twoway', 'segment', 'none'", effects)
    if effects != "none" and not by:
        raise _option("by", f"the segment columns when effects={effects!r}", by)
    if effects == "twoway" and (time is None or time not in data.columns):
        raise _option("time", "the period column when effects='twoway'", time)
    p = len(kpis)
    keys = list(dict.fromkeys([*(by or ()), *(cluster or ()),
                               *([time] if block is not None or effects == "twoway" else [])]))
    if weights is not None:
        if weights not in data.columns:
            raise InputError("is not in the data", column=weights)
        if (data[weights].dropna() < 0).any():
            raise InputError("has negative weights", column=weights)
    values = _numeric(data, [*kpis, outcome] + ([weights] if weights else []))
    complete = values.notna().all(axis=1) & data[keys].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    frame = data.loc[complete, keys].reset_index(drop=True)
    X = values.loc[complete].to_numpy(dtype=np.float64)
    w = None
    if weights:
        X, w = X[:, :-1], X[:, -1]
    n = len(X)
    if n < p + 2:
        raise InputError(f"the data has {n} complete rows for {p} predictors; at least {p + 2} (p + 2) are "
                         f"needed ({n_dropped} rows dropped for missing values)")

    groups, n_groups = _group_codes(frame, by)
    if effects == "twoway" or w is not None:
        from ..panel.frame import demean
        period = (pd.factorize(frame[time], sort=True)[0] if effects == "twoway"
                  else np.zeros(n, dtype=np.int64))
        D = demean(X, groups if n_groups else np.zeros(n, dtype=np.int64), period, effects, w)
        if w is not None:
            D = D * np.sqrt(w)[:, None]
        Z = _standardize(D, groups, 0, kpis, outcome, by, centred=True)
    else:
        Z = _standardize(X, groups, n_groups, kpis, outcome, by)
    R = Z.T @ Z
    d = np.sqrt(np.diag(R))
    R = R / np.outer(d, d)
    np.fill_diagonal(R, 1.0)
    _check_collinear(R[:p, :p], kpis, by)

    # column indices of each player (None: every predictor is a player, the fast kernels)
    members = None if players is None else [[kpis.index(m) for m in ms] for _, ms in players]
    names = kpis if players is None else [name for name, _ in players]
    dominance = None
    if method == "johnson":
        importance = _johnson(R[None])[0]
    else:
        from . import shapley as kernels  # numba compiles (or loads its cache) on first use

        if members is None:
            importance, _ = kernels.shapley(R)
        else:
            importance, _ = kernels.group_shapley(R, members)
        if method == "dominance":
            table = kernels.subset_r2(R) if members is None else kernels.group_subset_r2(R, members)
            dominance = _dominance_tables(kernels, table, names, importance)
    r2 = float(importance.sum())

    # built even without resamples so that a bad block length is reported either way
    plan = PanelResampler.from_frame(frame, time=time, block=block, cluster=cluster)
    boot, resampling = None, ""
    used_seed = seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
    if n_boot > 0:
        resampling = plan.describe()
        _warn_design(plan, frame, data, time, block, cluster)
        rngs, used_seed = spawn_generators(seed, n_boot)
        if isinstance(seed, (int, np.integer)):
            used_seed = int(seed)
        with using(shown, where="relative_importance"):
            boot = _bootstrap(Z, groups, n_groups, plan, rngs, method, members)

    table = _table(names, importance, r2, boot, ci,
                   None if players is None else [ms for _, ms in players])
    return ImportanceResult(
        table=table, r2=r2, method=method, n=n, n_dropped=n_dropped, n_boot=int(n_boot),
        seed=used_seed, by=by, block=block, cluster=cluster, boot=boot, effects=effects, weights=weights,
        dominance=dominance, outcome=outcome, ci=float(ci), resampling=resampling,
        groups=group_map)


# ─── validation ──────────────────────────────────────────────────────────────


def _option(name, expected, got):
    return OptionError(f"The '{name}' parameter of relative_importance must be {expected}. "
                       f"Got {got!r} instead.")


def _columns(name, value):
    if value is None:
        return None
    cols = (value,) if isinstance(value, str) else tuple(value)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise _option(name, "a column name or a list of column names", value)
    return cols


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _validate(data, outcome, kpis, method, by, n_boot, block, cluster, time, ci, seed, groups):
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"relative_importance needs a pandas DataFrame; got {type(data).__name__}")
    if method not in METHODS:
        raise _option("method", "one of " + ", ".join(map(repr, METHODS)), method)
    kpis = _columns("kpis", kpis)
    if len(set(kpis)) != len(kpis):
        dup = sorted({c for c in kpis if kpis.count(c) > 1})
        raise _option("kpis", "a list of distinct columns", f"duplicates {dup}")
    if not isinstance(outcome, str):
        raise _option("outcome", "a column name", outcome)
    if outcome in kpis:
        raise _option("kpis", f"columns other than the outcome '{outcome}'", list(kpis))
    groups = _validate_groups(groups, kpis, method)
    if groups is None and method != "johnson" and len(kpis) > MAX_PREDICTORS:
        raise OptionError(f"method='{method}' visits all 2**p predictor subsets and accepts at most "
                          f"{MAX_PREDICTORS} KPIs; got {len(kpis)}. Screen or group "
                          f"KPIs first, or use method='johnson'.")
    n_players = None if groups is None else len(_players(kpis, groups))
    if groups is not None and n_players > MAX_PREDICTORS:
        raise OptionError(f"method='{method}' visits all 2**q coalitions of groups and ungrouped predictors "
                          f"and accepts at most {MAX_PREDICTORS} of them; got {n_players}. "
                          f"Group more predictors together.")
    if not _is_int(n_boot) or not 0 <= n_boot <= MAX_RESAMPLES:
        raise _option("n_boot", f"a non-negative integer of at most {MAX_RESAMPLES:,}", n_boot)
    if block is not None and (not _is_int(block) or block < 1):
        raise _option("block", "None or a positive integer (periods per block)", block)
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise _option("ci", "a number strictly between 0 and 1", ci)
    if not (seed is None or isinstance(seed, np.random.SeedSequence)
            or (_is_int(seed) and seed >= 0)):
        raise _option("seed", "None, a non-negative integer or a numpy.random.SeedSequence", seed)
    if time is not None and not isinstance(time, str):
        raise _option("time", "a column name or None", time)
    by, cluster = _columns("by", by), _columns("cluster", cluster)
    needed = [outcome, *kpis, *(by or ()), *(cluster or ())]
    if block is not None:
        if time is None:
            raise _option("time", "a column name when block is set", time)
        needed.append(time)
    for col in needed:
        if col not in data.columns:
            known = ", ".join(map(str, data.columns[:20])) + (", ..." if len(data.columns) > 20 else "")
            raise InputError(f"is not in the data (columns: {known})", column=col)
    return list(kpis), by, cluster, groups


def _validate_groups(groups, kpis, method):
    """``groups`` as {name: tuple of members}, in the order the groups first appear in ``predictors``."""
    if groups is None:
        return None
    if method not in GROUPED_METHODS:
        raise _option("groups", "None with method='johnson' (relative weights have no group version; "
                      "use method='shapley')", groups)
    if not isinstance(groups, Mapping) or not groups:
        raise _option("groups", "a non-empty dict of group name -> list of predictors", groups)
    owner = {}
    for name, cols in groups.items():
        if not isinstance(name, str) or not name:
            raise _option("groups", "a dict whose keys (group names) are non-empty strings", name)
        members = (cols,) if isinstance(cols, str) else tuple(cols) if isinstance(cols, (list, tuple)) else None
        if members is None or not all(isinstance(c, str) for c in members):
            raise _option("groups", f"a list of predictor names for group '{name}'", cols)
        if not members:
            raise _option("groups", f"a dict of non-empty groups; group '{name}' has no members", cols)
        for col in members:
            if col not in kpis:
                raise _option("groups", f"a dict of lists of the KPIs {list(kpis)}; "
                              f"group '{name}' has '{col}'", col)
            if col in owner:
                where = "twice" if owner[col] == name else f"also in group '{owner[col]}'"
                raise _option("groups", f"a dict of groups in which each predictor occurs once; "
                              f"'{col}' of group '{name}' is {where}", col)
            owner[col] = name
    for name, cols in groups.items():
        # a group may carry its own member's name, not that of another predictor
        if name in kpis and owner.get(name) != name:
            raise _option("groups", f"a dict whose group names differ from the other predictors' names; "
                          f"group '{name}' is named like the predictor '{name}', which is not in it", name)
    first = {name: min(kpis.index(c) for c in ((cols,) if isinstance(cols, str) else cols))
             for name, cols in groups.items()}
    return {name: ((groups[name],) if isinstance(groups[name], str) else tuple(groups[name]))
            for name in sorted(groups, key=first.get)}


def _players(kpis, groups):
    """[(name, members)] for the groups and the ungrouped predictors, in order of first appearance."""
    owner = {c: name for name, cols in groups.items() for c in cols}
    players, seen = [], set()
    for col in kpis:
        name = owner.get(col, col)
        if name not in seen:
            seen.add(name)
            players.append((name, groups[name] if col in owner else (col,)))
    return players


def _numeric(data, cols):
    out = {}
    for col in cols:
        s = data[col]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype("float64")
        elif not pd.api.types.is_numeric_dtype(s):
            raise InputError(f"must be numeric; it has dtype {s.dtype}", column=col)
        s = s.astype("float64")
        bad = np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            raise InputError("holds an infinite value", column=col, row=int(np.argmax(bad)) + 1)
        out[col] = s
    return pd.DataFrame(out, index=data.index)


def _group_codes(frame, by):
    if not by:
        return np.zeros(len(frame), dtype=np.int64), 0
    codes = frame.groupby(list(by), sort=True).ngroup().to_numpy().astype(np.int64)
    return codes, int(codes.max()) + 1


def _demean(X, groups, n_groups):
    if n_groups == 0:
        return X - X.mean(axis=0)
    sums = np.zeros((n_groups, X.shape[1]))
    np.add.at(sums, groups, X)
    sizes = np.bincount(groups, minlength=n_groups)
    return X - (sums / sizes[:, None])[groups]


def _standardize(X, groups, n_groups, kpis, outcome, by, centred=False):
    """Demean (within segments or globally) and scale each column to unit sum of squares."""
    if centred:
        D = X
    else:
        D = _demean(X, groups, n_groups)
    if n_groups:
        D = _demean(D, groups, n_groups)  # a second pass removes the rounding of large segment means
    ss = np.sqrt((D * D).sum(axis=0))
    scale = np.abs(X).max(axis=0)
    names = [*kpis, outcome]
    for j, name in enumerate(names):
        # "constant" = no variation beyond rounding of the column's magnitude
        if not ss[j] > 1e-12 * max(scale[j], 1e-300) * np.sqrt(len(X)):
            what = "outcome" if j == len(names) - 1 else "KPI"
            where = f" within every segment of {', '.join(by)}" if by else ""
            raise InputError(f"is constant{where}: the {what} must vary", column=name)
    return D / ss


def _check_collinear(Rxx, kpis, by):
    evals, evecs = np.linalg.eigh(Rxx)
    null = evals < _SINGULAR_TOL * max(evals[-1], 1.0)
    if null.any():
        involved = np.abs(evecs[:, null]).max(axis=1) > 1e-6
        names = ", ".join(f"'{c}'" for c, hit in zip(kpis, involved) if hit)
        where = " after demeaning within segments" if by else ""
        raise InputError(f"perfectly collinear predictors{where}: {names} (one is a linear combination "
                         f"of the others; the correlation matrix is singular). Drop one of them.")


def _warn_design(plan, frame, data, time, block, cluster):
    if block is None and cluster is None and time is not None and time in data.columns:
        n_periods = data[time].nunique(dropna=True)
        if n_periods > 1:
            warnings.warn(
                f"the bootstrap resamples i.i.d. rows, but the data has {n_periods} periods in "
                f"'{time}': that ignores autocorrelation and gives intervals that are too narrow. "
                f"Pass block=<periods per block> (and cluster=<segment columns>).",
                IIDBootstrapWarning, stacklevel=3)
    if cluster is not None and plan.n_clusters < 10:
        warnings.warn(f"the cluster bootstrap draws from only {plan.n_clusters} clusters of "
                      f"{', '.join(cluster)}; its intervals are unreliable with fewer than about 10.",
                      SmallSampleWarning, stacklevel=3)


# ─── computation ─────────────────────────────────────────────────────────────


def _johnson(R):
    """Johnson's relative weights for a stack of correlation matrices (outcome last).

    With R_xx = V diag(e) V', Lambda = V diag(sqrt e) V' relates the predictors to
    their closest orthonormal counterparts Z; beta = Lambda^-1 r_xy regresses the
    outcome on Z; weight_j = sum_k Lambda_jk² beta_k² (they sum to R²).
    """
    Rxx, rxy = R[:, :-1, :-1], R[:, :-1, -1]
    evals, V = np.linalg.eigh(Rxx)
    s = np.sqrt(np.clip(evals, 0.0, None))
    Vt = np.swapaxes(V, 1, 2)
    lam = (V * s[:, None, :]) @ Vt
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 1e-8)
    beta = ((V * inv[:, None, :]) @ (Vt @ rxy[:, :, None]))[:, :, 0]
    return np.einsum("bjk,bk->bj", lam * lam, beta * beta)


def _dominance_tables(kernels, table, kpis, importance):
    """Conditional and pairwise dominance from the R² of every subset (of predictors or of players)."""
    p = len(kpis)
    cond, complete = kernels.dominance_from_table(table, p, _TIE_TOL)
    conditional = pd.DataFrame({
        "kpi": np.repeat(kpis, p),
        "subset_size": np.tile(np.arange(p), p),
        "importance": cond.ravel(),
    })
    rows = []
    for i, a in enumerate(kpis):
        for j, b in enumerate(kpis):
            if i != j:
                rows.append({"kpi": a, "other": b, "complete": bool(complete[i, j]),
                             "conditional": bool(np.all(cond[i] > cond[j] + _TIE_TOL)),
                             "general": bool(importance[i] > importance[j] + _TIE_TOL)})
    return {"conditional": conditional, "pairwise": pd.DataFrame(rows)}


def _bootstrap(Z, groups, n_groups, plan, rngs, method, members=None):
    from . import shapley as kernels

    B, n = len(rngs), len(Z)
    p = Z.shape[1] - 1 if members is None else len(members)
    boot = np.empty((B, p))
    flagged = 0
    # at least 20 chunks, so that a progress bar moves (a resample is the same whatever the chunking)
    chunk = max(1, min(B, _CHUNK_CELLS // max(n, 1), -(-B // 20)))
    with bar(B, "importance: bootstrap", unit="resample") as shown:
        for start in range(0, B, chunk):
            counts = plan.counts_matrix(rngs[start:start + chunk])
            Rs, flags = kernels.boot_correlations(Z, groups, n_groups, counts)
            if method == "johnson":
                ok = flags < 2
                part = np.full((len(Rs), p), np.nan)
                if ok.any():
                    part[ok] = _johnson(Rs[ok])
            elif members is None:
                part, _ = kernels.shapley_batch(Rs)
            else:
                part, _ = kernels.group_shapley_batch(Rs, members)
            boot[start:start + len(part)] = part
            flagged += int((flags > 0).sum())
            shown.update(len(part))
    if flagged:
        warnings.warn(f"{flagged} of {B} resamples had a predictor or the outcome without variance "
                      f"(too few distinct rows, periods or segments); a predictor without variance "
                      f"counts as 0 there, a resample whose outcome has none is left out.",
                      SmallSampleWarning, stacklevel=3)
    return boot


def _ranks(values):
    """Rank 1 = largest; ties share the best (smallest) rank. Works row-wise on 2-D input."""
    v = np.atleast_2d(values)
    return (v[:, None, :] > v[:, :, None]).sum(axis=2) + 1


def _table(kpis, importance, r2, boot, ci, members=None):
    p = len(kpis)
    rank = _ranks(importance)[0]
    ci_low = ci_high = np.full(p, np.nan)
    rank_low = rank_high = pd.array([pd.NA] * p, dtype="Int64")
    if boot is not None:
        good = boot[~np.isnan(boot).any(axis=1)]
        if len(good):
            alpha = (1 - ci) / 2
            ci_low, ci_high = np.quantile(good, [alpha, 1 - alpha], axis=0)
            ranks = _ranks(good)
            lo, hi = np.quantile(ranks, [alpha, 1 - alpha], axis=0, method="inverted_cdf")
            rank_low = pd.array(lo.astype(np.int64), dtype="Int64")
            rank_high = pd.array(hi.astype(np.int64), dtype="Int64")
    table = pd.DataFrame({
        "kpi": pd.Series(kpis, dtype=object),
        "importance": importance,
        "share": importance / r2,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "rank": rank.astype(np.int64),
        "rank_ci_low": rank_low,
        "rank_ci_high": rank_high,
    })[TABLE_COLUMNS]
    if members is not None:
        table.insert(1, "members", pd.Series([tuple(m) for m in members], dtype=object))
    return table
