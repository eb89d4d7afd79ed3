"""Text checks of request values (JSON bodies, forms, query parameters, headers), in one
place: the patterns text must match and the check that text can be stored (PostgreSQL text
and jsonb hold no NUL, UTF-8 no lone surrogate)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

#: Text on one line: no control character at all (C0 and DEL; tab and line breaks included).
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
#: Text that may hold tabs and line breaks (a CRS's WKT, a list), no other control character.
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: Text that is not blank and holds no NUL (a curation's reason, a split site's name).
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"


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
