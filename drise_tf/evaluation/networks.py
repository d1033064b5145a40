"""Which conclusions survive on other networks: the evaluation's variants ranked on several networks (each network
its own ``evaluate-maps`` results folder) and compared by their ORDERS, never image by image.

Two networks may have explained the same test images, but a per-image difference between them is not a paired
measurement of one model: the images' values come from different models. So :func:`compare_networks` compares
each network's means of the variants on its own images (Kendall's tau-b between two networks' orders, with a
bootstrap interval that resamples each network's images on its own) and reads every declared claim
(:data:`CLAIMS`) within each network with that network's own paired tests; :func:`require_same_model` is the check
that refuses a paired per-image comparison of two runs of different models (:func:`~.report.compare_runs`).
:func:`compare_metrics` asks the other question of the same stored runs: does the answer depend on the metric? Every
claim read under every faithfulness metric, and Kendall's tau-b between two metrics' orders within each network."""
from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from drise_tf.core import tables
from drise_tf.core.compat import write_text_atomic
from drise_tf.evaluation.report import (
    NOISE_FACTOR,
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
#: Verdicts of a claim on one network (not applicable: its comparisons need a value the metric does not have).
HOLDS, FAILS, UNDECIDED, NOT_APPLICABLE = "holds", "fails", "cannot be told", "not applicable"
#: The metric the claims were declared on: their margins are in its units.
CLAIMS_METRIC = PRIMARY_METRIC
#: What a claim's ``None`` stands for, the value of a random pixel order, on the metrics that know it without
#: measuring a random map: ROAD gap 0 (a random order and its reverse are alike, so are its MoRF and LeRF removals)
#: and MuFidelity 0 (a map independent of the model correlates with no drop). A random order's MoRF, LeRF, deletion
#: and insertion depend on the model and the images, and the runs measured no random map: a comparison with it is
#: not read on them (:data:`NOT_APPLICABLE`), rather than against 0, which every map would trivially beat or lose to.
CHANCE_LEVELS: Dict[str, float] = {"road_gap": 0.0, "mu_fidelity": 0.0}


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
#: Columns of ``metric_taus.csv`` and ``claims_by_metric.csv`` (:func:`write_metric_comparison`).
METRIC_TAU_COLUMNS = ("network", "first", "second", "n_variants", "n_images", "tau", "low", "high")
CLAIM_METRIC_COLUMNS = ("claim", "metric", "network", "verdict", "n", "margin", "text")
#: One letter per verdict in the at-a-glance table of :func:`write_metric_comparison`.
VERDICT_LETTERS = {HOLDS: "H", FAILS: "F", UNDECIDED: "?", NOT_APPLICABLE: "-"}


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
class _Run:
    name: str
    settings: Dict[str, Any]
    records: List[Dict[str, Any]]
    groups: Dict[str, List[str]]  # every variant -> its group of identically measured variants


def _read_runs(folders: Mapping[str, Union[str, os.PathLike]]) -> List[_Run]:
    """Every network's stored records, read once."""
    if len(folders) < 1:
        raise ValueError("comparing networks needs at least one network (name -> results folder)")
    runs = []
    for name, folder in folders.items():
        settings, records = read_records(folder)
        if not records:
            raise ValueError(f"network {name!r}: {folder} holds no finished chunk yet")
        groups = {variant: group for group in identical_groups(records, FAITHFULNESS_METRICS) for variant in group}
        runs.append(_Run(name, settings, records, groups))
    return runs


@dataclasses.dataclass
class _Network:
    name: str
    metric: str
    settings: Dict[str, Any]
    values: Dict[str, np.ndarray]  # group's first variant -> metric per image (seed 0)
    groups: Dict[str, List[str]]  # every variant -> its group of identically measured variants
    second: Dict[str, np.ndarray]  # variant -> metric per noise image under the second seed (deterministic: seed 0)
    n_images: int
    chance: Optional[float]  # the value of a random order (CHANCE_LEVELS), None when unknown

    def variant(self, name: Optional[str]) -> Optional[np.ndarray]:
        if name is None:
            return np.full(self.n_images, self.chance)
        return self.values[self.groups[name][0]] if name in self.groups else None

    def seed_one(self, name: Optional[str]) -> Optional[np.ndarray]:
        if name is None:
            return np.full(len(next(iter(self.second.values()), ())), self.chance)
        return self.second.get(self.groups[name][0]) if name in self.groups else None

    def means(self) -> Dict[str, float]:
        """Variant -> its mean over the images (NaN when undefined on every image)."""
        return {name: float(np.nanmean(array)) if np.isfinite(array).any() else float("nan")
                for name, array in self.values.items()}


def _network(run: _Run, metric: str) -> _Network:
    """One network's values of one metric, one item per group of identically measured variants."""
    values = metric_values(run.records, metric)
    first = {group[0]: values[group[0]] for group in run.groups.values()}
    second = metric_values(run.records, metric, seed=1)
    n_noise = len(next(iter(second.values()), ()))
    stability = metric_values(run.records, "stability")
    for variant in first:  # deterministic maps (stability 1) are not explained twice: their noise is 0
        if variant not in second and n_noise and variant in stability and np.all(stability[variant] == 1):
            second[variant] = first[variant][:n_noise]
    return _Network(run.name, metric, run.settings, first, run.groups, second, len(next(iter(values.values()))),
                    CHANCE_LEVELS.get(metric))


def _short(name: Optional[str]) -> str:
    if name is None:
        return "0"
    return name[len("D-RISE "):-len("/none")] if name.startswith("D-RISE ") and name.endswith("/none") else name


def _claim_margin(claim: Claim, network: _Network, declared: _Network) -> float:
    """The claim's margin in ``network``'s metric: as declared when that is :data:`CLAIMS_METRIC`, else the declared
    margin times the ratio of the spreads (standard deviations) of the network's variant means under the metric and
    under :data:`CLAIMS_METRIC` (``declared``).

    "Close behind by less than 0.05 ROAD gap" is read as "by less than the same share of how far the variants lie
    apart": the same under any change of a metric's units, offset or direction, and blind to per-image noise (a
    margin in per-image standard deviations would grant noisier metrics a wider one)."""
    if not claim.margin or network.metric == CLAIMS_METRIC:
        return claim.margin
    means, declared_means = network.means(), declared.means()
    shared = [name for name in means if np.isfinite(means[name]) and np.isfinite(declared_means.get(name, np.nan))]
    spread = np.std([means[name] for name in shared], ddof=1)
    return float(claim.margin * spread / np.std([declared_means[name] for name in shared], ddof=1))


def _judge(claim: Claim, network: _Network, *, margin: float, alpha: float, confidence: float, n_resamples: int,
           seed: int) -> Dict[str, Any]:
    """One claim on one network under its metric (``margin`` in that metric's units; :func:`_claim_margin`): its
    verdict, the images it was read on and the key numbers in a short text."""
    sign = 1.0 if METRICS[network.metric] else -1.0
    missing = sorted({name for pair in claim.comparisons for name in pair
                      if name is not None and name not in network.groups})
    undefined = [pair for pair in claim.comparisons if None in pair and network.chance is None]
    present = [pair for pair in claim.comparisons if not set(pair) & set(missing) and pair not in undefined]
    contrasts = {pair: sign * (network.variant(pair[0]) - network.variant(pair[1])) for pair in present}
    rows = paired_effects({f"{_short(a)} - {_short(b)}": c for (a, b), c in contrasts.items()},
                          confidence=confidence, alpha=alpha, n_resamples=n_resamples, seed=seed) if present else []
    supported, contradicted, notes = [], [], []  # (p_holm, -distance from the threshold, note) per comparison
    for (better, worse), row in zip(present, rows):
        noise = float("nan")
        again = [network.seed_one(name) for name in (better, worse)]  # the second seed's values, noise images
        if again[0] is not None and again[1] is not None and len(again[0]) > 1:
            noise = seed_noise(contrasts[(better, worse)][: len(again[0])], sign * (again[0] - again[1]), row["n"])
        shift = row["mean"] + margin  # how far the difference lies on the claimed side of its threshold
        beyond = not abs(shift) <= NOISE_FACTOR * noise  # NaN noise (unknown): not checked
        if margin:
            support, contradict = row["low"] > -margin, row["high"] < -margin
            low, high = sorted((sign * row["low"], sign * row["high"]))
            test = f"[{low:+.3f}, {high:+.3f}] against {-sign * margin:+.3g}"
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
    elif not missing and not undefined and len(supported) == len(present):
        verdict = HOLDS
        text = supported[0][-1] if len(supported) == 1 else (
            f"all {len(supported)} comparisons; weakest: {max(supported)[-1]}")
    else:
        verdict = NOT_APPLICABLE if undefined and not present and not missing else UNDECIDED
        text = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) +
                         ([f"no value of a random order on {network.metric}"] if undefined else []) +
                         [note for *_, note in notes])
    n = min((row["n"] for row in rows), default=0)
    return {"claim": claim.name, "network": network.name, "verdict": verdict, "n": n, "text": text}


def _resample_counts(n_images: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each image is drawn in each bootstrap resample of the images: (n_resamples, n_images)."""
    draws = rng.integers(0, n_images, size=(n_resamples, n_images))
    return np.bincount((draws + n_images * np.arange(n_resamples)[:, None]).ravel(),
                       minlength=n_resamples * n_images).reshape(n_resamples, n_images)


def _resampled_means(counts: np.ndarray, values: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """(n_resamples, len(names)): each variant's mean over each resample's images (``counts``), NaN images skipped."""
    table = np.array([values[name] for name in names])  # (variants, images)
    finite = np.isfinite(table)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(finite, table, 0.0).T) / (counts @ finite.T)


def _tau_interval(x: np.ndarray, y: np.ndarray, resampled_x: np.ndarray, resampled_y: np.ndarray,
                  confidence: float) -> Tuple[float, float, float]:
    """Kendall's tau-b between ``x`` and ``y`` and its percentile interval over their resampled values (rows)."""
    if len(x) < 2:
        return float("nan"), float("nan"), float("nan")
    tau, low, high = float(kendall_tau_b(x, y)), float("nan"), float("nan")
    boot = kendall_tau_b(resampled_x, resampled_y)
    if np.isfinite(boot).any():
        tail = 100 * (1 - confidence) / 2
        low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100 - tail]))
    return tau, low, high


def _check_metric(metric: str, allowed: Sequence[str]) -> None:
    if metric not in allowed:
        raise ValueError(f"metric must be one of {sorted(allowed)}, got {metric!r}")


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
        The metric (default: the primary, ROAD gap). The claims were declared on it; on another metric a margin is
        scaled (:func:`_claim_margin`) and a comparison with a random order needs :data:`CHANCE_LEVELS`.
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
        and network ``claim, network, verdict (holds / fails / cannot be told / not applicable), n, text``.
    """
    _check_metric(metric, list(METRICS))
    runs = _read_runs(folders)
    networks = [_network(run, metric) for run in runs]
    resampled = []  # per network: variant -> its column, (n_resamples, n variants) resampled means
    for index, network in enumerate(networks):
        names = list(network.values)
        counts = _resample_counts(network.n_images, n_resamples, np.random.default_rng([seed, index]))
        resampled.append(({name: k for k, name in enumerate(names)}, _resampled_means(counts, network.values, names)))
    point = [network.means() for network in networks]
    taus = []
    for a in range(len(networks)):
        for b in range(a + 1, len(networks)):
            first, second = networks[a], networks[b]
            shared: Dict[str, Tuple[str, str]] = {}  # one item per group both measured identically
            for name in (name for name in first.groups if name in second.groups):
                group = [other for other in first.groups[name] if other in second.groups[name]]
                shared.setdefault(group[0], (first.groups[name][0], second.groups[name][0]))
            items = [pair for pair in shared.values() if np.isfinite(point[a][pair[0]] + point[b][pair[1]])]
            tau, low, high = _tau_interval(
                np.array([point[a][pair[0]] for pair in items]), np.array([point[b][pair[1]] for pair in items]),
                resampled[a][1][:, [resampled[a][0][pair[0]] for pair in items]],
                resampled[b][1][:, [resampled[b][0][pair[1]] for pair in items]], confidence)
            taus.append({"first": first.name, "second": second.name, "n_variants": len(items),
                         "n_first": first.n_images, "n_second": second.n_images, "tau": tau, "low": low,
                         "high": high})
    declared = networks if metric == CLAIMS_METRIC else [_network(run, CLAIMS_METRIC) for run in runs]
    verdicts = [_judge(claim, network, margin=_claim_margin(claim, network, reference), alpha=alpha,
                       confidence=confidence, n_resamples=n_resamples, seed=seed)
                for claim in claims for network, reference in zip(networks, declared)]
    return {
        "metric": metric,
        "networks": {network.name: {"n_images": network.n_images, "model": network.settings.get("model"),
                                    "means": means, "labels": {name: group_name(network.groups[name])
                                                               for name in network.values}}
                     for network, means in zip(networks, point)},
        "taus": taus,
        "claims": verdicts,
    }


def compare_metrics(folders: Mapping[str, Union[str, os.PathLike]], *,
                    metrics: Sequence[str] = FAITHFULNESS_METRICS, n_resamples: int = 2000, seed: int = 0,
                    confidence: float = 0.95, claims: Sequence[Claim] = CLAIMS,
                    alpha: float = ALPHA) -> Dict[str, Any]:
    """Does the answer depend on the metric? Every claim read on every network under every metric, as
    :func:`compare_networks` reads it under one (the same paired tests, Holm family, intervals and Monte Carlo noise;
    each metric in its own direction, :data:`~.run.METRICS`), and Kendall's tau-b between every two metrics' orders
    of the variants on each network. From the stored records only: no forward pass.

    The claims were declared on :data:`CLAIMS_METRIC`; on another metric a margin is scaled (:func:`_claim_margin`),
    and a comparison with a random order (``None``) is read only where :data:`CHANCE_LEVELS` knows its value.

    Parameters
    ----------
    folders : dict
        Network name -> its ``evaluate-maps`` results folder.
    metrics : sequence of str
        Faithfulness metrics (:data:`~.run.FAITHFULNESS_METRICS`, the default: all of them).
    n_resamples, seed, confidence, claims, alpha
        As in :func:`compare_networks`.

    Returns
    -------
    dict
        ``metrics``; ``networks``: name -> ``{"n_images", "model", "means": {metric: {variant: mean}}}``;
        ``claims``: per claim, metric and network ``claim, metric, network, verdict, n, margin, text``
        (:data:`CLAIM_METRIC_COLUMNS`; ``margin`` in the metric's units); ``taus``: per network and pair of metrics
        ``network, first, second, n_variants, n_images, tau, low, high``: tau-b between the two metrics' means of
        the variants defined under both, each oriented so that the best comes first (+1: the same order from best
        to worst), with a percentile interval from resampling the network's images (the same resamples for every
        metric: both metrics were measured on the same images).
    """
    metrics = list(metrics)
    for metric in metrics:
        _check_metric(metric, FAITHFULNESS_METRICS)
    if not metrics or len(set(metrics)) < len(metrics):
        raise ValueError(f"metrics must name each faithfulness metric at most once, got {metrics}")
    runs = _read_runs(folders)
    by_metric = [{metric: _network(run, metric) for metric in metrics} for run in runs]
    declared = [networks.get(CLAIMS_METRIC) or _network(run, CLAIMS_METRIC) for run, networks in zip(runs, by_metric)]
    rows = []
    for claim in claims:
        for metric in metrics:
            for networks, reference in zip(by_metric, declared):
                margin = _claim_margin(claim, networks[metric], reference)
                row = _judge(claim, networks[metric], margin=margin, alpha=alpha, confidence=confidence,
                             n_resamples=n_resamples, seed=seed)
                rows.append({**row, "metric": metric, "margin": margin})
    taus, summary = [], {}
    for index, (run, networks) in enumerate(zip(runs, by_metric)):
        some = networks[metrics[0]]
        names = list(some.values)
        counts = _resample_counts(some.n_images, n_resamples, np.random.default_rng([seed, index]))
        means = {metric: network.means() for metric, network in networks.items()}
        sign = {metric: 1.0 if METRICS[metric] else -1.0 for metric in metrics}
        resampled = {metric: sign[metric] * _resampled_means(counts, network.values, names)
                     for metric, network in networks.items()}
        for first, second in itertools.combinations(metrics, 2):
            items = [k for k, name in enumerate(names) if np.isfinite(means[first][name] + means[second][name])]
            point = {metric: sign[metric] * np.array([means[metric][names[k]] for k in items])
                     for metric in (first, second)}
            tau, low, high = _tau_interval(point[first], point[second], resampled[first][:, items],
                                           resampled[second][:, items], confidence)
            taus.append({"network": run.name, "first": first, "second": second, "n_variants": len(items),
                         "n_images": some.n_images, "tau": tau, "low": low, "high": high})
        summary[run.name] = {"n_images": some.n_images, "model": run.settings.get("model"), "means": means}
    return {"metrics": metrics, "networks": summary, "claims": rows, "taus": taus}


def _header(name: str, n_images: int, accuracies: Mapping[str, float]) -> str:
    """A network's column heading: its name, its test accuracy when known and its number of images."""
    details = ([f"accuracy {accuracies[name]:.3f}"] if name in accuracies else []) + [f"{n_images} images"]
    return f"{name} ({', '.join(details)})"


def _direction(metric: str) -> str:
    return "higher is better" if METRICS[metric] else "lower is better"


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
        return _header(name, result["networks"][name]["n_images"], accuracies)

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
    text = (
        f"# Which conclusions survive: {metric} ({_direction(metric)}) on {len(names)} networks\n\n"
        f"Each network's variants measured on its own images (its evaluate-maps run; the first seed). A claim "
        f"**holds** on a network when every comparison it requires is significant in the claimed direction (paired "
        f"Wilcoxon on that network's images, Holm over the claim's comparisons, at {ALPHA:g}; 'cosine close behind': "
        f"the 95% bootstrap interval of probability minus cosine lies wholly below {CLOSE_MARGIN:g}) and beyond "
        f"{NOISE_FACTOR:g}x its Monte Carlo noise; it **fails** when one is so in the opposite direction; otherwise "
        f"it **cannot be told** (also when a variant is missing). Images are never paired across networks: the "
        f"networks are compared by their orders.\n\n## Claims\n\n" + tables.markdown_table(claim_rows, columns) +
        "\n\n## Orders: Kendall's tau-b between two networks' means\n\nWith a 95% percentile interval from "
        "resampling each network's images on its own.\n\n" + tables.markdown_table(result["taus"], TAU_COLUMNS) +
        "\n\n## Means (rank) per network\n\n" + tables.markdown_table(mean_rows, ["variant"] + columns[1:]) +
        "\n\n## The numbers behind each verdict\n\n" + details + "\n")
    return {"networks": tables.write_csv(result["taus"], out / f"networks_{metric}.csv", TAU_COLUMNS),
            "claims": tables.write_csv(result["claims"], out / f"claims_{metric}.csv", CLAIM_COLUMNS),
            "markdown": write_text_atomic(out / f"networks_{metric}.md", text), "text": text}


def write_metric_comparison(folders: Mapping[str, Union[str, os.PathLike]], out: Union[str, os.PathLike], *,
                            metrics: Sequence[str] = FAITHFULNESS_METRICS,
                            accuracies: Optional[Mapping[str, float]] = None, n_resamples: int = 2000,
                            seed: int = 0) -> Dict[str, str]:
    """:func:`compare_metrics` written to ``out``: ``claims_by_metric.csv``, ``metric_taus.csv`` and
    ``claims_by_metric.md`` (the verdicts at a glance, claims x metrics with one letter per network; each claim's
    verdicts, metrics x networks; the taus between metrics per network; the scaled margins; each verdict's numbers).

    Returns
    -------
    dict
        ``claims``, ``taus``, ``markdown``: the paths; ``text``: the markdown itself.
    """
    result = compare_metrics(folders, metrics=metrics, n_resamples=n_resamples, seed=seed)
    accuracies = dict(accuracies or {})
    out = pathlib.Path(out)
    metrics, names = result["metrics"], list(result["networks"])
    headers = {name: _header(name, result["networks"][name]["n_images"], accuracies) for name in names}
    verdict = {(row["claim"], row["metric"], row["network"]): row for row in result["claims"]}
    claim_names = list(dict.fromkeys(row["claim"] for row in result["claims"]))
    labels = {metric: f"{metric} ({_direction(metric).split()[0]})" for metric in metrics}
    glance = [{"claim": claim, **{labels[metric]: " ".join(VERDICT_LETTERS[verdict[(claim, metric, name)]["verdict"]]
                                                             for name in names) for metric in metrics}}
              for claim in claim_names]
    per_claim = "\n\n".join(
        f"### {claim}\n\n" + tables.markdown_table(
            [{"metric": labels[metric], **{headers[name]: verdict[(claim, metric, name)]["verdict"] for name in names}}
             for metric in metrics], ["metric"] + list(headers.values()))
        for claim in claim_names)
    tau = {(row["network"], row["first"], row["second"]): row for row in result["taus"]}
    tau_rows = [{"metrics": f"{first} / {second}", **{
        headers[name]: f"{tau[(name, first, second)]['tau']:.2f} [{tau[(name, first, second)]['low']:.2f}, "
                       f"{tau[(name, first, second)]['high']:.2f}]" for name in names}}
                for first, second in itertools.combinations(metrics, 2)]
    margin_claims = [claim.name for claim in CLAIMS if claim.margin and claim.name in claim_names]
    margins = "\n\n".join(
        f"Margin of '{claim}' per metric and network:\n\n" + tables.markdown_table(
            [{"metric": labels[metric], **{headers[name]: f"{verdict[(claim, metric, name)]['margin']:.3g}"
                                           for name in names}} for metric in metrics],
            ["metric"] + list(headers.values())) for claim in margin_claims)
    details = "\n".join(f"- {row['claim']}, {row['metric']}, {row['network']} ({row['n']} images): "
                        f"**{row['verdict']}**: {row['text']}" for row in result["claims"])
    legend = ", ".join(f"{letter} {word}" for word, letter in VERDICT_LETTERS.items())
    text = (
        f"# Does the answer depend on the metric? {len(claim_names)} claims, {len(metrics)} metrics, {len(names)} "
        f"networks\n\n"
        f"The claims were declared on {CLAIMS_METRIC} before any run; here each is read on each network under every "
        f"metric, exactly as the {CLAIMS_METRIC} verdicts are (networks_{CLAIMS_METRIC}.md): the metric's own "
        f"direction, paired Wilcoxon tests on the network's images with Holm over the claim's comparisons at "
        f"{ALPHA:g}, 95% bootstrap intervals, and nothing decided within {NOISE_FACTOR:g}x the maps' Monte Carlo "
        f"noise. The {CLAIMS_METRIC} rows are those verdicts. Two readings are needed off {CLAIMS_METRIC}: a margin "
        f"declared in {CLAIMS_METRIC} units ('cosine close behind': within {CLOSE_MARGIN:g}) becomes the same share "
        f"of the spread (standard deviation) of the network's variant means under the metric (table below); a claim "
        f"against a random order ('cross_entropy inverted': below 0) is read only where a random order's value is "
        f"known without measuring one (0 for {' and '.join(CHANCE_LEVELS)}), and is **not applicable** elsewhere.\n\n"
        f"## At a glance\n\nOne letter per network, in the order {', '.join(names)}: {legend}.\n\n" +
        tables.markdown_table(glance, ["claim"] + [labels[metric] for metric in metrics]) +
        "\n\n## Per claim\n\n" + per_claim +
        "\n\n## Orders: Kendall's tau-b between two metrics' means, per network\n\nThe variants' means under each "
        "metric, oriented best first (+1: the same order from best to worst), with a 95% percentile interval from "
        "resampling the network's images (the same resamples for both metrics).\n\n" +
        tables.markdown_table(tau_rows, ["metrics"] + list(headers.values())) +
        "\n\n## Scaled margins\n\n" + margins + "\n\n## The numbers behind each verdict\n\n" + details + "\n")
    return {"claims": tables.write_csv(result["claims"], out / "claims_by_metric.csv", CLAIM_METRIC_COLUMNS),
            "taus": tables.write_csv(result["taus"], out / "metric_taus.csv", METRIC_TAU_COLUMNS),
            "markdown": write_text_atomic(out / "claims_by_metric.md", text), "text": text}
