"""Safe handling of zip uploads (KMZ, zipped Shapefile, XLSX) before GDAL opens anything.

Two passes. First the central directory is checked, before a byte is inflated:

- member names: no absolute path, drive letter, ``..`` component, NUL or backslash trick;
- no symbolic links (a Unix mode of ``S_IFLNK`` in the external attributes);
- declared sizes: the sum of uncompressed sizes within ``max_uncompressed_bytes`` and no member
  over 1 MiB inflating more than ``max_compression_ratio`` times (deflate tops out near 1032:1,
  so a 1 GB member in a small upload can only be a bomb);
- only stored or deflated members, none encrypted (GDAL's /vsizip/ reads nothing else).

Then every member is *extracted* with its own inflater, counting the bytes it really produces:
a member may not inflate one byte past its declared size (nor the archive past
``max_uncompressed_bytes``), its deflate stream must end inside its compressed size, and the
CRC-32 of what came out must be the declared one. Headers that lie (rel-01: a member declared as
1 000 bytes whose stream inflates to 300 MB) are refused after at most one chunk past the lie.
Python's ``zipfile`` is not enough here: it stops at the *declared* size and checks the CRC of
that prefix, which the liar had set right, while GDAL's ``/vsizip/`` would inflate the rest.

GDAL never sees the uploaded archive: readers open the checked, extracted members in a private
directory (XLSX, which GDAL must open as a zip, gets a new zip written from them).
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from geo.errors import (
    FileTooLarge,
    UnreadableFile,
    UnsafeArchiveMember,
    ZipBomb,
    quoted,
)
from geo.survey import ReadOptions

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_MEMBERS = 10_000
_RATIO_FLOOR_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class SafeZip:
    """A zip whose members passed every check, extracted under ``directory``.

    ``names`` are the file members in archive order, as the archive spells them; each one's
    checked bytes are at :meth:`path`.
    """

    names: tuple[str, ...]
    directory: Path

    def with_suffix(self, *suffixes: str) -> tuple[str, ...]:
        """Member names ending with one of ``suffixes`` (case-blind), in archive order."""
        wanted = tuple(s.casefold() for s in suffixes)
        return tuple(name for name in self.names if name.casefold().endswith(wanted))

    def path(self, name: str) -> Path:
        """Where the checked bytes of member ``name`` were extracted."""
        return self.directory / _relative(name)

    def read(self, name: str, *, limit: int | None = None) -> bytes:
        """The checked bytes of member ``name`` (the first ``limit`` of them)."""
        with self.path(name).open("rb") as handle:
            return handle.read(-1 if limit is None else limit)

    def repack(self, target: Path) -> Path:
        """Write the checked members as a new zip at ``target`` (stored, honest headers)."""
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
            for name in self.names:
                archive.write(self.path(name), name)
        return target


def is_zip(data: bytes) -> bool:
    """True when ``data`` starts like a zip archive."""
    return data[:4] in ZIP_MAGIC


def open_zip(data: bytes, options: ReadOptions, directory: Path) -> SafeZip:
    """Check a zip's central directory, then extract every member, counting real bytes.

    Parameters
    ----------
    data
        The upload.
    options
        ``max_uncompressed_bytes`` and ``max_compression_ratio`` apply.
    directory
        An empty private directory; the members are written under it.

    Raises
    ------
    UnsafeArchiveMember
        Absolute or ``..`` paths, or symbolic links.
    ZipBomb
        A member whose declared size betrays a bomb, or that inflates past its declared size.
    FileTooLarge
        Members whose total size exceeds ``options.max_uncompressed_bytes``.
    UnreadableFile
        Not a zip, encrypted members, compression methods GDAL cannot read, too many members,
        a truncated or corrupt member (CRC mismatch, deflate stream cut short).
    """
    infos = _check_directory(data, options)
    budget = options.max_uncompressed_bytes
    names: list[str] = []
    for info in infos:
        target = directory / _relative(info.filename)
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as out:
                for chunk in _inflate(data, info, budget):
                    out.write(chunk)
                    budget -= len(chunk)
        except OSError as exc:
            # Two members of one name, a member under a member, a name too long for the disk.
            raise UnreadableFile(
                f"zip member {quoted(info.filename)} cannot be extracted "
                f"({exc.strerror or type(exc).__name__})"
            ) from exc
        names.append(info.filename)
    return SafeZip(tuple(names), directory)


def _check_directory(data: bytes, options: ReadOptions) -> list[zipfile.ZipInfo]:
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        raise UnreadableFile(f"the zip archive is damaged: {exc}") from exc
    if len(infos) > MAX_MEMBERS:
        raise UnreadableFile(f"the zip archive has {len(infos)} members (at most {MAX_MEMBERS})")
    total = 0
    for info in infos:
        _check_member_name(info.filename)
        if _is_symlink(info):
            raise UnsafeArchiveMember(f"zip member {quoted(info.filename)} is a symbolic link")
        _check_member_size(info, options)
        total += info.file_size
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise UnreadableFile(f"zip member {quoted(info.filename)} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableFile(
                f"zip member {quoted(info.filename)} uses a compression method other than deflate"
            )
    if total > options.max_uncompressed_bytes:
        raise _too_large(total, options)
    return infos


def _too_large(total: int, options: ReadOptions) -> FileTooLarge:
    return FileTooLarge(
        f"the zip would expand to {total:,} bytes "
        f"(the limit is {options.max_uncompressed_bytes:,})",
        code="uncompressed_too_large",
    )


def _inflate(data: bytes, info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    """The member's real bytes, chunk by chunk; refuses the first chunk past its declared size.

    ``budget`` is what the archive may still inflate to in total.
    """
    raw = _compressed_bytes(data, info)
    declared = info.file_size
    if declared > budget:
        raise FileTooLarge(
            f"the zip expands beyond the limit at member {quoted(info.filename)}",
            code="uncompressed_too_large",
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type else None
    produced = 0
    crc = 0
    position = 0
    ended = inflater is None
    while position < len(raw):
        piece = raw[position : position + _CHUNK_BYTES]
        position += len(piece)
        pending = bytes(piece)
        while pending:
            if inflater is None:
                chunk, pending = pending, b""
            else:
                try:
                    # At most one byte past the declared size: enough to catch the lie.
                    chunk = inflater.decompress(pending, declared - produced + 1)
                except zlib.error as exc:
                    raise UnreadableFile(
                        f"zip member {quoted(info.filename)} is corrupt ({exc})"
                    ) from exc
                pending = inflater.unconsumed_tail
                ended = inflater.eof
            produced += len(chunk)
            if produced > declared:
                raise ZipBomb(
                    f"zip member {quoted(info.filename)} inflates past the {declared:,} bytes its "
                    "header declares (a lying header: refused)"
                )
            crc = zlib.crc32(chunk, crc)
            yield chunk
            if ended and inflater is not None:
                break
        if ended and inflater is not None:
            break
    if not ended or produced != declared:
        raise UnreadableFile(
            f"zip member {quoted(info.filename)} is truncated: {produced:,} of its declared "
            f"{declared:,} bytes"
        )
    if crc != info.CRC:
        raise UnreadableFile(f"zip member {quoted(info.filename)} is corrupt (CRC-32 mismatch)")


def _compressed_bytes(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise UnreadableFile(
            f"zip member {quoted(info.filename)} has no local header where it should"
        )
    _signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    begin = start + _LOCAL_HEADER.size + name_length + extra_length
    if begin + info.compress_size > len(data):
        raise UnreadableFile(
            f"zip member {quoted(info.filename)} is truncated (the archive ends early)"
        )
    return memoryview(data)[begin : begin + info.compress_size]


def _relative(name: str) -> PurePosixPath:
    """A checked member name as a relative path (backslashes are separators, as on Windows)."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath("_")


def _check_member_name(name: str) -> None:
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if "\x00" in name or normalised.startswith("/") or _DRIVE.match(normalised) or ".." in parts:
        raise UnsafeArchiveMember(f"zip member {quoted(name)} points outside the archive")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _check_member_size(info: zipfile.ZipInfo, options: ReadOptions) -> None:
    if info.file_size <= _RATIO_FLOOR_BYTES:
        return
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > options.max_compression_ratio:
        raise ZipBomb(
            f"zip member {quoted(info.filename)} declares {info.file_size:,} bytes from "
            f"{info.compress_size:,} compressed ({ratio:,.0f}:1, the limit is "
            f"{options.max_compression_ratio:,.0f}:1)"
        )
