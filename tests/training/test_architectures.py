"""Tests of drise_tf.training.architectures: ResNet-18 (docs/thesis.md, "The model") at any width, the small CNN,
ImageNet backbones, the registry."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from drise_tf.core.compat import keras
from drise_tf.training import architectures as arch


def _n_params(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


@pytest.fixture(scope="module")
def resnet():
    return arch.resnet18()


def test_resnet18_parameter_counts(resnet):
    assert _n_params(resnet.trainable_weights) == 11_173_962
    assert resnet.count_params() == 11_183_562
    assert _n_params(resnet.non_trainable_weights) == 9_600


def _resnet18_trainable(width: int, classes: int = 10) -> int:
    """Trainable parameters of the CIFAR ResNet-18 at ``width``, counted by hand layer by layer."""
    count = 3 * 3 * 3 * width + 2 * width  # stem conv (no bias) + BN gamma/beta
    channels = width
    for stage in range(4):
        filters = width * 2**stage
        for block in range(2):
            count += 9 * channels * filters + 2 * filters + 9 * filters * filters + 2 * filters
            if channels != filters:  # 1x1 shortcut conv + BN where the shape changes
                count += channels * filters + 2 * filters
            channels = filters
    return count + channels * classes + classes  # Dense


@pytest.mark.parametrize("width", [8, 16, 64])
def test_resnet18_width_keeps_topology_and_names(resnet, width):
    model = resnet if width == 64 else arch.resnet18(width=width)
    assert _n_params(model.trainable_weights) == _resnet18_trainable(width)
    assert [layer.name for layer in model.layers] == [layer.name for layer in resnet.layers]
    assert model.get_layer(arch.RESNET18_LAST_CONV).output.shape[1:] == (4, 4, 8 * width)


def test_resnet18_shapes_and_named_layers(resnet):
    assert tuple(resnet.input_shape) == (None, 32, 32, 3)
    assert tuple(resnet.output_shape) == (None, 10)
    spatial = [resnet.get_layer("stem_relu").output.shape[1]]
    spatial += [resnet.get_layer(f"stage{s}_block2_out").output.shape[1] for s in range(1, 5)]
    assert spatial == [32, 32, 16, 8, 4]
    assert resnet.get_layer(arch.RESNET18_LAST_CONV).output.shape[1:] == (4, 4, 512)
    for stage in (2, 3, 4):
        assert resnet.get_layer(f"stage{stage}_block1_shortcut_subsample").strides == (2, 2)
        assert resnet.get_layer(f"stage{stage}_block1_shortcut_conv").kernel.shape[:2] == (1, 1)
    names = {layer.name for layer in resnet.layers}
    assert "stage1_block1_shortcut_conv" not in names  # identity shortcut where shapes match
    assert {"stem_conv", "stem_bn", "avg_pool", "flatten", "predictions", "stage3_block2_add"} <= names
    assert not resnet.get_layer("stem_conv").use_bias
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in resnet.layers)


def test_resnet18_shortcut_is_the_thesis_1x1_stride_2_convolution():
    model = arch.resnet18(width=4)
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 4)).astype(np.float32)
    shortcut = keras.Model(model.get_layer("stage2_block1_shortcut_subsample").input,
                           model.get_layer("stage2_block1_shortcut_conv").output)
    assert shortcut.input.shape[1:] == (32, 32, 4)
    kernel = model.get_layer("stage2_block1_shortcut_conv").kernel.numpy()
    expected = tf.nn.conv2d(x, kernel, strides=2, padding="VALID").numpy()  # the thesis's shortcut convolution
    np.testing.assert_allclose(shortcut(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_resnet18_gradients_of_narrow_widths_and_odd_batches_run_on_onednn(tmp_path):
    # oneDNN's AVX512 filter gradient of a 1x1 stride-2 convolution with < 16 input channels and an odd batch
    # corrupts memory (TensorFlow 2.21): the width-4 network, eager and compiled, must not crash (a subprocess with
    # oneDNN on, so that a crash fails this test instead of ending the suite; on CPUs without AVX512 it passes)
    script = tmp_path / "gradients.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, tensorflow as tf
        from drise_tf.training import architectures
        model = architectures.resnet18(width=4)
        for batch in (1, 3):
            x = tf.constant(np.random.default_rng(batch).normal(size=(batch, 32, 32, 3)).astype(np.float32))
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = model(x, training=True)[:, 0]
            assert tape.gradient(score, x).shape == x.shape  # eager: every convolution's filter gradient too
            step = tf.function(lambda x: tf.gradients(tf.reduce_sum(model(x, training=True)), model.trainable_weights))
            assert all(g is not None for g in step(x))
        print("gradients ok")
    """))
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "gradients ok" in done.stdout, done.stderr[-3000:]


def test_resnet18_softmax_and_logits_heads(resnet):
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    probs = resnet(x, training=False).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    logits_model = arch.resnet18(head="logits")
    logits_model.set_weights(resnet.get_weights())
    logits = logits_model(x, training=False).numpy()
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(expected / expected.sum(axis=1, keepdims=True), probs, rtol=1e-4, atol=1e-6)


def test_final_dense_is_float32_under_mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = arch.simple_cnn(input_shape=(8, 8, 3))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert model(np.zeros((1, 8, 8, 3), "float32")).dtype == "float32"
    assert model.get_layer("conv1").compute_dtype == "bfloat16"


@pytest.mark.parametrize("strides,kernel_size,pool2", [(1, 3, 8), (2, 3, 2), (3, 4, 1), (1, 4, 8)])
def test_simple_cnn_strides_and_kernels(strides, kernel_size, pool2):
    model = arch.simple_cnn(strides=strides, kernel_size=kernel_size)
    assert tuple(model.output_shape) == (None, 10)
    conv = model.get_layer("conv1")
    assert conv.strides == (strides, strides) and conv.kernel_size == (kernel_size, kernel_size)
    assert model.get_layer("pool2").output.shape[1:] == (pool2, pool2, 64)
    assert model.get_layer(arch.SIMPLE_CNN_LAST_CONV).filters == 64
    # conv1: k*k*3*32 + 32, bn: 4*32, conv2: k*k*32*64 + 64, bn: 4*64, dense: pool2^2*64*10 + 10
    k2 = kernel_size * kernel_size
    expected = k2 * 3 * 32 + 32 + 128 + k2 * 32 * 64 + 64 + 256 + pool2 * pool2 * 64 * 10 + 10
    assert model.count_params() == expected
    assert model.get_layer("conv2").kernel_regularizer is not None
    assert arch.simple_cnn(l2=0).get_layer("conv1").kernel_regularizer is None


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: arch.resnet18(input_shape=(32, 32)), "input_shape"),
        (lambda: arch.resnet18(num_classes=0), "num_classes"),
        (lambda: arch.resnet18(head="sigmoid"), "head"),
        (lambda: arch.resnet18(width=0), "width must be an int >= 1"),
        (lambda: arch.resnet18(width=2.5), "width must be an int >= 1"),
        (lambda: arch.simple_cnn(strides=0), "strides"),
        (lambda: arch.simple_cnn(kernel_size=-1), "kernel_size"),
        (lambda: arch.simple_cnn(l2=-1.0), "l2"),
        (lambda: arch.simple_cnn(input_shape=(4, 4, 3), strides=3), "strides"),
        (lambda: arch.imagenet_backbone("alexnet", weights=None), "name"),
        (lambda: arch.build("no_such_net"), "no_such_net"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_imagenet_backbone_random_weights(name):
    model = arch.build(name, weights=None, input_shape=(64, 64, 3), classes=10)
    assert tuple(model.output_shape) == (None, 10)
    assert tuple(model.input_shape) == (None, 64, 64, 3)


def test_imagenet_backbone_offline_message(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- no network")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(RuntimeError, match="offline.*weights=None.*local weights file"):
        arch.imagenet_backbone("resnet50")
    with pytest.raises(Exception, match="URL fetch"):  # other weights: the original error, unchanged
        arch.imagenet_backbone("resnet50", weights="/nowhere/w.h5")


def test_build_registry():
    assert set(arch.ARCHITECTURES.available()) == {"resnet18", "simple_cnn", "resnet50", "vgg16"}
    model = arch.build("simple_cnn", input_shape=(16, 16, 3), num_classes=3, strides=2)
    assert tuple(model.output_shape) == (None, 3)
