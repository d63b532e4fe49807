"""Model sets: a deterministic zip of a JSON table and native XGBoost models, nothing pickled."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from ares_cli.ml.models.booster import BoostConfig, PurgedBooster, predict_model
from ares_cli.ml.models.modelset import ModelSet

CONFIG = BoostConfig(num_boost_round=10, n_threads=1)
TABLE = {"features": ["f0", "f1", "f2"], "train_rows": 200,
         "members": {"B": {"rounds": 4}, "A": {"rounds": 6}}, "note": "é ünïcode"}


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 3))


@pytest.fixture(scope="module")
def models(X: np.ndarray) -> dict[str, bytes]:
    """Two small real models (different seeds, so different bytes)."""
    y = (X[:, 0] > 0).astype(np.int8)
    return {
        name: PurgedBooster(CONFIG, random_state=seed).fit_final(X, y, rounds=rounds).model_
        for name, seed, rounds in (("A", 0, 6), ("B", 1, 4))
    }


def test_to_bytes_is_deterministic(models: dict[str, bytes]) -> None:
    first = ModelSet(TABLE, models).to_bytes()
    assert ModelSet(TABLE, models).to_bytes() == first
    # Neither the insertion order of the models nor that of the table's keys matters.
    reversed_models = dict(reversed(list(models.items())))
    reversed_table = json.loads(json.dumps(TABLE, sort_keys=True))
    assert list(reversed_models) != list(models) and list(reversed_table) != list(TABLE)
    assert ModelSet(reversed_table, reversed_models).to_bytes() == first
    # bytearray or bytes: the same container.
    as_arrays = {name: bytearray(model) for name, model in models.items()}
    assert ModelSet(TABLE, as_arrays).to_bytes() == first
    # ... and different content gives different bytes.
    assert ModelSet(TABLE, {"A": models["A"]}).to_bytes() != first
    assert ModelSet({**TABLE, "train_rows": 201}, models).to_bytes() != first


def test_round_trip(models: dict[str, bytes]) -> None:
    original = ModelSet(TABLE, models)
    restored = ModelSet.from_bytes(original.to_bytes())
    assert restored.table == TABLE
    assert dict(restored.models) == models
    assert restored == original
    assert restored.to_bytes() == original.to_bytes()
    empty = ModelSet({"members": {}})
    assert ModelSet.from_bytes(empty.to_bytes()) == empty


def test_readable_with_zipfile_and_xgboost_alone(models: dict[str, bytes], X: np.ndarray) -> None:
    import xgboost as xgb

    data = ModelSet(TABLE, models).to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["models/A.ubj", "models/B.ubj", "table.json"]
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.external_attr >> 16 == 0o644
        assert json.loads(archive.read("table.json")) == TABLE
        for name, model in models.items():
            raw = archive.read(f"models/{name}.ubj")
            assert raw == model
            booster = xgb.Booster()
            booster.load_model(bytearray(raw))
            np.testing.assert_array_equal(booster.inplace_predict(X),
                                          predict_model(model, X))
    digest = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(ModelSet(TABLE, models).to_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", ["", "a/b", "../up", "with space", "a\\b", "tab\t", "ü"])
def test_rejects_bad_model_names(name: str, models: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="model name"):
        ModelSet(TABLE, {name: models["A"]}).to_bytes()


def test_rejects_a_model_name_with_a_trailing_newline(models: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="model name"):
        ModelSet(TABLE, {"BULL\n": models["A"]}).to_bytes()


def test_rejects_anything_but_a_model_set() -> None:
    with pytest.raises(ValueError, match="not a model set"):
        ModelSet.from_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a model set"):
        ModelSet.from_bytes(b"")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("models/A.ubj", b"{}")
    with pytest.raises(ValueError, match=r"no table\.json"):
        ModelSet.from_bytes(buffer.getvalue())
