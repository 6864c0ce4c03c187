"""What the test-suite needs to know about each primitive, kept apart from the derivative table.

The table (`tinygrad_edu.ops`) says what an op computes and how it is differentiated; this
page says how to test it: whether it may be fed random broadcastable tensors (`elementwise`),
the range each input is drawn from by the finite-difference tests (`domain`), the op's whole
domain for the tests against 60-digit references (`full_domain`: low, high and the smallest
magnitude, spanning every order of magnitude between) and the params to try (`examples`); and
where the derivative jumps besides the primitive's own `kinks`: at points given by the params
(`param_kinks`: clip's bounds) or wherever the two inputs are equal (`tie_kink`: maximum,
minimum), so that inputs are drawn away from those too. It is keyed by primitive name, and the
suite fails for a primitive that has no entry here.

>>> OP_INFO["log"].domain, OP_INFO["log"].full_domain
(((0.01, 100.0),), ((1e-300, 1e+300, 1e-300),))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OP_INFO", "OpInfo"]


@dataclass(frozen=True)
class OpInfo:
    """How to test one primitive: its inputs' ranges and the params to try."""

    elementwise: bool = False
    domain: tuple[tuple[float, float], ...] = ()
    examples: tuple[dict[str, Any], ...] = ({},)
    full_domain: tuple[tuple[float, float, float], ...] = ()
    param_kinks: Callable[[Mapping[str, Any]], tuple[float, ...]] | None = None
    tie_kink: bool = False

    def kinks_for(self, params: Mapping[str, Any]) -> tuple[float, ...]:
        """The kinks that `params` put in the first input's domain (clip's bounds)."""
        return () if self.param_kinks is None else self.param_kinks(params)

    def input_range(self, i: int) -> tuple[float, float]:
        """The range input `i` is drawn from ((-3, 3) unless the domain says otherwise)."""
        return self.domain[i] if i < len(self.domain) else (-3.0, 3.0)


_FULL = (-1e300, 1e300, 1e-300)
_ELEMENTWISE = OpInfo(elementwise=True, full_domain=(_FULL,))
_STRUCTURAL = OpInfo()  # tested with an input builder of its own (tests/test_ops.py)

OP_INFO: dict[str, OpInfo] = {
    "add": OpInfo(elementwise=True, full_domain=(_FULL, _FULL)),
    "sub": OpInfo(elementwise=True, full_domain=(_FULL, _FULL)),
    "mul": OpInfo(elementwise=True, full_domain=((-1e150, 1e150, 1e-150),) * 2),
    "div": OpInfo(elementwise=True, domain=((-3.0, 3.0), (0.25, 3.0)),
                  full_domain=((-1e100, 1e100, 1e-100),) * 2),
    "neg": _ELEMENTWISE,
    "pow_const": OpInfo(elementwise=True, domain=((0.25, 3.0),), examples=(
        {"exponent": 2.0}, {"exponent": 3.0}, {"exponent": -1.0}, {"exponent": 0.5},
        {"exponent": -2.5}, {"exponent": 0.0}),  # a negative base: integer exponents only
        full_domain=((-1e40, 1e40, 1e-40),)),
    "pow": OpInfo(elementwise=True, domain=((0.25, 3.0), (-3.0, 3.0)),  # a < 0: integer b
                  full_domain=((-1e30, 1e30, 1e-30), (-5.0, 5.0, 1e-300))),
    # d(a**b)/db = a^b·log(a): a positive base (a negative one's log is nan)
    "pow_exponent_slope": OpInfo(elementwise=True, domain=((0.25, 3.0), (-3.0, 3.0)),
                                 full_domain=((1e-30, 1e30, 1e-30), (-5.0, 5.0, 1e-300))),
    # (float64 central differences of a sum mixing exp(9) and exp(-4) cannot resolve the small
    # slopes: exp's whole domain is checked against 60 digits instead, with full_domain)
    "exp": OpInfo(elementwise=True, domain=((-5.0, 5.0),),
                  full_domain=((-700.0, 700.0, 1e-300),)),
    "log": OpInfo(elementwise=True, domain=((0.01, 100.0),),
                  full_domain=((1e-300, 1e300, 1e-300),)),
    "sqrt": OpInfo(elementwise=True, domain=((0.01, 100.0),),
                   full_domain=((1e-300, 1e300, 1e-300),)),
    "sign": _ELEMENTWISE,
    "abs": _ELEMENTWISE,
    "sigmoid": OpInfo(elementwise=True, full_domain=((-700.0, 1e4, 1e-300),)),
    "tanh": OpInfo(elementwise=True, full_domain=((-350.0, 350.0, 1e-300),)),
    "sigmoid_slope": OpInfo(elementwise=True, full_domain=((-700.0, 700.0, 1e-300),)),
    "sech2": OpInfo(elementwise=True, full_domain=((-350.0, 350.0, 1e-300),)),
    "step": _ELEMENTWISE,
    "relu": _ELEMENTWISE,
    "leaky_relu": OpInfo(elementwise=True,
                         examples=({"negative_slope": 0.01}, {"negative_slope": 0.2}),
                         full_domain=(_FULL,)),
    "elu": OpInfo(elementwise=True, examples=({"alpha": 1.0}, {"alpha": 0.5}),
                  full_domain=((-700.0, 1e300, 1e-300),)),
    "softplus": OpInfo(elementwise=True, full_domain=((-700.0, 1e4, 1e-300),)),
    "normal_cdf": OpInfo(elementwise=True, full_domain=((-37.0, 1e4, 1e-300),)),
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
    # ---- the softmax family and binary cross-entropy (issue #14, part 3b)
    "logsumexp": _STRUCTURAL,
    "softmax": _STRUCTURAL,
    "log_softmax": _STRUCTURAL,
    "softmax_complement": _STRUCTURAL,  # 1 − softmax, along one axis, several, or all
    "logsumexp_slope": _STRUCTURAL,  # exp(a − logsumexp(a)), along any axes
    "cross_entropy": _STRUCTURAL,  # (logits of shape (batch, classes) and integer labels)
    # probabilities p, targets y; the full domain keeps p·(1 − p) above PyTorch's 1e-12 floor,
    # where the rule is the exact derivative (the ends are tested on their own)
    "binary_cross_entropy": OpInfo(elementwise=True, domain=((0.01, 0.99), (0.0, 1.0)),
                                   full_domain=((0.0, 0.999, 1e-11), (0.0, 1.0, 1e-300))),
    # its slope in p (p − y)/max(p(1 − p), 1e-12): the same domains, above the floor
    "bce_slope": OpInfo(elementwise=True, domain=((0.01, 0.99), (0.0, 1.0)),
                        full_domain=((0.0, 0.999, 1e-11), (0.0, 1.0, 1e-300))),
    # (sin and cos: the oracles reduce even 1e300 modulo 2π exactly)
    "sin": OpInfo(elementwise=True, domain=((-10.0, 10.0),), full_domain=(_FULL,)),
    "cos": OpInfo(elementwise=True, domain=((-10.0, 10.0),), full_domain=(_FULL,)),
    "log1p": OpInfo(elementwise=True, domain=((-0.9, 10.0),),
                    full_domain=((-1.0 + 2.0**-52, 1e300, 1e-300),)),
    "expm1": OpInfo(elementwise=True, domain=((-5.0, 5.0),),
                    full_domain=((-700.0, 700.0, 1e-300),)),
    "clip": OpInfo(elementwise=True, examples=(
        {"min": -1.0, "max": 1.0}, {"min": 0.5, "max": None}, {"min": None, "max": -0.5}),
        param_kinks=lambda p: tuple(b for b in (p["min"], p["max"]) if b is not None),
        full_domain=(_FULL,)),
    "maximum": OpInfo(elementwise=True, tie_kink=True, full_domain=(_FULL, _FULL)),
    "minimum": OpInfo(elementwise=True, tie_kink=True, full_domain=(_FULL, _FULL)),
    "min": _STRUCTURAL,
}
"""Test metadata for every primitive of `ops.REGISTRY`, by name."""
