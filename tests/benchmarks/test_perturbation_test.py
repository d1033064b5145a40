"""Tests of benchmarks/perturbation_test.py (the perturbation-matched test of D-RISE against RISE): the declared
read-out on records with known effects, checked against loops, and a tiny run whose zero-fill values are the
evaluation's own."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest
from scipy import stats
from toy_models import tiny_gap_classifier

from drise_tf.evaluation.run import Evaluation
from drise_tf.evaluation.store import SettingsMismatchError, read_records

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "perturbation_test.py"
_spec = importlib.util.spec_from_file_location("benchmarks_perturbation_test", SCRIPT)
perturbation = sys.modules["benchmarks_perturbation_test"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perturbation)

PROBABILITY = perturbation.CONTRASTS["RISE - D-RISE probability (the evaluation's)"]
COSINE = perturbation.CONTRASTS["RISE - D-RISE cosine (the thesis's)"]
#: RISE minus D-RISE probability built into the records, per (metric, fill); D-RISE cosine is D-RISE probability
#: plus COSINE_SHIFT.
SHIFTS = {("deletion_auc", "constant"): 0.1, ("deletion_auc", "imputation"): 0.1, ("deletion_auc", "blur"): 0.0,
          ("mu_fidelity", "constant"): -0.1, ("mu_fidelity", "imputation"): 0.1, ("mu_fidelity", "blur"): -0.1}
COSINE_SHIFT = {("deletion_auc", "constant"): 0.1}
#: Where the second mask seed moves RISE's values, per (metric, fill): a Monte Carlo noise beyond the effect.
SECOND_SEED_SHIFT = {("mu_fidelity", "blur"): 1.0}
N_IMAGES, N_NOISE = 40, 20


def known_records():
    """Per image and row one record per mask seed with every (metric, fill) column; RISE is D-RISE probability
    plus :data:`SHIFTS` plus small per-image noise."""
    rng = np.random.default_rng(0)
    records = []
    for seed in (0, 1):
        for position in range(N_IMAGES if seed == 0 else N_NOISE):
            record = {"id": position, "position": position, "label": 0, "seed": seed}
            for row in perturbation.ROWS:
                values = {}
                for metric in perturbation.MEASURED:
                    for fill in perturbation.FILLS:
                        key = (metric, fill)
                        base = 0.5 + 0.01 * position
                        if row == "RISE":
                            base += SHIFTS[key] + rng.normal(0.0, 0.02) + seed * SECOND_SEED_SHIFT.get(key, 0.0)
                        elif row == COSINE:
                            base += COSINE_SHIFT.get(key, 0.0)
                        values[f"{metric}_{fill}"] = base
                records.append({**record, "variant": row, "measured_as": row, **values})
    return records


def test_effects_and_verdicts_on_known_records():
    records = known_records()
    rows = perturbation.effects(records, n_resamples=200)
    assert len(rows) == 12  # 2 metrics x 3 fills x 2 contrasts, one Holm family
    by_key = {(row["metric"], row["fill"], row["contrast"]): row for row in rows}
    rise = {(r["position"], r["seed"]): r for r in records if r["variant"] == "RISE"}
    for (metric, fill, label), row in by_key.items():
        other = {(r["position"], r["seed"]): r for r in records if r["variant"] == perturbation.CONTRASTS[label]}
        differences = [rise[position, 0][f"{metric}_{fill}"] - other[position, 0][f"{metric}_{fill}"]
                       for position in range(N_IMAGES)]
        assert row["mean"] == pytest.approx(sum(differences) / N_IMAGES)
        assert row["p"] == pytest.approx(stats.wilcoxon(differences).pvalue)
    # Holm, step by step: the k-th smallest of m p-values times (m - k), running maximum, capped at 1
    ordered = sorted(rows, key=lambda row: row["p"])
    running = 0.0
    for k, row in enumerate(ordered):
        running = max(running, min(1.0, (len(rows) - k) * row["p"]))
        assert row["p_holm"] == pytest.approx(running)
    for row in rows:
        assert row["within_noise"] == (abs(row["mean"]) <= 2 * row["noise"])
    probability = "RISE - D-RISE probability (the evaluation's)"
    assert by_key["deletion_auc", "constant", probability]["ahead"] == "D-RISE"  # RISE's deletion AUC higher
    assert by_key["mu_fidelity", "imputation", probability]["ahead"] == "RISE"  # RISE's MuFidelity higher
    assert by_key["deletion_auc", "blur", probability]["ahead"] == ""  # no difference
    assert by_key["mu_fidelity", "blur", probability]["within_noise"]  # the second seed moves RISE by 1
    assert by_key["mu_fidelity", "blur", probability]["ahead"] == ""

    verdicts = {(row["metric"], row["contrast"]): row for row in perturbation.verdicts("toy", rows)}
    assert verdicts["deletion_auc", probability]["verdict"] == "depends on the fill"
    assert verdicts["mu_fidelity", probability]["verdict"] == "is gone"
    assert verdicts["deletion_auc", "RISE - D-RISE cosine (the thesis's)"]["verdict"] == "no lead under the zero fill"
    assert verdicts["mu_fidelity", probability]["imputation"] == "RISE"


@pytest.mark.parametrize("ahead, expected", [
    ({"constant": "D-RISE", "imputation": "D-RISE", "blur": "D-RISE"}, "survives"),
    ({"constant": "D-RISE", "imputation": "", "blur": "D-RISE"}, "depends on the fill"),
    ({"constant": "D-RISE", "imputation": "RISE", "blur": ""}, "is gone"),
    ({"constant": "", "imputation": "D-RISE", "blur": "D-RISE"}, "no lead under the zero fill"),
])
def test_verdict(ahead, expected):
    assert perturbation.verdict(ahead) == expected


def test_a_tiny_run_stores_the_evaluations_zero_fill_values_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(perturbation, "CHUNK_SIZE", 2)
    monkeypatch.setattr(perturbation, "NOISE_IMAGES", 1)
    model = tiny_gap_classifier(size=32)
    images = np.random.default_rng(1).normal(size=(3, 32, 32, 3)).astype(np.float32)
    labels = np.array([0, 2, 1])
    ids = np.array([7, 11, 19])
    options = {"n_masks": 8, "sampling": "antithetic"}
    folder = tmp_path / "toy"
    perturbation.run_network(model, images, labels, ids, folder, precision="float32", settings={"run": "toy"},
                             drise_options=options)
    _, records = read_records(folder)
    assert len(records) == len(perturbation.ROWS) * (3 + 1)  # the first image also with the second mask seed
    assert {r["id"] for r in records if r["seed"] == 1} == {7}

    evaluation = Evaluation(model, drise_options={**options, "precision": "float32"}, similarities=["cosine",
                            "probability"], methods={"RISE": ("rise", {})}, seed=0,
                            designs=perturbation.FACTORIAL_DESIGNS)
    for start in (0, 2):
        x, y = images[start : start + 2], labels[start : start + 2]
        maps, _, _ = evaluation.maps(model, x, y, seed=0)
        measured, _ = evaluation.measure(x, y, maps, metric_seed=(0, start))
        for record in (r for r in records if r["seed"] == 0 and start <= r["position"] < start + 2):
            want = measured[record["variant"]]
            k = record["position"] - start
            assert record["deletion_auc_constant"] == pytest.approx(want["deletion_auc"][k], abs=1e-6)
            assert record["mu_fidelity_constant"] == pytest.approx(want["mu_fidelity"][k], abs=1e-6)
    assert all(np.isfinite(r[f"{m}_{f}"]) for r in records for m in perturbation.MEASURED for f in perturbation.FILLS)

    chunks = sorted((folder / "chunks").iterdir())
    stamps = [path.stat().st_mtime_ns for path in chunks]
    perturbation.run_network(model, images, labels, ids, folder, precision="float32", settings={"run": "toy"},
                             drise_options=options, resume=True)
    assert [path.stat().st_mtime_ns for path in chunks] == stamps  # finished chunks are not measured again
    with pytest.raises(SettingsMismatchError, match="precision"):
        perturbation.run_network(model, images, labels, ids, folder, precision="bfloat16", settings={"run": "toy"},
                                 drise_options=options, resume=True)

    written = perturbation.write_answer(tmp_path, ["toy"], n_resamples=50)
    assert set(written) == {"markdown", "effects", "verdicts", "means"}
    assert "## Verdicts" in (tmp_path / "perturbation.md").read_text(encoding="utf-8")
