"""Whole-dataset measuring on Dask (``dask.distributed``): the same geo functions, per partition.

A recompute after a boundary change measures every site (country, nearest border, side
confidence, distances to every border within 300 km). For tens of millions of sites that is
spread over a Dask cluster: the points are cut into consecutive slices, the boundary set
(``BoundarySet``, about 15 MB pickled for Natural Earth) is scattered once to every worker,
and each slice is measured there by :func:`app.services.site_geography.measure` — the very
function the single-process path runs — so the figures are the same to the last bit. Reading
the points and writing the results stay in the caller's transaction.

    with dask_client("local", workers=2) as client:          # a LocalCluster of processes
        site_geography.recompute_all(session, state, measurer_on(client))
    with dask_client("tcp://scheduler:8786") as client:      # an existing cluster
        ...

Workers need borderlens installed (the same version): they import the geo engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
from distributed import Client, LocalCluster

from app.services import site_geography
from app.services.boundary_state import BoundarySet

#: Slices per worker thread: enough that a slow worker does not hold up the rest.
SLICES_PER_THREAD = 4
#: The smallest slice worth a task (below this the scheduling costs more than the work).
MIN_SLICE = 5_000


@contextmanager
def dask_client(address: str, workers: int = 2) -> Iterator[Client]:
    """A client of the Dask scheduler at ``address`` (``tcp://host:8786``), or of a local
    cluster of ``workers`` processes (one thread each) when ``address`` is ``local``."""
    if address == "local":
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(address) as client:
            yield client


def slices(n: int, threads: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, stop)`` slices of ``n`` points for ``threads`` worker threads."""
    count = max(1, min(threads * SLICES_PER_THREAD, n // MIN_SLICE))
    edges = np.linspace(0, n, count + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def measurer_on(client: Client) -> site_geography.Measurer:
    """A :data:`~app.services.site_geography.Measurer` that measures on ``client``'s cluster."""

    def measure(
        state: BoundarySet,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        accuracy_m: npt.NDArray[np.float64],
    ) -> site_geography.SiteGeography:
        threads = sum(client.nthreads().values()) or 1
        [shared] = client.scatter([state], broadcast=True)
        futures = [
            client.submit(
                site_geography.measure,
                shared,
                lon[a:b],
                lat[a:b],
                accuracy_m[a:b],
                pure=False,
            )
            for a, b in slices(len(lon), threads)
        ]
        return site_geography.concatenate(client.gather(futures))

    return measure
