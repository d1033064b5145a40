"""Comparisons of map sets already computed on the same images: the deletion / insertion AUC of every map set
(map sets that order the pixels identically measured once) and the pairwise rank agreement between them.

:func:`compare` returns a :class:`Comparison`: the maps, their AUCs, the pairwise rank agreement with each map's own
two-seed agreement (its Monte Carlo noise floor) on the diagonal, and a table (mean with a 95% interval) that can be
written as CSV. The comparisons that make the maps (D-RISE's scores, the methods, the sanity check) are in
:mod:`drise_tf.evaluation.comparisons`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from drise_tf.core import tables
from drise_tf.metrics.agreement import agreement_matrix, order_representatives
from drise_tf.metrics.faithfulness import deletion_insertion, predicted_classes
from drise_tf.metrics.statistics import summary_table


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
    (:func:`~drise_tf.metrics.faithfulness.deletion_insertion`) and mean pairwise Spearman agreement, with the
    two-seed agreement on the diagonal.

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
