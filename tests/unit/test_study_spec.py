"""A study as written: windows in every form, variants from a file or `--variant`, and the
names a variant may set."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mytrader.domain.study_grid import Rolling, Window, Yearly
from mytrader.study.spec import (
    StudyInputError,
    known_variant_keys,
    load_study_file,
    parse_variant,
    parse_windows,
    spec_of,
)


def test_windows_in_every_form() -> None:
    assert parse_windows("yearly") == Yearly()
    assert parse_windows("rolling:60") == Rolling(days=60)
    assert parse_windows({"rolling": 20}) == Rolling(days=20)
    both = [Window(start=date(2024, 1, 2), end=date(2024, 3, 28))]
    assert parse_windows("2024-01-02..2024-03-28") == both
    assert parse_windows([["2024-01-02", "2024-03-28"]]) == both
    assert parse_windows([[date(2024, 1, 2), date(2024, 3, 28)]]) == both
    assert parse_windows(["2024-01-02..2024-03-28"]) == both


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("2024-01-02", "is not a range"),
        ("2024-03-28..2024-01-02", "ends before it starts"),
        ("2024-13-01..2024-12-31", "2024-13-01"),
        (42, "not 42"),
        ({"rolling": 0}, "rolling"),
    ],
)
def test_bad_windows_are_named(raw: object, said: str) -> None:
    with pytest.raises(StudyInputError, match=said):
        parse_windows(raw)


def test_a_variant_from_the_command_line_reads_scalars() -> None:
    assert parse_variant(
        "w:vote_mode=weighted,critique_interval=3,blind=true,fee_per_trade=2.5"
    ) == {
        "name": "w",
        "vote_mode": "weighted",
        "critique_interval": 3,
        "blind": True,
        "fee_per_trade": 2.5,
    }
    assert parse_variant("plain") == {"name": "plain"}
    with pytest.raises(StudyInputError, match="is not key=value"):
        parse_variant("x:vote_mode")


def test_a_variant_may_set_settings_and_options_but_no_secret_and_no_location() -> None:
    keys = known_variant_keys()
    assert {"vote_mode", "critique_interval", "stop_loss_pct", "models", "blind"} <= keys
    for forbidden in (
        "openrouter_api_key",
        "database_url",
        "arena_id",
        "mytrader_home",
        "market_data_path",
        "provider_vars",
        "alpaca_api_secret",
    ):
        assert forbidden not in keys


def test_a_study_file_names_its_problems(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('windows = "yearly"\n[[variants]]\nname = "a"\nVOTE_MODE = "weighted"\n')
    spec = load_study_file(f)
    assert spec.grid.study_id == "s"  # the file's name
    assert spec.grid.variants[0].overrides == {"vote_mode": "weighted"}  # any case
    f.write_text('windows = "yearly"\nvariant = []\n')
    with pytest.raises(StudyInputError, match="unknown study key 'variant'"):
        load_study_file(f)
    f.write_text("windows = [\n")
    with pytest.raises(StudyInputError, match="s.toml"):
        load_study_file(f)
    with pytest.raises(StudyInputError, match="no such file|No such file"):
        load_study_file(tmp_path / "absent.toml")


def test_duplicate_variant_names_and_relative_data(tmp_path: Path) -> None:
    with pytest.raises(StudyInputError, match="used twice"):
        spec_of({"id": "x", "windows": "yearly", "variants": [{"name": "A"}, {"name": "a"}]})
    f = tmp_path / "d.yaml"
    f.write_text("windows: yearly\ndata: bars.csv\nvariants: [{name: a}]\n")
    assert load_study_file(f).data == tmp_path / "bars.csv"  # beside the study file


def test_real_models_are_seen_in_a_variant_or_in_the_settings() -> None:
    from mytrader.config import load_settings
    from mytrader.study.command import real_models
    from mytrader.study.spec import StudySpec

    def grid(models: str) -> StudySpec:
        return spec_of(
            {
                "id": "s",
                "windows": [["2025-02-03", "2025-02-14"]],
                "variants": [{"name": "a", "models": models}],
            }
        )

    house = load_settings(_env_file=None, openrouter_api_key=None)
    assert not real_models(grid("house"), house)
    assert real_models(grid("openrouter"), house)
    assert real_models(grid("house"), load_settings(_env_file=None, grok_llm="openrouter"))
