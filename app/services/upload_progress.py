"""How far an upload has got, as one number both the CLI's progress bar and the upload page
show (the page reads it from the job's status resource, the CLI from the same tracker).

``ingest()`` reports its stages through its ``progress`` callback (``reading``, ``validating``,
``matching and measuring``, ``storing``, ``done``); a callback given ``rows=`` (rows read so
far) moves the bar within the reading stage. Each stage starts at a fixed fraction, measured on
the 200 000-row bench upload so that the bar moves at roughly even speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Final

#: Where each stage starts, as a fraction of the whole upload (0..1).
STAGE_START: Final = {
    "queued": 0.0,
    "reading": 0.02,
    "validating": 0.35,
    "matching and measuring": 0.5,
    "storing": 0.75,
    "done": 1.0,
}
READING_SPAN: Final = STAGE_START["validating"] - STAGE_START["reading"]
# Feature markers of the text formats, for the row estimate before the file is read.
_MARKERS: Final = {
    ".geojson": b'"Feature"',
    ".json": b'"Feature"',
    ".gpx": b"<wpt",
    ".kml": b"<Placemark",
}


def estimate_rows(data: bytes, filename: str) -> int | None:
    """About how many rows the file holds, from its bytes alone (None for binary formats:
    XLSX, GeoPackage, zipped files). CSV: its line breaks less the header."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return max(len(re.findall(rb"\n(?=.)", data)), 0)
    marker = _MARKERS.get(suffix)
    return data.count(marker) if marker else None


@dataclass
class Tracker:
    """Turns ingest's progress calls into ``(stage, fraction 0..1, rows read)`` and passes
    each change to ``listener`` (the job's row, or the CLI's bar)."""

    listener: Callable[[str, float, int | None], None]
    rows_estimate: int | None = None
    stage: str = "queued"
    fraction: float = 0.0
    rows_read: int | None = field(default=None)

    def __call__(self, stage: str, rows: int | None = None, **_: object) -> None:
        start = STAGE_START.get(stage, self.fraction)
        fraction = max(self.fraction, start)
        if rows is not None:
            self.rows_read = rows
            if stage == "reading" and self.rows_estimate:
                share = min(rows / self.rows_estimate, 1.0)
                fraction = max(fraction, STAGE_START["reading"] + READING_SPAN * share)
        self.stage, self.fraction = stage, min(fraction, 1.0)
        self.listener(self.stage, self.fraction, self.rows_read)
