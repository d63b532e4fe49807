"""Config: defaults spelled out in config.toml, typed validation, typo suggestions, overrides."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from ares_cli.config import Config, build_config, load_config, parse_override, timeframe_ms
from ares_cli.errors import ConfigError
from tests.conftest import REPO_ROOT

CONFIG_TOML = REPO_ROOT / "config.toml"


def test_config_toml_holds_exactly_the_defaults():
    raw = tomllib.loads(CONFIG_TOML.read_text())
    assert build_config(raw) == Config()
    defaults = Config().to_dict()
    assert {s: set(v) for s, v in raw.items()} == {s: set(v) for s, v in defaults.items()}


def test_every_key_in_config_toml_has_a_comment():
    for line in CONFIG_TOML.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line.split("=", 1)[1], f"no comment on: {line}"


def test_unknown_key_names_the_path_and_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'data.dyas'.*did you mean 'data.days'"):
        build_config({"data": {"dyas": 3}})
    with pytest.raises(ConfigError, match=r"unknown section \[splt\].*'split'"):
        build_config({"splt": {}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"data": {"days": "ten"}}, "data.days must be an integer"),
        ({"data": {"days": 1.5}}, "data.days must be an integer"),
        ({"data": {"regimes": 1}}, "data.regimes must be true or false"),
        ({"data": {"source": "ftp"}}, "data.source = 'ftp' is not one of"),
        ({"bars": {"base": "1x"}}, "bars.base"),
        ({"bars": {"base": "1h", "fine": "7m"}}, "divide it evenly"),
        ({"split": {"train": 0.9}}, "must be 1"),
        ({"data": {"paths": "a.csv"}}, "data.paths must be a list of strings"),
        ({"enhance": {"storage": "foo"}}, "enhance.storage 'foo' must be"),
        ({"labels": {"horizon": 48}}, r"split.purge_bars \(24\) must be >= labels.horizon"),
    ],
)
def test_wrong_values_are_config_errors(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        build_config(raw)
    assert info.value.exit_code == 2


def test_overrides_are_typed_by_toml_syntax():
    assert parse_override("data.days=30") == ("data", "days", 30)
    assert parse_override("bars.base=4h") == ("bars", "base", "4h")
    assert parse_override("data.regimes=false") == ("data", "regimes", False)
    assert parse_override('data.paths=["a", "b"]') == ("data", "paths", ["a", "b"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        parse_override("days=3")


def test_load_config_applies_overrides_on_a_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\ndays = 12\n[bars]\nbase = "4h"\n')
    cfg = load_config(path, ["data.seed=99"])
    assert (cfg.data.days, cfg.data.seed, cfg.bars.base) == (12, 99, "4h")
    with pytest.raises(ConfigError, match="not valid TOML"):
        path.write_text("[data\n")
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_config_is_frozen_and_sliceable():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.data.days = 3  # type: ignore[misc]
    assert cfg.slice(["split.train", "bars"]) == {
        "split.train": 0.6, "bars": {"base": "1h", "fine": "1m"}
    }


def test_timeframes():
    assert timeframe_ms("1m") == 60_000
    assert timeframe_ms("4h") == 14_400_000
    with pytest.raises(ValueError):
        timeframe_ms("0m")
