"""The few Keras 2 / Keras 3 differences, in one place.

Everything in drise_tf imports Keras from here (``from drise_tf.core.compat import keras``), so the
package runs unchanged on Keras 3 (TensorFlow >= 2.16) and on Keras 2 (tested on TensorFlow 2.15, as CI runs it).
``keras`` is ``tf.keras``: whatever Keras TensorFlow itself uses, which is also what tf-keras-vis uses.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Iterator

import tensorflow as tf

keras = tf.keras



def _keras_version() -> str:
    version = getattr(keras, "__version__", None)
    if version:
        return version
    import keras as keras_package  # Keras 2 (TF <= 2.15): tf.keras is the separately installed keras 2.x package

    return keras_package.__version__


KERAS_VERSION: str = _keras_version()
KERAS3: bool = int(KERAS_VERSION.split(".")[0]) >= 3
_MAJOR_MINOR = tuple(int(part) for part in KERAS_VERSION.split(".")[:2])

#: File suffix of a whole saved model: the native ``.keras`` zip where Keras supports it (>= 2.13), else HDF5.
MODEL_SUFFIX: str = ".keras" if _MAJOR_MINOR >= (2, 13) else ".h5"
#: Suffix required by ``Model.save_weights`` (Keras 3 insists on ``.weights.h5``).
WEIGHTS_SUFFIX: str = ".weights.h5"


def save_model_atomic(model: Any, path: str | os.PathLike) -> str:
    """Save ``model`` to ``path`` atomically: write a temporary file beside it, then rename.

    Parameters
    ----------
    model : keras.Model
        The model to save.
    path : str or PathLike
        Destination; must end with :data:`MODEL_SUFFIX` or ``.h5``.

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    with _replaced_atomically(path, suffix=os.path.splitext(path)[1]) as tmp:
        model.save(tmp)
    return path


@contextlib.contextmanager
def _replaced_atomically(path: str, suffix: str = "") -> Iterator[str]:
    """A temporary file's path in ``path``'s folder (created if needed), renamed over ``path`` when the block ends
    without an error and removed otherwise: readers see the old file or the whole new one, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = os.fspath(path)
    with _replaced_atomically(path) as tmp, open(tmp, "wb") as stream:
        stream.write(data)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def load_model(path: str | os.PathLike, **kwargs: Any) -> Any:
    """Load a model saved by :func:`save_model_atomic` (``compile=False`` unless given)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path!r} does not exist")
    kwargs.setdefault("compile", False)
    try:
        return keras.models.load_model(path, **kwargs)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile.BadZipFile, ... for a file that is no model
        message = (str(error).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"model file {path!r} could not be loaded as a Keras model (truncated, altered or not a "
                         f"model file?): {type(error).__name__}: {message}") from error


def variable_short_name(variable: Any) -> str:
    """A layer weight's own name without scope or suffix ("kernel", "gamma", "moving_mean").

    Keras 3 names variables "kernel" (path "dense/kernel"); Keras 2 names them "dense/kernel:0".
    """
    return variable.name.split("/")[-1].split(":")[0]


def write_json_atomic(path: str | os.PathLike, obj: Any) -> str:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    import json

    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")
