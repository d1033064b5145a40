"""Which conclusions survive on other networks: the evaluation's variants ranked on several networks (each network
its own ``evaluate-maps`` results folder) and compared by their ORDERS, never image by image.

Two networks may have explained the same test images, but a per-image difference between them is not a paired
measurement of one model: the images' values come from different models. So :func:`compare_networks` compares
each network's means of the variants on its own images (Kendall's tau-b between two networks' orders, with a
bootstrap interval that resamples each network's images on its own) and reads every declared claim
(:data:`CLAIMS`) within each network with that network's own paired tests; :func:`require_same_model` is the check
that refuses a paired per-image comparison of two runs of different models (:func:`~.report.compare_runs`)."""
from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from drise_tf.core import tables
from drise_tf.core.compat import write_text_atomic
from drise_tf.evaluation.report import (
    NOISE_FACTOR,
    _markdown,
    group_name,
    identical_groups,
    metric_values,
    seed_noise,
)
from drise_tf.evaluation.run import FAITHFULNESS_METRICS, METRICS, PRIMARY_METRIC
from drise_tf.evaluation.store import read_records
from drise_tf.metrics.statistics import paired_effects

#: Family-wise level of the Holm-corrected Wilcoxon tests of a claim (one family per claim and network).
ALPHA = 0.05
#: "Cosine close behind" means: D-RISE cosine's mean is below D-RISE probability's by less than this many units of
#: the metric (ROAD gap: class probability), or above it. Holds when the 95% bootstrap interval of the per-image
#: deficit (probability - cosine) lies wholly below the margin, fails when it lies wholly above (both beyond twice the
#: Monte Carlo noise). 0.05 is about a seventh of probability's ROAD gap on the quick network (0.33), where the
#: deficit was 0.02.
CLOSE_MARGIN = 0.05
#: The registered D-RISE similarity scores (explain.similarity), as the evaluation names them.
DRISE_SCORES = ("probability", "neg_cross_entropy", "cosine", "margin", "cosine_prediction", "js", "kl",
                "cross_entropy")
#: The gradient and CAM methods of the evaluation (run.METHODS without RISE).
GRADIENT_AND_CAM = ("Saliency", "SmoothGrad", "Grad-CAM", "Grad-CAM++", "Faster-Score-CAM")
#: Verdicts of a claim on one network.
HOLDS, FAILS, UNDECIDED = "holds", "fails", "cannot be told"


@dataclasses.dataclass(frozen=True)
class Claim:
    """A conclusion as a family of required comparisons, each ``(better, worse)``: variant ``better``'s mean beats
    ``worse``'s in the metric's direction (``None``: the value 0, a map no better than a random order on ROAD).

    With ``margin`` 0 a comparison supports the claim when its paired Wilcoxon test (Holm over the claim's family)
    is significant with the difference in the claimed direction, and contradicts it when significant the other way.
    With ``margin`` > 0 the claim is only that ``better`` is not behind by ``margin`` or more: the comparison
    supports it when the bootstrap interval of the difference lies wholly above ``-margin`` and contradicts it when
    wholly below. Either way a difference (from 0, or from ``-margin``) within :data:`~.report.NOISE_FACTOR` times
    its Monte Carlo noise neither supports nor contradicts (noise unknown: not checked).
    """

    name: str
    comparisons: Tuple[Tuple[Optional[str], Optional[str]], ...]
    margin: float = 0.0


def _drise(score: str) -> str:
    # the evaluation's default-design D-RISE row ("none": coverage and debiased order the pixels the same way)
    return f"D-RISE {score}/none"


#: The README's conclusions, declared before any run on another network (ROAD gap: higher is better).
CLAIMS: Tuple[Claim, ...] = (
    Claim("probability first among scores",
          tuple((_drise("probability"), _drise(score)) for score in DRISE_SCORES if score != "probability")),
    Claim("cosine close behind", ((_drise("cosine"), _drise("probability")),), margin=CLOSE_MARGIN),
    Claim("cross_entropy inverted", ((None, _drise("cross_entropy")),)),
    Claim("RISE ahead of every D-RISE score", tuple(("RISE", _drise(score)) for score in DRISE_SCORES)),
    Claim("gradient and CAM methods behind the better D-RISE scores",
          tuple((_drise("probability"), method) for method in GRADIENT_AND_CAM)),
)
#: Columns of ``networks_<metric>.csv`` and ``claims_<metric>.csv``.
TAU_COLUMNS = ("first", "second", "n_variants", "n_first", "n_second", "tau", "low", "high")
CLAIM_COLUMNS = ("claim", "network", "verdict", "n", "text")


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``x`` and ``y`` along the last axis (leading axes broadcast: one tau per bootstrap
    resample): concordant minus discordant pairs over sqrt((pairs untied in x) (pairs untied in y)); NaN when
    either is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i, j = np.triu_indices(x.shape[-1], 1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    denominator = np.sqrt(np.count_nonzero(sx, axis=-1) * np.count_nonzero(sy, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (sx * sy).sum(axis=-1) / denominator, np.nan)


@dataclasses.dataclass
class _Network:
    name: str
    settings: Dict[str, Any]
    values: Dict[str, np.ndarray]  # group's first variant -> metric per image (seed 0)
    groups: Dict[str, List[str]]  # every variant -> its group of identically measured variants
    second: Dict[str, np.ndarray]  # variant -> metric per noise image under the second seed (deterministic: seed 0)
    n_images: int

    def variant(self, name: Optional[str]) -> Optional[np.ndarray]:
        if name is None:
            return np.zeros(self.n_images)
        return self.values[self.groups[name][0]] if name in self.groups else None

    def seed_one(self, name: Optional[str]) -> Optional[np.ndarray]:
        if name is None:
            return np.zeros(len(next(iter(self.second.values()), ())))
        return self.second.get(self.groups[name][0]) if name in self.groups else None


def _read_network(name: str, folder: Union[str, os.PathLike], metric: str) -> _Network:
    settings, records = read_records(folder)
    values = metric_values(records, metric)
    if not values:
        raise ValueError(f"network {name!r}: {folder} holds no finished chunk yet")
    groups = {variant: group for group in identical_groups(records, FAITHFULNESS_METRICS) for variant in group}
    first, second = {group[0]: values[group[0]] for group in groups.values()}, metric_values(records, metric, seed=1)
    n_noise = len(next(iter(second.values()), ()))
    stability = metric_values(records, "stability")
    for variant in first:  # deterministic maps (stability 1) are not explained twice: their noise is 0
        if variant not in second and n_noise and variant in stability and np.all(stability[variant] == 1):
            second[variant] = first[variant][:n_noise]
    return _Network(name, settings, first, groups, second, len(next(iter(values.values()))))


def _short(name: Optional[str]) -> str:
    if name is None:
        return "0"
    return name[len("D-RISE "):-len("/none")] if name.startswith("D-RISE ") and name.endswith("/none") else name


def _judge(claim: Claim, network: _Network, metric: str, *, alpha: float, confidence: float, n_resamples: int,
           seed: int) -> Dict[str, Any]:
    """One claim on one network: its verdict, the images it was read on and the key numbers in a short text."""
    sign = 1.0 if METRICS[metric] else -1.0
    missing = sorted({name for pair in claim.comparisons for name in pair
                      if name is not None and name not in network.groups})
    present = [pair for pair in claim.comparisons if not set(pair) & set(missing)]
    contrasts = {pair: sign * (network.variant(pair[0]) - network.variant(pair[1])) for pair in present}
    rows = paired_effects({f"{_short(a)} - {_short(b)}": c for (a, b), c in contrasts.items()},
                          confidence=confidence, alpha=alpha, n_resamples=n_resamples, seed=seed) if present else []
    supported, contradicted, notes = [], [], []  # (p_holm, -distance from the threshold, note) per comparison
    for (better, worse), row in zip(present, rows):
        noise = float("nan")
        again = [network.seed_one(name) for name in (better, worse)]  # the second seed's values, noise images
        if again[0] is not None and again[1] is not None and len(again[0]) > 1:
            noise = seed_noise(contrasts[(better, worse)][: len(again[0])], sign * (again[0] - again[1]), row["n"])
        shift = row["mean"] + claim.margin  # how far the difference lies on the claimed side of its threshold
        beyond = not abs(shift) <= NOISE_FACTOR * noise  # NaN noise (unknown): not checked
        if claim.margin:
            support, contradict = row["low"] > -claim.margin, row["high"] < -claim.margin
            low, high = sorted((sign * row["low"], sign * row["high"]))
            test = f"[{low:+.3f}, {high:+.3f}] against {-sign * claim.margin:+g}"
        else:
            support = row["significant"] and row["mean"] > 0
            contradict = row["significant"] and row["mean"] < 0
            test = f"p_holm {row['p_holm']:.2g}"
        means = " vs ".join(f"{_short(name)} {np.nanmean(network.variant(name)):.3f}" for name in (better, worse)
                            if name is not None)
        note = f"{means}: {sign * row['mean']:+.3f}, {test}"
        if np.isfinite(noise):
            note += f", noise {noise:.3f}" + ("" if beyond else " (within 2x)")
        (supported if support and beyond else contradicted if contradict and beyond else notes).append(
            (row["p_holm"], -abs(shift), note))
    if contradicted:
        verdict, text = FAILS, "; ".join(note for *_, note in contradicted)
    elif not missing and len(supported) == len(present):
        verdict = HOLDS
        text = supported[0][-1] if len(supported) == 1 else (
            f"all {len(supported)} comparisons; weakest: {max(supported)[-1]}")
    else:
        verdict = UNDECIDED
        text = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + [note for *_, note in notes])
    n = min((row["n"] for row in rows), default=0)
    return {"claim": claim.name, "network": network.name, "verdict": verdict, "n": n, "text": text}


def compare_networks(folders: Mapping[str, Union[str, os.PathLike]], *, metric: str = PRIMARY_METRIC,
                     n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
                     claims: Sequence[Claim] = CLAIMS, alpha: float = ALPHA) -> Dict[str, Any]:
    """Which conclusions survive on other networks: the variants' orders compared between networks, and every claim
    read on every network.

    Each network's values are its first seed's records on its own images; variants that it measured identically
    (:func:`~.report.identical_groups`, as the report merges them) are one variant, named by its first member (e.g.
    ``D-RISE probability/none`` for ``D-RISE probability/none = coverage = debiased``).

    Parameters
    ----------
    folders : dict
        Network name -> its ``evaluate-maps`` results folder.
    metric : str
        The metric (default: the primary, ROAD gap). The claims were declared on it.
    n_resamples, seed, confidence : int, int, float
        Bootstrap resamples (the taus' intervals and the claims' intervals), seed, interval level.
    claims : sequence of Claim
        Default :data:`CLAIMS`.
    alpha : float
        Family-wise level of the Holm-corrected Wilcoxon tests within one claim on one network.

    Returns
    -------
    dict
        ``metric``; ``networks``: name -> ``{"n_images", "model", "means": {variant: mean}, "labels": {variant:
        the report's row name}}``; ``taus``: one row per pair of networks, ``first, second, n_variants (shared),
        n_first, n_second (images), tau, low, high``: Kendall's tau-b between the two networks' means of their
        shared variants (variants two networks both measured identically are one, as in
        :func:`~.report.compare_runs`), with a percentile interval from resampling EACH network's images on its
        own (the means recomputed from the same resample for all of one network's variants); ``claims``: per claim
        and network ``claim, network, verdict (holds / fails / cannot be told), n, text``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    if len(folders) < 1:
        raise ValueError("compare_networks needs at least one network (name -> results folder)")
    networks = [_read_network(name, folder, metric) for name, folder in folders.items()]
    resampled = []  # per network: variant -> its column, (n_resamples, n variants) resampled means
    for index, network in enumerate(networks):
        names = list(network.values)
        table = np.array([network.values[name] for name in names])  # (variants, images)
        finite = np.isfinite(table)
        rng = np.random.default_rng([seed, index])
        draws = rng.integers(0, network.n_images, size=(n_resamples, network.n_images))
        counts = np.bincount((draws + network.n_images * np.arange(n_resamples)[:, None]).ravel(),
                             minlength=n_resamples * network.n_images).reshape(n_resamples, network.n_images)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (counts @ np.where(finite, table, 0.0).T) / (counts @ finite.T)
        resampled.append(({name: k for k, name in enumerate(names)}, means))
    point = [{name: float(np.nanmean(array)) if np.isfinite(array).any() else float("nan")
              for name, array in network.values.items()} for network in networks]
    taus = []
    tail = 100 * (1 - confidence) / 2
    for a in range(len(networks)):
        for b in range(a + 1, len(networks)):
            first, second = networks[a], networks[b]
            shared: Dict[str, Tuple[str, str]] = {}  # one item per group both measured identically
            for name in (name for name in first.groups if name in second.groups):
                group = [other for other in first.groups[name] if other in second.groups[name]]
                shared.setdefault(group[0], (first.groups[name][0], second.groups[name][0]))
            items = [pair for pair in shared.values() if np.isfinite(point[a][pair[0]] + point[b][pair[1]])]
            x = np.array([point[a][pair[0]] for pair in items])
            y = np.array([point[b][pair[1]] for pair in items])
            tau = float(kendall_tau_b(x, y)) if len(items) > 1 else float("nan")
            low = high = float("nan")
            if len(items) > 1:
                columns_a = [resampled[a][0][pair[0]] for pair in items]
                columns_b = [resampled[b][0][pair[1]] for pair in items]
                boot = kendall_tau_b(resampled[a][1][:, columns_a], resampled[b][1][:, columns_b])
                if np.isfinite(boot).any():
                    low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100 - tail]))
            taus.append({"first": first.name, "second": second.name, "n_variants": len(items),
                         "n_first": first.n_images, "n_second": second.n_images, "tau": tau, "low": low,
                         "high": high})
    verdicts = [_judge(claim, network, metric, alpha=alpha, confidence=confidence, n_resamples=n_resamples,
                       seed=seed) for claim in claims for network in networks]
    return {
        "metric": metric,
        "networks": {network.name: {"n_images": network.n_images, "model": network.settings.get("model"),
                                    "means": means, "labels": {name: group_name(network.groups[name])
                                                               for name in network.values}}
                     for network, means in zip(networks, point)},
        "taus": taus,
        "claims": verdicts,
    }


def write_network_comparison(folders: Mapping[str, Union[str, os.PathLike]], out: Union[str, os.PathLike], *,
                             metric: str = PRIMARY_METRIC, accuracies: Optional[Mapping[str, float]] = None,
                             n_resamples: int = 2000, seed: int = 0) -> Dict[str, str]:
    """:func:`compare_networks` written to ``out``: ``networks_<metric>.csv`` (the taus), ``claims_<metric>.csv``
    and ``networks_<metric>.md`` (the claims table, one column per network headed by its name, its test accuracy
    when ``accuracies`` gives it and its number of images; then the taus, the means and each verdict's numbers).

    Returns
    -------
    dict
        ``networks``, ``claims``, ``markdown``: the paths; ``text``: the markdown itself.
    """
    result = compare_networks(folders, metric=metric, n_resamples=n_resamples, seed=seed)
    accuracies = dict(accuracies or {})
    out = pathlib.Path(out)
    names = list(result["networks"])

    def header(name: str) -> str:
        details = ([f"accuracy {accuracies[name]:.3f}"] if name in accuracies else []) + [
            f"{result['networks'][name]['n_images']} images"]
        return f"{name} ({', '.join(details)})"

    verdict = {(row["claim"], row["network"]): row for row in result["claims"]}
    claim_names = list(dict.fromkeys(row["claim"] for row in result["claims"]))
    columns = ["claim"] + [header(name) for name in names]
    claim_rows = [{"claim": claim, **{header(name): verdict[(claim, name)]["verdict"] for name in names}}
                  for claim in claim_names]
    variants = list(dict.fromkeys(v for name in names for v in result["networks"][name]["means"]))
    sign = 1.0 if METRICS[metric] else -1.0
    mean_rows = []
    for variant in variants:
        row: Dict[str, Any] = {"variant": variant}
        for name in names:
            means = result["networks"][name]["means"]
            if variant in means and np.isfinite(means[variant]):
                rank = 1 + sum(sign * value > sign * means[variant] for value in means.values())
                row[header(name)] = f"{means[variant]:.3f} ({rank})"
        mean_rows.append(row)
    details = "\n".join(f"- {row['claim']}, {row['network']} ({row['n']} images): **{row['verdict']}**: "
                        f"{row['text']}" for row in result["claims"])
    direction = "higher is better" if METRICS[metric] else "lower is better"
    text = (
        f"# Which conclusions survive: {metric} ({direction}) on {len(names)} networks\n\n"
        f"Each network's variants measured on its own images (its evaluate-maps run; the first seed). A claim "
        f"**holds** on a network when every comparison it requires is significant in the claimed direction (paired "
        f"Wilcoxon on that network's images, Holm over the claim's comparisons, at {ALPHA:g}; 'cosine close behind': "
        f"the 95% bootstrap interval of probability minus cosine lies wholly below {CLOSE_MARGIN:g}) and beyond "
        f"{NOISE_FACTOR:g}x its Monte Carlo noise; it **fails** when one is so in the opposite direction; otherwise "
        f"it **cannot be told** (also when a variant is missing). Images are never paired across networks: the "
        f"networks are compared by their orders.\n\n## Claims\n\n" + _markdown(claim_rows, columns) +
        "\n\n## Orders: Kendall's tau-b between two networks' means\n\nWith a 95% percentile interval from "
        "resampling each network's images on its own.\n\n" + _markdown(result["taus"], TAU_COLUMNS) +
        "\n\n## Means (rank) per network\n\n" + _markdown(mean_rows, ["variant"] + columns[1:]) +
        "\n\n## The numbers behind each verdict\n\n" + details + "\n")
    return {"networks": tables.write_csv(result["taus"], out / f"networks_{metric}.csv", TAU_COLUMNS),
            "claims": tables.write_csv(result["claims"], out / f"claims_{metric}.csv", CLAIM_COLUMNS),
            "markdown": write_text_atomic(out / f"networks_{metric}.md", text), "text": text}
