"""Optimizers: update parameters from their gradients, with PyTorch's formulas.

`step()` reads each parameter's `.grad` and changes its `.data`; `zero_grad()` resets the
gradients before the next `backward()`. Tensor parameters are updated in place. A gradient is
never None here (it starts at zero), so every parameter is stepped: one that got no gradient
is still moved by weight decay, momentum or Adam's moments, as PyTorch's optimizers move it
after ``zero_grad(set_to_none=False)`` (by default PyTorch skips it). A frozen parameter
(``requires_grad=False``) gets no gradient, as in PyTorch, where its ``.grad`` stays None and
the optimizer skips it: while its gradient is zero, neither weight decay nor the momentum or
moments of earlier steps move it, and its state waits until it is unfrozen. (A gradient you
give it yourself is used, as PyTorch uses one.)

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.optim import SGD
>>> w = Value([1.0, -2.0])
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.data
array([ 0.8, -1.6])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from tinygrad_edu.changes import changed, describe_value, is_read, unread_changed
from tinygrad_edu.data import Array, data_of, describe
from tinygrad_edu.engine import Value
from tinygrad_edu.kernels import (
    ignore_float_errors,
    is_number,
    restore_float_errors,
    set_writeable,
)

__all__ = ["SGD", "Adam", "Optimizer"]


def _check_rate(value: Any, name: str) -> float:
    if not is_number(value) or not value >= 0.0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number ≥ 0; got {value!r}")
    return float(value)


class Optimizer:
    """What every optimizer shares: the parameters it updates and `zero_grad()`."""

    def __init__(self, params: Iterable[Value]) -> None:
        if isinstance(params, Value):
            raise TypeError("an optimizer takes a list of Values (e.g. model.parameters()), "
                            "not a single Value: wrap it in a list")
        if isinstance(params, Mapping) or hasattr(params, "named_parameters") or \
                not isinstance(params, Iterable):
            hint = "model.parameters()" if hasattr(params, "named_parameters") else \
                "a list of Values"
            raise TypeError(f"an optimizer takes an iterable of Values (e.g. "
                            f"model.parameters()); got {describe(params)}: pass {hint}")
        self.params: list[Value] = []
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(f"parameter {i} is not a Value; got {type(p).__name__}")
            if p.op is not None:  # (PyTorch: "can't optimize a non-leaf Tensor")
                raise ValueError(
                    f"parameter {i}, {describe_value(p)}, is not a leaf: an optimizer updates "
                    "Values you made, which a graph starts from. Make the parameter itself, "
                    "e.g. Value(np.random.randn(2, 3) * 0.1), not Value(np.random.randn(2, 3)) "
                    "* 0.1")
            if id(p) not in seen:
                seen.add(id(p))
                self.params.append(p)
        if not self.params:
            raise ValueError("an optimizer needs at least one parameter; got an empty list")

    @property
    def lr(self) -> float:
        """The learning rate, a finite number ≥ 0; checked when set, in the constructor or
        later (a schedule's ``opt.lr = 0.01``), not at the next step."""
        return self._lr

    @lr.setter
    def lr(self, value: Any) -> None:
        self._lr = _check_rate(value, f"{type(self).__name__}: lr")

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to zero."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter once from its current gradient (but a frozen one that has
        none: see the module's docstring). In IEEE arithmetic, silently (an overflow gives
        inf, as PyTorch's), whatever ``np.seterr`` asks: an error halfway through a step would
        leave some parameters and moments updated and others not."""
        quiet = ignore_float_errors()
        try:
            self._update()
        finally:
            restore_float_errors(quiet)

    def _update(self) -> None:
        """What `step` does, the optimizer's own formulas."""
        raise NotImplementedError

    def _active(self) -> Iterator[tuple[int, Value]]:
        """The parameters a step updates, with their positions: all but the frozen ones
        without a gradient (PyTorch's parameters whose ``.grad`` is None)."""
        return ((i, p) for i, p in enumerate(self.params)
                if p.requires_grad or np.any(self._grad(p) != 0.0))

    @staticmethod
    def _grad(p: Value) -> Array:
        """`p.grad` as a float64 array (0-d for a scalar), read only: not copied."""
        grad = p._grad
        if type(grad) is np.ndarray:  # (a tensor's, the usual case: `p.grad` as it is)
            return grad
        grad = p.grad
        return np.asarray(grad.data if isinstance(grad, Value) else grad, dtype=np.float64)

    @staticmethod
    def _subtract(p: Value, update: Array) -> None:
        """p ← p − update: in place for a tensor, as a float for a scalar. Either way the
        change is stamped as the setter of `.data` stamps it, so a graph recorded before the
        step whose rules read `p` knows it changed (`tinygrad_edu.changes`).

        The array is not read with `p.data`: the getter would hand it out, copying it for the
        in-place check (`tinygrad_edu.changes`), only for the setter to drop the copy.
        """
        data = p._data
        if type(data) is not np.ndarray:
            p.data = float(data - update)
            return
        try:
            set_writeable(data, True)  # (the engine seals arrays a graph has used)
        except ValueError:  # a view of a sealed array: a new array instead
            p.data = data - update
            return
        data -= update
        # what ``p.data = data`` would do now: an array a recorded rule may read is sealed
        # again and stamped; one that none reads stays writeable, unwatched
        if is_read(p):
            set_writeable(data, False)
            changed(p)
        else:
            unread_changed(p)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay (PyTorch's `torch.optim.SGD`
    with dampening 0, not Nesterov):

        g ← grad + weight_decay·p
        b ← g at the first step, then b ← momentum·b + g      (only when momentum ≠ 0)
        p ← p − lr·b   (or p − lr·g without momentum)

    >>> from tinygrad_edu import Value
    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.5, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = 1.0
    ...     opt.step()
    >>> round(w.data, 6)  # 1 − 0.5·1 − 0.5·(0.9 + 1)
    -0.45
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = lr
        self.momentum = _check_rate(momentum, "SGD: momentum")
        self.weight_decay = _check_rate(weight_decay, "SGD: weight_decay")
        self._buffers: list[Array | None] = [None] * len(self.params)

    def _update(self) -> None:
        # (plain SGD moves a frozen parameter by lr·0, by nothing: no need to look for them)
        plain = not (self.momentum or self.weight_decay)
        for i, p in enumerate(self.params) if plain else self._active():
            g = self._grad(p)
            if self.weight_decay:
                g = g + self.weight_decay * data_of(p)
            if self.momentum:
                buffer = self._buffers[i]
                if buffer is None:  # (an array, 0-d for a scalar: updated in place after)
                    buffer = self._buffers[i] = np.array(g, dtype=np.float64)
                else:  # momentum·b + g, in place
                    buffer *= self.momentum
                    buffer += g
                g = buffer
            self._subtract(p, self.lr * g)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as PyTorch's `torch.optim.Adam` computes it; at step t:

        g ← grad + weight_decay·p
        m ← β₁·m + (1 − β₁)·g,     v ← β₂·v + (1 − β₂)·g²
        p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)

    m is computed as PyTorch's ``lerp`` computes it, m + (1 − β₁)·(g − m) (for β₁ ≤ 0.5,
    g − (g − m)·β₁), which rounds differently from the formula as written. `t` counts the calls
    of `step()`; each parameter's bias correction counts the steps it took part in (as
    PyTorch's per-parameter ``state["step"]``), which differ only for one that was frozen.

    >>> from tinygrad_edu import Value
    >>> w = Value(1.0)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = 3.0
    >>> opt.step()
    >>> round(w.data, 6)  # the first step moves each parameter by about lr
    0.9
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = lr
        if not isinstance(betas, tuple | list) or len(betas) != 2 or \
                not all(is_number(b) and 0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1); got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _check_rate(eps, "Adam: eps")
        self.weight_decay = _check_rate(weight_decay, "Adam: weight_decay")
        self.t = 0
        self._steps = [0] * len(self.params)
        self._m = [np.zeros(p.shape) for p in self.params]
        self._v = [np.zeros(p.shape) for p in self.params]

    def _update(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        weight = 1.0 - beta1  # (PyTorch's lerp weight, and its two branches)
        for i, p in self._active():
            self._steps[i] += 1
            t = self._steps[i]
            bias_correction1 = 1.0 - beta1**t
            bias_correction2_sqrt = math.sqrt(1.0 - beta2**t)
            step_size = self.lr / bias_correction1
            g = self._grad(p)
            if self.weight_decay:
                g = g + self.weight_decay * data_of(p)
            m, v = self._m[i], self._v[i]  # (updated in place: the same operations)
            if weight < 0.5:  # m + w·(g − m)
                m += weight * (g - m)
            else:  # g − (g − m)·(1 − w)
                m[...] = g - (g - m) * (1.0 - weight)
            v *= beta2
            v += (1.0 - beta2) * g * g
            denominator = np.sqrt(v) / bias_correction2_sqrt + self.eps
            self._subtract(p, step_size * m / denominator)
