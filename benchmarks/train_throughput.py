"""Training throughput of the thesis ResNet-18 vs the input pipeline's throughput, measured in one run.

Prints images/s of a ResNet-18 training step (float32 and Keras's mixed_bfloat16 policy) and of
``drise_tf.data.make_train_dataset`` with the thesis augmentation, and the pipeline/training ratio, which
must be at least 10 so the pipeline is never the bottleneck.

    python benchmarks/train_throughput.py [--steps 4] [--batch-size 32] [--images 10000]
"""
from __future__ import annotations

import argparse
import time
from typing import Iterable

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras
from drise_tf.data import Standardizer, make_train_dataset
from drise_tf.training import get_recipe
from drise_tf.training.architectures import resnet18


def training_images_per_second(precision: str, batch_size: int, steps: int, warmup: int = 1) -> float:
    """Images/s of ``model.fit`` steps of ResNet-18 (thesis optimiser) on in-memory batches."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = resnet18()
        recipe = get_recipe("thesis")
        model.compile(optimizer=recipe.make_optimizer(recipe.make_schedule(625, 100, 40_000, 128, False)),
                      loss="categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
        y = np.eye(10, dtype="float32")[rng.integers(0, 10, batch_size)]
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)  # trace and compile
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        return steps * batch_size / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def pipeline_images_per_second(dataset: Iterable, warmup: int = 3) -> float:
    """Images/s of iterating one epoch of ``dataset`` (first ``warmup`` batches untimed)."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    count, start = 0, time.perf_counter()
    for images, _ in iterator:
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per precision")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=10_000, help="training images in the pipeline epoch")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x_uint8 = rng.integers(0, 256, size=(args.images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=args.images)
    x_std = Standardizer.fit(x_uint8).transform(x_uint8)
    pipeline = pipeline_images_per_second(
        make_train_dataset(x_std, y, batch_size=args.batch_size, augmentation="thesis", seed=0))
    print(f"input pipeline (thesis augmentation, batch {args.batch_size}): {pipeline:10.1f} images/s", flush=True)

    results = {}
    for precision in ("float32", "mixed_bfloat16"):
        results[precision] = training_images_per_second(precision, args.batch_size, args.steps)
        print(f"resnet18 training step, {precision:>14s}:            {results[precision]:10.1f} images/s", flush=True)

    fastest = max(results.values())
    ratio = pipeline / fastest
    print(f"pipeline / fastest training step = {ratio:.1f}x  (float32: {pipeline / results['float32']:.1f}x, "
          f"mixed_bfloat16: {pipeline / results['mixed_bfloat16']:.1f}x; "
          f"bfloat16 / float32 training = {results['mixed_bfloat16'] / results['float32']:.2f})")
    print("OK: the pipeline is >= 10x faster than training" if ratio >= 10 else
          "WARNING: the pipeline is less than 10x faster than training")


if __name__ == "__main__":
    main()
