"""Training: recipes, the training loop with atomic per-epoch checkpoints and resume, whole training runs.

Design
------
* :func:`train` takes a built ``keras.Model``. Under a real distribution strategy (e.g. MirroredStrategy) the
  model is cloned inside ``strategy.scope()`` (``keras.models.clone_model`` + its weights), so its variables are
  mirrored; a resumed run loads its checkpoint inside the scope. Either way the trained weights are copied back
  into the model you passed, so after ``train`` returns, *your* model object is the trained one.
* Each epoch is one ``model.fit`` call whose data are made with a seed derived from ``(seed, epoch)``: the data an
  epoch sees do not depend on whether the run was interrupted, so a resumed run continues exactly.
* After every epoch a callback writes, each file atomically (temporary file + ``os.replace``):
  ``checkpoints/epoch_NNN<suffix>`` (the whole model with its optimizer state, hence the schedule's step),
  ``checkpoints/best<suffix>`` when the recipe keeps the best epoch, ``checkpoints/state.json`` (epoch, history,
  settings; written last, so it always names a complete checkpoint), ``history.csv`` and ``history.json``.
  Keras's own ``ModelCheckpoint``/``BackupAndRestore``/``CSVLogger`` are not used because they write in place (an
  interruption mid-write leaves a broken file) and know nothing of the epoch-0 point.
* History is column-oriented like ``keras.callbacks.History.history``: ``{"epoch": [0, 1, ...], "loss": [...],
  "accuracy", "val_loss", "val_accuracy", "lr"}``. Epoch 0 is evaluated before training (training split without
  augmentation, and the validation split, or with ``epoch0_val="test"`` the test split as in the thesis, whose
  epoch-0 "validation" point was really a test point). ``lr`` is the rate the next step would use.
"""
from __future__ import annotations

import csv
import io
import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from drise_tf import data as data_lib
from drise_tf._compat import MODEL_SUFFIX, keras, load_model, save_model_atomic, write_text_atomic
from drise_tf.architectures import build
from drise_tf.core import sharding
from drise_tf.evaluation import evaluate, format_evaluation
from drise_tf.registry import Registry
from drise_tf.schedules import OneCycle, learning_rate_at, thesis_learning_rate

HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr")
EPOCH0_CHOICES = ("validation", "test")
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}

ArrayPair = Tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Recipe:
    """A training recipe.

    Attributes
    ----------
    name, description : str
    epochs, batch_size : int
        Defaults; :func:`train` can override them.
    augmentation : str
        ``"thesis"`` (originals + augmented copy), ``"random"`` or ``"none"`` (see :mod:`drise_tf.data`).
    make_schedule : callable
        ``(steps_per_epoch, epochs, n_train, batch_size, lr_quirk) -> schedule or float``.
    make_optimizer : callable
        ``(learning_rate) -> keras optimizer``.
    validation_fraction : float or None
        If set, the validation split is this fraction of the training data (its end) unless given.
    best_metric : str or None
        If set (``"val_accuracy"``), the best epoch's checkpoint is kept and restored at the end.
    supports_lr_quirk : bool
        Whether ``lr_quirk`` means anything (only the thesis schedule has the quirk).
    """

    name: str
    description: str
    epochs: int
    batch_size: int
    augmentation: str
    make_schedule: Callable[[int, int, int, int, bool], Any]
    make_optimizer: Callable[[Any], Any]
    validation_fraction: Optional[float] = None
    best_metric: Optional[str] = None
    supports_lr_quirk: bool = False


def _thesis_schedule(steps_per_epoch: int, epochs: int, n_train: int, batch_size: int, lr_quirk: bool) -> Any:
    return thesis_learning_rate(steps_per_epoch, epochs, n_train=n_train, batch_size=batch_size, lr_quirk=lr_quirk)


def _onecycle_schedule(steps_per_epoch: int, epochs: int, n_train: int, batch_size: int, lr_quirk: bool) -> Any:
    return OneCycle(max_lr=0.1, total_steps=steps_per_epoch * epochs)


def _sgd(learning_rate: Any) -> Any:
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=False)


def _adam(learning_rate: Any) -> Any:
    return keras.optimizers.Adam(learning_rate=learning_rate)


RECIPES: Registry[Recipe] = Registry("training recipe")
RECIPES.register("thesis", Recipe(
    "thesis", "SPEC 1.2: SGD momentum 0.9, cosine decay 0.1 -> 0, batch 128, originals + augmented copy, 100 epochs",
    epochs=100, batch_size=128, augmentation="thesis", make_schedule=_thesis_schedule, make_optimizer=_sgd,
    supports_lr_quirk=True,
))
RECIPES.register("onecycle", Recipe(
    "onecycle", "PyTorch ResNet-18 study: SGD momentum 0.9 with a one-cycle policy (peak 0.1, 30% warm-up), "
    "batch 128, random augmentation, 30 epochs (peak and length are our choice; the study gives none)",
    epochs=30, batch_size=128, augmentation="random", make_schedule=_onecycle_schedule, make_optimizer=_sgd,
))
RECIPES.register("adam_cnn", Recipe(
    "adam_cnn", "Keras CNN study: Adam (lr 0.001), 5 epochs, batch 32, no augmentation, 20% validation split, "
    "keeps the checkpoint with the best val_accuracy",
    epochs=5, batch_size=32, augmentation="none", make_schedule=lambda *args: 1e-3, make_optimizer=_adam,
    validation_fraction=0.2, best_metric="val_accuracy",
))


def get_recipe(name: str | Recipe) -> Recipe:
    """The :class:`Recipe` registered as ``name`` ("thesis", "onecycle", "adam_cnn"); a Recipe passes through."""
    return name if isinstance(name, Recipe) else RECIPES.get(name)


def default_strategy() -> Any:
    """MirroredStrategy over all GPUs when more than one is visible, else the current (default) strategy."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


# ----------------------------------------------------------------------------------------------------------- files
def _empty_history() -> Dict[str, List[float]]:
    return {key: [] for key in HISTORY_KEYS}


def _history_csv(history: Dict[str, List[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_KEYS)
    writer.writerows(zip(*(history[key] for key in HISTORY_KEYS)))
    return buffer.getvalue()


def _write_json(path: pathlib.Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def _write_history(out_dir: pathlib.Path, history: Dict[str, List[Any]]) -> None:
    write_text_atomic(out_dir / "history.csv", _history_csv(history))
    _write_json(out_dir / "history.json", history)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A data seed for one epoch, independent of where a run was interrupted."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] % (2**31 - 1))


class _EpochRecorder(keras.callbacks.Callback):
    """Appends the epoch's row to the history and writes checkpoint, state and history files atomically."""

    def __init__(self, out_dir: pathlib.Path, history: Dict[str, List[Any]], schedule: Any,
                 settings: Dict[str, Any], best: Optional[Dict[str, Any]], best_metric: Optional[str],
                 validation: ArrayPair, verbose: int) -> None:
        super().__init__()
        self.validation = validation
        self.verbose = verbose
        self.out_dir = out_dir
        self.history = history
        self.schedule = schedule
        self.settings = settings
        self.best = best
        self.best_metric = best_metric

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        logs = {} if logs is None else logs
        logs["val_loss"], logs["val_accuracy"] = _evaluate_point(self.model, self.validation)  # later callbacks see them
        if self.verbose:
            print(f"[train] epoch {epoch + 1}: val_loss {logs['val_loss']:.4f}, val_accuracy "
                  f"{logs['val_accuracy']:.4f}", flush=True)
        step = int(self.model.optimizer.iterations.numpy())
        row = {"epoch": epoch + 1, "lr": learning_rate_at(self.schedule, step)}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            row[key] = float(logs[key]) if key in logs else None
        for key in HISTORY_KEYS:
            self.history[key].append(row[key])
        checkpoints = self.out_dir / "checkpoints"
        name = f"epoch_{epoch + 1:03d}{MODEL_SUFFIX}"
        save_model_atomic(self.model, checkpoints / name)
        if self.best_metric is not None:
            value = row[self.best_metric]
            if value is None:
                raise ValueError(f"recipe keeps the best {self.best_metric!r} but training logged no such metric")
            if self.best is None or value > self.best["value"]:
                save_model_atomic(self.model, checkpoints / f"best{MODEL_SUFFIX}")
                self.best = {"metric": self.best_metric, "value": value, "epoch": epoch + 1}
        state = {"epoch": epoch + 1, "checkpoint": name, "best": self.best, "settings": self.settings,
                 "history": self.history}
        _write_json(checkpoints / "state.json", state)
        for old in checkpoints.glob(f"epoch_*{MODEL_SUFFIX}"):
            if old.name != name:
                old.unlink()
        _write_history(self.out_dir, self.history)


# -------------------------------------------------------------------------------------------------------- training
def _check_pair(pair: Any, name: str) -> ArrayPair:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{name} must be a tuple (x_std, y), got {type(pair).__name__}")
    x, y = np.asarray(pair[0]), np.asarray(pair[1])
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim != 4 or x.shape[0] < 1:
        raise ValueError(f"{name}: images must have shape (N, H, W, C) with N >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: images must be standardised floats, got dtype {x.dtype}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{name}: labels must have shape ({x.shape[0]},) to match the images, got {y.shape}")
    return x.astype(np.float32, copy=False), y.astype(np.int64)


def _from_logits(model: Any) -> bool:
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") == "linear"


def _evaluate_point(model: Any, pair: ArrayPair) -> Tuple[float, float]:
    """Loss and accuracy of ``model`` on ``pair``, through :func:`evaluate` (padded prediction, see
    :mod:`drise_tf.core.sharding`): Keras's ``evaluate`` fails under a strategy on batches that split unevenly."""
    results = evaluate(model, *pair, from_logits=_from_logits(model))
    return results["loss"], results["accuracy"]


def _load_state(out_dir: pathlib.Path) -> Optional[Dict[str, Any]]:
    path = out_dir / "checkpoints" / "state.json"
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def train(
    model: Any,
    train_data: ArrayPair,
    val_data: Optional[ArrayPair],
    *,
    recipe: str | Recipe = "thesis",
    out_dir: str | os.PathLike,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    augmentation: Optional[str] = None,
    seed: int = 0,
    resume: bool = False,
    lr_quirk: bool = False,
    epoch0: bool = True,
    epoch0_val: str = "validation",
    test_data: Optional[ArrayPair] = None,
    strategy: Any = None,
    verbose: int = 1,
    callbacks: Sequence[Any] = (),
) -> Dict[str, List[Any]]:
    """Train ``model`` with a recipe, checkpointing every epoch atomically into ``out_dir`` (see module notes).

    Parameters
    ----------
    model : keras.Model
        A built functional classifier on standardised images (softmax head, or a linear head: the loss
        then uses ``from_logits=True``). It receives the trained weights.
    train_data, val_data : (x_std float32 (N, H, W, C), y int (N,))
        Training and validation data. ``val_data=None`` is allowed for recipes with a validation fraction
        (``adam_cnn``): the last 20% of ``train_data`` then validate.
    recipe : str or Recipe
        "thesis", "onecycle" or "adam_cnn".
    epochs, batch_size, augmentation : optional
        Override the recipe's values.
    seed : int
        Seeds the data order and augmentation of each epoch.
    resume : bool
        Continue from ``out_dir/checkpoints`` (the settings must match the interrupted run); without a
        checkpoint training starts afresh.
    lr_quirk : bool
        Thesis recipe only: replay the decay-length bug of SPEC 1.2.
    epoch0 : bool
        Evaluate and record an epoch-0 point before training.
    epoch0_val : {"validation", "test"}
        Data of the epoch-0 validation point: the validation split (default), or the test split as the
        thesis did (needs ``test_data``).
    strategy : tf.distribute.Strategy, optional
        Default: :func:`default_strategy`.
    verbose : int
        Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks, run after the checkpoint writer.

    Returns
    -------
    dict
        The history, column-oriented: ``epoch, loss, accuracy, val_loss, val_accuracy, lr``.
    """
    recipe = get_recipe(recipe)
    x_train, y_train = _check_pair(train_data, "train_data")
    if val_data is None:
        if recipe.validation_fraction is None:
            raise ValueError(f"val_data is required for the {recipe.name!r} recipe")
        n_val = int(round(recipe.validation_fraction * x_train.shape[0]))
        if not 0 < n_val < x_train.shape[0]:
            raise ValueError(f"train_data has too few images ({x_train.shape[0]}) for a validation split")
        (x_train, y_train), (x_val, y_val) = (x_train[:-n_val], y_train[:-n_val]), (x_train[-n_val:], y_train[-n_val:])
    else:
        x_val, y_val = _check_pair(val_data, "val_data")
    if epoch0_val not in EPOCH0_CHOICES:
        raise ValueError(f"epoch0_val must be one of {EPOCH0_CHOICES}, got {epoch0_val!r}")
    if epoch0 and epoch0_val == "test" and test_data is None:
        raise ValueError("epoch0_val='test' needs test_data")
    test_pair = None if test_data is None else _check_pair(test_data, "test_data")
    if lr_quirk and not recipe.supports_lr_quirk:
        raise ValueError(f"lr_quirk applies to the thesis schedule only, not to recipe {recipe.name!r}")
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    augmentation = recipe.augmentation if augmentation is None else augmentation
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    strategy = strategy or default_strategy()
    replicas = sharding.replica_count(strategy)
    if len(x_train) < replicas:
        raise ValueError(f"train_data has {len(x_train)} images, fewer than the strategy's {replicas} replicas")
    if batch_size < replicas:
        raise ValueError(f"batch_size ({batch_size}) must be at least the strategy's {replicas} replicas")
    n_train = int(x_train.shape[0])
    steps_per_epoch = data_lib.train_steps_per_epoch(n_train, batch_size, augmentation, replicas)
    schedule = recipe.make_schedule(steps_per_epoch, epochs, n_train, batch_size, lr_quirk)
    settings = {"recipe": recipe.name, "epochs": int(epochs), "batch_size": int(batch_size),
                "augmentation": augmentation, "lr_quirk": bool(lr_quirk), "n_train": n_train, "seed": int(seed)}

    distributed = strategy is not tf.distribute.get_strategy()  # asked outside any scope: not the default one
    state = _load_state(out_dir) if resume else None
    if state is not None:
        changed = {k: (state["settings"].get(k), v) for k, v in settings.items() if state["settings"].get(k) != v}
        if changed:
            raise ValueError(f"cannot resume {out_dir}: settings differ from the interrupted run (old, new): {changed}")
    with strategy.scope():
        if state is not None:
            checkpoint = out_dir / "checkpoints" / state["checkpoint"]
            if not checkpoint.is_file():
                raise FileNotFoundError(f"checkpoint {checkpoint} named in state.json is missing; cannot resume")
            working = load_model(checkpoint, compile=True)
        else:
            working = model
            if distributed:  # variables must be created inside the strategy's scope
                working = keras.models.clone_model(model)
                working.set_weights(model.get_weights())
            working.compile(optimizer=recipe.make_optimizer(schedule),
                            loss=keras.losses.CategoricalCrossentropy(from_logits=_from_logits(model)),
                            metrics=["accuracy"])

    if state is not None:
        history, best, start = state["history"], state["best"], int(state["epoch"])
        if verbose:
            print(f"[train] resuming {out_dir} after epoch {start} of {epochs}", flush=True)
    else:
        history, best, start = _empty_history(), None, 0
        if epoch0:
            if verbose:
                print(f"[train] epoch 0: evaluating the untrained model on {len(x_train)} training and "
                      f"{epoch0_val} images", flush=True)
            loss, acc = _evaluate_point(working, (x_train, y_train))
            val_loss, val_acc = _evaluate_point(working, test_pair if epoch0_val == "test" else (x_val, y_val))
            for key, value in zip(HISTORY_KEYS, (0, loss, acc, val_loss, val_acc, learning_rate_at(schedule, 0))):
                history[key].append(value)
            _write_history(out_dir, history)

    recorder = _EpochRecorder(out_dir, history, schedule, settings, best, recipe.best_metric, (x_val, y_val), verbose)
    for epoch in range(start, epochs):
        train_ds = data_lib.make_train_dataset(x_train, y_train, batch_size=batch_size, augmentation=augmentation,
                                               seed=_epoch_seed(seed, epoch), shuffle=True, replicas=replicas)
        infinite = int(train_ds.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
        working.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch,
                    steps_per_epoch=steps_per_epoch if infinite else None, shuffle=False,
                    callbacks=[recorder, *callbacks], verbose=verbose)

    if recipe.best_metric is not None and recorder.best is not None:
        working.set_weights(load_model(out_dir / "checkpoints" / f"best{MODEL_SUFFIX}").get_weights())
    if working is not model:
        model.set_weights(working.get_weights())
    return history


# ------------------------------------------------------------------------------------------------------ whole runs
def _labels_1d(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).reshape(-1).astype(np.int64)


def _build_for_data(architecture: str, input_shape: Tuple[int, ...], num_classes: int) -> Any:
    if architecture in ("resnet50", "vgg16"):
        return build(architecture, weights=None, input_shape=input_shape, classes=num_classes)
    return build(architecture, input_shape=input_shape, num_classes=num_classes)


def train_run(
    out_dir: str | os.PathLike,
    *,
    recipe: str = "thesis",
    architecture: str = "resnet18",
    data: Optional[str] = None,
    n_train: Optional[int] = None,
    n_val: Optional[int] = 10000,
    n_test: Optional[int] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    augmentation: Optional[str] = None,
    seed: int = 0,
    precision: str = "float32",
    resume: bool = False,
    lr_quirk: bool = False,
    epoch0_val: str = "validation",
    evaluate_train: bool = True,
    strategy: Any = None,
    verbose: int = 1,
) -> Dict[str, Any]:
    """The whole training job: load, split, standardise, build, train, save, evaluate, report.

    Writes into ``out_dir``: ``model<suffix>`` (float32, even after bfloat16 training), ``standardizer.json``,
    ``history.csv``/``.json``, ``evaluation.json`` (test-set evaluation; with ``evaluate_train`` also a
    ``"train"`` entry for the training split) and ``checkpoints/``.

    Parameters
    ----------
    data : str, optional
        CIFAR-10 source for :func:`drise_tf.data.load_cifar10`.
    n_train, n_val, n_test : int, optional
        The last ``n_val`` training images validate (``None``: the recipe's validation fraction if it has one,
        else 10,000); of the rest, the first ``n_train`` train (``None``: all). The first ``n_test`` test
        images test (``None``: all).
    precision : {"float32", "bfloat16"}
        ``"bfloat16"`` trains under Keras's ``mixed_bfloat16`` policy; the previous global policy is restored.
    seed : int
        Seeds weight initialisation (``keras.utils.set_random_seed``) and the data pipeline.
    Other parameters are those of :func:`train`.

    Returns
    -------
    dict
        ``model_path``, ``standardizer_path``, ``history_path``, ``evaluation_path``, ``history``, ``evaluation``.
    """
    recipe_obj = get_recipe(recipe)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    out_dir = pathlib.Path(out_dir)
    (x_all, y_all), (x_test, y_test) = data_lib.load_cifar10(data)
    y_all, y_test = _labels_1d(y_all), _labels_1d(y_test)
    if n_val is None:
        fraction = recipe_obj.validation_fraction
        n_val = int(round(fraction * x_all.shape[0])) if fraction else 10000
    (x_train, y_train), (x_val, y_val) = data_lib.split_train_val(x_all, y_all, n_val=n_val)
    y_train, y_val = _labels_1d(y_train), _labels_1d(y_val)
    for name, value, available in (("n_train", n_train, x_train.shape[0]), ("n_test", n_test, x_test.shape[0])):
        if value is not None and not (isinstance(value, (int, np.integer)) and 1 <= value <= available):
            raise ValueError(f"{name} must be an int in 1..{available}, got {value!r}")
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    if n_test is not None:
        x_test, y_test = x_test[:n_test], y_test[:n_test]

    standardizer = data_lib.Standardizer.fit(x_train)
    out_dir.mkdir(parents=True, exist_ok=True)
    standardizer_path = out_dir / "standardizer.json"
    standardizer.save(standardizer_path)
    train_pair = (standardizer.transform(x_train), y_train)
    val_pair = (standardizer.transform(x_val), y_val)
    test_pair = (standardizer.transform(x_test), y_test)
    input_shape = tuple(int(d) for d in x_train.shape[1:])

    keras.utils.set_random_seed(seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        model = _build_for_data(architecture, input_shape, data_lib.NUM_CLASSES)
        history = train(model, train_pair, val_pair, recipe=recipe_obj, out_dir=out_dir, epochs=epochs,
                        batch_size=batch_size, augmentation=augmentation, seed=seed, resume=resume,
                        lr_quirk=lr_quirk, epoch0_val=epoch0_val, test_data=test_pair, strategy=strategy,
                        verbose=verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if precision != "float32":  # save a float32 copy: later code loads it for explanations
        weights = model.get_weights()
        model = _build_for_data(architecture, input_shape, data_lib.NUM_CLASSES)
        model.set_weights(weights)
    model_path = save_model_atomic(model, out_dir / f"model{MODEL_SUFFIX}")

    evaluation = evaluate(model, *test_pair)
    if evaluate_train:
        evaluation["train"] = evaluate(model, *train_pair)
    evaluation_path = out_dir / "evaluation.json"
    _write_json(evaluation_path, evaluation)
    if verbose:
        print(f"Test set ({out_dir}):\n{format_evaluation(evaluation)}", flush=True)
    return {"model_path": str(model_path), "standardizer_path": str(standardizer_path),
            "history_path": str(out_dir / "history.json"), "evaluation_path": str(evaluation_path),
            "history": history, "evaluation": evaluation}


def load_run(run_dir: str | os.PathLike) -> Tuple[Any, Any]:
    """The trained model (float32, uncompiled) and the :class:`~drise_tf.data.Standardizer` of a run folder."""
    run_dir = pathlib.Path(run_dir)
    model_path = run_dir / f"model{MODEL_SUFFIX}"
    standardizer_path = run_dir / "standardizer.json"
    for path in (model_path, standardizer_path):
        if not path.is_file():
            raise FileNotFoundError(f"run folder {run_dir} has no {path.name} ({path}); train the run first")
    return load_model(model_path), data_lib.Standardizer.load(standardizer_path)


def evaluate_run(
    run_dir: str | os.PathLike, *, data: Optional[str] = None, n_test: Optional[int] = None, verbose: int = 1
) -> Dict[str, Any]:
    """Re-evaluate a saved run on the test set (first ``n_test`` images), update ``evaluation.json``, print it.

    A ``"train"`` entry of an existing ``evaluation.json`` is kept.
    """
    run_dir = pathlib.Path(run_dir)
    model, standardizer = load_run(run_dir)
    _, (x_test, y_test) = data_lib.load_cifar10(data)
    y_test = _labels_1d(y_test)
    if n_test is not None:
        if not (isinstance(n_test, (int, np.integer)) and 1 <= n_test <= x_test.shape[0]):
            raise ValueError(f"n_test must be an int in 1..{x_test.shape[0]}, got {n_test!r}")
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    evaluation = evaluate(model, standardizer.transform(x_test), y_test)
    path = run_dir / "evaluation.json"
    if path.is_file():
        with open(path, encoding="utf-8") as stream:
            previous = json.load(stream)
        if "train" in previous:
            evaluation["train"] = previous["train"]
    _write_json(path, evaluation)
    if verbose:
        print(f"Test set ({run_dir}):\n{format_evaluation(evaluation)}", flush=True)
    return evaluation
