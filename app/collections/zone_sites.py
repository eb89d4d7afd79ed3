"""Sites filtered by zone (``zone=``, ``in_zone=``): the zone refs resolved, the stored
classification brought up to date, then the sites page with one more condition."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.collections.base import ReadContext, SessionFactory
from app.collections.parsing import bad
from app.db import zones as zone_repo
from app.queries import FeaturePage, PageRequest, SiteQuery
from app.services import zones as zone_service


def selection(
    session: Session, open_writer: SessionFactory | None, query: SiteQuery
) -> zone_repo.ZoneSelection | None:
    """The zones a site query asks for (None: no zone filter); 400 naming an unknown zone.
    Sites that moved or appeared since their classification are classified first."""
    if not query.zones and query.in_zone is None:
        return None
    found = zone_repo.known_zone_refs(session, query.zones) if query.zones else {}
    unknown = [ref for ref in query.zones if ref not in found]
    if unknown:
        raise bad("zone", f"no zone set or zone {unknown[0][:80]!r}", "unknown_filter_value")
    zone_service.ensure_current(session, open_writer)
    return zone_repo.ZoneSelection(
        set_ids=tuple(sorted({pid for kind, pid in found.values() if kind == "set"})),
        zone_ids=tuple(sorted({pid for kind, pid in found.values() if kind == "zone"})),
        inside=query.in_zone if query.in_zone is not None else True,
    )


def page(ctx: ReadContext, query: SiteQuery, request: PageRequest) -> FeaturePage:
    """A page of sites inside (or outside) the zones asked."""
    chosen = selection(ctx.session, ctx.open_writer, query)
    assert chosen is not None
    return zone_repo.sites_page(
        ctx.session, query, chosen, request, ctx.caller, ctx.count_cap, ctx.crs
    )
