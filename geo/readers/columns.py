"""Header conventions: which columns hold coordinates, accuracy, name, date, minerals, kind.

Survey tools name columns predictably (mission anchors, section 5):

- KoBo: a geopoint ``gps`` becomes ``_gps_latitude``, ``_gps_longitude``, ``_gps_altitude``,
  ``_gps_precision``, optionally under a group path (``group/_gps_latitude``), or with the
  question *label* in place of the name (``_Position du site_precision``);
- ODK Central / Briefcase: ``<group>-<field>-Latitude``, ``-Longitude``, ``-Altitude``,
  ``-Accuracy``;
- everyone else: ``lon``/``lng``/``longitude``/``x`` and ``lat``/``latitude``/``y``, or
  ``easting``/``northing`` for projected coordinates;
- a raw geopoint string ``"lat lon alt acc"`` in a column of any name.

Headers are compared after :func:`geo.vocab.fold` (case, accents, ``_`` vs space) and after
dropping a KoBo group path, so ``Groupe/Nom_du_site`` is ``nom du site``. An explicit
``column_map`` from the uploader always wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from geo.coords import looks_like_geopoint
from geo.errors import InvalidColumnMap, quoted
from geo.survey import COORDINATE_ROLES, FIELD_ROLES
from geo.vocab import fold

_KOBO = re.compile(
    r"^(?:(?P<group>.*)/)?_(?P<name>.+)_(?P<part>latitude|longitude|altitude|precision)$",
    re.IGNORECASE,
)
_ODK = re.compile(r"^(?P<name>.+)-(?P<part>latitude|longitude|altitude|accuracy)$", re.IGNORECASE)
# KoBo/ODK metadata geopoints say where the form was opened, not where the site is.
_METADATA_GEOPOINTS = ("start-geopoint", "start geopoint", "background-geopoint", "background")

_LON_WORDS = {"longitude", "lon", "lng"}
_LAT_WORDS = {"latitude", "lat"}
_LON_EXACT = {"long", "x", "easting", "east", "xcoord", "x coord", "coord x", "point x", "utm x"}
_LAT_EXACT = {"y", "northing", "north", "ycoord", "y coord", "coord y", "point y", "utm y"}
_PROJECTED_WORDS = {"easting", "northing", "utm"}
_ACCURACY_WORDS = {"accuracy", "precision", "hacc", "accuracym", "precisionm"}
_GEOPOINT_NAMES = (
    "gps",
    "geopoint",
    "location",
    "localisation",
    "coordonnees",
    "coordinates",
    "position",
    "point",
    "geolocation",
)

# Role names in order of preference: the first one present wins.
_ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "name": (
        "site name",
        "name of site",
        "nom du site",
        "nom de site",
        "nom site",
        "site nom",
        "sitename",
        "nom du comptoir",
        "name",
        "nom",
        "site",
        "libelle",
        "label",
        "title",
        "titre",
    ),
    "date": (
        "visit date",
        "date visite",
        "date de visite",
        "date de la visite",
        "survey date",
        "date enquete",
        "observed on",
        "observed",
        "observation date",
        "date observation",
        "date",
        "today",
        "date du jour",
        "time",
        "timestamp",
        "when",
        "submissiondate",
        "submission date",
        "submission time",
        "start",
    ),
    "kind": (
        "kind",
        "site type",
        "type de site",
        "type site",
        "site kind",
        "type",
        "category",
        "categorie",
        "nature",
        "nature du site",
    ),
}
_MINERAL_COLUMN = re.compile(
    r"^(?:minerals?|minerais?|mineraux|substances?|commodit(?:y|ies)|produits?|"
    r"type de minerai|minerai exploite|minerais exploites)(?: ?\d+)?$"
)


def leaf(header: str) -> str:
    """A column's folded name without its KoBo group path: ``'g/Nom_Site'`` → ``'nom site'``."""
    return fold(header.rsplit("/", 1)[-1])


def leaves(header: str) -> tuple[str, ...]:
    """:func:`leaf`, and that without an ODK group path (``site-date_visite``: ``date visite``)."""
    name = leaf(header)
    odk = name.rsplit("-", 1)[-1].strip()
    return (name, odk) if odk and odk != name else (name,)


def _tokens(header: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", leaf(header)).split()


@dataclass(frozen=True)
class CoordinatePlan:
    """Where a table's coordinates are.

    ``convention`` is ``kobo``, ``odk``, ``plain``, ``geopoint`` or ``mapped``; either
    ``lon`` and ``lat`` are set, or ``geopoint``. ``projected`` says the column names promise
    projected values (``easting``/``northing``), which then need a CRS.
    """

    convention: str
    lon: str | None = None
    lat: str | None = None
    geopoint: str | None = None
    accuracy: str | None = None
    projected: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        if self.geopoint is not None:
            return (self.geopoint,)
        return (str(self.lon), str(self.lat))


def check_column_map(column_map: Mapping[str, str] | None, columns: Sequence[str]) -> None:
    """Refuse a mapping with an unknown role or a column the file does not have."""
    if not column_map:
        return
    roles = (*COORDINATE_ROLES, *FIELD_ROLES)
    for role, column in column_map.items():
        if role not in roles:
            raise InvalidColumnMap(
                f"unknown role {quoted(role)} in the column mapping; use {roles}"
            )
        if column not in columns:
            raise InvalidColumnMap(
                f"the column mapping gives {role}={quoted(column)}, but the file has no "
                "such column "
                f"(columns: {', '.join(columns)})"
            )
    if ("lon" in column_map) != ("lat" in column_map):
        raise InvalidColumnMap("the column mapping must give both lon and lat (or a geopoint)")


def find_coordinates(
    columns: Sequence[str],
    sample: Callable[[str], list[str]],
    column_map: Mapping[str, str] | None = None,
) -> CoordinatePlan | None:
    """Find the coordinate columns of a table; None when nothing looks like coordinates.

    Parameters
    ----------
    columns
        Column names in file order.
    sample
        Returns a few non-empty values of a column (to recognise an unnamed geopoint column).
    column_map
        The uploader's explicit roles, checked with :func:`check_column_map` first.
    """
    check_column_map(column_map, columns)
    mapping = dict(column_map or {})
    accuracy = mapping.get("accuracy")
    if "lon" in mapping:
        projected = any(_is_projected_name(mapping[axis]) for axis in ("lon", "lat"))
        return CoordinatePlan(
            "mapped", lon=mapping["lon"], lat=mapping["lat"], accuracy=accuracy, projected=projected
        )
    if "geopoint" in mapping:
        return CoordinatePlan("mapped", geopoint=mapping["geopoint"], accuracy=accuracy)
    plan = _split_convention(columns, _KOBO, "kobo", "precision") or _split_convention(
        columns, _ODK, "odk", "accuracy"
    )
    plan = plan or _plain_convention(columns) or _geopoint_column(columns, sample)
    if plan is not None and accuracy is not None:
        plan = CoordinatePlan(
            plan.convention, plan.lon, plan.lat, plan.geopoint, accuracy, plan.projected
        )
    return plan


def _split_convention(
    columns: Sequence[str], pattern: re.Pattern[str], convention: str, accuracy_part: str
) -> CoordinatePlan | None:
    groups: dict[str, dict[str, str]] = {}
    for column in columns:
        match = pattern.match(column.strip())
        if match:
            key = match.group(0)[: match.start("part")]
            groups.setdefault(key, {})[match.group("part").casefold()] = column
    complete = [parts for parts in groups.values() if "latitude" in parts and "longitude" in parts]
    if not complete:
        return None
    preferred = [
        parts
        for parts in complete
        if not any(meta in fold(parts["latitude"]) for meta in _METADATA_GEOPOINTS)
    ]
    parts = (preferred or complete)[0]
    return CoordinatePlan(
        convention,
        lon=parts["longitude"],
        lat=parts["latitude"],
        accuracy=parts.get(accuracy_part),
    )


def _is_projected_name(column: str) -> bool:
    return bool(_PROJECTED_WORDS & set(_tokens(column)))


def _plain_convention(columns: Sequence[str]) -> CoordinatePlan | None:
    lon = next((c for c in columns if _is_axis(c, _LON_WORDS, _LON_EXACT)), None)
    lat = next((c for c in columns if _is_axis(c, _LAT_WORDS, _LAT_EXACT)), None)
    if lon is None or lat is None:
        return None
    projected = _is_projected_name(lon) or _is_projected_name(lat)
    return CoordinatePlan(
        "plain", lon=lon, lat=lat, accuracy=find_accuracy(columns), projected=projected
    )


def _is_axis(column: str, words: set[str], exact: set[str]) -> bool:
    tokens = _tokens(column)
    if " ".join(tokens) in exact:
        return True
    if {"precision", "accuracy", "altitude"} & set(tokens):
        return False
    return bool(words & set(tokens))


def find_accuracy(columns: Sequence[str]) -> str | None:
    """A horizontal-accuracy column (``accuracy``, ``precision``, ``gps_accuracy``, ``hacc``)."""
    for column in columns:
        tokens = _tokens(column)
        if {"vertical", "altitude", "vacc"} & set(tokens):
            continue
        if _ACCURACY_WORDS & {"".join(tokens), *tokens}:
            return column
    return None


def _geopoint_column(
    columns: Sequence[str], sample: Callable[[str], list[str]]
) -> CoordinatePlan | None:
    def rank(column: str) -> int:
        name = leaf(column)
        return _GEOPOINT_NAMES.index(name) if name in _GEOPOINT_NAMES else len(_GEOPOINT_NAMES)

    for column in sorted(columns, key=rank):
        values = sample(column)
        if values and sum(map(looks_like_geopoint, values)) >= 0.9 * len(values):
            return CoordinatePlan("geopoint", geopoint=column)
    return None


def find_field_columns(
    columns: Sequence[str], column_map: Mapping[str, str] | None = None
) -> dict[str, tuple[str, ...]]:
    """Columns for ``name``, ``date``, ``kind`` (one each) and ``minerals`` (one or more)."""
    mapping = dict(column_map or {})
    found: dict[str, tuple[str, ...]] = {}
    names_of = [leaves(column) for column in columns]
    for role, names in _ROLE_NAMES.items():
        if role in mapping:
            found[role] = (mapping[role],)
            continue
        column = next(
            (c for name in names for c, own in zip(columns, names_of, strict=True) if name in own),
            None,
        )
        if column is not None:
            found[role] = (column,)
    if "minerals" in mapping:
        found["minerals"] = (mapping["minerals"],)
    else:
        minerals = tuple(
            c
            for c, own in zip(columns, names_of, strict=True)
            if any(_MINERAL_COLUMN.match(name) for name in own)
        )
        if minerals:
            found["minerals"] = minerals
    return found
