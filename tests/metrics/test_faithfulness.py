"""Known-answer tests of drise_tf.metrics.faithfulness: a patch model, naive loops and scipy as references."""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, ndimage, signal
from toy_models import tiny_cnn

from drise_tf import metrics
from drise_tf.core.compat import keras
from drise_tf.metrics import faithfulness

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


# ------------------------------------------------------------------------------------------ naive reference
def naive_blur(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    line = signal.windows.gaussian(size, std=sigma)
    kernel = np.outer(line, line) / np.outer(line, line).sum()
    return np.stack(
        [ndimage.convolve(image[:, :, c], kernel, mode="constant", cval=0.0) for c in range(image.shape[2])], axis=-1
    )


#: The stream of imputation noise of each removal, as the metrics' docstrings declare it (image i, step k of stream s
#: draws from default_rng((*seed, i, k, s))).
NOISE_STREAM = {"morf": 0, "lerf": 1, "deletion": 2, "insertion": 3, "mu_fidelity": 4}


def naive_filled(image, removed, fill, *, constant=0.0, blur=(11, 5.0), noise=0.0, rng=None):
    """One image (H, W, C) with its removed pixels (H, W) replaced one by one: by ``constant``, by the pixels of the
    naive blur, or by the Gauss-Seidel imputation (0 where every pixel is removed: relaxation from 0 stays there)
    plus noise drawn pixel by pixel and channel by channel in row-major order."""
    if fill == "blur":
        source = naive_blur(image, *blur)
    elif fill == "imputation":
        source = _cached_imputation(image.astype(np.float32).tobytes(), removed.tobytes()).copy()
        draws = rng.standard_normal((int(removed.sum()), image.shape[2]))
        for k, (row, col) in enumerate(zip(*np.nonzero(removed))):
            for channel in range(image.shape[2]):
                source[row, col, channel] += noise * draws[k, channel]
    out = image.astype(np.float64).copy()
    for row, col in zip(*np.nonzero(removed)):
        out[row, col, :] = constant if fill == "constant" else source[row, col, :]
    return out


def naive_curves(model, images, maps, mode, step, classes, *, fill=None, blur=(11, 5.0), noise=0.0, seed=()):
    """One image, one step, one forward pass at a time, each step's image made afresh; pixel order by Python sort on
    (-value, index). Deletion removes the first pixels of the order, insertion all but them; RISE's fills (deletion
    0, insertion the blurred copy) unless ``fill`` is given."""
    fill = fill or {"deletion": "constant", "insertion": "blur"}[mode]
    out = []
    for i, (image, saliency, cls) in enumerate(zip(images, maps, classes)):
        flat = saliency.ravel()
        order = sorted(range(flat.size), key=lambda k: (-float(flat[k]), k))
        values = []
        for k in range(-(-flat.size // step) + 1):
            changed = np.zeros(flat.size, bool)
            changed[order[: k * step]] = True
            removed = (changed if mode == "deletion" else ~changed).reshape(saliency.shape)
            current = naive_filled(image, removed, fill, blur=blur, noise=noise,
                                   rng=np.random.default_rng((*seed, i, k, NOISE_STREAM[mode])))
            values.append(float(model.predict_on_batch(current[None].astype(np.float32))[0, cls]))
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


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
@pytest.mark.parametrize("fill", ["constant", "imputation", "blur"])
def test_causal_curves_fills_match_naive_loop(mode, fill):
    """Every fill in both modes, with a blur and a noise other than the defaults: deletion's last step and
    insertion's first remove every pixel (imputed: 0 plus noise)."""
    model = tiny_cnn()
    images = np.random.default_rng(13).normal(size=(2, H, W, 3)).astype(np.float32)
    maps = np.round(np.random.default_rng(14).normal(size=(2, H, W)), 1)
    classes = np.array([2, 0])
    options = dict(blur_kernel=5, blur_sigma=1.5, noise=0.2, seed=(4, 1))
    got = metrics.causal_curves(model, images, maps, mode=mode, step=13, fill=fill, batch_size=5, classes=classes,
                                **options)
    want = naive_curves(model, images, maps, mode, 13, classes, fill=fill, blur=(5, 1.5), noise=0.2, seed=(4, 1))
    assert got.shape == (2, 6)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_deletion_insertion_passes_one_fill_to_both_modes():
    model = tiny_cnn()
    images = np.random.default_rng(15).normal(size=(2, H, W, 3)).astype(np.float32)
    maps = np.random.default_rng(16).random((2, H, W))
    classes = np.array([1, 2])
    for fill in (None, "constant"):
        got = metrics.deletion_insertion(model, images, maps, step=16, fill=fill, classes=classes)
        for mode in metrics.MODES:
            np.testing.assert_allclose(got[f"{mode}_curve"],
                                       naive_curves(model, images, maps, mode, 16, classes, fill=fill), atol=1e-6)


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
    # 9 steps x 5 images = 45 perturbed images -> 3 passes of 16 (the last one padded from 13 to a power of two,
    # so that Keras does not compile another shape), never one pass per image
    assert counting.sizes == [16, 16, 16]


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
        ({"blur_sigma": 0.0, "fill": "blur"}, "blur_sigma"),
        ({"fill": "zero"}, "fill"),
        ({"fill": "imputation", "noise": -0.1}, "noise"),
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


# ------------------------------------------------------------------------------------------------------------ ROAD
def naive_imputation(image, removed, sweeps=4000):
    """Gauss-Seidel sweeps of 'each removed pixel = weighted mean of its neighbours' (1/6 direct, 1/12 diagonal)."""
    out = image.astype(np.float64).copy()
    out[removed] = 0.0
    height, width = removed.shape
    for _ in range(sweeps):
        for row, col in zip(*np.nonzero(removed)):
            total, weights = 0.0, 0.0
            for d_row in (-1, 0, 1):
                for d_col in (-1, 0, 1):
                    r, c = row + d_row, col + d_col
                    if (d_row, d_col) != (0, 0) and 0 <= r < height and 0 <= c < width:
                        w = 1 / 12 if d_row and d_col else 1 / 6
                        total, weights = total + w * out[r, c], weights + w
            out[row, col] = total / weights
    return out


def test_imputation_matches_naive_relaxation():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(6, 7, 2))
    removed = rng.random((6, 7)) < 0.5
    removed[0, 0] = False
    got = metrics.noisy_linear_imputation(image, removed, noise=0.0)
    np.testing.assert_allclose(got, naive_imputation(image, removed), atol=1e-8)
    np.testing.assert_array_equal(got[~removed], image[~removed])


@pytest.mark.parametrize("banded_max_width", [0, 32], ids=["sparse LU", "banded"])
def test_imputations_of_many_images_at_once_match_each_image_alone(monkeypatch, banded_max_width):
    """More images than one banded solve takes (so groups and their boundaries are crossed), non-square, with
    nothing, one pixel and all but one pixel removed: each equals the naive relaxation of that image alone, and its
    noise is what its own generator draws; by either solver."""
    from drise_tf.metrics import faithfulness
    from drise_tf.metrics.faithfulness import _IMPUTATIONS_PER_SOLVE, _impute

    monkeypatch.setattr(faithfulness, "_BANDED_MAX_WIDTH", banded_max_width)
    rng = np.random.default_rng(4)
    count = 2 * _IMPUTATIONS_PER_SOLVE + 3
    images = rng.normal(size=(count, 5, 6, 3))
    removed = rng.random((count, 5, 6)) < rng.uniform(0.1, 0.9, size=(count, 1, 1))
    removed[0] = False
    removed[1] = False
    removed[1, 4, 5] = True
    removed[count - 1] = True
    removed[count - 1, 2, 3] = False
    removed[2] = True  # nothing left to impute from: 0, where the naive relaxation from 0 stays
    got = _impute(images, removed, noise=0.0, rngs=[None] * count)
    for k in range(count):
        np.testing.assert_allclose(got[k], naive_imputation(images[k], removed[k], sweeps=1000), atol=1e-8)
    noisy = _impute(images, removed, noise=0.3, rngs=[np.random.default_rng(k) for k in range(count)])
    np.testing.assert_array_equal(got[2], 0.0)
    for k in (0, 1, 2, count - 1):
        draws = np.random.default_rng(k).standard_normal((int(removed[k].sum()), 3))
        np.testing.assert_allclose(noisy[k][removed[k]], got[k][removed[k]] + 0.3 * draws, atol=1e-12)
        np.testing.assert_array_equal(noisy[k][~removed[k]], images[k][~removed[k]])


def test_imputation_reproduces_a_linear_image_and_adds_seeded_noise():
    rows, cols = np.mgrid[0:9, 0:9]
    image = np.stack([1.0 + 0.3 * rows - 0.2 * cols, 2.0 * cols], axis=-1)
    removed = np.zeros((9, 9), bool)
    removed[2:7, 3:8] = True  # interior: every stencil is whole, and a linear image is its own weighted mean
    np.testing.assert_allclose(metrics.noisy_linear_imputation(image, removed, noise=0.0), image, atol=1e-10)
    noisy = metrics.noisy_linear_imputation(image, removed, noise=0.5, rng=np.random.default_rng(3))
    again = metrics.noisy_linear_imputation(image, removed, noise=0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(noisy, again)
    residual = (noisy - image)[removed]
    assert 0.35 < residual.std() < 0.65 and np.all((noisy - image)[~removed] == 0)
    with pytest.raises(ValueError, match="every pixel"):
        metrics.noisy_linear_imputation(image, np.ones((9, 9), bool))
    with pytest.raises(ValueError, match="rng"):
        metrics.noisy_linear_imputation(image, removed, noise=0.1)


def test_road_perfect_map_wins_reversed_map_loses():
    model = patch_model(scale=0.5)
    images = patch_images(3)
    classes = np.ones(3, dtype=np.int64)
    perfect = np.repeat(perfect_map()[None], 3, axis=0)
    kw = dict(classes=classes, fractions=(0.0625, 0.5), seed=1)
    best = metrics.road(model, images, perfect, **kw)
    worst = metrics.road(model, images, -perfect, **kw)
    noise = metrics.road(model, images, np.random.default_rng(0).random((3, H, W)), **kw)
    assert np.all(best["gap"] > noise["gap"]) and np.all(noise["gap"] > worst["gap"])
    assert np.all(best["gap"] > 0.2) and np.all(worst["gap"] < -0.2)
    np.testing.assert_allclose(best["morf_mean"], best["morf"].mean(axis=1))
    assert best["morf"].shape == (3, 2)


def test_road_probabilities_match_a_naive_loop():
    model = tiny_cnn()
    images = np.random.default_rng(1).normal(size=(2, H, W, 3)).astype(np.float32)
    maps = np.random.default_rng(2).random((2, H, W))
    classes = np.array([0, 2])
    got = metrics.road(model, images, maps, classes=classes, fractions=(0.25,), noise=0.1, seed=5, batch_size=3)
    for i in range(2):
        order = np.argsort(-maps[i].ravel(), kind="stable")
        for o, chosen in enumerate((order[:16], order[::-1][:16])):
            removed = np.zeros(H * W, bool)
            removed[chosen] = True
            imputed = metrics.noisy_linear_imputation(images[i], removed.reshape(H, W), noise=0.1,
                                                      rng=np.random.default_rng((5, i, 0, o)))
            expected = model.predict_on_batch(imputed[None].astype(np.float32))[0, classes[i]]
            assert got[metrics.ROAD_ORDERS[o]][i, 0] == pytest.approx(float(expected), abs=1e-5)


@functools.lru_cache(maxsize=None)
def _cached_imputation(image_bytes: bytes, removed_bytes: bytes) -> np.ndarray:
    image = np.frombuffer(image_bytes, dtype=np.float32).reshape(H, W, 3)
    return naive_imputation(image, np.frombuffer(removed_bytes, dtype=bool).reshape(H, W), sweeps=600)


def naive_road(model, images, maps, classes, fractions, *, noise, seed, pixel_std=None, counts="round",
               readout="probability"):
    """ROAD one image, order and fraction at a time: pixel counts from exact decimal fractions (the reference's LeRF
    at p = 1 - f keeps the int(p * H * W) most relevant pixels), Gauss-Seidel imputation, noise added pixel by pixel
    and channel by channel, one forward pass per imputed image."""
    pixels = H * W
    std = np.ones(3) if pixel_std is None else np.asarray(pixel_std, dtype=np.float64)
    out = {"morf": np.zeros((len(images), len(fractions))), "lerf": np.zeros((len(images), len(fractions)))}
    for i, (image, saliency, cls) in enumerate(zip(images, maps, classes)):
        flat = saliency.ravel()
        most_first = sorted(range(pixels), key=lambda k: (-float(flat[k]), k))
        for o, (name, order) in enumerate((("morf", most_first), ("lerf", most_first[::-1]))):
            for j, fraction in enumerate(fractions):
                exact = Fraction(str(fraction)) * pixels
                if counts == "round":
                    count = round(exact)
                elif name == "morf":
                    count = math.floor(exact)
                else:
                    count = pixels - math.floor(pixels - exact)
                removed = np.zeros(pixels, bool)
                removed[order[:count]] = True
                removed = removed.reshape(H, W)
                imputed = _cached_imputation(image.astype(np.float32).tobytes(), removed.tobytes()).copy()
                draws = np.random.default_rng((seed, i, j, o)).standard_normal((int(removed.sum()), 3))
                for k, (row, col) in enumerate(zip(*np.nonzero(removed))):
                    for channel in range(3):
                        imputed[row, col, channel] += noise / std[channel] * draws[k, channel]
                probs = model.predict_on_batch(imputed[None].astype(np.float32))[0]
                out[name][i, j] = float(probs.argmax() == cls) if readout == "accuracy" else probs[cls]
    return out


@pytest.mark.parametrize("options", [
    dict(pixel_std=(0.25, 0.5, 0.125)), dict(counts="floor"), dict(readout="accuracy"),
    dict(metrics.ROAD_REFERENCE, pixel_std=(0.25, 0.5, 0.125)),
], ids=["pixel noise", "floor", "accuracy", "reference"])
def test_road_reference_options_match_a_naive_loop(options):
    model = tiny_cnn()
    images = np.random.default_rng(11).normal(size=(2, H, W, 3)).astype(np.float32)
    maps = np.round(np.random.default_rng(12).random((2, H, W)), 1)  # ties, broken in row-major order
    classes = np.array([1, 2])
    options = {"noise": 0.2, **options}
    fractions = (0.1, 0.25, 0.9)  # 6.4, 16 and 57.6 of 64 pixels: round and floor differ, and MoRF's from LeRF's
    got = metrics.road(model, images, maps, classes=classes, fractions=fractions, seed=3, batch_size=5, **options)
    want = naive_road(model, images, maps, classes, fractions, seed=3, **options)
    for name in metrics.ROAD_ORDERS:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5)
    if options.get("readout") == "accuracy":
        assert set(np.unique(got["morf"])) | set(np.unique(got["lerf"])) == {0.0, 1.0}


def test_road_floor_counts_are_the_references_and_round_is_unchanged():
    maps = np.random.default_rng(13).random((2, 10, 10))
    fractions = (0.1, 0.29, 0.3, 0.7, 0.9)  # 0.29 * 100 and (1 - 0.9) * 100 fall just below an integer in floats
    removed = {counts: faithfulness._road_removed(maps, np.array(fractions), counts).sum(axis=-1)
               for counts in metrics.ROAD_COUNTS}
    exact = [Fraction(str(f)) * 100 for f in fractions]
    assert removed["floor"][:, 0].tolist() == [[math.floor(e) for e in exact]] * 2
    assert removed["floor"][:, 1].tolist() == [[100 - math.floor(100 - e) for e in exact]] * 2
    assert removed["round"][:, 0].tolist() == removed["round"][:, 1].tolist() == [[10, 29, 30, 70, 90]] * 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(fractions=(0.0,)), "fractions"), (dict(fractions=(1.0,)), "fractions"), (dict(noise=-1.0), "noise"),
    (dict(classes=np.array([0])), "classes"), (dict(counts="ceil"), "counts"), (dict(readout="logit"), "readout"),
    (dict(pixel_std=(0.2, 0.2)), "pixel_std"), (dict(pixel_std=(0.2, 0.0, 0.2)), "pixel_std"),
])
def test_road_bad_arguments(kwargs, match):
    options = dict(classes=np.array([0, 1]))
    options.update(kwargs)
    with pytest.raises(ValueError, match=match):
        metrics.road(patch_model(), patch_images(2), np.zeros((2, H, W)), **options)


# ------------------------------------------------------------------------------------------------------ MuFidelity
def linear_model(weights):
    """Output column 1 = sum(weights * x) exactly (no softmax): MuFidelity's known answer."""
    inputs = keras.Input((H, W, 3), name="image")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    outputs = keras.layers.Dense(2, name="head")(flat)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((H * W * 3, 2), np.float32)
    kernel[:, 1] = weights.ravel()
    model.get_layer("head").set_weights([kernel, np.zeros(2, np.float32)])
    return model


def test_mu_fidelity_known_answers_on_a_linear_model():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(H, W, 3)).astype(np.float32)
    images = rng.normal(size=(3, H, W, 3)).astype(np.float32)
    model = linear_model(weights)
    exact = (weights[None] * images).sum(axis=-1)  # the drop of output 1 when a subset goes to 0 is its sum
    got = metrics.mu_fidelity(model, images, {"exact": exact, "reversed": -exact, "flat": np.zeros((3, H, W))},
                              classes=np.ones(3, np.int64), grid_size=4, n_perturbations=32, seed=1, batch_size=7)
    np.testing.assert_allclose(got["exact"], 1.0, atol=1e-5)
    np.testing.assert_allclose(got["reversed"], -1.0, atol=1e-5)
    np.testing.assert_array_equal(got["flat"], 0.0)


@pytest.mark.parametrize("fill, baseline", [("constant", 0.0), ("constant", -0.7), ("imputation", 0.0),
                                            ("blur", 0.0)])
def test_mu_fidelity_matches_a_naive_loop(fill, baseline):
    model = tiny_cnn()
    rng = np.random.default_rng(4)
    images = rng.normal(size=(2, H, W, 3)).astype(np.float32)
    maps = rng.random((2, H, W))
    classes = np.array([1, 2])
    seed = (9, 2)
    got = metrics.mu_fidelity(model, images, {"m": maps}, classes=classes, grid_size=4, subset_fraction=0.25,
                              n_perturbations=10, baseline=baseline, fill=fill, noise=0.2, seed=seed,
                              batch_size=7)["m"]
    draws = np.random.default_rng(seed).random((2, 10, 16))
    for i in range(2):
        sums, drops = [], []
        base = model.predict_on_batch(images[i : i + 1])[0, classes[i]]
        for k in range(10):
            cells = np.argsort(draws[i, k])[:4]
            mask = np.isin((np.arange(H)[:, None] // 2) * 4 + np.arange(W)[None, :] // 2, cells)
            perturbed = naive_filled(images[i], mask, fill, constant=baseline, noise=0.2,
                                     rng=np.random.default_rng((*seed, i, k, NOISE_STREAM["mu_fidelity"])))
            drops.append(base - model.predict_on_batch(perturbed[None].astype(np.float32))[0, classes[i]])
            sums.append(maps[i][mask].sum())
        assert got[i] == pytest.approx(np.corrcoef(sums, drops)[0, 1], abs=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(fill="zero"), "fill"), (dict(fill="imputation", noise=-1.0), "noise"),
    (dict(fill="blur", baseline=0.5), "baseline"),
])
def test_mu_fidelity_bad_fills(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.mu_fidelity(patch_model(), patch_images(2), {"m": np.zeros((2, H, W))}, classes=np.array([0, 1]),
                            **kwargs)
