"""EXPLORE: an open science platform for space-science data and its Scientific Data Applications."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("explore-platform")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
