"""drise_tf: ResNet-18 on CIFAR-10, explained with D-RISE and compared with gradient and CAM methods.

This module is the stable public interface: every name a user needs, flat, from the rooms below (see
ARCHITECTURE.md). Each room is also importable by itself under the same name (``drise_tf.metrics``,
``drise_tf.plotting``, ...).

=============  ===========================================================================================
room           what it holds
=============  ===========================================================================================
``data``       CIFAR-10 sources, the Standardizer, tf.data pipelines
``training``   architectures, schedules, recipes, the training loop, run folders, model evaluation
``explain``    the Explainer interface, D-RISE (masks, similarity scores), gradient, CAM, visualisation
``metrics``    faithfulness, agreement, randomisation, statistics, comparisons
``plotting``   every figure, and the figure sets ``reproduce`` files
``studies``    the neighbouring studies: ImageNet ResNet-50, stride/kernel sweep, misclassified Grad-CAM, FGSM
``reproduction`` profiles and the one-command run (``reproduce``)
=============  ===========================================================================================
"""
__version__ = "0.2.0"

from drise_tf import data, explain, metrics, plotting, reproduction, studies, training
from drise_tf.data import (
    CLASS_NAMES,
    NUM_CLASSES,
    CifarDataError,
    CifarNotAvailableError,
    Standardizer,
    load_cifar10,
    make_eval_dataset,
    make_train_dataset,
    split_train_val,
)
from drise_tf.experiment import setup
from drise_tf.explain import (
    AGGREGATIONS,
    DRise,
    Explainer,
    available_explainers,
    class_visualisation,
    make_explainer,
    masks,
    normalize_maps,
    register_explainer,
    similarity,
)
from drise_tf.metrics import deletion_insertion, rank_correlation, topk_overlap
from drise_tf.plotting import FigureBook
from drise_tf.reproduction import Profile, get_profile, reproduce
from drise_tf.studies import epsilon_sweep, fgsm
from drise_tf.training import (
    build,
    evaluate,
    evaluate_run,
    load_run,
    predict_probs,
    prediction_entropy,
    resnet18,
    select_images,
    simple_cnn,
    train,
    train_run,
)

__all__ = [
    "data", "explain", "metrics", "plotting", "reproduction", "studies", "training", "CLASS_NAMES", "NUM_CLASSES",
    "CifarDataError", "CifarNotAvailableError", "Standardizer", "load_cifar10", "make_eval_dataset",
    "make_train_dataset", "split_train_val", "setup", "AGGREGATIONS", "DRise", "Explainer", "available_explainers",
    "class_visualisation", "make_explainer", "masks", "normalize_maps", "register_explainer", "similarity",
    "deletion_insertion", "rank_correlation", "topk_overlap", "FigureBook", "Profile", "get_profile",
    "reproduce", "epsilon_sweep", "fgsm", "build", "evaluate", "evaluate_run", "load_run", "predict_probs",
    "prediction_entropy", "resnet18", "select_images", "simple_cnn", "train", "train_run",
]
