"""The lecture's activation functions, and a few modern ones, by name.

Each is a primitive of the derivative table (`tinygrad_edu.ops`) or a composition of
primitives, so its gradient is derived by the engine, never written twice. Conventions at the
kinks (the derivative used where there is none):

======================  ===================================
relu at 0               0
leaky_relu at 0         negative_slope
elu at 0                alpha
selu at 0               λ·α
step everywhere         0 (no gradient: hence Rosenblatt's rule)
======================  ===================================

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.activations import ACTIVATIONS, sigmoid
>>> sigmoid(Value(0.0)).data
0.5
>>> sorted(ACTIVATIONS)[:4]
['elu', 'gelu', 'identity', 'leaky_relu']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tinygrad_edu import ops
from tinygrad_edu.engine import Operand, Value, constant, method_forms
from tinygrad_edu.kernels import SELU_ALPHA, SELU_LAMBDA

__all__ = ["ACTIVATIONS", "SELU_ALPHA", "SELU_LAMBDA", "Activation", "elu", "gelu",
           "get_activation", "identity", "leaky_relu", "log_softmax", "logsumexp", "name_of",
           "relu", "selu", "sigmoid", "silu", "softmax", "softplus", "step", "tanh"]


def sigmoid(x: Operand) -> Value:
    """σ(x) = 1 / (1 + e⁻ˣ) = eˣ / (1 + eˣ);  σ'(x) = σ(x)·σ(−x).

    >>> round(sigmoid(Value(2.0)).data, 6)
    0.880797
    """
    return constant(x).sigmoid()


def tanh(x: Operand) -> Value:
    """tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ);  tanh'(x) = 1 − tanh²(x).

    >>> tanh(Value(0.0)).data
    0.0
    """
    return constant(x).tanh()


def step(x: Operand) -> Value:
    """Heaviside step: 1 if x > 0 else 0; its derivative is taken as 0 everywhere.

    >>> step(Value(0.5)).data, step(Value(0.0)).data
    (1.0, 0.0)
    """
    return constant(x).step()


def relu(x: Operand) -> Value:
    """max(0, x);  relu'(x) = 1 if x > 0 else 0 (0 at the kink).

    >>> relu(Value(-2.0)).data, relu(Value(3.0)).data
    (0.0, 3.0)
    """
    return constant(x).relu()


def leaky_relu(x: Operand, negative_slope: float = 0.01) -> Value:
    """x if x > 0 else negative_slope·x; the slope at 0 is negative_slope.

    >>> leaky_relu(Value(-2.0)).data
    -0.02
    """
    return constant(x).leaky_relu(negative_slope)


def elu(x: Operand, alpha: float = 1.0) -> Value:
    """x if x > 0 else α(eˣ − 1); derivative 1, or α·eˣ (α at 0).

    >>> round(elu(Value(-1.0)).data, 6)
    -0.632121
    """
    return constant(x).elu(alpha)


def selu(x: Operand) -> Value:
    """λ·elu(x, α) with λ ≈ 1.0507 and α ≈ 1.6733 (self-normalising); slope λ·α at 0.

    >>> round(selu(Value(1.0)).data, 6)
    1.050701
    """
    return constant(x).selu()


def softplus(x: Operand) -> Value:
    """log(1 + eˣ), computed stably;  softplus'(x) = σ(x).

    >>> round(softplus(Value(0.0)).data, 6)
    0.693147
    """
    return constant(x).softplus()


def silu(x: Operand) -> Value:
    """x·σ(x) (also called swish);  silu'(x) = σ(x) + x·σ(x)·σ(−x).

    >>> round(silu(Value(1.0)).data, 6)
    0.731059
    """
    return constant(x).silu()


def gelu(x: Operand) -> Value:
    """x·Φ(x), Φ the standard normal CDF (the exact GELU);  gelu'(x) = Φ(x) + x·φ(x).

    >>> round(gelu(Value(1.0)).data, 6)
    0.841345
    """
    return constant(x).gelu()


def identity(x: Operand) -> Value:
    """x itself: a linear neuron (no activation).

    >>> identity(Value(2.0)).data
    2.0
    """
    return constant(x)


# ---- over an axis rather than elementwise (not in ACTIVATIONS, which are elementwise)


def softmax(x: Operand, axis: int = -1) -> Value:
    """exp(x) / Σ exp(x) along `axis`, computed stably (see `Value.softmax`);
    ∂softmaxᵢ/∂xⱼ = softmaxᵢ·(δᵢⱼ − softmaxⱼ).

    >>> [round(p, 4) for p in softmax([1.0, 2.0, 3.0]).data.tolist()]
    [0.09, 0.2447, 0.6652]
    """
    return constant(x).softmax(axis)


def log_softmax(x: Operand, axis: int = -1) -> Value:
    """x − logsumexp(x) along `axis` (see `Value.log_softmax`); ∂/∂x = g − softmax(x)·Σg.

    >>> [round(p, 4) for p in log_softmax([1.0, 2.0, 3.0]).data.tolist()]
    [-2.4076, -1.4076, -0.4076]
    """
    return constant(x).log_softmax(axis)


def logsumexp(x: Operand, axis: int | tuple[int, ...] | None = None,
              keepdims: bool = False) -> Value:
    """log Σ exp(x) over `axis` (all axes when None), without overflow; ∂/∂x = softmax(x).

    >>> round(logsumexp([1000.0, 1000.0]).data, 6)
    1000.693147
    """
    return constant(x).logsumexp(axis, keepdims)


@dataclass(frozen=True)
class Activation:
    """A named activation: the function, and the points where its derivative jumps."""

    name: str
    function: Callable[[Value], Value]
    kinks: tuple[float, ...] = ()

    def __call__(self, x: Value) -> Value:
        return self.function(x)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid),
        Activation("tanh", tanh),
        Activation("step", step, kinks=ops.STEP.kinks),
        Activation("relu", relu, kinks=ops.RELU.kinks),
        Activation("leaky_relu", leaky_relu, kinks=ops.LEAKY_RELU.kinks),
        Activation("elu", elu, kinks=ops.ELU.kinks),
        Activation("selu", selu, kinks=ops.ELU.kinks),  # λ·elu: elu's kink
        Activation("softplus", softplus),
        Activation("silu", silu),
        Activation("gelu", gelu),
        Activation("identity", identity),
    )
}
"""Every activation by name, as `nn` looks them up (``activation="tanh"``)."""

ALIASES = {"linear": "identity", "none": "identity", "swish": "silu", "heaviside": "step"}


def name_of(function: Any) -> str | None:
    """The name in `ACTIVATIONS` of `function` when it is one of the library's activations, in
    any form `nn` takes: the `Activation`, its function, or `Value`'s method (``Value.tanh``);
    None for a callable of the user's own.

    >>> name_of(ACTIVATIONS["tanh"]), name_of(sigmoid), name_of(Value.relu), name_of(abs)
    ('tanh', 'sigmoid', 'relu', None)
    """
    if isinstance(function, Activation):
        if ACTIVATIONS.get(function.name) == function:
            return function.name
        function = function.function
    for name, known in ACTIVATIONS.items():
        if function is known.function or function in method_forms(name):
            return name
    return None


def get_activation(activation: str | Callable[[Value], Value] | None) -> Callable[[Value], Value]:
    """The activation called `activation` (or the callable itself; None means identity).

    >>> get_activation("tanh").name
    'tanh'
    """
    if activation is None:
        return ACTIVATIONS["identity"]
    if callable(activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name or a callable; got {activation!r}")
    return ACTIVATIONS[activation_names([activation])[0]]


def activation_names(names: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The names in `ACTIVATIONS` that `names` stand for (case ignored, `ALIASES` resolved);
    None means every activation but the identity (those worth plotting and checking).

    An unknown name, or no name at all, is a ValueError that lists the known activations.

    >>> activation_names(["ReLU", "swish"])
    ['relu', 'silu']
    >>> activation_names(["tanhh"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'tanhh'; known activations: elu, gelu, identity, ...
    """
    if names is None:
        return [name for name in ACTIVATIONS if name != "identity"]
    if isinstance(names, str):
        raise TypeError(f"activation_names takes a list of names; got the string {names!r}")
    resolved: list[str] = []
    unknown: list[object] = []
    for name in names:
        canonical = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else None
        if canonical is not None and canonical in ACTIVATIONS:
            resolved.append(canonical)
        else:
            unknown.append(name)
    if unknown or not resolved:
        what = (f"unknown activation{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}" if unknown else "no activation given")
        raise ValueError(f"{what}; known activations: {', '.join(sorted(ACTIVATIONS))}")
    return resolved
