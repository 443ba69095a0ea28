"""A 2D map of the feature space (UMAP), reproducible with a seed."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["SpectralEmbedding"]


class SpectralEmbedding(TransformerMixin, BaseEstimator):
    """UMAP embedding of the spectra's features (McInnes, Healy & Melville 2018, arXiv:1802.03426).

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

    Attributes
    ----------
    embedding_ : ndarray, shape (N, 2)
    umap_ : umap.UMAP
    """

    def __init__(self, n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "euclidean",
                 random_state: int | None = 0, fit_sample: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state
        self.fit_sample = fit_sample

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
        self.umap_ = umap.UMAP(
            n_neighbors=int(min(self.n_neighbors, rows.size - 1)), min_dist=self.min_dist, metric=self.metric,
            random_state=self.random_state, n_components=2,
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
        return np.asarray(self.umap_.transform(np.asarray(X, np.float32)), np.float32)
