"""Check gradients against finite differences: the toolkit the project's own tests use.

`numerical_grad` estimates derivatives by central differences,
``df/dx ≈ (f(x + ε) − f(x − ε)) / 2ε``, one element at a time. `gradcheck` compares them
with the engine's and raises `GradcheckError`, naming the input, the element and both values,
where they disagree. Both ways the engine gives gradients are checked: `gradients()` (the
reference pass) and `backward()` (the fast executor users run). With ``order=2`` it checks
second derivatives the same way: the engine's recorded first derivative is itself
differentiated and compared with finite differences of it. `gradgradcheck` (as PyTorch's)
goes further: the upstream gradient is itself an input, so a rule that uses the raw data of its
upstream gradient, and so cuts a recorded backward pass, is caught even when the op stands alone.

Hypothesis strategies for random Values, shapes and points away from kinks live in
`tinygrad_edu.testing.strategies` (it needs the `hypothesis` package).

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.testing import gradcheck
>>> gradcheck(lambda x, y: (x * y).tanh(), 0.3, [1.0, -2.0])
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.data import as_data
from tinygrad_edu.engine import Value, enable_grad, gradients, no_grad
from tinygrad_edu.kernels import is_number

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "numerical_grad"]


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with the numerical one (the message says where)."""


def _leaf_data(x: Any) -> Any:
    return np.array(x.data) if isinstance(x, Value) else as_data(x, "gradcheck input")


def _contract(out: Any, upstream: Any) -> Any:
    """sum(out · upstream): the scalar whose gradient is the vector-Jacobian product."""
    if isinstance(out, Value):
        return out * float(upstream) if out.shape == () else (out * upstream).sum()
    return float(np.sum(np.asarray(out, dtype=np.float64) * upstream))


def _check_steps(who: str, eps: Any, atol: Any = 0.0, rtol: Any = 0.0) -> None:
    """Refuse a step `eps` that is not a positive finite number, or a tolerance that is not a
    finite number ≥ 0 (a nan one would fail every check, a step of 0 divide by zero)."""
    for name, x, least in (("eps", eps, "> 0"), ("atol", atol, "≥ 0"), ("rtol", rtol, "≥ 0")):
        if not is_number(x) or not math.isfinite(x) or x < 0 or (x == 0 and name == "eps"):
            raise ValueError(f"{who}: {name} must be a finite number {least}; got {x!r}")


def numerical_grad(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6) -> list[Any]:
    """Central-difference estimate of the gradient of a scalar `f` for each input.

    `inputs` are numbers, arrays or Values; `f` receives Values and returns a scalar (a Value
    or a number). Each gradient has its input's shape (a float for a scalar input).

    >>> [round(g, 6) for g in numerical_grad(lambda x: x ** 3, 2.0)]  # d x³ = 3x² = 12
    [12.0]
    """
    _check_steps("numerical_grad", eps)
    datas = [_leaf_data(x) for x in inputs]

    def evaluate(values: list[Any]) -> float:
        with no_grad():  # (a check of second derivatives records inside f all the same)
            out = f(*(Value(v) for v in values))
        result = out.data if isinstance(out, Value) else out
        if np.shape(result) != ():
            raise ValueError(f"numerical_grad: f must return a scalar; it returned shape "
                             f"{np.shape(result)}")
        return float(result)

    grads: list[Any] = []
    for i, data in enumerate(datas):
        if np.ndim(data) == 0:
            plus = [*datas[:i], data + eps, *datas[i + 1 :]]
            minus = [*datas[:i], data - eps, *datas[i + 1 :]]
            grads.append((evaluate(plus) - evaluate(minus)) / (2 * eps))
            continue
        grad = np.zeros_like(data)
        for index in np.ndindex(data.shape):
            shifted = data.copy()
            shifted[index] = data[index] + eps
            up = evaluate([*datas[:i], shifted, *datas[i + 1 :]])
            shifted[index] = data[index] - eps
            down = evaluate([*datas[:i], shifted, *datas[i + 1 :]])
            grad[index] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
    seed: int = 0,
) -> bool:
    """Compare the engine's gradients of `f` at `inputs` with central differences.

    `f` receives one Value per input. Its result (scalar or tensor) is contracted with a
    random upstream gradient drawn from `seed`, so a rule that ignores its upstream gradient
    is caught. Every element of every input is checked:
    ``|analytical − numerical| ≤ atol + rtol·|numerical|``. With ``order=2`` the first
    derivative the engine records is checked the same way (second derivatives).
    Returns True, or raises `GradcheckError`. The inputs must come back unchanged.

    >>> gradcheck(lambda x: x.exp().sum(), [0.5, 1.5], order=2)
    True
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2; got {order}")
    _check_steps("gradcheck", eps, atol, rtol)
    datas = [_leaf_data(x) for x in inputs]
    originals = [np.array(d, copy=True) for d in datas]
    rng = np.random.default_rng(seed)
    with no_grad():
        probe = f(*(Value(d, requires_grad=False) for d in datas))
    upstream = rng.normal(size=np.shape(probe.data if isinstance(probe, Value) else probe))

    def loss(*xs: Value) -> Any:
        return _contract(f(*xs), upstream)

    target = loss
    if order == 2:
        directions = [rng.normal(size=np.shape(d)) for d in datas]

        def first_derivative(*xs: Value) -> Any:
            with enable_grad():
                out = loss(*xs)
            if not isinstance(out, Value) or not out.requires_grad:
                return 0.0
            grads = gradients(out, list(xs), create_graph=True)
            total: Any = 0.0
            for g, v in zip(grads, directions, strict=True):
                total = total + (g * v).sum() if np.ndim(v) else total + g * float(v)
            return total

        target = first_derivative

    leaves = [Value(d) for d in datas]
    out = target(*leaves)
    for i, (before, leaf) in enumerate(zip(originals, leaves, strict=True)):
        if not np.array_equal(before, leaf.data, equal_nan=True):
            raise GradcheckError(f"f changed input {i} in place: its gradients cannot be checked")
    # the engine's gradients, both ways a user gets them: gradients(), and backward()
    if isinstance(out, Value) and out.requires_grad:
        by_gradients = gradients(out, leaves)
        out.backward()
        by_backward = [leaf.grad for leaf in leaves]
    else:
        by_gradients = by_backward = [np.zeros_like(d) if np.ndim(d) else 0.0 for d in datas]
    numerical = numerical_grad(target, *datas, eps=eps)
    # what the message shows: for a scalar f, its own derivative (the checked numbers are
    # that derivative times the random upstream number); otherwise the checked numbers, said so
    scalar_f = order == 1 and upstream.ndim == 0 and float(upstream) != 0.0
    scale = float(upstream) if scalar_f else 1.0
    of_what = "" if scalar_f else (
        f"; both are gradients of sum(f(...) · u), u a random upstream gradient (seed={seed})"
        if order == 1 else
        f"; both are of the recorded first derivative along random directions (seed={seed})")
    for how, analytical in (("gradients()", by_gradients), ("backward()", by_backward)):
        for i, (a, n) in enumerate(zip(analytical, numerical, strict=True)):
            a_arr, n_arr = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
            bad = ~(np.abs(a_arr - n_arr) <= atol + rtol * np.abs(n_arr))
            if np.any(bad):
                index = tuple(int(k) for k in np.argwhere(bad)[0])
                what = "second derivative" if order == 2 else "gradient"
                where = f"element {index} of input {i}" if index else f"input {i} (a scalar)"
                raise GradcheckError(
                    f"{what} mismatch at {where}: analytical {float(a_arr[index]) / scale!r} "
                    f"(by {how}), numerical {float(n_arr[index]) / scale!r} (tolerance "
                    f"atol={atol}, rtol={rtol}, eps={eps}){of_what}"
                )
    return True


def gradgradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives of `f`, through its inputs and its upstream gradient.

    As PyTorch's `gradgradcheck`: the first derivative is recorded as a function of the
    inputs *and* of an upstream gradient `u` (a Value drawn from `seed`),
    ``h(x, u) = Σ ⟨gradients(⟨f(x), u⟩, x), v⟩`` for random directions `v`, and `gradcheck`
    compares the engine's gradients of `h` with central differences of it. ``∂h/∂u`` is the
    Jacobian-vector product, so a rule that uses the raw data of its upstream gradient (cutting
    the recorded pass) fails here, even for an op whose rule is linear in `u`. In a failure
    message, the input after the last of `inputs` is `u`.

    >>> gradgradcheck(lambda x: x - 1.0, 3.0)
    True
    >>> gradgradcheck(lambda x, y: (x * y).sum(), [0.5, 1.5], [2.0, -1.0])
    True
    """
    _check_steps("gradgradcheck", eps, atol, rtol)
    datas = [_leaf_data(x) for x in inputs]
    rng = np.random.default_rng(seed)
    with no_grad():
        probe = f(*(Value(d, requires_grad=False) for d in datas))
    shape = np.shape(probe.data if isinstance(probe, Value) else probe)
    upstream = rng.normal(size=shape) if shape else float(rng.normal())
    directions = [rng.normal(size=np.shape(d)) for d in datas]

    def first_derivative(*args: Value) -> Any:
        *xs, u = args
        with enable_grad():
            out = f(*xs)
            if not isinstance(out, Value) or not out.requires_grad:
                return 0.0  # f is constant: its derivatives are 0
            loss = (out * u).sum() if out.shape else out * u
            grads = gradients(loss, xs, create_graph=True)
            total: Any = 0.0
            for g, v in zip(grads, directions, strict=True):
                total = total + (g * v).sum() if np.ndim(v) else total + g * float(v)
        return total

    try:
        return gradcheck(first_derivative, *datas, upstream, eps=eps, atol=atol, rtol=rtol,
                         seed=seed)
    except GradcheckError as error:
        raise GradcheckError(f"gradgradcheck (input {len(datas)} is the upstream gradient): "
                             f"{error}") from None
