"""Readers of real APOGEE and Gaia RVS files, tables of spectra and Zarr stores."""

from __future__ import annotations

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from explore.astro.readers import (
    APOGEE_N_PIXELS,
    SpectraFormatError,
    read_apstar,
    read_aspcapstar,
    read_gaia_rvs,
    read_spectra,
    read_spectra_table,
)
from explore.astro.spectra import Spectra

APSTAR = "apStar-r6-2M03290406+3117075.fits"
ASPCAP = "aspcapStar-r6-l30e.2-2M05392474+4038437.fits"


def test_apstar_grid_header_values_and_mask(test_data):
    s = read_apstar(test_data / "stellar" / APSTAR)
    assert (len(s), s.n_pixels) == (1, APOGEE_N_PIXELS)
    assert s.wavelength[0].to_value(u.AA) == pytest.approx(10**4.179)
    assert s.wavelength[-1].to_value(u.AA) == pytest.approx(10 ** (4.179 + 6e-6 * 8574))
    assert s.ids[0] == "2M03290406+3117075"
    assert s.table["snr"][0] == pytest.approx(33.127, abs=1e-3)
    assert s.table["ra"][0] == pytest.approx(52.26693)
    with fits.open(test_data / "stellar" / APSTAR) as h:
        zero = h[1].data == 0
    # every pixel with no flux (chip gaps) is bad; bad pixels carry no weight
    assert s.mask[0][zero].all()
    assert (s.ivar[0][s.mask[0]] == 0).all()
    assert not s.normalised


def test_apstar_multi_visit_rows_on_every_shared_file(shared_data):
    files = sorted((shared_data / "stellar" / "apogee_dr13_birky" / "apStar").glob("apStar-*.fits"))
    assert len(files) == 24
    s = Spectra.read(files)  # format identified from the files
    assert (len(s), s.n_pixels) == (24, APOGEE_N_PIXELS)
    with fits.open(files[0]) as h:
        combined = h[1].data[0]
        nvisits = h[0].header["NVISITS"]
    assert np.array_equal(s.flux[0], combined.astype(np.float32))
    visit = read_apstar(files[0], row=2)  # the first visit
    assert not np.array_equal(visit.flux[0], s.flux[0])
    assert s.table["nvisits"][0] == nvisits
    with pytest.raises(SpectraFormatError, match="row 40 does not exist"):
        read_apstar(files[0], row=40)


def test_apstar_normalised_close_to_aspcap_for_the_same_star(shared_data):
    base = shared_data / "stellar" / "apogee_dr13_birky"
    raw = read_apstar(base / "apStar" / "apStar-r6-2M05392474+4038437.fits").normalise()
    aspcap = read_aspcapstar(base / "aspcapStar" / ASPCAP)
    good = ~raw.mask[0] & ~aspcap.mask[0]
    assert good.sum() > 6000
    # an M dwarf has no true continuum in the H band: agreement to a few per cent is what is achievable
    assert np.median(np.abs(raw.flux[0][good] - aspcap.flux[0][good])) < 0.04


def test_aspcapstar_parameters_and_failed_fits(test_data, shared_data):
    s = read_aspcapstar(test_data / "stellar" / ASPCAP)
    assert s.normalised and s.n_pixels == APOGEE_N_PIXELS
    row = s.table[0]
    assert row["id"] == "2M05392474+4038437"
    assert row["teff"] == pytest.approx(2626.7, abs=0.01)
    assert row["m_h"] == pytest.approx(-0.614051, abs=1e-5)
    failed = read_aspcapstar(shared_data / "stellar" / "apogee_dr13_birky" / "aspcapStar"
                             / "aspcapStar-r6-l30e.2-2M00452143+1634446.fits")
    assert np.isnan(failed.table["teff"][0])  # -9999 in the file
    assert failed.table["snr"][0] == pytest.approx(79.0154, abs=1e-3)


def test_visit_length_spectrum_gets_a_clear_error(tmp_path, test_data):
    with fits.open(test_data / "stellar" / APSTAR) as h:
        h[1].data = h[1].data[:7214]
        h.writeto(tmp_path / "apStar-cut.fits")
    with pytest.raises(SpectraFormatError, match="spectrum has 7214 pixels; apStar files have 8575"):
        read_apstar(tmp_path / "apStar-cut.fits")


def test_gaia_rvs_gspspec_image(test_data):
    ids = (test_data / "stellar" / "test_id.csv").read_text().split()
    s = read_gaia_rvs(test_data / "stellar" / "CM_spectra.fits", ids=ids)
    assert (len(s), s.n_pixels) == (3, 800)
    assert s.wavelength[0] == 846.01 * u.nm
    assert s.wavelength[-1].to_value(u.nm) == pytest.approx(846.01 + 0.03 * 799)
    assert s.ids.tolist() == ids
    with fits.open(test_data / "stellar" / "CM_spectra.fits") as h:
        assert np.array_equal(s.flux, h[0].data.T)
    assert Spectra.read(test_data / "stellar" / "CM_spectra.fits").n_pixels == 800  # identified


def test_gaia_rvs_2401_pixel_forms(tmp_path):
    wl = 846.0 + 0.01 * np.arange(2401)
    flux = 1 - 0.5 * np.exp(-0.5 * ((wl - 849.8) / 0.05) ** 2)
    flux[:3] = np.nan  # DR3 spectra have undefined edge pixels
    one = Table({"wavelength": wl * u.nm, "flux": flux, "flux_error": np.full(2401, 0.02)},
                meta={"source_id": 4295806720})
    one.write(tmp_path / "RVS-4295806720.ecsv")
    s = read_gaia_rvs(tmp_path / "RVS-4295806720.ecsv")
    assert s.ids.tolist() == ["4295806720"] and s.n_pixels == 2401
    assert s.mask[0, :3].all() and not s.mask[0, 3:].any()
    assert s.ivar[0, 10] == pytest.approx(2500.0)
    many = Table({"source_id": [1, 2], "flux": np.vstack([flux, flux]), "flux_error": np.full((2, 2401), 0.02)})
    many.write(tmp_path / "rvs.fits")
    s2 = read_gaia_rvs(tmp_path / "rvs.fits")
    assert s2.ids.tolist() == ["1", "2"] and s2.wavelength[1] == 846.01 * u.nm


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".ecsv"])
def test_table_round_trip(tmp_path, suffix, test_data):
    s = read_aspcapstar(test_data / "stellar" / ASPCAP)
    s.write(tmp_path / f"spectra{suffix}")
    back = Spectra.read(tmp_path / f"spectra{suffix}")
    assert back.ids.tolist() == s.ids.tolist() and back.normalised
    np.testing.assert_allclose(back.wavelength.to_value(u.AA), s.wavelength.to_value(u.AA), rtol=1e-9)
    np.testing.assert_array_equal(back.flux, s.flux)
    np.testing.assert_array_equal(back.mask, s.mask)
    assert back.table["teff"][0] == pytest.approx(2626.7, abs=0.01)


def test_table_without_id_column_gets_a_clear_error(tmp_path):
    Table({"flux": np.ones((3, 10)), "teff": [5000, 5100, 5200]}, meta={"wl_start": 1000.0, "wl_step": 1.0}).write(
        tmp_path / "noid.parquet")
    with pytest.raises(SpectraFormatError, match="has no id column .* pass id_column= one of: flux, teff"):
        read_spectra_table(tmp_path / "noid.parquet")
    s = read_spectra_table(tmp_path / "noid.parquet", id_column="teff")
    assert s.ids.tolist() == ["5000", "5100", "5200"]


def test_table_without_grid_or_with_1d_flux_is_refused(tmp_path):
    Table({"id": ["a"], "flux": np.ones((1, 10))}).write(tmp_path / "nogrid.parquet")
    with pytest.raises(SpectraFormatError, match="wavelength grid"):
        read_spectra_table(tmp_path / "nogrid.parquet")
    Table({"id": ["a", "b"], "flux": [1.0, 2.0]}).write(tmp_path / "flat.ecsv")
    with pytest.raises(SpectraFormatError, match="one spectrum .* per row"):
        read_spectra_table(tmp_path / "flat.ecsv", wavelength=[1.0, 2.0])


def test_unknown_file_and_format(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SpectraFormatError, match="not a known spectra format"):
        read_spectra(tmp_path / "notes.txt")
    with pytest.raises(SpectraFormatError, match="unknown spectra format 'sdss'"):
        read_spectra(tmp_path / "notes.txt", format="sdss")
    with pytest.raises(FileNotFoundError):
        read_spectra(tmp_path / "missing.fits")


def test_zarr_store_stays_on_disk_and_reads_in_chunks(tmp_path, test_data):
    rng = np.random.default_rng(0)
    n = 1000
    s = Spectra(np.linspace(846, 870, 800) * u.nm, rng.random((n, 800)).astype(np.float32),
                mask=rng.random((n, 800)) < 0.01, ids=[f"g{i}" for i in range(n)], normalised=True)
    s.write(tmp_path / "survey.zarr", chunk_rows=256)
    lazy = Spectra.read(tmp_path / "survey.zarr")
    assert not lazy.in_memory and len(lazy) == n
    chunks = list(lazy.iter_chunks(300))
    assert [len(c) for _, c in chunks] == [300, 300, 300, 100]
    np.testing.assert_array_equal(chunks[1][1].flux, s.flux[300:600])
    picked = lazy[np.array([900, 5, 300])]
    assert picked.ids.tolist() == ["g900", "g5", "g300"]
    np.testing.assert_array_equal(picked.mask, s.mask[[900, 5, 300]])


def test_real_files_copied_into_tests_are_identical(test_data, shared_data):
    src = shared_data / "stellar" / "garch_gaia_rvs" / "CM_spectra.fits"
    assert (test_data / "stellar" / "CM_spectra.fits").read_bytes() == src.read_bytes()
    assert shutil.disk_usage(test_data).total > 0
