"""Sets of figures that ``reproduce`` / ``figures`` write: each function takes computed results (maps, tables,
histories), draws them and files them in a :class:`FigureBook` under stable names. None of them explains or
measures anything: :mod:`drise_tf.reproduction.run` computes, the experiment scripts compute in their cells.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drise_tf.core import tables
from drise_tf.core.compat import write_text_atomic
from drise_tf.data import CLASS_NAMES
from drise_tf.plotting import figures as plots


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
    notes: List[str] = field(default_factory=list)

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

    def add_note(self, text: str) -> None:
        """A paragraph for the index, above the table (once, however often it is added): how to read a kind of
        figure."""
        if text not in self.notes:
            self.notes.append(text)

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
        for text in self.notes + ([extra.rstrip()] if extra else []):
            lines += [text, ""]
        lines += ["| figure | what it shows |", "|---|---|"]
        lines += [f"| [{e['file']}]({e['file']}) | {e['description']} |" for e in self.entries]
        path = self.folder / "index.md"
        write_text_atomic(path, "\n".join(lines) + "\n")
        return path


def training_figures(book: Any, history: Dict[str, Any], evaluation: Dict[str, Any]) -> None:
    """Thesis figures 1-3: learning curves (loss, accuracy) and the test confusion matrix of a trained run
    (its ``history.json`` and ``evaluation.json``)."""
    loss_figure, accuracy_figure = plots.learning_curves(history)
    book.add(loss_figure, "01_training_validation_loss",
             "Thesis figure 1: training (solid blue) and validation (dashed red) loss, epoch 0 = before training.")
    book.add(accuracy_figure, "02_training_validation_accuracy",
             "Thesis figure 2: training and validation accuracy per epoch.")
    matrix = np.asarray(evaluation["confusion_matrix"])
    book.add(plots.confusion_matrix_figure(matrix, CLASS_NAMES), "03_confusion_matrix",
             f"Thesis figure 3: test confusion matrix (test accuracy {evaluation['accuracy']:.4f}).")


def thesis_map_figures(book: Any, images_uint8: np.ndarray, maps: np.ndarray, names: Sequence[str],
                       labels: Sequence[str], *, n_masks: int, p: float,
                       stability: Optional[Sequence[float]] = None) -> None:
    """Thesis figure 4 for each explained image: the 3D surface of its raw D-RISE weighted sum (planes at 0.1*N*p
    and N*p) and the "Original Image" / "Saliency Map" overlay.

    Parameters
    ----------
    images_uint8 : np.ndarray
        The explained images (B, H, W, 3) uint8.
    maps : np.ndarray
        Their raw maps (B, H, W).
    names, labels : sequence of str
        Per image: the file-name stem (``04_<name>_surface``) and the description ("test #12: true cat, ...").
    n_masks, p : int, float
        N and p of the D-RISE that made the maps (the surface's planes).
    stability : sequence of float, optional
        Each map's estimated two-seed Spearman, added to the index entries (the figures stay the thesis's).
    """
    stability = [None] * len(maps) if stability is None else list(stability)
    for image, weighted_sum, name, label, agreement in zip(images_uint8, maps, names, labels, stability):
        noise = "" if agreement is None else (f" Map stability: two-seed Spearman {agreement:.2f} (estimated from "
                                              "its masks; 1 = the same map under any seed).")
        book.add(plots.surface_figure(weighted_sum, n_masks=n_masks, p=p), f"04_{name}_surface",
                 f"Thesis figure 4a, {label}: 3D surface of the raw D-RISE weighted sum (N={n_masks}, "
                 f"planes at 0.1*N*p and N*p).{noise}")
        book.add(plots.overlay_figure(image, weighted_sum), f"04_{name}_overlay",
                 f"Thesis figure 4b, {label}: original image and D-RISE saliency overlay (jet, alpha 0.5).{noise}")


#: The index's note on the uncertainty figures: how to read them, in two sentences.
UNCERTAINTY_GUIDE = (
    "How to read the uncertainty figures (`*_uncertainty.png`): beside the map, the standard error says how much each "
    "pixel's value would move under another mask seed, and the last panel how often each pixel is among the top {top} "
    "of the independent mask replicas the map averages (1: in every replica; each replica has 1/R of the masks, so "
    "the full map is steadier). A hot spot of the map (white outline: its top {top}) that is yellow there would "
    "survive another seed; one that is dark is Monte Carlo noise."
)


def uncertainty_figures(book: Any, images_uint8: np.ndarray, maps: np.ndarray, replica_maps: np.ndarray,
                        names: Sequence[str], labels: Sequence[str], *, standard_error: Optional[np.ndarray] = None,
                        stability: Optional[Sequence[float]] = None, top_fraction: float = 0.1) -> None:
    """The uncertainty figure (:func:`~drise_tf.plotting.figures.uncertainty_figure`) of each D-RISE map as
    ``04_<name>_uncertainty``, and the index's note on how to read it.

    Parameters
    ----------
    images_uint8, maps : np.ndarray
        The explained images (B, H, W, 3) uint8 and their maps (B, H, W).
    replica_maps : np.ndarray
        The replica maps behind each map (B, R, H, W) (``DRise.replica_maps``).
    names, labels : sequence of str
        Per image: the file-name stem and the description (the figure's title).
    standard_error : np.ndarray, optional
        (B, H, W) (``DRise.standard_error``); default: from ``replica_maps``.
    stability : sequence of float, optional
        Each map's estimated two-seed Spearman, added to its title.
    top_fraction : float
        Size of the top region, a fraction of the pixels.
    """
    stability = [None] * len(maps) if stability is None else list(stability)
    top = f"{100 * top_fraction:g}%"
    for row, (name, label, agreement) in enumerate(zip(names, labels, stability)):
        title = label if agreement is None else f"{label}; two-seed Spearman {agreement:.2f}"
        figure = plots.uncertainty_figure(
            images_uint8[row : row + 1], maps[row : row + 1], replica_maps[row : row + 1],
            standard_error=None if standard_error is None else standard_error[row : row + 1],
            top_fraction=top_fraction, title=title)
        book.add(figure, f"04_{name}_uncertainty",
                 f"{label}: the D-RISE map's Monte Carlo error, from its {replica_maps.shape[1]} mask replicas (no "
                 f"extra forward pass): the map, its per-pixel standard error, and how often each pixel is in the "
                 f"replicas' top {top} (white outline: the map's top {top}).")
    book.add_note(UNCERTAINTY_GUIDE.format(top=top))


def comparison_figures(book: Any, comparison: Any, images_uint8: np.ndarray, prefix: str, what: str,
                       groups: Dict[str, Sequence[str]], row_labels: Sequence[str], *,
                       target_stability: Optional[float] = None) -> None:
    """Grid, AUC bars and agreement heatmap per group of names of a :class:`~drise_tf.metrics.Comparison`, and its
    CSV table.

    Parameters
    ----------
    comparison : Comparison
        Maps, AUCs and agreement of the compared variants.
    images_uint8 : np.ndarray
        The compared images (B, H, W, 3) uint8 (the first six are drawn in the grid).
    prefix, what : str
        File-name prefix ("05_similarity") and what is compared ("Similarity scores").
    groups : dict
        Group name ("" for one group) -> the variant names drawn together (about ten at most).
    row_labels : sequence of str
        One label per image.
    target_stability : float, optional
        The stability the Monte Carlo maps were run to: a map below it stopped at the cap, and its panel says so.
    """
    shown = min(len(images_uint8), 6)
    table = comparison.table()
    for group, names in groups.items():
        suffix = f"_{group}" if group else ""
        label = f"{what}{f' ({group})' if group else ''}"
        grid = {name: comparison.maps[name][:shown] for name in names}
        stability = {name: comparison.stability[name][:shown] for name in names if name in comparison.stability}
        capped = {} if target_stability is None else {
            name: stability[name] < target_stability for name in names
            if name in stability and name in comparison.masks_used}
        declared = "" if target_stability is None else (
            f" Every D-RISE and RISE map drew masks until its estimated two-seed ρ reached {target_stability:g}; "
            "\"cap\" marks a map that stopped at the cap of masks first.")
        book.add(plots.saliency_grid(images_uint8[:shown], grid, row_labels=list(row_labels)[:shown],
                                     title=f"{label}: maps", stability=stability, capped=capped),
                 f"{prefix}_grid{suffix}",
                 f"{label}: the first {shown} compared test images (rows) under each variant (columns); under each "
                 "map its two-seed Spearman ρ (estimated from its masks; 1 for deterministic methods, none where "
                 f"unknown).{declared}")
        book.add(plots.metric_bars([row for row in table if row["name"] in names],
                                   metric=["deletion_auc", "insertion_auc"],
                                   title=f"{label}: deletion (lower is better) and insertion (higher) AUC",
                                   ylabel="AUC (mean, 95% interval)"), f"{prefix}_auc{suffix}",
                 f"{label}: deletion and insertion AUC over {len(images_uint8)} test images, mean and 95% interval.")
        all_names, matrix = comparison.agreement
        keep = [all_names.index(name) for name in names]
        book.add(plots.agreement_heatmap(list(names), matrix[np.ix_(keep, keep)],
                                         title=f"{label}: mean Spearman rank correlation\n"
                                               "(diagonal: two-seed agreement, the noise floor)"),
                 f"{prefix}_agreement{suffix}",
                 f"{label}: pairwise Spearman rank correlation of the maps, mean over images; on the diagonal "
                 "each variant's two-seed agreement (estimated from its masks; 1 for deterministic methods, blank "
                 "where unknown), the most any two variants can agree at this noise.")
    book.add_table(table, f"{prefix}_auc.csv", f"{what}: every variant's AUC table (CSV).")


def sanity_figures(book: Any, rows: Dict[str, List[Dict[str, Any]]], n_images: int) -> None:
    """The cascading model-randomisation figure and its CSV, from :func:`drise_tf.evaluation.sanity_check` rows."""
    book.add(plots.randomization_figure(rows, title="Cascading model randomisation (Adebayo et al.)"),
             "07_sanity_randomization",
             f"Sanity check on {n_images} test images: Spearman correlation of each method's maps with the "
             "trained model's, as the model's stages are re-initialised from the top; a method that stays near 1 "
             "does not explain the model.")
    book.add_table([{"method": name, **row} for name, method_rows in rows.items() for row in method_rows],
                   "07_sanity_randomization.csv", "The sanity-check correlations behind the figure (CSV).")


def misclassified_figure(book: Any, images_uint8: np.ndarray, maps: np.ndarray, true: Sequence[int],
                         predicted: Sequence[int]) -> None:
    """Grad-CAM of the predicted class on misclassified images, titled with the true and predicted labels."""
    titles = [f"true: {CLASS_NAMES[t]}\npred: {CLASS_NAMES[p]}" for t, p in zip(true, predicted)]
    book.add(plots.labelled_image_grid(images_uint8, titles, ncols=5, maps=maps,
                                       suptitle="Grad-CAM on misclassified test images (predicted class)"),
             "08_misclassified_gradcam",
             "Grad-CAM of the predicted class on the first misclassified test images, true and predicted labels.")


def fgsm_figure(book: Any, epsilons: Sequence[float], accuracy: Sequence[float], n_images: int) -> None:
    """FGSM accuracy against epsilon."""
    book.add(plots.accuracy_sweep_figure(epsilons, accuracy, xlabel="epsilon (standardised units)",
                                         title="FGSM: test accuracy against epsilon"), "09_fgsm_accuracy",
             f"FGSM (Goodfellow et al.): accuracy on {n_images} test images against epsilon, clipped to valid pixels.")


def class_visualisation_figure(book: Any, images_uint8: np.ndarray) -> None:
    """One activation-maximisation image per class."""
    book.add(plots.labelled_image_grid(images_uint8, list(CLASS_NAMES), ncols=5,
                                       suptitle="Class model visualisation (activation maximisation)"),
             "10_class_visualisation", "One image per class that maximises the class logit (tf-keras-vis).")
