"""The published 3D dust cubes: reading, writing, frame and extent.

The cubes of Lallement et al. (2022) and Vergely et al. (2022) are HDF5 files with one dataset,
``explore/cube_datas``, holding the extinction density A0(550 nm) in mag/pc (or, for the error cubes,
its uncertainty, or the uncertainty of the extinction integrated from the Sun). The array axes are
(x, y, z) in a Sun-centred Galactic Cartesian frame: x towards the Galactic centre (l = 0, b = 0), y along
the Galactic rotation (l = 90 deg), z towards the north Galactic pole. Two attributes fix the grid:

``sun_position``
    the Sun's voxel index in the order (z, x, y) (the original loader rotates it to (x, y, z));
``gridstep_values``
    the voxel size in pc (three equal values in every published cube).

Voxel ``(i, j, k)`` is centred on ``((i - i_sun) * step, (j - j_sun) * step, (k - k_sun) * step)`` pc,
and the density between voxel centres is the trilinear interpolation of the eight neighbours, as in the
original G-Tomo app.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from typing import Any, Literal

import astropy.units as u
import h5py
import numpy as np

__all__ = [
    "DATASET",
    "PUBLISHED_GRIDS",
    "CubeFormatError",
    "CubeKind",
    "DustCube",
    "galactic_to_xyz",
    "xyz_to_galactic",
    "write_cube",
]

#: the dataset path of the published cubes
DATASET = "explore/cube_datas"

CubeKind = Literal["density", "density_error", "extinction_error"]

#: the grids of the published cubes (file name -> shape (x, y, z) and step in pc), from the
#: ``infocubes`` description shipped with the original G-Tomo app.
PUBLISHED_GRIDS: dict[str, dict[str, Any]] = {
    "explore_cube_density_values_050pc_v2.h5": {"shape": (501, 501, 41), "step": 20.0},
    "explore_cube_density_values_025pc_v2.h5": {"shape": (601, 601, 81), "step": 10.0},
    "explore_cube_density_values_010pc_v2.h5": {"shape": (601, 601, 161), "step": 5.0},
    "explore_cube_density_values_005pc_v2.h5": {"shape": (641, 641, 321), "step": 2.5},
    "explore_cube_density_errors_050pc_v2.h5": {"shape": (501, 501, 41), "step": 20.0},
    "explore_cube_extinct_errors_050pc_v2.h5": {"shape": (501, 501, 41), "step": 20.0},
    "explore_cube_density_values_050pc_v1.h5": {"shape": (501, 501, 41), "step": 20.0},
    "explore_cube_density_values_025pc_v1.h5": {"shape": (601, 601, 81), "step": 10.0},
    "explore_cube_density_errors_050pc_v1.h5": {"shape": (501, 501, 41), "step": 20.0},
    "explore_cube_extinct_errors_050pc_v1.h5": {"shape": (501, 501, 41), "step": 20.0},
}

_UNITS: dict[str, u.UnitBase] = {
    "density": u.mag / u.pc,
    "density_error": u.mag / u.pc,
    "extinction_error": u.mag,
}


class CubeFormatError(ValueError):
    """A file is not a dust cube in the published layout (or its attributes are inconsistent)."""


def galactic_to_xyz(l_deg: Any, b_deg: Any, distance_pc: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heliocentric Galactic Cartesian coordinates (pc) of Galactic (l, b, distance).

    The same as astropy's ``Galactic(l, b, distance).cartesian`` (x to l = 0, y to l = 90 deg, z to
    b = 90 deg), written with NumPy so that a million targets take milliseconds.

    Parameters
    ----------
    l_deg, b_deg : array_like
        Galactic longitude and latitude in degrees.
    distance_pc : array_like
        Distance from the Sun in pc.

    Returns
    -------
    x, y, z : numpy.ndarray
        Coordinates in pc.
    """
    l_rad = np.radians(np.asarray(l_deg, dtype=float))
    b_rad = np.radians(np.asarray(b_deg, dtype=float))
    d = np.asarray(distance_pc, dtype=float)
    cos_b = np.cos(b_rad)
    return d * cos_b * np.cos(l_rad), d * cos_b * np.sin(l_rad), d * np.sin(b_rad)


def xyz_to_galactic(x: Any, y: Any, z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Galactic (l in [0, 360), b, distance) of heliocentric Cartesian coordinates in pc."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = np.asarray(z, dtype=float)
    d = np.sqrt(x * x + y * y + z * z)
    l_deg = np.degrees(np.arctan2(y, x)) % 360.0
    with np.errstate(invalid="ignore", divide="ignore"):
        b_deg = np.where(d > 0, np.degrees(np.arcsin(np.clip(z / np.where(d > 0, d, 1), -1, 1))), 0.0)
    return l_deg, b_deg, d


def _guess_kind(path: pathlib.Path) -> CubeKind:
    name = path.name.lower()
    if "extinct_error" in name or "extinction_error" in name:
        return "extinction_error"
    if "density_error" in name or "errors" in name:
        return "density_error"
    return "density"


class DustCube:
    """A 3D dust-extinction cube on a regular Sun-centred Galactic Cartesian grid.

    Parameters
    ----------
    data : numpy.ndarray
        The values, shape (nx, ny, nz), axes (x, y, z). A ``numpy.memmap`` is used as is.
    step : float or Quantity
        Voxel size (pc if a plain number).
    sun_index : tuple of 3 int
        The Sun's voxel index in the order (x, y, z).
    kind : {"density", "density_error", "extinction_error"}
        What the values are: the extinction density A0 (mag/pc), its error (mag/pc), or the error of the
        extinction integrated from the Sun to the voxel (mag).
    attrs : mapping, optional
        Other attributes of the file (kept for provenance).
    path : path-like, optional
        The file the cube was read from.

    Notes
    -----
    Use :meth:`open` to read a published file; it memory-maps the data when the HDF5 dataset is stored
    contiguously and uncompressed (as the published cubes are), so opening a 500 MB cube is instant and
    only the voxels a computation touches are read from disk.

    Examples
    --------
    >>> cube = DustCube.open("explore_cube_density_values_025pc_v2.h5")   # doctest: +SKIP
    >>> cube.shape, cube.step
    ((601, 601, 81), <Quantity 10. pc>)
    """

    def __init__(
        self,
        data: np.ndarray,
        step: float | u.Quantity,
        sun_index: tuple[int, int, int],
        *,
        kind: CubeKind = "density",
        attrs: Mapping[str, Any] | None = None,
        path: str | pathlib.Path | None = None,
    ) -> None:
        data = data if isinstance(data, np.memmap) else np.asarray(data)
        if data.ndim != 3:
            raise CubeFormatError(f"a dust cube needs a 3D array (x, y, z); got {data.ndim} dimensions")
        if min(data.shape) < 2:
            raise CubeFormatError(f"a dust cube needs at least 2 voxels along each axis; got shape {data.shape}")
        if not np.issubdtype(data.dtype, np.floating):
            raise CubeFormatError(f"cube values must be floating point; got {data.dtype}")
        step_pc = float(u.Quantity(step, u.pc).value)
        if not np.isfinite(step_pc) or step_pc <= 0:
            raise CubeFormatError(f"grid step must be a positive number of pc; got {step_pc}")
        sun = tuple(int(s) for s in sun_index)
        if len(sun) != 3 or any(not 0 <= s < n for s, n in zip(sun, data.shape, strict=True)):
            raise CubeFormatError(
                f"the Sun's voxel index (x, y, z) = {sun} lies outside the data array of shape {data.shape}"
            )
        if kind not in _UNITS:
            raise ValueError(f"kind must be one of {sorted(_UNITS)}; got {kind!r}")
        self.data = data
        self._step = step_pc
        self.sun_index: tuple[int, int, int] = sun  # type: ignore[assignment]
        self.kind: CubeKind = kind
        self.attrs = dict(attrs or {})
        self.path = pathlib.Path(path) if path is not None else None
        self._h5: h5py.File | None = None

    # ---- reading ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | pathlib.Path,
        *,
        kind: CubeKind | Literal["auto"] = "auto",
        memmap: bool = True,
    ) -> DustCube:
        """Open a cube written in the published HDF5 layout.

        Parameters
        ----------
        path : path-like
            The ``.h5`` file.
        kind : {"auto", "density", "density_error", "extinction_error"}
            What the values are; ``"auto"`` guesses from the published file names
            (``..._density_errors_...``, ``..._extinct_errors_...``, else density).
        memmap : bool
            Memory-map the data when the dataset is contiguous, uncompressed and native-endian;
            otherwise (or if False) the array is read into memory.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        CubeFormatError
            If the file is not HDF5, lacks ``explore/cube_datas`` or its attributes, or the attributes
            do not fit the array.
        """
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"dust cube {str(path)!r} does not exist")
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise CubeFormatError(
                f"{path.name} is not an HDF5 file, so not a published dust cube ({exc})"
            ) from exc
        try:
            if DATASET not in h5:
                found: list[str] = []
                h5.visit(lambda name: found.append(name) if isinstance(h5[name], h5py.Dataset) else None)
                raise CubeFormatError(
                    f"{path.name} has no dataset {DATASET!r} (the published cubes store A0 density there); "
                    f"datasets found: {found or 'none'}"
                )
            ds = h5[DATASET]
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 3:
                raise CubeFormatError(f"{path.name}: {DATASET!r} must be a 3D dataset; got {getattr(ds, 'shape', ds)}")
            attrs = {key: _plain(value) for key, value in ds.attrs.items()}
            missing = [name for name in ("sun_position", "gridstep_values") if name not in attrs]
            if missing:
                raise CubeFormatError(
                    f"{path.name}: dataset {DATASET!r} lacks the attribute(s) {', '.join(missing)}; "
                    "the published cubes give the Sun's voxel index (z, x, y) in 'sun_position' and the "
                    "voxel size in pc in 'gridstep_values'"
                )
            sun_zxy = np.atleast_1d(np.asarray(attrs["sun_position"], dtype=float)).ravel()
            if sun_zxy.size != 3 or not np.all(np.isfinite(sun_zxy)) or np.any(sun_zxy != np.round(sun_zxy)):
                raise CubeFormatError(
                    f"{path.name}: 'sun_position' must hold three voxel indices (z, x, y); got {attrs['sun_position']!r}"
                )
            steps = np.atleast_1d(np.asarray(attrs["gridstep_values"], dtype=float)).ravel()
            if steps.size not in (1, 3) or not np.all(np.isfinite(steps)) or np.any(steps <= 0):
                raise CubeFormatError(
                    f"{path.name}: 'gridstep_values' must be one or three positive voxel sizes in pc; got {attrs['gridstep_values']!r}"
                )
            if not np.allclose(steps, steps[0], rtol=1e-6):
                raise CubeFormatError(
                    f"{path.name}: 'gridstep_values' = {steps.tolist()} are not equal; the published cubes have "
                    "cubic voxels and G-Tomo supports only those"
                )
            # published order (z, x, y) -> array order (x, y, z)
            sun_xyz = (int(sun_zxy[1]), int(sun_zxy[2]), int(sun_zxy[0]))
            data = _map_or_read(path, ds) if memmap else None
            if data is None:
                data = ds[...]
                if not data.dtype.isnative:
                    data = data.astype(data.dtype.newbyteorder("="))
            chosen: CubeKind = _guess_kind(path) if kind == "auto" else kind
            cube = cls(data, float(steps[0]), sun_xyz, kind=chosen, attrs=attrs, path=path)
        except CubeFormatError:
            h5.close()
            raise
        h5.close()
        return cube

    # ---- geometry ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along (x, y, z)."""
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def step(self) -> u.Quantity:
        """Voxel size."""
        return self._step * u.pc

    @property
    def step_pc(self) -> float:
        """Voxel size in pc, as a float (for array code)."""
        return self._step

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the values: mag/pc for densities, mag for integrated-extinction errors."""
        return _UNITS[self.kind]

    @property
    def axes(self) -> tuple[u.Quantity, u.Quantity, u.Quantity]:
        """Voxel-centre coordinates along x, y and z."""
        return tuple(
            (np.arange(n) - s) * self._step * u.pc for n, s in zip(self.shape, self.sun_index, strict=True)
        )  # type: ignore[return-value]

    @property
    def extent(self) -> u.Quantity:
        """``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]``: the volume where the field is defined."""
        lo = -np.asarray(self.sun_index, dtype=float) * self._step
        hi = (np.asarray(self.shape) - 1 - np.asarray(self.sun_index)) * self._step
        return np.stack([lo, hi], axis=1) * u.pc

    def contains(self, x: Any, y: Any, z: Any, *, tolerance: float = 1e-9) -> np.ndarray:
        """Whether heliocentric positions (pc) lie inside the cube (its faces included)."""
        ext = self.extent.to_value(u.pc)
        tol = tolerance * self._step
        inside = np.ones(np.broadcast(x, y, z).shape, dtype=bool)
        for coord, (lo, hi) in zip((x, y, z), ext, strict=True):
            c = np.asarray(coord, dtype=float)
            inside &= (c >= lo - tol) & (c <= hi + tol)
        return inside

    def to_index(self, x: Any, y: Any, z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fractional voxel indices (array order) of heliocentric positions in pc."""
        return tuple(
            np.asarray(c, dtype=float) / self._step + s for c, s in zip((x, y, z), self.sun_index, strict=True)
        )  # type: ignore[return-value]

    def voxel_volume(self) -> u.Quantity:
        """The volume of one voxel."""
        return (self._step * u.pc) ** 3

    def values(self) -> np.ndarray:
        """The values as a native-endian array (a memory map when the file allows)."""
        return self.data

    def subcube(self, xs: slice, ys: slice, zs: slice) -> np.ndarray:
        """A copy of a block of voxels (read from disk only for that block when memory-mapped)."""
        return np.array(self.data[xs, ys, zs])

    def __repr__(self) -> str:
        where = f" from {self.path.name}" if self.path else ""
        ext = self.extent.to_value(u.pc)
        return (
            f"<DustCube {self.kind} {self.shape[0]}x{self.shape[1]}x{self.shape[2]} at {self._step:g} pc, "
            f"x {ext[0, 0]:g}..{ext[0, 1]:g}, y {ext[1, 0]:g}..{ext[1, 1]:g}, z {ext[2, 0]:g}..{ext[2, 1]:g} pc{where}>"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return [v.decode("utf-8", "replace") for v in value.ravel()]
    return value


def _map_or_read(path: pathlib.Path, ds: h5py.Dataset) -> np.ndarray | None:
    """A read-only memory map of a contiguous, uncompressed, native-endian dataset, else None."""
    if ds.chunks is not None or ds.compression is not None or not ds.dtype.isnative:
        return None
    if ds.external:
        return None
    offset = ds.id.get_offset()
    if offset is None:  # never written: h5py returns fill values, nothing to map
        return None
    return np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape, order="C")


def write_cube(
    path: str | pathlib.Path,
    data: np.ndarray,
    step: float | u.Quantity,
    sun_index: tuple[int, int, int],
    *,
    attrs: Mapping[str, Any] | None = None,
) -> pathlib.Path:
    """Write a cube in exactly the published layout.

    Parameters
    ----------
    path : path-like
        Output ``.h5`` file (written to a temporary name, then renamed, so a reader never sees half a cube).
    data : numpy.ndarray
        Values with axes (x, y, z).
    step : float or Quantity
        Voxel size (pc if a plain number); stored as three equal ``gridstep_values``.
    sun_index : tuple of 3 int
        The Sun's voxel index in the order (x, y, z); stored as ``sun_position`` in the published
        order (z, x, y).
    attrs : mapping, optional
        Extra attributes (the published files also carry ``creation_date``, ``cube_version`` and
        ``resolution_values``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = pathlib.Path(path)
    data = np.asarray(data)
    if data.ndim != 3:
        raise CubeFormatError(f"a dust cube needs a 3D array (x, y, z); got shape {data.shape}")
    step_pc = float(u.Quantity(step, u.pc).value)
    sx, sy, sz = (int(s) for s in sun_index)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as h5:
        ds = h5.create_dataset(DATASET, data=data)
        ds.attrs["sun_position"] = np.array([sz, sx, sy], dtype=np.int64)
        ds.attrs["gridstep_values"] = np.array([step_pc, step_pc, step_pc], dtype=np.float64)
        for key, value in (attrs or {}).items():
            ds.attrs[key] = value
    tmp.replace(path)
    return path


def published_name_grid(name: str) -> dict[str, Any] | None:
    """The grid (shape, step) of a published cube from its file name, or None if unknown."""
    base = re.sub(r"\.part$", "", pathlib.Path(name).name)
    return PUBLISHED_GRIDS.get(base)
