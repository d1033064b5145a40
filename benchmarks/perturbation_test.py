"""The perturbation-matched test: does D-RISE's lead over RISE under deletion and MuFidelity survive when the removed
pixels are replaced in distribution (imputed, blurred) instead of set to 0? (run by hand; declared before it ran)

    python benchmarks/perturbation_test.py --data $DRISE_TF_DATA                  # add --resume after an interruption
    python benchmarks/perturbation_test.py --networks keras_cnn --images 5 --out /tmp/perturbation   # a trial
    python benchmarks/perturbation_test.py --report-only                           # re-read the stored chunks

Why: the claims-by-metric table (docs/networks.md, "Does the answer depend on the metric?") found RISE ahead of
D-RISE under ROAD (noisy linear imputation) on every network but behind it under MuFidelity and the deletion AUC,
and both of those set removed pixels to 0, the very perturbation D-RISE's own masks apply. This asks whether that lead
is the zero fill's.

Declared here and in docs/evaluation.md ("Declared before it ran: the perturbation-matched test") before any run
(December 2026), and not changed after looking at results:

* **Rows** (:data:`ROWS`): the mask-design factorial's D-RISE rows (``FACTORIAL_DESIGNS``: 16x16 and 7x7 grids,
  nearest and bilinear upsampling, x the scores ``cosine`` and ``probability``, aggregation ``none``: with antithetic
  masks the others order the pixels alike) and RISE's preset; 2,000 antithetic masks (``DRISE_OPTIONS``), mask seed
  0, no smoothing: the maps of the factorial runs (docs/networks/<network>-factorial).
* **Networks** (:data:`NETWORKS`): keras_cnn in float32 and strong in bfloat16 (masks and metrics, as their factorial
  runs); 300 test images each, the evaluation's seeded choice (``chosen_test_images``, seed 0), explained for their
  true class. The Monte Carlo noise: the first 100 images explained again with mask seed 1.
* **Measured**, from the same maps: the deletion AUC (RISE's 32 steps) and MuFidelity (128 subsets of 20% of an 8x8
  grid), each with the evaluation's settings (``METRIC_SETTINGS``) and metric seeds, under every fill of
  ``FILLS``: ``constant`` (0: the evaluation's values), ``imputation`` (ROAD's noisy linear imputation, noise 0.01)
  and ``blur`` (RISE's blurred canvas, 11 x 11, sigma 5 px).
* **Read-out** (:func:`effects`): per network, fill and metric, the contrasts :data:`CONTRASTS`, RISE minus the
  evaluation's D-RISE (16x16 nearest ``probability``) and RISE minus the thesis's (16x16 nearest ``cosine``): mean
  per-image paired difference with a 95% bootstrap interval, Wilcoxon signed-rank p-value Holm-corrected over the
  network's 12 comparisons (2 contrasts x 2 metrics x 3 fills), and its Monte Carlo noise (``seed_noise``). A method
  is **ahead** when the difference is significant (Holm p < 0.05) and beyond twice its noise, in the metric's
  direction (deletion: lower is better; MuFidelity: higher).
* **Verdict** (:func:`verdict`) per network, metric and contrast: D-RISE's lead **survives** when D-RISE is ahead under
  ``imputation`` AND ``blur``; it **depends on the fill** when under one of them; it **is gone** under neither. Where
  D-RISE is not ahead under ``constant`` (the premise, replicated from the same maps) there is **no lead under the
  zero fill** to test.

Results (resumable, chunk by chunk) go to ``<out>/<network>/``; the answer to ``<out>/perturbation.md`` with
``effects.csv`` (every contrast), ``verdicts.csv`` and ``means.csv`` (every row's mean per metric and fill).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from drise_tf import load_cifar10, load_run  # noqa: E402
from drise_tf.core import tables  # noqa: E402
from drise_tf.core.compat import write_text_atomic  # noqa: E402
from drise_tf.core.console import cpu_description  # noqa: E402
from drise_tf.evaluation.report import (  # noqa: E402
    FACTORS,
    NOISE_FACTOR,
    factorial_variant,
    metric_values,
    seed_noise,
)
from drise_tf.evaluation.run import (  # noqa: E402
    DRISE_OPTIONS,
    FACTORIAL_DESIGNS,
    METRIC_SETTINGS,
    METRICS,
    Evaluation,
    _records,
    model_fingerprint,
)
from drise_tf.evaluation.store import SETTINGS_FILE, ResultStore, read_records  # noqa: E402
from drise_tf.evaluation.trained_run import chosen_test_images  # noqa: E402
from drise_tf.metrics import FILLS, auc, causal_curves, causal_fractions, mu_fidelity, paired_effects  # noqa: E402
from drise_tf.metrics.agreement import order_representatives  # noqa: E402

# ------------------------------------------------------------------------------------- declared before any run
#: Network -> (run folder, precision of the masks' and the metrics' forward passes), as their factorial runs.
NETWORKS: Dict[str, Tuple[str, str]] = {"keras_cnn": ("models/keras_cnn", "float32"),
                                        "strong": ("models/strong", "bfloat16")}
IMAGES = 300
SEED = 0
#: The first images explained again with mask seed ``SEED + 1``: the Monte Carlo noise.
NOISE_IMAGES = 100
CHUNK_SIZE = 25
#: The rows: every D-RISE design of the factorial x score (aggregation "none"), and RISE's preset.
ROWS = tuple(factorial_variant(*design.split(), score) for design in FACTORIAL_DESIGNS
             for score in FACTORS["score"]) + ("RISE",)
#: The metrics measured under every fill (their directions: ``METRICS``).
MEASURED = ("deletion_auc", "mu_fidelity")
#: The declared contrasts: label -> the D-RISE row RISE is compared with (RISE minus it, per image).
CONTRASTS: Dict[str, str] = {
    "RISE - D-RISE probability (the evaluation's)": factorial_variant("16x16", "nearest", "probability"),
    "RISE - D-RISE cosine (the thesis's)": factorial_variant("16x16", "nearest", "cosine"),
}
#: The fills that keep the perturbed images in distribution: the verdict reads these.
IN_DISTRIBUTION = ("imputation", "blur")
ALPHA = 0.05


def column(metric: str, fill: str) -> str:
    """The stored name of ``metric`` under ``fill``, e.g. ``"deletion_auc_blur"``."""
    return f"{metric}_{fill}"


# ----------------------------------------------------------------------------------------------------- the run
def measure(model: Any, images: np.ndarray, labels: np.ndarray, maps: Mapping[str, np.ndarray], *,
            metric_seed: Tuple[int, ...], batch_size: int) -> Tuple[Dict[str, Dict[str, np.ndarray]], Dict[str, str]]:
    """Deletion AUC and MuFidelity of every map set under every fill, for the true class, with the evaluation's
    settings and seeds; map sets that order the pixels identically are measured once (the second value: the map set
    each was measured as, as in ``Evaluation.measure``)."""
    representative = order_representatives(maps)
    distinct = list(dict.fromkeys(representative.values()))
    settings = METRIC_SETTINGS["deletion_insertion"]
    fractions = causal_fractions(images.shape[1], images.shape[2], settings["step"])
    measured: Dict[str, Dict[str, np.ndarray]] = {name: {} for name in distinct}
    for fill in FILLS:
        fidelity = mu_fidelity(model, images, {name: maps[name] for name in distinct}, classes=labels, fill=fill,
                               seed=metric_seed, batch_size=batch_size, **METRIC_SETTINGS["mu_fidelity"])
        for name in distinct:
            curves = causal_curves(model, images, maps[name], mode="deletion", fill=fill, seed=metric_seed,
                                   classes=labels, batch_size=batch_size, **settings)
            measured[name][column("deletion_auc", fill)] = auc(curves, fractions)
            measured[name][column("mu_fidelity", fill)] = fidelity[name]
    return {name: measured[representative[name]] for name in maps}, representative


def run_network(model: Any, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, folder: pathlib.Path, *,
                precision: str, settings: Mapping[str, Any], drise_options: Optional[Mapping[str, Any]] = None,
                resume: bool = False) -> ResultStore:
    """Explain ``images`` with every row of :data:`ROWS` and measure them under every fill, chunk by chunk into
    ``folder`` (resumable); the first :data:`NOISE_IMAGES` again with mask seed ``SEED + 1``. ``drise_options``:
    the masks (default ``DRISE_OPTIONS``; fewer only in tests)."""
    drise_options = {**(DRISE_OPTIONS if drise_options is None else drise_options), "precision": precision}
    store = ResultStore(folder, {
        **settings, "model": model_fingerprint(model), "image_ids": np.asarray(ids).tolist(), "seed": SEED,
        "chunk_size": CHUNK_SIZE, "noise_images": NOISE_IMAGES, "drise": drise_options, "designs": FACTORIAL_DESIGNS,
        "rows": list(ROWS), "fills": list(FILLS), "metrics": {key: METRIC_SETTINGS[key] for key in
                                                               ("deletion_insertion", "mu_fidelity")},
    }, resume=resume)
    evaluation = Evaluation(model, drise_options=drise_options, similarities=FACTORS["score"],
                            methods={"RISE": ("rise", {})}, seed=SEED, designs=FACTORIAL_DESIGNS)
    forward = evaluation.metric_model()
    finished = set(store.finished())
    starts = [start for start in range(0, len(images), CHUNK_SIZE) if start not in finished]
    began = time.perf_counter()
    for count, start in enumerate(starts, start=1):
        positions = np.arange(start, min(start + CHUNK_SIZE, len(images)))
        records = []
        for seed_index, chosen in enumerate((positions, positions[positions < NOISE_IMAGES])):
            if not chosen.size:
                continue
            x, y = images[chosen], labels[chosen]
            maps, _, _ = evaluation.maps(model, x, y, seed=SEED + seed_index)
            measured, measured_as = measure(forward, x, y, {name: maps[name] for name in ROWS},
                                            metric_seed=(SEED, start), batch_size=evaluation.batch_size)
            records += _records(ids[chosen], y, chosen, seed_index, measured, measured_as)
        store.write(start, records)
        done = len(images) - sum(min(CHUNK_SIZE, len(images) - s) for s in starts[count:])
        rate = sum(min(CHUNK_SIZE, len(images) - s) for s in starts[:count]) / (time.perf_counter() - began) * 60
        print(f"[perturbation] {folder.name}: {done}/{len(images)} images, {rate:.2f} images/min, about "
              f"{(len(images) - done) / rate:.0f} min left", flush=True)
    return store


# ------------------------------------------------------------------------------------------------------ answer
def effects(records: Sequence[Mapping[str, Any]], *, n_resamples: int = 2000, seed: int = SEED) -> List[dict]:
    """The declared contrasts of one network under every metric and fill: rows ``metric, fill, contrast, n, mean,
    low, high, p, p_holm, significant, noise, within_noise, ahead`` (Holm over all of them; ``ahead``: ``"D-RISE"``,
    ``"RISE"`` or ``""``, see the module's docstring)."""
    keys, first, second = [], {}, {}
    for metric in MEASURED:
        for fill in FILLS:
            values = metric_values(records, column(metric, fill))
            again = metric_values(records, column(metric, fill), seed=1)
            for label, row in CONTRASTS.items():
                key = f"{metric} {fill}: {label}"
                keys.append((metric, fill, label))
                first[key] = values["RISE"] - values[row]
                second[key] = again["RISE"] - again[row] if again else np.array([])
    n_images = len(next(iter(first.values())))
    rows = []
    for (metric, fill, label), row in zip(keys, paired_effects(first, alpha=ALPHA, n_resamples=n_resamples,
                                                               seed=seed)):
        key = row.pop("effect")
        noise = seed_noise(first[key][: len(second[key])], second[key], n_images)
        within = bool(abs(row["mean"]) <= NOISE_FACTOR * noise)
        rise_better = row["mean"] > 0 if METRICS[metric] else row["mean"] < 0
        leader = "RISE" if rise_better else "D-RISE"
        rows.append({"metric": metric, "fill": fill, "contrast": label, **row, "noise": noise, "within_noise": within,
                     "ahead": leader if row["significant"] and not within else ""})
    return rows


def verdict(ahead: Mapping[str, str]) -> str:
    """The declared verdict on D-RISE's lead from who is ahead under each fill (fill -> ``ahead``): none to test
    where D-RISE is not ahead under the zero fill."""
    if ahead["constant"] != "D-RISE":
        return "no lead under the zero fill"
    kept = sum(ahead[fill] == "D-RISE" for fill in IN_DISTRIBUTION)
    return "survives" if kept == len(IN_DISTRIBUTION) else "depends on the fill" if kept else "is gone"


def verdicts(network: str, rows: Sequence[Mapping[str, Any]]) -> List[dict]:
    """One row per metric and contrast of a network: who is ahead under each fill and :func:`verdict`."""
    found = []
    for metric in MEASURED:
        for label in CONTRASTS:
            ahead = {row["fill"]: row["ahead"] for row in rows if row["metric"] == metric and row["contrast"] == label}
            found.append({"network": network, "metric": metric, "contrast": label,
                          **{fill: ahead[fill] or "neither" for fill in FILLS}, "verdict": verdict(ahead)})
    return found


def means(network: str, records: Sequence[Mapping[str, Any]]) -> List[dict]:
    """Every row's mean per metric and fill (the first mask seed's images)."""
    tables_by_column = {column(metric, fill): metric_values(records, column(metric, fill))
                        for metric in MEASURED for fill in FILLS}
    return [{"network": network, "row": row, **{name: float(np.nanmean(values[row]))
                                                 for name, values in tables_by_column.items()}} for row in ROWS]


def write_answer(out: pathlib.Path, networks: Sequence[str], *, n_resamples: int = 2000,
                 cpu: str = "") -> Dict[str, str]:
    """The answer of every network stored under ``out/<network>/``: ``perturbation.md``, ``effects.csv``,
    ``verdicts.csv`` and ``means.csv`` in ``out``."""
    all_effects, all_verdicts, all_means, counts = [], [], [], {}
    for network in networks:
        records = read_records(out / network)[1] if (out / network / SETTINGS_FILE).is_file() else []
        if not records:
            continue
        found = effects(records, n_resamples=n_resamples)
        all_effects += [{"network": network, **row} for row in found]
        all_verdicts += verdicts(network, found)
        all_means += means(network, records)
        counts[network] = (found[0]["n"], len({r["position"] for r in records if r["seed"] == 1}))
    if not all_effects:
        raise ValueError(f"{out} holds no finished chunk yet: nothing to report")
    scope = "; ".join(f"{network} {n} images ({noise} with the second mask seed)"
                      for network, (n, noise) in counts.items())
    text = (f"# Does D-RISE's lead under deletion and MuFidelity survive an in-distribution perturbation?\n\n"
            f"benchmarks/perturbation_test.py, declared before it ran (docs/evaluation.md). {scope}; "
            f"{DRISE_OPTIONS['n_masks']} {DRISE_OPTIONS['sampling']} masks per map{', CPU: ' + cpu if cpu else ''}. "
            f"Removed pixels set to 0 (`constant`, the evaluation's values), imputed as ROAD imputes them "
            f"(`imputation`) or taken from RISE's blurred canvas (`blur`). Contrasts: RISE minus D-RISE per image, "
            f"mean with a 95% bootstrap interval, Wilcoxon p Holm-corrected over each network's "
            f"{len(MEASURED) * len(FILLS) * len(CONTRASTS)} comparisons; `ahead`: significant and beyond "
            f"{NOISE_FACTOR:g}x the Monte Carlo noise, in the metric's direction (deletion AUC lower, MuFidelity "
            f"higher is better). D-RISE's lead **survives** when D-RISE is ahead under the zero fill and under both "
            f"in-distribution fills.\n\n"
            f"## Verdicts\n\n"
            + tables.markdown_table(all_verdicts, ["network", "metric", "contrast", *FILLS, "verdict"])
            + "\n\n## Contrasts\n\n"
            + tables.markdown_table(all_effects, ["network", "metric", "fill", "contrast", "mean", "low", "high",
                                                  "p_holm", "noise", "ahead"])
            + "\n\n## Means\n\n" + tables.markdown_table(all_means, list(all_means[0])) + "\n")
    return {"markdown": write_text_atomic(out / "perturbation.md", text),
            "effects": tables.write_csv(all_effects, out / "effects.csv"),
            "verdicts": tables.write_csv(all_verdicts, out / "verdicts.csv"),
            "means": tables.write_csv(all_means, out / "means.csv")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 source (default: $DRISE_TF_DATA, else Keras's)")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS),
                        help="default: every declared network")
    parser.add_argument("--images", type=int, default=IMAGES,
                        help="the first of the declared images (default: all of them; fewer: a trial)")
    parser.add_argument("--out", default="docs/networks/perturbation", help="results folder")
    parser.add_argument("--resume", action="store_true", help="continue the runs stored in --out")
    parser.add_argument("--report-only", action="store_true", help="only re-read the stored chunks")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()

    out, cpu = pathlib.Path(args.out), cpu_description()
    if not args.report_only:
        _, (x_test, y_test) = load_cifar10(args.data)
        ids = chosen_test_images(len(x_test), IMAGES, SEED)[: args.images]
        for network in args.networks:
            run_dir, precision = NETWORKS[network]
            model, standardizer = load_run(run_dir)
            settings = {"run": run_dir, "images": len(ids),
                        "images_sha256": hashlib.sha256(np.ascontiguousarray(x_test[ids]).tobytes()).hexdigest()}
            print(f"[perturbation] {network} ({precision}) on {cpu}", flush=True)
            run_network(model, standardizer.transform(x_test[ids]), np.asarray(y_test[ids]).astype(np.int64), ids,
                        out / network, precision=precision, settings=settings, resume=args.resume)
    for kind, path in write_answer(out, args.networks, n_resamples=args.resamples, cpu=cpu).items():
        print(f"[perturbation] {kind}: {path}", flush=True)


if __name__ == "__main__":
    main()
