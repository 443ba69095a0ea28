"""L-Explo's map view, built on the real test Moon data with a session over a temporary folder."""

from __future__ import annotations

import dataclasses
import pathlib
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from explore.apps.lexplo.app import LExplo
from explore.apps.lexplo.view import MAP_VIEW, LExploView
from explore.sdk import Access, AnnotationRecord


class FolderSession:
    """The part of ``explore.sdk.Session`` the view uses, on a local folder."""

    user = "alice"
    app_id = "lexplo"
    incoming_selection = None

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.notes: list[dict] = []
        (root / "alice").mkdir(parents=True, exist_ok=True)

    def home(self) -> str:
        return "alice"

    def local_path(self, path: str) -> pathlib.Path:
        return self.root / path

    def listdir(self, path: str = "") -> list:
        folder = self.root / path
        if not folder.is_dir():
            raise FileNotFoundError(path)
        return [SimpleNamespace(name=p.name, path=f"{path}/{p.name}", is_dir=p.is_dir()) for p in sorted(folder.iterdir())]

    def read_bytes(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def makedirs(self, path: str) -> str:
        (self.root / path).mkdir(parents=True, exist_ok=True)
        return path

    def write_bytes(self, path: str, data: bytes) -> str:
        (self.root / path).write_bytes(data)
        return path

    def annotations(self, view=None):
        return [dataclasses.replace(a) for a in self.notes if view is None or a.view == view]

    def annotate(self, view, title, description="", *, object_ids=None, region=None, read=None, write=None):
        record = AnnotationRecord(len(self.notes) + 1, self.app_id, view, title, description, self.user,
                                  object_ids, region, read or Access(), write or Access(), "now", "now", True)
        self.notes.append(record)
        return record

    def update_annotation(self, annotation_id, **changes):
        i = next(i for i, a in enumerate(self.notes) if a.id == annotation_id)
        if not self.notes[i].can_write:
            raise PermissionError("you may not change this annotation")
        self.notes[i] = dataclasses.replace(self.notes[i], **{k: v for k, v in changes.items() if v is not None})
        return self.notes[i]

    def delete_annotation(self, annotation_id):
        if not next(a for a in self.notes if a.id == annotation_id).can_write:
            raise PermissionError("you may not delete this annotation")
        self.notes = [a for a in self.notes if a.id != annotation_id]


@pytest.fixture
def view(moon_dir, tmp_path):
    return LExploView(FolderSession(tmp_path / "ws"), data_dir=moon_dir)


def test_the_view_builds_in_every_projection(view):
    assert view.panel() is not None
    assert view.figure.x_range.start == -180
    for projection in ("south_polar", "north_polar", "equirectangular"):
        view.projection = projection
        assert view.map_pane.object is view.figure
    view.projection = "south_polar"
    tiles = view.figure.renderers[0].tile_source
    assert tiles.url.endswith("/elevation/south_polar/{Z}/{X}/{Y}.png")


def test_changing_layer_or_overlay_keeps_the_view_but_a_new_projection_starts_whole(view):
    view.figure.x_range.start, view.figure.x_range.end = 10.0, 40.0  # as the browser reports a zoom
    view.figure.y_range.start, view.figure.y_range.end = -20.0, 5.0
    view.layer = "hillshade"
    view.craters = not view.craters
    fig = view.figure
    assert (fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end) == (10.0, 40.0, -20.0, 5.0)
    view.projection = "south_polar"
    assert -view.figure.x_range.start == view.figure.x_range.end > 1e6  # the whole polar map, in metres
    view.projection = "equirectangular"
    assert (view.figure.x_range.start, view.figure.x_range.end) == (-180, 180)


@pytest.mark.parametrize("projection,sign", [("south_polar", -1.0), ("north_polar", 1.0)])
def test_the_polar_maps_show_the_pole_in_the_middle_out_to_60_degrees(view, projection, sign):
    from explore.planetary.tiles import tile_matrix_set

    view.projection = projection
    fig, tms = view.figure, tile_matrix_set(projection)
    b = tms.xy_bounds(0, 0, 0)  # the zoom-0 tile: the whole polar map
    assert (fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end) == (b.left, b.right, b.bottom, b.top)
    tiles = fig.renderers[0].tile_source  # Bokeh's tile arithmetic on the same grid as the server's
    assert (tiles.x_origin_offset, tiles.y_origin_offset) == (-b.left, -b.bottom)
    assert tiles.initial_resolution == tms.matrix(0).cellSize and tiles.max_zoom == tms.maxzoom
    assert np.ravel(view.to_map([0.0], [sign * 90.0])) == pytest.approx([0.0, 0.0], abs=1e-6)  # the pole
    x, y = view.to_map(np.arange(0.0, 360.0, 15.0), np.full(24, sign * 60.0))
    assert (np.abs(x) < b.right).all() and (np.abs(y) < b.top).all()
    # named craters are drawn wherever they fall on the map, not only poleward of 80 deg
    craters = next(r.data_source.data for r in fig.renderers if "d" in getattr(getattr(r, "data_source", None), "data", {}))
    lat = np.asarray(craters["lat"])
    assert (np.sign(lat) == sign).all() and np.abs(lat).min() < 50.0 and (np.abs(lat) < 80.0).sum() > 50
    assert (np.abs(craters["x"]) <= b.right).all() and (np.abs(craters["y"]) <= b.top).all()


def test_point_tool_gives_the_elevation_the_cli_prints(view, moon_dir):
    result = CliRunner().invoke(LExplo.cli, ["elevation", "--lon", "-3.2", "--lat", "26.1", "--data-dir", str(moon_dir)])
    assert result.exit_code == 0, result.output
    view.on_click(-3.2, 26.1)  # a click in the equirectangular view is lon/lat
    assert view.last_values["elevation"] == pytest.approx(float(result.output.strip()))
    assert view.last_values["elevation"] == pytest.approx(-1736.5)
    assert "elevation -1,736.5 m" in view.message.object


def test_point_tool_in_the_polar_view_reads_the_same_place(view):
    view.projection = "south_polar"
    x, y = view.to_map([45.0], [-85.0])
    view.on_click(float(x[0]), float(y[0]))
    direct = view.value_at(45.0, -85.0)
    assert view.last_values == direct


def test_profile_runs_between_the_drawn_vertices(view):
    view.mode = "line"
    view.on_click(-10.0, 0.0)
    view.on_click(10.0, 0.0)
    prof = view.profile(n=81)
    assert (prof.lon[0], prof.lat[0]) == pytest.approx((-10.0, 0.0))
    assert (prof.lon[-1], prof.lat[-1]) == pytest.approx((10.0, 0.0))
    assert prof.length_m == pytest.approx(606467.0, abs=1.0)  # 20 deg of the equator
    assert view.profile_box.visible


def test_distance_and_area_on_the_sphere(view):
    view.vertices = [(0.0, 0.0), (90.0, 0.0), (0.0, 90.0)]
    out = view.measure()
    r = 1_737_400.0
    assert out["area_m2"] == pytest.approx(np.pi * r**2 / 2, rel=1e-6)  # an octant
    assert out["length_m"] == pytest.approx(np.pi * r, rel=1e-6)  # two quarter circles


def test_export_writes_a_geotiff_with_a_moon_crs(view):
    import rasterio

    view.vertices = [(-5.0, -5.0), (5.0, 5.0)]
    path = view.export("slope", max_size=64)
    assert path.startswith("alice/lexplo_exports/slope_")
    with rasterio.open(view.session.local_path(path)) as ds:
        assert ds.crs is not None and "Moon" in ds.crs.to_wkt()
        assert ds.bounds.left == pytest.approx(-5.0, abs=0.3) and ds.bounds.top == pytest.approx(5.0, abs=0.3)
        assert np.nanmax(ds.read(1)) < 90.0


def test_export_without_a_region_says_so(view):
    assert view.export() is None
    assert "Draw a region first" in view.message.object


def test_annotation_carries_the_drawn_region(view):
    view.vertices = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    note = view.annotate("crater rim", "a bright ejecta ray")
    assert note.view == MAP_VIEW and note.region["type"] == "Polygon"
    assert note.region["coordinates"][0][0] == note.region["coordinates"][0][-1]
    assert view.annotate("") is None


def test_a_saved_annotation_is_drawn_on_the_map_and_listed(view):
    view.vertices = [(-10.0, -20.0), (10.0, -20.0), (0.0, -5.0)]
    assert view.open_annotate() and view.form.open
    view.form.param.update(title="Landing ellipse", description="3 sigma", read_level="public")
    view.annotate()
    assert not view.form.open
    areas = view.notes.maps[MAP_VIEW].sources["areas"].data
    assert areas["title"] == ["Landing ellipse"]
    assert list(zip(areas["xs"][0], areas["ys"][0], strict=True)) == [(-10.0, -20.0), (10.0, -20.0), (0.0, -5.0),
                                                                        (-10.0, -20.0)]
    labels = view.notes.maps[MAP_VIEW].sources["labels"].data
    assert (labels["x"], labels["y"], labels["title"]) == ([0.0], [-5.0], ["Landing ellipse"])  # at the top vertex
    (stored,) = view.session.notes
    assert stored.read == Access("public") and stored.description == "3 sigma"
    rows = list(view.notes._list())
    assert "Landing ellipse" in rows[0][0].object and "polygon" in rows[0][0].object
    assert [b.label for b in rows[0][1:]] == ["Show", "Edit", "Delete"]
    assert not rows[0][2].disabled  # Edit: the author may write


def test_annotations_follow_the_projection(view):
    view.vertices = [(30.0, -85.0), (150.0, -85.0)]
    view.annotate("traverse")
    view.vertices = [(0.0, 80.0)]
    view.annotate("north station")
    view.projection = "south_polar"
    drawn = view.notes.maps[MAP_VIEW].sources
    assert drawn["points"].data["title"] == []  # the northern point cannot be shown on the south polar map
    (xs,), (ys,) = drawn["lines"].data["xs"], drawn["lines"].data["ys"]
    x0, y0 = view.to_map([30.0, 150.0], [-85.0, -85.0])
    assert (xs[0], ys[0]) == pytest.approx((x0[0], y0[0])) and (xs[-1], ys[-1]) == pytest.approx((x0[1], y0[1]))
    mid = len(xs) // 2  # the great circle between the vertices passes closer to the pole than 85 deg
    assert np.hypot(xs[mid], ys[mid]) < np.hypot(x0[0], y0[0]) * 0.6
    view.projection = "north_polar"
    assert view.notes.maps[MAP_VIEW].sources["points"].data["title"] == ["north station"]
    assert view.notes.maps[MAP_VIEW].sources["lines"].data["xs"] == []


def test_only_those_who_may_write_can_edit_an_annotation(view):
    view.session.notes.append(AnnotationRecord(7, "lexplo", MAP_VIEW, "Bob's site", "", "bob", None,
                                               {"type": "Point", "coordinates": [23.5, 0.7]}, Access("public"),
                                               Access("private"), "now", "now", False))
    view.notes.refresh()
    assert view.notes.maps[MAP_VIEW].sources["points"].data["title"] == ["Bob's site"]
    (row,) = list(view.notes._list())
    assert not row[1].disabled and row[2].disabled and row[3].disabled  # Show, but neither Edit nor Delete
    with pytest.raises(PermissionError):
        view.notes.edit(7)


def test_show_zooms_to_an_annotation_in_its_projection(view):
    view.vertices = [(30.0, -85.0), (150.0, -85.0)]
    traverse = view.annotate("traverse")  # drawn on the equirectangular map
    view.vertices = [(40.0, -80.0), (44.0, -80.0), (42.0, -78.0)]
    view.projection = "south_polar"
    site = view.annotate("site")  # drawn while the south polar map was shown
    view.notes.show(traverse.id)
    assert view.projection == "equirectangular"
    xr, yr = view.figure.x_range, view.figure.y_range
    assert (xr.start, xr.end) == pytest.approx((30.0 - 18.0, 150.0 + 18.0))  # 15 % of the extent around it
    assert yr.start < -85.0 < yr.end and yr.end - yr.start == pytest.approx(2 * 18.0)
    view.notes.show(site.id)  # back to the map it was drawn on, zoomed to it
    assert view.projection == "south_polar"
    x, y = view.to_map([40.0, 44.0, 42.0], [-80.0, -80.0, -78.0])
    assert view.figure.x_range.start < min(x) and view.figure.x_range.end > max(x)
    assert "Showing “site”" in view.notes.message


def test_annotate_without_a_drawn_shape_says_so(view):
    assert not view.open_annotate()
    assert "Click a point or draw" in view.message.object
    assert view.annotate("nothing here") is None


def test_a_user_geotiff_becomes_a_layer_source(view):
    view.vertices = [(-20.0, -50.0), (-2.0, -36.0)]
    path = view.export("elevation", max_size=64)
    view.raster_select.options = view._workspace_rasters()
    assert path in view.raster_select.options
    assert view.add_raster(path)
    assert len(view.layers["elevation"].sources) == 2
    assert len(view.figure.renderers) >= 2


def test_a_file_without_a_crs_is_a_message(view, tmp_path):
    bad = view.session.local_path("alice/notes.tif")
    bad.write_bytes(b"not a tiff")
    assert not view.add_raster("alice/notes.tif")
    assert "Cannot use" in view.message.object
