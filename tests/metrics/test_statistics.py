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


# ------------------------------------------------------------------------------------------ paired comparisons
def naive_holm(pvalues):
    """Holm by its definition: reject in increasing order while p_(k) <= alpha / (m - k + 1); the adjusted p-value
    is the smallest alpha at which a hypothesis is rejected."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for k, index in enumerate(order):
        running = max(running, min(1.0, (m - k) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def test_holm_matches_its_definition_and_a_hand_example():
    np.testing.assert_allclose(metrics.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(7) ** 3
        np.testing.assert_allclose(metrics.holm(p), naive_holm(p))
    with pytest.raises(ValueError, match="pvalues"):
        metrics.holm([0.5, 1.2])


def test_wilcoxon_and_pairwise_comparisons_against_scipy():
    rng = np.random.default_rng(1)
    base = rng.normal(size=60)
    values = {"a": base + 0.5, "b": base + rng.normal(0, 0.1, 60), "c": base + rng.normal(0, 0.1, 60)}
    rows = {(r["a"], r["b"]): r for r in metrics.pairwise_comparisons(values, n_resamples=500)}
    ab = rows[("a", "b")]
    assert ab["p"] == pytest.approx(stats.wilcoxon(values["a"] - values["b"]).pvalue)
    assert ab["mean_difference"] == pytest.approx(np.mean(values["a"] - values["b"]))
    assert ab["low"] < ab["mean_difference"] < ab["high"] and ab["significant"]
    assert not rows[("b", "c")]["significant"]
    ordered = list(rows.values())
    np.testing.assert_allclose([r["p_holm"] for r in ordered], naive_holm(np.array([r["p"] for r in ordered])))
    assert metrics.wilcoxon_p(np.zeros(10)) == 1.0
    with pytest.raises(ValueError, match="same number"):
        metrics.pairwise_comparisons({"a": np.zeros(3), "b": np.zeros(4)})


def test_bootstrap_interval_close_to_the_t_interval_and_seeded():
    values = np.random.default_rng(2).normal(1.0, 2.0, size=400)
    low, high = metrics.bootstrap_ci(values, n_resamples=4000, seed=3)
    _, t_low, t_high = metrics.mean_ci(values)
    assert abs(low - t_low) < 0.05 and abs(high - t_high) < 0.05
    assert metrics.bootstrap_ci(values, n_resamples=4000, seed=3) == (low, high)
    assert metrics.bootstrap_ci(np.full(5, 2.0)) == (2.0, 2.0)


def test_compact_letters_examples():
    names = ["x", "y", "z"]
    assert metrics.compact_letters(names, []) == {"x": "a", "y": "a", "z": "a"}
    assert metrics.compact_letters(names, [("x", "z")]) == {"x": "a", "y": "ab", "z": "b"}
    assert metrics.compact_letters(names, [("x", "y"), ("x", "z"), ("y", "z")]) == {"x": "a", "y": "b", "z": "c"}
    with pytest.raises(ValueError, match="not among"):
        metrics.compact_letters(names, [("x", "w")])


def test_compact_letters_share_a_letter_exactly_when_not_different():
    rng = np.random.default_rng(5)
    names = [f"v{k}" for k in range(7)]
    for _ in range(30):
        different = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if rng.random() < 0.4]
        letters = metrics.compact_letters(names, different)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                share = bool(set(letters[a]) & set(letters[b]))
                assert share == ((a, b) not in different), (a, b, letters, different)


def test_factorial_contrasts_recover_known_effects_of_a_two_level_design():
    from drise_tf.metrics import factorial_contrasts, paired_effects

    rng = np.random.default_rng(0)
    n = 40
    base = rng.normal(size=n)
    cells = {}
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                sa, sb = 2 * a - 1, 2 * b - 1  # C has no effect
                # effects (level 1 minus level 0): A 2 * 0.3, B 2 * -0.1, C 0, A x B 2 * 0.05
                cells[(a, b, c)] = base + 0.3 * sa - 0.1 * sb + 0.05 * sa * sb
    effects = factorial_contrasts(cells, ["A", "B", "C"])
    assert list(effects) == ["A", "B", "C", "A x B", "A x C", "B x C"]
    expected = {"A": 0.6, "B": -0.2, "C": 0.0, "A x B": 0.1, "A x C": 0.0, "B x C": 0.0}
    for name, value in expected.items():
        np.testing.assert_allclose(effects[name], value, atol=1e-12)
    # by hand for A x B: half the difference of A's effect at B = 1 and at B = 0
    a_at_b1 = np.mean([cells[(1, 1, c)] - cells[(0, 1, c)] for c in (0, 1)], axis=0)
    a_at_b0 = np.mean([cells[(1, 0, c)] - cells[(0, 0, c)] for c in (0, 1)], axis=0)
    np.testing.assert_allclose(effects["A x B"], (a_at_b1 - a_at_b0) / 2, atol=1e-12)
    assert list(factorial_contrasts(cells, ["A", "B", "C"], max_order=1)) == ["A", "B", "C"]
    with pytest.raises(ValueError, match="missing"):
        factorial_contrasts({k: v for k, v in cells.items() if k != (1, 1, 1)}, ["A", "B", "C"])
    noisy = {"A": effects["A"] + rng.normal(0, 0.01, n), "C": rng.normal(0, 1, n)}
    rows = paired_effects(noisy, n_resamples=500)
    assert [r["effect"] for r in rows] == ["A", "C"] and rows[0]["significant"] and not rows[1]["significant"]
    assert rows[0]["low"] < 0.6 < rows[0]["high"] and rows[0]["p_holm"] >= rows[0]["p"]
