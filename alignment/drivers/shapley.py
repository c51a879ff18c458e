"""Compiled kernels for exact Shapley (LMG) decompositions of R² and for bootstrap moments.

Everything here works on a correlation matrix ``R`` of shape ``(p + 1, p + 1)`` whose
last row and column belong to the outcome; nothing refits on rows.

The subset tree
---------------
All ``2**p`` predictor subsets are visited depth first; a child adds a predictor whose
index is larger than every index already in the set, so each subset is met exactly
once. A node keeps the partial covariance of the predictors that may still be added
(indices above its last one) and of the outcome, given the node's set. For a child
``S + j`` the R² update is then O(1)::

    R²(S + j) = R²(S) + c_jy|S ** 2 / (c_jj|S * c_yy)        (c_yy = 1 here)

and the child's own partial covariance is one rank-one downdate (a sweep on pivot ``j``)
of the remaining ``m`` candidates, ``m (m + 1) / 2 + m`` multiply-adds, paid only by nodes
that have children. Summed over the tree that is about ``2.5 * 2**p`` multiply-adds,
i.e. a few flops per subset.

Shapley weights depend on the subset size only. With ``w(k) = k! (p - k - 1)! / p!``
(and ``w(p) = 0``),

    phi_j = sum_{S not containing j} w(|S|) [v(S + j) - v(S)]
          = sum_{T containing j} [w(|T| - 1) + w(|T|)] v(T)  -  sum_{S} w(|S|) v(S),

(check: for ``S`` not containing ``j``, ``v(S)`` enters the first line with weight
``-w(|S|)``; for ``T`` containing ``j``, ``v(T)`` enters with ``+w(|T| - 1)`` as ``S + j``,
and the second line's ``-sum_S`` over all ``S`` subtracts ``w(|T|)`` from it, which the
``+w(|T|)`` inside the bracket gives back.) So a pass needs, per predictor, the weighted
sum ``A_j`` over the subsets that contain it, and the global sum ``G``; efficiency
(``sum_j phi_j = v(N)``) gives ``G = (sum_j A_j - v(N)) / p``, so ``G`` is not summed at
all. A subset ``T`` containing ``j`` sits in the subtree of exactly one node whose *last*
predictor is ``j`` (the node ``T ∩ {0..j}``), so each node adds its subtree total to
``A`` of the predictor it added: O(1) per node, no table of ``2**p`` values, and the
sums are formed hierarchically (little rounding).

The last three predictors are handled in straight-line code (a node adding ``p - 3``
evaluates its whole four-subset subtree, one adding ``p - 2`` its two), so only one
node in eight pushes the stack and builds a level: about ``1.4 * 2**p`` multiply-adds in
level builds plus one division and a handful of flops per subset.

Memory is the stack of partial covariances, level ``d`` holding indices ``d..p``:
``sum_d (p + 1 - d)**2`` doubles, about ``p**3 / 3`` (40 KB at ``p = 24``) per thread.
It is O(p³), not O(p²), but it is never O(2**p) and it stays in cache. Only the
dominance analysis (:func:`subset_r2`) stores all ``2**p`` values, because complete
dominance compares pairs of subsets that are far apart in the tree.

Groups of predictors
--------------------
:func:`group_shapley` plays the same game with ``q`` *players*, each a block of predictor
columns (a group, or one predictor on its own): the value of a coalition is the R² of
the union of its columns. The players' columns are made consecutive first, and the
tree is walked over the ``2**q`` coalitions exactly as above; a child adding player
``j`` sweeps its ``m_j`` columns one after the other (each sweep adds
``c_cy|S ** 2 / c_cc|S`` to R² and downdates the columns after it). A node whose last
player is ``j`` copies and sweeps the block of the columns from player ``j`` on, and
there are ``2**j`` such nodes, so the walk costs a few multiply-adds per coalition as
well (the deep nodes, which are most of them, have small blocks).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["MAX_PREDICTORS", "shapley", "subset_r2", "shapley_batch", "boot_correlations",
           "dominance_from_table", "shapley_weights", "group_shapley", "group_subset_r2",
           "group_shapley_batch"]

#: The largest number of predictors accepted (2**24 = 16.8 million subsets per pass), defined once
#: in :mod:`alignment.drivers.importance`.
from .importance import MAX_PREDICTORS  # noqa: E402

#: Partial variances below this (on the correlation scale) mean the predictor is a linear
#: combination of the set already in the model: it adds nothing, and pivoting on it
#: would divide by rounding noise.
PIVOT_TOL = 1e-12


def shapley_weights(p: int) -> tuple[np.ndarray, np.ndarray]:
    """``w[k] = k! (p-k-1)! / p!`` (``w[p] = 0``) and ``u[k] = w[k-1] + w[k]`` for k = 0..p."""
    w = np.zeros(p + 1)
    for k in range(p):
        # exact integers, one rounding at the division
        w[k] = math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
    u = np.zeros(p + 1)
    u[1:] = w[:-1] + w[1:]
    return w, u


@njit(cache=True)
def _offsets(p):
    """Start of each level's (p+1-d) x (p+1-d) block in the flat work buffer."""
    P = p + 1
    off = np.empty(p + 1, dtype=np.int64)
    total = 0
    for d in range(p + 1):
        off[d] = total
        L = P - d
        total += L * L
    return off, total


@njit(cache=True)
def _dfs(R, u, table):
    """Walk the subset tree once. Returns (phi, full R²); fills ``table[mask]`` when it has 2**p cells."""
    P = R.shape[0]
    p = P - 1
    off, total = _offsets(p)
    buf = np.empty(total)
    for k in range(P):
        for l in range(P):
            buf[k * P + l] = R[k, l]
    store = table.shape[0] == (1 << p)
    if store:
        table[0] = 0.0

    last = np.empty(p + 1, dtype=np.int64)
    nxt = np.empty(p + 1, dtype=np.int64)
    r2s = np.empty(p + 1)
    acc = np.empty(p + 1)
    masks = np.zeros(p + 1, dtype=np.int64)
    A = np.zeros(p)
    full = 0.0

    d = 0
    last[0] = -1
    nxt[0] = 0
    r2s[0] = 0.0
    acc[0] = 0.0
    while True:
        j = nxt[d]
        if j < p:
            nxt[d] = j + 1
            k = d + 1
            Ls = P - d
            # row a of this level starts at src + (a - d) * Ls; column l is at + l
            src = off[d] - d
            rowj = src + (j - d) * Ls
            cjj = buf[rowj + j]
            cjy = buf[rowj + p]
            f = 1.0 / cjj if cjj > PIVOT_TOL else 0.0
            r = r2s[d] + cjy * cjy * f
            val = u[k] * r
            mask = masks[d] | (1 << j)
            if store:
                table[mask] = r
            if j == p - 1:
                A[j] += val
                acc[d] += val
                if k == p:
                    full = r
            elif j == p - 2:
                # its single child (p - 1) is done inline, without building a level
                q = p - 1
                cjq = buf[rowj + q]
                rowq = src + (q - d) * Ls
                cqq = buf[rowq + q] - cjq * cjq * f
                cqy = buf[rowq + p] - cjq * cjy * f
                r1 = r + (cqy * cqy / cqq if cqq > PIVOT_TOL else 0.0)
                v1 = u[k + 1] * r1
                if store:
                    table[mask | (1 << q)] = r1
                if k + 1 == p:
                    full = r1
                A[q] += v1
                A[j] += val + v1
                acc[d] += val + v1
            elif j == p - 3:
                # the whole subtree {S+a, S+a+b, S+a+b+c, S+a+c} (a, b, c = p-3, p-2, p-1)
                # in straight-line code: with the case above, 7 of every 8 subsets never
                # touch the stack or build a level (27 % faster at p = 20)
                b = p - 2
                c = p - 1
                cab = buf[rowj + b]
                cac = buf[rowj + c]
                rowb = src + (b - d) * Ls
                rowc = src + (c - d) * Ls
                bb = buf[rowb + b] - cab * cab * f
                bc = buf[rowb + c] - cab * cac * f
                by = buf[rowb + p] - cab * cjy * f
                cc = buf[rowc + c] - cac * cac * f
                cy = buf[rowc + p] - cac * cjy * f
                fb = 1.0 / bb if bb > PIVOT_TOL else 0.0
                r_ab = r + by * by * fb
                cc2 = cc - bc * bc * fb
                cy2 = cy - bc * by * fb
                r_abc = r_ab + (cy2 * cy2 / cc2 if cc2 > PIVOT_TOL else 0.0)
                r_ac = r + (cy * cy / cc if cc > PIVOT_TOL else 0.0)
                v_ab = u[k + 1] * r_ab
                v_abc = u[k + 2] * r_abc
                v_ac = u[k + 1] * r_ac
                if store:
                    table[mask | (1 << b)] = r_ab
                    table[mask | (1 << b) | (1 << c)] = r_abc
                    table[mask | (1 << c)] = r_ac
                if k + 2 == p:
                    full = r_abc
                sub = val + v_ab + v_abc + v_ac
                A[j] += sub
                A[b] += v_ab + v_abc
                A[c] += v_abc + v_ac
                acc[d] += sub
            else:
                # child's partial covariance of the candidates j+1..p-1 and the outcome
                Ld = Ls - 1
                dst = off[k] - k
                for a in range(j + 1, p):
                    ga = buf[rowj + a] * f
                    sa = src + (a - d) * Ls
                    da = dst + (a - k) * Ld
                    for l in range(a, P):
                        buf[da + l] = buf[sa + l] - ga * buf[rowj + l]
                d = k
                last[d] = j
                nxt[d] = j + 1
                r2s[d] = r
                acc[d] = val
                masks[d] = mask
        else:
            if d == 0:
                break
            s = acc[d]
            A[last[d]] += s
            acc[d - 1] += s
            d -= 1
    # phi_j = A_j - G with G = sum_S w(|S|) v(S). Efficiency (sum phi = v(N)) gives
    # G = (sum A - v(N)) / p, which spares a second long sum and its rounding.
    G = (A.sum() - full) / p
    return A - G, full


def shapley(R: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact Shapley (LMG) shares of R² from a correlation matrix with the outcome last.

    Returns ``(phi, r2)``: ``phi`` has one value per predictor and sums to ``r2``.
    """
    R = np.ascontiguousarray(R, dtype=np.float64)
    _, u = shapley_weights(R.shape[0] - 1)
    return _dfs(R, u, np.empty(1))


def subset_r2(R: np.ndarray) -> np.ndarray:
    """R² of every subset, indexed by bit mask (bit j set = predictor j in the model)."""
    R = np.ascontiguousarray(R, dtype=np.float64)
    p = R.shape[0] - 1
    _, u = shapley_weights(p)
    table = np.empty(1 << p)
    _dfs(R, u, table)
    return table


@njit(parallel=True, cache=True)
def _shapley_batch(Rs, u):
    B = Rs.shape[0]
    p = Rs.shape[1] - 1
    phi = np.empty((B, p))
    r2 = np.empty(B)
    dummy = np.empty(1)
    for b in prange(B):
        if np.isnan(Rs[b, p, p]):
            phi[b, :] = np.nan
            r2[b] = np.nan
            continue
        ph, full = _dfs(Rs[b], u, dummy)
        phi[b, :] = ph
        r2[b] = full
    return phi, r2


def shapley_batch(Rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shapley` over a stack of correlation matrices, in parallel (NaN matrix -> NaN row)."""
    Rs = np.ascontiguousarray(Rs, dtype=np.float64)
    _, u = shapley_weights(Rs.shape[1] - 1)
    return _shapley_batch(Rs, u)


@njit(cache=True)
def _group_dfs(R, starts, u, table):
    """:func:`_dfs` over players: player ``k`` owns the consecutive columns ``starts[k]:starts[k + 1]``.

    Level ``d`` of ``buf`` holds, in its upper triangle, the partial covariance given the
    coalition of depth ``d`` of the columns of the players after the last one added and of
    the outcome. Returns (phi per player, R² of all columns); fills ``table[mask]`` (bit
    ``k`` = player ``k``) when it has ``2**q`` cells.
    """
    P = R.shape[0]
    p = P - 1
    q = starts.shape[0] - 1
    buf = np.empty((q + 1, P, P))
    for a in range(P):
        for l in range(a, P):
            buf[0, a, l] = R[a, l]
    store = table.shape[0] == (1 << q)
    if store:
        table[0] = 0.0

    last = np.empty(q + 1, dtype=np.int64)
    nxt = np.empty(q + 1, dtype=np.int64)
    r2s = np.empty(q + 1)
    acc = np.empty(q + 1)
    masks = np.zeros(q + 1, dtype=np.int64)
    A = np.zeros(q)
    full = 0.0

    d = 0
    last[0] = -1
    nxt[0] = 0
    r2s[0] = 0.0
    acc[0] = 0.0
    while True:
        j = nxt[d]
        if j < q:
            nxt[d] = j + 1
            k = d + 1
            lo = starts[j]
            for a in range(lo, P):
                for l in range(a, P):
                    buf[k, a, l] = buf[d, a, l]
            r = r2s[d]
            for c in range(lo, starts[j + 1]):
                cc = buf[k, c, c]
                if cc > PIVOT_TOL:  # else c is a combination of the columns already in: adds nothing
                    f = 1.0 / cc
                    cy = buf[k, c, p]
                    r += cy * cy * f
                    for a in range(c + 1, P):
                        g = buf[k, c, a] * f
                        for l in range(a, P):
                            buf[k, a, l] -= g * buf[k, c, l]
            val = u[k] * r
            mask = masks[d] | (1 << j)
            if store:
                table[mask] = r
            if k == q:
                full = r
            if j == q - 1:
                A[j] += val
                acc[d] += val
            else:
                d = k
                last[d] = j
                nxt[d] = j + 1
                r2s[d] = r
                acc[d] = val
                masks[d] = mask
        else:
            if d == 0:
                break
            s = acc[d]
            A[last[d]] += s
            acc[d - 1] += s
            d -= 1
    G = (A.sum() - full) / q
    return A - G, full


def _player_layout(P, members):
    """Column order that makes each player's columns consecutive (outcome last), and the block starts."""
    members = [np.asarray(m, dtype=np.int64).ravel() for m in members]
    order = np.concatenate([*members, np.array([P - 1], dtype=np.int64)])
    if sorted(order[:-1].tolist()) != list(range(P - 1)):
        raise ValueError("members must partition the predictor columns 0..p-1")
    starts = np.zeros(len(members) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(m) for m in members])
    return order, starts


def group_shapley(R: np.ndarray, members) -> tuple[np.ndarray, float]:
    """Exact Shapley (LMG) shares of R² for groups of predictors.

    ``R`` is a correlation matrix with the outcome last; ``members[k]`` lists the predictor
    columns of player ``k`` (the players partition the predictors). The value of a
    coalition is the R² of the union of its columns. Returns ``(phi, r2)``: one value
    per player, summing to ``r2``.
    """
    R = np.ascontiguousarray(R, dtype=np.float64)
    order, starts = _player_layout(R.shape[0], members)
    _, u = shapley_weights(len(starts) - 1)
    return _group_dfs(np.ascontiguousarray(R[np.ix_(order, order)]), starts, u, np.empty(1))


def group_subset_r2(R: np.ndarray, members) -> np.ndarray:
    """R² of every coalition of players, indexed by bit mask (bit k set = player k in the model)."""
    R = np.ascontiguousarray(R, dtype=np.float64)
    order, starts = _player_layout(R.shape[0], members)
    q = len(starts) - 1
    _, u = shapley_weights(q)
    table = np.empty(1 << q)
    _group_dfs(np.ascontiguousarray(R[np.ix_(order, order)]), starts, u, table)
    return table


@njit(parallel=True, cache=True)
def _group_shapley_batch(Rs, starts, u):
    B = Rs.shape[0]
    p = Rs.shape[1] - 1
    q = starts.shape[0] - 1
    phi = np.empty((B, q))
    r2 = np.empty(B)
    dummy = np.empty(1)
    for b in prange(B):
        if np.isnan(Rs[b, p, p]):
            phi[b, :] = np.nan
            r2[b] = np.nan
            continue
        ph, full = _group_dfs(Rs[b], starts, u, dummy)
        phi[b, :] = ph
        r2[b] = full
    return phi, r2


def group_shapley_batch(Rs: np.ndarray, members) -> tuple[np.ndarray, np.ndarray]:
    """:func:`group_shapley` over a stack of correlation matrices, in parallel (NaN matrix -> NaN row)."""
    Rs = np.asarray(Rs, dtype=np.float64)
    order, starts = _player_layout(Rs.shape[1], members)
    _, u = shapley_weights(len(starts) - 1)
    return _group_shapley_batch(np.ascontiguousarray(Rs[:, order][:, :, order]), starts, u)


@njit(parallel=True, cache=True)
def _boot_correlations(Z, groups, n_groups, counts, tol):
    """Correlation matrix of each weighted resample, demeaned within groups (or globally).

    ``counts[b, i]`` is how often row ``i`` is in resample ``b``. A resample whose
    outcome has (numerically) no variance gets a NaN matrix; a predictor without
    variance gets a zero row and column (it can explain nothing) and is flagged.
    """
    B, n = counts.shape
    P = Z.shape[1]
    out = np.empty((B, P, P))
    flags = np.zeros(B, dtype=np.int64)
    G = max(n_groups, 1)
    for b in prange(B):
        wsum = np.zeros(G)
        means = np.zeros((G, P))
        for i in range(n):
            c = counts[b, i]
            if c != 0:
                g = groups[i] if n_groups > 0 else 0
                wsum[g] += c
                for a in range(P):
                    means[g, a] += c * Z[i, a]
        total = 0.0
        for g in range(G):
            total += wsum[g]
            if wsum[g] > 0:
                for a in range(P):
                    means[g, a] /= wsum[g]
        S = np.zeros((P, P))
        x = np.empty(P)
        for i in range(n):
            c = counts[b, i]
            if c != 0:
                g = groups[i] if n_groups > 0 else 0
                for a in range(P):
                    x[a] = Z[i, a] - means[g, a]
                for a in range(P):
                    ca = c * x[a]
                    for l in range(a, P):
                        S[a, l] += ca * x[l]
        sd = np.empty(P)
        bad = 0
        for a in range(P):
            v = S[a, a] / total
            if v > tol:
                sd[a] = math.sqrt(S[a, a])
            else:
                sd[a] = 0.0
                bad = 1
        if sd[P - 1] == 0.0:
            out[b, :, :] = np.nan
            flags[b] = 2
            continue
        flags[b] = bad
        for a in range(P):
            for l in range(a, P):
                if a == l:
                    r = 1.0
                elif sd[a] == 0.0 or sd[l] == 0.0:
                    r = 0.0
                else:
                    r = S[a, l] / (sd[a] * sd[l])
                out[b, a, l] = r
                out[b, l, a] = r
    return out, flags


def boot_correlations(Z, groups, n_groups, counts, tol=1e-12):
    """Correlation matrices of weighted resamples of the rows of ``Z`` (outcome last).

    Parameters
    ----------
    Z : ndarray (n, p + 1)
        Predictors then outcome, already centred (within groups when ``n_groups > 0``)
        and scaled to unit variance so that the sums below lose no precision.
    groups : ndarray of int (n,)
        Segment code of each row for the within transformation (ignored when
        ``n_groups == 0``). Demeaning is redone with each resample's own weights.
    counts : ndarray of int (B, n)
        Multiplicity of each row in each resample.

    Returns
    -------
    R : ndarray (B, p + 1, p + 1)
    flags : ndarray of int (B,)
        0 fine, 1 a predictor had no variance in the resample (its row is zero),
        2 the outcome had none (matrix is NaN).
    """
    return _boot_correlations(np.ascontiguousarray(Z, dtype=np.float64),
                              np.ascontiguousarray(groups, dtype=np.int64), int(n_groups),
                              np.ascontiguousarray(counts), float(tol))


@njit(cache=True)
def _dominance(table, p, tol):
    """Mean increments by size of the conditioning set, and pairwise complete dominance."""
    n_sets = 1 << p
    cond = np.zeros((p, p))
    for mask in range(n_sets):
        size = 0
        m = mask
        while m:
            size += m & 1
            m >>= 1
        v = table[mask]
        for j in range(p):
            if not (mask >> j) & 1:
                cond[j, size] += table[mask | (1 << j)] - v
    # each predictor meets C(p-1, k) subsets of size k among the others
    for k in range(p):
        c = 1.0
        for t in range(k):
            c = c * (p - 1 - t) / (t + 1)
        for j in range(p):
            cond[j, k] /= c
    complete = np.zeros((p, p), dtype=np.bool_)
    for i in range(p):
        for j in range(p):
            if i == j:
                continue
            dom = True
            bi = 1 << i
            bj = 1 << j
            for mask in range(n_sets):
                if mask & bi or mask & bj:
                    continue
                if not table[mask | bi] > table[mask | bj] + tol:
                    dom = False
                    break
            complete[i, j] = dom
    return cond, complete


def dominance_from_table(table: np.ndarray, p: int, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Conditional dominance ``cond[j, k]`` (mean increment of ``j`` over subsets of ``k`` others)
    and ``complete[i, j]`` (``i`` adds more than ``j`` + ``tol`` to every subset of the other
    predictors, the empty one included)."""
    return _dominance(np.ascontiguousarray(table, dtype=np.float64), int(p), float(tol))
