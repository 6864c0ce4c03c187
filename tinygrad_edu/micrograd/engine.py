"""micrograd's `Value`: tinygrad_edu's Value, built the way micrograd's is.

micrograd's constructor takes ``Value(data, _children=(), _op='')``; the last two are what
its own operators pass, so a Value a user makes is a leaf either way. Results of operations
are tinygrad_edu Values, with the same `data`, `grad`, `_prev`, `_op`, `backward()`, and
instances of this `Value` as micrograd's results are of its own.

>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a.relu()
>>> c.backward()
>>> c.data, a.grad, b.grad, c._op
(-4.0, -2.0, 2.0, '+')
"""

from __future__ import annotations

import copyreg
from typing import Any

from tinygrad_edu.engine import Value as EngineValue
from tinygrad_edu.pickling import reduce_value

__all__ = ["Value"]


class _AnyValue(type):
    """Every tinygrad_edu Value is an instance of micrograd's `Value`, computed ones too, as
    every micrograd Value is: its idiom ``x if isinstance(x, Value) else Value(x)`` must not
    wrap a result."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, EngineValue)


class Value(EngineValue, metaclass=_AnyValue):
    """A scalar Value made as micrograd makes one: ``Value(data, _children=(), _op='')``."""

    __slots__ = ()

    def __init__(self, data: Any, _children: tuple[Any, ...] = (), _op: str = "",
                 label: str = "") -> None:
        if _children:
            raise TypeError(
                f"Value(data, _children, _op={_op!r}): a Value made by hand is a leaf; the "
                "engine records the operands of computed Values itself, so an operation is "
                "not added micrograd's way, with a `_backward` of its own. tanh, exp, log, "
                "sigmoid and more are methods already; declare a new one as "
                "tinygrad_edu.engine.Primitive(name, forward, vjp) and call it on Values")
        super().__init__(data, label=label)
        self._grad = 0.0  # micrograd's: 0 + a gradient of -0.0 is 0.0 (a Value's keeps -0.0)

    def _rebound(self, other: Any) -> Any:
        """micrograd's ``p -= x``: `p` names the new Value ``p - x`` (no in-place operator)."""
        return NotImplemented

    __iadd__ = __isub__ = __imul__ = __itruediv__ = _rebound


copyreg.pickle(Value, reduce_value)  # a leaf pickles and deep-copies as every Value does
