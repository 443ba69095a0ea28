"""Model SEDs for S-Phot: band fluxes of stellar photospheres through any SVO filter.

Three kinds of model share one interface, :class:`SEDModel`:

* :class:`BlackbodyModel`: ``pi B_lambda(Teff)`` integrated through the real filter curves.
* :class:`CK04Model`: the Castelli & Kurucz (2004) ATLAS9 grid as synthetic photometry
  (astroARIADNE's ``model_grid_CK04.dat``, Vines & Jenkins 2022; 35 Teff from 3500 to 12000 K x 11
  logg from 0 to 5 x 8 [M/H] from -2.5 to +0.5, 48 filters; shipped gzipped in ``data/``).
* :class:`SpectralGridModel`: any regular grid of model spectra, integrated through the filters.

Units of the CK04 file. Its values are the surface flux ``F_lambda = pi I`` averaged over each band, in
erg s-1 cm-2 um-1: at Teff = 6000 K the optical bands are within 10% of ``pi B_lambda(6000 K)``
(checked in the tests). The check also shows that its WISE W3/W4 and Herschel PACS columns are off a
photosphere by Teff-independent factors 0.55-2 (a different curve convention in the code that
produced them), so those columns are not used. A filter that is not a trusted grid column is
computed from a *pseudo-spectrum*: the blackbody of the same Teff times the model-to-blackbody ratio,
interpolated in log(lambda) between 17 anchor bands from GALEX FUV to WISE W2 (constant beyond W2,
where photospheres follow the Rayleigh-Jeans slope). The tests check that it predicts grid columns
left out of the anchors to a few per cent.

All band fluxes are *surface* flux densities f_nu (Jy at the stellar surface); an observed flux is
``(R / d)**2`` times it.
"""

from __future__ import annotations

import abc
import functools
import gzip
import importlib.resources
import pathlib
from collections.abc import Callable, Sequence

import astropy.units as u
import numpy as np
from scipy.interpolate import PchipInterpolator

from explore.astro.filters import Filter, get_filter
from explore.astro.photometry import FLAM, band_flux, band_weights, blackbody_flam

__all__ = [
    "BlackbodyModel",
    "CK04Model",
    "GridCoverageError",
    "SEDModel",
    "SpectralGridModel",
    "ck04_path",
    "get_model",
]

#: CK04 grid columns whose curves match the SVO filters of the same band (used as they are)
CK04_COLUMNS = {
    "GALEX_FUV": "GALEX/GALEX.FUV",
    "GALEX_NUV": "GALEX/GALEX.NUV",
    "SkyMapper_u": "SkyMapper/SkyMapper.u",
    "SkyMapper_v": "SkyMapper/SkyMapper.v",
    "SkyMapper_g": "SkyMapper/SkyMapper.g",
    "SkyMapper_r": "SkyMapper/SkyMapper.r",
    "SkyMapper_i": "SkyMapper/SkyMapper.i",
    "SkyMapper_z": "SkyMapper/SkyMapper.z",
    "SDSS_u": "SLOAN/SDSS.u",
    "SDSS_g": "SLOAN/SDSS.g",
    "SDSS_r": "SLOAN/SDSS.r",
    "SDSS_i": "SLOAN/SDSS.i",
    "SDSS_z": "SLOAN/SDSS.z",
    "GROUND_JOHNSON_U": "Generic/Johnson_UBVRIJHKL.U",
    "GROUND_JOHNSON_B": "Generic/Johnson_UBVRIJHKL.B",
    "GROUND_JOHNSON_V": "Generic/Johnson_UBVRIJHKL.V",
    "TYCHO_B_MvB": "TYCHO/TYCHO.B_MvB",
    "TYCHO_V_MvB": "TYCHO/TYCHO.V_MvB",
    "PS1_g": "PAN-STARRS/PS1.g",
    "PS1_r": "PAN-STARRS/PS1.r",
    "PS1_i": "PAN-STARRS/PS1.i",
    "PS1_z": "PAN-STARRS/PS1.z",
    "PS1_y": "PAN-STARRS/PS1.y",
    "2MASS_J": "2MASS/2MASS.J",
    "2MASS_H": "2MASS/2MASS.H",
    "2MASS_Ks": "2MASS/2MASS.Ks",
    "WISE_RSR_W1": "WISE/WISE.W1",
    "WISE_RSR_W2": "WISE/WISE.W2",
}

#: anchors of the pseudo-spectrum, in increasing wavelength
CK04_ANCHORS = (
    "GALEX_FUV", "GALEX_NUV", "SDSS_u", "SkyMapper_v", "GROUND_JOHNSON_B", "SDSS_g",
    "GROUND_JOHNSON_V", "SDSS_r", "SDSS_i", "SDSS_z", "PS1_y", "2MASS_J", "2MASS_H", "2MASS_Ks",
    "WISE_RSR_W1", "WISE_RSR_W2",
)  # fmt: skip

_CK04_UNIT = u.erg / u.s / u.cm**2 / u.um


class GridCoverageError(ValueError):
    """Parameters outside the range a model grid covers."""


@functools.lru_cache(maxsize=256)
def _sampling(filt: Filter, n: int = 400) -> tuple[np.ndarray, np.ndarray, float]:
    """A fine log-spaced wavelength grid (AA) over the filter's support, the integration weights on
    it (:func:`~explore.astro.photometry.band_weights`) and the factor from f_lambda to f_nu (Jy)."""
    lam = filt.wavelength.to_value(u.AA)
    nonzero = np.flatnonzero(filt.transmission > 0)
    lo, hi = lam[max(nonzero[0] - 1, 0)], lam[min(nonzero[-1] + 1, len(lam) - 1)]
    grid = np.geomspace(lo, hi, n)
    weights = band_weights(filt, grid * u.AA)
    to_jy = filt.flam_to_fnu(1.0 * FLAM).to_value(u.Jy)
    return grid, weights, to_jy


def _smooth_band_flux(filt: Filter, spectrum: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """f_nu (Jy) of smooth spectra ``spectrum(lam_AA) -> f_lambda (n, n_lam)`` through ``filt``."""
    grid, weights, to_jy = _sampling(filt)
    return spectrum(grid) @ weights * to_jy


class SEDModel(abc.ABC):
    """A family of photospheric SEDs, parameterised by Teff, logg and [M/H].

    Subclasses implement :meth:`surface_flux`; :meth:`log_flux_table` (what the fitter uses) caches
    the fluxes on a Teff grid for given logg and [M/H].
    """

    name: str = "model"
    #: the Teff range (K) the model covers
    teff_range: tuple[float, float] = (0.0, np.inf)
    #: logg and [M/H] values at which the fitter evaluates templates (the grid nodes)
    logg_nodes: np.ndarray = np.array([4.5])
    feh_nodes: np.ndarray = np.array([0.0])

    @abc.abstractmethod
    def surface_flux(
        self, teff: np.ndarray, logg: np.ndarray, feh: np.ndarray, filters: Sequence[Filter]
    ) -> u.Quantity:
        """Band-mean surface flux densities f_nu, shape ``(n, n_filters)`` (Jy)."""

    def band_flux(
        self,
        teff: float | np.ndarray | u.Quantity,
        filters: Sequence[str | Filter],
        *,
        logg: float | np.ndarray = 4.5,
        feh: float | np.ndarray = 0.0,
    ) -> u.Quantity:
        """Surface band fluxes of stars (any shape of ``teff``, broadcast with logg and feh).

        Returns f_nu in Jy with shape ``teff.shape + (n_filters,)``.
        """
        filts = [f if isinstance(f, Filter) else get_filter(f) for f in filters]
        t = np.asarray(u.Quantity(teff, u.K).value, dtype=float)
        t, g, z = np.broadcast_arrays(t, np.asarray(logg, float), np.asarray(feh, float))
        flux = self.surface_flux(t.ravel(), g.ravel(), z.ravel(), filts)
        return flux.reshape(t.shape + (len(filts),))

    def apparent_magnitude(
        self,
        teff: float | np.ndarray | u.Quantity,
        radius: u.Quantity,
        distance: u.Quantity,
        filters: Sequence[str | Filter],
        *,
        logg: float | np.ndarray = 4.5,
        feh: float | np.ndarray = 0.0,
    ) -> np.ndarray:
        """Apparent magnitudes (each filter in its own system) of stars of given Teff, R and d."""
        filts = [f if isinstance(f, Filter) else get_filter(f) for f in filters]
        flux = self.band_flux(teff, filts, logg=logg, feh=feh)
        dilution = ((radius / distance).to_value(u.dimensionless_unscaled)) ** 2
        fnu = flux * np.asarray(dilution)[..., None]
        return np.stack([f.flux_to_mag(fnu[..., i]) for i, f in enumerate(filts)], axis=-1)

    def log_flux_table(self, teff_grid: np.ndarray, logg: float, feh: float, filter_ids: Sequence[str]) -> np.ndarray:
        """``log10`` surface f_nu (Jy) on ``teff_grid`` for one (logg, [M/H]): shape ``(K, n_filters)``."""
        return _cached_table(self, tuple(np.round(teff_grid, 6)), float(logg), float(feh), tuple(filter_ids))


@functools.lru_cache(maxsize=64)
def _cached_table(model: SEDModel, teff: tuple, logg: float, feh: float, filter_ids: tuple) -> np.ndarray:
    filts = [get_filter(f) for f in filter_ids]
    t = np.asarray(teff)
    flux = model.surface_flux(t, np.full_like(t, logg), np.full_like(t, feh), filts).to_value(u.Jy)
    with np.errstate(divide="ignore"):
        table = np.log10(flux)
    table.setflags(write=False)
    return table


class BlackbodyModel(SEDModel):
    """Blackbodies: ``pi B_lambda(Teff)`` through the filters (logg and [M/H] are ignored)."""

    name = "blackbody"
    teff_range = (1000.0, 100000.0)

    def surface_flux(self, teff, logg, feh, filters) -> u.Quantity:
        out = np.empty((len(teff), len(filters)))
        for j, filt in enumerate(filters):
            out[:, j] = _smooth_band_flux(filt, lambda lam: blackbody_flam(lam * u.AA, teff).value)
        return out * u.Jy

    def __reduce__(self):
        return (BlackbodyModel, ())


class _RegularGrid(SEDModel):
    """Shared interpolation of ``log10`` flux on a regular (log Teff, logg, [M/H]) grid."""

    teff: np.ndarray
    logg: np.ndarray
    feh: np.ndarray

    def _interpolate(self, values: np.ndarray, teff, logg, feh) -> np.ndarray:
        """Interpolate ``values`` (nt, ng, nf, m) at the points: monotone cubic (PCHIP) in log Teff,
        linear in logg and [M/H] (clipped to the grid). Teff outside the grid raises."""
        teff = np.asarray(teff, dtype=float)
        lo, hi = self.teff[0], self.teff[-1]
        if np.any((teff < lo * (1 - 1e-9)) | (teff > hi * (1 + 1e-9))):
            raise GridCoverageError(f"{self.name} covers Teff {lo:.0f}-{hi:.0f} K only")
        x = np.log10(self.teff)
        coef = self._pchip(values)
        xi = np.clip(np.log10(teff), x[0], x[-1])
        i = np.clip(np.searchsorted(x, xi) - 1, 0, len(x) - 2)
        dx = (xi - x[i])[:, None]
        gi, fg = _bracket(self.logg, logg)
        zi, fz = _bracket(self.feh, feh)
        out = np.zeros((len(teff), values.shape[-1]))
        for dg, wg in ((0, 1 - fg), (1, fg)):
            g_index = np.minimum(gi + dg, len(self.logg) - 1)
            for dz, wz in ((0, 1 - fz), (1, fz)):
                z_index = np.minimum(zi + dz, len(self.feh) - 1)
                c = coef[:, i, g_index, z_index, :]  # (4, n, m)
                out += (wg * wz)[:, None] * (((c[0] * dx + c[1]) * dx + c[2]) * dx + c[3])
        return out

    def _pchip(self, values: np.ndarray) -> np.ndarray:
        """Piecewise-cubic coefficients along log Teff, shape (4, nt - 1, ng, nf, m); cached per array."""
        key = id(values)
        cache = self.__dict__.setdefault("_pchip_cache", {})
        if key not in cache or cache[key][0] is not values:
            cache[key] = (values, PchipInterpolator(np.log10(self.teff), values, axis=0).c)
        return cache[key][1]


def _bracket(axis: np.ndarray, value) -> tuple[np.ndarray, np.ndarray]:
    """Index of the grid node below ``value`` and the linear weight of the one above (clipped)."""
    value = np.clip(np.asarray(value, dtype=float), axis[0], axis[-1])
    if len(axis) == 1:
        return np.zeros(value.shape, int), np.zeros(value.shape)
    i = np.clip(np.searchsorted(axis, value) - 1, 0, len(axis) - 2)
    return i, (value - axis[i]) / (axis[i + 1] - axis[i])


class CK04Model(_RegularGrid):
    """Castelli & Kurucz (2004) ATLAS9 synthetic photometry, through any SVO filter.

    Parameters
    ----------
    path
        The grid file (``model_grid_CK04.dat`` or ``.dat.gz``); default: the copy in the package.

    Notes
    -----
    Grid points without a model (low logg at high Teff, beyond the Eddington limit) are filled with the
    nearest logg that has one. Interpolation of log flux is monotone cubic (PCHIP) in log Teff
    (linear interpolation leaves kinks at the Teff nodes that a fit to 3% photometry notices) and linear
    in logg and [M/H]; logg and [M/H] outside the grid are clipped to its edges (a white dwarf is
    modelled at logg 5).
    """

    name = "ck04"

    def __init__(self, path: str | pathlib.Path | None = None) -> None:
        self.path = pathlib.Path(path) if path else ck04_path()
        opener = gzip.open if self.path.suffix == ".gz" else open
        with opener(self.path, "rt") as handle:
            header = handle.readline().lstrip("#").split()
        data = np.loadtxt(self.path)
        if data.shape[1] != len(header):
            raise ValueError(f"{self.path.name}: {len(header)} column names for {data.shape[1]} columns")
        columns = header[3:]
        self.teff, self.logg, self.feh = (np.unique(data[:, i]) for i in range(3))
        shape = (len(self.teff), len(self.logg), len(self.feh))
        if np.prod(shape) != len(data):
            raise ValueError(f"{self.path.name} is not a regular Teff x logg x [Fe/H] grid")
        it = np.searchsorted(self.teff, data[:, 0])
        ig = np.searchsorted(self.logg, data[:, 1])
        iz = np.searchsorted(self.feh, data[:, 2])
        cube = np.full(shape + (len(columns),), np.nan)
        cube[it, ig, iz] = data[:, 3:]
        with np.errstate(divide="ignore", invalid="ignore"):
            logflux = np.where(cube > 0, np.log10(cube), np.nan)
        # a missing model (all bands zero) takes the nearest logg that exists
        missing = np.isnan(logflux).any(axis=-1)
        for i in range(shape[0]):
            for k in range(shape[2]):
                good = np.flatnonzero(~missing[i, :, k])
                if good.size == 0:
                    raise ValueError(f"{self.path.name}: no model at Teff {self.teff[i]}, [Fe/H] {self.feh[k]}")
                for j in np.flatnonzero(missing[i, :, k]):
                    logflux[i, j, k] = logflux[i, good[np.argmin(np.abs(good - j))], k]
        self.columns = columns
        self.filled = missing
        self._logflux = logflux  # log10 erg s-1 cm-2 um-1, band mean f_lambda
        self.teff_range = (float(self.teff[0]), float(self.teff[-1]))
        self.logg_nodes = self.logg
        self.feh_nodes = self.feh
        self._anchor_index = [columns.index(c) for c in CK04_ANCHORS]
        self._anchor_filters = [get_filter(CK04_COLUMNS[c]) for c in CK04_ANCHORS]
        self._anchor_loglam = np.log10([f.wavelength_pivot.to_value(u.AA) for f in self._anchor_filters])

    def __reduce__(self):
        return (CK04Model, (self.path,))

    def grid_flux(self, column: str, teff, logg, feh) -> u.Quantity:
        """The file's own band-mean f_lambda in ``column`` interpolated at the points (erg s-1 cm-2 um-1)."""
        values = self._logflux[..., [self.columns.index(column)]]
        return 10 ** self._interpolate(values, np.asarray(teff, float), logg, feh)[:, 0] * _CK04_UNIT

    def surface_flux(self, teff, logg, feh, filters) -> u.Quantity:
        teff = np.asarray(teff, float)
        logflam = self._interpolate(self._logflux, teff, logg, feh)  # (n, n_columns)
        out = np.empty((len(teff), len(filters)))
        by_filter = {fid: col for col, fid in CK04_COLUMNS.items()}
        log_ratio = None
        for j, filt in enumerate(filters):
            column = by_filter.get(filt.id)
            if column is not None:
                flam = 10 ** logflam[:, self.columns.index(column)] * _CK04_UNIT
                out[:, j] = filt.flam_to_fnu(flam).to_value(u.Jy)
                continue
            if log_ratio is None:
                log_ratio = self._anchor_log_ratio(teff, logflam)
            out[:, j] = self._pseudo_spectrum_flux(teff, log_ratio, filt)
        return out * u.Jy

    @functools.cached_property
    def _anchor_blackbody(self) -> tuple[np.ndarray, np.ndarray]:
        """log10 blackbody band flux in each anchor band on a fine log Teff grid (smooth: interpolable)."""
        log_t = np.linspace(np.log10(self.teff[0]) - 0.01, np.log10(self.teff[-1]) + 0.01, 400)
        table = np.empty((len(log_t), len(self._anchor_filters)))
        for j, filt in enumerate(self._anchor_filters):
            fnu = _smooth_band_flux(filt, lambda lam: blackbody_flam(lam * u.AA, 10**log_t).value)
            # back to band-mean f_lambda in the grid's unit: the ratio is taken in the file's own terms
            flam = fnu / filt.flam_to_fnu(1.0 * _CK04_UNIT).to_value(u.Jy)
            table[:, j] = np.log10(np.maximum(flam, 1e-300))
        return log_t, table

    def _anchor_log_ratio(self, teff: np.ndarray, logflam: np.ndarray) -> np.ndarray:
        """log10(model / blackbody) in each anchor band, shape (n, n_anchors)."""
        log_t, table = self._anchor_blackbody
        x = np.log10(teff)
        pos = np.clip((x - log_t[0]) / (log_t[1] - log_t[0]), 0, len(log_t) - 1.000001)
        k = np.floor(pos).astype(int)
        f = (pos - k)[:, None]
        log_bb = table[k] * (1 - f) + table[k + 1] * f
        return logflam[:, self._anchor_index] - log_bb

    def _pseudo_spectrum_flux(self, teff: np.ndarray, log_ratio: np.ndarray, filt: Filter) -> np.ndarray:
        x = self._anchor_loglam

        def spectrum(lam: np.ndarray) -> np.ndarray:
            xnew = np.clip(np.log10(lam), x[0], x[-1])
            i = np.clip(np.searchsorted(x, xnew), 1, len(x) - 1)
            w = (xnew - x[i - 1]) / (x[i] - x[i - 1])
            ratio = 10 ** (log_ratio[:, i - 1] * (1 - w) + log_ratio[:, i] * w)
            return blackbody_flam(lam * u.AA, teff).value * ratio

        return _smooth_band_flux(filt, spectrum)


class SpectralGridModel(_RegularGrid):
    """Any regular grid of model spectra, integrated through the filters on demand.

    Parameters
    ----------
    teff, logg, feh
        The grid axes (increasing), lengths nt, ng, nf.
    wavelength
        Wavelengths of the spectra, shape ``(n_wave,)``.
    flux
        Surface flux densities (f_lambda or f_nu), shape ``(nt, ng, nf, n_wave)``.
    name
        A short name for messages.
    """

    def __init__(
        self,
        teff: np.ndarray,
        logg: np.ndarray,
        feh: np.ndarray,
        wavelength: u.Quantity,
        flux: u.Quantity,
        name: str = "spectral-grid",
    ) -> None:
        self.teff, self.logg, self.feh = (np.asarray(a, float) for a in (teff, logg, feh))
        expected = (len(self.teff), len(self.logg), len(self.feh), len(wavelength))
        if flux.shape != expected:
            raise ValueError(f"flux has shape {flux.shape}; the axes need {expected}")
        self.wavelength = wavelength
        self.flux = flux
        self.name = name
        self.teff_range = (float(self.teff[0]), float(self.teff[-1]))
        self.logg_nodes, self.feh_nodes = self.logg, self.feh
        self._bands: dict[str, np.ndarray] = {}

    def surface_flux(self, teff, logg, feh, filters) -> u.Quantity:
        for filt in filters:
            if filt.id not in self._bands:
                fnu = band_flux(self.wavelength, self.flux, filt).to_value(u.Jy)
                self._bands[filt.id] = np.log10(np.maximum(fnu, 1e-300))
        values = np.stack([self._bands[f.id] for f in filters], axis=-1)
        return 10 ** self._interpolate(values, np.asarray(teff, float), logg, feh) * u.Jy


def ck04_path() -> pathlib.Path:
    """The CK04 synthetic-photometry grid shipped with the app."""
    return pathlib.Path(str(importlib.resources.files("explore.apps.sphot") / "data" / "model_grid_CK04.dat.gz"))


@functools.lru_cache(maxsize=4)
def get_model(name: str) -> SEDModel:
    """The model called ``name``: ``"ck04"`` or ``"blackbody"`` (cached)."""
    if name == "ck04":
        return CK04Model()
    if name == "blackbody":
        return BlackbodyModel()
    raise ValueError(f"unknown model grid {name!r}: use 'ck04' or 'blackbody'")
