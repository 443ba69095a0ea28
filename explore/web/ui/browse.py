"""The space browser page: search the planetary product index by mission, instrument, product type,
viewing angles, time and a region drawn on a map of the Moon; the results as a table and as
footprints on the map, linked both ways; add a product to the workspace; ask ODE live.

The map is a Bokeh figure on the platform's own tiles (``/tiles/moon/{layer}/{tms}/{z}/{x}/{y}.png``):
the global view uses the square Moon web-mercator tile matrix set, the polar views the polar
stereographic ones (IAU_2015:30135 / 30130 metres, 2048 km centred on the pole, out to 57 deg at
the middle of the edges), so Bokeh's own tile arithmetic applies to all three.

Web mercator cannot show the poles (it stops at 85 deg and triples lengths at 70 deg), and the
Moon's poles are where much of the interest is: selecting a product whose footprint reaches
poleward of ``POLAR_SWITCH_LAT`` and fits on the polar map (or reaches past 85 deg) switches the map
to that pole's stereographic view, and one that a polar view cannot show switches back to the
global view, so the selected footprint is always drawn.

Panel runs widget callbacks without the Bokeh document lock, so every change to the map's Bokeh
models (sources, selection, ranges) is made inside ``pn.io.unlocked()``, which sends it to the
browser itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import pathlib
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
import shapely
from bokeh.events import SelectionGeometry
from bokeh.models import (
    BoxSelectTool,
    ColumnDataSource,
    CustomJSTicker,
    CustomJSTickFormatter,
    HoverTool,
    PolySelectTool,
    TapTool,
    WheelZoomTool,
    WMTSTileSource,
)
from bokeh.plotting import figure

from explore.planetary.tiles import POLAR_HALF_SIDE_M, POLAR_MAXZOOM
from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError
from explore.platform.products import SORT_KEYS, ProductQuery, SearchError, product_facets, search_products
from explore.web.ui.layout import StatusBar

__all__ = ["browse_page", "SpaceBrowser", "VIEWS", "project", "unproject"]

MOON_R = 1_737_400.0
MERCATOR_HALF = math.pi * MOON_R  # half the side of the square web-mercator world (metres)
LAT_LIMIT = 85.0
#: a selected product reaching poleward of this latitude is shown on its pole's stereographic map
#: (if the map holds all of it)
POLAR_SWITCH_LAT = 70.0
VIEWS = {"global": "Global (web mercator)", "south_polar": "South pole", "north_polar": "North pole"}
BASE_LAYERS = ("hillshade", "albedo", "elevation", "slope")
TABLE_COLUMNS = ["id", "mission", "instrument", "product_type", "product_id", "start_time", "incidence",
                 "emission", "phase", "resolution"]
ANY = "(any)"


def _polar_crs(view: str):
    from explore.planetary.bodies import crs

    return crs(view)


def project(view: str, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates of lon/lat degrees in a view: Moon web-mercator metres (latitudes clipped
    to +-85 deg) or polar stereographic metres (IAU_2015:30135 / 30130)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if view == "global":
        x = MOON_R * np.radians(lon)
        y = MOON_R * np.log(np.tan(np.pi / 4 + np.radians(np.clip(lat, -LAT_LIMIT, LAT_LIMIT)) / 2))
        return x, y
    from pyproj import Transformer

    from explore.planetary.bodies import crs

    t = Transformer.from_crs(crs("geographic"), _polar_crs(view), always_xy=True)
    x, y = t.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def unproject(view: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat degrees of map coordinates in a view (the inverse of :func:`project`)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if view == "global":
        return np.degrees(x / MOON_R), np.degrees(2 * np.arctan(np.exp(y / MOON_R)) - np.pi / 2)
    from pyproj import Transformer

    from explore.planetary.bodies import crs

    t = Transformer.from_crs(_polar_crs(view), crs("geographic"), always_xy=True)
    lon, lat = t.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def _polygons(geom: Any) -> list[Any]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"]


#: JavaScript: the decimals that show a tick step exactly (0.25 -> 2, 5 -> 0)
_JS_DECIMALS = """
    const decimals = (step) => { let d = 0;
        while (d < 6 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-6 * 10 ** d) d++;
        return d; };"""


def _degree_ticks(latitude: bool) -> tuple[CustomJSTicker, CustomJSTickFormatter]:
    """Ticker and formatter of a web-mercator axis at round degrees of longitude or latitude (the
    mercator metres themselves fall at odd angles) with as many decimals as the zoom needs."""
    if latitude:
        to_deg = f"(m) => (2 * Math.atan(Math.exp(m / {MOON_R})) - Math.PI / 2) * 180 / Math.PI"
        to_m = f"(d) => {MOON_R} * Math.log(Math.tan(Math.PI / 4 + d * Math.PI / 360))"
        limit = 89.0
    else:
        to_deg = f"(m) => m / {MOON_R} * 180 / Math.PI"
        to_m = f"(d) => {MOON_R} * d * Math.PI / 180"
        limit = 360.0
    ticker = CustomJSTicker(major_code=f"""
        const toDeg = {to_deg}, toM = {to_m};
        const lo = Math.max(-{limit}, toDeg(Math.min(cb_data.start, cb_data.end)));
        const hi = Math.min({limit}, toDeg(Math.max(cb_data.start, cb_data.end)));
        const steps = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15,
                       30, 45, 60, 90];
        const step = steps.find((s) => (hi - lo) / s <= 8) || 90;
        const ticks = [];
        for (let k = Math.ceil(lo / step); k * step <= hi; k++) ticks.push(toM(k * step));
        return ticks;""")
    formatter = CustomJSTickFormatter(code=f"""{_JS_DECIMALS}
        const toDeg = {to_deg};
        const step = ticks.length > 1 ? Math.abs(toDeg(ticks[1]) - toDeg(ticks[0])) : 1;
        return toDeg(tick).toFixed(decimals(step)) + '°';""")
    return ticker, formatter


def _footprint_lats(record: dict[str, Any]) -> tuple[float, float] | None:
    """(southernmost, northernmost) latitude of a product's footprint, or None if unknown."""
    if record.get("bbox"):
        return float(record["bbox"][1]), float(record["bbox"][3])
    if record.get("footprint_wkt"):
        _, s, _, n = shapely.from_wkt(record["footprint_wkt"]).bounds
        return float(s), float(n)
    if record.get("centre_lat") is not None:
        return float(record["centre_lat"]), float(record["centre_lat"])
    return None


def _on_polar_map(record: dict[str, Any]) -> bool:
    """Whether a product's polar footprint lies wholly on its pole's map."""
    x0, y0, x1, y1 = shapely.from_wkt(record["footprint_polar_wkt"]).bounds
    return max(abs(x0), abs(y0), abs(x1), abs(y1)) <= POLAR_HALF_SIDE_M


def footprint_xy(record: dict[str, Any], view: str) -> tuple[list, list]:
    """A product's footprint as Bokeh ``multi_polygons`` coordinates in a view (empty if not shown)."""
    xs: list = []
    ys: list = []
    if view == "global":
        wkt = record.get("footprint_wkt")
        if not wkt:
            return xs, ys
        for poly in _polygons(shapely.from_wkt(wkt)):
            rings_x, rings_y = [], []
            for ring in [poly.exterior, *poly.interiors]:
                lon, lat = np.asarray(ring.coords).T
                x, y = project("global", lon, lat)
                rings_x.append(x.tolist())
                rings_y.append(y.tolist())
            xs.append(rings_x)
            ys.append(rings_y)
        return xs, ys
    pole = "S" if view == "south_polar" else "N"
    wkt = record.get("footprint_polar_wkt")
    if not wkt or record.get("pole") != pole:
        return xs, ys
    for poly in _polygons(shapely.from_wkt(wkt)):
        rings_x, rings_y = [], []
        for ring in [poly.exterior, *poly.interiors]:
            x, y = np.asarray(ring.coords).T
            rings_x.append(x.tolist())
            rings_y.append(y.tolist())
        xs.append(rings_x)
        ys.append(rings_y)
    return xs, ys


def tile_source(layer: str, view: str, tiles_url: str = "/tiles/moon") -> WMTSTileSource:
    """A Bokeh tile source on the platform's Moon tiles for a view."""
    if view == "global":
        return WMTSTileSource(url=f"{tiles_url}/{layer}/webmercator/{{Z}}/{{X}}/{{Y}}.png",
                              x_origin_offset=MERCATOR_HALF, y_origin_offset=MERCATOR_HALF,
                              initial_resolution=2 * MERCATOR_HALF / 256, wrap_around=False,
                              attribution="LOLA / USGS / ShadowCam via EXPLORE tiles")
    return WMTSTileSource(url=f"{tiles_url}/{layer}/{view}/{{Z}}/{{X}}/{{Y}}.png",
                          x_origin_offset=POLAR_HALF_SIDE_M, y_origin_offset=POLAR_HALF_SIDE_M,
                          initial_resolution=2 * POLAR_HALF_SIDE_M / 256, max_zoom=POLAR_MAXZOOM, wrap_around=False,
                          attribution="LOLA / ShadowCam via EXPLORE tiles")


def _record(product: Any) -> dict[str, Any]:
    d = product.to_dict() if hasattr(product, "to_dict") else dict(product)
    return d


def _row_from_ode(index: int, row: dict[str, Any]) -> dict[str, Any]:
    """A product row of a live ODE answer in the shape of ``Product.to_dict``."""
    return {
        "id": -(index + 1), "body": row["body"], "mission": row["mission"], "instrument": row["instrument"],
        "product_type": row["product_type"], "product_id": row["product_id"], "data_set_id": row["data_set_id"],
        "start_time": row["start_time"].isoformat() if row["start_time"] else None,
        "stop_time": row["stop_time"].isoformat() if row["stop_time"] else None,
        "emission": row["emission"], "incidence": row["incidence"], "phase": row["phase"],
        "resolution": row["resolution"], "centre_lon": row["centre_lon"], "centre_lat": row["centre_lat"],
        "footprint_wkt": row["footprint"], "footprint_polar_wkt": row["footprint_polar"], "pole": row["pole"],
        "files": row["files"] or [], "urls": row["urls"] or {}, "source": "ODE (live)",
    }


class SpaceBrowser(param.Parameterized):
    """The state and widgets of the space browser for one user.

    The state is in parameters: ``region`` (the drawn search region), ``results`` (the current page
    of products as dictionaries), ``total``, ``offset`` and ``highlighted`` (the id of the product
    whose footprint is highlighted).
    """

    view = param.Selector(default="global", objects=list(VIEWS))
    base_layer = param.Selector(default="hillshade", objects=list(BASE_LAYERS))
    region = param.Dict(default=None, allow_None=True, doc="{'bbox': (w, s, e, n)} or {'polygon': wkt, 'polygon_crs': crs}")
    results = param.List(default=[])
    total = param.Integer(default=0)
    total_exact = param.Boolean(default=True, doc="False: more than ``total`` products match (the count stopped)")
    count_limit = param.Integer(default=10_000, bounds=(0, None), allow_None=True,
                                doc="searches count their matches up to this (None: all)")
    offset = param.Integer(default=0)
    highlighted = param.Integer(default=None, allow_None=True)

    def __init__(self, platform: Platform, user: Principal, *, tiles_url: str = "/tiles/moon",
                 ode_url: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.platform = platform
        self.user = user
        self.tiles_url = tiles_url
        self.ode_url = ode_url or getattr(platform.settings, "ode_url", None)
        self._syncing = False
        self.status = StatusBar()
        w = {"sizing_mode": "stretch_width"}
        self.body = pmui.Select(label="Body", options={"Moon": "moon", "Mars": "mars"}, value="moon", **w)
        self.mission = pmui.Select(label="Mission", options=[ANY], value=ANY, **w)
        self.instrument = pmui.Select(label="Instrument", options=[ANY], value=ANY, **w)
        self.product_type = pmui.Select(label="Product type", options=[ANY], value=ANY, **w)
        self.angles = {}
        for name in ("emission", "incidence", "phase"):
            self.angles[name] = (pmui.TextInput(label=f"min {name} (°)", placeholder="any", width=135),
                                 pmui.TextInput(label=f"max {name} (°)", placeholder="any", width=135))
        self.start = pmui.DatePicker(label="Observed from", value=None, **w)
        self.stop = pmui.DatePicker(label="Observed until", value=None, **w)
        self.sort = pmui.Select(label="Sort by", options=list(SORT_KEYS), value="start_time", width=150)
        self.descending = pmui.Switch(label="descending", value=False)
        self.page_size = pmui.Select(label="Per page", options=[25, 50, 100, 200], value=50, width=100)
        self.live = pmui.Switch(label="Live ODE search", value=False)
        self.search_button = pmui.Button(label="Search", icon="search", variant="contained", on_click=self._on_search,
                                         **w)
        self.clear_region_button = pmui.Button(label="Clear region", icon="clear", variant="outlined",
                                               on_click=lambda _e: self.clear_region())
        self.region_text = pn.pane.Markdown("Region: the whole body. Draw a box or a polygon on the map.",
                                            sizing_mode="stretch_width")
        self.view_select = pmui.RadioButtonGroup(options={v: k for k, v in VIEWS.items()}, value="global")
        self.view_select.param.watch(lambda e: setattr(self, "view", e.new), "value")
        self.layer_select = pmui.Select(label="Base map", options=list(BASE_LAYERS), value="hillshade", width=150)
        self.layer_select.param.watch(lambda e: setattr(self, "base_layer", e.new), "value")
        self.prev_button = pmui.Button(label="Previous", icon="chevron_left", variant="text",
                                       on_click=lambda _e: self.page(-1))
        self.next_button = pmui.Button(label="Next", icon="chevron_right", variant="text",
                                       on_click=lambda _e: self.page(+1))
        self.page_text = pn.pane.Markdown("", margin=(8, 10))
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=TABLE_COLUMNS), selectable=1, disabled=True,
                                          show_index=False, height=300, sizing_mode="stretch_width",
                                          layout="fit_data_stretch")
        self.table.param.watch(self._on_table_selection, "selection")
        self.details = pn.pane.Markdown("Select a product to see its details.", sizing_mode="stretch_width")
        self.add_button = pmui.Button(label="Add to my workspace", icon="download", variant="contained",
                                      disabled=True, on_click=self._on_add)
        self.progress = pn.indicators.Progress(value=0, max=100, visible=False, sizing_mode="stretch_width")
        self.body.param.watch(lambda _e: self.refresh_facets(), "value")
        for box in (self.mission, self.instrument):
            box.param.watch(lambda _e: self.refresh_facets(keep=True), "value")
        self.map_pane = pn.pane.Bokeh(sizing_mode="stretch_width", height=460)
        self.refresh_facets()
        self._build_map()

    # ---- form ---------------------------------------------------------------------------------
    def refresh_facets(self, keep: bool = False) -> None:
        """Fill mission / instrument / product type with what the index holds for the body."""
        with self.platform.db.session() as s:
            facets = product_facets(s, self.body.value)
        mission = self.mission.value if keep else ANY
        instrument = self.instrument.value if keep else ANY
        missions = sorted({f["mission"] for f in facets})
        instruments = sorted({f["instrument"] for f in facets if mission in (ANY, f["mission"])})
        types = sorted({f["product_type"] for f in facets if mission in (ANY, f["mission"])
                        and instrument in (ANY, f["instrument"])})
        self.mission.options = [ANY, *missions]
        self.instrument.options = [ANY, *instruments]
        self.product_type.options = [ANY, *types]
        if self.instrument.value not in self.instrument.options:
            self.instrument.value = ANY
        if self.product_type.value not in self.product_type.options:
            self.product_type.value = ANY

    def query(self) -> ProductQuery:
        """The search the form describes (raises :class:`SearchError` for an impossible one)."""
        def pick(widget: Any) -> str | None:
            return None if widget.value in (None, "", ANY) else widget.value

        def day(value: Any, end: bool = False) -> dt.datetime | None:
            if value is None:
                return None
            if isinstance(value, str):
                value = dt.date.fromisoformat(value[:10])
            if isinstance(value, dt.datetime):
                return value.replace(tzinfo=dt.UTC)
            t = dt.time(23, 59, 59) if end else dt.time(0, 0)
            return dt.datetime.combine(value, t, tzinfo=dt.UTC)

        def angle(widget: Any, label: str) -> float | None:
            text = "" if widget.value is None else str(widget.value).strip()
            if not text:
                return None
            try:
                return float(text)
            except ValueError:
                raise SearchError(f"{label} must be a number of degrees, not {text!r}") from None

        kw: dict[str, Any] = {}
        for name, (lo, hi) in self.angles.items():
            kw[f"min_{name}"] = angle(lo, f"min {name}")
            kw[f"max_{name}"] = angle(hi, f"max {name}")
        region = self.region or {}
        sort = self.sort.value
        return ProductQuery(
            body=self.body.value, mission=pick(self.mission), instrument=pick(self.instrument),
            product_type=pick(self.product_type), start=day(self.start.value), stop=day(self.stop.value, end=True),
            bbox=region.get("bbox"), polygon=region.get("polygon"),
            polygon_crs=region.get("polygon_crs", "lonlat"), limit=int(self.page_size.value), offset=self.offset,
            sort=f"-{sort}" if self.descending.value else sort, count_limit=self.count_limit, **kw,
        )

    def _on_search(self, _event: Any = None) -> None:
        self.offset = 0
        self.search()

    def search(self) -> bool:
        """Run the search of the form (and ODE live when on); False with a message on bad input."""
        try:
            query = self.query()
            with self.platform.db.session() as s:
                result = search_products(s, query)
                records = [_record(p) for p in result.items]
        except SearchError as exc:
            self.status.show(f"Cannot search: {exc}", "error")
            return False
        self.total, self.total_exact = result.total, result.total_exact
        self.set_results(records)
        first = self.offset + 1 if records else 0
        count = f"{result.total:,}" + ("" if result.total_exact else "+")  # "10,000+": counted up to 10,000
        self.status.show(f"{count} products match ({result.elapsed_ms:.0f} ms); showing {first}-"
                         f"{self.offset + len(records)}.", "success")
        if self.live.value:
            self.search_ode(query)
        return True

    def page(self, step: int) -> None:
        """Show the previous (-1) or next (+1) page of results."""
        size = int(self.page_size.value)
        new = max(0, self.offset + step * size)
        if step > 0 and new >= self.total and self.total_exact:
            return
        previous, self.offset = self.offset, new
        self.search()
        if step > 0 and not self.total_exact and not self.results:
            # an inexact count cannot say where the last page is: an empty page means we passed it
            self.offset = previous
            self.search()
            self.next_button.disabled = True
            self.status.show(f"No more products: the last page shows {previous + 1}-{previous + len(self.results)}.",
                             "info")

    def search_ode(self, query: ProductQuery) -> None:
        """Send the same search to ODE (needs the internet and an instrument); results join the table."""
        from explore.planetary.labels import canonical_instrument
        from explore.planetary.ode import ODE_URL, OdeClient, OdeConnectionError, OdeError
        from explore.platform.products import product_rows

        if not query.instrument:
            self.status.show("Live ODE search: choose an instrument first (ODE ignores every filter without an "
                             "instrument host, instrument and product type).", "warning")
            return
        filters: dict[str, Any] = {k: getattr(query, k) for k in ("min_emission", "max_emission", "min_incidence",
                                                                   "max_incidence", "min_phase", "max_phase")}
        if query.bbox is not None:
            filters["bbox"] = query.bbox
        filters.update(start=query.start, stop=query.stop)
        try:
            with OdeClient(self.ode_url or ODE_URL, timeout=15.0) as client:
                sets = [s for s in client.instrument_sets(query.body or "moon")
                        if canonical_instrument(s.instrument or s.iid).lower().startswith(query.instrument.lower())
                        and (not query.product_type or s.pt.lower() == query.product_type.lower())]
                if not sets:
                    self.status.show(f"Live ODE search: ODE lists no product set for instrument {query.instrument!r}.",
                                     "warning")
                    return
                records = []
                for s in sets[:3]:
                    records += list(client.products(query.body or "moon", s.ihid, s.iid, s.pt, limit=query.limit,
                                                    **filters))
        except OdeConnectionError as exc:
            self.status.show(f"Live ODE search: offline or ODE unreachable, showing the local index only ({exc}).",
                             "warning")
            return
        except (OdeError, ValueError) as exc:
            self.status.show(f"Live ODE search failed: {exc}", "error")
            return
        rows = [_row_from_ode(i, r) for i, r in enumerate(product_rows(records))]
        self.set_results(self.results + rows)
        self.status.show(f"{self.total:,} products in the index; {len(rows)} more from ODE live.", "success")

    # ---- region -----------------------------------------------------------------------------
    def set_region(self, region: dict[str, Any] | None) -> bool:
        """Use a region for the next searches; False (and a message) for an unusable one."""
        if region is not None:
            try:
                ProductQuery(bbox=region.get("bbox"), polygon=region.get("polygon"),
                             polygon_crs=region.get("polygon_crs", "lonlat")).region()
            except SearchError as exc:
                self.status.show(f"This region cannot be used: {exc}", "error")
                return False
        self.region = region
        if region is None:
            self.region_text.object = "Region: the whole body. Draw a box or a polygon on the map."
        elif "bbox" in region:
            w, s, e, n = region["bbox"]
            self.region_text.object = f"Region: box W {w:.2f}, S {s:.2f}, E {e:.2f}, N {n:.2f} deg."
        else:
            self.region_text.object = f"Region: polygon ({region.get('polygon_crs', 'lonlat')})."
        self._draw_region()
        return True

    def clear_region(self) -> None:
        self.set_region(None)

    def on_geometry(self, geometry: dict[str, Any]) -> bool:
        """A box or polygon drawn on the map (Bokeh's selection geometry, map coordinates)."""
        kind = geometry.get("type")
        if kind == "rect":
            x = sorted([geometry["x0"], geometry["x1"]])
            y = sorted([geometry["y0"], geometry["y1"]])
            if self.view == "global":
                (w, e), (s, n) = unproject("global", np.array(x), np.array(y))
                return self.set_region({"bbox": (round(float(w), 4), round(float(s), 4),
                                                 round(float(e), 4), round(float(n), 4))})
            ring = [(x[0], y[0]), (x[1], y[0]), (x[1], y[1]), (x[0], y[1]), (x[0], y[0])]
            return self.set_region({"polygon": shapely.to_wkt(shapely.Polygon(ring), rounding_precision=1),
                                    "polygon_crs": self.view})
        if kind == "poly":
            xs, ys = np.asarray(geometry["x"], float), np.asarray(geometry["y"], float)
            if len(xs) < 3:
                self.status.show("A polygon needs at least three points.", "error")
                return False
            if self.view == "global":
                lon, lat = unproject("global", xs, ys)
                pts = list(zip(lon.round(4), lat.round(4), strict=True))
                return self.set_region({"polygon": shapely.to_wkt(shapely.Polygon(pts)), "polygon_crs": "lonlat"})
            pts = list(zip(xs.round(1), ys.round(1), strict=True))
            return self.set_region({"polygon": shapely.to_wkt(shapely.Polygon(pts)), "polygon_crs": self.view})
        return False

    def _region_lonlat(self) -> list[tuple[np.ndarray, np.ndarray]]:
        region = self.region
        if not region:
            return []
        if "bbox" in region:
            w, s, e, n = region["bbox"]
            if e < w:
                e += 360.0
            lon = np.concatenate([np.linspace(w, e, 50), np.linspace(e, w, 50)])
            lat = np.concatenate([np.full(50, s), np.full(50, n)])
            return [(np.append(lon, lon[0]), np.append(lat, lat[0]))]
        geom = shapely.from_wkt(region["polygon"])
        crs = region.get("polygon_crs", "lonlat")
        out = []
        for poly in _polygons(geom):
            x, y = np.asarray(poly.exterior.segmentize(5000.0 if crs != "lonlat" else 1.0).coords).T
            out.append((x, y) if crs == "lonlat" else unproject(crs, x, y))
        return out

    def _draw_region(self) -> None:
        xs, ys = [], []
        for lon, lat in self._region_lonlat():
            if self.view != "global" and np.all(np.sign(lat) != (-1 if self.view == "south_polar" else 1)):
                continue
            x, y = project(self.view, lon, lat)
            xs.append(x.tolist())
            ys.append(y.tolist())
        with pn.io.unlocked():
            self.region_source.data = {"xs": xs, "ys": ys}

    # ---- map --------------------------------------------------------------------------------
    def _build_map(self) -> None:
        view = self.view
        if view == "global":
            x_range, y_range = (-MERCATOR_HALF, MERCATOR_HALF), (-MERCATOR_HALF * 0.75, MERCATOR_HALF * 0.75)
        else:
            x_range = y_range = (-POLAR_HALF_SIDE_M, POLAR_HALF_SIDE_M)  # the whole polar map, the pole in the middle
        fig = figure(x_range=x_range, y_range=y_range, match_aspect=True, sizing_mode="stretch_width", height=460,
                     tools="pan,reset", toolbar_location="right", background_fill_color="#10131a")
        fig.add_tile(tile_source(self.base_layer, view, self.tiles_url))
        self.region_source = ColumnDataSource({"xs": [], "ys": []})
        region_r = fig.patches("xs", "ys", source=self.region_source, fill_color="#ff7043", fill_alpha=0.12,
                               line_color="#ff7043", line_width=2, line_dash="dashed")
        self.footprints = ColumnDataSource({"xs": [], "ys": [], "id": [], "product_id": [], "instrument": []})
        fr = fig.multi_polygons("xs", "ys", source=self.footprints, fill_color="#4fc3f7", fill_alpha=0.3,
                                line_color="#4fc3f7", line_width=1.5,
                                selection_fill_color="#ffeb3b", selection_fill_alpha=0.45,
                                selection_line_color="#ffeb3b", selection_line_width=3,
                                nonselection_fill_alpha=0.08, nonselection_line_alpha=0.5)
        self.footprint_renderer = fr
        box = BoxSelectTool(renderers=[region_r], description="Draw a search box")
        poly = PolySelectTool(renderers=[region_r], description="Draw a search polygon (double-click to close)")
        wheel = WheelZoomTool()
        tap = TapTool(renderers=[fr], description="Select a product by its footprint")
        fig.add_tools(wheel, box, poly, tap,
                      HoverTool(renderers=[fr], tooltips=[("product", "@product_id"), ("instrument", "@instrument")]))
        fig.toolbar.active_scroll = wheel
        fig.toolbar.active_drag = box
        fig.toolbar.active_tap = tap  # a click picks a footprint; the polygon tool is one click away
        if view == "global":
            for axis, latitude in ((fig.xaxis, False), (fig.yaxis, True)):
                axis.ticker, axis.formatter = _degree_ticks(latitude)
        else:
            for axis in (fig.xaxis, fig.yaxis):
                axis.formatter = CustomJSTickFormatter(code=_JS_DECIMALS + """
                    const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) / 1000 : 1;
                    return (tick / 1000).toFixed(decimals(step)) + ' km';""")
        fig.grid.visible = False
        fig.on_event(SelectionGeometry, lambda event: self.on_geometry(dict(event.geometry))
                     if event.final else None)
        self.footprints.selected.on_change("indices", self._on_map_selection)
        self.figure = fig
        self.map_pane.object = fig
        self._draw_region()
        self._draw_footprints()

    @param.depends("view", "base_layer", watch=True)
    def _rebuild(self) -> None:
        self._build_map()
        if self.view_select.value != self.view:  # the view changed by a selection, not the buttons
            self.view_select.value = self.view
        if self.highlighted is not None:  # keep the selected product highlighted in the new view
            row = next((i for i, r in enumerate(self.results) if r.get("id") == self.highlighted), None)
            if row is not None:
                self._highlight(row, zoom=True)

    def _draw_footprints(self) -> None:
        data: dict[str, list] = {"xs": [], "ys": [], "id": [], "product_id": [], "instrument": []}
        self._map_rows: list[int] = []
        for i, rec in enumerate(self.results):
            xs, ys = footprint_xy(rec, self.view)
            if not xs:
                continue
            data["xs"].append(xs)
            data["ys"].append(ys)
            data["id"].append(rec.get("id"))
            data["product_id"].append(rec.get("product_id"))
            data["instrument"].append(rec.get("instrument"))
            self._map_rows.append(i)
        self._syncing = True
        try:
            with pn.io.unlocked():
                self.footprints.selected.indices = []
                self.footprints.data = data
        finally:
            self._syncing = False

    def set_results(self, records: list[dict[str, Any]]) -> None:
        self.results = records
        self.highlighted = None
        frame = pd.DataFrame([{c: r.get(c) for c in TABLE_COLUMNS} for r in records], columns=TABLE_COLUMNS)
        if not frame.empty:
            frame["start_time"] = frame["start_time"].map(lambda v: (v or "")[:19].replace("T", " "))
            for c in ("incidence", "emission", "phase", "resolution"):
                frame[c] = pd.to_numeric(frame[c], errors="coerce").round(2)
        self._syncing = True
        try:
            self.table.value = frame
            self.table.selection = []
        finally:
            self._syncing = False
        size = int(self.page_size.value)
        shown = len([r for r in records if (r.get("id") or 0) > 0])
        of = f"{self.total:,}" + ("" if self.total_exact else "+")
        self.page_text.object = f"{self.offset + 1 if shown else 0}-{self.offset + shown} of {of}" if self.total else "no products"
        self.prev_button.disabled = self.offset == 0
        # past an inexact count ("10,000+") the pages go on while they are full
        self.next_button.disabled = (self.offset + size >= self.total if self.total_exact else shown < size)
        self.add_button.disabled = True
        self.details.object = "Select a product to see its details."
        self._draw_footprints()

    # ---- linking: table <-> map -------------------------------------------------------------
    def view_for(self, rec: dict[str, Any]) -> str:
        """The map view that shows a product's footprint best: its pole's stereographic view when
        the footprint reaches poleward of ``POLAR_SWITCH_LAT`` and lies on the polar map, or reaches
        past 85 deg (where web mercator stops); the global view when the current polar view cannot
        show it; else the current view."""
        pole = rec.get("pole")
        if rec.get("footprint_polar_wkt") and pole in ("S", "N"):
            lats = _footprint_lats(rec)
            reach = None if lats is None else max(abs(lats[0]), abs(lats[1]))
            if reach is not None and (reach > LAT_LIMIT or (reach >= POLAR_SWITCH_LAT and _on_polar_map(rec))):
                return "south_polar" if pole == "S" else "north_polar"
        if self.view != "global" and not footprint_xy(rec, self.view)[0] and rec.get("footprint_wkt"):
            return "global"
        return self.view

    def select_row(self, row: int | None, *, zoom: bool = True) -> None:
        """Select a result (table row index): highlight its footprint, zoom the map to it (in the
        view that shows it, see :meth:`view_for`) and show its details; None clears the selection."""
        if row is None or not (0 <= row < len(self.results)):
            self.highlighted = None
            self.add_button.disabled = True
            self.details.object = "Select a product to see its details."
            self._syncing = True
            try:
                with pn.io.unlocked():
                    self.footprints.selected.indices = []
            finally:
                self._syncing = False
            return
        rec = self.results[row]
        self.highlighted = rec.get("id")
        view = self.view_for(rec)
        if view != self.view:
            self.view = view  # rebuilds the map, which highlights and zooms to the product
        else:
            self._highlight(row, zoom=zoom)
        self._syncing = True
        try:
            if self.table.selection != [row]:
                self.table.selection = [row]
        finally:
            self._syncing = False
        shown = any(r == row for r in self._map_rows)
        self.details.object = self._describe(rec, shown=shown)
        self.add_button.disabled = False

    def _highlight(self, row: int, *, zoom: bool) -> None:
        idx = [k for k, r in enumerate(self._map_rows) if r == row]
        self._syncing = True
        try:
            with pn.io.unlocked():
                self.footprints.selected.indices = idx
                if idx and zoom:
                    self.zoom_to(idx[0])
        finally:
            self._syncing = False

    def zoom_to(self, k: int) -> None:
        """Set the map's ranges around the k-th footprint on the map, with a margin."""
        xs = [v for poly in self.footprints.data["xs"][k] for ring in poly for v in ring]
        ys = [v for poly in self.footprints.data["ys"][k] for ring in poly for v in ring]
        pad = max(max(xs) - min(xs), max(ys) - min(ys)) * 0.6 + 20_000.0
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        self.figure.x_range.update(start=cx - pad * 1.6, end=cx + pad * 1.6)
        self.figure.y_range.update(start=cy - pad, end=cy + pad)

    def _describe(self, rec: dict[str, Any], shown: bool) -> str:
        def num(v: Any, unit: str = "°") -> str:
            return "?" if v is None else f"{v:.2f}{unit}"

        lines = [f"**{rec.get('product_id')}**: {rec.get('mission')} {rec.get('instrument')} "
                 f"{rec.get('product_type')} ({rec.get('source') or 'index'})",
                 f"observed {(rec.get('start_time') or '?')[:19]}; incidence {num(rec.get('incidence'))}, "
                 f"emission {num(rec.get('emission'))}, phase {num(rec.get('phase'))}, "
                 f"resolution {num(rec.get('resolution'), ' m/px')}; centre "
                 f"{num(rec.get('centre_lon'))} E, {num(rec.get('centre_lat'))} N"]
        files = rec.get("files") or []
        urls = rec.get("urls") or {}
        lines.append(f"{len(files)} file(s); " + ", ".join(f"[{k}]({v})" for k, v in urls.items()) if urls
                     else f"{len(files)} file(s)")
        if not shown:
            lines.append("*Its footprint is not visible in this projection.*")
        return "\n\n".join(lines)

    def _on_table_selection(self, event: Any) -> None:
        if self._syncing:
            return
        self.select_row(event.new[0] if event.new else None)

    def _on_map_selection(self, _attr: str, _old: list[int], new: list[int]) -> None:
        if self._syncing:
            return
        if new:  # the footprint clicked is in view already: select its row without moving the map
            self.select_row(self._map_rows[new[0]], zoom=False)

    # ---- add to the workspace ---------------------------------------------------------------
    def _on_add(self, _event: Any = None) -> Any:
        return self.add_to_workspace()

    async def add_to_workspace(self) -> str | None:
        """Copy the selected product's local files (or download its URLs) into ``<home>/products/<id>``
        with its metadata as ``product.json``; returns the folder, or None with a message."""
        if self.highlighted is None:
            self.status.show("Select a product first.", "warning")
            return None
        rec = next(r for r in self.results if r.get("id") == self.highlighted)
        ws = self.platform.workspace
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(rec.get("product_id")))[:120]
        folder = f"{self.user.name}/products/{safe}"
        try:
            for sub in (f"{self.user.name}/products", folder):
                if not ws.storage.isdir(sub):
                    ws.mkdir(self.user, sub)
            meta = {k: v for k, v in rec.items() if k != "footprint"}
            ws.write_bytes(self.user, f"{folder}/product.json", json.dumps(meta, indent=2, default=str).encode())
            copied, missing, remote = [], [], []
            for f in rec.get("files") or []:
                name = f.get("name") or (f.get("path") or f.get("url") or "file").rsplit("/", 1)[-1]
                path = f.get("path")
                if path and pathlib.Path(path).is_file():
                    data = pathlib.Path(path).read_bytes()
                    ws.write_bytes(self.user, f"{folder}/{name}", data)
                    copied.append(name)
                elif f.get("url"):
                    remote.append((name, f["url"]))
                else:
                    missing.append(name)
            downloaded, failed = await self._download(folder, remote)
        except (ExploreError, PermissionError, OSError) as exc:
            self.status.show(f"Could not add {rec.get('product_id')} to your workspace: {exc}", "error")
            return None
        parts = [f"Added {rec.get('product_id')} to {folder}: product.json"]
        if copied or downloaded:
            parts.append(f"{len(copied) + len(downloaded)} file(s) ({', '.join(copied + downloaded)})")
        if missing:
            parts.append(f"{len(missing)} listed file(s) are not on this machine ({', '.join(missing)})")
        if failed:
            parts.append(failed)
        if not (rec.get("files") or []):
            parts.append("the index lists no data files for this product (its metadata is saved)")
        self.status.show("; ".join(parts) + ".", "warning" if (missing or failed) else "success")
        return folder

    async def _download(self, folder: str, remote: list[tuple[str, str]]) -> tuple[list[str], str]:
        if not remote:
            return [], ""
        import httpx

        done: list[str] = []
        self.progress.visible = True
        try:
            async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client:
                for name, url in remote:
                    self.progress.value = 0
                    async with client.stream("GET", url) as response:
                        response.raise_for_status()
                        size = int(response.headers.get("content-length") or 0)
                        with self.platform.workspace.writer(self.user, f"{folder}/{name}") as w:
                            got = 0
                            async for chunk in response.aiter_bytes(1 << 16):
                                w.write(chunk)
                                got += len(chunk)
                                if size:
                                    self.progress.value = min(100, int(100 * got / size))
                                await asyncio.sleep(0)
                    done.append(name)
        except httpx.ConnectError:
            return done, "offline: the product's files cannot be downloaded without an internet connection"
        except httpx.HTTPError as exc:
            return done, f"download failed: {exc}"
        finally:
            self.progress.visible = False
        return done, ""

    # ---- layout -------------------------------------------------------------------------------
    def panel(self) -> pn.viewable.Viewable:
        angle_rows = [pn.Row(lo, hi, sizing_mode="stretch_width") for lo, hi in self.angles.values()]
        form = pn.Column(
            pmui.Typography("Search", variant="h6"), self.body, self.mission, self.instrument, self.product_type,
            *angle_rows, self.start, self.stop, self.region_text, self.clear_region_button,
            pn.Row(self.sort, self.page_size), self.descending, self.live, self.search_button,
            width=310,
        )
        header = pn.Row(self.view_select, self.layer_select, sizing_mode="stretch_width")
        paging = pn.Row(self.prev_button, self.page_text, self.next_button)
        results = pn.Column(self.status, header, self.map_pane, paging, self.table, self.details,
                            pn.Row(self.add_button), self.progress, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")


def browse_page(platform: Platform, user: Principal) -> pn.viewable.Viewable:
    """The space browser for a signed-in user (the portal frame is added around it)."""
    # The tile routes import rio_tiler lazily in worker threads; several first tiles at once can
    # meet a half-initialised module. Importing it here, before the page asks for tiles, avoids it.
    import rio_tiler.io  # noqa: F401

    browser = SpaceBrowser(platform, user)
    browser.search()
    return browser.panel()
