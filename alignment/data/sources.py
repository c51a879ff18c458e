"""Declarations of where data comes from: :class:`Source`, :class:`ExtraSource` and :class:`Intervals`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from ..exceptions import OptionError

AGGREGATES = ("mean", "sum", "last", "max")


def _check_data(owner: str, data, table=None, glob: bool = False) -> None:
    if not isinstance(glob, bool):
        raise OptionError(f"The 'glob' parameter of {owner} must be True or False. Got {glob!r} instead.")
    if glob and not isinstance(data, (str, Path)):
        raise OptionError(f"The 'glob' parameter of {owner} makes the path a pattern: it needs a path, "
                          f"not a {'table' if table is not None else type(data).__name__}.")
    if table is not None:
        if data is not None:
            raise OptionError(f"{owner} takes a file or DataFrame, or a table name, not both.")
        if not isinstance(table, str) or not table.strip():
            raise OptionError(f"The 'table' parameter of {owner} must be a table name such as 'cx.contacts'. "
                              f"Got {table!r} instead.")
        return
    if not isinstance(data, (str, Path, pd.DataFrame)):
        raise OptionError(
            f"The data of {owner} must be a file path or a pandas DataFrame. Got {type(data).__name__} instead.")


def _names(owner: str, param: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    value = tuple(value or ())
    for v in value:
        if not isinstance(v, str) or not v:
            raise OptionError(f"The '{param}' parameter of {owner} must list column names. Got {v!r} instead.")
    return value


@dataclass(frozen=True)
class Source:
    """A table of contacts or surveys: a file path, a DataFrame or a table, with optional renames.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        CSV or Parquet file (by extension; anything else is read as delimited text, gzip-compressed
        or not), a folder of ``*.parquet`` files or of CSV files (every file but names starting with
        ``_`` or ``.``, in name order, as one table; for a platform export, as one export), or a
        DataFrame. On the Spark engine also a Delta table's folder. A path is literal:
        ``contacts[1].csv`` is that file, ``~`` is a folder named ``~``.
    columns : mapping, optional
        ``{canonical_name: name_in_the_file}``, e.g. ``{"arrived_at": "StartTime"}``.
    format : str, optional
        A built-in format such as ``"technion-anonymous-bank"`` (see :mod:`alignment.data.formats`).
    timezone : str, optional
        IANA timezone of naive (offset-less) times in this source.
    table : str, optional
        Instead of ``data``: a table of the Spark catalog, e.g. ``"cx.contacts"``.
    glob : bool, default False
        The path is a pattern (``*``, ``?``, ``[abc]``, and ``**`` for any folders below): every
        matching file is read, in name order, as one table (a platform export's files as one export,
        its rules looking across them). They must share one format and header.
    options : mapping, optional
        Options of a platform export's ``format``, e.g. ``{"recode": {"Q1": {"6": 1, "7": 2}}}`` for
        ``qualtrics-csv`` (see the README's "Platform exports").

    Examples
    --------
    >>> Source("data/demo/contacts.csv").label
    'data/demo/contacts.csv'
    >>> Source(table="cx.contacts").label
    'table cx.contacts'
    """

    data: object = None
    columns: Mapping[str, str] = field(default_factory=dict)
    format: str | None = None
    timezone: str | None = None
    table: str | None = None
    glob: bool = False
    options: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        _check_data(type(self).__name__, self.data, self.table, self.glob)
        object.__setattr__(self, "columns", dict(self.columns or {}))
        if not isinstance(self.options, Mapping):
            raise OptionError(f"The 'options' parameter of {type(self).__name__} must be a mapping. "
                              f"Got {type(self.options).__name__} instead.")
        object.__setattr__(self, "options", dict(self.options))

    @property
    def label(self) -> str:
        """How messages name this source: the path as given, the table, or 'DataFrame'."""
        if self.table is not None:
            return f"table {self.table}"
        return "DataFrame" if isinstance(self.data, pd.DataFrame) else str(self.data)


@dataclass(frozen=True)
class ExtraSource(Source):
    """Other data suspected to matter (staffing, backlog, marketing, outages, QA scores...).

    Parameters
    ----------
    data, columns, timezone, table, glob
        As for :class:`Source`.
    time : str, default "date"
        The date or time column.
    by : sequence of str, default ()
        Segment columns of the source; empty when a value applies to every segment.
    aggregate : {"mean", "sum", "last", "max"}, default "mean"
        How the source's rows roll up to a period (and to the panel's segments).
    values : sequence of str, optional
        Numeric columns to keep; default every column but ``time`` and ``by``.

    Examples
    --------
    >>> ExtraSource("data/demo/backlog.csv", by=["queue"], aggregate="mean").by
    ('queue',)
    """

    time: str = "date"
    by: Sequence[str] = ()
    aggregate: str = "mean"
    values: Sequence[str] | None = None

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "by", _names("ExtraSource", "by", self.by))
        if self.values is not None:
            object.__setattr__(self, "values", _names("ExtraSource", "values", self.values))
        if self.aggregate not in AGGREGATES:
            raise OptionError(
                f"The 'aggregate' parameter of ExtraSource must be one of "
                f"{', '.join(map(repr, AGGREGATES))}. Got {self.aggregate!r} instead.")


def as_source(data, kind: str = "Source") -> Source:
    """Accept a path, a DataFrame or a :class:`Source`."""
    if isinstance(data, Source):
        return data
    _check_data(kind, data)
    return Source(data)


@dataclass(frozen=True)
class Intervals(Source):
    """Interval reports instead of contact records: counts and sums per interval and segment.

    Each row is one interval (15, 30 or 60 minutes) of one segment, holding the panel's additive
    components: ``n_contacts`` (offered), ``n_answered``, ``n_abandoned``, ``n_answered_within_t``,
    ``n_abandoned_within_t``, ``n_short_abandons``, ``wait_answered_s`` (sum of the answered
    contacts' waits), ``wait_abandoned_s``, ``handle_answered_s`` (sum of handle times),
    ``n_transferred``, ``n_resolved``, and ``interval_start``. A built-in ``format``
    (``avaya-cms-hsplit``, ``genesys-cloud-aggregates``) maps a report onto them; any other report is
    mapped with ``columns`` (``{"n_contacts": "Offered", "interval_start": "Interval"}``). The panel
    sums them, so the same pooled KPIs come out as from contact records, and nothing is averaged.

    Parameters
    ----------
    data, columns, format, timezone, table, glob, options
        As for :class:`Source`.
    service_level_s : float, optional
        The threshold (seconds) at which the report counts contacts answered (and abandoned)
        within the service-level objective (Avaya's acceptable service level, Genesys' SLA).
        A service level at another threshold cannot be computed from the report, and is an error. A
        report that says its threshold (Avaya's ``servicelevel`` item, a Connect metric's threshold)
        needs none, and a ``service_level_s`` that disagrees with it is an error.
    short_abandon_s : float, optional
        The threshold of the report's short-abandon count, if it has one.

    Examples
    --------
    >>> Intervals("hsplit.csv", format="avaya-cms-hsplit", timezone="America/Chicago", service_level_s=20).label
    'hsplit.csv'
    """

    service_level_s: float | None = None
    short_abandon_s: float | None = None

    def __post_init__(self):
        super().__post_init__()
        for name in ("service_level_s", "short_abandon_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise OptionError(f"The '{name}' parameter of Intervals must be a number of seconds. "
                                  f"Got {value!r} instead.")
