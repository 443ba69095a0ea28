"""Extinction profiles along one sightline: differential (density), cumulative (A0) and their errors."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from .cube import DustCube, galactic_to_xyz
from .integrate import ErrorKind, _open
from .raytrace import exit_distance, integrate_rays, sample_points

__all__ = ["Profile", "sightline_profile"]


@dataclass
class Profile:
    """An extinction profile from the Sun along a direction.

    Attributes
    ----------
    l, b : Quantity
        The direction (Galactic).
    distance : Quantity
        Sample distances from the Sun.
    density : Quantity
        Extinction density A0 per pc (trilinear value) at each distance.
    cumulative : Quantity
        A0 integrated from the Sun to each distance (exact for the trilinear field).
    inside : numpy.ndarray
        False where the sample lies beyond the cube: there ``density`` and ``cumulative`` are NaN.
    edge : Quantity
        Distance at which the sightline leaves the cube.
    density_err, cumulative_err : Quantity or None
        Errors, when an error cube was given (see :func:`sightline_profile`).
    """

    l: u.Quantity  # noqa: E741 (l is the Galactic longitude)
    b: u.Quantity
    distance: u.Quantity
    density: u.Quantity
    cumulative: u.Quantity
    inside: np.ndarray
    edge: u.Quantity
    density_err: u.Quantity | None = None
    cumulative_err: u.Quantity | None = None

    def to_table(self) -> Table:
        """The profile as a table (distance in pc, density in mag/pc, cumulative in mag, inside flag)."""
        table = Table()
        table["distance"] = self.distance.to(u.pc)
        table["density"] = self.density
        table["cumulative"] = self.cumulative
        if self.density_err is not None:
            table["density_err"] = self.density_err
        if self.cumulative_err is not None:
            table["cumulative_err"] = self.cumulative_err
        table["inside"] = self.inside
        table.meta["l_deg"] = float(self.l.to_value(u.deg))
        table.meta["b_deg"] = float(self.b.to_value(u.deg))
        table.meta["edge_pc"] = float(self.edge.to_value(u.pc))
        return table


def sightline_profile(
    cube: DustCube | str | pathlib.Path,
    l: Any,  # noqa: E741 (l is the Galactic longitude)
    b: Any,
    max_distance: Any,
    *,
    step: Any = None,
    error_cube: DustCube | str | pathlib.Path | None = None,
    error_kind: ErrorKind = "auto",
) -> Profile:
    """The extinction profile from the Sun to ``max_distance`` along Galactic (l, b).

    Parameters
    ----------
    cube : DustCube or path
        The density cube.
    l, b : float or Quantity
        Direction (degrees if plain numbers); ``b`` in [-90, 90].
    max_distance : float or Quantity
        Last distance (pc if a plain number), > 0. Samples beyond the cube are returned as NaN with
        ``inside`` False: never extrapolated.
    step : float or Quantity, optional
        Sample spacing (pc); default half a voxel. The cumulative values are exact whatever the step;
        the step only sets where they are reported.
    error_cube : DustCube or path, optional
        An error cube: ``density_err`` is the trilinear density error; ``cumulative_err`` is the
        trilinear error of the integrated extinction for an ``extinction_error`` cube, or the integral of
        the density error (an upper bound, fully correlated errors) for a ``density_error`` cube.
    error_kind : {"auto", "extinction_error", "density_error"}
        How to read ``error_cube`` (see :func:`explore.apps.gtomo.integrate.integrate_extinction`).

    Returns
    -------
    Profile

    Raises
    ------
    ValueError
        If the direction or the distance is out of range.
    """
    dens = _open(cube)
    l_deg = float(u.Quantity(l, u.deg).value)
    b_deg = float(u.Quantity(b, u.deg).value)
    d_max = float(u.Quantity(max_distance, u.pc).value)
    if not np.isfinite(l_deg) or not np.isfinite(b_deg) or abs(b_deg) > 90:
        raise ValueError(f"Galactic latitude must lie in [-90, 90] deg; got b = {b_deg}")
    if not np.isfinite(d_max) or d_max <= 0:
        raise ValueError(f"the maximum distance must be a positive number of pc; got {d_max}")
    dstep = dens.step_pc / 2 if step is None else float(u.Quantity(step, u.pc).value)
    if not np.isfinite(dstep) or dstep <= 0:
        raise ValueError(f"the profile step must be a positive number of pc; got {dstep}")
    n = int(np.floor(d_max / dstep + 1e-9)) + 1
    dist = np.arange(n) * dstep
    if dist[-1] < d_max * (1 - 1e-12):
        dist = np.append(dist, d_max)
    ux, uy, uz = (np.full(dist.size, c) for c in galactic_to_xyz(l_deg, b_deg, 1.0))
    edge = float(exit_distance(dens.shape, dens.sun_index, dens.step_pc, ux[:1], uy[:1], uz[:1])[0])
    inside = dist <= edge * (1 + 1e-12) + 1e-9 * dens.step_pc
    data = dens.values()
    density = sample_points(data, *dens.to_index(ux * dist, uy * dist, uz * dist))
    cumulative = integrate_rays(data, dens.sun_index, dens.step_pc, ux, uy, uz, np.minimum(dist, edge))
    density[~inside] = np.nan
    cumulative[~inside] = np.nan

    density_err = cumulative_err = None
    if error_cube is not None:
        err = _open(error_cube)
        kind = err.kind if error_kind == "auto" else error_kind
        if kind not in ("extinction_error", "density_error"):
            raise ValueError("pass error_kind='extinction_error' or 'density_error' for this error cube")
        sampled = sample_points(err.values(), *err.to_index(ux * dist, uy * dist, uz * dist))
        err_edge = float(exit_distance(err.shape, err.sun_index, err.step_pc, ux[:1], uy[:1], uz[:1])[0])
        if kind == "extinction_error":
            cumulative_err = sampled * u.mag
        else:
            density_err = sampled * (u.mag / u.pc)
            cum = integrate_rays(err.values(), err.sun_index, err.step_pc, ux, uy, uz, np.minimum(dist, err_edge))
            cum[dist > err_edge * (1 + 1e-12) + 1e-9 * err.step_pc] = np.nan
            cumulative_err = cum * u.mag
    profile = Profile(
        l=l_deg * u.deg,
        b=b_deg * u.deg,
        distance=dist * u.pc,
        density=density * (u.mag / u.pc),
        cumulative=cumulative * u.mag,
        inside=inside,
        edge=edge * u.pc,
        density_err=density_err,
        cumulative_err=cumulative_err,
    )
    return profile
