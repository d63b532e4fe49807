"""Lazy package exports read each module's `__all__` without parsing the whole module."""

from __future__ import annotations

import ast
from pathlib import Path

import ares_cli
from ares_cli.util.lazy import _declared

ROOT = Path(ares_cli.__file__).parent


def _by_syntax_tree(path: Path) -> list[str]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [str(n) for n in ast.literal_eval(node.value)]
    return []


def test_declared_names_equal_the_syntax_trees_for_every_module() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 100
    assert {p: _declared(p) for p in modules} == {p: _by_syntax_tree(p) for p in modules}


def test_a_multi_line_all_and_a_tuple_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text('"""x"""\nimport os\n\n__all__ = (\n    "b",  # b\n    "a",\n)\n'
                    'A = ["__all__ = [\'no\']"]\n')
    assert _declared(path) == ["b", "a"]
    path.write_text("X = 1\n")
    assert _declared(path) == []
