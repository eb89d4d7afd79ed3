"""Concurrent uploads of the same places create each site once (field case rel-02).

Real HTTP against uvicorn in its own process, on a committed database of its own: each upload
runs in its own server thread and database connection, released at the same moment by a
barrier. The rolled-back ``session`` fixture could not show this: there, every request shares
one connection and one transaction.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from app.services import keys as key_service
from tests.conftest import SHARED
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow

CASE = SHARED / "cases" / "rel-02-concurrent-overlap-duplicates"


def overlap_csv(team: str, places: range, columns: int = 20) -> bytes:
    """The rel-02 layout: "Overlap site N" on a 0.01° grid from 20.0 E, 6.0 N (CAR), N running
    along longitude first; files differ by their ``team`` column (so their SHA-256)."""
    lines = ["name,lat,lon,kind,mineral,team"]
    for n in places:
        lat, lon = 6.0 + (n // columns) * 0.01, 20.0 + (n % columns) * 0.01
        lines.append(f"Overlap site {n},{lat:.5f},{lon:.5f},sales_point,diamond,{team}")
    return ("\n".join(lines) + "\n").encode()


def post(base: str, key: str, name: str, data: bytes) -> tuple[int, dict[str, Any]]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(f"{base}/uploads", data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def all_at_once(
    server: LiveServer, uploads: list[tuple[str, str, bytes]]
) -> list[tuple[int, dict[str, Any]]]:
    """Send every (key, filename, bytes) upload from its own thread, released together."""
    barrier = threading.Barrier(len(uploads))
    results: list[tuple[int, dict[str, Any]] | None] = [None] * len(uploads)

    def send(i: int, key: str, name: str, data: bytes) -> None:
        barrier.wait()
        results[i] = post(server.url, key, name, data)

    threads = [threading.Thread(target=send, args=(i, *upload)) for i, upload in enumerate(uploads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert all(r is not None for r in results), "an upload did not answer"
    return [r for r in results if r is not None]


def researcher_keys(server: LiveServer, n: int) -> list[str]:
    with server.sessions() as session:
        return [
            key_service.create_key(
                session, name=f"race {i} {uuid.uuid4().hex[:6]}", role="researcher", countries=[]
            ).key
            for i in range(n)
        ]


def sites_named(server: LiveServer, prefix: str) -> tuple[int, int, int]:
    """(sites, distinct locations, distinct names) of the sites whose name starts so."""
    with server.sessions() as session:
        row = session.execute(
            text(
                "SELECT count(*), count(DISTINCT geom), count(DISTINCT name) FROM sites "
                "WHERE name LIKE :prefix"
            ),
            {"prefix": prefix + "%"},
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.parametrize("uploads", [4, 6])
def test_concurrent_overlapping_uploads_create_each_place_once(
    live_server: LiveServer, uploads: int
) -> None:
    """``uploads`` files, each of 120 places, each overlapping its neighbours by 90."""
    tag = f"{uploads}x"
    keys = researcher_keys(live_server, 3)
    files = []
    for i in range(uploads):
        places = range(i * 30, i * 30 + 120)
        data = overlap_csv(f"team{i}", places).replace(b"Overlap site", f"Race {tag}".encode())
        # each run its own grid square, so the parametrised runs do not meet
        data = data.replace(b",20.", b",2" + str(uploads).encode() + b".")
        files.append((keys[i % len(keys)], f"race_{tag}_{i}.csv", data))
    distinct = (uploads - 1) * 30 + 120

    results = all_at_once(live_server, files)

    assert [status for status, _ in results] == [201] * uploads, results
    reports = [body for _, body in results]
    assert sum(r["counts"]["sites_created"] for r in reports) == distinct
    for report in reports:
        assert report["counts"]["accepted"] == 120
        assert report["counts"]["sites_created"] + report["counts"]["sites_matched"] == 120
    assert sites_named(live_server, f"Race {tag} ") == (distinct, distinct, distinct)


def test_field_case_rel02_two_teams_at_once(live_server: LiveServer) -> None:
    """The case's expected result: one upload creates the 300 sites, the other matches them."""
    key_a, key_b = researcher_keys(live_server, 2)
    if CASE.exists():
        a, b = (CASE / "ovA.csv").read_bytes(), (CASE / "ovB.csv").read_bytes()
    else:
        a, b = overlap_csv("teamA", range(300)), overlap_csv("teamB", range(300))
    assert a.replace(b"teamA", b"teamB") == b  # the rebuilt layout is the case's own

    results = all_at_once(live_server, [(key_a, "ovA.csv", a), (key_b, "ovB.csv", b)])

    assert [status for status, _ in results] == [201, 201]
    outcomes = sorted(
        (body["counts"]["sites_created"], body["counts"]["sites_matched"]) for _, body in results
    )
    assert outcomes == [(0, 300), (300, 0)]
    assert sites_named(live_server, "Overlap site ") == (300, 300, 300)
