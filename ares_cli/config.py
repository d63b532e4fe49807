"""Typed, frozen configuration: load config.toml, apply `--set` overrides, validate once.

Every key has a default here; `config.toml` in the repository spells the same defaults out with a
comment each. Unknown keys and wrong types are a `ConfigError` (exit 2) raised before any work,
naming the key path and, for a typo, the closest valid key.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ares_cli.errors import ConfigError

TIMEFRAME_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(spec: str) -> int:
    """Length of a timeframe such as '1m', '15m', '1h', '1d' in milliseconds."""
    unit = spec[-1:] if spec else ""
    number = spec[:-1]
    if unit not in TIMEFRAME_UNITS_MS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"'{spec}' is not a timeframe like 1m, 5m, 1h, 4h, 1d")
    return int(number) * TIMEFRAME_UNITS_MS[unit]


@dataclass(frozen=True)
class DataConfig:
    """Step 1 `collect`: where trades come from and how the synthetic market is shaped."""

    source: Literal["synthetic", "files", "ccxt"] = "synthetic"
    seed: int = 7
    days: int = 365
    trades_per_day: int = 6_000
    regimes: bool = True
    start: str = ""
    end: str = ""
    start_price: float = 2000.0
    paths: tuple[str, ...] = ()
    invalid_policy: Literal["drop", "reject"] = "drop"

    def check(self) -> list[str]:
        errors = []
        if self.days <= 0:
            errors.append("data.days must be > 0")
        if self.trades_per_day < 24:
            errors.append("data.trades_per_day must be >= 24")
        if self.start_price <= 0:
            errors.append("data.start_price must be > 0")
        for key in ("start", "end"):
            value = getattr(self, key)
            if value:
                try:
                    parse_utc(value)
                except ValueError:
                    errors.append(f"data.{key} '{value}' is not an ISO date (e.g. 2024-01-31)")
        return errors


@dataclass(frozen=True)
class FilesConfig:
    """Step 1 with `data.source = "files"`: how local files are read (layouts are sniffed)."""

    format: Literal["auto", "binance", "freqtrade", "table"] = "auto"
    kind: Literal["auto", "trades", "candles"] = "auto"
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    verify_checksum: bool = True
    columns: dict[str, str] = field(default_factory=dict)

    def check(self) -> list[str]:
        return []


@dataclass(frozen=True)
class CcxtConfig:
    """Step 1 with `data.source = "ccxt"`: how the exchange API is called.

    API keys are not config: public data needs none, and keys given through the environment
    (ARES_API_KEY, ARES_API_SECRET) never reach a manifest, a log or an error message.
    """

    max_retries: int = 5
    backoff_seconds: float = 1.0
    timeout_ms: int = 10_000
    page_limit: int = 1000
    api_url: str = ""

    def check(self) -> list[str]:
        errors = []
        if self.max_retries < 1:
            errors.append("ccxt.max_retries must be >= 1")
        if self.backoff_seconds < 0:
            errors.append("ccxt.backoff_seconds must be >= 0")
        if self.timeout_ms < 1 or self.page_limit < 1:
            errors.append("ccxt.timeout_ms and ccxt.page_limit must be >= 1")
        return errors


@dataclass(frozen=True)
class BarsConfig:
    """Step 2: the base (model) timeframe and the fine (intrabar path) timeframe."""

    base: str = "1h"
    fine: str = "1m"

    def check(self) -> list[str]:
        errors = []
        for key in ("base", "fine"):
            try:
                timeframe_ms(getattr(self, key))
            except ValueError as exc:
                errors.append(f"bars.{key}: {exc}")
        if not errors:
            base, fine = timeframe_ms(self.base), timeframe_ms(self.fine)
            if fine >= base or base % fine:
                errors.append(
                    f"bars.fine ({self.fine}) must be shorter than bars.base ({self.base}) "
                    "and divide it evenly"
                )
        return errors


@dataclass(frozen=True)
class RegimesConfig:
    """Step 2: the causal regime classifier (trend strength and volatility level)."""

    trend_window: int = 48
    vol_window: int = 24
    smoothing: int = 6
    volatile_quantile: float = 0.85
    trend_quantile: float = 0.4
    refit_every: int = 24
    min_fit_bars: int = 72

    def check(self) -> list[str]:
        errors = []
        for key in ("trend_window", "vol_window", "refit_every", "min_fit_bars"):
            if getattr(self, key) < 2:
                errors.append(f"regimes.{key} must be >= 2")
        if self.smoothing < 1:
            errors.append("regimes.smoothing must be >= 1")
        for key in ("volatile_quantile", "trend_quantile"):
            if not 0.0 < getattr(self, key) < 1.0:
                errors.append(f"regimes.{key} must be between 0 and 1")
        return errors


@dataclass(frozen=True)
class SplitConfig:
    """Step 3: chronological train / validation / test windows with purge and embargo gaps."""

    train: float = 0.6
    validation: float = 0.2
    test: float = 0.2
    purge_bars: int = 24
    embargo_bars: int = 12
    min_regime_rows: int = 200

    def check(self) -> list[str]:
        errors = []
        for key in ("train", "validation", "test"):
            if not 0.0 < getattr(self, key) < 1.0:
                errors.append(f"split.{key} must be between 0 and 1")
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            errors.append(f"split.train + split.validation + split.test must be 1 (is {total:g})")
        for key in ("purge_bars", "embargo_bars", "min_regime_rows"):
            if getattr(self, key) < 0:
                errors.append(f"split.{key} must be >= 0")
        return errors


@dataclass(frozen=True)
class FeaturesConfig:
    """Step 4: windows (in base bars) of the causal feature families."""

    return_horizons: tuple[int, ...] = (1, 3, 6, 12, 24, 72)
    vol_window: int = 24
    volume_windows: tuple[int, ...] = (24, 168)

    def check(self) -> list[str]:
        errors = []
        if not self.return_horizons or min(self.return_horizons) < 1:
            errors.append("features.return_horizons must be a non-empty list of integers >= 1")
        if self.vol_window < 2:
            errors.append("features.vol_window must be >= 2")
        if not self.volume_windows or min(self.volume_windows) < 2:
            errors.append("features.volume_windows must be a non-empty list of integers >= 2")
        return errors


@dataclass(frozen=True)
class LabelsConfig:
    """Step 4: triple-barrier labels (profit-take and stop at k * sigma, vertical after h bars)."""

    k_up: float = 2.0
    k_down: float = 2.0
    horizon: int = 24
    vol_window: int = 24
    vertical: Literal["drop", "sign"] = "drop"
    uniqueness_weights: bool = True

    def check(self) -> list[str]:
        errors = []
        if self.k_up <= 0 or self.k_down <= 0:
            errors.append("labels.k_up and labels.k_down must be > 0")
        if self.horizon < 1:
            errors.append("labels.horizon must be >= 1")
        if self.vol_window < 2:
            errors.append("labels.vol_window must be >= 2")
        return errors


@dataclass(frozen=True)
class AnalystConfig:
    """Step 5: XGBoost direction specialists per regime, purged K-fold CV."""

    n_splits: int = 5
    num_boost_round: int = 300
    early_stopping_rounds: int = 30
    max_depth: int = 4
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    n_threads: int = 2

    def check(self) -> list[str]:
        errors = []
        if self.n_splits < 2:
            errors.append("analyst.n_splits must be >= 2")
        if self.num_boost_round < 1 or self.early_stopping_rounds < 1:
            errors.append("analyst.num_boost_round and early_stopping_rounds must be >= 1")
        if self.max_depth < 1:
            errors.append("analyst.max_depth must be >= 1")
        if not 0 < self.learning_rate <= 1:
            errors.append("analyst.learning_rate must be in (0, 1]")
        for key in ("subsample", "colsample_bytree"):
            if not 0 < getattr(self, key) <= 1:
                errors.append(f"analyst.{key} must be in (0, 1]")
        if self.n_threads < 1:
            errors.append("analyst.n_threads must be >= 1")
        return errors


@dataclass(frozen=True)
class EnhanceConfig:
    """Step 6: Optuna tuning and feature selection per specialist."""

    n_trials: int = 8
    margin: float = 0.002
    storage: str = ""
    min_features: int = 8
    drop_fraction: float = 0.2

    def check(self) -> list[str]:
        errors = []
        if self.n_trials < 1:
            errors.append("enhance.n_trials must be >= 1")
        if self.margin < 0:
            errors.append("enhance.margin must be >= 0")
        if self.min_features < 1:
            errors.append("enhance.min_features must be >= 1")
        if not 0 < self.drop_fraction < 1:
            errors.append("enhance.drop_fraction must be between 0 and 1")
        if self.storage and not (
            (self.storage.startswith("journal:") and len(self.storage) > len("journal:"))
            or "://" in self.storage
        ):
            errors.append(
                f"enhance.storage '{self.storage}' must be empty (in memory), "
                "'journal:PATH' or an RDB URL such as sqlite:///optuna.db"
            )
        return errors


@dataclass(frozen=True)
class EnsembleConfig:
    """Step 7: how specialists and the global model become one analyst probability."""

    method: Literal["stacked", "gated"] = "stacked"
    C: float = 1.0

    def check(self) -> list[str]:
        return [] if self.C > 0 else ["ensemble.C must be > 0"]


@dataclass(frozen=True)
class StoreConfig:
    """Where the content-addressed store lives (`ARES_STORE` overrides it)."""

    root: str = "artifacts"

    def check(self) -> list[str]:
        return [] if self.root else ["store.root must not be empty"]


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; one frozen object per invocation."""

    data: DataConfig = field(default_factory=DataConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    ccxt: CcxtConfig = field(default_factory=CcxtConfig)
    bars: BarsConfig = field(default_factory=BarsConfig)
    regimes: RegimesConfig = field(default_factory=RegimesConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    analyst: AnalystConfig = field(default_factory=AnalystConfig)
    enhance: EnhanceConfig = field(default_factory=EnhanceConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    store: StoreConfig = field(default_factory=StoreConfig)

    def check(self) -> list[str]:
        """Rules that span sections."""
        errors = []
        if self.split.purge_bars < self.labels.horizon:
            errors.append(
                f"split.purge_bars ({self.split.purge_bars}) must be >= labels.horizon "
                f"({self.labels.horizon}) so labels of one window cannot reach into the next"
            )
        return errors

    def slice(self, keys: typing.Iterable[str]) -> dict[str, Any]:
        """The values a step depends on: whole sections ('bars') or single keys ('split.train')."""
        out: dict[str, Any] = {}
        for key in keys:
            section, _, name = key.partition(".")
            values = dataclasses.asdict(getattr(self, section))
            out[key] = values[name] if name else values
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready) of every value in force."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def store_root(self) -> Path:
        """The store folder: `ARES_STORE` if set, else `store.root`."""
        return Path(os.environ.get("ARES_STORE") or self.store.root)


def parse_utc(value: str) -> datetime.datetime:
    """Parse an ISO date or datetime as UTC (naive values are taken to be UTC)."""
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    utc = datetime.UTC
    return parsed.replace(tzinfo=utc) if parsed.tzinfo is None else parsed.astimezone(utc)


def _section_types() -> dict[str, type]:
    return {f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config)}


def _suggest(name: str, choices: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _coerce(path: str, value: Any, annotation: Any) -> Any:
    """Check one value against its annotation and return it in canonical form."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"{path} = {value!r} is not one of {allowed}")
        return value
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        noun = {str: "strings", int: "integers"}[item]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, item) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{path} must be a list of {noun}, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{path} must be a table of strings, got {value!r}")
        return dict(sorted(value.items()))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if isinstance(value, datetime.date | datetime.time):  # TOML reads 2024-01-01 as a date
            return value.isoformat()
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported type {annotation}")


def build_config(raw: dict[str, Any], origin: str = "config") -> Config:
    """Validate a nested dict (from TOML plus overrides) into a frozen `Config`."""
    sections = _section_types()
    built: dict[str, Any] = {}
    for section_name, section_values in raw.items():
        if section_name not in sections:
            raise ConfigError(
                f"unknown section [{section_name}] in {origin}{_suggest(section_name, sections)}"
            )
        if not isinstance(section_values, dict):
            raise ConfigError(f"[{section_name}] in {origin} must be a table of keys")
        section_type = sections[section_name]
        hints = typing.get_type_hints(section_type)
        kwargs = {}
        for key, value in section_values.items():
            path = f"{section_name}.{key}"
            if key not in hints:
                valid = [f"{section_name}.{k}" for k in hints]
                raise ConfigError(f"unknown key '{path}' in {origin}{_suggest(path, valid)}")
            kwargs[key] = _coerce(path, value, hints[key])
        built[section_name] = section_type(**kwargs)
    config = Config(**built)
    errors = [e for name in sections for e in getattr(config, name).check()] + config.check()
    if errors:
        raise ConfigError(f"invalid configuration in {origin}:\n  " + "\n  ".join(errors))
    return config


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


def load_config(path: Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Load `path` (else ./config.toml if present, else built-in defaults), apply overrides."""
    raw: dict[str, Any] = {}
    origin = "built-in defaults"
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
    for text in overrides:
        section, key, value = parse_override(text)
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"[{section}] in {origin} must be a table of keys")
        raw[section][key] = value
    if overrides:
        origin += " with --set overrides"
    return build_config(raw, origin)
