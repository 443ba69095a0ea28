"""A deterministic demo sample for S-Phot: realistic photometry of a few thousand stars.

The stars are drawn from simple, physically sensible populations (main-sequence dwarfs on the
Pecaut & Mamajek sequence, red-clump and RGB giants, cool white dwarfs), put at distances with Gaia-like
parallax errors behind dust of ~0.6 mag/kpc, observed through the real SVO filter curves of GALEX,
SDSS u, Gaia DR3, Pan-STARRS, 2MASS and AllWISE with survey-like noise and detection limits. Some
stars carry an injected excess whose truth is kept: warm dust (a blackbody of 150-1000 K with 0.1-10%
of the star's luminosity: infrared excess) or a hot subdwarf companion (a 25000-40000 K blackbody of
0.15-0.25 R_sun: ultraviolet excess). Photospheres come from the Castelli & Kurucz (2004) grid, so
a fit recovers the truth within the noise: that is what the demo is for.

Example
-------
>>> phot, truth = demo_sample(3000, seed=42)
>>> phot.write("sphot_demo.csv")
"""

from __future__ import annotations

import pathlib

import astropy.units as u
import numpy as np
from astropy.table import Table

from explore.apps.sphot.classify import main_sequence
from explore.apps.sphot.models import BlackbodyModel, SEDModel, get_model
from explore.astro.extinction import band_extinction_ratio
from explore.astro.filters import get_filter

__all__ = ["DEMO_BANDS", "demo_sample", "simulate_photometry", "write_demo"]

#: the bands of the demo: 19 from 0.15 to 22 micron
DEMO_BANDS = (
    "GALEX/GALEX.FUV", "GALEX/GALEX.NUV", "SLOAN/SDSS.u", "GAIA/GAIA3.Gbp", "GAIA/GAIA3.G",
    "GAIA/GAIA3.Grp", "PAN-STARRS/PS1.g", "PAN-STARRS/PS1.r", "PAN-STARRS/PS1.i", "PAN-STARRS/PS1.z",
    "PAN-STARRS/PS1.y", "2MASS/2MASS.J", "2MASS/2MASS.H", "2MASS/2MASS.Ks", "WISE/WISE.W1",
    "WISE/WISE.W2", "WISE/WISE.W3", "WISE/WISE.W4",
)  # fmt: skip

#: 5-sigma limiting magnitude and error floor of each survey band (each in its own system)
_DEPTH = {
    "GALEX/GALEX.FUV": (20.0, 0.05), "GALEX/GALEX.NUV": (20.8, 0.03), "SLOAN/SDSS.u": (22.0, 0.02),
    "GAIA/GAIA3.Gbp": (20.5, 0.003), "GAIA/GAIA3.G": (20.7, 0.001), "GAIA/GAIA3.Grp": (20.0, 0.004),
    "PAN-STARRS/PS1.g": (22.0, 0.01), "PAN-STARRS/PS1.r": (21.8, 0.01), "PAN-STARRS/PS1.i": (21.5, 0.01),
    "PAN-STARRS/PS1.z": (20.9, 0.01), "PAN-STARRS/PS1.y": (19.9, 0.01), "2MASS/2MASS.J": (16.5, 0.02),
    "2MASS/2MASS.H": (15.8, 0.02), "2MASS/2MASS.Ks": (15.3, 0.02), "WISE/WISE.W1": (16.8, 0.02),
    "WISE/WISE.W2": (15.6, 0.02), "WISE/WISE.W3": (11.3, 0.03), "WISE/WISE.W4": (8.0, 0.05),
}  # fmt: skip
_BRIGHT = {"2MASS": 4.0, "WISE": 3.0, "GAIA": 3.0, "PAN-STARRS": 12.5, "SLOAN": 12.0, "GALEX": 11.0}


def simulate_photometry(
    teff: np.ndarray,
    radius: np.ndarray,
    distance: np.ndarray,
    *,
    av: np.ndarray | float = 0.0,
    logg: np.ndarray | float = 4.5,
    feh: np.ndarray | float = 0.0,
    bands: tuple[str, ...] = DEMO_BANDS,
    model: SEDModel | str = "ck04",
    extra_flux: np.ndarray | None = None,
    chunk: int = 5000,
) -> np.ndarray:
    """Noise-free apparent magnitudes ``(n, n_bands)`` of stars, each band in its own system.

    ``extra_flux`` (Jy, shape (n, n_bands)) is added to the reddened photosphere (an excess component).
    Extinction uses :func:`explore.astro.extinction.band_extinction_ratio` (G23, R(V) = 3.1).
    """
    model = get_model(model) if isinstance(model, str) else model
    n = len(teff)
    teff, radius, distance, av, logg, feh = (np.broadcast_to(np.asarray(a, float), (n,)) for a in (teff, radius, distance, av, logg, feh))
    filters = [get_filter(b) for b in bands]
    zp = np.array([f.zero_point().to_value(u.Jy) for f in filters])
    ratio = band_extinction_ratio(filters)
    mags = np.empty((n, len(bands)))
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        flux = model.band_flux(teff[sl], filters, logg=logg[sl], feh=feh[sl]).to_value(u.Jy)
        dilution = ((radius[sl] * u.R_sun) / (distance[sl] * u.pc)).to(u.dimensionless_unscaled).value ** 2
        fnu = flux * dilution[:, None] * 10 ** (-0.4 * av[sl, None] * ratio[None, :])
        if extra_flux is not None:
            fnu = fnu + extra_flux[sl]
        mags[sl] = -2.5 * np.log10(fnu / zp[None, :])
    return mags


def _blackbody_jy(teff, radius, distance, bands) -> np.ndarray:
    flux = BlackbodyModel().band_flux(teff, bands).to_value(u.Jy)
    dilution = ((radius * u.R_sun) / (distance * u.pc)).to(u.dimensionless_unscaled).value ** 2
    return flux * dilution[:, None]


def demo_sample(n: int = 3000, seed: int = 42, bands: tuple[str, ...] = DEMO_BANDS) -> tuple[Table, Table]:
    """The demo sample: the input table of ``explore sphot fit`` and the truth behind it.

    Returns
    -------
    photometry, truth
        ``photometry`` has ``id, ra, dec, parallax, parallax_error`` and ``<band>``, ``<band>_err``;
        ``truth`` has ``id, kind, teff, radius, logg, distance, av, excess`` (``kind`` is
        ``dwarf``, ``giant``, ``white_dwarf``, ``ir_excess`` or ``uv_excess``).
    """
    rng = np.random.default_rng(seed)
    ms = main_sequence()
    kind = rng.choice(["dwarf", "giant", "white_dwarf", "ir_excess", "uv_excess"], size=n, p=[0.70, 0.17, 0.03, 0.06, 0.04])
    teff = np.empty(n)
    radius = np.empty(n)
    mass = np.ones(n)
    distance = np.empty(n)

    dwarf = np.isin(kind, ["dwarf", "ir_excess", "uv_excess"])
    nd = int(dwarf.sum())
    # more cool than hot dwarfs, as in a magnitude-limited sample of the disc
    t_dwarf = 3600 * (11500 / 3600) ** rng.beta(1.2, 1.8, nd)
    teff[dwarf] = t_dwarf
    good = np.isfinite(ms["mass"])
    radius[dwarf] = np.interp(t_dwarf, ms["teff"], ms["radius"]) * 10 ** rng.normal(0.03, 0.05, nd)
    mass[dwarf] = np.interp(t_dwarf, ms["teff"][good], ms["mass"][good])
    distance[dwarf] = 10 ** rng.uniform(np.log10(30), np.log10(1200), nd)

    giant = kind == "giant"
    ng = int(giant.sum())
    teff[giant] = rng.uniform(3900, 5200, ng)
    radius[giant] = 10 ** rng.uniform(np.log10(4), np.log10(40), ng)
    mass[giant] = rng.uniform(0.9, 2.0, ng)
    distance[giant] = 10 ** rng.uniform(np.log10(200), np.log10(4000), ng)

    wd = kind == "white_dwarf"
    nw = int(wd.sum())
    teff[wd] = rng.uniform(6500, 11500, nw)
    radius[wd] = rng.uniform(0.010, 0.014, nw)
    mass[wd] = 0.6
    distance[wd] = rng.uniform(10, 120, nw)

    # composite hot subdwarf binaries are rare: the ones in a survey sample are far away
    uve = kind == "uv_excess"
    distance[uve] = 10 ** rng.uniform(np.log10(500), np.log10(2500), int(uve.sum()))
    logg = np.clip(4.438 + np.log10(mass) - 2 * np.log10(radius), 0.0, 5.0)
    av = np.clip(0.6 * distance / 1000 * rng.lognormal(0, 0.5, n), 0, 4)

    extra = np.zeros((n, len(bands)))
    excess = np.zeros(n)
    ire = kind == "ir_excess"
    if ire.any():
        t_dust = rng.uniform(150, 1000, int(ire.sum()))
        frac = 10 ** rng.uniform(-3, -1, int(ire.sum()))
        r_dust = radius[ire] * np.sqrt(frac) * (teff[ire] / t_dust) ** 2
        extra[ire] = _blackbody_jy(t_dust, r_dust, distance[ire], bands)
        excess[ire] = frac
    if uve.any():
        t_hot = rng.uniform(25000, 40000, int(uve.sum()))
        r_hot = rng.uniform(0.15, 0.25, int(uve.sum()))
        # the companion is reddened with the star
        ratio = band_extinction_ratio(bands)
        extra[uve] = _blackbody_jy(t_hot, r_hot, distance[uve], bands) * 10 ** (-0.4 * av[uve, None] * ratio[None, :])
        excess[uve] = t_hot

    mags = simulate_photometry(teff, radius, distance, av=av, logg=logg, bands=bands, extra_flux=extra)

    # survey noise: an error floor plus the photon noise that reaches 0.2 mag at the 5-sigma limit
    errors = np.empty_like(mags)
    for j, band in enumerate(bands):
        limit, floor = _DEPTH.get(band, (20.0, 0.02))
        errors[:, j] = np.hypot(floor, 0.2 * 10 ** (0.4 * (mags[:, j] - limit)))
    observed = mags + rng.normal(0.0, 1.0, mags.shape) * errors
    for j, band in enumerate(bands):
        limit, _ = _DEPTH.get(band, (20.0, 0.02))
        bright = _BRIGHT.get(band.split("/")[0], -10.0)
        lost = (mags[:, j] > limit + 0.3) | (mags[:, j] < bright)
        observed[lost, j] = np.nan
        errors[lost, j] = np.nan

    parallax = 1000.0 / distance
    parallax_error = 0.02 + 0.3 * 10 ** (0.2 * (np.nan_to_num(observed[:, bands.index("GAIA/GAIA3.G")], nan=21) - 21)) if "GAIA/GAIA3.G" in bands else np.full(n, 0.05)
    parallax_obs = parallax + rng.normal(0, 1, n) * parallax_error

    ids = np.array([f"demo-{i:05d}" for i in range(n)])
    phot = Table()
    phot["id"] = ids
    phot["ra"] = np.round(rng.uniform(0, 360, n), 6)
    phot["dec"] = np.round(np.degrees(np.arcsin(rng.uniform(-1, 1, n))), 6)
    phot["parallax"] = np.round(parallax_obs, 4)
    phot["parallax_error"] = np.round(parallax_error, 4)
    for j, band in enumerate(bands):
        phot[band] = np.round(observed[:, j], 4)
        phot[f"{band}_err"] = np.round(errors[:, j], 4)
    truth = Table(
        {"id": ids, "kind": kind, "teff": teff, "radius": radius, "logg": logg, "distance": distance, "av": av, "excess": excess}
    )
    return phot, truth


def write_demo(folder: str | pathlib.Path, n: int = 3000, seed: int = 42) -> pathlib.Path:
    """Write ``sphot_demo.csv`` (the input) and ``sphot_demo_truth.csv`` into ``folder``; return the input path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    phot, truth = demo_sample(n, seed)
    path = folder / "sphot_demo.csv"
    phot.write(path, overwrite=True)
    truth.write(folder / "sphot_demo_truth.csv", overwrite=True)
    return path
