"""Catalogue registry, epoch propagation, cross-matching, and TAP queries against a local server."""

from __future__ import annotations

import http.server
import io
import threading
import urllib.parse

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io.votable.tree import Info, VOTableFile
from astropy.table import Table
from astropy.time import Time

from explore.astro.catalogues import (
    CATALOGUES,
    Band,
    CatalogueQueryError,
    assemble_photometry,
    crossmatch,
    get_catalogue,
    inverse_variance_mean,
    propagate,
    query_catalogue,
    query_gaia,
    user_catalogue,
)
from explore.astro.filters import get_filter


def test_registry_covers_the_surveys_with_known_filters():
    for name in ("gaia_dr3", "2mass", "allwise", "galex", "akari_irc", "akari_fis", "herschel_pacs70",
                 "panstarrs", "sdss", "apass", "hipparcos", "tycho2"):  # fmt: skip
        cat = get_catalogue(name)
        assert 1990 < cat.epoch < 2017
        assert 0 < cat.match_radius.to_value(u.arcsec) <= 20
        for band in cat.bands:
            assert get_filter(band.filter_id).id == band.filter_id
    assert [b.filter_id for b in CATALOGUES["2mass"].bands] == ["2MASS/2MASS.J", "2MASS/2MASS.H", "2MASS/2MASS.Ks"]
    assert CATALOGUES["2mass"].vizier == "II/246/out"
    with pytest.raises(KeyError, match="unknown catalogue"):
        get_catalogue("nope")


@pytest.mark.filterwarnings("ignore:ERFA function")
def test_propagation_agrees_with_astropy_space_motion():
    rng = np.random.default_rng(3)
    ra = np.r_[rng.uniform(0, 360, 50), 10.0, 200.0]
    dec = np.r_[rng.uniform(-89, 89, 50), 89.99, -89.99]
    pmra = rng.normal(0, 500, 52)
    pmdec = rng.normal(0, 500, 52)
    new_ra, new_dec = propagate(ra, dec, pmra, pmdec, 2016.0, 1999.3)
    start = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, pm_ra_cosdec=pmra * u.mas / u.yr, pm_dec=pmdec * u.mas / u.yr,
                     distance=1 * u.Mpc, radial_velocity=0 * u.km / u.s, obstime=Time(2016.0, format="jyear"))  # fmt: skip
    moved = start.apply_space_motion(new_obstime=Time(1999.3, format="jyear"))
    sep = SkyCoord(ra=new_ra * u.deg, dec=new_dec * u.deg).separation(moved).to_value(u.mas)
    assert sep.max() < 1.0


def test_barnards_star_moves_by_its_proper_motion():
    # Gaia DR3 4472832130942575872: pm_dec = 10362.394 mas/yr, so 16.7 yr back it was 173 arcsec further south
    ra, dec = propagate([269.4485025], [4.7394200], [-801.551], [10362.394], 2016.0, 1999.3)
    assert (dec[0] - 4.7394200) * 3600 == pytest.approx(-10.362394 * 16.7, rel=1e-4)
    assert (ra[0] - 269.4485025) * 3600 * np.cos(np.radians(4.72)) == pytest.approx(0.801551 * 16.7, rel=2e-3)


def _offset(ra, dec, east_arcsec, north_arcsec):
    return ra + east_arcsec / 3600 / np.cos(np.radians(dec)), dec + north_arcsec / 3600


def test_crossmatch_nearest_within_radius_duplicates_and_blends():
    ra = np.array([10.0, 20.0, 30.0, 40.0])
    dec = np.array([0.0, 10.0, -20.0, 45.0])
    cat_ra, cat_dec = [], []
    for (r, d), (e, n) in zip(zip(ra, dec, strict=True), [(0.5, 0.2), (3.0, 0.0), (0.3, 0.0), (0.0, 1.0)], strict=True):
        a, b = _offset(r, d, e, n)
        cat_ra.append(a)
        cat_dec.append(b)
    a, b = _offset(30.0, -20.0, 0.4, 0.05)  # a duplicate entry of the third source (0.11 arcsec away)
    cat_ra.append(a)
    cat_dec.append(b)
    a, b = _offset(40.0, 45.0, 0.0, -1.5)  # a second star near the fourth target: a blend
    cat_ra.append(a)
    cat_dec.append(b)
    match = crossmatch(ra, dec, np.array(cat_ra), np.array(cat_dec), 2.0 * u.arcsec)
    assert list(match.index) == [0, -1, 2, 3]
    assert match.separation[0] == pytest.approx(np.hypot(0.5, 0.2), rel=1e-4)
    assert np.isnan(match.separation[1])
    assert match.duplicates[2] == [4]
    assert list(match.blend) == [False, False, False, True]
    assert list(match.n_candidates) == [1, 0, 2, 2]


def test_a_counterpart_shared_by_two_targets_is_a_blend():
    ra = np.array([10.0, 10.0 + 1.0 / 3600])
    dec = np.array([0.0, 0.0])
    match = crossmatch(ra, dec, np.array([10.0 + 0.5 / 3600]), np.array([0.0]), 3.0 * u.arcsec)
    assert list(match.index) == [0, 0]
    assert list(match.blend) == [True, True]


def test_inverse_variance_mean():
    mean, err = inverse_variance_mean(np.array([10.0, 10.3, np.nan]), np.array([0.1, 0.1, 0.1]))
    assert mean == pytest.approx(10.15)
    assert err == pytest.approx(0.1 / np.sqrt(2))
    mean, err = inverse_variance_mean(np.array([[10.0, 11.0]]), np.array([[0.1, 0.2]]), axis=1)
    assert mean[0] == pytest.approx((10 / 0.01 + 11 / 0.04) / (1 / 0.01 + 1 / 0.04))


def test_assemble_photometry_from_gaia_and_user_catalogues():
    gaia = Table({"source_id": [1, 2], "ra": [150.0, 150.1], "dec": [2.0, 2.1], "pmra": [100.0, 0.0],
                  "pmdec": [-200.0, 0.0], "parallax": [10.0, 1.0], "parallax_error": [0.02, 0.05]})  # fmt: skip
    # a user's near-infrared catalogue at epoch 2000: star 1 has moved by (-1.6, +3.2) arcsec since
    ra0, dec0 = propagate(gaia["ra"], gaia["dec"], gaia["pmra"], gaia["pmdec"], 2016.0, 2000.0)
    nir = Table({"RA": ra0, "DEC": dec0, "Kmag": [8.0, 12.0], "e_Kmag": [0.02, 0.03]})
    cat_nir = user_catalogue("mynir", {"Kmag": "2MASS/2MASS.Ks"}, ra="RA", dec="DEC", epoch=2000.0, match_radius=1 * u.arcsec)
    # a second K measurement of star 2 (from another catalogue): merged by inverse variance
    more = Table({"ra": [150.1], "dec": [2.1], "K": [12.06], "K_err": [0.03]})
    cat_more = user_catalogue("more", [Band("2MASS/2MASS.Ks", "K", "K_err")], epoch=2016.0, match_radius=1 * u.arcsec)
    # a far-infrared catalogue in mJy
    pacs = get_filter("Herschel/Pacs.blue")
    flux = pacs.mag_to_flux(np.array([5.0])).to_value(u.mJy)
    fir = Table({"ra": [150.0], "dec": [2.0], "F70": flux, "e_F70": flux * 0.1})
    cat_fir = user_catalogue("fir", [Band("Herschel/Pacs.blue", "F70", "e_F70", "mJy")], epoch=2016.0, match_radius=3 * u.arcsec)
    out = assemble_photometry(gaia, {"mynir": (cat_nir, nir), "more": (cat_more, more), "fir": (cat_fir, fir)})
    assert list(out["id"]) == ["1", "2"]
    assert out["2MASS/2MASS.Ks"][0] == pytest.approx(8.0)
    assert out["2MASS/2MASS.Ks"][1] == pytest.approx(12.03)
    assert out["2MASS/2MASS.Ks_err"][1] == pytest.approx(0.03 / np.sqrt(2))
    assert out["mynir_sep"][0] == pytest.approx(0.0, abs=1e-3)
    assert out["Herschel/Pacs.blue"][0] == pytest.approx(5.0)
    assert out["Herschel/Pacs.blue_err"][0] == pytest.approx(2.5 / np.log(10) * 0.1)
    assert np.isnan(out["Herschel/Pacs.blue"][1])
    # without the epoch propagation star 1 would be 3.6 arcsec away and unmatched
    unmoved = Table({"RA": gaia["ra"], "DEC": gaia["dec"], "Kmag": [8.0, 12.0], "e_Kmag": [0.02, 0.03]})
    cat_2016 = user_catalogue("x", {"Kmag": "2MASS/2MASS.Ks"}, ra="RA", dec="DEC", epoch=2000.0, match_radius=1 * u.arcsec)
    assert np.isnan(assemble_photometry(gaia, {"x": (cat_2016, unmoved)})["2MASS/2MASS.Ks"][0])


# ---- TAP queries against a local server -------------------------------------------------------


def _votable(table: Table) -> bytes:
    """A TAP answer as the Gaia archive and TAPVizieR send it: one results resource with QUERY_STATUS."""
    votable = VOTableFile.from_table(table)
    resource = votable.resources[0]
    resource.type = "results"
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    return buffer.getvalue()


class _TapServer:
    def __init__(self, answer: bytes):
        self.answer = answer
        self.requests: list[tuple[str, bytes]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-votable+xml")
                self.send_header("Content-Length", str(len(server.answer)))
                self.end_headers()
                self.wfile.write(server.answer)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tap"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tap_server():
    servers = []

    def start(answer: bytes) -> _TapServer:
        servers.append(_TapServer(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_vizier_crossmatch_query(tap_server):
    answer = Table({"target": np.array([0], dtype=np.int64), "_2MASS": ["17574849+0441405"], "RAJ2000": [269.452042],
                    "DEJ2000": [4.694583], "Jmag": np.array([5.244], dtype=np.float32), "e_Jmag": np.array([0.020], dtype=np.float32),
                    "Hmag": np.array([4.834], dtype=np.float32), "e_Hmag": np.array([0.034], dtype=np.float32),
                    "Kmag": np.array([4.524], dtype=np.float32), "e_Kmag": np.array([0.020], dtype=np.float32), "dist": [0.3]})  # fmt: skip
    answer["RAJ2000"].unit = u.deg
    answer["Jmag"].unit = u.mag
    server = tap_server(_votable(answer))
    result = query_catalogue("2mass", [269.4485025], [4.7394200], pmra=[-801.551], pmdec=[10362.394], url=server.url)
    assert result["Kmag"][0] == pytest.approx(4.524, abs=1e-5)
    assert result["_2MASS"][0] == "17574849+0441405"
    path, body = server.requests[-1]
    assert path == "/tap/sync"
    text = body.decode(errors="replace")
    assert '"II/246/out"' in text and "TAP_UPLOAD.targets" in text and "CONTAINS" in text
    assert 'c."Kmag"' in text
    # the uploaded position is the Gaia one moved back to the 2MASS epoch
    uploaded_dec = float(text.split("<TD>")[3].split("</TD>")[0])
    assert uploaded_dec == pytest.approx(4.7394200 - 10.362394 * 16.7 / 3600, abs=1e-6)


def test_gaia_cone_query_converts_flux_snr_to_magnitude_errors(tap_server):
    answer = Table({"source_id": np.array([4472832130942575872], dtype=np.int64), "ra": [269.4485025], "dec": [4.7394200],
                    "parallax": [546.9759], "parallax_error": [0.0401], "pmra": [-801.551], "pmdec": [10362.394],
                    "phot_g_mean_mag": np.array([8.1939], dtype=np.float32), "phot_g_mean_flux_over_error": np.array([2849.6], dtype=np.float32),
                    "phot_bp_mean_mag": np.array([9.4548], dtype=np.float32), "phot_bp_mean_flux_over_error": np.array([1136.9], dtype=np.float32),
                    "phot_rp_mean_mag": np.array([6.9731], dtype=np.float32), "phot_rp_mean_flux_over_error": np.array([1702.1], dtype=np.float32)})  # fmt: skip
    server = tap_server(_votable(answer))
    result = query_gaia(269.45, 4.74, 30 * u.arcsec, url=server.url)
    assert result["GAIA/GAIA3.G"][0] == pytest.approx(8.1939, abs=1e-4)
    assert result["GAIA/GAIA3.G_err"][0] == pytest.approx(1.0857 / 2849.6, rel=1e-3)
    text = urllib.parse.unquote_plus(server.requests[-1][1].decode())
    assert "gaiadr3.gaia_source" in text and "CIRCLE('ICRS', 269.45, 4.74, 0.00833" in text


def test_a_failed_query_raises_a_clear_error(tap_server):
    error = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        b'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">Table "II/999" does not exist</INFO>'
        b"</RESOURCE></VOTABLE>"
    )
    server = tap_server(error)
    with pytest.raises(CatalogueQueryError, match="does not exist"):
        query_catalogue("2mass", [10.0], [10.0], url=server.url)


def test_a_user_catalogue_cannot_be_queried_online():
    cat = user_catalogue("mine", {"V": "Generic/Johnson_UBVRIJHKL.V"})
    with pytest.raises(ValueError, match="cross-match it locally"):
        query_catalogue(cat, [1.0], [1.0])
