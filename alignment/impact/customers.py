"""Reading the customers source: one row per customer, when (if ever) the customer left, its value.

The engine reads the source like every other (CSV, Parquet, a DataFrame, renames through
``columns``); its rows are typed and checked in SQL, each broken rule named with its column, its
first bad row and its count, and only the checked table (one row per customer) comes back into
pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data import types as ty
from ..data.checks import run_rules
from ..data.read import register
from ..data.sources import Source, as_source
from ..engine.sql import quote
from ..exceptions import InputError, OptionError

#: The column that names when a customer left (blank while still a customer).
CHURNED_AT = "churned_at"


@dataclass(frozen=True)
class Customers:
    """The checked customers: ``table`` has ``customer_id`` (text), ``churned_at`` (local time of the
    study, NaT while still a customer) and, with a value column, ``value``."""

    table: pd.DataFrame
    label: str
    value: str | None = None

    @property
    def n(self) -> int:
        return len(self.table)


def read_customers(source, *, value: str | None = None, timezone: str | None = None,
                   engine=None) -> Customers:
    """Read and check the customers source.

    Parameters
    ----------
    source : str, Path, pandas.DataFrame or Source
        One row per customer with ``customer_id`` and ``churned_at`` (rename with
        ``Source(..., columns={"churned_at": "left_on"})``): a time (or a date) the customer
        left, blank while still a customer.
    value : str, optional
        A numeric column of value per customer per year (``"annual_revenue"``).
    timezone : str, optional
        The study's timezone: aware times are converted to it, naive ones are taken in the
        source's timezone, else in it.
    engine : DuckDBEngine, optional

    Returns
    -------
    Customers

    Raises
    ------
    InputError
        A column is missing, a time or value is bad, or a ``customer_id`` repeats (the message
        names the first repeated row).

    Examples
    --------
    >>> import pandas as pd
    >>> c = read_customers(pd.DataFrame({"customer_id": ["K1", "K2"],
    ...                                  "churned_at": ["2025-03-01T10:00:00", None]}), timezone="UTC")
    >>> c.table["churned_at"].notna().tolist()
    [True, False]
    """
    from ..engine import DuckDBEngine
    src = as_source(source, "customers")
    if not isinstance(src, Source):
        raise OptionError(f"customers must be a path, a DataFrame or a Source. Got {type(source).__name__} instead.")
    session = (engine or DuckDBEngine()).connect()
    try:
        raw = register(session, src, "customers_raw")
        for col in ("customer_id", CHURNED_AT, *((value,) if value else ())):
            if not raw.has(col):
                what = "the value column named by the study" if col == value else "needed for the churn link"
                raise InputError(f"is missing ({what}); the file has {', '.join(map(repr, raw.types))}",
                                 source=raw.label, column=col)
        cid = quote("customer_id")
        cols = {"customer_id": f"NULLIF(trim(CAST({cid} AS VARCHAR)), '')"}
        rules = [ty.Rule("customer_id", ty.blank(cid, raw.types["customer_id"]), "is missing")]
        expr, more = ty.local_time(CHURNED_AT, raw.types[CHURNED_AT], source_tz=src.timezone, study_tz=timezone,
                                   required=False, dates=True)
        cols[CHURNED_AT], rules = expr, rules + more
        if value:
            expr, more = ty.number(value, raw.types[value], minimum=0)
            cols["value"], rules = expr, rules + more
        run_rules(session, raw, rules, unique=("customer_id",))
        select = ", ".join(f"{e} AS {quote(c)}" for c, e in cols.items())
        table = session.frame(f"SELECT {select} FROM {quote(raw.view)}")
    except session.errors as error:
        raise InputError(f"the data engine refused the input: {session.message(error)}", source=src.label) from None
    finally:
        session.close()
    if table.empty:
        raise InputError("has no customer rows", source=src.label)
    table["customer_id"] = table["customer_id"].astype(str)
    table[CHURNED_AT] = pd.to_datetime(table[CHURNED_AT])
    if value:
        table["value"] = pd.to_numeric(table["value"], errors="coerce").astype(float)
    return Customers(table=table, label=src.label, value=value)


@dataclass(frozen=True)
class CustomerSpec:
    """The customers declaration of a study (``[data.customers]``).

    Parameters
    ----------
    source : Source
        One row per customer: ``customer_id`` and ``churned_at`` (renames in ``columns``).
    value : str, optional
        A column of value per customer per year (``value = "annual_revenue"``).
    window_days : int, default 90
    as_of : date, optional
        The day the customers were extracted (the data end); default the study's last day.
    outcome : str, default "churn"
        What the link counts: ``"churn"`` (``churned_at``) or the name of a declared customer event.

    Examples
    --------
    >>> CustomerSpec(Source("customers.csv"), value="annual_revenue").window_days
    90
    """

    source: Source
    value: str | None = None
    window_days: int = 90
    as_of: object = None
    outcome: str = "churn"

    def __post_init__(self):
        if not isinstance(self.source, Source):
            object.__setattr__(self, "source", as_source(self.source, "customers"))
        w = self.window_days
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise OptionError(f"The 'window_days' parameter of the customers must be a whole number of days >= 1. "
                              f"Got {w!r} instead.")
        if self.value is not None and (not isinstance(self.value, str) or not self.value):
            raise OptionError(f"The 'value' parameter of the customers must be a column name. Got {self.value!r} "
                              f"instead.")


def as_customers(value) -> CustomerSpec | None:
    """A :class:`CustomerSpec` from a spec, a :class:`Source`, a path or a DataFrame (None stays None)."""
    if value is None or isinstance(value, CustomerSpec):
        return value
    return CustomerSpec(value)


@dataclass(frozen=True)
class EventSpec:
    """One kind of customer event (``[[data.customer_events]]``): a table of ``customer_id`` and a time.

    Parameters
    ----------
    source : Source
    event : str
        Its name: ``"repurchase"``, ``"cancellation"``, ``"complaint"`` or any other.
    time : str, default "time"
        The time (or date) column.

    Examples
    --------
    >>> EventSpec(Source("complaints.csv"), event="complaint", time="logged_at").event
    'complaint'
    """

    source: Source
    event: str
    time: str = "time"

    def __post_init__(self):
        if not isinstance(self.source, Source):
            object.__setattr__(self, "source", as_source(self.source, "customer events"))
        for name, v in (("event", self.event), ("time", self.time)):
            if not isinstance(v, str) or not v.strip():
                raise OptionError(f"The '{name}' parameter of a customer event must be a name. Got {v!r} instead.")
        if self.event == "churn":
            raise OptionError("'churn' is read from the customers' churned_at; name the event otherwise.")


def read_events(spec: EventSpec, *, timezone: str | None = None, engine=None) -> pd.DataFrame:
    """Read and check one customer-event source: ``customer_id, time`` (local time of the study).

    Raises
    ------
    InputError
        A column is missing, or an id or a time is blank or bad (naming the first bad row).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = read_events(EventSpec(Source(pd.DataFrame({"customer_id": ["K1"], "at": ["2025-03-01"]})),
    ...                            event="repurchase", time="at"))
    >>> ev.columns.tolist()
    ['customer_id', 'time']
    """
    from ..engine import DuckDBEngine
    session = (engine or DuckDBEngine()).connect()
    try:
        raw = register(session, spec.source, "events_raw")
        for col in ("customer_id", spec.time):
            if not raw.has(col):
                raise InputError(f"is missing (the {spec.event} events need it); the file has "
                                 f"{', '.join(map(repr, raw.types))}", source=raw.label, column=col)
        cid = quote("customer_id")
        rules = [ty.Rule("customer_id", ty.blank(cid, raw.types["customer_id"]), "is missing")]
        expr, more = ty.local_time(spec.time, raw.types[spec.time], source_tz=spec.source.timezone,
                                   study_tz=timezone, required=True, dates=True)
        run_rules(session, raw, rules + more)
        table = session.frame(f"SELECT trim(CAST({cid} AS VARCHAR)) AS customer_id, {expr} AS time "
                              f"FROM {quote(raw.view)}")
    except session.errors as error:
        raise InputError(f"the data engine refused the input: {session.message(error)}",
                         source=spec.source.label) from None
    finally:
        session.close()
    table["time"] = pd.to_datetime(table["time"])
    return table
