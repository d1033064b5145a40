"""Adversarial examples: FGSM (Goodfellow et al. 2015) and the accuracy under attack over a range of epsilons."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras
from drise_tf.explain.model_copies import as_functional, outputs_probabilities


def _check(model: Any, images: Any, labels: Any) -> tuple:
    model = as_functional(model)
    x = np.asarray(images, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
        raise ValueError(f"images must have shape (B, {', '.join(map(str, expected))}), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    y = np.asarray(labels)
    classes = int(model.outputs[0].shape[-1])
    if y.ndim == 2 and y.shape[1] == classes:  # one-hot
        y = y.argmax(axis=1)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be int class indices of shape ({len(x)},) or one-hot ({len(x)}, {classes}), "
                         f"got {y.dtype} {np.asarray(labels).shape}")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes}), got values in [{y.min()}, {y.max()}]")
    return model, x, y.astype(np.int64)


def _check_epsilon(epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)):
        raise ValueError(f"epsilon must be a number >= 0, got {epsilon!r}")
    if not np.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    return float(epsilon)


def _clip_bounds(clip_min: Any, clip_max: Any) -> tuple:
    low = None if clip_min is None else np.asarray(clip_min, dtype=np.float32)
    high = None if clip_max is None else np.asarray(clip_max, dtype=np.float32)
    if low is not None and high is not None and np.any(low > high):
        raise ValueError(f"clip_min must not exceed clip_max, got {clip_min!r} > {clip_max!r}")
    return low, high


def loss_gradient_sign(
    model: Any, images: Any, labels: Any, *, from_logits: Optional[bool] = None, batch_size: int = 256
) -> np.ndarray:
    """sign(d CE(model(x), y) / d x), float32 like ``images``.

    ``from_logits`` None: inferred from the model's head (softmax/sigmoid -> probabilities, else logits).
    """
    model, x, y = _check(model, images, labels)
    logits = (not outputs_probabilities(model)) if from_logits is None else bool(from_logits)
    signs = []
    for start in range(0, len(x), batch_size):
        batch = tf.constant(x[start:start + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(batch)
            outputs = tf.cast(model(batch, training=False), tf.float32)
            loss = keras.losses.sparse_categorical_crossentropy(y[start:start + batch_size], outputs,
                                                                from_logits=logits)
        signs.append(np.sign(tape.gradient(loss, batch).numpy()))
    return np.concatenate(signs).astype(np.float32) if signs else np.zeros_like(x)


def fgsm(
    model: Any,
    images: Any,
    labels: Any,
    epsilon: float,
    *,
    clip_min: Any = None,
    clip_max: Any = None,
    from_logits: Optional[bool] = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Fast gradient sign attack: ``clip(x + epsilon * sign(grad_x CE(model(x), y)), clip_min, clip_max)``.

    Parameters
    ----------
    model : keras.Model
        Classifier (softmax or logits head); the loss is the categorical cross-entropy of the true label.
    images : array (B, H, W, C)
        In the model's input space (e.g. standardised).
    labels : array (B,) of int, or one-hot (B, K)
        True classes.
    epsilon : float
        Step size in the model's input space (>= 0).
    clip_min, clip_max : float or array broadcastable to the images, optional
        Valid range of the input space (e.g. per-channel ``(0 - mean) / std`` and ``(1 - mean) / std`` for
        standardised images); None: no bound.
    from_logits : bool, optional
        Whether the model returns logits; None infers it from the output activation.

    Returns
    -------
    np.ndarray
        float32 adversarial images, same shape as ``images``.
    """
    eps = _check_epsilon(epsilon)
    low, high = _clip_bounds(clip_min, clip_max)
    x = np.asarray(images, dtype=np.float32)
    adversarial = x + eps * loss_gradient_sign(model, x, labels, from_logits=from_logits, batch_size=batch_size)
    if low is not None or high is not None:
        adversarial = np.clip(adversarial, low, high)
    return adversarial.astype(np.float32)


def epsilon_sweep(
    model: Any,
    images: Any,
    labels: Any,
    epsilons: Sequence[float],
    *,
    clip_min: Any = None,
    clip_max: Any = None,
    from_logits: Optional[bool] = None,
    batch_size: int = 256,
) -> Dict[str, np.ndarray]:
    """Accuracy of ``model`` on FGSM images for each epsilon (the gradient signs are computed once).

    Returns
    -------
    dict
        ``{"epsilon": float array (E,), "accuracy": float array (E,)}``; epsilon 0 gives the clean accuracy.
    """
    eps = [_check_epsilon(e) for e in epsilons]
    if not eps:
        raise ValueError("epsilons must contain at least one value")
    low, high = _clip_bounds(clip_min, clip_max)
    functional, x, y = _check(model, images, labels)
    signs = loss_gradient_sign(functional, x, y, from_logits=from_logits, batch_size=batch_size)
    accuracy = []
    for e in eps:
        adversarial = x + e * signs
        if low is not None or high is not None:
            adversarial = np.clip(adversarial, low, high)
        predicted = np.concatenate([
            np.asarray(functional(adversarial[i:i + batch_size], training=False)).argmax(axis=-1)
            for i in range(0, len(x), batch_size)
        ])
        accuracy.append(float(np.mean(predicted == y)))
    return {"epsilon": np.asarray(eps, dtype=np.float64), "accuracy": np.asarray(accuracy, dtype=np.float64)}
