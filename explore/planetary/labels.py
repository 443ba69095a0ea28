"""Product records from PDS3, PDS4 and ISIS labels.

:func:`read_label` turns one label into a :class:`ProductRecord` (mission, instrument, product
type, observation times, viewing angles, resolution, centre and footprint where the label has real
geometry); :func:`scan_labels` does it for a folder and reports files it could not use instead of
stopping. Geometry is only taken from what the label states (corner coordinates, scene centre,
map-projection bounds, PDS4 bounding coordinates): a label without it gives a record with no
footprint, never an invented one.

Formats are recognised by content, not by suffix:

* PDS3: ``PDS_VERSION_ID = PDS3`` (attached or detached label, ODL keywords such as
  ``UPPER_LEFT_LATITUDE``, ``INCIDENCE_ANGLE``).
* ISIS: ``Object = IsisCube`` (a ``.cub`` or a detached ``.lbl``); groups ``Instrument``,
  ``Archive``, ``Mapping``.
* PDS4: an XML ``Product_Observational`` (``pds:Time_Coordinates``, ``cart:Bounding_Coordinates``,
  ``geom:`` angles).
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from explore.planetary.bodies import BODIES
from explore.planetary.footprints import (
    Footprint,
    FootprintError,
    footprint_from_bbox,
    footprint_from_corners,
)

__all__ = [
    "LabelError",
    "NotAProductLabelError",
    "ProductRecord",
    "ScanResult",
    "label_format",
    "read_label",
    "scan_labels",
    "canonical_mission",
    "canonical_instrument",
    "parse_odl",
    "parse_time",
]

PathLike = str | pathlib.Path


class LabelError(ValueError):
    """A label that cannot be turned into a product record."""


class NotAProductLabelError(LabelError):
    """A file that is not a PDS3, PDS4 or ISIS product label."""


@dataclass
class ProductRecord:
    """One product as the index stores it, whatever its source (label, ODE, demo)."""

    product_id: str
    body: str
    mission: str
    instrument: str
    product_type: str
    start_time: dt.datetime | None = None
    stop_time: dt.datetime | None = None
    emission: float | None = None
    incidence: float | None = None
    phase: float | None = None
    resolution: float | None = None  # metres per pixel
    centre_lon: float | None = None
    centre_lat: float | None = None
    footprint: Footprint | None = None
    data_set_id: str = ""
    source: str = "label"
    files: list[dict[str, Any]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanResult:
    """What a folder scan found: the records and the files it skipped, with the reason."""

    records: list[ProductRecord]
    skipped: list[tuple[str, str]]


# --------------------------------------------------------------------------------------------
# canonical names

_MISSIONS = {
    "LUNAR RECONNAISSANCE ORBITER": "LRO",
    "LRO": "LRO",
    "CLEMENTINE 1": "Clementine",
    "CLEMENTINE": "Clementine",
    "CLEM": "Clementine",
    "CHANDRAYAAN-1": "Chandrayaan-1",
    "CHANDRAYAAN-1 ORBITER": "Chandrayaan-1",
    "CH1-ORB": "Chandrayaan-1",
    "CH1": "Chandrayaan-1",
    "CHANDRAYAAN-2": "Chandrayaan-2",
    "CH2": "Chandrayaan-2",
    "SELENE": "Kaguya",
    "KAGUYA": "Kaguya",
    "SELENE MAIN ORBITER": "Kaguya",
    "APOLLO 15": "Apollo 15",
    "APOLLO15": "Apollo 15",
    "MARS RECONNAISSANCE ORBITER": "MRO",
    "MRO": "MRO",
    "LCROSS": "LCROSS",
    "LADEE": "LADEE",
    "GRAIL": "GRAIL",
}


def canonical_mission(name: str) -> str:
    """A short mission name (``LRO``, ``Clementine``, ``Kaguya``) from label or ODE spellings."""
    key = re.sub(r"\s+", " ", str(name or "").strip().upper())
    return _MISSIONS.get(key, str(name or "").strip() or "unknown")


def canonical_instrument(mission: str, instrument_id: str, product_id: str = "") -> str:
    """The instrument as users search for it: ``LROC NAC``, ``LROC WAC``, ``LWIR``, ``M3``, ``MI``."""
    iid = str(instrument_id or "").strip().upper()
    if iid in ("NACL", "NACR", "LROC NAC") or (iid == "LROC" and re.search(r"[LR]E$", product_id or "")):
        return "LROC NAC"
    if iid.startswith("WAC") or (iid == "LROC" and re.search(r"[CM]E$", product_id or "")):
        return "LROC WAC"
    if iid in ("MI-NIR", "MI-VIS", "MI"):
        return "MI"
    if iid in ("TC1", "TC2", "TC"):
        return "TC"
    if iid == "APOLLO_PAN":
        return "PAN"
    return iid or "unknown"


# --------------------------------------------------------------------------------------------
# format detection


def label_format(path: PathLike) -> str:
    """``"pds3"``, ``"isis"`` or ``"pds4"`` by content.

    Raises
    ------
    NotAProductLabelError
        When the file is none of them.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc}") from exc
    text = head.decode("latin-1", errors="replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    if re.match(r"(?i)PDS_VERSION_ID\s*=", stripped) or re.search(r"(?im)^\s*PDS_VERSION_ID\s*=\s*\"?PDS3", text):
        return "pds3"
    if re.search(r"(?im)^\s*Object\s*=\s*IsisCube\b", text):
        return "isis"
    if stripped.startswith("<?xml") or stripped.startswith("<Product_"):
        if "Product_Observational" in text or "pds.nasa.gov/pds4" in text:
            return "pds4"
    raise NotAProductLabelError(
        f"{path.name} is not a product label: expected a PDS3 label (PDS_VERSION_ID = PDS3), "
        "an ISIS cube label (Object = IsisCube) or a PDS4 XML Product_Observational"
    )


# --------------------------------------------------------------------------------------------
# ODL (PDS3 / ISIS)


def _odl_text(path: pathlib.Path, kind: str) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(1 << 20)
    text = raw.split(b"\x00", 1)[0].decode("latin-1")
    if kind == "isis":
        # keep the IsisCube object only: the tables, history and NAIF keywords that follow
        # are large and carry nothing the index needs
        start = re.search(r"(?im)^\s*Object\s*=\s*IsisCube\s*$", text)
        end = re.search(r"(?m)^End_Object\s*$", text[start.end():]) if start else None
        if start and end:
            return text[start.start(): start.end() + end.end()] + "\nEnd\n"
    m = re.search(r"(?m)^\s*END\s*$", text)
    return text[: m.end()] if m else text


class Quantity(NamedTuple):
    """An ODL value with units (``15.557 <deg>``, ``1 <BYTES>``)."""

    value: Any
    units: str


_BARE_END = set(" \t\r\n,)}")


class _OdlParser:
    """A small reader for the Object Description Language of PDS3 and ISIS labels.

    It keeps what a product index needs: keywords with scalar, string, list and unit values, nested
    OBJECT / GROUP blocks (the first of repeated names wins), ``/* */`` comments, quoted strings
    across lines, and ISIS's ``-`` line continuation of long bare values.
    """

    def __init__(self, text: str, name: str) -> None:
        self.text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
        self.pos = 0
        self.name = name

    def error(self, message: str) -> LabelError:
        line = self.text.count("\n", 0, self.pos) + 1
        return LabelError(f"{self.name}: cannot parse the label near line {line}: {message}")

    def skip_space(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] in " \t\r\n\f":
            self.pos += 1

    def parse(self) -> dict[str, Any]:
        root: dict[str, Any] = {}
        stack = [root]
        text, n = self.text, len(self.text)
        while True:
            self.skip_space()
            if self.pos >= n:
                break
            m = re.compile(r"[\^A-Za-z_][\w:\^\.\-]*").match(text, self.pos)
            if not m:
                raise self.error(f"expected a keyword, found {text[self.pos:self.pos + 20]!r}")
            key = m.group(0)
            self.pos = m.end()
            upper = key.upper()
            if upper == "END":
                break
            self.skip_space()
            has_value = self.pos < n and text[self.pos] == "="
            if upper in ("END_OBJECT", "END_GROUP"):
                if has_value:  # END_OBJECT = NAME
                    self.pos += 1
                    self.skip_space()
                    self.bare()
                if len(stack) > 1:
                    stack.pop()
                continue
            if not has_value:
                raise self.error(f"keyword {key} has no '='")
            self.pos += 1
            value = self.value()
            if upper in ("OBJECT", "GROUP", "BEGIN_OBJECT", "BEGIN_GROUP"):
                block: dict[str, Any] = {}
                stack[-1].setdefault(str(value), block)
                stack.append(block)
            else:
                stack[-1].setdefault(key, value)
        return root

    def value(self) -> Any:
        self.skip_space()
        text = self.text
        if self.pos >= len(text):
            raise self.error("a keyword has no value")
        c = text[self.pos]
        if c in "\"'":
            end = text.find(c, self.pos + 1)
            if end < 0:
                raise self.error("a quoted string is not closed")
            raw = text[self.pos + 1:end]
            self.pos = end + 1
            out: Any = re.sub(r"\s+", " ", raw).strip()
        elif c in "({":
            close = ")" if c == "(" else "}"
            self.pos += 1
            items = []
            while True:
                self.skip_space()
                if self.pos >= len(text):
                    raise self.error(f"a list opened with {c!r} is not closed")
                if text[self.pos] == close:
                    self.pos += 1
                    break
                items.append(self.value())
                self.skip_space()
                if self.pos < len(text) and text[self.pos] == ",":
                    self.pos += 1
            out = items
        else:
            out = _convert(self.bare())
        return self.units(out)

    def bare(self) -> str:
        text, n = self.text, len(self.text)
        start = self.pos
        while self.pos < n and text[self.pos] not in _BARE_END:
            self.pos += 1
        token = text[start:self.pos]
        # ISIS continues long unquoted values with a trailing '-'
        while token.endswith("-") and self.pos < n and text[self.pos] in "\r\n":
            self.skip_space()
            start = self.pos
            while self.pos < n and text[self.pos] not in _BARE_END:
                self.pos += 1
            token = token[:-1] + text[start:self.pos]
        return token

    def units(self, value: Any) -> Any:
        text, n = self.text, len(self.text)
        p = self.pos
        while p < n and text[p] in " \t":
            p += 1
        if p < n and text[p] == "<":
            end = text.find(">", p)
            if end < 0:
                raise self.error("units opened with '<' are not closed")
            self.pos = end + 1
            return Quantity(value, text[p + 1:end].strip())
        return value


def _convert(token: str) -> Any:
    if re.fullmatch(r"[+-]?\d+", token):
        return int(token)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", token):
        return float(token)
    return token


def parse_odl(text: str, name: str = "label") -> dict[str, Any]:
    """Parse ODL text (a PDS3 label or the IsisCube object of an ISIS label) into nested dicts.

    Raises
    ------
    LabelError
        The text is not well-formed ODL.
    """
    return _OdlParser(text, name).parse()


def _load_odl(path: pathlib.Path, kind: str) -> Any:
    return parse_odl(_odl_text(path, kind), path.name)


def _plain(value: Any) -> Any:
    """A pvl value without units; lists stay lists."""
    if hasattr(value, "value") and hasattr(value, "units"):
        return value.value
    return value


def _flatten(module: Any, prefix: str = "") -> dict[str, Any]:
    """Every keyword of an ODL tree by its upper-case name (first occurrence wins) and by path."""
    out: dict[str, Any] = {}
    items = module.items() if hasattr(module, "items") else []
    for key, value in items:
        upper = str(key).upper()
        if hasattr(value, "items") and not hasattr(value, "units"):
            for k, v in _flatten(value, f"{prefix}{upper}.").items():
                out.setdefault(k, v)
        else:
            out.setdefault(upper, _plain(value))
            out.setdefault(prefix + upper, _plain(value))
    return out


def _camel_to_upper(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def _isis_keys(label: Any) -> dict[str, Any]:
    flat = _flatten(label)
    # ISIS keywords are CamelCase: map them to PDS3-style names so one extractor serves both
    out: dict[str, Any] = {}
    for key, value in flat.items():
        out.setdefault(key, value)
    cube = label.get("IsisCube", label)
    for group in ("Instrument", "Archive", "Mapping", "BandBin"):
        g = cube.get(group) if hasattr(cube, "get") else None
        if g is None:
            continue
        for k, v in g.items():
            out.setdefault(_camel_to_upper(k), _plain(v))
            out.setdefault(f"{group.upper()}.{_camel_to_upper(k)}", _plain(v))
    return out


def _number(keys: dict[str, Any], *names: str) -> float | None:
    for name in names:
        value = keys.get(name)
        if value is None or isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number) and number > -1e30:  # PDS null constants are huge negatives
            return number
    return None


def _text(keys: dict[str, Any], *names: str) -> str:
    for name in names:
        value = keys.get(name)
        if value not in (None, "", "N/A", "NULL", "Null"):
            return str(value).strip()
    return ""


def _time(value: Any) -> dt.datetime | None:
    if value is None or value in ("N/A", "NULL", "UNK"):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return parse_time(str(value))


def parse_time(text: str) -> dt.datetime | None:
    """An ISO-8601 UTC time (``2009-07-30T12:20:38.185``, ``...Z``, more than 6 decimals) or None."""
    text = text.strip().rstrip("Z").replace(" ", "T")
    if not text:
        return None
    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$", text)
    if not m:
        m2 = re.match(r"^(\d{4})-(\d{3})T(.*)$", text)  # day-of-year form
        if m2:
            base = dt.datetime(int(m2.group(1)), 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=int(m2.group(2)) - 1)
            rest = parse_time(f"{base.date().isoformat()}T{m2.group(3)}")
            return rest
        raise LabelError(f"cannot read the time {text!r}")
    date, hh, mm, ss, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    y, mo, d = (int(x) for x in date.split("-"))
    return dt.datetime(y, mo, d, int(hh or 0), int(mm or 0), int(ss or 0), micro, tzinfo=dt.UTC)


def _body_name(target: str, path: pathlib.Path) -> str:
    name = target.strip().lower()
    if name in BODIES:
        return name
    raise LabelError(f"{path.name}: target {target!r} is not a body the index knows ({', '.join(sorted(BODIES))})")


def _product_type(keys: dict[str, Any]) -> str:
    explicit = _text(keys, "PRODUCT_TYPE", "PRODUCT_SET_ID")
    if explicit:
        return explicit
    dsid = _text(keys, "DATA_SET_ID")
    for marker in ("EDR", "CDR", "RDR", "DDR", "GDR"):
        if f"-{marker}-" in dsid.upper():
            return marker
    level = _text(keys, "PROCESS_VERSION_ID", "PROCESSING_LEVEL_ID")
    return level or "UNKNOWN"


_CORNERS = ("UPPER_LEFT", "UPPER_RIGHT", "LOWER_RIGHT", "LOWER_LEFT")


def _odl_footprint(keys: dict[str, Any], path: pathlib.Path) -> Footprint | None:
    lats = [_number(keys, f"{c}_LATITUDE") for c in _CORNERS]
    lons = [_number(keys, f"{c}_LONGITUDE") for c in _CORNERS]
    try:
        if all(v is not None for v in lats + lons):
            return footprint_from_corners(lons, lats)  # type: ignore[arg-type]
        # map-projected products: the label's latitude / longitude bounds
        lat_lo = _number(keys, "MINIMUM_LATITUDE", "MAPPING.MINIMUM_LATITUDE")
        lat_hi = _number(keys, "MAXIMUM_LATITUDE", "MAPPING.MAXIMUM_LATITUDE")
        lon_w = _number(keys, "WESTERNMOST_LONGITUDE", "MINIMUM_LONGITUDE")
        lon_e = _number(keys, "EASTERNMOST_LONGITUDE", "MAXIMUM_LONGITUDE")
        if None not in (lat_lo, lat_hi, lon_w, lon_e):
            return _box_footprint(lon_w, lat_lo, lon_e, lat_hi)  # type: ignore[arg-type]
    except FootprintError as exc:
        raise LabelError(f"{path.name}: the label's footprint is not usable ({exc})") from exc
    return None


def _box_footprint(west: float, south: float, east: float, north: float) -> Footprint:
    return footprint_from_bbox(west, south, east, north)


def _odl_record(path: pathlib.Path, kind: str) -> ProductRecord:
    label = _load_odl(path, kind)
    keys = _isis_keys(label) if kind == "isis" else _flatten(label)
    if kind == "pds3" and not (_text(keys, "PRODUCT_ID") or _text(keys, "INSTRUMENT_ID", "INSTRUMENT_NAME")):
        raise NotAProductLabelError(
            f"{path.name} is a PDS3 label but not of a product (no PRODUCT_ID or INSTRUMENT_ID): "
            "a catalogue or index file?"
        )
    if kind == "isis" and not _text(keys, "INSTRUMENT_ID", "SPACECRAFT_NAME"):
        raise NotAProductLabelError(f"{path.name} is an ISIS cube without an Instrument group: not an observation")
    target = _text(keys, "TARGET_NAME")
    if not target:
        raise LabelError(f"{path.name}: the label names no TARGET_NAME")
    mission_raw = _text(keys, "MISSION_NAME", "INSTRUMENT_HOST_NAME", "SPACECRAFT_NAME", "INSTRUMENT_HOST_ID")
    mission = canonical_mission(mission_raw)
    if mission_raw.upper() in ("SELENE", "KAGUYA", "SELENE MAIN ORBITER"):
        mission = "Kaguya"
    product_id = _text(keys, "PRODUCT_ID", "ARCHIVE.PRODUCT_ID") or path.stem.split("_isis")[0].split("_pds3")[0]
    instrument = canonical_instrument(mission, _text(keys, "INSTRUMENT_ID"), product_id)
    footprint = _odl_footprint(keys, path)
    centre_lat = _number(keys, "SCENE_CENTER_LATITUDE", "CENTER_LATITUDE_OF_SCENE")
    centre_lon = _number(keys, "SCENE_CENTER_LONGITUDE", "CENTER_LONGITUDE_OF_SCENE")
    if centre_lon is not None:
        centre_lon = (centre_lon + 180.0) % 360.0 - 180.0
    if footprint is not None and (centre_lat is None or centre_lon is None):
        centre_lon, centre_lat = footprint.centre_lon, footprint.centre_lat
    incidence = _number(keys, "INCIDENCE_ANGLE", "SOLAR_INCIDENCE", "CENTER_INCIDENCE_ANGLE")
    if incidence is None:
        elevation = _number(keys, "SUN_ELEVATION")
        incidence = None if elevation is None else 90.0 - elevation
    resolution = _number(keys, "PIXEL_RESOLUTION", "MAPPING.PIXEL_RESOLUTION")
    if resolution is None and _text(keys, "MAP_PROJECTION_TYPE"):
        resolution = _number(keys, "MAP_SCALE")  # metres per pixel in PDS3 map projections
    files = [{"name": path.name, "path": str(path.resolve()), "type": "label"}]
    pointer = keys.get("^IMAGE") or keys.get("^QUBE")
    data_name = pointer[0] if isinstance(pointer, list | tuple) and pointer else pointer
    if isinstance(data_name, str):
        candidate = path.with_name(data_name)
        files.append({"name": data_name, "path": str(candidate.resolve()), "type": "data", "exists": candidate.exists()})
    record = ProductRecord(
        product_id=product_id,
        body=_body_name(target, path),
        mission=mission,
        instrument=instrument,
        product_type=_product_type(keys),
        start_time=_time(keys.get("START_TIME")),
        stop_time=_time(keys.get("STOP_TIME")),
        emission=_number(keys, "EMISSION_ANGLE", "CENTER_EMISSION_ANGLE"),
        incidence=incidence,
        phase=_number(keys, "PHASE_ANGLE", "CENTER_PHASE_ANGLE"),
        resolution=resolution,
        centre_lon=centre_lon,
        centre_lat=centre_lat,
        footprint=footprint,
        data_set_id=_text(keys, "DATA_SET_ID"),
        source="label",
        files=files,
        extra={"label_format": kind, "instrument_id": _text(keys, "INSTRUMENT_ID")},
    )
    if record.stop_time is None:
        record.stop_time = record.start_time
    return record


# --------------------------------------------------------------------------------------------
# PDS4


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(root: ET.Element, parent: str, child: str) -> str:
    for el in root.iter():
        if _local(el.tag) == parent:
            for c in el:
                if _local(c.tag) == child:
                    return (c.text or "").strip()
    return ""


def _pds4_record(path: pathlib.Path) -> ProductRecord:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise LabelError(f"{path.name}: the PDS4 XML cannot be parsed ({exc})") from exc
    if _local(root.tag) != "Product_Observational":
        raise NotAProductLabelError(f"{path.name} is a PDS4 {_local(root.tag)}, not a Product_Observational")
    first: dict[str, str] = {}
    components: list[tuple[str, str]] = []
    for el in root.iter():
        name = _local(el.tag)
        text = (el.text or "").strip()
        if text:
            first.setdefault(name, text)
        if name == "Observing_System_Component":
            kind = name_ = ""
            for child in el:
                if _local(child.tag) == "type":
                    kind = (child.text or "").strip()
                elif _local(child.tag) == "name":
                    name_ = (child.text or "").strip()
            components.append((kind, name_))
    target = _child_text(root, "Target_Identification", "name")
    investigation = _child_text(root, "Investigation_Area", "name")
    if not target:
        raise LabelError(f"{path.name}: the PDS4 label names no Target_Identification")

    def num(*names: str) -> float | None:
        for n in names:
            if n in first:
                try:
                    return float(first[n])
                except ValueError:
                    continue
        return None

    host = next((n for k, n in components if k.lower() in ("host", "spacecraft")), "")
    inst = next((n for k, n in components if k.lower() == "instrument"), "")
    lid = first.get("logical_identifier", "")
    product_id = lid.rsplit(":", 1)[-1] if lid else path.stem
    mission = canonical_mission(investigation)
    if mission not in _MISSIONS.values():
        mission = canonical_mission(host) if canonical_mission(host) in _MISSIONS.values() else mission
    footprint = None
    try:
        corners = [(num(f"{c.lower()}_longitude"), num(f"{c.lower()}_latitude")) for c in _CORNERS]
        if all(a is not None and b is not None for a, b in corners):
            footprint = footprint_from_corners([c[0] for c in corners], [c[1] for c in corners])  # type: ignore[misc]
        else:
            w, e = num("west_bounding_coordinate"), num("east_bounding_coordinate")
            n, s = num("north_bounding_coordinate"), num("south_bounding_coordinate")
            if None not in (w, e, n, s):
                footprint = _box_footprint(w, s, e, n)  # type: ignore[arg-type]
    except FootprintError as exc:
        raise LabelError(f"{path.name}: the label's footprint is not usable ({exc})") from exc
    c_lat = num("center_latitude", "centroid_latitude")
    c_lon = num("center_longitude", "centroid_longitude")
    if c_lon is not None:
        c_lon = (c_lon + 180.0) % 360.0 - 180.0
    if footprint is not None and (c_lat is None or c_lon is None):
        c_lon, c_lat = footprint.centre_lon, footprint.centre_lat
    start = parse_time(first["start_date_time"]) if "start_date_time" in first else None
    stop = parse_time(first["stop_date_time"]) if "stop_date_time" in first else start
    files = [{"name": path.name, "path": str(path.resolve()), "type": "label"}]
    if "file_name" in first:
        data = path.with_name(first["file_name"])
        files.append({"name": data.name, "path": str(data.resolve()), "type": "data", "exists": data.exists()})
    inst_id = first.get("instrument_id", "") or inst
    return ProductRecord(
        product_id=product_id,
        body=_body_name(target, path),
        mission=mission,
        instrument=canonical_instrument(mission, inst_id.split()[-1] if inst_id else "", product_id) if inst_id else "unknown",
        product_type=first.get("product_type", "") or first.get("processing_level", "") or "UNKNOWN",
        start_time=start,
        stop_time=stop,
        emission=num("emission_angle"),
        incidence=num("incidence_angle"),
        phase=num("phase_angle"),
        resolution=num("pixel_resolution", "pixel_scale", "pixel_resolution_x"),
        centre_lon=c_lon,
        centre_lat=c_lat,
        footprint=footprint,
        data_set_id=lid,
        source="label",
        files=files,
        extra={"label_format": "pds4", "instrument_id": inst_id},
    )


# --------------------------------------------------------------------------------------------


def read_label(path: PathLike) -> ProductRecord:
    """One product record from a PDS3, ISIS or PDS4 label.

    Raises
    ------
    NotAProductLabelError
        The file is not a product label.
    LabelError
        The label is one but cannot be used (unparseable, unknown target, bad footprint).

    Example
    -------
    >>> r = read_label("TC1S2B0_01_06691S820E0465_pds3.lbl")
    >>> r.mission, r.instrument, r.incidence
    ('Kaguya', 'TC', 83.46)
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label {path} does not exist")
    kind = label_format(path)
    if kind == "pds4":
        return _pds4_record(path)
    return _odl_record(path, kind)


_LABEL_SUFFIXES = {".lbl", ".xml", ".cub", ".img"}


def _candidates(folder: pathlib.Path, recursive: bool) -> Iterator[pathlib.Path]:
    files = sorted(folder.rglob("*") if recursive else folder.glob("*"))
    names = {p.with_suffix("").name.lower() + "|" + str(p.parent) for p in files if p.suffix.lower() == ".lbl"}
    for p in files:
        if not p.is_file() or p.suffix.lower() not in _LABEL_SUFFIXES:
            continue
        # an image with a detached label beside it is described by that label
        if p.suffix.lower() == ".img" and (p.with_suffix("").name.lower() + "|" + str(p.parent)) in names:
            continue
        yield p


def scan_labels(folder: PathLike, *, recursive: bool = True, paths: Iterable[PathLike] | None = None) -> ScanResult:
    """Read every label under ``folder`` (``.lbl``, ``.xml``, ``.cub``, ``.img``).

    Files that are not product labels or cannot be used are listed in ``skipped`` with the reason;
    the scan itself never stops on one bad file.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    records: list[ProductRecord] = []
    skipped: list[tuple[str, str]] = []
    todo = [pathlib.Path(p) for p in paths] if paths is not None else list(_candidates(folder, recursive))
    for p in todo:
        try:
            records.append(read_label(p))
        except (LabelError, OSError) as exc:
            skipped.append((str(p), str(exc)))
    return ScanResult(records, skipped)
