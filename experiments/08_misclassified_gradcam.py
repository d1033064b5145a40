"""08 - Grad-CAM on misclassified test images (the PyTorch ResNet-18 study's analysis).

The first K misclassified test images (in test-set order), each with its true and predicted label and the Grad-CAM
map of the predicted class (or of the true class: TARGET). This script explains the profile's run, trained by
``01_train_thesis_model.py``; the study trained its ResNet-18 with a one-cycle policy, which script 01 follows
with RECIPE = "onecycle".
Run in Spyder or as ``python experiments/08_misclassified_gradcam.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt
import numpy as np

from drise_tf import CLASS_NAMES, explain, make_explainer, plotting, predict_probs, setup

exp = setup(__file__)

# %% Parameters
K_IMAGES = 10  # misclassified images shown
TARGET = "predicted"  # the class Grad-CAM explains: "predicted" (why the wrong answer) or "true"
LAYER = None  # CAM layer; None: the last convolutional block
print("Grad-CAM layer:", LAYER or explain.default_cam_layer(exp.model))

# %% The first K misclassified test images (among the profile's test images)
images_std = exp.standardizer.transform(exp.x_test)  # the model's input: per-channel standardised images
predicted = predict_probs(exp.model, images_std).argmax(axis=1)
wrong = np.flatnonzero(predicted != exp.y_test)[:K_IMAGES]
for index in wrong:
    print(f"test #{int(index):5d}: true {CLASS_NAMES[exp.y_test[index]]:10s} predicted {CLASS_NAMES[predicted[index]]}")

# %% Grad-CAM of the TARGET class of each, min-max normalised, over the image with its true and predicted labels
if len(wrong) == 0:
    print("no misclassified image among the searched test images")
else:
    classes = predicted[wrong] if TARGET == "predicted" else exp.y_test[wrong]
    maps = make_explainer("gradcam", exp.model, layer=LAYER, normalize="minmax").explain(images_std[wrong], classes)
    titles = [f"true: {CLASS_NAMES[exp.y_test[i]]}\npred: {CLASS_NAMES[predicted[i]]}" for i in wrong]
    fig = plotting.labelled_image_grid(exp.x_test[wrong], titles, maps=maps,
                                       suptitle=f"Grad-CAM ({TARGET} class) on misclassified test images")
    plotting.save(fig, exp.figures_dir / "misclassified_gradcam.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
