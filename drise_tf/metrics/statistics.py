"""Means with t-intervals over images, the summary table of metrics per variant, and paired comparisons of variants
(bootstrap intervals of per-image differences, Wilcoxon signed-rank tests with Holm's correction, compact letter
displays of the groups not significantly different), and the effects of a two-level factorial design."""
from __future__ import annotations

import itertools
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
from scipy import stats


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
    """Rows ``{"name", "metric", "mean", "low", "high", "n"}`` per name and metric (input of
    :func:`drise_tf.plotting.metric_bars`).

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


# ---------------------------------------------------------------------------------------------- paired comparisons
def bootstrap_ci(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. per-image paired differences), seeded.

    Returns ``(low, high)``; both equal the value when all values are equal, NaN for fewer than 2 values.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", random_state=np.random.default_rng(seed), vectorized=True)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error control): the k-th smallest of m p-values is
    multiplied by (m - k + 1), made non-decreasing along that order, capped at 1."""
    pvalues = np.asarray(pvalues, dtype=np.float64)
    if pvalues.ndim != 1 or np.any(np.isnan(pvalues)) or np.any((pvalues < 0) | (pvalues > 1)):
        raise ValueError(f"pvalues must be a 1-D sequence of values in [0, 1], got {pvalues}")
    order = np.argsort(pvalues, kind="stable")
    m = pvalues.size
    adjusted = np.minimum(1.0, np.maximum.accumulate(pvalues[order] * (m - np.arange(m))))
    result = np.empty(m)
    result[order] = adjusted
    return result


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zero differences dropped, scipy's
    ``zero_method="wilcox"``); 1 when every difference is zero."""
    differences = np.asarray(differences, dtype=np.float64).ravel()
    if not np.any(differences != 0):
        return 1.0
    return float(stats.wilcoxon(differences, zero_method="wilcox", alternative="two-sided").pvalue)


def pairwise_comparisons(values: Mapping[str, np.ndarray], *, confidence: float = 0.95, alpha: float = 0.05,
                         n_resamples: int = 2000, seed: int = 0) -> List[dict]:
    """Every pair of variants compared image by image: mean paired difference with a bootstrap interval, Wilcoxon
    signed-rank p-value, Holm-adjusted over all pairs.

    Parameters
    ----------
    values : dict
        Variant -> per-image values (n,), the same images in the same order; NaN values (metric undefined on an
        image) drop that image from the pairs it is in.
    confidence, alpha : float
        Interval level; family-wise significance level of the Holm-adjusted tests.
    n_resamples, seed : int
        Bootstrap resamples and seed.

    Returns
    -------
    list of dict
        Rows ``a, b, n, mean_difference (a - b), low, high, p, p_holm, significant``.
    """
    names = list(values)
    arrays = [np.asarray(values[name], dtype=np.float64).ravel() for name in names]
    if len({a.size for a in arrays}) > 1:
        raise ValueError(f"values must have the same number of images per variant, got {[a.size for a in arrays]}")
    rows = []
    for i, j in ((i, j) for i in range(len(names)) for j in range(i + 1, len(names))):
        difference = arrays[i] - arrays[j]
        difference = difference[np.isfinite(difference)]
        low, high = bootstrap_ci(difference, confidence=confidence, n_resamples=n_resamples, seed=seed)
        rows.append({"a": names[i], "b": names[j], "n": int(difference.size),
                     "mean_difference": float(difference.mean()) if difference.size else float("nan"),
                     "low": low, "high": high, "p": wilcoxon_p(difference) if difference.size else 1.0})
    if rows:
        for row, adjusted in zip(rows, holm([row["p"] for row in rows])):
            row["p_holm"] = float(adjusted)
            row["significant"] = bool(adjusted < alpha)
    return rows


def paired_effects(contrasts: Mapping[str, np.ndarray], *, confidence: float = 0.95, alpha: float = 0.05,
                   n_resamples: int = 2000, seed: int = 0) -> List[dict]:
    """Per-image contrasts (each a paired difference per image) summarised as one family: mean with a bootstrap
    interval, Wilcoxon signed-rank p-value, Holm-adjusted over the family.

    Returns
    -------
    list of dict
        Rows ``effect, n, mean, low, high, p, p_holm, significant`` in the order of ``contrasts``; NaN images drop.
    """
    rows = []
    for name, values in contrasts.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        low, high = bootstrap_ci(values, confidence=confidence, n_resamples=n_resamples, seed=seed)
        rows.append({"effect": name, "n": int(values.size), "mean": float(values.mean()) if values.size else np.nan,
                     "low": low, "high": high, "p": wilcoxon_p(values) if values.size else 1.0})
    for row, adjusted in zip(rows, holm([row["p"] for row in rows])):
        row["p_holm"] = float(adjusted)
        row["significant"] = bool(adjusted < alpha)
    return rows


def factorial_contrasts(cells: Mapping[Tuple[int, ...], np.ndarray], factors: Sequence[str], *,
                        max_order: int = 2) -> Dict[str, np.ndarray]:
    """Per-image main effects and interactions of a two-level full factorial measured on the same images.

    With each factor coded -1 (level 0) and +1 (level 1), the effect of a set of factors is, per image, the mean of
    the values over the cells where the product of their codes is +1 minus the mean over the cells where it is -1
    (Box, Hunter and Hunter): a main effect is mean(level 1) - mean(level 0) averaged over the other factors; the
    interaction of two factors is half the difference between one factor's effect at the other's two levels.

    Parameters
    ----------
    cells : dict
        Levels ``(l_1, ..., l_k)`` (each 0 or 1) -> per-image values (n,); all ``2**k`` cells present.
    factors : sequence of str
        Names of the k factors, in the order of the level tuples.
    max_order : int
        Highest interaction order returned (1: main effects only).

    Returns
    -------
    dict
        ``"factor"`` or ``"factor x factor"`` -> per-image effect (n,), main effects first.
    """
    k = len(factors)
    expected = set(itertools.product((0, 1), repeat=k))
    if set(cells) != expected:
        raise ValueError(f"cells must be the {2 ** k} level tuples of {k} factors; missing "
                         f"{sorted(expected - set(cells))}, unexpected {sorted(set(cells) - expected)}")
    values = {levels: np.asarray(array, dtype=np.float64).ravel() for levels, array in cells.items()}
    effects: Dict[str, np.ndarray] = {}
    for order in range(1, min(max_order, k) + 1):
        for subset in itertools.combinations(range(k), order):
            plus = [v for levels, v in values.items() if np.prod([2 * levels[i] - 1 for i in subset]) > 0]
            minus = [v for levels, v in values.items() if np.prod([2 * levels[i] - 1 for i in subset]) < 0]
            effects[" x ".join(factors[i] for i in subset)] = np.mean(plus, axis=0) - np.mean(minus, axis=0)
    return effects


def compact_letters(ranked: Sequence[str], different: Sequence[Tuple[str, str]]) -> Dict[str, str]:
    """Compact letter display (insert-absorb, Piepho 2004): two variants share a letter exactly when they are NOT
    significantly different.

    Parameters
    ----------
    ranked : sequence of str
        Variants, best first (letters are handed out in this order: the best group is "a").
    different : sequence of (str, str)
        The pairs found significantly different.

    Returns
    -------
    dict
        Variant -> its letters, e.g. ``{"x": "a", "y": "ab", "z": "b"}``.
    """
    ranked = list(ranked)
    position = {name: k for k, name in enumerate(ranked)}
    for pair in different:
        for name in pair:
            if name not in position:
                raise ValueError(f"different names {name!r}, which is not among the ranked variants {ranked}")
    columns = [frozenset(ranked)]
    for first, second in different:
        split = []
        for column in columns:
            if first in column and second in column:
                split += [column - {first}, column - {second}]
            else:
                split.append(column)
        columns = [c for c in split if c and not any(c < other for other in split)]  # absorb
        columns = list(dict.fromkeys(columns))
    columns.sort(key=lambda column: sorted(position[name] for name in column))
    letters = {name: "" for name in ranked}
    for index, column in enumerate(columns):
        letter = _letter(index)
        for name in sorted(column, key=position.get):
            letters[name] += letter
    return letters


def _letter(index: int) -> str:
    """a, b, ..., z, then aa, ab, ... for more than 26 groups."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
