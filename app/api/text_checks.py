"""Text checks of request values (JSON bodies, forms, query parameters, headers), in one
place: the patterns a value must match, each with the plain words a refused value is told (a
problem detail names what is allowed, never a regular expression), and the check that text
can be stored (PostgreSQL text and jsonb hold no NUL, UTF-8 no lone surrogate).

A pattern of the form ``^(a|b|c)$`` needs no words here: it is told as "one of a, b, c".
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

#: Text on one line: no control character at all (C0 and DEL; tab and line breaks included).
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
#: Text that may hold tabs and line breaks (a CRS's WKT, a list), no other control character.
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: Text that is not blank and holds no NUL (a curation's reason, a split site's name).
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
ISO3 = r"^[A-Z]{3}$"
EVENT_ID = r"^msg_[0-9a-f]{32}$"
SITE_ID = r"^[A-Z]{2}-[0-9A-Z]{10}$"
UPLOAD_ID = r"^UP-[0-9A-Z]{1,28}$"
CHANGE_TOKEN = r"^\d{1,18}$"
CHANGE_CURSOR = r"^\d{1,18}\.\d{1,18}$"

DESCRIPTIONS: dict[str, str] = {
    SINGLE_LINE: "text on one line, without control characters",
    MULTI_LINE: "text without control characters (tabs and line breaks allowed)",
    NOT_BLANK: "text that is not blank, without NUL characters",
    ISO3: "an ISO 3166-1 alpha-3 country code in capitals, e.g. CMR",
    EVENT_ID: "an event id: msg_ and 32 lowercase hexadecimal digits",
    SITE_ID: "a site id: two capital letters, a hyphen and 10 capital letters or digits",
    UPLOAD_ID: "an upload id: UP- and up to 28 capital letters or digits",
    CHANGE_TOKEN: "a change token: a whole number of up to 18 digits",
    CHANGE_CURSOR: "a cursor as a next link gives it: two whole numbers joined by a dot",
}
_ONE_OF = re.compile(r"\^\(([\w.+-]+(?:\|[\w.+-]+)+)\)\$")


def one_of(values: list[str] | tuple[str, ...]) -> str:
    return "one of " + ", ".join(values)


def pattern_description(pattern: str) -> str:
    """What a value refused by ``pattern`` should have been, in words."""
    if choices := _ONE_OF.fullmatch(pattern):
        return one_of(choices[1].split("|"))
    return DESCRIPTIONS.get(pattern, "not in the accepted form")


def storable(text: str) -> str:
    """``text`` unless PostgreSQL cannot store it (a NUL) or it is no Unicode text (a lone
    surrogate, which JSON's ``\\ud800`` escapes can write): ``ValueError`` saying which."""
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone surrogate (\\ud800-\\udfff) is not text") from None
    return text


#: A string of a JSON body that can be stored.
StorableText = Annotated[str, AfterValidator(storable)]
