"""Tests of drise_tf.data.cifar: labels and the thesis split."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf import data


def test_public_constants():
    assert data.CLASS_NAMES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                "truck")
    assert data.NUM_CLASSES == 10 and data.DATA_ENV == "DRISE_TF_DATA"


# ----------------------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("shape", [(7,), (7, 1)])
def test_one_hot_matches_identity_rows(shape):
    y = np.array([3, 0, 9, 3, 1, 2, 5], dtype=np.uint8).reshape(shape)
    encoded = data.one_hot(y)
    assert encoded.dtype == np.float32 and encoded.shape == (7, 10)
    np.testing.assert_array_equal(encoded, np.eye(10, dtype=np.float32)[y.reshape(-1)])
    np.testing.assert_array_equal(data.one_hot([1, 0], num_classes=2), [[0, 1], [1, 0]])


@pytest.mark.parametrize("y, match", [
    ([0, 10], r"outside 0\.\.9"),
    ([-1, 2], r"outside 0\.\.9"),
    ([0.0, 1.0], "integer"),
    ([True, False], "integer"),
    (np.zeros((3, 2), int), r"\(N,\) or \(N, 1\)"),
])
def test_one_hot_rejects_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        data.one_hot(y)


def test_split_train_val_first_trains_last_validates():
    x, y = np.arange(50).reshape(50, 1), np.arange(50) % 10
    (x_tr, y_tr), (x_val, y_val) = data.split_train_val(x, y, n_val=10)
    np.testing.assert_array_equal(x_tr[:, 0], np.arange(40))
    np.testing.assert_array_equal(x_val[:, 0], np.arange(40, 50))
    np.testing.assert_array_equal(y_val, np.arange(40, 50) % 10)
    assert len(y_tr) == 40
    for bad in (0, 50, -1, 2.5):
        with pytest.raises(ValueError, match="n_val"):
            data.split_train_val(x, y, n_val=bad)
    with pytest.raises(ValueError, match="50 samples but y has 49"):
        data.split_train_val(x, y[:-1])
