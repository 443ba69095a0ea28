"""The annotation layer: an "Annotate" action on any plot of an app, annotations drawn on the plots they
belong to, and the app's list of annotations (editable by those with write access).

An annotation is stored by the platform through :class:`explore.sdk.Session` (``annotate``,
``annotations``, ``update_annotation``, ``delete_annotation``). It may carry the plot region the user was
looking at (``{"type": "box", "x": [x0, x1], "y": [y0, y1], "x_dim": ..., "y_dim": ...}``, drawn as a
translucent rectangle labelled with the title) and the ids of selected objects (drawn as ringed markers
where the plot can place them: from a :class:`explore.viz.linked.LinkedViews`, or from a ``positions``
function the app gives).

An app without a ``LinkedViews`` supplies the objects itself (``objects``: the ids it has selected) and where
they lie on each plot (``positions``). A plot whose annotations depend on the app's state (a profile per
sightline, a slice per plane) gives its view name as a reference (a parameter, a ``param.depends`` method,
``pn.bind`` or ``rx``): the plot then follows it. Anything that is not a HoloViews plot (a table, a 3D
pane) gets the Annotate button too; its annotations are drawn on other plots with
:meth:`AnnotationLayer.drawing`.

On a map the region is a GeoJSON geometry in lon/lat degrees (``Point``, ``LineString``, ``Polygon`` and
their ``Multi`` forms); :meth:`AnnotationLayer.draw_on` draws those on a Bokeh map figure in whatever
projection it uses, through a ``project(lon, lat) -> (x, y)`` function the map supplies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
from bokeh.models import ColumnDataSource, HoverTool
from param.parameterized import resolve_ref, resolve_value

from explore.sdk import Access, AnnotationRecord, Session
from explore.viz.linked import LinkedViews

__all__ = ["AnnotationDrawing", "AnnotationForm", "AnnotationLayer", "AnnotatedView", "MapAnnotations",
           "annotation_elements", "geojson_parts", "map_shapes"]

LEVELS = ["private", "shared", "public"]
REGION_COLOR = "#ff8f00"
OBJECT_COLOR = "#00c853"
#: annotations naming more objects than this are drawn as an image on the plot's pixel grid, not as
#: markers (tens of thousands of glyphs take the browser seconds to draw)
MAX_MARKERS = 1000


GEOJSON_KINDS = {"Point": "point", "MultiPoint": "point", "LineString": "line", "MultiLineString": "line",
                 "Polygon": "area", "MultiPolygon": "area"}
#: ``project(lon, lat) -> (x, y)``: vertices in lon/lat degrees to map coordinates; it may return more
#: points than it was given (edges drawn along great circles) and NaN where the map cannot show a point
Projector = Callable[[np.ndarray, np.ndarray], tuple[Any, Any]]
#: ``positions(object_ids) -> (xs, ys)``: where objects lie on a plot, one pair per id (NaN: not on it)
Positions = Callable[[list[str]], tuple[Any, Any]]
#: how many object ids the list of annotations names before it only counts them
NAMED_OBJECTS = 5


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class AnnotationForm(param.Parameterized):
    """What the Annotate dialog edits: the text and who may read and write the annotation."""

    title = param.String(default="", label="Title")
    description = param.String(default="", label="Description")
    read_level = param.Selector(default="private", objects=LEVELS, label="Who may read")
    read_users = param.String(default="", label="Readers: users (comma separated)")
    read_groups = param.String(default="", label="Readers: groups (comma separated)")
    write_level = param.Selector(default="private", objects=LEVELS, label="Who may edit")
    write_users = param.String(default="", label="Editors: users (comma separated)")
    write_groups = param.String(default="", label="Editors: groups (comma separated)")
    attach_selection = param.Boolean(default=True, label="Attach the selected objects")
    attach_region = param.Boolean(default=True, label="Attach the plot region in view")
    objects_note = param.String(default="", doc="which objects would be attached (named beside the tick box)")
    editing = param.Integer(default=None, allow_None=True, doc="id of the annotation being edited; None: a new one")
    open = param.Boolean(default=False, doc="whether the dialog is shown")
    error = param.String(default="")

    def access(self, kind: str) -> Access:
        """The read (``kind="read"``) or write access chosen in the form."""
        level = getattr(self, f"{kind}_level")
        if level == "shared":
            return Access("shared", users=_split(getattr(self, f"{kind}_users")),
                          groups=_split(getattr(self, f"{kind}_groups")))
        return Access(level)

    def load(self, record: AnnotationRecord) -> None:
        """Fill the form from an existing annotation (to edit it)."""
        values: dict[str, Any] = dict(title=record.title, description=record.description,
                                      editing=record.id, error="")
        for kind in ("read", "write"):
            access: Access = getattr(record, kind)
            values[f"{kind}_level"] = access.level
            values[f"{kind}_users"] = ", ".join(access.users)
            values[f"{kind}_groups"] = ", ".join(access.groups)
        self.param.update(**values)

    def reset(self) -> None:
        """Empty the form for a new annotation."""
        self.param.update(title="", description="", read_level="private", read_users="", read_groups="",
                          write_level="private", write_users="", write_groups="", editing=None, error="")

    def dialog(self, on_save: Any, *, allow_attach: bool = True, selection_visible: Any = True,
               region_visible: Any = True) -> pmui.Dialog:
        """The modal dialog bound to this form; ``on_save`` runs when the user presses Save.

        ``selection_visible`` and ``region_visible`` (booleans or reactive expressions) show or hide the
        tick boxes that attach the selected objects and the region in view.
        """
        shared = lambda kind: self.param[f"{kind}_level"].rx() == "shared"  # noqa: E731
        fields: list[Any] = [
            pmui.TextInput.from_param(self.param.title, sizing_mode="stretch_width"),
            pmui.TextAreaInput.from_param(self.param.description, sizing_mode="stretch_width"),
        ]
        for kind in ("read", "write"):
            fields += [
                pmui.RadioButtonGroup.from_param(self.param[f"{kind}_level"]),
                pmui.TextInput.from_param(self.param[f"{kind}_users"], visible=shared(kind)),
                pmui.TextInput.from_param(self.param[f"{kind}_groups"], visible=shared(kind)),
            ]
        if allow_attach:
            plain = self.param.attach_selection.label
            attach_label = self.param.objects_note.rx.pipe(lambda note: f"{plain} ({note})" if note else plain)
            fields += [pmui.Checkbox.from_param(self.param.attach_selection, label=attach_label,
                                                visible=selection_visible),
                       pmui.Checkbox.from_param(self.param.attach_region, visible=region_visible)]
        fields += [
            pn.pane.Markdown(self.param.error, styles={"color": "#c62828"}),
            pn.Row(pmui.Button(label="Save", variant="contained", on_click=on_save),
                   pmui.Button(label="Cancel", variant="text", on_click=lambda *_: setattr(self, "open", False))),
        ]
        return pmui.Dialog(*fields, open=self.param.open, title="Annotation", width_option="sm")


def annotation_elements(records: list[AnnotationRecord], x: str = "x", y: str = "y",
                        positions: Any = None, max_markers: int = MAX_MARKERS) -> hv.Overlay:
    """The annotations of one view as plot elements.

    Parameters
    ----------
    records
        Annotations of the view.
    x, y
        The names of the plot's axes (the elements share them, so they overlay on its axes).
    positions
        ``f(object_ids) -> (xs, ys)``: where the annotated objects are on this plot; None draws none.
    max_markers
        Annotations with more objects get no markers here (:class:`AnnotatedView` draws them as an
        image).

    Returns
    -------
    holoviews.Overlay
        ``Rectangles`` of the regions, ``Labels`` with their titles, and ``Points`` of the annotated
        objects (always all three, possibly empty, so the overlay keeps its shape). They do not change the
        plot's ranges: an annotation outside the part of the plot shown does not move the view.

    A region is drawn when it is a box on this plot's axes: ``{"type": "box", "x": [x0, x1], "y": [y0,
    y1]}`` (the plot's horizontal and vertical ranges), or ``{"type": "box", "ranges": {dim: [lo, hi],
    ...}}`` naming both of the plot's axes among its dimensions (a sub-cube ``{"x", "y", "z"}`` is drawn
    on an x-y, an x-z and a y-z slice alike).
    """
    boxes, labels, objects = [], [], {x: [], y: [], "title": [], "marker_size": []}
    for record in records:
        box = _box_on(record.region, x, y)
        if box is not None:
            (x0, x1), (y0, y1) = box
            boxes.append((x0, y0, x1, y1, record.title))
            labels.append((x0, y1, record.title))
        if record.object_ids and positions is not None and len(record.object_ids) <= max_markers:
            xs, ys = (np.asarray(v, dtype=float).ravel() for v in positions(list(record.object_ids)))
            shown = np.isfinite(xs) & np.isfinite(ys)  # objects this plot cannot place are left out
            xs, ys = xs[shown], ys[shown]
            objects[x] += xs.tolist()
            objects[y] += ys.tolist()
            objects["title"] += [record.title] * len(xs)
            objects["marker_size"] += [11 if len(xs) <= 100 else 6] * len(xs)
    rects = hv.Rectangles(boxes, kdims=[x, y, f"{x}_end", f"{y}_end"], vdims=["title"]).opts(
        fill_color=REGION_COLOR, fill_alpha=0.12, line_color=REGION_COLOR, line_dash="dashed", line_width=2,
        tools=["hover"], apply_ranges=False)
    text = hv.Labels(labels, kdims=[x, y], vdims=["title"]).opts(
        text_color="#e65100", text_align="left", text_baseline="top", text_font_size="11pt",
        xoffset=0, yoffset=0, text_font_style="bold", apply_ranges=False)
    marks = hv.Points(pd.DataFrame(objects), kdims=[x, y], vdims=["title", "marker_size"]).opts(
        marker="circle", size="marker_size", fill_alpha=0, line_color=OBJECT_COLOR, line_width=2, tools=["hover"],
        apply_ranges=False)
    return hv.Overlay([rects, text, marks])


def _box_on(region: dict[str, Any] | None, x: str, y: str) -> tuple[list[float], list[float]] | None:
    """The sorted ``(x0, x1), (y0, y1)`` of a box region on a plot with axes ``x`` and ``y``, else None."""
    region = region or {}
    if region.get("type", "box") != "box":
        return None
    ranges = region.get("ranges")
    if isinstance(ranges, dict):
        if x not in ranges or y not in ranges:
            return None
        xr, yr = ranges[x], ranges[y]
    elif "x" in region and "y" in region:
        xr, yr = region["x"], region["y"]
    else:
        return None
    return sorted(map(float, xr)), sorted(map(float, yr))


def _current(ref: Any) -> Any:
    """The current value of a reference (a parameter, ``pn.bind``, ``param.depends`` method, ``rx``) or
    of a plain callable without arguments."""
    value = resolve_value(ref)
    return ref() if value is ref and callable(ref) else value


def _name_objects(ids: list[str]) -> str:
    """Object ids as the list and the dialog name them: all of a few, the count of many."""
    if len(ids) <= NAMED_OBJECTS:
        return ", ".join(ids)
    return f"{len(ids):,} objects"


def geojson_parts(region: dict[str, Any] | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The parts of a GeoJSON region as ``(kind, lon, lat)``, kind ``"point"``, ``"line"`` or ``"area"``
    (an area is its outer ring; holes are not drawn). Anything else (a plot box, None) has no parts.

    Example
    -------
    >>> [(k, lon.tolist()) for k, lon, _ in geojson_parts({"type": "LineString", "coordinates": [[0, 0], [5, 1]]})]
    [('line', [0.0, 5.0])]
    """
    kind = GEOJSON_KINDS.get((region or {}).get("type", ""))
    coords = (region or {}).get("coordinates")
    if kind is None or not coords:
        return []
    multi = region["type"].startswith("Multi")
    if kind == "point":
        points = np.asarray(coords if multi else [coords], dtype=float).reshape(-1, 2)
        return [("point", points[:, 0], points[:, 1])]
    parts = coords if multi else [coords]
    out = []
    for part in parts:
        ring = np.asarray(part[0] if kind == "area" else part, dtype=float).reshape(-1, 2)
        if len(ring):
            out.append((kind, ring[:, 0], ring[:, 1]))
    return out


def map_shapes(records: list[AnnotationRecord], project: Projector) -> dict[str, dict[str, list]]:
    """The GeoJSON regions of annotations in a map's coordinates, as Bokeh column data.

    Parameters
    ----------
    records
        Annotations of the map (those without a GeoJSON region are left out).
    project
        ``project(lon, lat) -> (x, y)`` of the map; a part with a point it cannot show (NaN) is left out.

    Returns
    -------
    dict
        ``areas`` and ``lines`` (``xs``, ``ys`` lists of vertex lists), ``points`` and ``labels``
        (``x``, ``y``), each with ``title``, ``description`` and ``id`` columns. A label sits at the
        northern-most vertex of each part drawn (on the map's y axis).
    """
    out: dict[str, dict[str, list]] = {
        "areas": {"xs": [], "ys": []}, "lines": {"xs": [], "ys": []}, "points": {"x": [], "y": []},
        "labels": {"x": [], "y": []},
    }
    for cols in out.values():
        cols.update(title=[], description=[], id=[])
    for record in records:
        labelled = False
        for kind, lon, lat in geojson_parts(record.region):
            x, y = (np.asarray(v, dtype=float).ravel() for v in project(lon, lat))
            if x.size == 0 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                continue
            if kind == "point":
                target = out["points"]
                target["x"] += x.tolist()
                target["y"] += y.tolist()
                n = x.size
            else:
                target = out["areas" if kind == "area" else "lines"]
                target["xs"].append(x.tolist())
                target["ys"].append(y.tolist())
                n = 1
            target["title"] += [record.title] * n
            target["description"] += [record.description] * n
            target["id"] += [record.id] * n
            if not labelled:
                top = int(np.argmax(y))
                labels = out["labels"]
                labels["x"].append(float(x[top]))
                labels["y"].append(float(y[top]))
                labels["title"].append(record.title)
                labels["description"].append(record.description)
                labels["id"].append(record.id)
                labelled = True
    return out


class MapAnnotations:
    """The annotations of one view drawn on a Bokeh map figure (made by :meth:`AnnotationLayer.draw_on`):
    areas as dashed translucent polygons, lines as dashed lines, points as diamonds, each labelled
    with its title, redrawn whenever the layer's list changes."""

    def __init__(self, layer: AnnotationLayer, figure: Any, *, view: str, project: Projector) -> None:
        self.layer, self.figure, self.view, self.project = layer, figure, view, project
        empty = map_shapes([], project)
        self.sources = {name: ColumnDataSource(cols) for name, cols in empty.items()}
        areas = figure.patches("xs", "ys", source=self.sources["areas"], fill_color=REGION_COLOR, fill_alpha=0.18,
                               line_color=REGION_COLOR, line_width=2, line_dash="dashed")
        lines = figure.multi_line("xs", "ys", source=self.sources["lines"], line_color=REGION_COLOR, line_width=3,
                                  line_dash="dashed")
        points = figure.scatter("x", "y", source=self.sources["points"], marker="diamond", size=16,
                                fill_color=REGION_COLOR, line_color="#000000", line_width=1)
        labels = figure.text("x", "y", text="title", source=self.sources["labels"], text_color="#ffffff",
                             text_font_size="10pt", text_font_style="bold", text_baseline="bottom",
                             x_offset=6, y_offset=-6, background_fill_color="#e65100", background_fill_alpha=0.85,
                             padding=3, border_radius=3)
        self.renderers = [areas, lines, points, labels]
        figure.add_tools(HoverTool(renderers=[areas, lines, points],
                                   tooltips=[("annotation", "@title"), ("", "@description")]))
        self._watcher = layer.param.watch(self.redraw, "annotations")
        self.redraw()

    def redraw(self, *_: Any) -> None:
        """Draw the layer's current annotations of this view."""
        shapes = map_shapes(self.layer.of_view(self.view), self.project)
        with pn.io.unlocked():  # a widget callback holds no Bokeh document lock
            for name, cols in shapes.items():
                self.sources[name].data = cols

    def detach(self) -> None:
        """Stop following the layer (the figure is being replaced)."""
        self.layer.param.unwatch(self._watcher)


class AnnotationLayer(pn.viewable.Viewer):
    """The annotations of one app session: wraps its plots and lists its annotations.

    Parameters
    ----------
    session
        The app's :class:`explore.sdk.Session`.
    linked
        The :class:`LinkedViews` whose selection an annotation may attach, and that places annotated
        objects on its plots; optional.

    Example
    -------
    >>> notes = AnnotationLayer(session, linked=linked)
    >>> umap = notes.wrap(linked.scatter("umap_x", "umap_y", name="umap"), view="umap")
    >>> pn.Column(umap, notes)        # the plot with its Annotate button, then the list
    """

    annotations = param.List(default=[], doc="the app's annotations the user may read", precedence=-1)
    message = param.String(default="", doc="what the last action did, shown where it was taken")
    message_view = param.String(default="", doc="the view whose Annotate button the message is shown beside; "
                                "empty: the list's (Show, Edit, Delete)")

    def __init__(self, session: Session, *, linked: LinkedViews | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.session = session
        self.linked = linked
        self.form = AnnotationForm(name="edit")
        self.views: dict[str, AnnotatedView] = {}
        self.maps: dict[str, MapAnnotations] = {}
        self._shows: dict[str, Callable[[AnnotationRecord], Any]] = {}
        self.refresh()

    def on_show(self, view: str, show: Callable[[AnnotationRecord], Any]) -> None:
        """Give the annotations of ``view`` a *Show* button that brings back what they were made on:
        ``show`` gets the record and sets the app's state from the region it stored (a sub-cube and
        camera, a map extent, ...)."""
        self._shows[view] = show
        self.param.trigger("annotations")

    def show(self, annotation_id: int) -> None:
        """Bring back the view an annotation was made on (see :meth:`on_show`)."""
        record = next((a for a in self.annotations if a.id == annotation_id), None)
        if record is None:
            raise KeyError(f"no annotation {annotation_id} in this app")
        show = self._shows.get(record.view)
        if show is None:
            plot = self._box_plot(record)
            if plot is None:
                raise KeyError(f"annotations of the view {record.view!r} cannot be shown again")
            show = plot.show_box
        show(record)
        self._say(f"Showing “{record.title}”")

    def _box_plot(self, record: AnnotationRecord) -> AnnotatedView | None:
        """The plot shown now that a box annotation was made on (its Show zooms to the box), or None."""
        return next((v for v in self.views.values()
                     if v.draws and v.view == record.view and _box_on(record.region, v.x, v.y) is not None), None)

    def _show_clicked(self, annotation_id: int) -> None:
        try:
            self.show(annotation_id)
        except Exception as exc:  # noqa: BLE001 - shown beside the list rather than lost in the server log
            self._say(f"Could not show it: {exc}")

    def _say(self, message: str, *, view: str = "") -> None:
        """Show ``message`` once: beside the Annotate button of ``view``, or above the list."""
        self.param.update(message_view=view, message=message)

    def message_for(self, view: str = "") -> str:
        """The message when it belongs beside ``view``'s button (or, with no view, above the list)."""
        return self.message if self.message_view == view else ""

    def refresh(self, *_: Any) -> list[AnnotationRecord]:
        """Reload the annotations from the platform."""
        self.annotations = list(self.session.annotations())
        return self.annotations

    def of_view(self, view: str) -> list[AnnotationRecord]:
        return [a for a in self.annotations if a.view == view]

    def wrap(self, plot: Any, *, view: Any, x: str | None = None, y: str | None = None, objects: Any = None,
             positions: Positions | None = None, region: Callable[[], dict[str, Any] | None] | None = None,
             region_label: str | None = None) -> AnnotatedView:
        """Give ``plot`` an Annotate button and draw the annotations of ``view`` on it.

        Parameters
        ----------
        plot
            A HoloViews element, overlay or DynamicMap (the annotations are drawn on it), or any other
            Panel object (a table, a 3D pane: it gets the button; draw its annotations on other plots with
            :meth:`drawing`).
        view
            The view name annotations of this plot are stored under, or a reference to it (a parameter, a
            ``param.depends`` method, ``pn.bind`` or ``rx``) for a plot whose annotations follow the app's
            state (the sightline, the plane shown): the plot then draws, and stores new annotations under,
            the name the reference gives at each moment.
        x, y
            The names of the plot's axes; for a plot made by ``linked.scatter(name=view)`` they are found
            from ``linked``.
        objects
            The ids of the objects a new annotation may attach (the app's selection): a callable without
            arguments or a reference (e.g. ``app.param.selected``); default the ``LinkedViews`` selection.
        positions
            ``positions(ids) -> (xs, ys)``: where objects lie on this plot (NaN for those not on it); default
            from ``linked``. A ``param.depends`` method or ``pn.bind`` function is followed: the markers are
            drawn again when a parameter it depends on changes.
        region
            ``region() -> dict``: what to store as the annotation's region instead of the x/y range in view
            (e.g. the sub-cube and camera of a 3D view); ``region_label`` labels its tick box.

        Example
        -------
        >>> notes = AnnotationLayer(session)
        >>> notes.wrap(slice_image, view=app.slice_name, x="u", y="v", objects=app.param.chosen,
        ...            positions=app.positions_on_slice)   # app.slice_name: a param.depends method
        """
        if (x is None or y is None) and self.linked is not None and isinstance(view, str) \
                and view in self.linked.plot_names:
            x, y = self.linked.axes(view)
        annotated = AnnotatedView(self, plot, view=view, x=x or "x", y=y or "y", objects=objects,
                                  positions=positions, region=region, region_label=region_label)
        self.views[annotated.view] = annotated
        return annotated

    def drawing(self, *, view: Any, x: str = "x", y: str = "y", positions: Positions | None = None
                ) -> AnnotationDrawing:
        """The annotations of ``view`` drawn on another plot (``plot * notes.drawing(...).overlay()``).

        ``view`` may be a reference and ``positions`` a ``param.depends`` method or ``pn.bind`` function,
        followed as in :meth:`wrap`. Use it to show a view's annotations on a second plot of the same
        thing, or those of a table or a 3D pane (whose objects the plot can place) on a plot.

        Example
        -------
        >>> marks = notes.drawing(view="clouds", x="u", y="v", positions=app.positions_on_slice)
        >>> pn.pane.HoloViews(slice_image * marks.overlay())
        """
        return AnnotationDrawing(self, view=view, x=x, y=y, positions=positions)

    def draw_on(self, figure: Any, *, view: str, project: Projector) -> MapAnnotations:
        """Draw the annotations of ``view`` whose region is GeoJSON (lon/lat) on a Bokeh map figure.

        ``project(lon, lat) -> (x, y)`` puts vertices in the figure's coordinates (NaN where it cannot
        show them). Drawing the same view on a new figure (a map rebuilt in another projection)
        replaces the previous drawing.

        Example
        -------
        >>> notes = AnnotationLayer(session)
        >>> notes.draw_on(fig, view="map", project=lambda lon, lat: (lon, lat))   # a lon/lat map
        """
        old = self.maps.pop(view, None)
        if old is not None:
            old.detach()
        drawn = MapAnnotations(self, figure, view=view, project=project)
        self.maps[view] = drawn
        return drawn

    # ---- platform calls --------------------------------------------------------------------------
    def create(self, view: str, form: AnnotationForm, *, object_ids: list[str] | None = None,
               region: dict[str, Any] | None = None, refresh: bool = True) -> AnnotationRecord | None:
        """Store a new annotation of ``view`` from a filled form (and reload the list unless told not to)."""
        if not form.title.strip():
            form.error = "An annotation needs a title."
            return None
        record = self.session.annotate(view, form.title.strip(), form.description, object_ids=object_ids,
                                       region=region, read=form.access("read"), write=form.access("write"))
        self._say(f"Annotation “{record.title}” saved.", view=view)
        if refresh:
            self.refresh()
        return record

    def update(self, annotation_id: int, form: AnnotationForm) -> AnnotationRecord | None:
        """Store the edited text and access of an annotation."""
        if not form.title.strip():
            form.error = "An annotation needs a title."
            return None
        stored = next((a for a in self.annotations if a.id == annotation_id), None)
        access = {kind: form.access(kind) for kind in ("read", "write")}
        # only the author may change access: send it only when it changed, so editors can fix text
        changed = {k: v for k, v in access.items() if stored is None or getattr(stored, k) != v}
        record = self.session.update_annotation(annotation_id, title=form.title.strip(),
                                                description=form.description, **changed)
        self._say(f"Annotation “{record.title}” updated.")
        self.refresh()
        return record

    def delete(self, annotation_id: int) -> None:
        """Delete an annotation (the platform checks the write access)."""
        self.session.delete_annotation(annotation_id)
        self._say("Annotation deleted.")
        self.refresh()

    def edit(self, annotation_id: int) -> None:
        """Open the edit dialog on an annotation."""
        record = next((a for a in self.annotations if a.id == annotation_id), None)
        if record is None:
            raise KeyError(f"no annotation {annotation_id} in this app")
        if not record.can_write:
            raise PermissionError(f"you may read annotation “{record.title}” but not change it")
        self.form.load(record)
        self.form.open = True

    def _save_edit(self, *_: Any) -> None:
        try:
            if self.form.editing is not None and self.update(self.form.editing, self.form) is not None:
                self.form.open = False
        except Exception as exc:  # the platform's own message, shown in the dialog the user acted in
            self.form.error = str(exc)

    def _delete_clicked(self, annotation_id: int) -> None:
        try:
            self.delete(annotation_id)
        except Exception as exc:  # shown beside the list rather than lost in the server log
            self._say(f"Could not delete: {exc}")

    # ---- the list --------------------------------------------------------------------------------
    @param.depends("annotations")
    def _list(self) -> pn.viewable.Viewable:
        if not self.annotations:
            return pn.pane.Markdown("No annotations yet: press *Annotate* on a plot.")
        rows = []
        for record in self.annotations:
            where = []
            if record.region:
                kind = (record.region or {}).get("type", "")
                where.append(kind.lower() if kind in GEOJSON_KINDS else "region")
            if record.object_ids:
                ids = [str(i) for i in record.object_ids]
                where.append(f"objects: {', '.join(ids)}" if len(ids) <= NAMED_OBJECTS else f"{len(ids):,} objects")
            text = (f"**{record.title}** · {record.view} · {record.author} · {record.read.level}"
                    + (f" · {', '.join(where)}" if where else "")
                    + (f"<br>{record.description}" if record.description else ""))
            edit = pmui.Button(label="Edit", variant="text", disabled=not record.can_write,
                               on_click=lambda _, i=record.id: self.edit(i))
            delete = pmui.Button(label="Delete", variant="text", color="error", disabled=not record.can_write,
                                 on_click=lambda _, i=record.id: self._delete_clicked(i))
            buttons = [edit, delete]
            if record.view in self._shows or self._box_plot(record) is not None:
                buttons.insert(0, pmui.Button(label="Show", variant="text", icon="visibility",
                                              on_click=lambda _, i=record.id: self._show_clicked(i)))
            rows.append(pn.Row(pn.pane.Markdown(text, sizing_mode="stretch_width"), *buttons))
        return pn.Column(*rows, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(pmui.Typography("Annotations", variant="h6"),
                   pmui.Button(label="Refresh", variant="text", on_click=self.refresh),
                   pn.pane.Markdown(pn.bind(lambda *_: self.message_for(), self.param.message,
                                            self.param.message_view), margin=(5, 10))),
            self._list,
            self.form.dialog(self._save_edit, allow_attach=False),
            sizing_mode="stretch_width",
        )


class AnnotationDrawing(param.Parameterized):
    """The annotations of one view drawn on one plot (made by :meth:`AnnotationLayer.drawing`, and the
    drawing part of every :class:`AnnotatedView`).

    ``view`` is a parameter the drawing depends on: set it, or give it as a reference, and the plot draws
    the annotations of the new view. :meth:`redraw` draws them again when the objects' positions changed
    in a way the drawing cannot see (a ``positions`` function that is a ``param.depends`` method or a
    ``pn.bind`` function is followed without it).
    """

    view = param.String(default="", allow_refs=True, doc="the view whose annotations are drawn (or a reference)")
    revision = param.Integer(default=0, precedence=-1, doc="counts the redraws asked for")

    def __init__(self, layer: AnnotationLayer, *, view: Any, x: str = "x", y: str = "y",
                 positions: Positions | None = None, **params: Any) -> None:
        super().__init__(view=view, **params)
        self.layer = layer
        self.x, self.y = x, y
        self.positions = positions
        self._cache: tuple[list[AnnotationRecord], str, int, hv.Overlay] | None = None
        self._overlay = hv.DynamicMap(self._elements, streams=self._streams())
        for dep in resolve_ref(positions) if positions is not None else []:
            if isinstance(dep, param.Parameter) and isinstance(dep.owner, param.Parameterized):
                dep.owner.param.watch(self.redraw, dep.name)

    def _streams(self) -> list[hv.streams.Stream]:
        return [hv.streams.Params(parameterized=self.layer, parameters=["annotations"]),
                hv.streams.Params(parameterized=self, parameters=["view", "revision"])]

    def redraw(self, *_: Any) -> None:
        """Draw the annotations again (the objects moved on the plot)."""
        self.revision += 1

    def _place(self, ids: list[str]) -> tuple[Any, Any]:
        return self.positions(ids)

    def _can_place(self) -> bool:
        return self.positions is not None

    def _elements(self, annotations: list[AnnotationRecord], view: str = "", revision: int = 0,
                  **_ranges: Any) -> hv.Overlay:
        cached = self._cache
        if cached is not None and cached[0] is annotations and cached[1:3] == (view, revision):
            return cached[3]  # the same elements: zooming does not resend the glyphs
        records = [a for a in annotations if a.view == view]
        elements = annotation_elements(records, self.x, self.y, self._place if self._can_place() else None)
        self._cache = (annotations, view, revision, elements)
        return elements

    def overlay(self) -> hv.DynamicMap:
        """The annotations of this view as a DynamicMap to overlay on the plot (``plot * overlay``)."""
        return self._overlay


class AnnotatedView(AnnotationDrawing, pn.viewable.Viewer):
    """One plot with an Annotate button and its annotations drawn on it (made by
    :meth:`AnnotationLayer.wrap`)."""

    x_range = param.Tuple(default=None, allow_None=True, length=2, doc="x range in view (from the plot)")
    y_range = param.Tuple(default=None, allow_None=True, length=2, doc="y range in view (from the plot)")

    def __init__(self, layer: AnnotationLayer, plot: Any, *, view: Any, x: str, y: str, objects: Any = None,
                 positions: Positions | None = None, region: Callable[[], dict[str, Any] | None] | None = None,
                 region_label: str | None = None) -> None:
        super().__init__(layer, view=view, x=x, y=y, positions=positions)
        self._pane: pn.pane.HoloViews | None = None  # made by __panel__: its live plots are what Show zooms
        self.plot = plot
        self.objects_of = objects
        self.region_of = region
        self.form = AnnotationForm(name=f"annotate {self.view}")
        if region_label:
            self.form.param.attach_region.label = region_label
        self.range_stream.add_subscriber(self._on_range)
        #: whether ``plot`` is a HoloViews plot the annotations are drawn on (else it only gets the button)
        self.draws = isinstance(plot, (hv.core.dimension.ViewableElement, hv.HoloMap)) \
            and not isinstance(plot, (hv.Layout, hv.NdLayout, hv.GridSpace))
        self._display = plot * self._overlay if self.draws else plot
        self._many: tuple[list[AnnotationRecord], str, np.ndarray] | None = None
        #: the image of annotations with more than MAX_MARKERS objects (None when objects cannot be placed)
        self.objects_layer: hv.DynamicMap | None = None
        if self.draws and self._linked_places():
            many = hv.DynamicMap(self._many_objects, streams=[
                hv.streams.Params(parameterized=layer, parameters=["annotations"]),
                hv.streams.Params(parameterized=self, parameters=["view"]), hv.streams.RangeXY(),
                hv.streams.PlotSize()])
            many = many.opts(cmap=[OBJECT_COLOR], clim=(0.5, 1), clipping_colors={"min": "transparent"},
                             alpha=0.8, colorbar=False)
            self.objects_layer = many
            self._display = plot * many * self._overlay

    def _streams(self) -> list[hv.streams.Stream]:
        # the range stream is an input of the overlay (redrawing a few glyphs on zoom is cheap): a
        # stream that is only linked by its source reports nothing when that source is an overlay
        self.range_stream = hv.streams.RangeXY()
        return [*super()._streams(), self.range_stream]

    def figures(self) -> list[Any]:
        """The Bokeh figures this plot is shown on now (one per browser page showing it)."""
        plots = getattr(self._pane, "_plots", None) or {}  # Panel keeps the HoloViews plot of each page
        return [plot.state for plot, _ in plots.values() if getattr(plot, "state", None) is not None]

    def show_box(self, record: AnnotationRecord) -> None:
        """Zoom the plot to the box an annotation stored (the x/y ranges it was made on)."""
        box = _box_on(record.region, self.x, self.y)
        if box is None:
            raise ValueError(f"“{record.title}” stores no box on this plot")
        figures = self.figures()
        if not figures:
            raise ValueError("the plot is not shown yet: open its tab first")
        (x0, x1), (y0, y1) = box
        for figure in figures:
            figure.x_range.update(start=x0, end=x1)
            figure.y_range.update(start=y0, end=y1)
        # the browser does not report ranges set here: the range in view (what Annotate stores next) is told
        self.range_stream.event(x_range=(x0, x1), y_range=(y0, y1))

    def _on_range(self, x_range: Any = None, y_range: Any = None) -> None:
        self.param.update(x_range=tuple(x_range) if x_range is not None else None,
                          y_range=tuple(y_range) if y_range is not None else None)

    def _linked_places(self) -> bool:
        linked = self.layer.linked
        return (self.positions is None and linked is not None and self.x in linked.data.columns
                and self.y in linked.data.columns)

    def _can_place(self) -> bool:
        return self.positions is not None or self._linked_places()

    def _place(self, ids: list[str]) -> tuple[Any, Any]:
        if self.positions is not None:
            return self.positions(ids)
        linked = self.layer.linked
        pos = linked.positions_of(ids)
        return linked.column(self.x)[pos], linked.column(self.y)[pos]

    def _many_objects(self, annotations: list[AnnotationRecord], view: str = "", **grid: Any) -> hv.Image:
        if self._many is None or self._many[0] is not annotations or self._many[1] != view:  # rows once per list
            ids = [i for a in annotations if a.view == view and a.object_ids
                   and len(a.object_ids) > MAX_MARKERS for i in a.object_ids]
            self._many = (annotations, view, self.layer.linked.positions_of(ids) if ids else np.empty(0, np.int64))
        return self.layer.linked.objects_image(self.x, self.y, self._many[2], label="annotated", **grid)

    def region(self) -> dict[str, Any] | None:
        """The region stored with a new annotation: what ``region()`` given to :meth:`AnnotationLayer.wrap`
        returns, else the plot region in view (None before the plot has reported it)."""
        if self.region_of is not None:
            return self.region_of()
        if self.x_range is None or self.y_range is None:
            return None
        return {"type": "box", "x": [float(v) for v in self.x_range], "y": [float(v) for v in self.y_range],
                "x_dim": self.x, "y_dim": self.y}

    def selected_objects(self) -> list[str]:
        """The ids a new annotation would attach: those ``objects`` gives, else the LinkedViews selection."""
        if self.objects_of is not None:
            ids = _current(self.objects_of)
            return [str(i) for i in (ids if ids is not None else [])]
        linked = self.layer.linked
        if linked is not None and linked.n_selected > 0:
            return [str(i) for i in linked.selected_ids()]
        return []

    def _selection_exists(self) -> bool:
        return bool(self.selected_objects())

    def open_dialog(self, *_: Any) -> None:
        """Open the Annotate dialog for a new annotation of this view."""
        self.form.reset()
        ids = self.selected_objects()
        self.form.attach_selection = bool(ids)
        self.form.objects_note = _name_objects(ids) if ids else ""
        self.form.open = True

    def submit(self, *_: Any) -> AnnotationRecord | None:
        """Store the annotation described by the form (what the dialog's Save button does)."""
        object_ids = None
        if self.form.attach_selection:
            object_ids = self.selected_objects() or None
        try:
            region = self.region() if self.form.attach_region else None
            record = self.layer.create(self.view, self.form, object_ids=object_ids, region=region, refresh=False)
        except Exception as exc:  # the platform's own message (no rights, too many objects), in the dialog
            self.form.error = str(exc)
            return None
        if record is not None:
            self.form.open = False  # close first: redrawing the plots may take a moment
            self.layer.refresh()
        return record

    def _holoviews_pane(self) -> pn.pane.HoloViews:
        if self._pane is None:
            self._pane = pn.pane.HoloViews(self._display)
        return self._pane

    def __panel__(self) -> pn.viewable.Viewable:
        if self.objects_of is None and self.layer.linked is None:
            self.form.attach_selection = False
        return pn.Column(
            pn.Row(pmui.Button(label="Annotate", icon="edit_note", variant="outlined", on_click=self.open_dialog),
                   pn.pane.Markdown(pn.bind(lambda *_: self.layer.message_for(self.view), self.layer.param.message,
                                            self.layer.param.message_view, self.param.view), margin=(5, 10))),
            self._holoviews_pane() if self.draws else self._display,
            self.form.dialog(self.submit, selection_visible=self.form.param.objects_note.rx.bool(),
                             region_visible=self.draws or self.region_of is not None),
            sizing_mode="stretch_width" if not self.draws else None,
        )
