"""The step registry's contract: producers, declared config, pure steps that run in memory and
give the runner's bytes, and config views that refuse undeclared keys."""

from __future__ import annotations

import pytest

from ares_cli.config import Config
from ares_cli.config_view import ConfigView, UndeclaredConfig
from ares_cli.pipeline import run_steps
from ares_cli.steps import BY_NUMBER, LAST, PRODUCER, STEPS
from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store
from tests.conftest import TINY_LAST_STEP


def test_every_input_has_an_earlier_producer_and_outputs_are_unique():
    names = [name for step in STEPS for name in step.all_outputs]
    assert len(names) == len(set(names)), "two steps produce the same artifact"
    for step in STEPS:
        for name in step.all_inputs:
            assert name in PRODUCER, f"step {step.name}: no step produces input '{name}'"
            assert PRODUCER[name].number < step.number, f"{step.name} reads a later output"
    assert [s.number for s in STEPS] == list(range(1, LAST + 1))


@pytest.mark.parametrize("source", ["synthetic", "files", "ccxt"])
def test_declared_config_keys_exist(source):
    config = Config.model_validate({"data": {"source": source}})
    for step in STEPS:
        config.slice(step.config_keys(config))  # ConfigError for a key that does not exist


def test_every_step_runs_in_memory_reading_only_what_it_declared_and_gives_the_runners_bytes(
    tiny_config, built_store
):
    """Every implemented step, run in memory under a view of its declared keys (an undeclared
    read would raise UndeclaredConfig), makes exactly the objects the runner stored."""
    manifest: Manifest = Store(built_store).list_runs()[-1]
    implemented = [s.number for s in STEPS if s.implemented and s.number <= TINY_LAST_STEP]
    result = run_steps([BY_NUMBER[n] for n in implemented], {}, tiny_config)
    assert sorted(result.steps) == implemented
    for number in implemented:
        assert result.steps[number].digests == manifest.step(number).outputs, number
        assert set(STEPS[number - 1].outputs) <= set(result.steps[number].digests)


def test_a_view_refuses_undeclared_sections_and_keys():
    view = ConfigView(Config(), ("bars", "split.train"), owner="step test")
    assert view.bars.base == "1h" and view.split.train == 0.6
    with pytest.raises(UndeclaredConfig, match=r"split\.purge_bars"):
        _ = view.split.purge_bars
    with pytest.raises(UndeclaredConfig, match=r"\[data\]"):
        _ = view.data
