"""L-Explo's declaration for the platform: metadata, batch parameters (export a region of a layer as
a GeoTIFF), the batch run, the CLI and the tile-layer hook used by the map tiles service."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from explore.sdk import App, Field, Params, RunContext

from .cli import cli as lexplo_cli

__all__ = ["LExplo", "LExploParams"]

_CITATION = (
    "Smith D.E. et al. 2017, Icarus 283, 70 (LOLA); Mazarico E. et al. 2011, Icarus 211, 1066 (PSRs); "
    "Robinson M.S. et al. 2023, ShadowCam; Horn B.K.P. 1981, Proc. IEEE 69, 14 (hillshade, slope)"
)


class LExploParams(Params):
    """Batch parameters of L-Explo: export a box of one layer as a GeoTIFF."""

    layer: Literal["elevation", "hillshade", "slope", "albedo", "shadowcam"] = Field(
        "elevation", description="Layer to export (elevation in m, slope in deg, hillshade 0..1, albedo DN)"
    )
    west: float = Field(-10.0, ge=-180.0, le=180.0, description="West edge, degrees east")
    south: float = Field(-10.0, ge=-90.0, le=90.0, description="South edge, degrees")
    east: float = Field(10.0, ge=-180.0, le=180.0, description="East edge, degrees east")
    north: float = Field(10.0, ge=-90.0, le=90.0, description="North edge, degrees")
    max_size: int = Field(2048, ge=16, le=8192, description="Largest side of the exported image, pixels")
    profile: bool = Field(True, description="Also write the elevation profile along the box's diagonal")

    @model_validator(mode="after")
    def _box(self) -> LExploParams:
        if self.west >= self.east:
            raise ValueError(f"west ({self.west}) must be less than east ({self.east}); export a box crossing 180 deg as two")
        if self.south >= self.north:
            raise ValueError(f"south ({self.south}) must be less than north ({self.north})")
        return self


class LExplo(App):
    """The Moon across scales."""

    id: ClassVar[str] = "lexplo"
    title: ClassVar[str] = "L-Explo: the Moon across scales"
    summary: ClassVar[str] = (
        "Multi-resolution maps of the Moon (LOLA elevation, hillshade, slope, albedo, ShadowCam near the "
        "south pole), crater and PSR overlays, product footprints, profiles and measurements on the sphere."
    )
    description: ClassVar[str] = (
        "L-Explo shows the Moon from global to local scale on one map: the LOLA global DEM coloured by "
        "height, its hillshade and slope computed on the 1737.4 km sphere, the albedo mosaic refined by "
        "ShadowCam 60 m images inside the south-polar shadows, named craters and permanently shadowed "
        "regions, and the footprints of orbital products from the space browser. Tiles are cut on the fly "
        "in geographic, equirectangular and polar stereographic tile matrix sets (IAU 2015), so QGIS or any "
        "XYZ client can use them too. Tools: the value at a point, elevation profiles along great circles, "
        "distances and areas on the sphere, and export of a region of any layer as a GeoTIFF."
    )
    creator: ClassVar[str] = "EXPLORE contributors (after the L-Explo SDA)"
    licence: ClassVar[str] = "Apache-2.0"
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = _CITATION
    body: ClassVar[Literal["moon"]] = "moon"
    has_output: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = LExploParams
    cli: ClassVar[Any] = lexplo_cli
    cli_name: ClassVar[str | None] = "moon"

    @staticmethod
    def tile_layers(data_dir: str | pathlib.Path | None = None) -> dict[str, Any]:
        """The raster layers the tiles service serves for the Moon (hook found through the catalogue)."""
        from .layers import moon_layers

        return moon_layers(data_dir)

    @staticmethod
    def vector_layer(name: str, data_dir: str | pathlib.Path | None = None, *,
                     bbox: tuple[float, float, float, float] | None = None, as_circles: bool = False) -> dict[str, Any]:
        """A vector overlay (``craters`` or ``psrs``) as GeoJSON; KeyError for another name."""
        from .layers import craters_geojson, find_moon_data, psrs_geojson

        makers = {"craters": craters_geojson, "psrs": psrs_geojson}
        if name not in makers:
            raise KeyError(f"unknown vector layer {name!r}; available: {', '.join(makers)}")
        return makers[name](find_moon_data(data_dir), bbox=bbox, as_circles=as_circles)

    @staticmethod
    def prepare_data(data_dir: str | pathlib.Path) -> None:
        """Copy the Moon data into ``<data_dir>/moon`` and build the derived rasters (hook called by the
        platform's demo set-up, so the tiles and the map have their data on first start)."""
        from .layers import prepare_demo_data

        prepare_demo_data(data_dir)

    def view(self, session: Any) -> Any:
        """The interactive map (layers, projections, overlays, measuring tools)."""
        from .view import LExploView

        return LExploView(session).panel()

    def demo(self, folder: pathlib.Path) -> None:
        """A small real DEM (LDEM_4 around Tycho) to try the map's *Add my raster* and the export."""
        from .layers import export_region, find_moon_data, moon_layers, prepare_demo_data

        data_dir = os.environ.get("EXPLORE_DATA_DIR")
        data = prepare_demo_data(data_dir) if data_dir else find_moon_data(None)
        export_region(moon_layers(data), "elevation", (-20.0, -50.0, -2.0, -36.0), folder / "tycho_ldem4.tif",
                      max_size=256)
        (folder / "README.md").write_text(
            "# L-Explo demo\n\n`tycho_ldem4.tif`: LOLA LDEM_4 heights (m) around Tycho crater, a GeoTIFF with a "
            "Moon CRS. Open L-Explo, pick it under *Add my raster*, or draw a line across it for a profile.\n")

    def run(self, params: Params, ctx: RunContext) -> None:
        """Export the box of one layer as ``<layer>.tif`` (plus ``profile.csv`` and ``summary.json``)."""
        assert isinstance(params, LExploParams)
        from .layers import elevation_profile, export_region, find_moon_data, moon_layers

        ctx.progress(0.0, "finding the Moon data")
        # worker processes get the installation's settings as EXPLORE_* variables
        data = find_moon_data(os.environ.get("EXPLORE_DATA_DIR") or None)
        ctx.progress(0.1, "preparing the layers")
        layers = moon_layers(data)
        if params.layer not in layers:
            raise ValueError(f"layer {params.layer!r} is not available with this data ({', '.join(layers)})")
        bbox = (params.west, params.south, params.east, params.north)
        ctx.progress(0.3, f"exporting {params.layer} over {bbox}")
        out = export_region(layers, params.layer, bbox, ctx.output / f"{params.layer}.tif", max_size=params.max_size)
        ctx.log(f"wrote {out.name}")
        summary: dict[str, Any] = {"app": self.id, "version": self.version, "layer": params.layer, "bbox": list(bbox),
                                   "file": out.name, "citation": self.citation}
        if params.profile:
            ctx.progress(0.7, "elevation profile along the diagonal")
            prof = elevation_profile([(params.west, params.south), (params.east, params.north)], n=201, data=data)
            lines = ["distance_m,lon,lat,elevation_m"] + [
                f"{d:.1f},{lo:.5f},{la:.5f},{v:.1f}"
                for d, lo, la, v in zip(prof.distance_m, prof.lon, prof.lat, prof.value, strict=True)
            ]
            (ctx.output / "profile.csv").write_text("\n".join(lines) + "\n")
            summary["profile_length_m"] = round(prof.length_m, 1)
        (ctx.output / "summary.json").write_text(json.dumps(summary, indent=2))
        ctx.progress(1.0, "done")
