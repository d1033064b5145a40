"""The training loop: a recipe applied to a model, with atomic per-epoch checkpoints and an exact resume.

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
* Validation points (epoch 0 and after every epoch) go through :func:`~drise_tf.training.evaluation.evaluate`
  (padded predictions, :mod:`drise_tf.core.sharding`), not Keras's ``evaluate``, which fails under a strategy on a
  batch that splits unevenly over the replicas.
"""
from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from drise_tf import data as data_lib
from drise_tf.core import console, sharding
from drise_tf.core.compat import (
    MODEL_SUFFIX,
    keras,
    load_model,
    save_model_atomic,
    write_json_atomic,
    write_text_atomic,
)
from drise_tf.training.evaluation import evaluate, evaluate_stream
from drise_tf.training.recipes import Recipe, get_recipe
from drise_tf.training.schedules import learning_rate_at

HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr")
EPOCH0_CHOICES = ("validation", "test")
EPOCH0_TRAIN_CHOICES = ("originals", "stream")
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}

ArrayPair = Tuple[np.ndarray, np.ndarray]


def default_strategy() -> Any:
    """MirroredStrategy over all GPUs when more than one is visible, else the current (default) strategy."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def multi_worker_strategy() -> Any:
    """A ``MultiWorkerMirroredStrategy`` over the cluster of the ``TF_CONFIG`` environment variable; make it before
    any other TensorFlow work of the process (TensorFlow's rule), and run the same program on every worker."""
    if "TF_CONFIG" not in os.environ:
        raise ValueError("a multi-worker run needs the cluster in the TF_CONFIG environment variable "
                         "(see docs/evaluation.md, \"Several machines\")")
    return tf.distribute.MultiWorkerMirroredStrategy()


# ----------------------------------------------------------------------------------------------------------- files
def _empty_history() -> Dict[str, List[float]]:
    return {key: [] for key in HISTORY_KEYS}


def _history_csv(history: Dict[str, List[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_KEYS)
    writer.writerows(zip(*(history[key] for key in HISTORY_KEYS)))
    return buffer.getvalue()


def _write_history(out_dir: pathlib.Path, history: Dict[str, List[Any]]) -> None:
    write_text_atomic(out_dir / "history.csv", _history_csv(history))
    write_json_atomic(out_dir / "history.json", history)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A data seed for one epoch, independent of where a run was interrupted."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] % (2**31 - 1))


class _EpochRecorder(keras.callbacks.Callback):
    """Appends the epoch's row to the history and writes checkpoint, state and history files atomically."""

    def __init__(self, out_dir: pathlib.Path, history: Dict[str, List[Any]], schedule: Any,
                 settings: Dict[str, Any], best: Optional[Dict[str, Any]], best_metric: Optional[str],
                 validation: ArrayPair, verbose: int, epochs: int, first_epoch: int,
                 keep_epochs: Sequence[int]) -> None:
        super().__init__()
        self.validation = validation
        self.epochs = epochs
        self.first_epoch = first_epoch
        self.keep_epochs = {int(e) for e in keep_epochs}
        self.started = time.monotonic()
        self.verbose = verbose
        self.out_dir = out_dir
        self.history = history
        self.schedule = schedule
        self.settings = settings
        self.best = best
        self.best_metric = best_metric

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        logs = {} if logs is None else logs
        # later callbacks see them
        logs["val_loss"], logs["val_accuracy"] = _evaluate_point(self.model, self.validation)
        if self.verbose:
            elapsed = time.monotonic() - self.started
            left = elapsed / (epoch + 1 - self.first_epoch) * (self.epochs - epoch - 1)
            print(f"[train] epoch {epoch + 1}/{self.epochs}: val_loss {logs['val_loss']:.4f}, val_accuracy "
                  f"{logs['val_accuracy']:.4f}; {elapsed / 60:.1f} min this process, about {left / 60:.1f} min left",
                  flush=True)
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
        write_json_atomic(checkpoints / "state.json", state)
        for old in checkpoints.glob(f"epoch_*{MODEL_SUFFIX}"):
            if old.name != name and int(old.name[len("epoch_"):len("epoch_") + 3]) not in self.keep_epochs:
                old.unlink()
        _write_history(self.out_dir, self.history)


# ------------------------------------------------------------------------------------------- training across workers
def _distributed_train_step(model: Any, strategy: Any, from_logits: bool, label_smoothing: float) -> Any:
    """One compiled training step under ``strategy`` (Keras 3's ``fit`` does not run under a
    MultiWorkerMirroredStrategy, keras-team/keras#20585): the global batch's mean cross-entropy plus the
    regularisation losses, gradients all-reduced over every replica of every worker, one optimizer update; returns
    the global sums of the loss and of the hits, and the global count of images."""
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing,
                                                   reduction="none")

    def replica_step(images: tf.Tensor, labels: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        context = tf.distribute.get_replica_context()
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(images)[0], tf.float32))
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            per_image = tf.cast(loss_fn(labels, outputs), tf.float32)
            loss = tf.reduce_sum(per_image) / count
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(x, tf.float32) for x in model.losses]))
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        hits = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(outputs, axis=-1), tf.argmax(labels, axis=-1)), tf.float32))
        return tf.reduce_sum(per_image), hits, tf.cast(tf.shape(images)[0], tf.float32)

    @tf.function
    def step(batch: Tuple[Any, Any]) -> List[tf.Tensor]:
        results = strategy.run(replica_step, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in results]

    return step


def _replica_slices(dataset: Any, strategy: Any) -> Any:
    """``dataset``'s batches split over the strategy's replicas: every worker builds the same global batches (same
    seeds, same augmentation) and feeds each of its replicas its own slice of each, so that a global batch is the
    one a single process would train on, whatever TensorFlow's automatic sharding would do (it splits before or
    after a batch-level augmentation depending on the version)."""
    def per_worker(context: tf.distribute.InputContext) -> Any:
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def slices(images: tf.Tensor, labels: tf.Tensor) -> Any:
            size = tf.shape(images)[0]
            bounds = size * tf.range(first, first + local + 1) // replicas
            return tf.data.Dataset.range(local).map(
                lambda r: (images[bounds[r]:bounds[r + 1]], labels[bounds[r]:bounds[r + 1]]))

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return dataset.with_options(options).flat_map(slices)

    return strategy.distribute_datasets_from_function(per_worker)


def _epoch_across_workers(step: Any, strategy: Any, dataset: Any) -> Dict[str, float]:
    """One epoch of ``step`` over ``dataset`` split between the workers; the epoch's mean loss and accuracy."""
    totals = np.zeros(3)
    for batch in _replica_slices(dataset, strategy):
        totals += [float(value) for value in step(batch)]
    return {"loss": totals[0] / totals[2], "accuracy": totals[1] / totals[2]}


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
    epoch0_train: str = "originals",
    test_data: Optional[ArrayPair] = None,
    strategy: Any = None,
    verbose: int = 1,
    callbacks: Sequence[Any] = (),
    keep_epochs: Sequence[int] = (),
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
        Thesis recipe only: replay the decay-length bug (docs/thesis.md, "Its quirks").
    epoch0 : bool
        Evaluate and record an epoch-0 point before training.
    epoch0_train : {"originals", "stream"}
        Data of the epoch-0 training point: the training images as they are (default), or the first epoch's
        training stream (for ``"thesis"`` augmentation the originals plus an augmented copy), as the thesis did.
    epoch0_val : {"validation", "test"}
        Data of the epoch-0 validation point: the validation split (default), or the test split as the
        thesis did (needs ``test_data``).
    strategy : tf.distribute.Strategy, optional
        Default: :func:`default_strategy`. Under a ``MultiWorkerMirroredStrategy`` (several machines, ``TF_CONFIG``)
        every worker runs the same call; each epoch is a compiled distributed step instead of ``fit`` (which Keras
        3 cannot run across workers), the same mean loss and update as one process; only the chief writes
        ``out_dir`` (resume needs it on storage every worker reads).
    verbose : int
        Keras progress output (0 silent, 1 progress bar, 2 one line per epoch); 1 becomes 2 when the output is
        not a terminal or an IPython console (:func:`~drise_tf.core.console.fit_verbosity`).
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks, run after the checkpoint writer.
    keep_epochs : sequence of int
        Epochs whose checkpoints stay in ``checkpoints/`` (the others are deleted once a later one is written), e.g.
        early checkpoints of one training to explain beside the final model.

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
    if epoch0_train not in EPOCH0_TRAIN_CHOICES:
        raise ValueError(f"epoch0_train must be one of {EPOCH0_TRAIN_CHOICES}, got {epoch0_train!r}")
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
    strategy = strategy or default_strategy()
    # Across workers only the chief writes; the others checkpoint into a folder of their own (as Keras advises).
    write_dir = out_dir if sharding.is_chief(strategy) else pathlib.Path(tempfile.mkdtemp(prefix="drise_tf-worker-"))
    write_dir.mkdir(parents=True, exist_ok=True)
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
                            loss=keras.losses.CategoricalCrossentropy(from_logits=_from_logits(model),
                                                                      label_smoothing=recipe.label_smoothing),
                            metrics=["accuracy"])

    if state is not None:
        history, best, start = state["history"], state["best"], int(state["epoch"])
        if verbose:
            print(f"[train] resuming {out_dir} after epoch {start} of {epochs}", flush=True)
    else:
        history, best, start = _empty_history(), None, 0
        if epoch0:
            if verbose:
                print(f"[train] epoch 0: evaluating the untrained model on the training {epoch0_train} and the "
                      f"{epoch0_val} images", flush=True)
            if epoch0_train == "stream":
                stream = data_lib.make_train_dataset(x_train, y_train, batch_size=batch_size, augmentation=augmentation,
                                                     seed=_epoch_seed(seed, 0), shuffle=True).take(steps_per_epoch)
                loss, acc = evaluate_stream(working, stream, from_logits=_from_logits(model))
            else:
                loss, acc = _evaluate_point(working, (x_train, y_train))
            val_loss, val_acc = _evaluate_point(working, test_pair if epoch0_val == "test" else (x_val, y_val))
            for key, value in zip(HISTORY_KEYS, (0, loss, acc, val_loss, val_acc, learning_rate_at(schedule, 0))):
                history[key].append(value)
            _write_history(write_dir, history)

    recorder = _EpochRecorder(write_dir, history, schedule, settings, best, recipe.best_metric, (x_val, y_val),
                              verbose, epochs, start, keep_epochs)
    across_workers = sharding.is_multi_worker(strategy)
    train_step = _distributed_train_step(
        working, strategy, _from_logits(model), recipe.label_smoothing) if across_workers else None
    for epoch in range(start, epochs):
        train_ds = data_lib.make_train_dataset(x_train, y_train, batch_size=batch_size, augmentation=augmentation,
                                               seed=_epoch_seed(seed, epoch), shuffle=True, replicas=replicas)
        infinite = int(train_ds.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
        if train_step is None:
            working.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch,
                        steps_per_epoch=steps_per_epoch if infinite else None, shuffle=False,
                        callbacks=[recorder, *callbacks], verbose=console.fit_verbosity(verbose))
        else:
            logs = _epoch_across_workers(train_step, strategy, train_ds.take(steps_per_epoch) if infinite else train_ds)
            for callback in (recorder, *callbacks):
                callback.set_model(working)
                callback.on_epoch_end(epoch, logs)

    if recipe.best_metric is not None and recorder.best is not None:
        working.set_weights(load_model(write_dir / "checkpoints" / f"best{MODEL_SUFFIX}").get_weights())
    if working is not model:
        model.set_weights(working.get_weights())
    return history
