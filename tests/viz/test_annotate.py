"""The annotation layer: the dialog creates the right record; annotations are drawn on their plot and
listed, editable and deletable only with write access."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
import pytest

from explore.sdk import Access
from explore.viz.annotate import AnnotationLayer, annotation_elements
from explore.viz.linked import LinkedViews

hv.extension("bokeh")


@pytest.fixture
def linked(grid_table):
    return LinkedViews(grid_table, id_column="id", dataset="demo/grid.parquet")


def buttons(viewable, label):
    """The pmui buttons with this label inside a Panel layout."""
    return [b for b in viewable.select() if getattr(b, "label", None) == label]


def test_annotate_dialog_creates_the_record_with_region_objects_and_access(linked, session):
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    panel = sky.__panel__()
    linked.select_box("x", "y", (0, 0, 1, 0))
    sky.range_stream.event(x_range=(-1.0, 4.0), y_range=(2.0, 7.5))  # what the browser reports on zoom

    buttons(panel, "Annotate")[0].clicks += 1
    assert sky.form.open and sky.form.attach_selection  # offered because a selection exists
    sky.form.param.update(title=" Binary candidates ", description="look again", read_level="shared",
                          read_users="bob", read_groups="gaia, apogee", write_level="private")
    buttons(panel, "Save")[0].clicks += 1

    (args, kwargs), = session.calls_to("annotate")
    assert args == ("sky", "Binary candidates", "look again")
    assert kwargs["object_ids"] == ["s0", "s1"]
    assert kwargs["region"] == {"type": "box", "x": [-1.0, 4.0], "y": [2.0, 7.5], "x_dim": "x", "y_dim": "y"}
    assert kwargs["read"] == Access("shared", users=["bob"], groups=["gaia", "apogee"])
    assert kwargs["write"] == Access("private")
    assert not sky.form.open
    assert [a.title for a in layer.annotations] == ["Binary candidates"]


def test_a_title_is_required_and_unticked_attachments_stay_off(linked, session):
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    linked.select_positions([4])
    sky.range_stream.event(x_range=(0.0, 1.0), y_range=(0.0, 1.0))
    sky.open_dialog()
    assert sky.submit() is None and "needs a title" in sky.form.error and sky.form.open
    sky.form.param.update(title="whole plot note", attach_selection=False, attach_region=False)
    record = sky.submit()
    assert record.object_ids is None and record.region is None


def test_annotations_are_drawn_as_elements_on_their_own_plot(linked, session):
    session.annotate("sky", "A cluster", region={"type": "box", "x": [2.0, 4.0], "y": [5.0, 6.0]})
    session.annotate("sky", "Two stars", object_ids=["s23", "s45"])
    session.annotate("cmd", "Elsewhere", region={"type": "box", "x": [10, 11], "y": [0, 1]})
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    rects, labels, points = sky.overlay()[()]
    assert isinstance(rects, hv.Rectangles) and isinstance(labels, hv.Labels) and isinstance(points, hv.Points)
    assert [tuple(r) for r in rects.array()] == [(2.0, 5.0, 4.0, 6.0, "A cluster")]
    assert labels.dimension_values("title").tolist() == ["A cluster"]
    assert (labels.dimension_values("x")[0], labels.dimension_values("y")[0]) == (2.0, 6.0)  # top-left corner
    assert sorted(zip(points["x"], points["y"], strict=True)) == [(3.0, 2.0), (5.0, 4.0)]  # s23, s45
    assert set(points["title"]) == {"Two stars"}
    assert rects.kdims[0].name == "x" and points.kdims[1].name == "y"  # on the plot's own axes

    layer.refresh()
    session.annotate("sky", "Later", region={"type": "box", "x": [0, 1], "y": [0, 1]})
    layer.refresh()
    assert len(sky.overlay()[()].get(0)) == 2  # the plot follows the list


def test_elements_without_annotations_keep_their_shape():
    overlay = annotation_elements([], "ra", "dec")
    assert [type(e).__name__ for e in overlay] == ["Rectangles", "Labels", "Points"]
    assert all(len(e) == 0 for e in overlay)


def test_the_list_edits_and_deletes_with_write_access_only(linked, session):
    mine = session.annotate("sky", "mine", read=Access("public"), write=Access("private"))
    theirs = session.add_foreign_annotation(title="theirs", write=Access("private"))
    shared = session.add_foreign_annotation(title="team", write=Access("shared", users=["alice"]))
    layer = AnnotationLayer(session, linked=linked)
    view = layer._list()
    rows = {r[0].object.split("**")[1]: r for r in view}
    assert rows["theirs"][1].disabled and rows["theirs"][2].disabled
    assert not rows["mine"][1].disabled and not rows["team"][2].disabled
    with pytest.raises(PermissionError):
        layer.edit(theirs.id)

    rows["team"][1].clicks += 1  # Edit
    assert layer.form.open and layer.form.title == "team" and layer.form.editing == shared.id
    layer.form.title = "team (checked)"
    layer._save_edit()
    (args, kwargs), = session.calls_to("update_annotation")
    assert args == (shared.id,) and kwargs == {"title": "team (checked)", "description": ""}  # access untouched
    assert not layer.form.open

    layer.edit(mine.id)
    layer.form.read_level = "private"
    layer._save_edit()
    assert session.calls_to("update_annotation")[-1][1]["read"] == Access("private")

    rows = {r[0].object.split("**")[1]: r for r in layer._list()}
    rows["mine"][2].clicks += 1  # Delete
    assert session.calls_to("delete_annotation") == [((mine.id,), {})]
    assert sorted(a.title for a in layer.annotations) == ["team (checked)", "theirs"]


def test_annotated_plot_and_list_build_as_panel_models(linked, session):
    session.annotate("sky", "A cluster", region={"type": "box", "x": [2.0, 4.0], "y": [5.0, 6.0]})
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    root = pn.Column(sky, layer).get_root()
    models = root.references()
    quads = [m for m in models if type(m).__name__ == "GlyphRenderer" and type(m.glyph).__name__ == "Quad"]
    assert len(quads) == 1  # the region is a rectangle glyph on the figure
    data = quads[0].data_source.data
    assert (list(data["left"]), list(data["right"]), list(data["bottom"]), list(data["top"])) == ([2.0], [4.0], [5.0], [6.0])
    texts = [m for m in models if type(m).__name__ == "GlyphRenderer" and type(m.glyph).__name__ == "Text"]
    assert [list(t.data_source.data["title"]) for t in texts] == [["A cluster"]]
    assert any(type(m).__name__.startswith("Dialog") for m in models)


def test_a_refusal_from_the_platform_shows_in_the_dialog(linked, session):
    def refuse(*args, **kwargs):
        raise RuntimeError("an annotation can name at most 100,000 objects; save a selection instead")

    session.annotate = refuse
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    sky.open_dialog()
    sky.form.title = "too many"
    assert sky.submit() is None
    assert "at most 100,000 objects" in sky.form.error and sky.form.open


def test_thousands_of_annotated_objects_are_drawn_as_an_image_not_markers(session):
    import numpy as np
    import pandas as pd

    from explore.viz.annotate import MAX_MARKERS

    n = 5000
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"id": np.arange(n), "u": rng.uniform(0, 10, n), "v": rng.uniform(0, 10, n)})
    linked = LinkedViews(table)
    chosen = np.flatnonzero(table.u.to_numpy() < 3)  # ~1500 objects, all left of u = 3
    assert len(chosen) > MAX_MARKERS
    session.annotate("uv", "left strip", object_ids=[str(i) for i in chosen])
    session.annotate("uv", "three", object_ids=["0", "1", "2"])
    layer = AnnotationLayer(session, linked=linked)
    uv = layer.wrap(linked.scatter("u", "v", name="uv"), view="uv")
    points = uv.overlay()[()].get(2)
    assert sorted(points["u"]) == sorted(table.u.iloc[:3])  # only the small annotation as markers
    root = pn.panel(uv).get_root()  # rendered, as in a page: the layer must not be handed NaN ranges
    image = uv.objects_layer[()]
    glyphs = [m for m in root.references() if type(m).__name__ == "GlyphRenderer"
              and type(m.glyph).__name__ == "Image" and m.glyph.color_mapper.palette == ["#00c853"]]
    assert len(glyphs) == 1 and (glyphs[0].data_source.data["image"][0] > 0).sum() > 100
    lit = image.dimension_values(2, flat=False) > 0
    columns = image.dimension_values(0, expanded=False)
    assert lit.any() and columns[lit.any(axis=0)].max() < 3.2  # the strip, grown by a pixel or two


def test_geojson_regions_split_into_points_lines_and_areas():
    from explore.viz.annotate import geojson_parts

    assert geojson_parts(None) == [] and geojson_parts({"type": "box", "x": [0, 1], "y": [0, 1]}) == []
    (kind, lon, lat), = geojson_parts({"type": "Point", "coordinates": [23.5, 0.7]})
    assert (kind, lon.tolist(), lat.tolist()) == ("point", [23.5], [0.7])
    ring = [[0, 0], [10, 0], [10, 5], [0, 0]]
    (kind, lon, lat), = geojson_parts({"type": "Polygon", "coordinates": [ring, [[1, 1], [2, 1], [2, 2], [1, 1]]]})
    assert kind == "area" and lon.tolist() == [0, 10, 10, 0]  # the outer ring only
    parts = geojson_parts({"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[5, 5], [6, 6], [7, 5]]]})
    assert [(k, len(x)) for k, x, _ in parts] == [("line", 2), ("line", 3)]


def test_map_shapes_are_projected_labelled_at_the_top_and_hidden_where_the_map_cannot_show_them(session):
    import numpy as np

    from explore.viz.annotate import map_shapes

    session.annotate("map", "ridge", "a wrinkle ridge", region={"type": "LineString", "coordinates": [[0, 0], [4, 2]]})
    session.annotate("map", "site", region={"type": "Point", "coordinates": [-30, 60]})
    session.annotate("map", "box of a plot", region={"type": "box", "x": [0, 1], "y": [0, 1]})
    hide_north = lambda lon, lat: (np.where(lat > 50, np.nan, lon * 1000.0), lat * 1000.0)  # noqa: E731
    shapes = map_shapes(session.annotations("map"), hide_north)
    assert shapes["lines"]["xs"] == [[0.0, 4000.0]] and shapes["lines"]["ys"] == [[0.0, 2000.0]]
    assert shapes["lines"]["description"] == ["a wrinkle ridge"]
    assert shapes["points"]["x"] == [] and shapes["areas"]["xs"] == []
    assert (shapes["labels"]["x"], shapes["labels"]["y"], shapes["labels"]["title"]) == ([4000.0], [2000.0], ["ridge"])


def test_drawing_on_a_new_map_figure_replaces_the_old_drawing(session):
    from bokeh.plotting import figure

    session.annotate("map", "crater", region={"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [1, 2], [0, 0]]]})
    layer = AnnotationLayer(session)
    first = layer.draw_on(figure(), view="map", project=lambda lon, lat: (lon, lat))
    assert first.sources["areas"].data["xs"] == [[0.0, 2.0, 1.0, 0.0]]
    second = layer.draw_on(figure(), view="map", project=lambda lon, lat: (lon * 2, lat * 2))
    session.annotate("map", "later", region={"type": "Point", "coordinates": [5, 5]})
    layer.refresh()
    assert second.sources["points"].data["x"] == [10.0]
    assert first.sources["points"].data["x"] == []  # the replaced figure no longer follows the list
    assert layer.maps == {"map": second}


# ---- apps without LinkedViews: objects, positions and view names from the app's own state ------------------

class Stars(param.Parameterized):
    """A small app state: named stars at known places, a chosen subset, and a plane that moves them."""

    chosen = param.List(default=[], doc="ids of the stars the user picked")
    shift = param.Number(default=0.0, doc="moves every star along u (a new plane, a new epoch...)")
    epoch = param.Integer(default=1)

    PLACES = {"vega": (1.0, 2.0), "deneb": (3.0, 4.0)}

    @param.depends("shift")
    def positions(self, ids):
        u = [self.PLACES[i][0] + self.shift if i in self.PLACES else np.nan for i in ids]
        v = [self.PLACES[i][1] if i in self.PLACES else np.nan for i in ids]
        return u, v

    @param.depends("epoch")
    def view_name(self):
        return f"chart, epoch {self.epoch}"


def marker_places(drawn):
    points = drawn.overlay()[()].get(2)
    return sorted(zip(points["u"], points["v"], strict=True))


def test_an_app_without_linked_views_attaches_its_own_objects_and_places_them(session):
    stars = Stars(chosen=["vega", "deneb"])
    layer = AnnotationLayer(session)
    chart = layer.wrap(hv.Points([], ["u", "v"]), view="chart", x="u", y="v", objects=stars.param.chosen,
                       positions=stars.positions)
    chart.open_dialog()
    assert chart.form.attach_selection and chart.form.objects_note == "vega, deneb"
    chart.form.param.update(title="Summer pair", attach_region=False)
    record = chart.submit()
    assert record.object_ids == ["vega", "deneb"] and record.region is None
    assert marker_places(chart) == [(1.0, 2.0), (3.0, 4.0)]

    # an id the plot cannot place is left out; the list names the objects of a small annotation
    session.annotate("chart", "lost", object_ids=["altair"])
    layer.refresh()
    assert marker_places(chart) == [(1.0, 2.0), (3.0, 4.0)]
    texts = [row[0].object for row in layer._list()]
    assert any("Summer pair" in t and "objects: vega, deneb" in t for t in texts)

    # the positions are a param.depends method: the markers move when its parameters change
    stars.shift = 10.0
    assert marker_places(chart) == [(11.0, 2.0), (13.0, 4.0)]

    # nothing chosen: the dialog offers nothing to attach, and nothing is attached
    stars.chosen = []
    chart.open_dialog()
    assert not chart.form.attach_selection and chart.form.objects_note == ""
    chart.form.title = "empty"
    assert chart.submit().object_ids is None


def test_objects_may_be_a_plain_callable(session):
    layer = AnnotationLayer(session)
    plot = layer.wrap(hv.Curve([]), view="curve", objects=lambda: [7, 8])  # ids become strings
    plot.open_dialog()
    plot.form.title = "two"
    assert plot.submit().object_ids == ["7", "8"]


def test_a_plot_whose_view_name_is_a_reference_follows_the_app_state(session):
    stars = Stars()
    session.annotate("chart, epoch 1", "old", region={"type": "box", "x": [0, 1], "y": [0, 1]})
    session.annotate("chart, epoch 2", "new", region={"type": "box", "x": [5, 6], "y": [5, 6]})
    layer = AnnotationLayer(session)
    chart = layer.wrap(hv.Points([], ["u", "v"]), view=stars.view_name, x="u", y="v")
    titles = lambda: [r[4] for r in chart.overlay()[()].get(0).array()]  # noqa: E731
    assert chart.view == "chart, epoch 1" and titles() == ["old"]
    stars.epoch = 2
    assert chart.view == "chart, epoch 2" and titles() == ["new"]
    chart.range_stream.event(x_range=(4.0, 7.0), y_range=(4.0, 7.0))
    chart.open_dialog()
    chart.form.title = "newer"
    assert chart.submit().view == "chart, epoch 2"  # stored under the name shown
    assert titles() == ["new", "newer"]
    stars.epoch = 1
    assert titles() == ["old"]
    chart.view = "chart, epoch 2"  # set directly, as a parameter
    assert titles() == ["new", "newer"]


def test_a_table_gets_the_button_and_its_objects_are_drawn_on_another_plot(session):
    import pandas as pd

    stars = Stars(chosen=["deneb"])
    layer = AnnotationLayer(session)
    table = pn.widgets.Tabulator(pd.DataFrame({"id": ["vega", "deneb"]}))
    annotated = layer.wrap(table, view="catalogue", objects=stars.param.chosen)
    assert not annotated.draws
    panel = annotated.__panel__()
    assert table in list(panel.select(pn.widgets.Tabulator))
    region_box = [c for c in panel.select() if getattr(c, "label", None) == "Attach the plot region in view"]
    assert region_box and not region_box[0].visible  # a table has no region in view
    annotated.open_dialog()
    annotated.form.title = "bright one"
    record = annotated.submit()
    assert record.object_ids == ["deneb"] and record.region is None

    chart = layer.drawing(view="catalogue", x="u", y="v", positions=stars.positions)
    assert marker_places(chart) == [(3.0, 4.0)]
    stars.shift = -1.0
    assert marker_places(chart) == [(2.0, 4.0)]


def test_an_app_region_replaces_the_range_in_view(session):
    layer = AnnotationLayer(session)
    cube = {"type": "box", "ranges": {"x": [0.0, 10.0], "y": [-5.0, 5.0], "z": [2.0, 3.0]}, "camera": {"zoom": 2}}
    pane = layer.wrap(pn.pane.Markdown("a 3D view"), view="volume", region=lambda: cube,
                      region_label="Attach the sub-cube")
    assert pane.form.param.attach_region.label == "Attach the sub-cube"
    pane.open_dialog()
    pane.form.title = "core"
    assert pane.submit().region == cube
    # the sub-cube is drawn on each slice whose two axes it names, and on no other plot
    for x, y, box in (("x", "y", (0.0, -5.0, 10.0, 5.0)), ("x", "z", (0.0, 2.0, 10.0, 3.0)),
                      ("y", "z", (-5.0, 2.0, 5.0, 3.0))):
        rects = layer.drawing(view="volume", x=x, y=y).overlay()[()].get(0)
        assert [tuple(r[:4]) for r in rects.array()] == [box]
    assert len(layer.drawing(view="volume", x="u", y="v").overlay()[()].get(0)) == 0


def test_annotation_elements_do_not_move_the_plot(session):
    session.annotate("sky", "far away", region={"type": "box", "x": [100, 200], "y": [100, 200]})
    overlay = annotation_elements(session.annotations("sky"))
    assert all(el.opts.get("plot").kwargs.get("apply_ranges") is False for el in overlay)


def test_show_zooms_a_plot_to_the_box_an_annotation_stored(linked, session):
    session.annotate("sky", "A cluster", region={"type": "box", "x": [2.0, 4.0], "y": [5.0, 6.0]})
    session.annotate("sky", "no box")
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    rows = {r[0].object.split("**")[1]: r for r in layer._list()}
    assert [b.label for b in rows["A cluster"][1:]] == ["Show", "Edit", "Delete"]
    assert [b.label for b in rows["no box"][1:]] == ["Edit", "Delete"]
    rows["A cluster"][1].clicks += 1  # before the plot is shown: said, not raised
    assert "not shown yet" in layer.message
    root = pn.Column(sky, layer).get_root()  # rendered: the figure is known
    from bokeh.models import Plot

    figures = [m for m in root.references() if isinstance(m, Plot)]
    assert len(figures) == 1
    rows["A cluster"][1].clicks += 1
    fig = figures[0]
    assert (fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end) == (2.0, 4.0, 5.0, 6.0)
    assert layer.message == "Showing “A cluster”"
    assert sky.region() == {"type": "box", "x": [2.0, 4.0], "y": [5.0, 6.0], "x_dim": "x", "y_dim": "y"}


def test_a_message_is_shown_once_where_the_action_was_taken(linked, session):
    """Saved from a plot's Annotate dialog: said beside that plot's button only; Show, Edit and Delete in
    the list: said above the list only (it used to appear beside every Annotate button too)."""
    layer = AnnotationLayer(session, linked=linked)
    sky = layer.wrap(linked.scatter("x", "y", name="sky"), view="sky")
    side = layer.wrap(linked.scatter("x", "mag", name="side"), view="side")
    sky.form.title = "Bright knot"
    record = sky.submit()
    assert record is not None
    saved = "Annotation “Bright knot” saved."
    assert (layer.message_for("sky"), layer.message_for("side"), layer.message_for()) == (saved, "", "")
    layer.delete(record.id)
    assert (layer.message_for("sky"), layer.message_for()) == ("", "Annotation deleted.")
    # as the page shows it: the Markdown beside each button and above the list
    texts = lambda viewable: [m.object for m in viewable.select(pn.pane.Markdown)]  # noqa: E731
    sky.form.title = "Again"
    sky.submit()
    assert "Annotation “Again” saved." in texts(pn.panel(sky))
    assert "Annotation “Again” saved." not in texts(pn.panel(side)) + texts(pn.panel(layer))
