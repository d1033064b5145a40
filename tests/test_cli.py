"""The command line and the one-command regeneration, end to end on a tiny profile (seconds, not minutes)."""
from __future__ import annotations

import hashlib
import os
import pathlib
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
    assert (args.command, args.recipe, args.out, args.epochs, args.lr_quirk) == (
        "train", "adam_cnn", "models/x", 3, True)
    assert parser.parse_args(["evaluate", "--run", "models/x"]).run == "models/x"
    assert parser.parse_args(["reproduce", "--profile", "thesis"]).profile == "thesis"
    assert parser.parse_args(["figures"]).profile == "quick"
    maps = parser.parse_args(["evaluate-maps", "--run", "models/x", "--images", "50", "--resume", "--sampling",
                              "sobol"])
    assert (maps.images, maps.resume, maps.sampling, maps.n_masks, maps.noise_images) == (50, True, "sobol", 2000, 100)
    with pytest.raises(SystemExit):
        parser.parse_args(["train"])  # --out is required


def test_output_is_quiet_by_default_and_verbose_on_request(tmp_path):
    """A fresh process as a user runs it: one line on the runtime, no TensorFlow C++ start-up lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DRISE_TF_VERBOSE")}
    command = [sys.executable, "-m", "drise_tf", "evaluate", "--run", str(tmp_path / "none")]
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2 and "argument --run" in quiet.stderr and "holds no trained run" in quiet.stderr
    assert quiet.stdout.startswith("[drise-tf] TensorFlow ") and " CPU threads of " in quiet.stdout
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
    with pytest.raises(SystemExit) as stop:
        cli.main(["figures", "--profile", "nope"])
    assert stop.value.code == 2
    assert "argument --profile: invalid choice: 'nope'" in capsys.readouterr().err


def test_the_parser_choices_are_the_library_registries():
    from drise_tf.evaluation.run import METRICS
    from drise_tf.explain.drise import PRECISIONS as DRISE_PRECISIONS
    from drise_tf.explain.masks import SAMPLINGS
    from drise_tf.reproduction.profiles import PROFILES
    from drise_tf.training import ARCHITECTURES, RECIPES
    from drise_tf.training.loop import PRECISIONS as TRAINING_PRECISIONS

    assert set(cli.PROFILE_CHOICES) == set(PROFILES)
    assert set(cli.RECIPE_CHOICES) == set(RECIPES.available())
    assert set(cli.ARCHITECTURE_CHOICES) <= set(ARCHITECTURES.available())
    assert cli.SAMPLING_CHOICES == SAMPLINGS
    assert set(cli.METRIC_CHOICES) == set(METRICS)
    assert cli.PRECISION_CHOICES == DRISE_PRECISIONS and set(cli.PRECISION_CHOICES) == set(TRAINING_PRECISIONS)
    import re

    from drise_tf.explain import similarity

    # the scores the library registers itself (other tests register more in this process)
    built_in = re.findall(r'^@register\("(\w+)"', pathlib.Path(similarity.__file__).read_text(), re.MULTILINE)
    assert set(cli.SIMILARITY_CHOICES) == set(built_in) and set(built_in) <= set(similarity.available())


def _fake_run(folder):
    from drise_tf.core.compat import MODEL_SUFFIX

    folder.mkdir(parents=True)
    (folder / f"model{MODEL_SUFFIX}").write_bytes(b"not used: the arguments are refused first")
    return folder


@pytest.mark.parametrize("arguments, argument, says", [
    (["--sampling", "bogus"], "--sampling", "invalid choice: 'bogus'"),
    (["--n-masks", "1001"], "--n-masks", "must be even"),
    (["--n-masks", "1001", "--sampling", "antithetic_sobol"], "--n-masks", "must be even"),
    (["--n-masks", "0"], "--n-masks", "must be an int >= 1"),
    (["--target-stability", "1.5"], "--target-stability", "must lie in (0, 1)"),
    (["--target-stability", "0"], "--target-stability", "must lie in (0, 1)"),
    (["--max-masks", "4000"], "--max-masks", "only means something with --target-stability"),
    (["--target-stability", "0.8", "--max-masks", "1000"], "--max-masks", "must be >= --n-masks (2000)"),
    (["--images", "10", "--noise-images", "20"], "--noise-images", "must be <= --images (10)"),
    (["--images", "10", "--all-images"], "--all-images", "not allowed with argument --images"),
    (["--noise-images", "-1"], "--noise-images", "must be an int >= 0"),
    (["--similarities", "nope"], "--similarities", "invalid choice: 'nope'"),
    (["--designs", "factorial", "--similarities", "cosine"], "--similarities", "needs cosine and probability"),
])
def test_evaluate_maps_refuses_bad_arguments_before_any_work(tmp_path, capsys, monkeypatch, arguments, argument,
                                                            says):
    import drise_tf.evaluation

    monkeypatch.setattr(drise_tf.evaluation, "evaluate_run_maps", lambda *a, **k: pytest.fail("work was started"))
    run = _fake_run(tmp_path / "run")
    with pytest.raises(SystemExit) as stop:
        cli.main(["evaluate-maps", "--run", str(run), *arguments])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {argument}" in err and says in err, err
    assert "usage: drise-tf evaluate-maps" in err


def test_evaluate_maps_accepts_good_arguments_and_protects_an_existing_evaluation(tmp_path, capsys, monkeypatch):
    import drise_tf.evaluation

    calls = []
    monkeypatch.setattr(drise_tf.evaluation, "evaluate_run_maps", lambda *a, **k: calls.append(k) or {})
    run = _fake_run(tmp_path / "run")
    assert cli.main(["evaluate-maps", "--run", str(run), "--images", "4", "--noise-images", "2", "--mprt-images",
                     "0", "--chunk-size", "2", "--n-masks", "8", "--sampling", "antithetic_sobol",
                     "--target-stability", "0.8", "--max-masks", "16", "--precision", "bfloat16"]) == 0
    assert calls[0]["drise_options"] == {"n_masks": 8, "sampling": "antithetic_sobol", "precision": "bfloat16",
                                         "target_stability": 0.8, "max_masks": 16}
    (run / "evaluation").mkdir()
    (run / "evaluation" / "settings.json").write_text("{}")
    with pytest.raises(SystemExit):
        cli.main(["evaluate-maps", "--run", str(run)])
    assert "already holds an evaluation; pass --resume" in capsys.readouterr().err
    assert cli.main(["evaluate-maps", "--run", str(run), "--resume"]) == 0
    with pytest.raises(SystemExit):
        cli.main(["evaluate-maps", "--run", str(tmp_path / "none")])
    assert "argument --run" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, argument, says", [
    (["--recipe", "nope"], "--recipe", "invalid choice: 'nope'"),
    (["--architecture", "vgg"], "--architecture", "invalid choice: 'vgg'"),
    (["--width", "0"], "--width", "must be an int >= 1"),
    (["--epochs", "-2"], "--epochs", "must be an int >= 1"),
    (["--architecture", "simple_cnn", "--width", "8"], "--width", "only resnet18 has a width"),
    (["--recipe", "onecycle", "--lr-quirk"], "--lr-quirk", "only the thesis recipe"),
    (["--resume"], "--resume", "has no checkpoints/state.json"),
    (["--resume", "--overwrite"], "--overwrite", "not allowed with argument --resume"),
])
def test_train_refuses_bad_arguments(tmp_path, capsys, monkeypatch, arguments, argument, says):
    import drise_tf.training

    monkeypatch.setattr(drise_tf.training, "train_run", lambda *a, **k: pytest.fail("training was started"))
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "--out", str(tmp_path / "new"), *arguments])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {argument}" in err and says in err, err


def test_train_never_overwrites_a_run_silently(tmp_path, capsys, monkeypatch):
    import drise_tf.training

    calls = []
    monkeypatch.setattr(drise_tf.training, "train_run", lambda *a, **k: calls.append(k))
    run = _fake_run(tmp_path / "run")
    with pytest.raises(SystemExit):
        cli.main(["train", "--out", str(run)])
    assert "already holds a trained run; pass --resume to continue it or --overwrite" in capsys.readouterr().err
    assert calls == []
    assert cli.main(["train", "--out", str(run), "--overwrite"]) == 0 and calls[-1]["resume"] is False
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "state.json").write_text("{}")
    assert cli.main(["train", "--out", str(run), "--resume"]) == 0 and calls[-1]["resume"] is True


def test_a_file_that_is_not_a_model_is_one_clear_line(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    (run / "standardizer.json").write_text('{"mean": [0, 0, 0], "std": [1, 1, 1]}')
    assert cli.main(["evaluate", "--run", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "could not be loaded as a Keras model" in err and "model." in err, err


def test_tensorflow_failures_are_one_line(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    import drise_tf.training

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor of shape [100000]\nmore")

    monkeypatch.setattr(drise_tf.training, "train_run", exhausted)
    assert cli.main(["train", "--out", str(tmp_path / "new")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out of memory" in err and "OOM when allocating" in err, err


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
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare-evaluations", str(tmp_path / "fixed_n"), str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument second:" in err and "nowhere is not an evaluation results folder" in err
