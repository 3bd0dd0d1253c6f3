"""A client of a dask.distributed cluster, for `--engine dask`: the cluster at a scheduler's
address, or a LocalCluster of worker processes on this machine."""

from __future__ import annotations

from typing import Any

from pprl.errors import PprlError


class ClusterError(PprlError):
    """The cluster could not be reached or started."""


def connect(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """(client, the LocalCluster started for it or None). One thread per worker: the
    kernels release the GIL, but numpy's temporaries are per thread."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({e})") from None
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=40
    )
    return Client(cluster), cluster
