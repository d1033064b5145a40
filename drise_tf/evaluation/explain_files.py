"""Explanations of image files by a trained run: the command line's ``explain``.

Each PNG or JPEG file is read as the model's input (:func:`drise_tf.data.image_files.read_image_file`: RGB, resized
to the model's height x width with Pillow's bicubic filter) and standardised with the run's standardizer, then
explained by one registered method, made with the library's own defaults (:func:`drise_tf.explain.make_explainer`;
D-RISE's mask design is :class:`~drise_tf.explain.DRise`'s default). The Monte Carlo methods (D-RISE, RISE) draw
masks for each image until the map's estimated two-seed Spearman reaches ``target_stability`` or ``max_masks`` is
reached. Per image the output folder gets ``<stem>_overlay.png``, ``<stem>_uncertainty.png`` (Monte Carlo methods
only: drawn from their replica maps), ``<stem>_map.npy`` (float32, the model's height x width) and a row of
:data:`SUMMARY_FILE`; one line per image is printed.
"""
from __future__ import annotations

import io
import os
import pathlib
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drise_tf import explain
from drise_tf.core.compat import write_bytes_atomic
from drise_tf.core.tables import write_csv
from drise_tf.data import CLASS_NAMES, class_index, find_image_files, read_image_file
from drise_tf.evaluation.comparisons import MASKING_PRESETS, SEEDED_METHODS
from drise_tf.plotting import overlay_figure, save, uncertainty_figure
from drise_tf.training import load_run, predict_probs

#: The command's defaults for the Monte Carlo methods: each map runs to this estimated two-seed Spearman ...
DEFAULT_TARGET_STABILITY = 0.9
#: ... or until this many masks.
DEFAULT_MAX_MASKS = 40000
#: The summary of every image, in the output folder.
SUMMARY_FILE = "explanations.csv"
SUMMARY_COLUMNS = ("file", "predicted_class", "probability", "explained_class", "method", "masks_used", "stability",
                   "hit_cap", "map", "overlay", "uncertainty")


def _stability_text(method: str, row: Dict[str, Any], max_masks: int, target_stability: float) -> str:
    """How a printed line states a map's masks and stability."""
    if method in MASKING_PRESETS:
        cap = f" (hit the cap of {max_masks} masks before {target_stability:g})" if row["hit_cap"] else ""
        return f"{row['masks_used']} masks, stability {row['stability']:.3f}{cap}"
    if method in SEEDED_METHODS:
        return "no masks, stability n/a (seeded random, not estimated)"
    return "no masks, stability 1 (deterministic)"


def _write_npy(path: pathlib.Path, array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return write_bytes_atomic(path, buffer.getvalue())


def explain_image_files(
    run_dir: str | os.PathLike,
    images: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    method: str = "drise",
    target: Optional[str | int] = None,
    target_stability: float = DEFAULT_TARGET_STABILITY,
    max_masks: int = DEFAULT_MAX_MASKS,
    seed: int = 0,
    **options: Any,
) -> List[Dict[str, Any]]:
    """Explain PNG / JPEG files with a trained run; write the figures, maps and :data:`SUMMARY_FILE` to ``out``.

    Parameters
    ----------
    run_dir : path
        Trained run folder (model and standardizer, :func:`drise_tf.training.load_run`).
    images : sequence of path
        PNG or JPEG files of any size and mode, or folders of them (:func:`drise_tf.data.find_image_files`); all
        are checked before the model is loaded.
    out : path
        Output folder (created).
    method : str
        A registered explainer (:func:`drise_tf.explain.available_explainers`), default ``"drise"``.
    target : str or int, optional
        The class explained, a name ("cat") or index; default: each image's predicted class.
    target_stability, max_masks : float, int
        D-RISE and RISE only: each map's masks are drawn until its estimated two-seed Spearman reaches
        ``target_stability`` in (0, 1), or the next round of masks would pass ``max_masks``.
    seed : int
        Seed of the methods with a random step (D-RISE, RISE, SmoothGrad): same seed, same maps.
    **options
        Further options of the explainer (e.g. D-RISE's ``similarity``, ``n_masks`` per round); they win over the
        defaults.

    Returns
    -------
    list of dict
        One row per image, the columns of :data:`SUMMARY_COLUMNS` (``stability``: the estimated two-seed Spearman
        for D-RISE and RISE, 1.0 for deterministic methods, None for SmoothGrad; ``masks_used`` None without masks;
        ``uncertainty`` None for methods without replica maps).

    Raises
    ------
    FileNotFoundError, drise_tf.data.ImageFileError
        A missing, unreadable or non-PNG/JPEG file, or an empty folder (before the model is loaded).
    ValueError
        An unknown method or class, or options the method does not take.
    """
    files = find_image_files(images)
    explain.EXPLAINERS.get(method)  # an unknown method fails before the model is loaded
    explained_class = None if target is None else class_index(target, "target")
    monte_carlo = method in MASKING_PRESETS
    run_options = {"target_stability": target_stability, "max_masks": max_masks} if monte_carlo else {}
    model, standardizer = load_run(run_dir)
    seeded = {"seed": seed} if method in SEEDED_METHODS else {}
    explainer = explain.make_explainer(method, model, **{**seeded, **run_options, **options})  # the method's defaults
    height, width = (int(side) for side in model.input_shape[1:3])
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not monte_carlo:
        print(f"[explain] {method} has no replica maps: no uncertainty figures", flush=True)
    rows: List[Dict[str, Any]] = []
    for path in files:
        pixels = read_image_file(path, (height, width))
        x = standardizer.transform(pixels[np.newaxis])
        probs = predict_probs(model, x)[0]
        predicted = int(probs.argmax())
        chosen = predicted if explained_class is None else explained_class
        if monte_carlo:
            maps, stability = explainer.explain(x, [chosen], return_stability=True)
            masks_used, stability = int(explainer.masks_used[0]), float(stability[0])
        else:
            maps, masks_used = explainer.explain(x, [chosen]), None
            stability = None if method in SEEDED_METHODS else 1.0
        row = {"file": str(path), "predicted_class": CLASS_NAMES[predicted], "probability": float(probs[predicted]),
               "explained_class": CLASS_NAMES[chosen], "method": method, "masks_used": masks_used,
               "stability": stability, "hit_cap": monte_carlo and stability < target_stability}
        summary = _stability_text(method, row, max_masks, target_stability)
        title = (f"{path.name}: {method} map of {row['explained_class']} (predicted {row['predicted_class']} "
                 f"{row['probability']:.2f})\n{summary}")
        row["map"] = _write_npy(out / f"{path.stem}_map.npy", maps[0].astype(np.float32))
        overlay = overlay_figure(pixels, maps[0], title=title)
        overlay.tight_layout()  # room for the two-line title
        row["overlay"] = save(overlay, out / f"{path.stem}_overlay.png", close=True)
        row["uncertainty"] = save(uncertainty_figure(pixels[np.newaxis], maps, explainer.replica_maps,
                                                     standard_error=explainer.standard_error, title=title),
                                  out / f"{path.stem}_uncertainty.png", close=True) if monte_carlo else None
        rows.append(row)
        write_csv(rows, out / SUMMARY_FILE, SUMMARY_COLUMNS)
        print(f"[explain] {path}: predicted {row['predicted_class']} ({row['probability']:.3f}), explained "
              f"{row['explained_class']}, {summary}", flush=True)
    return rows
