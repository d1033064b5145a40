"""Tests of drise_tf.schedules and drise_tf.training: schedules vs closed forms, recipes, train/resume, runs."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import training
from drise_tf._compat import MODEL_SUFFIX, keras
from drise_tf.schedules import OneCycle, learning_rate_at, thesis_decay_steps, thesis_learning_rate


# ------------------------------------------------------------------------------------------------------ schedules
def _cosine(step: float, decay: int, initial: float = 0.1) -> float:
    return initial * 0.5 * (1 + math.cos(math.pi * min(step, decay) / decay))


def test_thesis_schedule_corrected_and_quirk_against_closed_form():
    corrected = thesis_learning_rate(625, 100)
    quirk = thesis_learning_rate(625, 100, lr_quirk=True)
    assert thesis_decay_steps(625, 100) == 62_500
    assert thesis_decay_steps(625, 100, lr_quirk=True) == 31_250
    for step in (0, 1, 10_000, 31_249, 31_250, 40_000, 62_499, 62_500):
        assert learning_rate_at(corrected, step) == pytest.approx(_cosine(step, 62_500), abs=1e-7)
        assert learning_rate_at(quirk, step) == pytest.approx(_cosine(step, 31_250), abs=1e-7)
    assert learning_rate_at(quirk, 0) == pytest.approx(0.1)
    assert learning_rate_at(quirk, 15_625) == pytest.approx(0.05, rel=1e-5)  # quarter of the run: half the rate
    assert learning_rate_at(quirk, 31_250) == 0.0 and learning_rate_at(quirk, 50_000) == 0.0  # 0 from epoch 50
    assert learning_rate_at(corrected, 31_250) == pytest.approx(0.05, rel=1e-5)  # corrected: halfway at epoch 50


def _onecycle_reference(step, max_lr, total, pct=0.3, div=25.0, final_div=1e4):
    """PyTorch OneCycleLR (cos, two phases) written out independently."""
    initial, low = max_lr / div, max_lr / div / final_div
    ends = [pct * total - 1, total - 1]
    step = min(step, total - 1)
    if step <= ends[0]:
        start, end, frac = initial, max_lr, step / ends[0]
    else:
        start, end, frac = max_lr, low, (step - ends[0]) / (ends[1] - ends[0])
    return end + (start - end) / 2 * (math.cos(math.pi * frac) + 1)


def test_onecycle_against_closed_form_and_landmarks():
    schedule = OneCycle(max_lr=0.1, total_steps=1000)
    for step in (0, 1, 150, 299, 300, 500, 998, 999, 5000):
        assert learning_rate_at(schedule, step) == pytest.approx(_onecycle_reference(step, 0.1, 1000), rel=1e-5, abs=1e-9)
    assert learning_rate_at(schedule, 0) == pytest.approx(0.1 / 25)
    assert learning_rate_at(schedule, 299) == pytest.approx(0.1)  # the peak
    assert learning_rate_at(schedule, 999) == pytest.approx(0.1 / 25 / 1e4, rel=1e-4)
    steps = np.arange(0, 1000)
    values = np.array([learning_rate_at(schedule, s) for s in steps[::37]])
    assert values.max() <= 0.1 + 1e-7


def test_onecycle_serialises():
    schedule = OneCycle(max_lr=0.05, total_steps=200, pct_start=0.25, div_factor=10.0, final_div_factor=100.0)
    clone = OneCycle.from_config(schedule.get_config())
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 30, 49, 120, 199):
        assert learning_rate_at(clone, step) == pytest.approx(learning_rate_at(schedule, step))
        assert learning_rate_at(restored, step) == pytest.approx(learning_rate_at(schedule, step))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: thesis_learning_rate(0, 10), "steps_per_epoch"),
        (lambda: thesis_learning_rate(10, 0), "epochs"),
        (lambda: thesis_learning_rate(10, 10, initial=-0.1), "initial"),
        (lambda: OneCycle(0.1, 100, pct_start=1.5), "pct_start"),
        (lambda: OneCycle(-1.0, 100), "max_lr"),
        (lambda: OneCycle(0.1, 0), "total_steps"),
        (lambda: OneCycle(0.1, 2), "too short"),
    ],
)
def test_schedule_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_recipes():
    assert set(training.RECIPES.available()) == {"thesis", "onecycle", "adam_cnn"}
    thesis = training.get_recipe("thesis")
    assert (thesis.epochs, thesis.batch_size, thesis.augmentation) == (100, 128, "thesis")
    optimizer = thesis.make_optimizer(thesis.make_schedule(625, 100, 40_000, 128, True))
    assert float(optimizer.momentum) == pytest.approx(0.9) and not optimizer.nesterov
    adam = training.get_recipe("adam_cnn")
    assert (adam.epochs, adam.validation_fraction, adam.best_metric) == (5, 0.2, "val_accuracy")
    assert isinstance(adam.make_optimizer(1e-3), keras.optimizers.Adam)
    assert isinstance(training.get_recipe("onecycle").make_schedule(10, 3, 1280, 128, False), OneCycle)
    with pytest.raises(ValueError, match="nope"):
        training.get_recipe("nope")


# ------------------------------------------------------------------------------------------------------- training
def _tiny_model(seed: int = 0) -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=init, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=init, name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 10, size=64)
    x += y[:, None, None, None].astype("float32") * 0.3  # learnable signal
    return (x[:32], y[:32]), (x[32:48], y[32:48]), (x[48:], y[48:])


KW = dict(recipe="thesis", batch_size=16, augmentation="random", verbose=0)


def _weights_equal(a, b, atol=1e-5):
    return all(np.allclose(u, v, atol=atol) for u, v in zip(a.get_weights(), b.get_weights()))


def test_train_history_files_and_checkpoints(toy, tmp_path):
    train_pair, val_pair, _ = toy
    model = _tiny_model()
    before = [w.copy() for w in model.get_weights()]
    history = training.train(model, train_pair, val_pair, out_dir=tmp_path, epochs=2, **KW)
    assert list(history) == list(training.HISTORY_KEYS)
    assert history["epoch"] == [0, 1, 2]
    steps = 2  # 32 images / batch 16
    schedule = thesis_learning_rate(steps, 2)
    assert history["lr"] == pytest.approx([learning_rate_at(schedule, s) for s in (0, 2, 4)])
    assert history["lr"][-1] == 0.0
    # epoch 0: evaluated before training, on the (unaugmented) training split and the validation split
    fresh = _tiny_model()
    fresh.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    from drise_tf.data import one_hot

    loss0, acc0 = fresh.evaluate(train_pair[0], one_hot(train_pair[1]), verbose=0)
    val_loss0, _ = fresh.evaluate(val_pair[0], one_hot(val_pair[1]), verbose=0)
    assert history["loss"][0] == pytest.approx(loss0, rel=1e-5)
    assert history["accuracy"][0] == pytest.approx(acc0)
    assert history["val_loss"][0] == pytest.approx(val_loss0, rel=1e-5)
    assert not all(np.allclose(a, b) for a, b in zip(before, model.get_weights()))  # the passed model was trained
    assert json.loads((tmp_path / "history.json").read_text()) == history
    with open(tmp_path / "history.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["val_accuracy"]) == pytest.approx(history["val_accuracy"][2])
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == [f"epoch_002{MODEL_SUFFIX}", "state.json"]  # older epochs replaced, no temp files left
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and state["history"] == history


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated interruption after epoch 1")


def test_interrupted_run_resumes_exactly(toy, tmp_path):
    train_pair, val_pair, _ = toy
    reference = _tiny_model()
    full = training.train(reference, train_pair, val_pair, out_dir=tmp_path / "full", epochs=3, **KW)

    interrupted = _tiny_model()
    with pytest.raises(KeyboardInterrupt):
        training.train(interrupted, train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3,
                       callbacks=[_Interrupt()], **KW)
    state = json.loads((tmp_path / "cut" / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and state["history"]["epoch"] == [0, 1]  # the finished epoch is kept

    resumed = _tiny_model(seed=99)  # different initial weights: they must come from the checkpoint
    history = training.train(resumed, train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3, resume=True, **KW)
    assert history["epoch"] == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(history[key], full[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert _weights_equal(resumed, reference)
    ckpt = keras.models.load_model(tmp_path / "cut" / "checkpoints" / f"epoch_003{MODEL_SUFFIX}")
    assert int(ckpt.optimizer.iterations.numpy()) == 3 * 2  # the schedule continued at the right step

    again = training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3, resume=True, **KW)
    assert again == history  # nothing left to do
    with pytest.raises(ValueError, match="settings differ"):
        training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path / "cut", epochs=4, resume=True, **KW)


def test_epoch0_on_test_set_like_the_thesis(toy, tmp_path):
    train_pair, val_pair, test_pair = toy
    default = training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path / "a", epochs=1, **KW)
    thesis = training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path / "b", epochs=1,
                            epoch0_val="test", test_data=test_pair, **KW)
    from drise_tf.evaluation import evaluate

    assert thesis["val_loss"][0] == pytest.approx(evaluate(_tiny_model(), *test_pair)["loss"], rel=1e-4)
    assert default["val_loss"][0] == pytest.approx(evaluate(_tiny_model(), *val_pair)["loss"], rel=1e-4)
    assert thesis["val_loss"][1] == pytest.approx(default["val_loss"][1], rel=1e-5)  # later epochs: validation
    no_epoch0 = training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path / "c", epochs=1, epoch0=False, **KW)
    assert no_epoch0["epoch"] == [1]


def test_adam_cnn_keeps_best_checkpoint_and_splits_20_percent(toy, tmp_path):
    train_pair, _, _ = toy
    model = _tiny_model()
    history = training.train(model, train_pair, None, recipe="adam_cnn", out_dir=tmp_path, epochs=3,
                             batch_size=8, verbose=0)
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    best_epoch = int(np.argmax(history["val_accuracy"][1:])) + 1
    assert state["best"]["epoch"] == best_epoch
    assert state["best"]["value"] == pytest.approx(max(history["val_accuracy"][1:]))
    best = keras.models.load_model(tmp_path / "checkpoints" / f"best{MODEL_SUFFIX}")
    assert _weights_equal(model, best, atol=0)
    assert history["lr"] == pytest.approx([1e-3] * 4)
    # 20% of 32 = 6 validation images: accuracies are multiples of 1/6
    assert all(abs(v * 6 - round(v * 6)) < 1e-5 for v in history["val_accuracy"])


@pytest.mark.distributed
def test_train_under_mirrored_strategy(toy, tmp_path):
    train_pair, val_pair, _ = toy
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model = _tiny_model()
    before = model.get_weights()
    history = training.train(model, train_pair, val_pair, out_dir=tmp_path, epochs=1, strategy=strategy, **KW)
    assert history["epoch"] == [0, 1] and np.isfinite(history["loss"]).all()
    assert not all(np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    resumed = training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path, epochs=1, resume=True,
                             strategy=strategy, **KW)
    assert resumed == history
    # 33 training / 17 validation images in batches of 16: last batches of 1 image join the batch before them
    (x, y), (xv, yv) = train_pair, val_pair
    odd = training.train(_tiny_model(), (np.concatenate([x, xv[:1]]), np.concatenate([y, yv[:1]])), (xv, yv),
                         out_dir=tmp_path / "odd", epochs=1, strategy=strategy, **KW)
    assert np.isfinite(odd["loss"]).all() and np.isfinite(odd["val_loss"]).all()
    single = training.train(_tiny_model(), train_pair, (xv, yv), out_dir=tmp_path / "one", epochs=1, epoch0=True, **KW)
    assert odd["val_loss"][0] == pytest.approx(single["val_loss"][0], rel=1e-5)  # same untrained model and data
    one_val = training.train(_tiny_model(), train_pair, (xv[:1], yv[:1]), out_dir=tmp_path / "v1", epochs=1,
                             strategy=strategy, **KW)
    assert np.isfinite(one_val["val_loss"]).all()
    with pytest.raises(ValueError, match="train_data has 1 images, fewer than the strategy's 2 replicas"):
        training.train(_tiny_model(), (x[:1], y[:1]), val_pair, out_dir=tmp_path / "bad", epochs=1,
                       strategy=strategy, **KW)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(epoch0_val="train"), "epoch0_val"),
        (dict(epoch0_val="test"), "test_data"),
        (dict(recipe="adam_cnn", lr_quirk=True), "lr_quirk"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(recipe="nope"), "nope"),
    ],
)
def test_train_bad_arguments(toy, tmp_path, kwargs, match):
    train_pair, val_pair, _ = toy
    args = {**KW, "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path, **args)


def test_train_bad_data(toy, tmp_path):
    (x, y), val_pair, _ = toy
    for train_pair, match in [((x[0], y), "train_data"), ((x, y[:5]), "train_data"),
                              ((x.astype("uint8"), y), "standardised"), (x, "tuple")]:
        with pytest.raises(ValueError, match=match):
            training.train(_tiny_model(), train_pair, val_pair, out_dir=tmp_path, epochs=1, **KW)
    with pytest.raises(ValueError, match="val_data"):
        training.train(_tiny_model(), (x, y), None, out_dir=tmp_path, epochs=1, **KW)


# ------------------------------------------------------------------------------------------------------ whole runs
@pytest.fixture(scope="module")
def npz_source(tmp_path_factory):
    rng = np.random.default_rng(1)
    y_train = np.arange(80) % 10
    y_test = np.arange(30) % 10
    x_train = rng.integers(0, 256, size=(80, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, x_train=x_train, y_train=y_train.astype(np.uint8), x_test=x_test, y_test=y_test.astype(np.uint8))
    return str(path)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_train_run_save_load_evaluate(npz_source, tmp_path, precision, capsys):
    policy = keras.mixed_precision.global_policy().name
    result = training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=npz_source,
                                n_val=20, n_train=40, n_test=25, epochs=1, batch_size=20, precision=precision,
                                verbose=1)
    assert keras.mixed_precision.global_policy().name == policy  # restored
    for key in ("model_path", "standardizer_path", "history_path", "evaluation_path"):
        assert (tmp_path / result[key].split("/")[-1]).is_file()
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["n"] == 25 and evaluation["train"]["n"] == 40
    assert np.asarray(evaluation["confusion_matrix"]).sum() == 25
    assert "confusion matrix" in capsys.readouterr().out
    model, standardizer = training.load_run(tmp_path)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(layer.compute_dtype == "float32" for layer in model.layers if hasattr(layer, "compute_dtype"))
    again = training.evaluate_run(tmp_path, data=npz_source, n_test=25, verbose=0)
    assert again["accuracy"] == pytest.approx(evaluation["accuracy"], abs=0.04 if precision != "float32" else 1e-9)
    assert again["train"] == evaluation["train"]


def test_train_run_bad_arguments_and_missing_files(npz_source, tmp_path):
    with pytest.raises(ValueError, match="precision"):
        training.train_run(tmp_path, data=npz_source, precision="float16")
    with pytest.raises(ValueError, match="n_train"):
        training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=npz_source, n_val=20,
                           n_train=1000)
    with pytest.raises(FileNotFoundError, match=f"model{MODEL_SUFFIX}"):
        training.load_run(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    _tiny_model().save(tmp_path / "half" / f"model{MODEL_SUFFIX}")
    with pytest.raises(FileNotFoundError, match="standardizer.json"):
        training.load_run(tmp_path / "half")


@pytest.mark.realdata
def test_simple_cnn_one_epoch_on_real_data(cifar_subset_file, tmp_path):
    result = training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=str(cifar_subset_file),
                                n_train=10_000, n_val=2000, n_test=2000, epochs=1, batch_size=32,
                                evaluate_train=False, verbose=0)
    assert result["evaluation"]["accuracy"] > 0.35
