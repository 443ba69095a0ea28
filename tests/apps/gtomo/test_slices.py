"""Planar slices and HEALPix sky maps."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.apps.gtomo.slices import (
    galactic_plane_slice,
    mollweide_image,
    plane_slice,
    sky_map,
    vertical_slice,
)


def test_galactic_plane_slice_through_the_dense_voxel(cubes):
    # the voxel is at (30, 40, 10) pc: the horizontal plane z = 10 holds it at u = x, v = y
    s = galactic_plane_slice(cubes["voxel"], z=10.0)
    np.testing.assert_allclose(s.e_u, [1, 0, 0])
    np.testing.assert_allclose(s.e_v, [0, 1, 0])
    iv, iu = np.unravel_index(np.nanargmax(s.values.value), s.values.shape)
    assert (s.u[iu].to_value(u.pc), s.v[iv].to_value(u.pc)) == (30.0, 40.0)
    assert s.values[iv, iu].to_value(u.mag / u.pc) == pytest.approx(0.5)
    assert np.nansum(s.values.value) == pytest.approx(0.5)
    # the plane at z = 0 is one voxel below: no dust at all
    assert np.nanmax(galactic_plane_slice(cubes["voxel"], z=0.0).values.value) == 0.0


def test_vertical_slice_axes_point_along_l_and_up(cubes):
    # l = 53.13 deg is the direction of (30, 40): the voxel is at u = 50 pc along it, v = z = 10 pc
    s = vertical_slice(cubes["voxel"], np.degrees(np.arctan2(40, 30)), resolution=5.0)
    np.testing.assert_allclose(s.e_v, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(s.e_u, [0.6, 0.8, 0], atol=1e-12)
    iv, iu = np.unravel_index(np.nanargmax(s.values.value), s.values.shape)
    assert s.u[iu].to_value(u.pc) == pytest.approx(50.0)
    assert s.v[iv].to_value(u.pc) == pytest.approx(10.0)
    pu, pv, off = s.locate(30.0, 40.0, 10.0)
    assert (pu, pv, off) == pytest.approx((50.0, 10.0, 0.0))


def test_slice_outside_the_cube_is_nan_and_oblique_planes_work(cubes, analytic):
    s = plane_slice(cubes["uniform"], origin=(0, 0, 0), normal=(1, 1, 1))
    inside = np.isfinite(s.values.value)
    assert inside.any() and (~inside).any()
    np.testing.assert_allclose(s.values.value[inside], analytic.uniform_rho, rtol=1e-6)
    assert abs(s.e_u @ s.normal) < 1e-12 and abs(s.e_v @ s.normal) < 1e-12


def test_bad_planes_are_refused(cubes):
    with pytest.raises(ValueError, match="non-zero 3-vector"):
        plane_slice(cubes["uniform"], normal=(0, 0, 0))
    with pytest.raises(ValueError, match="coarser resolution"):
        plane_slice(cubes["uniform"], resolution=0.01)


def test_sky_map_of_the_slab(cubes, analytic):
    h, step, rho = analytic.slab_h, analytic.step, analytic.slab_rho
    smap = sky_map(cubes["slab"], 75.0, nside=8, beyond="nan")
    lon, lat = smap.healpix.healpix_to_lonlat(np.arange(12 * 64))
    sin_b = np.abs(np.sin(lat.to_value(u.rad)))
    high = sin_b * 75.0 > h + step  # these sightlines cross the whole slab within 75 pc
    np.testing.assert_allclose(smap.a0.to_value(u.mag)[high], rho * (h + step / 2) / sin_b[high], rtol=1e-9)
    low = sin_b * 75.0 <= h
    np.testing.assert_allclose(smap.a0.to_value(u.mag)[low & (smap.flag == 0)], rho * 75.0, rtol=1e-9)


def test_sky_map_flags_pixels_beyond_the_cube_and_writes_healpix_fits(cubes, tmp_path):
    from astropy.io import fits

    smap = sky_map(cubes["uniform"], 150.0, nside=4)  # x >= -200 but y only from -120 pc
    assert (smap.flag != 0).any() and (smap.flag == 0).any()
    assert np.isnan(smap.a0[smap.flag != 0]).all()
    path = smap.write(tmp_path / "map.fits")
    with fits.open(path) as hdul:
        assert hdul[1].header["NSIDE"] == 4 and hdul[1].header["ORDERING"] == "RING"
        assert hdul[1].header["COORDSYS"] == "G"
        np.testing.assert_allclose(hdul[1].data["A0"], smap.a0.value.astype(np.float32))
    with pytest.raises(ValueError, match="power of 2"):
        sky_map(cubes["uniform"], 10.0, nside=6)
    with pytest.raises(ValueError, match="positive"):
        sky_map(cubes["uniform"], -1.0)


def test_mollweide_centre_is_the_galactic_centre_with_l_increasing_leftwards(cubes):
    # a map that is simply the longitude of each pixel
    smap = sky_map(cubes["uniform"], 10.0, nside=16)
    lon, _ = smap.healpix.healpix_to_lonlat(np.arange(smap.healpix.npix))
    smap.a0 = lon.to_value(u.deg) * u.mag
    image, inside = mollweide_image(smap, width=360)
    row = image[90]
    assert np.isnan(image[0, 0]) and not inside[0, 0]
    left, right = row[180 - 30], row[180 + 30]
    assert 0 < left < 90  # left of centre: small positive l
    assert 270 < right < 360  # right of centre: l just below 360
