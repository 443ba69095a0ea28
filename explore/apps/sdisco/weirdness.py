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
upper triangle of the distance matrix: float32 matrix products (BLAS) give ``x_i . x_j``, and a numba
kernel turns each block into distances, adds them to both objects' sums and keeps each object's
``k`` smallest in a bounded buffer. Nothing of size N x N is ever stored.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier

from explore.apps.sdisco.quickselect import quickselect

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
@numba.njit(cache=True, fastmath=True)
def _push(buf: np.ndarray, cnt: np.ndarray, tau: np.ndarray, i: int, d2: float, k: int) -> None:
    c = cnt[i]
    buf[i, c] = d2
    c += 1
    if c == buf.shape[1]:
        row = buf[i]
        quickselect(row, 0, c, k - 1)
        tau[i] = row[k - 1]
        c = k
    cnt[i] = c


@numba.njit(parallel=True, cache=True, fastmath=True)
def _rows_pass(G, ni, nj, i0, j0, same, rowsum, buf, cnt, tau, k):  # noqa: ANN001
    """Rows of block I against columns of block J: sums and k-smallest buffers of the I objects."""
    b1, b2 = G.shape
    two = np.float32(2.0)
    zero = np.float32(0.0)
    for a in numba.prange(b1):
        i = i0 + a
        na = ni[a]
        d2 = np.empty(b2, np.float32)
        s = np.float32(0.0)
        for b in range(b2):  # vectorised: no branches
            v = max(na + nj[b] - two * G[a, b], zero)
            d2[b] = v
            s += np.sqrt(v)
        if same:
            s -= np.sqrt(d2[a])
            d2[a] = np.inf
        rowsum[i] += s
        if k > 0:
            t = tau[i]
            for b in range(b2):
                if d2[b] < t:
                    _push(buf, cnt, tau, i, d2[b], k)
                    t = tau[i]


@numba.njit(parallel=True, cache=True, fastmath=True)
def _cols_pass(G, ni, nj, i0, j0, rowsum, buf, cnt, tau, k):  # noqa: ANN001
    """Columns of block J against rows of block I (the transposed half), read in row-major tiles."""
    b1, b2 = G.shape
    tile = 64
    two = np.float32(2.0)
    zero = np.float32(0.0)
    n_tiles = (b2 + tile - 1) // tile
    for t_idx in numba.prange(n_tiles):
        c0 = t_idx * tile
        c1 = min(b2, c0 + tile)
        w = c1 - c0
        sums = np.zeros(w, np.float32)
        d2 = np.empty(w, np.float32)
        thr = np.empty(w, np.float32)
        for b in range(w):
            thr[b] = tau[j0 + c0 + b] if k > 0 else np.float32(-1.0)
        for a in range(b1):
            na = ni[a]
            hit = False
            for b in range(w):  # vectorised: no branches
                v = max(na + nj[c0 + b] - two * G[a, c0 + b], zero)
                d2[b] = v
                sums[b] += np.sqrt(v)
                hit |= v < thr[b]
            if hit:
                for b in range(w):
                    if d2[b] < thr[b]:
                        j = j0 + c0 + b
                        _push(buf, cnt, tau, j, d2[b], k)
                        thr[b] = tau[j]
        for b in range(w):
            rowsum[j0 + c0 + b] += sums[b]


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


def _initial_threshold(X: np.ndarray, norms: np.ndarray, k: int, block_size: int) -> np.ndarray:
    """An upper bound on each object's k-th smallest squared distance: the k-th smallest over a random
    reference sample (a subset's k-th smallest can only be larger). Starting from it, the selection
    buffers see few candidates from the first block on, so they are rarely compacted."""
    n = X.shape[0]
    m = min(n, max(8 * k, 2048))
    if m >= n:
        return np.full(n, np.inf, np.float32)
    ref = np.sort(np.random.default_rng(12345).choice(n, m, replace=False))
    R, nR = X[ref], norms[ref]
    out = np.empty(n, np.float32)
    for start in range(0, n, block_size):
        stop = min(n, start + block_size)
        d2 = nR[None, :] + norms[start:stop, None] - np.float32(2.0) * (X[start:stop] @ R.T)
        rows = np.arange(start, stop)
        pos = np.searchsorted(ref, rows)
        own = (pos < m) & (ref[np.minimum(pos, m - 1)] == rows)
        d2[np.flatnonzero(own), pos[own]] = np.inf
        # the k-th smallest of the others; the bound needs k of them, hence rank k (0-based k - 1)
        out[start:stop] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    # a hair above, so that float rounding never drops a true neighbour
    return np.nextafter(out * np.float32(1 + 1e-5), np.float32(np.inf))


def distance_scores(
    X: Any,
    *,
    k: int | None = 250,
    total: bool = True,
    block_size: int = 2048,
    progress: Progress = None,
) -> dict[str, np.ndarray]:
    """Exact mean distance to all others and to the ``k`` nearest neighbours, in one blocked pass.

    Parameters
    ----------
    X : array, shape (N, D)
        Features (float32 is used inside; the data are centred first, which leaves distances unchanged
        and keeps the ``|x|^2 + |y|^2 - 2 x.y`` form accurate in single precision).
    k : int or None
        Neighbours for the k-NN score; None skips it. Clipped to ``N - 1`` with a warning.
    total : bool
        Whether to return the total score (it costs nothing extra once the block is computed).
    block_size : int
        Objects per block; the work is ``(N / block_size)^2 / 2`` matrix products.
    progress : callable(fraction), optional
        Called after each row of blocks (the app's STOP takes effect there).

    Returns
    -------
    dict with ``"total"`` (mean distance to the N - 1 others) and/or ``"knn"`` (mean distance to the
    k nearest), each an ndarray of shape (N,).
    """
    X = _check_features(X)
    n = X.shape[0]
    X = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    norms = np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(np.float32)
    kk = 0 if k is None else _effective_k(k, n)
    # a wider buffer means fewer compactions (each a quickselect); bounded to ~256 MB in all
    cap = kk + max(kk, min(1024, 2**26 // n)) if kk else 1
    buf = np.empty((n if kk else 1, cap), np.float32)
    cnt = np.zeros(n if kk else 1, np.int64)
    tau = np.full(n if kk else 1, np.inf, np.float32)
    rowsum = np.zeros(n)
    if kk:
        tau[:] = _initial_threshold(X, norms, kk, block_size)
    starts = list(range(0, n, block_size))
    total_blocks = len(starts) * (len(starts) + 1) // 2
    done = 0
    for bi, i0 in enumerate(starts):
        i1 = min(n, i0 + block_size)
        XI, nI = X[i0:i1], norms[i0:i1]
        for j0 in starts[bi:]:
            j1 = min(n, j0 + block_size)
            G = XI @ X[j0:j1].T
            same = j0 == i0
            _rows_pass(G, nI, norms[j0:j1], i0, j0, same, rowsum, buf, cnt, tau, kk)
            if not same:
                _cols_pass(G, nI, norms[j0:j1], i0, j0, rowsum, buf, cnt, tau, kk)
            done += 1
        if progress is not None:
            progress(done / total_blocks)
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

    def __init__(self, method: str = "exact", n_reference: int = 4096, block_size: int = 2048,
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

    def __init__(self, k: int = 250, block_size: int = 2048) -> None:
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
