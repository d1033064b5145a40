"""01 - Train the thesis model: CIFAR ResNet-18 with the thesis recipe.

What is trained depends on the profile (the environment variable DRISE_TF_EXPERIMENT_PROFILE, see
experiments/README.md):

- ``quick`` (default): the thesis's ResNet-18 topology at base width 8 (same blocks and layer names), trained with
  the CPU recipe ``cpu_onecycle`` on 18k images for 6 epochs: minutes on a 2-core CPU;
- ``keras_cnn``: the Keras CNN study's simple_cnn (adam_cnn recipe, 16k images, 5 epochs);
- ``thesis``: ResNet-18 with the full thesis recipe (100 epochs on 40k images, originals + an augmented copy per
  epoch, the learning-rate quirk, the epoch-0 point on the test set); it needs the full CIFAR-10 and a GPU;
- ``tiny``: seconds, for the tests.

The trained run lands in ``models/<profile>/``; scripts 02-10 read it from there.
Run in Spyder (cell by cell, or all at once) or as ``python experiments/01_train_thesis_model.py``.
"""
# %% Set-up: backend, profile and paths (see drise_tf/experiment.py); this script trains the model it uses
import matplotlib.pyplot as plt

from drise_tf import data, plotting, setup, training

exp = setup(__file__, load_data=False, load_model=False)

# %% Parameters: the profile's values, edit here (a changed run still lands in models/<profile>/)
ARCHITECTURE = exp.profile.architecture  # thesis and quick: "resnet18" (keras_cnn: "simple_cnn")
WIDTH = exp.profile.width  # ResNet-18's base width: thesis None = 64 (quick: 8)
RECIPE = exp.profile.recipe  # thesis: "thesis" = SGD momentum 0.9, cosine 0.1 -> 0, batch 128 (quick: "cpu_onecycle")
EPOCHS = exp.profile.epochs  # thesis: 100
N_TRAIN = exp.profile.n_train  # thesis: None = every training image but the last N_VAL (40,000 on CIFAR-10)
N_VAL = exp.profile.n_val  # thesis: 10,000 (the last training images)
N_TEST = exp.profile.n_test  # thesis: None = the whole official test set
AUGMENTATION = exp.profile.augmentation  # thesis: "thesis" = originals + an augmented copy per epoch (quick: "random")
PRECISION = exp.profile.precision  # "float32"; "bfloat16" pays off only on hardware with native bfloat16 (GPUs)
LR_QUIRK = exp.profile.lr_quirk  # thesis: True (decay length from 40k images: the rate is 0 from epoch 50 on)
EPOCH0_VAL = exp.profile.epoch0_val  # thesis: "test" (its epoch-0 "validation" point was computed on the test set)
EPOCH0_TRAIN = exp.profile.epoch0_train  # thesis: "stream" (its epoch-0 training point: originals + augmented copy)
SEED = exp.profile.seed  # seeds the weights and the data order (the thesis set none)
RESUME = True  # continue an interrupted run from its last checkpoint (same settings only)
VERBOSE = 2  # Keras output: 0 silent, 1 progress bar, 2 one line per epoch

# %% Train (or resume); the model, standardizer, history and test evaluation are saved into exp.run_dir
result = training.train_run(
    exp.run_dir, recipe=RECIPE, architecture=ARCHITECTURE, width=WIDTH, data=exp.data, n_train=N_TRAIN,
    n_val=N_VAL, n_test=N_TEST, epochs=EPOCHS, augmentation=AUGMENTATION, seed=SEED, precision=PRECISION,
    resume=RESUME, lr_quirk=LR_QUIRK, epoch0_val=EPOCH0_VAL, epoch0_train=EPOCH0_TRAIN, verbose=VERBOSE,
)
print("model:", result["model_path"])
print(f"test accuracy {result['evaluation']['accuracy']:.4f}, test loss {result['evaluation']['loss']:.4f}")

# %% The learning rate per epoch as trained, beside the thesis schedule with and without its quirk
history = result["history"]
steps_per_epoch = data.train_steps_per_epoch(40000, 128, "thesis")  # 625: (40k originals + 40k copies) / 128
fig, ax = plt.subplots(figsize=(6, 4))
for quirk, style in ((True, "r--"), (False, "b-")):
    schedule = training.thesis_learning_rate(steps_per_epoch, 100, lr_quirk=quirk)
    ax.plot(range(101), [training.learning_rate_at(schedule, e * steps_per_epoch) for e in range(101)], style,
            label=f"thesis recipe, lr_quirk={quirk}")
ax.plot(history["epoch"], history["lr"], "ko", label=f"this run ({exp.profile.name}, lr_quirk={LR_QUIRK})")
ax.set_xlabel("Epoch")
ax.set_ylabel("Learning rate (next step)")
ax.set_title("Cosine decay: the thesis's quirk reaches 0 at epoch 50")
ax.legend()
fig.tight_layout()
plotting.save(fig, exp.figures_dir / "learning_rate.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
