"""The named error setting 'hard': errors that come together, at their configured rates, and
nothing drawn (so nothing changed) when they are off."""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
from click.testing import CliRunner

from pprl.cli import main
from sample_extracts.arabic_names import MALE_FORENAMES, SURNAMES, other_spelling
from sample_extracts.config import PatternRates, ScenarioConfig
from sample_extracts.corruption import Identity, date_of
from sample_extracts.hard_errors import (
    HARD_ERRORS,
    Upheaval,
    name_in_middle_names,
    with_hard_errors,
    year_and_day_out,
)

_EPOCH = dt.date(1970, 1, 1)
PERSON = Identity(
    "Helen",
    "Wendy Rose",
    "Cranley",
    (dt.date(1982, 12, 19) - _EPOCH).days,
    "F",
    "PE1 8LJ",
    "1 A St",
)
MOVED = Upheaval("Baker", "LN2 0QZ", "9 B Rd, Lincoln")


def test_patterns_at_rate_zero_draw_nothing_and_change_nothing():
    r = random.Random(5)
    state = r.getstate()
    assert with_hard_errors(PERSON, PatternRates(), r, MOVED) == PERSON
    assert r.getstate() == state
    assert "hard_errors" not in ScenarioConfig().to_dict()


def test_a_date_a_year_and_a_day_out():
    r = random.Random(1)
    for days in range(3000, 30000, 97):
        before, after = date_of(days), date_of(year_and_day_out(days, r))
        assert abs(after.year - before.year) == 1 and after.month == before.month
        assert after.day != before.day and (abs(after.day - before.day) <= 2 or before.day > 28)


def test_a_forename_moved_among_the_middle_names():
    known_by_middle = name_in_middle_names(PERSON)
    assert (known_by_middle.forename, known_by_middle.middle_names) == ("Wendy", "Helen Rose")
    no_middle = name_in_middle_names(Identity("Paul", "", "Lee", 0, "M", "", ""))
    assert (no_middle.forename, no_middle.middle_names) == ("", "Paul")


def test_another_spelling_is_of_the_same_name():
    r = random.Random(2)
    groups = (*MALE_FORENAMES, *SURNAMES)
    for group in groups:
        for spelling in group:
            other = other_spelling(spelling, r)
            # some names are forenames and surnames both (Hussein, Osman): either's spellings
            assert other != spelling and any(spelling in g and other in g for g in groups)
    assert other_spelling("Cranley", r) == "Cranley"


def test_each_pattern_comes_at_its_rate():
    rate, n = 0.1, 20_000
    arabic = Identity("Mohammed", "", "Rahman", PERSON.dob, "M", "PE1 8LJ", "1 A St")
    shows = {
        "dob_year_and_day": lambda x: abs(date_of(x.dob).year - 1982) == 1,
        "swap_with_typo": lambda x: x.forename != "Mohammed" and x.surname != "Rahman",
        "name_in_middle_names": lambda x: x.middle_names == "Mohammed",
        "surname_postcode_dob": lambda x: (x.surname, x.postcode) == ("Baker", "LN2 0QZ"),
        "transliteration": lambda x: x.forename != "Mohammed" and x.surname != "Rahman",
    }
    # 4.5 standard deviations of a binomial count
    bound = 4.5 * (n * rate * (1 - rate)) ** 0.5
    for pattern, shown in shows.items():
        r = random.Random(3)
        rates = PatternRates(**{pattern: rate})
        count = sum(shown(with_hard_errors(arabic, rates, r, MOVED)) for _ in range(n))
        assert abs(count - n * rate) < bound, pattern


def test_named_setting_hard_switches_the_patterns_on(tmp_path):
    out = tmp_path / "hard"
    result = CliRunner().invoke(
        main, ["sample", "--out", str(out), "--people", "300", "--seed", "4", "--errors", "hard"]
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "scenario.json").read_text())["config"]["hard_errors"]
    assert settings == {**settings, **HARD_ERRORS["hard_errors"]}
    people = pd.read_csv(out / "truth" / "people.csv", dtype=str, keep_default_na=False)
    arabic = {s for group in SURNAMES for s in group}
    share, n = people.surname.isin(arabic).mean(), len(people)
    expected = HARD_ERRORS["hard_errors"]["arabic_names"]
    assert abs(share - expected) < 4.5 * (expected * (1 - expected) / n) ** 0.5
