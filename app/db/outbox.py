"""The events outbox: the SQL writing alerts' events (subscriptions are in
``app.db.subscriptions``, reading events in ``app.db.alert_events``, the delivery worker's
SQL in ``app.db.deliveries``).

Events are written by ONE statement in the transaction of the change that causes them
(``record_matches``): the changed sites are matched against every active subscription's
criteria, the sites that were not yet known to match (``subscription_sites``) become
``site.created`` / ``site.entered`` events, and an upload gives each subscription with
matches one ``upload.completed`` event.

The outbox holds a row per change, subscription and type (``alert_event_groups``, up to
``GROUP_MAX_EVENTS`` events each), not per event: an upload of 10 000 sites with 10
subscriptions writes about twenty rows, where it wrote ~23 600. A site event is its group's
n-th history entry (``site_versions.id``: the whole site as its change left it); its body is
built from that entry when it is read or sent (``app.db.alert_events``), with the subscriber's
view of restricted attributes, so it is the same text at every try. Event ``n`` (from 0) of
group ``g`` has the id ``g * GROUP_SPAN + n`` (ordered as written) and the ``webhook-id`` of
the group's ``public_id`` followed by ``n`` in four hex digits (``msg_`` and 32 hex digits).
An event whose first try failed gets a row of its own in ``alert_events`` (same id), which
holds its retries and dead letter. Call it after the change's history entries are written.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    any_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSON, aggregate_order_by, insert
from sqlalchemy.orm import Session

from app.db.alert_models import (
    GROUP_MAX_EVENTS,
)
from app.db.models import Observation
from app.db.site_history import history
from app.db.subscriptions import (
    CLUSTER_JOINED,
    SITE_CREATED,
    SITE_ENTERED,
    UPLOAD_COMPLETED,
    Matcher,
    groups,
    sites,
    subscription_sites,
)

observations = typing.cast(Table, Observation.__table__)

#: Most site ids listed in one ``upload.completed`` event (the count is always whole).
UPLOAD_EVENT_MAX_SITES = 1000


# -- recording (one statement per change) ------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """The sites one change touched (``scope``) and which of them it created."""

    scope: ColumnElement[bool]
    created: ColumnElement[bool]


def upload_sites(upload_id: int) -> Changed:
    """The sites an upload created or matched.

    Each set is one array of site ids (an InitPlan, run once), not a semi-join: the upload's
    rows are not committed yet, so not analysed, and a planner misled by that can re-scan the
    upload's observations once per site."""

    def ids(*where: ColumnElement[bool]) -> Select[Any]:
        return select(observations.c.site_id).where(observations.c.upload_id == upload_id, *where)

    # ``created`` is a column, tested on every matched row: ``IN (subquery)`` there is a
    # hashed SubPlan (one probe per row), where ``= ANY(array)`` scans the array each time
    # (10 000 sites x 10 subscriptions x 10 000 ids: most of the statement's time).
    created = ids(observations.c.outcome == "created")
    return Changed(sites.c.id == any_(func.array(ids().scalar_subquery())), sites.c.id.in_(created))


def edited_site(site_id: int) -> Changed:
    return Changed(sites.c.id == site_id, literal(False, Boolean))


def created_sites(site_ids: Sequence[int]) -> Changed:
    return Changed(sites.c.id.in_(list(site_ids)), literal(True, Boolean))


def changed_sites(site_ids: Sequence[int], created: Sequence[int] = ()) -> Changed:
    """Sites one change rewrote (a merge, a split, a restore), ``created`` among them new."""
    return Changed(sites.c.id.in_(list(site_ids)), sites.c.id.in_(list(created) or [-1]))


def _latest_version(site_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The id of the site's last history entry (the one its change just wrote): one probe
    of ``ix_site_versions_site`` read backwards, whatever the planner thinks of the rows
    the change has just written (a join with the change's entries, misjudged as a handful
    of rows, became a nested loop over all of them for each matched site)."""
    return (
        select(history.c.id)
        .where(history.c.site_id == site_id)
        .order_by(history.c.site_id.desc(), history.c.dataset_version.desc(), history.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _matches(matcher: Matcher, changed: Changed) -> Select[Any]:
    sub = matcher.subscription
    wanted = set(sub.events)
    return select(
        literal(sub.id).label("subscription_id"),
        literal(sub.public_id, String).label("subscription"),
        sites.c.id.label("site_id"),
        sites.c.public_id.label("site"),
        changed.created.label("created"),
        literal(SITE_CREATED in wanted, Boolean).label("want_created"),
        literal(SITE_ENTERED in wanted, Boolean).label("want_entered"),
        literal(UPLOAD_COMPLETED in wanted, Boolean).label("want_upload"),
        literal(sub.webhook_url is not None, Boolean).label("webhook"),
        _latest_version(sites.c.id).label("version"),
    ).where(changed.scope, *matcher.where)


def _matches_together(matchers: Sequence[Matcher], changed: Changed) -> Select[Any]:
    """:func:`_matches` of several subscriptions in one pass over the changed sites: each
    site's answers to every subscription's criteria as one array, then a row per
    subscription it matches. A pass per subscription probed the changed sites' ids (10 000
    for an upload) in an index each time, and looked up the history entry of each match:
    with the alerts benchmark's 10 subscriptions, an upload's events statement took about
    half the time this way. A criterion near one border is a probe of the site's distances
    (``app.db.sites.row_filters``), not a join: the join read every site near that border,
    a pass of its own that grew with the table."""
    answers = postgresql.array([func.coalesce(and_(*m.where), false()) for m in matchers])
    # OFFSET 0: computed once a site, not once a site and subscription (a subquery pulled
    # up would evaluate the array in the join's condition, for each pair)
    scan = (
        select(
            sites.c.id.label("site_id"),
            sites.c.public_id.label("site"),
            changed.created.label("created"),
            _latest_version(sites.c.id).label("version"),
            answers.label("answers"),
        )
        .where(changed.scope)
        .offset(0)
        .subquery("scan")
    )

    def column(values: list[Any], kind: Any, name: str) -> Any:
        return func.unnest(literal(values, ARRAY(kind))).label(name)

    subs = [m.subscription for m in matchers]
    wanted = [set(sub.events) for sub in subs]
    subscribed = select(
        column([sub.id for sub in subs], BigInteger, "subscription_id"),
        column([sub.public_id for sub in subs], Text, "subscription"),
        column([SITE_CREATED in w for w in wanted], Boolean, "want_created"),
        column([SITE_ENTERED in w for w in wanted], Boolean, "want_entered"),
        column([UPLOAD_COMPLETED in w for w in wanted], Boolean, "want_upload"),
        column([sub.webhook_url is not None for sub in subs], Boolean, "webhook"),
        func.generate_series(1, len(subs)).label("k"),
    ).subquery("subscribed")
    return select(
        subscribed.c.subscription_id,
        subscribed.c.subscription,
        scan.c.site_id,
        scan.c.site,
        scan.c.created,
        subscribed.c.want_created,
        subscribed.c.want_entered,
        subscribed.c.want_upload,
        subscribed.c.webhook,
        scan.c.version,
    ).select_from(scan.join(subscribed, scan.c.answers[subscribed.c.k]))


def envelope_text(
    kind: ColumnElement[Any],
    subscription: ColumnElement[Any],
    data: ColumnElement[str],
    at: ColumnElement[Any],
) -> ColumnElement[str]:
    """The webhook body, as Standard Webhooks suggests: ``{"type", "timestamp",
    "subscription", "data"}``, ``data`` being JSON text (a feature as the items serve it),
    ``at`` the event's time (UTC, microseconds).

    Written as text (stored as ``json``: checked, kept as it is), not built as ``jsonb``:
    parsing and storing each feature as ``jsonb`` cost a third of an upload's events
    statement, and the text is what is sent (and sent again, byte for byte)."""
    stamp = func.to_char(at.op("AT TIME ZONE")("UTC"), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return func.concat(
        literal('{"type":', String),
        cast(func.to_json(kind), Text),
        literal(',"timestamp":', String),
        cast(func.to_json(stamp), Text),
        literal(',"subscription":', String),
        cast(func.to_json(subscription), Text),
        literal(',"data":', String),
        data,
        literal("}", String),
    )


def _envelope(
    kind: ColumnElement[Any], subscription: ColumnElement[Any], data: ColumnElement[str]
) -> ColumnElement[Any]:
    """:func:`envelope_text` of an event written now, as the stored ``json``."""
    return cast(envelope_text(kind, subscription, data, func.now()), JSON)


def _case_status(webhook: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((webhook, literal("pending")), else_=literal("stream"))


def record_matches(
    session: Session,
    matchers: Sequence[Matcher],
    changed: Changed,
    upload_public_id: str | None = None,
) -> None:
    """Write the events of one change, in ONE statement, in the caller's transaction.

    ``changed``: the changed sites. Every active subscription's criteria are evaluated over
    them; a created site matching is a ``site.created`` event. For a subscription to
    ``site.entered``, a matching site not yet in ``subscription_sites`` is added there and
    becomes a ``site.created`` (inserted by this transaction) or ``site.entered`` event; a
    listed site no longer matching is removed (so it fires again when it comes back). With
    ``upload_public_id``, each subscription with matches also gets one ``upload.completed``.
    """
    if not matchers:
        return
    if len(matchers) > 1:
        cur = _matches_together(matchers, changed).cte("cur")
    else:
        cur = _matches(matchers[0], changed).cte("cur")
    # Only subscriptions that ask for ``site.entered`` need to know which sites matched
    # before (the events of a subscription never change); the others are spared those rows.
    tracked = [m.subscription.id for m in matchers if SITE_ENTERED in m.subscription.events]
    fresh = (
        insert(subscription_sites)
        .from_select(
            ["subscription_id", "site_id"],
            select(cur.c.subscription_id, cur.c.site_id).where(cur.c.want_entered),
        )
        .on_conflict_do_nothing()
        .returning(subscription_sites.c.subscription_id, subscription_sites.c.site_id)
        .cte("fresh")
    )
    gone = (
        delete(subscription_sites)
        .where(
            subscription_sites.c.subscription_id.in_(tracked),
            subscription_sites.c.site_id.in_(select(sites.c.id).where(changed.scope)),
            ~exists().where(
                cur.c.subscription_id == subscription_sites.c.subscription_id,
                cur.c.site_id == subscription_sites.c.site_id,
            ),
        )
        .returning(subscription_sites.c.site_id)
        .cte("gone")
    )
    kind = _case_created(cur.c.created)
    values = (
        cur.c.subscription_id.label("subscription_id"),
        kind.label("type"),
        cur.c.version.label("version"),
        cur.c.webhook.label("webhook"),
    )
    # created sites of the untracked: each is new, so each is news once
    untracked_rows = select(*values).where(cur.c.created, cur.c.want_created, ~cur.c.want_entered)
    # the tracked: news when not listed before (created, or entered by a move or an edit)
    tracked_rows = (
        select(*values)
        .select_from(
            cur.join(
                fresh,
                and_(
                    fresh.c.subscription_id == cur.c.subscription_id,
                    fresh.c.site_id == cur.c.site_id,
                ),
            )
        )
        .where(or_(and_(cur.c.created, cur.c.want_created), ~cur.c.created))
    )
    site_groups = (
        insert(groups)
        .from_select(_GROUP_COLUMNS, _grouped(union_all(untracked_rows, tracked_rows)))
        .returning(groups.c.id)
        .cte("site_groups")
    )
    if upload_public_id is None:
        statement = select(func.count()).select_from(site_groups).add_cte(fresh, gone)
        session.execute(statement)
        return
    upload_kind = literal(UPLOAD_COMPLETED, String)
    data = func.json_build_object(
        "upload",
        literal(upload_public_id, String),
        "sites_matched",
        func.count(),
        "sites",
        func.to_json(
            func.array_agg(aggregate_order_by(cur.c.site, cur.c.site))[1:UPLOAD_EVENT_MAX_SITES]
        ),
    )
    # the site events first (an InitPlan over them runs before any upload row is made), so
    # an upload's completion follows its sites in sequence order (SSE, lists, batches)
    site_events_done = select(func.count()).select_from(site_groups).scalar_subquery() >= 0
    upload_rows = (
        select(
            cur.c.subscription_id,
            upload_kind,
            _envelope(upload_kind, func.min(cur.c.subscription), cast(data, Text)),
            literal(1),
            _case_status(func.bool_or(cur.c.webhook)),
        )
        .where(cur.c.want_upload, site_events_done)
        .group_by(cur.c.subscription_id)
    )
    statement_insert = insert(groups).from_select(
        ["subscription_id", "type", "payload", "size", "status"], upload_rows
    )
    session.execute(statement_insert.add_cte(fresh, gone, site_groups))


#: The columns :func:`_grouped` fills, in its order.
_GROUP_COLUMNS = ["subscription_id", "type", "site_version_ids", "size", "status"]


def _grouped(rows: Any) -> Select[Any]:
    """Site events (``rows``: ``subscription_id``, ``type``, ``version``, ``webhook``) as
    groups of up to ``GROUP_MAX_EVENTS`` of one subscription and type, their history entries
    in the order they were written; the groups in order of subscription and type.

    One sorted array per subscription and type, cut into slices: numbering the events with
    a window to cut them sorted them three times (for the window, for the chunks, inside
    each chunk's aggregate), a fifth of an upload's events statement."""
    event = rows.subquery("event")
    whole = (
        select(
            event.c.subscription_id,
            event.c.type,
            func.array_agg(aggregate_order_by(event.c.version, event.c.version)).label("versions"),
            func.bool_or(event.c.webhook).label("webhook"),
        )
        .group_by(event.c.subscription_id, event.c.type)
        .subquery("whole")
    )
    size = func.cardinality(whole.c.versions)
    last_chunk = cast(func.div(size - 1, GROUP_MAX_EVENTS), Integer)
    chunk = func.generate_series(0, last_chunk).table_valued("n").render_derived().lateral("chunk")
    first = chunk.c.n * GROUP_MAX_EVENTS
    return (
        select(
            whole.c.subscription_id,
            whole.c.type,
            whole.c.versions[first + 1 : first + GROUP_MAX_EVENTS],
            func.least(size - first, GROUP_MAX_EVENTS),
            _case_status(whole.c.webhook),
        )
        .select_from(whole.join(chunk, true()))
        .order_by(whole.c.subscription_id, whole.c.type, chunk.c.n)
    )


def _case_created(created: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((created, literal(SITE_CREATED)), else_=literal(SITE_ENTERED))


def record_cluster_joins(
    session: Session, matchers: Sequence[Matcher], site_ids: Sequence[int]
) -> None:
    """``cluster.joined`` events: these sites just joined a cross-border cluster (each event
    the site as its last change left it)."""
    if not matchers or not site_ids:
        return
    scope = sites.c.id.in_(list(site_ids))
    kind = literal(CLUSTER_JOINED, String)
    rows = [
        select(
            literal(m.subscription.id).label("subscription_id"),
            kind.label("type"),
            _latest_version(sites.c.id).label("version"),
            literal(m.subscription.webhook_url is not None, Boolean).label("webhook"),
        ).where(scope, *m.where)
        for m in matchers
        if CLUSTER_JOINED in m.subscription.events
    ]
    if rows:
        chosen = rows[0] if len(rows) == 1 else union_all(*rows)
        session.execute(insert(groups).from_select(_GROUP_COLUMNS, _grouped(chosen)))


def cross_border_joins(session: Session, run_id: int, previous_run_id: int) -> list[int]:
    """Sites in a cross-border cluster of run ``run_id`` that were in none in the previous
    run (with the same parameters)."""
    rows = session.execute(
        text(
            """
            SELECT m.site_id FROM cluster_members m
            JOIN clusters c ON c.run_id = m.run_id AND c.cluster_id = m.cluster_id
            WHERE m.run_id = :run AND c.cross_border
            EXCEPT
            SELECT m.site_id FROM cluster_members m
            JOIN clusters c ON c.run_id = m.run_id AND c.cluster_id = m.cluster_id
            WHERE m.run_id = :previous AND c.cross_border
            """
        ),
        {"run": run_id, "previous": previous_run_id},
    )
    return [int(site_id) for site_id in rows.scalars()]
