"""The feature collections, each a provider behind one interface (``app.collections.base``).

Adding a collection is one module beside these and one line in ``PROVIDERS``.
"""

from __future__ import annotations

from app.collections import (
    actors,
    borders,
    clusters,
    countries,
    disputed_areas,
    observations,
    routes,
    shared_sites,
    sites,
    zones,
)
from app.collections.base import Provider
from app.errors import NotFound

PROVIDERS: tuple[Provider, ...] = (
    sites.PROVIDER,
    observations.PROVIDER,
    borders.PROVIDER,
    countries.PROVIDER,
    disputed_areas.PROVIDER,
    clusters.PROVIDER,
    shared_sites.PROVIDER,
    zones.PROVIDER,
    routes.PROVIDER,
    actors.PROVIDER,
)
REGISTRY: dict[str, Provider] = {provider.id: provider for provider in PROVIDERS}


def get(collection_id: str) -> Provider:
    """The provider of a collection id; ``NotFound`` (404 ``unknown_collection``) otherwise."""
    try:
        return REGISTRY[collection_id]
    except KeyError:
        raise NotFound(
            f"no collection {collection_id[:64]!r}; see /collections", code="unknown_collection"
        ) from None
