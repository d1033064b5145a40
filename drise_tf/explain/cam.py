"""Class activation maps through tf-keras-vis: Grad-CAM, Grad-CAM++, Score-CAM and Faster-Score-CAM.

Every CAM explainer works on a float32, linear-head copy of the model (Score-CAM applies its own softmax to the
scores of the masked images, so the copy's logits give one softmax, not two) and on one named layer: ``layer=`` or,
by default, :func:`default_cam_layer`. tf-keras-vis is always told not to go looking for a Conv2D on its own
(its seek would land on the last block's pre-BN conv or its 1x1 shortcut in a ResNet).
"""
from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np
import tensorflow as tf
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.scores import CategoricalScore

from drise_tf.core.compat import keras
from drise_tf.explain.base import Explainer, register_explainer
from drise_tf.explain.model_copies import as_functional, working_copy

_POOLING = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)

#: Default memory budget (bytes) of one Score-CAM call: images x channels x H x W x C float32 masked inputs.
SCORECAM_BUDGET = 256 * 2**20
#: Default number of channels Faster-Score-CAM keeps (tf-keras-vis's example value).
FASTER_SCORECAM_N = 10


def _output_shape(layer: Any) -> Optional[tuple]:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):  # shared layers have no single output
        return None


def default_cam_layer(model: Any) -> str:
    """Name of the layer a CAM explains by default: the last layer (in graph order) whose output is a feature map.

    That is the last layer with a 4-D output of more than one spatial position that is neither pooling nor
    BatchNormalization (a per-channel affine map of the convolution before it) -- for the thesis ResNet-18 the last
    block's output after the add and the ReLU (``stage4_block2_out``), for Keras's ResNet50 ``conv5_block3_out``,
    for VGG16 ``block5_conv3``, for the Keras CNN study's simple_cnn its last convolution ``conv2`` (what
    tf-keras-vis's own search for the penultimate convolution finds).

    Raises
    ------
    ValueError
        If the model has no such layer.
    """
    model = as_functional(model)
    for layer in reversed(model.layers):
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.BatchNormalization) + _POOLING):
            continue
        shape = _output_shape(layer)
        if shape is not None and len(shape) == 4 and (shape[1] or 2) * (shape[2] or 2) > 1:
            return layer.name
    raise ValueError(f"model {model.name!r} has no layer with a (B, h, w, c) output; CAM methods need one")


def check_cam_layer(model: Any, layer: Optional[str]) -> str:
    """``layer`` if it names a layer of ``model`` with a 4-D output, else ValueError; None -> the default."""
    if layer is None:
        return default_cam_layer(model)
    try:
        found = model.get_layer(layer)
    except ValueError:
        raise ValueError(f"layer {layer!r} is not a layer of model {model.name!r}") from None
    shape = _output_shape(found)
    if shape is None or len(shape) != 4:
        raise ValueError(f"layer {layer!r} must output a (B, h, w, c) feature map, its output shape is {shape}")
    return layer


class CamExplainer(Explainer):
    """Common set-up of the CAM explainers: working copy, checked layer, tf-keras-vis object.

    Parameters
    ----------
    model : keras.Model
        The classifier; softmax heads, Sequential and bfloat16/float16 models are handled on a copy.
    layer : str, optional
        Layer whose feature maps are weighted; default :func:`default_cam_layer`.
    normalize : {"none", "minmax"}
        See :class:`~drise_tf.explain.Explainer`.
    """

    visualisation_class: Any = Gradcam

    def __init__(self, model: Any, *, layer: Optional[str] = None, normalize: str = "none") -> None:
        super().__init__(model, normalize=normalize)
        self.layer = check_cam_layer(self.model, layer)
        self.cam = self.visualisation_class(working_copy(self.model), clone=False)

    def _call_options(self) -> dict:
        return {}

    def _score(self, targets: np.ndarray) -> Any:
        """The tf-keras-vis score of the target classes."""
        return CategoricalScore(list(targets))

    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.cam(
            self._score(targets),
            images,
            penultimate_layer=self.layer,
            seek_penultimate_conv_layer=False,
            normalize_cam=False,
            **self._call_options(),
        )


class GradcamExplainer(CamExplainer):
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k mean(dy_c/dA_k) A_k), bilinearly resized to the image."""


class GradcamPlusPlusExplainer(CamExplainer):
    """Grad-CAM++ (Chattopadhay et al. 2018), through tf-keras-vis ``GradcamPlusPlus``.

    tf-keras-vis multiplies the gradients by ``exp(logit)``, which overflows to NaN for logits above ~88. The score
    here is the target logit minus the (constant, gradient-stopped) largest logit: the gradients are unchanged and
    each raw map is tf-keras-vis's times ``exp(-max logit)``, a positive per-image factor (same shape, finite).
    """

    visualisation_class = GradcamPlusPlus

    def _score(self, targets: np.ndarray) -> Any:
        indices = tf.constant(np.asarray(targets, dtype=np.int64))

        def shifted_logit(output: tf.Tensor) -> tf.Tensor:
            return tf.gather(output, indices, batch_dims=1) - tf.stop_gradient(tf.reduce_max(output, axis=-1))

        return shifted_logit


class ScorecamExplainer(CamExplainer):
    """Score-CAM (Wang et al. 2020); with ``max_n`` the Faster-Score-CAM variant (top ``max_n`` channels by variance).

    Score-CAM runs one forward pass per channel and image: 512 channels of ResNet-18 cost 512 passes per image,
    2048 of ResNet50 cost 2048 passes of 224x224 images. ``faster_scorecam`` is the practical choice
    (``max_n`` = min(10, channels) by default); see ``benchmarks/explainers_bench.py``. Images are sent in
    chunks whose masked copies fit ``memory_budget`` bytes (at least one image per chunk).

    Parameters
    ----------
    max_n : int, optional
        Number of channels kept (None: all channels, plain Score-CAM; with ``faster``: min(10, channels)).
    faster : bool
        Faster-Score-CAM: keep only the ``max_n`` channels of largest spatial variance, per image.
    batch_size : int
        Masked images per forward pass.
    memory_budget : int
        Bytes allowed for the masked inputs of one call.
    """

    visualisation_class = Scorecam

    def __init__(
        self,
        model: Any,
        *,
        layer: Optional[str] = None,
        max_n: Optional[int] = None,
        faster: bool = False,
        batch_size: int = 32,
        memory_budget: int = SCORECAM_BUDGET,
        normalize: str = "none",
    ) -> None:
        super().__init__(model, layer=layer, normalize=normalize)
        # tf-keras-vis scores the masked images with model.predict: use a silent view (shares the copy's layers).
        silent = keras.Model(self.cam.model.inputs, self.cam.model.outputs)
        silent.predict = functools.partial(silent.predict, verbose=0)
        self.cam.model = silent
        channels = int(self.model.get_layer(self.layer).output.shape[-1])
        if faster and max_n is None:
            max_n = min(FASTER_SCORECAM_N, channels)
        if max_n is not None and (not isinstance(max_n, (int, np.integer)) or not 1 <= max_n <= channels):
            raise ValueError(
                f"max_n must be None or an int in [1, {channels}] (channels of {self.layer!r}), got {max_n!r}"
            )
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.max_n, self.batch_size = max_n, int(batch_size)
        per_image = (max_n or channels) * int(np.prod(self.model.inputs[0].shape[1:])) * 4
        # tf-keras-vis keeps the union of every image's top channels of a batch: one image per call keeps
        # Faster-Score-CAM's per-image definition (a map must not depend on its batch neighbours).
        self.max_images = 1 if max_n is not None else max(1, int(memory_budget) // per_image)

    def _call_options(self) -> dict:
        return {"max_N": self.max_n, "batch_size": self.batch_size}


@register_explainer("gradcam")
def _gradcam(model: Any, *, layer: Optional[str] = None, normalize: str = "none") -> GradcamExplainer:
    return GradcamExplainer(model, layer=layer, normalize=normalize)


@register_explainer("gradcam++")
def _gradcam_plus_plus(model: Any, *, layer: Optional[str] = None, normalize: str = "none") -> GradcamPlusPlusExplainer:
    return GradcamPlusPlusExplainer(model, layer=layer, normalize=normalize)


@register_explainer("scorecam")
def _scorecam(
    model: Any, *, layer: Optional[str] = None, batch_size: int = 32, memory_budget: int = SCORECAM_BUDGET,
    normalize: str = "none",
) -> ScorecamExplainer:
    return ScorecamExplainer(model, layer=layer, batch_size=batch_size, memory_budget=memory_budget,
                             normalize=normalize)


@register_explainer("faster_scorecam")
def _faster_scorecam(
    model: Any, *, layer: Optional[str] = None, max_n: Optional[int] = None, batch_size: int = 32,
    memory_budget: int = SCORECAM_BUDGET, normalize: str = "none",
) -> ScorecamExplainer:
    return ScorecamExplainer(
        model, layer=layer, max_n=max_n, faster=True, batch_size=batch_size, memory_budget=memory_budget,
        normalize=normalize,
    )
