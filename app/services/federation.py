"""Nodes that share: this node's changes feed, and pulling other nodes' changes.

Feed: ``GET /collections/sites/changes?since=T`` answers the sites written since change token
``T`` (retired ones included) up to ``until``, the token of the next sync, page by page
(``app.db.federation`` says why the token is a transaction horizon).

Pull: ``sync_peer`` reads a peer's feed page by page; each page is stored in ONE transaction
together with the cursor that says where to continue (the next page's URL, or, after the
last, the new ``since``). A sync killed half-way resumes at the first page it had not
committed; pages read twice are idempotent (upsert by origin), so nothing is duplicated.
Shared sites are their own collection; local sites are never touched; a local site within
``BORDERLENS_SITE_MATCH_DISTANCE_M`` of a shared one goes to the review queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
from sqlalchemy.orm import Session

from app.db import federation as federation_repo
from app.db.bulk import ewkt_point
from app.errors import AppError, InvalidParameter, NotFound
from app.queries import Caller
from app.settings import Settings

log = logging.getLogger(__name__)

FEED_COLLECTIONS = ("sites",)
COLLECTION_ID = re.compile(r"[a-z0-9_-]{1,64}")
PAGE_SIZE = 500
USER_AGENT = "borderlens-peer-sync/1"

SessionFactory = Callable[[], AbstractContextManager[Session]]


class PeerError(AppError):
    status, code, title = 502, "peer_error", "Peer node error"


# -- the feed ---------------------------------------------------------------------------------


def _token(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise InvalidParameter(f"{name}: a change token (a whole number)", code="invalid_token")
    return int(raw)


def _after(raw: str | None) -> tuple[int, int] | None:
    if raw is None:
        return None
    txid, _, row = raw.partition(".")
    if not (txid.isdigit() and row.isdigit() and len(txid) < 19 and len(row) < 19):
        raise InvalidParameter("after: the token of a `next` link", code="invalid_token")
    return int(txid), int(row)


def check_feed(collection: str) -> None:
    """``NotFound`` (404 ``no_changes_feed``) unless the collection has a changes feed."""
    if collection not in FEED_COLLECTIONS:
        raise NotFound(
            f"no changes feed for {collection[:64]!r}; feeds: {', '.join(FEED_COLLECTIONS)}",
            code="no_changes_feed",
        )


def changes_document(
    session: Session,
    caller: Caller,
    collection: str,
    base_url: str,
    params: dict[str, str | None],
    limit: int,
) -> dict[str, Any]:
    """One page of the changes feed as a FeatureCollection with ``since``, ``until`` and a
    ``next`` link (absolute) while more remain."""
    check_feed(collection)
    since = _token(params.get("since"), "since") or 0
    until = _token(params.get("until"), "until") or federation_repo.horizon(session)
    page = federation_repo.changes(
        session, caller, since, until, _after(params.get("after")), limit
    )
    document: dict[str, Any] = {
        "type": "FeatureCollection",
        "since": since,
        "until": until,
        "numberReturned": len(page.features_json),
        "features": [_json(text) for text in page.features_json],
    }
    if page.has_more and page.last_key is not None:
        query = urlencode(
            {
                "since": since,
                "until": until,
                "after": f"{page.last_key[0]}.{page.last_key[1]}",
                "limit": limit,
            }
        )
        document["next"] = f"{base_url}/collections/{collection}/changes?{query}"
    return document


def _json(text: str) -> Any:
    return orjson.loads(text)


def _time(value: Any) -> dt.datetime:
    """A retirement time from the feed; now when absent or unreadable."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC)


# -- peers ----------------------------------------------------------------------------------


def add_peer(session: Session, url: str, key: str | None, collections: list[str]) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InvalidParameter(f"{url!r}: the peer's base URL (http(s)://host[:port][/path])")
    if not collections or not all(
        c.replace("_", "").replace("-", "").isalnum() for c in collections
    ):
        raise InvalidParameter("collections: collection ids, comma-separated (e.g. sites)")
    peer_id = federation_repo.upsert_peer(session, url.rstrip("/"), key or None, collections)
    session.commit()
    return peer_id


def list_peers(session: Session) -> list[federation_repo.PeerRecord]:
    return federation_repo.list_peers(session)


def remove_peer(session: Session, url: str) -> None:
    if not federation_repo.remove_peer(session, url.rstrip("/")):
        raise NotFound(f"no peer {url!r}")
    session.commit()


@dataclass
class SyncReport:
    peer: str
    collection: str
    pages: int = 0
    features: int = 0
    reviews: int = 0


def _explain(peer: federation_repo.PeerRecord, response: httpx.Response) -> PeerError:
    try:
        problem = response.json()
        detail = f"{problem.get('code', '')}: {problem.get('detail', '')}".strip(": ")
    except ValueError:
        detail = response.text[:200]
    if response.status_code in (401, 403):
        hint = (
            f"the key given for it was refused; give another with `borderlens peers add "
            f"{peer.url} --key KEY`"
            if peer.api_key
            else f"it needs an API key of its own; add one with `borderlens peers add "
            f"{peer.url} --key KEY`"
        )
        return PeerError(
            f"peer {peer.url} answered {response.status_code} ({detail}): {hint}",
            code="peer_refused_key",
        )
    return PeerError(f"peer {peer.url} answered {response.status_code}: {detail}")


def _pages(
    client: httpx.Client, peer: federation_repo.PeerRecord, first_url: str
) -> Iterator[dict[str, Any]]:
    headers = {"Accept": "application/geo+json", "User-Agent": USER_AGENT}
    if peer.api_key:
        headers["Authorization"] = f"Bearer {peer.api_key}"
    url: str | None = first_url
    while url is not None:
        if not url.startswith(peer.url + "/"):  # never follow a link off the peer
            raise PeerError(f"peer {peer.url} sent a next link elsewhere: {url[:200]}")
        try:
            response = client.get(url, headers=headers)
        except httpx.HTTPError as error:
            raise PeerError(f"peer {peer.url} cannot be reached: {error}") from None
        if response.status_code != 200:
            raise _explain(peer, response)
        page = response.json()
        yield page
        url = page.get("next")


def _row(peer: federation_repo.PeerRecord, collection: str, feature: Any) -> dict[str, Any] | None:
    """A shared-site row from one feature of the feed (None: not a usable point feature)."""
    try:
        lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
        origin_id = str(feature["id"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    properties = dict(feature.get("properties") or {})
    restricted = properties.pop("restricted", None)
    retired = properties.get("status") == "retired"
    version = feature.get("version")
    return {
        "peer_id": peer.id,
        "collection": collection,
        "origin_node": peer.url,
        "origin_id": origin_id,
        "origin_version": version if isinstance(version, int) else None,
        "retired_at": _time(properties.get("retired_at")) if retired else None,
        "geom": ewkt_point(lon, lat),
        "properties": properties,
        "restricted": restricted if isinstance(restricted, dict) else None,
    }


def sync_peer(
    sessions: SessionFactory,
    settings: Settings,
    peer: federation_repo.PeerRecord,
    collection: str,
    page_size: int = PAGE_SIZE,
    client: httpx.Client | None = None,
) -> SyncReport:
    """Pull one collection of one peer from where the last sync stopped."""
    report = SyncReport(peer.url, collection)
    with sessions() as session:
        cursor = federation_repo.get_cursor(session, peer.id, collection)
    first = cursor.next_url or (
        f"{peer.url}/collections/{collection}/changes?"
        + urlencode({"since": cursor.since, "limit": page_size})
    )
    own = client is None
    http = client or httpx.Client(timeout=60, follow_redirects=False)
    try:
        for page in _pages(http, peer, first):
            rows = [r for f in page.get("features", []) if (r := _row(peer, collection, f))]
            with sessions() as session:
                ids = federation_repo.upsert_shared(session, rows)
                report.reviews += federation_repo.queue_reviews(
                    session, ids, settings.site_match_distance_m
                )
                following = page.get("next")
                since = cursor.since if following else int(page.get("until", cursor.since))
                federation_repo.set_cursor(session, peer.id, collection, since, following)
                session.commit()
            report.pages += 1
            report.features += len(rows)
    finally:
        if own:
            http.close()
    return report


def sync_all(
    sessions: SessionFactory, settings: Settings, page_size: int = PAGE_SIZE
) -> list[SyncReport | PeerError]:
    """Every peer, every collection; one peer failing does not stop the others."""
    with sessions() as session:
        peers = federation_repo.list_peers(session)
    results: list[SyncReport | PeerError] = []
    for peer in peers:
        error: str | None = None
        for collection in peer.collections:
            try:
                results.append(sync_peer(sessions, settings, peer, collection, page_size))
            except PeerError as failure:
                results.append(failure)
                error = failure.detail
        with sessions() as session:
            federation_repo.peer_synced(session, peer.id, error)
            session.commit()
    return results


def run_peer_sync(settings: Settings, stop: threading.Event, database_url: str) -> None:
    """The schedule inside ``serve``: pull from every peer every
    ``BORDERLENS_PEER_SYNC_INTERVAL_S`` seconds (0: never; ``borderlens peers sync`` then)."""
    if settings.peer_sync_interval_s <= 0:
        return
    from app.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        while not stop.wait(settings.peer_sync_interval_s):
            try:
                for result in sync_all(sessions, settings):
                    if isinstance(result, PeerError):
                        log.warning("peer sync: %s", result.detail)
            except Exception:
                log.exception("peer sync failed; trying again at the next interval")
    finally:
        engine.dispose()
