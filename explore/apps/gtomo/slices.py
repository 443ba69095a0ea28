"""Planar slices through the cube and sky maps of the extinction integrated to a distance.

A slice samples the trilinear density on a regular grid of a plane through any origin with any normal
(the Galactic plane, a vertical plane through the Sun at some longitude, an oblique cut through a cloud).
A sky map integrates A0 from the Sun to one distance towards every pixel centre of a HEALPix grid
(Gorski et al. 2005; astropy-healpix), and :func:`mollweide_image` projects it for display.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any, Literal

import astropy.units as u
import numpy as np
from astropy_healpix import HEALPix

from .cube import DustCube, galactic_to_xyz
from .integrate import ExtinctionResult, _open, integrate_extinction
from .raytrace import sample_points

__all__ = [
    "SkyMap",
    "Slice",
    "galactic_plane_slice",
    "mollweide_image",
    "plane_slice",
    "sky_map",
    "vertical_slice",
]


@dataclass
class Slice:
    """Density sampled on a plane: ``values[iv, iu]`` at ``origin + u[iu] * e_u + v[iv] * e_v``.

    ``values`` is NaN where the plane leaves the cube.
    """

    values: u.Quantity
    u: u.Quantity
    v: u.Quantity
    origin: u.Quantity
    e_u: np.ndarray
    e_v: np.ndarray
    normal: np.ndarray

    def xyz(self) -> tuple[u.Quantity, u.Quantity, u.Quantity]:
        """Heliocentric coordinates of every sample, each of shape ``values.shape``."""
        uu, vv = np.meshgrid(self.u.to_value(u.pc), self.v.to_value(u.pc))
        o = self.origin.to_value(u.pc)
        pts = [o[i] + uu * self.e_u[i] + vv * self.e_v[i] for i in range(3)]
        return tuple(p * u.pc for p in pts)  # type: ignore[return-value]

    def locate(self, x: Any, y: Any, z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """In-plane coordinates (u, v) in pc of points, and their distance (pc) from the plane: to mark a
        target on the slice."""
        p = np.stack([np.asarray(c, dtype=float) for c in (x, y, z)], axis=-1) - self.origin.to_value(u.pc)
        return p @ self.e_u, p @ self.e_v, p @ self.normal

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(u_min, u_max, v_min, v_max) in pc, for image display."""
        uu = self.u.to_value(u.pc)
        vv = self.v.to_value(u.pc)
        return float(uu[0]), float(uu[-1]), float(vv[0]), float(vv[-1])


def _plane_basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.asarray(normal, dtype=float)
    norm = np.linalg.norm(n)
    if n.shape != (3,) or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"the plane's normal must be a non-zero 3-vector (x, y, z); got {normal!r}")
    n = n / norm
    if abs(n[2]) > 0.999999:
        e_u = np.array([1.0, 0.0, 0.0])
        e_v = np.cross(n, e_u)
    else:
        e_u = np.cross(n, [0.0, 0.0, 1.0])
        e_u /= np.linalg.norm(e_u)
        e_v = np.cross(e_u, n)
    return e_u, e_v / np.linalg.norm(e_v), n


def plane_slice(
    cube: DustCube | str | pathlib.Path,
    origin: Any = (0.0, 0.0, 0.0),
    normal: Any = (0.0, 0.0, 1.0),
    *,
    resolution: Any = None,
    max_samples: int = 4_000_000,
) -> Slice:
    """The density on a plane through ``origin`` (pc) perpendicular to ``normal``.

    The in-plane axes are ``e_u = normal x z`` (horizontal) and ``e_v = e_u x normal`` (so that ``e_v``
    points up for a vertical plane); for a horizontal plane ``e_u`` is x (towards the Galactic centre)
    and ``e_v`` is y. The grid covers the whole intersection of the plane with the cube.

    Parameters
    ----------
    cube : DustCube or path
    origin : 3 floats or Quantity
        A point of the plane (pc if plain numbers), heliocentric.
    normal : 3 floats
        The plane's normal in (x, y, z).
    resolution : float or Quantity, optional
        Sample spacing; default one voxel.
    max_samples : int
        Refuse grids larger than this (raise the resolution instead).

    Returns
    -------
    Slice
    """
    dens = _open(cube)
    o = np.asarray(u.Quantity(origin, u.pc).value, dtype=float)
    if o.shape != (3,):
        raise ValueError(f"the plane's origin must be 3 coordinates (x, y, z) in pc; got {origin!r}")
    e_u, e_v, n = _plane_basis(normal)
    res = dens.step_pc if resolution is None else float(u.Quantity(resolution, u.pc).value)
    if not np.isfinite(res) or res <= 0:
        raise ValueError(f"the slice resolution must be a positive number of pc; got {res}")
    ext = dens.extent.to_value(u.pc)
    corners = np.array([[ext[0, i], ext[1, j], ext[2, k]] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) - o
    pu, pv = corners @ e_u, corners @ e_v
    u_axis = np.arange(np.floor(pu.min() / res), np.ceil(pu.max() / res) + 1) * res
    v_axis = np.arange(np.floor(pv.min() / res), np.ceil(pv.max() / res) + 1) * res
    if u_axis.size * v_axis.size > max_samples:
        raise ValueError(
            f"a slice at {res:g} pc would need {u_axis.size * v_axis.size:,} samples (limit {max_samples:,}); "
            "choose a coarser resolution"
        )
    uu, vv = np.meshgrid(u_axis, v_axis)
    pts = [o[i] + uu * e_u[i] + vv * e_v[i] for i in range(3)]
    values = sample_points(dens.values(), *dens.to_index(*pts))
    return Slice(
        values=values * dens.unit,
        u=u_axis * u.pc,
        v=v_axis * u.pc,
        origin=o * u.pc,
        e_u=e_u,
        e_v=e_v,
        normal=n,
    )


def galactic_plane_slice(cube: DustCube | str | pathlib.Path, z: Any = 0.0, **kwargs: Any) -> Slice:
    """The horizontal slice at height ``z`` (pc) above the Sun: u is x (to the Galactic centre), v is y."""
    return plane_slice(cube, (0.0, 0.0, float(u.Quantity(z, u.pc).value)), (0.0, 0.0, 1.0), **kwargs)


def vertical_slice(cube: DustCube | str | pathlib.Path, longitude: Any, **kwargs: Any) -> Slice:
    """The vertical plane through the Sun containing longitude ``l`` (and ``l + 180``): u is the distance
    along ``l`` in the plane (negative towards ``l + 180``), v is z."""
    lon = np.radians(float(u.Quantity(longitude, u.deg).value))
    return plane_slice(cube, (0.0, 0.0, 0.0), (-np.sin(lon), np.cos(lon), 0.0), **kwargs)


@dataclass
class SkyMap:
    """A HEALPix map (Galactic frame) of the extinction integrated from the Sun to ``distance``."""

    a0: u.Quantity
    flag: np.ndarray
    nside: int
    order: str
    distance: u.Quantity

    @property
    def healpix(self) -> HEALPix:
        from astropy.coordinates import Galactic

        return HEALPix(nside=self.nside, order=self.order, frame=Galactic())

    def write(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the map as a HEALPix FITS binary table (the convention read by healpy and Aladin)."""
        from astropy.io import fits

        path = pathlib.Path(path)
        cols = [
            fits.Column(name="A0", format="E", unit="mag", array=self.a0.to_value(u.mag).astype(np.float32)),
            fits.Column(name="FLAG", format="I", array=self.flag.astype(np.int16)),
        ]
        hdu = fits.BinTableHDU.from_columns(cols)
        hdr = hdu.header
        hdr["PIXTYPE"] = "HEALPIX"
        hdr["ORDERING"] = self.order.upper()
        hdr["NSIDE"] = self.nside
        hdr["COORDSYS"] = ("G", "Galactic")
        hdr["INDXSCHM"] = "IMPLICIT"
        hdr["FIRSTPIX"] = 0
        hdr["LASTPIX"] = 12 * self.nside**2 - 1
        hdr["DISTANCE"] = (float(self.distance.to_value(u.pc)), "pc: A0 integrated from the Sun to here")
        tmp = path.with_name(path.name + ".tmp")
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
        tmp.replace(path)
        return path


def sky_map(
    cube: DustCube | str | pathlib.Path,
    distance: Any,
    *,
    nside: int = 64,
    order: Literal["ring", "nested"] = "ring",
    beyond: Literal["nan", "edge"] = "nan",
) -> SkyMap:
    """A0 integrated from the Sun to ``distance`` towards every pixel of a Galactic HEALPix grid.

    Parameters
    ----------
    cube : DustCube or path
    distance : float or Quantity
        pc if a plain number; must be > 0.
    nside : int
        HEALPix resolution (a power of 2); 12 * nside**2 pixels.
    order : {"ring", "nested"}
    beyond : {"nan", "edge"}
        Pixels whose sightline leaves the cube before ``distance`` (flagged) get NaN, or the integral to
        the boundary (a lower limit).
    """
    d_pc = float(u.Quantity(distance, u.pc).value)
    if not np.isfinite(d_pc) or d_pc <= 0:
        raise ValueError(f"the sky-map distance must be a positive number of pc; got {d_pc}")
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"nside must be a power of 2; got {nside}")
    hp = HEALPix(nside=nside, order=order)
    lon, lat = hp.healpix_to_lonlat(np.arange(hp.npix))
    result: ExtinctionResult = integrate_extinction(
        cube, lon.to_value(u.deg), lat.to_value(u.deg), np.full(hp.npix, d_pc), beyond=beyond
    )
    return SkyMap(a0=result.a0, flag=result.flag, nside=nside, order=order, distance=d_pc * u.pc)


def mollweide_image(skymap: SkyMap, width: int = 720) -> tuple[np.ndarray, np.ndarray]:
    """Project a sky map onto a Mollweide image centred on the Galactic centre, longitude increasing
    to the left (the astronomers' convention).

    Returns
    -------
    image : numpy.ndarray
        Shape (width // 2, width), A0 in mag; NaN outside the ellipse and for flagged pixels.
    inside : numpy.ndarray
        True inside the projection's ellipse.
    """
    height = width // 2
    # projection plane: x in [-2 sqrt2, 2 sqrt2], y in [-sqrt2, sqrt2]
    xs = (np.arange(width) + 0.5) / width * 4 * np.sqrt(2) - 2 * np.sqrt(2)
    ys = np.sqrt(2) - (np.arange(height) + 0.5) / height * 2 * np.sqrt(2)
    xx, yy = np.meshgrid(xs, ys)
    inside = (xx / (2 * np.sqrt(2))) ** 2 + (yy / np.sqrt(2)) ** 2 <= 1
    theta = np.arcsin(np.clip(yy / np.sqrt(2), -1, 1))
    lat = np.arcsin(np.clip((2 * theta + np.sin(2 * theta)) / np.pi, -1, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        lon = np.pi * xx / (2 * np.sqrt(2) * np.cos(theta))
    inside &= np.abs(lon) <= np.pi
    lon_gal = (-lon) % (2 * np.pi)  # l increases to the left
    image = np.full(xx.shape, np.nan)
    pix = skymap.healpix.lonlat_to_healpix(lon_gal[inside] * u.rad, lat[inside] * u.rad)
    image[inside] = skymap.a0.to_value(u.mag)[pix]
    return image, inside


def target_on_slice(s: Slice, l: float, b: float, distance: float) -> tuple[float, float, float]:  # noqa: E741 (l is the Galactic longitude)
    """(u, v, offset from the plane) in pc of a target, to mark it on a slice."""
    x, y, z = galactic_to_xyz(l, b, distance)
    pu, pv, off = s.locate(x, y, z)
    return float(pu), float(pv), float(off)
