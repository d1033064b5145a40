"""Library functions for the neighbouring studies of docs/thesis.md (arrays and tables in, arrays and tables out;
no plots).

- The Keras CNN study: :func:`stride_kernel_sweep` (``simple_cnn`` with strides 1, 2, 3 and kernels 3x3, 4x4, the
  ``adam_cnn`` recipe, a test-accuracy table) and :func:`saliency_and_gradcam` (the data of its figure).
- The PyTorch ResNet-18 study's analysis: :func:`misclassified_gradcam` (Grad-CAM on misclassified test images).
- The saliency study's adversarial part lives in :mod:`drise_tf.studies.adversarial`, the Grad-CAM study in
  :mod:`drise_tf.studies.imagenet`.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drise_tf import training
from drise_tf.core import tables
from drise_tf.explain import make_explainer
from drise_tf.training import architectures
from drise_tf.training.evaluation import predict_probs

SWEEP_COLUMNS = ("strides", "kernel_size", "params", "best_val_accuracy", "test_accuracy")


def stride_kernel_sweep(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    strides: Sequence[int] = (1, 2, 3),
    kernels: Sequence[int] = (3, 4),
    epochs: Optional[int] = None,
    seed: int = 0,
    num_classes: int = 10,
    out_dir: Optional[str] = None,
    verbose: int = 0,
) -> List[Dict[str, Any]]:
    """Train ``simple_cnn`` for every (stride, kernel) pair with the ``adam_cnn`` recipe; one table row each.

    Parameters
    ----------
    x_train, y_train, x_test, y_test
        Standardised images (N, H, W, C) and int labels (N,); the recipe validates on the last 20% of train.
    strides, kernels : sequences of int
        The grid (the study: strides 1, 2, 3; kernels 3, 4).
    epochs : int, optional
        Override the recipe's 5 epochs.
    seed : int
        Seeds the recipe's data order (weights use Keras's default initialisers).
    num_classes : int
        Output classes (10 for CIFAR-10).
    out_dir : str, optional
        Where each run's checkpoints go (default: a temporary folder, removed afterwards).

    Returns
    -------
    list of dict
        Rows with :data:`SWEEP_COLUMNS`.
    """
    if not strides or not kernels:
        raise ValueError("strides and kernels must each contain at least one value")
    rows = []
    with tempfile.TemporaryDirectory(prefix="drise-sweep-") as scratch:
        root = out_dir or scratch
        for stride in strides:
            for kernel in kernels:
                model = architectures.simple_cnn(input_shape=tuple(x_train.shape[1:]), num_classes=num_classes,
                                                 strides=stride, kernel_size=kernel)
                history = training.train(model, (x_train, y_train), None, recipe="adam_cnn", epochs=epochs,
                                         seed=seed, out_dir=os.path.join(root, f"s{stride}_k{kernel}"),
                                         epoch0=False, verbose=verbose)
                predicted = predict_probs(model, x_test).argmax(axis=1)
                rows.append({
                    "strides": int(stride),
                    "kernel_size": int(kernel),
                    "params": int(model.count_params()),
                    "best_val_accuracy": float(np.nanmax(history["val_accuracy"])),
                    "test_accuracy": float(np.mean(predicted == np.asarray(y_test).reshape(-1))),
                })
    return rows


def write_table_csv(rows: Sequence[Dict[str, Any]], path: str, columns: Sequence[str] = SWEEP_COLUMNS) -> str:
    """Write the sweep table to ``path`` atomically (see :func:`drise_tf.core.tables.write_csv`); returns the path."""
    return tables.write_csv(rows, path, columns)


def format_table(rows: Sequence[Dict[str, Any]], columns: Sequence[str] = SWEEP_COLUMNS) -> str:
    """The sweep table as aligned plain text, for printing (see :func:`drise_tf.core.tables.format_table`)."""
    return tables.format_table(rows, columns)


def saliency_and_gradcam(
    model: Any, images: np.ndarray, targets: Any = None, *, layer: Optional[str] = None
) -> Dict[str, np.ndarray]:
    """Min-max normalised vanilla saliency and Grad-CAM maps (B, H, W) of ``images`` (the CNN study's figure)."""
    cam_options = {} if layer is None else {"layer": layer}
    return {
        "saliency": make_explainer("saliency", model, normalize="minmax").explain(images, targets),
        "gradcam": make_explainer("gradcam", model, normalize="minmax", **cam_options).explain(images, targets),
    }


def misclassified_gradcam(
    model: Any,
    images: np.ndarray,
    labels: Any,
    *,
    k: int = 8,
    target: str = "predicted",
    layer: Optional[str] = None,
    batch_size: int = 256,
) -> Dict[str, np.ndarray]:
    """Grad-CAM on the first ``k`` misclassified images (in data order), for a grid with true and predicted labels.

    Parameters
    ----------
    target : {"predicted", "true"}
        Which class the maps explain.

    Returns
    -------
    dict
        ``indices`` (n,), ``true`` (n,), ``predicted`` (n,), ``maps`` (n, H, W) min-max normalised; n <= k.
    """
    if target not in ("predicted", "true"):
        raise ValueError(f"target must be 'predicted' or 'true', got {target!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    y = np.asarray(labels).reshape(-1)
    if len(y) != len(images):
        raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(y)}")
    predicted = predict_probs(model, images, batch_size=batch_size).argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)[:k]
    cam_options = {} if layer is None else {"layer": layer}
    classes = predicted[wrong] if target == "predicted" else y[wrong]
    maps = (make_explainer("gradcam", model, normalize="minmax", **cam_options).explain(images[wrong], classes)
            if len(wrong) else np.zeros((0,) + tuple(images.shape[1:3]), np.float32))
    return {"indices": wrong, "true": y[wrong], "predicted": predicted[wrong], "maps": maps}
