"""G-Tomo: the 3D dust of the Milky Way from the published dust-density cubes.

The science modules work on their own, from a notebook or another app::

    from explore.apps.gtomo import DustCube, extinction_to, integrate_extinction, sightline_profile

    cube = DustCube.open("explore_cube_density_values_025pc_v2.h5")
    a0 = extinction_to(cube, l=173.0, b=-15.0, distance=300.0)          # a Quantity in mag
    ebv = extinction_to(cube, 173.0, -15.0, 300.0, band="E(B-V)")

Modules: :mod:`.cube` (reading the published layout), :mod:`.fetch` (downloads), :mod:`.sightline`
(profiles), :mod:`.integrate` (integrated extinction), :mod:`.law` (A0 to other bands), :mod:`.slices`
(planes and sky maps), :mod:`.clouds` (cloud detection), :mod:`.targets` (target tables and names),
:mod:`.demo` (the demo data set). The platform's declaration is :class:`.app.GTomo`.
"""

from .cube import CubeFormatError, DustCube, galactic_to_xyz, write_cube, xyz_to_galactic
from .fetch import ChecksumError, FetchError, fetch
from .integrate import ExtinctionResult, Flag, extinction_to, flag_names, integrate_extinction
from .law import ExtinctionLaw, convert
from .sightline import Profile, sightline_profile

__all__ = [
    "ChecksumError",
    "CubeFormatError",
    "DustCube",
    "ExtinctionLaw",
    "ExtinctionResult",
    "FetchError",
    "Flag",
    "Profile",
    "convert",
    "extinction_to",
    "fetch",
    "flag_names",
    "galactic_to_xyz",
    "integrate_extinction",
    "sightline_profile",
    "write_cube",
    "xyz_to_galactic",
]
