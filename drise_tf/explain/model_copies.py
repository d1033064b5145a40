"""Inspect a classifier's head and make the working copies the explainers need, never touching the user's model.

Gradient and CAM methods want class *scores* (logits), a functional model and float32 arithmetic. A user's model may
end in a softmax, be a Keras 3 ``Sequential`` (which tf-keras-vis's ``ReplaceToLinear`` cannot handle) or compute in
bfloat16/float16 (which breaks tf-keras-vis's CAM arithmetic). :func:`working_copy` returns a model that fixes all
three -- a clone with copied weights when anything must change, the (functional view of the) model itself otherwise.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras

_LOW_PRECISION = (tf.float16, tf.bfloat16)


def as_functional(model: Any) -> Any:
    """Return ``model`` as a functional ``keras.Model`` (a ``Sequential`` is wrapped, sharing its layers).

    Raises
    ------
    ValueError
        If ``model`` is not a Keras model, is not built, or does not have exactly one input and one output.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError("model must be built with a known input shape (e.g. start it with keras.Input)")
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"model must have one input and one output, got {len(inputs)} and {len(outputs)}")
    if isinstance(model, keras.Sequential):
        return keras.Model(inputs, outputs, name=f"{model.name}_functional")
    return model


def output_layer(model: Any) -> Any:
    """The layer that produces the (single) output of the functional ``model``."""
    history = getattr(model.outputs[0], "_keras_history", None)
    return history[0] if history is not None else model.layers[-1]


def _activation_name(layer: Any) -> str:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return "linear"
    return getattr(activation, "__name__", type(activation).__name__)


def head_activation(model: Any) -> str:
    """Name of the activation of ``model``'s output layer ("softmax", "linear", "sigmoid", ...)."""
    return _activation_name(output_layer(as_functional(model)))


def outputs_probabilities(model: Any) -> bool:
    """True when ``model`` ends in a softmax (or sigmoid), i.e. returns probabilities rather than logits."""
    return head_activation(model) in ("softmax", "sigmoid")


def is_low_precision(model: Any) -> bool:
    """True when any layer of ``model`` computes (or stores weights) in float16 or bfloat16."""
    for layer in model.layers:
        for dtype in (getattr(layer, "compute_dtype", None), getattr(layer, "variable_dtype", None)):
            if dtype is not None and tf.as_dtype(dtype) in _LOW_PRECISION:
                return True
        if isinstance(layer, keras.Model) and is_low_precision(layer):
            return True
    return False


def _is_plain_relu(layer: Any) -> bool:
    if not isinstance(layer, keras.layers.ReLU):
        return False
    config = layer.get_config()
    return (
        config.get("max_value") is None
        and not config.get("negative_slope")
        and not config.get("threshold")
    )


def working_copy(
    model: Any,
    *,
    linear_head: bool = True,
    float32: bool = True,
    relu_layers_as_activations: bool = False,
    force_copy: bool = False,
) -> Any:
    """A functional model fit for gradient/CAM explainers; the user's ``model`` is never modified.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential classifier with one input and one output.
    linear_head : bool
        Drop the output activation: the final layer's activation becomes linear, and a trailing
        ``Activation``/``Softmax`` layer is removed, so the copy returns logits.
    float32 : bool
        When the model computes in float16/bfloat16, rebuild every layer in float32 and cast the weights.
    relu_layers_as_activations : bool
        Replace plain ``keras.layers.ReLU`` layers by ``Activation("relu")`` (same name), so that gradient
        overrides on ``layer.activation`` (guided backprop) reach them too.
    force_copy : bool
        Always clone (for callers that modify the layers of the result).

    Returns
    -------
    keras.Model
        ``model`` itself (or its functional view) when nothing has to change, else a clone with copied weights.
    """
    functional = as_functional(model)
    head = output_layer(functional)
    head_name = _activation_name(head)
    drop_head_layer = linear_head and head_name != "linear" and (
        isinstance(head, (keras.layers.Activation, keras.layers.Softmax))
    )
    linearise_head = linear_head and head_name != "linear" and not drop_head_layer
    to_float32 = float32 and is_low_precision(functional)
    replace_relus = relu_layers_as_activations and any(_is_plain_relu(layer) for layer in functional.layers)
    if not (linearise_head or to_float32 or replace_relus or force_copy):
        if drop_head_layer:
            return keras.Model(functional.inputs, head.input, name=f"{functional.name}_logits")
        return functional

    def clone_layer(layer: Any) -> Any:
        if replace_relus and _is_plain_relu(layer):
            return keras.layers.Activation("relu", name=layer.name)
        config = layer.get_config()
        if to_float32 and "dtype" in config:
            config["dtype"] = "float32"
        if linearise_head and layer is head:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(functional, clone_function=clone_layer)
    weights = functional.get_weights()
    if to_float32:
        weights = [np.asarray(w, dtype=np.float32) for w in weights]
    clone.set_weights(weights)
    if drop_head_layer:
        clone = keras.Model(clone.inputs, clone.get_layer(head.name).input, name=f"{functional.name}_logits")
    return clone


def layer_output_ndim(model: Any, name: str) -> Optional[int]:
    """Rank of the output of layer ``name`` of ``model``, or None when the layer does not exist."""
    try:
        layer = model.get_layer(name)
    except ValueError:
        return None
    return len(layer.output.shape)


def bfloat16_copy(model: Any) -> Any:
    """A copy of a functional or Sequential ``model`` whose layers compute in bfloat16 (``mixed_bfloat16``).

    The layers producing the model's outputs stay float32 (numerically stable softmax); weights are copied. The
    user's model and the global dtype policy are left untouched.
    """
    config = model.get_config()
    if "layers" not in config:
        raise ValueError("precision='bfloat16' needs a functional or Sequential model (rebuilt from its config)")
    outputs = config.get("output_layers", [])
    if outputs and isinstance(outputs[0], str):  # Keras 3 writes a single output as [name, 0, 0]
        outputs = [outputs]
    output_names = {entry[0] for entry in outputs}
    if not output_names and config["layers"]:  # Sequential: the last layer makes the output
        output_names = {config["layers"][-1]["config"].get("name")}
    for layer in config["layers"]:
        layer_config = layer.get("config", {})
        if layer["class_name"] != "InputLayer" and layer_config.get("name") not in output_names and "dtype" in layer_config:
            layer_config["dtype"] = "mixed_bfloat16"
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone
