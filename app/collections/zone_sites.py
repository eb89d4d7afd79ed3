"""Sites filtered by zone (``zone=``, ``in_zone=``): the zone refs resolved, the stored
classification brought up to date, then the sites page with one more condition."""

from __future__ import annotations

from app.collections.base import ReadContext
from app.collections.parsing import bad
from app.db import zones as zone_repo
from app.queries import FeaturePage, PageRequest, SiteQuery
from app.services import zones as zone_service


def page(ctx: ReadContext, query: SiteQuery, request: PageRequest) -> FeaturePage:
    """A page of sites inside (or outside) the zones asked; 400 naming an unknown zone."""
    found = zone_repo.known_zone_refs(ctx.session, query.zones) if query.zones else {}
    unknown = [ref for ref in query.zones if ref not in found]
    if unknown:
        raise bad("zone", f"no zone set or zone {unknown[0][:80]!r}", "unknown_filter_value")
    zone_service.ensure_current(ctx.session, ctx.open_writer)
    set_ids = sorted({public_id for kind, public_id in found.values() if kind == "set"})
    zone_ids = sorted({public_id for kind, public_id in found.values() if kind == "zone"})
    inside = query.in_zone if query.in_zone is not None else True
    return zone_repo.sites_page(
        ctx.session, query, set_ids, zone_ids, inside, request, ctx.caller, ctx.count_cap, ctx.crs
    )
