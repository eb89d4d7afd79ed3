"""Migration 0007 carries existing uploads over: their rejected rows leave the JSON report for
the packed column (rejected.csv keeps working), and sites named after the uploader's key lose
that name."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app.db import migrations
from app.db.engine import make_engine
from app.services.upload_report import rejected_csv_chunks, unpack_rejected
from tests.support.pg import Server

LEGACY_REPORT = {
    "upload": {"id": "UP-LEGACY"},
    "counts": {"rows": 3, "accepted": 1, "rejected": 2},
    "issues": [
        {"row": 3, "column": "lat", "code": "unparseable_coordinate", "message": "bad lat",
         "severity": "error"},
        {"row": 3, "column": "lon", "code": "unparseable_coordinate", "message": "bad lon",
         "severity": "error"},
        {"row": 4, "column": None, "code": "zero_zero", "message": "0,0", "severity": "error"},
        {"row": 2, "column": "date", "code": "future_date", "message": "soon",
         "severity": "warning"},
    ],
    "rows": [],
    "rejected": [
        {"row": 3, "values": {"name": "=HYPERLINK(1)", "lat": "x", "lon": "y"}},
        {"row": 4, "values": {"name": "Zero", "lat": "0", "lon": "0", "extra": "-2.5"}},
    ],
}  # fmt: skip


@pytest.fixture
def engine_at_0006(pg_server: Server) -> Iterator[Engine]:
    name = f"bl_migrate7_{secrets.token_hex(4)}"
    pg_server.create_database(name)
    engine = make_engine(pg_server.url(name), pool_size=1)
    migrations.upgrade(engine, "0006")
    yield engine
    engine.dispose()
    pg_server.drop_database(name)


def test_0007_moves_rejected_rows_and_clears_key_named_sources(engine_at_0006: Engine) -> None:
    with engine_at_0006.begin() as conn:
        upload_id = conn.execute(
            text(
                "INSERT INTO uploads (public_id, filename, sha256, size_bytes, format, "
                "source_crs, uploader, counts, report) VALUES ('UP-LEGACY', 'old.csv', "
                ":sha, 10, 'csv', 'EPSG:4326', 'field team A', '{}', CAST(:report AS jsonb)) "
                "RETURNING id"
            ),
            {"sha": "a" * 64, "report": json.dumps(LEGACY_REPORT)},
        ).scalar_one()
        site_ids = {}
        for public_id, source in (("S-KEY", "field team A"), ("S-CHOSEN", "IPIS 2024")):
            site_ids[public_id] = conn.execute(
                text(
                    "INSERT INTO sites (public_id, kind, name, geom, location_status, source) "
                    "VALUES (:p, 'mine', 'Chantier', ST_SetSRID(ST_MakePoint(16.7, 4.7), 4326), "
                    "'country', :source) RETURNING id"
                ),
                {"p": public_id, "source": source},
            ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO observations (upload_id, site_id, row_number, outcome, geom) "
                "VALUES (:u, :s, 2, 'created', ST_SetSRID(ST_MakePoint(16.7, 4.7), 4326))"
            ),
            {"u": upload_id, "s": site_ids["S-KEY"]},
        )

    migrations.upgrade(engine_at_0006)

    with engine_at_0006.connect() as conn:
        report, packed = conn.execute(
            text("SELECT report, rejected_rows FROM uploads WHERE id = :id"), {"id": upload_id}
        ).one()
        sources = dict(conn.execute(text("SELECT public_id, source FROM sites")).all())
    assert "rejected" not in report and report["issues"] == LEGACY_REPORT["issues"]
    columns, rows = unpack_rejected(bytes(packed))
    # JSONB kept no key order, so neither can the migration (the old CSV had none either).
    assert sorted(columns) == ["extra", "lat", "lon", "name"]
    unpacked = [(row, dict(zip(columns, values, strict=True)), why) for row, values, why in rows]
    assert unpacked == [
        (3, {"name": "=HYPERLINK(1)", "lat": "x", "lon": "y", "extra": None},
         "lat: unparseable_coordinate: bad lat; lon: unparseable_coordinate: bad lon"),
        (4, {"name": "Zero", "lat": "0", "lon": "0", "extra": "-2.5"}, "row: zero_zero: 0,0"),
    ]  # fmt: skip
    csv_text = b"".join(rejected_csv_chunks(bytes(packed))).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in csv_text.splitlines()[1].split(",")
    # The site made without a chosen source loses the key's name; a chosen source stays.
    assert sources == {"S-KEY": None, "S-CHOSEN": "IPIS 2024"}
