"""The explainer interface, its registry, the input and target checks, the one map rescaling rule (``normalize``)
shared by every method and the one map smoothing (``smooth_maps``) of the evaluation's smoothing control."""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
from scipy import ndimage

from drise_tf.core.registry import Registry
from drise_tf.explain.model_copies import as_functional

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


#: How a smoothed map's variant is named: its variant's name and this (the evaluation's smoothing control).
SMOOTHED_SUFFIX = " + smoothed"


def smooth_maps(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Each map of ``maps`` (B, H, W) blurred on its own by a Gaussian of standard deviation ``sigma`` pixels
    (:func:`scipy.ndimage.gaussian_filter`, mirrored at the borders); a post-processing step that adds no
    information about the model (the evaluation's smoothing control). Float32 out.

    Raises
    ------
    ValueError
        ``maps`` is not (B, H, W), or ``sigma`` is not a positive number.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (B, H, W), got shape {maps.shape}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating)) or not sigma > 0:
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma!r}")
    return ndimage.gaussian_filter(maps, sigma=(0.0, float(sigma), float(sigma)), mode="reflect").astype(np.float32)


def check_images(images: Any, model: Any) -> np.ndarray:
    """``images`` as a float32 array (B, H, W, C) matching ``model``'s input (one image (H, W, C) gets a batch axis).

    Raises
    ------
    ValueError
        Not numeric, empty, of another shape than the model takes, or not finite.
    """
    x = np.asarray(images)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"images must be a numeric array, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected):
        x = x[np.newaxis]
    if x.ndim != len(expected) + 1 or len(x) == 0:
        raise ValueError(f"images must have shape (B, {', '.join(map(str, expected))}) with B >= 1, got {x.shape}")
    if any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
        raise ValueError(f"images have shape {x.shape}, the model expects (B, {', '.join(map(str, expected))})")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    return x


def check_targets(targets: Any, count: int, num_classes: int, *, vectors: bool = False) -> np.ndarray:
    """``targets`` as int64 class indices (count,) (a scalar is repeated) or, with ``vectors``, float32 target
    vectors (count, num_classes) (one-hot or any finite weights over the classes).

    Raises
    ------
    ValueError
        Another shape, non-integer indices, indices outside [0, num_classes), or non-finite vectors.
    """
    t = np.asarray(targets)
    if t.ndim == 0:
        t = np.full(count, t)
    if vectors and t.ndim == 2:
        if t.shape != (count, num_classes):
            raise ValueError(f"target vectors must have shape ({count}, {num_classes}), got {t.shape}")
        if not np.issubdtype(t.dtype, np.number) or not np.all(np.isfinite(t)):
            raise ValueError(f"target vectors must be finite numbers, got dtype {t.dtype}")
        return t.astype(np.float32)
    if t.shape != (count,):
        shapes = f"({count},) (one class per image)"
        shapes += f" or ({count}, {num_classes}) (target vectors)" if vectors else ""
        raise ValueError(f"targets must have shape {shapes}, got {t.shape}")
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
        A classifier with one image input (B, H, W, C) and one output (B, K); never modified. Black-box methods
        only call it; methods that need gradients of logits work on a copy (:mod:`.model_copies`).
    normalize : {"none", "minmax"}
        Rescaling of each finished map: "none" (default) returns raw maps, "minmax" maps every map onto [0, 1]
        (see :func:`normalize_maps`).
    """

    #: Largest number of images passed to the method at once (None: the whole batch).
    max_images: Optional[int] = None
    #: Keyword flags :meth:`explain` accepts to return extra arrays after the maps (e.g. ``("return_scores",)``).
    extra_returns: Tuple[str, ...] = ()
    #: Whether targets may be vectors (B, K) as well as class indices (B,).
    accepts_target_vectors: bool = False

    def __init__(self, model: Any, *, normalize: str = "none") -> None:
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.num_classes = int(as_functional(model).outputs[0].shape[-1])  # checks: one input, one output
        self.model = model
        self.normalize = normalize

    def explain(self, images: Any, targets: Any = None, **returns: bool) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
        """Saliency maps of ``images`` for ``targets``.

        Parameters
        ----------
        images : array (B, H, W, C) or (H, W, C)
            Model-input images (e.g. standardised).
        targets : int, array (B,), array (B, K), "predicted" or None
            Class index per image (different classes in one batch are fine), target vectors where the method
            accepts them (:attr:`accepts_target_vectors`), or "predicted" / None for the predicted class.
        **returns : bool
            Flags among :attr:`extra_returns` (e.g. ``return_scores=True``); each one set adds an array to the result.

        Returns
        -------
        np.ndarray or tuple
            float32 maps (B, H, W) at image resolution, raw or normalised per ``normalize``; with extra-return
            flags set, a tuple ``(maps, *extras)``.
        """
        unknown = sorted(set(returns) - set(self.extra_returns))
        if unknown:
            raise ValueError(f"{type(self).__name__}.explain got unknown options {unknown}; "
                             f"it can return {list(self.extra_returns) or 'only maps'}")
        x = check_images(images, self.model)
        t = self.resolve_targets(x, targets)
        step = self.max_images or len(x)
        parts = [self._explain(x[i:i + step], t[i:i + step], **returns) for i in range(0, len(x), step)]
        extras = any(returns.values())
        columns = list(zip(*parts)) if extras else [parts]
        maps = np.concatenate([np.asarray(m, dtype=np.float32).reshape(-1, *x.shape[1:3]) for m in columns[0]])
        maps = normalize_maps(maps, self.normalize)
        return (maps, *(np.concatenate(column) for column in columns[1:])) if extras else maps

    def resolve_targets(self, images: np.ndarray, targets: Any) -> np.ndarray:
        """Checked targets of checked ``images``: the predicted classes for None / "predicted"."""
        if targets is None or (isinstance(targets, str) and targets == "predicted"):
            return self.predicted(images)
        if isinstance(targets, str):
            raise ValueError(f'targets must be class indices, target vectors, "predicted" or None, got {targets!r}')
        return check_targets(targets, len(images), self.num_classes, vectors=self.accepts_target_vectors)

    def predicted(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Predicted class of each image (argmax of the model output)."""
        scores = [np.asarray(self.model(images[i:i + batch_size], training=False))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(scores).argmax(axis=-1)

    @abstractmethod
    def _explain(self, images: np.ndarray, targets: np.ndarray, **returns: bool) -> Any:
        """Raw maps (B, H, W) of checked float32 ``images`` for checked targets; a tuple ``(maps, *extras)`` when
        an extra-return flag is set."""


def register_explainer(
    name: str, factory: Optional[Callable[..., Explainer]] = None, *, overwrite: bool = False
) -> Any:
    """Register an explainer factory ``(model, **options) -> Explainer`` under ``name`` (usable as a decorator)."""
    return EXPLAINERS.register(name, factory, overwrite=overwrite)


def available_explainers() -> List[str]:
    """Names accepted by :func:`make_explainer`, sorted."""
    return EXPLAINERS.available()


def make_explainer(name: str, model: Any, **options: Any) -> Explainer:
    """Build the explainer ``name`` for ``model``.

    Parameters
    ----------
    name : str
        One of :func:`available_explainers` (``drise``, ``rise``, ``saliency``, ``smoothgrad``, ``guided_backprop``,
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
