"""Tests of drise_tf.training.recipes: the registered recipes and their errors."""
from __future__ import annotations

import pytest

from drise_tf import training
from drise_tf.core.compat import keras
from drise_tf.training.schedules import OneCycle

# ------------------------------------------------------------------------------------------------------ schedules

def test_recipes():
    assert set(training.RECIPES.available()) == {"thesis", "onecycle", "cpu_onecycle", "cpu_strong", "adam_cnn"}
    strong = training.get_recipe("cpu_strong")
    assert (strong.epochs, strong.batch_size, strong.augmentation, strong.label_smoothing) == (
        50, 128, "random_cutout", 0.1)
    strong_optimizer = strong.make_optimizer(strong.make_schedule(149, 50, 19_000, 128, False))
    # decoupled decay 5e-3 = PyTorch's coupled 5e-4 amplified by the momentum's 1 / (1 - 0.9)
    assert strong_optimizer.nesterov and float(strong_optimizer.weight_decay) == pytest.approx(5e-4 / (1 - 0.9))
    assert isinstance(strong.make_schedule(149, 50, 19_000, 128, False), OneCycle)
    assert training.get_recipe("thesis").label_smoothing == 0.0
    cpu = training.get_recipe("cpu_onecycle")
    assert (cpu.epochs, cpu.batch_size, cpu.augmentation) == (8, 128, "random")
    cpu_optimizer = cpu.make_optimizer(cpu.make_schedule(100, 8, 12_800, 128, False))
    assert cpu_optimizer.nesterov and float(cpu_optimizer.weight_decay) == pytest.approx(5e-4)
    thesis = training.get_recipe("thesis")
    assert (thesis.epochs, thesis.batch_size, thesis.augmentation) == (100, 128, "thesis")
    optimizer = thesis.make_optimizer(thesis.make_schedule(625, 100, 40_000, 128, True))
    assert float(optimizer.momentum) == pytest.approx(0.9) and not optimizer.nesterov
    adam = training.get_recipe("adam_cnn")
    assert (adam.epochs, adam.validation_fraction, adam.best_metric) == (5, 0.2, "val_accuracy")
    assert isinstance(adam.make_optimizer(1e-3), keras.optimizers.Adam)
    assert isinstance(training.get_recipe("onecycle").make_schedule(10, 3, 1280, 128, False), OneCycle)
    with pytest.raises(ValueError, match="nope"):
        training.get_recipe("nope")
