"""S-Disco's interactive view: every star of a survey in linked plots, and what a selection looks like.

:class:`SDiscoView` is a Panel viewer whose parameters are its state: the survey (the demo survey or the
output folder of an S-Disco run), the plot type of each panel (UMAP, Galactic plane x-y, Galactic side
view x-z, HR diagram, or any two columns), the column to colour by, the SNR threshold of the selection
spectra, the correlation method and the star last clicked. The plots are the datashaded scatters of the
linked-views kit (:mod:`explore.viz.linked`), all sharing one selection; the selection's mean / median
spectrum with its 16-84 % band and its correlation ranking come from :mod:`explore.apps.sdisco.selection`.
The platform is reached only through the :class:`explore.sdk.Session`.
"""

from __future__ import annotations

import io
import json
import pathlib
from dataclasses import dataclass
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param
from astropy.table import Table

from explore.apps.sdisco.selection import SelectionSpectrum, correlation_ranking, selection_spectrum
from explore.astro.spectra import Spectra
from explore.sdk import Session
from explore.viz.annotate import AnnotationLayer
from explore.viz.linked import LinkedViews, SelectionActions

__all__ = ["PLOT_KINDS", "PlotPanel", "SDiscoView", "Survey", "find_surveys", "load_survey", "nearest_row"]

hv.extension("bokeh", logo=False)

TWO_COLUMNS = "Two columns"
#: plot type -> (view name for annotations, x column, y column, inverted y axis)
PLOT_KINDS: dict[str, tuple[str, str, str, bool]] = {
    "UMAP": ("umap", "umap_x", "umap_y", False),
    "Galactic plane (x-y)": ("galactic_xy", "x", "y", False),
    "Galactic side view (x-z)": ("galactic_xz", "x", "z", False),
    "HR diagram": ("hr", "bp_rp", "abs_g", True),
}
DEFAULT_PANELS = ("UMAP", "Galactic plane (x-y)", "Galactic side view (x-z)", "HR diagram")
#: apps a selection of stars can be sent to (those installed are offered)
STELLAR_APPS = ("sphot", "garch", "gtomo")
SCORE_PREFERENCE = ("w_knn", "w_forest", "w_total", "w_spatial")
#: columns shown first in the selection table and the star's values
KEY_COLUMNS = ("id", "w_forest", "w_total", "w_knn", "w_spatial", "snr", "phot_g_mean_mag", "bp_rp", "abs_g",
               "distance", "teff", "logg", "fe_h", "m_h", "alpha_fe", "c_m", "n_m", "anomaly")


# ---- the survey ------------------------------------------------------------------------------------

@dataclass
class Survey:
    """A survey opened in the view: its star table (scores, embedding and every star column) and, when
    found, its spectra (``spectra_row[i]`` is the row of star ``i`` in ``spectra``, -1 if absent)."""

    folder: str
    table: pd.DataFrame
    spectra: Spectra | None
    spectra_row: np.ndarray
    snr: np.ndarray

    @property
    def dataset(self) -> str:
        """The name of the star table on the selection bus."""
        return f"{self.folder}/scores.parquet"


def _local(session: Session, path: str) -> pathlib.Path | None:
    try:
        return session.local_path(path)
    except NotImplementedError:
        return None


def _read_table(session: Session, path: str) -> Table:
    local = _local(session, path)
    if local is not None:
        return Table.read(local, format="parquet")
    return Table.read(io.BytesIO(session.read_bytes(path)), format="parquet")


def _spectra_path(session: Session, folder: str) -> str | None:
    """Where a survey's spectra are: ``survey.zarr`` beside the scores, else the run's input named in
    ``params.json`` (``{"params": {"spectra": ...}}`` as the platform writes it)."""
    names = {f.name for f in session.listdir(folder)}
    for name in ("survey.zarr", "spectra.zarr", "survey.parquet", "spectra.parquet"):
        if name in names:
            return f"{folder}/{name}"
    if "params.json" in names:
        info = json.loads(session.read_bytes(f"{folder}/params.json"))
        spectra = (info.get("params") or info).get("spectra")
        if spectra:
            return str(spectra)
    return None


def load_survey(session: Session, folder: str) -> Survey:
    """Open a survey folder of the workspace (``scores.parquet``, optional ``embedding.parquet`` and the
    spectra). Adds ``abs_g`` (absolute G magnitude from ``phot_g_mean_mag`` and ``parallax`` in mas)
    when the table has no such column, so the HR diagram works on any Gaia-like table."""
    folder = folder.rstrip("/")
    table = _read_table(session, f"{folder}/scores.parquet")
    names = {f.name for f in session.listdir(folder)}
    if "umap_x" not in table.colnames and "embedding.parquet" in names:
        emb = _read_table(session, f"{folder}/embedding.parquet")
        lookup = pd.Series(np.arange(len(emb)), index=np.asarray(emb["id"]).astype(str))
        pos = lookup.reindex(np.asarray(table["id"]).astype(str)).to_numpy()
        for c in ("umap_x", "umap_y"):
            values = np.full(len(table), np.nan)
            ok = np.isfinite(pos)
            values[ok] = np.asarray(emb[c], float)[pos[ok].astype(int)]
            table[c] = values
    frame = table.to_pandas()
    frame["id"] = frame["id"].astype(str)
    if "abs_g" not in frame and {"phot_g_mean_mag", "parallax"} <= set(frame):
        with np.errstate(invalid="ignore", divide="ignore"):
            plx = frame["parallax"].to_numpy(float)
            frame["abs_g"] = np.where(plx > 0, frame["phot_g_mean_mag"] + 5 * np.log10(plx) - 10, np.nan)
    for name in list(frame.columns):
        if frame[name].dtype == bool:
            frame[name] = frame[name].astype(np.int8)  # plottable, rankable
    spectra = None
    rows = np.full(len(frame), -1, np.int64)
    where = _spectra_path(session, folder)
    if where is not None:
        try:
            local = _local(session, where)
            spectra = Spectra.read(local if local is not None else io.BytesIO(session.read_bytes(where)))
        except (FileNotFoundError, PermissionError, ValueError, OSError):
            spectra = None
    if spectra is not None:
        ids = np.asarray(spectra.ids).astype(str)
        if len(ids) == len(frame) and np.array_equal(ids, frame["id"].to_numpy()):
            rows = np.arange(len(frame), dtype=np.int64)
        else:
            lookup = pd.Series(np.arange(len(ids)), index=ids)
            rows = lookup.reindex(frame["id"]).fillna(-1).to_numpy(np.int64)
    if "snr" in frame:
        snr = frame["snr"].to_numpy(float)
    elif "snr_used" in frame:
        snr = frame["snr_used"].to_numpy(float)
    elif spectra is not None:
        snr = np.where(rows >= 0, spectra.snr()[np.maximum(rows, 0)], np.nan)
    else:
        snr = np.full(len(frame), np.nan)
    return Survey(folder, frame, spectra, rows, snr)


def find_surveys(session: Session) -> list[str]:
    """Workspace folders holding an S-Disco ``scores.parquet``: the demo survey and the user's runs
    (searched two levels below the home folder)."""
    found: list[str] = []

    def has_scores(folder: str) -> list[Any]:
        try:
            entries = session.listdir(folder)
        except (FileNotFoundError, PermissionError):
            return []
        if any(e.name == "scores.parquet" and not e.is_dir for e in entries):
            found.append(folder)
        return [e for e in entries if e.is_dir and not e.name.endswith(".zarr")]

    has_scores("demo/sdisco")
    home = session.home().rstrip("/")
    for sub in has_scores(home):
        for deeper in has_scores(sub.path):
            has_scores(deeper.path)
    return list(dict.fromkeys(found))


def nearest_row(x: np.ndarray, y: np.ndarray, cx: float, cy: float,
                scale: tuple[float, float] | None = None) -> int | None:
    """The row nearest to ``(cx, cy)``, distances measured in units of ``scale`` (default: each
    column's spread), so that a click picks the star that looks nearest on the plot."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    if scale is None:
        scale = (float(np.nanstd(x)) or 1.0, float(np.nanstd(y)) or 1.0)
    d = ((x - cx) / scale[0]) ** 2 + ((y - cy) / scale[1]) ** 2
    d[~ok] = np.inf
    return int(np.argmin(d))


class _LinkedViews(LinkedViews):
    """The kit's linked views with the pixel grid built from sorted axis ranges: an inverted axis (the
    HR diagram's magnitudes) reports its range as ``(max, min)``, on which datashader bins nothing, so
    the highlight (and the base after a zoom) came out empty. To be fixed in ``explore.viz.linked``."""

    def _grid(self, x: str, y: str, x_range: Any, y_range: Any, *args: Any, **kwargs: Any) -> Any:
        def ordered(r: Any) -> Any:
            return None if r is None else tuple(sorted(map(float, r)))

        return super()._grid(x, y, ordered(x_range), ordered(y_range), *args, **kwargs)


class _SelectionActions(SelectionActions):
    """The kit's selection actions, creating the export folder first: the platform's workspace refuses
    to write into a folder that does not exist (``<home>/selections`` on a first export). To be fixed in
    ``explore.viz.linked``."""

    def export(self, *args: Any) -> str | None:
        path = self.export_path.strip() or self.default_export_path()
        if self.linked.n_selected and "/" in path:
            try:
                self.session.makedirs(path.rsplit("/", 1)[0])
            except (PermissionError, FileNotFoundError, NotImplementedError):
                pass  # the export itself reports the refusal
        return super().export(*args)


# ---- one plot panel --------------------------------------------------------------------------------

class PlotPanel(param.Parameterized):
    """What one of the plot panels shows: a plot type, or any two columns."""

    kind = param.Selector(default="UMAP", objects=[*PLOT_KINDS, TWO_COLUMNS], label="Plot")
    x = param.Selector(default=None, objects=[], label="x column")
    y = param.Selector(default=None, objects=[], label="y column")
    invert_y = param.Boolean(default=False, label="Invert y")

    def axes(self) -> tuple[str, str, str, bool]:
        """``(view name, x column, y column, inverted y)`` of the current choice."""
        if self.kind == TWO_COLUMNS:
            return f"{self.y}_vs_{self.x}", str(self.x), str(self.y), self.invert_y
        return PLOT_KINDS[self.kind]


# ---- the view --------------------------------------------------------------------------------------

class SDiscoView(pn.viewable.Viewer):
    """The interactive S-Disco view for one session.

    Parameters
    ----------
    session
        The platform as the user sees it.
    dataset
        Workspace folder of the survey to open; default: the one named by an incoming selection, else
        the demo survey, else the first run output found.
    """

    dataset = param.Selector(default=None, objects=[], label="Survey")
    color = param.Selector(default=None, objects=[], label="Colour by")
    snr_min = param.Number(default=20.0, bounds=(0, None), softbounds=(0, 200), step=5,
                           label="SNR threshold of the selection spectra")
    ranking_method = param.Selector(default="pearson", objects=["pearson", "spearman"], label="Correlation")
    star = param.Integer(default=None, allow_None=True, doc="table row of the star last clicked")
    message = param.String(default="", doc="what the view tells the user (an error, an incoming selection)")
    hovered = param.String(default="", doc="the star nearest to the cursor on any plot, with its values")
    linked = param.ClassSelector(class_=LinkedViews, default=None, allow_None=True, precedence=-1)

    def __init__(self, session: Session, dataset: str | None = None, *, n_panels: int = 4, **params: Any) -> None:
        super().__init__(**params)
        self.session = session
        self.survey: Survey | None = None
        self.notes: AnnotationLayer | None = None
        self.actions: SelectionActions | None = None
        self.panels = [PlotPanel(kind=DEFAULT_PANELS[i % len(DEFAULT_PANELS)]) for i in range(n_panels)]
        self._body = pn.Column(sizing_mode="stretch_width")
        self._layout = pn.Column(sizing_mode="stretch_width")
        self._rank_table: Table | None = None
        self._numeric: list[str] = []
        surveys = find_surveys(session)
        incoming = getattr(session, "incoming_selection", None)
        wanted = dataset
        if wanted is None and incoming is not None and incoming.dataset.endswith("/scores.parquet"):
            wanted = incoming.dataset.rsplit("/", 1)[0]
        if wanted is not None and wanted not in surveys:
            surveys.insert(0, wanted)
        self.param.dataset.objects = surveys
        if not surveys:
            self.message = ("No S-Disco survey found: run S-Disco on your spectra (its output folder holds "
                            "scores.parquet), or ask the administrator to prepare the demo data.")
            self._compose()
            return
        with param.parameterized.discard_events(self):
            self.dataset = wanted or surveys[0]
        self.load()
        if incoming is not None:
            self.apply_incoming()
        for panel in self.panels:
            panel.param.watch(self._panel_changed, ["kind", "x", "y", "invert_y"])
        self.param.watch(self._refresh_tables, "ranking_method")

    # ---- loading ---------------------------------------------------------------------------------
    @param.depends("dataset", watch=True)
    def load(self) -> None:
        """Open the chosen survey and rebuild the linked plots."""
        try:
            survey = load_survey(self.session, self.dataset)
        except (FileNotFoundError, PermissionError, OSError, ValueError, KeyError) as exc:
            self.message = f"Could not open {self.dataset}: {exc}"
            return
        self.survey = survey
        self._rank_table = None
        numeric = [c for c in survey.table.columns
                   if c != "id" and pd.api.types.is_numeric_dtype(survey.table[c])]
        self._numeric = numeric
        colour = next((c for c in SCORE_PREFERENCE if c in numeric), numeric[0] if numeric else None)
        with param.parameterized.discard_events(self):
            self.param.color.objects = numeric
            if self.color not in numeric:
                self.color = colour
            self.star = None
        for panel in self.panels:
            with param.parameterized.discard_events(panel):
                panel.param.x.objects = numeric
                panel.param.y.objects = numeric
                if panel.x not in numeric:
                    panel.x = numeric[0] if numeric else None
                if panel.y not in numeric:
                    panel.y = numeric[min(1, len(numeric) - 1)] if numeric else None
        linked = _LinkedViews(survey.table, id_column="id", dataset=survey.dataset,
                             datashade_threshold=0, plot_width=430, plot_height=330)
        self.notes = AnnotationLayer(self.session, linked=linked)
        self.actions = _SelectionActions(linked, self.session, apps=self._send_targets())
        self.linked = linked
        n_spec = int((survey.spectra_row >= 0).sum())
        self.message = (f"{len(survey.table):,} stars from {survey.folder}"
                        + ("" if survey.spectra is not None else " (spectra not found: no spectrum plots)")
                        + (f", {n_spec:,} with spectra" if survey.spectra is not None and n_spec < len(survey.table)
                           else ""))
        self._rebuild()
        self._compose()

    def _send_targets(self) -> list[str]:
        from importlib.metadata import entry_points

        installed = {ep.name for ep in entry_points(group="explore.apps")}
        return [a for a in STELLAR_APPS if a in installed] or list(STELLAR_APPS)

    def apply_incoming(self) -> int:
        """Select the stars of the selection this session was opened with; returns how many are here."""
        incoming = self.session.incoming_selection
        if incoming is None or self.linked is None:
            return 0
        n = self.linked.select_ids(incoming.ids)
        missing = len(incoming.ids) - n
        self.message = (f"Opened with the selection “{incoming.name}” from {incoming.app}: {n:,} stars selected"
                        + (f" ({missing:,} of its ids are not in this survey)" if missing else "") + ".")
        return n

    # ---- the science of a selection (through the sdisco modules) ---------------------------------
    def _spectrum_rows(self, positions: np.ndarray) -> np.ndarray:
        rows = self.survey.spectra_row[positions]
        return rows[rows >= 0]

    def selection_stats(self) -> SelectionSpectrum | None:
        """Mean, median and 16-84 % band of the selected stars' spectra above ``snr_min``."""
        if self.survey is None or self.survey.spectra is None or self.linked is None:
            return None
        pos = self.linked.selection
        rows = self.survey.spectra_row[pos]
        keep = rows >= 0
        snr_by_spectrum = np.full(len(self.survey.spectra), np.nan)
        snr_by_spectrum[rows[keep]] = self.survey.snr[pos[keep]]
        return selection_spectrum(self.survey.spectra, np.sort(rows[keep]), snr_min=self.snr_min,
                                  snr=snr_by_spectrum)

    def ranking(self) -> Table:
        """Every numeric column ranked by how strongly it sets the selection apart from the whole survey."""
        if self.survey is None or self.linked is None:
            return Table()
        if self._rank_table is None:
            self._rank_table = Table.from_pandas(self.survey.table[self._numeric])
        return correlation_ranking(self._rank_table, self.linked.selection, method=self.ranking_method)

    # ---- plots -----------------------------------------------------------------------------------
    def _panel_changed(self, *_: Any) -> None:
        self._rebuild()

    @param.depends("color", watch=True)
    def _color_changed(self) -> None:
        self._rebuild()

    def scatter(self, panel: PlotPanel) -> Any:
        """The linked, datashaded plot of one panel, with a click that picks the nearest star."""
        linked = self.linked
        view, x, y, invert = panel.axes()
        missing = [c for c in (x, y) if c not in linked.data.columns or c not in self._numeric]
        if missing:
            return pmui.Alert(object=f"{panel.kind}: this survey has no column {', '.join(missing)}.",
                              severity="info", width=linked.plot_width)
        title = panel.kind if panel.kind != TWO_COLUMNS else f"{y} vs {x}"
        color = self.color if self.color in self._numeric else None
        plot = linked.scatter(x, y, color=color, invert_yaxis=invert, title=title, name=view)
        # pointer streams on an inner layer, as the kit's box and lasso streams (the annotation layer
        # wraps the returned overlay in another one)
        layer = linked.highlight(view)
        tap = hv.streams.Tap(source=layer)
        tap.add_subscriber(lambda x=None, y=None, _c=(x, y): self._on_tap(_c[0], _c[1], x, y))
        pointer = hv.streams.PointerXY(source=layer)
        pointer.add_subscriber(lambda x=None, y=None, _c=(x, y): self._on_hover(_c[0], _c[1], x, y))
        return self.notes.wrap(plot, view=view)

    def _on_hover(self, xcol: str, ycol: str, cx: float | None, cy: float | None) -> None:
        if cx is None or cy is None or self.survey is None:
            return
        row = nearest_row(self.linked.column(xcol), self.linked.column(ycol), cx, cy)
        if row is None:
            return
        star = self.survey.table.iloc[row]
        values = [f"{c} {_fmt(star[c])}" for c in (xcol, ycol, self.color, *KEY_COLUMNS[1:6])
                  if c and c in star.index and c != "id"]
        self.hovered = f"**{star['id']}** (nearest to the cursor; click to show it): " + ", ".join(
            dict.fromkeys(values))

    def _on_tap(self, xcol: str, ycol: str, cx: float | None, cy: float | None) -> None:
        if cx is None or cy is None:
            return
        self.star = nearest_row(self.linked.column(xcol), self.linked.column(ycol), cx, cy)

    def _panel_controls(self, panel: PlotPanel) -> pn.viewable.Viewable:
        two = panel.param.kind.rx() == TWO_COLUMNS
        return pn.Row(
            pmui.Select.from_param(panel.param.kind, width=200, label="Plot"),
            pmui.Select.from_param(panel.param.x, width=120, visible=two),
            pmui.Select.from_param(panel.param.y, width=120, visible=two),
            pmui.Checkbox.from_param(panel.param.invert_y, visible=two),
        )

    def _rebuild(self) -> None:
        if self.linked is None:
            return
        cells = [pn.Column(self._panel_controls(p), self.scatter(p)) for p in self.panels]
        grid = pn.GridBox(*cells, ncols=2)
        self._body.objects = [grid]

    # ---- the selection and the star ----------------------------------------------------------------
    def spectrum_plot(self, *_: Any) -> Any:
        stats = self.selection_stats()
        xlabel = "wavelength (Å)"
        if stats is None:
            return pmui.Alert(object="No spectra for this survey.", severity="info")
        wave = stats.wavelength.to_value("Angstrom") if hasattr(stats.wavelength, "unit") else stats.wavelength
        n_sel = self.linked.n_selected
        if stats.n_used == 0:
            title = ("select stars on a plot to see their spectra" if n_sel == 0 else
                     f"none of the {n_sel:,} selected stars has SNR above {self.snr_min:g}")
        else:
            title = f"{stats.n_used:,} of {n_sel:,} selected stars (SNR > {self.snr_min:g})"
        x = hv.Dimension("wavelength", label=xlabel)
        flux = hv.Dimension("flux", label="normalised flux")
        band = hv.Area((wave, stats.p16, stats.p84), kdims=[x], vdims=[flux, "p84"], label="16-84 %").opts(
            color="#1565c0", alpha=0.25, line_alpha=0)
        median = hv.Curve((wave, stats.median), kdims=[x], vdims=[flux], label="median").opts(color="#1565c0", line_width=1.5)
        mean = hv.Curve((wave, stats.mean), kdims=[x], vdims=[flux], label="mean").opts(color="#e65100", line_width=1, line_dash="dashed")
        return (band * median * mean).opts(title=title, legend_position="bottom_right", responsive=True,
                                           height=300, tools=["hover"])

    def star_plot(self, star: int | None = None) -> Any:
        star = self.star if star is None else star
        if star is None or self.survey is None:
            return pmui.Typography("Click a star on any plot to see its spectrum and values.", variant="body2")
        row = self.survey.table.iloc[star]
        values = [(c, row[c]) for c in (*KEY_COLUMNS, *self.survey.table.columns) if c in row.index]
        values = list(dict.fromkeys(values))
        frame = pd.DataFrame({"column": [c for c, _ in values], "value": [_fmt(v) for _, v in values]})
        table = pn.widgets.Tabulator(frame, show_index=False, disabled=True, height=260, width=260,
                                     pagination=None, layout="fit_data_fill")
        spectra, srow = self.survey.spectra, int(self.survey.spectra_row[star])
        if spectra is None or srow < 0:
            return pn.Row(table, pmui.Typography(f"No spectrum for {row['id']}.", variant="body2"))
        one = spectra[[srow]]
        flux = np.asarray(one.flux[0], float)
        bad = one.bad_pixels()[0]
        flux = np.where(bad, np.nan, flux)
        wave = spectra.wavelength.to_value("Angstrom")
        curve = hv.Curve((wave, flux), kdims=[hv.Dimension("wavelength", label="wavelength (Å)")],
                         vdims=[hv.Dimension("flux", label="normalised flux")]).opts(
            color="#212121", line_width=1, responsive=True, height=260, tools=["hover"],
            title=f"{row['id']}  (SNR {self.survey.snr[star]:.0f})")
        return pn.Row(table, pn.pane.HoloViews(curve, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def _refresh_tables(self, *_: Any) -> None:
        """Fill the ranking and the selected-stars tables (widgets kept, values replaced)."""
        if self.linked is None or not hasattr(self, "_ranking_widget"):
            return
        if self.linked.n_selected == 0:
            self._ranking_widget.value = pd.DataFrame(columns=["column", "r", "abs_r", "mean_selection",
                                                               "mean_all", "n_valid"])
            self._table_widget.value = self.survey.table.iloc[:0]
            return
        self._ranking_widget.value = self.ranking().to_pandas().round(4)
        rows = self.linked.selected_rows()
        first = [c for c in KEY_COLUMNS if c in rows.columns]
        self._table_widget.value = rows[first + [c for c in rows.columns if c not in first]]

    # ---- layout ------------------------------------------------------------------------------------
    def _compose(self) -> None:
        """Lay out the view for the current survey (its linked views are new after each load)."""
        controls = pn.Row(
            pmui.Select.from_param(self.param.dataset, width=340),
            pmui.Select.from_param(self.param.color, width=180),
            pmui.FloatInput.from_param(self.param.snr_min, width=200),
            pmui.Select.from_param(self.param.ranking_method, width=150),
        )
        status = pn.pane.Markdown(self.param.message, margin=(0, 10))
        if self.linked is None:
            self._layout.objects = [controls, status]
            return
        sel = self.linked.param.selection
        spectrum = pn.pane.HoloViews(pn.bind(lambda *_: self.spectrum_plot(), sel, self.param.snr_min),
                                     sizing_mode="stretch_width", min_height=300)
        self._ranking_widget = pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True, height=320,
                                                    pagination=None, sizing_mode="stretch_width")
        self._table_widget = pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True,
                                                  pagination="remote", page_size=10, height=360,
                                                  sizing_mode="stretch_width")
        self.linked.param.watch(self._refresh_tables, "selection")
        self._refresh_tables()
        hint = pmui.Typography("Select stars on a plot: the columns that set them apart are ranked here, "
                               "their rows listed in the next tab.", variant="body2")
        ranking = pn.Column(hint, self._ranking_widget, sizing_mode="stretch_width")
        table = self._table_widget
        star = pn.panel(pn.bind(self.star_plot, self.param.star))
        side = pn.Column(
            pmui.Typography("Selection spectrum", variant="h6"), spectrum,
            pmui.Typography("Star", variant="h6"), star,
            pmui.Tabs(("Correlation ranking", ranking), ("Selected stars", table),
                      ("Save / send", self.actions), dynamic=False, sizing_mode="stretch_width"),
            sizing_mode="stretch_width", min_width=520,
        )
        hovered = pn.pane.Markdown(self.param.hovered, margin=(0, 10), height=40)
        left = pn.Column(self.linked.controls(), hovered, self._body, self.notes, width=900)
        self._layout.objects = [controls, status, pn.Row(left, side, sizing_mode="stretch_width")]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    return str(value)
