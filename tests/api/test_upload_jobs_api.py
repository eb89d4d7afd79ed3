"""Uploads as jobs over HTTP (202 + status resource), fix-and-resend links, and the upload
pages' HTML: the upload form, the report with reasons in the page's language, my uploads."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.services.upload_progress import STAGE_START, Tracker, estimate_rows
from app.settings import PROJECT_ROOT, Settings

SAMPLE = PROJECT_ROOT / "data" / "samples" / "mixed_bad_rows.csv"
FIXED = b"id,name,longitude,latitude,kind\n9,Comptoir Gbadolite,21.008044,4.282171,comptoir\n"
Keys = Callable[..., dict[str, str]]


def send(client: TestClient, headers: dict[str, str], data: bytes, **form: str) -> object:
    return client.post(
        "/uploads", headers=headers, files={"file": ("survey.csv", data, "text/csv")}, data=form
    )


def test_prefer_respond_async_answers_202_with_a_status_resource(
    client: TestClient, api_key: Keys
) -> None:
    researcher = api_key("researcher")
    response = send(client, {**researcher, "Prefer": "respond-async"}, SAMPLE.read_bytes())
    assert response.status_code == 202, response.text  # type: ignore[attr-defined]
    job = response.json()  # type: ignore[attr-defined]
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert location.endswith(f"/uploads/{job['id']}") and job["id"].startswith("JOB-")
    assert job["state"] == "queued" and job["progress"] == 0
    assert job["estimate"]["rows"] == 16, "16 data lines in the sample"
    status = client.get(f"/uploads/{job['id']}", headers=researcher)
    assert status.status_code == 200 and status.json()["state"] == "queued"
    other = api_key("researcher")
    assert client.get(f"/uploads/{job['id']}", headers=other).status_code == 404
    admin = api_key("admin")
    assert client.get(f"/uploads/{job['id']}", headers=admin).json()["id"] == job["id"]


def test_a_file_over_the_async_threshold_is_a_job(
    client: TestClient, api_key: Keys, settings: Settings
) -> None:
    client.app.state.settings = settings.model_copy(update={"upload_async_bytes": 100})  # type: ignore[attr-defined]
    response = send(client, api_key("researcher"), SAMPLE.read_bytes())
    assert response.status_code == 202  # type: ignore[attr-defined]
    small = send(client, api_key("researcher"), FIXED)
    assert len(FIXED) < 100 and small.status_code == 201, "under it: answered at once"  # type: ignore[attr-defined]


def test_small_upload_answers_at_once_and_records_its_correction(
    client: TestClient, api_key: Keys
) -> None:
    researcher = api_key("researcher")
    first = send(client, researcher, SAMPLE.read_bytes())
    assert first.status_code == 201  # type: ignore[attr-defined]
    first_id = first.json()["upload"]["id"]  # type: ignore[attr-defined]
    unknown = send(client, researcher, FIXED, corrects="UP-NOSUCHUPLOAD")
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert unknown.json()["code"] == "unknown_upload"  # type: ignore[attr-defined]
    other = send(client, api_key("researcher"), FIXED, corrects=first_id)
    assert other.status_code == 422, "only your own uploads can be corrected"  # type: ignore[attr-defined]
    resent = send(client, researcher, FIXED, corrects=first_id)
    assert resent.status_code == 201  # type: ignore[attr-defined]
    second_id = resent.json()["upload"]["id"]  # type: ignore[attr-defined]

    page = client.get(f"/uploads/{second_id}?f=html&lang=fr", headers=researcher)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert f'href="http://testserver/uploads/{first_id}' in page.text
    assert "Cet envoi corrige" in page.text
    assert 'id="bl-upload-points"' in page.text, "the accepted row is on the map"
    first_page = client.get(f"/uploads/{first_id}?f=html&lang=fr", headers=researcher).text
    assert second_id in first_page, "the first report links to its correction"


@pytest.mark.parametrize(
    ("lang", "swapped"),
    [
        ("en", "Latitude and longitude look swapped."),
        ("fr", "La latitude et la longitude semblent inversées."),
        ("pt", "A latitude e a longitude parecem trocadas."),
    ],
)
def test_report_page_gives_reasons_in_the_page_language(
    client: TestClient, api_key: Keys, lang: str, swapped: str
) -> None:
    researcher = api_key("researcher")
    upload = send(client, researcher, SAMPLE.read_bytes()).json()["upload"]["id"]  # type: ignore[attr-defined]
    page = client.get(
        f"/uploads/{upload}?lang={lang}", headers={**researcher, "Accept": "text/html"}
    )
    assert page.status_code == 200
    rows = re.findall(r'<tr data-row="(\d+)" data-code="(\w+)">', page.text)
    errors = {int(r) for r, code in rows if code != "low_accuracy"}
    assert {4, 5, 6, 7, 8, 9, 10, 11, 12, 14} <= errors
    assert swapped in page.text
    assert f'href="/uploads/{upload}/rejected.csv"' in page.text
    assert f'name="corrects" value="{upload}"' in page.text, "the fix-and-resend form"


def test_upload_page_and_my_uploads(client: TestClient, api_key: Keys) -> None:
    anonymous = client.get("/uploads/new?lang=fr", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/signin?lang=fr&next=/uploads/new")
    reader = client.get("/uploads/new", headers=api_key("authority"), follow_redirects=False)
    assert reader.status_code == 303, "an authority key cannot upload: sign in as a writer"
    researcher = api_key("researcher")
    form = client.get("/uploads/new?lang=pt", headers=researcher)
    assert form.status_code == 200 and 'id="upload-form"' in form.text
    assert 'accept=".csv,' in form.text
    send(client, researcher, SAMPLE.read_bytes())
    send(client, {**researcher, "Prefer": "respond-async"}, FIXED)
    mine = client.get("/uploads?f=html&lang=fr", headers=researcher)
    assert mine.status_code == 200
    assert mine.text.count("<tr data-upload=") == 1 and mine.text.count("<tr data-job=") == 1
    assert client.get("/uploads", headers=researcher).json()["uploads"], "JSON unchanged"


def test_progress_is_monotonic_and_reaches_one() -> None:
    seen: list[tuple[str, float, int | None]] = []
    tracker = Tracker(lambda *args: seen.append(args), rows_estimate=1000)
    tracker("reading")
    tracker("reading", rows=500)
    tracker("validating")
    tracker("matching and measuring")
    tracker("storing")
    tracker("done")
    fractions = [f for _, f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert STAGE_START["reading"] < fractions[1] < STAGE_START["validating"]
    assert seen[1][2] == 500
    assert estimate_rows(b"a,b\n1,2\n3,4\n", "x.csv") == 2
    assert estimate_rows(b"PK\x03\x04", "x.xlsx") is None
