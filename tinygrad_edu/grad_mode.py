"""The recording switch: `no_grad()` turns graph recording off, `enable_grad()` back on.

`apply` (engine.py) records a result's operands only while `is_grad_enabled()`; inside
`no_grad()` results are constants. The backward pass runs its rules inside `no_grad()`, or
inside `enable_grad()` to record itself for higher derivatives (`create_graph=True`). As
PyTorch's, the switch is per thread: `no_grad()` in one thread leaves the others recording.

>>> from tinygrad_edu import Value
>>> w = Value(3.0)
>>> with no_grad():
...     y = w * 2
>>> y.requires_grad, is_grad_enabled()
(False, True)
"""

from __future__ import annotations

import functools
import inspect
import os
import reprlib
import threading
from collections.abc import Callable, Generator
from typing import Any, Self, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["ContextDecorator", "enable_grad", "is_grad_enabled", "no_grad"]

enabled = True
"""True while every thread records (none is inside `no_grad`): the fast copies read it without
a call, and ask `is_grad_enabled()` only when it is False. Set by `switch`."""


class _Switch:
    """One thread's switch, kept in its thread-locals. When the thread ends, its locals are
    cleared and this is finalised: a switch left off (a `no_grad` entered and never exited)
    takes its thread out of the count of threads off, so `enabled` does not stay False."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True

    def __del__(self) -> None:
        global enabled, _threads_off
        if not self.on:  # (its thread has ended: no `switch` of that thread can race this)
            self.on = True
            with _lock:
                _threads_off -= 1
                enabled = _threads_off == 0


_ON = _Switch()  # the switch of a thread that has not switched yet (read, never switched)
_thread = threading.local()  # its `switch`: this thread's _Switch (made at its first switch)
_threads_off = 0  # how many living threads have their switch off now
_lock = threading.RLock()
# Held across fork, so no other thread holds it in the child, where the switches of the threads
# left behind are finalised (re-entering it) before it is released.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_lock.acquire, after_in_parent=_lock.release,
                        after_in_child=_lock.release)


def switch(on: bool) -> bool:
    """Switch recording on or off in this thread (as PyTorch's grad mode, the switch is per
    thread: a `no_grad` block in one thread leaves another's training recorded); return
    what it was."""
    global enabled, _threads_off
    try:
        state: _Switch = _thread.switch
    except AttributeError:
        state = _thread.switch = _Switch()
    was = state.on
    if was != on:
        with _lock:
            state.on = on
            _threads_off += -1 if on else 1
            enabled = _threads_off == 0
    return was


def run_inside(func: F, context: Callable[[], Any]) -> F:
    """`func` run inside a fresh ``context()`` at each call (a decorator's work). For a
    generator function, each time its body runs, between two of its yields, as PyTorch's
    decorators do: not only while the generator is made, nor while the caller runs between
    two `next` calls.

    >>> from tinygrad_edu import Value
    >>> @no_grad()
    ... def squares(xs):
    ...     for x in xs:
    ...         yield x * x
    >>> [y.requires_grad for y in squares([Value(2.0)])], is_grad_enabled()
    ([False], True)
    """
    check_decorated(func, context)
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            inner = func(*args, **kwargs)
            resume: Callable[[Any], Any] = inner.send
            sent: Any = None
            while True:
                try:
                    with context():
                        value = resume(sent)
                except StopIteration as stop:
                    return stop.value
                try:
                    sent, resume = (yield value), inner.send
                except GeneratorExit:
                    with context():
                        inner.close()
                    raise
                except BaseException as error:  # thrown in: into the body, inside too
                    sent, resume = error, inner.throw

        return generator  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_decorated(func: object, context: Callable[[], Any]) -> None:
    """Refuse what `run_inside` cannot run inside `context`: no function (``no_grad(False)``,
    mistaken for ``torch.set_grad_enabled(False)``), a class, or an async function, whose
    body runs later, at each await, beside other tasks of this thread: it would run outside."""
    name = getattr(context, "__name__", "the context")
    if not callable(func):
        raise TypeError(f"{name}() takes no arguments: use it as `with {name}():`, or decorate "
                        f"a function with @{name} or @{name}(); got {reprlib.repr(func)} "
                        f"(type {type(func).__name__})")
    if inspect.isclass(func):
        raise TypeError(f"@{name} cannot decorate the class {func.__name__} (as PyTorch's, it "
                        "would be unclear which methods run inside); decorate its methods")
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(f"@{name} cannot decorate the async function "
                        f"{getattr(func, '__name__', func)}: its "
                        "body runs when awaited, not inside; use `with "
                        f"{name}():` in its body, around code that does not await")


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()` (in this thread)."""
    return enabled or getattr(_thread, "switch", _ON).on


class ContextDecorator:
    """A context manager that is also a decorator, with or without parentheses
    (``@no_grad()`` or ``@no_grad``): what `no_grad`, `enable_grad` and `detect_anomaly` share."""

    @overload
    def __new__(cls, func: None = None) -> Self: ...
    @overload  # (used bare, it returns the function decorated, not an instance)
    def __new__(cls, func: F) -> F: ...  # type: ignore[misc]

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is not None:  # used bare, as @no_grad
            return cls()(func)
        return super().__new__(cls)

    def __call__(self, func: F) -> F:
        return run_inside(func, type(self))


class no_grad(ContextDecorator):  # noqa: N801  (lower case, as torch.no_grad: a statement)
    """Record no graph inside: results have no parents and `requires_grad=False`.

    A context manager and a decorator (``@no_grad()`` or ``@no_grad``). One instance may be
    entered again while inside (``with ctx: with ctx:``) and in several threads at once:
    each exit restores what its own entry found (in its thread).
    """

    _switch_to = False  # what recording is switched to inside

    def __enter__(self) -> None:
        saved = _saved_switches()
        saved.append((self, switch(self._switch_to)))

    def __exit__(self, *exc: object) -> None:
        saved = _saved_switches()
        for k in range(len(saved) - 1, -1, -1):  # this instance's latest entry in this thread
            if saved[k][0] is self:
                switch(saved.pop(k)[1])
                return
        raise RuntimeError(f"{type(self).__name__}: __exit__ in a thread where this instance "
                           "was not entered")


def _saved_switches() -> list[tuple[no_grad, bool]]:
    """This thread's open `no_grad`/`enable_grad` blocks, each with the switch it found."""
    saved: list[tuple[no_grad, bool]] | None = getattr(_thread, "saved", None)
    if saved is None:
        saved = _thread.saved = []
    return saved


class enable_grad(no_grad):  # noqa: N801
    """Record a graph even inside `no_grad` (as torch.enable_grad; a recorded backward pass)."""

    _switch_to = True
