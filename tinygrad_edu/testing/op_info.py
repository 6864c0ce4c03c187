"""What the test-suite needs to know about each primitive, kept apart from the derivative table.

The table (`tinygrad_edu.ops`) says what an op computes and how it is differentiated; this
page says how to test it: whether it may be fed random broadcastable tensors (`elementwise`),
the range each input is drawn from (`domain`) and the params to try (`examples`). It is keyed
by primitive name, and the suite fails for a primitive that has no entry here.

>>> OP_INFO["log"].domain
((0.05, 10.0),)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OP_INFO", "OpInfo"]


@dataclass(frozen=True)
class OpInfo:
    """How to test one primitive: its inputs' ranges and the params to try."""

    elementwise: bool = False
    domain: tuple[tuple[float, float], ...] = ()
    examples: tuple[dict[str, Any], ...] = ({},)

    def input_range(self, i: int) -> tuple[float, float]:
        """The range input `i` is drawn from ((-3, 3) unless the domain says otherwise)."""
        return self.domain[i] if i < len(self.domain) else (-3.0, 3.0)


_ELEMENTWISE = OpInfo(elementwise=True)
_STRUCTURAL = OpInfo()  # tested with an input builder of its own (tests/test_ops.py)

OP_INFO: dict[str, OpInfo] = {
    "add": _ELEMENTWISE,
    "sub": _ELEMENTWISE,
    "mul": _ELEMENTWISE,
    "div": OpInfo(elementwise=True, domain=((-3.0, 3.0), (0.25, 3.0))),
    "neg": _ELEMENTWISE,
    "pow_const": OpInfo(elementwise=True, domain=((0.25, 3.0),), examples=(
        {"exponent": 2.0}, {"exponent": 3.0}, {"exponent": -1.0}, {"exponent": 0.5},
        {"exponent": -2.5}, {"exponent": 0.0})),
    "pow": OpInfo(elementwise=True, domain=((0.25, 3.0), (-3.0, 3.0))),
    "exp": OpInfo(elementwise=True, domain=((-5.0, 5.0),)),
    "log": OpInfo(elementwise=True, domain=((0.05, 10.0),)),
    "sqrt": OpInfo(elementwise=True, domain=((0.05, 10.0),)),
    "sign": _ELEMENTWISE,
    "abs": _ELEMENTWISE,
    "sigmoid": _ELEMENTWISE,
    "tanh": _ELEMENTWISE,
    "step": _ELEMENTWISE,
    "relu": _ELEMENTWISE,
    "leaky_relu": OpInfo(elementwise=True,
                         examples=({"negative_slope": 0.01}, {"negative_slope": 0.2})),
    "elu": OpInfo(elementwise=True, examples=({"alpha": 1.0}, {"alpha": 0.5})),
    "softplus": _ELEMENTWISE,
    "normal_cdf": _ELEMENTWISE,
    "sum": _STRUCTURAL,
    "max": _STRUCTURAL,
    "reshape": _STRUCTURAL,
    "broadcast_to": _STRUCTURAL,
    "transpose": _STRUCTURAL,
    "getitem": _STRUCTURAL,
    "scatter_add": _STRUCTURAL,
    "matmul": _STRUCTURAL,
    "concatenate": _STRUCTURAL,
    "stack": _STRUCTURAL,
    "where": _STRUCTURAL,
}
"""Test metadata for every primitive of `ops.REGISTRY`, by name."""
