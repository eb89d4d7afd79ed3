"""Shared by the collection readers: the read context and the ``border`` parameter."""

from __future__ import annotations

import collections.abc as abc
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.api import params as p
from app.queries import BorderFilter, Caller

PAIR = re.compile(r"[A-Z]{3}-[A-Z]{3}")
ISO3 = re.compile(r"[A-Z]{3}")

SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class ReadContext:
    """What a collection reader gets besides the query: who asks, where links point, and
    (for collections with derived data to refresh) a way to open a write transaction."""

    session: Session
    caller: Caller
    base_url: str
    count_cap: int | None = None
    open_writer: SessionFactory | None = None


def parse_border(
    raw: str | None, known_pairs: Callable[[], abc.Collection[str]]
) -> BorderFilter | None:
    """``CAF-CMR`` (either order) or ``CMR``, checked against the active borders."""
    if raw is None:
        return None
    asked = raw.strip().upper()
    pairs = set(known_pairs())
    if PAIR.fullmatch(asked):
        pair = "-".join(sorted(asked.split("-")))
        if pair not in pairs:
            raise p.bad(
                "border",
                f"no border {asked!r} in the active boundaries",
                code="unknown_filter_value",
            )
        return BorderFilter(pair, (pair,))
    if ISO3.fullmatch(asked):
        own = tuple(sorted(code for code in pairs if asked in code.split("-")))
        if not own:
            raise p.bad(
                "border",
                f"{asked!r} has no international border in the active boundaries",
                code="unknown_filter_value",
            )
        return BorderFilter(asked, own)
    raise p.bad("border", "give a border pair such as CAF-CMR, or one country such as CMR")
