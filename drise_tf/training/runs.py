"""Whole training runs in a folder: train one from a recipe and a data source, load it back, evaluate it.

A run folder holds ``model.keras`` (or ``.h5``), ``standardizer.json``, ``history.csv``/``.json``,
``evaluation.json``, ``manifest.json`` (SHA-256 and size of the model, standardizer and history files) and
``checkpoints/`` (per-epoch checkpoints and ``state.json``, which holds the loop's training settings: see
:mod:`drise_tf.training.loop`)."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from drise_tf import data as data_lib
from drise_tf.core import checks
from drise_tf.core.compat import (
    MODEL_SUFFIX,
    keras,
    load_model,
    save_model_atomic,
    write_json_atomic,
    write_text_atomic,
)
from drise_tf.training.architectures import build
from drise_tf.training.evaluation import evaluate, format_evaluation
from drise_tf.training.loop import PRECISIONS, train
from drise_tf.training.recipes import get_recipe


# ------------------------------------------------------------------------------------------------------ whole runs
def _build_for_data(architecture: str, input_shape: Tuple[int, ...], num_classes: int, width: Optional[int]) -> Any:
    if width is not None and architecture != "resnet18":
        raise ValueError(f"width applies to resnet18 only, not to architecture {architecture!r}")
    if architecture in ("resnet50", "vgg16"):
        return build(architecture, weights=None, input_shape=input_shape, classes=num_classes)
    options = {} if width is None else {"width": width}
    return build(architecture, input_shape=input_shape, num_classes=num_classes, **options)


def train_run(
    out_dir: str | os.PathLike,
    *,
    recipe: str = "thesis",
    architecture: str = "resnet18",
    width: Optional[int] = None,
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
    epoch0_train: str = "originals",
    evaluate_train: bool = True,
    strategy: Any = None,
    verbose: int = 1,
    keep_epochs: Sequence[int] = (),
) -> Dict[str, Any]:
    """The whole training job: load, split, standardise, build, train, save, evaluate, report.

    Writes into ``out_dir``: ``model<suffix>`` (float32, even after bfloat16 training), ``standardizer.json``,
    ``history.csv``/``.json``, ``evaluation.json`` (test-set evaluation; with ``evaluate_train`` also a
    ``"train"`` entry for the training split) and ``checkpoints/``.

    Parameters
    ----------
    width : int, optional
        ResNet-18's base width (:func:`~drise_tf.training.architectures.resnet18`; None: the thesis's 64).
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
    if n_val is None:
        fraction = recipe_obj.validation_fraction
        n_val = int(round(fraction * x_all.shape[0])) if fraction else 10000
    (x_train, y_train), (x_val, y_val) = data_lib.split_train_val(x_all, y_all, n_val=n_val)
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
        model = _build_for_data(architecture, input_shape, data_lib.NUM_CLASSES, width)
        history = train(model, train_pair, val_pair, recipe=recipe_obj, out_dir=out_dir, epochs=epochs,
                        batch_size=batch_size, augmentation=augmentation, seed=seed, resume=resume,
                        lr_quirk=lr_quirk, epoch0_val=epoch0_val, epoch0_train=epoch0_train, test_data=test_pair,
                        strategy=strategy, verbose=verbose, keep_epochs=keep_epochs)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if precision != "float32":  # save a float32 copy: later code loads it for explanations
        weights = model.get_weights()
        model = _build_for_data(architecture, input_shape, data_lib.NUM_CLASSES, width)
        model.set_weights(weights)
    model_path = save_model_atomic(model, out_dir / f"model{MODEL_SUFFIX}")

    evaluation = evaluate(model, *test_pair)
    if evaluate_train:
        evaluation["train"] = evaluate(model, *train_pair)
    evaluation_path = out_dir / "evaluation.json"
    write_json_atomic(evaluation_path, evaluation)
    # evaluation.json stays out: `evaluate` rewrites it.
    write_manifest(out_dir, [pathlib.Path(model_path).name, standardizer_path.name, "history.json", "history.csv"])
    if verbose:
        print(f"Test set ({out_dir}):\n{format_evaluation(evaluation)}", flush=True)
    return {"model_path": str(model_path), "standardizer_path": str(standardizer_path),
            "history_path": str(out_dir / "history.json"), "evaluation_path": str(evaluation_path),
            "history": history, "evaluation": evaluation}


#: File of a run folder that lists the SHA-256 and size of the run's files (written last by :func:`train_run`).
MANIFEST = "manifest.json"


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(run_dir: str | os.PathLike, files: Sequence[str]) -> pathlib.Path:
    """Write ``manifest.json``: SHA-256 and size of each of ``files`` (names in ``run_dir``), atomically."""
    run_dir = pathlib.Path(run_dir)
    entries = {name: {"sha256": _sha256(run_dir / name), "bytes": (run_dir / name).stat().st_size} for name in files}
    return pathlib.Path(write_json_atomic(run_dir / MANIFEST, {"files": entries}))


def verify_run(run_dir: str | os.PathLike) -> bool:
    """Check a run folder's files against its ``manifest.json``; False when it has none (a run trained before
    manifests existed).

    Raises
    ------
    ValueError
        A listed file is missing, or its size or SHA-256 differs (truncated or altered); the message names it.
    """
    run_dir = pathlib.Path(run_dir)
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        return False
    with open(manifest_path, encoding="utf-8") as stream:
        entries = json.load(stream)["files"]
    for name, expected in entries.items():
        path = run_dir / name
        if not path.is_file():
            raise ValueError(f"{path} is listed in {manifest_path} but missing")
        size = path.stat().st_size
        if size != expected["bytes"] or _sha256(path) != expected["sha256"]:
            raise ValueError(f"{path} does not match {manifest_path} ({size} bytes, expected {expected['bytes']}; "
                             f"SHA-256 differs): the file is truncated or altered; restore it (git checkout) or "
                             f"train the run again")
    return True


def load_run(run_dir: str | os.PathLike) -> Tuple[Any, Any]:
    """The trained model (float32, uncompiled) and the :class:`~drise_tf.data.Standardizer` of a run folder.

    Checks the files against the run's ``manifest.json`` first (:func:`verify_run`). Warns when the model holds a
    strided 1x1 convolution with fewer than 16 input channels (a narrow ResNet-18
    saved before its shortcut subsampled first): its gradient with an odd batch can crash oneDNN on AVX512 CPUs.
    """
    run_dir = pathlib.Path(run_dir)
    model_path = run_dir / f"model{MODEL_SUFFIX}"
    standardizer_path = run_dir / "standardizer.json"
    for path in (model_path, standardizer_path):
        if not path.is_file():
            raise FileNotFoundError(f"run folder {run_dir} has no {path.name} ({path}); train the run first")
    verify_run(run_dir)
    model = load_model(model_path)
    crashing = _narrow_strided_pointwise_convolutions(model)
    if crashing:
        warnings.warn(f"{model_path}: layers {crashing} are strided 1x1 convolutions with fewer than 16 input "
                      f"channels, whose gradient with an odd batch can crash TensorFlow's oneDNN kernels on AVX512 "
                      f"CPUs; train the run again (ResNet-18 now subsamples before its 1x1 shortcut convolution) or "
                      f"set TF_ENABLE_ONEDNN_OPTS=0", stacklevel=2)
    return model, data_lib.Standardizer.load(standardizer_path)


def _narrow_strided_pointwise_convolutions(model: Any) -> List[str]:
    """Names of the model's Conv2D layers with a 1x1 kernel, a stride above 1 and fewer than 16 input channels."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
            and tuple(layer.kernel_size) == (1, 1) and max(layer.strides) > 1 and layer.input.shape[-1] < 16]


def export_checkpoint(
    run_dir: str | os.PathLike,
    epoch: int,
    out_dir: str | os.PathLike,
    *,
    architecture: str,
    width: Optional[int] = None,
    data: Optional[str] = None,
    n_test: Optional[int] = None,
    verbose: int = 1,
) -> Dict[str, Any]:
    """A kept training checkpoint (``keep_epochs``) as a run folder of its own that :func:`load_run` opens: the
    float32 model with the checkpoint's weights, the run's standardizer, ``evaluation.json`` on the test set and a
    ``manifest.json``; an early model of the same training, to explain beside the final one.

    Parameters
    ----------
    run_dir : path
        The training's run folder (``checkpoints/epoch_NNN<suffix>`` and ``standardizer.json``).
    epoch : int
        The kept epoch.
    out_dir : path
        The new run folder.
    architecture, width : str, int
        The run's architecture and ResNet-18 width (the float32 model is built anew and takes the weights).
    data, n_test : optional
        Test data for ``evaluation.json`` (see :func:`evaluate_run`).

    Returns
    -------
    dict
        ``model_path`` and ``evaluation``.
    """
    run_dir, out_dir = pathlib.Path(run_dir), pathlib.Path(out_dir)
    checkpoint = run_dir / "checkpoints" / f"epoch_{checks.positive_int(epoch, 'epoch'):03d}{MODEL_SUFFIX}"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint} does not exist: train with keep_epochs including {epoch}")
    trained = load_model(checkpoint)
    model = _build_for_data(architecture, tuple(int(d) for d in trained.input_shape[1:]), data_lib.NUM_CLASSES,
                            width)
    model.set_weights(trained.get_weights())
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = save_model_atomic(model, out_dir / f"model{MODEL_SUFFIX}")
    write_text_atomic(out_dir / "standardizer.json", (run_dir / "standardizer.json").read_text(encoding="utf-8"))
    write_manifest(out_dir, [pathlib.Path(model_path).name, "standardizer.json"])
    evaluation = evaluate_run(out_dir, data=data, n_test=n_test, verbose=verbose)
    return {"model_path": str(model_path), "evaluation": evaluation}


def evaluate_run(
    run_dir: str | os.PathLike, *, data: Optional[str] = None, n_test: Optional[int] = None, verbose: int = 1
) -> Dict[str, Any]:
    """Re-evaluate a saved run on the test set (first ``n_test`` images), update ``evaluation.json``, print it.

    A ``"train"`` entry of an existing ``evaluation.json`` is kept.
    """
    run_dir = pathlib.Path(run_dir)
    model, standardizer = load_run(run_dir)
    _, (x_test, y_test) = data_lib.load_cifar10(data)
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
    write_json_atomic(path, evaluation)
    if verbose:
        print(f"Test set ({run_dir}):\n{format_evaluation(evaluation)}", flush=True)
    return evaluation
