"""The roles of API keys: the one place they are spelled.

- ``admin``: everything, everywhere.
- ``researcher``: uploads and edits sites; reads public attributes.
- ``authority``: reads restricted attributes (of its countries, when scoped).
Anonymous callers read public attributes only.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["admin", "researcher", "authority"]
ADMIN: Final[Role] = "admin"
RESEARCHER: Final[Role] = "researcher"
AUTHORITY: Final[Role] = "authority"
ROLES: Final[tuple[Role, ...]] = get_args(Role)
#: Roles that may upload, create and edit sites.
WRITERS: Final[tuple[Role, ...]] = (ADMIN, RESEARCHER)
#: Roles that may read restricted attributes (authorities within their country scope).
RESTRICTED_READERS: Final[tuple[Role, ...]] = (ADMIN, AUTHORITY)
