"""Safe handling of zip uploads (KMZ, zipped Shapefile, XLSX) before GDAL opens them.

Everything is decided from the zip's central directory, before a byte is inflated:

- member names: no absolute path, drive letter, ``..`` component, NUL or backslash trick;
- no symbolic links (a Unix mode of ``S_IFLNK`` in the external attributes);
- declared sizes: the sum of uncompressed sizes within ``max_uncompressed_bytes`` and no member
  over 1 MiB inflating more than ``max_compression_ratio`` times (deflate tops out near 1032:1,
  so a 1 GB member in a small upload can only be a bomb);
- only stored or deflated members, none encrypted (GDAL's /vsizip/ reads nothing else).

Members are later read through :func:`read_member`, which never returns more than the declared
size: Python's zipfile stops there and checks the CRC, so a lying header cannot inflate more.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from geo.errors import (
    FileTooLarge,
    UnreadableFile,
    UnsafeArchiveMember,
    ZipBomb,
)
from geo.survey import ReadOptions

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_MEMBERS = 10_000
_RATIO_FLOOR_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class SafeZip:
    """A zip that passed the checks: its bytes and the names of its file members."""

    data: bytes
    names: tuple[str, ...]

    def with_suffix(self, *suffixes: str) -> tuple[str, ...]:
        """Member names ending with one of ``suffixes`` (case-blind), in archive order."""
        wanted = tuple(s.casefold() for s in suffixes)
        return tuple(name for name in self.names if name.casefold().endswith(wanted))


def is_zip(data: bytes) -> bool:
    """True when ``data`` starts like a zip archive."""
    return data[:4] in ZIP_MAGIC


def inspect_zip(data: bytes, options: ReadOptions) -> SafeZip:
    """Check a zip's central directory; raise before anything is extracted.

    Raises
    ------
    UnsafeArchiveMember
        Absolute or ``..`` paths, or symbolic links.
    ZipBomb
        A member whose declared size betrays a decompression bomb.
    FileTooLarge
        Honest members whose total declared size exceeds ``options.max_uncompressed_bytes``.
    UnreadableFile
        Not a zip, encrypted members, compression methods GDAL cannot read, too many members.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UnreadableFile(f"the zip archive is damaged: {exc}") from exc
    if len(infos) > MAX_MEMBERS:
        raise UnreadableFile(f"the zip archive has {len(infos)} members (at most {MAX_MEMBERS})")
    total = 0
    names: list[str] = []
    for info in infos:
        _check_member_name(info.filename)
        if _is_symlink(info):
            raise UnsafeArchiveMember(f"zip member {info.filename!r} is a symbolic link")
        _check_member_size(info, options)
        total += info.file_size
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise UnreadableFile(f"zip member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableFile(
                f"zip member {info.filename!r} uses a compression method other than deflate"
            )
        names.append(info.filename)
    if total > options.max_uncompressed_bytes:
        raise FileTooLarge(
            f"the zip would expand to {total:,} bytes "
            f"(the limit is {options.max_uncompressed_bytes:,})",
            code="uncompressed_too_large",
        )
    return SafeZip(data, tuple(names))


def _check_member_name(name: str) -> None:
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if "\x00" in name or normalised.startswith("/") or _DRIVE.match(normalised) or ".." in parts:
        raise UnsafeArchiveMember(f"zip member {name!r} points outside the archive")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _check_member_size(info: zipfile.ZipInfo, options: ReadOptions) -> None:
    if info.file_size <= _RATIO_FLOOR_BYTES:
        return
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > options.max_compression_ratio:
        raise ZipBomb(
            f"zip member {info.filename!r} declares {info.file_size:,} bytes from "
            f"{info.compress_size:,} compressed ({ratio:,.0f}:1, the limit is "
            f"{options.max_compression_ratio:,.0f}:1)"
        )


def read_member(archive: SafeZip, name: str, *, limit: int | None = None) -> bytes:
    """Read one member (at most ``limit`` bytes of it), bounded by its declared size."""
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened, opened.open(name) as member:
        try:
            return member.read(-1 if limit is None else limit)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UnreadableFile(f"zip member {name!r} is damaged: {exc}") from exc
