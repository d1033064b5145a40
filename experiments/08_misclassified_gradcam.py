"""08 - Grad-CAM on misclassified test images (the PyTorch ResNet-18 study's analysis, SPEC 3).

The first K misclassified test images (in test-set order), each with its true and predicted label and the Grad-CAM
map of the predicted class (or of the true class: TARGET). The study trained its ResNet-18 with a one-cycle policy:
train such a run with script 01 and RECIPE = "onecycle", then point RUN_DIR at it; by default this script uses the
run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/08_misclassified_gradcam.py``.
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

from drise_tf import plots, studies  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.explainers import default_cam_layer  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "08_misclassified_gradcam"
N_TEST = profile.n_test  # search the first N_TEST test images (None: all)
K_IMAGES = 10  # misclassified images shown
TARGET = "predicted"  # the class Grad-CAM explains: "predicted" (why the wrong answer) or "true"
LAYER = None  # CAM layer; None: the last convolutional block
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Load the trained model and the test images
model, standardizer = load_run(RUN_DIR)
_, (x_test, y_test) = load_cifar10(DATA)
y_test = y_test.reshape(-1).astype(np.int64)
if N_TEST is not None:
    x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]
print("Grad-CAM layer:", LAYER or default_cam_layer(model))

# %% Grad-CAM of the first K misclassified images
found = studies.misclassified_gradcam(model, standardizer.transform(x_test), y_test, k=K_IMAGES, target=TARGET,
                                      layer=LAYER)
for index, true, predicted in zip(found["indices"], found["true"], found["predicted"]):
    print(f"test #{int(index):5d}: true {CLASS_NAMES[true]:10s} predicted {CLASS_NAMES[predicted]}")

# %% Grid: each image with its labels and the map over it
if len(found["indices"]) == 0:
    print("no misclassified image among the searched test images")
else:
    titles = [f"true: {CLASS_NAMES[t]}\npred: {CLASS_NAMES[p]}" for t, p in zip(found["true"], found["predicted"])]
    fig = plots.labelled_image_grid(x_test[found["indices"]], titles, maps=found["maps"],
                                    suptitle=f"Grad-CAM ({TARGET} class) on misclassified test images")
    plots.save(fig, FIGURES_DIR / "misclassified_gradcam.png", close=not KEEP_OPEN)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
