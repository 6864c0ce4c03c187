"""Gradients as functions: `grad(f)` is the function that computes f's gradient (as `jax.grad`).

It is `engine.gradients` wrapped: the arguments become Values, `f` runs, and the gradient
comes back as numbers or arrays; or as Values when the arguments are Values that need a
gradient, so that `grad(grad(f))` is the second derivative.

>>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
(5.0, 2.0)
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, SupportsIndex

import numpy as np

from tinygrad_edu.changes import tick
from tinygrad_edu.data import data_of, describe, note_numbers_taken
from tinygrad_edu.engine import (
    Value,
    constant,
    enable_grad,
    gradients,
    is_grad_enabled,
    topological_order,
)
from tinygrad_edu.kernels import is_number

__all__ = ["grad"]


def grad(f: Callable[..., Any],
         argnums: SupportsIndex | Sequence[SupportsIndex] = 0) -> Callable[..., Any]:
    """The function that computes the gradient of a scalar-valued `f` (as `jax.grad`).

    Given numbers or arrays it returns numbers or arrays; given Values (as happens when it is
    itself differentiated) it returns Values, so `grad(grad(f))` is the second derivative.
    A gradient that depends on a Value needing a gradient that `f` closes over (an outer
    grad's variable, a parameter; or one passed as a keyword) is a Value recording that
    dependence, as torch.func.grad's carries its grad_fn: so ``grad(lambda x: x * grad(lambda
    y: x * y)(1.0))`` is 2x. Keyword arguments are passed on to `f`, not differentiated (as
    in jax.grad). `argnums` is one position or a non-empty tuple (or list) of distinct ones;
    negative ones count from the end. Inside `no_grad()`, the gradient of a Value is a
    constant Value: no graph. A result that depends on no argument, after f took the number
    out of one (``math.sin(x)``, ``x.item()``), is refused with a TypeError, as jax.grad
    refuses it, not given a gradient of 0.

    >>> f = lambda x: x ** 3
    >>> grad(f)(2.0), grad(grad(f))(2.0)
    (12.0, 12.0)
    """
    if not callable(f):
        raise TypeError(f"grad: f must be a function; got {describe(f)}")
    positions = _checked_argnums(argnums)

    def gradient_of_f(*args: Any, **kwargs: Any) -> Any:
        chosen = _positions_in(positions, argnums, len(args))
        recording = is_grad_enabled()  # (inside no_grad: no graph, the gradient a constant)
        since = tick()  # (a node numbered before it, that f's result depends on, is f's
        # from outside: closed over, as an outer grad's variable)
        values = list(args)
        nested = as_values = False
        for i in chosen:  # each position a variable of its own, as in jax.grad
            if isinstance(values[i], Value) and values[i].requires_grad:
                # differentiating a gradient: the graph goes back to the input, through a
                # node of this position's own (the input itself may be used elsewhere too:
                # closed over by f, or given at another position)
                as_values = True
                if recording:
                    nested = True
                    values[i] = values[i] * 1.0
                    continue
            try:
                values[i] = Value(data_of(values[i]))
            except (TypeError, ValueError) as error:
                raise type(error)(f"grad: argument {i}: {error}") from None
        taken: list[tuple[Any, str]] = []
        outer = note_numbers_taken(taken)  # (an inner grad's f notes in a list of its own)
        try:
            with enable_grad():
                out = f(*values, **kwargs)  # (keywords are passed on, not differentiated)
        finally:
            note_numbers_taken(outer)
        if is_number(out) or (type(out) is np.ndarray and out.shape == () and is_number(out[()])):
            out = constant(float(out))  # a constant function: its gradient is 0 (as jax.grad)
        if not isinstance(out, Value) or out.shape != ():
            shape = f"shape {out.shape}" if isinstance(out, Value) else describe(out)
            aux = "; there is no has_aux (as jax.grad's): return the scalar alone" if (
                isinstance(out, tuple)) else ""
            raise TypeError("grad: f must return a scalar Value (or a number, for a constant "
                            f"function); it returned {shape}{aux}")
        if taken:
            _refuse_numbers_taken(out, {i: values[i] for i in chosen}, taken)
        # f closing over a Value that needs a gradient: the gradients may depend on it, so the
        # pass is recorded (the inner gradient of x·y is x, not the number x was)
        closed_over = recording and not nested and _depends_on_older(out, since)
        grads = gradients(out, [values[i] for i in chosen], create_graph=nested or closed_over)
        if closed_over:  # a gradient that does not depend on one is data, as usual
            grads = [g if _depends_on_older(g, since) else _own_data(g) for g in grads]
        if as_values and not nested:
            grads = [Value(g, requires_grad=False) for g in grads]
        return grads[0] if not isinstance(positions, tuple) else tuple(grads)

    functools.update_wrapper(gradient_of_f, f, assigned=("__module__", "__name__",
                                                         "__qualname__", "__doc__"))
    return gradient_of_f


def _checked_argnums(argnums: object) -> int | tuple[int, ...]:
    """`argnums` as an int or a tuple of ints, or a TypeError/ValueError that names it."""
    def one(n: object) -> int:
        if isinstance(n, bool | np.bool_):  # (an int to Python, but no position)
            raise TypeError(f"grad: argnums must be an int or a tuple of ints; got {n!r}")
        try:
            return operator.index(n)  # type: ignore[arg-type]  # (np.int64 too, as jax)
        except TypeError:
            raise TypeError("grad: argnums must be an int or a tuple of ints; got "
                            f"{describe(argnums)}") from None

    if not isinstance(argnums, tuple | list):
        return one(argnums)
    positions = tuple(one(n) for n in argnums)
    if not positions:
        raise ValueError("grad: argnums is empty; give the position of at least one argument")
    if len(set(positions)) != len(positions):
        raise ValueError(f"grad: argnums must be distinct positions; got {argnums!r}")
    return positions


def _positions_in(positions: int | tuple[int, ...], argnums: object, count: int) -> list[int]:
    """The positions `argnums` names among `count` positional arguments, negative ones
    counted from the end; a TypeError when one is past the arguments given."""
    chosen = []
    for n in positions if isinstance(positions, tuple) else (positions,):
        if not -count <= n < count:
            raise TypeError(f"grad: argnums={argnums!r}, but f was given {count} positional "
                            f"argument{'' if count == 1 else 's'} (keyword arguments are passed "
                            "on, not differentiated)")
        chosen.append(n % count)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"grad: argnums={argnums!r} names one of the {count} arguments twice")
    return chosen


def _refuse_numbers_taken(out: Value, variables: dict[int, Value],
                          taken: list[tuple[Any, str]]) -> None:
    """A TypeError if f's result `out` depends on none of the variables, after f took the
    number out of one, or of a Value computed from one (``math.sin(x)``, ``x.item()``): the
    gradient would be 0, silently (jax.grad raises there too: a traced value has no number).
    A result that depends on some variable is let be: the numbers were for logging or
    branching, most likely, and the other variables are unused ones."""
    reached = set(topological_order(out)) if out.requires_grad else set()
    if any(variable in reached for variable in variables.values()):
        return
    for value, how in taken:
        if not (isinstance(value, Value) and value.requires_grad):
            continue
        behind = topological_order(value)
        for position, variable in variables.items():
            if variable in behind:
                source = "argument" if value is variable else "a Value computed from argument"
                calls = " (math.sin(x) and math's other functions call it)" if \
                    how == "float()" else ""
                raise TypeError(
                    f"grad: f took the number out of {source} {position} with {how}{calls}, "
                    "and its result depends on no argument through any operation: no "
                    f"gradient passes through a number, so the gradient for argument "
                    f"{position} would be 0. Keep it a Value and use its operations: x.sin(), "
                    "x.exp(), x.log(), x ** 2, ...")


def _depends_on_older(root: Value, since: int) -> bool:
    """Whether `root` is, or was computed from, a Value needing a gradient that was made
    before the creation number `since` (one f did not make: it closed over it)."""
    if not root.requires_grad:
        return False
    seen = {root}
    stack = [root]
    while stack:  # (a walk as `topological_order`'s, stopping at the first such Value)
        node = stack.pop()
        if node._number < since:
            return True
        for parent in node.parents:
            if parent.requires_grad and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return False


def _own_data(g: Value) -> Any:
    """The data of a gradient Value, an array of its own (the rule of + sends two operands
    one gradient)."""
    data = data_of(g)
    return data.copy() if type(data) is np.ndarray else data
