"""Cubes with known analytic content, written with plain h5py in exactly the published layout:
dataset ``explore/cube_datas`` with axes (x, y, z); attribute ``sun_position`` = the Sun's voxel index
in the order (z, x, y); attribute ``gridstep_values`` = three equal voxel sizes in pc."""

from __future__ import annotations

import pathlib
from types import SimpleNamespace

import h5py
import numpy as np
import pytest


def write_published(path: pathlib.Path, data: np.ndarray, step: float, sun_xyz: tuple[int, int, int], **kwargs) -> pathlib.Path:
    """Write ``data`` (x, y, z) the way the published cubes are stored."""
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("explore/cube_datas", data=data, **kwargs)
        ds.attrs["sun_position"] = np.array([sun_xyz[2], sun_xyz[0], sun_xyz[1]])
        ds.attrs["gridstep_values"] = np.array([step, step, step])
        ds.attrs["creation_date"] = "2022-01-01"
    return path


@pytest.fixture
def published(tmp_path):
    """A writer of cubes in the published layout into the test's temporary folder."""

    def make(name: str, data: np.ndarray, step: float, sun_xyz: tuple[int, int, int], **kwargs) -> pathlib.Path:
        return write_published(tmp_path / name, data, step, sun_xyz, **kwargs)

    return make


# ---- analytic cubes ---------------------------------------------------------------------------
UNIFORM_RHO = 1e-3  # mag/pc
SLAB_RHO = 2e-3  # mag/pc inside |z| <= SLAB_H
SLAB_H = 50.0  # pc, on a grid node
STEP = 10.0  # pc


@pytest.fixture(scope="session")
def analytic() -> SimpleNamespace:
    """The constants of the analytic cubes."""
    return SimpleNamespace(uniform_rho=UNIFORM_RHO, slab_rho=SLAB_RHO, slab_h=SLAB_H, step=STEP)


@pytest.fixture(scope="session")
def cubes(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Analytic cubes (all 10 pc voxels, Sun off-centre so that the axis order matters):

    - ``uniform``: A0 density 1e-3 mag/pc everywhere, shape (41, 31, 21), Sun at (20, 12, 8);
    - ``cubic``: rho = 1e-3 + 1e-9 * x * y * z (pc), a trilinear polynomial the grid reproduces exactly;
    - ``slab``: 2e-3 mag/pc on the nodes with |z| <= 50 pc, 0 beyond;
    - ``gauss``: a Gaussian cloud (sigma 30 pc, peak 0.02 mag/pc) centred at (200, 100, 0) pc, 5 pc voxels;
    - ``voxel``: zero except one voxel at x = +30, y = +40, z = +10 pc from the Sun (l = 53.13 deg,
      b = 11.31 deg, d = 50.99 pc), shape (9, 11, 7), Sun at (4, 5, 3).
    """
    folder = tmp_path_factory.mktemp("gtomo_cubes")
    out: dict[str, pathlib.Path] = {}
    shape, sun = (41, 31, 21), (20, 12, 8)
    out["uniform"] = write_published(folder / "uniform.h5", np.full(shape, UNIFORM_RHO, np.float32), STEP, sun)

    x, y, z = ((np.arange(n) - s) * STEP for n, s in zip(shape, sun, strict=True))
    cubic = 1e-3 + 1e-9 * x[:, None, None] * y[None, :, None] * z[None, None, :]
    out["cubic"] = write_published(folder / "cubic.h5", cubic.astype(np.float64), STEP, sun)

    slab = np.where(np.abs(z) <= SLAB_H + 1e-9, SLAB_RHO, 0.0)[None, None, :] * np.ones(shape)
    out["slab"] = write_published(folder / "slab.h5", slab, STEP, sun)

    gshape, gsun, gstep = (121, 81, 41), (20, 40, 20), 5.0
    gx, gy, gz = ((np.arange(n) - s) * gstep for n, s in zip(gshape, gsun, strict=True))
    r2 = (gx[:, None, None] - 200) ** 2 + (gy[None, :, None] - 100) ** 2 + gz[None, None, :] ** 2
    out["gauss"] = write_published(folder / "gauss.h5", 0.02 * np.exp(-r2 / (2 * 30.0**2)), gstep, gsun)

    vox = np.zeros((9, 11, 7))
    vox[4 + 3, 5 + 4, 3 + 1] = 0.5
    out["voxel"] = write_published(folder / "voxel.h5", vox, STEP, (4, 5, 3))
    return out
