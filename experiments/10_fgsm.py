"""10 - FGSM adversarial examples (Goodfellow et al. 2015) against the trained model of script 01.

x_adv = clip(x + epsilon * sign(grad_x loss)) in the model's standardised input space, clipped to the valid pixel
range. The test accuracy is swept over epsilon (one gradient per image, reused for every epsilon), and a few
images are shown clean and attacked with the model's labels. Epsilon is in standardised units: one unit is about
one channel std (roughly 0.25 of the pixel range, i.e. ~63 grey levels), so 0.02 is about 1.3 grey levels.
More models (other runs) can be compared in one figure: add them to OTHER_RUNS.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/10_fgsm.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt
import numpy as np

from drise_tf import CLASS_NAMES, load_run, plotting, setup, studies

exp = setup(__file__)

# %% Parameters
N_TEST = 64 if exp.profile.name == "tiny" else 1000  # test images of the sweep
EPSILONS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)  # standardised units
EPSILON_SHOWN = 0.05  # epsilon of the example figure
K_IMAGES = 8  # examples shown (of the profile's model)
OTHER_RUNS = {}  # label -> run folder of more trained models to compare, e.g. {"thesis": exp.root / "models/thesis"}

# %% The test images; the models to attack: the profile's run and OTHER_RUNS (model, standardizer each)
x_test, y_test = exp.x_test[:N_TEST], exp.y_test[:N_TEST]
runs = {f"{exp.profile.architecture} ({exp.profile.name})": (exp.model, exp.standardizer)}
runs.update({label: load_run(run_dir) for label, run_dir in OTHER_RUNS.items()})

# %% Accuracy against epsilon for every model, the attack clipped to the standardised values of pixels 0 and 255
accuracies = {}
for label, (model, standardizer) in runs.items():
    low, high = standardizer.bounds()
    sweep = studies.epsilon_sweep(model, standardizer.transform(x_test), y_test, EPSILONS, clip_min=low, clip_max=high)
    accuracies[label] = sweep["accuracy"]
    print(label, "  ".join(f"eps {e:g}: {a:.3f}" for e, a in zip(sweep["epsilon"], sweep["accuracy"])))
fig = plotting.accuracy_sweep_figure(EPSILONS, accuracies, xlabel="epsilon (standardised units)",
                                     title="FGSM: test accuracy against epsilon")
plotting.save(fig, exp.figures_dir / "fgsm_accuracy.png", close=not exp.keep_open)

# %% Clean and attacked examples (the profile's model), with the model's label and probability
low, high = exp.standardizer.bounds()
clean = exp.standardizer.transform(x_test[:K_IMAGES])
attacked = studies.fgsm(exp.model, clean, y_test[:K_IMAGES], EPSILON_SHOWN, clip_min=low, clip_max=high)
both = np.concatenate([clean, attacked])
probs = np.asarray(exp.model(both, training=False))
titles = [f"{'clean' if i < K_IMAGES else 'FGSM'}: {CLASS_NAMES[p.argmax()]} {p.max():.2f}"
          for i, p in enumerate(probs)]
fig = plotting.labelled_image_grid(exp.standardizer.to_uint8(both), titles, ncols=K_IMAGES,
                                   suptitle=f"Clean (top) and FGSM images (bottom), epsilon {EPSILON_SHOWN}")
plotting.save(fig, exp.figures_dir / "fgsm_examples.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
