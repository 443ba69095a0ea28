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

__all__ = [
    "EXPORT_FORMATS",
    "AnnotatedView",
    "AnnotationForm",
    "AnnotationLayer",
    "LinkedViews",
    "SelectionActions",
    "annotation_elements",
    "points_in_box",
    "points_in_polygon",
    "table_bytes",
]
