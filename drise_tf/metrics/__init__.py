"""How good a saliency map is: faithfulness (:mod:`.faithfulness`: deletion and insertion), agreement between
maps (:mod:`.agreement`), the model-randomisation sanity check (:mod:`.randomisation`), intervals
(:mod:`.statistics`) and the comparisons of similarity scores and methods built on them (:mod:`.comparison`)."""
from drise_tf.metrics.agreement import (
    AGREEMENT_METRICS,
    agreement_matrix,
    rank_correlation,
    topk_overlap,
)
from drise_tf.metrics.comparison import (
    DEFAULT_METHODS,
    Comparison,
    compare,
    faithfulness,
    method_comparison,
    sanity_check,
    similarity_comparison,
)
from drise_tf.metrics.faithfulness import (
    MODES,
    auc,
    causal_curves,
    causal_fractions,
    deletion_insertion,
    gaussian_blur,
    gaussian_kernel,
    predicted_classes,
    salience_order,
)
from drise_tf.metrics.randomisation import layer_groups, randomization_check
from drise_tf.metrics.statistics import mean_ci, summary_table

__all__ = [
    "AGREEMENT_METRICS", "agreement_matrix", "rank_correlation", "topk_overlap", "DEFAULT_METHODS", "Comparison", "compare",
    "faithfulness", "method_comparison", "sanity_check", "similarity_comparison", "MODES", "auc", "causal_curves",
    "causal_fractions", "deletion_insertion", "gaussian_blur", "gaussian_kernel", "predicted_classes",
    "salience_order", "layer_groups", "randomization_check", "mean_ci", "summary_table",
]
