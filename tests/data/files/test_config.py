"""`[files]` settings, and the docs that list what the loader reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ares_cli.config import build_config
from ares_cli.data.files.config import FilesConfig
from ares_cli.errors import ConfigError


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="format"):
        FilesConfig(format="excel")
    with pytest.raises(ValidationError, match="prise"):
        FilesConfig(columns={"prise": "p"})
    with pytest.raises(ConfigError, match=r"files\.columns.*prise"):
        build_config({"files": {"columns": {"prise": "p"}}})


def test_docs_list_column_names_aliases_and_json_shapes() -> None:
    """docs/data-sources.md keeps up with what the loader recognises."""
    from ares_cli.data.files.config import ALIASES

    docs = Path(__file__).resolve().parents[3] / "docs" / "data-sources.md"
    section = docs.read_text(encoding="utf-8")
    for name, aliases in ALIASES.items():
        for alias in (name, *aliases):
            assert f"`{alias}`" in section, alias
    for shape in ("values", "records", "columns", "index", "split", "table"):
        assert f'orient="{shape}"' in section, shape
    assert "`bars.fine` must divide `bars.base`" in section
