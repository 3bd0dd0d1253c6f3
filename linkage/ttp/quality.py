"""The linkage quality report: what was linked, how sure we are, and what may be missing.

Written as `quality.json` (figures) and a self-contained `quality.html` (the same, with
charts). No token, filter or identifier appears in either.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from linkage.ttp.blocking import Candidates
from linkage.ttp.link import LinkResult
from pprl.figures import figure, inline_png


def quality_figures(result: LinkResult) -> dict:
    """Every figure of the report, as JSON-ready values."""
    links, accepted = result.links, result.assignment.accepted
    offsets = np.concatenate([[0], np.cumsum([s.records for s in result.sources])])
    person = result.assignment.person
    sizes = np.bincount(person)
    sources = []
    for s, source in enumerate(result.sources):
        mine = person[offsets[s] : offsets[s + 1]]
        linked = int((sizes[mine] > 1).sum())
        sources.append(
            {
                "party": source.party,
                "records": source.records,
                "variants": source.variants,
                "linked": linked,
                "unlinked": source.records - linked,
            }
        )
    blocking, captures = _blocking_figures(result)
    accepted_count = int(accepted.sum())
    completeness = _pairs_completeness(blocking, captures, accepted_count)
    p = links["probability"].to_numpy()
    missed_in_blocks = accepted_count * (1 - completeness) / max(completeness, 1e-9)
    weights = links["weight"].to_numpy()
    counts, edges = np.histogram(weights, bins=60) if len(weights) else ([], [])
    persons = np.bincount(sizes)[1:] if len(sizes) else []
    return {
        "format": "pprl-quality/1",
        "threshold": result.threshold,
        "sources": sources,
        "persons": {
            "total": int(len(sizes)),
            "by_records": {str(k + 1): int(v) for k, v in enumerate(persons) if v},
        },
        "links": {
            "candidate_pairs": int(sum(pair.compared for pair in result.pairs)),
            "kept_after_scoring": int(len(links)),
            "accepted": accepted_count,
            "expected_false_matches": float((1 - p[accepted]).sum()),
            "estimated_missed_matches": float(
                p[~accepted].sum()
                + sum(pair.dropped_probability for pair in result.pairs)
                + missed_in_blocks
            ),
            "below_threshold_kept_for_sensitivity": int(
                ((p < result.threshold) & (p >= 0.01)).sum()
            ),
        },
        "blocking": {"pairs": blocking, "estimated_pairs_completeness": completeness},
        "weight_histogram": {
            "edges": [float(e) for e in edges],
            "counts": [int(c) for c in counts],
        },
        "model": result.model.to_dict(),
    }


def _blocking_figures(result: LinkResult) -> tuple[list[dict], list[np.ndarray]]:
    """Per pair of sources: what blocking found and kept; and which passes found each
    accepted link."""
    accepted = result.assignment.accepted
    blocking, captures = [], []
    start = 0
    for pair in result.pairs:
        n = len(pair.candidates)
        kept = accepted[start : start + n]
        found_by = pair.candidates.passes[kept]
        captures.append(found_by)
        hidden = _hidden_matches(pair.candidates, found_by.sum(0))
        blocking.append(
            {
                "sources": [result.sources[pair.a].party, result.sources[pair.b].party],
                "candidate_pairs": pair.compared,
                "kept_after_scoring": n,
                "accepted_links": int(kept.sum()),
                "prior": pair.prior,
                "expected_matches": pair.prior
                * result.sources[pair.a].records
                * result.sources[pair.b].records,
                "max_block_pairs": pair.candidates.max_block_pairs,
                "capped_blocks": pair.candidates.capped_blocks,
                "pairs_in_capped_blocks": pair.candidates.capped_pairs,
                "pairs_hidden_by_cap": pair.candidates.hidden_pairs,
                "estimated_matches_hidden_by_cap": hidden,
                "accepted_links_found_by": dict(
                    zip(pair.candidates.keys, found_by.sum(0).tolist(), strict=True)
                ),
            }
        )
        start += n
    return blocking, captures


def _pairs_completeness(blocking: list[dict], captures: list[np.ndarray], accepted: int) -> float:
    """The share of matches blocking compared. Each pass's capture rate among accepted links
    gives the matches missed by every pass, as if passes missed independently; matches the
    cap hid from every pass come on top, since no pass could see them."""
    found = np.concatenate(captures) if captures else np.zeros((0, 1), bool)
    capture = found.mean(axis=0) if len(found) else np.zeros(found.shape[1])
    captured = float(1 - np.prod(1 - capture))
    hidden = sum(b["estimated_matches_hidden_by_cap"] for b in blocking)
    reachable = accepted / max(captured, 1e-9)
    return reachable / (reachable + hidden) * captured if reachable else captured


def _hidden_matches(candidates: Candidates, found_by: np.ndarray) -> float:
    """Matches the cap hid from every pass, estimated: each pass's accepted links per record
    that could have a partner in its blocks, times such records in its hidden pairs; a
    match hidden from every pass is hidden from the pass that hides fewest."""
    hidden = [
        found * candidates.hidden_slots.get(key, 0.0) / max(candidates.block_slots.get(key, 0), 1)
        for key, found in zip(candidates.keys, found_by.tolist(), strict=True)
    ]
    return float(min(hidden, default=0.0))


def _charts(figures: dict) -> list[tuple[str, str]]:
    """(title, <img>) for the weight histogram, m and u per level, and records per source."""
    drawn, ax = figure(7, 3)
    hist = figures["weight_histogram"]
    if hist["counts"]:
        ax.stairs(hist["counts"], hist["edges"], fill=True, color="#4c78a8")
        ax.set_yscale("symlog")
    ax.set_xlabel("match weight (log2 Bayes factor)")
    ax.set_ylabel("candidate pairs")
    ax.set_title("Match weights of candidate pairs")
    charts = [("Match weight histogram", inline_png(drawn))]

    comparisons = figures["model"]["comparisons"]
    drawn, axes = figure(7, 1.6 * len(comparisons), rows=len(comparisons))
    for ax, comparison in zip(axes, comparisons, strict=True):
        labels = [lv["label"] for lv in comparison["levels"]]
        y = np.arange(len(labels))
        ax.barh(y - 0.2, [lv["m"] for lv in comparison["levels"]], 0.4, label="m", color="#59a14f")
        ax.barh(y + 0.2, [lv["u"] for lv in comparison["levels"]], 0.4, label="u", color="#e15759")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(comparison["name"], fontsize=9, loc="left")
        ax.set_xlim(0, 1)
    axes[0].legend(loc="lower right", fontsize=7)
    drawn.tight_layout()
    charts.append(("m and u probabilities per comparison level", inline_png(drawn)))

    drawn, ax = figure(7, 2.5)
    parties = [s["party"] for s in figures["sources"]]
    linked = [s["linked"] for s in figures["sources"]]
    unlinked = [s["unlinked"] for s in figures["sources"]]
    ax.barh(parties, linked, color="#4c78a8", label="linked to another source")
    ax.barh(parties, unlinked, left=linked, color="#bab0ac", label="in no other source")
    ax.legend(fontsize=7)
    ax.set_xlabel("records")
    charts.append(("Records linked per source", inline_png(drawn)))
    return charts


def write_report(folder: Path, figures: dict) -> None:
    """quality.json (the figures) and quality.html (the same, with charts) into `folder`."""
    (folder / "quality.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    links = figures["links"]
    rows = "".join(
        f"<tr><td>{html.escape(s['party'])}</td><td>{s['records']:,}</td><td>{s['linked']:,}"
        f"</td><td>{s['unlinked']:,}</td></tr>"
        for s in figures["sources"]
    )
    blocking = "".join(
        f"<tr><td>{html.escape(' x '.join(b['sources']))}</td><td>{b['candidate_pairs']:,}</td>"
        f"<td>{b['accepted_links']:,}</td><td>{b['expected_matches']:,.1f}</td>"
        f"<td>{sum(b['capped_blocks'].values()):,}</td></tr>"
        for b in figures["blocking"]["pairs"]
    )
    households = _households(figures["model"].get("household"))
    sex_given_forename = _sex_given_forename(figures["model"])
    study_text = _study_text(figures["study"])
    charts = "".join(f"<h2>{html.escape(title)}</h2>{img}" for title, img in _charts(figures))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Linkage quality</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:2px 8px;
text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Linkage quality</h1>
<p>Links accepted at posterior probability &ge; {figures["threshold"]}:
<b>{links["accepted"]:,}</b> of {links["candidate_pairs"]:,} candidate pairs.
Expected false matches among them (sum of 1 &minus; p):
<b>{links["expected_false_matches"]:.1f}</b>.
Estimated matches missed (below the threshold, or never compared):
<b>{links["estimated_missed_matches"]:.1f}</b>. Estimated pairs completeness of blocking:
<b>{figures["blocking"]["estimated_pairs_completeness"]:.4f}</b>.
Each pair of sources has its own prior match probability, fitted from its candidates:
the expected matches in the table below.</p>
<h2>Study</h2><p>{study_text}</p>
<h2>Records per source</h2><table><tr><th>source</th><th>records</th><th>linked</th>
<th>unlinked</th></tr>{rows}</table>
<h2>Blocking</h2><table><tr><th>sources</th><th>candidate pairs</th><th>accepted links</th>
<th>expected matches</th><th>capped blocks</th></tr>{blocking}</table>
{households}
{sex_given_forename}
{charts}
<h2>How to read this</h2><p>A match weight is the log2 of how much more likely the pair's
agreement pattern is among matches than among non-matches; m is the share of matches at a
level, u the share of non-matches. Expected false matches and estimated missed matches come
from the model's own probabilities, not from ground truth.</p>
</body></html>"""
    (folder / "quality.html").write_text(page, encoding="utf-8")


def _households(household: dict | None) -> str:
    """The household cells, where the joint u replaces independence."""
    return (
        ""
        if not household
        else (
            "<h2>Households</h2><p>Relatives at one address agree on surname and address "
            "together more often than the two u say apart, twins also on date of birth, a son "
            "named after his father also on forename; in these cells the model counts "
            "agreement by the joint u learned from the candidates. The correction is what "
            "agreement there loses, in bits (0 where the data show no such relatives).</p>"
            "<table><tr>"
            + "".join(f"<th>{html.escape(d)}</th>" for d in household["dimensions"])
            + "<th>joint u</th><th>correction</th></tr>"
            + "".join(
                "<tr>"
                + "".join(f"<td>{html.escape(cell[d])}</td>" for d in household["dimensions"])
                + (
                    "<td>one person: independence</td><td>0</td></tr>"
                    if cell.get("one_person")
                    else f"<td>{cell['u']:.2e}</td><td>{cell['correction']:.1f}</td></tr>"
                )
                for cell in household["cells"]
            )
            + "</table>"
        )
    )


def _sex_given_forename(model: dict) -> str:
    """How little agreement on sex says between strangers of one forename."""
    given = model.get("sex_given_forename")
    if not given:
        return ""
    sex = next(c for c in model["comparisons"] if c["name"] == "sex")
    return (
        "<h2>Sex given forename</h2><p>Strangers whose forenames agree "
        f"({html.escape(' or '.join(given['forename_levels']))}) agree on sex "
        f"{given['u']['agree']:.1%} of the time, against {sex['levels'][0]['u']:.1%} "
        "for strangers at large, so between them agreement on sex counts for little.</p>"
    )


def _study_text(study: dict) -> str:
    """Who is in the study, and why."""
    return (
        f"No package marks any record, so every person ({study['persons']:,}) is in the study "
        "and every linked record may be released."
        if study["everyone"]
        else f"{study['persons']:,} persons are in the study: "
        f"{study['persons_with_an_index_record']:,} with a record marked by its custodian, and "
        f"{study['persons_added_by_uncertain_links']:,} in an uncertain link (not accepted, "
        f"posterior &ge; {study['uncertain_link_floor']}) with one of them. Custodians release "
        "content only for them."
    )
