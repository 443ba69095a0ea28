"""Weirdness estimators against brute-force references on small data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from explore.apps.sdisco.weirdness import (
    NeighbourWeirdness,
    SpatialWeirdness,
    TotalWeirdness,
    WeirdnessForest,
    _block_pairs,
    distance_scores,
    forest_weirdness_all_pairs,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    # a curved 2D manifold in 12 dimensions plus a few points off it
    t = rng.uniform(-1, 1, (700, 2))
    basis = rng.normal(size=(6, 12))
    X = np.column_stack([t, t**2, t[:, :1] * t[:, 1:], np.sin(3 * t[:, :1])]) @ basis
    X += rng.normal(0, 0.02, X.shape)
    X[:6] += rng.normal(0, 1.5, (6, 12))
    D = cdist(X, X)
    return X.astype(np.float32), D


@pytest.mark.parametrize("block", [700, 128, 37])
def test_exact_total_and_knn_equal_brute_force(data, block):
    X, D = data
    out = distance_scores(X, k=20, block_size=block)
    np.testing.assert_allclose(out["total"], D.sum(1) / (len(X) - 1), rtol=2e-5)
    # single precision: near neighbours to a relative 1e-4
    np.testing.assert_allclose(out["knn"], np.sort(D, 1)[:, 1:21].mean(1), rtol=1e-4)


def test_scores_are_identical_on_any_number_of_threads(data):
    X, _ = data
    runs = [distance_scores(X, k=20, block_size=64, n_jobs=jobs) for jobs in (1, 2, 3)]
    for other in runs[1:]:
        assert np.array_equal(other["total"], runs[0]["total"])
        assert np.array_equal(other["knn"], runs[0]["knn"])


def test_knn_only_and_total_only_equal_brute_force(data):
    X, D = data
    knn = distance_scores(X, k=20, total=False, block_size=100)
    assert set(knn) == {"knn"}
    np.testing.assert_allclose(knn["knn"], np.sort(D, 1)[:, 1:21].mean(1), rtol=1e-4)
    tot = distance_scores(X, k=None, block_size=100)
    assert set(tot) == {"total"}
    np.testing.assert_allclose(tot["total"], D.sum(1) / (len(X) - 1), rtol=2e-5)


def test_many_candidates_in_one_block_are_merged_exactly():
    # two blocks of 900: the first off-diagonal block offers about half its 810,000 distances to the
    # column buffers, many times the room collected between two merges
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1800, 10)).astype(np.float32)
    D = cdist(X, X)
    out = distance_scores(X, k=300, block_size=900)
    np.testing.assert_allclose(out["knn"], np.sort(D, 1)[:, 1:301].mean(1), rtol=1e-4)
    np.testing.assert_allclose(out["total"], D.sum(1) / 1799, rtol=2e-5)


def test_block_pairs_cover_the_upper_triangle_in_rounds_without_shared_blocks():
    for n_blocks in (1, 2, 5, 8):
        pairs = _block_pairs(n_blocks)
        assert sorted(pairs) == [(a, b) for a in range(n_blocks) for b in range(a, n_blocks)]
        off = pairs[n_blocks:]
        per_round = max(1, n_blocks // 2)  # an odd block out sits each round out
        for r in range(0, len(off), per_round):
            blocks = [b for pair in off[r: r + per_round] for b in pair]
            assert len(blocks) == len(set(blocks))


def test_an_exception_from_progress_stops_the_pass(data):
    X, _ = data
    calls = []

    def stop(fraction):
        calls.append(fraction)
        raise KeyboardInterrupt("STOP")

    for jobs in (1, 2):
        calls.clear()
        with pytest.raises(KeyboardInterrupt, match="STOP"):
            distance_scores(X, k=20, block_size=32, n_jobs=jobs, progress=stop)
        assert len(calls) == 1


def test_progress_ends_at_one(data):
    X, _ = data
    for jobs in (1, 2):
        seen = []
        distance_scores(X, k=20, block_size=64, n_jobs=jobs, progress=seen.append)
        assert seen[-1] == 1.0 and seen == sorted(seen)


def test_estimators_match_the_kernel(data):
    X, D = data
    assert np.allclose(TotalWeirdness().fit(X).scores_, D.sum(1) / (len(X) - 1), rtol=2e-5)
    knn = NeighbourWeirdness(k=5).fit(X)
    assert knn.k_ == 5
    np.testing.assert_allclose(knn.scores_, np.sort(D, 1)[:, 1:6].mean(1), rtol=1e-4)


def test_sampled_total_error_bound_holds(data):
    X, D = data
    exact = D.sum(1) / (len(X) - 1)
    est = TotalWeirdness(method="sample", n_reference=200, random_state=1).fit(X)
    z = (est.scores_ - exact) / est.scores_error_
    assert np.mean(np.abs(z) < 3) > 0.97
    assert np.mean(np.abs(est.scores_ - exact) / exact) < 0.05
    # a sample as large as the set is the exact answer with no error
    full = TotalWeirdness(method="sample", n_reference=len(X)).fit(X)
    assert np.allclose(full.scores_, exact, rtol=2e-5) and not full.scores_error_.any()


def test_k_larger_than_the_set_is_clipped_with_a_warning(data):
    X, D = data
    with pytest.warns(UserWarning, match="k = 5000 but only 9 other objects exist: using k = 9"):
        est = NeighbourWeirdness(k=5000).fit(X[:10])
    assert est.k_ == 9
    np.testing.assert_allclose(est.scores_, D[:10, :10].sum(1) / 9, rtol=2e-5)


def test_nan_features_are_refused(data):
    X, _ = data
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 rows"):
        TotalWeirdness().fit(bad)


def test_spatial_score_equals_brute_force_and_skips_missing_positions(data):
    X, D = data
    rng = np.random.default_rng(5)
    pos = rng.normal(size=(len(X), 3))
    pos[7] = np.nan
    sw = SpatialWeirdness(k=15).fit(X, pos)
    has = np.flatnonzero(np.isfinite(pos).all(1))
    _, nb = cKDTree(pos[has]).query(pos[has], 16)
    expected = np.array([D[has[i], has[nb[i, 1:]]].mean() for i in range(has.size)])
    assert np.isnan(sw.scores_[7])
    np.testing.assert_allclose(sw.scores_[has], expected, rtol=1e-5)


def test_forest_score_equals_the_all_pairs_reference(data):
    X, _ = data
    model = WeirdnessForest(n_trees=30, random_state=0).fit(X)
    reference = forest_weirdness_all_pairs(model, X)
    np.testing.assert_allclose(model.scores_, reference, atol=1e-12)
    np.testing.assert_allclose(model.score_samples(X), model.scores_, atol=1e-12)
    assert model.scores_.min() >= 0 and model.scores_.max() <= 1


def test_forest_finds_points_off_the_manifold(data):
    X, _ = data
    model = WeirdnessForest(n_trees=100, random_state=0).fit(X)
    top = np.argsort(-model.scores_)[:20]
    assert len(set(range(6)) & set(top)) >= 5


def test_forest_is_reproducible_with_a_seed(data):
    X, _ = data
    a = WeirdnessForest(n_trees=20, random_state=7).fit(X).scores_
    b = WeirdnessForest(n_trees=20, random_state=7).fit(X).scores_
    assert np.array_equal(a, b)


def test_no_warning_when_k_fits(data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NeighbourWeirdness(k=10).fit(X)
