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

import importlib
from typing import Any

# imported on first use, so that the platform can read the app's declaration without loading the
# science stack (h5py, numba, dust_extinction)
_LAZY = {
    "CubeFormatError": "cube", "DustCube": "cube", "galactic_to_xyz": "cube", "write_cube": "cube",
    "xyz_to_galactic": "cube", "ChecksumError": "fetch", "FetchError": "fetch", "fetch": "fetch",
    "ExtinctionResult": "integrate", "Flag": "integrate", "extinction_to": "integrate",
    "flag_names": "integrate", "integrate_extinction": "integrate", "ExtinctionLaw": "law", "convert": "law",
    "Profile": "sightline", "sightline_profile": "sightline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
