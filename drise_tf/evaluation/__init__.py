"""The evaluation run over a data set (:mod:`.run`): every D-RISE similarity score and aggregation and the other
methods, explained for the true class and measured by ROAD (primary), MuFidelity, deletion / insertion and the
efficient MPRT, stored chunk by chunk and resumable (:mod:`.store`), and its answer in tables and a figure with paired
statistics (:mod:`.report`)."""
from drise_tf.evaluation.report import (
    compare_runs,
    identical_groups,
    metric_values,
    ranking,
    seed_noise,
    write_comparison,
    write_report,
)
from drise_tf.evaluation.run import (
    EVALUATED_AGGREGATIONS,
    METHODS,
    METRICS,
    PRIMARY_METRIC,
    Evaluation,
    evaluate_maps,
)
from drise_tf.evaluation.store import ResultStore, SettingsMismatchError, read_records
from drise_tf.evaluation.trained_run import evaluate_run_maps

__all__ = [
    "compare_runs", "identical_groups", "metric_values", "ranking", "seed_noise", "write_comparison", "write_report",
    "EVALUATED_AGGREGATIONS", "METHODS", "METRICS", "PRIMARY_METRIC", "Evaluation", "evaluate_maps",
    "evaluate_run_maps", "ResultStore", "SettingsMismatchError", "read_records",
]
