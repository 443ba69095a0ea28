"""The feature space in which S-Disco measures how weird a spectrum is.

Either the continuum-normalised spectra themselves (bad pixels filled with the survey's median flux at
that pixel, pixels bad in most spectra dropped) or a PCA of them. Distances between spectra in the first
space are Euclidean distances between normalised spectra; the PCA keeps the directions in which the
survey varies most and makes every score faster by the ratio of pixels to components.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA

from explore.astro.spectra import Spectra, SpectraError

__all__ = ["SpectralFeatures", "as_flux_and_bad"]


def as_flux_and_bad(data: Spectra | np.ndarray, rows: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flux (float32) and bad-pixel mask of some rows of spectra or of a plain 2D array (NaN = bad)."""
    rows = rows or slice(None)
    if isinstance(data, Spectra):
        flux = np.asarray(data.flux[rows], np.float32)
        return flux, data.bad_pixels(rows)
    flux = np.asarray(data[rows], np.float32)
    if flux.ndim != 2:
        raise SpectraError(f"expected a 2D array of spectra (stars x pixels), got {flux.ndim} dimensions")
    return flux, ~np.isfinite(flux)


class SpectralFeatures(TransformerMixin, BaseEstimator):
    """Turn spectra into the feature vectors the weirdness scores compare.

    Parameters
    ----------
    space : {"pca", "spectra"}
        ``"spectra"``: the normalised flux itself; ``"pca"``: its first ``n_components`` principal
        components.
    n_components : int
        PCA components (ignored for ``"spectra"``).
    max_bad_fraction : float
        Pixels bad in more than this fraction of the spectra are dropped.
    min_good_fraction : float
        Spectra with fewer good pixels than this fraction of the kept pixels get NaN features (they
        cannot be compared fairly); :attr:`valid_` of the last transform says which.
    fit_sample : int
        At most this many spectra (a random sample) are used to learn fill values and the PCA, so that
        fitting stays fast and works on surveys on disk.
    chunk_size : int
        Spectra per chunk when transforming.
    random_state : int or None

    Attributes
    ----------
    keep_ : ndarray of bool, shape (P,)  pixels used.
    fill_ : ndarray, shape (P_kept,)  value put in bad pixels (median flux of the pixel).
    pca_ : sklearn PCA or None
    n_features_out_ : int
    valid_ : ndarray of bool  spectra of the last ``transform`` with enough good pixels.

    Examples
    --------
    >>> X = SpectralFeatures(space="pca", n_components=32, random_state=0).fit_transform(spectra)
    """

    def __init__(
        self,
        space: Literal["pca", "spectra"] = "pca",
        n_components: int = 32,
        *,
        max_bad_fraction: float = 0.5,
        min_good_fraction: float = 0.5,
        fit_sample: int = 50_000,
        chunk_size: int = 20_000,
        random_state: int | None = None,
    ) -> None:
        self.space = space
        self.n_components = n_components
        self.max_bad_fraction = max_bad_fraction
        self.min_good_fraction = min_good_fraction
        self.fit_sample = fit_sample
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _sample_rows(self, n: int) -> np.ndarray:
        if n <= self.fit_sample:
            return np.arange(n)
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, self.fit_sample, replace=False))

    def fit(self, data: Spectra | np.ndarray, y: Any = None) -> SpectralFeatures:
        """Learn the pixels to keep, their fill values and (for ``"pca"``) the components."""
        if self.space not in ("pca", "spectra"):
            raise ValueError(f"space must be 'pca' or 'spectra', not {self.space!r}")
        n = len(data)
        if n < 2:
            raise SpectraError(f"need at least 2 spectra to compare, got {n}")
        rows = self._sample_rows(n)
        sample = data[rows] if isinstance(data, Spectra) else np.asarray(data)[rows]
        flux, bad = as_flux_and_bad(sample)
        self.keep_ = bad.mean(axis=0) <= self.max_bad_fraction
        if not self.keep_.any():
            raise SpectraError("every pixel is bad in most spectra: nothing to compare")
        flux, bad = flux[:, self.keep_], bad[:, self.keep_]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.fill_ = np.nanmedian(np.where(bad, np.nan, flux), axis=0).astype(np.float32)
        self.fill_ = np.nan_to_num(self.fill_, nan=1.0)
        self.pca_ = None
        if self.space == "pca":
            good_rows = (~bad).mean(axis=1) >= self.min_good_fraction
            filled = np.where(bad, self.fill_, flux)[good_rows]
            n_comp = int(min(self.n_components, filled.shape[0] - 1, filled.shape[1]))
            if n_comp < 1:
                raise SpectraError("too few usable spectra for a PCA")
            self.pca_ = PCA(n_components=n_comp, svd_solver="randomized" if n_comp < 0.5 * min(filled.shape)
                            else "full", random_state=self.random_state).fit(filled)
        self.n_features_out_ = self.pca_.n_components_ if self.pca_ is not None else int(self.keep_.sum())
        return self

    def transform(self, data: Spectra | np.ndarray, progress: Any = None) -> np.ndarray:
        """Feature matrix (float32, C-contiguous), computed chunk by chunk; NaN rows for unusable spectra."""
        n = len(data)
        out = np.empty((n, self.n_features_out_), np.float32)
        self.valid_ = np.zeros(n, bool)
        for start in range(0, n, self.chunk_size):
            rows = slice(start, min(n, start + self.chunk_size))
            flux, bad = as_flux_and_bad(data, rows)
            if flux.shape[1] != self.keep_.size:
                raise SpectraError(f"spectra have {flux.shape[1]} pixels; the features were fitted on {self.keep_.size}")
            flux, bad = flux[:, self.keep_], bad[:, self.keep_]
            valid = (~bad).mean(axis=1) >= self.min_good_fraction
            filled = np.where(bad, self.fill_, flux)
            feats = self.pca_.transform(filled) if self.pca_ is not None else filled
            feats[~valid] = np.nan
            out[rows] = feats
            self.valid_[rows] = valid
            if progress is not None:
                progress(rows.stop / n)
        return out
