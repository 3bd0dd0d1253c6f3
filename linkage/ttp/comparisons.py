"""Comparison vectors: per field, an agreement level for each candidate record pair.

Each comparison is data that owns its logic: an ordered list of levels (best first) with
the cuts and options that make them, and a `levels` method that computes them for variant
pairs. Dice similarity of keyed filters (popcounts) is cut into levels; dates of birth are
compared part by part, so that a day/month swap or one wrong part is its own level; a
forename/surname swap is found by comparing each record's forename with the other's
surname. A record's variants (aliases, formal names, name parts) are compared all against
all, and each field keeps its best level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from linkage.ttp.kernels import dob_levels, pair_dice
from linkage.ttp.salts import SaltedPairs

if TYPE_CHECKING:
    from linkage.ttp.sources import Source

MISSING = -1
_EPSILON = 1e-12  # a Dice of exactly a cut counts as reaching it


class VariantPairs:
    """Variant pairs (va in A, vb in B) as comparisons read them: Dice of any two filter
    fields computed once and shared, so the name comparisons' swap test costs nothing extra."""

    def __init__(self, a: Source, b: Source, va: np.ndarray, vb: np.ndarray) -> None:
        self.a, self.b, self.va, self.vb = a, b, va, vb
        self._dice: dict[tuple[str, str], np.ndarray] = {}
        self.salts = SaltedPairs(a, b, va, vb)

    def __len__(self) -> int:
        return len(self.va)

    def dice(self, field_a: str, field_b: str | None = None) -> np.ndarray:
        """Dice of each variant pair, read in place from the tables of distinct values: with
        no gathered copies, scoring every pair is cheaper than finding the distinct pairs."""
        key = (field_a, field_b or field_a)
        if key not in self._dice:
            ids_a, values_a = self.a.distinct(key[0])
            ids_b, values_b = self.b.distinct(key[1])
            self._dice[key] = pair_dice(values_a, values_b, ids_a[self.va], ids_b[self.vb])
        return self._dice[key]

    def both(self, field_name: str) -> np.ndarray:
        """Whether both records of each pair hold the field, under the same salts (a field
        salted with the year of birth is missing, not disagreeing, where the years differ)."""
        held = self.a.present[field_name][self.va] & self.b.present[field_name][self.vb]
        return held & self.salts.comparable(field_name)

    def swapped(self, one: str, other: str, cut: float, typo_cut: float) -> np.ndarray:
        """Whether two names were written the wrong way round: one at least `cut` like the
        other's other name, the second at least `typo_cut` (a swap with a typo in one),
        and closer crossed than straight."""
        crossed_1, crossed_2 = self.dice(one, other), self.dice(other, one)
        return (
            (np.maximum(crossed_1, crossed_2) >= cut)
            & (np.minimum(crossed_1, crossed_2) >= typo_cut)
            & (crossed_1 + crossed_2 > self.dice(one) + self.dice(other))
        )

    def within(self, field_a: str, field_b: str) -> np.ndarray:
        """The share of each A value's bits also set in the B value: 1 where a name is
        among the other record's several names (a forename among middle names)."""
        ones_a = self.a.ones[field_a][self.va]
        ones_b = self.b.ones[field_b][self.vb]
        dice = self.dice(field_a, field_b)
        return np.where(ones_a > 0, dice * (ones_a + ones_b) / np.maximum(2 * ones_a, 1), 0.0)


def cut_levels(similarity: np.ndarray, cuts: tuple[float, ...], present: np.ndarray) -> np.ndarray:
    """Level 0 is the best; `len(cuts)` is 'else'; MISSING where either side lacks it."""
    level = np.full(len(similarity), len(cuts), dtype=np.int8)
    for i, cut in reversed(list(enumerate(cuts))):
        level[similarity >= cut - _EPSILON] = i
    level[~present] = MISSING
    return level


@dataclass(frozen=True)
class Comparison:
    """A comparison as data: a name, its levels best first (as labels), the options that
    cut them, and whether its agreement is weighed by how rare the agreed value is."""

    name: str
    labels: tuple[str, ...]
    term_frequency: bool = False

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        """The level of each variant pair (int8, MISSING where either side lacks it)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The definition as recorded in model.json (the labels go with each level's m and
        u): enough to see what a level meant, and to refuse a model fitted with others."""
        return {
            "kind": type(self).__name__,
            **{k: v for k, v in asdict(self).items() if k != "labels"},
        }


@dataclass(frozen=True)
class DiceComparison(Comparison):
    """Levels by Dice of one field's filters: level i where Dice >= cuts[i], then 'else'."""

    cuts: tuple[float, ...] = ()

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        return cut_levels(pairs.dice(self.name), self.cuts, pairs.both(self.name))


@dataclass(frozen=True)
class NameComparison(Comparison):
    """Dice levels of a name compared across a swap with `other`, with a level of its own
    (second to last) where it disagrees (below cuts[-2]) but is at least `swap_cut` like
    the other record's other name: half a swap. Exact agreement of a swapped name counts
    as exact."""

    other: str = ""
    cuts: tuple[float, ...] = ()
    swap_cut: float = 0.85
    swap_typo_cut: float = 0.85

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        swapped = pairs.swapped(self.name, self.other, self.swap_cut, self.swap_typo_cut)
        crossed = pairs.dice(self.name, self.other)
        level = cut_levels(
            np.where(swapped, crossed, pairs.dice(self.name)),
            self.cuts,
            pairs.both(self.name) | swapped,
        )
        half_swap = (level >= len(self.cuts) - 1) & (
            np.where(swapped, 0.0, crossed) >= self.swap_cut
        )
        level[level == len(self.cuts)] += 1  # 'else' moves down one
        level[half_swap] = len(self.cuts)
        return level


@dataclass(frozen=True)
class ForenameComparison(NameComparison):
    """A name comparison with one more level (second to last): where the forenames
    disagree or one is missing, the forename of either record is among the other's
    `middle` names (at least `middle_cut` of its bits there): a person known by a middle
    name, or a forename keyed into the middle-names field."""

    middle: str = "middle_names"
    middle_cut: float = 0.85

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        level = super().levels(pairs)
        among = np.maximum(
            np.where(pairs.a.present[self.name][pairs.va], pairs.within(self.name, self.middle), 0),
            np.where(
                pairs.b.present[self.name][pairs.vb],
                _transposed(pairs).within(self.name, self.middle),
                0,
            ),
        )
        worst = len(self.labels) - 1
        moved = (among >= self.middle_cut) & ((level == worst - 1) | (level == MISSING))
        level[level == worst - 1] = worst
        level[moved] = worst - 1
        return level


def _transposed(pairs: VariantPairs) -> VariantPairs:
    """The same variant pairs with the sources the other way round."""
    return VariantPairs(pairs.b, pairs.a, pairs.vb, pairs.va)


@dataclass(frozen=True)
class MiddleNamesComparison(DiceComparison):
    """Dice levels of middle names, except that where they disagree and a middle name of
    either record is the other's `forename` (at least `forename_cut` of the forename's bits
    among the middle names), the level is MISSING: forename and middle name were recorded
    the other way round, which the forename comparison counts already, once."""

    forename: str = "forename"
    forename_cut: float = 0.85

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        level = super().levels(pairs)
        among = np.maximum(
            np.where(
                pairs.b.present[self.forename][pairs.vb],
                _transposed(pairs).within(self.forename, self.name),
                0,
            ),
            np.where(
                pairs.a.present[self.forename][pairs.va],
                pairs.within(self.forename, self.name),
                0,
            ),
        )
        level[(among >= self.forename_cut) & (level == len(self.cuts))] = MISSING
        return level


@dataclass(frozen=True)
class ExactComparison(Comparison):
    """Two levels: the filters are bit for bit equal, or not."""

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        equal = (pairs.a.filters[self.name][pairs.va] == pairs.b.filters[self.name][pairs.vb]).all(
            axis=1
        )
        return np.where(pairs.both(self.name), np.where(equal, 0, 1), MISSING).astype(np.int8)


@dataclass(frozen=True)
class DateComparison(Comparison):
    """A date of birth part by part (levels as in `kernels.dob_levels`); a year is 'close' where
    the Dice of the year filters reaches `year_close_cut`."""

    year_close_cut: float = 0.15

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        a, b = pairs.a, pairs.b
        parts = "dob_day", "dob_month", "dob_year"
        return dob_levels(
            *(np.ascontiguousarray(a.filters[n]) for n in parts),
            *(np.ascontiguousarray(b.filters[n]) for n in parts),
            a.ones["dob_year"],
            b.ones["dob_year"],
            a.present["dob_day"],
            b.present["dob_day"],
            np.asarray(pairs.va, np.int64),
            np.asarray(pairs.vb, np.int64),
            self.year_close_cut,
        )


@dataclass(frozen=True)
class LocationComparison(Comparison):
    """Postcode and address as one comparison: each cut by Dice, then combined by the
    `rules` (one per level but 'else', in order; the first that holds wins). A rule names
    the postcode or address levels it accepts; both listed means both must hold."""

    postcode_cuts: tuple[float, ...] = ()
    address_cuts: tuple[float, ...] = ()
    rules: tuple[dict[str, tuple[int, ...]], ...] = field(default=())

    def levels(self, pairs: VariantPairs) -> np.ndarray:
        cut = {
            "postcode": cut_levels(
                pairs.dice("postcode"), self.postcode_cuts, pairs.both("postcode")
            ),
            "address": cut_levels(pairs.dice("address"), self.address_cuts, pairs.both("address")),
        }
        holds = [
            np.logical_and.reduce([np.isin(cut[f], accepted) for f, accepted in rule.items()])
            for rule in self.rules
        ]
        neither = (cut["postcode"] == MISSING) & (cut["address"] == MISSING)
        return np.select(
            [*holds, neither], [*range(len(holds)), MISSING], default=len(holds)
        ).astype(np.int8)


_NAME_CUTS = (1.0, 0.85, 0.7, 0.5)
# a swap in which one of the names also has a typo: crossed, it is still this like its partner
_SWAP_TYPO_CUT = 0.5
_DICE = ("dice >= 0.85", "dice >= 0.7", "dice >= 0.5")
# The order is the column order of every levels array and of model.json's comparisons.
COMPARISONS: tuple[Comparison, ...] = (
    # "is the other's surname": the names were swapped and one of them also changed
    ForenameComparison(
        "forename",
        ("exact", *_DICE, "is the other's surname", "among the other's middle names", "else"),
        term_frequency=True,
        other="surname",
        cuts=_NAME_CUTS,
        swap_typo_cut=_SWAP_TYPO_CUT,
    ),
    NameComparison(
        "surname",
        ("exact", *_DICE, "is the other's forename", "else"),
        term_frequency=True,
        other="forename",
        cuts=_NAME_CUTS,
        swap_typo_cut=_SWAP_TYPO_CUT,
    ),
    MiddleNamesComparison("middle_names", ("dice >= 0.9", "dice >= 0.6", "else"), cuts=(0.9, 0.6)),
    # a mistyped year is one out, ten out or two digits transposed ("close"); a namesake
    # born on the same day of another year is "far"; a date keyed a year and a day out at
    # once keeps its month
    DateComparison(
        "dob",
        (
            "exact",
            "day and month swapped",
            "year close, day and month agree",
            "day or month differs",
            "year close and day differs, month agrees",
            "year far, day and month agree",
            "year only",
            "else",
        ),
    ),
    ExactComparison("sex", ("agree", "disagree")),
    # Postcode and address are one comparison: a shared household would otherwise count
    # twice, and siblings at one address would look like one person. Postcode levels:
    # exact, same sector, same outward code; address levels: the same, similar.
    LocationComparison(
        "location",
        (
            "same address and postcode",
            "same postcode",
            "similar address",
            "same postcode sector",
            "same outward code",
            "else",
        ),
        postcode_cuts=(0.95, 0.65, 0.45),
        address_cuts=(0.9, 0.7),
        rules=(
            {"postcode": (0,), "address": (0,)},
            {"postcode": (0,)},
            {"address": (0, 1)},
            {"postcode": (1,)},
            {"postcode": (2,)},
        ),
    ),
)
# Term frequencies are declared per comparison; sources work them out by field name.
TERM_FREQUENCY_FIELDS = tuple(c.name for c in COMPARISONS if c.term_frequency)


def comparison_index(name: str) -> int:
    """The column of a comparison in levels arrays."""
    return [c.name for c in COMPARISONS].index(name)


def variant_levels(a: Source, b: Source, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """(pairs, comparisons) levels for variant pairs (va in A, vb in B), each comparison
    computing its own column.

    Term frequencies are looked up by `record_levels`; a swapped name's exact agreement
    counts as exact, with the frequency of the value as written."""
    pairs = VariantPairs(a, b, va, vb)
    out = np.empty((len(va), len(COMPARISONS)), dtype=np.int8)
    for j, comparison in enumerate(COMPARISONS):
        out[:, j] = comparison.levels(pairs)
    return out
