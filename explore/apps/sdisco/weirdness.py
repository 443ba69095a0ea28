"""Weirdness scores: how unlike the rest of a survey each spectrum is.

Four estimators in the scikit-learn style (the constructor stores parameters, ``fit`` computes,
``scores_`` holds one score per object, larger = weirder):

:class:`WeirdnessForest`
    The unsupervised random-forest dissimilarity of Baron & Poznanski (2017, MNRAS 465, 4530).
:class:`TotalWeirdness`
    Mean feature distance to all other objects, exact or estimated from a random reference sample.
:class:`NeighbourWeirdness`
    Mean feature distance to the ``k`` nearest neighbours in feature space (a local-density score in
    the spirit of the k-NN outlier score of Ramaswamy, Rastogi & Shim 2000, averaged as in
    Angiulli & Pizzuti 2002).
:class:`SpatialWeirdness`
    Mean feature distance to the ``k`` nearest neighbours in 3D Galactic position: a star unlike its
    spatial neighbours (the "spatial" score of the EXPLORE S-Disco app).

All distances are Euclidean in the feature space given (normalised spectra or their PCA, see
:mod:`explore.apps.sdisco.features`). The exact distance scores run as one blocked pass over the
upper triangle of the distance matrix (:func:`distance_scores`): float32 matrix products (BLAS) give
``x_i . x_j``, and numba kernels turn each block into distances, add them to both objects' sums and
keep each object's ``k`` smallest in a bounded buffer, on as many threads as there are cores.
Nothing of size N x N is ever stored.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import numba
import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_limits

from explore.apps.sdisco.quickselect import quickselect, select_smallest

__all__ = [
    "NeighbourWeirdness",
    "SpatialWeirdness",
    "TotalWeirdness",
    "WeirdnessForest",
    "distance_scores",
    "forest_weirdness_all_pairs",
]

Progress = Callable[[float], None] | None


def _check_features(X: Any, name: str = "X") -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2D (objects x features); got {X.ndim} dimensions")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 objects to compare, got {X.shape[0]}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(
            f"{name} has NaN or infinite values in {bad} rows: drop those objects first "
            "(SpectralFeatures.valid_ says which spectra had too few good pixels)"
        )
    return X


def _effective_k(k: int, n: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n - 1:
        warnings.warn(f"k = {k} but only {n - 1} other objects exist: using k = {n - 1}", UserWarning, stacklevel=3)
        return n - 1
    return k


# ---- the blocked distance pass ---------------------------------------------------------------------------
@numba.njit(cache=True, fastmath=True, nogil=True)
def _candidates(v, t, mask, cand):  # noqa: ANN001
    """Copy the values of ``v`` below ``t`` into ``cand`` and return how many there are.

    A vectorised comparison marks them in ``mask`` (bytes); groups of eight unmarked values are skipped
    with one 64-bit test, and the marked groups are copied without a branch per value.
    """
    n = v.size
    for b in range(n):
        mask[b] = v[b] < t
    words = mask[: n - n % 8].view(np.uint64)
    h = 0
    for q in range(words.size):
        if words[q]:
            for b in range(8 * q, 8 * q + 8):
                x = v[b]
                cand[h] = x
                h += x < t
    for b in range(n - n % 8, n):
        x = v[b]
        cand[h] = x
        h += x < t
    return h


@numba.njit(cache=True, nogil=True)
def _merge(buf, cnt, tau, i, cand, h, k, scratch):  # noqa: ANN001
    """Add candidate squared distances to object i's buffer; when it is full, keep the k smallest and
    lower the object's threshold ``tau`` to the largest of them."""
    row = buf[i]
    cap = row.size
    c = cnt[i]
    t = tau[i]
    for q in range(h):
        x = cand[q]
        row[c] = x
        c += x < t  # no branch on the value: after a selection about half the candidates fail
        if c == cap:
            t = select_smallest(row, c, k, scratch)
            c = k
    cnt[i] = c
    tau[i] = t


@numba.njit(cache=True, fastmath=True, nogil=True)
def _block_rows(G, ni, nj, i0, same, total, rowsum, buf, cnt, tau, k, mask, cand, scratch):  # noqa: ANN001
    """Turn a block of dot products into squared distances in place (rows: objects ``i0 + a``), add each
    row's distances to its sum and offer the row's values below its threshold to its buffer."""
    b1, b2 = G.shape
    two = np.float32(2.0)
    zero = np.float32(0.0)
    for a in range(b1):
        g = G[a]
        na = ni[a]
        i = i0 + a
        if total:
            s = np.float32(0.0)
            for b in range(b2):  # vectorised
                x = max(na + nj[b] - two * g[b], zero)
                g[b] = x
                s += np.sqrt(x)
            if same:
                s -= np.sqrt(g[a])
            rowsum[i] += s
        else:
            for b in range(b2):
                g[b] = max(na + nj[b] - two * g[b], zero)
        if same:
            g[a] = np.float32(np.inf)
        if k > 0:
            h = _candidates(g, tau[i], mask[:b2], cand)
            if h:
                _merge(buf, cnt, tau, i, cand, h, k, scratch)


@numba.njit(cache=True, nogil=True)
def _merge_grouped(vals, cols, h, w, j0, buf, cnt, tau, k, grouped, counts, scratch):  # noqa: ANN001
    """Merge candidates tagged with their column (0 <= col < w) into the buffers of objects ``j0 + col``,
    grouped by column first (a counting sort) so that each buffer is visited once."""
    counts[: w + 1] = 0
    for q in range(h):
        counts[cols[q] + 1] += 1
    for b in range(w):
        counts[b + 1] += counts[b]
    for q in range(h):
        b = cols[q]
        grouped[counts[b]] = vals[q]
        counts[b] += 1
    start = 0
    for b in range(w):
        stop = counts[b]
        if stop > start:
            _merge(buf, cnt, tau, j0 + b, grouped[start:stop], stop - start, k, scratch)
        start = stop


@numba.njit(cache=True, fastmath=True, nogil=True)
def _block_cols(D, j0, total, rowsum, buf, cnt, tau, k, mask, sums, thr, vals, cols, grouped, counts, scratch):  # noqa: ANN001
    """The same for the block's columns (objects ``j0 + b``), reading the squared distances row by row:
    candidates are collected with their column, then merged column by column."""
    b1, w = D.shape
    sums = sums[:w]
    thr = thr[:w]
    mask = mask[:w]
    words = mask[: w - w % 8].view(np.uint64)
    sums[:] = 0.0
    for b in range(w):
        thr[b] = tau[j0 + b] if k > 0 else np.float32(-1.0)
    h = 0
    for a in range(b1):
        row = D[a]
        if total:
            for b in range(w):
                sums[b] += np.sqrt(row[b])
        if k > 0:
            if h + w > vals.size:
                _merge_grouped(vals, cols, h, w, j0, buf, cnt, tau, k, grouped, counts, scratch)
                h = 0
                for b in range(w):
                    thr[b] = tau[j0 + b]
            for b in range(w):
                mask[b] = row[b] < thr[b]
            for q in range(words.size):
                if words[q]:
                    for b in range(8 * q, 8 * q + 8):
                        x = row[b]
                        vals[h] = x
                        cols[h] = b
                        h += x < thr[b]
            for b in range(w - w % 8, w):
                x = row[b]
                vals[h] = x
                cols[h] = b
                h += x < thr[b]
    if total:
        for b in range(w):
            rowsum[j0 + b] += sums[b]
    if h:
        _merge_grouped(vals, cols, h, w, j0, buf, cnt, tau, k, grouped, counts, scratch)


@numba.njit(parallel=True, cache=True)
def _finish_knn(buf, cnt, k):  # noqa: ANN001
    n = buf.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        row = buf[i]
        c = cnt[i]
        if c > k:
            quickselect(row, 0, c, k - 1)  # the k smallest first, in any order: their mean is all we need
        s = 0.0
        for j in range(k):
            s += math.sqrt(row[j])
        out[i] = s / k
    return out


def _block_pairs(n_blocks: int) -> list[tuple[int, int]]:
    """Every pair of blocks once, in rounds of pairs sharing no block (the circle method of round-robin
    tournaments), the diagonal blocks first: pairs of one round can run at the same time without two
    threads ever touching the same object."""
    pairs = [(b, b) for b in range(n_blocks)]
    m = n_blocks + n_blocks % 2
    ring = list(range(m))
    for _ in range(m - 1):
        for p in range(m // 2):
            a, b = ring[p], ring[m - 1 - p]
            if a < n_blocks and b < n_blocks:
                pairs.append((min(a, b), max(a, b)))
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return pairs


class _Schedule:
    """Hands out block pairs to worker threads. A pair is given out only when it is the next pending pair
    of both its blocks and neither block is in use: every object then sees the blocks in the same order
    whatever the threads do, so the sums and the buffers, hence the scores, are the same bit for bit."""

    def __init__(self, n_blocks: int) -> None:
        self.pending = _block_pairs(n_blocks)
        self.total = len(self.pending)
        self.queues: list[deque[int]] = [deque() for _ in range(n_blocks)]
        for p, (a, b) in enumerate(self.pending):
            self.queues[a].append(p)
            if b != a:
                self.queues[b].append(p)
        self.index = {pair: p for p, pair in enumerate(self.pending)}
        self.cond = threading.Condition()
        self.stopped = False
        self.done = 0

    def take(self) -> tuple[int, int] | None:
        with self.cond:
            while not self.stopped and self.pending:
                for pos, (a, b) in enumerate(self.pending[:64]):
                    p = self.index[(a, b)]
                    if self.queues[a][0] == p and self.queues[b][0] == p:
                        del self.pending[pos]
                        return a, b
                self.cond.wait()
            return None

    def finish(self, a: int, b: int) -> None:
        with self.cond:
            self.queues[a].popleft()
            if b != a:
                self.queues[b].popleft()
            self.done += 1
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def distance_scores(
    X: Any,
    *,
    k: int | None = 250,
    total: bool = True,
    block_size: int = 768,
    n_jobs: int | None = None,
    progress: Progress = None,
) -> dict[str, np.ndarray]:
    """Exact mean distance to all others and to the ``k`` nearest neighbours, in one blocked pass.

    The distance matrix is cut into blocks of ``block_size`` objects; each pair of blocks (the upper
    triangle only) is one float32 matrix product ``x_i . x_j`` followed by a numba pass that turns it into
    squared distances, adds their square roots to both objects' sums and offers the values below each
    object's current threshold to its buffer of candidates. A full buffer keeps its ``k`` smallest and
    lowers the threshold to the largest of them, so after the first blocks few values pass. The
    neighbours are selected on squared distances; only the ``k`` selected get a square root when the
    total score is not wanted. Worker threads take pairs of blocks that share no object (the GIL is
    released in BLAS and in the numba kernels), and a block is small enough to stay in a core's cache
    between the product and the pass. Nothing of size N x N is stored.

    Parameters
    ----------
    X : array, shape (N, D)
        Features (float32 is used inside; the data are centred first, which leaves distances unchanged
        and keeps the ``|x|^2 + |y|^2 - 2 x.y`` form accurate in single precision).
    k : int or None
        Neighbours for the k-NN score; None skips it. Clipped to ``N - 1`` with a warning.
    total : bool
        Whether to return the total score (it costs a square root per pair).
    block_size : int
        Objects per block; the work is ``(N / block_size)^2 / 2`` matrix products. Blocks of a few
        hundred keep the products at full speed and a block of distances near a core's cache.
    n_jobs : int or None
        Worker threads; None uses every CPU this process may run on. The scores do not depend on it.
    progress : callable(fraction), optional
        Called about twice a second from the calling thread; an exception it raises (the app's STOP)
        stops the workers after their current block and is raised again.

    Returns
    -------
    dict with ``"total"`` (mean distance to the N - 1 others) and/or ``"knn"`` (mean distance to the
    k nearest), each an ndarray of shape (N,).
    """
    X = _check_features(X)
    n = X.shape[0]
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    X = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    norms = np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(np.float32)
    kk = 0 if k is None else _effective_k(k, n)
    # room for as many new candidates as kept ones (at least 128) between two selections
    cap = kk + max(kk, 128) if kk else 1
    buf = np.empty((n if kk else 1, cap), np.float32)
    cnt = np.zeros(n if kk else 1, np.int64)
    tau = np.full(n if kk else 1, np.inf, np.float32)
    rowsum = np.zeros(n)
    bs = min(block_size, n)
    n_blocks = -(-n // bs)
    schedule = _Schedule(n_blocks)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = max(1, min(n_jobs or available, n_blocks))

    def work(report: Progress = None) -> None:
        G = np.empty((bs, bs), np.float32)
        mask = np.empty(bs, np.uint8)
        cand = np.empty(bs, np.float32)
        sums = np.empty(bs)
        thr = np.empty(bs, np.float32)
        scratch = np.empty(cap, np.float32)
        room = max(2 * bs, 2**16) if kk else 1  # column candidates collected before a merge
        vals = np.empty(room, np.float32)
        cols = np.empty(room, np.int32)
        grouped = np.empty(room, np.float32)
        counts = np.empty(bs + 1, np.int64)
        while (pair := schedule.take()) is not None:
            a, b = pair
            i0, i1 = a * bs, min(n, (a + 1) * bs)
            j0, j1 = b * bs, min(n, (b + 1) * bs)
            g = G[: i1 - i0, : j1 - j0]
            np.matmul(X[i0:i1], X[j0:j1].T, out=g)
            _block_rows(g, norms[i0:i1], norms[j0:j1], i0, a == b, total, rowsum, buf, cnt, tau, kk,
                        mask, cand, scratch)
            if a != b:
                _block_cols(g, j0, total, rowsum, buf, cnt, tau, kk, mask, sums, thr, vals, cols, grouped,
                            counts, scratch)
            schedule.finish(a, b)
            if report is not None:
                report(schedule.done / schedule.total)

    if n_workers == 1:
        last = [time.perf_counter()]

        def every_half_second(fraction: float) -> None:
            if progress is not None and (fraction == 1 or time.perf_counter() - last[0] > 0.5):
                last[0] = time.perf_counter()
                progress(fraction)

        work(every_half_second)  # in this thread; BLAS may use its own threads for the products
    else:
        # one BLAS thread per product: the workers keep the cores busy without BLAS's thread hand-offs
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(n_workers) as pool:
            running = {pool.submit(work) for _ in range(n_workers)}
            try:
                while running:
                    finished, running = wait(running, timeout=0.5, return_when=FIRST_EXCEPTION)
                    for f in finished:
                        f.result()  # a worker's exception, raised here
                    if progress is not None:
                        progress(schedule.done / schedule.total)
            except BaseException:
                schedule.stop()
                raise
    out: dict[str, np.ndarray] = {}
    if total:
        out["total"] = rowsum / (n - 1)
    if kk:
        out["knn"] = _finish_knn(buf, cnt, kk)
    return out


class TotalWeirdness(BaseEstimator):
    """Total weirdness W: the mean feature distance of each object to all other objects.

    ``W_i = 1/(N-1) sum_{j != i} |x_i - x_j|``: objects far from the bulk of the survey score high.

    Parameters
    ----------
    method : {"exact", "sample"}
        ``"exact"`` runs the blocked all-pairs pass (cost N^2 D); ``"sample"`` averages over a random
        reference sample of ``n_reference`` objects (cost N n_reference D) and reports a standard error.
    n_reference : int
        Reference sample size for ``"sample"``.
    block_size : int
    random_state : int or None

    Attributes
    ----------
    scores_ : ndarray (N,)
    scores_error_ : ndarray (N,)
        Standard error of each estimate (zero for ``"exact"``): the sample standard deviation of the
        distances over ``sqrt(m)``, times the finite-population correction ``sqrt(1 - m / (N - 1))``.
        By the central limit theorem the exact value lies within 3 standard errors in about 99.7 %
        of cases when ``m`` is a few hundred or more.
    n_reference_ : int  reference objects actually used.

    References
    ----------
    The "total" score of the EXPLORE S-Disco app; sampling estimator: Cochran, *Sampling
    Techniques* (1977), ch. 2 (mean of a simple random sample without replacement).
    """

    def __init__(self, method: str = "exact", n_reference: int = 4096, block_size: int = 768,
                 random_state: int | None = None) -> None:
        self.method = method
        self.n_reference = n_reference
        self.block_size = block_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, progress: Progress = None) -> TotalWeirdness:
        X = _check_features(X)
        n = X.shape[0]
        if self.method == "exact" or (self.method == "sample" and self.n_reference >= n - 1):
            self.scores_ = distance_scores(X, k=None, block_size=self.block_size, progress=progress)["total"]
            self.scores_error_ = np.zeros(n)
            self.n_reference_ = n - 1
            return self
        if self.method != "sample":
            raise ValueError(f"method must be 'exact' or 'sample', not {self.method!r}")
        if self.n_reference < 2:
            raise ValueError("n_reference must be at least 2")
        rng = np.random.default_rng(self.random_state)
        ref = np.sort(rng.choice(n, self.n_reference, replace=False))
        Xc = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
        norms = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64).astype(np.float32)
        R, nR = Xc[ref], norms[ref]
        is_ref = np.full(n, -1)
        is_ref[ref] = np.arange(ref.size)
        mean = np.empty(n)
        err = np.empty(n)
        step = max(1, self.block_size)
        for start in range(0, n, step):
            stop = min(n, start + step)
            G = Xc[start:stop] @ R.T
            _sample_moments(G, norms[start:stop], nR, is_ref[start:stop], n, mean[start:stop], err[start:stop])
            if progress is not None:
                progress(stop / n)
        self.scores_ = mean
        self.scores_error_ = err
        self.n_reference_ = int(ref.size)
        return self


@numba.njit(parallel=True, cache=True, fastmath=True)
def _sample_moments(G, ni, nR, own, n, mean, err):  # noqa: ANN001
    """Mean distance of each row to the reference objects (itself left out) and its standard error."""
    b1, m = G.shape
    two = np.float32(2.0)
    zero = np.float32(0.0)
    for a in numba.prange(b1):
        s = 0.0
        s2 = 0.0
        for b in range(m):
            d = np.sqrt(max(ni[a] + nR[b] - two * G[a, b], zero))
            s += d
            s2 += d * d
        cnt = m
        if own[a] >= 0:
            d = np.sqrt(max(ni[a] + nR[own[a]] - two * G[a, own[a]], zero))
            s -= d
            s2 -= d * d
            cnt -= 1
        mu = s / cnt
        var = max(s2 / cnt - mu * mu, 0.0) * cnt / (cnt - 1)
        fpc = max(1.0 - cnt / (n - 1), 0.0)
        mean[a] = mu
        err[a] = math.sqrt(var / cnt * fpc)


class NeighbourWeirdness(BaseEstimator):
    """Spectral-neighbour weirdness: mean feature distance to the ``k`` nearest neighbours.

    Exact (brute force over the upper triangle, see :func:`distance_scores`). Objects in sparse regions
    of feature space, even if near the bulk on average, score high.

    Parameters
    ----------
    k : int
        Neighbours; clipped to ``N - 1`` with a ``UserWarning`` when larger.
    block_size : int

    Attributes
    ----------
    scores_ : ndarray (N,)
    k_ : int  neighbours used.

    References
    ----------
    Ramaswamy, Rastogi & Shim 2000 (SIGMOD, k-NN distance outliers); Angiulli & Pizzuti 2002
    (PKDD, the mean over the k nearest).
    """

    def __init__(self, k: int = 250, block_size: int = 768) -> None:
        self.k = k
        self.block_size = block_size

    def fit(self, X: Any, y: Any = None, progress: Progress = None) -> NeighbourWeirdness:
        X = _check_features(X)
        self.k_ = _effective_k(self.k, X.shape[0])
        self.scores_ = distance_scores(X, k=self.k_, total=False, block_size=self.block_size,
                                       progress=progress)["knn"]
        return self


@numba.njit(parallel=True, cache=True, fastmath=True)
def _mean_pair_distance(X, nbr):  # noqa: ANN001
    n, k = nbr.shape
    d = X.shape[1]
    out = np.empty(n)
    for i in numba.prange(n):
        s = 0.0
        for c in range(k):
            j = nbr[i, c]
            acc = np.float32(0.0)
            for p in range(d):
                diff = X[i, p] - X[j, p]
                acc += diff * diff
            s += math.sqrt(acc)
        out[i] = s / k
    return out


class SpatialWeirdness(BaseEstimator):
    """Spatial-neighbour weirdness: mean feature distance to the ``k`` nearest stars in 3D space.

    The neighbours are found in Galactic Cartesian position (a k-d tree); the score is how unlike its
    spatial neighbours a spectrum is. Stars without a position (NaN, e.g. a non-positive parallax) get
    a NaN score and are nobody's neighbour.

    Parameters
    ----------
    k : int
        Spatial neighbours; clipped to (stars with positions - 1) with a ``UserWarning``.

    Attributes
    ----------
    scores_ : ndarray (N,)  NaN for stars without a position.
    k_ : int

    References
    ----------
    The "spatial" score of the EXPLORE S-Disco app (EXPLORE D4.6); positions from
    :func:`explore.astro.frames.galactic_cartesian`.
    """

    def __init__(self, k: int = 250) -> None:
        self.k = k

    def fit(self, X: Any, positions: Any, progress: Progress = None) -> SpatialWeirdness:
        X = _check_features(X)
        pos = np.asarray(getattr(positions, "value", positions), float)
        if pos.ndim != 2 or pos.shape != (X.shape[0], 3):
            raise ValueError(f"positions must have shape ({X.shape[0]}, 3); got {pos.shape}")
        has = np.isfinite(pos).all(axis=1)
        idx = np.flatnonzero(has)
        self.scores_ = np.full(X.shape[0], np.nan)
        if idx.size < 2:
            raise ValueError(f"only {idx.size} stars have a 3D position: need at least 2")
        self.k_ = _effective_k(self.k, idx.size)
        tree = cKDTree(pos[idx])
        # walk the stars in the tree's leaf order so that neighbours sit close together in memory
        order = tree.indices
        Xs = np.ascontiguousarray(X[idx][order])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        _, nbr = tree.query(pos[idx][order], k=self.k_ + 1, workers=-1)
        nbr = inverse[nbr]
        # drop each star itself (the first column unless another star sits at the same position)
        own = nbr == np.arange(nbr.shape[0])[:, None]
        no_self = ~own.any(axis=1)
        own[no_self, -1] = True
        nbr = nbr[~own].reshape(nbr.shape[0], self.k_)
        if progress is not None:
            progress(0.5)
        scores = _mean_pair_distance(Xs, nbr.astype(np.int64))
        self.scores_[idx[order]] = scores
        if progress is not None:
            progress(1.0)
        return self


# ---- random-forest dissimilarity -------------------------------------------------------------------------
def _shuffled_copy(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic data with the same marginal distribution per feature and no correlations."""
    return rng.permuted(X, axis=0)


class WeirdnessForest(BaseEstimator):
    """Unsupervised random-forest weirdness (Baron & Poznanski 2017).

    1. Synthetic data: each feature shuffled independently across objects (same marginals, no
       covariance).
    2. A random forest learns to tell real from synthetic objects.
    3. The similarity of two real objects is the fraction of trees in which they fall in the same leaf
       *and* that leaf is classified as real.
    4. The weirdness of an object is its mean dissimilarity (1 - similarity) to all N objects
       (itself included, as in the paper).

    Only the mean is needed, so instead of the N x N similarity matrix (or N x N x trees) we count, in
    each tree, how many real objects reach each leaf: the summed similarity of object i is
    ``sum_t real_t(leaf_t(i)) * count_t(leaf_t(i))``, an O(N x trees) computation.

    Parameters
    ----------
    n_trees : int
    max_features : int, float or "sqrt"
        Features tried per split (as in scikit-learn). The default, half of them, suits a few
        principal components; B&P used "sqrt" on full spectra.
    max_samples : int or None
        Training objects (real + synthetic) drawn per tree; bounding it keeps each tree fast on
        large surveys. None uses bootstrap samples of the full 2N.
    min_samples_leaf : int
    n_jobs : int or None
    random_state : int or None

    Attributes
    ----------
    scores_ : ndarray (N,)  weirdness of the training objects, in [0, 1].
    forest_ : RandomForestClassifier
    leaf_weights_ : list of ndarray  per tree, the number of real objects in each node if it is a
        leaf classified as real, else 0.
    n_fit_ : int

    References
    ----------
    Baron D. & Poznanski D., 2017, MNRAS 465, 4530, "The weirdest SDSS galaxies: results from an
    outlier detection algorithm"; Shi T. & Horvath S., 2006, J. Comp. Graph. Stat. 15, 118
    (unsupervised learning with random forest predictors); Breiman L., 2001, Machine Learning 45, 5.
    """

    def __init__(self, n_trees: int = 200, max_features: Any = 0.5, max_samples: int | None = 4096,
                 min_samples_leaf: int = 1, n_jobs: int | None = -1, random_state: int | None = None) -> None:
        self.n_trees = n_trees
        self.max_features = max_features
        self.max_samples = max_samples
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, progress: Progress = None) -> WeirdnessForest:
        X = _check_features(X)
        n = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        synthetic = _shuffled_copy(X, rng)
        train = np.concatenate([X, synthetic])
        labels = np.concatenate([np.ones(n, np.int8), np.zeros(n, np.int8)])
        del synthetic
        max_samples = None if self.max_samples is None else int(min(self.max_samples, 2 * n))
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_trees, max_features=self.max_features, max_samples=max_samples,
            min_samples_leaf=self.min_samples_leaf, n_jobs=self.n_jobs,
            random_state=int(rng.integers(2**31 - 1)),
        ).fit(train, labels)
        del train
        if progress is not None:
            progress(0.5)
        real_col = int(np.flatnonzero(self.forest_.classes_ == 1)[0])
        self.n_fit_ = n
        self.leaf_weights_ = []
        sim = np.zeros(n)

        def leaves(tree: Any) -> np.ndarray:
            return tree.tree_.apply(X)

        with ThreadPoolExecutor(max_workers=max(1, self._threads())) as pool:
            for t, (tree, leaf) in enumerate(zip(self.forest_.estimators_,
                                                 pool.map(leaves, self.forest_.estimators_), strict=True)):
                value = tree.tree_.value[:, 0, :]
                real = value[:, real_col] > value[:, 1 - real_col]
                counts = np.bincount(leaf, minlength=tree.tree_.node_count)
                weight = np.where(real, counts, 0).astype(np.float32)
                self.leaf_weights_.append(weight)
                sim += weight[leaf]
                if progress is not None and t % 20 == 19:
                    progress(0.5 + 0.5 * (t + 1) / self.n_trees)
        self.scores_ = 1.0 - sim / (n * len(self.forest_.estimators_))
        return self

    def _threads(self) -> int:
        import os

        if self.n_jobs in (None, -1):
            return os.cpu_count() or 1
        return int(self.n_jobs)

    def score_samples(self, X: Any) -> np.ndarray:
        """Weirdness of new objects: mean dissimilarity to the N objects the forest was fitted on."""
        X = _check_features(X)
        sim = np.zeros(X.shape[0])
        for tree, weight in zip(self.forest_.estimators_, self.leaf_weights_, strict=True):
            sim += weight[tree.tree_.apply(X)]
        return 1.0 - sim / (self.n_fit_ * len(self.forest_.estimators_))


def forest_weirdness_all_pairs(model: WeirdnessForest, X: Any) -> np.ndarray:
    """Reference implementation of the forest weirdness: the full N x N similarity matrix, tree by tree.

    The straightforward algorithm (as published): for each tree, compare every pair's leaves, keep
    pairs sharing a real leaf, accumulate the N x N similarity; weirdness is the row mean of
    ``1 - similarity``. Memory O(N^2): for tests and benchmarks only.
    """
    X = _check_features(X)
    n = X.shape[0]
    real_col = int(np.flatnonzero(model.forest_.classes_ == 1)[0])
    sim = np.zeros((n, n))
    for tree in model.forest_.estimators_:
        leaf = tree.tree_.apply(X)
        value = tree.tree_.value[:, 0, :]
        real = value[:, real_col] > value[:, 1 - real_col]
        same = leaf[:, None] == leaf[None, :]
        sim += same & real[leaf][:, None]
    sim /= len(model.forest_.estimators_)
    return (1.0 - sim).mean(axis=1)
