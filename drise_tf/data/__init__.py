"""CIFAR-10: where it comes from (:mod:`.sources`, :mod:`.cifar`), its standardisation (:mod:`.standardizer`) and
the tf.data pipelines that feed training and evaluation (:mod:`.pipelines`); and the image files a user hands in to
be explained (:mod:`.image_files`).

Names load on first use, so that the readers that need no TensorFlow (:mod:`.sources`, :mod:`.image_files`) import
without it: the command line checks data and image files before it imports TensorFlow.
"""
import importlib
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

#: public name -> (module, attribute in it), loaded on first use.
_EXPORTS: Dict[str, Tuple[str, str]] = {
    **{name: ("drise_tf.data.cifar", name) for name in (
        "CIFAR10_URL", "DATA_ENV", "CifarNotAvailableError", "load_cifar10", "one_hot", "resolve_source",
        "split_train_val")},
    **{name: ("drise_tf.data.pipelines", name) for name in (
        "AUGMENTATIONS", "cutout", "make_eval_dataset", "make_train_dataset", "random_crop_flip",
        "train_steps_per_epoch")},
    **{name: ("drise_tf.data.sources", name) for name in (
        "CLASS_NAMES", "NUM_CLASSES", "CifarDataError", "UnsafePickleError", "class_index")},
    **{name: ("drise_tf.data.image_files", name) for name in (
        "IMAGE_FORMATS", "ImageFileError", "find_image_files", "read_image_file")},
    "Standardizer": ("drise_tf.data.standardizer", "Standardizer"),
}
__all__ = list(_EXPORTS)

# The same names again for static tools (Jedi, IDEs, type checkers), which cannot follow __getattr__; never run.
# tests/test_facade.py checks that this block and _EXPORTS agree.
if TYPE_CHECKING:
    from drise_tf.data.cifar import (  # noqa: F401
        CIFAR10_URL,
        DATA_ENV,
        CifarNotAvailableError,
        load_cifar10,
        one_hot,
        resolve_source,
        split_train_val,
    )
    from drise_tf.data.image_files import (  # noqa: F401
        IMAGE_FORMATS,
        ImageFileError,
        find_image_files,
        read_image_file,
    )
    from drise_tf.data.pipelines import (  # noqa: F401
        AUGMENTATIONS,
        cutout,
        make_eval_dataset,
        make_train_dataset,
        random_crop_flip,
        train_steps_per_epoch,
    )
    from drise_tf.data.sources import (  # noqa: F401
        CLASS_NAMES,
        NUM_CLASSES,
        CifarDataError,
        UnsafePickleError,
        class_index,
    )
    from drise_tf.data.standardizer import Standardizer  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'drise_tf.data' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
