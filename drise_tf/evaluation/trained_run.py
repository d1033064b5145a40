"""The evaluation of a trained run folder on its test images: the command line's ``evaluate-maps``."""
from __future__ import annotations

import hashlib
import os
import pathlib
from typing import Any, Dict, Optional

import numpy as np

from drise_tf.core import sharding
from drise_tf.data import load_cifar10
from drise_tf.evaluation.report import write_report
from drise_tf.evaluation.run import evaluate_maps
from drise_tf.training import load_run, multi_worker_strategy


def chosen_test_images(n_test: int, images: Optional[int], seed: int) -> np.ndarray:
    """Indices of the test images an evaluation explains: ``images`` of the ``n_test``, a seeded random choice in
    increasing order (None: all of them in their order).

    Raises
    ------
    ValueError
        ``images`` is not an integer in 1..``n_test``.
    """
    if images is None:
        return np.arange(n_test)
    if isinstance(images, bool) or int(images) != images or not 1 <= images <= n_test:
        raise ValueError(f"images must be an integer in 1..{n_test} (the test set), got {images!r}")
    return np.sort(np.random.default_rng(seed).permutation(n_test)[: int(images)])


def evaluate_run_maps(
    run_dir: str | os.PathLike,
    *,
    data: Optional[str] = None,
    images: Optional[int] = 1000,
    out: Optional[str | os.PathLike] = None,
    seed: int = 0,
    multi_worker: bool = False,
    **options: Any,
) -> Dict[str, str]:
    """:func:`~drise_tf.evaluation.run.evaluate_maps` on a trained run's test images, then
    :func:`drise_tf.evaluation.report.write_report`.

    Parameters
    ----------
    run_dir : path
        Trained run folder (model and standardizer).
    data : str, optional
        CIFAR-10 source (see :func:`drise_tf.data.load_cifar10`).
    images : int, optional
        How many test images, a seeded random choice; None: the whole test set in its order.
    out : path, optional
        Results folder; default ``<run_dir>/evaluation``.
    seed : int
        Seed of the image choice and of the run (see :func:`~drise_tf.evaluation.run.evaluate_maps`).
    multi_worker : bool
        Spread the masks' forward passes over the workers of ``TF_CONFIG`` (a ``MultiWorkerMirroredStrategy``,
        made first, before any other TensorFlow work); start the same command on every machine.
    **options
        Passed to :func:`~drise_tf.evaluation.run.evaluate_maps` (``n_masks``, ``sampling``, ``target_stability``,
        ``resume``, ...).

    Returns
    -------
    dict
        The report's files (see :func:`~drise_tf.evaluation.report.write_report`).
    """
    strategy = multi_worker_strategy() if multi_worker else None
    model, standardizer = load_run(run_dir)
    _, (x_test, y_test) = load_cifar10(data)
    ids = chosen_test_images(len(x_test), images, seed)
    chosen = x_test[ids]
    out = pathlib.Path(run_dir) / "evaluation" if out is None else pathlib.Path(out)
    settings = {"images_sha256": hashlib.sha256(np.ascontiguousarray(chosen).tobytes()).hexdigest()}
    evaluate_maps(model, standardizer.transform(chosen), np.asarray(y_test[ids]).astype(np.int64), out,
                  image_ids=ids, seed=seed, settings=settings, strategy=strategy, **options)
    return write_report(out) if sharding.is_chief(strategy) else {}
