"""Tables of the regional plan (issue 13): zone sets, zones and each site's classification.

Registered on the same metadata as :mod:`app.db.models` (imported at its end), so migrations
and autogenerate see them. Geometry columns are EPSG:4326 lon/lat.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base
from geo.vocab import actor_types, zone_types


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ZoneSet(Base):
    """A named set of zones of one type (KP-compliant zones, protected areas...), valid from
    ``valid_from`` to ``valid_to`` (inclusive; NULL: open). Re-uploading a set by its name
    replaces its zones (``version`` counts the replacements)."""

    __tablename__ = "zone_sets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    zone_type: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("zone_type", zone_types().codes), name="zone_type"),
        CheckConstraint(
            "valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to", name="validity"
        ),
    )


class Zone(Base):
    """One polygon (MultiPolygon) of a zone set, repaired when it was invalid."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    zone_set_id: Mapped[int] = mapped_column(
        ForeignKey("zone_sets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True))
    area_km2: Mapped[float] = mapped_column(Double)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # shapely's validity reason of the geometry as uploaded, when make_valid repaired it.
    repair_reason: Mapped[str | None] = mapped_column(Text)
    source_row: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = _now()


class SiteZonePoint(Base):
    """The point each site was last classified at: a site whose point differs (moved) or
    that has none (new) is classified again, and only those."""

    __tablename__ = "site_zone_points"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))


class SiteZone(Base):
    """A site against one zone set: inside one of its zones (or on an edge) or not, which
    zone (containing, else nearest edge), and the geodesic metres to the nearest zone edge."""

    __tablename__ = "site_zones"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    zone_set_id: Mapped[int] = mapped_column(
        ForeignKey("zone_sets.id", ondelete="CASCADE"), primary_key=True
    )
    inside: Mapped[bool] = mapped_column(Boolean)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    edge_distance_m: Mapped[float | None] = mapped_column(Double)
    classified_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        Index("ix_site_zones_set_inside", "zone_set_id", "inside", "site_id"),
        Index("ix_site_zones_zone_id", "zone_id"),
    )


class ZoneState(Base):
    """One row: the ``dataset_state.sites_version`` every site was last classified at, so a
    read that filters by zone knows in one lookup whether sites changed since."""

    __tablename__ = "zone_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sites_version: Mapped[int] = mapped_column(BigInteger, server_default=text("-1"))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class Route(Base):
    """A trade route: from a source site (a mine) to a destination site (a sales point, a
    town, a buying house, even outside the region), as drawn or as the straight geodesic,
    with mineral, period and volume when known, and what crossing a border it makes."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    source_site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    destination_site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    mineral: Mapped[str | None] = mapped_column(Text)
    period: Mapped[str | None] = mapped_column(Text)
    volume: Mapped[float | None] = mapped_column(Double)
    volume_unit: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=True))
    length_km: Mapped[float] = mapped_column(Double)
    source_country: Mapped[str | None] = mapped_column(String(3))
    destination_country: Mapped[str | None] = mapped_column(String(3))
    cross_border: Mapped[bool] = mapped_column(Boolean)
    # The border the straight line from source to destination crosses first, and where.
    border_pair: Mapped[str | None] = mapped_column(String(7))
    crossing: Mapped[Any | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=True
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        Index("ix_routes_cross_border_pair", "cross_border", "border_pair"),
        CheckConstraint("volume IS NULL OR volume >= 0", name="volume"),
    )


ACTOR_SITE_RELATIONS = ("works_at", "buys_at")
ACTOR_RELATIONS = ("supplies",)


class Actor(Base):
    """A supply-chain actor (cooperative, diggers' team, collector, buying house, exporter,
    transporter). Same name and registration (folded) = same actor: ``dedup_key`` is unique.
    ``contact`` is restricted (admins, authorities in scope); ``geom`` is the office when
    given, else the first site it works or buys at, else NULL."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    dedup_key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    actor_type: Mapped[str] = mapped_column(String(32))
    registration: Mapped[str | None] = mapped_column(Text)
    licence_valid_to: Mapped[dt.date | None] = mapped_column(Date)
    country_iso3: Mapped[str | None] = mapped_column(String(3))
    contact: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    geom: Mapped[Any | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=True
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (CheckConstraint(_in("actor_type", actor_types().codes), name="actor_type"),)


class ActorSite(Base):
    """An actor works at (diggers, cooperatives) or buys at (collectors, comptoirs) a site."""

    __tablename__ = "actor_sites"

    actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)

    __table_args__ = (CheckConstraint(_in("relation", ACTOR_SITE_RELATIONS), name="relation"),)


class ActorLink(Base):
    """One actor supplies another."""

    __tablename__ = "actor_links"

    from_actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True
    )
    to_actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)

    __table_args__ = (CheckConstraint(_in("relation", ACTOR_RELATIONS), name="relation"),)
