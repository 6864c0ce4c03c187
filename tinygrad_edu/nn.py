"""Neural networks from the lecture: Neuron → Layer → MLP, Rosenblatt's perceptron, the losses.

Every trainable number is a parameter: a `Value` reached through `Module.parameters()`.
A `Layer` keeps its weights as one tensor ``W`` of shape ``(nin, nout)`` and its biases as one
tensor ``b`` of shape ``(nout,)``, so a whole batch goes through a layer in one matrix product,

    out = activation(X @ W + b),

while ``layer.neurons[i]`` (or ``layer[i]``) still shows neuron ``i`` on its own: its weights
are column ``i`` of ``W``, its bias element ``i`` of ``b``.

Initialisation (as PyTorch's ``nn.Linear``): every weight and bias is drawn from
U(−1/√nin, 1/√nin) by ``np.random.default_rng(seed)``, so the same seed gives the same network.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from tinygrad_edu._common import PathLike, Seed, plural, positive_int
from tinygrad_edu.activations import get_activation
from tinygrad_edu.engine import Array, Value, as_data, constant
from tinygrad_edu.ops import stack

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
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "mse_loss",
]

ActivationLike = str | Callable[[Value], Value] | None
"""An activation's name (``"tanh"``, ``"identity"`` …), a callable on Values, or None (identity)."""


# --------------------------------------------------------------------------------------------
# Module: parameters, gradients, saving and loading
# --------------------------------------------------------------------------------------------


class Module:
    """Base class of everything with parameters (PyTorch's names, micrograd's simplicity).

    Parameters are found by looking at the attributes, in the order they were set: a `Value`
    attribute is a parameter, a `Module` attribute (or a list of them) contributes its own
    parameters under a dotted prefix (``layers.0.W``). Attributes starting with ``_`` are
    private and skipped.
    """

    def forward(self, x: Any) -> Value:
        """The model's output for the input `x` (subclasses define it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, x: Any) -> Value:
        return self.forward(x)

    # ---- parameters -------------------------------------------------------------------------

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, in definition order (a shared one once)."""
        found: list[tuple[str, Value]] = []
        seen: set[int] = set()
        for name, value in self._walk(""):
            if id(value) not in seen:
                seen.add(id(value))
                found.append((name, value))
        return found

    def _walk(self, prefix: str) -> Iterator[tuple[str, Value]]:
        for name, attr in vars(self).items():
            if name.startswith("_"):
                continue
            items = list(enumerate(attr)) if isinstance(attr, list | tuple) else [(None, attr)]
            for i, item in items:
                full = prefix + name + ("" if i is None else f".{i}")
                if isinstance(item, Value):
                    yield full, item
                elif isinstance(item, Module):
                    yield from item._walk(full + ".")

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
        """Copy `state` (from `state_dict()` or `load()`) into the parameters, bit for bit.

        Every parameter must be present with its own shape, and nothing else: otherwise a
        `ValueError` names the parameter that does not fit, and no parameter is changed.
        """
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
            data = as_data(state[name], f"state[{name!r}]")
            shape = np.shape(data)
            if shape != p.shape:
                raise ValueError(
                    f"cannot load the weights into {self!r}: parameter {name!r} has shape "
                    f"{p.shape} here but {shape} in the weights given "
                    "(were they saved from another architecture?)"
                )
            new_data[name] = data if isinstance(data, float) else np.array(data)
        for name, p in own.items():
            p.data = new_data[name]

    def save(self, path: PathLike) -> None:
        """Write the parameters to a ``.npz`` file (numpy's format; no pickle involved).

        As with `numpy.savez`, ``.npz`` is appended to a path that lacks it.
        """
        np.savez(path, **self.state_dict())  # type: ignore[arg-type]

    def load(self, path: PathLike) -> Self:
        """Read parameters written by `save()` into this model (which must have the same
        architecture; see `load_state_dict`) and return the model."""
        if not os.path.exists(path) and os.path.exists(f"{os.fspath(path)}.npz"):
            path = f"{os.fspath(path)}.npz"  # save() appended the suffix (numpy.savez does)
        with np.load(path, allow_pickle=False) as archive:
            state = {name: archive[name] for name in archive.files}
        self.load_state_dict(state)
        return self


# --------------------------------------------------------------------------------------------
# Inputs and initialisation
# --------------------------------------------------------------------------------------------


def _as_input(x: Any, nin: int, who: str) -> Value:
    """`x` as a Value of shape ``(nin,)`` (one sample) or ``(batch, nin)``, or a clear error."""
    if isinstance(x, Value):
        value = x
    elif isinstance(x, list | tuple) and any(isinstance(e, Value) for e in x):
        value = stack(list(x))  # micrograd style: a list of scalar Values
    else:
        value = constant(as_data(x, f"the input of {who}"))
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
        rng = np.random.default_rng(seed)
        self.weights = Value(_uniform(rng, (self.nin,), self.nin), label="w")
        self.bias = Value(float(_uniform(rng, (), self.nin)), label="b")
        self.activation = get_activation(activation)

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
        np.asarray(self.parameter.data)[self.index] = new

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

    def __init__(self, nin: int, nout: int, activation: ActivationLike = "identity", *,
                 seed: Seed = None) -> None:
        self.nin = positive_int(nin, "Layer: nin (the number of inputs)")
        self.nout = positive_int(nout, "Layer: nout (the number of neurons)")
        rng = np.random.default_rng(seed)
        self.W = Value(_uniform(rng, (self.nin, self.nout), self.nin), label="W")
        self.b = Value(_uniform(rng, (self.nout,), self.nin), label="b")
        self.activation = get_activation(activation)

    def transform(self, x: Value) -> Value:
        """activation(x @ W + b) for an already checked input (no squeezing)."""
        return self.activation(x @ self.W + self.b)

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


def _squeeze_single(out: Value, x: Value) -> Value:
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
        rng = np.random.default_rng(seed)
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


# --------------------------------------------------------------------------------------------
# Rosenblatt's perceptron
# --------------------------------------------------------------------------------------------


@dataclass
class PerceptronHistory:
    """What `Perceptron.fit` did: per epoch, the number of errors (= updates) and the weights
    at the end of the epoch.

    `converged` is True when an epoch made no error; `cycled` is True when training stopped
    because the weights came back to an earlier end-of-epoch state while errors remained: the
    same epochs would then repeat forever, so the data are not linearly separable.
    """

    initial_weights: Array
    errors: list[int] = field(default_factory=list)
    weights: list[Array] = field(default_factory=list)
    converged: bool = False
    cycled: bool = False

    @property
    def epochs(self) -> int:
        return len(self.errors)

    @property
    def updates(self) -> int:
        """The total number of weight updates (mistakes), the quantity Novikoff bounds."""
        return sum(self.errors)


@dataclass(frozen=True)
class DecisionBoundary:
    """The hyperplane bias + normal·x = 0 where a perceptron's prediction flips from 0 to 1."""

    bias: float
    normal: Array

    def side(self, X: Any) -> Array:
        """wᵀx for each row of `X`: positive on the side predicted 1."""
        return np.asarray(X, dtype=np.float64) @ self.normal + self.bias

    def x2(self, x1: Any) -> Any:
        """For two inputs: the x₂ on the line above `x1`, x₂ = −(w₀ + w₁x₁)/w₂."""
        if self.normal.shape != (2,):
            raise ValueError(f"x2() needs a boundary in 2 inputs; this one has {self.normal.size}")
        if self.normal[1] == 0.0:
            raise ValueError("the boundary is vertical (w₂ = 0): it is the line x₁ = "
                             f"{-self.bias / self.normal[0] if self.normal[0] else math.nan}")
        return -(self.bias + self.normal[0] * np.asarray(x1, dtype=np.float64)) / self.normal[1]


class Perceptron:
    """Rosenblatt's perceptron (1958): ŷ = step(wᵀx) with x = (1, x₁, …, xₙ), so w₀ is the bias.

    `weights` is a 1-D array of nin + 1 numbers, bias first. With ``seed=None`` they start at
    zero (the setting of Novikoff's convergence theorem); with a seed they start random, as in
    the lecture, drawn from U(−1, 1). Either way they can be set directly.

    >>> from tinygrad_edu.datasets import logic_gate
    >>> X, y = logic_gate("and")
    >>> p = Perceptron(2)
    >>> history = p.fit(X, y)
    >>> history.converged, history.errors
    (True, [1, 3, 3, 2, 1, 0])
    >>> p.weights, p.predict(X)
    (array([-3.,  2.,  1.]), array([0, 0, 0, 1]))
    """

    def __init__(self, nin: int, *, seed: Seed = None) -> None:
        self.nin = positive_int(nin, "Perceptron: nin (the number of inputs)")
        if seed is None:
            self._weights = np.zeros(self.nin + 1)
        else:
            self._weights = np.random.default_rng(seed).uniform(-1.0, 1.0, self.nin + 1)

    @property
    def weights(self) -> Array:
        """(w₀, w₁, …, wₙ): the bias first, then one weight per input."""
        return self._weights

    @weights.setter
    def weights(self, new: Any) -> None:
        array = np.array(as_data(new, "Perceptron weights"), dtype=np.float64, ndmin=1)
        if array.shape != (self.nin + 1,):
            raise ValueError(f"Perceptron weights must have shape ({self.nin + 1},) (the bias "
                             f"first, then {self.nin} weights); got shape {array.shape}")
        self._weights = array

    def _augment(self, X: Any, who: str) -> tuple[Array, bool]:
        """Rows (1, x₁, …, xₙ) for a batch or one sample, and whether it was one sample."""
        array = np.asarray(as_data(X, f"the input of Perceptron.{who}"), dtype=np.float64)
        single = array.ndim == 1
        array = array.reshape(1, -1) if single else array
        if array.ndim != 2 or array.shape[1] != self.nin:
            raise ValueError(f"Perceptron.{who} expects {self.nin} input features per sample; "
                             f"got an input of shape {np.shape(X)}")
        return np.hstack([np.ones((len(array), 1)), array]), single

    def net_input(self, X: Any) -> Any:
        """wᵀx = w₀ + w₁x₁ + … + wₙxₙ for one sample (a float) or each row of a batch."""
        rows, single = self._augment(X, "net_input")
        z = rows @ self._weights
        return float(z[0]) if single else z

    def predict(self, X: Any) -> Any:
        """step(wᵀx): 1 if wᵀx > 0 else 0, an int for one sample, an int array for a batch."""
        rows, single = self._augment(X, "predict")
        out = (rows @ self._weights > 0.0).astype(np.int64)
        return int(out[0]) if single else out

    def fit(self, X: Any, y: Any, *, lr: float = 1.0, max_epochs: int = 100) -> PerceptronHistory:
        """Rosenblatt's rule, one example at a time, in order, epoch after epoch:

        on a wrong prediction, w ← w + lr·x if ŷ = 0 and y = 1, w ← w − lr·x if ŷ = 1 and y = 0;
        stop after an epoch without errors (converged), when the weights return to an earlier
        end-of-epoch state with errors remaining (a cycle: it would never converge), or after
        `max_epochs`.
        """
        rows, _ = self._augment(X, "fit")
        labels = _binary_labels(y, len(rows), "Perceptron.fit")
        if not lr > 0.0:
            raise ValueError(f"Perceptron.fit: lr must be positive; got {lr!r}")
        max_epochs = positive_int(max_epochs, "Perceptron.fit: max_epochs")
        w = self._weights.copy()
        history = PerceptronHistory(initial_weights=w.copy())
        earlier = [w.copy()]
        for _ in range(max_epochs):
            errors = 0
            for x, target in zip(rows, labels, strict=True):
                prediction = 1 if x @ w > 0.0 else 0
                if prediction == 0 and target == 1:
                    w += lr * x
                    errors += 1
                elif prediction == 1 and target == 0:
                    w -= lr * x
                    errors += 1
            history.errors.append(errors)
            history.weights.append(w.copy())
            if errors == 0:
                history.converged = True
                break
            tolerance = 1e-9 * max(1.0, float(np.abs(w).max()))
            if any(np.allclose(w, state, rtol=0.0, atol=tolerance) for state in earlier):
                history.cycled = True
                break
            earlier.append(w.copy())
        self._weights = w
        return history

    def decision_boundary(self) -> DecisionBoundary:
        """The hyperplane wᵀx = 0 (a line for two inputs) separating the two predictions.

        >>> p = Perceptron(2)
        >>> p.weights = [-1.5, 1.0, 1.0]
        >>> float(p.decision_boundary().x2(0.5))
        1.0
        """
        return DecisionBoundary(float(self._weights[0]), self._weights[1:].copy())

    def __repr__(self) -> str:
        return f"Perceptron({self.nin}, weights={np.array2string(self._weights, precision=4)})"


def _binary_labels(y: Any, n: int, who: str) -> Array:
    labels = np.asarray(as_data(y, f"the labels of {who}"), dtype=np.float64).reshape(-1)
    if labels.shape != (n,):
        raise ValueError(f"{who}: got {n} samples but {labels.size} labels")
    bad = labels[(labels != 0.0) & (labels != 1.0)]
    if bad.size:
        raise ValueError(f"{who}: labels must be 0 or 1; got {bad[0]:g}")
    return labels


# --------------------------------------------------------------------------------------------
# Losses: means over the batch, numerically stable
# --------------------------------------------------------------------------------------------


def _value(x: Any, what: str) -> Value:
    return x if isinstance(x, Value) else constant(as_data(x, what))


def _align(pred: Value, target: Value, loss: str) -> tuple[Value, Value]:
    """Make prediction and target the same shape; a trailing axis of 1 on either side (the
    (batch, 1) output of a one-output model against (batch,) labels) is dropped."""
    ps, ts = pred.shape, target.shape
    if ps == ts:
        return pred, target
    if ps == (*ts, 1):
        return pred.reshape(ts), target
    if ts == (*ps, 1):
        return pred, target.reshape(ps)
    raise ValueError(f"{loss}: the prediction has shape {ps} but the target has shape {ts}; "
                     "they must match")


def _mean(x: Value) -> Value:
    return x if x.shape == () else x.mean()


def mse_loss(pred: Any, target: Any) -> Value:
    """Mean squared error: mean((pred − target)²); d/dpred = 2(pred − target)/n.

    >>> mse_loss(Value([1.0, 2.0]), [1.0, 4.0]).data
    2.0
    """
    pred, target = _align(_value(pred, "mse_loss pred"), _value(target, "mse_loss target"),
                          "mse_loss")
    return _mean((pred - target) ** 2)


def binary_cross_entropy_with_logits(logits: Any, target: Any) -> Value:
    """−mean(y·log σ(z) + (1 − y)·log(1 − σ(z))) for logits z and targets y in [0, 1].

    Computed as mean(y·softplus(−z) + (1 − y)·softplus(z)): two non-negative terms, each a
    stable softplus, so logits of ±1e4 give exact values; d/dz = (σ(z) − y)/n.

    >>> round(binary_cross_entropy_with_logits(Value([0.0]), [1.0]).data, 6)
    0.693147
    >>> binary_cross_entropy_with_logits(Value([1e4, -1e4]), [1.0, 0.0]).data
    0.0
    """
    z = _value(logits, "binary_cross_entropy_with_logits logits")
    y = _value(target, "binary_cross_entropy_with_logits target")
    targets = np.asarray(y.data)
    if np.any((targets < 0.0) | (targets > 1.0)) or np.isnan(targets).any():
        bad = targets[~((targets >= 0.0) & (targets <= 1.0))].reshape(-1)[0]
        raise ValueError(f"binary_cross_entropy_with_logits: targets must lie in [0, 1] "
                         f"(class labels 0 and 1, or probabilities); got {bad:g}")
    z, y = _align(z, y, "binary_cross_entropy_with_logits")
    return _mean(y * (-z).softplus() + (1.0 - y) * z.softplus())


def hinge_loss(scores: Any, target: Any) -> Value:
    """micrograd's SVM max-margin loss: mean(relu(1 − y·score)) for targets y = ±1.

    >>> hinge_loss(Value([2.0, 0.0, -1.0]), [1, 1, 1]).data
    1.0
    """
    s = _value(scores, "hinge_loss scores")
    y = _value(target, "hinge_loss target")
    targets = np.asarray(y.data)
    bad = targets[(targets != 1.0) & (targets != -1.0)].reshape(-1)
    if bad.size:
        raise ValueError(f"hinge_loss: targets must be -1 or +1; got {bad[0]:g} "
                         "(turn 0/1 labels into ±1 with 2*y - 1)")
    s, y = _align(s, y, "hinge_loss")
    return _mean((1.0 - y * s).relu())


def cross_entropy(logits: Any, labels: Any) -> Value:
    """Softmax cross-entropy over the last axis with integer class labels:
    mean(logsumexp(z) − z_label), d/dz = (softmax(z) − onehot(label))/n.

    `logits` has shape (batch, classes) with `labels` of shape (batch,), or (classes,) with one
    label. The log-sum-exp subtracts the row maximum (a constant) first, so it never overflows.

    >>> round(cross_entropy(Value([[2.0, 0.0, 0.0]]), [0]).data, 6)
    0.239545
    """
    z = _value(logits, "cross_entropy logits")
    if z.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (classes,) or (batch, classes); "
                         f"got shape {z.shape}")
    classes = z.shape[-1]
    raw = labels.data if isinstance(labels, Value) else labels
    array = np.asarray(raw)
    if array.dtype.kind not in "iuf" or (array.dtype.kind == "f" and
                                        not np.all(array == np.round(array))):
        raise ValueError(f"cross_entropy: labels must be integer class indices; got {raw!r}")
    index = array.astype(np.intp)
    if index.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: logits of shape {z.shape} need labels of shape "
                         f"{z.shape[:-1]}; got shape {index.shape}")
    outside = index[(index < 0) | (index >= classes)].reshape(-1)
    if outside.size:
        raise ValueError(f"cross_entropy: label {int(outside[0])} is outside the {classes} "
                         f"classes 0..{classes - 1}")
    # NOTE: the maximum is subtracted as a constant: logsumexp(z) = m + logsumexp(z − m) for
    # any m, so the gradient is unchanged and exp never sees a positive argument
    shifted: Value = z - np.max(z.data, axis=-1, keepdims=True)
    log_sum_exp: Value = shifted.exp().sum(axis=-1).log()
    if z.ndim == 1:
        return log_sum_exp - shifted[int(index)]
    picked: Value = shifted[np.arange(len(index)), index]
    return (log_sum_exp - picked).mean()
