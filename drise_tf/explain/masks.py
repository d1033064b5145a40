"""Random masks for RISE / D-RISE: thesis-exact nearest masks and RISE's bilinear masks, seeded and vectorised.

A mask is made in two steps. First a :class:`MaskPlan` is drawn: ``n`` binary ``gh x gw`` grids with P(1) = ``p`` and
one crop offset per mask (all random numbers are drawn here, grids first, then offsets). Then the plan is rendered:
each grid is upsampled to ``(gh + 1) * ceil(H / gh)`` by ``(gw + 1) * ceil(W / gw)`` pixels and cropped to ``H x W`` at
its offset. Keeping the small plan instead of the masks lets :class:`drise_tf.explain.drise.DRise` render one batch of masks
at a time, so its memory does not grow with ``n``.

Two renderers give the same masks: ``method="reference"`` upsamples every mask with :func:`scipy.ndimage.zoom` in a
Python loop (the thesis's code path); ``method="fast"`` renders all masks at once with index tables (nearest) or a
pair of interpolation matrices (bilinear).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
import scipy.ndimage

SizeLike = Union[int, Tuple[int, int]]
SeedLike = Union[None, int, np.random.Generator]

UPSAMPLE_MODES = ("nearest", "bilinear")
METHODS = ("fast", "reference")


def size_pair(value: SizeLike, name: str, minimum: int = 1) -> Tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def rng_from(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator (used as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int, a numpy.random.Generator or None, got {seed!r}")


@dataclass(frozen=True)
class MaskPlan:
    """Everything random about a set of masks, plus how to render them.

    Attributes
    ----------
    grids : np.ndarray of bool, shape (n, gh, gw)
        The binary low-resolution grids.
    offsets : np.ndarray of int64, shape (n, 2)
        Crop offsets (row, column) into the upsampled grid.
    image_size : (int, int)
        Height and width of the rendered masks.
    upsample : str
        ``"nearest"`` or ``"bilinear"``.
    """

    grids: np.ndarray
    offsets: np.ndarray
    image_size: Tuple[int, int]
    upsample: str

    def __len__(self) -> int:
        return int(self.grids.shape[0])

    @property
    def upsampled_size(self) -> Tuple[int, int]:
        """Size of the upsampled grid before cropping: ``(g + 1) * ceil(size / g)`` per axis."""
        return upsampled_size(self.grids.shape[1:], self.image_size)

    def render(self, start: int = 0, stop: Optional[int] = None, *, method: str = "fast") -> np.ndarray:
        """Render masks ``start:stop`` as float32 (k, H, W) in [0, 1]."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        grids = self.grids[start:stop]
        offsets = self.offsets[start:stop]
        if method == "reference":
            return _render_reference(grids, offsets, self.image_size, self.upsample)
        return _render_fast(grids, offsets, self.image_size, self.upsample)


def upsampled_size(grid_size: Tuple[int, int], image_size: Tuple[int, int]) -> Tuple[int, int]:
    """``(g + 1) * ceil(size / g)`` per axis: 34 x 34 for 16 x 16 grids on 32 x 32 images."""
    return tuple((g + 1) * math.ceil(s / g) for g, s in zip(grid_size, image_size))  # type: ignore[return-value]


def plan_masks(
    n: int,
    grid_size: SizeLike,
    p: float,
    image_size: SizeLike,
    *,
    upsample: str = "nearest",
    shift: Optional[SizeLike] = None,
    seed: SeedLike = None,
) -> MaskPlan:
    """Draw the random part of ``n`` masks (see :func:`generate_masks` for the arguments)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (number of masks) must be an int >= 1, got {n!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 < float(p) <= 1.0:
        raise ValueError(f"p (probability that a grid cell is kept) must lie in (0, 1], got {p!r}")
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
    grid = size_pair(grid_size, "grid_size")
    size = size_pair(image_size, "image_size")
    if grid[0] > size[0] or grid[1] > size[1]:
        raise ValueError(f"grid_size {grid} is larger than the image {size}; each grid cell must cover >= 1 pixel")
    up = upsampled_size(grid, size)
    room = (up[0] - size[0], up[1] - size[1])
    cell = (math.ceil(size[0] / grid[0]), math.ceil(size[1] / grid[1]))
    if shift is None:
        # Thesis: offsets 0..(up - H) inclusive ({0, 1, 2} on CIFAR); RISE: 0..cell-1 (randint(0, cell)).
        max_shift = room if upsample == "nearest" else (cell[0] - 1, cell[1] - 1)
    else:
        max_shift = size_pair(shift, "shift", minimum=0)
        if max_shift[0] > room[0] or max_shift[1] > room[1]:
            raise ValueError(f"shift {shift!r} exceeds the room of the upsampled grid {up} over the image {size}: {room}")
    rng = rng_from(seed)
    grids = rng.random((int(n),) + grid) < float(p)
    offsets = np.stack(
        [rng.integers(0, max_shift[0] + 1, size=int(n)), rng.integers(0, max_shift[1] + 1, size=int(n))], axis=1
    ).astype(np.int64)
    return MaskPlan(grids=grids, offsets=offsets, image_size=size, upsample=upsample)


def generate_masks(
    n: int,
    grid_size: SizeLike,
    p: float,
    image_size: SizeLike,
    *,
    upsample: str = "nearest",
    shift: Optional[SizeLike] = None,
    seed: SeedLike = None,
    method: str = "fast",
) -> np.ndarray:
    """Random binary-grid masks, upsampled and randomly cropped.

    Parameters
    ----------
    n : int
        Number of masks (>= 1).
    grid_size : int or (int, int)
        Size of the low-resolution grid (16 in the thesis, 7 in RISE).
    p : float
        Probability that a grid cell is kept, in (0, 1].
    image_size : int or (int, int)
        Height and width of the masks.
    upsample : {"nearest", "bilinear"}
        ``"nearest"``: ``scipy.ndimage.zoom(grid, order=0)`` as in the thesis (17/8 for 16 -> 34 on 32 x 32), binary
        masks. ``"bilinear"``: RISE's smooth masks (half-pixel bilinear, edges clamped, as ``tf.image.resize``).
    shift : int or (int, int), optional
        Largest crop offset, inclusive. Default: the whole room ``up - H`` for nearest ({0, 1, 2} on CIFAR, as the
        thesis), ``ceil(H / g) - 1`` for bilinear (RISE's ``randint(0, cell)``). 0 disables the random crop.
    seed : int, numpy.random.Generator or None
        Same seed, same masks.
    method : {"fast", "reference"}
        Vectorised renderer or the per-mask scipy loop; they give the same masks.

    Returns
    -------
    np.ndarray
        float32 masks of shape (n, H, W) in [0, 1].
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    plan = plan_masks(n, grid_size, p, image_size, upsample=upsample, shift=shift, seed=seed)
    return plan.render(method=method)


def _zoom_factors(grid_shape: Tuple[int, int], up: Tuple[int, int]) -> Tuple[float, float]:
    return (up[0] / grid_shape[0], up[1] / grid_shape[1])


def _render_reference(grids: np.ndarray, offsets: np.ndarray, size: Tuple[int, int], upsample: str) -> np.ndarray:
    grid_shape = grids.shape[1:]
    up = upsampled_size(grid_shape, size)
    factors = _zoom_factors(grid_shape, up)
    out = np.empty((len(grids),) + tuple(size), dtype=np.float32)
    for i, (grid, (dy, dx)) in enumerate(zip(grids, offsets)):
        grid = grid.astype(np.float32)
        if upsample == "nearest":
            big = scipy.ndimage.zoom(grid, factors, order=0)
        else:
            big = scipy.ndimage.zoom(grid, factors, order=1, mode="nearest", grid_mode=True)
        out[i] = big[dy : dy + size[0], dx : dx + size[1]]
    return out


@functools.lru_cache(maxsize=8)
def _nearest_cells(grid_shape: Tuple[int, int], up: Tuple[int, int]) -> np.ndarray:
    """(up_h, up_w) table: which grid cell (flat index) each upsampled pixel copies; ``gh * gw`` means "zero".

    Made by zooming the table of flat cell indices with ``scipy.ndimage.zoom(order=0)`` itself, so it reproduces
    scipy's choices exactly, including its edge quirk: where rounding puts a sample coordinate just beyond the last
    cell (e.g. the last column for 16 -> 238), scipy returns ``cval`` = 0 instead of the cell's value.
    """
    cells = grid_shape[0] * grid_shape[1]
    flat = np.arange(cells, dtype=np.float64).reshape(grid_shape)
    table = np.rint(scipy.ndimage.zoom(flat, _zoom_factors(grid_shape, up), order=0, cval=-1.0)).astype(np.int64)
    table[table < 0] = cells
    return table


def _bilinear_matrix(g: int, up: int) -> np.ndarray:
    """(up, g) half-pixel bilinear interpolation matrix with clamped edges."""
    x = (np.arange(up) + 0.5) * (g / up) - 0.5
    x = np.clip(x, 0.0, g - 1)
    low = np.floor(x).astype(np.int64)
    high = np.minimum(low + 1, g - 1)
    frac = x - low
    matrix = np.zeros((up, g), dtype=np.float64)
    rows = np.arange(up)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(np.float32)


def _render_fast(grids: np.ndarray, offsets: np.ndarray, size: Tuple[int, int], upsample: str) -> np.ndarray:
    grid_shape = grids.shape[1:]
    up = upsampled_size(grid_shape, size)
    if upsample == "nearest":
        # masks sharing an offset share one (H, W) table of cell indices: gather per distinct offset, not per mask
        table = _nearest_cells(tuple(grid_shape), up)
        flat = np.concatenate([grids.reshape(len(grids), -1), np.zeros((len(grids), 1), bool)], axis=1)
        out = np.empty((len(grids),) + tuple(size), dtype=np.float32)
        pairs, which = np.unique(offsets, axis=0, return_inverse=True)
        for k, (dy, dx) in enumerate(pairs):
            chosen = np.flatnonzero(which.ravel() == k)
            out[chosen] = flat[chosen][:, table[dy : dy + size[0], dx : dx + size[1]]]
        return out
    rows = offsets[:, 0:1] + np.arange(size[0])  # (n, H): upsampled row of each output row
    cols = offsets[:, 1:2] + np.arange(size[1])  # (n, W)
    left = _bilinear_matrix(grid_shape[0], up[0])[rows]  # (n, H, gh)
    right = _bilinear_matrix(grid_shape[1], up[1])[cols]  # (n, W, gw)
    return np.matmul(np.matmul(left, grids.astype(np.float32)), np.swapaxes(right, 1, 2))
