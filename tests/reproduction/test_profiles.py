"""Tests of drise_tf.reproduction.profiles."""
from __future__ import annotations

import pytest

from drise_tf.reproduction.profiles import PROFILES, get_profile


def test_profiles():
    assert set(PROFILES) >= {"quick", "thesis", "tiny"}
    thesis = get_profile("thesis")
    assert (thesis.epochs, thesis.n_masks, thesis.grid_size, thesis.p) == (100, 5000, 16, 0.5)
    assert thesis.augmentation == "thesis" and thesis.lr_quirk and thesis.epoch0_val == "test"
    assert get_profile("quick").replace(epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown profile 'nope'; known: quick, thesis, tiny"):
        get_profile("nope")
