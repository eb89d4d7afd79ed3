"""Pinned boundary datasets: the recipe (``data/boundaries/sources.json``) and the fetcher.

Each source is an npm package at a pinned version. ``fetch`` runs the user's own npm client
(``npm pack``, so registry, proxy and credentials come from their npm configuration), trusts the
tarball only once its sha256 and npm integrity (sha512) match the recipe, extracts the one file
the project reads and checks that file's sha256 too. A cached file that still matches its
checksum is returned without running npm.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from app.npm import (
    ChecksumMismatch,
    NpmFetchError,
    NpmUnavailable,
    PinnedPackage,
    fetch_members,
)

__all__ = [
    "BoundaryFetchError",
    "BoundarySource",
    "ChecksumMismatch",
    "InvalidRecipe",
    "NpmUnavailable",
    "cached_path",
    "default_source",
    "fetch",
    "load_recipes",
]

RECIPE_PATH = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "sources.json"
# Recipe values that become directory names in the cache.
_PATH_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


# The fetch itself is the project's one pinned-npm fetcher (``app.npm``); its errors are
# re-exported here under the names callers of this module know.
BoundaryFetchError = NpmFetchError


class InvalidRecipe(NpmFetchError):
    code = "invalid_boundary_recipe"


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
    package = PinnedPackage(source.npm_package, source.version, source.sha256, source.integrity)
    paths = fetch_members(
        package,
        {source.member: source.member_sha256},
        cached_path(source, cache_dir).parent,
        npm_command=npm_command,
    )
    return paths[source.member]


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
