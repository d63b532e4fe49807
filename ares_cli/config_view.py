"""What a step sees of the config: exactly the sections and keys it declared, nothing else.

Reading an undeclared key raises `UndeclaredConfig`, so a step cannot depend on a value that is
not part of its action key (a changed value would otherwise be served from a stale cache).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ares_cli.config import Config

__all__ = ["ConfigView", "UndeclaredConfig"]


class UndeclaredConfig(LookupError):
    """A step read a config key it did not declare (a bug in the step, not in the config)."""


class _PartialSection:
    """One section of which the step declared only some keys."""

    def __init__(self, owner: str, name: str, model: BaseModel, keys: frozenset[str]) -> None:
        self._owner, self._name, self._model, self._keys = owner, name, model, keys

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        if key not in self._keys:
            raise UndeclaredConfig(
                f"{self._owner} read '{self._name}.{key}' without declaring it "
                f"(declared from [{self._name}]: {sorted(self._keys)})"
            )
        return getattr(self._model, key)


class ConfigView:
    """Read-only access to the declared sections ('bars') and keys ('split.train') of a config."""

    def __init__(self, config: Config, keys: Iterable[str], owner: str = "a step") -> None:
        self._config = config
        self._owner = owner
        self._whole: set[str] = set()
        self._partial: dict[str, set[str]] = {}
        for key in keys:
            section, _, name = key.partition(".")
            config.section(section)  # unknown sections fail here
            if name:
                self._partial.setdefault(section, set()).add(name)
            else:
                self._whole.add(section)

    def as_config(self) -> Config:
        """A whole `Config` holding the declared values and defaults everywhere else, for a step
        that runs other steps (walk-forward re-runs 4 to 12, which read only keys it declared
        on their behalf). Validated by the wrapped config's own class: importing the config
        assembly here would put every section's module into every step's code digest."""
        raw: dict[str, Any] = {name: self._config.section(name).model_dump(mode="json")
                               for name in self._whole}
        for section, keys in self._partial.items():
            if section in self._whole:
                continue
            values = self._config.section(section).model_dump(mode="json")
            raw[section] = {k: values[k] for k in keys}
        return type(self._config).model_validate(raw)

    def __getattr__(self, section: str) -> Any:
        if section.startswith("_"):
            raise AttributeError(section)
        if section in self._whole:
            return getattr(self._config, section)
        if section in self._partial:
            return _PartialSection(self._owner, section, getattr(self._config, section),
                                   frozenset(self._partial[section]))
        declared = sorted(self._whole) + sorted(f"{s}.{k}" for s, ks in self._partial.items()
                                                for k in ks)
        raise UndeclaredConfig(
            f"{self._owner} read section [{section}] without declaring it (declared: {declared})"
        )
