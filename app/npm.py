"""Pinned files from npm packages: ``npm pack`` through the user's own npm client, trusted
only once the tarball's sha256 and npm integrity (sha512) match the pin, and each extracted
file's sha256 matches too. Files already cached with the right checksum are reused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from app.errors import ServiceUnavailable

NPM_TIMEOUT_S = 900
_CHUNK = 1 << 20


class NpmFetchError(ServiceUnavailable):
    """A pinned package could not be fetched, or did not check out (never used then)."""

    code = "npm_fetch_error"


class NpmUnavailable(NpmFetchError):
    """npm is missing, or ``npm pack`` failed (offline, registry unreachable, unknown version)."""

    code = "npm_unavailable"


class ChecksumMismatch(NpmFetchError):
    """What npm delivered is not what the pin says."""

    code = "checksum_mismatch"


@dataclass(frozen=True)
class PinnedPackage:
    name: str
    version: str
    sha256: str
    integrity: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_members(
    package: PinnedPackage,
    members: Mapping[str, str],
    destination: Path,
    *,
    npm_command: str = "npm",
) -> dict[str, Path]:
    """Verified copies of ``members`` (tarball path -> sha256) under ``destination``.

    Each member keeps its path inside the package (``package/dist/x.js`` -> ``dist/x.js``).
    """
    targets = {member: destination / _relative(member) for member in members}
    if all(p.is_file() and sha256_of_file(p) == members[m] for m, p in targets.items()):
        return targets
    npm = shutil.which(npm_command)
    if npm is None:
        raise NpmUnavailable(
            f"npm is needed to fetch {package.spec} but {npm_command!r} is not on PATH; "
            "install it (Debian/Ubuntu: apt-get install npm)"
        )
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=destination) as work:
        work_dir = Path(work)
        tarball = pack(npm, package, work_dir)
        for member, expected in members.items():
            staged = extract(tarball, package, member, expected, work_dir / "member")
            targets[member].parent.mkdir(parents=True, exist_ok=True)
            staged.replace(targets[member])
    return targets


def _relative(member: str) -> Path:
    parts = PurePosixPath(member).parts
    if PurePosixPath(member).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise NpmFetchError(f"unsafe member path {member!r}")
    return Path(*parts[1:]) if parts[0] == "package" else Path(*parts)


def pack(npm: str, package: PinnedPackage, work_dir: Path) -> Path:
    """``npm pack`` the pinned package into ``work_dir`` and verify the tarball."""
    command = [npm, "pack", package.spec, "--json", "--ignore-scripts", "--pack-destination", "."]
    try:
        done = subprocess.run(
            command, cwd=work_dir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NpmUnavailable(f"npm pack {package.spec} could not run: {exc}") from exc
    if done.returncode != 0:
        raise NpmUnavailable(
            f"npm pack {package.spec} failed (exit {done.returncode}): {_tail(done.stderr)}"
        )
    try:
        filename = PurePosixPath(str(json.loads(done.stdout)[0]["filename"])).name
    except (ValueError, LookupError, TypeError) as exc:
        raise NpmUnavailable(
            f"npm pack {package.spec} printed no JSON report: {_tail(done.stdout)}"
        ) from exc
    tarball = work_dir / filename
    if not tarball.is_file():
        raise NpmUnavailable(f"npm pack {package.spec} reported {filename} but did not write it")
    verify_tarball(tarball, package)
    return tarball


def verify_tarball(tarball: Path, package: PinnedPackage) -> None:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    with tarball.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha256.update(chunk)
            sha512.update(chunk)
    integrity = "sha512-" + base64.b64encode(sha512.digest()).decode("ascii")
    if sha256.hexdigest() != package.sha256:
        raise ChecksumMismatch(
            f"{package.spec}: tarball sha256 is {sha256.hexdigest()}, the pin is {package.sha256}"
        )
    if integrity != package.integrity:
        raise ChecksumMismatch(
            f"{package.spec}: tarball integrity is {integrity}, the pin is {package.integrity}"
        )


def extract(
    tarball: Path, package: PinnedPackage, member: str, expected_sha256: str, destination: Path
) -> Path:
    """Copy one member (by exact name) to ``destination``, checking its sha256 on the way.

    Nothing in the archive decides where anything is written.
    """
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            try:
                info = archive.getmember(member)
            except KeyError:
                raise NpmFetchError(f"{package.spec}: the tarball has no {member}") from None
            stream = archive.extractfile(info) if info.isreg() else None
            if stream is None:
                raise NpmFetchError(f"{package.spec}: {member} is not a regular file")
            with stream, destination.open("wb") as out:
                digest = _copy_hashing(stream, out)
    except (tarfile.TarError, OSError) as exc:
        raise NpmFetchError(f"{package.spec}: cannot extract {member}: {exc}") from exc
    if digest != expected_sha256:
        raise ChecksumMismatch(
            f"{package.spec}: {member} has sha256 {digest}, the pin is {expected_sha256}"
        )
    return destination


def _copy_hashing(stream: IO[bytes], out: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _tail(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
