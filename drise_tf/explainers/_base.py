"""The explainer interface, its registry, input checks and the one normalisation rule shared by every method."""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, Callable, List, Optional

import numpy as np

from drise_tf.model_copies import as_functional
from drise_tf.registry import Registry

NORMALIZATIONS = ("none", "minmax")

#: name -> factory ``(model, **options) -> Explainer``.
EXPLAINERS: Registry[Callable[..., "Explainer"]] = Registry("explainer")


def normalize_maps(maps: np.ndarray, how: str = "minmax") -> np.ndarray:
    """Normalise each map of ``maps`` (B, H, W) on its own.

    ``"none"`` returns the maps unchanged; ``"minmax"`` maps each map linearly onto [0, 1]
    (``(m - min) / (max - min)``; a constant map becomes all zeros).
    """
    if how not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {how!r}")
    maps = np.asarray(maps, dtype=np.float32)
    if how == "none":
        return maps
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)


def check_images(images: Any, model: Any) -> np.ndarray:
    """``images`` as a float32 array (B, H, W, C) matching ``model``'s input; ValueError otherwise."""
    x = np.asarray(images)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"images must be a numeric array, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or len(x) == 0:
        raise ValueError(f"images must have shape (B, {', '.join(map(str, expected))}) with B >= 1, got {x.shape}")
    if any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
        raise ValueError(f"images have shape {x.shape}, the model expects (B, {', '.join(map(str, expected))})")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    return x


def check_targets(targets: Any, count: int, num_classes: int) -> np.ndarray:
    """``targets`` as int64 class indices of shape (count,); a scalar is repeated. ValueError otherwise."""
    t = np.asarray(targets)
    if t.ndim == 0:
        t = np.full(count, t)
    if t.shape != (count,):
        raise ValueError(f"targets must have shape ({count},) (one class per image), got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        if not np.issubdtype(t.dtype, np.floating) or not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError(f"targets must be integer class indices, got {t.dtype} values {t[:5]}")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= num_classes:
        raise ValueError(f"targets must be class indices in [0, {num_classes}), got values in [{t.min()}, {t.max()}]")
    return t


class Explainer(ABC):
    """One saliency method bound to one model.

    Parameters
    ----------
    model : keras.Model
        A classifier with one image input (B, H, W, C) and one output (B, K); never modified.
    normalize : {"none", "minmax"}
        "none" (default) returns raw maps; "minmax" maps every map onto [0, 1] (see :func:`normalize_maps`).
    """

    #: Largest number of images passed to the method at once (None: the whole batch).
    max_images: Optional[int] = None

    def __init__(self, model: Any, *, normalize: str = "none") -> None:
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.model = as_functional(model)
        self.normalize = normalize
        self.num_classes = int(self.model.outputs[0].shape[-1])

    def explain(self, images: Any, targets: Any = None) -> np.ndarray:
        """Saliency maps of ``images`` for ``targets``.

        Parameters
        ----------
        images : array (B, H, W, C)
            Model-input images (e.g. standardised).
        targets : int or array (B,), optional
            Class index per image (different classes in one batch are fine); default: the predicted class.

        Returns
        -------
        np.ndarray
            float32 maps (B, H, W) at image resolution, raw or normalised per ``normalize``.
        """
        x = check_images(images, self.model)
        t = self.predicted(x) if targets is None else check_targets(targets, len(x), self.num_classes)
        step = self.max_images or len(x)
        maps = [self._explain(x[i:i + step], t[i:i + step]) for i in range(0, len(x), step)]
        maps = np.concatenate([np.asarray(m, dtype=np.float32).reshape(-1, *x.shape[1:3]) for m in maps])
        return normalize_maps(maps, self.normalize)

    def predicted(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Predicted class of each image (argmax of the model output)."""
        scores = [np.asarray(self.model(images[i:i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
        return np.concatenate(scores).argmax(axis=-1)

    @abstractmethod
    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Raw maps (B, H, W) of checked float32 ``images`` for checked int ``targets``."""


def register(name: str, factory: Optional[Callable[..., Explainer]] = None, *, overwrite: bool = False) -> Any:
    """Register an explainer factory ``(model, **options) -> Explainer`` under ``name`` (usable as a decorator)."""
    return EXPLAINERS.register(name, factory, overwrite=overwrite)


def available() -> List[str]:
    """Names accepted by :func:`make`, sorted."""
    return EXPLAINERS.available()


def make(name: str, model: Any, **options: Any) -> Explainer:
    """Build the explainer ``name`` for ``model``.

    Parameters
    ----------
    name : str
        One of :func:`available` (``drise``, ``rise``, ``saliency``, ``smoothgrad``, ``guided_backprop``,
        ``gradcam``, ``gradcam++``, ``scorecam``, ``faster_scorecam``, ...).
    model : keras.Model
        The classifier; never modified (methods that need logits or float32 work on a copy).
    **options
        Method options; every method accepts ``normalize`` ("none" or "minmax"); CAM methods accept ``layer``.

    Raises
    ------
    ValueError
        Unknown ``name`` or an option the method does not take.
    """
    factory = EXPLAINERS.get(name)
    try:
        inspect.signature(factory).bind(model, **options)
    except TypeError as exc:
        raise ValueError(f"explainer {name!r}: bad options {sorted(options)} ({exc})") from None
    return factory(model, **options)
