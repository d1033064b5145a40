"""Seconds per stable D-RISE map (an estimated two-seed Spearman of 0.9), against the pure forward pass (run by hand).

    python benchmarks/stable_map_speed.py --data ../shared/data/cifar10-subset.npz
    python benchmarks/stable_map_speed.py --design "8x8 bilinear p0.25" --images 16

For the quick and the strong network, in float32 and bfloat16: a D-RISE design run in rounds of 1,000 antithetic
Sobol masks until each map's estimated two-seed Spearman reaches 0.9 (cap 40,000; as `DRise(model)` does by
default), on test images explained together; printed: seconds per map, median masks per map, and the ratio to a pure
compiled forward pass over the same number of masked images at the same batch size and precision (the floor,
measured in the same run). Then the full-width ResNet-18 (width 64, the thesis's, random weights): its time per
forward pass times the median masks to 0.9 measured on strong, a projection. Timings drift on shared machines:
read the ratios, and compare variants of one run only.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from drise_tf import DRise, load_cifar10, load_run  # noqa: E402
from drise_tf.core.console import cpu_description  # noqa: E402
from drise_tf.evaluation.design_sweep import (  # noqa: E402
    STABILITY_CAP,
    STABILITY_ROUND,
    STABILITY_TARGET,
    SWEEP_DESIGNS,
)
from drise_tf.explain.model_copies import forward_copy  # noqa: E402
from drise_tf.training.architectures import resnet18  # noqa: E402

BATCH = 100


def forward_seconds(model, n: int, precision: str) -> float:
    """Seconds of a compiled forward pass of D-RISE's working copy over ``n`` images in batches of :data:`BATCH`,
    the inputs made beforehand (the floor a D-RISE map cannot go below)."""
    working = forward_copy(model, precision)
    shape = tuple(model.input_shape[1:])
    batch = np.random.default_rng(0).normal(size=(BATCH,) + shape).astype(np.float32)
    forward = tf.function(lambda x: working(x, training=False),
                          input_signature=[tf.TensorSpec((None,) + shape, tf.float32)])
    forward(batch).numpy()  # trace
    began = time.perf_counter()
    for _ in range(-(-n // BATCH)):
        forward(batch).numpy()
    return time.perf_counter() - began


def stable_maps(model, images: np.ndarray, labels: np.ndarray, design: dict, precision: str):
    """(seconds per map, masks per map) of the design (the default's when empty) run to the target on ``images``,
    after one warm-up call."""
    explainer = DRise(model, **design, sampling="antithetic_sobol", n_masks=STABILITY_ROUND,
                      target_stability=STABILITY_TARGET, max_masks=STABILITY_CAP, precision=precision, seed=0,
                      batch_size=BATCH)
    explainer.explain(images[:1], labels[:1])  # builds the working copy and traces the step
    began = time.perf_counter()
    explainer.explain(images, labels)
    return (time.perf_counter() - began) / len(images), explainer.masks_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--design", default="recommended", choices=["recommended", *sorted(SWEEP_DESIGNS)],
                        help="the D-RISE design timed: the recommended one (DRise's default) or a design of the sweep")
    parser.add_argument("--images", type=int, default=8, help="test images explained together")
    parser.add_argument("--data", default=None)
    parser.add_argument("--runs", nargs="+", default=["models/quick_sweep", "models/strong"])
    args = parser.parse_args()
    print(f"CPU: {cpu_description()}; TensorFlow {tf.__version__}; design {args.design}, {args.images} images")
    _, (x_test, y_test) = load_cifar10(args.data)
    strong_masks = None
    for run in args.runs:
        model, standardizer = load_run(run)
        images = standardizer.transform(x_test[: args.images])
        labels = np.asarray(y_test[: args.images]).astype(np.int64)
        for precision in ("float32", "bfloat16"):
            seconds, used = stable_maps(model, images, labels, SWEEP_DESIGNS.get(args.design, {}), precision)
            floor = forward_seconds(model, int(used.sum()), precision) / len(images)
            print(f"{run} {precision}: {seconds:.2f} s per stable map, median {np.median(used):.0f} masks "
                  f"(max {used.max()}); pure forward pass over the same masks {floor:.2f} s per map; ratio "
                  f"{seconds / floor:.2f}", flush=True)
            if run.endswith("strong") and precision == "float32":
                strong_masks = float(np.median(used))
    if strong_masks is not None:
        full = resnet18(input_shape=(32, 32, 3), num_classes=10)
        for precision in ("float32", "bfloat16"):
            per_forward = forward_seconds(full, 2000, precision) / 2000
            print(f"full width (64) {precision}: {per_forward * 1e3:.3f} ms per forward pass x {strong_masks:.0f} "
                  f"masks (strong's median) = {per_forward * strong_masks:.1f} s per stable map (projected)",
                  flush=True)


if __name__ == "__main__":
    main()
