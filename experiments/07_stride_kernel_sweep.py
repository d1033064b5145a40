"""07 - The Keras CNN study: a small CNN with strides 1, 2, 3 and kernels 3x3, 4x4.

Each (stride, kernel) pair trains ``simple_cnn`` (Conv2D 32 + BN + MaxPool, Conv2D 64 + BN + MaxPool, Dense 10,
L2 0.001) with the ``adam_cnn`` recipe (Adam, 5 epochs, 20% validation split, best-val_accuracy checkpoint); the
test accuracies are printed, written as CSV and plotted against the stride. The study reported after 5 epochs:
stride 1: 0.617, stride 2: 0.558, stride 3: 0.481. Then vanilla saliency and Grad-CAM of the first model.
On the tests' tiny profile: 300 training images, one epoch, strides 1 and 3 with kernel 3x3.
Standalone (trains its own models). Run in Spyder or as ``python experiments/07_stride_kernel_sweep.py``.
"""
# %% Set-up: backend, profile and paths (see drise_tf/experiment.py); this script trains the models it uses
import matplotlib.pyplot as plt
import numpy as np

from drise_tf import CLASS_NAMES, Standardizer, load_cifar10, make_explainer, plotting, setup, studies, training

exp = setup(__file__, load_data=False, load_model=False)

# %% Parameters
TINY = exp.profile.name == "tiny"  # the tests: few images, one epoch, two models
RUNS_DIR = exp.root / "models" / "stride_kernel_sweep"  # checkpoints, one sub-folder per model (s<stride>_k<kernel>)
N_TRAIN = 300 if TINY else 20000  # the study used all 50,000 (80% train, 20% validate); the dev subset has 20,000
N_TEST = 200 if TINY else None  # None: the whole test set
STRIDES = (1, 3) if TINY else (1, 2, 3)  # the study: 1, 2, 3
KERNELS = (3,) if TINY else (3, 4)  # the study: 3x3 and 4x4
EPOCHS = 1 if TINY else None  # None: the recipe's 5 epochs (the study: 5)
SEED = 0  # seeds the recipe's data order
K_MAPS = 4 if TINY else 8  # test images shown with saliency and Grad-CAM

# %% Data: the first N_TRAIN training images (the recipe validates on their last 20%), standardised on them
(x_train, y_train), (x_test, y_test) = load_cifar10(exp.data)
x_train, y_train = x_train[:N_TRAIN], y_train[:N_TRAIN]
x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]
standardizer = Standardizer.fit(x_train)
x_train_std, x_test_std = standardizer.transform(x_train), standardizer.transform(x_test)

# %% Train every (stride, kernel) model, keep its best epoch (validation accuracy) and measure its test accuracy
rows, models = [], {}
for stride in STRIDES:
    for kernel in KERNELS:
        model = training.simple_cnn(input_shape=x_train.shape[1:], strides=stride, kernel_size=kernel)
        history = training.train(model, (x_train_std, y_train), None, recipe="adam_cnn", epochs=EPOCHS, seed=SEED,
                                 out_dir=RUNS_DIR / f"s{stride}_k{kernel}", epoch0=False, verbose=2)
        predicted = training.predict_probs(model, x_test_std).argmax(axis=1)
        rows.append({"strides": stride, "kernel_size": kernel, "params": model.count_params(),
                     "best_val_accuracy": float(np.nanmax(history["val_accuracy"])),
                     "test_accuracy": float(np.mean(predicted == y_test))})
        models[stride, kernel] = model  # it holds the weights of its best epoch
print(studies.format_table(rows))
print("CSV:", studies.write_table_csv(rows, exp.figures_dir / "stride_kernel_sweep.csv"))

# %% Test accuracy against the stride, one line per kernel size
accuracies = {f"kernel {k}x{k}": [next(r["test_accuracy"] for r in rows if r["strides"] == s and r["kernel_size"] == k)
                                  for s in STRIDES] for k in KERNELS}
fig = plotting.accuracy_sweep_figure(STRIDES, accuracies, xlabel="Stride",
                                     title="Simple CNN: test accuracy by stride and kernel")
plotting.save(fig, exp.figures_dir / "stride_kernel_accuracy.png", close=not exp.keep_open)

# %% Vanilla saliency and Grad-CAM of the first model, for the true class, as in the study's figure
model = models[STRIDES[0], KERNELS[0]]
images, labels = x_test[:K_MAPS], y_test[:K_MAPS]
maps = {
    "Saliency": make_explainer("saliency", model, normalize="minmax").explain(x_test_std[:K_MAPS], labels),
    "Grad-CAM": make_explainer("gradcam", model, normalize="minmax").explain(x_test_std[:K_MAPS], labels),
}
fig = plotting.saliency_grid(images, maps, row_labels=[CLASS_NAMES[c] for c in labels],
                             title=f"Simple CNN (stride {STRIDES[0]}, kernel {KERNELS[0]}x{KERNELS[0]})")
plotting.save(fig, exp.figures_dir / "saliency_gradcam.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
