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
The per-pixel standard error is the spread of the R replica maps (each on the full map's scale) over sqrt(R).
"""
from __future__ import annotations

import itertools
import math
from typing import Optional, Tuple

import numpy as np
import scipy.stats

#: At most this many half splits are used (all of them for R <= 8: 35 for R = 8).
MAX_SPLITS = 64


def half_splits(replicas: int) -> np.ndarray:
    """Ways to split ``replicas`` replicas into two halves, as float (splits, replicas) with 1 for the first half.

    The first half has ``replicas // 2`` members; for an even count each split appears once (the first half holds
    replica 0). Beyond :data:`MAX_SPLITS` splits a fixed, evenly spread subset is kept.
    """
    if replicas < 2:
        raise ValueError(f"a stability estimate needs >= 2 replicas, got {replicas}")
    half = replicas // 2
    combos = [c for c in itertools.combinations(range(replicas), half) if replicas % 2 or 0 in c]
    if len(combos) > MAX_SPLITS:
        combos = [combos[i] for i in np.linspace(0, len(combos) - 1, MAX_SPLITS).round().astype(int)]
    splits = np.zeros((len(combos), replicas))
    for row, members in enumerate(combos):
        splits[row, list(members)] = 1.0
    return splits


def quarter_splits(replicas: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs of disjoint quarters (``replicas // 4`` replicas each; >= 4 replicas), as two float (splits, replicas)
    arrays: each half of every :func:`half_splits` split, cut in two."""
    if replicas < 4:
        raise ValueError(f"quarters need >= 4 replicas, got {replicas}")
    quarter = replicas // 4
    first, second = [], []
    for split in half_splits(replicas):
        for members in (np.flatnonzero(split), np.flatnonzero(1 - split)):
            a, b = np.zeros(replicas), np.zeros(replicas)
            a[members[:quarter]], b[members[quarter : 2 * quarter]] = 1.0, 1.0
            first.append(a)
            second.append(b)
    return np.array(first), np.array(second)


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row pair of ``a`` and ``b`` (..., P) over the last axis (ties get mean ranks);
    NaN where a row is constant (the correlation is undefined)."""
    ranks_a = scipy.stats.rankdata(a, axis=-1)
    ranks_b = scipy.stats.rankdata(b, axis=-1)
    ranks_a -= ranks_a.mean(axis=-1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=-1, keepdims=True)
    norm = np.sqrt((ranks_a**2).sum(axis=-1) * (ranks_b**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ranks_a * ranks_b).sum(axis=-1) / np.where(norm > 0, norm, 1.0), np.nan)


def rank_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`row_spearman` for two runs of one map: two constant rows count as agreeing (1.0: both runs gave the
    same map), one constant row against a varying one as 0."""
    rho = row_spearman(a, b)
    both_constant = (np.ptp(a, axis=-1) == 0) & (np.ptp(b, axis=-1) == 0)
    return np.where(both_constant, 1.0, np.nan_to_num(rho, nan=0.0))


def spearman_to_pearson(rho: np.ndarray) -> np.ndarray:
    """Pearson correlation of a bivariate normal whose Spearman correlation is ``rho``: 2 sin(pi rho / 6)."""
    return 2.0 * np.sin(np.pi * np.asarray(rho, dtype=np.float64) / 6.0)


def pearson_to_spearman(r: np.ndarray) -> np.ndarray:
    """Spearman correlation of a bivariate normal with Pearson correlation ``r``: 6/pi asin(r / 2)."""
    return 6.0 / np.pi * np.arcsin(np.clip(np.asarray(r, dtype=np.float64), -1.0, 1.0) / 2.0)


def mean_pearson(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Mean over splits of the Gaussian-copula Pearson correlation of paired maps (B, splits, P) -> (B,)."""
    return spearman_to_pearson(rank_agreement(first, second)).mean(axis=-1)


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
