"""The shared opening of every experiment script: one call picks the plotting backend, reads the environment,
loads the data and the trained run, and hands them back; the script's cells then show the method itself.

Environment variables (all optional; the tests set them to run each script headless on a tiny configuration):

``DRISE_TF_EXPERIMENT_PROFILE``
    The profile whose values the script uses (default ``"quick"``; ``"thesis"``, ``"tiny"``).
``DRISE_TF_DATA``
    CIFAR-10 source (see :func:`drise_tf.data.load_cifar10`); unset: Keras's download and cache.
``DRISE_TF_OUTPUT``
    Folder holding ``models/`` and ``figures/`` (default: the repository root).
"""
from __future__ import annotations

import os
import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Optional

import matplotlib
import numpy as np

from drise_tf.data import Standardizer, load_cifar10
from drise_tf.reproduction.profiles import Profile, get_profile
from drise_tf.training.runs import load_run

PROFILE_ENV, DATA_ENV, OUTPUT_ENV = "DRISE_TF_EXPERIMENT_PROFILE", "DRISE_TF_DATA", "DRISE_TF_OUTPUT"


@dataclass
class Experiment:
    """What an experiment script starts from.

    Attributes
    ----------
    profile : Profile
        The profile's settings (N masks, image counts, seed, ...); the script copies what it uses into its
        parameter cell.
    data : str or None
        The CIFAR-10 source.
    root, run_dir, figures_dir : pathlib.Path
        Output root, the trained run of the profile, and this script's figure folder.
    keep_open : bool
        True where figures can be seen (Spyder, a display): leave them open after saving.
    x_test, y_test : np.ndarray
        Test images uint8 (N, 32, 32, 3) and labels int64 (N,), cut to the profile's ``n_test``.
    model, standardizer
        The trained run (None when the script was asked not to load it).
    """

    profile: Profile
    data: Optional[str]
    root: pathlib.Path
    run_dir: pathlib.Path
    figures_dir: pathlib.Path
    keep_open: bool
    x_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    model: Any = None
    standardizer: Optional[Standardizer] = None


def setup(script: str, *, load_data: bool = True, load_model: bool = True) -> Experiment:
    """Start an experiment script: backend, profile, paths, test data and the trained run.

    Parameters
    ----------
    script : str
        The script's ``__file__`` (names its figure folder ``figures/experiments/<stem>``).
    load_data, load_model : bool
        Load the test split / the profile's trained run (scripts that train or build their own model skip them).

    Returns
    -------
    Experiment
    """
    if "IPython" not in sys.modules and not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")  # a headless `python` run draws to files only; Spyder shows figures in its Plots pane
    profile = get_profile(os.environ.get(PROFILE_ENV, "quick"))
    root = pathlib.Path(os.environ.get(OUTPUT_ENV) or pathlib.Path(script).resolve().parents[1])
    experiment = Experiment(
        profile=profile, data=os.environ.get(DATA_ENV), root=root, run_dir=root / "models" / profile.run_name,
        figures_dir=root / "figures" / "experiments" / pathlib.Path(script).stem,
        keep_open=matplotlib.get_backend().lower() != "agg",
    )
    if load_data:
        _, (x_test, y_test) = load_cifar10(experiment.data)
        cut = slice(None) if profile.n_test is None else slice(profile.n_test)
        experiment.x_test, experiment.y_test = x_test[cut], y_test[cut]
    if load_model:
        experiment.model, experiment.standardizer = load_run(experiment.run_dir)
    return experiment
