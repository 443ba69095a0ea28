"""The product index of the space browser: a ``products`` table, its search, and what fills it.

Each row is one orbital product (an image strip, a spectral cube, a map): body, mission,
instrument, product type, observation start / stop, emission / incidence / phase angles,
resolution, centre, footprint (lon/lat WKT, -180..180, split at the 180 deg meridian; and the
polar stereographic WKT for products poleward of 60 deg), an unwrapped bounding box
(``lon_min`` in -180..180, ``lon_max`` up to ``lon_min + 360``), files and URLs.

Region search is two-stage:

1. **Index.** The bounding boxes are in a spatial index: an R*Tree virtual table
   (``products_rtree``, kept in step by triggers) on SQLite, a GiST index on the expression
   ``box(point(lon_min, lat_min), point(lon_max, lat_max))`` on PostgreSQL. A region becomes at most
   three longitude windows (its own, and shifted by +-360 deg for boxes across 180 deg), so a
   product crossing the antimeridian is found from either side. Angle, time and name filters are
   ordinary indexed columns in the same SQL query.
2. **Exact test.** Candidates whose box lies inside a box region are accepted as they are; the
   others are tested with shapely (footprint intersects region), vectorised.

Filled three ways: :func:`harvest_ode` (PDS ODE REST), :func:`index_labels` (a folder of PDS3 / PDS4
/ ISIS labels) and :func:`make_demo_products` (a deterministic demo of realistic products).
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import (
    JSON,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from explore.planetary.footprints import Region, RegionError, region_from_bbox, region_from_wkt
from explore.planetary.labels import ProductRecord
from explore.platform.db import Base, UTCDateTime, utcnow

__all__ = [
    "Product",
    "ProductQuery",
    "SearchResult",
    "SearchError",
    "SORT_KEYS",
    "install_spatial_index",
    "drop_spatial_index",
    "search_products",
    "get_product",
    "upsert_products",
    "index_labels",
    "harvest_ode",
    "index_ode_answer",
    "make_demo_products",
    "make_demo_index",
    "bulk_insert_products",
    "product_rows",
    "product_facets",
    "UpsertReport",
]


class SearchError(ValueError):
    """A search the index cannot run (bad filter, bad region, bad sort key)."""


class Product(Base):
    """One orbital product in the index."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("body", "mission", "instrument", "product_id", name="uq_products_identity"),
        Index("ix_products_body_instrument", "body", "mission", "instrument", "product_type"),
        Index("ix_products_start_time", "start_time"),
        Index("ix_products_incidence", "incidence"),
        Index("ix_products_bbox", "lat_min", "lat_max", "lon_min", "lon_max"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(16))
    mission: Mapped[str] = mapped_column(String(64))
    instrument: Mapped[str] = mapped_column(String(64))
    product_type: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(200))
    data_set_id: Mapped[str] = mapped_column(String(200), default="")
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    emission: Mapped[float | None] = mapped_column(Float, nullable=True)
    incidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    phase: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution: Mapped[float | None] = mapped_column(Float, nullable=True)
    centre_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    centre_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    footprint: Mapped[str | None] = mapped_column(Text, nullable=True)
    footprint_polar: Mapped[str | None] = mapped_column(Text, nullable=True)
    pole: Mapped[str | None] = mapped_column(String(1), nullable=True)
    lon_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    urls: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; ``footprint`` is a GeoJSON geometry (lon -180..180)."""
        geometry = None
        if self.footprint:
            geometry = shapely.geometry.mapping(shapely.from_wkt(self.footprint))
        return {
            "id": self.id,
            "body": self.body,
            "mission": self.mission,
            "instrument": self.instrument,
            "product_type": self.product_type,
            "product_id": self.product_id,
            "data_set_id": self.data_set_id,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "stop_time": self.stop_time.isoformat() if self.stop_time else None,
            "emission": self.emission,
            "incidence": self.incidence,
            "phase": self.phase,
            "resolution": self.resolution,
            "centre_lon": self.centre_lon,
            "centre_lat": self.centre_lat,
            "bbox": None if self.lon_min is None else [self.lon_min, self.lat_min, self.lon_max, self.lat_max],
            "footprint": geometry,
            "footprint_wkt": self.footprint,
            "footprint_polar_wkt": self.footprint_polar,
            "pole": self.pole,
            "files": self.files or [],
            "urls": self.urls or {},
            "source": self.source,
        }

    def to_feature(self) -> dict[str, Any]:
        """The product as a GeoJSON Feature (geometry: the lon/lat footprint)."""
        d = self.to_dict()
        geometry = d.pop("footprint")
        d.pop("footprint_wkt")
        return {"type": "Feature", "id": self.id, "geometry": geometry, "properties": d}


# --------------------------------------------------------------------------------------------
# the spatial index

# The SQLite R*Tree indexes four dimensions: longitude, latitude, observation time (Julian days) and
# incidence angle, so a region + time + incidence query is answered by the tree itself. Unknown times
# or angles span the whole axis (the exact filters on the products table then decide).
_RTREE_VALUES = (
    "NEW.id, NEW.lon_min, NEW.lon_max, NEW.lat_min, NEW.lat_max, "
    "coalesce(julianday(NEW.start_time), -1e9), coalesce(julianday(coalesce(NEW.stop_time, NEW.start_time)), 1e9), "
    "coalesce(NEW.incidence, -1e9), coalesce(NEW.incidence, 1e9)"
)
_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS products_rtree USING rtree("
    "id, lon_min, lon_max, lat_min, lat_max, t_min, t_max, inc_min, inc_max)",
    f"""CREATE TRIGGER IF NOT EXISTS products_rtree_insert AFTER INSERT ON products
       WHEN NEW.lon_min IS NOT NULL BEGIN
         INSERT INTO products_rtree VALUES ({_RTREE_VALUES});
       END""",
    f"""CREATE TRIGGER IF NOT EXISTS products_rtree_update
       AFTER UPDATE OF lon_min, lon_max, lat_min, lat_max, start_time, stop_time, incidence ON products
       BEGIN
         DELETE FROM products_rtree WHERE id = OLD.id;
         INSERT INTO products_rtree SELECT {_RTREE_VALUES} WHERE NEW.lon_min IS NOT NULL;
       END""",
    """CREATE TRIGGER IF NOT EXISTS products_rtree_delete AFTER DELETE ON products
       BEGIN
         DELETE FROM products_rtree WHERE id = OLD.id;
       END""",
]
_PG_BOX = "box(point(lon_min, lat_min), point(lon_max, lat_max))"
_PG_DDL = [f"CREATE INDEX IF NOT EXISTS ix_products_box ON products USING gist (({_PG_BOX}))"]


def install_spatial_index(connection: Connection) -> None:
    """Create the dialect's spatial index on ``products`` (idempotent)."""
    name = connection.dialect.name
    ddl = _SQLITE_DDL if name == "sqlite" else _PG_DDL if name == "postgresql" else []
    for statement in ddl:
        connection.exec_driver_sql(statement)
    if name == "sqlite":  # rows inserted before the triggers existed
        connection.exec_driver_sql(
            "INSERT OR REPLACE INTO products_rtree SELECT "
            + _RTREE_VALUES.replace("NEW.", "")
            + " FROM products WHERE lon_min IS NOT NULL"
        )


def drop_spatial_index(connection: Connection) -> None:
    """Remove the spatial index (the migration's downgrade)."""
    if connection.dialect.name == "sqlite":
        for trigger in ("products_rtree_insert", "products_rtree_update", "products_rtree_delete"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS products_rtree")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP INDEX IF EXISTS ix_products_box")


@event.listens_for(Product.__table__, "after_create")
def _spatial_after_create(target: Any, connection: Connection, **_: Any) -> None:
    # databases built with metadata.create_all (not the migrations) get the same index
    install_spatial_index(connection)


@event.listens_for(Product.__table__, "before_drop")
def _spatial_before_drop(target: Any, connection: Connection, **_: Any) -> None:
    drop_spatial_index(connection)


# --------------------------------------------------------------------------------------------
# search

SORT_KEYS = ("start_time", "stop_time", "incidence", "emission", "phase", "resolution", "product_id",
             "mission", "instrument", "product_type", "id")


@dataclass
class ProductQuery:
    """The filters of a product search (all optional).

    ``bbox`` is (west, south, east, north) in degrees (``west > east`` crosses 180 deg);
    ``polygon`` is WKT in lon/lat degrees, or in polar stereographic metres with
    ``polygon_crs="south_polar"`` / ``"north_polar"``. ``sort`` is one of :data:`SORT_KEYS`,
    prefixed with ``-`` for descending order.
    """

    body: str | None = None
    mission: str | None = None
    instrument: str | None = None
    product_type: str | None = None
    min_emission: float | None = None
    max_emission: float | None = None
    min_incidence: float | None = None
    max_incidence: float | None = None
    min_phase: float | None = None
    max_phase: float | None = None
    start: dt.datetime | None = None
    stop: dt.datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon: str | None = None
    polygon_crs: str = "lonlat"
    limit: int = 100
    offset: int = 0
    sort: str = "start_time"

    def region(self) -> Region | None:
        """The search region, or None; raises :class:`SearchError` for an unusable one."""
        if self.bbox is not None and self.polygon is not None:
            raise SearchError("give a bbox or a polygon, not both")
        try:
            if self.bbox is not None:
                if len(self.bbox) != 4:
                    raise SearchError("bbox needs four numbers: west,south,east,north")
                return region_from_bbox(*(float(v) for v in self.bbox))
            if self.polygon is not None:
                return region_from_wkt(self.polygon, self.polygon_crs)  # type: ignore[arg-type]
        except RegionError as exc:
            raise SearchError(str(exc)) from exc
        return None


@dataclass
class SearchResult:
    """A page of products and the total number that matched."""

    total: int
    items: list[Product]
    limit: int
    offset: int
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "items": [p.to_dict() for p in self.items],
        }

    def feature_collection(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": [p.to_feature() for p in self.items],
                "total": self.total}


def _name_condition(column: Any, value: str | Sequence[str]) -> Any:
    """Case-insensitive match; ``LROC`` also matches ``LROC NAC`` and ``LROC WAC``."""
    values = [value] if isinstance(value, str) else list(value)
    values = [v.strip().lower() for item in values for v in str(item).split(",") if v.strip()]
    if not values:
        return None
    lowered = func.lower(column)
    return or_(*[or_(lowered == v, lowered.like(v.replace("%", r"\%") + " %", escape="\\")) for v in values])


def _attribute_conditions(q: ProductQuery) -> list[Any]:
    conds: list[Any] = []
    if q.body:
        conds.append(Product.body == q.body.strip().lower())
    for column, value in ((Product.mission, q.mission), (Product.instrument, q.instrument),
                          (Product.product_type, q.product_type)):
        if value:
            cond = _name_condition(column, value)
            if cond is not None:
                conds.append(cond)
    for column, lo, hi, name in ((Product.emission, q.min_emission, q.max_emission, "emission"),
                                 (Product.incidence, q.min_incidence, q.max_incidence, "incidence"),
                                 (Product.phase, q.min_phase, q.max_phase, "phase")):
        for v in (lo, hi):
            if v is not None and not (math.isfinite(v) and -180.0 <= v <= 180.0):
                raise SearchError(f"{name} angle {v} is not a number of degrees in -180..180")
        if lo is not None and hi is not None and lo > hi:
            raise SearchError(f"min {name} ({lo}) is above max {name} ({hi})")
        if lo is not None:
            conds.append(column >= lo)
        if hi is not None:
            conds.append(column <= hi)
    start = _utc(q.start)
    stop = _utc(q.stop)
    if start is not None and stop is not None and start > stop:
        raise SearchError(f"start ({start.isoformat()}) is after stop ({stop.isoformat()})")
    if start is not None:  # observation interval overlaps [start, stop]
        conds.append(func.coalesce(Product.stop_time, Product.start_time) >= start)
    if stop is not None:
        conds.append(Product.start_time <= stop)
    return conds


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _julian_day(value: dt.datetime) -> float:
    return value.timestamp() / 86400.0 + 2440587.5


def _spatial_condition(session: Session, region: Region, query: ProductQuery | None = None) -> Any:
    dialect = session.get_bind().dialect.name
    windows = region.lon_windows()
    params: dict[str, float] = {"s": region.lat_min, "n": region.lat_max}
    if dialect == "sqlite":
        extra = ""
        if query is not None:
            start, stop = _utc(query.start), _utc(query.stop)
            if start is not None:
                params["t0"] = _julian_day(start)
                extra += " AND t_max >= :t0"
            if stop is not None:
                params["t1"] = _julian_day(stop)
                extra += " AND t_min <= :t1"
            if query.min_incidence is not None:
                params["i0"] = query.min_incidence
                extra += " AND inc_max >= :i0"
            if query.max_incidence is not None:
                params["i1"] = query.max_incidence
                extra += " AND inc_min <= :i1"
        parts = []
        for k, (w, e) in enumerate(windows):
            params[f"w{k}"], params[f"e{k}"] = w, e
            parts.append(f"SELECT id FROM products_rtree WHERE lat_max >= :s AND lat_min <= :n "
                         f"AND lon_max >= :w{k} AND lon_min <= :e{k}{extra}")
        sub = text(" UNION ".join(parts)).bindparams(**params).columns(id=Integer).subquery("hits")
        return Product.id.in_(select(sub.c.id))
    if dialect == "postgresql":
        parts = []
        for k, (w, e) in enumerate(windows):
            params[f"w{k}"], params[f"e{k}"] = w, e
            parts.append(f"{_PG_BOX} && box(point(:w{k}, :s), point(:e{k}, :n))")
        return text("(" + " OR ".join(parts) + ")").bindparams(**params)
    return and_(Product.lat_max >= region.lat_min, Product.lat_min <= region.lat_max,
                or_(*[and_(Product.lon_max >= w, Product.lon_min <= e) for w, e in windows]))


def _order(sort: str) -> list[Any]:
    key = (sort or "start_time").strip()
    descending = key.startswith("-")
    key = key.lstrip("-+")
    if key not in SORT_KEYS:
        raise SearchError(f"cannot sort by {key!r}; use one of {', '.join(SORT_KEYS)} (prefix - for descending)")
    column = getattr(Product, key)
    return [column.desc() if descending else column.asc(), Product.id.desc() if descending else Product.id.asc()]


def _box_inside(region: Region, lon_min: np.ndarray, lon_max: np.ndarray, lat_min: np.ndarray,
                lat_max: np.ndarray) -> np.ndarray:
    """Products whose whole box lies inside a box region (no geometry test needed)."""
    inside_lat = (lat_min >= region.lat_min) & (lat_max <= region.lat_max)
    inside = np.zeros(lon_min.shape, dtype=bool)
    for w, e in region.lon_windows():
        inside |= (lon_min >= w) & (lon_max <= e)
    return inside & inside_lat


def search_products(session: Session, query: ProductQuery) -> SearchResult:
    """Products matching every filter of ``query``, one page of them and the total.

    Raises
    ------
    SearchError
        For a bad filter, region, page or sort key.

    Example
    -------
    >>> q = ProductQuery(body="moon", instrument="LROC NAC", min_incidence=60, bbox=(170, -10, -170, 10))
    >>> result = search_products(session, q)
    >>> result.total, [p.product_id for p in result.items[:3]]
    """
    import time

    started = time.perf_counter()
    if not (1 <= query.limit <= 10_000):
        raise SearchError(f"limit must be 1..10000, got {query.limit}")
    if query.offset < 0:
        raise SearchError(f"offset must be >= 0, got {query.offset}")
    conds = _attribute_conditions(query)
    order = _order(query.sort)
    region = query.region()
    if region is None:
        total = session.execute(select(func.count()).select_from(Product).where(*conds)).scalar_one()
        items = list(session.scalars(select(Product).where(*conds).order_by(*order)
                                     .limit(query.limit).offset(query.offset)))
        return SearchResult(int(total), items, query.limit, query.offset, (time.perf_counter() - started) * 1e3)

    conds.append(_spatial_condition(session, region, query))
    rows = session.execute(
        select(Product.id, Product.lon_min, Product.lon_max, Product.lat_min, Product.lat_max, Product.footprint)
        .where(*conds).order_by(*order)
    ).all()
    if rows:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        box = np.array([(r[1], r[2], r[3], r[4]) for r in rows], dtype=float)
        keep = _box_inside(region, box[:, 0], box[:, 1], box[:, 2], box[:, 3]) if region.is_box else np.zeros(len(rows), bool)
        todo = np.flatnonzero(~keep)
        if todo.size:
            geoms = shapely.from_wkt([rows[i][5] for i in todo])
            shapely.prepare(region.geometry)
            keep[todo] = shapely.intersects(region.geometry, geoms)
        matched = ids[keep]
    else:
        matched = np.empty(0, dtype=np.int64)
    page = [int(i) for i in matched[query.offset: query.offset + query.limit]]
    items: list[Product] = []
    if page:
        found = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(page)))}
        items = [found[i] for i in page if i in found]
    return SearchResult(int(matched.size), items, query.limit, query.offset, (time.perf_counter() - started) * 1e3)


def get_product(session: Session, product: int) -> Product | None:
    """One product by its index id."""
    return session.get(Product, product)


# --------------------------------------------------------------------------------------------
# filling the index


def product_rows(records: Iterable[ProductRecord]) -> list[dict[str, Any]]:
    """Column dictionaries for :class:`Product` from product records."""
    rows = []
    now = utcnow()
    for r in records:
        fp = r.footprint
        rows.append({
            "body": r.body, "mission": r.mission, "instrument": r.instrument, "product_type": r.product_type,
            "product_id": r.product_id, "data_set_id": r.data_set_id or "",
            "start_time": r.start_time, "stop_time": r.stop_time,
            "emission": r.emission, "incidence": r.incidence, "phase": r.phase, "resolution": r.resolution,
            "centre_lon": r.centre_lon, "centre_lat": r.centre_lat,
            "footprint": fp.wkt if fp else None,
            "footprint_polar": fp.polar_wkt if fp else None,
            "pole": fp.pole if fp else None,
            "lon_min": fp.lon_min if fp else None, "lon_max": fp.lon_max if fp else None,
            "lat_min": fp.lat_min if fp else None, "lat_max": fp.lat_max if fp else None,
            "files": r.files, "urls": r.urls, "extra": r.extra, "source": r.source,
            "created": now, "updated": now,
        })
    return rows


_EMPTY = (None, "", "UNKNOWN", "unknown", [], {})


@dataclass
class UpsertReport:
    """How many products an indexing step added and updated, and what it skipped."""

    added: int = 0
    updated: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def upsert_products(session: Session, records: Iterable[ProductRecord]) -> UpsertReport:
    """Add records, or merge them into the product with the same body, mission, instrument and id.

    Merging keeps known values where the new record lacks them (a PDS3 label and an ISIS cube of
    the same observation complete each other) and joins their file lists.
    """
    report = UpsertReport()
    for row in product_rows(records):
        existing = session.scalars(select(Product).where(
            Product.body == row["body"], Product.mission == row["mission"],
            Product.instrument == row["instrument"], Product.product_id == row["product_id"],
        )).first()
        if existing is None:
            session.add(Product(**row))
            session.flush()
            report.added += 1
            continue
        for key, value in row.items():
            if key in ("created",):
                continue
            if key == "files":
                known = {(f.get("path"), f.get("url"), f.get("name")) for f in existing.files or []}
                merged = list(existing.files or []) + [f for f in value if (f.get("path"), f.get("url"), f.get("name")) not in known]
                existing.files = merged
            elif key in ("urls", "extra"):
                setattr(existing, key, {**(getattr(existing, key) or {}), **(value or {})})
            elif value not in _EMPTY:
                setattr(existing, key, value)
        session.flush()
        report.updated += 1
    return report


def index_labels(session: Session, folder: str | pathlib.Path, *, recursive: bool = True) -> UpsertReport:
    """Scan a folder of PDS3 / PDS4 / ISIS labels into the index (bad files are reported, not fatal)."""
    from explore.planetary.labels import scan_labels

    result = scan_labels(folder, recursive=recursive)
    report = upsert_products(session, result.records)
    report.skipped.extend(result.skipped)
    return report


def index_ode_answer(session: Session, answer: Any, default_body: str = "moon") -> UpsertReport:
    """Index the products of one ODE JSON answer (e.g. a saved file)."""
    from explore.planetary.ode import parse_products_answer

    records, _ = parse_products_answer(answer, default_body)
    return upsert_products(session, records)


def harvest_ode(
    session: Session,
    client: Any,
    body: str,
    sets: Sequence[tuple[str, str, str]] | None = None,
    *,
    limit: int | None = None,
    progress: Callable[[int, int | None, str], None] | None = None,
    **filters: Any,
) -> UpsertReport:
    """Harvest ODE products into the index.

    Parameters
    ----------
    client
        An :class:`explore.planetary.ode.OdeClient`.
    sets
        (ihid, iid, pt) triples; default: every set ``query=iipt`` lists for the body with valid
        footprints.
    limit
        At most this many products per set.
    progress
        ``progress(n_done, n_total_or_None, message)``.
    filters
        ``min_incidence=...``, ``bbox=(w, s, e, n)``, ``start=datetime`` ... (see ``OdeClient.products``).
    """
    if sets is None:
        sets = [(s.ihid, s.iid, s.pt) for s in client.instrument_sets(body) if s.valid_footprints]
    report = UpsertReport()
    for ihid, iid, pt in sets:
        batch: list[ProductRecord] = []

        def on_page(n: int, total: int | None, label: str = f"{ihid}/{iid}/{pt}") -> None:
            if progress is not None:
                progress(n, total, label)

        for record in client.products(body, ihid, iid, pt, limit=limit, on_page=on_page, **filters):
            batch.append(record)
            if len(batch) >= 500:
                part = upsert_products(session, batch)
                report.added += part.added
                report.updated += part.updated
                batch = []
        part = upsert_products(session, batch)
        report.added += part.added
        report.updated += part.updated
    return report


# --------------------------------------------------------------------------------------------
# the demo index


@dataclass(frozen=True)
class _Kind:
    mission: str
    instrument: str
    product_type: str
    start: str
    stop: str
    length_km: tuple[float, float]
    width_km: tuple[float, float]
    resolution_m: tuple[float, float]
    weight: float
    data_set_id: str


#: instruments of the demo index: real missions, mission dates, typical frame sizes and pixel scales
DEMO_KINDS = (
    _Kind("LRO", "LROC NAC", "EDRNAC", "2009-07-01", "2024-12-31", (10, 30), (2.5, 5), (0.5, 2.0), 0.40, "LRO-L-LROC-2-EDR-V1.0"),
    _Kind("LRO", "LROC WAC", "EDRWAC", "2009-07-01", "2024-12-31", (200, 600), (60, 100), (75, 100), 0.15, "LRO-L-LROC-2-EDR-V1.0"),
    _Kind("Clementine", "UVVIS", "EDR", "1994-02-19", "1994-05-03", (30, 60), (35, 45), (100, 325), 0.10, "CLEM1-L-U-5-DIM-UVVIS-V1.0"),
    _Kind("Clementine", "NIR", "EDR", "1994-02-19", "1994-05-03", (30, 60), (30, 40), (150, 500), 0.05, "CLEM1-L-N-5-DIM-NIR-V1.0"),
    _Kind("Clementine", "LWIR", "EDR", "1994-02-19", "1994-05-03", (7, 15), (7, 12), (55, 136), 0.04, "CLEM1-L-LWIR-2-EDR-V1.0"),
    _Kind("Clementine", "HIRES", "EDR", "1994-02-19", "1994-05-03", (2, 6), (1.5, 4), (7, 20), 0.04, "CLEM1-L-H-2-EDR-V1.0"),
    _Kind("Chandrayaan-1", "M3", "CALIBRATED_IMAGE", "2008-11-18", "2009-08-16", (300, 800), (20, 40), (70, 140), 0.08, "CH1-ORB-L-M3-4-L1B-RADIANCE-V3.0"),
    _Kind("Kaguya", "TC", "TC_s_Level2B0", "2007-11-20", "2009-06-10", (50, 100), (35, 40), (10, 10), 0.08, "SLN-L-TC-3-S-LEVEL2B0-V1.0"),
    _Kind("Kaguya", "MI", "MI-NIR_Level2B2", "2007-11-20", "2009-06-10", (30, 60), (18, 20), (60, 60), 0.03, "SLN-L-MI-3-NIR-LEVEL2B2-V2.0"),
    _Kind("Chandrayaan-2", "OHRC", "CALIBRATED", "2019-09-01", "2025-12-31", (3, 12), (2.5, 3.5), (0.25, 0.32), 0.03, "ch2_ohr_ncp"),
)


def _product_id(kind: _Kind, k: int, t: dt.datetime) -> str:
    """A product id in the instrument's real pattern, unique for k < 1e7 (time-based ids are made
    unique by the caller)."""
    if kind.instrument == "LROC NAC":
        return f"M{100000000 + k * 37 % 899999999:09d}{'LR'[k % 2]}E"
    if kind.instrument == "LROC WAC":
        return f"M{100000000 + k * 53 % 899999999:09d}CE"
    if kind.mission == "Clementine":
        letter = {"UVVIS": "LUA", "NIR": "LNA", "LWIR": "LLA", "HIRES": "LHA"}[kind.instrument]
        return f"{letter}{k // 1000 % 10000:04d}{'ABCDEFGHJKLMNPQRSTUVWXYZ'[k % 24]}.{k % 1000:03d}"
    if kind.instrument == "M3":
        return f"M3G{t:%Y%m%dT%H%M%S}_V03_RDN"
    if kind.instrument in ("TC", "MI"):
        prefix = "TC1S2B0" if kind.instrument == "TC" else "MNA_2B2"
        return f"{prefix}_01_{k // 10 % 100000:05d}S{k % 900:03d}E{k % 3600:04d}"
    return f"ch2_ohr_ncp_{t:%Y%m%dT%H%M%S}{k % 10000:04d}_d_img_d18"


def make_demo_products(
    session: Session | None,
    n: int = 5000,
    *,
    seed: int = 20090618,
    body: str = "moon",
    batch_size: int = 50_000,
) -> int | list[dict[str, Any]]:
    """A deterministic demo index of ``n`` realistic lunar products.

    Instruments, mission dates, frame sizes and pixel scales follow the real missions
    (:data:`DEMO_KINDS`); centres are uniform on the sphere; strips run along near-polar orbits,
    so some cross the 180 deg meridian and a few pass over a pole (their footprints then contain
    it). Angles are drawn the way they are distributed in practice (incidence 0..90, emission
    mostly near nadir, phase within geometric limits). The same ``seed`` gives the same products.

    With a session the products are inserted (:func:`bulk_insert_products`) and the count is
    returned; with ``session=None`` the column dictionaries are returned instead.
    """
    rows = _demo_rows(n, seed, body)
    if session is None:
        return list(rows)
    return bulk_insert_products(session, rows, batch_size=batch_size)


def _demo_rows(n: int, seed: int, body: str) -> Iterator[dict[str, Any]]:
    from pyproj import Transformer

    from explore.planetary.bodies import body as get_body
    from explore.planetary.footprints import FootprintError, footprint_from_corners
    from explore.planetary.geodesy import destination

    target = get_body(body)
    rng = np.random.default_rng(seed)
    weights = np.array([k.weight for k in DEMO_KINDS])
    kind_index = rng.choice(len(DEMO_KINDS), size=n, p=weights / weights.sum())
    clon = rng.uniform(-180.0, 180.0, n)
    clat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    u = rng.uniform(0.0, 1.0, (5, n))
    length = np.empty(n)
    width = np.empty(n)
    res = np.empty(n)
    t0 = np.empty(n)
    t1 = np.empty(n)
    for k, kind in enumerate(DEMO_KINDS):
        m = kind_index == k
        length[m] = kind.length_km[0] + u[0, m] * (kind.length_km[1] - kind.length_km[0])
        width[m] = kind.width_km[0] + u[1, m] * (kind.width_km[1] - kind.width_km[0])
        res[m] = kind.resolution_m[0] + u[2, m] * (kind.resolution_m[1] - kind.resolution_m[0])
        t0[m] = dt.datetime.fromisoformat(kind.start).replace(tzinfo=dt.UTC).timestamp()
        t1[m] = dt.datetime.fromisoformat(kind.stop).replace(tzinfo=dt.UTC).timestamp()
    start_ts = t0 + u[3] * (t1 - t0)
    duration = length * 1000.0 / 1600.0  # ground speed ~1.6 km/s
    incidence = np.degrees(np.arccos(rng.uniform(0.0, 1.0, n)))  # cos i uniform: more low Sun
    emission = np.abs(rng.normal(0.0, 6.0, n)).clip(0, 60)
    emission[kind_index == 0] = np.abs(rng.normal(0.0, 12.0, int((kind_index == 0).sum()))).clip(0, 65)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    # phase between |i - e| and i + e, from the angle between Sun and spacecraft azimuths
    ir, er = np.radians(incidence), np.radians(emission)
    cos_g = np.cos(ir) * np.cos(er) + np.sin(ir) * np.sin(er) * np.cos(azimuth)
    phase = np.degrees(np.arccos(np.clip(cos_g, -1, 1)))
    heading = rng.normal(0.0, 8.0, n) + np.where(u[4] < 0.5, 0.0, 180.0)  # ascending / descending passes

    # corners: along-track half-length, cross-track half-width, on the sphere
    half_l = length * 500.0
    half_w = width * 500.0
    fwd_lon, fwd_lat = destination(clon, clat, heading, half_l, target)
    back_lon, back_lat = destination(clon, clat, heading + 180.0, half_l, target)
    corners = []
    for (plon, plat), sign, hdg in (((fwd_lon, fwd_lat), 1, heading), ((fwd_lon, fwd_lat), -1, heading),
                                    ((back_lon, back_lat), -1, heading), ((back_lon, back_lat), 1, heading)):
        corners.append(destination(plon, plat, hdg + 90.0 * sign, half_w, target))
    lon_c = np.stack([c[0] for c in corners], axis=1)
    lat_c = np.stack([c[1] for c in corners], axis=1)

    # the fast path: footprints that neither cross 180 deg nor come near a pole
    span = lon_c.max(axis=1) - lon_c.min(axis=1)
    simple = (span < 180.0) & (np.abs(lat_c).max(axis=1) < 88.0)
    polar_s = Transformer.from_crs(target.crs("geographic"), target.crs("south_polar"), always_xy=True)
    polar_n = Transformer.from_crs(target.crs("geographic"), target.crs("north_polar"), always_xy=True)
    xs_s, ys_s = polar_s.transform(lon_c, lat_c)
    xs_n, ys_n = polar_n.transform(lon_c, lat_c)

    now = utcnow()
    # plain Python numbers for the per-product loop (numpy scalars are slow one by one)
    lon_l, lat_l = lon_c.tolist(), lat_c.tolist()
    bbox_l = np.column_stack([lon_c.min(1), lon_c.max(1), lat_c.min(1), lat_c.max(1)]).tolist()
    simple_l = simple.tolist()
    clon_l, clat_l = clon.tolist(), clat.tolist()
    start_l, duration_l = start_ts.tolist(), duration.tolist()
    emission_l, incidence_l = np.round(emission, 3).tolist(), np.round(incidence, 3).tolist()
    phase_l, res_l = np.round(phase, 3).tolist(), np.round(res, 3).tolist()
    polar_s_l = (xs_s.tolist(), ys_s.tolist())
    polar_n_l = (xs_n.tolist(), ys_n.tolist())
    ring5 = "POLYGON ((%.5f %.5f, %.5f %.5f, %.5f %.5f, %.5f %.5f, %.5f %.5f))"
    ring1 = "POLYGON ((%.1f %.1f, %.1f %.1f, %.1f %.1f, %.1f %.1f, %.1f %.1f))"
    kinds = kind_index.tolist()
    used: set[tuple[str, str]] = set()
    for i in range(n):
        kind = DEMO_KINDS[kinds[i]]
        start = dt.datetime.fromtimestamp(start_l[i], dt.UTC).replace(microsecond=0)
        stop = start + dt.timedelta(seconds=duration_l[i])
        if simple_l[i]:
            lo, la = lon_l[i], lat_l[i]
            wkt = ring5 % (lo[0], la[0], lo[1], la[1], lo[2], la[2], lo[3], la[3], lo[0], la[0])
            bbox = bbox_l[i]
            polar_wkt = pole = None
            if bbox[2] <= -60.0 or bbox[3] >= 60.0:
                pole = "S" if bbox[2] + bbox[3] < 0 else "N"
                xs, ys = polar_s_l if pole == "S" else polar_n_l
                x, y = xs[i], ys[i]
                polar_wkt = ring1 % (x[0], y[0], x[1], y[1], x[2], y[2], x[3], y[3], x[0], y[0])
            c_lon, c_lat = clon_l[i], clat_l[i]
        else:
            try:
                fp = footprint_from_corners(lon_c[i], lat_c[i], target)
            except FootprintError:
                continue
            wkt, polar_wkt, pole = fp.wkt, fp.polar_wkt, fp.pole
            bbox = [fp.lon_min, fp.lon_max, fp.lat_min, fp.lat_max]
            c_lon, c_lat = fp.centre_lon, fp.centre_lat
        pid = _product_id(kind, i, start)
        while (kind.instrument, pid) in used:  # two observations in the same second: the next second
            start += dt.timedelta(seconds=1)
            stop += dt.timedelta(seconds=1)
            pid = _product_id(kind, i, start)
        used.add((kind.instrument, pid))
        yield {
            "body": target.name, "mission": kind.mission, "instrument": kind.instrument,
            "product_type": kind.product_type, "product_id": pid, "data_set_id": kind.data_set_id,
            "start_time": start, "stop_time": stop,
            "emission": emission_l[i], "incidence": incidence_l[i],
            "phase": phase_l[i], "resolution": res_l[i],
            "centre_lon": round(c_lon, 5), "centre_lat": round(c_lat, 5),
            "footprint": wkt, "footprint_polar": polar_wkt, "pole": pole,
            "lon_min": bbox[0], "lon_max": bbox[1], "lat_min": bbox[2], "lat_max": bbox[3],
            "files": [], "urls": {}, "extra": {"demo": True}, "source": "demo",
            "created": now, "updated": now,
        }


def demo_product_id_pattern(instrument: str) -> re.Pattern[str]:
    """The product-id pattern of a demo instrument (used by tests and docs)."""
    patterns = {"LROC NAC": r"^M\d{9}[LR]E$", "LROC WAC": r"^M\d{9}CE$", "M3": r"^M3G\d{8}T\d{6}_V03_RDN$"}
    return re.compile(patterns.get(instrument, r".+"))


def product_facets(session: Session, body: str | None = None) -> list[dict[str, Any]]:
    """The (body, mission, instrument, product type) sets in the index with their counts, for a
    search form's choices."""
    stmt = select(Product.body, Product.mission, Product.instrument, Product.product_type, func.count()) \
        .group_by(Product.body, Product.mission, Product.instrument, Product.product_type) \
        .order_by(Product.body, Product.mission, Product.instrument, Product.product_type)
    if body:
        stmt = stmt.where(Product.body == body.strip().lower())
    return [{"body": b, "mission": m, "instrument": i, "product_type": t, "count": int(n)}
            for b, m, i, t, n in session.execute(stmt)]


def _shared_lunar() -> pathlib.Path:
    import explore

    return pathlib.Path(explore.__file__).resolve().parents[2] / "shared" / "data" / "lunar"


def make_demo_index(
    session: Session,
    n: int = 5000,
    *,
    lunar_root: str | pathlib.Path | None = None,
) -> dict[str, int]:
    """The first-run index: ``n`` synthetic products (once), the real labels in
    ``<lunar_root>/ale_labels`` and the real ODE answers in ``<lunar_root>/ode_samples``.

    ``lunar_root`` defaults to ``../shared/data/lunar``; the prepared ``<data_dir>/moon`` folder has
    the same layout. Idempotent: running it again adds nothing new.
    """
    import json

    root = pathlib.Path(lunar_root) if lunar_root is not None else _shared_lunar()
    counts: dict[str, int] = {}
    existing = session.execute(select(func.count()).select_from(Product).where(Product.source == "demo")).scalar_one()
    counts["synthetic"] = int(make_demo_products(session, n)) if existing == 0 and n else int(existing)  # type: ignore[arg-type]
    labels = root / "ale_labels"
    if labels.is_dir():
        report = index_labels(session, labels)
        counts["from labels"] = report.added + report.updated
    answers = sorted((root / "ode_samples").glob("*.json")) if (root / "ode_samples").is_dir() else []
    counts["from ODE answers"] = 0
    for path in answers:
        from explore.planetary.ode import OdeError

        try:
            report = index_ode_answer(session, json.loads(path.read_text()), default_body="mars")
        except OdeError:
            continue  # the saved error answer
        counts["from ODE answers"] += report.added + report.updated
    return counts


_SECONDARY_INDEXES = {
    "ix_products_body_instrument": "products (body, mission, instrument, product_type)",
    "ix_products_start_time": "products (start_time)",
    "ix_products_incidence": "products (incidence)",
    "ix_products_bbox": "products (lat_min, lat_max, lon_min, lon_max)",
}


def bulk_insert_products(session: Session, rows: Iterable[dict[str, Any]], batch_size: int = 50_000) -> int:
    """Insert many new product rows fast (a first harvest, the demo index, a benchmark).

    On SQLite the secondary indexes and the R*Tree triggers are dropped during the load and rebuilt
    once at the end (building an index over sorted data beats updating it a million times); other
    databases insert in batches. Rows must be new (no merging): use :func:`upsert_products` for that.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        drop_spatial_index(connection)
        for name in _SECONDARY_INDEXES:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    n = 0
    batch: list[dict[str, Any]] = []
    table = Product.__table__
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            connection.execute(table.insert(), batch)
            n += len(batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
        n += len(batch)
    if sqlite:
        for name, target in _SECONDARY_INDEXES.items():
            connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        install_spatial_index(connection)  # creates the R*Tree again and fills it from the table
    return n
