"""Planetary bodies: reference radius and the IAU 2015 coordinate reference systems.

The Moon is the IAU 2015 sphere of radius 1737.4 km (the LOLA reference radius). Its four CRSs
used by EXPLORE are:

======================  ==============================================================
``IAU_2015:30100``      geographic, planetocentric latitude, longitude east (degrees)
``IAU_2015:30110``      equirectangular (equidistant cylindrical), centre longitude 0 (metres)
``IAU_2015:30130``      north polar stereographic, true scale at the pole (metres)
``IAU_2015:30135``      south polar stereographic, true scale at the pole (metres)
======================  ==============================================================

PROJ >= 8.2 ships the IAU_2015 authority; where an older PROJ lacks it, :func:`crs` builds the same
CRS from its PROJ definition, so callers never depend on the database being present.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pyproj import CRS
from pyproj.exceptions import CRSError

__all__ = [
    "Body",
    "MOON",
    "MARS",
    "BODIES",
    "UnknownBodyError",
    "body",
    "crs",
    "GEOGRAPHIC",
    "EQUIRECTANGULAR",
    "NORTH_POLAR",
    "SOUTH_POLAR",
]

Projection = Literal["geographic", "equirectangular", "north_polar", "south_polar"]

GEOGRAPHIC: Projection = "geographic"
EQUIRECTANGULAR: Projection = "equirectangular"
NORTH_POLAR: Projection = "north_polar"
SOUTH_POLAR: Projection = "south_polar"

#: offset of each projection in the IAU 2015 code of a body (body code * 100 + offset)
_IAU_OFFSET = {GEOGRAPHIC: 0, EQUIRECTANGULAR: 10, NORTH_POLAR: 30, SOUTH_POLAR: 35}


class UnknownBodyError(KeyError):
    """A body name the platform does not know."""

    def __str__(self) -> str:  # KeyError quotes its argument; a message reads better
        return str(self.args[0])


@dataclass(frozen=True)
class Body:
    """A planetary body modelled as a sphere.

    Attributes
    ----------
    name
        Lower-case name used in URLs and the database (``"moon"``).
    naif_id
        NAIF integer code (301 for the Moon); the IAU 2015 CRS codes are ``naif_id * 100 + k``.
    radius_m
        Reference radius in metres.
    """

    name: str
    naif_id: int
    radius_m: float

    def iau_code(self, projection: Projection) -> str:
        """The ``IAU_2015:<code>`` string of one of this body's sphere CRSs."""
        if projection not in _IAU_OFFSET:
            raise ValueError(f"unknown projection {projection!r}; choose one of {sorted(_IAU_OFFSET)}")
        return f"IAU_2015:{self.naif_id * 100 + _IAU_OFFSET[projection]}"

    def proj_string(self, projection: Projection) -> str:
        """The PROJ definition of the same CRS (used where the IAU database is missing)."""
        r = f"+R={self.radius_m:.0f} +no_defs +type=crs"
        if projection == GEOGRAPHIC:
            return f"+proj=longlat {r}"
        if projection == EQUIRECTANGULAR:
            return f"+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +units=m {r}"
        if projection == NORTH_POLAR:
            return f"+proj=stere +lat_0=90 +lon_0=0 +k=1 +x_0=0 +y_0=0 +units=m {r}"
        if projection == SOUTH_POLAR:
            return f"+proj=stere +lat_0=-90 +lon_0=0 +k=1 +x_0=0 +y_0=0 +units=m {r}"
        raise ValueError(f"unknown projection {projection!r}; choose one of {sorted(_IAU_OFFSET)}")

    def crs(self, projection: Projection = GEOGRAPHIC) -> CRS:
        """This body's CRS for ``projection`` (see :func:`crs`)."""
        return _crs(self.name, projection)

    @property
    def circumference_m(self) -> float:
        import math

        return 2.0 * math.pi * self.radius_m


MOON = Body("moon", 301, 1_737_400.0)
MARS = Body("mars", 499, 3_396_190.0)
BODIES: dict[str, Body] = {b.name: b for b in (MOON, MARS)}


def body(name: str | Body) -> Body:
    """Look a body up by name (case-insensitive).

    Raises
    ------
    UnknownBodyError
        When the name is not one of :data:`BODIES`.
    """
    if isinstance(name, Body):
        return name
    key = str(name).strip().lower()
    if key not in BODIES:
        raise UnknownBodyError(f"unknown body {name!r}; known bodies: {', '.join(sorted(BODIES))}")
    return BODIES[key]


@lru_cache(maxsize=32)
def _crs(name: str, projection: Projection) -> CRS:
    b = body(name)
    try:
        return CRS.from_string(b.iau_code(projection))
    except CRSError:
        # PROJ without the IAU_2015 authority: the same sphere and projection, without the code
        return CRS.from_proj4(b.proj_string(projection))


def crs(projection: Projection = GEOGRAPHIC, name: str | Body = "moon") -> CRS:
    """The IAU 2015 sphere CRS of a body.

    Parameters
    ----------
    projection
        ``"geographic"`` (30100), ``"equirectangular"`` (30110), ``"north_polar"`` (30130) or
        ``"south_polar"`` (30135) for the Moon.
    name
        The body (default the Moon).

    Example
    -------
    >>> crs("south_polar").name
    'Moon (2015) - Sphere / Ocentric / South Polar'
    """
    return _crs(body(name).name, projection)
