"""G-Tomo's interactive view: sightline profiles, slices, sky maps, a volume and the dust clouds of a cube.

:class:`GTomoView` is a ``param.Parameterized`` viewer: its parameters are the state (the cube, the
targets, the plane of the slice, the sky map's distance, the cloud threshold, the selected clouds...) and
every plot is a function of them. It holds no science: profiles, integrals, slices, sky maps and clouds
come from the G-Tomo modules, and the platform is reached only through the :class:`explore.sdk.Session`
(workspace listing, reading and writing, annotations).

The results of the last computation are kept as parameters too (``profile``, ``slice``, ``skymap``,
``clouds``, ``results``), so a notebook or a test can read the numbers behind every plot.
"""

from __future__ import annotations

import io
import json
import pathlib
import tempfile
import time
from collections.abc import Callable
from typing import Any

import astropy.units as u
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
from astropy.table import Table

from explore.sdk import AnnotationRecord, Session, WorkspaceFile
from explore.viz.annotate import AnnotatedView, AnnotationDrawing, AnnotationLayer

from .clouds import CloudFinder
from .cube import DustCube, galactic_to_xyz
from .integrate import flag_names, integrate_extinction
from .raytrace import exit_distance
from .sightline import Profile, sightline_profile
from .slices import SkyMap, Slice, galactic_plane_slice, mollweide_image, plane_slice, sky_map, vertical_slice
from .targets import NameResolutionError, TargetTableError, read_targets, resolve_name, targets_from_table

__all__ = ["GTomoView", "mollweide_xy"]

hv.extension("bokeh", logo=False)

CUBE_SUFFIXES = (".h5", ".hdf5")
TABLE_SUFFIXES = (".csv", ".ecsv", ".fits", ".fit", ".parquet")
PLANES = {
    "Galactic plane at height z": "galactic",
    "Vertical plane through the Sun at longitude l": "vertical",
    "Any origin and normal": "any",
}
#: the view the sky map's annotations are stored under (its regions are directions: the same at any distance)
SKY_VIEW = "sky map"
#: the view of the volume's annotations (each stores the sub-cube it was made on)
VOLUME_VIEW = "volume"
TAB_TITLES = ["Profile", "Slice", "Sky map", "Volume", "Clouds"]
NONE = "(none)"
#: at most this many voxels per axis go to the browser's volume renderer
VOLUME_MAX_AXIS = 64
#: at most this many targets are drawn as markers on the maps
MAX_MARKERS = 5000
SQRT2 = np.sqrt(2.0)


def mollweide_xy(l_deg: Any, b_deg: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mollweide plane coordinates of Galactic (l, b) in the frame of
    :func:`explore.apps.gtomo.slices.mollweide_image` (l = 0 at the centre, l increasing to the left),
    to draw markers on the sky map."""
    lon = np.radians(((np.asarray(l_deg, dtype=float) + 180.0) % 360.0) - 180.0)
    lat = np.radians(np.asarray(b_deg, dtype=float))
    theta = lat.copy()
    for _ in range(50):  # Newton on 2 theta + sin 2 theta = pi sin lat
        f = 2 * theta + np.sin(2 * theta) - np.pi * np.sin(lat)
        df = 2 + 2 * np.cos(2 * theta)
        step = np.where(df > 1e-12, f / np.where(df > 1e-12, df, 1.0), 0.0)
        theta = theta - step
        if np.all(np.abs(step) < 1e-10):
            break
    return -2 * SQRT2 / np.pi * lon * np.cos(theta), SQRT2 * np.sin(theta)


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S")


def _table_bytes(table: Table, fmt: str) -> bytes:
    """A table as CSV, ECSV or FITS bytes."""
    if fmt == "FITS":
        out = table.copy(copy_data=False)
        out.meta = {k: v for k, v in out.meta.items() if isinstance(k, str) and len(k) <= 8}
        buf = io.BytesIO()
        out.write(buf, format="fits")
        return buf.getvalue()
    text = io.StringIO()
    table.write(text, format="ascii.ecsv" if fmt == "ECSV" else "ascii.csv")
    return text.getvalue().encode()


class GTomoView(pn.viewable.Viewer):
    """The interactive G-Tomo view for one session.

    Parameters
    ----------
    session : explore.sdk.Session
        The platform seen by the user (workspace, annotations).
    cube : str, optional
        Workspace path of the cube to open first; default the demo cube (``demo/gtomo/...``), else the first
        cube found in the user's home.
    """

    # ---- state: the cube ----------------------------------------------------------------------------
    cube = param.Selector(default=None, objects=[], label="Dust cube")
    error_cube = param.Selector(default=NONE, objects=[NONE], label="Error cube (error bands)")
    # ---- state: target entry -------------------------------------------------------------------------
    frame = param.Selector(default="Galactic", objects=["Galactic", "ICRS"], label="Coordinates")
    lon = param.Number(default=173.0, label="l (deg)")
    lat = param.Number(default=-15.0, bounds=(-90, 90), label="b (deg)")
    distance = param.Number(default=300.0, bounds=(0, None), inclusive_bounds=(False, True), label="Distance (pc)")
    object_name = param.String(default="", label="Object name")
    table_file = param.Selector(default=NONE, objects=[NONE], label="Target table in the workspace")
    targets = param.DataFrame(default=None, doc="name, l, b (deg), distance (pc) of the targets", precedence=-1)
    current = param.Integer(default=0, bounds=(0, None), doc="row of the target whose profile is shown")
    reach = param.Number(default=0.0, bounds=(0, None), label="Profile to (pc, 0: cube edge or target)")
    # ---- state: slice --------------------------------------------------------------------------------
    plane = param.Selector(default=list(PLANES)[0], objects=list(PLANES), label="Plane")
    slice_z = param.Number(default=0.0, label="z (pc)")
    slice_l = param.Number(default=173.0, label="l (deg)")
    origin = param.NumericTuple(default=(0.0, 0.0, 0.0), length=3, label="Origin x, y, z (pc)")
    normal = param.NumericTuple(default=(0.0, 0.0, 1.0), length=3, label="Normal x, y, z")
    log_scale = param.Boolean(default=True, label="Log colour scale")
    # ---- state: sky map ------------------------------------------------------------------------------
    sky_distance = param.Number(default=300.0, bounds=(1, None), label="Sky map to distance (pc)")
    nside = param.Selector(default=32, objects=[8, 16, 32, 64, 128], label="HEALPix nside")
    # ---- state: volume -------------------------------------------------------------------------------
    volume_centre = param.NumericTuple(default=(0.0, 0.0, 0.0), length=3, label="Centre x, y, z (pc)")
    volume_half = param.Number(default=300.0, bounds=(1, None), label="Half size (pc)")
    # ---- state: clouds -------------------------------------------------------------------------------
    cloud_threshold = param.Number(default=0.005, bounds=(0, None), inclusive_bounds=(False, True),
                                   label="Cloud threshold (mag/pc)")
    min_cloud_size = param.Integer(default=20, bounds=(2, None), label="Smallest cloud (voxels)")
    selected_clouds = param.List(default=[], item_type=int, doc="ids of the clouds marked on the maps")
    # ---- state: export and messages ------------------------------------------------------------------
    export_folder = param.String(default="", label="Export folder in the workspace")
    message = param.String(default="", precedence=-1)
    severity = param.Selector(default="info", objects=["info", "success", "warning", "error"], precedence=-1)
    # ---- results (read-only for the user) ------------------------------------------------------------
    dust = param.Parameter(default=None, precedence=-1, doc="the open DustCube")
    dust_error = param.Parameter(default=None, precedence=-1, doc="the open error cube, or None")
    results = param.DataFrame(default=None, precedence=-1, doc="targets with a0, a0_err, flag")
    profile = param.Parameter(default=None, precedence=-1, doc="Profile of the current target")
    slice = param.Parameter(default=None, precedence=-1, doc="the current Slice")
    skymap = param.Parameter(default=None, precedence=-1, doc="the current SkyMap")
    clouds = param.DataFrame(default=None, precedence=-1, doc="the clouds table")
    volume = param.Parameter(default=None, precedence=-1, doc="(array, origin, step) of the volume")
    volume_camera = param.Dict(default=None, allow_None=True, precedence=-1,
                               doc="the volume view's camera (vtk.js), as the browser reports it")

    def __init__(self, session: Session, cube: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.session = session
        #: the annotations of G-Tomo: the Annotate button of each plot, the regions drawn on it, the list
        self.notes = AnnotationLayer(session)
        #: the visualisations with an Annotate button ("density", "A0", "slice", "sky", "clouds", "volume"),
        #: made with the layout
        self.annotated: dict[str, AnnotatedView] = {}
        #: the annotations drawn on plots other than their own (the clouds tab's maps, the volume's slices)
        self.drawings: dict[str, AnnotationDrawing] = {}
        # made with the layout: the tabs, and the volume's 3D view (whose camera an annotation restores)
        self._tabs: pmui.Tabs | None = None
        self._vtk: pn.pane.VTKVolume | None = None
        self.notes.on_show(VOLUME_VIEW, self.show_volume)
        self._finder: CloudFinder | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="gtomo-view-")
        if not self.export_folder:
            self.export_folder = session.home()
        if self.targets is None:
            self.targets = pd.DataFrame({"name": ["T1"], "l": [self.lon], "b": [self.lat],
                                         "distance": [self.distance]})
        cubes, tables = self._scan_workspace()
        self.param.cube.objects = cubes
        self.param.error_cube.objects = [NONE, *cubes]
        self.param.table_file.objects = [NONE, *tables]
        chosen = cube or next((c for c in cubes if "demo/" in c and "error" not in c), None) or \
            next((c for c in cubes if "error" not in c.rsplit("/", 1)[-1]), None)
        self._widgets: dict[str, Any] = {}
        if chosen is None:
            self._say("No dust cube found: put a cube (.h5, published layout) in your workspace, or ask the "
                      "administrator to prepare the demo data.", "warning")
            return
        with param.parameterized.discard_events(self):
            self.cube = chosen
            self.error_cube = self._error_cube_for(chosen, cubes)
        self._open_cube()

    # ---- workspace --------------------------------------------------------------------------------
    def _walk(self, path: str, depth: int, out: list[WorkspaceFile], limit: int = 2000) -> None:
        try:
            entries = self.session.listdir(path)
        except (FileNotFoundError, PermissionError, NotImplementedError):
            return
        for entry in entries:
            if len(out) >= limit:
                return
            if entry.is_dir:
                if depth > 0 and not entry.name.startswith("."):
                    self._walk(entry.path, depth - 1, out, limit)
            else:
                out.append(entry)

    def _scan_workspace(self) -> tuple[list[str], list[str]]:
        """Cubes and target tables in the demo folder and the user's home (three levels deep)."""
        files: list[WorkspaceFile] = []
        self._walk("demo/gtomo", 1, files)
        self._walk(self.session.home(), 3, files)
        cubes = [f.path for f in files if f.name.lower().endswith(CUBE_SUFFIXES)]
        tables = [f.path for f in files if f.name.lower().endswith(TABLE_SUFFIXES)]
        return list(dict.fromkeys(cubes)), list(dict.fromkeys(tables))

    def refresh_files(self, *_: Any) -> None:
        """List the workspace again (after an upload in My Files)."""
        cubes, tables = self._scan_workspace()
        self.param.cube.objects = cubes
        self.param.error_cube.objects = [NONE, *cubes]
        self.param.table_file.objects = [NONE, *tables]
        for name, options in (("cube", cubes), ("error_cube", [NONE, *cubes]), ("table_file", [NONE, *tables])):
            if name in self._widgets:
                self._widgets[name].options = options
        self._say(f"{len(cubes)} cube(s) and {len(tables)} table(s) in the workspace.", "info")

    @staticmethod
    def _error_cube_for(cube: str, cubes: list[str]) -> str:
        folder = cube.rsplit("/", 1)[0]
        for c in cubes:
            if c.rsplit("/", 1)[0] == folder and "density_error" in c.rsplit("/", 1)[-1]:
                return c
        return NONE

    def _local(self, path: str) -> pathlib.Path:
        """A local file for a workspace path (copied into a temporary folder if the workspace is remote)."""
        try:
            return self.session.local_path(path)
        except NotImplementedError:
            target = pathlib.Path(self._tmp.name) / path.replace("/", "__")
            if not target.exists():
                target.write_bytes(self.session.read_bytes(path))
            return target

    def _say(self, text: str, severity: str = "info") -> None:
        self.severity = severity
        self.message = text

    # ---- the cube -----------------------------------------------------------------------------------
    @param.depends("cube", "error_cube", watch=True)
    def _open_cube(self) -> None:
        if not self.cube:
            return
        try:
            dust = DustCube.open(self._local(self.cube))
            err = None if self.error_cube in (None, NONE) else DustCube.open(self._local(self.error_cube))
        except Exception as exc:  # noqa: BLE001 - shown to the user, who can pick another file
            self._say(f"Could not open {self.cube}: {exc}", "error")
            return
        ext = dust.extent.to_value(u.pc)
        half = float(min(np.abs(ext[:2]).min(), 1000.0))
        with param.parameterized.batch_call_watchers(self):
            self.dust_error = err
            self.dust = dust
            self.sky_distance = float(np.clip(self.sky_distance, dust.step_pc, np.abs(ext).max()))
            self.volume_half = float(min(self.volume_half, half))
        self._say(f"Opened {self.cube}: {dust.shape[0]}x{dust.shape[1]}x{dust.shape[2]} voxels of "
                  f"{dust.step_pc:g} pc.", "success")

    # ---- targets ------------------------------------------------------------------------------------
    def _galactic(self, lon: float, lat: float) -> tuple[float, float]:
        if self.frame == "ICRS":
            from astropy.coordinates import SkyCoord

            gal = SkyCoord(ra=lon * u.deg, dec=lat * u.deg, frame="icrs").galactic
            return float(gal.l.deg), float(gal.b.deg)
        return float(lon), float(lat)

    def add_target(self, *_: Any, name: str | None = None) -> None:
        """Add the target typed in the coordinate fields."""
        if not -90 <= self.lat <= 90:
            self._say(f"latitude {self.lat} is outside [-90, 90] deg", "error")
            return
        l_deg, b_deg = self._galactic(self.lon, self.lat)
        rows = self.targets if self.targets is not None else pd.DataFrame(columns=["name", "l", "b", "distance"])
        label = name or f"T{len(rows) + 1}"  # annotations call it "target T2"
        row = pd.DataFrame({"name": [label], "l": [l_deg], "b": [b_deg], "distance": [float(self.distance)]})
        with param.parameterized.batch_call_watchers(self):
            self.targets = pd.concat([rows, row], ignore_index=True)
            self.current = len(self.targets) - 1
        self._say(f"Added {label} at l = {l_deg:.3f} deg, b = {b_deg:.3f} deg, {self.distance:g} pc.", "success")

    def resolve(self, *_: Any) -> None:
        """Resolve the object name (Sesame, needs the internet) and add it at the typed distance."""
        name = self.object_name.strip()
        if not name:
            self._say("Type an object name first (e.g. 'rho Oph').", "warning")
            return
        from astropy.utils.data import conf

        try:
            with conf.set_temp("remote_timeout", 5.0):
                coord = resolve_name(name)
        except NameResolutionError as exc:
            self._say(str(exc), "warning")
            return
        except Exception as exc:  # noqa: BLE001 - network errors of any kind mean "offline"
            self._say(f"could not resolve {name!r}: {exc}. The resolver needs the internet; offline, give the "
                      "target's coordinates (l, b or ra, dec) instead", "warning")
            return
        gal = coord.galactic
        with param.parameterized.discard_events(self):
            self.frame = "Galactic"
        self.lon, self.lat = float(gal.l.deg), float(gal.b.deg)
        self.add_target(name=name)

    def load_table(self, table: Table, source: str) -> None:
        """Replace the targets by the rows of a target table (``l, b`` or ``ra, dec``, and ``distance``)."""
        try:
            t = targets_from_table(table)
        except TargetTableError as exc:
            self._say(str(exc), "error")
            return
        names = None
        for col in table.colnames:
            if col.lower() in ("name", "id", "source_id", "designation"):
                names = [str(v) for v in table[col]]
                break
        frame = pd.DataFrame({"name": names or [f"row {i}" for i in range(len(table))], "l": t.l, "b": t.b,
                              "distance": t.distance})
        with param.parameterized.batch_call_watchers(self):
            self.targets = frame
            self.current = 0
        bad = int((t.flag != 0).sum())
        note = f" ({bad} row(s) flagged: bad coordinates or distance)" if bad else ""
        self._say(f"{len(frame):,} targets from {source}{note}.", "warning" if bad else "success")

    def load_workspace_table(self, *_: Any) -> None:
        if self.table_file in (None, NONE):
            self._say("Choose a table from the workspace first.", "warning")
            return
        try:
            table = read_targets(self._local(self.table_file))
        except (TargetTableError, FileNotFoundError, PermissionError) as exc:
            self._say(str(exc), "error")
            return
        self.load_table(table, self.table_file)

    def load_upload(self, data: bytes, filename: str) -> None:
        """Read an uploaded target table (format from the file name's suffix)."""
        suffix = pathlib.Path(filename).suffix.lower()
        path = pathlib.Path(self._tmp.name) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            table = read_targets(path)
        except TargetTableError as exc:
            self._say(str(exc).replace("upload" + suffix, filename), "error")
            return
        self.load_table(table, filename)

    def clear_targets(self, *_: Any) -> None:
        with param.parameterized.batch_call_watchers(self):
            self.targets = pd.DataFrame({"name": [], "l": [], "b": [], "distance": []})
            self.current = 0

    @param.depends("dust", "dust_error", "targets", watch=True, on_init=False)
    def _compute_results(self) -> None:
        if self.dust is None or self.targets is None:
            return
        t = self.targets
        res = integrate_extinction(self.dust, t["l"].to_numpy(float), t["b"].to_numpy(float),
                                   t["distance"].to_numpy(float), error_cube=self.dust_error)
        out = t.copy()
        out["a0"] = res.a0.to_value(u.mag)
        if res.a0_err is not None:
            out["a0_err"] = res.a0_err.to_value(u.mag)
        out["flag"] = res.flag.astype(int)
        out["flags"] = [", ".join(flag_names(f)) for f in res.flag]
        self.results = out

    def _current_row(self) -> pd.Series | None:
        if self.results is None or not len(self.results):
            return None
        row = self.results.iloc[min(self.current, len(self.results) - 1)]
        if not (np.isfinite(row["l"]) and np.isfinite(row["b"]) and abs(row["b"]) <= 90):
            return None
        return row

    # ---- profile ------------------------------------------------------------------------------------
    @param.depends("results", "current", "reach", watch=True)
    def _compute_profile(self) -> None:
        row = self._current_row()
        if row is None or self.dust is None:
            self.profile = None
            return
        dust = self.dust
        ux, uy, uz = (np.atleast_1d(c) for c in galactic_to_xyz(row["l"], row["b"], 1.0))
        edge = float(exit_distance(dust.shape, dust.sun_index, dust.step_pc, ux, uy, uz)[0])
        d = float(row["distance"]) if np.isfinite(row["distance"]) and row["distance"] > 0 else 0.0
        reach = self.reach or max(edge, d * 1.05)
        try:
            self.profile = sightline_profile(dust, row["l"], row["b"], reach, error_cube=self.dust_error)
        except ValueError as exc:
            self._say(str(exc), "error")

    def _profile_marks(self) -> dict[str, pd.DataFrame]:
        """The targets along the current sightline (within half a degree): their distances and A0, split
        into the current target and the others (drawn in two colours)."""
        empty = pd.DataFrame({"distance": [], "A0": [], "label": []})
        marks = {"current": empty, "others": empty}
        p: Profile | None = self.profile
        res = self.results
        if p is None or res is None or not len(res):
            return marks
        ux0 = np.array(galactic_to_xyz(float(p.l.to_value(u.deg)), float(p.b.to_value(u.deg)), 1.0))
        uxs = np.array(galactic_to_xyz(res["l"].to_numpy(float), res["b"].to_numpy(float), 1.0))
        with np.errstate(invalid="ignore"):
            along = np.flatnonzero(np.nan_to_num(ux0 @ uxs) > np.cos(np.radians(0.5)))[:50]
        dist = res["distance"].to_numpy(float)[along]
        keep = np.isfinite(dist) & (dist > 0)
        along, dist = along[keep], dist[keep]
        a0 = res["a0"].to_numpy(float)[along]
        labels = [f" {n}: A0 = {v:.3f}" if np.isfinite(v) else f" {n}" for n, v in
                  zip(res["name"].astype(str).to_numpy()[along], a0, strict=True)]
        frame = pd.DataFrame({"distance": dist, "A0": a0, "label": labels})
        is_current = along == self.current
        return {"current": frame[is_current], "others": frame[~is_current]}

    def profile_density_plot(self) -> hv.Overlay:
        """The differential A0 (mag/pc) along the current sightline, its error band, the distances of the
        targets on it and the cube's edge: always the same five layers, as a DynamicMap needs."""
        return self._profile_layers("density")

    def profile_cumulative_plot(self) -> hv.Overlay:
        """The cumulative A0 (mag) along the current sightline, its error band, the targets on it (with
        their integrated A0) and the cube's edge: always the same nine layers."""
        return self._profile_layers("A0")

    def _profile_layers(self, kind: str) -> hv.Overlay:
        p: Profile | None = self.profile
        dist_dim = hv.Dimension("distance", label="distance", unit="pc")
        if kind == "density":
            vdim = hv.Dimension("density", label="A0 density", unit="mag/pc")
            colour, band_colour = "#8d4b2a", "#8d4b2a"
        else:
            vdim = hv.Dimension("A0", label="A0", unit="mag")
            colour, band_colour = "#1d1f27", "#3f51b5"
        d = value = lo = hi = np.empty(0)
        edges: list[float] = []
        if p is not None:
            d = p.distance.to_value(u.pc)
            if kind == "density":
                value = p.density.to_value(u.mag / u.pc)
                err = None if p.density_err is None else p.density_err.to_value(u.mag / u.pc)
            else:
                value = p.cumulative.to_value(u.mag)
                err = None if p.cumulative_err is None else p.cumulative_err.to_value(u.mag)
            if err is not None:
                lo, hi = value - err, value + err
            edge = float(p.edge.to_value(u.pc))
            if edge < d[-1]:
                edges = [edge]
        marks = self._profile_marks()
        band = hv.Area((d[: lo.size], lo, hi), kdims=[dist_dim], vdims=[vdim, f"{vdim.name}_hi"]).opts(
            color=band_colour, alpha=0.25, line_alpha=0)
        curve = hv.Curve((d, value), kdims=[dist_dim], vdims=[vdim]).opts(color=colour, line_width=2,
                                                                         line_join="round", tools=["hover"])
        line = dict(line_dash="dashed", line_width=1.5)
        layers: list[Any] = [
            band, curve,
            hv.VLines(marks["others"]["distance"].to_numpy(), kdims=[dist_dim]).opts(color="#7b1fa2", **line),
            hv.VLines(marks["current"]["distance"].to_numpy(), kdims=[dist_dim]).opts(color="#ff1744", **line),
            hv.VLines(np.array(edges), kdims=[dist_dim]).opts(color="#b00020", line_width=1),
        ]
        if kind == "A0":
            for which, c in (("others", "#7b1fa2"), ("current", "#ff1744")):
                frame = marks[which]
                layers.append(hv.Points(frame, kdims=["distance", "A0"], vdims=["label"]).opts(
                    color=c, size=9, marker="diamond"))
            labelled = pd.concat([marks["others"], marks["current"]]).dropna(subset=["A0"])
            far = labelled["distance"] > 0.6 * (d[-1] if d.size else 0.0)  # labels that stay inside the frame
            for part, align in ((labelled[~far], "left"), (labelled[far], "right")):
                layers.append(hv.Labels(part, kdims=["distance", "A0"], vdims=["label"]).opts(
                    text_align=align, text_baseline="bottom", text_font_size="10pt", text_color="#4a148c"))
        if p is None:
            title = "no valid target" if kind == "density" else ""
        else:
            l0, b0 = float(p.l.to_value(u.deg)), float(p.b.to_value(u.deg))
            title = f"Sightline l = {l0:.2f}°, b = {b0:.2f}°" if kind == "density" else ""
        # on the elements, not the overlay: the annotation layer overlays the plot again, which drops
        # the options of this overlay
        frame = dict(title=title, responsive=True, height=250 if kind == "density" else 270, show_grid=True,
                     framewise=True)
        return hv.Overlay([band.opts(**frame), curve.opts(**frame), *layers[2:]])

    def profile_plot(self) -> hv.Layout:
        """Differential and cumulative A0 along the current sightline, error bands, target distances."""
        return (self.profile_density_plot() + self.profile_cumulative_plot()).cols(1).opts(shared_axes=True)

    def profile_view(self, kind: str = "A0") -> str:
        """The name annotations of the profile plot (``kind`` "A0" or "density") are stored under: it names
        the sightline, so that an annotation is drawn on the profile of that sightline only."""
        p: Profile | None = self.profile
        name = "A0 profile" if kind == "A0" else "density profile"
        if p is None:
            return name
        return f"{name}, l = {float(p.l.to_value(u.deg)):.2f}°, b = {float(p.b.to_value(u.deg)):.2f}°"

    # ---- slice --------------------------------------------------------------------------------------
    @param.depends("dust", "plane", "slice_z", "slice_l", "origin", "normal", watch=True)
    def _compute_slice(self) -> None:
        if self.dust is None:
            return
        dust = self.dust
        res = max(dust.step_pc, float(np.sqrt(np.prod(dust.shape[:2]) / 1.2e6)) * dust.step_pc)
        kind = PLANES[self.plane]
        try:
            if kind == "galactic":
                s = galactic_plane_slice(dust, self.slice_z, resolution=res)
            elif kind == "vertical":
                s = vertical_slice(dust, self.slice_l, resolution=res)
            else:
                s = plane_slice(dust, self.origin, self.normal, resolution=res)
        except ValueError as exc:
            self._say(str(exc), "error")
            return
        if not np.isfinite(s.values.value).any():
            self._say("This plane does not cross the cube.", "warning")
        self.slice = s

    def slice_image(self, widest: int = 760, tallest: int = 540) -> hv.Image:
        """The slice as an image (log10 of the density when ``log_scale``), ``widest`` x ``tallest`` pixels at
        most, with equal pc per pixel on both axes."""
        s: Slice | None = self.slice
        if s is None:
            return hv.Image([])
        vals = s.values.to_value(u.mag / u.pc).astype(float)
        if self.log_scale:
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = np.where(vals > 0, np.log10(np.where(vals > 0, vals, 1.0)), np.nan)
            vdim = hv.Dimension("log_density", label="log10 A0 density (mag/pc)")
        else:
            vdim = hv.Dimension("density", label="A0 density (mag/pc)")
        uu, vv = s.u.to_value(u.pc), s.v.to_value(u.pc)
        labels = self._slice_axis_labels()
        img = hv.Image((uu, vv, vals), kdims=[hv.Dimension("u", label=labels[0]), hv.Dimension("v", label=labels[1])],
                       vdims=[vdim])
        finite = vals[np.isfinite(vals)]
        lo, hi = (np.percentile(finite, [2, 99.8]) if finite.size else (0.0, 1.0))
        if self.log_scale:
            lo = max(lo, hi - 3.0)
        return img.opts(cmap="inferno", colorbar=True, clim=(float(lo), float(hi)), clipping_colors={"NaN": "#dcdde3"},
                        tools=["hover"], active_tools=["wheel_zoom", "pan"], title=self._slice_title(),
                        **self._frame_size(uu, vv, widest, tallest))

    @staticmethod
    def _frame_size(uu: np.ndarray, vv: np.ndarray, widest: int = 760, tallest: int = 540,
                    least: int = 200) -> dict[str, int]:
        """A frame with equal pc per pixel on both axes (within a size range), so shapes are not distorted."""
        du, dv = float(np.ptp(uu)) or 1.0, float(np.ptp(vv)) or 1.0
        height = min(tallest, widest * dv / du)
        width = min(widest, height * du / dv)
        return {"frame_width": int(max(width, least)), "frame_height": int(max(height, least))}

    def _slice_axis_labels(self) -> tuple[str, str]:
        kind = PLANES[self.plane]
        if kind == "galactic":
            return "x (pc, to the Galactic centre)", "y (pc, to l = 90°)"
        if kind == "vertical":
            return f"distance along l = {self.slice_l:g}° (pc)", "z (pc)"
        return "u (pc, in plane)", "v (pc, in plane)"

    def _slice_title(self) -> str:
        kind = PLANES[self.plane]
        if kind == "galactic":
            return f"Galactic plane at z = {self.slice_z:g} pc"
        if kind == "vertical":
            return f"Vertical plane through the Sun, l = {self.slice_l:g}° / {(self.slice_l + 180) % 360:g}°"
        return f"Plane through {tuple(self.origin)} pc, normal {tuple(self.normal)}"

    def slice_markers(self) -> hv.Overlay:
        """The Sun, the targets (stars when within two voxels of the plane, rings otherwise), the current
        target and the selected clouds: always the same six layers, as a DynamicMap needs."""
        s: Slice | None = self.slice
        kd = ["u", "v"]
        vd = ["name", "offset", "a0"]
        empty = pd.DataFrame({"u": [], "v": [], "name": [], "offset": [], "a0": []})
        sun = far = near = cur = clouds = empty
        if s is not None and self.dust is not None:
            tol = 2 * self.dust.step_pc
            su, sv, soff = s.locate(0.0, 0.0, 0.0)
            if abs(float(soff)) <= tol:
                sun = pd.DataFrame({"u": [float(su)], "v": [float(sv)], "name": ["Sun"], "offset": [float(soff)],
                                    "a0": [0.0]})
            res = self.results
            if res is not None and len(res):
                pts = res.iloc[:MAX_MARKERS]
                x, y, z = galactic_to_xyz(pts["l"].to_numpy(float), pts["b"].to_numpy(float),
                                          pts["distance"].to_numpy(float))
                pu, pv, off = s.locate(x, y, z)
                frame = pd.DataFrame({"u": pu, "v": pv, "name": pts["name"].astype(str).to_numpy(), "offset": off,
                                      "a0": pts["a0"].to_numpy(float)})
                in_plane = np.abs(frame["offset"]) <= tol
                near, far = frame[in_plane], frame[~in_plane]
                if self.current < len(frame):
                    cur = frame.iloc[[self.current]]
            rows = []
            for cid, cx, cy, cz in self._selected_cloud_xyz():
                cu, cv, coff = s.locate(cx, cy, cz)
                rows.append({"u": float(cu), "v": float(cv), "name": f"   cloud {cid}", "offset": float(coff), "a0": np.nan})
            if rows:
                clouds = pd.DataFrame(rows)
        layers = [
            hv.Points(sun, kd, vd).opts(color="#ffd600", marker="circle", size=10, line_color="black"),
            hv.Points(far, kd, vd).opts(color="#00e5ff", alpha=0.6, size=6, marker="circle", fill_alpha=0,
                                        tools=["hover"]),
            hv.Points(near, kd, vd).opts(color="#00e5ff", size=12, marker="star", line_color="black", tools=["hover"]),
            hv.Points(cur, kd, vd).opts(color="#ff1744", size=18, marker="star", line_color="white", tools=["hover"]),
            hv.Points(clouds, kd, vd).opts(color="#76ff03", marker="square_x", size=20, fill_alpha=0, line_width=3,
                                           tools=["hover"]),
            hv.Labels(clouds, kd, ["name"]).opts(text_color="#76ff03", text_align="left",
                                                 text_font_size="11pt", text_font_style="bold"),
        ]
        return hv.Overlay([layer.opts(apply_ranges=False) if isinstance(layer, hv.Points) else layer
                           for layer in layers])

    def through_target(self, *_: Any) -> None:
        """Put the plane through the current target (its height z, its longitude, or as origin)."""
        row = self._current_row()
        if row is None:
            self._say("No valid target to put the plane through.", "warning")
            return
        x, y, z = (float(c) for c in galactic_to_xyz(row["l"], row["b"], row["distance"]))
        kind = PLANES[self.plane]
        if kind == "galactic":
            self.slice_z = round(z, 3)
        elif kind == "vertical":
            self.slice_l = float(row["l"])
        else:
            self.origin = (round(x, 3), round(y, 3), round(z, 3))

    # ---- sky map ------------------------------------------------------------------------------------
    @param.depends("dust", "sky_distance", "nside", watch=True)
    def _compute_skymap(self) -> None:
        if self.dust is None:
            return
        try:
            self.skymap = sky_map(self.dust, self.sky_distance, nside=int(self.nside))
        except ValueError as exc:
            self._say(str(exc), "error")

    def sky_image(self, width: int = 760) -> hv.Overlay:
        """The Mollweide image of the sky map (Galactic, l = 0 at the centre, increasing to the left), in a
        frame ``width`` pixels wide and half as high."""
        m: SkyMap | None = self.skymap
        bounds = (-2 * SQRT2, -SQRT2, 2 * SQRT2, SQRT2)
        frame = dict(frame_width=width, frame_height=width // 2)
        if m is None:
            return hv.Image(np.full((2, 2), np.nan), bounds=bounds).opts(**frame)
        image, inside = mollweide_image(m, width=720)
        finite = image[np.isfinite(image)]
        hi = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        img = hv.Image(image, bounds=bounds, kdims=["mx", "my"],
                       vdims=[hv.Dimension("A0", label=f"A0 to {m.distance.to_value(u.pc):g} pc", unit="mag")])
        # grey: sightlines that leave the cube before the distance (flagged, not extrapolated)
        beyond = hv.Image(np.where(inside & ~np.isfinite(image), 1.0, np.nan), bounds=bounds, kdims=["mx", "my"],
                          vdims=["beyond_cube"]).opts(cmap=["#9e9e9e"], clipping_colors={"NaN": "#00000000"},
                                                      colorbar=False, tools=[], **frame)
        return beyond * img.opts(cmap="inferno", colorbar=True, clim=(0.0, max(hi, 1e-6)), clipping_colors={"NaN": "#00000000"},
                        xaxis=None, yaxis=None, tools=["hover"], **frame,
                        active_tools=["wheel_zoom", "pan"],
                        title=f"A0 integrated to {m.distance.to_value(u.pc):g} pc (Galactic Mollweide, l = 0 at centre)")

    def sky_markers(self) -> hv.Overlay:
        """Graticule, targets, the current target and the selected clouds (a fixed set of layers)."""
        kd = ["mx", "my"]
        vd = ["name", "distance", "a0"]
        empty = pd.DataFrame({"mx": [], "my": [], "name": [], "distance": [], "a0": []})
        layers: list[Any] = []
        for lon in (-120, -60, 0, 60, 120, 180):
            bb = np.linspace(-90, 90, 61)
            mx, my = mollweide_xy(np.full_like(bb, lon), bb)
            layers.append(hv.Curve((mx, my), "mx", "my").opts(color="white", alpha=0.3, line_width=1))
        for lat in (-60, -30, 0, 30, 60):
            ll = np.linspace(-179.999, 179.999, 121)
            mx, my = mollweide_xy(ll, np.full_like(ll, lat))
            layers.append(hv.Curve((mx, my), "mx", "my").opts(color="white", alpha=0.3, line_width=1))
        targets = cur = clouds = empty
        res = self.results
        if res is not None and len(res):
            pts = res.iloc[:MAX_MARKERS]
            mx, my = mollweide_xy(pts["l"].to_numpy(float), pts["b"].to_numpy(float))
            targets = pd.DataFrame({"mx": mx, "my": my, "name": pts["name"].astype(str).to_numpy(),
                                    "distance": pts["distance"].to_numpy(float), "a0": pts["a0"].to_numpy(float)})
            if self.current < len(targets):
                cur = targets.iloc[[self.current]]
        rows = []
        if self.clouds is not None:
            table = self.clouds.set_index("id")
            for cid, *_xyz in self._selected_cloud_xyz():
                mx, my = mollweide_xy(table.loc[cid, "l"], table.loc[cid, "b"])
                rows.append({"mx": float(mx), "my": float(my), "name": f"   cloud {cid}",
                             "distance": float(table.loc[cid, "distance"]), "a0": np.nan})
        if rows:
            clouds = pd.DataFrame(rows)
        layers += [
            hv.Points(targets, kd, vd).opts(color="#00e5ff", size=7, marker="circle", fill_alpha=0.3, tools=["hover"]),
            hv.Points(cur, kd, vd).opts(color="#ff1744", size=18, marker="star", line_color="white", tools=["hover"]),
            hv.Points(clouds, kd, vd).opts(color="#76ff03", marker="square_x", size=20, fill_alpha=0, line_width=3,
                                           tools=["hover"]),
            hv.Labels(clouds, kd, ["name"]).opts(text_color="#76ff03", text_align="left", text_font_size="11pt",
                                                 text_font_style="bold"),
        ]
        return hv.Overlay([layer.opts(apply_ranges=False) for layer in layers])

    # ---- clouds -------------------------------------------------------------------------------------
    @param.depends("dust", "cloud_threshold", "min_cloud_size", watch=True)
    def _compute_clouds(self) -> None:
        if self.dust is None:
            return
        try:
            finder = CloudFinder(self.cloud_threshold, min_cluster_size=self.min_cloud_size, max_voxels=60_000)
            finder.fit(self.dust)
        except ValueError as exc:
            self._say(str(exc), "warning")
            return
        self._finder = finder
        with param.parameterized.batch_call_watchers(self):
            self.selected_clouds = []
            self.clouds = finder.clouds_.to_pandas()

    def _selected_cloud_xyz(self) -> list[tuple[int, float, float, float]]:
        if self.clouds is None or not self.selected_clouds:
            return []
        table = self.clouds.set_index("id")
        return [(int(c), float(table.loc[c, "x"]), float(table.loc[c, "y"]), float(table.loc[c, "z"]))
                for c in self.selected_clouds if c in table.index]

    # ---- volume -------------------------------------------------------------------------------------
    @param.depends("dust", "volume_centre", "volume_half", watch=True)
    def _compute_volume(self) -> None:
        if self.dust is None:
            return
        dust = self.dust
        idx = dust.to_index(*self.volume_centre)
        half = self.volume_half / dust.step_pc
        sl = []
        for c, n in zip(idx, dust.shape, strict=True):
            lo = int(np.clip(np.floor(c - half), 0, n - 1))
            hi = int(np.clip(np.ceil(c + half), 0, n - 1))
            sl.append(slice(lo, max(hi, lo + 1) + 1))
        stride = max(1, int(np.ceil(max(s.stop - s.start for s in sl) / VOLUME_MAX_AXIS)))
        block = dust.subcube(*(slice(s.start, s.stop, stride) for s in sl)).astype(np.float32)
        origin = tuple((s.start - si) * dust.step_pc for s, si in zip(sl, dust.sun_index, strict=True))
        self.volume = (block, origin, dust.step_pc * stride)

    def volume_to_cloud(self, *_: Any) -> None:
        """Centre the volume on the first selected cloud (else on the current target)."""
        clouds = self._selected_cloud_xyz()
        if clouds:
            _, x, y, z = clouds[0]
            row = self.clouds.set_index("id").loc[clouds[0][0]]
            half = float(max(row["extent_x"], row["extent_y"], row["extent_z"])) * 1.5
            with param.parameterized.batch_call_watchers(self):
                self.volume_half = max(half, 4 * self.dust.step_pc)
                self.volume_centre = (x, y, z)
            return
        row = self._current_row()
        if row is not None:
            self.volume_centre = tuple(round(float(c), 2) for c in galactic_to_xyz(row["l"], row["b"], row["distance"]))

    def volume_slices(self) -> hv.Layout:
        """Three orthogonal slices through the centre of the volume (the view without WebGL)."""
        return (self.volume_slice("xy") + self.volume_slice("xz") + self.volume_slice("yz")).cols(3)

    def volume_slice(self, axes: str) -> hv.Image:
        """The slice of the volume through its centre in the ``axes`` plane ("xy", "xz" or "yz")."""
        i, j = "xyz".index(axes[0]), "xyz".index(axes[1])
        k = 3 - i - j
        vd = ["log_density" if self.log_scale else "density"]
        if self.volume is None:
            return hv.Image([], list(axes), vd)
        block, origin, step = self.volume
        coords = [origin[n] + np.arange(block.shape[n]) * step for n in range(3)]
        mid = block.shape[k] // 2
        vals = np.log10(np.clip(block, 1e-7, None)) if self.log_scale else block
        plane = np.take(vals, mid, axis=k).T  # (along j, along i): rows are the vertical axis
        # a frame of equal pc per pixel sized from the extents (data_aspect would lose the aspect when the
        # annotations drawn on the slice change)
        return hv.Image((coords[i], coords[j], plane), list(axes), vd).opts(
            title=f"{'xyz'[k]} = {coords[k][mid]:g} pc", cmap="inferno", tools=["hover"], framewise=True,
            **self._frame_size(coords[i], coords[j], widest=220, tallest=220, least=70))

    # ---- export -------------------------------------------------------------------------------------
    def export(self, what: str, fmt: str) -> str:
        """Write the current profile / slice / sky map / clouds / targets to the workspace.

        Parameters
        ----------
        what : {"profile", "slice", "skymap", "clouds", "targets"}
        fmt : {"CSV", "FITS", "PNG", "ECSV"}

        Returns
        -------
        str
            The workspace path written (in :attr:`export_folder`).
        """
        data, suffix = self._export_bytes(what, fmt)
        folder = (self.export_folder or self.session.home()).strip("/")
        path = f"{folder}/gtomo_{what}_{_stamp()}{suffix}"
        written = self.session.write_bytes(path, data)
        self._say(f"Saved the {what} to {written}.", "success")
        return written

    def _export_bytes(self, what: str, fmt: str) -> tuple[bytes, str]:
        suffix = {"CSV": ".csv", "FITS": ".fits", "PNG": ".png", "ECSV": ".ecsv"}[fmt]
        tmp = pathlib.Path(self._tmp.name)
        if what == "profile":
            if self.profile is None:
                raise ValueError("no profile to export: add a valid target")
            if fmt == "PNG":
                from .plots import plot_profile

                return plot_profile(self.profile, tmp / "profile.png").read_bytes(), suffix
            return _table_bytes(self.profile.to_table(), fmt), suffix
        if what == "slice":
            return self._slice_bytes(fmt, tmp), suffix
        if what == "skymap":
            if self.skymap is None:
                raise ValueError("no sky map to export")
            if fmt == "FITS":
                return self.skymap.write(tmp / "sky.fits").read_bytes(), suffix
            if fmt == "PNG":
                from .plots import plot_sky_map

                return plot_sky_map(self.skymap, tmp / "sky.png").read_bytes(), suffix
            lon, lat = self.skymap.healpix.healpix_to_lonlat(np.arange(self.skymap.healpix.npix))
            t = Table({"pixel": np.arange(lon.size), "l": lon.to(u.deg), "b": lat.to(u.deg), "a0": self.skymap.a0,
                       "flag": self.skymap.flag})
            t.meta.update(nside=self.skymap.nside, order=self.skymap.order,
                          distance_pc=float(self.skymap.distance.to_value(u.pc)))
            return _table_bytes(t, fmt), suffix
        if what in ("clouds", "targets"):
            frame = self.clouds if what == "clouds" else self.results
            if frame is None or not len(frame):
                raise ValueError(f"no {what} to export")
            if fmt == "PNG":
                raise ValueError(f"the {what} table exports as CSV, ECSV or FITS")
            return _table_bytes(Table.from_pandas(frame), fmt), suffix
        raise ValueError(f"unknown product {what!r}")

    def _slice_bytes(self, fmt: str, tmp: pathlib.Path) -> bytes:
        s: Slice | None = self.slice
        if s is None:
            raise ValueError("no slice to export")
        vals = s.values.to_value(u.mag / u.pc)
        uu, vv = s.u.to_value(u.pc), s.v.to_value(u.pc)
        if fmt == "FITS":
            from astropy.io import fits

            hdu = fits.PrimaryHDU(vals.astype(np.float32))
            h = hdu.header
            h["BUNIT"] = "mag/pc"
            for axis, values, name in ((1, uu, "U"), (2, vv, "V")):
                h[f"CTYPE{axis}"] = name
                h[f"CUNIT{axis}"] = "pc"
                h[f"CRPIX{axis}"] = 1.0
                h[f"CRVAL{axis}"] = float(values[0])
                h[f"CDELT{axis}"] = float(values[1] - values[0]) if values.size > 1 else 1.0
            for i, c in enumerate("XYZ"):
                h[f"ORIGIN{c}"] = (float(s.origin.to_value(u.pc)[i]), "pc, heliocentric Galactic")
                h[f"NORMAL{c}"] = float(s.normal[i])
                h[f"E_U_{c}"] = float(s.e_u[i])
                h[f"E_V_{c}"] = float(s.e_v[i])
            buf = io.BytesIO()
            hdu.writeto(buf)
            return buf.getvalue()
        if fmt == "PNG":
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
            from matplotlib.colors import LogNorm

            fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
            positive = vals[np.isfinite(vals) & (vals > 0)]
            norm = LogNorm(vmin=max(positive.max() * 1e-3, positive.min()), vmax=positive.max()) \
                if self.log_scale and positive.size else None
            im = ax.imshow(vals, origin="lower", extent=s.extent, cmap="inferno", norm=norm, interpolation="nearest")
            fig.colorbar(im, ax=ax, label="A0 density (mag/pc)")
            labels = self._slice_axis_labels()
            ax.set_xlabel(labels[0])
            ax.set_ylabel(labels[1])
            ax.set_title(self._slice_title())
            fig.tight_layout()
            fig.savefig(tmp / "slice.png")
            plt.close(fig)
            return (tmp / "slice.png").read_bytes()
        x, y, z = (c.to_value(u.pc) for c in s.xyz())
        uu2, vv2 = np.meshgrid(uu, vv)
        t = Table({"u": uu2.ravel(), "v": vv2.ravel(), "x": x.ravel(), "y": y.ravel(), "z": z.ravel(),
                   "density": vals.ravel()})
        t["density"].unit = u.mag / u.pc
        return _table_bytes(t, fmt)

    # ---- annotations --------------------------------------------------------------------------------
    # The plots follow the state through the annotation kit: each view name below is a param.depends
    # method (the kit draws, and stores new annotations under, the name it gives at each moment), and the
    # positions_* methods place the annotated objects on a plot (the kit redraws when their parameters
    # change). Objects are named "target <name>" (a row of the targets) and "cloud <id>" (a row of the
    # clouds table of the detection in use).

    @param.depends("slice")
    def slice_view(self) -> str:
        """The name annotations of the slice are stored under: it names the plane, so that an annotation is
        drawn on the slice through that plane only (e.g. "slice, Galactic plane at z = 0 pc")."""
        return f"slice, {self._slice_title()}"

    @param.depends("profile")
    def density_view(self) -> str:
        """The view of the density profile's annotations: the profile of the sightline shown."""
        return self.profile_view("density")

    @param.depends("profile")
    def a0_view(self) -> str:
        """The view of the cumulative (A0) profile's annotations: the profile of the sightline shown."""
        return self.profile_view("A0")

    @param.depends("clouds")
    def clouds_view(self) -> str:
        """The name annotations of the clouds table are stored under: it names the detection (threshold and
        smallest cloud), whose ids the annotated clouds are (e.g. "clouds, density > 0.005 mag/pc, ≥ 20
        voxels")."""
        finder = self._finder
        threshold, size = ((finder.threshold, finder.min_cluster_size) if finder is not None
                           else (self.cloud_threshold, self.min_cloud_size))
        threshold = threshold.to_value(u.mag / u.pc) if isinstance(threshold, u.Quantity) else threshold
        return f"clouds, density > {float(threshold):g} mag/pc, ≥ {int(size)} voxels"

    @param.depends("results", "current")
    def target_objects(self) -> list[str]:
        """The current target as an annotation's object (``["target <name>"]``; none without a valid one)."""
        row = self._current_row()
        return [] if row is None else [f"target {row['name']}"]

    @param.depends("selected_clouds")
    def cloud_objects(self) -> list[str]:
        """The ticked clouds as an annotation's objects (``"cloud <id>"``)."""
        return [f"cloud {c}" for c in self.selected_clouds]

    @param.depends("selected_clouds", "results", "current")
    def marked_objects(self) -> list[str]:
        """What the slice, the sky map and the volume mark: the ticked clouds, else the current target."""
        return self.cloud_objects() or self.target_objects()

    def objects_lbd(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Galactic l, b (deg) and distance (pc) of annotated objects, NaN for ids that are not among the
        current targets or clouds.

        Example
        -------
        >>> view.objects_lbd(["target behind Taurus", "cloud 0", "cloud 999"])   # doctest: +SKIP
        (array([173. , 159.6, nan]), array([-15. , -18.5, nan]), array([300. , 140.2, nan]))
        """
        out = np.full((3, len(ids)), np.nan)
        res = self.results
        rows: dict[str, int] = {}
        if res is not None:
            for i, name in enumerate(res["name"].astype(str)):
                rows.setdefault(name, i)
        clouds = self.clouds.set_index("id") if self.clouds is not None else None
        for i, oid in enumerate(ids):
            kind, _, key = str(oid).partition(" ")
            if kind == "target" and key in rows:
                out[:, i] = res.iloc[rows[key]][["l", "b", "distance"]].to_numpy(float)
            elif kind == "cloud" and clouds is not None and key.lstrip("-").isdigit() and int(key) in clouds.index:
                out[:, i] = clouds.loc[int(key), ["l", "b", "distance"]].to_numpy(float)
        return out[0], out[1], out[2]

    def _objects_xyz(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.asarray(c, dtype=float) for c in galactic_to_xyz(*self.objects_lbd(ids)))

    @param.depends("slice", "results", "clouds")
    def positions_on_slice(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where objects lie on the slice shown: (u, v) in pc of their projection on the plane."""
        s: Slice | None = self.slice
        if s is None:
            return np.full(len(ids), np.nan), np.full(len(ids), np.nan)
        uu, vv, _ = s.locate(*self._objects_xyz(ids))
        return np.atleast_1d(uu), np.atleast_1d(vv)

    @param.depends("results", "clouds")
    def positions_on_sky(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where objects lie on the sky map: the Mollweide (mx, my) of their direction."""
        l_deg, b_deg, _ = self.objects_lbd(ids)
        return mollweide_xy(l_deg, b_deg)

    @param.depends("profile", "results", "clouds")
    def positions_on_density(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where objects lie on the density profile: at their distance, on the curve (those off the
        sightline, by more than half a degree, are not on it)."""
        return self._positions_on_profile(ids, "density")

    @param.depends("profile", "results", "clouds")
    def positions_on_a0(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where objects lie on the A0 profile: at their distance, on the curve (the integrated A0 there)."""
        return self._positions_on_profile(ids, "A0")

    def _positions_on_profile(self, ids: list[str], kind: str) -> tuple[np.ndarray, np.ndarray]:
        nowhere = np.full(len(ids), np.nan)
        p: Profile | None = self.profile
        if p is None:
            return nowhere, nowhere.copy()
        l_deg, b_deg, dist = self.objects_lbd(ids)
        ux0 = np.array(galactic_to_xyz(float(p.l.to_value(u.deg)), float(p.b.to_value(u.deg)), 1.0))
        with np.errstate(invalid="ignore"):
            on_it = np.nan_to_num(ux0 @ np.array(galactic_to_xyz(l_deg, b_deg, 1.0))) > np.cos(np.radians(0.5))
        d = p.distance.to_value(u.pc)
        values = p.density.to_value(u.mag / u.pc) if kind == "density" else p.cumulative.to_value(u.mag)
        inside = on_it & (dist >= d[0]) & (dist <= d[-1])
        x = np.where(inside, dist, np.nan)
        return x, np.where(inside, np.interp(np.nan_to_num(dist), d, values), np.nan)

    def _positions_in_volume(self, axes: str) -> Callable[[list[str]], tuple[np.ndarray, np.ndarray]]:
        """Where objects lie on the volume's slice through the ``axes`` ("xy", "xz", "yz") plane."""
        i, j = "xyz".index(axes[0]), "xyz".index(axes[1])

        @param.depends(self.param.results, self.param.clouds)
        def positions(ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
            xyz = self._objects_xyz(ids)
            return np.atleast_1d(xyz[i]), np.atleast_1d(xyz[j])

        return positions

    def volume_region(self) -> dict[str, Any] | None:
        """The region a volume annotation stores: the sub-cube shown (its x, y and z ranges in pc, drawn as a
        box on the three slices), its centre and half size, the positions of the three slices, the colour
        scale, the camera when the browser has reported it, and the clouds detection when clouds are
        attached (their ids are that detection's)."""
        if self.volume is None:
            return None
        block, origin, step = self.volume
        ranges = {axis: [float(origin[i] - step / 2), float(origin[i] + (block.shape[i] - 0.5) * step)]
                  for i, axis in enumerate("xyz")}
        region: dict[str, Any] = {
            "type": "box", "ranges": ranges, "unit": "pc",
            "centre": [float(c) for c in self.volume_centre], "half_size": float(self.volume_half),
            "slices": {axis: float(origin[i] + (block.shape[i] // 2) * step) for i, axis in enumerate("xyz")},
            "log_scale": bool(self.log_scale),
        }
        if self.volume_camera:
            region["camera"] = {k: v for k, v in self.volume_camera.items()
                                if k in ("position", "focalPoint", "viewUp", "viewAngle", "parallelScale")}
        if self.selected_clouds:
            region["clouds"] = self.clouds_view()
        return region

    def show_volume(self, record: AnnotationRecord) -> None:
        """Bring back what a volume annotation was made on: its sub-cube, colour scale and camera, on
        the Volume tab (the *Show* button of the annotation list)."""
        region = record.region or {}
        if "centre" not in region or "half_size" not in region:
            raise ValueError(f"“{record.title}” stores no sub-cube to show")
        self.param.update(volume_centre=tuple(float(c) for c in region["centre"]),
                          volume_half=float(region["half_size"]),
                          log_scale=bool(region.get("log_scale", self.log_scale)))
        camera = region.get("camera")
        if camera and self._vtk is not None:
            self._vtk.camera = {**(self._vtk.camera or {}), **camera}
        if self._tabs is not None:
            self._tabs.active = TAB_TITLES.index("Volume")

    # ---- the layout ---------------------------------------------------------------------------------
    def _w(self, name: str, widget: Any) -> Any:
        self._widgets[name] = widget
        return widget

    def _export_row(self, what: str, formats: list[str]) -> pn.Row:
        fmt = pmui.Select(label="Format", options=formats, value=formats[0], width=110)
        button = pmui.Button(label=f"Export {what}", icon="save_alt", variant="outlined")

        def go(_: Any) -> None:
            try:
                self.export(what, fmt.value)
            except (ValueError, PermissionError, FileNotFoundError, OSError) as exc:
                self._say(f"Could not export the {what}: {exc}", "error")

        button.on_click(go)
        return pn.Row(fmt, button, align="center")

    def _target_panel(self) -> pn.Column:
        frame = pmui.RadioButtonGroup.from_param(self.param.frame, size="small")
        lon = pmui.FloatInput.from_param(self.param.lon, width=138)
        lat = pmui.FloatInput.from_param(self.param.lat, width=138)
        dist = pmui.FloatInput.from_param(self.param.distance, sizing_mode="stretch_width")

        def relabel(event: Any) -> None:
            icrs = event.new == "ICRS"
            lon.label, lat.label = ("ra (deg)", "dec (deg)") if icrs else ("l (deg)", "b (deg)")

        self.param.watch(relabel, "frame")
        add = pmui.Button(label="Add target", icon="add_location", variant="contained", on_click=self.add_target)
        name = pmui.TextInput.from_param(self.param.object_name, placeholder="e.g. rho Oph")
        resolve = pmui.Button(label="Resolve name", icon="travel_explore", variant="outlined", on_click=self.resolve)
        table = self._w("table_file", pmui.Select.from_param(self.param.table_file, searchable=True))
        load = pmui.Button(label="Load table", icon="table_view", variant="outlined", on_click=self.load_workspace_table)
        upload = pmui.FileInput(label="Upload a table", accept=",".join(TABLE_SUFFIXES), variant="outlined")

        def uploaded(_: Any) -> None:
            if upload.value:
                self.load_upload(upload.value, upload.filename or "upload.csv")

        upload.param.watch(uploaded, "value")
        return pn.Column(
            pmui.Typography("Targets", variant="subtitle1"), frame, pn.Row(lon, lat), dist, add,
            pmui.Divider(), name, resolve, pmui.Divider(), table, pn.Row(load, upload),
            sizing_mode="stretch_width",
        )

    def _targets_table(self) -> pn.widgets.Tabulator:
        table = pn.widgets.Tabulator(pd.DataFrame(), selectable=1, disabled=True, show_index=False, pagination="local",
                                     page_size=8, sizing_mode="stretch_width", theme="materialize", height=300,
                                     layout="fit_data_fill")

        def update(*_: Any) -> None:
            res = self.results
            if res is None:
                return
            shown = res.drop(columns=["flag"]).round({"l": 3, "b": 3, "distance": 1, "a0": 4, "a0_err": 4})
            table.value = shown
            if len(shown):
                table.selection = [min(self.current, len(shown) - 1)]

        def chosen(event: Any) -> None:
            if event.new:
                self.current = int(event.new[0])

        self.param.watch(update, "results")
        table.param.watch(chosen, "selection")
        update()
        return table

    def _clouds_table(self) -> pn.widgets.Tabulator:
        table = pn.widgets.Tabulator(pd.DataFrame(), selectable="checkbox", disabled=True, show_index=False,
                                     pagination="local", page_size=10, sizing_mode="stretch_width",
                                     theme="materialize", layout="fit_data_fill")

        def update(*_: Any) -> None:
            if self.clouds is None:
                return
            cols = ["id", "n_voxels", "mass_proxy", "peak_density", "distance", "l", "b", "x", "y", "z",
                    "extent_x", "extent_y", "extent_z"]
            shown = self.clouds[cols].copy()
            table.value = shown.round({"mass_proxy": 3, "peak_density": 4, "distance": 1, "l": 2, "b": 2, "x": 1,
                                       "y": 1, "z": 1})
            table.selection = [i for i, c in enumerate(shown["id"]) if c in self.selected_clouds]

        def chosen(event: Any) -> None:
            if self.clouds is not None:
                ids = self.clouds["id"].to_numpy()
                self.selected_clouds = [int(ids[i]) for i in event.new if i < len(ids)]

        self.param.watch(update, "clouds")
        table.param.watch(chosen, "selection")
        update()
        return table

    def _batch_dialog(self) -> tuple[pmui.Button, pmui.Dialog]:
        text = pn.pane.Markdown(sizing_mode="stretch_width")
        go = pmui.Button(label="Go to Applications", icon="apps", href="/apps", variant="contained")
        dialog = pmui.Dialog(text, go, title="Run on a large target list", show_close_button=True, width_option="md")

        def show(_: Any) -> None:
            params = {"cube": self.cube, "targets": None if self.table_file in (None, NONE) else self.table_file,
                      "error_cube": None if self.error_cube in (None, NONE) else self.error_cube,
                      "law": "G23", "rv": 3.1, "bands": ["E(B-V)", "V", "G"]}
            text.object = (
                "The view computes the extinction of the targets you enter here at once. For thousands to "
                "millions of targets, run G-Tomo as a **batch job**: it runs close to the data, shows its progress "
                "and can be stopped in **Runs**, and writes its results into a new folder `gtomo_<date>` of "
                "**My Files** (`targets_extinction.parquet/.fits/.csv` with `a0`, `a0_err`, E(B-V), A_V, A_G and "
                "a `flag` per row, an A0-distance figure, optionally a sky map and a clouds table, with "
                "`params.json` and `provenance.json`).\n\n"
                "1. Put your table in **My Files** (CSV, ECSV, FITS or Parquet with `l`, `b` or `ra`, `dec` in "
                "degrees and `distance` in pc).\n"
                "2. On the **Applications** page, open G-Tomo's **RUN** panel and choose these parameters:\n\n"
                f"```json\n{json.dumps(params, indent=2)}\n```\n\n"
                "The same run from the command line: `explore gtomo extinction --cube CUBE.h5 --targets TABLE "
                "--out OUT`."
            )
            dialog.open = True

        button = pmui.Button(label="Run on a large target list", icon="playlist_play", variant="outlined",
                             on_click=show)
        return button, dialog

    def __panel__(self) -> pn.viewable.Viewable:
        pn.extension("vtk", "tabulator")  # the volume pane's vtk.js, loaded with the page (the tab itself is built lazily)
        # ---- sidebar: cube and targets
        cube = self._w("cube", pmui.Select.from_param(self.param.cube, searchable=True, sizing_mode="stretch_width"))
        err = self._w("error_cube", pmui.Select.from_param(self.param.error_cube, sizing_mode="stretch_width"))
        refresh = pmui.Button(label="Refresh file list", icon="refresh", variant="text", on_click=self.refresh_files)
        sidebar = pmui.Paper(
            pmui.Typography("Cube", variant="subtitle1"), cube, err, refresh, pmui.Divider(), self._target_panel(),
            width=340, margin=(0, 10, 0, 0), elevation=2, sx={"padding": "12px"},
        )
        alert = pmui.Alert(object=self.param.message, severity=self.param.severity, closeable=False,
                           sizing_mode="stretch_width", visible=self.param.message.rx.bool())

        # ---- profile tab: each plot with its Annotate button, on the annotations of the sightline shown
        density = self.notes.wrap(hv.DynamicMap(pn.bind(lambda *_: self.profile_density_plot(), self.param.profile)),
                                  view=self.density_view, x="distance", y="density", objects=self.target_objects,
                                  positions=self.positions_on_density)
        cumulative = self.notes.wrap(hv.DynamicMap(pn.bind(lambda *_: self.profile_cumulative_plot(),
                                                           self.param.profile)),
                                     view=self.a0_view, x="distance", y="A0", objects=self.target_objects,
                                     positions=self.positions_on_a0)
        profile_pane = pn.Column(density, cumulative, sizing_mode="stretch_width", min_height=560)
        self.annotated.update(density=density, A0=cumulative)
        profile_tab = pn.Row(
            pn.Column(pmui.Typography("Targets (select one for its profile)", variant="subtitle2"),
                      self._targets_table(),
                      pn.Row(pmui.FloatInput.from_param(self.param.reach, width=230),
                             pmui.Button(label="Clear targets", icon="delete_sweep", variant="text",
                                         on_click=self.clear_targets)),
                      self._export_row("targets", ["CSV", "FITS", "ECSV"]),
                      width=430),
            pn.Column(profile_pane, self._export_row("profile", ["CSV", "FITS", "PNG"]), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

        # ---- slice tab
        slice_plot = hv.DynamicMap(pn.bind(lambda *_: self.slice_image(), self.param.slice, self.param.log_scale))
        slice_marks = hv.DynamicMap(pn.bind(lambda *_: self.slice_markers(), self.param.slice, self.param.results,
                                            self.param.current, self.param.selected_clouds))
        slice_pane = self.notes.wrap((slice_plot * slice_marks).opts(framewise=True), view=self.slice_view,
                                     x="u", y="v", objects=self.marked_objects, positions=self.positions_on_slice)
        self.annotated["slice"] = slice_pane
        z = pmui.FloatInput.from_param(self.param.slice_z, width=110)
        lon = pmui.FloatInput.from_param(self.param.slice_l, width=110)
        origin = pmui.LiteralInput.from_param(self.param.origin, width=190)
        normal = pmui.LiteralInput.from_param(self.param.normal, width=150)

        def show_plane_inputs(*_: Any) -> None:
            kind = PLANES[self.plane]
            z.visible, lon.visible = kind == "galactic", kind == "vertical"
            origin.visible = normal.visible = kind == "any"

        self.param.watch(show_plane_inputs, "plane")
        show_plane_inputs()
        slice_controls = pn.Row(
            pmui.Select.from_param(self.param.plane, width=330), z, lon, origin, normal,
            pmui.Button(label="Through the target", icon="my_location", variant="text", on_click=self.through_target),
            pmui.Switch.from_param(self.param.log_scale), sizing_mode="stretch_width",
        )
        slice_tab = pn.Column(slice_controls, slice_pane, self._export_row("slice", ["FITS", "PNG", "CSV"]),
                              sizing_mode="stretch_width")

        # ---- sky tab
        sky_plot = hv.DynamicMap(pn.bind(lambda *_: self.sky_image(), self.param.skymap))
        sky_marks = hv.DynamicMap(pn.bind(lambda *_: self.sky_markers(), self.param.results, self.param.current,
                                          self.param.selected_clouds))
        sky_pane = self.notes.wrap((sky_plot * sky_marks).opts(framewise=True), view=SKY_VIEW, x="mx", y="my",
                                   objects=self.marked_objects, positions=self.positions_on_sky)
        self.annotated["sky"] = sky_pane
        top = 3000.0
        if self.dust is not None:
            top = float(np.abs(self.dust.extent.to_value(u.pc)).max() * np.sqrt(3))
        slider = pmui.FloatSlider(label="Distance (pc)", start=10.0, end=round(top, -1), step=10.0,
                                  value=self.sky_distance, sizing_mode="stretch_width")
        slider.param.watch(lambda e: setattr(self, "sky_distance", float(e.new)), "value_throttled")
        self.param.watch(lambda e: setattr(slider, "value", e.new), "sky_distance")
        sky_tab = pn.Column(
            pn.Row(slider, pmui.Select.from_param(self.param.nside, width=140), sizing_mode="stretch_width"),
            sky_pane,
            pmui.Typography("Grey: sightlines that leave the cube before this distance (flagged, never "
                            "extrapolated). Scroll to zoom, drag to pan; hover for A0.", variant="body2"),
            self._export_row("skymap", ["FITS", "PNG", "CSV"]), sizing_mode="stretch_width",
        )

        # ---- clouds tab: the table (with its Annotate button) above small linked maps, which draw the
        # annotations of the slice and the sky map and the clouds annotated from the table
        clouds_controls = pn.Row(
            pmui.FloatInput.from_param(self.param.cloud_threshold, width=200, step=0.001),
            pmui.IntInput.from_param(self.param.min_cloud_size, width=170),
            self._export_row("clouds", ["CSV", "FITS", "ECSV"]),
        )
        clouds_table = self.notes.wrap(self._clouds_table(), view=self.clouds_view, objects=self.cloud_objects)
        self.annotated["clouds"] = clouds_table
        small_slice = pn.pane.HoloViews((hv.DynamicMap(pn.bind(lambda *_: self.slice_image(340, 300), self.param.slice,
                                                               self.param.log_scale))
                                         * hv.DynamicMap(pn.bind(lambda *_: self.slice_markers(), self.param.slice,
                                                                 self.param.results, self.param.current,
                                                                 self.param.selected_clouds))
                                         * self._drawn("slice", self.slice_view, "u", "v", self.positions_on_slice)
                                         * self._drawn("clouds on slice", self.clouds_view, "u", "v",
                                                       self.positions_on_slice)).opts(framewise=True),
                                        sizing_mode="stretch_width", min_height=380)
        small_sky = pn.pane.HoloViews((hv.DynamicMap(pn.bind(lambda *_: self.sky_image(330), self.param.skymap))
                                       * hv.DynamicMap(pn.bind(lambda *_: self.sky_markers(), self.param.results,
                                                               self.param.current, self.param.selected_clouds))
                                       * self._drawn("sky", SKY_VIEW, "mx", "my", self.positions_on_sky)
                                       * self._drawn("clouds on sky", self.clouds_view, "mx", "my",
                                                     self.positions_on_sky)).opts(framewise=True),
                                      sizing_mode="stretch_width", min_height=300)
        clouds_tab = pn.Column(
            clouds_controls,
            pmui.Typography("Tick clouds to mark them on the slice and the sky map (here and in their tabs); "
                            "Annotate attaches the ticked clouds, drawn as green rings on the maps below.",
                            variant="body2"),
            clouds_table, pn.Row(small_slice, small_sky, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

        # ---- volume tab (tabs are dynamic: the browser builds a tab's plots when it is first shown)
        tabs = pmui.Tabs((TAB_TITLES[0], profile_tab), (TAB_TITLES[1], slice_tab), (TAB_TITLES[2], sky_tab),
                         (TAB_TITLES[3], self._volume_tab()), (TAB_TITLES[4], clouds_tab), sizing_mode="stretch_width",
                         dynamic=True)
        self._tabs = tabs
        batch_button, batch_dialog = self._batch_dialog()
        actions = pn.Row(batch_button, pn.layout.HSpacer(),
                         pmui.TextInput.from_param(self.param.export_folder, width=280), sizing_mode="stretch_width")
        main = pn.Column(actions, alert, tabs, pmui.Divider(), self.notes, batch_dialog, sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    def _volume_tab(self) -> pn.Column:
        if self.volume is None:
            self._compute_volume()
        block, origin, step = self.volume if self.volume is not None else (np.zeros((2, 2, 2)), (0, 0, 0), 1.0)

        def shown(values: np.ndarray) -> np.ndarray:
            # log10 spreads the opacity ramp over the disc and the clouds alike
            return np.log10(np.clip(values, 1e-6, None)).astype(np.float32) if self.log_scale else values

        vtk = pn.pane.VTKVolume(shown(block), spacing=(step,) * 3, origin=origin, colormap="Black-Body Radiation",
                                render_background="#15161c", display_slices=False, height=480,
                                sizing_mode="stretch_width", interpolation="linear", max_data_size=20)

        def update(*_: Any) -> None:
            if self.volume is not None:
                b, o, s = self.volume
                vtk.param.update(object=shown(b), spacing=(s,) * 3, origin=o)

        self.param.watch(update, ["volume", "log_scale"])
        vtk.param.watch(lambda e: setattr(self, "volume_camera", dict(e.new) if e.new else None), "camera")
        self._vtk = vtk
        # the three slices, each with the volume's annotations: the annotated sub-cubes as boxes, the objects.
        # New plots for another sub-cube: a plot keeps the frame size it was made with
        drawn = {axes: self._drawn(f"volume {axes}", VOLUME_VIEW, axes[0], axes[1], self._positions_in_volume(axes))
                 for axes in ("xy", "xz", "yz")}

        def planes(*_: Any) -> pn.Row:
            return pn.Row(*(pn.pane.HoloViews(self.volume_slice(axes) * d) for axes, d in drawn.items()),
                          sizing_mode="stretch_width")

        slices = pn.panel(pn.bind(planes, self.param.volume, self.param.log_scale), sizing_mode="stretch_width")
        controls = pn.Row(pmui.LiteralInput.from_param(self.param.volume_centre, width=220),
                          pmui.FloatInput.from_param(self.param.volume_half, width=150),
                          pmui.Button(label="Centre on the selected cloud / target", icon="center_focus_strong",
                                      variant="text", on_click=self.volume_to_cloud))
        note = pmui.Typography(
            "Drag to rotate, scroll to zoom. The volume is rendered by your browser (WebGL); the three slices below "
            "show the same sub-cube through its centre. Annotate stores the sub-cube, the camera and the slices "
            "shown, drawn as a box on the slices when you look at a larger volume.", variant="body2")
        annotated = self.notes.wrap(pn.Column(vtk, slices, sizing_mode="stretch_width"), view=VOLUME_VIEW,
                                    objects=self.marked_objects, region=self.volume_region,
                                    region_label="Attach the sub-cube, camera and slices shown")
        self.annotated["volume"] = annotated
        return pn.Column(controls, note, annotated, sizing_mode="stretch_width")

    def _drawn(self, name: str, view: Any, x: str, y: str, positions: Callable[..., Any]) -> hv.DynamicMap:
        """The annotations of ``view`` drawn on another plot (kept in :attr:`drawings` under ``name``)."""
        drawing = self.notes.drawing(view=view, x=x, y=y, positions=positions)
        self.drawings[name] = drawing
        return drawing.overlay()
