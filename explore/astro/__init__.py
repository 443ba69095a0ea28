"""Stellar and Galactic science shared by the stellar apps: spectra, photometry, extinction, frames, catalogues. No web, no database."""
