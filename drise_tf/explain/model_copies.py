"""Inspect a classifier's head and make the working copies the explainers need, never touching the user's model.

Gradient and CAM methods want class *scores* (logits), a functional model and float32 arithmetic. A user's model may
end in a softmax, be a Keras 3 ``Sequential`` (which tf-keras-vis's ``ReplaceToLinear`` cannot handle) or compute in
bfloat16/float16 (which breaks tf-keras-vis's CAM arithmetic). :func:`working_copy` returns a model that fixes all
three -- a clone with copied weights when anything must change, the (functional view of the) model itself otherwise.
Black-box methods (D-RISE, RISE) only need forward passes: :func:`forward_copy` gives them a copy with each
BatchNormalization folded into its convolution (:func:`fold_batch_norm`), in float32 or in bfloat16
(:func:`bfloat16_copy`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from drise_tf.core.compat import keras, variable_short_name

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
        if (layer["class_name"] != "InputLayer" and layer_config.get("name") not in output_names
                and "dtype" in layer_config):
            layer_config["dtype"] = "mixed_bfloat16"
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone


# ------------------------------------------------------------------------------------- BatchNormalization folding
def _as_lists(item: Any) -> Any:
    """``item`` with every tuple inside it (lists, dicts) turned into a list, as after a JSON round trip."""
    if isinstance(item, (list, tuple)):
        return [_as_lists(child) for child in item]
    if isinstance(item, dict):
        return {key: _as_lists(child) for key, child in item.items()}
    return item


def _is_reference(item: Any) -> bool:
    """True for a serialised tensor reference ``[layer_name, node_index, tensor_index(, kwargs)]``: Keras 2 writes
    them straight into ``inbound_nodes``/``output_layers``, Keras 3 as the ``keras_history`` of a tensor."""
    return (
        isinstance(item, list) and len(item) in (3, 4) and isinstance(item[0], str)
        and all(isinstance(index, int) and not isinstance(index, bool) for index in item[1:3])
    )


def _map_references(item: Any, fn: Any) -> None:
    """Call ``fn`` on every tensor reference inside ``item`` (lists and dicts, walked in place)."""
    if _is_reference(item):
        fn(item)
        if len(item) == 4:
            _map_references(item[3], fn)  # Keras 2 call kwargs may hold tensors too
    elif isinstance(item, list):
        for child in item:
            _map_references(child, fn)
    elif isinstance(item, dict):
        for child in item.values():
            _map_references(child, fn)


def _channel_axis_matches(conv_config: dict, bn_config: dict) -> bool:
    axis = bn_config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            return False
        axis = axis[0]
    axis = int(axis) % 4
    return axis == (1 if conv_config.get("data_format") == "channels_first" else 3)


def _foldable_pairs(config: dict) -> List[Tuple[str, str]]:
    """(conv, bn) layer names of a functional ``config`` (its tensor references made lists, in place) where the
    BatchNormalization can fold into the Conv2D: the BN's only input is the output of a linear (no activation) Conv2D
    called once, whose only consumer is that BN."""
    for entry in config["layers"]:  # live configs hold tensor references as tuples; make them editable lists
        entry["inbound_nodes"] = _as_lists(entry.get("inbound_nodes", []))
    config["output_layers"] = _as_lists(config.get("output_layers", []))
    entries = {entry.get("name", entry.get("config", {}).get("name")): entry for entry in config["layers"]}
    consumers: Dict[str, int] = {}

    def count(reference: list) -> None:
        consumers[reference[0]] = consumers.get(reference[0], 0) + 1

    for entry in config["layers"]:
        _map_references(entry.get("inbound_nodes", []), count)
    _map_references(config.get("output_layers", []), count)

    pairs = []
    for name, entry in entries.items():
        if entry.get("class_name") != "BatchNormalization" or len(entry.get("inbound_nodes", [])) != 1:
            continue
        bn_config = entry.get("config", {})
        if bn_config.get("renorm") or bn_config.get("virtual_batch_size"):
            continue
        inputs: List[list] = []
        _map_references(entry["inbound_nodes"], inputs.append)
        if len(inputs) != 1:
            continue
        conv_name = inputs[0][0]
        conv = entries.get(conv_name)
        if (
            conv is None or conv.get("class_name") != "Conv2D" or len(conv.get("inbound_nodes", [])) != 1
            or consumers.get(conv_name) != 1 or conv.get("config", {}).get("activation", "linear") != "linear"
            or not _channel_axis_matches(conv["config"], bn_config)
        ):
            continue
        pairs.append((conv_name, name))
    return pairs


def _folded_weights(conv: Any, bn: Any) -> List[np.ndarray]:
    """Kernel and bias of ``conv`` with the inference-mode ``bn`` after it folded in, in the conv's weight dtype."""
    values = {variable_short_name(v): np.asarray(v.numpy(), dtype=np.float64) for v in bn.weights}
    conv_values = {variable_short_name(v): v for v in conv.weights}
    kernel_var = conv_values["kernel"]
    kernel = np.asarray(kernel_var.numpy(), dtype=np.float64)
    channels = kernel.shape[-1]
    gamma = values.get("gamma", np.ones(channels))
    beta = values.get("beta", np.zeros(channels))
    factor = gamma / np.sqrt(values["moving_variance"] + float(bn.epsilon))
    bias = np.asarray(conv_values["bias"].numpy(), dtype=np.float64) if "bias" in conv_values else np.zeros(channels)
    dtype = tf.as_dtype(kernel_var.dtype).as_numpy_dtype
    return [(kernel * factor).astype(dtype), ((bias - values["moving_mean"]) * factor + beta).astype(dtype)]


def fold_batch_norm(model: Any) -> Any:
    """A forward-only copy of ``model`` with each BatchNormalization folded into the Conv2D before it.

    In inference mode ``BN(conv(x)) = conv'(x)`` with ``w' = w * gamma / sqrt(var + eps)`` (per output channel) and
    ``b' = (b - mean) * gamma / sqrt(var + eps) + beta`` (``b = 0`` for a conv without bias; ``gamma = 1`` /
    ``beta = 0`` for a BN without scale / center). A BN folds when its only input is a linear Conv2D (no
    activation; channel axis matching) called once and whose only consumer is that BN; every other BN is kept (e.g.
    one after a conv with a ReLU inside, as in :func:`~drise_tf.training.architectures.simple_cnn`). The folded
    layers are gone, the convs become ``use_bias=True``; every other layer keeps its name, config and weights.

    For black-box forward passes (D-RISE, RISE) only: the copy differs from ``model`` by float round-off, and in
    training mode it no longer normalises, so it must never be trained nor used for gradient/CAM methods. The
    user's ``model`` is never modified.

    Returns
    -------
    keras.Model
        The functional copy, or ``model`` itself (its functional view for a ``Sequential``) when no BN folds.

    Raises
    ------
    ValueError
        ``model`` is not a single-input single-output Keras model, or its config has no functional graph.
    """
    functional = as_functional(model)
    config = functional.get_config()
    if "layers" not in config or any("inbound_nodes" not in entry for entry in config["layers"]):
        raise ValueError("fold_batch_norm needs a functional or Sequential model (rebuilt from its config)")
    pairs = _foldable_pairs(config)
    if not pairs:
        return functional
    bn_to_conv = {bn: conv for conv, bn in pairs}
    folded_convs = set(bn_to_conv.values())

    def rewire(reference: list) -> None:
        if reference[0] in bn_to_conv:  # the BN and its conv are both called once: node/tensor indices agree
            reference[0] = bn_to_conv[reference[0]]

    kept = []
    for entry in config["layers"]:
        name = entry.get("name", entry.get("config", {}).get("name"))
        if name in bn_to_conv:
            continue
        if name in folded_convs:
            entry["config"]["use_bias"] = True
        _map_references(entry.get("inbound_nodes", []), rewire)
        kept.append(entry)
    config["layers"] = kept
    _map_references(config.get("output_layers", []), rewire)
    config["name"] = f"{functional.name}_bn_folded"
    clone = type(functional).from_config(config)

    conv_to_bn = {conv: bn for conv, bn in pairs}
    for layer in clone.layers:
        source = functional.get_layer(layer.name)
        if layer.name in conv_to_bn:
            layer.set_weights(_folded_weights(source, functional.get_layer(conv_to_bn[layer.name])))
        elif source.weights:
            layer.set_weights(source.get_weights())
    return clone


def forward_copy(model: Any, precision: str = "float32", *, fold: bool = True) -> Any:
    """The model a black-box explainer (D-RISE, RISE) should run its forward passes on.

    ``precision="float32"``: :func:`fold_batch_norm` of ``model`` (``fold=True``) or ``model`` itself;
    ``precision="bfloat16"``: :func:`bfloat16_copy` of that (folding first, in float32, then casting). Callers
    cache the result (building it costs a config round trip and a weight copy).
    """
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
    base = fold_batch_norm(model) if fold else model
    return bfloat16_copy(base) if precision == "bfloat16" else base
