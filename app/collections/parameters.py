"""Query parameters that several collections share (``border``, ``country``), declared once."""

from __future__ import annotations

import re

from app.collections.base import Parameter, ParseContext
from app.collections.parsing import bad, boolean, known_values, parse_list, text_value
from app.queries import BorderFilter

PAIR = re.compile(r"[A-Z]{3}-[A-Z]{3}")
ISO3 = re.compile(r"[A-Z]{3}")


def parse_border(raw: str, ctx: ParseContext) -> BorderFilter:
    """``CAF-CMR`` (either order) or ``CMR``, checked against the active borders."""
    asked = text_value("border", raw, 20).strip().upper()
    pairs = set(ctx.border_pairs())
    if PAIR.fullmatch(asked):
        pair = "-".join(sorted(asked.split("-")))
        if pair not in pairs:
            raise bad(
                "border", f"no border {asked!r} in the active boundaries", "unknown_filter_value"
            )
        return BorderFilter(pair, (pair,))
    if ISO3.fullmatch(asked):
        own = tuple(sorted(code for code in pairs if asked in code.split("-")))
        if not own:
            raise bad(
                "border",
                f"{asked!r} has no international border in the active boundaries",
                "unknown_filter_value",
            )
        return BorderFilter(asked, own)
    raise bad("border", "give a border pair such as CAF-CMR, or one country such as CMR")


def parse_countries(raw: str, ctx: ParseContext) -> tuple[str, ...]:
    codes = set(ctx.country_codes())
    return known_values(
        "country", raw, lambda v: v.upper() if v.upper() in codes else None, "country"
    )


BORDER_SCHEMA = {"type": "string", "pattern": "^[A-Za-z]{3}(-[A-Za-z]{3})?$"}
COUNTRY_LIST_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    "minItems": 1,
}

COUNTRY = Parameter(
    "country",
    "ISO 3166-1 alpha-3 codes, comma-separated (CMR,CAF)",
    COUNTRY_LIST_SCHEMA,
    parse_countries,
)


def border_parameter(description: str) -> Parameter:
    return Parameter("border", description, BORDER_SCHEMA, parse_border)


# Zones (issue 13): which zone sets or zones, and inside or outside them.
ZONE = Parameter(
    "zone",
    "Zone sets (ZS-... or their name) or zones (ZN-...), comma-separated: sites inside one of "
    "them (outside all of them with in_zone=false)",
    {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200}},
    lambda raw, _ctx: tuple(parse_list("zone", raw)),
)
IN_ZONE = Parameter(
    "in_zone",
    "true: sites inside a zone (of the zone= sets, else of any zone set valid today); "
    "false: sites inside none",
    {"type": "boolean"},
    lambda raw, _ctx: boolean("in_zone", raw),
)
