"""drise_tf.studies.sweeps: the CNN stride/kernel sweep table, the study maps, Grad-CAM on misclassified images."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf.core.compat import keras
from drise_tf.explain import make_explainer
from drise_tf.studies import sweeps as studies


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    x[y == 1, :4] += 2.0  # a learnable signal
    return x, y


def test_sweep_trains_one_simple_cnn_per_stride_and_kernel(tiny_data, tmp_path):
    x, y = tiny_data
    rows = studies.stride_kernel_sweep(x, y, x[:10], y[:10], strides=(1, 2), kernels=(3,), epochs=1,
                                       out_dir=str(tmp_path))
    assert [(r["strides"], r["kernel_size"]) for r in rows] == [(1, 3), (2, 3)]
    for row in rows:
        assert set(row) == set(studies.SWEEP_COLUMNS) and 0 <= row["test_accuracy"] <= 1
    assert rows[0]["params"] > rows[1]["params"]  # stride 2 leaves a smaller Dense head
    path = studies.write_table_csv(rows, str(tmp_path / "sweep.csv"))
    lines = open(path).read().splitlines()
    assert lines[0] == ",".join(studies.SWEEP_COLUMNS) and len(lines) == 3
    text = studies.format_table(rows)
    assert "test_accuracy" in text and f"{rows[0]['test_accuracy']:.4f}" in text
    with pytest.raises(ValueError, match="strides"):
        studies.stride_kernel_sweep(x, y, x, y, strides=())


def _model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    rng = np.random.default_rng(1)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def test_misclassified_gradcam_selects_the_first_wrong_images(tiny_data):
    x, y = tiny_data
    model = _model()
    predicted = model(x).numpy().argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)[:4]
    result = studies.misclassified_gradcam(model, x, y, k=4)
    np.testing.assert_array_equal(result["indices"], wrong)
    np.testing.assert_array_equal(result["true"], y[wrong])
    np.testing.assert_array_equal(result["predicted"], predicted[wrong])
    expected = make_explainer("gradcam", model, normalize="minmax").explain(x[wrong], predicted[wrong])
    np.testing.assert_allclose(result["maps"], expected)
    with pytest.raises(ValueError, match="k must"):
        studies.misclassified_gradcam(model, x, y, k=0)
    with pytest.raises(ValueError, match="one entry per image"):
        studies.misclassified_gradcam(model, x, y[:3])


def test_saliency_and_gradcam_are_normalised_maps(tiny_data):
    x, _ = tiny_data
    model = _model()
    maps = studies.saliency_and_gradcam(model, x[:2], [0, 1])
    assert set(maps) == {"saliency", "gradcam"}
    for name, m in maps.items():
        raw = make_explainer(name, model).explain(x[:2], [0, 1]).astype(np.float64)
        low, high = raw.min(axis=(1, 2), keepdims=True), raw.max(axis=(1, 2), keepdims=True)
        assert m.shape == (2, 16, 16) and np.all(high > low)
        np.testing.assert_allclose(m, (raw - low) / (high - low), rtol=1e-5, atol=1e-6)  # min-max, map by map
