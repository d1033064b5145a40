"""Evaluation of a trained classifier: loss, accuracy, per-class accuracy, confusion matrix, image selection."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from drise_tf.core import sharding
from drise_tf.data import CLASS_NAMES, make_eval_dataset

#: Probabilities are clipped to [EPSILON, 1] before the log, as Keras's categorical cross-entropy does.
EPSILON = 1e-7


def _labels(y: Any, name: str, num_classes: Optional[int] = None) -> np.ndarray:
    """Integer class labels of shape (N,) from (N,) or (N, 1) input, checked against 0..num_classes-1."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be class indices of shape (N,) or (N, 1), got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has negative class indices (min {y.min()})")
    if y.size and num_classes is not None and y.max() >= num_classes:
        raise ValueError(f"{name} has class indices outside 0..{num_classes - 1} (max {y.max()})")
    return y


def predict_probs(model: Any, x_std: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Model outputs for standardised images, in batches.

    Parameters
    ----------
    model : keras.Model
        Classifier taking standardised images.
    x_std : np.ndarray
        (N, H, W, C) standardised images, N >= 1, finite.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    np.ndarray
        float32 (N, num_classes).
    """
    x_std = np.asarray(x_std)
    if x_std.ndim != 4 or x_std.shape[0] < 1:
        raise ValueError(f"x_std must be a non-empty batch of images (N, H, W, C), got shape {x_std.shape}")
    if not np.issubdtype(x_std.dtype, np.floating) or not np.all(np.isfinite(x_std)):
        raise ValueError(f"x_std must be finite floating-point standardised images, got dtype {x_std.dtype}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    x_std = x_std.astype(np.float32, copy=False)
    if sharding.is_multi_worker(model.distribute_strategy):  # Keras 3's predict does not run across workers
        return np.concatenate([np.asarray(model(x_std[i : i + batch_size], training=False), dtype=np.float32)
                               for i in range(0, len(x_std), batch_size)])
    replicas = sharding.replica_count(model.distribute_strategy)
    padded = sharding.pad_rows(x_std, replicas)
    batches = make_eval_dataset(padded, batch_size=max(int(batch_size), replicas), replicas=replicas)
    return np.asarray(model.predict(batches, verbose=0), dtype=np.float32)[: len(x_std)]


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = 10) -> np.ndarray:
    """Confusion matrix: entry [i, j] counts images of true class i predicted as class j.

    Returns
    -------
    np.ndarray
        int64 (num_classes, num_classes).
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    y_true = _labels(y_true, "y_true", num_classes)
    y_pred = _labels(y_pred, "y_pred", num_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def _losses_and_predictions(outputs: np.ndarray, y: np.ndarray, from_logits: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Per-image cross-entropy (probabilities clipped to [EPSILON, 1] as Keras does) and predicted classes."""
    probs = outputs
    if from_logits:
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p_true = np.clip(probs[np.arange(y.shape[0]), y].astype(np.float64), EPSILON, 1.0)
    return -np.log(p_true), probs.argmax(axis=1)


def evaluate_stream(
    model: Any, batches: Iterable[Tuple[Any, Any]], *, from_logits: bool = False
) -> Tuple[float, float]:
    """Mean loss and accuracy of ``model`` over a stream of ``(images, one-hot labels)`` batches, e.g. a training
    epoch of :func:`drise_tf.data.make_train_dataset` (the thesis scored its epoch-0 training point on that stream).

    The same cross-entropy as :func:`evaluate`; batches go through the model one by one, so the stream is never
    held in memory.
    """
    total_loss, hits, count = 0.0, 0, 0
    for images, targets in batches:
        y = np.asarray(targets).argmax(axis=1)
        losses, predicted = _losses_and_predictions(np.asarray(model(images, training=False), np.float32), y,
                                                    from_logits)
        total_loss, hits, count = total_loss + losses.sum(), hits + int((predicted == y).sum()), count + len(y)
    if count == 0:
        raise ValueError("batches is empty: nothing to evaluate")
    return total_loss / count, hits / count


def evaluate(
    model: Any,
    x_std: np.ndarray,
    y: Any,
    *,
    batch_size: int = 256,
    class_names: Sequence[str] = CLASS_NAMES,
    from_logits: bool = False,
) -> Dict[str, Any]:
    """Loss, accuracy, per-class accuracy and confusion matrix of ``model`` on labelled images.

    Parameters
    ----------
    model : keras.Model
        Classifier on standardised images; outputs probabilities (or logits with ``from_logits=True``).
    x_std : np.ndarray
        (N, H, W, C) standardised images.
    y : array-like
        (N,) or (N, 1) integer labels.
    class_names : sequence of str
        One name per model output.

    Returns
    -------
    dict
        ``n``, ``loss`` (mean categorical cross-entropy), ``accuracy``, ``per_class_accuracy`` ({name: acc},
        None for a class without images), ``confusion_matrix`` (list of lists, rows true, columns predicted).
    """
    num_classes = len(class_names)
    y = _labels(y, "y", num_classes)
    probs = predict_probs(model, x_std, batch_size=batch_size)
    if probs.shape != (y.shape[0], num_classes):
        raise ValueError(
            f"model outputs shape {probs.shape} but {y.shape[0]} labels and {num_classes} class_names were given"
        )
    losses, predicted = _losses_and_predictions(probs, y, from_logits)
    matrix = confusion_matrix(y, predicted, num_classes)
    support = matrix.sum(axis=1)
    per_class = {
        str(name): (float(matrix[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)
    }
    return {
        "n": int(y.shape[0]),
        "loss": float(losses.mean()),
        "accuracy": float((predicted == y).mean()),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def select_images(y_true: Any, y_pred: Any, *, true_class: int, predicted_class: int, k: int) -> np.ndarray:
    """Indices of the first ``k`` images (dataset order) of ``true_class`` predicted as ``predicted_class``.

    E.g. ``select_images(y_test, pred, true_class=3, predicted_class=5, k=5)``: the first 5 cats taken for dogs.
    Fewer than ``k`` indices are returned when fewer images match.
    """
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    for arg, value in (("true_class", true_class), ("predicted_class", predicted_class)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{arg} must be a non-negative class index, got {value!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return np.flatnonzero((y_true == true_class) & (y_pred == predicted_class))[:k].astype(np.int64)


def prediction_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in bits of each probability vector (the thesis computed it for every selected image)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return -(probs * np.log2(probs)).sum(axis=-1)


def format_evaluation(evaluation: Dict[str, Any], class_names: Sequence[str] = CLASS_NAMES) -> str:
    """A printable report: loss, accuracy, per-class accuracy and the raw confusion matrix."""
    matrix = np.asarray(evaluation["confusion_matrix"], dtype=np.int64)
    names = [str(name) for name in class_names]
    if matrix.shape != (len(names), len(names)):
        raise ValueError(f"confusion_matrix has shape {matrix.shape}, expected {(len(names), len(names))}")
    lines = [
        f"loss {evaluation['loss']:.4f}   accuracy {evaluation['accuracy']:.4f}"
        + (f"   ({evaluation['n']} images)" if "n" in evaluation else ""),
        "per-class accuracy:",
    ]
    for name in names:
        acc = evaluation["per_class_accuracy"].get(name)
        lines.append(f"  {name:<12s} " + ("   n/a" if acc is None else f"{acc:.4f}"))
    width = max(6, len(str(matrix.max())) + 1)
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines.append(" " * 13 + "".join(f"{name[:width - 1]:>{width}s}" for name in names))
    for name, row in zip(names, matrix):
        lines.append(f"  {name:<11s}" + "".join(f"{count:>{width}d}" for count in row))
    return "\n".join(lines)
