"""Whole-dataset recompute on Dask: a real LocalCluster of worker processes measures the sites
with the same geo functions, and the figures equal the single-process ones exactly."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.services import dask_measure, site_geography
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft
from geo.proximity import PairDistances
from tests.api.test_items import add_sites

pytestmark = pytest.mark.slow

FLOATS = ("border_distance_m", "side_probability")
OBJECTS = (
    "country_iso3",
    "location_status",
    "claimants",
    "border_pair",
    "neighbour_iso3",
    "side_confidence",
)


def _rows(near: PairDistances) -> list[tuple[int, str, float]]:
    return sorted(
        zip(near.point.tolist(), near.pair_code.tolist(), near.distance_m.tolist(), strict=True)
    )


def _stored(session: Session) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    sites = session.execute(
        text(
            "SELECT id, country_iso3, location_status, claimants, border_distance_m, border_pair,"
            " neighbour_iso3, side_probability, side_confidence, boundary_source_id"
            " FROM sites ORDER BY id"
        )
    ).all()
    distances = session.execute(
        text("SELECT site_id, pair_code, distance_m FROM site_border_distances ORDER BY 1, 2")
    ).all()
    return [tuple(r) for r in sites], [tuple(r) for r in distances]


def test_recompute_on_a_local_dask_cluster_equals_the_single_process_one(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(14)
    # over the whole region (sea, outside, near and far from borders); some with accuracy
    add_sites(
        session,
        [
            SiteDraft(
                kind="mine" if i % 3 else "sales_point",
                name=f"dask site {i}",
                lon=rng.uniform(8.0, 32.0),
                lat=rng.uniform(-12.0, 14.0),
                accuracy_m=rng.choice([None, 5.0, 2500.0]),
            )
            for i in range(6000)
        ],
    )
    monkeypatch.setattr(dask_measure, "MIN_SLICE", 500)  # several slices per worker
    state = BoundaryCache().current(session)
    assert state is not None
    points = site_repo.all_points(session)
    lon, lat = np.asarray(points.lon), np.asarray(points.lat)
    accuracy = np.asarray(points.accuracy_m, dtype=float)
    here = site_geography.measure(state, lon, lat, accuracy)

    with dask_measure.dask_client("local", workers=2) as client:
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids, "two worker processes of their own"
        assert len(dask_measure.slices(len(lon), 2)) == 8
        there = dask_measure.measurer_on(client)(state, lon, lat, accuracy)

        for name in FLOATS:
            np.testing.assert_array_equal(getattr(there, name), getattr(here, name))
        for name in OBJECTS:
            assert getattr(there, name).tolist() == getattr(here, name).tolist(), name
        # the same (point, border, distance) rows; the order of rows is not a figure
        assert _rows(there.near_borders) == _rows(here.near_borders)
        assert len(here.near_borders) > len(lon), "most sites lie within 300 km of two borders"

        # the whole recompute, stored: single process, then on Dask, gives the same rows
        site_geography.recompute_all(session, state)
        single = _stored(session)
        session.execute(text("UPDATE sites SET border_distance_m = NULL, side_probability = NULL"))
        session.execute(text("DELETE FROM site_border_distances"))
        changed = site_geography.recompute_all(session, state, dask_measure.measurer_on(client))
    assert changed == len(lon)
    assert _stored(session) == single
