"""The recording switch: `no_grad()` turns graph recording off, `enable_grad()` back on.

`apply` (engine.py) records a result's operands only while `is_grad_enabled()`; inside
`no_grad()` results are constants. The backward pass runs its rules inside `no_grad()`, or
inside `enable_grad()` to record itself for higher derivatives (`create_graph=True`).

>>> from tinygrad_edu import Value
>>> w = Value(3.0)
>>> with no_grad():
...     y = w * 2
>>> y.requires_grad, is_grad_enabled()
(False, True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Self, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]

enabled = True
"""Whether operations are recorded now: read it (the fast copies do, without a call); switch
it with `no_grad` and `enable_grad`."""


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return enabled


class no_grad:  # noqa: N801  (lower case, as torch.no_grad: it reads as a statement)
    """Record no graph inside: results have no parents and `requires_grad=False`.

    A context manager and a decorator (``@no_grad()`` or ``@no_grad``).
    """

    _switch_to = False  # what recording is switched to inside

    @overload
    def __new__(cls, func: None = None) -> Self: ...
    @overload  # (used bare, it returns the function decorated, not an instance)
    def __new__(cls, func: F) -> F: ...  # type: ignore[misc]

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is not None:  # used bare, as @no_grad
            return cls()(func)
        return super().__new__(cls)

    def __enter__(self) -> None:
        global enabled
        self._previous = enabled
        enabled = self._switch_to

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self._previous

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(no_grad):  # noqa: N801
    """Record a graph even inside `no_grad` (as torch.enable_grad; a recorded backward pass)."""

    _switch_to = True
