"""Raster input and output: GeoTIFF / COG through rasterio, PDS3 IMG through its label.

Every raster the platform uses carries a coordinate reference system: a GeoTIFF without one is
refused with :class:`MissingCRSError` instead of being drawn somewhere arbitrary. A PDS3 image
(e.g. the LOLA global DEM ``LDEM_4.IMG``, 1440 x 720 int16, height = DN x 0.5 m above the 1737.4 km
sphere, first column at 0 deg E) gets its CRS and geotransform from the ``IMAGE_MAP_PROJECTION``
object of its label.

Example
-------
>>> dem = read_raster("LDEM_4.LBL")            # metres above the 1737.4 km sphere
>>> dem.sample(-3.2, 26.1)                      # the value of the pixel holding (lon, lat)
>>> dem.wrap_longitudes().to_geotiff("ldem_4.tif")
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioIOError

from explore.planetary.bodies import MOON, Body, body

__all__ = [
    "RasterError",
    "MissingCRSError",
    "LabelFormatError",
    "Raster",
    "read_raster",
    "read_pds3_image",
    "open_dataset",
    "is_pds3_label",
]

PathLike = str | pathlib.Path


class RasterError(ValueError):
    """A raster that cannot be read or used as asked."""


class MissingCRSError(RasterError):
    """A raster without a coordinate reference system."""


class LabelFormatError(RasterError):
    """A PDS3 label that does not describe a readable image."""


@dataclass
class Raster:
    """A single-band raster held in memory, with physical values (scale and offset applied).

    Attributes
    ----------
    data
        2-D float32 array; no-data pixels are NaN.
    transform
        Affine pixel-to-CRS transform of the top-left pixel corner.
    crs
        The CRS of ``transform``.
    unit
        Unit of the values (``"m"`` for a DEM), informational.
    """

    data: np.ndarray
    transform: Affine
    crs: CRS
    unit: str = ""
    name: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        h, w = self.shape
        left, top = self.transform * (0, 0)
        right, bottom = self.transform * (w, h)
        return (min(left, right), min(top, bottom), max(left, right), max(top, bottom))

    @property
    def is_geographic(self) -> bool:
        return bool(self.crs.is_geographic)

    def index(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) positions of CRS coordinates; pixel (i, j) spans [i, i+1) x [j, j+1)."""
        inv = ~self.transform
        col, row = inv * (np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(row), np.asarray(col)

    def _xy_from_lonlat(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.is_geographic:
            left, _, right, _ = self.bounds
            # bring longitudes into the raster's own convention (0..360 or -180..180)
            lon = np.where(lon < left, lon + 360.0, lon)
            lon = np.where(lon >= right, lon - 360.0, lon)
            return lon, lat
        from pyproj import Transformer

        geo = self.crs.geodetic_crs
        tr = Transformer.from_crs(geo, self.crs, always_xy=True)
        x, y = tr.transform(lon, lat)
        return np.asarray(x), np.asarray(y)

    def sample(
        self,
        lon: np.ndarray | float,
        lat: np.ndarray | float,
        method: Literal["nearest", "bilinear"] = "nearest",
    ) -> np.ndarray | float:
        """Values at planetocentric (lon, lat) in degrees east / north.

        ``nearest`` returns the value of the pixel that contains the point; ``bilinear``
        interpolates between the four nearest pixel centres (wrapping across the raster's
        longitude seam for global geographic rasters). Points outside the raster give NaN.
        """
        scalar = np.isscalar(lon) and np.isscalar(lat)
        lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
        lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
        x, y = self._xy_from_lonlat(lon_a, lat_a)
        row, col = self.index(x, y)
        h, w = self.shape
        if method == "nearest":
            r = np.floor(row).astype(int)
            c = np.floor(col).astype(int)
            if self.is_geographic and self._global_in_lon():
                c = np.mod(c, w)
            # the bottom edge (lat = -90) belongs to the last row
            r = np.where((r == h) & np.isclose(row, h), h - 1, r)
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            out = np.full(r.shape, np.nan, dtype=float)
            out[inside] = self.data[r[inside], c[inside]]
        elif method == "bilinear":
            out = self._bilinear(row - 0.5, col - 0.5)
        else:
            raise ValueError(f"unknown sampling method {method!r}; use 'nearest' or 'bilinear'")
        return float(out[0]) if scalar else out

    def _global_in_lon(self) -> bool:
        left, _, right, _ = self.bounds
        return abs((right - left) - 360.0) < 1e-6

    def _bilinear(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        h, w = self.shape
        wrap = self.is_geographic and self._global_in_lon()
        r0 = np.floor(r).astype(int)
        c0 = np.floor(c).astype(int)
        fr = r - r0
        fc = c - c0
        r0c = np.clip(r0, 0, h - 1)
        r1c = np.clip(r0 + 1, 0, h - 1)
        if wrap:
            c0c, c1c = np.mod(c0, w), np.mod(c0 + 1, w)
        else:
            c0c, c1c = np.clip(c0, 0, w - 1), np.clip(c0 + 1, 0, w - 1)
        d = self.data
        v = (
            d[r0c, c0c] * (1 - fr) * (1 - fc)
            + d[r0c, c1c] * (1 - fr) * fc
            + d[r1c, c0c] * fr * (1 - fc)
            + d[r1c, c1c] * fr * fc
        )
        outside = (r < -0.5) | (r > h - 0.5)
        if not wrap:
            outside |= (c < -0.5) | (c > w - 0.5)
        return np.where(outside, np.nan, v)

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """CRS coordinates of the pixel centres: x of each column, y of each row."""
        h, w = self.shape
        xs = np.array([(self.transform * (j + 0.5, 0.5))[0] for j in range(w)])
        ys = np.array([(self.transform * (0.5, i + 0.5))[1] for i in range(h)])
        return xs, ys

    def wrap_longitudes(self) -> Raster:
        """A global geographic raster in 0..360 moved to -180..180 (columns rolled by half a turn)."""
        if not self.is_geographic:
            raise RasterError("wrap_longitudes needs a geographic raster")
        left, _, right, _ = self.bounds
        if not self._global_in_lon():
            raise RasterError(f"raster spans {left}..{right} deg, not a whole turn of longitude")
        if left < 0:
            return self
        w = self.shape[1]
        shift_cols = int(round((180.0 - left) / self.transform.a))
        data = np.roll(self.data, shift_cols - w, axis=1) if shift_cols else self.data
        t = self.transform
        # the old column ``shift_cols`` (longitude 180) becomes the first, at -180
        new = Affine(t.a, t.b, left + shift_cols * t.a - 360.0, t.d, t.e, t.f)
        return replace(self, data=np.ascontiguousarray(data), transform=new)

    def to_geotiff(self, path: PathLike, *, cog: bool = True, nodata: float = -32768.0) -> pathlib.Path:
        """Write a float32 GeoTIFF (tiled, deflate, with internal overviews when ``cog``)."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = self.shape
        data = np.where(np.isnan(self.data), nodata, self.data).astype("float32")
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": w,
            "height": h,
            "count": 1,
            "dtype": "float32",
            "crs": rasterio.crs.CRS.from_wkt(self.crs.to_wkt()),
            "transform": self.transform,
            "nodata": nodata,
            "compress": "deflate",
            "predictor": 3,
        }
        if w >= 256 and h >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        tmp = path.with_name(path.name + ".part")
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data, 1)
            if self.unit:
                dst.update_tags(1, unit=self.unit)
            if cog:
                factors = [f for f in (2, 4, 8, 16, 32) if min(h, w) // f >= 64]
                if factors:
                    dst.build_overviews(factors, rasterio.enums.Resampling.average)
                    dst.update_tags(ns="rio_overview", resampling="average")
        tmp.replace(path)
        return path


# --------------------------------------------------------------------------------------------
# GeoTIFF / COG


def open_dataset(path: PathLike) -> rasterio.io.DatasetReader:
    """Open a GeoTIFF / COG / VRT with rasterio and check it has a CRS.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    RasterError
        GDAL cannot read it.
    MissingCRSError
        The raster has no coordinate reference system.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"raster {path} does not exist")
    try:
        ds = rasterio.open(path)
    except RasterioIOError as exc:
        raise RasterError(f"{path.name} is not a raster GDAL can read: {exc}") from exc
    if ds.crs is None:
        ds.close()
        raise MissingCRSError(
            f"{path.name} has no coordinate reference system, so its pixels cannot be placed on the Moon; "
            "give it one, e.g. `gdal_edit.py -a_srs IAU_2015:30100 file.tif` for a lon/lat grid"
        )
    return ds


def _read_gdal(path: pathlib.Path) -> Raster:
    with open_dataset(path) as ds:
        band = ds.read(1, masked=True).astype("float32")
        scale = ds.scales[0] if ds.scales else 1.0
        offset = ds.offsets[0] if ds.offsets else 0.0
        data = band.filled(np.nan) * np.float32(scale) + np.float32(offset)
        unit = (ds.units[0] if ds.units and ds.units[0] else "") or ds.tags(1).get("unit", "")
        return Raster(np.asarray(data, dtype="float32"), ds.transform, CRS.from_wkt(ds.crs.to_wkt()), unit, path.stem)


# --------------------------------------------------------------------------------------------
# PDS3 images

_PDS3_TYPES = {
    ("LSB_INTEGER", 8): "i1", ("MSB_INTEGER", 8): "i1", ("INTEGER", 8): "i1",
    ("UNSIGNED_INTEGER", 8): "u1", ("LSB_UNSIGNED_INTEGER", 8): "u1", ("MSB_UNSIGNED_INTEGER", 8): "u1",
    ("LSB_INTEGER", 16): "<i2", ("MSB_INTEGER", 16): ">i2", ("INTEGER", 16): ">i2",
    ("LSB_UNSIGNED_INTEGER", 16): "<u2", ("MSB_UNSIGNED_INTEGER", 16): ">u2", ("UNSIGNED_INTEGER", 16): ">u2",
    ("LSB_INTEGER", 32): "<i4", ("MSB_INTEGER", 32): ">i4", ("INTEGER", 32): ">i4",
    ("PC_REAL", 32): "<f4", ("IEEE_REAL", 32): ">f4", ("REAL", 32): ">f4", ("FLOAT", 32): ">f4",
    ("PC_REAL", 64): "<f8", ("IEEE_REAL", 64): ">f8",
}


def is_pds3_label(path: PathLike) -> bool:
    """Whether a file starts like a PDS3 label (``PDS_VERSION_ID = PDS3``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(200).decode("latin-1")
    except OSError:
        return False
    return "PDS_VERSION_ID" in head.upper()


def _value(label: Any, key: str, default: Any = None) -> Any:
    value = label.get(key, default) if hasattr(label, "get") else default
    return getattr(value, "value", value)


def _load_pds3(path: pathlib.Path) -> Any:
    from explore.planetary.labels import LabelError, parse_odl

    with open(path, "rb") as fh:
        head = fh.read(1 << 20).split(b"\x00", 1)[0].decode("latin-1")
    end = _label_end(head)
    try:
        return parse_odl(head[:end], path.name)
    except LabelError as exc:
        raise LabelFormatError(str(exc)) from exc


def _label_end(text: str) -> int:
    """Index just after the END statement that closes a label (the rest is binary or another label)."""
    import re

    m = re.search(r"^\s*END\s*$", text, flags=re.MULTILINE)
    return m.end() if m else len(text)


def read_pds3_image(path: PathLike, *, target: Body | str = MOON) -> Raster:
    """Read the IMAGE of a PDS3 product (attached or detached label) into a :class:`Raster`.

    Parameters
    ----------
    path
        The label (``.LBL``) or the image with an attached label (``.IMG``). For a detached label
        named like the image (``LDEM_4.IMG`` beside ``LDEM_4.LBL``), either path works.
    target
        The body whose sphere the map projection refers to.

    Returns
    -------
    Raster
        Values are ``DN * SCALING_FACTOR + OFFSET`` except when ``OFFSET`` is the reference radius
        (LOLA DEMs), which is kept out so the values are heights above the sphere.

    Raises
    ------
    LabelFormatError
        The label lacks an IMAGE object, a map projection, or uses an unsupported sample type.
    """
    path = pathlib.Path(path)
    label_path = path
    if not is_pds3_label(path):
        for suffix in (".LBL", ".lbl"):
            candidate = path.with_suffix(suffix)
            if candidate.exists():
                label_path = candidate
                break
        else:
            raise LabelFormatError(f"{path.name} has no attached PDS3 label and no .LBL file beside it")
    label = _load_pds3(label_path)
    image, holder = label.get("IMAGE"), label
    if image is None:  # e.g. LOLA: OBJECT = UNCOMPRESSED_FILE holding ^IMAGE and the IMAGE object
        for _key, value in label.items():
            if hasattr(value, "get") and "IMAGE" in value:
                image, holder = value["IMAGE"], value
                break
    if image is None:
        raise LabelFormatError(f"{label_path.name} describes no IMAGE object")
    pointer = _value(holder, "^IMAGE", _value(label, "^IMAGE"))
    record_source = holder if "RECORD_BYTES" in holder else label
    data_path, offset = _data_location(label_path, record_source, pointer)
    lines = int(_value(image, "LINES"))
    samples = int(_value(image, "LINE_SAMPLES"))
    bands = int(_value(image, "BANDS", 1) or 1)
    if bands != 1:
        raise LabelFormatError(f"{label_path.name}: {bands} bands; only single-band images are supported")
    stype = str(_value(image, "SAMPLE_TYPE")).upper()
    bits = int(_value(image, "SAMPLE_BITS"))
    if (stype, bits) not in _PDS3_TYPES:
        raise LabelFormatError(f"{label_path.name}: unsupported SAMPLE_TYPE {stype} with {bits} bits")
    dtype = np.dtype(_PDS3_TYPES[(stype, bits)])
    with open(data_path, "rb") as fh:
        fh.seek(offset)
        raw = np.frombuffer(fh.read(lines * samples * dtype.itemsize), dtype=dtype)
    if raw.size != lines * samples:
        raise LabelFormatError(
            f"{data_path.name} holds {raw.size} samples; the label promises {lines} x {samples}"
        )
    dn = raw.reshape(lines, samples)
    valid = np.ones(dn.shape, dtype=bool)
    for key in ("MISSING_CONSTANT", "NULL", "CORE_NULL"):
        missing = _value(image, key)
        if isinstance(missing, int | float):
            valid &= dn != missing
    scale = float(_value(image, "SCALING_FACTOR", 1.0) or 1.0)
    value_offset = float(_value(image, "OFFSET", 0.0) or 0.0)
    radius = body(target).radius_m
    if math.isclose(value_offset, radius, rel_tol=1e-6):
        value_offset = 0.0  # LOLA: keep heights above the reference sphere
    data = np.where(valid, dn.astype("float32") * np.float32(scale) + np.float32(value_offset), np.nan)
    transform, crs = _map_geometry(label, label_path, body(target))
    unit = str(_value(image, "UNIT", "") or "").lower()
    unit = {"meter": "m", "metre": "m", "meters": "m"}.get(unit, unit)
    return Raster(data.astype("float32"), transform, crs, unit, label_path.stem)


def _data_location(label_path: pathlib.Path, label: Any, pointer: Any) -> tuple[pathlib.Path, int]:
    record_bytes = int(_value(label, "RECORD_BYTES", 0) or 0)
    if isinstance(pointer, int):  # attached: record number (1-based)
        return label_path, (pointer - 1) * record_bytes
    units = getattr(pointer, "units", None)
    if hasattr(pointer, "value") and units is not None and str(units).upper().startswith("BYTE"):
        return label_path, int(pointer.value) - 1
    if isinstance(pointer, list | tuple) and len(pointer) == 2:
        name, start = pointer
        start_units = str(getattr(start, "units", "") or "").upper()
        start_value = int(getattr(start, "value", start))
        offset = start_value - 1 if start_units.startswith("BYTE") else (start_value - 1) * record_bytes
        return _find_beside(label_path, str(name)), offset
    if isinstance(pointer, str):
        return _find_beside(label_path, pointer), 0
    raise LabelFormatError(f"{label_path.name}: cannot understand the ^IMAGE pointer {pointer!r}")


def _find_beside(label_path: pathlib.Path, name: str) -> pathlib.Path:
    folder = label_path.parent
    for candidate in (folder / name, folder / name.upper(), folder / name.lower()):
        if candidate.exists():
            return candidate
    lowered = name.lower()
    for candidate in folder.iterdir():
        if candidate.name.lower() == lowered:
            return candidate
    raise FileNotFoundError(f"{label_path.name} points to {name}, which is not in {folder}")


def _map_geometry(label: Any, label_path: pathlib.Path, target: Body) -> tuple[Affine, CRS]:
    proj = label.get("IMAGE_MAP_PROJECTION")
    if proj is None:
        raise LabelFormatError(
            f"{label_path.name} has no IMAGE_MAP_PROJECTION: the image is not map-projected, so it has no CRS"
        )
    kind = str(_value(proj, "MAP_PROJECTION_TYPE", "")).upper().replace("_", " ")
    s0 = float(_value(proj, "SAMPLE_PROJECTION_OFFSET"))
    l0 = float(_value(proj, "LINE_PROJECTION_OFFSET"))
    clon = float(_value(proj, "CENTER_LONGITUDE", 0.0))
    clat = float(_value(proj, "CENTER_LATITUDE", 0.0))
    radius_km = _value(proj, "A_AXIS_RADIUS")
    radius_m = float(radius_km) * 1000.0 if radius_km is not None else target.radius_m
    if not math.isclose(radius_m, target.radius_m, rel_tol=1e-6):
        raise LabelFormatError(
            f"{label_path.name}: map radius {radius_m:.0f} m differs from the {target.name} sphere {target.radius_m:.0f} m"
        )
    if kind in ("SIMPLE CYLINDRICAL", "EQUIRECTANGULAR") and math.isclose(clat, 0.0):
        res = float(_value(proj, "MAP_RESOLUTION"))  # pixels per degree
        # PDS3: lon(sample) = CENTER_LONGITUDE + (sample - SAMPLE_PROJECTION_OFFSET - 1) / res, 1-based
        left = clon + (-s0 - 0.5) / res
        top = clat + (l0 + 0.5) / res
        return Affine(1.0 / res, 0.0, left, 0.0, -1.0 / res, top), target.crs("geographic")
    if kind == "POLAR STEREOGRAPHIC":
        scale_km = float(_value(proj, "MAP_SCALE"))
        scale = scale_km * 1000.0 if scale_km < 100 else scale_km  # labels give km/pixel or m/pixel
        left = (-s0 - 0.5) * scale
        top = (l0 + 0.5) * scale
        pole = "north_polar" if clat > 0 else "south_polar"
        return Affine(scale, 0.0, left, 0.0, -scale, top), target.crs(pole)  # type: ignore[arg-type]
    raise LabelFormatError(f"{label_path.name}: map projection {kind!r} is not supported")


# --------------------------------------------------------------------------------------------


def read_raster(path: PathLike, *, target: Body | str = MOON) -> Raster:
    """Read a whole single-band raster with physical values: GeoTIFF / COG / VRT or PDS3 IMG.

    Raises
    ------
    MissingCRSError
        For a GeoTIFF without a CRS.
    LabelFormatError
        For a PDS3 label that does not describe a map-projected image.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"raster {path} does not exist")
    if path.suffix.lower() in (".img", ".lbl") or is_pds3_label(path):
        return read_pds3_image(path, target=target)
    return _read_gdal(path)
