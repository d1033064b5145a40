"""07 - The Keras CNN study: a small CNN with strides 1, 2, 3 and kernels 3x3, 4x4 (SPEC 3).

Each (stride, kernel) pair trains ``simple_cnn`` (Conv2D 32 + BN + MaxPool, Conv2D 64 + BN + MaxPool, Dense 10,
L2 0.001) with the ``adam_cnn`` recipe (Adam, 5 epochs, 20% validation split, best-val_accuracy checkpoint); the
test accuracies are printed, written as CSV and plotted against the stride. The study reported after 5 epochs:
stride 1: 0.617, stride 2: 0.558, stride 3: 0.481. Then vanilla saliency and Grad-CAM of the stride-1, 3x3 model.
Standalone (trains its own models). Run in Spyder or as ``python experiments/07_stride_kernel_sweep.py``.
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
from drise_tf._compat import MODEL_SUFFIX, load_model  # noqa: E402
from drise_tf.data import CLASS_NAMES, Standardizer, load_cifar10  # noqa: E402

# %% Parameters (the only place to edit)
TINY = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE") == "tiny"  # the tests: few images, one epoch, two models
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUNS_DIR = ROOT / "models" / "stride_kernel_sweep"  # one sub-folder per model (s<stride>_k<kernel>)
FIGURES_DIR = ROOT / "figures" / "experiments" / "07_stride_kernel_sweep"
N_TRAIN = 300 if TINY else 20000  # the study used all 50,000 (80% train, 20% validate); the dev subset has 20,000
N_TEST = 200 if TINY else None  # None: the whole test set
STRIDES = (1, 3) if TINY else (1, 2, 3)
KERNELS = (3,) if TINY else (3, 4)
EPOCHS = 1 if TINY else None  # None: the recipe's 5 epochs
SEED = 0
K_MAPS = 4 if TINY else 8  # test images shown with saliency and Grad-CAM
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Data: the first N_TRAIN training images (the recipe validates on their last 20%), standardised
(x_train, y_train), (x_test, y_test) = load_cifar10(DATA)
x_train, y_train = x_train[:N_TRAIN], y_train.reshape(-1)[:N_TRAIN].astype(np.int64)
y_test = y_test.reshape(-1).astype(np.int64)
if N_TEST is not None:
    x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]
standardizer = Standardizer.fit(x_train)
x_train_std, x_test_std = standardizer.transform(x_train), standardizer.transform(x_test)

# %% Train every (stride, kernel) model and tabulate its test accuracy
rows = studies.stride_kernel_sweep(x_train_std, y_train, x_test_std, y_test, strides=STRIDES, kernels=KERNELS,
                                   epochs=EPOCHS, seed=SEED, out_dir=str(RUNS_DIR), verbose=2)
print(studies.format_table(rows))
print("CSV:", studies.write_table_csv(rows, str(FIGURES_DIR / "stride_kernel_sweep.csv")))

# %% Test accuracy against the stride, one line per kernel size
accuracies = {f"kernel {k}x{k}": [next(r["test_accuracy"] for r in rows if r["strides"] == s and r["kernel_size"] == k)
                                  for s in STRIDES] for k in KERNELS}
fig = plots.accuracy_sweep_figure(STRIDES, accuracies, xlabel="Stride",
                                  title="Simple CNN: test accuracy by stride and kernel")
plots.save(fig, FIGURES_DIR / "stride_kernel_accuracy.png", close=not KEEP_OPEN)

# %% Vanilla saliency and Grad-CAM of the first sweep model (its best checkpoint), as in the study's figure
first = RUNS_DIR / f"s{STRIDES[0]}_k{KERNELS[0]}" / "checkpoints" / f"best{MODEL_SUFFIX}"
model = load_model(first)
maps = studies.saliency_and_gradcam(model, x_test_std[:K_MAPS], y_test[:K_MAPS])
fig = plots.saliency_grid(x_test[:K_MAPS], {"Saliency": maps["saliency"], "Grad-CAM": maps["gradcam"]},
                          row_labels=[CLASS_NAMES[c] for c in y_test[:K_MAPS]],
                          title=f"Simple CNN (stride {STRIDES[0]}, kernel {KERNELS[0]}x{KERNELS[0]})")
plots.save(fig, FIGURES_DIR / "saliency_gradcam.png", close=not KEEP_OPEN)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
