"""Target lists: CSV / FITS / Parquet tables of (l, b) or (ra, dec) plus distance, and names.

A table needs a distance column (``distance``, or ``dist``; pc unless the column carries a unit) and
either Galactic ``l``, ``b`` or ICRS ``ra``, ``dec`` (degrees unless the columns carry units); column
names are matched without regard to case. ICRS positions are converted to Galactic with astropy.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from explore.astro.tables import TableFormatError, read_table
from explore.astro.tables import write_table as _write_table

from .integrate import Flag

__all__ = [
    "NameResolutionError",
    "TargetTableError",
    "Targets",
    "read_targets",
    "resolve_name",
    "targets_from_table",
    "write_table",
]

_DISTANCE_NAMES = ("distance", "dist")


class TargetTableError(TableFormatError):
    """A target table cannot be read or lacks the columns G-Tomo needs."""


class NameResolutionError(RuntimeError):
    """An object name could not be resolved to coordinates."""


def read_targets(path: str | pathlib.Path) -> Table:
    """Read a target table (CSV, ECSV, FITS or Parquet, chosen by the file's suffix).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    TargetTableError
        If the suffix is unknown or the file cannot be parsed as that format.
    """
    return read_table(path, error=TargetTableError)


def write_table(table: Table, path: str | pathlib.Path) -> pathlib.Path:
    """Write a table in the format given by the suffix, atomically (temporary file, then rename)."""
    return _write_table(table, path, TargetTableError)


def _column(table: Table, names: tuple[str, ...]) -> str | None:
    lower = {name.lower(): name for name in table.colnames}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _values(table: Table, name: str, unit: u.UnitBase) -> np.ndarray:
    col = table[name]
    if col.dtype.kind not in "biuf":
        try:
            data = np.array([float(v) if v not in (None, "") else np.nan for v in np.ma.filled(col, "")], dtype=float)
        except (TypeError, ValueError) as exc:
            raise TargetTableError(f"column {name!r} must hold numbers; found {col[0]!r}") from exc
    else:
        data = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
    if col.unit is not None:
        try:
            data = (data * u.Unit(col.unit)).to_value(unit)
        except (u.UnitConversionError, ValueError) as exc:
            raise TargetTableError(f"column {name!r} is in {col.unit}, which is not a {unit.physical_type}") from exc
    return np.asarray(data, dtype=float)


@dataclass
class Targets:
    """Targets ready for G-Tomo: Galactic coordinates (deg), distances (pc), and a flag per row."""

    l: np.ndarray  # noqa: E741 (l is the Galactic longitude)
    b: np.ndarray
    distance: np.ndarray
    flag: np.ndarray
    frame: str

    def __len__(self) -> int:
        return len(self.l)


def targets_from_table(table: Table) -> Targets:
    """Galactic coordinates and distances of the rows of a target table.

    Rows with out-of-range coordinates (b or dec outside [-90, 90] deg, l or ra outside [-180, 360]) are
    flagged :attr:`Flag.BAD_COORDINATES` and rows with a missing or non-positive distance
    :attr:`Flag.BAD_DISTANCE`; the other rows are unaffected.

    Raises
    ------
    TargetTableError
        If the table lacks a distance column or a coordinate pair.
    """
    dist_col = _column(table, _DISTANCE_NAMES)
    l_col, b_col = _column(table, ("l", "glon")), _column(table, ("b", "glat"))
    ra_col, dec_col = _column(table, ("ra",)), _column(table, ("dec",))
    problems = []
    if dist_col is None:
        problems.append("a 'distance' column (pc)")
    if not (l_col and b_col) and not (ra_col and dec_col):
        problems.append("'l' and 'b' (Galactic, deg) or 'ra' and 'dec' (ICRS, deg) columns")
    if problems:
        raise TargetTableError(
            f"the target table lacks {' and '.join(problems)}; its columns are: {', '.join(table.colnames) or 'none'}"
        )
    assert dist_col is not None
    distance = _values(table, dist_col, u.pc)
    flag = np.zeros(len(table), dtype=np.int16)
    with np.errstate(invalid="ignore"):
        flag[~np.isfinite(distance) | (distance <= 0)] |= Flag.BAD_DISTANCE
    if l_col and b_col:
        lon, lat, frame = _values(table, l_col, u.deg), _values(table, b_col, u.deg), "galactic"
    else:
        assert ra_col and dec_col
        lon, lat, frame = _values(table, ra_col, u.deg), _values(table, dec_col, u.deg), "icrs"
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (lon < -180) | (lon > 360)
    flag[bad] |= Flag.BAD_COORDINATES
    l_deg = np.where(bad, np.nan, lon)
    b_deg = np.where(bad, np.nan, lat)
    if frame == "icrs" and (~bad).any():
        good = ~bad
        gal = SkyCoord(ra=lon[good] * u.deg, dec=lat[good] * u.deg, frame="icrs").galactic
        l_deg[good] = gal.l.deg
        b_deg[good] = gal.b.deg
    return Targets(l=l_deg, b=b_deg, distance=distance, flag=flag, frame=frame)


def resolve_name(name: str) -> SkyCoord:
    """Coordinates of a named object through the CDS Sesame resolver (needs the internet).

    Raises
    ------
    NameResolutionError
        If the name is unknown or the resolver cannot be reached (offline): give coordinates instead.
    """
    from astropy.coordinates.name_resolve import NameResolveError

    try:
        return SkyCoord.from_name(name)
    except NameResolveError as exc:
        raise NameResolutionError(
            f"could not resolve {name!r} with the Sesame name resolver: {exc}. The resolver needs the "
            "internet; offline, give the target's coordinates (l, b or ra, dec) instead"
        ) from exc


def galactic_of(coord: Any) -> tuple[float, float]:
    """(l, b) in degrees of a SkyCoord in any frame."""
    gal = coord.galactic
    return float(gal.l.deg), float(gal.b.deg)
