"""A deterministic demo survey for S-Disco: APOGEE-like spectra of a Galaxy-like sample of stars,
with injected anomalies of known kinds and their truth labels.

* Real spectra: the APOGEE DR13 aspcapStar spectra and the combined APOGEE spectrum of The Payne in
  ``../shared/data/stellar`` (cool M dwarfs, outside the emulator's range: real oddities).
* Synthetic spectra: the BinSpec neural-network emulator (El-Badry et al. 2018; Ting et al. 2019),
  which turns [Teff, logg, [Fe/H], [alpha/Fe], vmacro] into a continuum-normalised APOGEE spectrum on
  the 7214-pixel grid, for FGK dwarfs (Teff 4200-7000 K, logg 4.0-5.0). Lines respond to all labels.
* Stars: a thin and a thick disc within 1.5 kpc of the Sun (double-exponential densities, scale
  lengths 2.6 / 2.0 kpc, heights 0.3 / 0.9 kpc), metal-poorer and alpha-richer in the thick disc;
  Gaia-like G, BP-RP, parallaxes with errors; positions from ra/dec/parallax via astropy;
  signal-to-noise falling with magnitude; a fixed pixel mask and random flagged cosmic-ray pixels.
* Anomalies (``anomaly`` column, about 0.3 % of the stars, equally split):
  ``emission`` (hydrogen Brackett-series emission lines, as in Be stars and young stars),
  ``sb2`` (double-lined binaries: two emulated spectra shifted apart by 40-100 km/s),
  ``strong_line`` (strongly enhanced lines of one element: Al I, Mg I or K I),
  ``bad_continuum`` (a tilted and curved continuum: a failed normalisation).

The spectra are binned by ``bin_factor`` pixels within each detector (default 4: 1803 pixels), so that
1e5 stars take about 0.7 GB.
"""

from __future__ import annotations

import os
import pathlib
from concurrent.futures import ThreadPoolExecutor

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, CartesianRepresentation, Galactic
from astropy.table import Table

from explore.astro.frames import galactic_cartesian
from explore.astro.spectra import APOGEE_CHIPS, Spectra

__all__ = ["ANOMALY_KINDS", "BinSpecEmulator", "default_data_dir", "make_demo_survey"]

ANOMALY_KINDS = ("emission", "sb2", "strong_line", "bad_continuum")
#: Brackett-series lines in the H band (vacuum Angstrom), Br 11 to Br 20
BRACKETT = (16811.1, 16411.7, 16113.7, 15884.9, 15704.9, 15560.7, 15443.1, 15345.0, 15264.7, 15196.0)
#: strong lines of single elements in the APOGEE window (vacuum Angstrom)
ELEMENT_LINES = {
    "Al": (16723.5, 16755.1, 16767.9),
    "Mg": (15744.3, 15753.3, 15770.2),
    "K": (15167.2, 15172.5),
}
C_KMS = 299_792.458
#: km/s per pixel of the APOGEE log-lambda grid (log10 step 6e-6)
KMS_PER_PIXEL = C_KMS * (10**6e-6 - 1)


def default_data_dir() -> pathlib.Path:
    """``$EXPLORE_SHARED_DATA`` or the ``shared/data`` folder beside the repository."""
    env = os.environ.get("EXPLORE_SHARED_DATA")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[4] / "shared" / "data"


class BinSpecEmulator:
    """The BinSpec neural network for continuum-normalised APOGEE spectra.

    Per pixel p: ``scaled = (labels - x_min) / (x_max - x_min) - 0.5``,
    ``h = sigmoid(w0[p] @ scaled + b0[p])``, ``flux[p] = w1[p] . h + b1[p]``.
    Labels: Teff (K), logg, [Fe/H], [alpha/Fe], vmacro (km/s).
    """

    def __init__(self, path: str | pathlib.Path) -> None:
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"BinSpec emulator not found at {path} (binspec_nn/NN_normalized_spectra.npz)")
        d = np.load(path)
        w0 = d["w_array_0"].astype(np.float32)  # (P, H, L)
        self.n_pixels, self.n_hidden, self.n_labels = w0.shape
        self.w0 = np.ascontiguousarray(w0.reshape(-1, self.n_labels).T)  # (L, P*H)
        self.b0 = d["b_array_0"].astype(np.float32).reshape(-1)
        self.w1 = d["w_array_1"].astype(np.float32)
        self.b1 = d["b_array_1"].astype(np.float32)
        self.x_min = d["x_min"].astype(np.float32)
        self.x_max = d["x_max"].astype(np.float32)

    def __call__(self, labels: np.ndarray) -> np.ndarray:
        """Spectra (N, 7214) for labels (N, 5)."""
        x = (np.asarray(labels, np.float32) - self.x_min) / (self.x_max - self.x_min) - np.float32(0.5)
        z = x @ self.w0
        z += self.b0
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)
        h = z.reshape(x.shape[0], self.n_pixels, self.n_hidden)
        return np.einsum("nph,ph->np", h, self.w1) + self.b1


def _chip_bins(wave: np.ndarray, factor: int) -> list[np.ndarray]:
    """Pixel index groups of ``factor`` consecutive pixels, never across a detector gap."""
    groups = []
    for lo, hi in APOGEE_CHIPS:
        idx = np.flatnonzero((wave >= lo) & (wave <= hi))
        n = idx.size // factor
        groups.append(idx[: n * factor].reshape(n, factor))
    return groups


def _bin(flux: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([flux[:, g].mean(axis=2) for g in groups], axis=1)


def _shift(flux: np.ndarray, wave: np.ndarray, v_kms: np.ndarray) -> np.ndarray:
    """Doppler-shift spectra (rows) by ``v_kms`` each, interpolating within each detector."""
    out = flux.copy()
    for lo, hi in APOGEE_CHIPS:
        idx = np.flatnonzero((wave >= lo) & (wave <= hi))
        pix = np.arange(idx.size, dtype=float)
        for r in range(flux.shape[0]):
            out[r, idx] = np.interp(pix - v_kms[r] / KMS_PER_PIXEL, pix, flux[r, idx])
    return out


def _sample_positions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Heliocentric x, y, z (kpc) within 1.5 kpc and population labels (0 thin, 1 thick)."""
    r0, z_sun, d_max = 8.12, 0.02, 1.5
    pops = (rng.random(n) < 0.12).astype(int)
    out = np.empty((n, 3))
    h_r = np.where(pops == 1, 2.0, 2.6)
    h_z = np.where(pops == 1, 0.9, 0.3)
    todo = np.arange(n)
    while todo.size:
        m = todo.size * 3
        d = d_max * rng.random(m) ** (1 / 3)
        v = rng.standard_normal((m, 3))
        v *= (d / np.linalg.norm(v, axis=1))[:, None]
        owner = np.resize(todo, m)
        radius = np.hypot(r0 - v[:, 0], v[:, 1])
        z = v[:, 2] + z_sun
        density = np.exp(-(radius - r0) / h_r[owner] - np.abs(z) / h_z[owner])
        peak = np.exp(d_max / h_r[owner])
        ok = rng.random(m) * peak < density
        accepted = np.full(n, -1)
        accepted[owner[ok][::-1]] = np.flatnonzero(ok)[::-1]  # first accepted candidate per star
        got = accepted[todo] >= 0
        out[todo[got]] = v[accepted[todo[got]]]
        todo = todo[~got]
    return out, pops


def make_demo_survey(
    n_stars: int = 100_000,
    *,
    n_anomalies: int | None = None,
    seed: int = 0,
    bin_factor: int = 4,
    include_real: bool = True,
    data_dir: str | pathlib.Path | None = None,
) -> Spectra:
    """Build the demo survey (deterministic for a given seed and size).

    Parameters
    ----------
    n_stars : int
        Total number of stars (real ones included).
    n_anomalies : int, optional
        Injected anomalies; default 0.3 % of the stars (at least 8), split equally between kinds.
    seed : int
    bin_factor : int
        Pixels averaged per output pixel (1 keeps the full 7214-pixel grid).
    include_real : bool
        Add the real APOGEE spectra from ``data_dir``.
    data_dir : path, optional
        The shared data folder (``stellar/binspec_nn`` and ``stellar/payne_apogee`` inside).

    Returns
    -------
    Spectra
        Normalised spectra (``ivar`` None: the noise level is the ``snr`` column) with a table of id,
        source, ra, dec, l, b, parallax, parallax_error, distance, x, y, z, phot_g_mean_mag, bp_rp,
        abs_g, teff, logg, fe_h, alpha_fe, vmacro, population, snr, anomaly, is_anomaly.
    """
    if n_stars < 10:
        raise ValueError(f"the demo survey needs at least 10 stars, not {n_stars}")
    base = pathlib.Path(data_dir) if data_dir is not None else default_data_dir()
    stellar = base / "stellar"
    emulator = BinSpecEmulator(stellar / "binspec_nn" / "NN_normalized_spectra.npz")
    wave_path = stellar / "payne_apogee" / "apogee_wavelength.npz"
    if not wave_path.is_file():
        raise FileNotFoundError(f"APOGEE wavelength grid not found at {wave_path}")
    wave = np.load(wave_path)["wavelength"]
    pix_mask = np.load(stellar / "payne_apogee" / "apogee_mask.npz")["apogee_mask"]
    groups = _chip_bins(wave, bin_factor)
    out_wave = np.concatenate([wave[g].mean(axis=1) for g in groups])
    out_mask = np.concatenate([pix_mask[g].mean(axis=1) >= 0.5 for g in groups])
    rng = np.random.default_rng(seed)

    real = _real_spectra(stellar, wave, groups) if include_real else None
    n_real = 0 if real is None else len(real[0])
    n_syn = n_stars - n_real
    if n_anomalies is None:
        n_anomalies = max(8, int(round(0.003 * n_stars)))
    n_anomalies = min(n_anomalies, n_syn // 2)

    # ---- stars: positions, populations, labels, photometry ----
    xyz, pops = _sample_positions(n_syn, rng)
    thick = pops == 1
    teff = np.where(rng.random(n_syn) < 0.6, rng.uniform(4200, 5800, n_syn), rng.uniform(5800, 6900, n_syn))
    logg = np.clip(4.65 - 0.55 * (teff - 4200) / 2800 + rng.normal(0, 0.06, n_syn), 4.0, 4.95)
    z_abs = np.abs(xyz[:, 2] + 0.02)
    fe_h = np.where(thick, rng.normal(-0.45, 0.2, n_syn), rng.normal(-0.05 - 0.15 * z_abs, 0.18, n_syn))
    fe_h = np.clip(fe_h, -0.75, 0.35)
    alpha = np.where(thick, rng.normal(0.22, 0.05, n_syn), rng.normal(0.02 - 0.08 * fe_h, 0.03, n_syn))
    alpha = np.clip(alpha, -0.05, 0.45)
    vmacro = np.clip(2.0 + 4.0 * (teff - 4200) / 2800 + rng.normal(0, 0.7, n_syn), 1.0, 12.0)
    labels = np.column_stack([teff, logg, fe_h, alpha, vmacro]).astype(np.float32)

    dist = np.linalg.norm(xyz, axis=1)
    gal = Galactic(CartesianRepresentation(xyz.T * u.kpc)).spherical
    gal = Galactic(l=gal.lon, b=gal.lat, distance=gal.distance)
    icrs = gal.transform_to(ICRS())
    lt = np.log10(5772.0 / teff)
    abs_g = 4.67 + 18.9 * lt + 0.4 * fe_h - 2.0 * (logg - 4.44) + rng.normal(0, 0.15, n_syn)
    ebv = 0.25 * dist * np.exp(-z_abs / 0.15) * rng.lognormal(0, 0.3, n_syn)
    g_mag = abs_g + 5 * np.log10(dist * 100) + 2.7 * ebv
    bp_rp = 0.82 + 4.8 * lt + 10 * lt**2 + 1.3 * ebv + rng.normal(0, 0.02, n_syn)
    plx_err = 0.02 + 0.15 * 10 ** (0.2 * (g_mag - 18))
    parallax = 1 / dist + rng.normal(0, 1, n_syn) * plx_err
    snr = np.clip(rng.lognormal(np.log(150) - 0.35 * (g_mag - 13), 0.3), 8, 800)

    # ---- spectra: emulate, inject anomalies at full resolution, bin, add noise ----
    flux = np.empty((n_syn, out_wave.size), np.float32)
    kinds = np.array([""] * n_syn, dtype=object)
    anomalous = np.sort(rng.choice(n_syn, n_anomalies, replace=False))
    kinds[anomalous] = [ANOMALY_KINDS[i % len(ANOMALY_KINDS)] for i in range(n_anomalies)]
    normal_rows = np.flatnonzero(kinds == "")
    chunk = 500

    def emulate(rows: np.ndarray) -> None:
        flux[rows] = _bin(emulator(labels[rows]), groups)

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(emulate, [normal_rows[s: s + chunk] for s in range(0, normal_rows.size, chunk)]))
    flux[anomalous] = _bin(_inject(emulator, labels[anomalous], kinds[anomalous].astype(str), wave, rng), groups)

    noise = rng.standard_normal(flux.shape, dtype=np.float32)
    noise /= snr.astype(np.float32)[:, None]
    flux += noise
    del noise
    mask = np.broadcast_to(out_mask, flux.shape).copy()
    # cosmic rays and other flagged pixels: spikes that a reader must mask, a score must ignore
    n_cr = rng.poisson(0.003 * out_wave.size, n_syn)
    rows = np.repeat(np.arange(n_syn), n_cr)
    cols = rng.integers(0, out_wave.size, rows.size)
    flux[rows, cols] += rng.uniform(1.0, 5.0, rows.size).astype(np.float32)
    mask[rows, cols] = True

    x, y, z = galactic_cartesian(icrs.ra, icrs.dec, parallax * u.mas)
    table = Table(
        {
            "id": [f"demo-{i:07d}" for i in range(n_syn)],
            "source": ["binspec"] * n_syn,
            "ra": icrs.ra.deg, "dec": icrs.dec.deg, "l": gal.l.deg, "b": gal.b.deg,
            "parallax": parallax, "parallax_error": plx_err, "distance": dist,
            "x": x.value, "y": y.value, "z": z.value,
            "phot_g_mean_mag": g_mag, "bp_rp": bp_rp, "abs_g": abs_g,
            "teff": teff, "logg": logg, "fe_h": fe_h, "alpha_fe": alpha, "vmacro": vmacro,
            "population": np.where(thick, "thick", "thin"),
            "snr": snr, "anomaly": kinds.astype(str), "is_anomaly": kinds != "",
        }
    )
    spectra = Spectra(out_wave * u.AA, flux, None, mask, table, normalised=True,
                      meta={"instrument": "APOGEE (demo)", "bin_factor": bin_factor, "seed": seed})
    if real is not None:
        spectra = _append_real(spectra, real, table)
    return spectra


def _inject(emulator: BinSpecEmulator, labels: np.ndarray, kinds: np.ndarray, wave: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Full-resolution spectra of the anomalous stars."""
    flux = emulator(labels)
    for kind in ANOMALY_KINDS:
        rows = np.flatnonzero(kinds == kind)
        if not rows.size:
            continue
        if kind == "emission":
            for r in rows:
                amp = rng.uniform(0.3, 0.8)
                width = rng.uniform(2.0, 4.0)
                for order, centre in enumerate(BRACKETT):
                    flux[r] += amp * 0.85**order * np.exp(-0.5 * ((wave - centre) / width) ** 2)
        elif kind == "sb2":
            second = labels[rows].copy()
            second[:, 0] = np.clip(second[:, 0] * rng.uniform(0.75, 0.92, rows.size), 4200, 7000)
            second[:, 1] = np.clip(second[:, 1] + 0.15, 4.0, 5.0)
            dv = rng.uniform(40, 100, rows.size)
            ratio = rng.uniform(0.4, 0.9, rows.size)[:, None]
            f1 = _shift(flux[rows], wave, dv / 2)
            f2 = _shift(emulator(second), wave, -dv / 2)
            flux[rows] = (f1 + ratio * f2) / (1 + ratio)
        elif kind == "strong_line":
            names = list(ELEMENT_LINES)
            for r in rows:
                lines = ELEMENT_LINES[names[rng.integers(len(names))]]
                depth = rng.uniform(0.5, 0.8)
                for centre in lines:
                    flux[r] *= 1 - depth * np.exp(-0.5 * ((wave - centre) / 1.5) ** 2)
        elif kind == "bad_continuum":
            x = (wave - wave.mean()) / (wave.max() - wave.min()) * 2
            tilt = rng.choice([-1, 1], rows.size) * rng.uniform(0.08, 0.2, rows.size)
            curve = rng.uniform(-0.12, 0.12, rows.size)
            flux[rows] *= 1 + tilt[:, None] * x + curve[:, None] * (x**2 - 1 / 3)
    return flux


def _real_spectra(stellar: pathlib.Path, wave: np.ndarray, groups: list[np.ndarray]) -> tuple | None:
    """Real APOGEE spectra on the binned demo grid: (flux, mask, table) or None if absent."""
    from explore.astro.readers import APOGEE_LOG_START, APOGEE_LOG_STEP, read_aspcapstar

    files = sorted((stellar / "apogee_dr13_birky" / "aspcapStar").glob("aspcapStar-*.fits"))
    index = np.round((np.log10(wave) - APOGEE_LOG_START) / APOGEE_LOG_STEP).astype(int)
    fluxes, rows = [], []
    for path in files:
        s = read_aspcapstar(path)
        f = np.where(s.mask[0], np.nan, s.flux[0])[index]
        fluxes.append(f)
        rows.append({"id": s.ids[0], "source": "apogee-aspcapstar", "ra": s.table["ra"][0],
                     "dec": s.table["dec"][0], "snr": s.table["snr"][0], "teff": s.table["teff"][0],
                     "logg": s.table["logg"][0], "fe_h": s.table["m_h"][0]})
    payne = stellar / "payne_apogee" / "spectrum_ap_id_2M13012770+5754582_.npz"
    if payne.is_file():
        d = np.load(payne)
        f = np.where(d["spec_err"] < 1, d["spectrum"], np.nan)
        fluxes.append(f)
        rows.append({"id": "2M13012770+5754582", "source": "apogee-payne", "ra": 195.3654, "dec": 57.9162,
                     "snr": float(1 / np.median(d["spec_err"])), "teff": np.nan, "logg": np.nan, "fe_h": np.nan})
    if not fluxes:
        return None
    full = np.array(fluxes, np.float64)
    binned = _nan_bin(full, groups)
    return binned.astype(np.float32), ~np.isfinite(binned), rows


def _nan_bin(full: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    parts = []
    for g in groups:
        block = full[:, g]
        good = np.isfinite(block)
        count = good.sum(axis=2)
        total = np.where(good, block, 0).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append(np.where(count * 2 >= g.shape[1], total / count, np.nan))
    return np.concatenate(parts, axis=1)


def _append_real(spectra: Spectra, real: tuple, table: Table) -> Spectra:
    flux, mask, rows = real
    extra = Table(rows=[tuple(r.get(c, None) for c in ("id", "source", "ra", "dec", "snr", "teff", "logg", "fe_h"))
                        for r in rows], names=("id", "source", "ra", "dec", "snr", "teff", "logg", "fe_h"))
    full = Table()
    for name in table.colnames:
        col = table[name]
        if name in extra.colnames:
            values = np.asarray(extra[name], dtype=col.dtype if col.dtype.kind in "fb" else None)
        elif col.dtype.kind == "f":
            values = np.full(len(extra), np.nan)
        elif col.dtype.kind == "b":
            values = np.zeros(len(extra), bool)
        else:
            values = np.array(["real_m_dwarf" if name == "population" else ""] * len(extra))
        full[name] = np.concatenate([np.asarray(col), values])
    # real stars with sky positions: l, b from ra/dec; no parallax, hence no 3D position
    from astropy.coordinates import SkyCoord

    n0 = len(table)
    sky = SkyCoord(ra=np.asarray(extra["ra"], float) * u.deg, dec=np.asarray(extra["dec"], float) * u.deg)
    full["l"][n0:] = sky.galactic.l.deg
    full["b"][n0:] = sky.galactic.b.deg
    mask_all = np.concatenate([np.asarray(spectra.mask), mask | np.asarray(spectra.mask[:1])])
    flux_all = np.concatenate([np.asarray(spectra.flux), np.nan_to_num(flux, nan=1.0)])
    return Spectra(spectra.wavelength, flux_all, None, mask_all, full, normalised=True, meta=spectra.meta)
