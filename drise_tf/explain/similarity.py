"""Similarity scores for D-RISE: how much of what is explained a masked image keeps.

A score maps the model's probabilities on a batch of masked images, ``probs`` [B, C], and a target, [C] or [B, C],
to one weight per masked image, [B]. It is written with TensorFlow ops, so it runs inside the explainer's compiled
``tf.function`` and also on numpy arrays (it then returns an eager tensor; ``np.asarray`` it).

Each score carries a one-line description, its direction (``higher_is_kept``: a higher score means the masked image
keeps what is being explained) and the kind of target it compares with: ``"label"`` (the one-hot or full target
vector of the explained class) or ``"reference"`` (the model's own probabilities on the unmasked image).

Add a score in a few lines::

    from drise_tf.explain import similarity

    @similarity.register("top2", description="p_t if t is in the top 2", higher_is_kept=True)
    def top2(probs, target):
        ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List

import tensorflow as tf

from drise_tf.core.registry import Registry

EPS = 1e-9
TARGET_KINDS = ("label", "reference")

_SCORES: "Registry[Score]" = Registry("similarity score")


@dataclass(frozen=True)
class Score:
    """A named, batched similarity score ``(probs [B, C], target [C] or [B, C]) -> [B]``."""

    name: str
    fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    description: str
    higher_is_kept: bool
    target_kind: str = "label"

    def __call__(self, probs: Any, target: Any) -> tf.Tensor:
        probs = tf.convert_to_tensor(probs, dtype=tf.float32)
        target = tf.convert_to_tensor(target, dtype=tf.float32)
        if probs.shape.rank != 2:
            raise ValueError(f"similarity {self.name!r}: probs must have shape [B, C], got {probs.shape}")
        if target.shape.rank == 1:
            target = target[tf.newaxis, :]
        if target.shape.rank != 2:
            raise ValueError(f"similarity {self.name!r}: target must have shape [C] or [B, C], got {target.shape}")
        target = tf.broadcast_to(target, tf.shape(probs))
        return self.fn(probs, target)


def register(
    name: str, *, description: str, higher_is_kept: bool, target_kind: str = "label", overwrite: bool = False
) -> Callable[[Callable[[tf.Tensor, tf.Tensor], tf.Tensor]], Score]:
    """Decorator: register ``fn(probs [B, C], target [B, C]) -> [B]`` as a :class:`Score` named ``name``.

    The decorated name becomes the :class:`Score`. ``target`` is already broadcast to [B, C] and float32.
    """
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind must be one of {TARGET_KINDS}, got {target_kind!r}")
    if not isinstance(higher_is_kept, bool):
        raise ValueError(f"higher_is_kept must be True or False, got {higher_is_kept!r}")

    def wrap(fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> Score:
        score = Score(name, fn, description, higher_is_kept, target_kind)
        _SCORES.register(name, score, overwrite=overwrite)
        return score

    return wrap


def get(name: str | Score) -> Score:
    """The score registered as ``name`` (a :class:`Score` is returned as is); unknown names list the known ones."""
    if isinstance(name, Score):
        return name
    return _SCORES.get(name)


def available() -> List[str]:
    """Names of the registered scores, sorted."""
    return _SCORES.available()


def _cosine(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    dot = tf.reduce_sum(a * b, axis=-1)
    return dot / (tf.norm(a, axis=-1) * tf.norm(b, axis=-1) + EPS)


def _target_probability(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(probs * target, axis=-1)


def _kl(p: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(p * (tf.math.log(p + EPS) - tf.math.log(q + EPS)), axis=-1)


@register("cosine", description="cosine between probabilities and the target vector (thesis; one-hot: p_t/||p||)",
          higher_is_kept=True)
def cosine(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return _cosine(probs, target)


@register("cross_entropy", description="raw -sum(t log(p + 1e-9)) as the thesis used it: HIGH when the class is LOST "
          "(inverted map)", higher_is_kept=False)
def cross_entropy(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_sum(target * tf.math.log(probs + EPS), axis=-1)


@register("neg_cross_entropy", description="log-likelihood sum(t log(p + 1e-9)): cross-entropy, corrected direction",
          higher_is_kept=True)
def neg_cross_entropy(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(target * tf.math.log(probs + EPS), axis=-1)


@register("probability", description="probability of the target class, sum(t p) (RISE)", higher_is_kept=True)
def probability(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return _target_probability(probs, target)


@register("margin", description="p_t minus the largest other probability, t = argmax(target)", higher_is_kept=True)
def margin(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    classes = tf.shape(probs)[-1]
    is_target = tf.one_hot(tf.argmax(target, axis=-1), classes) > 0.5
    p_t = tf.reduce_max(tf.where(is_target, probs, tf.fill(tf.shape(probs), -1.0)), axis=-1)
    other = tf.reduce_max(tf.where(is_target, tf.fill(tf.shape(probs), -1.0), probs), axis=-1)
    return p_t - other


@register("cosine_prediction", description="cosine to the unmasked image's own probabilities (D-RISE class term)",
          higher_is_kept=True, target_kind="reference")
def cosine_prediction(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return _cosine(probs, target)


@register("kl", description="exp(-KL(reference || p)): 1 when the output is unchanged, towards 0 as it drifts",
          higher_is_kept=True, target_kind="reference")
def kl(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    return tf.exp(-_kl(target, probs))


@register("js", description="1 - JS(reference, p) / log 2, in [0, 1]: 1 when the output is unchanged",
          higher_is_kept=True, target_kind="reference")
def js(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    middle = 0.5 * (probs + target)
    divergence = 0.5 * _kl(target, middle) + 0.5 * _kl(probs, middle)
    return 1.0 - divergence / tf.math.log(2.0)
