"""The shipped strong run (models/strong): checked against its manifest, loaded and explained without training; on
the real data its accuracy is the one its evaluation.json states."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from drise_tf import explain, training
from drise_tf.reproduction.profiles import get_profile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
STRONG = REPO_ROOT / "models" / "strong"

# The shipped model file is a Keras 3 .keras file; Keras 2 users train it again (reproduce --profile strong --retrain).
pytestmark = pytest.mark.keras3_only


def test_the_strong_run_is_shipped_whole_and_loads_checked():
    assert training.verify_run(STRONG), f"{STRONG} has no manifest.json"
    model, standardizer = training.load_run(STRONG)
    profile = get_profile("strong")
    assert model.get_layer("stem_conv").filters == profile.width  # the thesis's layer names at the chosen width
    assert model.get_layer("stage4_block2_conv2").filters == 8 * profile.width
    history = json.loads((STRONG / "history.json").read_text())
    assert history["epoch"][-1] == profile.epochs
    images = standardizer.transform(np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8))
    maps = explain.DRise(model, n_masks=16, sampling="antithetic", seed=0, similarity="probability").explain(
        images, np.array([3, 5]))
    assert maps.shape == (2, 32, 32) and np.isfinite(maps).all() and maps.std() > 0


def test_a_truncated_shipped_model_is_a_clear_error(tmp_path):
    for path in STRONG.iterdir():
        if path.is_file():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    model_file = next(tmp_path.glob("model.*"))
    model_file.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated or altered"):
        training.load_run(tmp_path)


@pytest.mark.realdata
def test_the_strong_model_is_as_accurate_as_it_says(cifar_subset_file):
    from drise_tf.data import load_cifar10

    model, standardizer = training.load_run(STRONG)
    _, (x_test, y_test) = load_cifar10(str(cifar_subset_file))
    found = training.evaluate(model, standardizer.transform(x_test[:1000]), y_test[:1000])
    stated = json.loads((STRONG / "evaluation.json").read_text())
    assert stated["n"] == 10_000 and stated["accuracy"] >= 0.82  # the must; the target is 0.85
    assert abs(found["accuracy"] - stated["accuracy"]) < 0.03  # 1,000 of its 10,000 images
