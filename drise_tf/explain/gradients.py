"""Gradient explainers through tf-keras-vis: vanilla saliency, SmoothGrad and guided backpropagation.

All three differentiate the class *logit* (a linear-head copy of a softmax model) and reduce the input gradient to
one map per image as Simonyan et al. do: absolute value, maximum over colour channels.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import GuidedBackpropagation
from tf_keras_vis.utils.scores import CategoricalScore

from drise_tf.explain.base import Explainer, register_explainer
from drise_tf.explain.model_copies import working_copy

#: Noisy copies per backward pass of SmoothGrad.
GRADIENT_BATCH = 256


class SaliencyExplainer(Explainer):
    """Vanilla saliency (Simonyan et al. 2013): max over channels of |d logit_c / d x|.

    Parameters
    ----------
    model : keras.Model
        The classifier (softmax or logits head).
    normalize : {"none", "minmax"}
        See :class:`~drise_tf.explain.Explainer`.
    """

    def __init__(self, model: Any, *, normalize: str = "none") -> None:
        super().__init__(model, normalize=normalize)
        self.saliency = Saliency(working_copy(self.model), clone=False)

    def gradients(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """|d logit_target / d image| per pixel and channel, (B, H, W, C)."""
        return np.asarray(
            self.saliency(CategoricalScore(list(targets)), images, keepdims=True, normalize_map=False)
        )

    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.gradients(images, targets).max(axis=-1)


class SmoothGradExplainer(SaliencyExplainer):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies, seeded.

    The noise of image i has standard deviation ``noise * (max(x_i) - min(x_i))``, as in tf-keras-vis, but is drawn
    from ``numpy.random.default_rng(seed)`` instead of the global NumPy state, so equal seeds give equal maps.

    Parameters
    ----------
    samples : int
        Number of noisy copies (>= 1).
    noise : float
        Noise level relative to each image's value range (>= 0).
    seed : int or numpy.random.Generator, optional
        Source of the noise.
    """

    def __init__(
        self, model: Any, *, samples: int = 20, noise: float = 0.2, seed: Any = None, normalize: str = "none"
    ) -> None:
        super().__init__(model, normalize=normalize)
        if not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be an int >= 1, got {samples!r}")
        if not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.samples, self.noise = int(samples), float(noise)
        self.rng = np.random.default_rng(seed)

    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        axes = tuple(range(1, images.ndim))
        sigma = self.noise * (images.max(axis=axes, keepdims=True) - images.min(axis=axes, keepdims=True))
        noisy = images + (sigma * self.rng.standard_normal((self.samples,) + images.shape)).astype(np.float32)
        noisy, repeated = noisy.reshape((-1,) + images.shape[1:]), np.tile(targets, self.samples)
        gradients = np.concatenate([  # every noisy copy of every image, GRADIENT_BATCH images per backward pass
            self.gradients(noisy[i : i + GRADIENT_BATCH], repeated[i : i + GRADIENT_BATCH])
            for i in range(0, len(noisy), GRADIENT_BATCH)
        ])
        return gradients.reshape((self.samples,) + images.shape).mean(axis=0).max(axis=-1)


class GuidedBackpropExplainer(SaliencyExplainer):
    """Guided backpropagation (Springenberg et al. 2015): ReLUs pass back only positive gradients at positive inputs.

    Uses tf-keras-vis's ``GuidedBackpropagation`` modifier on a copy of the model (plain ``ReLU`` layers are turned
    into ``Activation("relu")`` first so that the modifier sees them); the map is max over channels of |gradient|.
    """

    def __init__(self, model: Any, *, normalize: str = "none") -> None:
        Explainer.__init__(self, model, normalize=normalize)
        # The modifier edits layer activations in place: always on a clone, never on the user's layers.
        copy = working_copy(self.model, relu_layers_as_activations=True, force_copy=True)
        self.saliency = Saliency(copy, model_modifier=GuidedBackpropagation(), clone=False)


@register_explainer("saliency")
def _saliency(model: Any, *, normalize: str = "none") -> SaliencyExplainer:
    return SaliencyExplainer(model, normalize=normalize)


@register_explainer("smoothgrad")
def _smoothgrad(
    model: Any, *, samples: int = 20, noise: float = 0.2, seed: Optional[Any] = None, normalize: str = "none"
) -> SmoothGradExplainer:
    return SmoothGradExplainer(model, samples=samples, noise=noise, seed=seed, normalize=normalize)


@register_explainer("guided_backprop")
def _guided_backprop(model: Any, *, normalize: str = "none") -> GuidedBackpropExplainer:
    return GuidedBackpropExplainer(model, normalize=normalize)
