"""Masks: thesis-exact nearest masks, RISE bilinear masks, fast path == scipy reference, seeds, errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from drise_tf.explain.masks import generate_masks, plan_masks


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
