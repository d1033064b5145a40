"""Tests of drise_tf.reproduction.profiles."""
from __future__ import annotations

import pytest

from drise_tf.reproduction.profiles import PROFILES, get_profile


def test_profiles():
    assert set(PROFILES) == {"quick", "strong", "thesis", "keras_cnn", "tiny"}
    strong = get_profile("strong")
    assert (strong.architecture, strong.width, strong.recipe, strong.train_precision) == (
        "resnet18", 32, "cpu_strong", "bfloat16")
    assert strong.n_train + strong.n_val == 20_000 and strong.precision == "float32"  # explained in float32
    thesis = get_profile("thesis")
    assert (thesis.epochs, thesis.n_masks, thesis.grid_size, thesis.p) == (100, 5000, 16, 0.5)
    assert thesis.augmentation == "thesis" and thesis.lr_quirk and thesis.epoch0_val == "test"
    assert thesis.epoch0_train == "stream" and thesis.width is None  # the thesis: full width, its training stream
    quick = get_profile("quick")
    assert quick.architecture == "resnet18" and quick.width < 64 and quick.n_masks == 5000  # thesis network and N
    assert get_profile("keras_cnn").architecture == "simple_cnn"
    assert quick.replace(epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown profile 'nope'; known: keras_cnn, quick, strong, thesis, tiny"):
        get_profile("nope")
