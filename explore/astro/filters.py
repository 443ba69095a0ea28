"""Photometric filters: real SVO transmission curves, zero points, and magnitude <-> flux conversion.

Filters are identified by their SVO Filter Profile Service id (``GAIA/GAIA3.G``, ``2MASS/2MASS.Ks``,
``WISE/WISE.W1``, ``GALEX/GALEX.NUV``, ``Herschel/Pacs.blue`` ...). The transmission curves and the
Vega zero points come from the SVO XML (VOTable) files shipped in ``explore/astro/data/filters``
(SVO Filter Profile Service, Rodrigo et al. 2012, 2020; the set collected by PySSED, McDonald et al.
2024). Spellings such as ``gaia.gaia3.g``, ``Herschel/PACS.blue`` or the file name
``GAIA.GAIA3.G.xml`` resolve to the same filter.

Magnitude systems. The SVO files give the Vega zero point of every filter. The surveys of GALEX,
SDSS, Pan-STARRS and SkyMapper publish AB magnitudes, so those filters default to AB (zero point
3631 Jy); every other filter defaults to Vega. A conversion can always be asked in the other system.

Example
-------
>>> from explore.astro.filters import get_filter
>>> ks = get_filter("2mass.ks")
>>> ks.id, ks.mag_system
('2MASS/2MASS.Ks', 'Vega')
>>> ks.mag_to_flux(0.0)                                  # doctest: +FLOAT_CMP
<Quantity 666.8 Jy>
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import astropy.constants as const
import astropy.units as u
import numpy as np

__all__ = [
    "AB_ZERO_POINT",
    "Filter",
    "UnknownFilterError",
    "available_filters",
    "filter_data_dir",
    "get_filter",
    "get_filters",
    "read_svo_filter",
    "resolve_filter_id",
]

MagSystem = Literal["Vega", "AB"]
Detector = Literal["photon", "energy"]

#: flux density of magnitude 0 in the AB system (Oke & Gunn 1983)
AB_ZERO_POINT = 3631.0 * u.Jy

#: photometric systems whose published magnitudes are AB rather than Vega
_AB_FACILITIES = ("GALEX/", "SLOAN/", "PAN-STARRS/", "SKYMAPPER/")


class UnknownFilterError(KeyError):
    """A filter id that matches none of the shipped SVO filters."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, eq=False)
class Filter:
    """A photometric passband.

    Attributes
    ----------
    id
        The SVO filter id, e.g. ``GAIA/GAIA3.G``.
    wavelength
        Wavelengths of the transmission curve (Angstrom).
    transmission
        Dimensionless transmission at ``wavelength`` (SVO convention: for photon counters it is the
        quantum efficiency per photon, for energy counters the response per unit energy).
    detector
        ``"photon"`` (CCDs, photomultipliers) or ``"energy"`` (bolometers), from the SVO
        ``DetectorType``.
    weighting
        How the tabulated curve is integrated: ``"photon"`` (``int f_lam T lam dlam / int T lam dlam``)
        or ``"energy"`` (``int f_lam T dlam / int T dlam``). It is the detector type, except for curves
        that SVO tabulates as a per-energy response of a photon-counting detector (2MASS, WISE,
        Johnson, Tycho, Hipparcos, AKARI/IRC: the relative spectral responses of Cohen et al. 2003
        and Wright et al. 2010 already include the factor lambda). Those are recognised because only
        the energy integral reproduces the pivot wavelength SVO publishes for them.
    zero_point_vega
        Flux density of a Vega magnitude of 0 (Jy), as given by SVO.
    mag_system
        System of the magnitudes the survey publishes: ``"Vega"`` or ``"AB"``.
    wavelength_eff
        SVO effective wavelength (Vega-weighted mean), Angstrom.
    description
        SVO description of the filter.
    """

    id: str
    wavelength: u.Quantity
    transmission: np.ndarray
    detector: Detector
    weighting: Detector
    zero_point_vega: u.Quantity
    mag_system: MagSystem
    wavelength_eff: u.Quantity
    description: str = ""
    facility: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"Filter({self.id!r}, pivot={self.wavelength_pivot.to(u.um):.4g}, "
            f"{self.weighting}-weighted, {self.mag_system})"
        )

    # ---- characteristic wavelengths -------------------------------------------------------
    @property
    def wavelength_pivot(self) -> u.Quantity:
        """Pivot wavelength: the one that converts band-mean f_lambda to f_nu exactly.

        Photon weighting: ``sqrt(int T lam dlam / int T / lam dlam)``; energy weighting:
        ``sqrt(int T dlam / int T / lam**2 dlam)`` (Tokunaga & Vacca 2005; Bessell & Murphy 2012).
        """
        if "pivot" not in self._cache:
            self._cache["pivot"] = _pivot(self.wavelength.to_value(u.AA), self.transmission, self.weighting) * u.AA
        return self._cache["pivot"]

    @property
    def wavelength_min(self) -> u.Quantity:
        """Shortest wavelength where the transmission exceeds 1% of its peak."""
        return self._edge(0)

    @property
    def wavelength_max(self) -> u.Quantity:
        """Longest wavelength where the transmission exceeds 1% of its peak."""
        return self._edge(-1)

    def _edge(self, index: int) -> u.Quantity:
        above = np.flatnonzero(self.transmission > 0.01 * self.transmission.max())
        return self.wavelength[above[index]]

    # ---- zero points and conversions -------------------------------------------------------
    def zero_point(self, system: MagSystem | None = None) -> u.Quantity:
        """Flux density (Jy) of magnitude 0 in ``system`` (default: the filter's own)."""
        system = _check_system(system or self.mag_system)
        return AB_ZERO_POINT if system == "AB" else self.zero_point_vega

    def mag_to_flux(
        self, mag: float | np.ndarray | u.Quantity, system: MagSystem | None = None
    ) -> u.Quantity:
        """Flux density in Jy of magnitudes ``mag`` in ``system`` (default: the filter's own).

        Example
        -------
        >>> get_filter("WISE/WISE.W1").mag_to_flux(1.0)           # doctest: +FLOAT_CMP
        <Quantity 123.2298... Jy>
        """
        mag = _as_magnitude(mag)
        return self.zero_point(system) * 10.0 ** (-0.4 * mag)

    def flux_to_mag(self, flux: u.Quantity, system: MagSystem | None = None) -> np.ndarray:
        """Magnitudes of flux densities ``flux`` (any f_nu or f_lambda unit) in ``system``.

        f_lambda is converted to f_nu at the pivot wavelength. Non-positive fluxes give NaN.
        """
        if not isinstance(flux, u.Quantity):
            raise TypeError(
                f"flux for {self.id} must be an astropy Quantity with a unit (e.g. 0.5 * u.Jy), "
                f"not a bare {type(flux).__name__}"
            )
        fnu = flux.to(u.Jy, equivalencies=u.spectral_density(self.wavelength_pivot))
        ratio = (fnu / self.zero_point(system)).to_value(u.dimensionless_unscaled)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ratio > 0, -2.5 * np.log10(np.where(ratio > 0, ratio, 1.0)), np.nan)

    def flam_to_fnu(self, flam: u.Quantity) -> u.Quantity:
        """Convert a band-mean f_lambda to f_nu (Jy) at the pivot wavelength."""
        pivot = self.wavelength_pivot.to_value(u.AA)
        value = flam.to_value(u.erg / u.s / u.cm**2 / u.AA)
        return value * pivot**2 / const.c.to_value(u.AA / u.s) * 1e23 * u.Jy


def _pivot(lam: np.ndarray, t: np.ndarray, weighting: str) -> float:
    if weighting == "photon":
        return float(np.sqrt(np.trapezoid(t * lam, lam) / np.trapezoid(t / lam, lam)))
    return float(np.sqrt(np.trapezoid(t, lam) / np.trapezoid(t / lam**2, lam)))


def _check_system(system: str) -> MagSystem:
    normalised = {"vega": "Vega", "ab": "AB"}.get(str(system).lower())
    if normalised is None:
        raise ValueError(f"unknown magnitude system {system!r}: use 'Vega' or 'AB'")
    return normalised  # type: ignore[return-value]


def _as_magnitude(mag: float | np.ndarray | u.Quantity) -> np.ndarray:
    if isinstance(mag, u.Quantity):
        if mag.unit in (u.mag, u.dimensionless_unscaled):
            return np.asarray(mag.value, dtype=float)
        raise u.UnitsError(f"magnitudes must be dimensionless or in mag, not {mag.unit}")
    return np.asarray(mag, dtype=float)


# ---- reading SVO files ----------------------------------------------------------------------


def filter_data_dir() -> pathlib.Path:
    """Folder of the SVO filter XML files shipped with the package."""
    return pathlib.Path(str(importlib.resources.files("explore.astro") / "data" / "filters"))


def read_svo_filter(path: str | pathlib.Path) -> Filter:
    """Read one SVO Filter Profile Service VOTable (XML) file.

    Parameters
    ----------
    path
        An XML file as served by ``http://svo2.cab.inta-csic.es/theory/fps/fps.php?ID=...``.

    Returns
    -------
    Filter
    """
    path = pathlib.Path(path)
    try:
        params, lam_values, trans_values = _parse_votable(path)
    except (ET.ParseError, OSError, ValueError) as exc:
        raise ValueError(f"{path.name} is not a readable SVO filter VOTable: {exc}") from exc

    def text(name: str, default: str = "") -> str:
        return params.get(name, default)

    fid = text("filterID")
    if not fid:
        raise ValueError(f"{path.name} has no filterID parameter: is it an SVO filter file?")
    unit = u.Unit(text("WavelengthUnit", "Angstrom") or "Angstrom")
    lam = lam_values * unit
    trans = np.clip(trans_values, 0.0, None)
    order = np.argsort(lam.value, kind="stable")
    lam, trans = lam[order].to(u.AA), trans[order]

    zp_unit = u.Unit(text("ZeroPointUnit", "Jy") or "Jy")
    zp = float(params["ZeroPoint"]) * zp_unit
    if text("MagSys", "Vega") != "Vega":
        raise ValueError(f"{path.name}: expected a Vega zero point, found MagSys={text('MagSys')}")
    detector: Detector = "energy" if text("DetectorType", "1").strip() == "0" else "photon"
    weighting: Detector = detector
    published_pivot = float(params.get("WavelengthPivot", np.nan) or np.nan)
    if np.isfinite(published_pivot):
        lam_a = lam.to_value(u.AA)
        errors = {w: abs(_pivot(lam_a, trans, w) / published_pivot - 1) for w in ("photon", "energy")}
        best = min(errors, key=errors.get)
        if errors[best] < 1e-3:
            weighting = best  # type: ignore[assignment]
    system: MagSystem = "AB" if fid.upper().startswith(_AB_FACILITIES) else "Vega"
    lam_eff = float(params.get("WavelengthEff", np.nan)) * u.AA
    return Filter(
        id=fid,
        wavelength=lam,
        transmission=trans,
        detector=detector,
        weighting=weighting,
        zero_point_vega=zp.to(u.Jy, equivalencies=u.spectral_density(lam_eff)),
        mag_system=system,
        wavelength_eff=lam_eff,
        description=text("Description"),
        facility=text("Facility"),
    )


def _parse_votable(path: pathlib.Path) -> tuple[dict[str, str], np.ndarray, np.ndarray]:
    """PARAMs and the (Wavelength, Transmission) TABLEDATA of an SVO filter VOTable.

    A small dedicated reader: ``astropy.io.votable`` reads these files correctly but takes ~80 ms each.
    """
    root = ET.parse(path).getroot()
    params: dict[str, str] = {}
    fields: list[str] = []
    rows: list[list[str]] = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "PARAM":
            params.setdefault(element.get("name", ""), element.get("value", ""))
        elif tag == "FIELD":
            fields.append(element.get("name", ""))
        elif tag == "TR":
            rows.append([(td.text or "").strip() for td in element])
    if "Wavelength" not in fields or "Transmission" not in fields:
        raise ValueError(f"no Wavelength/Transmission fields (found {fields})")
    data = np.array(rows, dtype=float)
    return params, data[:, fields.index("Wavelength")], data[:, fields.index("Transmission")]


def _normalise(name: str) -> str:
    name = re.sub(r"\.xml$", "", name.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^0-9a-z]", "", name.lower())


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """Map normalised spellings and file stems to filter ids (reads only the id of every file)."""
    index: dict[str, str] = {}
    pattern = re.compile(r'name="filterID"\s+value="([^"]+)"')
    for path in sorted(filter_data_dir().glob("*.xml")):
        head = path.read_text(errors="replace")[:4000]
        match = pattern.search(head)
        if match is None:
            continue
        fid = match.group(1)
        index[_normalise(fid)] = fid
        index[_normalise(path.stem)] = fid
        _PATHS[fid] = path
    return index


_PATHS: dict[str, pathlib.Path] = {}


def available_filters() -> list[str]:
    """SVO ids of every shipped filter, sorted."""
    return sorted(set(_index().values()))


def resolve_filter_id(name: str) -> str:
    """The canonical SVO id of ``name`` (case, ``/`` or ``.`` separators and ``.xml`` ignored).

    Raises
    ------
    UnknownFilterError
        With the closest known ids as suggestions.
    """
    index = _index()
    key = _normalise(str(name))
    if key in index:
        return index[key]
    close = difflib.get_close_matches(str(name), available_filters(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see explore.astro.filters.available_filters()"
    raise UnknownFilterError(f"unknown filter id {name!r}{hint}")


@functools.cache
def _load(fid: str) -> Filter:
    return read_svo_filter(_PATHS[fid])


def get_filter(name: str) -> Filter:
    """The :class:`Filter` named ``name`` (an SVO id or a spelling variant of one)."""
    return _load(resolve_filter_id(name))


def get_filters(names: Iterable[str]) -> list[Filter]:
    """Several filters at once, in the given order."""
    return [get_filter(n) for n in names]


def pivot_wavelengths(filters: Sequence[Filter]) -> u.Quantity:
    """Pivot wavelengths of ``filters`` as one Quantity array (micron)."""
    return u.Quantity([f.wavelength_pivot.to(u.um) for f in filters])
