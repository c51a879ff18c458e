"""The Customer Quality Interaction Score (CQIS) of each customer at each of its scored contacts.

The CQIS of a customer is the sum of the interaction quality scores of its scored interactions
divided by their number (quality is scored on a sample, so unscored contacts do not count as
zero; the catalog's ``interaction_quality_score`` is the same ratio per period and segment), on
0-100, in bands 80-100 (excellent), 60-79 (acceptable) and below 60 (critical). As the CX score of
the churn link it is the customer's CQIS so far: the scores of its interactions up to and
including the contact, so that nothing after the contact enters the score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, OptionError

# lower edge, upper edge (exclusive, but 100 is in the top band) and name, as the catalog's bands
CQIS_BANDS = ((80.0, 100.0, "excellent"), (60.0, 80.0, "acceptable"), (0.0, 60.0, "critical"))


def cqis_band(score) -> pd.Series:
    """The band of each CQIS: ``excellent`` (80-100), ``acceptable`` (60-79), ``critical`` (below 60).

    Examples
    --------
    >>> cqis_band([92, 80, 79.5, 60, 12]).tolist()
    ['excellent', 'excellent', 'acceptable', 'acceptable', 'critical']
    """
    s = pd.Series(score, dtype=float)
    out = pd.Series(pd.NA, index=s.index, dtype=object)
    out[s >= 80] = "excellent"
    out[(s >= 60) & (s < 80)] = "acceptable"
    out[s < 60] = "critical"
    return out


def cqis_frame(contacts, *, timezone: str, by: Sequence[str] = ("queue",), grain: str = "week",
               name: str = "cqis") -> pd.DataFrame:
    """One row per quality-scored contact of a known customer, with the customer's CQIS so far.

    The frame has the columns the churn link needs (:func:`alignment.business_impact` with a
    DataFrame): ``contact_id, customer_id, contact_ts`` (local time), ``period``, the ``by``
    columns, ``quality_score``, ``NAME`` (the customer's sum of quality scores over its scored
    contacts up to and including this one, divided by their number), ``NAME_band`` and
    ``NAME_n`` (how many scored interactions the score holds).

    Parameters
    ----------
    contacts : pandas.DataFrame, str or Path
        The contacts (canonical format): ``customer_id``, ``arrived_at``, ``quality_score`` (0-100,
        blank when not scored) and the ``by`` columns.
    timezone : str
        The local timezone of the periods (naive times are taken as local).
    by : sequence of str
    grain : {"day", "week", "month"}
    name : str

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"contact_id": ["a", "b", "c"], "customer_id": ["K1", "K1", "K2"], "queue": "q",
    ...                   "arrived_at": ["2025-01-06T09:00:00-05:00", "2025-01-08T09:00:00-05:00",
    ...                                  "2025-01-07T10:00:00-05:00"], "quality_score": [90, 50, 61]})
    >>> cqis_frame(c, timezone="America/New_York")[["customer_id", "cqis", "cqis_band"]].values.tolist()
    [['K1', 90.0, 'excellent'], ['K2', 61.0, 'acceptable'], ['K1', 70.0, 'acceptable']]
    """
    from ..panel.result import period_start
    if grain not in ("day", "week", "month"):
        raise OptionError(f"The 'grain' parameter of cqis_frame must be one of 'day', 'week', 'month'. "
                          f"Got {grain!r} instead.")
    label = str(contacts) if isinstance(contacts, (str, Path)) else "contacts"
    if isinstance(contacts, (str, Path)):
        contacts = pd.read_csv(contacts, dtype={"customer_id": str, "contact_id": str})
    by = [by] if isinstance(by, str) else list(by)
    for col in ["customer_id", "arrived_at", "quality_score", *by]:
        if col not in contacts.columns:
            raise InputError("is missing (the CQIS needs customer_id, arrived_at, quality_score and the "
                             "segments)", source=label, column=col)
    score = pd.to_numeric(contacts["quality_score"], errors="coerce")
    bad = contacts["quality_score"].notna() & (score.isna() | (score < 0) | (score > 100))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InputError(f"row {row}: a quality score must be a number from 0 to 100. Got "
                         f"{contacts['quality_score'][bad].iloc[0]!r} instead.", source=label, column="quality_score")
    cid = contacts["customer_id"]
    keep = score.notna() & cid.notna() & (cid.astype(str).str.strip() != "")
    if not keep.any():
        raise InputError("has no quality-scored contact of a known customer, so there is no CQIS", source=label,
                         column="quality_score")
    f = contacts.loc[keep, [c for c in ["contact_id", "customer_id", "arrived_at", *by] if c in contacts]].copy()
    f["customer_id"] = f["customer_id"].astype(str)
    f["quality_score"] = score[keep].astype(float)
    f["contact_ts"] = _local(f.pop("arrived_at"), timezone)
    f["period"] = period_start(f["contact_ts"].dt.normalize(), grain)
    f = f.sort_values(["customer_id", "contact_ts"], kind="stable")
    g = f.groupby("customer_id", sort=False)["quality_score"]
    f[f"{name}_n"] = g.cumcount() + 1
    f[name] = g.cumsum() / f[f"{name}_n"]
    f[f"{name}_band"] = cqis_band(f[name]).to_numpy()
    return f.sort_values("contact_ts", kind="stable").reset_index(drop=True)


def _local(values: pd.Series, timezone: str) -> pd.Series:
    """Local naive times: times with an offset converted to ``timezone``, naive times taken as local."""
    if pd.api.types.is_datetime64_any_dtype(values):
        t = pd.Series(values)
        return t.dt.tz_convert(timezone).dt.tz_localize(None) if t.dt.tz is not None else t
    text = values.astype(str).str.strip()
    aware = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], utc=True, format="ISO8601").dt.tz_convert(timezone) \
            .dt.tz_localize(None).astype("datetime64[ns]")
    if (~aware).any():
        out[~aware] = pd.to_datetime(text[~aware], format="ISO8601").astype("datetime64[ns]")
    return out
