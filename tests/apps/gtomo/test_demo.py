"""The demo cube: the published layout, clouds where they were put, a few seconds at full size."""

from __future__ import annotations

import numpy as np
import pytest

from explore.apps.gtomo import DustCube, extinction_to
from explore.apps.gtomo.demo import DEMO_CLOUDS, DISC_DENSITY, make_demo_cube, make_demo_targets


def test_demo_cube_is_deterministic_and_in_the_published_layout(tmp_path):
    a = make_demo_cube(tmp_path / "a.h5")
    b = make_demo_cube(tmp_path / "b.h5")
    ca, cb = DustCube.open(a), DustCube.open(b)
    np.testing.assert_array_equal(ca.values(), cb.values())
    assert ca.shape == (121, 121, 41) and ca.sun_index == (60, 60, 20) and ca.step_pc == 10.0
    assert (ca.values() >= 0).all()


def test_each_demo_cloud_adds_its_gaussian_column(tmp_path):
    cube = DustCube.open(make_demo_cube(tmp_path / "demo.h5"))
    for name, lon, lat, dist, sigma, peak in DEMO_CLOUDS:
        through = extinction_to(cube, lon, lat, dist + 4 * sigma).value
        before = extinction_to(cube, lon, lat, dist - 4 * sigma).value
        column = peak * sigma * np.sqrt(2 * np.pi)  # the Gaussian's column through its centre
        # on 10 pc voxels the trilinear field lies below the Gaussian's core by up to h^2 / (4 sigma^2)
        # (two axes across the ray, t(1-t) h^2 f''/2 each); the diffuse disc adds at most 8 sigma of it
        low = column * (1 - 10.0**2 / (4 * sigma**2))
        assert low < through - before < column * 1.01 + 8 * sigma * DISC_DENSITY, name


def test_demo_targets_include_flagged_rows(tmp_path):
    from astropy.table import Table

    table = Table.read(make_demo_targets(tmp_path / "t.csv", n=50))
    assert len(table) == 50 + len(DEMO_CLOUDS) + 2
    assert table["distance"][-2] < 0 and table["b"][-1] > 90


@pytest.mark.slow
def test_full_size_demo_cube_has_the_25pc_grid(tmp_path):
    cube = DustCube.open(make_demo_cube(tmp_path / "full.h5", grid="25pc"))
    assert cube.shape == (601, 601, 81)
    np.testing.assert_allclose(cube.extent.value, [[-3000, 3000], [-3000, 3000], [-400, 400]])
