"""Target tables in CSV, FITS and Parquet; ICRS to Galactic; bad rows flagged; missing columns named."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from explore.apps.gtomo.integrate import Flag
from explore.apps.gtomo.targets import (
    NameResolutionError,
    TargetTableError,
    read_targets,
    resolve_name,
    targets_from_table,
    write_table,
)


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".parquet", ".ecsv"])
def test_tables_round_trip_in_every_format(tmp_path, suffix):
    table = Table({"name": ["a", "b"], "l": [10.0, 20.0], "b": [1.0, -2.0], "distance": [100.0, 250.0]})
    path = write_table(table, tmp_path / f"t{suffix}")
    back = read_targets(path)
    assert list(back["name"]) == ["a", "b"]
    np.testing.assert_allclose(back["distance"], [100.0, 250.0])
    t = targets_from_table(back)
    assert t.frame == "galactic" and not t.flag.any()
    np.testing.assert_allclose(t.l, [10.0, 20.0])


def test_icrs_columns_are_converted_to_galactic():
    # the Galactic centre and the north Galactic pole in ICRS
    table = Table({"RA": [266.40499, 192.85948], "Dec": [-28.93617, 27.12825], "dist": [100.0, 100.0]})
    t = targets_from_table(table)
    assert t.frame == "icrs"
    ref = SkyCoord(ra=table["RA"] * u.deg, dec=table["Dec"] * u.deg).galactic
    np.testing.assert_allclose(t.l, ref.l.deg)
    assert t.l[0] == pytest.approx(0.0, abs=1e-3) or t.l[0] == pytest.approx(360.0, abs=1e-3)
    assert t.b[0] == pytest.approx(0.0, abs=1e-3)
    assert t.b[1] == pytest.approx(90.0, abs=1e-3)


def test_units_carried_by_fits_columns_are_honoured(tmp_path):
    table = Table({"l": [10.0], "b": [0.5], "distance": [1.5]})
    table["distance"].unit = u.kpc
    table["b"].unit = u.arcmin
    path = write_table(table, tmp_path / "units.fits")
    t = targets_from_table(read_targets(path))
    assert t.distance[0] == pytest.approx(1500.0)
    assert t.b[0] == pytest.approx(0.5 / 60)


def test_bad_rows_are_flagged_and_the_rest_kept():
    table = Table({"ra": [10.0, 10.0, np.nan, 500.0], "dec": [5.0, 95.0, 5.0, 5.0], "distance": [100.0, 100.0, 0.0, 100.0]})
    t = targets_from_table(table)
    assert t.flag.tolist() == [0, Flag.BAD_COORDINATES, Flag.BAD_COORDINATES | Flag.BAD_DISTANCE, Flag.BAD_COORDINATES]
    assert np.isfinite(t.l[0]) and np.isnan(t.l[1:]).all()


def test_missing_columns_are_named():
    with pytest.raises(TargetTableError, match="lacks a 'distance' column.*columns are: l, b, parallax"):
        targets_from_table(Table({"l": [1.0], "b": [2.0], "parallax": [3.0]}))
    with pytest.raises(TargetTableError, match="'l' and 'b'.*'ra' and 'dec'"):
        targets_from_table(Table({"l": [1.0], "dec": [2.0], "distance": [3.0]}))


def test_unreadable_files_are_reported(tmp_path):
    bad = tmp_path / "t.fits"
    bad.write_text("not a fits file")
    with pytest.raises(TargetTableError, match="could not read 't.fits' as fits"):
        read_targets(bad)
    with pytest.raises(TargetTableError, match="suffix"):
        read_targets(bad.rename(tmp_path / "t.xlsx"))
    with pytest.raises(FileNotFoundError):
        read_targets(tmp_path / "none.csv")


def test_text_in_a_numeric_column_is_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("l,b,distance\n10,1,far\n")
    with pytest.raises(TargetTableError, match="'distance' must hold numbers"):
        targets_from_table(read_targets(path))


def test_name_resolution_offline_gives_a_clear_error():
    from astropy.coordinates import name_resolve

    # point Sesame at a closed local port: what a machine without internet sees
    with name_resolve.sesame_url.set(["http://127.0.0.1:9/"]):
        with pytest.raises(NameResolutionError, match="needs the internet.*coordinates"):
            resolve_name("HD 10000")
