"""geo.clusters: geodesic DBSCAN against scikit-learn on exact geodesic distances, summaries,
stable ids and percolation."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from geo.clusters import (
    ClusterSummary,
    assign_stable_ids,
    cluster_sites,
    dbscan_geodesic,
    detect_percolation,
    mint_cluster_id,
    summarise,
)
from geo.geodesic import WGS84, inverse_distance_m


def geodesic_matrix(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(lon.size, 1)
    distance = np.zeros((lon.size, lon.size))
    distance[i, j] = distance[j, i] = inverse_distance_m(lon[i], lat[i], lon[j], lat[j])
    return distance


def blobs(seed: int, count: int, spread_m: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform([14, -6], [26, 10], (int(rng.integers(1, 25)), 2))
    which = rng.integers(0, len(centres), count)
    lon, lat, _ = WGS84.fwd(
        centres[which, 0],
        centres[which, 1],
        rng.uniform(-180, 180, count),
        rng.exponential(spread_m, count),
    )
    return np.asarray(lon), np.asarray(lat)


def assert_same_as_sklearn(
    lon: np.ndarray, lat: np.ndarray, eps_m: float, min_samples: int
) -> None:
    distance = geodesic_matrix(lon, lat)
    reference = DBSCAN(eps=eps_m, min_samples=min_samples, metric="precomputed").fit(distance)
    ours = dbscan_geodesic(lon, lat, eps_m=eps_m, min_samples=min_samples)
    core = np.zeros(lon.size, dtype=bool)
    core[reference.core_sample_indices_] = True
    # Same noise, same partition of core sites.
    np.testing.assert_array_equal(ours == -1, reference.labels_ == -1)
    if core.any():
        assert adjusted_rand_score(reference.labels_[core], ours[core]) == 1.0
    # Border sites join a cluster of some core site within eps.
    for site in np.flatnonzero(~core & (ours >= 0)):
        reachable = core & (distance[site] <= eps_m)
        assert ours[site] in set(ours[reachable])


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([200.0, 1_000.0, 5_000.0, 30_000.0]),
    st.integers(1, 8),
    st.sampled_from([500.0, 5_000.0, 40_000.0]),
)
@settings(max_examples=25, deadline=None)
def test_matches_sklearn_dbscan_on_geodesic_distances(
    seed: int, eps_m: float, min_samples: int, spread_m: float
) -> None:
    lon, lat = blobs(seed, 600, spread_m)
    assert_same_as_sklearn(lon, lat, eps_m, min_samples)


def test_pairs_at_the_threshold_are_decided_geodesically() -> None:
    # Pairs 0.1 mm inside, 0.1 mm outside and 1 µm inside eps (built with Geod.fwd): all
    # inside the chord band, so only Geod.inv can tell them apart.
    eps = 5_000.0
    rows = []
    for k, gap in enumerate([eps - 1e-4, eps + 1e-4, eps - 1e-6]):
        lon0, lat0 = 15.0 + k, 3.0
        lon1, lat1, _ = WGS84.fwd(lon0, lat0, 37.0, gap)
        rows += [(lon0, lat0), (float(lon1), float(lat1))]
    lon, lat = np.array(rows).T
    labels = dbscan_geodesic(lon, lat, eps_m=eps, min_samples=2)
    assert labels.tolist() == [0, 0, -1, -1, 1, 1]


def test_labels_are_numbered_by_first_member_and_nan_is_noise() -> None:
    lon = np.array([30.0, 20.0, np.nan, 30.001, 20.001])
    lat = np.zeros(5)
    labels = dbscan_geodesic(lon, lat, eps_m=1_000, min_samples=2)
    assert labels.tolist() == [0, 1, -1, 0, 1]
    assert dbscan_geodesic(np.array([]), np.array([]), eps_m=1_000, min_samples=2).size == 0
    with pytest.raises(ValueError):
        dbscan_geodesic(lon, lat, eps_m=1.0, min_samples=2)


def test_crowded_cells_and_identical_points() -> None:
    # Many duplicates (a crowded cube) plus a chain leaving it.
    lon = np.r_[np.full(500, 20.0), 20.0 + np.arange(1, 30) * 0.03]
    lat = np.zeros(lon.size)
    assert_same_as_sklearn(lon, lat, 4_000.0, 5)
    assert_same_as_sklearn(lon, lat, 4_000.0, 1)


# --------------------------------------------------------------------------- summaries
def test_summary_fields_and_geometry() -> None:
    lon = np.array([14.40, 14.41, 14.42, 25.0, 14.43])
    lat = np.array([5.00, 5.01, 5.00, 0.0, 5.02])
    labels = dbscan_geodesic(lon, lat, eps_m=3_000, min_samples=2)
    [cluster] = summarise(
        labels,
        lon,
        lat,
        country=["CMR", "CAF", "CAF", "COD", None],
        kind=["mine", "mine", "sales_point", "mine", "mine"],
        minerals=[("gold",), ("gold", "diamond"), "diamond", None, None],
        site_ids=["s4", "s1", "s3", "s9", "s2"],
    )
    assert cluster.site_ids == ("s1", "s2", "s3", "s4")
    assert cluster.countries == ("CAF", "CMR") and cluster.cross_border
    assert cluster.kinds == ("mine", "sales_point")
    assert cluster.minerals == ("diamond", "gold")
    assert cluster.count == 4
    members = np.array([0, 1, 2, 4])
    expected_span = geodesic_matrix(lon[members], lat[members]).max() / 1000
    assert cluster.span_km == pytest.approx(expected_span, rel=1e-9)
    assert cluster.geometry.geom_type == "Polygon" and cluster.geometry.is_valid
    assert shapely.contains_xy(cluster.geometry, lon[members], lat[members]).all()
    assert cluster.cluster_id == mint_cluster_id(["s3", "s2", "s1", "s4"])


def test_single_and_two_member_clusters_get_polygons() -> None:
    lon, lat = np.array([20.0, 21.0, 21.001]), np.array([0.0, 0.0, 0.0])
    clusters = summarise(
        np.array([0, 1, 1]), lon, lat, [None] * 3, [None] * 3, [None] * 3, [1, 2, 3], buffer_m=500
    )
    assert [c.count for c in clusters] == [1, 2]
    assert clusters[0].span_km == 0.0 and not clusters[0].cross_border
    assert clusters[1].span_km == pytest.approx(
        float(inverse_distance_m(21.0, 0, 21.001, 0)) / 1000
    )
    for cluster in clusters:
        assert cluster.geometry.geom_type == "Polygon" and cluster.geometry.is_valid
    # A 500 m buffer around one site: about pi * 0.5² km² in area.
    area = abs(WGS84.geometry_area_perimeter(clusters[0].geometry)[0])
    assert area == pytest.approx(np.pi * 500**2, rel=0.01)


def test_span_of_a_large_cluster_uses_its_hull() -> None:
    lon, lat = blobs(7, 3_000, 60_000)
    labels = np.zeros(lon.size, dtype=np.intp)
    [cluster] = summarise(
        labels,
        lon,
        lat,
        [None] * lon.size,
        [None] * lon.size,
        [None] * lon.size,
        list(range(lon.size)),
    )
    far = np.argsort(np.hypot(lon - lon.mean(), lat - lat.mean()))[-300:]
    brute = geodesic_matrix(lon[far], lat[far]).max() / 1000
    assert cluster.span_km >= brute - 1e-9
    assert cluster.span_km == pytest.approx(brute, rel=1e-3)


# --------------------------------------------------------------------------- stable ids
def summary(cluster_id: str, members: list[str]) -> ClusterSummary:
    return ClusterSummary(
        cluster_id, tuple(members), (), (), (), len(members), 0.0, shapely.Point(0, 0), False
    )


def test_ids_survive_small_changes_and_new_ones_are_reproducible() -> None:
    previous = {
        "cl-old-a": frozenset({"a", "b", "c", "d"}),
        "cl-old-b": frozenset({"x", "y"}),
        "cl-old-c": frozenset({"p", "q", "r", "s", "t", "u"}),
    }
    new = [
        summary(mint_cluster_id(["a", "b", "c", "e"]), ["a", "b", "c", "e"]),  # J = 3/5
        summary(mint_cluster_id(["x", "z", "w", "v"]), ["v", "w", "x", "z"]),  # J = 1/5
        summary(mint_cluster_id(["p", "q", "r"]), ["p", "q", "r"]),  # half of a split: J = 1/2
        summary(mint_cluster_id(["s", "t"]), ["s", "t"]),  # other half: J = 1/3
    ]
    result = assign_stable_ids(new, previous)
    assert [c.cluster_id for c in result] == [
        "cl-old-a",
        mint_cluster_id(["v", "w", "x", "z"]),
        "cl-old-c",
        mint_cluster_id(["s", "t"]),
    ]
    assert assign_stable_ids(new, previous) == result  # reproducible
    assert [c.cluster_id for c in assign_stable_ids(new, {})] == [c.cluster_id for c in new]


def test_one_previous_cluster_goes_to_one_new_cluster() -> None:
    previous = {"cl-old": frozenset({"a", "b"})}
    new = [summary("n1", ["a", "b", "c"]), summary("n2", ["a", "b"])]  # impossible overlap, but
    result = assign_stable_ids(new, previous)  # the matcher must still stay one-to-one
    assert [c.cluster_id for c in result] == ["n1", "cl-old"]


# --------------------------------------------------------------------------- percolation
def test_percolation_is_detected_and_eps_adapts() -> None:
    # A dense carpet of sites: 5 km chains everything into one cluster.
    rng = np.random.default_rng(2)
    lon = rng.uniform(15, 19, 20_000)
    lat = rng.uniform(2, 6, 20_000)
    plain = cluster_sites(lon, lat, eps_m=5_000, min_samples=4)
    assert plain.percolation.percolated
    assert plain.percolation.largest_share > 0.9
    assert plain.percolation.largest_span_km > 500

    adapted = cluster_sites(lon, lat, eps_m=5_000, min_samples=4, adapt=True)
    assert not adapted.percolation.percolated
    assert adapted.eps_m < 5_000 and adapted.eps_tried_m[0] == 5_000
    assert adapted.eps_tried_m[-1] == adapted.eps_m


def test_a_small_survey_in_one_place_is_not_percolation() -> None:
    # Fifty sites around one village: one cluster holding them all is not percolation.
    rng = np.random.default_rng(1)
    lon, lat, _ = WGS84.fwd(
        np.full(50, 20.0), np.zeros(50), rng.uniform(-180, 180, 50), rng.uniform(0, 2_000, 50)
    )
    labels = dbscan_geodesic(np.asarray(lon), np.asarray(lat), eps_m=5_000, min_samples=2)
    verdict = detect_percolation(labels, lon, lat, eps_m=5_000)
    assert verdict.largest_share == 1.0
    assert not verdict.percolated and verdict.reason == "ok"
