"""ROAD with the project's settings against its reference implementation's, on one network's maps (run by hand).

    python benchmarks/road_reference.py --run models/strong --data ../shared/data/cifar10-subset.npz --images 200
    python benchmarks/road_reference.py --run models/strong --images 5          # a trial: how long 5 images take

The project's ROAD departs from its reference (Rong et al. 2022, github.com/tleemann/road_evaluation) in three places
(docs/evaluation.md, "ROAD against its reference"): imputation noise 0.01 in standardised units instead of 0.01 on
[0, 1] pixels (about 4x smaller), pixel counts rounded instead of floored, the class probability read instead of
accuracy. This measures what each departure moves, alone and all three together: the maps of the comparison's methods
as they were declared (:data:`METHODS`, ``DEFAULT_METHODS`` of December 2026: D-RISE cosine and probability, RISE,
Saliency, SmoothGrad, Grad-CAM, Grad-CAM++, Faster-Score-CAM; the evaluation's 2,000 antithetic masks) on seeded
random test images, for the true class, measured by ROAD with the evaluation's fractions and noise seeds under each
setting (the same seeds: the noise is paired too). On the shipped strong network: docs/networks/road_reference.md.

Prints, and writes to ``--out`` (markdown, atomically), per setting and method, the mean ROAD gap and its paired
difference from the project's setting (95% bootstrap interval over the images, Wilcoxon p); per setting, Kendall's
tau-b between the methods' order under it and under the project's setting, with a 95% interval from resampling the
images (the same resample for both orders); and the seconds of the maps and of each setting, with the CPU.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import time
from typing import Any, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from drise_tf import load_cifar10, load_run  # noqa: E402
from drise_tf.core import tables  # noqa: E402
from drise_tf.core.compat import write_text_atomic  # noqa: E402
from drise_tf.core.console import cpu_description  # noqa: E402
from drise_tf.evaluation.comparisons import DEFAULT_METHODS, explain_methods  # noqa: E402
from drise_tf.evaluation.networks import kendall_tau_b  # noqa: E402
from drise_tf.evaluation.run import DRISE_OPTIONS, METRIC_SETTINGS  # noqa: E402
from drise_tf.evaluation.trained_run import chosen_test_images  # noqa: E402
from drise_tf.explain.model_copies import forward_copy  # noqa: E402
from drise_tf.metrics.faithfulness import ROAD_REFERENCE, road  # noqa: E402
from drise_tf.metrics.statistics import bootstrap_ci, wilcoxon_p  # noqa: E402

PROJECT = "project"
#: The methods measured, declared before the run: the comparison's methods of that day (the recommended D-RISE joined
#: them later).
METHODS = {name: DEFAULT_METHODS[name] for name in (
    "D-RISE cosine (thesis)", "D-RISE probability", "RISE", "Saliency", "SmoothGrad", "Grad-CAM", "Grad-CAM++",
    "Faster-Score-CAM")}


def settings(pixel_std: np.ndarray) -> Dict[str, Dict[str, Any]]:
    """Setting name -> :func:`road` options over the evaluation's (``METRIC_SETTINGS["road"]``)."""
    return {PROJECT: {}, "noise 0.01 on [0, 1] pixels": {"noise": ROAD_REFERENCE["noise"], "pixel_std": pixel_std},
            "floored counts": {"counts": ROAD_REFERENCE["counts"]},
            "accuracy read-out": {"readout": ROAD_REFERENCE["readout"]},
            "reference (all three)": {**ROAD_REFERENCE, "pixel_std": pixel_std}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="trained run folder")
    parser.add_argument("--data", default=None, help="CIFAR-10 source (see drise_tf.load_cifar10)")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                        help="of the masks' and the metric's forward passes, as evaluate-maps --precision")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the result here as markdown (e.g. docs/road_reference.md)")
    args = parser.parse_args()

    model, standardizer = load_run(args.run)
    _, (x_test, y_test) = load_cifar10(args.data)
    ids = chosen_test_images(len(x_test), args.images, args.seed)
    images, labels = standardizer.transform(x_test[ids]), np.asarray(y_test[ids]).astype(np.int64).ravel()
    lines: List[str] = [f"ROAD under the project's and the reference's settings: `{args.run}`, {len(ids)} test images "
                        f"(seed {args.seed}), {args.precision}, {cpu_description()}.", ""]
    began = time.perf_counter()
    maps, _, _ = explain_methods(model, images, labels, methods=METHODS, seed=args.seed,
                                 **DRISE_OPTIONS, precision=args.precision)
    timing = f"{len(ids)} images, {len(maps)} methods: maps {time.perf_counter() - began:.0f} s"
    print(timing, flush=True)
    lines.append(f"* {timing}")
    metric_model = forward_copy(model, args.precision)
    gaps: Dict[str, np.ndarray] = {}  # setting -> (methods, images)
    for name, options in settings(standardizer.std).items():
        began = time.perf_counter()
        gaps[name] = np.array([road(metric_model, images, method_maps, classes=labels, seed=(args.seed, 0),
                                    **{**METRIC_SETTINGS["road"], **options})["gap"] for method_maps in maps.values()])
        timing = f"{name}: ROAD {time.perf_counter() - began:.0f} s"
        print(timing, flush=True)
        lines.append(f"* {timing}")

    methods = list(maps)
    draws = np.random.default_rng(args.seed).integers(0, len(ids), size=(args.resamples, len(ids)))
    resampled = {name: values[:, draws].mean(axis=-1).T for name, values in gaps.items()}  # (resamples, methods)
    project = gaps[PROJECT].mean(axis=1)
    for name, values in gaps.items():
        means = values.mean(axis=1)
        tau = float(kendall_tau_b(project, means))
        low, high = np.nanpercentile(kendall_tau_b(resampled[PROJECT], resampled[name]), [2.5, 97.5])
        heading = f"{name}: Kendall's tau-b with the project's order {tau:+.3f} [{low:+.3f}, {high:+.3f}]"
        rows = []
        for k in np.argsort(-means, kind="stable"):
            difference = values[k] - gaps[PROJECT][k]
            d_low, d_high = bootstrap_ci(difference, n_resamples=args.resamples, seed=args.seed)
            rows.append({"method": methods[k], "gap": float(means[k]), "project's gap": float(project[k]),
                         "project's rank": 1 + int(np.sum(project > project[k])),
                         "difference [95%]": f"{difference.mean():+.3f} [{d_low:+.3f}, {d_high:+.3f}]",
                         "Wilcoxon p": f"{wilcoxon_p(difference):.2g}"})
        table = tables.markdown_table(rows, list(rows[0]))
        print(f"\n{heading}\n{table}")
        lines += ["", f"**{heading}**", "", table]
    if args.out:
        write_text_atomic(pathlib.Path(args.out), "\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
