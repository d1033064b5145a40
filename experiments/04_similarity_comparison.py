"""04 - Which similarity score should weight the D-RISE masks? Every registered score x every normalisation.

On K test images (default 50 on the quick profile), D-RISE maps under each similarity score (cosine as in the
thesis, cross-entropy as the thesis proposed, probability, margin, KL, ...) and each normalisation (none, N*p,
coverage, debiased), all from one pass of forward passes; then deletion / insertion AUC per variant (mean and 95%
interval, printed and written as CSV), a grid of maps (images x scores), the AUC bars per normalisation and the
pairwise agreement (Spearman rank correlation, top-10% overlap). A custom score is registered in a few lines
(cell 3) and compared with the built-in ones.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/04_similarity_comparison.py``.
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
import tensorflow as tf  # noqa: E402

from drise_tf import metrics, plots, similarity  # noqa: E402
from drise_tf.comparison import similarity_comparison  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.drise import NORMALIZATIONS  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "04_similarity_comparison"
K_IMAGES = 50 if PROFILE_NAME == "quick" else profile.k_compare  # first K test images, explained for their TRUE class
# (50 here; `figures --profile quick` uses the profile's smaller k_compare to stay near 20 minutes)
N_MASKS = profile.compare_masks  # masks per map (quick: 500)
GRID_SIZE = profile.grid_size
P_KEEP = profile.p
MASK_BATCH = profile.mask_batch
PRECISION = profile.precision
SEED = profile.seed  # same seed, same masks, same maps
SIMILARITIES = None  # None: every registered score (including the custom one below); or a list of names
NORMALIZATIONS_COMPARED = NORMALIZATIONS  # ("none", "np", "coverage", "debiased")
GRID_NORMALIZATION = "none"  # normalisation of the maps drawn in the grid (the thesis: "none")
GRID_IMAGES = 6  # rows of the grid
STEP = None  # pixels per deletion / insertion step (None: H*W/32, i.e. 32 on 32x32)
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen


# %% A custom similarity score: register it, and every comparison below includes it
@similarity.register("log_odds", description="log-odds of the target class, log p_t - log(1 - p_t)",
                     higher_is_kept=True, overwrite=True)  # overwrite: re-running the cell replaces it
def log_odds(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    p_target = tf.clip_by_value(tf.reduce_sum(probs * target, axis=-1), 1e-6, 1.0 - 1e-6)  # float32 may exceed 1
    return tf.math.log(p_target) - tf.math.log(1.0 - p_target)


print("registered scores:", similarity.available())

# %% Load the trained model and the first K test images
model, standardizer = load_run(RUN_DIR)
_, (x_test, y_test) = load_cifar10(DATA)
images = x_test[:K_IMAGES]
labels = y_test.reshape(-1)[:K_IMAGES].astype(np.int64)
images_std = standardizer.transform(images)

# %% Maps under every score and normalisation, their deletion / insertion AUC and agreement
comparison = similarity_comparison(
    model, images_std, labels, similarities=SIMILARITIES, normalizations=NORMALIZATIONS_COMPARED, step=STEP,
    n_masks=N_MASKS, grid_size=GRID_SIZE, p=P_KEEP, batch_size=MASK_BATCH, precision=PRECISION, seed=SEED,
)
print(comparison.format())
print("CSV:", comparison.write_csv(FIGURES_DIR / "similarity_auc.csv"))

# %% Grid: the first images (rows) under each score (columns), one normalisation
shown = min(GRID_IMAGES, len(images))
chosen = {name.split("/")[0]: maps for name, maps in comparison.maps.items() if name.endswith("/" + GRID_NORMALIZATION)}
row_labels = [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(labels[:shown])]
fig = plots.saliency_grid(images[:shown], {name: maps[:shown] for name, maps in chosen.items()},
                          row_labels=row_labels,
                          title=f"D-RISE maps per similarity score (normalisation {GRID_NORMALIZATION!r})")
plots.save(fig, FIGURES_DIR / "similarity_grid.png", close=not KEEP_OPEN)

# %% Deletion (lower is better) and insertion (higher is better) AUC per score, one figure per normalisation
table = comparison.table()
for normalization in NORMALIZATIONS_COMPARED:
    rows = [{**row, "name": row["name"].split("/")[0]} for row in table if row["name"].endswith("/" + normalization)]
    fig = plots.metric_bars(rows, metric=["deletion_auc", "insertion_auc"], ylabel="AUC (mean, 95% interval)",
                            title=f"Similarity scores, normalisation {normalization!r}: AUC over {len(images)} images")
    plots.save(fig, FIGURES_DIR / f"similarity_auc_{normalization}.png", close=not KEEP_OPEN)

# %% Agreement between scores (one normalisation): mean Spearman rank correlation and top-10% overlap
names, matrix = comparison.agreement
keep = [i for i, name in enumerate(names) if name.endswith("/" + GRID_NORMALIZATION)]
fig = plots.agreement_heatmap(list(chosen), matrix[np.ix_(keep, keep)],
                              title=f"Similarity scores ({GRID_NORMALIZATION!r}): mean Spearman rank correlation")
plots.save(fig, FIGURES_DIR / "similarity_agreement.png", close=not KEEP_OPEN)
overlap_names, overlap = metrics.agreement_matrix(chosen, metric="topk", fraction=0.1)
fig = plots.agreement_heatmap(overlap_names, overlap,
                              title=f"Similarity scores ({GRID_NORMALIZATION!r}): mean top-10% overlap")
plots.save(fig, FIGURES_DIR / "similarity_topk_overlap.png", close=not KEEP_OPEN)
np.savetxt(FIGURES_DIR / "similarity_agreement_all.csv", matrix, delimiter=",", fmt="%.4f",
           header=",".join(names), comments="")  # every score x normalisation pair

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
