"""The orchestration behind ``reproduce`` and ``figures``: train if needed, evaluate, explain, measure, draw.

Every figure lands in ``figures/`` under a stable name, and ``figures/index.md`` says what each one shows and the
exact command and settings that made it. The same profile and seed give the same figures.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shlex
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from drise_tf.core.compat import MODEL_SUFFIX
from drise_tf.data import CLASS_NAMES, Standardizer, load_cifar10, resolve_source
from drise_tf.evaluation.comparisons import (
    DEFAULT_METHODS,
    EXTRA_MASKING_ROWS,
    method_comparison,
    sanity_check,
    similarity_comparison,
)
from drise_tf.explain import DRise, class_visualisation
from drise_tf.metrics import Comparison, layer_groups
from drise_tf.plotting.figure_sets import (
    FigureBook,
    class_visualisation_figure,
    comparison_figures,
    fgsm_figure,
    misclassified_figure,
    sanity_figures,
    thesis_map_figures,
    training_figures,
    uncertainty_figures,
)
from drise_tf.reproduction.profiles import Profile, get_profile
from drise_tf.studies import epsilon_sweep, misclassified_gradcam
from drise_tf.training import load_run, predict_probs, prediction_entropy, select_images, train_run


def run_dir_for(profile: Profile, models_dir: str | os.PathLike) -> pathlib.Path:
    """Folder of the trained run that ``profile`` uses."""
    return pathlib.Path(models_dir) / profile.run_name


def has_trained_model(run_dir: str | os.PathLike) -> bool:
    """True when ``run_dir`` holds a finished run (its model file)."""
    return (pathlib.Path(run_dir) / f"model{MODEL_SUFFIX}").is_file()


def train_profile(profile: Profile, run_dir: pathlib.Path, *, data: Optional[str], retrain: bool) -> None:
    """Train (or resume training of) the profile's model into ``run_dir``."""
    resume = (run_dir / "checkpoints").is_dir() and not retrain
    width = "" if profile.width is None else f" width {profile.width}"
    print(f"[reproduce] training {profile.architecture}{width} ({profile.recipe} recipe, {profile.epochs} epochs) "
          f"into {run_dir}{' (resuming)' if resume else ''}", flush=True)
    train_run(
        run_dir, recipe=profile.recipe, architecture=profile.architecture, width=profile.width, data=data,
        n_train=profile.n_train,
        n_val=profile.n_val, n_test=profile.n_test, epochs=profile.epochs, seed=profile.seed,
        precision=profile.train_precision or profile.precision, resume=resume, lr_quirk=profile.lr_quirk,
        epoch0_val=profile.epoch0_val, epoch0_train=profile.epoch0_train, augmentation=profile.augmentation,
        keep_epochs=profile.keep_epochs,
    )


def _read_json(path: pathlib.Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; train the run first")
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def thesis_maps(book: FigureBook, model: Any, standardizer: Standardizer, x_test: np.ndarray, y_test: np.ndarray,
                profile: Profile, *, true_class: int = 3, pair_class: int = 5) -> Dict[str, Any]:
    """Thesis figure 4: the thesis's D-RISE on the first ``k_images`` cats classified as cat and as dog (the class
    pair is configurable); prints each image's prediction entropy, as the thesis computed it. Beside each thesis
    figure, the map's uncertainty figure (from the same masks, no extra forward pass).

    Returns
    -------
    dict
        ``indices`` per group, ``maps`` (B, H, W), ``stability`` (each map's estimated two-seed Spearman, (B,)),
        ``entropy`` (bits) and ``probs``.
    """
    x_std = standardizer.transform(x_test)
    probs = predict_probs(model, x_std)
    predicted = probs.argmax(axis=1)
    groups = {
        f"{CLASS_NAMES[true_class]}_as_{CLASS_NAMES[true_class]}": select_images(
            y_test, predicted, true_class=true_class, predicted_class=true_class, k=profile.k_images),
        f"{CLASS_NAMES[true_class]}_as_{CLASS_NAMES[pair_class]}": select_images(
            y_test, predicted, true_class=true_class, predicted_class=pair_class, k=profile.k_images),
    }
    indices = np.concatenate([np.asarray(v, dtype=np.int64) for v in groups.values()])
    if indices.size == 0:
        print("[figures] no test image matches the selected class pair; skipping the D-RISE figures", flush=True)
        return {"indices": groups, "maps": np.zeros((0,) + x_std.shape[1:3], np.float32)}
    drise = DRise.thesis(model, n_masks=profile.n_masks, grid_size=profile.grid_size, p=profile.p,
                         batch_size=profile.mask_batch, precision=profile.precision, seed=profile.seed, progress=True)
    maps, stability = drise.explain(x_std[indices], y_test[indices], return_stability=True)
    entropy = prediction_entropy(probs[indices])
    names = [f"{group}_{rank + 1}" for group, members in groups.items() for rank in range(len(members))]
    labels = [f"test #{index}: true {CLASS_NAMES[y_test[index]]}, predicted {CLASS_NAMES[predicted[index]]}"
              for index in indices]
    for label, index, bits, agreement in zip(labels, indices, entropy, stability):
        print(f"[figures] {label}, p={probs[index].max():.3f}, entropy {bits:.3f} bits, map's two-seed Spearman "
              f"{agreement:.2f} (estimated)", flush=True)
    thesis_map_figures(book, x_test[indices], maps, names, labels, n_masks=profile.n_masks, p=profile.p,
                       stability=stability)
    uncertainty_figures(book, x_test[indices], maps, drise.replica_maps, names, labels,
                        standard_error=drise.standard_error, stability=stability)
    return {"indices": groups, "maps": maps, "stability": stability, "entropy": entropy, "probs": probs[indices]}


def _compared(standardizer: Standardizer, x_test: np.ndarray, y_test: np.ndarray, k: int):
    x = x_test[:k]
    return x, standardizer.transform(x), y_test[:k], [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(y_test[:k])]


def _drise_options(profile: Profile) -> Dict[str, Any]:
    """The shared D-RISE options of the comparisons: the profile's D-RISE design sets the D-RISE rows; RISE keeps its
    own 7x7 bilinear preset and shares only how a map is run: N (or the declared stability, its rounds and cap),
    sampling, batches and precision (see :func:`drise_tf.evaluation.comparisons.method_options`)."""
    options = dict(n_masks=profile.compare_masks, grid_size=profile.grid_size, p=profile.p,
                   batch_size=profile.mask_batch, precision=profile.precision)
    if profile.compare_stability is not None:
        options.update(sampling="antithetic_sobol", target_stability=profile.compare_stability,
                       max_masks=profile.compare_max_masks)
    return options


def compare_similarities(book: FigureBook, model: Any, standardizer: Standardizer, x_test: np.ndarray,
                         y_test: np.ndarray, profile: Profile) -> Comparison:
    """Every registered similarity score x every aggregation on the first ``k_compare`` test images."""
    x, x_std, labels, row_labels = _compared(standardizer, x_test, y_test, profile.k_compare)
    comparison = similarity_comparison(model, x_std, labels, seed=profile.seed, **_drise_options(profile))
    groups: Dict[str, List[str]] = {}
    for name in comparison.maps:
        groups.setdefault(name.split("/")[1], []).append(name)
    comparison_figures(book, comparison, x, "05_similarity", "Similarity scores", groups, row_labels,
                       target_stability=profile.compare_stability)
    print(comparison.format(), flush=True)
    return comparison


def compare_methods(book: FigureBook, model: Any, standardizer: Standardizer, x_test: np.ndarray,
                    y_test: np.ndarray, profile: Profile, scored: Optional[Comparison] = None) -> Comparison:
    """D-RISE variants against RISE (its own 7x7 bilinear preset), saliency, SmoothGrad, Grad-CAM, Grad-CAM++ and
    Faster-Score-CAM; the thesis's D-RISE rows take their maps from ``scored`` (:func:`compare_similarities` of the
    same images: the same masks) when given."""
    x, x_std, labels, row_labels = _compared(standardizer, x_test, y_test, profile.k_compare)
    comparison = method_comparison(model, x_std, labels, seed=profile.seed, scored=scored, **_drise_options(profile))
    comparison_figures(book, comparison, x, "06_methods", "Methods", {"": list(comparison.maps)}, row_labels,
                       target_stability=profile.compare_stability)
    print(comparison.format(), flush=True)
    return comparison


def check_sanity(book: FigureBook, model: Any, standardizer: Standardizer, x_test: np.ndarray, y_test: np.ndarray,
                 profile: Profile) -> Dict[str, Any]:
    """Cascading model-randomisation check, one cascade step per stage of the model.

    Every compared method except the extra masking variants (:data:`EXTRA_MASKING_ROWS`): one D-RISE map costs
    ``sanity_masks`` forward passes per image and cascade step, so one D-RISE variant (the thesis's) stands for
    the family.
    """
    methods = {name: spec for name, spec in DEFAULT_METHODS.items() if name not in EXTRA_MASKING_ROWS}
    _, x_std, labels, _ = _compared(standardizer, x_test, y_test, profile.k_sanity)
    rows = sanity_check(model, x_std, labels, methods=methods, layers=layer_groups(model), seed=profile.seed,
                        n_masks=profile.sanity_masks, grid_size=profile.grid_size, p=profile.p,
                        batch_size=profile.mask_batch, precision=profile.precision)
    sanity_figures(book, rows, profile.k_sanity)
    return rows


def run_studies(book: FigureBook, model: Any, standardizer: Standardizer, x_test: np.ndarray, y_test: np.ndarray,
                profile: Profile) -> Dict[str, Any]:
    """The neighbouring studies that need only the trained model: Grad-CAM on misclassified test images, FGSM
    accuracy against epsilon, and class model visualisation (the ImageNet ResNet-50 study and the stride/kernel
    sweep need their own models: ``experiments/06`` and ``07``)."""
    x_std = standardizer.transform(x_test)
    wrong = misclassified_gradcam(model, x_std, y_test, k=10)
    if len(wrong["indices"]):
        misclassified_figure(book, x_test[wrong["indices"]], wrong["maps"], wrong["true"], wrong["predicted"])
    low, high = standardizer.bounds()
    count = min(len(x_std), 500)
    sweep = epsilon_sweep(model, x_std[:count], y_test[:count], (0.0, 0.01, 0.02, 0.05, 0.1, 0.2),
                          clip_min=low, clip_max=high)
    fgsm_figure(book, sweep["epsilon"], sweep["accuracy"], count)
    images = class_visualisation(model, list(range(len(CLASS_NAMES))), seed=profile.seed,
                                 input_range=(float(low.min()), float(high.max())))
    class_visualisation_figure(book, standardizer.to_uint8(np.clip(images, low, high)))
    return {"misclassified": wrong, "fgsm": sweep, "class_images": images}


def reproduce(
    profile: str | Profile = "quick",
    *,
    data: Optional[str] = None,
    models_dir: str | os.PathLike = "models",
    figures_dir: str | os.PathLike = "figures",
    seed: Optional[int] = None,
    train: bool = True,
    retrain: bool = False,
    epochs: Optional[int] = None,
) -> Dict[str, Any]:
    """Train if needed, evaluate, explain and write every figure plus ``figures/index.md``.

    Parameters
    ----------
    profile : str or Profile
        ``"quick"``, ``"thesis"`` (or ``"tiny"`` for tests), or a :class:`Profile`.
    data : str, optional
        CIFAR-10 source (see :func:`drise_tf.data.load_cifar10`).
    models_dir, figures_dir : path
        Where the trained run lives and where figures go.
    seed, epochs : int, optional
        Override the profile's seed / epochs.
    train : bool
        Train when the run has no model yet (``reproduce``); if False (``figures``) a missing run is an error.
    retrain : bool
        Train anew even when the run exists.

    Returns
    -------
    dict
        ``run_dir``, ``figures`` (paths), ``index`` and ``evaluation``.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    overrides = {k: v for k, v in {"seed": seed, "epochs": epochs}.items() if v is not None}
    prof = prof.replace(**overrides)
    run_dir = run_dir_for(prof, models_dir)
    if retrain or not has_trained_model(run_dir):
        if not train:
            raise FileNotFoundError(
                f"no trained model in {run_dir}; run `python -m drise_tf reproduce --profile {prof.name}` first"
            )
        train_profile(prof, run_dir, data=data, retrain=retrain)

    model, standardizer = load_run(run_dir)
    (_, _), (x_test, y_test) = load_cifar10(data)
    if prof.n_test is not None:
        x_test, y_test = x_test[: prof.n_test], y_test[: prof.n_test]

    command = " ".join(["python -m drise_tf", *map(shlex.quote, sys.argv[1:])]) if sys.argv[1:] else (
        f"python -m drise_tf figures --profile {prof.name}"
    )
    settings = {"data": resolve_source(data) or "Keras's CIFAR-10 download", **dataclasses.asdict(prof)}
    book = FigureBook(pathlib.Path(figures_dir), command, settings)

    evaluation = _read_json(run_dir / "evaluation.json")
    training_figures(book, _read_json(run_dir / "history.json"), evaluation)
    print("Confusion matrix (rows: true, columns: predicted):\n", np.asarray(evaluation["confusion_matrix"]),
          flush=True)
    thesis_maps(book, model, standardizer, x_test, y_test, prof)
    scored = compare_similarities(book, model, standardizer, x_test, y_test, prof)
    compare_methods(book, model, standardizer, x_test, y_test, prof, scored)
    check_sanity(book, model, standardizer, x_test, y_test, prof)
    run_studies(book, model, standardizer, x_test, y_test, prof)
    index = book.write_index()
    return {"run_dir": run_dir, "figures": [book.folder / e["file"] for e in book.entries], "index": index,
            "evaluation": evaluation}
