"""The orchestration behind ``reproduce`` and ``figures``: train if needed, evaluate, explain, measure, draw.

Every figure lands in ``figures/`` under a stable name, and ``figures/index.md`` says what each one shows and the
exact command and settings that made it. The same profile and seed give the same figures.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import shlex
import sys
from typing import Any, Dict, Optional

import numpy as np

from drise_tf._compat import MODEL_SUFFIX
from drise_tf.profiles import Profile, get_profile


def run_dir_for(profile: Profile, models_dir: str | os.PathLike) -> pathlib.Path:
    """Folder of the trained run that ``profile`` uses."""
    return pathlib.Path(models_dir) / profile.run_name


def has_trained_model(run_dir: str | os.PathLike) -> bool:
    """True when ``run_dir`` holds a finished run (its model file)."""
    return (pathlib.Path(run_dir) / f"model{MODEL_SUFFIX}").is_file()


def train_profile(profile: Profile, run_dir: pathlib.Path, *, data: Optional[str], retrain: bool) -> None:
    """Train (or resume training of) the profile's model into ``run_dir``."""
    from drise_tf.training import train_run

    resume = (run_dir / "checkpoints").is_dir() and not retrain
    print(f"[reproduce] training {profile.architecture} ({profile.recipe} recipe, {profile.epochs} epochs) "
          f"into {run_dir}{' (resuming)' if resume else ''}", flush=True)
    train_run(
        run_dir, recipe=profile.recipe, architecture=profile.architecture, data=data, n_train=profile.n_train,
        n_val=profile.n_val, n_test=profile.n_test, epochs=profile.epochs, seed=profile.seed,
        precision=profile.precision, resume=resume, lr_quirk=profile.lr_quirk, epoch0_val=profile.epoch0_val,
        augmentation=profile.augmentation,
    )


def reproduce(
    profile: str | Profile = "quick",
    *,
    data: Optional[str] = None,
    models_dir: str | os.PathLike = "models",
    figures_dir: str | os.PathLike = "figures",
    seed: Optional[int] = None,
    train: bool = True,
    retrain: bool = False,
    epochs: Optional[int] = None,
) -> Dict[str, Any]:
    """Train if needed, evaluate, explain and write every figure plus ``figures/index.md``.

    Parameters
    ----------
    profile : str or Profile
        ``"quick"``, ``"thesis"`` (or ``"tiny"`` for tests), or a :class:`Profile`.
    data : str, optional
        CIFAR-10 source (see :func:`drise_tf.data.load_cifar10`).
    models_dir, figures_dir : path
        Where the trained run lives and where figures go.
    seed, epochs : int, optional
        Override the profile's seed / epochs.
    train : bool
        Train when the run has no model yet (``reproduce``); if False (``figures``) a missing run is an error.
    retrain : bool
        Train anew even when the run exists.

    Returns
    -------
    dict
        ``run_dir``, ``figures`` (paths), ``index`` and ``evaluation``.
    """
    from drise_tf.data import load_cifar10
    from drise_tf.training import load_run

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    overrides = {k: v for k, v in {"seed": seed, "epochs": epochs}.items() if v is not None}
    prof = prof.replace(**overrides)
    run_dir = run_dir_for(prof, models_dir)
    if retrain or not has_trained_model(run_dir):
        if not train:
            raise FileNotFoundError(
                f"no trained model in {run_dir}; run `python -m drise_tf reproduce --profile {prof.name}` first"
            )
        train_profile(prof, run_dir, data=data, retrain=retrain)

    model, standardizer = load_run(run_dir)
    (_, _), (x_test, y_test) = load_cifar10(data)
    if prof.n_test is not None:
        x_test, y_test = x_test[: prof.n_test], y_test[: prof.n_test]
    y_test = y_test.reshape(-1).astype(np.int64)

    command = " ".join(["python -m drise_tf", *map(shlex.quote, sys.argv[1:])]) if sys.argv[1:] else (
        f"python -m drise_tf figures --profile {prof.name}"
    )
    from drise_tf import figure_sets

    from drise_tf.data import resolve_source

    settings = {"data": resolve_source(data) or "Keras's CIFAR-10 download", **dataclasses.asdict(prof)}
    book = figure_sets.FigureBook(pathlib.Path(figures_dir), command, settings)

    evaluation = figure_sets.training_figures(book, run_dir)
    figure_sets.thesis_drise_figures(book, model, standardizer, x_test, y_test, prof)
    figure_sets.similarity_figures(book, model, standardizer, x_test, y_test, prof)
    figure_sets.method_figures(book, model, standardizer, x_test, y_test, prof)
    figure_sets.sanity_figures(book, model, standardizer, x_test, y_test, prof)
    figure_sets.study_figures(book, model, standardizer, x_test, y_test, prof)
    index = book.write_index()
    return {"run_dir": run_dir, "figures": [book.folder / e["file"] for e in book.entries], "index": index,
            "evaluation": evaluation}
