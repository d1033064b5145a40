"""Tests of drise_tf.training.schedules against closed forms: the thesis cosine decay (with and without its quirk),
OneCycle."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drise_tf.core.compat import keras
from drise_tf.training.schedules import (
    OneCycle,
    learning_rate_at,
    thesis_decay_steps,
    thesis_learning_rate,
)

# ------------------------------------------------------------------------------------------------------ schedules

def _cosine(step: float, decay: int, initial: float = 0.1) -> float:
    return initial * 0.5 * (1 + math.cos(math.pi * min(step, decay) / decay))


def test_thesis_schedule_corrected_and_quirk_against_closed_form():
    corrected = thesis_learning_rate(625, 100)
    quirk = thesis_learning_rate(625, 100, lr_quirk=True)
    assert thesis_decay_steps(625, 100) == 62_500
    assert thesis_decay_steps(625, 100, lr_quirk=True) == 31_250
    for step in (0, 1, 10_000, 31_249, 31_250, 40_000, 62_499, 62_500):
        assert learning_rate_at(corrected, step) == pytest.approx(_cosine(step, 62_500), abs=1e-7)
        assert learning_rate_at(quirk, step) == pytest.approx(_cosine(step, 31_250), abs=1e-7)
    assert learning_rate_at(quirk, 0) == pytest.approx(0.1)
    assert learning_rate_at(quirk, 15_625) == pytest.approx(0.05, rel=1e-5)  # quarter of the run: half the rate
    assert learning_rate_at(quirk, 31_250) == 0.0 and learning_rate_at(quirk, 50_000) == 0.0  # 0 from epoch 50
    assert learning_rate_at(corrected, 31_250) == pytest.approx(0.05, rel=1e-5)  # corrected: halfway at epoch 50


def _onecycle_reference(step, max_lr, total, pct=0.3, div=25.0, final_div=1e4):
    """PyTorch OneCycleLR (cos, two phases) written out independently."""
    initial, low = max_lr / div, max_lr / div / final_div
    ends = [pct * total - 1, total - 1]
    step = min(step, total - 1)
    if step <= ends[0]:
        start, end, frac = initial, max_lr, step / ends[0]
    else:
        start, end, frac = max_lr, low, (step - ends[0]) / (ends[1] - ends[0])
    return end + (start - end) / 2 * (math.cos(math.pi * frac) + 1)


def test_onecycle_against_closed_form_and_landmarks():
    schedule = OneCycle(max_lr=0.1, total_steps=1000)
    for step in (0, 1, 150, 299, 300, 500, 998, 999, 5000):
        expected = _onecycle_reference(step, 0.1, 1000)
        assert learning_rate_at(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert learning_rate_at(schedule, 0) == pytest.approx(0.1 / 25)
    assert learning_rate_at(schedule, 299) == pytest.approx(0.1)  # the peak
    assert learning_rate_at(schedule, 999) == pytest.approx(0.1 / 25 / 1e4, rel=1e-4)
    steps = np.arange(0, 1000)
    values = np.array([learning_rate_at(schedule, s) for s in steps[::37]])
    assert values.max() <= 0.1 + 1e-7


def test_onecycle_serialises():
    schedule = OneCycle(max_lr=0.05, total_steps=200, pct_start=0.25, div_factor=10.0, final_div_factor=100.0)
    clone = OneCycle.from_config(schedule.get_config())
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 30, 49, 120, 199):
        assert learning_rate_at(clone, step) == pytest.approx(learning_rate_at(schedule, step))
        assert learning_rate_at(restored, step) == pytest.approx(learning_rate_at(schedule, step))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: thesis_learning_rate(0, 10), "steps_per_epoch"),
        (lambda: thesis_learning_rate(10, 0), "epochs"),
        (lambda: thesis_learning_rate(10, 10, initial=-0.1), "initial"),
        (lambda: OneCycle(0.1, 100, pct_start=1.5), "pct_start"),
        (lambda: OneCycle(-1.0, 100), "max_lr"),
        (lambda: OneCycle(0.1, 0), "total_steps"),
        (lambda: OneCycle(0.1, 2), "too short"),
    ],
)
def test_schedule_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
