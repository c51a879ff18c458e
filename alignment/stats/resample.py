"""Bootstrap resampling plans for KPI panels (one row per period x segment).

A panel is neither a set of independent rows nor one time series, so the plan has to
follow its structure:

* ``block=L``: a **circular block bootstrap** over periods (Politis & Romano, 1992).
  The distinct periods are put in time order and wrapped into a circle; a resample
  strings together ``ceil(T / L)`` blocks of ``L`` consecutive periods, each starting
  at a uniformly drawn period, and keeps the first ``T``. All segments of a drawn
  period come along, so the cross-section stays intact and autocorrelation up to lag
  ``L - 1`` is kept inside blocks. We use the circular rather than the standard
  moving-block version (Künsch, 1989) because every period then has the same chance
  of being drawn; the standard version under-weights the first and last ``L - 1``
  periods.
* ``cluster``: whole segments are drawn with replacement (the cluster or "case"
  bootstrap); each drawn segment brings all of its periods.
* both: segments and period blocks are drawn independently and a row's multiplicity is
  the product of its segment's and its period's counts (the "pigeonhole" bootstrap of
  McCullagh, 2000, and Owen, 2007, with blocks in the time dimension). It is known to
  be somewhat conservative (it over-states the variance).
* neither: i.i.d. rows. This ignores autocorrelation and any segment structure; it is
  right only when rows are exchangeable.

A resample is returned as *counts*: how many times each row is drawn. Estimators that
work from weighted moments (as :mod:`alignment.drivers` does) never need to copy rows.

Seeds: one :class:`numpy.random.SeedSequence` is spawned into one child per
resample, so resample ``b`` is the same whatever the chunking or the number of
threads, and the same seed always gives the same resamples. The children are made
when a resample asks for its generator, not up front, and at most
:data:`MAX_RESAMPLES` of them are handed out.

References
----------
Künsch, H. R. (1989). The jackknife and the bootstrap for general stationary
observations. *Annals of Statistics* 17(3), 1217-1241.
Politis, D. N., & Romano, J. P. (1992). A circular block-resampling procedure for
stationary data. In *Exploring the Limits of Bootstrap*, Wiley, 263-270.
McCullagh, P. (2000). Resampling and exchangeable arrays. *Bernoulli* 6(2), 285-301.
Owen, A. B. (2007). The pigeonhole bootstrap. *Annals of Applied Statistics* 1(2), 386-411.
"""

from __future__ import annotations

from collections.abc import Sequence as _SequenceABC
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, OptionError

__all__ = ["PanelResampler", "circular_block_periods", "draw_clusters", "spawn_generators", "MAX_RESAMPLES"]

#: The most resamples (generators) one call hands out: far more than any interval needs (a
#: 95 % interval is stable at a few thousand), and a bound on the work a typo such as
#: ``n_boot = 10**9`` can start.
MAX_RESAMPLES = 100_000


class Generators(_SequenceABC):
    """``n`` generators, child ``i`` of ``root`` made on first access (a list of ``n`` would take
    ``n`` kilobytes up front). Indexing and slicing give the same generators as
    ``[default_rng(c) for c in root.spawn(n)]``, one fresh generator per access."""

    def __init__(self, root: np.random.SeedSequence, first: int, n: int):
        self._root, self._first, self._n = root, first, n

    def __len__(self) -> int:
        return self._n

    def _child(self, i: int) -> np.random.Generator:
        r = self._root  # what SeedSequence.spawn makes for child number first + i
        return np.random.default_rng(np.random.SeedSequence(r.entropy, spawn_key=(*r.spawn_key, self._first + i),
                                                            pool_size=r.pool_size))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._child(i) for i in range(*index.indices(self._n))]
        i = index + self._n if index < 0 else index
        if not 0 <= i < self._n:
            raise IndexError("generator index out of range")
        return self._child(i)

    def __iter__(self):
        return (self._child(i) for i in range(self._n))


def spawn_generators(seed, n: int) -> tuple[Sequence[np.random.Generator], int | Sequence[int]]:
    """One independent generator per resample, and the entropy that reproduces them.

    Parameters
    ----------
    seed : None, int or numpy.random.SeedSequence
        ``None`` draws fresh entropy from the operating system; the returned entropy
        reproduces the same generators when passed back as ``seed``.
    n : int
        Number of generators, at most :data:`MAX_RESAMPLES`. They are made lazily: the result
        is a sequence (``len``, indexing, slicing, iteration) whose item ``i`` is the generator
        of child ``i`` of the seed's :class:`~numpy.random.SeedSequence`, as ``seed.spawn(n)``
        gives them (a SeedSequence passed in counts them as spawned).

    Examples
    --------
    >>> gens, entropy = spawn_generators(7, 3)
    >>> entropy, len(gens)
    (7, 3)
    """
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        root = np.random.SeedSequence(None if seed is None else int(seed))
    else:
        raise OptionError(f"The 'seed' parameter must be None, a non-negative integer or a "
                          f"numpy.random.SeedSequence. Got {seed!r} instead.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_RESAMPLES:
        raise OptionError(f"The number of resamples must be a whole number from 0 to {MAX_RESAMPLES:,}. "
                          f"Got {n!r} instead.")
    first = root.n_children_spawned
    if isinstance(seed, np.random.SeedSequence):
        root.spawn(int(n))  # the caller's SeedSequence goes on as if the children were spawned here
    return Generators(root, first, int(n)), root.entropy


def circular_block_periods(n_periods: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Period positions (0 = earliest) of one circular block bootstrap resample.

    ``ceil(n_periods / block)`` blocks of ``block`` consecutive positions, each starting
    at a uniform position and wrapping past the last period to the first, truncated
    to ``n_periods`` positions.

    Examples
    --------
    >>> pos = circular_block_periods(10, 3, np.random.default_rng(0))
    >>> len(pos), bool(np.all((np.diff(pos[:3]) % 10) == 1))
    (10, True)
    """
    n_blocks = -(-n_periods // block)
    starts = rng.integers(0, n_periods, n_blocks)
    return ((starts[:, None] + np.arange(block)[None, :]) % n_periods).ravel()[:n_periods]


def draw_clusters(n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster codes of one cluster bootstrap resample (``n_clusters`` draws with replacement)."""
    return rng.integers(0, n_clusters, n_clusters)


@dataclass(frozen=True)
class PanelResampler:
    """How the rows of a panel are resampled (see the module docstring for the schemes).

    Attributes
    ----------
    n : int
        Number of rows.
    period_codes : ndarray of int or None
        Position of each row's period among the distinct periods in time order
        (needed for ``block``).
    n_periods : int
    cluster_codes : ndarray of int or None
        Segment code of each row (needed for cluster resampling).
    n_clusters : int
    block : int or None
        Block length in periods; ``None`` resamples no time blocks.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"period": [1, 1, 2, 2, 3, 3], "queue": list("ababab")})
    >>> plan = PanelResampler.from_frame(panel, time="period", block=2, cluster="queue")
    >>> plan.scheme
    'cluster+block'
    >>> int(plan.counts(np.random.default_rng(0)).sum())
    6
    """

    n: int
    period_codes: np.ndarray | None = None
    n_periods: int = 0
    cluster_codes: np.ndarray | None = None
    n_clusters: int = 0
    block: int | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, time: str | None = None, block: int | None = None,
                   cluster=None) -> "PanelResampler":
        """Build the plan from a frame's ``time`` column (for ``block``) and ``cluster`` column(s)."""
        n = len(frame)
        period_codes, n_periods = None, 0
        if block is not None:
            if time is None or time not in frame.columns:
                raise InputError(f"block={block} resamples blocks of periods, but the time column "
                                 f"{time!r} is not in the data", column=time)
            codes, uniques = pd.factorize(frame[time], sort=True)
            if (codes < 0).any():
                raise InputError("has missing periods", column=time, row=int(np.argmax(codes < 0)) + 1)
            period_codes, n_periods = codes.astype(np.int64), len(uniques)
            if not 1 <= block <= n_periods:
                raise OptionError(f"The 'block' parameter must be an integer from 1 to the number of "
                                  f"periods ({n_periods}). Got {block!r} instead.")
        cluster_codes, n_clusters = None, 0
        if cluster is not None:
            cols = [cluster] if isinstance(cluster, str) else list(cluster)
            codes = frame.groupby(cols, sort=True, dropna=False).ngroup().to_numpy()
            cluster_codes, n_clusters = codes.astype(np.int64), int(codes.max()) + 1 if n else 0
        return cls(n=n, period_codes=period_codes, n_periods=n_periods,
                   cluster_codes=cluster_codes, n_clusters=n_clusters, block=block)

    @property
    def scheme(self) -> str:
        """``'iid'``, ``'cluster'``, ``'block'`` or ``'cluster+block'``."""
        parts = [name for name, on in (("cluster", self.cluster_codes is not None),
                                       ("block", self.period_codes is not None)) if on]
        return "+".join(parts) or "iid"

    def describe(self) -> str:
        """One line saying how rows are resampled."""
        parts = []
        if self.cluster_codes is not None:
            parts.append(f"whole segments ({self.n_clusters} clusters) drawn with replacement")
        if self.period_codes is not None:
            parts.append(f"circular blocks of {self.block} consecutive periods ({self.n_periods} periods)")
        if not parts:
            return "i.i.d. rows (ignores autocorrelation and segment structure)"
        return " x ".join(parts)

    def counts(self, rng: np.random.Generator) -> np.ndarray:
        """How many times each row is drawn in one resample (int32, length ``n``)."""
        if self.period_codes is None and self.cluster_codes is None:
            return np.bincount(rng.integers(0, self.n, self.n), minlength=self.n).astype(np.int32)
        mult = np.ones(self.n, dtype=np.int32)
        # clusters first, then periods: the order of draws from rng is part of the plan
        if self.cluster_codes is not None:
            per_cluster = np.bincount(draw_clusters(self.n_clusters, rng), minlength=self.n_clusters)
            mult *= per_cluster[self.cluster_codes].astype(np.int32)
        if self.period_codes is not None:
            per_period = np.bincount(circular_block_periods(self.n_periods, self.block, rng),
                                     minlength=self.n_periods)
            mult *= per_period[self.period_codes].astype(np.int32)
        return mult

    def counts_matrix(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Stack of :meth:`counts`, one row per generator: shape ``(len(rngs), n)``."""
        out = np.empty((len(rngs), self.n), dtype=np.int32)
        for b, rng in enumerate(rngs):
            out[b] = self.counts(rng)
        return out
