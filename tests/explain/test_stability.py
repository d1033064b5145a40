"""Stability estimates: rank correlation against scipy, the Gaussian-copula conversions and Spearman-Brown against
closed forms and simulation, half splits, and the split-half estimate calibrated on synthetic Monte Carlo maps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from drise_tf.explain import stability


def test_row_spearman_equals_scipy_and_rank_agreement_handles_constant_maps():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3, 50))
    b = a + rng.normal(size=a.shape)
    b[0, 0, :10] = b[0, 0, 0]  # ties
    got = stability.row_spearman(a, b)
    want = np.array([[scipy.stats.spearmanr(x, y)[0] for x, y in zip(rows_a, rows_b)] for rows_a, rows_b in zip(a, b)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(stability.rank_agreement(a, b), want, atol=1e-12)
    assert np.isnan(stability.row_spearman(np.zeros((1, 9)), np.arange(9.0)[None]))[0]
    assert stability.rank_agreement(np.zeros((1, 9)), np.zeros((1, 9)))[0] == 1.0  # two equal constant maps
    assert stability.rank_agreement(np.zeros((1, 9)), np.arange(9.0)[None])[0] == 0.0


def test_gaussian_copula_conversions_match_simulation_and_invert():
    rng = np.random.default_rng(1)
    for r in (0.2, 0.5, 0.8, 0.95):
        x = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=200_000)
        measured = scipy.stats.spearmanr(x[:, 0], x[:, 1])[0]
        assert abs(stability.pearson_to_spearman(r) - measured) < 0.005
        assert stability.spearman_to_pearson(stability.pearson_to_spearman(r)) == pytest.approx(r)


def test_extrapolation_closed_forms():
    """Rate 1 (no quarter maps) is Spearman-Brown on the copula's Pearson scale: k r / (1 + (k - 1) r)."""
    def projected(r, k):
        return stability.pearson_to_spearman(k * r / (1 + (k - 1) * r))

    one = np.ones(1)
    assert stability.extrapolate(0.5 * one, None, 2 * one, one)[0] == pytest.approx(projected(0.5, 2))
    assert (stability.extrapolate(0.3 * one, None, 3 * one, 3 * one)[0]
            == pytest.approx(stability.pearson_to_spearman(0.3)))
    assert stability.extrapolate(-0.2 * one, None, 2 * one, one)[0] == 0.0  # no signal, nothing to project
    # quarters that follow Spearman-Brown exactly give rate 1; quarters as good as halves give rate 0
    r_half = 1 / (1 + 4.0 / 50)
    r_quarter = 1 / (1 + 4.0 / 25)
    assert stability.extrapolate(r_half * one, r_quarter * one, 100 * one, 50 * one, 25 * one)[0] == pytest.approx(
        projected(r_half, 2))
    assert stability.extrapolate(r_half * one, r_half * one, 100 * one, 50 * one, 25 * one)[0] == pytest.approx(
        stability.pearson_to_spearman(r_half))


def test_split_design():
    design = stability.split_design(8)
    groups, halves, quarters = design.groups, design.halves, design.quarters
    assert halves.shape == (stability.MAX_SPLITS, 2)  # 16 of the 35 cuts of 8 into 4 + 4 ...
    assert quarters.shape == (16 * 2 * 3, 2)  # ... and every cut of their halves into 2 + 2
    assert set(groups.sum(axis=1)) == {2.0, 4.0} and len(groups) == len({row.tobytes() for row in groups})
    np.testing.assert_array_equal(groups[halves[:, 0]] + groups[halves[:, 1]], 1.0)  # disjoint, together all
    assert np.all(groups[quarters[:, 0]] * groups[quarters[:, 1]] == 0) and np.all(groups[quarters].sum(axis=2) == 2)
    assert len({tuple(sorted(map(tuple, groups[pair].astype(int)))) for pair in quarters}) == 96  # each pair once
    odd = stability.split_design(5)
    assert odd.halves.shape == (10, 2) and len(odd.quarters) > 0
    np.testing.assert_array_equal(odd.groups[odd.halves[:, 0]] + odd.groups[odd.halves[:, 1]], 1.0)
    assert stability.split_design(4).halves.shape == (3, 2)  # all cuts when there are few
    assert stability.split_design(2).quarters.shape == (0, 2)
    with pytest.raises(ValueError, match=">= 2 replicas"):
        stability.split_design(1)


@pytest.mark.parametrize("signal", ["normal", "heavy-tailed"])
@pytest.mark.parametrize("noise", [0.5, 1.0, 2.0])  # two-seed Spearman about 0.9 down to 0.3
def test_estimate_is_calibrated_on_synthetic_monte_carlo_maps(signal, noise):
    """Maps = signal + independent noise per replica; the estimate from ONE run's 8 replicas must match the Spearman
    of two independent runs, measured by simulation (median over 40 maps)."""
    rng = np.random.default_rng(2)
    maps, replicas, pixels = 40, 8, 1024
    shape = (maps, 1, pixels)
    truth = rng.normal(size=shape) if signal == "normal" else rng.standard_t(3, size=shape)

    def run():
        return truth + noise * math.sqrt(replicas) * rng.normal(size=(maps, replicas, pixels))  # replica maps

    first, second = run(), run()
    measured = stability.rank_agreement(first.mean(axis=1), second.mean(axis=1))
    design = stability.split_design(replicas)
    group_maps = np.einsum("brp,gr->bgp", first, design.groups) / design.groups.sum(axis=1)[:, None]
    ranks = stability.unit_ranks(group_maps)
    full = np.full(maps, 8.0)
    estimate = stability.extrapolate(stability.pair_pearson(ranks, design.halves),
                                     stability.pair_pearson(ranks, design.quarters), full, full / 2, full / 4)
    assert abs(np.median(estimate) - np.median(measured)) < 0.03
    error = stability.replica_standard_error(first)
    assert abs(np.median(error) / noise - 1) < 0.1  # the mean of 8 replicas of noise sqrt(8) * noise has SE noise


def test_replica_standard_error_closed_form():
    replica_maps = np.array([[[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]]])  # (B=1, R=3, P=2)
    np.testing.assert_allclose(stability.replica_standard_error(replica_maps), [[2.0 / math.sqrt(3), 0.0]])
    with pytest.raises(ValueError, match=">= 2 replicas"):
        stability.replica_standard_error(replica_maps[:, :1])



def naive_top_region(values: np.ndarray, fraction: float) -> np.ndarray:
    """One map (P,): a pixel is in when the pixels above it, a tie counting half, are fewer than fraction * P."""
    if values.max() == values.min():
        return np.zeros(values.shape, bool)
    above = np.array([np.sum(values > v) + (np.sum(values == v) - 1) / 2 for v in values])
    return above < fraction * len(values)


def test_top_region_frequency_equals_a_loop_over_replicas():
    rng = np.random.default_rng(3)
    replica_maps = rng.integers(0, 6, size=(3, 5, 4, 5)).astype(np.float64)  # many ties
    replica_maps[0, 1] = 2.0  # a constant replica: no salient pixel
    replica_maps[1, :, 0, 0] = 99.0  # one pixel above the rest in every replica
    want = np.zeros((3, 4, 5))
    for b in range(3):
        for r in range(5):
            want[b] += naive_top_region(replica_maps[b, r].ravel(), 0.25).reshape(4, 5) / 5
    got = stability.top_region_frequency(replica_maps, 0.25)
    np.testing.assert_allclose(got, want)
    assert got[1, 0, 0] == 1.0
    distinct = rng.permutation(20).reshape(1, 1, 4, 5).astype(float)  # no ties: exactly ceil(0.12 * 20) = 3 pixels
    assert stability.top_region(distinct, 0.12).sum() == 3
    np.testing.assert_array_equal(stability.top_region(distinct, 0.1)[0, 0], distinct[0, 0] >= 18)
    assert not stability.top_region(np.full((4, 4), 7.0), 0.9).any()


@pytest.mark.parametrize("fraction", [0.0, 1.0, True, "0.1"])
def test_top_region_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="fraction"):
        stability.top_region(np.zeros((4, 4)), fraction)


def test_top_region_frequency_rejects_bad_shapes():
    with pytest.raises(ValueError, match="replica_maps must have shape \\(B, R, H, W\\)"):
        stability.top_region_frequency(np.zeros((2, 4, 4)))


# ---------------------------------------------------------------------------------------------- on a trained model
@pytest.fixture(scope="module")
def trained(cifar_subset_file):
    """A small CNN (8 and 16 filters) trained for two epochs on 6000 real CIFAR-10 images, and 16 standardised test
    images."""
    from drise_tf.core.compat import keras
    from drise_tf.data import Standardizer, load_cifar10

    (x_train, y_train), (x_test, y_test) = load_cifar10(cifar_subset_file)
    standardizer = Standardizer.fit(x_train[:6000])
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="probs")(x))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(standardizer.transform(x_train[:6000]), y_train[:6000], epochs=2, batch_size=64, verbose=0)
    return model, standardizer.transform(x_test[:16]), y_test[:16]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.keras3_only  # numpy statistics on top of the forward pass that the Keras 2 run already tests
@pytest.mark.parametrize("sampling", ["iid", "antithetic", "sobol", "latin", "antithetic_sobol"])
def test_stability_is_calibrated_on_a_trained_model(trained, sampling):
    """The median estimate over 16 images is within 0.05 of the median two-seed Spearman measured, at N = 1000 and
    5000, for the thesis's raw cosine sum and the debiased probability map.

    Every image of a run shares the run's masks, so the mask noise of the 16 maps is correlated (for the raw sum
    mostly one shared coverage pattern): the measured median is averaged over the 3 pairs of 3 seeds, the estimate
    over the 3 runs.
    """
    from drise_tf.explain import DRise
    from drise_tf.explain.drise import THESIS_MASKS

    model, images, labels = trained
    for n in (1000, 5000):
        runs = [DRise(model, n_masks=n, sampling=sampling, seed=seed, batch_size=1600, **THESIS_MASKS).explain_scores(
            images, labels, similarities=["cosine", "probability"], aggregations=["none", "debiased"],
            return_stability=True) for seed in (0, 1, 2)]
        for name in ("cosine/none", "probability/debiased"):
            measured = np.mean([np.median(stability.rank_agreement(runs[a][0][name].reshape(16, -1),
                                                                   runs[b][0][name].reshape(16, -1)))
                                for a, b in ((0, 1), (0, 2), (1, 2))])
            estimate = np.mean([np.median(estimates[name]) for _, estimates in runs])
            assert abs(estimate - measured) < 0.05, (n, name, estimate, measured)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.keras3_only
def test_adaptive_stopping_is_not_flattered_by_optional_stopping(trained):
    """Where images stop at the target, a second seed with the same number of masks agrees as well as promised."""
    from drise_tf.explain import DRise

    model, images, labels = trained
    target = 0.8
    first = DRise(model, n_masks=1000, sampling="antithetic", similarity="probability", aggregation="debiased",
                  target_stability=target, max_masks=16000, seed=0, batch_size=1600)
    maps, estimate = first.explain(images, labels, return_stability=True)
    stopped = first.masks_used < 16000
    assert stopped.sum() >= 8 and np.all(estimate[stopped] >= target)
    measured = np.empty(16)
    for n in np.unique(first.masks_used):
        chosen = np.flatnonzero(first.masks_used == n)
        second = DRise(model, n_masks=int(n), sampling="antithetic", similarity="probability",
                       aggregation="debiased", seed=1, batch_size=1600).explain(images[chosen], labels[chosen])
        measured[chosen] = stability.rank_agreement(maps[chosen].reshape(len(chosen), -1),
                                                    second.reshape(len(chosen), -1))
    assert np.median(measured[stopped]) >= target - 0.05
