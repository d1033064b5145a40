"""Training recipes: optimiser, schedule, batch size, augmentation and epochs of the thesis, of the PyTorch ResNet-18
study (one-cycle) and of the Keras CNN study (Adam)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from drise_tf.core.compat import keras
from drise_tf.core.registry import Registry
from drise_tf.training.schedules import OneCycle, thesis_learning_rate


@dataclass(frozen=True)
class Recipe:
    """A training recipe.

    Attributes
    ----------
    name, description : str
    epochs, batch_size : int
        Defaults; :func:`~drise_tf.training.loop.train` can override them.
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
    label_smoothing : float
        Label smoothing of the training cross-entropy (0: none).
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
    label_smoothing: float = 0.0


def _thesis_schedule(steps_per_epoch: int, epochs: int, n_train: int, batch_size: int, lr_quirk: bool) -> Any:
    return thesis_learning_rate(steps_per_epoch, epochs, n_train=n_train, batch_size=batch_size, lr_quirk=lr_quirk)


def _onecycle_schedule(steps_per_epoch: int, epochs: int, n_train: int, batch_size: int, lr_quirk: bool) -> Any:
    return OneCycle(max_lr=0.1, total_steps=steps_per_epoch * epochs)


def _sgd(learning_rate: Any) -> Any:
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=False)


def _sgd_nesterov_decay(learning_rate: Any) -> Any:
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=True, weight_decay=5e-4)


def _sgd_nesterov_coupled_decay(learning_rate: Any) -> Any:
    # Keras decouples weight decay (w -= lr * wd * w per step); PyTorch's SGD(weight_decay=5e-4, momentum=0.9), the
    # usual CIFAR ResNet recipe, adds wd * w to the gradient, which the momentum amplifies 1 / (1 - 0.9) = 10 times.
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=True, weight_decay=5e-3)


def _adam(learning_rate: Any) -> Any:
    return keras.optimizers.Adam(learning_rate=learning_rate)


RECIPES: Registry[Recipe] = Registry("training recipe")
RECIPES.register("thesis", Recipe(
    "thesis", "The thesis: SGD momentum 0.9, cosine decay 0.1 -> 0, batch 128, originals + augmented copy, 100 epochs",
    epochs=100, batch_size=128, augmentation="thesis", make_schedule=_thesis_schedule, make_optimizer=_sgd,
    supports_lr_quirk=True,
))
RECIPES.register("onecycle", Recipe(
    "onecycle", "PyTorch ResNet-18 study: SGD momentum 0.9 with a one-cycle policy (peak 0.1, 30% warm-up), "
    "batch 128, random augmentation, 30 epochs (peak and length are our choice; the study gives none)",
    epochs=30, batch_size=128, augmentation="random", make_schedule=_onecycle_schedule, make_optimizer=_sgd,
))
RECIPES.register("cpu_onecycle", Recipe(
    "cpu_onecycle", "The thesis's network in minutes on a CPU (the quick profile): SGD momentum 0.9 (Nesterov) with "
    "weight decay 5e-4 and a one-cycle policy (peak 0.1, 30% warm-up), batch 128, random crop and flip, 8 epochs",
    epochs=8, batch_size=128, augmentation="random", make_schedule=_onecycle_schedule,
    make_optimizer=_sgd_nesterov_decay,
))
RECIPES.register("cpu_strong", Recipe(
    "cpu_strong", "A strong ResNet-18 on a 2-core CPU (the strong profile): SGD momentum 0.9 (Nesterov), weight decay "
    "as PyTorch's 5e-4 under momentum, one-cycle policy (peak 0.1, 30% warm-up), label smoothing 0.1, batch 128, "
    "random crop, flip and 8x8 cutout, 50 epochs",
    epochs=50, batch_size=128, augmentation="random_cutout", make_schedule=_onecycle_schedule,
    make_optimizer=_sgd_nesterov_coupled_decay, label_smoothing=0.1,
))
RECIPES.register("adam_cnn", Recipe(
    "adam_cnn", "Keras CNN study: Adam (lr 0.001), 5 epochs, batch 32, no augmentation, 20% validation split, "
    "keeps the checkpoint with the best val_accuracy",
    epochs=5, batch_size=32, augmentation="none", make_schedule=lambda *args: 1e-3, make_optimizer=_adam,
    validation_fraction=0.2, best_metric="val_accuracy",
))


def get_recipe(name: str | Recipe) -> Recipe:
    """The :class:`Recipe` registered as ``name`` ("thesis", "onecycle", "cpu_onecycle", "cpu_strong", "adam_cnn");
    a Recipe passes through."""
    return name if isinstance(name, Recipe) else RECIPES.get(name)
