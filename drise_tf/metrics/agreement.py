"""Agreement between saliency maps: Spearman rank correlation and top-k overlap, per image and as a matrix, and which
map sets order the pixels identically (so that order-only metrics measure each order once)."""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

import numpy as np

from drise_tf.explain.stability import row_spearman
from drise_tf.metrics.faithfulness import _check_finite_map, salience_order

# ------------------------------------------------------------------------------------------------------ agreement
AGREEMENT_METRICS = ("spearman", "topk")


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


def rank_correlation(map_a: np.ndarray, map_b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between two maps of each image (average ranks for ties).

    Returns
    -------
    np.ndarray
        (B,) correlations; NaN where a map is constant (the correlation is undefined).
    """
    a, b = _check_map_pair(map_a, map_b)
    return row_spearman(a, b)


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


# ---------------------------------------------------------------------------------------------- same order
#: Two map sets order the pixels identically when, on every image, one is a positive scale and shift of the other
#: up to float rounding: the least-squares fit of one by the other misses no pixel by more than
#: ``SAME_ORDER_TOLERANCE`` of the map's range (e.g. the ``none``, ``coverage`` and ``debiased`` aggregations of
#: antithetic masks, whose per-pixel mask count is constant; only near-ties can then swap).
SAME_ORDER_TOLERANCE = 1e-4


def _centred(maps: np.ndarray) -> np.ndarray:
    """Each image's map (B, H, W) as a float64 row with its mean removed, (B, H*W)."""
    rows = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    return rows - rows.mean(axis=1, keepdims=True)


def _same_order(a: np.ndarray, b: np.ndarray) -> bool:
    """True when, on every image, the centred maps ``a`` (B, P) are a positive multiple of ``b`` up to
    :data:`SAME_ORDER_TOLERANCE` of their range; constant maps match only constant maps."""
    a_range, b_range = np.ptp(a, axis=1), np.ptp(b, axis=1)
    if np.any((a_range == 0) != (b_range == 0)):
        return False
    varying = a_range > 0
    a, b, a_range = a[varying], b[varying], a_range[varying]
    slope = np.einsum("ij,ij->i", a, b) / np.einsum("ij,ij->i", b, b)
    misfit = np.abs(a - slope[:, None] * b).max(axis=1)
    return bool(np.all((slope > 0) & (misfit <= SAME_ORDER_TOLERANCE * a_range)))


def order_representatives(maps: Mapping[str, np.ndarray]) -> Dict[str, str]:
    """Name -> the first name (in ``maps``'s order) whose map set (B, H, W) orders the pixels identically: on every
    image a positive scale and shift of it up to :data:`SAME_ORDER_TOLERANCE` of its range (constant maps match only
    constant maps), so that each pixel order is measured once."""
    centred: Dict[str, np.ndarray] = {}
    found: Dict[str, str] = {}
    for name, name_maps in maps.items():
        centred[name] = _centred(name_maps)
        found[name] = next((kept for kept in dict.fromkeys(found.values())
                            if _same_order(centred[name], centred[kept])), name)
    return found
