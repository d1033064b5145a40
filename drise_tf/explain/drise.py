"""D-RISE for classifiers: random masks weighted by a similarity score, streamed through a compiled forward pass.

The saliency of image ``I`` is ``S = sum_i w_i M_i`` over ``N`` shared random masks ``M_i``, where ``w_i`` scores the
model's output on the masked image ``I * M_i`` against a target (one-hot label, full target vector, or the model's
output on the unmasked image, depending on the similarity). Masks are drawn once per :class:`DRise` (seeded) as a
small :class:`~drise_tf.explain.masks.MaskPlan` and rendered one batch at a time; each batch of masked images goes through a
compiled ``tf.function`` that runs the forward pass, the score and the weighted sum (a matmul of scores with masks),
so memory is bounded by ``batch_size``, never by ``N``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from drise_tf.core import checks, sharding
from drise_tf.core.compat import keras
from drise_tf.explain import masks as masks_lib
from drise_tf.explain import similarity as similarity_lib
from drise_tf.explain.base import (
    Explainer,
    check_images,
    normalize_maps,
    register_explainer,
)
from drise_tf.explain.model_copies import bfloat16_copy

AGGREGATIONS = ("none", "np", "coverage", "debiased")
PRECISIONS = ("float32", "bfloat16")


class DRise(Explainer):
    """D-RISE explainer for a Keras classifier whose output is a probability vector.

    Parameters
    ----------
    model : keras.Model
        Takes standardised images (B, H, W, C), returns probabilities (B, classes).
    n_masks : int
        Number of random masks N (>= 1).
    grid_size : int or (int, int)
        Grid of the random masks (16 in the thesis).
    p : float
        Probability that a grid cell is kept, in (0, 1].
    upsample : {"nearest", "bilinear"}
        Thesis masks (binary, scipy zoom order 0) or RISE masks (smooth); see :func:`drise_tf.explain.masks.generate_masks`.
    shift : int or (int, int), optional
        Largest random crop offset (default per ``upsample``; see :func:`drise_tf.explain.masks.generate_masks`).
    similarity : str or Score
        A name from :func:`drise_tf.explain.similarity.available` or a :class:`~drise_tf.explain.similarity.Score`.
    aggregation : {"none", "np", "coverage", "debiased"}
        How the weighted mask sum becomes the map:
        ``none``: the raw sum (thesis); ``np``: divided by N*p (RISE); ``coverage``: divided per pixel by how many
        masks kept it; ``debiased``: the sum minus the mean score times the per-pixel mask sum.
    batch_size : int
        Masked images per forward pass; bounds the memory.
    precision : {"float32", "bfloat16"}
        Forward passes in float32, or on a bfloat16 copy of the model.
    seed : int, numpy.random.Generator or None
        Seed of the masks; same seed, same masks, same maps.
    strategy : tf.distribute.Strategy, optional
        Spread every forward batch over the strategy's replicas (default: the active strategy, if any).
    progress : bool
        Show a progress bar over the mask batches.
    normalize : {"none", "minmax"}
        Rescaling of each finished map (:class:`~drise_tf.explain.base.Explainer`), after the aggregation.

    :meth:`explain` (from :class:`~drise_tf.explain.base.Explainer`) takes class indices (B,), target vectors
    (B, classes), "predicted" or None (the predicted class), and ``return_scores=True`` to return the per-mask
    scores (B, N) after the maps. Scores of kind "reference" compare with the unmasked output and ignore targets.
    """

    extra_returns = ("return_scores",)
    accepts_target_vectors = True

    def __init__(
        self,
        model: Any,
        *,
        n_masks: int = 5000,
        grid_size: Union[int, Tuple[int, int]] = 16,
        p: float = 0.5,
        upsample: str = "nearest",
        shift: Optional[Union[int, Tuple[int, int]]] = None,
        similarity: Union[str, similarity_lib.Score] = "cosine",
        aggregation: str = "none",
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
        self.n_masks = checks.positive_int(n_masks, "n_masks")
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 < p <= 1.0:
            raise ValueError(f"p (probability that a grid cell is kept) must lie in (0, 1], got {p!r}")
        self.p = float(p)
        self.grid_size = masks_lib.size_pair(grid_size, "grid_size")
        self.upsample = checks.one_of(upsample, "upsample", masks_lib.UPSAMPLE_MODES)
        self.shift = shift
        self.score = similarity_lib.get(similarity)
        self.aggregation = checks.one_of(aggregation, "aggregation", AGGREGATIONS)
        self.batch_size = checks.positive_int(batch_size, "batch_size")
        self.precision = checks.one_of(precision, "precision", PRECISIONS)
        self._rng = masks_lib.rng_from(seed)
        if strategy is None and tf.distribute.has_strategy():
            strategy = tf.distribute.get_strategy()
        if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
            raise ValueError(f"strategy must be a tf.distribute.Strategy or None, got {type(strategy).__name__}")
        self.strategy = strategy
        self.progress = bool(progress)

        input_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
        if input_shape is None or len(input_shape) != 4:
            raise ValueError(f"model must take one image input (B, H, W, C), got input_shape {model.input_shape}")
        self._input_hw = input_shape[1:3]
        self._channels = input_shape[3]
        self._plan: Optional[masks_lib.MaskPlan] = None
        self._forward_model: Any = None
        self._steps: dict = {}
        if None not in self._input_hw:
            self._ensure_plan(tuple(self._input_hw))

    # ----------------------------------------------------------------------------------------------- presets
    @classmethod
    def thesis(cls, model: Any, **overrides: Any) -> "DRise":
        """The thesis's D-RISE (docs/thesis.md, "Its D-RISE"): 5000 nearest 16x16 masks, p 0.5, offsets 0..2, cosine to the one-hot
        TRUE label, raw sum, chunks of 100."""
        settings = dict(n_masks=5000, grid_size=16, p=0.5, upsample="nearest", shift=None, similarity="cosine",
                        aggregation="none", batch_size=100)
        settings.update(overrides)
        return cls(model, **settings)

    @classmethod
    def rise(cls, model: Any, **overrides: Any) -> "DRise":
        """RISE (Petsiuk et al. 2018): 4000 bilinear 7x7 masks, p 0.5, class probability, divided by N*p."""
        settings = dict(n_masks=4000, grid_size=7, p=0.5, upsample="bilinear", similarity="probability",
                        aggregation="np")
        settings.update(overrides)
        return cls(model, **settings)

    # ------------------------------------------------------------------------------------------------- masks
    def _ensure_plan(self, image_size: Tuple[int, int]) -> masks_lib.MaskPlan:
        if self._plan is None:
            self._plan = masks_lib.plan_masks(self.n_masks, self.grid_size, self.p, image_size,
                                              upsample=self.upsample, shift=self.shift, seed=self._rng)
        elif self._plan.image_size != tuple(image_size):
            raise ValueError(f"images are {tuple(image_size)} but this DRise's masks are {self._plan.image_size}")
        return self._plan

    @property
    def masks(self) -> np.ndarray:
        """The shared masks, float32 (N, H, W) (rendered on access; :meth:`explain` renders one batch at a time)."""
        if self._plan is None:
            raise ValueError("the model has no fixed input size: call explain() once before reading masks")
        return self._plan.render()

    # ------------------------------------------------------------------------------------------- forward pass
    def _model_for_forward(self) -> Any:
        if self._forward_model is None:
            if self.precision == "bfloat16":
                if self.strategy is not None:
                    with self.strategy.scope():
                        self._forward_model = bfloat16_copy(self.model)
                else:
                    self._forward_model = bfloat16_copy(self.model)
            else:
                self._forward_model = self.model
        return self._forward_model

    def _local_step(
        self, scores_fns: Tuple[similarity_lib.Score, ...], images: tf.Tensor, masks: tf.Tensor, targets: tf.Tensor,
        mask_weights: Optional[tf.Tensor] = None,
    ) -> Tuple[tf.Tensor, tf.Tensor]:
        """Scores (S, g, m) of every (score, image, mask) and the partial weighted sums (S, g, H*W).

        ``targets`` is (S, g, classes): each score's target vectors. One forward pass serves every score.
        ``mask_weights`` (m,) multiplies each mask's scores in the sum (0 for a replica's padding masks).
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
        flat_masks = tf.reshape(masks, [masks_count, -1])
        weighted = scores if mask_weights is None else scores * mask_weights
        partial = tf.reshape(tf.matmul(tf.reshape(weighted, [-1, masks_count]), flat_masks),
                             [len(scores_fns), groups, -1])
        return partial, scores

    def _distributed_step(
        self, scores_fns: Tuple[similarity_lib.Score, ...], images: tf.Tensor, masks: tf.Tensor, targets: tf.Tensor
    ) -> Tuple[tf.Tensor, tf.Tensor]:
        """:meth:`_local_step` with the masks split over the replicas, none of them empty (padding masks weigh 0)."""
        strategy = self.strategy

        def replica_fn() -> Tuple[tf.Tensor, tf.Tensor]:
            context = tf.distribute.get_replica_context()
            shard, real = sharding.replica_shard(masks, context.replica_id_in_sync_group, context.num_replicas_in_sync)
            return self._local_step(scores_fns, images, shard, targets, real)

        partial, scores = strategy.run(replica_fn)
        partial = strategy.reduce(tf.distribute.ReduceOp.SUM, partial, axis=None)
        scores = tf.concat(strategy.experimental_local_results(scores), axis=2)
        return partial, scores[:, :, : tf.shape(masks)[0]]

    def _step(self, height: int, width: int, channels: int, scores_fns: Optional[Tuple[similarity_lib.Score, ...]] = None):
        """The compiled step for this image size and these scores (default: the engine's own score)."""
        scores_fns = (self.score,) if scores_fns is None else scores_fns
        key = (height, width, channels, scores_fns)
        if key not in self._steps:
            self._model_for_forward()
            body = self._local_step if self.strategy is None else self._distributed_step
            self._steps[key] = tf.function(functools.partial(body, scores_fns), input_signature=[
                tf.TensorSpec([None, height, width, channels], tf.float32),
                tf.TensorSpec([None, height, width], tf.float32),
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
        """Predicted class of each image, from the forward model D-RISE uses (float32 or its bfloat16 copy)."""
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
    def _explain(self, images: np.ndarray, targets: np.ndarray, return_scores: bool = False) -> Any:
        """Maps (B, H, W) under this D-RISE's score and aggregation; with ``return_scores`` also the per-mask
        scores (B, N) (:meth:`Explainer.explain` is the public entry: ``explain(images, targets, return_scores=True)``)."""
        sums, score_sums, mask_sum, scores = self._accumulate(images, targets, (self.score,), return_scores)
        maps = self._aggregate(sums[0], score_sums[0], mask_sum, self.aggregation, images.shape[1:3])
        return (maps, scores[0]) if return_scores else maps

    def explain_scores(
        self,
        images: Any,
        targets: Any = None,
        *,
        similarities: Optional[Sequence[Union[str, similarity_lib.Score]]] = None,
        aggregations: Optional[Sequence[str]] = None,
    ) -> Dict[str, np.ndarray]:
        """Maps under several similarity scores and aggregations, from ONE set of forward passes.

        Same masks, images and targets as :meth:`explain`; every score is computed on the same masked outputs, so
        comparing K scores costs about as much as one :meth:`explain`. ``normalize`` applies to every map.

        Parameters
        ----------
        images, targets
            As in :meth:`explain`.
        similarities : sequence of str or Score, optional
            Default: every registered score (:func:`drise_tf.explain.similarity.available`).
        aggregations : sequence of str, optional
            Default: all of :data:`AGGREGATIONS`.

        Returns
        -------
        dict
            ``"<score>/<aggregation>"`` -> float32 maps (B, H, W).
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
        sums, score_sums, mask_sum, _ = self._accumulate(images, targets, scores_fns, False)
        return {
            f"{score.name}/{aggregation}": normalize_maps(
                self._aggregate(sums[index], score_sums[index], mask_sum, aggregation, images.shape[1:3]),
                self.normalize)
            for index, score in enumerate(scores_fns)
            for aggregation in aggregations
        }

    def _accumulate(
        self, images: np.ndarray, targets: np.ndarray, scores_fns: Tuple[similarity_lib.Score, ...], keep_scores: bool
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Stream the mask batches: weighted sums (S, B, H*W), score sums (S, B), mask sum (H*W), scores (S, B, N)."""
        count, height, width, channels = images.shape
        plan = self._ensure_plan((height, width))
        target_vectors = self._target_vectors(images, targets, scores_fns)
        step = self._step(height, width, channels, scores_fns)

        group = min(count, self.batch_size)
        per_batch = max(1, self.batch_size // group)
        starts = range(0, self.n_masks, per_batch)
        sums = np.zeros((len(scores_fns), count, height * width), dtype=np.float64)
        score_sums = np.zeros((len(scores_fns), count), dtype=np.float64)
        mask_sum = np.zeros(height * width, dtype=np.float64)
        scores_out = np.zeros((len(scores_fns), count, self.n_masks), dtype=np.float32) if keep_scores else None
        bar = keras.utils.Progbar(len(starts) * math.ceil(count / group)) if self.progress else None
        for first in range(0, count, group):
            chunk = slice(first, first + group)
            for start in starts:
                batch = plan.render(start, start + per_batch)
                if first == 0:
                    mask_sum += batch.reshape(len(batch), -1).sum(axis=0, dtype=np.float64)
                partial, scores = step(images[chunk], batch, target_vectors[:, chunk])
                sums[:, chunk] += partial.numpy()
                scores = scores.numpy()
                score_sums[:, chunk] += scores.sum(axis=2, dtype=np.float64)
                if scores_out is not None:
                    scores_out[:, chunk, start : start + len(batch)] = scores
                if bar is not None:
                    bar.add(1)
        return sums, score_sums, mask_sum, scores_out

    def _aggregate(self, sums: np.ndarray, score_sums: np.ndarray, mask_sum: np.ndarray, aggregation: str,
                   size: Tuple[int, int]) -> np.ndarray:
        """float32 maps (B, H, W) from the weighted sums (B, H*W) under ``aggregation``."""
        if aggregation == "np":
            maps = sums / (self.n_masks * self.p)
        elif aggregation == "coverage":
            maps = np.divide(sums, mask_sum, out=np.zeros_like(sums), where=mask_sum > 0)
        elif aggregation == "debiased":
            maps = sums - (score_sums / self.n_masks)[:, None] * mask_sum[None, :]
        else:
            maps = sums
        return maps.reshape(len(sums), *size).astype(np.float32)


register_explainer("drise", DRise)
register_explainer("rise", DRise.rise)
