"""A 2D map of the feature space (UMAP), reproducible with a seed."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["SpectralEmbedding", "exact_neighbours"]

#: up to this many pair-feature products (N^2 x D) the neighbours UMAP starts from are found exactly
EXACT_NEIGHBOUR_WORK = 2e11


def exact_neighbours(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest objects of every object, itself first, by brute force (all cores).

    Returns ``(indices, distances)``, each of shape (N, k), in the form UMAP's own search gives: each
    object is its own first neighbour at distance 0, even when it has exact duplicates.
    """
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors(X)
    rows = np.arange(len(X))
    for r in np.flatnonzero(idx[:, 0] != rows):  # a duplicate came first
        others = idx[r] != r
        idx[r] = np.concatenate([[r], idx[r][others][: k - 1]])
        dist[r] = np.concatenate([[0.0], dist[r][others][: k - 1]])
    return idx, dist.astype(np.float32)


class SpectralEmbedding(TransformerMixin, BaseEstimator):
    """UMAP embedding of the spectra's features (McInnes, Healy & Melville 2018, arXiv:1802.03426).

    UMAP starts from each object's nearest neighbours. Its own search (NNDescent) is approximate and,
    in a fresh process, spends about 20 s compiling itself; when the brute-force search costs less
    (``N^2 x D`` up to ``EXACT_NEIGHBOUR_WORK``, e.g. 50,000 objects of 32 principal components) the
    neighbours are found exactly on all cores and handed to UMAP, and only the layout optimisation runs
    on one thread (as it must for a seeded, reproducible map).

    Parameters
    ----------
    n_neighbors : int
        Size of the local neighbourhood UMAP preserves (clipped to N - 1).
    min_dist : float
        How tightly points may pack in the map.
    metric : str
    random_state : int or None
        With a seed the map is reproducible (umap-learn then runs its optimisation single-threaded).
    fit_sample : int or None
        Fit UMAP on at most this many objects (a random sample) and place the others with
        ``transform``; None fits on all.
    n_epochs : int or None
        Optimisation epochs; None lets UMAP choose (200 above 10,000 objects, 500 below). The time of
        the optimisation is proportional to it.
    neighbour_search : {"auto", "exact", "umap"}
        ``"exact"``: brute force; ``"umap"``: UMAP's own NNDescent (needed to place new objects later
        with :meth:`transform`); ``"auto"``: exact when it is cheap (see above) and every object is
        fitted.

    Attributes
    ----------
    embedding_ : ndarray, shape (N, 2)
    umap_ : umap.UMAP
    exact_neighbours_ : bool  whether UMAP started from exact neighbours.
    """

    def __init__(self, n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "euclidean",
                 random_state: int | None = 0, fit_sample: int | None = None,
                 n_epochs: int | None = None, neighbour_search: str = "auto") -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state
        self.fit_sample = fit_sample
        self.n_epochs = n_epochs
        self.neighbour_search = neighbour_search

    def fit(self, X: Any, y: Any = None) -> SpectralEmbedding:
        import umap

        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[0] < 3:
            raise ValueError(f"UMAP needs a 2D array of at least 3 objects; got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("features contain NaN: drop the objects without usable spectra first")
        n = X.shape[0]
        rows = np.arange(n)
        if self.fit_sample is not None and n > self.fit_sample:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(n, self.fit_sample, replace=False))
        k = int(min(self.n_neighbors, rows.size - 1))
        if self.neighbour_search not in ("auto", "exact", "umap"):
            raise ValueError(f"neighbour_search must be 'auto', 'exact' or 'umap', not {self.neighbour_search!r}")
        if self.neighbour_search == "exact" and (rows.size < n or self.metric != "euclidean"):
            raise ValueError("exact neighbours need metric='euclidean' and every object fitted (fit_sample=None): "
                             "they leave UMAP no search index to place the others")
        # exact neighbours leave UMAP no search index, so only when no object is placed by transform
        cheap = float(n) * n * X.shape[1] <= EXACT_NEIGHBOUR_WORK
        self.exact_neighbours_ = self.neighbour_search == "exact" or (
            self.neighbour_search == "auto" and rows.size == n and self.metric == "euclidean" and cheap)
        knn = exact_neighbours(X, k) + (None,) if self.exact_neighbours_ else (None, None, None)
        self.umap_ = umap.UMAP(
            n_neighbors=k, min_dist=self.min_dist, metric=self.metric, random_state=self.random_state,
            n_components=2, n_epochs=self.n_epochs, precomputed_knn=knn,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a seed disables parallelism
            fitted = self.umap_.fit_transform(X[rows])
            if rows.size == n:
                self.embedding_ = np.asarray(fitted, np.float32)
            else:
                self.embedding_ = np.empty((n, 2), np.float32)
                self.embedding_[rows] = fitted
                rest = np.setdiff1d(np.arange(n), rows)
                self.embedding_[rest] = self.umap_.transform(X[rest])
        return self

    def fit_transform(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X).embedding_

    def transform(self, X: Any) -> np.ndarray:
        """Place new objects on the map (needs UMAP's own neighbour search: not after exact neighbours)."""
        if getattr(self, "exact_neighbours_", False):
            raise ValueError("this map was fitted from exact neighbours, which leave UMAP no search index "
                             "to place new objects: fit with neighbour_search='umap' to place more later")
        return np.asarray(self.umap_.transform(np.asarray(X, np.float32)), np.float32)
