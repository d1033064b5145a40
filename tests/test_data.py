"""Tests of drise_tf.data: labels, the thesis split, the Standardizer and the tf.data pipelines."""
from __future__ import annotations

import json
import itertools

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import data
from drise_tf.data import Standardizer


def _uint8_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def _std_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 32, 32, 3)).astype(np.float32)


def test_public_constants():
    assert data.CLASS_NAMES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                "truck")
    assert data.NUM_CLASSES == 10 and data.DATA_ENV == "DRISE_TF_DATA"


# ----------------------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("shape", [(7,), (7, 1)])
def test_one_hot_matches_identity_rows(shape):
    y = np.array([3, 0, 9, 3, 1, 2, 5], dtype=np.uint8).reshape(shape)
    encoded = data.one_hot(y)
    assert encoded.dtype == np.float32 and encoded.shape == (7, 10)
    np.testing.assert_array_equal(encoded, np.eye(10, dtype=np.float32)[y.reshape(-1)])
    np.testing.assert_array_equal(data.one_hot([1, 0], num_classes=2), [[0, 1], [1, 0]])


@pytest.mark.parametrize("y, match", [
    ([0, 10], r"outside 0\.\.9"),
    ([-1, 2], r"outside 0\.\.9"),
    ([0.0, 1.0], "integer"),
    ([True, False], "integer"),
    (np.zeros((3, 2), int), r"\(N,\) or \(N, 1\)"),
])
def test_one_hot_rejects_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        data.one_hot(y)


def test_split_train_val_first_trains_last_validates():
    x, y = np.arange(50).reshape(50, 1), np.arange(50) % 10
    (x_tr, y_tr), (x_val, y_val) = data.split_train_val(x, y, n_val=10)
    np.testing.assert_array_equal(x_tr[:, 0], np.arange(40))
    np.testing.assert_array_equal(x_val[:, 0], np.arange(40, 50))
    np.testing.assert_array_equal(y_val, np.arange(40, 50) % 10)
    assert len(y_tr) == 40
    for bad in (0, 50, -1, 2.5):
        with pytest.raises(ValueError, match="n_val"):
            data.split_train_val(x, y, n_val=bad)
    with pytest.raises(ValueError, match="50 samples but y has 49"):
        data.split_train_val(x, y[:-1])


# --------------------------------------------------------------------------------------------- standardizer
def test_standardizer_matches_closed_form():
    x = _uint8_images(20)
    x[..., 2] //= 3  # channels with different statistics
    scaled = x.astype(np.float64) / 255.0
    mean, std = scaled.mean(axis=(0, 1, 2)), scaled.std(axis=(0, 1, 2))
    standardizer = Standardizer.fit(x)
    assert standardizer.mean.dtype == np.float32 and standardizer.std.shape == (3,)
    np.testing.assert_allclose(standardizer.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(standardizer.std, std, rtol=1e-6)
    out = standardizer.transform(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, (scaled - mean) / std, atol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0, dtype=np.float64), 0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 3).std(axis=0, dtype=np.float64), 1, atol=1e-5)
    np.testing.assert_array_equal(standardizer.transform(x[3]), out[3])  # a single (H, W, 3) image


def test_standardizer_to_uint8_inverts_transform():
    x = _uint8_images(4)
    standardizer = Standardizer.fit(x)
    np.testing.assert_array_equal(standardizer.to_uint8(standardizer.transform(x)), x)
    np.testing.assert_array_equal(standardizer.to_uint8(standardizer.transform(x[0])), x[0])
    clipped = standardizer.to_uint8(np.full((2, 2, 3), 100.0, np.float32))
    assert clipped.dtype == np.uint8 and (clipped == 255).all()


def test_standardizer_bounds_are_the_transformed_black_and_white():
    standardizer = Standardizer.fit(_uint8_images(4))
    low, high = standardizer.bounds()
    np.testing.assert_allclose(low, standardizer.transform(np.zeros((1, 1, 3), np.uint8))[0, 0], rtol=1e-6)
    np.testing.assert_allclose(high, standardizer.transform(np.full((1, 1, 3), 255, np.uint8))[0, 0], rtol=1e-6)


def test_standardizer_save_load_round_trip(tmp_path):
    standardizer = Standardizer.fit(_uint8_images(5))
    path = standardizer.save(tmp_path / "run" / "standardizer.json")
    content = json.loads(open(path).read())
    assert set(content) == {"mean", "std", "scale"} and content["scale"] == 255.0
    loaded = Standardizer.load(path)
    np.testing.assert_array_equal(loaded.mean, standardizer.mean)
    np.testing.assert_array_equal(loaded.std, standardizer.std)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["standardizer.json"]  # no temporary left behind


@pytest.mark.parametrize("text, match", [
    ("{not json", "Expecting"),
    ('{"mean": [0.5, 0.5, 0.5], "scale": 255.0}', "'std'"),
    ('{"mean": [0.5, 0.5], "std": [1, 1, 1], "scale": 255.0}', "3 values"),
    ('{"mean": [0.5, 0.5, 0.5], "std": [1, 0, 1], "scale": 255.0}', "std positive"),
    ('{"mean": [0.5, 0.5, 0.5], "std": [1, 1, 1], "scale": 1.0}', "scale must be 255"),
    ("[1, 2]", "invalid"),
])
def test_standardizer_load_names_the_bad_file(tmp_path, text, match):
    path = tmp_path / "standardizer.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        Standardizer.load(path)
    assert "standardizer.json" in str(info.value)


def test_standardizer_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Standardizer.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="x_uint8 must be uint8.*float32"):
        Standardizer.fit(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"x_uint8 must have shape .*\(2, 32, 32\)"):
        Standardizer.fit(np.zeros((2, 32, 32), np.uint8))
    x = _uint8_images(2)
    x[..., 1] = 7
    with pytest.raises(ValueError, match="constant channel"):
        Standardizer.fit(x)
    with pytest.raises(ValueError, match="x must be uint8"):
        Standardizer.fit(_uint8_images(2)).transform(np.zeros((1, 32, 32, 3), np.float32))


# ------------------------------------------------------------------------------------------- augmentation
def _reference_crops(image: np.ndarray, pad: int = data.PAD) -> dict:
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
    out = data.random_crop_flip(x, tf.constant([3, 4], tf.int64)).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    found = [_which_crop(o, i) for o, i in zip(out, x)]
    assert len({(dy, dx) for dy, dx, _ in found}) > 20  # offsets vary over 0..8
    assert {dy for dy, _, _ in found} | {dx for _, dx, _ in found} == set(range(9))
    assert 10 < sum(flip for _, _, flip in found) < 54
    again = data.random_crop_flip(x, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)  # stateless: same seed, same crops
    assert not np.array_equal(out, data.random_crop_flip(x, tf.constant([3, 5], tf.int64)).numpy())


def test_random_crop_flip_apply_mask_keeps_originals():
    x = _std_images(16, seed=2)
    apply = np.arange(16) % 2 == 0
    out = data.random_crop_flip(x, tf.constant([1, 1], tf.int64), apply=tf.constant(apply)).numpy()
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
    dataset = data.make_train_dataset(x, y, batch_size=4, seed=5)
    assert dataset.cardinality().numpy() == data.train_steps_per_epoch(10, 4, "random") == 3
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
        dataset = data.make_train_dataset(x, y, batch_size=3, seed=seed)
        return _epoch(dataset), _epoch(dataset)

    (a1, la1), (a2, la2) = two_epochs(7)
    (b1, lb1), (b2, lb2) = two_epochs(7)
    for got, want in ((a1, b1), (la1, lb1), (a2, b2), (la2, lb2)):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(a1, a2) and not np.array_equal(la1, la2)  # new shuffle and crops each epoch
    assert not np.array_equal(_epoch(data.make_train_dataset(x, y, batch_size=3, seed=8))[0], a1)


def test_thesis_epoch_is_originals_plus_one_augmented_copy():
    x, y = _tagged()
    dataset = data.make_train_dataset(x, y[:, None], batch_size=6, augmentation="thesis", seed=1)
    assert dataset.cardinality().numpy() == data.train_steps_per_epoch(10, 6, "thesis") == 4
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
    images, labels = _epoch(data.make_train_dataset(x, y, batch_size=4, augmentation="none", shuffle=False))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, data.one_hot(y))
    images, _ = _epoch(data.make_train_dataset(x, y, augmentation="thesis", shuffle=False))
    np.testing.assert_array_equal(images[:10], x)  # originals first, then the augmented copy
    assert all(_which_crop(a, o) for a, o in zip(images[10:], x))


def test_train_dataset_accepts_one_hot_labels():
    x, y = _tagged()
    plain = _epoch(data.make_train_dataset(x, y, seed=2))
    hot = _epoch(data.make_train_dataset(x, data.one_hot(y), seed=2))
    np.testing.assert_array_equal(plain[0], hot[0])
    np.testing.assert_array_equal(plain[1], hot[1])


def test_train_steps_per_epoch_thesis_numbers():
    assert data.train_steps_per_epoch(40000, 128, "thesis") == 625
    assert data.train_steps_per_epoch(40000, 128, "random") == 313
    assert data.train_steps_per_epoch(40000, 128, "none") == 313
    with pytest.raises(ValueError, match="augmentation"):
        data.train_steps_per_epoch(10, 2, "mixup")
    with pytest.raises(ValueError, match="n must be"):
        data.train_steps_per_epoch(0, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x_std=np.zeros((2, 32, 32, 3), np.uint8)), "standardised float.*uint8"),
    (dict(x_std=np.full((2, 32, 32, 3), np.nan, np.float32)), "NaN"),
    (dict(x_std=np.zeros((32, 32, 3), np.float32)), r"\(N, H, W, C\)"),
    (dict(y=np.array([1, 2, 3])), "2 images but y has 3 labels"),
    (dict(y=np.array([1, 11])), r"outside 0\.\.9"),
    (dict(batch_size=0), "batch_size"),
    (dict(augmentation="cutout"), "augmentation must be one of random, thesis, none"),
    (dict(seed=None), "seed must be an integer"),
])
def test_train_dataset_bad_inputs(kwargs, match):
    arguments = dict(x_std=_std_images(2), y=np.array([1, 2]))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        data.make_train_dataset(arguments.pop("x_std"), arguments.pop("y"), **arguments)


def test_eval_dataset_keeps_order_without_augmentation():
    x, y = _std_images(7), np.arange(7)
    dataset = data.make_eval_dataset(x, y, batch_size=3)
    images, labels = _epoch(dataset)
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, data.one_hot(y))
    only = np.concatenate([b.numpy() for b in data.make_eval_dataset(x, batch_size=3)])
    np.testing.assert_array_equal(only, x)
    with pytest.raises(ValueError, match="standardised"):
        data.make_eval_dataset(np.zeros((2, 32, 32, 3), np.uint8), [0, 1])
