"""01 - Train the thesis model: CIFAR ResNet-18 with the thesis recipe (SPEC 1.1-1.2).

Run in Spyder (cell by cell, or all at once) or as ``python experiments/01_train_thesis_model.py``.
The default settings are the "quick" profile's: on a 2-core CPU that trains ResNet-18 at ~18 images/s, it trains
the Keras CNN study's simple_cnn (adam_cnn recipe, 16k images, 5 epochs, a few minutes) instead. The full thesis recipe is PROFILE_NAME = "thesis" (100 epochs on 40k images, originals + augmented
copy, the learning-rate quirk, epoch-0 point on the test set); it needs the full CIFAR-10 and a GPU.
The trained run lands in ``models/<profile>/``; scripts 02-10 read it from there.
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

from drise_tf import plots  # noqa: E402
from drise_tf.data import train_steps_per_epoch  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.schedules import learning_rate_at, thesis_learning_rate  # noqa: E402
from drise_tf.training import train_run  # noqa: E402

# %% Parameters (the only place to edit)
# "quick" runs here; "thesis" is the full recipe (set it to reproduce the thesis); "tiny" is for the tests.
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source (.npz, tarball, folder); None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIR = ROOT / "models" / profile.run_name  # where the model, standardizer, history and evaluation go
FIGURES_DIR = ROOT / "figures" / "experiments" / "01_train_thesis_model"
ARCHITECTURE = profile.architecture  # "resnet18" (thesis) or "simple_cnn"
RECIPE = profile.recipe  # "thesis": SGD momentum 0.9, cosine decay 0.1 -> 0, batch 128; quick: "adam_cnn"
EPOCHS = profile.epochs  # thesis: 100
N_TRAIN = profile.n_train  # thesis: None = all training images but the last N_VAL (40,000 on full CIFAR-10)
N_VAL = profile.n_val  # thesis: 10,000 (the last training images)
N_TEST = profile.n_test  # thesis: None = the whole official test set
AUGMENTATION = profile.augmentation  # thesis: "thesis" (originals + an augmented copy per epoch); quick: "none"
PRECISION = profile.precision  # "float32"; "bfloat16" pays off only on hardware with native bfloat16 (GPUs)
LR_QUIRK = profile.lr_quirk  # thesis: True (decay length from 40k images: the rate is 0 from epoch 50 on)
EPOCH0_VAL = profile.epoch0_val  # thesis: "test" (its epoch-0 "validation" point was computed on the test set)
SEED = profile.seed
RESUME = True  # continue an interrupted run from its last checkpoint (same settings only)
VERBOSE = 2  # Keras output: 0 silent, 1 progress bar, 2 one line per epoch

# %% Train (or resume), save the model, the standardizer, the history and the test evaluation into RUN_DIR
result = train_run(
    RUN_DIR, recipe=RECIPE, architecture=ARCHITECTURE, data=DATA, n_train=N_TRAIN, n_val=N_VAL, n_test=N_TEST,
    epochs=EPOCHS, augmentation=AUGMENTATION, seed=SEED, precision=PRECISION, resume=RESUME, lr_quirk=LR_QUIRK,
    epoch0_val=EPOCH0_VAL, verbose=VERBOSE,
)
print("model:", result["model_path"])
print(f"test accuracy {result['evaluation']['accuracy']:.4f}, test loss {result['evaluation']['loss']:.4f}")

# %% The learning rate per epoch as trained, beside the thesis schedule with and without its quirk
history = result["history"]
steps_per_epoch = train_steps_per_epoch(40000, 128, "thesis")  # 625: (40k originals + 40k copies) / 128
fig, ax = plt.subplots(figsize=(6, 4))
for quirk, style in ((True, "r--"), (False, "b-")):
    schedule = thesis_learning_rate(steps_per_epoch, 100, lr_quirk=quirk)
    ax.plot(range(101), [learning_rate_at(schedule, e * steps_per_epoch) for e in range(101)], style,
            label=f"thesis recipe, lr_quirk={quirk}")
ax.plot(history["epoch"], history["lr"], "ko", label=f"this run ({PROFILE_NAME}, lr_quirk={LR_QUIRK})")
ax.set_xlabel("Epoch")
ax.set_ylabel("Learning rate (next step)")
ax.set_title("Cosine decay: the thesis's quirk reaches 0 at epoch 50")
ax.legend()
fig.tight_layout()
plots.save(fig, FIGURES_DIR / "learning_rate.png")

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
