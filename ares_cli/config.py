"""The whole configuration: config.toml plus `--set` overrides, validated once into typed sections.

Each section is a pydantic model defined in a small module beside the code it configures
(`DataConfig` in `data/sources.py`, `RegimesConfig` in `ml/features/regimes.py`, ...); this module
only assembles them, adds the rules that span sections (which only ever reject a config, never
change a value: step code digests do not cover this module), and turns validation errors into one
`ConfigError` (exit 2, before any work) naming every bad key by its full path, with the closest
valid key for a typo. `config.toml` in the repository spells out every default with a comment (a
test keeps them equal).
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ares_cli.data.bars import BarsConfig
from ares_cli.data.ccxt.config import CcxtConfig
from ares_cli.data.files.config import FilesConfig
from ares_cli.data.sources import DataConfig
from ares_cli.errors import ConfigError
from ares_cli.ml.evaluation.ab_test import ABTestConfig
from ares_cli.ml.evaluation.monte_carlo import MonteCarloConfig
from ares_cli.ml.evaluation.walk_forward import ComputeConfig, WalkForwardConfig
from ares_cli.ml.features.causal import FeaturesConfig
from ares_cli.ml.features.labels import LabelsConfig
from ares_cli.ml.features.regimes import RegimesConfig
from ares_cli.ml.features.splits import SplitConfig
from ares_cli.ml.models.booster import BoostConfig
from ares_cli.ml.models.calibration import CalibrationConfig
from ares_cli.ml.models.ensemble import EnsembleConfig
from ares_cli.ml.models.tuning import EnhanceConfig
from ares_cli.ml.tactician.dataset import TacticianConfig
from ares_cli.ml.tactician.models import TacticianModelConfig
from ares_cli.ml.trading.costs import CostsConfig
from ares_cli.ml.trading.optimize import OptimizeConfig
from ares_cli.report.mlflow_config import MlflowConfig
from ares_cli.store.config import StoreConfig
from ares_cli.util.timeutil import parse_utc, timeframe_ms

__all__ = ["Config", "apply_overrides", "build_config", "load_config", "parse_override",
           "parse_utc", "timeframe_ms", "upgrade_snapshot"]


class Config(BaseModel):
    """The whole validated configuration; one frozen object per invocation."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    data: DataConfig = Field(default_factory=DataConfig)
    files: FilesConfig = Field(default_factory=FilesConfig)
    ccxt: CcxtConfig = Field(default_factory=CcxtConfig)
    bars: BarsConfig = Field(default_factory=BarsConfig)
    regimes: RegimesConfig = Field(default_factory=RegimesConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    analyst: BoostConfig = Field(default_factory=BoostConfig)
    enhance: EnhanceConfig = Field(default_factory=EnhanceConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    tactician: TacticianConfig = Field(default_factory=TacticianConfig)
    tactician_model: TacticianModelConfig = Field(default_factory=TacticianModelConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    walk_forward: WalkForwardConfig = Field(default_factory=WalkForwardConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    monte_carlo: MonteCarloConfig = Field(default_factory=MonteCarloConfig)
    ab_test: ABTestConfig = Field(default_factory=ABTestConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @model_validator(mode="after")
    def _purge_covers_labels(self) -> Config:
        if self.split.purge_bars < self.labels.horizon:
            raise ValueError(
                f"split.purge_bars ({self.split.purge_bars}) must be >= labels.horizon "
                f"({self.labels.horizon}) so labels of one window cannot reach into the next"
            )
        return self

    def section(self, name: str) -> BaseModel:
        """One section by name (`ConfigError` for an unknown one)."""
        if name not in type(self).model_fields:
            raise ConfigError(f"unknown section [{name}]{_suggest(name, type(self).model_fields)}")
        return typing.cast(BaseModel, getattr(self, name))

    def slice(self, keys: typing.Iterable[str]) -> dict[str, Any]:
        """The values a step depends on: whole sections ('bars') or single keys ('split.train')."""
        out: dict[str, Any] = {}
        for key in keys:
            section, _, name = key.partition(".")
            values = self.section(section).model_dump(mode="json")
            if name and name not in values:
                raise ConfigError(f"unknown key '{key}'{_suggest(key, _paths(section))}")
            out[key] = values[name] if name else values
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready) of every value in force."""
        return self.model_dump(mode="json")

    def overrides(self) -> dict[str, Any]:
        """Every key whose value differs from the default, as {'section.key': value}: what
        makes this configuration this one (for reports and logs)."""
        defaults = type(self)().to_dict()
        out: dict[str, Any] = {}
        for section, values in self.to_dict().items():
            for key, value in values.items() if isinstance(values, dict) else ():
                if defaults.get(section, {}).get(key) != value:
                    out[f"{section}.{key}"] = value
        return out

    def store_root(self) -> Path:
        """The store folder: `ARES_STORE` if set, else `store.root`."""
        return Path(os.environ.get("ARES_STORE") or self.store.root)


def _paths(section: str) -> list[str]:
    model = Config.model_fields[section].annotation
    return [f"{section}.{k}" for k in typing.cast(type[BaseModel], model).model_fields]


def _suggest(name: str, choices: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


_NOUNS = {
    "int_type": "an integer", "int_from_float": "an integer", "bool_type": "true or false",
    "float_type": "a number", "string_type": "a string", "dict_type": "a table of strings",
    "tuple_type": "a list", "list_type": "a list",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}


def _describe(error: Any, origin: str) -> str:
    """One line for one pydantic error, naming the key by its full path."""
    loc = [str(part) for part in error["loc"]]
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    fields = [p for p in loc if not p.isdigit()]
    path = ".".join(fields) + "".join(f"[{p}]" for p in loc if p.isdigit())
    if kind == "extra_forbidden":
        if len(fields) == 1:
            hint = _suggest(fields[0], Config.model_fields)
            return f"unknown section [{fields[0]}] in {origin}{hint}"
        return f"unknown key '{path}' in {origin}{_suggest(path, _paths(fields[0]))}"
    if kind == "model_type" and len(fields) == 1:
        return f"[{fields[0]}] in {origin} must be a table of keys"
    if kind in ("tuple_type", "list_type") and len(fields) == 2:
        return f"{path} must be a list of {_item_noun(*fields)}, got {given!r}"
    if kind in _NOUNS:
        return f"{path} must be {_NOUNS[kind]}, got {given!r}"
    if kind == "literal_error":
        return f"{path} = {given!r} is not one of {ctx.get('expected')}"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()))
        return f"{path} must be {_BOUNDS[kind]} {limit}, got {given!r}"
    if kind in ("too_short", "too_long"):
        return f"{path} must hold {ctx.get('min_length', 1)} or more items, got {given!r}"
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{path}: {message}" if path and not message.startswith(f"{path}.") else message


def _item_noun(section: str, key: str) -> str:
    """'strings' / 'integers' / 'numbers' for a tuple-valued key."""
    model = typing.cast(type[BaseModel], Config.model_fields[section].annotation)
    item = typing.get_args(model.model_fields[key].annotation)[:1]
    return {str: "strings", int: "integers", float: "numbers"}.get(item[0] if item else str,
                                                                    "values")


def upgrade_snapshot(raw: dict[str, Any], origin: str = "a run") -> dict[str, Any]:
    """A stored run's config snapshot in today's keys: costs once lived in `optimize.fee_bps`,
    `optimize.slippage_bps` and `tactician.cost_bps` (their sum per side) and now in
    `[costs]`. A snapshot whose two costs disagreed cannot be expressed: ConfigError."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    optimize, tactician = out.get("optimize", {}), out.get("tactician", {})
    if not isinstance(optimize, dict) or not isinstance(tactician, dict):
        return out
    costs = out.setdefault("costs", {})
    for key in ("fee_bps", "slippage_bps"):
        if key in optimize:
            costs.setdefault(key, optimize.pop(key))
    if "cost_bps" in tactician:
        old = tactician.pop("cost_bps")
        fields = CostsConfig.model_fields
        now = (costs.get("fee_bps", fields["fee_bps"].default)
               + costs.get("slippage_bps", fields["slippage_bps"].default))
        if abs(float(old) - float(now)) > 1e-9:
            raise ConfigError(
                f"{origin} priced labels at tactician.cost_bps = {old} but trades at fee + "
                f"slippage = {now} bps; [costs] now prices both and cannot hold the two",
                hint="start a new run: ares run-all (with --set costs.fee_bps=… as you need)")
    if not costs:
        out.pop("costs")
    if isinstance(out.get("monte_carlo"), dict):  # reported, no longer a criterion
        out["monte_carlo"].pop("dsr_level", None)
    for key in ("analyst_margin_max", "tactician_threshold"):  # now searched as quantiles
        optimize.pop(key, None)
    return out


def build_config(raw: dict[str, Any], origin: str = "config") -> Config:
    """Validate a nested dict (from TOML plus overrides) into a frozen `Config`."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(error, origin) for error in exc.errors()]
        if len(lines) == 1 and lines[0].startswith(("unknown ", "[")):
            raise ConfigError(lines[0]) from None
        raise ConfigError(f"invalid configuration in {origin}:\n  " + "\n  ".join(lines)) from None


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split `section.key=value`; the value is read as a TOML value, else taken as a string."""
    path, sep, value_text = text.partition("=")
    section, dot, key = path.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set expects section.key=value, got '{text}'")
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    return section, key, value


def apply_overrides(raw: dict[str, Any], overrides: typing.Sequence[str],
                    origin: str = "config") -> dict[str, Any]:
    """A copy of the nested dict `raw` with each `section.key=value` override set."""
    out = {section: dict(values) if isinstance(values, dict) else values
           for section, values in raw.items()}
    for text in overrides:
        section, key, value = parse_override(text)
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise ConfigError(f"[{section}] in {origin} must be a table of keys")
        out[section][key] = value
    return out


def load_config(path: Path | None = None, overrides: typing.Sequence[str] = (),
                base: dict[str, Any] | None = None, base_origin: str = "") -> Config:
    """Load `path` (else `base`, e.g. a run's config snapshot, else ./config.toml if present,
    else built-in defaults) and apply `overrides`."""
    raw: dict[str, Any] = {}
    origin = "built-in defaults"
    if path is None and base is not None:
        origin = base_origin or "the run's config"
        raw = upgrade_snapshot(base, origin)
    else:
        if path is None and Path("config.toml").is_file():
            path = Path("config.toml")
        if path is not None:
            origin = str(path)
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"config file not found: {path}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    raw = apply_overrides(raw, overrides, origin)
    if overrides:
        origin += " with --set overrides"
    return build_config(raw, origin)
