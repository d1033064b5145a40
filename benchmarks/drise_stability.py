"""How stable are D-RISE maps, how well does D-RISE know it, and how many forward passes does each mask design need?

One run, on a trained run's model and real test images (explained for their true class), for every sampling design
and for two estimators (the thesis's raw cosine sum and the debiased sums):

1. Calibration (``--images`` images, N = 1000 and 5000): the two-seed Spearman actually measured between runs that
   differ only in the seed (3 seeds, 3 pairs), beside the median of the runs' own estimates (``return_stability``).
2. Forward passes to a two-seed Spearman of 0.9 (``--count-images`` images): two long runs per design, in rounds of
   ``--round`` masks up to ``--max-masks``; the maps of nested prefixes (whole rounds) of the two runs are compared.
   Where 0.9 is not reached, the count is extrapolated from the last prefix with Spearman-Brown (marked ``~``). The
   ratio to iid comes with a 95% bootstrap interval over the images (paired: the same resampled images for both).
   ``--iid-max-masks`` lets iid, which needs about 3x more masks, run longer than the other designs.
   Wall time of each long run beside a pure forward pass over the same number of images.
3. Adaptive stopping (thesis estimator, ``--adaptive-target``, default 0.8): masks used per image, and the two-seed
   agreement measured at those stopping points (a second seed with the same N per image).
4. Surrogate share (``linear``): how much of the thesis score's variance a linear or quadratic model of the masks
   explains, the most a control variate built on it could remove.

    python benchmarks/drise_stability.py --run models/quick --data ../shared/data/cifar10-subset.npz
    python benchmarks/drise_stability.py --run models/quick --images 8 --count-images 4 --max-masks 4000  # smoke

Prints tables and writes them as JSON (``--out``).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from drise_tf.core.compat import write_json_atomic  # noqa: E402
from drise_tf.data.cifar import load_cifar10  # noqa: E402
from drise_tf.explain.drise import THESIS_MASKS, DRise  # noqa: E402
from drise_tf.explain.masks import SAMPLINGS  # noqa: E402
from drise_tf.explain.stability import rank_agreement, spearman_to_pearson  # noqa: E402
from drise_tf.training.runs import load_run  # noqa: E402

SCORES = ["cosine", "probability"]
AGGREGATIONS = ["none", "debiased"]
ESTIMATORS = ["cosine/none", "cosine/debiased", "probability/debiased"]  # the thesis's first
TARGET = 0.9


def two_seed(model, images, labels, seeds=(0, 1), **settings):
    """Runs that differ only in the seed: their maps, stabilities, scores, masks and wall times."""
    runs = []
    for seed in seeds:
        explainer = DRise(model, seed=seed, **THESIS_MASKS, **settings)  # the thesis's masks
        start = time.perf_counter()
        maps, scores, stability = explainer.explain_scores(images, labels, similarities=SCORES,
                                                           aggregations=AGGREGATIONS, return_scores=True,
                                                           return_stability=True)
        runs.append(dict(maps=maps, scores=scores, stability=stability, seconds=time.perf_counter() - start,
                         explainer=explainer))
    return runs


def calibration(model, images, labels, sizes, samplings) -> list:
    """Three seeds per design and N: the measured median is averaged over the 3 pairs, because every image of a
    run shares the run's masks, so the 16 maps' mask noise is correlated and one pair is a noisy reference."""
    rows = []
    for sampling in samplings:
        for n in sizes:
            runs = two_seed(model, images, labels, seeds=(0, 1, 2), n_masks=n, sampling=sampling)
            for name in ESTIMATORS:
                flat = [r["maps"][name].reshape(len(images), -1) for r in runs]
                measured = np.mean([np.median(rank_agreement(flat[a], flat[b])) for a, b in ((0, 1), (0, 2), (1, 2))])
                estimate = np.mean([np.median(r["stability"][name]) for r in runs])
                rows.append(dict(sampling=sampling, n=n, estimator=name, measured=float(measured),
                                 estimated=float(estimate), error=float(estimate - measured),
                                 seconds=float(np.mean([r["seconds"] for r in runs]))))
                print(f"  {sampling:16s} N={n:5d} {name:22s} two-seed Spearman measured {measured:.3f} "
                      f"estimated {estimate:.3f} (error {estimate - measured:+.3f})", flush=True)
    return rows


def prefix_maps(scores: np.ndarray, flat_masks: np.ndarray, sizes, aggregation: str) -> np.ndarray:
    """Maps (len(sizes), B, H*W) of the first n masks (float64 (N, H*W)), raw per n masks or debiased (an
    independent numpy path), summed one prefix step at a time."""
    raw = np.zeros((len(scores), flat_masks.shape[1]))
    score_sum, mask_sum = np.zeros((len(scores), 1)), np.zeros(flat_masks.shape[1])
    out, done = [], 0
    for n in sizes:
        raw += scores[:, done:n].astype(np.float64) @ flat_masks[done:n]
        score_sum += scores[:, done:n].sum(axis=1, keepdims=True, dtype=np.float64)
        mask_sum += flat_masks[done:n].sum(axis=0)
        done = n
        out.append(raw - score_sum / n * mask_sum if aggregation == "debiased" else raw.copy())
    return np.stack(out)


def needed(sizes, medians) -> tuple:
    """First prefix whose median two-seed Spearman reaches TARGET, else a Spearman-Brown extrapolation."""
    for n, value in zip(sizes, medians):
        if value >= TARGET:
            return int(n), False
    last = spearman_to_pearson(medians[-1])
    target = spearman_to_pearson(TARGET)
    return int(sizes[-1] * target * (1 - last) / (last * (1 - target))), True


def forward_counts(model, images, labels, round_size, max_masks, iid_max_masks, samplings,
                   resamples: int = 2000) -> list:
    """Part 2: masks to a median two-seed Spearman of TARGET per design and estimator, and the ratio to iid with a
    95% bootstrap interval over the images (the same resampled images for iid and the design: paired)."""
    floor_images = np.repeat(images[:1], 100, axis=0)
    forward = tf.function(lambda x: model(x, training=False))
    forward(floor_images)
    start = time.perf_counter()
    for _ in range(20):
        forward(floor_images)
    floor_per_image = (time.perf_counter() - start) / 2000
    print(f"  pure forward pass: {1 / floor_per_image:.0f} images/s", flush=True)
    rows = []
    for sampling in samplings:
        cap = iid_max_masks if sampling == "iid" else max_masks
        sizes = np.arange(round_size, cap + 1, round_size)
        runs = two_seed(model, images, labels, n_masks=round_size, sampling=sampling, target_stability=0.9999,
                        max_masks=cap)
        used = min(int(r["explainer"].masks_used.min()) for r in runs)
        usable = sizes[sizes <= used]
        forwards = len(images) * cap
        flat_masks = [r["explainer"].masks.reshape(-1, images[0, ..., 0].size).astype(np.float64) for r in runs]
        for name in ESTIMATORS:
            score, aggregation = name.split("/")
            curves = [prefix_maps(r["scores"][score], flat, usable, aggregation) for r, flat in zip(runs, flat_masks)]
            per_image = np.stack([rank_agreement(a, b) for a, b in zip(*curves)])  # (prefixes, images)
            medians = np.median(per_image, axis=1)
            n, extrapolated = needed(usable, medians)
            rows.append(dict(sampling=sampling, estimator=name, masks_to_target=n, extrapolated=extrapolated,
                             spearman_at={int(k): float(v) for k, v in zip(usable, medians)},
                             per_image_spearman=per_image.tolist(),
                             seconds=float(np.mean([r["seconds"] for r in runs])),
                             forward_floor_seconds=forwards * floor_per_image))
    iid = {row["estimator"]: row for row in rows if row["sampling"] == "iid"}
    resampled = np.random.default_rng(0).integers(0, len(images), size=(resamples, len(images)))

    def needed_per_resample(row: dict) -> np.ndarray:
        sizes = np.array(list(row["spearman_at"]))
        medians = np.median(np.asarray(row["per_image_spearman"])[:, resampled], axis=2)  # (prefixes, resamples)
        return np.array([needed(sizes, medians[:, k])[0] for k in range(resamples)], dtype=float)

    iid_resampled = {name: needed_per_resample(row) for name, row in iid.items()}
    for row in rows:
        row["ratio_to_iid"] = row["ratio_interval"] = None
        if row["estimator"] in iid:
            row["ratio_to_iid"] = iid[row["estimator"]]["masks_to_target"] / row["masks_to_target"]
            ratios = iid_resampled[row["estimator"]] / needed_per_resample(row)
            row["ratio_interval"] = [float(v) for v in np.percentile(ratios, [2.5, 97.5])]
        mark = "~" if row["extrapolated"] else " "
        points = list(row["spearman_at"].items())
        at = ", ".join(f"{k}: {v:.2f}" for k, v in points[:: max(1, len(points) // 5)])
        ratio = (f"x{row['ratio_to_iid']:.2f} fewer than iid [95% {row['ratio_interval'][0]:.2f}, "
                 f"{row['ratio_interval'][1]:.2f}]" if row["ratio_to_iid"] else "iid not run")
        print(f"  {row['sampling']:16s} {row['estimator']:22s} masks to {TARGET}: {mark}{row['masks_to_target']:7d} "
              f"({ratio}); run / forward floor "
              f"{row['seconds'] / row['forward_floor_seconds']:.2f}; Spearman at {at}", flush=True)
    return rows


def linear_share(model, images, labels, n_masks=6000, blocks=(4, 8, 16), ridge=100.0) -> list:
    """How much of the thesis score's variance over iid masks a model of the masks explains: held-out R^2 (fit on
    2/3 of the masks) of the score on each mask's mean over ``b x b`` image blocks (linear), and on the 8x8 block
    means and their pairwise products (quadratic, ridge ``ridge``). The part a control variate built on such a
    surrogate (or a design balancing low-order cell patterns) could remove."""
    explainer = DRise.thesis(model, n_masks=n_masks, seed=0)
    _, scores = explainer.explain(images, labels, return_scores=True)
    masks = explainer.masks
    fit = 2 * n_masks // 3

    def block_means(b: int) -> np.ndarray:
        height, width = masks.shape[1] // b, masks.shape[2] // b
        return masks[:, : b * height, : b * width].reshape(n_masks, b, height, b, width).mean(axis=(2, 4)).reshape(
            n_masks, -1)

    pairs = np.triu_indices(64)
    eight = block_means(8)
    quadratic = np.column_stack([np.ones(n_masks), eight, eight[:, pairs[0]] * eight[:, pairs[1]]])
    designs = {f"{b}x{b} blocks, linear": (np.column_stack([np.ones(n_masks), block_means(b)]), 0.0) for b in blocks}
    designs["8x8 blocks, quadratic"] = (quadratic, ridge * np.eye(quadratic.shape[1]))
    rows = []
    for name, (design, penalty) in designs.items():
        shares = []
        for score in scores.astype(np.float64):
            train = design[:fit]
            coefficients = np.linalg.lstsq(train.T @ train + penalty, train.T @ score[:fit], rcond=None)[0]
            shares.append(1 - np.var(score[fit:] - design[fit:] @ coefficients) / np.var(score[fit:]))
        rows.append(dict(features=name, r2=[float(v) for v in shares]))
        print(f"  {name}: held-out R^2 median {np.median(shares):.2f} (min {np.min(shares):.2f}, max "
              f"{np.max(shares):.2f})", flush=True)
    return rows


def adaptive(model, images, labels, round_size, max_masks, target, samplings) -> list:
    rows = []
    for sampling in samplings:
        first = DRise.thesis(model, n_masks=round_size, sampling=sampling, target_stability=target,
                             max_masks=max_masks, seed=0)
        maps, estimate = first.explain(images, labels, return_stability=True)
        used = first.masks_used
        measured = np.empty(len(images))
        for n in np.unique(used):
            chosen = np.flatnonzero(used == n)
            second = DRise.thesis(model, n_masks=int(n), sampling=sampling, seed=1).explain(images[chosen],
                                                                                             labels[chosen])
            measured[chosen] = rank_agreement(maps[chosen].reshape(len(chosen), -1),
                                                second.reshape(len(chosen), -1))
        stopped = used < (max_masks // round_size) * round_size
        rows.append(dict(sampling=sampling, masks_used=used.tolist(), estimated=estimate.tolist(),
                         measured=measured.tolist(), stopped=int(stopped.sum())))
        print(f"  {sampling:16s} thesis map, target {target}: masks used median {int(np.median(used))} "
              f"(min {used.min()}, max {used.max()}; {stopped.sum()}/{len(used)} reached the target); at the stop "
              f"estimated {np.median(estimate[stopped]) if stopped.any() else float('nan'):.3f}, measured "
              f"{np.median(measured[stopped]) if stopped.any() else float('nan'):.3f} (median)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="models/quick", help="a trained run folder")
    parser.add_argument("--data", default=None, help="CIFAR-10 source (default: $DRISE_TF_DATA)")
    parser.add_argument("--images", type=int, default=16, help="test images for the calibration")
    parser.add_argument("--count-images", type=int, default=8, help="test images for the forward counts")
    parser.add_argument("--round", type=int, default=1000, help="masks per round of the long runs")
    parser.add_argument("--max-masks", type=int, default=20000)
    parser.add_argument("--iid-max-masks", type=int, default=None,
                        help="cap of part 2's iid runs (default --max-masks): iid needs about 3x more masks")
    parser.add_argument("--parts", default="calibration,counts,adaptive,linear")
    parser.add_argument("--adaptive-target", type=float, default=0.8,
                        help="target of part 3 (0.9 needs more than 20000 masks for most thesis maps)")
    parser.add_argument("--samplings", default=",".join(SAMPLINGS), help="designs of parts 1 and 2 (ratios need iid)")
    parser.add_argument("--adaptive-samplings", default=",".join(SAMPLINGS))
    parser.add_argument("--out", default="benchmarks/drise_stability.json")
    args = parser.parse_args()

    model, standardizer = load_run(args.run)
    _, (x_test, y_test) = load_cifar10(args.data)
    chosen = np.random.default_rng(0).choice(len(x_test), size=max(args.images, args.count_images), replace=False)
    images, labels = standardizer.transform(x_test[chosen]), np.asarray(y_test)[chosen]
    print(f"model {args.run}, {len(chosen)} test images (seeded choice), explained for their true class", flush=True)
    results = {}
    parts = args.parts.split(",")

    def save(part: str, rows: list) -> None:
        """Keep each finished part (written atomically), so an interrupted run loses only the part under way."""
        results[part] = rows
        write_json_atomic(args.out, results)

    if "calibration" in parts:
        print(f"== 1. calibration on {args.images} images", flush=True)
        save("calibration", calibration(model, images[: args.images], labels[: args.images], (1000, 5000),
                                          args.samplings.split(",")))
    if "counts" in parts:
        print(f"== 2. forward passes to a two-seed Spearman of {TARGET} on {args.count_images} images", flush=True)
        save("counts", forward_counts(model, images[: args.count_images], labels[: args.count_images], args.round,
                                      args.max_masks, args.iid_max_masks or args.max_masks,
                                      args.samplings.split(",")))
    if "adaptive" in parts:
        print(f"== 3. adaptive stopping at {args.adaptive_target} on {args.count_images} images", flush=True)
        save("adaptive", adaptive(model, images[: args.count_images], labels[: args.count_images], args.round,
                                  args.max_masks, args.adaptive_target, args.adaptive_samplings.split(",")))
    if "linear" in parts:
        print(f"== 4. linear and quadratic share of the thesis score's variance on {args.count_images} images",
              flush=True)
        save("linear", linear_share(model, images[: args.count_images], labels[: args.count_images]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
