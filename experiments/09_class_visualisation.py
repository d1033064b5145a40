"""09 - The saliency study on the thesis model: class model images, vanilla saliency and guided backpropagation.

Activation maximisation (tf-keras-vis ``ActivationMaximization`` on the class logit, with jitter, rotation,
total-variation and L1 regularisers) renders one image per class, i.e. what the model "looks for"; then vanilla
saliency and guided backpropagation maps of a few test images.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/09_class_visualisation.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt
import numpy as np

from drise_tf import CLASS_NAMES, class_visualisation, make_explainer, plotting, setup

exp = setup(__file__)

# %% Parameters
CLASSES = list(range(len(CLASS_NAMES)))  # one image per class
STEPS = 5 if exp.profile.name == "tiny" else 200  # optimisation steps (5 on the tests' tiny profile)
SEED = exp.profile.seed  # seed of the starting noise and the random jitter and rotation
JITTER, ROTATION = 2, 1.0  # random roll (pixels) and rotation (degrees) before every step
TOTAL_VARIATION, NORM = 1.0, 0.3  # weights of the total-variation and L1-norm regularisers
LEARNING_RATE = 0.1  # step size of the RMSprop optimiser
K_IMAGES = 6  # test images with saliency and guided backpropagation

# %% Class model images by activation maximisation, in the model's standardised input space clipped to valid pixels
low, high = exp.standardizer.bounds()  # standardised values of pixels 0 and 255, per channel
generated = class_visualisation(
    exp.model, CLASSES, steps=STEPS, seed=SEED, input_range=(float(low.min()), float(high.max())), jitter=JITTER,
    rotation=ROTATION, total_variation=TOTAL_VARIATION, norm=NORM, learning_rate=LEARNING_RATE,
)
probabilities = np.asarray(exp.model(generated, training=False))
titles = [f"{CLASS_NAMES[c]}\np={probabilities[i, c]:.2f}" for i, c in enumerate(CLASSES)]
fig = plotting.labelled_image_grid(exp.standardizer.to_uint8(generated), titles, ncols=5,
                                   suptitle=f"Class model images (activation maximisation, {STEPS} steps)")
plotting.save(fig, exp.figures_dir / "class_visualisation.png", close=not exp.keep_open)

# %% Vanilla saliency and guided backpropagation of the first test images, for their true class
images, labels = exp.x_test[:K_IMAGES], exp.y_test[:K_IMAGES]
images_std = exp.standardizer.transform(images)
maps = {
    "Saliency": make_explainer("saliency", exp.model, normalize="minmax").explain(images_std, labels),
    "Guided backprop": make_explainer("guided_backprop", exp.model, normalize="minmax").explain(images_std, labels),
}
fig = plotting.saliency_grid(images, maps, row_labels=[CLASS_NAMES[c] for c in labels],
                             title="Gradient maps of the true class")
plotting.save(fig, exp.figures_dir / "saliency_guided_backprop.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
