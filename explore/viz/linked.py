"""Linked views: a selection (box or lasso) in one plot highlights the same objects in every other.

One :class:`LinkedViews` holds one table and the current selection (row positions, a parameter). Each
:meth:`LinkedViews.scatter` is a plot of two of its columns: datashaded (server-side rasterisation) for
large tables, plain Bokeh points (WebGL) for small ones, with a highlight layer that follows the shared
selection. :class:`SelectionActions` saves, loads, sends and exports the selection through the
:class:`explore.sdk.Session`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datashader as ds
import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh backend, so .opts works without hv.extension)
import numpy as np
import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
from bokeh.palettes import Blues256

from explore.sdk import Access, SelectionRecord, Session

__all__ = [
    "LinkedViews",
    "SelectionActions",
    "points_in_box",
    "points_in_polygon",
    "table_bytes",
    "warm_up",
    "EXPORT_FORMATS",
]

EXPORT_FORMATS = {"CSV": ".csv", "FITS": ".fits", "VOTable": ".vot"}


# ---- geometry of a selection ---------------------------------------------------------------------

def points_in_box(x: np.ndarray, y: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    """Row positions of the points inside a box (edges included).

    Parameters
    ----------
    x, y
        Point coordinates (NaN never selected).
    bounds
        ``(x0, y0, x1, y1)`` in data coordinates, in any corner order (an inverted axis gives
        ``y0 > y1``).

    Returns
    -------
    numpy.ndarray
        Sorted int64 row positions.
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    xlo, xhi = min(x0, x1), max(x0, x1)
    ylo, yhi = min(y0, y1), max(y0, y1)
    mask = (x >= xlo) & (x <= xhi) & (y >= ylo) & (y <= yhi)
    return np.flatnonzero(mask).astype(np.int64)


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray,
                      order: np.ndarray | None = None) -> np.ndarray:
    """Row positions of the points inside a polygon, by the even-odd (crossing number) rule.

    The points are visited in order of ``y`` so that each polygon edge toggles only the contiguous run
    of points whose ``y`` lies in the edge's span (half-open, ``y_lo <= y < y_hi``, the usual
    convention that counts a vertex once). The work is proportional to the number of points times the
    number of edges a horizontal line crosses, not to points times edges, so a lasso of hundreds of
    vertices over 1e6 points stays in the tens of milliseconds.

    Parameters
    ----------
    x, y
        Point coordinates (NaN never selected).
    polygon
        ``(n, 2)`` vertices; closed implicitly (the last vertex joins the first).
    order
        ``np.argsort(y)`` if already known (a :class:`LinkedViews` caches it per column).

    Returns
    -------
    numpy.ndarray
        Sorted int64 row positions.
    """
    poly = np.asarray(polygon, dtype=float).reshape(-1, 2)
    poly = poly[np.isfinite(poly).all(axis=1)]
    if len(poly) < 3:
        return np.empty(0, dtype=np.int64)
    if order is None:
        order = np.argsort(y, kind="stable")
    ys = y[order]
    xs = x[order]
    inside = np.zeros(len(ys), dtype=bool)
    x0s, y0s = poly[:, 0], poly[:, 1]
    x1s, y1s = np.roll(x0s, -1), np.roll(y0s, -1)
    for xa, ya, xb, yb in zip(x0s, y0s, x1s, y1s, strict=True):
        if ya == yb:
            continue
        lo, hi = np.searchsorted(ys, [min(ya, yb), max(ya, yb)], side="left")
        if lo == hi:
            continue
        band = ys[lo:hi]
        crossing = xa + (band - ya) * ((xb - xa) / (yb - ya))
        inside[lo:hi] ^= xs[lo:hi] < crossing
    return np.sort(order[inside]).astype(np.int64)


def _neighbour_max(values: np.ndarray) -> np.ndarray:
    """The largest value among each pixel and its 8 neighbours, ignoring NaN."""
    out = values.copy()
    for dr, dc in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        shifted = np.full_like(values, np.nan)
        shifted[max(dr, 0):values.shape[0] + min(dr, 0), max(dc, 0):values.shape[1] + min(dc, 0)] = \
            values[max(-dr, 0):values.shape[0] + min(-dr, 0), max(-dc, 0):values.shape[1] + min(-dc, 0)]
        out = np.fmax(out, shifted)
    return out


def _dynspread(values: np.ndarray, threshold: float = 0.5, max_px: int = 2) -> np.ndarray:
    """Spread isolated pixels of an aggregate (NaN: empty) by up to ``max_px`` pixels, stopping once at
    least ``threshold`` of the non-empty pixels have a non-empty neighbour: datashader's ``dynspread``
    rule, on the aggregate so the colour map still applies."""
    filled = np.isfinite(values)
    if not filled.any():
        return values
    for _ in range(max_px):
        if _crowding(filled) >= threshold:
            break
        values = _neighbour_max(values)
        filled = np.isfinite(values)
    return values


def _crowding(filled: np.ndarray) -> float:
    """The fraction of filled pixels that have a filled neighbour."""
    padded = np.pad(filled, 1)
    count = np.zeros(filled.shape, dtype=np.int8)
    h, w = filled.shape
    for dr, dc in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        count += padded[1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
    return float((filled & (count > 0)).sum() / max(filled.sum(), 1))


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate a boolean image by ``px`` pixels (a square), so single lit pixels are visible."""
    out = mask.copy()
    for _ in range(px):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        grown[1:, 1:] |= out[:-1, :-1]
        grown[1:, :-1] |= out[:-1, 1:]
        grown[:-1, 1:] |= out[1:, :-1]
        grown[:-1, :-1] |= out[1:, 1:]
        out = grown
    return out


# ---- the shared selection ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Axes:
    x: str
    y: str
    color: str | None
    datashaded: bool


class LinkedViews(param.Parameterized):
    """One table shown in several linked plots that share one selection.

    Parameters
    ----------
    data
        The table (1e3..1e7 rows); every plotted column must be numeric.
    id_column
        The column of object identifiers (what the selection bus and annotations store).
    dataset
        The name of the table on the selection bus (``session.save_selection(name, dataset, ...)``).

    Example
    -------
    >>> linked = LinkedViews(stars, id_column="source_id", dataset="demo/sdisco/stars.parquet")
    >>> umap = linked.scatter("umap_x", "umap_y", color="weirdness", name="umap")
    >>> hr = linked.scatter("bp_rp", "abs_g", invert_yaxis=True, name="hr")
    >>> pn.Column(linked.controls(), pn.Row(umap, hr))
    """

    data = param.DataFrame(doc="the table; one row per object", precedence=-1)
    id_column = param.String(default="id", doc="the column of object identifiers")
    dataset = param.String(default="", doc="name of the table on the selection bus")
    selection = param.Array(default=np.empty(0, dtype=np.int64),
                            doc="row positions (sorted, int64) of the selected objects; empty: none")
    _version = param.Integer(default=0, precedence=-1,
                             doc="counts selection changes: plots follow it, not the (possibly large) array")
    datashade_threshold = param.Integer(default=100_000, bounds=(0, None),
                                        doc="tables with at least this many rows are rasterised on the server")
    highlight_color = param.Color(default="#ff1744", doc="colour of selected objects in every plot")
    cmap = param.String(default="viridis", doc="colour map when colouring by a column")
    density_cmap = param.List(default=list(Blues256[:200])[::-1],
                              doc="colour map of point density when no colour column is given")
    plot_width = param.Integer(default=450, bounds=(100, None))
    plot_height = param.Integer(default=400, bounds=(100, None))

    def __init__(self, data: pd.DataFrame, id_column: str = "id", **params: Any) -> None:
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"LinkedViews needs a pandas DataFrame, not {type(data).__name__}")
        if id_column not in data.columns:
            raise KeyError(f"the table has no id column {id_column!r}; its columns are {list(data.columns)}")
        super().__init__(data=data, id_column=id_column, **params)
        self._columns: dict[str, np.ndarray] = {}
        self._orders: dict[str, np.ndarray] = {}
        self._axes: dict[str, _Axes] = {}
        self._streams: dict[str, tuple[hv.streams.BoundsXY, hv.streams.Lasso]] = {}
        self._highlights: dict[str, hv.DynamicMap] = {}
        self.param.watch(self._bump, "selection")

    def _bump(self, *_: Any) -> None:
        self._version += 1

    # ---- the selection ---------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return len(self.data)

    @property
    def n_selected(self) -> int:
        return int(len(self.selection))

    @property
    def mask(self) -> np.ndarray:
        """The selection as a boolean mask over the rows."""
        out = np.zeros(self.n_rows, dtype=bool)
        out[self.selection] = True
        return out

    def column(self, name: str) -> np.ndarray:
        """A numeric column as float64 (cached: the selection tests run on it every time)."""
        if name not in self._columns:
            if name not in self.data.columns:
                raise KeyError(f"the table has no column {name!r}; its columns are {list(self.data.columns)}")
            values = self.data[name]
            if not pd.api.types.is_numeric_dtype(values):
                raise TypeError(f"column {name!r} is {values.dtype}, not numeric: it cannot be an axis or colour")
            if values.dtype == np.float64:
                self._columns[name] = values.to_numpy()  # no copy: a session may hold 1e7 rows
            else:
                self._columns[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return self._columns[name]

    def _order(self, name: str) -> np.ndarray:
        if name not in self._orders:
            self._orders[name] = np.argsort(self.column(name), kind="stable")
        return self._orders[name]

    def select_positions(self, positions: Sequence[int] | np.ndarray) -> int:
        """Select rows by position (replaces the selection); returns the number selected."""
        pos = np.unique(np.asarray(positions, dtype=np.int64))
        if len(pos) and (pos[0] < 0 or pos[-1] >= self.n_rows):
            raise IndexError(f"row positions must lie in 0..{self.n_rows - 1}")
        self.selection = pos
        return len(pos)

    def select_mask(self, mask: np.ndarray) -> int:
        """Select the rows where ``mask`` is true (replaces the selection)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_rows,):
            raise ValueError(f"mask has shape {mask.shape}; the table has {self.n_rows} rows")
        self.selection = np.flatnonzero(mask).astype(np.int64)
        return self.n_selected

    def select_box(self, x: str, y: str, bounds: Sequence[float]) -> int:
        """Select the objects inside ``bounds = (x0, y0, x1, y1)`` of columns ``x``, ``y``."""
        self.selection = points_in_box(self.column(x), self.column(y), bounds)
        return self.n_selected

    def select_lasso(self, x: str, y: str, polygon: np.ndarray) -> int:
        """Select the objects inside a polygon (``(n, 2)`` vertices) in columns ``x``, ``y``."""
        self.selection = points_in_polygon(self.column(x), self.column(y), polygon, order=self._order(y))
        return self.n_selected

    def clear(self, *_: Any) -> None:
        """Select nothing."""
        self.selection = np.empty(0, dtype=np.int64)

    def selected_ids(self) -> np.ndarray:
        """The ids of the selected objects (values of the id column, in table order)."""
        return self.data[self.id_column].to_numpy()[self.selection]

    def selected_rows(self) -> pd.DataFrame:
        """The selected rows of the table."""
        return self.data.iloc[self.selection]

    def positions_of(self, ids: Sequence[Any]) -> np.ndarray:
        """Row positions of the given ids (strings, as the bus stores them, or the id column's type);
        unknown ids are skipped. Integer ids are compared as integers (Gaia source ids exceed float
        precision), others as strings."""
        column = self.data[self.id_column]
        if pd.api.types.is_integer_dtype(column):
            wanted: list[Any] = []
            for value in ids:
                try:
                    wanted.append(int(value))
                except (TypeError, ValueError):
                    continue
        else:
            wanted = [str(value) for value in ids]
            if not pd.api.types.is_string_dtype(column) or column.dtype == object:
                column = column.astype(str)
        return np.flatnonzero(column.isin(wanted).to_numpy()).astype(np.int64)

    def select_ids(self, ids: Sequence[Any]) -> int:
        """Select the objects with these ids (e.g. a selection sent by another app); returns how many
        of them are in the table."""
        return self.select_positions(self.positions_of(ids))

    def select_incoming(self, session: Session) -> int:
        """Apply the selection another app sent with this session, if any (and if it is of this
        dataset when both name one); returns the number selected."""
        incoming = session.incoming_selection
        if incoming is None:
            return 0
        if self.dataset and incoming.dataset and incoming.dataset != self.dataset:
            return 0
        return self.select_ids(incoming.ids)

    # ---- plots -----------------------------------------------------------------------------------
    def axes(self, name: str) -> tuple[str, str]:
        """The ``(x, y)`` columns of the plot called ``name``."""
        if name not in self._axes:
            raise KeyError(f"no plot named {name!r}; plots: {sorted(self._axes)}")
        spec = self._axes[name]
        return spec.x, spec.y

    @property
    def plot_names(self) -> list[str]:
        return list(self._axes)

    def highlight(self, name: str) -> hv.DynamicMap:
        """The highlight layer of plot ``name`` (for tests and custom overlays)."""
        return self._highlights[name]

    def streams(self, name: str) -> tuple[hv.streams.BoundsXY, hv.streams.Lasso]:
        """The box and lasso streams of plot ``name`` (a browser drives them; tests may too)."""
        return self._streams[name]

    def _selected_points(self, x: str, y: str):
        xs, ys = self.column(x), self.column(y)

        def points(_version: int) -> hv.Points:
            sel = self.selection
            return hv.Points(pd.DataFrame({x: xs[sel], y: ys[sel]}), kdims=[x, y])

        return points

    def _extent(self, name: str) -> tuple[float, float]:
        values = self.column(name)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)

    def _grid(self, x: str, y: str, x_range: Any, y_range: Any, width: Any, height: Any, scale: Any):
        # before the browser reports its ranges a layer may be handed NaN: bin on the data's extent then
        def usable(r: Any) -> bool:
            return r is not None and bool(np.isfinite(np.asarray(r, dtype=float)).all()) and r[1] != r[0]

        xr = tuple(map(float, x_range)) if usable(x_range) else self._extent(x)
        yr = tuple(map(float, y_range)) if usable(y_range) else self._extent(y)
        w = max(int((width or self.plot_width) * (scale or 1.0)), 2)
        h = max(int((height or self.plot_height) * (scale or 1.0)), 2)
        return ds.Canvas(plot_width=w, plot_height=h, x_range=xr, y_range=yr), (xr[0], yr[0], xr[1], yr[1])

    def _density_image(self, x: str, y: str, color: str | None):
        """The base layer of a datashaded plot: all objects binned on the plot's pixel grid (the count,
        or the mean of ``color``), isolated pixels spread like datashader's ``dynspread``."""
        frame = self.data[list(dict.fromkeys([x, y] + ([color] if color else [])))]
        label = color or "objects per pixel"

        def image(x_range: Any = None, y_range: Any = None, width: int | None = None,
                  height: int | None = None, scale: float = 1.0) -> hv.Image:
            canvas, bounds = self._grid(x, y, x_range, y_range, width, height, scale)
            agg = canvas.points(frame, x, y, ds.mean(color) if color else ds.count()).values.astype(np.float32)
            if not color:
                agg[agg == 0] = np.nan
            agg = _dynspread(agg, threshold=0.5, max_px=2)
            return hv.Image(agg[::-1], bounds=bounds, kdims=[x, y], vdims=[hv.Dimension(label)])

        return image

    def objects_image(self, x: str, y: str, positions: np.ndarray, x_range: Any = None, y_range: Any = None,
                      width: int | None = None, height: int | None = None, scale: float = 1.0,
                      label: str = "selected") -> hv.Image:
        """Where the rows at ``positions`` fall on a plot's pixel grid, as a 0/1 image (one byte a pixel,
        so it is quick to send; draw 0 transparent). The highlight of a datashaded plot, and the layer
        that shows thousands of annotated objects, are such images.

        Both datashaded layers call datashader directly rather than through HoloViews' ``rasterize``
        and ``dynspread`` operations: those re-ran the whole base pipeline on every selection change
        (the spreading step is not memoised), which doubled the time from a selection to its highlight
        at 1e6 rows, and tripled the first render.
        """
        canvas, bounds = self._grid(x, y, x_range, y_range, width, height, scale)
        lit = np.zeros((canvas.plot_height, canvas.plot_width), dtype=bool)
        if len(positions):
            frame = pd.DataFrame({x: self.column(x)[positions], y: self.column(y)[positions]})
            lit = canvas.points(frame, x, y, ds.count()).values > 0
            lit = _grow(lit, 2 if lit.sum() < 2000 else 1)  # sparse sets stay visible
        data = np.ascontiguousarray(lit[::-1], dtype=np.uint8)  # hv.Image rows run top-down
        return hv.Image(data, bounds=bounds, kdims=[x, y], vdims=[hv.Dimension(label, range=(0, 1))])

    def _selected_image(self, x: str, y: str):
        def image(_version: int, **grid: Any) -> hv.Image:
            return self.objects_image(x, y, self.selection, **grid)

        return image

    def scatter(self, x: str, y: str, *, color: str | None = None, invert_yaxis: bool = False,
                title: str | None = None, name: str | None = None) -> hv.Overlay:
        """A scatter plot of columns ``x`` and ``y`` linked to every other plot of this table.

        Datashaded (server-side rasterisation with ``dynspread``) when the table has at least
        ``datashade_threshold`` rows, Bokeh WebGL points otherwise. Box and lasso selections set
        :attr:`selection`; the selected objects are drawn on top in ``highlight_color``.

        Parameters
        ----------
        x, y
            Numeric columns on the axes.
        color
            A numeric column to colour by (the mean per pixel when datashaded), with a colour bar;
            None colours by point density.
        invert_yaxis
            Larger ``y`` at the bottom (magnitudes in an HR diagram).
        title
            The plot title (default ``"y vs x"``).
        name
            The view name (annotations attach to it); default ``"y_vs_x"``.

        Returns
        -------
        holoviews.Overlay
            The base layer and the highlight layer; overlay more on it with ``*``.
        """
        for column in (x, y) + ((color,) if color else ()):
            self.column(column)
        name = name or f"{y}_vs_{x}"
        title = title or f"{y} vs {x}"
        datashaded = self.n_rows >= self.datashade_threshold
        self._axes[name] = _Axes(x, y, color, datashaded)
        common = dict(width=self.plot_width, height=self.plot_height, invert_yaxis=invert_yaxis,
                      title=title, default_tools=["pan", "wheel_zoom", "reset", "save"],
                      tools=["box_select", "lasso_select"],
                      active_tools=["pan", "wheel_zoom"])
        if datashaded:
            base = hv.DynamicMap(self._density_image(x, y, color),
                                 streams=[hv.streams.RangeXY(), hv.streams.PlotSize()])
            base = base.opts(cmap=self.cmap if color else self.density_cmap, colorbar=True,
                             cnorm="linear" if color else "eq_hist", clabel=color or "objects per pixel",
                             **common)
        else:
            vdims = [color] if color and color not in (x, y) else []  # colour by an axis: no extra column
            points = hv.Points(self.data[[x, y] + vdims], kdims=[x, y], vdims=vdims)
            style = dict(color=color, cmap=self.cmap, colorbar=True, clabel=color) if color else dict(
                color=self.density_cmap[-2])
            styled = points.opts(size=3, alpha=0.7, nonselection_alpha=0.7, selection_alpha=0.7,
                                 backend_opts={"plot.output_backend": "webgl"}, **style, **common)
            base = hv.DynamicMap(lambda: styled)  # a stable stream source, like the datashaded branch
        follow = hv.streams.Params(parameterized=self, parameters=["_version"])
        if datashaded:
            highlight = hv.DynamicMap(self._selected_image(x, y),
                                      streams=[follow, hv.streams.RangeXY(), hv.streams.PlotSize()])
            highlight = highlight.opts(cmap=[self.highlight_color], colorbar=False, alpha=1.0, clim=(0.5, 1),
                                       clipping_colors={"min": "transparent"})
        else:
            highlight = hv.DynamicMap(self._selected_points(x, y), streams=[follow])
            highlight = highlight.opts(color=self.highlight_color, size=5, alpha=1.0)
        self._highlights[name] = highlight
        box = hv.streams.BoundsXY(source=base)
        lasso = hv.streams.Lasso(source=base)
        box.add_subscriber(lambda bounds: self._on_box(x, y, bounds))
        lasso.add_subscriber(lambda geometry: self._on_lasso(x, y, geometry))
        self._streams[name] = (box, lasso)
        return (base * highlight).opts(title=title)

    def _on_box(self, x: str, y: str, bounds: Any) -> None:
        if bounds is not None:
            self.select_box(x, y, bounds)

    def _on_lasso(self, x: str, y: str, geometry: Any) -> None:
        if geometry is not None and len(geometry) >= 3:
            self.select_lasso(x, y, np.asarray(geometry))

    # ---- widgets ---------------------------------------------------------------------------------
    @param.depends("selection")
    def count_text(self) -> str:
        """``"1,234 of 1,000,000 selected"``."""
        return f"{self.n_selected:,} of {self.n_rows:,} selected"

    def controls(self) -> pn.viewable.Viewable:
        """The count of selected objects and a "Clear selection" button."""
        count = pn.pane.Markdown(self.count_text, margin=(5, 10))
        clear = pmui.Button(label="Clear selection", variant="outlined", on_click=self.clear)
        return pn.Row(count, clear, align="center")


# ---- selection actions ---------------------------------------------------------------------------

def warm_up() -> None:
    """Compile datashader's kernels (numba) for the aggregations the linked plots use, on a tiny table.

    The first datashaded plot in a process otherwise waits seconds for the compiler; a server calls this
    in a background thread when it starts, so that the first app a user opens paints at once.
    """
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        table = pd.DataFrame({"id": np.arange(64), **{c: rng.uniform(0, 1, 64).astype(dtype) for c in "abc"}})
        linked = LinkedViews(table, datashade_threshold=0)
        linked.select_box("a", "b", (0, 0, 0.5, 0.5))
        hv.render(linked.scatter("a", "b") + linked.scatter("b", "c", color="c"))


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise a table as ``CSV``, ``FITS`` (binary table) or ``VOTable``."""
    if fmt == "CSV":
        return frame.to_csv(index=False).encode()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {list(EXPORT_FORMATS)}")
    from astropy.table import Table

    clean = frame.reset_index(drop=True).copy()
    for column in clean.columns:
        if clean[column].dtype == object or isinstance(clean[column].dtype, pd.StringDtype):
            clean[column] = clean[column].astype(str)
    table = Table.from_pandas(clean)
    buffer = io.BytesIO()
    table.write(buffer, format="fits" if fmt == "FITS" else "votable")
    return buffer.getvalue()


class SelectionActions(pn.viewable.Viewer):
    """Save, load, send and export the selection of a :class:`LinkedViews`.

    Saving calls ``session.save_selection``; sending a saved selection calls
    ``session.send_selection`` and shows the link that opens the other app with it; exporting writes
    the selected rows into the workspace with ``session.write_bytes``.
    """

    name_input = param.String(default="", label="Selection name")
    description = param.String(default="", label="Description")
    read_level = param.Selector(default="private", objects=["private", "shared", "public"], label="Who may read")
    read_users = param.String(default="", label="Users (comma separated)")
    read_groups = param.String(default="", label="Groups (comma separated)")
    saved = param.List(default=[], doc="the saved selections of this dataset", precedence=-1)
    chosen = param.Integer(default=None, allow_None=True, label="Saved selection")
    to_app = param.String(default="", label="Send to app")
    export_format = param.Selector(default="CSV", objects=list(EXPORT_FORMATS), label="Format")
    export_path = param.String(default="", label="Workspace path")
    message = param.String(default="", doc="the outcome of the last action, shown to the user")
    link = param.String(default="", doc="the URL of the last sent selection")

    def __init__(self, linked: LinkedViews, session: Session, *, apps: Sequence[str] = (), **params: Any) -> None:
        super().__init__(**params)
        self.linked = linked
        self.session = session
        self.apps = [a for a in apps if a != getattr(session, "app_id", None)]
        if self.apps and not self.to_app:
            self.to_app = self.apps[0]
        self.refresh()

    def refresh(self, *_: Any) -> list[SelectionRecord]:
        """Reload the list of saved selections of this dataset."""
        self.saved = list(self.session.selections(self.linked.dataset or None))
        if self.saved and self.chosen not in {s.id for s in self.saved}:
            self.chosen = self.saved[0].id
        return self.saved

    def _access(self) -> Access:
        split = lambda text: [t.strip() for t in text.split(",") if t.strip()]  # noqa: E731
        if self.read_level == "shared":
            return Access("shared", users=split(self.read_users), groups=split(self.read_groups))
        return Access(self.read_level)

    def save(self, *_: Any) -> SelectionRecord | None:
        """Save the current selection under ``name_input``."""
        if not self.name_input.strip():
            self.message = "Give the selection a name first."
            return None
        if self.linked.n_selected == 0:
            self.message = "Nothing is selected: draw a box or a lasso on a plot first."
            return None
        ids = [str(i) for i in self.linked.selected_ids()]
        record = self.session.save_selection(self.name_input.strip(), self.linked.dataset, ids,
                                             description=self.description, read=self._access())
        self.refresh()
        self.chosen = record.id
        self.message = f"Saved {len(ids):,} objects as “{record.name}”."
        return record

    def _chosen_record(self) -> SelectionRecord | None:
        for record in self.saved:
            if record.id == self.chosen:
                return record
        self.message = "Choose a saved selection first."
        return None

    def load(self, *_: Any) -> int:
        """Select the objects of the chosen saved selection."""
        record = self._chosen_record()
        if record is None:
            return 0
        n = self.linked.select_ids(record.ids)
        missing = len(record.ids) - n
        self.message = f"Loaded “{record.name}”: {n:,} objects" + (f" ({missing:,} not in this table)" if missing else "") + "."
        return n

    def send(self, *_: Any) -> str | None:
        """Send the chosen saved selection to ``to_app``; returns (and shows) the URL that opens it."""
        record = self._chosen_record()
        if record is None:
            return None
        if not self.to_app.strip():
            self.message = "Name the app to send the selection to."
            return None
        url = self.session.send_selection(record.id, self.to_app.strip())
        self.link = url
        self.message = f"Sent “{record.name}” to {self.to_app}."
        return url

    def export(self, *_: Any) -> str | None:
        """Write the selected rows into the workspace; returns the path written."""
        if self.linked.n_selected == 0:
            self.message = "Nothing is selected to export."
            return None
        suffix = EXPORT_FORMATS[self.export_format]
        path = self.export_path.strip() or self.default_export_path()
        if not path.lower().endswith(suffix):
            path += suffix
        data = table_bytes(self.linked.selected_rows(), self.export_format)
        written = self.session.write_bytes(path, data)
        self.message = f"Wrote {self.linked.n_selected:,} rows to {written or path}."
        return written or path

    def default_export_path(self) -> str:
        home = self.session.home().rstrip("/")
        stem = self.name_input.strip().replace("/", "_").replace(" ", "_") or "selection"
        return f"{home}/selections/{stem}{EXPORT_FORMATS[self.export_format]}"

    def _guarded(self, action: Any) -> Any:
        """A button handler that shows the platform's message instead of losing it in the server log."""
        def run(*_: Any) -> None:
            try:
                action()
            except Exception as exc:  # any refusal (rights, quota, a bad path) is the user's to read
                self.message = f"Could not {action.__name__}: {exc}"
        return run

    @param.depends("link", "message")
    def _status(self) -> pn.viewable.Viewable:
        text = self.message
        if self.link:
            text += f"\n\n[Open {self.to_app} with the selection]({self.link})"
        return pn.pane.Markdown(text, margin=(0, 10))

    def __panel__(self) -> pn.viewable.Viewable:
        chooser = pmui.Select.from_param(
            self.param.chosen, options=pn.bind(lambda saved: {f"{s.name} ({len(s.ids):,})": s.id for s in saved},
                                               self.param.saved))
        to_app = (pmui.Select.from_param(self.param.to_app, options=self.apps) if self.apps
                  else pmui.TextInput.from_param(self.param.to_app))
        return pn.Column(
            pmui.Typography("Selection", variant="subtitle1"),
            pmui.TextInput.from_param(self.param.name_input),
            pmui.Select.from_param(self.param.read_level),
            pmui.TextInput.from_param(self.param.read_users, visible=self.param.read_level.rx() == "shared"),
            pmui.TextInput.from_param(self.param.read_groups, visible=self.param.read_level.rx() == "shared"),
            pmui.Button(label="Save selection", on_click=self._guarded(self.save), variant="contained"),
            chooser,
            pn.Row(pmui.Button(label="Load", on_click=self._guarded(self.load)),
                   pmui.Button(label="Refresh", on_click=self._guarded(self.refresh))),
            to_app,
            pmui.Button(label="Send", on_click=self._guarded(self.send)),
            pn.Row(pmui.Select.from_param(self.param.export_format, width=110),
                   pmui.TextInput.from_param(self.param.export_path, placeholder=self.default_export_path(),
                                             width=200)),
            pmui.Button(label="Export selected rows", on_click=self._guarded(self.export)),
            self._status,
            width=330,
        )
