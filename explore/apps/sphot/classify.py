"""Classify fitted stars: luminosity class from Teff and radius, and the kind of excess.

The rules, applied to the output of :class:`~explore.apps.sphot.fit.SEDFitter`:

Luminosity class (column ``lum_class``), from the radius R and Teff, compared with the radius
R_MS(Teff) of a dwarf of the same Teff on the Pecaut & Mamajek (2013, table of 2022) sequence:

=================  ==============================================================================
``white_dwarf``    R < 0.04 R_sun (white dwarfs have 0.008-0.02 R_sun; hot subdwarfs 0.1-0.3)
``hot_subdwarf``   Teff >= 20000 K and 0.04 <= R < 0.6 R_sun
``main_sequence``  R <= 1.6 R_MS(Teff) (room for evolution on the main sequence and for unresolved
                   equal binaries, which look sqrt(2) larger)
``subgiant``       1.6 R_MS < R <= 3 R_MS
``giant``          R > 3 R_MS(Teff)
``unknown``        no radius (no positive parallax) or no fit
=================  ==============================================================================

Excess class (column ``excess_class``), from the excess flags and the bands in excess:

=====================  =========================================================================
``yso_like``           infrared excess in at least two bands, one of them shortward of 5 micron
                       (hot dust close to the star: a disc), in a star that is not a giant
``ir_excess``          any other infrared excess (cool, debris-disc-like dust, or one band)
``hot_subdwarf_like``  ultraviolet excess in a star that is not a white dwarf: a hot companion
                       (McDonald et al. 2024 find most UV excesses to be such composites)
``none``               no excess flag
=====================  =========================================================================

The final ``class`` is the excess class when there is one (``hot_subdwarf_like_uv_excess``,
``yso_like_ir_excess``, ``ir_excess``), else the luminosity class. A UV excess takes precedence
because a hot companion also biases the fit towards a hotter star with spurious infrared excess.
"""

from __future__ import annotations

import functools
import importlib.resources

import astropy.units as u
import numpy as np
from astropy.table import Table

from explore.astro.filters import get_filter

__all__ = ["classify", "main_sequence", "main_sequence_radius"]

WD_MAX_RADIUS = 0.04
SD_MAX_RADIUS = 0.6
SD_MIN_TEFF = 20000.0
MS_FACTOR = 1.6
GIANT_FACTOR = 3.0
YSO_MAX_WAVELENGTH = 5.0 * u.um


@functools.lru_cache(maxsize=1)
def main_sequence() -> Table:
    """The dwarf sequence of Pecaut & Mamajek (2013, updated 2022): spt, Teff, R (R_sun), M (M_sun).

    From ``mamajek_spt.dat`` as shipped with astroARIADNE (MIT).
    """
    path = importlib.resources.files("explore.apps.sphot") / "data" / "mamajek_spt.dat"
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#") or len(parts) < 30:
            continue
        try:
            teff, radius = float(parts[1]), float(parts[28])
        except ValueError:
            continue
        try:
            mass = float(parts[29])
        except ValueError:
            mass = np.nan
        rows.append((parts[0], teff, radius, mass))
    table = Table(rows=rows, names=("spt", "teff", "radius", "mass"))
    table.sort("teff")
    return table


def main_sequence_radius(teff: np.ndarray | float) -> np.ndarray:
    """Radius (R_sun) of a main-sequence dwarf of effective temperature ``teff`` (K)."""
    ms = main_sequence()
    return np.interp(np.log10(teff), np.log10(ms["teff"]), ms["radius"])


def classify(results: Table) -> Table:
    """Add ``lum_class``, ``excess_class`` and ``class`` to fit results (in place; also returned)."""
    n = len(results)
    teff = np.asarray(results["teff"], dtype=float)
    radius = np.asarray(results["radius"], dtype=float)
    fitted = np.isfinite(teff)
    has_r = fitted & np.isfinite(radius) & (radius > 0)
    r_ms = main_sequence_radius(np.where(fitted, teff, 5772.0))

    lum = np.full(n, "unknown", dtype=object)
    lum[has_r & (radius <= MS_FACTOR * r_ms)] = "main_sequence"
    lum[has_r & (radius > MS_FACTOR * r_ms)] = "subgiant"
    lum[has_r & (radius > GIANT_FACTOR * r_ms)] = "giant"
    lum[has_r & (teff >= SD_MIN_TEFF) & (radius >= WD_MAX_RADIUS) & (radius < SD_MAX_RADIUS)] = "hot_subdwarf"
    lum[has_r & (radius < WD_MAX_RADIUS)] = "white_dwarf"

    ir = np.asarray(results["ir_excess"], dtype=bool) & fitted
    uv = np.asarray(results["uv_excess"], dtype=bool) & fitted
    bands = [str(b) for b in results["excess_bands"]] if "excess_bands" in results.colnames else [""] * n
    ir_bands = [_ir_bands(b) for b in bands]
    yso = np.array(
        [len(w) >= 2 and min(w) < YSO_MAX_WAVELENGTH.to_value(u.um) for w in ir_bands], dtype=bool
    ) & ir & (lum != "giant")

    excess = np.full(n, "none", dtype=object)
    excess[ir] = "ir_excess"
    excess[yso] = "yso_like"
    excess[uv & (lum != "white_dwarf")] = "hot_subdwarf_like"

    final = lum.copy()
    final[excess == "ir_excess"] = "ir_excess"
    final[excess == "yso_like"] = "yso_like_ir_excess"
    final[excess == "hot_subdwarf_like"] = "hot_subdwarf_like_uv_excess"
    final[~fitted] = "unclassified"

    results["lum_class"] = lum.astype(str)
    results["excess_class"] = excess.astype(str)
    results["class"] = final.astype(str)
    return results


def _ir_bands(listing: str) -> list[float]:
    """Pivot wavelengths (micron) of the infrared bands in a ``;``-separated list of filter ids."""
    out = []
    for fid in filter(None, listing.split(";")):
        lam = get_filter(fid).wavelength_pivot.to_value(u.um)
        if lam > 2.0:
            out.append(lam)
    return out
