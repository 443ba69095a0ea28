"""Reusable interactive components (linked views, spectrum and SED plots, maps, annotation layer). Knows no app; talks to the platform only through explore.sdk."""

from explore.viz.annotate import AnnotatedView, AnnotationForm, AnnotationLayer, annotation_elements
from explore.viz.linked import (
    EXPORT_FORMATS,
    LinkedViews,
    SelectionActions,
    points_in_box,
    points_in_polygon,
    table_bytes,
)
from explore.viz.spectra import SelectionSpectrum, spectrum_plot, spectrum_summary

__all__ = [
    "EXPORT_FORMATS",
    "AnnotatedView",
    "AnnotationForm",
    "AnnotationLayer",
    "LinkedViews",
    "SelectionActions",
    "SelectionSpectrum",
    "annotation_elements",
    "points_in_box",
    "points_in_polygon",
    "spectrum_plot",
    "spectrum_summary",
    "table_bytes",
]
