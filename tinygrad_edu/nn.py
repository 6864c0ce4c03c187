"""Neural networks from the lecture: Module, and Neuron → Layer → MLP built on it.

Every trainable number is a parameter: a `Value` reached through `Module.parameters()`.
A `Layer` keeps its weights as one tensor ``W`` of shape ``(nin, nout)`` and its biases as one
tensor ``b`` of shape ``(nout,)``, so a whole batch goes through a layer in one matrix product,

    out = activation(X @ W + b),

while ``layer.neurons[i]`` (or ``layer[i]``) still shows neuron ``i`` on its own: its weights
are column ``i`` of ``W``, its bias element ``i`` of ``b``.

Initialisation (as PyTorch's ``nn.Linear``): every weight and bias is drawn from
U(−1/√nin, 1/√nin) by ``np.random.default_rng(seed)``, so the same seed gives the same network;
with ``seed=None`` the draw comes from numpy's global random state (``np.random.seed(s)``).

The losses (`tinygrad_edu.losses`) and Rosenblatt's perceptron (`tinygrad_edu.perceptron`) live
in modules of their own; they are importable from here too (``from tinygrad_edu.nn import
mse_loss, Perceptron``).

>>> from tinygrad_edu.nn import MLP, mse_loss
>>> model = MLP(2, [4, 1], activation="tanh", seed=0)
>>> model
MLP(2 → 4 tanh → 1 identity)
>>> loss = mse_loss(model([[0.0, 1.0], [1.0, 0.0]]), [1.0, 0.0])
>>> loss.backward()
>>> [name for name, _ in model.named_parameters()]
['layers.0.W', 'layers.0.b', 'layers.1.W', 'layers.1.b']
>>> model.layers[0].W.grad.shape
(2, 4)
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, cast

import numpy as np

from tinygrad_edu._common import (
    PathLike,
    Seed,
    file_name,
    plural,
    positive_int,
    random_generator,
)
from tinygrad_edu.activations import get_activation, log_softmax, logsumexp, softmax
from tinygrad_edu.arrays import stack
from tinygrad_edu.data import Array, as_data, data_of
from tinygrad_edu.engine import Value
from tinygrad_edu.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)
from tinygrad_edu.perceptron import DecisionBoundary, Perceptron, PerceptronHistory

# the names of tinygrad_edu.losses and tinygrad_edu.perceptron, and the softmax family, are
# importable from here too (as torch.nn.functional has them)
__all__ = [
    "MLP",
    "DecisionBoundary",
    "Layer",
    "Module",
    "Neuron",
    "NeuronView",
    "ParameterSlice",
    "Perceptron",
    "PerceptronHistory",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "huber_loss",
    "l1_loss",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "nll_loss",
    "softmax",
]

ActivationLike = str | Callable[[Value], Value] | None
"""An activation's name (``"tanh"``, ``"identity"`` …), a callable on Values, or None (identity)."""


# --------------------------------------------------------------------------------------------
# Module: parameters, gradients, saving and loading
# --------------------------------------------------------------------------------------------


class Module:
    """Base class of everything with parameters (PyTorch's names, micrograd's simplicity).

    Parameters are found by looking at the attributes, in the order they were set: a `Value`
    attribute that is a leaf (made by you, not by an operation) is a parameter, a `Module`
    attribute contributes its own parameters under a dotted prefix (``layers.0.W``), and so do
    those in lists, tuples and dicts (``heads.left.W``), nested too. A Value an operation made
    (an output kept to look at later) is not a parameter, as in PyTorch. Attributes starting
    with ``_`` are private and skipped.
    """

    OUTPUT_METHODS: ClassVar[tuple[str, ...]] = ("forward", "__call__")
    """The methods that compute the output: a subclass that redefines one computes something
    of its own (export and the plots then judge the model by what it gives, not its class)."""

    def forward(self, x: Any) -> Value:
        """The model's output for the input `x` (subclasses define it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, x: Any) -> Value:
        return self.forward(x)

    # ---- parameters -------------------------------------------------------------------------

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, in definition order (a shared one once)."""
        found: dict[str, Value] = {}
        seen: set[int] = set()
        for name, value in self._walk("", {id(self)}):
            if id(value) not in seen:
                if name in found:  # (a dict key with a dot, or keys 1 and "1")
                    raise ValueError(
                        f"two parameters of {type(self).__name__} are both named {name!r}: "
                        "state_dict(), save() and load() would keep only one. Give them "
                        "distinct names (a dict's keys: strings without a '.')")
                seen.add(id(value))
                found[name] = value
        return list(found.items())

    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Value]]:
        for name, attr in vars(self).items():
            if not name.startswith("_"):
                yield from _walk_item(prefix + name, attr, seen)

    def parameters(self) -> list[Value]:
        """Every parameter (a `Value`), in the order of `named_parameters()`."""
        return [value for _, value in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the model learns (the sizes of all parameters added up)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to zero (before the next `backward()`)."""
        for p in self.parameters():
            p.zero_grad()

    # ---- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Array]:
        """A copy of every parameter's data, by dotted name (a scalar as a 0-d array)."""
        return {name: np.array(p.data, dtype=np.float64) for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy `state` (from `state_dict()` or `load()`; arrays, numbers or Values, as
        ``dict(other.named_parameters())``) into the parameters, bit for bit: a tensor's
        array in place, as PyTorch copies, so that a view of it shows the new numbers.

        Every parameter must be present with its own shape, and nothing else: otherwise a
        `ValueError` names the parameter that does not fit, and no parameter is changed.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict takes a dict of arrays by parameter name (as "
                            f"state_dict() returns); got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing parameters {missing}")
            if unexpected:
                parts.append(f"unexpected parameters {unexpected}")
            raise ValueError(
                f"cannot load the weights into {self!r}: " + "; ".join(parts)
                + " (were they saved from another architecture?)"
            )
        new_data: dict[str, Any] = {}
        for name, p in own.items():
            data = as_data(data_of(state[name]), f"state[{name!r}]")  # (a Value: its data)
            shape = np.shape(data)
            if shape != p.shape:
                raise ValueError(
                    f"cannot load the weights into {self!r}: parameter {name!r} has shape "
                    f"{p.shape} here but {shape} in the weights given "
                    "(were they saved from another architecture?)"
                )
            new_data[name] = data if isinstance(data, float) else np.array(data)
        for name, p in own.items():
            if type(p._data) is np.ndarray:
                try:  # in place, as torch's copy_: a view of the parameter (a tied weight's
                    cast(Array, p.data)[...] = new_data[name]  # .T) shows the new numbers
                    continue  # (an edit in place, seen by a graph recorded before)
                except ValueError:  # (a view of a sealed array cannot be written)
                    pass
            p.data = new_data[name]

    def save(self, path: PathLike) -> None:
        """Write the parameters to a ``.npz`` file (numpy's format; no pickle involved).

        As with `numpy.savez`, ``.npz`` is appended to a path that lacks it; a folder is
        refused. (The archive is written as `numpy.savez` writes it, one ``name.npy`` entry a
        parameter, so that a parameter may be called ``file`` or ``allow_pickle``.)
        """
        text = file_name(path, f"{type(self).__name__}.save", "model.npz")
        if not text.endswith(".npz"):
            text += ".npz"
        with zipfile.ZipFile(text, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in self.state_dict().items():
                with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, array, allow_pickle=False)

    def load(self, path: PathLike) -> Self:
        """Read parameters written by `save()` into this model (which must have the same
        architecture; see `load_state_dict`) and return the model."""
        text = file_name(path, f"{type(self).__name__}.load", "model.npz")
        if not os.path.isfile(text) and os.path.isfile(f"{text}.npz"):
            text = f"{text}.npz"  # save() appended the suffix (numpy.savez does)
        self.load_state_dict(_read_npz(text, f"{type(self).__name__}.load"))
        return self


def _walk_item(name: str, item: Any, seen: set[int]) -> Iterator[tuple[str, Value]]:
    """The parameters in `item` (a Value, a Module, or a list, tuple or dict of them); a
    Module or container already walked (shared, or a reference back to an owner) is skipped,
    as PyTorch's ``named_modules`` does."""
    if isinstance(item, Value):
        if item.op is None:  # (a Value an operation made is an output, not a parameter)
            yield name, item
        return
    if not isinstance(item, Module | list | tuple | dict) or id(item) in seen:
        return
    seen.add(id(item))
    if isinstance(item, Module):
        yield from item._walk(name + ".", seen)
    elif isinstance(item, dict):
        for key, element in item.items():
            yield from _walk_item(f"{name}.{key}", element, seen)
    else:
        for i, element in enumerate(item):
            yield from _walk_item(f"{name}.{i}", element, seen)


def _read_npz(path: PathLike, who: str) -> dict[str, Any]:
    """The arrays of an ``.npz`` file of numbers, or an error saying what the file is not.

    (numpy's own messages about object data suggest ``allow_pickle=``, which would run code
    from the file: never that.)
    """
    with open(path, "rb") as file:
        head = file.read(8)
    kinds = {b"\x93NUMPY": "a single .npy array", b"\x80": "a Python pickle",
             b"\x89PNG": "a PNG image", b"{": "a JSON text"}
    if not head.startswith(b"PK"):  # every .npz is a zip archive
        kind = next((k for magic, k in kinds.items() if head.startswith(magic)), None)
        raise ValueError(f"{who}: {os.fspath(path)!r} is not an .npz file of parameters (as "
                         "Module.save writes)" + (f"; it is {kind}" if kind else
                                                   f"; it starts with {head!r}"))
    try:  # (the file is opened here: numpy's np.load leaves it open when it is no zip)
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            state = {}
            for name in archive.files:
                try:
                    entry = archive[name]
                    what = "" if isinstance(entry, np.ndarray) else "is no numpy array"
                except ValueError as error:  # objects, or an entry cut short or damaged
                    what = "holds Python objects, not numbers" if "allow_pickle" in \
                        str(error) else f"cannot be read ({error})"
                if what:  # (numpy gives an entry of no .npy format as bytes)
                    raise ValueError(f"{who}: {os.fspath(path)!r} is not an .npz file of "
                                     f"parameters: its entry {name!r} {what}")
                state[name] = entry
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{who}: {os.fspath(path)!r} is not a readable .npz file of "
                         f"parameters ({error})") from None
    return state


# --------------------------------------------------------------------------------------------
# Inputs and initialisation
# --------------------------------------------------------------------------------------------


def _as_input(x: Any, nin: int, who: str) -> Value | Array:
    """`x` of shape ``(nin,)`` (one sample) or ``(batch, nin)``, or a clear error: a Value, or
    plain data as a float64 array (used as data in ``x @ W``, as a numpy batch is: no Value
    whose gradient needs W's data, so that W is not watched for it, see `changes`)."""
    value: Value | Array
    if isinstance(x, Value):
        value = x
    elif isinstance(x, list | tuple) and any(isinstance(e, Value) for e in x):
        value = stack(list(x))  # micrograd style: a list of scalar Values
    else:
        value = np.asarray(as_data(x, f"the input of {who}"))
    if value.ndim not in (1, 2):
        raise ValueError(
            f"{who} takes one sample (a list or 1-D array of {plural(nin, 'feature')}) or a "
            f"batch (a 2-D array, one row of {plural(nin, 'feature')} per sample); got an "
            f"input of shape "
            f"{value.shape}"
        )
    if value.shape[-1] != nin:
        raise ValueError(
            f"{who} expects {plural(nin, 'input feature')}; got {value.shape[-1]} "
            f"(an input of shape {value.shape})"
        )
    return value


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], nin: int) -> Array:
    bound = 1.0 / math.sqrt(nin)
    return rng.uniform(-bound, bound, size=shape)


def _check_activation(activation: Any, who: str) -> Callable[[Value], Value]:
    """The activation `activation` names, or an error that says which argument was wrong."""
    try:
        return get_activation(activation)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{who}: {error}") from None


def _activation_name(fn: Callable[[Value], Value]) -> str:
    name = getattr(fn, "name", None) or getattr(fn, "__name__", None)
    return str(name) if name else repr(fn)


# --------------------------------------------------------------------------------------------
# Neuron, Layer, MLP
# --------------------------------------------------------------------------------------------


class Neuron(Module):
    """One artificial neuron: out = activation(wᵀx + b), with `weights` w of shape (nin,) and a
    scalar `bias` b.

    One sample gives a scalar Value, a batch of shape (batch, nin) gives shape (batch,).

    >>> n = Neuron(2, activation="sigmoid", seed=1)
    >>> n.weights.shape, n.bias.shape
    ((2,), ())
    >>> out = n([1.0, -1.0])
    >>> out.backward()
    >>> n.bias.grad == out.data * (1 - out.data)
    True
    """

    def __init__(self, nin: int, activation: ActivationLike = "identity", *,
                 seed: Seed = None) -> None:
        self.nin = positive_int(nin, "Neuron: nin (the number of inputs)")
        rng = random_generator(seed)
        self.weights = Value(_uniform(rng, (self.nin,), self.nin), label="w")
        self.bias = Value(float(_uniform(rng, (), self.nin)), label="b")
        self.activation = _check_activation(activation, "Neuron: activation")

    def forward(self, x: Any) -> Value:
        x = _as_input(x, self.nin, "Neuron")
        return self.activation(x @ self.weights + self.bias)

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={_activation_name(self.activation)!r})"


class ParameterSlice:
    """A live window onto part of a parameter: `.data` and `.grad` are read (and `.data`
    written) through the parameter at each access, so they stay current during training."""

    def __init__(self, parameter: Value, index: Any) -> None:
        self.parameter = parameter
        self.index = index

    @property
    def data(self) -> Any:
        """The selected part of the parameter's data (a float for a single element)."""
        part = np.asarray(self.parameter.data)[self.index]
        return float(part) if np.ndim(part) == 0 else part

    @data.setter
    def data(self, new: Any) -> None:
        data = self.parameter.data
        value = as_data(new, f"{self.name}.data")
        shape = np.shape(np.asarray(data)[self.index])
        try:
            np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(f"{self.name}.data: {self.name} has shape {shape}, and takes data "
                             f"of that shape (or a number); got shape {np.shape(value)}") from None
        np.asarray(data)[self.index] = value
        self.parameter.data = data  # (a graph recorded before knows it changed)

    @property
    def name(self) -> str:
        """The part as indexing writes it, e.g. ``W[:, 1]``."""
        parts = [":" if part == slice(None) else str(part) for part in self.index]
        return f"{self.parameter.label or 'parameter'}[{', '.join(parts)}]"

    @property
    def grad(self) -> Any:
        """The same part of the parameter's gradient."""
        grad = self.parameter.grad
        part = np.asarray(grad.data if isinstance(grad, Value) else grad)[self.index]
        return float(part) if np.ndim(part) == 0 else part

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.data))

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        return np.array(self.data, dtype=dtype)

    def __repr__(self) -> str:
        return f"ParameterSlice(data={self.data!r}, grad={self.grad!r})"


class NeuronView:
    """Neuron `i` of a `Layer`: column i of the layer's W and element i of its b.

    >>> layer = Layer(3, 2, seed=0)
    >>> neuron = layer.neurons[1]
    >>> neuron.weights.shape, type(neuron.bias.data).__name__
    ((3,), 'float')
    >>> bool((neuron.weights.data == layer.W.data[:, 1]).all())
    True
    """

    OUTPUT_METHODS: ClassVar[tuple[str, ...]] = ("__call__",)  # (see Module's)

    def __init__(self, layer: Layer, index: int) -> None:
        self.layer = layer
        self.index = index

    @property
    def weights(self) -> ParameterSlice:
        """This neuron's weights (column `index` of ``layer.W``), with `.data` and `.grad`."""
        return ParameterSlice(self.layer.W, (slice(None), self.index))

    @property
    def bias(self) -> ParameterSlice:
        """This neuron's bias (element `index` of ``layer.b``), with `.data` and `.grad`."""
        return ParameterSlice(self.layer.b, (self.index,))

    def __call__(self, x: Any) -> Value:
        """This neuron's own output, activation(x · w + b), recorded in the graph."""
        x = _as_input(x, self.layer.nin, "NeuronView")
        i = self.index
        return self.layer.activation(x @ self.layer.W[:, i] + self.layer.b[i])

    def __repr__(self) -> str:
        return f"NeuronView(neuron {self.index} of {self.layer!r})"


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs: out = activation(x @ W + b).

    `W` has shape (nin, nout), one column per neuron; `b` has shape (nout,). One sample gives
    shape (nout,) (a scalar Value when nout == 1); a batch (batch, nin) gives (batch, nout).

    >>> layer = Layer(2, 3, activation="relu", seed=0)
    >>> layer([[1.0, 2.0], [3.0, 4.0]]).shape, layer([1.0, 2.0]).shape
    ((2, 3), (3,))
    >>> len(layer), layer[0].weights.shape
    (3, (2,))
    """

    OUTPUT_METHODS = ("forward", "transform", "__call__")  # (see Module's)

    def __init__(self, nin: int, nout: int, activation: ActivationLike = "identity", *,
                 seed: Seed = None) -> None:
        self.nin = positive_int(nin, "Layer: nin (the number of inputs)")
        self.nout = positive_int(nout, "Layer: nout (the number of neurons)")
        rng = random_generator(seed)
        self.W = Value(_uniform(rng, (self.nin, self.nout), self.nin), label="W")
        self.b = Value(_uniform(rng, (self.nout,), self.nin), label="b")
        self.activation = _check_activation(activation, "Layer: activation")

    def transform(self, x: Value | Array) -> Value:
        """activation(x @ W + b) for an already checked input (no squeezing)."""
        product = cast(Value, x @ self.W)  # (numpy hands a batch's `@` to W's __rmatmul__)
        return self.activation(product + self.b)

    def forward(self, x: Any) -> Value:
        x = _as_input(x, self.nin, "Layer")
        return _squeeze_single(self.transform(x), x)

    @property
    def neurons(self) -> list[NeuronView]:
        """The layer's neurons, each a view onto its column of W and element of b."""
        return [NeuronView(self, i) for i in range(self.nout)]

    def __getitem__(self, i: int) -> NeuronView:
        if not isinstance(i, int | np.integer) or isinstance(i, bool):
            raise TypeError(f"a layer's neurons are numbered 0 to {self.nout - 1}; got {i!r}")
        if not -self.nout <= i < self.nout:
            raise IndexError(f"neuron index {i} is out of range for a layer of {self.nout}")
        return NeuronView(self, i % self.nout)

    def __len__(self) -> int:
        return self.nout

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={_activation_name(self.activation)!r})"


def _squeeze_single(out: Value, x: Value | Array) -> Value:
    """One sample through a model with one output gives a scalar Value (as in micrograd)."""
    if x.ndim == 1 and out.shape == (1,):
        return out.reshape(())
    return out


class MLP(Module):
    """A multilayer perceptron: layers of sizes `nouts`, each feeding the next.

    Hidden layers use `activation`, the last one `output_activation` (None: linear), so with
    the defaults it is micrograd's MLP. ``MLP(2, [16, 16, 1])`` has two hidden layers of 16.

    >>> model = MLP(3, [4, 4, 1], seed=0)
    >>> model([1.0, 2.0, 3.0]).shape, model(np.ones((5, 3))).shape
    ((), (5, 1))
    >>> model.num_parameters()
    41
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: ActivationLike = "relu",
                 output_activation: ActivationLike = None, *, seed: Seed = None) -> None:
        self.nin = positive_int(nin, "MLP: nin (the number of inputs)")
        if isinstance(nouts, int) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(
                f"MLP: nouts must be a non-empty list of layer sizes, e.g. [16, 16, 1]; "
                f"got {nouts!r}"
            )
        sizes = [self.nin] + [positive_int(n, "MLP: each layer size") for n in nouts]
        for name, given in (("activation", activation), ("output_activation", output_activation)):
            _check_activation(given, f"MLP: {name}")  # each, even where no layer uses it
        rng = random_generator(seed)
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, seed=rng)
            for i in range(len(nouts))
        ]

    @property
    def nout(self) -> int:
        return self.layers[-1].nout

    def forward(self, x: Any) -> Value:
        x = _as_input(x, self.nin, "MLP")
        out = x
        for layer in self.layers:
            out = layer.transform(out)
        return _squeeze_single(out, x)

    def __repr__(self) -> str:
        parts = [str(self.nin)] + [
            f"{layer.nout} {_activation_name(layer.activation)}" for layer in self.layers
        ]
        return f"MLP({' → '.join(parts)})"
