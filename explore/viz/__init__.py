"""Reusable interactive components (linked views, spectrum and SED plots, maps, annotation layer). Knows no app; talks to the platform only through explore.sdk."""
