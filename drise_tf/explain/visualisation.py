"""Class model visualisation (Simonyan et al. 2013) by activation maximisation with tf-keras-vis, seeded."""
from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np
import tensorflow as tf
from scipy.ndimage import rotate
from tf_keras_vis.activation_maximization import ActivationMaximization
from tf_keras_vis.activation_maximization.input_modifiers import InputModifier
from tf_keras_vis.activation_maximization.regularizers import Norm, TotalVariation2D
from tf_keras_vis.utils.scores import CategoricalScore

from drise_tf.core.compat import keras
from drise_tf.explain.model_copies import as_functional, working_copy


class SeededJitter(InputModifier):
    """Random roll of up to ``jitter`` pixels per axis, drawn from ``rng`` (tf-keras-vis's Jitter uses global state)."""

    def __init__(self, jitter: int, rng: np.random.Generator) -> None:
        self.jitter, self.rng = int(jitter), rng

    def __call__(self, seed_input: Any) -> Any:
        shift = tuple(int(s) for s in self.rng.integers(-self.jitter, self.jitter, 2, endpoint=True))
        return tf.roll(seed_input, shift=shift, axis=(1, 2))


class SeededRotate(InputModifier):
    """Random rotation of up to ``degree`` degrees in the image plane, drawn from ``rng``."""

    def __init__(self, degree: float, rng: np.random.Generator) -> None:
        self.degree, self.rng = float(degree), rng

    def __call__(self, seed_input: Any) -> np.ndarray:
        values = np.asarray(seed_input, dtype=np.float32)
        angle = self.rng.uniform(-self.degree, self.degree)
        return rotate(values, angle, axes=(1, 2), reshape=False, order=1, mode="reflect", prefilter=False)


def class_visualisation(
    model: Any,
    classes: Sequence[int],
    *,
    steps: int = 200,
    seed: Any = 0,
    input_range: Tuple[float, float] = (-2.0, 2.0),
    jitter: int = 2,
    rotation: float = 1.0,
    total_variation: float = 1.0,
    norm: float = 0.3,
    learning_rate: float = 0.1,
) -> np.ndarray:
    """One image per class that maximises the class logit (tf-keras-vis ``ActivationMaximization``).

    Parameters
    ----------
    model : keras.Model
        The classifier; optimised through a linear-head float32 copy (the logit, not the softmax).
    classes : sequence of int
        Class indices, one image each.
    steps : int
        Optimisation steps (>= 1).
    seed : int or numpy.random.Generator
        Seeds the start images and the jitter/rotation; equal seeds give equal images.
    input_range : (low, high)
        Range of the model's input space the images are clipped to (the default suits standardised CIFAR-10).
    jitter, rotation : int, float
        Random roll (pixels) and rotation (degrees) applied before every step (0 disables them).
    total_variation, norm : float
        Weights of tf-keras-vis's ``TotalVariation2D`` and ``Norm(p=1)`` regularisers (0 disables them).
    learning_rate : float
        Learning rate of the RMSprop optimiser (rho 0.999, as tf-keras-vis's default).

    Returns
    -------
    np.ndarray
        float32 images (len(classes), H, W, C) in the model's input space.
    """
    functional = as_functional(model)
    num_classes = int(functional.outputs[0].shape[-1])
    indices = np.asarray(classes)
    if indices.ndim != 1 or len(indices) == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"classes must be a non-empty sequence of int class indices, got {classes!r}")
    if indices.min() < 0 or indices.max() >= num_classes:
        raise ValueError(f"classes must lie in [0, {num_classes}), got {indices.tolist()}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    low, high = (float(v) for v in input_range)
    if not low < high:
        raise ValueError(f"input_range must be (low, high) with low < high, got {input_range!r}")
    rng = np.random.default_rng(seed)
    shape = (len(indices),) + tuple(functional.inputs[0].shape[1:])
    middle = (low + high) / 2  # start near the middle of the range, with 10% of its spread as noise
    start = (middle + 0.1 * (rng.uniform(low, high, shape) - middle)).astype(np.float32)
    modifiers = ([SeededJitter(jitter, rng)] if jitter else []) + ([SeededRotate(rotation, rng)] if rotation else [])
    regularizers = ([TotalVariation2D(weight=total_variation)] if total_variation else []) + (
        [Norm(weight=norm, p=1)] if norm else []
    )
    visualiser = ActivationMaximization(working_copy(functional), clone=False)
    images = visualiser(
        CategoricalScore([int(c) for c in indices]),
        seed_input=start,
        input_range=(low, high),
        input_modifiers=modifiers,
        regularizers=regularizers,
        steps=int(steps),
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate, rho=0.999),
    )
    return np.asarray(images, dtype=np.float32)
