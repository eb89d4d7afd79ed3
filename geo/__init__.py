"""borderlens geo engine: pure functions over survey files, coordinates and boundaries.

Importable in a notebook with nothing running: no web framework, no database, no settings.
Everything that crosses this package's boundary is lon/lat on WGS 84 (EPSG:4326), axis order
x=lon, y=lat, distances in metres unless a name says otherwise (``length_km``).
"""
