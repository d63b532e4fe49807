"""Config: defaults spelled out in config.toml, typed validation, typo suggestions, overrides."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

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
        ({"data": {"paths": ["a", 2]}}, r"data.paths\[1\] must be a string"),
        ({"enhance": {"storage": "foo"}}, "enhance.storage: 'foo' must be"),
        ({"features": {"return_horizons": [1, 1]}}, "features.return_horizons: must be distinct"),
        ({"files": {"columns": {"prise": "p"}}}, r"files.columns: unknown column names"),
        ({"ccxt": {"api_url": "ftp://x"}}, "ccxt.api_url: must be an http"),
        ({"analyst": {"n_splits": 1}}, "analyst.n_splits must be >= 2"),
        ({"data": {"start": "2024-13-01"}}, "data.start: '2024-13-01' is not an ISO date"),
        ({"data": "x"}, r"\[data\] in config must be a table of keys"),
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


def test_every_bad_key_is_listed_at_once():
    with pytest.raises(ConfigError) as info:
        build_config({"data": {"days": 0, "seed": "x"}, "labels": {"k_up": -1}})
    text = str(info.value)
    assert "data.days must be > 0" in text and "data.seed must be an integer" in text
    assert "labels.k_up must be > 0" in text


def test_toml_dates_are_accepted_for_string_keys():
    raw = tomllib.loads("[data]\nstart = 2024-02-01\n")
    assert build_config(raw).data.start == "2024-02-01"


def test_config_is_frozen_and_sliceable():
    cfg = Config()
    with pytest.raises(ValidationError, match="frozen"):
        cfg.data.days = 3  # type: ignore[misc]
    assert cfg.slice(["split.train", "bars"]) == {
        "split.train": 0.6, "bars": {"base": "1h", "fine": "1m"}
    }


def test_timeframes():
    assert timeframe_ms("1m") == 60_000
    assert timeframe_ms("4h") == 14_400_000
    with pytest.raises(ValueError):
        timeframe_ms("0m")


def test_a_stored_snapshot_with_the_old_cost_keys_is_upgraded_or_refused():
    """Runs made before [costs] stored tactician.cost_bps and optimize.fee_bps/slippage_bps:
    their snapshot loads in today's keys; one whose two costs disagreed is refused (exit 2)."""
    from ares_cli.config import build_config, upgrade_snapshot
    from ares_cli.errors import ConfigError

    old = {"tactician": {"cost_bps": 12.0, "k_stop": 1.5},
           "optimize": {"fee_bps": 9.0, "slippage_bps": 3.0}}
    config = build_config(upgrade_snapshot(old))
    assert (config.costs.fee_bps, config.costs.slippage_bps, config.tactician.k_stop) == (
        9.0, 3.0, 1.5)
    assert build_config(upgrade_snapshot({"tactician": {"cost_bps": 10.0}})).costs.per_side \
        == pytest.approx(0.001)
    with pytest.raises(ConfigError, match=r"tactician\.cost_bps = 11\.0") as info:
        upgrade_snapshot({"tactician": {"cost_bps": 11.0}}, "run X")
    assert info.value.exit_code == 2 and "run X" in info.value.message
