"""02 - Evaluate the trained run: learning curves, confusion matrix, test report (thesis figures 1-3, SPEC 1.4).

Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/02_evaluate.py``.
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

from drise_tf.figure_sets import FigureBook, training_figures  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import evaluate_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name
FIGURES_DIR = ROOT / "figures" / "experiments" / "02_evaluate"
N_TEST = profile.n_test  # None: the whole test set
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Re-evaluate the saved model on the test set: loss, accuracy, per-class accuracy, raw confusion matrix
evaluation = evaluate_run(RUN_DIR, data=DATA, n_test=N_TEST)
if "train" in evaluation:
    print(f"training split: accuracy {evaluation['train']['accuracy']:.4f}, loss {evaluation['train']['loss']:.4f}")

# %% Thesis figures 1-3: training / validation loss and accuracy per epoch (epoch 0 = before training), confusion
book = FigureBook(FIGURES_DIR, "python experiments/02_evaluate.py",
                  {"profile": PROFILE_NAME, "run_dir": str(RUN_DIR), "n_test": N_TEST}, keep_open=KEEP_OPEN)
training_figures(book, RUN_DIR)
print("index:", book.write_index())

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
