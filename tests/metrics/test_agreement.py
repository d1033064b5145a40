"""Tests of drise_tf.metrics.agreement against scipy and hand examples."""
from __future__ import annotations

import numpy as np
from scipy import stats

from drise_tf import metrics


# ---------------------------------------------------------------------------------------------- agreement
def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(11)
    a = np.round(rng.normal(size=(4, 5, 6)), 1)
    b = a + rng.normal(scale=0.5, size=a.shape)
    got = metrics.rank_correlation(a, b)
    want = [stats.spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(metrics.rank_correlation(a, -a), -1.0)


def test_rank_correlation_constant_map_is_nan():
    a = np.ones((1, 3, 3))
    assert np.isnan(metrics.rank_correlation(a, np.random.default_rng(0).random((1, 3, 3))))[0]


def test_topk_overlap_hand_examples():
    a = np.array([[[4.0, 3.0], [2.0, 1.0]], [[4.0, 3.0], [2.0, 1.0]]])
    b = np.array([[[4.0, 1.0], [3.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]]])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=0.5), [0.5, 0.0])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=0.25), [1.0, 0.0])
    np.testing.assert_allclose(metrics.topk_overlap(a, b, fraction=1.0), [1.0, 1.0])
    # ties broken in pixel order: the first two pixels
    np.testing.assert_allclose(metrics.topk_overlap(np.zeros((1, 2, 2)), a[:1], fraction=0.5), [1.0])


def test_agreement_matrix():
    rng = np.random.default_rng(12)
    a = rng.random((3, 4, 4))
    maps = {"a": a, "b": a + rng.normal(scale=0.3, size=a.shape), "c": -a}
    names, matrix = metrics.agreement_matrix(maps)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(matrix[0, 1], metrics.rank_correlation(maps["a"], maps["b"]).mean())
    np.testing.assert_allclose(matrix[0, 2], -1.0)
    _, top = metrics.agreement_matrix(maps, metric="topk", fraction=0.25)
    np.testing.assert_allclose(top[0, 2], metrics.topk_overlap(a, -a, fraction=0.25).mean())
    np.testing.assert_allclose(np.diag(top), 1.0)


def test_a_large_float32_offset_is_the_same_order_and_a_small_change_is_not():
    # a raw D-RISE sum is a large offset plus a small signal: its float32 rounding reorders near-ties of 32x32 maps
    maps = np.random.default_rng(1).random((4, 32, 32)).astype(np.float32)
    changed = maps.copy()
    changed[3, 0, :4] = changed[3, 0, :4][::-1]  # four pixels of one image swapped
    found = metrics.order_representatives({"a": maps, "offset": maps + np.float32(1000), "changed": changed})
    assert found == {"a": "a", "offset": "a", "changed": "changed"}


def test_order_representatives_keep_positive_scales_and_constants_apart_from_the_rest():
    maps = np.random.default_rng(2).random((2, 6, 6))
    partly_constant = maps.copy()
    partly_constant[1] = 3.0
    found = metrics.order_representatives({"zero": np.zeros_like(maps), "a": maps, "reversed": 1 - maps,
                                           "scaled": 0.5 * maps - 2, "one": np.ones_like(maps),
                                           "partly constant": partly_constant})
    assert found == {"zero": "zero", "a": "a", "reversed": "reversed", "scaled": "a", "one": "zero",
                     "partly constant": "partly constant"}
