"""Model-randomisation sanity checks: the cascading check (Adebayo et al. 2018), where maps of a model whose layers
are re-initialised from the top should change, and its efficient form (eMPRT, Hedström et al. 2023), one fully
randomised model and the rise of the maps' complexity. A method whose maps do not change is not explaining the
model."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from scipy import stats

from drise_tf.core.compat import keras, variable_short_name
from drise_tf.metrics.agreement import _nanmean, rank_correlation


# ----------------------------------------------------------------------------------------- randomisation check
def _reinitialise(layer, rng: np.random.Generator) -> None:
    """Draw fresh values for every weight of ``layer`` from its own initialisers (seeded by ``rng``).

    A weight without a matching ``<name>_initializer`` attribute is randomly permuted instead.
    """
    for variable in layer.weights:
        current = np.asarray(variable.numpy())
        initializer = getattr(layer, f"{variable_short_name(variable)}_initializer", None)
        seed = int(rng.integers(0, 2**31 - 1))
        if isinstance(initializer, keras.initializers.Initializer):
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = seed
            value = np.asarray(type(initializer).from_config(config)(shape=current.shape))
        else:
            value = np.random.default_rng(seed).permutation(current.ravel()).reshape(current.shape)
        variable.assign(value.astype(current.dtype))


def randomization_check(
    model,
    images: np.ndarray,
    targets: np.ndarray,
    explain_fn: Callable,
    *,
    seed: int = 0,
    cascade: bool = True,
    layers: Optional[Sequence[str]] = None,
) -> List[dict]:
    """Model-randomisation sanity check (Adebayo et al. 2018) on a clone of ``model``.

    Layers with weights are re-initialised from the top (output) layer down, cumulatively (``cascade=True``) or one
    at a time from the trained weights (``cascade=False``); after each, ``explain_fn(clone, images, targets)`` is
    recomputed and compared with the maps of the trained model. A map that stays similar does not explain the model.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential model; never modified.
    images : np.ndarray
        Model-input images (B, H, W, C).
    targets : np.ndarray
        Class indices (B,), passed to ``explain_fn``.
    explain_fn : callable
        ``explain_fn(model, images, targets) -> maps (B, H, W)``.
    seed : int
        Seed of the re-initialisation.
    cascade : bool
        Cumulative (True) or independent (False) randomisation.
    layers : sequence of str or of sequences of str, optional
        The layers to randomise, in that order, one step each; an entry that is itself a list of names is
        randomised as one step (e.g. a whole residual stage, to keep a deep model's cascade short). Default: every
        layer with weights, top to bottom.

    Returns
    -------
    list of dict
        One row per step: ``step`` (0 = the clone with the trained weights, a check of the clone), ``layer`` (None
        at step 0), ``spearman`` and ``spearman_abs`` (mean over images of the rank correlation of the maps, and of
        their absolute values, with the trained model's maps).
    """
    layers_with_weights = [layer.name for layer in model.layers if layer.weights]
    if layers is None:
        layers = layers_with_weights[::-1]
    groups = [[entry] if isinstance(entry, str) else list(entry) for entry in layers]
    for name in (name for group in groups for name in group):
        if name not in layers_with_weights:
            raise ValueError(f"layers: {name!r} is not a layer with weights of the model; known: {layers_with_weights}")
    reference = _explain(explain_fn, model, images, targets)
    clone = _clone(model)
    trained = model.get_weights()
    rng = np.random.default_rng(seed)
    rows = [_compare(0, None, reference, _explain(explain_fn, clone, images, targets))]
    for step, group in enumerate(groups, start=1):
        if not cascade:
            clone.set_weights(trained)
        for name in group:
            _reinitialise(clone.get_layer(name), rng)
        label = group[0] if len(group) == 1 else f"{group[0]} .. {group[-1]}"
        rows.append(_compare(step, label, reference, _explain(explain_fn, clone, images, targets)))
    return rows


def _clone(model):
    """A copy of ``model`` with its trained weights (functional or Sequential models)."""
    try:
        clone = keras.models.clone_model(model)
    except Exception as error:  # subclassed models cannot be cloned
        raise ValueError(f"model cannot be cloned ({error}); use a functional or Sequential model") from error
    clone.set_weights(model.get_weights())
    return clone


def randomised_model(model, *, seed: int = 0):
    """A copy of ``model`` with EVERY layer's weights re-initialised (seeded), the fully randomised model of the
    efficient MPRT; ``model`` is never modified."""
    clone = _clone(model)
    rng = np.random.default_rng(seed)
    for layer in clone.layers[::-1]:
        if layer.weights:
            _reinitialise(layer, rng)
    return clone


def map_entropy(maps: np.ndarray, *, n_bins: int = 100) -> np.ndarray:
    """Discrete entropy (nats) of the histogram of each map's values, ``n_bins`` equal bins over the map's own
    range (so invariant to the map's scale and offset); 0 for a constant map."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 2:
        raise ValueError(f"maps must have shape (B, ...), got shape {maps.shape}")
    flat = maps.reshape(len(maps), -1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    spread = np.where(high > low, high - low, 1.0)
    bins = np.minimum((n_bins * (flat - low) / spread).astype(np.int64), n_bins - 1)
    counts = np.stack([np.bincount(row, minlength=n_bins) for row in bins]).astype(np.float64)
    return stats.entropy(counts, axis=1)


def efficient_mprt(maps: np.ndarray, randomised_maps: np.ndarray, *, n_bins: int = 100) -> Dict[str, np.ndarray]:
    """The efficient model-parameter-randomisation test (eMPRT, Hedström et al. 2023) of maps already computed on
    the trained model and on its fully randomised copy (:func:`randomised_model`).

    Returns
    -------
    dict
        ``complexity_ratio`` (B,): :func:`map_entropy` of the randomised model's map over the trained model's (the
        eMPRT score: above 1 the explanation lost structure with the model, as it should; exactly 1 for a map that
        ignores the model); ``spearman`` (B,): rank correlation of the two maps (MPRT's single-step similarity;
        1 for a map that ignores the model, lower is better); ``passed`` (B,): ``complexity_ratio > 1``.
    """
    maps = np.asarray(maps)
    randomised_maps = np.asarray(randomised_maps)
    if maps.shape != randomised_maps.shape or maps.ndim != 3:
        raise ValueError(
            f"maps and randomised_maps must both be (B, H, W), got {maps.shape} and {randomised_maps.shape}"
        )
    before = map_entropy(maps, n_bins=n_bins)
    after = map_entropy(randomised_maps, n_bins=n_bins)
    ratio = np.where(before > 0, after / np.where(before > 0, before, 1.0), np.where(after > 0, np.inf, 1.0))
    return {"complexity_ratio": ratio, "spearman": rank_correlation(maps, randomised_maps), "passed": ratio > 1}


def layer_groups(model) -> List[List[str]]:
    """Layers with weights grouped by name prefix (``stage4_block2_conv1`` -> ``stage4``), top group first.

    Made for :func:`randomization_check` on deep models: one cascade step per stage instead of per layer.
    """
    groups: Dict[str, List[str]] = {}
    for layer in model.layers:
        if layer.weights:
            groups.setdefault(layer.name.split("_")[0], []).append(layer.name)
    return [names[::-1] for names in reversed(list(groups.values()))]


def _explain(explain_fn: Callable, model, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    maps = np.asarray(explain_fn(model, images, targets))
    if maps.shape != np.shape(images)[:3]:
        raise ValueError(f"explain_fn must return maps of shape {np.shape(images)[:3]}, got shape {maps.shape}")
    return maps


def _compare(step: int, layer: Optional[str], reference: np.ndarray, maps: np.ndarray) -> dict:
    return {
        "step": step,
        "layer": layer,
        "spearman": _nanmean(rank_correlation(reference, maps)),
        "spearman_abs": _nanmean(rank_correlation(np.abs(reference), np.abs(maps))),
    }
