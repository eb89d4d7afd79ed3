"""``/statistics`` equals a brute-force count over the same rows, for every grouping key (and
some pairs, and with filters); its CSV carries the same rows as its JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.statistics import BANDS_KM, band_label
from tests.api.test_zones import BOW_TIE, TWO_PARTS, WITH_HOLE, zones_file

Headers = Callable[..., dict[str, str]]
ACCURACY = [None, 10, 3000, 40000]
MINERALS = ["diamant", "or", "diamant; or", "", "cassitérite"]
KEYS = [
    "country", "border", "band", "side_confidence", "kind", "mineral", "status", "zone",
    "month", "quarter", "year", "first_month",
]  # fmt: skip


def survey(points: Iterable[tuple[float, float, str, str, str]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "name": name,
                "kind": kind,
                "minerals": minerals,
                "date": date,
                "accuracy": ACCURACY[k % 4],
            },
        }
        for k, (lon, lat, name, kind, minerals, date) in enumerate(
            (p[0], p[1], p[2], p[3], p[4].split("|")[0], p[4].split("|")[1]) for p in points
        )
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


@pytest.fixture
def loaded(client: TestClient, api_key: Headers) -> None:
    writer = api_key("researcher")
    rng = np.random.default_rng(7)
    lon = rng.uniform(14.3, 16.3, 60)
    lat = rng.uniform(3.6, 6.2, 60)
    first = [
        (float(lon[k]), float(lat[k]), f"P{k}", "mine" if k % 3 else "sales_point",
         f"{MINERALS[k % 5]}|2025-{1 + k % 12:02d}-{1 + k % 27:02d}")
        for k in range(60)
    ]  # fmt: skip
    again = [(x, y, n, kind, f"{m.split('|')[0]}|2026-0{1 + k % 9}-15")
             for k, (x, y, n, kind, m) in enumerate(first[:20])]  # fmt: skip
    for name, points in (("a.geojson", first), ("b.geojson", again)):
        answer = client.post("/uploads", files={"file": (name, survey(points))}, headers=writer)
        assert answer.status_code == 201, answer.text
    zones = client.post(
        "/uploads",
        files={"file": ("z.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]))},
        data={"target": "zones", "zone_type": "kp_compliant_zone", "zone_set": "Green"},
        headers=writer,
    )
    assert zones.status_code == 201, zones.text
    sites = client.get("/collections/sites/items", params={"limit": 5, "sortby": "name"}).json()
    ids = [f["id"] for f in sites["features"]]
    table = (
        "name,type,registration,works_at,buys_at\n"
        f"Coop,cooperative,C-1,{ids[0]};{ids[1]},\n"
        f"Comptoir,comptoir,B-1,,{ids[1]};{ids[2]}\n"
        f"Team,diggers,,{ids[1]},\n"
    )
    registry = client.post(
        "/uploads", files={"file": ("r.csv", table.encode())}, data={"target": "actors"},
        headers=writer,
    )  # fmt: skip
    assert registry.status_code == 201, registry.text


def brute_force(
    session: Session, keys: list[str], where: Callable[[dict[str, Any]], bool] = lambda s: True,
    observed: Callable[[Any], bool] | None = None,
) -> dict[tuple[Any, ...], tuple[int, int]]:  # fmt: skip
    sites = [
        dict(row._mapping)
        for row in session.execute(
            text(
                "SELECT id, country_iso3, border_pair, border_distance_m, side_confidence, kind, "
                "minerals, status, first_observed FROM sites"
            )
        )
    ]
    obs: dict[int, list[Any]] = {}
    for site_id, day in session.execute(text("SELECT site_id, observed_on FROM observations")):
        if observed is None or (day is not None and observed(day)):
            obs.setdefault(site_id, []).append(day)
    zones: dict[int, list[str]] = {}
    for site_id, name in session.execute(
        text(
            "SELECT sz.site_id, zs.name FROM site_zones sz JOIN zone_sets zs "
            "ON zs.id = sz.zone_set_id WHERE sz.inside"
        )
    ):
        zones.setdefault(site_id, []).append(name)
    actor_types: dict[int, list[str]] = {}
    for site_id, kind in session.execute(
        text(
            "SELECT DISTINCT l.site_id, a.actor_type FROM actor_sites l "
            "JOIN actors a ON a.id = l.actor_id"
        )
    ):
        actor_types.setdefault(site_id, []).append(kind)

    def band(distance: float | None) -> str | None:
        if distance is None:
            return None
        for low, high in BANDS_KM:
            if high is None or distance < high * 1000:
                return band_label(low, high)
        return None

    sites_in: dict[tuple[Any, ...], set[int]] = {}
    observations: Counter[tuple[Any, ...]] = Counter()
    for site in sites:
        if not where(site):
            continue
        site_values: dict[str, list[Any]] = {
            "country": [site["country_iso3"]],
            "border": [site["border_pair"]],
            "band": [band(site["border_distance_m"])],
            "side_confidence": [site["side_confidence"]],
            "kind": [site["kind"]],
            "mineral": list(site["minerals"]) or [None],
            "status": [site["status"]],
            "zone": zones.get(site["id"], [None]),
            "actor_type": actor_types.get(site["id"], [None]),
            "first_month": [site["first_observed"].strftime("%Y-%m")
                            if site["first_observed"] else None],
        }  # fmt: skip
        days = obs.get(site["id"], [])
        for day in days or [None]:
            period = {
                "month": day.strftime("%Y-%m") if day else None,
                "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}" if day else None,
                "year": str(day.year) if day else None,
            }
            combos: list[tuple[Any, ...]] = [()]
            for key in keys:
                values = [period[key]] if key in period else site_values[key]
                combos = [(*c, v) for c in combos for v in values]
            for combo in combos:
                sites_in.setdefault(combo, set()).add(site["id"])
                if days:  # a site without observations counts no observation
                    observations[combo] += 1
    return {combo: (len(ids), observations[combo]) for combo, ids in sites_in.items()}


def served(
    client: TestClient, keys: list[str], **params: str
) -> dict[tuple[Any, ...], tuple[int, int]]:
    answer = client.get("/statistics", params={"group_by": ",".join(keys), **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["boundary_source"]["id"] and isinstance(body["dataset_version"], int)
    return {
        tuple(row[k] for k in keys): (row["sites"], row["observations"]) for row in body["rows"]
    }


GROUPINGS = [[key] for key in KEYS] + [
    ["country", "band"], ["border", "month"], ["mineral", "zone"], ["kind", "year", "status"],
    ["side_confidence", "quarter"], ["actor_type", "kind"],
]  # fmt: skip


def test_every_grouping_equals_brute_force(
    client: TestClient, session: Session, loaded: None
) -> None:
    """The table: every key alone and some combinations, each against the brute force."""
    for keys in GROUPINGS:
        expected = brute_force(session, keys)
        assert served(client, keys) == expected, keys
        assert len(expected) > 1 or keys == ["status"], keys


def test_filters_are_those_of_items(client: TestClient, session: Session, loaded: None) -> None:
    import datetime as dt

    def in_caf_mine(site: dict[str, Any]) -> bool:
        return site["country_iso3"] == "CAF" and site["kind"] == "mine"

    assert served(client, ["mineral"], country="CAF", kind="mine") == brute_force(
        session, ["mineral"], in_caf_mine
    )
    start, end = dt.date(2025, 3, 1), dt.date(2025, 8, 31)

    def dated(site: dict[str, Any]) -> bool:
        return site["first_observed"] is not None and site["first_observed"] <= end and (
            session.execute(
                text("SELECT coalesce(last_observed, first_observed) FROM sites WHERE id = :i"),
                {"i": site["id"]},
            ).scalar_one() >= start
        )  # fmt: skip

    assert served(
        client, ["month"], datetime="2025-03-01T00:00:00Z/2025-08-31T23:59:59Z"
    ) == brute_force(session, ["month"], dated, lambda day: start <= day <= end)
    inside = served(client, ["kind"], zone="Green")
    zoned = {row[0] for row in session.execute(text("SELECT site_id FROM site_zones WHERE inside"))}
    assert inside == brute_force(session, ["kind"], lambda s: s["id"] in zoned)


def test_csv_and_json_agree(client: TestClient, loaded: None) -> None:
    params = {"group_by": "country,border,band"}
    body = client.get("/statistics", params=params).json()
    answer = client.get("/statistics", params={**params, "f": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(body["rows"])
    for row, expected in zip(rows, body["rows"], strict=True):
        for key in ("country", "border", "band"):
            assert (row[key] or None) == expected[key]
        assert int(row["sites"]) == expected["sites"]
        assert int(row["observations"]) == expected["observations"]
        assert row["boundary_source"] == body["boundary_source"]["id"]
        assert int(row["dataset_version"]) == body["dataset_version"]
    assert sum(r["sites"] for r in body["rows"]) == body["totals"]["sites"] == 60


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"group_by": "planet"}, "unknown_filter_value"),
        ({"group_by": "kind,kind"}, "invalid_parameter"),
        ({"f": "xml"}, "invalid_parameter"),
        ({"limit": "3"}, "unknown_parameter"),
        ({"zone": "nowhere"}, "unknown_filter_value"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, params: dict[str, str], code: str) -> None:
    answer = client.get("/statistics", params=params)
    assert answer.status_code == 400
    assert answer.json()["code"] == code


def _all(client: TestClient, path: str, **params: str) -> list[dict[str, Any]]:
    answer = client.get(path, params={"limit": "1000", **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["numberMatched"] == len(body["features"])
    features: list[dict[str, Any]] = body["features"]
    return features


def test_as_of_counts_the_state_of_that_version(client: TestClient, api_key: Headers) -> None:
    """Counts as of the first upload's version equal a brute force over the sites and
    observations read as of it, after a later upload and a retirement changed the present;
    the same request answers the same bytes."""
    writer = api_key("researcher")
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(14.3, 16.3, 24), rng.uniform(3.6, 6.2, 24)
    points = [(float(lon[k]), float(lat[k]), f"S{k}", "mine", f"or|2025-0{1 + k % 9}-10")
              for k in range(24)]  # fmt: skip
    first = client.post("/uploads", files={"file": ("a.geojson", survey(points[:14]))},
                        headers=writer)  # fmt: skip
    assert first.status_code == 201, first.text
    v1 = first.headers["Dataset-Version"]
    again = [(x, y, n, kind, "or|2026-02-01") for x, y, n, kind, _ in points[:5]]
    second = client.post("/uploads", files={"file": ("b.geojson", survey(points[14:] + again))},
                         headers=writer)  # fmt: skip
    assert second.status_code == 201, second.text
    gone = _all(client, "/collections/sites/items", as_of=v1)[0]["id"]
    tag = client.get(f"/collections/sites/items/{gone}").headers["etag"]
    retired = client.delete(
        f"/collections/sites/items/{gone}?reason=test", headers={**writer, "If-Match": tag}
    )
    assert retired.status_code == 200, retired.text

    then_sites = {f["id"]: f["properties"]["country"]
                  for f in _all(client, "/collections/sites/items", as_of=v1)}  # fmt: skip
    then_obs = _all(client, "/collections/observations/items", as_of=v1)
    expected: dict[tuple[Any, ...], list[int]] = {}
    for country in then_sites.values():
        expected.setdefault((country,), [0, 0])[0] += 1
    for observation in then_obs:
        expected[(then_sites[observation["properties"]["site"]],)][1] += 1
    assert sum(n for n, _ in expected.values()) == 14 and len(then_obs) == 14
    answer = client.get("/statistics", params={"group_by": "country", "as_of": v1})
    assert answer.status_code == 200, answer.text
    assert answer.json()["dataset_version"] == int(v1)
    assert served(client, ["country"], as_of=v1) == {k: tuple(v) for k, v in expected.items()}
    now = served(client, ["country"])
    assert sum(n for n, _ in now.values()) == 23, "10 more, 1 retired: the present differs"
    assert sum(o for _, o in now.values()) > 14
    assert client.get("/statistics", params={"group_by": "country", "as_of": v1}).content == (
        answer.content
    )
    csv_then = client.get("/statistics", params={"group_by": "country", "as_of": v1, "f": "csv"})
    rows = list(csv.DictReader(io.StringIO(csv_then.text)))
    assert {row["dataset_version"] for row in rows} == {v1}


@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "1", "group_by": "zone"},
        {"as_of": "1", "group_by": "kind,actor_type"},
        {"as_of": "1", "zone": "Green"},
        {"as_of": "99999999"},
        {"as_of": "2999-01-01T00:00:00Z"},
    ],
)
def test_as_of_refuses_what_it_cannot_honour(
    client: TestClient, api_key: Headers, params: dict[str, str]
) -> None:
    upload = client.post(
        "/uploads",
        files={"file": ("a.geojson", survey([(15.0, 4.5, "S", "mine", "or|2025-01-10")]))},
        headers=api_key("researcher"),
    )
    assert upload.status_code == 201, upload.text
    answer = client.get("/statistics", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
