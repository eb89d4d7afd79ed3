"""Observations (visits) as GeoJSON features: one accepted row of one upload, about one site.

The feature id is the upload's public id and the row number (``UP-7K3Q9X2M4P-12``): stable,
and it says where the visit came from. The raw survey attributes of a visit are shown only to
callers who may see the site's restricted attributes (admins; authorities in scope), because
a survey row can name people, unless its upload declared which of its columns are restricted
(``restricted=workers,armed_group``): then the other columns are public (``attributes``) and
the declared ones (``restricted``) are shown to admins and authorities in scope only.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    ColumnElement,
    Table,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
)
from sqlalchemy.orm import Session

from app.db import features, tiles
from app.db.cql2 import SqlField
from app.db.models import Observation, Site, Upload
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest
from geo.crs import OfferedCrs

observations = typing.cast(Table, Observation.__table__)
sites = typing.cast(Table, Site.__table__)
uploads = typing.cast(Table, Upload.__table__)

JOINED = observations.join(sites, sites.c.id == observations.c.site_id).join(
    uploads, uploads.c.id == observations.c.upload_id
)
FEATURE_ID = func.concat(uploads.c.public_id, "-", observations.c.row_number)
DECLARED = uploads.c.restricted_columns.is_not(None)
EMPTY: ColumnElement[typing.Any] = literal_column("'{}'::jsonb")


def _properties(caller: Caller) -> features.Properties:
    o = observations.c
    properties: features.Properties = [
        ("site", sites.c.public_id),
        ("upload", uploads.c.public_id),
        ("row", o.row_number),
        ("observed_on", o.observed_on),
        ("outcome", o.outcome),
        ("name", o.name),
        ("kind", o.kind),
        ("minerals", o.minerals),
        ("accuracy_m", features.json_real(o.accuracy_m)),
        ("country", sites.c.country_iso3),
    ]
    # An upload that declared its restricted columns made the rest of its attributes public;
    # one that declared nothing keeps all of them restricted (a survey row can name people).
    gated: ColumnElement[typing.Any] = literal(None)
    if caller.may_read_restricted:
        gated = features.restricted_for(caller, o.attributes, sites.c.country_iso3)
    properties.append(("attributes", case((DECLARED, o.attributes), else_=gated)))
    if caller.may_read_restricted:
        restricted = features.restricted_for(caller, o.restricted, sites.c.country_iso3)
        properties.append(("restricted", restricted))
    return properties


def _revealed(caller: Caller) -> ColumnElement[typing.Any]:
    """The site's country ('' at sea) when this observation shows ``caller`` restricted values."""
    o = observations.c
    shows = or_(o.restricted != EMPTY, and_(~DECLARED, o.attributes != EMPTY))
    country = func.coalesce(sites.c.country_iso3, "")
    return features.restricted_for(caller, case((shows, country)), sites.c.country_iso3)


OBSERVATIONS = features.FeatureSpec(
    table=JOINED,
    feature_id=FEATURE_ID,
    unique_key=observations.c.id,
    geom=observations.c.geom,
    properties=_properties,
    temporal=(observations.c.observed_on, observations.c.observed_on),
    revealed=_revealed,
    fields={
        "geometry": SqlField(observations.c.geom, "geometry"),
        "site": SqlField(sites.c.public_id, "string"),
        "upload": SqlField(uploads.c.public_id, "string"),
        "row": SqlField(observations.c.row_number, "integer"),
        "observed_on": SqlField(observations.c.observed_on, "date"),
        "outcome": SqlField(observations.c.outcome, "string"),
        "name": SqlField(observations.c.name, "string"),
        "kind": SqlField(observations.c.kind, "string"),
        "minerals": SqlField(observations.c.minerals, "string_array"),
        "accuracy_m": SqlField(observations.c.accuracy_m, "number"),
        "country": SqlField(sites.c.country_iso3, "string"),
    },
)


@dataclass(frozen=True)
class ObservationFilter:
    sites: tuple[str, ...] = ()
    uploads: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()


def _where(query: FeatureQuery, selection: ObservationFilter) -> list[ColumnElement[bool]]:
    where = features.common_filters(OBSERVATIONS, query)
    if selection.sites:
        where.append(sites.c.public_id.in_(selection.sites))
    if selection.uploads:
        where.append(uploads.c.public_id.in_(selection.uploads))
    if selection.countries:
        where.append(sites.c.country_iso3.in_(selection.countries))
    return where


#: What an observation carries in a vector tile (public attributes, as text where needed).
OBSERVATION_TILE_PROPERTIES: Final = (
    ("id", FEATURE_ID),
    ("site", sites.c.public_id),
    ("upload", uploads.c.public_id),
    ("row", observations.c.row_number),
    ("observed_on", cast(observations.c.observed_on, Text)),
    ("outcome", observations.c.outcome),
    ("name", observations.c.name),
    ("kind", observations.c.kind),
    ("minerals", func.array_to_string(observations.c.minerals, ",")),
    ("accuracy_m", observations.c.accuracy_m),
    ("country", sites.c.country_iso3),
)


def tile_layer(query: FeatureQuery, selection: ObservationFilter) -> tiles.TileLayer:
    """The observations ``query`` selects, as a point layer (the surveyed points)."""
    return tiles.TileLayer(
        table=JOINED,
        where=_where(query, selection),
        geom=observations.c.geom,
        properties=OBSERVATION_TILE_PROPERTIES,
        points=True,
    )


def page(
    session: Session,
    query: FeatureQuery,
    selection: ObservationFilter,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None,
    crs: OfferedCrs | None = None,
    spec: features.FeatureSpec = OBSERVATIONS,
) -> FeaturePage:
    """``spec``: OBSERVATIONS, or it as of an earlier version (``app.db.site_history``)."""
    where = _where(query, selection)
    return features.fetch_page(session, spec, where, request, caller, count_cap=count_cap, crs=crs)


def get_feature(
    session: Session,
    feature_id: str,
    caller: Caller,
    crs: OfferedCrs | None = None,
    spec: features.FeatureSpec = OBSERVATIONS,
) -> str | None:
    upload_id, _, row = feature_id.rpartition("-")
    if not (upload_id and row.isascii() and row.isdigit() and len(row) < 10):
        return None
    where = [uploads.c.public_id == upload_id, observations.c.row_number == int(row)]
    return features.fetch_one(session, spec, feature_id, caller, where, by_id=False, crs=crs)


def extent(
    session: Session,
) -> tuple[tuple[float, float, float, float] | None, tuple[dt.date | None, dt.date | None]]:
    g = observations.c.geom
    row = session.execute(
        features.select_extent(g).add_columns(
            func.min(observations.c.observed_on), func.max(observations.c.observed_on)
        )
    ).one()
    box = None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    return box, (row[4], row[5])
