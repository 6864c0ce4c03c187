"""Hand-off to PyTorch and ONNX: a trained model's weights and activations, in their formats.

An `MLP` is a chain of dense layers, out = activation(x @ W + b), which is what PyTorch writes
``torch.nn.Sequential(Linear, activation, Linear, ...)`` and ONNX writes ``Gemm`` nodes followed
by activation nodes. `dense_layers` reads that chain from a model (ours, or micrograd's scalar
one); `to_torch`, `from_torch` and `to_onnx` translate it. PyTorch's ``Linear`` stores its
weight transposed, W.T of shape (nout, nin): the translation transposes it.

PyTorch, ONNX and ONNX Runtime are an optional extra (``pip install 'tinygrad_edu[export]'``;
``make`` installs it), imported only inside these functions. In float64 the outputs equal ours
to about 1e-12 (only the order of the additions in a matrix product differs; a PyTorch Softplus
read by `from_torch` with PyTorch's default threshold 20 is off by up to 2.1e-9). In float32
the matrix products round as float32 does (each step to ~6e-8 of its size, so a sum that
cancels to near 0 keeps no relative accuracy), and in ONNX Runtime each activation is within
2e-7 relative of its exact value at its float32 input wherever that value is a normal
float32 (≥ 1.2e-38 in size; below, float32 holds fewer digits, or 0: σ(−104) rounds to 0).

>>> from tinygrad_edu.nn import MLP
>>> from tinygrad_edu.export import dense_layers
>>> [(layer.weight.shape, layer.activation) for layer in dense_layers(MLP(2, [3, 1], seed=0))]
[((2, 3), 'relu'), ((3, 1), 'identity')]
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from tinygrad_edu._common import PathLike, file_to_write, redefined, set_on_instance
from tinygrad_edu.activations import ACTIVATIONS, SELU_ALPHA, SELU_LAMBDA, name_of
from tinygrad_edu.data import Array, describe
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.nn import MLP, Layer

__all__ = ["EXPORT_INSTALL_HINT", "ONNX_IR_VERSION", "ONNX_OPSET", "SOFTPLUS_MIN_THRESHOLD",
           "SOFTPLUS_THRESHOLD", "DenseLayer", "ExportDependencyError", "dense_layers",
           "from_torch", "to_onnx", "to_torch"]

EXPORT_INSTALL_HINT = "pip install 'tinygrad_edu[export]' (from the clone: pip install -e " \
    "'.[export]'), or make, which installs it"

ONNX_OPSET = 17
"""The ONNX operator set the exported files declare (ONNX 1.12 and later, ONNX Runtime 1.12+)."""
ONNX_IR_VERSION = 8
"""The ONNX file format version that goes with opset 17."""

SOFTPLUS_THRESHOLD = 40.0
"""The threshold `to_torch` gives ``torch.nn.Softplus``, which returns x itself above it where
softplus(x) = x + log1p(e⁻ˣ): above 40, e⁻ˣ is below half a float64 ulp of x, so x is exact."""
SOFTPLUS_MIN_THRESHOLD = 20.0
"""The lowest Softplus threshold `from_torch` accepts: PyTorch's default, where x is off from
softplus(x) by at most log1p(e⁻²⁰) ≈ 2.1e-9 (1.0e-10 relative); below, the gap grows as e⁻ᵗ."""

Model = MLP | Layer | micrograd_nn.MLP | micrograd_nn.Layer
"""What can be exported: our `MLP` or `Layer`, or micrograd's (`tinygrad_edu.micrograd.nn`)."""

DTYPES = ("float32", "float64")


class ExportDependencyError(ImportError):
    """PyTorch, ONNX or ONNX Runtime is missing; the message says how to install it."""


def _require(module: str, who: str) -> Any:
    """Import `module` (torch, onnx, ...), or raise `ExportDependencyError` saying how."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ExportDependencyError(
            f"{who} needs the package {module!r}, which is not installed: {EXPORT_INSTALL_HINT}"
        ) from error


def _check_dtype(dtype: Any, who: str) -> str:
    """'float32' or 'float64', given so or as numpy's or torch's dtype (np.float32,
    np.dtype('float64'), torch.float64), or a ValueError."""
    name = str(dtype).removeprefix("torch.")
    if isinstance(dtype, type) and issubclass(dtype, np.generic):  # (np.float32: a class)
        name = np.dtype(dtype).name
    if name not in DTYPES or (isinstance(dtype, str) and dtype != name):
        raise ValueError(f"{who}: dtype must be 'float32' or 'float64' (or numpy's or torch's "
                         f"dtype of that name); got {dtype!r}")
    return name


# --------------------------------------------------------------------------------------------
# A model as a chain of dense layers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DenseLayer:
    """One layer: out = activation(x @ weight + bias), weight of shape (nin, nout).

    `activation` is a name of `tinygrad_edu.ACTIVATIONS`, or None when unknown (a PyTorch
    state_dict holds weights only).
    """

    weight: Array
    bias: Array
    activation: str | None


def _default(function: Callable[..., Any], parameter: str) -> float:
    """The default of `parameter` of an activation function: what its name stands for."""
    return float(inspect.signature(function).parameters[parameter].default)


LEAKY_SLOPE = _default(ACTIVATIONS["leaky_relu"].function, "negative_slope")
ELU_ALPHA = _default(ACTIVATIONS["elu"].function, "alpha")


def _activation_name(function: Callable[..., Any], where: str, loading: bool = False) -> str:
    """The name in `ACTIVATIONS` of a layer's activation, or an error for one of the user's
    (`loading`: into the model, from a Sequential whose activations it must match).

    An `Activation`, a function of `tinygrad_edu.activations` and a method of `Value` (as in
    ``activation=Value.tanh``) count as the activation of their name.
    """
    name = name_of(function)
    if name is not None:
        return name
    if loading:
        raise ValueError(
            f"from_torch: {where} uses the activation {function!r}, a function of your own, "
            "which cannot be matched with the Sequential's activation modules; load its "
            "weights alone (from_torch(net.state_dict(), model)), or give the model its "
            f"activations by name ({', '.join(ACTIVATIONS)})")
    raise ValueError(
        f"{where} uses the activation {function!r}, a function of your own: it can be exported "
        f"only by name ({', '.join(ACTIVATIONS)}), e.g. MLP(..., activation='tanh')")


def _check_class(obj: Any, base: type, names: tuple[str, ...], what: str) -> None:
    """A TypeError unless `obj` is a `base` whose class keeps `base`'s methods `names`: a
    subclass that computes its own output is not the chain of dense layers export writes."""
    if not isinstance(obj, base):
        raise TypeError(f"{what} is {type(obj).__name__}, not a {base.__module__}.{base.__name__}")
    changed = redefined(type(obj), base, names)
    if changed:
        raise TypeError(
            f"{what} is {type(obj).__name__}, a subclass of {base.__module__}.{base.__name__} "
            f"that redefines {', '.join(changed)}: its outputs need not be those of the "
            f"{base.__name__} export writes, so it is refused (copy its weights into a "
            f"{base.__name__} to export them)")
    own = set_on_instance(obj, names)
    if own:
        raise TypeError(
            f"{what} has its own {', '.join(own)} (set on the {type(obj).__name__} itself), "
            f"which computes its output: it need not be the {base.__name__}'s that export "
            "writes, so it is refused")


def _micrograd_layer(layer: Any, where: str) -> DenseLayer:
    """A micrograd layer as a DenseLayer: its neurons must all be ReLU or all linear."""
    _check_class(layer, micrograd_nn.Layer, micrograd_nn.Layer.OUTPUT_METHODS, where)
    neurons = layer.neurons
    for k, neuron in enumerate(neurons):
        _check_class(neuron, micrograd_nn.Neuron, micrograd_nn.Neuron.OUTPUT_METHODS,
                     f"neuron {k} of {where}")
    if not neurons:
        raise ValueError(f"{where} ({layer!r}) has no neurons")
    sizes = [len(neuron.w) for neuron in neurons]
    if any(size != sizes[0] for size in sizes):
        k = next(k for k, size in enumerate(sizes) if size != sizes[0])
        raise ValueError(f"{where} ({layer!r}): neuron 0 has {sizes[0]} weights, neuron {k} "
                         f"{sizes[k]}; the neurons of a layer read the same inputs")
    kinds = [bool(n.nonlin) for n in neurons]
    if not all(kind == kinds[0] for kind in kinds):
        k = kinds.index(not kinds[0])
        says = {True: "ReLU (nonlin=True)", False: "linear (nonlin=False)"}
        raise ValueError(
            f"{where} ({layer!r}) mixes activations: neuron 0 is {says[kinds[0]]}, neuron {k} "
            f"is {says[kinds[k]]}; export writes one activation per layer, so its neurons must "
            "be all ReLU or all linear")
    weight = np.array([[w.data for w in n.w] for n in neurons], dtype=np.float64).T
    bias = np.array([n.b.data for n in neurons], dtype=np.float64)
    return DenseLayer(weight, bias, "relu" if kinds[0] else "identity")


def dense_layers(model: Model, *, activations: str = "named") -> list[DenseLayer]:
    """The layers of `model` (copies of their weights), first to last.

    Our `MLP` and `Layer`, and micrograd's (`tinygrad_edu.micrograd.nn`; its neurons are
    ReLU, or linear with ``nonlin=False``, the same in a layer) are understood; anything else,
    or a subclass that redefines how the output is computed (``forward``, ``transform``,
    ``__call__``), or a model given a method of its own (``model.forward = f``), is a
    TypeError. `activations`: "named" (a ValueError for an activation of the user's, which
    has no name), "loading" (the same, worded for `from_torch`), or "any" (our layers'
    activations not looked up: None).

    >>> from tinygrad_edu.nn import Layer
    >>> layer = dense_layers(Layer(3, 2, activation="tanh", seed=0))[0]
    >>> layer.weight.shape, layer.bias.shape, layer.activation
    ((3, 2), (2,), 'tanh')
    """
    kinds: list[type[MLP | Layer | micrograd_nn.Module]] = [MLP, Layer, micrograd_nn.MLP,
                                                          micrograd_nn.Layer]
    kind = next((k for k in kinds if isinstance(model, k)), None)
    if kind is None:
        raise TypeError(
            "export works on a tinygrad_edu.nn.MLP or Layer, or a tinygrad_edu.micrograd.nn.MLP "
            f"or Layer; got {type(model).__name__}")
    _check_class(model, kind, kind.OUTPUT_METHODS, "the model")
    layers: list[Any] = (list(model.layers) if isinstance(model, MLP | micrograd_nn.MLP)
                         else [model])
    if not layers:
        raise ValueError(f"the model {model!r} has no layers")
    found: list[DenseLayer] = []
    for i, layer in enumerate(layers):
        where = f"layer {i}"
        if kind in (MLP, Layer):
            _check_class(layer, Layer, Layer.OUTPUT_METHODS, where)
            name = None if activations == "any" else _activation_name(
                layer.activation, f"{where} ({layer!r})", loading=activations == "loading")
            dense = DenseLayer(np.array(layer.W.data, dtype=np.float64),
                               np.array(layer.b.data, dtype=np.float64), name)
        else:  # micrograd: one scalar Value per weight, neuron by neuron
            where = f"micrograd {where}"
            dense = _micrograd_layer(layer, where)
        _check_shapes(dense, found[-1] if found else None, where)
        found.append(dense)
    return found


def _check_shapes(layer: DenseLayer, previous: DenseLayer | None, where: str) -> None:
    """A ValueError unless `layer` has a weight (nin, nout) and a bias (nout,), and takes as
    many inputs as `previous` gives outputs (a model whose layers were replaced by hand)."""
    weight, bias = layer.weight.shape, layer.bias.shape
    if len(weight) != 2 or bias != weight[1:]:
        raise ValueError(f"{where} has a weight of shape {weight} and a bias of shape {bias}; "
                         "a dense layer has (nin, nout) and (nout,)")
    if previous is not None and previous.weight.shape[1] != weight[0]:
        raise ValueError(f"{where} takes {weight[0]} inputs, but the layer before it gives "
                         f"{previous.weight.shape[1]} outputs")


def _parameter_keys(model: Model) -> list[tuple[Hashable, Hashable]]:
    """Per layer, what identifies its weight and its bias: layers with equal keys share them
    (the same `Value`s; ``model.layers[1].W = model.layers[0].W`` ties two layers)."""
    if isinstance(model, MLP | Layer):
        layers: list[Any] = list(model.layers) if isinstance(model, MLP) else [model]
        return [(("W", id(layer.W)), ("b", id(layer.b))) for layer in layers]
    micro: list[Any] = list(model.layers) if isinstance(model, micrograd_nn.MLP) else [model]
    return [(("W", tuple(id(w) for n in layer.neurons for w in n.w)),
             ("b", tuple(id(n.b) for n in layer.neurons))) for layer in micro]


def _frozen(model: Model, i: int) -> tuple[bool, bool]:
    """Whether the weight and the bias of layer `i` of `model` are frozen (requires_grad=False;
    for micrograd's, every neuron's)."""
    if isinstance(model, MLP | Layer):
        layer = model.layers[i] if isinstance(model, MLP) else model
        return not layer.W.requires_grad, not layer.b.requires_grad
    micro = model.layers[i] if isinstance(model, micrograd_nn.MLP) else model
    return (all(not w.requires_grad for n in micro.neurons for w in n.w),
            all(not n.b.requires_grad for n in micro.neurons))


def _computed_parameter(model: Model) -> str:
    """Which weight or bias of our `model` is computed from other Values (a view of another
    layer's, ``layers[1].W = layers[0].W.T``, or ``W * mask``), described; "" if none."""
    if isinstance(model, MLP | Layer):
        for i, layer in enumerate(model.layers if isinstance(model, MLP) else [model]):
            for name, value in (("W", layer.W), ("b", layer.b)):
                if value.op is not None:
                    return (f"layer {i}'s {name} is computed from other Values (by "
                            f"{value.op.name})")
    return ""


def _check_parameters(model: Model, who: str) -> None:
    """A ValueError unless each weight and bias of `model` is a parameter of its own (a leaf
    Value, not one computed from others: ``layers[1].W = layers[0].W.T``) and, in micrograd's
    model, its Values are frozen alike and tied only as whole layers' weights or biases: what
    PyTorch's Parameters hold (one tensor each, frozen or tied as a whole)."""
    computed = _computed_parameter(model)
    if computed:
        raise ValueError(
            f"{who}: {computed}, not a parameter of its own; a torch.nn.Linear holds its "
            "weight and bias as Parameters of their own, so the link would be lost in "
            "training there (tie layers by sharing the Value itself: "
            "model.layers[1].W = model.layers[0].W)")
    if isinstance(model, MLP | Layer):
        return
    micro: list[Any] = list(model.layers) if isinstance(model, micrograd_nn.MLP) else [model]
    place: dict[int, tuple[Hashable, str]] = {}  # a Value → (the layer part it is in, where)
    for i, layer in enumerate(micro):
        where = f"micrograd layer {i}"
        parts = (("weights", [(w, f"weight {j} of neuron {k} of {where}")
                              for k, n in enumerate(layer.neurons) for j, w in enumerate(n.w)]),
                 ("biases", [(n.b, f"the bias of neuron {k} of {where}")
                             for k, n in enumerate(layer.neurons)]))
        for kind, values in parts:
            if len({bool(v.requires_grad) for v, _ in values}) > 1:
                raise ValueError(
                    f"{who}: {where} has frozen {kind} (requires_grad=False) beside trainable "
                    f"ones; PyTorch freezes a layer's {kind} together (one Parameter), so "
                    "freeze all of them or none")
            part = (kind, tuple(id(v) for v, _ in values))  # (a whole part: tied as one)
            within: dict[int, str] = {}
            for value, at in values:
                first_part, first_at = place.setdefault(id(value), (part, at))
                twice_at = within.setdefault(id(value), at)  # (twice in this part)
                if first_part != part or twice_at != at:
                    raise ValueError(
                        f"{who}: {first_at if first_part != part else twice_at} and {at} are "
                        "one Value; a PyTorch Parameter ties whole tensors only (a layer's "
                        "weights, or its biases, to another layer's), so this tie would be "
                        "lost in training there")


def _write(model: Model, layers: list[DenseLayer]) -> None:
    """Copy the weights of `layers` into `model`, whose layers have the same shapes; a
    parameter that several of its layers share must be given the same weights by each."""
    assignments: list[tuple[Any, Any, str]] = []  # (our Value, its new data, where)
    if isinstance(model, MLP | Layer):
        ours: list[Any] = list(model.layers) if isinstance(model, MLP) else [model]
        for i, (target, layer) in enumerate(zip(ours, layers, strict=True)):
            assignments += [(target.W, layer.weight, f"layer {i}'s W"),
                            (target.b, layer.bias, f"layer {i}'s b")]
    else:
        micro: list[Any] = (list(model.layers) if isinstance(model, micrograd_nn.MLP)
                            else [model])
        for i, (target, layer) in enumerate(zip(micro, layers, strict=True)):
            for k, neuron in enumerate(target.neurons):
                where = f"neuron {k} of layer {i}"
                assignments += [(w, float(layer.weight[j, k]), f"weight {j} of {where}")
                                for j, w in enumerate(neuron.w)]
                assignments.append((neuron.b, float(layer.bias[k]), f"the bias of {where}"))
    first: dict[int, tuple[Any, str]] = {}
    for value, data, where in assignments:
        earlier, earlier_where = first.setdefault(id(value), (data, where))
        if not np.array_equal(earlier, data, equal_nan=True):
            raise ValueError(
                f"from_torch: {earlier_where} and {where} of {model!r} are the same parameter "
                "(one Value), but the weights given for them differ; tie them in PyTorch too, "
                "or untie them here")
    if isinstance(model, MLP | Layer):
        names = {id(value): name for name, value in model.named_parameters()}
        model.load_state_dict({names[key]: data for key, (data, _) in first.items()})
        return
    for value, data, _ in assignments:
        value.data = data


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------


def _torch_activations(nn: Any) -> dict[str, Callable[[], Any] | None]:
    """Our activations by name → a maker of the matching ``torch.nn`` module (None: none)."""
    return {
        "identity": None,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "leaky_relu": lambda: nn.LeakyReLU(negative_slope=LEAKY_SLOPE),
        "elu": lambda: nn.ELU(alpha=ELU_ALPHA),
        "selu": nn.SELU,
        "softplus": lambda: nn.Softplus(beta=1.0, threshold=SOFTPLUS_THRESHOLD),
        "silu": nn.SiLU,
        "gelu": lambda: nn.GELU(approximate="none"),
    }


def to_torch(model: Model, *, dtype: Any = "float64") -> Any:
    """`model` as a ``torch.nn.Sequential`` of ``Linear`` and activation modules, same weights.

    Linear(nin, nout) holds weight = W.T and bias = b, so Linear(x) = x @ W + b; each
    activation becomes its ``torch.nn`` module (``"identity"`` none). ``"step"`` has no PyTorch
    module (and no gradient to train with): it is refused, as is an activation of your own.
    A parameter several layers share (``model.layers[1].W = model.layers[0].W``) becomes one
    ``Parameter`` they share, so training there keeps it tied; a frozen one
    (``requires_grad=False``) is frozen there too. With dtype="float64" (the default) its
    outputs equal ours to ~1e-12 for float64 inputs.

    >>> import torch
    >>> from tinygrad_edu.nn import MLP
    >>> model = MLP(2, [4, 1], activation="tanh", seed=0)
    >>> net = to_torch(model)
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=4, bias=True)
      (1): Tanh()
      (2): Linear(in_features=4, out_features=1, bias=True)
    )
    >>> X = [[0.5, -1.0], [2.0, 0.0]]
    >>> float(abs(net(torch.tensor(X, dtype=torch.float64)).detach().numpy()
    ...           - model(X).data).max()) < 1e-12
    True
    """
    dtype = _check_dtype(dtype, "to_torch")
    layers = dense_layers(model)
    _check_parameters(model, "to_torch")
    torch = _require("torch", "to_torch")
    makers = _torch_activations(torch.nn)
    modules = []
    shared: dict[Hashable, Any] = {}  # our parameter → its torch.nn.Parameter
    for i, (layer, keys) in enumerate(zip(layers, _parameter_keys(model), strict=True)):
        name = layer.activation or "identity"
        if name not in makers:
            raise ValueError(
                f"to_torch: layer {i} uses the activation {name!r}, which PyTorch has no module "
                f"for; exportable: {', '.join(makers)}")
        nin, nout = layer.weight.shape
        # (skip_init: no random initial weights drawn, so torch's random state is untouched)
        linear = torch.nn.utils.skip_init(torch.nn.Linear, nin, nout, dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weight.T))
            linear.bias.copy_(torch.from_numpy(layer.bias))
        # a parameter that several of our layers share is one Parameter of theirs
        linear.weight = shared.setdefault(keys[0], linear.weight)
        linear.bias = shared.setdefault(keys[1], linear.bias)
        for parameter, frozen in zip((linear.weight, linear.bias), _frozen(model, i), strict=True):
            parameter.requires_grad_(not frozen)
        modules.append(linear)
        maker = makers[name]
        if maker is not None:
            modules.append(maker())
    return torch.nn.Sequential(*modules)


TORCH_COMPUTE = ("forward", "__call__", "_call_impl")
"""The ``torch.nn.Module`` methods that compute an output: a subclass redefining one is refused."""


def _check_torch_module(module: Any, kind: type, where: str) -> None:
    """A ValueError if `module`, a `kind`, computes something else: its class redefines
    forward, or hooks on it change its input or output."""
    changed = redefined(type(module), kind, TORCH_COMPUTE)
    own = set_on_instance(module, TORCH_COMPUTE)
    hooks = [name for name in ("_forward_pre_hooks", "_forward_hooks")
             if getattr(module, name, None)]
    if changed or own or hooks:
        why = (f"a subclass of torch.nn.{kind.__name__} that redefines {', '.join(changed)}"
               if changed else
               f"a torch.nn.{kind.__name__} with its own {', '.join(own)} set on it" if own else
               f"a torch.nn.{kind.__name__} with forward hooks")
        raise ValueError(
            f"from_torch: {where} is {type(module).__name__}, {why}: its outputs need not be "
            f"{kind.__name__}'s, so it is refused")


def _softplus_limits(weight_dtype: Any) -> tuple[float, float]:
    """The Softplus thresholds that give softplus: ≥ `SOFTPLUS_MIN_THRESHOLD`, and at most
    log of the largest number of the dtype (PyTorch's log1p(exp(x)) below it must not overflow)."""
    wide = str(weight_dtype) == "torch.float64"
    return SOFTPLUS_MIN_THRESHOLD, float(np.log(np.finfo(np.float64 if wide else np.float32).max))


def _torch_activation_name(torch: Any, module: Any, where: str,
                           weight_dtype: Any) -> str:
    """The name of our activation that the ``torch.nn`` `module` computes, or an error."""
    nn = torch.nn
    exact = {nn.Identity: "identity", nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
             nn.SELU: "selu", nn.SiLU: "silu"}
    for kind, name in exact.items():
        if isinstance(module, kind):
            _check_torch_module(module, kind, where)
            return name
    settings: list[tuple[Any, str, str, object]] = [
        (nn.LeakyReLU, "leaky_relu", "negative_slope", LEAKY_SLOPE),
        (nn.ELU, "elu", "alpha", ELU_ALPHA),
        (nn.Softplus, "softplus", "beta", 1.0),
        (nn.GELU, "gelu", "approximate", "none"),
    ]
    for kind, name, setting, ours in settings:
        if isinstance(module, kind):
            _check_torch_module(module, kind, where)
            if getattr(module, setting) != ours:
                raise ValueError(
                    f"from_torch: {where} is {module!r}, but tinygrad_edu's {name!r} has "
                    f"{setting}={ours!r}")
            if kind is nn.Softplus:
                low, high = _softplus_limits(weight_dtype)
                threshold = float(module.threshold)
                if not low <= threshold <= high:
                    raise ValueError(
                        f"from_torch: {where} is {module!r}: PyTorch's Softplus gives x itself "
                        f"above its threshold t, off from softplus(x) by up to log1p(e^-t), and "
                        f"log1p(exp(x)) below it, which overflows to inf above {high:.6g} in "
                        f"{weight_dtype}; tinygrad_edu's 'softplus' is exact, so a threshold "
                        f"from {low:g} (PyTorch's default, off by at most 2.1e-9) to "
                        f"{high:.6g} is accepted; got {threshold!r}")
            return name
    raise ValueError(
        f"from_torch: {where} is {module!r}, which tinygrad_edu's MLP cannot hold: a Sequential "
        "of Linear layers, each followed by at most one of Identity, ReLU, Sigmoid, Tanh, "
        "LeakyReLU, ELU, SELU, Softplus, SiLU or GELU, is understood")


def _modules_of(torch: Any, net: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every module of the Sequential `net` in order, with its name, a nested Sequential's
    modules in its place (``1.0``): each entry, even one module listed twice (which
    ``named_children`` would give once, though the Sequential runs it twice)."""
    found: list[tuple[str, Any]] = []
    for name, module in net._modules.items():
        if isinstance(module, torch.nn.Sequential):
            _check_torch_module(module, torch.nn.Sequential, f"module {prefix}{name}")
            found += _modules_of(torch, module, f"{prefix}{name}.")
        elif module is not None:
            found.append((prefix + name, module))
    return found


Sources = list[tuple[Any, Any]]
"""Per layer read, the torch Parameters of its weight and bias (the same one: shared)."""


def _read_sequential(torch: Any, net: Any) -> tuple[list[DenseLayer], Sources]:
    _check_torch_module(net, torch.nn.Sequential, "the Sequential given")
    layers: list[DenseLayer] = []
    sources: Sources = []
    linear: Any = None  # the Linear layer read last, until its activation is
    linear_at = ""  # (where it is)
    for index, module in _modules_of(torch, net):
        where = f"module {index} of the Sequential"
        if isinstance(module, torch.nn.Identity):
            _check_torch_module(module, torch.nn.Identity, where)
            continue  # computes nothing, wherever it stands
        if isinstance(module, torch.nn.Linear):
            if torch.nn.parameter.is_lazy(module.weight):  # (before its hook is refused)
                raise ValueError(f"from_torch: {where} is {module!r}, a lazy module whose "
                                 "weights are not made yet (sized at its first call); run a "
                                 "batch through the Sequential first")
            _check_torch_module(module, torch.nn.Linear, where)
            if module.bias is None:
                raise ValueError(f"from_torch: {where} is {module!r}, without a bias; "
                                 "tinygrad_edu's layers always have one")
            if linear is not None:
                layers.append(_read_linear(linear, linear_at, "identity"))
                sources.append((linear.weight, linear.bias))
            linear, linear_at = module, where
            continue
        if linear is None:
            raise ValueError(f"from_torch: {where} is {module!r}, which does not follow a Linear "
                             "layer (a Sequential of Linear layers and activations is understood)")
        name = _torch_activation_name(torch, module, where, linear.weight.dtype)
        layers.append(_read_linear(linear, linear_at, name))
        sources.append((linear.weight, linear.bias))
        linear = None
    if linear is not None:
        layers.append(_read_linear(linear, linear_at, "identity"))
        sources.append((linear.weight, linear.bias))
    if not layers:
        raise ValueError("from_torch: the Sequential has no Linear layer")
    return layers, sources


def _read_linear(linear: Any, where: str, activation: str) -> DenseLayer:
    """The DenseLayer of a torch.nn.Linear (`where` the Sequential has it), W = weight.T."""
    return DenseLayer(_numpy(linear.weight, f"the weight of {where}").T,
                      _numpy(linear.bias, f"the bias of {where}"), activation)


def _numpy(tensor: Any, name: str) -> Array:
    """A float64 copy of a torch tensor, a numpy array or a list of real numbers (the weight
    or bias `name`), or an error that says what it holds instead."""
    torch = _require("torch", "from_torch")
    if isinstance(tensor, torch.Tensor):
        if torch.nn.parameter.is_lazy(tensor):
            raise ValueError(f"from_torch: {name} is not made yet (a lazy module's: its size "
                             "is found at its first call); run a batch through it first")
        if tensor.is_meta:
            raise ValueError(f"from_torch: {name} is on the 'meta' device, which holds shapes "
                             "but no numbers; load or initialise its weights first")
        if tensor.is_complex():
            raise TypeError(f"from_torch: {name} holds complex numbers ({tensor.dtype}); a "
                            "Value holds real ones")
        tensor = tensor.detach().cpu().double().numpy()
    try:
        array = np.asarray(tensor)
    except (TypeError, ValueError):  # (a ragged list)
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"from_torch: {name} must hold real numbers (a tensor or an array); "
                        f"got {describe(tensor)}")
    return np.array(array, dtype=np.float64)


def _check_numbered_order(prefixes: list[str]) -> None:
    """A ValueError if layers numbered alike (``2`` and ``10``, ``layers.2`` and ``layers.10``,
    ``fc2`` and ``fc10``, ``10`` and ``2.0``) come out of numeric order: a state_dict sorted as
    text, whose layers would load shuffled (PyTorch lists them in the order they run). Two
    names are compared where they first differ, if both have a number there."""
    def parts(prefix: str) -> list[int | str]:
        return [int(part) if part.isdigit() else part for part in re.findall(r"\d+|\D+", prefix)]

    for before, after in itertools.pairwise(prefixes):
        a, b = parts(before), parts(after)
        x, y = next(((p, q) for p, q in zip(a, b, strict=False) if p != q), (None, None))
        if isinstance(x, int) and isinstance(y, int) and y < x:
            raise ValueError(
                f"from_torch: the state_dict lists {before}.weight before {after}.weight, out "
                "of the order the layers run in (was it sorted as text?); pass it as "
                "module.state_dict() gives it")


def _read_state_dict(state: Mapping[str, Any]) -> list[DenseLayer]:
    """The Linear layers of a PyTorch state_dict, in its order: ``<prefix>.weight`` of shape
    (nout, nin) and ``<prefix>.bias`` of shape (nout,) per layer."""
    prefixes: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        prefix, _, kind = str(key).rpartition(".")
        if kind not in ("weight", "bias"):
            raise ValueError(f"from_torch: the state_dict entry {key!r} is neither a weight nor "
                             "a bias of a Linear layer")
        prefixes.setdefault(prefix, {})[kind] = value
    _check_numbered_order(list(prefixes))
    layers = []
    for prefix, entries in prefixes.items():
        if set(entries) != {"weight", "bias"}:
            missing = ({"weight", "bias"} - set(entries)).pop()
            raise ValueError(f"from_torch: the state_dict has no {prefix}.{missing} "
                             "(tinygrad_edu's layers have a weight and a bias)")
        weight = _numpy(entries["weight"], f"{prefix}.weight")
        bias = _numpy(entries["bias"], f"{prefix}.bias")
        if weight.ndim != 2 or bias.shape != weight.shape[:1]:
            raise ValueError(
                f"from_torch: {prefix}.weight has shape {weight.shape} and {prefix}.bias "
                f"{bias.shape}; a Linear layer has (nout, nin) and (nout,)")
        layers.append(DenseLayer(weight.T, bias, None))
    if not layers:
        raise ValueError("from_torch: the state_dict is empty")
    return layers


def _check_fits(model: Model, layers: list[DenseLayer]) -> None:
    """Each layer of `model` has the shape (and, where known, the activation) of `layers`, and
    a weight and bias of its own to load them into."""
    known = any(layer.activation is not None for layer in layers)  # (a Sequential's)
    own = dense_layers(model, activations="loading" if known else "any")
    computed = _computed_parameter(model)
    if computed:
        raise ValueError(f"from_torch: {computed}, not a parameter of its own: no weights "
                         "can be loaded into it")
    if len(own) != len(layers):
        raise ValueError(f"from_torch: {model!r} has {len(own)} layers, the weights given have "
                         f"{len(layers)} Linear layers")
    for i, (ours, theirs) in enumerate(zip(own, layers, strict=True)):
        if ours.weight.shape != theirs.weight.shape:
            (nin, nout), (tin, tout) = ours.weight.shape, theirs.weight.shape
            raise ValueError(
                f"from_torch: layer {i} of {model!r} takes {nin} inputs to {nout} outputs, but "
                f"Linear layer {i} given takes {tin} to {tout} (its weight has shape "
                f"{(tout, tin)})")
        if theirs.activation is not None and theirs.activation != ours.activation:
            raise ValueError(f"from_torch: layer {i} of {model!r} uses {ours.activation!r}, "
                             f"the Sequential's uses {theirs.activation!r}")


def _mirror(model: MLP, sources: Sources) -> None:
    """Make the layers of `model` share a W or b where the torch layers share a Parameter, and
    freeze those that are frozen there (``requires_grad=False``)."""
    first: dict[int, Any] = {}
    for layer, (weight, bias) in zip(model.layers, sources, strict=True):
        layer.W = first.setdefault(id(weight), layer.W)
        layer.b = first.setdefault(id(bias), layer.b)
        layer.W.requires_grad = bool(weight.requires_grad)
        layer.b.requires_grad = bool(bias.requires_grad)


def from_torch(source: Any, model: Model | None = None) -> Any:
    """Load PyTorch weights into an MLP: `source` is a ``torch.nn.Sequential`` of ``Linear``
    and activation modules, or a state_dict (``<prefix>.weight`` (nout, nin) and
    ``<prefix>.bias`` per Linear layer, in order).

    Without `model`, a Sequential becomes a new `MLP` with its sizes and activations (a
    state_dict holds no activations: pass `model`). With `model` (ours or micrograd's, of the
    same sizes; activations must match a Sequential's), its weights are replaced and it is
    returned. W = weight.T, b = bias; float32 weights are widened exactly. The Sequential runs
    each module it lists, in order (one listed twice, twice); a nested Sequential counts as its
    modules, an ``Identity`` as nothing. In a new MLP, a Parameter that several Linear layers
    share is one W or b, and a frozen one (``requires_grad=False``) is frozen; a parameter that
    several layers of `model` share must get the same weights from each. A Softplus needs
    beta=1 and a threshold from 20 (PyTorch's default: above it, x is off from softplus(x) by
    at most 2.1e-9) to 88.72 (709.78 after a float64 Linear), where its exp cannot overflow. A
    subclass that redefines forward, or a module with forward hooks, is refused. A state_dict
    whose numbered layers are out of numeric order (``10`` before ``2``: sorted as text) is
    refused rather than loaded shuffled.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> from_torch(net)
    MLP(2 → 8 relu → 1 identity)
    >>> from tinygrad_edu.nn import MLP
    >>> from_torch(net.state_dict(), MLP(2, [8, 1]))
    MLP(2 → 8 relu → 1 identity)
    """
    torch = _require("torch", "from_torch")
    sources: Sources = []
    if isinstance(source, torch.nn.Sequential):
        layers, sources = _read_sequential(torch, source)
    elif isinstance(source, Mapping):
        layers = _read_state_dict(source)
    else:
        raise TypeError(
            "from_torch reads a torch.nn.Sequential of Linear layers and activations, or a "
            f"state_dict with model=MLP(...) of the same sizes; got {type(source).__name__} "
            "(for another Module, pass module.state_dict() and model=)")
    if model is None:
        if any(layer.activation is None for layer in layers):
            raise TypeError("from_torch: a state_dict holds weights but no activations; pass "
                            "model=MLP(nin, sizes, activation=...) to load them into")
        for i in range(1, len(layers)):
            if layers[i].weight.shape[0] != layers[i - 1].weight.shape[1]:
                raise ValueError(f"from_torch: Linear layer {i} takes "
                                 f"{layers[i].weight.shape[0]} inputs but layer {i - 1} gives "
                                 f"{layers[i - 1].weight.shape[1]} outputs")
        names = [layer.activation or "identity" for layer in layers]
        model = MLP(layers[0].weight.shape[0], [layer.weight.shape[1] for layer in layers],
                    activation=names[0], output_activation=names[-1], seed=0)
        for layer, name in zip(model.layers, names, strict=True):
            layer.activation = ACTIVATIONS[name]
        _mirror(model, sources)
    _check_fits(model, layers)
    _write(model, layers)
    return model


# --------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------


WIDENED = ("sigmoid", "tanh", "elu", "selu", "silu", "gelu")
"""The activations a float32 ONNX graph computes in float64: ONNX Runtime's float32 Sigmoid
is 17% off at −15 and 0 at −20, Elu and Selu give 0 at −1e-8, Tanh is 1e-6 off near 0, and
1 + Erf cancels for x < 0."""

ERFC_COEFFICIENTS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                     0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)
"""P(t) = Σ cₖ·tᵏ of `_OnnxGraph.normal_cdf`."""


class _OnnxGraph:
    """The nodes and constants of an ONNX graph being written, with fresh value names."""

    def __init__(self, onnx: Any, dtype: str) -> None:
        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.dtype = np.dtype(dtype)
        self.elem_type = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def constant(self, value: Any, name: str = "") -> str:
        name = name or f"const{len(self.initializers)}"
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.numpy_helper.from_array(array, name=name))
        return name

    def node(self, op: str, *inputs: str, **attributes: Any) -> str:
        self.count += 1
        output = f"{op.lower()}{self.count}"
        self.nodes.append(self.helper.make_node(op, list(inputs), [output],
                                                name=f"{op}_{self.count}", **attributes))
        return output

    def where_positive(self, x: str, then: str, otherwise: str) -> str:
        """then where x > 0, else otherwise."""
        return self.node("Where", self.node("Greater", x, self.constant(0.0)), then, otherwise)

    def expm1(self, x: str) -> str:
        """eˣ − 1 without cancellation near 0 (Kahan: (u − 1)·x / log u, u = eˣ; x if u = 1)."""
        u = self.node("Exp", x)
        um1 = self.node("Sub", u, self.constant(1.0))
        ratio = self.node("Div", self.node("Mul", um1, x), self.node("Log", u))
        ratio = self.node("Where", self.node("Equal", um1, self.constant(-1.0)), um1, ratio)
        return self.node("Where", self.node("Equal", u, self.constant(1.0)), x, ratio)

    def log1p(self, x: str) -> str:
        """log(1 + x) without cancellation near 0 (Kahan: log(u)·x / (u − 1), u = 1 + x)."""
        u = self.node("Add", x, self.constant(1.0))
        ratio = self.node("Div", self.node("Mul", self.node("Log", u), x),
                          self.node("Sub", u, self.constant(1.0)))
        return self.node("Where", self.node("Equal", u, self.constant(1.0)), x, ratio)

    def sigmoid(self, x: str) -> str:
        """σ(x); in float64 as 1/(1 + e^−|x|) or e^−|x|/(1 + e^−|x|) (ONNX Runtime's float64
        Sigmoid is off by 1e-3 relative at x = −30, and gives 0 below about −37)."""
        if self.dtype != np.float64:
            return self.node("Sigmoid", x)
        tail = self.node("Exp", self.node("Neg", self.node("Abs", x)))
        denominator = self.node("Add", self.constant(1.0), tail)
        return self.node("Where", self.node("GreaterOrEqual", x, self.constant(0.0)),
                         self.node("Div", self.constant(1.0), denominator),
                         self.node("Div", tail, denominator))

    def elu(self, x: str, alpha: float) -> str:
        negative = self.node("Min", x, self.constant(0.0))
        scaled = self.node("Mul", self.constant(alpha), self.expm1(negative))
        return self.where_positive(x, x, scaled)

    def normal_cdf(self, x: str) -> str:
        """Φ(x) = erfc(−x/√2)/2 to ~1e-7 relative, tails included (1 + erf(x/√2) cancels for
        x < 0): erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), z ≥ 0, P of degree 9
        (Numerical Recipes' erfcc, Press et al., §6.2: fractional error below 1.2e-7)."""
        z = self.node("Mul", self.node("Abs", x), self.constant(np.sqrt(0.5)))
        t = self.node("Div", self.constant(1.0),
                      self.node("Add", self.constant(1.0), self.node("Mul", z, self.constant(0.5))))
        poly = self.constant(ERFC_COEFFICIENTS[-1])
        for c in reversed(ERFC_COEFFICIENTS[:-1]):  # Horner
            poly = self.node("Add", self.node("Mul", poly, t), self.constant(c))
        exponent = self.node("Sub", poly, self.node("Mul", z, z))
        half_erfc = self.node("Mul", self.node("Mul", t, self.node("Exp", exponent)),
                              self.constant(0.5))  # Φ(−|x|)
        return self.where_positive(x, self.node("Sub", self.constant(1.0), half_erfc), half_erfc)

    def activation(self, name: str, x: str) -> str:
        """The output of activation `name` on `x`. In float32, those whose float32 ONNX ops
        lose relative accuracy in a tail or near 0 (`WIDENED`) are computed in float64 and
        rounded once; gelu exists only that way (ONNX Runtime has no float64 Erf, and
        `normal_cdf` is accurate to float32's precision, not float64's)."""
        if self.dtype == np.float64 and name == "gelu":
            raise ValueError(
                "to_onnx: gelu needs erf or erfc to float64's precision, which ONNX Runtime "
                "lacks (its Erf is float32 only); export this model with dtype='float32'")
        if self.dtype != np.float32 or name not in WIDENED:
            return self.formula(name, x)
        float32 = self.dtype, self.elem_type
        self.dtype, self.elem_type = np.dtype(np.float64), self.helper.np_dtype_to_tensor_dtype(
            np.dtype(np.float64))
        try:
            out = self.formula(name, self.node("Cast", x, to=self.elem_type))
        finally:
            self.dtype, self.elem_type = float32
        return self.node("Cast", out, to=self.elem_type)

    def formula(self, name: str, x: str) -> str:
        """activation `name` on `x` in the graph's dtype: ONNX's own op where ONNX Runtime has
        it accurately in this dtype (and no float32 attribute would round a float64
        constant), else written out in elementary ops."""
        double = self.dtype == np.float64
        if name == "identity":
            return x
        if name in ("relu", "tanh"):
            return self.node(name.capitalize(), x)
        if name == "sigmoid":
            return self.sigmoid(x)
        if name == "step":
            return self.node("Cast", self.node("Greater", x, self.constant(0.0)),
                             to=self.elem_type)
        if name == "silu":
            return self.node("Mul", x, self.sigmoid(x))
        if name == "leaky_relu":
            if not double:
                return self.node("LeakyRelu", x, alpha=LEAKY_SLOPE)
            return self.where_positive(x, x, self.node("Mul", self.constant(LEAKY_SLOPE), x))
        if name == "elu":
            return self.elu(x, ELU_ALPHA) if double else self.node("Elu", x, alpha=ELU_ALPHA)
        if name == "selu":
            if not double:
                return self.node("Selu", x, alpha=SELU_ALPHA, gamma=SELU_LAMBDA)
            return self.node("Mul", self.constant(SELU_LAMBDA), self.elu(x, SELU_ALPHA))
        if name == "softplus":  # max(x, 0) + log1p(e^−|x|)
            if not double:
                return self.node("Softplus", x)
            tail = self.node("Exp", self.node("Neg", self.node("Abs", x)))
            return self.node("Add", self.node("Max", x, self.constant(0.0)), self.log1p(tail))
        if name == "gelu":  # x·Φ(x)
            return self.node("Mul", x, self.normal_cdf(x))
        raise ValueError(f"to_onnx: no ONNX translation for the activation {name!r}")


def to_onnx(model: Model, path: PathLike | IO[bytes], *, dtype: Any = "float32") -> Any:
    """Write `model` to the ONNX file `path` (opset `ONNX_OPSET`; or to a binary file object,
    ``io.BytesIO()`` say) and return its ModelProto.

    The graph reads ``input`` of shape (batch, nin) and gives ``output`` of shape
    (batch, nout): per layer a ``Gemm`` (x @ W + b), then the activation: ONNX's own op where
    ONNX Runtime computes it accurately (Relu; Tanh in float64; LeakyRelu, Softplus in
    float32), else elementary ops (step = Cast(x > 0), silu = x·σ(x), a stable σ,
    cancellation-free eˣ − 1 and log(1 + x) for elu, selu and softplus, gelu = x·Φ(x) with
    an erfc accurate to 1.2e-7). In ONNX Runtime, dtype="float64" gives our outputs to
    ~1e-12 (gelu cannot be exported so: ONNX Runtime has no float64 Erf). With "float32" the
    Gemms round as float32 does, and sigmoid, tanh, elu, selu, silu and gelu are computed in
    float64 between two Casts (their float32 ops lose all relative accuracy in a tail or near
    0), so every activation is within 2e-7 relative of its exact value at its float32 input
    wherever that value is a normal float32 (≥ 1.2e-38 in size; below, float32 has fewer
    digits, or 0).

    >>> import os, tempfile, onnxruntime
    >>> from tinygrad_edu.nn import MLP
    >>> model = MLP(2, [4, 1], activation="tanh", seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> proto = to_onnx(model, path, dtype="float64")
    >>> [node.op_type for node in proto.graph.node]
    ['Gemm', 'Tanh', 'Gemm', 'Identity']
    >>> X = np.array([[0.5, -1.0], [2.0, 0.0]])
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> float(abs(session.run(None, {"input": X})[0] - model(X).data).max()) < 1e-12
    True
    """
    dtype = _check_dtype(dtype, "to_onnx")
    if not hasattr(path, "write"):  # (a file object, io.BytesIO say, is written to as it is)
        path = file_to_write(path, "to_onnx", "model.onnx")
    layers = dense_layers(model)
    onnx = _require("onnx", "to_onnx")
    graph = _OnnxGraph(onnx, dtype)
    x = "input"
    names: dict[Hashable, str] = {}  # a parameter shared by several layers is stored once
    for i, (layer, keys) in enumerate(zip(layers, _parameter_keys(model), strict=True)):
        weight = names.get(keys[0]) or graph.constant(layer.weight, f"layers.{i}.W")
        bias = names.get(keys[1]) or graph.constant(layer.bias, f"layers.{i}.b")
        names.setdefault(keys[0], weight)
        names.setdefault(keys[1], bias)
        x = graph.node("Gemm", x, weight, bias)
        x = graph.activation(layer.activation or "identity", x)
    graph.nodes.append(onnx.helper.make_node("Identity", [x], ["output"], name="output"))
    nin, nout = layers[0].weight.shape[0], layers[-1].weight.shape[1]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, "tinygrad_edu",
            [onnx.helper.make_tensor_value_info("input", graph.elem_type, ["batch", nin])],
            [onnx.helper.make_tensor_value_info("output", graph.elem_type, ["batch", nout])],
            initializer=graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
        producer_name="tinygrad_edu", doc_string=f"{model!r}, exported by tinygrad_edu")
    proto.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)
    return proto
