"""09 - The saliency study on the thesis model: class model images, vanilla saliency and guided backpropagation.

Activation maximisation (tf-keras-vis ``ActivationMaximization`` on the class logit, with jitter, rotation,
total-variation and L1 regularisers) renders one image per class, i.e. what the model "looks for"; then vanilla
saliency and guided backpropagation maps of a few test images.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/09_class_visualisation.py``.
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
import numpy as np  # noqa: E402

from drise_tf import explainers, plots  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "09_class_visualisation"
CLASSES = list(range(len(CLASS_NAMES)))  # one image per class
STEPS = 5 if PROFILE_NAME == "tiny" else 200  # optimisation steps
SEED = profile.seed
JITTER, ROTATION = 2, 1.0  # random roll (pixels) and rotation (degrees) before every step
TOTAL_VARIATION, NORM = 1.0, 0.3  # regulariser weights
LEARNING_RATE = 0.1
K_IMAGES = 6  # test images with saliency and guided backpropagation
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Load the trained model; the images live in its standardised input space, clipped to the valid pixel range
model, standardizer = load_run(RUN_DIR)
low, high = standardizer.bounds()  # standardised values of pixels 0 and 255, per channel
input_range = (float(low.min()), float(high.max()))

# %% Class model images by activation maximisation, shown as pixels
generated = explainers.class_visualisation(
    model, CLASSES, steps=STEPS, seed=SEED, input_range=input_range, jitter=JITTER, rotation=ROTATION,
    total_variation=TOTAL_VARIATION, norm=NORM, learning_rate=LEARNING_RATE,
)
probabilities = np.asarray(model(generated, training=False))
titles = [f"{CLASS_NAMES[c]}\np={probabilities[i, c]:.2f}" for i, c in enumerate(CLASSES)]
fig = plots.labelled_image_grid(standardizer.to_uint8(generated), titles, ncols=5,
                                suptitle=f"Class model images (activation maximisation, {STEPS} steps)")
plots.save(fig, FIGURES_DIR / "class_visualisation.png", close=not KEEP_OPEN)

# %% Vanilla saliency and guided backpropagation of the first test images, for their true class
_, (x_test, y_test) = load_cifar10(DATA)
images, labels = x_test[:K_IMAGES], y_test.reshape(-1)[:K_IMAGES].astype(np.int64)
images_std = standardizer.transform(images)
maps = {name: explainers.make(method, model, normalize="minmax").explain(images_std, labels)
        for name, method in (("Saliency", "saliency"), ("Guided backprop", "guided_backprop"))}
fig = plots.saliency_grid(images, maps, row_labels=[CLASS_NAMES[c] for c in labels],
                          title="Gradient maps of the true class")
plots.save(fig, FIGURES_DIR / "saliency_guided_backprop.png", close=not KEEP_OPEN)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
