"""Restricted values: every read path by every role by country scope, and the audit log.

One upload declares ``restricted=workers,armed_group``: two sites in the Central African
Republic, two in Cameroon. Each restricted value carries its country in a marker
(``SECRETCAF``), each site its country in its name (``NAMECAF``), so a body shows which
countries' sites it holds and whose restricted values it revealed. For every read path and
caller: the restricted values shown are exactly those of the countries the caller may see
among the sites shown, and the audit entry of that request records exactly those countries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
COUNTRIES = ("CAF", "CMR")
POINTS = {"CAF": [(16.100, 3.900), (16.103, 3.902)], "CMR": [(13.400, 9.300), (13.403, 9.302)]}


def survey() -> bytes:
    lines = ["name,lon,lat,date,kind,minerals,workers,armed_group,notes"]
    for country, points in POINTS.items():
        for i, (lon, lat) in enumerate(points):
            lines.append(
                f"NAME{country} {i},{lon},{lat},2024-03-0{i + 1},mine,or,"
                f"SECRET{country} {i},SECRET{country} armed,NOTE{country}"
            )
    return ("\n".join(lines) + "\n").encode()


#: role, authority/researcher scope -> countries whose restricted values it may see
CALLERS: dict[str, tuple[str | None, list[str], set[str]]] = {
    "anonymous": (None, [], set()),
    "researcher": ("researcher", [], set()),
    "authority CAF": ("authority", ["CAF"], {"CAF"}),
    "authority CMR": ("authority", ["CMR"], {"CMR"}),
    "authority (all)": ("authority", [], {"CAF", "CMR"}),
    "admin": ("admin", [], {"CAF", "CMR"}),
}


@dataclass(frozen=True)
class ReadPath:
    urls: Callable[[dict[str, Any]], list[str]]
    reveals: bool = True  # False: the output never shows restricted values (map popups)
    #: The audit log counts what was read for the answer: HTML lists read the features with
    #: the caller's restricted values but show a table without them; the log then says
    #: "revealed" (it may over-report, never under-report).
    read_unshown: bool = False


def _site_items(_: dict[str, Any]) -> list[str]:
    return ["/collections/sites/items?limit=100"]


READ_PATHS: dict[str, ReadPath] = {
    "items": ReadPath(_site_items),
    "item": ReadPath(lambda up: [f"/collections/sites/items/{s}" for s in up["sites"]]),
    "observations": ReadPath(lambda up: [f"/collections/observations/items?upload={up['id']}"]),
    "observation": ReadPath(
        lambda up: [f"/collections/observations/items/{up['id']}-{row}" for row in (2, 4)]
    ),
    "items html": ReadPath(
        lambda _: ["/collections/sites/items?limit=100&f=html"], reveals=False, read_unshown=True
    ),
    "item html": ReadPath(lambda up: [f"/collections/sites/items/{s}?f=html" for s in up["sites"]]),
    "observations html": ReadPath(
        lambda up: [f"/collections/observations/items?upload={up['id']}&f=html"],
        reveals=False,
        read_unshown=True,
    ),
    **{
        f"export {fmt}": ReadPath(lambda _, fmt=fmt: [f"/collections/sites/items?f={fmt}"])
        for fmt in ("csv", "kml", "gpkg", "fgb")
    },
    "observations export csv": ReadPath(
        lambda up: [f"/collections/observations/items?upload={up['id']}&f=csv"]
    ),
    "history": ReadPath(lambda up: [f"/collections/sites/items/{s}/history" for s in up["sites"]]),
    "history html": ReadPath(
        lambda up: [f"/collections/sites/items/{s}/history?f=html" for s in up["sites"]],
        reveals=False,
        read_unshown=True,
    ),
    "items as_of": ReadPath(
        lambda up: [f"/collections/sites/items?limit=100&as_of={up['dataset_version']}"]
    ),
    "map of sites": ReadPath(lambda _: ["/maps/sites"], reveals=False),
    "clusters": ReadPath(
        lambda _: ["/collections/clusters/items?eps_km=1&min_sites=2"], reveals=False
    ),
    "map of clusters": ReadPath(
        lambda _: ["/maps/clusters?eps_km=1&min_sites=2&cross_border_only=false"], reveals=False
    ),
}
# The site history read paths (JSON and the HTML page) and reads as_of a dataset version are
# listed in READ_PATHS with the others.


@pytest.fixture
def uploaded(client: TestClient, api_key: Headers) -> dict[str, Any]:
    response = client.post(
        "/uploads",
        headers=api_key("admin"),
        files={"file": ("restricted.csv", survey(), "text/csv")},
        data={"restricted": "workers, armed_group"},
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["counts"]["sites_created"] == 4
    sites = sorted({row["site"] for row in report["rows"]})
    version = response.headers["Dataset-Version"]
    return {"id": report["upload"]["id"], "sites": sites, "dataset_version": version}


def marked(body: bytes, prefix: str) -> set[str]:
    return {country for country in COUNTRIES if f"{prefix}{country}".encode() in body}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", READ_PATHS)
def test_restricted_values_only_where_the_caller_may_see_them(
    app: FastAPI,
    client: TestClient,
    api_key: Headers,
    uploaded: dict[str, Any],
    path: str,
    caller: str,
) -> None:
    role, scope, may_see = CALLERS[caller]
    headers = api_key(role, scope) if role else {}
    audit_log = app.state.audit_log
    read = READ_PATHS[path]
    shown: set[str] = set()
    for url in read.urls(uploaded):
        queued = audit_log.queued
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text[:300])
        present = marked(response.content, "NAME")
        revealed = marked(response.content, "SECRET")
        shown |= present
        expected = present & may_see if read.reveals else set()
        assert revealed == expected, (url, caller)
        if read.read_unshown:
            expected = present & may_see
        if role is None:
            assert audit_log.queued == queued  # anonymous reads are not audited
            continue
        entry = audit_log.pending_rows()[-1]
        assert entry[3:5] == ("GET", url.partition("?")[0])
        assert (entry[8], entry[9]) == (bool(expected), sorted(expected)), (url, caller)
    if path != "clusters":  # cluster features list their members' ids, not their names
        assert shown == set(COUNTRIES), f"{path}: the read showed the sites of {shown}"


def test_public_columns_of_a_declaring_upload_are_public(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    features = client.get(
        "/collections/observations/items", params={"upload": uploaded["id"]}
    ).json()["features"]
    assert {f["properties"]["attributes"]["notes"] for f in features} == {"NOTECAF", "NOTECMR"}
    assert all("workers" not in f["properties"]["attributes"] for f in features)


@pytest.mark.parametrize(
    ("declared", "code"),
    [("salary", "unknown_restricted_column"), ("workers,lat", "public_column_restricted")],
)
def test_declared_columns_must_be_attribute_columns(
    client: TestClient, api_key: Headers, declared: str, code: str
) -> None:
    response = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": ("r.csv", survey(), "text/csv")},
        data={"restricted": declared},
    )
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["errors"][0]["column"] in declared.split(",")


def test_a_restricted_column_sharing_its_name_is_refused(
    client: TestClient, api_key: Headers
) -> None:
    """Restricting 'workers' kept the second workers column ('workers (2)') public."""
    data = b"name,lon,lat,workers,workers\nMine A,15.79,4.26,40,41\n"
    response = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": ("r.csv", data, "text/csv")},
        data={"restricted": "workers", "kind": "mine"},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "duplicate_column"
    assert problem["errors"][0]["column"] == "workers"
    assert (
        "r.csv: restricted column 'workers': columns 4 and 5 are both named"
        in (problem["errors"][0]["message"])
    )
