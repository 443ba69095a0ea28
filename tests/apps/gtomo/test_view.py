"""G-Tomo's interactive view on a fake session: the numbers behind the plots, exports, annotations, and the
page in a real headless Chromium (screenshots in ``test-output/gtomo/``)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import io
import pathlib
import time

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from browser import free_port, launch, skip_without_chromium, wait_until

from explore.apps.gtomo import integrate_extinction
from explore.apps.gtomo.cube import galactic_to_xyz
from explore.sdk import Access, AnnotationRecord, WorkspaceFile

ROOT = pathlib.Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-output" / "gtomo"

# the tiny cube: 10 pc voxels, Sun at (10, 10, 5), a disc of 1e-3 mag/pc and one dense voxel of 0.2 mag/pc
# at x = +50, y = +30, z = 0 pc (l = 30.96 deg, b = 0, d = 58.31 pc)
STEP = 10.0
SHAPE = (21, 21, 11)
SUN = (10, 10, 5)
DENSE = (15, 13, 5)
DISC, PEAK = 1e-3, 0.2


def write_published(path: pathlib.Path, data: np.ndarray, step: float, sun_xyz: tuple[int, int, int]) -> None:
    """The published layout: ``explore/cube_datas`` (x, y, z), ``sun_position`` in (z, x, y) order."""
    import h5py

    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("explore/cube_datas", data=data)
        ds.attrs["sun_position"] = np.array([sun_xyz[2], sun_xyz[0], sun_xyz[1]])
        ds.attrs["gridstep_values"] = np.array([step, step, step])


class FakeSession:
    """An in-memory :class:`explore.sdk.Session` over a local folder: ``demo/gtomo`` and ``alice``."""

    def __init__(self, root: pathlib.Path, user: str = "alice") -> None:
        self.root = root
        self.user = user
        self.app_id = "gtomo"
        self.incoming_selection = None
        self.written: dict[str, bytes] = {}
        self.notes: list[AnnotationRecord] = []
        (root / user).mkdir(parents=True, exist_ok=True)

    def _full(self, path: str) -> pathlib.Path:
        full = (self.root / path).resolve()
        if self.root.resolve() not in full.parents and full != self.root.resolve():
            raise PermissionError(path)
        return full

    def home(self) -> str:
        return self.user

    def listdir(self, path: str = "") -> list[WorkspaceFile]:
        full = self._full(path or self.user)
        if not full.is_dir():
            raise FileNotFoundError(path)
        base = path or self.user
        return [WorkspaceFile(f"{base}/{p.name}", p.name, p.is_dir(), p.stat().st_size, p.stat().st_mtime)
                for p in sorted(full.iterdir())]

    @contextlib.contextmanager
    def open(self, path: str, mode: str = "rb"):
        with self._full(path).open(mode) as fh:
            yield fh

    def read_bytes(self, path: str) -> bytes:
        return self._full(path).read_bytes()

    def write_bytes(self, path: str, data: bytes) -> str:
        if not path.startswith(self.user + "/"):
            raise PermissionError(f"{self.user} may not write {path}")
        full = self._full(path)
        if not full.parent.is_dir():
            raise FileNotFoundError(f"the folder {path.rsplit('/', 1)[0]} does not exist")
        full.write_bytes(data)
        self.written[path] = data
        return path

    def local_path(self, path: str) -> pathlib.Path:
        full = self._full(path)
        if not full.is_file():
            raise FileNotFoundError(path)
        return full

    def annotations(self, view: str | None = None) -> list[AnnotationRecord]:
        return [n for n in self.notes if view is None or n.view == view]

    def annotate(self, view, title, description="", *, object_ids=None, region=None, read=None, write=None):
        now = _dt.datetime.now(_dt.UTC).isoformat()
        record = AnnotationRecord(len(self.notes) + 1, self.app_id, view, title, description, self.user,
                                  list(object_ids) if object_ids is not None else None, region,
                                  read or Access(), write or Access(), now, now, True)
        self.notes.append(record)
        return record

    def update_annotation(self, annotation_id, **changes):
        i = next(i for i, n in enumerate(self.notes) if n.id == annotation_id)
        self.notes[i] = dataclasses.replace(self.notes[i], **changes)
        return self.notes[i]

    def delete_annotation(self, annotation_id):
        self.notes = [n for n in self.notes if n.id != annotation_id]


@pytest.fixture
def workspace(tmp_path):
    """A fake session with a tiny cube in ``demo/gtomo`` and a target table in alice's home."""
    demo = tmp_path / "ws" / "demo" / "gtomo"
    demo.mkdir(parents=True)
    data = np.full(SHAPE, DISC, np.float32)
    data[DENSE] = PEAK
    write_published(demo / "demo_cube_density.h5", data, STEP, SUN)
    write_published(demo / "demo_cube_density_errors.h5", np.full(SHAPE, 1e-4, np.float32), STEP, SUN)
    session = FakeSession(tmp_path / "ws")
    Table({"name": ["near", "far"], "l": [30.0, 200.0], "b": [0.0, 5.0], "distance": [80.0, 60.0]}).write(
        tmp_path / "ws" / "alice" / "stars.csv", format="ascii.csv")
    return session


@pytest.fixture
def view(workspace):
    from explore.apps.gtomo.view import GTomoView

    return GTomoView(workspace)


def test_the_app_declares_a_view_and_finds_the_demo_cube(workspace):
    from explore.apps.gtomo.app import GTomo

    v = GTomo().view(workspace)
    assert GTomo.has_view()
    assert v.cube == "demo/gtomo/demo_cube_density.h5"
    assert v.error_cube == "demo/gtomo/demo_cube_density_errors.h5"
    assert "alice/stars.csv" in v.param.table_file.objects
    assert v.dust.shape == SHAPE


def test_profile_ends_at_the_integrated_a0_of_the_target(view):
    view.lon, view.lat, view.distance = 30.0, 0.0, 90.0
    view.add_target()
    row = view.results.iloc[view.current]
    expected = integrate_extinction(view.dust, 30.0, 0.0, 90.0).a0[0].to_value(u.mag)
    assert row["a0"] == pytest.approx(expected, rel=1e-12)
    assert row["flag"] == 0
    cum = view.profile.cumulative.to_value(u.mag)
    dist = view.profile.distance.to_value(u.pc)
    assert np.interp(90.0, dist, cum) == pytest.approx(expected, rel=1e-3)
    # the profile goes to the cube's edge along l = 30 deg (x = 100 pc face) and ends at that integral
    edge = 100.0 / np.cos(np.radians(30.0))
    assert view.profile.edge.to_value(u.pc) == pytest.approx(edge)
    assert cum[np.isfinite(cum)][-1] == pytest.approx(
        integrate_extinction(view.dust, 30.0, 0.0, edge * (1 - 1e-9)).a0[0].to_value(u.mag), rel=1e-6)
    # the error band and the target's marker are drawn
    plot = view.profile_plot()
    assert plot is not None
    assert view.profile.cumulative_err is not None


def test_a_target_beyond_the_cube_is_flagged_not_extrapolated(view):
    view.lon, view.lat, view.distance = 0.0, 0.0, 5000.0
    view.add_target()
    row = view.results.iloc[view.current]
    assert np.isnan(row["a0"]) and "OUTSIDE_CUBE" in row["flags"]


def test_icrs_coordinates_become_galactic(view):
    view.frame = "ICRS"
    view.lon, view.lat, view.distance = 266.40499, -28.93617, 50.0  # Sgr A*, near l = 0, b = 0
    view.add_target()
    row = view.results.iloc[-1]
    assert (row["l"] + 180) % 360 - 180 == pytest.approx(0.0, abs=0.1)
    assert row["b"] == pytest.approx(0.0, abs=0.1)


def test_slice_has_the_cube_shape_and_its_maximum_at_the_dense_voxel(view):
    view.plane = "Galactic plane at height z"
    view.slice_z = 0.0
    img = view.slice_image()
    values = view.slice.values.to_value(u.mag / u.pc)
    assert values.shape == (SHAPE[1], SHAPE[0])  # (v = y, u = x) at one voxel per sample
    iv, iu = np.unravel_index(np.nanargmax(values), values.shape)
    assert (view.slice.u[iu].to_value(u.pc), view.slice.v[iv].to_value(u.pc)) == (50.0, 30.0)
    assert np.nanmax(values) == pytest.approx(PEAK)
    # log scale shows log10 of the same field
    assert np.nanmax(img.dimension_values(2)) == pytest.approx(np.log10(PEAK))
    view.log_scale = False
    assert np.nanmax(view.slice_image().dimension_values(2)) == pytest.approx(PEAK)
    # 10 pc higher the plane misses the dense voxel: the disc only
    view.slice_z = 10.0
    assert np.nanmax(view.slice.values.to_value(u.mag / u.pc)) == pytest.approx(DISC)


def test_vertical_slice_through_the_target_marks_it_in_the_plane(view):
    view.lon, view.lat, view.distance = 30.96376, 0.0, 58.3095
    view.add_target()
    view.plane = "Vertical plane through the Sun at longitude l"
    view.through_target()
    assert view.slice_l == pytest.approx(30.96376)
    values = view.slice.values.to_value(u.mag / u.pc)
    iv, iu = np.unravel_index(np.nanargmax(values), values.shape)  # the sample nearest the dense voxel
    assert (view.slice.u[iu].to_value(u.pc), view.slice.v[iv].to_value(u.pc)) == (60.0, 0.0)
    marks = view.slice_markers()
    current = [el for el in marks if el.opts.get().kwargs.get("color") == "#ff1744"][0]
    uu, vv = current.dimension_values("u")[0], current.dimension_values("v")[0]
    assert (uu, vv) == (pytest.approx(58.3095, abs=1e-3), pytest.approx(0.0, abs=1e-6))


def test_sky_map_follows_the_distance(view):
    view.sky_distance = 40.0
    near = np.nanmax(view.skymap.a0.to_value(u.mag))
    assert near == pytest.approx(DISC * 40.0, rel=1e-6)
    view.sky_distance = 90.0
    assert view.skymap.distance.to_value(u.pc) == 90.0
    assert np.nanmax(view.skymap.a0.to_value(u.mag)) > near * 2
    beyond, image = list(view.sky_image())
    a0 = image.dimension_values("A0", flat=False)
    assert np.nanmax(a0) == pytest.approx(np.nanmax(view.skymap.a0.to_value(u.mag)), rel=1e-6)
    # grey layer: inside the ellipse where the sightline left the cube (|z| <= 50 pc here, so high |b|)
    assert np.isfinite(beyond.dimension_values(2)).any()


def test_selecting_a_cloud_marks_it_on_the_slice_and_the_sky_map(view):
    view.cloud_threshold, view.min_cloud_size = 0.01, 2
    view.cloud_threshold = 0.005  # a neighbourhood of the dense voxel: trilinear density > 0.005 on 1 voxel only
    assert view.clouds is not None
    view.min_cloud_size = 2
    view.cloud_threshold = 0.0005
    assert len(view.clouds) >= 1
    cloud = int(view.clouds["id"].iloc[0])
    view.selected_clouds = [cloud]
    for markers in (view.slice_markers(), view.sky_markers()):
        labels = [el for el in markers if type(el).__name__ == "Labels"][0]
        assert [n.strip() for n in labels.dimension_values("name")] == [f"cloud {cloud}"]
    # the slice marks the cloud at its centroid, in the plane's coordinates
    row = view.clouds.set_index("id").loc[cloud]
    labels = [el for el in view.slice_markers() if type(el).__name__ == "Labels"][0]
    assert labels.dimension_values("u")[0] == pytest.approx(row["x"])  # Galactic plane: u = x, v = y
    assert labels.dimension_values("v")[0] == pytest.approx(row["y"])


def test_loading_a_workspace_table_and_an_upload(view, workspace):
    view.table_file = "alice/stars.csv"
    view.load_workspace_table()
    assert list(view.results["name"]) == ["near", "far"]
    bad = io.StringIO()
    Table({"x": [1.0]}).write(bad, format="ascii.csv")
    view.load_upload(bad.getvalue().encode(), "mine.csv")
    assert view.severity == "error" and "distance" in view.message
    assert list(view.results["name"]) == ["near", "far"]  # nothing lost


def test_an_offline_name_gives_the_clear_message(view, monkeypatch):
    from explore.apps.gtomo import view as view_module
    from explore.apps.gtomo.targets import NameResolutionError

    def offline(name):
        raise NameResolutionError(f"could not resolve {name!r} ... offline, give the target's coordinates")

    monkeypatch.setattr(view_module, "resolve_name", offline)
    before = len(view.targets)
    view.object_name = "rho Oph"
    view.resolve()
    assert view.severity == "warning" and "coordinates" in view.message
    assert len(view.targets) == before


def test_exports_write_the_expected_bytes(view, workspace):
    view.lon, view.lat, view.distance = 30.0, 0.0, 90.0
    view.add_target()
    path = view.export("profile", "CSV")
    assert path.startswith("alice/gtomo_profile_") and path.endswith(".csv")
    table = Table.read(workspace.written[path].decode(), format="ascii.csv")
    np.testing.assert_allclose(table["cumulative"], view.profile.cumulative.to_value(u.mag), equal_nan=True)

    path = view.export("slice", "FITS")
    with fits.open(io.BytesIO(workspace.written[path])) as hdul:
        np.testing.assert_allclose(hdul[0].data, view.slice.values.to_value(u.mag / u.pc), equal_nan=True)
        assert hdul[0].header["BUNIT"] == "mag/pc"

    path = view.export("skymap", "FITS")
    with fits.open(io.BytesIO(workspace.written[path])) as hdul:
        np.testing.assert_allclose(hdul[1].data["A0"], view.skymap.a0.to_value(u.mag), rtol=1e-6, equal_nan=True)
        assert hdul[1].header["NSIDE"] == view.nside
    for what in ("slice", "skymap", "profile"):
        assert workspace.written[view.export(what, "PNG")][:8] == b"\x89PNG\r\n\x1a\n"

    view.min_cloud_size, view.cloud_threshold = 2, 0.0005
    path = view.export("clouds", "CSV")
    table = Table.read(workspace.written[path].decode(), format="ascii.csv")
    assert len(table) == len(view.clouds) and "mass_proxy" in table.colnames

    view.export_folder = "bob"
    with pytest.raises(PermissionError):
        view.export("targets", "CSV")


def drawn_boxes(annotated):
    """The annotation boxes an annotated plot draws: (x0, y0, x1, y1, title)."""
    rects = annotated.overlay()[()].get(0)
    return [tuple(r) for r in rects.array()] if len(rects) else []


def annotate(annotated, title, x_range, y_range, **form):
    """What a user does: zoom the plot to a region (the browser reports the range), press Annotate, type a
    title, press Save."""
    annotated.range_stream.event(x_range=x_range, y_range=y_range)
    annotated.open_dialog()
    annotated.form.param.update(title=title, **form)
    return annotated.submit()


def test_a_slice_annotation_is_stored_under_its_plane_and_drawn_on_that_plane_only(view, workspace):
    import panel as pn

    pn.panel(view)  # the layout wraps the plots
    assert set(view.annotated) == {"density", "A0", "slice", "sky", "clouds", "volume"}
    plot = view.annotated["slice"]
    assert plot.view == "slice, Galactic plane at z = 0 pc"
    record = annotate(plot, "Dense voxel", (40.0, 60.0), (20.0, 40.0), read_level="public")
    assert record.view == "slice, Galactic plane at z = 0 pc" and record.read.level == "public"
    assert record.region == {"type": "box", "x": [40.0, 60.0], "y": [20.0, 40.0], "x_dim": "u", "y_dim": "v"}
    assert drawn_boxes(plot) == [(40.0, 20.0, 60.0, 40.0, "Dense voxel")]
    # another plane: the plot moves to that plane's annotations, and back
    view.slice_z = 10.0
    assert plot.view == "slice, Galactic plane at z = 10 pc" and drawn_boxes(plot) == []
    view.slice_z = 0.0
    assert drawn_boxes(plot) == [(40.0, 20.0, 60.0, 40.0, "Dense voxel")]
    # the small slice of the clouds tab shows it too; the sky map does not
    assert [a.title for a in view.notes.annotations] == ["Dense voxel"]
    assert drawn_boxes(view.drawings["slice"]) == [(40.0, 20.0, 60.0, 40.0, "Dense voxel")]
    assert drawn_boxes(view.annotated["sky"]) == []
    # a title is needed, and nothing is stored without one
    plot.open_dialog()
    assert plot.submit() is None and "title" in plot.form.error
    assert len(workspace.notes) == 1


def test_a_profile_annotation_belongs_to_its_sightline(view):
    import panel as pn

    pn.panel(view)
    view.lon, view.lat, view.distance = 30.0, 0.0, 90.0
    view.add_target()
    a0_plot, density_plot = view.annotated["A0"], view.annotated["density"]
    assert a0_plot.view == "A0 profile, l = 30.00°, b = 0.00°"
    assert density_plot.view == "density profile, l = 30.00°, b = 0.00°"
    record = annotate(a0_plot, "Dense voxel crossed", (50.0, 70.0), (0.09, 0.2))
    assert record.region["x_dim"] == "distance" and record.region["y_dim"] == "A0"
    assert drawn_boxes(a0_plot) == [(50.0, 0.09, 70.0, 0.2, "Dense voxel crossed")]
    assert drawn_boxes(density_plot) == []
    view.lon, view.lat = 200.0, 5.0
    view.add_target()  # the profile of another sightline: not drawn there
    assert drawn_boxes(a0_plot) == []
    view.current = 1  # back to l = 30 (row 0 is the default target)
    assert drawn_boxes(a0_plot) == [(50.0, 0.09, 70.0, 0.2, "Dense voxel crossed")]


def test_a_sky_map_annotation_is_drawn_at_every_distance(view):
    import panel as pn

    pn.panel(view)
    sky = view.annotated["sky"]
    annotate(sky, "Bright edge", (-1.0, 0.5), (-0.2, 0.3))
    view.sky_distance = 70.0
    assert drawn_boxes(sky) == [(-1.0, -0.2, 0.5, 0.3, "Bright edge")]
    labels = view.drawings["sky"].overlay()[()].get(1)
    assert labels.dimension_values("title").tolist() == ["Bright edge"]


def listed(view):
    """The text of the list of annotations below the tabs."""
    return "\n".join(row[0].object for row in view.notes._list())


def marker_places(drawing):
    """The annotated objects a plot draws, as (x, y) pairs."""
    points = drawing.overlay()[()].get(2)
    return list(zip(points.dimension_values(0), points.dimension_values(1), strict=True))


def test_a_profile_annotation_attaches_the_current_target_drawn_where_it_lies(view):
    import panel as pn

    pn.panel(view)
    view.lon, view.lat, view.distance = 30.0, 0.0, 90.0
    view.add_target()
    a0_plot, density_plot = view.annotated["A0"], view.annotated["density"]
    record = annotate(a0_plot, "Behind the dense voxel", (50.0, 100.0), (0.0, 0.3))
    assert record.object_ids == ["target T2"]
    a0 = float(view.results.iloc[1]["a0"])
    (x, y), = marker_places(a0_plot)
    assert x == 90.0 and y == pytest.approx(a0, rel=1e-3)  # on the curve, at the target's integrated A0
    # the density plot places the same target on its own curve: the disc density at 90 pc
    xs, ys = density_plot.positions(["target T2"])
    assert (xs[0], ys[0]) == (90.0, pytest.approx(DISC))
    assert listed(view).count("objects: target T2") == 1


def test_clouds_annotated_from_the_table_are_drawn_on_the_clouds_maps_and_listed(view):
    import panel as pn

    from explore.apps.gtomo.view import mollweide_xy

    pn.panel(view)
    view.min_cloud_size, view.cloud_threshold = 2, 0.0005
    table = view.annotated["clouds"]
    assert table.view == "clouds, density > 0.0005 mag/pc, ≥ 2 voxels" and not table.draws
    cloud = view.clouds.set_index("id").iloc[0]
    cid = int(view.clouds["id"].iloc[0])
    view.selected_clouds = [cid]
    table.open_dialog()
    assert table.form.objects_note == f"cloud {cid}"
    table.form.title = "The dense voxel's cloud"
    record = table.submit()
    assert record.object_ids == [f"cloud {cid}"] and record.view == table.view and record.region is None
    # green rings on the small maps: at the cloud's centroid in the Galactic plane (u = x, v = y) ...
    (u_, v_), = marker_places(view.drawings["clouds on slice"])
    assert (u_, v_) == (pytest.approx(cloud["x"]), pytest.approx(cloud["y"]))
    # ... and in its direction on the sky map
    (mx, my), = marker_places(view.drawings["clouds on sky"])
    assert (mx, my) == tuple(pytest.approx(float(c)) for c in mollweide_xy(cloud["l"], cloud["b"]))
    assert f"objects: cloud {cid}" in listed(view)
    # the markers follow the plane: a vertical plane through the cloud's longitude puts it at its distance
    view.plane = "Vertical plane through the Sun at longitude l"
    view.slice_l = float(cloud["l"])
    (u_, v_), = marker_places(view.drawings["clouds on slice"])
    assert (u_, v_) == (pytest.approx(np.hypot(cloud["x"], cloud["y"])), pytest.approx(cloud["z"], abs=1e-9))
    # another detection has other ids: its table shows none of this annotation, and the first shows it again
    view.cloud_threshold = 0.001
    assert table.view == "clouds, density > 0.001 mag/pc, ≥ 2 voxels"
    assert marker_places(view.drawings["clouds on sky"]) == []
    view.cloud_threshold = 0.0005
    assert len(marker_places(view.drawings["clouds on sky"])) == 1


def test_a_volume_annotation_stores_the_sub_cube_camera_and_slices_drawn_on_the_slices(view):
    import panel as pn

    pn.panel(view)
    view.volume_half = 30.0
    view.volume_centre = (50.0, 30.0, 0.0)  # 7 voxels of 10 pc a side, centred on the dense voxel
    view.volume_camera = {"position": [400.0, 0.0, 0.0], "focalPoint": [50.0, 30.0, 0.0], "viewUp": [0, 0, 1],
                          "mtime": 123}
    volume = view.annotated["volume"]
    assert not volume.draws
    volume.open_dialog()
    assert volume.form.objects_note == "target T1"  # no cloud ticked: the current target
    volume.form.title = "Dense voxel in 3D"
    record = volume.submit()
    region = record.region
    assert region["ranges"] == {"x": [15.0, 85.0], "y": [-5.0, 65.0], "z": [-35.0, 35.0]}  # voxel edges
    assert region["slices"] == {"x": 50.0, "y": 30.0, "z": 0.0} and region["unit"] == "pc"
    assert region["centre"] == [50.0, 30.0, 0.0] and region["half_size"] == 30.0
    assert region["camera"] == {"position": [400.0, 0.0, 0.0], "focalPoint": [50.0, 30.0, 0.0], "viewUp": [0, 0, 1]}
    # the sub-cube is a box on each of the three slices
    assert drawn_boxes(view.drawings["volume xy"]) == [(15.0, -5.0, 85.0, 65.0, "Dense voxel in 3D")]
    assert drawn_boxes(view.drawings["volume xz"]) == [(15.0, -35.0, 85.0, 35.0, "Dense voxel in 3D")]
    assert drawn_boxes(view.drawings["volume yz"]) == [(-5.0, -35.0, 65.0, 35.0, "Dense voxel in 3D")]
    # and the target (l = 173, b = -15, 300 pc) is ringed where it lies, on the x-z slice at (x, z)
    x, y, z = (float(c) for c in galactic_to_xyz(173.0, -15.0, 300.0))
    (px, pz), = marker_places(view.drawings["volume xz"])
    assert (px, pz) == (pytest.approx(x), pytest.approx(z))
    # Show brings the sub-cube, colour scale and camera back, on the Volume tab
    shown = record
    view.volume_centre, view.volume_half, view.log_scale = (0.0, 0.0, 0.0), 80.0, not view.log_scale
    view._vtk.camera = {"position": [0.0, 0.0, 900.0], "focalPoint": [0.0, 0.0, 0.0], "viewUp": [0, 1, 0]}
    view._tabs.active = 0
    view.notes.show(shown.id)
    assert view.volume_centre == (50.0, 30.0, 0.0) and view.volume_half == 30.0
    assert view.log_scale == shown.region["log_scale"]
    assert view.volume[0].shape == (7, 7, 7)
    assert {k: view._vtk.camera[k] for k in ("position", "focalPoint", "viewUp")} == shown.region["camera"]
    assert view._tabs.active == 3 and "Showing “Dense voxel in 3D”" in view.notes.message
    rows = view.notes._list()
    assert [b.label for b in rows[-1][1:]] == ["Show", "Edit", "Delete"]  # the volume's annotations can be shown
    # with a cloud ticked, the volume attaches it and names the detection its id belongs to
    view.min_cloud_size, view.cloud_threshold = 2, 0.0005
    view.selected_clouds = [int(view.clouds["id"].iloc[0])]
    volume.open_dialog()
    volume.form.title = "with the cloud"
    record = volume.submit()
    assert record.object_ids == [f"cloud {view.selected_clouds[0]}"]
    assert record.region["clouds"] == "clouds, density > 0.0005 mag/pc, ≥ 2 voxels"


def test_volume_is_a_sub_cube_around_its_centre(view):
    view.volume_half = 30.0
    view.volume_centre = (50.0, 30.0, 0.0)
    block, origin, step = view.volume
    assert step == STEP and block.shape == (7, 7, 7)
    assert block.max() == pytest.approx(PEAK)
    assert origin == (20.0, 0.0, -30.0)
    assert len(view.volume_slices()) == 3


def test_the_view_builds_its_layout(view):
    import panel as pn

    layout = pn.panel(view)
    assert isinstance(layout, pn.layout.ListPanel) or hasattr(layout, "objects")


# ---- the page in a real browser -------------------------------------------------------------------

def _demo_session(tmp_path: pathlib.Path) -> FakeSession:
    """A workspace holding G-Tomo's demo cube where the demo puts it (``demo/gtomo/``)."""
    from explore.apps.gtomo.demo import make_demo_cube

    demo = tmp_path / "ws" / "demo" / "gtomo"
    demo.mkdir(parents=True)
    make_demo_cube(demo / "demo_cube_density.h5")
    return FakeSession(tmp_path / "ws")


@pytest.mark.browser
@skip_without_chromium
def test_the_view_in_a_browser(tmp_path):
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explore.apps.gtomo.app import GTomo
    from explore.apps.gtomo.demo import make_demo_errors, make_demo_targets

    session = _demo_session(tmp_path)
    demo = tmp_path / "ws" / "demo" / "gtomo"
    make_demo_errors(demo / "demo_cube_density_errors.h5", kind="density_error")
    make_demo_targets(demo / "demo_targets.csv", n=200)
    views = []

    def page_app():
        v = GTomo().view(session)
        v.table_file = "demo/gtomo/demo_targets.csv"
        v.load_workspace_table()
        v.current = int(np.flatnonzero(v.results["name"] == "behind Taurus")[0])
        v.plane = "Vertical plane through the Sun at longitude l"
        v.through_target()
        views.append(v)
        return pn.panel(v)

    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = pn.serve({"gtomo": page_app}, port=port, threaded=True, show=False, address="127.0.0.1")
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            started = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}/gtomo", timeout=90_000)
            page.locator("text=star00000").first.wait_for(timeout=60_000)
            page.locator("canvas").first.wait_for(timeout=20_000)
            first_paint = time.monotonic() - started
            page.locator("text=Export profile").first.wait_for(timeout=20_000)
            page.locator(".pn-loading").first.wait_for(state="hidden", timeout=30_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / "profile.png"))
            v = views[0]
            assert v.results.iloc[v.current]["name"] == "behind Taurus"

            page.locator("text=Slice").first.click()
            page.locator("text=Through the target").first.wait_for(timeout=20_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / "slice.png"))

            page.locator("text=Sky map").first.click()
            page.locator("text=Grey: sightlines").first.wait_for(timeout=20_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / "skymap.png"))

            page.locator("text=Clouds").first.click()
            page.locator("text=Tick clouds").first.wait_for(timeout=20_000)
            page.locator(".tabulator-row input[type=checkbox]").first.click()
            deadline = time.monotonic() + 15
            while not v.selected_clouds and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert v.selected_clouds == [0]
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / "clouds.png"), full_page=True)

            page.locator("text=Run on a large target list").first.click()
            page.locator("text=batch job").first.wait_for(timeout=10_000)
            page.screenshot(path=str(SHOTS / "batch.png"))
            browser.close()
    finally:
        server.stop()
    print(f"first paint {first_paint:.1f} s")
    assert first_paint < 60, f"first paint took {first_paint:.1f} s"
    for name in ("profile", "slice", "skymap", "clouds"):
        assert (SHOTS / f"{name}.png").stat().st_size > 20_000


REGION = (0xFF, 0x8F, 0x00)  # the colour of annotation regions (explore.viz.annotate.REGION_COLOR)


def _near(png: bytes, rgb, tolerance: int = 30) -> np.ndarray:
    """Which pixels of a PNG screenshot are within ``tolerance`` of the colour ``rgb``."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return np.abs(img - np.array(rgb)).max(axis=2) <= tolerance


@contextlib.contextmanager
def _gtomo_in_browser(session, prepare=None):
    """G-Tomo's page for ``session`` served by Panel and open in headless Chromium once the profile tab is
    shown: yields (the page, the views made, one per page load); ``prepare(view)`` sets a view up first."""
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explore.apps.gtomo.app import GTomo

    views = []

    def page_app():
        v = GTomo().view(session)
        if prepare is not None:
            prepare(v)
        views.append(v)
        return pn.panel(v)

    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = pn.serve({"gtomo": page_app}, port=port, threaded=True, show=False, address="127.0.0.1")
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/gtomo", timeout=90_000)
            page.locator("text=Export profile").first.wait_for(timeout=90_000)
            yield page, views
            browser.close()
    finally:
        server.stop()


@pytest.mark.browser
@skip_without_chromium
def test_an_annotation_made_on_the_slice_is_drawn_on_it_in_a_browser(tmp_path):
    """Zoom into the Galactic-plane slice, press Annotate, type a title, Save: the region in view is stored
    under that plane, and once zoomed out again it is drawn on the slice (an orange box with its title)
    and listed below the plots; on another plane it is not drawn."""
    session = _demo_session(tmp_path)
    with _gtomo_in_browser(session) as (page, views):
        page.locator("text=Slice").first.click()
        page.locator("text=Through the target").first.wait_for(timeout=20_000)
        v = views[0]
        plot = v.annotated["slice"]
        assert plot.view == "slice, Galactic plane at z = 0 pc"
        # the figure's canvas (the largest on the tab), less its toolbar
        canvases = page.locator("canvas")
        assert wait_until(lambda: canvases.count() > 0, 30)
        boxes = [canvases.nth(i).bounding_box() for i in range(canvases.count())]
        box = max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])
        box["width"] -= 40
        assert wait_until(lambda: plot.x_range is not None, 30)
        full_x, full_y = plot.x_range, plot.y_range
        page.wait_for_timeout(1000)
        before = page.screenshot(clip=box)

        # zoom in around a point left of the centre: the plot reports the smaller range in view
        page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.4)
        for _ in range(4):
            page.mouse.wheel(0, -240)
            page.wait_for_timeout(150)
        assert wait_until(lambda: plot.x_range[1] - plot.x_range[0] < 0.8 * (full_x[1] - full_x[0]), 15)
        page.wait_for_timeout(800)
        zoomed_x, zoomed_y = plot.x_range, plot.y_range

        page.get_by_role("button", name="Annotate").first.click()
        page.get_by_label("Title").fill("Small cloud")
        page.get_by_role("button", name="Save", exact=True).click()
        assert wait_until(lambda: len(session.notes) == 1, 15)
        record = session.notes[0]
        assert record.view == "slice, Galactic plane at z = 0 pc" and record.title == "Small cloud"
        assert record.region["x_dim"] == "u" and record.region["y_dim"] == "v"
        np.testing.assert_allclose(record.region["x"], zoomed_x)
        np.testing.assert_allclose(record.region["y"], zoomed_y)
        assert full_x[0] < zoomed_x[0] < zoomed_x[1] < full_x[1]
        assert full_y[0] < zoomed_y[0] < zoomed_y[1] < full_y[1]
        # in the list of annotations below the tabs, with the view it belongs to
        page.locator("text=slice, Galactic plane at z = 0 pc").first.wait_for(timeout=15_000)

        # zoom out again (Bokeh's reset tool): the region is a box inside the plot where the zoom was
        page.locator('[title="Reset"]').first.click()
        assert wait_until(lambda: plot.x_range is not None and plot.x_range[1] - plot.x_range[0]
                          > 0.9 * (full_x[1] - full_x[0]), 15)
        assert wait_until(lambda: (_near(page.screenshot(clip=box), REGION)
                                   & ~_near(before, REGION)).sum() > 300, 15)
        page.wait_for_timeout(800)
        after = page.screenshot(clip=box)
        page.screenshot(path=str(SHOTS / "slice_annotated.png"), full_page=True)
        # what the annotation added: a box outline in the region's colour (and its title), straight
        # edges as long as the zoomed fraction of the 540-pixel frame
        drawn = _near(after, REGION) & ~_near(before, REGION)
        frame = v.slice_image().opts.get().kwargs
        frame_px = frame["frame_width"]
        assert frame_px == frame["frame_height"] == 540
        size_x = (zoomed_x[1] - zoomed_x[0]) / (full_x[1] - full_x[0]) * frame_px
        size_y = (zoomed_y[1] - zoomed_y[0]) / (full_y[1] - full_y[0]) * frame_px
        cols = np.flatnonzero(drawn.sum(axis=0) >= 0.5 * size_y)  # the left and right edges
        rows = np.flatnonzero(drawn.sum(axis=1) >= 0.5 * size_x)  # the top and bottom edges
        assert cols.size and rows.size
        assert cols.max() - cols.min() == pytest.approx(size_x, abs=0.1 * size_x + 3)
        assert rows.max() - rows.min() == pytest.approx(size_y, abs=0.1 * size_y + 3)
        # where the zoom was: around the mouse, left of the Sun at the centre of the frame
        assert cols.max() < box["width"] / 2
        outline = np.zeros_like(drawn)
        outline[rows.min():rows.max() + 1, [cols.min(), cols.max()]] = True
        outline[[rows.min(), rows.max()], cols.min():cols.max() + 1] = True
        outline &= drawn
        # the annotation belongs to this plane: not drawn on the slice at z = 50 pc, drawn again at 0
        v.slice_z = 50.0
        assert wait_until(lambda: plot.view == "slice, Galactic plane at z = 50 pc", 10)
        assert wait_until(lambda: (_near(page.screenshot(clip=box), REGION) & outline).sum()
                          < 0.1 * outline.sum(), 15)
        v.slice_z = 0.0
        assert wait_until(lambda: (_near(page.screenshot(clip=box), REGION) & outline).sum()
                          > 0.8 * outline.sum(), 15)
        # Show (in the list) zooms the slice back to the region the annotation stored
        page.get_by_role("button", name="Show").first.click()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "slice_show_annotation.png"), full_page=True)
        assert wait_until(lambda: plot.x_range is not None and np.allclose(plot.x_range, zoomed_x, rtol=0, atol=1)
                          and np.allclose(plot.y_range, zoomed_y, rtol=0, atol=1), 15), (plot.x_range, zoomed_x)


OBJECT = (0x00, 0xC8, 0x53)  # the colour of annotated objects' rings (explore.viz.annotate.OBJECT_COLOR)


@pytest.mark.browser
@skip_without_chromium
def test_clouds_and_a_volume_annotated_in_a_browser(tmp_path):
    """Tick two clouds in the Clouds tab, press its Annotate button, Save: the clouds are the annotation's
    objects, drawn as green rings on the tab's small slice and sky map and named in the list. On the Volume
    tab, Annotate stores the sub-cube shown, drawn as a box on the three slices of a larger volume."""
    from browser import pixels_like

    session = _demo_session(tmp_path)

    def prepare(v):
        v.volume_half = 150.0  # a sub-cube around the Sun, annotated, then seen inside a larger one
        v.log_scale = False  # a dark background: the orange of annotations stands out (on log, inferno is orange)

    def plot_canvases(page, below: float = 0.0) -> list:
        """The canvases of the plots below a height of the page, left to right then top to bottom (a Bokeh
        plot draws on two canvases of the same size: one of each)."""
        canvases = page.locator("canvas")
        found = {}
        for i in range(canvases.count()):
            b = canvases.nth(i).bounding_box()
            if b and b["width"] > 150 and b["height"] > 100 and b["y"] >= below:
                found.setdefault((round(b["y"]), round(b["x"])), canvases.nth(i))
        return [found[k] for k in sorted(found)]

    with _gtomo_in_browser(session, prepare) as (page, views):
        v = views[0]
        annotate_button = page.locator("button:visible", has_text="Annotate")

        # ---- the Clouds tab: tick clouds 0 and 3
        page.get_by_role("tab", name="Clouds").click()
        page.locator("text=Tick clouds").first.wait_for(timeout=20_000)
        rows = page.locator(".tabulator-row")
        rows.nth(0).wait_for(timeout=20_000)
        for i in (0, 3):
            rows.nth(i).locator("input[type=checkbox]").click()
        assert wait_until(lambda: v.selected_clouds == [0, 3], 15)
        table_bottom = rows.nth(rows.count() - 1).bounding_box()["y"]
        assert wait_until(lambda: len(plot_canvases(page, table_bottom)) == 2, 30)
        maps = plot_canvases(page, table_bottom)  # the small slice and the small sky map
        page.wait_for_timeout(1500)
        rings_before = [pixels_like(m.screenshot(), OBJECT, 30) for m in maps]
        assert all(n < 5 for n in rings_before)  # no rings yet (a stray antialiased pixel at most)
        assert all(m.bounding_box()["x"] + m.bounding_box()["width"] <= 1400 for m in maps)  # side by side

        assert annotate_button.count() == 1  # the tab's own Annotate button, above the table
        annotate_button.first.click()
        # the dialog names what it will attach
        page.locator("text=Attach the selected objects (cloud 0, cloud 3)").first.wait_for(timeout=10_000)
        page.get_by_label("Title").fill("Two clouds to compare")
        page.get_by_label("Description").fill("the most massive one and a high-latitude one")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / "clouds_annotate_dialog.png"))
        page.get_by_role("button", name="Save", exact=True).click()
        assert wait_until(lambda: len(session.notes) == 1, 15)
        record = session.notes[0]
        assert record.object_ids == ["cloud 0", "cloud 3"]
        assert record.view == "clouds, density > 0.005 mag/pc, ≥ 20 voxels" and record.region is None
        # listed below the tabs, naming the clouds
        page.locator("text=objects: cloud 0, cloud 3").first.wait_for(timeout=15_000)

        # untick them (their own markers go): the annotation's green rings stay, on both maps
        for i in (0, 3):
            rows.nth(i).locator("input[type=checkbox]").click()
        assert wait_until(lambda: v.selected_clouds == [], 15)
        assert wait_until(lambda: all(pixels_like(m.screenshot(), OBJECT, 30) > n + 15
                                      for m, n in zip(maps, rings_before, strict=True)), 20)
        page.wait_for_timeout(800)
        page.screenshot(path=str(SHOTS / "clouds_annotated.png"), full_page=True)
        # two rings on the sky map: cloud 0 (l = 210 deg) right of the centre, cloud 3 (l = 159 deg) left
        sky = _near(maps[1].screenshot(), OBJECT)
        width = maps[1].bounding_box()["width"]
        columns = np.flatnonzero(sky.any(axis=0))
        assert columns.size and columns.min() < width * 0.4 and columns.max() > width * 0.45

        # ---- the Volume tab: annotate the sub-cube shown, then look at a larger one
        page.get_by_role("tab", name="Volume").click()
        page.locator("text=Drag to rotate").first.wait_for(timeout=20_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(SHOTS / "volume.png"), full_page=True, timeout=120_000)
        assert annotate_button.count() == 1
        annotate_button.first.click()
        # (the dialog may take seconds to build while the browser renders the volume on the CPU)
        page.locator("text=Attach the sub-cube, camera and slices shown").first.wait_for(timeout=40_000)
        page.get_by_label("Title").fill("Around the Sun")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / "volume_annotate_dialog.png"))
        page.get_by_role("button", name="Save", exact=True).click()
        assert wait_until(lambda: len(session.notes) == 2, 15)
        region = session.notes[1].region
        assert session.notes[1].view == "volume" and region["half_size"] == 150.0
        assert region["ranges"]["x"] == [-155.0, 155.0] and region["ranges"]["y"] == [-155.0, 155.0]
        assert region["slices"] == {"x": 0.0, "y": 0.0, "z": 0.0}
        assert {"position", "focalPoint", "viewUp"} <= set(region["camera"])  # as vtk.js reported it
        page.locator("text=Around the Sun").first.wait_for(timeout=15_000)

        # a larger volume: the annotated sub-cube is a box in the middle of each of the three slices
        def volume_slices():
            """The three slices' canvases, left to right (boxes are in the viewport: the page may have
            scrolled, so the note above the volume is found each time)."""
            top = page.locator("text=Drag to rotate").first.bounding_box(timeout=60_000)["y"] + 480
            return sorted(plot_canvases(page, top), key=lambda c: c.bounding_box()["x"])

        half = page.get_by_label("Half size (pc)")
        half.click()
        half.press("Control+A")
        half.type("400")
        half.press("Tab")
        assert wait_until(lambda: v.volume_half == 400.0, 15)
        page.wait_for_timeout(3000)
        # (a screenshot waits for the volume, rendered on the CPU here: give it time)
        page.screenshot(path=str(SHOTS / "volume_annotated.png"), full_page=True, timeout=120_000)
        slices = volume_slices()  # the slices' plots are new: find them again
        assert len(slices) == 3
        boxed = [c.screenshot(timeout=60_000) for c in slices]
        # Show (only the volume's annotation has it) brings its sub-cube and camera back ...
        page.get_by_role("button", name="Show").click()
        assert wait_until(lambda: v.volume_half == 150.0, 15)
        camera = session.notes[1].region["camera"]
        assert wait_until(lambda: all(v._vtk.camera.get(k) == camera[k] for k in ("position", "focalPoint")), 15)
        page.locator("text=Showing “Around the Sun”").first.wait_for(timeout=15_000)
        # ... and the larger volume again, for the slices without the annotation below
        half.click()
        half.press("Control+A")
        half.type("400")
        half.press("Tab")
        assert wait_until(lambda: v.volume_half == 400.0, 15)
        page.wait_for_timeout(3000)
        page.get_by_role("button", name="Delete").nth(1).click()  # the volume's annotation, second in the list
        assert wait_until(lambda: len(session.notes) == 1, 15)
        page.wait_for_timeout(3000)
        for canvas, with_box in zip(volume_slices(), boxed, strict=True):
            drawn = _near(with_box, REGION) & ~_near(canvas.screenshot(timeout=60_000), REGION)
            columns = np.flatnonzero(drawn.sum(axis=0) > 20)  # the box's left and right edges
            assert columns.size >= 2, "no box drawn on a slice"
            # 310 pc of the 820 pc across the 220-pixel frame
            assert columns.max() - columns.min() == pytest.approx(310 / 820 * 220, abs=6)
