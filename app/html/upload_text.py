"""Plain-language reasons for upload issues, and the upload pages' script strings, from the
EN/FR/PT catalogues.

Every issue code an upload can report (``geo.validate.ISSUE_SEVERITY`` and ingest's
``missing_kind``) has a reason here, and a repair hint where there is one; the English text is
the msgid, translated in ``app/locale``. ``N_`` only marks a string for extraction (Babel's
default keywords include it); it is translated when the page is drawn.
"""

from __future__ import annotations

from typing import Final

import orjson

from app.html import i18n


def N_(message: str) -> str:  # noqa: N802 - the gettext convention Babel extracts
    return message


#: code -> (reason, repair hint or None)
ISSUE_TEXT: Final[dict[str, tuple[str, str | None]]] = {
    "malformed_row": (
        N_("The row has more or fewer cells than the header."),
        N_("Look for a comma inside a name: put that name in double quotes."),
    ),
    "unparseable_coordinate": (
        N_("A coordinate could not be read as a number or as degrees, minutes and seconds."),
        N_("Write decimal degrees (4.3725) or degrees, minutes, seconds under 60 (4°22'21\"N)."),
    ),
    "missing_coordinates": (
        N_("The row has no coordinates."),
        N_("Add the longitude and latitude taken on site, or leave the row out."),
    ),
    "zero_zero": (
        N_("The point is at 0, 0: the device had no position."),
        N_("Take the position again on site."),
    ),
    "out_of_range": (
        N_("A latitude is beyond 90° or a longitude beyond 180°."),
        N_("Check the columns: latitude and longitude may be mixed up or mistyped."),
    ),
    "swapped_lat_lon": (
        N_("Latitude and longitude look swapped."),
        N_("Exchange the latitude and longitude values of this row."),
    ),
    "dropped_minus_sign": (
        N_("A coordinate seems to have lost its minus sign (south or west)."),
        N_("Add the minus sign to the latitude (south of the equator) or longitude (west)."),
    ),
    "at_sea": (
        N_("The point is at sea."),
        N_("Check the coordinates: a digit may be wrong or latitude and longitude swapped."),
    ),
    "outside_region": (
        N_("The point is outside the countries this service covers."),
        N_("Check the coordinates, or leave the row out if the site is elsewhere."),
    ),
    "country_mismatch": (
        N_("The point is in another country than the one the upload declares."),
        N_("Check the coordinates, or the declared country."),
    ),
    "disputed_area": (
        N_(
            "The point is in a disputed area, claimed by more than one country; the row is "
            "kept and flagged, and the site is stored with its claimants and no single country."
        ),
        N_("Nothing to fix if the position is right."),
    ),
    "nul_character": (
        N_("A value holds a NUL character (byte 0), which no text may hold; the row is not read."),
        N_("Remove the character (the file may be damaged) and send the row again."),
    ),
    "unclosed_quote": (
        N_(
            "A double quote opens a value and does not close on its line, so the row cannot be "
            "split into its cells; the row is not read, and the lines after it are read as rows "
            "of their own."
        ),
        N_(
            "Close the quote at the end of the value, or remove it; a quote inside a value is "
            'written twice ("").'
        ),
    ),
    "mixed_encoding": (
        N_(
            "A value holds bytes that are not UTF-8 while the rest of the file is (a line pasted "
            "from another file?); the row is not stored, and rejected.csv shows the value read "
            "as Windows-1252."
        ),
        N_(
            "Check the value in rejected.csv, correct it if needed, and send the row again saved "
            "as UTF-8."
        ),
    ),
    "invalid_accuracy": (
        N_("The accuracy is not a distance in metres (it is below zero, or infinite)."),
        N_("Give the device's accuracy in metres, or leave the cell empty when it is unknown."),
    ),
    "low_accuracy": (
        N_("The position's accuracy is poor; the row is kept and flagged."),
        N_("Take the position again with a clear view of the sky."),
    ),
    "unparseable_date": (
        N_("The date could not be read."),
        N_("Write dates as 2024-05-21 (year, month, day)."),
    ),
    "ambiguous_date": (
        N_("The date could be read day-first or month-first."),
        N_("Write dates as 2024-05-21 (year, month, day)."),
    ),
    "unknown_mineral": (
        N_("A mineral is not in the list of known minerals; the row is kept without it."),
        N_("Use a known mineral name (gold, diamond, coltan, cassiterite...)."),
    ),
    "unknown_kind": (
        N_("The kind is not a known kind of site; the row is kept with the upload's kind."),
        N_("Write mine or sales point (chantier, comptoir... are understood)."),
    ),
    "excel_serial_date": (
        N_("The date was a spreadsheet day number; it was converted."),
        N_("Format the date column as text dates before exporting."),
    ),
    "lone_outlier": (
        N_("The point is far from all the other points of the upload."),
        N_("Check the coordinates of this row."),
    ),
    "mojibake": (
        N_("Some text looks garbled by a wrong character encoding."),
        N_("Export the file as UTF-8."),
    ),
    "name_too_long": (
        N_("The name is too long to be a site name."),
        N_("Check that the columns are not shifted."),
    ),
    "missing_kind": (
        N_("The row does not say whether it is a mine or a sales point."),
        N_("Add a kind column, or choose the kind of every row on the upload page."),
    ),
}

#: Strings the upload pages' script shows (progress, states, failures), by key.
SCRIPT_TEXT: Final[dict[str, str]] = {
    "sending": N_("Sending {name}: {percent} %"),
    "queued": N_("{name}: waiting for a worker"),
    "running": N_("{name}: {stage}, {percent} %"),
    "rows": N_("{rows} rows read"),
    "left": N_("about {seconds} s left"),
    "done": N_("{name}: done, 100 %"),
    "failed": N_("{name}: failed"),
    "report": N_("See the report of {name}"),
    "network": N_("The connection was lost; the file was not sent. Try again."),
    "refused": N_("The server refused the file"),
    "stage_queued": N_("waiting"),
    "stage_reading": N_("reading"),
    "stage_validating": N_("checking rows"),
    "stage_matching": N_("matching sites and measuring borders"),
    "stage_storing": N_("storing"),
    "stage_done": N_("done"),
    "none": N_("Choose or drop at least one file."),
}

#: Why a whole upload failed, by problem code (others show the service's own detail).
FAILURE_TEXT: Final[dict[str, str]] = {
    "worker_lost": N_(
        "The worker stopped before the upload finished; nothing was stored. Send the file again."
    ),
    "no_usable_rows": N_("None of the rows can be stored; nothing was stored."),
    "file_too_large": N_("The file is larger than the upload limit."),
    "revoked_key": N_("The key this upload was sent with has been revoked."),
}


def issue_reason(code: str, lang: str) -> tuple[str, str | None]:
    """(reason, hint) of issue ``code`` in ``lang``; an unknown code is shown as it is."""
    reason, hint = ISSUE_TEXT.get(code, (code, None))
    return i18n.gettext(lang, reason), (i18n.gettext(lang, hint) if hint else None)


def failure_text(code: str | None, lang: str) -> str | None:
    message = FAILURE_TEXT.get(code or "")
    return i18n.gettext(lang, message) if message else None


def script_json(lang: str) -> str:
    """The script strings in ``lang``, safe inside ``<script type="application/json">``."""
    text = {key: i18n.gettext(lang, message) for key, message in SCRIPT_TEXT.items()}
    failures = {code: i18n.gettext(lang, message) for code, message in FAILURE_TEXT.items()}
    return orjson.dumps({"text": text, "failures": failures}).decode().replace("<", "\\u003c")
