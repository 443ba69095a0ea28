"""Fit stellar SEDs: Teff, radius, luminosity and extinction of many stars at once, and their excess.

The model of star i in band b, in magnitudes, is

    m_ib = M_b(Teff) + mu_i + A_V,i * R_b

where ``M_b(Teff) = -2.5 log10(F_b(Teff) / ZP_b)`` is the model surface flux in the band's own
magnitude system, ``mu = -2.5 log10((R/d)**2)`` the dilution, and ``R_b = A_b / A_V`` the extinction
law at the band's effective wavelength (:mod:`explore.astro.extinction`). For a fixed Teff the model is
*linear* in ``mu`` and ``A_V``, so their least-squares values and the chi-square follow in closed form
from a few weighted sums. Those sums for every star and every Teff of a dense grid are matrix
products ``(stars x bands) @ (bands x Teff)``, so the whole sample is fitted without a Python loop
per star:

1. chi2(Teff) profiled over mu (and A_V >= 0 when fitted) on a log-spaced Teff grid (300-400
   points), for all stars of a chunk at once;
2. the minimum refined by a parabola through the three lowest grid points; the 1-sigma Teff
   interval where the profile (scaled by chi2_red when that exceeds 1) rises by 1;
3. logg from the radius and an assumed mass (``logg = 4.438 + log M - 2 log R``), and further passes
   (until logg settles to 0.05 dex) with templates mixed linearly between the two grid logg values
   around each star's logg: the mix enters the matrix products as a per-star weight, and stars are
   grouped by their pair of logg nodes (a loop over at most 10 groups, not over stars);
4. iterative outlier rejection: while the worst band of a star deviates by more than
   ``clip_sigma`` and enough bands remain, drop it and refit (only the stars concerned);
5. per-band excess significance ``(f_obs - f_model) / sigma_f`` for every band, rejected or not,
   and infrared / ultraviolet excess flags.

This follows the approach of PySSED (McDonald et al. 2024, RASTI 3, 89) with a grid search
instead of a per-star Nelder-Mead minimisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table

from explore.apps.sphot.models import SEDModel, get_model
from explore.astro.extinction import DEFAULT_LAW, DEFAULT_RV, band_extinction_ratio
from explore.astro.filters import UnknownFilterError, get_filter, resolve_filter_id

__all__ = [
    "Photometry",
    "SEDFitter",
    "fit_photometry",
    "photometry_from_table",
]

T_SUN = 5772.0  # K, IAU 2015 B3 nominal effective temperature
LOGG_SUN = 4.438
PC_IN_RSUN = (1 * u.pc).to_value(u.R_sun)
LN10 = np.log(10.0)

#: names of the non-band input columns
RESERVED = ("id", "ra", "dec", "parallax", "parallax_error", "av", "ebv", "feh", "logg")

ExtinctionInput = str | np.ndarray | Callable[..., np.ndarray] | None
ProgressFn = Callable[[float, str], None]


# ---- input ----------------------------------------------------------------------------------


@dataclass
class Photometry:
    """Magnitudes of N stars in B bands, ready for the fitter.

    ``mag`` and ``mag_err`` have shape ``(N, B)``, NaN where a star has no measurement; magnitudes are
    in each filter's own system (Vega, or AB for GALEX, SDSS, Pan-STARRS, SkyMapper).
    """

    ids: np.ndarray
    filter_ids: list[str]
    mag: np.ndarray
    mag_err: np.ndarray
    ra: np.ndarray | None = None
    dec: np.ndarray | None = None
    parallax: np.ndarray | None = None
    parallax_error: np.ndarray | None = None
    av: np.ndarray | None = None
    feh: np.ndarray | None = None
    #: one message per problem column (unknown filter, fluxes for magnitudes, missing errors ...)
    column_messages: list[str] = field(default_factory=list)
    #: per-star notes found while reading (index -> text)
    star_messages: dict[int, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def _numeric(table: Table, name: str) -> np.ndarray | None:
    try:
        col = table[name]
        data = np.ma.filled(np.ma.asarray(col).astype(float), np.nan)
    except (TypeError, ValueError):
        return None
    return np.asarray(data, dtype=float)


def photometry_from_table(table: Table, *, default_error: float | None = 0.1) -> Photometry:
    """Read the input table of ``explore sphot fit``.

    Columns: ``id``, ``ra``, ``dec``, optional ``parallax`` and ``parallax_error`` (mas), optional
    ``av`` or ``ebv`` (extinction from outside) and ``feh``; per band a magnitude column named by its
    SVO filter id and ``<filter id>_err``. Problems are reported per column in
    :attr:`Photometry.column_messages`, never by failing the whole table.

    Parameters
    ----------
    table
        The input table.
    default_error
        Error (mag) assumed for a band without an error column or a star without an error value;
        ``None`` drops such measurements instead.
    """
    lower = {name.lower(): name for name in table.colnames}
    n = len(table)
    messages: list[str] = []
    star_messages: dict[int, list[str]] = {}
    ids = np.asarray(table[lower["id"]]).astype(str) if "id" in lower else np.arange(n).astype(str)
    if "id" not in lower:
        messages.append("no 'id' column: stars are numbered from 0")

    def optional(name: str) -> np.ndarray | None:
        return _numeric(table, lower[name]) if name in lower else None

    bands: dict[str, tuple[str, np.ndarray]] = {}
    error_names = {name for name in table.colnames if name.lower().endswith("_err")}
    for name in table.colnames:
        if name.lower() in RESERVED or name in error_names:
            continue
        try:
            fid = resolve_filter_id(name)
        except UnknownFilterError as exc:
            if "/" in name or "." in name:
                messages.append(f"column {name!r}: {exc}; column ignored")
            else:
                messages.append(f"column {name!r} is neither a known input column nor an SVO filter id; ignored")
            continue
        if fid in bands:
            messages.append(f"column {name!r}: band {fid} already read from column {bands[fid][0]!r}; ignored")
            continue
        values = _numeric(table, name)
        if values is None:
            messages.append(f"column {name!r} ({fid}) is not numeric; ignored")
            continue
        bands[fid] = (name, values)

    filter_ids = list(bands)
    mag = np.full((n, len(filter_ids)), np.nan)
    err = np.full((n, len(filter_ids)), np.nan)
    for j, fid in enumerate(filter_ids):
        name, values = bands[fid]
        mag[:, j] = values
        err_name = next((e for e in error_names if e.lower() == f"{name.lower()}_err"), None)
        if err_name is None:
            err_name = next((e for e in error_names if _same_filter(e[:-4], fid)), None)
        if err_name is not None:
            errors = _numeric(table, err_name)
            err[:, j] = errors if errors is not None else np.nan
        elif default_error is None:
            messages.append(f"column {name!r}: no error column {name}_err; band not used")
            mag[:, j] = np.nan
            continue
        else:
            messages.append(f"column {name!r}: no error column {name}_err; an error of {default_error} mag is assumed")
            err[:, j] = default_error
        missing = np.isfinite(mag[:, j]) & ~(err[:, j] > 0)
        for i in np.flatnonzero(missing):
            if default_error is None:
                star_messages.setdefault(int(i), []).append(f"{fid}: no valid error, band not used")
                mag[i, j] = np.nan
            else:
                star_messages.setdefault(int(i), []).append(f"{fid}: no valid error, {default_error} mag assumed")
                err[i, j] = default_error

    _reject_flux_columns(mag, err, filter_ids, [bands[f][0] for f in filter_ids], messages)

    av = optional("av")
    if av is None and "ebv" in lower:
        av = optional("ebv") * DEFAULT_RV
    return Photometry(
        ids=ids,
        filter_ids=filter_ids,
        mag=mag,
        mag_err=err,
        ra=optional("ra"),
        dec=optional("dec"),
        parallax=optional("parallax"),
        parallax_error=optional("parallax_error"),
        av=av,
        feh=optional("feh"),
        column_messages=messages,
        star_messages=star_messages,
    )


def _same_filter(name: str, fid: str) -> bool:
    try:
        return resolve_filter_id(name) == fid
    except UnknownFilterError:
        return False


def _reject_flux_columns(
    mag: np.ndarray, err: np.ndarray, filter_ids: list[str], names: list[str], messages: list[str]
) -> None:
    """Blank columns whose values are flux densities rather than magnitudes (in place).

    Stellar magnitudes lie between about -2 and 30, and a star's magnitudes in different bands
    differ by a few magnitudes (up to ~10 between GALEX FUV and the infrared). A column whose median
    exceeds 35 (mJy, uJy, counts) or lies more than 8 mag below the star's other bands (fluxes in Jy or
    erg s-1 cm-2 A-1 of stars fainter than mag 8) is taken to hold fluxes.
    """
    if mag.shape[1] == 0:
        return
    for j, fid in enumerate(filter_ids):
        values = mag[:, j]
        finite = np.isfinite(values)
        if not finite.any():
            continue
        median = float(np.median(values[finite]))
        others = np.delete(mag, j, axis=1)
        reason = None
        if median > 35:
            reason = f"median {median:.4g} is no stellar magnitude"
        elif others.shape[1] and np.isfinite(others[finite]).any():
            with np.errstate(all="ignore"), _quiet():
                star_level = np.nanmedian(others[finite], axis=1)
            offset = values[finite] - star_level
            offset = offset[np.isfinite(offset)]
            if offset.size and np.median(offset) < -8:
                reason = f"median {median:.4g} while the same stars are ~{np.nanmedian(star_level):.3g} mag in the other bands"
        if reason:
            messages.append(
                f"column {names[j]!r} ({fid}) looks like flux densities, not magnitudes ({reason}); "
                "convert with explore.astro.filters.get_filter(...).flux_to_mag; column ignored"
            )
            mag[:, j] = np.nan
            err[:, j] = np.nan


class _quiet:
    """Silence numpy's all-NaN slice warnings inside a block."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# ---- the vectorised core ------------------------------------------------------------------


@dataclass
class _Solution:
    """Best fit of a set of stars (arrays of length n)."""

    log_teff: np.ndarray
    mu: np.ndarray
    av: np.ndarray
    chi2: np.ndarray
    sig_log_teff: np.ndarray
    sig_mu: np.ndarray
    sig_av: np.ndarray
    sig_ln_fbol: np.ndarray
    edge: np.ndarray


def _template_stack(M: np.ndarray, dM: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-hand matrices of :func:`_sums`: ``[1; M.T; dM.T]`` and ``[1; M.T; dM.T; (M**2).T; (M*dM).T; (dM**2).T]``."""
    ones = np.ones((1, len(M)))
    lin = np.ascontiguousarray(np.vstack([ones, M.T, dM.T]))
    quad = np.ascontiguousarray(np.vstack([ones, M.T, dM.T, (M * M).T, (M * dM).T, (dM * dM).T]))
    return lin, quad


def _sums(y: np.ndarray, w: np.ndarray, lin: np.ndarray, quad: np.ndarray, f: np.ndarray, R: np.ndarray, need_av: bool):
    """The weighted sums of every (star, Teff) pair: the only O(n*K*B) work, as matrix products.

    A star's template is ``M + f * dM``, a linear mix of the tables at the two logg nodes around its
    logg. Every per-star factor (weights, magnitudes, the mix f, and the constant terms) goes into the
    left-hand matrix, so each sum over bands is one product with a fixed template stack
    (:func:`_template_stack`) and no (stars x Teff) array is touched more than once:

    ``D0 = sum w (y - M)``, ``DD = sum w (y - M)**2``, ``D1 = sum w R (y - M)`` for every Teff.
    """
    fc = f[:, None]
    Wy = w * y
    S0 = w.sum(axis=1)
    Sy = Wy.sum(axis=1)
    Syy = (Wy * y).sum(axis=1)
    D0 = np.hstack([Sy[:, None], -w, -fc * w]) @ lin
    DD = np.hstack([Syy[:, None], -2 * Wy, -2 * fc * Wy, w, 2 * fc * w, fc**2 * w]) @ quad
    if not need_av:
        return S0, D0, DD, None, None, None
    wR = w * R
    S1 = wR.sum(axis=1)
    S2 = (wR * R).sum(axis=1)
    D1 = np.hstack([(Wy * R).sum(axis=1)[:, None], -wR, -fc * wR]) @ lin
    return S0, D0, DD, S1, S2, D1


def _solve(S0, D0, DD, S1, S2, D1, fit_av: bool, av_max: float):
    """Least-squares mu (and A_V in [0, av_max]) and chi2 from the sums; (n,) or (n, K) shapes.

    With mu profiled out, ``chi2(a) = DD - D0**2/S0 - 2 a E + a**2 F`` where ``E = D1 - S1 D0 / S0`` and
    ``F = S2 - S1**2 / S0``: the bounded A_V is the clipped ``E / F``. Written with in-place operations,
    because these (stars x Teff) arrays are the memory traffic of the whole fit.
    """
    col = (lambda v: v[:, None]) if np.ndim(D0) == 2 else (lambda v: v)
    inv_s0 = col(1.0 / np.where(S0 > 0, S0, np.inf))
    chi2 = D0 * D0
    chi2 *= -inv_s0
    chi2 += DD
    if not fit_av:
        mu = D0 * inv_s0
        return mu, np.zeros_like(mu), chi2
    ratio = col(S1) * inv_s0
    E = D0 * ratio
    np.subtract(D1, E, out=E)
    F = col(S2) - col(S1) * ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        av = np.where(F > 1e-12 * col(S2), E / F, 0.0)
    np.clip(av, 0.0, av_max, out=av)
    E *= -2.0
    tmp = av * F
    tmp += E
    tmp *= av
    chi2 += tmp
    mu = av * col(S1)
    np.subtract(D0, mu, out=mu)
    mu *= inv_s0
    return mu, av, chi2


def _grid_fit(
    y: np.ndarray,
    w: np.ndarray,
    M: np.ndarray,
    dM: np.ndarray,
    f: np.ndarray,
    R: np.ndarray,
    log_t: np.ndarray,
    fit_av: bool,
    av_max: float,
    n_free: int,
) -> _Solution:
    """Fit every star of a chunk on the Teff grid, then refine (see the module docstring)."""
    n, K = len(y), len(log_t)
    # centre the magnitudes per star: better conditioned sums, the same mu up to the offset
    S0 = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.where(S0 > 0, (w * y).sum(axis=1) / S0, 0.0)
    yc = np.where(w > 0, y - offset[:, None], 0.0)
    sums = _sums(yc, w, *_template_stack(M, dM), f, R, fit_av)
    mu_k, av_k, chi2_k = _solve(*sums, fit_av, av_max)
    chi2_k = np.maximum(chi2_k, 0.0)
    rows = np.arange(n)
    k = np.argmin(chi2_k, axis=1)
    edge = (k == 0) | (k == K - 1)
    kc = np.clip(k, 1, K - 2)
    c_m, c_0, c_p = chi2_k[rows, kc - 1], chi2_k[rows, kc], chi2_k[rows, kc + 1]
    curv = c_m - 2 * c_0 + c_p
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(curv > 0, 0.5 * (c_m - c_p) / curv, 0.0)
    delta = np.clip(delta + (k - kc), -0.5 + (k - kc), 0.5 + (k - kc))  # offset from kc, in grid steps
    delta = np.where(edge, (k - kc).astype(float), delta)
    step = log_t[1] - log_t[0]
    x_best = log_t[kc] + delta * step
    # templates at the refined Teff (linear interpolation between the grid nodes) and re-solved mu, A_V
    lo = np.where(delta >= 0, kc, kc - 1)
    frac = np.where(delta >= 0, delta, 1 + delta)
    M_best = M[lo] * (1 - frac[:, None]) + M[lo + 1] * frac[:, None]
    M_best += f[:, None] * (dM[lo] * (1 - frac[:, None]) + dM[lo + 1] * frac[:, None])
    sums_b = _sums_rows(yc, w, M_best, R, fit_av)
    mu_b, av_b, chi2_b = _solve(*sums_b, fit_av, av_max)
    chi2_b = np.maximum(np.minimum(chi2_b, chi2_k[rows, k]), 0.0)

    n_used = (w > 0).sum(axis=1)
    dof = n_used - n_free
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(dof > 0, np.maximum(chi2_b / dof, 1.0), 1.0)
    cs = chi2_k / scale[:, None]
    target = chi2_b / scale + 1.0
    # the 1-sigma interval: every Teff whose profile lies within 1 of the minimum (all minima
    # within Delta chi2 = 1 count, so a double-valued solution gets a wide interval)
    below = cs <= target[:, None]
    below[rows, k] = True
    first = np.argmax(below, axis=1)
    last = K - 1 - np.argmax(below[:, ::-1], axis=1)
    left, right = first - 1, last + 1

    def crossing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ca, cb = cs[rows, a], cs[rows, b]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.clip((target - ca) / (cb - ca), 0.0, 1.0)
        return log_t[a] + np.nan_to_num(f) * (log_t[b] - log_t[a])

    x_lo = np.where(left >= 0, crossing(np.maximum(left, 0), np.maximum(left, 0) + 1), log_t[0])
    x_hi = np.where(right < K, crossing(np.minimum(right, K - 1), np.minimum(right, K - 1) - 1), log_t[-1])
    sig_cross = 0.5 * (x_hi - x_lo)
    # a minimum narrower than two grid cells: the parabola's curvature is more accurate
    with np.errstate(divide="ignore", invalid="ignore"):
        sig_par = step * np.sqrt(2.0 / (curv / scale))
    narrow = (left >= k - 1) & (right <= k + 1) & (curv > 0)
    sig_x = np.where(narrow, sig_par, sig_cross)

    # statistical errors of mu and A_V at fixed Teff, plus their spread over the Teff interval
    S0b = w.sum(axis=1)
    if fit_av:
        S1b, S2b = sums_b[3], sums_b[4]
        det = S0b * S2b - S1b**2
        with np.errstate(divide="ignore", invalid="ignore"):
            var_mu = np.where(det > 0, S2b / det, 1 / S0b) * scale
            var_av = np.where(det > 0, S0b / det, np.inf) * scale
    else:
        var_mu = scale / S0b
        var_av = np.zeros(n)
    li, ri = np.maximum(left, 0), np.minimum(right, K - 1)
    d_mu = 0.5 * np.abs(mu_k[rows, ri] - mu_k[rows, li])
    d_av = 0.5 * np.abs(av_k[rows, ri] - av_k[rows, li])
    ln_fbol = lambda x, mu_: -0.4 * LN10 * mu_ + 4 * LN10 * x  # noqa: E731  ln(theta^2 T^4)
    d_lnf = 0.5 * np.abs(ln_fbol(log_t[ri], mu_k[rows, ri]) - ln_fbol(log_t[li], mu_k[rows, li]))
    return _Solution(
        log_teff=x_best,
        mu=mu_b + offset,
        av=av_b,
        chi2=chi2_b,
        sig_log_teff=sig_x,
        sig_mu=np.sqrt(var_mu + d_mu**2),
        sig_av=np.sqrt(var_av + d_av**2),
        sig_ln_fbol=np.sqrt((0.4 * LN10) ** 2 * var_mu + d_lnf**2),
        edge=edge,
    )


def _sums_rows(y, w, M_rows, R, need_av):
    """Like :func:`_sums` with one template per star (``M_rows`` of shape (n, B))."""
    Wy = w * y
    S0 = w.sum(axis=1)
    D0 = (Wy - w * M_rows).sum(axis=1)
    DD = (w * (y - M_rows) ** 2).sum(axis=1)
    if not need_av:
        return S0, D0, DD, None, None, None
    wR = w * R
    return S0, D0, DD, wR.sum(axis=1), (wR * R).sum(axis=1), (wR * (y - M_rows)).sum(axis=1)


# ---- the estimator --------------------------------------------------------------------------


class SEDFitter:
    """Fit Teff, radius, luminosity and extinction of many stars from their photometry.

    Parameters
    ----------
    model
        ``"ck04"`` (Castelli & Kurucz 2004, 3500-12000 K), ``"blackbody"``, or an
        :class:`~explore.apps.sphot.models.SEDModel`.
    extinction
        ``"none"`` (A_V = 0), ``"fit"`` (A_V free, >= 0), an array of A_V per star, or a callable
        ``f(ra_deg, dec_deg, distance_pc) -> A_V`` (e.g. G-Tomo's ``extinction_to``; its A0 at 550 nm
        is used as A_V). Stars without a distance get A_V = 0 from a callable.
    rv, law
        The extinction law (:mod:`explore.astro.extinction`).
    logg
        Surface gravity of the models; ``None`` (default) derives it from the radius and ``mass``.
    feh
        [M/H] of the models (a number, or per star).
    mass
        Mass (M_sun) assumed to turn a radius into logg.
    error_floor
        Added in quadrature to every magnitude error (mag): absolute calibration and model systematics.
    clip_sigma
        A band deviating by more than this from the fit is rejected and the star refitted.
    max_rejected
        At most this many bands are rejected per star.
    excess_sigma
        Threshold of the excess flags.
    ir_wavelength, uv_wavelength
        Bands with pivot beyond ``ir_wavelength`` (below ``uv_wavelength``) count for the infrared
        (ultraviolet) excess flag.
    teff_step
        Step (dex) of the log-spaced Teff grid (0.0025 dex = 0.58%: 215 points for CK04); the minimum
        is refined between grid points by a parabola. The first pass, which only finds the radius for
        logg, runs on a grid four times coarser.
    teff_range
        Teff range (K) searched; default: the model's range (2000-60000 K for blackbodies).
    chunk_size
        Stars fitted together (memory ~ 10 x chunk_size x n_teff x 8 bytes).

    Example
    -------
    >>> fitter = SEDFitter(model="ck04").fit(photometry_from_table(Table.read("phot.csv")))
    >>> fitter.results_["teff", "radius", "luminosity", "ir_excess"]
    """

    def __init__(
        self,
        model: str | SEDModel = "ck04",
        *,
        extinction: ExtinctionInput = "none",
        rv: float = DEFAULT_RV,
        law: str = DEFAULT_LAW,
        logg: float | None = None,
        feh: float = 0.0,
        mass: float = 1.0,
        error_floor: float = 0.02,
        clip_sigma: float = 4.0,
        max_rejected: int = 3,
        excess_sigma: float = 5.0,
        ir_wavelength: u.Quantity = 2.0 * u.um,
        uv_wavelength: u.Quantity = 0.4 * u.um,
        teff_step: float = 0.0025,
        teff_range: tuple[float, float] | None = None,
        av_max: float = 10.0,
        chunk_size: int = 4096,
    ) -> None:
        self.model = model
        self.extinction = extinction
        self.rv = rv
        self.law = law
        self.logg = logg
        self.feh = feh
        self.mass = mass
        self.error_floor = error_floor
        self.clip_sigma = clip_sigma
        self.max_rejected = max_rejected
        self.excess_sigma = excess_sigma
        self.ir_wavelength = ir_wavelength
        self.uv_wavelength = uv_wavelength
        self.teff_step = teff_step
        self.teff_range = teff_range
        self.av_max = av_max
        self.chunk_size = chunk_size

    # ---- public ------------------------------------------------------------------------------
    def fit(self, phot: Photometry | Table, progress: ProgressFn | None = None) -> SEDFitter:
        """Fit every star; results in :attr:`results_` (an astropy Table, one row per star)."""
        if isinstance(phot, Table):
            phot = photometry_from_table(phot)
        model = get_model(self.model) if isinstance(self.model, str) else self.model
        report = progress or (lambda fraction, message: None)
        if not phot.filter_ids:
            raise ValueError("no usable band: name magnitude columns by SVO filter id, e.g. 'GAIA/GAIA3.G'")
        filters = [get_filter(f) for f in phot.filter_ids]
        n, B = phot.mag.shape
        fit_av = isinstance(self.extinction, str) and self.extinction == "fit"
        n_free = 3 if fit_av else 2
        R = band_extinction_ratio(filters, law=self.law, rv=self.rv)
        ir_band = np.array([f.wavelength_pivot > self.ir_wavelength for f in filters])
        uv_band = np.array([f.wavelength_pivot < self.uv_wavelength for f in filters])

        lo, hi = self.teff_range or (max(model.teff_range[0], 2000.0), min(model.teff_range[1], 60000.0))
        n_teff = max(int(np.ceil(np.log10(hi / lo) / self.teff_step)) + 1, 8)
        log_t = np.linspace(np.log10(lo), np.log10(hi), n_teff)
        coarse_t = np.linspace(np.log10(lo), np.log10(hi), max(n_teff // 4, 8))
        self._last_log_t = log_t

        sigma = np.sqrt(phot.mag_err**2 + self.error_floor**2)
        valid = np.isfinite(phot.mag) & np.isfinite(sigma) & (sigma > 0)
        weight = np.where(valid, 1.0 / np.where(valid, sigma, 1.0) ** 2, 0.0)
        y = np.where(valid, phot.mag, 0.0)

        messages = [list(phot.star_messages.get(i, [])) for i in range(n)]
        distance = self._distance(phot, messages)
        av_ext = self._external_av(phot, distance, messages)
        if av_ext is not None:
            y = np.where(valid, y - av_ext[:, None] * R[None, :], 0.0)

        n_bands = valid.sum(axis=1)
        fittable = n_bands >= n_free
        for i in np.flatnonzero(~fittable):
            messages[i].append(f"not fitted: {n_bands[i]} band(s) for {n_free} free parameters")

        feh_star = np.full(n, float(self.feh)) if phot.feh is None else np.where(np.isfinite(phot.feh), phot.feh, self.feh)
        logg_star = np.full(n, 4.5 if self.logg is None else float(self.logg))

        sol = _empty_solution(n)
        used = weight > 0
        report(0.0, f"fitting {n} stars in {B} bands with {model.name}")
        # pass 1 (coarse Teff grid) at the starting logg, only for the radius; then the full grid at the
        # logg implied by the radius, repeated for the stars whose logg still moves
        todo = np.flatnonzero(fittable)
        self._fit_groups(sol, todo, y, weight, R, coarse_t, model, phot.filter_ids, logg_star, feh_star, fit_av, n_free, report, 0.0, 0.15)
        nodes = np.asarray(model.logg_nodes, dtype=float)
        derive_logg = self.logg is None and len(nodes) > 1
        for step in range(4):
            change = todo if step == 0 else np.empty(0, int)
            if derive_logg:
                radius = 10 ** (-0.2 * sol.mu) * distance * PC_IN_RSUN
                ok = fittable & np.isfinite(radius) & (radius > 0)
                implied = LOGG_SUN + np.log10(self.mass) - 2 * np.log10(np.where(ok, radius, 1.0))
                new_logg = np.where(ok, np.clip(implied, nodes[0], nodes[-1]), logg_star)
                moved = np.flatnonzero(np.abs(new_logg - logg_star) > 0.05)
                logg_star = new_logg
                if step > 0:
                    change = moved
            if change.size == 0:
                break
            p0 = 0.15 + 0.55 * min(step, 1) + 0.05 * max(step - 1, 0)
            self._fit_groups(sol, change, y, weight, R, log_t, model, phot.filter_ids, logg_star, feh_star, fit_av, n_free, report, p0, p0 + (0.55 if step == 0 else 0.05))
        # iterative outlier rejection
        for iteration in range(self.max_rejected):
            M_star = self._model_mags(sol, model, phot.filter_ids, logg_star, feh_star, np.arange(n), R)
            z = np.where(used, (y - M_star) * np.sqrt(weight), 0.0)
            worst = np.argmax(np.abs(z), axis=1)
            worst_z = np.abs(z[np.arange(n), worst])
            can = fittable & (used.sum(axis=1) - 1 >= n_free + 1) & (worst_z > self.clip_sigma)
            redo = np.flatnonzero(can)
            if redo.size == 0:
                break
            used[redo, worst[redo]] = False
            w_iter = np.where(used, weight, 0.0)
            p0 = 0.85 + 0.12 * iteration / max(self.max_rejected, 1)
            self._fit_groups(sol, redo, y, w_iter, R, log_t, model, phot.filter_ids, logg_star, feh_star, fit_av, n_free, report, p0, p0 + 0.12 / max(self.max_rejected, 1))
        report(0.97, "excess significance")
        self.results_ = self._results(phot, filters, sol, valid, used, y, weight, distance, logg_star, feh_star, av_ext, R, model, ir_band, uv_band, fittable, n_free, messages)
        self.filter_ids_ = list(phot.filter_ids)
        self.column_messages_ = list(phot.column_messages)
        report(1.0, "done")
        return self

    # ---- steps -------------------------------------------------------------------------------
    def _distance(self, phot: Photometry, messages: list[list[str]]) -> np.ndarray:
        n = len(phot)
        if phot.parallax is None:
            return np.full(n, np.nan)
        plx = phot.parallax
        distance = np.where(plx > 0, 1000.0 / np.where(plx > 0, plx, 1.0), np.nan)
        for i in np.flatnonzero(~(plx > 0)):
            reason = "no parallax" if not np.isfinite(plx[i]) else f"parallax {plx[i]:.3g} mas <= 0"
            messages[i].append(f"{reason}: distance unknown, radius and luminosity not computed")
        if phot.parallax_error is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = plx / phot.parallax_error
            for i in np.flatnonzero((plx > 0) & (snr < 5)):
                messages[i].append(f"parallax S/N {snr[i]:.1f} < 5: radius and luminosity uncertain (1/parallax distance)")
        return distance

    def _external_av(self, phot: Photometry, distance: np.ndarray, messages: list[list[str]]) -> np.ndarray | None:
        ext = self.extinction
        n = len(phot)
        if ext is None or (isinstance(ext, str) and ext in ("none", "fit")):
            return None
        if isinstance(ext, str):
            if ext == "gtomo" or ext == "column":
                if phot.av is None:
                    raise ValueError("extinction from outside needs an 'av' or 'ebv' column, a callable, or an array")
                av = phot.av
            else:
                raise ValueError(f"unknown extinction mode {ext!r}: use 'none', 'fit', an array or a callable")
        elif callable(ext):
            if phot.ra is None or phot.dec is None:
                raise ValueError("an extinction callable needs ra and dec columns")
            av = np.full(n, np.nan)
            ok = np.isfinite(distance)
            if ok.any():
                av[ok] = np.asarray(ext(phot.ra[ok], phot.dec[ok], distance[ok]), dtype=float)
        else:
            av = np.asarray(ext, dtype=float)
            if av.shape != (n,):
                raise ValueError(f"extinction array has shape {av.shape}; expected ({n},), one A_V per star")
        bad = ~np.isfinite(av)
        for i in np.flatnonzero(bad):
            messages[i].append("no extinction value for this star: A_V = 0 assumed")
        return np.where(bad, 0.0, av)

    def _fit_groups(self, sol, stars, y, weight, R, log_t, model, filter_ids, logg_star, feh_star, fit_av, n_free, report, p0, p1):
        """Fit ``stars`` in chunks, grouped by the pair of logg nodes around their logg and their [M/H] node."""
        if len(stars) == 0:
            return
        g_lo, g_frac = _bracket_nodes(logg_star[stars], model.logg_nodes)
        z_nodes = _nearest(feh_star[stars], model.feh_nodes)
        keys = np.stack([g_lo, z_nodes], axis=1)
        groups, inverse = np.unique(keys, axis=0, return_inverse=True)
        done, total = 0, len(stars)
        for gi, (g, z) in enumerate(groups):
            sel = inverse.ravel() == gi
            members, frac = stars[sel], g_frac[sel]
            M, dM = self._template_pair(model, log_t, int(g), float(z), filter_ids)
            for start in range(0, len(members), self.chunk_size):
                part_idx = slice(start, start + self.chunk_size)
                idx = members[part_idx]
                part = _grid_fit(y[idx], weight[idx], M, dM, frac[part_idx], R, log_t, fit_av, self.av_max, n_free)
                _store(sol, idx, part)
                done += len(idx)
                report(p0 + (p1 - p0) * done / total, f"fitted {done} of {total} stars")

    def _template_pair(self, model: SEDModel, log_t: np.ndarray, g_index: int, feh: float, filter_ids: Sequence[str]):
        """Templates at logg node ``g_index`` and the difference to the next node (zero for a single node)."""
        nodes = np.asarray(model.logg_nodes, dtype=float)
        M = self._templates(model, log_t, float(nodes[g_index]), feh, filter_ids)
        if len(nodes) == 1:
            return M, np.zeros_like(M)
        return M, self._templates(model, log_t, float(nodes[g_index + 1]), feh, filter_ids) - M

    def _templates(self, model: SEDModel, log_t: np.ndarray, logg: float, feh: float, filter_ids: Sequence[str]) -> np.ndarray:
        zp = np.array([get_filter(f).zero_point().to_value(u.Jy) for f in filter_ids])
        logf = model.log_flux_table(10**log_t, logg, feh, filter_ids)
        return -2.5 * (logf - np.log10(zp)[None, :])

    def _model_mags(self, sol, model, filter_ids, logg_star, feh_star, stars, R) -> np.ndarray:
        """Model magnitudes (before external extinction) at each star's best fit."""
        out = np.full((len(stars), len(filter_ids)), np.nan)
        ok = np.isfinite(sol.log_teff[stars])
        if not ok.any():
            return out
        idx = stars[ok]
        teff = 10 ** sol.log_teff[idx]
        # interpolate in the cached template tables of the star's group: exact and vectorised
        g_lo, g_frac = _bracket_nodes(logg_star[idx], model.logg_nodes)
        z_nodes = _nearest(feh_star[idx], model.feh_nodes)
        keys = np.stack([g_lo, z_nodes], axis=1)
        groups, inverse = np.unique(keys, axis=0, return_inverse=True)
        log_t = self._last_log_t
        res = np.empty((len(idx), len(filter_ids)))
        for gi, (g, z) in enumerate(groups):
            sel = inverse.ravel() == gi
            M, dM = self._template_pair(model, log_t, int(g), float(z), filter_ids)
            x = np.log10(teff[sel])
            pos = np.clip((x - log_t[0]) / (log_t[1] - log_t[0]), 0, len(log_t) - 1.000001)
            k = np.floor(pos).astype(int)
            f = (pos - k)[:, None]
            k1 = np.minimum(k + 1, len(log_t) - 1)
            mix = g_frac[sel][:, None]
            res[sel] = M[k] * (1 - f) + M[k1] * f + mix * (dM[k] * (1 - f) + dM[k1] * f)
        out[ok] = res + sol.mu[idx, None] + sol.av[idx, None] * R[None, :]
        return out

    def _results(self, phot, filters, sol, valid, used, y, weight, distance, logg_star, feh_star, av_ext, R, model, ir_band, uv_band, fittable, n_free, messages) -> Table:
        n = len(phot)
        teff = 10**sol.log_teff
        teff_err = teff * LN10 * sol.sig_log_teff
        theta = 10 ** (-0.2 * sol.mu)  # R / d
        radius = theta * distance * PC_IN_RSUN
        plx_rel = np.zeros(n)
        if phot.parallax is not None and phot.parallax_error is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                plx_rel = np.where(phot.parallax > 0, np.abs(phot.parallax_error / phot.parallax), np.nan)
            plx_rel = np.nan_to_num(plx_rel, nan=0.0)
        radius_err = radius * np.hypot(0.2 * LN10 * sol.sig_mu, plx_rel)
        luminosity = radius**2 * (teff / T_SUN) ** 4
        luminosity_err = luminosity * np.hypot(sol.sig_ln_fbol, 2 * plx_rel)
        av = sol.av if av_ext is None else av_ext
        av_err = sol.sig_av if av_ext is None else np.zeros(n)
        n_used = used.sum(axis=1)
        dof = n_used - n_free
        with np.errstate(divide="ignore", invalid="ignore"):
            chi2_red = np.where(dof > 0, sol.chi2 / dof, np.nan)
        chi2_red = np.where(fittable, chi2_red, np.nan)

        M_star = self._model_mags(sol, model, phot.filter_ids, logg_star, feh_star, np.arange(n), R)
        model_mag = M_star + (av_ext[:, None] * R[None, :] if av_ext is not None else 0.0)
        obs = np.where(valid, phot.mag, np.nan)
        sigma = np.sqrt(phot.mag_err**2 + self.error_floor**2)
        with np.errstate(invalid="ignore", over="ignore"):
            ratio = 10 ** (-0.4 * (obs - model_mag))  # f_obs / f_model
            excess = (1 - 1 / ratio) / (0.4 * LN10 * sigma)  # (f_obs - f_model) / sigma_f
        excess = np.where(valid & fittable[:, None], excess, np.nan)
        over = np.nan_to_num(excess, nan=-np.inf) >= self.excess_sigma
        ir_excess = (over & ir_band[None, :]).any(axis=1)
        uv_excess = (over & uv_band[None, :]).any(axis=1)
        excess_bands = [";".join(f for f, o in zip(phot.filter_ids, row, strict=True) if o) for row in over]

        status = np.where(fittable, "ok", "not_fitted").astype(object)
        for i in np.flatnonzero(fittable & sol.edge):
            status[i] = "edge"
            messages[i].append(f"Teff at the edge of the searched range ({10 ** self._last_log_t[0]:.0f}-{10 ** self._last_log_t[-1]:.0f} K)")
        rejected = valid & ~used & fittable[:, None]
        for i in np.flatnonzero(rejected.any(axis=1)):
            names = ", ".join(f for f, r in zip(phot.filter_ids, rejected[i], strict=True) if r)
            messages[i].append(f"rejected as outliers: {names}")

        table = Table()
        table["id"] = phot.ids
        if phot.ra is not None:
            table["ra"] = phot.ra
            table["dec"] = phot.dec
        nan_if = lambda a: np.where(fittable, a, np.nan)  # noqa: E731
        table["teff"] = nan_if(teff)
        table["teff_err"] = nan_if(teff_err)
        table["radius"] = nan_if(radius)
        table["radius_err"] = nan_if(radius_err)
        table["luminosity"] = nan_if(luminosity)
        table["luminosity_err"] = nan_if(luminosity_err)
        table["av"] = nan_if(av)
        table["av_err"] = nan_if(av_err)
        table["ebv"] = nan_if(av / self.rv)
        table["ebv_err"] = nan_if(av_err / self.rv)
        table["distance"] = distance
        table["theta"] = nan_if(theta)  # angular radius R/d, radians
        table["logg"] = nan_if(logg_star)
        table["feh"] = nan_if(feh_star)
        table["chi2_red"] = chi2_red
        table["n_bands"] = n_used
        table["n_rejected"] = rejected.sum(axis=1)
        for j, fid in enumerate(phot.filter_ids):
            table[f"{fid}_model"] = np.where(fittable, model_mag[:, j], np.nan)
            table[f"{fid}_excess_sigma"] = excess[:, j]
            table[f"{fid}_used"] = used[:, j] & fittable
        table["ir_excess"] = ir_excess & fittable
        table["uv_excess"] = uv_excess & fittable
        table["excess_bands"] = excess_bands
        table["status"] = status.astype(str)
        table["message"] = ["; ".join(m) for m in messages]
        for name, unit in (("teff", u.K), ("teff_err", u.K), ("radius", u.R_sun), ("radius_err", u.R_sun),
                           ("luminosity", u.L_sun), ("luminosity_err", u.L_sun), ("av", u.mag), ("av_err", u.mag),
                           ("ebv", u.mag), ("ebv_err", u.mag), ("distance", u.pc), ("theta", u.rad)):  # fmt: skip
            table[name].unit = unit
        table.meta["model"] = model.name
        table.meta["extinction_law"] = f"{self.law} R(V)={self.rv}"
        return table


def _bracket_nodes(values: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the node below each value and the linear weight of the node above (clipped to the nodes)."""
    nodes = np.asarray(nodes, dtype=float)
    v = np.clip(np.asarray(values, dtype=float), nodes[0], nodes[-1])
    if len(nodes) == 1:
        return np.zeros(len(v), int), np.zeros(len(v))
    i = np.clip(np.searchsorted(nodes, v) - 1, 0, len(nodes) - 2)
    return i, (v - nodes[i]) / (nodes[i + 1] - nodes[i])


def _nearest(values: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    nodes = np.asarray(nodes, dtype=float)
    return nodes[np.argmin(np.abs(np.asarray(values, float)[:, None] - nodes[None, :]), axis=1)]


def _empty_solution(n: int) -> _Solution:
    nan = lambda: np.full(n, np.nan)  # noqa: E731
    return _Solution(nan(), nan(), np.zeros(n), nan(), nan(), nan(), nan(), nan(), np.zeros(n, bool))


def _store(sol: _Solution, idx: np.ndarray, part: _Solution) -> None:
    for name in sol.__dataclass_fields__:
        getattr(sol, name)[idx] = getattr(part, name)


def fit_photometry(table: Table, **kwargs) -> Table:
    """Fit the stars of an input table (see :func:`photometry_from_table`) and return the results.

    Keyword arguments go to :class:`SEDFitter`. Column problems are in ``result.meta["column_messages"]``.
    """
    phot = photometry_from_table(table)
    fitter = SEDFitter(**kwargs).fit(phot)
    fitter.results_.meta["column_messages"] = fitter.column_messages_
    return fitter.results_
