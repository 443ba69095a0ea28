"""Galactic Cartesian positions of stars from Gaia-style astrometry, via astropy."""

from __future__ import annotations

from typing import Literal

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, Galactic, Galactocentric

__all__ = ["galactic_cartesian", "parallax_distance"]


def parallax_distance(parallax: u.Quantity, *, min_parallax: u.Quantity = 0.0 * u.mas) -> u.Quantity:
    """Distance ``1 / parallax`` in pc; NaN where the parallax is missing or not above ``min_parallax``.

    Inverting a parallax is a fair distance only for good parallaxes (``parallax_over_error`` above
    about 5); pass a better distance estimate where one exists.
    """
    plx = u.Quantity(parallax, u.mas).to_value(u.mas)
    limit = u.Quantity(min_parallax, u.mas).to_value(u.mas)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(np.isfinite(plx) & (plx > max(limit, 0.0)), 1000.0 / plx, np.nan)
    return dist * u.pc


def galactic_cartesian(
    ra: u.Quantity,
    dec: u.Quantity,
    parallax: u.Quantity | None = None,
    *,
    distance: u.Quantity | None = None,
    frame: Literal["heliocentric", "galactocentric"] = "heliocentric",
) -> tuple[u.Quantity, u.Quantity, u.Quantity]:
    """Cartesian Galactic positions (x, y, z) in kpc.

    ``heliocentric``: the Sun at the origin, x towards the Galactic centre, y along Galactic rotation,
    z to the north Galactic pole (the frame of the 3D dust maps). ``galactocentric``: astropy's
    :class:`~astropy.coordinates.Galactocentric` defaults (Sun at x = -8.122 kpc).

    Parameters
    ----------
    ra, dec : Quantity (angle)
    parallax : Quantity (angle), optional
        Used when ``distance`` is not given; non-positive or missing parallaxes give NaN positions.
    distance : Quantity (length), optional

    Returns
    -------
    x, y, z : Quantity in kpc
    """
    if distance is None:
        if parallax is None:
            raise ValueError("give parallax or distance")
        distance = parallax_distance(parallax)
    dist = u.Quantity(distance, u.pc)
    ok = np.isfinite(dist.value) & (dist.value > 0)
    safe = np.where(ok, dist.value, 1.0) * u.pc
    icrs = ICRS(ra=u.Quantity(ra, u.deg), dec=u.Quantity(dec, u.deg), distance=safe)
    target = Galactic() if frame == "heliocentric" else Galactocentric()
    if frame not in ("heliocentric", "galactocentric"):
        raise ValueError(f"frame must be 'heliocentric' or 'galactocentric', not {frame!r}")
    cart = icrs.transform_to(target).cartesian
    out = []
    for comp in (cart.x, cart.y, cart.z):
        value = comp.to_value(u.kpc)
        out.append(np.where(ok, value, np.nan) * u.kpc)
    return out[0], out[1], out[2]
