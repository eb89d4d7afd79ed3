"""Alerts end to end: sites created by real uploads and edits on a committed database, a real
``borderlens worker`` process delivering to a real HTTP receiver on 127.0.0.1, signatures
verified with the Standard Webhooks reference library; the worker killed with SIGKILL in the
middle of delivery; a receiver down for a while; one that always fails."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.services import delivery, site_edits, subscriptions
from app.services.ingest import UploadRequest, ingest
from app.services.site_edits import Precondition
from app.services.sites import SiteDraft, create_sites
from app.settings import Settings
from tests.support.alerts import Node
from tests.support.webhooks import Dripper, Received, Receiver, verified

pytestmark = pytest.mark.slow


def _grid_csv(
    rows: int, lon0: float, lat0: float, step: float, start: int, gold_every: int
) -> bytes:
    """Sites on a grid (``step`` degrees apart: no two are one place), every ``gold_every``
    with gold; names unique across the test."""
    lines = ["name,lat,lon,kind,minerals"]
    side = int(rows**0.5) + 1
    for i in range(rows):
        mineral = "gold" if i % gold_every == 0 else "diamond"
        lon, lat = lon0 + (i % side) * step, lat0 + (i // side) * step
        lines.append(f"Site {start + i},{lat:.6f},{lon:.6f},mine,{mineral}")
    return ("\n".join(lines) + "\n").encode()


def _failed_with(last_error: str | None, error: str) -> bool:
    """The event failed with ``error``: its own try, or (a message after it in the same
    round) not sent because its receiver had just failed so."""
    return last_error == error or (
        last_error is not None
        and last_error.startswith("not sent: the receiver failed ")
        and last_error.endswith(f" just before ({error})")
    )


def _by_subscription(received: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {}
    for r in received:
        found.setdefault(r.payload["subscription"], []).append(r)
    return found


def test_a_thousand_sites_from_uploads_and_edits_arrive_exactly(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    admin = node.caller("admin")
    cmr, cmr_secret = node.subscribe(
        admin, {"country": "CMR"}, ["site.created", "site.entered"], receiver.url
    )
    gold, gold_secret = node.subscribe(
        admin, {"mineral": "gold"}, ["upload.completed"], receiver.url
    )
    workers.append(node.worker())
    # 900 sites from three uploads over the CMR-CAF border, 100 created one by one (POST)
    # in CAF, 40 of which are then moved into Cameroon (PUT).
    gold_per_upload = []
    with node.sessions() as session:
        boundaries = node.boundaries(session)
        for n in range(3):
            data = _grid_csv(300, 14.2 + n * 0.9, 4.0, 0.05, n * 300, gold_every=7)
            outcome = ingest(
                session, boundaries, node.settings, UploadRequest(data, f"grid{n}.csv"), admin
            )
            assert outcome.report["counts"]["sites_created"] == 300, outcome.report["counts"]
            gold_per_upload.append((outcome.upload_id, len(range(0, 300, 7))))
        drafts = [
            SiteDraft(kind="sales_point", name=f"Comptoir {i}", lon=16.0 + i * 0.01, lat=5.0)
            for i in range(100)
        ]
        created = [create_sites(session, boundaries, [draft], admin)[0] for draft in drafts]
        moved = [site.public_id for site in created[:40]]
        for i, public_id in enumerate(moved):
            site_edits.edit_site(
                session,
                boundaries,
                public_id,
                Precondition(any_version=True),
                lambda current, i=i: current.draft.__class__(
                    **{**current.draft.__dict__, "lon": 14.40 + i * 0.002, "lat": 4.45}
                ),
                admin,
            )
        in_cmr = set(
            session.execute(text("SELECT public_id FROM sites WHERE country_iso3 = 'CMR'"))
            .scalars()
            .all()
        )
    expected_cmr = {("site.created", p) for p in in_cmr - set(moved)} | {
        ("site.entered", p) for p in moved
    }
    assert set(moved) <= in_cmr and len(in_cmr) > 100  # the grid does straddle the border
    total = len(expected_cmr) + len(gold_per_upload)
    got = receiver.wait_for(total)
    time.sleep(1.0)  # anything extra would come now
    got = receiver.snapshot()
    by_sub = _by_subscription(got)
    cmr_payloads = verified(by_sub[cmr], cmr_secret)
    assert {(p["type"], p["data"]["id"]) for p in cmr_payloads} == expected_cmr
    gold_payloads = verified(by_sub[gold], gold_secret)
    assert sorted((p["data"]["upload"], p["data"]["sites_matched"]) for p in gold_payloads) == (
        sorted(gold_per_upload)
    )
    ids = [r.id for r in got]
    assert len(ids) == len(set(ids)) == total  # none missing, none twice
    assert node.statuses(cmr) == {"delivered": len(expected_cmr)}


def _batch_events(received: list[Received], secret: str) -> list[tuple[str, dict[str, Any]]]:
    """(webhook id, event) of every event inside batch messages, signatures verified."""
    found = []
    for r, payload in zip(received, verified(received, secret), strict=True):
        assert payload["type"] == "batch" and r.id.startswith("batch_"), r.id
        assert payload["data"]["count"] == len(payload["data"]["events"])
        found += [(r.id, event) for event in payload["data"]["events"]]
    return found


def test_a_batched_subscription_gets_every_event_in_a_few_signed_messages(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    """900 sites from three uploads: the batched subscription gets each of its events once,
    inside at most a handful of messages of at most 100 events; the per-event subscription
    beside it still gets a message per event."""
    admin = node.caller("admin")
    batched, batched_secret = node.subscribe(
        admin, {}, ["site.created", "upload.completed"], receiver.url, batch_max_events=100
    )
    single, single_secret = node.subscribe(
        admin, {"mineral": "gold"}, ["site.created"], receiver.url
    )
    workers.append(node.worker())
    with node.sessions() as session:
        boundaries = node.boundaries(session)
        uploads = []
        for n in range(3):
            data = _grid_csv(300, 14.2 + n * 0.9, 4.0, 0.05, 5000 + n * 300, gold_every=10)
            outcome = ingest(
                session, boundaries, node.settings, UploadRequest(data, f"b{n}.csv"), admin
            )
            uploads.append(outcome.upload_id)
        expected = {
            ("site.created", p)
            for p in session.execute(
                text(
                    "SELECT s.public_id FROM sites s JOIN observations o ON o.site_id = s.id "
                    "JOIN uploads u ON u.id = o.upload_id WHERE u.public_id = ANY(:u)"
                ),
                {"u": uploads},
            ).scalars()
        } | {("upload.completed", u) for u in uploads}
    assert len(expected) == 903
    by_sub: dict[str, list[Received]] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        by_sub = _by_subscription(receiver.snapshot())
        if len(_batch_events(by_sub.get(batched, []), batched_secret)) >= 903:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # anything extra would come now
    by_sub = _by_subscription(receiver.snapshot())
    inside = _batch_events(by_sub[batched], batched_secret)
    got = {
        (e["type"], e["data"].get("upload") if e["type"] == "upload.completed" else e["data"]["id"])
        for _, e in inside
    }
    assert got == expected
    assert len({e["id"] for _, e in inside}) == len(inside) == 903  # each event once
    assert all(e["id"].startswith("msg_") for _, e in inside)
    assert 10 <= len(by_sub[batched]) <= 40  # 903 events in batches of at most 100
    assert all(len(r.payload["data"]["events"]) <= 100 for r in by_sub[batched])
    singles = verified(by_sub[single], single_secret)
    assert len(singles) == 90 and all(p["type"] == "site.created" for p in singles)
    assert node.statuses(batched) == {"delivered": 903}


def test_a_worker_killed_in_the_middle_of_batches_loses_nothing(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url, batch_max_events=10
    )
    receiver.delay_s = 0.1  # 30 messages: slow enough to be killed in the middle
    with node.sessions() as session:
        drafts = [
            SiteDraft(
                kind="mine",
                name=f"K{i}",
                lon=14.0 + (i % 20) * 0.01,
                lat=4.0 + (i // 20) * 0.01,
            )
            for i in range(300)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    first = node.worker()
    workers.append(first)
    receiver.wait_for(3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before = {e["id"] for _, e in _batch_events(receiver.snapshot(), secret)}
    assert 0 < len(before) < 300, "the worker was not killed in the middle of delivery"
    receiver.delay_s = 0.0
    workers.append(node.worker())
    # What the killed worker sent but could not record is sent again once its lease runs out.
    deadline = time.monotonic() + 120
    while node.statuses(subscription) != {"delivered": 300} and time.monotonic() < deadline:
        time.sleep(0.2)
    inside = _batch_events(receiver.snapshot(), secret)
    assert len({e["id"] for _, e in inside}) == 300
    # At least once: an event sent twice is the same event (same id, same content).
    seen: dict[str, dict[str, Any]] = {}
    for _, event in inside:
        assert seen.setdefault(event["id"], event) == event
    assert node.statuses(subscription) == {"delivered": 300}


def test_a_killed_worker_loses_nothing(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url
    )
    receiver.delay_s = 0.02  # slow enough to be killed in the middle
    with node.sessions() as session:
        drafts = [
            SiteDraft(
                kind="mine",
                name=f"Mine {i}",
                lon=14.0 + (i % 20) * 0.01,
                lat=4.0 + (i // 20) * 0.01,
            )
            for i in range(300)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    first = node.worker()
    workers.append(first)
    receiver.wait_for(40)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before = len({r.id for r in receiver.snapshot()})
    assert before < 300, "the worker was not killed in the middle of delivery"
    receiver.delay_s = 0.0
    workers.append(node.worker())
    # What the killed worker sent but could not record is sent again once its lease runs out.
    deadline = time.monotonic() + 120
    while node.statuses(subscription) != {"delivered": 300} and time.monotonic() < deadline:
        time.sleep(0.2)
    got = receiver.snapshot()
    payloads = verified(got, secret)
    assert len({r.id for r in got}) == 300
    # At least once: a repeat is only ever the same event again (same id, same body).
    bodies: dict[str, bytes] = {}
    for r in got:
        assert bodies.setdefault(r.id, r.body) == r.body
    assert len({p["data"]["id"] for p in payloads}) == 300
    assert node.statuses(subscription) == {"delivered": 300}


def test_a_hung_worker_holds_its_events_no_longer_than_the_lease(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    """A worker stopped (SIGSTOP) in the middle of delivery keeps its connection, and with it
    the row locks of what it was sending: the database ends its session once it has idled in
    its transaction for BORDERLENS_WEBHOOK_LEASE_S (3 s here), and another worker sends those
    events while it is still stopped."""
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url
    )
    receiver.delay_s = 0.05
    with node.sessions() as session:
        drafts = [
            SiteDraft(
                kind="mine", name=f"H{i}", lon=14.0 + (i % 20) * 0.01, lat=4.0 + (i // 20) * 0.01
            )
            for i in range(200)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    hung = node.worker()
    workers.append(hung)
    receiver.wait_for(20)
    hung.send_signal(signal.SIGSTOP)
    try:
        workers.append(node.worker())
        receiver.delay_s = 0.0
        deadline = time.monotonic() + 60
        while node.statuses(subscription) != {"delivered": 200} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert node.statuses(subscription) == {"delivered": 200}
    finally:
        hung.send_signal(signal.SIGCONT)
    time.sleep(1.0)
    got = receiver.snapshot()
    verified(got, secret)
    assert len({r.id for r in got}) == 200
    bodies: dict[str, bytes] = {}
    for r in got:  # a repeat is the same event again
        assert bodies.setdefault(r.id, r.body) == r.body


def test_a_receiver_down_for_a_while_gets_everything_back(
    node: Node, workers: list[subprocess.Popen[bytes]]
) -> None:
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()  # down before anything is sent
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], f"http://127.0.0.1:{port}/hook"
    )
    workers.append(node.worker(BORDERLENS_WEBHOOK_MAX_ATTEMPTS="100"))
    with node.sessions() as session:
        drafts = [
            SiteDraft(kind="mine", name=f"M{i}", lon=14.0 + i * 0.01, lat=4.2) for i in range(20)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    time.sleep(3.0)  # several failed tries each
    assert node.statuses(subscription) == {"pending": 20}
    back = Receiver(port=port).start()
    try:
        got = back.wait_for(20, timeout_s=60)
        assert len({r.id for r in got}) == 20
        verified(got, secret)
    finally:
        back.stop()


def test_an_always_failing_receiver_ends_in_the_dead_letters_and_can_be_resent(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    receiver.status = 500
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url
    )
    workers.append(node.worker(BORDERLENS_WEBHOOK_MAX_ATTEMPTS="3"))
    with node.sessions() as session:
        drafts = [
            SiteDraft(kind="mine", name=f"D{i}", lon=14.0 + i * 0.01, lat=4.2) for i in range(5)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    deadline = time.monotonic() + 60
    while node.statuses(subscription) != {"dead": 5} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert node.statuses(subscription) == {"dead": 5}
    with node.sessions() as session:
        dead = subscriptions.events(session, caller, subscription, "dead", 0, 100)
        assert [e.attempts for e in dead] == [3] * 5
        assert all(_failed_with(e.last_error, "HTTP 500") for e in dead)
        receiver.status = 204
        assert subscriptions.redeliver(session, caller, subscription, None) == 5
    got = receiver.wait_for(5, timeout_s=60)
    assert {r.id for r in got} == {e.public_id for e in dead}  # the same ids, sent again
    verified(got, secret)


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    started = Dripper().start()
    yield started
    started.stop()


@pytest.mark.parametrize("batch_max_events", [1, 50])
def test_a_receiver_dripping_its_answer_fails_in_time_and_holds_up_no_one_else(
    node: Node,
    receiver: Receiver,
    dripper: Dripper,
    workers: list[subprocess.Popen[bytes]],
    batch_max_events: int,
) -> None:
    """A receiver answering one byte every 0.3 s never lets a per-read timeout fire: the
    try as a whole has BORDERLENS_WEBHOOK_TIMEOUT_S (1 s here). Its events fail, are counted
    and end in the dead letters after 3 tries; another subscription's events sent beside them
    are delivered and recorded once. (Without the whole-try limit the database ended the
    sending transaction at the lease, 3 s: no outcome of either was ever written, and both
    were sent again and again.) A receiver that just failed is not sent the rest of its
    round's messages: each costs one try per round, not one per message."""
    caller = node.caller()
    slow, _ = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], dripper.url, batch_max_events
    )
    good, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url, batch_max_events
    )
    with node.sessions() as session:
        drafts = [
            SiteDraft(kind="mine", name=f"S{i}", lon=14.0 + i * 0.01, lat=4.2) for i in range(30)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    workers.append(node.worker(BORDERLENS_WEBHOOK_MAX_ATTEMPTS="3"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (
        node.statuses(slow) != {"dead": 30} or node.statuses(good) != {"delivered": 30}
    ):
        time.sleep(0.2)
    assert node.statuses(good) == {"delivered": 30}
    assert node.statuses(slow) == {"dead": 30}
    # (not one per try: on a loaded machine a try may end before the receiver reads it)
    assert dripper.requests >= 1, "the receiver was reached"
    # one request per round holding its events, each round a whole timeout: far fewer than
    # one per message and try (30 x 3 with messages of one event)
    assert dripper.requests < 30, dripper.requests
    with node.sessions() as session:
        dead = subscriptions.events(session, caller, slow, "dead", 0, 100)
        assert [e.attempts for e in dead] == [3] * 30
        for event in dead:
            assert _failed_with(event.last_error, "no complete answer within 1 s"), event

        delivered = subscriptions.events(session, caller, good, "delivered", 0, 100)
        assert [e.attempts for e in delivered] == [1] * 30, "each sent once"
    got = receiver.snapshot()
    verified(got, secret)
    assert len(got) == len({r.id for r in got}), "no message sent twice"


def test_two_workers_share_the_queue_without_sending_an_event_twice(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    caller = node.caller()
    subscription, secret = node.subscribe(
        caller, {"country": "CMR"}, ["site.created"], receiver.url
    )
    receiver.delay_s = 0.01
    with node.sessions() as session:
        drafts = [
            SiteDraft(
                kind="mine", name=f"T{i}", lon=14.0 + (i % 20) * 0.01, lat=4.0 + (i // 20) * 0.01
            )
            for i in range(200)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    workers.extend([node.worker(), node.worker()])
    got = receiver.wait_for(200)
    time.sleep(1.0)
    got = receiver.snapshot()
    assert len(got) == len({r.id for r in got}) == 200  # each exactly once
    verified(got, secret)
    assert node.statuses(subscription) == {"delivered": 200}


def test_an_idle_worker_only_polls(
    node: Node, workers: list[subprocess.Popen[bytes]], receiver: Receiver
) -> None:
    """An idle worker costs one small query per poll, whatever its number of senders: its
    own leasing must not wake it (the outbox trigger once fired on the leasing UPDATE, so
    every poll woke every sender again: thousands of empty transactions a second)."""
    caller = node.caller()
    node.subscribe(caller, {"mineral": "gold"}, ["site.created"], receiver.url)

    def transactions() -> int:
        with node.sessions() as session:
            return int(
                session.execute(
                    text(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                        "WHERE datname = current_database()"
                    )
                ).scalar_one()
            )

    workers.append(node.worker())
    time.sleep(3)  # started, listening, polling
    before = transactions()
    time.sleep(5)
    idle = transactions() - before
    # 5 s at one poll every 0.5 s, plus the cluster refresh and the peer sync: a few dozen
    # at most (the storm made tens of thousands)
    assert idle < 100, f"{idle} transactions in 5 s of an idle worker"


def test_a_database_that_is_away_is_reported_once_not_every_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Eight senders against a port nothing listens on (a real refused connection) for 3.5 s:
    one traceback for the outage, not one per sender per second."""
    worker = delivery.DeliveryWorker(
        Settings(), "postgresql+psycopg://nobody:none@127.0.0.1:9/nothing"
    )
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    with caplog.at_level("INFO", logger=delivery.__name__):
        runner.start()
        time.sleep(3.5)
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    failed = [r for r in caplog.records if r.getMessage().startswith("webhook delivery failed")]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(failed) == delivery.SENDERS, "one report per sender and outage"
    assert len(tracebacks) == delivery.SENDERS
