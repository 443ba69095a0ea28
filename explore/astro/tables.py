"""Reading and writing the tables of the field by their suffix: CSV, ECSV, FITS, Parquet, VOTable.

Every app that takes a table from the user (target lists, photometry, catalogues) reads it here, so the
same suffixes work everywhere and a bad file gets the same kind of message. Readers accept a path or,
for files held in the workspace, the bytes and the file's name.
"""

from __future__ import annotations

import io
import pathlib

from astropy.table import Table

__all__ = ["TABLE_FORMATS", "TableFormatError", "read_table", "table_format", "write_table"]

#: suffix -> astropy's format name
TABLE_FORMATS = {
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


class TableFormatError(ValueError):
    """A table whose format is unknown or whose content cannot be read as that format."""


def table_format(name: str | pathlib.PurePath, error: type[Exception] = TableFormatError) -> str:
    """astropy's format name for a file name's suffix; ``error`` if the suffix is not a table's."""
    suffix = pathlib.PurePath(name).suffix.lower()
    fmt = TABLE_FORMATS.get(suffix)
    if fmt is None:
        raise error(f"cannot tell the table format of {pathlib.PurePath(name).name!r} from its suffix "
                    f"{suffix or '(none)'}; use one of {', '.join(sorted(TABLE_FORMATS))}")
    return fmt


def read_table(source: str | pathlib.Path | bytes, name: str | None = None, *,
               error: type[Exception] = TableFormatError) -> Table:
    """Read a table, the format chosen by the suffix (of ``name`` when ``source`` is bytes).

    A FITS file is read from its first table extension (a primary HDU holds no table).

    Raises
    ------
    FileNotFoundError
        If ``source`` is a path that does not exist.
    error
        (``TableFormatError`` unless given) if the suffix is unknown or the content is not that format.
    """
    if isinstance(source, bytes):
        if name is None:
            raise TypeError("read_table needs the file's name with its bytes, to tell the format")
        label, data = pathlib.PurePath(name).name, io.BytesIO(source)
    else:
        path = pathlib.Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"table {str(path)!r} not found")
        label, data, name = path.name, path, str(path)
    fmt = table_format(name, error)
    try:
        if fmt == "fits":
            return _read_fits(data)
        return Table.read(data, format=fmt)
    except Exception as exc:  # astropy raises many kinds for a corrupt file
        raise error(f"could not read {label!r} as {fmt}: {exc}") from exc


def _read_fits(data: pathlib.Path | io.BytesIO) -> Table:
    """The first table extension of a FITS file (a primary HDU holds no table)."""
    from astropy.io import fits

    with fits.open(data, memmap=False) as hdul:
        index = next((i for i, hdu in enumerate(hdul) if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)), None)
        if index is None:
            raise ValueError("the FITS file holds no table extension")
        return Table.read(hdul, hdu=index)


def write_table(table: Table, path: str | pathlib.Path, error: type[Exception] = TableFormatError) -> pathlib.Path:
    """Write ``table`` atomically (temporary file, then rename) in the format of the suffix.

    FITS headers take short ASCII keywords with scalar values only, and CSV has no header: metadata that
    does not fit is left out of those two; ECSV, Parquet and VOTable keep it.
    """
    path = pathlib.Path(path)
    fmt = table_format(path, error)
    out = table.copy(copy_data=False)
    if fmt == "fits":
        out.meta = {k: v for k, v in out.meta.items()
                    if isinstance(k, str) and len(k) <= 8 and isinstance(v, str | int | float)}
    elif fmt == "ascii.csv":
        out.meta = {}
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    out.write(tmp, format=fmt, overwrite=True)
    tmp.replace(path)
    return path
