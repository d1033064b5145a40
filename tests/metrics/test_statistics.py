"""Tests of drise_tf.metrics.statistics against closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from drise_tf import metrics


# --------------------------------------------------------------------------------------------- summaries
def test_mean_ci_closed_form():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    mean, low, high = metrics.mean_ci(values)
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / np.sqrt(4)
    assert mean == pytest.approx(3.5)
    assert (low, high) == pytest.approx((3.5 - half, 3.5 + half))
    assert metrics.mean_ci([2.0, 2.0]) == (2.0, 2.0, 2.0)
    single = metrics.mean_ci([5.0])
    assert single[0] == 5.0 and np.isnan(single[1]) and np.isnan(single[2])


def test_summary_table_rows():
    rows = metrics.summary_table({"cos": {"deletion_auc": [0.1, 0.3], "insertion_auc": [0.5, 0.7]}})
    assert [(r["name"], r["metric"], r["n"]) for r in rows] == [("cos", "deletion_auc", 2), ("cos", "insertion_auc", 2)]
    assert rows[0]["mean"] == pytest.approx(0.2) and rows[0]["low"] < 0.2 < rows[0]["high"]
