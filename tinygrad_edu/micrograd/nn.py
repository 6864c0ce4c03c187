"""micrograd's `nn`: neurons, layers and MLPs whose parameters are scalar Values.

The weights are drawn with Python's `random` as micrograd draws them, one
``random.uniform(-1, 1)`` per weight, neuron by neuron, and every bias starts at 0, so
``random.seed(s)`` before building a model gives micrograd's own weights.

>>> import random
>>> random.seed(0)
>>> n = Neuron(2)
>>> n, len(n.parameters()), n([1.0, -2.0]).data >= 0.0
(ReLUNeuron(2), 3, True)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from tinygrad_edu.data import describe
from tinygrad_edu.kernels import is_number
from tinygrad_edu.micrograd.engine import Value

__all__ = ["MLP", "Layer", "Module", "Neuron", "Value"]


class Module:
    """What every model has: its parameters, and a way to zero their gradients."""

    OUTPUT_METHODS: ClassVar[tuple[str, ...]] = ("__call__",)
    """The methods that compute the output (as `tinygrad_edu.nn.Module.OUTPUT_METHODS`)."""

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        return []


class Neuron(Module):
    """``act = sum(w_i · x_i) + b``, then ReLU unless ``nonlin=False`` (a linear neuron).

    Its input `x` is one sample: `nin` numbers or scalar Values (a list, a 1-D array). A batch
    (a 2-D array, a list of rows) is refused, as is another number of inputs: micrograd's zip
    would pair weight i with sample i, or drop inputs.
    """

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Iterable[Any]) -> Any:
        inputs = list(x)
        if len(inputs) != len(self.w):  # (micrograd's zip would drop the extra weights or inputs)
            raise ValueError(self._refusal(x, inputs))
        try:
            act = sum((wi * xi for wi, xi in zip(self.w, inputs, strict=True)), self.b)
        except (TypeError, ValueError):
            if _all_scalars(inputs):
                raise
            raise ValueError(self._refusal(x, inputs)) from None
        if type(act.data) is not float:  # (rows of a batch: weight i times sample i)
            raise ValueError(self._refusal(x, inputs))
        return act.relu() if self.nonlin else act

    def _refusal(self, x: Any, inputs: list[Any]) -> str:
        """Why `x` (read as `inputs`) is not an input of this neuron: the wrong number of
        inputs, or a batch of samples (a 2-D array, a list of rows) rather than one."""
        expected = f"{self!r} takes {len(self.w)} inputs, one per weight"
        if _all_scalars(inputs):
            return f"{expected}; got {len(inputs)}"
        shape = getattr(x, "shape", None)
        given = describe(x) if shape is None else f"{type(x).__name__} of shape {shape}"
        return (f"{expected}: one sample, a flat list of {len(self.w)} numbers or scalar "
                f"Values; got {given}, whose items are not all numbers (a batch of samples "
                f"goes through micrograd's models one sample at a time: "
                f"[model(row) for row in X])")

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


def _all_scalars(inputs: list[Any]) -> bool:
    """Whether every input is a number or a scalar Value: the features of one sample."""
    return all(is_number(xi) or (isinstance(xi, Value) and xi.ndim == 0) for xi in inputs)


class Layer(Module):
    """`nout` neurons on the same inputs; one output is returned as it is, several as a list."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Any]) -> Any:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes `nouts` after `nin` inputs; ReLU everywhere but the last layer."""

    def __init__(self, nin: int, nouts: Sequence[int]) -> None:
        sizes = [nin, *nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
