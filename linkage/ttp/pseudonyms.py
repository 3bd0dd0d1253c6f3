"""What each party receives from a linkage run: custodians their own pseudonyms, the analyst
the join between them, and only for the people the study needs.

Each custodian's link map gives each of its records a pseudonym drawn fresh for that custodian
and this run, so two custodians comparing their maps find no value in common and cannot tell
which of their records are one person; nor can one custodian learn that two of its own records
were joined through another custodian's. Only the analyst receives what joins every (party,
pseudonym) to one person (its own person_id, also fresh per run), sealed.

The study: every person with a record its custodian marked (`pprl hash --in-study`, the index
records), and every person in an uncertain candidate pair with a record of one of them (a pair
not accepted whose posterior is at least UNCERTAIN_FLOOR: the analysis of linkage error needs
both sides). If no custodian marked any record, every person is in the study.

The analyst also receives every link of the study's people as pairs of (party, pseudonym) with
their posteriors: the uncertain pairs, and the accepted links that make up each person (flagged
`accepted`), so that it can redraw the links from their posteriors (multiple imputation over
links) without learning anything it does not already hold: which records form a person, and
each record's weakest link, are in the person quality table already. A custodian's map
says which of its records are in the study and nothing else about them: each record's match
probability goes to the analyst alone, beside its (party, pseudonym), since a probability below
1 would tell the custodian that the record links to another custodian's (a trust would learn
which of its patients the police know).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.ttp.link import LinkResult

# Unaccepted candidate pairs at or above this posterior are uncertain links (as counted in
# the quality report's below_threshold_kept_for_sensitivity, plus pairs at or above the
# threshold that lost to a stronger rival).
UNCERTAIN_FLOOR = 0.01
PSEUDONYM_BYTES = 8


@dataclass
class LinkOutputs:
    """The sealed tables of one linkage run, and what the study took in, for the report."""

    maps: dict[str, pd.DataFrame]  # party -> its link map
    person_quality: pd.DataFrame  # for the analyst: (party, pseudonym) -> person_id
    uncertain_links: pd.DataFrame  # for the analyst: the study's uncertain and accepted links
    study: dict


def link_outputs(result: LinkResult, tables: list[pd.DataFrame]) -> LinkOutputs:
    """Pseudonymised outputs from the TTP's record tables (`result.record_table(s)`)."""
    sources, person = result.sources, result.assignment.person
    offsets = np.concatenate([[0], np.cumsum([s.records for s in sources])])
    persons = len(result.assignment.person_ids)
    index_record = np.concatenate([s.in_study for s in sources])
    everyone = not index_record.any()
    marked = np.ones(persons, dtype=bool) if everyone else np.zeros(persons, dtype=bool)
    marked[person[index_record]] = True
    links = result.links
    person_a = person[offsets[links.source_a.to_numpy()] + links.record_a.to_numpy()]
    person_b = person[offsets[links.source_b.to_numpy()] + links.record_b.to_numpy()]
    uncertain = (~result.assignment.accepted) & (links.probability.to_numpy() >= UNCERTAIN_FLOOR)
    touching = uncertain & (marked[person_a] | marked[person_b])
    in_study = marked.copy()
    in_study[person_a[touching]] = in_study[person_b[touching]] = True

    pseudonyms = _fresh_ids(len(person), set(result.assignment.person_ids))
    quality = result.person_quality(tables).set_index("person_id")
    maps, joins = {}, []
    for s, (source, table) in enumerate(zip(sources, tables, strict=True)):
        mine = person[offsets[s] : offsets[s + 1]]
        pseudonym = pseudonyms[offsets[s] : offsets[s + 1]]  # one per record
        studied = in_study[mine]
        maps[source.party] = pd.DataFrame(
            {"token": table.token, "pseudonym": pseudonym, "in_study": studied}
        )
        person_id = result.assignment.person_ids[mine[studied]]
        joins.append(
            pd.DataFrame(
                {
                    "party": source.party,
                    "pseudonym": pseudonym[studied],
                    "person_id": person_id,
                    "match_probability": table.match_probability.to_numpy()[studied],
                    "sources": quality.sources.reindex(person_id).to_numpy(),
                    "weakest_link_probability": quality.weakest_link_probability.reindex(
                        person_id
                    ).to_numpy(),
                }
            )
        )
    join = pd.concat(joins, ignore_index=True)
    accepted = result.assignment.accepted & in_study[person_a]
    uncertain_links = _uncertain_links(result, maps, touching | accepted)
    study = {
        "everyone": everyone,
        "index_records_marked": int(index_record.sum()),
        "persons": int(in_study.sum()),
        "persons_with_an_index_record": int(marked.sum()),
        "persons_added_by_uncertain_links": int((in_study & ~marked).sum()),
        "uncertain_links": int(touching.sum()),
        "uncertain_link_floor": UNCERTAIN_FLOOR,
    }
    return LinkOutputs(maps, join, uncertain_links, study)


def _uncertain_links(
    result: LinkResult, maps: dict[str, pd.DataFrame], chosen: np.ndarray
) -> pd.DataFrame:
    """The chosen pairs, by each side's party and pseudonym, with whether each was accepted."""
    links = result.links[chosen]
    sides = {}
    for side in ("a", "b"):
        source = links[f"source_{side}"].to_numpy()
        record = links[f"record_{side}"].to_numpy()
        party = np.array([result.sources[s].party for s in source], dtype=object)
        pseudonym = np.empty(len(links), dtype=object)
        for s, src in enumerate(result.sources):
            here = source == s
            pseudonym[here] = maps[src.party].pseudonym.to_numpy()[record[here]]
        sides |= {f"party_{side}": party, f"pseudonym_{side}": pseudonym}
    return pd.DataFrame(
        {
            **sides,
            "match_probability": links.probability.to_numpy(),
            "accepted": result.assignment.accepted[chosen],
        }
    )


def _fresh_ids(n: int, taken: set[str]) -> np.ndarray:
    """n random hex ids, distinct from each other and from `taken` (a clash is a 2^-64 event;
    drawing again keeps "no value in common" a promise rather than a likelihood)."""
    while True:
        ids = np.array([secrets.token_hex(PSEUDONYM_BYTES) for _ in range(n)], dtype=object)
        if len(set(ids)) == n and taken.isdisjoint(ids):
            return ids
