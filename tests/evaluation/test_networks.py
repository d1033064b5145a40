"""Tests of drise_tf.evaluation.networks: orders compared across networks (tau-b with intervals from resampling each
network's images on its own), the declared claims read per network, and the refusal to pair images of two models."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from drise_tf.evaluation import networks, store
from drise_tf.evaluation.report import compare_runs
from drise_tf.evaluation.run import FAITHFULNESS_METRICS, METHODS, METRICS, drise_name
from drise_tf.evaluation.store import ResultStore

PROBABILITY, COSINE, CROSS_ENTROPY = "D-RISE probability/none", "D-RISE cosine/none", "D-RISE cross_entropy/none"
#: Means of a network on which every claim holds (ROAD gap; the quick network's order).
GOOD = {"RISE": 0.45, PROBABILITY: 0.33, "D-RISE neg_cross_entropy/none": 0.30, COSINE: 0.31,
        "D-RISE margin/none": 0.25, "D-RISE cosine_prediction/none": 0.20, "D-RISE js/none": 0.19,
        "D-RISE kl/none": 0.18, CROSS_ENTROPY: -0.33, "Saliency": 0.06, "SmoothGrad": 0.11, "Grad-CAM": 0.20,
        "Grad-CAM++": 0.19, "Faster-Score-CAM": 0.22}


def _records(values, seed=0):  # every faithfulness metric equal to the ROAD gap (they decide the merged rows)
    return [{"id": 1000 + position, "position": position, "label": position % 10, "seed": seed, "variant": name,
             **{metric: float(value) for metric in FAITHFULNESS_METRICS}}
            for name, array in values.items() for position, value in enumerate(array)]


def _per_image(means, n, *, spread=0.02, seed=0):
    """Per-image values around ``means``: a shared image effect plus each variant's own noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.1, n)
    return {name: base + mean + rng.normal(0, spread, n) for name, mean in means.items()}


def _network(folder, values, *, model="model-a", second=None):
    ResultStore(folder, {"seed": 0, "model": model}).write(0, _records(values) + _records(second or {}, seed=1))
    return folder


def test_kendall_tau_b_equals_scipys_with_ties_and_broadcasts():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, size=(50, 9)).astype(float), rng.integers(0, 4, size=(50, 9)).astype(float)
    expected = [stats.kendalltau(a, b).statistic for a, b in zip(x, y)]  # scipy's default is tau-b
    assert np.allclose(networks.kendall_tau_b(x, y), expected, equal_nan=True)
    assert np.isnan(networks.kendall_tau_b([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


def test_identical_orders_give_tau_one_and_a_reversed_order_minus_one(tmp_path):
    means = {f"v{k}": float(k) for k in range(6)}  # gaps of 1 against per-image noise of 0.02: noise-free orders
    folders = {"a": _network(tmp_path / "a", _per_image(means, 30, seed=1)),
               "b": _network(tmp_path / "b", _per_image({k: 2 * v for k, v in means.items()}, 45, seed=2), model="b"),
               "reversed": _network(tmp_path / "r", _per_image({k: -v for k, v in means.items()}, 20, seed=3),
                                    model="c")}
    result = networks.compare_networks(folders, n_resamples=300)
    taus = {(row["first"], row["second"]): row for row in result["taus"]}
    assert taus[("a", "b")]["tau"] == 1.0 and (taus[("a", "b")]["low"], taus[("a", "b")]["high"]) == (1.0, 1.0)
    assert taus[("a", "reversed")]["tau"] == -1.0 and taus[("a", "reversed")]["high"] == -1.0
    assert (taus[("a", "b")]["n_first"], taus[("a", "b")]["n_second"], taus[("a", "b")]["n_variants"]) == (30, 45, 6)
    assert result["networks"]["b"]["n_images"] == 45 and result["networks"]["a"]["model"] == "model-a"


def test_tau_equals_scipys_on_the_means_and_its_interval_resamples_each_network_on_its_own(tmp_path):
    # two networks with the SAME per-image values but close, noisy variants: the point tau is 1; resampled together
    # (pairing images across networks) every resample would give 1 as well, resampled on their own they do not
    values = _per_image({f"v{k}": 0.01 * k for k in range(5)}, 40, spread=0.05, seed=4)
    shuffled = dict(values)
    shuffled["v0"], shuffled["v3"] = values["v3"] + 0.004, values["v0"]  # a third network: two variants swapped
    folders = {"a": _network(tmp_path / "a", values), "same": _network(tmp_path / "s", values, model="b"),
               "swapped": _network(tmp_path / "w", shuffled, model="c")}
    result = networks.compare_networks(folders, n_resamples=400, seed=1)
    taus = {(row["first"], row["second"]): row for row in result["taus"]}
    same = taus[("a", "same")]
    assert same["tau"] == 1.0 and same["low"] < 0.9 and same["high"] == 1.0
    means = [[float(np.mean(v[name])) for name in sorted(v)] for v in (values, shuffled)]
    expected = stats.kendalltau(*means).statistic
    assert taus[("a", "swapped")]["tau"] == pytest.approx(expected) and expected < 1.0
    assert taus[("a", "swapped")]["low"] <= expected <= taus[("a", "swapped")]["high"]


def test_variants_measured_identically_are_one_and_only_shared_variants_are_ranked(tmp_path):
    values = _per_image({"D-RISE cosine/none": 0.3, "RISE": 0.5, "Grad-CAM": 0.1, "only_a": 9.0}, 20, seed=5)
    values["D-RISE cosine/coverage"] = values["D-RISE cosine/none"]  # one row, as the report merges them
    other = {name: -array for name, array in values.items() if name != "only_a"}
    other["D-RISE cosine/coverage"] = other["D-RISE cosine/none"] + 1.0  # measured differently here: its own item
    result = networks.compare_networks({"a": _network(tmp_path / "a", values),
                                        "b": _network(tmp_path / "b", other, model="b")}, n_resamples=100)
    assert result["networks"]["a"]["labels"]["D-RISE cosine/none"] == "D-RISE cosine/none = coverage"
    assert "D-RISE cosine/coverage" not in result["networks"]["a"]["means"]
    row = result["taus"][0]
    assert row["n_variants"] == 4  # cosine/none, cosine/coverage (tied in a), RISE, Grad-CAM; not only_a
    x = [np.mean(values[n]) for n in ("D-RISE cosine/none", "D-RISE cosine/none", "RISE", "Grad-CAM")]
    y = [np.mean(other[n]) for n in ("D-RISE cosine/none", "D-RISE cosine/coverage", "RISE", "Grad-CAM")]
    assert row["tau"] == pytest.approx(stats.kendalltau(x, y).statistic)


def _claim_networks(tmp_path):
    good = _per_image(GOOD, 60, seed=6)
    good["D-RISE probability/debiased"] = good[PROBABILITY]
    bad_means = dict(GOOD, RISE=0.2, **{COSINE: 0.45, CROSS_ENTROPY: 0.2, "Grad-CAM": 0.6})  # cosine first, far ahead
    bad = _per_image(bad_means, 60, seed=7)
    partial_means = {name: mean for name, mean in GOOD.items() if name != CROSS_ENTROPY}
    partial_means[COSINE] = 0.29  # deficit 0.04, but too noisy to place against the 0.05 margin
    partial = _per_image(partial_means, 25, seed=8)
    partial[COSINE] = partial[PROBABILITY] - 0.04 + np.random.default_rng(9).normal(0, 0.08, 25)
    return {"good": _network(tmp_path / "good", good), "bad": _network(tmp_path / "bad", bad, model="b"),
            "partial": _network(tmp_path / "partial", partial, model="c")}


def test_claims_hold_fail_or_cannot_be_told_network_by_network(tmp_path):
    result = networks.compare_networks(_claim_networks(tmp_path), n_resamples=300)
    verdict = {(row["claim"], row["network"]): row for row in result["claims"]}
    names = [claim.name for claim in networks.CLAIMS]
    assert [verdict[(name, "good")]["verdict"] for name in names] == ["holds"] * 5
    bad = [verdict[(name, "bad")]["verdict"] for name in names]
    assert bad == ["fails", "holds", "fails", "fails", "fails"]  # cosine far AHEAD of probability: "close behind"
    partial = [verdict[(name, "partial")]["verdict"] for name in names]
    assert partial == ["cannot be told", "cannot be told", "cannot be told", "cannot be told", "holds"]
    assert "missing D-RISE cross_entropy/none" in verdict[(names[2], "partial")]["text"]
    assert "against -0.05" in verdict[(names[1], "partial")]["text"]
    assert "cross_entropy" in verdict[(names[2], "bad")]["text"] and verdict[(names[0], "good")]["n"] == 60
    assert verdict[(names[0], "good")]["text"].startswith("all 7 comparisons; weakest: probability 0.346 vs cosine")
    assert verdict[(names[0], "bad")]["text"].startswith("probability 0.304 vs cosine 0.428: -0.123, p_holm")


def test_a_claim_within_twice_the_monte_carlo_noise_cannot_be_told(tmp_path):
    means = {"RISE": 0.36, **{drise_name(score, "none"): 0.33 - 0.001 * k for k, score in
                              enumerate(networks.DRISE_SCORES)}}
    values = _per_image(means, 80, spread=0.005, seed=10)
    claim = next(c for c in networks.CLAIMS if c.name.startswith("RISE ahead"))
    quiet = {name: array[:20] for name, array in values.items()}  # the second seed agrees: no Monte Carlo noise
    noisy = dict(quiet, RISE=values["RISE"][:20] - 0.05)  # RISE's maps move by 0.05 with the mask seed
    verdicts = [networks.compare_networks({"n": _network(tmp_path / name, values, second=second)},
                                          n_resamples=100, claims=[claim])["claims"][0] for name, second in
                (("none", None), ("quiet", quiet), ("noisy", noisy))]
    assert [row["verdict"] for row in verdicts] == ["holds", "holds", "cannot be told"]
    assert "(within 2x)" in verdicts[2]["text"] and "noise 0.000" in verdicts[1]["text"]
    behind = dict(values, RISE=values["RISE"] - 0.06)  # RISE significantly BEHIND every score: a failure...
    noisy_behind = dict(noisy, RISE=noisy["RISE"] - 0.06)
    verdicts = [networks.compare_networks({"n": _network(tmp_path / name, behind, second=second)},
                                          n_resamples=100, claims=[claim])["claims"][0]["verdict"]
                for name, second in (("behind", dict(quiet, RISE=behind["RISE"][:20])), ("noisy_behind", noisy_behind))]
    assert verdicts == ["fails", "cannot be told"]  # ... unless within twice the maps' Monte Carlo noise


def test_the_markdown_table_has_one_column_per_network_with_accuracy_and_images(tmp_path):
    folders = _claim_networks(tmp_path)
    written = networks.write_network_comparison(folders, tmp_path / "out", accuracies={"good": 0.912},
                                                n_resamples=200)
    lines = written["text"].splitlines()
    header = next(line for line in lines if line.startswith("| claim |"))
    assert header == "| claim | good (accuracy 0.912, 60 images) | bad (60 images) | partial (25 images) |"
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines[lines.index(header) + 2:]
            if line.startswith("| ")}
    assert rows["cross_entropy inverted"] == ["holds", "fails", "cannot be told |"]
    assert rows["cosine close behind"] == ["holds", "holds", "cannot be told |"]
    assert (tmp_path / "out" / "networks_road_gap.md").read_text() == written["text"]
    taus = (tmp_path / "out" / "networks_road_gap.csv").read_text().splitlines()
    assert taus[0] == ",".join(networks.TAU_COLUMNS) and len(taus) == 4  # three pairs
    claims = (tmp_path / "out" / "claims_road_gap.csv").read_text().splitlines()
    assert claims[0] == ",".join(networks.CLAIM_COLUMNS) and len(claims) == 1 + 5 * 3


def test_require_same_model_refuses_to_pair_images_of_two_models(tmp_path):
    store.require_same_model({"model": "abc", "seed": 0}, {"model": "abc", "seed": 1})
    store.require_same_model({"seed": 0}, {"model": "abc"})  # no fingerprint: nothing to tell
    with pytest.raises(ValueError, match="different models.*not paired measurements of one model.*orders"):
        store.require_same_model({"model": "abc"}, {"model": "abd"})
    first = _network(tmp_path / "first", {"v": np.arange(5.0)}, model="abc")
    second = _network(tmp_path / "second", {"v": np.arange(5.0)}, model="xyz")
    with pytest.raises(ValueError, match="different models"):
        store.require_same_model(first, second)


def test_compare_runs_refuses_runs_of_different_models(tmp_path):
    first = _network(tmp_path / "first", {"v": np.arange(5.0), "w": np.arange(5.0) + 1}, model="abc")
    second = _network(tmp_path / "second", {"v": np.arange(5.0), "w": np.arange(5.0) + 1}, model="xyz")
    with pytest.raises(ValueError, match="different models"):
        compare_runs(first, second, n_resamples=50)


def test_the_claims_name_the_variants_as_the_evaluation_writes_them():
    from drise_tf.explain import similarity

    assert set(networks.DRISE_SCORES) == set(similarity.available())
    assert set(networks.GRADIENT_AND_CAM) | {"RISE"} == set(METHODS)
    names = {name for claim in networks.CLAIMS for pair in claim.comparisons for name in pair if name is not None}
    expected = {drise_name(score, "none") for score in networks.DRISE_SCORES} | set(METHODS)
    assert names == expected


# ------------------------------------------------------------------------------------------ claims x metrics
def _metric_network(folder, by_metric, *, model="model-a", second_by_metric=None):
    """A results folder whose records hold each metric's own per-image values (``by_metric``: metric -> variant ->
    values); ``second_by_metric`` the same under the second seed."""
    def records(values_by_metric, seed):
        some = next(iter(values_by_metric.values()))
        return [{"id": 1000 + position, "position": position, "label": position % 10, "seed": seed, "variant": name,
                 **{metric: float(values_by_metric[metric][name][position]) for metric in values_by_metric}}
                for name in some for position in range(len(some[name]))]

    ResultStore(folder, {"seed": 0, "model": model}).write(
        0, records(by_metric, 0) + (records(second_by_metric, 1) if second_by_metric else []))
    return folder


def _affine(values, scale, offset=0.0):
    return {name: scale * array + offset for name, array in values.items()}


def test_a_claim_holds_under_one_metric_and_fails_under_another(tmp_path):
    gap = _per_image(GOOD, 60, seed=20)
    behind = dict(gap, RISE=gap["RISE"] - 0.4)  # RISE far BEHIND every score, in the metric's own direction
    by_metric = {"road_gap": gap, "road_morf": _affine(gap, -1.0, 1.0), "road_lerf": gap,
                 "mu_fidelity": behind, "deletion_auc": _affine(behind, -1.0, 1.0), "insertion_auc": gap}
    folders = {"n": _metric_network(tmp_path / "n", by_metric)}
    result = networks.compare_metrics(folders, n_resamples=200)
    verdict = {(row["claim"], row["metric"]): row for row in result["claims"]}
    rise = "RISE ahead of every D-RISE score"
    assert [verdict[(rise, metric)]["verdict"] for metric in FAITHFULNESS_METRICS] == [
        "holds", "holds", "holds", "fails", "fails", "holds"]  # deletion: lower is better, RISE's is higher
    inverted = [verdict[("cross_entropy inverted", metric)]["verdict"] for metric in FAITHFULNESS_METRICS]
    assert inverted == ["holds", "not applicable", "not applicable", "holds", "not applicable", "not applicable"]
    assert "no value of a random order on road_morf" in verdict[("cross_entropy inverted", "road_morf")]["text"]
    on_road = networks.compare_networks(folders, n_resamples=200)["claims"]  # ROAD's verdicts, unchanged
    assert [{k: row[k] for k in networks.CLAIM_COLUMNS} for row in result["claims"] if row["metric"] == "road_gap"] \
        == on_road


def test_an_affine_copy_of_the_road_gap_gives_its_verdicts_with_the_margin_scaled(tmp_path):
    # cosine 0.04 behind probability: holds against ROAD's 0.05, and against 3 x 0.05 on a metric 3 x ROAD gap + 1;
    # against an unscaled 0.05 on that metric (0.12 behind) it would fail
    means = dict(GOOD, **{COSINE: GOOD[PROBABILITY] - 0.04})
    gap, again = _per_image(means, 80, spread=0.01, seed=21), _per_image(means, 20, spread=0.01, seed=22)
    transforms = {"road_gap": (1.0, 0.0), "insertion_auc": (3.0, 1.0), "deletion_auc": (-2.0, 0.5),
                  "road_morf": (-0.5, 0.0), "road_lerf": (1.0, 0.0), "mu_fidelity": (0.5, 0.0)}
    folders = {"n": _metric_network(
        tmp_path / "n", {metric: _affine(gap, *t) for metric, t in transforms.items()},
        second_by_metric={metric: _affine(again, *t) for metric, t in transforms.items()})}
    rows = networks.compare_metrics(folders, n_resamples=200)["claims"]
    close = {row["metric"]: row for row in rows if row["claim"] == "cosine close behind"}
    for metric, (scale, _) in transforms.items():
        assert close[metric]["margin"] == pytest.approx(0.05 * abs(scale))
        assert close[metric]["verdict"] == "holds"
    assert "against -0.15" in close["insertion_auc"]["text"] and "against +0.1" in close["deletion_auc"]["text"]
    by_claim = {}
    for row in rows:
        if row["claim"] != "cross_entropy inverted" or row["metric"] in networks.CHANCE_LEVELS:
            by_claim.setdefault(row["claim"], set()).add(row["verdict"])
    assert all(len(verdicts) == 1 for verdicts in by_claim.values())  # every metric agrees with ROAD's verdict


def test_the_tau_between_metrics_equals_scipys_on_the_oriented_means(tmp_path):
    rng = np.random.default_rng(23)
    names = [f"v{k}" for k in range(7)]
    by_metric = {metric: {name: rng.normal(rng.normal(0, 0.05), 0.1, 40) for name in names}
                 for metric in FAITHFULNESS_METRICS}
    by_metric["insertion_auc"] = _affine(by_metric["road_gap"], 2.0, 0.1)  # the same order
    by_metric["deletion_auc"] = _affine(by_metric["road_gap"], -1.0)  # the same order, lower is better
    folders = {"n": _metric_network(tmp_path / "n", by_metric)}
    taus = networks.compare_metrics(folders, n_resamples=300)["taus"]
    assert len(taus) == 15 and {row["n_variants"] for row in taus} == {7}
    direction = {metric: 1.0 if METRICS[metric] else -1.0 for metric in FAITHFULNESS_METRICS}
    for row in taus:
        means = [[direction[m] * by_metric[m][name].mean() for name in names] for m in (row["first"], row["second"])]
        assert row["tau"] == pytest.approx(stats.kendalltau(*means).statistic)
    same = next(row for row in taus if (row["first"], row["second"]) == ("road_gap", "insertion_auc"))
    flipped = next(row for row in taus if (row["first"], row["second"]) == ("road_gap", "deletion_auc"))
    for row in (same, flipped):  # the same images resampled for both metrics: every resample keeps the order
        assert (row["tau"], row["low"], row["high"]) == (1.0, 1.0, 1.0)
    assert any(row["high"] - row["low"] > 0.2 for row in taus)  # independent metrics: wide intervals


def test_the_claims_by_metric_table_and_files(tmp_path):
    gap = _per_image(GOOD, 40, seed=24)
    by_metric = {metric: gap for metric in FAITHFULNESS_METRICS}
    folders = {"a": _metric_network(tmp_path / "a", by_metric),
               "b": _metric_network(tmp_path / "b", dict(by_metric, mu_fidelity=_affine(gap, -1.0)), model="b")}
    written = networks.write_metric_comparison(folders, tmp_path / "out", metrics=["road_gap", "mu_fidelity"],
                                               accuracies={"a": 0.9}, n_resamples=100)
    lines = written["text"].splitlines()
    assert "| claim | road_gap (higher) | mu_fidelity (higher) |" in lines
    assert "| cross_entropy inverted | H H | H F |" in lines  # b's MuFidelity is ROAD's reversed
    assert "| road_gap / mu_fidelity | 1.00 [1.00, 1.00] | -1.00 [-1.00, -1.00] |" in lines
    assert "| road_gap (higher) | holds | holds |" in lines and "a (accuracy 0.900, 40 images)" in written["text"]
    claims = (tmp_path / "out" / "claims_by_metric.csv").read_text().splitlines()
    assert claims[0] == ",".join(networks.CLAIM_METRIC_COLUMNS) and len(claims) == 1 + 5 * 2 * 2
    taus = (tmp_path / "out" / "metric_taus.csv").read_text().splitlines()
    assert taus[0] == ",".join(networks.METRIC_TAU_COLUMNS) and len(taus) == 1 + 2
    assert (tmp_path / "out" / "claims_by_metric.md").read_text() == written["text"]
    with pytest.raises(ValueError, match="metric must be one of"):
        networks.compare_metrics(folders, metrics=["emprt"])
