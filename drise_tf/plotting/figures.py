"""Figure functions: arrays in, :class:`matplotlib.figure.Figure` out.

Figures are made with ``matplotlib.pyplot`` (so they appear in Spyder's Plots pane) and returned open: the caller
shows, restyles, saves (:func:`save`) or closes them. Figures that reproduce a thesis figure (docs/thesis.md,
"The figures") keep its titles, sizes, colours, alphas, colorbars and axis labels exactly by default; whatever the
project adds (hidden axes, a suptitle) is an option, off by default. Nothing here calls a model or reads files.
"""
from __future__ import annotations

import io
import os
import textwrap
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure

from drise_tf.core.compat import write_bytes_atomic
from drise_tf.explain.base import SMOOTHED_SUFFIX
from drise_tf.explain.drise import AGGREGATIONS
from drise_tf.explain.stability import replica_standard_error, top_region, top_region_frequency

Interval = Tuple[float, float, float]

LOSS_TITLE = "Training and Validation Loss"
ACCURACY_TITLE = "Training and Validation Accuracy"
CONFUSION_TITLE = "Confusion Matrix"
SURFACE_TITLE = "3D Surface Visualization of w_norm Matrix"


# ------------------------------------------------------------------------------------------------ validation
def _image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"{name} must have shape (H, W, 3), (H, W, 1) or (H, W), got shape {image.shape}")
    return image


def _saliency(saliency: np.ndarray, name: str) -> np.ndarray:
    saliency = np.asarray(saliency, dtype=np.float64)
    if saliency.ndim != 2:
        raise ValueError(f"{name} must have shape (H, W), got shape {saliency.shape}")
    if not np.all(np.isfinite(saliency)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return saliency


def _show_image(ax, image: np.ndarray, saliency: Optional[np.ndarray] = None, *, alpha: float = 0.5,
                hide_axes: bool = True, interpolation: Optional[str] = None):
    """Draw ``image`` (grey if 2-D) and, if given, ``saliency`` over it (jet, ``alpha``) stretched to the image."""
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation=interpolation)
    if hide_axes:
        ax.axis("off")
    if saliency is None:
        return None
    height, width = image.shape[:2]
    return ax.imshow(saliency, cmap="jet", alpha=alpha, extent=(-0.5, width - 0.5, height - 0.5, -0.5))


# --------------------------------------------------------------------------------------- thesis figures 1-4
def learning_curves(history: Mapping[str, Sequence[float]]) -> Tuple[Figure, Figure]:
    """Thesis figures 1 and 2: training (solid blue) and validation (dashed red) loss and accuracy per epoch.

    Parameters
    ----------
    history : dict
        Lists ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and optionally ``epoch`` (default 0, 1, ...),
        all of the same length (epoch 0 is the evaluation before training).

    Returns
    -------
    (loss_figure, accuracy_figure)
        6x4 in each; legends upper right (loss) and lower right (accuracy).
    """
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    missing = [key for key in keys if key not in history]
    if missing:
        raise ValueError(f"history is missing {missing}; it needs {list(keys)} (and optionally 'epoch')")
    length = len(history["loss"])
    epochs = list(history.get("epoch", range(length)))
    for key in keys + ("epoch",):
        if key in history and len(history[key]) != length:
            raise ValueError(f"history[{key!r}] has {len(history[key])} values, history['loss'] has {length}")
    figures = []
    for key, label, title, legend in (
        ("loss", "Loss", LOSS_TITLE, "upper right"),
        ("accuracy", "Accuracy", ACCURACY_TITLE, "lower right"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, history[key], color="b", label=f"Training {label}")
        ax.plot(epochs, history[f"val_{key}"], linestyle="--", color="r", label=f"Validation {label}")
        ax.set_title(title)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.legend(loc=legend)
        figures.append(fig)
    return figures[0], figures[1]


def confusion_matrix_figure(cm: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Thesis figure 3: 10x8 in seaborn heatmap of counts (annotated integers, Blues), class names on both axes."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {cm.shape}")
    if len(class_names) != cm.shape[0]:
        raise ValueError(f"class_names has {len(class_names)} names, cm has {cm.shape[0]} classes")
    if not np.all(np.isfinite(cm)) or np.any(cm < 0) or np.any(cm != np.round(cm)):
        raise ValueError("cm must hold non-negative integer counts")
    fig, ax = plt.subplots(figsize=(10, 8))
    sns.heatmap(cm.astype(np.int64), annot=True, fmt="d", cmap="Blues",
                xticklabels=list(class_names), yticklabels=list(class_names), ax=ax)
    ax.set_xlabel("Predicted labels")
    ax.set_ylabel("True labels")
    ax.set_title(CONFUSION_TITLE)
    return fig


def score_planes(n_masks: int, p: float, scores: Optional[np.ndarray] = None) -> Tuple[float, float]:
    """Heights of the two planes of :func:`surface_figure` for a map made with a given similarity score.

    A raw D-RISE map is a sum over N masks that keep each pixel with probability p, so a pixel's value lies near
    N*p times the score of the masks that kept it. For the thesis's cosine score (values in [0, 1]) the planes are
    the thesis's 0.1*N*p and N*p. For any other score (``scores``: the per-mask scores of the image, e.g. from
    ``explain(..., return_scores=True)``) they are N*p times the smallest and the largest per-mask score, the range
    the map can reach; the thesis noted that its cross-entropy score needs such other bounds.
    """
    if scores is None:
        return 0.1 * n_masks * p, n_masks * p
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError("scores must be a non-empty array of finite per-mask scores")
    return n_masks * p * float(scores.min()), n_masks * p * float(scores.max())


def surface_figure(weighted_sum: np.ndarray, *, n_masks: int, p: float,
                   planes: Optional[Tuple[float, float]] = None) -> Figure:
    """Thesis figure 4a: 3-D surface (viridis) of an un-normalised D-RISE map and two planes that show its scale.

    As the thesis draws it: default figure size, ``plot_surface(..., cmap='viridis', edgecolor='none')``, a blue and
    a red plane (alpha 0.2), axes 'X Index', 'Y Index', 'Value', the title '3D Surface Visualization of w_norm
    Matrix' and ``colorbar(surf, shrink=0.5, aspect=5)``.

    Parameters
    ----------
    weighted_sum : np.ndarray
        The raw map (H, W).
    n_masks, p : int, float
        N and p of the D-RISE that made it.
    planes : (float, float), optional
        Heights of the blue and the red plane; default the thesis's 0.1*N*p and N*p (its cosine score). For other
        scores see :func:`score_planes`.
    """
    weighted_sum = _saliency(weighted_sum, "weighted_sum")
    if isinstance(n_masks, bool) or int(n_masks) != n_masks or n_masks < 1:
        raise ValueError(f"n_masks must be a positive integer, got {n_masks!r}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    low, high = score_planes(n_masks, p) if planes is None else planes
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"planes must be two finite heights, got {planes!r}")
    height, width = weighted_sum.shape
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    surface = ax.plot_surface(x, y, weighted_sum, cmap="viridis", edgecolor="none")
    for level, colour in ((low, "blue"), (high, "red")):
        ax.plot_surface(x, y, np.full_like(weighted_sum, level), alpha=0.2, color=colour)
    ax.set_xlabel("X Index")
    ax.set_ylabel("Y Index")
    ax.set_zlabel("Value")
    ax.set_title(SURFACE_TITLE)
    fig.colorbar(surface, shrink=0.5, aspect=5)
    return fig


def overlay_figure(image_uint8: np.ndarray, saliency: np.ndarray, *, title: Optional[str] = None,
                   hide_axes: bool = False) -> Figure:
    """Thesis figure 4b: 8x4 in, "Original Image" beside "Saliency Map" (image, map over it in jet, alpha 0.5).

    As the thesis draws it: axes with pixel ticks, the image with ``interpolation='nearest'``, a vertical colorbar.
    The map is stretched over the image, so it may have another resolution (e.g. a 224x224 map of a 32x32 image).

    Parameters
    ----------
    title : str, optional
        A suptitle (the thesis has none; off by default).
    hide_axes : bool
        Hide the axes and ticks (the thesis shows them; off by default).
    """
    image = _image(image_uint8, "image_uint8")
    saliency = _saliency(saliency, "saliency")
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
    _show_image(left, image, hide_axes=hide_axes, interpolation="nearest")
    left.set_title("Original Image")
    overlay = _show_image(right, image, saliency, hide_axes=hide_axes, interpolation="nearest")
    right.set_title("Saliency Map")
    fig.colorbar(overlay, ax=right)
    if title:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------------------------ comparison figures
def saliency_grid(
    images_uint8: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    row_labels: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    overlay: bool = True,
    stability: Optional[Mapping[str, Sequence[float]]] = None,
    capped: Optional[Mapping[str, Sequence[bool]]] = None,
) -> Figure:
    """Rows = images; first column the image, then one column per method or score (map over the image).

    Parameters
    ----------
    images_uint8 : np.ndarray
        (B, H, W, 3) images.
    maps : dict
        Column name -> maps (B, h, w); each map is scaled to its own range.
    row_labels : sequence of str, optional
        One label per image, written left of the row.
    overlay : bool
        Draw maps over the image (jet, alpha 0.5) or alone.
    stability : dict, optional
        Column name -> each map's two-seed Spearman (B,), written under its panel ("two-seed ρ 0.37"); a column
        left out, or NaN, gets no number (unknown).
    capped : dict, optional
        Column name -> whether each map stopped at its cap of masks before its target stability (B,): such a
        panel's number, rounded down to three decimals, reads "two-seed ρ 0.899, cap".
    """
    images = np.asarray(images_uint8)
    if images.ndim not in (3, 4) or len(images) < 1:
        raise ValueError(f"images_uint8 must have shape (B, H, W, 3), got shape {images.shape}")
    if not maps:
        raise ValueError("maps must name at least one set of maps")
    for name, values in maps.items():
        if np.ndim(values) != 3 or len(values) != len(images):
            raise ValueError(f"maps[{name!r}] must have shape ({len(images)}, H, W), got shape {np.shape(values)}")
    if row_labels is not None and len(row_labels) != len(images):
        raise ValueError(f"row_labels has {len(row_labels)} labels for {len(images)} images")
    stability, capped = dict(stability or {}), dict(capped or {})
    for given, what in ((stability, "stability"), (capped, "capped")):
        for name, values in given.items():
            if name not in maps or np.shape(values) != (len(images),):
                raise ValueError(f"{what}[{name!r}] must name a column of maps and hold {len(images)} values, got "
                                 f"shape {np.shape(values)}")
    rows, cols = len(images), len(maps) + 1
    row_height = 1.8 + (0.2 if stability else 0.0)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, row_height * rows + (0.4 if title else 0)),
                             squeeze=False)
    for row in range(rows):
        image = _image(images[row], "images_uint8[i]")
        _show_image(axes[row, 0], image)
        for col, (name, values) in enumerate(maps.items(), start=1):
            saliency = _saliency(values[row], f"maps[{name!r}][i]")
            if overlay:
                _show_image(axes[row, col], image, saliency)
            else:
                axes[row, col].imshow(saliency, cmap="jet")
                axes[row, col].axis("off")
            agreement = float(stability[name][row]) if name in stability else float("nan")
            if np.isfinite(agreement):
                axes[row, col].text(0.5, -0.03, _stability_label(agreement, name in capped and bool(capped[name][row])),
                                    transform=axes[row, col].transAxes, ha="center", va="top", fontsize=7)
        if row_labels is not None:
            axes[row, 0].text(-0.08, 0.5, row_labels[row], transform=axes[row, 0].transAxes,
                              rotation=90, ha="right", va="center", fontsize=8)
    axes[0, 0].set_title("Image", fontsize=9)
    for col, name in enumerate(maps, start=1):
        axes[0, col].set_title(textwrap.fill(name, 22, break_long_words=False), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _stability_label(agreement: float, capped: bool) -> str:
    """The text under a map: its two-seed Spearman; a map that stopped at its cap of masks shows it rounded down to
    three decimals, so that it never reads as its target ("two-seed ρ 0.899, cap")."""
    if capped:
        return f"two-seed ρ {np.floor(agreement * 1000) / 1000:.3f}, cap"
    return f"two-seed ρ {agreement:.2f}"


def uncertainty_figure(
    images_uint8: np.ndarray,
    maps: np.ndarray,
    replica_maps: np.ndarray,
    *,
    standard_error: Optional[np.ndarray] = None,
    top_fraction: float = 0.1,
    row_labels: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
) -> Figure:
    """The Monte Carlo error of Monte Carlo saliency maps (e.g. D-RISE's), one row per image: the image, its map
    over it, the map's per-pixel standard error, and how often each pixel is in the top ``top_fraction`` of the
    independent replica maps (0 to 1; the map's own top region outlined in white).

    Draws only: everything comes from the replica maps the maps were made of (``DRise.replica_maps``), no model
    is called. A hot spot that is yellow (near 1) in the last column is in the top region whichever masks are
    drawn; where the outline encloses dark pixels, the map's hot spot is noise.

    Parameters
    ----------
    images_uint8 : np.ndarray
        (B, H, W, 3) images.
    maps : np.ndarray
        (B, h, w) maps (drawn stretched over the images).
    replica_maps : np.ndarray
        (B, R, h, w) the R >= 2 independent replica maps behind each map, on its scale (``DRise.replica_maps``).
    standard_error : np.ndarray, optional
        (B, h, w) per-pixel standard error (``DRise.standard_error``); default: from ``replica_maps``
        (:func:`drise_tf.explain.stability.replica_standard_error`).
    top_fraction : float
        Size of the top region, a fraction of the pixels in (0, 1) (:func:`drise_tf.explain.stability.top_region`).
    row_labels : sequence of str, optional
        One label per image, written left of the row.
    title : str, optional
        A suptitle.
    """
    images = np.asarray(images_uint8)
    if images.ndim not in (3, 4) or len(images) < 1:
        raise ValueError(f"images_uint8 must have shape (B, H, W, 3), got shape {images.shape}")
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or len(maps) != len(images):
        raise ValueError(f"maps must have shape ({len(images)}, h, w), got shape {maps.shape}")
    replica_maps = np.asarray(replica_maps, dtype=np.float64)
    if replica_maps.ndim != 4 or replica_maps.shape[0] != len(maps) or replica_maps.shape[2:] != maps.shape[1:] \
            or replica_maps.shape[1] < 2:
        raise ValueError(f"replica_maps must have shape ({len(maps)}, R, {maps.shape[1]}, {maps.shape[2]}) with "
                         f"R >= 2 replicas, got shape {replica_maps.shape}")
    if not np.all(np.isfinite(replica_maps)):
        raise ValueError("replica_maps contains NaN or infinite values")
    error = replica_standard_error(replica_maps) if standard_error is None else np.asarray(standard_error, np.float64)
    if error.shape != maps.shape:
        raise ValueError(f"standard_error must have the shape of maps {maps.shape}, got shape {error.shape}")
    if row_labels is not None and len(row_labels) != len(images):
        raise ValueError(f"row_labels has {len(row_labels)} labels for {len(images)} images")
    frequency = top_region_frequency(replica_maps, top_fraction)
    region = top_region(maps, top_fraction)
    percent = f"{100 * top_fraction:g}%"
    rows = len(images)
    fig, axes = plt.subplots(rows, 4, figsize=(10.0, 2.5 * rows + (0.5 if title else 0)), squeeze=False)
    for row in range(rows):
        image = _image(images[row], "images_uint8[i]")
        image_ax, map_ax, error_ax, frequency_ax = axes[row]
        _show_image(image_ax, image)
        overlay = _show_image(map_ax, image, _saliency(maps[row], "maps[i]"))
        fig.colorbar(overlay, ax=map_ax, fraction=0.046, pad=0.04)
        shown = error_ax.imshow(_saliency(error[row], "standard_error[i]"), cmap="magma")
        fig.colorbar(shown, ax=error_ax, fraction=0.046, pad=0.04)
        shown = frequency_ax.imshow(frequency[row], cmap="viridis", vmin=0.0, vmax=1.0)
        if region[row].any():  # padded with "out", so that the outline closes along the image border
            height, width = region[row].shape
            frequency_ax.contour(np.arange(-1, width + 1), np.arange(-1, height + 1),
                                 np.pad(region[row], 1).astype(float), levels=[0.5], colors="white", linewidths=1.2)
            frequency_ax.set_xlim(-0.5, width - 0.5)
            frequency_ax.set_ylim(height - 0.5, -0.5)
        fig.colorbar(shown, ax=frequency_ax, fraction=0.046, pad=0.04, ticks=[0.0, 0.5, 1.0])
        reliable = f"mean inside {frequency[row][region[row]].mean():.2f}" if region[row].any() else "none: flat map"
        frequency_ax.set_xlabel(f"outline: the map's top {percent}\n{reliable}", fontsize=8)
        for ax in (error_ax, frequency_ax):
            ax.set_xticks([])
            ax.set_yticks([])
        if row_labels is not None:
            image_ax.text(-0.08, 0.5, row_labels[row], transform=image_ax.transAxes, rotation=90, ha="right",
                          va="center", fontsize=8)
    for ax, name in zip(axes[0], ("Image", "Map", "Standard error", f"In top {percent}: share of\n"
                                                                     f"{replica_maps.shape[1]} replicas")):
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _intervals(table: Union[Mapping[str, Mapping[str, Interval]], Sequence[Mapping]]) -> Dict[str, Dict[str, Interval]]:
    """``{name: {metric: (mean, low, high)}}`` from that form or from rows with name/metric/mean/low/high."""
    if isinstance(table, Mapping):
        return {str(name): {str(m): tuple(float(v) for v in iv) for m, iv in per_metric.items()}
                for name, per_metric in table.items()}
    out: Dict[str, Dict[str, Interval]] = {}
    for row in table:
        missing = {"name", "metric", "mean", "low", "high"} - set(row)
        if missing:
            raise ValueError(f"table rows need name, metric, mean, low, high; a row lacks {sorted(missing)}")
        out.setdefault(str(row["name"]), {})[str(row["metric"])] = (
            float(row["mean"]), float(row["low"]), float(row["high"]))
    return out


def metric_bars(
    table: Union[Mapping[str, Mapping[str, Interval]], Sequence[Mapping]],
    *,
    metric: Union[str, Sequence[str]],
    title: Optional[str] = None,
    ylabel: Optional[str] = None,
) -> Figure:
    """Bars of the mean with its confidence interval as error bars, one group per method or score.

    Parameters
    ----------
    table : dict or list of dict
        ``{name: {metric: (mean, low, high)}}``, or rows ``{"name", "metric", "mean", "low", "high", ...}`` as
        returned by ``drise_tf.metrics.summary_table`` (or read back from its CSV).
    metric : str or sequence of str
        Metric(s) to draw; several metrics give grouped bars (e.g. deletion and insertion AUC).
    """
    intervals = _intervals(table)
    if not intervals:
        raise ValueError("table is empty")
    wanted = [metric] if isinstance(metric, str) else list(metric)
    names = list(intervals)
    for name in names:
        absent = [m for m in wanted if m not in intervals[name]]
        if absent:
            raise ValueError(f"metric {absent} missing for {name!r}; it has {sorted(intervals[name])}")
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) * len(wanted) + 1.5), 4))
    positions = np.arange(len(names))
    width = 0.8 / len(wanted)
    for i, name_of_metric in enumerate(wanted):
        mean, low, high = (np.array([intervals[n][name_of_metric][k] for n in names]) for k in range(3))
        errors = np.nan_to_num(np.stack([mean - low, high - mean]))
        ax.bar(positions + (i - (len(wanted) - 1) / 2) * width, mean, width, yerr=errors, capsize=3,
               label=name_of_metric)
    ax.set_xticks(positions)
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel(ylabel or (wanted[0] if len(wanted) == 1 else "value"))
    if len(wanted) > 1:
        ax.legend()
    ax.set_title(title or ", ".join(wanted) + " (mean and confidence interval)")
    fig.tight_layout()
    return fig


def _variant_parts(name: str) -> Tuple[str, Optional[str], str]:
    """``"D-RISE 7x7 bilinear cosine/none + smoothed"`` -> ``("D-RISE 7x7 bilinear cosine", "none", " + smoothed")``;
    a name without an aggregation has None there."""
    suffix = SMOOTHED_SUFFIX if name.endswith(SMOOTHED_SUFFIX) else ""
    core = name[: len(name) - len(suffix)]
    prefix, slash, aggregation = core.rpartition("/")
    return (prefix, aggregation, suffix) if slash else (core, None, suffix)


def short_row_labels(names: Sequence[str]) -> Tuple[List[str], str]:
    """Row labels for variants whose names merge variants that order the pixels identically
    (``"D-RISE cosine/none = coverage = debiased"``, ``"... = RISE"``: :func:`drise_tf.evaluation.report.group_name`),
    and one sentence that says the merged aggregations once.

    When every D-RISE row ("<variant>/<aggregation>", optionally ``" + smoothed"``) stands for the same
    aggregations, they leave the labels (``"D-RISE cosine"``) and the sentence names them; other members of a merge
    stay in the label in brackets, without the shared suffix (``"D-RISE 7x7 bilinear probability + smoothed (=
    RISE)"``). Names without merges stay as they are.
    """
    rows = []  # per name: (prefix, suffix, aggregations, other members)
    for name in names:
        first, *rest = str(name).split(" = ")
        members = [_variant_parts(first)]
        prefix, _, suffix = members[0]
        for member in rest:  # "coverage" / "coverage + smoothed" continue the first's variant; others are full names
            parts = _variant_parts(member)
            members.append((prefix, parts[0], parts[2]) if parts[1] is None and parts[0] in AGGREGATIONS else parts)
        aggregations = tuple(agg for p, agg, s in members if (p, s) == (prefix, suffix) and agg is not None)
        others = [p + (f"/{agg}" if agg is not None else "") + (s if s != suffix else "")
                  for p, agg, s in members[1:] if (p, s) != (prefix, suffix)]
        rows.append((prefix, suffix, aggregations, others))
    shared = {aggregations for _, _, aggregations, _ in rows if aggregations}
    # the aggregations leave the labels when two or more D-RISE rows all stand for the same ones
    said_once = len(shared) == 1 and sum(1 for _, _, aggregations, _ in rows if aggregations) > 1
    labels = [prefix + ("" if said_once or not aggregations else f"/{' = '.join(aggregations)}") + suffix
              + (f" (= {', '.join(others)})" if others else "") for prefix, suffix, aggregations, others in rows]
    if not said_once:
        return labels, ""
    tail = " = ".join(shared.pop())
    if " = " in tail:
        return labels, f"every D-RISE row stands for the aggregations {tail} (identical pixel orders)"
    return labels, f"every D-RISE row is the aggregation {tail}"


def ranking_figure(rows: Sequence[Mapping], *, title: str, noise_factor: float = 2.0) -> Figure:
    """A ranking of variants on one metric: each mean with its confidence interval (black), the band of
    ``noise_factor`` times the Monte Carlo noise of the mean around it (shaded orange, where known) and the compact
    letters; merged variants get short row labels, the merges said once under the axis (:func:`short_row_labels`).

    Parameters
    ----------
    rows : sequence of dict
        Best first, with ``variant, mean, low, high, letters`` and optionally ``noise`` (as written by
        :func:`drise_tf.evaluation.report.ranking`).
    title : str
        Axes title (the metric and its direction), wrapped to fit.
    """
    if not rows:
        raise ValueError("rows is empty")
    missing = {"variant", "mean", "low", "high", "letters"} - set(rows[0])
    if missing:
        raise ValueError(f"ranking rows need variant, mean, low, high, letters; they lack {sorted(missing)}")
    labels, note = short_row_labels([str(row["variant"]) for row in rows])
    mean, low, high = (np.array([float(row[key]) for row in rows]) for key in ("mean", "low", "high"))
    noise = np.array([float(row.get("noise", np.nan)) for row in rows])
    positions = np.arange(len(rows))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 2.0))
    known = np.isfinite(noise) & (noise > 0)
    ax.barh(positions[known], 2 * noise_factor * noise[known], left=mean[known] - noise_factor * noise[known],
            height=0.7, color="tab:orange", alpha=0.5, edgecolor="tab:orange", linewidth=1.0,
            label=f"{noise_factor:g} x Monte Carlo noise of the mean")
    ax.errorbar(mean, positions, xerr=np.nan_to_num(np.stack([mean - low, high - mean])), fmt="o", markersize=4,
                color="black", capsize=3, label="mean, 95% interval over images")
    rights = np.nanmax(np.stack([high, mean]), axis=0)
    for position, row, right in zip(positions, rows, rights):
        ax.annotate(str(row["letters"]), (right, position), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    lefts = np.nanmin(np.stack([low, mean]), axis=0)
    span = max(float(np.nanmax(rights) - np.nanmin(lefts)), 1e-12)
    ax.set_xlim(np.nanmin(lefts) - 0.05 * span, np.nanmax(rights) + 0.15 * span)  # room for the letters
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=8)
    fig.suptitle(textwrap.fill(title, 90), fontsize=9)  # over the whole figure: the row labels take the axes' left
    if note:
        ax.set_xlabel(textwrap.fill(note, 60), fontsize=8)  # centred under the axes, which long labels narrow
    legend_height = 0.35  # inches at the bottom of the figure, below the axis and its note
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0.0, legend_height / fig.get_figheight(), 1.0, 1.0))
    return fig


#: A design point of :func:`pareto_figure`: (label, forwards to a stable map, mean metric, low, high).
DesignPoint = Tuple[str, float, float, float, float]


def pareto_figure(panels: Mapping[str, Sequence[DesignPoint]], *, marked: Optional[Mapping[str, str]] = None,
                  target: float = 0.9, cap: Optional[float] = None, metric: str = "ROAD gap") -> Figure:
    """Faithfulness against cost: one panel per network, every design a point at its median forwards to a stable map
    (log scale) and its mean metric with the 95% interval; the designs on the Pareto front (no other design is both
    cheaper and better on average) joined by a line; ``marked`` designs (label -> role, e.g. "recommended",
    "thesis", "RISE") drawn large and named, the others small with their label.
    """
    if not panels:
        raise ValueError("panels is empty: no network to draw")
    marked = dict(marked or {})
    roles = sorted(set(marked.values()))
    colours = dict(zip(roles, sns.color_palette("deep", max(len(roles), 1))))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (network, points) in zip(axes[0], panels.items()):
        finite = [point for point in points if np.isfinite(point[1]) and np.isfinite(point[2])]
        front, best = [], -np.inf
        for point in sorted(finite, key=lambda point: (point[1], -point[2])):
            if point[2] > best:
                front.append(point)
                best = point[2]
        ax.plot([p[1] for p in front], [p[2] for p in front], color="0.75", linewidth=1.0, zorder=1,
                label="Pareto front")
        for label, forwards, mean, low, high in finite:
            role = marked.get(label)
            ax.errorbar(forwards, mean, yerr=[[mean - low], [high - mean]], fmt="o" if role else ".",
                        markersize=8 if role else 5, color=colours[role] if role else "0.35", capsize=2,
                        linewidth=0.8, zorder=3 if role else 2, label=role)
            ax.annotate(label + (f" ({role})" if role and role not in label else ""), (forwards, mean),
                        xytext=(4, 3), textcoords="offset points", fontsize=7 if role else 5.5,
                        color=colours[role] if role else "0.3")
        if cap is not None:
            ax.axvline(cap, color="0.6", linestyle=":", linewidth=1.0, label=f"cap ({cap:,.0f} masks)")
        ax.set_xscale("log")
        costs = [point[1] for point in finite] + ([cap] if cap is not None else [])
        if costs:  # room right of the costliest point for its label
            ax.set_xlim(min(costs) / 1.5, max(costs) * 4.0)
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(network, fontsize=10)
        ax.set_xlabel(f"median forward passes to a two-seed Spearman of {target:g}", fontsize=8)
        ax.set_ylabel(f"{metric} (mean, 95% interval)", fontsize=8)
        ax.tick_params(labelsize=7)
    handles: Dict[str, object] = {}
    for ax in axes[0]:  # one legend for every panel, under them
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0.0, 0.4 / fig.get_figheight(), 1.0, 1.0))
    return fig


def agreement_heatmap(names: Sequence[str], matrix: np.ndarray, *, title: str = "Rank correlation") -> Figure:
    """Annotated heatmap (-1 to 1, diverging colours) of pairwise agreement between methods or scores."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (len(names), len(names)):
        raise ValueError(f"matrix must have shape ({len(names)}, {len(names)}) for {len(names)} names, "
                         f"got shape {matrix.shape}")
    size = max(4.0, 0.8 * len(names) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    sns.heatmap(matrix, annot=True, fmt=".2f", cmap="vlag", vmin=-1.0, vmax=1.0, square=True,
                xticklabels=list(names), yticklabels=list(names), ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def causal_curve_figure(
    curves: Mapping[str, np.ndarray],
    *,
    mode: str,
    x: Optional[np.ndarray] = None,
    aucs: Optional[Mapping[str, float]] = None,
    title: Optional[str] = None,
) -> Figure:
    """Deletion or insertion curves of several methods (a (B, n) array is drawn as its mean over images).

    Parameters
    ----------
    curves : dict
        Name -> curve (n,) or curves (B, n).
    mode : {"deletion", "insertion"}
    x : np.ndarray, optional
        Fraction of pixels changed per step (default equally spaced on [0, 1]).
    aucs : dict, optional
        Name -> AUC, shown in the legend.
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    if not curves:
        raise ValueError("curves must name at least one curve")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2):
            raise ValueError(f"curves[{name!r}] must have shape (n,) or (B, n), got shape {values.shape}")
        mean = values if values.ndim == 1 else values.mean(axis=0)
        positions = np.linspace(0.0, 1.0, len(mean)) if x is None else np.asarray(x)
        if positions.shape != mean.shape:
            raise ValueError(f"x has shape {positions.shape}, curves[{name!r}] has {len(mean)} steps")
        label = name if aucs is None or name not in aucs else f"{name} (AUC {aucs[name]:.3f})"
        ax.plot(positions, mean, label=label)
    verb = "deleted" if mode == "deletion" else "inserted"
    ax.set_xlabel(f"Fraction of pixels {verb}")
    ax.set_ylabel("Probability of the predicted class")
    ax.set_xlim(0.0, 1.0)
    ax.set_title(title or f"{mode.capitalize()} curves")
    ax.legend(loc="upper right" if mode == "deletion" else "lower right", fontsize=8)
    fig.tight_layout()
    return fig


def randomization_figure(
    rows_by_method: Mapping[str, Sequence[Mapping]], *, key: str = "spearman", title: Optional[str] = None
) -> Figure:
    """Cascading model-randomisation check: rank correlation with the trained model's maps after each layer.

    Parameters
    ----------
    rows_by_method : dict
        Method name -> rows of ``drise_tf.metrics.randomization_check`` (``step``, ``layer``, ``spearman``,
        ``spearman_abs``); every method must have randomised the same layers.
    key : str
        Row value to draw (``"spearman"`` or ``"spearman_abs"``).
    """
    if not rows_by_method:
        raise ValueError("rows_by_method must name at least one method")
    first = next(iter(rows_by_method.values()))
    layers = [row["layer"] for row in first]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(layers) + 2.0) + 2.5, 4.5))
    for name, rows in rows_by_method.items():
        if [row["layer"] for row in rows] != layers:
            raise ValueError(f"rows_by_method[{name!r}] randomised other layers than the first method")
        if any(key not in row for row in rows):
            raise ValueError(f"rows_by_method[{name!r}] rows lack {key!r}")
        ax.plot(range(len(rows)), [float(row[key]) for row in rows], "o-", label=name)
    ax.set_xticks(range(len(layers)))
    # a step re-initialises a range of layers ("stage4_block2_bn2 .. stage4_block1_conv1"): label it by the last
    ax.set_xticklabels(["original" if layer is None or layer == "" else str(layer).split(" .. ")[-1]
                        for layer in layers], rotation=30, ha="right", fontsize=8)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("Randomised from the top down to layer")
    ax.set_ylabel(f"Rank correlation ({key})")
    ax.set_title(title or "Cascading randomisation of the model", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)  # beside the lines
    fig.tight_layout()
    return fig


def labelled_image_grid(
    images_uint8: np.ndarray,
    titles: Sequence[str],
    *,
    ncols: int = 5,
    maps: Optional[np.ndarray] = None,
    suptitle: Optional[str] = None,
) -> Figure:
    """Images (optionally with a map over each) in a grid, each with its own title (e.g. "true: cat / pred: dog")."""
    images = np.asarray(images_uint8)
    if images.ndim not in (3, 4) or len(images) < 1:
        raise ValueError(f"images_uint8 must have shape (B, H, W, 3), got shape {images.shape}")
    if len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    if isinstance(ncols, bool) or int(ncols) != ncols or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    if maps is not None and (np.ndim(maps) != 3 or len(maps) != len(images)):
        raise ValueError(f"maps must have shape ({len(images)}, H, W), got shape {np.shape(maps)}")
    ncols = min(int(ncols), len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 2.4 * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        if index >= len(images):
            ax.axis("off")
            continue
        saliency = None if maps is None else _saliency(maps[index], "maps[i]")
        _show_image(ax, _image(images[index], "images_uint8[i]"), saliency)
        ax.set_title(titles[index], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def accuracy_sweep_figure(
    xs: Sequence[float],
    accuracies: Union[Sequence[float], Mapping[str, Sequence[float]]],
    *,
    xlabel: str,
    title: str,
) -> Figure:
    """Accuracy against a swept parameter (e.g. the FGSM epsilon); a dict draws one line per model."""
    xs = np.asarray(xs, dtype=np.float64)
    lines = dict(accuracies) if isinstance(accuracies, Mapping) else {None: accuracies}
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in lines.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != xs.shape:
            raise ValueError(f"accuracies{'' if label is None else f'[{label!r}]'} has shape {values.shape}, "
                             f"xs has shape {xs.shape}")
        ax.plot(xs, values, "o-", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Accuracy")
    ax.set_ylim(0.0, 1.05)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if isinstance(accuracies, Mapping):
        ax.legend()
    fig.tight_layout()
    return fig


#: A point of :func:`calls_figure`: (model calls per map, mean metric, low, high).
CallsPoint = Tuple[float, float, float, float]


def calls_figure(panels: Mapping[str, Mapping[str, Sequence[CallsPoint]]], *, metric: str = "ROAD gap",
                 dodge: float = 0.015) -> Figure:
    """A metric against the model calls each map costs: one panel per network, one line per method through its
    budgets (calls on a log scale), each point its mean with the 95% interval; the methods share colours and markers
    across panels and one legend.

    Parameters
    ----------
    panels : dict
        Network -> method -> points ``(calls, mean, low, high)``, drawn in order of calls.
    metric : str
        The metric's name, for the y axis.
    dodge : float
        Methods at equal calls are drawn side by side, each shifted by this share of its calls from the last
        (0: at their calls exactly).
    """
    if not panels:
        raise ValueError("panels is empty: no network to draw")
    methods = list(dict.fromkeys(method for lines in panels.values() for method in lines))
    colours = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    markers = dict(zip(methods, "osD^vP*Xp<>h"))
    shifts = {method: (1.0 + dodge) ** (k - (len(methods) - 1) / 2) for k, method in enumerate(methods)}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False, sharey=True)
    for ax, (network, lines) in zip(axes[0], panels.items()):
        for method, points in lines.items():
            calls, mean, low, high = np.array(sorted(points), dtype=np.float64).reshape(-1, 4).T
            ax.errorbar(calls * shifts[method], mean, yerr=np.stack([mean - low, high - mean]),
                        color=colours[method], marker=markers[method], markersize=4, linewidth=1.0, capsize=2,
                        label=method)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(network, fontsize=10)
        ax.set_xlabel("model calls per map", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel(f"{metric} (mean, 95% interval)", fontsize=8)
    handles = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    columns = min(len(handles), 2 * len(panels))
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="lower center", ncol=columns, frameon=False)
    legend_height = 0.2 + 0.16 * -(-len(handles) // columns)  # inches
    fig.tight_layout(rect=(0.0, legend_height / fig.get_figheight(), 1.0, 1.0))
    return fig


def save(fig: Figure, path: Union[str, os.PathLike], *, dpi: int = 100, close: bool = False) -> str:
    """Write ``fig`` as PNG to ``path`` atomically (parent folders created); close it only if ``close``. Returns
    the path."""
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"path must end with .png, got {path!r}")
    png = io.BytesIO()
    fig.savefig(png, dpi=dpi, format="png")
    write_bytes_atomic(path, png.getvalue())
    if close:
        plt.close(fig)
    return path


__all__: List[str] = [
    "learning_curves", "confusion_matrix_figure", "surface_figure", "overlay_figure", "saliency_grid",
    "metric_bars", "agreement_heatmap", "causal_curve_figure", "randomization_figure", "labelled_image_grid",
    "accuracy_sweep_figure", "uncertainty_figure", "save",
]
