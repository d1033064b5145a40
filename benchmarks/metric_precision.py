"""The metrics' forward passes in bfloat16 against float32: how far the values move and how much faster (run by hand).

    python benchmarks/metric_precision.py --run models/strong --data ../shared/data/cifar10-subset.npz
    python benchmarks/metric_precision.py --run models/quick --images 25          # quicker

``evaluate-maps --precision bfloat16`` forwards the masks AND the metrics' perturbed images through the model's
BatchNormalization-folded bfloat16 copy. This measures what that costs in accuracy: Saliency and Grad-CAM maps (raw
and smoothed, as the evaluation's control smooths them) of seeded random test images, measured by ROAD, MuFidelity and
deletion with the evaluation's settings through the folded float32 copy and the folded bfloat16 copy, same seeds.
Prints the seconds of each copy (their ratio is the speed-up; timings drift, so compare within one run) and per map
and metric the means and the mean / largest per-image absolute difference, beside the spread of the per-image
Saliency - Grad-CAM differences that the evaluation's paired tests work with.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from drise_tf import load_cifar10, load_run, make_explainer  # noqa: E402
from drise_tf.evaluation.run import METRIC_SETTINGS, smoothing_sigma  # noqa: E402
from drise_tf.evaluation.trained_run import chosen_test_images  # noqa: E402
from drise_tf.explain.base import smooth_maps  # noqa: E402
from drise_tf.explain.model_copies import forward_copy  # noqa: E402
from drise_tf.metrics.faithfulness import deletion_insertion, mu_fidelity, road  # noqa: E402

METRIC_NAMES = ("road_gap", "mu_fidelity", "deletion_auc")


def measure(model, images: np.ndarray, labels: np.ndarray, maps: dict) -> dict:
    """Map name -> (ROAD gap, MuFidelity, deletion AUC) per image, with the evaluation's settings and seeds."""
    fidelity = mu_fidelity(model, images, maps, classes=labels, seed=(0, 0), **METRIC_SETTINGS["mu_fidelity"])
    return {name: (road(model, images, value, classes=labels, seed=(0, 0), **METRIC_SETTINGS["road"])["gap"],
                   fidelity[name],
                   deletion_insertion(model, images, value, classes=labels,
                                      **METRIC_SETTINGS["deletion_insertion"])["deletion_auc"])
            for name, value in maps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="trained run folder")
    parser.add_argument("--data", default=None, help="CIFAR-10 source (see drise_tf.load_cifar10)")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    model, standardizer = load_run(args.run)
    _, (x_test, y_test) = load_cifar10(args.data)
    ids = chosen_test_images(len(x_test), args.images, args.seed)
    images, labels = standardizer.transform(x_test[ids]), np.asarray(y_test[ids]).astype(np.int64)
    maps = {}
    for name in ("saliency", "gradcam"):
        maps[name] = make_explainer(name, model).explain(images, labels)
        maps[f"{name} + smoothed"] = smooth_maps(maps[name], smoothing_sigma(images.shape[1]))
    found = {}
    for precision in ("float32", "bfloat16"):
        copy = forward_copy(model, precision)
        began = time.perf_counter()
        found[precision] = measure(copy, images, labels, maps)
        print(f"{precision}: {time.perf_counter() - began:.1f} s", flush=True)
    for name in maps:
        for index, metric in enumerate(METRIC_NAMES):
            a, b = found["float32"][name][index], found["bfloat16"][name][index]
            print(f"{name:22s} {metric:13s} mean float32 {np.mean(a):+.4f} bfloat16 {np.mean(b):+.4f}  per image "
                  f"|difference| mean {np.mean(np.abs(a - b)):.4f} largest {np.max(np.abs(a - b)):.4f}")
    for index, metric in enumerate(METRIC_NAMES):
        paired = found["float32"]["saliency"][index] - found["float32"]["gradcam"][index]
        print(f"Saliency - Grad-CAM {metric}: per-image standard deviation {paired.std(ddof=1):.4f}")


if __name__ == "__main__":
    main()
