"""Drawing: every figure as a matplotlib Figure (:mod:`.figures`), and the sets of figures that ``reproduce``
files under stable names with an index (:mod:`.figure_sets`)."""
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
from drise_tf.plotting.figures import (
    accuracy_sweep_figure,
    agreement_heatmap,
    calls_figure,
    causal_curve_figure,
    confusion_matrix_figure,
    labelled_image_grid,
    learning_curves,
    metric_bars,
    overlay_figure,
    pareto_figure,
    randomization_figure,
    ranking_figure,
    saliency_grid,
    save,
    score_planes,
    surface_figure,
    uncertainty_figure,
)

__all__ = [
    "FigureBook", "class_visualisation_figure", "comparison_figures", "fgsm_figure", "misclassified_figure",
    "sanity_figures", "thesis_map_figures", "training_figures", "uncertainty_figures", "accuracy_sweep_figure",
    "agreement_heatmap", "causal_curve_figure", "confusion_matrix_figure", "labelled_image_grid", "learning_curves",
    "metric_bars", "pareto_figure", "ranking_figure", "overlay_figure", "randomization_figure", "saliency_grid", "save",
    "score_planes", "surface_figure", "uncertainty_figure", "calls_figure",
]
