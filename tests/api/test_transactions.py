"""OGC API - Features Part 4 on sites: create, replace (PUT), update (PATCH, JSON Merge Patch),
retire (DELETE), each by role; ETags and If-Match; moves re-measured; bad bodies never a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db.engine import make_engine, make_sessionmaker
from app.db.models import DatasetState, SiteBorderDistance
from app.db.models import Site as SiteRow
from app.errors import PreconditionFailed
from app.main import create_app
from app.queries import Caller
from app.services import keys as key_service
from app.services import site_edits
from app.services.boundary_state import BoundaryCache
from app.services.site_edits import CurrentSite, Precondition
from app.services.sites import SiteDraft
from tests.conftest import settings_for
from tests.support.geojson import assert_feature
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]
URL = "/collections/sites/items"
MERGE_PATCH = "application/merge-patch+json"
BORDER_FIGURES = (
    "country",
    "location_status",
    "claimants",
    "border_distance_m",
    "border_distance_km",
    "border_pair",
    "neighbour_country",
    "side_confidence",
    "side_probability",
    "boundary_source",
)


def create(client: TestClient, headers: dict[str, str], **properties: Any) -> Any:
    lon, lat = properties.pop("at", BERBERATI_CAF)
    response = client.post(URL, json=site_feature(lon, lat, **properties), headers=headers)
    assert response.status_code == 201, response.text
    return response


def patch(
    client: TestClient, site_id: str, body: Any, headers: dict[str, str], etag: str | None
) -> Any:
    extra = {"Content-Type": MERGE_PATCH}
    if etag is not None:
        extra["If-Match"] = etag
    return client.patch(f"{URL}/{site_id}", content=json.dumps(body), headers={**headers, **extra})


def put(
    client: TestClient, site_id: str, body: Any, headers: dict[str, str], etag: str | None
) -> Any:
    extra = {} if etag is None else {"If-Match": etag}
    return client.put(f"{URL}/{site_id}", json=body, headers={**headers, **extra})


def delete(
    client: TestClient, site_id: str, headers: dict[str, str], etag: str | None, reason: str = "x"
) -> Any:
    extra = {} if etag is None else {"If-Match": etag}
    return client.delete(
        f"{URL}/{site_id}", params={"reason": reason}, headers={**headers, **extra}
    )


def item_ids(client: TestClient, query: str = "") -> set[str]:
    response = client.get(f"{URL}?limit=10000{query}")
    assert response.status_code == 200, response.text
    return {feature["id"] for feature in response.json()["features"]}


@pytest.mark.parametrize("writer", ["researcher", "admin"])
def test_create_get_put_stale_patch_delete_by_role(
    client: TestClient, api_key: Headers, writer: str
) -> None:
    """The acceptance scenario: every step refused to anonymous (401) and authority (403)
    callers, done by researchers and admins."""
    key = api_key(writer)
    refused = {401: {}, 403: api_key("authority")}
    body = site_feature(*BERBERATI_CAF, name="Comptoir Nola", kind="sales_point")

    for status, headers in refused.items():
        assert client.post(URL, json=body, headers=headers).status_code == status
    created = client.post(URL, json=body, headers=key)
    assert created.status_code == 201
    site_id, first_tag = created.json()["id"], created.headers["etag"]

    read = client.get(f"{URL}/{site_id}", headers=key)
    assert read.status_code == 200
    assert read.headers["etag"] == first_tag, "a read gives the tag the write gave"
    assert_feature(read.json())

    replacement = site_feature(*BERBERATI_CAF, name="Comptoir Nola II", kind="sales_point")
    for status, headers in refused.items():
        assert put(client, site_id, replacement, headers, first_tag).status_code == status
    replaced = put(client, site_id, replacement, key, first_tag)
    assert replaced.status_code == 200, replaced.text
    second_tag = replaced.headers["etag"]
    assert second_tag != first_tag
    assert replaced.json()["properties"]["name"] == "Comptoir Nola II"

    change = {"properties": {"name": "stale"}}
    for status, headers in refused.items():
        assert patch(client, site_id, change, headers, second_tag).status_code == status
    stale = patch(client, site_id, change, key, first_tag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_etag"
    after = client.get(f"{URL}/{site_id}", headers=key)
    assert after.json()["properties"]["name"] == "Comptoir Nola II", "a 412 changes nothing"
    assert after.headers["etag"] == second_tag

    for status, headers in refused.items():
        assert delete(client, site_id, headers, second_tag).status_code == status
    assert site_id in item_ids(client)
    retired = delete(client, site_id, key, second_tag, reason="duplicate of another record")
    assert retired.status_code == 200, retired.text
    props = retired.json()["properties"]
    assert props["status"] == "retired"
    assert props["retired_reason"] == "duplicate of another record"
    assert props["retired_at"]

    still = client.get(f"{URL}/{site_id}")
    assert still.status_code == 200, "retired, not erased"
    assert still.json()["properties"]["status"] == "retired"
    assert site_id not in item_ids(client), "hidden from items by default"
    assert site_id in item_ids(client, "&status=retired")
    assert site_id in item_ids(client, "&include_retired=true")
    assert site_id not in item_ids(client, "&status=unknown,active")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_changes_without_if_match_are_428(
    client: TestClient, api_key: Headers, method: str
) -> None:
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    before = client.get(f"{URL}/{site_id}").headers["etag"]
    if method == "PUT":
        response = put(client, site_id, site_feature(*BATOURI_CMR), key, None)
    elif method == "PATCH":
        response = patch(client, site_id, {"properties": {"name": "x"}}, key, None)
    else:
        response = delete(client, site_id, key, None)
    assert response.status_code == 428
    assert response.json()["code"] == "if_match_required"
    assert client.get(f"{URL}/{site_id}").headers["etag"] == before


def test_a_write_with_an_undeclared_parameter_is_a_400_and_writes_nothing(
    client: TestClient, api_key: Headers
) -> None:
    """Writes took any query parameter and ignored it (found by a helper, with the reads of
    the landing page and collections): the item parameters GIS clients repeat pass."""
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    tag = client.get(f"{URL}/{site_id}").headers["etag"]
    body = site_feature(*BERBERATI_CAF, name="Never")
    refused = [
        client.post(f"{URL}?foo=1", json=body, headers=key),
        client.put(f"{URL}/{site_id}?foo=1", json=body, headers={**key, "If-Match": tag}),
        client.delete(f"{URL}/{site_id}?reason=x&foo=1", headers={**key, "If-Match": tag}),
    ]
    for response in refused:
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["column"] == "foo"
    assert client.get(f"{URL}/{site_id}").headers["etag"] == tag
    names = [
        f["properties"]["name"] for f in client.get(URL, params={"limit": 100}).json()["features"]
    ]
    assert "Never" not in names
    carried = client.post(f"{URL}?kind=mine", json=body, headers=key)
    assert carried.status_code == 201, carried.text


def test_if_match_forms(client: TestClient, api_key: Headers) -> None:
    key = api_key("researcher")
    site_id = create(client, key).json()["id"]
    tag = client.get(f"{URL}/{site_id}", headers=key).headers["etag"]
    weak = patch(client, site_id, {"properties": {"name": "a"}}, key, f"W/{tag}")
    assert weak.status_code == 412, "weak tags never match (strong comparison)"
    foreign = patch(client, site_id, {"properties": {"name": "a"}}, key, '"abc"')
    assert foreign.status_code == 412
    malformed = patch(client, site_id, {"properties": {"name": "a"}}, key, "v1")
    assert malformed.status_code == 400
    listed = patch(client, site_id, {"properties": {"name": "b"}}, key, f'"other", {tag}')
    assert listed.status_code == 200, "one tag of a list matching is enough"
    star = patch(client, site_id, {"properties": {"name": "c"}}, key, "*")
    assert star.status_code == 200
    assert star.json()["properties"]["name"] == "c"


def test_etags_differ_by_representation_and_both_match(
    client: TestClient, api_key: Headers
) -> None:
    """Admins read restricted attributes, the public does not: two representations of one
    state, two strong tags, either accepted."""
    admin = api_key("admin")
    site_id = create(client, admin, restricted={"workers": 40}).json()["id"]
    public = client.get(f"{URL}/{site_id}")
    full = client.get(f"{URL}/{site_id}", headers=admin)
    assert "restricted" not in public.json()["properties"]
    assert full.json()["properties"]["restricted"] == {"workers": 40}
    assert public.headers["etag"] != full.headers["etag"]
    assert "Authorization" in public.headers["vary"]
    response = patch(client, site_id, {"properties": {"name": "y"}}, admin, public.headers["etag"])
    assert response.status_code == 200


def test_patch_is_a_json_merge_patch(client: TestClient, api_key: Headers) -> None:
    key = api_key("researcher")
    created = create(
        client,
        key,
        name="Ndélé market",
        aliases=["Ndele", "Ndélé"],
        accuracy_m=15,
        location_origin="gps",
        attributes={"buyers": 3, "days": ["mon", "thu"]},
    ).json()
    change = {
        "properties": {
            "accuracy_m": None,
            "location_origin": None,
            "aliases": ["Ndele Centre"],
            "minerals": [" Diamant ", "or "],
            "attributes": {"buyers": None, "opened": 2019},
        }
    }
    response = patch(client, created["id"], change, key, '"v1"')
    assert response.status_code == 200, response.text
    props = response.json()["properties"]
    assert props["accuracy_m"] is None, "null removes an optional member"
    assert props["location_origin"] is None
    assert props["aliases"] == ["Ndele Centre"], "an array replaces, it is not merged"
    assert props["minerals"] == ["diamond", "gold"], "any language, stray spaces ignored"
    assert props["attributes"] == {"days": ["mon", "thu"], "opened": 2019}, "objects merge"
    assert props["name"] == "Ndélé market", "members left out stay"
    assert props["kind"] == created["properties"]["kind"]
    assert props["source"] == created["properties"]["source"]
    assert response.json()["geometry"] == created["geometry"]

    tag = response.headers["etag"]
    required = patch(client, created["id"], {"properties": {"name": None}}, key, tag)
    assert required.status_code == 422, "removing a required member leaves no valid site"
    wrong_type = client.patch(
        f"{URL}/{created['id']}",
        content=b'{"properties": {}}',
        headers={**key, "If-Match": tag, "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415
    as_json = client.patch(
        f"{URL}/{created['id']}",
        content=b'{"properties": {"name": "Ndele"}}',
        headers={**key, "If-Match": tag, "Content-Type": "application/json"},
    )
    assert as_json.status_code == 200


def test_put_replaces_and_keeps_what_the_writer_cannot_see(
    client: TestClient, api_key: Headers
) -> None:
    """A researcher reads the public feature (no restricted attributes), changes it and puts
    it back whole, server-computed members and links included: the restricted attributes an
    admin stored survive, optional members left out are gone."""
    admin, researcher = api_key("admin"), api_key("researcher")
    site_id = create(
        client, admin, restricted={"armed_group": "none seen"}, accuracy_m=30, source="survey 7"
    ).json()["id"]
    read = client.get(f"{URL}/{site_id}", headers=researcher)
    document = read.json()
    document["properties"]["name"] = "Renamed"
    del document["properties"]["accuracy_m"]
    response = put(client, site_id, document, researcher, read.headers["etag"])
    assert response.status_code == 200, response.text
    props = client.get(f"{URL}/{site_id}", headers=admin).json()["properties"]
    assert props["name"] == "Renamed"
    assert props["accuracy_m"] is None
    assert props["restricted"] == {"armed_group": "none seen"}
    assert props["source"] == "survey 7"

    mismatch = {**document, "id": "BL-0000000000"}
    response = put(client, site_id, mismatch, researcher, response.headers["etag"])
    assert response.status_code == 422
    assert response.json()["code"] == "id_mismatch"


def test_a_move_across_the_caf_cmr_border_is_measured_like_a_new_site(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    key = api_key("researcher")
    moved = create(client, key, at=BERBERATI_CAF, accuracy_m=25).json()
    assert moved["properties"]["country"] == "CAF"
    response = patch(
        client,
        moved["id"],
        {"geometry": {"type": "Point", "coordinates": list(BATOURI_CMR)}},
        key,
        '"v1"',
    )
    assert response.status_code == 200, response.text
    after = response.json()["properties"]
    reference_feature = create(client, key, at=BATOURI_CMR, accuracy_m=25).json()
    reference = reference_feature["properties"]
    assert after["country"] == "CMR"
    assert after["neighbour_country"] == "CAF"
    assert {name: after[name] for name in BORDER_FIGURES} == {
        name: reference[name] for name in BORDER_FIGURES
    }
    assert after["border_distance_m"] != moved["properties"]["border_distance_m"]

    def near_borders(public_id: str) -> list[tuple[str, float]]:
        rows = session.execute(
            select(SiteBorderDistance.pair_code, SiteBorderDistance.distance_m)
            .join(SiteRow, SiteRow.id == SiteBorderDistance.site_id)
            .where(SiteRow.public_id == public_id)
            .order_by(SiteBorderDistance.pair_code)
        )
        return [(pair, distance) for pair, distance in rows]

    assert near_borders(moved["id"]) == near_borders(reference_feature["id"])
    assert near_borders(moved["id"]), "the per-border distances of the new point are stored"


def test_writes_bump_the_sites_version_that_derived_data_watch(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    def sites_version() -> int:
        return session.execute(select(DatasetState.sites_version)).scalar_one()

    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    before = sites_version()
    assert patch(client, site_id, {"properties": {"name": "z"}}, key, '"v1"').status_code == 200
    middle = sites_version()
    assert middle > before
    assert delete(client, site_id, key, '"v2"').status_code == 200
    assert sites_version() > middle


def test_retired_sites_cannot_be_changed_again(client: TestClient, api_key: Headers) -> None:
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    assert delete(client, site_id, key, "*").status_code == 200
    again = delete(client, site_id, key, "*")
    assert again.status_code == 409
    assert again.json()["code"] == "site_retired"
    assert patch(client, site_id, {"properties": {"name": "x"}}, key, "*").status_code == 409


@pytest.mark.parametrize("reason", [None, "", "   ", "a\x00b", "x" * 501])
def test_retiring_needs_a_reason(client: TestClient, api_key: Headers, reason: str | None) -> None:
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    params = {} if reason is None else {"reason": reason}
    response = client.delete(f"{URL}/{site_id}", params=params, headers={**key, "If-Match": "*"})
    assert response.status_code == 400
    assert client.get(f"{URL}/{site_id}").json()["properties"]["status"] != "retired"


def test_unknown_and_read_only_targets(client: TestClient, api_key: Headers) -> None:
    key = {**api_key("admin"), "If-Match": "*"}
    missing = put(client, "BL-0000000000", site_feature(*BERBERATI_CAF), key, "*")
    assert missing.status_code == 404
    for collection in ("borders", "countries", "clusters"):
        response = client.put(
            f"/collections/{collection}/items/x", json=site_feature(1, 1), headers=key
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD, OPTIONS"
        options = client.options(f"/collections/{collection}/items/x")
        assert options.headers["allow"] == response.headers["allow"]
        assert client.delete(f"/collections/{collection}/items/x", headers=key).status_code == 405
    assert client.post("/collections/countries/items", json={}, headers=key).status_code == 405
    assert client.post("/collections/nowhere/items", json={}, headers=key).status_code == 404


def test_retired_sites_are_left_off_the_map_unless_asked(
    client: TestClient, api_key: Headers
) -> None:
    key = api_key("admin")
    site_id = create(client, key, name="Mbaéré retired comptoir").json()["id"]
    assert delete(client, site_id, key, "*").status_code == 200
    plain = client.get("/maps/sites?lang=en")
    asked = client.get("/maps/sites?lang=en&include_retired=true")
    assert plain.status_code == asked.status_code == 200
    assert site_id not in plain.text
    assert site_id in asked.text


# -- bodies: never a 500, nothing stored --------------------------------------------------

BAD_RAW_BODIES = {
    "escaped NUL in name": b'{"type":"Feature","geometry":{"type":"Point","coordinates":[15,4]},'
    b'"properties":{"kind":"mine","name":"a\\u0000b"}}',
    "NUL in an attribute key": b'{"properties":{"attributes":{"a\\u0000":1}}}',
    "raw NUL byte": b'{"properties":{"name":"a\x00b"}}',
    "lone surrogate": b'{"properties":{"name":"\\ud800"}}',
    "number beyond a double": b'{"properties":{"accuracy_m":1e400}}',
    "integer of 5000 digits": b'{"properties":{"attributes":{"n":' + b"9" * 5000 + b"}}}",
    "huge integer coordinate": b'{"geometry":{"type":"Point","coordinates":['
    + b"9" * 400
    + b",4]}}",
    "NaN": b'{"properties":{"accuracy_m":NaN}}',
    "deep nesting": b'{"properties":{"attributes":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}}",
    "not UTF-8": b'{"properties":{"name":"\xff\xfe"}}',
    "empty": b"",
    "array": b"[]",
    "string": b'"Feature"',
    "null": b"null",
    "name of wrong type": b'{"properties":{"name":5}}',
    "minerals of wrong type": b'{"properties":{"minerals":"gold"}}',
    "coordinates of wrong type": b'{"geometry":{"type":"Point","coordinates":"15,4"}}',
    "properties of wrong type": b'{"properties":[]}',
    "unknown mineral with spaces": b'{"properties":{"minerals":["  unobtainium "]}}',
    "status retired": b'{"properties":{"status":"retired"}}',
    "type changed": b'{"type":"FeatureCollection"}',
}


@pytest.mark.parametrize("raw", BAD_RAW_BODIES.values(), ids=BAD_RAW_BODIES.keys())
@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST"])
def test_bad_bodies_are_4xx_and_change_nothing(
    client: TestClient, api_key: Headers, raw: bytes, method: str
) -> None:
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    before = client.get(f"{URL}/{site_id}")
    media = MERGE_PATCH if method == "PATCH" else "application/geo+json"
    headers = {**key, "Content-Type": media, "If-Match": before.headers["etag"]}
    url = URL if method == "POST" else f"{URL}/{site_id}"
    response = client.request(method, url, content=raw, headers=headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    after = client.get(f"{URL}/{site_id}")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.content == before.content


def test_large_integers_that_fit_are_kept_exactly(client: TestClient, api_key: Headers) -> None:
    """Within 64 bits kept exactly; beyond, a 422 (rel-03: no JSON writer takes them)."""
    key = api_key("admin")
    site_id = create(client, key).json()["id"]
    beyond = b'{"properties":{"attributes":{"n":' + str(2**70).encode() + b"}}}"
    refused = client.patch(
        f"{URL}/{site_id}",
        content=beyond,
        headers={**key, "Content-Type": MERGE_PATCH, "If-Match": "*"},
    )
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_body"
    big = 2**62 + 1
    raw = b'{"properties":{"attributes":{"licence_no":' + str(big).encode() + b"}}}"
    response = client.patch(
        f"{URL}/{site_id}",
        content=raw,
        headers={**key, "Content-Type": MERGE_PATCH, "If-Match": "*"},
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.content)["properties"]["attributes"]["licence_no"] == big


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    *("type", "geometry", "properties", "coordinates", "name", "kind"),
                    *("minerals", "aliases", "status", "accuracy_m", "attributes"),
                    *("restricted", "observed_on"),
                ]
            )
            | st.text(max_size=6),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(patch_body=JSON_VALUES)
def test_any_merge_patch_is_answered_without_a_500(
    client: TestClient, api_key: Headers, patch_body: Any
) -> None:
    key = api_key("researcher")
    site_id = create(client, key).json()["id"]
    response = patch(client, site_id, patch_body, key, "*")
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code == 200:
        assert_feature(response.json())


def test_merge_patch_follows_rfc_7396_examples() -> None:
    """The test cases of RFC 7396 appendix A."""
    cases = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch_doc, expected in cases:
        assert site_edits.apply_merge_patch(target, patch_doc) == expected


def test_openapi_documents_the_operations(client: TestClient) -> None:
    document = client.get("/api").json()
    item = document["paths"]["/collections/sites/items/{featureId}"]
    for method in ("put", "patch", "delete"):
        statuses = set(item[method]["responses"])
        assert {"200", "400", "401", "403", "404", "412", "428"} <= statuses, method
        assert method == "delete" or "422" in statuses, method
        names = {parameter["name"] for parameter in item[method]["parameters"]}
        assert "If-Match" in names
    assert set(item["put"]["requestBody"]["content"]) == {
        "application/geo+json",
        "application/json",
    }
    assert set(item["patch"]["requestBody"]["content"]) == {MERGE_PATCH, "application/json"}
    assert "415" in item["put"]["responses"]
    assert "reason" in {parameter["name"] for parameter in item["delete"]["parameters"]}
    created = document["paths"]["/collections/sites/items"]["post"]
    assert "application/geo+json" in created["requestBody"]["content"]
    read_only = document["paths"]["/collections/borders/items/{featureId}"]
    assert set(read_only) == {"get"}, "writes are documented where they are served"
    assert "post" not in document["paths"]["/collections/borders/items"]


# -- concurrency, on committed data through real connections -----------------------------


@pytest.fixture
def committed(database_copy: Callable[[str], str], cache_dir: Path) -> Iterator[str]:
    yield database_copy("txn")


def test_concurrent_puts_with_one_tag_one_wins(committed: str, cache_dir: Path) -> None:
    """Two clients hold the same ETag and PUT at the same moment, each request on its own
    database connection: exactly one succeeds, the other gets 412, nothing is half-written."""
    app = create_app(settings_for(committed, cache_dir))
    engine = make_engine(committed, pool_size=1)
    with make_sessionmaker(engine)() as session:
        key = key_service.create_key(session, name="t", role="researcher", countries=[]).key
    engine.dispose()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        for round_ in range(4):
            site_id = create(client, headers, name=f"round {round_}").json()["id"]
            tag = client.get(f"{URL}/{site_id}").headers["etag"]
            barrier = threading.Barrier(2)
            statuses: dict[str, int] = {}

            def write(
                name: str,
                site_id: str,
                tag: str,
                barrier: threading.Barrier,
                statuses: dict[str, int],
            ) -> None:
                barrier.wait(timeout=30)
                body = site_feature(*BATOURI_CMR, name=name)
                statuses[name] = put(client, site_id, body, headers, tag).status_code

            threads = [
                threading.Thread(target=write, args=(n, site_id, tag, barrier, statuses))
                for n in ("A", "B")
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(statuses.values()) == [200, 412], statuses
            winner = next(name for name, status in statuses.items() if status == 200)
            final = client.get(f"{URL}/{site_id}")
            assert final.json()["properties"]["name"] == winner
            assert final.headers["etag"] == '"v2"', "one write, one new version"


def test_a_writer_waiting_for_the_row_sees_the_new_version_and_fails(
    committed: str, cache_dir: Path
) -> None:
    """Forced overlap: A holds the row (inside its change) while B, with the same tag, waits
    for it (at the area A holds first, site_edits._hold_area); when A commits, B finds a
    newer version and fails, and A's change stands."""
    engine = make_engine(committed, pool_size=3)
    sessions = make_sessionmaker(engine)
    caller = Caller(role="researcher", name="t")
    with sessions() as session:
        boundaries = BoundaryCache().current(session)
        assert boundaries is not None
        draft = SiteDraft(kind="mine", name="shared", lon=BERBERATI_CAF[0], lat=BERBERATI_CAF[1])
        written = site_edits.create(session, boundaries, draft, caller)
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    applied = [0]

    def slow(current: CurrentSite) -> SiteDraft:
        # an edit applies its change twice: to find where the site goes (the area it holds),
        # then to the locked row; the second is inside the locks
        applied[0] += 1
        if applied[0] == 2:
            holding.set()
            release.wait(timeout=30)
        return replace(current.draft, name="A")

    def fast(current: CurrentSite) -> SiteDraft:
        return replace(current.draft, name="B")

    def run(label: str, change: site_edits.Change) -> None:
        with sessions() as session:
            try:
                outcome[label] = site_edits.edit_site(
                    session,
                    boundaries,
                    written.public_id,
                    Precondition(frozenset({written.version})),
                    change,
                    caller,
                ).version
            except PreconditionFailed:
                outcome[label] = 412

    libpq = committed.replace("postgresql+psycopg://", "postgresql://")
    first = threading.Thread(target=run, args=("A", slow))
    first.start()
    assert holding.wait(timeout=30)
    second = threading.Thread(target=run, args=("B", fast))
    second.start()
    with psycopg.connect(libpq, autocommit=True) as watcher:
        deadline = time.monotonic() + 30
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        ).fetchone():
            assert time.monotonic() < deadline, "B never waited for A's row lock"
            time.sleep(0.02)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert outcome == {"A": written.version + 1, "B": 412}
    with sessions() as session:
        name = session.execute(
            text("SELECT name FROM sites WHERE public_id = :id"), {"id": written.public_id}
        ).scalar_one()
    assert name == "A"
    engine.dispose()


def test_a_retired_site_takes_no_new_visits(client: TestClient, api_key: Headers) -> None:
    """A survey row at a retired site's place makes a new site instead of matching it."""
    key = api_key("researcher")
    site_id = create(client, key, name="Chantier Bania", at=(16.0521, 3.8410)).json()["id"]
    survey = b"name,kind,longitude,latitude\nChantier Bania,chantier,16.0522,3.8411\n"
    before = client.post(
        "/uploads", files={"file": ("a.csv", survey)}, data={"dry_run": "true"}, headers=key
    )
    assert before.status_code in (200, 201), before.text
    assert before.json()["rows"][0]["outcome"] == "matched", "the test's premise: it matches"
    assert delete(client, site_id, key, "*", reason="closed in 2024").status_code == 200
    after = client.post("/uploads", files={"file": ("b.csv", survey)}, headers=key)
    assert after.status_code == 201, after.text
    row = after.json()["rows"][0]
    assert row["outcome"] == "created"
    assert row["site"] != site_id
