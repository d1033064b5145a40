"""Tests of drise_tf.evaluation.report: known rankings, letters, merged identical variants, the noise flag."""
from __future__ import annotations

import numpy as np
import pytest

from drise_tf import evaluation
from drise_tf.evaluation.store import ResultStore


def _records(values, seed=0, stability=None):
    records = []
    for name, array in values.items():
        for position, value in enumerate(array):
            record = {"id": position, "position": position, "label": 0, "seed": seed, "variant": name,
                      "road_gap": float(value), "mu_fidelity": float(-value)}
            if stability is not None:
                record["stability"] = stability
            records.append(record)
    return records


def test_seed_noise_closed_forms():
    first = np.arange(10.0)
    assert evaluation.seed_noise(first, first, 100) == 0.0
    assert evaluation.seed_noise(first + 0.4, first, 100) == pytest.approx(0.4 / np.sqrt(2))  # all shared
    rng = np.random.default_rng(0)
    d = rng.normal(0, 1, 4000)
    expected = np.sqrt(d.var(ddof=1) / 2 / 1000 + max(0.0, d.mean() ** 2 / 2 - d.var(ddof=1) / 2 / 4000))
    assert evaluation.seed_noise(d, np.zeros(4000), 1000) == pytest.approx(expected)


def test_ranking_letters_and_noise_flag():
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    values = {"good": base + 1.0, "mid": base + 0.5 + rng.normal(0, 0.05, 200),
              "mid2": base + 0.5 + rng.normal(0, 0.05, 200), "bad": base}
    rows, pairs = evaluation.ranking(values, higher_is_better=True, n_resamples=300)
    assert [r["variant"] for r in rows] == ["good", "mid", "mid2", "bad"] or \
        [r["variant"] for r in rows] == ["good", "mid2", "mid", "bad"]
    letters = {r["variant"]: r["letters"] for r in rows}
    assert letters["good"] == "a" and letters["mid"] == letters["mid2"] == "b" and letters["bad"] == "c"
    lower, _ = evaluation.ranking(values, higher_is_better=False, n_resamples=300)
    assert lower[0]["variant"] == "bad"
    # the same data, but "good" and "mid" are noisy maps: their difference is within the Monte Carlo noise
    noisy, noisy_pairs = evaluation.ranking(values, higher_is_better=True, noise={"good": 0.3, "mid": 0.3},
                                            n_resamples=300)
    flagged = {(p["a"], p["b"]): p for p in noisy_pairs}
    assert flagged[("good", "mid")]["significant"] and flagged[("good", "mid")]["within_noise"]
    assert set({r["variant"]: r["letters"] for r in noisy}["good"]) & set(
        {r["variant"]: r["letters"] for r in noisy}["mid"])


def test_write_report_merges_identical_variants_and_writes_tables(tmp_path):
    rng = np.random.default_rng(2)
    base = rng.normal(size=30)
    values = {"D-RISE cosine/none": base + 1, "D-RISE cosine/debiased": base + 1, "Grad-CAM": base}
    store = ResultStore(tmp_path, {"seed": 0, "noise_images": 10, "drise": {"n_masks": 8}})
    records = _records(values, stability=0.5)
    for record in records:  # the eMPRT sees map values, not only the order: it may differ within a merged row
        record["emprt"] = 1.0 + 1e-7 * (record["variant"] == "D-RISE cosine/debiased")
    noise_values = {"D-RISE cosine/none": (base + 1.1)[:10], "D-RISE cosine/debiased": (base + 1.1)[:10]}
    store.write(0, records + _records(noise_values, seed=1))
    written = evaluation.write_report(tmp_path, metrics=["road_gap", "mu_fidelity"], n_resamples=200)
    report = (tmp_path / "report.md").read_text()
    assert "Primary metric" in report and "D-RISE cosine/none = debiased" in report
    assert "D-RISE cosine/debiased |" not in report
    ranking = (tmp_path / "ranking_road_gap.csv").read_text().splitlines()
    assert ranking[1].split(",")[1] == "D-RISE cosine/none = debiased" and len(ranking) == 3
    assert (tmp_path / "ranking_road_gap.png").stat().st_size > 0 and "pairs_mu_fidelity" in written


def test_the_report_merges_variants_whose_values_agree_in_every_metric():
    # identical_groups reads the metric values of seed 0 only: a variant joins the first group whose FIRST variant
    # it matches within the tolerance (mean absolute difference over the images, NaN images left out) in EVERY metric
    base = np.arange(4.0)
    values = {"a": base, "b": base + 1e-6, "c": base + 0.5, "near": base + 2e-4, "one_image": base + [3e-4, 0, 0, 0],
              "step": base + 0.9e-4, "chained": base + 1.6e-4, "c2": base + 0.5 + 5e-5}
    records = _records(values)
    road_same = _records({"road_same": base})  # equal to "a" on road_gap, 1 apart on mu_fidelity
    for record in road_same:
        record["mu_fidelity"] += 1.0
    nan_first = np.where(base == 0, np.nan, base)  # NaN (metric undefined) on the first image
    with_nan = _records({"a_nan": nan_first, "far_nan": nan_first + 1.0})  # compared on the other images
    second_seed = _records({"a": base + 9.0, "b": base - 9.0}, seed=1)  # another seed's records: not read
    records += road_same + with_nan + second_seed
    # one_image: 3e-4 on one image, mean 7.5e-5 (within 1e-4); near: 2e-4 (beyond); chained is within 1e-4 of
    # "step" but 1.6e-4 from "a", the first of that group, so it joins "near"
    assert evaluation.identical_groups(records, ["road_gap", "mu_fidelity"]) == [
        ["a", "b", "one_image", "step", "a_nan"], ["c", "c2"], ["near", "chained"], ["road_same"], ["far_nan"]]
    assert evaluation.identical_groups(records, ["road_gap"])[0] == ["a", "b", "one_image", "step", "road_same",
                                                                      "a_nan"]
    assert evaluation.identical_groups(records, ["road_gap", "mu_fidelity"], tolerance=1e-3) == [
        ["a", "b", "near", "one_image", "step", "chained", "a_nan"], ["c", "c2"], ["road_same"], ["far_nan"]]
    assert evaluation.identical_groups(records, ["road_gap"], tolerance=0.0) == [
        ["a", "road_same", "a_nan"], ["b"], ["c"], ["near"], ["one_image"], ["step"], ["chained"], ["c2"],
        ["far_nan"]]


def test_a_metric_left_with_one_row_writes_a_pairs_table_with_its_header_only(tmp_path):
    base = np.arange(6.0)
    store = ResultStore(tmp_path, {"seed": 0, "noise_images": 0, "drise": {"n_masks": 8}})
    store.write(0, _records({"D-RISE cosine/none": base, "D-RISE cosine/debiased": base}))
    evaluation.write_report(tmp_path, metrics=["road_gap"], n_resamples=50)
    assert (tmp_path / "pairs_road_gap.csv").read_text().splitlines() == [",".join(evaluation.report.PAIR_COLUMNS)]
    assert "D-RISE cosine/none = debiased" in (tmp_path / "ranking_road_gap.csv").read_text()


def test_compare_runs_pairs_the_shared_images_and_ranks_both_runs(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.normal(size=40)
    first = {"a": base + 1.0, "a2": base + 1.0, "b": base + 0.5, "c": base, "c2": base}
    second = {"a": base + 1.0, "a2": base + 1.0, "b": base + 1.5, "c": base + rng.normal(0, 0.01, 40),
              "c2": base}  # b moves up by exactly 1; a = a2 in both runs (one row), c = c2 only in the first
    ResultStore(tmp_path / "first", {"seed": 0}).write(0, _records(first) + _records({"a": base}, seed=1))
    records = _records(second)
    extra = [dict(record, id=record["id"] + 100, position=record["position"] + 40, road_gap=50.0)
             for record in records]  # images only the second run measured: not compared
    ResultStore(tmp_path / "second", {"seed": 0}).write(0, records + extra)
    rows, tau = evaluation.compare_runs(tmp_path / "first", tmp_path / "second", n_resamples=300)
    by_name = {row["variant"]: row for row in rows}
    assert [row["variant"] for row in rows][:2] == ["a = a2", "b"] and all(row["n"] == 40 for row in rows)
    assert {row["variant"] for row in rows[2:]} == {"c", "c2"}
    by_name["a"] = by_name["a = a2"]
    assert by_name["a"]["difference"] == 0.0 and not by_name["a"]["significant"] and by_name["a"]["p"] == 1.0
    assert by_name["b"]["difference"] == pytest.approx(1.0) and by_name["b"]["significant"]
    assert by_name["b"]["low"] == pytest.approx(1.0) and by_name["b"]["high"] == pytest.approx(1.0)
    assert (by_name["b"]["rank_first"], by_name["b"]["rank_second"]) == (2, 1)
    assert by_name["c"]["rank_second"] in (3, 4) and by_name["c2"]["rank_second"] in (3, 4)
    # Kendall's tau-b by hand: 4 concordant pairs, 1 discordant (a, b), 1 tied in the first run (c, c2)
    assert tau == pytest.approx(3 / np.sqrt(5 * 6))
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluation.compare_runs(tmp_path / "first", tmp_path / "second", metric="accuracy")


def test_the_factorial_report_recovers_known_effects_and_splits_rises_lead(tmp_path):
    from drise_tf.evaluation.report import FACTORS, factorial_effects, factorial_variant, write_factorial
    from drise_tf.evaluation.run import FACTORIAL_DESIGNS

    rng = np.random.default_rng(1)
    n, noise_images = 30, 10
    base = rng.normal(0.3, 0.1, n)
    # known answer (level 1 minus level 0): grid +0.10, upsampling +0.04, score +0.06, smoothing +0.08, grid x
    # smoothing -0.02 (interaction effect); RISE equals D-RISE 7x7 bilinear probability (same masks)
    gains = {"grid": 0.10, "upsampling": 0.04, "score": 0.06, "smoothing": 0.08}
    records = []
    for seed, images in ((0, n), (1, noise_images)):
        jitter = rng.normal(0, 0.001, n) * seed  # the second seed moves the values a little
        for levels in np.ndindex(2, 2, 2, 2):
            codes = dict(zip(FACTORS, (2 * np.array(levels) - 1)))
            value = base + jitter + sum(gains[f] / 2 * codes[f] for f in FACTORS)
            value = value - 0.02 / 2 * codes["grid"] * codes["smoothing"]
            name = factorial_variant(*(FACTORS[f][level] for f, level in zip(FACTORS, levels)))
            records += [{"id": i, "position": i, "label": 0, "seed": seed, "variant": name, "road_gap": value[i]}
                        for i in range(images)]
            if levels[:3] == (1, 1, 1):
                rise = "RISE" + (" + smoothed" if levels[3] else "")
                records += [{"id": i, "position": i, "label": 0, "seed": seed, "variant": rise,
                             "road_gap": value[i]} for i in range(images)]
    effects, lead = factorial_effects(records, n_resamples=300)
    found = {row["effect"]: row["mean"] for row in effects}
    for name, gain in gains.items():
        assert found[name] == pytest.approx(gain, abs=1e-9)
    assert found["grid x smoothing"] == pytest.approx(-0.02, abs=1e-9)
    assert found["grid x upsampling"] == pytest.approx(0.0, abs=1e-9)
    assert all(row["n"] == n and np.isfinite(row["noise"]) for row in effects)
    raw = {row["step"]: row for row in lead if row["smoothing"] == "raw"}
    assert raw["score"]["mean"] == pytest.approx(0.06) and raw["grid"]["mean"] == pytest.approx(0.10 + 0.02)
    assert raw["upsampling"]["mean"] == pytest.approx(0.04) and raw["rest (RISE itself)"]["mean"] == pytest.approx(0)
    assert sum(raw[s]["share"] for s in ("score", "grid", "upsampling", "rest (RISE itself)")) == pytest.approx(1)
    assert sum(raw[s]["share"] for s in ("score", "upsampling first", "grid second", "rest (RISE itself)")) == (
        pytest.approx(1))
    assert raw["upsampling first"]["mean"] == pytest.approx(0.04) and raw["grid second"]["mean"] == pytest.approx(0.12)
    smoothed = {row["step"]: row for row in lead if row["smoothing"] == "smoothed"}
    assert smoothed["grid"]["mean"] == pytest.approx(0.10 - 0.02)  # the interaction: smoothing shrinks the grid gain
    store = ResultStore(tmp_path / "run", {"seed": 0, "designs": FACTORIAL_DESIGNS, "noise_images": noise_images,
                                           "smoothing": {"grid": 7, "sigma": 1.87}})
    store.write(0, records)
    written = write_factorial(tmp_path / "run", n_resamples=100)
    assert "grid x smoothing" in written["text"] and (tmp_path / "run" / "lead_road_gap.csv").is_file()
    with pytest.raises(ValueError, match="not a mask-design factorial"):
        factorial_effects([r for r in records if "16x16 nearest cosine" not in r["variant"]])
