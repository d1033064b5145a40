"""The command line and the one-command regeneration, end to end on a tiny profile (seconds, not minutes)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from drise_tf import cli
from drise_tf.reproduction.run import reproduce


def _tiny_npz(path, n_train=400, n_test=256, seed=0):
    rng = np.random.default_rng(seed)
    labels_train = np.arange(n_train) % 10
    labels_test = np.arange(n_test) % 10
    # Images whose mean colour depends on the class, so a model can learn something in one epoch.
    def images(labels):
        base = rng.integers(0, 120, size=(len(labels), 32, 32, 3))
        return np.clip(base + labels[:, None, None, None] * 13, 0, 255).astype(np.uint8)

    np.savez(path, x_train=images(labels_train), y_train=labels_train.astype(np.uint8),
             x_test=images(labels_test), y_test=labels_test.astype(np.uint8))
    return path


def test_parser_knows_every_command():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--recipe", "adam_cnn", "--out", "models/x", "--epochs", "3", "--lr-quirk"])
    assert (args.command, args.recipe, args.out, args.epochs, args.lr_quirk) == ("train", "adam_cnn", "models/x", 3, True)
    assert parser.parse_args(["evaluate", "--run", "models/x"]).run == "models/x"
    assert parser.parse_args(["reproduce", "--profile", "thesis"]).profile == "thesis"
    assert parser.parse_args(["figures"]).profile == "quick"
    maps = parser.parse_args(["evaluate-maps", "--run", "models/x", "--images", "50", "--resume", "--sampling", "sobol"])
    assert (maps.images, maps.resume, maps.sampling, maps.n_masks, maps.noise_images) == (50, True, "sobol", 2000, 100)
    with pytest.raises(SystemExit):
        parser.parse_args(["train"])  # --out is required


def test_output_is_quiet_by_default_and_verbose_on_request(tmp_path):
    """A fresh process as a user runs it: one line on the runtime, no TensorFlow C++ start-up lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DRISE_TF_VERBOSE")}
    command = [sys.executable, "-m", "drise_tf", "evaluate", "--run", str(tmp_path / "none")]
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2 and "has no model" in quiet.stderr
    assert quiet.stdout.startswith("[drise-tf] TensorFlow ") and " CPU threads, " in quiet.stdout
    assert "I0000" not in quiet.stderr and "E0000" not in quiet.stderr and "cuda" not in quiet.stderr.lower()
    loud = subprocess.run(command[:3] + ["--verbose"] + command[3:], env=env, capture_output=True, text=True,
                          timeout=300)
    assert loud.returncode == 2 and loud.stdout == quiet.stdout
    # what quiet means inside the library, and that DRISE_TF_VERBOSE (what --verbose sets) turns it off
    probe = ("import os, warnings, drise_tf; drise_tf.DRise; print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), "
             "any(f[1] is not None and 'structure of `inputs`' in f[1].pattern for f in warnings.filters))")
    for verbose, expected in (("", "2 True"), ("1", "None False")):
        done = subprocess.run([sys.executable, "-c", probe], env={**env, "DRISE_TF_VERBOSE": verbose},
                              capture_output=True, text=True, timeout=300)
        assert done.stdout.split("\n")[-2] == expected, done.stdout + done.stderr


def test_unknown_profile_is_a_clear_error(capsys):
    assert cli.main(["figures", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_evaluate_maps_errors_name_the_argument(tmp_path, capsys):
    assert cli.main(["evaluate-maps", "--run", str(tmp_path / "none")]) == 2
    assert "has no model" in capsys.readouterr().err


def test_figures_without_a_run_says_how_to_make_one(tmp_path, capsys):
    code = cli.main(["figures", "--profile", "tiny", "--models-dir", str(tmp_path / "models"),
                     "--figures-dir", str(tmp_path / "figures"), "--data", str(tmp_path / "none.npz")])
    assert code == 2
    assert "reproduce --profile tiny" in capsys.readouterr().err


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


@pytest.mark.slow
def test_reproduce_then_figures_end_to_end(tmp_path):
    data = _tiny_npz(tmp_path / "tiny.npz")
    models, figures = tmp_path / "models", tmp_path / "figures"
    result = reproduce("tiny", data=str(data), models_dir=models, figures_dir=figures)
    assert (models / "tiny" / "standardizer.json").is_file()
    names = {p.name for p in result["figures"]}
    assert {"01_training_validation_loss.png", "02_training_validation_accuracy.png", "03_confusion_matrix.png",
            "05_similarity_auc_none.png", "05_similarity_auc.csv", "06_methods_grid.png", "06_methods_auc.csv",
            "07_sanity_randomization.png", "09_fgsm_accuracy.png", "10_class_visualisation.png"} <= names
    for path in result["figures"]:
        assert path.stat().st_size > (1000 if path.suffix == ".png" else 50)
    index = (figures / "index.md").read_text()
    assert all(name in index for name in names)
    first = _digests(figures)

    # `figures` reuses the trained run (no training) and, with the same seed, redraws the same figures.
    assert cli.main(["figures", "--profile", "tiny", "--data", str(data), "--models-dir", str(models),
                     "--figures-dir", str(tmp_path / "again")]) == 0
    assert _digests(tmp_path / "again") == first


def test_compare_evaluations_writes_the_paired_table_and_names_a_missing_folder(tmp_path, capsys):
    from drise_tf.evaluation.store import ResultStore

    for name, shift in (("fixed_n", 0.0), ("fixed_stability", 0.25)):
        records = [{"id": image, "position": image, "label": 0, "seed": 0, "variant": variant,
                    "road_gap": float(base + image / 10 + shift * (variant == "D-RISE")), "mu_fidelity": 0.0}
                   for variant, base in (("D-RISE", 0.5), ("Grad-CAM", 0.2)) for image in range(12)]
        ResultStore(tmp_path / name, {"seed": 0}).write(0, records)
    code = cli.main(["compare-evaluations", str(tmp_path / "fixed_n"), str(tmp_path / "fixed_stability"),
                     "--out", str(tmp_path / "compared")])
    printed = capsys.readouterr().out
    assert code == 0 and "Kendall's tau between the two orders: 1.000" in printed
    table = (tmp_path / "compared" / "compare_road_gap.csv").read_text().splitlines()
    assert table[0].startswith("variant,n,first,second,difference") and table[1].startswith("D-RISE,12,")
    assert abs(float(table[1].split(",")[4]) - 0.25) < 1e-9
    assert (tmp_path / "compared" / "compare_road_gap.md").is_file()
    assert cli.main(["compare-evaluations", str(tmp_path / "fixed_n"), str(tmp_path / "nowhere")]) == 2
    assert "nowhere is not an evaluation results folder" in capsys.readouterr().err
