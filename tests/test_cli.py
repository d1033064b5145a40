"""The command line and the one-command regeneration, end to end on a tiny profile (seconds, not minutes)."""
from __future__ import annotations

import hashlib

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
    with pytest.raises(SystemExit):
        parser.parse_args(["train"])  # --out is required


def test_unknown_profile_is_a_clear_error(capsys):
    assert cli.main(["figures", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


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
