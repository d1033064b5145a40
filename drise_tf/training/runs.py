"""Whole training runs in a folder: train one from a recipe and a data source, load it back, evaluate it.

A run folder holds ``model.keras`` (or ``.h5``), ``standardizer.json``, ``history.csv``/``.json``,
``evaluation.json``, ``run.json`` (its settings) and ``checkpoints/`` while training."""
from __future__ import annotations

import json
import os
import pathlib
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from drise_tf import data as data_lib
from drise_tf.core.compat import (
    MODEL_SUFFIX,
    keras,
    load_model,
    save_model_atomic,
    write_json_atomic,
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
    if verbose:
        print(f"Test set ({out_dir}):\n{format_evaluation(evaluation)}", flush=True)
    return {"model_path": str(model_path), "standardizer_path": str(standardizer_path),
            "history_path": str(out_dir / "history.json"), "evaluation_path": str(evaluation_path),
            "history": history, "evaluation": evaluation}


def load_run(run_dir: str | os.PathLike) -> Tuple[Any, Any]:
    """The trained model (float32, uncompiled) and the :class:`~drise_tf.data.Standardizer` of a run folder.

    Warns when the model holds a strided 1x1 convolution with fewer than 16 input channels (a narrow ResNet-18
    saved before its shortcut subsampled first): its gradient with an odd batch can crash oneDNN on AVX512 CPUs.
    """
    run_dir = pathlib.Path(run_dir)
    model_path = run_dir / f"model{MODEL_SUFFIX}"
    standardizer_path = run_dir / "standardizer.json"
    for path in (model_path, standardizer_path):
        if not path.is_file():
            raise FileNotFoundError(f"run folder {run_dir} has no {path.name} ({path}); train the run first")
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
