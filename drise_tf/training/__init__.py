"""Training: the architectures (:mod:`.architectures`), learning-rate schedules (:mod:`.schedules`), recipes
(:mod:`.recipes`), the checkpointed training loop (:mod:`.loop`), whole run folders (:mod:`.runs`: train, load,
evaluate) and the evaluation of a trained classifier (:mod:`.evaluation`)."""
from drise_tf.training.architectures import (
    ARCHITECTURES,
    build,
    imagenet_backbone,
    resnet18,
    simple_cnn,
)
from drise_tf.training.evaluation import (
    confusion_matrix,
    evaluate,
    evaluate_stream,
    format_evaluation,
    predict_probs,
    prediction_entropy,
    select_images,
)
from drise_tf.training.loop import default_strategy, multi_worker_strategy, train
from drise_tf.training.recipes import RECIPES, Recipe, get_recipe
from drise_tf.training.runs import evaluate_run, export_checkpoint, load_run, train_run, verify_run
from drise_tf.training.schedules import OneCycle, learning_rate_at, thesis_learning_rate

__all__ = [
    "ARCHITECTURES", "build", "imagenet_backbone", "resnet18", "simple_cnn", "confusion_matrix", "evaluate",
    "evaluate_stream", "format_evaluation", "predict_probs", "prediction_entropy", "select_images", "default_strategy",
    "multi_worker_strategy", "train", "RECIPES", "Recipe", "get_recipe", "evaluate_run", "export_checkpoint",
    "load_run", "train_run", "verify_run", "OneCycle", "learning_rate_at", "thesis_learning_rate",
]
