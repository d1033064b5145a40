"""D-RISE for classifiers: random masks weighted by a similarity score, streamed through a compiled forward pass.

The saliency of image ``I`` is ``S = sum_i w_i M_i`` over ``N`` shared random masks ``M_i``, where ``w_i`` scores the
model's output on the masked image ``I * M_i`` against a target (one-hot label, full target vector, or the model's
output on the unmasked image, depending on the similarity). Masks come from a seeded
:class:`~drise_tf.explain.masks.MaskStream` (i.i.d. as in the thesis, or a variance-reduced design) and are rendered
one batch at a time; each batch of masked images goes through a compiled ``tf.function`` that runs the forward pass,
the score and the weighted sum (a matmul of scores with masks), so memory is bounded by ``batch_size``, never by ``N``.

The masks are cut into independent replicas and the sums are kept per replica, so every map also gets its Monte Carlo
error from the forward passes it already made (:mod:`drise_tf.explain.stability`): an estimate of its two-seed
Spearman agreement, and a per-pixel standard error. With ``target_stability`` the explainer draws more masks for each
image until that estimate reaches the target.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from drise_tf.core import checks, sharding
from drise_tf.core.compat import keras
from drise_tf.explain import masks as masks_lib
from drise_tf.explain import similarity as similarity_lib
from drise_tf.explain import stability as stability_lib
from drise_tf.explain.base import (
    Explainer,
    check_images,
    normalize_maps,
    register_explainer,
)
from drise_tf.explain.model_copies import forward_copy

AGGREGATIONS = ("none", "np", "coverage", "debiased")
PRECISIONS = ("float32", "bfloat16")
#: The options that say what a map estimates (its mask design and its score); every other option of :class:`DRise`
#: says how it is run (how many masks, in which order, batches, precision, seed, replicas, devices).
DESIGN_OPTIONS = ("grid_size", "upsample", "p", "shift", "similarity", "aggregation")
#: The thesis's D-RISE (:meth:`DRise.thesis`; docs/thesis.md, "Its D-RISE").
THESIS_PRESET: Dict[str, Any] = dict(n_masks=5000, grid_size=16, p=0.5, upsample="nearest", shift=None,
                                     similarity="cosine", aggregation="none", sampling="iid", batch_size=100)
#: RISE (:meth:`DRise.rise`; Petsiuk et al. 2018); its shift is the default of bilinear masks.
RISE_PRESET: Dict[str, Any] = dict(n_masks=4000, grid_size=7, p=0.5, upsample="bilinear", shift=None,
                                   similarity="probability", aggregation="np", sampling="iid")
#: The thesis's mask design alone (grid, upsampling, keep probability, shift): the design of the evaluation's score
#: rows and of the comparisons' D-RISE rows, whatever :class:`DRise`'s default design is.
THESIS_MASKS: Dict[str, Any] = {key: THESIS_PRESET[key] for key in ("grid_size", "upsample", "p", "shift")}
#: The recommended D-RISE (:meth:`DRise.recommended`, and :class:`DRise`'s default): the design that the declared
#: design sweep chose as faithful, stable and fast (docs/design-sweep.md), in rounds of ``RECOMMENDED_ROUND``
#: antithetic Sobol masks until an estimated two-seed Spearman of ``RECOMMENDED_STABILITY``, at most
#: ``RECOMMENDED_MAX_MASKS`` masks.
RECOMMENDED_PRESET: Dict[str, Any] = dict(grid_size=12, p=0.5, upsample="bilinear", shift=None,
                                          similarity="probability", aggregation="np", sampling="antithetic_sobol")
RECOMMENDED_ROUND = 1000
RECOMMENDED_STABILITY = 0.9
RECOMMENDED_MAX_MASKS = 40000




@dataclass
class ReplicaSums:
    """What D-RISE accumulates per image and mask replica; every map, its stability and its error derive from it.

    Attributes
    ----------
    weighted : np.ndarray float64 (S, B, R, H*W)
        Sum of score x mask, per score, image and replica.
    scores : np.ndarray float64 (S, B, R)
        Sum of the scores.
    masks : np.ndarray float64 (B, R, H*W)
        Sum of the masks each image used.
    counts : np.ndarray float64 (B, R)
        Number of masks each image used.
    """

    weighted: np.ndarray
    scores: np.ndarray
    masks: np.ndarray
    counts: np.ndarray

    @classmethod
    def zeros(cls, scores: int, images: int, replicas: int, pixels: int) -> "ReplicaSums":
        return cls(np.zeros((scores, images, replicas, pixels)), np.zeros((scores, images, replicas)),
                   np.zeros((images, replicas, pixels)), np.zeros((images, replicas)))

    def combine(self, score: int, groups: np.ndarray, images: Any = slice(None)) -> "ReplicaSums":
        """Sums over groups of replicas, ``groups`` (K, R) of 0/1: one score's sums with K "replicas"."""
        return ReplicaSums(
            np.einsum("brp,kr->bkp", self.weighted[score, images], groups)[np.newaxis],
            np.einsum("br,kr->bk", self.scores[score, images], groups)[np.newaxis],
            np.einsum("brp,kr->bkp", self.masks[images], groups),
            np.einsum("br,kr->bk", self.counts[images], groups),
        )


def aggregate(sums: ReplicaSums, aggregation: str, p: float, scale_masks: int) -> np.ndarray:
    """Maps (B, R, H*W) of the first score of ``sums`` under ``aggregation``.

    ``none``: the raw sum; ``np``: divided by N*p; ``coverage``: divided per pixel by the mask sum; ``debiased``: the
    raw sum minus the mean score times the mask sum. Raw and debiased sums grow with N: they are reported per
    ``scale_masks`` masks (times ``scale_masks / N``), so maps from different N share one scale and a map from
    exactly ``scale_masks`` masks is the plain sum.
    """
    weighted, counts = sums.weighted[0], sums.counts[..., np.newaxis]
    if aggregation == "np":
        return weighted / (counts * p)
    if aggregation == "coverage":
        return np.divide(weighted, sums.masks, out=np.zeros_like(weighted), where=sums.masks > 0)
    if aggregation == "debiased":
        weighted = weighted - sums.scores[0][..., np.newaxis] / counts * sums.masks
    return weighted * (scale_masks / counts)


class DRise(Explainer):
    """D-RISE explainer for a Keras classifier whose output is a probability vector.

    By default the recommended design (:data:`RECOMMENDED_PRESET`, :meth:`recommended`), each map run to an estimated
    two-seed Spearman of 0.9; :meth:`thesis` and :meth:`rise` are the thesis's D-RISE and RISE.

    Parameters
    ----------
    model : keras.Model
        Takes standardised images (B, H, W, C), returns probabilities (B, classes).
    n_masks : int, optional
        Number of random masks N (>= 1); with ``target_stability``, the masks drawn per round (the first check
        comes after ``n_masks`` masks). None (default): rounds of 1,000 masks to the default stability.
    grid_size : int or (int, int)
        Grid of the random masks (16 in the thesis).
    p : float
        Probability that a grid cell is kept, in (0, 1].
    upsample : {"nearest", "bilinear"}
        Thesis masks (binary, scipy zoom order 0) or RISE masks (smooth); see
        :func:`drise_tf.explain.masks.generate_masks`.
    shift : int or (int, int), optional
        Largest random crop offset (default per ``upsample``; see :func:`drise_tf.explain.masks.generate_masks`).
    similarity : str or Score
        A name from :func:`drise_tf.explain.similarity.available` or a :class:`~drise_tf.explain.similarity.Score`.
    aggregation : {"none", "np", "coverage", "debiased"}
        How the weighted mask sum becomes the map (:func:`aggregate`): ``none``: the raw sum (thesis); ``np``:
        divided by N*p (RISE); ``coverage``: divided per pixel by how many masks kept it; ``debiased``: the sum minus
        the mean score times the per-pixel mask sum.
    sampling : {"iid", "antithetic", "sobol", "latin", "antithetic_sobol"}
        Mask design (:class:`~drise_tf.explain.masks.MaskStream`); every design estimates the same map, the
        variance-reduced ones with less Monte Carlo noise. "iid" is the thesis's.
    replicas : int
        Independent mask replicas behind the stability estimate and the standard error (>= 2 for those; fewer
        are used when ``n_masks`` is smaller); 1 keeps a single sum and gives no error estimate.
    target_stability : float, None or "auto"
        Adaptive stopping: draw rounds of ``n_masks`` masks for each image until its estimated two-seed Spearman
        (:mod:`drise_tf.explain.stability`) reaches this value in (0, 1), or ``max_masks`` is reached.
        :attr:`masks_used` tells how many masks each image used. None: exactly ``n_masks`` masks. "auto" (default):
        0.9 when ``n_masks`` is not given, and exactly ``n_masks`` masks when it is.
    max_masks : int, optional
        Most masks an image may use with ``target_stability`` (default: 40,000 when ``n_masks`` is not given, else
        20 x ``n_masks``); rounds are whole.
    batch_size : int
        Masked images per forward pass; bounds the memory.
    precision : {"float32", "bfloat16"}
        Forward passes in float32, or in bfloat16, on a working copy with BatchNormalization folded into its
        convolutions (same function up to float rounding).
    seed : int, numpy.random.Generator or None
        Seed of the masks; same seed, same masks, same maps.
    strategy : tf.distribute.Strategy, optional
        Spread every forward batch over the strategy's replicas (default: the active strategy, if any).
    progress : bool
        Show a progress bar over the mask batches (with ``target_stability``: over the rounds, with the median
        stability of the images still running).
    normalize : {"none", "minmax"}
        Rescaling of each finished map (:class:`~drise_tf.explain.base.Explainer`), after the aggregation.

    :meth:`explain` (from :class:`~drise_tf.explain.base.Explainer`) takes class indices (B,), target vectors
    (B, classes), "predicted" or None (the predicted class); ``return_scores=True`` adds the per-mask scores (B, N)
    and ``return_stability=True`` the estimated two-seed Spearman of each map (B,). Scores of kind "reference"
    compare with the unmasked output and ignore targets. After each call, :attr:`masks_used` (B,) holds the masks
    each image used and :attr:`standard_error` (B, H, W) the per-pixel standard error of each map.
    """

    extra_returns = ("return_scores", "return_stability")
    accepts_target_vectors = True

    def __init__(
        self,
        model: Any,
        *,
        n_masks: Optional[int] = None,
        grid_size: masks_lib.SizeLike = RECOMMENDED_PRESET["grid_size"],
        p: float = RECOMMENDED_PRESET["p"],
        upsample: str = RECOMMENDED_PRESET["upsample"],
        shift: Optional[masks_lib.SizeLike] = RECOMMENDED_PRESET["shift"],
        similarity: Union[str, similarity_lib.Score] = RECOMMENDED_PRESET["similarity"],
        aggregation: str = RECOMMENDED_PRESET["aggregation"],
        sampling: str = RECOMMENDED_PRESET["sampling"],
        replicas: int = 8,
        target_stability: Union[float, None, str] = "auto",
        max_masks: Optional[int] = None,
        batch_size: int = 100,
        precision: str = "float32",
        seed: masks_lib.SeedLike = None,
        strategy: Optional[tf.distribute.Strategy] = None,
        progress: bool = False,
        normalize: str = "none",
    ) -> None:
        if not isinstance(model, keras.Model):
            raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
        super().__init__(model, normalize=normalize)
        if target_stability == "auto":
            target_stability = RECOMMENDED_STABILITY if n_masks is None else None
        if max_masks is None and n_masks is None:
            max_masks = RECOMMENDED_MAX_MASKS
        self.n_masks = checks.positive_int(RECOMMENDED_ROUND if n_masks is None else n_masks, "n_masks")
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 < p <= 1.0:
            raise ValueError(f"p (probability that a grid cell is kept) must lie in (0, 1], got {p!r}")
        self.p = float(p)
        self.grid_size = masks_lib.size_pair(grid_size, "grid_size")
        self.upsample = checks.one_of(upsample, "upsample", masks_lib.UPSAMPLE_MODES)
        self.shift = shift
        self.score = similarity_lib.get(similarity)
        self.aggregation = checks.one_of(aggregation, "aggregation", AGGREGATIONS)
        self.sampling = checks.one_of(sampling, "sampling", masks_lib.SAMPLINGS)
        unit = masks_lib.sampling_unit(self.sampling)
        if self.n_masks % unit:
            raise ValueError(f"n_masks must be even for {self.sampling} sampling (masks come in pairs), got {n_masks}")
        self.replicas = min(checks.positive_int(replicas, "replicas"), self.n_masks // unit)
        if target_stability is not None and (
            isinstance(target_stability, bool) or not isinstance(target_stability, (int, float, np.floating))
            or not 0.0 < target_stability < 1.0
        ):
            raise ValueError(f"target_stability must be None, \"auto\" or lie in (0, 1), got {target_stability!r}")
        self.target_stability = None if target_stability is None else float(target_stability)
        if self.target_stability is not None and self.replicas < 2:
            raise ValueError(f"target_stability needs >= 2 mask replicas, got replicas={replicas} and "
                             f"n_masks={n_masks}")
        self.max_masks = 20 * self.n_masks if max_masks is None else checks.positive_int(max_masks, "max_masks")
        if self.max_masks < self.n_masks:
            raise ValueError(f"max_masks ({self.max_masks}) must be >= n_masks ({self.n_masks})")
        self.batch_size = checks.positive_int(batch_size, "batch_size")
        self.precision = checks.one_of(precision, "precision", PRECISIONS)
        self._seed = seed
        if strategy is None and tf.distribute.has_strategy():
            strategy = tf.distribute.get_strategy()
        if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
            raise ValueError(f"strategy must be a tf.distribute.Strategy or None, got {type(strategy).__name__}")
        self.strategy = strategy
        self.progress = bool(progress)
        #: Masks each image of the last call used, int64 (B,).
        self.masks_used: Optional[np.ndarray] = None
        #: Per-pixel standard error of each map of the last :meth:`explain` call, float32 (B, H, W) (after
        #: ``normalize``); :meth:`explain_scores` stores a dict per variant.
        self.standard_error: Any = None
        #: The independent replica maps behind each map of the last :meth:`explain` call, float32 (B, R, H, W), each
        #: from its N/R masks on the full map's scale (after ``normalize``, rescaled as the map is); their mean is
        #: about the map, their spread gives :attr:`standard_error` (R = 1: the map itself). :meth:`explain_scores`
        #: stores a dict per variant. Kept from the forward passes the maps made: no extra model call.
        self.replica_maps: Any = None

        input_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
        if input_shape is None or len(input_shape) != 4:
            raise ValueError(f"model must take one image input (B, H, W, C), got input_shape {model.input_shape}")
        self._input_hw = input_shape[1:3]
        self._channels = input_shape[3]
        self._stream: Optional[masks_lib.MaskStream] = None
        self._rounds: List[Tuple[masks_lib.MaskPlan, np.ndarray]] = []
        self._forward_model: Any = None
        self._steps: dict = {}
        if None not in self._input_hw:
            self._round(0, tuple(self._input_hw))

    # ----------------------------------------------------------------------------------------------- presets
    @classmethod
    def thesis(cls, model: Any, **overrides: Any) -> "DRise":
        """The thesis's D-RISE (docs/thesis.md, "Its D-RISE"): 5000 i.i.d. nearest 16x16 masks, p 0.5, offsets
        0..2, cosine to the one-hot TRUE label, raw sum, chunks of 100."""
        return cls(model, **{**THESIS_PRESET, **overrides})

    @classmethod
    def recommended(cls, model: Any, **overrides: Any) -> "DRise":
        """The recommended D-RISE, also :class:`DRise`'s default (docs/design-sweep.md): bilinear 12x12 masks, p 0.5,
        class probability divided by N*p, antithetic Sobol masks in rounds of 1,000 until an estimated two-seed
        Spearman of 0.9, at most 40,000."""
        return cls(model, **overrides)

    @classmethod
    def rise(cls, model: Any, **overrides: Any) -> "DRise":
        """RISE (Petsiuk et al. 2018): 4000 bilinear 7x7 masks, p 0.5, class probability, divided by N*p."""
        return cls(model, **{**RISE_PRESET, **overrides})

    # ------------------------------------------------------------------------------------------------- masks
    def _round(self, index: int, image_size: Tuple[int, int]) -> Tuple[masks_lib.MaskPlan, np.ndarray]:
        """Round ``index`` of ``n_masks`` masks (drawn once, shared by every call) and the replica of each mask."""
        if self._stream is None:
            self._stream = masks_lib.MaskStream(self.grid_size, self.p, image_size, upsample=self.upsample,
                                                shift=self.shift, sampling=self.sampling, replicas=self.replicas,
                                                seed=self._seed)
        elif self._stream.image_size != tuple(image_size):
            raise ValueError(f"images are {tuple(image_size)} but this DRise's masks are {self._stream.image_size}")
        while len(self._rounds) <= index:
            self._rounds.append(self._stream.draw(self.n_masks))
        return self._rounds[index]

    @property
    def masks(self) -> np.ndarray:
        """Every mask drawn so far, float32 (N, H, W) (the first ``n_masks`` unless ``target_stability`` drew more;
        rendered on access, :meth:`explain` renders one batch at a time)."""
        if not self._rounds:
            raise ValueError("the model has no fixed input size: call explain() once before reading masks")
        return np.concatenate([plan.render() for plan, _ in self._rounds])

    # ------------------------------------------------------------------------------------------- forward pass
    def _model_for_forward(self) -> Any:
        """The forward-only working copy (made once): BatchNormalization folded into its convolutions, in bfloat16
        when asked (:func:`~drise_tf.explain.model_copies.forward_copy`; softmax within ~1e-6 of the model's in
        float32, 1.6x faster at ResNet-18 width 8: benchmarks/forward_copies.py)."""
        if self._forward_model is None:
            if self.strategy is not None:
                with self.strategy.scope():
                    self._forward_model = forward_copy(self.model, self.precision)
            else:
                self._forward_model = forward_copy(self.model, self.precision)
        return self._forward_model

    def _local_step(
        self, scores_fns: Tuple[similarity_lib.Score, ...], images: tf.Tensor, masks: tf.Tensor,
        membership: tf.Tensor, targets: tf.Tensor,
    ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per replica, the weighted sums (S, g, R, H*W) and score sums (S, g, R); and the scores (S, g, m) of
        every (score, image, mask).

        ``membership`` (m, R) is 1 where a mask belongs to a replica (all 0 for a padding mask); ``targets`` is
        (S, g, classes): each score's target vectors. One forward pass serves every score.
        """
        shape = tf.shape(images)
        groups, masks_count = shape[0], tf.shape(masks)[0]
        masked = images[:, tf.newaxis] * masks[tf.newaxis, :, :, :, tf.newaxis]
        masked = tf.reshape(masked, tf.concat([[-1], shape[1:]], axis=0))
        probs = tf.reshape(tf.cast(self._forward_model(masked, training=False), tf.float32), [-1, self.num_classes])
        scores = tf.stack([
            tf.reshape(score(probs, tf.reshape(tf.repeat(targets[index], masks_count, axis=0), [-1, self.num_classes])),
                       [groups, masks_count])
            for index, score in enumerate(scores_fns)
        ])
        weighted = scores[:, :, tf.newaxis, :] * tf.transpose(membership)[tf.newaxis, tf.newaxis]  # (S, g, R, m)
        flat_masks = tf.reshape(masks, [masks_count, -1])
        partial = tf.reshape(tf.matmul(tf.reshape(weighted, [-1, masks_count]), flat_masks),
                             [len(scores_fns), groups, self.replicas, -1])
        return partial, tf.reduce_sum(weighted, axis=-1), scores

    def _distributed_step(
        self, scores_fns: Tuple[similarity_lib.Score, ...], images: tf.Tensor, masks: tf.Tensor,
        membership: tf.Tensor, targets: tf.Tensor,
    ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """:meth:`_local_step` with the masks split over the replicas, none of them empty (padding masks weigh 0);
        the sums are all-reduced, so every worker holds the same sums."""
        strategy = self.strategy

        def replica_fn() -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            context = tf.distribute.get_replica_context()
            replica, replicas = context.replica_id_in_sync_group, context.num_replicas_in_sync
            shard, real = sharding.replica_shard(masks, replica, replicas)
            member, _ = sharding.replica_shard(membership, replica, replicas)
            return self._local_step(scores_fns, images, shard, member * real[:, tf.newaxis], targets)

        partial, score_sums, scores = strategy.run(replica_fn)
        partial = strategy.reduce(tf.distribute.ReduceOp.SUM, partial, axis=None)
        score_sums = strategy.reduce(tf.distribute.ReduceOp.SUM, score_sums, axis=None)
        scores = tf.concat(strategy.experimental_local_results(scores), axis=2)
        return partial, score_sums, scores[:, :, : tf.shape(masks)[0]]

    def _step(self, height: int, width: int, channels: int, scores_fns: Tuple[similarity_lib.Score, ...]):
        """The compiled step for this image size and these scores."""
        key = (height, width, channels, scores_fns)
        if key not in self._steps:
            self._model_for_forward()
            body = self._local_step if self.strategy is None else self._distributed_step
            self._steps[key] = tf.function(functools.partial(body, scores_fns), input_signature=[
                tf.TensorSpec([None, height, width, channels], tf.float32),
                tf.TensorSpec([None, height, width], tf.float32),
                tf.TensorSpec([None, self.replicas], tf.float32),
                tf.TensorSpec([len(scores_fns), None, self.num_classes], tf.float32),
            ])
        return self._steps[key]

    def _predict(self, images: np.ndarray) -> np.ndarray:
        model = self._model_for_forward()
        out = [np.asarray(tf.cast(model(images[i : i + self.batch_size], training=False), tf.float32))
               for i in range(0, len(images), self.batch_size)]
        return np.concatenate(out, axis=0)

    # ------------------------------------------------------------------------------------------------ targets
    def predicted(self, images: np.ndarray, batch_size: Optional[int] = None) -> np.ndarray:
        """Predicted class of each image, from the forward copy D-RISE uses (BatchNormalization folded; float32 or
        bfloat16)."""
        return self._predict(images).argmax(axis=1)

    def _target_vectors(
        self, images: np.ndarray, targets: np.ndarray, scores_fns: Tuple[similarity_lib.Score, ...]
    ) -> np.ndarray:
        """Target vectors (S, B, classes) of each score: the class vectors of checked ``targets`` (indices or
        vectors), or the unmasked output for scores of kind "reference"."""
        reference = self._predict(images) if any(s.target_kind == "reference" for s in scores_fns) else None
        classes = np.eye(self.num_classes, dtype=np.float32)[targets] if targets.ndim == 1 else targets
        return np.stack([reference if score.target_kind == "reference" else classes for score in scores_fns])

    # ----------------------------------------------------------------------------------------------- explain
    def _explain(self, images: np.ndarray, targets: np.ndarray, return_scores: bool = False,
                 return_stability: bool = False) -> Any:
        """Maps (B, H, W) under this D-RISE's score and aggregation, then the per-mask scores (B, N) and the
        stabilities (B,) as asked (:meth:`Explainer.explain` is the public entry)."""
        variant = (0, self.aggregation)
        sums, scores, stability = self._accumulate(images, targets, (self.score,), return_scores, [variant],
                                                   return_stability)
        maps = self._maps(sums, *variant, images.shape[1:3])
        self.replica_maps, self.standard_error = self._replica_estimates(sums, *variant, maps)
        extras = ([scores[0]] if return_scores else []) + ([stability[variant]] if return_stability else [])
        return (maps, *extras) if extras else maps

    def explain_scores(
        self,
        images: Any,
        targets: Any = None,
        *,
        similarities: Optional[Sequence[Union[str, similarity_lib.Score]]] = None,
        aggregations: Optional[Sequence[str]] = None,
        return_scores: bool = False,
        return_stability: bool = False,
    ) -> Union[Dict[str, np.ndarray], Tuple[Dict[str, np.ndarray], ...]]:
        """Maps under several similarity scores and aggregations, from ONE set of forward passes.

        Same masks, images and targets as :meth:`explain`; every score is computed on the same masked outputs, so
        comparing K scores costs about as much as one :meth:`explain`. ``normalize`` applies to every map. With
        ``target_stability``, an image stops when every requested variant reached the target.

        Parameters
        ----------
        images, targets
            As in :meth:`explain`.
        similarities : sequence of str or Score, optional
            Default: every registered score (:func:`drise_tf.explain.similarity.available`).
        aggregations : sequence of str, optional
            Default: all of :data:`AGGREGATIONS`.
        return_scores : bool
            Also return each score's per-mask scores, ``"<score>"`` -> float32 (B, N) in the order of
            :attr:`masks` (NaN beyond an image's :attr:`masks_used`).
        return_stability : bool
            Also return each variant's estimated two-seed Spearman per image.

        Returns
        -------
        dict, or a tuple of dicts
            ``"<score>/<aggregation>"`` -> float32 maps (B, H, W); then, as asked, the scores and
            ``"<score>/<aggregation>"`` -> float64 stabilities (B,). :attr:`standard_error` becomes the dict of
            per-pixel standard errors, :attr:`replica_maps` the dict of replica maps.
        """
        images = check_images(images, self.model)
        targets = self.resolve_targets(images, targets)
        names = similarity_lib.available() if similarities is None else list(similarities)
        if not names:
            raise ValueError("similarities must name at least one score")
        scores_fns = tuple(similarity_lib.get(name) for name in names)
        aggregations = AGGREGATIONS if aggregations is None else tuple(aggregations)
        for aggregation in aggregations:
            checks.one_of(aggregation, "aggregations", AGGREGATIONS)
        variants = {f"{score.name}/{aggregation}": (index, aggregation)
                    for index, score in enumerate(scores_fns) for aggregation in aggregations}
        sums, scores, stability = self._accumulate(images, targets, scores_fns, return_scores,
                                                   list(variants.values()), return_stability)
        maps, replica_maps, errors = {}, {}, {}
        for name, variant in variants.items():
            raw = self._maps(sums, *variant, images.shape[1:3])
            replica_maps[name], errors[name] = self._replica_estimates(sums, *variant, raw)
            maps[name] = normalize_maps(raw, self.normalize)
        self.replica_maps, self.standard_error = replica_maps, errors
        extras = ([{score.name: scores[index] for index, score in enumerate(scores_fns)}] if return_scores else []) + (
            [{name: stability[variant] for name, variant in variants.items()}] if return_stability else [])
        return (maps, *extras) if extras else maps

    # -------------------------------------------------------------------------------------- sums and estimates
    def _accumulate(
        self, images: np.ndarray, targets: np.ndarray, scores_fns: Tuple[similarity_lib.Score, ...],
        keep_scores: bool, variants: List[Tuple[int, str]], want_stability: bool,
    ) -> Tuple[ReplicaSums, Optional[np.ndarray], Optional[Dict[Tuple[int, str], np.ndarray]]]:
        """Stream the mask rounds through the model: the replica sums of every image, the scores (S, B, N) (NaN
        beyond an image's :attr:`masks_used`) and each variant's final stability (B,) (None unless adaptive or
        ``want_stability``).

        One round of ``n_masks`` masks without ``target_stability``; with it, rounds until each image's stability
        (the lowest over ``variants``) reaches the target or the next round would pass ``max_masks``; an image's
        stability is the one of its last round, its sums do not change after it.
        """
        count, height, width, channels = images.shape
        target_vectors = self._target_vectors(images, targets, scores_fns)
        step = self._step(height, width, channels, scores_fns)
        sums = ReplicaSums.zeros(len(scores_fns), count, self.replicas, height * width)
        adaptive = self.target_stability is not None
        rounds = self.max_masks // self.n_masks if adaptive else 1
        scores_out = np.full((len(scores_fns), count, rounds * self.n_masks), np.nan, dtype=np.float32) \
            if keep_scores else None
        bar = keras.utils.Progbar(rounds, stateful_metrics=["masks", "running", "median stability"]) \
            if self.progress and adaptive else None
        stability = {variant: np.empty(count) for variant in variants} if adaptive or want_stability else None
        active = np.arange(count)
        for index in range(rounds):
            plan, replica = self._round(index, (height, width))
            self._run_round(step, plan, replica, images, target_vectors, active, sums,
                            None if scores_out is None else scores_out[..., index * self.n_masks :])
            if stability is not None:
                for variant in variants:
                    stability[variant][active] = self._stability(sums, *variant, images=active)
            if not adaptive:
                break
            lowest = np.min([stability[variant][active] for variant in variants], axis=0)
            if bar is not None:
                bar.update(index + 1, values=[("masks", (index + 1) * self.n_masks), ("running", len(active)),
                                              ("median stability", float(np.median(lowest)))])
            active = active[lowest < self.target_stability]
            if len(active) == 0:
                break
        if bar is not None and index + 1 < rounds:
            bar.update(rounds, finalize=True)
        self.masks_used = sums.counts.sum(axis=1).round().astype(np.int64)
        return sums, None if scores_out is None else scores_out[..., : self.masks_used.max()], stability

    def _run_round(
        self, step: Any, plan: masks_lib.MaskPlan, replica: np.ndarray, images: np.ndarray,
        target_vectors: np.ndarray, active: np.ndarray, sums: ReplicaSums, scores_out: Optional[np.ndarray],
    ) -> None:
        """Add one round of masks to the sums of the ``active`` images."""
        group = min(len(active), self.batch_size)
        per_batch = max(1, self.batch_size // group)
        starts = range(0, len(plan), per_batch)
        membership = np.eye(self.replicas, dtype=np.float32)[replica]
        bar = keras.utils.Progbar(len(starts) * math.ceil(len(active) / group)) \
            if self.progress and self.target_stability is None else None
        for first in range(0, len(active), group):
            chunk = active[first : first + group]
            # this group's sums over the round, contiguous, added to ``sums`` once at the end (adding every step's
            # (S, g, R, H*W) through the index array ``chunk`` took a third of the evaluation's time at width 32)
            weighted = np.zeros((sums.weighted.shape[0], len(chunk), *sums.weighted.shape[2:]))
            score_sums = np.zeros((sums.scores.shape[0], len(chunk), sums.scores.shape[2]))
            for start in starts:
                batch = plan.render(start, start + per_batch)
                if first == 0:
                    flat = batch.reshape(len(batch), -1).astype(np.float64)
                    mask_sums = membership[start : start + per_batch].T.astype(np.float64) @ flat  # (R, H*W)
                    sums.masks[active] += mask_sums
                    sums.counts[active] += membership[start : start + per_batch].sum(axis=0)
                partial, step_score_sums, scores = step(images[chunk], batch, membership[start : start + per_batch],
                                                        target_vectors[:, chunk])
                weighted += partial.numpy()
                score_sums += step_score_sums.numpy()
                if scores_out is not None:
                    scores_out[:, chunk, start : start + len(batch)] = scores.numpy()
                if bar is not None:
                    bar.add(1)
            sums.weighted[:, chunk] += weighted
            sums.scores[:, chunk] += score_sums

    def _maps(self, sums: ReplicaSums, score: int, aggregation: str, size: Tuple[int, int]) -> np.ndarray:
        """float32 maps (B, H, W) of every image: all replicas together."""
        whole = sums.combine(score, np.ones((1, self.replicas)))
        return aggregate(whole, aggregation, self.p, self.n_masks)[:, 0].reshape(-1, *size).astype(np.float32)

    def _replica_estimates(self, sums: ReplicaSums, score: int, aggregation: str,
                           maps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The replica maps (B, R, H, W) behind ``maps`` (raw, (B, H, W)) and their per-pixel standard error
        (B, H, W), both float32 and rescaled as ``normalize`` rescales the maps; the error is NaN with a single
        replica."""
        replica_maps = aggregate(sums.combine(score, np.eye(self.replicas)), aggregation, self.p, self.n_masks)
        replica_maps = replica_maps.reshape(len(maps), self.replicas, *maps.shape[1:])
        error = stability_lib.replica_standard_error(replica_maps) if self.replicas >= 2 \
            else np.full(maps.shape, np.nan)
        if self.normalize == "minmax":
            low = maps.min(axis=(1, 2), keepdims=True)
            span = maps.max(axis=(1, 2), keepdims=True) - low
            error = np.divide(error, span, out=error * 0.0, where=span > 0)  # a constant map: 0 (NaN stays NaN)
            replica_maps = np.divide(replica_maps - low[:, np.newaxis], span[:, np.newaxis],
                                     out=np.zeros_like(replica_maps), where=span[:, np.newaxis] > 0)
        return replica_maps.astype(np.float32), error.astype(np.float32)

    def _stability(self, sums: ReplicaSums, score: int, aggregation: str, images: Any = slice(None)) -> np.ndarray:
        """Estimated two-seed Spearman (B,) of the maps of ``images``, from half and quarter maps of the replicas
        (:func:`drise_tf.explain.stability.split_design`, :func:`~drise_tf.explain.stability.extrapolate`)."""
        if self.replicas < 2:
            raise ValueError(f"a stability estimate needs >= 2 mask replicas; this DRise has {self.replicas} "
                             f"(replicas and n_masks={self.n_masks})")

        design = stability_lib.split_design(self.replicas)
        parts = sums.combine(score, design.groups, images)
        ranks = stability_lib.unit_ranks(aggregate(parts, aggregation, self.p, self.n_masks))
        quarters = len(design.quarters) > 0
        return stability_lib.extrapolate(
            stability_lib.pair_pearson(ranks, design.halves),
            stability_lib.pair_pearson(ranks, design.quarters) if quarters else None,
            sums.counts[images].sum(axis=1), parts.counts[:, design.halves].mean(axis=(1, 2)),
            parts.counts[:, design.quarters].mean(axis=(1, 2)) if quarters else None)


register_explainer("drise", DRise)
register_explainer("rise", DRise.rise)
