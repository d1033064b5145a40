"""05 - D-RISE against RISE, Saliency, SmoothGrad, Grad-CAM, Grad-CAM++ and Faster-Score-CAM, and a sanity check.

On K test images: the maps of every method for the true class, deletion / insertion AUC (mean and 95% interval,
printed and written as CSV), a grid of maps, the AUC bars, the pairwise rank agreement; then the cascading
model-randomisation check of Adebayo et al. on a few top layers (a map that survives randomised weights does not
explain the model).
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/05_methods_comparison.py``.
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

from drise_tf import metrics, plots  # noqa: E402
from drise_tf.comparison import DEFAULT_METHODS, method_comparison, sanity_check  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "05_methods_comparison"
K_IMAGES = 50 if PROFILE_NAME == "quick" else profile.k_compare  # first K test images, explained for their TRUE class
# (50 here; `figures --profile quick` uses the profile's smaller k_compare to stay near 20 minutes)
N_MASKS = profile.compare_masks  # masks per D-RISE / RISE map
MASK_BATCH = profile.mask_batch
PRECISION = profile.precision
SEED = profile.seed
# display name -> (explainer name, options); see drise_tf.explainers.available() for more (e.g. "guided_backprop").
# The comparison passes SEED to every random method (masks, SmoothGrad noise), so the maps are reproducible.
METHODS = dict(DEFAULT_METHODS)
GRID_IMAGES = 6  # rows of the grid
STEP = None  # pixels per deletion / insertion step (None: H*W/32)
K_SANITY = min(8, K_IMAGES)  # images of the randomisation check
N_CASCADE_STEPS = None  # randomise this many stages (metrics.layer_groups), from the top down; None: all
SANITY_METHODS = METHODS  # methods checked (each is recomputed once per randomised layer)
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Load the trained model and the first K test images
model, standardizer = load_run(RUN_DIR)
_, (x_test, y_test) = load_cifar10(DATA)
images = x_test[:K_IMAGES]
labels = y_test.reshape(-1)[:K_IMAGES].astype(np.int64)
images_std = standardizer.transform(images)
drise_options = dict(n_masks=N_MASKS, grid_size=profile.grid_size, p=profile.p, batch_size=MASK_BATCH,
                     precision=PRECISION)  # shared by D-RISE and RISE

# %% Maps of every method, their deletion / insertion AUC and agreement
comparison = method_comparison(model, images_std, labels, methods=METHODS, step=STEP, seed=SEED, **drise_options)
print(comparison.format())
print("CSV:", comparison.write_csv(FIGURES_DIR / "methods_auc.csv"))

# %% Grid: the first images (rows) under each method (columns)
shown = min(GRID_IMAGES, len(images))
row_labels = [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(labels[:shown])]
fig = plots.saliency_grid(images[:shown], {name: maps[:shown] for name, maps in comparison.maps.items()},
                          row_labels=row_labels, title="Saliency methods")
plots.save(fig, FIGURES_DIR / "methods_grid.png", close=not KEEP_OPEN)

# %% Deletion (lower is better) and insertion (higher is better) AUC per method
fig = plots.metric_bars(comparison.table(), metric=["deletion_auc", "insertion_auc"],
                        title=f"Methods: deletion / insertion AUC over {len(images)} test images",
                        ylabel="AUC (mean, 95% interval)")
plots.save(fig, FIGURES_DIR / "methods_auc.png", close=not KEEP_OPEN)

# %% Agreement: mean Spearman rank correlation between every pair of methods
names, matrix = comparison.agreement
fig = plots.agreement_heatmap(names, matrix, title="Methods: mean Spearman rank correlation")
plots.save(fig, FIGURES_DIR / "methods_agreement.png", close=not KEEP_OPEN)

# %% Sanity check: randomise the top layers one after another and compare each method's maps with the originals
cascade = metrics.layer_groups(model)[:N_CASCADE_STEPS]  # one step per stage (stage4, stage3, ...)
rows = sanity_check(model, images_std[:K_SANITY], labels[:K_SANITY], methods=SANITY_METHODS, layers=cascade,
                    seed=SEED, **drise_options)
print(f"{'method':28s}" + "".join(f"{str(row['layer'] or 'original'):>14s}" for row in next(iter(rows.values()))))
for name, method_rows in rows.items():
    print(f"{name:28s}" + "".join(f"{row['spearman']:14.3f}" for row in method_rows))
fig = plots.randomization_figure(rows, title="Cascading randomisation: Spearman correlation with the trained maps")
plots.save(fig, FIGURES_DIR / "methods_sanity_check.png", close=not KEEP_OPEN)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
