"""S-Phot's interactive view: one star's SED with its model, and the sample in linked plots.

:class:`SPhotView` is a Panel viewer whose parameters are its state: the photometry table (and
optionally the results of a batch run) from the workspace, the model grid and extinction mode, the
current star, and the per-band table of that star, whose ``use`` column the user edits to refit the star.
It holds no science: fits come from :mod:`explore.apps.sphot.fit`, the platform is reached only through
the :class:`explore.sdk.Session` (workspace, annotations, the selection bus).

For the sample: the HR diagram (log Teff, log L), the strongest excess against luminosity, and the
strongest excess on the sky (Galactic l, b) are :class:`explore.viz.linked.LinkedViews` scatters sharing
one selection; selecting stars there shows the first of them, annotations attach to every plot, and
the selection can be saved, sent to another app or exported.
"""

from __future__ import annotations

import pathlib
from typing import Any

import astropy.units as u
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from astropy.coordinates import SkyCoord
from astropy.table import Table

from explore.astro.filters import get_filter
from explore.astro.tables import read_table
from explore.sdk import Session, WorkspaceFile
from explore.viz.annotate import AnnotationLayer
from explore.viz.linked import LinkedViews, SelectionActions

from .batch import fit_table
from .fit import SEDFitter, photometry_from_table

__all__ = ["SPhotView", "band_table"]

hv.extension("bokeh", logo=False)

#: the workspace files offered as photometry or results (".xml" is left out: most are labels, not VOTables)
TABLE_SUFFIXES = {".csv", ".ecsv", ".fits", ".fit", ".parquet", ".vot"}
NONE = "(fit in the view)"
NU_UM = 2.99792458e14  # c in micron / s


def band_table(photometry: Table, results: Table, row: int, filter_ids: list[str]) -> pd.DataFrame:
    """The per-band table of one star: survey, filter, wavelength (um), magnitude and error, observed and
    model flux density (Jy), excess significance, and whether the band was used in the fit."""
    records = []
    for fid in filter_ids:
        filt = get_filter(fid)
        mag = float(photometry[fid][row]) if fid in photometry.colnames else np.nan
        err_col = f"{fid}_err"
        err = float(photometry[err_col][row]) if err_col in photometry.colnames else np.nan
        zp = filt.zero_point().to_value(u.Jy)
        flux = zp * 10 ** (-0.4 * mag)
        model = float(results[f"{fid}_model"][row])
        records.append({
            "survey": fid.split("/")[0],
            "filter": fid,
            "wavelength": filt.wavelength_pivot.to_value(u.um),
            "mag": mag,
            "mag_err": err,
            "flux": flux,
            "flux_err": flux * 0.4 * np.log(10) * err,
            "model": zp * 10 ** (-0.4 * model),
            "excess_sigma": float(results[f"{fid}_excess_sigma"][row]),
            "use": bool(results[f"{fid}_used"][row]) if np.isfinite(mag) else False,
        })
    frame = pd.DataFrame.from_records(records)
    return frame.sort_values("wavelength").reset_index(drop=True)


class SPhotView(pn.viewable.Viewer):
    """The interactive S-Phot view for one session.

    Parameters
    ----------
    session
        The platform seen by the user.
    photometry
        Workspace path of the photometry table to open; default the demo table, else the first table
        found in the user's home.
    """

    photometry_file = param.Selector(default=None, objects=[], label="Photometry table")
    results_file = param.Selector(default=NONE, objects=[NONE], label="S-Phot results")
    grid = param.Selector(default="ck04", objects=["ck04", "blackbody"], label="Model grid")
    extinction = param.Selector(default="none", objects=["none", "fit"], label="Extinction")
    star = param.Selector(default=None, objects=[], label="Star")
    bands = param.DataFrame(default=None, precedence=-1, doc="the per-band table of the current star")
    results = param.Parameter(default=None, precedence=-1, doc="the fit results (astropy Table)")
    message = param.String(default="", precedence=-1)

    def __init__(self, session: Session, photometry: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.session = session
        self.photometry: Table | None = None
        self.linked: LinkedViews | None = None
        self.notes: AnnotationLayer | None = None
        self._row: dict[str, int] = {}
        tables = self._scan_workspace()
        self.param.photometry_file.objects = [t for t in tables if "result" not in t.rsplit("/", 1)[-1]]
        self.param.results_file.objects = [NONE, *[t for t in tables if "result" in t.rsplit("/", 1)[-1]]]
        chosen = photometry or next((t for t in self.param.photometry_file.objects if "demo/" in t), None) or next(
            iter(self.param.photometry_file.objects), None)
        if chosen is None:
            self.message = "No photometry table found: put a CSV / FITS / Parquet table in your workspace."
            return
        with param.parameterized.discard_events(self):
            if chosen not in self.param.photometry_file.objects:
                self.param.photometry_file.objects = [*self.param.photometry_file.objects, chosen]
            self.photometry_file = chosen
        self.load()

    # ---- workspace ------------------------------------------------------------------------------
    def _scan_workspace(self) -> list[str]:
        found: list[str] = []
        for root in (self.session.home(), "demo/sphot"):
            try:
                self._walk(root, 2, found)
            except (FileNotFoundError, PermissionError):
                continue
        return sorted(dict.fromkeys(found))

    def _walk(self, path: str, depth: int, out: list[str]) -> None:
        entries: list[WorkspaceFile] = self.session.listdir(path)
        for entry in entries:
            if entry.is_dir and depth > 0:
                self._walk(entry.path, depth - 1, out)
            elif pathlib.PurePosixPath(entry.name).suffix.lower() in TABLE_SUFFIXES and "truth" not in entry.name:
                out.append(entry.path)

    def _read(self, path: str) -> Table:
        return read_table(self.session.read_bytes(path), path)

    # ---- loading and fitting ----------------------------------------------------------------------
    @param.depends("photometry_file", "results_file", "grid", "extinction", watch=True)
    def load(self) -> None:
        """Read the photometry (and results) and fit what has no results yet."""
        if self.photometry_file is None:
            return
        self.photometry = self._read(self.photometry_file)
        if self.results_file != NONE:
            results = self._read(self.results_file)
            self.filter_ids = [c[: -len("_model")] for c in results.colnames if c.endswith("_model")]
        else:
            results = fit_table(self.photometry, grid=self.grid, extinction=self.extinction)
            self.filter_ids = list(results.meta["filters"])
            for note in results.meta.get("column_messages", []):
                self.message = note
        self.results = results
        ids = [str(i) for i in np.asarray(results["id"])]
        self._row = {sid: i for i, sid in enumerate(ids)}
        self._build_sample()
        self.param.star.objects = ids
        first = next((sid for sid, ir in zip(ids, np.asarray(results["ir_excess"], bool), strict=True) if ir), ids[0])
        if self.star == first:
            self._show_star()
        else:
            self.star = first

    def _build_sample(self) -> None:
        res = self.results
        excess = [np.asarray(res[f"{f}_excess_sigma"], float) for f in self.filter_ids]
        lam = np.array([get_filter(f).wavelength_pivot.to_value(u.um) for f in self.filter_ids])
        stack = np.column_stack(excess) if excess else np.zeros((len(res), 0))
        finite = np.where(np.isfinite(stack), stack, -np.inf)
        ir = finite[:, lam > 2.0].max(axis=1) if (lam > 2.0).any() else np.full(len(res), -np.inf)
        uv = finite[:, lam < 0.4].max(axis=1) if (lam < 0.4).any() else np.full(len(res), -np.inf)
        strongest = np.clip(np.where(np.isfinite(finite.max(axis=1)), finite.max(axis=1), np.nan), -10, 100)
        with np.errstate(divide="ignore", invalid="ignore"):
            frame = pd.DataFrame({
                "id": [str(i) for i in np.asarray(res["id"])],
                "log_teff": np.log10(np.asarray(res["teff"], float)),
                "log_l": np.log10(np.asarray(res["luminosity"], float)),
                "max_excess_sigma": strongest,
                "ir_excess_sigma": np.clip(np.where(np.isfinite(ir), ir, np.nan), -10, 100),
                "uv_excess_sigma": np.clip(np.where(np.isfinite(uv), uv, np.nan), -10, 100),
            })
        if "ra" in res.colnames:
            gal = SkyCoord(ra=np.asarray(res["ra"], float) * u.deg, dec=np.asarray(res["dec"], float) * u.deg).galactic
            frame["l"] = np.where(gal.l.deg > 180, gal.l.deg - 360, gal.l.deg)
            frame["b"] = gal.b.deg
        else:
            frame["l"] = np.nan
            frame["b"] = np.nan
        self.sample = frame
        self.linked = LinkedViews(frame, id_column="id", dataset=self.photometry_file or "")
        self.linked.param.watch(self._on_selection, "selection")
        self.linked.select_incoming(self.session)
        self.notes = AnnotationLayer(self.session, linked=self.linked)

    def _on_selection(self, event: Any) -> None:
        if self.linked is not None and self.linked.n_selected:
            self.star = str(self.linked.selected_ids()[0])

    @param.depends("star", watch=True)
    def _show_star(self) -> None:
        if self.star is None or self.results is None:
            return
        self.bands = band_table(self.photometry, self.results, self._row[self.star], self.filter_ids)

    def refit(self, use: dict[str, bool] | None = None) -> Table:
        """Refit the current star with the bands marked ``use`` (default: the ``use`` column of
        :attr:`bands`); the results and the band table follow. Returns the star's new result row."""
        row = self._row[self.star]
        if use is None:
            use = dict(zip(self.bands["filter"], self.bands["use"], strict=True))
        one = self.photometry[row : row + 1].copy()
        for fid in self.filter_ids:
            if fid in one.colnames and not use.get(fid, True):
                one[fid] = np.nan
        fitter = SEDFitter(self.grid, extinction=self.extinction)
        fitter.fit(photometry_from_table(one))
        new = fitter.results_
        for name in self.results.colnames:
            if name in new.colnames:
                value = new[name][0]
                if name.endswith("_excess_sigma") and not np.isfinite(value):
                    # an excluded band keeps its excess against the new model
                    fid = name[: -len("_excess_sigma")]
                    value = self._excess(fid, row, float(new[f"{fid}_model"][0]))
                self.results[name][row] = value
        self._build_sample_row(row)
        self.bands = band_table(self.photometry, self.results, row, self.filter_ids)
        self.bands["use"] = [use.get(f, False) and np.isfinite(m) and bool(self.results[f"{f}_used"][row])
                             for f, m in zip(self.bands["filter"], self.bands["mag"], strict=True)]
        return self.results[row]

    def _excess(self, fid: str, row: int, model_mag: float) -> float:
        mag = float(self.photometry[fid][row])
        err = float(self.photometry[f"{fid}_err"][row]) if f"{fid}_err" in self.photometry.colnames else 0.1
        sigma = np.hypot(err, 0.02)
        ratio = 10 ** (-0.4 * (mag - model_mag))
        return float((1 - 1 / ratio) / (0.4 * np.log(10) * sigma))

    def _build_sample_row(self, row: int) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            self.sample.loc[row, "log_teff"] = np.log10(float(self.results["teff"][row]))
            self.sample.loc[row, "log_l"] = np.log10(float(self.results["luminosity"][row]))

    # ---- plots --------------------------------------------------------------------------------------
    @param.depends("bands")
    def sed_plot(self) -> hv.Overlay:
        """The SED (nu F_nu against wavelength, log-log): model, fitted and excluded points."""
        if self.bands is None:
            return hv.Overlay([hv.Curve([])])
        b = self.bands
        nu = NU_UM / b["wavelength"].to_numpy()
        nufnu = b["flux"].to_numpy() * nu * 1e-23
        err = b["flux_err"].to_numpy() * nu * 1e-23
        model = b["model"].to_numpy() * nu * 1e-23
        used = b["use"].to_numpy(bool)
        seen = np.isfinite(nufnu)
        frame = pd.DataFrame({"wavelength": b["wavelength"], "nufnu": nufnu, "err": err, "model": model, "filter": b["filter"]})
        curve = hv.Curve(frame, "wavelength", "model", label="model").opts(color="gray")
        fitted = frame[seen & used]
        other = frame[seen & ~used]
        pts = hv.Scatter(fitted, "wavelength", ["nufnu", "filter"], label="fitted").opts(size=7, color="#1e88e5", tools=["hover"])
        bars = hv.ErrorBars(fitted, "wavelength", ["nufnu", "err"])
        rejected = hv.Scatter(other, "wavelength", ["nufnu", "filter"], label="rejected or excluded").opts(
            size=10, marker="x", color="#e53935", tools=["hover"])
        row = self._row.get(self.star, 0)
        title = f"{self.star}: Teff {float(self.results['teff'][row]):.0f} K, {self.results['class'][row] if 'class' in self.results.colnames else ''}"
        # the y range spans the measured points (a cool star's model plunges by decades in the ultraviolet)
        shown = np.concatenate([nufnu[seen], model[seen & np.isfinite(model)]])
        shown = shown[shown > 0]
        ylim = (float(shown.min()) / 5, float(shown.max()) * 3) if len(shown) else (None, None)
        return (curve * bars * pts * rejected).opts(logx=True, logy=True, width=560, height=360, title=title, ylim=ylim,
                                                    xlabel="wavelength (µm)", ylabel="ν F_ν (erg s⁻¹ cm⁻²)", legend_position="bottom_left")

    @param.depends("bands")
    def star_summary(self) -> str:
        """One line on the current star: its fitted parameters, chi2 and bands, class and status."""
        if self.bands is None or self.star is None:
            return ""
        r = self.results[self._row[self.star]]

        def val(name: str, fmt: str) -> str:
            v = float(r[name]) if name in r.colnames else np.nan
            return format(v, fmt) if np.isfinite(v) else "–"

        parts = [f"**{self.star}**",
                 f"Teff {val('teff', '.0f')} ± {val('teff_err', '.0f')} K",
                 f"R {val('radius', '.3g')} R☉", f"L {val('luminosity', '.3g')} L☉", f"A_V {val('av', '.2f')}",
                 f"χ²_red {val('chi2_red', '.2f')} on {int(r['n_bands'])} bands"]
        if "class" in r.colnames:
            parts.append(str(r["class"]).replace("_", " "))
        text = " · ".join(parts)
        message = str(r["message"]).strip() if "message" in r.colnames else ""
        return text + (f"  \n*{message}*" if message else "")

    @param.depends("bands")
    def residual_plot(self) -> hv.Overlay:
        """Excess significance of every band of the current star."""
        if self.bands is None:
            return hv.Overlay([hv.Curve([])])
        b = self.bands
        used = b["use"].to_numpy(bool)
        zero = hv.HLine(0).opts(color="gray")
        fit = hv.Scatter(b[used], "wavelength", "excess_sigma").opts(size=7, color="#1e88e5")
        out = hv.Scatter(b[~used], "wavelength", "excess_sigma").opts(size=10, marker="x", color="#e53935")
        return (zero * fit * out).opts(logx=True, width=560, height=180, xlabel="wavelength (µm)", ylabel="excess (σ)")

    def band_widget(self) -> pn.widgets.Tabulator:
        """The per-band table; a click on the tick or cross of ``use`` includes or excludes the band and
        refits the star."""
        from bokeh.models.widgets.tables import NumberFormatter, ScientificFormatter

        columns = ["use", "survey", "filter", "wavelength", "mag", "mag_err", "flux", "model", "excess_sigma",
                   "flux_err"]
        sci = ScientificFormatter(precision=3, power_limit_low=1, nan_format="–")
        table = pn.widgets.Tabulator(
            self.bands[columns], show_index=False, width=920, selectable=False, layout="fit_data_table",
            editors={c: None for c in columns}, hidden_columns=["flux_err"],
            formatters={"use": {"type": "tickCross"}, "wavelength": NumberFormatter(format="0.000"),
                        "mag": NumberFormatter(format="0.000", nan_format="–"),
                        "mag_err": NumberFormatter(format="0.000", nan_format="–"),
                        "flux": sci, "model": sci, "excess_sigma": NumberFormatter(format="0.0", nan_format="–")},
            titles={"wavelength": "λ (µm)", "mag_err": "± mag", "flux": "F_ν (Jy)", "model": "model (Jy)",
                    "excess_sigma": "excess (σ)"},
            widths={"use": 60, "survey": 115, "filter": 170, "wavelength": 80, "mag": 75, "mag_err": 80,
                    "flux": 95, "model": 115, "excess_sigma": 115},
            text_align={"use": "center"})
        def clicked(event: Any) -> None:
            # one click on a tick or cross toggles the band (an editor would take two clicks and a blur)
            if event.column != "use" or event.row is None:
                return
            shown = table.value
            if not np.isfinite(shown["mag"].iloc[event.row]):
                return  # no measurement in this band
            use = dict(zip(shown["filter"], shown["use"], strict=True))
            fid = shown["filter"].iloc[event.row]
            use[fid] = not use[fid]
            self.refit(use)

        table.on_click(clicked)

        def follow(*_: Any) -> None:
            table.value = self.bands[columns]

        self.param.watch(follow, "bands")
        return table

    def sample_plots(self) -> dict[str, Any]:
        """The linked sample plots, each wrapped with its annotations."""
        linked = self.linked
        plots = {
            "hr": linked.scatter("log_teff", "log_l", color="max_excess_sigma", name="hr", title="HR diagram"),
            "excess_vs_luminosity": linked.scatter("log_l", "max_excess_sigma", name="excess_vs_luminosity",
                                                   title="strongest excess vs luminosity"),
            "excess_vs_position": linked.scatter("l", "b", color="max_excess_sigma", name="excess_vs_position",
                                                 title="strongest excess on the sky (Galactic)"),
        }
        labels = {"log_teff": "log Teff (K)", "log_l": "log L (L☉)", "max_excess_sigma": "strongest excess (σ)",
                  "l": "Galactic l (deg)", "b": "Galactic b (deg)"}
        for name, plot in plots.items():
            # element options: the annotation layer overlays the plot again, which drops overlay options
            x, y = linked.axes(name)
            axes = dict(xlabel=labels[x], ylabel=labels[y], invert_xaxis=name in ("hr", "excess_vs_position"))
            if name != "excess_vs_luminosity":
                axes["clabel"] = labels["max_excess_sigma"]
            plots[name] = plot.opts(hv.opts.Points(**axes), hv.opts.Image(**axes))
        return {name: self.notes.wrap(plot, view=name) for name, plot in plots.items()}

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Param(self, parameters=["photometry_file", "results_file", "grid", "extinction", "star"],
                            show_name=False, default_layout=pn.Row,
                            widgets={"photometry_file": {"width": 280}, "results_file": {"width": 280},
                                     "grid": {"width": 120}, "extinction": {"width": 120},
                                     "star": {"type": pn.widgets.AutocompleteInput, "width": 200,
                                              "case_sensitive": False, "search_strategy": "includes"}})
        if self.results is None:
            return pn.Column(controls, pn.pane.Alert(self.message or "Nothing to show", alert_type="warning"))
        star = pn.Column(pn.pane.Markdown(self.star_summary, width=760), pn.pane.HoloViews(self.sed_plot), pn.pane.HoloViews(self.residual_plot), self.band_widget())
        sample = self.sample_plots()
        actions = SelectionActions(self.linked, self.session)
        return pn.Column(
            controls,
            pn.pane.Markdown(self.param.message, visible=self.param.message.rx.bool()),
            pn.Row(star, pn.Column(self.linked.controls(), sample["hr"], actions)),
            pn.Row(sample["excess_vs_luminosity"], sample["excess_vs_position"]),
            self.notes,
        )
