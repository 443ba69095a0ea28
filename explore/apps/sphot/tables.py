"""Reading S-Phot's input tables and writing its results (CSV, ECSV, FITS, Parquet by suffix)."""

from __future__ import annotations

import pathlib

from astropy.table import Table

__all__ = ["InputTableError", "read_table", "write_table"]

_FORMATS = {
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".vot": "votable",
    ".xml": "votable",
}


class InputTableError(ValueError):
    """An input table that cannot be read or lacks what S-Phot needs."""


def _format(path: pathlib.Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputTableError(f"{path.name}: unknown table format {path.suffix!r}; use one of {', '.join(sorted(_FORMATS))}")
    return fmt


def read_table(path: str | pathlib.Path) -> Table:
    """Read a photometry table; the format comes from the suffix."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input table {path} not found")
    try:
        table = Table.read(path, format=_format(path))
    except InputTableError:
        raise
    except Exception as exc:  # astropy raises many kinds for a corrupt file
        raise InputTableError(f"{path.name} could not be read as {_format(path)}: {exc}") from exc
    if len(table) == 0:
        raise InputTableError(f"{path.name} has no rows")
    return table


def write_table(table: Table, path: str | pathlib.Path) -> pathlib.Path:
    """Write ``table`` atomically (temporary file, then rename) in the format of the suffix."""
    path = pathlib.Path(path)
    fmt = _format(path)
    out = table.copy(copy_data=False)
    if fmt == "fits":
        # FITS headers take short ASCII keywords and scalar values only
        out.meta = {k: v for k, v in out.meta.items() if len(k) <= 8 and isinstance(v, str | int | float)}
    elif fmt.startswith("ascii.csv"):
        out.meta = {}
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    out.write(tmp, format=fmt, overwrite=True)
    tmp.replace(path)
    return path
