"""Interstellar extinction laws for photometry, from the ``dust_extinction`` package.

The default law is Gordon et al. (2023, ApJ 950, 86; ``G23``): the average Milky Way extinction
curve from 0.0912 to 32 micron as a function of R(V) = A(V) / E(B-V), default R(V) = 3.1. Beyond
32 micron (Herschel, AKARI/FIS, IRAS 60/100) the curve is continued as ``A(lam) ∝ lam**-2`` from its
value at 32 micron, the slope of the far-infrared dust opacity (e.g. Draine 2003); the extinction there
is below 0.01 A(V), too small to matter for a stellar SED. Other laws of ``dust_extinction`` (``F99``,
``CCM89``, ``G16`` ...) can be asked by name; they are used only inside their own range.

For a filter the ratio A(band) / A(V) is taken at the filter's SVO effective wavelength (the
Vega-weighted mean wavelength). For broad bands and very red or very hot stars the true band-averaged
extinction differs from it by a few per cent of A(band) (McCall 2004), which is small against the
uncertainties of E(B-V) itself.

Example
-------
>>> from explore.astro.extinction import band_extinction_ratio
>>> band_extinction_ratio(["GAIA/GAIA3.G", "2MASS/2MASS.Ks"])        # doctest: +FLOAT_CMP
array([0.93..., 0.10...])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import astropy.units as u
import numpy as np
from dust_extinction import parameter_averages

from explore.astro.filters import Filter, get_filter

__all__ = [
    "DEFAULT_LAW",
    "DEFAULT_RV",
    "a_lambda_over_a_v",
    "av_to_ebv",
    "band_extinction_ratio",
    "ebv_to_av",
    "extinction_law",
]

DEFAULT_LAW = "G23"
DEFAULT_RV = 3.1


@functools.lru_cache(maxsize=16)
def extinction_law(name: str = DEFAULT_LAW, rv: float = DEFAULT_RV):
    """A ``dust_extinction`` R(V)-dependent average law, e.g. ``extinction_law("G23", 3.1)``."""
    cls = getattr(parameter_averages, name, None)
    if cls is None or not isinstance(cls, type):
        raise ValueError(f"unknown extinction law {name!r}: use one of dust_extinction.parameter_averages (G23, F99, CCM89 ...)")
    try:
        return cls(Rv=rv)
    except Exception as exc:  # the models validate Rv with their own exception
        raise ValueError(f"R(V) = {rv} is outside the range of the {name} law: {exc}") from exc


def a_lambda_over_a_v(
    wavelength: u.Quantity, *, law: str = DEFAULT_LAW, rv: float = DEFAULT_RV
) -> np.ndarray:
    """A(lambda) / A(V) at ``wavelength`` (any shape).

    Beyond the law's long-wavelength limit the curve continues as ``lambda**-2``; short of its
    short-wavelength limit a :class:`ValueError` is raised.
    """
    model = extinction_law(law, rv)
    x = np.atleast_1d((1.0 / wavelength.to(u.um)).to_value(1 / u.um)).astype(float)
    x_min, x_max = (float(v) for v in model.x_range)
    if np.any(x > x_max):
        shortest = 1.0 / x.max()
        raise ValueError(f"{law} is defined down to {1 / x_max:.4g} um only; asked at {shortest:.4g} um")
    out = np.empty_like(x)
    inside = x >= x_min
    if inside.any():
        out[inside] = model(x[inside] / u.um)
    if (~inside).any():
        edge = float(model(np.array([x_min]) / u.um)[0])
        out[~inside] = edge * (x[~inside] / x_min) ** 2
    return out.reshape(np.shape(wavelength.value))


def band_extinction_ratio(
    filters: Sequence[str | Filter], *, law: str = DEFAULT_LAW, rv: float = DEFAULT_RV
) -> np.ndarray:
    """A(band) / A(V) of each filter, at its effective wavelength."""
    filts = [f if isinstance(f, Filter) else get_filter(f) for f in filters]
    lam = u.Quantity([f.wavelength_eff.to(u.um) for f in filts])
    return np.atleast_1d(a_lambda_over_a_v(lam, law=law, rv=rv))


def ebv_to_av(ebv: float | np.ndarray, rv: float = DEFAULT_RV) -> np.ndarray:
    """A(V) = R(V) E(B-V)."""
    return np.asarray(ebv, dtype=float) * rv


def av_to_ebv(av: float | np.ndarray, rv: float = DEFAULT_RV) -> np.ndarray:
    """E(B-V) = A(V) / R(V)."""
    return np.asarray(av, dtype=float) / rv
