"""Faithfulness of saliency maps: the causal metrics of the RISE paper (deletion and insertion curves and their AUC),
adapted to small images and batched: one forward pass per chunk of ``batch_size`` perturbed images, mixing images
and steps, never one pass per image."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from drise_tf.core import sharding

MODES = ("deletion", "insertion")


# --------------------------------------------------------------------------------------------------- validation
def _check_images_maps(images: np.ndarray, maps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    maps = np.asarray(maps)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, H, W, C), got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be float (standardised model input), got dtype {images.dtype}")
    if maps.shape != images.shape[:3]:
        raise ValueError(f"maps must have shape (B, H, W) = {images.shape[:3]}, got shape {maps.shape}")
    if images.shape[0] < 1:
        raise ValueError("images must contain at least one image")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite values")
    _check_finite_map(maps, "maps")
    return images.astype(np.float32, copy=False), maps


def _check_finite_map(maps: np.ndarray, name: str) -> None:
    if not np.issubdtype(maps.dtype, np.number) or np.issubdtype(maps.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {maps.dtype}")
    if not np.all(np.isfinite(maps)):
        raise ValueError(f"{name} contain NaN or infinite values")


# ------------------------------------------------------------------------------------------------- causal metrics
def salience_order(maps: np.ndarray) -> np.ndarray:
    """Pixel indices of each map, most salient first; ties keep row-major pixel order.

    Parameters
    ----------
    maps : np.ndarray
        Maps of shape (B, H, W).

    Returns
    -------
    np.ndarray
        int64 array (B, H*W) of flat pixel indices.
    """
    maps = np.asarray(maps)
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    return np.argsort(-flat, axis=1, kind="stable")


def gaussian_kernel(size: int = 11, sigma: float = 5.0) -> np.ndarray:
    """Normalised 2-D Gaussian kernel ``size`` x ``size`` with standard deviation ``sigma`` pixels."""
    if int(size) != size or size < 1 or size % 2 == 0:
        raise ValueError(f"blur_kernel must be a positive odd integer, got {size!r}")
    if not sigma > 0:
        raise ValueError(f"blur_sigma must be positive, got {sigma!r}")
    offsets = np.arange(size) - size // 2
    line = np.exp(-0.5 * (offsets / float(sigma)) ** 2)
    kernel = np.outer(line, line)
    return kernel / kernel.sum()


def gaussian_blur(images: np.ndarray, *, kernel: int = 11, sigma: float = 5.0) -> np.ndarray:
    """Blur each channel with a Gaussian, zero padding (the mean colour in standardised space), as RISE does.

    RISE's reference code blurs with an 11x11 kernel made by ``scipy.ndimage.gaussian_filter`` (sigma 5 pixels) on a
    delta and a zero-padded convolution; this kernel is the same Gaussian truncated to ``kernel`` pixels and normalised.
    """
    images = np.asarray(images, dtype=np.float32)
    channels = images.shape[-1]
    weights = gaussian_kernel(kernel, sigma).astype(np.float32)
    weights = np.tile(weights[:, :, None, None], (1, 1, channels, 1))
    blurred = tf.nn.depthwise_conv2d(images, weights, strides=[1, 1, 1, 1], padding="SAME")
    return blurred.numpy()


def _probabilities(model, batch: np.ndarray) -> np.ndarray:
    """The model's outputs on ``batch``, padded to the next power of two rows (at least the replica count): Keras
    compiles ``predict_on_batch`` once per batch shape, so a handful of sizes instead of one per chunk."""
    replicas = sharding.replica_count(getattr(model, "distribute_strategy", None))
    out = model.predict_on_batch(sharding.pad_rows(batch, max(replicas, 1 << (len(batch) - 1).bit_length())))
    if isinstance(out, (list, tuple)) or np.ndim(out) != 2:
        raise ValueError("model must output one probability array of shape (batch, classes)")
    return np.asarray(out)[: len(batch)]


def predicted_classes(model, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class index predicted by ``model`` on each (unmodified) image, in chunks of ``batch_size``."""
    images = np.asarray(images, dtype=np.float32)
    return np.concatenate(
        [_probabilities(model, images[i : i + batch_size]).argmax(axis=1) for i in range(0, len(images), batch_size)]
    )


def causal_fractions(height: int, width: int, step: Optional[int] = None) -> np.ndarray:
    """Fraction of pixels deleted / inserted at each step of :func:`causal_curves` (the x axis, 0 to 1)."""
    pixels = height * width
    step = _check_step(step, pixels)
    n_steps = -(-pixels // step)
    return np.minimum(np.arange(n_steps + 1) * step, pixels) / pixels


def _check_step(step: Optional[int], pixels: int) -> int:
    if step is None:
        return max(1, pixels // 32)
    if isinstance(step, bool) or int(step) != step or not 1 <= step <= pixels:
        raise ValueError(f"step must be an integer number of pixels in [1, {pixels}], got {step!r}")
    return int(step)


def causal_curves(
    model,
    images: np.ndarray,
    maps: np.ndarray,
    *,
    mode: str = "deletion",
    step: Optional[int] = None,
    blur_kernel: int = 11,
    blur_sigma: float = 5.0,
    batch_size: int = 256,
    classes: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Deletion or insertion curves (RISE causal metrics) of maps on a model, batched over images and steps.

    Pixels are ordered by the map (descending, ties in row-major order). At step k the first ``min(k*step, H*W)``
    pixels (all channels) are changed: ``"deletion"`` sets them to 0 (the mean colour in standardised space),
    ``"insertion"`` starts from a Gaussian-blurred copy and puts the original pixels back.

    Parameters
    ----------
    model : keras.Model
        Takes standardised images, outputs probabilities (B, classes).
    images : np.ndarray
        Standardised images (B, H, W, C), float.
    maps : np.ndarray
        Saliency maps (B, H, W).
    mode : {"deletion", "insertion"}
    step : int, optional
        Pixels per step; default ``H*W // 32`` (32 for 32x32 images).
    blur_kernel, blur_sigma : int, float
        Gaussian blur of the insertion start (kernel size, sigma in pixels).
    batch_size : int
        Perturbed images per forward pass.
    classes : np.ndarray, optional
        Class index per image (B,); default: the class predicted on the unmodified image.

    Returns
    -------
    np.ndarray
        float64 array (B, n_steps + 1): the probability of the class after 0, 1, ..., n_steps steps.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    images, maps = _check_images_maps(images, maps)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n_images, height, width, channels = images.shape
    pixels = height * width
    step = _check_step(step, pixels)
    n_steps = -(-pixels // step)

    if classes is None:
        classes = predicted_classes(model, images, batch_size=batch_size)
    classes = np.asarray(classes)
    if classes.shape != (n_images,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"classes must be integer class indices of shape ({n_images},), got {classes.dtype} {classes.shape}"
        )

    if mode == "deletion":
        start, finish = images, np.zeros_like(images)
    else:
        start, finish = gaussian_blur(images, kernel=blur_kernel, sigma=blur_sigma), images
    start = start.reshape(n_images, pixels, channels)
    finish = finish.reshape(n_images, pixels, channels)
    # rank[b, pixel] = position of the pixel in image b's salience order
    rank = np.empty((n_images, pixels), dtype=np.int64)
    np.put_along_axis(rank, salience_order(maps), np.arange(pixels)[None, :], axis=1)

    # The stream of perturbed images, step-major: item j is step j // B of image j % B.
    total = (n_steps + 1) * n_images
    curves = np.empty(total, dtype=np.float64)
    for begin in range(0, total, batch_size):
        items = np.arange(begin, min(begin + batch_size, total))
        steps, which = np.divmod(items, n_images)
        changed = rank[which] < (steps * step)[:, None]
        batch = np.where(changed[:, :, None], finish[which], start[which])
        probs = _probabilities(model, batch.reshape(len(items), height, width, channels))
        if classes.min() < 0 or classes.max() >= probs.shape[1]:
            raise ValueError(f"classes must be in [0, {probs.shape[1]}), got values {classes.min()}..{classes.max()}")
        curves[items] = probs[np.arange(len(items)), classes[which]]
    return curves.reshape(n_steps + 1, n_images).T


def auc(curves: np.ndarray, x: Optional[np.ndarray] = None) -> np.ndarray:
    """Area under each curve by the trapezoid rule on [0, 1].

    Parameters
    ----------
    curves : np.ndarray
        (B, n) or (n,) values, n >= 2.
    x : np.ndarray, optional
        Increasing positions (n,) in [0, 1]; default equally spaced from 0 to 1.

    Returns
    -------
    np.ndarray
        (B,) areas (a scalar array for a single curve).
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim not in (1, 2) or curves.shape[-1] < 2:
        raise ValueError(f"curves must have shape (B, n) or (n,) with n >= 2, got shape {curves.shape}")
    n = curves.shape[-1]
    x = np.linspace(0.0, 1.0, n) if x is None else np.asarray(x, dtype=np.float64)
    if x.shape != (n,) or np.any(np.diff(x) < 0):
        raise ValueError(f"x must be non-decreasing positions of shape ({n},), got shape {x.shape}")
    return np.sum((curves[..., 1:] + curves[..., :-1]) * 0.5 * np.diff(x), axis=-1)


def deletion_insertion(model, images: np.ndarray, maps: np.ndarray, **kwargs) -> Dict[str, np.ndarray]:
    """Deletion and insertion curves and AUCs, both for the class predicted on the unmodified images.

    ``kwargs`` are passed to :func:`causal_curves` (``step``, ``blur_kernel``, ``blur_sigma``, ``batch_size``,
    ``classes``). AUC uses the true fraction of pixels changed at each step as x.

    Returns
    -------
    dict
        ``deletion_auc`` and ``insertion_auc`` (B,), ``deletion_curve`` and ``insertion_curve`` (B, n_steps + 1),
        ``fractions`` (n_steps + 1,) and ``classes`` (B,).
    """
    if "mode" in kwargs:
        raise ValueError("deletion_insertion computes both modes; do not pass mode")
    images, maps = _check_images_maps(images, maps)
    if kwargs.get("classes") is None:
        kwargs["classes"] = predicted_classes(model, images, batch_size=kwargs.get("batch_size", 256))
    x = causal_fractions(images.shape[1], images.shape[2], kwargs.get("step"))
    result: Dict[str, np.ndarray] = {"fractions": x, "classes": np.asarray(kwargs["classes"])}
    for mode in MODES:
        curves = causal_curves(model, images, maps, mode=mode, **kwargs)
        result[f"{mode}_curve"] = curves
        result[f"{mode}_auc"] = auc(curves, x)
    return result
