"""drise_tf.studies.adversarial: FGSM against the closed form on a linear softmax model, the sweep against a loop."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf.core.compat import keras
from drise_tf.studies.adversarial import epsilon_sweep, fgsm


def linear_model(head="softmax", seed=0):
    inputs = keras.Input((2, 2, 3))
    outputs = keras.layers.Dense(4, activation=None if head == "logits" else "softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((12, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    model.set_weights([w, b])
    return model, w, b


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((6, 2, 2, 3)).astype(np.float32), np.array([0, 1, 2, 3, 0, 1])


def closed_form(x, y, w, b, eps):
    z = x.reshape(len(x), -1) @ w + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = (p - np.eye(w.shape[1])[y]) @ w.T  # d(-log p_y)/dx for z = W^T x + b
    return x + eps * np.sign(grad).reshape(x.shape)


@pytest.mark.parametrize("head", ["softmax", "logits"])
def test_fgsm_matches_the_closed_form_on_a_linear_model(data, head):
    x, y = data
    model, w, b = linear_model(head)
    np.testing.assert_allclose(fgsm(model, x, y, 0.1), closed_form(x, y, w, b, 0.1), rtol=1e-6, atol=1e-7)
    one_hot = np.eye(4)[y]
    np.testing.assert_allclose(fgsm(model, x, one_hot, 0.1), closed_form(x, y, w, b, 0.1), rtol=1e-6, atol=1e-7)


def test_fgsm_clips_to_the_valid_range_and_leaves_input_alone(data):
    x, y = data
    model, w, b = linear_model()
    before = x.copy()
    low, high = np.array([-1.0, -0.5, -2.0], np.float32), np.array([1.0, 0.5, 2.0], np.float32)
    out = fgsm(model, x, y, 0.3, clip_min=low, clip_max=high)
    np.testing.assert_allclose(out, np.clip(closed_form(x, y, w, b, 0.3), low, high), rtol=1e-6, atol=1e-7)
    assert np.all(out >= low) and np.all(out <= high)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(fgsm(model, x, y, 0.0), x)


def test_fgsm_increases_the_loss(data):
    x, y = data
    model, _, _ = linear_model()
    clean = model(x).numpy()[np.arange(len(y)), y]
    attacked = model(fgsm(model, x, y, 0.05)).numpy()[np.arange(len(y)), y]
    assert np.all(attacked < clean)


def test_epsilon_sweep_equals_a_loop_of_fgsm(data):
    x, y = data
    model, _, _ = linear_model()
    epsilons = [0.0, 0.1, 0.5, 2.0]
    table = epsilon_sweep(model, x, y, epsilons, batch_size=4)
    expected = [np.mean(model(fgsm(model, x, y, e)).numpy().argmax(axis=1) == y) for e in epsilons]
    np.testing.assert_allclose(table["accuracy"], expected)
    np.testing.assert_array_equal(table["epsilon"], epsilons)
    assert table["accuracy"][0] == np.mean(model(x).numpy().argmax(axis=1) == y)
    assert table["accuracy"][-1] < 1.0


def test_bad_input_raises_clear_errors(data):
    x, y = data
    model, _, _ = linear_model()
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(model, x, y, float("nan"))
    with pytest.raises(ValueError, match="labels"):
        fgsm(model, x, y[:3], 0.1)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        fgsm(model, x, np.full(6, 4), 0.1)
    with pytest.raises(ValueError, match="images"):
        fgsm(model, x[:, :1], y, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        fgsm(model, np.full_like(x, np.nan), y, 0.1)
    with pytest.raises(ValueError, match="clip_min"):
        fgsm(model, x, y, 0.1, clip_min=1.0, clip_max=0.0)
    with pytest.raises(ValueError, match="at least one"):
        epsilon_sweep(model, x, y, [])
