"""L-Explo's interactive map: base layers, projections, overlays and the measuring tools.

* **Equirectangular** (lon/lat degrees): the layer rendered once at LDEM_4's own resolution
  (0.25 deg, 1440 x 720 pixels: nothing is lost at 7.6 km per pixel) with the same colours as the
  tiles; a user's GeoTIFF from the workspace is drawn over its own extent.
* **North / south polar** (IAU_2015:30130 / 30135 metres): the platform's tiles
  (``/tiles/moon/{layer}/{north|south}_polar/{z}/{x}/{y}.png``), 2048 km centred on the pole
  (poleward of 57 deg, 45 deg in the corners), so the ShadowCam 60 m images appear in the albedo
  layer as you zoom in near the south pole.

Tools (a click on the map, by mode): the value at a point (elevation, slope, albedo), a line or
polygon whose vertices are clicks (elevation profile along great circles, length and area on the
sphere), export of the drawn region of a layer as a GeoTIFF into the workspace, and annotations.

Annotations use the platform's annotation kit (:mod:`explore.viz.annotate`): the Annotate dialog
(title, description, who may read and edit), the saved point, line or polygon (GeoJSON, lon/lat)
drawn on the map in every projection, and the list with Edit and Delete for those who may write.
Changes to the map's Bokeh models from widget callbacks are made inside ``pn.io.unlocked()``
(Panel runs those callbacks without the Bokeh document lock).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import pathlib
import tempfile
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, CustomJSTickFormatter, HoverTool, WheelZoomTool, WMTSTileSource
from bokeh.plotting import figure

from explore.planetary.geodesy import GeometryError, path_length, polygon_area, sample_path
from explore.planetary.tiles import POLAR_HALF_SIDE_M, POLAR_MAXZOOM
from explore.sdk import AnnotationRecord
from explore.viz.annotate import AnnotationForm, AnnotationLayer, geojson_parts

from .layers import (
    MoonData,
    add_user_raster,
    craters_geojson,
    elevation_profile,
    export_region,
    find_moon_data,
    moon_layers,
    point_values,
    psrs_geojson,
)

__all__ = ["LExploView", "layer_image", "PROJECTIONS", "MODES"]

PROJECTIONS = {"equirectangular": "Equirect.", "south_polar": "South polar", "north_polar": "North polar"}
MODES = {"value": "Point value", "line": "Draw line / polygon"}
#: the view name of the map's annotations
MAP_VIEW = "lexplo/map"


@functools.lru_cache(maxsize=16)
def _image(path: str, vmin: float, vmax: float, colormap: str | None, width: int,
           bbox: tuple[float, float, float, float]) -> np.ndarray:
    import rasterio
    from rio_tiler.io import Reader

    from explore.planetary.bodies import crs as moon_crs
    from explore.planetary.tiles import colormap_lut

    geographic = rasterio.crs.CRS.from_wkt(moon_crs("geographic").to_wkt())
    with Reader(path) as reader:
        img = reader.part(bbox, bounds_crs=geographic, dst_crs=geographic, max_size=width, unscale=True,
                          resampling_method="bilinear")
    arr = img.array[0]
    mask = np.ma.getmaskarray(arr)
    norm = (np.asarray(arr.filled(vmin), dtype="float32") - vmin) / (vmax - vmin)
    index = np.clip(norm * 255.0 + 0.5, 0, 255).astype(np.uint8)
    rgba = colormap_lut(colormap)[index]
    rgba[mask, 3] = 0
    return np.ascontiguousarray(rgba[::-1]).view(np.uint32)[..., 0]


def layer_image(layer: Any, *, width: int = 1440, bbox: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0),
                source: int = 0) -> np.ndarray:
    """A layer's source as an RGBA image (uint32, first row south) in lon/lat, with the tiles' colours."""
    src = layer.sources[source]
    lo = layer.vmin if src.vmin is None else src.vmin
    hi = layer.vmax if src.vmax is None else src.vmax
    return _image(str(src.path), float(lo), float(hi), layer.colormap, int(width), tuple(float(v) for v in bbox))


def _transformer(projection: str, inverse: bool = False) -> Any:
    from pyproj import Transformer

    from explore.planetary.bodies import crs

    a, b = crs("geographic"), crs(projection)
    return Transformer.from_crs(b, a, always_xy=True) if inverse else Transformer.from_crs(a, b, always_xy=True)


class LExploView(param.Parameterized):
    """The L-Explo map for one session. State: ``projection``, ``layer``, the overlays, ``mode``,
    the drawn ``vertices`` (lon/lat) and the results of the last tools (``last_values``,
    ``last_profile``, ``last_export``)."""

    projection = param.Selector(default="equirectangular", objects=list(PROJECTIONS))
    layer = param.Selector(default="elevation", objects=["elevation", "hillshade", "slope", "albedo", "shadowcam"])
    craters = param.Boolean(default=True)
    psrs = param.Boolean(default=False)
    footprints = param.Boolean(default=True)
    mode = param.Selector(default="value", objects=list(MODES))
    vertices = param.List(default=[])

    def __init__(self, session: Any, *, data_dir: str | pathlib.Path | None = None, tiles_url: str = "/tiles/moon",
                 **params: Any) -> None:
        super().__init__(**params)
        import rio_tiler.io  # noqa: F401 - before the map's first tiles are requested (see browse_page)

        self.session = session
        self.tiles_url = tiles_url
        if data_dir is None:
            settings = getattr(getattr(session, "platform", None), "settings", None)
            data_dir = getattr(settings, "data_path", None) or os.environ.get("EXPLORE_DATA_DIR") or None
        self.data: MoonData = find_moon_data(data_dir).ensure_derived()
        self.layers = moon_layers(self.data)
        self.param.layer.objects = list(self.layers)
        self.user_rasters: list[tuple[str, pathlib.Path]] = []
        self.last_values: dict[str, float | None] | None = None
        self.last_profile: Any = None
        self.last_export: str | None = None
        self.message = pn.pane.Markdown("Click the map to read the elevation, slope and albedo at a point.",
                                        sizing_mode="stretch_width")
        self.map_pane = pn.pane.Bokeh(sizing_mode="stretch_width", height=520)
        self.profile_pane = pn.pane.Bokeh(sizing_mode="stretch_width", height=220)
        self.profile_box = pn.Column(self.profile_pane, visible=False, sizing_mode="stretch_width")
        self.notes = AnnotationLayer(session)
        self.notes.on_show(MAP_VIEW, self.show_annotation)
        self.form = AnnotationForm(name="annotate the map")
        self.raster_select = pn.widgets.Select(name="My GeoTIFFs", options=self._workspace_rasters())
        self.figure: Any = None
        self._built_projection: str | None = None
        self._next_view: tuple[tuple[float, float], tuple[float, float]] | None = None  # the next map's ranges
        self._build_map()

    # ---- workspace rasters ------------------------------------------------------------------
    def _workspace_rasters(self) -> list[str]:
        found: list[str] = []
        home = self.session.home()
        folders = [home]
        try:
            while folders and len(found) < 50:
                folder = folders.pop(0)
                for f in self.session.listdir(folder):
                    path = getattr(f, "path", None) or f"{folder}/{f.name}"
                    if getattr(f, "is_dir", False) and path.count("/") < 4:
                        folders.append(path)
                    elif path.lower().endswith((".tif", ".tiff")):
                        found.append(path)
        except (FileNotFoundError, PermissionError, NotImplementedError):
            pass
        return found

    def add_raster(self, path: str, kind: str = "dem") -> bool:
        """Add a GeoTIFF of the workspace as a finer source (drawn in the equirectangular view)."""
        try:
            local = self.session.local_path(path)
            derived = pathlib.Path(tempfile.mkdtemp(prefix="lexplo-user-"))
            self.layers = add_user_raster(self.layers, local, kind=kind, derived_dir=derived)
        except Exception as exc:  # noqa: BLE001 - a bad file is a message, not a broken view
            self.say(f"Cannot use {path} as a layer: {exc}")
            return False
        self.user_rasters.append((path, local))
        self._build_map()
        self.say(f"Added {path} as a finer {'elevation' if kind == 'dem' else 'albedo'} source.")
        return True

    # ---- products from the space browser ----------------------------------------------------
    def _product_footprints(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """(product id, lon/lat WKT, polar WKT, pole) of the products added to the workspace from the
        space browser (``<home>/products/*/product.json``)."""
        out = []
        try:
            for f in self.session.listdir(f"{self.session.home()}/products"):
                try:
                    meta = json.loads(self.session.read_bytes(f"{self.session.home()}/products/{f.name}/product.json"))
                except (FileNotFoundError, PermissionError, ValueError):
                    continue
                out.append((meta.get("product_id", f.name), meta.get("footprint_wkt"),
                            meta.get("footprint_polar_wkt"), meta.get("pole")))
        except (FileNotFoundError, PermissionError):
            pass
        return out

    # ---- map --------------------------------------------------------------------------------
    def to_map(self, lon: Any, lat: Any, projection: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat degrees to map coordinates of ``projection`` (default: the one shown)."""
        projection = projection or self.projection
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if projection == "equirectangular":
            return (lon + 180.0) % 360.0 - 180.0, lat
        x, y = _transformer(projection).transform(lon, lat)
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        if self.projection == "equirectangular":
            return float(x), float(y)
        lon, lat = _transformer(self.projection, inverse=True).transform(x, y)
        return float(lon), float(lat)

    def project_shape(self, lon: Any, lat: Any, projection: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The vertices of a drawn shape (lon/lat) in map coordinates of ``projection`` (default: the
        one shown): longitudes unwrapped on the equirectangular map (a shape across 180 deg stays in one
        piece), edges along great circles on the polar maps, NaN for a shape in the other hemisphere of
        a polar map (it cannot be shown)."""
        projection = projection or self.projection
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if projection == "equirectangular":
            lon = np.degrees(np.unwrap(np.radians(lon)))
            lon = lon - 360.0 * np.round((lon[0] if lon.size else 0.0) / 360.0)
            return lon, lat
        hemisphere = -1.0 if projection == "south_polar" else 1.0
        if np.any(np.sign(lat) != hemisphere):
            return np.full(lon.shape, np.nan), np.full(lat.shape, np.nan)
        if lon.size > 1:
            _, lon, lat = sample_path(list(zip(lon, lat, strict=True)), n=64 * (lon.size - 1))
        return self.to_map(lon, lat, projection)

    def _visible(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Which points fall on the map (on a polar map: inside its square; the other hemisphere
        projects far outside it, or to infinity at the other pole)."""
        if self.projection == "equirectangular":
            return np.ones(lat.shape, bool)
        with np.errstate(invalid="ignore"):
            x, y = self.to_map(lon, lat)
            return (np.abs(x) <= POLAR_HALF_SIDE_M) & (np.abs(y) <= POLAR_HALF_SIDE_M)

    def _view_to_keep(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The ranges the user is looking at, if the map is rebuilt in the same projection (another layer
        or overlay): the new map opens where the old one was, not zoomed out."""
        if self.figure is None or self._built_projection != self.projection:
            return None
        xr, yr = self.figure.x_range, self.figure.y_range
        if None in (xr.start, xr.end, yr.start, yr.end):
            return None
        return (xr.start, xr.end), (yr.start, yr.end)

    def _build_map(self) -> None:
        proj = self.projection
        keep, self._next_view = self._next_view or self._view_to_keep(), None
        if proj == "equirectangular":
            x_range, y_range = keep or ((-180, 180), (-90, 90))
            fig = figure(x_range=x_range, y_range=y_range, match_aspect=True, height=520,
                         sizing_mode="stretch_width", tools="pan,reset,save", background_fill_color="#10131a")
            layer = self.layers[self.layer]
            fig.image_rgba(image=[layer_image(layer)], x=-180, y=-90, dw=360, dh=180)
            for k in range(1, len(layer.sources)):
                src = layer.sources[k]
                if any(str(src.path) == str(p) for _, p in self.user_rasters):
                    bbox = self._raster_bbox(src.path)
                    if bbox is not None:
                        fig.image_rgba(image=[layer_image(layer, width=1024, bbox=bbox, source=k)], x=bbox[0],
                                       y=bbox[1], dw=bbox[2] - bbox[0], dh=bbox[3] - bbox[1])
            fig.xaxis.formatter = CustomJSTickFormatter(code="return tick + '°'")
            fig.yaxis.formatter = CustomJSTickFormatter(code="return tick + '°'")
        else:
            half = POLAR_HALF_SIDE_M  # the whole polar map, the pole in the middle
            x_range, y_range = keep or ((-half, half), (-half, half))
            fig = figure(x_range=x_range, y_range=y_range, match_aspect=True, height=520,
                         sizing_mode="stretch_width", tools="pan,reset,save", background_fill_color="#10131a")
            fig.add_tile(WMTSTileSource(url=f"{self.tiles_url}/{self.layer}/{proj}/{{Z}}/{{X}}/{{Y}}.png",
                                        x_origin_offset=half, y_origin_offset=half, initial_resolution=2 * half / 256,
                                        max_zoom=POLAR_MAXZOOM, wrap_around=False,
                                        attribution=self.layers[self.layer].attribution))
            fig.xaxis.formatter = CustomJSTickFormatter(code="return (tick / 1000).toFixed(0) + ' km'")
            fig.yaxis.formatter = CustomJSTickFormatter(code="return (tick / 1000).toFixed(0) + ' km'")
        fig.grid.visible = False
        wheel = WheelZoomTool()
        fig.add_tools(wheel)
        fig.toolbar.active_scroll = wheel
        self._overlays(fig)
        self.notes.draw_on(fig, view=MAP_VIEW, project=self.project_shape)
        self.line_source = ColumnDataSource({"x": [], "y": []})
        fig.line("x", "y", source=self.line_source, line_color="#ff7043", line_width=2)
        fig.scatter("x", "y", source=self.line_source, size=7, color="#ff7043")
        self.point_source = ColumnDataSource({"x": [], "y": []})
        fig.scatter("x", "y", source=self.point_source, size=12, marker="cross", color="#ffeb3b", line_width=3)
        fig.on_event(Tap, lambda event: self.on_click(event.x, event.y))
        self.figure = fig
        self._built_projection = proj
        self.map_pane.object = fig
        self._draw_vertices()

    def _raster_bbox(self, path: pathlib.Path) -> tuple[float, float, float, float] | None:
        import rasterio
        from rasterio.warp import transform_bounds

        from explore.planetary.bodies import crs as moon_crs

        try:
            with rasterio.open(path) as ds:
                dst = rasterio.crs.CRS.from_wkt(moon_crs("geographic").to_wkt())
                return tuple(transform_bounds(ds.crs, dst, *ds.bounds, densify_pts=21))  # type: ignore[return-value]
        except Exception:  # noqa: BLE001
            return None

    def _overlays(self, fig: Any) -> None:
        if self.craters:
            gj = craters_geojson(self.data, min_diameter_km=0.0)
            lon = np.array([f["geometry"]["coordinates"][0] for f in gj["features"]])
            lat = np.array([f["geometry"]["coordinates"][1] for f in gj["features"]])
            d = np.array([f["properties"]["diameter_km"] for f in gj["features"]])
            keep = self._visible(lon, lat)
            x, y = self.to_map(lon[keep], lat[keep])
            src = ColumnDataSource({"x": x, "y": y, "d": d[keep], "lon": lon[keep], "lat": lat[keep]})
            r = fig.scatter("x", "y", source=src, size=5, color="#ffffff", alpha=0.7, line_color="#000000")
            fig.add_tools(HoverTool(renderers=[r], tooltips=[("crater, D (km)", "@d{0.0}"),
                                                             ("lon, lat", "@lon{0.00}, @lat{0.00}")]))
        if self.psrs:
            gj = psrs_geojson(self.data)
            lon = np.array([f["geometry"]["coordinates"][0] for f in gj["features"]])
            lat = np.array([f["geometry"]["coordinates"][1] for f in gj["features"]])
            area = np.array([f["properties"]["area_km2"] for f in gj["features"]])
            keep = self._visible(lon, lat)
            x, y = self.to_map(lon[keep], lat[keep])
            src = ColumnDataSource({"x": x, "y": y, "area": area[keep]})
            r = fig.scatter("x", "y", source=src, size=4, color="#29b6f6", alpha=0.8)
            fig.add_tools(HoverTool(renderers=[r], tooltips=[("PSR area (km²)", "@area{0.0}")]))
        if self.footprints:
            import shapely

            xs, ys, names = [], [], []
            for pid, wkt, polar_wkt, pole in self._product_footprints():
                if self.projection == "equirectangular" and wkt:
                    geom = shapely.from_wkt(wkt)
                elif polar_wkt and pole == ("S" if self.projection == "south_polar" else "N"):
                    geom = shapely.from_wkt(polar_wkt)
                else:
                    continue
                for poly in getattr(geom, "geoms", [geom]):
                    x, y = np.asarray(poly.exterior.coords).T
                    xs.append(x.tolist())
                    ys.append(y.tolist())
                    names.append(pid)
            if xs:
                src = ColumnDataSource({"xs": xs, "ys": ys, "product": names})
                r = fig.patches("xs", "ys", source=src, fill_alpha=0.15, fill_color="#66bb6a", line_color="#66bb6a",
                                line_width=2)
                fig.add_tools(HoverTool(renderers=[r], tooltips=[("product", "@product")]))

    @param.depends("projection", "layer", "craters", "psrs", "footprints", watch=True)
    def _rebuild(self) -> None:
        if self.layer == "shadowcam" and self.projection == "equirectangular":
            self.say("ShadowCam covers only 7-60 km around the south pole: use the south polar projection and zoom in.")
        self._build_map()

    # ---- tools -------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.message.object = text

    def on_click(self, x: float, y: float) -> None:
        """A click on the map: the value at the point, or a new vertex of the line, by ``mode``."""
        lon, lat = self.to_lonlat(x, y)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return
        if self.mode == "value":
            self.value_at(lon, lat)
        else:
            self.vertices = [*self.vertices, (lon, lat)]
            self._draw_vertices()
            self.say(f"{len(self.vertices)} vertices; use Profile, Measure, Export or Annotate.")

    def value_at(self, lon: float, lat: float) -> dict[str, float | None]:
        """Elevation (m), slope (deg) and albedo (DN) at a point, shown and returned."""
        values = point_values(lon, lat, self.data)
        self.last_values = values
        x, y = self.to_map([lon], [lat])
        with pn.io.unlocked():
            self.point_source.data = {"x": x.tolist(), "y": y.tolist()}

        def fmt(v: float | None, unit: str) -> str:
            return "no data" if v is None else f"{v:,.1f} {unit}"

        self.say(f"**{lon:.3f}° E, {lat:.3f}° N**: elevation {fmt(values.get('elevation'), 'm')}, slope "
                 f"{fmt(values.get('slope'), '°')}, albedo {fmt(values.get('albedo'), 'DN')}")
        return values

    def _draw_vertices(self) -> None:
        x: Any = []
        y: Any = []
        if self.vertices:
            lon, lat = np.array(self.vertices, dtype=float).T
            if self.projection == "equirectangular":
                x, y = lon, lat
            else:
                if len(lon) > 1:
                    _, lon, lat = sample_path(list(zip(lon, lat, strict=True)), n=64 * (len(lon) - 1))
                x, y = self.to_map(lon, lat)
        with pn.io.unlocked():
            self.line_source.data = {"x": np.asarray(x).tolist(), "y": np.asarray(y).tolist()}

    def clear_line(self) -> None:
        self.vertices = []
        self._draw_vertices()
        self.profile_box.visible = False
        self.say("Line cleared.")

    def profile(self, n: int = 256) -> Any:
        """The elevation profile along the drawn line (great circles), plotted under the map."""
        if len(self.vertices) < 2:
            self.say("Draw a line first: choose *Draw line / polygon* and click two or more points.")
            return None
        try:
            prof = elevation_profile(self.vertices, n=n, data=self.data)
        except (GeometryError, ValueError) as exc:
            self.say(f"Cannot make a profile: {exc}")
            return None
        self.last_profile = prof
        fig = figure(height=220, sizing_mode="stretch_width", x_axis_label="distance (km)",
                     y_axis_label="elevation (m)", tools="pan,wheel_zoom,box_zoom,reset,save,hover",
                     title=f"Elevation profile, {prof.length_m / 1000:,.1f} km along great circles (LOLA LDEM_4)")
        fig.line(np.asarray(prof.distance_m) / 1000.0, prof.value, line_width=2, color="#3f51b5")
        self.profile_pane.object = fig
        self.profile_box.visible = True
        finite = np.asarray(prof.value)[np.isfinite(prof.value)]
        rng = f"; elevation {finite.min():,.0f} .. {finite.max():,.0f} m" if finite.size else ""
        self.say(f"Profile: {prof.length_m / 1000:,.2f} km{rng}.")
        return prof

    def measure(self) -> dict[str, float]:
        """Length of the drawn line and, with three or more vertices, the area it encloses (sphere R = 1737.4 km)."""
        out: dict[str, float] = {}
        try:
            out["length_m"] = path_length(self.vertices)
            if len(self.vertices) >= 3:
                out["area_m2"] = polygon_area(self.vertices)
        except (GeometryError, ValueError) as exc:
            self.say(f"Cannot measure: {exc}")
            return out
        text = f"Length {out['length_m'] / 1000:,.3f} km"
        if "area_m2" in out:
            text += f"; closed polygon area {out['area_m2'] / 1e6:,.1f} km²"
        self.say(text + " (on the sphere R = 1737.4 km).")
        return out

    def region_bbox(self) -> tuple[float, float, float, float] | None:
        if len(self.vertices) < 2:
            return None
        lon, lat = np.array(self.vertices, dtype=float).T
        lon = (lon + 180.0) % 360.0 - 180.0
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def export(self, layer: str | None = None, max_size: int = 1024) -> str | None:
        """Export the box around the drawn vertices of a layer as a GeoTIFF into ``<home>/lexplo_exports``."""
        layer = layer or self.layer
        bbox = self.region_bbox()
        if bbox is None or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            self.say("Draw a region first (two or more points spanning an area): its bounding box is exported.")
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = export_region(self.layers, layer, bbox, pathlib.Path(tmp) / f"{layer}.tif", max_size=max_size)
            except ValueError as exc:
                self.say(f"Cannot export: {exc}")
                return None
            data = out.read_bytes()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        folder = f"{self.session.home()}/lexplo_exports"
        try:
            self.session.makedirs(folder)
            path = self.session.write_bytes(f"{folder}/{layer}_{stamp}.tif", data)
        except (PermissionError, OSError, ValueError) as exc:
            self.say(f"Cannot write the export to your workspace: {exc}")
            return None
        self.last_export = path
        self.say(f"Exported {layer} over W {bbox[0]:.2f} S {bbox[1]:.2f} E {bbox[2]:.2f} N {bbox[3]:.2f} to **{path}**.")
        return path

    def show_annotation(self, record: AnnotationRecord) -> None:
        """Zoom the map to an annotation's shape, in the projection it was drawn in (the *Show*
        button of the annotation list); a point gets a few degrees (or tens of km) around it."""
        parts = geojson_parts(record.region)
        if not parts:
            raise ValueError(f"“{record.title}” stores no shape on the map")
        drawn_in = (record.region or {}).get("projection")
        projection = drawn_in if drawn_in in PROJECTIONS else self.projection
        xy = [self.project_shape(lon, lat, projection) for _, lon, lat in parts]
        x, y = np.concatenate([p[0] for p in xy]), np.concatenate([p[1] for p in xy])
        keep = np.isfinite(x) & np.isfinite(y)
        if not keep.any():
            raise ValueError(f"“{record.title}” is in the other hemisphere: switch to the other polar map")
        x, y = x[keep], y[keep]
        least = 2.0 if projection == "equirectangular" else 20_000.0  # degrees, or metres on a polar map
        pad = max(0.15 * max(np.ptp(x), np.ptp(y)), least)
        view = ((float(x.min() - pad), float(x.max() + pad)), (float(y.min() - pad), float(y.max() + pad)))
        if projection != self.projection:
            self._next_view = view  # the map rebuilt in that projection opens there
            self.projection = projection
        else:
            self.figure.x_range.update(start=view[0][0], end=view[0][1])
            self.figure.y_range.update(start=view[1][0], end=view[1][1])

    def drawn_region(self) -> dict[str, Any] | None:
        """The drawn point, line or polygon (or the last point read) as a GeoJSON geometry in lon/lat
        degrees, with the projection it was drawn in; None when nothing is drawn."""
        if self.vertices:
            coords = [[float(v) for v in vertex] for vertex in self.vertices]
            if len(coords) >= 3:
                region: dict[str, Any] = {"type": "Polygon", "coordinates": [coords + [coords[0]]]}
            elif len(coords) == 2:
                region = {"type": "LineString", "coordinates": coords}
            else:
                region = {"type": "Point", "coordinates": coords[0]}
        elif self.point_source.data["x"]:
            lon, lat = self.to_lonlat(self.point_source.data["x"][0], self.point_source.data["y"][0])
            region = {"type": "Point", "coordinates": [lon, lat]}
        else:
            return None
        region["projection"] = self.projection
        return region

    def open_annotate(self) -> bool:
        """Open the Annotate dialog for the drawn shape (False, with a message, when nothing is drawn)."""
        if self.drawn_region() is None:
            self.say("Click a point or draw a line or polygon to annotate first.")
            return False
        self.form.reset()
        self.form.open = True
        return True

    def annotate(self, title: str | None = None, description: str | None = None) -> Any:
        """Save an annotation of the drawn point, line or polygon (GeoJSON region, lon/lat) with the
        dialog's title, description and access (or the ``title`` and ``description`` given); it is
        drawn on the map and listed under it. Returns the :class:`explore.sdk.AnnotationRecord`."""
        if title is not None:
            self.form.title = title
        if description is not None:
            self.form.description = description
        if not self.form.title.strip():
            self.form.error = "An annotation needs a title."
            self.say("Give the annotation a title.")
            return None
        region = self.drawn_region()
        if region is None:
            self.say("Click a point or draw a line or polygon to annotate first.")
            return None
        try:
            record = self.notes.create(MAP_VIEW, self.form, region=region)
        except (PermissionError, ValueError) as exc:
            self.form.error = f"Cannot save the annotation: {exc}"
            self.say(self.form.error)
            return None
        self.form.open = False
        self.vertices = []  # the saved shape is drawn as the annotation now
        self._draw_vertices()
        self.say(f"Annotation **{record.title}** saved.")
        return record

    # ---- layout -------------------------------------------------------------------------------
    def panel(self) -> pn.viewable.Viewable:
        controls = pn.Param(self.param, parameters=["projection", "layer", "craters", "psrs", "footprints", "mode"],
                            widgets={"projection": {"type": pn.widgets.RadioButtonGroup, "button_type": "primary",
                                                    "options": {v: k for k, v in PROJECTIONS.items()},
                                                    "sizing_mode": "stretch_width"},
                                     "mode": {"type": pn.widgets.RadioButtonGroup, "button_type": "primary",
                                              "button_style": "outline", "sizing_mode": "stretch_width",
                                              "options": {v: k for k, v in MODES.items()}}},
                            show_name=False, sizing_mode="stretch_width")

        def button(label: str, fn: Any) -> pn.widgets.Button:
            b = pn.widgets.Button(name=label, button_type="default", sizing_mode="stretch_width")
            b.on_click(lambda _e: fn())
            return b

        tools = pn.Column(
            pn.pane.Markdown("**Line / polygon tools**"),
            pn.Row(button("Profile", self.profile), button("Measure", self.measure)),
            pn.Row(button("Export GeoTIFF", self.export), button("Clear", self.clear_line)),
            pn.pane.Markdown("**Annotate** the drawn point, line or polygon"), button("Annotate", self.open_annotate),
            pn.pane.Markdown("**Add my raster**"), self.raster_select,
            button("Add as elevation source", lambda: self.raster_select.value and self.add_raster(self.raster_select.value)),
            sizing_mode="stretch_width",
        )
        main = pn.Column(self.message, self.map_pane, self.profile_box, self.notes,
                         self.form.dialog(lambda *_: self.annotate(), allow_attach=False),
                         sizing_mode="stretch_width")
        return pn.Row(pn.Column(controls, tools, width=360), main, sizing_mode="stretch_width")
