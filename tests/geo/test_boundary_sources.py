"""The pinned boundary recipe and its npm fetcher.

Most tests run a stand-in ``npm`` (a small script that "packs" a tarball built by the test), so
they need no network; one slow test fetches the real Natural Earth package and compares it with
the shared reference copy.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.services.boundary_sources import (
    RECIPE_PATH,
    BoundaryFetchError,
    BoundarySource,
    ChecksumMismatch,
    InvalidRecipe,
    NpmUnavailable,
    cached_path,
    default_source,
    fetch,
    load_recipes,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_NE_10M = (
    REPO.parent / "shared" / "data" / "boundaries" / "world-atlas-2.0.2_countries-10m.topojson.json"
)
CACHE_DIR = REPO / ".borderlens" / "cache" / "boundaries"
PAYLOAD = b'{"type": "Topology", "objects": {}}'


# --- the recipe ----------------------------------------------------------------------------


def test_recipe_pins_both_sources() -> None:
    sources = {source.id: source for source in load_recipes()}
    assert set(sources) == {"osm-maritime-10m", "natural-earth-10m"}
    osm, ne = sources["osm-maritime-10m"], sources["natural-earth-10m"]
    assert default_source(sources.values()) is osm
    assert osm.spec == "@geo-maps/countries-maritime-10m@0.6.0"
    assert (osm.member, osm.format, osm.id_field, osm.id_kind) == (
        "package/map.geo.json",
        "geojson",
        "A3",
        "iso3",
    )
    assert osm.sha256 == "c63144607cc8aeb5784f8e14b7bf8c8fcdaf2e000b93fe44b1991257773e13a1"
    assert osm.licence == "ODbL-1.0"
    assert osm.attribution == (
        "Boundaries © OpenStreetMap contributors, ODbL 1.0 "
        "(via geo-maps countries-maritime-10m 0.6.0)"
    )
    assert ne.spec == "world-atlas@2.0.2"
    assert (ne.member, ne.format, ne.layer, ne.id_field, ne.id_kind) == (
        "package/countries-10m.json",
        "topojson",
        "countries",
        "id",
        "iso_numeric",
    )
    assert ne.sha256 == "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
    assert ne.attribution == "Boundaries: Natural Earth (public domain), world-atlas 2.0.2"
    assert osm.positional_uncertainty_m < ne.positional_uncertainty_m


def test_recipe_pins_the_shared_reference_file() -> None:
    if not SHARED_NE_10M.is_file():
        pytest.skip(f"shared reference data not present: {SHARED_NE_10M}")
    ne = {source.id: source for source in load_recipes()}["natural-earth-10m"]
    assert hashlib.sha256(SHARED_NE_10M.read_bytes()).hexdigest() == ne.member_sha256


def _recipe_entries() -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads(RECIPE_PATH.read_text(encoding="utf-8"))
    return entries


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e[0].update(member="../../etc/passwd"), "member"),
        (lambda e: e[0].update(member="/abs/path.json"), "member"),
        (lambda e: e[0].update(id="a/b"), "id"),
        (lambda e: e[0].update(version=".."), "version"),
        (lambda e: e[0].update(sha256="ABC"), "sha256"),
        (lambda e: e[0].update(integrity="sha1-abc"), "integrity"),
        (lambda e: e[1].update(default=True), "default"),
        (lambda e: e[0].pop("member_sha256"), "member_sha256"),
        (lambda e: e[0].update(extra=1), "extra"),
        (lambda e: e.append(dict(e[0], default=False)), "duplicate"),
    ],
)
def test_bad_recipes_are_refused(
    tmp_path: Path, change: Callable[[list[dict[str, object]]], object], message: str
) -> None:
    entries = _recipe_entries()
    change(entries)
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(InvalidRecipe, match=message):
        load_recipes(path)


# --- fetching with a stand-in npm ----------------------------------------------------------

FAKE_NPM = """\
#!{python}
import json, os, shutil, sys
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_NPM_FAIL"):
    sys.stderr.write("npm error 404 Not Found\\n")
    sys.exit(1)
shutil.copy(os.environ["FAKE_NPM_TARBALL"], "fake-1.0.0.tgz")
print(json.dumps([{{"filename": "fake-1.0.0.tgz", "integrity": "sha512-whatever"}}]))
"""


def _tarball(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


def _pinned(
    tarball: Path, member: str = "package/data.json", payload: bytes = PAYLOAD
) -> BoundarySource:
    data = tarball.read_bytes()
    return BoundarySource(
        id="fake-source",
        name="Fake",
        npm_package="fake",
        version="1.0.0",
        integrity="sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
        sha256=hashlib.sha256(data).hexdigest(),
        member=member,
        member_sha256=hashlib.sha256(payload).hexdigest(),
        format="topojson",
        layer="countries",
        id_field="id",
        id_kind="iso_numeric",
        licence="none",
        licence_url="",
        attribution="",
        positional_uncertainty_m=1.0,
        default=True,
    )


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir()
    script.write_text(FAKE_NPM.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_NPM_LOG", str(tmp_path / "npm.log"))
    return script


def _npm_runs(tmp_path: Path) -> int:
    log = tmp_path / "npm.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _serve(monkeypatch: pytest.MonkeyPatch, tarball: Path) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tarball))


def test_fetch_verifies_extracts_and_then_uses_the_cache(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {"package/data.json": PAYLOAD, "package/x": b"x"})
    _serve(monkeypatch, tarball)
    source = _pinned(tarball)
    cache = tmp_path / "cache"

    path = fetch(source, cache, npm_command=str(fake_npm))
    assert path == cache / "fake-source" / "1.0.0" / "data.json" == cached_path(source, cache)
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.json"]  # no leftovers
    assert (tmp_path / "npm.log").read_text().split()[:2] == ["pack", "fake@1.0.0"]
    assert "--json" in (tmp_path / "npm.log").read_text()

    assert fetch(source, cache, npm_command=str(fake_npm)) == path
    assert _npm_runs(tmp_path) == 1  # second call: checksum matched, npm not run

    path.write_bytes(b"tampered")
    assert fetch(source, cache, npm_command=str(fake_npm)).read_bytes() == PAYLOAD
    assert _npm_runs(tmp_path) == 2


def test_tarball_checksum_mismatch_is_refused(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = _tarball(tmp_path / "pinned.tgz", {"package/data.json": PAYLOAD})
    source = _pinned(pinned)
    other = _tarball(tmp_path / "other.tgz", {"package/data.json": PAYLOAD + b" "})
    _serve(monkeypatch, other)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        fetch(source, tmp_path / "cache", npm_command=str(fake_npm))
    assert not cached_path(source, tmp_path / "cache").exists()


def test_integrity_is_checked_as_well_as_sha256(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {"package/data.json": PAYLOAD})
    _serve(monkeypatch, tarball)
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    source = dataclasses.replace(_pinned(tarball), integrity=wrong)
    with pytest.raises(ChecksumMismatch, match="integrity"):
        fetch(source, tmp_path / "cache", npm_command=str(fake_npm))


def test_member_checksum_mismatch_is_refused(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {"package/data.json": PAYLOAD})
    _serve(monkeypatch, tarball)
    source = _pinned(tarball, payload=b"something else")
    with pytest.raises(ChecksumMismatch, match=r"package/data\.json"):
        fetch(source, tmp_path / "cache", npm_command=str(fake_npm))
    assert not cached_path(source, tmp_path / "cache").exists()


def test_only_the_named_member_is_written_whatever_the_tarball_holds(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(
        tmp_path / "src.tgz",
        {"../../evil.txt": b"evil", "/tmp/evil-abs.txt": b"evil", "package/data.json": PAYLOAD},
    )
    _serve(monkeypatch, tarball)
    cache = tmp_path / "deep" / "cache"
    path = fetch(_pinned(tarball), cache, npm_command=str(fake_npm))
    assert path.read_bytes() == PAYLOAD
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*evil*"))
    assert written == []


def test_a_symlinked_member_is_refused(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {}, symlinks={"package/data.json": "/etc/passwd"})
    _serve(monkeypatch, tarball)
    with pytest.raises(BoundaryFetchError, match="not a regular file"):
        fetch(_pinned(tarball), tmp_path / "cache", npm_command=str(fake_npm))


def test_missing_npm_says_how_to_install_it(tmp_path: Path) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {"package/data.json": PAYLOAD})
    with pytest.raises(NpmUnavailable, match="apt-get install npm"):
        fetch(_pinned(tarball), tmp_path / "cache", npm_command=str(tmp_path / "no-npm-here"))


def test_npm_failure_is_reported_with_its_message(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "src.tgz", {"package/data.json": PAYLOAD})
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    with pytest.raises(NpmUnavailable, match="404 Not Found"):
        fetch(_pinned(tarball), tmp_path / "cache", npm_command=str(fake_npm))


# --- the real thing ------------------------------------------------------------------------


@pytest.mark.slow
def test_fetching_natural_earth_through_npm_matches_the_reference_copy() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    ne = {source.id: source for source in load_recipes()}["natural-earth-10m"]
    try:
        path = fetch(ne, CACHE_DIR)
    except NpmUnavailable as exc:
        pytest.skip(f"cannot fetch {ne.spec} through npm: {exc}")
    assert path == CACHE_DIR / "natural-earth-10m" / "2.0.2" / "countries-10m.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ne.member_sha256
    if SHARED_NE_10M.is_file():
        assert path.read_bytes() == SHARED_NE_10M.read_bytes()
    assert os.access(path, os.R_OK)
