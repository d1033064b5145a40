"""One interface for every saliency method: ``make(name, model, **options).explain(images, targets)``.

Every explainer returns float32 maps (B, H, W) at image resolution, one per image, for a class per image
(different classes in one batch are fine; default: the predicted class). ``normalize="none"`` (default) returns raw
maps, ``normalize="minmax"`` maps each one onto [0, 1] -- the same rule for every method
(:func:`normalize_maps`).

Methods (:func:`available`): ``drise``, ``rise`` (:mod:`drise_tf.drise`); ``saliency``, ``smoothgrad``,
``guided_backprop`` (:mod:`.gradients`); ``gradcam``, ``gradcam++``, ``scorecam``, ``faster_scorecam``
(:mod:`.cam`, option ``layer``). Gradient and CAM methods go through tf-keras-vis on a working copy of the model
(:func:`drise_tf.model_copies.working_copy`: logits instead of softmax, functional, float32); the user's model is
never modified. :func:`class_visualisation` renders class model images by activation maximisation.
"""
from __future__ import annotations

from drise_tf.explainers._base import (
    EXPLAINERS,
    NORMALIZATIONS,
    Explainer,
    available,
    check_images,
    check_targets,
    make,
    normalize_maps,
    register,
)
from drise_tf.explainers.cam import (
    CamExplainer,
    GradcamExplainer,
    GradcamPlusPlusExplainer,
    ScorecamExplainer,
    default_cam_layer,
)
from drise_tf.explainers.gradients import GuidedBackpropExplainer, SaliencyExplainer, SmoothGradExplainer
from drise_tf.explainers.masking import DRiseExplainer
from drise_tf.explainers.visualisation import class_visualisation

__all__ = [
    "EXPLAINERS", "NORMALIZATIONS", "Explainer", "available", "check_images", "check_targets", "make",
    "normalize_maps", "register", "CamExplainer", "GradcamExplainer", "GradcamPlusPlusExplainer",
    "ScorecamExplainer", "default_cam_layer", "GuidedBackpropExplainer", "SaliencyExplainer",
    "SmoothGradExplainer", "DRiseExplainer", "class_visualisation",
]
