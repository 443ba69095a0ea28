"""The demo survey, and each score ranking its injected anomalies above the bulk."""

from __future__ import annotations

import numpy as np
import pytest

from explore.apps.sdisco.demo import ANOMALY_KINDS, make_demo_survey
from explore.apps.sdisco.features import SpectralFeatures
from explore.apps.sdisco.weirdness import SpatialWeirdness, WeirdnessForest, distance_scores


@pytest.fixture(scope="module")
def survey(shared_data):
    return make_demo_survey(4000, n_anomalies=24, seed=1, include_real=False, data_dir=shared_data)


@pytest.fixture(scope="module")
def features(survey):
    return SpectralFeatures(space="pca", n_components=32, random_state=0).fit_transform(survey)


def _top_fraction(scores: np.ndarray, truth: np.ndarray, top: float = 0.02) -> float:
    rank = np.argsort(np.argsort(-np.nan_to_num(scores, nan=-np.inf))) / scores.size
    return float(np.mean(rank[truth] < top))


def test_demo_is_deterministic_and_labelled(shared_data):
    a = make_demo_survey(300, seed=4, data_dir=shared_data)
    b = make_demo_survey(300, seed=4, data_dir=shared_data)
    assert np.array_equal(a.flux, b.flux) and a.ids.tolist() == b.ids.tolist()
    assert len(a) == 300 and a.n_pixels == 1803 and a.normalised
    kinds = set(a.table["anomaly"]) - {""}
    assert kinds == set(ANOMALY_KINDS)
    real = a.table[a.table["source"] != "binspec"]
    assert len(real) == 26 and "2M05392474+4038437" in real["id"]  # 25 aspcapStar + The Payne's spectrum
    # positions came through astropy from ra/dec/parallax and agree with the true distance
    syn = a.table[a.table["source"] == "binspec"]
    d = np.sqrt(syn["x"] ** 2 + syn["y"] ** 2 + syn["z"] ** 2)
    assert np.median(np.abs(d - syn["distance"]) / syn["distance"]) < 0.1
    assert (syn["teff"] >= 4200).all() and (syn["teff"] <= 7000).all()


def test_masked_cosmic_rays_do_not_reach_the_features(survey, features):
    assert survey.mask.any(axis=1).all()
    normal = ~np.asarray(survey.table["is_anomaly"])  # emission-line stars rise above 1.6 by design
    spikes = (survey.flux[normal] > 1.6) & ~survey.mask[normal]
    assert not spikes.any()  # every injected spike is flagged
    assert np.isfinite(features).all()


def test_knn_score_puts_nearly_all_anomalies_in_the_top_2_percent(survey, features):
    truth = np.asarray(survey.table["is_anomaly"])
    out = distance_scores(features, k=50)
    assert _top_fraction(out["knn"], truth) >= 0.9
    assert _top_fraction(out["total"], truth) >= 0.6


def test_spatial_score_puts_most_anomalies_in_the_top_2_percent(survey, features):
    truth = np.asarray(survey.table["is_anomaly"])
    pos = np.column_stack([survey.table[c] for c in ("x", "y", "z")])
    scores = SpatialWeirdness(k=50).fit(features, pos).scores_
    assert _top_fraction(scores, truth) >= 0.6
    assert _top_fraction(scores, truth, 0.05) >= 0.65


def test_forest_score_puts_most_anomalies_in_the_top_2_percent(survey, features):
    truth = np.asarray(survey.table["is_anomaly"])
    scores = WeirdnessForest(n_trees=100, random_state=0).fit(features[:, :8]).scores_
    assert _top_fraction(scores, truth) >= 0.6
    assert _top_fraction(scores, truth, 0.05) >= 0.85
