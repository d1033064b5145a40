"""Tests of drise_tf.training.evaluation against naive loops and a hand-built model with known outputs."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf.core.compat import keras
from drise_tf.training import evaluation as ev


def _naive_confusion(y_true, y_pred, c):
    matrix = np.zeros((c, c), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        matrix[t, p] += 1
    return matrix


def test_confusion_matrix_matches_naive_loop():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    matrix = ev.confusion_matrix(y_true, y_pred)
    assert matrix.dtype == np.int64 and matrix.shape == (10, 10)
    np.testing.assert_array_equal(matrix, _naive_confusion(y_true, y_pred, 10))
    # rows are true classes: two cats (3) both taken for dogs (5)
    small = ev.confusion_matrix(np.array([[3], [3], [0]], np.uint8), [5, 5, 0])
    assert small[3, 5] == 2 and small[5, 3] == 0 and small[0, 0] == 1 and small.sum() == 3
    np.testing.assert_array_equal(ev.confusion_matrix([], [], 3), np.zeros((3, 3), np.int64))


@pytest.mark.parametrize(
    "y_true,y_pred,kwargs,match",
    [
        ([0, 10], [0, 1], {}, "y_true.*outside"),
        ([0, 1], [0, -1], {}, "y_pred.*negative"),
        ([0, 1], [0, 1, 2], {}, "differ in length"),
        ([0.5, 1.0], [0, 1], {}, "integer"),
        (np.zeros((2, 3), int), [0, 1], {}, "shape"),
        ([0, 1], [0, 1], {"num_classes": 0}, "num_classes"),
    ],
)
def test_confusion_matrix_bad_input(y_true, y_pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ev.confusion_matrix(y_true, y_pred, **kwargs)


def test_select_images_first_k_in_dataset_order():
    y_true = np.array([3, 3, 1, 3, 3, 3, 5, 3])
    y_pred = np.array([5, 3, 5, 5, 3, 5, 5, 5])
    np.testing.assert_array_equal(ev.select_images(y_true, y_pred, true_class=3, predicted_class=5, k=2), [0, 3])
    np.testing.assert_array_equal(ev.select_images(y_true, y_pred, true_class=3, predicted_class=5, k=10),
                                  [0, 3, 5, 7])
    np.testing.assert_array_equal(ev.select_images(y_true[:, None], y_pred, true_class=3, predicted_class=3, k=5),
                                  [1, 4])
    assert ev.select_images(y_true, y_pred, true_class=9, predicted_class=9, k=3).size == 0
    for kwargs, match in [({"k": 0}, "k"), ({"true_class": -1}, "true_class"), ({"predicted_class": 1.5}, "predicted")]:
        args = {"true_class": 3, "predicted_class": 5, "k": 1, **kwargs}
        with pytest.raises(ValueError, match=match):
            ev.select_images(y_true, y_pred, **args)
    with pytest.raises(ValueError, match="differ in length"):
        ev.select_images(y_true, y_pred[:3], true_class=3, predicted_class=5, k=1)


@pytest.fixture(scope="module")
def linear_model():
    """Flatten -> Dense(3, softmax) with fixed weights: outputs are computable by hand."""
    rng = np.random.default_rng(1)
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(3, activation="softmax", name="predictions")
    model = keras.Model(inputs, dense(x))
    kernel = rng.normal(size=(4, 3)).astype("float32")
    bias = np.array([0.1, -0.2, 0.3], "float32")
    dense.set_weights([kernel, bias])
    return model, kernel, bias


def test_evaluate_against_hand_computation(linear_model):
    model, kernel, bias = linear_model
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 2, 2, 1)).astype("float32")
    y = rng.integers(0, 3, 40)
    logits = x.reshape(40, 4).astype(np.float64) @ kernel + bias
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ev.predict_probs(model, x, batch_size=7), probs, rtol=1e-5)
    names = ("a", "b", "c")
    result = ev.evaluate(model, x, y, batch_size=16, class_names=names)
    predicted = probs.argmax(axis=1)
    assert result["n"] == 40
    assert result["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(40), y])), rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(predicted == y))
    for c, name in enumerate(names):
        assert result["per_class_accuracy"][name] == pytest.approx(np.mean(predicted[y == c] == c))
    assert result["confusion_matrix"] == _naive_confusion(y, predicted, 3).tolist()
    # the same model with a linear head and from_logits gives the same numbers
    logit_model = keras.Model(model.input, keras.layers.Dense(3, name="logits")(model.layers[1].output))
    logit_model.layers[-1].set_weights([kernel, bias])
    via_logits = ev.evaluate(logit_model, x, y, class_names=names, from_logits=True)
    assert via_logits["loss"] == pytest.approx(result["loss"], rel=1e-5)
    assert via_logits["confusion_matrix"] == result["confusion_matrix"]
    # compare with Keras's own loss and accuracy
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    keras_loss, keras_acc = model.evaluate(x, np.eye(3, dtype="float32")[y], verbose=0)
    assert result["loss"] == pytest.approx(keras_loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(keras_acc)


def test_evaluate_class_without_images(linear_model):
    model = linear_model[0]
    x = np.zeros((4, 2, 2, 1), "float32")
    result = ev.evaluate(model, x, [0, 0, 1, 1], class_names=("a", "b", "c"))
    assert result["per_class_accuracy"]["c"] is None


@pytest.mark.parametrize(
    "x,y,kwargs,match",
    [
        (np.zeros((4, 2, 2), "float32"), [0] * 4, {}, "x_std.*shape"),
        (np.zeros((0, 2, 2, 1), "float32"), [], {}, "non-empty"),
        (np.full((4, 2, 2, 1), np.nan, "float32"), [0] * 4, {}, "finite"),
        (np.zeros((4, 2, 2, 1), "uint8"), [0] * 4, {}, "floating"),
        (np.zeros((4, 2, 2, 1), "float32"), [0] * 4, {"batch_size": 0}, "batch_size"),
        (np.zeros((4, 2, 2, 1), "float32"), [0] * 3, {}, "3 labels"),
        (np.zeros((4, 2, 2, 1), "float32"), [0, 1, 2, 3], {}, "outside"),
        (np.zeros((4, 2, 2, 1), "float32"), [0] * 4, {"class_names": ("a", "b")}, "class_names"),
    ],
)
def test_evaluate_bad_input(linear_model, x, y, kwargs, match):
    args = {"class_names": ("a", "b", "c"), **kwargs}
    with pytest.raises(ValueError, match=match):
        ev.evaluate(linear_model[0], x, y, **args)


def test_format_evaluation_prints_report_and_raw_matrix(linear_model):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 2, 2, 1)).astype("float32")
    result = ev.evaluate(linear_model[0], x, rng.integers(0, 3, 12), class_names=("cat", "dog", "ship"))
    text = ev.format_evaluation(result, class_names=("cat", "dog", "ship"))
    assert f"accuracy {result['accuracy']:.4f}" in text and "(12 images)" in text
    lines = text.splitlines()
    rows = [line.split() for line in lines if line.strip().split(" ")[0] in ("cat", "dog", "ship") and
            len(line.split()) == 4]
    assert [[int(v) for v in row[1:]] for row in rows] == result["confusion_matrix"]
    with pytest.raises(ValueError, match="confusion_matrix"):
        ev.format_evaluation(result)  # 10 default class names vs a 3x3 matrix
