"""PNG figures of the batch run and the CLI (matplotlib, no display needed)."""

from __future__ import annotations

import pathlib

import astropy.units as u
import numpy as np

from .sightline import Profile
from .slices import SkyMap, mollweide_image

__all__ = ["plot_a0_vs_distance", "plot_profile", "plot_sky_map"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_a0_vs_distance(distance: np.ndarray, a0: np.ndarray, path: str | pathlib.Path, *, title: str = "") -> pathlib.Path:
    """Scatter (or density image for many targets) of A0 against distance."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ok = np.isfinite(distance) & np.isfinite(a0)
    if ok.sum() > 20_000:
        hb = ax.hexbin(distance[ok], a0[ok], gridsize=120, bins="log", cmap="viridis", mincnt=1)
        fig.colorbar(hb, ax=ax, label="targets")
    else:
        ax.scatter(distance[ok], a0[ok], s=4, alpha=0.6)
    ax.set_xlabel("distance (pc)")
    ax.set_ylabel("A0 (mag, 550 nm)")
    ax.set_title(title or f"G-Tomo: integrated extinction of {ok.sum():,} targets")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return pathlib.Path(path)


def plot_profile(profile: Profile, path: str | pathlib.Path) -> pathlib.Path:
    """Density and cumulative extinction along a sightline, with the cube's edge marked."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), dpi=100, sharex=True)
    d = profile.distance.to_value(u.pc)
    ax1.plot(d, profile.density.to_value(u.mag / u.pc), color="tab:brown")
    if profile.density_err is not None:
        rho = profile.density.to_value(u.mag / u.pc)
        err = profile.density_err.to_value(u.mag / u.pc)
        ax1.fill_between(d, rho - err, rho + err, color="tab:brown", alpha=0.25)
    ax1.set_ylabel("A0 density (mag/pc)")
    ax2.plot(d, profile.cumulative.to_value(u.mag), color="k")
    if profile.cumulative_err is not None:
        a0 = profile.cumulative.to_value(u.mag)
        err = profile.cumulative_err.to_value(u.mag)
        ax2.fill_between(d, a0 - err, a0 + err, color="grey", alpha=0.3)
    ax2.set_ylabel("A0 (mag)")
    ax2.set_xlabel("distance (pc)")
    edge = profile.edge.to_value(u.pc)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if edge < d[-1]:
            ax.axvline(edge, color="r", ls="--", lw=1, label="cube edge")
    if edge < d[-1]:
        ax1.legend(loc="upper left")
    ax1.set_title(f"sightline l = {profile.l.to_value(u.deg):.2f} deg, b = {profile.b.to_value(u.deg):.2f} deg")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return pathlib.Path(path)


def plot_sky_map(skymap: SkyMap, path: str | pathlib.Path, *, width: int = 900) -> pathlib.Path:
    """A Mollweide image (Galactic, l = 0 at the centre, increasing to the left) of a sky map."""
    plt = _pyplot()
    image, _ = mollweide_image(skymap, width=width)
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    finite = image[np.isfinite(image)]
    vmax = float(np.nanpercentile(finite, 99.5)) if finite.size else 1.0
    im = ax.imshow(image, cmap="inferno", vmin=0, vmax=max(vmax, 1e-6), interpolation="nearest")
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, orientation="horizontal", fraction=0.05, pad=0.03,
                 label=f"A0 (mag) to {skymap.distance.to_value(u.pc):g} pc")
    ax.set_title("G-Tomo sky map (Galactic Mollweide, l = 0 at centre)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return pathlib.Path(path)
