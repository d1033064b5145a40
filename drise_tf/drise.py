"""D-RISE for classifiers: random masks weighted by a similarity score, streamed through a compiled forward pass.

The saliency of image ``I`` is ``S = sum_i w_i M_i`` over ``N`` shared random masks ``M_i``, where ``w_i`` scores the
model's output on the masked image ``I * M_i`` against a target (one-hot label, full target vector, or the model's
output on the unmasked image, depending on the similarity). Masks are drawn once per :class:`DRise` (seeded) as a
small :class:`~drise_tf.masks.MaskPlan` and rendered one batch at a time; each batch of masked images goes through a
compiled ``tf.function`` that runs the forward pass, the score and the weighted sum (a matmul of scores with masks),
so memory is bounded by ``batch_size``, never by ``N``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from drise_tf import masks as masks_lib
from drise_tf import similarity as similarity_lib
from drise_tf._compat import keras
from drise_tf.core import sharding

TARGETS = ("true", "predicted")
NORMALIZATIONS = ("none", "np", "coverage", "debiased")
PRECISIONS = ("float32", "bfloat16")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _choice(value: Any, name: str, choices: Tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def bfloat16_copy(model: Any) -> Any:
    """A copy of a functional or Sequential ``model`` whose layers compute in bfloat16 (``mixed_bfloat16``).

    The layers producing the model's outputs stay float32 (numerically stable softmax); weights are copied. The
    user's model and the global dtype policy are left untouched.
    """
    config = model.get_config()
    if "layers" not in config:
        raise ValueError("precision='bfloat16' needs a functional or Sequential model (rebuilt from its config)")
    outputs = config.get("output_layers", [])
    if outputs and isinstance(outputs[0], str):  # Keras 3 writes a single output as [name, 0, 0]
        outputs = [outputs]
    output_names = {entry[0] for entry in outputs}
    if not output_names and config["layers"]:  # Sequential: the last layer makes the output
        output_names = {config["layers"][-1]["config"].get("name")}
    for layer in config["layers"]:
        layer_config = layer.get("config", {})
        if layer["class_name"] != "InputLayer" and layer_config.get("name") not in output_names and "dtype" in layer_config:
            layer_config["dtype"] = "mixed_bfloat16"
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone


class DRise:
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
        Thesis masks (binary, scipy zoom order 0) or RISE masks (smooth); see :func:`drise_tf.masks.generate_masks`.
    shift : int or (int, int), optional
        Largest random crop offset (default per ``upsample``; see :func:`drise_tf.masks.generate_masks`).
    similarity : str or Score
        A name from :func:`drise_tf.similarity.available` or a :class:`~drise_tf.similarity.Score`.
    target : {"true", "predicted"}
        ``"true"``: explain the ``targets`` given to :meth:`explain` (the predicted class when none are given);
        ``"predicted"``: always explain the class the model predicts on the unmasked image.
    normalization : {"none", "np", "coverage", "debiased"}
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
    """

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
        target: str = "true",
        normalization: str = "none",
        batch_size: int = 100,
        precision: str = "float32",
        seed: masks_lib.SeedLike = None,
        strategy: Optional[tf.distribute.Strategy] = None,
        progress: bool = False,
    ) -> None:
        if not isinstance(model, keras.Model):
            raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
        self.model = model
        self.n_masks = _positive_int(n_masks, "n_masks")
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 < p <= 1.0:
            raise ValueError(f"p (probability that a grid cell is kept) must lie in (0, 1], got {p!r}")
        self.p = float(p)
        self.grid_size = masks_lib.size_pair(grid_size, "grid_size")
        self.upsample = _choice(upsample, "upsample", masks_lib.UPSAMPLE_MODES)
        self.shift = shift
        self.score = similarity_lib.get(similarity)
        self.target = _choice(target, "target", TARGETS)
        self.normalization = _choice(normalization, "normalization", NORMALIZATIONS)
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.precision = _choice(precision, "precision", PRECISIONS)
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
        self.n_classes = int(model.output_shape[-1])
        self._plan: Optional[masks_lib.MaskPlan] = None
        self._forward_model: Any = None
        self._steps: dict = {}
        if None not in self._input_hw:
            self._ensure_plan(tuple(self._input_hw))

    # ----------------------------------------------------------------------------------------------- presets
    @classmethod
    def thesis(cls, model: Any, **overrides: Any) -> "DRise":
        """The thesis's D-RISE (SPEC 1.3): 5000 nearest 16x16 masks, p 0.5, offsets 0..2, cosine to the one-hot
        TRUE label, raw sum, chunks of 100."""
        settings = dict(n_masks=5000, grid_size=16, p=0.5, upsample="nearest", shift=None, similarity="cosine",
                        target="true", normalization="none", batch_size=100)
        settings.update(overrides)
        return cls(model, **settings)

    @classmethod
    def rise(cls, model: Any, **overrides: Any) -> "DRise":
        """RISE (Petsiuk et al. 2018): 4000 bilinear 7x7 masks, p 0.5, class probability, divided by N*p."""
        settings = dict(n_masks=4000, grid_size=7, p=0.5, upsample="bilinear", similarity="probability",
                        normalization="np")
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
        probs = tf.reshape(tf.cast(self._forward_model(masked, training=False), tf.float32), [-1, self.n_classes])
        scores = tf.stack([
            tf.reshape(score(probs, tf.reshape(tf.repeat(targets[index], masks_count, axis=0), [-1, self.n_classes])),
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
                tf.TensorSpec([len(scores_fns), None, self.n_classes], tf.float32),
            ])
        return self._steps[key]

    def _predict(self, images: np.ndarray) -> np.ndarray:
        model = self._model_for_forward()
        out = [np.asarray(tf.cast(model(images[i : i + self.batch_size], training=False), tf.float32))
               for i in range(0, len(images), self.batch_size)]
        return np.concatenate(out, axis=0)

    # ------------------------------------------------------------------------------------------------ inputs
    def _check_images(self, images: Any) -> np.ndarray:
        try:
            images = np.asarray(images, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise ValueError(f"images must be a numeric array, got {type(images).__name__}: {error}") from None
        if images.ndim == 3:
            images = images[np.newaxis]
        if images.ndim != 4:
            raise ValueError(f"images must have shape (B, H, W, C) or (H, W, C), got shape {images.shape}")
        if images.shape[0] == 0:
            raise ValueError("images is empty")
        if self._channels is not None and images.shape[3] != self._channels:
            raise ValueError(f"images have {images.shape[3]} channels but the model takes {self._channels}")
        for axis, expected in zip((1, 2), self._input_hw):
            if expected is not None and images.shape[axis] != expected:
                raise ValueError(f"images are {images.shape[1:3]} but the model takes {tuple(self._input_hw)}")
        if not np.all(np.isfinite(images)):
            raise ValueError("images contain NaN or infinite values")
        return images

    def _target_vectors(
        self, images: np.ndarray, targets: Any, scores_fns: Tuple[similarity_lib.Score, ...]
    ) -> np.ndarray:
        """Target vectors (S, B, classes) of each score: class vectors, or the unmasked output for "reference" scores."""
        count = len(images)
        if targets is not None:
            targets = np.asarray(targets)
            if targets.ndim == 0:
                targets = targets[np.newaxis]
            if targets.shape[0] != count:
                raise ValueError(f"targets has {targets.shape[0]} entries for {count} images")
        needs_reference = any(score.target_kind == "reference" for score in scores_fns)
        needs_classes = any(score.target_kind != "reference" for score in scores_fns)
        reference = None
        if needs_reference or (needs_classes and (self.target == "predicted" or targets is None)):
            reference = self._predict(images)
            if self.target == "predicted" or targets is None:
                targets = np.argmax(reference, axis=1)
        classes = self._class_vectors(targets) if needs_classes else None
        return np.stack([reference if score.target_kind == "reference" else classes for score in scores_fns])

    def _class_vectors(self, targets: np.ndarray) -> np.ndarray:
        if targets.ndim == 1:
            if not np.issubdtype(targets.dtype, np.integer):
                raise ValueError(f"class-index targets must be integers, got dtype {targets.dtype}")
            if targets.min() < 0 or targets.max() >= self.n_classes:
                raise ValueError(f"targets must be class indices in [0, {self.n_classes}), got {targets.tolist()}")
            return np.eye(self.n_classes, dtype=np.float32)[targets]
        if targets.ndim != 2 or targets.shape[1] != self.n_classes:
            raise ValueError(f"targets must be class indices (B,) or vectors (B, {self.n_classes}), got {targets.shape}")
        targets = targets.astype(np.float32)
        if not np.all(np.isfinite(targets)):
            raise ValueError("targets contain NaN or infinite values")
        return targets

    # ----------------------------------------------------------------------------------------------- explain
    def explain(
        self, images: Any, targets: Any = None, *, return_scores: bool = False
    ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Saliency maps of ``images`` for ``targets``.

        Parameters
        ----------
        images : array (B, H, W, C) or (H, W, C)
            In the model's input space (standardised).
        targets : array, optional
            Class indices (B,), or one-hot / full target vectors (B, classes). None: the predicted classes.
            Ignored by ``target="predicted"`` and by scores comparing with the unmasked output.
        return_scores : bool
            Also return the per-mask scores (B, N).

        Returns
        -------
        np.ndarray or (np.ndarray, np.ndarray)
            float32 maps (B, H, W), and the scores (B, N) float32 when ``return_scores``.
        """
        images = self._check_images(images)
        sums, score_sums, mask_sum, scores = self._accumulate(images, targets, (self.score,), return_scores)
        maps = self._normalize(sums[0], score_sums[0], mask_sum, self.normalization, images.shape[1:3])
        return (maps, scores[0]) if return_scores else maps

    def explain_scores(
        self,
        images: Any,
        targets: Any = None,
        *,
        similarities: Optional[Sequence[Union[str, similarity_lib.Score]]] = None,
        normalizations: Optional[Sequence[str]] = None,
    ) -> Dict[str, np.ndarray]:
        """Maps under several similarity scores and normalisations, from ONE set of forward passes.

        Same masks, images and targets as :meth:`explain`; every score is computed on the same masked outputs, so
        comparing K scores costs about as much as one :meth:`explain`.

        Parameters
        ----------
        images, targets
            As in :meth:`explain`.
        similarities : sequence of str or Score, optional
            Default: every registered score (:func:`drise_tf.similarity.available`).
        normalizations : sequence of str, optional
            Default: all of :data:`NORMALIZATIONS`.

        Returns
        -------
        dict
            ``"<score>/<normalization>"`` -> float32 maps (B, H, W).
        """
        images = self._check_images(images)
        names = similarity_lib.available() if similarities is None else list(similarities)
        if not names:
            raise ValueError("similarities must name at least one score")
        scores_fns = tuple(similarity_lib.get(name) for name in names)
        normalizations = NORMALIZATIONS if normalizations is None else tuple(normalizations)
        for normalization in normalizations:
            _choice(normalization, "normalizations", NORMALIZATIONS)
        sums, score_sums, mask_sum, _ = self._accumulate(images, targets, scores_fns, False)
        return {
            f"{score.name}/{normalization}": self._normalize(sums[index], score_sums[index], mask_sum, normalization,
                                                             images.shape[1:3])
            for index, score in enumerate(scores_fns)
            for normalization in normalizations
        }

    def _accumulate(
        self, images: np.ndarray, targets: Any, scores_fns: Tuple[similarity_lib.Score, ...], keep_scores: bool
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

    def _normalize(self, sums: np.ndarray, score_sums: np.ndarray, mask_sum: np.ndarray, normalization: str,
                   size: Tuple[int, int]) -> np.ndarray:
        """float32 maps (B, H, W) from the weighted sums (B, H*W) under ``normalization``."""
        if normalization == "np":
            maps = sums / (self.n_masks * self.p)
        elif normalization == "coverage":
            maps = np.divide(sums, mask_sum, out=np.zeros_like(sums), where=mask_sum > 0)
        elif normalization == "debiased":
            maps = sums - (score_sums / self.n_masks)[:, None] * mask_sum[None, :]
        else:
            maps = sums
        return maps.reshape(len(sums), *size).astype(np.float32)
