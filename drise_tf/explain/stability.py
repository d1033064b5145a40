"""How stable a Monte Carlo saliency map is, estimated from the independent mask replicas it already used.

A D-RISE map is an average over random masks, so a second run with another seed gives another map. Its stability is
the rank agreement (Spearman) between two such runs; this module estimates it without a second run.

The masks are cut into R independent replicas (:class:`drise_tf.explain.masks.MaskStream`). Splitting the replicas
into two disjoint halves gives two independent maps from N/2 masks each: their Spearman correlation is a direct sample
of the two-seed agreement at N/2; two disjoint quarters give one at N/4. Both are averaged over many splits on the
Pearson scale of a Gaussian copula (r = 2 sin(pi rho / 6)) and extrapolated to N on the scale
``z = log(1/r - 1)``, which the Spearman-Brown formula (signal plus noise whose variance falls as 1/N) makes linear
in ``log N`` with slope -1: ``z(N) = z(N/2) - a log 2``. The rate ``a`` is measured per map from the quarter and half
points and kept in [0, 1]: rank agreement of maps with a few strong pixels grows more slowly than Spearman-Brown
predicts (measured a = 0.85-0.9 on the quick model), and assuming a = 1 overestimated the stability by up to 0.05.
The per-pixel standard error is the spread of the R replica maps (each on the full map's scale) over sqrt(R), and
how reliably a pixel belongs to the map's most salient region is the share of replica maps in whose top region it
lies (:func:`top_region_frequency`).
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import scipy.stats

#: At most this many pairs of halves, and of quarters cut from them, are used (for R = 8: 16 of the 35 cuts into
#: halves, evenly spread, and the 96 cuts of their halves into quarters; 60 maps ranked per estimate).
MAX_SPLITS = 16
MAX_QUARTER_SPLITS = 128

Part = Tuple[int, ...]


@dataclass(frozen=True)
class SplitDesign:
    """Groups of replicas whose maps are compared, and which groups pair up.

    Attributes
    ----------
    groups : np.ndarray float (G, R)
        1 where replica r belongs to group g; each group's map is computed and ranked once.
    halves : np.ndarray int (P, 2)
        Pairs of disjoint groups that together hold every replica (two independent maps of about N/2 masks).
    quarters : np.ndarray int (Q, 2)
        Pairs of disjoint groups of about R/4 replicas each, cut from the halves (empty below 4 replicas).
    """

    groups: np.ndarray
    halves: np.ndarray
    quarters: np.ndarray


def _cuts(members: Part) -> List[Tuple[Part, Part]]:
    """Every way to cut ``members`` into its first ``len // 2`` and the rest, each cut once."""
    size = len(members) // 2
    return [(part, tuple(m for m in members if m not in part)) for part in itertools.combinations(members, size)
            if 2 * size < len(members) or members[0] in part]


def _evenly(items: list, most: int) -> list:
    return items if len(items) <= most else [items[i] for i in np.linspace(0, len(items) - 1, most).round().astype(int)]


@functools.lru_cache(maxsize=16)
def split_design(replicas: int) -> SplitDesign:
    """The :class:`SplitDesign` of ``replicas`` (>= 2) replicas: every cut into two halves (at most
    :data:`MAX_SPLITS`, evenly spread) and every cut of those halves into quarters (at most
    :data:`MAX_QUARTER_SPLITS`)."""
    if replicas < 2:
        raise ValueError(f"a stability estimate needs >= 2 replicas, got {replicas}")
    halves = _evenly(_cuts(tuple(range(replicas))), MAX_SPLITS)
    quarters = _evenly([cut for half in halves for part in half if len(part) >= 2 for cut in _cuts(part)],
                       MAX_QUARTER_SPLITS) if replicas >= 4 else []
    parts = sorted({part for pair in halves + quarters for part in pair})
    index = {part: row for row, part in enumerate(parts)}
    groups = np.zeros((len(parts), replicas))
    for row, part in enumerate(parts):
        groups[row, list(part)] = 1.0
    return SplitDesign(groups=groups,
                       halves=np.array([[index[a], index[b]] for a, b in halves], dtype=np.int64),
                       quarters=np.array([[index[a], index[b]] for a, b in quarters], dtype=np.int64).reshape(-1, 2))


def unit_ranks(maps: np.ndarray) -> np.ndarray:
    """Ranks of each map over its last axis (ties get mean ranks), centred and scaled to unit length: the dot
    product of two such rows is their Spearman correlation. A constant map becomes all zeros."""
    ranks = scipy.stats.rankdata(maps, axis=-1)
    ranks -= ranks.mean(axis=-1, keepdims=True)
    norm = np.sqrt((ranks**2).sum(axis=-1, keepdims=True))
    return np.divide(ranks, norm, out=np.zeros_like(ranks), where=norm > 0)


def _agreement(ranks_a: np.ndarray, ranks_b: np.ndarray) -> np.ndarray:
    """Spearman of unit-rank rows; two constant rows agree (1.0), one constant row against a varying one gives 0."""
    rho = (ranks_a * ranks_b).sum(axis=-1)
    both_constant = ~ranks_a.any(axis=-1) & ~ranks_b.any(axis=-1)
    return np.where(both_constant, 1.0, rho)


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row pair of ``a`` and ``b`` (..., P) over the last axis (ties get mean ranks);
    NaN where a row is constant (the correlation is undefined)."""
    ranks_a, ranks_b = unit_ranks(a), unit_ranks(b)
    defined = ranks_a.any(axis=-1) & ranks_b.any(axis=-1)
    return np.where(defined, (ranks_a * ranks_b).sum(axis=-1), np.nan)


def rank_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`row_spearman` for two runs of one map: two constant rows count as agreeing (1.0: both runs gave the
    same map), one constant row against a varying one as 0."""
    return _agreement(unit_ranks(a), unit_ranks(b))


def spearman_to_pearson(rho: np.ndarray) -> np.ndarray:
    """Pearson correlation of a bivariate normal whose Spearman correlation is ``rho``: 2 sin(pi rho / 6)."""
    return 2.0 * np.sin(np.pi * np.asarray(rho, dtype=np.float64) / 6.0)


def pearson_to_spearman(r: np.ndarray) -> np.ndarray:
    """Spearman correlation of a bivariate normal with Pearson correlation ``r``: 6/pi asin(r / 2)."""
    return 6.0 / np.pi * np.arcsin(np.clip(np.asarray(r, dtype=np.float64), -1.0, 1.0) / 2.0)


def pair_pearson(ranks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Mean Gaussian-copula Pearson correlation (B,) over ``pairs`` (K, 2) of the groups' unit ranks (B, G, P)."""
    return spearman_to_pearson(_agreement(ranks[:, pairs[:, 0]], ranks[:, pairs[:, 1]])).mean(axis=-1)


def extrapolate(r_half: np.ndarray, r_quarter: Optional[np.ndarray], masks: np.ndarray, half_masks: np.ndarray,
                quarter_masks: Optional[np.ndarray] = None) -> np.ndarray:
    """Spearman of two N-mask maps from the copula Pearson correlations at N/2 (and N/4), see the module text.

    Parameters
    ----------
    r_half, r_quarter : np.ndarray (B,)
        Correlations of half maps and of quarter maps (``r_quarter`` None: Spearman-Brown's rate, a = 1).
    masks, half_masks, quarter_masks : np.ndarray (B,)
        Masks behind a full, a half and a quarter map.

    Returns
    -------
    np.ndarray
        float64 (B,) in [0, 1].
    """
    def logit(r: np.ndarray) -> np.ndarray:
        r = np.clip(r, 1e-6, 1 - 1e-12)
        return np.log(1.0 / r - 1.0)

    z_half = logit(r_half)
    if r_quarter is None:
        rate = np.ones_like(z_half)
    else:
        rate = np.clip((logit(r_quarter) - z_half) / np.log(half_masks / quarter_masks), 0.0, 1.0)
    z_full = z_half - rate * np.log(masks / half_masks)
    return np.where(r_half > 0, pearson_to_spearman(1.0 / (1.0 + np.exp(z_full))), 0.0)


def replica_standard_error(replica_maps: np.ndarray) -> np.ndarray:
    """Per-pixel standard error of a map that averages independent replica maps (B, R, ...) on its own scale:
    the replicas' standard deviation (ddof 1) over sqrt(R)."""
    replicas = replica_maps.shape[1]
    if replicas < 2:
        raise ValueError(f"a standard error needs >= 2 replicas, got {replicas}")
    return replica_maps.std(axis=1, ddof=1) / math.sqrt(replicas)


def top_region(maps: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Which pixels of each map (..., H, W) are among its top ``fraction`` of pixels, bool (..., H, W).

    A pixel is in the top region when fewer than ``fraction`` x (H*W) pixels lie above it, counting a tie as half
    above (its average rank ``r`` among the P = H*W pixels, 1 the lowest, satisfies P - r < fraction * P): without
    ties exactly ``fraction`` x P pixels (rounded up), a tied group at the border all in or all out. A constant map
    has no top region (no pixel is more salient than another).
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 2 or 0 in maps.shape[-2:]:
        raise ValueError(f"maps must have shape (..., H, W) with H, W >= 1, got shape {maps.shape}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    flat = maps.reshape(*maps.shape[:-2], -1)
    pixels = flat.shape[-1]
    above = pixels - scipy.stats.rankdata(flat, axis=-1)
    varying = flat.max(axis=-1, keepdims=True) > flat.min(axis=-1, keepdims=True)
    return ((above < round(fraction * pixels, 9)) & varying).reshape(maps.shape)


def top_region_frequency(replica_maps: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per pixel, the share of the independent replica maps (B, R, H, W) in whose :func:`top_region` it lies,
    float64 (B, H, W) in [0, 1].

    1 where a pixel is among the top ``fraction`` in every replica (a hot spot that another mask seed keeps), about
    ``fraction`` everywhere on a map of pure noise. Each replica holds N/R of the map's masks, so this is a
    conservative view: the full map (N masks) is more reliable than one replica. Computed from the replica maps
    alone, not from a normal approximation of the standard error (which flatters the highest pixels of a pure-noise
    map: the winner's curse).
    """
    replica_maps = np.asarray(replica_maps, dtype=np.float64)
    if replica_maps.ndim != 4 or replica_maps.shape[1] < 1:
        raise ValueError(f"replica_maps must have shape (B, R, H, W), got shape {replica_maps.shape}")
    return top_region(replica_maps, fraction).mean(axis=1)
