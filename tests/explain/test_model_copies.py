"""fold_batch_norm / forward_copy: the folded copy computes the same softmax as the model (tiny ResNet-18 and
simple_cnn with random BN statistics), has no BN after a conv, keeps every BN it cannot fold, and leaves the model
untouched."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf.core.compat import keras, variable_short_name
from drise_tf.explain.model_copies import fold_batch_norm, forward_copy
from drise_tf.training.architectures import resnet18, simple_cnn

BN = keras.layers.BatchNormalization


def randomise(model, seed: int = 0):
    """BN gamma, beta, moving mean and variance far from their 1/0/0/1 initial values, so that a fold that gets any
    term wrong changes the output: variances from 1e-3 (eps matters) to 2, gammas of either sign scaled by the
    variance's square root (each BN keeps the activations O(1), so the softmax does not saturate); biases of the
    other layers random too, their kernels as initialised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, BN):
            values = {variable_short_name(v): tuple(v.shape) for v in layer.weights}
            channels = values["moving_variance"][0]
            variance = np.exp(rng.uniform(np.log(1e-3), np.log(2.0), channels))
            random = {
                "gamma": rng.choice([-1.0, 1.0], channels) * rng.uniform(0.5, 1.5, channels) * np.sqrt(variance),
                "beta": rng.normal(0.0, 0.5, channels),
                "moving_mean": rng.normal(0.0, 0.5, channels),
                "moving_variance": variance,
            }
            layer.set_weights([random[variable_short_name(v)].astype(np.float32) for v in layer.weights])
        elif layer.weights:  # non-zero biases (they start at zero)
            layer.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32) if w.ndim == 1 else w
                               for w in layer.get_weights()])
    return model


def bn_after_conv(model):
    return [layer.name for layer in model.layers if isinstance(layer, BN)
            and isinstance(layer.input._keras_history[0], keras.layers.Conv2D)]


def assert_same_outputs(model, copy, seed: int = 1, size=(32, 32, 3)):
    images = np.random.default_rng(seed).normal(size=(6,) + size).astype(np.float32)
    expected = np.asarray(model(images, training=False))
    got = np.asarray(copy(images, training=False))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    return expected


def test_resnet18_folds_every_bn_and_keeps_its_softmax():
    model = randomise(resnet18(width=4))
    before = [w.copy() for w in model.get_weights()]
    folded = fold_batch_norm(model)
    assert folded is not model
    assert not [layer for layer in folded.layers if isinstance(layer, BN)]
    assert len(folded.layers) == len(model.layers) - len(bn_after_conv(model))
    assert folded.input_shape == model.input_shape and folded.output_shape == model.output_shape
    assert folded.get_layer("stem_conv").use_bias and folded.get_layer("stage2_block1_shortcut_conv").use_bias
    kept = {layer.name for layer in model.layers if not isinstance(layer, BN)}
    assert {layer.name for layer in folded.layers} == kept
    probs = assert_same_outputs(model, folded)
    assert probs.max(axis=1).min() < 0.999  # not saturated: a wrong fold would show
    # the user's model is untouched: same layers, weights, no bias added
    assert len(bn_after_conv(model)) == 20 and not model.get_layer("stem_conv").use_bias
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_simple_cnn_keeps_its_bns_after_relu_convs():
    # simple_cnn is Conv2D(activation="relu") -> BN: the BN follows the ReLU, so it cannot fold into the conv.
    model = randomise(simple_cnn(l2=0.0))
    assert fold_batch_norm(model) is model
    assert_same_outputs(model, forward_copy(model))


def test_simple_cnn_with_linear_convs_folds():
    model = simple_cnn(l2=0.0)
    config = model.get_config()
    for entry in config["layers"]:
        if entry["class_name"] == "Conv2D":
            entry["config"]["activation"] = "linear"
    linear = randomise(keras.Model.from_config(config))
    folded = fold_batch_norm(linear)
    assert not [layer for layer in folded.layers if isinstance(layer, BN)]
    assert_same_outputs(linear, folded)


def test_bias_and_center_scale_variants_and_unfoldable_bns_kept():
    inputs = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(4, 3, padding="same", use_bias=True, name="conv_bias")(inputs)
    a = BN(center=False, name="bn_no_center")(a)
    b = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv_nobias")(a)
    b = BN(scale=False, name="bn_no_scale")(b)
    c = keras.layers.Conv2D(4, 1, name="conv_shared")(b)  # two consumers: its BN cannot fold
    c1 = BN(name="bn_of_shared")(c)
    c2 = keras.layers.Activation("relu", name="relu_shared")(c)
    d = keras.layers.Add(name="add")([c1, c2])
    d = BN(name="bn_after_add")(d)  # not after a conv
    e = keras.layers.Conv2D(4, 1, activation="relu", name="conv_relu")(d)
    e = BN(name="bn_after_relu_conv")(e)  # the conv's ReLU sits in between
    f = keras.layers.Flatten(name="flat")(e)
    f = keras.layers.Dense(6, name="dense")(f)
    f = BN(name="bn_after_dense")(f)
    outputs = keras.layers.Softmax(name="probs")(f)
    model = randomise(keras.Model(inputs, outputs, name="mixed"))
    folded = fold_batch_norm(model)
    assert sorted(layer.name for layer in folded.layers if isinstance(layer, BN)) == [
        "bn_after_add", "bn_after_dense", "bn_after_relu_conv", "bn_of_shared"]
    assert "bn_no_center" not in [layer.name for layer in folded.layers]
    assert folded.get_layer("conv_nobias").use_bias
    assert_same_outputs(model, folded, size=(8, 8, 3))


def test_bn_as_model_output_and_sequential():
    model = randomise(keras.Sequential([
        keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, name="conv"), BN(name="bn")], name="seq"))
    folded = fold_batch_norm(model)
    assert [layer.name for layer in folded.layers if not isinstance(layer, keras.layers.InputLayer)] == ["conv"]
    assert_same_outputs(model, folded, size=(6, 6, 2))


def test_forward_copy_precisions():
    model = randomise(resnet18(width=4))
    images = np.random.default_rng(2).normal(size=(4, 32, 32, 3)).astype(np.float32)
    assert forward_copy(model, fold=False) is model
    low = forward_copy(model, "bfloat16")
    assert not [layer for layer in low.layers if isinstance(layer, BN)]
    assert str(low.get_layer("stem_conv").compute_dtype) == "bfloat16"
    assert low.get_layer("predictions").compute_dtype == "float32"
    np.testing.assert_allclose(np.asarray(low(images, training=False)),
                               np.asarray(model(images, training=False)), atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        forward_copy(model, "float16")
