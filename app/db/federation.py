"""Federation SQL: the changes feed this node serves, and the peers, cursors and shared
sites it pulls from other nodes.

The changes feed pages on ``sites.changed_txid`` (the transaction that last wrote each row)
up to a horizon: the oldest transaction of this database still running (or, with none, the
next transaction id). Every transaction below it has finished, so the rows stamped below it are
exactly the committed changes a later read can never see appear "in the past"; a counter
bumped per statement (``dataset_state.sites_version``) cannot say that of a transaction
that committed late with a lower number. A sync asks ``since`` the previous ``until``; a
row changed again meanwhile is simply sent again in its newer state.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    Text,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import features
from app.db.alert_models import Peer, PeerCursor, SharedSite, SharedSiteReview
from app.db.cql2 import SqlField
from app.db.sites import SITES, sites
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest

peers = typing.cast(Table, Peer.__table__)
cursors = typing.cast(Table, PeerCursor.__table__)
shared = typing.cast(Table, SharedSite.__table__)
reviews = typing.cast(Table, SharedSiteReview.__table__)


# -- the changes feed -----------------------------------------------------------------------


HORIZON = text(
    """
    SELECT coalesce(
        (SELECT min(x) FROM txid_snapshot_xip(s) AS x
         WHERE x % 4294967296 IN (
             SELECT backend_xid::text::bigint FROM pg_stat_activity
             WHERE datname = current_database() AND backend_xid IS NOT NULL)),
        txid_snapshot_xmax(s))
    FROM txid_current_snapshot() AS s
    """
)


def horizon(session: Session) -> int:
    """Every transaction of this database with a lower id has finished (committed or rolled
    back). Transactions of other databases on the same server are left out: they never write
    these sites, and one of them running for an hour must not hold the feed back."""
    return int(session.execute(HORIZON).scalar_one())


@dataclass(frozen=True)
class ChangesPage:
    features_json: list[str]
    last_key: tuple[int, int] | None
    has_more: bool


def changes(
    session: Session,
    caller: Caller,
    since: int,
    until: int,
    after: tuple[int, int] | None,
    limit: int,
) -> ChangesPage:
    """Sites written by transactions in [since, until), retired ones included, as ``caller``
    sees them, each with its row ``version`` as a top-level member; keyset-paged."""
    feature = features.feature_json(SITES, caller)
    # '{"version":N,' + the feature text without its opening brace
    versioned = func.concat(
        literal_column("'{\"version\":'"),
        cast(sites.c.version, Text),
        literal_column("','"),
        func.substr(feature, 2),
    )
    statement = (
        select(versioned, sites.c.changed_txid, sites.c.id)
        .where(sites.c.changed_txid >= since, sites.c.changed_txid < until)
        .order_by(sites.c.changed_txid, sites.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(tuple_(sites.c.changed_txid, sites.c.id) > tuple_(*after))
    rows = session.execute(statement).all()
    kept = rows[:limit]
    last = (int(kept[-1][1]), int(kept[-1][2])) if kept else None
    return ChangesPage([str(r[0]) for r in kept], last, len(rows) > limit)


# -- peers and cursors ----------------------------------------------------------------------


@dataclass(frozen=True)
class PeerRecord:
    id: int
    url: str
    api_key: str | None
    collections: list[str]
    last_synced_at: dt.datetime | None
    last_error: str | None


def _peer(row: Any) -> PeerRecord:
    return PeerRecord(
        row.id, row.url, row.api_key, list(row.collections), row.last_synced_at, row.last_error
    )


def upsert_peer(session: Session, url: str, api_key: str | None, collections: list[str]) -> int:
    statement = insert(peers).values(url=url, api_key=api_key, collections=collections)
    statement = statement.on_conflict_do_update(
        index_elements=[peers.c.url],
        set_={"api_key": statement.excluded.api_key, "collections": statement.excluded.collections},
    )
    return int(session.execute(statement.returning(peers.c.id)).scalar_one())


def list_peers(session: Session) -> list[PeerRecord]:
    return [_peer(r) for r in session.execute(select(peers).order_by(peers.c.id))]


def remove_peer(session: Session, url: str) -> bool:
    result = session.execute(delete(peers).where(peers.c.url == url))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def peer_synced(session: Session, peer_id: int, error: str | None) -> None:
    values: dict[str, Any] = {"last_error": error}
    if error is None:
        values["last_synced_at"] = func.now()
    session.execute(update(peers).where(peers.c.id == peer_id).values(values))


@dataclass(frozen=True)
class Cursor:
    since: int
    next_url: str | None


def get_cursor(session: Session, peer_id: int, collection: str) -> Cursor:
    row = session.execute(
        select(cursors.c.since, cursors.c.next_url).where(
            cursors.c.peer_id == peer_id, cursors.c.collection == collection
        )
    ).one_or_none()
    return Cursor(0, None) if row is None else Cursor(int(row[0]), row[1])


def set_cursor(
    session: Session, peer_id: int, collection: str, since: int, next_url: str | None
) -> None:
    statement = insert(cursors).values(
        peer_id=peer_id, collection=collection, since=since, next_url=next_url
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[cursors.c.peer_id, cursors.c.collection],
            set_={"since": since, "next_url": next_url, "updated_at": func.now()},
        )
    )


# -- shared sites -----------------------------------------------------------------------------


def upsert_shared(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert or update shared features by (peer, collection, origin id): a page fetched
    twice (a sync resumed after a failure) changes nothing the second time; an older
    version never replaces a newer one. Returns the rows' ids."""
    if not rows:
        return []
    statement = insert(shared).values(list(rows))
    newer = or_(
        statement.excluded.origin_version.is_(None),
        shared.c.origin_version.is_(None),
        statement.excluded.origin_version >= shared.c.origin_version,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[shared.c.peer_id, shared.c.collection, shared.c.origin_id],
        set_={
            name: statement.excluded[name]
            for name in (
                "origin_node",
                "origin_version",
                "retired_at",
                "geom",
                "properties",
                "restricted",
            )
        }
        | {"fetched_at": func.now()},
        where=newer,
    )
    return [int(i) for i in session.execute(statement.returning(shared.c.id)).scalars()]


def queue_reviews(session: Session, shared_ids: Sequence[int], radius_m: float) -> int:
    """Put (local site, shared site) pairs within ``radius_m`` geodesic metres in the review
    queue, once per pair; nothing is merged."""
    if not shared_ids:
        return 0
    result = session.execute(
        text(
            """
            INSERT INTO shared_site_reviews (shared_site_id, site_id, distance_m)
            SELECT ss.id, s.id, ST_Distance(ss.geom::geography, s.geom::geography)
            FROM shared_sites ss
            JOIN sites s ON ST_DWithin(s.geom, ss.geom, :degrees)
                AND ST_DWithin(s.geom::geography, ss.geom::geography, :radius)
            WHERE ss.id = ANY(:ids) AND ss.retired_at IS NULL AND s.status <> 'retired'
            ON CONFLICT DO NOTHING
            """
        ),
        # A degree of latitude is at least 110.5 km; of longitude, less away from the
        # equator: the box is a prefilter for the index, the geodesic test decides.
        {"ids": list(shared_ids), "radius": radius_m, "degrees": radius_m / 100_000 * 2},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def review_queue(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            """
            SELECT r.id, r.distance_m, r.status, s.public_id AS site, ss.origin_node,
                   ss.origin_id
            FROM shared_site_reviews r
            JOIN sites s ON s.id = r.site_id JOIN shared_sites ss ON ss.id = r.shared_site_id
            ORDER BY r.id
            """
        )
    ).mappings()
    return [dict(r) for r in rows]


def _shared_properties(caller: Caller) -> features.Properties:
    props: features.Properties = [
        ("name", shared.c.properties["name"]),
        ("kind", shared.c.properties["kind"]),
        ("minerals", shared.c.properties["minerals"]),
        ("country", shared.c.properties["country"]),
        ("status", shared.c.properties["status"]),
        ("border_distance_m", shared.c.properties["border_distance_m"]),
        ("attributes", shared.c.properties),
        ("origin_node", shared.c.origin_node),
        ("origin_id", shared.c.origin_id),
        ("origin_version", shared.c.origin_version),
        ("fetched_at", shared.c.fetched_at),
        ("retired_at", shared.c.retired_at),
    ]
    if caller.may_read_restricted:
        country = shared.c.properties["country"].astext
        props.append(("restricted", features.restricted_for(caller, shared.c.restricted, country)))
    return props


SHARED_ID: ColumnElement[str] = func.concat(literal("shared-"), cast(shared.c.id, Text))

SHARED_SITES = features.FeatureSpec(
    table=shared,
    feature_id=SHARED_ID,
    unique_key=shared.c.id,
    geom=shared.c.geom,
    properties=_shared_properties,
    fields={
        "geometry": SqlField(shared.c.geom, "geometry"),
        "name": SqlField(shared.c.properties["name"].astext, "string"),
        "kind": SqlField(shared.c.properties["kind"].astext, "string"),
        "country": SqlField(shared.c.properties["country"].astext, "string"),
        "origin_node": SqlField(shared.c.origin_node, "string"),
        "origin_id": SqlField(shared.c.origin_id, "string"),
    },
)


def shared_page(
    session: Session,
    query: FeatureQuery,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
) -> FeaturePage:
    where = [*features.common_filters(SHARED_SITES, query), shared.c.retired_at.is_(None)]
    return features.fetch_page(session, SHARED_SITES, where, request, caller, count_cap=count_cap)


def shared_feature(session: Session, feature_id: str, caller: Caller) -> str | None:
    number = feature_id.removeprefix("shared-")
    if not (feature_id.startswith("shared-") and number.isdigit() and len(number) < 19):
        return None
    by_key = [shared.c.id == int(number)]  # the primary key, not the id expression
    return features.fetch_one(session, SHARED_SITES, feature_id, caller, by_key, by_id=False)


def shared_extent(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(
        features.select_extent(shared.c.geom).where(shared.c.retired_at.is_(None))
    ).one_or_none()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
