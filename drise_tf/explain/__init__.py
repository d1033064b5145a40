"""Every saliency method behind one interface: ``make_explainer(name, model, **options).explain(images, targets)``.

Every explainer (:class:`Explainer`) returns float32 maps (B, H, W) at image resolution, one per image, for a class
per image (different classes in one batch are fine; default: the predicted class). ``normalize="none"`` (default)
returns raw maps, ``normalize="minmax"`` maps each one onto [0, 1], the same rule for every method
(:func:`normalize_maps`).

Methods (:func:`available_explainers`): ``drise`` and ``rise`` (:mod:`.drise`: :class:`DRise`, black-box, with its
masks :mod:`.masks` and similarity scores :mod:`.similarity`); ``saliency``, ``smoothgrad``, ``guided_backprop``
(:mod:`.gradients`); ``gradcam``, ``gradcam++``, ``scorecam``, ``faster_scorecam`` (:mod:`.cam`, option ``layer``).
Gradient and CAM methods go through tf-keras-vis on a working copy of the model (:mod:`.model_copies`: logits
instead of softmax, functional, float32); the user's model is never modified. :func:`class_visualisation` renders
class model images by activation maximisation (:mod:`.visualisation`).
"""
from __future__ import annotations

from drise_tf.explain import masks, similarity
from drise_tf.explain.base import (
    EXPLAINERS,
    NORMALIZATIONS,
    Explainer,
    available_explainers,
    check_images,
    check_targets,
    make_explainer,
    normalize_maps,
    register_explainer,
    smooth_maps,
)
from drise_tf.explain.cam import (
    CamExplainer,
    GradcamExplainer,
    GradcamPlusPlusExplainer,
    ScorecamExplainer,
    default_cam_layer,
)
from drise_tf.explain.drise import AGGREGATIONS, DRise
from drise_tf.explain.gradients import (
    GuidedBackpropExplainer,
    SaliencyExplainer,
    SmoothGradExplainer,
)
from drise_tf.explain.visualisation import class_visualisation

__all__ = [
    "masks", "similarity", "EXPLAINERS", "NORMALIZATIONS", "Explainer", "available_explainers", "check_images",
    "check_targets", "make_explainer", "normalize_maps", "smooth_maps", "register_explainer", "CamExplainer",
    "GradcamExplainer",
    "GradcamPlusPlusExplainer", "ScorecamExplainer", "default_cam_layer", "AGGREGATIONS", "DRise",
    "GuidedBackpropExplainer", "SaliencyExplainer", "SmoothGradExplainer", "class_visualisation",
]
