"""CIFAR-10: where it comes from (:mod:`.sources`, :mod:`.cifar`), its standardisation (:mod:`.standardizer`) and
the tf.data pipelines that feed training and evaluation (:mod:`.pipelines`)."""
from drise_tf.data.cifar import (
    CIFAR10_URL,
    DATA_ENV,
    CifarNotAvailableError,
    load_cifar10,
    one_hot,
    resolve_source,
    split_train_val,
)
from drise_tf.data.pipelines import (
    AUGMENTATIONS,
    cutout,
    make_eval_dataset,
    make_train_dataset,
    random_crop_flip,
    train_steps_per_epoch,
)
from drise_tf.data.sources import (
    CLASS_NAMES,
    NUM_CLASSES,
    CifarDataError,
    UnsafePickleError,
)
from drise_tf.data.standardizer import Standardizer

__all__ = [
    "CLASS_NAMES", "NUM_CLASSES", "DATA_ENV", "AUGMENTATIONS", "CIFAR10_URL", "CifarDataError",
    "CifarNotAvailableError", "UnsafePickleError", "Standardizer", "load_cifar10", "resolve_source", "one_hot",
    "split_train_val", "random_crop_flip", "cutout", "train_steps_per_epoch", "make_train_dataset", "make_eval_dataset",
]
