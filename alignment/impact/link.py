"""The link: each surveyed contact followed to what its customer did next.

The survey-level frame of the contact-level model (:attr:`alignment.Panel.contact_frame`: each
survey joined to its own contact, with the contact's segment, period, local time and
``customer_id``) is reused as it is; the panel is not rebuilt. Each survey becomes one
observation: did its customer leave within ``window_days`` after the contact?

Censoring rule. The data end at ``end`` (the end of the study's last day, or the customers'
``as_of``). A contact whose window runs past the end is *dropped* from the yes/no outcome (its
customer may yet leave inside the window); the Cox model keeps it, as time to leaving censored at
the end. A contact after its customer had already left is left out and counted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import InputError, OptionError, UnknownCustomersWarning


@dataclass(frozen=True)
class Link:
    """The observations of the churn link.

    ``table`` has one row per surveyed contact of a known customer that was still a customer at
    the contact: ``customer_id, segment, period, x`` (the CX score), ``y`` (left within the
    window; NaN where the window is censored), ``duration_days`` and ``event`` (time to leaving,
    censored at the end of the data or of the window), ``censored`` (window past the end), and
    the frame's contact measures.
    """

    table: pd.DataFrame
    window_days: int
    end: pd.Timestamp
    n_unknown: int
    n_after_leaving: int
    n_censored: int
    n_no_customer: int
    notes: tuple[str, ...] = field(default=())

    @property
    def modelled(self) -> pd.DataFrame:
        """The rows of the yes/no outcome (windows within the data)."""
        return self.table[~self.table["censored"]]


def link_surveys(frame: pd.DataFrame, customers: pd.DataFrame, *, outcome: str, window_days: int = 90,
                 by=("queue",), period: str = "period", end=None, label: str = "customers",
                 events: pd.DataFrame | None = None) -> Link:
    """Follow each survey of ``frame`` to its customer (pure computation).

    Parameters
    ----------
    frame : pandas.DataFrame
        The survey-level frame (``Panel.contact_frame``) with ``customer_id``, ``contact_ts``,
        ``period``, the ``by`` columns and the ``outcome`` score.
    customers : pandas.DataFrame
        ``customer_id`` and ``churned_at`` (:func:`alignment.impact.read_customers`).
    window_days : int
    end : timestamp, optional
        Where the data end; default midnight after the last contact's day.
    events : pandas.DataFrame, optional
        ``customer_id, time`` of one kind of customer event (a repurchase, a complaint ...): the
        outcome is then whether the customer has such an event within the window after the contact
        (and the Cox model's time is to the first one), in place of leaving. Contacts after the
        customer had left are still left out.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"customer_id": ["K1", "K2"], "contact_ts": pd.to_datetime(["2025-01-02", "2025-01-03"]),
    ...                   "period": pd.to_datetime(["2024-12-30"] * 2), "queue": "a", "csat": [5, 1]})
    >>> c = pd.DataFrame({"customer_id": ["K1", "K2"], "churned_at": pd.to_datetime([None, "2025-02-01"])})
    >>> link_surveys(f, c, outcome="csat", end="2025-12-31").table["y"].tolist()
    [0.0, 1.0]
    """
    if isinstance(window_days, bool) or not isinstance(window_days, (int, np.integer)) or window_days < 1:
        raise OptionError(f"The 'window_days' parameter of the business-impact link must be a whole number of "
                          f"days >= 1. Got {window_days!r} instead.")
    by = [by] if isinstance(by, str) else list(by)
    if "customer_id" not in frame.columns:
        raise InputError("is missing: the contacts carry no customer_id, so surveys cannot be followed to "
                         "their customers", source="contacts", column="customer_id")
    for col in ["contact_ts", period, outcome, *by]:
        if col not in frame.columns:
            raise OptionError(f"The survey-level frame has no column {col!r} (it has "
                              f"{', '.join(map(str, frame.columns))}).")
    ts = pd.to_datetime(frame["contact_ts"])
    end = (ts.max().normalize() + pd.Timedelta(days=1)) if end is None else pd.Timestamp(end)
    cid = frame["customer_id"]
    has_id = cid.notna() & (cid.astype(str).str.strip() != "")
    n_no_customer = int((~has_id).sum())
    known = pd.Series(customers["churned_at"].to_numpy(), index=customers["customer_id"].astype(str).to_numpy())
    ids = cid.where(has_id).astype(object)
    ids = ids.where(~has_id, ids.astype(str))
    in_file = ids.isin(known.index) & has_id
    n_unknown = int((has_id & ~in_file).sum())
    notes = []
    if n_no_customer:
        notes.append(f"{n_no_customer:,} of {len(frame):,} surveys rate a contact with no customer_id "
                     f"(an anonymous caller); left out")
    if n_unknown:
        first = ids[has_id & ~in_file].iloc[0]
        if n_unknown == int(has_id.sum()):
            raise InputError(f"none of the {n_unknown:,} surveyed contacts' customers is in it (first: "
                             f"{first}); is this the customers file of these contacts?", source=label,
                             column="customer_id")
        message = (f"{n_unknown:,} of {int(has_id.sum()):,} surveyed contacts have a customer not in {label} "
                   f"(first: {first}); they are left out")
        notes.append(message)
        warnings.warn(message, UnknownCustomersWarning, stacklevel=3)
    score = pd.to_numeric(frame[outcome], errors="coerce")
    keep = (in_file & score.notna()).to_numpy()
    sub = frame.loc[keep]
    t = ts[keep]
    left = pd.to_datetime(known.reindex(ids[keep].to_numpy()).to_numpy())
    left = pd.Series(left, index=sub.index)
    after = (left.notna() & (left <= t)).to_numpy()
    n_after = int(after.sum())
    if n_after:
        notes.append(f"{n_after:,} surveyed contacts come after their customer had left; left out")
    window = pd.Timedelta(days=int(window_days))
    censored = (t + window > end).to_numpy()
    if events is not None:      # the outcome is the customer's next event of this kind after the contact
        left = _next_event(ids[keep], t, events).set_axis(sub.index)
    churned_in = (left.notna() & (left > t) & (left <= t + window)).to_numpy()
    stop = np.minimum((t + window).to_numpy(), np.datetime64(end.to_datetime64()))
    event_time = np.where(left.notna().to_numpy() & (left.to_numpy() <= stop), left.to_numpy(), stop)
    duration = (pd.to_datetime(event_time) - t.to_numpy()) / pd.Timedelta(days=1)
    seg = pd.Series("all", index=sub.index)
    if by:
        seg = sub[by[0]].astype(str)
        for b in by[1:]:
            seg = seg + " | " + sub[b].astype(str)
    table = pd.DataFrame({"customer_id": ids[keep].to_numpy(), "segment": seg.to_numpy(),
                          "period": sub[period].to_numpy(), "contact_ts": t.to_numpy(),
                          "x": score[keep].to_numpy(dtype=float),
                          "y": np.where(censored, np.nan, churned_in.astype(float)),
                          "censored": censored,
                          "duration_days": np.asarray(duration, dtype=float),
                          "event": (left.notna().to_numpy() & (left.to_numpy() <= stop)),
                          })
    for m in ("wait_s", "answered_within_t", "handle_s", "transferred", "resolved"):
        if m in sub.columns:
            table[m] = pd.to_numeric(sub[m], errors="coerce").astype(float).to_numpy()
    table = table[~after].reset_index(drop=True)
    n_cens = int(table["censored"].sum())
    if n_cens:
        notes.append(f"{n_cens:,} surveyed contacts are less than {window_days} days before the data end "
                     f"({end:%Y-%m-%d}): dropped from the yes/no outcome, kept as censored in the Cox model")
    return Link(table=table, window_days=int(window_days), end=end, n_unknown=n_unknown, n_after_leaving=n_after,
                n_censored=n_cens, n_no_customer=n_no_customer, notes=tuple(notes))


def _next_event(ids: pd.Series, t: pd.Series, events: pd.DataFrame) -> pd.Series:
    """For each (customer, contact time), the time of that customer's first event strictly after it."""
    obs = pd.DataFrame({"customer_id": ids.astype(str).to_numpy(), "t": pd.to_datetime(t).to_numpy(),
                        "i": np.arange(len(ids))}).sort_values("t", kind="stable")
    ev = pd.DataFrame({"customer_id": events["customer_id"].astype(str).to_numpy(),
                       "t": pd.to_datetime(events["time"]).to_numpy()})
    ev = ev.dropna().sort_values("t", kind="stable")
    ev["next"] = ev["t"]
    obs["t"] = obs["t"].astype(ev["t"].dtype)
    hit = pd.merge_asof(obs, ev, on="t", by="customer_id", direction="forward", allow_exact_matches=False)
    return pd.Series(hit.sort_values("i")["next"].to_numpy())
