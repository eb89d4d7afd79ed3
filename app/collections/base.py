"""The one small interface every feature collection implements, and what it is handed.

A collection is a *provider*: it describes itself (metadata, queryables as JSON Schema,
sortables, its own query parameters), reads pages and single items through ``app.db`` (which
turns its filters into parameterised SQL), and may accept writes. The OGC API modules in
``app.api`` only parse the common parameters, pick a provider from the registry and shape the
response, so adding a collection is one module here plus one line in the registry.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.orm import Session

from app.errors import ProblemItem
from app.queries import AsOf, Caller, FeaturePage, FeatureQuery, PageRequest
from app.services.boundary_state import BoundarySet
from geo.crs import OfferedCrs

if TYPE_CHECKING:
    from app.db.tiles import TileLayer

SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class ParseContext:
    """What a parameter parser may look up (lazily: most requests need none of it)."""

    border_pairs: Callable[[], Sequence[str]]
    country_codes: Callable[[], Sequence[str]]


@dataclass(frozen=True)
class Parameter:
    """A query parameter, declared once: its OpenAPI 3.0 schema documents it and ``parse``
    turns the raw text into a value (raising ``InvalidParameter`` naming it)."""

    name: str
    description: str
    schema: dict[str, Any]
    parse: Callable[[str, ParseContext], Any]
    #: OpenAPI ``style: form, explode: false``: lists travel as ``a,b,c``.
    explode: bool = False

    def openapi(self) -> dict[str, Any]:
        declared: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": self.schema,
            "style": "form",
            "explode": self.explode,
        }
        return declared


@dataclass(frozen=True)
class Queryable:
    """A property that filters (CQL2) and, when ``sortable``, orders features.

    ``schema`` is the JSON Schema of the property, named as in the GeoJSON ``properties``
    (OGC API - Features Part 3 queryables; Part 5 schema).
    """

    name: str
    schema: dict[str, Any]
    sortable: bool = False


@dataclass(frozen=True)
class ReadContext:
    """Who asks, where links point, and (for collections with derived data to refresh) a way
    to open a write transaction."""

    session: Session
    caller: Caller
    base_url: str
    count_cap: int | None = None
    open_writer: SessionFactory | None = None
    #: The CRS features are written in (``crs``, Part 2); None: CRS84, as stored.
    crs: OfferedCrs | None = None
    #: ``as_of``: read the collection as it was at that dataset version (versioned ones only).
    as_of: AsOf | None = None


@dataclass(frozen=True)
class Item:
    """One feature as GeoJSON text, with the strong entity tag of the row version read (for
    ``ETag`` and ``If-Match``); None: the API tags the answer by its content."""

    feature_json: str
    etag: str | None = None


@dataclass(frozen=True)
class IfMatch:
    """The ``If-Match`` of a change: ``*`` (whatever is current) or the strong entity tags
    given (weak ones never match, so they are not kept)."""

    any_tag: bool = False
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WriteContext:
    """What a write is handed: a session whose transaction the writer commits, who writes,
    and the boundaries a new geometry is measured against."""

    session: Session
    caller: Caller
    boundaries: BoundarySet


@dataclass(frozen=True)
class Written:
    """A feature as written: its id, its text and ETag as the writer may read it, and
    warnings about the input (e.g. a declared country the point contradicts)."""

    feature_id: str
    item: Item
    warnings: list[ProblemItem] = field(default_factory=list)


class Writer(abc.ABC):
    """The write capability of a collection (OGC API - Features Part 4). Each operation is
    one transaction; documents are parsed JSON values, validated here (422 when invalid).
    Changes raise 404 (unknown id), 412 (``if_match`` does not hold), 409 (no longer
    changeable)."""

    @abc.abstractmethod
    def create(self, ctx: WriteContext, document: Any) -> Written:
        """A new feature from a GeoJSON Feature document (the server assigns its id)."""

    @abc.abstractmethod
    def replace(
        self, ctx: WriteContext, feature_id: str, if_match: IfMatch, document: Any
    ) -> Written:
        """Replace a feature with a GeoJSON Feature document."""

    @abc.abstractmethod
    def update(self, ctx: WriteContext, feature_id: str, if_match: IfMatch, patch: Any) -> Written:
        """Change a feature with a JSON Merge Patch (RFC 7396) of its GeoJSON document."""

    @abc.abstractmethod
    def delete(self, ctx: WriteContext, feature_id: str, if_match: IfMatch, reason: str) -> Written:
        """Take a feature out of the collection (kept or erased, as the collection says)."""


@dataclass(frozen=True)
class Extent:
    """A collection's extent: lon/lat box (CRS84) of its data, and a date interval."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[str | None, str | None] | None = None


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str
    title: str | None = None


@dataclass
class Provider(abc.ABC):
    """A feature collection. Subclasses set the class attributes and implement the reads."""

    id: str
    title: str
    description: str
    #: Whether the features have a time (``datetime`` filters them; otherwise it matches all).
    temporal: bool = False
    #: Query parameters of this collection's items besides the common ones.
    parameters: tuple[Parameter, ...] = ()
    #: Python types of a keyset cursor's values, in sort-key order.
    key_types: tuple[type | tuple[type, ...], ...] = (int,)
    keywords: tuple[str, ...] = field(default_factory=tuple)
    #: Whether reads take ``as_of`` (the collection is kept in the history, migration 0011).
    versioned: bool = False
    #: Whether a tile layer depends only on the query and the data version (so its compiled
    #: statement may be reused); False where it names derived rows (a clustering run).
    stable_tile_layer: ClassVar[bool] = True

    @abc.abstractmethod
    def queryables(self) -> Mapping[str, Queryable]:
        """Filterable properties (CQL2 names), in display order."""

    def sortables(self) -> list[str]:
        return [name for name, q in self.queryables().items() if q.sortable]

    def schema(self) -> dict[str, Any]:
        """JSON Schema of a feature's properties (Part 5 style): the queryables' schemas plus
        whatever else a feature carries; providers add the non-queryable members."""
        return {name: q.schema for name, q in self.queryables().items()}

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> FeatureQuery:
        """The collection's own query from the common part and its parsed ``parameters``."""
        del values
        return base

    def key_types_for(self, query: FeatureQuery) -> tuple[type | tuple[type, ...], ...]:
        del query
        return self.key_types

    @abc.abstractmethod
    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        """One page of features (one SQL query; ``ctx.count_cap`` asks for numberMatched)."""

    @abc.abstractmethod
    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        """One feature by its public id, or None."""

    @abc.abstractmethod
    def extent(self, session: Session) -> Extent:
        """The extent of the collection's data."""

    def links(self, base_url: str) -> list[Link]:
        """Extra links of the collection document (maps, related collections)."""
        del base_url
        return []

    def item_links(self, base_url: str, feature_id: str) -> list[Link]:
        """Extra links of one item (e.g. a site's observations)."""
        del base_url, feature_id
        return []

    def writer(self) -> Writer | None:
        """The collection's write capability (Part 4); None: read-only (405 to writes)."""
        return None

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer | None:
        """The features ``query`` selects as one vector-tile layer (OGC API - Tiles; public
        properties only, so a tile is the same for every caller); None: no tiles."""
        del ctx, query
        return None

    def tile_fields(self) -> Mapping[str, dict[str, Any]] | None:
        """JSON Schema of each property of a tile feature (``app.db.tiles.tile_fields``);
        None: the collection has no tiles."""
        return None
