"""Means with t-intervals over images, and the summary table of metrics per variant."""
from __future__ import annotations

from typing import List, Mapping, Tuple

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
    """Rows ``{"name", "metric", "mean", "low", "high", "n"}`` per name and metric (input of ``plots.metric_bars``).

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
