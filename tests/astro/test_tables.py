"""Tables read and written by suffix: every format round-trips, bytes from the workspace read like
files, and bad input gets the caller's error class with a message naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from explore.astro.tables import TABLE_FORMATS, TableFormatError, read_table, table_format, write_table


def sample() -> Table:
    table = Table({"id": ["a", "b", "c"], "l": [10.0, 20.5, 359.9], "distance": [100, 250, 1000]})
    table.meta = {"ORIGIN": "test", "a_rather_long_key": {"nested": 1}}
    return table


@pytest.mark.parametrize("suffix", sorted(TABLE_FORMATS))
def test_every_suffix_round_trips_from_a_file_and_from_bytes(tmp_path, suffix):
    path = write_table(sample(), tmp_path / f"targets{suffix}")
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temporary file, renamed
    for table in (read_table(path), read_table(path.read_bytes(), f"workspace/alice/targets{suffix}")):
        assert list(table["id"]) == ["a", "b", "c"]
        np.testing.assert_allclose(table["l"], [10.0, 20.5, 359.9])
        assert list(table["distance"]) == [100, 250, 1000]


def test_fits_keeps_only_short_scalar_keywords_and_ecsv_keeps_all(tmp_path):
    fits_table = read_table(write_table(sample(), tmp_path / "t.fits"))
    assert fits_table.meta.get("ORIGIN") == "test" and "a_rather_long_key" not in fits_table.meta
    ecsv_table = read_table(write_table(sample(), tmp_path / "t.ecsv"))
    assert ecsv_table.meta["a_rather_long_key"] == {"nested": 1}


def test_a_fits_table_after_an_image_hdu_is_found(tmp_path):
    table = sample()[["id", "l"]]
    table.meta = {}
    hdus = fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4))), fits.ImageHDU(np.ones((2, 2))), fits.BinTableHDU(table)])
    hdus.writeto(tmp_path / "mixed.fits")
    assert list(read_table(tmp_path / "mixed.fits")["id"]) == ["a", "b", "c"]
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(tmp_path / "image.fits")
    with pytest.raises(TableFormatError, match="image.fits.*no table extension"):
        read_table(tmp_path / "image.fits")


class MyAppError(TableFormatError):
    pass


def test_bad_input_gets_the_callers_error_naming_the_file(tmp_path):
    with pytest.raises(MyAppError, match=r"'notes.txt'.*\.txt; use one of \.csv"):
        table_format("dir/notes.txt", MyAppError)
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = this is not FITS")
    with pytest.raises(MyAppError, match="'broken.fits' as fits"):
        read_table(tmp_path / "broken.fits", error=MyAppError)
    (tmp_path / "broken.parquet").write_text("id,l\n1,2\n")
    with pytest.raises(TableFormatError, match="'broken.parquet' as parquet"):
        read_table((tmp_path / "broken.parquet").read_bytes(), "broken.parquet")
    with pytest.raises(FileNotFoundError, match="missing.csv.* not found"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(TypeError, match="name"):
        read_table(b"id\n1\n")
