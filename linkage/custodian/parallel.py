"""Where `pprl hash` encodes its chunks: here, on a pool of processes, or on a Dask cluster.

Only a few chunks are in flight at a time, read from the extract as workers come free, and
results come back in file order, so memory is bounded by the chunks in flight whatever the
extract's size. A process worker holds the linkage secret and must not outlive `pprl hash`;
a Dask cluster must be the custodian's own, inside its secure environment.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice
from typing import Any

import pyarrow as pa

from linkage.custodian.extract import Extract, ExtractStream

# a lost or failing task is tried again this many times before the run stops
RETRIES = 2


def _end_with_parent(parent: int | None) -> None:
    """Worker initializer: the worker holds the linkage secret, so it must not outlive its
    parent. On Linux the kernel kills it when the parent dies (PR_SET_PDEATHSIG), whatever
    kills the parent; a forked worker whose parent (`parent`) is already gone exits at once.
    (A worker started by a fork server dies with that server, which ends with pprl hash.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def extract_pieces(extract: Extract | ExtractStream, rows: int, workers: int) -> Iterator[pa.Table]:
    """The extract in chunks of at most `rows` rows: a table in memory cut evenly over the
    workers, a stream read a chunk at a time."""
    if isinstance(extract, ExtractStream):
        yield from extract.batches(rows)
        return
    table = extract.table
    count = math.ceil(table.num_rows / rows)
    count = max(1, math.ceil(count / workers) * workers) if workers > 1 else count
    size = max(1, math.ceil(table.num_rows / max(count, 1)))
    yield from (table.slice(start, size) for start in range(0, table.num_rows, size))


def encoded_chunks(
    pieces: Iterator[pa.Table], encode: Callable, shared: tuple, workers: int, client: Any = None
) -> Iterator:
    """encode(piece, *shared) of each piece in file order: on the cluster of `client`, on
    `workers` processes when there is more than one, else here. Pieces are read only as
    workers come free, so memory does not grow with the extract."""
    if client is not None:
        yield from _on_cluster(pieces, encode, shared, client)
        return
    pieces = iter(pieces)
    head = list(islice(pieces, 2))
    pieces = chain(head, pieces)
    if workers <= 1 or len(head) <= 1:  # one chunk: not worth starting processes
        yield from (encode(piece, *shared) for piece in pieces)
        return
    forked = multiprocessing.get_start_method() == "fork"
    pool = ProcessPoolExecutor(
        max_workers=workers,
        initializer=_end_with_parent,
        initargs=(os.getpid() if forked else None,),
    )
    try:
        # keep only a few chunks in flight, so that memory does not grow with the extract
        pending: deque[Future] = deque()
        for piece in pieces:
            pending.append(pool.submit(encode, piece, *shared))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except (KeyboardInterrupt, SystemExit):
        # interrupted: stop the workers now, and do not wait for the pool, whose result
        # reader can wait forever on a worker killed while sending (`pprl hash` exits
        # without joining it)
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _on_cluster(pieces: Iterator[pa.Table], encode: Callable, shared: tuple, client: Any):
    """Chunks on a Dask cluster's workers, two per worker thread in flight; what every
    chunk needs (the secret, the configuration) sent to each worker once."""
    held = client.scatter(list(shared), broadcast=True, hash=False)
    in_flight = 2 * max(sum(client.nthreads().values()), 1)
    pending: deque = deque()
    for piece in pieces:
        pending.append(client.submit(encode, piece, *held, pure=False, retries=RETRIES))
        if len(pending) > in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
