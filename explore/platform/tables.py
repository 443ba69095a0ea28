"""Imports every module that defines tables, so that ``Base.metadata`` knows the whole schema."""

from explore.platform import (
    models,  # noqa: F401
    products,  # noqa: F401
)
