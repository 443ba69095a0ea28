"""Previews of workspace files: CSV, FITS tables and images, Parquet, text and pictures."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import panel as pn

MAX_ROWS = 200
MAX_TEXT = 64 * 1024
MAX_BYTES = 50 * 1024 * 1024


def _table(frame: pd.DataFrame, caption: str) -> pn.viewable.Viewable:
    return pn.Column(
        pn.pane.Markdown(caption),
        pn.widgets.Tabulator(frame.head(MAX_ROWS), show_index=False, disabled=True, height=360,
                             sizing_mode="stretch_width", layout="fit_data_table"),
        sizing_mode="stretch_width",
    )


def _fits(data: bytes, name: str) -> pn.viewable.Viewable:
    from astropy.io import fits
    from astropy.table import Table

    with fits.open(io.BytesIO(data), memmap=False) as hdus:
        summary = "\n".join(f"- HDU {i} `{h.name}`: {type(h).__name__}"
                            + (f" {h.data.shape}" if getattr(h, "data", None) is not None and hasattr(h.data, "shape") else "")
                            for i, h in enumerate(hdus))
        for hdu in hdus:
            if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)) and hdu.data is not None:
                table = Table(hdu.data)
                scalar = [c for c in table.colnames if table[c].ndim == 1]
                frame = table[scalar][:MAX_ROWS].to_pandas()
                return _table(frame, f"**{name}**: table HDU `{hdu.name}`, {len(table):,} rows, "
                                     f"{len(table.colnames)} columns\n\n{summary}")
        for hdu in hdus:
            if hdu.data is not None and getattr(hdu.data, "ndim", 0) >= 1:
                return _image_array(np.asarray(hdu.data, dtype=float), f"**{name}**: HDU `{hdu.name}`\n\n{summary}")
    return pn.pane.Markdown(f"**{name}**: no data in this FITS file\n\n{summary}")


def _image_array(array: np.ndarray, caption: str) -> pn.viewable.Viewable:
    import holoviews as hv

    if array.ndim == 1:
        return pn.Column(pn.pane.Markdown(caption), pn.pane.HoloViews(
            hv.Curve((np.arange(array.size), array), "pixel", "value").opts(responsive=True, height=320)))
    while array.ndim > 2:
        array = array[0]
    step = max(1, int(np.ceil(max(array.shape) / 1024)))
    view = array[::step, ::step]
    finite = view[np.isfinite(view)]
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0, 1))
    image = hv.Image(view[::-1], bounds=(0, 0, array.shape[1], array.shape[0])).opts(
        cmap="gray", clim=(float(lo), float(hi)), colorbar=True, responsive=True, height=420, data_aspect=1)
    return pn.Column(pn.pane.Markdown(caption + f"\n\nshape {array.shape}" + (f", shown every {step} px" if step > 1 else "")),
                     pn.pane.HoloViews(image, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def preview(name: str, size: int, read) -> pn.viewable.Viewable:
    """A preview of a file called ``name``; ``read()`` returns its bytes (only called when worth it)."""
    lower = name.lower()
    try:
        if size > MAX_BYTES and not lower.endswith((".txt", ".log", ".json", ".md", ".csv")):
            return pn.pane.Markdown(f"**{name}** is {size / 1e6:.0f} MB: too large to preview; download it.")
        if lower.endswith((".csv", ".tsv", ".ecsv")):
            data = read()
            if lower.endswith(".ecsv"):
                from astropy.table import Table

                frame = Table.read(io.BytesIO(data), format="ascii.ecsv").to_pandas()
            else:
                frame = pd.read_csv(io.BytesIO(data), sep="\t" if lower.endswith(".tsv") else ",", nrows=MAX_ROWS,
                                    comment="#")
            return _table(frame, f"**{name}**: first rows")
        if lower.endswith(".parquet"):
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(read()))
            return _table(table.slice(0, MAX_ROWS).to_pandas(), f"**{name}**: {table.num_rows:,} rows, "
                                                                 f"{table.num_columns} columns")
        if lower.endswith((".fits", ".fit", ".fts", ".fits.gz")):
            return _fits(read(), name)
        if lower.endswith((".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")):
            pane = pn.pane.SVG if lower.endswith(".svg") else pn.pane.Image
            return pn.Column(pn.pane.Markdown(f"**{name}**"), pane(io.BytesIO(read()), sizing_mode="scale_width",
                                                                   max_width=900))
        if lower.endswith((".txt", ".log", ".json", ".md", ".py", ".toml", ".yaml", ".yml", ".lbl", ".xml", ".dat")):
            data = read()[:MAX_TEXT]
            text = data.decode("utf-8", errors="replace")
            more = "\n…" if size > MAX_TEXT else ""
            return pn.pane.Markdown(f"**{name}**\n\n```\n{text}{more}\n```", sizing_mode="stretch_width")
    except Exception as exc:  # noqa: BLE001 - a broken file gets a message, never a broken page
        return pn.pane.Alert(f"**{name}** could not be read: {exc}", alert_type="warning")
    return pn.pane.Markdown(f"**{name}**: no preview for this kind of file; download it.")
