"""Erlang A per interval against what the contacts show: predicted and observed abandon rate, ASA, service level.

:func:`queueing` reads the queue inputs of every interval x segment (:func:`~alignment.staffing.queue_inputs`),
predicts the interval's KPIs with Erlang A (M/M/N+M, :func:`~alignment.staffing.erlang_a`) from its
arrival rate, mean handle time, patience and agents, and sets them beside the observed ones.
:meth:`QueueingFit.cells` pools intervals into weekday x hour cells (sums of offered, abandoned,
answered within T and waits, and predictions weighted by offered: never a mean of interval rates),
and :meth:`QueueingFit.fit_stats` says how well the predictions follow the observations across
those cells (Pearson r, mean error, weighted by offered).

Rates are percentages (0-100) as in the catalog (``abandon_rate``, ``service_level`` of offered);
ASA is the mean wait of answered contacts in seconds.

Examples
--------
>>> import warnings
>>> from alignment import Source
>>> from alignment.staffing import queueing
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     fit = queueing(Source("data/anonymous_bank/anonymous_bank_feb1999.txt", format="technion-anonymous-bank"),
...                    interval=60, timezone="Asia/Jerusalem")
>>> list(fit.contract_table().columns)[:3]
['period_start', 'offered', 'arrival_rate_per_h']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..display import Displayed
from ..exceptions import OptionError
from .erlang import erlang_a
from .inputs import QueueInputs, queue_inputs

__all__ = ["QueueingFit", "queueing", "predict", "CONTRACT_COLUMNS"]

#: The columns of ``alignment queueing --out`` after ``period_start`` and the segment columns.
CONTRACT_COLUMNS = ("offered", "arrival_rate_per_h", "mean_handle_s", "patience_s", "agents", "agents_source",
                    "observed_abandon_rate", "predicted_abandon_rate", "observed_asa", "predicted_asa",
                    "observed_service_level", "predicted_service_level")
KPIS = ("abandon_rate", "asa", "service_level")


def predict(inputs: QueueInputs) -> pd.DataFrame:
    """The inputs' table with the observed and Erlang A predicted KPIs of each interval (pure).

    An interval without an answered contact has no handle time of its own: its segment's pooled
    mean handle time is used.
    """
    t = inputs.table.copy()
    by = list(inputs.by)
    if by:
        sums = t.groupby(by)[["handle_answered_s", "answered"]].transform("sum")
        fallback = sums["handle_answered_s"] / sums["answered"].where(sums["answered"] > 0)
    else:
        total = t["answered"].sum()
        fallback = t["handle_answered_s"].sum() / total if total > 0 else math.nan
    handle = t["mean_handle_s"].where(t["mean_handle_s"] > 0, fallback)
    offered = t["offered"].to_numpy(float)
    t["observed_abandon_rate"] = 100 * t["abandoned"] / offered
    t["observed_asa"] = t["wait_answered_s"] / t["answered"].where(t["answered"] > 0)
    t["observed_service_level"] = 100 * t["answered_within_t"] / offered
    predictions = []
    for rate, h, patience, agents in zip(t["arrival_rate_per_h"], handle, t["patience_s"], t["agents"]):
        if not (h > 0) or not np.isfinite(agents):
            predictions.append((math.nan, math.nan, math.nan))
            continue
        k = erlang_a(float(agents), arrival_rate_per_h=float(rate), mean_handle_s=float(h),
                     patience_s=float(patience), threshold_s=inputs.threshold_s)
        predictions.append((100 * k.p_abandon, k.asa_s, 100 * k.p_within_t))
    p = np.array(predictions, dtype=float).reshape(-1, 3)
    t["predicted_abandon_rate"], t["predicted_asa"], t["predicted_service_level"] = p[:, 0], p[:, 1], p[:, 2]
    return t


@dataclass(frozen=True, repr=False)
class QueueingFit(Displayed):
    """Erlang A predictions beside the observed KPIs, per interval x segment.

    ``table``: every column of :class:`~alignment.staffing.QueueInputs` plus
    ``observed_abandon_rate, predicted_abandon_rate, observed_asa, predicted_asa,
    observed_service_level, predicted_service_level`` (rates in %, ASA in s).
    :meth:`contract_table` is the ``alignment queueing`` file; :meth:`cells` the weekday x hour
    cells; :meth:`fit_stats` the fit across them.
    """

    table: pd.DataFrame
    inputs: QueueInputs

    @property
    def by(self) -> tuple[str, ...]:
        return self.inputs.by

    def contract_table(self) -> pd.DataFrame:
        """``period_start``, the segments and :data:`CONTRACT_COLUMNS`: the columns of ``--out``."""
        return self.table[["period_start", *self.by, *CONTRACT_COLUMNS]]

    def cells(self, *, weekdays: Sequence[int] | None = None, hours: Sequence[int] | None = None,
              by_segment: bool = False) -> pd.DataFrame:
        """Intervals pooled into local weekday x hour cells (0 = Monday), weighted by offered.

        Observed rates are pooled from counts (sum of abandoned / sum of offered ...); predicted
        ones are offered-weighted means of the interval predictions (the predicted count over the
        offered), the ASA answered-weighted. ``weekdays`` and ``hours`` keep only those cells.
        """
        t = self.table.copy()
        t["weekday"] = t["period_start"].dt.day_of_week
        t["hour"] = t["period_start"].dt.hour
        if weekdays is not None:
            t = t[t["weekday"].isin(list(weekdays))]
        if hours is not None:
            t = t[t["hour"].isin(list(hours))]
        ok = t["predicted_abandon_rate"].notna()
        t = t[ok]
        answered_pred = t["offered"] * (100 - t["predicted_abandon_rate"]) / 100
        t = t.assign(
            pred_abandoned=t["offered"] * t["predicted_abandon_rate"] / 100,
            pred_within=t["offered"] * t["predicted_service_level"] / 100,
            pred_answered=answered_pred,
            pred_wait_answered=answered_pred * t["predicted_asa"].where(answered_pred > 0, 0.0),
            agent_hours=t["agents"] * t["interval_h"], hours_=t["interval_h"])
        keys = ["weekday", "hour", *(self.by if by_segment else ())]
        g = t.groupby(keys, sort=True)[["offered", "abandoned", "answered", "answered_within_t", "wait_answered_s",
                                        "pred_abandoned", "pred_within", "pred_answered", "pred_wait_answered",
                                        "agent_hours", "hours_"]].sum()
        out = pd.DataFrame(index=g.index)
        out["offered"] = g["offered"]
        out["intervals_h"] = g["hours_"]
        out["agents"] = g["agent_hours"] / g["hours_"]
        out["observed_abandon_rate"] = 100 * g["abandoned"] / g["offered"]
        out["predicted_abandon_rate"] = 100 * g["pred_abandoned"] / g["offered"]
        out["observed_asa"] = g["wait_answered_s"] / g["answered"].where(g["answered"] > 0)
        out["predicted_asa"] = g["pred_wait_answered"] / g["pred_answered"].where(g["pred_answered"] > 0)
        out["observed_service_level"] = 100 * g["answered_within_t"] / g["offered"]
        out["predicted_service_level"] = 100 * g["pred_within"] / g["offered"]
        return out.reset_index()

    def fit_stats(self, **cells) -> pd.DataFrame:
        """Per KPI across the :meth:`cells`: Pearson ``r`` (offered-weighted), ``mean_error``
        (offered-weighted mean of predicted - observed, i.e. the pooled predicted minus observed
        rate), the pooled ``observed`` and ``predicted`` values and the number of cells ``n``."""
        c = self.cells(**cells)
        rows = []
        for kpi in KPIS:
            obs, pred = c[f"observed_{kpi}"].to_numpy(float), c[f"predicted_{kpi}"].to_numpy(float)
            w = c["offered"].to_numpy(float)
            ok = np.isfinite(obs) & np.isfinite(pred)
            obs, pred, w = obs[ok], pred[ok], w[ok]
            if kpi == "asa":  # pooled over answered contacts, the way ASA is defined
                w = w * (1 - c["observed_abandon_rate"].to_numpy(float)[ok] / 100)
            rows.append({"kpi": kpi, "n": int(ok.sum()), "r": _weighted_r(obs, pred, w),
                         "mean_error": float(np.average(pred - obs, weights=w)) if w.sum() > 0 else math.nan,
                         "observed": float(np.average(obs, weights=w)) if w.sum() > 0 else math.nan,
                         "predicted": float(np.average(pred, weights=w)) if w.sum() > 0 else math.nan})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        stats = self.fit_stats()
        lines = [f"Erlang A per interval: {len(self.table):,} intervals of {self.inputs.interval} min, agents "
                 f"{self.inputs.agents} ({', '.join(sorted(set(self.table['agents_source'])))})",
                 "fit across weekday x hour cells (offered-weighted):"]
        for row in stats.itertuples():
            unit = "s" if row.kpi == "asa" else "%"
            lines.append(f"  {row.kpi}: observed {row.observed:.1f} {unit}, predicted {row.predicted:.1f} {unit}, "
                         f"r = {row.r:.2f}, mean error {row.mean_error:+.1f} over {row.n} cells")
        return "\n".join([*lines, *self.inputs.notes])

    def to_dict(self) -> dict:
        table = self.contract_table()
        rows = table.astype(object).where(table.notna() & ~table.isin([math.inf, -math.inf]), None)
        rows["period_start"] = table["period_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        return {"interval": self.inputs.interval, "by": list(self.by), "timezone": self.inputs.timezone,
                "agents": self.inputs.agents,
                "fit": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                        for row in self.fit_stats().to_dict(orient="records")],
                "notes": list(self.inputs.notes), "rows": rows.to_dict(orient="records")}

    def to_csv(self, path, *, spreadsheet_safe: bool = True) -> None:
        """Write :meth:`contract_table` (times ``YYYY-MM-DDTHH:MM:SS``, local) atomically."""
        from ..io import atomic_path
        from ..panel.result import spreadsheet_safe_frame
        table = self.contract_table()
        if spreadsheet_safe:
            table = spreadsheet_safe_frame(table)
        with atomic_path(path) as part:
            table.to_csv(part, index=False, date_format="%Y-%m-%dT%H:%M:%S", float_format="%.10g")


def _weighted_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 3 or w.sum() <= 0:
        return math.nan
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    sxy = np.average((x - mx) * (y - my), weights=w)
    sxx, syy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    return float(sxy / math.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else math.nan


def queueing(contacts, *, interval: int = 60, by: Sequence[str] = (), timezone: str | None = None, start=None,
             end=None, staffing=None, agents: str = "on_duty", gap_s: float = 1800, threshold_s: float = 20,
             patience: str = "interval", no_abandonment: str = "pooled", engine=None) -> QueueingFit:
    """Fit Erlang A to every interval x segment of the contacts and compare it with what happened.

    Parameters are those of :func:`~alignment.staffing.queue_inputs`.

    Returns
    -------
    QueueingFit

    Examples
    --------
    >>> import warnings
    >>> from alignment import Source
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     fit = queueing(Source("data/anonymous_bank/anonymous_bank_feb1999.txt",
    ...                           format="technion-anonymous-bank"), timezone="Asia/Jerusalem")
    >>> stats = fit.fit_stats(weekdays=[6, 0, 1, 2, 3])   # Sunday to Thursday
    >>> round(float(stats.set_index("kpi").loc["abandon_rate", "r"]), 2)
    0.72
    """
    if not isinstance(interval, int):
        raise OptionError(f"The 'interval' parameter of queueing must be one of 15, 30, 60 (minutes). "
                          f"Got {interval!r} instead.")
    inputs = queue_inputs(contacts, interval=interval, by=by, timezone=timezone, start=start, end=end,
                          staffing=staffing, agents=agents,
                          gap_s=gap_s, threshold_s=threshold_s, patience=patience, no_abandonment=no_abandonment,
                          engine=engine)
    return QueueingFit(table=predict(inputs), inputs=inputs)
