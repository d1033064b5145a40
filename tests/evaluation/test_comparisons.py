"""Tests of drise_tf.evaluation.comparisons: seeded comparisons; every method on its own preset unless the caller
names its options (RISE stays 7x7 bilinear whatever the shared D-RISE options say); rows named by their design."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from toy_models import RISE_DESIGN, mask_design, spy_on_explainers, tiny_gap_classifier

from drise_tf import evaluation
from drise_tf.evaluation import comparisons
from drise_tf.explain.drise import DESIGN_OPTIONS, DRise


def _images(n: int, size: int = 8, seed: int = 2):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype(np.float32), np.arange(n) % 3


@pytest.fixture
def made(monkeypatch):
    """Every explainer the comparisons make: (explainer name, explainer)."""
    return spy_on_explainers(monkeypatch)




def test_similarity_and_method_comparisons_are_seeded(tmp_path):
    model = tiny_gap_classifier()
    images = np.random.default_rng(2).normal(size=(3, 8, 8, 3)).astype(np.float32)
    labels = np.array([0, 1, 2])
    options = dict(n_masks=12, grid_size=2, batch_size=6, seed=5)
    first = comparisons.similarity_comparison(model, images, labels, similarities=["cosine", "margin"],
                                              aggregations=["none", "coverage"], step=16, **options)
    assert sorted(first.maps) == ["cosine/coverage", "cosine/none", "margin/coverage", "margin/none"]
    again = comparisons.similarity_comparison(model, images, labels, similarities=["cosine", "margin"],
                                              aggregations=["none", "coverage"], step=16, **options)
    for name in first.maps:
        np.testing.assert_array_equal(first.maps[name], again.maps[name])
    names, matrix = first.agreement
    assert names == list(first.maps) and matrix.shape == (4, 4)
    text = open(first.write_csv(tmp_path / "t.csv")).read().splitlines()
    assert text[0] == "name,metric,mean,low,high,n" and len(text) == 1 + 4 * 4  # 2 AUCs, stability, masks used
    assert sorted(first.stability) == sorted(first.maps)
    np.testing.assert_allclose(np.diag(matrix), [first.stability[name].mean() for name in names])  # noise floor
    assert all(np.all(first.masks_used[name] == 12) for name in names)
    adaptive = comparisons.similarity_comparison(model, images, labels, similarities=["cosine"],
                                                 aggregations=["none"], step=16, target_stability=0.95, max_masks=36,
                                                 replicas=4, **options)
    used = adaptive.masks_used["cosine/none"]
    assert np.all(used % 12 == 0) and np.all((used >= 12) & (used <= 36))
    assert np.all((adaptive.stability["cosine/none"] >= 0.95) | (used == 36))

    methods = {"drise": ("drise", {}), "smooth": ("smoothgrad", {"samples": 3})}
    one = comparisons.method_comparison(model, images, labels, methods=methods, step=16, seed=7, n_masks=10,
                                        grid_size=2)
    two = comparisons.method_comparison(model, images, labels, methods=methods, step=16, seed=7, n_masks=10,
                                        grid_size=2)
    assert list(one.maps) == ["drise 2x2", "smooth"]  # the D-RISE row states its grid (the thesis's is 16x16)
    for name in one.maps:
        np.testing.assert_array_equal(one.maps[name], two.maps[name])
    assert sorted(one.stability) == ["drise 2x2"] and sorted(one.masks_used) == ["drise 2x2"]  # SmoothGrad's: unknown
    assert np.isnan(one.agreement[1][1, 1])
    deterministic = comparisons.method_comparison(model, images, labels, methods={"saliency": ("saliency", {})},
                                                  step=16)
    np.testing.assert_array_equal(deterministic.stability["saliency"], [1.0, 1.0, 1.0])
    other = comparisons.method_comparison(model, images, labels, methods=methods, step=16, seed=8, n_masks=10,
                                          grid_size=2)
    assert not np.array_equal(other.maps["smooth"], one.maps["smooth"])


def test_method_comparison_runs_rise_on_its_preset_though_the_shared_options_name_a_design(made):
    images, labels = _images(2, size=16)
    model = tiny_gap_classifier(16)
    found = comparisons.method_comparison(model, images, labels, step=64, seed=1, n_masks=8, grid_size=16, p=0.3,
                                          upsample="nearest", batch_size=8)
    assert list(found.maps) == ["D-RISE cosine (thesis) p 0.3", "D-RISE probability p 0.3",
                                "D-RISE recommended 12x12 bilinear", "RISE", "Saliency", "SmoothGrad",
                                "Grad-CAM", "Grad-CAM++", "Faster-Score-CAM"]
    rise = [explainer for name, explainer in made if name == "rise"]
    drise = [explainer for name, explainer in made if name == "drise"]
    assert len(rise) == 1 and mask_design(rise[0]) == RISE_DESIGN
    assert (rise[0].n_masks, rise[0].batch_size, rise[0]._seed) == (8, 8, 1)  # the run options are shared
    # the recommended row's own design wins over the shared one
    assert [mask_design(e)[:3] for e in drise] == [((16, 16), "nearest", 0.3)] * 2 + [((12, 12), "bilinear", 0.5)]
    assert [mask_design(e)[4:] for e in drise] == [("cosine", "none"), ("probability", "debiased"),
                                                   ("probability", "np")]


def test_a_method_s_own_options_win_and_a_rise_with_its_own_design_says_so(made):
    images, labels = _images(2, size=16)
    methods = {"RISE": ("rise", {"grid_size": 4, "n_masks": 6}), "D-RISE": ("drise", {"grid_size": 4}),
               "RISE nearest": ("rise", {"upsample": "nearest", "seed": 9})}
    model = tiny_gap_classifier(16)
    maps, stability, _ = comparisons.explain_methods(model, images, labels, methods=methods, seed=2, n_masks=8,
                                                     grid_size=8, batch_size=8)
    assert list(maps) == ["RISE 4x4", "D-RISE 4x4", "RISE nearest 7x7 nearest"] and list(stability) == list(maps)
    (_, rise), (_, drise), (_, nearest) = made
    assert mask_design(rise) == ((4, 4), *RISE_DESIGN[1:]) and rise.n_masks == 6 and rise._seed == 2
    assert drise.grid_size == (4, 4) and drise.n_masks == 8
    assert mask_design(nearest) == ((7, 7), "nearest", *RISE_DESIGN[2:]) and nearest._seed == 9


def test_rows_whose_names_collide_once_their_designs_are_stated_are_refused_before_any_work(made):
    with pytest.raises(ValueError, match="same name"):
        comparisons.explain_methods(tiny_gap_classifier(), *_images(1), methods={"RISE 4x4": ("rise", {}),
                                                                    "RISE": ("rise", {"grid_size": 4})})
    assert made == []


def test_sanity_check_runs_rise_on_its_preset(made):
    images, labels = _images(1, size=16)
    model = tiny_gap_classifier(16)
    rows = comparisons.sanity_check(model, images, labels, methods={"RISE": ("rise", {}), "D-RISE": ("drise", {})},
                                    layers=["predictions"], seed=0, n_masks=8, grid_size=16, p=0.5, batch_size=8)
    assert list(rows) == ["RISE", "D-RISE"] and [row["layer"] for row in rows["RISE"]] == [None, "predictions"]
    rise = [mask_design(e) for name, e in made if name == "rise"]  # on the trained and the randomised models
    assert len(rise) >= 2 and set(rise) == {RISE_DESIGN}
    assert {e.grid_size for name, e in made if name == "drise"} == {(16, 16)}


def test_the_evaluation_runs_rise_on_its_preset_though_its_drise_options_name_a_grid(made, tmp_path):
    images, labels = _images(2)
    model = tiny_gap_classifier()
    evaluation.evaluate_maps(model, images, labels, tmp_path / "run", drise_options={"n_masks": 8, "grid_size": 2,
                                                                                        "batch_size": 8},
                             similarities=["cosine"], methods={"RISE": ("rise", {})}, noise_images=0, mprt_images=0,
                             chunk_size=2, progress=False)
    rise = [explainer for name, explainer in made if name == "rise"]
    assert len(rise) == 1 and mask_design(rise[0]) == RISE_DESIGN and rise[0].n_masks == 8
    variants = {record["variant"] for record in evaluation.read_records(tmp_path / "run")[1]}
    assert "RISE" in variants


@pytest.mark.parametrize("display, name, options, label", [
    ("RISE", "rise", {}, "RISE"),
    ("RISE", "rise", {"n_masks": 10, "sampling": "antithetic", "seed": 3, "batch_size": 5}, "RISE"),  # run options
    ("RISE", "rise", {"grid_size": 16}, "RISE 16x16"),
    ("RISE", "rise", {"grid_size": 7, "upsample": "nearest"}, "RISE 7x7 nearest"),
    ("RISE", "rise", {"p": 0.3}, "RISE p 0.3"),
    ("RISE", "rise", {"grid_size": (4, 8), "p": 0.3, "shift": 2}, "RISE 4x8, p 0.3, shift 2"),
    ("RISE", "rise", {"similarity": "cosine", "aggregation": "none"}, "RISE cosine/none"),
    ("RISE 16x16", "rise", {"grid_size": 16}, "RISE 16x16"),  # already said
    ("D-RISE probability", "drise", {"similarity": "probability", "aggregation": "debiased"}, "D-RISE probability"),
    ("D-RISE", "drise", {"grid_size": (16, 16), "upsample": "nearest", "p": 0.5, "shift": None}, "D-RISE"),
    ("D-RISE", "drise", {"upsample": "bilinear"}, "D-RISE 16x16 bilinear"),
    ("D-RISE", "drise", {"shift": (1, 2)}, "D-RISE shift 1x2"),
    ("Grad-CAM", "gradcam", {"layer": "conv"}, "Grad-CAM"),
])
def test_a_row_states_its_design_where_it_differs_from_its_preset(display, name, options, label):
    assert comparisons.method_label(display, name, options) == label


def test_shared_options_reach_rise_only_as_run_options_and_a_method_s_own_options_win():
    shared = {"n_masks": 10, "grid_size": 16, "upsample": "nearest", "p": 0.3, "shift": 1, "similarity": "cosine",
              "aggregation": "none", "sampling": "sobol", "batch_size": 5, "precision": "bfloat16",
              "target_stability": 0.9, "max_masks": 40, "replicas": 4, "strategy": None, "progress": True}
    run = {key: value for key, value in shared.items() if key not in DESIGN_OPTIONS}
    assert comparisons.method_options("rise", {}, 3, shared) == {**run, "seed": 3}
    assert comparisons.method_options("rise", {"grid_size": 4, "seed": 9}, 3, shared) == {**run, "grid_size": 4,
                                                                                          "seed": 9}
    assert comparisons.method_options("drise", {"p": 0.5}, 3, shared) == {**shared, "p": 0.5, "seed": 3}
    assert comparisons.method_options("smoothgrad", {"samples": 4}, 3, shared) == {"seed": 3, "samples": 4}
    assert comparisons.method_options("saliency", {}, 3, shared) == {}
    # every option of DRise is either a design option or a run option (a new one must be sorted into one of them)
    options = set(inspect.signature(DRise.__init__).parameters) - {"self", "model", "normalize"}
    assert options == set(DESIGN_OPTIONS) | set(comparisons.SHARED_OPTIONS)
    assert not set(DESIGN_OPTIONS) & set(comparisons.SHARED_OPTIONS)


def test_method_comparison_takes_the_thesis_rows_from_a_similarity_comparison_of_the_same_masks(made):
    images, labels = _images(3)
    model = tiny_gap_classifier()
    options = dict(n_masks=12, grid_size=2, batch_size=6)
    methods = {"thesis": ("drise", {"similarity": "cosine", "aggregation": "none"}),
               "probability": ("drise", {"similarity": "probability", "aggregation": "debiased"}),
               "other grid": ("drise", {"similarity": "cosine", "aggregation": "none", "grid_size": 3}),
               "RISE": ("rise", {})}
    drawn = comparisons.method_comparison(model, images, labels, methods=methods, step=16, seed=4, **options)
    scored = comparisons.similarity_comparison(model, images, labels, similarities=["cosine", "probability"],
                                               step=16, seed=4, **options)
    made.clear()
    taken = comparisons.method_comparison(model, images, labels, methods=methods, step=16, seed=4, scored=scored,
                                          **options)
    # the same masks give the same maps whether drawn again or taken; only the rows with other masks are explained
    for name in ("thesis 2x2", "probability 2x2"):
        np.testing.assert_allclose(taken.maps[name], drawn.maps[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(taken.stability[name], drawn.stability[name], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(taken.maps["other grid 3x3"], drawn.maps["other grid 3x3"])
    assert [name for name, _ in made] == ["drise", "rise"]
    with pytest.raises(ValueError, match="known names rows"):
        comparisons.explain_methods(model, images, labels, methods=methods, known={"nope": (None, None, None)})
