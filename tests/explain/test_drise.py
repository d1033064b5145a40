"""DRise: thesis-loop equivalence, naive-loop agreement, hand-built patch model, normalisations, seeds,
several images per call, tf.distribute, bfloat16, progress and argument errors."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from toy_models import mask_design, patch_model

from drise_tf.core.compat import keras
from drise_tf.explain import DRise, Explainer, similarity
from drise_tf.explain.masks import generate_masks

#: The engine tests run the thesis's masks and score unless they name others (they predate the recommended default,
#: which test_the_default_is_the_recommended_design pins).
THESIS_ENGINE = dict(sampling="iid", upsample="nearest", similarity="cosine", aggregation="none")
BUILTIN_SCORES = ["cosine", "cross_entropy", "neg_cross_entropy", "probability", "cosine_prediction", "kl", "js",
                  "margin"]


def drise(model, **options) -> DRise:
    """A DRise on :data:`THESIS_ENGINE` and ``options`` over it."""
    return DRise(model, **{**THESIS_ENGINE, **options})


def tiny_model(seed: int = 0, size=(32, 32), channels: int = 3, classes: int = 10):
    tf.random.set_seed(seed)  # weights only; DRise itself takes explicit seeds
    inputs = keras.Input(size + (channels,), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(size=(3, 32, 32, 3)).astype(np.float32)


def naive_scores(model, images, masks, targets, score_name):
    """Per image: all N masked images through the model, scored against the target (independent numpy path)."""
    out = []
    for image, target in zip(images, targets):
        probs = model.predict(image[None] * masks[..., None], verbose=0, batch_size=64).astype(np.float64)
        out.append(np.asarray(similarity.get(score_name)(probs, target)))
    return np.stack(out)


def test_thesis_preset_equals_thesis_loop(model, images):
    labels = np.array([3, 5, 0])
    explainer = DRise.thesis(model, n_masks=24, seed=0, batch_size=7)
    assert (explainer.n_masks, explainer.grid_size, explainer.p, explainer.upsample, explainer.score.name,
            explainer.aggregation) == (24, (16, 16), 0.5, "nearest", "cosine", "none")
    maps = explainer.explain(images, labels)
    masks = explainer.masks
    expected = np.zeros((3, 32, 32))
    for b, (image, label) in enumerate(zip(images, labels)):  # the thesis's loop, one mask at a time
        for mask in masks:
            probs = model.predict((image * mask[..., None])[None], verbose=0)[0].astype(np.float64)
            cosine = probs[label] / np.linalg.norm(probs)  # cosine to the one-hot TRUE label
            expected[b] += cosine * mask
    assert maps.dtype == np.float32 and maps.shape == (3, 32, 32)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-5)
    assert DRise.thesis(model).n_masks == 5000 and DRise.thesis(model).batch_size == 100


@pytest.mark.parametrize("score_name", BUILTIN_SCORES)
def test_agrees_with_naive_loop_for_every_score(model, images, score_name):
    explainer = drise(model, n_masks=19, grid_size=8, p=0.4, similarity=score_name, seed=3, batch_size=10)
    maps, scores = explainer.explain(images, np.array([1, 2, 3]), return_scores=True)
    masks = explainer.masks
    if similarity.get(score_name).target_kind == "reference":
        targets = model.predict(images, verbose=0)
    else:
        targets = np.eye(10)[[1, 2, 3]]
    expected_scores = naive_scores(model, images, masks, targets, score_name)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(maps, np.einsum("bn,nhw->bhw", expected_scores, masks), rtol=1e-4, atol=1e-4)


def test_normalisations_scale_and_linearity(model, images):
    kwargs = dict(n_masks=30, p=0.3, seed=5, batch_size=8, upsample="bilinear", grid_size=7)
    raw, scores = drise(model, aggregation="none", **kwargs).explain(images, [0, 1, 2], return_scores=True)
    masks = drise(model, **kwargs).masks
    np.testing.assert_allclose(drise(model, aggregation="np", **kwargs).explain(images, [0, 1, 2]) * 30 * 0.3,
                               raw, rtol=1e-5)
    coverage = masks.sum(axis=0)
    np.testing.assert_allclose(drise(model, aggregation="coverage", **kwargs).explain(images, [0, 1, 2]),
                               raw / coverage, rtol=1e-4)
    debiased = raw - scores.mean(axis=1)[:, None, None] * coverage
    np.testing.assert_allclose(drise(model, aggregation="debiased", **kwargs).explain(images, [0, 1, 2]),
                               debiased, rtol=1e-4, atol=1e-4)
    # linearity in the weights: a score scaled by 3 gives a map scaled by 3
    name = "test_three_times_probability"
    if name not in similarity.available():
        similarity.register(name, description="3 p_t", higher_is_kept=True)(lambda p, t: 3.0 * tf.reduce_sum(p * t, -1))
    tripled = drise(model, similarity=name, **kwargs).explain(images, [0, 1, 2])
    single = drise(model, similarity="probability", **kwargs).explain(images, [0, 1, 2])
    np.testing.assert_allclose(tripled, 3 * single, rtol=1e-5)


def test_rise_preset(model, images):
    explainer = DRise.rise(model, n_masks=12, seed=0)
    assert (explainer.upsample, explainer.score.name, explainer.aggregation) == ("bilinear", "probability", "np")
    maps = explainer.explain(images[:1], [4])
    probs = model.predict(images[0][None] * explainer.masks[..., None], verbose=0)[:, 4]
    np.testing.assert_allclose(maps[0], np.einsum("n,nhw->hw", probs, explainer.masks) / (12 * 0.5), rtol=1e-4)


def test_seed_reproducibility(model, images):
    a = drise(model, n_masks=10, seed=9).explain(images[0], [1])
    np.testing.assert_array_equal(a, drise(model, n_masks=10, seed=9).explain(images[0], [1]))
    assert not np.allclose(a, drise(model, n_masks=10, seed=10).explain(images[0], [1]))
    explainer = drise(model, n_masks=10, seed=9)
    masks = explainer.masks
    # the masks are the mask module's with the same seed (iid: the first draw equals generate_masks), a second
    # explainer with the same seed draws the same ones, another seed other ones
    reference = generate_masks(10, explainer.grid_size, explainer.p, (32, 32), upsample=explainer.upsample,
                               shift=explainer.shift, seed=9)
    assert masks.shape == (10, 32, 32) and set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks, reference)
    np.testing.assert_array_equal(masks, drise(model, n_masks=10, seed=9).masks)
    assert not np.array_equal(masks, drise(model, n_masks=10, seed=10).masks)
    np.testing.assert_array_equal(explainer.explain(images[0], [1]), explainer.explain(images[0], [1]))
    np.testing.assert_array_equal(explainer.masks, masks)  # made once per instance: explaining draws no new masks


def test_several_images_share_masks_and_match_one_by_one(model, images):
    explainer = drise(model, n_masks=17, seed=2, batch_size=5)  # 3 images -> 1 mask per step, odd sizes
    together = explainer.explain(images, [1, 2, 3])
    alone = np.concatenate([explainer.explain(images[i], [t]) for i, t in enumerate([1, 2, 3])])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)
    big = drise(model, n_masks=17, seed=2, batch_size=2)  # more images than batch_size: images are grouped
    np.testing.assert_allclose(big.explain(images, [1, 2, 3]), together, rtol=1e-5, atol=1e-5)


def test_targets_forms_and_predicted(model, images):
    explainer = drise(model, n_masks=8, seed=0)
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    by_index = explainer.explain(images, predicted)
    np.testing.assert_allclose(explainer.explain(images, np.eye(10)[predicted]), by_index, rtol=1e-6)
    np.testing.assert_allclose(explainer.explain(images), by_index, rtol=1e-6)
    other = (predicted + 1) % 10
    np.testing.assert_allclose(explainer.explain(images, "predicted"), by_index, rtol=1e-6)
    assert not np.allclose(explainer.explain(images, other), by_index)
    assert isinstance(explainer, Explainer)
    one, scores = explainer.explain(images[0], predicted[:1], return_scores=True)  # one image (H, W, C)
    np.testing.assert_allclose(one, by_index[:1], rtol=1e-6)
    assert scores.shape == (1, 8)
    with pytest.raises(ValueError, match="unknown options \\['return_stuff'\\]"):
        explainer.explain(images, return_stuff=True)
    with pytest.raises(ValueError, match="targets must be class indices, target vectors"):
        explainer.explain(images, "true")
    with pytest.raises(ValueError, match="target vectors must have shape \\(3, 10\\)"):
        explainer.explain(images, np.ones((3, 9)))


@pytest.mark.parametrize("score_name", BUILTIN_SCORES)
def test_hand_built_patch_model(score_name):
    """The map's maximum lies in the only patch the model looks at, and the map is flat outside it.

    Checked on the debiased map: the raw sum (thesis) also carries each pixel's mask count times the mean score, a
    pattern that is pure mask noise; ``debiased`` removes exactly that term (see the normalisation test). On the raw
    map the patch is still above the rest on average.
    """
    model = patch_model()
    image = np.random.default_rng(0).normal(size=(32, 32, 3)).astype(np.float32)
    image[8:16, 20:28, 0] = 1.0
    inside = np.zeros((32, 32), bool)
    inside[8:16, 20:28] = True
    sign = 1.0 if similarity.get(score_name).higher_is_kept else -1.0  # cross_entropy: high when the class is lost
    explainer = drise(model, n_masks=1000, similarity=score_name, seed=1, batch_size=250, aggregation="debiased")
    maps, scores = explainer.explain(image, [3], return_scores=True)
    maps = sign * maps[0]
    assert inside[np.unravel_index(np.argmax(maps), maps.shape)]
    outside = maps[~inside]
    contrast = maps[inside].mean() - outside.mean()
    assert contrast > 0
    assert outside.std() < 0.25 * contrast, (outside.std(), contrast)
    raw = sign * np.einsum("n,nhw->hw", scores[0], explainer.masks)
    assert raw[inside].mean() > raw[~inside].mean()


@pytest.mark.distributed
def test_distributed_equals_single_device(model, images):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    kwargs = dict(n_masks=13, seed=4, batch_size=4)  # last mask batch has 1 mask: one replica gets none
    single, single_scores = drise(model, **kwargs).explain(images[:1], [2], return_scores=True)
    spread, spread_scores = drise(model, strategy=strategy, **kwargs).explain(images[:1], [2], return_scores=True)
    np.testing.assert_allclose(spread, single, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(spread_scores, single_scores, rtol=1e-5, atol=1e-6)
    with strategy.scope():  # an active strategy is picked up
        assert drise(model, **kwargs).strategy is strategy
    one_mask = drise(model, strategy=strategy, n_masks=1, seed=4).explain(images[:1], [2], return_scores=True)
    for got, want in zip(one_mask, drise(model, n_masks=1, seed=4).explain(images[:1], [2], return_scores=True)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # fewer masks than replicas
    multi = drise(model, strategy=strategy, n_masks=11, seed=4, batch_size=6).explain(images, [1, 2, 3])
    np.testing.assert_allclose(multi, drise(model, n_masks=11, seed=4, batch_size=6).explain(images, [1, 2, 3]),
                               rtol=1e-5, atol=1e-5)


def test_explain_scores_equals_one_explain_per_score_and_normalisation(model, images):
    kwargs = dict(n_masks=17, grid_size=4, seed=3, batch_size=5)
    many = drise(model, **kwargs).explain_scores(images, [1, 2, 3])
    assert sorted(many) == sorted(f"{s}/{n}" for s in similarity.available() for n in ("none", "np", "coverage",
                                                                                           "debiased"))
    for key, maps in many.items():
        name, aggregation = key.split("/")
        single = drise(model, similarity=name, aggregation=aggregation, **kwargs).explain(images, [1, 2, 3])
        np.testing.assert_allclose(maps, single, rtol=1e-5, atol=1e-5, err_msg=key)
    chosen = drise(model, **kwargs).explain_scores(images, [1, 2, 3], similarities=["margin", "kl"],
                                                   aggregations=["np"])
    assert sorted(chosen) == ["kl/np", "margin/np"]
    with pytest.raises(ValueError, match="unknown similarity score 'nope'"):
        drise(model, **kwargs).explain_scores(images, [1, 2, 3], similarities=["nope"])
    with pytest.raises(ValueError, match="aggregations"):
        drise(model, **kwargs).explain_scores(images, [1, 2, 3], aggregations=["unit"])
    with pytest.raises(ValueError, match="at least one score"):
        drise(model, **kwargs).explain_scores(images, [1, 2, 3], similarities=[])


@pytest.mark.distributed
def test_explain_scores_under_a_strategy(model, images):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    kwargs = dict(n_masks=9, grid_size=4, seed=2, batch_size=4)
    names = ["cosine", "cosine_prediction"]
    spread = drise(model, strategy=strategy, **kwargs).explain_scores(images, [0, 1, 2], similarities=names)
    single = drise(model, **kwargs).explain_scores(images, [0, 1, 2], similarities=names)
    for key in single:
        np.testing.assert_allclose(spread[key], single[key], rtol=1e-5, atol=1e-5, err_msg=key)


def quadrant_data(count: int, rng: np.random.Generator):
    """4 classes: which quadrant holds a bright square."""
    labels = rng.integers(0, 4, size=count)
    images = rng.normal(scale=0.3, size=(count, 32, 32, 3)).astype(np.float32)
    for image, label in zip(images, labels):
        y, x = 16 * (label // 2) + 4, 16 * (label % 2) + 4
        image[y : y + 8, x : x + 8] += 2.0
    return images, labels


def test_bfloat16_matches_float32_on_trained_model():
    rng = np.random.default_rng(0)
    tf.random.set_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(4, name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="probs")(x))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    train_x, train_y = quadrant_data(1024, rng)
    history = model.fit(train_x, train_y, epochs=8, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    test_x, test_y = quadrant_data(3, rng)
    kwargs = dict(n_masks=300, seed=0, batch_size=100, aggregation="debiased")
    full = drise(model, **kwargs).explain(test_x, test_y)
    half_explainer = drise(model, precision="bfloat16", **kwargs)
    half = half_explainer.explain(test_x, test_y)
    for a, b in zip(full, half):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99
    assert half_explainer._forward_model.get_layer("c1").compute_dtype == "bfloat16"
    assert model.get_layer("c1").compute_dtype == "float32"  # the user's model is untouched
    assert keras.mixed_precision.global_policy().name == "float32"


def test_progress_bar(model, images, capsys):
    drise(model, n_masks=6, batch_size=3, seed=0, progress=True).explain(images[0], [0])
    assert "2/2" in capsys.readouterr().out
    drise(model, n_masks=8, replicas=4, batch_size=8, seed=0, progress=True, target_stability=0.99,
          max_masks=24).explain(images[0], [0])
    out = capsys.readouterr().out
    assert "3/3" in out and "median stability" in out and "running" in out


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_masks=0), "n_masks"),
        (dict(p=0.0), "p"),
        (dict(p=1.01), "p"),
        (dict(grid_size=33), "grid_size"),
        (dict(similarity="nope"), "unknown similarity score 'nope'; known: .*cosine"),
        (dict(normalize="l2"), "normalize"),
        (dict(aggregation="l2"), "aggregation"),
        (dict(precision="float16"), "precision"),
        (dict(upsample="cubic"), "upsample"),
        (dict(batch_size=0), "batch_size"),
        (dict(strategy="mirrored"), "strategy"),
        (dict(sampling="halton"), "sampling must be one of"),
        (dict(sampling="antithetic", n_masks=15), "n_masks must be even for antithetic"),
        (dict(replicas=0), "replicas"),
        (dict(target_stability=1.0), r"target_stability must be None, \"auto\" or lie in \(0, 1\)"),
        (dict(target_stability=0.9, n_masks=1), "target_stability needs >= 2 mask replicas"),
        (dict(target_stability=0.9, n_masks=100, max_masks=50), r"max_masks \(50\) must be >= n_masks \(100\)"),
    ],
)
def test_bad_constructor_arguments(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        drise(model, **kwargs)


def test_bad_model():
    with pytest.raises(ValueError, match="keras.Model"):
        DRise(lambda x: x)


@pytest.mark.parametrize(
    "images, targets, match",
    [
        (np.full((1, 32, 32, 3), np.nan, np.float32), [0], "NaN"),
        (np.zeros((32, 32), np.float32), [0], "shape"),
        (np.zeros((1, 1, 32, 32, 3), np.float32), [0], "shape"),
        (np.zeros((1, 32, 32, 1), np.float32), [0], r"the model expects \(B, 32, 32, 3\)"),
        (np.zeros((1, 16, 16, 3), np.float32), [0], r"the model expects \(B, 32, 32, 3\)"),
        (np.zeros((1, 32, 32, 3), np.float32), [10], r"class indices in \[0, 10\)"),
        (np.zeros((1, 32, 32, 3), np.float32), [-1], r"class indices"),
        (np.zeros((1, 32, 32, 3), np.float32), [0.5], "integer class indices"),
        (np.zeros((1, 32, 32, 3), np.float32), [0, 1], r"targets must have shape \(1,\)"),
        (np.zeros((1, 32, 32, 3), np.float32), np.zeros((1, 9)), r"target vectors must have shape \(1, 10\)"),
        (np.zeros((1, 32, 32, 3), np.float32), np.full((1, 10), np.nan), "target vectors must be finite"),
        (np.zeros((0, 32, 32, 3), np.float32), None, "B >= 1"),
    ],
)
def test_bad_explain_arguments(model, images, targets, match):
    with pytest.raises(ValueError, match=match):
        drise(model, n_masks=2, seed=0).explain(images, targets)


def test_any_size_model_and_grid_check():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    flexible = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))
    explainer = DRise(flexible, n_masks=4, grid_size=(4, 6), seed=0)
    with pytest.raises(ValueError, match="call explain"):
        explainer.masks
    maps = explainer.explain(np.ones((2, 20, 30, 3), np.float32), [0, 1])
    assert maps.shape == (2, 20, 30) and explainer.masks.shape == (4, 20, 30)
    with pytest.raises(ValueError, match="masks are"):
        explainer.explain(np.ones((1, 24, 24, 3), np.float32), [0])
    with pytest.raises(ValueError, match="grid_size"):
        DRise(flexible, n_masks=4, grid_size=40).explain(np.ones((1, 20, 30, 3), np.float32), [0])


# ------------------------------------------------------------------------------------ designs, stability, stopping
@pytest.mark.parametrize("sampling", ["antithetic", "sobol", "latin", "antithetic_sobol"])
def test_every_design_agrees_with_naive_loop_over_its_masks(model, images, sampling):
    explainer = drise(model, n_masks=16, grid_size=8, p=0.5, sampling=sampling, similarity="probability",
                      aggregation="debiased", seed=3, batch_size=10)
    maps, scores = explainer.explain(images, np.array([1, 2, 3]), return_scores=True)
    masks = explainer.masks
    expected = naive_scores(model, images, masks, np.eye(10)[[1, 2, 3]], "probability")
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    debiased = np.einsum("bn,nhw->bhw", expected - expected.mean(axis=1, keepdims=True), masks)
    np.testing.assert_allclose(maps, debiased, rtol=1e-4, atol=1e-4)


def test_stability_and_standard_error_from_the_replicas(model, images):
    explainer = drise(model, n_masks=64, grid_size=8, seed=1, replicas=4, batch_size=32)
    maps, stability = explainer.explain(images, [1, 2, 3], return_stability=True)
    assert stability.shape == (3,) and np.all((stability >= 0) & (stability <= 1))
    np.testing.assert_array_equal(explainer.masks_used, [64, 64, 64])
    # standard error: the spread of the 4 replica maps (16 masks each, raw sums per 64 masks) over sqrt(4)
    masks, scores = explainer.masks, explainer.explain(images, [1, 2, 3], return_scores=True)[1]
    replica_maps = np.stack([np.einsum("bn,nhw->bhw", scores[:, r * 16 : (r + 1) * 16], masks[r * 16 : (r + 1) * 16])
                             * 4 for r in range(4)], axis=1)
    np.testing.assert_allclose(replica_maps.mean(axis=1), maps, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(explainer.replica_maps, replica_maps, rtol=1e-4, atol=1e-4)
    assert explainer.replica_maps.dtype == np.float32 and explainer.replica_maps.shape == (3, 4, 32, 32)
    np.testing.assert_allclose(explainer.standard_error, replica_maps.std(axis=1, ddof=1) / 2, rtol=1e-3, atol=1e-5)
    normalized = drise(model, n_masks=64, grid_size=8, seed=1, replicas=4, normalize="minmax")
    normalized.explain(images, [1, 2, 3])
    low = maps.min(axis=(1, 2))[:, None, None]
    span = maps.max(axis=(1, 2))[:, None, None] - low
    np.testing.assert_allclose(normalized.standard_error, explainer.standard_error / span, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(normalized.replica_maps, (replica_maps - low[:, None]) / span[:, None], atol=1e-5)
    few = drise(model, n_masks=1, seed=1)  # fewer masks than replicas: one replica, no error estimate
    few_maps = few.explain(images[:1], [1])
    assert few.replicas == 1 and np.isnan(few.standard_error).all()
    np.testing.assert_allclose(few.replica_maps[:, 0], few_maps, rtol=1e-6)
    with pytest.raises(ValueError, match=">= 2 mask replicas"):
        few.explain(images[:1], [1], return_stability=True)


def test_explain_scores_returns_scores_and_stabilities(model, images):
    explainer = drise(model, n_masks=32, grid_size=8, seed=2, sampling="antithetic", batch_size=16)
    maps, scores, stability = explainer.explain_scores(images, [0, 1, 2], similarities=["cosine", "margin"],
                                                       aggregations=["none", "np", "debiased"],
                                                       return_scores=True, return_stability=True)
    assert sorted(scores) == ["cosine", "margin"] and scores["cosine"].shape == (3, 32)
    assert sorted(stability) == sorted(maps) and all(v.shape == (3,) for v in stability.values())
    np.testing.assert_allclose(stability["cosine/none"], stability["cosine/np"])  # same pixel order
    single, single_stability = drise(model, n_masks=32, grid_size=8, seed=2, sampling="antithetic", batch_size=16,
                                     similarity="margin", aggregation="debiased").explain(
        images, [0, 1, 2], return_stability=True)
    np.testing.assert_allclose(stability["margin/debiased"], single_stability, atol=1e-6)
    np.testing.assert_allclose(maps["margin/debiased"], single, rtol=1e-5, atol=1e-5)
    assert sorted(explainer.standard_error) == sorted(explainer.replica_maps) == sorted(maps)
    np.testing.assert_allclose(explainer.replica_maps["margin/debiased"].mean(axis=1), maps["margin/debiased"],
                               rtol=1e-4, atol=1e-4)


def test_replica_maps_come_from_the_forward_passes_of_the_maps(model, images, monkeypatch):
    """One compiled step per batch of masks, as without replica maps: they cost no forward pass."""
    explainer = drise(model, n_masks=40, grid_size=8, seed=1, replicas=4, batch_size=10)
    steps = []
    real_step = explainer._step

    def counting_step(*args):
        step = real_step(*args)
        return lambda *inputs: steps.append(1) or step(*inputs)

    monkeypatch.setattr(explainer, "_step", counting_step)
    explainer.explain(images[:1], [1], return_stability=True)
    assert len(steps) == 4 and explainer.replica_maps.shape == (1, 4, 32, 32)


def test_adaptive_stopping(model, images):
    settings = dict(n_masks=32, grid_size=8, seed=5, replicas=4, target_stability=0.6, max_masks=320,
                    similarity="probability", aggregation="debiased", batch_size=64)
    explainer = drise(model, **settings)
    maps, stability, = explainer.explain(images, [1, 2, 3], return_stability=True)
    used = explainer.masks_used
    assert np.all(used % 32 == 0) and np.all((used >= 32) & (used <= 320))
    assert np.all((stability >= 0.6) | (used == 320))  # stopped at the target, or at max_masks
    # an image's map and stopping point do not depend on the other images of the call
    for b in range(3):
        alone = drise(model, **settings)
        np.testing.assert_allclose(alone.explain(images[b : b + 1], [b + 1])[0], maps[b], rtol=1e-5, atol=1e-5)
        assert alone.masks_used[0] == used[b]
    # the map is the debiased sum over the image's first masks_used masks, on the scale of n_masks masks
    masks, scores = explainer.masks, explainer.explain(images, [1, 2, 3], return_scores=True)[1]
    for b in range(3):
        n = used[b]
        assert np.all(np.isnan(scores[b, n:])) and not np.any(np.isnan(scores[b, :n]))
        weights = scores[b, :n] - scores[b, :n].mean()
        np.testing.assert_allclose(maps[b], np.einsum("n,nhw->hw", weights, masks[:n]) * 32 / n, rtol=1e-4, atol=1e-5)


def test_adaptive_raw_sums_share_one_scale(model, images):
    """A raw-sum map from 2 rounds is reported per n_masks masks: about the size of a one-round map."""
    fixed = drise(model, n_masks=32, grid_size=8, seed=5, replicas=4).explain(images[:1], [1])
    longer = drise(model, n_masks=32, grid_size=8, seed=5, replicas=4, target_stability=0.999, max_masks=64)
    maps = longer.explain(images[:1], [1])
    assert longer.masks_used[0] == 64
    assert 0.8 < maps.mean() / fixed.mean() < 1.25


@pytest.mark.distributed
def test_adaptive_stopping_under_a_strategy(model, images):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    settings = dict(n_masks=24, grid_size=8, seed=6, replicas=4, target_stability=0.5, max_masks=120, batch_size=7)
    single = drise(model, **settings)
    spread = drise(model, strategy=strategy, **settings)
    want, want_stability = single.explain(images, [1, 2, 3], return_stability=True)
    got, got_stability = spread.explain(images, [1, 2, 3], return_stability=True)
    np.testing.assert_array_equal(spread.masks_used, single.masks_used)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_stability, want_stability, atol=1e-5)


def test_the_default_is_the_recommended_design_run_to_a_stable_map(model, images):
    import inspect

    from drise_tf.explain.drise import (
        RECOMMENDED_MAX_MASKS,
        RECOMMENDED_PRESET,
        RECOMMENDED_ROUND,
        RECOMMENDED_STABILITY,
        RISE_PRESET,
        THESIS_PRESET,
    )

    defaults = {name: value.default for name, value in inspect.signature(DRise.__init__).parameters.items()}
    assert {key: defaults[key] for key in RECOMMENDED_PRESET} == RECOMMENDED_PRESET  # what the calltip shows
    assert (defaults["n_masks"], defaults["target_stability"], defaults["max_masks"]) == (None, "auto", None)
    default = DRise(model)
    assert (default.n_masks, default.target_stability, default.max_masks) == (
        RECOMMENDED_ROUND, RECOMMENDED_STABILITY, RECOMMENDED_MAX_MASKS)
    assert mask_design(default) == mask_design(DRise.recommended(model))
    # n_masks alone: exactly that many masks, as before
    exact = DRise(model, n_masks=40, seed=0)
    exact.explain(images[:2], [1, 2])
    assert exact.target_stability is None and exact.masks_used.tolist() == [40, 40]
    # a target with a round size: whole rounds, the former default cap of 20 rounds
    assert DRise(model, n_masks=40, target_stability=0.9).max_masks == 800
    # the presets stay what they were
    thesis, rise = DRise.thesis(model), DRise.rise(model)
    assert (thesis.n_masks, thesis.sampling, thesis.target_stability) == (5000, "iid", None)
    assert mask_design(thesis) == ((16, 16), "nearest", 0.5, None, "cosine", "none") == tuple(
        THESIS_PRESET[key] if key != "grid_size" else (16, 16) for key in
        ("grid_size", "upsample", "p", "shift", "similarity", "aggregation"))
    assert (rise.n_masks, rise.sampling, rise.target_stability) == (RISE_PRESET["n_masks"], "iid", None)
    assert mask_design(rise) == ((7, 7), "bilinear", 0.5, None, "probability", "np")
