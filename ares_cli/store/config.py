"""`[store]`: where the store lives; apart from the store itself, so loading the config opens
no store code."""

from __future__ import annotations

from ares_cli.util.section import Field, Section

__all__ = ["StoreConfig"]


class StoreConfig(Section):
    """Where the content-addressed store lives (`ARES_STORE` overrides it)."""

    root: str = Field("artifacts", min_length=1)
