"""What the audit log learns about the request being answered, from wherever it is learnt.

The audit middleware (``app.api.audit_middleware``) opens one :class:`AuditRecord` per request
and keeps it in a context variable; the caller's identity is noted where the key is checked
(``app.api.deps``), the features returned and the restricted values revealed where pages are
read (``app.db.features``). Nothing here does I/O: records are queued and written in bulk off
the request path by ``app.services.audit_log``.

The context variable holds a mutable record, not values: Starlette runs sync routes in a worker
thread with a *copy* of the context, so only mutations of the shared object come back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

#: Methods that change nothing: an anonymous caller's are not recorded (reads by a key are).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(slots=True)
class AuditRecord:
    """One request as the audit log keeps it (times in UTC, durations in milliseconds)."""

    at: dt.datetime
    method: str
    path: str
    query: str = ""
    presented_key: bool = False  # an Authorization header or a sign-in cookie came with it
    key_id: int | None = None
    role: str | None = None
    status: int = 0
    features: int | None = None
    revealed: bool = False
    revealed_countries: set[str] = field(default_factory=set)
    bytes: int = 0
    duration_ms: float = 0.0

    @property
    def should_record(self) -> bool:
        """Every request made with a key (valid or not), and every anonymous write attempt."""
        return self.presented_key or self.key_id is not None or self.method not in SAFE_METHODS

    def row(self) -> tuple[object, ...]:
        """The values in ``app.db.audit.COLUMNS`` order, text as PostgreSQL can hold it
        (:func:`storable`)."""
        return (
            self.at,
            self.key_id,
            None if self.role is None else storable(self.role),
            storable(self.method),
            storable(self.path),
            storable(self.query),
            self.status,
            self.features,
            self.revealed,
            sorted(self.revealed_countries),
            self.bytes,
            self.duration_ms,
        )


def storable(text: str) -> str:
    """``text`` as a PostgreSQL text value holds it: a NUL as ``%00`` (how a URL sends it),
    a character UTF-8 cannot encode (a lone surrogate from undecodable path bytes) as its
    backslash escape. A request's path is decoded from the URL, so it may hold either, and
    one such row made the whole queued batch fail, again and again: nothing more was
    written until a restart, and the rows queued were lost at shutdown."""
    if "\x00" in text:
        text = text.replace("\x00", "%00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


current: ContextVar[AuditRecord | None] = ContextVar("borderlens_audit", default=None)


def note_caller(key_id: int | None, role: str | None) -> None:
    record = current.get()
    if record is not None and key_id is not None:
        record.key_id, record.role = key_id, role


def note_features(returned: int, revealed_countries: Iterable[str | None] = ()) -> None:
    """``returned`` features were read for this answer; restricted values were shown for the
    rows whose country is listed (``""`` or None: a row in no country, e.g. at sea)."""
    record = current.get()
    if record is None:
        return
    record.features = (record.features or 0) + returned
    for country in revealed_countries:
        record.revealed = True
        if country:
            record.revealed_countries.add(country)
