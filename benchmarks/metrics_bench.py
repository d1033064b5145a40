"""Benchmark: batched deletion/insertion curves vs one forward pass per image and step (the naive baseline).

Run by hand: ``python benchmarks/metrics_bench.py [--images 16] [--step 32]``. Prints times and the speed-up ratio,
both measured in the same run (timings on a shared CPU drift, ratios are what to compare).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from drise_tf import metrics
from drise_tf.core.compat import keras


def small_cnn() -> "keras.Model":
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def per_image_loop(model, images, maps, step, classes) -> np.ndarray:
    """Deletion curves with one forward pass per image and step (what the batched version replaces)."""
    order = metrics.salience_order(maps)
    height, width = maps.shape[1:]
    curves = []
    for image, pixels, cls in zip(images, order, classes):
        current = image.copy()
        values = []
        for k in range(0, height * width + step, step):
            if k:
                rows, cols = np.divmod(pixels[k - step : k], width)
                current[rows, cols, :] = 0.0
            values.append(model.predict_on_batch(current[None])[0, cls])
        curves.append(values)
    return np.array(curves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--step", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = small_cnn()
    images = rng.normal(size=(args.images, 32, 32, 3)).astype(np.float32)
    maps = rng.random((args.images, 32, 32))
    classes = metrics.predicted_classes(model, images)
    metrics.causal_curves(model, images, maps, step=args.step, classes=classes)  # warm-up (tracing)
    per_image_loop(model, images[:1], maps[:1], args.step, classes[:1])

    start = time.perf_counter()
    naive = per_image_loop(model, images, maps, args.step, classes)
    naive_time = time.perf_counter() - start
    start = time.perf_counter()
    batched = metrics.causal_curves(model, images, maps, step=args.step, classes=classes)
    batched_time = time.perf_counter() - start
    np.testing.assert_allclose(batched, naive, rtol=1e-4, atol=1e-6)
    print(f"{args.images} images, {batched.shape[1]} points per curve")
    print(f"per-image loop : {naive_time:7.3f} s")
    print(f"batched        : {batched_time:7.3f} s")
    print(f"speed-up       : {naive_time / batched_time:7.1f}x (same run, same results)")


if __name__ == "__main__":
    main()
