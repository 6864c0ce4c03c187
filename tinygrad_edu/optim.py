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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

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

T = TypeVar("T")


def _check_rate(value: Any, name: str) -> float:
    if not is_number(value) or not value >= 0.0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number ≥ 0; got {value!r}")
    return float(value)


def _check_betas(betas: Any, name: str) -> tuple[float, float]:
    if not isinstance(betas, tuple | list) or len(betas) != 2 or \
            not all(is_number(b) and 0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{name} must be two numbers in [0, 1); got {betas!r}")
    return float(betas[0]), float(betas[1])


class _Setting(Generic[T]):
    """A setting of an optimizer (``lr``, ``momentum``, ...), checked when set, in the
    constructor or later (a schedule's ``opt.lr = 0.01``), not at the next step: what the
    constructor refuses is refused later too."""

    def __init__(self, check: Callable[[Any, str], T], doc: str) -> None:
        self.check = check
        self.name = ""
        self.__doc__ = doc  # (what help(SGD.lr) shows)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, optimizer: None, owner: type) -> _Setting[T]: ...
    @overload
    def __get__(self, optimizer: Optimizer, owner: type) -> T: ...

    def __get__(self, optimizer: Optimizer | None, owner: type) -> _Setting[T] | T:
        if optimizer is None:
            return self
        try:
            value: T = optimizer.__dict__[self.name]
        except KeyError:  # (not set yet: as for any attribute, hasattr says False)
            raise AttributeError(f"{type(optimizer).__name__} has no {self.name} set") from None
        return value

    def __set__(self, optimizer: Optimizer, value: Any) -> None:
        optimizer.__dict__[self.name] = self.check(value, f"{type(optimizer).__name__}: "
                                                          f"{self.name}")


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

    lr = _Setting(_check_rate, "The learning rate, a finite number ≥ 0.")

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

    def _active(self) -> Iterator[Value]:
        """The parameters a step updates: all but the frozen ones without a gradient
        (PyTorch's parameters whose ``.grad`` is None)."""
        return (p for p in self.params if p.requires_grad or np.any(self._grad(p) != 0.0))

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
        del data  # (`changed` counts the array's references: none of this frame's)
        # what ``p.data = data`` would do now: an array a recorded rule may read is stamped
        # and sealed again (or, held elsewhere and watched, left writeable: `changed`); one
        # that none reads stays writeable, unwatched
        if is_read(p):
            if not changed(p):
                set_writeable(p._data, False)  # type: ignore[arg-type]
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

    momentum = _Setting(_check_rate, "The momentum factor, a finite number ≥ 0 (0: none).")
    weight_decay = _Setting(_check_rate, "The L2 penalty's factor, a finite number ≥ 0.")

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._buffers: dict[Value, Array] = {}  # (by parameter, as PyTorch's state: one
        # taken out of `params`, or put in, leaves the others' as they are)

    def _update(self) -> None:
        # (plain SGD moves a frozen parameter by lr·0, by nothing: no need to look for them)
        lr, momentum, weight_decay = self.lr, self.momentum, self.weight_decay
        plain = not (momentum or weight_decay)
        for p in self.params if plain else self._active():
            g = self._grad(p)
            if weight_decay:
                g = g + weight_decay * data_of(p)
            if momentum:
                buffer = self._buffers.get(p)
                if buffer is None:  # (an array, 0-d for a scalar: updated in place after)
                    buffer = self._buffers[p] = np.array(g, dtype=np.float64)
                else:  # momentum·b + g, in place
                    buffer *= momentum
                    buffer += g
                g = buffer
            self._subtract(p, lr * g)


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

    betas = _Setting(_check_betas, "The decay rates (β₁, β₂) of the moments, each in [0, 1).")
    eps = _Setting(_check_rate, "The term added to the denominator, a finite number ≥ 0.")
    weight_decay = _Setting(_check_rate, "The L2 penalty's factor, a finite number ≥ 0.")

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self._state: dict[Value, tuple[list[int], Array, Array]] = {}  # by parameter (as
        # SGD's buffers): its steps taken, m and v, made at its first step

    def _update(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        lr, eps, weight_decay = self.lr, self.eps, self.weight_decay
        weight = 1.0 - beta1  # (PyTorch's lerp weight, and its two branches)
        for p in self._active():
            state = self._state.get(p)
            if state is None:
                state = self._state[p] = ([0], np.zeros(p.shape), np.zeros(p.shape))
            steps, m, v = state  # (updated in place: the same operations)
            steps[0] += 1
            t = steps[0]
            bias_correction1 = 1.0 - beta1**t
            bias_correction2_sqrt = math.sqrt(1.0 - beta2**t)
            step_size = lr / bias_correction1
            g = self._grad(p)
            if weight_decay:
                g = g + weight_decay * data_of(p)
            if weight < 0.5:  # m + w·(g − m)
                m += weight * (g - m)
            else:  # g − (g − m)·(1 − w)
                m[...] = g - (g - m) * (1.0 - weight)
            v *= beta2
            v += (1.0 - beta2) * g * g
            denominator = np.sqrt(v) / bias_correction2_sqrt + eps
            self._subtract(p, step_size * m / denominator)
