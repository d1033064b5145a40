"""Tests of drise_tf.data.standardizer: closed form, inverse, bounds, saving and bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from drise_tf.data import Standardizer


# --------------------------------------------------------------------------------------------- standardizer
def _uint8_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_standardizer_matches_closed_form():
    x = _uint8_images(20)
    x[..., 2] //= 3  # channels with different statistics
    scaled = x.astype(np.float64) / 255.0
    mean, std = scaled.mean(axis=(0, 1, 2)), scaled.std(axis=(0, 1, 2))
    standardizer = Standardizer.fit(x)
    assert standardizer.mean.dtype == np.float32 and standardizer.std.shape == (3,)
    np.testing.assert_allclose(standardizer.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(standardizer.std, std, rtol=1e-6)
    out = standardizer.transform(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, (scaled - mean) / std, atol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0, dtype=np.float64), 0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 3).std(axis=0, dtype=np.float64), 1, atol=1e-5)
    np.testing.assert_array_equal(standardizer.transform(x[3]), out[3])  # a single (H, W, 3) image


def test_standardizer_to_uint8_inverts_transform():
    x = _uint8_images(4)
    standardizer = Standardizer.fit(x)
    np.testing.assert_array_equal(standardizer.to_uint8(standardizer.transform(x)), x)
    np.testing.assert_array_equal(standardizer.to_uint8(standardizer.transform(x[0])), x[0])
    clipped = standardizer.to_uint8(np.full((2, 2, 3), 100.0, np.float32))
    assert clipped.dtype == np.uint8 and (clipped == 255).all()


def test_standardizer_bounds_are_the_transformed_black_and_white():
    standardizer = Standardizer.fit(_uint8_images(4))
    low, high = standardizer.bounds()
    np.testing.assert_allclose(low, standardizer.transform(np.zeros((1, 1, 3), np.uint8))[0, 0], rtol=1e-6)
    np.testing.assert_allclose(high, standardizer.transform(np.full((1, 1, 3), 255, np.uint8))[0, 0], rtol=1e-6)


def test_standardizer_save_load_round_trip(tmp_path):
    standardizer = Standardizer.fit(_uint8_images(5))
    path = standardizer.save(tmp_path / "run" / "standardizer.json")
    content = json.loads(open(path).read())
    assert set(content) == {"mean", "std", "scale"} and content["scale"] == 255.0
    loaded = Standardizer.load(path)
    np.testing.assert_array_equal(loaded.mean, standardizer.mean)
    np.testing.assert_array_equal(loaded.std, standardizer.std)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["standardizer.json"]  # no temporary left behind


@pytest.mark.parametrize("text, match", [
    ("{not json", "Expecting"),
    ('{"mean": [0.5, 0.5, 0.5], "scale": 255.0}', "'std'"),
    ('{"mean": [0.5, 0.5], "std": [1, 1, 1], "scale": 255.0}', "3 values"),
    ('{"mean": [0.5, 0.5, 0.5], "std": [1, 0, 1], "scale": 255.0}', "std positive"),
    ('{"mean": [0.5, 0.5, 0.5], "std": [1, 1, 1], "scale": 1.0}', "scale must be 255"),
    ("[1, 2]", "invalid"),
])
def test_standardizer_load_names_the_bad_file(tmp_path, text, match):
    path = tmp_path / "standardizer.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        Standardizer.load(path)
    assert "standardizer.json" in str(info.value)


def test_standardizer_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Standardizer.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="x_uint8 must be uint8.*float32"):
        Standardizer.fit(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"x_uint8 must have shape .*\(2, 32, 32\)"):
        Standardizer.fit(np.zeros((2, 32, 32), np.uint8))
    x = _uint8_images(2)
    x[..., 1] = 7
    with pytest.raises(ValueError, match="constant channel"):
        Standardizer.fit(x)
    with pytest.raises(ValueError, match="x must be uint8"):
        Standardizer.fit(_uint8_images(2)).transform(np.zeros((1, 32, 32, 3), np.float32))
