"""S-Phot's declaration for the platform: metadata, batch parameters, the batch run, the CLI."""

from __future__ import annotations

import pathlib
import time
from typing import Any, ClassVar, Literal

from explore.sdk import App, Field, Params, RunContext, Session, WorkspacePath

from .cli import cli as sphot_cli

__all__ = ["SPhot", "SPhotParams"]

_CITATION = (
    "McDonald I., et al. 2024, RASTI 3, 89 (PySSED); Castelli F., Kurucz R.L. 2004, arXiv:astro-ph/0405087; "
    "Rodrigo C., Solano E. 2020 (SVO Filter Profile Service); Gordon K.D. et al. 2023, ApJ 950, 86"
)


class SPhotParams(Params):
    """Batch parameters of S-Phot."""

    input: str = WorkspacePath(
        "Photometry table: id, ra, dec, parallax, parallax_error (mas), <SVO filter id> and <SVO filter id>_err per band",
        kinds=(".csv", ".ecsv", ".fits", ".parquet"),
    )
    grid: Literal["ck04", "blackbody"] = Field("ck04", description="Model grid: Castelli & Kurucz 2004 (3500-12000 K) or blackbodies")
    extinction: Literal["none", "fit", "gtomo"] = Field(
        "none", description="none: A_V = 0; fit: A_V free (>= 0); gtomo: from a G-Tomo cube, or an av / ebv column"
    )
    gtomo_cube: str | None = WorkspacePath("G-Tomo dust cube for extinction 'gtomo'", default=None, kinds=(".h5", ".hdf5"))
    rv: float = Field(3.1, ge=2.0, le=6.0, description="R(V) of the G23 extinction law")
    feh: float = Field(0.0, ge=-2.5, le=0.5, description="[M/H] of the models (a 'feh' column overrides it per star)")
    mass: float = Field(1.0, gt=0.05, le=50, description="Mass (M_sun) assumed to derive logg from the radius")
    error_floor: float = Field(0.02, ge=0.0, le=0.5, description="Added in quadrature to every magnitude error (mag)")
    default_error: float | None = Field(0.1, gt=0, le=1.0, description="Error (mag) assumed where a band has none; empty: drop such bands")
    clip_sigma: float = Field(4.0, ge=2.0, le=100.0, description="A band deviating by more than this (sigma) is rejected and the star refitted")
    max_rejected: int = Field(3, ge=0, le=20, description="At most this many bands rejected per star")
    excess_sigma: float = Field(5.0, ge=1.0, le=100.0, description="Significance threshold of the IR / UV excess flags")
    n_plots: int = Field(6, ge=0, le=50, description="Number of SED figures to draw")


class SPhot(App):
    """The stellar photometry app: SEDs, stellar parameters, and infrared or ultraviolet excess."""

    id: ClassVar[str] = "sphot"
    title: ClassVar[str] = "S-Phot: stellar SEDs and their infrared or ultraviolet excess"
    summary: ClassVar[str] = (
        "Fits Teff, radius, luminosity and extinction to the multi-band photometry of up to millions of "
        "stars with real filter curves, and flags infrared and ultraviolet excess."
    )
    description: ClassVar[str] = (
        "S-Phot builds each star's spectral energy distribution from magnitudes named by SVO filter id "
        "(Gaia, GALEX, SDSS, Pan-STARRS, 2MASS, WISE, AKARI, Herschel ...) with the real transmission "
        "curves and zero points, fits a Castelli & Kurucz (2004) or blackbody model with the distance from "
        "the parallax and optional extinction (fitted, or from G-Tomo's 3D dust maps), rejects outlying "
        "bands, and reports per band the significance of any excess, with flags and a classification "
        "(main sequence, giant, white dwarf, YSO-like infrared excess, hot-subdwarf-like ultraviolet "
        "excess). The fit is a vectorised grid search: 1e5 stars in seconds. After PySSED (McDonald et al. 2024)."
    )
    creator: ClassVar[str] = "EXPLORE contributors (after the S-Phot SDA and PySSED by I. McDonald)"
    licence: ClassVar[str] = "Apache-2.0"
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = _CITATION
    body: ClassVar[Literal["milkyway"]] = "milkyway"
    has_output: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = SPhotParams
    cli: ClassVar[Any] = sphot_cli

    def view(self, session: Session) -> Any:
        """The interactive view (:class:`.view.SPhotView`): a star's SED with its model, rejected points,
        residuals and a per-band table that refits, and the sample's HR, excess-vs-luminosity and
        excess-vs-position plots, linked. Imported here so that the catalogue's import stays light."""
        from .view import SPhotView

        return SPhotView(session)

    def demo(self, folder: pathlib.Path) -> None:
        """Write the demo data set (a few seconds): ``sphot_demo.csv`` (3000 stars in 18 bands, with injected
        infrared and ultraviolet excess), ``sphot_demo_truth.csv`` (what was injected) and
        ``sphot_demo_results.parquet`` (their fit with A_V free)."""
        from .batch import fit_table
        from .demo import write_demo
        from .tables import read_table, write_table

        path = write_demo(folder)
        write_table(fit_table(read_table(path), extinction="fit"), pathlib.Path(folder) / "sphot_demo_results.parquet")

    def run(self, params: Params, ctx: RunContext) -> None:
        """Fit the input table and write into ``ctx.output``: ``sphot_results.{parquet,fits,csv}``,
        ``summary.json``, ``hr_diagram.png`` and a few ``sed_<id>.png``.

        Progress is reported between chunks of stars, so STOP takes effect within a second or so.
        """
        assert isinstance(params, SPhotParams)
        from .batch import fit_table, write_outputs
        from .tables import read_table

        started = time.perf_counter()
        ctx.progress(0.0, "reading the photometry")
        table = read_table(ctx.input_path(params.input))
        ctx.log(f"{len(table):,} stars, {len(table.colnames)} columns from {params.input}")
        cube = ctx.input_path(params.gtomo_cube) if params.gtomo_cube else None
        result = fit_table(
            table,
            grid=params.grid,
            extinction=params.extinction,
            gtomo_cube=cube,
            default_error=params.default_error,
            rv=params.rv,
            feh=params.feh,
            mass=params.mass,
            error_floor=params.error_floor,
            clip_sigma=params.clip_sigma,
            max_rejected=params.max_rejected,
            excess_sigma=params.excess_sigma,
            progress=lambda fraction, message: ctx.progress(0.02 + 0.88 * fraction, message),
        )
        for message in result.meta.get("column_messages", []):
            ctx.log(message, level="warning")
        ctx.progress(0.92, "writing results and figures")
        summary = write_outputs(result, table, ctx.output, n_plots=params.n_plots)
        ctx.log(
            f"{summary['fitted']:,} of {summary['stars']:,} stars fitted; {summary['ir_excess']:,} with infrared and "
            f"{summary['uv_excess']:,} with ultraviolet excess, in {time.perf_counter() - started:.1f} s"
        )
        ctx.progress(1.0, "done")
