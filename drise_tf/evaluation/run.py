"""The evaluation run: every D-RISE similarity score x aggregation and every other method explained on a data set for
the true class, measured by ROAD (the primary metric), MuFidelity, deletion / insertion and the efficient MPRT, and
stored image chunk by image chunk so that a killed run resumes where it stopped.

Maps are computed once per chunk and shared by every metric; map sets that order the pixels identically are measured
once. A subset of images is explained a second time with another mask / noise seed (the Monte Carlo noise of each
variant's metrics), and a subset is explained on the fully randomised model (the efficient MPRT).
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from drise_tf.core import checks, sharding
from drise_tf.evaluation.comparisons import DEFAULT_METHODS, SEEDED_METHODS, explain_methods
from drise_tf.evaluation.store import ResultStore
from drise_tf.explain import similarity as similarity_lib
from drise_tf.explain.base import SMOOTHED_SUFFIX, smooth_maps
from drise_tf.explain.drise import DESIGN_OPTIONS, RECOMMENDED_PRESET, THESIS_MASKS, DRise
from drise_tf.explain.model_copies import forward_copy
from drise_tf.metrics.agreement import order_representatives
from drise_tf.metrics.faithfulness import deletion_insertion, mu_fidelity, road
from drise_tf.metrics.randomisation import efficient_mprt, randomised_model

#: The other methods of the evaluation: display name -> (explainer name, options); the comparison's methods but
#: D-RISE, whose every score and aggregation the evaluation runs itself.
METHODS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    name: spec for name, spec in DEFAULT_METHODS.items() if spec[0] != "drise"
}
#: D-RISE aggregations evaluated: "np" orders the pixels exactly as "none" does (a constant factor), so it is left out.
EVALUATED_AGGREGATIONS = ("none", "coverage", "debiased")
#: Metric -> True when higher is better. ``road_gap`` is the primary metric, declared before any run.
METRICS: Dict[str, bool] = {
    "road_gap": True, "road_morf": False, "road_lerf": True, "mu_fidelity": True,
    "deletion_auc": False, "insertion_auc": True, "emprt": True, "mprt_spearman": False,
}
PRIMARY_METRIC = "road_gap"
#: The faithfulness metrics, which do not change when a map is scaled or shifted: the report shows variants within
#: ``1e-4`` of each other on all of them, on average over the images, as one row. It merges more than
#: :meth:`Evaluation.measure` shares: the ``none``, ``coverage`` and ``debiased`` aggregations of antithetic masks
#: order the pixels identically up to float32 rounding, which can exceed the strict same-order test on some images
#: (measured, 200 of 1,000 images for ``cosine``) and then swaps only near-ties.
FAITHFULNESS_METRICS = ("road_gap", "road_morf", "road_lerf", "mu_fidelity", "deletion_auc", "insertion_auc")
#: D-RISE / RISE options of the evaluation unless given (N = 2000 antithetic masks: see the README's evaluation).
DRISE_OPTIONS: Dict[str, Any] = {"n_masks": 2000, "sampling": "antithetic"}
#: The smoothing control, declared before any run: every map is also measured after a Gaussian blur (its own rows,
#: named ``<variant> + smoothed``). Its standard deviation equals that of the tent kernel with which bilinear
#: upsampling spreads one cell of RISE's 7x7 grid: (H / 7) / sqrt(6) pixels, 1.87 on CIFAR's 32x32. So it smooths any
#: map about as much as RISE's upsampling smooths RISE's own grid, and it cannot add information about the model: if
#: smoothed maps score higher, the metric rewards smoothness (Song, Cha and Seo 2023, arXiv 2304.13836).
SMOOTHING_GRID = 7
#: The mask-design factorial (``evaluate-maps --designs factorial``): D-RISE on RISE's 7x7 grid and the thesis's
#: 16x16 grid, each upsampled nearest (the thesis) and bilinear (RISE), with each upsampling's own random shift (the
#: thesis's offsets 0..2 for nearest, RISE's 0..cell-1 for bilinear) and equal N; label -> D-RISE design options.
FACTORIAL_DESIGNS: Dict[str, Dict[str, Any]] = {
    f"{grid}x{grid} {upsample}": {"grid_size": grid, "upsample": upsample}
    for grid in (7, 16) for upsample in ("nearest", "bilinear")
}


#: ``evaluate-maps --designs recommended``: every score on the thesis's masks (the default rows) and the recommended
#: D-RISE's design as one more row, ``"D-RISE recommended probability/np"``, from the run's N and sampling.
RECOMMENDED_DESIGNS: Dict[str, Dict[str, Any]] = {
    "": {}, "recommended": {key: RECOMMENDED_PRESET[key] for key in DESIGN_OPTIONS}}


def smoothing_sigma(height: int) -> float:
    """Standard deviation in pixels of the smoothing control for images ``height`` pixels high (see
    :data:`SMOOTHING_GRID`)."""
    return height / SMOOTHING_GRID / math.sqrt(6.0)
#: Settings of the metrics (stored with the results; a resumed run must use the same).
METRIC_SETTINGS: Dict[str, Any] = {
    "road": {"fractions": [0.1, 0.3, 0.5, 0.7, 0.9], "noise": 0.01},
    "mu_fidelity": {"grid_size": 8, "subset_fraction": 0.2, "n_perturbations": 128, "baseline": 0.0},
    "deletion_insertion": {"step": None},
    "emprt": {"n_bins": 100},
}


def drise_name(score: str, aggregation: str, design: str = "") -> str:
    """Display name of a D-RISE variant, e.g. ``"D-RISE cosine/none"``, or with a mask design's label
    ``"D-RISE 7x7 bilinear cosine/none"``."""
    return f"D-RISE {design + ' ' if design else ''}{score}/{aggregation}"


def model_fingerprint(model: Any) -> str:
    """SHA-256 of the model's weights (so that a resumed run explains the same model)."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


class Evaluation:
    """An evaluation run's methods and metrics over a fixed list of images (see :func:`evaluate_maps`)."""

    def __init__(
        self, model: Any, *, drise_options: Mapping[str, Any], similarities: Sequence[str],
        methods: Mapping[str, Tuple[str, Dict[str, Any]]], seed: int, batch_size: int = 256,
        strategy: Optional[tf.distribute.Strategy] = None, designs: Optional[Mapping[str, Mapping[str, Any]]] = None,
        smoothing_sigma: Optional[float] = None,
    ) -> None:
        self.model = model
        self._metric_model: Any = None
        self.drise_options = {**dict(drise_options), "strategy": strategy}
        self.designs = {"": {}} if designs is None else {label: dict(options) for label, options in designs.items()}
        self.smoothing_sigma = smoothing_sigma
        self.similarities = list(similarities)
        self.methods = dict(methods)
        self.seed = seed
        self.batch_size = batch_size
        self._drise: Dict[Tuple[int, int], DRise] = {}
        self._randomised: Any = None

    # -------------------------------------------------------------------------------------------------- maps
    def _drise_for(self, model: Any, seed: int, design: str) -> DRise:
        """One DRise per (model, seed, mask design), kept for the whole run: its masks are drawn once. The score rows'
        masks are the thesis's unless the options or the design name others (:data:`THESIS_MASKS`)."""
        key = (id(model), seed, design)
        if key not in self._drise:
            self._drise[key] = DRise(model, seed=seed,
                                     **{**THESIS_MASKS, **self.drise_options, **self.designs[design]})
        return self._drise[key]

    def maps(self, model: Any, images: np.ndarray, labels: np.ndarray, *, seed: int,
             seeded_only: bool = False) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray], Dict[str, np.ndarray]]:
        """Maps of every variant (or only of those with a random step), their estimated stability and masks used;
        with a smoothing sigma, each map also smoothed (no forward passes), under its name + :data:`SMOOTHED_SUFFIX`
        (stability and masks used are those of the map before smoothing)."""
        maps: Dict[str, np.ndarray] = {}
        stability: Dict[str, np.ndarray] = {}
        masks_used: Dict[str, np.ndarray] = {}
        for design, options in self.designs.items():
            drise = self._drise_for(model, seed, design)
            found, found_stability = drise.explain_scores(
                images, labels, return_stability=True,
                similarities=[options["similarity"]] if "similarity" in options else self.similarities,
                aggregations=[options["aggregation"]] if "aggregation" in options else EVALUATED_AGGREGATIONS)
            for key, value in found.items():
                name = drise_name(*key.split("/"), design)
                maps[name], stability[name], masks_used[name] = value, found_stability[key], drise.masks_used
        methods = {name: spec for name, spec in self.methods.items() if not seeded_only or spec[0] in SEEDED_METHODS}
        other_maps, other_stability, other_masks = explain_methods(model, images, labels, methods=methods, seed=seed,
                                                                   **self.drise_options)
        maps, stability, masks_used = {**maps, **other_maps}, {**stability, **other_stability}, {**masks_used,
                                                                                                 **other_masks}
        if self.smoothing_sigma is not None:
            for name in list(maps):
                smoothed = name + SMOOTHED_SUFFIX
                maps[smoothed] = smooth_maps(maps[name], self.smoothing_sigma)
                for known in (stability, masks_used):
                    if name in known:
                        known[smoothed] = known[name]
        return maps, stability, masks_used

    def randomised(self) -> Any:
        """The fully randomised copy of the model (seeded), made once."""
        if self._randomised is None:
            self._randomised = randomised_model(self.model, seed=self.seed)
        return self._randomised

    # ----------------------------------------------------------------------------------------------- metrics
    def metric_model(self) -> Any:
        """The model the metrics forward through, made once: its copy with every BatchNormalization folded into its
        convolution, in the precision of the masks' forward passes (:func:`~drise_tf.explain.model_copies.
        forward_copy`; float32: softmax within ~1e-6 of the model's; bfloat16: within ~1e-3, and the metrics'
        per-image values within ~0.001 of float32's, ``benchmarks/metric_precision.py``)."""
        if self._metric_model is None:
            self._metric_model = forward_copy(self.model, self.drise_options.get("precision", "float32"))
        return self._metric_model

    def measure(self, images: np.ndarray, labels: np.ndarray, maps: Mapping[str, np.ndarray], *,
                metric_seed: Tuple[int, ...]) -> Tuple[Dict[str, Dict[str, np.ndarray]], Dict[str, str]]:
        """ROAD, MuFidelity and deletion / insertion of every map set, for the true class.

        Map sets that order the pixels identically (see :func:`order_representatives`) are measured once: the
        second value names, per map set, the one it was measured as (itself, or an earlier one it shares the
        values of)."""
        representative = order_representatives(maps)
        distinct = list(dict.fromkeys(representative.values()))
        measured: Dict[str, Dict[str, np.ndarray]] = {}
        model = self.metric_model()
        fidelity = mu_fidelity(model, images, {name: maps[name] for name in distinct}, classes=labels,
                               seed=metric_seed, batch_size=self.batch_size, **METRIC_SETTINGS["mu_fidelity"])
        for name in distinct:
            found = road(model, images, maps[name], classes=labels, seed=metric_seed,
                         batch_size=self.batch_size, **METRIC_SETTINGS["road"])
            causal = deletion_insertion(model, images, maps[name], classes=labels, batch_size=self.batch_size,
                                        **METRIC_SETTINGS["deletion_insertion"])
            measured[name] = {"road_gap": found["gap"], "road_morf": found["morf_mean"],
                              "road_lerf": found["lerf_mean"], "mu_fidelity": fidelity[name],
                              "deletion_auc": causal["deletion_auc"], "insertion_auc": causal["insertion_auc"]}
        return {name: measured[representative[name]] for name in maps}, representative


def _records(ids: np.ndarray, labels: np.ndarray, positions: np.ndarray, seed_index: int,
             values: Mapping[str, Mapping[str, np.ndarray]], measured_as: Mapping[str, str]) -> List[Dict[str, Any]]:
    """One record per image and variant: its metrics (None where undefined) and the variant whose map set it was
    measured as (:meth:`Evaluation.measure`)."""
    records = []
    for name, metrics in values.items():
        for k, image_id in enumerate(ids):
            record = {"id": int(image_id), "position": int(positions[k]), "label": int(labels[k]),
                      "seed": seed_index, "variant": name, "measured_as": measured_as[name]}
            for metric, array in metrics.items():
                value = float(np.asarray(array)[k])
                record[metric] = value if np.isfinite(value) else None
            records.append(record)
    return records


def _columns(metric: str, per_variant: Mapping[str, np.ndarray]) -> Dict[str, Dict[str, np.ndarray]]:
    return {name: {metric: values} for name, values in per_variant.items()}


def _merge(*parts: Mapping[str, Mapping[str, np.ndarray]]) -> Dict[str, Dict[str, np.ndarray]]:
    merged: Dict[str, Dict[str, np.ndarray]] = {}
    for part in parts:
        for name, metrics in part.items():
            merged.setdefault(name, {}).update(metrics)
    return merged


def evaluate_maps(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    folder: str | os.PathLike,
    *,
    image_ids: Optional[np.ndarray] = None,
    drise_options: Optional[Mapping[str, Any]] = None,
    similarities: Optional[Sequence[str]] = None,
    methods: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None,
    designs: Optional[Mapping[str, Mapping[str, Any]]] = None,
    smoothing: bool = True,
    noise_images: int = 100,
    mprt_images: int = 100,
    chunk_size: int = 25,
    seed: int = 0,
    batch_size: int = 256,
    resume: bool = False,
    progress: bool = True,
    settings: Optional[Mapping[str, Any]] = None,
    strategy: Optional[tf.distribute.Strategy] = None,
) -> ResultStore:
    """Explain ``images`` for their true class with every D-RISE variant and every other method, measure every map,
    and store per-image results chunk by chunk in ``folder`` (resumable).

    Parameters
    ----------
    model : keras.Model
        The explained model (probabilities out).
    images : np.ndarray
        Model-input images (n, H, W, C), in evaluation order.
    labels : np.ndarray
        True class per image (n,): explained and measured.
    folder : path
        Results folder (``settings.json`` and ``chunks/``).
    image_ids : np.ndarray, optional
        Index of each image in its data set (stored with the results); default 0..n-1.
    drise_options : dict, optional
        Options over :data:`DRISE_OPTIONS` (2000 antithetic masks per image): the run options D-RISE and RISE share
        (``n_masks``, ``sampling``, ``batch_size``, ``precision``: also that of the metrics' forward passes, and
        ``target_stability`` with ``max_masks`` to run every map to an estimated two-seed Spearman instead of a fixed
        N, ``n_masks`` then the first budget), and
        D-RISE's design (``grid_size``, ``upsample``, ``p``, ``shift``), which never reaches RISE (its own preset).
    similarities : sequence of str, optional
        D-RISE scores (default: every registered score).
    methods : dict, optional
        The other methods, display name -> (explainer name, options); default :data:`METHODS`.
    designs : dict, optional
        D-RISE mask designs, label -> design options over ``drise_options`` (``grid_size``, ``upsample``, ``shift``,
        ``p``), each a set of rows ``"D-RISE <label> <score>/<aggregation>"`` from equal N (e.g.
        :data:`FACTORIAL_DESIGNS`); default: the one design of ``drise_options``, rows ``"D-RISE <score>/<agg>"``.
        A design that names its ``similarity`` (and ``aggregation``) is one row under that score (and aggregation)
        instead of one per ``similarities`` x aggregation (e.g. the design sweep's rows,
        :mod:`drise_tf.evaluation.design_sweep`).
    smoothing : bool
        Also measure every map after the smoothing control (:data:`SMOOTHING_GRID`, :func:`smoothing_sigma`), as
        rows ``"<variant> + smoothed"``; a post-processing step, no extra forward passes.
    noise_images : int
        The first images explained a second time with seed ``seed + 1`` (methods with a random step): the Monte Carlo
        noise of the metrics.
    mprt_images : int
        The first images explained on the fully randomised model too (efficient MPRT).
    chunk_size : int
        Images per stored chunk.
    seed : int
        Seed of the masks, the SmoothGrad noise, the metrics' random draws and the randomised model.
    batch_size : int
        Perturbed images per forward pass of the metrics.
    resume : bool
        Continue the run stored in ``folder`` (same settings), skipping its finished chunks.
    progress : bool
        Print images done, rate and time left after each chunk.
    settings : dict, optional
        More settings to store and check on resume (e.g. the run folder and data source).
    strategy : tf.distribute.Strategy, optional
        Spread the D-RISE and RISE forward passes (the bulk of the run) over its replicas, e.g. a
        ``MultiWorkerMirroredStrategy`` over the machines of ``TF_CONFIG``: every worker runs this same call and
        gets the same maps; the metrics are computed on every worker and only the chief writes (``folder`` must be
        storage every worker reads, for ``resume``).

    Returns
    -------
    ResultStore
        The results folder; :func:`drise_tf.evaluation.report.write_report` turns it into tables and a figure.
    """
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    if images.ndim != 4 or labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"images must be (n, H, W, C) and labels (n,) integers, got {images.shape} and "
                         f"{labels.dtype} {labels.shape}")
    ids = np.arange(len(images)) if image_ids is None else np.asarray(image_ids)
    if ids.shape != labels.shape:
        raise ValueError(f"image_ids must have shape {labels.shape}, got {ids.shape}")
    chunk_size = checks.positive_int(chunk_size, "chunk_size")
    for value, name in ((noise_images, "noise_images"), (mprt_images, "mprt_images")):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    similarities = list(similarity_lib.available() if similarities is None else similarities)
    methods = dict(METHODS if methods is None else methods)
    drise_options = {**DRISE_OPTIONS, **dict(drise_options or {})}
    sigma = smoothing_sigma(images.shape[1]) if smoothing else None
    run_settings = {
        "images": len(images), "image_ids": ids.tolist(), "model": model_fingerprint(model), "seed": seed,
        "chunk_size": chunk_size, "noise_images": int(noise_images), "mprt_images": int(mprt_images),
        "drise": drise_options, "similarities": similarities, "aggregations": list(EVALUATED_AGGREGATIONS),
        "methods": {name: [spec[0], spec[1]] for name, spec in methods.items()},
        "metrics": METRIC_SETTINGS, "primary_metric": PRIMARY_METRIC, **dict(settings or {}),
    }
    if designs is not None:  # stored only when given, so that runs of one design keep their settings
        run_settings["designs"] = {label: dict(options) for label, options in designs.items()}
    if sigma is not None:
        run_settings["smoothing"] = {"grid": SMOOTHING_GRID, "sigma": sigma}
    chief = sharding.is_chief(strategy)
    store = ResultStore(folder, run_settings, resume=resume, read_only=not chief)
    evaluation = Evaluation(model, drise_options=drise_options, similarities=similarities, methods=methods,
                            seed=seed, batch_size=batch_size, strategy=strategy, designs=designs,
                            smoothing_sigma=sigma)
    finished = set(store.finished())
    starts = [start for start in range(0, len(images), chunk_size) if start not in finished]
    done = len(images) - sum(min(chunk_size, len(images) - start) for start in starts)
    began = time.perf_counter()
    for count, start in enumerate(starts, start=1):
        positions = np.arange(start, min(start + chunk_size, len(images)))
        x, y = images[positions], labels[positions]
        metric_seed = (seed, start)
        maps, stability, masks_used = evaluation.maps(model, x, y, seed=seed)
        measured, measured_as = evaluation.measure(x, y, maps, metric_seed=metric_seed)
        values = _merge(measured, _columns("stability", stability), _columns("masks_used", masks_used))
        mprt = positions < mprt_images
        for name in maps:  # every record has every metric (None where not measured)
            values[name].update(emprt=np.full(len(positions), np.nan), mprt_spearman=np.full(len(positions), np.nan))
        if mprt.any():
            randomised_maps, _, _ = evaluation.maps(evaluation.randomised(), x[mprt], y[mprt], seed=seed)
            for name in maps:
                found = efficient_mprt(maps[name][mprt], randomised_maps[name], **METRIC_SETTINGS["emprt"])
                values[name]["emprt"][mprt] = found["complexity_ratio"]
                values[name]["mprt_spearman"][mprt] = found["spearman"]
        records = _records(ids[positions], y, positions, 0, values, measured_as)
        noise = positions < noise_images
        if noise.any():
            second, stability, masks_used = evaluation.maps(model, x[noise], y[noise], seed=seed + 1,
                                                            seeded_only=True)
            measured, measured_as = evaluation.measure(x[noise], y[noise], second, metric_seed=metric_seed)
            second_values = _merge(measured, _columns("stability", stability), _columns("masks_used", masks_used))
            records += _records(ids[positions][noise], y[noise], positions[noise], 1, second_values, measured_as)
        if chief:
            store.write(start, records)
        done += len(positions)
        if progress and chief:
            elapsed = time.perf_counter() - began
            rate = sum(min(chunk_size, len(images) - s) for s in starts[:count]) / elapsed * 60
            left = (len(images) - done) / rate if rate > 0 else float("nan")
            print(f"[evaluate] {done}/{len(images)} images, {rate:.1f} images/min, about {left:.0f} min left",
                  flush=True)
    return store

