"""Errors raised by the geo engine.

They carry no HTTP knowledge; the service maps each class to a status code once
(``app.errors``). ``code`` is a stable machine-readable identifier, the message is
safe to show to the person who sent the data.
"""

from __future__ import annotations

#: Most characters of a value quoted in a message (see :func:`quoted`).
QUOTED_MAX = 80


def quoted(value: object, limit: int = QUOTED_MAX) -> str:
    """``repr(value)`` for a message, clipped to about ``limit`` characters with the whole
    length said: a value from the user's file echoed whole (a 300-digit coordinate, a
    10 000-character cell) buried the reason in the report."""
    text = repr(value)
    if len(text) <= limit:
        return text
    whole = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return text[: limit - 1] + "…" + whole


class GeoError(Exception):
    """Base class of every error the geo engine raises on purpose."""

    code = "geo_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        # Where in the file, when the error is about one place (the row numbering of
        # geo.survey); the service puts them in the problem detail.
        self.row = row
        self.column = column

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class UnsupportedFormat(GeoError):
    """The file is not one of the formats borderlens reads (or lies about its extension)."""

    code = "unsupported_format"


class UnreadableFile(GeoError):
    """The file claims a supported format but cannot be parsed."""

    code = "unreadable_file"


class HostileFile(GeoError):
    """The file looks like an attack: zip bomb, path traversal, XML entity expansion."""

    code = "hostile_file"


class FileTooLarge(GeoError):
    """The file (or what it would expand to) exceeds a configured limit."""

    code = "file_too_large"


class InvalidCoordinates(GeoError):
    """A coordinate cannot be parsed or lies outside the valid lon/lat range."""

    code = "invalid_coordinates"


class InvalidCRS(GeoError):
    """A CRS given by the uploader (EPSG code, WKT, UTM zone) is unknown or unusable."""

    code = "invalid_crs"


class UnsupportedCRS(InvalidCRS):
    """A CRS asked for in a request (``crs``, ``bbox-crs``, ``filter-crs``) that is not offered."""

    code = "unsupported_crs"

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class BoundaryDataError(GeoError):
    """A boundary dataset is missing countries, has no usable geometry, or is inconsistent."""

    code = "boundary_data_error"


# Specific refusals. Each keeps its parent's HTTP mapping (via isinstance) and adds a code that
# tells the sender exactly what to fix.


class FormatMismatch(UnsupportedFormat):
    """The file's extension names one format and its content is another."""

    code = "format_mismatch"


class ReaderFailure(UnreadableFile):
    """A reader failed on the bytes in a way it does not foresee (a defect, logged).

    The sender still gets a refusal naming the file, never a server error; tests assert that
    no input reaches this.
    """


class ZipBomb(HostileFile):
    """A zip whose declared sizes or compression ratio betray a decompression bomb."""

    code = "zip_bomb"


class UnsafeArchiveMember(HostileFile):
    """A zip member with an absolute path, a ``..`` component or a symbolic link."""

    code = "unsafe_archive_member"


class XMLDeclarationRefused(HostileFile):
    """An XML document with a DOCTYPE or ENTITY declaration (billion laughs, external entities)."""

    code = "xml_declaration_refused"


class TooManyRows(FileTooLarge):
    """The survey holds more rows (features) than the configured limit."""

    code = "too_many_rows"


class TooManyColumns(FileTooLarge):
    """The survey has more columns (fields) than the configured limit."""

    code = "too_many_columns"


def check_columns(count: int, limit: int) -> None:
    """Raise :class:`TooManyColumns` when ``count`` columns exceed ``limit``."""
    if count > limit:
        raise TooManyColumns(
            f"the file has {count:,} columns (the limit is {limit:,}); send only the survey's "
            "own columns"
        )


class CRSRequired(InvalidCRS):
    """Projected coordinates arrived without a CRS; borderlens never guesses a UTM zone."""

    code = "crs_required"


class NoCoordinateColumns(InvalidCoordinates):
    """No column of a table could be recognised as holding coordinates."""

    code = "no_coordinate_columns"


class InvalidColumnMap(GeoError):
    """The uploader's explicit column mapping names an unknown role or a missing column."""

    code = "invalid_column_map"


class DuplicateColumn(GeoError):
    """Several columns of a table have one name, and the reader would read one of them (for
    the coordinates, the name, the date...): which one the sender meant cannot be told."""

    code = "duplicate_column"
