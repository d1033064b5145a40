"""Faithfulness of saliency maps: the causal metrics of the RISE paper (deletion and insertion curves and their AUC),
ROAD (removal with noisy linear imputation, Rong et al. 2022) and MuFidelity (Bhatt et al. 2020); all batched: one
forward pass per chunk of ``batch_size`` perturbed images, mixing images and steps, never one pass per image."""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from drise_tf.core import sharding

MODES = ("deletion", "insertion")
#: What replaces the pixels a metric removes (``fill`` of :func:`causal_curves`, :func:`deletion_insertion` and
#: :func:`mu_fidelity`): ``"constant"`` (0, the mean colour of standardised images, or MuFidelity's ``baseline``: how
#: D-RISE's own masks delete), ``"imputation"`` (ROAD's noisy linear imputation, :func:`noisy_linear_imputation`) or
#: ``"blur"`` (the pixels of RISE's blurred canvas, :func:`gaussian_blur` with :data:`RISE_BLUR_KERNEL` and
#: :data:`RISE_BLUR_SIGMA`).
FILLS = ("constant", "imputation", "blur")
#: The fills of RISE's causal metrics (Petsiuk et al. 2018), :func:`causal_curves`'s default: deletion sets the removed
#: pixels to 0, insertion starts from the blurred canvas.
RISE_FILLS: Dict[str, str] = {"deletion": "constant", "insertion": "blur"}
#: RISE's blurred canvas, as its reference code makes it: an 11 x 11 Gaussian of standard deviation 5 pixels. Insertion
#: starts from it, and ``fill="blur"`` puts its pixels in place of the removed ones, so that deletion by blur walks
#: insertion's path backwards (the same canvas, the pixels in the opposite order).
RISE_BLUR_KERNEL = 11
RISE_BLUR_SIGMA = 5.0
#: Standard deviation of ROAD's imputation noise in model-input units (Rong et al. 2022's 0.01; docs/evaluation.md).
IMPUTATION_NOISE = 0.01


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


def gaussian_kernel(size: int = RISE_BLUR_KERNEL, sigma: float = RISE_BLUR_SIGMA) -> np.ndarray:
    """Normalised 2-D Gaussian kernel ``size`` x ``size`` with standard deviation ``sigma`` pixels."""
    if int(size) != size or size < 1 or size % 2 == 0:
        raise ValueError(f"blur_kernel must be a positive odd integer, got {size!r}")
    if not sigma > 0:
        raise ValueError(f"blur_sigma must be positive, got {sigma!r}")
    offsets = np.arange(size) - size // 2
    line = np.exp(-0.5 * (offsets / float(sigma)) ** 2)
    kernel = np.outer(line, line)
    return kernel / kernel.sum()


def gaussian_blur(images: np.ndarray, *, kernel: int = RISE_BLUR_KERNEL,
                  sigma: float = RISE_BLUR_SIGMA) -> np.ndarray:
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
    fill: Optional[str] = None,
    blur_kernel: int = RISE_BLUR_KERNEL,
    blur_sigma: float = RISE_BLUR_SIGMA,
    noise: float = IMPUTATION_NOISE,
    seed: Union[int, Sequence[int]] = 0,
    batch_size: int = 256,
    classes: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Deletion or insertion curves (RISE causal metrics) of maps on a model, batched over images and steps.

    Pixels are ordered by the map (descending, ties in row-major order). At step k the first ``min(k*step, H*W)``
    pixels (all channels) are changed: ``"deletion"`` removes them, replacing them as ``fill`` says;
    ``"insertion"`` starts from the image with every pixel removed and puts the original pixels back, so at step k
    all but those pixels are replaced as ``fill`` says. By default (RISE's, :data:`RISE_FILLS`) deletion sets them
    to 0 (the mean colour in standardised space) and insertion starts from a Gaussian-blurred copy. With
    ``fill="imputation"`` an image with every pixel removed (deletion's last step, insertion's first) has nothing to
    impute from: it is 0 plus the noise (see :func:`noisy_linear_imputation`).

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
    fill : {"constant", "imputation", "blur"}, optional
        What replaces removed pixels (:data:`FILLS`: 0, ROAD's noisy linear imputation, or the blurred canvas);
        default :data:`RISE_FILLS` of ``mode``.
    blur_kernel, blur_sigma : int, float
        Gaussian blur of the canvas (kernel size, sigma in pixels): RISE's by default.
    noise : float
        Standard deviation of the imputation noise (model-input units; ``fill="imputation"``).
    seed : int or sequence of int
        Seed of the imputation noise: image i at step k draws from ``numpy.random.default_rng((*seed, i, k, s))``,
        s the mode's index in :data:`NOISE_STREAMS`, so map sets measured with the same seed see the same noise.
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
    fill = RISE_FILLS[mode] if fill is None else fill
    images, maps = _check_images_maps(images, maps)
    _check_fill(fill, noise)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n_images, height, width, channels = images.shape
    pixels = height * width
    step = _check_step(step, pixels)
    n_steps = -(-pixels // step)

    if classes is None:
        classes = predicted_classes(model, images, batch_size=batch_size)
    classes = _check_classes(classes, n_images)

    canvas = gaussian_blur(images, kernel=blur_kernel, sigma=blur_sigma) if fill == "blur" else None
    stream = NOISE_STREAMS.index(mode)
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
        removed = changed if mode == "deletion" else ~changed
        batch = _filled(images, which, removed.reshape(len(items), height, width), fill, canvas=canvas,
                        noise=noise, seed=seed, keys=[(i, k, stream) for i, k in zip(which.tolist(), steps.tolist())])
        curves[items] = _class_probabilities(model, batch, classes[which])
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

    ``kwargs`` are passed to :func:`causal_curves` (``step``, ``fill``, ``blur_kernel``, ``blur_sigma``, ``noise``,
    ``seed``, ``batch_size``, ``classes``). AUC uses the true fraction of pixels changed at each step as x. A
    ``fill`` applies to both modes: deletion replaces the removed pixels by it, and insertion starts from the image
    with every pixel so replaced (``"constant"``: the all-zero image; ``"blur"``: RISE's blurred canvas;
    ``"imputation"``: 0 plus noise, the pixels not yet put back imputed from those that are). The default is RISE's
    pair (:data:`RISE_FILLS`): deletion to 0, insertion from the blurred canvas.

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


# ------------------------------------------------------------------------------------------------------------ ROAD
#: Removed fraction of pixels at each ROAD step (Rong et al. 2022 use 10% .. 90%).
ROAD_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: ROAD orders: most relevant first (MoRF, lower is better) and least relevant first (LeRF, higher is better).
ROAD_ORDERS = ("morf", "lerf")
#: The streams of imputation noise: image i at step j of stream s draws from ``numpy.random.default_rng((*seed, i, j,
#: s))``, s the index here: ROAD's orders (as :func:`road` has always drawn them), the causal modes and MuFidelity, so
#: that no two metrics share noise.
NOISE_STREAMS = (*ROAD_ORDERS, *MODES, "mu_fidelity")
#: How :func:`road` turns a fraction into a number of pixels: ``"round"`` (the default: MoRF and LeRF remove the
#: same number at a fraction) or ``"floor"`` (the reference implementation's ``int(f * H * W)``).
ROAD_COUNTS = ("round", "floor")
#: What :func:`road` reads from the model: the class's ``"probability"`` (the default) or ``"accuracy"`` (1 where the
#: class is the argmax, else 0: what the reference implementation reports).
ROAD_READOUTS = ("probability", "accuracy")
#: ROAD as its reference implementation runs it on CIFAR-10 (Rong et al. 2022, github.com/tleemann/road_evaluation:
#: ``NoisyLinearImputer(noise=0.01)`` on [0, 1] pixels, ``int(width * height * p)`` pixels, accuracy): :func:`road`'s
#: options, with the standardizer's per-channel std (``Standardizer.std``) passed as ``pixel_std``.
ROAD_REFERENCE: Dict[str, Any] = {"noise": 0.01, "counts": "floor", "readout": "accuracy"}
# The imputer's neighbour weights (Rong et al.): 1/6 for the 4 direct neighbours, 1/12 for the 4 diagonal ones.
_NEIGHBOURS = ((-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
               (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12))


def noisy_linear_imputation(
    image: np.ndarray, removed: np.ndarray, *, noise: float = 0.01, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """ROAD's noisy linear imputation (Rong et al. 2022) of the ``removed`` pixels of one image.

    Every removed pixel becomes the weighted mean of its (up to 8) neighbours inside the image, direct ones weighted
    1/6, diagonal ones 1/12, all removed pixels solved jointly as one linear system (one right-hand side per
    channel; :func:`_solve_banded` or :func:`_solve_sparse`); then Gaussian noise of standard deviation ``noise`` is
    added to the imputed values. Kept pixels are unchanged. The imputed values carry no trace of the removed ones, so
    the model cannot read the removal's shape from a constant fill.

    Parameters
    ----------
    image : np.ndarray
        One image (H, W, C).
    removed : np.ndarray
        bool (H, W): the pixels to replace; at least one pixel must be kept.
    noise : float
        Standard deviation of the noise added to imputed values (model-input units).
    rng : np.random.Generator, optional
        Source of the noise (needed when ``noise > 0``).

    Returns
    -------
    np.ndarray
        float64 (H, W, C).
    """
    image = np.asarray(image, dtype=np.float64)
    removed = np.asarray(removed, dtype=bool)
    if image.ndim != 3 or removed.shape != image.shape[:2]:
        raise ValueError(f"removed must be a (H, W) mask of the (H, W, C) image, got {removed.shape} for {image.shape}")
    if removed.all():
        raise ValueError("removed covers every pixel: nothing is left to impute from")
    if noise > 0 and rng is None:
        raise ValueError("rng is needed when noise > 0")
    return _impute(image[None], removed[None], noise=noise, rngs=[rng])[0]


#: Widest image whose imputations are solved banded; wider ones by sparse LU, one imputation per solve. The banded
#: solve's cost grows with the width squared: on CIFAR's 32 x 32 it is 2.6x faster than the LU, on 64 x 64 as fast,
#: on 224 x 224 2x slower (``benchmarks/road_imputation.py``).
_BANDED_MAX_WIDTH = 32
#: Imputations stacked into one banded solve: few enough for the band to stay in the CPU's cache.
_IMPUTATIONS_PER_SOLVE = 8


def _impute(images: np.ndarray, removed: np.ndarray, *, noise: Union[float, np.ndarray],
            rngs: Sequence[Optional[np.random.Generator]]) -> np.ndarray:
    """:func:`noisy_linear_imputation` of K images at once (K, H, W, C) with their masks (K, H, W), solved by
    :func:`_solve_banded` in groups of :data:`_IMPUTATIONS_PER_SOLVE` up to a width of :data:`_BANDED_MAX_WIDTH`,
    else one by one by :func:`_solve_sparse`; image k's noise is drawn from ``rngs[k]``, one standard normal value
    per removed pixel and channel in row-major order, times ``noise`` (a float, or one per channel (C,)).

    An image with every pixel removed has nothing to impute from: its system is singular (every constant image
    solves it) and its minimum-norm solution is 0, the mean colour of standardised images, which it gets, plus the
    noise."""
    count, height, width, channels = images.shape
    values = images.reshape(count, height * width, channels).astype(np.float64)
    unknown = removed.reshape(count, height * width)
    blank = unknown.all(axis=1)
    solvable = unknown & ~blank[:, None]
    banded = width <= _BANDED_MAX_WIDTH
    solve, step = (_solve_banded, _IMPUTATIONS_PER_SOLVE) if banded else (_solve_sparse, 1)
    imputed = values.copy()
    for start in range(0, count, step):
        group = slice(start, start + step)
        if solvable[group].any():
            imputed[group] = solve(values[group], solvable[group], width)
    imputed[blank] = 0.0
    if np.any(np.asarray(noise) > 0):
        for k in np.flatnonzero(unknown.any(axis=1)):
            imputed[k, unknown[k]] += noise * rngs[k].standard_normal((int(unknown[k].sum()), channels))
    return imputed.reshape(images.shape)


def _neighbour_pairs(pixels: int, width: int) -> Iterator[Tuple[np.ndarray, np.ndarray, int, float]]:
    """For each of :data:`_NEIGHBOURS`: the row-major pixels whose neighbour lies inside the image, that neighbour,
    its offset in row-major order and its weight."""
    rows, cols = np.divmod(np.arange(pixels), width)
    height = pixels // width
    for d_row, d_col, weight in _NEIGHBOURS:
        n_row, n_col = rows + d_row, cols + d_col
        pixel = np.flatnonzero((n_row >= 0) & (n_row < height) & (n_col >= 0) & (n_col < width))
        yield pixel, n_row[pixel] * width + n_col[pixel], d_row * width + d_col, weight


def _solve_banded(values: np.ndarray, unknown: np.ndarray, width: int) -> np.ndarray:
    """The imputation of a few images (G, H*W, C) with their removed pixels (G, H*W) as one banded system.

    In row-major pixel order an image's system is banded (the eight neighbours lie within ``width + 1`` of a pixel)
    and symmetric positive definite: a removed pixel's row holds the weights of all its neighbours inside the image
    on the diagonal and minus the weights of its removed neighbours off it, its kept neighbours go to the right-hand
    side; a kept pixel's row is the identity's, its value the right-hand side, so it comes back exactly. The images'
    systems are stacked along the diagonal and solved by LAPACK's banded Cholesky (``scipy.linalg.solveh_banded``).
    """
    from scipy.linalg import solveh_banded

    group, pixels, channels = values.shape
    band = np.zeros((width + 2, group, pixels))  # lower form: band[d, g, p] = A[p + d, p] of image g
    rhs = np.where(unknown[..., None], 0.0, values)
    for pixel, neighbour, offset, weight in _neighbour_pairs(pixels, width):
        here, there = unknown[:, pixel], unknown[:, neighbour]
        band[0][:, pixel] += weight * here
        rhs[:, pixel] += (weight * (here & ~there))[..., None] * values[:, neighbour]
        if offset > 0:  # each pair of removed neighbours once, below the diagonal
            band[offset][:, pixel] -= weight * (here & there)
    band[0] = np.where(unknown, band[0], 1.0)
    solution = solveh_banded(band.reshape(width + 2, group * pixels), rhs.reshape(group * pixels, channels),
                             lower=True, check_finite=False)
    return solution.reshape(group, pixels, channels)


def _solve_sparse(values: np.ndarray, unknown: np.ndarray, width: int) -> np.ndarray:
    """The imputation of images (G, H*W, C) with their removed pixels (G, H*W): the removed pixels' equations
    (as in :func:`_solve_banded`) as one sparse system, solved by SuperLU (``scipy.sparse.linalg.spsolve``)."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    group, pixels, channels = values.shape
    flat = values.reshape(group * pixels, channels)
    removed = np.flatnonzero(unknown.reshape(-1))  # image-major, so each image's removed pixels are one block
    position = np.full(group * pixels, -1)
    position[removed] = np.arange(removed.size)
    owner, own_pixel = np.divmod(removed, pixels)
    diagonal = np.zeros(removed.size)
    known_sum = np.zeros((removed.size, channels))
    entries_row, entries_col, entries_val = [], [], []
    for pixel, neighbour, _, weight in _neighbour_pairs(pixels, width):
        in_image = np.full(pixels, -1)  # each pixel's neighbour in this direction, -1 outside the image
        in_image[pixel] = neighbour
        has = np.flatnonzero(in_image[own_pixel] >= 0)
        other = owner[has] * pixels + in_image[own_pixel[has]]
        diagonal[has] += weight
        is_removed = position[other] >= 0
        entries_row.append(has[is_removed])
        entries_col.append(position[other[is_removed]])
        entries_val.append(np.full(int(is_removed.sum()), -weight))
        known_sum[has[~is_removed]] += weight * flat[other[~is_removed]]  # one neighbour per direction
    index = np.arange(removed.size)
    system = sparse.csc_matrix(
        (np.concatenate(entries_val + [diagonal]),
         (np.concatenate(entries_row + [index]), np.concatenate(entries_col + [index]))),
        shape=(removed.size, removed.size),
    )
    imputed = flat.copy()
    imputed[removed] = np.asarray(spsolve(system, known_sum)).reshape(removed.size, channels)
    return imputed.reshape(values.shape)


def road(
    model,
    images: np.ndarray,
    maps: np.ndarray,
    *,
    classes: np.ndarray,
    fractions: Sequence[float] = ROAD_FRACTIONS,
    noise: float = IMPUTATION_NOISE,
    pixel_std: Optional[Sequence[float]] = None,
    counts: str = "round",
    readout: str = "probability",
    seed: Union[int, Sequence[int]] = 0,
    batch_size: int = 256,
) -> Dict[str, np.ndarray]:
    """ROAD, RemOve And Debias (Rong et al. 2022), without retraining: the class probability after the most (MoRF)
    or least (LeRF) relevant pixels are replaced by :func:`noisy_linear_imputation`.

    Pixels are ordered by the map (ties in row-major order, the reverse order for LeRF); at each fraction f the
    first ``round(f * H * W)`` pixels of the order are imputed. The imputation noise of image ``i``, fraction ``j``
    and order ``o`` comes from ``numpy.random.default_rng((*seed, i, j, o))`` (``o`` the order's index in
    :data:`NOISE_STREAMS`): two map sets measured with the same seed on the same images see the same noise (paired
    comparisons). The defaults depart from the reference implementation in three places, each an option
    (:data:`ROAD_REFERENCE`; why: ``docs/evaluation.md``).

    Parameters
    ----------
    model : keras.Model
        Takes model-input images, outputs probabilities (B, classes).
    images, maps : np.ndarray
        Images (B, H, W, C) and their maps (B, H, W).
    classes : np.ndarray
        The class whose probability is read, per image (B,).
    fractions : sequence of float
        Removed fractions, each in (0, 1).
    noise : float
        Standard deviation of the imputation noise, in model-input units (see :func:`noisy_linear_imputation`), or
        in pixel units when ``pixel_std`` is given.
    pixel_std : sequence of float, optional
        The per-channel standard deviation (C,) by which the images were standardised, in the units of ``noise``
        (``Standardizer.std``: pixels in [0, 1]). Channel c's noise is then ``noise / pixel_std[c]`` in model-input
        units: the reference's 0.01 on [0, 1] pixels, imputed before standardising (the imputation itself commutes
        with a per-channel affine map: its weights sum to 1). About 4x the default on CIFAR-10 (std ~0.25).
    counts : {"round", "floor"}
        Pixels imputed at fraction f: ``"round"``, ``round(f * H * W)`` in both orders; ``"floor"``, the reference's:
        MoRF ``floor(f * H * W)``, LeRF all but the ``floor((1 - f) * H * W)`` most relevant (the reference's LeRF
        at its percentage p = 1 - f keeps the ``int(p * H * W)`` most relevant pixels). Products within 1e-9 of an
        integer count as that integer. Always at least one pixel and at most all but one.
    readout : {"probability", "accuracy"}
        Read the class's probability, or the reference's accuracy: 1.0 where the class is the argmax, else 0.0.
    seed : int or sequence of int
        Seed of the imputation noise.
    batch_size : int
        Imputed images per forward pass.

    Returns
    -------
    dict
        ``morf`` and ``lerf`` (B, F) read-outs per fraction; ``morf_mean`` and ``lerf_mean`` (B,) their means over
        fractions; ``gap`` (B,) = ``lerf_mean - morf_mean`` (higher is better: the map tells the pixels that matter
        from those that do not).
    """
    images, maps = _check_images_maps(images, maps)
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or fractions.size == 0 or np.any(fractions <= 0) or np.any(fractions >= 1):
        raise ValueError(f"fractions must be a non-empty sequence of values in (0, 1), got {fractions.tolist()}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if readout not in ROAD_READOUTS:
        raise ValueError(f"readout must be one of {ROAD_READOUTS}, got {readout!r}")
    n_images, height, width, channels = images.shape
    classes = _check_classes(classes, n_images)
    channel_noise: Union[float, np.ndarray] = noise
    if pixel_std is not None:
        pixel_std = np.asarray(pixel_std, dtype=np.float64)
        if pixel_std.shape != (channels,) or not np.all(np.isfinite(pixel_std) & (pixel_std > 0)):
            raise ValueError(f"pixel_std must be {channels} positive values (one per channel), got {pixel_std}")
        channel_noise = noise / pixel_std
    removed = _road_removed(maps, fractions, counts)  # one imputation per (image, order, fraction)
    owner = np.repeat(np.arange(n_images), len(ROAD_ORDERS) * fractions.size)
    keys = [(i, j, o) for i in range(n_images) for o in range(len(ROAD_ORDERS)) for j in range(fractions.size)]
    flat = _impute(images[owner], removed.reshape(-1, height, width), noise=channel_noise,
                   rngs=_noise_generators(seed, keys)).astype(np.float32)
    values = np.concatenate([_class_probabilities(model, flat[k : k + batch_size], classes[owner[k : k + batch_size]],
                                                  readout=readout) for k in range(0, len(flat), batch_size)])
    values = values.reshape(n_images, len(ROAD_ORDERS), fractions.size)
    result = {name: values[:, o] for o, name in enumerate(ROAD_ORDERS)}
    result.update({f"{name}_mean": result[name].mean(axis=1) for name in ROAD_ORDERS})
    result["gap"] = result["lerf_mean"] - result["morf_mean"]
    return result


def _road_removed(maps: np.ndarray, fractions: np.ndarray, counts: str = "round") -> np.ndarray:
    """The pixels :func:`road` removes: bool (B, orders, F, H*W), for each map, order of :data:`ROAD_ORDERS` and
    fraction the first pixels of the map's order, as many as ``counts`` says (see :func:`road`; at least one, at
    most all but one)."""
    if counts not in ROAD_COUNTS:
        raise ValueError(f"counts must be one of {ROAD_COUNTS}, got {counts!r}")
    n_images, height, width = maps.shape
    pixels = height * width
    fractions = np.asarray(fractions, dtype=np.float64)
    if counts == "round":
        per_order = [np.round(fractions * pixels)] * len(ROAD_ORDERS)
    else:  # the products rounded to 1e-9 first: (1 - 0.9) * 100 is 10 pixels, not 9.999...
        removed_most, kept_most = np.floor(np.round(np.stack([fractions, 1 - fractions]) * pixels, 9))
        per_order = [removed_most, pixels - kept_most]
    most_first = salience_order(maps)
    removed = np.zeros((n_images, len(ROAD_ORDERS), fractions.size, pixels), dtype=bool)
    rank = np.empty((n_images, pixels), dtype=np.int64)
    for o, (order, count) in enumerate(zip((most_first, most_first[:, ::-1]), per_order)):  # morf, lerf
        count = np.clip(count.astype(int), 1, pixels - 1)
        np.put_along_axis(rank, order, np.arange(pixels)[None, :], axis=1)
        removed[:, o] = rank[:, None, :] < count[None, :, None]
    return removed


# ----------------------------------------------------------------------------------------------------------- fills
def _check_fill(fill: str, noise: float) -> None:
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def _noise_generators(seed: Union[int, Sequence[int]], keys: Sequence[Tuple[int, ...]]) -> list:
    """One generator of imputation noise per key ``(image, step, stream)`` (see :data:`NOISE_STREAMS`)."""
    seeds = tuple(np.atleast_1d(seed).tolist())
    return [np.random.default_rng((*seeds, *key)) for key in keys]


def _filled(images: np.ndarray, which: np.ndarray, removed: np.ndarray, fill: str, *,
            canvas: Optional[np.ndarray] = None, constant: float = 0.0, noise: float = IMPUTATION_NOISE,
            seed: Union[int, Sequence[int]] = 0, keys: Sequence[Tuple[int, ...]] = ()) -> np.ndarray:
    """The images ``images[which]`` (K, H, W, C) with their ``removed`` pixels (K, H, W) replaced as ``fill`` says:
    by ``constant``, by ROAD's noisy linear imputation (the k-th image's noise from the generator of ``keys[k]``, see
    :func:`_noise_generators`) or by the pixels of ``canvas[which]`` (the images' blurred copies). float32."""
    if fill == "imputation":
        return _impute(images[which], removed, noise=noise, rngs=_noise_generators(seed, keys)).astype(np.float32)
    replacement = np.float32(constant) if fill == "constant" else canvas[which]
    return np.where(removed[..., None], replacement, images[which])


def _check_classes(classes: np.ndarray, n_images: int) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.shape != (n_images,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"classes must be integer class indices of shape ({n_images},), got {classes.dtype} {classes.shape}"
        )
    return classes


def _class_probabilities(model, batch: np.ndarray, classes: np.ndarray, *,
                         readout: str = "probability") -> np.ndarray:
    """Each image's class probability (float64), or with ``readout="accuracy"`` 1.0 where it is the argmax, else 0.0."""
    probs = _probabilities(model, batch)
    if classes.min() < 0 or classes.max() >= probs.shape[1]:
        raise ValueError(f"classes must be in [0, {probs.shape[1]}), got values {classes.min()}..{classes.max()}")
    if readout == "accuracy":
        return (probs.argmax(axis=1) == classes).astype(np.float64)
    return probs[np.arange(len(batch)), classes].astype(np.float64)


# ----------------------------------------------------------------------------------------------------- MuFidelity
def mu_fidelity(
    model,
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    classes: np.ndarray,
    grid_size: int = 8,
    subset_fraction: float = 0.2,
    n_perturbations: int = 128,
    baseline: float = 0.0,
    fill: str = "constant",
    noise: float = IMPUTATION_NOISE,
    seed: Union[int, Sequence[int]] = 0,
    batch_size: int = 256,
) -> Dict[str, np.ndarray]:
    """MuFidelity (Bhatt et al. 2020): per image, the Pearson correlation, over random subsets S of pixels, between
    the map's sum over S and the drop of the class probability when S is removed: set to ``baseline`` (the default),
    or replaced by ROAD's noisy linear imputation from the other pixels, or by RISE's blurred canvas (``fill``).

    The subsets are ``round(subset_fraction * grid_size**2)`` cells of a ``grid_size`` x ``grid_size`` grid over the
    image, drawn without replacement, ``n_perturbations`` per image (from ``numpy.random.default_rng(seed)``). The
    perturbed images do not depend on the maps, so every map set of ``maps`` is scored on the SAME forward passes.
    A map whose sums over the subsets are constant (e.g. an all-zero Grad-CAM) carries no ranking: its correlation
    is 0.

    Parameters
    ----------
    model : keras.Model
        Takes model-input images, outputs probabilities (B, classes).
    images : np.ndarray
        Images (B, H, W, C).
    maps : dict
        Name -> maps (B, H, W).
    classes : np.ndarray
        The class whose probability is read, per image (B,).
    grid_size : int
        Cells per side (H and W are split as evenly as possible).
    subset_fraction : float
        Fraction of cells in each subset, in (0, 1).
    n_perturbations : int
        Subsets per image (>= 3).
    baseline : float
        Value the subset's pixels are set to with ``fill="constant"`` (0: the mean colour of standardised images).
    fill : {"constant", "imputation", "blur"}
        What replaces the subset's pixels (:data:`FILLS`): ``baseline``, ROAD's noisy linear imputation, or the
        pixels of the image's blurred copy (:data:`RISE_BLUR_KERNEL`, :data:`RISE_BLUR_SIGMA`).
    noise : float
        Standard deviation of the imputation noise (model-input units; ``fill="imputation"``).
    seed : int or sequence of int
        Seed of the subsets (``numpy.random.default_rng(seed)``) and of the imputation noise: perturbation p of
        image i draws from ``numpy.random.default_rng((*seed, i, p, s))``, s the index of ``"mu_fidelity"`` in
        :data:`NOISE_STREAMS`.
    batch_size : int
        Perturbed images per forward pass.

    Returns
    -------
    dict
        Name -> correlations (B,) in [-1, 1], higher is better.
    """
    if not maps:
        raise ValueError("maps must name at least one map set")
    _check_fill(fill, noise)
    if fill != "constant" and baseline != 0.0:
        raise ValueError(f"baseline is the value of fill='constant'; with fill={fill!r} leave it at 0, got "
                         f"{baseline!r}")
    checked = {name: _check_images_maps(images, name_maps)[1] for name, name_maps in maps.items()}
    images = _check_images_maps(images, next(iter(checked.values())))[0]
    n_images, height, width, channels = images.shape
    classes = _check_classes(classes, n_images)
    grid_size = int(grid_size)
    if not 1 <= grid_size <= min(height, width):
        raise ValueError(f"grid_size must be in 1..{min(height, width)}, got {grid_size!r}")
    cells = grid_size * grid_size
    subset = int(round(subset_fraction * cells))
    if not 0 < subset_fraction < 1 or not 1 <= subset < cells:
        raise ValueError(
            f"subset_fraction must leave 1..{cells - 1} of {cells} cells in a subset, got {subset_fraction!r}"
        )
    if isinstance(n_perturbations, bool) or int(n_perturbations) != n_perturbations or n_perturbations < 3:
        raise ValueError(f"n_perturbations must be an integer >= 3, got {n_perturbations!r}")
    # cell of each pixel, splitting H and W as evenly as possible
    cell_row = np.arange(height) * grid_size // height
    cell_col = np.arange(width) * grid_size // width
    pixel_cell = (cell_row[:, None] * grid_size + cell_col[None, :]).ravel()
    rng = np.random.default_rng(seed)
    chosen = np.argsort(rng.random((n_images, n_perturbations, cells)), axis=2)[:, :, :subset]
    in_subset = np.zeros((n_images, n_perturbations, cells), dtype=bool)
    np.put_along_axis(in_subset, chosen, True, axis=2)
    pixel_masks = in_subset[:, :, pixel_cell]  # (B, P, H*W)

    unperturbed = np.concatenate([_class_probabilities(model, images[k : k + batch_size], classes[k : k + batch_size])
                                  for k in range(0, n_images, batch_size)])
    drops = np.empty((n_images, n_perturbations))
    canvas = gaussian_blur(images) if fill == "blur" else None
    stream = NOISE_STREAMS.index("mu_fidelity")
    total = n_images * n_perturbations
    for begin in range(0, total, batch_size):
        items = np.arange(begin, min(begin + batch_size, total))
        which, perturbation = np.divmod(items, n_perturbations)
        batch = _filled(images, which, pixel_masks[which, perturbation].reshape(len(items), height, width), fill,
                        canvas=canvas, constant=baseline, noise=noise, seed=seed,
                        keys=[(i, p, stream) for i, p in zip(which.tolist(), perturbation.tolist())])
        drops[which, perturbation] = unperturbed[which] - _class_probabilities(model, batch, classes[which])
    result = {}
    for name, name_maps in checked.items():
        sums = np.einsum("bph,bh->bp", pixel_masks.astype(np.float64),
                         name_maps.reshape(n_images, -1).astype(np.float64))
        result[name] = _row_pearson(sums, drops)
    return result


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``; 0 where either row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    scale = np.maximum(np.abs(a).max(axis=1), 1e-300) * np.maximum(np.abs(b).max(axis=1), 1e-300)
    constant = norm <= 1e-12 * scale * a.shape[1]
    return np.where(constant, 0.0, (a * b).sum(axis=1) / np.where(constant, 1.0, norm))
