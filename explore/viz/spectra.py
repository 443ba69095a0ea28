"""Spectrum plots: the mean or median spectrum of a set of objects with its 16-84 % band, and a view that
follows the selection of a :class:`explore.viz.linked.LinkedViews`."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh backend, so .opts works without hv.extension)
import numpy as np
import param

from explore.viz.linked import LinkedViews

__all__ = ["SelectionSpectrum", "spectrum_plot", "spectrum_summary"]


def spectrum_summary(flux: np.ndarray, *, statistic: str = "median",
                     band: tuple[float, float] = (16.0, 84.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The central spectrum and its band, pixel by pixel, ignoring NaN (masked pixels).

    Parameters
    ----------
    flux
        ``(n_spectra, n_pixels)``; NaN where a pixel is masked.
    statistic
        ``"median"`` or ``"mean"``.
    band
        The lower and upper percentiles of the band.

    Returns
    -------
    centre, low, high
        Arrays of ``n_pixels`` (NaN where every spectrum is masked).
    """
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', not {statistic!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-masked pixels give NaN, as they should
        centre = np.nanmedian(flux, axis=0) if statistic == "median" else np.nanmean(flux, axis=0)
        low, high = np.nanpercentile(flux, band, axis=0)
    return centre, low, high


def spectrum_plot(wavelength: np.ndarray, flux: np.ndarray, *, statistic: str = "median",
                  band: tuple[float, float] = (16.0, 84.0), title: str = "", xlabel: str = "wavelength",
                  ylabel: str = "flux", color: str = "#1565c0") -> hv.Overlay:
    """The median (or mean) spectrum of ``flux`` rows with the band between two percentiles.

    Example
    -------
    >>> spectrum_plot(wave_angstrom, normalised_flux[selected], xlabel="wavelength (Å)", ylabel="normalised flux")
    """
    centre, low, high = spectrum_summary(flux, statistic=statistic, band=band)
    x = hv.Dimension("wavelength", label=xlabel)
    band_label = f"{band[0]:g}-{band[1]:g} %"
    area = hv.Area((wavelength, low, high), kdims=[x], vdims=[hv.Dimension("low", label=ylabel), "high"],
                   label=band_label).opts(color=color, alpha=0.25, line_alpha=0)
    curve = hv.Curve((wavelength, centre), kdims=[x], vdims=[hv.Dimension("flux", label=ylabel)],
                     label=statistic).opts(color=color, line_width=1.5)
    return (area * curve).opts(title=title, legend_position="top_right", responsive=True, min_height=250)


class SelectionSpectrum(param.Parameterized):
    """The mean or median spectrum of the objects selected in a :class:`LinkedViews`.

    ``spectra(positions)`` returns the ``(n, n_pixels)`` flux of the table rows at ``positions``
    (the app reads them from its own store). Above ``max_spectra`` selected objects, a fixed random
    subset of that size is used and the title says so.
    """

    linked = param.ClassSelector(class_=LinkedViews, doc="whose selection is summarised", precedence=-1)
    statistic = param.Selector(default="median", objects=["median", "mean"])
    max_spectra = param.Integer(default=5000, bounds=(1, None))

    def __init__(self, linked: LinkedViews, wavelength: np.ndarray,
                 spectra: Callable[[np.ndarray], np.ndarray], **params: Any) -> None:
        self._xlabel = params.pop("xlabel", "wavelength")
        self._ylabel = params.pop("ylabel", "flux")
        super().__init__(linked=linked, **params)
        self.wavelength = np.asarray(wavelength)
        self.spectra = spectra

    def positions(self) -> np.ndarray:
        """The rows whose spectra are summarised (all selected, or a fixed random subset)."""
        sel = self.linked.selection
        if len(sel) <= self.max_spectra:
            return sel
        return np.sort(np.random.default_rng(0).choice(sel, self.max_spectra, replace=False))

    @param.depends("statistic", "max_spectra", "linked.selection")
    def plot(self) -> hv.Overlay:
        rows = self.positions()
        n_sel = self.linked.n_selected
        if n_sel == 0:
            empty = np.full((1, len(self.wavelength)), np.nan)
            return spectrum_plot(self.wavelength, empty, statistic=self.statistic, xlabel=self._xlabel,
                                 ylabel=self._ylabel, title="select objects to see their spectrum")
        used = "" if len(rows) == n_sel else f" (a random {len(rows):,} of them)"
        return spectrum_plot(self.wavelength, self.spectra(rows), statistic=self.statistic,
                             xlabel=self._xlabel, ylabel=self._ylabel,
                             title=f"{self.statistic} spectrum of {n_sel:,} selected{used}")
