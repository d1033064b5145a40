"""Learning-rate schedules: the thesis's cosine decay (with its decay-length quirk) and a one-cycle policy."""
from __future__ import annotations

import math
from typing import Any, Dict

import tensorflow as tf

from drise_tf.core.compat import keras

#: The thesis's quirky decay length: 40,000 / 128 * 100 = 31,250 steps (the run has 62,500).
THESIS_QUIRK_DECAY_STEPS = 31_250


def _positive(name: str, value: Any, kind: type = int) -> None:
    if not isinstance(value, (int, float) if kind is float else int) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


def thesis_decay_steps(
    steps_per_epoch: int, epochs: int, *, n_train: int = 40_000, batch_size: int = 128, lr_quirk: bool = False
) -> int:
    """Cosine decay length: ``steps_per_epoch * epochs``, or with ``lr_quirk`` the thesis's
    ``n_train / batch_size * epochs``.

    The thesis computed the length from the 40k originals although each epoch also holds an augmented
    copy (625 steps, not 312.5), so its learning rate reached 0 at epoch 50 of 100 and stayed there.
    """
    for name, value in (("steps_per_epoch", steps_per_epoch), ("epochs", epochs), ("n_train", n_train),
                        ("batch_size", batch_size)):
        _positive(name, value)
    if lr_quirk:
        return max(1, int(n_train / batch_size * epochs))
    return steps_per_epoch * epochs


def thesis_learning_rate(
    steps_per_epoch: int,
    epochs: int,
    *,
    n_train: int = 40_000,
    batch_size: int = 128,
    initial: float = 0.1,
    lr_quirk: bool = False,
) -> Any:
    """The thesis schedule: cosine decay from ``initial`` to 0 (alpha 0), see :func:`thesis_decay_steps`.

    Returns
    -------
    keras.optimizers.schedules.CosineDecay
        ``lr(step) = initial * (1 + cos(pi * min(step, D) / D)) / 2`` with D the decay length; after D
        steps the rate stays 0 (that is what the quirk does from half-time on).
    """
    _positive("initial", initial, float)
    decay = thesis_decay_steps(steps_per_epoch, epochs, n_train=n_train, batch_size=batch_size, lr_quirk=lr_quirk)
    return keras.optimizers.schedules.CosineDecay(float(initial), decay, alpha=0.0)


@keras.utils.register_keras_serializable(package="drise_tf")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle policy with cosine annealing, as PyTorch's ``OneCycleLR`` (two phases, ``anneal_strategy="cos"``).

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start * total_steps - 1``
    steps, then falls to ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1`` and stays
    there. (PyTorch also cycles the momentum inversely; Keras's SGD keeps a fixed momentum.)

    Parameters
    ----------
    max_lr : float
        Peak learning rate.
    total_steps : int
        Length of the cycle in optimizer steps (steps per epoch x epochs).
    pct_start : float
        Fraction of the cycle spent rising, in (0, 1).
    div_factor, final_div_factor : float
        Start rate = max_lr / div_factor; final rate = start rate / final_div_factor.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        name: str = "OneCycle",
    ) -> None:
        super().__init__()
        _positive("max_lr", max_lr, float)
        _positive("total_steps", total_steps)
        _positive("div_factor", div_factor, float)
        _positive("final_div_factor", final_div_factor, float)
        if not 0 < pct_start < 1:
            raise ValueError(f"pct_start must lie in (0, 1), got {pct_start!r}")
        if pct_start * total_steps - 1 < 1 or total_steps - 1 <= pct_start * total_steps - 1:
            raise ValueError(
                f"total_steps={total_steps} is too short for pct_start={pct_start}: each phase needs a step"
            )
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        self.name = name

    def __call__(self, step: Any) -> Any:
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        peak_step = self.pct_start * self.total_steps - 1.0
        last_step = self.total_steps - 1.0
        step = tf.minimum(tf.cast(step, tf.float32), last_step)
        rising = step <= peak_step
        start = tf.where(rising, initial, self.max_lr)
        end = tf.where(rising, self.max_lr, final)
        fraction = tf.where(rising, step / peak_step, (step - peak_step) / (last_step - peak_step))
        return end + (start - end) / 2.0 * (tf.cos(math.pi * fraction) + 1.0)

    def get_config(self) -> Dict[str, Any]:
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "name": self.name,
        }


def learning_rate_at(learning_rate: Any, step: int) -> float:
    """Value of a schedule (or a constant rate) at optimizer step ``step``, as a Python float."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        learning_rate = learning_rate(step)
    return float(tf.convert_to_tensor(learning_rate))
