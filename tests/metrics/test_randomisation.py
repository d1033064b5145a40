"""Tests of drise_tf.metrics.randomisation: a gradient map changes, an image-only map does not."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from toy_models import tiny_cnn

from drise_tf import metrics
from drise_tf.core.compat import keras
from drise_tf.metrics import randomisation

H = W = 8


# ------------------------------------------------------------------------------------ randomisation check
def gradient_map(model, images, targets):
    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = model(x, training=False)
        score = tf.reduce_sum(tf.gather(probs, targets, axis=1, batch_dims=1))
    return np.max(np.abs(tape.gradient(score, x).numpy()), axis=-1)


def image_only_map(model, images, targets):
    return np.asarray(images).mean(axis=-1)


def test_randomization_check_gradient_map_changes_and_model_untouched():
    model = tiny_cnn(seed=2)
    before = [w.copy() for w in model.get_weights()]
    images = np.random.default_rng(13).normal(size=(4, H, W, 3)).astype(np.float32)
    targets = np.array([0, 1, 2, 0])
    rows = metrics.randomization_check(model, images, targets, gradient_map, seed=0)
    assert [row["layer"] for row in rows] == [None, "dense", "conv"]
    assert [row["step"] for row in rows] == [0, 1, 2]
    assert rows[0]["spearman"] == pytest.approx(1.0) and rows[0]["spearman_abs"] == pytest.approx(1.0)
    assert rows[-1]["spearman"] < 0.5
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    again = metrics.randomization_check(model, images, targets, gradient_map, seed=0)
    assert again == rows
    other = metrics.randomization_check(model, images, targets, gradient_map, seed=1)
    assert other[-1]["spearman"] != rows[-1]["spearman"]


def test_randomization_check_independent_and_insensitive_method():
    model = tiny_cnn(seed=2)
    images = np.random.default_rng(14).normal(size=(2, H, W, 3)).astype(np.float32)
    targets = np.array([0, 1])
    rows = metrics.randomization_check(model, images, targets, image_only_map, cascade=False, layers=["conv"])
    assert [row["layer"] for row in rows] == [None, "conv"]
    # a map that ignores the model does not change: the check flags it (correlation stays 1)
    assert all(row["spearman"] == pytest.approx(1.0) for row in rows)


def test_randomization_check_groups_are_one_step_and_equal_layer_by_layer_cascade():
    model = tiny_cnn(seed=2)
    images = np.random.default_rng(15).normal(size=(3, H, W, 3)).astype(np.float32)
    targets = np.array([0, 1, 2])
    grouped = metrics.randomization_check(model, images, targets, gradient_map, seed=0, layers=[["dense", "conv"]])
    one_by_one = metrics.randomization_check(model, images, targets, gradient_map, seed=0)
    assert [row["layer"] for row in grouped] == [None, "dense .. conv"]
    # the same draws in the same order: randomising the group at once ends where the per-layer cascade ends
    assert grouped[-1]["spearman"] == pytest.approx(one_by_one[-1]["spearman"])


def test_layer_groups_follow_name_prefixes_top_first():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="stem_conv")(inputs)
    x = keras.layers.Conv2D(2, 3, name="stage1_block1_conv1")(x)
    x = keras.layers.BatchNormalization(name="stage1_block1_bn1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, name="predictions")(x)
    model = keras.Model(inputs, outputs)
    assert metrics.layer_groups(model) == [["predictions"], ["stage1_block1_bn1", "stage1_block1_conv1"],
                                           ["stem_conv"]]


def test_reinitialise_draws_new_values_from_initialisers():
    model = tiny_cnn(seed=2)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    randomisation._reinitialise(clone.get_layer("conv"), np.random.default_rng(0))
    kernel, bias = clone.get_layer("conv").get_weights()
    assert not np.allclose(kernel, model.get_layer("conv").get_weights()[0])
    np.testing.assert_array_equal(bias, 0.0)  # bias initialiser: zeros
    limit = np.sqrt(6.0 / (3 * 3 * 3 + 3 * 3 * 4))  # glorot uniform
    assert np.abs(kernel).max() <= limit


def test_randomization_check_bad_arguments():
    model = tiny_cnn()
    images = np.zeros((1, H, W, 3), np.float32)
    with pytest.raises(ValueError, match="layers: 'flatten'"):
        metrics.randomization_check(model, images, np.array([0]), gradient_map, layers=["flatten"])
    with pytest.raises(ValueError, match="explain_fn must return"):
        metrics.randomization_check(model, images, np.array([0]), lambda m, x, t: np.zeros((1, 2, 2)))


# ---------------------------------------------------------------------------------------------- efficient MPRT
def test_map_entropy_closed_forms():
    uniform = np.arange(100, dtype=float).reshape(1, 10, 10)  # one value per bin
    assert metrics.map_entropy(uniform, n_bins=100)[0] == pytest.approx(np.log(100))
    two_values = np.zeros((1, 4, 4))
    two_values[0, :2] = 5.0
    assert metrics.map_entropy(two_values)[0] == pytest.approx(np.log(2))
    assert metrics.map_entropy(np.ones((1, 3, 3)))[0] == 0.0
    np.testing.assert_allclose(metrics.map_entropy(3 * uniform + 7), metrics.map_entropy(uniform))


def test_randomised_model_changes_every_layer_and_not_the_model():
    model = tiny_cnn()
    before = [w.copy() for w in model.get_weights()]
    randomised = metrics.randomised_model(model, seed=1)
    for trained, new, kept in zip(model.get_weights(), randomised.get_weights(), before):
        np.testing.assert_array_equal(trained, kept)
        assert trained.shape == new.shape and (not np.any(trained) or not np.allclose(trained, new))
    again = metrics.randomised_model(model, seed=1)
    for a, b in zip(randomised.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_efficient_mprt_fails_a_map_that_ignores_the_model_and_passes_a_model_gradient():
    from test_faithfulness import patch_images, patch_model

    model = patch_model(scale=0.5)
    images = patch_images(4)

    def edges(model, x):
        return np.abs(np.diff(x.sum(-1), axis=1, prepend=0)) + np.abs(np.diff(x.sum(-1), axis=2, prepend=0))

    def gradient(model, x):
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = model(x)[:, 1]
        return np.abs(tape.gradient(out, x).numpy()).sum(-1)

    randomised = metrics.randomised_model(model, seed=0)
    edge = metrics.efficient_mprt(edges(model, images), edges(randomised, images))
    np.testing.assert_array_equal(edge["complexity_ratio"], 1.0)
    np.testing.assert_allclose(edge["spearman"], 1.0)
    assert not edge["passed"].any()
    grad = metrics.efficient_mprt(gradient(model, images), gradient(randomised, images))
    assert grad["passed"].all() and np.all(grad["spearman"] < 0.5)
