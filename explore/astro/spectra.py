"""A container for many spectra on one wavelength grid, and continuum normalisation.

:class:`Spectra` holds ``N`` spectra of ``P`` pixels: a wavelength grid (an astropy ``Quantity``),
``flux``, ``ivar`` (inverse variance, optional) and ``mask`` (``True`` marks a bad pixel, optional)
arrays of shape ``(N, P)``, and a per-star :class:`~astropy.table.Table` whose ``id`` column names
each spectrum. The arrays may be NumPy arrays, memory maps or Zarr arrays (surveys that do not fit in
memory): :meth:`Spectra.iter_chunks` walks any of them in memory-sized pieces.

Readers for the published formats live in :mod:`explore.astro.readers` and are reached through
``Spectra.read(path, format="apogee-apstar")`` in the astropy style.
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

__all__ = [
    "APOGEE_CHIPS",
    "Spectra",
    "SpectraError",
    "continuum_normalise",
    "snr_of",
]

#: wavelength ranges (vacuum Angstrom) of the three APOGEE detectors, used as continuum segments
APOGEE_CHIPS: tuple[tuple[float, float], ...] = ((15140.0, 15810.0), (15850.0, 16440.0), (16470.0, 16960.0))


class SpectraError(ValueError):
    """Spectra that cannot be used as asked: wrong shapes, grids that differ, no id, all pixels bad."""


def _as_wavelength(wavelength: Any) -> u.Quantity:
    wl = wavelength if isinstance(wavelength, u.Quantity) else u.Quantity(np.asarray(wavelength, float), u.AA)
    if not wl.unit.is_equivalent(u.AA):
        raise SpectraError(f"wavelength has unit {wl.unit}, which is not a length")
    wl = np.atleast_1d(wl)
    if wl.ndim != 1 or wl.size < 2:
        raise SpectraError("wavelength must be a 1D grid of at least two pixels")
    if not np.all(np.diff(wl.value) > 0):
        raise SpectraError("wavelength grid must increase strictly")
    return wl


class Spectra:
    """Spectra on one wavelength grid with their masks and a table of per-star values.

    Parameters
    ----------
    wavelength : Quantity, shape (P,)
        The common wavelength grid (plain numbers are taken as Angstrom).
    flux : array-like, shape (N, P)
        Flux; continuum-normalised if ``normalised`` is true.
    ivar : array-like, shape (N, P), optional
        Inverse variance of the flux; 0 marks a pixel without information.
    mask : array-like of bool, shape (N, P), optional
        ``True`` marks a bad pixel.
    table : Table or mapping, optional
        One row per spectrum; must hold an ``id`` column unless ``ids`` is given.
    ids : sequence of str, optional
        Identifiers; stored as the table's ``id`` column.
    normalised : bool
        Whether the flux is already continuum-normalised.
    meta : dict, optional
        Free metadata (instrument, grid kind, continuum segments ...).

    Raises
    ------
    SpectraError
        If shapes disagree, an id is missing or repeated, or the grid is not increasing.
    """

    def __init__(
        self,
        wavelength: Any,
        flux: Any,
        ivar: Any = None,
        mask: Any = None,
        table: Table | dict[str, Any] | None = None,
        *,
        ids: Sequence[str] | None = None,
        normalised: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.wavelength = _as_wavelength(wavelength)
        if getattr(flux, "ndim", None) is None:
            flux = np.asarray(flux, dtype=np.float32)
        if flux.ndim == 1:
            flux = np.asarray(flux)[None, :]
        if flux.ndim != 2:
            raise SpectraError(f"flux must be 2D (spectra x pixels); got {flux.ndim} dimensions")
        n, p = flux.shape
        if p != self.wavelength.size:
            raise SpectraError(
                f"flux has {p} pixels per spectrum but the wavelength grid has {self.wavelength.size}"
            )
        for name, arr in (("ivar", ivar), ("mask", mask)):
            if arr is not None and tuple(arr.shape) != (n, p) and tuple(np.shape(arr)) != (p,):
                raise SpectraError(f"{name} has shape {tuple(arr.shape)}; flux has {(n, p)}")
        if ivar is not None and np.ndim(ivar) == 1:
            ivar = np.broadcast_to(np.asarray(ivar, np.float32), (n, p))
        if mask is not None and np.ndim(mask) == 1:
            mask = np.broadcast_to(np.asarray(mask, bool), (n, p))
        self.flux = flux
        self.ivar = ivar
        self.mask = mask
        self.normalised = bool(normalised)
        self.meta = dict(meta or {})

        table = Table(table) if table is not None and not isinstance(table, Table) else table
        if table is None:
            table = Table()
        if ids is not None:
            ids = [str(i) for i in ids]
            if len(ids) != n:
                raise SpectraError(f"{len(ids)} ids for {n} spectra")
            table["id"] = ids
        if len(table.colnames) and len(table) != n:
            raise SpectraError(f"the star table has {len(table)} rows for {n} spectra")
        if "id" not in table.colnames:
            raise SpectraError("spectra need an 'id' for each star: give ids= or an 'id' column")
        table["id"] = np.asarray(table["id"]).astype(str)
        if n and len(np.unique(table["id"])) != n:
            values, counts = np.unique(table["id"], return_counts=True)
            raise SpectraError(f"ids must be unique; repeated: {', '.join(values[counts > 1][:5])}")
        self.table = table

    # ---- basic shape -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.flux.shape[0])

    def __repr__(self) -> str:
        wl = self.wavelength
        return (
            f"<Spectra {len(self)} x {self.n_pixels} pixels, {wl[0]:.2f} - {wl[-1]:.2f}"
            f"{', normalised' if self.normalised else ''}>"
        )

    @property
    def n_pixels(self) -> int:
        return int(self.flux.shape[1])

    @property
    def ids(self) -> np.ndarray:
        return np.asarray(self.table["id"])

    @property
    def in_memory(self) -> bool:
        """Whether the arrays are NumPy arrays (not Zarr or other lazy arrays)."""
        return all(a is None or isinstance(a, np.ndarray) for a in (self.flux, self.ivar, self.mask))

    def __getitem__(self, key: Any) -> Spectra:
        """A subset of spectra (an int, slice, index array or boolean array), loaded into memory."""
        if isinstance(key, (int, np.integer)):
            key = [int(key)]
        key = np.asarray(key) if not isinstance(key, slice) else key
        if isinstance(key, np.ndarray) and key.dtype == bool:
            if key.shape != (len(self),):
                raise SpectraError(f"boolean selection of length {key.size} for {len(self)} spectra")
            key = np.flatnonzero(key)

        def take(arr: Any) -> Any:
            if arr is None:
                return None
            if isinstance(key, slice):
                return np.asarray(arr[key])
            if isinstance(arr, np.ndarray):
                return arr[key]
            order = np.argsort(key)  # lazy arrays read fastest in order
            out = np.asarray(arr.get_orthogonal_selection((key[order], slice(None))))
            result = np.empty_like(out)
            result[order] = out
            return result

        return Spectra(
            self.wavelength,
            take(self.flux),
            take(self.ivar),
            take(self.mask),
            self.table[key],
            normalised=self.normalised,
            meta=self.meta,
        )

    def iter_chunks(self, size: int = 10_000) -> Iterator[tuple[slice, Spectra]]:
        """Yield ``(rows, spectra)`` pieces of at most ``size`` spectra, each loaded into memory."""
        for start in range(0, len(self), size):
            rows = slice(start, min(len(self), start + size))
            yield rows, self[rows]

    # ---- pixels ---------------------------------------------------------------------------------
    def bad_pixels(self, rows: slice | None = None) -> np.ndarray:
        """Boolean array ``(N, P)``: masked, non-finite, or zero inverse variance."""
        rows = rows or slice(None)
        flux = np.asarray(self.flux[rows])
        bad = ~np.isfinite(flux)
        if self.mask is not None:
            bad |= np.asarray(self.mask[rows], bool)
        if self.ivar is not None:
            ivar = np.asarray(self.ivar[rows])
            bad |= ~(np.isfinite(ivar) & (ivar > 0))
        return bad

    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio per spectrum: the table's ``snr`` column if present, else
        the median of ``flux * sqrt(ivar)`` over good pixels (NaN without ``ivar``)."""
        for name in ("snr", "SNR"):
            if name in self.table.colnames:
                return np.asarray(self.table[name], float)
        if self.ivar is None:
            return np.full(len(self), np.nan)
        out = np.empty(len(self))
        for rows, chunk in self.iter_chunks():
            out[rows] = snr_of(chunk.flux, chunk.ivar, chunk.bad_pixels())
        return out

    def with_table(self, table: Table) -> Spectra:
        """The same spectra with another star table (same length, with an ``id`` column)."""
        return Spectra(
            self.wavelength, self.flux, self.ivar, self.mask, table, normalised=self.normalised, meta=self.meta
        )

    def normalise(self, **kwargs: Any) -> Spectra:
        """Continuum-normalised spectra (a copy in memory); already normalised spectra come back as they are.

        Keyword arguments go to :func:`continuum_normalise`; the continuum segments default to
        ``meta["segments"]`` (the three APOGEE chips for APOGEE readers).
        """
        if self.normalised:
            return self
        kwargs.setdefault("segments", self.meta.get("segments"))
        flux, ivar, mask = continuum_normalise(
            self.wavelength, np.asarray(self.flux), None if self.ivar is None else np.asarray(self.ivar),
            self.bad_pixels(), **kwargs,
        )
        return Spectra(self.wavelength, flux, ivar, mask, self.table, normalised=True, meta=self.meta)

    def resample(self, wavelength: Any) -> Spectra:
        """Linear interpolation onto another grid; pixels outside the original range or next to a
        bad pixel are masked."""
        new = _as_wavelength(wavelength).to(self.wavelength.unit).value
        old = self.wavelength.value
        pos = np.interp(new, old, np.arange(old.size), left=-1, right=-1)
        outside = pos < 0
        pos = np.clip(pos, 0, old.size - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, old.size - 1)
        frac = (pos - lo).astype(np.float32)
        flux = np.asarray(self.flux, np.float32)
        bad = self.bad_pixels()
        clean = np.where(bad, 0, flux)
        out = clean[:, lo] * (1 - frac) + clean[:, hi] * frac
        mask = bad[:, lo] | bad[:, hi] | outside[None, :]
        ivar = None
        if self.ivar is not None:
            iv = np.asarray(self.ivar, np.float32)
            ivar = np.minimum(iv[:, lo], iv[:, hi])
        return Spectra(
            wavelength if isinstance(wavelength, u.Quantity) else new * self.wavelength.unit,
            out.astype(np.float32), ivar, mask, self.table, normalised=self.normalised, meta=self.meta,
        )

    # ---- combining and I/O ------------------------------------------------------------------------
    @classmethod
    def concatenate(cls, items: Sequence[Spectra]) -> Spectra:
        """Stack spectra that share one wavelength grid; raises :class:`SpectraError` otherwise."""
        if not items:
            raise SpectraError("nothing to concatenate")
        first = items[0]
        for i, s in enumerate(items[1:], start=1):
            if s.n_pixels != first.n_pixels:
                raise SpectraError(
                    f"spectrum set {i} has {s.n_pixels} pixels; the first has {first.n_pixels}: "
                    "resample them onto one grid first (Spectra.resample)"
                )
            if not np.allclose(s.wavelength.to_value(first.wavelength.unit), first.wavelength.value, rtol=1e-7):
                raise SpectraError(f"spectrum set {i} is on a different wavelength grid than the first")
            if s.normalised != first.normalised:
                raise SpectraError("cannot mix continuum-normalised and unnormalised spectra")
        from astropy.table import vstack

        def stack(name: str) -> Any:
            arrays = [getattr(s, name) for s in items]
            if all(a is None for a in arrays):
                return None
            if name == "mask":
                return np.concatenate([np.zeros((len(s), s.n_pixels), bool) if a is None else np.asarray(a)
                                       for s, a in zip(items, arrays, strict=True)])
            fill = 1.0 if name == "ivar" else np.nan
            return np.concatenate([np.full((len(s), s.n_pixels), fill, np.float32) if a is None else
                                   np.asarray(a, np.float32) for s, a in zip(items, arrays, strict=True)])

        table = vstack([s.table for s in items], metadata_conflicts="silent")
        return cls(first.wavelength, stack("flux"), stack("ivar"), stack("mask"), table,
                   normalised=first.normalised, meta=first.meta)

    @classmethod
    def read(cls, source: Any, format: str | None = None, **kwargs: Any) -> Spectra:  # noqa: A002
        """Read spectra with a reader registered in :mod:`explore.astro.readers`.

        ``source`` is a path or a list of paths (stacked into one set); ``format`` is one of
        ``apogee-apstar``, ``apogee-aspcapstar``, ``gaia-rvs``, ``spectra-table``, ``spectra-zarr``,
        or None to identify it from the file.
        """
        from explore.astro import readers

        return readers.read_spectra(source, format=format, **kwargs)

    def write(self, path: str | pathlib.Path, format: str | None = None, **kwargs: Any) -> None:  # noqa: A002
        """Write as a table of spectra (``.fits``, ``.parquet``, ``.ecsv``) or a Zarr store (``.zarr``)."""
        from explore.astro import readers

        readers.write_spectra(self, path, format=format, **kwargs)


def snr_of(flux: np.ndarray, ivar: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
    """Median per-pixel signal-to-noise ``flux * sqrt(ivar)`` over good pixels; NaN if none is good."""
    s = np.asarray(flux, float) * np.sqrt(np.clip(np.asarray(ivar, float), 0, None))
    if bad is not None:
        s = np.where(bad, np.nan, s)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(s, axis=1)


def _segments_for(wavelength: u.Quantity, segments: Any) -> list[np.ndarray]:
    wl = wavelength.to_value(u.AA)
    if segments is None:
        step = np.diff(wl)
        cuts = np.flatnonzero(step > 20 * np.median(step)) + 1
        return [idx for idx in np.split(np.arange(wl.size), cuts) if idx.size]
    out = []
    for lo, hi in segments:
        lo = u.Quantity(lo, u.AA).to_value(u.AA)
        hi = u.Quantity(hi, u.AA).to_value(u.AA)
        idx = np.flatnonzero((wl >= lo) & (wl <= hi))
        if idx.size:
            out.append(idx)
    if not out:
        raise SpectraError("no continuum segment overlaps the wavelength grid")
    return out


def continuum_normalise(
    wavelength: u.Quantity,
    flux: np.ndarray,
    ivar: np.ndarray | None = None,
    bad: np.ndarray | None = None,
    *,
    segments: Sequence[tuple[Any, Any]] | None = None,
    degree: int = 3,
    n_iter: int = 5,
    lower: float = 1.0,
    upper: float = 3.0,
    chunk: int = 2000,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Divide each spectrum by a smooth continuum fitted to its upper envelope.

    In each segment (an APOGEE chip, or the whole grid) a Chebyshev polynomial of ``degree`` is fitted
    by least squares to the good pixels, then refitted ``n_iter`` times keeping only pixels between
    ``lower`` sigma below and ``upper`` sigma above the fit: the asymmetric clip drops absorption
    lines, so the fit follows the continuum rather than the mean flux. All spectra of a chunk are
    fitted at once (one small linear system per spectrum).

    Parameters
    ----------
    wavelength : Quantity, shape (P,)
    flux : ndarray, shape (N, P)
    ivar : ndarray, shape (N, P), optional
        Scaled by ``continuum**2`` so that it stays the inverse variance of the normalised flux.
    bad : ndarray of bool, shape (N, P), optional
        Pixels to ignore in the fit (and keep masked).
    segments : sequence of (low, high), optional
        Wavelength ranges fitted separately (Angstrom if unitless); by default the grid is cut at gaps
        more than 20 pixels wide.
    degree, n_iter, lower, upper : fit settings.
    chunk : int
        Spectra per vectorised batch.

    Returns
    -------
    flux, ivar, mask : the normalised flux (float32), its inverse variance (or None), and the bad-pixel
        mask (input mask, plus pixels outside every segment and where the continuum is not positive).
    """
    flux = np.asarray(flux, np.float32)
    if flux.ndim != 2:
        raise SpectraError("flux must be 2D (spectra x pixels)")
    n, p = flux.shape
    bad = np.zeros((n, p), bool) if bad is None else np.asarray(bad, bool) | ~np.isfinite(flux)
    segs = _segments_for(_as_wavelength(wavelength), segments)
    out = np.full((n, p), np.nan, np.float32)
    mask = np.ones((n, p), bool)
    for idx in segs:
        x = np.linspace(-1, 1, idx.size)
        design = np.polynomial.chebyshev.chebvander(x, degree)  # (p_s, d)
        for start in range(0, n, chunk):
            rows = slice(start, min(n, start + chunk))
            f = np.nan_to_num(flux[rows][:, idx].astype(float))
            good = ~bad[rows][:, idx]
            w = good.astype(float)
            cont = np.zeros_like(f)
            for _ in range(n_iter + 1):
                gram = np.einsum("np,pa,pb->nab", w, design, design)
                rhs = np.einsum("np,pa,np->na", w, design, f)
                gram += 1e-9 * np.eye(degree + 1)
                ok = w.sum(1) > degree + 1
                coef = np.zeros((f.shape[0], degree + 1))
                if ok.any():
                    coef[ok] = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
                cont = coef @ design.T
                resid = np.where(good, f - cont, np.nan)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    sigma = 1.4826 * np.nanmedian(np.abs(resid - np.nanmedian(resid, 1, keepdims=True)), 1)
                sigma = np.nan_to_num(sigma, nan=np.inf)[:, None]
                w = (good & (resid > -lower * sigma) & (resid < upper * sigma)).astype(float)
            positive = cont > 0
            seg_out = np.where(positive, f / np.where(positive, cont, 1), np.nan)
            out[rows, idx[0]: idx[-1] + 1] = seg_out.astype(np.float32)
            mask[rows, idx[0]: idx[-1] + 1] = bad[rows][:, idx] | ~positive | ~ok[:, None]
    new_ivar = None
    if ivar is not None:
        # recompute the continuum as flux / normalised flux where defined: cheaper than storing it per segment
        with np.errstate(all="ignore"):
            cont_full = np.where(mask, 0.0, flux / out)
        new_ivar = np.where(mask, 0.0, np.asarray(ivar, float) * cont_full**2).astype(np.float32)
    out[mask] = np.nan
    return out, new_ivar, mask
