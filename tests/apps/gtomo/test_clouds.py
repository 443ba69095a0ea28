"""Cloud detection on a cube with two known clouds."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.apps.gtomo.clouds import CloudFinder, find_clouds


@pytest.fixture(scope="module")
def two_clouds(tmp_path_factory):
    from explore.apps.gtomo.cube import write_cube

    shape, sun, step = (61, 61, 21), (30, 30, 10), 10.0
    x, y, z = ((np.arange(n) - s) * step for n, s in zip(shape, sun, strict=True))
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    big = 0.03 * np.exp(-((X - 150) ** 2 + (Y - 50) ** 2 + Z**2) / (2 * 25.0**2))
    small = 0.02 * np.exp(-((X + 100) ** 2 + (Y + 200) ** 2 + (Z - 20) ** 2) / (2 * 15.0**2))
    path = tmp_path_factory.mktemp("clouds") / "two.h5"
    return write_cube(path, big + small, step, sun), big, small, step


def test_two_clouds_are_found_with_their_positions_and_masses(two_clouds):
    path, big, small, step = two_clouds
    finder = CloudFinder(threshold=0.002, min_cluster_size=5).fit(path)
    clouds = finder.clouds_
    assert len(clouds) == 2
    first, second = clouds[0], clouds[1]  # sorted by mass proxy
    assert (first["x"], first["y"], first["z"]) == pytest.approx((150, 50, 0), abs=1.0)
    assert (second["x"], second["y"], second["z"]) == pytest.approx((-100, -200, 20), abs=1.0)
    # mass proxy: the sum of density x voxel volume over the voxels above the threshold
    assert first["mass_proxy"] == pytest.approx(big[big > 0.002].sum() * step**3, rel=1e-6)
    assert clouds["mass_proxy"].unit == u.mag * u.pc**2
    assert first["distance"] == pytest.approx(np.hypot(150, 50), abs=1.0)
    assert first["l"] == pytest.approx(np.degrees(np.arctan2(50, 150)), abs=0.5)
    assert second["peak_density"] == pytest.approx(0.02, rel=0.05)
    assert first["hull_volume"] > 0 and finder.hulls_[0].shape[1] == 3
    assert set(np.unique(finder.labels_)) <= {-1, 0, 1}


def test_threshold_above_everything_finds_nothing(two_clouds):
    assert len(find_clouds(two_clouds[0], 1.0)) == 0


def test_too_many_voxels_and_bad_regions_are_refused(two_clouds):
    with pytest.raises(ValueError, match="raise the threshold"):
        CloudFinder(threshold=0.0, max_voxels=1000).fit(two_clouds[0])
    with pytest.raises(ValueError, match="does not overlap"):
        CloudFinder(threshold=0.002, region=[(5000, 6000), (0, 10), (0, 10)]).fit(two_clouds[0])


def test_region_restricts_the_search(two_clouds):
    clouds = find_clouds(two_clouds[0], 0.002, min_cluster_size=20, region=[(0, 300), (-100, 200), (-100, 100)])
    assert len(clouds) == 1 and clouds["x"][0] == pytest.approx(150, abs=1)
