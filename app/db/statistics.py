"""Counts of sites and observations grouped by any of the statistics' keys (the only SQL).

The sites counted are those the same query selects on ``/collections/sites/items``
(:func:`app.db.sites.plan_query`, plus the zone filters); observations are those of the sites
counted, within the ``datetime`` interval when one is given. One statement: the selected
site ids, joined to their observations (and, per key, their minerals, their active zone sets),
grouped. A site with two minerals counts once under each (so mineral rows add up to more than
the total); likewise for zones.

Read as of a dataset version (``version``), the same statements run against the sites and
observations as they were then (:func:`app.db.site_history.swap_tables`); zones and actors
are kept for the current dataset only, so the service refuses those keys as of a version.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from app.db import site_history as history_repo
from app.db import sites as site_repo
from app.db import zones as zone_repo
from app.db.actors import actor_sites, actors
from app.db.models import Observation
from app.queries import Interval, SiteQuery

observations = typing.cast(Table, Observation.__table__)
sites = site_repo.sites

#: Distance bands (km): lower bound inclusive, upper exclusive; the last is open.
BANDS_KM: Final = ((0, 5), (5, 10), (10, 25), (25, 50), (50, None))


def band_label(low: float, high: float | None) -> str:
    return f"{low:g}-{high:g} km" if high is not None else f">{low:g} km"


BAND_LABELS: Final = tuple(band_label(low, high) for low, high in BANDS_KM)


def _band(distance_m: ColumnElement[Any]) -> ColumnElement[Any]:
    whens = [
        (distance_m < high * 1000, literal(band_label(low, high)))
        for low, high in BANDS_KM
        if high is not None
    ]
    last_low = BANDS_KM[-1][0]
    return case(*whens, (distance_m.is_not(None), literal(band_label(last_low, None))), else_=None)


#: Every grouping key: what it groups by (documented in the API).
KEYS: Final = {
    "country": "ISO3 of the country containing the site",
    "border": "pair code of the nearest international border (CAF-CMR)",
    "band": "distance band to the nearest border: " + ", ".join(BAND_LABELS),
    "side_confidence": "how sure the side of the border is, given the location accuracy",
    "kind": "mine or sales_point",
    "mineral": "each mineral of the site (a site counts once per mineral)",
    "status": "site status",
    "zone": "zone set (name) of an active zone containing the site (once per set)",
    "actor_type": "type of the actors working or buying at the site (once per type)",
    "month": "month of the observation (YYYY-MM)",
    "quarter": "quarter of the observation (YYYY-Qn)",
    "year": "year of the observation",
    "first_month": "month of the site's first observation (new sites per month)",
}


@dataclass(frozen=True)
class Counts:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]  # group values..., sites, observations
    total_sites: int
    total_observations: int


def _observation_join(interval: Interval | None) -> ColumnElement[bool]:
    on = observations.c.site_id == sites.c.id
    if interval is not None and interval.start is not None:
        on = and_(on, observations.c.observed_on >= interval.start.date())
    if interval is not None and interval.end is not None:
        on = and_(on, observations.c.observed_on <= interval.end.date())
    return on


def count(
    session: Session,
    query: SiteQuery,
    extra_where: Sequence[ColumnElement[bool]],
    group_by: Sequence[str],
    version: int | None = None,
) -> Counts:
    """Sites (distinct) and observations per group of ``group_by`` keys, groups sorted with
    unknown (NULL) values last; with ``version``, as the sites and observations were at that
    dataset version (``zone`` and ``actor_type`` keys are current only: not taken then)."""
    then: Callable[[Any], Any] = lambda statement: statement  # noqa: E731
    if version is not None:
        then = history_repo.swap_tables(
            {
                sites: history_repo.sites_as_of(version),
                observations: history_repo.observations_as_of(version),
            }
        )
    plan = site_repo.plan_query(query)
    chosen = (
        select(sites.c.id.label("site_id"))
        .select_from(plan.spec.table)
        .where(*plan.where, *extra_where)
        .cte("chosen")
    )
    source: Any = sites.join(chosen, chosen.c.site_id == sites.c.id).outerjoin(
        observations, _observation_join(query.datetime)
    )
    mineral = None
    zone_name = None
    if "mineral" in group_by:
        mineral = (
            func.unnest(sites.c.minerals).table_valued("mineral").render_derived(name="m").lateral()
        )
        source = source.outerjoin(mineral, true())
    actor_type = None
    if "actor_type" in group_by:
        linked = (
            select(actor_sites.c.site_id, actors.c.actor_type)
            .select_from(actor_sites.join(actors, actors.c.id == actor_sites.c.actor_id))
            .distinct()
            .subquery("actor_types")
        )
        actor_type = linked.c.actor_type
        source = source.outerjoin(linked, linked.c.site_id == sites.c.id)
    if "zone" in group_by:
        sz, zs = zone_repo.site_zones, zone_repo.zone_sets
        active = (
            select(sz.c.site_id, zs.c.name)
            .select_from(sz.join(zs, zs.c.id == sz.c.zone_set_id))
            .where(sz.c.inside, zone_repo.active_clause())
            .subquery("inside_zone")
        )
        zone_name = active.c.name
        source = source.outerjoin(active, active.c.site_id == sites.c.id)
    observed = observations.c.observed_on
    expressions: dict[str, ColumnElement[Any]] = {
        "country": sites.c.country_iso3,
        "border": sites.c.border_pair,
        "band": _band(sites.c.border_distance_m),
        "side_confidence": sites.c.side_confidence,
        "kind": sites.c.kind,
        "mineral": mineral.c.mineral if mineral is not None else literal(None),
        "status": sites.c.status,
        "zone": zone_name if zone_name is not None else literal(None),
        "actor_type": actor_type if actor_type is not None else literal(None),
        "month": func.to_char(observed, "YYYY-MM"),
        "quarter": func.to_char(observed, 'YYYY-"Q"Q'),
        "year": cast(func.extract("year", observed), Text),
        "first_month": func.to_char(sites.c.first_observed, "YYYY-MM"),
    }
    groups = [expressions[key].label(key) for key in group_by]
    counted = [
        func.count(func.distinct(sites.c.id)).label("sites"),
        func.count(observations.c.id).label("observations"),
    ]
    statement = select(*groups, *counted).select_from(source)
    if groups:
        positions: list[ColumnElement[Any]] = [
            literal_column(str(k + 1)) for k in range(len(groups))
        ]
        statement = statement.group_by(*positions).order_by(
            *(position.asc().nulls_last() for position in positions)
        )
    rows = [tuple(row) for row in session.execute(then(statement))]
    totals = session.execute(
        then(
            select(*counted).select_from(
                sites.join(chosen, chosen.c.site_id == sites.c.id).outerjoin(
                    observations, _observation_join(query.datetime)
                )
            )
        )
    ).one()
    return Counts(tuple(group_by), rows, int(totals[0]), int(totals[1]))
