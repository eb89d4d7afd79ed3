"""What a caller asks for, parsed and validated: plain data passed from routes to repositories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from app import roles


@dataclass(frozen=True)
class ProjectedBox:
    """A ``bbox`` as asked in a projected ``bbox-crs``: (min x, min y, max x, max y), CRS URI."""

    box: tuple[float, float, float, float]
    crs: str


@dataclass(frozen=True)
class BBox:
    """A lon/lat box (CRS84). ``min_lon > max_lon`` means it crosses the antimeridian.

    ``projected``: the box as asked in another CRS (``bbox-crs``), of which this is the lon/lat
    envelope; features are then matched against that box's own outline.
    """

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    projected: ProjectedBox | None = None

    @property
    def crosses_antimeridian(self) -> bool:
        return self.min_lon > self.max_lon


@dataclass(frozen=True)
class Interval:
    """A closed time interval; ``None`` on a side means open (``..``)."""

    start: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True)
class Caller:
    """Who is asking: anonymous (``role=None``) or an API key with a role and country scope."""

    role: str | None = None
    key_id: int | None = None
    name: str | None = None
    countries: tuple[str, ...] = ()

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    def sees_restricted(self, country_iso3: str | None) -> bool:
        scope = self.restricted_scope
        return scope is None or (bool(scope) and country_iso3 in scope)

    @property
    def restricted_scope(self) -> tuple[str, ...] | None:
        """Countries whose restricted attributes this caller reads: None for all, () none."""
        if self.role == roles.ADMIN or (self.role == roles.AUTHORITY and not self.countries):
            return None
        return self.countries if self.role == roles.AUTHORITY else ()

    @property
    def may_read_restricted(self) -> bool:
        return self.role in roles.RESTRICTED_READERS

    @property
    def public_view(self) -> Caller:
        """The same caller reading public attributes only: for outputs that never show
        restricted values (map popups), so none are read and none are logged as revealed."""
        return ANONYMOUS if self.may_read_restricted else self

    @property
    def write_scope(self) -> tuple[str, ...] | None:
        """Countries a researcher scoped by its key may write in (upload rows, edit sites);
        None: anywhere (admins, researchers without a scope)."""
        if self.role == roles.RESEARCHER and self.countries:
            return self.countries
        return None

    def may_write_in(self, country_iso3: str | None) -> bool:
        scope = self.write_scope
        return scope is None or country_iso3 in scope


ANONYMOUS = Caller()


@dataclass(frozen=True)
class AsOf:
    """``as_of``: a dataset version, or an RFC 3339 instant (the last version taken by then)."""

    version: int | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Keyset:
    """Where a page starts: strictly after (or before) this sort key."""

    values: tuple[object, ...]
    backwards: bool = False


@dataclass(frozen=True)
class PageRequest:
    limit: int
    keyset: Keyset | None = None


@dataclass(frozen=True)
class SortBy:
    """One ``sortby`` term: a sortable queryable, ascending unless ``descending``."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class CqlFilter:
    """A parsed ``filter`` (CQL2 as its JSON form), the CRS its geometries are in and the
    language it was written in (errors show its parts in that language)."""

    ast: Any
    crs: str
    lang: str = "cql2-json"


@dataclass(frozen=True)
class FeatureQuery:
    """Filters shared by every collection (OGC API Features Parts 1 and 3, and sorting)."""

    bbox: BBox | None = None
    datetime: Interval | None = None
    filter: CqlFilter | None = None
    sortby: tuple[SortBy, ...] = ()


@dataclass(frozen=True)
class BorderFilter:
    """``border=CAF-CMR`` (one pair) or ``border=CMR`` (every border of Cameroon)."""

    asked: str
    pairs: tuple[str, ...]


@dataclass(frozen=True)
class SiteQuery(FeatureQuery):
    """The ``sites`` collection's extra filters.

    ``within_km`` alone: distance to the nearest international border. With ``border``: the
    distance to that border (or the nearest of that country's borders), whether or not it is
    the site's nearest. ``border`` alone: sites whose nearest border is that one.
    Retired sites are left out unless ``statuses`` names ``retired`` or ``include_retired``.
    """

    kinds: tuple[str, ...] = ()
    minerals: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # given: only these (``retired`` included if named)
    include_retired: bool = False  # no statuses given: retired sites too
    border: BorderFilter | None = None
    within_km: float | None = None
    #: Name search (``q``): names and aliases, accent- and case-insensitive, typo-tolerant.
    q: str | None = None
    #: ``zone=``: zone sets (public id or name) or zones (public id) as asked; ``in_zone=``:
    #: inside (true) or outside (false) them, or any active zone set when none is named.
    zones: tuple[str, ...] = ()
    in_zone: bool | None = None


@dataclass(frozen=True)
class FeaturePage:
    """One page of features, already serialised to GeoJSON text by PostGIS."""

    features_json: str
    returned: int
    first_key: tuple[object, ...] | None
    last_key: tuple[object, ...] | None
    has_more: bool
    number_matched: int | None = None
    extra: dict[str, object] = field(default_factory=dict)  # collection-level members
