"""Tests of drise_tf.data.pipelines: crop-and-flip against a reference, seeded epochs, the thesis epoch,
evaluation batches."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import data
from drise_tf.data import pipelines


# ------------------------------------------------------------------------------------------- augmentation
def _std_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 32, 32, 3)).astype(np.float32)


def _reference_crops(image: np.ndarray, pad: int = pipelines.PAD) -> dict:
    """Every (dy, dx, flip) crop of the zero-padded image, computed with plain numpy."""
    height, width = image.shape[:2]
    padded = np.zeros((height + 2 * pad, width + 2 * pad, image.shape[2]), image.dtype)
    padded[pad:pad + height, pad:pad + width] = image
    crops = {}
    for dy, dx, flip in itertools.product(range(2 * pad + 1), range(2 * pad + 1), (False, True)):
        crop = padded[dy:dy + height, dx:dx + width]
        crops[(dy, dx, flip)] = crop[:, ::-1] if flip else crop
    return crops


def _which_crop(output: np.ndarray, original: np.ndarray) -> tuple:
    matches = [key for key, crop in _reference_crops(original).items() if np.array_equal(crop, output)]
    assert len(matches) == 1, f"output is not exactly one zero-padded crop/flip of the original: {matches}"
    return matches[0]


def test_random_crop_flip_is_a_real_shifted_crop():
    x = _std_images(64, seed=1)
    out = pipelines.random_crop_flip(x, tf.constant([3, 4], tf.int64)).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    found = [_which_crop(o, i) for o, i in zip(out, x)]
    assert len({(dy, dx) for dy, dx, _ in found}) > 20  # offsets vary over 0..8
    assert {dy for dy, _, _ in found} | {dx for _, dx, _ in found} == set(range(9))
    assert 10 < sum(flip for _, _, flip in found) < 54
    again = pipelines.random_crop_flip(x, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)  # stateless: same seed, same crops
    assert not np.array_equal(out, pipelines.random_crop_flip(x, tf.constant([3, 5], tf.int64)).numpy())


def test_random_crop_flip_apply_mask_keeps_originals():
    x = _std_images(16, seed=2)
    apply = np.arange(16) % 2 == 0
    out = pipelines.random_crop_flip(x, tf.constant([1, 1], tf.int64), apply=tf.constant(apply)).numpy()
    np.testing.assert_array_equal(out[~apply], x[~apply])
    assert sum(_which_crop(o, i) != (4, 4, False) for o, i in zip(out[apply], x[apply])) >= 6


# ---------------------------------------------------------------------------------------------- pipelines
def _tagged(n: int = 10, seed: int = 0):
    """Images whose labels are all different, so a batch element's label tells which original it came from."""
    return _std_images(n, seed), np.random.default_rng(seed).permutation(10)[:n]


def _epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    batches = list(dataset)
    return np.concatenate([b[0].numpy() for b in batches]), np.concatenate([b[1].numpy() for b in batches])


def test_train_dataset_random_epoch_is_augmented_originals():
    x, y = _tagged()
    dataset = pipelines.make_train_dataset(x, y, batch_size=4, seed=5)
    assert dataset.cardinality().numpy() == pipelines.train_steps_per_epoch(10, 4, "random") == 3
    shapes = [(b[0].shape, b[1].shape, b[0].dtype, b[1].dtype) for b in dataset]
    assert shapes[0] == ((4, 32, 32, 3), (4, 10), tf.float32, tf.float32) and shapes[-1][0] == (2, 32, 32, 3)
    images, labels = _epoch(dataset)
    assert np.all(np.isfinite(images))
    source = labels.argmax(axis=1)
    np.testing.assert_array_equal(labels, np.eye(10, dtype=np.float32)[source])
    assert sorted(source) == sorted(y)  # every image exactly once
    index = {label: i for i, label in enumerate(y)}
    found = [_which_crop(image, x[index[label]]) for image, label in zip(images, source)]
    assert len(set(found)) > 1


def test_train_dataset_is_seeded_and_epochs_differ():
    x, y = _tagged()

    def two_epochs(seed):
        dataset = pipelines.make_train_dataset(x, y, batch_size=3, seed=seed)
        return _epoch(dataset), _epoch(dataset)

    (a1, la1), (a2, la2) = two_epochs(7)
    (b1, lb1), (b2, lb2) = two_epochs(7)
    for got, want in ((a1, b1), (la1, lb1), (a2, b2), (la2, lb2)):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(a1, a2) and not np.array_equal(la1, la2)  # new shuffle and crops each epoch
    assert not np.array_equal(_epoch(pipelines.make_train_dataset(x, y, batch_size=3, seed=8))[0], a1)


def test_thesis_epoch_is_originals_plus_one_augmented_copy():
    x, y = _tagged()
    dataset = pipelines.make_train_dataset(x, y[:, None], batch_size=6, augmentation="thesis", seed=1)
    assert dataset.cardinality().numpy() == pipelines.train_steps_per_epoch(10, 6, "thesis") == 4
    images, labels = _epoch(dataset)
    assert images.shape == (20, 32, 32, 3) and np.all(np.isfinite(images))
    source = labels.argmax(axis=1)
    assert np.bincount(source, minlength=10).tolist() == [2] * 10
    assert not np.array_equal(source[:10], source[10:])  # originals and copies are shuffled together
    for label, original in zip(y, x):
        pair = images[source == label]
        exact = [np.array_equal(image, original) for image in pair]
        assert any(exact), "every original appears unchanged"
        _which_crop(pair[exact.index(False)] if not all(exact) else pair[1], original)


def test_unshuffled_none_gives_the_originals_in_order():
    x, y = _tagged()
    images, labels = _epoch(pipelines.make_train_dataset(x, y, batch_size=4, augmentation="none", shuffle=False))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, data.one_hot(y))
    images, _ = _epoch(pipelines.make_train_dataset(x, y, augmentation="thesis", shuffle=False))
    np.testing.assert_array_equal(images[:10], x)  # originals first, then the augmented copy
    assert all(_which_crop(a, o) for a, o in zip(images[10:], x))


def test_train_dataset_accepts_one_hot_labels():
    x, y = _tagged()
    plain = _epoch(pipelines.make_train_dataset(x, y, seed=2))
    hot = _epoch(pipelines.make_train_dataset(x, data.one_hot(y), seed=2))
    np.testing.assert_array_equal(plain[0], hot[0])
    np.testing.assert_array_equal(plain[1], hot[1])


def test_train_steps_per_epoch_thesis_numbers():
    assert pipelines.train_steps_per_epoch(40000, 128, "thesis") == 625
    assert pipelines.train_steps_per_epoch(40000, 128, "random") == 313
    assert pipelines.train_steps_per_epoch(40000, 128, "none") == 313
    with pytest.raises(ValueError, match="augmentation"):
        pipelines.train_steps_per_epoch(10, 2, "mixup")
    with pytest.raises(ValueError, match="n must be"):
        pipelines.train_steps_per_epoch(0, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x_std=np.zeros((2, 32, 32, 3), np.uint8)), "standardised float.*uint8"),
    (dict(x_std=np.full((2, 32, 32, 3), np.nan, np.float32)), "NaN"),
    (dict(x_std=np.zeros((32, 32, 3), np.float32)), r"\(N, H, W, C\)"),
    (dict(y=np.array([1, 2, 3])), "2 images but y has 3 labels"),
    (dict(y=np.array([1, 11])), r"outside 0\.\.9"),
    (dict(batch_size=0), "batch_size"),
    (dict(augmentation="cutout"), "augmentation must be one of random, random_cutout, thesis, none"),
    (dict(seed=None), "seed must be an integer"),
])
def test_train_dataset_bad_inputs(kwargs, match):
    arguments = dict(x_std=_std_images(2), y=np.array([1, 2]))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        pipelines.make_train_dataset(arguments.pop("x_std"), arguments.pop("y"), **arguments)


def test_eval_dataset_keeps_order_without_augmentation():
    x, y = _std_images(7), np.arange(7)
    dataset = pipelines.make_eval_dataset(x, y, batch_size=3)
    images, labels = _epoch(dataset)
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, data.one_hot(y))
    only = np.concatenate([b.numpy() for b in pipelines.make_eval_dataset(x, batch_size=3)])
    np.testing.assert_array_equal(only, x)
    with pytest.raises(ValueError, match="standardised"):
        pipelines.make_eval_dataset(np.zeros((2, 32, 32, 3), np.uint8), [0, 1])


def test_cutout_zeroes_one_clipped_square_per_image_like_a_naive_loop():
    rng = np.random.default_rng(3)
    x = (rng.random((40, 12, 10, 3)) + 0.5).astype("float32")  # no zeros before the cutout
    seed = tf.constant([5, 6], tf.int64)
    out = pipelines.cutout(x, seed, size=4).numpy()
    draws = tf.random.stateless_uniform([40, 2], seed=seed).numpy()
    expected = x.copy()
    for i in range(40):  # naive reference: centre at a uniform pixel, the 4x4 square around it clipped to the image
        row, column = int(draws[i, 0] * 12), int(draws[i, 1] * 10)
        for r in range(row - 2, row + 2):
            for c in range(column - 2, column + 2):
                if 0 <= r < 12 and 0 <= c < 10:
                    expected[i, r, c, :] = 0.0
    np.testing.assert_array_equal(out, expected)
    sizes = (out[..., 0] == 0).sum(axis=(1, 2))
    assert sizes.max() == 16 and sizes.min() >= 4  # whole squares inside, clipped ones at the borders
    np.testing.assert_array_equal(out, pipelines.cutout(x, seed, size=4).numpy())  # seeded
    assert not np.array_equal(out, pipelines.cutout(x, tf.constant([5, 7], tf.int64), size=4).numpy())


def test_random_cutout_epochs_are_crops_with_one_square_cut_out():
    rng = np.random.default_rng(4)
    x = (rng.random((24, 32, 32, 3)) + 0.5).astype("float32")
    batches = list(pipelines.make_train_dataset(x, np.arange(24) % 10, batch_size=8, augmentation="random_cutout",
                                                seed=1))
    images = np.concatenate([b[0].numpy() for b in batches])
    zero_pixels = (images == 0).all(axis=-1)
    square = np.array([np.any([(z[r:r + pipelines.CUTOUT_SIZE, c:c + pipelines.CUTOUT_SIZE]).all()
                               for r in range(32) for c in range(32)]) or z.sum() > 0 for z in zero_pixels])
    assert square.all()  # every image lost some pixels (its square, and maybe crop padding)
    again = np.concatenate([b[0].numpy() for b in pipelines.make_train_dataset(
        x, np.arange(24) % 10, batch_size=8, augmentation="random", seed=1)])
    assert not np.array_equal(images, again) and ((images == again) | (images == 0)).all()
