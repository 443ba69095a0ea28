"""Photometric catalogues around Gaia positions: a registry, archive queries, and cross-matching.

* :data:`CATALOGUES`: Gaia DR3, 2MASS, AllWISE, GALEX, AKARI (IRC, FIS), Herschel/PACS, Pan-STARRS,
  SDSS, APASS, Hipparcos and Tycho-2 with their VizieR tables, coordinate columns, epochs, match radii
  and bands (each band: its SVO filter id and its value and error columns; magnitudes or fluxes).
* :func:`query_gaia` and :func:`query_catalogue`: ADQL queries through TAP (``pyvo``) to the Gaia archive
  and to VizieR; a cross-match uploads the (epoch-propagated) Gaia positions and returns every
  counterpart within the match radius.
* :func:`propagate`: Gaia positions moved with their proper motions to another epoch.
* :func:`crossmatch`: nearest counterpart within the radius (KD-tree on unit vectors), for archive
  answers and user-uploaded catalogues alike; counterparts closer together than ``duplicate_radius`` are
  taken as duplicate entries of one source and merged by inverse variance, others flag a *blend*;
  a counterpart shared by several Gaia stars flags a blend too.
* :func:`assemble_photometry`: the input table of S-Phot (``id, ra, dec, parallax, parallax_error`` and
  ``<SVO id>``, ``<SVO id>_err``) from Gaia and the matched catalogues, with flux columns converted to
  magnitudes and a band measured by several catalogues merged by inverse variance.

The VizieR column names follow the VizieR tables named in each entry (as of 2024).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from explore.astro.filters import get_filter

__all__ = [
    "CATALOGUES",
    "GAIA_TAP_URL",
    "VIZIER_TAP_URL",
    "Band",
    "Catalogue",
    "CatalogueQueryError",
    "Match",
    "assemble_photometry",
    "crossmatch",
    "get_catalogue",
    "inverse_variance_mean",
    "propagate",
    "query_catalogue",
    "query_gaia",
    "user_catalogue",
]

GAIA_TAP_URL = "https://gea.esac.esa.int/tap-server/tap"
VIZIER_TAP_URL = "http://tapvizier.cds.unistra.fr/TAPVizieR/tap"
GAIA_EPOCH = 2016.0


class CatalogueQueryError(RuntimeError):
    """An archive query that failed (service down, bad answer)."""


@dataclass(frozen=True)
class Band:
    """One photometric band of a catalogue.

    ``unit`` is ``"mag"`` for magnitudes (in the filter's own system) or a flux-density unit
    (``"Jy"``, ``"mJy"``) for catalogues that list fluxes (AKARI, Herschel).
    """

    filter_id: str
    value: str
    error: str | None
    unit: str = "mag"


@dataclass(frozen=True)
class Catalogue:
    """A photometric catalogue: where it lives, where its positions refer to, and its bands."""

    name: str
    title: str
    vizier: str
    ra: str
    dec: str
    epoch: float
    match_radius: u.Quantity
    bands: tuple[Band, ...]
    id_column: str | None = None
    reference: str = ""
    #: extra columns to fetch (e.g. Gaia's parallax and proper motions)
    extra: tuple[str, ...] = field(default_factory=tuple)

    def columns(self) -> list[str]:
        """Every column a query must return."""
        cols = [c for c in (self.id_column, self.ra, self.dec) if c]
        for band in self.bands:
            cols += [c for c in (band.value, band.error) if c]
        return list(dict.fromkeys(cols + list(self.extra)))


def _mag(filter_id: str, value: str, error: str | None = None) -> Band:
    return Band(filter_id, value, error if error is not None else f"e_{value}")


CATALOGUES: dict[str, Catalogue] = {
    c.name: c
    for c in (
        Catalogue(
            "gaia_dr3", "Gaia DR3", "I/355/gaiadr3", "RA_ICRS", "DE_ICRS", 2016.0, 1.0 * u.arcsec,
            (_mag("GAIA/GAIA3.G", "Gmag"), _mag("GAIA/GAIA3.Gbp", "BPmag"), _mag("GAIA/GAIA3.Grp", "RPmag")),
            "Source", "Gaia Collaboration 2023, A&A 674, A1", ("Plx", "e_Plx", "pmRA", "pmDE"),
        ),
        Catalogue(
            "2mass", "2MASS point sources", "II/246/out", "RAJ2000", "DEJ2000", 1999.3, 2.0 * u.arcsec,
            (_mag("2MASS/2MASS.J", "Jmag"), _mag("2MASS/2MASS.H", "Hmag"), _mag("2MASS/2MASS.Ks", "Kmag")),
            "2MASS", "Skrutskie et al. 2006, AJ 131, 1163",
        ),
        Catalogue(
            "allwise", "AllWISE", "II/328/allwise", "RAJ2000", "DEJ2000", 2010.5, 3.0 * u.arcsec,
            tuple(_mag(f"WISE/WISE.W{i}", f"W{i}mag") for i in range(1, 5)),
            "AllWISE", "Cutri et al. 2014, VizieR II/328",
        ),
        Catalogue(
            "galex", "GALEX GR6+7 AIS", "II/335/gr6plus7", "RAJ2000", "DEJ2000", 2007.0, 5.0 * u.arcsec,
            (_mag("GALEX/GALEX.FUV", "FUVmag"), _mag("GALEX/GALEX.NUV", "NUVmag")),
            "objid", "Bianchi et al. 2017, ApJS 230, 24",
        ),
        Catalogue(
            "akari_irc", "AKARI/IRC point sources", "II/297/irc", "RAJ2000", "DEJ2000", 2006.9, 5.0 * u.arcsec,
            (Band("AKARI/IRC.S9W", "S09", "e_S09", "Jy"), Band("AKARI/IRC.L18W", "S18", "e_S18", "Jy")),
            "objID", "Ishihara et al. 2010, A&A 514, A1",
        ),
        Catalogue(
            "akari_fis", "AKARI/FIS bright sources", "II/298/fis", "RAJ2000", "DEJ2000", 2006.9, 20.0 * u.arcsec,
            (Band("AKARI/FIS.N60", "S65", "e_S65", "Jy"), Band("AKARI/FIS.WIDE-S", "S90", "e_S90", "Jy"),
             Band("AKARI/FIS.WIDE-L", "S140", "e_S140", "Jy"), Band("AKARI/FIS.N160", "S160", "e_S160", "Jy")),
            "objID", "Yamamura et al. 2010, VizieR II/298",
        ),
        Catalogue(
            "herschel_pacs70", "Herschel/PACS point sources, 70 um", "VIII/106/hppsc070", "RAJ2000", "DEJ2000", 2011.0,
            6.0 * u.arcsec, (Band("Herschel/Pacs.blue", "Flux", "e_Flux", "mJy"),), "HPPSC070",
            "Marton et al. 2017, arXiv:1705.05693",
        ),
        Catalogue(
            "herschel_pacs100", "Herschel/PACS point sources, 100 um", "VIII/106/hppsc100", "RAJ2000", "DEJ2000", 2011.0,
            7.0 * u.arcsec, (Band("Herschel/Pacs.green", "Flux", "e_Flux", "mJy"),), "HPPSC100",
            "Marton et al. 2017, arXiv:1705.05693",
        ),
        Catalogue(
            "herschel_pacs160", "Herschel/PACS point sources, 160 um", "VIII/106/hppsc160", "RAJ2000", "DEJ2000", 2011.0,
            11.0 * u.arcsec, (Band("Herschel/Pacs.red", "Flux", "e_Flux", "mJy"),), "HPPSC160",
            "Marton et al. 2017, arXiv:1705.05693",
        ),
        Catalogue(
            "panstarrs", "Pan-STARRS1 DR1", "II/349/ps1", "RAJ2000", "DEJ2000", 2012.0, 1.5 * u.arcsec,
            tuple(_mag(f"PAN-STARRS/PS1.{b}", f"{b}mag") for b in "grizy"),
            "objID", "Chambers et al. 2016, arXiv:1612.05560",
        ),
        Catalogue(
            "sdss", "SDSS DR16", "V/154/sdss16", "RA_ICRS", "DE_ICRS", 2005.0, 1.5 * u.arcsec,
            tuple(_mag(f"SLOAN/SDSS.{b}", f"{b}mag") for b in "ugriz"),
            "objID", "Ahumada et al. 2020, ApJS 249, 3",
        ),
        Catalogue(
            "apass", "APASS DR9", "II/336/apass9", "RAJ2000", "DEJ2000", 2012.0, 2.0 * u.arcsec,
            (_mag("Generic/Johnson_UBVRIJHKL.B", "Bmag"), _mag("Generic/Johnson_UBVRIJHKL.V", "Vmag"),
             _mag("SLOAN/SDSS.g", "g'mag"), _mag("SLOAN/SDSS.r", "r'mag"), _mag("SLOAN/SDSS.i", "i'mag")),
            "recno", "Henden et al. 2016, VizieR II/336",
        ),
        Catalogue(
            "hipparcos", "Hipparcos (new reduction)", "I/311/hip2", "RArad", "DErad", 1991.25, 1.0 * u.arcsec,
            (_mag("Hipparcos/Hipparcos.Hp_MvB", "Hpmag"),), "HIP", "van Leeuwen 2007, A&A 474, 653",
        ),
        Catalogue(
            "tycho2", "Tycho-2", "I/259/tyc2", "RAmdeg", "DEmdeg", 2000.0, 1.5 * u.arcsec,
            (_mag("TYCHO/TYCHO.B_MvB", "BTmag"), _mag("TYCHO/TYCHO.V_MvB", "VTmag")),
            "TYC1", "Hog et al. 2000, A&A 355, L27",
        ),
    )
}  # fmt: skip


def get_catalogue(name: str) -> Catalogue:
    """A catalogue of the registry by name (``"2mass"``, ``"allwise"`` ...)."""
    try:
        return CATALOGUES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown catalogue {name!r}; known: {', '.join(CATALOGUES)}") from None


def user_catalogue(
    name: str,
    bands: Mapping[str, str] | Sequence[Band],
    *,
    ra: str = "ra",
    dec: str = "dec",
    epoch: float = 2000.0,
    match_radius: u.Quantity = 2.0 * u.arcsec,
    id_column: str | None = None,
) -> Catalogue:
    """Describe a user-uploaded catalogue for :func:`crossmatch`.

    ``bands`` maps magnitude columns to SVO filter ids (``{"Vmag": "Generic/Johnson_UBVRIJHKL.V"}``,
    errors in ``e_<column>`` or ``<column>_err``), or is a list of :class:`Band`.
    """
    if isinstance(bands, Mapping):
        band_list = tuple(Band(get_filter(fid).id, col, None) for col, fid in bands.items())
    else:
        band_list = tuple(Band(get_filter(b.filter_id).id, b.value, b.error, b.unit) for b in bands)
    return Catalogue(name, name, "", ra, dec, float(epoch), match_radius.to(u.arcsec), band_list, id_column)


# ---- positions ------------------------------------------------------------------------------


def _unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def propagate(
    ra: np.ndarray,
    dec: np.ndarray,
    pmra: np.ndarray,
    pmdec: np.ndarray,
    epoch: float,
    to_epoch: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Move positions (deg) with proper motions (mas/yr; ``pmra`` includes cos dec, as in Gaia) from
    ``epoch`` to ``to_epoch`` (Julian years).

    Linear motion on the tangent plane, renormalised onto the sphere: valid at the poles too, and exact
    to well below a milliarcsecond over decades for any star (radial velocity and parallax changes are
    neglected). Missing proper motions leave a position unchanged.
    """
    ra = np.asarray(ra, float)
    dec = np.asarray(dec, float)
    dt = to_epoch - epoch
    pmra = np.nan_to_num(np.asarray(pmra, float))
    pmdec = np.nan_to_num(np.asarray(pmdec, float))
    a, d = np.radians(ra), np.radians(dec)
    p = _unit_vectors(ra, dec)
    e_ra = np.column_stack([-np.sin(a), np.cos(a), np.zeros_like(a)])
    e_dec = np.column_stack([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    mas = np.pi / 180 / 3.6e6
    moved = p + (pmra[:, None] * e_ra + pmdec[:, None] * e_dec) * mas * dt
    moved /= np.linalg.norm(moved, axis=1)[:, None]
    new_dec = np.degrees(np.arcsin(np.clip(moved[:, 2], -1, 1)))
    new_ra = np.degrees(np.arctan2(moved[:, 1], moved[:, 0])) % 360.0
    return new_ra, new_dec


# ---- cross-matching -------------------------------------------------------------------------


@dataclass
class Match:
    """The result of :func:`crossmatch` for N target stars.

    ``index`` is the row of the nearest counterpart (-1 if none), ``separation`` its distance (arcsec),
    ``n_candidates`` the number of catalogue sources within the radius, ``duplicates`` the rows taken
    as duplicate entries of the same source (merged), and ``blend`` whether the photometry may mix two
    stars (another source within the radius, or a counterpart shared with another target).
    """

    index: np.ndarray
    separation: np.ndarray
    n_candidates: np.ndarray
    duplicates: list[list[int]]
    blend: np.ndarray


def crossmatch(
    ra: np.ndarray,
    dec: np.ndarray,
    cat_ra: np.ndarray,
    cat_dec: np.ndarray,
    radius: u.Quantity,
    *,
    duplicate_radius: u.Quantity = 0.3 * u.arcsec,
) -> Match:
    """Match targets to a catalogue (positions in deg, both at the same epoch).

    Parameters
    ----------
    ra, dec
        Targets (e.g. Gaia positions propagated to the catalogue's epoch).
    cat_ra, cat_dec
        Catalogue positions.
    radius
        Match radius.
    duplicate_radius
        Candidates closer than this to the nearest one are duplicate entries of the same source.
    """
    n = len(ra)
    r = radius.to_value(u.rad)
    chord = 2 * math.sin(r / 2)
    index = np.full(n, -1)
    separation = np.full(n, np.nan)
    n_cand = np.zeros(n, int)
    duplicates: list[list[int]] = [[] for _ in range(n)]
    blend = np.zeros(n, bool)
    if n == 0 or len(cat_ra) == 0:
        return Match(index, separation, n_cand, duplicates, blend)
    targets = _unit_vectors(np.asarray(ra, float), np.asarray(dec, float))
    cat = _unit_vectors(np.asarray(cat_ra, float), np.asarray(cat_dec, float))
    tree = cKDTree(cat)
    dup = 2 * math.sin(duplicate_radius.to_value(u.rad) / 2)
    candidates = tree.query_ball_point(targets, chord)
    for i, cand in enumerate(candidates):
        if not cand:
            continue
        cand = np.asarray(cand)
        dist = np.linalg.norm(cat[cand] - targets[i], axis=1)
        order = np.argsort(dist)
        cand, dist = cand[order], dist[order]
        index[i] = cand[0]
        separation[i] = np.degrees(2 * np.arcsin(dist[0] / 2)) * 3600
        close = np.linalg.norm(cat[cand] - cat[cand[0]], axis=1) <= dup
        duplicates[i] = [int(c) for c in cand[close][1:]]
        n_cand[i] = len(cand)
        blend[i] = bool((~close).any())
    # a counterpart claimed by several targets cannot separate them
    matched = index[index >= 0]
    shared = np.bincount(matched, minlength=len(cat_ra)) > 1
    blend |= (index >= 0) & shared[np.maximum(index, 0)]
    return Match(index, separation, n_cand, duplicates, blend)


def inverse_variance_mean(values: np.ndarray, errors: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted mean and its error, ignoring NaN values or errors."""
    values = np.asarray(values, float)
    errors = np.asarray(errors, float)
    ok = np.isfinite(values) & np.isfinite(errors) & (errors > 0)
    w = np.where(ok, 1.0 / np.where(ok, errors, 1.0) ** 2, 0.0)
    total = w.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, (w * np.where(ok, values, 0.0)).sum(axis=axis) / total, np.nan)
        err = np.where(total > 0, 1.0 / np.sqrt(total), np.nan)
    return mean, err


def _band_values(table: Table, band: Band, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes and errors of ``band`` at ``rows`` (NaN where missing); fluxes converted."""

    def column(name: str | None) -> np.ndarray:
        if name is None or name not in table.colnames:
            alt = f"{band.value}_err" if name == f"e_{band.value}" else None
            if alt and alt in table.colnames:
                name = alt
            else:
                return np.full(len(rows), np.nan)
        data = np.ma.filled(np.ma.asarray(table[name]).astype(float), np.nan)
        return np.where(rows >= 0, data[np.maximum(rows, 0)], np.nan)

    value, error = column(band.value), column(band.error or f"e_{band.value}")
    if band.unit == "mag":
        return value, error
    filt = get_filter(band.filter_id)
    unit = u.Unit(band.unit)
    mag = filt.flux_to_mag(np.where(value > 0, value, np.nan) * unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = 2.5 / np.log(10) * np.abs(error / value)
    return mag, np.where(np.isfinite(mag), err, np.nan)


def assemble_photometry(
    gaia: Table,
    matched: Mapping[str, tuple[Catalogue, Table]],
    *,
    duplicate_radius: u.Quantity = 0.3 * u.arcsec,
) -> Table:
    """Build S-Phot's input table from Gaia sources and catalogue answers.

    Parameters
    ----------
    gaia
        Gaia sources with ``source_id`` (or ``id``), ``ra``, ``dec`` (deg, epoch 2016.0), ``pmra``,
        ``pmdec`` (mas/yr), ``parallax``, ``parallax_error`` (mas) and optionally Gaia magnitudes under
        their SVO ids.
    matched
        For each catalogue name, its :class:`Catalogue` and the table of its sources near the targets
        (an archive answer or a user upload).

    Returns
    -------
    Table
        ``id, ra, dec, parallax, parallax_error``, per band ``<SVO id>`` and ``<SVO id>_err`` (a band
        given by several catalogues is their inverse-variance mean), and per catalogue ``<name>_sep``
        (arcsec) and ``<name>_blend``.
    """
    lower = {c.lower(): c for c in gaia.colnames}
    id_col = lower.get("source_id") or lower.get("id")
    if id_col is None or "ra" not in lower or "dec" not in lower:
        raise ValueError("the Gaia table needs source_id (or id), ra and dec columns")
    n = len(gaia)
    ra = np.asarray(gaia[lower["ra"]], float)
    dec = np.asarray(gaia[lower["dec"]], float)

    def opt(name: str) -> np.ndarray:
        return np.asarray(gaia[lower[name]], float) if name in lower else np.full(n, np.nan)

    out = Table()
    out["id"] = np.asarray(gaia[id_col]).astype(str)
    out["ra"] = ra
    out["dec"] = dec
    out["parallax"] = opt("parallax")
    out["parallax_error"] = opt("parallax_error")
    values: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for fid in ("GAIA/GAIA3.G", "GAIA/GAIA3.Gbp", "GAIA/GAIA3.Grp"):
        if fid in gaia.colnames:
            err = np.asarray(gaia[f"{fid}_err"], float) if f"{fid}_err" in gaia.colnames else np.full(n, np.nan)
            values.setdefault(fid, []).append((np.asarray(gaia[fid], float), err))
    for name, (catalogue, table) in matched.items():
        if len(table) == 0:
            out[f"{name}_sep"] = np.full(n, np.nan)
            out[f"{name}_blend"] = np.zeros(n, bool)
            continue
        pra, pdec = propagate(ra, dec, opt("pmra"), opt("pmdec"), GAIA_EPOCH, catalogue.epoch)
        cat_ra = np.asarray(table[catalogue.ra], float)
        cat_dec = np.asarray(table[catalogue.dec], float)
        match = crossmatch(pra, pdec, cat_ra, cat_dec, catalogue.match_radius, duplicate_radius=duplicate_radius)
        out[f"{name}_sep"] = match.separation
        out[f"{name}_blend"] = match.blend
        for band in catalogue.bands:
            mag, err = _band_values(table, band, match.index)
            # duplicate entries of the same source: fold them in by inverse variance
            for i, dups in enumerate(match.duplicates):
                if dups:
                    m_d, e_d = _band_values(table, band, np.asarray(dups))
                    mag[i], err[i] = (float(x) for x in inverse_variance_mean(np.r_[mag[i], m_d], np.r_[err[i], e_d]))
            values.setdefault(band.filter_id, []).append((mag, err))
    for fid, pairs in values.items():
        mags = np.column_stack([p[0] for p in pairs])
        errs = np.column_stack([p[1] for p in pairs])
        if mags.shape[1] == 1:
            mean, err = mags[:, 0], errs[:, 0]
        else:
            mean, err = inverse_variance_mean(mags, errs, axis=1)
        out[fid] = mean
        out[f"{fid}_err"] = err
    return out


# ---- archive queries ------------------------------------------------------------------------


def _tap(url: str):
    import pyvo

    return pyvo.dal.TAPService(url)


def query_gaia(
    ra: float,
    dec: float,
    radius: u.Quantity,
    *,
    url: str = GAIA_TAP_URL,
    max_rows: int = 100000,
) -> Table:
    """Gaia DR3 sources in a cone, from the Gaia archive (TAP/ADQL).

    Returns ``source_id, ra, dec, parallax, parallax_error, pmra, pmdec`` and the G, BP, RP magnitudes
    under their SVO ids with errors from the flux signal-to-noise (``1.0857 / (flux / error)``).
    """
    adql = (
        f"SELECT TOP {int(max_rows)} source_id, ra, dec, parallax, parallax_error, pmra, pmdec, "
        "phot_g_mean_mag, phot_g_mean_flux_over_error, phot_bp_mean_mag, phot_bp_mean_flux_over_error, "
        "phot_rp_mean_mag, phot_rp_mean_flux_over_error FROM gaiadr3.gaia_source "
        f"WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {float(ra)}, {float(dec)}, {radius.to_value(u.deg)}))"
    )
    table = _run(url, adql)
    out = Table()
    for name in ("source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmdec"):
        out[name] = table[name]
    for fid, band in (("GAIA/GAIA3.G", "g"), ("GAIA/GAIA3.Gbp", "bp"), ("GAIA/GAIA3.Grp", "rp")):
        out[fid] = np.ma.filled(np.ma.asarray(table[f"phot_{band}_mean_mag"]).astype(float), np.nan)
        snr = np.ma.filled(np.ma.asarray(table[f"phot_{band}_mean_flux_over_error"]).astype(float), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{fid}_err"] = 2.5 / np.log(10) / snr
    return out


def query_catalogue(
    catalogue: Catalogue | str,
    ra: np.ndarray,
    dec: np.ndarray,
    *,
    pmra: np.ndarray | None = None,
    pmdec: np.ndarray | None = None,
    epoch: float = GAIA_EPOCH,
    url: str = VIZIER_TAP_URL,
) -> Table:
    """Every source of ``catalogue`` within its match radius of the targets, from VizieR (TAP upload).

    The target positions are first propagated from ``epoch`` to the catalogue's epoch with the proper
    motions. The answer has the catalogue's columns plus ``target`` (row of the target) and ``dist``
    (arcsec), and goes to :func:`assemble_photometry` or :func:`crossmatch`.
    """
    cat = get_catalogue(catalogue) if isinstance(catalogue, str) else catalogue
    if not cat.vizier:
        raise ValueError(f"catalogue {cat.name!r} has no VizieR table: cross-match it locally with crossmatch()")
    ra = np.asarray(ra, float)
    dec = np.asarray(dec, float)
    if pmra is not None and pmdec is not None:
        ra, dec = propagate(ra, dec, pmra, pmdec, epoch, cat.epoch)
    upload = Table({"target": np.arange(len(ra)), "ra": ra, "dec": dec})
    columns = ", ".join(f'c."{c}"' for c in cat.columns())
    r = cat.match_radius.to_value(u.deg)
    adql = (
        f"SELECT t.target, {columns}, 3600 * DISTANCE(POINT('ICRS', c.\"{cat.ra}\", c.\"{cat.dec}\"), "
        f"POINT('ICRS', t.ra, t.dec)) AS dist FROM \"{cat.vizier}\" AS c JOIN TAP_UPLOAD.targets AS t "
        f"ON 1 = CONTAINS(POINT('ICRS', c.\"{cat.ra}\", c.\"{cat.dec}\"), CIRCLE('ICRS', t.ra, t.dec, {r}))"
    )
    return _run(url, adql, uploads={"targets": upload})


def _run(url: str, adql: str, uploads: dict | None = None) -> Table:
    import pyvo

    try:
        result = _tap(url).run_sync(adql, uploads=uploads)
    except (pyvo.dal.DALServiceError, pyvo.dal.DALQueryError, pyvo.dal.DALFormatError) as exc:
        raise CatalogueQueryError(f"query to {url} failed: {exc}") from exc
    return result.to_table()
