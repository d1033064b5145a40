"""Tests of drise_tf.training.loop: train, resume, epoch-0 points, best checkpoint, training under a strategy."""
from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from toy_models import tiny_bn_classifier

from drise_tf.core.compat import MODEL_SUFFIX, keras
from drise_tf.training import loop
from drise_tf.training.schedules import learning_rate_at, thesis_learning_rate

# ------------------------------------------------------------------------------------------------------ schedules

# ------------------------------------------------------------------------------------------------------- training
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
    model = tiny_bn_classifier()
    before = [w.copy() for w in model.get_weights()]
    history = loop.train(model, train_pair, val_pair, out_dir=tmp_path, epochs=2, **KW)
    assert list(history) == list(loop.HISTORY_KEYS)
    assert history["epoch"] == [0, 1, 2]
    steps = 2  # 32 images / batch 16
    schedule = thesis_learning_rate(steps, 2)
    assert history["lr"] == pytest.approx([learning_rate_at(schedule, s) for s in (0, 2, 4)])
    assert history["lr"][-1] == 0.0
    # epoch 0: evaluated before training, on the (unaugmented) training split and the validation split
    fresh = tiny_bn_classifier()
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
    reference = tiny_bn_classifier()
    full = loop.train(reference, train_pair, val_pair, out_dir=tmp_path / "full", epochs=3, **KW)

    interrupted = tiny_bn_classifier()
    with pytest.raises(KeyboardInterrupt):
        loop.train(interrupted, train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3,
                       callbacks=[_Interrupt()], **KW)
    state = json.loads((tmp_path / "cut" / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and state["history"]["epoch"] == [0, 1]  # the finished epoch is kept

    resumed = tiny_bn_classifier(seed=99)  # different initial weights: they must come from the checkpoint
    history = loop.train(resumed, train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3, resume=True, **KW)
    assert history["epoch"] == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(history[key], full[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert _weights_equal(resumed, reference)
    ckpt = keras.models.load_model(tmp_path / "cut" / "checkpoints" / f"epoch_003{MODEL_SUFFIX}")
    assert int(ckpt.optimizer.iterations.numpy()) == 3 * 2  # the schedule continued at the right step

    again = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "cut", epochs=3, resume=True,
                       **KW)
    assert again == history  # nothing left to do
    with pytest.raises(ValueError, match="settings differ"):
        loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "cut", epochs=4, resume=True, **KW)


def test_epoch0_on_test_set_like_the_thesis(toy, tmp_path):
    train_pair, val_pair, test_pair = toy
    default = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "a", epochs=1, **KW)
    thesis = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "b", epochs=1,
                            epoch0_val="test", test_data=test_pair, **KW)
    from drise_tf.training.evaluation import evaluate

    assert thesis["val_loss"][0] == pytest.approx(evaluate(tiny_bn_classifier(), *test_pair)["loss"], rel=1e-4)
    assert default["val_loss"][0] == pytest.approx(evaluate(tiny_bn_classifier(), *val_pair)["loss"], rel=1e-4)
    assert thesis["val_loss"][1] == pytest.approx(default["val_loss"][1], rel=1e-5)  # later epochs: validation
    no_epoch0 = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "c", epochs=1,
                           epoch0=False, **KW)
    assert no_epoch0["epoch"] == [1]


def test_epoch0_training_point_on_the_training_stream_like_the_thesis(toy, tmp_path):
    train_pair, val_pair, _ = toy
    from drise_tf.data import make_eval_dataset, make_train_dataset
    from drise_tf.training.evaluation import evaluate, evaluate_stream

    model = tiny_bn_classifier()
    # the stream of "none" augmentation holds the same images as the originals, shuffled: the same point
    none = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "n", epochs=1,
                      epoch0_train="stream", **{**KW, "augmentation": "none"})
    assert none["loss"][0] == pytest.approx(evaluate(model, *train_pair)["loss"], rel=1e-5)
    # the thesis's stream: originals + an augmented copy (2N samples), here the first epoch's own stream
    kw = {**KW, "augmentation": "thesis"}
    stream = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "s", epochs=1,
                        epoch0_train="stream", **kw)
    batches = make_train_dataset(*train_pair, batch_size=16, augmentation="thesis", seed=loop._epoch_seed(0, 0))
    assert stream["loss"][0] == pytest.approx(evaluate_stream(model, batches)[0], rel=1e-5)
    originals = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "o", epochs=1, **kw)
    assert stream["loss"][0] != pytest.approx(originals["loss"][0], rel=1e-6)
    assert stream["loss"][1:] == pytest.approx(originals["loss"][1:], rel=1e-6)  # training itself is the same
    # evaluate_stream against evaluate on the same images
    loss, accuracy = evaluate_stream(model, make_eval_dataset(*train_pair, batch_size=5))
    reference = evaluate(model, *train_pair)
    assert (loss, accuracy) == pytest.approx((reference["loss"], reference["accuracy"]), rel=1e-5)
    with pytest.raises(ValueError, match="epoch0_train must be one of"):
        loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path / "x", epochs=1, epoch0_train="all",
                   **KW)


def test_adam_cnn_keeps_best_checkpoint_and_splits_20_percent(toy, tmp_path):
    train_pair, _, _ = toy
    model = tiny_bn_classifier()
    history = loop.train(model, train_pair, None, recipe="adam_cnn", out_dir=tmp_path, epochs=3,
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
    model = tiny_bn_classifier()
    before = model.get_weights()
    history = loop.train(model, train_pair, val_pair, out_dir=tmp_path, epochs=1, strategy=strategy, **KW)
    assert history["epoch"] == [0, 1] and np.isfinite(history["loss"]).all()
    assert not all(np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    resumed = loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path, epochs=1, resume=True,
                             strategy=strategy, **KW)
    assert resumed == history
    # 33 training / 17 validation images in batches of 16: last batches of 1 image join the batch before them
    (x, y), (xv, yv) = train_pair, val_pair
    odd = loop.train(tiny_bn_classifier(), (np.concatenate([x, xv[:1]]), np.concatenate([y, yv[:1]])), (xv, yv),
                         out_dir=tmp_path / "odd", epochs=1, strategy=strategy, **KW)
    assert np.isfinite(odd["loss"]).all() and np.isfinite(odd["val_loss"]).all()
    single = loop.train(tiny_bn_classifier(), train_pair, (xv, yv), out_dir=tmp_path / "one", epochs=1,
                        epoch0=True, **KW)
    assert odd["val_loss"][0] == pytest.approx(single["val_loss"][0], rel=1e-5)  # same untrained model and data
    one_val = loop.train(tiny_bn_classifier(), train_pair, (xv[:1], yv[:1]), out_dir=tmp_path / "v1", epochs=1,
                             strategy=strategy, **KW)
    assert np.isfinite(one_val["val_loss"]).all()
    with pytest.raises(ValueError, match="train_data has 1 images, fewer than the strategy's 2 replicas"):
        loop.train(tiny_bn_classifier(), (x[:1], y[:1]), val_pair, out_dir=tmp_path / "bad", epochs=1,
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
        loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path, **args)


def test_train_bad_data(toy, tmp_path):
    (x, y), val_pair, _ = toy
    for train_pair, match in [((x[0], y), "train_data"), ((x, y[:5]), "train_data"),
                              ((x.astype("uint8"), y), "standardised"), (x, "tuple")]:
        with pytest.raises(ValueError, match=match):
            loop.train(tiny_bn_classifier(), train_pair, val_pair, out_dir=tmp_path, epochs=1, **KW)
    with pytest.raises(ValueError, match="val_data"):
        loop.train(tiny_bn_classifier(), (x, y), None, out_dir=tmp_path, epochs=1, **KW)


def test_kept_epochs_stay_and_label_smoothing_reaches_the_loss(toy, tmp_path, capsys):
    from drise_tf.training.recipes import get_recipe

    train_pair, val_pair, _ = toy
    smoothed = dataclasses.replace(get_recipe("thesis"), label_smoothing=0.3)
    model = tiny_bn_classifier()
    loop.train(model, train_pair, val_pair, out_dir=tmp_path, epochs=3, keep_epochs=(1,),
               **{**KW, "recipe": smoothed, "verbose": 2})
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == [f"epoch_001{MODEL_SUFFIX}", f"epoch_003{MODEL_SUFFIX}", "state.json"]
    printed = capsys.readouterr().out
    assert "[train] epoch 3/3:" in printed and "min left" in printed
    loss = keras.models.load_model(tmp_path / "checkpoints" / f"epoch_003{MODEL_SUFFIX}").loss
    assert loss.get_config()["label_smoothing"] == pytest.approx(0.3)
    # the smoothed loss by hand: cross-entropy against (1 - 0.3) * one-hot + 0.3 / 10
    probs = np.full((1, 10), 0.05, "float32")
    probs[0, 2] = 0.55
    target = np.full(10, 0.03)
    target[2] += 0.7
    assert float(loss(np.eye(10, dtype="float32")[[2]], probs)) == pytest.approx(-(target * np.log(probs[0])).sum(),
                                                                                 rel=1e-5)
