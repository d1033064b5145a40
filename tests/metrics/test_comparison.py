"""Tests of drise_tf.metrics.comparison: identical orderings measured once, seeded comparisons."""
from __future__ import annotations

import numpy as np
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


def test_similarity_and_method_comparisons_are_seeded(tmp_path):
    model = _model()
    images = np.random.default_rng(2).normal(size=(3, 8, 8, 3)).astype(np.float32)
    labels = np.array([0, 1, 2])
    options = dict(n_masks=12, grid_size=2, batch_size=6, seed=5)
    first = comparison.similarity_comparison(model, images, labels, similarities=["cosine", "margin"],
                                             aggregations=["none", "coverage"], step=16, **options)
    assert sorted(first.maps) == ["cosine/coverage", "cosine/none", "margin/coverage", "margin/none"]
    again = comparison.similarity_comparison(model, images, labels, similarities=["cosine", "margin"],
                                             aggregations=["none", "coverage"], step=16, **options)
    for name in first.maps:
        np.testing.assert_array_equal(first.maps[name], again.maps[name])
    names, matrix = first.agreement
    assert names == list(first.maps) and matrix.shape == (4, 4)
    text = open(first.write_csv(tmp_path / "t.csv")).read().splitlines()
    assert text[0] == "name,metric,mean,low,high,n" and len(text) == 1 + 4 * 4  # 2 AUCs, stability, masks used
    assert sorted(first.stability) == sorted(first.maps)
    np.testing.assert_allclose(np.diag(matrix), [first.stability[name].mean() for name in names])  # noise floor
    assert all(np.all(first.masks_used[name] == 12) for name in names)
    adaptive = comparison.similarity_comparison(model, images, labels, similarities=["cosine"], aggregations=["none"],
                                                step=16, target_stability=0.95, max_masks=36, replicas=4, **options)
    used = adaptive.masks_used["cosine/none"]
    assert np.all(used % 12 == 0) and np.all((used >= 12) & (used <= 36))
    assert np.all((adaptive.stability["cosine/none"] >= 0.95) | (used == 36))

    methods = {"drise": ("drise", {}), "smooth": ("smoothgrad", {"samples": 3})}
    one = comparison.method_comparison(model, images, labels, methods=methods, step=16, seed=7, n_masks=10,
                                       grid_size=2)
    two = comparison.method_comparison(model, images, labels, methods=methods, step=16, seed=7, n_masks=10,
                                       grid_size=2)
    for name in methods:
        np.testing.assert_array_equal(one.maps[name], two.maps[name])
    assert sorted(one.stability) == ["drise"] and sorted(one.masks_used) == ["drise"]  # SmoothGrad's is unknown
    assert np.isnan(one.agreement[1][1, 1])
    deterministic = comparison.method_comparison(model, images, labels, methods={"saliency": ("saliency", {})},
                                                 step=16)
    np.testing.assert_array_equal(deterministic.stability["saliency"], [1.0, 1.0, 1.0])
    other = comparison.method_comparison(model, images, labels, methods=methods, step=16, seed=8, n_masks=10,
                                         grid_size=2)
    assert not np.array_equal(other.maps["smooth"], one.maps["smooth"])
