"""The vectorised SED fit: recovery of known stars, the Sun, excess, and bad input."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from explore.apps.sphot.demo import simulate_photometry
from explore.apps.sphot.fit import SEDFitter, fit_photometry, photometry_from_table
from explore.astro.filters import get_filter

BANDS = (
    "GALEX/GALEX.NUV", "SLOAN/SDSS.u", "GAIA/GAIA3.Gbp", "GAIA/GAIA3.G", "GAIA/GAIA3.Grp", "PAN-STARRS/PS1.g",
    "PAN-STARRS/PS1.r", "PAN-STARRS/PS1.i", "PAN-STARRS/PS1.z", "PAN-STARRS/PS1.y", "2MASS/2MASS.J",
    "2MASS/2MASS.H", "2MASS/2MASS.Ks", "WISE/WISE.W1", "WISE/WISE.W2", "WISE/WISE.W3", "WISE/WISE.W4",
)  # fmt: skip


def _table(mags: np.ndarray, errors: np.ndarray, parallax: np.ndarray, parallax_error: np.ndarray, bands=BANDS) -> Table:
    n = len(mags)
    table = Table({"id": [f"s{i}" for i in range(n)], "ra": np.linspace(10, 20, n), "dec": np.linspace(-5, 5, n),
                   "parallax": parallax, "parallax_error": parallax_error})  # fmt: skip
    for j, band in enumerate(bands):
        table[band] = mags[:, j]
        table[f"{band}_err"] = errors[:, j]
    return table


@pytest.fixture(scope="module")
def sample():
    """300 stars from the CK04 models with 3% noise: dwarfs and giants, 3700-11500 K, A_V up to 1.5."""
    rng = np.random.default_rng(11)
    n = 300
    teff = 10 ** rng.uniform(np.log10(3700), np.log10(11500), n)
    radius = 10 ** rng.uniform(-0.3, 1.2, n)
    distance = rng.uniform(50, 1000, n)
    av = rng.uniform(0, 1.5, n)
    logg = np.clip(4.438 - 2 * np.log10(radius), 0, 5)
    mags = simulate_photometry(teff, radius, distance, av=av, logg=logg, bands=BANDS)
    errors = np.full(mags.shape, 0.03)
    mags = mags + rng.normal(0, 0.03, mags.shape)
    plx = 1000 / distance
    plx_err = 0.02 * plx
    table = _table(mags, errors, plx + rng.normal(0, 1, n) * plx_err, plx_err)
    return table, {"teff": teff, "radius": radius, "av": av, "distance": distance, "logg": logg}


def test_teff_radius_and_extinction_are_recovered_within_their_errors(sample):
    table, truth = sample
    result = SEDFitter("ck04", extinction="fit").fit(table).results_
    pull_t = (result["teff"] - truth["teff"]) / result["teff_err"]
    pull_r = (result["radius"] - truth["radius"]) / result["radius_err"]
    pull_a = (result["av"] - truth["av"]) / result["av_err"]
    for pull in (pull_t, pull_r, pull_a):
        assert abs(np.median(pull)) < 0.25
        assert 0.6 < 1.4826 * np.median(np.abs(pull - np.median(pull))) < 1.3
        assert np.mean(np.abs(pull) < 3) > 0.97
    assert np.median(np.abs(result["teff"] / truth["teff"] - 1)) < 0.02
    assert np.median(np.abs(result["radius"] / truth["radius"] - 1)) < 0.03
    lum = truth["radius"] ** 2 * (truth["teff"] / 5772) ** 4
    assert np.median(np.abs(result["luminosity"] / lum - 1)) < 0.08
    assert np.mean(np.abs((result["luminosity"] - lum) / result["luminosity_err"]) < 3) > 0.95
    assert set(result["status"]) <= {"ok", "edge"}
    assert not result["ir_excess"].any() and not result["uv_excess"].any()


def test_known_extinction_given_from_outside(sample):
    table, truth = sample
    given = SEDFitter("ck04", extinction=truth["av"][:60]).fit(table[:60]).results_
    assert np.median(np.abs(given["teff"] / truth["teff"][:60] - 1)) < 0.01
    assert np.all(given["av"] == pytest.approx(truth["av"][:60]))
    # a callable of (ra, dec, distance) such as G-Tomo's extinction_to
    calls = []

    def a_v(ra, dec, distance):
        calls.append(len(ra))
        lookup = dict(zip(np.round(table["ra"][:60], 8), truth["av"][:60], strict=True))
        return np.array([lookup[r] for r in np.round(ra, 8)])

    from_callable = SEDFitter("ck04", extinction=a_v).fit(table[:60]).results_
    assert calls == [60]
    assert np.asarray(from_callable["teff"]) == pytest.approx(np.asarray(given["teff"]), rel=1e-9)


def test_the_sun_through_its_published_colours():
    # the Sun's absolute magnitudes (Willmer 2018; Gaia G from Casagrande & VandenBerg 2018) at 10 pc
    sun = {
        "GAIA/GAIA3.G": 4.67, "Generic/Johnson_UBVRIJHKL.B": 5.44, "Generic/Johnson_UBVRIJHKL.V": 4.81,
        "SLOAN/SDSS.u": 6.39, "SLOAN/SDSS.g": 5.11, "SLOAN/SDSS.r": 4.65, "SLOAN/SDSS.i": 4.53, "SLOAN/SDSS.z": 4.50,
        "2MASS/2MASS.J": 3.67, "2MASS/2MASS.H": 3.32, "2MASS/2MASS.Ks": 3.27, "WISE/WISE.W1": 3.26, "WISE/WISE.W2": 3.28,
    }  # fmt: skip
    table = Table({"id": ["Sun"], "ra": [0.0], "dec": [0.0], "parallax": [100.0], "parallax_error": [0.1]})
    for band, mag in sun.items():
        table[band] = [mag]
        table[f"{band}_err"] = [0.03]
    result = SEDFitter("ck04").fit(table).results_[0]
    assert result["teff"] == pytest.approx(5772, abs=120)
    assert result["radius"] == pytest.approx(1.0, abs=0.05)
    assert result["luminosity"] == pytest.approx(1.0, abs=0.08)
    assert result["logg"] == pytest.approx(4.44, abs=0.05)
    assert result["chi2_red"] < 2
    assert not result["ir_excess"] and not result["uv_excess"]


def test_an_injected_infrared_excess_is_found_and_does_not_bias_the_star():
    rng = np.random.default_rng(5)
    n = 40
    teff = rng.uniform(5000, 9000, n)
    radius = np.full(n, 1.5)
    distance = np.full(n, 200.0)
    bands = BANDS
    clean = simulate_photometry(teff, radius, distance, bands=bands)
    # warm dust: a 300 K blackbody with 2% of the star's luminosity, added in flux
    zp = np.array([get_filter(b).zero_point().to_value(u.Jy) for b in bands])
    from explore.apps.sphot.models import BlackbodyModel

    r_dust = radius * np.sqrt(0.02) * (teff / 300.0) ** 2
    dust = BlackbodyModel().band_flux(np.full(n, 300.0), bands).to_value(u.Jy)
    dust *= (((r_dust * u.R_sun) / (distance * u.pc)).decompose().value ** 2)[:, None]
    dusty = -2.5 * np.log10(zp * 10 ** (-0.4 * clean) + dust) + 2.5 * np.log10(zp)
    errors = np.full(clean.shape, 0.03)
    mags = np.where(np.arange(n)[:, None] % 2 == 0, dusty, clean) + rng.normal(0, 0.03, clean.shape)
    table = _table(mags, errors, 1000 / distance, np.full(n, 0.05))
    result = SEDFitter("ck04").fit(table).results_
    has_dust = np.arange(n) % 2 == 0
    assert result["ir_excess"][has_dust].all()
    assert not result["ir_excess"][~has_dust].any()
    assert (result["WISE/WISE.W4_excess_sigma"][has_dust] > 5).all()
    assert (~result["WISE/WISE.W4_used"][has_dust]).all()  # rejected from the fit
    assert np.abs(result["teff"][has_dust] / teff[has_dust] - 1).max() < 0.04
    assert not result["uv_excess"].any()


def test_a_blackbody_hotter_than_ck04_with_the_blackbody_grid():
    bands = ("GALEX/GALEX.FUV", "GALEX/GALEX.NUV", "GAIA/GAIA3.Gbp", "GAIA/GAIA3.G", "GAIA/GAIA3.Grp", "2MASS/2MASS.J")
    mags = simulate_photometry(np.array([25000.0]), np.array([0.2]), np.array([500.0]), bands=bands, model="blackbody")
    table = _table(mags, np.full(mags.shape, 0.02), np.array([2.0]), np.array([0.02]), bands=bands)
    result = SEDFitter("blackbody").fit(table).results_[0]
    assert result["teff"] == pytest.approx(25000, rel=0.03)
    assert result["radius"] == pytest.approx(0.2, rel=0.03)
    assert result["teff"] - 3 * result["teff_err"] < 25000 < result["teff"] + 3 * result["teff_err"]


def test_a_star_is_fitted_the_same_alone_or_in_a_crowd(sample):
    table, _ = sample
    crowd = SEDFitter("ck04", extinction="fit").fit(table[:50]).results_
    alone = SEDFitter("ck04", extinction="fit").fit(table[7:8]).results_
    for name in ("teff", "teff_err", "radius", "av", "chi2_red"):
        assert alone[name][0] == pytest.approx(crowd[name][7], rel=1e-6)


# ---- bad input: a clear message per column or star, the other stars still fitted ------------


def _two_stars(sample) -> Table:
    table, _ = sample
    return table[:2].copy()


def test_unknown_filter_columns_are_named(sample):
    table = _two_stars(sample)
    table["GAIA/GAIA3.Q"] = [12.0, 13.0]
    table["colour_index"] = [0.5, 0.6]
    phot = photometry_from_table(table)
    assert any("'GAIA/GAIA3.Q'" in m and "did you mean GAIA/GAIA3.G" in m for m in phot.column_messages)
    assert any("'colour_index'" in m and "ignored" in m for m in phot.column_messages)
    result = fit_photometry(table)
    assert np.isfinite(result["teff"]).all()


def test_magnitudes_given_as_fluxes_are_detected(sample):
    table = _two_stars(sample)
    w1 = get_filter("WISE/WISE.W1")
    table["WISE/WISE.W1"] = w1.mag_to_flux(np.asarray(table["WISE/WISE.W1"])).to_value(u.Jy)  # Jy, not mag
    table["WISE/WISE.W2"] = get_filter("WISE/WISE.W2").mag_to_flux(np.asarray(table["WISE/WISE.W2"])).to_value(u.mJy)
    result = fit_photometry(table)
    messages = " ".join(result.meta["column_messages"])
    assert "'WISE/WISE.W1'" in messages and "'WISE/WISE.W2'" in messages and "flux densities" in messages
    assert np.isfinite(result["teff"]).all()
    assert not result["WISE/WISE.W1_used"].any()


def test_missing_errors_get_a_default_with_a_message(sample):
    table = _two_stars(sample)
    del table["2MASS/2MASS.J_err"]
    table["2MASS/2MASS.H_err"][1] = np.nan
    phot = photometry_from_table(table, default_error=0.1)
    assert any("no error column 2MASS/2MASS.J_err" in m and "0.1 mag is assumed" in m for m in phot.column_messages)
    assert phot.mag_err[:, phot.filter_ids.index("2MASS/2MASS.J")] == pytest.approx([0.1, 0.1])
    assert "2MASS/2MASS.H: no valid error" in phot.star_messages[1][0]
    dropped = photometry_from_table(table, default_error=None)
    assert np.isnan(dropped.mag[:, dropped.filter_ids.index("2MASS/2MASS.J")]).all()


def test_negative_parallax_keeps_teff_but_not_radius(sample):
    table = _two_stars(sample)
    table["parallax"][0] = -0.4
    result = fit_photometry(table)
    assert np.isfinite(result["teff"][0]) and np.isnan(result["radius"][0]) and np.isnan(result["luminosity"][0])
    assert "parallax -0.4 mas <= 0" in result["message"][0]
    assert np.isfinite(result["radius"][1])


def test_a_star_with_too_few_bands_is_reported_and_the_others_are_fitted(sample):
    table = _two_stars(sample)
    for band in BANDS[1:]:
        table[band][0] = np.nan
    result = fit_photometry(table, extinction="fit")
    assert result["status"][0] == "not_fitted"
    assert "1 band(s) for 3 free parameters" in result["message"][0]
    assert np.isnan(result["teff"][0])
    assert result["status"][1] == "ok" and np.isfinite(result["teff"][1])


def test_no_band_at_all_is_an_error():
    with pytest.raises(ValueError, match="no usable band"):
        fit_photometry(Table({"id": ["a"], "ra": [1.0], "dec": [2.0], "Vmag": [10.0]}))


def test_extinction_array_of_the_wrong_length(sample):
    table = _two_stars(sample)
    with pytest.raises(ValueError, match="one A_V per star"):
        SEDFitter(extinction=np.zeros(5)).fit(table)
