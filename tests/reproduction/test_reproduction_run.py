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
    # the thesis's two D-RISE rows on the profile's design, the recommended row on its own
    assert sorted(mask_design(e)[:4] for name, e in made if name == "drise") == [
        ((12, 12), "bilinear", 0.5, None), ((16, 16), "nearest", 0.5, None), ((16, 16), "nearest", 0.5, None)]
    # every Monte Carlo map runs to the profile's declared stability, in rounds of its masks, up to its cap
    masking = [e for name, e in made if name in ("drise", "rise")]
    assert {(e.target_stability, e.max_masks, e.sampling) for e in masking} == {(0.9, 120, "antithetic_sobol")}


def test_the_sanity_figures_run_d_rise_on_the_profile_s_design_and_leave_rise_out(setting):
    made, arguments = setting
    rows = reproduction_run.check_sanity(*arguments)
    assert "D-RISE cosine (thesis)" in rows and not any(name.startswith("RISE") for name in rows)
    assert all(mask_design(e) == RISE_DESIGN for name, e in made if name == "rise")
    drise = [explainer for name, explainer in made if name == "drise"]
    assert drise and {(mask_design(e)[:4], e.n_masks) for e in drise} == {(((16, 16), "nearest", 0.5, None), 8)}


def test_thesis_maps_add_an_uncertainty_figure_and_leave_the_thesis_figures_as_they_are(tmp_path):
    from drise_tf.plotting.figure_sets import FigureBook, thesis_map_figures

    model = tiny_gap_classifier(32, 10)
    standardizer = Standardizer([120, 120, 120], [60, 60, 60])
    x_test = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
    predicted = model.predict(standardizer.transform(x_test), verbose=0).argmax(axis=1)
    y_test = np.full(3, predicted[0])  # image 0 is of its class classified as its class
    profile = dataclasses.replace(get_profile("tiny"), k_images=1, n_masks=16, mask_batch=16, seed=3)
    book = FigureBook(tmp_path / "run", "test", {})
    result = reproduction_run.thesis_maps(book, model, standardizer, x_test, y_test, profile,
                                          true_class=int(predicted[0]), pair_class=(int(predicted[0]) + 1) % 10)
    names = [entry["file"] for entry in book.entries]
    stem = names[0].removesuffix("_surface.png")
    assert names[:3] == [f"{stem}_surface.png", f"{stem}_overlay.png", f"{stem}_uncertainty.png"]
    index = book.write_index().read_text()
    assert index.count("How to read the uncertainty figures") == 1
    # the thesis figures are the ones thesis_map_figures draws from the maps alone, byte for byte
    alone = FigureBook(tmp_path / "alone", "test", {})
    thesis_map_figures(alone, x_test[:1], result["maps"][:1], [stem.removeprefix("04_")], ["x"],
                       n_masks=16, p=profile.p)
    for name in names[:2]:
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()
