"""Registry, profiles and the Keras 2/3 compatibility helpers."""
from __future__ import annotations

import os

import numpy as np
import pytest

from drise_tf import _compat
from drise_tf._compat import keras
from drise_tf.profiles import PROFILES, get_profile
from drise_tf.registry import Registry


def test_registry_register_get_available():
    registry = Registry("widget")

    @registry.register("b")
    def b():
        return 2

    registry.register("a", lambda: 1)
    assert registry.available() == ["a", "b"]
    assert registry.get("b") is b
    assert "a" in registry and "c" not in registry


def test_registry_errors_name_the_problem():
    registry = Registry("widget")
    registry.register("a", 1)
    with pytest.raises(ValueError, match="unknown widget 'zzz'; known: a"):
        registry.get("zzz")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", 2)
    registry.register("a", 3, overwrite=True)
    assert registry.get("a") == 3
    with pytest.raises(ValueError, match="non-empty string"):
        registry.register("", 1)


def test_profiles():
    assert set(PROFILES) >= {"quick", "thesis", "tiny"}
    thesis = get_profile("thesis")
    assert (thesis.epochs, thesis.n_masks, thesis.grid_size, thesis.p) == (100, 5000, 16, 0.5)
    assert thesis.augmentation == "thesis" and thesis.lr_quirk and thesis.epoch0_val == "test"
    assert get_profile("quick").replace(epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown profile 'nope'; known: quick, thesis, tiny"):
        get_profile("nope")


def test_compat_reports_keras_generation():
    import tensorflow as tf

    major = int(tf.__version__.split(".")[1])
    assert _compat.KERAS3 == (major >= 16)


def test_save_model_atomic_round_trip(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    path = tmp_path / f"m{_compat.MODEL_SUFFIX}"
    _compat.save_model_atomic(model, path)
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temporary file left behind
    loaded = _compat.load_model(path)
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    with pytest.raises(FileNotFoundError, match="missing"):
        _compat.load_model(tmp_path / "missing.keras")


def test_write_text_atomic(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    _compat.write_text_atomic(path, "hello")
    assert path.read_text() == "hello"
    assert os.listdir(path.parent) == ["a.txt"]
