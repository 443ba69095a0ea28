"""Reading S-Phot's input tables and writing its results (CSV, ECSV, FITS, Parquet, VOTable by suffix)."""

from __future__ import annotations

import pathlib

from astropy.table import Table

from explore.astro import tables

__all__ = ["InputTableError", "read_table", "write_table"]


class InputTableError(tables.TableFormatError):
    """An input table that cannot be read or lacks what S-Phot needs."""


def read_table(path: str | pathlib.Path) -> Table:
    """Read a photometry table; the format comes from the suffix."""
    table = tables.read_table(path, error=InputTableError)
    if len(table) == 0:
        raise InputTableError(f"{pathlib.Path(path).name} has no rows")
    return table


def write_table(table: Table, path: str | pathlib.Path) -> pathlib.Path:
    """Write ``table`` atomically (temporary file, then rename) in the format of the suffix."""
    return tables.write_table(table, path, InputTableError)
