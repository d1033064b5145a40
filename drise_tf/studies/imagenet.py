"""The Grad-CAM study: an ImageNet classifier (ResNet50 by default) on CIFAR-10 images resized 32 -> 224.

The 1000 ImageNet class names ship with the package (``resources/imagenet_classes.json``, byte-identical to Keras's
``imagenet_class_index.json``, MD5 ``c2c37ea517e94d9795004a39431a14cb``), so labels are decoded offline --
``keras.applications.*.decode_predictions`` would download that file.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras
from drise_tf.data import CLASS_NAMES
from drise_tf.explain import make_explainer
from drise_tf.training import architectures

#: ImageNet channel mean and std (RGB, on [0, 1] pixels) used by the Grad-CAM study
#: (docs/thesis.md, "The neighbouring studies").
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: The CIFAR-10 classes of the study's five samples, in figure order.
STUDY_CLASSES = ("airplane", "automobile", "ship", "truck", "horse")
PREPROCESSING = ("torch", "caffe")
#: MD5 of Keras's imagenet_class_index.json (the ``file_hash`` Keras checks when it downloads it).
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"


@functools.lru_cache(maxsize=1)
def class_index() -> Tuple[Tuple[str, str], ...]:
    """The 1000 ImageNet classes in index order as ``(wordnet_id, keras_name)``, e.g. ``("n01440764", "tench")``."""
    text = resources.files("drise_tf").joinpath("resources/imagenet_classes.json").read_text(encoding="utf-8")
    table = json.loads(text)
    return tuple((table[str(i)][0], table[str(i)][1]) for i in range(len(table)))


def class_names() -> List[str]:
    """Readable ImageNet class names in index order (Keras's names with spaces: 0 "tench" ... 999 "toilet tissue").

    Two names occur twice, as in ImageNet itself: "crane" (bird 134, machine 517) and "maillot" (638, 639);
    the WordNet ids of :func:`class_index` tell them apart.
    """
    return [name.replace("_", " ") for _, name in class_index()]


def decode_predictions(probs: Any, top: int = 5) -> List[List[Tuple[int, str, float]]]:
    """Offline ``decode_predictions``: for each row, the ``top`` classes as ``(index, name, probability)``, best first.

    Raises
    ------
    ValueError
        If ``probs`` is not (B, 1000) or ``top`` is not in [1, 1000].
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_index()):
        raise ValueError(f"probs must have shape (B, {len(class_index())}), got {p.shape}")
    if not isinstance(top, (int, np.integer)) or not 1 <= top <= p.shape[1]:
        raise ValueError(f"top must be an int in [1, {p.shape[1]}], got {top!r}")
    names = class_names()
    order = np.argsort(-p, axis=1, kind="stable")[:, :top]
    return [[(int(i), names[i], float(row[i])) for i in idx] for row, idx in zip(p, order)]


def _check_uint8_images(images: Any) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 3 or len(x) == 0:
        raise ValueError(f"images must have shape (B, H, W, 3) with B >= 1, got {x.shape}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
        raise ValueError("images must be RGB pixels in [0, 255] (uint8 CIFAR-10 images)")
    return x.astype(np.float32)


def resize(images: Any, size: int = 224) -> np.ndarray:
    """Bilinear resize of RGB pixel images (B, H, W, 3) in [0, 255] to (B, size, size, 3), float32 in [0, 255]."""
    x = _check_uint8_images(images)
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if x.shape[1:3] == (size, size):
        return x
    return np.clip(tf.image.resize(x, (size, size), method="bilinear").numpy(), 0, 255).astype(np.float32)


def preprocess(images: Any, *, size: int = 224, mode: str = "torch") -> np.ndarray:
    """Resize CIFAR-10 pixels to ``size`` and apply ImageNet preprocessing.

    Parameters
    ----------
    images : array (B, H, W, 3)
        RGB pixels in [0, 255].
    size : int
        Output height and width (224 in the study).
    mode : {"torch", "caffe"}
        ``"torch"`` (the study, docs/thesis.md): ``(x / 255 - mean) / std`` with the ImageNet RGB mean and std.
        ``"caffe"``: ``keras.applications.resnet50.preprocess_input`` (BGR, mean subtracted), which is what
        Keras's pretrained ResNet50/VGG16 weights were trained with.

    Returns
    -------
    np.ndarray
        float32 (B, size, size, 3) model inputs.
    """
    if mode not in PREPROCESSING:
        raise ValueError(f"mode must be one of {PREPROCESSING}, got {mode!r}")
    x = resize(images, size)
    if mode == "caffe":
        return np.asarray(keras.applications.resnet50.preprocess_input(x.copy()), dtype=np.float32)
    return ((x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)


def pick_samples(labels: Any, classes: Sequence[str] = STUDY_CLASSES) -> np.ndarray:
    """Index of the first image of each CIFAR-10 class in ``classes`` (default: the study's five), in that order.

    Raises
    ------
    ValueError
        Unknown class name, or no image of a class in ``labels``.
    """
    y = np.asarray(labels).reshape(-1)
    picked = []
    for name in classes:
        if name not in CLASS_NAMES:
            raise ValueError(f"classes: {name!r} is not a CIFAR-10 class ({', '.join(CLASS_NAMES)})")
        hits = np.flatnonzero(y == CLASS_NAMES.index(name))
        if len(hits) == 0:
            raise ValueError(f"labels contain no image of class {name!r}")
        picked.append(int(hits[0]))
    return np.asarray(picked, dtype=np.int64)


def load_resnet50(weights: Any = "imagenet", **kwargs: Any) -> Any:
    """Keras's ResNet50 (``include_top=True``); offline with ``weights="imagenet"`` -> RuntimeError saying what
    to do."""
    return architectures.imagenet_backbone("resnet50", weights=weights, **kwargs)


def imagenet_on_cifar(
    model: Any,
    images: Any,
    *,
    methods: Sequence[str] = ("gradcam", "gradcam++", "faster_scorecam"),
    preprocessing: str = "caffe",
    layer: Optional[str] = None,
    normalize: str = "minmax",
    top: int = 5,
    method_options: Optional[Dict[str, Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """The Grad-CAM study on a few CIFAR-10 images: ImageNet top labels and CAMs of the top-1 class, side by side.

    Parameters
    ----------
    model : keras.Model
        An ImageNet classifier (e.g. :func:`load_resnet50`); its input size sets the resize (224 for ResNet50).
    images : array (B, 32, 32, 3)
        uint8 CIFAR-10 images (e.g. ``x_test[pick_samples(y_test)]``).
    methods : sequence of str
        Explainer names (:func:`drise_tf.explain.available_explainers`). Plain ``"scorecam"`` is allowed but costs one
        ResNet50 pass per channel (2048 per image); ``"faster_scorecam"`` is the practical Score-CAM.
    preprocessing : {"caffe", "torch"}
        See :func:`preprocess`. Default ``"caffe"``: what Keras's ImageNet weights were trained with. The study
        (docs/thesis.md, "The neighbouring studies") used ``"torch"`` mean/std with PyTorch weights; on Keras's
        weights that mismatch degrades labels.
    layer : str, optional
        CAM layer (default: :func:`drise_tf.explain.default_cam_layer`, ``conv5_block3_out`` for ResNet50).
    normalize : {"none", "minmax"}
        Map normalisation (min-max for display by default).
    top : int
        Number of decoded labels per image.
    method_options : dict, optional
        Extra options per method name, e.g. ``{"faster_scorecam": {"max_n": 32}}``.

    Returns
    -------
    dict
        ``images``: uint8 (B, S, S, 3) resized for display; ``inputs``: model inputs; ``predictions``: per image
        a list of ``(index, name, probability)``; ``targets``: top-1 indices (B,); ``maps``: method -> (B, S, S).
    """
    size = int(model.inputs[0].shape[1])
    inputs = preprocess(images, size=size, mode=preprocessing)
    probs = np.asarray(model(inputs, training=False), dtype=np.float64)
    if probs.shape[-1] != len(class_index()):
        raise ValueError(f"model must output {len(class_index())} ImageNet classes, it outputs {probs.shape[-1]}")
    predictions = decode_predictions(probs, top=top)
    targets = np.array([row[0][0] for row in predictions], dtype=np.int64)
    options = method_options or {}
    maps = {}
    for name in methods:
        cam_options = {"layer": layer} if layer is not None and name not in ("drise", "rise") else {}
        explainer = make_explainer(name, model, normalize=normalize, **cam_options, **options.get(name, {}))
        maps[name] = explainer.explain(inputs, targets)
    return {
        "images": resize(images, size).round().astype(np.uint8),
        "inputs": inputs,
        "predictions": predictions,
        "targets": targets,
        "maps": maps,
    }
