"""The alerts outbox: events are written by the change's own transaction, for the
subscriptions whose criteria match, once per site entering them, with what the subscriber
may see."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import alert_events
from app.db import outbox as outbox_repo
from app.errors import InvalidBody
from app.queries import Caller
from app.services import site_edits, subscriptions
from app.services.boundary_state import BoundarySet
from app.services.site_edits import Precondition
from app.services.sites import create_sites
from app.settings import Settings
from tests.support.alerts import key_caller as _caller
from tests.support.alerts import site_draft as _draft
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF


def _events(session: Session, public_id: str) -> list[dict[str, Any]]:
    """The subscription's events as its subscriber reads them (bodies built from the
    history entries they name)."""
    subscription_id = session.execute(
        text("SELECT id FROM subscriptions WHERE public_id = :p"), {"p": public_id}
    ).scalar_one()
    return [
        {"type": e.type, "payload": e.payload, "status": e.status}
        for e in alert_events.list_events(session, subscription_id, None, 0, 10_000)
    ]


def _subscribe(
    session: Session,
    settings: Settings,
    caller: Caller,
    criteria: dict[str, Any],
    events: list[str],
) -> str:
    record, _ = subscriptions.create(
        session,
        settings,
        caller,
        subscriptions.NewSubscription("watch", criteria, events, None),
    )
    return record.public_id


def test_created_sites_match_criteria_once(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    caller = _caller(session)
    cmr = _subscribe(session, settings, caller, {"country": "CMR"}, ["site.created"])
    gold = _subscribe(
        session, settings, caller, {"filter": "A_CONTAINS(minerals, ('gold'))"}, ["site.created"]
    )
    create_sites(
        session,
        boundaries,
        [
            _draft(*BATOURI_CMR, name="In CMR"),
            _draft(*BERBERATI_CAF, name="In CAF with gold", minerals=["gold"]),
        ],
        caller,
    )
    cmr_events = _events(session, cmr)
    assert [e["payload"]["data"]["properties"]["name"] for e in cmr_events] == ["In CMR"]
    assert cmr_events[0]["type"] == "site.created"
    assert cmr_events[0]["status"] == "stream"  # no webhook: SSE only
    assert [e["payload"]["data"]["properties"]["name"] for e in _events(session, gold)] == [
        "In CAF with gold"
    ]


def test_a_site_moved_into_the_criteria_enters_once(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    caller = _caller(session, "admin")
    [created] = create_sites(session, boundaries, [_draft(*BERBERATI_CAF, name="Mover")], caller)
    public_id = _subscribe(session, settings, caller, {"country": "CMR"}, ["site.entered"])
    assert _events(session, public_id) == []

    def move_to(lon: float, lat: float) -> None:
        site_edits.edit_site(
            session,
            boundaries,
            created.public_id,
            Precondition(any_version=True),
            lambda current: current.draft.__class__(
                **{**current.draft.__dict__, "lon": lon, "lat": lat}
            ),
            caller,
        )

    move_to(*BATOURI_CMR)
    move_to(BATOURI_CMR[0] + 0.001, BATOURI_CMR[1])  # still inside: not news
    [entered] = _events(session, public_id)
    assert entered["type"] == "site.entered"
    # the event is the site as its change left it, not as it is now
    assert entered["payload"]["data"]["geometry"]["coordinates"] == list(BATOURI_CMR)
    move_to(*BERBERATI_CAF)  # leaves
    move_to(*BATOURI_CMR)  # comes back: news again
    assert [e["type"] for e in _events(session, public_id)] == ["site.entered"] * 2


def test_events_whose_subscription_went_between_two_reads_are_left_out(
    session: Session, settings: Settings, boundaries: BoundarySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list reads its events, then their bodies: a subscription deleted (and purged) by
    another transaction between the two statements takes its events with it, and the list
    leaves them out (it answered 500, the stream broke off)."""
    caller = _caller(session, "admin")
    public_id = _subscribe(session, settings, caller, {"kind": "mine"}, ["site.created"])
    create_sites(session, boundaries, [_draft(*BATOURI_CMR, name="Gone")], caller)
    real = alert_events.event_bodies

    def vanished(session: Session, wanted: Any) -> dict[int, str]:
        # as a purge committed between the two reads would leave the table
        session.execute(text("DELETE FROM alert_events"))
        session.execute(text("DELETE FROM alert_event_groups"))
        return real(session, wanted)

    monkeypatch.setattr(alert_events, "event_bodies", vanished)
    assert alert_events.events_after(session, None, 0, 100) == []
    assert _events(session, public_id) == []


def test_restricted_attributes_only_for_who_may_see_them(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    scoped = _caller(session, "authority", ["CMR"])
    everywhere = _caller(session, "authority")
    narrow = _subscribe(session, settings, scoped, {"kind": "mine"}, ["site.created"])
    wide = _subscribe(session, settings, everywhere, {"kind": "mine"}, ["site.created"])
    secret = {"armed_group": "yes"}
    create_sites(
        session,
        boundaries,
        [
            _draft(*BATOURI_CMR, name="CMR", restricted=secret),
            _draft(*BERBERATI_CAF, name="CAF", restricted=secret),
        ],
        everywhere,
    )
    seen = {
        e["payload"]["data"]["properties"]["name"]: e["payload"]["data"]["properties"].get(
            "restricted"
        )
        for e in _events(session, narrow)
    }
    assert seen == {"CMR": secret, "CAF": None}
    assert all(
        e["payload"]["data"]["properties"]["restricted"] == secret for e in _events(session, wide)
    )
    # read together (an admin's stream), each event is still its own subscriber's view
    together = {
        (e.subscription, e.payload["data"]["properties"]["name"]): e.payload["data"][
            "properties"
        ].get("restricted")
        for e in alert_events.events_after(session, None, 0, 100)
    }
    assert together == {
        (narrow, "CMR"): secret,
        (narrow, "CAF"): None,
        (wide, "CMR"): secret,
        (wide, "CAF"): secret,
    }


def test_paused_subscriptions_get_nothing(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    caller = _caller(session)
    public_id = _subscribe(session, settings, caller, {}, ["site.created"])
    subscriptions.set_status(session, caller, public_id, "paused")
    create_sites(session, boundaries, [_draft(*BATOURI_CMR)], caller)
    assert _events(session, public_id) == []


@pytest.mark.parametrize(
    ("criteria", "named"),
    [
        ({"country": "XXX"}, "criteria.country"),
        ({"kind": "volcano"}, "criteria.kind"),
        ({"within_km": -3}, "criteria.within_km"),
        ({"filter": "nosuch = 1"}, "criteria.filter"),
        ({"filter": "((("}, "criteria.filter"),
        ({"colour": "red"}, "criteria.colour"),
        ({"kind": True}, "criteria.kind"),
    ],
)
def test_bad_criteria_are_named(
    session: Session, settings: Settings, criteria: dict[str, Any], named: str
) -> None:
    caller = _caller(session)
    with pytest.raises(InvalidBody) as raised:
        _subscribe(session, settings, caller, criteria, ["site.created"])
    assert raised.value.detail.startswith(named)


def test_sites_joining_a_cross_border_cluster(session: Session, settings: Settings) -> None:
    from app.services import clusters as cluster_service
    from tests.api.test_clusters import around, border_vertex, store

    caller = _caller(session, "admin")
    public_id = _subscribe(session, settings, caller, {}, ["cluster.joined"])
    spread = [(0, 0), (90, 1.5), (270, 1.5), (45, 2.0)]
    lon, lat = border_vertex(session, 5.0)
    first = set(store(session, around(lon, lat, "first", spread[:2])))  # 2: no cluster yet
    cluster_service.refresh(session)
    assert _events(session, public_id) == []
    later = set(store(session, around(lon, lat, "later", spread[2:])))  # now 4 together
    cluster_service.refresh(session)
    joined = {e["payload"]["data"]["id"] for e in _events(session, public_id)}
    assert joined == first | later
    assert {e["type"] for e in _events(session, public_id)} == {"cluster.joined"}
    store(session, around(lon + 0.3, lat, "far", spread[:1]))  # a far site changes nothing
    cluster_service.refresh(session)
    assert len(_events(session, public_id)) == len(joined)


def test_an_upload_tells_created_sites_from_known_ones_entering(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    """In an upload's events, ``site.created`` is only for the sites it created; a known site
    it re-observes into the criteria (gold reported this time) is ``site.entered``."""
    from app.services.ingest import UploadRequest, ingest

    caller = _caller(session, "admin")
    gold = _subscribe(
        session,
        settings,
        caller,
        {"mineral": "gold"},
        ["site.created", "site.entered", "upload.completed"],
    )
    first = b"name,lat,lon,kind,minerals\nOld pit,4.4330,14.3640,mine,diamond\n"
    ingest(session, boundaries, settings, UploadRequest(first, "first.csv"), caller)
    assert _events(session, gold) == []
    second = (
        b"name,lat,lon,kind,minerals\nOld pit,4.4330,14.3640,mine,gold\n"
        b"New pit,4.9000,14.9000,mine,gold\n"
    )
    outcome = ingest(session, boundaries, settings, UploadRequest(second, "second.csv"), caller)
    assert outcome.report["counts"]["sites_created"] == 1, outcome.report["counts"]
    found = sorted(
        (e["type"], e["payload"]["data"].get("properties", {}).get("name"))
        for e in _events(session, gold)
    )
    assert found == [
        ("site.created", "New pit"),
        ("site.entered", "Old pit"),
        ("upload.completed", None),
    ]
    # in sequence order (SSE, lists, batches), the upload's completion comes after its sites
    assert [e["type"] for e in _events(session, gold)][-1] == "upload.completed"


def test_merges_splits_retirements_and_restores_raise_their_events(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    """Curation changes sites too: a survivor taking a merged site's gold enters a gold
    subscription, a site a split creates is created, a retired site leaves the list and a
    restore brings it back in (they raised nothing)."""
    from app.services import curation
    from app.services.ingest import UploadRequest, ingest

    caller = _caller(session, "admin")
    gold = _subscribe(session, settings, caller, {"mineral": "gold"}, ["site.entered"])
    mines = _subscribe(session, settings, caller, {"kind": "mine"}, ["site.created"])
    [with_gold, plain] = create_sites(
        session,
        boundaries,
        [
            _draft(*BATOURI_CMR, name="Gold pit", minerals=["gold"]),
            _draft(BATOURI_CMR[0] + 0.01, BATOURI_CMR[1], name="Plain pit"),
        ],
        caller,
    )
    assert _events(session, gold) == []  # created before: not news to site.entered
    curation.merge(session, with_gold.public_id, plain.public_id, "one pit", caller)
    entered = [e["payload"]["data"]["id"] for e in _events(session, gold)]
    assert entered == [plain.public_id]

    visits = b"name,lat,lon,kind\nTwin,4.9,14.9,mine\nTwin,4.9,14.9,mine\n"
    outcome = ingest(session, boundaries, settings, UploadRequest(visits, "v.csv"), caller)
    [twin] = [
        e["payload"]["data"]["id"]
        for e in _events(session, mines)
        if e["payload"]["data"]["properties"]["name"] == "Twin"
    ]
    _, new = curation.split(session, boundaries, twin, [f"{outcome.upload_id}-3"], "two", caller)
    created = [e["payload"]["data"]["id"] for e in _events(session, mines)]
    assert created[-1] == new.public_id and created.count(new.public_id) == 1

    site_edits.retire_site(session, plain.public_id, Precondition(any_version=True), "x", caller)
    curation.restore(session, boundaries, plain.public_id, "back", caller)
    entered = [e["payload"]["data"]["id"] for e in _events(session, gold)]
    assert entered == [plain.public_id, plain.public_id]


def test_a_change_with_more_events_than_a_group_holds_writes_several_in_order(
    session: Session, settings: Settings, boundaries: BoundarySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change's events for one subscription go in groups of at most ``GROUP_MAX_EVENTS``,
    in the order the sites were written; a list pages through them across the groups."""
    monkeypatch.setattr(outbox_repo, "GROUP_MAX_EVENTS", 7)
    caller = _caller(session, "admin")
    public_id = _subscribe(session, settings, caller, {"kind": "mine"}, ["site.created"])
    drafts = [_draft(14.0 + i * 0.01, 4.0, name=f"N{i}") for i in range(30)]
    create_sites(session, boundaries, drafts, caller)
    sizes = session.execute(text("SELECT size FROM alert_event_groups ORDER BY id")).scalars()
    assert list(sizes) == [7, 7, 7, 7, 2]
    names = [e["payload"]["data"]["properties"]["name"] for e in _events(session, public_id)]
    assert names == [f"N{i}" for i in range(30)]
    subscription_id = session.execute(
        text("SELECT id FROM subscriptions WHERE public_id = :p"), {"p": public_id}
    ).scalar_one()
    whole = alert_events.list_events(session, subscription_id, None, 0, 100)
    paged: list[alert_events.EventRecord] = []
    after = 0
    while page := alert_events.list_events(session, subscription_id, None, after, 4):
        paged += page
        after = page[-1].id
    assert paged == whole and len({e.public_id for e in whole}) == 30
    assert [e.id for e in alert_events.events_after(session, None, whole[12].id, 5)] == [
        e.id for e in whole[13:18]
    ]
    assert alert_events.last_event_id(session) == whole[-1].id


def test_criteria_read_together_match_as_each_read_alone(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    """Subscriptions are evaluated in one pass over the changed sites (a border criterion
    too, as a probe of each site's distances); each gets the events it gets when its
    criteria are evaluated alone."""
    from app.services import outbox

    caller = _caller(session, "admin")
    criteria: list[dict[str, Any]] = [
        {"country": "CMR"},
        {"kind": "sales_point"},
        {"mineral": "gold"},
        {"filter": "country = 'CAF' AND kind = 'mine'"},
        {"within_km": 30},
        {"border": "CAF", "within_km": 25},
    ]
    for c in criteria:
        _subscribe(session, settings, caller, c, ["site.created"])
    drafts = [
        _draft(
            14.2 + (i % 8) * 0.15,
            4.0 + (i // 8) * 0.3,
            name=f"T{i}",
            kind="sales_point" if i % 3 == 0 else "mine",
            minerals=["gold"] if i % 2 == 0 else ["diamond"],
        )
        for i in range(40)
    ]
    create_sites(session, boundaries, drafts, caller)
    site_ids = list(session.execute(text("SELECT id FROM sites")).scalars())
    matchers = outbox.matchers(session)
    together = {
        m.subscription.public_id: sorted(
            e["payload"]["data"]["properties"]["name"]
            for e in _events(session, m.subscription.public_id)
        )
        for m in matchers
    }
    assert all(0 < len(names) < 40 for names in together.values()), together
    for matcher in matchers:
        nested = session.begin_nested()
        session.execute(text("DELETE FROM alert_event_groups"))
        outbox_repo.record_matches(session, [matcher], outbox_repo.created_sites(site_ids))
        public_id = matcher.subscription.public_id
        alone = sorted(
            e["payload"]["data"]["properties"]["name"] for e in _events(session, public_id)
        )
        nested.rollback()
        assert alone == together[public_id], matcher.subscription.criteria


@pytest.mark.parametrize(
    "criteria",
    [{"border": "CAF", "within_km": 25}, {"border": "CMR", "within_km": 60, "kind": "mine"}],
)
def test_a_border_criterion_on_one_row_finds_what_the_items_join_finds(
    session: Session, boundaries: BoundarySet, criteria: dict[str, Any]
) -> None:
    """A subscription tests a border criterion on each changed site (``row_filters``: a
    probe of its distances); the items read it as a join with the sites near that border.
    Both find the same sites."""
    from sqlalchemy import select

    from app.db import sites as site_repo
    from app.services import subscription_criteria

    caller = _caller(session, "admin")
    drafts = [
        _draft(14.0 + (i % 10) * 0.12, 4.0 + (i // 10) * 0.35, name=f"B{i}") for i in range(60)
    ]
    create_sites(session, boundaries, drafts, caller)
    query = subscription_criteria.parse(session, criteria)
    plan = site_repo.plan_query(query)
    joined = set(
        session.execute(
            select(site_repo.sites.c.name).select_from(plan.spec.table).where(*plan.where)
        ).scalars()
    )
    one_row = set(
        session.execute(
            select(site_repo.sites.c.name).where(*site_repo.row_filters(query))
        ).scalars()
    )
    assert one_row == joined
    assert 0 < len(joined) < 60


def test_a_border_criterion_at_a_sites_exact_distance_still_finds_it(
    session: Session, boundaries: BoundarySet
) -> None:
    """``row_filters`` spares the probe of a site whose nearest border is farther than asked
    (with 1 m of slack): a site exactly at the distance asked, to the nearest border or to
    another one, is found, and one a metre farther than its distance is not."""
    from sqlalchemy import select, text

    from app.db import sites as site_repo
    from app.services import subscription_criteria

    caller = _caller(session, "admin")
    create_sites(session, boundaries, [_draft(14.9, 4.6, name="Edge")], caller)
    rows = session.execute(
        text(
            "SELECT d.pair_code, d.distance_m, s.border_distance_m FROM site_border_distances d "
            "JOIN sites s ON s.id = d.site_id WHERE s.name = 'Edge' ORDER BY d.distance_m DESC"
        )
    ).all()
    assert len(rows) >= 2  # the nearest border and a farther one
    for pair_code, distance_m, nearest_m in rows:
        assert nearest_m <= distance_m
        for within_m, found in ((distance_m, True), (distance_m - 1.0, False)):
            query = subscription_criteria.parse(
                session, {"border": pair_code, "within_km": within_m / 1000}
            )
            names = set(
                session.execute(
                    select(site_repo.sites.c.name).where(*site_repo.row_filters(query))
                ).scalars()
            )
            assert ("Edge" in names) is found, (pair_code, within_m)
