"""Model architectures: the thesis's CIFAR ResNet-18, the Keras CNN study's small CNN, ImageNet backbones.

Every model is a functional ``keras.Model`` with named layers, so CAM methods can address a layer by name.
The final Dense layer always computes in float32 (``dtype="float32"``): under a ``mixed_bfloat16`` global
policy the model still returns float32 probabilities (or logits).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Tuple

from drise_tf.core import checks
from drise_tf.core.compat import keras
from drise_tf.core.registry import Registry

layers = keras.layers

#: Default Grad-CAM layer of :func:`resnet18`: the last block's output (after the add and the ReLU).
RESNET18_LAST_CONV = "stage4_block2_out"
#: Default Grad-CAM layer of :func:`simple_cnn`: the last convolution.
SIMPLE_CNN_LAST_CONV = "conv2"

HEADS = ("softmax", "logits")

#: name -> model builder; :func:`build` looks names up here.
ARCHITECTURES: Registry[Callable[..., Any]] = Registry("architecture")


def _check_common(input_shape: Tuple[int, ...], num_classes: int, head: str) -> Tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be three positive ints (H, W, C), got {input_shape!r}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    return shape  # type: ignore[return-value]


def _head(x: Any, num_classes: int, head: str) -> Any:
    activation = "softmax" if head == "softmax" else None
    return layers.Dense(num_classes, activation=activation, dtype="float32", name="predictions")(x)


def _basic_block(x: Any, filters: int, stride: int, prefix: str) -> Any:
    """conv3x3(stride)-BN-ReLU-conv3x3-BN + shortcut, then ReLU (docs/thesis.md, "The model")."""
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv1")(x)
    y = layers.BatchNormalization(name=f"{prefix}_bn1")(y)
    y = layers.Activation("relu", name=f"{prefix}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
    y = layers.BatchNormalization(name=f"{prefix}_bn2")(y)
    if stride != 1:
        # The 1x1 stride-s convolution written as its two steps, every s-th pixel and then a 1x1 convolution: the
        # same function and weights, but oneDNN's AVX512 kernel of a strided 1x1 convolution's filter gradient
        # corrupts memory for fewer than 16 input channels and an odd batch (TensorFlow 2.21; width < 16).
        shortcut = layers.AveragePooling2D(1, strides=stride, name=f"{prefix}_shortcut_subsample")(shortcut)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}_shortcut_conv")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{prefix}_shortcut_bn")(shortcut)
    y = layers.Add(name=f"{prefix}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{prefix}_out")(y)


def resnet18(
    input_shape: Tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
    *,
    width: int = 64,
    head: str = "softmax",
    name: str = "resnet18",
) -> Any:
    """The thesis's CIFAR ResNet-18 (docs/thesis.md, "The model"): 3x3 stem, four stages of two BasicBlocks,
    AvgPool(4), Dense.

    Parameters
    ----------
    input_shape : tuple of int
        (H, W, C) of the standardised input; the thesis uses (32, 32, 3).
    num_classes : int
        Output units.
    width : int
        Filters of the stem and the first stage (>= 1); the stages have width, 2, 4 and 8 times width filters.
        64 is the thesis (64/128/256/512); a smaller width keeps the topology and the layer names and trains
        faster (16: 701,466 trainable parameters, 703,866 with the BatchNormalization statistics).
    head : {"softmax", "logits"}
        Softmax probabilities (the thesis) or a linear output.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Layers ``stem_conv/bn/relu``, ``stage{1..4}_block{1,2}_{conv1,bn1,relu1,conv2,bn2,add,out}`` (plus
        ``shortcut_subsample/shortcut_conv/shortcut_bn`` where the shape changes: the thesis's 1x1 stride-2
        convolution as every second pixel, then a 1x1 convolution), ``avg_pool``, ``flatten``, ``predictions``.
        11,173,962 trainable parameters for the default arguments.
    """
    shape = _check_common(input_shape, num_classes, head)
    width = checks.positive_int(width, "width")
    inputs = keras.Input(shape=shape, name="input")
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width), start=1):
        for block in (1, 2):
            stride = 2 if stage > 1 and block == 1 else 1
            x = _basic_block(x, filters, stride, f"stage{stage}_block{block}")
    x = layers.AveragePooling2D(4, name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, _head(x, num_classes, head), name=name)


def simple_cnn(
    input_shape: Tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
    *,
    strides: int = 1,
    kernel_size: int = 3,
    l2: float = 0.001,
    head: str = "softmax",
    name: str = "simple_cnn",
) -> Any:
    """The Keras CNN study's model (docs/thesis.md, "The neighbouring studies"): [Conv2D-BN-MaxPool2] x 2
    (32 then 64 filters), Flatten, Dense.

    Convolutions use ReLU, L2 weight penalty ``l2`` and ``padding="same"`` (so strides up to 3 keep a
    feature map; the study does not state the padding).

    Parameters
    ----------
    strides, kernel_size : int
        Stride and square kernel size of both convolutions (the study tried strides 1, 2, 3 and kernels 3, 4).
    l2 : float
        L2 factor of the convolution kernels; 0 disables it.
    head : {"softmax", "logits"}
        Softmax probabilities (the study) or a linear output.

    Returns
    -------
    keras.Model
        Layers ``conv1, bn1, pool1, conv2, bn2, pool2, flatten, predictions``.
    """
    shape = _check_common(input_shape, num_classes, head)
    for arg, value in (("strides", strides), ("kernel_size", kernel_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    size = shape[0]
    for _ in range(2):
        size = -(-size // strides) // 2  # 'same' conv, then 2x2 max-pool
    if size < 1:
        raise ValueError(
            f"strides={strides} shrinks input_shape {shape} to an empty feature map; use a smaller stride"
        )
    regularizer = keras.regularizers.l2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for i, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", activation="relu",
            kernel_regularizer=regularizer, name=f"conv{i}",
        )(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, _head(x, num_classes, head), name=name)


_BACKBONES = {"resnet50": "ResNet50", "vgg16": "VGG16"}


def imagenet_backbone(
    name: str = "resnet50",
    *,
    weights: Any = "imagenet",
    input_shape: Tuple[int, int, int] = (224, 224, 3),
    classes: int = 1000,
    **kwargs: Any,
) -> Any:
    """An ImageNet classifier from ``keras.applications`` (``include_top=True`` unless given in ``kwargs``).

    Parameters
    ----------
    name : {"resnet50", "vgg16"}
        Which backbone.
    weights : "imagenet", None or str
        Passed through: pretrained ImageNet weights (downloaded once into the Keras cache), random
        initialisation, or the path of a local weights file.
    input_shape, classes
        Passed through (pretrained weights with the top need (224, 224, 3) and 1000 classes).
    **kwargs
        Further ``keras.applications`` arguments (``include_top``, ``pooling``, ...).

    Raises
    ------
    ValueError
        Unknown ``name``.
    RuntimeError
        The ImageNet weights could not be downloaded (e.g. offline); the message says how to proceed.
    """
    if name not in _BACKBONES:
        raise ValueError(f"name must be one of {sorted(_BACKBONES)}, got {name!r}")
    constructor = getattr(keras.applications, _BACKBONES[name])
    try:
        return constructor(weights=weights, input_shape=tuple(input_shape), classes=classes, **kwargs)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # keras.utils.get_file raises a bare Exception on network errors
        if weights != "imagenet":
            raise
        raise RuntimeError(
            f"could not download the ImageNet weights of {name} ({type(exc).__name__}: {exc}). "
            "Are you offline? Use weights=None for random initialisation, or weights='/path/to/weights.h5' "
            "for a local weights file (or put the file into the Keras cache, ~/.keras/models)."
        ) from exc


ARCHITECTURES.register("resnet18", resnet18)
ARCHITECTURES.register("simple_cnn", simple_cnn)
for _key in _BACKBONES:
    ARCHITECTURES.register(_key, functools.partial(imagenet_backbone, _key))


def build(name: str, **kwargs: Any) -> Any:
    """Build the registered architecture ``name`` ("resnet18", "simple_cnn", "resnet50", "vgg16") with ``kwargs``."""
    return ARCHITECTURES.get(name)(**kwargs)
