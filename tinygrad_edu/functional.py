"""Gradients as functions: `grad(f)` is the function that computes f's gradient (as `jax.grad`).

It is `engine.gradients` wrapped: the arguments become Values, `f` runs, and the gradient
comes back as numbers or arrays; or as Values when the arguments are Values that need a
gradient, so that `grad(grad(f))` is the second derivative.

>>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
(5.0, 2.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_edu.data import data_of
from tinygrad_edu.engine import Value, constant, enable_grad, gradients
from tinygrad_edu.kernels import is_number

__all__ = ["grad"]


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The function that computes the gradient of a scalar-valued `f` (as `jax.grad`).

    Given numbers or arrays it returns numbers or arrays; given Values (as happens when it is
    itself differentiated) it returns Values, so `grad(grad(f))` is the second derivative.
    Keyword arguments are passed on to `f`, not differentiated (as in jax.grad).

    >>> f = lambda x: x ** 3
    >>> grad(f)(2.0), grad(grad(f))(2.0)
    (12.0, 12.0)
    """
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def gradient_of_f(*args: Any, **kwargs: Any) -> Any:
        if max(positions, default=-1) >= len(args):
            raise TypeError(f"grad: argnums={argnums} but the function got {len(args)} arguments")
        values = list(args)
        nested = False
        for i in positions:  # each position a variable of its own, as in jax.grad
            if isinstance(values[i], Value) and values[i].requires_grad:
                # differentiating a gradient: the graph goes back to the input, through a
                # node of this position's own (the input itself may be used elsewhere too:
                # closed over by f, or given at another position)
                nested = True
                values[i] = values[i] * 1.0
            else:
                values[i] = Value(data_of(values[i]))
        with enable_grad():
            out = f(*values, **kwargs)  # (keywords are passed on, not differentiated)
        if is_number(out):
            out = constant(float(out))  # a constant function: its gradient is 0 (as jax.grad)
        if not isinstance(out, Value) or out.shape != ():
            shape = out.shape if isinstance(out, Value) else type(out).__name__
            raise TypeError(f"grad: f must return a scalar Value; it returned {shape}")
        grads = gradients(out, [values[i] for i in positions], create_graph=nested)
        return grads[0] if isinstance(argnums, int) else tuple(grads)

    functools.update_wrapper(gradient_of_f, f, assigned=("__module__", "__name__", "__doc__"))
    return gradient_of_f
