"""S-Phot: spectral energy distributions of stars, and their infrared or ultraviolet excess.

Usable from a notebook::

    from astropy.table import Table
    from explore.apps.sphot import SEDFitter, classify, photometry_from_table

    phot = photometry_from_table(Table.read("photometry.csv"))
    results = classify(SEDFitter("ck04", extinction="fit").fit(phot).results_)
"""

from explore.apps.sphot.classify import classify
from explore.apps.sphot.fit import Photometry, SEDFitter, fit_photometry, photometry_from_table
from explore.apps.sphot.models import BlackbodyModel, CK04Model, SEDModel, SpectralGridModel, get_model

__all__ = [
    "BlackbodyModel",
    "CK04Model",
    "Photometry",
    "SEDFitter",
    "SEDModel",
    "SpectralGridModel",
    "classify",
    "fit_photometry",
    "get_model",
    "photometry_from_table",
]
