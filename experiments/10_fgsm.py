"""10 - FGSM adversarial examples (Goodfellow et al. 2015) against the thesis model.

x_adv = clip(x + epsilon * sign(grad_x loss)) in the model's standardised input space, clipped to the valid pixel
range. The test accuracy is swept over epsilon (one gradient per image, reused for every epsilon), and a few
images are shown clean and attacked with the model's labels. Epsilon is in standardised units: one unit is about
one channel std (roughly 0.25 of the pixel range, i.e. ~63 grey levels), so 0.02 is about 1.3 grey levels.
More models (other runs) can be compared in one figure: add them to RUN_DIRS.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/10_fgsm.py``.
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

from drise_tf import adversarial, plots  # noqa: E402
from drise_tf.data import CLASS_NAMES, load_cifar10  # noqa: E402
from drise_tf.profiles import get_profile  # noqa: E402
from drise_tf.training import load_run  # noqa: E402

# %% Parameters (the only place to edit)
PROFILE_NAME = os.environ.get("DRISE_TF_EXPERIMENT_PROFILE", "quick")  # the profile script 01 trained
profile = get_profile(PROFILE_NAME)
DATA = os.environ.get("DRISE_TF_DATA")  # CIFAR-10 source; None: Keras download / cache
ROOT = pathlib.Path(os.environ.get("DRISE_TF_OUTPUT") or pathlib.Path(__file__).resolve().parents[1])
RUN_DIRS = {f"{profile.architecture} ({PROFILE_NAME})": ROOT / "models" / profile.run_name}  # label -> run folder
FIGURES_DIR = ROOT / "figures" / "experiments" / "10_fgsm"
N_TEST = 64 if PROFILE_NAME == "tiny" else 1000  # test images of the sweep
EPSILONS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)  # standardised units
EPSILON_SHOWN = 0.05  # epsilon of the example figure
K_IMAGES = 8  # examples shown (from the first model)
KEEP_OPEN = matplotlib.get_backend().lower() != "agg"  # keep figures open where they can be seen

# %% Test images
_, (x_test, y_test) = load_cifar10(DATA)
x_test, y_test = x_test[:N_TEST], y_test.reshape(-1)[:N_TEST].astype(np.int64)

# %% Accuracy against epsilon for every model
accuracies = {}
for label, run_dir in RUN_DIRS.items():
    model, standardizer = load_run(run_dir)
    low, high = standardizer.bounds()  # valid standardised pixel range, per channel
    sweep = adversarial.epsilon_sweep(model, standardizer.transform(x_test), y_test, EPSILONS, clip_min=low,
                                      clip_max=high)
    accuracies[label] = sweep["accuracy"]
    print(label, "  ".join(f"eps {e:g}: {a:.3f}" for e, a in zip(sweep["epsilon"], sweep["accuracy"])))
fig = plots.accuracy_sweep_figure(EPSILONS, accuracies, xlabel="epsilon (standardised units)",
                                  title="FGSM: test accuracy against epsilon")
plots.save(fig, FIGURES_DIR / "fgsm_accuracy.png", close=not KEEP_OPEN)

# %% Clean and attacked examples (first model), with the model's label and probability
model, standardizer = load_run(next(iter(RUN_DIRS.values())))
low, high = standardizer.bounds()  # valid standardised pixel range, per channel
clean = standardizer.transform(x_test[:K_IMAGES])
attacked = adversarial.fgsm(model, clean, y_test[:K_IMAGES], EPSILON_SHOWN, clip_min=low, clip_max=high)
both = np.concatenate([clean, attacked])
probs = np.asarray(model(both, training=False))
titles = [f"{'clean' if i < K_IMAGES else 'FGSM'}: {CLASS_NAMES[p.argmax()]} {p.max():.2f}"
          for i, p in enumerate(probs)]
fig = plots.labelled_image_grid(standardizer.to_uint8(both), titles, ncols=K_IMAGES,
                                suptitle=f"Clean (top) and FGSM images (bottom), epsilon {EPSILON_SHOWN}")
plots.save(fig, FIGURES_DIR / "fgsm_examples.png", close=not KEEP_OPEN)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if KEEP_OPEN:
    plt.show()
