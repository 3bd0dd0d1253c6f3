"""Multiple imputation over links: the analysis repeated on link sets drawn from the posteriors.

The single-threshold estimate takes the TTP's accepted links as true. Links are uncertain: an
accepted link may be false (two people made one), and a pair below the threshold may be a
missed match (one person left as two, losing events or a whole cohort member). Following
Goldstein, Harron and Wade's prior-informed imputation (Statistics in Medicine 2012;
31:3481-93), each imputation draws a link set from the posteriors in the TTP's
`uncertain_links` file (accepted links and uncertain pairs alike), rebuilds persons as the
connected records, rebuilds the cohort from them (a drawn link can bring an index record to a
person; an undrawn one can split an index record from the person's events), estimates every
measure with the same estimator as the main rows, and pools the log rate ratios by Rubin's
rules (`outcomes.rubin`).

A record's candidates in one other source are rivals (a record has at most one partner
there): one of them, or none, is drawn with their posteriors as probabilities (scaled down
where they add up to more than 1). Where two records of a source draw the same partner, one of
them, at random, keeps it. Draws come from one seeded generator, so a study file gives the
same imputations every run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from outcomes.cohort import Content
from outcomes.disclosure import GROUP, TOTAL
from outcomes.rubin import rubin
from outcomes.statistics import Z95
from pprl.errors import PprlError

LINK_COLUMNS = ("party_a", "pseudonym_a", "party_b", "pseudonym_b", "match_probability", "accepted")
COUNTS = ("persons", "events_pre", "events_post")
YEARS = ("person_years_pre", "person_years_post")
ROW_KEYS = ("measure", "window", "adjustment", "interval", "linkage", "subgroup")


class LinkError(PprlError, ValueError):
    """The uncertain links do not belong with the person quality table; the message says why."""


class LinkGraph:
    """Every record of the study (by party and pseudonym) and every link between them."""

    def __init__(self, quality: pd.DataFrame, links: pd.DataFrame) -> None:
        missing = [c for c in LINK_COLUMNS if c not in links.columns]
        if missing:
            raise LinkError(
                f"the uncertain links lack column(s) {', '.join(missing)} "
                "(are they from an older pprl link?)"
            )
        self.nodes = pd.MultiIndex.from_arrays(
            [quality.party.astype(str), quality.pseudonym.astype(str)]
        )
        self.person = quality.person_id.astype(str).to_numpy()
        self.a, self.b = self._side(links, "a"), self._side(links, "b")
        self.probability = links.match_probability.to_numpy(float)
        self.accepted = links.accepted.to_numpy(bool)
        party_a, party_b = links.party_a.astype(str), links.party_b.astype(str)
        self.rivals_a = pd.factorize(pd.MultiIndex.from_arrays([self.a, party_b]))[0]
        self.rivals_b = pd.factorize(pd.MultiIndex.from_arrays([self.b, party_a]))[0]
        self._check_persons()
        # one of a record's rivals, or none, is drawn: each link owns a slice of [0, 1) of
        # its probability's width (scaled where the rivals' probabilities add up past 1)
        by_set = pd.DataFrame({"p": self.probability, "set": self.rivals_a}).groupby("set").p
        self._upper = by_set.cumsum().to_numpy()
        self._scale = np.maximum(by_set.transform("sum").to_numpy(), 1.0)

    def _side(self, links: pd.DataFrame, side: str) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays(
            [links[f"party_{side}"].astype(str), links[f"pseudonym_{side}"].astype(str)]
        )
        node = self.nodes.get_indexer(keys)
        if (node < 0).any():
            raise LinkError(
                f"{int((node < 0).sum()):,} uncertain link(s) name a record that is not in "
                "the person quality table: they come from different linkage runs"
            )
        return node

    def _check_persons(self) -> None:
        """The accepted links must make exactly the TTP's persons."""
        made = self.components(self.accepted)
        persons = pd.factorize(self.person)[0]
        pairs = pd.DataFrame({"made": made, "person": persons}).drop_duplicates()
        if pairs.made.duplicated().any() or pairs.person.duplicated().any():
            raise LinkError(
                "the accepted links in the uncertain links do not make the persons of the "
                "person quality table: they come from different linkage runs"
            )

    def components(self, chosen: np.ndarray) -> np.ndarray:
        """Each record's person when exactly the `chosen` links hold."""
        n = len(self.nodes)
        edges = coo_matrix(
            (np.ones(int(chosen.sum())), (self.a[chosen], self.b[chosen])), shape=(n, n)
        )
        return connected_components(edges, directed=False)[1]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """The links of one imputation (bool per link)."""
        sets = int(self.rivals_a.max()) + 1 if len(self.rivals_a) else 0
        point = rng.random(sets)[self.rivals_a] * self._scale
        chosen = (point >= self._upper - self.probability) & (point < self._upper)
        priority = np.where(chosen, rng.random(len(chosen)), np.inf)
        first = np.full(int(self.rivals_b.max()) + 1 if len(chosen) else 0, np.inf)
        np.minimum.at(first, self.rivals_b, priority)
        return chosen & (priority == first[self.rivals_b])


def draw_content(content: Content, graph: LinkGraph, persons: np.ndarray) -> Content:
    """The released content with each row's person as drawn (`persons`: per record)."""
    drawn = copy.copy(content)
    drawn.kinds = {}
    for kind, frame in content.kinds.items():
        keys = pd.MultiIndex.from_arrays([frame.party.astype(str), frame.pseudonym.astype(str)])
        node = graph.nodes.get_indexer(keys)
        drawn.kinds[kind] = frame.assign(person_id=persons[node].astype(str), match_probability=1.0)
    return drawn


def imputed_rows(
    content: Content,
    graph: LinkGraph,
    imputations: int,
    seed: int,
    estimate: Callable[[Content], tuple[list[dict], int]],
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[pd.DataFrame, list[int]]:
    """Pooled rows (linkage `imputed`) of `estimate` (rows and cohort size of one link set)
    over `imputations` drawn link sets, and each imputation's cohort size."""
    rng = np.random.default_rng(seed)
    draws, cohorts = [], []
    for m in range(imputations):
        progress(f"linkage imputation {m + 1} of {imputations}")
        persons = graph.components(graph.draw(rng))
        rows, cohort = estimate(draw_content(content, graph, persons))
        draws.append(pd.DataFrame(rows).assign(_draw=m))
        cohorts.append(cohort)
    return pool(pd.concat(draws, ignore_index=True)), cohorts


def pool(draws: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison (ROW_KEYS) pooled over the `_draw`s: counts and person-years
    averaged, the log rate ratio by Rubin's rules."""
    keys = [c for c in (*ROW_KEYS, GROUP, TOTAL) if c in draws.columns]
    rows = []
    for key, group in draws.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True))
        row.update({c: int(round(group[c].mean())) for c in COUNTS})
        row.update({c: float(group[c].mean()) for c in YEARS})
        row.update(_pooled_ratio(group))
        row.update(linkage="imputed", wilcoxon_p=np.nan)
        row[GROUP] = f"imputed|{row[GROUP]}"
        rows.append(row)
    return pd.DataFrame(rows)


def _pooled_ratio(group: pd.DataFrame) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.log(group.rate_ratio.to_numpy(float))
        se = (np.log(group.rate_ratio_hi) - np.log(group.rate_ratio_lo)).to_numpy() / (2 * Z95)
    usable = np.isfinite(estimate) & np.isfinite(se)
    if usable.sum() < 2 or usable.sum() < len(group) / 2:
        return dict(
            rate_ratio=np.nan,
            rate_ratio_lo=np.nan,
            rate_ratio_hi=np.nan,
            p_value=np.nan,
            note="estimable in too few imputations to pool",
        )
    pooled = rubin(estimate[usable], se[usable] ** 2)  # large-sample df, as the main rows
    return dict(
        rate_ratio=float(np.exp(pooled.estimate)),
        rate_ratio_lo=float(np.exp(pooled.lo)),
        rate_ratio_hi=float(np.exp(pooled.hi)),
        p_value=pooled.p_value,
        note="",
    )
