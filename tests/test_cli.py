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
    explain = parser.parse_args(["explain", "--run", "models/x", "a.png", "photos", "--out", "explained", "--class",
                                 "cat"])
    assert (explain.images, explain.out, explain.target, explain.method, explain.seed) == (
        ["a.png", "photos"], "explained", "cat", "drise", 0)
    assert (explain.similarity, explain.target_stability, explain.max_masks) == (None, None, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["train"])  # --out is required


def test_output_is_quiet_by_default_and_verbose_on_request(tmp_path):
    """A fresh process as a user runs it: one line on the runtime, no TensorFlow C++ start-up lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DRISE_TF_VERBOSE")}
    run = _fake_run(tmp_path / "run")  # passes the argument checks, so TensorFlow starts; then fails to load
    command = [sys.executable, "-m", "drise_tf", "evaluate", "--run", str(run)]
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2 and "could not be loaded as a Keras model" in quiet.stderr, quiet.stderr
    assert quiet.stdout.startswith("[drise-tf] TensorFlow ") and " CPU threads of " in quiet.stdout
    assert "I0000" not in quiet.stderr and "E0000" not in quiet.stderr and "cuda" not in quiet.stderr.lower()
    loud = subprocess.run(command[:3] + ["--verbose"] + command[3:], env=env, capture_output=True, text=True,
                          timeout=300)
    assert loud.returncode == 1 and "Traceback" in loud.stderr and loud.stdout == quiet.stdout  # --verbose raises
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
    from drise_tf.evaluation.design_sweep import STAGES

    assert cli.SWEEP_STAGE_CHOICES == tuple(STAGES)
    assert cli.SWEEP_SCREENING_NETWORKS == tuple(STAGES["screening"].networks)
    assert cli.SWEEP_NETWORK_CHOICES == tuple(STAGES["confirmation"].networks)
    assert cli.PRECISION_CHOICES == DRISE_PRECISIONS and set(cli.PRECISION_CHOICES) == set(TRAINING_PRECISIONS)
    from drise_tf.core.compat import MODEL_SUFFIX
    from drise_tf.evaluation.comparisons import MASKING_PRESETS
    from drise_tf.explain import available_explainers

    assert set(cli.METHOD_CHOICES) == set(available_explainers())
    assert set(cli.MONTE_CARLO_METHODS) == set(MASKING_PRESETS)
    assert f"model{MODEL_SUFFIX}" in cli.MODEL_FILES
    import re

    from drise_tf.explain import similarity

    # the scores the library registers itself (other tests register more in this process)
    built_in = re.findall(r'^@register\("(\w+)"', pathlib.Path(similarity.__file__).read_text(), re.MULTILINE)
    assert set(cli.SIMILARITY_CHOICES) == set(built_in) and set(built_in) <= set(similarity.available())


def _fake_run(folder):
    """A run folder whose model file is no model: it passes the argument checks and fails to load."""
    from drise_tf.core.compat import MODEL_SUFFIX

    folder.mkdir(parents=True)
    (folder / f"model{MODEL_SUFFIX}").write_bytes(b"not a model")
    (folder / "standardizer.json").write_text('{"mean": [0, 0, 0], "std": [1, 1, 1]}')
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
    arguments = ["figures", "--profile", "tiny", "--models-dir", str(tmp_path / "models"), "--figures-dir",
                 str(tmp_path / "figures"), "--data", str(_tiny_npz(tmp_path / "tiny.npz", n_train=10, n_test=10))]
    with pytest.raises(SystemExit) as stop:  # no models folder: refused with the arguments
        cli.main(arguments)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --models-dir" in err and "reproduce --profile tiny" in err, err
    (tmp_path / "models").mkdir()  # a models folder without the profile's run: the library says the same
    assert cli.main(arguments) == 2
    err = capsys.readouterr().err
    assert "no trained model in" in err and "reproduce --profile tiny" in err, err


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


def test_compare_networks_reads_the_claims_on_every_metric_with_metrics_all(tmp_path, capsys):
    from drise_tf.evaluation.run import FAITHFULNESS_METRICS
    from drise_tf.evaluation.store import ResultStore

    records = [{"id": image, "position": image, "label": 0, "seed": 0, "variant": variant,
                **{metric: float(base + image / 10) for metric in FAITHFULNESS_METRICS}}
               for variant, base in (("RISE", 0.5), ("Grad-CAM", 0.2)) for image in range(12)]
    ResultStore(tmp_path / "run", {"seed": 0}).write(0, records)
    arguments = ["compare-networks", f"a={tmp_path / 'run'}", "--out", str(tmp_path / "out")]
    assert cli.main(arguments + ["--metrics", "all"]) == 0
    assert "[compare-networks] wrote" in capsys.readouterr().out
    rows = (tmp_path / "out" / "claims_by_metric.csv").read_text().splitlines()
    assert {row.split(",")[1] for row in rows[1:]} == set(FAITHFULNESS_METRICS)
    assert cli.main(arguments + ["--metrics", "emprt"]) == 2
    assert "metric must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(arguments + ["--metric", "mu_fidelity", "--metrics", "all"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def _image_files(folder: pathlib.Path) -> dict:
    """A red-heavy PNG and a folder with a JPEG (the ramp model reads the red channel), and files that are no image."""
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(21, 27, 3)).astype(np.uint8)
    pixels[..., 0] = 240
    (folder / "photos").mkdir(parents=True)
    (folder / "empty").mkdir()
    Image.fromarray(pixels).save(folder / "red.png")
    Image.fromarray(pixels).save(folder / "photos" / "red_photo.jpg")
    (folder / "notes.txt").write_text("not an image")
    (folder / "cut.png").write_bytes((folder / "red.png").read_bytes()[:100])
    return {"png": folder / "red.png", "folder": folder / "photos", "text": folder / "notes.txt",
            "truncated": folder / "cut.png", "empty": folder / "empty", "missing": folder / "none.png"}


@pytest.mark.parametrize("arguments, argument, says", [
    (["{missing}"], "IMAGE", "{missing} does not exist"),
    (["{text}"], "IMAGE", "{text}: not a readable PNG or JPEG image"),
    (["{truncated}"], "IMAGE", "{truncated}: not a readable PNG or JPEG image"),
    (["{empty}"], "IMAGE", "{empty}: the folder holds no PNG or JPEG file"),
    (["{png}", "--class", "zebra"], "--class", "'zebra' is neither a class name"),
    (["{png}", "--method", "saliency", "--similarity", "cosine"], "--similarity", "only drise has a similarity"),
    (["{png}", "--method", "gradcam", "--target-stability", "0.8"], "--target-stability", "only the Monte Carlo"),
    (["{png}", "--method", "scorecam", "--max-masks", "100"], "--max-masks", "only the Monte Carlo methods"),
    (["{png}", "--target-stability", "1"], "--target-stability", "must lie in (0, 1)"),
    (["{png}", "--method", "lime"], "--method", "invalid choice: 'lime'"),
])
def test_explain_refuses_bad_arguments_before_any_work(tmp_path, capsys, monkeypatch, arguments, argument, says):
    import drise_tf.evaluation

    monkeypatch.setattr(drise_tf.evaluation, "explain_image_files", lambda *a, **k: pytest.fail("work was started"))
    files = {name: str(path) for name, path in _image_files(tmp_path).items()}
    run = _fake_run(tmp_path / "run")
    with pytest.raises(SystemExit) as stop:
        cli.main(["explain", "--run", str(run), "--out", str(tmp_path / "out"),
                  *(value.format(**files) for value in arguments)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {argument}" in err and says.format(**files) in err, err


def test_explain_end_to_end_with_the_library_defaults(tmp_path, capsys):

    from toy_models import ramp_model, write_run

    from drise_tf.explain.drise import RECOMMENDED_ROUND

    files = _image_files(tmp_path)
    run = write_run(tmp_path / "run", ramp_model())
    one_round = RECOMMENDED_ROUND  # D-RISE's own design, one round of masks
    arguments = ["explain", "--run", str(run), str(files["png"]), str(files["folder"]), "--max-masks", str(one_round),
                 "--target-stability", "0.99"]
    assert cli.main([*arguments, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    for name, path in (("red", files["png"]), ("red_photo", files["folder"] / "red_photo.jpg")):
        line = next(line for line in printed.splitlines() if line.startswith(f"[explain] {path}: predicted cat ("))
        assert f"explained cat, {one_round} masks, stability " in line, line
        assert line.endswith(f"(hit the cap of {one_round} masks before 0.99)"), line
        assert np.load(tmp_path / "out" / f"{name}_map.npy").shape == (32, 32)
        assert (tmp_path / "out" / f"{name}_overlay.png").is_file()
        assert (tmp_path / "out" / f"{name}_uncertainty.png").is_file()
    assert (tmp_path / "out" / "explanations.csv").read_text().count("\n") == 3
    assert cli.main([*arguments, "--out", str(tmp_path / "again")]) == 0  # the default seed: the same maps
    for name in ("red", "red_photo"):
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"{name}_map.npy"),
                                      np.load(tmp_path / "again" / f"{name}_map.npy"))


#: Runs each command line in one fresh process and reports, per command, its exit code, whether its error names the
#: argument, and whether TensorFlow was imported by then.
_PROBE = """
import contextlib, io, json, sys
from drise_tf import cli
results = []
for argv, argument in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code
    results.append([code, "argument " + argument in err.getvalue(), "tensorflow" in sys.modules, err.getvalue()])
print(json.dumps(results))
"""


def test_wrong_paths_are_refused_before_tensorflow_is_imported(tmp_path):
    import json

    files = _image_files(tmp_path)
    run = _fake_run(tmp_path / "run")
    a_file = files["text"]
    stored = tmp_path / "stored" / "screening" / "keras_cnn" / "evaluation"
    stored.mkdir(parents=True)
    (stored / "settings.json").write_text("{}")
    cases = [
        (["design-sweep", "screening", "keras_cnn", "--out", str(tmp_path / "stored")], "network"),
        (["evaluate", "--run", str(tmp_path / "nonexistent")], "--run"),
        (["evaluate", "--run", str(run), "--data", str(tmp_path / "none.npz")], "--data"),
        (["evaluate-maps", "--run", str(tmp_path / "nonexistent")], "--run"),
        (["explain", "--run", str(tmp_path / "nonexistent"), str(files["png"]), "--out", "x"], "--run"),
        (["explain", "--run", str(run), str(files["truncated"]), "--out", str(tmp_path / "out")], "IMAGE"),
        (["explain", "--run", str(run), str(files["png"]), "--out", str(a_file)], "--out"),
        (["train", "--out", str(tmp_path / "new"), "--data", str(tmp_path / "none.npz")], "--data"),
        (["train", "--out", str(a_file)], "--out"),
        (["train", "--out", str(tmp_path / "new"), "--resume"], "--resume"),
        (["compare-evaluations", str(tmp_path), str(tmp_path)], "first"),
        (["compare-networks", f"a={tmp_path}"], "NAME=RESULTS"),
        (["figures", "--models-dir", str(tmp_path / "nonexistent")], "--models-dir"),
        (["reproduce", "--models-dir", str(a_file)], "--models-dir"),
        (["reproduce", "--data", str(tmp_path / "none.npz")], "--data"),
        (["design-sweep", "screening", "strong", "--out", str(tmp_path / "sweep")], "network"),
        (["design-sweep", "confirmation", "strong", "--out", str(tmp_path / "sweep")], "stage"),
        (["design-sweep", "screening", "quick", "--out", str(tmp_path / "sweep"), "--data", str(a_file) + "x"],
         "--data"),
        (["design-sweep-report", "screening", "--out", str(tmp_path / "sweep")], "stage"),
    ]
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(cases)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    for (argv, argument), (code, named, tensorflow, err) in zip(cases, results):
        assert (code, named, tensorflow) == (2, True, False), (argv, err)
    # the probe sees TensorFlow when it is imported: arguments that pass do import it
    good = [(["evaluate", "--run", str(run)], "--run")]
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(good)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert json.loads(done.stdout.splitlines()[-1])[0][:3] == [2, False, True], done.stdout + done.stderr
