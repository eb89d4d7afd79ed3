"""The outbox keeps a row per change and subscription (a group of its events): workers in
separate sessions take each event once, an event whose first try failed leaves its group for
a row of its own with the same id (events written before groups: test_alert_groups_migration)."""

from __future__ import annotations

import subprocess
import time

from sqlalchemy import text

from app.db import alert_events, deliveries
from app.db.alert_models import GROUP_SPAN
from app.services.sites import SiteDraft, create_sites
from tests.support.alerts import Node
from tests.support.webhooks import Receiver


def _drafts(count: int, name: str) -> list[SiteDraft]:
    return [
        SiteDraft(kind="mine", name=f"{name}{i}", lon=14.0 + i * 0.001, lat=4.2)
        for i in range(count)
    ]


def test_a_change_writes_a_group_per_subscription_and_type(node: Node, receiver: Receiver) -> None:
    caller = node.caller("admin")
    single, _ = node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    stream, _ = node.subscribe(caller, {"kind": "mine"}, ["site.created"], None)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(30, "G"), caller)
        session.commit()
        rows = session.execute(
            text(
                "SELECT s.public_id, g.type, g.size, g.status, g.sent FROM alert_event_groups g "
                "JOIN subscriptions s ON s.id = g.subscription_id ORDER BY g.id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (single, "site.created", 30, "pending", 0),
        (stream, "site.created", 30, "stream", 0),
    ]
    assert node.statuses(single) == {"pending": 30}
    assert node.statuses(stream) == {"stream": 30}


def test_workers_in_two_sessions_take_each_event_once(node: Node, receiver: Receiver) -> None:
    """A worker holding a group's next events keeps the other from them (it takes nothing
    of that group); once it has committed, the other takes the events after them, not the
    same again. (Under load, the thousand-site delivery test of test_alerts_delivery.py
    caught the race this relies on: a group locked in a subquery and read by the outer
    query from the statement's snapshot sent ~20 events twice.)"""
    caller = node.caller("admin")
    node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(150, "W"), caller)
        session.commit()
    with node.sessions() as first, node.sessions() as second:
        taken = deliveries.lock_due(first, 20)  # first tries: 5 x 20 messages
        assert len(taken) == 100 and {d.attempts for d in taken} == {0}
        assert deliveries.lock_due(second, 20) == []  # the group is held
        deliveries.mark_delivered(first, taken)
        deliveries.advance_groups(first, taken)
        first.commit()
        after = deliveries.lock_due(second, 20)
        assert [d.id for d in after] == [taken[-1].id + 1 + i for i in range(50)]
        second.rollback()


def test_each_event_says_when_its_own_take_went(node: Node, receiver: Receiver) -> None:
    """A group's events taken in two rounds say the time of their own round, not both the
    time of the last one (all of a group's events showed its last take's time)."""
    caller = node.caller("admin")
    public_id, _ = node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(150, "T"), caller)
        session.commit()
    for _ in range(2):
        with node.sessions() as session:
            taken = deliveries.lock_due(session, 20)  # 100, then the other 50
            deliveries.mark_delivered(session, taken)
            deliveries.advance_groups(session, taken)
            session.commit()
    with node.sessions() as session:
        subscription_id = session.execute(
            text("SELECT id FROM subscriptions WHERE public_id = :p"), {"p": public_id}
        ).scalar_one()
        listed = alert_events.list_events(session, subscription_id, None, 0, 1000)
    assert [e.status for e in listed] == ["delivered"] * 150
    first, second = listed[0].delivered_at, listed[-1].delivered_at
    assert first is not None and second is not None and first < second
    assert [e.delivered_at for e in listed] == [first] * 100 + [second] * 50


def test_a_later_group_waits_for_the_earlier_one_another_worker_holds(
    node: Node, receiver: Receiver
) -> None:
    """A subscription's groups go in the order they were written: while one worker holds
    its first group, another takes nothing of its second (it took it, and an upload's
    completion went out before its sites)."""
    caller = node.caller("admin")
    node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(150, "E"), caller)
        create_sites(session, node.boundaries(session), _drafts(3, "L"), caller)
        session.commit()
    with node.sessions() as first, node.sessions() as second:
        taken = deliveries.lock_due(first, 20)
        assert len({d.group_id for d in taken}) == 1 and len(taken) == 100
        assert deliveries.lock_due(second, 20) == []
        first.rollback()
        # the first group taken whole: the second follows it in the same round
        everything = deliveries.lock_due(second, 200)
        assert len(everything) == 153 and len({d.group_id for d in everything}) == 2
        assert [d.id for d in everything] == sorted(d.id for d in everything)
        second.rollback()


def test_batched_subscriptions_groups_are_taken_together_in_the_order_written(
    node: Node, receiver: Receiver
) -> None:
    """A round takes the groups of subscriptions taking batches several at a time (a
    statement locks at most one group of each subscription, the next one the groups after
    those): every subscription's two groups in one round, each subscription's events in the
    order written. One whose batch is full with its first group's events takes nothing of
    its second (a round takes up to ``BATCHES_PER_ROUND`` batches of a subscription), and
    another worker takes nothing of any while they are held."""
    caller = node.caller("admin")
    roomy = [
        node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url, 50)[0]
        for _ in range(3)
    ]
    # batches of 2: a round takes 4 x 2 of its first group's 10 events
    tight, _ = node.subscribe(caller, {"kind": "mine"}, ["site.created"], receiver.url, 2)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(10, "A"), caller)
        session.commit()
        create_sites(session, node.boundaries(session), _drafts(5, "B"), caller)
        session.commit()
    with node.sessions() as first, node.sessions() as second:
        taken = deliveries.lock_due(first, 20)
        by_subscription: dict[str, list[deliveries.Delivery]] = {}
        for delivery in taken:
            by_subscription.setdefault(delivery.subscription, []).append(delivery)
        for public_id in roomy:
            mine = by_subscription[public_id]
            assert len(mine) == 15 and len({d.group_id for d in mine}) == 2
            assert [d.id for d in mine] == sorted(d.id for d in mine)
        assert len(by_subscription[tight]) == deliveries.BATCHES_PER_ROUND * 2 == 8
        assert len({d.group_id for d in by_subscription[tight]}) == 1
        assert deliveries.lock_due(second, 20) == []
        first.rollback()
        second.rollback()


def test_a_groups_messages_go_side_by_side(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    """One worker sends a group (it holds it), several of its messages at once: to a
    receiver taking 0.2 s an answer, 40 events go out more than one at a time, each once."""
    receiver.delay_s = 0.2
    caller = node.caller("admin")
    node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(40, "P"), caller)
        session.commit()
    workers.append(node.worker())
    got = receiver.wait_for(40)
    assert len({r.id for r in got}) == len(got) == 40
    assert receiver.max_in_flight > 1


def test_a_failed_first_try_gives_the_event_its_own_row(node: Node, receiver: Receiver) -> None:
    caller = node.caller("admin")
    subscription, _ = node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        create_sites(session, node.boundaries(session), _drafts(5, "F"), caller)
        session.commit()
    with node.sessions() as worker:
        taken = deliveries.lock_due(worker, 20)
        assert len(taken) == 5 and {d.payload for d in taken} == {b""}  # read apart
        assert deliveries.fill_payloads(worker, taken)
        deliveries.mark_delivered(worker, taken[:2])
        deliveries.mark_failed(worker, [(taken[2], 60.0)], "HTTP 503")
        deliveries.mark_failed(worker, [(d, None) for d in taken[3:]], "HTTP 410")
        deliveries.advance_groups(worker, taken)
        worker.commit()
    assert node.statuses(subscription) == {"delivered": 2, "pending": 1, "dead": 2}
    with node.sessions() as session:
        subscription_id = session.execute(
            text("SELECT id FROM subscriptions WHERE public_id = :p"), {"p": subscription}
        ).scalar_one()
        listed = alert_events.list_events(session, subscription_id, None, 0, 100)
        dead = alert_events.list_events(session, subscription_id, "dead", 0, 100)
        own = session.execute(text("SELECT id, public_id FROM alert_events ORDER BY id")).all()
        group = session.execute(text("SELECT status, sent FROM alert_event_groups")).one()
    assert [(e.id, e.public_id) for e in listed] == [(d.id, d.public_id) for d in taken]
    assert [(e.status, e.attempts, e.last_error) for e in listed] == [
        ("delivered", 1, None),
        ("delivered", 1, None),
        ("pending", 1, "HTTP 503"),
        ("dead", 1, "HTTP 410"),
        ("dead", 1, "HTTP 410"),
    ]
    assert [e.public_id for e in dead] == [d.public_id for d in taken[3:]]
    # the same body as at the first try, whichever row it is read from
    assert [e.payload for e in listed] == [orjson_loads(d.payload) for d in taken]
    assert [tuple(r) for r in own] == [(d.id, d.public_id) for d in taken[2:]]
    assert tuple(group) == ("delivered", 5)
    assert {d.id // GROUP_SPAN for d in taken} == {taken[0].group_id}


def orjson_loads(body: bytes) -> object:
    import orjson

    return orjson.loads(body)


def test_a_run_side_by_side_is_one_groups_single_events() -> None:
    """Up to PARALLEL_SENDS single events of one group go at once; a group after another,
    a batch or a retry goes alone, in order."""
    import datetime as dt

    from app.services import delivery

    def message(event_id: int, group_id: int | None, batch_max: int = 1) -> delivery.Message:
        one = deliveries.Delivery(
            event_id,
            f"msg_{event_id:032x}",
            0 if group_id else 1,
            b"{}",
            dt.datetime.now(dt.UTC),
            1,
            "SUB-1",
            "http://127.0.0.1:9/h",
            "whsec_AAAA",
            batch_max,
            group_id,
        )
        return delivery.Message((one,))

    queue = [message(7 * GROUP_SPAN + n, 7) for n in range(20)]
    queue += [message(8 * GROUP_SPAN + n, 8) for n in range(3)]
    queue += [message(5 * GROUP_SPAN, None), message(9 * GROUP_SPAN, 9, batch_max=50)]
    runs = []
    position = 0
    while position < len(queue):
        run = delivery.side_by_side(queue, position)
        runs.append(len(run))
        position += len(run)
    assert runs == [delivery.PARALLEL_SENDS, 20 - delivery.PARALLEL_SENDS, 3, 1, 1]


def test_bodies_read_beside_the_sends_hold_back_what_they_miss(node: Node) -> None:
    """A round's bodies are read a subscription at a time while the others are sent
    (``send_all`` with ``read``): a subscription whose bodies are not all found sends
    nothing and has no outcome (its events stay due); a read that fails fails the round,
    after the subscriptions read before it were sent."""
    import asyncio
    import datetime as dt

    import httpx
    import pytest

    from app.services import delivery

    settings = node.settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})
    worker = delivery.DeliveryWorker(settings, node.url)

    def message(subscription_id: int, n: int) -> delivery.Message:
        event_id = 7 * GROUP_SPAN + n
        one = deliveries.Delivery(
            event_id,
            f"msg_{event_id:032x}",
            0,
            b"",
            dt.datetime.now(dt.UTC),
            subscription_id,
            f"SUB-{subscription_id}",
            "http://127.0.0.1:9/h",  # nothing listens: each try fails at once
            "whsec_AAAA",
            1,
            7,
        )
        return delivery.Message((one,))

    queue = [message(1, 0), message(2, 1), message(1, 2), message(3, 3)]
    read: list[int] = []

    def missing_for_2(events: list[deliveries.Delivery]) -> bool:
        read.append(events[0].subscription_id)
        for event in events:
            event.payload = b"{}"
        return events[0].subscription_id != 2

    async def run(reader: object) -> list[tuple[delivery.Message, str | None]]:
        async with httpx.AsyncClient() as client:
            return await worker.send_all(client, queue, time.monotonic() + 60, reader)  # type: ignore[arg-type]

    outcomes = asyncio.run(run(missing_for_2))
    assert read == [1, 2, 3]  # in order of their oldest message
    assert [m.first.id % GROUP_SPAN for m, _ in outcomes] == [0, 2, 3]
    assert all(error is not None for _, error in outcomes)  # tried (and refused)

    def failing_at_2(events: list[deliveries.Delivery]) -> bool:
        if events[0].subscription_id == 2:
            raise RuntimeError("the database went away")
        return missing_for_2(events)

    read.clear()
    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(run(failing_at_2))
    assert read == [1]
