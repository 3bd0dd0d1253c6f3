"""The TTP opens custodians' packages and refuses, before any work, what cannot be linked.

Every package must come from a trusted custodian (by its card's role), be sealed to this TTP,
hold at least one record, and share the project, the encoding configuration and the linkage
secret (by fingerprint) with the others; no custodian may send two. Each refusal is one line naming
the package.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keys import Identity, Keyring, KeysError, open_file
from linkage.config import differing_settings
from linkage.package import PackageInfo, open_package
from linkage.ttp.sources import Source, source_from_table
from pprl import content_types
from pprl.errors import PprlError


class PackageProblem(PprlError):
    """A package that cannot be linked; the message names it."""


def open_packages(
    paths: list[Path],
    *,
    identity: Identity,
    keyring: Keyring,
    work: Path,
    project: str | None = None,
) -> list[Source]:
    if len(paths) < 2:
        raise PackageProblem("linkage needs packages from at least two custodians")
    opened = [
        open_one(
            path,
            identity=identity,
            keyring=keyring,
            plain=work / f"package-{i}.parquet",
            project=project,
        )
        for i, path in enumerate(paths)
    ]
    _same_party_twice(opened)
    for what, attribute in (
        ("project", "project"),
        ("encoding configuration", "config_fingerprint"),
        ("linkage secret", "secret_fingerprint"),
    ):
        _all_equal(opened, what, attribute)
    sources = [source_from_table(info.party, info, file.read()) for _, info, file in opened]
    # the tables read are gone once their columns are copied into the sources; hand the
    # memory arrow kept for them back, or it stays counted against a million-record run
    pa.default_memory_pool().release_unused()
    return sources


def open_one(
    path: Path, *, identity: Identity, keyring: Keyring, plain: Path, project: str | None = None
) -> tuple[Path, PackageInfo, pq.ParquetFile]:
    """Open and check one package (sealed to this TTP by a trusted custodian, holding
    records) into `plain`: its path, what it says about itself, and its rows."""
    try:
        header = open_file(
            path,
            plain,
            recipient_identity=identity,
            keyring=keyring,
            project=project,
            content_type=content_types.PACKAGE,
            sender_roles="custodian",
        )
    except KeysError as e:
        raise PackageProblem(str(e) if str(path) in str(e) else f"{path}: {e}") from None
    try:
        info, file = open_package(plain, str(path))
    except ValueError as e:
        raise PackageProblem(str(e)) from None
    if info.party != header.sender_card.name:
        raise PackageProblem(
            f"{path}: says it is from {info.party!r} but was signed by {header.sender_card.name!r}"
        )
    if file.metadata.num_rows == 0:
        raise PackageProblem(f"{path}: holds no records")
    return path, info, file


def _same_party_twice(opened: list) -> None:
    by_party = defaultdict(list)
    for path, info, _ in opened:
        by_party[info.party].append(str(path))
    for party, paths in by_party.items():
        if len(paths) > 1:
            raise PackageProblem(f"two packages from {party!r}: {', '.join(paths)}")


def _all_equal(opened: list, what: str, attribute: str) -> None:
    groups = defaultdict(list)
    for path, info, _ in opened:
        groups[getattr(info, attribute)].append(str(path))
    if len(groups) > 1:
        listed = "; ".join(", ".join(paths) for paths in groups.values())
        why = _why(opened) if attribute == "config_fingerprint" else ""
        raise PackageProblem(f"packages made with different {what}s: {listed}{why}")


def _why(opened: list) -> str:
    """Which encoding settings differ (between the first two configurations that do), so
    that custodians know what to agree on; '' where the configurations are equal."""
    configs = list({info.config_fingerprint: info.config for _, info, _ in opened}.values())
    if len(configs) < 2:
        return ""
    differ = differing_settings(configs[0], configs[1])
    return f" (they differ in {', '.join(differ)})" if differ else ""
