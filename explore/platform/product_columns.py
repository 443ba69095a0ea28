"""The product index held in memory as columns: region searches in milliseconds at a million products.

The database stays the source of truth; this is a copy of what a search reads, in numpy arrays:

- the ids (ascending), the unwrapped bounding boxes, the observation interval in microseconds since
  1970, the three angles, and a code for each product set (body, mission, instrument, product type);
- the lon/lat footprints as ragged coordinate arrays (MultiPolygon layout: geometry -> parts ->
  rings -> coordinates), about 100 bytes per product;
- a grid of 5 x 5 degree cells over the unwrapped boxes, each cell listing the products whose box
  meets it (products whose box spans more than ``_BIG_CELLS`` cells are candidates of every search);
- per sort key, each product's position in the database's own order (read once with ``ORDER BY``,
  so collations and unknown values sort exactly as in SQL).

A region search takes the cells the region's box meets, keeps the candidates whose box meets one of
the region's longitude windows and that pass every filter, accepts those whose box lies inside a
rectangular region, then those with a footprint vertex inside the region (``shapely.intersects_xy``),
and tests only the rest with ``shapely.intersects`` on geometries rebuilt from the ragged arrays. The
answer is the same as the SQL path's (tested against it), in 2-3 ms instead of 7-16 ms at 1e6
products (``benchmarks/moon.py``).

**Keeping current.** Every write to ``products`` bumps a counter in ``products_generation`` (triggers:
per row on SQLite, once per writing transaction on PostgreSQL) by a random step, and it starts at a
random value:
a database built again, or writes rolled back and others made instead, do not repeat a generation
(columns built inside a transaction that is then rolled back are never mistaken for current). A
search reads the counter in its own transaction and uses the columns only when they were built at
that generation; otherwise it runs in SQL, and a rebuild starts
in a background thread (not more often than every few build times). Writes by other processes and
uncommitted writes of the searching session are therefore never missed.

Memory: about 240 bytes per product (240 MB at 1e6), built in about 12 s per million products
(reading the table and parsing the footprints; in a background thread, once per change).
Searches on indexes smaller than :data:`MIN_PRODUCTS` (the setting ``EXPLORE_PRODUCT_COLUMNS``; 0
turns the columns off) stay in SQL, which is as fast there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from explore.planetary.footprints import Region
    from explore.platform.products import ProductQuery

log = logging.getLogger(__name__)

__all__ = ["ProductColumns", "MIN_PRODUCTS", "columns_for", "build_columns", "configure", "install_generation",
           "drop_generation", "read_generation", "forget"]

#: below this many products (by the largest id) searches stay in SQL and no columns are built
MIN_PRODUCTS = 20_000
_CELL = 5.0
_NCOL = int(360 / _CELL)
_NROW = int(180 / _CELL)
_BIG_CELLS = 256
_TIME_BASE_S = -2_208_988_800  # 1900-01-01 in seconds since 1970
_TIME_SPAN = 2**40  # seconds of the time keys (35,000 years)
_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# --------------------------------------------------------------------------------------------
# the generation counter

_GENERATION_DDL = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS products_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
        "INSERT OR IGNORE INTO products_generation VALUES (1, abs(random() % 1000000000000000))",
        *(f"""CREATE TRIGGER IF NOT EXISTS products_generation_{event.lower()} AFTER {event} ON products
              BEGIN UPDATE products_generation SET n = n + 1 + abs(random() % 1073741824); END""" for event in ("INSERT", "UPDATE", "DELETE")),
    ],
    "postgresql": [
        "CREATE TABLE IF NOT EXISTS products_generation (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL, "
        "txid bigint)",
        "INSERT INTO products_generation VALUES (1, floor(random() * 1e15)::bigint, NULL) ON CONFLICT DO NOTHING",
        # once per transaction: a bulk load of a million rows in one transaction (a statement per row)
        # would otherwise leave a million versions of this row, each update walking them all
        """CREATE OR REPLACE FUNCTION products_generation_bump() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN
             UPDATE products_generation SET n = n + 1 + floor(random() * 1073741824)::bigint, txid = txid_current()
             WHERE txid IS DISTINCT FROM txid_current();
             RETURN NULL;
           END $$""",
        "DROP TRIGGER IF EXISTS products_generation_bump ON products",
        """CREATE TRIGGER products_generation_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
           FOR EACH STATEMENT EXECUTE FUNCTION products_generation_bump()""",
    ],
}
_READ_GENERATION = text("SELECT n FROM products_generation")


def install_generation(connection: Connection) -> None:
    """Create the counter and its triggers (idempotent)."""
    for statement in _GENERATION_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)
    _slot(connection.engine).has_counter = None


def drop_generation(connection: Connection) -> None:
    """Remove them (the migration's downgrade, and before ``products`` is dropped)."""
    if connection.dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS products_generation_{event}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS products_generation_bump ON products")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS products_generation_bump()")
    if connection.dialect.name in _GENERATION_DDL:
        connection.exec_driver_sql("DROP TABLE IF EXISTS products_generation")
    _slot(connection.engine).has_counter = None


_HAS_COUNTER = {
    "sqlite": text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'products_generation'"),
    "postgresql": text("SELECT to_regclass('products_generation') IS NOT NULL"),
}


def read_generation(connection: Connection) -> int | None:
    """The counter as this connection's transaction sees it (None: no counter in this database,
    whose migrations have not been run; whether there is one is asked once per engine)."""
    dialect = connection.dialect.name
    if dialect not in _GENERATION_DDL:
        return None
    slot = _slot(connection.engine)
    if slot.has_counter is None:
        slot.has_counter = bool(connection.execute(_HAS_COUNTER[dialect]).scalar())
    if not slot.has_counter:
        return None
    return connection.execute(_READ_GENERATION).scalar()


# --------------------------------------------------------------------------------------------
# reading the table


def _micros(values: list[Any]) -> np.ndarray:
    """Datetimes (or SQLite's ISO strings of them) as int64 microseconds since 1970; unknown:
    ``_INT64_MIN``."""
    out = np.full(len(values), _INT64_MIN, dtype=np.int64)
    known = [k for k, v in enumerate(values) if v is not None]
    if not known:
        return out
    sample = values[known[0]]
    if isinstance(sample, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
        out[known] = np.array([values[k] for k in known], dtype="datetime64[us]").astype(np.int64)
    else:
        def us(v: dt.datetime) -> int:
            v = v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v
            d = v - _EPOCH
            return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
        out[known] = np.fromiter((us(values[k]) for k in known), dtype=np.int64, count=len(known))
    return out


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def _ragged(wkts: list[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Footprint WKT -> (coords (m, 2), ring offsets, part offsets, geometry offsets, each
    product's geometry number or -1) in shapely's MultiPolygon ragged layout.

    Plain one-ring ``POLYGON ((x y, ...))`` strings (nearly all footprints) are read in one numpy
    pass, four times faster than GEOS; the others (split at 180 deg, with holes) by shapely. The
    geometries are numbered simple ones first, then the others."""
    n = len(wkts)
    simple: list[int] = []
    bodies: list[str] = []
    others: list[int] = []
    for k, w in enumerate(wkts):
        if w is None:
            continue
        if w.startswith("POLYGON ((") and w.endswith("))") and "(" not in w[10:]:
            simple.append(k)
            bodies.append(w[10:-2])
        else:
            others.append(k)
    counts = np.fromiter((b.count(",") + 1 for b in bodies), dtype=np.int64, count=len(bodies))
    numbers = np.fromstring(" ".join(bodies).replace(",", " "), sep=" ") if bodies else np.empty(0)
    if numbers.size != 2 * counts.sum():  # not all "x y" pairs (Z values?): shapely reads everything
        others, simple, counts, numbers = sorted(others + simple), [], counts[:0], numbers[:0]
    coords = numbers.reshape(-1, 2)
    ring_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    part_off = np.arange(len(simple) + 1, dtype=np.int64)
    geom_off = np.arange(len(simple) + 1, dtype=np.int64)
    geometry = np.full(n, -1, dtype=np.int64)
    geometry[simple] = np.arange(len(simple))
    if others:
        parsed = shapely.from_wkt([wkts[k] for k in others], on_invalid="ignore")
        usable = np.flatnonzero(np.isin(shapely.get_type_id(parsed), (3, 6)) & ~shapely.is_empty(parsed))
        if usable.size:
            kind, c2, offsets = shapely.to_ragged_array(parsed[usable])
            if kind == shapely.GeometryType.POLYGON:  # all of them one part: add the part level
                r2, p2 = offsets
                g2 = np.arange(p2.size, dtype=np.int64)
            else:
                r2, p2, g2 = offsets
            coords = np.concatenate([coords, c2[:, :2]])
            ring_off = np.concatenate([ring_off, r2[1:] + ring_off[-1]])
            part_off = np.concatenate([part_off, p2[1:] + part_off[-1]])
            geom_off = np.concatenate([geom_off, g2[1:] + geom_off[-1]])
            geometry[np.asarray(others)[usable]] = len(simple) + np.arange(usable.size)
    return coords, ring_off, part_off, geom_off, geometry


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(a, b)`` for each pair."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(stops - lengths.cumsum(), lengths)
    return np.arange(total, dtype=np.int64) + offsets


# --------------------------------------------------------------------------------------------
# the columns


@dataclasses.dataclass(eq=False)
class ProductColumns:
    """Every product of one generation of the index, as arrays (see the module's text)."""

    generation: int | None
    ids: np.ndarray  # int64, ascending
    set_code: np.ndarray  # int32 index into ``sets``
    sets: list[tuple[str, str, str, str | None]]
    lon_min: np.ndarray
    lon_max: np.ndarray
    lat_min: np.ndarray
    lat_max: np.ndarray
    start_us: np.ndarray  # unknown: INT64_MIN
    end_us: np.ndarray  # stop, else start; unknown: INT64_MIN
    emission: np.ndarray
    incidence: np.ndarray
    phase: np.ndarray
    geometry: np.ndarray  # each product's footprint number in the ragged arrays; none: -1
    coords: np.ndarray
    ring_offsets: np.ndarray
    part_offsets: np.ndarray
    geom_offsets: np.ndarray
    has_footprint: np.ndarray = dataclasses.field(init=False, repr=False)
    cell_start: np.ndarray = dataclasses.field(init=False, repr=False)
    cell_items: np.ndarray = dataclasses.field(init=False, repr=False)
    big: np.ndarray = dataclasses.field(init=False, repr=False)
    cell_keys: np.ndarray = dataclasses.field(init=False, repr=False)
    cell_longest_s: np.ndarray = dataclasses.field(init=False, repr=False)
    _scratch: threading.local = dataclasses.field(init=False, repr=False)  # per thread: dropping repeats
    built_s: float = 0.0
    _ranks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    _rank_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.has_footprint = self.geometry >= 0
        self._build_grid()

    @property
    def size(self) -> int:
        return int(self.ids.size)

    @property
    def nbytes(self) -> int:
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        return int(sum(a.nbytes for a in arrays) + sum(a.nbytes for a in self._ranks.values()))

    # ---- the grid

    def _build_grid(self) -> None:
        boxed = np.flatnonzero(~np.isnan(self.lon_min) & ~np.isnan(self.lat_min) & self.has_footprint)
        c0 = np.floor((self.lon_min[boxed] + 180.0) / _CELL).astype(np.int64)
        c1 = np.floor((self.lon_max[boxed] + 180.0) / _CELL).astype(np.int64)
        c1 = np.minimum(c1, c0 + _NCOL - 1)  # a box all the way round: every column once
        r0 = np.clip(np.floor((self.lat_min[boxed] + 90.0) / _CELL).astype(np.int64), 0, _NROW - 1)
        r1 = np.clip(np.floor((self.lat_max[boxed] + 90.0) / _CELL).astype(np.int64), 0, _NROW - 1)
        ncols, nrows = c1 - c0 + 1, r1 - r0 + 1
        cells = ncols * nrows
        big = cells > _BIG_CELLS
        self.big = np.sort(boxed[big])
        keep = ~big
        boxed, c0, r0, ncols, cells = boxed[keep], c0[keep], r0[keep], ncols[keep], cells[keep]
        owner = np.repeat(np.arange(boxed.size), cells)
        k = np.arange(owner.size) - np.repeat(np.cumsum(cells) - cells, cells)  # index within the product's cells
        col = (c0[owner] + k % ncols[owner]) % _NCOL
        row = r0[owner] + k // ncols[owner]
        cell = row * _NCOL + col
        # within a cell, entries in the order of a time key (whole seconds since 1900 of the start,
        # else of the stop; unknown: 0): a time window is then one range per cell, widened by the
        # cell's longest observation
        product = boxed[owner]
        when = np.where(self.start_us != _INT64_MIN, self.start_us, self.end_us)[product]
        tkey = np.where(when == _INT64_MIN, 0, np.clip(when // 1_000_000 - _TIME_BASE_S, 0, _TIME_SPAN - 1))
        key = cell * _TIME_SPAN + tkey
        order = np.argsort(key, kind="stable")
        self.cell_keys = key[order]
        self.cell_items = product[order].astype(np.int32 if self.size < 2**31 else np.int64)
        self.cell_start = np.searchsorted(cell[order], np.arange(_NCOL * _NROW + 1)).astype(np.int64)
        known = (self.start_us != _INT64_MIN) & (self.end_us != _INT64_MIN)
        duration = np.where(known, self.end_us - np.where(known, self.start_us, 0), 0)[self.cell_items]
        longest = np.zeros(_NCOL * _NROW, dtype=np.int64)
        np.maximum.at(longest, cell[order], duration)
        self.cell_longest_s = longest // 1_000_000 + 1
        self._scratch = threading.local()

    def _candidates(self, region: Region, query: ProductQuery) -> np.ndarray:
        """Positions of the products whose box may meet the region's box and whose time may meet
        the query's window (a superset, in no particular order)."""
        lo, hi = region.lon_min, region.lon_max
        if hi - lo >= 360.0 - _CELL:
            cols = np.arange(_NCOL)
        else:
            c0 = math.floor((lo + 180.0) / _CELL)
            c1 = math.floor((hi + 180.0) / _CELL)
            cols = np.unique(np.arange(c0, c1 + 1) % _NCOL)
        r0 = min(max(math.floor((region.lat_min + 90.0) / _CELL), 0), _NROW - 1)
        r1 = min(max(math.floor((region.lat_max + 90.0) / _CELL), 0), _NROW - 1)
        cells = (np.arange(r0, r1 + 1)[:, None] * _NCOL + cols[None, :]).ravel()
        if query.start is None and query.stop is None:
            starts, stops = self.cell_start[cells], self.cell_start[cells + 1]
        else:
            first = np.zeros(cells.size, dtype=np.int64)
            last = np.full(cells.size, _TIME_SPAN - 1, dtype=np.int64)
            if query.start is not None:
                first = np.clip(_to_micros(query.start) // 1_000_000 - self.cell_longest_s[cells] - _TIME_BASE_S,
                                0, _TIME_SPAN - 1)
            if query.stop is not None:
                last[:] = min(max(-(-_to_micros(query.stop) // 1_000_000) - _TIME_BASE_S, 0), _TIME_SPAN - 1)
            base = cells * _TIME_SPAN
            starts = np.searchsorted(self.cell_keys, base + first, side="left")
            stops = np.maximum(np.searchsorted(self.cell_keys, base + last, side="right"), starts)
        found = self.cell_items[_ranges(starts, stops)]
        if self.big.size:
            found = np.concatenate([found, self.big])
        if found.size > self.size // 2:
            hits = np.zeros(self.size, dtype=bool)
            hits[found] = True
            return np.flatnonzero(hits)
        # drop repeats (a product in several cells) without sorting: each position remembers the
        # last entry that named it, and only that entry is kept
        scratch = getattr(self._scratch, "last", None)
        if scratch is None:
            scratch = self._scratch.last = np.empty(self.size, dtype=np.int32)
        entry = np.arange(found.size, dtype=np.int32)
        scratch[found] = entry
        return found[scratch[found] == entry]

    # ---- filters

    def _set_ok(self, query: ProductQuery) -> np.ndarray | None:
        """Per product set: whether the body and name filters select it (None: no such filters)."""
        from explore.platform.products import _name_matches, _name_values

        wanted = _name_values(query)
        body = query.body.strip().lower() if query.body else None
        if body is None and not wanted:
            return None
        names = {"mission": 1, "instrument": 2, "product_type": 3}
        ok = [(body is None or s[0] == body)
              and all(s[names[c]] is not None and _name_matches(s[names[c]], v) for c, v in wanted.items())
              for s in self.sets]
        return np.array(ok, dtype=bool)

    def _filter(self, k: np.ndarray, query: ProductQuery) -> np.ndarray:
        """The positions of ``k`` that pass every filter but the region."""
        mask = np.ones(k.size, dtype=bool)
        set_ok = self._set_ok(query)
        if set_ok is not None:
            if not set_ok.any():
                return k[:0]
            mask &= set_ok[self.set_code[k]]
        for name in ("emission", "incidence", "phase"):
            lo, hi = getattr(query, f"min_{name}"), getattr(query, f"max_{name}")
            if lo is not None or hi is not None:
                values = getattr(self, name)[k]
                if lo is not None:
                    mask &= values >= lo
                if hi is not None:
                    mask &= values <= hi
        if query.start is not None:
            mask &= self.end_us[k] >= _to_micros(query.start)
        if query.stop is not None:
            start = self.start_us[k]
            mask &= (start != _INT64_MIN) & (start <= _to_micros(query.stop))
        return k[mask]

    def _in_region(self, k: np.ndarray, region: Region, rectangular: bool) -> np.ndarray:
        """The positions of ``k`` whose footprint meets the region (as the SQL path decides)."""
        lon_min, lon_max, lat_min, lat_max = self.lon_min[k], self.lon_max[k], self.lat_min[k], self.lat_max[k]
        windows = region.lon_windows()
        lat_ok = (lat_max >= region.lat_min) & (lat_min <= region.lat_max)
        meets = np.zeros(k.size, dtype=bool)
        for w, e in windows:
            meets |= (lon_max >= w) & (lon_min <= e)
        k = k[meets & lat_ok & self.has_footprint[k]]
        if not k.size:
            return k
        accepted = np.zeros(k.size, dtype=bool)
        if rectangular:
            lon_min, lon_max = self.lon_min[k], self.lon_max[k]
            inside = np.zeros(k.size, dtype=bool)
            for w, e in windows:
                inside |= (lon_min >= w) & (lon_max <= e)
            accepted = inside & (self.lat_min[k] >= region.lat_min) & (self.lat_max[k] <= region.lat_max)
        todo = np.flatnonzero(~accepted)
        if todo.size:
            shapely.prepare(region.geometry)
            # a footprint vertex in the region: they meet (the cheap test); the rest: the exact one
            g = self.geometry[k[todo]]
            parts0, parts1 = self.geom_offsets[g], self.geom_offsets[g + 1]
            c0 = self.ring_offsets[self.part_offsets[parts0]]
            c1 = self.ring_offsets[self.part_offsets[parts1]]
            idx = _ranges(c0, c1)
            xy = self.coords[idx]
            vertex_in = shapely.intersects_xy(region.geometry, xy[:, 0], xy[:, 1])
            owner = np.repeat(np.arange(todo.size), c1 - c0)
            hit = np.zeros(todo.size, dtype=bool)
            hit[owner[vertex_in]] = True
            rest = np.flatnonzero(~hit)
            if rest.size:
                hit[rest] = shapely.intersects(region.geometry, self._geometries(g[rest]))
            accepted[todo] = hit
        return k[accepted]

    def _geometries(self, g: np.ndarray) -> np.ndarray:
        """Shapely MultiPolygons of the footprints numbered ``g``, from the ragged arrays."""
        p0, p1 = self.geom_offsets[g], self.geom_offsets[g + 1]
        parts = _ranges(p0, p1)
        r0, r1 = self.part_offsets[parts], self.part_offsets[parts + 1]
        rings = _ranges(r0, r1)
        c0, c1 = self.ring_offsets[rings], self.ring_offsets[rings + 1]
        coords = self.coords[_ranges(c0, c1)]
        ring_off = np.concatenate([[0], np.cumsum(c1 - c0)])
        part_off = np.concatenate([[0], np.cumsum(r1 - r0)])
        geom_off = np.concatenate([[0], np.cumsum(p1 - p0)])
        return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords, (ring_off, part_off, geom_off))

    # ---- order

    def ranks(self, connection: Connection, sort: str) -> np.ndarray:
        """Each product's position in the order of ``sort`` (ascending key, unknown first, then id).
        Read once per sort key with the database's ``ORDER BY``; the connection must see this
        generation."""
        key = sort.lstrip("-")
        cached = self._ranks.get(key)
        if cached is not None:
            return cached
        with self._rank_lock:
            if key in self._ranks:
                return self._ranks[key]
            if key == "id":
                rank = np.arange(self.size, dtype=np.int64)
            elif key in ("start_time", "emission", "incidence", "phase"):  # from the columns held here
                values = getattr(self, "start_us" if key == "start_time" else key)
                unknown = values == _INT64_MIN if key == "start_time" else np.isnan(values)
                # unknown values first, then the value, then the id (IEEE order, as the databases')
                order = np.lexsort((self.ids, np.where(unknown, 0, values), ~unknown))
                rank = np.empty(self.size, dtype=np.int64)
                rank[order] = np.arange(self.size)
            else:
                from explore.platform.products import _order_statement

                ordered = np.fromiter((r[0] for r in connection.execute(_order_statement(connection.dialect.name, key))),
                                      dtype=np.int64, count=self.size)
                rank = np.empty(self.size, dtype=np.int64)
                rank[np.searchsorted(self.ids, ordered)] = np.arange(self.size)
            self._ranks[key] = rank.astype(np.int32) if self.size < 2**31 else rank
            return self._ranks[key]

    def _page(self, connection: Connection, k: np.ndarray, sort: str, offset: int, limit: int) -> list[int]:
        """The ids of ``k[offset: offset + limit]`` in the order of ``sort``."""
        if offset >= k.size:
            return []
        rank = self.ranks(connection, sort)[k].astype(np.int64)
        if sort.startswith("-"):
            rank = -rank
        wanted = offset + limit
        if k.size > 4 * wanted:
            first = np.argpartition(rank, wanted - 1)[:wanted]
            order = first[np.argsort(rank[first])]
        else:
            order = np.argsort(rank)
        return self.ids[k[order[offset:wanted]]].tolist()

    # ---- searches

    def search(self, connection: Connection, query: ProductQuery, region: Region | None, sort: str,
               rectangular: bool = False) -> tuple[int, list[int], bool]:
        """(total, the page's ids, whether the total is exact) for ``query``, as the SQL path
        answers it: a region search counts every match; one without a region counts up to the
        query's ``count_limit``."""
        if region is None:
            k = self._filter(np.arange(self.size), query)
            total, exact = int(k.size), True
            if query.count_limit is not None and total > query.count_limit:
                total, exact = query.count_limit, False
        else:
            k = self._in_region(self._filter(self._candidates(region, query), query), region, rectangular)
            total, exact = int(k.size), True
        return total, self._page(connection, k, sort, query.offset, query.limit), exact


def _to_micros(value: dt.datetime) -> int:
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    d = value - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


_BUILD_SQL = ("SELECT id, body, mission, instrument, product_type, start_time, coalesce(stop_time, start_time), "
              "emission, incidence, phase, lon_min, lon_max, lat_min, lat_max, footprint FROM products ORDER BY id")


def build_columns(connection: Connection, generation: int | None = None) -> ProductColumns:
    """Read the whole index through ``connection`` (read the generation first, in the same
    transaction, and pass it: the columns are then never newer than their label)."""
    started = time.perf_counter()
    cursor = connection.connection.cursor()  # the driver's rows: no SQLAlchemy row objects for a million rows
    try:
        cursor.execute(_BUILD_SQL)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(15)]
    del rows
    ids = np.array(columns[0], dtype=np.int64)
    set_index: dict[tuple[Any, ...], int] = {}
    set_code = np.fromiter((set_index.setdefault(s, len(set_index)) for s in zip(*columns[1:5], strict=True)),
                           dtype=np.int32, count=ids.size)
    coords, ring_off, part_off, geom_off, geometry = _ragged(list(columns[14]))
    out = ProductColumns(
        generation=generation, ids=ids, set_code=set_code, sets=list(set_index),
        lon_min=_floats(columns[10]), lon_max=_floats(columns[11]),
        lat_min=_floats(columns[12]), lat_max=_floats(columns[13]),
        start_us=_micros(list(columns[5])), end_us=_micros(list(columns[6])),
        emission=_floats(columns[7]), incidence=_floats(columns[8]), phase=_floats(columns[9]),
        geometry=geometry,
        coords=coords, ring_offsets=ring_off, part_offsets=part_off, geom_offsets=geom_off,
    )
    out.built_s = time.perf_counter() - started
    return out


# --------------------------------------------------------------------------------------------
# one set of columns per database, kept current


@dataclasses.dataclass
class _Slot:
    columns: ProductColumns | None = None
    building: bool = False
    next_build: float = 0.0  # monotonic time before which no background build starts
    min_products: int = MIN_PRODUCTS  # 0: never built in the background
    has_counter: bool | None = None  # the database has products_generation (None: not asked yet)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


_SLOTS: weakref.WeakKeyDictionary[Engine, _Slot] = weakref.WeakKeyDictionary()
_SLOTS_LOCK = threading.Lock()
_LARGEST_ID = text("SELECT max(id) FROM products")


def _slot(engine: Engine) -> _Slot:
    with _SLOTS_LOCK:
        slot = _SLOTS.get(engine)
        if slot is None:
            slot = _SLOTS[engine] = _Slot()
        return slot


def configure(engine: Engine, min_products: int) -> None:
    """Build columns for ``engine``'s database in the background once it holds ``min_products``
    products (0: never; searches stay in SQL unless asked with ``columns=True``)."""
    _slot(engine).min_products = min_products


def forget(engine: Engine) -> None:
    """Drop the columns held for ``engine``'s database."""
    with _SLOTS_LOCK:
        _SLOTS.pop(engine, None)


def columns_for(connection: Connection, *, build: bool | None = None) -> ProductColumns | None:
    """The columns of the connection's database at the generation its transaction sees, or None.

    ``build=None``: when they are missing or stale and the index holds at least
    :data:`MIN_PRODUCTS` products, start building them in a background thread and return None
    (the caller searches in SQL meanwhile). ``build=True``: build them now, in this transaction.
    ``build=False``: never build.
    """
    generation = read_generation(connection)
    if generation is None:
        return None
    engine = connection.engine
    slot = _slot(engine)
    current = slot.columns
    if current is not None and current.generation == generation:
        return current
    if build is True:
        columns = build_columns(connection, generation)
        if not _writing(connection):  # columns of uncommitted writes serve this transaction only
            slot.columns = columns
        return columns
    if build is False or slot.min_products <= 0 or slot.building or time.monotonic() < slot.next_build:
        return None
    largest = connection.execute(_LARGEST_ID).scalar()
    if largest is None or largest < slot.min_products:
        return None
    with slot.lock:
        if slot.building:
            return None
        slot.building = True
    threading.Thread(target=_build_in_background, args=(engine, slot), name="product-columns", daemon=True).start()
    return None


def _writing(connection: Connection) -> bool:
    """Whether the connection's transaction has written (PostgreSQL bumps the counter once per
    transaction, so columns built in the middle of one could miss its later writes)."""
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql("SELECT txid_current_if_assigned() IS NOT NULL").scalar()
    return bool(getattr(connection.connection.driver_connection, "in_transaction", True))


def _build_in_background(engine: Engine, slot: _Slot) -> None:
    started = time.monotonic()
    try:
        options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        with engine.connect().execution_options(**options) as connection, connection.begin():
            generation = read_generation(connection)
            columns = build_columns(connection, generation)
        slot.columns = columns
        log.info("product columns: %d products in %.1f s (%.0f MB)", columns.size, columns.built_s,
                 columns.nbytes / 1e6)
    except Exception:  # the database went away, a migration is running...: SQL answers meanwhile
        log.exception("building the product columns failed")
    finally:
        # a busy index (a harvest writing) is not rebuilt more often than every three build times
        slot.next_build = time.monotonic() + max(5.0, 3 * (time.monotonic() - started))
        slot.building = False
