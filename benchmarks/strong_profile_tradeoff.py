"""Training throughput of ResNet-18 (the thesis's topology) per base width and precision, and what a 2-hour budget on
this CPU buys: the measurement behind the strong profile's width, precision and epochs.

For each width and precision, times ``model.fit`` steps of the strong recipe's optimiser (batch 128) on in-memory
batches after a warm-up, and prints images/s, seconds per epoch of the strong profile's 19,000 training images and the
epochs that fit in the budget. Run it on an idle machine (training throughput halves when another job shares the two
cores); the ratios between rows are what carries over to other CPUs.

    python benchmarks/strong_profile_tradeoff.py [--widths 32 48 64] [--steps 6] [--budget-minutes 100]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras
from drise_tf.training import get_recipe, resnet18


def images_per_second(width: int, policy: str, *, batch_size: int = 128, steps: int = 6) -> float:
    """Images/s of the strong recipe's training step for ResNet-18 at ``width`` under a Keras dtype ``policy``."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = resnet18(width=width)
        recipe = get_recipe("cpu_strong")
        model.compile(optimizer=recipe.make_optimizer(recipe.make_schedule(149, 50, 19_000, batch_size, False)),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing))
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
        y = np.eye(10, dtype="float32")[rng.integers(0, 10, batch_size)]
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        return steps * batch_size / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 48, 64])
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per row")
    parser.add_argument("--n-train", type=int, default=19_000, help="training images per epoch")
    parser.add_argument("--budget-minutes", type=float, default=100.0, help="training time budget")
    args = parser.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}; TensorFlow {tf.__version__}", flush=True)
    print(f"{'width':>5} {'precision':>15} {'images/s':>9} {'s/epoch':>8} {'epochs in budget':>17}")
    for width in args.widths:
        for policy in ("float32", "mixed_bfloat16"):
            rate = images_per_second(width, policy, steps=args.steps)
            epoch = args.n_train / rate
            print(f"{width:>5} {policy:>15} {rate:>9.1f} {epoch:>8.1f} {args.budget_minutes * 60 / epoch:>17.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
