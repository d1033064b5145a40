"""Tests of drise_tf.core.compat: the Keras generation and atomic writes."""
from __future__ import annotations

import os

import numpy as np
import pytest

from drise_tf.core import compat as _compat
from drise_tf.core.compat import keras


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
