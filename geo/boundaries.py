"""Country polygons in, international borders and disputed areas out.

Everything here is lon/lat on WGS 84 (EPSG:4326); lengths and areas are geodesic on the WGS 84
ellipsoid. Nothing is simplified: borders keep every vertex of the source polygons.

How a border is derived (see ``derive_borders``): two countries border each other where their
polygon outlines coincide. Intersecting the two outlines, never reading one polygon's ring,
is what keeps a coastline or a 12-nautical-mile territorial-sea limit out of the borders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from pyproj import Geod
from shapely.geometry import MultiLineString, MultiPolygon

from geo.countries import Country, iso3_by_numeric
from geo.errors import BoundaryDataError

GEOD = Geod(ellps="WGS84")
MIN_OVERLAP_AREA_KM2 = 1.0
MIN_BORDER_PIECE_M = 10.0
# Overlap strips thinner than this (mean width 2 x area / perimeter) are digitising
# disagreements along a border, not claims; see _through_thin_strips.
MAX_STRIP_WIDTH_M = 2_000.0
CRS = "EPSG:4326"
# A point computed on a line (a segment's midpoint) is within ~1e-15° of it; 1e-9° is 0.1 mm.
_ON_LINE_DEG = 1e-9

# shapely geometry type ids
_LINESTRING = 1
_POLYGON = 3

GeometryArray = npt.NDArray[Any]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class BorderLine:
    """The shared boundary of two neighbouring countries.

    ``country_a`` < ``country_b``; ``pair_code`` is ``"{country_a}-{country_b}"`` (``CAF-CMR``).
    ``geometry`` is a lon/lat MultiLineString, ``length_km`` its geodesic length on WGS 84.
    """

    pair_code: str
    country_a: str
    country_b: str
    geometry: MultiLineString
    length_km: float


@dataclass(frozen=True)
class DisputedArea:
    """Land (or sea) that two countries' polygons both cover: a claim the data does not settle.

    ``claimants`` are sorted ISO3 codes, ``area_km2`` the geodesic area on WGS 84.
    """

    claimants: tuple[str, ...]
    geometry: MultiPolygon
    area_km2: float


def pair_code(iso3_a: str, iso3_b: str) -> str:
    """``pair_code("CMR", "CAF") == "CAF-CMR"``: the two codes sorted, joined by ``-``."""
    return "-".join(sorted((iso3_a, iso3_b)))


# --- reading -------------------------------------------------------------------------------


def read_country_polygons(
    path: Path | str,
    *,
    format: Literal["topojson", "geojson"],
    id_field: str,
    id_kind: Literal["iso3", "iso_numeric"],
    countries: Collection[str],
    layer: str | None = None,
    country_table: Sequence[Country] | None = None,
) -> gpd.GeoDataFrame:
    """Read the polygons of ``countries`` (ISO3) from a GeoJSON or TopoJSON file.

    Returns a GeoDataFrame with columns ``iso3`` and ``geometry`` (valid MultiPolygons, EPSG:4326)
    sorted by ``iso3``, one row per requested country. Features sharing an id are merged.
    ``id_kind="iso_numeric"`` translates ids such as ``"024"`` through ``country_table``
    (default: ``data/vocab/countries.csv``). ``layer`` defaults to ``countries`` for TopoJSON.

    Raises ``BoundaryDataError`` when the file cannot be read or lacks a requested country.
    """
    path = Path(path)
    wanted = sorted(set(countries))
    iso3_of_id = _iso3_of_id(id_kind, wanted, country_table)
    if layer is None and format == "topojson":
        layer = "countries"

    frame = _read_frame(path, format=format, layer=layer, id_field=id_field)
    ids = frame[id_field].astype("string")
    iso3 = ids.map(iso3_of_id, na_action="ignore").to_numpy(dtype=object, na_value=None)
    rows = np.flatnonzero(np.isin(iso3, wanted))

    codes = iso3[rows]
    geometries = _valid_multipolygons(frame.geometry.to_numpy()[rows])
    found = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    missing = sorted(set(wanted) - set(codes[found]))
    if missing:
        raise BoundaryDataError(
            f"{path.name}: no polygon for {', '.join(missing)} "
            f"(looked up {id_kind} codes in field {id_field!r})"
        )
    codes, geometries = _merge_duplicates(codes[found], geometries[found])
    order = np.argsort(codes)
    return gpd.GeoDataFrame({"iso3": codes[order], "geometry": geometries[order]}, crs=CRS)


def read_land(path: Path | str, *, layer: str = "land") -> MultiPolygon:
    """World land as one valid MultiPolygon (lon/lat), from a Natural Earth TopoJSON.

    Used to tell land outside the loaded countries from the sea: a point in no loaded
    country is "outside" on land, "sea" otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise BoundaryDataError(f"land file not found: {path}")
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise BoundaryDataError(f"{path.name}: no readable {layer!r} layer: {exc}") from exc
    polygons = _valid_multipolygons(frame.geometry.to_numpy())
    parts = list(shapely.get_parts(polygons[~shapely.is_missing(polygons)]))
    if not parts:
        raise BoundaryDataError(f"{path.name}: the {layer!r} layer has no polygons")
    return MultiPolygon(parts)


def _iso3_of_id(
    id_kind: Literal["iso3", "iso_numeric"],
    wanted: Sequence[str],
    country_table: Sequence[Country] | None,
) -> dict[str, str]:
    if id_kind == "iso3":
        return {code: code for code in wanted}
    iso3_of_numeric = iso3_by_numeric(country_table)
    known = set(iso3_of_numeric.values())
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise BoundaryDataError(f"no ISO numeric code known for {', '.join(unknown)}")
    return {numeric: code for numeric, code in iso3_of_numeric.items() if code in wanted}


def _read_frame(path: Path, *, format: str, layer: str | None, id_field: str) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise BoundaryDataError(f"boundary file not found: {path}")
    options = {"OGR_GEOJSON_MAX_OBJ_SIZE": "0"} if format == "geojson" else {}
    try:
        with _gdal_config(options):
            frame = pyogrio.read_dataframe(path, layer=layer, columns=[id_field])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise BoundaryDataError(f"{path.name}: cannot read as {format}: {exc}") from exc
    if id_field not in frame.columns:
        raise BoundaryDataError(f"{path.name}: no field {id_field!r} (has {list(frame.columns)})")
    if frame.crs is None:
        # TopoJSON carries no CRS; world-atlas is lon/lat WGS 84.
        frame = frame.set_crs(CRS)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(CRS)
    return frame


@contextlib.contextmanager
def _gdal_config(options: dict[str, str]) -> Iterator[None]:
    """Set GDAL config options for the duration of a read, then restore the previous values.

    The OSM-derived maritime GeoJSON has single features larger than GDAL's default object
    size limit; ``OGR_GEOJSON_MAX_OBJ_SIZE=0`` lifts it. GDAL's GeoJSON driver has no open
    option for it, and config options are process-wide, hence the narrow scope.
    """
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(
            {key: (None if value is None else str(value)) for key, value in previous.items()}
        )


def _valid_multipolygons(geometries: GeometryArray) -> GeometryArray:
    """``make_valid`` then keep only the polygonal parts, one MultiPolygon (or None) per input."""
    return _polygonal_parts(shapely.make_valid(geometries))


def _polygonal_parts(geometries: GeometryArray) -> GeometryArray:
    """The polygons in each geometry as one MultiPolygon, or None where there are none."""
    parts, owner = _flat_parts(geometries)
    polygonal = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    out = np.empty(len(geometries), dtype=object)
    if polygonal.any():
        shapely.multipolygons(parts[polygonal], indices=owner[polygonal], out=out)
    return out


def _merge_duplicates(
    codes: npt.NDArray[np.object_], geometries: GeometryArray
) -> tuple[npt.NDArray[np.object_], GeometryArray]:
    unique, counts = np.unique(codes.astype(str), return_counts=True)
    if (counts == 1).all():
        return codes, geometries
    merged = np.empty(len(unique), dtype=object)
    for i, code in enumerate(unique):
        # A country split over several features: their union, made valid again.
        union = shapely.union_all(geometries[codes == code])
        merged[i] = _valid_multipolygons(np.array([union], dtype=object))[0]
    return unique.astype(object), merged


# --- borders -------------------------------------------------------------------------------


def derive_borders(
    countries: gpd.GeoDataFrame, *, min_piece_length_m: float = MIN_BORDER_PIECE_M
) -> list[BorderLine]:
    """The shared boundary line of every pair of neighbouring countries, sorted by pair code.

    For each pair whose polygons intersect (candidates from an STRtree), the border is the
    intersection of the two polygons' outlines, linear parts only, line-merged; pieces shorter
    than ``min_piece_length_m`` (numerical noise, e.g. where outlines cross instead of
    coinciding) are dropped, and so are pairs left with nothing (countries touching at a point).

    What this means on real data:

    - Coasts are never borders: only one country's outline runs there. With the OSM-derived
      maritime dataset each coastal polygon ends at the 12-nautical-mile territorial-sea limit;
      that limit is not a border either, but the lateral boundary between two neighbours'
      territorial seas *is* shared by both outlines and is kept, as the international (maritime)
      boundary it is: some 22 km (12 nm) out to sea per coastal border, more where it runs
      obliquely.
    - Where two polygons overlap (a disputed area, see ``find_disputed_areas``) each outline
      runs along its own side of the overlap, so the border has a gap there: the overlap is
      reported as a ``DisputedArea`` and its outline stands in for the border. Except where a
      pair's overlap is nothing but strips thinner than ``MAX_STRIP_WIDTH_M`` (two
      digitisations of one line, e.g. Angola / Congo at Cabinda): the border then runs through
      the strips along the outline of the country whose code sorts first. Outline stretches
      that both countries share but that have *both* countries on the same side are removed too:
      when one polygon covers the other (Morocco's polygon covering Western Sahara), the covered
      country's coast and its border with third countries are not a border between the two.
    """
    codes, geometries = _country_arrays(countries)
    first, second = _intersecting_pairs(geometries)
    outlines = shapely.boundary(geometries)
    shared = shapely.intersection(outlines[first], outlines[second])

    pairs_with_overlap, overlaps = _overlaps(geometries, first, second)
    if len(pairs_with_overlap):
        shared[pairs_with_overlap] = _without_overlap_outline(shared[pairs_with_overlap], overlaps)
        through = _through_thin_strips(
            overlaps, outlines[_first_by_code(codes, first, second)[pairs_with_overlap]]
        )
        joined = ~shapely.is_missing(through)
        targets = pairs_with_overlap[joined]
        # union() with a missing geometry gives a missing one: a pair whose whole border is
        # strips (AGO-COG) has no shared outline left at all.
        empty = shapely.is_missing(shared[targets])
        shared[targets] = np.where(
            empty, through[joined], shapely.union(shared[targets], through[joined])
        )

    lines = _merged_lines(shared, min_piece_length_m)
    found = np.flatnonzero(~shapely.is_missing(lines))
    lengths_km = geodesic_lengths_m(lines[found]) / 1000.0
    borders = []
    for k, length_km in zip(found, lengths_km, strict=True):
        a, b = sorted((str(codes[first[k]]), str(codes[second[k]])))
        borders.append(
            BorderLine(
                pair_code=f"{a}-{b}",
                country_a=a,
                country_b=b,
                geometry=lines[k],
                length_km=float(length_km),
            )
        )
    return sorted(borders, key=lambda border: border.pair_code)


def _first_by_code(
    codes: npt.NDArray[np.object_], first: IndexArray, second: IndexArray
) -> IndexArray:
    """Per candidate pair, the country (index) whose ISO3 code sorts first."""
    return np.where(codes[first].astype(str) <= codes[second].astype(str), first, second)


def _through_thin_strips(overlaps: GeometryArray, outline_a: GeometryArray) -> GeometryArray:
    """Border pieces through the pair's thin overlap strips, along the first country's outline.

    A strip a few hundred metres wide running along a border (Angola / Congo at Cabinda in the
    OSM-derived data: 206 km² in nine strips, no shared outline at all) is two digitisations of
    one line, not a claim: without this the pair would have no border line there. The strip is
    still reported as a disputed area (a point inside it lies in both polygons). Wide overlaps
    (Abyei, ~40 km) are real disputes and stay gaps in the border, as documented above.
    """
    pieces, owner = _flat_parts(overlaps)
    polygonal = (shapely.get_type_id(pieces) == _POLYGON) & ~shapely.is_empty(pieces)
    pieces, owner = pieces[polygonal], owner[polygonal]
    out = np.empty(len(overlaps), dtype=object)
    if not len(pieces):
        return out
    area_perimeter = np.array([GEOD.geometry_area_perimeter(p) for p in pieces])
    width_m = 2 * np.abs(area_perimeter[:, 0]) / np.maximum(area_perimeter[:, 1], 1e-9)
    # Only pairs whose overlap is nothing but thin strips: where any piece is wide (Abyei,
    # Western Sahara) the pair is a real claim, and even its slivers are left alone.
    claimed = np.zeros(len(overlaps), dtype=bool)
    claimed[owner[width_m >= MAX_STRIP_WIDTH_M]] = True
    thin = ~claimed[owner]
    if not thin.any():
        return out
    along = shapely.intersection(outline_a[owner[thin]], shapely.boundary(pieces[thin]))
    lines, line_owner = _flat_parts(along)
    linear = (shapely.get_type_id(lines) == _LINESTRING) & ~shapely.is_empty(lines)
    if linear.any():
        shapely.multilinestrings(lines[linear], indices=owner[thin][line_owner[linear]], out=out)
    return out


def _without_overlap_outline(shared: GeometryArray, overlaps: GeometryArray) -> GeometryArray:
    """Drop the pieces of each shared outline that run along the pair's overlap.

    Along such a piece both countries lie on the same side (the overlap's side), so it is not a
    border between them. A piece of the outlines' intersection never straddles that change:
    it can only happen where the two outlines part, and the overlay puts a node there. So one
    point per piece decides: its midpoint, which lies on the overlap outline or clearly off it.
    (A plain ``difference`` with the overlap outline gives the same lines but costs seconds.)
    """
    pieces, owner = _flat_parts(shared)
    linear = (shapely.get_type_id(pieces) == _LINESTRING) & ~shapely.is_empty(pieces)
    pieces, owner = pieces[linear], owner[linear]
    outlines = shapely.boundary(overlaps)
    shapely.prepare(outlines)
    midpoints = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    on_outline = shapely.dwithin(outlines[owner], midpoints, _ON_LINE_DEG)
    kept = np.empty(len(shared), dtype=object)
    if (~on_outline).any():
        shapely.multilinestrings(pieces[~on_outline], indices=owner[~on_outline], out=kept)
    return kept


def _merged_lines(shared: GeometryArray, min_piece_length_m: float) -> GeometryArray:
    """Per pair: the linear parts, line-merged, without short pieces, as a MultiLineString."""
    # GEOS's line merger takes the linear parts of any collection and ignores points.
    merged = shapely.line_merge(shared)

    pieces, piece_owner = shapely.get_parts(merged, return_index=True)
    long_enough = geodesic_lengths_m(pieces) >= min_piece_length_m
    lines = np.empty(len(shared), dtype=object)
    if long_enough.any():
        shapely.multilinestrings(pieces[long_enough], indices=piece_owner[long_enough], out=lines)
    return lines


def geodesic_lengths_m(lines: GeometryArray) -> npt.NDArray[np.float64]:
    """Geodesic length on WGS 84 of each (Multi)LineString, in metres; vectorised over all
    segments at once (the same sums ``Geod.geometry_length`` makes one geometry at a time)."""
    lines = np.asarray(lines, dtype=object)
    parts, owner = shapely.get_parts(lines, return_index=True)
    coords, vertex_owner = shapely.get_coordinates(parts, return_index=True)
    lengths = np.zeros(len(lines), dtype=np.float64)
    same_part = vertex_owner[1:] == vertex_owner[:-1]
    if not same_part.any():
        return lengths
    start, end = coords[:-1][same_part], coords[1:][same_part]
    _, _, segment_m = GEOD.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    part_m = np.bincount(
        vertex_owner[:-1][same_part], weights=np.asarray(segment_m), minlength=len(parts)
    )
    np.add.at(lengths, owner, part_m)
    return lengths


# --- disputed areas ------------------------------------------------------------------------


def find_disputed_areas(
    countries: gpd.GeoDataFrame, *, min_area_km2: float = MIN_OVERLAP_AREA_KM2
) -> list[DisputedArea]:
    """Areas covered by two countries' polygons at once, sorted by claimants.

    The data does not say whose they are, so no side is picked: each overlapping pair gives one
    ``DisputedArea`` made of the connected overlap pieces of at least ``min_area_km2`` (smaller
    ones are slivers where two outlines were digitised apart). A place claimed by three
    countries appears in three pairwise areas.

    On the OSM-derived source this finds South Sudan / Sudan (Abyei and Kafia Kingi, ~23 150 km²),
    Congo / Angola (Cabinda, ~210 km²) and Morocco / Western Sahara (all of it), plus a few
    small pieces where neighbouring outlines disagree by a few hundred metres.
    """
    codes, geometries = _country_arrays(countries)
    first, second = _intersecting_pairs(geometries)
    pairs_with_overlap, overlaps = _overlaps(geometries, first, second)

    pieces, owner = _flat_parts(overlaps)
    polygonal = shapely.get_type_id(pieces) == _POLYGON
    pieces, owner = pieces[polygonal], owner[polygonal]
    areas_km2 = _geodesic_areas_km2(pieces)
    large = areas_km2 >= min_area_km2

    disputed = []
    for k in np.unique(owner[large]):
        mine = large & (owner == k)
        pair = pairs_with_overlap[k]
        disputed.append(
            DisputedArea(
                claimants=tuple(sorted((str(codes[first[pair]]), str(codes[second[pair]])))),
                geometry=MultiPolygon(list(pieces[mine])),
                area_km2=float(areas_km2[mine].sum()),
            )
        )
    return sorted(disputed, key=lambda area: area.claimants)


def geodesic_area_km2(geometry: shapely.Geometry) -> float:
    """Geodesic area on WGS 84 of a lon/lat (Multi)Polygon, in km², whatever its ring order."""
    return abs(GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def _geodesic_areas_km2(polygons: GeometryArray) -> npt.NDArray[np.float64]:
    # Geod has no array form for polygons; there are only a few overlap pieces per dataset.
    return np.array([geodesic_area_km2(polygon) for polygon in polygons], dtype=np.float64)


# --- shared helpers ------------------------------------------------------------------------


def _country_arrays(countries: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.object_], GeometryArray]:
    if "iso3" not in countries.columns:
        raise BoundaryDataError("country polygons need an 'iso3' column")
    codes = countries["iso3"].to_numpy(dtype=object)
    unique, counts = np.unique(codes.astype(str), return_counts=True)
    duplicated = unique[counts > 1].tolist()
    if duplicated:
        raise BoundaryDataError(f"countries appear more than once: {', '.join(duplicated)}")
    geometries = countries.geometry.to_numpy()
    kinds = shapely.get_type_id(geometries)
    if not np.isin(kinds, (_POLYGON, 6)).all():
        raise BoundaryDataError("country geometries must be polygons or multipolygons")
    return codes, geometries


def _intersecting_pairs(geometries: GeometryArray) -> tuple[IndexArray, IndexArray]:
    """Index pairs ``i < j`` of polygons that intersect (touch or overlap)."""
    tree = shapely.STRtree(geometries)
    first, second = tree.query(geometries, predicate="intersects")
    once = first < second
    return first[once], second[once]


def _overlaps(
    geometries: GeometryArray, first: IndexArray, second: IndexArray
) -> tuple[IndexArray, GeometryArray]:
    """Positions (into ``first``/``second``) of pairs whose interiors overlap, and the overlaps
    as MultiPolygons (the lines and points where the outlines merely touch are left out)."""
    interiors_meet = shapely.relate_pattern(geometries[first], geometries[second], "T********")
    pairs = np.flatnonzero(interiors_meet)
    overlaps = _polygonal_parts(
        shapely.intersection(geometries[first[pairs]], geometries[second[pairs]])
    )
    has_area = ~shapely.is_missing(overlaps)
    return pairs[has_area], overlaps[has_area]


def _flat_parts(geometries: GeometryArray) -> tuple[GeometryArray, IndexArray]:
    """Single-part geometries of each input with the input's index; collections are opened
    twice because ``make_valid`` and overlays may nest a Multi* inside a GeometryCollection."""
    parts, owner = shapely.get_parts(geometries, return_index=True)
    inner_parts, inner_owner = shapely.get_parts(parts, return_index=True)
    return inner_parts, owner[inner_owner]
