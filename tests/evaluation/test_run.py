"""Tests of drise_tf.evaluation.run and .store: every variant measured as the metrics measure it directly, results
stored chunk by chunk, a SIGKILLed run resumed without recomputing or duplicating, other settings refused."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from toy_models import tiny_cnn

from drise_tf import evaluation, explain, metrics
from drise_tf.explain import DRise
from drise_tf.explain.drise import THESIS_MASKS

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRISE = {"n_masks": 16, "grid_size": 2, "batch_size": 16}
METHODS = {"RISE": ("rise", {}), "Saliency": ("saliency", {}), "SmoothGrad": ("smoothgrad", {"samples": 4})}
SCORES = ["cosine", "probability"]


def _data(n=5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, n)


def _run(folder, model, images, labels, **kw):
    options = dict(drise_options=DRISE, similarities=SCORES, methods=METHODS, noise_images=2, mprt_images=2,
                   chunk_size=2, seed=3, progress=False)
    options.update(kw)
    return evaluation.evaluate_maps(model, images, labels, folder, **options)


def test_evaluation_stores_every_variant_measured_as_the_metrics_measure_it(tmp_path):
    model = tiny_cnn()
    images, labels = _data()
    store = _run(tmp_path / "run", model, images, labels)
    assert store.finished() == [0, 2, 4]
    settings, records = evaluation.read_records(tmp_path / "run")
    first = [r for r in records if r["seed"] == 0]
    variants = {r["variant"] for r in first}
    assert len(variants) == 2 * (2 * 3 + 3) and "D-RISE cosine/debiased" in variants  # each also smoothed
    assert "D-RISE cosine/np" not in variants and "Saliency + smoothed" in variants
    assert len(first) == 5 * len(variants)
    second = [r for r in records if r["seed"] == 1]
    assert {r["position"] for r in second} == {0, 1}
    assert {r["variant"] for r in second} == variants - {"Saliency", "Saliency + smoothed"}
    assert all((r["emprt"] is not None) == (r["position"] < 2) for r in first)

    # the chunk at position 2 re-measured by hand: same maps, same metrics
    drise = DRise(model, seed=3, sampling="antithetic", **{**THESIS_MASKS, **DRISE})  # the evaluation's score rows
    maps = drise.explain_scores(images[2:4], labels[2:4], similarities=SCORES, aggregations=("debiased",))
    direct = metrics.road(model, images[2:4], maps["probability/debiased"], classes=labels[2:4], seed=(3, 2),
                          fractions=(0.1, 0.3, 0.5, 0.7, 0.9), noise=0.01)
    fidelity = metrics.mu_fidelity(model, images[2:4], {"m": maps["probability/debiased"]}, classes=labels[2:4],
                                   seed=(3, 2))["m"]
    stored = sorted((r for r in first if r["variant"] == "D-RISE probability/debiased" and r["position"] in (2, 3)),
                    key=lambda r: r["position"])
    np.testing.assert_allclose([r["road_gap"] for r in stored], direct["gap"], atol=1e-6)
    np.testing.assert_allclose([r["mu_fidelity"] for r in stored], fidelity, atol=1e-6)
    # its smoothed row: the same map blurred by the declared Gaussian (sigma = (8 / 7) / sqrt(6) on 8x8 images)
    sigma = 8 / 7 / np.sqrt(6)
    assert settings["smoothing"] == {"grid": 7, "sigma": pytest.approx(sigma)}
    smoothed = explain.smooth_maps(maps["probability/debiased"], sigma)
    direct = metrics.road(model, images[2:4], smoothed, classes=labels[2:4], seed=(3, 2),
                          fractions=(0.1, 0.3, 0.5, 0.7, 0.9), noise=0.01)
    stored = sorted((r for r in first if r["variant"] == "D-RISE probability/debiased + smoothed"
                     and r["position"] in (2, 3)), key=lambda r: r["position"])
    np.testing.assert_allclose([r["road_gap"] for r in stored], direct["gap"], atol=1e-6)
    assert [r["id"] for r in stored] == [2, 3] and [r["label"] for r in stored] == labels[2:4].tolist()
    assert settings["primary_metric"] == "road_gap" and settings["drise"]["sampling"] == "antithetic"


def test_resume_refuses_other_settings_and_an_existing_run_without_resume(tmp_path):
    model = tiny_cnn()
    images, labels = _data(2)
    _run(tmp_path / "run", model, images, labels, methods={}, similarities=["cosine"])
    with pytest.raises(ValueError, match="resume"):
        _run(tmp_path / "run", model, images, labels, methods={}, similarities=["cosine"])
    with pytest.raises(evaluation.SettingsMismatchError, match="'drise.n_masks' was 16 .* now 32"):
        _run(tmp_path / "run", model, images, labels, methods={}, similarities=["cosine"], resume=True,
             drise_options={**DRISE, "n_masks": 32})
    finished = _run(tmp_path / "run", model, images, labels, methods={}, similarities=["cosine"], resume=True)
    assert finished.finished() == [0]
    (tmp_path / "run" / "chunks" / ".tmp-abc").write_text("{half a chunk")  # what a kill mid-write leaves
    # 2 images x 2 seeds x 3 variants, each also smoothed
    assert len(evaluation.read_records(tmp_path / "run")[1]) == 2 * 2 * 3 * 2


SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {tests!r})
    from toy_models import tiny_cnn
    from drise_tf import evaluation
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(8, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, 8)
    evaluation.evaluate_maps(tiny_cnn(), images, labels, sys.argv[1], drise_options={drise!r},
                             similarities=["cosine", "probability"], methods={{"RISE": ("rise", {{}})}},
                             noise_images=2, mprt_images=2, chunk_size=1, seed=3, resume=sys.argv[2] == "resume")
""")


@pytest.mark.keras3_only  # three processes: once is enough (the store is the same on Keras 2)
def test_a_sigkilled_run_resumes_without_recomputing_or_duplicating(tmp_path):
    script = tmp_path / "evaluate.py"
    script.write_text(SCRIPT.format(tests=TESTS, drise={**DRISE, "n_masks": 64}))
    folder = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, str(script), str(folder), "new"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = folder / "chunks"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if chunks.is_dir() and len([f for f in os.listdir(chunks) if f.startswith("chunk-")]) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed: " + process.stdout.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {name: (chunks / name).stat().st_mtime_ns for name in os.listdir(chunks) if name.startswith("chunk-")}
    assert 2 <= len(before) < 8
    resumed = subprocess.run([sys.executable, str(script), str(folder), "resume"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"{len(before) + 1}/8 images" in resumed.stdout  # it started after the finished chunks
    for name, stamp in before.items():  # finished chunks were not rewritten
        assert (chunks / name).stat().st_mtime_ns == stamp
    _, records = evaluation.read_records(folder)
    keys = [(r["position"], r["variant"], r["seed"]) for r in records]
    assert len(keys) == len(set(keys)) and {r["position"] for r in records} == set(range(8))

    # the same numbers as a run that was never interrupted
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(8, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, 8)
    evaluation.evaluate_maps(tiny_cnn(), images, labels, tmp_path / "whole", drise_options={**DRISE, "n_masks": 64},
                             similarities=["cosine", "probability"], methods={"RISE": ("rise", {})}, noise_images=2,
                             mprt_images=2, chunk_size=1, seed=3, progress=False)
    _, whole = evaluation.read_records(tmp_path / "whole")
    assert json.loads(json.dumps(sorted(keys))) == json.loads(json.dumps(sorted(
        (r["position"], r["variant"], r["seed"]) for r in whole)))
    by_key = {(r["position"], r["variant"], r["seed"]): r for r in whole}
    for record in records:
        other = by_key[(record["position"], record["variant"], record["seed"])]
        for metric in ("road_gap", "mu_fidelity", "deletion_auc", "stability"):
            assert record[metric] == pytest.approx(other[metric], abs=1e-5), (metric, record, other)


def test_maps_that_differ_by_scale_shift_or_rounding_are_measured_once():
    model = tiny_cnn()
    images, labels = _data(2)
    run = evaluation.Evaluation(model, drise_options=DRISE, similarities=SCORES, methods={}, seed=0)
    maps = np.random.default_rng(1).random((2, 8, 8)).astype(np.float32)
    found, measured_as = run.measure(images, labels, {"a": maps, "scaled": 3 * maps + 1, "rounded": maps * (1 + 1e-9),
                                                      "reversed": -maps}, metric_seed=(0,))
    assert measured_as == {"a": "a", "scaled": "a", "rounded": "a", "reversed": "reversed"}
    assert found["a"] is found["scaled"] and found["a"] is found["rounded"]
    assert not np.allclose(found["reversed"]["road_gap"], found["a"]["road_gap"])
    direct = metrics.road(model, images, maps, classes=labels, seed=(0,), fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                          noise=0.01)
    np.testing.assert_allclose(found["scaled"]["road_gap"], direct["gap"])


def test_aggregations_of_antithetic_masks_are_one_order_and_of_iid_masks_are_not():
    model = tiny_cnn()
    images, labels = _data(3)
    run = evaluation.Evaluation(model, drise_options=DRISE, similarities=SCORES, methods={}, seed=0)
    for sampling, merged in (("antithetic", True), ("iid", False)):
        maps = DRise(model, seed=0, sampling=sampling, **{**DRISE, "n_masks": 64, "grid_size": 3}).explain_scores(
            images, labels, similarities=["cosine"], aggregations=("none", "coverage", "debiased"))
        _, measured_as = run.measure(images, labels, maps, metric_seed=(0,))
        assert (set(measured_as.values()) == {"cosine/none"}) == merged


def test_constant_maps_are_one_order_apart_from_every_other():
    model = tiny_cnn()
    images, labels = _data(2)
    run = evaluation.Evaluation(model, drise_options=DRISE, similarities=SCORES, methods={}, seed=0)
    maps = np.random.default_rng(1).random((2, 8, 8)).astype(np.float32)
    partly_constant = maps.copy()
    partly_constant[0] = 0.5
    _, measured_as = run.measure(images, labels, {"zero": np.zeros_like(maps), "one": np.ones_like(maps), "a": maps,
                                                  "partly constant": partly_constant}, metric_seed=(0,))
    assert measured_as == {"zero": "zero", "one": "zero", "a": "a", "partly constant": "partly constant"}


def test_mask_designs_are_rows_of_their_own_from_the_same_seed(tmp_path):
    model = tiny_cnn()
    images, labels = _data(2)
    designs = {"2x2 nearest": {"grid_size": 2, "upsample": "nearest"}, "4x4 bilinear": {"grid_size": 4,
                                                                                        "upsample": "bilinear"}}
    _run(tmp_path / "run", model, images, labels, methods={}, similarities=["probability"], designs=designs,
         noise_images=0, mprt_images=0, smoothing=False)
    settings, records = evaluation.read_records(tmp_path / "run")
    assert settings["designs"] == designs and "smoothing" not in settings
    assert {r["variant"] for r in records} == {f"D-RISE {d} probability/{a}" for d in designs
                                               for a in ("none", "coverage", "debiased")}
    for label, design in designs.items():  # each design's rows are that design's D-RISE, seeded like the run
        drise = DRise(model, seed=3, sampling="antithetic", **{**DRISE, **design})
        maps = drise.explain_scores(images, labels, similarities=["probability"], aggregations=("none",))
        direct = metrics.road(model, images, maps["probability/none"], classes=labels, seed=(3, 0),
                              fractions=(0.1, 0.3, 0.5, 0.7, 0.9), noise=0.01)
        stored = sorted((r for r in records if r["variant"] == f"D-RISE {label} probability/none"),
                        key=lambda r: r["position"])
        np.testing.assert_allclose([r["road_gap"] for r in stored], direct["gap"], atol=1e-6)


def test_the_metrics_forward_through_the_folded_copy_in_the_masks_precision():
    from toy_models import tiny_bn_classifier

    model = tiny_bn_classifier()
    images, _ = _data(4)
    expected = model.predict_on_batch(images)
    options = dict(similarities=SCORES, methods={}, seed=0)
    exact = evaluation.Evaluation(model, drise_options=DRISE, **options).metric_model()
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in exact.layers)  # folded
    np.testing.assert_allclose(exact.predict_on_batch(images), expected, atol=1e-6)
    low = evaluation.Evaluation(model, drise_options={**DRISE, "precision": "bfloat16"}, **options).metric_model()
    assert {layer.compute_dtype for layer in low.layers if layer.name == "conv"} == {"bfloat16"}
    found = low.predict_on_batch(images)
    assert 0 < np.abs(found - expected).max() < 2e-2  # bfloat16 rounding, not another model


def test_a_design_that_names_its_score_is_one_row_under_that_score(tmp_path):
    model = tiny_cnn()
    images, labels = _data(2)
    designs = {"thesis": {"grid_size": 2, "upsample": "nearest", "similarity": "cosine", "aggregation": "none"},
               "4x4 bilinear": {"grid_size": 4, "upsample": "bilinear"}}
    _run(tmp_path / "run", model, images, labels, methods={}, similarities=["probability"], designs=designs,
         noise_images=0, mprt_images=0, smoothing=False)
    _, records = evaluation.read_records(tmp_path / "run")
    assert {r["variant"] for r in records} == {"D-RISE thesis cosine/none"} | {
        f"D-RISE 4x4 bilinear probability/{a}" for a in ("none", "coverage", "debiased")}
    drise = DRise(model, seed=3, sampling="antithetic", **{**DRISE, **designs["thesis"]})
    direct = metrics.road(model, images, drise.explain(images, labels), classes=labels, seed=(3, 0),
                          fractions=(0.1, 0.3, 0.5, 0.7, 0.9), noise=0.01)
    stored = sorted((r for r in records if r["variant"] == "D-RISE thesis cosine/none"), key=lambda r: r["position"])
    np.testing.assert_allclose([r["road_gap"] for r in stored], direct["gap"], atol=1e-6)


def test_the_recommended_design_is_one_more_row_beside_the_score_rows_on_the_thesis_masks(tmp_path):
    from toy_models import tiny_gap_classifier

    from drise_tf.explain.drise import RECOMMENDED_PRESET

    model = tiny_gap_classifier(16)  # the recommended grid needs images of at least its cells
    images = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    labels = np.array([0, 2])
    _run(tmp_path / "run", model, images, labels, methods={}, similarities=["probability"], noise_images=0,
         mprt_images=0, smoothing=False, designs=evaluation.run.RECOMMENDED_DESIGNS)
    _, records = evaluation.read_records(tmp_path / "run")
    assert {r["variant"] for r in records} == {f"D-RISE probability/{a}" for a in ("none", "coverage", "debiased")} | {
        "D-RISE recommended probability/np"}
    design = {key: RECOMMENDED_PRESET[key] for key in ("grid_size", "upsample", "p", "shift")}
    drise = DRise(model, seed=3, sampling="antithetic", **{**DRISE, **design, "similarity": "probability",
                                                           "aggregation": "np"})
    direct = metrics.road(model, images, drise.explain(images, labels), classes=labels, seed=(3, 0),
                          fractions=(0.1, 0.3, 0.5, 0.7, 0.9), noise=0.01)
    stored = sorted((r for r in records if r["variant"] == "D-RISE recommended probability/np"),
                    key=lambda r: r["position"])
    np.testing.assert_allclose([r["road_gap"] for r in stored], direct["gap"], atol=1e-6)
