"""Tests of drise_tf.metrics.comparison: identical orderings measured once, the comparison of given maps (the
comparisons that make maps are tested in tests/evaluation/test_comparisons.py)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import metrics
from drise_tf.core.compat import keras
from drise_tf.metrics import comparison


def _model():
    tf.random.set_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_deletion_insertion_aucs_measure_identical_orderings_once_and_match_metrics():
    model = _model()
    images = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    maps = np.random.default_rng(1).random((2, 8, 8)).astype(np.float32)
    found = comparison.deletion_insertion_aucs(model, images, {"a": maps, "scaled": 3 * maps + 1, "reversed": -maps},
                                               step=8)
    assert found["a"] is found["scaled"]  # same pixel order: measured once
    direct = metrics.deletion_insertion(model, images, maps, step=8)
    np.testing.assert_allclose(found["a"]["deletion_auc"], direct["deletion_auc"])
    np.testing.assert_allclose(found["a"]["insertion_auc"], direct["insertion_auc"])
    assert not np.allclose(found["reversed"]["deletion_auc"], found["a"]["deletion_auc"])


def test_compare_measures_the_maps_it_is_given_with_their_noise_floor_on_the_diagonal(tmp_path):
    model = _model()
    images = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype(np.float32)
    rng = np.random.default_rng(4)
    maps = {"a": rng.random((2, 8, 8)).astype(np.float32), "b": rng.random((2, 8, 8)).astype(np.float32)}
    found = comparison.compare(model, images, maps, step=16, stability={"a": np.array([0.5, 0.7])},
                               masks_used={"a": np.array([10, 10])})
    names, matrix = found.agreement
    assert names == ["a", "b"] and matrix[0, 0] == pytest.approx(0.6) and np.isnan(matrix[1, 1])
    np.testing.assert_allclose(matrix[0, 1], np.mean(metrics.rank_correlation(maps["a"], maps["b"])))
    assert found.aucs["a"]["deletion_auc"].shape == (2,)
    text = open(found.write_csv(tmp_path / "t.csv")).read().splitlines()
    assert len(text) == 1 + 4 + 2  # a: 2 AUCs, stability, masks used; b: 2 AUCs
