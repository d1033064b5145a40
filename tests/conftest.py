"""Test set-up: caches out of $HOME, headless matplotlib, two logical CPU devices, the real-data fixture."""
from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Mapping, Optional

_CACHE = tempfile.mkdtemp(prefix="drise-tf-tests-")
os.environ.setdefault("KERAS_HOME", os.path.join(_CACHE, "keras"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_CACHE, "mpl"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute code is exercised on a one-CPU machine.
# Must run before TensorFlow initialises its devices, i.e. before any test touches a tensor.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
except RuntimeError:  # devices already initialised (e.g. conftest imported twice)
    pass

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBSET_ENV = "DRISE_TF_SUBSET"
CI_ENV = "CI"


def subset_path() -> pathlib.Path:
    """Where the development CIFAR-10 subset lives: $DRISE_TF_SUBSET or ../shared/data/cifar10-subset.npz."""
    return pathlib.Path(os.environ.get(SUBSET_ENV, REPO_ROOT.parent / "shared" / "data" / "cifar10-subset.npz"))


def ci_enabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when $CI (of ``environ``, default os.environ) is "true" or "1", in any case: .ci/run sets CI=true."""
    value = (os.environ if environ is None else environ).get(CI_ENV, "")
    return value.strip().lower() in ("true", "1")


def require_subset(path: pathlib.Path, environ: Optional[Mapping[str, str]] = None) -> pathlib.Path:
    """``path`` if it is a file; else skip the test, or under CI (:func:`ci_enabled`) fail it naming the file.

    In CI a real-data test that skips for a missing file would look like a pass: there it is a failure.
    """
    if path.is_file():
        return path
    message = f"real-data test: {path} not found (set {SUBSET_ENV} to point at cifar10-subset.npz)"
    if ci_enabled(environ):
        pytest.fail(f"{message}; ${CI_ENV} is set, so a missing data file fails instead of skipping", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """On Keras 2, tests marked ``keras3_only`` are skipped with the reason, not run to a failure."""
    from drise_tf.core.compat import KERAS3

    if KERAS3:
        return
    skip = pytest.mark.skip(reason="needs Keras 3 (this is Keras 2 / TensorFlow 2.15)")
    for item in items:
        if "keras3_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cifar_subset_file() -> pathlib.Path:
    """Path of the real CIFAR-10 development subset; skips the test when the file is absent (fails it under CI)."""
    return require_subset(subset_path())


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
