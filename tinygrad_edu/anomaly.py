"""Finding the first nan or inf: `detect_anomaly()`, opt-in (results are silent IEEE otherwise).

>>> from tinygrad_edu import Value, detect_anomaly
>>> x = Value(-1.0, label="x")
>>> with detect_anomaly():
...     x.log()
Traceback (most recent call last):
...
FloatingPointError: detect_anomaly: log gave nan, from x (a scalar)
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu import engine
from tinygrad_edu.changes import describe_value
from tinygrad_edu.data import data_of, describe
from tinygrad_edu.engine import Primitive, Value
from tinygrad_edu.grad_mode import ContextDecorator

__all__ = ["detect_anomaly"]

_reference_apply: Callable[..., Value] = engine.apply.__wrapped__  # type: ignore[attr-defined]


class detect_anomaly(ContextDecorator):  # noqa: N801  (as torch.autograd.detect_anomaly)
    """Raise `FloatingPointError` at the first operation whose result holds nan or inf.

    Inside, every operation runs through the reference `apply`, which checks its result and
    names the op and its operands (forward passes and recorded backward passes alike; in a
    recorded one, the rule it was in too), and `backward()` runs the reference pass, which
    checks each rule's gradients for nan (as PyTorch's anomaly mode) and names the rule and
    the operand, or says the gradient arrived holding nan. A context manager and a
    decorator (``@detect_anomaly()`` or ``@detect_anomaly``; a generator function's body runs
    inside too). As PyTorch's, it is one switch for all threads (entered and left under a
    lock, so one thread's last exit never switches off another's new block).
    """

    _depth = 0  # blocks open, in all threads
    _lock = threading.Lock()  # (one thread's last exit must not unroute another's new entry)

    def __enter__(self) -> None:
        with detect_anomaly._lock:
            if detect_anomaly._depth == 0:
                engine.route_operations(_checked_apply, _checked_shares)
            detect_anomaly._depth += 1

    def __exit__(self, *exc: object) -> None:
        with detect_anomaly._lock:
            if detect_anomaly._depth == 0:  # (else the next block would check nothing)
                raise RuntimeError("detect_anomaly: __exit__ without __enter__")
            detect_anomaly._depth -= 1
            if detect_anomaly._depth == 0:
                engine.route_operations(None)


def _checked_apply(prim: Primitive, *args: Any, **params: Any) -> Value:
    """The reference `apply`, raising when the result holds nan or inf."""
    out = _reference_apply(prim, *args, **params)
    data = data_of(out)
    bad = (not math.isfinite(data)) if type(data) is float else not np.isfinite(data).all()
    if bad:
        kind = "nan" if np.isnan(data).any() else _infinities(data)
        operands = ", ".join(_operand_text(arg) for arg in args)
        at = _rule_running()
        where = "" if at is None else " in the recorded backward pass (create_graph=True), " + (
            f"adding to the gradient of {describe_value(at)}" if at.op is None else
            f"in the gradient rule of {at.op.describe(at.params)} at {describe_value(at)}")
        raise FloatingPointError(f"detect_anomaly: {prim.describe(params)} gave {kind}{where}, "
                                 f"from {operands}")
    return out


def _infinities(data: Any) -> str:
    """"inf", "-inf" or "inf and -inf": the infinities `data` holds."""
    signs = np.sign(np.asarray(data)[np.isinf(data)])
    return " and ".join(kind for kind, sign in (("inf", 1.0), ("-inf", -1.0))
                        if (signs == sign).any())


_BACKPROPAGATE = engine.backpropagate.__code__


def _rule_running() -> Value | None:
    """The node whose rule this thread's recorded backward pass is running, if it is running
    one: `backpropagate`'s `node` (looked up only to word a message: the stack is walked)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _BACKPROPAGATE:
            node = frame.f_locals.get("node")
            return node if isinstance(node, Value) else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _checked_shares(node: Value, g: Any, shares: tuple[Any, ...]) -> None:
    """Raise when `node`'s rule sends an operand a gradient holding nan (as PyTorch's anomaly
    mode, which checks the backward pass for nan only: an infinite gradient is a true one, at
    sqrt(0) say)."""
    assert node.op is not None
    for position, (parent, share) in enumerate(zip(node.parents, shares, strict=True)):
        if share is None or not parent.requires_grad or not np.isnan(data_of(share)).any():
            continue
        if np.isnan(data_of(g)).any():  # (the rule passed on a nan it was given: not its own)
            raise FloatingPointError(
                f"detect_anomaly: the gradient arriving at {describe_value(node)} holds nan "
                "already: the gradient given to backward() held nan, or the gradients sent "
                "to it by the results computed from it summed to nan (inf + -inf)")
        raise FloatingPointError(
            f"detect_anomaly: the gradient rule of {node.op.describe(node.params)} gave nan for "
            f"its operand {position}, {describe_value(parent)}, from the "
            f"gradient {describe(data_of(g))} of {describe_value(node)}")


def _operand_text(arg: Any) -> str:
    """An operand as the message names it; one that holds nan or inf already says so (the
    op did not make it: it came in)."""
    if not isinstance(arg, Value):
        return f"the constant {describe(arg)}"
    data = np.asarray(arg._data)
    held = (["nan"] if np.isnan(data).any() else []) + (
        [_infinities(data)] if np.isinf(data).any() else [])
    if held:
        return f"{describe_value(arg)[:-1]}, holding {' and '.join(held)} already)"
    return describe_value(arg)
