"""Forward-pass speed of the black-box working copies: the model vs its BatchNormalization-folded copy (run by hand).

    python benchmarks/forward_copies.py                                  # widths 8 32 64, 3000 images, 3 rounds
    python benchmarks/forward_copies.py --images 1000 --widths 8 32      # quicker
    python benchmarks/forward_copies.py --method both --bfloat16         # also predict_on_batch; bf16 copies too

For each width of the CIFAR ResNet-18 (random weights, random BN statistics so that the fold is not trivial) the
same batches go through each copy in interleaved rounds (every round times every width and copy once, the copies'
order alternating), so that load from other processes hits them alike: compare the ratios, not the absolute rates.
The forward is the one D-RISE compiles (``tf.function`` of ``model(x, training=False)`` with a ``[None, H, W, C]``
input signature); ``--method predict_on_batch`` times ``model.predict_on_batch`` instead.

Prints per width: images/s of each copy (median over rounds), the ratio folded/plain (median of the per-round ratios,
with its range), and the largest absolute difference of the softmax outputs over all images.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from drise_tf.core.compat import keras, variable_short_name  # noqa: E402
from drise_tf.explain.model_copies import forward_copy  # noqa: E402
from drise_tf.training.architectures import resnet18  # noqa: E402


def randomise_batch_norm(model, seed: int = 0):
    """Random BN gamma/beta/moving statistics (gamma scaled by the standard deviation: activations stay O(1))."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = int(layer.moving_variance.shape[0])
            variance = np.exp(rng.uniform(np.log(1e-3), np.log(2.0), channels))
            values = {"gamma": rng.choice([-1.0, 1.0], channels) * rng.uniform(0.5, 1.5, channels) * np.sqrt(variance),
                      "beta": rng.normal(0.0, 0.5, channels), "moving_mean": rng.normal(0.0, 0.5, channels),
                      "moving_variance": variance}
            layer.set_weights([values[variable_short_name(v)].astype(np.float32) for v in layer.weights])
    return model


def make_forward(model, method: str):
    if method == "predict_on_batch":
        return lambda batch: model.predict_on_batch(batch)
    compiled = tf.function(lambda x: model(x, training=False),
                           input_signature=[tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32)])
    return lambda batch: compiled(batch).numpy()


def run_all(forward, batches) -> np.ndarray:
    return np.concatenate([np.asarray(forward(batch), dtype=np.float32) for batch in batches])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--images", type=int, default=3000, help="images per timed pass (default 3000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 1, default 3)")
    parser.add_argument("--method", choices=("function", "predict_on_batch", "both"), default="function")
    parser.add_argument("--bfloat16", action="store_true", help="also time the bfloat16 copy, unfolded and folded")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.rounds < 1 or args.images < 1 or args.batch_size < 1:
        parser.error("--rounds, --images and --batch-size must be positive")

    methods = ("function", "predict_on_batch") if args.method == "both" else (args.method,)
    precisions = ("float32", "bfloat16") if args.bfloat16 else ("float32",)
    rng = np.random.default_rng(args.seed)
    images = rng.normal(size=(args.images, 32, 32, 3)).astype(np.float32)
    batches = [tf.constant(images[i : i + args.batch_size]) for i in range(0, args.images, args.batch_size)]

    # (width, method, precision, fold) -> forward; warm-up (tracing) and the softmax differences happen here
    forwards, diffs = {}, {}
    for width in args.widths:
        tf.random.set_seed(args.seed)
        model = randomise_batch_norm(resnet18(width=width), seed=args.seed)
        for precision in precisions:
            copies = {fold: forward_copy(model, precision, fold=fold) for fold in (False, True)}
            for method in methods:
                for fold, copy in copies.items():
                    forwards[(width, method, precision, fold)] = make_forward(copy, method)
                    forwards[(width, method, precision, fold)](batches[0])
            plain = run_all(make_forward(copies[False], "function"), batches)
            folded = run_all(make_forward(copies[True], "function"), batches)
            diffs[(width, precision)] = float(np.abs(plain - folded).max())
            if precision == "float32":
                reference = plain
            else:
                diffs[(width, "bfloat16 vs float32")] = float(np.abs(folded - reference).max())

    seconds = {key: [] for key in forwards}
    for index in range(args.rounds):
        for width in args.widths:
            for method in methods:
                for precision in precisions:
                    for fold in ((False, True) if index % 2 == 0 else (True, False)):
                        key = (width, method, precision, fold)
                        start = time.perf_counter()
                        run_all(forwards[key], batches)
                        seconds[key].append(time.perf_counter() - start)
        print(f"round {index + 1}/{args.rounds} done", flush=True)

    print(f"\n== ResNet-18, {args.images} images in batches of {args.batch_size}, {args.rounds} interleaved rounds "
          f"(TensorFlow {tf.__version__}); images/s are medians over rounds")
    for width in args.widths:
        for precision in precisions:
            for method in methods:
                plain, folded = seconds[(width, method, precision, False)], seconds[(width, method, precision, True)]
                ratios = [p / f for p, f in zip(plain, folded)]  # folded speed / plain speed
                plain_rate = args.images / statistics.median(plain)
                folded_rate = args.images / statistics.median(folded)
                print(f"  width {width:3d} {precision:8s} {method:16s}: plain {plain_rate:8.0f} img/s, "
                      f"folded {folded_rate:8.0f} img/s, speed folded/plain x{statistics.median(ratios):.2f} "
                      f"[{min(ratios):.2f}, {max(ratios):.2f}]")
            print(f"  width {width:3d} {precision:8s} max |softmax folded - plain| = {diffs[(width, precision)]:.2e}")
            if precision == "bfloat16":
                print(f"  width {width:3d} bfloat16 folded vs float32 plain: max |softmax diff| = "
                      f"{diffs[(width, 'bfloat16 vs float32')]:.2e}")


if __name__ == "__main__":
    main()
