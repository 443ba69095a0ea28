"""From A0 (the monochromatic extinction at 550 nm that the cubes give) to E(B-V), A_V, A_G and others.

The conversion uses an extinction curve from ``dust_extinction``, by default the Milky-Way average of
Gordon et al. (2023, "G23", valid from 0.0912 to 32 microns) at R(V) = 3.1:

    A(lambda) = A0 * k(lambda) / k(550 nm),   k = A(lambda)/A(V) from the curve.

Band extinctions are *monochromatic* values at the band's effective wavelength (Vega-weighted, from the
SVO Filter Profile Service; Rodrigo et al. 2012, 2020). That is the usual first-order approximation; the
true band extinction also depends on the star's spectrum and on A0 itself (for the broad Gaia G band,
A_G/A0 changes by more than 10 per cent with the star's colour; Danielski et al. 2018), so use a full synthetic-
photometry treatment where that matters. ``E(B-V)`` is ``A_B - A_V`` at the Johnson B and V effective
wavelengths.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from dust_extinction import parameter_averages

__all__ = ["A0_WAVELENGTH", "BANDS", "LAWS", "ExtinctionLaw", "convert"]

#: the wavelength of the cubes' A0
A0_WAVELENGTH = 5500.0 * u.AA

#: effective wavelengths (Vega) of common bands, from the SVO Filter Profile Service
BANDS: dict[str, u.Quantity] = {
    "U": 3570.65 * u.AA,  # Generic/Johnson.U
    "B": 4378.38 * u.AA,  # Generic/Johnson.B
    "V": 5466.11 * u.AA,  # Generic/Johnson.V
    "R": 6695.58 * u.AA,  # Generic/Johnson.R
    "I": 8565.14 * u.AA,  # Generic/Johnson.I
    "G": 5822.39 * u.AA,  # GAIA/GAIA3.G
    "BP": 5035.75 * u.AA,  # GAIA/GAIA3.Gbp
    "RP": 7619.96 * u.AA,  # GAIA/GAIA3.Grp
    "J": 12350.0 * u.AA,  # 2MASS/2MASS.J
    "H": 16620.0 * u.AA,  # 2MASS/2MASS.H
    "Ks": 21590.0 * u.AA,  # 2MASS/2MASS.Ks
}

#: the R(V)-dependent Milky-Way curves of dust_extinction offered here
LAWS = ("G23", "F19", "F99", "O94", "CCM89")

_EBV_NAMES = {"e(b-v)", "ebv", "e_bv", "e(b - v)"}


class ExtinctionLaw:
    """An extinction curve normalised to the cubes' A0 (550 nm).

    Parameters
    ----------
    name : str
        A ``dust_extinction.parameter_averages`` model: one of :data:`LAWS`.
    rv : float
        R(V) = A(V)/E(B-V); 3.1 is the diffuse Milky-Way average.

    Examples
    --------
    >>> law = ExtinctionLaw("G23", rv=3.1)
    >>> round(float(law.ratio("V")), 3)
    1.008
    """

    def __init__(self, name: str = "G23", rv: float = 3.1) -> None:
        if name not in LAWS:
            raise ValueError(f"unknown extinction law {name!r}; choose one of {', '.join(LAWS)}")
        model_cls = getattr(parameter_averages, name)
        lo, hi = model_cls.Rv_range
        if not lo <= rv <= hi:
            raise ValueError(f"R(V) = {rv} is outside the range {lo}-{hi} where {name} is defined")
        self.name = name
        self.rv = float(rv)
        self._model = model_cls(Rv=rv)
        self._k0 = float(self._k(A0_WAVELENGTH))

    def _k(self, wavelength: u.Quantity) -> np.ndarray:
        wl = u.Quantity(wavelength, u.AA)
        x = (1.0 / wl.to(u.micron)).value
        lo, hi = self._model.x_range
        if np.any((x < lo) | (x > hi)):
            raise ValueError(
                f"{self.name} is defined from {1 / hi:.3g} to {1 / lo:.3g} micron; "
                f"asked for {wl.to(u.micron)}"
            )
        return np.asarray(self._model(wl))

    def ratio(self, band: str | u.Quantity) -> float | np.ndarray:
        """A(band)/A0 for a band name of :data:`BANDS` or a wavelength (or E(B-V)/A0 for ``"E(B-V)"``)."""
        if isinstance(band, str):
            if band.lower() in _EBV_NAMES:
                return float(self._k(BANDS["B"]) - self._k(BANDS["V"])) / self._k0
            key = _band_key(band)
            return float(self._k(BANDS[key])) / self._k0
        return self._k(band) / self._k0

    def __repr__(self) -> str:
        return f"ExtinctionLaw({self.name!r}, rv={self.rv:g})"


def _band_key(band: str) -> str:
    name = band.strip()
    for prefix in ("A_", "A"):
        if name.upper().startswith(prefix.upper()) and name[len(prefix):] in BANDS:
            name = name[len(prefix):]
            break
    if name in BANDS:
        return name
    matches = [key for key in BANDS if key.lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"unknown band {band!r}; known bands: {', '.join(BANDS)}, E(B-V), or give a wavelength")


def convert(a0: Any, to: str | u.Quantity, *, law: str | ExtinctionLaw = "G23", rv: float = 3.1) -> u.Quantity:
    """Convert A0 (mag) to the extinction in a band, at a wavelength, or to E(B-V).

    Parameters
    ----------
    a0 : float, array_like or Quantity
        A0 at 550 nm (mag if plain numbers).
    to : str or Quantity
        A band name of :data:`BANDS` (``"V"``, ``"A_G"``, ``"Ks"``...), ``"E(B-V)"``, or a wavelength.
    law : str or ExtinctionLaw
        The curve (default Gordon et al. 2023).
    rv : float
        R(V) when ``law`` is a name.

    Returns
    -------
    Quantity
        In mag.

    Examples
    --------
    >>> convert(3.1 * u.mag, "E(B-V)")   # doctest: +FLOAT_CMP
    <Quantity 0.997 mag>
    """
    law_obj = law if isinstance(law, ExtinctionLaw) else ExtinctionLaw(law, rv)
    a0_mag = u.Quantity(a0, u.mag)
    return a0_mag * law_obj.ratio(to)
