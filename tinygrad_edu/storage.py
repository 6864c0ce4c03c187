"""How a Value keeps its data and its gradient, and how it shows itself.

`Value` (engine.py) inherits `.data` and `.grad` from `Storage`: plain attributes to a reader
(``x.data``, ``x.grad``, as in micrograd), with the checks a user needs behind them.

* ``.data`` is the number or float64 array the Value holds. Setting it converts and checks
  what was given; a change, by assignment or in place, is noted so that a graph recorded
  before it refuses `backward()` (see `tinygrad_edu.changes`).
* ``.grad`` is d(root)/d(self), summed over `backward()` calls: 0.0 for a scalar; for a
  tensor an array of its shape, made when first needed.

>>> from tinygrad_edu import Value
>>> x = Value([1.0, 2.0], label="x")
>>> x.grad
array([0., 0.])
>>> x.data = [3.0, 4.0]
>>> x
Value(shape=(2,), data=[3., 4.], grad=[0., 0.], label='x')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.changes import (
    ASSIGNMENT_REFERENCES,
    UNREAD,
    changed,
    hand_out,
    hand_over,
    note_gradient,
    note_holder,
    unread_changed,
)
from tinygrad_edu.data import Data, as_data, shape_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tinygrad_edu.engine import Primitive, Value

__all__ = ["NO_GRADIENT_YET", "Storage"]

NO_GRADIENT_YET = -0.0
"""A scalar's `.grad` before a gradient reaches it, shown as 0.0: this very float object, −0.0,
to which a backward pass adds its gradient exactly (−0.0 + g is g, bit for bit, where
0.0 + −0.0 would be 0.0), so that a scalar's gradient keeps the sign of a zero, as a tensor's
(whose first gradient is kept as it comes) and PyTorch's do. A gradient that is −0.0 is
another float object: shown as it is."""

recorded_gradients_given = False
"""Whether some `.grad` was ever given a Value (by a recorded pass, ``backward(create_graph=
True)``, or by hand): from then on, `backward()` looks for one in its graph, and adds to it
recorded (engine.py)."""


def note_recorded_gradient() -> None:
    """A `.grad` holds a Value now (see `recorded_gradients_given`)."""
    global recorded_gradients_given
    recorded_gradients_given = True


class Storage:
    """`.data`, `.grad`, `zero_grad()` and the repr of a Value (a base class of `Value`)."""

    __slots__ = ()

    if TYPE_CHECKING:  # what these need from Value
        _data: Data
        _grad: Any
        label: str
        op: Primitive | None
        params: Mapping[str, Any]
        requires_grad: bool
        shape: tuple[int, ...]
        @property
        def parents(self) -> tuple[Value, ...]: ...

    @property
    def data(self) -> Data:
        """The number (a float) or the float64 array this Value holds.

        It may be changed, by assignment or in place, between training steps; a graph
        recorded before the change refuses `backward()` (see `tinygrad_edu.changes`).
        """
        data = self._data
        if type(data) is np.ndarray and getattr(self, "_changed", 0) > UNREAD:  # (is_read)
            hand_out(self, data)  # type: ignore[arg-type]
        return data

    @data.setter
    def data(self, value: object) -> None:
        old = self._data
        reshaped = False
        if value is not old:  # (`x.data += 1` gives back the same array, changed)
            new = as_data(value, "Value.data")
            reshaped = shape_of(new) != self.shape
            if reshaped and (self.op is not None or self.requires_grad):
                raise ValueError(
                    f"Value.data: cannot change the shape of {self.label or 'a Value'} from "
                    f"{self.shape} to {shape_of(new)}: a graph may use it; make a new Value")
            if type(old) is np.ndarray:  # (its sharers keep the old array: still watched)
                hand_over(self)  # type: ignore[arg-type]
            self._data = new  # type: ignore[misc]  # (a slot of Value)
            del new
            note_holder(self)  # type: ignore[arg-type]
            if reshaped:  # a gradient of the old shape means nothing now
                self.zero_grad()
        # (a constant's new shape is always stamped, read or not: a graph that used it
        # broadcast the old one, and sends it, unfrozen, a share of that shape)
        watched = reshaped or type(old) is not np.ndarray or getattr(self, "_changed", 0) > UNREAD
        given = value is self._data  # (then the caller's assignment holds the array too)
        del value, old  # (`changed` counts the array's references: none of this frame's)
        if watched:
            changed(self, ASSIGNMENT_REFERENCES if given else 0)  # type: ignore[arg-type]
        else:  # no rule reads it: nothing to watch, but a picture marks it
            unread_changed(self)  # type: ignore[arg-type]

    @property
    def grad(self) -> Any:
        """d(root)/d(self), summed over every `backward()` call since the last `zero_grad()`.

        A float for a scalar, an array of `self.shape` for a tensor; a Value after
        `backward(create_graph=True)`.
        """
        grad = self._grad
        if grad is NO_GRADIENT_YET:
            return 0.0
        if grad is None:
            if type(self._data) is float:
                return 0.0
            grad = self._grad = np.zeros_like(self._data)  # kept, so an in-place edit sticks
        if type(grad) is np.ndarray:  # (given back as an operand, it is copied: `operand`)
            if self.op is not None and not grad.flags.writeable:
                # an intermediate node's, one array with another node's (the fast pass shares
                # it read-only: `fast._own`): a copy of its own, so that an edit sticks and
                # changes no other
                grad = self._grad = grad.copy()
            note_gradient(self, grad)  # type: ignore[arg-type]
        return grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self.zero_grad()
            return
        if isinstance(value, Storage):  # a Value: a recorded gradient
            grad: Any = value
            shape = value.shape
            note_recorded_gradient()
        else:
            grad = as_data(value, "grad")
            shape = shape_of(grad)
        if shape != self.shape:
            raise ValueError(f"grad must have shape {self.shape}; got {shape}")
        self._grad = grad

    def zero_grad(self) -> None:
        """Reset `.grad` to zero."""
        self._grad = NO_GRADIENT_YET if type(self._data) is float else None

    @property
    def is_leaf(self) -> bool:
        """True for a Value made by the user, not computed by an operation."""
        return self.op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        grad = self._grad._data if isinstance(self._grad, Storage) else self.grad  # (a
        # recorded gradient, after backward(create_graph=True), shown by its numbers)
        if type(self._data) is float:
            return f"Value(data={self._data!r}, grad={grad!r}{label})"
        options: dict[str, Any] = {"threshold": 8, "edgeitems": 2, "precision": 4}
        data = np.array2string(np.asarray(self._data), separator=", ", **options)
        grad_text = np.array2string(np.asarray(grad), separator=", ", **options)
        return (f"Value(shape={self.shape}, data={data.replace(chr(10), '')}, "
                f"grad={grad_text.replace(chr(10), '')}{label})")

    # micrograd's names for the graph structure, so its drawing code works unchanged
    @property
    def _op(self) -> str:
        return "" if self.op is None else self.op.describe(self.params)

    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    @property
    def _backward(self) -> Any:
        """micrograd's per-node step of the backward pass: not a node's here (the rule of
        each operation is one entry of the engine's table, run by `backward()`)."""
        made = f"made by {self.op.name}" if self.op is not None else "a leaf"
        raise AttributeError(
            f"a Value ({made}) has no _backward: the engine keeps each operation's rule in "
            "its table, not on the node. Call root.backward() to send the gradients through "
            "the whole graph; a step by hand, one node's rule, is "
            "tinygrad_edu.engine.REGISTRY[node.op.name].vjp(g, node.data, *operands' data)")
