"""Table definitions (SQLAlchemy 2 + GeoAlchemy2). ORM objects never leave ``app.db``.

Geometry columns are EPSG:4326 lon/lat with GiST indexes; constraints keep what PostGIS
stores honest (valid lon/lat range, known kinds and roles).
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
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.roles import ROLES
from geo.vocab import HISTORY_ACTIONS, SITE_KINDS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SITE_STATUSES = ("active", "inactive", "abandoned", "unknown")
# A site is never erased: DELETE retires it (status, time and reason kept, hidden from items).
RETIRED = "retired"
LOCATION_STATUSES = ("country", "sea", "disputed", "outside")
KEY_ROLES = ROLES


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class BoundarySource(Base):
    """A boundary dataset as loaded: its pinned version, checksum and licence."""

    __tablename__ = "boundary_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    licence_url: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    positional_uncertainty_m: Mapped[float] = mapped_column(Double)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    loaded_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        # At most one dataset is the one every site is measured against.
        Index(
            "uq_boundary_sources_one_active", "active", unique=True, postgresql_where=text("active")
        ),
    )


class BoundaryEvent(Base):
    """History of boundary loads and switches, so a switch of source is on record."""

    __tablename__ = "boundary_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("boundary_sources.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    at: Mapped[dt.datetime] = _now()

    __table_args__ = (CheckConstraint(_in("event", ("loaded", "activated")), name="event"),)


class Country(Base):
    __tablename__ = "countries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("boundary_sources.id", ondelete="CASCADE"))
    iso3: Mapped[str] = mapped_column(String(3))
    name_en: Mapped[str] = mapped_column(Text)
    name_fr: Mapped[str] = mapped_column(Text)
    name_pt: Mapped[str] = mapped_column(Text)
    area_km2: Mapped[float] = mapped_column(Double)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True))

    __table_args__ = (UniqueConstraint("source_id", "iso3", name="uq_countries_source_iso3"),)


class Border(Base):
    """The shared boundary line of two neighbouring countries, as derived from one source."""

    __tablename__ = "borders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("boundary_sources.id", ondelete="CASCADE"))
    pair_code: Mapped[str] = mapped_column(String(7))
    country_a: Mapped[str] = mapped_column(String(3))
    country_b: Mapped[str] = mapped_column(String(3))
    length_km: Mapped[float] = mapped_column(Double)
    geom: Mapped[Any] = mapped_column(Geometry("MULTILINESTRING", srid=4326, spatial_index=True))

    __table_args__ = (
        UniqueConstraint("source_id", "pair_code", name="uq_borders_source_pair"),
        CheckConstraint("country_a < country_b", name="sorted_pair"),
        CheckConstraint("pair_code = country_a || '-' || country_b", name="pair_code"),
    )


class DisputedArea(Base):
    """Where two countries' polygons overlap: never silently given to one side."""

    __tablename__ = "disputed_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("boundary_sources.id", ondelete="CASCADE"))
    claimants: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    area_km2: Mapped[float] = mapped_column(Double)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True))


class LandMask(Base):
    """World land (Natural Earth), stored with each source: in no loaded country and on land
    is "outside", not "sea"."""

    __tablename__ = "land_masks"

    source_id: Mapped[str] = mapped_column(
        ForeignKey("boundary_sources.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))


class Site(Base):
    """A mine or a sales point (comptoir, buying house, market)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    minerals: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'unknown'"))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    country_iso3: Mapped[str | None] = mapped_column(String(3))
    location_status: Mapped[str] = mapped_column(String(16))
    claimants: Mapped[list[str]] = mapped_column(ARRAY(String(3)), server_default=text("'{}'"))
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    location_origin: Mapped[str | None] = mapped_column(Text)
    admin: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    restricted: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    source: Mapped[str | None] = mapped_column(Text)
    first_observed: Mapped[dt.date | None] = mapped_column(Date)
    last_observed: Mapped[dt.date | None] = mapped_column(Date)
    boundary_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("boundary_sources.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()
    # Border analytics (0005): geodesic metres to the nearest international border, which
    # border, the country across it, and how sure the side is given the location accuracy.
    border_distance_m: Mapped[float | None] = mapped_column(Double)
    border_pair: Mapped[str | None] = mapped_column(String(7))
    neighbour_iso3: Mapped[str | None] = mapped_column(String(3))
    side_probability: Mapped[float | None] = mapped_column(Double)
    side_confidence: Mapped[str | None] = mapped_column(String(16))
    # The public GeoJSON Feature, written by the borderlens_site_feature() trigger (0003).
    feature_json: Mapped[str] = mapped_column(Text)
    # Transactions (0008): bumped by the sites_row_version trigger on every UPDATE; the
    # item's ETag and the optimistic lock of PUT/PATCH/DELETE compare it.
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)
    # Federation (0013): the transaction that last wrote the row (txid_current(), set by
    # default and by the sites_changed_txid trigger); the changes feed pages on it.
    changed_txid: Mapped[int] = mapped_column(BigInteger, server_default=text("txid_current()"))

    __table_args__ = (
        CheckConstraint(_in("kind", SITE_KINDS), name="kind"),
        CheckConstraint(_in("status", (*SITE_STATUSES, RETIRED)), name="status"),
        CheckConstraint(
            "(status = 'retired') = (retired_at IS NOT NULL) "
            "AND (retired_at IS NULL OR length(trim(retired_reason)) > 0)",
            name="retired_state",
        ),
        CheckConstraint(_in("location_status", LOCATION_STATUSES), name="location_status"),
        CheckConstraint(
            "ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90", name="lonlat_range"
        ),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy"),
        CheckConstraint(
            "first_observed IS NULL OR last_observed IS NULL OR first_observed <= last_observed",
            name="observed_order",
        ),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        Index("ix_sites_kind", "kind"),
        Index("ix_sites_country_iso3", "country_iso3"),
        Index("ix_sites_minerals", "minerals", postgresql_using="gin"),
        Index("ix_sites_observed", "first_observed", "last_observed"),
        Index("ix_sites_border_distance_m", "border_distance_m"),
        Index("ix_sites_border_pair_distance", "border_pair", "border_distance_m"),
        # Items leave retired sites out: their counts stay index-only scans (0008).
        Index("ix_sites_current", "id", postgresql_where=text("status <> 'retired'")),
        Index("ix_sites_changed_txid", "changed_txid", "id"),
        # Also ix_sites_border_sort on (coalesce(border_distance_m, 1e300), id), made by
        # migration 0005 only: alembic cannot compare expression indexes.
        CheckConstraint("border_distance_m IS NULL OR border_distance_m >= 0", name="distance"),
    )


class SiteBorderDistance(Base):
    """A site's geodesic distance to one border within the stored radius (any border, not
    only the nearest), for "within N km of that border" queries by index range scan."""

    __tablename__ = "site_border_distances"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    pair_code: Mapped[str] = mapped_column(String(7), primary_key=True)
    distance_m: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        Index("ix_site_border_distances_pair_distance", "pair_code", "distance_m"),
        CheckConstraint("distance_m >= 0", name="distance"),
    )


class Upload(Base):
    """A survey file as received: provenance, the options it was read with, and its report."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32))
    source_crs: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(Text)
    declared_country: Mapped[str | None] = mapped_column(String(3))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    uploader: Mapped[str] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The rejected rows' original values and reasons, zlib-compressed JSON lines (see
    # app.services.upload_report); NULL when every row was accepted.
    rejected_rows: Mapped[bytes | None] = mapped_column(LargeBinary)
    boundary_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("boundary_sources.id", ondelete="SET NULL")
    )
    received_at: Mapped[dt.datetime] = _now()
    # Stewardship (0011): the dataset version the upload committed as, and its retraction.
    dataset_version: Mapped[int | None] = mapped_column(BigInteger)
    retracted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retracted_reason: Mapped[str | None] = mapped_column(Text)
    retracted_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    retraction: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # 0012: the attribute columns this upload declared restricted; NULL: it declared none, so
    # all its rows' attributes are restricted (shown to admins and authorities in scope only).
    restricted_columns: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    __table_args__ = (
        CheckConstraint(_in("kind", SITE_KINDS) + " OR kind IS NULL", name="kind"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        Index("ix_uploads_received_at", "received_at"),
        # A researcher's own uploads, newest first (GET /uploads is scoped to the key).
        Index("ix_uploads_api_key_id", "api_key_id", "id"),
    )


class Observation(Base):
    """One visit: one accepted row of one upload, about one site."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    observed_on: Mapped[dt.date | None] = mapped_column(Date)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    minerals: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # 0012: the values of the columns its upload declared restricted (moved out of attributes).
    restricted: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("outcome", ("created", "matched")), name="outcome"),
        CheckConstraint(
            "ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90", name="lonlat_range"
        ),
        UniqueConstraint("upload_id", "row_number", name="uq_observations_upload_row"),
        Index("ix_observations_site_id", "site_id"),
    )


class DatasetState(Base):
    """One row: the dataset version, bumped once by every committed change (0011; the column
    keeps its 0006 name), so reads can be repeated ``as_of`` a version and derived results
    (clusters) know when they are stale."""

    __tablename__ = "dataset_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sites_version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class ClusterRun(Base):
    """One clustering of all sites with one set of parameters."""

    __tablename__ = "cluster_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    eps_m: Mapped[float] = mapped_column(Double)
    min_sites: Mapped[int] = mapped_column(Integer)
    adapt: Mapped[bool] = mapped_column(Boolean)
    eps_used_m: Mapped[float] = mapped_column(Double)
    eps_tried_m: Mapped[list[float]] = mapped_column(ARRAY(Double))
    percolation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sites_version: Mapped[int] = mapped_column(BigInteger)
    site_count: Mapped[int] = mapped_column(Integer)
    boundary_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("boundary_sources.id", ondelete="SET NULL")
    )
    computed_at: Mapped[dt.datetime] = _now()


class Cluster(Base):
    __tablename__ = "clusters"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_runs.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_count: Mapped[int] = mapped_column(Integer)
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
    minerals: Mapped[list[str]] = mapped_column(ARRAY(Text))
    span_km: Mapped[float] = mapped_column(Double)
    cross_border: Mapped[bool] = mapped_column(Boolean)
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))


class ClusterMember(Base):
    __tablename__ = "cluster_members"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_runs.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_cluster_members_cluster", "run_id", "cluster_id"),)


class ApiKey(Base):
    """An API key: only a prefix (to find it) and a hash of the secret are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(3)), server_default=text("'{}'"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _now()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # 0012: a key past this instant answers 401 expired_key (NULL: never expires).
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(_in("role", KEY_ROLES), name="role"),)


# -- stewardship (0011): history, dataset versions, curation ----------------------------


class DatasetVersion(Base):
    """One committed change of the dataset: its number (commit order) and when it was taken."""

    __tablename__ = "dataset_versions"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    committed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    xact_id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_dataset_versions_committed_at", "committed_at"),)


class DatasetPending(Base):
    """A writing transaction that has not taken a dataset version yet (one row while it
    runs); a deferred trigger takes one at commit for writers that did not take it
    themselves."""

    __tablename__ = "dataset_pending"

    xact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class SiteVersion(Base):
    """One entry of a site's history: what happened (action), who (key), why (reason), from
    which upload or request, at which dataset version, and the whole stored site after it."""

    __tablename__ = "site_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    dataset_version: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    request_id: Mapped[str | None] = mapped_column(Text)
    related_site_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[dt.datetime] = _now()
    # The snapshot: the sites row as it was after this change (same names and types).
    public_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text))
    minerals: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(String(16))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    country_iso3: Mapped[str | None] = mapped_column(String(3))
    location_status: Mapped[str] = mapped_column(String(16))
    claimants: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    location_origin: Mapped[str | None] = mapped_column(Text)
    admin: Mapped[dict[str, Any]] = mapped_column(JSONB)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB)
    restricted: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source: Mapped[str | None] = mapped_column(Text)
    first_observed: Mapped[dt.date | None] = mapped_column(Date)
    last_observed: Mapped[dt.date | None] = mapped_column(Date)
    boundary_source_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    border_distance_m: Mapped[float | None] = mapped_column(Double)
    border_pair: Mapped[str | None] = mapped_column(String(7))
    neighbour_iso3: Mapped[str | None] = mapped_column(String(3))
    side_probability: Mapped[float | None] = mapped_column(Double)
    side_confidence: Mapped[str | None] = mapped_column(String(16))
    feature_json: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_in("action", HISTORY_ACTIONS), name="action"),
        Index("ix_site_versions_site", "site_id", "dataset_version", "id"),
        Index("ix_site_versions_dataset_version", "dataset_version"),
    )


class ObservationMove(Base):
    """An observation moved from one site to another (merge, split), at a dataset version."""

    __tablename__ = "observation_moves"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    observation_id: Mapped[int] = mapped_column(BigInteger)
    from_site_id: Mapped[int] = mapped_column(BigInteger)
    to_site_id: Mapped[int] = mapped_column(BigInteger)
    dataset_version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_observation_moves_observation", "observation_id", "dataset_version"),
    )


class RetractedObservation(Base):
    """An observation of a retracted upload, as it was, and the version that removed it."""

    __tablename__ = "retracted_observations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(BigInteger)
    row_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    observed_on: Mapped[dt.date | None] = mapped_column(Date)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    minerals: Mapped[list[str]] = mapped_column(ARRAY(Text))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    dataset_version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_retracted_observations_upload", "upload_id"),)


class SiteRedirect(Base):
    """A merged site's public id, answered forever with a 308 to the survivor."""

    __tablename__ = "site_redirects"

    public_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    dataset_version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_site_redirects_site_id", "site_id"),)


class ReviewRejection(Base):
    """A pair of sites a person said are not duplicates: never proposed again."""

    __tablename__ = "review_rejections"

    site_a: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    site_b: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    rejected_at: Mapped[dt.datetime] = _now()

    __table_args__ = (CheckConstraint("site_a < site_b", name="ordered_pair"),)


class AuditEntry(Base):
    """One audited request (0012): append-only (a trigger refuses UPDATE and DELETE, except
    the retention purge). Written in bulk by ``app.audit``'s background flusher."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, server_default=text("''"))
    status: Mapped[int] = mapped_column(SmallInteger)
    features: Mapped[int | None] = mapped_column(Integer)
    revealed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    revealed_countries: Mapped[list[str]] = mapped_column(
        ARRAY(String(3)), server_default=text("'{}'")
    )
    bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    duration_ms: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_key_id", "key_id", "id"),
        Index("ix_audit_log_revealed_countries", "revealed_countries", postgresql_using="gin"),
    )


JOB_STATES = ("queued", "running", "done", "failed")


class UploadJob(Base):
    """An upload processed off the request (``202 Accepted``): the file as received, the
    options, who sent it, and its progress while a worker runs it (see app.services.upload_jobs).

    The file's bytes stay here until the job ends (then they are dropped); the upload it makes
    is an ordinary ``uploads`` row, named by ``upload_public_id``.
    """

    __tablename__ = "upload_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(8), server_default=text("'queued'"))
    filename: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    corrects: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    uploader: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(32))
    fraction: Mapped[float] = mapped_column(Double, server_default=text("0"))
    rows_read: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rows_estimate: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    upload_public_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        CheckConstraint("fraction >= 0 AND fraction <= 1", name="fraction"),
        # Workers claim the oldest queued job; the reaper looks at running ones.
        Index("ix_upload_jobs_state", "state", "id"),
        Index("ix_upload_jobs_api_key_id", "api_key_id", "id"),
    )


class UploadCorrection(Base):
    """``upload`` was sent to fix the rejected rows of ``corrects`` (fix and resend)."""

    __tablename__ = "upload_corrections"

    upload_public_id: Mapped[str] = mapped_column(
        ForeignKey("uploads.public_id", ondelete="CASCADE"), primary_key=True
    )
    corrects: Mapped[str] = mapped_column(ForeignKey("uploads.public_id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (Index("ix_upload_corrections_corrects", "corrects"),)


# Alerts and federation (0013) live in their own module; imported here so that the metadata
# is whole wherever the models are.
from app.db import alert_models as _alert_models  # noqa: E402, F401

# The regional plan's tables (zones, ...) live in their own module, on this metadata.
from app.db import regional_models  # noqa: E402, F401
