"""The digest of the code a step runs: its module and every `ares_cli` module it imports.

Imports are found statically (every `import` / `from ... import` in a module, including those
inside functions, except under `if TYPE_CHECKING:`), followed transitively, and each module's
source is hashed as its syntax tree with docstrings removed: editing a comment, a docstring or
the layout does not re-run anything; any change to what the code does re-runs every step whose
closure holds the module. No hand-bumped version numbers.

Parsing and normalising the ~140 modules takes about 0.9 s; a run keeps what it computed in a
memo file in the store (`DigestMemo`), keyed by the source text, the Python version and this
module's own source, so the next command reads it back.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

__all__ = ["DigestMemo", "code_digest", "digest_memo", "module_closure", "read_source",
           "user_memo_path"]

PACKAGE = "ares_cli"
_ROOT = Path(__file__).resolve().parent


def read_source(module: str) -> str | None:
    """The source text of an `ares_cli` module, None if it is not a module file here."""
    path = _module_path(module)
    return path.read_text(encoding="utf-8") if path is not None else None


@cache
def _module_path(module: str) -> Path | None:
    """The file of `ares_cli.x.y` (x/y.py or x/y/__init__.py), found without importing it."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    folder = _ROOT.joinpath(*parts[1:])
    for path in (folder.with_suffix(".py"), folder / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> set[str]:
    """Names of `ares_cli` modules a syntax tree imports (candidates; resolved by the caller)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.split(".")[0] == PACKAGE):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant
            ) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def _digest_and_imports(name: str, source: str) -> tuple[str, tuple[str, ...]]:
    """A module's normalised-syntax digest and its sorted `ares_cli` imports (parsed once)."""
    memo = _MEMO[-1] if _MEMO else None
    key = memo.key(source) if memo is not None else ""
    if memo is not None and key in memo.known:
        digest, imports = memo.known[key]
        return digest, tuple(imports)
    tree = ast.parse(source, filename=name)
    found = tuple(sorted(_imports(tree)))
    normal = ast.dump(_without_docstrings(tree), include_attributes=False)
    result = hashlib.sha256(normal.encode()).hexdigest(), found
    if memo is not None:
        memo.known[key] = [result[0], list(found)]
    return result


class DigestMemo:
    """Digests and imports already computed, by a key of the source text, the Python version
    (its `ast.dump` may differ) and this module's own source (the normalisation may change).

    Read from every file in `paths` (the store's, and this user's cache shared by all stores,
    so a new store does not parse ~140 modules again: 1.5 s here); written back to each file
    that lacks something learned."""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self.known: dict[str, list] = {}
        self._had: dict[Path, set[str]] = {}
        salt = f"{sys.version_info[:2]}\0{Path(__file__).read_text(encoding='utf-8')}\0"
        self._salt = salt.encode()
        for path in paths:
            entries: dict[str, list] = {}
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    entries = {k: v for k, v in loaded.items()
                               if isinstance(v, list) and len(v) == 2}
            self._had[path] = set(entries)
            self.known.update(entries)

    def key(self, source: str) -> str:
        return hashlib.sha256(self._salt + source.encode()).hexdigest()

    def save(self) -> None:
        """Write the memo back to each file that lacks an entry: a whole file or none (a
        rename), and a failed write only costs time."""
        for path in self.paths:
            if self._had.get(path, set()) >= set(self.known):
                continue
            tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(self.known, sort_keys=True), encoding="utf-8")
                os.replace(tmp, path)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def user_memo_path() -> Path:
    """This user's memo of code digests, shared by every store: `$ARES_CACHE_DIR`, else
    `$XDG_CACHE_HOME/ares`, else `~/.cache/ares`."""
    folder = os.environ.get("ARES_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "ares")
    return Path(folder) / "code-digests.json"


_MEMO: list[DigestMemo] = []


@contextlib.contextmanager
def digest_memo(*paths: Path) -> Iterator[DigestMemo]:
    """Within the block, digests are read from and added to the memo files at `paths`."""
    memo = DigestMemo(*paths)
    _MEMO.append(memo)
    try:
        yield memo
    finally:
        _MEMO.pop()
        memo.save()


def module_closure(module: str, reader: object = None) -> dict[str, str]:
    """{module name: digest of its normalised syntax tree} for `module` and all it imports.

    The `__init__` of each enclosing package runs on import and is included too, but what it
    imports is not followed (a package's `__init__` may re-export all its modules for users;
    that does not make one module's code part of another's). A module reached both as such a
    parent and as an import is followed, whichever way it was reached first, and imports are
    visited in sorted order: the closure is the same in every process, whatever the hash seed.
    `reader` (module -> source or None) defaults to `read_source`; tests pass another to
    simulate an edit.
    """
    read = reader if callable(reader) else read_source
    digests: dict[str, str] = {}
    imports_of: dict[str, tuple[str, ...]] = {}
    followed: set[str] = set()
    pending = [(module, True)]
    while pending:
        name, follow = pending.pop()
        if name not in digests:
            source = read(name)
            if source is None:
                continue
            digests[name], imports_of[name] = _digest_and_imports(name, source)
            pending.extend((parent, False) for parent in reversed(_parents(name)))
        if follow and name not in followed:
            followed.add(name)
            pending.extend((imported, True) for imported in reversed(imports_of[name]))
    return dict(sorted(digests.items()))


def code_digest(module: str, reader: object = None) -> str:
    """One digest of `module`'s closure (see `module_closure`)."""
    closure = module_closure(module, reader)
    text = "\n".join(f"{name} {digest}" for name, digest in closure.items())
    return hashlib.sha256(text.encode()).hexdigest()
