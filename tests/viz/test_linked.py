"""LinkedViews: box and lasso selections give exactly the objects inside; every linked plot highlights them."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import param
import pytest

from explore.viz.linked import LinkedViews, points_in_box, points_in_polygon

hv.extension("bokeh")


def ids_of(linked: LinkedViews) -> set[str]:
    return set(linked.selected_ids())


# ---- geometry -------------------------------------------------------------------------------------

def test_box_includes_its_edges_and_accepts_any_corner_order(grid_table):
    x, y = grid_table.x.to_numpy(), grid_table.y.to_numpy()
    expected = [k for k in range(100) if 2 <= k % 10 <= 4 and 5 <= k // 10 <= 6]
    assert points_in_box(x, y, (2, 5, 4, 6)).tolist() == expected
    assert points_in_box(x, y, (4, 6, 2, 5)).tolist() == expected  # dragged up-left / inverted y axis


def test_polygon_even_odd_on_a_concave_l_shape(grid_table):
    x, y = grid_table.x.to_numpy(), grid_table.y.to_numpy()
    # an L: x in (0.5, 5.5) for y in (0.5, 2.5), plus x in (0.5, 2.5) for y in (2.5, 6.5)
    ell = np.array([(0.5, 0.5), (5.5, 0.5), (5.5, 2.5), (2.5, 2.5), (2.5, 6.5), (0.5, 6.5)])
    expected = sorted([10 * j + i for j in (1, 2) for i in range(1, 6)] + [10 * j + i for j in range(3, 7) for i in (1, 2)])
    assert points_in_polygon(x, y, ell).tolist() == expected


def test_polygon_agrees_with_a_reference_on_random_points_and_ignores_nan():
    mpl_path = pytest.importorskip("matplotlib.path")
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, 20_000), rng.uniform(-1, 1, 20_000)
    x[:50] = np.nan
    angles = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    radius = 0.5 + 0.3 * np.sin(5 * angles)  # a star: concave, many edges
    star = np.c_[radius * np.cos(angles), radius * np.sin(angles)]
    reference = np.flatnonzero(mpl_path.Path(star).contains_points(np.c_[x, y]))
    got = points_in_polygon(x, y, star)
    assert got.min() >= 50
    assert 2000 < len(got) and got.tolist() == reference.tolist()


def test_degenerate_polygon_selects_nothing(grid_table):
    assert len(points_in_polygon(grid_table.x.to_numpy(), grid_table.y.to_numpy(), [(0, 0), (5, 5)])) == 0


# ---- selections through the plot streams ------------------------------------------------------------

def test_box_drawn_on_a_plot_selects_the_objects_inside(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    linked.scatter("x", "y", name="sky")
    box, _ = linked.streams("sky")
    box.event(bounds=(6.5, -0.5, 9.2, 1.0))
    assert ids_of(linked) == {"s7", "s8", "s9", "s17", "s18", "s19"}
    assert linked.count_text() == "6 of 100 selected"


def test_lasso_drawn_on_a_plot_selects_the_objects_inside(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    linked.scatter("x", "y", name="sky")
    _, lasso = linked.streams("sky")
    lasso.event(geometry=np.array([(-0.5, -0.5), (3.5, -0.5), (-0.5, 3.5)]))  # triangle x + y < 3
    expected = {f"s{10 * j + i}" for j in range(4) for i in range(4) if i + j < 3}
    assert ids_of(linked) == expected


def test_selection_in_one_plot_applies_to_the_columns_of_that_plot(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    linked.scatter("x", "y", name="sky")
    linked.scatter("mag", "y", name="mag")
    box, _ = linked.streams("mag")
    box.event(bounds=(19.5, 0, 21, 10))  # the brightest-numbered rows: mag >= 19.5
    assert sorted(linked.selection.tolist()) == list(range(95, 100))


def test_highlight_layers_update_in_every_bokeh_plot(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    linked.scatter("x", "y", name="sky")
    linked.scatter("mag", "x", name="cmd")
    assert len(linked.highlight("cmd")[()]) == 0
    linked.select_box("x", "y", (0, 0, 1, 1))  # ids 0, 1, 10, 11
    sky, cmd = linked.highlight("sky")[()], linked.highlight("cmd")[()]
    assert sorted(zip(sky["x"], sky["y"], strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert sorted(cmd["mag"]) == pytest.approx(sorted(grid_table.mag.iloc[[0, 1, 10, 11]]))
    linked.clear()
    assert len(linked.highlight("sky")[()]) == 0 and len(linked.highlight("cmd")[()]) == 0


def _pixel_of(values, edges):
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def test_highlight_layers_update_in_every_datashaded_plot():
    rng = np.random.default_rng(7)
    n = 3000
    table = pd.DataFrame({"id": np.arange(n), "a": rng.normal(size=n), "b": rng.normal(size=n),
                          "c": rng.uniform(0, 1, n)})
    linked = LinkedViews(table, datashade_threshold=1000)  # 3000 rows: rasterised
    linked.scatter("a", "b", color="c", name="ab")
    linked.scatter("c", "a", name="ca")
    assert isinstance(linked.highlight("ca")[()], hv.Image)
    assert np.nansum(linked.highlight("ca")[()].dimension_values(2)) == 0
    box, _ = linked.streams("ab")
    box.event(bounds=(0.0, 0.0, 1.0, 1.0))
    chosen = np.flatnonzero((table.a >= 0) & (table.a <= 1) & (table.b >= 0) & (table.b <= 1))
    assert linked.selection.tolist() == chosen.tolist()
    image = linked.highlight("ca")[()]
    counts = image.dimension_values(2, flat=False)  # rows are y (a), columns are x (c)
    xs, ys = image.dimension_values(0, expanded=False), image.dimension_values(1, expanded=False)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    xedges = np.r_[xs - dx / 2, xs[-1] + dx / 2]
    yedges = np.r_[ys - dy / 2, ys[-1] + dy / 2]
    col = _pixel_of(table.c.to_numpy()[chosen], xedges)
    row = _pixel_of(table.a.to_numpy()[chosen], yedges)
    lit = np.nan_to_num(counts) > 0
    assert lit[row, col].all()  # every selected object lights its pixel in the other plot
    near = np.zeros_like(lit)
    for dr in range(-3, 4):  # dynspread grows a point by at most 3 pixels
        for dc in range(-3, 4):
            near[np.clip(row + dr, 0, lit.shape[0] - 1), np.clip(col + dc, 0, lit.shape[1] - 1)] = True
    assert not (lit & ~near).any()  # and nothing else is lit
    assert table.a.to_numpy()[chosen].max() <= 1.0
    linked.clear()
    assert np.nansum(linked.highlight("ca")[()].dimension_values(2)) == 0


# ---- ids, the bus and hooks -------------------------------------------------------------------------

def test_select_ids_round_trips_and_skips_unknown_ids(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    assert linked.select_ids(["s5", "s42", "nope"]) == 2
    assert linked.selected_ids().tolist() == ["s5", "s42"]
    numeric = LinkedViews(pd.DataFrame({"source_id": [10, 20, 30], "x": [1.0, 2.0, 3.0]}), id_column="source_id")
    assert numeric.select_ids(["30", "10"]) == 2  # the bus stores ids as strings
    assert numeric.selected_ids().tolist() == [10, 30]
    assert numeric.selected_rows().x.tolist() == [1.0, 3.0]
    gaia = LinkedViews(pd.DataFrame({"source_id": np.array([4295806720, 6917528997577384320, 6917528997577384321]),
                                     "x": [0.0, 1.0, 2.0]}), id_column="source_id")
    assert gaia.select_ids(["6917528997577384321", "not a number"]) == 1  # beyond float precision
    assert gaia.selection.tolist() == [2]


def test_incoming_selection_of_the_same_dataset_is_applied(grid_table, session):
    from explore.sdk import SelectionRecord

    linked = LinkedViews(grid_table, id_column="id", dataset="demo/grid.parquet")
    session.incoming_selection = SelectionRecord(1, "odd", "sphot", "other.parquet", "bob", ["s1"])
    assert linked.select_incoming(session) == 0 and linked.n_selected == 0
    session.incoming_selection = SelectionRecord(2, "odd", "sphot", "demo/grid.parquet", "bob", ["s1", "s3"])
    assert linked.select_incoming(session) == 2
    assert linked.selected_ids().tolist() == ["s1", "s3"]


def test_an_app_reacts_to_selection_changes_through_param_depends(grid_table):
    linked = LinkedViews(grid_table, id_column="id")

    class MeanMag(param.Parameterized):
        value = param.Number(default=None, allow_None=True)

        def __init__(self, linked, **params):
            super().__init__(**params)
            self.linked = linked
            self.linked.param.watch(self.update, "selection")

        def update(self, *_):
            self.value = float(self.linked.selected_rows().mag.mean())

    app = MeanMag(linked)
    linked.select_box("x", "y", (0, 9, 9, 9))  # the last row of the grid: mag 19.09..20
    assert app.value == pytest.approx(grid_table.mag.iloc[90:].mean())


def test_clear_button_clears_and_bad_input_is_named(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    linked.select_positions([3, 4])
    controls = linked.controls()
    clear = controls[1]
    clear.clicks += 1
    assert linked.n_selected == 0
    with pytest.raises(KeyError, match="no id column 'source_id'"):
        LinkedViews(grid_table, id_column="source_id")
    with pytest.raises(TypeError, match="column 'id' is .*, not numeric"):
        linked.scatter("id", "y")
    with pytest.raises(IndexError):
        linked.select_positions([100])


@pytest.mark.parametrize("threshold", [0, 10**6], ids=["datashaded", "bokeh"])
def test_colour_by_a_column_or_by_an_axis_renders_with_a_colour_bar(grid_table, threshold):
    linked = LinkedViews(grid_table, id_column="id", datashade_threshold=threshold)
    for plot in (linked.scatter("x", "y", color="mag"), linked.scatter("x", "mag", color="mag")):
        figure = hv.render(plot)
        bars = [r for r in figure.right if type(r).__name__ == "ColorBar"]
        assert len(bars) == 1 and bars[0].color_mapper.high == pytest.approx(20.0, abs=0.2)


def test_warm_up_compiles_the_kernels_the_plots_use():
    import datashader as ds

    from explore.viz.linked import warm_up

    warm_up()
    # the compiled kernels serve any later canvas, of any size, correctly
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.9], "y": [0.1, 0.2, 0.9]})
    agg = ds.Canvas(plot_width=7, plot_height=5, x_range=(0, 1), y_range=(0, 1)).points(frame, "x", "y", ds.count())
    assert int(agg.values.sum()) == 3 and agg.shape == (5, 7)
