"""Planetary science shared by the lunar apps: bodies, rasters, tile matrix sets, DEM derivatives, labels, ephemerides. No web, no database."""
