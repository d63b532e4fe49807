"""Code digests: which modules a step's key covers, and which edits change it."""

from __future__ import annotations

import json

import pytest

from ares_cli.codehash import code_digest, module_closure, read_source
from ares_cli.steps import STEPS


def closure_of(number: int) -> set[str]:
    step = STEPS[number - 1]
    assert step.run is not None
    return set(module_closure(step.run.__module__))


def test_closures_follow_imports_but_not_the_step_registry():
    collect = closure_of(1)
    assert "ares_cli.data.sources" in collect and "ares_cli.data.synthetic" in collect
    assert "ares_cli.ml.features.regimes" not in collect  # collect does not run the classifier
    assert "ares_cli.steps.s02_regime_classify" not in collect  # the registry is not followed
    assert "ares_cli.steps.base" in collect and "ares_cli.steps" in collect
    assert "ares_cli.ml.features.splits" in closure_of(3)
    assert "ares_cli.ml.features.dataset" in closure_of(4)
    assert "ares_cli.ml.features.dataset" not in closure_of(3)
    assert {"ares_cli.ml.models.booster", "ares_cli.ml.models.members"} <= closure_of(5)
    # config.py imports every section's module: no step may depend on it, or any edit would
    # re-run every step. Walk-forward included: it builds its folds' configs with the config's
    # own class, and depends on the steps it replays and on the in-memory pipeline.
    assert "ares_cli.config" not in set().union(*(closure_of(s.number) for s in STEPS))
    # and the code of every step its folds replay (mutation: without s13's imports of them)
    replayed = {f"ares_cli.steps.s{n:02d}" for n in range(4, 13)}
    prefix = len("ares_cli.steps.s00")
    assert {m[:prefix] for m in closure_of(13) if m.startswith("ares_cli.steps.s")} >= replayed
    assert {"ares_cli.pipeline", "ares_cli.folds", "ares_cli.ml.tactician.models"} <= closure_of(13)
    assert not {"ares_cli.steps.s01_collect", "ares_cli.steps.s14_monte_carlo"} & closure_of(13)


def _edited(module: str, source: str):
    def reader(name: str) -> str | None:
        return source if name == module else read_source(name)

    return reader


def test_comments_docstrings_and_layout_do_not_count_but_code_does():
    module = "ares_cli.ml.features.dataset"
    original = read_source(module)
    assert original is not None
    step4 = STEPS[3].run.__module__
    before = code_digest(step4)
    cosmetic = original.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n\n"
    assert code_digest(step4, _edited(module, cosmetic)) == before
    changed = original + "\n\ndef _new_helper() -> int:\n    return 1\n"
    assert code_digest(step4, _edited(module, changed)) != before
    # Step 3 does not import ml/dataset, so its digest is untouched by the same edit.
    step3 = STEPS[2].run.__module__
    assert code_digest(step3, _edited(module, changed)) == code_digest(step3)


_DIGESTS = """
import json
from ares_cli.codehash import code_digest, module_closure
from ares_cli.steps import STEPS
print(json.dumps({s.name: [code_digest(s.run.__module__), len(module_closure(s.run.__module__))]
                  for s in STEPS}))
"""


@pytest.mark.slow  # several processes: the slow tier (CI) runs it
def test_every_digest_is_the_same_in_every_process():
    """Set order varies with the hash seed: a closure that depended on it gave step 13 two
    digests across processes, so an unchanged run-all re-ran walk-forward in ~40 % of calls."""
    import json
    import os
    import subprocess
    import sys

    seen = set()
    for seed in ("0", "1", "2", "3", "5", "7"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _DIGESTS], env=env, check=True,
                             capture_output=True, text=True).stdout
        seen.add(json.dumps(json.loads(out), sort_keys=True))
    assert len(seen) == 1


def test_closure_follows_a_module_first_reached_as_a_parent_package():
    """A package `__init__` first reached as the parent of a module (not followed) and later
    imported by another module must still be followed."""
    sources = {
        "ares_cli.x": "",
        "ares_cli.x.leaf": "import ares_cli.y\n",
        "ares_cli.x.top": "import ares_cli.x.leaf\nimport ares_cli.z\n",
        "ares_cli.y": "",
        "ares_cli.z": "import ares_cli.x\n",
        "ares_cli": "",
    }
    sources["ares_cli.x"] = "import ares_cli.w\n"
    sources["ares_cli.w"] = ""
    closure = module_closure("ares_cli.x.top", sources.get)
    # ares_cli.x is reached first as the parent of x.top, then imported by z: followed
    assert "ares_cli.w" in closure


def test_walk_forward_digest_holds_no_console_store_or_client():
    """Step 13 re-runs steps 4-12: its digest covers them and their ml code, not the runner,
    the console, the store, the exchange client or the report (an edit there must not re-run
    the costliest step)."""
    closure = closure_of(13)
    banned = ("ares_cli.console", "ares_cli.runner", "ares_cli.store.objects", "ares_cli.cli",
              "ares_cli.data.ccxt", "ares_cli.report", "ares_cli.commands")
    assert not [m for m in closure if m.startswith(banned) and m != "ares_cli.store_config"]


def test_a_memo_file_gives_the_same_digests_and_is_used(tmp_path, monkeypatch) -> None:
    """Digests read back from the store's memo equal freshly computed ones; a memo entry is
    what the next process uses (planted wrong, it shows), and an unreadable memo is ignored."""
    from ares_cli import codehash

    step = next(s for s in STEPS if s.number == 4).run.__module__
    fresh = code_digest(step)
    memo_path = tmp_path / "cache" / "code-digests.json"
    codehash._digest_and_imports.cache_clear()
    with codehash.digest_memo(memo_path):
        assert code_digest(step) == fresh
    saved = json.loads(memo_path.read_text())
    # one entry per distinct source (two empty package files share one)
    assert len(saved) == len({read_source(m) for m in module_closure(step)})
    codehash._digest_and_imports.cache_clear()
    with codehash.digest_memo(memo_path) as memo:
        memo.known = {k: ["0" * 64, v[1]] for k, v in memo.known.items()}
        assert code_digest(step) != fresh  # the memo, not a parse, gave the digests
    codehash._digest_and_imports.cache_clear()
    memo_path.write_text("{not json")
    with codehash.digest_memo(memo_path):
        assert code_digest(step) == fresh
    codehash._digest_and_imports.cache_clear()


def test_a_new_store_takes_the_digests_this_user_already_computed(tmp_path) -> None:
    """The memo is read from the store's file and from the user's cache shared by all stores:
    a new store uses what another store's run computed (planted wrong, it shows) and keeps a
    copy, so it needs the user's cache no more (mutation: reading only the first file fails
    this)."""
    from ares_cli import codehash

    step = next(s for s in STEPS if s.number == 4).run.__module__
    fresh = code_digest(step)
    store_memo, user_memo = tmp_path / "store.json", tmp_path / "user.json"
    codehash._digest_and_imports.cache_clear()
    with codehash.digest_memo(tmp_path / "other-store.json", user_memo):
        assert code_digest(step) == fresh
    assert user_memo.is_file()
    planted = {k: ["0" * 64, v[1]] for k, v in json.loads(user_memo.read_text()).items()}
    user_memo.write_text(json.dumps(planted))
    codehash._digest_and_imports.cache_clear()
    with codehash.digest_memo(store_memo, user_memo):
        assert code_digest(step) != fresh  # taken from the user's memo, not parsed
    assert json.loads(store_memo.read_text()) == planted  # the store keeps its own copy
    codehash._digest_and_imports.cache_clear()


def test_the_users_memo_is_where_the_environment_says(monkeypatch, tmp_path) -> None:
    from ares_cli.codehash import user_memo_path

    monkeypatch.setenv("ARES_CACHE_DIR", str(tmp_path / "a"))
    assert user_memo_path() == tmp_path / "a" / "code-digests.json"
    monkeypatch.delenv("ARES_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert user_memo_path() == tmp_path / "x" / "ares" / "code-digests.json"
