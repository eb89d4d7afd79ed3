"""Folium maps rendered from FeatureCollections (no database access here)."""
