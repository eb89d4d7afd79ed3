"""Pinned boundary datasets: the recipe (``data/boundaries/sources.json``) and the fetcher.

Each source is an npm package at a pinned version. ``fetch`` runs the user's own npm client
(``npm pack``, so registry, proxy and credentials come from their npm configuration), trusts the
tarball only once its sha256 and npm integrity (sha512) match the recipe, extracts the one file
the project reads and checks that file's sha256 too. A cached file that still matches its
checksum is returned without running npm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

RECIPE_PATH = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "sources.json"
NPM_TIMEOUT_S = 900
_CHUNK = 1 << 20
# Recipe values that become directory names in the cache.
_PATH_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class BoundaryFetchError(Exception):
    """A boundary source could not be fetched or did not check out."""

    code = "boundary_fetch_error"


class InvalidRecipe(BoundaryFetchError):
    code = "invalid_boundary_recipe"


class NpmUnavailable(BoundaryFetchError):
    """npm is missing, or ``npm pack`` failed (offline, registry unreachable, unknown version)."""

    code = "npm_unavailable"


class ChecksumMismatch(BoundaryFetchError):
    """What npm delivered is not what the recipe pins: never used."""

    code = "checksum_mismatch"


@dataclass(frozen=True)
class BoundarySource:
    """One entry of ``data/boundaries/sources.json`` (field names as in the JSON)."""

    id: str
    name: str
    npm_package: str
    version: str
    integrity: str
    sha256: str
    member: str
    member_sha256: str
    format: Literal["geojson", "topojson"]
    layer: str | None
    id_field: str
    id_kind: Literal["iso3", "iso_numeric"]
    licence: str
    licence_url: str
    attribution: str
    positional_uncertainty_m: float
    default: bool

    @property
    def spec(self) -> str:
        """``package@version`` as given to npm."""
        return f"{self.npm_package}@{self.version}"

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name


def load_recipes(path: Path = RECIPE_PATH) -> list[BoundarySource]:
    """Read and check the recipe: required fields, checksum formats, safe names, one default."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRecipe(f"cannot read boundary recipe {path}: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise InvalidRecipe(f"{path.name}: expected a non-empty list of sources")
    sources = [_source_from_json(entry, path.name) for entry in entries]
    ids = [source.id for source in sources]
    if len(set(ids)) != len(ids):
        raise InvalidRecipe(f"{path.name}: duplicate source ids in {ids}")
    if sum(source.default for source in sources) != 1:
        raise InvalidRecipe(f"{path.name}: exactly one source must have default: true")
    return sources


def default_source(sources: Iterable[BoundarySource]) -> BoundarySource:
    return next(source for source in sources if source.default)


def cached_path(source: BoundarySource, cache_dir: Path) -> Path:
    """Where ``fetch`` keeps the source's file: ``cache_dir/<id>/<version>/<filename>``."""
    return cache_dir / source.id / source.version / source.filename


def fetch(source: BoundarySource, cache_dir: Path, *, npm_command: str = "npm") -> Path:
    """Path of the source's verified file, fetched through npm unless already cached."""
    target = cached_path(source, cache_dir)
    if target.is_file() and _sha256_of_file(target) == source.member_sha256:
        return target

    npm = shutil.which(npm_command)
    if npm is None:
        raise NpmUnavailable(
            f"npm is needed to fetch {source.spec} but {npm_command!r} is not on PATH; "
            "install it (Debian/Ubuntu: apt-get install npm)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Work next to the target so the final rename is atomic; the directory goes away on exit.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as work:
        work_dir = Path(work)
        tarball = _npm_pack(npm, source.spec, work_dir)
        _verify_tarball(tarball, source)
        extracted = _extract_member(tarball, source, work_dir / "member")
        extracted.replace(target)
    return target


# --- recipe checks -------------------------------------------------------------------------


def _source_from_json(entry: Any, where: str) -> BoundarySource:
    if not isinstance(entry, dict):
        raise InvalidRecipe(f"{where}: each source must be an object")
    names = {f.name for f in fields(BoundarySource)}
    missing, unknown = names - entry.keys(), entry.keys() - names
    label = entry.get("id", "?")
    if missing or unknown:
        raise InvalidRecipe(
            f"{where}: source {label!r}: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    problems = [
        message
        for ok, message in (
            (_is_safe_component(entry["id"]), "id must be a plain name"),
            (_is_safe_component(entry["version"]), "version must be a plain name"),
            (_is_safe_member(entry["member"]), "member must be a relative path without '..'"),
            (_is_sha256(entry["sha256"]), "sha256 must be 64 lower-case hex digits"),
            (_is_sha256(entry["member_sha256"]), "member_sha256 must be 64 hex digits"),
            (_is_sha512_sri(entry["integrity"]), "integrity must be one sha512-<base64>"),
            (entry["format"] in ("geojson", "topojson"), "format must be geojson or topojson"),
            (entry["id_kind"] in ("iso3", "iso_numeric"), "id_kind must be iso3 or iso_numeric"),
            (isinstance(entry["default"], bool), "default must be true or false"),
            (
                isinstance(entry["positional_uncertainty_m"], int | float),
                "positional_uncertainty_m must be a number",
            ),
        )
        if not ok
    ]
    if problems:
        raise InvalidRecipe(f"{where}: source {label!r}: {'; '.join(problems)}")
    values = dict(entry)
    values["positional_uncertainty_m"] = float(entry["positional_uncertainty_m"])
    return BoundarySource(**values)


def _is_safe_component(value: Any) -> bool:
    return isinstance(value, str) and bool(_PATH_COMPONENT.match(value))


def _is_safe_member(value: Any) -> bool:
    if not isinstance(value, str) or not value or "\\" in value:
        return False
    member = PurePosixPath(value)
    return not member.is_absolute() and all(
        part not in ("", ".", "..") for part in value.split("/")
    )


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and bool(_SHA256_HEX.match(value))


def _is_sha512_sri(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("sha512-"):
        return False
    try:
        return len(base64.b64decode(value.removeprefix("sha512-"), validate=True)) == 64
    except ValueError:
        return False


# --- fetching ------------------------------------------------------------------------------


def _npm_pack(npm: str, spec: str, work_dir: Path) -> Path:
    """Run ``npm pack spec --json`` in ``work_dir``; the tarball npm wrote there."""
    command = [npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", "."]
    try:
        done = subprocess.run(
            command, cwd=work_dir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NpmUnavailable(f"npm pack {spec} could not run: {exc}") from exc
    if done.returncode != 0:
        raise NpmUnavailable(
            f"npm pack {spec} failed (exit {done.returncode}): {_tail(done.stderr)}"
        )
    try:
        report = json.loads(done.stdout)
        filename = PurePosixPath(str(report[0]["filename"])).name
    except (ValueError, LookupError, TypeError) as exc:
        raise NpmUnavailable(
            f"npm pack {spec} printed no JSON report: {_tail(done.stdout)}"
        ) from exc
    tarball = work_dir / filename
    if not tarball.is_file():
        raise NpmUnavailable(f"npm pack {spec} reported {filename} but did not write it")
    return tarball


def _verify_tarball(tarball: Path, source: BoundarySource) -> None:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    with tarball.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha256.update(chunk)
            sha512.update(chunk)
    integrity = "sha512-" + base64.b64encode(sha512.digest()).decode("ascii")
    if sha256.hexdigest() != source.sha256:
        raise ChecksumMismatch(
            f"{source.spec}: tarball sha256 is {sha256.hexdigest()}, "
            f"the recipe pins {source.sha256}"
        )
    if integrity != source.integrity:
        raise ChecksumMismatch(
            f"{source.spec}: tarball integrity is {integrity}, the recipe pins {source.integrity}"
        )


def _extract_member(tarball: Path, source: BoundarySource, destination: Path) -> Path:
    """Copy the one member out of the tarball, checking its sha256 on the way.

    Only the member named in the (already verified) recipe is read, by exact name, and written
    to a path of our choosing: nothing in the archive decides where anything is written.
    """
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            try:
                info = archive.getmember(source.member)
            except KeyError:
                raise BoundaryFetchError(
                    f"{source.spec}: the tarball has no {source.member}"
                ) from None
            stream = archive.extractfile(info) if info.isreg() else None
            if stream is None:
                raise BoundaryFetchError(f"{source.spec}: {source.member} is not a regular file")
            with stream, destination.open("wb") as out:
                digest = _copy_hashing(stream, out)
    except (tarfile.TarError, OSError) as exc:
        raise BoundaryFetchError(f"{source.spec}: cannot extract {source.member}: {exc}") from exc
    if digest != source.member_sha256:
        raise ChecksumMismatch(
            f"{source.spec}: {source.member} has sha256 {digest}, "
            f"the recipe pins {source.member_sha256}"
        )
    return destination


def _copy_hashing(stream: IO[bytes], out: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tail(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
