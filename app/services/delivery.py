"""The webhook delivery worker: sends the outbox's events, at least once, signed.

``run_delivery(settings, stop)`` runs until ``stop`` is set: inside ``borderlens serve`` (a
thread started and stopped with the application) or alone as ``borderlens worker``. Several
may run at once, in one process or many: each event is locked (``FOR NO KEY UPDATE SKIP
LOCKED``) by one of them, in the transaction that sends it and records the outcome, so no two
send the same event at the same time; a worker that dies (``kill -9``) loses its connection,
which releases its events at once (one that hangs is ended by the server after
``BORDERLENS_WEBHOOK_LEASE_S`` idle in its transaction), and another sends them again with
the same ``webhook-id`` (the receiver's idempotency key). A failed try is retried after an
exponential delay with jitter; after ``BORDERLENS_WEBHOOK_MAX_ATTEMPTS`` tries the event is
a dead letter, which the subscriber sees and can send again
(``/subscriptions/{id}/events?status=dead``).

Signatures follow Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256>``), made with its reference library.
The worker wakes on the outbox's ``NOTIFY`` (sent at the commit of the change), so latency
is a round trip, not a polling period; it polls too, for retries and missed notifications.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson
import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from app.db import deliveries
from app.db import subscriptions as subscription_repo
from app.db.alert_models import DELETED_CHANNEL
from app.db.engine import make_engine, make_sessionmaker
from app.errors import AppError
from app.services import webhook_targets
from app.services.federation import run_peer_sync
from app.settings import Settings

log = logging.getLogger(__name__)

SENDERS = 8  # senders (threads) per worker, each sending its locked events concurrently
BATCH = 20
ANSWER_READ_BYTES = 65_536  # of a receiver's answer body; more is not read (its status is)
POLL_S = 0.5  # how often one sender looks for retries that came due and expired leases
IDLE_S = 5.0  # how often the other idle senders look at ``stop``; they never query then
USER_AGENT = "borderlens-webhooks/1"
NOT_SENT = "not sent: "  # the error of a message left unsent after its receiver failed
#: Messages of one group (first tries, an event each) that a subscription's chain sends side
#: by side: a group is sent by the one worker holding it.
PARALLEL_SENDS = 16


def retry_delay_s(
    attempts: int, settings: Settings, rng: random.Random, jitter: float | None = None
) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones; None: give up (dead).
    ``jitter`` (0.5 to 1.5) is drawn from ``rng`` unless given (one draw for a batch)."""
    if attempts >= settings.webhook_max_attempts:
        return None
    base = min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2 ** (attempts - 1))
    # jitter: retries of many events do not march together
    return float(base * (rng.uniform(0.5, 1.5) if jitter is None else jitter))


@dataclass(frozen=True)
class Message:
    """What one POST carries: one event, or (a subscription with ``batch_max_events`` > 1)
    a batch of that subscription's events."""

    events: tuple[deliveries.Delivery, ...]

    @property
    def first(self) -> deliveries.Delivery:
        return self.events[0]

    @property
    def batched(self) -> bool:
        return self.first.batch_max_events > 1

    @property
    def webhook_id(self) -> str:
        """The event's id; for a batch, one derived from its events' ids, so a batch sent
        again as it was has the same id (each event inside keeps its own id too)."""
        if not self.batched:
            return self.first.public_id
        digest = hashlib.blake2b(digest_size=16)
        for delivery in self.events:
            digest.update(delivery.public_id.encode() + b"\n")
        return "batch_" + digest.hexdigest()

    def body(self) -> bytes:
        """The event's stored JSON as it is; a batch: ``{"type": "batch", "timestamp",
        "subscription", "data": {"count", "events": [{"id", "type", "timestamp",
        "subscription", "data"}, ...]}}``, each event as it is alone plus its ``id`` (the
        same shape as the SSE stream's), oldest first. The timestamp is the newest event's
        (not the sending time), so a batch sent again is byte for byte the same."""
        if not self.batched:
            return self.first.payload
        newest = max(d.created_at for d in self.events).astimezone(dt.UTC)
        head = orjson.dumps(
            {
                "type": BATCH_TYPE,
                "timestamp": newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "subscription": self.first.subscription,
                "data": {"count": len(self.events)},
            }
        )
        # each stored payload is a JSON object ("{...}"): its id goes in front of its fields
        items = b",".join(
            b'{"id":' + orjson.dumps(d.public_id) + b"," + d.payload.lstrip()[1:]
            for d in self.events
        )
        return head[:-2] + b',"events":[' + items + b"]}}"


#: The ``type`` of a batch message.
BATCH_TYPE = "batch"


def messages(batch: list[deliveries.Delivery]) -> list[Message]:
    """The leased events as messages: an event alone, or up to ``batch_max_events`` of one
    subscription together; in the order of their oldest event."""
    open_batches: dict[int, list[deliveries.Delivery]] = {}
    order: list[list[deliveries.Delivery]] = []
    for delivery in batch:
        if delivery.batch_max_events <= 1:
            order.append([delivery])
            continue
        current = open_batches.get(delivery.subscription_id)
        if current is None or len(current) >= delivery.batch_max_events:
            current = open_batches[delivery.subscription_id] = []
            order.append(current)
        current.append(delivery)
    return [Message(tuple(events)) for events in order]


def side_by_side(queue: list[Message], position: int) -> list[Message]:
    """The messages from ``position`` that may go at once: up to ``PARALLEL_SENDS`` single
    events of the same group taken for their first try (a run of the group), else the one
    message (a batch, a retry); the groups of a subscription go one after the other."""
    first = queue[position].first
    if first.group_id is None or queue[position].batched:
        return [queue[position]]
    run = [queue[position]]
    for message in queue[position + 1 : position + PARALLEL_SENDS]:
        if message.batched or message.first.group_id != first.group_id:
            break
        run.append(message)
    return run


def signed_request(message: Message, now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one message, signed as Standard Webhooks says."""
    body = message.body()
    webhook_id = message.webhook_id
    signature = Webhook(message.first.secret).sign(webhook_id, now, body.decode())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers


class DeliveryWorker:
    """Senders (threads) leasing and sending due events, woken by the outbox's NOTIFY."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url, pool_size=SENDERS + 1)
        deliveries.hold_for(self.engine, settings.webhook_lease_s)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.wake = threading.Condition()
        self.rng = random.Random()
        # Subscriptions deleted while this worker runs (their ids, from the deletion's NOTIFY):
        # a round holding their events sends none of the messages it has not begun.
        self.deleted: set[int] = set()

    async def send(self, client: httpx.AsyncClient, message: Message) -> str | None:
        """One try; None when the receiver took it (2xx), else what went wrong.

        The whole try (resolving and checking the host, connecting, sending, the answer's
        status and up to ``ANSWER_READ_BYTES`` of its body) has ``webhook_timeout_s``: httpx's
        own timeouts bound each read only, so a receiver dripping a byte a second would hold
        the events past the lease, and the database would end the transaction before any
        outcome was written (the batch sent again and again, its tries never counted)."""
        timeout_s = self.settings.webhook_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                # the check resolves the host: in a thread, so a slow resolver holds one try
                target = await asyncio.to_thread(
                    webhook_targets.resolve_target,
                    message.first.webhook_url,
                    self.settings.webhook_allowed_hosts,
                    self.database_url,
                )
                body, headers = signed_request(message, dt.datetime.now(dt.UTC))
                status = await self._post(client, target, body, headers)
        except TimeoutError:
            return f"no complete answer within {timeout_s:g} s"
        except AppError as error:
            return error.detail
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    @staticmethod
    async def _post(
        client: httpx.AsyncClient,
        target: webhook_targets.Target,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        """POST to the addresses the check allowed, in turn until one connects (as a
        resolver's list is tried), never to a fresh resolution of the name; the URL's host
        goes in ``Host`` and in TLS SNI (the certificate is checked against that name).
        Returns the answer's status, having read up to ``ANSWER_READ_BYTES`` of its body."""
        url = httpx.URL(target.url)
        host_header = url.netloc.decode("ascii")
        for position, address in enumerate(target.addresses):
            pinned = url.copy_with(host=str(address))
            try:
                async with client.stream(
                    "POST",
                    pinned,
                    content=body,
                    headers={**headers, "host": host_header},
                    extensions={"sni_hostname": url.raw_host.decode("ascii")},
                ) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        # read so the connection can be reused; a long answer is not awaited
                        read += len(chunk)
                        if read > ANSWER_READ_BYTES:
                            break
                    return response.status_code
            except httpx.ConnectError:
                if position == len(target.addresses) - 1:
                    raise
        raise httpx.ConnectError(f"{target.host} resolved to no address")

    async def send_all(
        self,
        client: httpx.AsyncClient,
        batch: list[Message],
        last_start: float,
        read: Callable[[list[deliveries.Delivery]], bool] | None = None,
    ) -> list[tuple[Message, str | None]]:
        """Send each subscription's messages in order, the subscriptions side by side (a slow
        receiver delays its own messages only); the messages of one group taken for their
        first try go up to ``PARALLEL_SENDS`` at a time (the group is this worker's alone).
        No try starts after ``last_start`` (``time.monotonic()``): what is left is not in the
        outcomes, and stays due.

        A subscription's first failed message ends its chain: the messages after it are not
        sent to a receiver that just failed (a silent one would cost a whole timeout each,
        holding the round, and with it the sender, from everyone else's events) and fail
        with it, each try counted, so they are retried, and reach the dead letters, together.

        With ``read`` (``lock_due`` leaves the bodies unread), the bodies are read by
        ``read`` in a thread, a subscription at a time, each subscription's messages going
        out as soon as its own are in, while the next ones are read: a round's first
        messages no longer wait for all its bodies (an upload's 14 800 events for ten
        subscriptions were read in 0.25 s, then sent in 0.17 s, one after the other). A
        subscription whose bodies are not all found sends nothing (its events stay due); a
        failed read fails the round once every chain has ended."""
        chains: dict[int, list[Message]] = {}
        for message in batch:
            chains.setdefault(message.first.subscription_id, []).append(message)
        loop = asyncio.get_running_loop()
        ready = {subscription: loop.create_future() for subscription in chains} if read else {}

        async def reader() -> None:
            assert read is not None
            try:
                for subscription, queue in chains.items():
                    found = await asyncio.to_thread(read, [d for m in queue for d in m.events])
                    ready[subscription].set_result(found)
            finally:  # a read that failed: the chains left send nothing, the error is raised
                for future in ready.values():
                    if not future.done():
                        future.set_result(False)

        async def chain(queue: list[Message]) -> list[tuple[Message, str | None]]:
            done: list[tuple[Message, str | None]] = []
            if ready and not await ready[queue[0].first.subscription_id]:
                return done
            position = 0
            while position < len(queue):
                if done and time.monotonic() > last_start:
                    break
                if queue[0].first.subscription_id in self.deleted:
                    break  # deleted meanwhile: what is left stays unsent, and goes with it
                run = side_by_side(queue, position)
                errors = await asyncio.gather(*(self.send(client, m) for m in run))
                done += zip(run, errors, strict=True)
                position += len(run)
                failed = [(m, e) for m, e in zip(run, errors, strict=True) if e is not None]
                if failed:
                    message, error = failed[0]
                    skipped = (
                        f"{NOT_SENT}the receiver failed {message.webhook_id} just before ({error})"
                    )
                    done += [(later, skipped[:1000]) for later in queue[position:]]
                    break
            return done

        reading = asyncio.create_task(reader()) if read else None
        try:
            results = await asyncio.gather(*(chain(queue) for queue in chains.values()))
        except BaseException:
            if reading is not None:  # its thread holds the session: let it end first
                await asyncio.gather(reading, return_exceptions=True)
            raise
        if reading is not None:
            await reading
        return [outcome for done in results for outcome in done]

    def deliver_batch(self, runner: asyncio.Runner, client: httpx.AsyncClient) -> int:
        """Lock due events, send them (one message each, or in batches where the
        subscription asks), and record every outcome, all in one transaction: a worker
        killed before its commit releases the events, and another sends them again (same
        ids). Returns how many events were locked."""
        lease_s = self.settings.webhook_lease_s
        with self.sessions() as session:
            batch = deliveries.lock_due(session, BATCH)
            if not batch:
                session.rollback()
                return 0
            # No try starts after this, and each ends within ``webhook_timeout_s``: the
            # outcomes are written well before the session could be ended for idling
            # (``lease_s``). What is left stays due, untried, for the next round.
            last_start = time.monotonic() + lease_s - self.settings.webhook_timeout_s - 1
            # the bodies are read (in a thread, on this session, which nothing else uses
            # meanwhile) while the first messages go out
            outcomes = runner.run(
                self.send_all(
                    client,
                    messages(batch),
                    last_start,
                    lambda locked: deliveries.fill_payloads(session, locked),
                )
            )
            deliveries.mark_delivered(
                session, [d for m, error in outcomes if error is None for d in m.events]
            )
            jitters: dict[int, float] = {}
            failed: dict[str, list[tuple[deliveries.Delivery, float | None]]] = {}
            for message, error in outcomes:
                if error is None:
                    continue
                # one draw per subscription: its failed messages are retried together
                jitter = jitters.setdefault(
                    message.first.subscription_id, self.rng.uniform(0.5, 1.5)
                )
                failed.setdefault(error, []).extend(
                    (d, retry_delay_s(d.attempts + 1, self.settings, self.rng, jitter))
                    for d in message.events
                )
                if not error.startswith(NOT_SENT):
                    log.info(
                        "webhook %s (%d events) try %d failed: %s",
                        message.webhook_id,
                        len(message.events),
                        message.first.attempts + 1,
                        error,
                    )
            for error, retries in failed.items():  # a statement per error, not per message
                deliveries.mark_failed(session, retries, error)
            deliveries.advance_groups(session, [d for m, _ in outcomes for d in m.events])
            session.commit()
        return len(batch)

    def sender(self, stop: threading.Event, polls: bool) -> None:
        """Send batches while there are due events. Idle, only the sender that ``polls`` looks
        at the outbox on a timer (for retries coming due); the others wait to be woken by a
        NOTIFY or by a sender that found a full batch, so an idle service costs one small
        query every ``POLL_S``, not one per sender."""
        with asyncio.Runner() as runner:
            client = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_s, follow_redirects=False
            )
            try:
                self._send_rounds(stop, polls, runner, client)
            finally:
                runner.run(client.aclose())

    def _send_rounds(
        self,
        stop: threading.Event,
        polls: bool,
        runner: asyncio.Runner,
        client: httpx.AsyncClient,
    ) -> None:
        failures = 0
        while not stop.is_set():
            try:
                sent = self.deliver_batch(runner, client)
            except Exception:  # the database went away: say so, wait, try again
                failures += 1
                # the whole story once per outage, then a line a minute: eight senders
                # each logging a traceback every second buried everything else
                if failures == 1:
                    log.exception("webhook delivery failed; retrying every second")
                elif failures % 60 == 0:
                    log.warning("webhook delivery still failing (%d tries)", failures)
                stop.wait(1.0)
                continue
            if failures:
                log.info("webhook delivery works again after %d failed tries", failures)
                failures = 0
            if sent >= BATCH:  # probably more due: let one idle sender help (it wakes
                # another if it finds a full round too). All of them woke before, and the
                # seven that found nothing cost the database five statements each, per round.
                with self.wake:
                    self.wake.notify()
            elif sent == 0:
                self._idle(stop, polls)

    def _idle(self, stop: threading.Event, polls: bool) -> None:
        with self.wake:
            while not stop.is_set():
                if self.wake.wait(POLL_S if polls else IDLE_S) or polls:
                    return

    def listener(self, stop: threading.Event) -> None:
        """Wake the senders when the outbox is written (NOTIFY at the writer's commit), and
        note the subscriptions deleted (``DELETED_CHANNEL``)."""
        url = make_url(self.database_url).set(drivername="postgresql")
        while not stop.is_set():
            try:
                with psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                ) as conn:
                    conn.execute("LISTEN borderlens_alerts")
                    conn.execute(f"LISTEN {DELETED_CHANNEL}")
                    while not stop.is_set():
                        for notice in conn.notifies(timeout=POLL_S, stop_after=1):
                            if notice.channel == DELETED_CHANNEL:
                                self.deleted.add(int(notice.payload))
                                continue
                            with self.wake:  # one sender; more join while rounds are full
                                self.wake.notify()
            except psycopg.Error:
                log.warning("webhook listener lost its connection; polling until it is back")
                stop.wait(1.0)

    def run(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self.listener, args=(stop,), daemon=True)]
        threads += [
            threading.Thread(target=self.sender, args=(stop, i == 0), daemon=True)
            for i in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        try:
            stop.wait()
        finally:
            stop.set()
            with self.wake:  # idle senders see ``stop`` now, not after IDLE_S
                self.wake.notify_all()
            for thread in threads:
                thread.join(timeout=self.settings.webhook_timeout_s + 5)
            self.engine.dispose()


def run_delivery(
    settings: Settings, stop: threading.Event, database_url: str | None = None
) -> None:
    """Deliver webhooks until ``stop`` is set (the entry point ``serve`` and ``worker`` use)."""
    url = database_url or settings.database_url
    if url is None:
        raise ValueError("the delivery worker needs a database URL")
    DeliveryWorker(settings, url).run(stop)


CLUSTER_REFRESH_S = 30.0
PURGE_S = 30.0


def _every(
    seconds: float,
    database_url: str,
    stop: threading.Event,
    job: Callable[[Session], None],
    what: str,
) -> None:
    """Run ``job`` (which commits what it wants kept) in a fresh session every ``seconds``
    until ``stop``; a failure is logged, and the job tried again next time."""
    engine = make_engine(database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        while not stop.wait(seconds):
            try:
                with sessions() as session:
                    job(session)
            except Exception:
                log.exception("%s failed; trying again later", what)
    finally:
        engine.dispose()


def run_cluster_refresh(_settings: Settings, stop: threading.Event, database_url: str) -> None:
    """Recompute the default clustering when sites changed and a subscription asks for
    ``cluster.joined`` (else it is computed on the next read of ``clusters``), so joins are
    reported within ``CLUSTER_REFRESH_S`` seconds."""
    from app.services import clusters as cluster_service

    def refresh(session: Session) -> None:
        if any(
            subscription_repo.CLUSTER_JOINED in s.events
            for s in subscription_repo.active_subscriptions(session)
        ):
            cluster_service.refresh(session)
            session.commit()

    _every(CLUSTER_REFRESH_S, database_url, stop, refresh, "cluster refresh")


def run_subscription_purge(_settings: Settings, stop: threading.Event, database_url: str) -> None:
    """Remove deleted subscriptions' rows every ``PURGE_S`` seconds, once no worker holds
    their events (``DELETE /subscriptions/{id}`` only marks those it cannot remove at once)."""

    def purge(session: Session) -> None:
        if subscription_repo.purge_deleted(session):
            session.commit()

    _every(PURGE_S, database_url, stop, purge, "removing deleted subscriptions")


@dataclass
class Background:
    """Threads running beside the web application; ``stop()`` ends them and waits."""

    stop_event: threading.Event
    threads: list[threading.Thread]

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=timeout_s)


Task = Callable[[Settings, threading.Event, str], None]
#: What runs beside ``serve`` (and in ``borderlens worker``): the webhook delivery, and more
#: jobs joined at merge (peer sync schedule, upload jobs) with one entry each.
BACKGROUND_TASKS: list[Task] = [
    run_delivery,
    run_cluster_refresh,
    run_subscription_purge,
    run_peer_sync,
]


def start_background(settings: Settings, database_url: str) -> Background:
    """Start every background task in its own thread."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=task,
            args=(settings, stop, database_url),
            name=f"borderlens-{getattr(task, '__name__', 'task')}",
            daemon=True,
        )
        for task in BACKGROUND_TASKS
    ]
    for thread in threads:
        thread.start()
    return Background(stop, threads)
