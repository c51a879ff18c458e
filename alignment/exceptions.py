"""Errors and warnings raised by ``alignment``.

User mistakes (bad files, bad options) raise subclasses of :class:`AlignmentError`,
which are also ``ValueError`` so that generic handlers keep working. Their
messages are one line that says what was given, what was expected and where
(file, column, row). Statistical caveats are warnings, all subclasses of
:class:`AlignmentWarning`, so that a user can filter them as a family.
"""

from __future__ import annotations

import re
import warnings

__all__ = [
    "AlignmentError",
    "InputError",
    "FormatError",
    "OptionError",
    "EngineError",
    "OutputError",
    "AlignmentWarning",
    "UnmatchedSurveysWarning",
    "LowResponsesWarning",
    "SmallSampleWarning",
    "CollinearityWarning",
    "AutocorrelationWarning",
    "ConstantPredictorWarning",
    "MissingDataWarning",
    "InfluenceWarning",
    "HeteroskedasticityWarning",
    "SpanWarning",
    "UnknownCustomersWarning",
    "AlignmentDeprecationWarning",
]


# C0 and C1 control characters and the Unicode line and paragraph separators: each would break
# (or rewrite) the one line a message promises.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text) -> str:
    r"""``text`` with control characters written as ``repr`` writes them (``\n``, ``\t``, ``\x1b``).

    A file name holding a line break must not break a one-line message, nor an escape sequence
    rewrite the user's terminal.

    Examples
    --------
    >>> print(one_line("contacts\nfinal.csv"))
    contacts\nfinal.csv
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


class AlignmentError(ValueError):
    """Base class of every error caused by what the user gave us."""


class InputError(AlignmentError):
    """A data file or table is missing, unreadable or holds invalid values.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    source : str, optional
        The file (or table) name, prefixed to the message.
    column : str, optional
        The offending column.
    row : int, optional
        The first offending data row (1-based, header not counted).
    """

    def __init__(self, message: str, *, source: str | None = None,
                 column: str | None = None, row: int | None = None):
        self.source, self.column, self.row = source, column, row
        where = []
        if source:
            where.append(one_line(source))
        if column:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FormatError(InputError):
    """A platform export (a named ``format``) lacks a field or holds a value its vendor does not write.

    The message is in the vendor's words: the file, the vendor's field and the record (JSON; 1-based)
    or row (CSV; data rows from 1, the header not counted), e.g.
    ``contacts.jsonl, field 'Queue.EnqueueTimestamp', record 12: not a timestamp``.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    source : str, optional
        The file name.
    field : str, optional
        The vendor's field (dotted for nested JSON, as the vendor documents it).
    record : int, optional
        The record (or row) number.
    where : {"record", "row"}, default "record"
        How the file's units are called.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 record: int | None = None, where: str = "record"):
        parts = [one_line(p) for p in (source,) if p]
        if field:
            parts.append(f"field {one_line(field)!r}")
        if record is not None:
            parts.append(f"{where} {record}")
        prefix = ", ".join(parts)
        AlignmentError.__init__(self, f"{prefix}: {message}" if prefix else message)
        self.source, self.column, self.row = source, field, record
        self.field, self.record = field, record


class OptionError(AlignmentError):
    """An option or parameter has an invalid value."""


class EngineError(AlignmentError):
    """The requested data engine is unavailable."""


class OutputError(AlignmentError):
    """An output location cannot be used: not writable, an input, or a folder alignment did not write."""


class AlignmentWarning(UserWarning):
    """Base class of every warning issued by ``alignment``."""


class UnmatchedSurveysWarning(AlignmentWarning):
    """Some surveys rate a contact that is not in the contact records."""


class LowResponsesWarning(AlignmentWarning):
    """Some periods have fewer survey responses than ``min_responses``."""


class SmallSampleWarning(AlignmentWarning):
    """Too few observations for the requested analysis to be reliable."""


class FewClustersWarning(SmallSampleWarning):
    """Cluster-robust inference from fewer than 10 clusters: intervals may be too narrow."""


class CollinearityWarning(AlignmentWarning):
    """Predictors are strongly collinear (high variance inflation factor)."""


class AutocorrelationWarning(AlignmentWarning):
    """A series is strongly autocorrelated; naive inference would mislead."""


class ConstantPredictorWarning(AlignmentWarning):
    """A KPI is constant or nearly so; it cannot explain anything and is left out."""


class MissingDataWarning(AlignmentWarning):
    """More than half of the periods lack a value."""


class InfluenceWarning(AlignmentWarning):
    """A few periods carry much of the fit (large Cook's distance)."""


class HeteroskedasticityWarning(AlignmentWarning):
    """Residual variance changes with the predictors (Breusch-Pagan)."""


class SpanWarning(AlignmentWarning):
    """The data's first and last day lie far beyond where most contacts are (an outlying date
    stretches the window over mostly empty periods)."""


class AgentsInferredWarning(AlignmentWarning):
    """The agents on duty of a queueing model were inferred from ``agent_id``, not read from a staffing table."""


class UnknownCustomersWarning(AlignmentWarning):
    """Some surveyed contacts name a customer the customers source does not have."""


class AlignmentDeprecationWarning(AlignmentWarning, DeprecationWarning):
    """A parameter was given under a name that is going away; the message names its successor."""


def renamed(owner: str, old: str, new: str, old_value, new_value, *, unset=None, stacklevel: int = 3):
    """The value of a parameter renamed from ``old`` to ``new``, kept working for one release.

    Returns ``new_value`` unless only the old keyword was given (its value is not ``unset``):
    then warns with :class:`AlignmentDeprecationWarning` and returns ``old_value``. Both given
    is an :class:`OptionError`.

    Examples
    --------
    >>> renamed("regress", "maxlags", "bandwidth", None, 4)
    4
    """
    if old_value is unset:
        return new_value
    if new_value is not unset:
        raise OptionError(f"{owner} got both '{old}' and '{new}'; '{old}' is the old name of '{new}': "
                          f"give '{new}' only.")
    warnings.warn(f"The '{old}' parameter of {owner} is now called '{new}'; '{old}' will be removed in the "
                  f"next release.", AlignmentDeprecationWarning, stacklevel=stacklevel)
    return old_value
