"""The derivative table: every primitive operation, its forward computation and its derivative.

Each entry reads like a line of a calculus book: ``mul: (a, b) -> a*b`` with the
vector-Jacobian product ``g -> (g*b, g*a)``: given the upstream gradient `g` (d root / d out),
the rule returns d root / d input for every input. `out` is the op's own result, handy when
the derivative is best written through it (d exp(a) = exp(a) da). Everything else in the
engine (Value's operators, the activations, the losses) is a composition of these lines.

Rules use only the operator algebra and the primitives themselves, so the same line computes
on Python floats, on numpy arrays and on Values (when a backward pass is recorded for
higher derivatives). Broadcasting is undone in one place, `engine.sum_to_shape`, not in the
rules. The forward computations are in `tinygrad_edu.kernels`.

>>> from tinygrad_edu.ops import REGISTRY
>>> REGISTRY["mul"].vjp(1.5, 6.0, 2.0, 3.0)
(4.5, 3.0)
"""

from __future__ import annotations

import math
import operator
from itertools import pairwise
from typing import Any

import numpy as np

from tinygrad_edu import fast, kernels
from tinygrad_edu.data import data_of
from tinygrad_edu.engine import REGISTRY, Primitive, Value, primitive, sum_to_shape
from tinygrad_edu.kernels import shape_of

__all__ = ["REGISTRY"]

# fmt: off
# Each entry: name and forward; the rule (g, out, *inputs) -> one gradient per input (None for
# an input that gets none); then how the graphs show it.

# ---- arithmetic
ADD: Primitive = primitive("add", operator.add,
    lambda g, out, a, b: (g, g),
    label="+", text="∂out/∂a = 1,  ∂out/∂b = 1", reads_operands="none")
SUB: Primitive = primitive("sub", operator.sub,
    lambda g, out, a, b: (g, -g),
    label="-", text="∂out/∂a = 1,  ∂out/∂b = −1", reads_operands="none")
MUL: Primitive = primitive("mul", operator.mul,
    lambda g, out, a, b: (g * b, g * a),
    label="*", text="∂out/∂a = b,  ∂out/∂b = a")
DIV: Primitive = primitive("div", operator.truediv,
    lambda g, out, a, b: (g / b, -g * out / b),
    label="/", text="∂out/∂a = 1/b,  ∂out/∂b = −a/b² = −out/b")
NEG: Primitive = primitive("neg", operator.neg,
    lambda g, out, a: (-g,),
    label="-", text="∂out/∂a = −1")
POW_CONST: Primitive = primitive("pow_const", kernels.power_const,  # a ** c, c a plain number
    # NOTE: a**0 is 1 everywhere, so no gradient, even at 0**0 (PyTorch: 0, not 0·0⁻¹ = nan)
    lambda g, out, a, *, exponent: (None,) if exponent == 0 else
                                   (g * (exponent * POW_CONST(a, exponent=exponent - 1.0)),),
    label="**", caption=lambda p: f"**{_number(p['exponent'])}",
    text="∂out/∂a = {exponent}·a^({exponent} − 1)")


def _pow_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # NOTE: d(a**b)/db = a**b * log(a) is taken as 0 where a == 0 and b >= 0 (as PyTorch does):
    # there a**b is 0 or 1 whatever b is near, and log(0) would turn that into nan. b's share
    # there is g·0 (`_zero_times`), as PyTorch's: nan for a nan or ±inf g, not a 0 that hides it
    a_data, b_data = np.asarray(data_of(a)), np.asarray(data_of(b))
    at_zero = (a_data == 0.0) & (b_data >= 0.0)
    d_base = g * (b * POW(a, b - 1.0))
    # NOTE: a**0 is 1 everywhere, so d/da is +0 where b == 0, even at 0**0 (as PyTorch; and as
    # pow_const): b·a^(b−1) would be 0·inf = nan there (at a zero, subnormal or nan base), and
    # −0.0 at a negative base; elsewhere it is 0 already, and its derivative in b (a second
    # derivative) must stay: d_base + 0.0 (−0.0 + 0.0 is +0.0) keeps it
    zero_exponent = np.broadcast_to(b_data == 0.0, shape_of(d_base))
    if zero_exponent.any():
        undefined = zero_exponent & np.isnan(data_of(d_base))
        signed = d_base + 0.0
        d_base = WHERE(WHERE(0.0, signed, cond=undefined) if undefined.any() else signed,
                       d_base, cond=zero_exponent)
    base = WHERE(1.0, a, cond=at_zero)
    if not at_zero.any():
        return d_base, g * out * LOG(base)
    if isinstance(a, Value):
        # recorded: the 0 is g·pow_exponent_slope(a, b), whose derivatives there are pow's
        # second derivatives, +inf at (0, 0) (see _zero_base_share); and out is 1 ** b there
        # (out's own rule would turn the 0 the branch not taken gets into 0·inf = nan)
        return d_base, WHERE(_zero_base_share(g, a, b, at_zero), g * POW(base, b) * LOG(base),
                             cond=at_zero)
    return d_base, WHERE(_zero_times(g), g * out * LOG(base), cond=at_zero)


def _zero_times(g: Any) -> Any:
    """g·0, a share a convention makes 0, as PyTorch's: +0.0 for a finite g (not −0.0 for a
    negative one), nan for a nan or ±inf g, so that a nan upstream is not hidden."""
    return g * 0.0 + 0.0


def _zero_base_share(g: Any, a: Any, b: Any, at_zero: Any) -> Any:
    """g·E(a, b), E = pow_exponent_slope, where a = 0 and b ≥ 0 (`at_zero`): g·0 + 0.0 there,
    the number of the rule on data (E is 0 by the convention: +0.0 for a finite g, nan for a
    nan or ±inf one), but with E's derivatives, g·∂E/∂a and g·∂E/∂b (+inf at (0, 0)), not a
    constant's 0. Elsewhere it reads g = 0 and a = b = 1: there the 0 a branch not taken gets
    meets no inf of E's rule (0·inf would be nan). (+ 0.0: g·0 is −0.0 for a negative g.)"""
    g, a, b = (WHERE(x, fill, cond=at_zero) for x, fill in ((g, 0.0), (a, 1.0), (b, 1.0)))
    return g * POW_EXPONENT_SLOPE(a, b) + 0.0


POW: Primitive = primitive("pow", kernels.power,  # a ** b, both Values
    _pow_vjp,
    label="**", text="∂out/∂a = b·a^(b − 1),  ∂out/∂b = out·log(a)")


def _pow_exponent_slope_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # E = a^b·log a: ∂E/∂a = a^(b−1)·(1 + b·log a), ∂E/∂b = a^b·log²a; at a zero base (b ≥ 0)
    # their limits: ∂E/∂a is +inf at b = 0 (E = log a), −inf for 0 < b ≤ 1, 0 for b > 1;
    # ∂E/∂b is +inf at b = 0, 0 for b > 0. (∂E/∂b from POW, not from out: the convention makes
    # out 0 at (0, 0), where a^b·log²a is +inf)
    # (a + 0.0: a base of -0.0 is 0 too; a^(b−1) would take its sign where b − 1 is an odd
    # whole number, at b = 0 or where b − 1 rounds to −1)
    a = a + 0.0
    a_data, b_data = np.asarray(data_of(a)), np.asarray(data_of(b))
    log_a = LOG(a)
    b_log_a = b * log_a
    # NOTE: at b = 0, E is log a, and b·log a is 0 even where log a is ±inf (not 0·inf = nan)
    undefined = (b_data == 0.0) & np.isnan(data_of(b_log_a))
    if undefined.any():
        b_log_a = WHERE(0.0, b_log_a, cond=undefined)
    d_a = g * (POW(a, b - 1.0) * (1.0 + b_log_a))
    d_b = g * (POW(a, b) * log_a * log_a)
    # at a zero base, the limits that are 0, where the formulas give 0·(−inf) = nan
    # (times g: nan for a nan or ±inf g)
    flat_a, flat_b = ((a_data == 0.0) & (b_data > least) for least in (1.0, 0.0))
    if flat_a.any():
        d_a = WHERE(_zero_times(g), d_a, cond=flat_a)
    if flat_b.any():
        d_b = WHERE(_zero_times(g), d_b, cond=flat_b)
    return d_a, d_b


# pow's slope in b, an entry of its own for its rule: pow's rule records it where the base is 0
# (and b ≥ 0), where the convention makes d(a**b)/db 0, so that pow's second derivatives there
# are its limits (+inf at (0, 0)), not the 0 of a constant
POW_EXPONENT_SLOPE: Primitive = primitive("pow_exponent_slope", kernels.pow_exponent_slope,
    _pow_exponent_slope_vjp,
    label="∂pow/∂b",
    text="out = a^b·log(a) (0 at a = 0, b ≥ 0);  ∂out/∂a = a^(b − 1)·(1 + b·log a),  "
         "∂out/∂b = a^b·log²(a)  (their limits at a = 0)")

# ---- elementary functions
EXP: Primitive = primitive("exp", kernels.elementwise(math.exp, np.exp),
    lambda g, out, a: (g * out,),
    text="∂out/∂a = exp(a) = out")
LOG: Primitive = primitive("log", kernels.elementwise(math.log, np.log),
    lambda g, out, a: (g / a,),
    text="∂out/∂a = 1/a")
SQRT: Primitive = primitive("sqrt", kernels.elementwise(math.sqrt, np.sqrt),
    lambda g, out, a: (g / (2.0 * out),),
    text="∂out/∂a = 1/(2·√a) = 1/(2·out)")
SIGN: Primitive = primitive("sign", kernels.sign,
    lambda g, out, a: (None,),
    kinks=(0.0,), text="∂out/∂a = 0 (sign passes no gradient)")
ABS: Primitive = primitive("abs", kernels.elementwise(abs, np.abs),
    lambda g, out, a: (g * SIGN(a),),  # NOTE: d|a| at 0 is taken to be 0
    kinks=(0.0,), text="∂out/∂a = sign(a)  (0 at a = 0)")

# ---- the lecture's activations (selu, silu and gelu are compositions: see Value's methods)
SIGMOID: Primitive = primitive("sigmoid", kernels.sigmoid,
    lambda g, out, a: (g * SIGMOID_SLOPE(a),),  # σ' = σ(a)·σ(-a), accurate on both tails
    text="∂out/∂a = σ(a)·(1 − σ(a)) = σ(a)·σ(−a)")
TANH: Primitive = primitive("tanh", kernels.elementwise(math.tanh, np.tanh),
    # 1 - tanh² as sech² = 4·σ(2a)·σ(-2a), which stays accurate where tanh rounds to ±1
    lambda g, out, a: (g * SECH2(a),),
    text="∂out/∂a = 1 − tanh²(a) = 1 − out²")
# the two slopes, entries of their own so that their derivatives (second derivatives of sigmoid
# and tanh) are products: the product rule on σ(a)·σ(−a) would give σ′·(σ(−a) − σ(a)), a
# difference that cancels near 0 (tanh″ at 1e-8 kept 8 digits, at 1e-300 none)
SIGMOID_SLOPE: Primitive = primitive("sigmoid_slope", kernels.sigmoid_slope,
    lambda g, out, a: (g * (-out * TANH(0.5 * a)),),  # σ″ = σ′·(1 − 2σ) = −σ′·tanh(a/2)
    label="σ′", text="∂out/∂a = σ″(a) = −σ′(a)·tanh(a/2) = −out·tanh(a/2)")
SECH2: Primitive = primitive("sech2", kernels.sech2,
    lambda g, out, a: (g * (-2.0 * out * TANH(a)),),
    label="sech²", text="∂out/∂a = −2·sech²(a)·tanh(a) = −2·out·tanh(a)")
STEP: Primitive = primitive("step", kernels.step,
    # NOTE: the step function passes no gradient anywhere: the reason Rosenblatt's
    # perceptron needs its own learning rule
    lambda g, out, a: (None,),
    kinks=(0.0,), text="∂out/∂a = 0 everywhere (the step passes no gradient)")
RELU: Primitive = primitive("relu", kernels.relu,
    # NOTE: d relu at 0 is taken to be 0; at nan it is g, as PyTorch's threshold_backward
    # (a <= 0 ? 0 : g): a nan input must not get a clean-looking 0. `a` is the select's
    # operand too (see WHERE): recorded, the gradient is a function of a, as PyTorch's
    lambda g, out, a: (WHERE(0.0, g, a, cond=a <= 0.0),),
    kinks=(0.0,), text="∂out/∂a = 1 if a > 0 else 0  (0 at a = 0)")
LEAKY_RELU: Primitive = primitive("leaky_relu", kernels.leaky_relu,
    lambda g, out, a, *, negative_slope: (WHERE(g, g * negative_slope, a, cond=a > 0.0),),
    kinks=(0.0,),  # NOTE: at 0 the slope is negative_slope
    caption=lambda p: f"leaky_relu({_number(p['negative_slope'])})",
    text="∂out/∂a = 1 if a > 0 else {negative_slope}")
ELU: Primitive = primitive("elu", kernels.elu,
    # α·eᵃ, not out + α (which cancels to 0 far left); exp of a made 0 on the right keeps it
    # finite there, and its derivative too (a·(a ≤ 0) would be inf·0 = nan at a = inf)
    lambda g, out, a, *, alpha: (WHERE(g, g * (alpha * EXP(WHERE(0.0, a, cond=a > 0.0))),
                                       cond=a > 0.0),),
    kinks=(0.0,),  # NOTE: at 0 the slope is alpha
    caption=lambda p: f"elu({_number(p['alpha'])})",
    text="∂out/∂a = 1 if a > 0 else {alpha}·exp(a)")
SOFTPLUS: Primitive = primitive("softplus", kernels.softplus,
    lambda g, out, a: (g * SIGMOID(a),),
    text="∂out/∂a = σ(a)")
NORMAL_CDF: Primitive = primitive("normal_cdf", kernels.normal_cdf,  # Φ, for gelu
    lambda g, out, a: (g * (kernels.INV_SQRT_2PI * EXP(-0.5 * (a * a))),),
    label="Φ", text="∂out/∂a = φ(a) = exp(−a²/2)/√(2π)")

# ---- reductions, shapes and indexing: each is linear, and its rule is its adjoint
# (np.add.reduce is what np.sum calls; called here, an overflow's warning is this package's,
# which it silences: from inside np.sum it would be numpy's, and reach the user)
SUM: Primitive = primitive("sum", lambda x, *, axis, keepdims: np.add.reduce(x, axis,
                                                                             keepdims=keepdims),
    lambda g, out, a, *, axis, keepdims: (_spread(g, shape_of(a), axis),),
    caption=lambda p: _reduction_caption("sum", p),
    text="∂out/∂a = 1 for every summed element: g is copied back over the axes")


def _max_vjp(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    # NOTE: tied maxima share the gradient evenly (the subgradient PyTorch's amax uses)
    shape = shape_of(a)
    winners = np.asarray(data_of(a)) == np.reshape(data_of(out), kernels.kept_shape(shape, axis))
    share = winners / np.sum(winners, axis=axis, keepdims=True)
    # the share, read off a's data, as a select that always takes it with a as its operand
    # (see WHERE): recorded, the gradient is a function of a (the same numbers)
    return (_spread(g, shape, axis) * WHERE(share, 0.0, a, cond=True),)


MAX: Primitive = primitive("max", lambda x, *, axis, keepdims: np.max(x, axis, keepdims=keepdims),
    _max_vjp,
    caption=lambda p: _reduction_caption("max", p),
    text="∂out/∂a = 1 at the maximum (shared evenly among ties), 0 elsewhere")
RESHAPE: Primitive = primitive("reshape", lambda x, *, shape: np.reshape(x, shape),
    lambda g, out, a, *, shape: (RESHAPE(g, shape=shape_of(a)),),
    text="g is reshaped back to a's shape", reads_data=False)
BROADCAST_TO: Primitive = primitive("broadcast_to",
    lambda x, *, shape: np.broadcast_to(x, shape),
    lambda g, out, a, *, shape: (g,),  # summed back to a's shape centrally (sum_to_shape)
    text="g is summed back over the broadcast axes", reads_data=False)
TRANSPOSE: Primitive = primitive("transpose", lambda x, *, axes: np.transpose(x, axes),
    lambda g, out, a, *, axes: (TRANSPOSE(g, axes=tuple(np.argsort(axes).tolist())),),
    caption=lambda p: "T" if list(p["axes"]) == sorted(p["axes"])[::-1]
                      else f"transpose{tuple(p['axes'])}",
    text="g is transposed back", reads_data=False)
GETITEM: Primitive = primitive("getitem", lambda x, *, index: x[index],
    # (a, the array scattered into, is the scatter's operand: recorded, the gradient is a
    # function of a, with derivative 0, as PyTorch's nll_loss's)
    lambda g, out, a, *, index: (SCATTER_ADD(g, a, index=index, shape=shape_of(a)),),
    caption=lambda p: _index_text(p["index"]),
    text="g goes back to the selected elements of a, 0 elsewhere", reads_data=False)
SCATTER_ADD: Primitive = primitive("scatter_add", kernels.scatter_add,
    lambda g, out, a, *into, index, shape: (GETITEM(g, index=index), *_no_gradient(into)),
    caption=lambda p: f"scatter{_index_text(p['index'])}",
    text="a gets g at the index (an array scattered into, if given, gets none)")


def _matmul_vjp(g: Any, out: Any, a: Any, b: Any, *,
                needs: tuple[bool, bool] = (True, True)) -> tuple[Any, ...]:
    if len(shape_of(a)) == 2 and len(shape_of(b)) == 2:  # the common case, spelt out
        return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
    # 1-D operands act as a row (left) or a column (right) vector, as in numpy
    a_vec, b_vec = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    a2 = RESHAPE(a, shape=(1, *shape_of(a))) if a_vec else a
    b2 = RESHAPE(b, shape=(*shape_of(b), 1)) if b_vec else b
    sa, sb = shape_of(a2), shape_of(b2)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    g2 = RESHAPE(g, shape=(*batch, sa[-2], sb[-1]))
    da = _unbatch(g2 @ _swap_last(b2), sa, shape_of(a)) if needs[0] else None
    db = _unbatch(_swap_last(a2) @ g2, sb, shape_of(b)) if needs[1] else None
    return da, db


MATMUL: Primitive = primitive("matmul", kernels.matmul,
    _matmul_vjp,
    label="@", needs_mask=True, reads_operands="for the other",
    text="a gets g @ bᵀ,  b gets aᵀ @ g")


def _concatenate_vjp(g: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    bounds = np.cumsum([0] + [shape_of(x)[axis] for x in xs]).tolist()
    before = (slice(None),) * axis
    return tuple(GETITEM(g, index=(*before, slice(s, e))) for s, e in pairwise(bounds))


CONCATENATE: Primitive = primitive("concatenate", kernels.concatenate,
    _concatenate_vjp,
    text="each input gets its own slice of g")
STACK: Primitive = primitive("stack", kernels.stack,
    lambda g, out, *xs, axis: tuple(GETITEM(g, index=(*(slice(None),) * axis, i))
                                    for i in range(len(xs))),
    text="each input gets its own slice of g")
# A rule that selects by its operand's data (relu's `a <= 0`) names that operand after the two
# branches: it is recorded as an operand of the select, so that the gradient a recorded pass
# gives is a function of it (to be differentiated again: derivative 0, as the condition is
# piecewise constant), as PyTorch's threshold_backward(g, a) is; its data is not read, and
# its gradient is none (no number changes)
WHERE: Primitive = primitive("where", kernels.where,
    lambda g, out, a, b, *by, cond: (WHERE(g, 0.0, *by, cond=cond), WHERE(0.0, g, *by, cond=cond),
                                     *_no_gradient(by)),
    text="a gets g where the condition holds, b gets g elsewhere (the operand the condition "
         "was read from, if given, gets none)")

# ---- the softmax family and binary cross-entropy (issue #14, part 3b); `axis` is normalised:
# a tuple of axes, or None for all of them. Each is one entry, not a composition of exp, sum
# and log: the forward subtracts the maximum (no overflow at ±1e4) and the rule is one line.
def _logsumexp_vjp(g: Any, out: Any, a: Any, *, axis: tuple[int, ...] | None,
                   keepdims: bool) -> tuple[Any, ...]:
    # NOTE: softmax(a), from an entry of its own: exp(a − m)/Σ exp(a − m), m the maximum,
    # which keeps its digits at a large m (not exp(a − out)); its rule keeps those of the
    # Hessian (through exp(a − out), the two paths to a added up to p − p² on its diagonal,
    # 0 where p rounds to 1)
    return (_spread(g, shape_of(a), axis) * LOGSUMEXP_SLOPE(a, axis=axis),)


LOGSUMEXP: Primitive = primitive("logsumexp", kernels.logsumexp,
    _logsumexp_vjp,
    caption=lambda p: _reduction_caption("logsumexp", p),
    text="∂out/∂a = softmax(a) = exp(a − out): g is spread over the axes, weighted")
# softmax and log_softmax read 1 − p from SOFTMAX_COMPLEMENT (below), not as 1 − p: their
# Jacobians' diagonals p(1 − p) and 1 − p are then exact where p rounds to 1 (p − p² was 0 where
# the exact value is 8.5e-18, at a = [40, 0, 0]), and so are the second derivatives of
# cross_entropy, which differentiate log_softmax's rule
def _softmax_rule(g: Any, out: Any, a: Any, *, axis: tuple[int, ...] | None) -> tuple[Any]:
    # out = softmax(a): softmax's rule, and logsumexp_slope's (the same function of a)
    return (_softmax_vjp(g, out, SOFTMAX_COMPLEMENT(a, axis=axis), axis),)


SOFTMAX: Primitive = primitive("softmax", kernels.softmax,
    _softmax_rule,
    caption=lambda p: _reduction_caption("softmax", p),
    text="a gets out·(g·(1 − out) − (Σ g·out − g·out)) = out·(g − Σ g·out): the Jacobian "
         "diag(out) − out·outᵀ, applied to g")
LOG_SOFTMAX: Primitive = primitive("log_softmax", kernels.log_softmax,
    # g − p·Σg, as g·(1 − p) − p·(Σg − g): exact on g = e_m, whose Σg − g is 0 at m
    lambda g, out, a, *, axis: (
        g * SOFTMAX_COMPLEMENT(a, axis=axis)
        - EXP(out) * (SUM(g, axis=axis, keepdims=True) - g),),
    caption=lambda p: _reduction_caption("log_softmax", p),
    text="a gets g·(1 − p) − p·(Σ g − g) = g − p·Σ g, p = softmax(a) = exp(out)")
# 1 − softmax(a), an entry of its own for the reason σ′ is one: computed as the sum of the
# other classes' shares where p is near 1, with no cancellation, and differentiated as −softmax
SOFTMAX_COMPLEMENT: Primitive = primitive("softmax_complement", kernels.softmax_complement,
    lambda g, out, a, *, axis: (-_softmax_vjp(g, SOFTMAX(a, axis=axis), out, axis),),
    label="1 − softmax", caption=lambda p: _reduction_caption("1 − softmax", p),
    text="∂out/∂a = −(the softmax's Jacobian): a gets −p·(g·out − (Σ g·p − g·p)), "
         "p = softmax(a) = 1 − out")

# logsumexp's slope softmax(a), an entry of its own for its rule: the softmax's Jacobian in the
# form that keeps its digits (the second derivative of logsumexp)
LOGSUMEXP_SLOPE: Primitive = primitive("logsumexp_slope", kernels.logsumexp_slope,
    _softmax_rule,
    label="logsumexp′", caption=lambda p: _reduction_caption("logsumexp′", p),
    text="out = exp(a − logsumexp(a)) = softmax(a); a gets out·(g·(1 − out) − (Σ g·out − "
         "g·out)): the Jacobian diag(out) − out·outᵀ, applied to g")


def _softmax_vjp(g: Any, p: Any, complement: Any, axis: tuple[int, ...] | None) -> Any:
    """p·(g − Σ g·p) (the softmax's Jacobian diag(p) − p·pᵀ applied to g), as
    p·(g·(1 − p) − (Σ g·p − g·p)) with 1 − p = `complement`: exact on g = e_m, where the
    diagonal p_m·(1 − p_m) is not p_m − p_m²."""
    gp = g * p
    return p * (g * complement - (SUM(gp, axis=axis, keepdims=True) - gp))


def _cross_entropy_vjp(g: Any, out: Any, z: Any, *, labels: Any,
                       reduction: str) -> tuple[Any, ...]:
    # softmax(z) − onehot(label) for each row, times the row's g (g/batch for the mean); the
    # softmax as exp(log_softmax(z)), from the numbers of the forward (the fast pass keeps them)
    rows = len(labels)
    onehot = np.zeros(shape_of(z))
    onehot[np.arange(rows), labels] = 1.0
    if reduction == "none":
        g = RESHAPE(g, shape=(rows, 1))
    elif reduction == "mean":
        g = g * (1.0 / rows)
    return (g * (EXP(LOG_SOFTMAX(z, axis=(1,))) - onehot),)


# log_softmax, the pick of each label and the reduction of `losses.cross_entropy`, fused: one
# node instead of four, and a one-line rule (labels: integer class indices, one per row)
CROSS_ENTROPY: Primitive = primitive("cross_entropy", kernels.cross_entropy,
    _cross_entropy_vjp,
    text="∂out/∂z = softmax(z) − onehot(label), times g (g/batch for the mean)")


def _bce_vjp(g: Any, out: Any, p: Any, y: Any) -> tuple[Any, ...]:
    # NOTE: d/dp = (p − y) / (p·(1 − p)), its denominator kept at least 1e-12 (PyTorch's rule):
    # at p = 0 or 1 the clamped log is flat, but a wrong prediction must still be pushed back.
    # The slope is an entry of its own (BCE_SLOPE), as σ′ is: see _bce_slope_vjp
    slope = BCE_SLOPE(p, y)
    if type(p) is float:  # numpy's IEEE log(0) = -inf, where math.log raises (y may be an array)
        p = np.float64(p)
    # d/dy = log(1 − p) − log(p), unclamped (±inf at p = 0 or 1), as PyTorch's
    return g * slope, g * (LOG(1.0 - p) - LOG(p))


def _bce_slope_vjp(g: Any, out: Any, p: Any, y: Any) -> tuple[Any, ...]:
    # (p − y)/(p(1 − p)) = (1 − y)/(1 − p) − y/p, so d/dp = y/p² + (1 − y)/(1 − p)², two terms
    # ≥ 0 for y in [0, 1]; the quotient rule through div gave 1/pq − (p − y)(1 − 2p)/pq², two
    # terms of about 1/p that cancel as p → 0 or 1 (at p = 1e-9, y = 0: 1.00000012, for
    # 1.000000002)
    # NOTE: where the floor holds (p(1 − p) < ε, ε = 1e-12 as a float32: p within about 1e-12
    # of 0 or 1, or outside [0, 1]) the slope computed is (p − y)/ε, and its derivatives are
    # that function's: 1/ε in p (y/p² + (1 − y)/(1 − p)² would be inf at p = 0 or 1, and
    # would disagree with the differences of the first derivative) and −1/ε in y
    floored = _where_data(p, lambda d: d * (1.0 - d) < kernels.BCE_EPSILON)
    if floored is False:
        return g * _bce_curvature(p, y), -g / (p * (1.0 - p))
    # the branches not taken read p as 0.5: no 1/0 nor inf·0 there, in this rule or in its
    # own derivatives (a where sends 0 to the branch not taken, and 0·inf is nan)
    inside = WHERE(0.5, p, cond=floored)
    pq = WHERE(kernels.BCE_EPSILON, inside * (1.0 - inside), cond=floored)
    d_p = WHERE(1.0 / kernels.BCE_EPSILON, _bce_curvature(inside, y), cond=floored)
    return g * d_p, -g / pq


def _bce_curvature(p: Any, y: Any) -> Any:
    """y/p² + (1 − y)/(1 − p)², d²bce/dp² away from the floor (1 − p is exact near 1)."""
    q = 1.0 - p
    return y / (p * p) + (1.0 - y) / (q * q)


BINARY_CROSS_ENTROPY: Primitive = primitive("binary_cross_entropy", kernels.binary_cross_entropy,
    _bce_vjp,
    label="bce", text="∂out/∂p = (p − y)/max(p(1 − p), 1e-12),  ∂out/∂y = log(1 − p) − log(p)")
# bce's slope in p, an entry of its own for the reason σ′ is one (above): its derivative, the
# second of the loss, is then a sum of positive terms, not a quotient rule's difference
BCE_SLOPE: Primitive = primitive("bce_slope", kernels.bce_slope,
    _bce_slope_vjp,
    label="∂bce/∂p",
    text="∂out/∂p = y/p² + (1 − y)/(1 − p)²  (1/ε where p(1 − p) < ε = 1e-12),  "
         "∂out/∂y = −1/max(p(1 − p), 1e-12)")
# ---- more functions, bounds and reductions: sin cos log1p expm1 clip maximum minimum min
SIN: Primitive = primitive("sin", kernels.elementwise(math.sin, np.sin),
    lambda g, out, a: (g * COS(a),),
    text="∂out/∂a = cos(a)")
COS: Primitive = primitive("cos", kernels.elementwise(math.cos, np.cos),
    lambda g, out, a: (-g * SIN(a),),
    text="∂out/∂a = −sin(a)")
LOG1P: Primitive = primitive("log1p", kernels.elementwise(math.log1p, np.log1p),
    lambda g, out, a: (g / (1.0 + a),),  # (1 + a is exact near −1, where the slope is large)
    text="∂out/∂a = 1/(1 + a)")
EXPM1: Primitive = primitive("expm1", kernels.elementwise(math.expm1, np.expm1),
    lambda g, out, a: (g * EXP(a),),  # eᵃ, not out + 1: that is 0 once eᵃ < 1e-16
    text="∂out/∂a = exp(a) = out + 1")
CLIP: Primitive = primitive("clip", kernels.clip,
    # NOTE: exactly at a bound the slope is 1 (as PyTorch's clamp: min ≤ a ≤ max); at nan 0
    lambda g, out, a, *, min, max: (WHERE(g, 0.0, a, cond=_within(a, min, max)),),
    caption=lambda p: _clip_caption(p),
    text="∂out/∂a = 1 where min ≤ a ≤ max (the bounds included), 0 outside")


def _within(a: Any, low: float | None, high: float | None) -> Any:
    """Where min ≤ a ≤ max (a missing bound is ∓inf); False at nan."""
    x = data_of(a)
    return (x >= (-math.inf if low is None else low)) & (x <= (math.inf if high is None else high))


def _extremum_share(g: Any, tie: Any, loses: Any, operand: Any) -> Any:
    # NOTE: tied operands split g evenly (as PyTorch's maximum and minimum); where either is
    # nan, neither loses and both get g (as PyTorch). (`operand`, whose share it is: see WHERE)
    return WHERE(0.0, WHERE(0.5 * g, g, cond=tie) if np.any(tie) else g, operand, cond=loses)


def _maximum_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    x, y = data_of(a), data_of(b)
    return _extremum_share(g, x == y, x < y, a), _extremum_share(g, x == y, x > y, b)


def _minimum_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    x, y = data_of(a), data_of(b)
    return _extremum_share(g, x == y, x > y, a), _extremum_share(g, x == y, x < y, b)


MAXIMUM: Primitive = primitive("maximum", kernels.maximum,
    _maximum_vjp,
    text="∂out/∂a = 1 where a > b, ½ where a = b, 0 where a < b (and b alike)")
MINIMUM: Primitive = primitive("minimum", kernels.minimum,
    _minimum_vjp,
    text="∂out/∂a = 1 where a < b, ½ where a = b, 0 where a > b (and b alike)")
MIN: Primitive = primitive("min", lambda x, *, axis, keepdims: np.min(x, axis, keepdims=keepdims),
    _max_vjp,  # (max's rule: the gradient goes to the elements equal to the result)
    caption=lambda p: _reduction_caption("min", p),
    text="∂out/∂a = 1 at the minimum (shared evenly among ties), 0 elsewhere")
# fmt: on

fast.read_table(REGISTRY)  # (the fast executor inlines a few of these rules: as declared here)


# ---- helpers of the rules above


def _spread(g: Any, shape: tuple[int, ...], axis: tuple[int, ...] | None) -> Any:
    """Copy a reduction's gradient back over the axes it reduced."""
    kept = kernels.kept_shape(shape, axis)
    if isinstance(g, Value):
        return BROADCAST_TO(RESHAPE(g, shape=kept), shape=shape)
    spread = np.empty(shape)  # a fresh array, which the engine can keep as a .grad uncopied
    spread[...] = np.reshape(g, kept)
    return spread


def _no_gradient(operands: tuple[Any, ...]) -> tuple[None, ...]:
    """No gradient for each of `operands` (those a select or a scatter only names)."""
    return (None,) * len(operands)


def _where_data(x: Any, test: Any) -> Any:
    """`test` on the data of `x`: a bool for a number, a bool array for a tensor; False when
    it holds nowhere (so a rule can skip a select)."""
    mask = test(np.asarray(data_of(x)))
    if not mask.any():
        return False
    return bool(mask) if mask.ndim == 0 else mask


def _unbatch(x: Any, shape: tuple[int, ...], final: tuple[int, ...]) -> Any:
    """Undo the batch broadcasting of `x` down to `shape`, then reshape to `final`."""
    x = sum_to_shape(x, shape)
    return x if shape_of(x) == final else RESHAPE(x, shape=final)


def _swap_last(x: Any) -> Any:
    axes = list(range(len(shape_of(x))))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return TRANSPOSE(x, axes=tuple(axes))


# ---- captions: how a graph names an op with its params


def _number(x: float) -> str:
    return f"{x:g}"


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)

    def one(part: Any) -> str:
        if isinstance(part, slice):  # as written: 1:, :3, :, ::2 (the step's colon if any)
            ends = (part.start, part.stop) if part.step is None else \
                (part.start, part.stop, part.step)
            return ":".join("" if v is None else str(v) for v in ends)
        if part is Ellipsis:
            return "..."
        if isinstance(part, np.ndarray):
            return str(part.tolist()).replace(" ", "")
        return str(part)

    return "[" + ", ".join(one(p) for p in parts) + "]"


def _clip_caption(params: dict[str, Any]) -> str:
    low, high = params.get("min"), params.get("max")
    if low is not None and high is not None:
        return f"clip({_number(low)}, {_number(high)})"
    if low is not None:
        return f"clip(min={_number(low)})"
    return "clip" if high is None else f"clip(max={_number(high)})"


def _reduction_caption(name: str, params: dict[str, Any]) -> str:
    axis = params.get("axis")
    axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    shown = "" if not axes else f"axis={axes[0] if len(axes) == 1 else axes}"
    if params.get("keepdims"):
        shown = f"{shown}, keepdims" if shown else "keepdims"
    return f"{name}({shown})" if shown else name
