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
``metrics``    faithfulness, agreement, randomisation, statistics, the comparison of computed maps
``plotting``   every figure, and the figure sets ``reproduce`` files
``evaluation`` the resumable evaluation over a data set, its tested answer; the comparisons that run explainers
``studies``    the neighbouring studies: ImageNet ResNet-50, stride/kernel sweep, misclassified Grad-CAM, FGSM
``reproduction`` profiles and the one-command run (``reproduce``)
=============  ===========================================================================================
"""
__version__ = "0.2.0"

import importlib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from drise_tf.core import console

#: public name -> (module, attribute in it; None: the module itself). Loaded on first use, so that ``import
#: drise_tf`` is instant and the command line can decide how quiet TensorFlow is before it is imported.
_EXPORTS: Dict[str, Tuple[str, Optional[str]]] = {
    "data": ("drise_tf.data", None),
    "evaluation": ("drise_tf.evaluation", None),
    "explain": ("drise_tf.explain", None),
    "metrics": ("drise_tf.metrics", None),
    "plotting": ("drise_tf.plotting", None),
    "reproduction": ("drise_tf.reproduction", None),
    "studies": ("drise_tf.studies", None),
    "training": ("drise_tf.training", None),
    "CLASS_NAMES": ("drise_tf.data", "CLASS_NAMES"),
    "NUM_CLASSES": ("drise_tf.data", "NUM_CLASSES"),
    "CifarDataError": ("drise_tf.data", "CifarDataError"),
    "CifarNotAvailableError": ("drise_tf.data", "CifarNotAvailableError"),
    "Standardizer": ("drise_tf.data", "Standardizer"),
    "load_cifar10": ("drise_tf.data", 'load_cifar10'),
    "make_eval_dataset": ("drise_tf.data", "make_eval_dataset"),
    "make_train_dataset": ("drise_tf.data", "make_train_dataset"),
    "split_train_val": ("drise_tf.data", "split_train_val"),
    "setup": ("drise_tf.experiment", "setup"),
    "AGGREGATIONS": ("drise_tf.explain", "AGGREGATIONS"),
    "DRise": ("drise_tf.explain", "DRise"),
    "Explainer": ("drise_tf.explain", "Explainer"),
    "available_explainers": ("drise_tf.explain", "available_explainers"),
    "class_visualisation": ("drise_tf.explain", "class_visualisation"),
    "make_explainer": ("drise_tf.explain", "make_explainer"),
    "masks": ("drise_tf.explain", "masks"),
    "normalize_maps": ("drise_tf.explain", "normalize_maps"),
    "register_explainer": ("drise_tf.explain", "register_explainer"),
    "similarity": ("drise_tf.explain", "similarity"),
    "evaluate_maps": ("drise_tf.evaluation", "evaluate_maps"),
    "explain_image_files": ("drise_tf.evaluation", "explain_image_files"),
    "write_report": ("drise_tf.evaluation", "write_report"),
    "deletion_insertion": ("drise_tf.metrics", "deletion_insertion"),
    "efficient_mprt": ("drise_tf.metrics", "efficient_mprt"),
    "mu_fidelity": ("drise_tf.metrics", "mu_fidelity"),
    "road": ("drise_tf.metrics", "road"),
    "rank_correlation": ("drise_tf.metrics", "rank_correlation"),
    "topk_overlap": ("drise_tf.metrics", "topk_overlap"),
    "FigureBook": ("drise_tf.plotting", "FigureBook"),
    "uncertainty_figure": ("drise_tf.plotting", "uncertainty_figure"),
    "Profile": ("drise_tf.reproduction", "Profile"),
    "get_profile": ("drise_tf.reproduction", "get_profile"),
    "reproduce": ("drise_tf.reproduction", "reproduce"),
    "epsilon_sweep": ("drise_tf.studies", "epsilon_sweep"),
    "fgsm": ("drise_tf.studies", "fgsm"),
    "build": ("drise_tf.training", "build"),
    "evaluate": ("drise_tf.training", "evaluate"),
    "evaluate_run": ("drise_tf.training", "evaluate_run"),
    "load_run": ("drise_tf.training", "load_run"),
    "predict_probs": ("drise_tf.training", "predict_probs"),
    "prediction_entropy": ("drise_tf.training", "prediction_entropy"),
    "resnet18": ("drise_tf.training", 'resnet18'),
    "select_images": ("drise_tf.training", "select_images"),
    "simple_cnn": ("drise_tf.training", "simple_cnn"),
    "train": ("drise_tf.training", "train"),
    "train_run": ("drise_tf.training", "train_run"),
}
__all__ = list(_EXPORTS)

# The same names again for static tools (Jedi, so Spyder's completion, calltips and Help; IDEs; type checkers),
# which cannot follow __getattr__; never run. tests/test_facade.py checks that this block and _EXPORTS agree.
if TYPE_CHECKING:
    import drise_tf.data as data  # noqa: F401
    import drise_tf.evaluation as evaluation  # noqa: F401
    import drise_tf.explain as explain  # noqa: F401
    import drise_tf.metrics as metrics  # noqa: F401
    import drise_tf.plotting as plotting  # noqa: F401
    import drise_tf.reproduction as reproduction  # noqa: F401
    import drise_tf.studies as studies  # noqa: F401
    import drise_tf.training as training  # noqa: F401
    from drise_tf.data import (  # noqa: F401
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
    from drise_tf.evaluation import evaluate_maps, explain_image_files, write_report  # noqa: F401
    from drise_tf.experiment import setup  # noqa: F401
    from drise_tf.explain import (  # noqa: F401
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
    from drise_tf.metrics import (  # noqa: F401
        deletion_insertion,
        efficient_mprt,
        mu_fidelity,
        rank_correlation,
        road,
        topk_overlap,
    )
    from drise_tf.plotting import FigureBook, uncertainty_figure  # noqa: F401
    from drise_tf.reproduction import Profile, get_profile, reproduce  # noqa: F401
    from drise_tf.studies import epsilon_sweep, fgsm  # noqa: F401
    from drise_tf.training import (  # noqa: F401
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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'drise_tf' has no attribute {name!r}")
    console.import_tensorflow()
    module_name, attribute = _EXPORTS[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
