"""The study file's [followup] and [index] exclude_days: each mistake refused in one line
naming the setting (the time at risk they give is worked in test_atrisk.py)."""

from __future__ import annotations

import pytest

from outcomes.config import ConfigError, StudyConfig


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ({"followup": {"ends": []}}, "unknown setting(s) followup.ends"),
        ({"followup": {"end": [{"kind": "deaths"}]}}, "followup.end[1] needs kind and date"),
        ({"followup": {"end": "deaths"}}, "followup.end must be a list of tables"),
        ({"followup": {"away": [{"kind": "custody", "stat": "x"}]}}, "followup.away[1].stat"),
        ({"followup": {"away": [{"start": "start_date"}]}}, "followup.away[1] needs kind"),
        ({"followup": {"away": [{"kind": ""}]}}, "followup.away[1].kind must not be empty"),
        (
            {"followup": {"away": [{"kind": "custody", "not_at_risk": ["offence"]}]}},
            "followup.away[1].not_at_risk: 'offence' is not a measure's kind",
        ),
        (
            {"followup": {"away": [{"kind": "custody", "not_at_risk": "offences"}]}},
            "followup.away[1].not_at_risk must be a list of measure kinds",
        ),
        (
            {"followup": {"away": [{"kind": "detentions"}]}, "hospital_stays": {}},
            "followup.away: the spells detentions.start_date-end_date are given more than once",
        ),
        ({"index": {"exclude_days": -1}}, "index.exclude_days must be a whole number of days"),
        ({"index": {"exclude_days": "7"}}, "index.exclude_days must be int"),
        ({"index": {"exclude_days": True}}, "index.exclude_days must be int"),
    ],
)
def test_a_mistake_in_the_followup_settings_is_refused_naming_it(study, message):
    with pytest.raises(ConfigError) as refused:
        StudyConfig.from_dict(study)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_study_file_mistake_names_the_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[followup]\nend = [{kind = "deaths", when = "date_of_death"}]\n')
    with pytest.raises(
        ConfigError, match=r"study\.toml: unknown setting\(s\) followup\.end\[1\]\.when"
    ):
        StudyConfig.from_toml(path)
