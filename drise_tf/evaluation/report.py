"""The evaluation's answer: per metric, a ranking of the variants with bootstrap intervals, paired Wilcoxon tests with
Holm's correction, a compact letter display of the groups that cannot be told apart and the Monte Carlo noise of the
maps beside it; written as CSV, markdown and a figure. :func:`compare_runs` asks whether two runs' answers differ
(e.g. maps at a fixed N against maps at a fixed stability)."""
from __future__ import annotations

import itertools
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from drise_tf.core import tables
from drise_tf.core.compat import write_text_atomic
from drise_tf.evaluation.run import (
    FACTORIAL_DESIGNS,
    FAITHFULNESS_METRICS,
    METRICS,
    PRIMARY_METRIC,
    SMOOTHED_SUFFIX,
    drise_name,
)
from drise_tf.evaluation.store import read_records, require_same_model
from drise_tf.metrics.statistics import (
    bootstrap_ci,
    compact_letters,
    factorial_contrasts,
    holm,
    paired_effects,
    pairwise_comparisons,
    wilcoxon_p,
)
from drise_tf.plotting.figures import ranking_figure, save

#: How many noise standard deviations a difference must exceed not to be flagged as within the Monte Carlo noise.
NOISE_FACTOR = 2.0
#: The mask-design factorial's factors as its variant names spell them: factor -> (level 0, level 1), the thesis's
#: D-RISE at level 0 and RISE's choice at level 1 (the aggregation is "none": with antithetic masks the others order
#: the pixels the same way).
FACTORS: Dict[str, Tuple[str, str]] = {"grid": ("16x16", "7x7"), "upsampling": ("nearest", "bilinear"),
                                       "score": ("cosine", "probability"), "smoothing": ("raw", "smoothed")}
FACTORIAL_AGGREGATION = "none"
#: Columns of ``pairs_<metric>.csv`` (written with its header even when one row is left and there are no pairs).
PAIR_COLUMNS = ("a", "b", "n", "mean_difference", "low", "high", "p", "p_holm", "significant", "noise", "within_noise")


def metric_values(records: Sequence[Mapping[str, Any]], metric: str, *, seed: int = 0) -> Dict[str, np.ndarray]:
    """Variant -> the metric per image (NaN where undefined), images in run order, for one seed's records."""
    chosen = [r for r in records if r["seed"] == seed]
    positions = sorted({r["position"] for r in chosen})
    column = {position: k for k, position in enumerate(positions)}
    values: Dict[str, np.ndarray] = {}
    for record in chosen:
        array = values.setdefault(record["variant"], np.full(len(positions), np.nan))
        value = record.get(metric)
        array[column[record["position"]]] = np.nan if value is None else value
    return values


def identical_groups(records: Sequence[Mapping[str, Any]], metrics: Sequence[str], *,
                     tolerance: float = 1e-4) -> List[List[str]]:
    """Variants whose mean absolute difference over the images is at most ``tolerance`` in every one of
    ``metrics`` (one row of the report: variants that order the pixels identically up to float rounding at
    near-ties), in first-seen order; a merged row shows its first variant's values of the other metrics."""
    tables_by_metric = [metric_values(records, metric) for metric in metrics]
    groups: List[List[str]] = []
    for name in tables_by_metric[0]:
        for group in groups:
            if all(np.nan_to_num(np.nanmean(np.abs(table[name] - table[group[0]])), nan=0.0) <= tolerance
                   for table in tables_by_metric):
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def group_name(group: Sequence[str]) -> str:
    """``"D-RISE cosine/none = coverage = debiased"`` for a group of D-RISE aggregations of one score."""
    first, rest = group[0], group[1:]
    prefix = first.rsplit("/", 1)[0] + "/" if "/" in first else None
    if prefix and all(name.startswith(prefix) for name in rest):
        return " = ".join([first] + [name[len(prefix):] for name in rest])
    return " = ".join(group)


def seed_noise(first: np.ndarray, second: np.ndarray, n_images: int) -> float:
    """Standard deviation of a variant's mean metric over ``n_images`` images across mask / noise seeds, estimated
    from the same images measured under two seeds (``first``, ``second``).

    With per-image differences d between the seeds, one run's per-image noise variance is var(d)/2; the part that
    all images share (their maps share the masks) is what remains of mean(d)^2/2 beyond its sampling variance. The
    mean's noise is the square root of var(d)/(2 n_images) plus that shared part. 0 for deterministic methods.
    """
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    difference = difference[np.isfinite(difference)]
    if difference.size < 2:
        return float("nan")
    independent = difference.var(ddof=1) / 2
    shared = max(0.0, difference.mean() ** 2 / 2 - independent / difference.size)
    return float(np.sqrt(independent / n_images + shared))


def ranking(
    values: Mapping[str, np.ndarray], *, higher_is_better: bool, noise: Optional[Mapping[str, float]] = None,
    confidence: float = 0.95, alpha: float = 0.05, n_resamples: int = 2000, seed: int = 0,
) -> Tuple[List[dict], List[dict]]:
    """Rank variants by their mean metric, with letters for the groups that cannot be told apart.

    Two variants get different letters only if their paired Wilcoxon test is significant after Holm's correction
    AND their mean difference exceeds :data:`NOISE_FACTOR` times its Monte Carlo noise (``noise``: variant -> noise
    of its mean; missing or NaN means unknown and flags nothing).

    Returns
    -------
    (rows, pairs)
        ``rows``: ``rank, variant, mean, low, high, letters, noise, n`` best first; ``pairs``: the rows of
        :func:`drise_tf.metrics.pairwise_comparisons` with ``noise`` and ``within_noise`` added.
    """
    noise = dict(noise or {})
    sign = 1.0 if higher_is_better else -1.0
    means = {name: float(np.nanmean(array)) for name, array in values.items()}
    ranked = sorted(values, key=lambda name: -sign * means[name])
    pairs = pairwise_comparisons(values, confidence=confidence, alpha=alpha, n_resamples=n_resamples, seed=seed)
    different = []
    for pair in pairs:
        pair_noise = float(np.hypot(noise.get(pair["a"], 0.0), noise.get(pair["b"], 0.0)))
        pair["noise"] = pair_noise
        pair["within_noise"] = bool(abs(pair["mean_difference"]) <= NOISE_FACTOR * pair_noise)
        if pair["significant"] and not pair["within_noise"]:
            different.append((pair["a"], pair["b"]))
    letters = compact_letters(ranked, different)
    rows = []
    for rank, name in enumerate(ranked, start=1):
        finite = values[name][np.isfinite(values[name])]
        low, high = bootstrap_ci(finite, confidence=confidence, n_resamples=n_resamples, seed=seed)
        rows.append({"rank": rank, "variant": name, "mean": means[name], "low": low, "high": high,
                     "letters": letters[name], "noise": noise.get(name, float("nan")), "n": int(finite.size)})
    return rows, pairs


def factorial_variant(grid: str, upsampling: str, score: str, smoothing: str = "raw") -> str:
    """The evaluation's name of one cell of the mask-design factorial (levels as in :data:`FACTORS`)."""
    name = drise_name(score, FACTORIAL_AGGREGATION, f"{grid} {upsampling}")
    return name + (SMOOTHED_SUFFIX if smoothing == "smoothed" else "")


def _factorial_cells(values: Mapping[str, np.ndarray], length: Optional[int] = None) -> Dict[Tuple[int, ...], Any]:
    cells = {}
    for levels in itertools.product((0, 1), repeat=len(FACTORS)):
        name = factorial_variant(*(FACTORS[factor][level] for factor, level in zip(FACTORS, levels)))
        if name not in values:
            raise ValueError(f"the run has no variant {name!r}: not a mask-design factorial (evaluate-maps "
                             f"--designs factorial --similarities cosine probability)")
        cells[levels] = values[name][:length]
    return cells


def factorial_effects(records: Sequence[Mapping[str, Any]], metric: str = PRIMARY_METRIC, *, n_resamples: int = 2000,
                      seed: int = 0) -> Tuple[List[dict], List[dict]]:
    """Why RISE beats D-RISE: the main effects and two-factor interactions of the mask-design factorial (grid,
    upsampling, score, smoothing; :data:`FACTORS`) on ``metric``, and RISE's lead over the thesis's D-RISE split
    along the path score -> grid -> upsampling -> what is left (RISE itself), with grid and upsampling also taken in
    the other order (they interact, so each one's share depends on the order), raw and after the smoothing control.

    Every effect and step is a per-image paired difference (bootstrap interval, Wilcoxon, Holm over the family) with
    its Monte Carlo noise (the same effect on the noise images under the second mask seed; :func:`seed_noise`).

    Returns
    -------
    (effects, lead)
        ``effects``: rows ``effect, n, mean, low, high, p, p_holm, significant, noise, within_noise``; ``lead``: the
        same per step, plus ``smoothing, step, from, to, share`` (the step's share of the whole lead).
    """
    values, second = metric_values(records, metric), metric_values(records, metric, seed=1)
    n_images = len(next(iter(values.values())))
    n_noise = len(next(iter(second.values()))) if second else 0

    def with_noise(rows: List[dict], contrasts_first: Mapping[str, np.ndarray],
                   contrasts_second: Mapping[str, np.ndarray]) -> List[dict]:
        for row in rows:
            key = row["effect"]
            row["noise"] = (seed_noise(contrasts_first[key], contrasts_second[key], n_images) if n_noise > 1
                            else float("nan"))
            row["within_noise"] = bool(abs(row["mean"]) <= NOISE_FACTOR * row["noise"])
        return rows

    factors = list(FACTORS)
    effects = paired_effects(factorial_contrasts(_factorial_cells(values), factors), n_resamples=n_resamples, seed=seed)
    if n_noise:
        effects = with_noise(effects, factorial_contrasts(_factorial_cells(values, n_noise), factors),
                             factorial_contrasts(_factorial_cells(second), factors))
    steps, contrasts = [], {}
    for smoothing in FACTORS["smoothing"]:
        suffix = SMOOTHED_SUFFIX if smoothing == "smoothed" else ""
        path = [factorial_variant("16x16", "nearest", "cosine", smoothing),
                factorial_variant("16x16", "nearest", "probability", smoothing),
                factorial_variant("7x7", "nearest", "probability", smoothing),
                factorial_variant("7x7", "bilinear", "probability", smoothing), "RISE" + suffix]
        for label, start, end in zip(("score", "grid", "upsampling", "rest (RISE itself)"), path, path[1:]):
            steps.append({"smoothing": smoothing, "step": label, "from": start, "to": end})
        # grid and upsampling interact: the same two steps in the other order
        via = factorial_variant("16x16", "bilinear", "probability", smoothing)
        steps.append({"smoothing": smoothing, "step": "upsampling first", "from": path[1], "to": via})
        steps.append({"smoothing": smoothing, "step": "grid second", "from": via, "to": path[3]})
        steps.append({"smoothing": smoothing, "step": "whole lead", "from": path[0], "to": path[-1]})
    lead = []
    for step in steps:
        key = f"{step['smoothing']}: {step['step']}"
        contrasts[key] = values[step["to"]] - values[step["from"]]
        lead.append({**step, "effect": key})
    rows = paired_effects(contrasts, n_resamples=n_resamples, seed=seed)
    if n_noise:
        rows = with_noise(rows, {k: v[:n_noise] for k, v in contrasts.items()},
                          {step["effect"]: second[step["to"]] - second[step["from"]] for step in lead})
    for step, row in zip(lead, rows):
        whole = next(r for r in rows if r["effect"] == f"{step['smoothing']}: whole lead")
        step.update(row, share=row["mean"] / whole["mean"] if whole["mean"] else float("nan"))
    return effects, lead


def write_factorial(folder: str | os.PathLike, *, out: Optional[str | os.PathLike] = None,
                    metric: str = PRIMARY_METRIC, n_resamples: int = 2000) -> Dict[str, str]:
    """:func:`factorial_effects` of a results folder written as ``factorial_<metric>.csv``, ``lead_<metric>.csv``
    and ``factorial_<metric>.md``; returns the paths and the markdown (``text``)."""
    settings, records = read_records(folder)
    return _write_factorial(settings, records, pathlib.Path(out or folder), metric, n_resamples)


def _write_factorial(settings: Mapping[str, Any], records: Sequence[Mapping[str, Any]], out: pathlib.Path,
                     metric: str, n_resamples: int) -> Dict[str, str]:
    """:func:`write_factorial` on records already read."""
    effects, lead = factorial_effects(records, metric, n_resamples=n_resamples, seed=int(settings.get("seed", 0)))
    columns = ["effect", "n", "mean", "low", "high", "p_holm", "noise", "within_noise"]
    text = (f"# Why RISE beats D-RISE: the mask-design factorial on {metric}\n\n"
            f"{effects[0]['n']} images; D-RISE on the grids 16x16 and 7x7, upsampled nearest and bilinear, scored "
            f"by cosine and probability from the same forward passes, each map raw and smoothed "
            f"(sigma {settings.get('smoothing', {}).get('sigma', float('nan')):.2f} px). "
            f"{_masks_sentence(settings.get('drise', {}))} Effects are per-image paired differences (level 1 minus "
            f"level 0: {', '.join(f'{k} {b} - {a}' for k, (a, b) in FACTORS.items())}), two-factor interactions as "
            f"in Box, Hunter and Hunter; 95% bootstrap intervals, Holm-corrected Wilcoxon p-values; `noise`: the "
            f"effect's standard deviation across mask seeds (second seed on the first {settings.get('noise_images')}"
            f" images).\n\n## Main effects and interactions\n\n" + tables.markdown_table(effects, columns) +
            "\n\n## RISE's lead over the thesis's D-RISE, step by step\n\n" +
            tables.markdown_table(lead, ["smoothing", "step", "from", "to", "mean", "low", "high", "p_holm", "noise",
                                         "share"])
            + "\n")
    return {"effects": tables.write_csv(effects, out / f"factorial_{metric}.csv"),
            "lead": tables.write_csv(lead, out / f"lead_{metric}.csv"),
            "markdown": write_text_atomic(out / f"factorial_{metric}.md", text), "text": text}


def _masks_sentence(drise: Mapping[str, Any]) -> str:
    """How the D-RISE and RISE maps were made, in words."""
    sentence = f"D-RISE and RISE: {drise.get('n_masks')} {drise.get('sampling', 'iid')} masks per map"
    if drise.get("target_stability"):
        sentence += (f", then more until an estimated two-seed Spearman of {drise['target_stability']} "
                     f"(at most {drise.get('max_masks') or 20 * int(drise.get('n_masks') or 0)})")
    return sentence + "."


def write_report(folder: str | os.PathLike, *, out: Optional[str | os.PathLike] = None,
                 metrics: Optional[Sequence[str]] = None, n_resamples: int = 2000) -> Dict[str, str]:
    """Rank the variants of an evaluation run on every metric and write the answer next to the results.

    Files (in ``out``, default ``folder``): ``ranking_<metric>.csv`` and ``pairs_<metric>.csv`` per metric,
    ``ranking_<primary>.png``, and ``report.md`` (the primary metric first, then each secondary one).

    Returns
    -------
    dict
        File kind -> path.
    """
    settings, records = read_records(folder)
    if not records:
        raise ValueError(f"{folder} holds no finished chunk yet: nothing to report")
    out = pathlib.Path(out or folder)
    metrics = list(METRICS if metrics is None else metrics)
    groups = identical_groups(records, FAITHFULNESS_METRICS)
    kept = {group[0]: group_name(group) for group in groups}
    stability = metric_values(records, "stability")
    masks_used = metric_values(records, "masks_used")
    written: Dict[str, str] = {}
    sections = []
    n_images = len({r["position"] for r in records if r["seed"] == 0})
    for metric in metrics:
        values = {kept[name]: array for name, array in metric_values(records, metric).items() if name in kept}
        if not values or all(np.all(np.isnan(array)) for array in values.values()):
            continue
        second = metric_values(records, metric, seed=1)
        first = {name: array[: len(next(iter(second.values())))] for name, array in
                 metric_values(records, metric).items()} if second else {}
        noise = {kept[name]: seed_noise(first[name], second[name], n_images) for name in second if name in kept}
        noise.update({kept[name]: 0.0 for name in kept if name not in second and name in stability
                      and np.all(stability[name] == 1)})
        rows, pairs = ranking(values, higher_is_better=METRICS[metric], noise=noise, n_resamples=n_resamples,
                              seed=int(settings.get("seed", 0)))
        source = {label: name for name, label in kept.items()}
        for row in rows:
            name = source[row["variant"]]
            known = name in stability and np.isfinite(stability[name]).any()
            row["stability"] = float(np.nanmedian(stability[name])) if known else float("nan")
            counted = name in masks_used and np.isfinite(masks_used[name]).any()
            masks = np.nanmedian(masks_used[name]) if counted else None
            row["masks"] = "" if masks is None else int(masks)
        written[f"ranking_{metric}"] = tables.write_csv(rows, out / f"ranking_{metric}.csv")
        written[f"pairs_{metric}"] = tables.write_csv(pairs, out / f"pairs_{metric}.csv", PAIR_COLUMNS)
        direction = "higher is better" if METRICS[metric] else "lower is better"
        title = f"{metric} ({direction}; {rows[0]['n']} images)"
        if metric == PRIMARY_METRIC:
            title = f"Primary metric, declared before the run: {title}"
            written["figure"] = save(ranking_figure(rows, title=title), out / f"ranking_{metric}.png", close=True)
        sections.append(f"## {title}\n\n" + tables.markdown_table(
            rows, ["rank", "variant", "mean", "low", "high", "letters", "noise", "stability", "masks", "n"]))
    header = (f"# Evaluation of {n_images} images\n\nMeans with 95% bootstrap intervals over images; variants that "
              f"share a letter are not told apart (paired Wilcoxon signed-rank tests, Holm-corrected at 0.05, or a "
              f"difference within {NOISE_FACTOR:g}x the Monte Carlo noise of the maps); `noise`: standard deviation "
              f"of the mean across mask seeds (two seeds on the first {settings.get('noise_images')} images); "
              f"`stability`: median estimated two-seed Spearman of the maps; `masks`: median masks per map. "
              f"{_masks_sentence(settings.get('drise', {}))}\n")
    written["report"] = write_text_atomic(out / "report.md", header + "\n" + "\n\n".join(sections) + "\n")
    if set(settings.get("designs") or {}) == set(FACTORIAL_DESIGNS) and settings.get("smoothing"):
        written.update({f"factorial_{kind}": path for kind, path in
                        _write_factorial(settings, records, out, PRIMARY_METRIC, n_resamples).items()
                        if kind != "text"})
    return written


def compare_runs(first: str | os.PathLike, second: str | os.PathLike, *, metric: str = PRIMARY_METRIC,
                 confidence: float = 0.95, alpha: float = 0.05, n_resamples: int = 2000,
                 seed: int = 0) -> Tuple[List[dict], float]:
    """Does an evaluation's answer change with its settings (e.g. a fixed N against a fixed stability)? Two runs'
    results compared variant by variant on the images both measured (the first seed's records).

    Parameters
    ----------
    first, second : path
        Results folders of two evaluation runs of the same model (e.g. ``--n-masks 2000`` and
        ``--target-stability 0.8``).
    metric : str
        The metric compared (default: the primary one).
    confidence, alpha, n_resamples, seed
        Bootstrap interval level, family-wise level of the Holm-corrected Wilcoxon tests, resamples and seed.

    Returns
    -------
    (rows, tau)
        ``rows``: per variant both runs measured, on the images both measured (variants that both runs measured
        identically, such as aggregations that order the pixels the same way, are one row): ``variant, n, first,
        second, difference (second - first), low, high, p, p_holm, significant, rank_first, rank_second``, in the
        first run's order; ``tau``: Kendall's tau between the two runs' orders of the variants' means (1: the same
        order).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    require_same_model(first, second)
    values_by_run, groups_by_run = [], []  # per run: variant -> {image id: value}; variant -> its identical group
    for folder in (first, second):
        _, records = read_records(folder)
        values: Dict[str, Dict[int, float]] = {}
        for record in records:
            if record["seed"] == 0:
                value = record.get(metric)
                values.setdefault(record["variant"], {})[record["id"]] = np.nan if value is None else float(value)
        if not values:
            raise ValueError(f"{folder} holds no finished chunk with {metric!r} values")
        values_by_run.append(values)
        groups_by_run.append({name: group for group in identical_groups(records, FAITHFULNESS_METRICS)
                              for name in group})
    # one row per group of variants that both runs measured identically (as the report merges them)
    labels: Dict[str, str] = {}
    for name in (name for name in values_by_run[0] if name in values_by_run[1]):
        group = [other for other in groups_by_run[0][name] if other in groups_by_run[1][name]]
        labels.setdefault(group[0], group_name(group))
    if not labels:
        raise ValueError(f"{first} and {second} share no variant: nothing to compare")
    sign = 1.0 if METRICS[metric] else -1.0
    rows = []
    for name, label in labels.items():
        ids = sorted(set(values_by_run[0][name]) & set(values_by_run[1][name]))
        a, b = (np.array([run[name][image] for image in ids]) for run in values_by_run)
        keep = np.isfinite(a) & np.isfinite(b)
        difference = b[keep] - a[keep]
        low, high = bootstrap_ci(difference, confidence=confidence, n_resamples=n_resamples, seed=seed)
        rows.append({"variant": label, "n": int(keep.sum()), "first": float(a[keep].mean()),
                     "second": float(b[keep].mean()), "difference": float(difference.mean()), "low": low,
                     "high": high, "p": wilcoxon_p(difference)})
    for row, adjusted in zip(rows, holm([row["p"] for row in rows])):
        row["p_holm"] = float(adjusted)
        row["significant"] = bool(adjusted < alpha)
    for column in ("first", "second"):
        order = sorted(rows, key=lambda row: -sign * row[column])
        for rank, row in enumerate(order, start=1):
            row[f"rank_{column}"] = rank
    rows.sort(key=lambda row: row["rank_first"])
    tau = stats.kendalltau([row["first"] for row in rows], [row["second"] for row in rows]).statistic
    return rows, float(tau)


def write_comparison(first: str | os.PathLike, second: str | os.PathLike, out: str | os.PathLike, *,
                     metric: str = PRIMARY_METRIC, n_resamples: int = 2000) -> Dict[str, str]:
    """:func:`compare_runs` written to ``out`` as ``compare_<metric>.csv`` and ``compare_<metric>.md``.

    Returns
    -------
    dict
        ``csv`` and ``markdown``: the paths; ``text``: the markdown itself.
    """
    rows, tau = compare_runs(first, second, metric=metric, n_resamples=n_resamples)
    out = pathlib.Path(out)
    text = (f"# {metric}: {first} (first) against {second} (second)\n\nPer variant, the mean over the {rows[0]['n']} "
            f"images both runs measured, the paired difference (second - first) with a 95% bootstrap interval and "
            f"its Holm-corrected Wilcoxon p-value, and the variant's rank in each run. Kendall's tau between the two "
            f"orders: {tau:.3f}.\n\n" + tables.markdown_table(rows, ["variant", "n", "first", "second", "difference",
                                                                    "low", "high", "p_holm", "rank_first",
                                                                    "rank_second"]) + "\n")
    return {"csv": tables.write_csv(rows, out / f"compare_{metric}.csv"),
            "markdown": write_text_atomic(out / f"compare_{metric}.md", text), "text": text}
