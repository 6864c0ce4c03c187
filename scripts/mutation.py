"""Mutation testing of the derivative table: how many realistic bugs does the suite catch?

Each mutant is one bug injected into one primitive of `tinygrad_edu.ops.REGISTRY`: its rule
(`vjp`) or its forward is replaced by a wrapper around the original, on the Primitive object
itself, so every path (the operators, `gradients()`, the fast `backward()`) runs the bug. For
each mutant a fresh Python process applies it and runs the primitive's tests
(``pytest tests/test_ops.py tests/test_oracles.py tests/test_hessian.py -k <name> -x``, the
random-graph tests of test_hessian included, Hypothesis profile `ci`);
the mutant is *killed* when a test fails. The score is printed per primitive and per bug
class, with every survivor.

    python scripts/mutation.py              # all mutants (make mutation)
    python scripts/mutation.py --only sub   # the mutants of one primitive
    python scripts/mutation.py --quick      # a handful of fixed mutants (run by the suite)

Why our own harness rather than mutmut or cosmic-ray: those mutate source text (an operator,
a constant), one token at a time. The bugs that matter here are semantic and span the
table's conventions (a rule that reads the raw data of a recorded upstream gradient, a kink
convention, a region of the domain, a forward that stays consistent with its rule), and
they are written once per *class* and applied to every entry, which a wrapper does in a
few lines and a text mutator cannot express.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinygrad_edu import ops  # noqa: E402
from tinygrad_edu.data import data_of  # noqa: E402
from tinygrad_edu.engine import Value  # noqa: E402

Fn = Callable[..., Any]
TESTS = ["tests/test_ops.py", "tests/test_oracles.py", "tests/test_hessian.py"]
FIRST_ORDER = {"constant", "sign", "swap", "input_for_output", "axis", "kink", "region"}
SECOND_ORDER = {"cut_graph"}


@dataclass(frozen=True)
class Mutant:
    """One bug: `wrap` turns the primitive's original `attribute` (vjp or forward) into it."""

    prim: str
    kind: str
    what: str
    wrap: Callable[[Fn], Fn]
    attribute: str = "vjp"

    @property
    def id(self) -> str:
        return f"{self.prim}:{self.kind}:{self.what}"


@contextmanager
def applied(mutant: Mutant) -> Iterator[None]:
    """Inject `mutant` (the Primitive is frozen, hence object.__setattr__) and undo it after.

    A mutant of a composition (`mean`) replaces that method of Value.
    """
    target: Any = ops.REGISTRY.get(mutant.prim, Value)
    original = getattr(target, mutant.attribute)
    setter = setattr if target is Value else object.__setattr__
    setter(target, mutant.attribute, mutant.wrap(original))
    try:
        yield
    finally:
        setter(target, mutant.attribute, original)


# ---- the bug classes, as wrappers of a rule ----------------------------------------------------


def _each(shares: tuple[Any, ...], i: int, change: Callable[[Any], Any]) -> tuple[Any, ...]:
    return tuple(change(s) if k == i and s is not None else s for k, s in enumerate(shares))


def scaled(i: int, factor: float) -> Callable[[Fn], Fn]:
    """Gradient i off by a constant factor."""
    return lambda vjp: lambda g, out, *xs, **p: _each(vjp(g, out, *xs, **p), i,
                                                      lambda s: s * factor)


def negated(i: int) -> Callable[[Fn], Fn]:
    """Gradient i with the wrong sign."""
    return lambda vjp: lambda g, out, *xs, **p: _each(vjp(g, out, *xs, **p), i, lambda s: -s)


def swapped_gradients(vjp: Fn) -> Fn:
    """The two operands' gradients exchanged."""
    return lambda g, out, a, b, **p: vjp(g, out, a, b, **p)[::-1]


def swapped_operands(vjp: Fn) -> Fn:
    """The rule applied with its operands in the wrong order."""
    return lambda g, out, a, b, **p: vjp(g, out, b, a, **p)


def input_for_output(vjp: Fn) -> Fn:
    """The rule reads the input where it should read the result."""
    return lambda g, out, a, *xs, **p: vjp(g, a, a, *xs, **p)


def output_for_input(vjp: Fn) -> Fn:
    """The rule reads the result where it should read the input."""
    return lambda g, out, a, *xs, **p: vjp(g, out, out, *xs, **p)


def cut_upstream(vjp: Fn) -> Fn:
    """Right to first order, but the raw data of a recorded upstream gradient is used."""
    return lambda g, out, *xs, **p: vjp(data_of(g), out, *xs, **p)


def cut_output(vjp: Fn) -> Fn:
    """Right to first order, but the raw data of the recorded result is used."""
    return lambda g, out, *xs, **p: vjp(g, data_of(out), *xs, **p)


def cut_inputs(vjp: Fn) -> Fn:
    """Right to first order, but the raw data of the recorded inputs is used."""
    return lambda g, out, *xs, **p: vjp(g, out, *(data_of(x) for x in xs), **p)


def _factor(x: Any, region: Callable[[Any], Any], factor: float) -> Any:
    inside = region(np.asarray(data_of(x)))
    return float(np.where(inside, factor, 1.0)) if np.ndim(inside) == 0 else np.where(
        inside, factor, 1.0)


def wrong_in(i: int, region: Callable[[Any], Any], factor: float = 1.01,
             of: int = 0) -> Callable[[Fn], Fn]:
    """Gradient i off by `factor` only where input `of` lies in `region`."""
    def wrap(vjp: Fn) -> Fn:
        def rule(g: Any, out: Any, *xs: Any, **p: Any) -> tuple[Any, ...]:
            f = _factor(xs[of], region, factor)
            return _each(vjp(g, out, *xs, **p), i, lambda s: s * f)
        return rule
    return wrap


def replaced(rule: Fn) -> Callable[[Fn], Fn]:
    """A rule written anew (a kink convention, an axis, a broadcast)."""
    return lambda vjp: rule


def forward_offset(forward: Fn) -> Fn:
    """A forward off by 1e-3 everywhere: its derivative (and so a rule) stays consistent."""
    return lambda *xs, **p: forward(*xs, **p) + 1e-3


def forward_scaled(forward: Fn) -> Fn:
    """A forward off by 0.1%."""
    return lambda *xs, **p: forward(*xs, **p) * 1.001


# ---- which mutants each primitive gets ---------------------------------------------------------

NO_GRADIENT = {"sign", "step"}  # their rule passes none
# rules that read their operands' or result's values (so cutting those changes the 2nd order)
READS_INPUTS = {"mul", "div", "pow_const", "pow", "pow_exponent_slope", "log", "sigmoid", "tanh",
                "sigmoid_slope", "sech2", "elu", "softplus", "logsumexp", "logsumexp_slope",
                "softmax", "log_softmax", "softmax_complement", "binary_cross_entropy",
                "bce_slope", "normal_cdf", "matmul", "sin", "cos", "log1p", "expm1"}
# (logsumexp's rule reads its result on data only: recorded, its weights are logsumexp_slope's)
READS_OUTPUT = {"div", "pow", "exp", "sqrt", "sigmoid_slope", "sech2", "logsumexp_slope",
                "softmax", "log_softmax", "softmax_complement"}
UNARY_READING_INPUT = {"pow_const", "log", "sigmoid", "tanh", "sigmoid_slope", "sech2", "elu",
                       "softplus", "normal_cdf", "abs", "sin", "cos", "log1p", "expm1"}
SWAPPABLE = {"sub", "mul", "div", "pow", "pow_exponent_slope", "where", "binary_cross_entropy",
             "bce_slope", "maximum", "minimum"}
REGIONS: dict[str, list[tuple[str, Callable[[Any], Any], int]]] = {
    "exp": [("a>20", lambda a: a > 20, 0), ("a<-20", lambda a: a < -20, 0)],
    "log": [("a<1e-3", lambda a: a < 1e-3, 0), ("a>100", lambda a: a > 100, 0)],
    "sqrt": [("a<1e-3", lambda a: a < 1e-3, 0), ("a>100", lambda a: a > 100, 0)],
    "div": [("b<0", lambda b: b < 0, 1), ("|b|<1e-3", lambda b: abs(b) < 1e-3, 1)],
    "pow_const": [("a<0", lambda a: a < 0, 0), ("a>100", lambda a: a > 100, 0)],
    "pow": [("a<0", lambda a: a < 0, 0), ("a>100", lambda a: a > 100, 0)],
    "pow_exponent_slope": [("a<1e-3", lambda a: a < 1e-3, 0), ("a>100", lambda a: a > 100, 0)],
    "mul": [("|a|>1e6", lambda a: abs(a) > 1e6, 0)],
    "sigmoid": [("a>20", lambda a: a > 20, 0), ("a<-20", lambda a: a < -20, 0)],
    "tanh": [("|a|>10", lambda a: abs(a) > 10, 0)],
    "sigmoid_slope": [("a>20", lambda a: a > 20, 0), ("|a|<1e-3", lambda a: abs(a) < 1e-3, 0)],
    "sech2": [("|a|>10", lambda a: abs(a) > 10, 0), ("|a|<1e-3", lambda a: abs(a) < 1e-3, 0)],
    "softplus": [("a>20", lambda a: a > 20, 0), ("a<-20", lambda a: a < -20, 0)],
    "elu": [("a<-20", lambda a: a < -20, 0)],
    "normal_cdf": [("a<-5", lambda a: a < -5, 0), ("a>5", lambda a: a > 5, 0)],
    "leaky_relu": [("a<-100", lambda a: a < -100, 0)],
    "abs": [("a<-100", lambda a: a < -100, 0)],
    "binary_cross_entropy": [("p<1e-3", lambda p: p < 1e-3, 0), ("p>0.9", lambda p: p > 0.9, 0)],
    "bce_slope": [("p<1e-3", lambda p: p < 1e-3, 0), ("p>0.9", lambda p: p > 0.9, 0)],
    "sin": [("a>3", lambda a: a > 3, 0), ("|a|>1e3", lambda a: abs(a) > 1e3, 0)],
    "cos": [("a<-3", lambda a: a < -3, 0), ("|a|>1e3", lambda a: abs(a) > 1e3, 0)],
    "log1p": [("|a|<1e-3", lambda a: abs(a) < 1e-3, 0), ("a>100", lambda a: a > 100, 0)],
    "expm1": [("a<-20", lambda a: a < -20, 0), ("|a|<1e-3", lambda a: abs(a) < 1e-3, 0)],
    "clip": [("a>0", lambda a: a > 0, 0)],
    "maximum": [("a<0", lambda a: a < 0, 0)],
    "minimum": [("b>1", lambda b: b > 1, 1)],
}


def _flip(g: Any) -> Any:
    return g[::-1] if g.ndim else g


def _structural() -> list[Mutant]:
    """Hand-written mutants of the structural rules and the kink conventions."""
    from tinygrad_edu import kernels
    from tinygrad_edu.kernels import shape_of

    o = ops

    def spread_no_reshape(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        if isinstance(g, Value):  # the recorded path forgets the keepdims reshape
            return (o.BROADCAST_TO(g, shape=shape_of(a)),)
        return (np.broadcast_to(np.reshape(g, kernels.kept_shape(shape_of(a), axis)),
                                shape_of(a)).copy(),)

    def sum_first_axis(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        shape = shape_of(a)
        if axis is None or len(shape) < 2:
            return ORIGINAL["sum"](g, out, a, axis=axis, keepdims=keepdims)
        wrong = tuple((k + 1) % len(shape) for k in axis)
        kept = kernels.kept_shape(shape, wrong)
        if int(np.prod(kept)) != int(np.prod(shape_of(g))):
            raise ValueError("wrong axis")
        return (o.BROADCAST_TO(o.RESHAPE(g, shape=kept), shape=shape)
                if isinstance(g, Value) else np.broadcast_to(np.reshape(g, kept), shape).copy(),)

    def max_no_split(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        shape = shape_of(a)
        winners = np.asarray(data_of(a)) == np.reshape(data_of(out),
                                                       kernels.kept_shape(shape, axis))
        spread = ORIGINAL["sum"](g, out, a, axis=axis, keepdims=keepdims)[0]
        return (spread * winners.astype(np.float64),)

    def max_to_all(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        return ORIGINAL["sum"](g, out, a, axis=axis, keepdims=keepdims)

    def mean_over_broadcast(g: Any, out: Any, a: Any, *, shape: Any) -> Any:
        n = int(np.prod(shape)) / max(int(np.prod(shape_of(a))), 1)
        return (g * (1.0 / n),) if n != 1 else (g,)

    def transpose_same_axes(g: Any, out: Any, a: Any, *, axes: Any) -> Any:
        return (o.TRANSPOSE(g, axes=axes),)

    def reshape_flipped(g: Any, out: Any, a: Any, *, shape: Any) -> Any:
        return (o.RESHAPE(_flip(g), shape=shape_of(a)),)

    def getitem_assign(g: Any, out: Any, a: Any, *, index: Any) -> Any:
        if isinstance(g, Value):
            return (o.SCATTER_ADD(g, index=index, shape=shape_of(a)),)
        result = np.zeros(shape_of(a))
        result[index] = g  # repeated indices overwrite instead of adding up
        return (result,)

    def scatter_flipped(g: Any, out: Any, a: Any, *, index: Any, shape: Any) -> Any:
        return (_flip(o.GETITEM(g, index=index)),)

    def concatenate_reversed(g: Any, out: Any, *xs: Any, axis: int) -> Any:
        bounds = np.cumsum([0] + [shape_of(x)[axis] for x in xs[::-1]]).tolist()
        before = (slice(None),) * axis
        return tuple(o.GETITEM(g, index=(*before, slice(s, e)))
                     for s, e in itertools.pairwise(bounds))[::-1]

    def stack_reversed(g: Any, out: Any, *xs: Any, axis: int) -> Any:
        n = len(xs)
        return tuple(o.GETITEM(g, index=(*(slice(None),) * axis, n - 1 - i)) for i in range(n))

    def where_inverted(g: Any, out: Any, a: Any, b: Any, *, cond: Any) -> Any:
        return (o.WHERE(0.0, g, cond=cond), o.WHERE(g, 0.0, cond=cond))

    def matmul_unbatched(g: Any, out: Any, a: Any, b: Any, **p: Any) -> Any:
        da, db = ORIGINAL["matmul"](g, out, a, b, **p)
        if db is not None and len(shape_of(b)) == 2 and len(shape_of(g)) >= 3:
            db = db * 0.5  # a batch-broadcast operand's gradient halved
        return da, db

    def kink(prim: str, rule: Fn) -> Mutant:
        return Mutant(prim, "kink", "convention at 0 is the right-hand slope", replaced(rule))

    def clip_open(g: Any, out: Any, a: Any, *, min: Any, max: Any) -> Any:
        x = data_of(a)
        inside = (x > (-np.inf if min is None else min)) & (x < (np.inf if max is None else max))
        return (o.WHERE(g, 0.0, cond=inside),)

    def ties(larger: bool, share: tuple[float, float]) -> Fn:
        """maximum (minimum) with ties sending share[0]·g to a and share[1]·g to b."""
        def rule(g: Any, out: Any, a: Any, b: Any) -> Any:
            x, y = data_of(a), data_of(b)
            a_wins, b_wins = (x > y, x < y) if larger else (x < y, x > y)
            tie = x == y
            return tuple(o.WHERE(g, o.WHERE(g * s, 0.0, cond=tie), cond=wins)
                         for wins, s in ((a_wins, share[0]), (b_wins, share[1])))
        return rule

    return [
        Mutant("sum", "axis", "recorded spread skips the keepdims reshape",
               replaced(spread_no_reshape)),
        Mutant("sum", "axis", "spread over the next axis", replaced(sum_first_axis)),
        Mutant("max", "kink", "ties each get the whole gradient", replaced(max_no_split)),
        Mutant("max", "axis", "every element gets the gradient", replaced(max_to_all)),
        Mutant("broadcast_to", "axis", "mean instead of sum over the copies",
               replaced(mean_over_broadcast)),
        Mutant("transpose", "axis", "transposed by axes, not by their inverse",
               replaced(transpose_same_axes)),
        Mutant("reshape", "axis", "elements out of order", replaced(reshape_flipped)),
        Mutant("getitem", "region", "repeated indices overwrite", replaced(getitem_assign)),
        Mutant("scatter_add", "axis", "elements out of order", replaced(scatter_flipped)),
        Mutant("concatenate", "axis", "slices in reverse order", replaced(concatenate_reversed)),
        Mutant("stack", "axis", "slices in reverse order", replaced(stack_reversed)),
        Mutant("where", "swap", "condition inverted", replaced(where_inverted)),
        Mutant("matmul", "axis", "broadcast batch gradient halved", replaced(matmul_unbatched)),
        kink("relu", lambda g, out, a: (o.WHERE(g, 0.0, cond=a >= 0.0),)),
        kink("leaky_relu", lambda g, out, a, *, negative_slope: (
            o.WHERE(g, g * negative_slope, cond=a >= 0.0),)),
        kink("elu", lambda g, out, a, *, alpha: (
            o.WHERE(g, g * (alpha * o.EXP(a * (a <= 0.0))), cond=a >= 0.0),)),
        kink("abs", lambda g, out, a: (o.WHERE(g, -g, cond=a >= 0.0),)),
        Mutant("min", "kink", "ties each get the whole gradient", replaced(max_no_split)),
        Mutant("min", "axis", "every element gets the gradient", replaced(max_to_all)),
        Mutant("clip", "kink", "slope 0 exactly at the bounds", replaced(clip_open)),
        Mutant("maximum", "kink", "a tie sends all to a", replaced(ties(True, (1.0, 0.0)))),
        Mutant("maximum", "kink", "a tie sends all to both", replaced(ties(True, (1.0, 1.0)))),
        Mutant("minimum", "kink", "a tie sends all to b", replaced(ties(False, (0.0, 1.0)))),
        Mutant("minimum", "kink", "a tie sends nothing", replaced(ties(False, (0.0, 0.0)))),
        Mutant("step", "constant", "passes the gradient through",
               replaced(lambda g, out, a: (g,))),
        Mutant("sign", "constant", "passes the gradient through",
               replaced(lambda g, out, a: (g,))),
    ]


ORIGINAL: dict[str, Fn] = {name: prim.vjp for name, prim in ops.REGISTRY.items()}


def _n_gradients(name: str) -> int:
    return {"add": 2, "sub": 2, "mul": 2, "div": 2, "pow": 2, "pow_exponent_slope": 2,
            "matmul": 2, "where": 2,
            "binary_cross_entropy": 2, "bce_slope": 2, "maximum": 2, "minimum": 2,
            "concatenate": 1, "stack": 1}.get(name, 1)


def mutants() -> list[Mutant]:
    """Every mutant: the generic bug classes applied to every entry, then the hand-written."""
    result: list[Mutant] = []
    for name in ops.REGISTRY:
        if name not in NO_GRADIENT:
            for i in range(_n_gradients(name)):
                result.append(Mutant(name, "constant", f"gradient {i} × 1.001", scaled(i, 1.001)))
                result.append(Mutant(name, "sign", f"gradient {i} negated", negated(i)))
            result.append(Mutant(name, "cut_graph", "raw data of the upstream gradient",
                                 cut_upstream))
        if name in READS_INPUTS:
            result.append(Mutant(name, "cut_graph", "raw data of the inputs", cut_inputs))
        if name in READS_OUTPUT:
            result.append(Mutant(name, "cut_graph", "raw data of the result", cut_output))
            result.append(Mutant(name, "input_for_output", "input read as the result",
                                 input_for_output))
        if name in UNARY_READING_INPUT:
            result.append(Mutant(name, "input_for_output", "result read as the input",
                                 output_for_input))
        if name in SWAPPABLE:
            result.append(Mutant(name, "swap", "gradients exchanged", swapped_gradients))
            if name in READS_INPUTS:  # (sub's rule reads no operand: swapping them is no bug)
                result.append(Mutant(name, "swap", "operands exchanged", swapped_operands))
        for what, region, of in REGIONS.get(name, []):
            for i in range(_n_gradients(name)):
                if name == "pow" and i == 1 and what == "a<0":
                    continue  # d(a**b)/db is nan for a < 0 (log of a negative number)
                result.append(Mutant(name, "region", f"gradient {i} × 1.01 where {what}",
                                     wrong_in(i, region, of=of)))
        result.append(Mutant(name, "forward", "result + 1e-3", forward_offset, "forward"))
        if name not in NO_GRADIENT:
            result.append(Mutant(name, "forward", "result × 1.001", forward_scaled, "forward"))
    mean_by_size = Mutant("mean", "forward", "divides by the size, whatever the axis",
                          lambda mean: lambda self, axis=None, keepdims=False:
                          self.sum(axis, keepdims) / float(self.size), "mean")
    return [*result, *_structural(), mean_by_size, *_softmax_family_and_spread(),
            *_pow_zero_base()]


def _softmax_family_and_spread() -> list[Mutant]:
    """Hand-written mutants of the softmax family, binary cross-entropy, and var/std."""
    from tinygrad_edu import kernels
    from tinygrad_edu.kernels import shape_of

    o = ops

    def lse_unweighted(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        return ORIGINAL["sum"](g, out, a, axis=axis, keepdims=keepdims)

    def lse_naive(x: Any, *, axis: Any, keepdims: bool) -> Any:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))

    def softmax_naive(x: Any, *, axis: Any) -> Any:
        return np.exp(x) / np.sum(np.exp(x), axis=axis, keepdims=True)

    def log_softmax_naive(x: Any, *, axis: Any) -> Any:
        return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))

    def softmax_diagonal(g: Any, out: Any, a: Any, *, axis: Any) -> Any:
        return (out * g,)

    def log_softmax_every_axis(g: Any, out: Any, a: Any, *, axis: Any) -> Any:
        return (g - o.EXP(out) * o.SUM(g, axis=None, keepdims=True),)

    def softmax_cancelling(g: Any, out: Any, a: Any, *, axis: Any) -> Any:
        return (out * (g - o.SUM(g * out, axis=axis, keepdims=True)),)

    def log_softmax_cancelling(g: Any, out: Any, a: Any, *, axis: Any) -> Any:
        return (g - o.EXP(out) * o.SUM(g, axis=axis, keepdims=True),)

    def lse_weights_cancelling(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> Any:
        spread = ORIGINAL["sum"](g, out, a, axis=axis, keepdims=keepdims)[0]
        kept = o.RESHAPE(out, shape=kernels.kept_shape(shape_of(a), axis))
        return (spread * o.EXP(a - kept),)

    def complement_cancelling(x: Any, *, axis: Any) -> Any:
        return 1.0 - o.SOFTMAX.forward(x, axis=axis)

    def bce_unfloored(g: Any, out: Any, p: Any, y: Any) -> Any:
        p = np.float64(p) if type(p) is float else p
        return g * ((p - y) / (p * (1.0 - p))), g * (o.LOG(1.0 - p) - o.LOG(p))

    def var_ignores_ddof(var: Fn) -> Fn:
        return lambda self, axis=None, ddof=0, keepdims=False: var(self, axis, 0, keepdims)

    def std_plain_sqrt(std: Fn) -> Fn:
        return lambda self, axis=None, ddof=0, keepdims=False: self.var(axis, ddof,
                                                                       keepdims).sqrt()

    return [
        Mutant("logsumexp", "constant", "g spread without the softmax weights",
               replaced(lse_unweighted)),
        Mutant("logsumexp", "forward", "no maximum subtracted (overflows)", lambda f: lse_naive,
               "forward"),
        Mutant("softmax", "forward", "no maximum subtracted (overflows)",
               lambda f: softmax_naive, "forward"),
        Mutant("log_softmax", "forward", "no maximum subtracted (overflows)",
               lambda f: log_softmax_naive, "forward"),
        Mutant("softmax", "constant", "the Jacobian's diagonal only", replaced(softmax_diagonal)),
        Mutant("log_softmax", "axis", "Σg over every axis", replaced(log_softmax_every_axis)),
        # (the rules before softmax_complement: right but where p rounds to 1, where the
        # diagonal p − p² or 1 − p cancels to 0)
        Mutant("softmax", "region", "out·(g − Σ g·out): p − p² where p is near 1",
               replaced(softmax_cancelling)),
        Mutant("log_softmax", "region", "g − exp(out)·Σ g: 1 − p where p is near 1",
               replaced(log_softmax_cancelling)),
        Mutant("softmax_complement", "forward", "1 − softmax (0 where p rounds to 1)",
               lambda f: complement_cancelling, "forward"),
        Mutant("logsumexp", "region", "recorded weights exp(a − out): p − p² where p is near 1",
               replaced(lse_weights_cancelling)),
        Mutant("logsumexp_slope", "region", "out·(g − Σ g·out): p − p² where p is near 1",
               replaced(softmax_cancelling)),
        Mutant("binary_cross_entropy", "kink", "p(1 − p) not floored at 1e-12",
               replaced(bce_unfloored)),
        Mutant("var", "forward", "ddof ignored", var_ignores_ddof, "var"),
        Mutant("std", "kink", "√var: nan gradient at a constant slice", std_plain_sqrt, "std"),
    ]


def _pow_zero_base() -> list[Mutant]:
    """Hand-written mutants of pow's second derivatives at a zero base (a = 0, b ≥ 0), where
    its first in b is 0 by the convention: each is right everywhere else."""
    o = ops

    def unmasked(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
        """Where the convention holds (a = 0, b ≥ 0), and g·out·log a with a read as 1 there."""
        at_zero = (np.asarray(data_of(a)) == 0.0) & (np.asarray(data_of(b)) >= 0.0)
        return at_zero, g * out * o.LOG(o.WHERE(1.0, a, cond=at_zero))

    def constant_share(g: Any, out: Any, a: Any, b: Any) -> Any:
        # pow's rule before pow_exponent_slope: the 0 a constant, recorded too
        at_zero, d_exponent = unmasked(g, out, a, b)
        d_base = ORIGINAL["pow"](g, out, a, b)[0]
        return d_base, o.WHERE(0.0, d_exponent, cond=at_zero) if at_zero.any() else d_exponent

    def through_out(g: Any, out: Any, a: Any, b: Any) -> Any:
        # recorded, the branch not taken reads out: out's own rule turns the 0 it gets into
        # 0·inf = nan at (0, 0 < b < 1)
        d_base, d_exponent = ORIGINAL["pow"](g, out, a, b)
        if not isinstance(a, Value):
            return d_base, d_exponent
        at_zero, taken = unmasked(g, out, a, b)
        return d_base, o.WHERE(d_exponent, taken, cond=at_zero) if at_zero.any() else taken

    def product_rule(g: Any, out: Any, a: Any, b: Any) -> Any:
        # ∂E/∂a as the product rule b·a^(b−1)·log a + a^b/a: nan at a zero base
        d_a = g * (b * o.POW(a, b - 1.0) * o.LOG(a) + o.POW(a, b) / a)
        return d_a, ORIGINAL["pow_exponent_slope"](g, out, a, b)[1]

    def from_result(g: Any, out: Any, a: Any, b: Any) -> Any:
        # ∂E/∂b as out·log a: the convention's 0 makes it nan at a zero base (+inf, 0)
        return ORIGINAL["pow_exponent_slope"](g, out, a, b)[0], g * out * o.LOG(a)

    return [
        Mutant("pow", "cut_graph", "zero base: the exponent's 0 a constant, recorded too",
               replaced(constant_share)),
        Mutant("pow", "kink", "zero base: recorded, the branch not taken reads out",
               replaced(through_out)),
        Mutant("pow_exponent_slope", "kink", "∂/∂a by the product rule (nan at a zero base)",
               replaced(product_rule)),
        Mutant("pow_exponent_slope", "kink", "∂/∂b as out·log(a) (nan at a zero base)",
               replaced(from_result)),
    ]


QUICK = [  # (mutant id, expected): a few classic bugs, and one that changes nothing
    ("sub:cut_graph:raw data of the upstream gradient", "killed"),
    ("exp:region:gradient 0 × 1.01 where a>20", "killed"),
    ("relu:kink:convention at 0 is the right-hand slope", "killed"),
    ("log:forward:result + 1e-3", "killed"),
    ("neg:identity:no change", "survived"),
]


def find(mutant_id: str) -> Mutant:
    if mutant_id == "neg:identity:no change":
        return Mutant("neg", "identity", "no change", lambda vjp: vjp)
    for mutant in mutants():
        if mutant.id == mutant_id:
            return mutant
    raise SystemExit(f"no mutant {mutant_id!r}")


def run_one(mutant_id: str) -> int:
    """In this process: apply the mutant, run its primitive's tests; pytest's exit code."""
    import pytest

    mutant = find(mutant_id)
    name = mutant.prim
    # a -k expression that picks this primitive's tests only (pow, not pow_const; add, not
    # scatter_add), matched on the test ids' parameters
    others = [n for n in ops.REGISTRY if n != name and name in n]
    select = f"({name} or hessian)" + "".join(f" and not {n}" for n in others)
    with applied(mutant):
        return int(pytest.main([*TESTS, "-x", "-q", "-p", "no:cacheprovider", "-k", select,
                                "--no-header", "-W", "ignore"]))


def run_all(ids: list[str], jobs: int, profile: str, timeout: float) -> dict[str, str]:
    """Each mutant in a fresh process: 'killed', 'survived', 'timeout' or 'error'."""
    env = {**os.environ, "HYPOTHESIS_PROFILE": profile}

    def one(mutant_id: str) -> tuple[str, str]:
        try:
            done = subprocess.run([sys.executable, __file__, "--run-one", mutant_id], cwd=ROOT,
                                  env=env, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return mutant_id, "timeout"
        outcome = {0: "survived", 1: "killed"}.get(done.returncode, "error")
        if outcome == "error":
            print(done.stdout.decode()[-2000:], done.stderr.decode()[-2000:], file=sys.stderr)
        return mutant_id, outcome

    results: dict[str, str] = {}
    with ThreadPoolExecutor(jobs) as pool:
        for mutant_id, outcome in pool.map(one, ids):
            results[mutant_id] = outcome
            print(f"{outcome:8} {mutant_id}", flush=True)
    return results


def report(results: dict[str, str], catalogue: dict[str, Mutant]) -> float:
    """Print the score per primitive and per bug class, and every survivor; the overall score."""
    def score(ids: list[str]) -> str:
        killed = sum(results[i] == "killed" for i in ids)
        return f"{killed}/{len(ids)} ({100.0 * killed / len(ids):.1f}%)"

    print("\nper primitive:")
    for name in dict.fromkeys(catalogue[i].prim for i in results):
        ids = [i for i in results if catalogue[i].prim == name]
        if ids:
            print(f"  {name:12} {score(ids)}")
    print("per bug class:")
    for kind in sorted(Counter(catalogue[i].kind for i in results)):
        print(f"  {kind:17} {score([i for i in results if catalogue[i].kind == kind])}")
    first = [i for i in results if catalogue[i].kind in FIRST_ORDER]
    second = [i for i in results if catalogue[i].kind in SECOND_ORDER]
    if first:
        print(f"first-order rule mutants:  {score(first)}")
    if second:
        print(f"second-order rule mutants: {score(second)}")
    print(f"overall: {score(list(results))}")
    survivors = [i for i in results if results[i] != "killed"]
    print(f"survivors ({len(survivors)}):")
    for i in survivors:
        print(f"  {results[i]:8} {i}")
    return sum(r == "killed" for r in results.values()) / len(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="the mutants of this primitive only")
    parser.add_argument("--quick", action="store_true", help="a handful of fixed mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", default="ci", help="Hypothesis profile (default ci)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        return run_one(args.run_one)
    if args.quick:
        results = run_all([i for i, _ in QUICK], args.jobs, args.profile, args.timeout)
        wrong = [(i, results[i]) for i, expected in QUICK if results[i] != expected]
        for i, outcome in wrong:
            print(f"quick mode: {i} {outcome}, expected {dict(QUICK)[i]}")
        return 1 if wrong else 0
    catalogue = {m.id: m for m in mutants()}
    assert len(catalogue) == len(mutants()), "two mutants share an id"
    ids = [i for i, m in catalogue.items() if args.only in (None, m.prim)]
    if args.list:
        print("\n".join(ids))
        print(f"{len(ids)} mutants")
        return 0
    start = time.monotonic()
    results = run_all(ids, args.jobs, args.profile, args.timeout)
    report(results, catalogue)
    print(f"{len(ids)} mutants in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
