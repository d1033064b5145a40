"""Quantitative comparisons: D-RISE similarity scores x aggregations, and D-RISE against the other methods.

Each comparison returns a :class:`Comparison`: the maps, the deletion / insertion AUC of every map, the pairwise
rank agreement between them with each map's own two-seed agreement (its Monte Carlo noise floor) on the diagonal,
and a table (mean with a 95% interval) that can be written as CSV.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from drise_tf import explain
from drise_tf.core import tables
from drise_tf.explain.drise import AGGREGATIONS, DRise
from drise_tf.metrics.agreement import agreement_matrix, order_representatives
from drise_tf.metrics.faithfulness import deletion_insertion, predicted_classes
from drise_tf.metrics.randomisation import randomization_check
from drise_tf.metrics.statistics import summary_table

#: The methods compared with D-RISE by default: display name -> (explainer name, options).
DEFAULT_METHODS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "D-RISE cosine (thesis)": ("drise", {"similarity": "cosine", "aggregation": "none"}),
    "D-RISE probability": ("drise", {"similarity": "probability", "aggregation": "debiased"}),
    "RISE": ("rise", {}),
    "Saliency": ("saliency", {}),
    "SmoothGrad": ("smoothgrad", {}),
    "Grad-CAM": ("gradcam", {}),
    "Grad-CAM++": ("gradcam++", {}),
    "Faster-Score-CAM": ("faster_scorecam", {}),
}
#: Methods whose options the comparison sets from its own D-RISE arguments.
MASKING_METHODS = ("drise", "rise")
#: Methods with a random step: the comparison passes them its ``seed``.
SEEDED_METHODS = ("drise", "rise", "smoothgrad")


def _method_options(name: str, options: Mapping[str, Any], seed: int, drise_options: Mapping[str, Any]) -> dict:
    """Options of one method: the shared D-RISE options (masking methods), the seed (random methods), its own."""
    shared = dict(drise_options) if name in MASKING_METHODS else {}
    if name in SEEDED_METHODS:
        shared["seed"] = seed
    return {**shared, **options}


@dataclass
class Comparison:
    """Maps of several methods (or scores) on the same images, with their faithfulness and agreement.

    Attributes
    ----------
    maps : dict
        Name -> float32 maps (B, H, W).
    aucs : dict
        Name -> {"deletion_auc": (B,), "insertion_auc": (B,)}.
    agreement : (list of str, np.ndarray)
        Names and the mean pairwise Spearman rank correlation (M, M); the diagonal holds each map's mean two-seed
        agreement (:attr:`stability`; NaN where unknown): agreement between two variants is only meaningful
        against these noise floors.
    stability : dict
        Name -> per-image two-seed Spearman (B,): estimated from the masks for D-RISE and RISE
        (:mod:`drise_tf.explain.stability`), 1 for deterministic methods; absent where unknown (SmoothGrad).
    masks_used : dict
        Name -> masks behind each map (B,), for the masking methods.
    """

    maps: Dict[str, np.ndarray]
    aucs: Dict[str, Dict[str, np.ndarray]]
    agreement: Tuple[List[str], np.ndarray]
    stability: Dict[str, np.ndarray] = field(default_factory=dict)
    masks_used: Dict[str, np.ndarray] = field(default_factory=dict)

    def table(self, confidence: float = 0.95) -> List[dict]:
        """Rows ``name, metric, mean, low, high, n`` (see :func:`drise_tf.metrics.summary_table`): the AUCs, the
        two-seed Spearman (``two_seed_spearman``) and the masks used where known."""
        metrics = {name: {**aucs,
                          **({"two_seed_spearman": self.stability[name]} if name in self.stability else {}),
                          **({"masks_used": self.masks_used[name]} if name in self.masks_used else {})}
                   for name, aucs in self.aucs.items()}
        return summary_table(metrics, confidence=confidence)

    def write_csv(self, path: str | os.PathLike) -> str:
        """Write :meth:`table` as CSV (atomically); returns the path."""
        return tables.write_csv(self.table(), path)

    def format(self) -> str:
        """The table as aligned text, for printing."""
        return tables.format_table(self.table())


def deletion_insertion_aucs(
    model: Any, images: np.ndarray, maps: Mapping[str, np.ndarray], *, step: Optional[int] = None,
    batch_size: int = 256,
) -> Dict[str, Dict[str, np.ndarray]]:
    """Deletion and insertion AUC of every map set, for the predicted class; map sets that order the pixels
    identically (:func:`~drise_tf.metrics.agreement.order_representatives`) are measured once.

    Parameters
    ----------
    model : keras.Model
        The explained model (probabilities out).
    images : np.ndarray
        Model-input images (B, H, W, C).
    maps : dict
        Name -> maps (B, H, W).
    step : int, optional
        Pixels per deletion / insertion step (default: H*W/32).
    """
    classes = predicted_classes(model, images, batch_size=batch_size)
    representative = order_representatives(maps)
    measured: Dict[str, Dict[str, np.ndarray]] = {}
    for name in dict.fromkeys(representative.values()):
        found = deletion_insertion(model, images, maps[name], step=step, batch_size=batch_size, classes=classes)
        measured[name] = {"deletion_auc": found["deletion_auc"], "insertion_auc": found["insertion_auc"]}
    return {name: measured[representative[name]] for name in maps}


def compare(
    model: Any, images: np.ndarray, maps: Dict[str, np.ndarray], *, step: Optional[int] = None,
    stability: Optional[Mapping[str, np.ndarray]] = None, masks_used: Optional[Mapping[str, np.ndarray]] = None,
) -> Comparison:
    """The :class:`Comparison` of map sets already computed on ``images``: their deletion / insertion AUC
    (:func:`faithfulness`) and mean pairwise Spearman agreement, with the two-seed agreement on the diagonal.

    Parameters
    ----------
    model : keras.Model
        The explained model (probabilities out).
    images : np.ndarray
        Model-input images (B, H, W, C) the maps explain.
    maps : dict
        Name -> maps (B, H, W).
    step : int, optional
        Pixels per deletion / insertion step (default: H*W/32).
    stability, masks_used : dict, optional
        Name -> per-image two-seed Spearman, and masks used (see :class:`Comparison`).
    """
    stability = dict(stability or {})
    names, matrix = agreement_matrix(maps, metric="spearman")
    matrix[np.diag_indices_from(matrix)] = [np.mean(stability[name]) if name in stability else np.nan
                                            for name in names]
    return Comparison(maps=dict(maps), aucs=deletion_insertion_aucs(model, images, maps, step=step),
                      agreement=(names, matrix), stability=stability, masks_used=dict(masks_used or {}))


def similarity_comparison(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    similarities: Optional[Sequence[str]] = None,
    aggregations: Sequence[str] = AGGREGATIONS,
    step: Optional[int] = None,
    **drise_options: Any,
) -> Comparison:
    """D-RISE maps under every similarity score and aggregation, from ONE set of forward passes.

    Parameters
    ----------
    model : keras.Model
        The explained model.
    images : np.ndarray
        Model-input images (B, H, W, C).
    targets : np.ndarray
        True class indices (B,).
    similarities : sequence of str, optional
        Score names (default: every registered score, :func:`drise_tf.explain.similarity.available`).
    aggregations : sequence of str
        Aggregations to compare (default: all of :data:`drise_tf.explain.drise.AGGREGATIONS`).
    step : int, optional
        Pixels per deletion / insertion step.
    **drise_options
        Passed to :class:`drise_tf.explain.drise.DRise` (``n_masks``, ``grid_size``, ``p``, ``batch_size``, ``precision``,
        ``seed``, ...); ``target_stability`` (with ``max_masks``) runs every variant to that two-seed Spearman
        instead of a fixed N (an image stops when all variants reached it).

    Returns
    -------
    Comparison
        Names are ``"<score>/<aggregation>"``; with each variant's estimated two-seed Spearman per image.
    """
    drise = DRise(model, **drise_options)
    maps, stability = drise.explain_scores(images, targets, similarities=similarities, aggregations=aggregations,
                                           return_stability=True)
    return compare(model, images, maps, step=step, stability=stability,
                   masks_used={name: drise.masks_used for name in maps})


def method_comparison(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None,
    step: Optional[int] = None,
    seed: int = 0,
    **drise_options: Any,
) -> Comparison:
    """D-RISE variants against saliency, SmoothGrad and the CAM methods on the same images and targets.

    Parameters
    ----------
    methods : dict, optional
        Display name -> (explainer name, options); default :data:`DEFAULT_METHODS`.
    seed : int
        Seed of every method with a random step (masks, SmoothGrad noise): same seed, same maps.
    **drise_options
        Shared options of the masking methods (``n_masks``, ``grid_size``, ``p``, ``precision``, ``batch_size``;
        ``target_stability`` and ``max_masks`` for a fixed stability instead of a fixed N).
    """
    maps, stability, masks_used = explain_methods(model, images, targets,
                                                  methods=DEFAULT_METHODS if methods is None else methods, seed=seed,
                                                  progress=True, **drise_options)
    return compare(model, images, maps, step=step, stability=stability, masks_used=masks_used)


def explain_methods(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Mapping[str, Tuple[str, Dict[str, Any]]],
    seed: int = 0,
    progress: bool = False,
    **drise_options: Any,
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """The maps of several methods on the same images and targets, with what is known of their Monte Carlo noise.

    Parameters
    ----------
    methods : dict
        Display name -> (explainer name, options).
    seed : int
        Seed of every method with a random step (masks, SmoothGrad noise): same seed, same maps.
    progress : bool
        Print a line as each method is done.
    **drise_options
        Shared options of the masking methods (see :func:`method_comparison`).

    Returns
    -------
    (maps, stability, masks_used)
        Name -> maps (B, H, W); name -> per-image two-seed Spearman (estimated for the masking methods, 1 for
        deterministic methods, absent where unknown); name -> masks behind each map (masking methods).
    """
    maps, stability, masks_used = {}, {}, {}
    for display, (name, options) in methods.items():
        options = _method_options(name, options, seed, drise_options)
        explainer = explain.make_explainer(name, model, **options)
        if "return_stability" in explainer.extra_returns:
            maps[display], stability[display] = explainer.explain(images, targets, return_stability=True)
            masks_used[display] = explainer.masks_used
        else:
            maps[display] = explainer.explain(images, targets)
            if name not in SEEDED_METHODS:  # deterministic: a second run gives the same map
                stability[display] = np.ones(len(images))
        if progress:
            print(f"[compare] {display}: done", flush=True)
    return maps, stability, masks_used


def sanity_check(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None,
    layers: Optional[Sequence[str]] = None,
    seed: int = 0,
    **drise_options: Any,
) -> Dict[str, List[dict]]:
    """Cascading model-randomisation check (Adebayo et al.) of every method: method -> rows per randomised layer.

    See :func:`drise_tf.metrics.randomization_check`; ``layers`` limits the cascade to those layers (top first).
    ``seed`` seeds both the re-initialised weights and every random method.
    """
    methods = DEFAULT_METHODS if methods is None else methods
    rows = {}
    for display, (name, options) in methods.items():
        options = _method_options(name, options, seed, drise_options)

        def explain_clone(clone: Any, x: np.ndarray, t: np.ndarray, name: str = name, options: dict = options) -> np.ndarray:
            return explain.make_explainer(name, clone, **options).explain(x, t)

        rows[display] = randomization_check(model, images, targets, explain_clone, seed=seed, layers=layers)
        print(f"[sanity] {display}: done", flush=True)
    return rows
