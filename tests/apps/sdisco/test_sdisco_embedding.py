"""The UMAP map: exact starting neighbours, reproducibility, and the sampled fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from explore.apps.sdisco.embedding import SpectralEmbedding, exact_neighbours


def test_exact_neighbours_equal_a_full_sort_with_each_object_first():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    X[10] = X[11] = X[12]  # triplets: any of them could come first
    idx, dist = exact_neighbours(X, 8)
    assert idx.shape == dist.shape == (300, 8) and dist.dtype == np.float32
    np.testing.assert_array_equal(idx[:, 0], np.arange(300))
    assert not dist[:, 0].any()
    D = cdist(X, X)
    np.fill_diagonal(D, -1)  # itself first
    np.testing.assert_allclose(dist, np.sort(D, 1)[:, :8].clip(0), atol=2e-6)
    # the twins of object 10 are its next two neighbours, at distance 0
    assert set(idx[10, 1:3]) == {11, 12} and not dist[10, :3].any()


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 8, (3, 10))
    labels = np.repeat(np.arange(3), 150)
    return (centres[labels] + rng.normal(0, 1, (450, 10))).astype(np.float32), labels


def _separated(embedding: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of objects whose nearest object on the map has their label."""
    d = cdist(embedding, embedding)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(1)] == labels))


@pytest.mark.slow
def test_map_from_exact_neighbours_separates_clusters_and_is_reproducible(blobs):
    X, labels = blobs
    a = SpectralEmbedding(n_neighbors=10, random_state=3)
    b = SpectralEmbedding(n_neighbors=10, random_state=3)
    ea, eb = a.fit_transform(X), b.fit_transform(X)
    assert a.exact_neighbours_ and ea.shape == (450, 2)
    assert np.array_equal(ea, eb)
    assert _separated(ea, labels) == 1.0
    with pytest.raises(ValueError, match="neighbour_search='umap'"):
        a.transform(X[:5])


@pytest.mark.slow
def test_sampled_fit_uses_umaps_search_and_places_the_rest(blobs):
    X, labels = blobs
    emb = SpectralEmbedding(n_neighbors=10, random_state=1, fit_sample=300)
    e = emb.fit_transform(X)
    assert not emb.exact_neighbours_ and np.isfinite(e).all()
    assert _separated(e, labels) > 0.98
    np.testing.assert_allclose(emb.transform(X[:3]).shape, (3, 2))


def test_bad_neighbour_search_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="must be 'auto', 'exact' or 'umap'"):
        SpectralEmbedding(neighbour_search="fast").fit(X)
    with pytest.raises(ValueError, match="every object fitted"):
        SpectralEmbedding(neighbour_search="exact", fit_sample=100).fit(X)
