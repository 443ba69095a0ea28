"""DustCube reads the published layout: axis order, the Sun's (z, x, y) index, extent, memory mapping,
and refuses files that are not cubes with a message naming the problem."""

from __future__ import annotations

import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.coordinates import Galactic

from explore.apps.gtomo.cube import CubeFormatError, DustCube, galactic_to_xyz, write_cube, xyz_to_galactic
from explore.apps.gtomo.raytrace import sample_points


def test_sun_position_is_read_in_z_x_y_order(cubes):
    cube = DustCube.open(cubes["voxel"])
    # the file stores [z, x, y] = [3, 4, 5]; the array order is (x, y, z)
    assert cube.sun_index == (4, 5, 3)
    assert cube.shape == (9, 11, 7)
    assert cube.step == 10 * u.pc
    np.testing.assert_allclose(cube.extent.to_value(u.pc), [[-40, 40], [-50, 50], [-30, 30]])
    x, y, z = cube.axes
    assert x[4] == 0 * u.pc and y[5] == 0 * u.pc and z[3] == 0 * u.pc
    assert cube.unit == u.mag / u.pc


def test_single_dense_voxel_lies_at_its_galactic_position(cubes):
    cube = DustCube.open(cubes["voxel"])
    # the voxel 3, 4, 1 steps from the Sun along x, y, z: (30, 40, 10) pc
    l_deg, b_deg, d_pc = (float(v) for v in xyz_to_galactic(30.0, 40.0, 10.0))
    assert l_deg == pytest.approx(53.130102, abs=1e-5)
    assert b_deg == pytest.approx(11.309932, abs=1e-5)
    assert d_pc == pytest.approx(np.sqrt(2600.0))
    # sampling at that (l, b, d) finds the voxel's value; mirrored directions find nothing
    for lon, lat, expected in [(l_deg, b_deg, 0.5), (-l_deg, b_deg, 0.0), (l_deg, -b_deg, 0.0), (l_deg + 180, b_deg, 0.0)]:
        pos = cube.to_index(*galactic_to_xyz(lon, lat, d_pc))
        value = float(sample_points(cube.values(), *pos))
        assert value == pytest.approx(expected, abs=1e-12), (lon, lat)


def test_galactic_to_xyz_matches_astropy():
    l_deg = np.array([0.0, 90.0, 200.0, 321.5])
    b_deg = np.array([0.0, 0.0, -30.0, 75.0])
    d = np.array([100.0, 250.0, 1000.0, 42.0])
    ref = Galactic(l=l_deg * u.deg, b=b_deg * u.deg, distance=d * u.pc).cartesian
    x, y, z = galactic_to_xyz(l_deg, b_deg, d)
    np.testing.assert_allclose(x, ref.x.to_value(u.pc), atol=1e-9)
    np.testing.assert_allclose(y, ref.y.to_value(u.pc), atol=1e-9)
    np.testing.assert_allclose(z, ref.z.to_value(u.pc), atol=1e-9)
    l2, b2, d2 = xyz_to_galactic(x, y, z)
    np.testing.assert_allclose(l2, l_deg, atol=1e-9)
    np.testing.assert_allclose(b2, b_deg, atol=1e-9)
    np.testing.assert_allclose(d2, d)


def test_contiguous_cube_is_memory_mapped_and_chunked_cube_is_read(cubes, published):
    assert isinstance(DustCube.open(cubes["uniform"]).values(), np.memmap)
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = published("chunked.h5", data, 10.0, (1, 2, 3), chunks=(2, 5, 6), compression="gzip")
    cube = DustCube.open(path)
    assert not isinstance(cube.values(), np.memmap)
    np.testing.assert_array_equal(cube.values(), data)
    np.testing.assert_array_equal(cube.subcube(slice(1, 3), slice(0, 2), slice(4, 6)), data[1:3, 0:2, 4:6])


def test_big_endian_cube_is_read_as_native(published):
    data = np.linspace(0, 1, 2 * 3 * 4).reshape(2, 3, 4).astype(">f4")
    cube = DustCube.open(published("be.h5", data, 5.0, (0, 1, 2)))
    assert cube.values().dtype.isnative
    np.testing.assert_allclose(cube.values(), data.astype("f4"))


def test_write_cube_round_trips_the_published_layout(tmp_path):
    data = np.random.default_rng(0).random((5, 6, 7)).astype(np.float32)
    path = write_cube(tmp_path / "c.h5", data, 20 * u.pc, (1, 2, 3))
    with h5py.File(path) as h5:
        ds = h5["explore/cube_datas"]
        assert list(ds.attrs["sun_position"]) == [3, 1, 2]
        assert list(ds.attrs["gridstep_values"]) == [20.0, 20.0, 20.0]
    cube = DustCube.open(path)
    assert cube.sun_index == (1, 2, 3)
    np.testing.assert_array_equal(cube.values(), data)


def test_error_cube_kind_is_guessed_from_the_published_name(published):
    data = np.ones((3, 3, 3), np.float32)
    assert DustCube.open(published("explore_cube_extinct_errors_050pc_v2.h5", data, 20.0, (1, 1, 1))).kind == "extinction_error"
    dens_err = DustCube.open(published("explore_cube_density_errors_050pc_v2.h5", data, 20.0, (1, 1, 1)))
    assert dens_err.kind == "density_error"
    assert DustCube.open(published("explore_cube_extinct_errors_050pc_v2.h5", data, 20.0, (1, 1, 1))).unit == u.mag


# ---- bad input ----------------------------------------------------------------------------------
def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "cube.h5"
    path.write_text("l,b,distance\n1,2,3\n")
    with pytest.raises(CubeFormatError, match="not an HDF5 file"):
        DustCube.open(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        DustCube.open(tmp_path / "nope.h5")


def test_hdf5_without_the_dataset_lists_what_it_has(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["stilism/cube_datas"] = np.zeros((2, 2, 2))
    with pytest.raises(CubeFormatError, match="explore/cube_datas.*stilism/cube_datas"):
        DustCube.open(path)


@pytest.mark.parametrize("missing", ["sun_position", "gridstep_values"])
def test_missing_attribute_is_named(tmp_path, missing):
    path = tmp_path / "noattr.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("explore/cube_datas", data=np.zeros((3, 3, 3)))
        for name, value in (("sun_position", [1, 1, 1]), ("gridstep_values", [10.0, 10.0, 10.0])):
            if name != missing:
                ds.attrs[name] = value
    with pytest.raises(CubeFormatError, match=missing):
        DustCube.open(path)


def test_sun_outside_the_array_is_refused(published):
    with pytest.raises(CubeFormatError, match="outside the data array"):
        DustCube.open(published("sun.h5", np.zeros((3, 4, 5)), 10.0, (1, 9, 1)))


def test_two_dimensional_dataset_is_refused(tmp_path):
    path = tmp_path / "flat.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("explore/cube_datas", data=np.zeros((3, 3)))
        ds.attrs["sun_position"] = [1, 1, 1]
        ds.attrs["gridstep_values"] = [10.0, 10.0, 10.0]
    with pytest.raises(CubeFormatError, match="3D"):
        DustCube.open(path)


def test_unequal_grid_steps_are_refused(tmp_path):
    path = tmp_path / "steps.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("explore/cube_datas", data=np.zeros((3, 3, 3)))
        ds.attrs["sun_position"] = [1, 1, 1]
        ds.attrs["gridstep_values"] = [10.0, 10.0, 20.0]
    with pytest.raises(CubeFormatError, match="not equal"):
        DustCube.open(path)
