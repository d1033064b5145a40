"""drise_tf.explain: one interface, each method against an independent reference, and the tf-keras-vis pitfalls."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import zoom
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.scores import CategoricalScore

from drise_tf import explain
from drise_tf.core.compat import keras
from drise_tf.explain import make_explainer, normalize_maps

L = keras.layers
TARGETS = [0, 2, 1]


def _seed_weights(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(w.shape) * scale).astype(np.float32) for w in model.get_weights()])
    return model


def tiny_cnn(head="softmax", dtype=None, seed=0):
    """8x8x3 -> conv1 (8x8x4, relu) -> conv2 (stride 2) -> feat (4x4x6 relu) -> GAP -> Dense(3)."""
    kw = {} if dtype is None else {"dtype": dtype}
    inputs = keras.Input((8, 8, 3), name="input")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1", **kw)(inputs)
    x = L.Conv2D(6, 3, strides=2, padding="same", name="conv2", **kw)(x)
    x = L.Activation("relu", name="feat", **kw)(x)
    x = L.GlobalAveragePooling2D(name="gap", **kw)(x)
    outputs = L.Dense(3, activation=None if head == "logits" else "softmax", dtype="float32", name="predictions")(x)
    return _seed_weights(keras.Model(inputs, outputs), seed)


def _copy_weights(dst, src):
    dst.set_weights([np.asarray(w, np.float32) for w in src.get_weights()])
    return dst


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).standard_normal((3, 8, 8, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


@pytest.fixture(scope="module")
def logits_model(model):
    return _copy_weights(tiny_cnn(head="logits"), model)


def test_available_lists_every_method():
    names = set(explain.available_explainers())
    assert {"drise", "rise", "saliency", "smoothgrad", "guided_backprop", "gradcam", "gradcam++", "scorecam",
            "faster_scorecam"} <= names


def _hand_saliency(logits_model, images, targets):
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = logits_model(x)
        score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
    return np.abs(tape.gradient(score, x).numpy()).max(axis=-1)


def test_saliency_matches_hand_written_gradient_of_the_logit(model, logits_model, images):
    maps = make_explainer("saliency", model).explain(images, TARGETS)
    assert maps.shape == (3, 8, 8) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, _hand_saliency(logits_model, images, TARGETS), rtol=1e-5, atol=1e-7)
    # the map differs per target: the per-image targets are really used
    assert not np.allclose(maps, make_explainer("saliency", model).explain(images, [1, 1, 1]))


def _hand_gradcam(logits_model, images, targets, layer):
    sub = keras.Model(logits_model.inputs, [logits_model.get_layer(layer).output, logits_model.outputs[0]])
    with tf.GradientTape() as tape:
        activations, logits = sub(tf.constant(images))
        score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
    grads = tape.gradient(score, activations).numpy()
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return np.maximum((weights * activations.numpy()).sum(axis=-1), 0)


def test_gradcam_matches_hand_written_gradcam_on_a_full_resolution_layer(model, logits_model, images):
    maps = make_explainer("gradcam", model, layer="conv1").explain(images, TARGETS)
    np.testing.assert_allclose(maps, _hand_gradcam(logits_model, images, TARGETS, "conv1"), rtol=1e-5, atol=1e-6)


def test_gradcam_on_a_coarse_layer_is_the_hand_cam_bilinearly_resized(model, logits_model, images):
    maps = make_explainer("gradcam", model, layer="feat").explain(images, TARGETS)
    cam = _hand_gradcam(logits_model, images, TARGETS, "feat")
    np.testing.assert_allclose(maps, zoom(cam, (1, 2, 2), order=1), rtol=1e-5, atol=1e-6)


def test_gradcam_plus_plus_equals_tf_keras_vis_on_a_hand_built_logits_model(model, logits_model, images):
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    maps = make_explainer("gradcam++", model).explain(images, TARGETS)
    reference = GradcamPlusPlus(logits_model, clone=False)(
        CategoricalScore(TARGETS), images, penultimate_layer="feat", seek_penultimate_conv_layer=False,
        normalize_cam=False)
    # documented shift: the target logit minus the largest logit, so each map is scaled by exp(-max logit)
    scale = np.exp(-logits_model(images).numpy().max(axis=1))[:, None, None]
    np.testing.assert_allclose(maps, reference * scale, rtol=1e-4, atol=1e-7)


def test_gradcam_plus_plus_stays_finite_with_huge_logits(model, images):
    inputs = keras.Input(model.input_shape[1:])
    features = keras.layers.Conv2D(3, 3, padding="same", name="feat", activation="relu")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, name="logits", kernel_initializer=keras.initializers.Constant(1e3),
                                 bias_initializer=keras.initializers.Constant(0.0))(pooled)
    huge = keras.Model(inputs, outputs)
    assert np.abs(huge(images).numpy()).max() > 200  # exp() of these overflows in float32
    maps = make_explainer("gradcam++", huge, layer="feat").explain(images, [0] * len(images))
    assert np.all(np.isfinite(maps))


def _hand_scorecam(logits_model, images, targets, layer):
    features = keras.Model(logits_model.inputs, logits_model.get_layer(layer).output)(images).numpy()
    cams = []
    for x, a, t in zip(images, features, targets):
        weights = []
        for k in range(a.shape[-1]):
            up = zoom(a[..., k], (x.shape[0] / a.shape[0], x.shape[1] / a.shape[1]), order=1, mode="nearest")
            up = (up - up.min()) / (up.max() - up.min() + keras.backend.epsilon())
            logits = logits_model(x[None] * up[None, ..., None]).numpy()[0]
            probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            weights.append(probs[t])
        cams.append(np.maximum((a * np.array(weights)).sum(axis=-1), 0))
    return zoom(np.stack(cams), (1, 2, 2), order=1)


def test_scorecam_matches_hand_written_scorecam_with_a_single_softmax(model, logits_model, images):
    maps = make_explainer("scorecam", model).explain(images, TARGETS)
    np.testing.assert_allclose(maps, _hand_scorecam(logits_model, images, TARGETS, "feat"), rtol=1e-4, atol=1e-6)
    # the pitfall: tf-keras-vis on the softmax model applies softmax twice and gives other maps
    naive = Scorecam(model, clone=False)(CategoricalScore(TARGETS), images, penultimate_layer="feat",
                                         seek_penultimate_conv_layer=False, normalize_cam=False)
    assert not np.allclose(maps, naive, rtol=1e-3)


def test_faster_scorecam_keeps_top_channels_per_image_independently_of_the_batch(model, images):
    explainer = make_explainer("faster_scorecam", model, max_n=2)
    batch = explainer.explain(images, TARGETS)
    alone = explainer.explain(images[1:2], TARGETS[1:2])
    np.testing.assert_allclose(batch[1:2], alone, rtol=1e-6)
    assert not np.allclose(batch, make_explainer("scorecam", model).explain(images, TARGETS))
    with pytest.raises(ValueError, match="max_n"):
        make_explainer("faster_scorecam", model, max_n=7)


def _tiny_dense(relu_layer=False):
    inputs = keras.Input((2, 2, 1))
    x = L.Flatten()(inputs)
    if relu_layer:
        x = L.ReLU()(L.Dense(4, name="hidden")(x))
    else:
        x = L.Dense(4, activation="relu", name="hidden")(x)
    outputs = L.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    w1 = np.array([[1.0, -1.0, 0.5, 2.0], [0.5, 1.0, -1.0, 1.0], [-1.0, 0.5, 1.0, -0.5], [2.0, 0.0, 0.5, 1.0]],
                  np.float32)
    w2 = np.array([[1.0, -2.0, 0.5], [-1.5, 1.0, 1.0], [2.0, 0.5, -1.0], [-0.5, 1.0, 1.0]], np.float32)
    model.set_weights([w1, np.zeros(4, np.float32), w2, np.zeros(3, np.float32)])
    return model, w1, w2


@pytest.mark.parametrize("relu_layer", [False, True])
def test_guided_backprop_matches_hand_computation_on_a_tiny_model(relu_layer):
    model, w1, w2 = _tiny_dense(relu_layer)
    x = np.array([[[[1.0], [0.5]], [[0.2], [1.0]]], [[[-1.0], [0.3]], [[1.0], [0.4]]]], np.float32)
    targets = np.array([0, 1])
    expected = []
    for image, t in zip(x, targets):
        z = image.reshape(-1) @ w1
        upstream = w2[:, t]
        guided = upstream * (upstream > 0) * (z > 0)
        expected.append(np.abs(w1 @ guided).reshape(2, 2))
    maps = make_explainer("guided_backprop", model).explain(x, targets)
    np.testing.assert_allclose(maps, np.stack(expected), rtol=1e-6)
    assert not np.allclose(maps, make_explainer("saliency", model).explain(x, targets))
    # the user's model still computes plain ReLU gradients and softmax outputs
    np.testing.assert_allclose(model(x).numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_smoothgrad_is_seeded_and_reduces_to_saliency_without_noise(model, images):
    a = make_explainer("smoothgrad", model, samples=3, seed=7).explain(images, TARGETS)
    b = make_explainer("smoothgrad", model, samples=3, seed=7).explain(images, TARGETS)
    c = make_explainer("smoothgrad", model, samples=3, seed=8).explain(images, TARGETS)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    quiet = make_explainer("smoothgrad", model, samples=2, noise=0.0, seed=0).explain(images, TARGETS)
    np.testing.assert_allclose(quiet, make_explainer("saliency", model).explain(images, TARGETS), rtol=1e-5)
    with pytest.raises(ValueError, match="samples"):
        make_explainer("smoothgrad", model, samples=0)


def test_smoothgrad_is_the_mean_gradient_over_the_seeded_noisy_copies(model, logits_model, images, monkeypatch):
    from drise_tf.explain import gradients

    monkeypatch.setattr(gradients, "GRADIENT_BATCH", 4)  # 5 copies x 3 images: backward passes of 4, 4, 4, 3
    maps = make_explainer("smoothgrad", model, samples=5, noise=0.3, seed=11).explain(images, TARGETS)
    rng = np.random.default_rng(11)
    sigma = 0.3 * (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3)))[:, None, None, None]
    total = np.zeros_like(images)
    for _ in range(5):  # the naive loop: one noisy copy of every image at a time, its logit gradient by GradientTape
        noisy = tf.constant(images + (sigma * rng.standard_normal(images.shape)).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(noisy)
            logits = tf.gather(logits_model(noisy), TARGETS, axis=1, batch_dims=1)
        total += np.abs(tape.gradient(logits, noisy).numpy())
    np.testing.assert_allclose(maps, (total / 5).max(axis=-1), rtol=1e-5, atol=1e-7)


def test_default_cam_layer_on_resnet18_is_the_last_block_output():
    from tf_keras_vis.utils import find_layer
    from tf_keras_vis.utils.model_modifiers import Conv  # the class tf-keras-vis seeks

    from drise_tf.training.architectures import RESNET18_LAST_CONV, resnet18

    net = resnet18(num_classes=10)
    assert explain.default_cam_layer(net) == RESNET18_LAST_CONV
    seeked = find_layer(net, lambda layer: isinstance(layer, Conv))
    assert seeked.name != RESNET18_LAST_CONV  # tf-keras-vis's own choice would be a conv before BN/add/ReLU
    assert make_explainer("gradcam", net).layer == RESNET18_LAST_CONV


def test_default_cam_layer_on_simple_cnn_is_its_last_convolution():
    from tf_keras_vis.utils import find_layer
    from tf_keras_vis.utils.model_modifiers import Conv

    from drise_tf.training.architectures import SIMPLE_CNN_LAST_CONV, simple_cnn

    net = simple_cnn()
    assert explain.default_cam_layer(net) == SIMPLE_CNN_LAST_CONV == "conv2"  # not bn2, the BatchNormalization after it
    assert find_layer(net, lambda layer: isinstance(layer, Conv)).name == SIMPLE_CNN_LAST_CONV  # tf-keras-vis agrees


def test_cam_layer_can_be_named_and_is_checked(model, images):
    assert make_explainer("gradcam", model).layer == "feat"
    assert make_explainer("gradcam", model, layer="conv2").explain(images, TARGETS).shape == (3, 8, 8)
    with pytest.raises(ValueError, match="nope"):
        make_explainer("gradcam", model, layer="nope")
    with pytest.raises(ValueError, match="feature map"):
        make_explainer("gradcam", model, layer="predictions")


@pytest.mark.parametrize("name", ["saliency", "gradcam", "scorecam"])
def test_sequential_models_work_and_equal_their_functional_twin(model, images, name):
    sequential = keras.Sequential([keras.Input((8, 8, 3))] + [
        L.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(6, 3, strides=2, padding="same", name="conv2"), L.Activation("relu", name="feat"),
        L.GlobalAveragePooling2D(name="gap"), L.Dense(3, activation="softmax", name="predictions")])
    _copy_weights(sequential, model)
    np.testing.assert_allclose(make_explainer(name, sequential).explain(images, TARGETS),
                               make_explainer(name, model).explain(images, TARGETS), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["gradcam", "gradcam++", "faster_scorecam", "saliency"])
def test_bfloat16_models_are_explained_on_a_float32_copy(model, images, name):
    low = _copy_weights(tiny_cnn(dtype="mixed_bfloat16"), model)
    maps = make_explainer(name, low).explain(images, TARGETS)
    assert maps.dtype == np.float32 and np.isfinite(maps).all()
    np.testing.assert_allclose(maps, make_explainer(name, model).explain(images, TARGETS), rtol=1e-5, atol=1e-7)
    assert low.get_layer("conv1").compute_dtype == "bfloat16"  # the user's model is untouched


@pytest.mark.parametrize("name", ["saliency", "guided_backprop", "gradcam", "gradcam++", "faster_scorecam"])
def test_user_model_is_never_modified(images, name):
    model = tiny_cnn()
    before = model(images).numpy()
    weights = [w.copy() for w in model.get_weights()]
    make_explainer(name, model).explain(images, TARGETS)
    np.testing.assert_array_equal(model(images).numpy(), before)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.get_layer("predictions").activation.__name__ == "softmax"


@pytest.mark.parametrize("name", ["saliency", "gradcam", "gradcam++", "faster_scorecam"])
def test_minmax_normalisation_is_the_same_rule_for_every_method(model, images, name):
    raw = make_explainer(name, model).explain(images, TARGETS)
    scaled = make_explainer(name, model, normalize="minmax").explain(images, TARGETS)
    np.testing.assert_allclose(scaled, normalize_maps(raw, "minmax"), rtol=1e-6, atol=1e-7)
    assert scaled.min() >= 0 and scaled.max() <= 1


def minmax_by_hand(maps):
    """(x - min) / (max - min) of each map on its own, in float64, pixel by pixel; a constant map becomes zeros."""
    maps = np.asarray(maps, dtype=np.float64)
    out = np.zeros_like(maps)
    for k, m in enumerate(maps):
        low, high = m.min(), m.max()
        if high > low:
            out[k] = (m - low) / (high - low)
    return out


def test_normalize_maps_by_hand():
    maps = np.array([[[1.0, 3.0], [2.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]], np.float32)
    expected = np.array([[[0.0, 0.5], [0.25, 1.0]], [[0, 0], [0, 0]]], np.float32)
    np.testing.assert_allclose(normalize_maps(maps, "minmax"), expected)
    # the closed form per map: each map on its own scale (negative, tiny, huge, one hot pixel, float64 input),
    # float32 out; the order of the pixels is kept
    rng = np.random.default_rng(0)
    edge = np.stack([rng.normal(size=(5, 7)) - 3.0, 1e-6 * rng.random((5, 7)), 1e6 * rng.random((5, 7)),
                     np.eye(5, 7), -np.eye(5, 7), np.full((5, 7), -2.5)])
    scaled = normalize_maps(edge, "minmax")
    assert scaled.dtype == np.float32 and scaled.shape == edge.shape
    np.testing.assert_allclose(scaled, minmax_by_hand(edge), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(scaled[3], np.eye(5, 7))  # one hot pixel per row stays exactly 0 / 1
    np.testing.assert_array_equal(scaled[4], 1 - np.eye(5, 7))  # reversed sign: the hot pixels are now the lowest
    np.testing.assert_array_equal(scaled[5], 0)  # constant: zeros, not NaN
    for raw, out in zip(edge[:3], scaled[:3]):
        np.testing.assert_array_equal(np.argsort(out, axis=None, kind="stable"),
                                      np.argsort(raw.astype(np.float32), axis=None, kind="stable"))
    np.testing.assert_allclose(normalize_maps(edge[:1] * 2 + 7, "minmax"), scaled[:1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(normalize_maps(maps, "none"), maps)
    with pytest.raises(ValueError, match="normalize"):
        normalize_maps(maps, "l2")


def test_targets_default_to_the_predicted_class(model, images):
    predicted = model(images).numpy().argmax(axis=1)
    explainer = make_explainer("gradcam", model)
    np.testing.assert_array_equal(explainer.explain(images), explainer.explain(images, predicted))


def test_bad_input_raises_clear_errors(model, images):
    explainer = make_explainer("saliency", model)
    with pytest.raises(ValueError, match="shape"):
        explainer.explain(images[:, :4], TARGETS)
    with pytest.raises(ValueError, match="NaN"):
        explainer.explain(np.full_like(images, np.nan), TARGETS)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        explainer.explain(images, [0, 1, 3])
    with pytest.raises(ValueError, match="one class per image"):
        explainer.explain(images, [0, 1])
    with pytest.raises(ValueError, match="unknown explainer"):
        make_explainer("lime", model)
    with pytest.raises(ValueError, match="bad options"):
        make_explainer("gradcam", model, smooth=3)
    with pytest.raises(ValueError, match="normalize"):
        make_explainer("gradcam", model, normalize="max")
    with pytest.raises(ValueError, match="keras.Model"):
        make_explainer("saliency", "model.keras")


def test_drise_and_rise_adapters_forward_to_the_engine(model, images):
    from drise_tf.explain.drise import DRise

    options = dict(n_masks=16, grid_size=4, batch_size=8, seed=3)
    maps = make_explainer("drise", model, **options).explain(images, TARGETS)
    np.testing.assert_allclose(maps, DRise(model, **options).explain(images, TARGETS))
    rise_options = dict(n_masks=16, grid_size=4, batch_size=8, seed=3)
    raw = make_explainer("rise", model, **rise_options).explain(images, TARGETS)
    rise = make_explainer("rise", model, normalize="minmax", **rise_options).explain(images, TARGETS)
    assert rise.shape == (3, 8, 8) and np.ptp(raw, axis=(1, 2)).min() > 0  # no constant map: the rule is tested
    np.testing.assert_allclose(rise, minmax_by_hand(raw), rtol=1e-5, atol=1e-6)  # (x - min) / (max - min) per map
    np.testing.assert_array_equal(rise.min(axis=(1, 2)), 0)
    np.testing.assert_allclose(rise.max(axis=(1, 2)), 1, rtol=1e-6)


def test_drise_runs_on_224_pixel_inputs():
    inputs = keras.Input((224, 224, 3))
    x = L.Conv2D(2, 8, strides=8)(inputs)
    x = L.GlobalAveragePooling2D()(x)
    model = _seed_weights(keras.Model(inputs, L.Dense(4, activation="softmax")(x)), 2, 0.1)
    images = np.random.default_rng(0).standard_normal((2, 224, 224, 3)).astype(np.float32)
    maps = make_explainer("drise", model, n_masks=4, batch_size=2, seed=0).explain(images, [0, 3])
    assert maps.shape == (2, 224, 224) and np.isfinite(maps).all() and maps.max() > 0


def test_class_visualisation_is_seeded_and_raises_the_class_logit(model, logits_model):
    a = explain.class_visualisation(model, [0, 2], steps=15, seed=5)
    b = explain.class_visualisation(model, [0, 2], steps=15, seed=5)
    start = explain.class_visualisation(model, [0, 2], steps=1, seed=5, learning_rate=1e-9)
    assert a.shape == (2, 8, 8, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, explain.class_visualisation(model, [0, 2], steps=15, seed=6))
    assert a.min() >= -2.0 and a.max() <= 2.0
    logits_after = logits_model(a).numpy()[[0, 1], [0, 2]]
    logits_before = logits_model(start).numpy()[[0, 1], [0, 2]]
    assert np.all(logits_after > logits_before)
    with pytest.raises(ValueError, match="classes"):
        explain.class_visualisation(model, [3], steps=1)
    with pytest.raises(ValueError, match="steps"):
        explain.class_visualisation(model, [0], steps=0)


def test_smooth_maps_is_a_gaussian_of_the_stated_width_per_map():
    from drise_tf.explain import smooth_maps

    maps = np.zeros((3, 41, 41), np.float32)
    maps[0, 20, 20] = 1.0  # a point: its blur is the kernel itself
    maps[1] = 2.5  # a constant stays constant
    maps[2, :, 20] = 1.0  # a line: blurred across, not along
    out = smooth_maps(maps, 1.87)
    rows, columns = np.mgrid[:41, :41] - 20
    assert out[0].sum() == pytest.approx(1.0, abs=1e-5)
    assert (out[0] * rows**2).sum() == pytest.approx(1.87**2, rel=1e-3)  # variance = sigma^2 (closed form)
    assert (out[0] * columns**2).sum() == pytest.approx(1.87**2, rel=1e-3)
    np.testing.assert_allclose(out[1], 2.5, rtol=1e-6)
    np.testing.assert_allclose(out[2], out[2][:1].repeat(41, axis=0), atol=1e-6)  # each map on its own, not the batch
    assert (out[2, 0] * (np.arange(41) - 20) ** 2).sum() == pytest.approx(1.87**2, rel=1e-3)
    assert out.dtype == np.float32
    for bad, match in ((np.zeros((4, 4)), r"\(B, H, W\)"), (np.zeros((1, 4, 4)), "sigma")):
        with pytest.raises(ValueError, match=match):
            smooth_maps(bad, 1.0 if bad.ndim == 2 else 0.0)
