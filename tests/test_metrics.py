"""Known-answer tests of drise_tf.metrics: hand-built models, naive loops, closed forms and scipy as references."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, ndimage, signal, stats

from drise_tf import metrics
from drise_tf._compat import keras

H = W = 8
PATCH = [(2, 5), (2, 6), (3, 5), (3, 6)]  # the only pixels the patch model looks at


def patch_model(scale: float = 0.05):
    """Class-1 probability = sigmoid(2 * scale * sum of the patch's pixel values (all channels)); class 0 the rest."""
    inputs = keras.Input((H, W, 3), name="image")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(flat)
    model = keras.Model(inputs, outputs, name="patch_model")
    kernel = np.zeros((H * W * 3, 2), dtype=np.float32)
    for row, col in PATCH:
        for channel in range(3):
            index = (row * W + col) * 3 + channel
            kernel[index] = [-scale, scale]
    model.get_layer("head").set_weights([kernel, np.zeros(2, np.float32)])
    return model


def patch_images(n: int = 3, seed: int = 0) -> np.ndarray:
    images = np.random.default_rng(seed).normal(0.0, 0.5, size=(n, H, W, 3)).astype(np.float32)
    for row, col in PATCH:
        images[:, row, col, :] = 2.0
    return images


def perfect_map() -> np.ndarray:
    saliency = np.zeros((H, W), np.float32)
    for row, col in PATCH:
        saliency[row, col] = 1.0
    return saliency


def tiny_cnn(seed: int = 1, classes: int = 3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((H, W, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


# ------------------------------------------------------------------------------------------ naive reference
def naive_blur(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    line = signal.windows.gaussian(size, std=sigma)
    kernel = np.outer(line, line) / np.outer(line, line).sum()
    return np.stack(
        [ndimage.convolve(image[:, :, c], kernel, mode="constant", cval=0.0) for c in range(image.shape[2])], axis=-1
    )


def naive_curves(model, images, maps, mode, step, classes):
    """One image, one step, one forward pass at a time; pixel order by Python sort on (-value, index)."""
    out = []
    for image, saliency, cls in zip(images, maps, classes):
        flat = saliency.ravel()
        order = sorted(range(flat.size), key=lambda i: (-float(flat[i]), i))
        current = naive_blur(image, 11, 5.0) if mode == "insertion" else image.copy()
        values = []
        done = 0
        while True:
            prob = model.predict_on_batch(current[None].astype(np.float32))[0, cls]
            values.append(float(prob))
            if done >= flat.size:
                break
            for pixel in order[done : done + step]:
                row, col = divmod(pixel, image.shape[1])
                current[row, col, :] = 0.0 if mode == "deletion" else image[row, col, :]
            done += step
        out.append(values)
    return np.array(out)


# ---------------------------------------------------------------------------------------- causal metrics
@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_causal_curves_match_naive_loop(mode):
    model = tiny_cnn()
    images = np.random.default_rng(3).normal(size=(3, H, W, 3)).astype(np.float32)
    # quantised map: many ties, to check the tie order; step 5 does not divide 64 (last step partial)
    maps = np.round(np.random.default_rng(4).normal(size=(3, H, W)), 1)
    classes = np.array([0, 2, 1])
    got = metrics.causal_curves(model, images, maps, mode=mode, step=5, batch_size=7, classes=classes)
    want = naive_curves(model, images, maps, mode, 5, classes)
    assert got.shape == (3, 14)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_causal_curves_default_class_and_step():
    model = tiny_cnn()
    images = np.random.default_rng(5).normal(size=(2, H, W, 3)).astype(np.float32)
    maps = np.random.default_rng(6).random((2, H, W))
    curves = metrics.causal_curves(model, images, maps)
    probs = model.predict_on_batch(images)
    assert curves.shape == (2, 33)  # default step H*W // 32 = 2 pixels -> 32 steps
    np.testing.assert_allclose(curves[:, 0], probs.max(axis=1), rtol=1e-5)
    # everything deleted: the all-zero image
    zero = model.predict_on_batch(np.zeros((1, H, W, 3), np.float32))[0]
    np.testing.assert_allclose(curves[:, -1], zero[probs.argmax(axis=1)], rtol=1e-5)


class CountingModel:
    """Wraps a model and counts forward passes and their sizes."""

    def __init__(self, model):
        self.model = model
        self.sizes = []

    def predict_on_batch(self, batch):
        self.sizes.append(len(batch))
        return self.model.predict_on_batch(batch)


def test_causal_curves_batch_images_and_steps_together():
    counting = CountingModel(tiny_cnn())
    images = np.random.default_rng(7).normal(size=(5, H, W, 3)).astype(np.float32)
    maps = np.random.default_rng(8).random((5, H, W))
    metrics.causal_curves(counting, images, maps, step=8, batch_size=16, classes=np.zeros(5, int))
    # 9 steps x 5 images = 45 perturbed images -> 3 passes of at most 16, never one per image
    assert counting.sizes == [16, 16, 13]


def test_gaussian_blur_matches_scipy():
    images = np.random.default_rng(9).normal(size=(2, H, W, 3)).astype(np.float32)
    got = metrics.gaussian_blur(images, kernel=11, sigma=5.0)
    want = np.stack([naive_blur(image, 11, 5.0) for image in images])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics.gaussian_kernel(11, 5.0).sum(), 1.0)


def test_perfect_map_gives_best_auc_reversed_map_worst():
    model = patch_model()
    images = patch_images(3)
    perfect = np.broadcast_to(perfect_map(), (3, H, W))
    reversed_map = -perfect
    rng = np.random.default_rng(10)
    others = [rng.random((3, H, W)) for _ in range(12)]
    others += [perfect + 0.5 * rng.random((3, H, W)) for _ in range(3)]  # patch first, other pixels shuffled
    kw = dict(step=4)  # the whole patch goes in one step

    assert (model.predict_on_batch(images).argmax(axis=1) == 1).all()
    best = metrics.deletion_insertion(model, images, perfect, **kw)
    worst = metrics.deletion_insertion(model, images, reversed_map, **kw)
    for other_map in others:
        other = metrics.deletion_insertion(model, images, other_map, **kw)
        assert np.all(best["deletion_auc"] <= other["deletion_auc"] + 1e-9)
        assert np.all(best["insertion_auc"] >= other["insertion_auc"] - 1e-9)
        assert np.all(worst["deletion_auc"] >= other["deletion_auc"] - 1e-9)
        assert np.all(worst["insertion_auc"] <= other["insertion_auc"] + 1e-9)
        # pointwise, at every step
        assert np.all(best["deletion_curve"] <= other["deletion_curve"] + 1e-7)
        assert np.all(best["insertion_curve"] >= other["insertion_curve"] - 1e-7)
    # perfect deletion: after one step the patch is gone and the model is at chance
    np.testing.assert_allclose(best["deletion_curve"][:, 1:], 0.5, atol=1e-6)
    assert best["deletion_auc"].max() < 0.55 < worst["deletion_auc"].min()


def test_deletion_insertion_uses_true_fractions_for_partial_last_step():
    model = patch_model()
    images = patch_images(2)
    result = metrics.deletion_insertion(model, images, np.random.default_rng(0).random((2, H, W)), step=10)
    x = result["fractions"]
    np.testing.assert_allclose(x, np.minimum(np.arange(8) * 10, 64) / 64)
    np.testing.assert_allclose(result["deletion_auc"], integrate.trapezoid(result["deletion_curve"], x, axis=1))
    np.testing.assert_array_equal(result["classes"], [1, 1])


def test_auc_closed_forms():
    np.testing.assert_allclose(metrics.auc(np.linspace(0, 1, 33)), 0.5)
    np.testing.assert_allclose(metrics.auc(np.linspace(1, 0, 5)[None]), [0.5])
    np.testing.assert_allclose(metrics.auc(np.full((2, 4), 0.3)), [0.3, 0.3])
    np.testing.assert_allclose(metrics.auc(np.array([0.0, 1.0, 1.0]), x=np.array([0.0, 0.5, 1.0])), 0.75)


# ---------------------------------------------------------------------------------------------- agreement
def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(11)
    a = np.round(rng.normal(size=(4, 5, 6)), 1)
    b = a + rng.normal(scale=0.5, size=a.shape)
    got = metrics.rank_correlation(a, b)
    want = [stats.spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(metrics.rank_correlation(a, -a), -1.0)


def test_rank_correlation_constant_map_is_nan():
    a = np.ones((1, 3, 3))
    assert np.isnan(metrics.rank_correlation(a, np.random.default_rng(0).random((1, 3, 3))))[0]


def test_topk_overlap_hand_examples():
    a = np.array([[[4.0, 3.0], [2.0, 1.0]], [[4.0, 3.0], [2.0, 1.0]]])
    b = np.array([[[4.0, 1.0], [3.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]]])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=0.5), [0.5, 0.0])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=0.25), [1.0, 0.0])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=1.0), [1.0, 1.0])
    # ties broken in pixel order: the first two pixels
    np.testing.assert_allclose(metrics.topk_overlap(np.zeros((1, 2, 2)), a[:1], fraction=0.5), [1.0])


def test_agreement_matrix():
    rng = np.random.default_rng(12)
    a = rng.random((3, 4, 4))
    maps = {"a": a, "b": a + rng.normal(scale=0.3, size=a.shape), "c": -a}
    names, matrix = metrics.agreement_matrix(maps)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(matrix[0, 1], metrics.rank_correlation(maps["a"], maps["b"]).mean())
    np.testing.assert_allclose(matrix[0, 2], -1.0)
    _, top = metrics.agreement_matrix(maps, metric="topk", fraction=0.25)
    np.testing.assert_allclose(top[0, 2], metrics.topk_overlap(a, -a, fraction=0.25).mean())
    np.testing.assert_allclose(np.diag(top), 1.0)


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
    metrics._reinitialise(clone.get_layer("conv"), np.random.default_rng(0))
    kernel, bias = clone.get_layer("conv").get_weights()
    assert not np.allclose(kernel, model.get_layer("conv").get_weights()[0])
    np.testing.assert_array_equal(bias, 0.0)  # bias initialiser: zeros
    limit = np.sqrt(6.0 / (3 * 3 * 3 + 3 * 3 * 4))  # glorot uniform
    assert np.abs(kernel).max() <= limit


# --------------------------------------------------------------------------------------------- summaries
def test_mean_ci_closed_form():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    mean, low, high = metrics.mean_ci(values)
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / np.sqrt(4)
    assert mean == pytest.approx(3.5)
    assert (low, high) == pytest.approx((3.5 - half, 3.5 + half))
    assert metrics.mean_ci([2.0, 2.0]) == (2.0, 2.0, 2.0)
    single = metrics.mean_ci([5.0])
    assert single[0] == 5.0 and np.isnan(single[1]) and np.isnan(single[2])


def test_summary_table_rows():
    rows = metrics.summary_table({"cos": {"deletion_auc": [0.1, 0.3], "insertion_auc": [0.5, 0.7]}})
    assert [(r["name"], r["metric"], r["n"]) for r in rows] == [("cos", "deletion_auc", 2), ("cos", "insertion_auc", 2)]
    assert rows[0]["mean"] == pytest.approx(0.2) and rows[0]["low"] < 0.2 < rows[0]["high"]


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "erase"}, "mode"),
        ({"step": 0}, "step"),
        ({"step": 65}, "step"),
        ({"batch_size": 0}, "batch_size"),
        ({"classes": np.array([0, 5])}, "classes"),
        ({"classes": np.array([0])}, "classes"),
        ({"blur_kernel": 4, "mode": "insertion"}, "blur_kernel"),
        ({"blur_sigma": 0.0, "mode": "insertion"}, "blur_sigma"),
    ],
)
def test_causal_curves_bad_arguments(kwargs, match):
    model = patch_model()
    with pytest.raises(ValueError, match=match):
        metrics.causal_curves(model, patch_images(2), np.zeros((2, H, W)), **kwargs)


def test_bad_images_and_maps():
    model = patch_model()
    images = patch_images(2)
    with pytest.raises(ValueError, match="maps must have shape"):
        metrics.causal_curves(model, images, np.zeros((2, H, W + 1)))
    with pytest.raises(ValueError, match="images must have shape"):
        metrics.causal_curves(model, images[0], np.zeros((H, W)))
    with pytest.raises(ValueError, match="images must be float"):
        metrics.causal_curves(model, images.astype(np.uint8), np.zeros((2, H, W)))
    bad = np.zeros((2, H, W))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="maps contain NaN"):
        metrics.causal_curves(model, images, bad)
    with pytest.raises(ValueError, match="mode"):
        metrics.deletion_insertion(model, images, np.zeros((2, H, W)), mode="deletion")
    with pytest.raises(ValueError, match="map_b must have the shape"):
        metrics.rank_correlation(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="map_a contain NaN"):
        metrics.rank_correlation(np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="fraction"):
        metrics.topk_overlap(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), fraction=0.0)
    with pytest.raises(ValueError, match="metric"):
        metrics.agreement_matrix({"a": np.zeros((1, 2, 2))}, metric="kendall")
    with pytest.raises(ValueError, match="curves"):
        metrics.auc(np.zeros((2, 1)))
    for values, match in [([], "empty"), ([1.0, np.nan], "NaN")]:
        with pytest.raises(ValueError, match=match):
            metrics.mean_ci(values)
    with pytest.raises(ValueError, match="confidence"):
        metrics.mean_ci([1.0, 2.0], confidence=1.5)


def test_randomization_check_bad_arguments():
    model = tiny_cnn()
    images = np.zeros((1, H, W, 3), np.float32)
    with pytest.raises(ValueError, match="layers: 'flatten'"):
        metrics.randomization_check(model, images, np.array([0]), gradient_map, layers=["flatten"])
    with pytest.raises(ValueError, match="explain_fn must return"):
        metrics.randomization_check(model, images, np.array([0]), lambda m, x, t: np.zeros((1, 2, 2)))
