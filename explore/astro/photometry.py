"""Synthetic photometry: spectra integrated through filter curves.

The band-mean flux density of a spectrum f_lambda through a filter T is

* photon weighting (CCDs): ``<f_lam> = int f_lam T lam dlam / int T lam dlam``
* energy weighting (bolometers): ``<f_lam> = int f_lam T dlam / int T dlam``

and ``<f_nu> = <f_lam> lam_p**2 / c`` at the pivot wavelength ``lam_p``, which makes the AB
magnitude of a flat f_nu spectrum exactly its f_nu whatever the filter (Bessell & Murphy 2012,
PASP 124, 140; Tokunaga & Vacca 2005). Which weighting applies is the filter's
:attr:`~explore.astro.filters.Filter.weighting`.

Every function takes many spectra at once: ``flux`` may have any leading shape, the last axis running
along ``wavelength``.

Example
-------
>>> import astropy.units as u, numpy as np
>>> from explore.astro.filters import get_filter
>>> lam = np.geomspace(1000, 1e6, 20000) * u.AA
>>> flat = np.full(lam.shape, 3631.0) * u.Jy                   # AB magnitude 0 everywhere
>>> synthetic_magnitude(lam, flat, get_filter("SLOAN/SDSS.r"), system="AB")   # doctest: +FLOAT_CMP
array(0.)
"""

from __future__ import annotations

from collections.abc import Sequence

import astropy.constants as const
import astropy.units as u
import numpy as np

from explore.astro.filters import Filter, MagSystem

__all__ = [
    "FLAM",
    "band_flux",
    "band_weights",
    "band_fluxes",
    "blackbody_flam",
    "synthetic_magnitude",
]

#: the f_lambda unit used inside this module
FLAM = u.erg / u.s / u.cm**2 / u.AA

_C2 = (const.h * const.c / const.k_B).to_value(u.AA * u.K)  # second radiation constant, AA K
_C_AA = const.c.to_value(u.AA / u.s)
_C1 = (2 * np.pi * const.h * const.c**2).to_value(u.erg / u.s / u.cm**2 * u.AA**4)


def blackbody_flam(wavelength: u.Quantity, teff: u.Quantity | float | np.ndarray) -> u.Quantity:
    """Surface flux ``pi B_lambda(T)`` of blackbodies, erg s-1 cm-2 AA-1.

    Parameters
    ----------
    wavelength
        Wavelengths, shape ``(n_wave,)``.
    teff
        Temperatures (K), any shape ``S``; the result has shape ``S + (n_wave,)``.
    """
    lam = np.asarray(wavelength.to_value(u.AA), dtype=float)
    t = np.asarray(u.Quantity(teff, u.K).value, dtype=float)[..., None]
    with np.errstate(over="ignore"):
        return _C1 / lam**5 / np.expm1(_C2 / (lam * t)) * FLAM


def _interp_rows(x: np.ndarray, y: np.ndarray, xnew: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row of ``y`` (last axis along ``x``) at ``xnew``, vectorised."""
    i = np.clip(np.searchsorted(x, xnew), 1, len(x) - 1)
    w = (xnew - x[i - 1]) / (x[i] - x[i - 1])
    return y[..., i - 1] * (1.0 - w) + y[..., i] * w


def _as_flam(wavelength: u.Quantity, flux: u.Quantity) -> np.ndarray:
    if not isinstance(flux, u.Quantity):
        raise TypeError("flux must be an astropy Quantity in f_lambda or f_nu units")
    try:
        if flux.unit.is_equivalent(FLAM):
            return flux.to_value(FLAM)
        return flux.to_value(FLAM, equivalencies=u.spectral_density(wavelength))
    except u.UnitConversionError as exc:
        raise u.UnitsError(f"flux unit {flux.unit} is not a flux density (f_lambda or f_nu)") from exc


def band_flux(
    wavelength: u.Quantity,
    flux: u.Quantity,
    filt: Filter,
    *,
    unit: u.UnitBase = u.Jy,
) -> u.Quantity:
    """Band-mean flux density of spectra through one filter.

    Parameters
    ----------
    wavelength
        Increasing wavelengths of the spectra, shape ``(n_wave,)``.
    flux
        Flux densities (f_lambda or f_nu), shape ``(..., n_wave)``.
    filt
        The filter.
    unit
        Unit of the result: an f_nu unit (default Jy) or an f_lambda unit.

    Returns
    -------
    Quantity
        Shape ``(...)``.

    Raises
    ------
    ValueError
        If the spectrum does not cover the filter.
    """
    lam = np.asarray(wavelength.to_value(u.AA), dtype=float)
    if lam.ndim != 1 or np.any(np.diff(lam) <= 0):
        raise ValueError("wavelength must be one-dimensional and strictly increasing")
    flam = _as_flam(wavelength, flux)
    f_lam = filt.wavelength.to_value(u.AA)
    f_t = filt.transmission
    lo, hi = filt.wavelength_min.to_value(u.AA), filt.wavelength_max.to_value(u.AA)
    if lam[0] > lo or lam[-1] < hi:
        raise ValueError(
            f"the spectrum ({lam[0]:.4g}-{lam[-1]:.4g} AA) does not cover filter {filt.id} "
            f"({lo:.4g}-{hi:.4g} AA)"
        )
    inside = (lam > f_lam[0]) & (lam < f_lam[-1])
    grid = np.union1d(f_lam, lam[inside])
    grid = grid[(grid >= lam[0]) & (grid <= lam[-1])]
    t = np.interp(grid, f_lam, f_t, left=0.0, right=0.0)
    spec = flam if np.array_equal(grid, lam) else _interp_rows(lam, flam, grid)
    weight = t * grid if filt.weighting == "photon" else t
    mean_flam = np.trapezoid(spec * weight, grid, axis=-1) / np.trapezoid(weight, grid)
    if unit == u.Jy:  # the common case, without the (slow) unit equivalency machinery
        pivot = filt.wavelength_pivot.to_value(u.AA)
        return mean_flam * pivot**2 / _C_AA * 1e23 * u.Jy
    return (mean_flam * FLAM).to(unit, equivalencies=u.spectral_density(filt.wavelength_pivot))


def band_weights(filt: Filter, wavelength: u.Quantity) -> np.ndarray:
    """Weights ``w`` such that the band-mean f_lambda of a spectrum sampled at ``wavelength`` is
    ``flam @ w`` (trapezoid rule, the filter curve interpolated linearly).

    For smooth spectra (blackbodies, pseudo-spectra) sampled finely over the filter this is a
    matrix product over many spectra at once; tabulated model spectra should use :func:`band_flux`,
    which integrates on the union of both samplings.
    """
    lam = np.asarray(wavelength.to_value(u.AA), dtype=float)
    t = np.interp(lam, filt.wavelength.to_value(u.AA), filt.transmission, left=0.0, right=0.0)
    weight = t * lam if filt.weighting == "photon" else t
    dx = np.diff(lam)
    trap = np.zeros_like(lam)
    trap[:-1] += dx / 2
    trap[1:] += dx / 2
    w = weight * trap
    total = w.sum()
    if total <= 0:
        raise ValueError(f"the wavelengths {lam[0]:.4g}-{lam[-1]:.4g} AA miss filter {filt.id}")
    return w / total


def band_fluxes(
    wavelength: u.Quantity,
    flux: u.Quantity,
    filters: Sequence[Filter],
    *,
    unit: u.UnitBase = u.Jy,
) -> u.Quantity:
    """Band-mean flux densities through several filters: shape ``(..., n_filters)``."""
    columns = [band_flux(wavelength, flux, f, unit=unit).to_value(unit) for f in filters]
    return np.stack(columns, axis=-1) * unit


def synthetic_magnitude(
    wavelength: u.Quantity,
    flux: u.Quantity,
    filt: Filter,
    system: MagSystem | None = None,
) -> np.ndarray:
    """Magnitude of spectra through ``filt`` in ``system`` (default: the filter's own)."""
    return filt.flux_to_mag(band_flux(wavelength, flux, filt), system)
