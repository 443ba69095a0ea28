"""PNG figures of S-Phot's batch run and CLI: a star's SED with its model, and the sample's HR diagram."""

from __future__ import annotations

import pathlib

import astropy.units as u
import numpy as np
from astropy.table import Row, Table

from explore.astro.filters import get_filter

__all__ = ["plot_hr", "plot_sed", "sed_points"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _plain_minor_ticks(ax) -> None:
    """No labels on minor log ticks: they cost seconds per figure to lay out, and clutter it."""
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def sed_points(photometry: Row, result: Row, filter_ids: list[str]) -> Table:
    """One star's SED: per band the pivot wavelength (um), observed and model f_nu (Jy), error,
    excess significance and whether the band was used in the fit."""
    rows = []
    for fid in filter_ids:
        filt = get_filter(fid)
        mag = float(photometry[fid]) if fid in photometry.colnames else np.nan
        err_name = f"{fid}_err"
        err = float(photometry[err_name]) if err_name in photometry.colnames else np.nan
        model = float(result[f"{fid}_model"])
        zp = filt.zero_point().to_value(u.Jy)
        rows.append(
            (
                fid,
                filt.wavelength_pivot.to_value(u.um),
                zp * 10 ** (-0.4 * mag),
                zp * 10 ** (-0.4 * mag) * 0.4 * np.log(10) * err,
                zp * 10 ** (-0.4 * model),
                float(result[f"{fid}_excess_sigma"]),
                bool(result[f"{fid}_used"]),
            )
        )
    table = Table(rows=rows, names=("filter", "wavelength", "flux", "flux_err", "model", "excess_sigma", "used"))
    table["wavelength"].unit = u.um
    for name in ("flux", "flux_err", "model"):
        table[name].unit = u.Jy
    table.sort("wavelength")
    return table


def plot_sed(points: Table, path: str | pathlib.Path, *, title: str = "") -> pathlib.Path:
    """SED (nu F_nu against wavelength, log-log) with the model, rejected points, and residuals."""
    plt = _pyplot()
    fig, (ax, res) = plt.subplots(2, 1, figsize=(6.5, 5.5), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lam = np.asarray(points["wavelength"], float)
    nu = 2.998e14 / lam  # Hz for lambda in micron
    to_nufnu = nu * 1e-23  # Jy -> erg s-1 cm-2 Hz-1, times nu
    flux, err, model = (np.asarray(points[c], float) for c in ("flux", "flux_err", "model"))
    used = np.asarray(points["used"], bool)
    seen = np.isfinite(flux)
    ax.plot(lam, model * to_nufnu, "-", color="0.5", lw=1, label="model", zorder=1)
    ax.errorbar(lam[seen & used], (flux * to_nufnu)[seen & used], yerr=(err * to_nufnu)[seen & used], fmt="o", color="C0", ms=4, label="fitted")
    rej = seen & ~used
    if rej.any():
        ax.errorbar(lam[rej], (flux * to_nufnu)[rej], yerr=(err * to_nufnu)[rej], fmt="x", color="C3", ms=6, label="rejected")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_minor_ticks(ax)
    ax.set_ylabel(r"$\nu F_\nu$ (erg s$^{-1}$ cm$^{-2}$)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    excess = np.asarray(points["excess_sigma"], float)
    res.axhline(0, color="0.5", lw=1)
    res.plot(lam[seen & used], excess[seen & used], "o", color="C0", ms=4)
    res.plot(lam[rej], excess[rej], "x", color="C3", ms=6)
    res.set_ylabel(r"excess ($\sigma$)")
    res.set_xlabel(r"wavelength ($\mu$m)")
    fig.subplots_adjust(left=0.14, right=0.97, top=0.93, bottom=0.1, hspace=0.05)
    path = pathlib.Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_hr(results: Table, path: str | pathlib.Path) -> pathlib.Path:
    """Luminosity against Teff of the fitted sample, coloured by class."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=100)
    teff = np.asarray(results["teff"], float)
    lum = np.asarray(results["luminosity"], float)
    classes = np.asarray(results["class"]).astype(str) if "class" in results.colnames else np.full(len(results), "star")
    for i, name in enumerate(sorted(set(classes))):
        sel = (classes == name) & np.isfinite(teff) & np.isfinite(lum) & (lum > 0)
        if sel.any():
            ax.scatter(teff[sel], lum[sel], s=4, color=f"C{i % 10}", label=f"{name} ({sel.sum()})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    _plain_minor_ticks(ax)
    ax.set_xlabel("Teff (K)")
    ax.set_ylabel(r"L (L$_\odot$)")
    ax.legend(fontsize=7, markerscale=3)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.97, bottom=0.1)
    path = pathlib.Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
