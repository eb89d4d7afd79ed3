"""Alerts benchmark: commit-to-webhook latency while uploads run, and what alerts cost uploads.

    .venv/bin/python -m bench.bench_alerts [--rows 10000] [--uploads 4] [--pairs 2]
        [--batch-max-events 1] [--database-url URL]

Rounds of ``--uploads`` concurrent uploads (threads, one session each, as concurrent
``POST /uploads`` run) of ``--rows``-row KoBo CSVs (new sites everywhere), alternating
without and with 10 active subscriptions (countries, a mineral, a kind, near a border, a
CQL2 filter), starting and ending without: ``--pairs`` rounds with, ``--pairs`` + 1
without. A real ``borderlens worker`` process runs through every round, delivering signed
webhooks to a real HTTP receiver on 127.0.0.1 (idle while the subscriptions are paused, as a
service's worker is when nobody subscribed); after a round with subscriptions, the next
starts once every event written has arrived.

Prints each upload's seconds, the ratio of each round with subscriptions to the mean of the
rounds around it and of all rounds with to all rounds without (the uploads of a round wait
for each other, so one round's mean moves by +-20 % from run to run: compare several), the
same ratio of each inner round without subscriptions to the rounds around it (an A/A
reading: the noise a round's ratio carries with nothing changed), the latency from each
upload's commit to the receipt of each of its events (p50, p99, max), the events per second
delivered (from each round's first commit to its last receipt) and the worker's CPU during
the rounds (its start, about 2 s of imports and connections, apart). The uploads of a round
queue for one critical section, so the k-th of each round is also compared with the k-th of
the rounds without (sorted by time: the k-th to finish).

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_alerts``, recreated each run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.db import migrations
from app.db.engine import make_engine, make_sessionmaker
from app.queries import Caller
from app.services import boundaries as boundary_service
from app.services import keys as key_service
from app.services import subscriptions
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.settings import Settings
from bench._database import bench_database
from bench.bench_read_survey import kobo_csv

CRITERIA: list[dict[str, Any]] = [
    {"country": "CAF"},
    {"country": "CMR"},
    {"country": "COD"},
    {"country": "TCD,SSD"},
    {"country": "COG"},
    {"mineral": "gold"},
    {"kind": "sales_point"},
    {"within_km": 10},
    {"border": "CAF", "within_km": 25},
    {"filter": "border_distance_m < 50000 AND country = 'CAF'"},
]


class Receipts:
    """A webhook receiver on 127.0.0.1 in a process of its own (``bench._receiver``) that
    notes when each message arrived. The bodies are read when the run is over
    (:meth:`events`)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._receiver"], stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.raw: list[tuple[float, str, dict[str, Any]]] = []
        self.cpu_s = 0.0

    def _get(self, path: str) -> bytes:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=60).content

    def count_events(self) -> int:
        """Events received so far."""
        return int(self._get("/count"))

    def stop(self) -> None:
        """Note the receiver's CPU so far, read every message, then end the receiver."""
        self.cpu_s = process_cpu_seconds(self.process.pid)
        self.raw = [
            (float(line["at"]), str(line["id"]), line["body"])
            for line in map(orjson.loads, self._get("/dump").splitlines())
        ]
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def messages(self) -> int:
        return len(self.raw)

    def events(self) -> dict[str, tuple[float, dict[str, Any]]]:
        """Each event received (by its id) with when it first arrived."""
        arrived: dict[str, tuple[float, dict[str, Any]]] = {}
        for at, webhook_id, payload in self.raw:
            if payload["type"] == "batch":  # each event inside counts, by its id
                for event in payload["data"]["events"]:
                    arrived.setdefault(event["id"], (at, event))
            else:
                arrived.setdefault(webhook_id, (at, payload))
        return arrived

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def upload_round(
    sessions: sessionmaker[Session], settings: Settings, files: list[bytes], label: str
) -> list[tuple[str, float, float]]:
    """Upload ``files`` at once; (upload id, seconds, commit wall time) of each."""
    results: list[tuple[str, float, float]] = [("", 0.0, 0.0)] * len(files)
    caller = Caller(role="admin", name="bench")

    def one(i: int) -> None:
        with sessions() as session:
            state = BoundaryCache().current(session)
            assert state is not None
            started = time.perf_counter()
            outcome = ingest(
                session, state, settings, UploadRequest(files[i], f"{label}-{i}.csv"), caller
            )
            committed = time.time()
            results[i] = (outcome.upload_id or "", time.perf_counter() - started, committed)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{label}: " + ", ".join(f"{seconds:.1f} s" for _, seconds, _ in results))
    return results


def files_for(round_no: int, uploads: int, rows: int) -> list[bytes]:
    return [
        kobo_csv(rows, seed=100 * round_no + i).replace(b'"Site ', f'"R{round_no}U{i} '.encode())
        for i in range(uploads)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument(
        "--pairs", type=int, default=2, help="rounds with subscriptions (one more without)"
    )
    parser.add_argument("--database-url")
    parser.add_argument(
        "--batch-max-events",
        type=int,
        default=1,
        help="the subscriptions' batch_max_events (1: one webhook message per event)",
    )
    args = parser.parse_args()
    with bench_database(args.database_url, "bench_alerts", fresh=True) as url:
        run(url, args.rows, args.uploads, args.batch_max_events, args.pairs)


Round = list[tuple[str, float, float]]


def run(url: str, rows: int, uploads: int, batch_max_events: int = 1, pairs: int = 2) -> None:
    receipts = Receipts()
    settings = Settings(
        database_url=url,
        boundary_source="natural-earth-10m",
        webhook_allowed_hosts=["127.0.0.1"],
    )
    engine = make_engine(url, pool_size=uploads + 2)
    migrations.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        boundary_service.ensure_loaded(session, settings, BoundaryCache())
    print(
        f"{uploads} concurrent uploads of {rows:,} rows, {os.cpu_count()} CPUs, "
        f"subscriptions' batch_max_events {batch_max_events}\n"
    )
    with sessions() as session:
        created = key_service.create_key(session, name="bench", role="admin", countries=[])
        caller = key_service.authenticate(session, created.key)
        for i, criteria in enumerate(CRITERIA):
            new = subscriptions.NewSubscription(
                f"bench {i}",
                criteria,
                ["site.created", "upload.completed"],
                receipts.url,
                batch_max_events,
            )
            subscriptions.create(session, settings, caller, new)

    def subscribed(status: str) -> None:
        with sessions() as session, session.begin():
            session.execute(text("UPDATE subscriptions SET status = :s"), {"s": status})

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "borderlens"), "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    without: list[Round] = []
    watched: list[Round] = []
    spans: list[tuple[float, int]] = []  # (first commit, events written until then)
    try:
        time.sleep(5)  # the worker is up and listening
        # its start (imports, connections: about 2 s of CPU) is not delivery work
        started_cpu_s = process_cpu_seconds(worker.pid)
        for k in range(2 * pairs + 1):
            files = files_for(k + 1, uploads, rows)
            if k % 2 == 0:
                subscribed("paused")
                without.append(upload_round(sessions, settings, files, "no subscription"))
                continue
            subscribed("active")
            watched.append(upload_round(sessions, settings, files, "10 subscriptions"))
            with sessions() as session:
                expected = int(
                    session.execute(
                        text("SELECT coalesce(sum(size), 0) FROM alert_event_groups")
                    ).scalar_one()
                )
            spans.append((min(at for _, _, at in watched[-1]), expected))
            deadline = time.monotonic() + 600
            while receipts.count_events() < expected and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        rounds_cpu_s = process_cpu_seconds(worker.pid) - started_cpu_s
        worker.terminate()
        worker_cpu_s = worker_cpu_seconds(worker)
        receipts.stop()
    report(sessions, receipts, watched, without, spans)
    print(
        f"CPU (user and system) of the worker process {rounds_cpu_s:.1f} s during the rounds "
        f"({worker_cpu_s:.1f} s with its start and stop), of the receiver "
        f"{receipts.cpu_s:.1f} s (the database's work for the worker not counted)"
    )
    engine.dispose()


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU of a running process so far (Linux's ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_cpu_seconds(worker: subprocess.Popen[bytes]) -> float:
    """Wait for the terminated worker and say how much CPU it used (its own, not the
    database's work for it)."""
    _, _, usage = os.wait4(worker.pid, 0)
    worker.returncode = 0
    return float(usage.ru_utime + usage.ru_stime)


def queue_place(rounds: list[Round], place: int) -> float:
    """Mean seconds of the ``place``-th upload to finish (from 0) in each of ``rounds``."""
    return statistics.mean(sorted(s for _, s, _ in r)[place] for r in rounds)


def report(
    sessions: sessionmaker[Session],
    receipts: Receipts,
    watched: list[Round],
    without: list[Round],
    spans: list[tuple[float, int]],
) -> None:
    """Ratios of upload times, then latency and throughput of the rounds with
    subscriptions (``spans``: each such round's first commit and the events written by its
    end, in order)."""

    def mean(rounds: list[Round]) -> float:
        return statistics.mean(s for r in rounds for _, s, _ in r)

    print()
    for i, round_with in enumerate(watched):
        around = mean(without[i : i + 2])
        print(
            f"round with subscriptions {i + 1}: {mean([round_with]):.1f} s / "
            f"{around:.1f} s (the rounds without around it) = {mean([round_with]) / around:.2f}"
        )
    # The same reading with nothing changed (A/A): each inner round without subscriptions
    # against the rounds without around it. Their spread is the noise a round's ratio
    # carries (the uploads of a round queue for each other's critical section).
    for i in range(1, len(without) - 1):
        around = mean([without[i - 1], without[i + 1]])
        print(
            f"round without {i + 1} (A/A, no change): {mean([without[i]]):.1f} s / "
            f"{around:.1f} s (the rounds without around it) = {mean([without[i]]) / around:.2f}"
        )
    # Each upload against the uploads of the same place in their rounds' queue (the first
    # to take the critical section, the second, ...): the last waits for all the others,
    # so the uploads of one round are not alike, and comparing all of them at once hides
    # which one pays.
    for place in range(len(watched[0])):
        queued, alone = queue_place(watched, place), queue_place(without, place)
        print(
            f"upload {place + 1} of its round's queue: {queued:.1f} s with / "
            f"{alone:.1f} s without = {queued / alone:.2f}"
        )
    with_subs, plain = mean(watched), mean(without)
    print(
        f"upload time with 10 subscriptions / without (every round): "
        f"{with_subs:.1f} s / {plain:.1f} s = {with_subs / plain:.2f}"
    )
    committed = {upload_id: at for r in watched for upload_id, _, at in r}
    with sessions() as session:
        site_upload: dict[str, str] = dict(
            session.execute(
                text(
                    "SELECT s.public_id, u.public_id FROM observations o "
                    "JOIN sites s ON s.id = o.site_id JOIN uploads u ON u.id = o.upload_id "
                    "WHERE o.outcome = 'created'"
                )
            ).all()
        )
    arrived = receipts.events()
    latencies = []
    last_of_upload: dict[str, float] = {}
    for at, payload in arrived.values():
        data = payload["data"]
        upload = data.get("upload") or site_upload.get(data.get("id"))
        if upload in committed:
            latencies.append(at - committed[upload])
            last_of_upload[upload] = max(at, last_of_upload.get(upload, at))
    expected = spans[-1][1] if spans else 0
    print(
        f"events written {expected:,}, received {len(arrived):,} "
        f"in {receipts.messages:,} webhook messages"
    )
    if latencies:
        print(
            f"commit -> webhook receipt: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        busy = sum(
            max(last_of_upload.get(upload_id, first) for upload_id, _, _ in r) - first
            for r, (first, _) in zip(watched, spans, strict=True)
        )
        print(f"delivered {len(arrived) / max(busy, 1e-9):,.0f} events/s")


if __name__ == "__main__":
    main()
