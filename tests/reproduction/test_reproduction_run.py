"""Tests of drise_tf.reproduction.run's figure sets: the explainers behind figures/06_methods_* and 07_sanity_* (RISE
on its own 7x7 bilinear preset, D-RISE on the profile's design)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import explain
from drise_tf.core.compat import keras
from drise_tf.data import Standardizer
from drise_tf.reproduction import run as reproduction_run
from drise_tf.reproduction.profiles import get_profile

RISE_DESIGN = ((7, 7), "bilinear", 0.5, None, "probability", "np")  # Petsiuk et al. 2018


def _model():
    tf.random.set_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture
def setting(monkeypatch):
    """(explainers made, the figure-set arguments): tiny model, two test images, a profile of few masks whose D-RISE
    grid is 16 (the thesis's), the drawing left out."""
    made, real = [], explain.make_explainer

    def spy(name, model, **options):
        explainer = real(name, model, **options)
        made.append((name, explainer))
        return explainer

    monkeypatch.setattr(explain, "make_explainer", spy)
    monkeypatch.setattr(reproduction_run, "comparison_figures", lambda *args, **kwargs: None)
    monkeypatch.setattr(reproduction_run, "sanity_figures", lambda *args, **kwargs: None)
    profile = dataclasses.replace(get_profile("tiny"), k_compare=2, compare_masks=8, k_sanity=1, sanity_masks=8,
                                  mask_batch=8, grid_size=16, p=0.5, precision="float32", seed=3)
    rng = np.random.default_rng(0)
    x_test = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    return made, (None, _model(), Standardizer([120, 120, 120], [60, 60, 60]), x_test, np.array([1, 2]), profile)


def _design(explainer) -> tuple:
    return explainer.grid_size, explainer.upsample, explainer.p, explainer.shift, explainer.score.name, \
        explainer.aggregation


def test_the_methods_figures_run_rise_on_its_preset_and_d_rise_on_the_profile_s_design(setting):
    made, arguments = setting
    comparison = reproduction_run.compare_methods(*arguments)
    assert "RISE" in comparison.maps and not any(name.startswith("RISE ") for name in comparison.maps)
    rise = [explainer for name, explainer in made if name == "rise"]
    assert [_design(e) for e in rise] == [RISE_DESIGN] and rise[0].n_masks == 8 and rise[0]._seed == 3
    assert {_design(e)[:4] for name, e in made if name == "drise"} == {((16, 16), "nearest", 0.5, None)}


def test_the_sanity_figures_run_d_rise_on_the_profile_s_design_and_leave_rise_out(setting):
    made, arguments = setting
    rows = reproduction_run.check_sanity(*arguments)
    assert "D-RISE cosine (thesis)" in rows and not any(name.startswith("RISE") for name in rows)
    assert all(_design(e) == RISE_DESIGN for name, e in made if name == "rise")
    drise = [explainer for name, explainer in made if name == "drise"]
    assert drise and {(_design(e)[:4], e.n_masks) for e in drise} == {(((16, 16), "nearest", 0.5, None), 8)}
