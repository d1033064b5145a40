"""Tests of drise_tf.evaluation.design_sweep: the declared rows, the declared rules on stores with a known answer, the
stable-map cost against D-RISE run directly, and the stage report."""
from __future__ import annotations

import numpy as np
import pytest
from toy_models import tiny_cnn

from drise_tf import evaluation
from drise_tf.evaluation import design_sweep as sweep
from drise_tf.evaluation.store import ResultStore
from drise_tf.explain.drise import THESIS_PRESET, DRise

N_IMAGES = 40
HIGH, LOW = 0.5, 0.1


def test_the_declared_rows():
    assert len(sweep.SWEEP_DESIGNS) == len(sweep.SWEEP_GRIDS) * len(sweep.SWEEP_KEEP_PROBABILITIES) == 18
    assert sweep.SWEEP_DESIGNS["8x8 bilinear p0.25"] == {"grid_size": 8, "upsample": "bilinear", "p": 0.25,
                                                         "similarity": "probability", "aggregation": "none"}
    assert sweep.THESIS_DESIGN == {key: THESIS_PRESET[key] for key in sweep.THESIS_DESIGN}
    assert sweep.row_name(sweep.THESIS_DESIGN_LABEL) == "D-RISE thesis 16x16 nearest p0.5 cosine/none"
    assert set(sweep.CONFIRMATION.networks) >= set(sweep.SCREENING.networks)
    assert list(sweep.stage_designs(sweep.SCREENING))[-1] == sweep.THESIS_DESIGN_LABEL
    with pytest.raises(ValueError, match="sweep_folder"):
        sweep.stage_designs(sweep.CONFIRMATION)


def _write_network(folder, gaps, masks):
    """A stage's network with known ROAD gaps (label -> mean: every image the same value, so that equal means are
    identical and unequal ones differ on every image) and known stable-map costs (label -> masks per image)."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 0.01, N_IMAGES)
    designs = {label: sweep.SWEEP_DESIGNS.get(label, sweep.THESIS_DESIGN) for label in gaps}
    store = ResultStore(folder / "evaluation", {"seed": 0, "designs": designs, "noise_images": 0})
    records = [{"id": k, "position": k, "label": 0, "seed": 0, "variant": sweep.row_name(label),
                "measured_as": sweep.row_name(label), "road_gap": gap + base[k], "mu_fidelity": 0.1,
                "deletion_auc": 0.2, "insertion_auc": 0.3} for label, gap in gaps.items() for k in range(N_IMAGES)]
    store.write(0, records)
    cost = ResultStore(folder / "stability", {"rows": sorted(masks)})
    for index, (label, used) in enumerate(masks.items()):
        cost.write(index, [{"row": label, "id": k, "position": k, "masks_used": used + 1000 * (k % 2),
                            "stability": 0.9, "capped": False, "seconds": 0.5} for k in range(4)])


def _screening(tmp_path, high_on=None):
    """Screening stores: designs A, B, C high on both networks, D high on quick only, the rest low."""
    labels = list(sweep.SWEEP_DESIGNS)
    a, b, c, d = labels[0], labels[5], labels[9], labels[13]
    masks = {label: 30000 for label in labels}
    masks.update({a: 5000, b: 2000, c: 3000, d: 1000})
    for network in sweep.SCREENING.networks:
        high = {a, b, c} | ({d} if network == "quick" else set())
        _write_network(tmp_path / "screening" / network, {label: HIGH if label in high else LOW for label in labels},
                       masks)
    return a, b, c, d


def test_confirmation_designs_follow_the_declared_rule(tmp_path):
    a, b, c, d = _screening(tmp_path)
    # qualify on both networks: a, b, c (d only on quick); fewest median forwards first: b (2500), c (3500), a (5500)
    assert sweep.confirmation_designs(tmp_path) == [b, c, a]
    assert sweep.not_below_best(tmp_path / "screening" / "keras_cnn" / "evaluation", [a, d]) == {a: True, d: False}
    assert list(sweep.stage_designs(sweep.CONFIRMATION, tmp_path)) == [b, c, a, sweep.THESIS_DESIGN_LABEL]


def test_recommend_picks_the_cheapest_design_never_significantly_below_the_best(tmp_path):
    a, b, c, _ = _screening(tmp_path)
    masks = {a: 5000, b: 2000, c: 3000}
    for network in sweep.CONFIRMATION.networks:  # b, the cheapest, loses 0.2 on the strong network
        _write_network(tmp_path / "confirmation" / network,
                       {a: HIGH, b: HIGH - (0.2 if network == "strong" else 0.0), c: HIGH}, masks)
    chosen = sweep.recommend(tmp_path)
    assert chosen.label == c and chosen.losses == {}
    assert chosen.qualifies[b]["strong"] is False and chosen.forwards == {a: 5500.0, b: 2500.0, c: 3500.0}


def test_recommend_says_where_the_choice_loses_when_no_design_qualifies_everywhere(tmp_path):
    a, b, c, _ = _screening(tmp_path)
    for network in sweep.CONFIRMATION.networks:
        gaps = {a: HIGH, b: HIGH, c: HIGH}
        gaps[{"quick": a, "strong": b, "strong-epoch10": c, "keras_cnn": c}[network]] = HIGH - 0.25
        _write_network(tmp_path / "confirmation" / network, gaps, {a: 5000, b: 2000, c: 3000})
    chosen = sweep.recommend(tmp_path)  # a and b lose on one network each, c on two: b is cheaper than a
    assert chosen.label == b
    assert chosen.losses == {"strong": pytest.approx(-0.25)}


def test_the_stage_report_re_reads_the_stores(tmp_path):
    _screening(tmp_path)
    written = sweep.write_sweep_report(tmp_path, "screening", cpu="a test CPU")
    rows = sweep.stage_summary(tmp_path, "screening")
    assert len(rows) == 2 * 18 and {row["network"] for row in rows} == set(sweep.SCREENING.networks)
    best = max((row for row in rows if row["network"] == "quick"), key=lambda row: row["road_gap"])
    assert best["road_gap"] == pytest.approx(HIGH, abs=0.01) and best["letters"] == "a"
    assert "Go on to the confirmation" in written["text"] and "a test CPU" in written["text"]
    with pytest.raises(ValueError, match="no finished confirmation"):
        sweep.write_sweep_report(tmp_path, "confirmation")


def test_stability_cost_is_what_dRise_run_to_the_target_uses(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "STABILITY_ROUND", 40)
    monkeypatch.setattr(sweep, "STABILITY_CAP", 200)
    model = tiny_cnn()
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(3, 8, 8, 3)).astype(np.float32), np.array([0, 1, 2])
    designs = {"2x2 bilinear p0.5": {"grid_size": 2, "upsample": "bilinear", "p": 0.5, "similarity": "probability",
                                     "aggregation": "none"}}
    sweep.measure_stability_cost(model, images, labels, designs, tmp_path / "cost", seed=4, progress=False)
    _, records = evaluation.read_records(tmp_path / "cost")
    for label, direct in (("2x2 bilinear p0.5", DRise(model, **designs["2x2 bilinear p0.5"], seed=4,
                                                      sampling="antithetic_sobol", n_masks=40, target_stability=0.9,
                                                      max_masks=200)),
                          ("RISE", DRise.rise(model, seed=4, sampling="antithetic_sobol", n_masks=40,
                                              target_stability=0.9, max_masks=200))):
        _, stability = direct.explain(images, labels, return_stability=True)
        stored = sorted((r for r in records if r["row"] == label), key=lambda r: r["position"])
        assert [r["masks_used"] for r in stored] == direct.masks_used.tolist()
        assert [r["capped"] for r in stored] == (stability < 0.9).tolist()
        assert all(used % 40 == 0 and used <= 200 for used in direct.masks_used)
    cost = sweep.stability_cost(tmp_path / "cost")
    assert cost["RISE"]["images"] == 3 and 40 <= cost["RISE"]["median"] <= 200


def test_other_metrics_disagree_names_each_network_and_metric_whose_best_is_another_design():
    rows = [{"network": "n", "design": "a", "mu_fidelity": 0.5, "deletion_auc": 0.1, "insertion_auc": 0.6},
            {"network": "n", "design": "b", "mu_fidelity": 0.6, "deletion_auc": 0.2, "insertion_auc": 0.5},
            {"network": "m", "design": "a", "mu_fidelity": 0.5, "deletion_auc": 0.3, "insertion_auc": 0.6},
            {"network": "m", "design": "b", "mu_fidelity": 0.4, "deletion_auc": 0.2, "insertion_auc": 0.5},
            {"network": "m", "design": "RISE", "mu_fidelity": 0.9, "deletion_auc": 0.0, "insertion_auc": 0.9}]
    # by hand, "a" chosen, RISE not a candidate: n's MuFidelity prefers b (higher); m's deletion prefers b (lower)
    assert sweep.other_metrics_disagree(rows, ["a", "b"], "a") == [("n", "mu_fidelity", "b"),
                                                                   ("m", "deletion_auc", "b")]


def test_the_confirmation_report_names_the_recommended_design(tmp_path):
    a, b, c, _ = _screening(tmp_path)
    for network in sweep.CONFIRMATION.networks:
        _write_network(tmp_path / "confirmation" / network, {a: HIGH, b: HIGH - (0.2 if network == "strong" else 0.0),
                                                             c: HIGH}, {a: 5000, b: 2000, c: 3000})
    text = sweep.write_sweep_report(tmp_path, "confirmation")["text"]
    assert f"Recommended (the declared rule): **{c}**, 3500 median forwards" in text
    assert "not significantly below the best design on any network" in text and "Where the other metrics" in text
