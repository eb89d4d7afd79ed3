"""What an upload of any target answers (survey files, zones, routes, actors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UploadOutcome:
    """The report, whether a new upload was stored (HTTP 201; else a repeat of a stored file
    or a dry run, 200) and the stored upload's public id (``UP-…``) when there is one."""

    report: dict[str, Any]
    stored: bool
    upload_id: str | None
