"""Code digests: which modules a step's key covers, and which edits change it."""

from __future__ import annotations

from ares_cli.codehash import code_digest, module_closure, read_source
from ares_cli.steps import STEPS


def closure_of(number: int) -> set[str]:
    step = STEPS[number - 1]
    assert step.run is not None
    return set(module_closure(step.run.__module__))


def test_closures_follow_imports_but_not_the_step_registry():
    collect = closure_of(1)
    assert "ares_cli.data.sources" in collect and "ares_cli.data.synthetic" in collect
    assert "ares_cli.ml.regimes" not in collect  # collect does not run the classifier
    assert "ares_cli.steps.s02_regime_classify" not in collect  # the registry is not followed
    assert "ares_cli.steps.base" in collect and "ares_cli.steps" in collect
    assert "ares_cli.ml.splits" in closure_of(3)
    assert "ares_cli.ml.dataset" in closure_of(4)
    assert "ares_cli.ml.dataset" not in closure_of(3)
    assert {"ares_cli.ml.booster", "ares_cli.ml.members"} <= closure_of(5)
    # config.py imports every section's module: no step may depend on it, or any edit would
    # re-run every step. Walk-forward is the exception by design: it re-runs steps 4-12 with a
    # fold config, so it depends on all of them and on the config assembly.
    assert "ares_cli.config" not in set().union(*(closure_of(s.number) for s in STEPS
                                                   if s.implemented and s.name != "walk-forward"))
    # and the code of every step its folds replay (mutation: without s13's imports of them)
    replayed = {f"ares_cli.steps.s{n:02d}" for n in range(4, 13)}
    prefix = len("ares_cli.steps.s00")
    assert {m[:prefix] for m in closure_of(13) if m.startswith("ares_cli.steps.s")} >= replayed
    assert {"ares_cli.config", "ares_cli.pipeline", "ares_cli.ml.tactician"} <= closure_of(13)


def _edited(module: str, source: str):
    def reader(name: str) -> str | None:
        return source if name == module else read_source(name)

    return reader


def test_comments_docstrings_and_layout_do_not_count_but_code_does():
    module = "ares_cli.ml.dataset"
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
