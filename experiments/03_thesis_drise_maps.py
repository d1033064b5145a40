"""03 - The thesis's D-RISE maps (SPEC 1.3-1.4, figure 4): 5 cats classified as cat, 5 cats classified as dog.

For each selected test image (first K in test-set order): the 3D surface of the raw weighted sum with planes at
0.1*N*p and N*p (its scale), and the "Original Image" / "Saliency Map" overlay figure. The prediction entropy
(bits) of each image is printed, as the thesis computed it. The class pair is configurable.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/03_thesis_drise_maps.py``.
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

from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.figure_sets import FigureBook, thesis_drise_figures  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "03_thesis_drise_maps"
TRUE_CLASS = CLASS_NAMES.index("cat")  # images of this class ...
PAIR_CLASS = CLASS_NAMES.index("dog")  # ... classified as itself, and as this class
K_IMAGES = profile.k_images  # images per group (thesis: 5)
N_MASKS = profile.n_masks  # thesis: 5000 (quick: 2000)
GRID_SIZE = profile.grid_size  # thesis: 16x16 cells
P_KEEP = profile.p  # thesis: 0.5
MASK_BATCH = profile.mask_batch  # masked images per forward pass (thesis: 100)
PRECISION = profile.precision  # forward passes in "float32" or "bfloat16"
SEED = profile.seed  # seed of the masks (the thesis set none)
N_TEST = profile.n_test  # search the first N_TEST test images (None: all)
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Load the trained model, its standardizer and the test images
model, standardizer = load_run(RUN_DIR)
_, (x_test, y_test) = load_cifar10(DATA)
y_test = y_test.reshape(-1).astype(np.int64)
if N_TEST is not None:
    x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]

# %% Select the images, explain them with the thesis's D-RISE, draw the surface and overlay figure of each
settings = profile.replace(k_images=K_IMAGES, n_masks=N_MASKS, grid_size=GRID_SIZE, p=P_KEEP,
                           mask_batch=MASK_BATCH, precision=PRECISION, seed=SEED)
book = FigureBook(FIGURES_DIR, "python experiments/03_thesis_drise_maps.py",
                  {"profile": PROFILE_NAME, "true_class": TRUE_CLASS, "pair_class": PAIR_CLASS,
                   "k_images": K_IMAGES, "n_masks": N_MASKS, "grid_size": GRID_SIZE, "p": P_KEEP, "seed": SEED},
                  keep_open=KEEP_OPEN)
result = thesis_drise_figures(book, model, standardizer, x_test, y_test, settings,
                              true_class=TRUE_CLASS, pair_class=PAIR_CLASS)
print("index:", book.write_index())

# %% Prediction entropy (bits) and the scale of each raw map (the thesis computed the entropy and did not use it)
position = 0
for group, indices in result["indices"].items():
    print(f"{group}: test images {list(map(int, indices))}")
    for index in indices:
        weighted_sum = result["maps"][position]
        print(f"  #{int(index):5d}  entropy {result['entropy'][position]:.3f} bits   "
              f"map min {weighted_sum.min():9.2f}  max {weighted_sum.max():9.2f}  (N*p = {N_MASKS * P_KEEP:g})")
        position += 1

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
