"""The batch pipeline shared by the platform run and the CLI: read, fit, classify, write."""

from __future__ import annotations

import importlib
import json
import pathlib
from collections.abc import Callable
from typing import Any, Literal

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from explore.apps.sphot.classify import classify
from explore.apps.sphot.fit import SEDFitter, photometry_from_table
from explore.apps.sphot.plots import plot_hr, plot_sed, sed_points
from explore.apps.sphot.tables import write_table

__all__ = ["fit_table", "gtomo_extinction", "pick_showcase", "write_outputs"]

ExtinctionMode = Literal["none", "fit", "gtomo"]


def gtomo_extinction(cube: str | pathlib.Path) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """A_V to stars from a G-Tomo dust cube: ``f(ra_deg, dec_deg, distance_pc)``.

    G-Tomo's A0 (monochromatic extinction at 550 nm) is used as A_V; NaN beyond the cube.
    """
    try:
        gtomo = importlib.import_module("explore.apps.gtomo")
        extinction_to = gtomo.extinction_to
    except (ImportError, AttributeError) as exc:
        raise ValueError("--extinction gtomo needs the G-Tomo app (explore.apps.gtomo.extinction_to)") from exc

    def a_v(ra: np.ndarray, dec: np.ndarray, distance: np.ndarray) -> np.ndarray:
        gal = SkyCoord(ra=np.asarray(ra) * u.deg, dec=np.asarray(dec) * u.deg, frame="icrs").galactic
        a0 = extinction_to(cube, gal.l.deg, gal.b.deg, np.asarray(distance))
        return np.asarray(u.Quantity(a0, u.mag).value, dtype=float)

    return a_v


def fit_table(
    table: Table,
    *,
    grid: str = "ck04",
    extinction: ExtinctionMode = "none",
    gtomo_cube: str | pathlib.Path | None = None,
    default_error: float | None = 0.1,
    progress: Callable[[float, str], None] | None = None,
    **fitter_options: Any,
) -> Table:
    """Fit and classify the stars of an input table (see :func:`~explore.apps.sphot.fit.photometry_from_table`).

    ``extinction="gtomo"`` takes A_V from ``gtomo_cube`` when given, else from an ``av`` or ``ebv``
    column of the table (e.g. written by a G-Tomo run). Column problems are listed in
    ``result.meta["column_messages"]``.
    """
    phot = photometry_from_table(table, default_error=default_error)
    if extinction == "gtomo":
        if gtomo_cube is not None:
            ext: Any = gtomo_extinction(gtomo_cube)
        elif phot.av is not None:
            ext = phot.av
        else:
            raise ValueError("extinction 'gtomo' needs a G-Tomo cube (--gtomo-cube) or an 'av' / 'ebv' column in the input")
    else:
        ext = extinction
    fitter = SEDFitter(grid, extinction=ext, **fitter_options).fit(phot, progress=progress)
    result = classify(fitter.results_)
    result.meta["column_messages"] = fitter.column_messages_
    result.meta["filters"] = fitter.filter_ids_
    result.meta["extinction"] = extinction
    return result


def pick_showcase(result: Table, n: int = 6) -> list[int]:
    """Rows worth a figure: the strongest IR and UV excesses, then typical stars of each class."""
    picks: list[int] = []
    ok = np.isfinite(np.asarray(result["teff"], float))
    excess_cols = [c for c in result.colnames if c.endswith("_excess_sigma")]
    if excess_cols:
        excess = np.column_stack([np.asarray(result[c], float) for c in excess_cols])
        strongest = np.where(np.isfinite(excess), excess, -np.inf).max(axis=1)
    else:
        strongest = np.zeros(len(result))
    for flag in ("ir_excess", "uv_excess"):
        rows = np.flatnonzero(np.asarray(result[flag], bool) & ok)
        if rows.size:
            picks.append(int(rows[np.argmax(strongest[rows])]))
    for name in dict.fromkeys(np.asarray(result["class"]).astype(str)):
        rows = np.flatnonzero((np.asarray(result["class"]).astype(str) == name) & ok)
        if rows.size and len(picks) < n:
            picks.append(int(rows[0]))
    return list(dict.fromkeys(picks))[:n]


def write_outputs(
    result: Table, photometry: Table, out: pathlib.Path, *, n_plots: int = 6, formats: tuple[str, ...] = (".parquet", ".fits", ".csv")
) -> dict[str, Any]:
    """Write ``sphot_results.*``, ``summary.json``, ``hr_diagram.png`` and a few ``sed_<id>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(result, out / f"sphot_results{suffix}").name for suffix in formats]
    filters = list(result.meta.get("filters", []))
    figures = []
    if len(result):
        figures.append(plot_hr(result, out / "hr_diagram.png").name)
    ids = np.asarray(photometry["id"]).astype(str) if "id" in photometry.colnames else np.arange(len(photometry)).astype(str)
    for i in pick_showcase(result, n_plots):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ids[i])
        title = f"{ids[i]}: Teff {result['teff'][i]:.0f} K, {result['class'][i]}"
        figures.append(plot_sed(sed_points(photometry[i], result[i], filters), out / f"sed_{safe}.png", title=title).name)
    classes, counts = np.unique(np.asarray(result["class"]).astype(str), return_counts=True)
    summary = {
        "stars": len(result),
        "fitted": int(np.isfinite(np.asarray(result["teff"], float)).sum()),
        "ir_excess": int(np.sum(result["ir_excess"])),
        "uv_excess": int(np.sum(result["uv_excess"])),
        "classes": {str(c): int(k) for c, k in zip(classes, counts, strict=True)},
        "filters": filters,
        "column_messages": list(result.meta.get("column_messages", [])),
        "model": result.meta.get("model"),
        "extinction": result.meta.get("extinction"),
        "extinction_law": result.meta.get("extinction_law"),
        "files": written + figures,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
