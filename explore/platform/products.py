"""The product index of the space browser: a ``products`` table, its search, and what fills it.

Each row is one orbital product (an image strip, a spectral cube, a map): body, mission,
instrument, product type, observation start / stop, emission / incidence / phase angles,
resolution, centre, footprint (lon/lat WKT, -180..180, split at the 180 deg meridian; and the
polar stereographic WKT for products poleward of 60 deg), an unwrapped bounding box
(``lon_min`` in -180..180, ``lon_max`` up to ``lon_min + 360``), files and URLs.

Region search is two-stage:

1. **Index.** Each product's bounding box, observation interval and angles are in a spatial
   index, so the index answers most of a region + time + angle query and the table is read only
   for the candidates it returns. On SQLite that is a four-dimensional R*Tree (``products_rtree``:
   longitude, latitude, time, incidence; kept in step by triggers); on PostgreSQL a GiST index over
   three boxes: ``(lon, lat)``, ``(time, incidence)`` and ``(emission, phase)``. A region becomes at
   most three longitude windows (its own, and shifted by +-360 deg for boxes across 180 deg), so a
   product crossing the antimeridian is found from either side. Every filter is then tested
   exactly on the table's columns (the R*Tree holds 32-bit floats rounded outwards, and no
   emission or phase).
2. **Exact test.** Candidates whose box lies inside a rectangular region are accepted as they are;
   the others are tested with shapely (footprint intersects region), vectorised.

Only the page that is asked for is read in full (as :class:`ProductItem`, plain values without the
ORM); the total is exact.

Filled three ways: :func:`harvest_ode` (PDS ODE REST), :func:`index_labels` (a folder of PDS3 / PDS4
/ ISIS labels) and :func:`make_demo_products` (a deterministic demo of realistic products).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import pathlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    event,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from explore.planetary.footprints import Region, RegionError, region_from_bbox, region_from_wkt
from explore.planetary.labels import ProductRecord
from explore.platform.db import Base, UTCDateTime, utcnow
from explore.platform.product_columns import columns_for, drop_generation, install_generation

__all__ = [
    "Product",
    "ProductItem",
    "ProductQuery",
    "SearchResult",
    "SearchError",
    "SORT_KEYS",
    "install_spatial_index",
    "drop_spatial_index",
    "install_search_indexes",
    "drop_search_indexes",
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
        return _product_dict(self)

    def to_feature(self) -> dict[str, Any]:
        """The product as a GeoJSON Feature (geometry: the lon/lat footprint)."""
        return _product_feature(self)


@dataclass(slots=True)
class ProductItem:
    """A product as a search returns it: the column values of :class:`Product` (all but ``extra``,
    ``created`` and ``updated``) read without the ORM, with the same ``to_dict`` and ``to_feature``.

    It is a plain record, detached from any session: building a page of them costs microseconds.
    """

    id: int
    body: str
    mission: str
    instrument: str
    product_type: str
    product_id: str
    data_set_id: str
    start_time: dt.datetime | None
    stop_time: dt.datetime | None
    emission: float | None
    incidence: float | None
    phase: float | None
    resolution: float | None
    centre_lon: float | None
    centre_lat: float | None
    footprint: str | None
    footprint_polar: str | None
    pole: str | None
    lon_min: float | None
    lon_max: float | None
    lat_min: float | None
    lat_max: float | None
    files: list[dict[str, Any]]
    urls: dict[str, str]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, as :meth:`Product.to_dict`."""
        return _product_dict(self)

    def to_feature(self) -> dict[str, Any]:
        """A GeoJSON Feature, as :meth:`Product.to_feature`."""
        return _product_feature(self)


def _product_dict(p: Product | ProductItem) -> dict[str, Any]:
    geometry = shapely.geometry.mapping(shapely.from_wkt(p.footprint)) if p.footprint else None
    return {
        "id": p.id,
        "body": p.body,
        "mission": p.mission,
        "instrument": p.instrument,
        "product_type": p.product_type,
        "product_id": p.product_id,
        "data_set_id": p.data_set_id,
        "start_time": p.start_time.isoformat() if p.start_time else None,
        "stop_time": p.stop_time.isoformat() if p.stop_time else None,
        "emission": p.emission,
        "incidence": p.incidence,
        "phase": p.phase,
        "resolution": p.resolution,
        "centre_lon": p.centre_lon,
        "centre_lat": p.centre_lat,
        "bbox": None if p.lon_min is None else [p.lon_min, p.lat_min, p.lon_max, p.lat_max],
        "footprint": geometry,
        "footprint_wkt": p.footprint,
        "footprint_polar_wkt": p.footprint_polar,
        "pole": p.pole,
        "files": p.files or [],
        "urls": p.urls or {},
        "source": p.source,
    }


def _product_feature(p: Product | ProductItem) -> dict[str, Any]:
    d = _product_dict(p)
    geometry = d.pop("footprint")
    d.pop("footprint_wkt")
    return {"type": "Feature", "id": p.id, "geometry": geometry, "properties": d}


_PRODUCTS = Product.__table__
#: the columns of a :class:`ProductItem`, in its field order
_ITEM_COLUMNS = tuple(_PRODUCTS.c[name] for name in ProductItem.__dataclass_fields__)


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
#: the R*Tree as a table for queries (its own metadata: ``create_all`` must not make it)
_RTREE = Table("products_rtree", MetaData(), Column("id", Integer, primary_key=True),
               *(Column(name, Float) for name in ("lon_min", "lon_max", "lat_min", "lat_max",
                                                  "t_min", "t_max", "inc_min", "inc_max")))

# The PostgreSQL GiST index: three boxes (lon/lat; time in seconds since 1970 and incidence; emission
# and phase). A multicolumn GiST index tests every column's condition on the index entries, so the
# table is read only for products that pass all of them. The query must repeat these expressions
# exactly for the planner to use the index. Unknown values span the whole axis, as in the R*Tree.
_PG_EPOCH = "date_part('epoch', {} - timestamptz '1970-01-01 00:00:00+00')"
_PG_BOX = "box(point(lon_min, lat_min), point(lon_max, lat_max))"
_PG_TIME_INCIDENCE = (
    f"box(point(coalesce({_PG_EPOCH.format('start_time')}, -1e18), coalesce(incidence, -1e9)), "
    f"point(coalesce({_PG_EPOCH.format('coalesce(stop_time, start_time)')}, 1e18), coalesce(incidence, 1e9)))"
)
_PG_EMISSION_PHASE = ("box(point(coalesce(emission, -1e9), coalesce(phase, -1e9)), "
                      "point(coalesce(emission, 1e9), coalesce(phase, 1e9)))")
PG_SPATIAL_INDEX = "ix_products_box_time_angles"
_PG_DDL = [f"CREATE INDEX IF NOT EXISTS {PG_SPATIAL_INDEX} ON products USING gist "
           f"(({_PG_BOX}), ({_PG_TIME_INCIDENCE}), ({_PG_EMISSION_PHASE}))"]
# sorted searches put unknown values first, as SQLite does: the B-tree indexes of the sort keys
# must hold NULLs first for PostgreSQL to read them in that order (SQLite's always do)
_PG_NULLS_FIRST = {"ix_products_start_time": "start_time", "ix_products_incidence": "incidence"}
_OPEN = 1e300  # an unbounded side of a query box


def install_spatial_index(connection: Connection) -> None:
    """Create the dialect's spatial index on ``products`` (idempotent); on PostgreSQL also the
    sort-key indexes with unknown values first."""
    name = connection.dialect.name
    ddl = _SQLITE_DDL if name == "sqlite" else _PG_DDL if name == "postgresql" else []
    for statement in ddl:
        connection.exec_driver_sql(statement)
    if name == "postgresql":
        for index, column in _PG_NULLS_FIRST.items():
            definition = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name"),
                {"name": index}).scalar()
            if definition is None or "NULLS FIRST" not in definition:
                connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
                connection.exec_driver_sql(f"CREATE INDEX {index} ON products ({column} NULLS FIRST)")
    if name == "sqlite":  # rows inserted before the triggers existed
        connection.exec_driver_sql(
            "INSERT OR REPLACE INTO products_rtree SELECT "
            + _RTREE_VALUES.replace("NEW.", "")
            + " FROM products WHERE lon_min IS NOT NULL"
        )


# Searches without a region read their count and first page from B-tree indexes:
# - ``ix_products_set_time``: a product set (body, mission, instrument, product type), then the start
#   time, holding the other filtered columns too, so a name + angle + time search is a range of it
#   (tested on the index entries; PostgreSQL needs the visibility map for that: VACUUM) read in
#   start-time order;
# - ``ix_products_duration``: the longest observation, which turns "the observation overlaps
#   [start, stop]" into a closed range of start times (start - longest .. stop).
SEARCH_INDEXES = ("ix_products_set_time", "ix_products_duration")
_SEARCH_DDL = {
    "sqlite": [
        "CREATE INDEX IF NOT EXISTS ix_products_set_time ON products "
        "(body, mission, instrument, product_type, start_time, stop_time, incidence, emission, phase)",
        "CREATE INDEX IF NOT EXISTS ix_products_duration ON products ((julianday(stop_time) - julianday(start_time)))",
    ],
    "postgresql": [
        "CREATE INDEX IF NOT EXISTS ix_products_set_time ON products "
        "(body, mission, instrument, product_type, start_time NULLS FIRST) INCLUDE (stop_time, incidence, emission, phase)",
        "CREATE INDEX IF NOT EXISTS ix_products_duration ON products ((stop_time - start_time))",
    ],
}
_DURATION_SQL = {
    "sqlite": "SELECT julianday(stop_time) - julianday(start_time) FROM products "
              "WHERE julianday(stop_time) - julianday(start_time) IS NOT NULL "
              "ORDER BY julianday(stop_time) - julianday(start_time) DESC LIMIT 1",
    "postgresql": "SELECT stop_time - start_time FROM products WHERE stop_time - start_time IS NOT NULL "
                  "ORDER BY stop_time - start_time DESC LIMIT 1",
}


def install_search_indexes(connection: Connection) -> None:
    """Create the B-tree indexes that searches without a region read (idempotent)."""
    for statement in _SEARCH_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


def drop_search_indexes(connection: Connection) -> None:
    """Remove them (the migration's downgrade)."""
    for name in SEARCH_INDEXES:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def drop_spatial_index(connection: Connection) -> None:
    """Remove the spatial index (the migration's downgrade)."""
    if connection.dialect.name == "sqlite":
        for trigger in ("products_rtree_insert", "products_rtree_update", "products_rtree_delete"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS products_rtree")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_SPATIAL_INDEX}")
        connection.exec_driver_sql("DROP INDEX IF EXISTS ix_products_box")  # the index of revision 0002


@event.listens_for(Product.__table__, "after_create")
def _spatial_after_create(target: Any, connection: Connection, **_: Any) -> None:
    # databases built with metadata.create_all (not the migrations) get the same indexes
    install_spatial_index(connection)
    install_search_indexes(connection)
    install_generation(connection)


@event.listens_for(Product.__table__, "before_drop")
def _spatial_before_drop(target: Any, connection: Connection, **_: Any) -> None:
    drop_spatial_index(connection)
    drop_generation(connection)


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
    prefixed with ``-`` for descending order, then by ``id``. Products without a value for the key
    count as smaller than any value, and names sort by their bytes, so SQLite and PostgreSQL give
    the same order. A search without a region counts its matches up to ``count_limit`` (None: all
    of them); beyond it the total is reported as "more than ``count_limit``".
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
    count_limit: int | None = 10_000

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
    """A page of products and the number that matched: ``total`` is exact when ``total_exact``;
    otherwise more than ``total`` products match (the count stopped at the query's ``count_limit``)."""

    total: int
    items: list[ProductItem]
    limit: int
    offset: int
    elapsed_ms: float = 0.0
    total_exact: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "total_exact": self.total_exact,
            "limit": self.limit,
            "offset": self.offset,
            "items": [p.to_dict() for p in self.items],
        }

    def feature_collection(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": [p.to_feature() for p in self.items],
                "total": self.total, "total_exact": self.total_exact}


# Searches of the same shape (the same filters present, the same number of longitude windows, the
# same sort) share one SQL statement with bound parameters: it is built and compiled once, and each
# search only binds its values. Building a statement costs about a millisecond; a search a few.


@dataclass(frozen=True)
class _Shape:
    """What a search's SQL depends on besides the values it binds."""

    dialect: str
    filters: tuple[str, ...]  # the value filters present: "body", "min_incidence", "start", ...
    names: tuple[tuple[str, int], ...]  # name filters (column, number of alternatives)
    windows: int  # longitude windows of the region; 0: no region
    rectangular: bool  # the region is its bounding box (no geometry test inside it)
    sort: str
    in_set: bool = False  # one product set (body, mission, instrument, product type) by equality
    time_floor: bool = False  # start_time >= :start_floor (the longest observation before start)


_ANGLES = ("emission", "incidence", "phase")


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_values(q: ProductQuery) -> dict[str, list[str]]:
    """The name filters: column -> the lower-case names asked for (a comma separates alternatives)."""
    out = {}
    for column, value in (("mission", q.mission), ("instrument", q.instrument), ("product_type", q.product_type)):
        if not value:
            continue
        items = [value] if isinstance(value, str) else list(value)
        values = [v.strip().lower() for item in items for v in str(item).split(",") if v.strip()]
        if values:
            out[column] = values
    return out


def _name_matches(name: str, wanted: list[str]) -> bool:
    """The SQL name test in Python: equal, or the name's first words (``lower(name) LIKE 'v %'``)."""
    name = name.lower()
    return any(name == w or name.startswith(w + " ") for w in wanted)


_SET_COLUMNS = ("body", "mission", "instrument", "product_type")
_FIRST_SET = text("SELECT body, mission, instrument, product_type FROM products "
                  "ORDER BY body, mission, instrument, product_type LIMIT 1")
# the next set after a given one: the next product type of the same instrument, else the next
# instrument of the mission, ... (an equality prefix and a range: one seek in the set index on both
# databases, where SQLite would seek a row-value comparison on its first column only)
_NEXT_SET = [
    text("SELECT body, mission, instrument, product_type FROM products WHERE "
         + " AND ".join(f"{c} = :{c}" for c in _SET_COLUMNS[:level])
         + (" AND " if level else "") + f"{_SET_COLUMNS[level]} > :{_SET_COLUMNS[level]} "
         + "ORDER BY " + ", ".join(_SET_COLUMNS[level:]) + " LIMIT 1")
    for level in (3, 2, 1, 0)
]
_MAX_SETS = 64  # beyond this many matching sets, one query with the name tests instead of one per set
_MAX_SET_STEPS = 2000


def _matching_sets(connection: Connection, q: ProductQuery) -> list[tuple[str, str, str, str]] | None:
    """The product sets (body, mission, instrument, product type) that the name filters select,
    found by walking the distinct sets of the set index (one index seek per set), or None when
    there are no name filters or too many sets to query one by one."""
    wanted = _name_values(q)
    if not wanted:
        return None
    body = q.body.strip().lower() if q.body else None
    found: list[tuple[str, str, str, str]] = []
    row = connection.execute(_FIRST_SET).first()
    for _ in range(_MAX_SET_STEPS):
        if row is None:
            return found
        current = tuple(row)
        if (body is None or current[0] == body) and all(
                _name_matches(current[_SET_COLUMNS.index(c)], v) for c, v in wanted.items()):
            found.append(current)  # type: ignore[arg-type]
            if len(found) > _MAX_SETS:
                return None
        values = dict(zip(_SET_COLUMNS, current, strict=True))
        for statement in _NEXT_SET:
            row = connection.execute(statement, values).first()
            if row is not None:
                break
    return None


def _time_floor(connection: Connection, start: dt.datetime, bounded: bool) -> dt.datetime | None:
    """The earliest start time of an observation that can still overlap ``start``: ``start`` minus
    the longest observation in the index (one index seek); None when that bound would be wrong
    (products with a stop but no start time, and no upper bound on the time)."""
    if not bounded and connection.execute(text(
            "SELECT 1 FROM products WHERE start_time IS NULL AND stop_time IS NOT NULL LIMIT 1")).first():
        return None
    longest = connection.execute(text(_DURATION_SQL[connection.dialect.name])).scalar()
    if longest is None:
        longest = dt.timedelta(0)
    elif not isinstance(longest, dt.timedelta):
        longest = dt.timedelta(days=float(longest))
    return start - max(longest, dt.timedelta(0)) - dt.timedelta(seconds=1)


def _plan(q: ProductQuery, region: Region | None, dialect: str) -> tuple[_Shape, dict[str, Any]]:
    """The shape of the search and the values to bind; raises :class:`SearchError` for bad filters."""
    params: dict[str, Any] = {}
    filters: list[str] = []
    if q.body:
        params["body"] = q.body.strip().lower()
        filters.append("body")
    names: list[tuple[str, int]] = []
    for column, values in _name_values(q).items():
        for k, v in enumerate(values):  # "LROC" also matches "LROC NAC" and "LROC WAC"
            params[f"{column}{k}"], params[f"{column}{k}_like"] = v, _like_escape(v) + " %"
        names.append((column, len(values)))
    for name in _ANGLES:
        lo, hi = getattr(q, f"min_{name}"), getattr(q, f"max_{name}")
        for v in (lo, hi):
            if v is not None and not (math.isfinite(v) and -180.0 <= v <= 180.0):
                raise SearchError(f"{name} angle {v} is not a number of degrees in -180..180")
        if lo is not None and hi is not None and lo > hi:
            raise SearchError(f"min {name} ({lo}) is above max {name} ({hi})")
        for key, v in ((f"min_{name}", lo), (f"max_{name}", hi)):
            if v is not None:
                params[key] = float(v)
                filters.append(key)
    start, stop = _utc(q.start), _utc(q.stop)
    if start is not None and stop is not None and start > stop:
        raise SearchError(f"start ({start.isoformat()}) is after stop ({stop.isoformat()})")
    for key, value in (("start", start), ("stop", stop)):
        if value is not None:
            params[key], params[f"{key}_jd"] = value, _julian_day(value)
            filters.append(key)
    windows = 0
    rectangular = False
    if region is not None:
        lon_windows = region.lon_windows()
        windows, rectangular = len(lon_windows), _rectangular(region)
        params["south"], params["north"] = region.lat_min, region.lat_max
        for k, (w, e) in enumerate(lon_windows):
            params[f"west{k}"], params[f"east{k}"] = w, e
        if dialect == "postgresql":  # the GiST boxes: open sides far beyond any value
            params.update(
                t0=start.timestamp() if start else -_OPEN, t1=stop.timestamp() if stop else _OPEN,
                i0=params.get("min_incidence", -_OPEN), i1=params.get("max_incidence", _OPEN),
                em0=params.get("min_emission", -_OPEN), em1=params.get("max_emission", _OPEN),
                ph0=params.get("min_phase", -_OPEN), ph1=params.get("max_phase", _OPEN),
            )
    key = (q.sort or "start_time").strip()
    if key.lstrip("-+") not in SORT_KEYS:
        raise SearchError(f"cannot sort by {key.lstrip('-+')!r}; use one of {', '.join(SORT_KEYS)} "
                          "(prefix - for descending)")
    sort = ("-" if key.startswith("-") else "") + key.lstrip("-+")
    return _Shape(dialect, tuple(filters), tuple(names), windows, rectangular, sort), params


def _conditions(shape: _Shape) -> list[Any]:
    """The exact filters on the products table."""
    c = _PRODUCTS.c
    conds: list[Any] = []
    if "body" in shape.filters:
        conds.append(c.body == bindparam("body"))
    for column, count in shape.names:
        lowered = func.lower(c[column])
        conds.append(or_(*[or_(lowered == bindparam(f"{column}{k}"),
                               lowered.like(bindparam(f"{column}{k}_like"), escape="\\")) for k in range(count)]))
    for name in _ANGLES:
        angle: Any = c[name]
        if shape.in_set and shape.dialect == "sqlite":
            # "+incidence": no index for this term. SQLite's statistics say nothing of how a product
            # set and an angle range combine; it would read the angle's index and sort, where the
            # set's range of the covering ix_products_set_time is both smaller and in order
            angle = literal_column(f"+products.{name}", Float)
        if f"min_{name}" in shape.filters:
            conds.append(angle >= bindparam(f"min_{name}"))
        if f"max_{name}" in shape.filters:
            conds.append(angle <= bindparam(f"max_{name}"))
    if shape.in_set:
        conds.extend(c[name] == bindparam(f"set_{name}") for name in _SET_COLUMNS)
    if "start" in shape.filters:  # the observation interval overlaps [start, stop]
        conds.append(func.coalesce(c.stop_time, c.start_time) >= bindparam("start", type_=UTCDateTime()))
    if shape.time_floor:  # implied by the test above; it makes it a range of the start-time indexes
        conds.append(c.start_time >= bindparam("start_floor", type_=UTCDateTime()))
    if "stop" in shape.filters:
        conds.append(c.start_time <= bindparam("stop", type_=UTCDateTime()))
    return conds


def _order(shape: _Shape) -> list[Any]:
    descending = shape.sort.startswith("-")
    column: Any = _PRODUCTS.c[shape.sort.lstrip("-")]
    if shape.dialect == "postgresql" and isinstance(column.type, String):
        column = column.collate("C")  # byte order, as SQLite's
    # unknown values are the smallest (SQLite's rule; PostgreSQL's indexes are built to match)
    ordered = column.desc().nulls_last() if descending else column.asc().nulls_first()
    return [ordered, _PRODUCTS.c.id.desc() if descending else _PRODUCTS.c.id.asc()]


def _rtree_hits(shape: _Shape) -> Any:
    """The R*Tree entries that meet the region (any of its longitude windows), the time range and
    the incidence range: a subquery of ids."""
    r = _RTREE.c
    common = [r.lat_max >= bindparam("south"), r.lat_min <= bindparam("north")]
    if "start" in shape.filters:
        common.append(r.t_max >= bindparam("start_jd"))
    if "stop" in shape.filters:
        common.append(r.t_min <= bindparam("stop_jd"))
    if "min_incidence" in shape.filters:
        common.append(r.inc_max >= bindparam("min_incidence"))
    if "max_incidence" in shape.filters:
        common.append(r.inc_min <= bindparam("max_incidence"))
    parts = [select(r.id).where(*common, r.lon_max >= bindparam(f"west{k}"), r.lon_min <= bindparam(f"east{k}"))
             for k in range(shape.windows)]
    return union(*parts).subquery("hits")  # a box wider than 180 deg can meet two windows


def _gist_condition(shape: _Shape) -> Any:
    """The conditions the PostgreSQL GiST index answers, written as its expressions."""
    names = ["south", "north"]
    windows = []
    for k in range(shape.windows):
        names += [f"west{k}", f"east{k}"]
        windows.append(f"{_PG_BOX} && box(point(:west{k}, :south), point(:east{k}, :north))")
    parts = ["(" + " OR ".join(windows) + ")"]
    if {"start", "stop", "min_incidence", "max_incidence"} & set(shape.filters):
        names += ["t0", "t1", "i0", "i1"]
        parts.append(f"{_PG_TIME_INCIDENCE} && box(point(:t0, :i0), point(:t1, :i1))")
    if {"min_emission", "max_emission", "min_phase", "max_phase"} & set(shape.filters):
        names += ["em0", "em1", "ph0", "ph1"]
        parts.append(f"{_PG_EMISSION_PHASE} && box(point(:em0, :ph0), point(:em1, :ph1))")
    return text(" AND ".join(parts)).bindparams(*(bindparam(n, type_=Float) for n in names))


def _inside_condition(shape: _Shape) -> Any:
    """SQL: the product's box lies inside the (rectangular) region."""
    c = _PRODUCTS.c
    return and_(c.lat_min >= bindparam("south"), c.lat_max <= bindparam("north"),
                or_(*[and_(c.lon_min >= bindparam(f"west{k}"), c.lon_max <= bindparam(f"east{k}"))
                      for k in range(shape.windows)]))


@functools.lru_cache(maxsize=512)
def _candidates_statement(shape: _Shape) -> Any:
    """Region search: (id, box inside the region, footprint where a geometry test is needed) of the
    candidates, in result order."""
    c = _PRODUCTS.c
    conds = _conditions(shape)
    if shape.rectangular:
        inside = and_(_inside_condition(shape), c.footprint.is_not(None))
        stmt = select(c.id, inside, case((inside, null()), else_=c.footprint))
    else:
        stmt = select(c.id, false(), c.footprint)
    if shape.dialect == "sqlite":
        hits = _rtree_hits(shape)
        stmt = stmt.select_from(_PRODUCTS.join(hits, hits.c.id == c.id))
    elif shape.dialect == "postgresql":
        conds.append(_gist_condition(shape))
    else:  # no spatial index: the same test on the box columns
        conds.append(and_(c.lat_max >= bindparam("south"), c.lat_min <= bindparam("north"),
                          or_(*[and_(c.lon_max >= bindparam(f"west{k}"), c.lon_min <= bindparam(f"east{k}"))
                                for k in range(shape.windows)])))
    return stmt.where(*conds).order_by(*_order(shape))


@functools.lru_cache(maxsize=512)
def _page_statements(shape: _Shape) -> tuple[Any, Any, Any]:
    """Search without a region: (count up to ``:cap`` rows, one page of items, the sort keys and
    ids of the first ``:limit`` rows)."""
    conds = _conditions(shape)
    order = _order(shape)
    statements = [
        # counting stops after :cap rows: a broad search costs a bounded number of index entries
        select(_PRODUCTS.c.id).where(*conds).limit(bindparam("cap")),
        select(*_ITEM_COLUMNS).where(*conds).order_by(*order).limit(bindparam("limit")).offset(bindparam("offset")),
        select(_PRODUCTS.c[shape.sort.lstrip("-")], _PRODUCTS.c.id).where(*conds).order_by(*order)
        .limit(bindparam("limit")),
    ]
    count = select(func.count()).select_from(statements[0].subquery())
    return count, statements[1], statements[2]


@functools.lru_cache(maxsize=64)
def _order_statement(dialect: str, sort: str) -> Any:
    """Every product id in the order of ``sort`` (the columns' ranks)."""
    return select(_PRODUCTS.c.id).order_by(*_order(_Shape(dialect, (), (), 0, False, sort)))


_ITEMS_BY_ID = select(*_ITEM_COLUMNS).where(_PRODUCTS.c.id.in_(bindparam("ids", expanding=True)))
# PostgreSQL: one array parameter instead of a hundred (0.4 ms less per page)
_ITEMS_BY_ID_ARRAY = select(*_ITEM_COLUMNS).where(_PRODUCTS.c.id == bindparam("ids", type_=ARRAY(BigInteger)).any_())


def _rectangular(region: Region) -> bool:
    """Whether the region is its (unwrapped) bounding box: a drawn box, or a polygon such as a
    latitude cap around a pole. Only then does a product box inside it need no geometry test."""
    if region.is_box:
        return True
    box_area = (region.lon_max - region.lon_min) * (region.lat_max - region.lat_min)
    return abs(region.geometry.area - box_area) <= 1e-12 * box_area


def _items(connection: Connection, ids: Sequence[int]) -> list[ProductItem]:
    """The products with these ids, in this order, as plain records."""
    if not ids:
        return []
    statement = _ITEMS_BY_ID_ARRAY if connection.dialect.name == "postgresql" else _ITEMS_BY_ID
    found = {row[0]: ProductItem(*row) for row in connection.execute(statement, {"ids": list(ids)})}
    return [found[i] for i in ids if i in found]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _julian_day(value: dt.datetime) -> float:
    return value.timestamp() / 86400.0 + 2440587.5


def search_products(session: Session, query: ProductQuery, *, columns: bool | None = None) -> SearchResult:
    """Products matching every filter of ``query``: one page of them and the exact total.

    With a region, the spatial index gives the candidates (already filtered by time and angles),
    the products whose box lies inside a rectangular region are accepted, the footprints of the
    others are tested with shapely, and only the requested page is then read in full.

    On a large index, region searches (and searches sorted by a key without an index) run on the
    columns held in memory (:mod:`explore.platform.product_columns`) once they are current: the same
    answer in about a millisecond. ``columns``: None uses them where they help and builds them in
    the background when needed; True uses them for this search (built now if stale); False keeps
    the search in SQL.

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
    started = time.perf_counter()
    if not (1 <= query.limit <= 10_000):
        raise SearchError(f"limit must be 1..10000, got {query.limit}")
    if query.offset < 0:
        raise SearchError(f"offset must be >= 0, got {query.offset}")
    connection = session.connection()
    region = query.region()
    shape, params = _plan(query, region, connection.dialect.name)

    if query.count_limit is not None and query.count_limit < 0:
        raise SearchError(f"count_limit must be >= 0, got {query.count_limit}")

    def result(total: int, items: list[ProductItem], exact: bool = True) -> SearchResult:
        return SearchResult(total, items, query.limit, query.offset, (time.perf_counter() - started) * 1e3, exact)

    in_memory = None
    if columns or (columns is None and (region is not None or shape.sort.lstrip("-") not in _INDEXED_SORTS)):
        in_memory = columns_for(connection, build=columns)
    if in_memory is not None:
        total, page_ids, exact = in_memory.search(connection, query, region, shape.sort, shape.rectangular)
        return result(total, _items(connection, page_ids), exact)
    if region is None:
        return _search_without_region(connection, query, shape, params, result)

    rows = connection.execute(_candidates_statement(shape), params).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    keep = np.fromiter((bool(r[1]) for r in rows), dtype=bool, count=len(rows))
    todo = [k for k, r in enumerate(rows) if r[2] is not None]
    if todo:
        shapely.prepare(region.geometry)
        keep[todo] = shapely.intersects(region.geometry, shapely.from_wkt([rows[k][2] for k in todo]))
    matched = ids[keep]
    page_ids = matched[query.offset: query.offset + query.limit].tolist()
    return result(int(matched.size), _items(connection, page_ids))


_UNBOUNDED = 2**62
# searches without a region in these orders read B-tree indexes; in the others, SQL sorts every match
_INDEXED_SORTS = ("start_time", "id")


def _search_without_region(connection: Connection, query: ProductQuery, shape: _Shape, params: dict[str, Any],
                           result: Callable[..., SearchResult]) -> SearchResult:
    """Count (up to the query's count limit) and page from B-tree indexes.

    Name filters become the product sets they select (one query per set, each an equality range of
    ``ix_products_set_time``; their first pages are merged here in the sort order); a time window
    gets a lower bound on the start time, so it is a range of a start-time index too.
    """
    sets = _matching_sets(connection, query)
    if sets == []:
        return result(0, [])
    if shape.dialect == "postgresql":
        # psycopg prepares a statement on its fifth run, and PostgreSQL may then keep one generic
        # plan for every value; for a count stopping at :cap in a set of unknown size that plan can
        # read an angle index and the heap (0.3 s instead of 15 ms at 1e6 products)
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    if sets is not None:
        shape = dataclasses.replace(shape, names=(), in_set=True)
    if "start" in shape.filters:
        floor = _time_floor(connection, params["start"], "stop" in shape.filters)
        if floor is not None:
            shape = dataclasses.replace(shape, time_floor=True)
            params = {**params, "start_floor": floor}
    count, page, keys = _page_statements(shape)
    groups = [params] if sets is None else [{**params, **{f"set_{c}": v for c, v in zip(_SET_COLUMNS, s, strict=True)}}
                                            for s in sets]
    cap = query.count_limit
    total = 0
    for group in groups:
        total += connection.execute(count, {**group, "cap": _UNBOUNDED if cap is None else cap + 1 - total}).scalar_one()
        if cap is not None and total > cap:
            break
    exact = cap is None or total <= cap
    total = total if exact else cap
    if len(groups) == 1:
        rows = connection.execute(page, {**groups[0], "limit": query.limit, "offset": query.offset})
        return result(int(total), [ProductItem(*row) for row in rows], exact)
    # the first offset + limit of each set, merged in the order the database sorts by
    descending = shape.sort.startswith("-")
    first = [row for group in groups
             for row in connection.execute(keys, {**group, "limit": query.offset + query.limit})]
    first.sort(key=lambda row: (row[0] is not None, row[0], row[1]), reverse=descending)
    page_ids = [row[1] for row in first[query.offset: query.offset + query.limit]]
    return result(int(total), _items(connection, page_ids), exact)


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
    databases insert in batches. The table's planner statistics are refreshed at the end (ANALYZE).
    Rows must be new (no merging): use :func:`upsert_products` for that.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        drop_spatial_index(connection)
        drop_search_indexes(connection)
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
        install_search_indexes(connection)
    # fresh statistics: without them SQLite takes "body = 'moon'" for a selective filter and sorts a
    # million rows for the first page of the default search (2 s instead of 0.1 s at 1e6 products)
    if sqlite or connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ANALYZE products")
    return n
