"""Faithfulness and agreement metrics for saliency maps.

* Causal metrics of the RISE paper (deletion / insertion curves and their AUC), adapted to small images and batched:
  one forward pass per chunk of ``batch_size`` perturbed images, mixing images and steps, never one pass per image.
* Agreement between maps: Spearman rank correlation and top-k overlap, per image and as a matrix.
* The model-randomisation sanity check of Adebayo et al. (2018), cascading from the top layer, on a clone of the model.
* A t-interval for means, and a summary table (mean and interval per name and metric) for :mod:`drise_tf.plots`.

Models are Keras models that take standardised images (B, H, W, C) and output class probabilities (B, classes).
Maps are (B, H, W) arrays in model-input resolution.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from scipy import stats

from drise_tf._compat import keras, variable_short_name
from drise_tf.core import sharding

MODES = ("deletion", "insertion")
AGREEMENT_METRICS = ("spearman", "topk")


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


def _check_map_pair(map_a: np.ndarray, map_b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    map_a, map_b = np.asarray(map_a), np.asarray(map_b)
    if map_a.ndim != 3:
        raise ValueError(f"map_a must have shape (B, H, W), got shape {map_a.shape}")
    if map_a.shape != map_b.shape:
        raise ValueError(f"map_b must have the shape of map_a {map_a.shape}, got shape {map_b.shape}")
    _check_finite_map(map_a, "map_a")
    _check_finite_map(map_b, "map_b")
    return map_a.reshape(len(map_a), -1), map_b.reshape(len(map_b), -1)


def _check_fraction(fraction: float) -> None:
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")


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
    out = model.predict_on_batch(sharding.pad_rows(batch, sharding.replica_count(getattr(model, "distribute_strategy", None))))
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


# ------------------------------------------------------------------------------------------------------ agreement
def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


def rank_correlation(map_a: np.ndarray, map_b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between two maps of each image (average ranks for ties).

    Returns
    -------
    np.ndarray
        (B,) correlations; NaN where a map is constant (the correlation is undefined).
    """
    a, b = _check_map_pair(map_a, map_b)
    return _row_pearson(stats.rankdata(a, axis=1), stats.rankdata(b, axis=1))


def topk_overlap(map_a: np.ndarray, map_b: np.ndarray, *, fraction: float = 0.1) -> np.ndarray:
    """Share of the top ``fraction`` pixels of ``map_a`` that are also in the top of ``map_b``, per image.

    k = max(1, round(fraction * H * W)); ties are broken in row-major pixel order.

    Returns
    -------
    np.ndarray
        (B,) values in [0, 1]: |top-k(a) & top-k(b)| / k.
    """
    _check_fraction(fraction)
    a, b = _check_map_pair(map_a, map_b)
    k = max(1, int(round(fraction * a.shape[1])))
    top_a = np.zeros(a.shape, dtype=bool)
    top_b = np.zeros(b.shape, dtype=bool)
    np.put_along_axis(top_a, salience_order(a)[:, :k], True, axis=1)
    np.put_along_axis(top_b, salience_order(b)[:, :k], True, axis=1)
    return (top_a & top_b).sum(axis=1) / k


def agreement_matrix(
    maps: Mapping[str, np.ndarray], *, metric: str = "spearman", fraction: float = 0.1
) -> Tuple[List[str], np.ndarray]:
    """Mean pairwise agreement over images between several methods' maps.

    Parameters
    ----------
    maps : dict
        Name -> maps (B, H, W), all of the same shape.
    metric : {"spearman", "topk"}
        :func:`rank_correlation` or :func:`topk_overlap` (with ``fraction``).

    Returns
    -------
    names : list of str
        The names in the order of ``maps``.
    matrix : np.ndarray
        (M, M) symmetric matrix of means over images (NaN images, i.e. constant maps, are skipped).
    """
    if metric not in AGREEMENT_METRICS:
        raise ValueError(f"metric must be one of {AGREEMENT_METRICS}, got {metric!r}")
    if not maps:
        raise ValueError("maps must name at least one set of maps")
    names = list(maps)
    matrix = np.empty((len(names), len(names)))
    for i, name_i in enumerate(names):
        for j in range(i, len(names)):
            a, b = maps[name_i], maps[names[j]]
            values = rank_correlation(a, b) if metric == "spearman" else topk_overlap(a, b, fraction=fraction)
            matrix[i, j] = matrix[j, i] = _nanmean(values)
    return names, matrix


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values[~np.isnan(values)])) if np.any(~np.isnan(values)) else float("nan")


# ----------------------------------------------------------------------------------------- randomisation check
def _reinitialise(layer, rng: np.random.Generator) -> None:
    """Draw fresh values for every weight of ``layer`` from its own initialisers (seeded by ``rng``).

    A weight without a matching ``<name>_initializer`` attribute is randomly permuted instead.
    """
    for variable in layer.weights:
        current = np.asarray(variable.numpy())
        initializer = getattr(layer, f"{variable_short_name(variable)}_initializer", None)
        seed = int(rng.integers(0, 2**31 - 1))
        if isinstance(initializer, keras.initializers.Initializer):
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = seed
            value = np.asarray(type(initializer).from_config(config)(shape=current.shape))
        else:
            value = np.random.default_rng(seed).permutation(current.ravel()).reshape(current.shape)
        variable.assign(value.astype(current.dtype))


def randomization_check(
    model,
    images: np.ndarray,
    targets: np.ndarray,
    explain_fn: Callable,
    *,
    seed: int = 0,
    cascade: bool = True,
    layers: Optional[Sequence[str]] = None,
) -> List[dict]:
    """Model-randomisation sanity check (Adebayo et al. 2018) on a clone of ``model``.

    Layers with weights are re-initialised from the top (output) layer down, cumulatively (``cascade=True``) or one
    at a time from the trained weights (``cascade=False``); after each, ``explain_fn(clone, images, targets)`` is
    recomputed and compared with the maps of the trained model. A map that stays similar does not explain the model.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential model; never modified.
    images : np.ndarray
        Model-input images (B, H, W, C).
    targets : np.ndarray
        Class indices (B,), passed to ``explain_fn``.
    explain_fn : callable
        ``explain_fn(model, images, targets) -> maps (B, H, W)``.
    seed : int
        Seed of the re-initialisation.
    cascade : bool
        Cumulative (True) or independent (False) randomisation.
    layers : sequence of str or of sequences of str, optional
        The layers to randomise, in that order, one step each; an entry that is itself a list of names is
        randomised as one step (e.g. a whole residual stage, to keep a deep model's cascade short). Default: every
        layer with weights, top to bottom.

    Returns
    -------
    list of dict
        One row per step: ``step`` (0 = the clone with the trained weights, a check of the clone), ``layer`` (None
        at step 0), ``spearman`` and ``spearman_abs`` (mean over images of the rank correlation of the maps, and of
        their absolute values, with the trained model's maps).
    """
    layers_with_weights = [layer.name for layer in model.layers if layer.weights]
    if layers is None:
        layers = layers_with_weights[::-1]
    groups = [[entry] if isinstance(entry, str) else list(entry) for entry in layers]
    for name in (name for group in groups for name in group):
        if name not in layers_with_weights:
            raise ValueError(f"layers: {name!r} is not a layer with weights of the model; known: {layers_with_weights}")
    reference = _explain(explain_fn, model, images, targets)
    try:
        clone = keras.models.clone_model(model)
    except Exception as error:  # subclassed models cannot be cloned
        raise ValueError(f"model cannot be cloned ({error}); use a functional or Sequential model") from error
    trained = model.get_weights()
    clone.set_weights(trained)
    rng = np.random.default_rng(seed)
    rows = [_compare(0, None, reference, _explain(explain_fn, clone, images, targets))]
    for step, group in enumerate(groups, start=1):
        if not cascade:
            clone.set_weights(trained)
        for name in group:
            _reinitialise(clone.get_layer(name), rng)
        label = group[0] if len(group) == 1 else f"{group[0]} .. {group[-1]}"
        rows.append(_compare(step, label, reference, _explain(explain_fn, clone, images, targets)))
    return rows


def layer_groups(model) -> List[List[str]]:
    """Layers with weights grouped by name prefix (``stage4_block2_conv1`` -> ``stage4``), top group first.

    Made for :func:`randomization_check` on deep models: one cascade step per stage instead of per layer.
    """
    groups: Dict[str, List[str]] = {}
    for layer in model.layers:
        if layer.weights:
            groups.setdefault(layer.name.split("_")[0], []).append(layer.name)
    return [names[::-1] for names in reversed(list(groups.values()))]


def _explain(explain_fn: Callable, model, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    maps = np.asarray(explain_fn(model, images, targets))
    if maps.shape != np.shape(images)[:3]:
        raise ValueError(f"explain_fn must return maps of shape {np.shape(images)[:3]}, got shape {maps.shape}")
    return maps


def _compare(step: int, layer: Optional[str], reference: np.ndarray, maps: np.ndarray) -> dict:
    return {
        "step": step,
        "layer": layer,
        "spearman": _nanmean(rank_correlation(reference, maps)),
        "spearman_abs": _nanmean(rank_correlation(np.abs(reference), np.abs(maps))),
    }


# ------------------------------------------------------------------------------------------------------ summaries
def mean_ci(values: np.ndarray, *, confidence: float = 0.95) -> Tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean.

    Returns
    -------
    (mean, low, high)
        low = high = NaN for a single value; low = high = mean when all values are equal.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("values must not be empty")
    if not np.all(np.isfinite(values)):
        raise ValueError("values contain NaN or infinite values")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    mean = float(values.mean())
    if values.size == 1:
        return mean, float("nan"), float("nan")
    sem = float(stats.sem(values))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def summary_table(values: Mapping[str, Mapping[str, np.ndarray]], *, confidence: float = 0.95) -> List[dict]:
    """Rows ``{"name", "metric", "mean", "low", "high", "n"}`` per name and metric (input of ``plots.metric_bars``).

    Parameters
    ----------
    values : dict
        Name (method or similarity score) -> metric name -> per-image values, e.g.
        ``{"cosine": {"deletion_auc": d, "insertion_auc": i}}``.
    """
    rows = []
    for name, metrics in values.items():
        for metric, vals in metrics.items():
            mean, low, high = mean_ci(vals, confidence=confidence)
            rows.append(
                {"name": name, "metric": metric, "mean": mean, "low": low, "high": high, "n": int(np.size(vals))}
            )
    return rows
