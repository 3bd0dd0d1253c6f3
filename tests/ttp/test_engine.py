"""Linkage in chunks and on Dask: a LocalCluster of two workers gives exactly the links of the
in-process run, also when a worker is lost half way; chunking gives the links of the
whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.config import EncodingConfig
from linkage.ttp.blocking import candidate_pairs
from linkage.ttp.chunks import chunk_specs, fill_term_frequencies, source_slice
from linkage.ttp.engine import DaskEngine, LocalEngine
from linkage.ttp.link import LinkResult, link_sources
from pprl.cli import main
from sample_extracts import DEFAULT_SCENARIO

from .test_link import encode_frame

PARTIES = ("trust_north", "police_north", "police_south")
CHUNK = 900  # records of a left source per chunk: trust_north's ~2,000 make three chunks


@pytest.fixture(scope="module")
def sources():
    config = EncodingConfig()
    frames = [
        pd.read_csv(DEFAULT_SCENARIO / p / "identifiers.csv", dtype=str, keep_default_na=False)
        for p in PARTIES
    ]
    return [encode_frame(p, f, config)[0] for p, f in zip(PARTIES, frames, strict=True)], config


@pytest.fixture(scope="module")
def in_process(sources):
    found, config = sources
    return link_sources(found, config.blocking, seed=3, chunk_records=CHUNK)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import dask

    # the scheduler's log of transitions holds every task of a run (to count re-runs)
    with (
        dask.config.set({"distributed.admin.low-level-log-length": 100_000}),
        distributed.LocalCluster(
            n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
        ) as made,
    ):
        yield made


def same_links(one: LinkResult, other: LinkResult) -> None:
    """The same candidate table to the last bit, the same links accepted, the same model."""
    pd.testing.assert_frame_equal(one.links, other.links, check_exact=True)
    assert np.array_equal(one.assignment.accepted, other.assignment.accepted)
    assert one.model.to_dict() == other.model.to_dict()
    assert [p.dropped_probability for p in one.pairs] == [
        p.dropped_probability for p in other.pairs
    ]


def test_specs_cut_each_pair_of_sources_by_its_left_source():
    specs = chunk_specs([5, 3, 2], chunk_records=2)
    assert [(s.pair, s.a, s.b, s.lo, s.hi) for s in specs] == [
        (0, 0, 1, 0, 2),
        (0, 0, 1, 2, 4),
        (0, 0, 1, 4, 5),
        (1, 0, 2, 0, 2),
        (1, 0, 2, 2, 4),
        (1, 0, 2, 4, 5),
        (2, 1, 2, 0, 2),
        (2, 1, 2, 2, 3),
    ]


def test_a_slice_blocks_as_its_records_do_in_the_whole(sources):
    found, config = sources
    a, b = fill_term_frequencies(found[0]), found[1]
    big = 10**9  # no cap: the slice's pairs are exactly the whole's pairs of its records
    whole = candidate_pairs(a, b, config.blocking, big)
    part = candidate_pairs(source_slice(a, 500, 1200), b, config.blocking, big)
    mine = (whole.a >= 500) & (whole.a < 1200)
    assert len(part) > 500
    assert np.array_equal(part.a + 500, whole.a[mine])
    assert np.array_equal(part.b, whole.b[mine])
    assert np.array_equal(part.pass_bits, whole.pass_bits[mine])
    # each slice keeps the whole source's term frequencies
    name = next(iter(a.frequency))
    sliced = source_slice(a, 500, 1200)
    assert np.array_equal(
        sliced.frequency[name], a.frequency[name][(a.record >= 500) & (a.record < 1200)]
    )


def test_chunks_give_the_links_of_the_whole(sources, in_process):
    """Chunks merge B's rivals across chunks and the prior over the pair's patterns; only
    the rounding of sums may differ from one chunk per pair of sources."""
    found, config = sources
    whole = link_sources(found, config.blocking, seed=3, chunk_records=10**6)
    assert len(in_process.links) == len(whole.links) > 1000
    assert np.array_equal(in_process.assignment.accepted, whole.assignment.accepted)
    for column in ("record_a", "record_b", "source_a", "source_b"):
        assert np.array_equal(in_process.links[column], whole.links[column])
    np.testing.assert_allclose(in_process.links.probability, whole.links.probability, rtol=1e-9)
    assert in_process.model.prior_ == pytest.approx(whole.model.prior_, rel=1e-9)


def test_dask_gives_exactly_the_in_process_links(sources, in_process, cluster):
    from distributed import Client

    found, config = sources
    with Client(cluster) as client:
        result = link_sources(
            found, config.blocking, seed=3, engine=DaskEngine(client), chunk_records=CHUNK
        )
    same_links(result, in_process)
    assert in_process.assignment.accepted.sum() > 1000


def test_a_lost_worker_costs_its_tasks_not_the_run(sources, in_process, cluster):
    """After blocking, one worker (holding some chunks' candidates) is lost: the scheduler
    makes its chunks again on the other, and the links are the same."""
    from distributed import Client

    found, config = sources
    before = len(cluster.scheduler.transition_log)
    with Client(cluster) as client:
        engine = DaskEngine(client)
        original, lost = engine.map, []

        def map_then_lose_a_worker(*args, **kwargs):
            futures = original(*args, **kwargs)
            if not lost:
                holders = client.who_has(futures)
                victim = next(iter(holders[futures[0].key]))
                lost.append(victim)
                client.sync(cluster.scheduler.remove_worker, address=victim, stimulus_id="test")
            return futures

        engine.map = map_then_lose_a_worker
        result = link_sources(found, config.blocking, seed=3, engine=engine, chunk_records=CHUNK)
    assert lost
    specs = chunk_specs([s.records for s in found], CHUNK)
    blocked = [
        key
        for key, start, finish, *_ in list(cluster.scheduler.transition_log)[before:]
        if str(key).startswith("block_chunk") and finish == "memory"
    ]
    assert len(specs) < len(blocked) < 2 * len(specs)  # the lost worker's chunks, again
    same_links(result, in_process)


def test_local_engine_is_the_default(sources, in_process):
    found, config = sources
    again = link_sources(found, config.blocking, seed=3, engine=LocalEngine(), chunk_records=CHUNK)
    same_links(again, in_process)


@pytest.mark.parametrize("option", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:1"]])
def test_cluster_options_need_the_dask_engine(option, tmp_path):
    from click.testing import CliRunner

    package = tmp_path / "a.pkg"
    package.write_bytes(b"x")
    key = tmp_path / "ttp.key"
    key.write_bytes(b"x")
    args = ["link", str(package), "--key", str(key), "--to", "analyst", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(main, [*args, *option])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"Error: {option[0]} needs --engine dask"]
