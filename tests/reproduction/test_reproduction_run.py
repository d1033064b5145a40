"""Tests of drise_tf.reproduction.run's figure sets: the explainers behind figures/06_methods_* and 07_sanity_* (RISE
on its own 7x7 bilinear preset, D-RISE on the profile's design)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from toy_models import RISE_DESIGN, mask_design, spy_on_explainers, tiny_gap_classifier

from drise_tf.data import Standardizer
from drise_tf.reproduction import run as reproduction_run
from drise_tf.reproduction.profiles import get_profile


@pytest.fixture
def setting(monkeypatch):
    """(explainers made, the figure-set arguments): tiny model, two test images, a profile of few masks whose D-RISE
    grid is 16 (the thesis's), the drawing left out."""
    made = spy_on_explainers(monkeypatch)
    monkeypatch.setattr(reproduction_run, "comparison_figures", lambda *args, **kwargs: None)
    monkeypatch.setattr(reproduction_run, "sanity_figures", lambda *args, **kwargs: None)
    profile = dataclasses.replace(get_profile("tiny"), k_compare=2, compare_masks=8, k_sanity=1, sanity_masks=8,
                                  mask_batch=8, grid_size=16, p=0.5, precision="float32", seed=3)
    rng = np.random.default_rng(0)
    x_test = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    standardizer = Standardizer([120, 120, 120], [60, 60, 60])
    return made, (None, tiny_gap_classifier(32, 10), standardizer, x_test, np.array([1, 2]), profile)




def test_the_methods_figures_run_rise_on_its_preset_and_d_rise_on_the_profile_s_design(setting):
    made, arguments = setting
    comparison = reproduction_run.compare_methods(*arguments)
    assert "RISE" in comparison.maps and not any(name.startswith("RISE ") for name in comparison.maps)
    rise = [explainer for name, explainer in made if name == "rise"]
    assert [mask_design(e) for e in rise] == [RISE_DESIGN] and rise[0].n_masks == 8 and rise[0]._seed == 3
    assert {mask_design(e)[:4] for name, e in made if name == "drise"} == {((16, 16), "nearest", 0.5, None)}


def test_the_sanity_figures_run_d_rise_on_the_profile_s_design_and_leave_rise_out(setting):
    made, arguments = setting
    rows = reproduction_run.check_sanity(*arguments)
    assert "D-RISE cosine (thesis)" in rows and not any(name.startswith("RISE") for name in rows)
    assert all(mask_design(e) == RISE_DESIGN for name, e in made if name == "rise")
    drise = [explainer for name, explainer in made if name == "drise"]
    assert drise and {(mask_design(e)[:4], e.n_masks) for e in drise} == {(((16, 16), "nearest", 0.5, None), 8)}
