"""Spectrum plots: the summary is right pixel by pixel (masked pixels ignored) and follows the selection."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from explore.viz.linked import LinkedViews
from explore.viz.spectra import SelectionSpectrum, spectrum_plot, spectrum_summary


def test_summary_of_known_spectra():
    # 101 spectra: row k is the constant k, so the median is 50 and the 16/84 % points are 16 and 84
    flux = np.repeat(np.arange(101.0)[:, None], 4, axis=1)
    centre, low, high = spectrum_summary(flux)
    assert centre.tolist() == [50.0] * 4 and low.tolist() == [16.0] * 4 and high.tolist() == [84.0] * 4
    flux[:, 1] = np.nan  # a pixel masked everywhere
    flux[100, 2] = np.nan  # and one masked in a single spectrum: the median of 0..99
    centre, low, high = spectrum_summary(flux, statistic="mean")
    assert np.isnan(centre[1]) and centre[2] == pytest.approx(49.5) and centre[0] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="median' or 'mean"):
        spectrum_summary(flux, statistic="mode")


def test_plot_draws_the_band_under_the_curve():
    wave = np.linspace(15100, 16900, 5)
    flux = np.vstack([np.ones(5) * v for v in (0.8, 0.9, 1.0, 1.1, 1.2)])
    area, curve = spectrum_plot(wave, flux, xlabel="wavelength (Å)")
    assert isinstance(area, hv.Area) and isinstance(curve, hv.Curve)
    assert curve.dimension_values(1).tolist() == pytest.approx([1.0] * 5)
    assert area.dimension_values(1)[0] == pytest.approx(np.percentile([0.8, 0.9, 1.0, 1.1, 1.2], 16))
    assert area.dimension_values(2)[0] == pytest.approx(np.percentile([0.8, 0.9, 1.0, 1.1, 1.2], 84))


def test_selection_spectrum_follows_the_selection_and_caps_the_number(grid_table):
    linked = LinkedViews(grid_table, id_column="id")
    wave = np.array([1.0, 2.0, 3.0])
    asked = []

    def spectra(rows):
        asked.append(np.asarray(rows))
        return np.repeat(rows[:, None].astype(float), 3, axis=1)  # the flux of row k is k

    view = SelectionSpectrum(linked, wave, spectra, max_spectra=10)
    assert "select objects" in view.plot().opts.get().kwargs["title"]
    linked.select_positions([1, 2, 3, 10])
    curve = view.plot().get(1)
    assert curve.dimension_values(1).tolist() == [2.5, 2.5, 2.5]  # median of 1, 2, 3, 10
    view.statistic = "mean"
    assert view.plot().get(1).dimension_values(1).tolist() == [4.0, 4.0, 4.0]
    linked.select_box("x", "y", (0, 0, 9, 9))  # all 100
    overlay = view.plot()
    assert len(asked[-1]) == 10 and set(asked[-1]) <= set(range(100))
    assert "a random 10 of them" in overlay.opts.get().kwargs["title"]


def test_a_panel_of_the_selection_spectrum_redraws_when_the_selection_changes(grid_table):
    import panel as pn

    linked = LinkedViews(grid_table, id_column="id")
    view = SelectionSpectrum(linked, np.array([1.0, 2.0]), lambda rows: np.repeat(rows[:, None] * 1.0, 2, axis=1))
    pane = pn.panel(view.plot)
    pane.get_root()
    linked.select_positions([4, 6])
    shown = pane._inner_layout[0].object
    assert shown.get(1).dimension_values(1).tolist() == [5.0, 5.0]
