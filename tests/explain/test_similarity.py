"""Similarity scores: each built-in against a hand computation, the registry, tf.function use, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from drise_tf.explain import similarity

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]], dtype=np.float32)
ONE_HOT = np.array([1.0, 0.0, 0.0], dtype=np.float32)


def score(name, probs=PROBS, target=ONE_HOT):
    return np.asarray(similarity.get(name)(probs, target))


def test_builtins_registered():
    assert {"cosine", "cross_entropy", "neg_cross_entropy", "probability", "cosine_prediction", "kl", "js",
            "margin"} <= set(similarity.available())


def test_cosine_is_p_true_over_norm():
    expected = [0.7 / math.sqrt(0.49 + 0.04 + 0.01), 0.1 / math.sqrt(0.01 + 0.36 + 0.09),
                0.25 / math.sqrt(0.0625 * 2 + 0.25)]
    np.testing.assert_allclose(score("cosine"), expected, rtol=1e-5)


def test_cosine_with_full_target_vector():
    target = np.array([0.0, 3.0, 4.0], dtype=np.float32)
    expected = [(0.6 + 0.4) / (math.sqrt(0.54) * 5), (1.8 + 1.2) / (math.sqrt(0.46) * 5),
                (0.75 + 2.0) / (math.sqrt(0.375) * 5)]
    np.testing.assert_allclose(score("cosine", target=target), expected, rtol=1e-5)


def test_cross_entropy_raw_and_negated():
    expected = [-math.log(0.7 + 1e-9), -math.log(0.1 + 1e-9), -math.log(0.25 + 1e-9)]
    np.testing.assert_allclose(score("cross_entropy"), expected, rtol=1e-5)
    np.testing.assert_allclose(score("neg_cross_entropy"), -np.array(expected), rtol=1e-5)
    assert similarity.get("cross_entropy").higher_is_kept is False
    assert similarity.get("neg_cross_entropy").higher_is_kept is True


def test_probability_and_margin():
    np.testing.assert_allclose(score("probability"), [0.7, 0.1, 0.25], rtol=1e-6)
    np.testing.assert_allclose(score("margin"), [0.7 - 0.2, 0.1 - 0.6, 0.25 - 0.5], rtol=1e-5, atol=1e-7)
    # per-row targets [B, C]
    targets = np.eye(3, dtype=np.float32)[[1, 1, 2]]
    np.testing.assert_allclose(score("margin", target=targets), [0.2 - 0.7, 0.6 - 0.3, 0.5 - 0.25], atol=1e-6)


def test_reference_scores():
    reference = np.array([0.6, 0.3, 0.1], dtype=np.float32)
    p, q = PROBS.astype(np.float64), reference.astype(np.float64)
    cos = (p @ q) / (np.linalg.norm(p, axis=1) * np.linalg.norm(q))
    np.testing.assert_allclose(score("cosine_prediction", target=reference), cos, rtol=1e-5)
    kl = np.sum(q * np.log(q / p), axis=1)
    np.testing.assert_allclose(score("kl", target=reference), np.exp(-kl), rtol=1e-5)
    m = 0.5 * (p + q)
    js = 0.5 * np.sum(q * np.log(q / m), axis=1) + 0.5 * np.sum(p * np.log(p / m), axis=1)
    np.testing.assert_allclose(score("js", target=reference), 1 - js / math.log(2), rtol=1e-5)
    # unchanged output -> maximal similarity
    np.testing.assert_allclose(score("kl", probs=reference[None], target=reference), [1.0], rtol=1e-5)
    np.testing.assert_allclose(score("js", probs=reference[None], target=reference), [1.0], atol=1e-6)
    for name in ("cosine_prediction", "kl", "js"):
        assert similarity.get(name).target_kind == "reference"


def test_scores_work_inside_tf_function():
    fn = similarity.get("margin")
    compiled = tf.function(lambda p, t: fn(p, t))
    np.testing.assert_allclose(compiled(tf.constant(PROBS), tf.constant(ONE_HOT)).numpy(), score("margin"))


def test_register_custom_score_and_unknown_name():
    @similarity.register("test_first_class", description="p_0", higher_is_kept=True)
    def first(probs, target):
        return probs[:, 0]

    assert similarity.get("test_first_class") is first
    assert first.description == "p_0" and first.target_kind == "label"
    np.testing.assert_allclose(np.asarray(first(PROBS, ONE_HOT)), PROBS[:, 0])
    with pytest.raises(ValueError, match="already registered"):
        similarity.register("test_first_class", description="x", higher_is_kept=True)(lambda p, t: p[:, 0])
    with pytest.raises(ValueError, match=r"unknown similarity score 'nope'; known: .*cosine"):
        similarity.get("nope")
    with pytest.raises(ValueError, match="target_kind"):
        similarity.register("x", description="x", higher_is_kept=True, target_kind="other")


def test_bad_shapes():
    with pytest.raises(ValueError, match="probs"):
        similarity.get("cosine")(PROBS[0], ONE_HOT)
    with pytest.raises(ValueError, match="target"):
        similarity.get("cosine")(PROBS, ONE_HOT[None, None])
