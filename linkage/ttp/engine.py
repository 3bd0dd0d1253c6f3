"""Where chunks of linkage run: in the TTP's own process, or on a Dask cluster.

Both engines offer the same few operations on handles (a value in-process, a future on
Dask): `put` data every task reads (sent to the workers once), `map` a function over
chunks (their results stay where they were made), `submit` one task, and `gather` results
back. A Dask task whose worker is lost is re-run by the scheduler from what it was made of
(the scattered sources are on every worker); one that fails is retried.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from tqdm import tqdm

from linkage.cluster import connect

# times a failing task is tried again before the run stops
RETRIES = 2


class LocalEngine:
    """Every chunk in this process, one after another."""

    def __init__(self, progress: bool = False) -> None:
        self.progress = progress

    def put(self, value: Any) -> Any:
        return value

    def map(self, fn: Callable, *columns: Iterable, desc: str = "", **shared: Any) -> list:
        rows = list(zip(*columns, strict=True))
        with tqdm(total=len(rows), desc=desc, leave=False, disable=not self.progress) as bar:
            out = []
            for row in rows:
                out.append(fn(*row, **shared))
                bar.update()
        return out

    def submit(self, fn: Callable, *args: Any) -> Any:
        return fn(*args)

    def gather(self, handles: list) -> list:
        return list(handles)

    def close(self) -> None:
        """Nothing to let go of."""


class DaskEngine:
    """Chunks on the workers of a dask.distributed cluster, through `client`."""

    def __init__(self, client: Any, progress: bool = False, own_cluster: Any = None) -> None:
        self.client = client
        self.progress = progress
        self._own_cluster = own_cluster

    def put(self, value: Any) -> Any:
        """On every worker now, so that no task carries it (and a lost worker loses no
        copy that matters)."""
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, fn: Callable, *columns: Iterable, desc: str = "", **shared: Any) -> list:
        """Futures of fn over the rows of `columns`, once all are done (the bar follows
        the tasks as the cluster finishes them)."""
        from distributed import as_completed

        futures = self.client.map(fn, *columns, pure=False, retries=RETRIES, **shared)
        with tqdm(total=len(futures), desc=desc, leave=False, disable=not self.progress) as bar:
            for future in as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the task's own error
                bar.update()
        return futures

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False, retries=RETRIES)

    def gather(self, handles: list) -> list:
        return self.client.gather(handles)

    def close(self) -> None:
        """Close the client, and the cluster if this engine started it."""
        self.client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()


Engine = LocalEngine | DaskEngine


def map_pairs(engine: Engine, fn: Callable, *columns: Iterable, desc: str = "", **shared: Any):
    """fn returns (state, result) for each row: the states stay where they are, the
    results are handles of their own."""
    both = engine.map(fn, *columns, desc=desc, **shared)
    if isinstance(engine, LocalEngine):
        return [s for s, _ in both], [r for _, r in both]
    first = engine.client.map(operator.getitem, both, [0] * len(both), pure=False)
    second = engine.client.map(operator.getitem, both, [1] * len(both), pure=False)
    return first, second


def dask_engine(scheduler: str | None, workers: int | None, progress: bool = False) -> DaskEngine:
    """An engine on the cluster at `scheduler`, or on a LocalCluster of `workers`
    processes started for it."""
    client, cluster = connect(scheduler, workers)
    return DaskEngine(client, progress, own_cluster=cluster)
