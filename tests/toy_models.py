"""Small Keras models shared by several test files (the 8x8 toy data of the metrics and training tests)."""
from __future__ import annotations

import numpy as np

from drise_tf.core.compat import keras


def tiny_cnn(seed: int = 1, classes: int = 3) -> keras.Model:
    """8x8x3 images, one conv, softmax over ``classes``; seeded."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def tiny_bn_classifier(seed: int = 0) -> keras.Model:
    """8x8x3 images, conv + BatchNormalization + softmax over 10 classes (BatchNormalization: the layer oneDNN
    rejects an empty batch in)."""
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=init, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=init, name="predictions")(x)
    return keras.Model(inputs, outputs)


def tiny_gap_classifier(size: int = 8, classes: int = 3) -> keras.Model:
    """``size`` x ``size`` x 3 images, one conv, global average pooling, softmax over ``classes``; seeded."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def patch_model(size: int = 32, rows=(8, 16), cols=(20, 28), weight: float = 4.0, target: int = 3,
                classes: int = 10) -> keras.Model:
    """Class ``target``'s logit is ``weight`` x the mean of channel 0 over ``rows`` x ``cols`` of a ``size`` x
    ``size`` image; everything else is ignored (every other logit is 0)."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Cropping2D(((rows[0], size - rows[1]), (cols[0], size - cols[1])), name="patch")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="mean")(x)
    dense = keras.layers.Dense(classes, activation="softmax", name="probs")
    outputs = dense(x)
    kernel = np.zeros((3, classes), dtype=np.float32)
    kernel[0, target] = weight
    dense.set_weights([kernel, np.zeros(classes, dtype=np.float32)])
    return keras.Model(inputs, outputs)


def blind_model(size: int = 16, classes: int = 10) -> keras.Model:
    """A classifier whose output ignores the image: the same softmax (uniform) for every input."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D(name="mean")(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_initializer="zeros", name="probs")(x)
    return keras.Model(inputs, outputs)


def ramp_model(size: int = 32, target: int = 3, weight: float = 4.0, classes: int = 10) -> keras.Model:
    """Class ``target``'s logit is ``weight`` x the mean over the pixels of channel 0 times a ramp, 0 at the top left
    corner to 1 at the bottom right; every other logit is 0. Every pixel matters, more towards the bottom right, so
    a coarse D-RISE map of an image bright in channel 0 is a stable ramp."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Flatten(name="flatten")(inputs)
    dense = keras.layers.Dense(classes, activation="softmax", name="probs")
    outputs = dense(x)
    rows, cols = np.mgrid[:size, :size]
    kernel = np.zeros((size, size, 3, classes), dtype=np.float32)
    kernel[..., 0, target] = weight * (rows + cols) / (2 * (size - 1)) / (size * size)
    dense.set_weights([kernel.reshape(-1, classes), np.zeros(classes, dtype=np.float32)])
    return keras.Model(inputs, outputs)


def write_run(folder, model: keras.Model, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
    """A run folder :func:`drise_tf.training.load_run` opens: ``model`` and a Standardizer of ``mean`` / ``std``."""
    from drise_tf.core.compat import MODEL_SUFFIX, save_model_atomic
    from drise_tf.data import Standardizer

    folder.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, folder / f"model{MODEL_SUFFIX}")
    Standardizer(mean, std).save(folder / "standardizer.json")
    return folder


#: RISE's design (Petsiuk et al. 2018) as :func:`mask_design` spells it: grid, upsampling, p, shift, score, aggregation.
RISE_DESIGN = ((7, 7), "bilinear", 0.5, None, "probability", "np")


def mask_design(explainer) -> tuple:
    """The design a D-RISE / RISE explainer was made with, as :data:`RISE_DESIGN` spells it."""
    return (explainer.grid_size, explainer.upsample, explainer.p, explainer.shift, explainer.score.name,
            explainer.aggregation)


def spy_on_explainers(monkeypatch) -> list:
    """Record every explainer ``drise_tf.explain.make_explainer`` makes, as (explainer name, explainer)."""
    from drise_tf import explain

    made, real = [], explain.make_explainer

    def spy(name, model, **options):
        explainer = real(name, model, **options)
        made.append((name, explainer))
        return explainer

    monkeypatch.setattr(explain, "make_explainer", spy)
    return made
