"""ROAD's noisy linear imputation: banded Cholesky and sparse LU solves against one sparse system (run by hand).

    python benchmarks/road_imputation.py                                  # CIFAR-sized random images, 25 of them
    python benchmarks/road_imputation.py --data ../shared/data/cifar10-subset.npz --images 250
    python benchmarks/road_imputation.py --data ../shared/data/cifar10-subset.npz --images 25 --size 64

ROAD imputes every image at 5 fractions x 2 orders, for every map of every method: in an evaluation of a narrow
network it is the largest cost after the forward passes. The baseline is what drise_tf did before: the removed
pixels of all imputations as one sparse system, solved by SuperLU (``_solve_sparse`` on everything at once). Timed
against it: the sparse solve one imputation at a time, and the banded solve (``_solve_banded``) at several group sizes
(imputations per LAPACK call), which chose ``_BANDED_MAX_WIDTH`` and ``_IMPUTATIONS_PER_SOLVE``. Removed pixels
follow the orders of smooth maps (contiguous regions, as real maps give) and of white-noise maps (scattered pixels).
Prints seconds, the ratio to the baseline of the same run (timings drift: compare within one run) and the largest
difference from the baseline.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from drise_tf import load_cifar10  # noqa: E402
from drise_tf.metrics import faithfulness  # noqa: E402
from drise_tf.metrics.faithfulness import ROAD_FRACTIONS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 source; random images without it")
    parser.add_argument("--images", type=int, default=25)
    parser.add_argument("--size", type=int, default=32, help="image side (CIFAR images are resized by zoom)")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 4, 8, 16, 64])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    if args.data:
        _, (x_test, _) = load_cifar10(args.data)
        images = x_test[rng.permutation(len(x_test))[: args.images]].astype(np.float64) / 255.0
        images = ndimage.zoom(images, (1, args.size / images.shape[1], args.size / images.shape[2], 1), order=1)
    else:
        images = rng.random((args.images, args.size, args.size, 3))
    noise_maps = rng.random(images.shape[:3])
    kinds = {"smooth maps": ndimage.gaussian_filter(noise_maps, (0, 3, 3)), "white-noise maps": noise_maps}
    print(f"{args.images} images {args.size}x{args.size}, x 10 imputations each (ROAD's fractions and orders)")
    for kind, maps in kinds.items():
        removed = faithfulness._road_removed(maps, ROAD_FRACTIONS).reshape(-1, *maps.shape[1:])
        stacked = np.repeat(images, 2 * len(ROAD_FRACTIONS), axis=0)
        values = stacked.reshape(len(stacked), -1, 3).astype(np.float64)
        unknown = removed.reshape(len(stacked), -1)
        width = images.shape[2]
        start = time.perf_counter()
        reference = faithfulness._solve_sparse(values, unknown, width)
        baseline = time.perf_counter() - start
        print(f"{kind}: one sparse system (baseline) {baseline:.2f} s")
        solves = {"sparse LU, 1 per solve": (faithfulness._solve_sparse, 1)}
        solves.update({f"banded Cholesky, {group} per solve": (faithfulness._solve_banded, group)
                       for group in args.groups})
        for name, (solve, group) in solves.items():
            start = time.perf_counter()
            got = np.concatenate([solve(values[k : k + group], unknown[k : k + group], width)
                                  for k in range(0, len(values), group)])
            seconds = time.perf_counter() - start
            print(f"  {name:32s} {seconds:6.2f} s, {baseline / seconds:.2f}x faster, "
                  f"largest difference {np.abs(got - reference).max():.1e}")

if __name__ == "__main__":
    main()
