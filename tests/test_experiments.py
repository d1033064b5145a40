"""The experiment scripts: every script parses, and each runs headless end to end on a tiny configuration.

The tiny runs set DRISE_TF_EXPERIMENT_PROFILE=tiny (the scripts then take the "tiny" profile's values),
DRISE_TF_DATA to a small synthetic CIFAR-like .npz and DRISE_TF_OUTPUT to a temporary folder, and run each script
in a subprocess as a user would (``python experiments/NN_name.py``). Script 01 trains the shared tiny run first.
"""
from __future__ import annotations

import ast
import json
import os
import pathlib
import shlex
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO_ROOT / "experiments"
SCRIPTS = sorted(EXPERIMENTS.glob("[0-9][0-9]_*.py"))
TRAINING_SCRIPT = "01_train_thesis_model.py"
TIMEOUT = 600


def _script(name: str) -> pathlib.Path:
    path = EXPERIMENTS / name
    if not path.is_file():
        pytest.skip(f"{name} not written yet")
    return path


def synthetic_cifar(path: pathlib.Path, n_train: int = 330, n_test: int = 260, seed: int = 0) -> pathlib.Path:
    """A CIFAR-10 look-alike that one tiny epoch learns: cats are reddish noise, dogs bluish noise.

    Every fifth bluish test image is labelled cat: a "cat" the model takes for a dog, so that script 03 finds both
    of its groups (cats classified as cat, cats classified as dog) and script 08 finds misclassified images. The
    first ten test images are labelled 0..9, so that every class occurs (script 06 picks one image per class).
    """
    rng = np.random.default_rng(seed)
    tints = np.array([[150, 40, 40], [40, 40, 150]])

    def split(n: int):
        bluish = np.arange(n) % 2
        rng.shuffle(bluish)
        images = rng.integers(0, 100, size=(n, 32, 32, 3)) + tints[bluish][:, None, None, :]
        return images.astype(np.uint8), np.where(bluish == 1, 5, 3).astype(np.uint8), bluish

    x_train, y_train, _ = split(n_train)
    x_test, y_test, bluish = split(n_test)
    y_test[np.flatnonzero(bluish)[::5]] = 3
    y_test[:10] = np.arange(10)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def run_script(path: pathlib.Path, env: dict) -> subprocess.CompletedProcess:
    """Run one script as ``python experiments/NN_name.py`` from the repository root; fail with its output."""
    done = subprocess.run([sys.executable, str(path.relative_to(REPO_ROOT))], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        pytest.fail(f"{path.name} exited with {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
                    f"\n--- stderr\n{done.stderr[-6000:]}")
    return done


@pytest.fixture(scope="module")
def tiny_env(tmp_path_factory) -> dict:
    """Environment of a tiny, headless run, with the tiny model already trained by script 01."""
    root = tmp_path_factory.mktemp("experiments")
    env = dict(os.environ)
    env.update({
        "DRISE_TF_EXPERIMENT_PROFILE": "tiny",
        "DRISE_TF_DATA": str(synthetic_cifar(root / "tiny_cifar.npz")),
        "DRISE_TF_OUTPUT": str(root / "out"),
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    })
    env.pop("DISPLAY", None)
    run_script(_script(TRAINING_SCRIPT), env)
    return env


def _pngs(env: dict, name: str) -> list:
    folder = pathlib.Path(env["DRISE_TF_OUTPUT"]) / "figures" / "experiments" / pathlib.Path(name).stem
    return sorted(p for p in folder.glob("*.png") if p.stat().st_size > 0)


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_parses_and_has_cells(path):
    source = path.read_text(encoding="utf-8")
    ast.parse(source, filename=str(path))
    assert source.count("# %%") >= 3, f"{path.name}: expected Spyder cells (# %%)"
    assert "# %% Parameters" in source, f"{path.name}: expected one parameter cell"


def test_scripts_exist_in_reading_order():
    numbers = [int(p.name[:2]) for p in SCRIPTS]
    assert numbers[:5] == [1, 2, 3, 4, 5]
    assert numbers == sorted(set(numbers))


@pytest.mark.slow
def test_01_trains_the_tiny_run(tiny_env):
    run_dir = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "models" / "tiny"
    for name in ("standardizer.json", "history.json", "evaluation.json"):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("model.*")), "no model file"
    assert _pngs(tiny_env, TRAINING_SCRIPT), "no learning-rate figure"


@pytest.mark.slow
def test_02_evaluate(tiny_env):
    done = run_script(_script("02_evaluate.py"), tiny_env)
    assert "confusion matrix" in done.stdout.lower()
    names = [p.name for p in _pngs(tiny_env, "02_evaluate.py")]
    assert names == ["01_training_validation_loss.png", "02_training_validation_accuracy.png",
                     "03_confusion_matrix.png"]


@pytest.mark.slow
def test_03_thesis_drise_maps(tiny_env):
    done = run_script(_script("03_thesis_drise_maps.py"), tiny_env)
    names = [p.name for p in _pngs(tiny_env, "03_thesis_drise_maps.py")]
    # One tiny epoch (2 SGD steps) may take every bluish-or-reddish image for one class (it does on Keras 2), so a
    # group may be empty; every selected image must get its three figures and a printed entropy.
    selected = {}
    for group in ("cat_as_cat", "cat_as_dog"):
        line = next(line for line in done.stdout.splitlines() if line.startswith(f"{group}: test images"))
        selected[group] = ast.literal_eval(line.split("test images", 1)[1].strip())
        for rank in range(1, len(selected[group]) + 1):
            assert {f"04_{group}_{rank}_{kind}.png" for kind in ("surface", "overlay", "uncertainty")} <= set(names)
    assert sum(map(len, selected.values())) >= 1, done.stdout
    assert done.stdout.count("entropy") >= sum(map(len, selected.values()))
    assert done.stdout.count("two-seed Spearman") >= 2 * sum(map(len, selected.values()))  # fixed N and stopped
    assert "thesis_maps_stable.png" in names
    explained = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "figures" / "experiments" / "03_thesis_drise_maps" / \
        "image_files" / "explained"
    assert "[explain] " in done.stdout and f"{explained.parent / 'test_image.png'}: predicted " in done.stdout
    assert {"test_image_map.npy", "test_image_overlay.png", "test_image_uncertainty.png", "explanations.csv"} <= {
        path.name for path in explained.iterdir()}


@pytest.mark.slow
def test_04_similarity_comparison(tiny_env):
    done = run_script(_script("04_similarity_comparison.py"), tiny_env)
    assert "log_odds" in done.stdout  # the custom score took part
    folder = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "figures" / "experiments" / "04_similarity_comparison"
    csv_text = (folder / "similarity_auc.csv").read_text()
    assert "log_odds/none" in csv_text and "cosine/debiased" in csv_text
    assert "cosine/none,two_seed_spearman," in csv_text and "masks per image" in done.stdout
    assert (folder / "similarity_agreement_all.csv").read_text().startswith("cosine/none,")
    names = [p.name for p in _pngs(tiny_env, "04_similarity_comparison.py")]
    assert names == sorted(["similarity_grid.png", "similarity_agreement.png", "similarity_topk_overlap.png",
                            *(f"similarity_auc_{n}.png" for n in ("none", "np", "coverage", "debiased"))])


# The one-epoch tiny model has logits of order 1e4: Grad-CAM++ must stay finite there (see GradcamPlusPlusExplainer).
@pytest.mark.slow
def test_05_methods_comparison(tiny_env):
    done = run_script(_script("05_methods_comparison.py"), tiny_env)
    assert "Grad-CAM" in done.stdout
    assert len(_pngs(tiny_env, "05_methods_comparison.py")) == 4
    # RISE keeps its own 7x7 bilinear masks (its row would state another design); D-RISE takes the profile's 4x4 grid
    assert "[compare] RISE: done" in done.stdout and "[compare] D-RISE cosine (thesis) 4x4: done" in done.stdout
    folder = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "figures" / "experiments" / "05_methods_comparison"
    assert "\nRISE,deletion_auc," in (folder / "methods_auc.csv").read_text()


@pytest.mark.slow
def test_06_imagenet_resnet50_cifar(tiny_env):
    done = run_script(_script("06_imagenet_resnet50_cifar.py"), tiny_env)
    assert done.stdout.count("test #") == 5  # the five study samples, each with its ImageNet labels
    names = [p.name for p in _pngs(tiny_env, "06_imagenet_resnet50_cifar.py")]
    assert names == ["imagenet_cams.png", "imagenet_labels.png"]


@pytest.mark.slow
def test_07_stride_kernel_sweep(tiny_env):
    run_script(_script("07_stride_kernel_sweep.py"), tiny_env)
    folder = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "figures" / "experiments" / "07_stride_kernel_sweep"
    lines = (folder / "stride_kernel_sweep.csv").read_text().strip().splitlines()
    assert lines[0].startswith("strides,kernel_size") and len(lines) == 3  # header + strides (1, 3) x kernel 3
    assert len(_pngs(tiny_env, "07_stride_kernel_sweep.py")) == 2


@pytest.mark.slow
def test_08_misclassified_gradcam(tiny_env):
    done = run_script(_script("08_misclassified_gradcam.py"), tiny_env)
    assert "true cat" in done.stdout  # the synthetic cats that look like dogs
    assert [p.name for p in _pngs(tiny_env, "08_misclassified_gradcam.py")] == ["misclassified_gradcam.png"]


@pytest.mark.slow
def test_09_class_visualisation(tiny_env):
    run_script(_script("09_class_visualisation.py"), tiny_env)
    names = [p.name for p in _pngs(tiny_env, "09_class_visualisation.py")]
    assert names == ["class_visualisation.png", "saliency_guided_backprop.png"]


@pytest.mark.slow
def test_10_fgsm(tiny_env):
    done = run_script(_script("10_fgsm.py"), tiny_env)
    assert "eps 0: " in done.stdout
    assert [p.name for p in _pngs(tiny_env, "10_fgsm.py")] == ["fgsm_accuracy.png", "fgsm_examples.png"]


def test_11_evaluation(tiny_env):
    done = run_script(_script("11_evaluation.py"), tiny_env)
    assert "primary metric, declared before the run: road_gap" in done.stdout
    assert "Primary metric, declared before the run: road_gap" in done.stdout  # the report's first section
    folder = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "models" / "tiny" / "evaluation"
    assert (folder / "ranking_road_gap.csv").is_file() and (folder / "pairs_road_gap.csv").is_file()
    assert [p.name for p in _pngs(tiny_env, "11_evaluation.py")] == ["11_ranking_road_gap.png"]
    settings = json.loads((folder / "settings.json").read_text())
    assert "grid_size" not in settings["drise"] and settings["methods"]["RISE"] == ["rise", {}]  # RISE's own masks

    # the command the script prints is the same run: `evaluate-maps --resume` continues it (same settings, nothing
    # left to explain), and the stored settings and chunks stay as they were
    stored = {path.name: path.read_bytes() for path in [folder / "settings.json", *sorted(folder.glob("chunks/*"))]}
    line = next(line for line in done.stdout.splitlines() if line.startswith("the same run from a terminal"))
    command = shlex.split(line.split(": ", 1)[1]) + ["--resume"]
    resumed = subprocess.run(command, cwd=REPO_ROOT, env=tiny_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-6000:]
    assert "[evaluate-maps] report:" in resumed.stdout and "[evaluate] " not in resumed.stdout
    assert {path.name: path.read_bytes() for path in [folder / "settings.json", *sorted(folder.glob("chunks/*"))]} \
        == stored


@pytest.mark.slow
def test_12_mask_design_factorial(tiny_env):
    done = run_script(_script("12_mask_design_factorial.py"), tiny_env)
    assert "--designs factorial --similarities cosine probability" in done.stdout
    assert "## Main effects and interactions" in done.stdout and "grid x smoothing" in done.stdout
    folder = pathlib.Path(tiny_env["DRISE_TF_OUTPUT"]) / "models" / "tiny" / "evaluation-factorial"
    settings = json.loads((folder / "settings.json").read_text())
    assert set(settings["designs"]) == {"7x7 nearest", "7x7 bilinear", "16x16 nearest", "16x16 bilinear"}
    assert (folder / "lead_road_gap.csv").is_file() and (folder / "factorial_road_gap.md").is_file()
