"""Which variant pairs a salted field can be compared for: a field whose tokens the custodians
salted with the record's year of birth (or day and month) encodes one value differently in
different years, so two records can be compared on it only where they share the salt, and
elsewhere the field is missing (no evidence), not disagreeing. The TTP reads the salts from
the packages' encoding configuration and tells equal salts by equal date filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from linkage.ttp.sources import Source


class SaltedPairs:
    """Variant pairs (va in A, vb in B) and, per salt kind, whether each pair shares it."""

    def __init__(self, a: Source, b: Source, va: np.ndarray, vb: np.ndarray) -> None:
        self.a, self.b, self.va, self.vb = a, b, va, vb
        config = a.info.config if a.info is not None else {}
        self._salts: dict[str, list[str]] = config.get("hardening", {}).get("salts", {})
        self._same: dict[str, np.ndarray] = {}

    def comparable(self, field_name: str) -> np.ndarray | bool:
        """Whether each pair shares every salt of the field that the TTP can see (year, day
        and month); True for an unsalted field."""
        out: np.ndarray | bool = True
        for kind in self._salts.get(field_name, ()):
            if kind in ("year", "daymonth"):
                out = out & self.same(kind)
        return out

    def same(self, kind: str) -> np.ndarray:
        """Whether each pair's year (or day and month, in either order) of birth is the
        same, by equal filters, or missing on both sides (both unsalted)."""
        if kind not in self._same:
            if kind == "year":
                same = self._equal("dob_year", "dob_year")
            else:
                straight = self._equal("dob_day", "dob_day") & self._equal("dob_month", "dob_month")
                same = straight | (
                    self._equal("dob_day", "dob_month") & self._equal("dob_month", "dob_day")
                )
            neither = ~self.a.present["dob_year"][self.va] & ~self.b.present["dob_year"][self.vb]
            self._same[kind] = same | neither
        return self._same[kind]

    def _equal(self, field_a: str, field_b: str) -> np.ndarray:
        """Whether the two filters are bit for bit equal, and both present."""
        a, b = self.a, self.b
        equal = (a.filters[field_a][self.va] == b.filters[field_b][self.vb]).all(axis=1)
        return equal & a.present[field_a][self.va] & b.present[field_b][self.vb]
