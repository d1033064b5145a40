"""D-RISE speed and memory, as ratios against baselines measured in the same run (run by hand).

    python benchmarks/drise_bench.py                 # full: N = 5000 on the CIFAR ResNet-18
    python benchmarks/drise_bench.py --n-masks 500   # quicker

Prints:
1. masks/s of the fast vs the scipy reference mask path (nearest and bilinear; 32x32 and 224x224);
2. CIFAR ResNet-18 (random weights), one image, N masks: D-RISE time / time of a pure compiled forward pass over N
   images at the same batch size (the floor), float32; then bfloat16 vs float32 D-RISE;
3. several images per call (they share the mask batches) vs one call per image;
4. peak RSS of a 224x224 ResNet-50 (weights=None) explanation, each N in a fresh subprocess, to show that the memory
   does not depend on N (the time per mask is also printed, to extrapolate to N = 5000).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from drise_tf.explain.drise import DRise  # noqa: E402
from drise_tf.explain.masks import plan_masks  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_masks() -> None:
    print("== masks: fast vs reference (scipy loop) path")
    for size, grid, n, upsample in [(32, 16, 5000, "nearest"), (32, 16, 5000, "bilinear"),
                                    (224, 16, 500, "nearest"), (224, 7, 500, "bilinear")]:
        plan = plan_masks(n, grid, 0.5, size, upsample=upsample, seed=0)
        fast, a = timed(lambda: plan.render(method="fast"))
        reference, b = timed(lambda: plan.render(method="reference"))
        same = "identical" if np.array_equal(a, b) else f"max diff {np.abs(a - b).max():.1e}"
        print(f"  {size}x{size} grid {grid} {upsample:8s} N={n}: fast {n / fast:10.0f} masks/s, "
              f"reference {n / reference:8.0f} masks/s, speed-up x{reference / fast:.1f} ({same})")


def forward_floor(model, n: int, batch_size: int, seed: int = 0) -> float:
    """Seconds for a compiled forward pass over n images in batches of batch_size (inputs prepared beforehand)."""
    images = np.random.default_rng(seed).normal(size=(n,) + tuple(model.input_shape[1:])).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32)])
    forward(images[:batch_size])  # trace

    def run():
        for start in range(0, n, batch_size):
            forward(images[start : start + batch_size]).numpy()

    return timed(run)[0]


def explain_time(explainer: DRise, images: np.ndarray, targets) -> float:
    """Time of explain(); the engine keeps its compiled step, so rounds after the first exclude tracing."""
    return timed(lambda: explainer.explain(images, targets))[0]


def bench_resnet18(n: int, batch_size: int, bf16_n: int, multi: int, multi_n: int, repeats: int) -> None:
    from drise_tf.training.architectures import resnet18

    tf.random.set_seed(0)
    model = resnet18(input_shape=(32, 32, 3), num_classes=10)
    image = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype(np.float32)
    print(f"== CIFAR ResNet-18, random weights, N={n}, batch {batch_size}")
    explainer = DRise.thesis(model, n_masks=n, batch_size=batch_size, seed=0)
    rounds = [(forward_floor(model, n, batch_size), explain_time(explainer, image, [3])) for _ in range(repeats)]
    floor, drise32 = min(r[0] for r in rounds), min(r[1] for r in rounds)  # interleaved; min of each (shared CPU)
    print(f"  per round (forward, D-RISE) s: {[(round(a, 1), round(b, 1)) for a, b in rounds]}")
    print(f"  pure forward pass over {n} images: {floor:7.2f} s")
    print(f"  D-RISE float32:                    {drise32:7.2f} s   ratio D-RISE / forward = {drise32 / floor:.3f}"
          f" (goal <= 1.05)")

    if bf16_n != n:
        drise32 = explain_time(DRise.thesis(model, n_masks=bf16_n, batch_size=batch_size, seed=0), image, [3])
    drise16 = explain_time(DRise.thesis(model, n_masks=bf16_n, batch_size=batch_size, seed=0, precision="bfloat16"),
                           image, [3])
    print(f"  N={bf16_n}: float32 {drise32:.2f} s, bfloat16 {drise16:.2f} s, speed-up bfloat16 = "
          f"x{drise32 / drise16:.2f} (goal >= 1.3; needs CPU/GPU bfloat16 support)")

    images = np.random.default_rng(2).normal(size=(multi, 32, 32, 3)).astype(np.float32)
    targets = list(range(multi))
    together = explain_time(DRise.thesis(model, n_masks=multi_n, batch_size=batch_size, seed=0), images, targets)
    one_by_one = DRise.thesis(model, n_masks=multi_n, batch_size=batch_size, seed=0)
    explain_time(one_by_one, images[:1], targets[:1])  # warm-up the single-image trace too
    separate = timed(lambda: [one_by_one.explain(images[i : i + 1], [t]) for i, t in enumerate(targets)])[0]
    print(f"  {multi} images, N={multi_n}: one call (shared mask batches) {together:.2f} s, one call per image "
          f"{separate:.2f} s, ratio {together / separate:.3f}")


def child_224(n: int, batch_size: int) -> None:
    """Subprocess body: one 224x224 ResNet-50 explanation; prints JSON with time and peak RSS."""
    from drise_tf.core.compat import keras

    model = keras.applications.ResNet50(weights=None)
    image = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype(np.float32)
    explainer = DRise.thesis(model, n_masks=n, batch_size=batch_size, seed=0)
    rss_model = peak_rss_mb()
    seconds, _ = timed(lambda: explainer.explain(image, [1]))
    print(json.dumps(dict(n=n, seconds=seconds, rss_model_mb=rss_model, peak_rss_mb=peak_rss_mb())))


def bench_224(sizes, batch_size: int) -> None:
    print(f"== 224x224 ResNet-50 (weights=None), batch {batch_size}, peak RSS per N (fresh subprocess each)")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--child-224", str(n), "--batch-size", str(batch_size)],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(f"  N={n:5d}: peak RSS {result['peak_rss_mb']:7.0f} MB (after building the model "
              f"{result['rss_model_mb']:.0f} MB), {result['seconds']:.1f} s"
              f" = {result['seconds'] / n * 1000:.0f} ms/mask"
              f" -> N=5000 would take ~{result['seconds'] / n * 5000 / 60:.0f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-masks", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--bf16-n", type=int, default=None, help="N for the bfloat16 comparison (default: --n-masks)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds of forward floor vs D-RISE")
    parser.add_argument("--multi", type=int, default=4, help="images per call in the shared-batches comparison")
    parser.add_argument("--multi-n", type=int, default=250)
    parser.add_argument("--n-224", type=int, nargs="*", default=[50, 200])
    parser.add_argument("--batch-224", type=int, default=50)
    parser.add_argument("--skip", nargs="*", default=[], choices=["masks", "resnet18", "224"])
    parser.add_argument("--child-224", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_224 is not None:
        child_224(args.child_224, args.batch_size)
        return
    if "masks" not in args.skip:
        bench_masks()
    if "resnet18" not in args.skip:
        bench_resnet18(args.n_masks, args.batch_size, args.bf16_n or args.n_masks, args.multi, args.multi_n,
                       args.repeats)
    if "224" not in args.skip:
        bench_224(args.n_224, args.batch_224)


if __name__ == "__main__":
    main()
