"""Random masks for RISE / D-RISE: thesis-exact nearest masks and RISE's bilinear masks, seeded and vectorised.

A mask is made in two steps. First a :class:`MaskPlan` is drawn: ``n`` binary ``gh x gw`` grids with P(1) = ``p`` and
one crop offset per mask (all random numbers are drawn here, grids first, then offsets). Then the plan is rendered:
each grid is upsampled to ``(gh + 1) * ceil(H / gh)`` by ``(gw + 1) * ceil(W / gw)`` pixels and cropped to ``H x W`` at
its offset. Keeping the small plan instead of the masks lets :class:`drise_tf.explain.drise.DRise` render one batch
of masks at a time, so its memory does not grow with ``n``.

Two renderers give the same masks: ``method="reference"`` upsamples every mask with :func:`scipy.ndimage.zoom` in a
Python loop (the thesis's code path); ``method="fast"`` renders all masks at once with index tables (nearest) or a
pair of interpolation matrices (bilinear).
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
import scipy.ndimage
import scipy.stats

SizeLike = Union[int, Tuple[int, int]]
SeedLike = Union[None, int, np.random.Generator]

UPSAMPLE_MODES = ("nearest", "bilinear")
METHODS = ("fast", "reference")
SAMPLINGS = ("iid", "antithetic", "sobol", "latin", "antithetic_sobol")


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


def _max_shift(
    grid: Tuple[int, int], size: Tuple[int, int], upsample: str, shift: Optional[SizeLike]
) -> Tuple[int, int]:
    """Largest crop offset per axis, inclusive (see :func:`generate_masks`, ``shift``)."""
    up = upsampled_size(grid, size)
    room = (up[0] - size[0], up[1] - size[1])
    cell = (math.ceil(size[0] / grid[0]), math.ceil(size[1] / grid[1]))
    if shift is None:
        # Thesis: offsets 0..(up - H) inclusive ({0, 1, 2} on CIFAR); RISE: 0..cell-1 (randint(0, cell)).
        return room if upsample == "nearest" else (cell[0] - 1, cell[1] - 1)
    max_shift = size_pair(shift, "shift", minimum=0)
    if max_shift[0] > room[0] or max_shift[1] > room[1]:
        raise ValueError(f"shift {shift!r} exceeds the room of the upsampled grid {up} over the image {size}: {room}")
    return max_shift


def _check_design(grid_size: SizeLike, p: float, image_size: SizeLike, upsample: str,
                  shift: Optional[SizeLike]) -> Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int]]:
    """Checked (grid, image size, largest shift) of a mask design."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 < float(p) <= 1.0:
        raise ValueError(f"p (probability that a grid cell is kept) must lie in (0, 1], got {p!r}")
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
    grid = size_pair(grid_size, "grid_size")
    size = size_pair(image_size, "image_size")
    if grid[0] > size[0] or grid[1] > size[1]:
        raise ValueError(f"grid_size {grid} is larger than the image {size}; each grid cell must cover >= 1 pixel")
    return grid, size, _max_shift(grid, size, upsample, shift)


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
    """Draw the random part of ``n`` i.i.d. masks (see :func:`generate_masks` for the arguments)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (number of masks) must be an int >= 1, got {n!r}")
    grid, size, max_shift = _check_design(grid_size, p, image_size, upsample, shift)
    rng = rng_from(seed)
    grids = rng.random((int(n),) + grid) < float(p)
    offsets = np.stack(
        [rng.integers(0, max_shift[0] + 1, size=int(n)), rng.integers(0, max_shift[1] + 1, size=int(n))], axis=1
    ).astype(np.int64)
    return MaskPlan(grids=grids, offsets=offsets, image_size=size, upsample=upsample)


def _plan_from_uniforms(uniforms: np.ndarray, grid: Tuple[int, int], p: float, max_shift: Tuple[int, int],
                        size: Tuple[int, int], upsample: str) -> MaskPlan:
    """Masks from points of the unit cube (n, cells + 2): cell kept where its coordinate is < p, offsets from the
    last two coordinates (``floor(u * (shift + 1))``), so a uniform point gives a mask distributed as an i.i.d. one."""
    cells = grid[0] * grid[1]
    grids = (uniforms[:, :cells] < p).reshape((len(uniforms),) + grid)
    offsets = np.floor(uniforms[:, cells:] * (np.asarray(max_shift) + 1)).astype(np.int64)
    return MaskPlan(grids=grids, offsets=np.minimum(offsets, max_shift), image_size=size, upsample=upsample)


class MaskStream:
    """An endless, seeded stream of masks under one sampling design, cut into independent replicas.

    Every draw continues the stream, so the first ``n`` masks never depend on how many follow. The masks of each
    draw are split into ``replicas`` contiguous blocks of (nearly) equal size, one per replica; the replicas are
    statistically independent, which is what :mod:`drise_tf.explain.stability` needs to estimate a map's Monte Carlo
    error from the masks it already used.

    Designs (each mask is distributed exactly as an i.i.d. mask, so every design estimates the same map):

    - ``"iid"``: independent masks; the first draw equals :func:`plan_masks` with the same seed (the thesis).
    - ``"antithetic"``: pairs made from one uniform vector ``u`` per pair, cells ``u < p`` and ``1 - u < p`` (for
      p = 0.5 each mask's complement), same crop offset; a pair never straddles two replicas.
    - ``"sobol"``: scrambled Sobol points (:class:`scipy.stats.qmc.Sobol`) over the grid cells and the two offsets;
      each replica is its own scrambled sequence.
    - ``"latin"``: Latin hypercube points (:class:`scipy.stats.qmc.LatinHypercube`) over the cells and the offsets,
      a fresh one per replica and draw: every cell is kept in ``p`` of a replica's masks up to one.
    - ``"antithetic_sobol"``: antithetic pairs whose first masks are scrambled Sobol points (one sequence per
      replica, as in ``"sobol"``): the pairs cancel the even part of the score's response, the Sobol points balance
      its low-order part.

    Two different seeds share no random draw: replicas get their seeds from :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    grid_size, p, image_size, upsample, shift
        As in :func:`generate_masks`.
    sampling : {"iid", "antithetic", "sobol", "latin", "antithetic_sobol"}
        The design.
    replicas : int
        Number of independent replicas (>= 1).
    seed : int, numpy.random.Generator or None
        Same seed, same stream.
    """

    def __init__(
        self,
        grid_size: SizeLike,
        p: float,
        image_size: SizeLike,
        *,
        upsample: str = "nearest",
        shift: Optional[SizeLike] = None,
        sampling: str = "iid",
        replicas: int = 1,
        seed: SeedLike = None,
    ) -> None:
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) or replicas < 1:
            raise ValueError(f"replicas must be an int >= 1, got {replicas!r}")
        self.grid, self.image_size, self.max_shift = _check_design(grid_size, p, image_size, upsample, shift)
        self.p = float(p)
        self.upsample = upsample
        self.sampling = sampling
        self.replicas = int(replicas)
        self.drawn = 0
        self._rng = rng_from(seed)
        dimension = self.grid[0] * self.grid[1] + 2
        if sampling in ("sobol", "latin", "antithetic_sobol"):
            children = self._rng.spawn(self.replicas)
            if sampling in ("sobol", "antithetic_sobol"):
                self._engines = [scipy.stats.qmc.Sobol(dimension, scramble=True, seed=child) for child in children]
            else:
                self._engines = [np.random.default_rng(child) for child in children]

    @property
    def unit(self) -> int:
        """Masks that belong together (an antithetic pair: 2); draws and replica blocks are multiples of it."""
        return sampling_unit(self.sampling)

    def draw(self, n: int) -> Tuple[MaskPlan, np.ndarray]:
        """The next ``n`` masks of the stream and the replica (0 .. replicas-1) of each, int64 (n,).

        ``n`` must be a multiple of :attr:`unit` with at least one unit per replica.
        """
        if (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n % self.unit
                or n < self.unit * self.replicas):
            raise ValueError(f"n (masks per draw) must be a multiple of {self.unit} and >= {self.unit * self.replicas} "
                             f"({self.replicas} replicas of {self.sampling!r} masks), got {n!r}")
        units = np.diff(np.linspace(0, n // self.unit, self.replicas + 1).round().astype(np.int64))
        replica = np.repeat(np.arange(self.replicas), units * self.unit)
        if self.sampling == "iid":
            plan = plan_masks(int(n), self.grid, self.p, self.image_size, upsample=self.upsample,
                              shift=self.max_shift, seed=self._rng)
        else:
            plan = _plan_from_uniforms(self._uniforms(units), self.grid, self.p, self.max_shift, self.image_size,
                                       self.upsample)
        self.drawn += int(n)
        return plan, replica

    def _uniforms(self, units: np.ndarray) -> np.ndarray:
        """Points of the unit cube (n, cells + 2), replica by replica."""
        dimension = self.grid[0] * self.grid[1] + 2
        if self.sampling == "antithetic":
            return _mirrored(self._rng.random((int(units.sum()), dimension)))
        blocks = []
        for engine, count in zip(self._engines, units):
            if self.sampling == "latin":
                blocks.append(scipy.stats.qmc.LatinHypercube(dimension, seed=engine).random(int(count)))
                continue
            with warnings.catch_warnings():  # balance is best at powers of 2; any prefix stays unbiased
                warnings.simplefilter("ignore", UserWarning)
                points = engine.random(int(count))
            blocks.append(_mirrored(points) if self.sampling == "antithetic_sobol" else points)
        return np.concatenate(blocks)


def sampling_unit(sampling: str) -> int:
    """Masks that belong together under ``sampling``: 2 for the antithetic designs (a mask and its mirror), else 1."""
    return 2 if sampling in ("antithetic", "antithetic_sobol") else 1


def _mirrored(points: np.ndarray) -> np.ndarray:
    """Each point ``u`` (n, cells + 2) followed by its mirror ``1 - u`` over the cells, with ``u``'s crop offset."""
    pairs = np.stack([points, 1.0 - points], axis=1)  # (pairs, 2, d): a mask and its mirror, adjacent
    pairs[:, 1, -2:] = points[:, -2:]  # the mirror keeps its partner's crop offset
    return pairs.reshape(-1, points.shape[1])


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
