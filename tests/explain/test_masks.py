"""Masks: thesis-exact nearest masks, RISE bilinear masks, fast path == scipy reference, seeds, errors; the mask
stream's designs (iid, antithetic, Sobol, Latin hypercube): replicas, seeds that share no draw, and unbiased maps."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from drise_tf.explain.masks import SAMPLINGS, MaskStream, generate_masks, plan_masks


def thesis_loop_masks(n: int, rng: np.random.Generator) -> np.ndarray:
    """The thesis's mask code, written out: 16x16 grid, zoom 17/8 order 0, crop 32x32 at offsets in {0, 1, 2}.

    Draws the same random numbers in the same order as plan_masks: all grids first, then row offsets, column offsets.
    """
    grids = rng.random((n, 16, 16)) < 0.5
    dy = rng.integers(0, 3, size=n)
    dx = rng.integers(0, 3, size=n)
    out = []
    for grid, y, x in zip(grids, dy, dx):
        big = scipy.ndimage.zoom(grid.astype(np.float32), 17 / 8, order=0)
        assert big.shape == (34, 34)
        out.append(big[y : y + 32, x : x + 32])
    return np.stack(out)


def test_thesis_masks_match_written_out_thesis_loop():
    masks = generate_masks(200, 16, 0.5, 32, seed=7)
    expected = thesis_loop_masks(200, np.random.default_rng(7))
    assert masks.dtype == np.float32 and masks.shape == (200, 32, 32)
    np.testing.assert_array_equal(masks, expected)
    assert set(np.unique(masks)) <= {0.0, 1.0}


def test_thesis_offsets_cover_0_to_2_inclusive():
    plan = plan_masks(500, 16, 0.5, 32, seed=0)
    assert set(plan.offsets.ravel().tolist()) == {0, 1, 2}
    assert plan.upsampled_size == (34, 34)


@pytest.mark.parametrize("size, grid", [(32, 16), ((32, 48), (7, 5)), (224, 16), (224, 7), (30, 16), ((20, 33), 4)])
def test_fast_equals_reference_exactly_for_nearest(size, grid):
    fast = generate_masks(40, grid, 0.4, size, seed=3)
    reference = generate_masks(40, grid, 0.4, size, seed=3, method="reference")
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize("size, grid", [(32, 16), ((32, 48), (7, 5)), (224, 7)])
def test_fast_bilinear_matches_scipy_reference_and_tf_resize(size, grid):
    plan = plan_masks(30, grid, 0.5, size, upsample="bilinear", seed=5)
    fast = plan.render()
    np.testing.assert_allclose(fast, plan.render(method="reference"), atol=1e-6)
    # independent convention check: tf.image.resize (half-pixel bilinear) of the same grids, same crops
    up = plan.upsampled_size
    big = tf.image.resize(plan.grids[..., None].astype(np.float32), up, method="bilinear").numpy()[..., 0]
    h, w = plan.image_size
    crops = np.stack([b[y : y + h, x : x + w] for b, (y, x) in zip(big, plan.offsets)])
    np.testing.assert_allclose(fast, crops, atol=1e-5)


def test_bilinear_distribution_like_rise():
    masks = generate_masks(2000, 7, 0.3, 32, upsample="bilinear", seed=1)
    assert masks.min() >= 0.0 and masks.max() <= 1.0
    assert len(np.unique(masks)) > 10  # smooth, not binary
    assert abs(masks.mean() - 0.3) < 0.01
    plan = plan_masks(2000, 7, 0.3, 32, upsample="bilinear", seed=1)
    # RISE: one independent shift per mask in [0, cell) with cell = ceil(32 / 7) = 5
    assert set(plan.offsets[:, 0].tolist()) == set(range(5)) and set(plan.offsets[:, 1].tolist()) == set(range(5))
    assert len({tuple(o) for o in plan.offsets[:50]}) > 5


def test_reference_and_fast_bilinear_same_distribution():
    fast = generate_masks(1500, 8, 0.5, 32, upsample="bilinear", seed=11)
    reference = generate_masks(1500, 8, 0.5, 32, upsample="bilinear", seed=12, method="reference")
    assert abs(fast.mean() - reference.mean()) < 0.01
    assert abs(fast.std() - reference.std()) < 0.01
    hist_fast = np.histogram(fast, bins=10, range=(0, 1))[0] / fast.size
    hist_ref = np.histogram(reference, bins=10, range=(0, 1))[0] / reference.size
    np.testing.assert_allclose(hist_fast, hist_ref, atol=0.01)


def test_keep_probability_and_p_one():
    masks = generate_masks(3000, 16, 0.25, 32, seed=0)
    assert abs(masks.mean() - 0.25) < 0.01
    np.testing.assert_array_equal(generate_masks(5, 16, 1.0, 32, seed=0), 1.0)


def test_seed_reproducibility_and_generator():
    a = generate_masks(20, 16, 0.5, 32, seed=42)
    np.testing.assert_array_equal(a, generate_masks(20, 16, 0.5, 32, seed=42))
    assert not np.array_equal(a, generate_masks(20, 16, 0.5, 32, seed=43))
    np.testing.assert_array_equal(a, generate_masks(20, 16, 0.5, 32, seed=np.random.default_rng(42)))


def test_render_slices_agree_with_whole():
    plan = plan_masks(25, 16, 0.5, 32, seed=2)
    np.testing.assert_array_equal(plan.render(10, 17), plan.render()[10:17])


def test_shift_zero_disables_crop():
    plan = plan_masks(10, 16, 0.5, 32, shift=0, seed=0)
    np.testing.assert_array_equal(plan.offsets, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), "n"),
        (dict(n=2.5), "n"),
        (dict(p=0.0), "p"),
        (dict(p=1.5), "p"),
        (dict(grid_size=33), "grid_size"),
        (dict(grid_size=0), "grid_size"),
        (dict(image_size=(32, 32, 3)), "image_size"),
        (dict(upsample="cubic"), "upsample"),
        (dict(method="slow"), "method"),
        (dict(shift=5), "shift"),
        (dict(shift=-1), "shift"),
        (dict(seed="abc"), "seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(n=4, grid_size=16, p=0.5, image_size=32)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generate_masks(args.pop("n"), args.pop("grid_size"), args.pop("p"), args.pop("image_size"), **args)


# ---------------------------------------------------------------------------------------------------- mask stream
def test_iid_stream_starts_with_the_thesis_plan_and_continues():
    plan = plan_masks(40, 16, 0.5, 32, seed=5)
    stream = MaskStream(16, 0.5, 32, replicas=8, seed=5)
    first, replica = stream.draw(40)
    np.testing.assert_array_equal(first.grids, plan.grids)  # bit-identical to the thesis's masks
    np.testing.assert_array_equal(first.offsets, plan.offsets)
    np.testing.assert_array_equal(replica, np.repeat(np.arange(8), 5))
    second, _ = stream.draw(40)
    assert stream.drawn == 80 and not np.array_equal(second.grids, first.grids)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_stream_replicas_and_reproducibility(sampling):
    stream = MaskStream(8, 0.3, 16, sampling=sampling, replicas=3, seed=1)
    plan, replica = stream.draw(14)
    assert len(plan) == 14 and plan.render().shape == (14, 16, 16)
    assert np.all(np.diff(replica) >= 0) and np.bincount(replica).tolist() in ([4, 6, 4], [5, 4, 5], [4, 5, 5])
    if sampling in ("antithetic", "antithetic_sobol"):  # a pair never straddles two replicas
        assert np.all(replica[0::2] == replica[1::2])
    again, _ = MaskStream(8, 0.3, 16, sampling=sampling, replicas=3, seed=1).draw(14)
    np.testing.assert_array_equal(again.grids, plan.grids)
    np.testing.assert_array_equal(again.offsets, plan.offsets)
    assert plan.offsets.min() >= 0 and plan.offsets.max() <= 2  # thesis offsets, every design


@pytest.mark.parametrize("sampling", ["antithetic", "antithetic_sobol"])
def test_antithetic_pairs_mirror_each_other_with_one_offset(sampling):
    plan, _ = MaskStream(16, 0.5, 32, sampling=sampling, replicas=2, seed=0).draw(200)
    np.testing.assert_array_equal(plan.grids[1::2], ~plan.grids[0::2])  # p = 0.5: the complement
    np.testing.assert_array_equal(plan.offsets[1::2], plan.offsets[0::2])
    masks = plan.render()
    np.testing.assert_array_equal(masks[0::2] + masks[1::2],
                                  np.broadcast_to(masks[0::2] + masks[1::2], masks[0::2].shape))
    coverage = masks.sum(axis=0)
    assert coverage.max() - coverage.min() <= 100  # every pixel of a pair is kept exactly once, but for scipy's edge
    plan, _ = MaskStream(16, 0.3, 32, sampling=sampling, replicas=2, seed=0).draw(4000)
    assert abs(plan.grids.mean() - 0.3) < 0.01  # 1 - u < p: the marginal stays Bernoulli(p), not 1 - p
    assert not np.any(plan.grids[0::2] & plan.grids[1::2])  # p < 0.5: a cell is never kept by both


@pytest.mark.parametrize("sampling", ["sobol", "latin", "antithetic_sobol"])
def test_quasi_random_designs_balance_cell_counts(sampling):
    plan, replica = MaskStream(16, 0.5, 32, sampling=sampling, replicas=4, seed=0).draw(256)
    per_replica = np.stack([plan.grids[replica == r].sum(axis=0) for r in range(4)])
    assert np.all(np.abs(per_replica - 32) <= 1)  # 64 masks per replica: each cell kept in half of them
    if sampling == "antithetic_sobol":  # and the first masks of the pairs, Sobol points, are balanced too
        firsts = np.stack([plan.grids[0::2][replica[0::2] == r].sum(axis=0) for r in range(4)])
        assert np.all(np.abs(firsts - 16) <= 1)
        antithetic, replica = MaskStream(16, 0.5, 32, sampling="antithetic", replicas=4, seed=0).draw(256)
        firsts = np.stack([antithetic.grids[0::2][replica[0::2] == r].sum(axis=0) for r in range(4)])
        assert np.abs(firsts - 16).max() > 3
    iid, replica = MaskStream(16, 0.5, 32, sampling="iid", replicas=4, seed=0).draw(256)
    assert np.abs(np.stack([iid.grids[replica == r].sum(axis=0) for r in range(4)]) - 32).max() > 4


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_two_seeds_and_two_replicas_share_no_draw(sampling):
    """A design whose seeds (or replicas) reused draws would fake the two-seed agreement it is judged by."""
    def rows(seed):
        plan, replica = MaskStream(16, 0.5, 32, sampling=sampling, replicas=4, seed=seed).draw(64)
        return [{g.tobytes() for g in plan.grids[replica == r]} for r in range(4)]

    first, second = rows(0), rows(1)
    assert not set().union(*first) & set().union(*second)
    assert all(not first[a] & first[b] for a in range(4) for b in range(a + 1, 4))


def _maps_of(sampling: str, runs: int, n: int, p: float, seed: int) -> np.ndarray:
    """Raw D-RISE maps sum_i f(M_i) M_i / n of a fixed nonlinear black box f, one per independent run."""
    weights = np.random.default_rng(99).normal(size=(32, 32))
    weights[8:16, 8:20] += 3.0

    def black_box(masks):
        return 1.0 / (1.0 + np.exp(-(masks * weights).sum(axis=(1, 2)) / 40.0))

    maps = []
    for run in range(runs):
        plan, _ = MaskStream(8, p, 32, sampling=sampling, replicas=2,
                                      seed=np.random.default_rng([seed, run])).draw(n)
        masks = plan.render()
        maps.append(np.einsum("n,nhw->hw", black_box(masks), masks) / n)
    return np.stack(maps)


@pytest.mark.parametrize("sampling", ["antithetic", "sobol", "latin", "antithetic_sobol"])
def test_every_design_is_unbiased_in_values_and_agrees_with_iid_at_large_n(sampling):
    iid, design = _maps_of("iid", 300, 16, 0.3, seed=1), _maps_of(sampling, 300, 16, 0.3, seed=2)

    def max_z(a, b):
        return np.max(np.abs(a.mean(0) - b.mean(0)) / np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b)))

    assert max_z(design, iid) < 4.5  # 1024 pixels: |z| < 4.5 each by chance with probability > 0.99
    # the check has power: an antithetic design built on complements is biased for p != 0.5 (keeps 1 - p)
    complements = _maps_of("iid", 300, 8, 0.3, seed=3)
    complements = 0.5 * (complements + _maps_of("iid", 300, 8, 0.7, seed=3))
    assert max_z(complements, iid) > 6
    # at large N, the design's maps agree with a precise i.i.d. reference as well as i.i.d. maps do (or better)
    reference = _maps_of("iid", 8, 2048, 0.3, seed=4).mean(axis=0).ravel()

    def agreement(maps):
        return np.mean([np.corrcoef(m.ravel(), reference)[0, 1] for m in maps])

    assert (agreement(_maps_of(sampling, 3, 2048, 0.3, seed=5))
            >= agreement(_maps_of("iid", 3, 2048, 0.3, seed=6)) - 0.03)


def test_stream_bad_arguments():
    with pytest.raises(ValueError, match="sampling must be one of"):
        MaskStream(16, 0.5, 32, sampling="halton")
    with pytest.raises(ValueError, match="replicas must be an int >= 1"):
        MaskStream(16, 0.5, 32, replicas=0)
    with pytest.raises(ValueError, match=r"multiple of 2 and >= 8 \(4 replicas of 'antithetic'"):
        MaskStream(16, 0.5, 32, sampling="antithetic", replicas=4).draw(7)
    with pytest.raises(ValueError, match="grid_size"):
        MaskStream(64, 0.5, 32)
