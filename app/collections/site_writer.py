"""The write capability of ``sites`` (OGC API - Features Part 4): create, replace (PUT),
update (PATCH, JSON Merge Patch) and retire (DELETE: kept with its reason, never erased).

A site's entity tag is its row version, which the database bumps on every write
(``sites_row_version`` trigger, migration 0008): ``"v12"``, or ``"v12-r"`` for the
representation that carries restricted attributes (admins, authorities), since two
representations of one state must not share a strong tag. Either matches in ``If-Match``.
"""

from __future__ import annotations

import re
from typing import Any

from app.collections.base import IfMatch, Item, WriteContext, Writer, Written
from app.collections.site_bodies import site_draft
from app.db import sites as site_repo
from app.queries import Caller
from app.services import site_edits
from app.services.site_edits import CurrentSite, Precondition, WrittenSite
from app.services.sites import SiteDraft

OUR_TAG = re.compile(r"v([0-9]{1,18})(?:-r)?")


def site_etag(version: int, caller: Caller) -> str:
    """The ``ETag`` (quotes included) of a site at ``version`` as ``caller`` reads it."""
    restricted = "-r" if site_repo.site_extras(caller) else ""
    return f'"v{version}{restricted}"'


def precondition(if_match: IfMatch) -> Precondition:
    """Versions named by the tags; tags this server did not issue match nothing (412)."""
    if if_match.any_tag:
        return Precondition(any_version=True)
    matches = (OUR_TAG.fullmatch(tag) for tag in if_match.tags)
    return Precondition(frozenset(int(m.group(1)) for m in matches if m is not None))


def _written(site: WrittenSite, caller: Caller) -> Written:
    item = Item(site.feature_json, site_etag(site.version, caller))
    return Written(site.public_id, item, site.warnings)


class SitesWriter(Writer):
    def create(self, ctx: WriteContext, document: Any) -> Written:
        draft = site_draft(document)
        return _written(
            site_edits.create(ctx.session, ctx.boundaries, draft, ctx.caller), ctx.caller
        )

    def replace(
        self, ctx: WriteContext, feature_id: str, if_match: IfMatch, document: Any
    ) -> Written:
        """Members the document leaves out are reset, except ``source`` and ``restricted``
        (kept: researchers never see restricted attributes, so a read-change-write round
        trip must not erase them)."""

        def change(current: CurrentSite) -> SiteDraft:
            return site_draft(document, base=current.draft, feature_id=feature_id)

        return self._edit(ctx, feature_id, if_match, change)

    def update(self, ctx: WriteContext, feature_id: str, if_match: IfMatch, patch: Any) -> Written:
        def change(current: CurrentSite) -> SiteDraft:
            merged = site_edits.apply_merge_patch(current.document, patch)
            return site_draft(merged, feature_id=feature_id)

        return self._edit(ctx, feature_id, if_match, change)

    def delete(self, ctx: WriteContext, feature_id: str, if_match: IfMatch, reason: str) -> Written:
        retired = site_edits.retire_site(
            ctx.session, feature_id, precondition(if_match), reason, ctx.caller
        )
        return _written(retired, ctx.caller)

    @staticmethod
    def _edit(
        ctx: WriteContext, feature_id: str, if_match: IfMatch, change: site_edits.Change
    ) -> Written:
        edited = site_edits.edit_site(
            ctx.session, ctx.boundaries, feature_id, precondition(if_match), change, ctx.caller
        )
        return _written(edited, ctx.caller)


WRITER = SitesWriter()
