"""What a selection of stars looks like: its typical spectrum and what sets it apart from the survey.

:func:`selection_spectrum` gives the mean, median and 16-84 % band of the spectra of any selection,
pixel by pixel over good pixels only, using only spectra above a signal-to-noise threshold; it runs
in parallel over pixels (numba), so a selection of 1e5 stars out of 1e6 takes well under a second.

:func:`correlation_ranking` ranks every numeric column of the star table by how strongly it separates
the selection from the whole set (the point-biserial correlation between the column and membership),
with no cap on the number of stars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from astropy.table import Table

from explore.apps.sdisco.quickselect import quickselect
from explore.astro.spectra import Spectra

__all__ = ["SelectionSpectrum", "correlation_ranking", "selection_spectrum"]


@dataclass
class SelectionSpectrum:
    """Pixel-by-pixel statistics of a selection's spectra.

    ``mean``, ``median``, ``p16``, ``p84`` have one value per pixel (NaN where no selected spectrum has
    a good pixel); ``n_good`` counts the spectra contributing at each pixel; ``n_used`` is the number
    of selected spectra above the SNR threshold, ``n_selected`` the size of the selection.
    """

    wavelength: Any
    mean: np.ndarray
    median: np.ndarray
    p16: np.ndarray
    p84: np.ndarray
    n_good: np.ndarray
    n_used: int
    n_selected: int

    def to_table(self) -> Table:
        return Table(
            {"wavelength": self.wavelength, "mean": self.mean, "median": self.median, "p16": self.p16,
             "p84": self.p84, "n_good": self.n_good},
            meta={"n_used": self.n_used, "n_selected": self.n_selected},
        )


@numba.njit(parallel=True, cache=True)
def _pixel_stats(flux, ivar, mask, rows, use_ivar, use_mask):  # noqa: ANN001
    """Mean, 16/50/84 % quantiles and counts per pixel over the given rows, skipping bad pixels."""
    n_pix = flux.shape[1]
    m = rows.size
    mean = np.full(n_pix, np.nan)
    med = np.full(n_pix, np.nan)
    p16 = np.full(n_pix, np.nan)
    p84 = np.full(n_pix, np.nan)
    count = np.zeros(n_pix, np.int64)
    # blocks of pixels per thread: each reads its columns row by row (contiguous slices)
    width = 16
    n_blocks = (n_pix + width - 1) // width
    for blk in numba.prange(n_blocks):
        p0 = blk * width
        p1 = min(n_pix, p0 + width)
        w = p1 - p0
        values = np.empty((w, m), np.float32)
        cnt = np.zeros(w, np.int64)
        for r in range(m):
            i = rows[r]
            for q in range(w):
                v = flux[i, p0 + q]
                if use_ivar and not ivar[i, p0 + q] > 0:
                    continue
                if use_mask and mask[i, p0 + q]:
                    continue
                if math.isfinite(v):
                    values[q, cnt[q]] = v
                    cnt[q] += 1
        for q in range(w):
            c = cnt[q]
            count[p0 + q] = c
            if c == 0:
                continue
            x = values[q, :c]
            s = 0.0
            for v in x:
                s += v
            mean[p0 + q] = s / c
            q3 = _three_quantiles(x)
            p16[p0 + q] = q3[0]
            med[p0 + q] = q3[1]
            p84[p0 + q] = q3[2]
    return mean, med, p16, p84, count


@numba.njit(cache=True)
def _three_quantiles(x):  # noqa: ANN001
    """Exact 16, 50 and 84 % quantiles (NumPy's linear interpolation) of ``x``, by histogram selection.

    One pass bins the values (4096 bins between min and max), the cumulative counts say which bins hold
    the six order statistics needed, a second pass copies just those bins' values, and a quickselect
    inside each small bin finishes. Two simple linear passes instead of repeated partitioning.
    """
    n = x.size
    out = np.empty(3)
    lo_v = x[0]
    hi_v = x[0]
    for v in x:
        if v < lo_v:
            lo_v = v
        if v > hi_v:
            hi_v = v
    if hi_v == lo_v:
        out[:] = lo_v
        return out
    n_bins = 4096
    scale = (n_bins - 1) / (np.float64(hi_v) - np.float64(lo_v))
    counts = np.zeros(n_bins, np.int64)
    for v in x:
        counts[int((np.float64(v) - lo_v) * scale)] += 1
    start = np.empty(n_bins + 1, np.int64)
    start[0] = 0
    for b in range(n_bins):
        start[b + 1] = start[b] + counts[b]
    qs = (0.16, 0.5, 0.84)
    ranks = np.empty(6, np.int64)
    for j in range(3):
        r = int(math.floor(qs[j] * (n - 1)))
        ranks[2 * j] = r
        ranks[2 * j + 1] = min(r + 1, n - 1)
    # the bin of each rank, and a slot (a small buffer) for each distinct bin
    slot_of_bin = np.full(n_bins, -1, np.int64)
    bins = np.empty(6, np.int64)
    n_slots = 0
    slot_bin = np.empty(6, np.int64)
    for j in range(6):
        b = np.searchsorted(start, ranks[j], side="right") - 1
        bins[j] = b
        if slot_of_bin[b] < 0:
            slot_of_bin[b] = n_slots
            slot_bin[n_slots] = b
            n_slots += 1
    offset = np.zeros(n_slots + 1, np.int64)
    for sidx in range(n_slots):
        offset[sidx + 1] = offset[sidx] + counts[slot_bin[sidx]]
    buf = np.empty(offset[n_slots], x.dtype)
    fill = offset[:n_slots].copy()
    for v in x:
        sidx = slot_of_bin[int((np.float64(v) - lo_v) * scale)]
        if sidx >= 0:
            buf[fill[sidx]] = v
            fill[sidx] += 1
    values = np.empty(6)
    for j in range(6):
        sidx = slot_of_bin[bins[j]]
        a = offset[sidx]
        local = a + ranks[j] - start[bins[j]]
        quickselect(buf, a, offset[sidx + 1], local)
        values[j] = buf[local]
    for j in range(3):
        pos = qs[j] * (n - 1)
        frac = pos - math.floor(pos)
        out[j] = values[2 * j] + frac * (values[2 * j + 1] - values[2 * j])
    return out


def selection_spectrum(
    spectra: Spectra,
    selection: Any,
    *,
    snr_min: float = 0.0,
    snr: np.ndarray | None = None,
) -> SelectionSpectrum:
    """Mean, median and 16-84 % band of the spectra of a selection.

    Parameters
    ----------
    spectra : Spectra
        In memory (NumPy arrays); for spectra on disk, pass ``spectra[selection]``.
    selection : array of int indices, or boolean array of length N
    snr_min : float
        Only spectra with ``snr > snr_min`` contribute; those with unknown SNR (NaN) are dropped when
        ``snr_min > 0``.
    snr : ndarray, optional
        SNR per spectrum; defaults to :meth:`Spectra.snr`.

    Returns
    -------
    SelectionSpectrum
    """
    n = len(spectra)
    sel = np.asarray(selection)
    if sel.dtype == bool:
        if sel.shape != (n,):
            raise ValueError(f"boolean selection of length {sel.size} for {n} spectra")
        sel = np.flatnonzero(sel)
    sel = sel.astype(np.int64)
    if sel.size and (sel.min() < 0 or sel.max() >= n):
        raise IndexError(f"selection indices must lie in 0..{n - 1}")
    n_selected = int(sel.size)
    if snr_min > 0:
        snr = spectra.snr() if snr is None else np.asarray(snr, float)
        with np.errstate(invalid="ignore"):
            sel = sel[snr[sel] > snr_min]
    if not spectra.in_memory:
        spectra = spectra[np.sort(sel)]
        sel = np.arange(len(spectra))
    flux = np.asarray(spectra.flux)
    if flux.dtype != np.float32:
        flux = flux.astype(np.float32)
    dummy_f = np.zeros((1, 1), np.float32)
    dummy_b = np.zeros((1, 1), bool)
    ivar = dummy_f if spectra.ivar is None else np.asarray(spectra.ivar)
    mask = dummy_b if spectra.mask is None else np.asarray(spectra.mask, bool)
    mean, med, p16, p84, count = _pixel_stats(flux, ivar, mask, sel, spectra.ivar is not None,
                                              spectra.mask is not None)
    return SelectionSpectrum(spectra.wavelength, mean, med, p16, p84, count, int(sel.size), n_selected)


def correlation_ranking(table: Table | Any, selection: Any, *, method: str = "pearson") -> Table:
    """Rank every numeric column by how strongly it separates the selection from the whole set.

    For each column the point-biserial correlation ``r`` between the column's values and membership
    (1 in the selection, 0 outside) is computed over the rows where the column is finite; with
    ``method="spearman"`` the values are ranked first (robust to outliers and skewed columns).
    ``r > 0`` means the selection has larger values. All columns and all stars are used.

    Parameters
    ----------
    table : astropy Table or pandas DataFrame
    selection : int indices or a boolean array of length ``len(table)``
    method : {"pearson", "spearman"}

    Returns
    -------
    Table with column, r, abs_r, mean_selection, mean_all, n_valid; sorted by ``abs_r``, descending.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")
    if not isinstance(table, Table):
        table = Table.from_pandas(table)
    n = len(table)
    member = np.zeros(n, bool)
    sel = np.asarray(selection)
    if sel.dtype == bool:
        if sel.shape != (n,):
            raise ValueError(f"boolean selection of length {sel.size} for a table of {n} rows")
        member = sel.copy()
    else:
        member[sel.astype(int)] = True
    rows = []
    for name in table.colnames:
        col = table[name]
        if col.ndim != 1 or col.dtype.kind not in "biuf":
            continue
        x = np.asarray(col, float)
        if hasattr(col, "mask") and np.any(col.mask):
            x = np.where(np.asarray(col.mask), np.nan, x)
        ok = np.isfinite(x)
        x, m = x[ok], member[ok]
        if m.all() or not m.any() or x.size < 3:
            continue
        if method == "spearman":
            from scipy.stats import rankdata

            xr = rankdata(x)
        else:
            xr = x
        sx = xr.std()
        if sx == 0:
            continue
        p = m.mean()
        # point-biserial r: difference of group means scaled by the pooled spread
        r = (xr[m].mean() - xr[~m].mean()) / sx * math.sqrt(p * (1 - p))
        rows.append((name, float(r), abs(float(r)), float(x[m].mean()), float(x.mean()), int(x.size)))
    out = Table(rows=rows, names=("column", "r", "abs_r", "mean_selection", "mean_all", "n_valid"),
                dtype=(str, float, float, float, float, int)) if rows else Table(
        names=("column", "r", "abs_r", "mean_selection", "mean_all", "n_valid"),
        dtype=(str, float, float, float, float, int))
    out.sort("abs_r", reverse=True)
    return out
