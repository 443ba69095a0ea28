"""Readers and writers of stellar spectra, registered by format name in the astropy style.

Formats (``Spectra.read(path, format=...)`` or :func:`read_spectra`):

``apogee-apstar``
    APOGEE apStar files: 8575-pixel log-lambda grid (``CRVAL1 = 4.179``, ``CDELT1 = 6e-6`` in log10
    Angstrom), HDU1-3 flux, error and pixel mask (bitwise); with several visits the first row is the
    combined spectrum. Not normalised.
``apogee-aspcapstar``
    APOGEE aspcapStar files: the same grid, continuum-normalised flux and error in HDU1-2 and the
    ASPCAP results table in HDU4 (Teff, logg, [M/H], [alpha/M] ...; -9999 becomes NaN).
``gaia-rvs``
    Gaia DR3 RVS spectra: the GSP-Spec image form (800 pixels from 846.01 nm in 0.03 nm steps, an image
    of pixels x spectra with [start, step] in the next HDU) and the archive form (2401 pixels from
    846 nm in 0.01 nm steps), either one spectrum per file (columns wavelength, flux, flux_error) or a
    table with ``source_id`` and array columns ``flux`` / ``flux_error``.
``spectra-table``
    FITS, Parquet or ECSV tables with an id column and a 2D ``flux`` column (optional ``ivar``,
    ``flux_error``, ``mask``); the grid is in the table metadata. What :meth:`Spectra.write` writes.
``spectra-zarr``
    A Zarr group with ``flux`` (and ``ivar``, ``mask``) arrays chunked by rows and ``table.parquet``
    beside them: spectra that stay on disk and are read in chunks.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.io.registry import UnifiedIORegistry
from astropy.table import Table

from explore.astro.spectra import APOGEE_CHIPS, Spectra, SpectraError

__all__ = [
    "APOGEE_BAD_BITS",
    "APOGEE_N_PIXELS",
    "RVS_GRIDS",
    "SpectraFormatError",
    "apogee_wavelength",
    "read_apstar",
    "read_aspcapstar",
    "read_gaia_rvs",
    "read_spectra",
    "read_spectra_table",
    "read_spectra_zarr",
    "registry",
    "rvs_wavelength",
    "write_spectra",
    "write_spectra_table",
    "write_spectra_zarr",
]

APOGEE_N_PIXELS = 8575
APOGEE_LOG_START = 4.179
APOGEE_LOG_STEP = 6e-6
#: APOGEE pixel-mask bits treated as bad: BADPIX, CRPIX, SATPIX, UNFIXABLE, BADDARK, BADFLAT, BADERR,
#: SIG_SKYLINE (the ASPCAP "bad pixel" set of DR13)
APOGEE_BAD_BITS = (0, 1, 2, 3, 4, 5, 6, 12)
#: Gaia RVS grids by pixel count: (first pixel, step) in nm
RVS_GRIDS = {800: (846.01, 0.03), 2401: (846.0, 0.01)}
ID_COLUMNS = ("id", "source_id", "apogee_id", "objid", "obj_id", "object_id", "star_id", "name")

registry = UnifiedIORegistry()


class SpectraFormatError(SpectraError):
    """A file that is not in the format it claims, or lacks what the format needs."""


def apogee_wavelength() -> u.Quantity:
    """The 8575-pixel APOGEE log-lambda grid (vacuum Angstrom)."""
    return (10 ** (APOGEE_LOG_START + APOGEE_LOG_STEP * np.arange(APOGEE_N_PIXELS))) * u.AA


def rvs_wavelength(n_pixels: int = 800) -> u.Quantity:
    """A Gaia RVS grid: 800 pixels (GSP-Spec) or 2401 pixels (DR3 archive), in nm."""
    if n_pixels not in RVS_GRIDS:
        raise SpectraFormatError(f"Gaia RVS spectra have 800 or 2401 pixels, not {n_pixels}")
    start, step = RVS_GRIDS[n_pixels]
    return (start + step * np.arange(n_pixels)) * u.nm


def _clean(value: Any) -> float:
    value = float(value)
    return np.nan if value <= -9990 else value


def _path(source: Any) -> pathlib.Path:
    try:
        return pathlib.Path(os.fspath(source))
    except TypeError as exc:
        raise SpectraFormatError(f"expected a file path, got {type(source).__name__}") from exc


def _open_fits(path: pathlib.Path) -> fits.HDUList:
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        return fits.open(path, memmap=False)
    except OSError as exc:
        raise SpectraFormatError(f"{path.name} is not a readable FITS file: {exc}") from exc


# ---- APOGEE ------------------------------------------------------------------------------------------
def _apogee_grid_check(hdu: fits.ImageHDU, path: pathlib.Path, kind: str) -> None:
    n = hdu.header.get("NAXIS1")
    if n != APOGEE_N_PIXELS:
        hint = " is this a visit spectrum (apVisit) or a trimmed grid?" if n else ""
        raise SpectraFormatError(
            f"{path.name}: spectrum has {n} pixels; {kind} files have {APOGEE_N_PIXELS}:{hint}"
        )
    crval, cdelt = hdu.header.get("CRVAL1"), hdu.header.get("CDELT1")
    if crval is not None and (abs(crval - APOGEE_LOG_START) > 1e-9 or abs(cdelt - APOGEE_LOG_STEP) > 1e-12):
        raise SpectraFormatError(f"{path.name}: log-lambda grid starts at {crval} step {cdelt}, not 4.179 / 6e-6")


def read_apstar(source: Any, *, row: int | str = "combined", bad_bits: Sequence[int] = APOGEE_BAD_BITS) -> Spectra:
    """Read one APOGEE apStar file.

    Parameters
    ----------
    source : path
    row : "combined" or int
        With several visits HDU1-3 hold the pixel-weighted combination in row 0, the globally
        weighted one in row 1 and the visits after; ``"combined"`` takes row 0, an int any row.
    bad_bits : pixel-mask bits that make a pixel bad.

    Returns
    -------
    Spectra
        One unnormalised spectrum with its mask (bad bits, zero flux, non-positive error) and a table
        of id, ra, dec, glon, glat, j, h, k, snr, vhelio, nvisits.
    """
    path = _path(source)
    with _open_fits(path) as hdul:
        if len(hdul) < 4:
            raise SpectraFormatError(f"{path.name}: an apStar file has flux, error and mask in HDU1-3")
        _apogee_grid_check(hdul[1], path, "apStar")
        flux, err, bits = (np.asarray(hdul[i].data) for i in (1, 2, 3))
        header = hdul[0].header
    index = 0 if row == "combined" else int(row)
    if flux.ndim == 2:
        if not -flux.shape[0] <= index < flux.shape[0]:
            raise SpectraFormatError(f"{path.name} has {flux.shape[0]} rows; row {index} does not exist")
        flux, err, bits = flux[index], err[index], bits[index]
    bad_mask = sum(1 << b for b in bad_bits)
    flux = flux.astype(np.float32)
    err = err.astype(np.float32)
    bad = ((bits.astype(np.int64) & bad_mask) != 0) | (flux == 0) | ~(err > 0) | ~np.isfinite(flux)
    with np.errstate(divide="ignore"):
        ivar = np.where(bad, 0.0, 1.0 / err.astype(float) ** 2).astype(np.float32)
    table = Table(
        {
            "id": [str(header.get("OBJID", path.stem)).strip()],
            "ra": [float(header.get("RA", np.nan))],
            "dec": [float(header.get("DEC", np.nan))],
            "glon": [float(header.get("GLON", np.nan))],
            "glat": [float(header.get("GLAT", np.nan))],
            "j": [float(header.get("J", np.nan))],
            "h": [float(header.get("H", np.nan))],
            "k": [float(header.get("K", np.nan))],
            "snr": [float(header.get("SNR", np.nan))],
            "vhelio": [float(header.get("VHELIO", np.nan))],
            "nvisits": [int(header.get("NVISITS", 1))],
        }
    )
    return Spectra(apogee_wavelength(), flux[None], ivar[None], bad[None], table, normalised=False,
                   meta={"instrument": "APOGEE", "segments": APOGEE_CHIPS})


ASPCAP_PARAMS = ("teff", "logg", "vmicro", "m_h", "c_m", "n_m", "alpha_m")


def read_aspcapstar(source: Any) -> Spectra:
    """Read one APOGEE aspcapStar file: the continuum-normalised spectrum and its ASPCAP results.

    Pixels with zero flux (chip gaps, pixels ASPCAP masked) or non-positive error are bad. The table
    holds id, ra, dec, glon, glat, j, h, k, snr, teff, logg, vmicro, m_h, c_m, n_m, alpha_m (NaN
    where ASPCAP failed, -9999 in the file), param_chi2 and aspcapflag.
    """
    path = _path(source)
    with _open_fits(path) as hdul:
        if len(hdul) < 5 or not isinstance(hdul[4], fits.BinTableHDU):
            raise SpectraFormatError(f"{path.name}: an aspcapStar file has the ASPCAP results table in HDU4")
        _apogee_grid_check(hdul[1], path, "aspcapStar")
        flux = np.asarray(hdul[1].data, np.float32)
        err = np.asarray(hdul[2].data, np.float32)
        res = hdul[4].data[0]
        names = [n.upper() for n in hdul[4].columns.names]

        def col(name: str, default: Any = np.nan) -> Any:
            return res[name] if name in names else default

        param = np.asarray(col("PARAM", np.full(9, -9999.0)), float)
        row = {
            "id": str(col("APOGEE_ID", path.stem)).strip(),
            "ra": float(col("RA")),
            "dec": float(col("DEC")),
            "glon": float(col("GLON")),
            "glat": float(col("GLAT")),
            "j": _clean(col("J")),
            "h": _clean(col("H")),
            "k": _clean(col("K")),
            "snr": float(np.ravel(col("SNR"))[0]),
        }
        for i, name in enumerate(ASPCAP_PARAMS):
            row[name] = _clean(param[i]) if i < param.size else np.nan
        row["param_chi2"] = _clean(col("PARAM_CHI2"))
        row["aspcapflag"] = int(col("ASPCAPFLAG", 0))
    bad = (flux == 0) | ~(err > 0) | ~np.isfinite(flux) | (err > 1e3)
    with np.errstate(divide="ignore"):
        ivar = np.where(bad, 0.0, 1.0 / err.astype(float) ** 2).astype(np.float32)
    return Spectra(apogee_wavelength(), flux[None], ivar[None], bad[None], Table(rows=[row]), normalised=True,
                   meta={"instrument": "APOGEE", "segments": APOGEE_CHIPS})


# ---- Gaia RVS -----------------------------------------------------------------------------------------
def _rvs_from_arrays(flux: np.ndarray, err: np.ndarray | None, wavelength: u.Quantity, ids: Sequence[str],
                     extra: dict[str, Any] | None = None) -> Spectra:
    flux = np.asarray(flux, np.float32)
    bad = ~np.isfinite(flux)
    ivar = None
    if err is not None:
        err = np.asarray(err, np.float32)
        bad |= ~(err > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.where(bad, 0.0, 1.0 / err.astype(float) ** 2).astype(np.float32)
    table = Table({"id": [str(i) for i in ids], **(extra or {})})
    # DR3 RVS mean spectra are published continuum-normalised
    return Spectra(wavelength, flux, ivar, bad, table, normalised=True, meta={"instrument": "Gaia RVS"})


def read_gaia_rvs(source: Any, *, ids: Sequence[str] | None = None) -> Spectra:
    """Read Gaia RVS spectra (GSP-Spec 800-pixel image, or the 2401-pixel archive form).

    Parameters
    ----------
    source : path
    ids : sequence of str, optional
        Source ids for an image file (which carries none); by default ``<file stem>:<n>``.
    """
    path = _path(source)
    if path.suffix.lower() in (".fits", ".fit", ".fz") or path.name.lower().endswith(".fits.gz"):
        with _open_fits(path) as hdul:
            primary = hdul[0]
            if primary.data is not None and primary.data.ndim in (1, 2):
                data = np.asarray(primary.data, np.float32)
                if data.ndim == 1:
                    data = data[None]
                # GSP-Spec writes pixels x spectra; accept either orientation
                if data.shape[0] in RVS_GRIDS and data.shape[1] not in RVS_GRIDS:
                    data = data.T
                n_pix = data.shape[1]
                if n_pix not in RVS_GRIDS:
                    raise SpectraFormatError(
                        f"{path.name}: image of shape {data.shape}; RVS spectra have 800 or 2401 pixels"
                    )
                wavelength = rvs_wavelength(n_pix)
                if len(hdul) > 1 and hdul[1].data is not None and np.size(hdul[1].data) == 2:
                    start, step = np.ravel(hdul[1].data).astype(float)
                    wavelength = (start + step * np.arange(n_pix)) * u.nm
                ids = list(ids) if ids is not None else [f"{path.stem}:{i}" for i in range(data.shape[0])]
                if len(ids) != data.shape[0]:
                    raise SpectraFormatError(f"{len(ids)} ids for {data.shape[0]} spectra in {path.name}")
                return _rvs_from_arrays(data, None, wavelength, ids)
    try:
        table = Table.read(path)
    except Exception as exc:  # astropy raises many kinds for unreadable tables
        raise SpectraFormatError(f"{path.name} is not a readable RVS spectrum file: {exc}") from exc
    cols = {c.lower(): c for c in table.colnames}
    if "flux" not in cols:
        raise SpectraFormatError(f"{path.name}: no 'flux' column; columns are {', '.join(table.colnames)}")
    flux = np.asarray(table[cols["flux"]], np.float32)
    err = np.asarray(table[cols["flux_error"]], np.float32) if "flux_error" in cols else None
    if flux.ndim == 1:  # one spectrum per file, one row per pixel
        if "wavelength" in cols:
            wl = table[cols["wavelength"]]
            wavelength = wl.quantity if wl.unit is not None else np.asarray(wl, float) * u.nm
        else:
            wavelength = rvs_wavelength(flux.size)
        sid = table.meta.get("source_id", table.meta.get("SOURCE_ID", path.stem))
        return _rvs_from_arrays(flux[None], None if err is None else err[None], wavelength,
                                [str(sid)] if ids is None else ids)
    id_col = next((cols[c] for c in ("source_id", "id") if c in cols), None)
    if id_col is None and ids is None:
        raise SpectraFormatError(f"{path.name}: a table of RVS spectra needs a source_id column")
    ids = [str(v) for v in table[id_col]] if ids is None else ids
    extra = {c: table[c] for c in table.colnames if c not in (id_col, cols["flux"], cols.get("flux_error"))
             and np.ndim(table[c]) == 1}
    return _rvs_from_arrays(flux, err, rvs_wavelength(flux.shape[1]), ids, extra)


# ---- tables of spectra -------------------------------------------------------------------------------
def _grid_meta(wavelength: u.Quantity) -> dict[str, Any]:
    wl = wavelength.value
    unit = wavelength.unit.to_string()
    step = np.diff(wl)
    if np.allclose(step, step[0], rtol=1e-6, atol=0):
        return {"wl_start": float(wl[0]), "wl_step": float(step[0]), "wl_log": False, "wl_unit": unit, "wl_n": wl.size}
    lstep = np.diff(np.log10(wl))
    if np.allclose(lstep, lstep[0], rtol=1e-5, atol=0):
        return {"wl_start": float(np.log10(wl[0])), "wl_step": float(lstep[0]), "wl_log": True, "wl_unit": unit,
                "wl_n": wl.size}
    return {"wavelength": [float(v) for v in wl], "wl_unit": unit}


def _grid_from_meta(meta: dict[str, Any], n_pix: int) -> u.Quantity | None:
    lower = {str(k).lower(): v for k, v in meta.items()}
    unit = u.Unit(lower.get("wl_unit", lower.get("cunit1", "Angstrom")))
    if "wavelength" in lower:
        return np.asarray(lower["wavelength"], float) * unit
    if "wl_start" in lower:
        grid = lower["wl_start"] + lower["wl_step"] * np.arange(n_pix)
        return (10**grid if lower.get("wl_log") else grid) * unit
    if "crval1" in lower and "cdelt1" in lower:
        grid = lower["crval1"] + lower["cdelt1"] * np.arange(n_pix)
        return (10**grid if "LOG" in str(lower.get("ctype1", "")).upper() else grid) * unit
    return None


def read_spectra_table(
    source: Any,
    *,
    id_column: str | None = None,
    flux_column: str = "flux",
    wavelength: u.Quantity | None = None,
    normalised: bool | None = None,
) -> Spectra:
    """Read a table of spectra (FITS, Parquet or ECSV): an id column and a 2D flux column.

    Optional columns ``ivar`` (or ``flux_error``, turned into ivar) and ``mask`` (bool, True = bad);
    every other 1D column goes to the star table. The grid comes from ``wavelength`` or the table
    metadata (``wl_start``/``wl_step``/``wl_log``/``wl_unit``, a ``wavelength`` list, or FITS-style
    ``CRVAL1``/``CDELT1``/``CTYPE1``), and ``normalised`` from the metadata unless given.

    Raises
    ------
    SpectraFormatError
        No id column, no 2D flux column, or no wavelength grid.
    """
    path = _path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix.lower() == ".ecsv":
        import csv

        # ECSV stores each spectrum as one JSON field, longer than the csv module's default limit
        csv.field_size_limit(max(csv.field_size_limit(), 2**30))
    try:
        table = Table.read(path, format="parquet") if path.suffix.lower() == ".parquet" else Table.read(path)
    except Exception as exc:  # astropy raises many kinds for unreadable tables
        raise SpectraFormatError(f"{path.name} is not a readable table: {exc}") from exc
    cols = {c.lower(): c for c in table.colnames}
    if id_column is None:
        id_column = next((cols[c] for c in ID_COLUMNS if c in cols), None)
        if id_column is None:
            raise SpectraFormatError(
                f"{path.name} has no id column (looked for {', '.join(ID_COLUMNS)}); "
                f"pass id_column= one of: {', '.join(table.colnames)}"
            )
    elif id_column not in table.colnames:
        raise SpectraFormatError(f"{path.name} has no column {id_column!r}")
    fcol = cols.get(flux_column.lower())
    if fcol is None:
        raise SpectraFormatError(f"{path.name} has no {flux_column!r} column; columns: {', '.join(table.colnames)}")
    flux = np.asarray(table[fcol], np.float32)
    if flux.ndim != 2:
        raise SpectraFormatError(f"column {fcol!r} of {path.name} must hold one spectrum (an array) per row")
    if wavelength is None:
        wavelength = _grid_from_meta(table.meta, flux.shape[1])
        if wavelength is None and "wavelength" in cols and np.ndim(table[cols["wavelength"]]) == 2:
            wavelength = np.asarray(table[cols["wavelength"]][0], float) * (table[cols["wavelength"]].unit or u.AA)
    if wavelength is None:
        raise SpectraFormatError(f"{path.name} does not say its wavelength grid: pass wavelength=")
    ivar = None
    if "ivar" in cols:
        ivar = np.asarray(table[cols["ivar"]], np.float32)
    elif "flux_error" in cols:
        err = np.asarray(table[cols["flux_error"]], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.where(err > 0, 1 / err**2, 0).astype(np.float32)
    mask = np.asarray(table[cols["mask"]], bool) if "mask" in cols else None
    skip = {fcol, cols.get("ivar"), cols.get("flux_error"), cols.get("mask"), cols.get("wavelength")}
    star = Table({c: table[c] for c in table.colnames if c not in skip and np.ndim(table[c]) == 1})
    if id_column != "id":
        if "id" in star.colnames:
            star.rename_column("id", "id_original")
        star.rename_column(id_column, "id")
    star = star[["id"] + [c for c in star.colnames if c != "id"]]
    if normalised is None:
        normalised = bool({str(k).lower(): v for k, v in table.meta.items()}.get("normalised", False))
    meta = {k: v for k, v in table.meta.items() if k.lower() not in ("wavelength",) and not k.startswith("wl_")}
    meta.pop("normalised", None)
    try:
        return Spectra(wavelength, flux, ivar, mask, star, normalised=normalised, meta=meta)
    except SpectraError as exc:
        raise SpectraFormatError(f"{path.name}: {exc}") from exc


def write_spectra_table(spectra: Spectra, path: str | pathlib.Path, *, overwrite: bool = True) -> None:
    """Write spectra as a table (format from the suffix: .fits, .parquet, .ecsv)."""
    path = pathlib.Path(path)
    table = spectra.table.copy(copy_data=False)
    table["flux"] = np.asarray(spectra.flux, np.float32)
    if spectra.ivar is not None:
        table["ivar"] = np.asarray(spectra.ivar, np.float32)
    if spectra.mask is not None:
        table["mask"] = np.asarray(spectra.mask, bool)
    meta = {k: v for k, v in spectra.meta.items() if isinstance(v, (str, int, float, bool))}
    meta.update(_grid_meta(spectra.wavelength))
    meta["normalised"] = spectra.normalised
    table.meta = meta
    fmt = "parquet" if path.suffix.lower() == ".parquet" else None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # HIERARCH cards for long keys
        table.write(path, format=fmt, overwrite=overwrite)


# ---- Zarr ----------------------------------------------------------------------------------------------
def write_spectra_zarr(spectra: Spectra, path: str | pathlib.Path, *, chunk_rows: int = 4096) -> None:
    """Write spectra to a Zarr group (arrays chunked by rows) with the star table as ``table.parquet``."""
    import zarr

    path = pathlib.Path(path)
    group = zarr.open_group(str(path), mode="w")
    n, p = len(spectra), spectra.n_pixels
    for name, dtype in (("flux", "f4"), ("ivar", "f4"), ("mask", "bool")):
        arr = getattr(spectra, name)
        if arr is None:
            continue
        z = group.create_array(name, shape=(n, p), chunks=(min(chunk_rows, max(n, 1)), p), dtype=dtype)
        for rows, _ in ((slice(s, min(n, s + chunk_rows)), None) for s in range(0, n, chunk_rows)):
            z[rows] = np.asarray(arr[rows])
    attrs = _grid_meta(spectra.wavelength)
    attrs["normalised"] = spectra.normalised
    attrs["meta"] = {k: v for k, v in spectra.meta.items() if isinstance(v, (str, int, float, bool))}
    group.attrs.update(attrs)
    spectra.table.write(path / "table.parquet", format="parquet", overwrite=True)


def read_spectra_zarr(source: Any) -> Spectra:
    """Open a Zarr group written by :func:`write_spectra_zarr`; the arrays stay on disk."""
    import zarr

    path = _path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such Zarr store: {path}")
    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for a folder that is not a group
        raise SpectraFormatError(f"{path.name} is not a Zarr group of spectra: {exc}") from exc
    if "flux" not in group:
        raise SpectraFormatError(f"{path.name} holds no 'flux' array")
    flux = group["flux"]
    attrs = dict(group.attrs)
    wavelength = _grid_from_meta(attrs, flux.shape[1])
    if wavelength is None:
        raise SpectraFormatError(f"{path.name} does not say its wavelength grid")
    table_path = path / "table.parquet"
    if not table_path.is_file():
        raise SpectraFormatError(f"{path.name} has no table.parquet with the star ids")
    table = Table.read(table_path, format="parquet")
    return Spectra(wavelength, flux, group["ivar"] if "ivar" in group else None,
                   group["mask"] if "mask" in group else None, table,
                   normalised=bool(attrs.get("normalised", False)), meta=attrs.get("meta", {}))


# ---- registry ------------------------------------------------------------------------------------------
def _fits_header(path: pathlib.Path) -> tuple[fits.Header, fits.Header | None] | None:
    try:
        with fits.open(path, memmap=True) as hdul:
            return hdul[0].header.copy(), hdul[1].header.copy() if len(hdul) > 1 else None
    except Exception:  # not FITS: the identifier says no
        return None


def _is_fits(path: pathlib.Path) -> bool:
    return path.suffix.lower() in (".fits", ".fit") or path.name.lower().endswith(".fits.gz")


def _identify_apstar(origin: str, path: Any, fileobj: Any, *args: Any, **kwargs: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)) or not _is_fits(pathlib.Path(path)):
        return False
    p = pathlib.Path(path)
    if p.name.startswith("apStar"):
        return True
    headers = _fits_header(p)
    return bool(headers and "OBJID" in headers[0] and headers[1] is not None
                and headers[1].get("NAXIS1") == APOGEE_N_PIXELS and "NVISITS" in headers[0])


def _identify_aspcap(origin: str, path: Any, fileobj: Any, *args: Any, **kwargs: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)) or not _is_fits(pathlib.Path(path)):
        return False
    return pathlib.Path(path).name.startswith("aspcapStar")


def _identify_rvs(origin: str, path: Any, fileobj: Any, *args: Any, **kwargs: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)) or not _is_fits(pathlib.Path(path)):
        return False
    headers = _fits_header(pathlib.Path(path))
    if not headers:
        return False
    h0 = headers[0]
    return h0.get("NAXIS", 0) in (1, 2) and any(h0.get(f"NAXIS{i}") in RVS_GRIDS for i in (1, 2))


def _identify_table(origin: str, path: Any, fileobj: Any, *args: Any, **kwargs: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        return False
    p = pathlib.Path(path)
    if p.suffix.lower() in (".parquet", ".ecsv"):
        return True
    if _is_fits(p):
        headers = _fits_header(p)
        return bool(headers and headers[1] is not None and headers[1].get("XTENSION") == "BINTABLE"
                    and not p.name.startswith(("apStar", "aspcapStar")))
    return False


def _identify_zarr(origin: str, path: Any, fileobj: Any, *args: Any, **kwargs: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        return False
    p = pathlib.Path(path)
    return p.suffix.lower() == ".zarr" or (p.is_dir() and (p / "zarr.json").is_file())


for _name, _reader, _ident in (
    ("apogee-apstar", read_apstar, _identify_apstar),
    ("apogee-aspcapstar", read_aspcapstar, _identify_aspcap),
    ("gaia-rvs", read_gaia_rvs, _identify_rvs),
    ("spectra-table", read_spectra_table, _identify_table),
    ("spectra-zarr", read_spectra_zarr, _identify_zarr),
):
    registry.register_reader(_name, Spectra, _reader)
    registry.register_identifier(_name, Spectra, _ident)


def read_spectra(source: Any, format: str | None = None, **kwargs: Any) -> Spectra:  # noqa: A002
    """Read spectra from a path, or from a list of paths stacked into one set.

    ``format`` names a registered reader (``registry.get_formats(Spectra)`` lists them); None
    identifies each file.
    """
    if isinstance(source, (list, tuple)):
        items = [read_spectra(s, format=format, **kwargs) for s in source]
        return Spectra.concatenate(items)
    path = _path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if format is None:
        found = registry.identify_format("read", Spectra, str(path), None, [str(path)], {})
        if not found:
            raise SpectraFormatError(
                f"{path.name}: not a known spectra format; give format= one of {', '.join(_FORMATS)}"
            )
        # several identifiers may claim a FITS file; the most specific one is listed first in _FORMATS
        format = min(found, key=_FORMATS.index)  # noqa: A001
    if format not in _FORMATS:
        raise SpectraFormatError(f"unknown spectra format {format!r}; known: {', '.join(_FORMATS)}")
    return registry.get_reader(format, Spectra)(str(path), **kwargs)


_FORMATS = ("apogee-apstar", "apogee-aspcapstar", "gaia-rvs", "spectra-table", "spectra-zarr")


def write_spectra(spectra: Spectra, path: str | pathlib.Path, format: str | None = None, **kwargs: Any) -> None:  # noqa: A002
    """Write spectra: ``spectra-zarr`` for ``.zarr`` paths, else ``spectra-table``."""
    path = pathlib.Path(path)
    fmt = format or ("spectra-zarr" if path.suffix.lower() == ".zarr" else "spectra-table")
    if fmt == "spectra-zarr":
        write_spectra_zarr(spectra, path, **kwargs)
    elif fmt == "spectra-table":
        write_spectra_table(spectra, path, **kwargs)
    else:
        raise SpectraFormatError(f"cannot write format {fmt!r}; use spectra-table or spectra-zarr")
