"""06 - The Grad-CAM study: a pretrained ImageNet ResNet-50 (no fine-tuning) on CIFAR-10 images resized 32 -> 224.

Five test samples (an airplane, an automobile, a ship, a truck, a horse) are resized to 224x224 and standardised
with the ImageNet mean and std; the model's top ImageNet labels are printed, and Grad-CAM, Grad-CAM++ and
Faster-Score-CAM maps of the top-1 class are drawn side by side.

Offline: the pretrained weights (about 100 MB) are downloaded once into the Keras cache (~/.keras/models or
$KERAS_HOME/models). Without internet and without that file, loading them fails with a RuntimeError that says
what to do; this script then prints that message and, with FALLBACK_TO_RANDOM_WEIGHTS = True, goes on with a
RANDOMLY initialised ResNet-50 so that the pipeline still runs -- its labels and maps are then meaningless, and
every title says "random weights". To use the real weights offline, copy
``resnet50_weights_tf_dim_ordering_tf_kernels.h5`` into the Keras cache, or set WEIGHTS to the file's path.
Run in Spyder or as ``python experiments/06_imagenet_resnet50_cifar.py``.
"""
# %% Imports; a headless `python` run draws with Agg (files only), Spyder shows figures in its Plots pane
from __future__ import annotations

import os
import pathlib
import sys

import matplotlib

if "IPython" not in sys.modules and not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from drise_tf import imagenet, plots  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402

# %% Parameters (the only place to edit)
TINY = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE") == "tiny"  # the tests: random weights, small input
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
FIGURES_DIR = ROOT / "figures" / "experiments" / "06_imagenet_resnet50_cifar"
WEIGHTS = None if TINY else "imagenet"  # "imagenet" (download once), None (random) or a path to a weights file
FALLBACK_TO_RANDOM_WEIGHTS = True  # offline without the weights: go on with random weights (clearly labelled)
INPUT_SIZE = 64 if TINY else 224  # the study: 224 (pretrained weights with the top need 224)
SAMPLE_CLASSES = imagenet.STUDY_CLASSES  # the first test image of each of these CIFAR-10 classes
PREPROCESSING = "caffe"  # what Keras's ImageNet weights expect; the study's "torch" mean/std suits PyTorch weights
METHODS = ("gradcam", "gradcam++", "faster_scorecam")  # CAMs on the last conv block (conv5_block3_out)
TOP = 5  # ImageNet labels printed per image
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Load ResNet-50; offline without the ImageNet weights, say so and (optionally) fall back to random weights
weights_used = WEIGHTS
try:
    model = imagenet.load_resnet50(weights=WEIGHTS, input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
except RuntimeError as error:
    if not FALLBACK_TO_RANDOM_WEIGHTS:
        raise
    print(f"\n*** {error}\n*** Continuing with RANDOM weights: the labels and maps below are meaningless.\n")
    weights_used = None
    model = imagenet.load_resnet50(weights=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
note = "" if weights_used == "imagenet" else " (random weights)" if weights_used is None else f" ({weights_used})"

# %% The study's five test images
_, (x_test, y_test) = load_cifar10(DATA)
indices = imagenet.pick_samples(y_test, SAMPLE_CLASSES)
images = x_test[indices]

# %% ImageNet labels of each image and CAMs of its top-1 class
study = imagenet.imagenet_on_cifar(model, images, methods=METHODS, preprocessing=PREPROCESSING, top=TOP)
for index, cifar_class, predictions in zip(indices, SAMPLE_CLASSES, study["predictions"]):
    labels = ", ".join(f"{name} {prob:.3f}" for _, name, prob in predictions)
    print(f"test #{int(index):5d} ({cifar_class}): {labels}")

# %% Figures: the resized images with their top-1 ImageNet label, then the CAMs side by side
titles = [f"{cifar}\n-> {predictions[0][1]}" for cifar, predictions in zip(SAMPLE_CLASSES, study["predictions"])]
fig = plots.labelled_image_grid(study["images"], titles, ncols=len(titles),
                                suptitle=f"ResNet-50{note} on CIFAR-10 resized to {INPUT_SIZE}")
plots.save(fig, FIGURES_DIR / "imagenet_labels.png", close=not KEEP_OPEN)
fig = plots.saliency_grid(study["images"], study["maps"], row_labels=list(SAMPLE_CLASSES),
                          title=f"CAMs of the top-1 ImageNet class, ResNet-50{note}")
plots.save(fig, FIGURES_DIR / "imagenet_cams.png", close=not KEEP_OPEN)
print("CIFAR-10 classes of the samples:", [CLASS_NAMES[int(y_test.reshape(-1)[i])] for i in indices])

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
