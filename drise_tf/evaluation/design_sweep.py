"""The D-RISE design sweep: which mask design is faithful, stable and fast, chosen by a rule declared before the runs.

Everything that decides the answer is declared here, in code, before any run (docs/design-sweep.md says it in words):

- **Screening** (:data:`SCREENING`): D-RISE with bilinear masks on the grids :data:`SWEEP_GRIDS` x keep
  probabilities :data:`SWEEP_KEEP_PROBABILITIES`, scored by ``probability`` (:data:`SWEEP_DESIGNS`), beside two
  reference rows, the thesis's D-RISE design (:data:`THESIS_DESIGN`) and RISE's preset (:data:`REFERENCE_METHODS`),
  on 100 test images of two cheap networks.
- **Confirmation** (:data:`CONFIRMATION`): the designs :func:`confirmation_designs` picks from the screening, and the
  reference rows, on all four networks, 300 test images each.
- Per design and network: the evaluation's metrics (ROAD gap, primary; MuFidelity, deletion, insertion) with its
  paired tests, letters and Monte Carlo noise (:func:`drise_tf.evaluation.run.evaluate_maps`), and the cost of a
  stable map (:func:`measure_stability_cost`): the forward passes each image needs for an estimated two-seed
  Spearman of :data:`STABILITY_TARGET`, on the first :data:`STABILITY_IMAGES` images.
- **The recommended design** (:func:`recommend`): among the confirmed designs whose ROAD gap is not significantly below
  the best confirmed design's on any network, the one with the fewest median forwards to the target.

Both stages write resumable stores of compressed chunks (:class:`~drise_tf.evaluation.store.ResultStore`);
:func:`write_sweep_report` re-reads them into tables and the Pareto figure without a forward pass.
"""
from __future__ import annotations

import os
import pathlib
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from drise_tf.core import console, tables
from drise_tf.core.compat import write_text_atomic
from drise_tf.data import load_cifar10
from drise_tf.evaluation.report import metric_values, ranking, seed_noise, write_report
from drise_tf.evaluation.run import METRICS, PRIMARY_METRIC, drise_name, evaluate_maps, model_fingerprint
from drise_tf.evaluation.store import ResultStore, read_records
from drise_tf.evaluation.trained_run import chosen_test_images
from drise_tf.explain.drise import RISE_PRESET, THESIS_PRESET, DRise
from drise_tf.plotting.figures import pareto_figure, save
from drise_tf.training import load_run

PathLike = Union[str, os.PathLike]

#: The sweep's grids (cells per side) and keep probabilities; every sweep design upsamples bilinearly (RISE's
#: masks, with RISE's random shift) and scores by the class probability.
SWEEP_GRIDS = (4, 6, 8, 10, 12, 16)
SWEEP_KEEP_PROBABILITIES = (0.1, 0.25, 0.5)
SWEEP_SCORE = "probability"
#: Aggregation of the sweep's rows: with antithetic masks "none", "coverage" and "debiased" order the pixels alike.
SWEEP_AGGREGATION = "none"


def design_label(grid: int, upsample: str, p: float) -> str:
    """A design's label, e.g. ``"8x8 bilinear p0.25"``."""
    return f"{grid}x{grid} {upsample} p{p:g}"


#: The sweep's designs: label -> D-RISE design options (:data:`drise_tf.explain.drise.DESIGN_OPTIONS`).
SWEEP_DESIGNS: Dict[str, Dict[str, Any]] = {
    design_label(grid, "bilinear", p): {"grid_size": grid, "upsample": "bilinear", "p": p,
                                        "similarity": SWEEP_SCORE, "aggregation": SWEEP_AGGREGATION}
    for grid in SWEEP_GRIDS for p in SWEEP_KEEP_PROBABILITIES
}
#: The thesis's D-RISE design as a reference row (its mask design and score; N and sampling are the sweep's).
THESIS_DESIGN_LABEL = "thesis " + design_label(THESIS_PRESET["grid_size"], THESIS_PRESET["upsample"],
                                               THESIS_PRESET["p"])
THESIS_DESIGN: Dict[str, Any] = {key: THESIS_PRESET[key] for key in ("grid_size", "upsample", "p", "similarity",
                                                                      "aggregation")}
#: RISE's preset as the other reference row (the evaluation's other methods).
REFERENCE_METHODS: Dict[str, Tuple[str, Dict[str, Any]]] = {"RISE": ("rise", {})}
#: How every map of the sweep is run: N antithetic Sobol masks per map (the evaluation's N).
RUN_OPTIONS: Dict[str, Any] = {"n_masks": 2000, "sampling": "antithetic_sobol"}
#: The stable-map cost: rounds of ``STABILITY_ROUND`` masks until the estimated two-seed Spearman reaches the target,
#: at most ``STABILITY_CAP`` masks, on the first ``STABILITY_IMAGES`` images of a stage (seed of the masks: the
#: stage's).
STABILITY_TARGET = 0.9
STABILITY_ROUND = 1000
STABILITY_CAP = 40000
STABILITY_IMAGES = 32
#: How many screened designs go on to the confirmation (at most), and at least.
CONFIRMED_MOST = 4
CONFIRMED_LEAST = 2
#: Significance of the rules: the report's letters (paired Wilcoxon, Holm over all pairs of the compared designs, and
#: beyond twice the Monte Carlo noise).
ALPHA = 0.05


@dataclass(frozen=True)
class Stage:
    """One stage of the sweep: which networks, how many test images and how each map is run.

    Attributes
    ----------
    name : str
        ``"screening"`` or ``"confirmation"``.
    networks : dict
        Network name -> (run folder, precision of the forward passes).
    images : int
        Test images per network (a seeded random choice; the screening's 100 are among the confirmation's 300).
    noise_images : int
        The first images explained with a second mask seed (the Monte Carlo noise).
    seed : int
        Seed of the image choice, the masks and the metrics.
    """

    name: str
    networks: Mapping[str, Tuple[str, str]]
    images: int
    noise_images: int
    seed: int = 0


SCREENING = Stage("screening", {"quick": ("models/quick_sweep", "float32"),
                                "keras_cnn": ("models/keras_cnn", "float32")},
                  images=100, noise_images=50)
CONFIRMATION = Stage("confirmation", {"quick": ("models/quick_sweep", "float32"),
                                      "strong": ("models/strong", "bfloat16"),
                                      "strong-epoch10": ("models/strong/epoch_010", "bfloat16"),
                                      "keras_cnn": ("models/keras_cnn", "float32")},
                     images=300, noise_images=100)
STAGES = {stage.name: stage for stage in (SCREENING, CONFIRMATION)}


def row_name(label: str) -> str:
    """The evaluation's row of a sweep design or of the thesis's design."""
    options = THESIS_DESIGN if label == THESIS_DESIGN_LABEL else SWEEP_DESIGNS[label]
    return drise_name(options["similarity"], options["aggregation"], label)


def stage_designs(stage: Stage, sweep_folder: Optional[PathLike] = None) -> Dict[str, Dict[str, Any]]:
    """The D-RISE rows of a stage: label -> design options (the reference design last). The confirmation's are
    :func:`confirmation_designs` of the screening stored under ``sweep_folder``."""
    if stage.name == "screening":
        chosen = list(SWEEP_DESIGNS)
    else:
        if sweep_folder is None:
            raise ValueError("sweep_folder is needed for the confirmation: its designs come from the screening")
        chosen = confirmation_designs(sweep_folder)
    return {**{label: SWEEP_DESIGNS[label] for label in chosen}, THESIS_DESIGN_LABEL: THESIS_DESIGN}


# ------------------------------------------------------------------------------------------------------ running
def run_stage(stage_name: str, network: str, sweep_folder: PathLike, *, data: Optional[str] = None,
              resume: bool = False, progress: bool = True) -> Dict[str, str]:
    """Run one network of a stage: the evaluation of every row, then the stable-map cost of every row.

    Results go to ``<sweep_folder>/<stage>/<network>/evaluation`` and ``.../stability`` (resumable with
    ``resume``); returns the evaluation report's files.
    """
    stage = STAGES[stage_name]
    if network not in stage.networks:
        raise ValueError(f"network must be one of the {stage.name}'s {sorted(stage.networks)}, got {network!r}")
    run_dir, precision = stage.networks[network]
    designs = stage_designs(stage, sweep_folder)
    folder = pathlib.Path(sweep_folder) / stage.name / network
    model, standardizer = load_run(run_dir)
    _, (x_test, y_test) = load_cifar10(data)
    ids = chosen_test_images(len(x_test), stage.images, stage.seed)
    images = standardizer.transform(x_test[ids])
    labels = np.asarray(y_test[ids]).astype(np.int64)
    evaluate_maps(model, images, labels, folder / "evaluation", image_ids=ids, seed=stage.seed, designs=designs,
                  drise_options={**RUN_OPTIONS, "precision": precision}, methods=REFERENCE_METHODS,
                  similarities=sorted({options["similarity"] for options in designs.values()}), smoothing=False,
                  noise_images=stage.noise_images, mprt_images=0, resume=resume, progress=progress,
                  settings={"run": str(run_dir), "stage": stage.name})
    measure_stability_cost(model, images[:STABILITY_IMAGES], labels[:STABILITY_IMAGES], designs,
                           folder / "stability", image_ids=ids[:STABILITY_IMAGES], precision=precision,
                           seed=stage.seed, resume=resume, progress=progress)
    return write_report(folder / "evaluation")


def stable_explainer(model: Any, label: str, options: Mapping[str, Any], *, precision: str, seed: int) -> DRise:
    """The explainer of a row (a D-RISE design, or ``"RISE"``) run to :data:`STABILITY_TARGET`."""
    run = dict(sampling=RUN_OPTIONS["sampling"], n_masks=STABILITY_ROUND, target_stability=STABILITY_TARGET,
               max_masks=STABILITY_CAP, precision=precision, seed=seed)
    if label == "RISE":
        return DRise.rise(model, **run)
    return DRise(model, **options, **run)


def measure_stability_cost(model: Any, images: np.ndarray, labels: np.ndarray,
                           designs: Mapping[str, Mapping[str, Any]], folder: PathLike, *,
                           image_ids: Optional[np.ndarray] = None, precision: str = "float32", seed: int = 0,
                           resume: bool = False, progress: bool = True) -> ResultStore:
    """The forward passes each image needs for a stable map, per row: D-RISE of every design and RISE's preset, run
    in rounds of :data:`STABILITY_ROUND` masks until the estimated two-seed Spearman reaches
    :data:`STABILITY_TARGET` or :data:`STABILITY_CAP` masks.

    One stored chunk per row (chunk ``k`` is the ``k``-th row, in the order of ``designs`` then RISE), records per
    image: ``masks_used`` (the forward passes), ``stability`` (the final estimate), ``capped`` (stopped by the cap
    below the target), ``seconds`` (the row's wall-clock time divided by its images) and ``cpu`` (where it ran).
    """
    rows = {**{label: dict(options) for label, options in designs.items()}, "RISE": dict(RISE_PRESET)}
    ids = np.arange(len(images)) if image_ids is None else np.asarray(image_ids)
    settings = {"model": model_fingerprint(model), "image_ids": ids.tolist(), "rows": rows, "precision": precision,
                "seed": seed, "target_stability": STABILITY_TARGET, "round": STABILITY_ROUND, "cap": STABILITY_CAP,
                "sampling": RUN_OPTIONS["sampling"]}
    store = ResultStore(folder, settings, resume=resume)
    finished = set(store.finished())
    cpu = console.cpu_description()
    for index, (label, options) in enumerate(rows.items()):
        if index in finished:
            continue
        explainer = stable_explainer(model, label, options, precision=precision, seed=seed)
        began = time.perf_counter()
        _, stability = explainer.explain(images, labels, return_stability=True)
        seconds = (time.perf_counter() - began) / len(images)
        used = explainer.masks_used
        records = [{"row": label, "id": int(ids[k]), "position": k, "masks_used": int(used[k]),
                    "stability": float(stability[k]),
                    "capped": bool(stability[k] < STABILITY_TARGET),
                    "seconds": seconds, "cpu": cpu} for k in range(len(images))]
        store.write(index, records)
        if progress:
            print(f"[stability] {label}: median {np.median(used):.0f} masks to {STABILITY_TARGET} "
                  f"({np.mean([r['capped'] for r in records]):.0%} at the cap), {seconds:.2f} s per map", flush=True)
    return store


# ------------------------------------------------------------------------------------------------------ reading
def stability_cost(folder: PathLike) -> Dict[str, Dict[str, float]]:
    """Row label -> ``median``, ``p90`` of the masks to the target, ``capped`` (share at the cap), ``seconds`` per map,
    ``images`` and ``cpu`` (where the row ran; empty if the store does not say), from a
    :func:`measure_stability_cost` store."""
    _, records = read_records(folder)
    by_row: Dict[str, List[Mapping[str, Any]]] = {}
    for record in records:
        by_row.setdefault(record["row"], []).append(record)
    cost = {}
    for label, found in by_row.items():
        masks = np.array([r["masks_used"] for r in found], dtype=np.float64)
        cost[label] = {"median": float(np.median(masks)), "p90": float(np.percentile(masks, 90)),
                       "capped": float(np.mean([r["capped"] for r in found])),
                       "seconds": float(found[0]["seconds"]), "images": len(found), "cpu": found[0].get("cpu", "")}
    return cost


def road_ranking(evaluation_folder: PathLike, labels: Sequence[str]) -> Tuple[Dict[str, dict], List[dict]]:
    """ROAD gap of the rows of the designs ``labels`` (and of nothing else) in an evaluation store: label -> ranking
    row (mean, interval, letters, noise), and the pairs (:func:`drise_tf.evaluation.report.ranking`)."""
    settings, records = read_records(evaluation_folder)
    names = {row_name(label): label for label in labels}
    values = {names[name]: array for name, array in metric_values(records, PRIMARY_METRIC).items() if name in names}
    missing = sorted(set(labels) - set(values))
    if missing:
        raise ValueError(f"{evaluation_folder} holds no ROAD values of the designs {missing}")
    second = metric_values(records, PRIMARY_METRIC, seed=1)
    n_images = len(next(iter(values.values())))
    noise = {names[name]: seed_noise(values[names[name]][: len(array)], array, n_images)
             for name, array in second.items() if name in names}
    rows, pairs = ranking(values, higher_is_better=METRICS[PRIMARY_METRIC], noise=noise, alpha=ALPHA,
                          seed=int(settings.get("seed", 0)))
    return {row["variant"]: row for row in rows}, pairs


def not_below_best(evaluation_folder: PathLike, labels: Sequence[str]) -> Dict[str, bool]:
    """Label -> whether the design's ROAD gap is NOT significantly below the best of ``labels``' on this network:
    it shares a letter with the best (the report's rule: Holm-corrected paired Wilcoxon over every pair of
    ``labels``, and a difference beyond twice the Monte Carlo noise)."""
    rows, _ = road_ranking(evaluation_folder, labels)
    best = max(rows.values(), key=lambda row: row["mean"])
    return {label: bool(set(row["letters"]) & set(best["letters"])) for label, row in rows.items()}


def _stage_folders(sweep_folder: PathLike, stage: Stage) -> Dict[str, pathlib.Path]:
    return {network: pathlib.Path(sweep_folder) / stage.name / network for network in stage.networks}


def confirmation_designs(sweep_folder: PathLike) -> List[str]:
    """The screened designs that go on to the confirmation, by the rule declared before the screening ran.

    On each screening network, a sweep design qualifies when its ROAD gap is not significantly below the best sweep
    design's there (:func:`not_below_best`). The designs that qualify on every screening network go on, those with
    the fewest forwards to a stable map first (the larger of the networks' medians; ties: the higher mean ROAD gap
    over the networks), at most :data:`CONFIRMED_MOST`. If fewer than :data:`CONFIRMED_LEAST` qualify everywhere,
    the designs with the best worst-network ROAD rank fill up to :data:`CONFIRMED_LEAST`.
    """
    folders = _stage_folders(sweep_folder, SCREENING)
    labels = list(SWEEP_DESIGNS)
    qualify = {network: not_below_best(folder / "evaluation", labels) for network, folder in folders.items()}
    ranked = {network: road_ranking(folder / "evaluation", labels)[0] for network, folder in folders.items()}
    costs = {network: stability_cost(folder / "stability") for network, folder in folders.items()}

    def forwards(label: str) -> float:
        return max(costs[network][label]["median"] for network in folders)

    def mean_gap(label: str) -> float:
        return float(np.mean([ranked[network][label]["mean"] for network in folders]))

    everywhere = [label for label in labels if all(qualify[network][label] for network in folders)]
    chosen = sorted(everywhere, key=lambda label: (forwards(label), -mean_gap(label)))[:CONFIRMED_MOST]
    if len(chosen) < CONFIRMED_LEAST:
        worst_rank = {label: max(ranked[network][label]["rank"] for network in folders) for label in labels}
        rest = sorted((label for label in labels if label not in chosen), key=lambda label: (worst_rank[label],
                                                                                              -mean_gap(label)))
        chosen += rest[: CONFIRMED_LEAST - len(chosen)]
    return chosen


@dataclass(frozen=True)
class Recommendation:
    """The recommended design and how it was chosen.

    Attributes
    ----------
    label : str
        The recommended design.
    qualifies : dict
        Design -> network -> not significantly below the best confirmed design's ROAD gap there.
    forwards : dict
        Design -> the larger of the networks' median forwards to a stable map.
    losses : dict
        Network -> the recommended design's ROAD gap minus the best design's there, where it is significantly below.
    """

    label: str
    qualifies: Mapping[str, Mapping[str, bool]]
    forwards: Mapping[str, float]
    losses: Mapping[str, float]


def recommend(sweep_folder: PathLike) -> Recommendation:
    """The recommended design, by the rule declared before the confirmation ran.

    Among the confirmed designs whose ROAD gap is not significantly below the best confirmed design's on any of the
    confirmation's networks (:func:`not_below_best`), the one with the fewest forwards to a stable map (the largest
    of the networks' medians). If no design qualifies on every network: the one that qualifies on the most networks,
    then the fewest forwards; :attr:`Recommendation.losses` says where it loses and by how much.
    """
    folders = _stage_folders(sweep_folder, CONFIRMATION)
    labels = confirmation_designs(sweep_folder)
    qualify = {network: not_below_best(folder / "evaluation", labels) for network, folder in folders.items()}
    costs = {network: stability_cost(folder / "stability") for network, folder in folders.items()}
    forwards = {label: max(costs[network][label]["median"] for network in folders) for label in labels}
    by_design = {label: {network: qualify[network][label] for network in folders} for label in labels}
    label = min(labels, key=lambda name: (-sum(by_design[name].values()), forwards[name]))
    losses = {}
    for network, folder in folders.items():
        if not by_design[label][network]:
            rows, _ = road_ranking(folder / "evaluation", labels)
            losses[network] = rows[label]["mean"] - max(row["mean"] for row in rows.values())
    return Recommendation(label, by_design, forwards, losses)


# ------------------------------------------------------------------------------------------------------ report
SUMMARY_COLUMNS = ("network", "design", "road_gap", "low", "high", "letters", "noise", "mu_fidelity",
                   "deletion_auc", "insertion_auc", "median_forwards", "p90_forwards", "capped", "seconds_per_map")


def stage_summary(sweep_folder: PathLike, stage_name: str) -> List[dict]:
    """One row per network and row of a stage (the D-RISE designs and RISE): ROAD gap with interval, letters (among
    every row of that network) and noise, the other metrics' means, and the stable-map cost."""
    stage = STAGES[stage_name]
    rows = []
    for network, folder in _stage_folders(sweep_folder, stage).items():
        if not (folder / "evaluation" / "settings.json").is_file():
            continue
        settings, records = read_records(folder / "evaluation")
        labels = list(settings["designs"])
        names = {**{row_name(label): label for label in labels}, "RISE": "RISE"}
        values = {names[name]: array for name, array in metric_values(records, PRIMARY_METRIC).items()
                  if name in names}
        second = metric_values(records, PRIMARY_METRIC, seed=1)
        noise = {names[name]: seed_noise(values[names[name]][: len(array)], array, len(values[names[name]]))
                 for name, array in second.items() if name in names}
        ranked, _ = ranking(values, higher_is_better=True, noise=noise, alpha=ALPHA, seed=stage.seed)
        others = {metric: metric_values(records, metric) for metric in ("mu_fidelity", "deletion_auc",
                                                                         "insertion_auc")}
        cost = stability_cost(folder / "stability") if (folder / "stability" / "settings.json").is_file() else {}
        source = {label: name for name, label in names.items()}
        for row in ranked:
            label, found = row["variant"], cost.get(row["variant"], {})
            rows.append({"network": network, "design": label, "road_gap": row["mean"], "low": row["low"],
                         "high": row["high"], "letters": row["letters"], "noise": row["noise"],
                         **{metric: float(np.nanmean(table[source[label]])) for metric, table in others.items()},
                         "median_forwards": round(found["median"]) if found else "",
                         "p90_forwards": round(found["p90"]) if found else "",
                         "capped": found.get("capped", float("nan")),
                         "seconds_per_map": found.get("seconds", float("nan")), "cpu": found.get("cpu", "")})
    return rows


#: The metrics read beside ROAD: column of :data:`SUMMARY_COLUMNS` -> higher is better.
OTHER_METRICS = {metric: METRICS[metric] for metric in ("mu_fidelity", "deletion_auc", "insertion_auc")}


def other_metrics_disagree(rows: Sequence[Mapping[str, Any]], labels: Sequence[str],
                           chosen: str) -> List[Tuple[str, str, str]]:
    """(network, metric, design) wherever the best of ``labels`` by a metric of :data:`OTHER_METRICS` (its mean, in
    its direction) is not ``chosen``; ``rows`` as :func:`stage_summary` gives them."""
    found = []
    for network in dict.fromkeys(row["network"] for row in rows):
        mine = [row for row in rows if row["network"] == network and row["design"] in labels]
        for metric, higher in OTHER_METRICS.items():
            best = max(mine, key=lambda row: row[metric] if higher else -row[metric])["design"]
            if best != chosen:
                found.append((network, metric, best))
    return found


def write_sweep_report(sweep_folder: PathLike, stage_name: str, *, out: Optional[PathLike] = None,
                       cpu: str = "") -> Dict[str, str]:
    """A stage's summary as ``<stage>.csv`` and ``<stage>.md`` and its Pareto figure ``<stage>_pareto.png`` (ROAD gap
    against the median forwards to a stable map, one panel per network), in ``out`` (default ``sweep_folder``);
    the markdown names the designs that go on (screening) or the recommended design (confirmation) when every
    network of the stage is finished, and the CPU the stable maps were timed on (``cpu``, default: as the stores
    say)."""
    stage = STAGES[stage_name]
    out = pathlib.Path(out or sweep_folder)
    rows = stage_summary(sweep_folder, stage_name)
    if not rows:
        raise ValueError(f"{sweep_folder} holds no finished {stage_name} network yet: nothing to report")
    finished = {row["network"] for row in rows} == set(stage.networks)
    cpu = cpu or "; ".join(sorted({row["cpu"] for row in rows if row["cpu"]})) or "the CPU of the run"
    marked = {THESIS_DESIGN_LABEL: "thesis", "RISE": "RISE"}
    if finished and stage.name == "screening":
        marked.update({label: "goes on" for label in confirmation_designs(sweep_folder)})
    elif finished:
        marked[recommend(sweep_folder).label] = "recommended"
    figure = pareto_figure(
        {network: [(row["design"], float(row["median_forwards"] or "nan"), row["road_gap"], row["low"], row["high"])
                   for row in rows if row["network"] == network] for network in dict.fromkeys(r["network"]
                                                                                              for r in rows)},
        marked=marked, target=STABILITY_TARGET, cap=STABILITY_CAP)
    text = (f"# D-RISE design sweep: {stage.name}\n\n{stage.images} test images per network; every map from "
            f"{RUN_OPTIONS['n_masks']} {RUN_OPTIONS['sampling']} masks; ROAD gap with 95% bootstrap intervals, "
            f"letters (paired Wilcoxon, Holm over every pair of a network's rows, beyond twice the Monte Carlo noise "
            f"of the second seed on the first {stage.noise_images} images). Forwards to a stable map: masks until an "
            f"estimated two-seed Spearman of {STABILITY_TARGET} (rounds of {STABILITY_ROUND}, cap {STABILITY_CAP}), on "
            f"the first {STABILITY_IMAGES} images; seconds per map on {cpu}.\n\n"
            + tables.markdown_table(rows, SUMMARY_COLUMNS) + "\n")
    if finished and stage.name == "screening":
        chosen = ", ".join(confirmation_designs(sweep_folder))
        text += f"\nGo on to the confirmation (the declared rule, letters among the 18 sweep designs only): {chosen}.\n"
    elif finished:
        chosen = recommend(sweep_folder)
        text += (f"\nRecommended (the declared rule): **{chosen.label}**, "
                 f"{chosen.forwards[chosen.label]:.0f} median forwards to a stable map"
                 + (f"; significantly below the best on {chosen.losses}" if chosen.losses else
                    "; not significantly below the best design on any network") + ".\n")
        disagreements = other_metrics_disagree(rows, list(chosen.qualifies), chosen.label)
        text += ("\nWhere the other metrics would choose otherwise (their best confirmed design by the mean; their "
                 "paired tests are in each network's evaluation/report.md): " + ("; ".join(
                     f"{network} {metric}: {best}" for network, metric, best in disagreements) or "nowhere") + ".\n")
    return {"csv": tables.write_csv(rows, out / f"{stage.name}.csv", SUMMARY_COLUMNS),
            "markdown": write_text_atomic(out / f"{stage.name}.md", text),
            "figure": save(figure, out / f"{stage.name}_pareto.png", close=True), "text": text}
