"""Disclosure control: thresholds, secondary suppression, rounding, dependent values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.disclosure import GROUP, TOTAL, Rules, control, round_counts, secondary

RULES = Rules(min_count=10, round_to=5)


def _table(parts: dict[str, int], years: float = 100.0) -> pd.DataFrame:
    """One kind's groups and its `all` row, in one window, as analysis builds them."""
    names = [*parts, "all"]
    events = [*parts.values(), sum(parts.values())]
    return pd.DataFrame(
        {
            "measure": names,
            "events": events,
            "years": years,
            "ratio": 0.8,
            GROUP: "all|offences",
            TOTAL: [False] * len(parts) + [True],
        }
    )


def _publish(frame: pd.DataFrame) -> pd.DataFrame:
    return control(
        frame,
        RULES,
        counts=["events"],
        additive=["events"],
        dependents={"ratio": ["events"]},
        rates={"rate": ("events", "years")},
    )


def _recoverable(frame: pd.DataFrame) -> list[str]:
    """Withheld parts an outsider could pin down from the published total and other parts:
    a lone withheld part, or withheld parts whose (derivable) sum is below the threshold."""
    total = frame[frame.measure == "all"].events.iloc[0]
    parts = frame[frame.measure != "all"]
    hidden = parts[parts.events.isna()]
    if pd.isna(total) or hidden.empty:
        return []
    if len(hidden) == 1:
        return list(hidden.measure)
    return list(hidden.measure) if total - parts.events.sum() < RULES.min_count else []


def test_small_counts_are_withheld_and_the_rest_rounded():
    out = _publish(_table({"theft": 123, "robbery": 47, "fraud": 212}))
    assert out.events.tolist() == [125, 45, 210, 380]
    assert (out.suppressed == "").all()
    # rates come from the rounded counts
    assert out.rate.tolist() == pytest.approx([1.25, 0.45, 2.10, 3.80])


def test_a_lone_small_cell_gets_a_secondary_partner():
    raw = _table({"theft": 123, "robbery": 4, "fraud": 212, "arson": 60})
    out = _publish(raw)
    withheld = out[out.events.isna()].measure.tolist()
    assert withheld == ["robbery", "arson"]  # arson: the smallest cell that protects robbery
    assert out.set_index("measure").suppressed.to_dict() == {
        "theft": "",
        "robbery": "events;ratio;rate",
        "fraud": "",
        "arson": "events*;ratio;rate",
        "all": "",
    }
    assert _recoverable(out) == []
    # the total less the shown parts leaves 64 events between the two withheld cells
    shown = out.set_index("measure").events
    assert shown["all"] - shown[["theft", "fraud"]].sum() == 400 - 335


def test_two_small_cells_whose_sum_is_small_get_a_third():
    out = _publish(_table({"theft": 300, "robbery": 3, "fraud": 4, "arson": 55}))
    assert set(out[out.events.isna()].measure) == {"robbery", "fraud", "arson"}
    assert _recoverable(out) == []


def test_every_random_table_is_protected():
    rng = np.random.default_rng(5)
    for _ in range(100):
        k = int(rng.integers(2, 8))
        counts = rng.choice([0, 1, 3, 8, 9, 10, 11, 25, 120], size=k)
        out = _publish(_table({f"g{i}": int(c) for i, c in enumerate(counts)}))
        assert _recoverable(out) == []
        raw = dict(zip(out.measure, [*counts, counts.sum()], strict=True))
        for row in out.itertuples():
            if raw[row.measure] < RULES.min_count:
                assert pd.isna(row.events) and pd.isna(row.ratio) and pd.isna(row.rate)
            else:
                assert pd.isna(row.events) or abs(row.events - raw[row.measure]) <= 2


def test_a_withheld_total_protects_its_parts():
    frame = _table({"a": 3, "b": 4})
    extra = secondary(frame.events, frame.events < 10, frame[GROUP], frame[TOTAL], RULES)
    assert not extra.any()  # a, b and the total (7) are all withheld already


def test_a_part_that_is_not_a_count_is_never_chosen_to_protect_another():
    # a structural zero left blank (people with no events before have no events before)
    frame = _table({"none": 0, "low": 4, "high": 30})
    frame.loc[0, "events"] = np.nan
    out = _publish(frame)
    assert out.events.isna().tolist() == [True, True, True, False]
    assert out.suppressed.tolist() == ["", "events;ratio;rate", "events*;ratio;rate", ""]


def test_rounding_is_to_the_nearest_multiple():
    assert round_counts(pd.Series([10, 12, 13, 17, 18, 1002]), RULES).tolist() == [
        10,
        10,
        15,
        15,
        20,
        1000,
    ]


def test_hidden_counts_withhold_their_dependents_and_are_dropped():
    frame = pd.DataFrame(
        {
            "persons_any": [40, 50],
            "_discordant": [3, 30],
            "p": [0.01, 0.2],
            GROUP: [0, 1],
            TOTAL: True,
        }
    )
    out = control(
        frame,
        RULES,
        counts=["persons_any"],
        dependents={"p": ["_discordant"]},
        hidden=["_discordant"],
    )
    assert "_discordant" not in out.columns
    assert out.p.isna().tolist() == [True, False]
    assert out.suppressed.tolist() == ["p", ""]
