"""CIFAR-10 for drise_tf: loading from Keras or local files, the thesis split and standardisation, tf.data pipelines.

Where the data comes from (:func:`load_cifar10`, first match wins):

1. the ``source`` argument (the command line's ``--data PATH``);
2. the environment variable ``DRISE_TF_DATA`` (see :data:`DATA_ENV`);
3. ``keras.datasets.cifar10.load_data()``, which downloads once and caches under ``$KERAS_HOME``.

A local source may be

- the official python tarball ``cifar-10-python.tar.gz`` (read in place, never extracted to disk);
- a folder holding its python batches ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, directly or in the
  tarball's inner folder ``cifar-10-batches-py/``. The batches are pickles; they are read with an allow-list that
  rebuilds numpy arrays only, so a tampered file is refused and nothing in it runs;
- an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 images ``(N, 32, 32, 3)``, integer labels
  ``(N,)`` or ``(N, 1)``; other keys are ignored), e.g. ``../shared/data/cifar10-subset.npz``;
- an image folder with ``train/`` and ``test/`` sub-folders, each laid out in one of two ways:

  * class sub-folders ``<split>/<class>/<image>``, ``<class>`` a class name (``cat``, case-insensitive) or index
    (``3``); samples are ordered by class index, then by file name in natural order (``2.png`` before ``10.png``);
  * images plus a labels CSV, found at ``<split>.csv``, ``<split>_labels.csv``, ``<split>Labels.csv`` (beside the
    split folder) or ``<split>/labels.csv``. The CSV has a header row with a file column (``filename``, ``file``,
    ``image`` or ``id``) and a label column (``label`` or ``class``), both case-insensitive. A file entry is a path
    relative to the split folder; without an extension ``.png``, ``.jpg``, ``.jpeg`` and ``.bmp`` are tried. Labels
    are class names or indices 0..9. Samples keep the CSV's row order. A CSV, when present, wins over sub-folders.

  Images must be 32x32 RGB (palette PNGs are converted); PNG, JPEG and BMP are read; hidden and other files are
  skipped.

Every loader returns exactly what ``keras.datasets.cifar10.load_data()`` returns: ``((x_train, y_train), (x_test,
y_test))`` with ``x`` uint8 ``(N, 32, 32, 3)`` RGB and ``y`` uint8 ``(N, 1)``.
"""
from __future__ import annotations

import json
import math
import os
import tarfile
from typing import Any, Optional, Tuple

import numpy as np
import tensorflow as tf

from drise_tf._cifar_sources import (
    CLASS_NAMES,
    NUM_CLASSES,
    TARBALL_FOLDER,
    CifarDataError,
    UnsafePickleError,
    batches_folder,
    is_image_folder,
    load_batches_dir,
    load_image_folder,
    load_npz,
    load_tarball,
)
from drise_tf._compat import keras, write_text_atomic
from drise_tf.core import sharding

__all__ = [
    "CLASS_NAMES", "NUM_CLASSES", "DATA_ENV", "AUGMENTATIONS", "CIFAR10_URL", "CifarDataError",
    "CifarNotAvailableError", "UnsafePickleError", "Standardizer", "load_cifar10", "resolve_source", "one_hot",
    "split_train_val", "random_crop_flip", "train_steps_per_epoch", "make_train_dataset", "make_eval_dataset",
]

Split = Tuple[np.ndarray, np.ndarray]

#: Environment variable naming a local CIFAR-10 source (any of the forms listed in the module docstring).
DATA_ENV = "DRISE_TF_DATA"
#: The official python version of CIFAR-10.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: Training-epoch styles of :func:`make_train_dataset`.
AUGMENTATIONS = ("random", "thesis", "none")
#: Zero padding (pixels per side) before the random crop, as in the thesis.
PAD = 4


class CifarNotAvailableError(FileNotFoundError):
    """No local CIFAR-10 source was given and Keras could not download it (e.g. offline)."""


# --------------------------------------------------------------------------------------------------- loading
def resolve_source(source: str | os.PathLike | None = None) -> Optional[str]:
    """Return the data source to use: ``source`` if given, else ``$DRISE_TF_DATA`` if set and non-empty, else None."""
    if source is not None:
        return os.fspath(source)
    return os.environ.get(DATA_ENV) or None


def _unavailable_message(cause: BaseException) -> str:
    return (
        f"CIFAR-10 is not available: no local source was given and the Keras download failed "
        f"({type(cause).__name__}: {cause}). Download the official python version, {CIFAR10_URL} (about 163 MB), "
        f"then point drise_tf at it: set {DATA_ENV}=/path/to/cifar-10-python.tar.gz (or the folder it unpacks to) "
        f"or pass --data /path/to/cifar-10-python.tar.gz on the command line. An .npz with x_train, y_train, x_test, "
        f"y_test, or train/ and test/ image folders, work too (see drise_tf.data)."
    )


def load_cifar10(source: str | os.PathLike | None = None) -> Tuple[Split, Split]:
    """Load CIFAR-10 like ``keras.datasets.cifar10.load_data()``, from Keras or from a local source.

    Parameters
    ----------
    source : str, PathLike or None
        A tarball, batches folder, ``.npz`` or image folder (see the module docstring). None: ``$DRISE_TF_DATA``
        if set, else Keras's download and cache.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        ``x`` uint8 ``(N, 32, 32, 3)`` RGB, ``y`` uint8 ``(N, 1)``.

    Raises
    ------
    FileNotFoundError
        The source or one of its batch files does not exist.
    CifarDataError
        The source is corrupt, truncated or holds wrong shapes, dtypes or labels (a ``ValueError``).
    UnsafePickleError
        A python batch references anything beyond plain numpy arrays (a ``CifarDataError``).
    CifarNotAvailableError
        No source given and the Keras download failed; the message says how to get and point at the data.
    """
    path = resolve_source(source)
    if path is None:
        try:
            return keras.datasets.cifar10.load_data()
        except Exception as exc:  # offline, blocked, broken cache: all end in the same advice
            raise CifarNotAvailableError(_unavailable_message(exc)) from exc
    origin = "source" if source is not None else f"${DATA_ENV}"
    if not os.path.exists(path):
        raise FileNotFoundError(f"CIFAR-10 {origin} {path!r} does not exist")
    if os.path.isdir(path):
        folder = batches_folder(path)
        if folder is not None:
            return load_batches_dir(folder)
        if is_image_folder(path):
            return load_image_folder(path)
        raise CifarDataError(
            f"{path}: no CIFAR-10 data found; expected python batches (data_batch_1..5, test_batch) here or in "
            f"{TARBALL_FOLDER}/, or train/ and test/ image folders"
        )
    if path.lower().endswith(".npz"):
        return load_npz(path)
    if path.lower().endswith((".tar.gz", ".tgz", ".tar")) or tarfile.is_tarfile(path):
        return load_tarball(path)
    raise CifarDataError(
        f"{path}: unsupported CIFAR-10 source; give the official .tar.gz, a folder of python batches, an .npz "
        f"or an image folder"
    )


# ----------------------------------------------------------------------------------------------------- labels
def one_hot(y: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """One-hot encode integer labels of shape ``(N,)`` or ``(N, 1)`` as float32 ``(N, num_classes)``.

    Raises
    ------
    ValueError
        ``y`` is not integer, has another shape, or holds a class index outside ``0..num_classes-1``.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"y must have shape (N,) or (N, 1), got {labels.shape}")
    if labels.size and (labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"y must hold integer class indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"y holds class indices outside 0..{num_classes - 1} (min {labels.min()}, max {labels.max()})")
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return encoded


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


def split_train_val(x: np.ndarray, y: np.ndarray, n_val: int = 10000) -> Tuple[Split, Split]:
    """The thesis split: the first ``len(x) - n_val`` samples train, the LAST ``n_val`` validate (views, no copy).

    Raises
    ------
    ValueError
        ``x`` and ``y`` differ in length, or ``n_val`` is not in ``1..len(x)-1``.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if not isinstance(n_val, (int, np.integer)) or not 0 < n_val < len(x):
        raise ValueError(f"n_val must be an integer in 1..{len(x) - 1} (len(x) = {len(x)}), got {n_val!r}")
    cut = len(x) - int(n_val)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


# ------------------------------------------------------------------------------------------ standardisation
class Standardizer:
    """Per-channel standardisation ``(x / 255 - mean) / std``, with statistics from the training split only.

    Parameters
    ----------
    mean, std : array-like of 3 floats
        Per-channel mean and standard deviation of ``x / 255``; ``std`` must be positive.
    """

    SCALE = 255.0

    def __init__(self, mean: Any, std: Any) -> None:
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != (3,) or self.std.shape != (3,):
            raise ValueError(f"mean and std need 3 values (RGB), got {self.mean.shape} and {self.std.shape}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise ValueError(f"mean must be finite and std positive, got mean {self.mean}, std {self.std}")

    def __repr__(self) -> str:
        return f"Standardizer(mean={self.mean.tolist()}, std={self.std.tolist()})"

    @staticmethod
    def _check_uint8(x: Any, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8 images 0..255, got dtype {x.dtype}")
        if x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (N, H, W, 3) or (H, W, 3), got {x.shape}")
        return x

    @classmethod
    def fit(cls, x_uint8: Any) -> "Standardizer":
        """Per-channel mean and (population) std of ``x_uint8 / 255``, exact (from a histogram of pixel values)."""
        x = cls._check_uint8(x_uint8, "x_uint8")
        levels = np.arange(256, dtype=np.float64) / cls.SCALE
        mean, std = [], []
        for channel in range(3):
            counts = np.bincount(x[..., channel].ravel(), minlength=256).astype(np.float64)
            mu = counts @ levels / counts.sum()
            mean.append(mu)
            std.append(math.sqrt(counts @ (levels - mu) ** 2 / counts.sum()))
        if min(std) == 0:
            raise ValueError(f"x_uint8 has a constant channel (std {std}); cannot standardise")
        return cls(mean, std)

    def transform(self, x: Any) -> np.ndarray:
        """``(x / 255 - mean) / std`` as float32, for uint8 ``(N, H, W, 3)`` or ``(H, W, 3)`` images."""
        out = self._check_uint8(x, "x").astype(np.float32)
        out /= np.float32(self.SCALE)
        out -= self.mean
        out /= self.std
        return out

    def to_uint8(self, x_std: Any) -> np.ndarray:
        """Invert :meth:`transform`: back to uint8 pixels (rounded, clipped to 0..255), e.g. for plots."""
        x = np.asarray(x_std, dtype=np.float32)
        if x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise ValueError(f"x_std must have shape (N, H, W, 3) or (H, W, 3), got {x.shape}")
        pixels = (x * self.std + self.mean) * np.float32(self.SCALE)
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)

    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-channel (low, high) of standardised pixels 0..255: the valid input range (attacks, visualisation)."""
        return (0.0 - self.mean) / self.std, (1.0 - self.mean) / self.std

    def save(self, path: str | os.PathLike) -> str:
        """Write ``{"mean": [...], "std": [...], "scale": 255.0}`` to ``path`` atomically; return the path."""
        text = json.dumps({"mean": self.mean.tolist(), "std": self.std.tolist(), "scale": self.SCALE}, indent=2)
        return write_text_atomic(path, text + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Standardizer":
        """Read a file written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            ``path`` is not valid JSON or lacks/garbles ``mean``, ``std`` or ``scale``.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"standardizer file {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as stream:
                content = json.load(stream)
            if content.get("scale") != cls.SCALE:
                raise ValueError(f"scale must be {cls.SCALE}, got {content.get('scale')!r}")
            return cls(content["mean"], content["std"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"standardizer file {path!r} is invalid: {type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------------------------------------- tf.data
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

    The sequence of keys is fixed by ``seed``. Built on ``shuffle(reshuffle_each_iteration=True)`` so that it
    works on TensorFlow 2.10 and 2.11 too (``Dataset.random(rerandomize_each_iteration=...)`` needs 2.12).
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
    augmentation : {"random", "thesis", "none"}
        ``"random"``: every image once per epoch, randomly cropped and flipped (:func:`random_crop_flip`).
        ``"thesis"``: every epoch is the N originals plus one freshly augmented copy of each, 2N samples shuffled
        together (SPEC 1.2). ``"none"``: the originals only.
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
