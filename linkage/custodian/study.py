"""The custodian's study mark: which of its records start a person's place in the study.

The custodian that holds the study's index content (the L&D contacts) names those records
when hashing (`pprl hash --in-study FILE`); the package carries one flag per record and
nothing else about them. The TTP carries the mark to each marked person's other records, so
that custodians release content only for the people the study needs.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from linkage.custodian.extract import IDENTIFIER_FIELDS, ExtractError, read_extract


def read_marked(path: Path, encoding: str = "utf-8") -> frozenset[str]:
    """The record ids in FILE's `record_id` column (CSV or Parquet; other columns ignored).

    Raises ExtractError, naming the file and never a value, if it cannot be read."""
    try:
        table = read_extract(path, dict.fromkeys(IDENTIFIER_FIELDS), encoding).table
    except ExtractError as e:
        if "missing column" not in str(e):
            raise
        raise ExtractError(
            f"{path}: missing column record_id (--in-study reads the record "
            "ids of your index records from it)"
        ) from None
    ids = pc.utf8_trim_whitespace(table["record_id"]).to_pylist()
    return frozenset(i for i in ids if i)
