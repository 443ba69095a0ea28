"""G-Tomo's declaration for the platform: metadata, batch parameters, the batch run, the CLI."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any, ClassVar, Literal

import astropy.units as u
import numpy as np
from pydantic import field_validator

from explore.sdk import App, Field, Params, RunContext, Session, WorkspacePath

from .cli import cli as gtomo_cli
from .law import _band_key

__all__ = ["GTomo", "GTomoParams"]

_CITATION = (
    "Lallement R., Vergely J.L., Babusiaux C., Cox N.L.J. 2022, A&A 661, A147; "
    "Vergely J.L., Lallement R., Cox N.L.J. 2022, A&A 664, A174"
)


class GTomoParams(Params):
    """Batch parameters of G-Tomo."""

    cube: str = WorkspacePath("Dust-density cube (HDF5, published layout)", kinds=(".h5", ".hdf5"))
    targets: str | None = WorkspacePath(
        "Target table with l, b (or ra, dec) in deg and distance in pc", default=None,
        kinds=(".csv", ".ecsv", ".fits", ".parquet"),
    )
    error_cube: str | None = WorkspacePath("Error cube (adds a0_err)", default=None, kinds=(".h5", ".hdf5"))
    error_kind: Literal["auto", "extinction_error", "density_error"] = Field(
        "auto", description="What the error cube holds; auto reads it from the published file name"
    )
    beyond: Literal["nan", "edge"] = Field(
        "nan", description="a0 of targets beyond the cube: NaN, or the integral to the boundary (lower limit)"
    )
    law: Literal["G23", "F19", "F99", "O94", "CCM89"] = Field("G23", description="Extinction law (dust_extinction)")
    rv: float = Field(3.1, ge=2.0, le=6.0, description="R(V) of the law")
    bands: list[str] = Field(
        default_factory=lambda: ["E(B-V)", "V", "G"],
        description="Convert A0 to these bands (monochromatic at the effective wavelength) or E(B-V)",
    )
    sky_map_distance: float | None = Field(
        None, gt=0, description="Also make a sky map of A0 integrated to this distance (pc)"
    )
    nside: int = Field(32, ge=1, le=1024, description="HEALPix nside of the sky map (a power of 2)")
    cloud_threshold: float | None = Field(
        None, gt=0, description="Also detect clouds: voxels denser than this (mag/pc)"
    )
    min_cloud_size: int = Field(20, ge=2, description="Smallest cloud (voxels)")

    @field_validator("bands")
    @classmethod
    def _known_bands(cls, bands: list[str]) -> list[str]:
        for band in bands:
            if band.strip().lower() not in {"e(b-v)", "ebv"}:
                _band_key(band)  # raises ValueError naming the known bands
        return bands

    @field_validator("nside")
    @classmethod
    def _power_of_two(cls, nside: int) -> int:
        if nside & (nside - 1):
            raise ValueError(f"nside must be a power of 2; got {nside}")
        return nside


class GTomo(App):
    """The Galactic interstellar tomography app."""

    id: ClassVar[str] = "gtomo"
    title: ClassVar[str] = "G-Tomo: the 3D dust of the Milky Way"
    summary: ClassVar[str] = (
        "Extinction along sightlines and to large target lists, slices, sky maps and dust clouds "
        "from the published 3D dust-density cubes."
    )
    description: ClassVar[str] = (
        "G-Tomo reads the 3D extinction-density cubes of Lallement et al. (2022) and Vergely et al. (2022) "
        "(Sun-centred Galactic Cartesian grids at 50, 25, 10 and 5 pc). It gives the extinction profile "
        "along any sightline, the integrated extinction A0 (and E(B-V), A_V, A_G... through an extinction "
        "law) to millions of targets in seconds, exact for the trilinear density field, planar slices, "
        "HEALPix sky maps of the extinction to a distance, and dust clouds found with HDBSCAN. Targets "
        "beyond the cube are flagged, never extrapolated."
    )
    creator: ClassVar[str] = "EXPLORE contributors (after the G-Tomo SDA by ACRI-ST and GEPI)"
    licence: ClassVar[str] = "Apache-2.0"
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = _CITATION
    body: ClassVar[Literal["milkyway"]] = "milkyway"
    has_output: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = GTomoParams
    cli: ClassVar[Any] = gtomo_cli

    def view(self, session: Session) -> Any:
        """The interactive view (:class:`.view.GTomoView`): profiles, slices, sky maps, volume and clouds
        of a cube from the demo folder or the user's workspace. Imported here so that the catalogue's
        import of this module stays light."""
        from .view import GTomoView

        return GTomoView(session)

    def demo(self, folder: pathlib.Path) -> None:
        """Write the demo data set (under a second): ``demo_cube_density.h5`` in the published layout,
        its density- and extinction-error cubes, and ``demo_targets.csv`` (1010 stars, two of them bad)."""
        from .demo import make_demo_cube, make_demo_errors, make_demo_targets

        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        make_demo_cube(folder / "demo_cube_density.h5")
        make_demo_errors(folder / "demo_cube_density_errors.h5", kind="density_error")
        make_demo_errors(folder / "demo_cube_extinct_errors.h5", kind="extinction_error")
        make_demo_targets(folder / "demo_targets.csv")

    def run(self, params: Params, ctx: RunContext) -> None:
        """Integrated extinction for a target table, and optionally a sky map and a clouds table.

        Writes into ``ctx.output``: ``targets_extinction.{parquet,fits,csv}`` (the input columns plus
        ``a0``, ``a0_err``, converted bands and ``flag``), ``a0_vs_distance.png``, ``sky_map.fits`` and
        ``sky_map.png``, ``clouds.ecsv``, and ``summary.json``.
        """
        assert isinstance(params, GTomoParams)
        if params.targets is None and params.sky_map_distance is None and params.cloud_threshold is None:
            raise ValueError("nothing to do: give a target table, a sky-map distance or a cloud threshold")
        from .batch import band_column, extinction_table, flag_counts
        from .cube import DustCube
        from .targets import read_targets, write_table

        started = time.perf_counter()
        out = ctx.output
        summary: dict[str, Any] = {"app": self.id, "version": self.version, "citation": self.citation}
        ctx.progress(0.0, "opening the cube")
        cube = DustCube.open(ctx.input_path(params.cube))
        ext = cube.extent.to_value(u.pc)
        summary["cube"] = {
            "file": params.cube, "shape_xyz": list(cube.shape), "step_pc": cube.step_pc,
            "extent_pc": {"x": ext[0].tolist(), "y": ext[1].tolist(), "z": ext[2].tolist()},
        }
        ctx.log(f"cube {cube!r}")
        err_cube = DustCube.open(ctx.input_path(params.error_cube)) if params.error_cube else None

        # the stages and their share of the progress bar
        stages = [s for s, on in (("targets", params.targets), ("sky", params.sky_map_distance),
                                  ("clouds", params.cloud_threshold)) if on is not None]
        share = 0.95 / len(stages)
        position = 0.02

        if params.targets is not None:
            ctx.progress(position, "reading the targets")
            table = read_targets(ctx.input_path(params.targets))
            ctx.log(f"{len(table):,} targets from {params.targets}")
            base = position

            def report(done: int, total: int) -> None:
                ctx.progress(base + share * 0.8 * done / max(total, 1), f"extinction: {done:,} of {total:,} targets")

            result = extinction_table(
                cube, table, error_cube=err_cube, error_kind=params.error_kind, beyond=params.beyond,
                law=params.law, rv=params.rv, bands=params.bands, progress=report,
            )
            ctx.progress(base + share * 0.85, "writing the target tables")
            for suffix in (".parquet", ".fits", ".csv"):
                write_table(result, out / f"targets_extinction{suffix}")
            flags = np.asarray(result["flag"])
            a0 = np.asarray(result["a0"], dtype=float)
            finite = a0[np.isfinite(a0)]
            summary["targets"] = {
                "file": params.targets, "n": len(result), "flags": flag_counts(flags),
                "law": params.law, "rv": params.rv, "bands": {b: band_column(b) for b in params.bands},
                "a0_percentiles_mag": dict(zip(("p5", "p50", "p95"),
                                               np.percentile(finite, [5, 50, 95]).round(4).tolist(), strict=True))
                if finite.size else None,
            }
            from .targets import targets_from_table

            dist = targets_from_table(table).distance
            from .plots import plot_a0_vs_distance

            plot_a0_vs_distance(dist, a0, out / "a0_vs_distance.png")
            position = base + share

        if params.sky_map_distance is not None:
            from .plots import plot_sky_map
            from .slices import sky_map

            ctx.progress(position, f"sky map to {params.sky_map_distance:g} pc")
            smap = sky_map(cube, params.sky_map_distance, nside=params.nside, beyond=params.beyond)
            smap.write(out / "sky_map.fits")
            plot_sky_map(smap, out / "sky_map.png")
            summary["sky_map"] = {
                "distance_pc": params.sky_map_distance, "nside": params.nside,
                "pixels_beyond_cube": int((smap.flag != 0).sum()),
            }
            position += share

        if params.cloud_threshold is not None:
            from .clouds import CloudFinder

            ctx.progress(position, f"clouds above {params.cloud_threshold:g} mag/pc")
            finder = CloudFinder(params.cloud_threshold, min_cluster_size=params.min_cloud_size).fit(cube)
            write_table(finder.clouds_, out / "clouds.ecsv")
            summary["clouds"] = {"threshold_mag_per_pc": params.cloud_threshold, "n": len(finder.clouds_)}
            position += share

        summary["elapsed_s"] = round(time.perf_counter() - started, 3)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        ctx.progress(1.0, "done")
