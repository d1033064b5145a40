"""How good a saliency map is: faithfulness (:mod:`.faithfulness`: deletion and insertion, ROAD, MuFidelity),
agreement between maps (:mod:`.agreement`), the model-randomisation sanity checks (:mod:`.randomisation`: cascading
and efficient MPRT), intervals and paired tests (:mod:`.statistics`) and the comparison of map sets already computed
(:mod:`.comparison`). It measures the maps it is given; the comparisons that make them are in
:mod:`drise_tf.evaluation.comparisons`."""
from drise_tf.metrics.agreement import (
    AGREEMENT_METRICS,
    agreement_matrix,
    order_representatives,
    rank_correlation,
    topk_overlap,
)
from drise_tf.metrics.comparison import Comparison, compare, deletion_insertion_aucs
from drise_tf.metrics.faithfulness import (
    FILLS,
    MODES,
    NOISE_STREAMS,
    RISE_FILLS,
    ROAD_COUNTS,
    ROAD_FRACTIONS,
    ROAD_ORDERS,
    ROAD_READOUTS,
    ROAD_REFERENCE,
    auc,
    causal_curves,
    causal_fractions,
    deletion_insertion,
    gaussian_blur,
    gaussian_kernel,
    mu_fidelity,
    noisy_linear_imputation,
    predicted_classes,
    road,
    salience_order,
)
from drise_tf.metrics.randomisation import (
    efficient_mprt,
    layer_groups,
    map_entropy,
    randomised_model,
    randomization_check,
)
from drise_tf.metrics.statistics import (
    bootstrap_ci,
    compact_letters,
    factorial_contrasts,
    holm,
    mean_ci,
    paired_effects,
    pairwise_comparisons,
    summary_table,
    wilcoxon_p,
)

__all__ = [
    "AGREEMENT_METRICS", "agreement_matrix", "order_representatives", "rank_correlation", "topk_overlap",
    "Comparison", "compare", "deletion_insertion_aucs", "FILLS", "MODES", "NOISE_STREAMS", "RISE_FILLS",
    "ROAD_COUNTS", "ROAD_FRACTIONS", "ROAD_ORDERS", "ROAD_READOUTS", "ROAD_REFERENCE",
    "auc", "causal_curves", "causal_fractions", "deletion_insertion", "gaussian_blur",
    "gaussian_kernel", "mu_fidelity", "noisy_linear_imputation", "predicted_classes", "road", "salience_order",
    "efficient_mprt", "layer_groups", "map_entropy", "randomised_model", "randomization_check", "bootstrap_ci",
    "compact_letters", "factorial_contrasts", "holm", "mean_ci", "pairwise_comparisons", "paired_effects",
    "summary_table", "wilcoxon_p",
]
