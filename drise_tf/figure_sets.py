"""Sets of figures that ``reproduce`` / ``figures`` write: each function computes, draws and files one set.

Each function takes a :class:`FigureBook` (anything with ``add(figure, name, description)``)
so that the experiments and the one-command regeneration share exactly the same code.
"""
from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drise_tf import plots, tables
from drise_tf._compat import write_text_atomic
from drise_tf.data import CLASS_NAMES
from drise_tf.profiles import Profile


@dataclass
class FigureBook:
    """Saves figures under stable names and writes ``index.md`` describing each one.

    Parameters
    ----------
    folder : pathlib.Path
        Where figures go.
    command : str
        The command line that made them (recorded in the index).
    settings : dict
        The profile settings (recorded in the index).
    keep_open : bool
        Leave figures open after saving (Spyder shows them in its Plots pane); default: close them.
    """

    folder: pathlib.Path
    command: str
    settings: Dict[str, Any]
    keep_open: bool = False
    entries: List[Dict[str, str]] = field(default_factory=list)

    def add(self, figure: Any, name: str, description: str) -> pathlib.Path:
        """Save ``figure`` as ``<folder>/<name>.png``, record it for the index, close it unless ``keep_open``."""
        path = pathlib.Path(plots.save(figure, self.folder / f"{name}.png", close=not self.keep_open))
        self.entries.append({"file": path.name, "description": description})
        print(f"[figures] {len(self.entries):3d}  {path}", flush=True)
        return path

    def add_table(self, rows: Sequence[Dict[str, Any]], filename: str, description: str) -> pathlib.Path:
        """Write ``rows`` (dicts) as the CSV file ``<folder>/<filename>`` and record it for the index."""
        path = pathlib.Path(tables.write_csv(rows, self.folder / filename))
        self.entries.append({"file": path.name, "description": description})
        return path

    def write_index(self, extra: str = "") -> pathlib.Path:
        """Write ``index.md``: every figure, what it shows, and the command and settings that made them."""
        lines = [
            "# Figures",
            "",
            "Made by:",
            "",
            "```",
            self.command,
            "```",
            "",
            "Settings (data source and profile):",
            "",
            "```",
            *(f"{key} = {value!r}" for key, value in self.settings.items()),
            "```",
            "",
        ]
        if extra:
            lines += [extra.rstrip(), ""]
        lines += ["| figure | what it shows |", "|---|---|"]
        lines += [f"| [{e['file']}]({e['file']}) | {e['description']} |" for e in self.entries]
        path = self.folder / "index.md"
        write_text_atomic(path, "\n".join(lines) + "\n")
        return path


def _read_json(path: pathlib.Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; train the run first")
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def training_figures(book: Any, run_dir: str | os.PathLike) -> Dict[str, Any]:
    """Thesis figures 1-3: learning curves (loss, accuracy) and the test confusion matrix of a trained run.

    Returns the run's evaluation (``evaluation.json``).
    """
    run_dir = pathlib.Path(run_dir)
    history = _read_json(run_dir / "history.json")
    evaluation = _read_json(run_dir / "evaluation.json")
    loss_figure, accuracy_figure = plots.learning_curves(history)
    book.add(loss_figure, "01_training_validation_loss",
             "Thesis figure 1: training (solid blue) and validation (dashed red) loss, epoch 0 = before training.")
    book.add(accuracy_figure, "02_training_validation_accuracy",
             "Thesis figure 2: training and validation accuracy per epoch.")
    matrix = np.asarray(evaluation["confusion_matrix"])
    print("Confusion matrix (rows: true, columns: predicted):\n", matrix, flush=True)
    book.add(plots.confusion_matrix_figure(matrix, CLASS_NAMES), "03_confusion_matrix",
             f"Thesis figure 3: test confusion matrix (test accuracy {evaluation['accuracy']:.4f}).")
    return evaluation


def prediction_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in bits of each probability vector (the thesis computed it for every selected image)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return -(probs * np.log2(probs)).sum(axis=-1)


def thesis_drise_figures(
    book: Any,
    model: Any,
    standardizer: Any,
    x_test: np.ndarray,
    y_test: np.ndarray,
    profile: Profile,
    *,
    true_class: int = 3,
    pair_class: int = 5,
) -> Dict[str, Any]:
    """Thesis figure 4: D-RISE maps of the first cats classified as cat and as dog (class pair configurable).

    For each selected test image: the 3D surface of the raw weighted sum (its scale) and the overlay figure.

    Returns
    -------
    dict
        ``indices`` per group, ``maps`` (B,H,W), ``entropy`` (bits) and ``probs``.
    """
    from drise_tf.drise import DRise
    from drise_tf.evaluation import predict_probs, select_images

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
    explainer = DRise.thesis(model, n_masks=profile.n_masks, grid_size=profile.grid_size, p=profile.p,
                             batch_size=profile.mask_batch, precision=profile.precision, seed=profile.seed,
                             progress=True)
    maps = explainer.explain(x_std[indices], y_test[indices])
    entropy = prediction_entropy(probs[indices])
    position = 0
    for group, members in groups.items():
        for rank, index in enumerate(members):
            weighted_sum = maps[position]
            label = f"test #{index}: true {CLASS_NAMES[y_test[index]]}, predicted {CLASS_NAMES[predicted[index]]}"
            print(f"[figures] {label}, p={probs[index].max():.3f}, entropy {entropy[position]:.3f} bits", flush=True)
            book.add(plots.surface_figure(weighted_sum, n_masks=profile.n_masks, p=profile.p),
                     f"04_{group}_{rank + 1}_surface",
                     f"Thesis figure 4a, {label}: 3D surface of the raw D-RISE weighted sum (N={profile.n_masks}, "
                     f"planes at 0.1*N*p and N*p).")
            book.add(plots.overlay_figure(x_test[index], weighted_sum),
                     f"04_{group}_{rank + 1}_overlay",
                     f"Thesis figure 4b, {label}: original image and D-RISE saliency overlay (jet, alpha 0.5).")
            position += 1
    return {"indices": groups, "maps": maps, "entropy": entropy, "probs": probs[indices]}


def _comparison_figures(book: Any, comparison: Any, images_uint8: np.ndarray, prefix: str, what: str,
                        groups: Dict[str, Sequence[str]], row_labels: Sequence[str]) -> None:
    """Grid, AUC bars and agreement heatmap per group of names (at most ~10 columns each), and the CSV table."""
    shown = min(len(images_uint8), 6)
    table = comparison.table()
    for group, names in groups.items():
        suffix = f"_{group}" if group else ""
        label = f"{what}{f' ({group})' if group else ''}"
        grid = {name: comparison.maps[name][:shown] for name in names}
        book.add(plots.saliency_grid(images_uint8[:shown], grid, row_labels=list(row_labels)[:shown],
                                     title=f"{label}: maps"), f"{prefix}_grid{suffix}",
                 f"{label}: the first {shown} compared test images (rows) under each variant (columns).")
        book.add(plots.metric_bars([row for row in table if row["name"] in names],
                                   metric=["deletion_auc", "insertion_auc"],
                                   title=f"{label}: deletion (lower is better) and insertion (higher) AUC",
                                   ylabel="AUC (mean, 95% interval)"), f"{prefix}_auc{suffix}",
                 f"{label}: deletion and insertion AUC over {len(images_uint8)} test images, mean and 95% interval.")
        all_names, matrix = comparison.agreement
        keep = [all_names.index(name) for name in names]
        book.add(plots.agreement_heatmap(list(names), matrix[np.ix_(keep, keep)],
                                         title=f"{label}: mean Spearman rank correlation"),
                 f"{prefix}_agreement{suffix}",
                 f"{label}: pairwise Spearman rank correlation of the maps, mean over images.")
    book.add_table(table, f"{prefix}_auc.csv", f"{what}: every variant's AUC table (CSV).")
    print(comparison.format(), flush=True)


def _compared_images(standardizer: Any, x_test: np.ndarray, y_test: np.ndarray, k: int):
    x = x_test[:k]
    return x, standardizer.transform(x), y_test[:k], [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(y_test[:k])]


def similarity_figures(book: Any, model: Any, standardizer: Any, x_test: np.ndarray, y_test: np.ndarray,
                       profile: Profile) -> Any:
    """Every registered similarity score x every normalisation on the first ``k_compare`` test images."""
    from drise_tf.comparison import similarity_comparison

    x, x_std, labels, row_labels = _compared_images(standardizer, x_test, y_test, profile.k_compare)
    comparison = similarity_comparison(
        model, x_std, labels, n_masks=profile.compare_masks, grid_size=profile.grid_size, p=profile.p,
        batch_size=profile.mask_batch, precision=profile.precision, seed=profile.seed)
    groups: Dict[str, List[str]] = {}
    for name in comparison.maps:
        groups.setdefault(name.split("/")[1], []).append(name)
    _comparison_figures(book, comparison, x, "05_similarity", "Similarity scores", groups, row_labels)
    return comparison


def method_figures(book: Any, model: Any, standardizer: Any, x_test: np.ndarray, y_test: np.ndarray,
                   profile: Profile, methods: Optional[Dict[str, Any]] = None) -> Any:
    """D-RISE variants against saliency, SmoothGrad, Grad-CAM, Grad-CAM++ and Faster-Score-CAM."""
    from drise_tf.comparison import method_comparison

    x, x_std, labels, row_labels = _compared_images(standardizer, x_test, y_test, profile.k_compare)
    comparison = method_comparison(
        model, x_std, labels, methods=methods, n_masks=profile.compare_masks, grid_size=profile.grid_size,
        p=profile.p, batch_size=profile.mask_batch, precision=profile.precision, seed=profile.seed)
    _comparison_figures(book, comparison, x, "06_methods", "Methods", {"": list(comparison.maps)}, row_labels)
    return comparison


def sanity_figures(book: Any, model: Any, standardizer: Any, x_test: np.ndarray, y_test: np.ndarray,
                   profile: Profile, methods: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Cascading model-randomisation check, one cascade step per stage of the model.

    By default every compared method except the extra masking variants (RISE, D-RISE probability): one D-RISE map
    costs ``sanity_masks`` forward passes per image and cascade step, so one D-RISE variant (the thesis's) stands
    for the family.
    """
    from drise_tf.comparison import DEFAULT_METHODS, sanity_check
    from drise_tf.metrics import layer_groups

    if methods is None:
        methods = {name: spec for name, spec in DEFAULT_METHODS.items()
                   if name not in ("RISE", "D-RISE probability")}
    _, x_std, labels, _ = _compared_images(standardizer, x_test, y_test, profile.k_sanity)
    rows = sanity_check(model, x_std, labels, methods=methods, layers=layer_groups(model), seed=profile.seed,
                        n_masks=profile.sanity_masks, grid_size=profile.grid_size, p=profile.p,
                        batch_size=profile.mask_batch, precision=profile.precision)
    book.add(plots.randomization_figure(rows, title="Cascading model randomisation (Adebayo et al.)"),
             "07_sanity_randomization",
             f"Sanity check on {profile.k_sanity} test images: Spearman correlation of each method's maps with the "
             "trained model's, as the model's stages are re-initialised from the top; a method that stays near 1 "
             "does not explain the model.")
    book.add_table([{"method": name, **row} for name, method_rows in rows.items() for row in method_rows],
                   "07_sanity_randomization.csv", "The sanity-check correlations behind the figure (CSV).")
    return rows


def study_figures(book: Any, model: Any, standardizer: Any, x_test: np.ndarray, y_test: np.ndarray,
                  profile: Profile) -> Dict[str, Any]:
    """The neighbouring studies that need only the trained model: Grad-CAM on misclassified test images, FGSM
    accuracy against epsilon, and class model visualisation (the ImageNet ResNet-50 study and the stride/kernel
    sweep need their own models: ``experiments/06`` and ``07``)."""
    from drise_tf.adversarial import epsilon_sweep
    from drise_tf.explainers import class_visualisation
    from drise_tf.studies import misclassified_gradcam

    x_std = standardizer.transform(x_test)
    wrong = misclassified_gradcam(model, x_std, y_test, k=10)
    if len(wrong["indices"]):
        titles = [f"true: {CLASS_NAMES[t]}\npred: {CLASS_NAMES[p]}" for t, p in zip(wrong["true"], wrong["predicted"])]
        book.add(plots.labelled_image_grid(x_test[wrong["indices"]], titles, ncols=5, maps=wrong["maps"],
                                           suptitle="Grad-CAM on misclassified test images (predicted class)"),
                 "08_misclassified_gradcam",
                 "Grad-CAM of the predicted class on the first misclassified test images, true and predicted labels.")
    low, high = standardizer.bounds()
    count = min(len(x_std), 500)
    epsilons = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
    sweep = epsilon_sweep(model, x_std[:count], y_test[:count], epsilons, clip_min=low, clip_max=high)
    book.add(plots.accuracy_sweep_figure(sweep["epsilon"], sweep["accuracy"], xlabel="epsilon (standardised units)",
                                         title="FGSM: test accuracy against epsilon"), "09_fgsm_accuracy",
             f"FGSM (Goodfellow et al.): accuracy on {count} test images against epsilon, clipped to valid pixels.")
    images = class_visualisation(model, list(range(len(CLASS_NAMES))), seed=profile.seed,
                                 input_range=(float(low.min()), float(high.max())))
    book.add(plots.labelled_image_grid(standardizer.to_uint8(np.clip(images, low, high)), list(CLASS_NAMES), ncols=5,
                                       suptitle="Class model visualisation (activation maximisation)"),
             "10_class_visualisation", "One image per class that maximises the class logit (tf-keras-vis).")
    return {"misclassified": wrong, "fgsm": sweep, "class_images": images}
