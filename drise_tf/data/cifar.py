"""CIFAR-10 for drise_tf: loading from Keras or local files, labels, the thesis split.

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

Every file reader (:mod:`.sources`) returns exactly what ``keras.datasets.cifar10.load_data()`` returns: ``((x_train,
y_train), (x_test, y_test))`` with ``x`` uint8 ``(N, 32, 32, 3)`` RGB and ``y`` uint8 ``(N, 1)``; :func:`load_cifar10`
hands the labels on as int64 ``(N,)``.
"""
from __future__ import annotations

import os
import tarfile
from typing import Any, Optional, Tuple

import numpy as np

from drise_tf.core.compat import keras
from drise_tf.data.sources import (
    NUM_CLASSES,
    TARBALL_FOLDER,
    CifarDataError,
    batches_folder,
    is_image_folder,
    load_batches_dir,
    load_image_folder,
    load_npz,
    load_tarball,
)

Split = Tuple[np.ndarray, np.ndarray]

#: Environment variable naming a local CIFAR-10 source (any of the forms listed in the module docstring).
DATA_ENV = "DRISE_TF_DATA"
#: The official python version of CIFAR-10.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
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
    """Load CIFAR-10 from Keras or from a local source.

    Parameters
    ----------
    source : str, PathLike or None
        A tarball, batches folder, ``.npz`` or image folder (see the module docstring). None: ``$DRISE_TF_DATA``
        if set, else Keras's download and cache.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        ``x`` uint8 ``(N, 32, 32, 3)`` RGB as Keras gives it; ``y`` int64 ``(N,)`` class indices (Keras gives
        uint8 ``(N, 1)``: flattened here once, so that no caller has to).

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
    (x_train, y_train), (x_test, y_test) = _read_source(source)
    return (x_train, _flat_labels(y_train)), (x_test, _flat_labels(y_test))


def _flat_labels(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).reshape(-1).astype(np.int64)


def _read_source(source: str | os.PathLike | None = None) -> Tuple[Split, Split]:
    """CIFAR-10 exactly as ``keras.datasets.cifar10.load_data()`` returns it (labels uint8 (N, 1)), from Keras or a
    local source; :func:`load_cifar10` documents the arguments and errors."""
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
