"""06 - The Grad-CAM study: a pretrained ImageNet ResNet-50 (no fine-tuning) on CIFAR-10 images resized 32 -> 224.

Five test samples (an airplane, an automobile, a ship, a truck, a horse) are resized to 224x224 and preprocessed
as ImageNet images; the model's top ImageNet labels are printed, and Grad-CAM, Grad-CAM++ and Faster-Score-CAM maps
of the top-1 class are drawn side by side.

Offline: the pretrained weights (about 100 MB) are downloaded once into the Keras cache (~/.keras/models or
$KERAS_HOME/models). Without internet and without that file, loading them fails with a RuntimeError that says
what to do; this script then prints that message and, with FALLBACK_TO_RANDOM_WEIGHTS = True, goes on with a
RANDOMLY initialised ResNet-50 so that the pipeline still runs -- its labels and maps are then meaningless, and
every title says "random weights". To use the real weights offline, copy
``resnet50_weights_tf_dim_ordering_tf_kernels.h5`` into the Keras cache, or set WEIGHTS to the file's path.
On the tests' tiny profile the model has random weights and a 64x64 input. Standalone (builds its own model).
Run in Spyder or as ``python experiments/06_imagenet_resnet50_cifar.py``.
"""
# %% Set-up: backend, profile, paths and test data (see drise_tf/experiment.py); this script builds its own model
import matplotlib.pyplot as plt
import numpy as np

from drise_tf import CLASS_NAMES, make_explainer, plotting, setup, studies

exp = setup(__file__, load_model=False)

# %% Parameters
TINY = exp.profile.name == "tiny"  # the tests: random weights, small input
WEIGHTS = None if TINY else "imagenet"  # "imagenet" (download once), None (random) or a path to a weights file
FALLBACK_TO_RANDOM_WEIGHTS = True  # offline without the weights: go on with random weights (clearly labelled)
INPUT_SIZE = 64 if TINY else 224  # the study: 224 (pretrained weights with the top need 224)
SAMPLE_CLASSES = studies.imagenet.STUDY_CLASSES  # the first test image of each of these CIFAR-10 classes
PREPROCESSING = "caffe"  # what Keras's ImageNet weights expect; the study's "torch" mean/std suits PyTorch weights
METHODS = ("gradcam", "gradcam++", "faster_scorecam")  # CAMs on the last conv block (conv5_block3_out)
TOP = 5  # ImageNet labels printed per image

# %% Load ResNet-50; offline without the ImageNet weights, say so and (optionally) fall back to random weights
weights_used = WEIGHTS
try:
    model = studies.imagenet.load_resnet50(weights=WEIGHTS, input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
except RuntimeError as error:
    if not FALLBACK_TO_RANDOM_WEIGHTS:
        raise
    print(f"\n*** {error}\n*** Continuing with RANDOM weights: the labels and maps below are meaningless.\n")
    weights_used = None
    model = studies.imagenet.load_resnet50(weights=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
note = "" if weights_used == "imagenet" else " (random weights)" if weights_used is None else f" ({weights_used})"

# %% The study's five test images, resized and preprocessed as ImageNet inputs
indices = studies.imagenet.pick_samples(exp.y_test, SAMPLE_CLASSES)
images = exp.x_test[indices]
inputs = studies.imagenet.preprocess(images, size=INPUT_SIZE, mode=PREPROCESSING)

# %% ImageNet labels of each image (the 1000 class names ship with the package: no download)
probs = np.asarray(model(inputs, training=False), dtype=np.float64)
predictions = studies.imagenet.decode_predictions(probs, top=TOP)  # per image: (index, name, probability), best first
for index, cifar_class, top_labels in zip(indices, SAMPLE_CLASSES, predictions):
    labels = ", ".join(f"{name} {prob:.3f}" for _, name, prob in top_labels)
    print(f"test #{int(index):5d} ({cifar_class}): {labels}")

# %% CAMs of the top-1 ImageNet class of each image, min-max normalised for display
top1 = np.array([top_labels[0][0] for top_labels in predictions])
maps = {method: make_explainer(method, model, normalize="minmax").explain(inputs, top1) for method in METHODS}

# %% Figures: the resized images with their top-1 ImageNet label, then the CAMs side by side
shown = studies.imagenet.resize(images, INPUT_SIZE).round().astype(np.uint8)
titles = [f"{cifar}\n-> {top_labels[0][1]}" for cifar, top_labels in zip(SAMPLE_CLASSES, predictions)]
fig = plotting.labelled_image_grid(shown, titles, ncols=len(titles),
                                   suptitle=f"ResNet-50{note} on CIFAR-10 resized to {INPUT_SIZE}")
plotting.save(fig, exp.figures_dir / "imagenet_labels.png", close=not exp.keep_open)
fig = plotting.saliency_grid(shown, maps, row_labels=list(SAMPLE_CLASSES),
                             title=f"CAMs of the top-1 ImageNet class, ResNet-50{note}")
plotting.save(fig, exp.figures_dir / "imagenet_cams.png", close=not exp.keep_open)
print("CIFAR-10 classes of the samples:", [CLASS_NAMES[exp.y_test[i]] for i in indices])

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
