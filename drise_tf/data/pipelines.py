"""tf.data pipelines: seeded, vectorised crop-and-flip augmentation (optionally with cutout), training epochs (random,
random_cutout, thesis or none) and
evaluation batches, never a batch too small to feed every replica (:mod:`drise_tf.core.sharding`)."""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import tensorflow as tf

from drise_tf.core import sharding
from drise_tf.data.cifar import one_hot
from drise_tf.data.sources import NUM_CLASSES

#: Training-epoch styles of :func:`make_train_dataset`.
AUGMENTATIONS = ("random", "random_cutout", "thesis", "none")
#: Zero padding (pixels per side) before the random crop, as in the thesis.
PAD = 4
#: Side of the square that ``"random_cutout"`` sets to 0 (the dataset mean after standardising).
CUTOUT_SIZE = 8


# ------------------------------------------------------------------------------------------------- tf.data
def _targets(y: Any, n: int) -> np.ndarray:
    """Labels as float32 one-hot: integer ``(N,)``/``(N, 1)`` are encoded, ``(N, 10)`` floats pass through."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == NUM_CLASSES:
        if not np.issubdtype(labels.dtype, np.floating) or not np.all((labels >= 0) & (labels <= 1)):
            raise ValueError(f"one-hot y must be floats in [0, 1], got dtype {labels.dtype}")
        targets = labels.astype(np.float32)
    else:
        targets = one_hot(labels)
    if len(targets) != n:
        raise ValueError(f"x_std has {n} images but y has {len(targets)} labels")
    return targets


def random_crop_flip(images: Any, seed: Any, *, pad: int = PAD, apply: Any = None) -> tf.Tensor:
    """Zero-pad each image by ``pad`` pixels, crop it back at a random offset, flip it horizontally with p=0.5.

    Vectorised over the batch: one crop offset ``(dy, dx)`` in ``0..2*pad`` and one flip per image, drawn with a
    stateless generator, so the same ``seed`` gives the same result.

    Parameters
    ----------
    images : float tensor (B, H, W, C)
        Standardised images (padding with 0 pads with the dataset mean colour).
    seed : int tensor of shape (2,)
        Stateless random seed.
    pad : int
        Padding per side.
    apply : bool tensor (B,) or None
        Where False the image is returned unchanged (offset ``pad``, no flip); None augments all.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    draws = tf.random.stateless_uniform(tf.stack([shape[0], 3]), seed=seed)
    offsets = tf.cast(draws[:, :2] * (2 * pad + 1), tf.int32)
    flip = draws[:, 2] < 0.5
    if apply is not None:
        offsets = tf.where(apply[:, None], offsets, pad)
        flip = tf.logical_and(flip, apply)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = offsets[:, :1] + tf.range(height)[None, :]
    columns = tf.range(width)[None, :]
    columns = offsets[:, 1:] + tf.where(flip[:, None], width - 1 - columns, columns)
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, columns, axis=2, batch_dims=1)


def cutout(images: Any, seed: Any, *, size: int = CUTOUT_SIZE) -> tf.Tensor:
    """Set one ``size`` x ``size`` square per image to 0, centred on a uniformly random pixel and clipped at the
    borders (DeVries and Taylor 2017, arXiv 1708.04552); vectorised, stateless (same ``seed``, same squares).

    Parameters
    ----------
    images : float tensor (B, H, W, C)
        Standardised images (0 is the dataset mean colour).
    seed : int tensor of shape (2,)
        Stateless random seed.
    size : int
        Side of the square before clipping.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    draws = tf.random.stateless_uniform(tf.stack([shape[0], 2]), seed=seed)
    centres = tf.cast(draws * tf.cast(tf.stack([shape[1], shape[2]]), tf.float32), tf.int32)
    low = centres - size // 2  # (B, 2): first row and column of the square, possibly outside the image
    rows = tf.range(shape[1])[None, :]
    columns = tf.range(shape[2])[None, :]
    inside_rows = (rows >= low[:, :1]) & (rows < low[:, :1] + size)
    inside_columns = (columns >= low[:, 1:]) & (columns < low[:, 1:] + size)
    square = inside_rows[:, :, None] & inside_columns[:, None, :]
    return tf.where(square[..., None], tf.zeros_like(images), images)


def _check_augmentation(augmentation: str) -> str:
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATIONS)}, got {augmentation!r}")
    return augmentation


def _check_batch_size(batch_size: Any) -> int:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_standardised(x_std: Any) -> np.ndarray:
    x = np.asarray(x_std)
    if x.ndim != 4:
        raise ValueError(f"x_std must have shape (N, H, W, C), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x_std must be standardised float images (Standardizer.transform), got dtype {x.dtype}")
    if len(x) == 0:
        raise ValueError("x_std holds no images")
    if not np.isfinite(np.sum(x, dtype=np.float64)):
        raise ValueError("x_std contains NaN or infinite values")
    return x.astype(np.float32, copy=False)


_KEY_POOL, _KEY_DRAWS = 1024, 5


def _epoch_keys(seed: int) -> tf.data.Dataset:
    """One int64 key (50 random bits) that changes each time the dataset is iterated, i.e. each epoch.

    The sequence of keys is fixed by ``seed``. Built on ``shuffle(reshuffle_each_iteration=True)``, which every
    TensorFlow version has (``Dataset.random(rerandomize_each_iteration=...)`` needs 2.12; the tested versions are
    2.15 and >= 2.16).
    """
    draws = tf.data.Dataset.range(_KEY_POOL).shuffle(_KEY_POOL, seed=seed, reshuffle_each_iteration=True)
    weights = tf.constant([_KEY_POOL**i for i in range(_KEY_DRAWS)], tf.int64)
    return draws.batch(_KEY_DRAWS).take(1).map(lambda draw: tf.reduce_sum(draw * weights))


def train_steps_per_epoch(n: int, batch_size: int, augmentation: str = "random", replicas: int = 1) -> int:
    """Batches per training epoch: ``ceil(n / batch_size)``, or ``ceil(2n / batch_size)`` for ``"thesis"``.

    Under ``replicas`` > 1 a last batch too small to feed every replica joins the one before it
    (:func:`drise_tf.core.sharding.batch_bounds`), which can make one batch fewer.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    samples = 2 * n if _check_augmentation(augmentation) == "thesis" else n
    return len(sharding.batch_bounds(samples, _check_batch_size(batch_size), replicas)) - 1


def make_train_dataset(
    x_std: Any,
    y: Any,
    *,
    batch_size: int = 128,
    augmentation: str = "random",
    seed: int = 0,
    shuffle: bool = True,
    replicas: int = 1,
) -> tf.data.Dataset:
    """Training batches ``(images float32 (b, H, W, C), one-hot float32 (b, 10))``; one epoch per iteration.

    Parameters
    ----------
    x_std : float array (N, H, W, C)
        Standardised training images.
    y : array
        Integer labels ``(N,)``/``(N, 1)`` or one-hot ``(N, 10)``.
    batch_size : int
        Batch size; the last batch of an epoch may be smaller.
    augmentation : {"random", "random_cutout", "thesis", "none"}
        ``"random"``: every image once per epoch, randomly cropped and flipped (:func:`random_crop_flip`).
        ``"random_cutout"``: as ``"random"``, then one square cut out of each image (:func:`cutout`).
        ``"thesis"``: every epoch is the N originals plus one freshly augmented copy of each, 2N samples shuffled
        together (docs/thesis.md, "The training recipe"). ``"none"``: the originals only.
    seed : int
        Seeds the shuffle and the augmentation. Each new iteration over the dataset (a new epoch) draws new
        ones, and two datasets built with the same seed yield the same batches, epoch after epoch.
    shuffle : bool
        Shuffle the samples of each epoch (False: originals first, then, for ``"thesis"``, the augmented copy).
    replicas : int
        Replicas each batch will be split over (``strategy.num_replicas_in_sync``): no batch is smaller
        (:func:`drise_tf.core.sharding.batch_bounds`), so no replica gets an empty batch.

    Returns
    -------
    tf.data.Dataset
        With known cardinality :func:`train_steps_per_epoch` and prefetching.
    """
    x = _check_standardised(x_std)
    targets = _targets(y, len(x))
    augmentation = _check_augmentation(augmentation)
    batch_size = _check_batch_size(batch_size)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    n = len(x)
    total = 2 * n if augmentation == "thesis" else n
    bounds = sharding.batch_bounds(total, batch_size, replicas)
    images, labels = tf.constant(x), tf.constant(targets)

    def epoch(key: tf.Tensor) -> tf.data.Dataset:
        order = tf.range(total, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([key, -1]))
        batches = tf.data.Dataset.from_tensor_slices((bounds[:-1], bounds[1:])).enumerate()
        return batches.map(lambda step, bound: (key, step, order[bound[0] : bound[1]]))

    def load(key: tf.Tensor, step: tf.Tensor, index: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        source = index % n  # "thesis": index >= n is the augmented copy of image index - n
        batch_x, batch_y = tf.gather(images, source), tf.gather(labels, source)
        if augmentation != "none":
            apply = index >= n if augmentation == "thesis" else None
            batch_x = random_crop_flip(batch_x, tf.stack([key, step]), apply=apply)
        if augmentation == "random_cutout":
            batch_x = cutout(batch_x, tf.stack([key, -2 - step]))
        return batch_x, batch_y

    dataset = _epoch_keys(seed).flat_map(epoch)
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    steps = len(bounds) - 1
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(x_std: Any, y: Any = None, *, batch_size: int = 256, replicas: int = 1) -> tf.data.Dataset:
    """Evaluation batches in order, not shuffled or augmented: ``(images, one-hot)``, or images if ``y`` is None.

    ``replicas``: as in :func:`make_train_dataset`, no batch is smaller than the number of replicas.
    """
    x = _check_standardised(x_std)
    bounds = sharding.batch_bounds(len(x), _check_batch_size(batch_size), replicas)
    elements = tf.constant(x) if y is None else (tf.constant(x), tf.constant(_targets(y, len(x))))
    batches = tf.data.Dataset.from_tensor_slices((bounds[:-1], bounds[1:]))
    return batches.map(lambda start, stop: tf.nest.map_structure(lambda part: part[start:stop], elements)).prefetch(
        tf.data.AUTOTUNE)
