"""The evaluation run over a data set (:mod:`.run`): every D-RISE similarity score and aggregation and the other
methods, explained for the true class and measured by ROAD (primary), MuFidelity, deletion / insertion and the
efficient MPRT, stored chunk by chunk and resumable (:mod:`.store`), and its answer in tables and a figure with paired
statistics (:mod:`.report`); and the comparisons that build and run the explainers on a few images, every method on
its own preset unless told otherwise (:mod:`.comparisons`: D-RISE's scores, the methods, the sanity check);
and a trained run's explanations of image files (:mod:`.explain_files`, the ``explain`` command)."""
from drise_tf.evaluation.comparisons import (
    DEFAULT_METHODS,
    SEEDED_METHODS,
    SHARED_OPTIONS,
    explain_methods,
    method_comparison,
    method_label,
    method_options,
    sanity_check,
    similarity_comparison,
)
from drise_tf.evaluation.explain_files import explain_image_files
from drise_tf.evaluation.networks import (
    CLAIMS,
    compare_metrics,
    compare_networks,
    write_metric_comparison,
    write_network_comparison,
)
from drise_tf.evaluation.report import (
    compare_runs,
    factorial_effects,
    identical_groups,
    metric_values,
    ranking,
    seed_noise,
    write_comparison,
    write_factorial,
    write_report,
)
from drise_tf.evaluation.run import (
    EVALUATED_AGGREGATIONS,
    FACTORIAL_DESIGNS,
    FAITHFULNESS_METRICS,
    METHODS,
    METRICS,
    PRIMARY_METRIC,
    SMOOTHED_SUFFIX,
    Evaluation,
    evaluate_maps,
    smoothing_sigma,
)
from drise_tf.evaluation.store import ResultStore, SettingsMismatchError, read_records, require_same_model
from drise_tf.evaluation.trained_run import evaluate_run_maps

__all__ = [
    "DEFAULT_METHODS", "SEEDED_METHODS", "SHARED_OPTIONS", "explain_methods", "method_comparison", "method_label",
    "method_options", "sanity_check", "similarity_comparison",
    "compare_runs", "factorial_effects", "identical_groups", "metric_values", "ranking", "seed_noise",
    "write_comparison", "write_factorial", "write_report", "EVALUATED_AGGREGATIONS", "FACTORIAL_DESIGNS", "METHODS",
    "METRICS", "PRIMARY_METRIC", "SMOOTHED_SUFFIX", "Evaluation", "evaluate_maps", "smoothing_sigma",
    "evaluate_run_maps", "ResultStore", "SettingsMismatchError", "read_records", "CLAIMS", "compare_metrics",
    "compare_networks", "require_same_model", "write_metric_comparison", "write_network_comparison",
    "FAITHFULNESS_METRICS", "explain_image_files",
]
