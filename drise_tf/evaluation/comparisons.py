"""Comparisons that build and run explainers: D-RISE's similarity scores x aggregations, D-RISE against the other
methods, and the cascading sanity check of every method.

Every method runs its own preset unless the caller names that method's options. The shared D-RISE options of a
comparison reach every masking method only as far as they say how a map is run (:data:`SHARED_OPTIONS`: N, mask
order, seed, batches, precision, stopping, replicas, devices); what a map estimates (its mask design and score,
:data:`drise_tf.explain.drise.DESIGN_OPTIONS`) they set for the D-RISE rows only, so that a RISE row is RISE
(:data:`drise_tf.explain.drise.RISE_PRESET`). A method's own options win, and a row whose design differs from its
preset says so in its name (:func:`method_label`, e.g. ``"RISE 16x16"``).

The maps are measured by :func:`drise_tf.metrics.compare` (a :class:`~drise_tf.metrics.comparison.Comparison`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from drise_tf import explain
from drise_tf.explain import masks as masks_lib
from drise_tf.explain.drise import (
    AGGREGATIONS,
    DESIGN_OPTIONS,
    RECOMMENDED_PRESET,
    RISE_PRESET,
    THESIS_MASKS,
    THESIS_PRESET,
    DRise,
)
from drise_tf.metrics.comparison import Comparison, compare
from drise_tf.metrics.randomisation import randomization_check

#: The methods compared with D-RISE by default: display name -> (explainer name, options).
DEFAULT_METHODS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "D-RISE cosine (thesis)": ("drise", {"similarity": "cosine", "aggregation": "none"}),
    "D-RISE probability": ("drise", {"similarity": "probability", "aggregation": "debiased"}),
    # the design sweep's choice (docs/design-sweep.md), DRise's default, beside the thesis's
    "D-RISE recommended": ("drise", {key: RECOMMENDED_PRESET[key] for key in DESIGN_OPTIONS}),
    "RISE": ("rise", {}),
    "Saliency": ("saliency", {}),
    "SmoothGrad": ("smoothgrad", {}),
    "Grad-CAM": ("gradcam", {}),
    "Grad-CAM++": ("gradcam++", {}),
    "Faster-Score-CAM": ("faster_scorecam", {}),
}
#: The D-RISE rows' masks unless the caller names others: the thesis's design, N and sampling (the rows' preset,
#: :data:`MASKING_PRESETS`), whatever :class:`~drise_tf.explain.drise.DRise`'s default is.
THESIS_COMPARED: Dict[str, Any] = {**THESIS_MASKS, **{key: THESIS_PRESET[key] for key in ("n_masks", "sampling")}}
#: The masking rows beside the thesis's D-RISE that the model-randomisation check leaves out (each D-RISE map costs
#: its masks once per cascade step, so the thesis's D-RISE stands for the family).
EXTRA_MASKING_ROWS = ("D-RISE probability", "D-RISE recommended", "RISE")
#: Methods with a random step: the comparison passes them its ``seed``.
SEEDED_METHODS = ("drise", "rise", "smoothgrad")
#: The masking methods and the preset each row is compared with: a row whose design differs says so in its name.
#: D-RISE rows name their score themselves ("D-RISE probability"), so only their mask design is compared.
MASKING_PRESETS: Dict[str, Mapping[str, Any]] = {"drise": THESIS_PRESET, "rise": RISE_PRESET}
#: Options of :class:`~drise_tf.explain.drise.DRise` that say how a map is run, not what it estimates: the shared
#: D-RISE options of a comparison pass these to every masking method (the others set the D-RISE rows only).
SHARED_OPTIONS = ("n_masks", "sampling", "seed", "batch_size", "precision", "target_stability", "max_masks",
                  "replicas", "strategy", "progress")
#: The design options a D-RISE row's label states (its display name states its score).
_DRISE_LABELLED = ("grid_size", "upsample", "p", "shift")


def method_options(name: str, options: Mapping[str, Any], seed: int, drise_options: Mapping[str, Any]) -> dict:
    """Options of one method in a comparison.

    D-RISE (``"drise"``) takes every shared D-RISE option over the thesis's masks (:data:`THESIS_COMPARED`: its
    preset, not :class:`~drise_tf.explain.drise.DRise`'s default); the other masking methods (RISE) only the
    :data:`SHARED_OPTIONS`, so they keep their own preset's design; a method with a random step the ``seed``; and
    the method's own ``options`` win over all of them.
    """
    if name == "drise":
        shared = {**THESIS_COMPARED, **drise_options}
    elif name in MASKING_PRESETS:
        shared = {key: value for key, value in drise_options.items() if key in SHARED_OPTIONS}
    else:
        shared = {}
    if name in SEEDED_METHODS:
        shared["seed"] = seed
    return {**shared, **options}


def _design(settings: Mapping[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    """The design options ``keys`` of ``settings`` in one spelling (grid and shift as pairs, scores by name)."""
    design: Dict[str, Any] = {}
    for key in keys:
        value = settings.get(key)
        if key == "grid_size" or (key == "shift" and value is not None):
            value = masks_lib.size_pair(value, key, minimum=0 if key == "shift" else 1)
        elif key == "similarity":
            value = getattr(value, "name", value)
        elif key == "p":
            value = float(value)
        design[key] = value
    return design


def _pair(value: Tuple[int, int], joiner: str) -> str:
    return str(value[0]) if value[0] == value[1] else f"{value[0]}{joiner}{value[1]}"


def method_label(display: str, name: str, options: Mapping[str, Any]) -> str:
    """The name of a comparison row: ``display``, followed by its design where it differs from its method's preset
    (:data:`MASKING_PRESETS`), briefly: e.g. ``"RISE 16x16"``, ``"RISE 7x7 nearest"``, ``"RISE p 0.3"``,
    ``"RISE cosine/none"``, ``"D-RISE probability 8x8, shift 2"``.

    Parameters
    ----------
    display : str
        The row's display name (a D-RISE row's names its score).
    name : str
        Explainer name; methods without a preset (gradient and CAM methods) keep ``display``.
    options : dict
        The options the explainer is made with (:func:`method_options`).
    """
    preset = MASKING_PRESETS.get(name)
    if preset is None:
        return display
    keys = _DRISE_LABELLED if name == "drise" else DESIGN_OPTIONS
    wanted, used = _design(preset, keys), _design({**preset, **options}, keys)
    parts: List[str] = []
    if used["grid_size"] != wanted["grid_size"] or used["upsample"] != wanted["upsample"]:
        grid, upsample = used["grid_size"], used["upsample"]
        parts.append(f"{grid[0]}x{grid[1]}" + (f" {upsample}" if upsample != wanted["upsample"] else ""))
    if used["p"] != wanted["p"]:
        parts.append(f"p {used['p']:g}")
    if used["shift"] != wanted["shift"]:
        parts.append("shift default" if used["shift"] is None else f"shift {_pair(used['shift'], 'x')}")
    if name != "drise" and (used["similarity"], used["aggregation"]) != (wanted["similarity"], wanted["aggregation"]):
        parts.append(f"{used['similarity']}/{used['aggregation']}")
    design = ", ".join(parts)
    return display if not design or display.endswith(design) else f"{display} {design}"


def _rows(methods: Mapping[str, Tuple[str, Dict[str, Any]]], seed: int,
          drise_options: Mapping[str, Any]) -> List[Tuple[str, str, dict]]:
    """(label, explainer name, options) of every method, the labels distinct."""
    rows = []
    for display, (name, options) in methods.items():
        options = method_options(name, options, seed, drise_options)
        rows.append((method_label(display, name, options), name, options))
    labels = [label for label, _, _ in rows]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two methods have the same name once their designs are stated: {labels}")
    return rows


def similarity_comparison(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    similarities: Optional[Sequence[str]] = None,
    aggregations: Sequence[str] = AGGREGATIONS,
    step: Optional[int] = None,
    **drise_options: Any,
) -> Comparison:
    """D-RISE maps under every similarity score and aggregation, from ONE set of forward passes.

    Parameters
    ----------
    model : keras.Model
        The explained model.
    images : np.ndarray
        Model-input images (B, H, W, C).
    targets : np.ndarray
        True class indices (B,).
    similarities : sequence of str, optional
        Score names (default: every registered score, :func:`drise_tf.explain.similarity.available`).
    aggregations : sequence of str
        Aggregations to compare (default: all of :data:`drise_tf.explain.drise.AGGREGATIONS`).
    step : int, optional
        Pixels per deletion / insertion step.
    **drise_options
        Passed to :class:`drise_tf.explain.drise.DRise` (``n_masks``, ``grid_size``, ``p``, ``batch_size``,
        ``precision``, ``seed``, ...); ``target_stability`` (with ``max_masks``) runs every variant to that two-seed
        Spearman instead of a fixed N (an image stops when all variants reached it).

    Returns
    -------
    Comparison
        Names are ``"<score>/<aggregation>"``; with each variant's estimated two-seed Spearman per image.
    """
    drise = DRise(model, **{**THESIS_COMPARED, **drise_options})
    maps, stability = drise.explain_scores(images, targets, similarities=similarities, aggregations=aggregations,
                                           return_stability=True)
    return compare(model, images, maps, step=step, stability=stability,
                   masks_used={name: drise.masks_used for name in maps})


def method_comparison(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None,
    step: Optional[int] = None,
    seed: int = 0,
    scored: Optional[Comparison] = None,
    **drise_options: Any,
) -> Comparison:
    """D-RISE variants against RISE, saliency, SmoothGrad and the CAM methods on the same images and targets.

    Parameters
    ----------
    methods : dict, optional
        Display name -> (explainer name, options); default :data:`DEFAULT_METHODS`.
    seed : int
        Seed of every method with a random step (masks, SmoothGrad noise): same seed, same maps.
    scored : Comparison, optional
        A :func:`similarity_comparison` of the same images and targets with the same ``seed`` and D-RISE options (the
        caller's promise: a :class:`~drise_tf.metrics.Comparison` does not hold them):
        a D-RISE row that differs from its masks only by its score and aggregation takes that comparison's map
        (``"<score>/<aggregation>"``, with its stability and masks) instead of drawing the same masks again. With
        ``target_stability`` such a map ran until every variant of ``scored`` reached it: it is at least as stable.
    **drise_options
        Shared D-RISE options (``n_masks``, ``grid_size``, ``p``, ``precision``, ``batch_size``; ``target_stability``
        and ``max_masks`` for a fixed stability instead of a fixed N): the design options set the D-RISE rows only,
        the others (:data:`SHARED_OPTIONS`) every masking method (see :func:`method_options`).

    Returns
    -------
    Comparison
        Named by :func:`method_label`.
    """
    methods = DEFAULT_METHODS if methods is None else methods
    known = {} if scored is None else _scored_rows(scored, methods, seed, drise_options)
    maps, stability, masks_used = explain_methods(model, images, targets, methods=methods, seed=seed, progress=True,
                                                  known=known, **drise_options)
    return compare(model, images, maps, step=step, stability=stability, masks_used=masks_used)


#: The options by which D-RISE maps drawn from the same masks differ.
_SCORE_OPTIONS = ("similarity", "aggregation")


def _scored_rows(scored: Comparison, methods: Mapping[str, Tuple[str, Dict[str, Any]]], seed: int,
                 drise_options: Mapping[str, Any]) -> Dict[str, Tuple[np.ndarray, ...]]:
    """Label -> (maps, stability, masks used) of ``scored`` for every D-RISE row of ``methods`` that differs from
    the masks of a :func:`similarity_comparison` with ``seed`` and ``drise_options`` only by its score and
    aggregation."""
    masks = {key: value for key, value in method_options("drise", {}, seed, drise_options).items()
             if key not in _SCORE_OPTIONS}
    known = {}
    for label, name, options in _rows(methods, seed, drise_options):
        if name != "drise" or not all(key in options for key in _SCORE_OPTIONS):
            continue
        variant = f"{getattr(options['similarity'], 'name', options['similarity'])}/{options['aggregation']}"
        same_masks = {key: value for key, value in options.items() if key not in _SCORE_OPTIONS} == masks
        if same_masks and variant in scored.maps:
            known[label] = (scored.maps[variant], scored.stability[variant], scored.masks_used[variant])
    return known


def explain_methods(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Mapping[str, Tuple[str, Dict[str, Any]]],
    seed: int = 0,
    progress: bool = False,
    known: Optional[Mapping[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]] = None,
    **drise_options: Any,
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """The maps of several methods on the same images and targets, with what is known of their Monte Carlo noise.

    Parameters
    ----------
    methods : dict
        Display name -> (explainer name, options).
    seed : int
        Seed of every method with a random step (masks, SmoothGrad noise): same seed, same maps.
    progress : bool
        Print a line as each method is done.
    known : dict, optional
        Label (:func:`method_label`) -> (maps, stability, masks used) of rows already explained on these images
        with these options: taken as they are, not explained again.
    **drise_options
        Shared D-RISE options (see :func:`method_comparison` and :func:`method_options`).

    Returns
    -------
    (maps, stability, masks_used)
        Name (:func:`method_label`) -> maps (B, H, W); name -> per-image two-seed Spearman (estimated for the masking
        methods, 1 for deterministic methods, absent where unknown); name -> masks behind each map (masking methods).
    """
    maps, stability, masks_used = {}, {}, {}
    known = dict(known or {})
    rows = _rows(methods, seed, drise_options)
    unknown = set(known) - {label for label, _, _ in rows}
    if unknown:
        raise ValueError(f"known names rows that methods does not have: {sorted(unknown)}")
    for label, name, options in rows:
        if label in known:
            maps[label], stability[label], masks_used[label] = known[label]
            if progress:
                print(f"[compare] {label}: taken from the same masks' scores", flush=True)
            continue
        explainer = explain.make_explainer(name, model, **options)
        if "return_stability" in explainer.extra_returns:
            maps[label], stability[label] = explainer.explain(images, targets, return_stability=True)
            masks_used[label] = explainer.masks_used
        else:
            maps[label] = explainer.explain(images, targets)
            if name not in SEEDED_METHODS:  # deterministic: a second run gives the same map
                stability[label] = np.ones(len(images))
        if progress:
            print(f"[compare] {label}: done", flush=True)
    return maps, stability, masks_used


def sanity_check(
    model: Any,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    methods: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None,
    layers: Optional[Sequence[str]] = None,
    seed: int = 0,
    **drise_options: Any,
) -> Dict[str, List[dict]]:
    """Cascading model-randomisation check (Adebayo et al.) of every method: name (:func:`method_label`) -> rows per
    randomised layer.

    See :func:`drise_tf.metrics.randomization_check`; ``layers`` limits the cascade to those layers (top first).
    ``seed`` seeds both the re-initialised weights and every random method; ``drise_options`` are shared as in
    :func:`method_comparison`.
    """
    rows = {}
    for label, name, options in _rows(DEFAULT_METHODS if methods is None else methods, seed, drise_options):

        def explain_clone(clone: Any, x: np.ndarray, t: np.ndarray, name: str = name,
                          options: dict = options) -> np.ndarray:
            return explain.make_explainer(name, clone, **options).explain(x, t)

        rows[label] = randomization_check(model, images, targets, explain_clone, seed=seed, layers=layers)
        print(f"[sanity] {label}: done", flush=True)
    return rows
