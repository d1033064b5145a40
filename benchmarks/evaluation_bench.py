"""Speed and memory of the evaluation run (``evaluate-maps``), as shares of one run's time (run by hand).

    python benchmarks/evaluation_bench.py --run models/quick --data ../shared/data/cifar10-subset.npz

On a few test images of a trained run: the time of every part of one chunk (D-RISE with every score, RISE, each
other method, ROAD, MuFidelity, deletion / insertion of the distinct pixel orders), the share of the time that is the
forward-pass floor (every forward pass the chunk makes, timed as a pure compiled forward pass over as many images),
then images per minute of whole runs, for all variants together: plain images, and images of the noise and MPRT
subsets (explained again with a second seed and on the randomised model), each from the difference of two runs (one
chunk and several) so that one-off costs cancel; from both, the projected time of the
full comparison (``--project`` images, the first 100 in both subsets); and the peak memory after one chunk and
after every run (it must not grow with the number of images).
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from drise_tf import evaluation, explain, load_cifar10, load_run, metrics  # noqa: E402
from drise_tf.evaluation.comparisons import explain_methods  # noqa: E402
from drise_tf.evaluation.run import DRISE_OPTIONS, EVALUATED_AGGREGATIONS, METHODS, METRIC_SETTINGS  # noqa: E402
from drise_tf.evaluation.trained_run import chosen_test_images  # noqa: E402
from drise_tf.explain.drise import THESIS_MASKS  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="models/quick")
    parser.add_argument("--data", default=None)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=5)
    parser.add_argument("--project", type=int, default=1000)
    args = parser.parse_args()
    if args.images <= args.chunk_size:
        parser.error(f"--images ({args.images}) must exceed --chunk-size ({args.chunk_size}): rates come from the "
                     f"difference of a one-chunk run and a longer one")

    model, standardizer = load_run(args.run)
    _, (x_test, y_test) = load_cifar10(args.data)
    ids = chosen_test_images(len(x_test), args.images, 0)
    images, labels = standardizer.transform(x_test[ids]), y_test[ids].astype(np.int64)
    n_masks = DRISE_OPTIONS["n_masks"]
    x, y = images[: args.chunk_size], labels[: args.chunk_size]
    drise = explain.DRise(model, seed=0, **THESIS_MASKS, **DRISE_OPTIONS)  # as the evaluation makes it
    drise.explain_scores(x[:1], y[:1], similarities=explain.similarity.available(),
                         aggregations=EVALUATED_AGGREGATIONS)  # compile once
    explain_methods(model, x[:1], y[:1], methods=METHODS, seed=0, **DRISE_OPTIONS)
    print(f"model {args.run}; {args.images} test images in chunks of {args.chunk_size}; D-RISE / RISE N = {n_masks}")

    # 1. the parts of one chunk
    parts = {}
    start = time.perf_counter()
    maps = drise.explain_scores(x, y, similarities=explain.similarity.available(),
                                aggregations=EVALUATED_AGGREGATIONS, return_stability=True)[0]
    parts[f"D-RISE, {len(maps)} scores x aggregations"] = time.perf_counter() - start
    for name, spec in METHODS.items():
        start = time.perf_counter()
        maps.update(explain_methods(model, x, y, methods={name: spec}, seed=0, **DRISE_OPTIONS)[0])
        parts[name] = time.perf_counter() - start
    distinct = list(dict.fromkeys(metrics.order_representatives(maps).values()))
    start = time.perf_counter()
    for name in distinct:
        metrics.road(model, x, maps[name], classes=y, **METRIC_SETTINGS["road"])
    parts[f"ROAD ({len(distinct)} distinct pixel orders of {len(maps)} maps)"] = time.perf_counter() - start
    start = time.perf_counter()
    metrics.mu_fidelity(model, x, {n: maps[n] for n in distinct}, classes=y, **METRIC_SETTINGS["mu_fidelity"])
    parts["MuFidelity (shared perturbations)"] = time.perf_counter() - start
    start = time.perf_counter()
    for name in distinct:
        metrics.deletion_insertion(model, x, maps[name], classes=y)
    parts["deletion / insertion"] = time.perf_counter() - start
    total = sum(parts.values())
    for name, seconds in parts.items():
        print(f"  {name:60s} {seconds:7.1f} s  ({seconds / total:5.1%})")

    # 2. forward-pass floor of the same chunk: the forward passes of D-RISE, RISE and the metrics (not counted: the
    # few of Faster-Score-CAM, the gradient passes of Saliency, SmoothGrad and the CAMs), as one pure forward pass
    steps = len(metrics.causal_fractions(32, 32))
    forwards = len(x) * (2 * n_masks + len(distinct) * (2 * len(METRIC_SETTINGS["road"]["fractions"]) + 2 * steps)
                         + METRIC_SETTINGS["mu_fidelity"]["n_perturbations"] + 1)
    batch = tf.constant(np.repeat(x[:1], 256, axis=0))
    forward = tf.function(lambda b: model(b, training=False))
    forward(batch)
    start = time.perf_counter()
    for _ in range(max(1, forwards // 256)):
        forward(batch).numpy()
    floor = (time.perf_counter() - start) * forwards / (256 * max(1, forwards // 256))
    print(f"  forward passes of the chunk: {forwards} -> pure forward {floor:.1f} s = {floor / total:.0%} of the "
          f"chunk's time (the rest: mask rendering, imputation solves, gradients, bookkeeping)")

    # 3. whole runs: images per minute without and with the noise / MPRT subsets, each from two runs that differ by
    # chunks of images (a run's one-off costs, e.g. tracing the randomised model, cancel out); the projected full
    # comparison
    after_chunk = peak_rss_mb()
    rates = {}
    for label, count, subsets in (("plain images", args.images, 0),
                                  ("noise + MPRT images", 2 * args.chunk_size, 2 * args.chunk_size)):
        seconds = []
        for images_in_run in (args.chunk_size, count):
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                evaluation.evaluate_maps(model, images[:images_in_run], labels[:images_in_run], folder,
                                         image_ids=ids[:images_in_run], noise_images=subsets, mprt_images=subsets,
                                         chunk_size=args.chunk_size, progress=False)
                seconds.append(time.perf_counter() - start)
        rates[label] = (count - args.chunk_size) / (seconds[1] - seconds[0]) * 60
        print(f"  whole run, every variant and metric, {label}: {rates[label]:.1f} images/min (runs of "
              f"{args.chunk_size} and {count} images: {seconds[0]:.0f} s, {seconds[1]:.0f} s); peak RSS since start "
              f"{peak_rss_mb():.0f} MB")
    subset = min(100, args.project)
    minutes = (args.project - subset) / rates["plain images"] + subset / rates["noise + MPRT images"]
    print(f"  projected full comparison of {args.project} images ({subset} in the noise and MPRT subsets): "
          f"{minutes:.0f} min")
    print(f"  peak RSS after one chunk {after_chunk:.0f} MB (the plain run's {args.images} images and the subsets' "
          f"second seed and randomised model must not add more than their own models and compiled steps)")


if __name__ == "__main__":
    main()
