"""``/subscriptions``: who may subscribe, the secret shown once, pause/resume/delete, events
and dead letters through the API, the HTML page, and receivers that are refused."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.api.deps import get_read_session, get_session, get_session_factory
from app.collections.parsing import BIGINT_MAX
from app.db import deliveries
from app.main import create_app
from app.settings import Settings
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def alerts_client(settings: Settings, session: Session) -> TestClient:
    allowed = settings.model_copy(
        update={"webhook_allowed_hosts": ["127.0.0.1", "localhost", "*.hooks.test"]}
    )
    application: FastAPI = create_app(allowed)
    application.dependency_overrides[get_session] = lambda: session
    application.dependency_overrides[get_read_session] = lambda: session
    application.dependency_overrides[get_session_factory] = lambda: (
        lambda: contextlib.nullcontext(session)
    )
    return TestClient(application)


def _subscribe(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    payload = {
        "name": "CMR watch",
        "criteria": {"country": "CMR"},
        "events": ["site.created"],
        **body,
    }
    return client.post("/subscriptions", json=payload, headers=headers)


def test_an_authority_subscribes_and_gets_the_secret_once(
    alerts_client: TestClient, api_key: Headers
) -> None:
    headers = api_key("authority")
    created = _subscribe(alerts_client, headers, webhook_url="http://127.0.0.1:9/hook")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["status"] == "active"
    assert created.headers["location"].endswith(f"/subscriptions/{body['id']}")
    listed = alerts_client.get("/subscriptions", headers=headers).json()["subscriptions"]
    assert [s["id"] for s in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in alerts_client.get(f"/subscriptions/{body['id']}", headers=headers).json()
    assert body["batch_max_events"] == 1  # one event per message unless asked


def test_a_subscription_may_take_its_events_in_batches(
    alerts_client: TestClient, api_key: Headers
) -> None:
    headers = api_key("authority")
    created = _subscribe(
        alerts_client, headers, webhook_url="http://127.0.0.1:9/hook", batch_max_events=250
    )
    assert created.status_code == 201, created.text
    read = alerts_client.get(f"/subscriptions/{created.json()['id']}", headers=headers).json()
    assert read["batch_max_events"] == 250
    page = alerts_client.get("/subscriptions?f=html&lang=pt", headers=headers)
    assert "em lotes de até 250 eventos" in page.text


def test_matching_sites_counts_the_same_whichever_events(
    alerts_client: TestClient, api_key: Headers
) -> None:
    """A subscription to site.entered lists the sites matching now; its count was the
    driver's rowcount of that INSERT ... SELECT, -1."""
    researcher = api_key("researcher")
    for name in ("M1", "M2"):
        made = alerts_client.post(
            "/collections/sites/items",
            json=site_feature(*BATOURI_CMR, name=name),
            headers=researcher,
        )
        assert made.status_code == 201, made.text
    counts = {
        events: _subscribe(alerts_client, api_key("authority"), events=list(events)).json()[
            "matching_sites"
        ]
        for events in (("site.created",), ("site.entered",), ("site.created", "site.entered"))
    }
    assert set(counts.values()) == {counts[("site.created",)]}, counts
    assert counts[("site.created",)] >= 2


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("researcher", 403)])
def test_only_authorities_and_admins_subscribe(
    alerts_client: TestClient, api_key: Headers, role: str | None, status: int
) -> None:
    headers = api_key(role) if role else {}
    assert _subscribe(alerts_client, headers).status_code == status
    assert alerts_client.get("/subscriptions", headers=headers).status_code == status
    assert alerts_client.get("/events", headers=headers).status_code == status


def test_keys_see_only_their_own_subscriptions(alerts_client: TestClient, api_key: Headers) -> None:
    mine, theirs, admin = api_key("authority"), api_key("authority"), api_key("admin")
    own = _subscribe(alerts_client, mine).json()["id"]
    assert alerts_client.get(f"/subscriptions/{own}", headers=theirs).status_code == 404
    assert alerts_client.delete(f"/subscriptions/{own}", headers=theirs).status_code == 404
    listed = alerts_client.get("/subscriptions", headers=admin).json()["subscriptions"]
    assert own in [s["id"] for s in listed]


def test_pause_resume_delete(alerts_client: TestClient, api_key: Headers, session: Session) -> None:
    authority, writer = api_key("authority"), api_key("researcher")
    sub = _subscribe(alerts_client, authority).json()["id"]
    paused = alerts_client.post(f"/subscriptions/{sub}/pause", headers=authority)
    assert paused.json()["status"] == "paused"
    alerts_client.post(
        "/collections/sites/items", json=site_feature(*BATOURI_CMR, name="A"), headers=writer
    )
    assert alerts_client.get(f"/subscriptions/{sub}/events", headers=authority).json() == {
        "events": []
    }
    resumed = alerts_client.post(f"/subscriptions/{sub}/resume", headers=authority)
    assert resumed.json()["status"] == "active"
    alerts_client.post(
        "/collections/sites/items", json=site_feature(*BATOURI_CMR, name="B"), headers=writer
    )
    alerts_client.post(
        "/collections/sites/items", json=site_feature(*BERBERATI_CAF, name="C"), headers=writer
    )
    events = alerts_client.get(f"/subscriptions/{sub}/events", headers=authority).json()["events"]
    assert [e["payload"]["data"]["properties"]["name"] for e in events] == ["B"]
    assert events[0]["status"] == "stream" and events[0]["id"].startswith("msg_")
    assert alerts_client.delete(f"/subscriptions/{sub}", headers=authority).status_code == 204
    assert alerts_client.get(f"/subscriptions/{sub}", headers=authority).status_code == 404
    left = "SELECT (SELECT count(*) FROM alert_events) + (SELECT count(*) FROM alert_event_groups)"
    assert session.execute(text(left)).scalar_one() == 0


def test_dead_letters_are_listed_and_resent(
    alerts_client: TestClient, api_key: Headers, session: Session
) -> None:
    authority, writer = api_key("authority"), api_key("researcher")
    sub = _subscribe(alerts_client, authority, webhook_url="http://127.0.0.1:9/hook").json()["id"]
    alerts_client.post(
        "/collections/sites/items", json=site_feature(*BATOURI_CMR, name="A"), headers=writer
    )
    # its one try failed, and tries are exhausted: a dead letter
    [first] = deliveries.lock_due(session, 20)
    deliveries.mark_failed(session, [(first, None)], "HTTP 503")
    deliveries.advance_groups(session, [first])
    dead = alerts_client.get(f"/subscriptions/{sub}/events?status=dead", headers=authority)
    [letter] = dead.json()["events"]
    unknown = alerts_client.post(
        f"/subscriptions/{sub}/redeliver?event=msg_{'0' * 32}", headers=authority
    )
    assert unknown.status_code == 404
    again = alerts_client.post(
        f"/subscriptions/{sub}/redeliver?event={letter['id']}", headers=authority
    )
    assert again.json() == {"redelivered": 1}
    [pending] = alerts_client.get(f"/subscriptions/{sub}/events", headers=authority).json()[
        "events"
    ]
    assert (pending["id"], pending["status"], pending["attempts"]) == (letter["id"], "pending", 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "http://example.org/hook",  # not an allowed host
        "http://169.254.169.254/latest/meta-data",  # metadata (and not allowed)
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1:8080/hook",
        "http://127.0.0.1:99999/hook",
        "http://127.0.0.1:0/hook",  # read as no port, it was checked as port 80
        "http://localhost:{db_port}/",  # the database's own port
        "http://127.0.0.1:{db_port}/",
        # broken bracketed addresses: a 500 from the URL parser (found by a helper)
        "http://[::1",
        "http://[zz]/",
        "http://a]b/",
        "http://[::1]x/",  # read as [::1], the rest dropped, and named as the host
    ],
)
def test_receivers_that_are_refused(
    alerts_client: TestClient, api_key: Headers, settings: Settings, url: str
) -> None:
    from sqlalchemy.engine import make_url

    assert settings.database_url is not None
    db_port = make_url(settings.database_url).port or 5432
    answer = _subscribe(alerts_client, api_key("admin"), webhook_url=url.format(db_port=db_port))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "webhook_url_refused"


def test_a_checked_target_carries_the_addresses_a_delivery_connects_to() -> None:
    from app.services import webhook_targets

    target = webhook_targets.resolve_target("http://localhost:8080/x", ["localhost"], None)
    assert target.host == "localhost" and target.port == 8080
    assert target.addresses and all(a.is_loopback for a in target.addresses)
    assert len(set(target.addresses)) == len(target.addresses)


def test_a_link_local_address_is_refused_even_for_an_allowed_name() -> None:
    from app.errors import InvalidBody
    from app.services import webhook_targets

    with pytest.raises(InvalidBody, match="link-local"):
        webhook_targets.check("http://169.254.10.1/x", ["169.254.10.1"], None)
    with pytest.raises(InvalidBody, match="metadata"):
        webhook_targets.check("http://169.254.169.254/x", ["*"], None)
    with pytest.raises(InvalidBody, match="link-local"):
        webhook_targets.check("http://[fe80::1]/x", ["*"], None)
    assert webhook_targets.check("http://127.0.0.1:8080/x", ["127.0.0.1"], None)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        # the database's address written as IPv6 carrying IPv4 (a helper's POSTs reached
        # PostgreSQL this way with every host allowed)
        ("http://[::ffff:127.0.0.1]:{db_port}/", "database"),
        ("http://[::ffff:7f00:1]:{db_port}/", "database"),
        ("http://[::127.0.0.1]:{db_port}/", "database"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://[::ffff:169.254.10.1]/", "link-local"),
        ("http://192.0.0.192/", "metadata"),  # Oracle Cloud
        ("http://168.63.129.16/", "metadata"),  # Azure wire server
    ],
)
def test_an_address_is_checked_as_the_host_it_reaches_whatever_its_form(url: str, why: str) -> None:
    from app.errors import InvalidBody
    from app.services import webhook_targets

    db_port = _free_port()
    database_url = f"postgresql://u@127.0.0.1:{db_port}/db"
    target = url.format(db_port=db_port)
    # the host listed by itself, so that a loopback address is not refused for being one
    allowed = ["*", str(urlsplit(target).hostname)]
    with pytest.raises(InvalidBody, match=why):
        webhook_targets.check(target, allowed, database_url)
    # another port of the same host is a receiver like any other
    mapped = f"http://[::ffff:127.0.0.1]:{db_port + 1}/"
    other = webhook_targets.check(mapped, ["::ffff:127.0.0.1"], database_url)
    assert other.endswith(f":{db_port + 1}/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1:8080/hook",
        "http://127.9.9.9:8080/hook",
        "http://localhost:8080/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]:8080/hook",
        "http://[::ffff:7f00:1]:8080/hook",
    ],
)
@pytest.mark.parametrize("allowed", [["*"], ["*.hooks.test", "*"]])
def test_a_wildcard_never_allows_a_loopback_address(url: str, allowed: list[str]) -> None:
    """["*"] let a webhook go to 127.0.0.1, ::1, localhost: this machine's own services
    (found by a helper). Only a host listed by itself may be loopback."""
    from app.errors import InvalidBody
    from app.services import webhook_targets

    with pytest.raises(InvalidBody, match="loopback address") as raised:
        webhook_targets.check(url, allowed, None)
    assert raised.value.code == "webhook_url_refused"
    host = str(urlsplit(url).hostname)
    assert webhook_targets.check(url, [host], None) == url
    assert webhook_targets.check(url, ["*", host], None) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://172.16.0.5:8080/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:192.168.1.10]/hook",
    ],
)
def test_a_wildcard_never_allows_a_private_address(url: str) -> None:
    """A wildcard means hosts on the internet: ["*"] let a webhook reach the private network
    around the server (a LAN's printers and routers, a cloud VPC's other services; found by
    a helper beside loopback). A host listed by itself may be private (an office receiver)."""
    from app.errors import InvalidBody
    from app.services import webhook_targets

    with pytest.raises(InvalidBody, match="non-public address") as raised:
        webhook_targets.check(url, ["*"], None)
    assert raised.value.code == "webhook_url_refused"
    host = str(urlsplit(url).hostname)
    assert webhook_targets.check(url, [host], None) == url


def test_a_name_a_wildcard_allows_is_refused_when_it_resolves_to_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checked on the addresses the name resolves to (at subscription and before each
    delivery), not on the name: a subdomain pointed at 127.0.0.1 is refused."""
    from app.errors import InvalidBody
    from app.services import webhook_targets

    def resolve(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        assert host == "rebound.hooks.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    url = "https://rebound.hooks.test/hook"
    with pytest.raises(InvalidBody, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        webhook_targets.resolve_target(url, ["*.hooks.test"], None)
    with pytest.raises(InvalidBody, match="loopback address"):
        webhook_targets.resolve_target(url, ["*"], None)
    listed = webhook_targets.resolve_target(url, ["rebound.hooks.test"], None)
    assert [str(a) for a in listed.addresses] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ({"criteria": {"country": "ZZZ"}}, "criteria.country"),
        ({"criteria": {"filter": "nope >"}}, "criteria.filter"),
        ({"criteria": {"within_km": "far"}}, "criteria.within_km"),
        ({"events": ["site.exploded"]}, None),
        ({"events": []}, None),
        ({"name": ""}, None),
        ({"batch_max_events": 0}, None),
        ({"batch_max_events": 1001}, None),
        ({"batch_max_events": "many"}, None),
        # a number as JSON spells it, nothing lax parsing would turn into one
        ({"batch_max_events": "5", "webhook_url": "http://127.0.0.1:9/hook"}, None),
        ({"batch_max_events": True, "webhook_url": "http://127.0.0.1:9/hook"}, None),
        ({"batch_max_events": 2.0, "webhook_url": "http://127.0.0.1:9/hook"}, None),
        ({"batch_max_events": "1_000", "webhook_url": "http://127.0.0.1:9/hook"}, None),
        # batches are a webhook's: the SSE stream has none
        ({"batch_max_events": 5}, None),
        # a misspelt member is named, not dropped (the subscription had no webhook, 201)
        ({"webhookurl": "http://127.0.0.1:9/hook"}, "webhookurl"),
        ({"batch_max_event": 500}, "batch_max_event"),
    ],
)
def test_bad_bodies_are_422_naming_what(
    alerts_client: TestClient, api_key: Headers, body: dict[str, Any], column: str | None
) -> None:
    answer = _subscribe(alerts_client, api_key("authority"), **body)
    assert answer.status_code == 422, answer.text
    if column:
        assert answer.json()["errors"][0]["column"] == column


@pytest.mark.parametrize(
    "last_event_id",
    # over a bigint (20 digits once passed the length check: a 500 in the stream), one
    # past the largest, not a number
    ["99999999999999999999", "9223372036854775808", "abc", "-1", "1.5"],
)
def test_a_last_event_id_that_is_no_event_id_is_400(
    alerts_client: TestClient, api_key: Headers, last_event_id: str
) -> None:
    answer = alerts_client.get(
        "/events", headers={**api_key("authority"), "Last-Event-ID": last_event_id}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "invalid_parameter"
    assert "Last-Event-ID" in answer.text


SEQUENCE_WORDS = f"a non-negative integer event id, at most {BIGINT_MAX}"


@pytest.mark.parametrize(
    "value", [str(BIGINT_MAX + 1), "99999999999999999999", "-1", "abc", "1.5", "+1"]
)
def test_after_and_last_event_id_share_one_bound_and_one_message(
    alerts_client: TestClient, api_key: Headers, value: str
) -> None:
    """``after`` stopped at 2**62 with pydantic's words, Last-Event-ID at 2**63 - 1 with
    its own: an event's sequence is read once, up to the largest bigint."""
    headers = api_key("authority")
    sub = _subscribe(alerts_client, headers).json()["id"]
    listed = alerts_client.get(
        f"/subscriptions/{sub}/events", params={"after": value}, headers=headers
    )
    streamed = alerts_client.get("/events", headers={**headers, "Last-Event-ID": value})
    for answer, name in ((listed, "after"), (streamed, "Last-Event-ID")):
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"] == f"{name}: {SEQUENCE_WORDS}"


def test_after_takes_every_event_id_up_to_the_largest_bigint(
    alerts_client: TestClient, api_key: Headers
) -> None:
    headers = api_key("authority")
    sub = _subscribe(alerts_client, headers).json()["id"]
    for after in (0, 2**62 + 1, BIGINT_MAX):
        answer = alerts_client.get(f"/subscriptions/{sub}/events?after={after}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["events"] == []


def test_the_html_page_lists_subscriptions_in_french(
    alerts_client: TestClient, api_key: Headers
) -> None:
    headers = api_key("authority")
    _subscribe(alerts_client, headers, name="Frontière RCA")
    page = alerts_client.get("/subscriptions?f=html&lang=fr", headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Vos abonnements aux alertes" in page.text and "Frontière RCA" in page.text


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ({"name": "a\u0000b"}, "name"),
        ({"name": "a\ud800b"}, "name"),
        ({"criteria": {"filter": "name = 'a\u0000b'"}}, "criteria.filter"),
        # a lone surrogate anywhere in the free-form criteria: 500s (found by a helper)
        ({"criteria": {"\ud800": 1}}, "criteria"),
        ({"criteria": {"zone": "\ud800"}}, "criteria.zone"),
        ({"criteria": {"zone": ["ZN-\ud800"]}}, "criteria.zone"),
        (
            {"criteria": {"filter": {"op": "=", "args": [{"property": "name"}, "\ud800"]}}},
            "criteria.filter",
        ),
        ({"criteria": {"filter": {"op": "\ud800", "args": []}}}, "criteria.filter"),
        (
            {
                "criteria": {
                    "filter": {"op": "=", "args": [{"property": "name"}, "a\u0000b"]},
                    "filter-lang": "cql2-json",
                }
            },
            "criteria.filter",
        ),
    ],
)
def test_text_postgresql_cannot_hold_is_422_not_500(
    alerts_client: TestClient, api_key: Headers, body: dict[str, Any], column: str
) -> None:
    """A NUL (or a lone surrogate) in a name or in a filter's string is refused naming it
    (found by a helper: a 500 when the subscription was stored)."""
    import json

    payload = {"name": "watch", "criteria": {}, "events": ["site.created"], **body}
    answer = alerts_client.post(
        "/subscriptions",
        content=json.dumps(payload),  # \u0000 and \ud800 escaped, as a client sends them
        headers={**api_key("authority"), "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert column in answer.text, problem


def test_a_filter_string_with_a_nul_is_a_400_on_the_items_too(
    alerts_client: TestClient,
) -> None:
    answer = alerts_client.get("/collections/sites/items", params={"filter": "name = 'a\x00b'"})
    assert answer.status_code == 400, answer.text
    assert "control characters" in answer.json()["detail"]


DWITHIN_JSON = {
    "op": "s_dwithin",
    "args": [
        {"property": "geometry"},
        {"type": "Point", "coordinates": [15, 4]},
        10,
        {"property": "miles"},
    ],
}


@pytest.mark.parametrize(
    ("criteria", "shown"),
    [
        ({"filter": "S_DWITHIN(geometry, POINT(15 4), 10, miles)"}, "unit miles unknown"),
        ({"filter": DWITHIN_JSON}, 'unit {"property": "miles"} unknown'),
    ],
)
def test_a_filter_error_shows_the_filter_as_written(
    alerts_client: TestClient, api_key: Headers, criteria: dict[str, Any], shown: str
) -> None:
    """A wrong unit showed as a Python dict ({'property': 'miles'})."""
    answer = _subscribe(alerts_client, api_key("authority"), criteria=criteria)
    assert answer.status_code == 422, answer.text
    assert shown in answer.json()["detail"] and "{'" not in answer.text


def test_a_filter_error_on_the_items_shows_the_filter_as_written(
    alerts_client: TestClient,
) -> None:
    text = "S_DWITHIN(geometry, POINT(15 4), 10, miles)"
    answer = alerts_client.get("/collections/sites/items", params={"filter": text})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["message"] == (
        "S_DWITHIN: unit miles unknown; use meters, metres, m, kilometers, kilometres, km"
    )


@pytest.mark.parametrize(
    ("criteria", "detail"),
    [
        ({"within_km": True}, "criteria.within_km: must be a number of km, not a boolean"),
        ({"within_km": [1]}, "criteria.within_km: must be a number of km, not a list"),
        (
            {"border": True},
            "criteria.border: must be a string: a border pair (CAF-CMR) or a country (CMR), "
            "not a boolean",
        ),
        (
            {"border": ["CAF-CMR"]},
            "criteria.border: must be a string: a border pair (CAF-CMR) or a country (CMR), "
            "not a list",
        ),
        (
            {"country": 5},
            "criteria.country: must be a string (values comma-separated) or a non-empty list "
            "of strings, not a number",
        ),
        (
            {"kind": []},
            "criteria.kind: must be a string (values comma-separated) or a non-empty list "
            "of strings, not a list",
        ),
        ({"in_zone": 1}, "criteria.in_zone: must be true or false, not a number"),
        ({"in_zone": None}, "criteria.in_zone: must be true or false, not null"),
    ],
)
def test_each_criterion_says_its_own_shape(
    alerts_client: TestClient, api_key: Headers, criteria: dict[str, Any], detail: str
) -> None:
    """within_km: true was told "a string, a number or a list of strings" (a list is no
    distance); each shortcut names what it takes."""
    answer = _subscribe(alerts_client, api_key("authority"), criteria=criteria)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == detail


@pytest.mark.parametrize(
    "criteria",
    [{"within_km": 5}, {"within_km": 2.5}, {"within_km": "5"}, {"country": ["CMR", "CAF"]}],
)
def test_criteria_of_the_right_shape_are_taken(
    alerts_client: TestClient, api_key: Headers, criteria: dict[str, Any]
) -> None:
    answer = _subscribe(alerts_client, api_key("authority"), criteria=criteria)
    assert answer.status_code == 201, answer.text


GEOMETRY = {"property": "geometry"}
POINT = {"type": "Point", "coordinates": [15, 4]}


@pytest.mark.parametrize(
    ("cql2_json", "needle"),
    [
        ({"op": "s_intersects", "args": [GEOMETRY, {"bbox": [True, 0, 20, 10]}]}, "BBOX"),
        ({"op": "s_dwithin", "args": [GEOMETRY, POINT, True]}, "distance must be a number"),
        ({"op": "<", "args": [{"property": "accuracy_m"}, True]}, "cannot compare"),
    ],
)
def test_a_boolean_is_no_number_in_a_filter(
    alerts_client: TestClient, api_key: Headers, cql2_json: dict[str, Any], needle: str
) -> None:
    """A BBOX of [true, 0, 20, 10] was the box from longitude 1 (true is an int in Python)."""
    answer = _subscribe(alerts_client, api_key("authority"), criteria={"filter": cql2_json})
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["detail"]


def test_the_html_page_shows_criteria_as_json_text_escaped_once(
    alerts_client: TestClient, api_key: Headers
) -> None:
    """Criteria showed as \\u0027 and \\u003c (Jinja's tojson, meant for scripts): they are
    the JSON text as written, escaped once as any text of the page; a name's markup is
    text too."""
    import html
    import re

    headers = api_key("authority")
    criteria = {"filter": "name = 'Bétaré <Oya> & co'"}
    made = _subscribe(alerts_client, headers, name="<script>alert(1)</script>", criteria=criteria)
    assert made.status_code == 201, made.text
    page = alerts_client.get("/subscriptions?f=html", headers=headers).text
    cells = re.findall(r"<td><code>(.*?)</code></td>", page)
    assert [html.unescape(cell) for cell in cells] == ['{"filter": "name = \'Bétaré <Oya> & co\'"}']
    assert "\\u00" not in page and "&amp;#" not in page and "&amp;amp;" not in page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_filter_lang_criterion_without_a_filter_is_a_422(
    alerts_client: TestClient, api_key: Headers
) -> None:
    criteria = {"filter-lang": "cql2-json", "country": "CMR"}
    answer = _subscribe(alerts_client, api_key("authority"), criteria=criteria)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "criteria.filter-lang: filter is missing: filter-lang only says how filter is read"
    )
