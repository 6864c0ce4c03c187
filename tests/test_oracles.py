"""Forward values and derivatives against references that share no code with the engine.

Gradient checks compare a rule with finite differences of the op's *own* forward, so a wrong
forward with a consistent rule (``mean`` dividing by the wrong count, ``log(x) + 0.001``)
passes them. Here every primitive's forward, and the compositions built from them, are
compared with numpy or with a 60-digit `decimal` reference, on random shapes and axes; and
every elementwise derivative is compared, over the op's whole domain (|x| up to 1e4 for
exp-like ops, down to 1e-300 for log, sqrt and division, negative denominators and bases),
with 60-digit central differences of that reference, where float64 differences cannot resolve
it (the slope of tanh at 20 is 1.7e-17).
"""

from __future__ import annotations

import decimal
import itertools
import math
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value, concatenate, engine, kernels, nn, ops, stack, where
from tinygrad_edu.engine import apply, gradients
from tinygrad_edu.testing.op_info import OP_INFO
from tinygrad_edu.testing.strategies import broadcastable_shapes

CONTEXT = decimal.Context(prec=60, Emax=10**6, Emin=-(10**6))
inf, nan = math.inf, math.nan
PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
Ref = Callable[..., Decimal]


def _pow(a: Decimal, b: Decimal) -> Decimal:
    if a > 0:
        return CONTEXT.exp(CONTEXT.multiply(b, CONTEXT.ln(a)))
    if a < 0 and b == b.to_integral_value():
        magnitude = _pow(-a, b)
        return -magnitude if int(b) % 2 else magnitude
    raise ValueError(f"no real reference for {a} ** {b}")


def _sigmoid(a: Decimal) -> Decimal:
    return 1 / (1 + CONTEXT.exp(-a))


def _expm1(a: Decimal) -> Decimal:
    """e^a − 1 without the cancellation near 0."""
    if abs(a) > Decimal("1e-15"):
        return CONTEXT.exp(a) - 1
    return a + a**2 / 2 + a**3 / 6 + a**4 / 24 + a**5 / 120


def _log1p(t: Decimal) -> Decimal:
    """log(1 + t) without the cancellation near 0."""
    if abs(t) > Decimal("1e-15"):
        return CONTEXT.ln(1 + t)
    return t - t**2 / 2 + t**3 / 3 - t**4 / 4 + t**5 / 5


def _tanh(a: Decimal) -> Decimal:
    if a < 0:
        return -_tanh(-a)
    e = _expm1(2 * a)
    return e / (e + 2)


def _slope(a: Decimal, below: Decimal) -> Decimal:
    return Decimal(1) if a > 0 else below


def _arctan_of_inverse(n: int) -> Decimal:
    """arctan(1/n) by its Taylor series, in the current context."""
    x = Decimal(1) / n
    term, total, k = x, x, 1
    while True:
        term = -term / (n * n)
        step = term / (2 * k + 1)
        if total + step == total:
            return total
        total, k = total + step, k + 1


def _pi(digits: int) -> Decimal:
    """π to `digits` digits, by Machin's formula π = 16·arctan(1/5) − 4·arctan(1/239)."""
    with decimal.localcontext() as context:
        context.prec = digits + 10
        return 16 * _arctan_of_inverse(5) - 4 * _arctan_of_inverse(239)


PI_400 = _pi(400)  # enough to reduce 1e300 (an exact 301-digit integer) modulo 2π


def _sin_cos(a: Decimal) -> tuple[Decimal, Decimal]:
    """sin(a), cos(a) to 60 digits for |a| ≤ 1e308: a is reduced modulo 2π with 400 digits of
    π, then both Taylor series are summed."""
    with decimal.localcontext() as context:
        context.prec, context.Emax, context.Emin = 420, 10**6, -(10**6)
        turns = (a / (2 * PI_400)).to_integral_value()
        r = a - turns * 2 * PI_400
        context.prec = 80
        r = +r
        sin, cos, term, k = Decimal(0), Decimal(0), Decimal(1), 0
        while True:  # term = r^k / k!
            if k % 2:
                sin += term if k % 4 == 1 else -term
            else:
                cos += term if k % 4 == 0 else -term
            k += 1
            term = term * r / k
            if abs(term) < Decimal("1e-75") and k > 2:
                return +sin, +cos


def _clip(a: Decimal, low: float | None, high: float | None) -> Decimal:
    if low is not None and a < Decimal(low):
        return Decimal(low)
    return Decimal(high) if high is not None and a > Decimal(high) else a


def _inside(a: Decimal, low: float | None, high: float | None) -> Decimal:
    """clip's slope: 1 between the bounds, at them too (as PyTorch's clamp)."""
    return Decimal(int((low is None or a >= Decimal(low)) and (high is None or a <= Decimal(high))))


def _larger(a: Decimal, b: Decimal) -> Decimal:
    """d max(a, b)/da: 1, ½ at a tie, 0."""
    return Decimal(1) if a > b else Decimal("0.5") if a == b else Decimal(0)


# 60-digit references of every elementwise primitive (normal_cdf: a float one, below)
REFERENCE: dict[str, Ref] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda a: -a,
    "pow_const": lambda a, *, exponent: _pow(a, Decimal(exponent)),
    "pow": _pow,
    "pow_exponent_slope": lambda a, b: _pow(a, b) * CONTEXT.ln(a),
    "exp": lambda a: CONTEXT.exp(a),
    "log": lambda a: CONTEXT.ln(a),
    "sqrt": lambda a: CONTEXT.sqrt(a),
    "sign": lambda a: Decimal((a > 0) - (a < 0)),
    "abs": lambda a: abs(a),
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "sigmoid_slope": lambda a: _sigmoid(a) * _sigmoid(-a),
    "sech2": lambda a: 4 / (CONTEXT.exp(a) + CONTEXT.exp(-a)) ** 2,
    "step": lambda a: Decimal(int(a > 0)),
    "relu": lambda a: max(a, Decimal(0)),
    "leaky_relu": lambda a, *, negative_slope: a if a > 0 else Decimal(negative_slope) * a,
    "elu": lambda a, *, alpha: a if a > 0 else Decimal(alpha) * _expm1(a),
    "softplus": lambda a: max(a, Decimal(0)) + _log1p(CONTEXT.exp(-abs(a))),
    "binary_cross_entropy": lambda p, y: -(y * CONTEXT.ln(p) + (1 - y) * _log1p(-p)),
    "bce_slope": lambda p, y: (p - y) / (p * (1 - p)),
    "sin": lambda a: _sin_cos(a)[0],
    "cos": lambda a: _sin_cos(a)[1],
    "log1p": _log1p,
    "expm1": _expm1,
    "clip": lambda a, *, min, max: _clip(a, min, max),
    "maximum": lambda a, b: max(a, b),
    "minimum": lambda a, b: min(a, b),
}
FLOAT_REFERENCE: dict[str, Callable[..., float]] = {  # a float64 reference, good to an ulp or two
    "normal_cdf": lambda a: 0.5 * math.erfc(-a / math.sqrt(2.0)),
}
# The partial derivatives, textbook formulas in forms without cancellation (60 digits); they are
# themselves checked against central differences of REFERENCE (test_derivative_table_is_right)
Partials = Callable[..., tuple[Decimal, ...]]
DERIVATIVE: dict[str, Partials] = {
    "add": lambda a, b: (Decimal(1), Decimal(1)),
    "sub": lambda a, b: (Decimal(1), Decimal(-1)),
    "mul": lambda a, b: (b, a),
    "div": lambda a, b: (1 / b, -a / (b * b)),
    "neg": lambda a: (Decimal(-1),),
    "pow_const": lambda a, *, exponent: (
        Decimal(exponent) * _pow(a, Decimal(exponent) - 1) if exponent else Decimal(0),),
    "pow": lambda a, b: (b * _pow(a, b - 1) if b else Decimal(0),
                         _pow(a, b) * CONTEXT.ln(a) if a > 0 else Decimal("nan")),
    # d/da of a^b·log a = b·a^(b−1)·log a + a^b/a, as one product
    "pow_exponent_slope": lambda a, b: (_pow(a, b - 1) * (1 + b * CONTEXT.ln(a)),
                                        _pow(a, b) * CONTEXT.ln(a) ** 2),
    "exp": lambda a: (CONTEXT.exp(a),),
    "log": lambda a: (1 / a,),
    "sqrt": lambda a: (1 / (2 * CONTEXT.sqrt(a)),),
    "sign": lambda a: (Decimal(0),),
    "abs": lambda a: (Decimal((a > 0) - (a < 0)),),
    "sigmoid": lambda a: (_sigmoid(a) * _sigmoid(-a),),
    "tanh": lambda a: (4 / (CONTEXT.exp(a) + CONTEXT.exp(-a)) ** 2,),
    # σ″ = −σ′·tanh(a/2), (sech²)′ = −2·sech²·tanh: products, no cancellation near 0
    "sigmoid_slope": lambda a: (-_sigmoid(a) * _sigmoid(-a) * _tanh(a / 2),),
    "sech2": lambda a: (-8 * _tanh(a) / (CONTEXT.exp(a) + CONTEXT.exp(-a)) ** 2,),
    "step": lambda a: (Decimal(0),),
    "relu": lambda a: (_slope(a, Decimal(0)),),
    "leaky_relu": lambda a, *, negative_slope: (_slope(a, Decimal(negative_slope)),),
    "elu": lambda a, *, alpha: (Decimal(1) if a > 0 else Decimal(alpha) * CONTEXT.exp(a),),
    "softplus": lambda a: (_sigmoid(a),),
    "normal_cdf": lambda a: (CONTEXT.exp(-a * a / 2) / CONTEXT.sqrt(2 * PI),),
    "binary_cross_entropy": lambda p, y: ((p - y) / (p * (1 - p)), _log1p(-p) - CONTEXT.ln(p)),
    # d/dp of (1 − y)/(1 − p) − y/p: a sum of terms ≥ 0 for y in [0, 1]
    "bce_slope": lambda p, y: (y / (p * p) + (1 - y) / ((1 - p) * (1 - p)),
                               -1 / (p * (1 - p))),
    "sin": lambda a: (_sin_cos(a)[1],),
    "cos": lambda a: (-_sin_cos(a)[0],),
    "log1p": lambda a: (1 / (1 + a),),
    "expm1": lambda a: (CONTEXT.exp(a),),
    "clip": lambda a, *, min, max: (_inside(a, min, max),),
    "maximum": lambda a, b: (_larger(a, b), _larger(b, a)),
    "minimum": lambda a, b: (_larger(b, a), _larger(a, b)),
}

# Where each input is drawn from: (low, high, smallest magnitude), OP_INFO's full_domain; the
# result and the derivative are finite there (and not subnormal, where relative accuracy ends).
FULL_DOMAIN = {name: info.full_domain for name, info in OP_INFO.items() if info.elementwise}
ELEMENTWISE = [
    pytest.param(name, params, id=f"{name}{params or ''}")
    for name in ops.REGISTRY
    if OP_INFO[name].elementwise
    for params in OP_INFO[name].examples
]


def test_every_elementwise_primitive_has_a_reference() -> None:
    names = {name for name in ops.REGISTRY if OP_INFO[name].elementwise}
    assert names == set(FULL_DOMAIN)
    assert names == set(REFERENCE) | set(FLOAT_REFERENCE) == set(DERIVATIVE)


@st.composite
def wide_floats(draw: st.DrawFn, low: float, high: float, tiny: float) -> float:
    """Floats of [low, high], |x| ≥ tiny, spread over every order of magnitude."""
    signs = [s for s, bound in ((1.0, high), (-1.0, -low)) if bound >= tiny]
    sign = draw(st.sampled_from(signs))
    top = math.log10(high if sign > 0 else -low)
    exponent = draw(st.floats(math.log10(tiny), top))
    mantissa = draw(st.floats(1.0, 10.0))
    return float(np.clip(sign * mantissa * 10.0**exponent, low, high))


def draw_point(data: st.DataObject, name: str, params: dict[str, Any]) -> list[float]:
    ranges = FULL_DOMAIN[name]
    point = [data.draw(wide_floats(*ranges[0]), label="input 0")]
    integral = name == "pow_const" and float(params["exponent"]).is_integer()
    if name == "pow_const" and not integral:
        point[0] = abs(point[0])
    for i, (low, high, tiny) in enumerate(ranges[1:], start=1):
        if name == "pow" and point[0] < 0:  # a negative base: integer exponents
            point.append(float(data.draw(st.integers(int(low), int(high)), label="exponent")))
        else:
            point.append(data.draw(wide_floats(low, high, tiny), label=f"input {i}"))
    return point


def reference_value(name: str, point: list[float], params: dict[str, Any]) -> float:
    if name in FLOAT_REFERENCE:
        return FLOAT_REFERENCE[name](*point, **params)
    with decimal.localcontext(CONTEXT):
        return float(REFERENCE[name](*map(Decimal, point), **params))


def reference_derivative(name: str, point: list[float], i: int, params: dict[str, Any]) -> float:
    """d f / d input i, from the 60-digit derivative table."""
    with decimal.localcontext(CONTEXT):
        return float(DERIVATIVE[name](*map(Decimal, point), **params)[i])


def assert_close(actual: Any, expected: float, rtol: float, what: str,
                 atol: float = 1e-300) -> None:
    assert math.isclose(float(actual), expected, rel_tol=rtol, abs_tol=atol), (
        f"{what}: {float(actual)!r}, the reference {expected!r}")


@pytest.mark.parametrize(("name", "params"), ELEMENTWISE)
@given(data=st.data())
def test_derivative_table_is_right(name: str, params: dict[str, Any],
                                   data: st.DataObject) -> None:
    """The reference derivatives agree with central differences of the reference forwards."""
    point = []
    for i in range(len(FULL_DOMAIN[name])):
        low, high = OP_INFO[name].input_range(i)
        kinks = OP_INFO[name].kinks_for(params) if i == 0 else ()  # (clip's bounds)

        def away(x: float, kinks: tuple[float, ...] = kinks) -> bool:
            return abs(x) > 1e-3 and all(abs(x - k) > 1e-3 for k in kinks)

        point.append(data.draw(st.floats(low, high).filter(away)))
    for i in range(len(point)):
        expected = reference_derivative(name, point, i, params)
        if name in FLOAT_REFERENCE:
            f, h = FLOAT_REFERENCE[name], 1e-6
            moved = [[p + (h * sign if k == i else 0.0) for k, p in enumerate(point)]
                     for sign in (1.0, -1.0)]
            assert_close((f(*moved[0], **params) - f(*moved[1], **params)) / (2 * h), expected,
                         1e-6, f"d {name}{point}")
            continue
        with decimal.localcontext(CONTEXT):
            x = [Decimal(p) for p in point]
            step = Decimal("1e-20")
            up = [p + step if k == i else p for k, p in enumerate(x)]
            down = [p - step if k == i else p for k, p in enumerate(x)]
            g = REFERENCE[name]
            slope = (g(*up, **params) - g(*down, **params)) / (2 * step)
        # (a zero derivative, bce's at p = y, comes out of the differences as O(step²))
        assert_close(float(slope), expected, 1e-15, f"d {name}{point} / d input {i}",
                     atol=1e-30)


@pytest.mark.parametrize(("name", "params"), ELEMENTWISE)
@given(data=st.data())
def test_elementwise_forward_and_derivative_over_the_whole_domain(
        name: str, params: dict[str, Any], data: st.DataObject) -> None:
    """Scalar and tensor paths, value and every partial derivative, against 60 digits."""
    prim = ops.REGISTRY[name]
    points = [draw_point(data, name, params) for _ in range(3)]
    columns = [np.array(column) for column in zip(*points, strict=True)]
    tensors = [Value(c) for c in columns]
    out = prim(*tensors, **params)
    tensor_grads = gradients(out.sum(), tensors)
    for k, point in enumerate(points):
        expected = reference_value(name, point, params)
        scalars = [Value(p) for p in point]
        result = prim(*scalars, **params)
        assert_close(result.data, expected, 1e-13, f"{name}{point} (scalar path)")
        assert_close(out.data[k], expected, 1e-13, f"{name}{point} (tensor path)")
        by_gradients = gradients(result, scalars)
        result.backward()
        for i, scalar in enumerate(scalars):
            if name == "pow" and i == 1 and point[0] < 0:
                assert math.isnan(scalar.grad), "d(a**b)/db for a < 0 is nan (as PyTorch)"
                continue
            slope = reference_derivative(name, point, i, params)
            what = f"d {name}{point} / d input {i}"
            assert_close(by_gradients[i], slope, 1e-9, f"{what} (gradients())")
            assert_close(scalar.grad, slope, 1e-9, f"{what} (backward())")
            assert_close(tensor_grads[i][k], slope, 1e-9, f"{what} (tensor path)")


@pytest.mark.parametrize(("name", "params"), ELEMENTWISE)
@given(data=st.data())
def test_elementwise_forward_on_broadcast_tensors(name: str, params: dict[str, Any],
                                                  data: st.DataObject) -> None:
    prim = ops.REGISTRY[name]
    shapes = data.draw(broadcastable_shapes(len(FULL_DOMAIN[name])), label="shapes")
    arrays = []
    for i, shape in enumerate(shapes):
        low, high = OP_INFO[name].input_range(i)
        arrays.append(data.draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high)),
                                label=f"input {i}"))
    out = prim(*(Value(a) for a in arrays), **params)
    assert out.shape == np.broadcast_shapes(*shapes)
    for index in np.ndindex(out.shape):
        point = [float(np.broadcast_to(a, out.shape)[index]) for a in arrays]
        if name == "pow_const" and point[0] < 0 and not float(params["exponent"]).is_integer():
            continue
        if name in ("log", "sqrt", "div") and 0.0 in point:
            continue
        assert_close(np.asarray(out.data)[index], reference_value(name, point, params), 1e-13,
                     f"{name}{point}")


# ---- pow at a zero base (a = ±0, b ≥ 0), where d(a**b)/db is 0 by the convention ----------

# b: the limits as a → 0 of ∂E/∂a = a^(b−1)·(1 + b·log a) and ∂E/∂b = a^b·log²(a), E = a^b·log a
# (pow_exponent_slope's partials, and so pow's d2/db da and d2/db2): 1/a and log²(a) at b = 0
ZERO_BASE_LIMITS = {0.0: (inf, inf), 5e-324: (-inf, 0.0), 0.5: (-inf, 0.0), 1.0: (-inf, 0.0),
                    1.5: (0.0, 0.0), 2.0: (0.0, 0.0), 40.0: (0.0, 0.0), inf: (0.0, 0.0)}


def _zero_base_partials(name: str, a: float, b: float, tensor: bool) -> list[float]:
    """pow_exponent_slope's partials at (a, b), or pow's d2/db da and d2/db2 there: on a
    scalar, or first in a tensor, beside an ordinary element and (0, −1), whose partials are
    +inf (nan there would be an inf of some rule times the 0 a branch not taken gets)."""
    partials = _partials_in_b(name, [Value(np.array([a, 1.5, 0.0]) if tensor else a),
                                     Value(np.array([b, 0.75, -1.0]) if tensor else b)])
    if tensor:
        assert [float(h[2]) for h in partials] == [inf, inf], partials
    return [float(np.reshape(h, -1)[0]) for h in partials]


def _partials_in_b(name: str, leaves: list[Value]) -> list[Any]:
    """pow_exponent_slope's partials at `leaves`, or pow's d2/db da and d2/db2 there (from a
    recorded first pass, whose first derivatives must be the plain ones bit for bit)."""
    out = apply(ops.REGISTRY[name], *leaves)
    root = out.sum() if out.shape else out
    if name == "pow":
        recorded = gradients(root, leaves, create_graph=True)
        for plain, first in zip(gradients(root, leaves), recorded, strict=True):
            assert_same_bits(first.data, plain)
        d_b = recorded[1].sum() if recorded[1].shape else recorded[1]
        return list(gradients(d_b, leaves))
    assert float(np.reshape(out.data, -1)[0]) == 0.0  # (the convention)
    root.backward()
    partials = [leaf.grad for leaf in leaves]
    for h, by_gradients in zip(partials, gradients(root, leaves), strict=True):
        assert_same_bits(h, by_gradients)
    return partials


@pytest.mark.parametrize("name", ["pow", "pow_exponent_slope"])
def test_derivatives_in_b_at_a_zero_base_are_the_limits(name: str) -> None:
    """At a = ±0, b ≥ 0 (b = -0.0 too), pow_exponent_slope's partials, pow's second derivatives
    in b (d2/db da, d2/db2), are the limits as a → 0, ±inf or 0: +inf at (0, 0), −inf at
    (0, 1) (they were 0, the convention's 0 a constant), 0 where the formulas give 0·inf; on
    a scalar and in a tensor (and pow's recorded first derivatives are the plain ones)."""
    for (b, limits), a, tensor in itertools.product(ZERO_BASE_LIMITS.items(), (0.0, -0.0),
                                                    (False, True)):
        for b_ in (b, -b) if b == 0.0 else (b,):
            partials = _zero_base_partials(name, a, b_, tensor)
            assert all(p == e for p, e in zip(partials, limits, strict=True)), (
                f"{name} at ({a}, {b_}), {'tensor' if tensor else 'scalar'}: {partials}, "
                f"the limits {limits}")


@pytest.mark.parametrize("name", ["pow", "pow_exponent_slope"])
@pytest.mark.parametrize("shapes", [((), (1,)), ((1,), ()), ((), (2, 1))])
def test_the_limits_where_one_operand_is_a_scalar(name: str, shapes: tuple[Any, ...]) -> None:
    """The same limits with one operand a scalar and the other a tensor (a scalar zero base's
    log raises in Python floats, and the rule rerun in IEEE arithmetic keeps the tensor's
    shape: it was a TypeError, converting the tensor's share to a float)."""
    for (b, limits), a in itertools.product(ZERO_BASE_LIMITS.items(), (0.0, -0.0)):
        leaves = [Value(np.full(shape, x) if shape else x)
                  for shape, x in zip(shapes, (a, b), strict=True)]
        partials = _partials_in_b(name, leaves)
        for leaf, h in zip(leaves, partials, strict=True):
            assert np.shape(h) == leaf.shape
        # (a scalar's share is the sum of equal ones, which keeps a limit of 0 or ±inf)
        flat = [float(np.reshape(h, -1)[0]) for h in partials]
        assert all(p == e for p, e in zip(flat, limits, strict=True)), (
            f"{name} at ({a}, {b}), shapes {shapes}: {flat}, the limits {limits}")


# pow's points and upstream gradients for the bit-for-bit test: zero bases, specials, any g
POW_SPECIALS = [0.0, -0.0, 5e-324, 0.5, 1.0, 1.5, 2.0, -1.0, -2.0, 1e308, inf, -inf, nan]
UPSTREAM_SPECIALS = [1.0, -2.0, 0.0, -0.0, inf, -inf, nan]


def test_pow_first_derivatives_are_the_rule_on_data_bit_for_bit() -> None:
    """Regression test (it passes on the rule before pow_exponent_slope): pow's first
    derivatives, by the plain pass and recorded (whose 0 at a zero base is now a function of
    a and b), are its rule's on data bit for bit, the convention's +0.0 included (not g·0 =
    −0.0, nor inf·0 = nan), at every pair of special bases and exponents and every special
    upstream gradient: each on a scalar, and all in one tensor."""
    grid = np.array(list(itertools.product(POW_SPECIALS, POW_SPECIALS, UPSTREAM_SPECIALS))).T
    cases: list[tuple[Any, ...]] = [(grid[0], grid[1], grid[2])]
    cases += [tuple(map(float, point)) for point in grid.T]
    for a, b, g in cases:
        v, w = [Value(a), Value(b)], [Value(a), Value(b)]
        out = apply(ops.POW, *v)
        with np.errstate(all="ignore"):
            on_data = engine.rule_on_data(ops.POW, g, out)
        plain = gradients((out * g).sum(), v)
        recorded = gradients((apply(ops.POW, *w) * g).sum(), w, create_graph=True)
        for k in range(2):
            _same_bits_but_nan_signs(plain[k], on_data[k])
            _same_bits_but_nan_signs(recorded[k].data, on_data[k])


def _same_bits_but_nan_signs(actual: Any, expected: Any) -> None:
    """`assert_same_bits`, any nan for a nan (a product with a nan g keeps the sign of one
    of its nans or the other: the rule on data and the passes differ there since before
    pow_exponent_slope, at b = ±inf)."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert np.array_equal(np.isnan(a), np.isnan(e)), (a, e)
    assert_same_bits(np.where(np.isnan(a), 0.0, a), np.where(np.isnan(e), 0.0, e))


# ---- structural primitives and compositions, against numpy ---------------------------------


def arrays(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    return hnp.arrays(np.float64, shape, elements=st.floats(-10.0, 10.0))


def draw_axis(draw: st.DrawFn, ndim: int) -> Any:
    """None, one axis (maybe negative) or a tuple of axes, of an array of `ndim` dimensions."""
    choices: list[Any] = [None]
    if ndim:
        choices += [draw(st.integers(-ndim, ndim - 1)),
                    tuple(draw(st.sets(st.integers(0, ndim - 1), min_size=1)))]
    return draw(st.sampled_from(choices))


@st.composite
def array_and_axis(draw: st.DrawFn, min_dims: int = 0) -> tuple[Any, Any, bool]:
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, max_side=4))
    x = draw(arrays(shape))
    return x, draw_axis(draw, len(shape)), draw(st.booleans())


def same(actual: Any, expected: Any, rtol: float = 1e-13) -> None:
    actual = np.asarray(actual.data if isinstance(actual, Value) else actual)
    assert actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-12)


@given(case=array_and_axis())
def test_sum_forward(case: tuple[Any, Any, bool]) -> None:
    x, axis, keepdims = case
    same(Value(x).sum(axis, keepdims), np.sum(x, axis=axis, keepdims=keepdims))


@given(case=array_and_axis())
def test_mean_forward(case: tuple[Any, Any, bool]) -> None:
    x, axis, keepdims = case
    same(Value(x).mean(axis, keepdims), np.mean(x, axis=axis, keepdims=keepdims))


@given(case=array_and_axis(min_dims=1))
def test_max_forward(case: tuple[Any, Any, bool]) -> None:
    x, axis, keepdims = case
    same(Value(x).max(axis, keepdims), np.max(x, axis=axis, keepdims=keepdims))


@given(x=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4).flatmap(arrays), data=st.data())
def test_reshape_transpose_broadcast_to_forward(x: Any, data: st.DataObject) -> None:
    same(Value(x).reshape(-1), np.reshape(x, -1))
    same(Value(x).reshape(x.shape[::-1]), np.reshape(x, x.shape[::-1]))
    axes = tuple(data.draw(st.permutations(range(x.ndim)), label="axes"))
    same(Value(x).transpose(axes), np.transpose(x, axes))
    same(Value(x).T, x.T)
    target = data.draw(hnp.broadcastable_shapes(x.shape, max_dims=4).map(
        lambda s: np.broadcast_shapes(s, x.shape)), label="target")
    same(apply(ops.BROADCAST_TO, Value(x), shape=target), np.broadcast_to(x, target))


@given(x=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).flatmap(arrays), data=st.data())
def test_getitem_and_scatter_add_forward(x: Any, data: st.DataObject) -> None:
    n = x.shape[0]
    index = data.draw(st.one_of(
        st.integers(-n, n - 1),
        st.lists(st.integers(0, n - 1), min_size=1, max_size=5),
        st.tuples(st.integers(0, n - 1), st.integers(0, n)).map(lambda t: slice(*sorted(t))),
    ), label="index")
    if isinstance(index, list):
        index = np.array(index)
    same(Value(x)[index], x[index])
    picked = x[index]
    expected = np.zeros(x.shape)
    np.add.at(expected, kernels.normalize_index(index), picked)
    same(apply(ops.SCATTER_ADD, Value(picked), index=kernels.normalize_index(index),
               shape=x.shape), expected)


@given(data=st.data())
def test_matmul_forward(data: st.DataObject) -> None:
    n, k, m, b = (data.draw(st.integers(1, 3)) for _ in range(4))
    left, right = data.draw(st.sampled_from([
        ((k,), (k,)), ((n, k), (k,)), ((k,), (k, m)), ((n, k), (k, m)),
        ((b, n, k), (k, m)), ((b, n, k), (b, k, m)), ((1, n, k), (b, k, m)), ((k,), (b, k, m)),
    ]))
    a, c = data.draw(arrays(left)), data.draw(arrays(right))
    same(Value(a) @ Value(c), np.matmul(a, c))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data())
def test_concatenate_stack_where_forward(shape: tuple[int, ...], data: st.DataObject) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    parts = [data.draw(arrays(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    same(concatenate([Value(p) for p in parts], axis=axis), np.concatenate(parts, axis=axis))
    same(stack([Value(p) for p in parts], axis=axis), np.stack(parts, axis=axis))
    cond = data.draw(hnp.arrays(np.bool_, shape), label="cond")
    same(where(cond, Value(parts[0]), Value(parts[-1]) * 2.0),
         np.where(cond, parts[0], parts[-1] * 2.0))


SELU_LAMBDA, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


@given(x=hnp.array_shapes(max_dims=2, max_side=4).flatmap(arrays))
def test_composed_activations_forward(x: Any) -> None:
    v = Value(x)
    same(v.selu(), SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))))
    same(v.silu(), x / (1.0 + np.exp(-x)))
    erf = np.vectorize(math.erf)
    same(v.gelu(), x * 0.5 * (1.0 + erf(x / math.sqrt(2.0))), rtol=1e-12)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5), data=st.data())
def test_losses_forward(shape: tuple[int, ...], data: st.DataObject) -> None:
    pred, target = data.draw(arrays(shape)), data.draw(arrays(shape))
    same(nn.mse_loss(Value(pred), target), np.mean((pred - target) ** 2))
    labels01 = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0])))
    bce = np.logaddexp(0, pred) - labels01 * pred
    same(nn.binary_cross_entropy_with_logits(Value(pred), labels01), np.mean(bce), rtol=1e-12)
    signs = 2.0 * labels01 - 1.0
    same(nn.hinge_loss(Value(pred), signs), np.mean(np.maximum(0, 1 - signs * pred)))
    logits = pred.reshape(-1, shape[-1])
    labels = np.array(data.draw(st.lists(st.integers(0, shape[-1] - 1), min_size=len(logits),
                                         max_size=len(logits))))
    lse = np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1)) + logits.max(-1)
    same(nn.cross_entropy(Value(logits), labels),
         np.mean(lse - logits[np.arange(len(logits)), labels]), rtol=1e-12)


# ---- the softmax family, var/std and binary cross-entropy (issue #14, part 3b)

SOFTMAX_FAMILY = ["logsumexp", "softmax", "log_softmax"]


@st.composite
def logits_and_axis(draw: st.DrawFn) -> tuple[Any, int]:
    """Logits up to ±1e4 (where a naive exp overflows), and an axis."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    scale = draw(st.sampled_from([1.0, 30.0, 800.0, 1e4]))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1.0, 1.0))) * scale
    return x, draw(st.integers(-len(shape), len(shape) - 1))


def softmax_family_reference(name: str, x: Any, axis: int) -> Any:
    """The op along `axis`, slice by slice, in 60 digits."""
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    result = []
    with decimal.localcontext(CONTEXT):
        for row in rows:
            d = [Decimal(float(v)) for v in row]
            lse = CONTEXT.ln(sum(CONTEXT.exp(v) for v in d))
            if name == "logsumexp":
                result.append([float(lse)])
            elif name == "softmax":
                result.append([float(CONTEXT.exp(v - lse)) for v in d])
            else:
                result.append([float(v - lse) for v in d])
    out = np.array(result).reshape(*moved.shape[:-1], -1)
    return out[..., 0] if name == "logsumexp" else np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("name", SOFTMAX_FAMILY)
@given(case=logits_and_axis())
def test_softmax_family_forward_against_60_digits(name: str, case: tuple[Any, int]) -> None:
    x, axis = case
    v = Value(x)
    out = v.logsumexp(axis) if name == "logsumexp" else getattr(v, name)(axis)
    expected = softmax_family_reference(name, x, axis)
    # (x − max rounds to an ulp of 2e4 at worst, so exp of it is good to ~1e-12 relative; the
    # log of a sum near 1 is good to ~1e-16 absolute)
    rtol, atol = {"logsumexp": (1e-14, 1e-15), "softmax": (1e-11, 1e-290),
                  "log_softmax": (1e-14, 1e-14)}[name]
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)


@given(x=logits_and_axis(), data=st.data())
def test_cross_entropy_forward_against_60_digits(x: tuple[Any, int], data: st.DataObject) -> None:
    """The fused primitive: logsumexp(z) − z[label] per row, reduced, in 60 digits."""
    logits = np.atleast_2d(x[0].reshape(-1, x[0].shape[-1]))
    batch, classes = logits.shape
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch,
                                         max_size=batch)), dtype=np.intp)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    out = apply(ops.CROSS_ENTROPY, Value(logits), labels=labels, reduction=reduction)
    with decimal.localcontext(CONTEXT):
        rows = [CONTEXT.ln(sum(CONTEXT.exp(Decimal(float(v))) for v in row))
                - Decimal(float(row[k])) for row, k in zip(logits, labels, strict=True)]
        total = sum(rows, Decimal(0))
        expected = ([float(r) for r in rows] if reduction == "none" else
                    float(total / batch) if reduction == "mean" else float(total))
    # (z − max rounds to an ulp of 2e4 at worst: ~4e-12 absolute)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-11)


# PyTorch 2.13 float64 at the extremes: (input, upstream gradient) -> (result, gradient)
EXTREMES: dict[str, list[tuple[list[float], list[float], Any, list[float]]]] = {
    "softmax": [
        ([1e4, -1e4, 0.0], [0.3, -0.7, 0.2], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ([-inf, 0.0, 1.0], [0.3, -0.7, 0.2], [0.0, 0.2689414213699951, 0.7310585786300049],
         [0.0, -0.1769507399173337, 0.17695073991733368]),
        ([-inf, -inf], [0.3, -0.7], [nan, nan], [nan, nan]),
        ([inf, 0.0], [0.3, -0.7], [nan, nan], [nan, nan]),
        ([nan, 0.0], [0.3, -0.7], [nan, nan], [nan, nan]),
    ],
    "log_softmax": [
        ([1e4, -1e4, 0.0], [0.3, -0.7, 0.2], [0.0, -2e4, -1e4], [0.5, -0.7, 0.2]),
        ([-inf, 0.0, 1.0], [0.3, -0.7, 0.2], [-inf, -1.3132616875182228, -0.31326168751822286],
         [0.3, -0.646211715726001, 0.34621171572600096]),
        ([-inf, -inf], [0.3, -0.7], [nan, nan], [nan, nan]),
        ([inf, 0.0], [0.3, -0.7], [nan, nan], [nan, nan]),
        ([nan, 0.0], [0.3, -0.7], [nan, nan], [nan, nan]),
    ],
    "logsumexp": [
        ([1e4, -1e4, 0.0], [1.0], 1e4, [1.0, 0.0, 0.0]),
        # (softmax, exactly: PyTorch's exp(x − out), out rounded to an ulp of 1e4, gives
        # 0.4999999999999138)
        ([1e4, 1e4], [1.0], 1e4 + math.log(2.0), [0.5] * 2),
        ([-1e4, -1e4], [1.0], -1e4 + math.log(2.0), [0.5] * 2),
        ([-inf, 0.0, 1.0], [1.0], 1.3132616875182228, [0.0, 0.2689414213699951,
                                                        0.7310585786300049]),
        ([-inf, -inf], [1.0], -inf, [nan, nan]),
        ([inf, 0.0], [1.0], inf, [nan, 0.0]),
        ([-inf, inf], [1.0], inf, [0.0, nan]),
        ([nan, 0.0], [1.0], nan, [nan, nan]),
    ],
}


@pytest.mark.parametrize("name", SOFTMAX_FAMILY)
@pytest.mark.parametrize("path", ["backward", "gradients", "recorded"])
def test_softmax_family_at_extremes_is_pytorchs(name: str, path: str) -> None:
    """±1e4 exactly (no overflow, no nan); −inf entries, nan and +inf as PyTorch gives them."""
    for data, upstream, result, gradient in EXTREMES[name]:
        x = Value(data)
        out = x.logsumexp() if name == "logsumexp" else getattr(x, name)()
        seed = upstream[0] if name == "logsumexp" else np.array(upstream)
        if path == "backward":
            out.backward(seed if name != "logsumexp" else None)
            grad_ = np.asarray(x.grad)
        else:
            loss = out * seed if name == "logsumexp" else (out * seed).sum()
            (g,) = gradients(loss, [x], create_graph=path == "recorded")
            grad_ = np.asarray(g.data if isinstance(g, Value) else g)
        where_ = f"{name}({data}), {path}"
        np.testing.assert_allclose(out.data, result, rtol=1e-15, atol=0, err_msg=where_)
        np.testing.assert_allclose(grad_, gradient, rtol=1e-13, atol=1e-300, err_msg=where_)


# ---- 1 − softmax without cancellation: the complement, and the derivatives that read it

Axes = tuple[int, ...] | None


def _exact_shares(x: Any, axis: Axes) -> tuple[Any, Any, Any]:
    """p = softmax(x) and c = 1 − p along `axis` as 60-digit Decimals (object arrays of x's
    shape; c as the sum of the other shares, so it keeps its digits where p is near 1), and
    the number of each element's slice."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    ends = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, ends)
    rows = moved.reshape(-1, math.prod(x.shape[a] for a in axes))
    p, c = np.empty(rows.shape, dtype=object), np.empty(rows.shape, dtype=object)
    with decimal.localcontext(CONTEXT):
        for r, row in enumerate(rows):
            d = [Decimal(float(v)) for v in row]
            top = max(d)
            e = [CONTEXT.exp(v - top) for v in d]
            total = sum(e, Decimal(0))
            for i, ei in enumerate(e):
                p[r, i] = ei / total
                c[r, i] = sum((ej for j, ej in enumerate(e) if j != i), Decimal(0)) / total
    number = np.repeat(np.arange(len(rows)), rows.shape[1]).reshape(rows.shape)

    def back(a: Any) -> Any:
        return np.moveaxis(a.reshape(moved.shape), ends, axes)

    return back(p), back(c), back(number)


@st.composite
def complement_case(draw: st.DrawFn) -> tuple[Any, Axes]:
    """Logits up to ±1e4, some with one class far ahead (p within 1e-9 to 1e-300 of 1), and
    one axis, a tuple of axes or all of them."""
    x, axis = draw(logits_and_axis())
    if draw(st.booleans()):
        x = x.copy()
        x.flat[draw(st.integers(0, x.size - 1))] += draw(st.sampled_from(
            [20.0, 36.7, 40.0, 300.0, 690.0]))
    axes = draw(st.sampled_from([axis, tuple(range(x.ndim)), None]))
    return x, kernels.normalize_axis(axes, x.ndim, "softmax_complement")


# (each primitive is named in the test's parameters: the mutation harness picks its tests by them)
SHARES_60_DIGITS = {"softmax_complement": 1, "logsumexp_slope": 0}  # which of p, c it is


@pytest.mark.parametrize("name", SHARES_60_DIGITS)
@given(case=complement_case())
def test_share_kernels_against_60_digits(name: str, case: tuple[Any, Axes]) -> None:
    """1 − softmax(x), as the 60-digit sum of the other shares, and exp(x − logsumexp(x)),
    softmax(x): to 1e-11 relative (x − max or x − logsumexp rounds to an ulp of 2e4 at
    worst), the complement even where p rounds to 1; on arrays and through Value."""
    x, axis = case
    expected = _exact_shares(x, axis)[SHARES_60_DIGITS[name]].astype(np.float64)
    prim = ops.REGISTRY[name]
    np.testing.assert_allclose(prim.forward(x, axis=axis), expected, rtol=1e-11, atol=1e-290)
    out = apply(prim, Value(x), axis=axis)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-11, atol=1e-290)


def test_softmax_complement_at_the_edges() -> None:
    """Rows with an inf, all −inf or a nan are nan (1 − nan, as softmax's); a −inf entry's is
    1; ±1e4 exactly 0 and 1; ties share; a scalar's is 0.0; the shape is x's for one axis, a
    tuple or all; silent (no RuntimeWarning)."""
    rows = np.array([[inf, 0.0, 0.0], [-inf, -inf, -inf], [nan, 0.0, 1.0], [inf, inf, 0.0],
                     [-inf, 0.0, 1.0], [1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, 0.0]])
    expected = np.array([[nan] * 3] * 4 + [[1.0, 0.7310585786300049, 0.2689414213699951],
                                           [0.0, 1.0, 1.0], [1.0, 0.5, 0.5], [2 / 3] * 3])
    with warnings.catch_warnings(record=True) as caught:
        batch = apply(ops.SOFTMAX_COMPLEMENT, Value(rows), axis=(1,)).data
        one_by_one = [apply(ops.SOFTMAX_COMPLEMENT, Value(row), axis=None).data for row in rows]
        columns = np.asarray(apply(ops.SOFTMAX_COMPLEMENT, Value(rows.T), axis=(0,)).data).T
    assert not caught, [str(w.message) for w in caught]
    for got in (batch, np.array(one_by_one), columns):
        np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0.0)
    scalar = apply(ops.SOFTMAX_COMPLEMENT, Value(2.5), axis=None)
    assert type(scalar.data) is float and scalar.data == 0.0
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    for axis in [(1,), (0, 2), None]:
        c = np.asarray(apply(ops.SOFTMAX_COMPLEMENT, Value(x), axis=axis).data)
        assert c.shape == x.shape
        count = reduced_count(x.shape, axis)  # Σ(1 − p) over a slice is its size − 1
        np.testing.assert_allclose(np.sum(c, axis=axis), count - 1.0, rtol=1e-15)
        p = apply(ops.SOFTMAX, Value(x), axis=axis).data
        np.testing.assert_allclose(c, 1.0 - p, rtol=1e-15, atol=1e-16)


# (the tests below of softmax, log_softmax and logsumexp_slope, whose Jacobians are the
# softmax's, name them in their parameters only: the mutation harness picks a primitive's tests
# by name, and log_softmax or logsumexp_slope in a test's name would hide it from softmax's or
# logsumexp's mutants)
SOFTMAX_JACOBIANS = ["softmax", "log_softmax", "logsumexp_slope"]

# rows where a class is nearly sure (p within 4e-9, 8.5e-18, 3.7e-44 of 1), alone, in a batch,
# along axis 0 and over every axis
NEARLY_SURE_BATCH = np.array([[40.0, 0.0, 0.0], [0.0, 20.0, 0.0], [1.0, 2.0, 3.0],
                              [0.0, -50.0, 50.0]])
NEARLY_SURE: list[tuple[Any, Axes]] = [
    (np.array([40.0, 0.0, 0.0]), (0,)), (np.array([20.0, 0.0, 0.0]), (0,)),
    (np.array([50.0, -50.0, 0.0]), (0,)), (NEARLY_SURE_BATCH, (1,)),
    (NEARLY_SURE_BATCH.T.copy(), (0,)), (np.array([[40.0, 0.0], [0.0, -3.0]]), None)]
JACOBIAN_PATHS = ["rule on arrays", "backward", "gradients", "recorded"]


def _exact_jacobian(name: str, x: Any, axis: Axes) -> Any:
    """Row k: d out_k / dx, in 60 digits: p_k·(δ_ki − p_i) for softmax (and logsumexp_slope,
    the same function), δ_ki − p_i for log_softmax, in k's slice (0 elsewhere); the
    diagonal's 1 − p_k is c_k, no difference."""
    p, c, number = (a.reshape(-1) for a in _exact_shares(x, axis))
    n = x.size
    jacobian = np.zeros((n, n))
    for k in range(n):
        for i in range(n):
            if number[i] != number[k]:
                continue
            entry = c[k] if i == k else -p[i]
            jacobian[k, i] = float(entry if name == "log_softmax" else p[k] * entry)
    return jacobian


def _jacobian_row(name: str, x: Any, axis: Axes, k: int, path: str) -> Any:
    """d out_k / dx by one path: the rule on numpy arrays, backward(), gradients() or a
    recorded gradients(create_graph=True)."""
    prim = ops.REGISTRY[name]
    seed = np.zeros(x.size)
    seed[k] = 1.0
    seed = seed.reshape(x.shape)
    if path == "rule on arrays":
        (share,) = prim.vjp(seed, prim.forward(x, axis=axis), x, axis=axis)
        return np.asarray(share)
    v = Value(x)
    picked = (apply(prim, v, axis=axis) * seed).sum()
    if path == "backward":
        picked.backward()
        return np.asarray(v.grad)
    (share,) = gradients(picked, [v], create_graph=path == "recorded")
    return np.asarray(share.data if isinstance(share, Value) else share)


@pytest.mark.parametrize("path", JACOBIAN_PATHS)
@pytest.mark.parametrize("name", SOFTMAX_JACOBIANS)
@pytest.mark.parametrize("case", NEARLY_SURE)
def test_softmax_family_first_derivatives_keep_their_digits_where_a_class_is_nearly_sure(
        name: str, case: tuple[Any, Axes], path: str) -> None:
    """The first derivatives, to 1e-12 of the 60-digit Jacobian, every entry: the diagonal
    p_k·(1 − p_k) (softmax, logsumexp_slope) and 1 − p_k (log_softmax) read 1 − p from
    SOFTMAX_COMPLEMENT;
    as p_k − p_k² and 1 − p_k they were 0 where p_k rounds to 1 (exact: both 8.5e-18 at
    [40, 0, 0]) and 4e-8 off at [20, 0, 0]."""
    x, axis = case
    expected = _exact_jacobian(name, x, axis)
    for k in range(x.size):
        np.testing.assert_allclose(_jacobian_row(name, x, axis, k, path).reshape(-1),
                                   expected[k], rtol=1e-12, atol=0.0, err_msg=f"row {k}")


def _exact_hessian(name: str, x: Any, axis: Axes, w: Any) -> Any:
    """The Hessian of Σ w·op(x) in 60 digits: for log_softmax −(Σ_slice w)·(diag(p) − p·pᵀ),
    for softmax (and logsumexp_slope) Σ_m w_m·p_m·((δ_mi − p_i)(δ_mj − p_j) − p_i·(δ_ij −
    p_j)); every 1 − p as the complement c."""
    p, c, number = (a.reshape(-1) for a in _exact_shares(x, axis))
    weights = [Decimal(float(v)) for v in np.reshape(w, -1)]
    n = x.size
    hessian = np.zeros((n, n))
    for i in range(n):
        same = [m for m in range(n) if number[m] == number[i]]
        for j in same:
            jac_ij = p[i] * (c[i] if i == j else -p[j])  # (diag(p) − p·pᵀ)_ij
            if name == "log_softmax":
                total = -sum((weights[m] for m in same), Decimal(0)) * jac_ij
            else:
                total = sum((weights[m] * p[m] * ((c[m] if m == i else -p[i])
                                                  * (c[m] if m == j else -p[j]) - jac_ij)
                             for m in same), Decimal(0))
            hessian[i, j] = float(total)
    return hessian


def _second_derivatives(first: Value, v: Value) -> Iterator[np.ndarray]:
    """Row i of the Hessian: the gradient in `v` of element i of `first` (a gradient in `v`,
    recorded), both flattened; one more backward pass per row."""
    n = math.prod(v.shape)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        (row,) = gradients((first * e.reshape(v.shape)).sum(), [v])
        yield np.reshape(row, -1)


@pytest.mark.parametrize("name", SOFTMAX_JACOBIANS)
@pytest.mark.parametrize("case", NEARLY_SURE)
def test_softmax_family_second_derivatives_keep_their_digits_where_a_class_is_nearly_sure(
        name: str, case: tuple[Any, Axes]) -> None:
    """Hessian-vector products of Σ w·op(x), w a one-hot (as cross_entropy's), from a
    recorded first pass and one more backward per element, to 1e-12 of the 60-digit
    Hessian; and the learner's route, backward(create_graph=True), zero_grad(), then
    (first·v).sum().backward(), which leaves H·v in x.grad (without zero_grad it adds H·v to
    the first derivative, a sum that may cancel)."""
    x, axis = case
    n = x.size
    for m in range(n):
        w = np.zeros(n)
        w[m] = 1.0
        w = w.reshape(x.shape)
        expected = _exact_hessian(name, x, axis, w)
        v = Value(x)
        (first,) = gradients((apply(ops.REGISTRY[name], v, axis=axis) * w).sum(), [v],
                             create_graph=True)
        for i, row in enumerate(_second_derivatives(first, v)):
            np.testing.assert_allclose(row, expected[i], rtol=1e-12, atol=0.0,
                                       err_msg=f"w = e_{m}, row {i}")
        learner = Value(x)
        (apply(ops.REGISTRY[name], learner, axis=axis) * w).sum().backward(create_graph=True)
        first_pass = learner.grad
        learner.zero_grad()
        (first_pass * w).sum().backward()  # (v = w: the sure class's own direction)
        np.testing.assert_allclose(np.reshape(learner.grad, -1), expected @ w.reshape(-1),
                                   rtol=1e-12, atol=0.0, err_msg=f"learner's route, w = e_{m}")


@pytest.mark.parametrize("case", NEARLY_SURE)
def test_logsumexp_second_derivatives_keep_their_digits_where_a_class_is_nearly_sure(
        case: tuple[Any, Axes]) -> None:
    """The Hessian of Σ w·logsumexp(x), w one weight per slice: each slice's w·(diag(p) −
    p·pᵀ), to 1e-12 of 60 digits. Recorded, logsumexp's weights are logsumexp_slope's, whose
    rule reads 1 − p from SOFTMAX_COMPLEMENT; through exp(a − out) the two paths to a added up
    to p − p² on the diagonal (0 where the exact is 8.5e-18, at [40, 0, 0]; 3e-7 off at
    [20, 0, 0])."""
    x, axis = case
    p, c, number = (a.reshape(-1) for a in _exact_shares(x, axis))
    v = Value(x)
    out = apply(ops.LOGSUMEXP, v, axis=axis, keepdims=False)
    w = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
    weight = np.broadcast_to(np.reshape(w, kernels.kept_shape(x.shape, axis)), x.shape)
    weight = weight.reshape(-1)
    n = x.size
    expected = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if number[i] == number[j]:
                expected[i, j] = float(Decimal(float(weight[i])) * p[i]
                                       * (c[i] if i == j else -p[j]))
    (first,) = gradients((out * w).sum(), [v], create_graph=True)
    for i, row in enumerate(_second_derivatives(first, v)):
        np.testing.assert_allclose(row, expected[i], rtol=1e-12, atol=0.0, err_msg=f"row {i}")


# logits with specials (±inf, nan, ±1e4 and the nearly sure), for the bit-for-bit regressions
LOGITS = st.one_of(st.floats(-5.0, 5.0), st.sampled_from([inf, -inf, nan, 1e4, -1e4, 40.0,
                                                          -40.0, 0.0, -0.0]))


@given(data=st.data())
def test_logsumexp_first_derivative_is_its_slope_on_every_path_bit_for_bit(
        data: st.DataObject) -> None:
    """logsumexp's first derivative, spread(g)·logsumexp_slope(a), is the same bits plain,
    by backward() and recorded, at any logits (±inf, nan, ±1e4), axes and keepdims."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    x = data.draw(hnp.arrays(np.float64, shape, elements=LOGITS), label="x")
    axis = data.draw(st.sampled_from([None, *((k,) for k in range(len(shape))),
                                      tuple(range(len(shape)))]), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    out = kernels.logsumexp(x, axis=axis, keepdims=keepdims)
    g = data.draw(hnp.arrays(np.float64, np.shape(out), elements=st.floats(-3.0, 3.0)),
                  label="g")
    kept = kernels.kept_shape(shape, axis)
    expected = np.broadcast_to(np.reshape(g, kept), shape) * kernels.logsumexp_slope(x,
                                                                                    axis=axis)
    v, w = Value(x), Value(x)
    apply(ops.LOGSUMEXP, v, axis=axis, keepdims=keepdims).backward(g)
    (recorded,) = gradients((apply(ops.LOGSUMEXP, w, axis=axis, keepdims=keepdims) * g).sum(),
                            [w], create_graph=True)
    (on_data,) = ops.LOGSUMEXP.vjp(g, out, x, axis=axis, keepdims=keepdims)
    for new in (on_data, recorded.data):
        assert_same_bits(new, expected)
    assert_same_bits(v.grad, expected)


@given(data=st.data())
def test_logsumexp_slope_is_softmax_bit_for_bit_but_at_plus_inf(data: st.DataObject) -> None:
    """logsumexp_slope is softmax (exp(x − m)/Σ exp(x − m)), bit for bit; in a row with a
    +inf it is exp(x − logsumexp(x)), as PyTorch's: nan at +inf, 0 elsewhere."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    x = data.draw(hnp.arrays(np.float64, shape, elements=LOGITS), label="x")
    axis = data.draw(st.sampled_from([None, *((k,) for k in range(len(shape))),
                                      tuple(range(len(shape)))]), label="axis")
    kept = kernels.kept_shape(shape, axis)
    with np.errstate(invalid="ignore"):
        at_inf = np.exp(x - kernels.logsumexp(x, axis=axis, keepdims=True))
    plus_inf = np.broadcast_to(np.reshape(np.any(x == inf, axis=axis), kept), shape)
    expected = np.where(plus_inf, at_inf, kernels.softmax(x, axis=axis))
    assert_same_bits(kernels.logsumexp_slope(x, axis=axis), expected)
    assert_same_bits(apply(ops.LOGSUMEXP_SLOPE, Value(x), axis=axis).data, expected)


@given(offset=st.integers(-2**52, 2**52), steps=st.lists(st.integers(-30, 30), min_size=1,
                                                         max_size=6))
def test_logsumexp_gradient_keeps_its_digits_far_from_zero(offset: int,
                                                           steps: list[int]) -> None:
    """At logits offset + steps (exact, and so are their differences), the gradient is the
    softmax of the steps, bit for bit, for any offset (exp(x − logsumexp(x)) lost the digits
    of log Σ exp(x − m) to the rounding of logsumexp near a large m: [1, 1] at [1e16, 1e16],
    6e-5 off at 1e12, as PyTorch's)."""
    x = Value(float(offset) + np.array(steps, dtype=np.float64))
    x.logsumexp().backward()
    assert_same_bits(x.grad, kernels.softmax(np.array(steps, dtype=np.float64), axis=None))


def assert_same_bits(actual: Any, expected: Any) -> None:
    """The same float64 numbers bit for bit (signed zeros and nan payloads count), a float
    or an array alike."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape and a.tobytes() == e.tobytes(), (a, e)


def _old_softmax_rule(g: Any, out: Any, axis: Axes) -> Any:
    """softmax's rule before SOFTMAX_COMPLEMENT: out·(g − Σ g·out)."""
    return out * (g - np.sum(g * out, axis=axis, keepdims=True))


def _old_log_softmax_rule(g: Any, out: Any, axis: Axes) -> Any:
    """log_softmax's rule before SOFTMAX_COMPLEMENT: g − exp(out)·Σ g."""
    return g - np.exp(out) * np.sum(g, axis=axis, keepdims=True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family_first_derivatives_are_the_old_rules_away_from_saturation(
        name: str, data: st.DataObject) -> None:
    """Regression test (it passes on the rules before SOFTMAX_COMPLEMENT): logits in [−5, 5],
    any upstream gradient in [−3, 3], any axis: the rules' results, on arrays, by backward()
    and recorded, are the old formulas' within 4 ulps of the size of their terms, p·(|g| +
    Σ|g|·p) for softmax and |g| + p·Σ|g| for log_softmax (each formula is that accurate), and
    of 4 times the smallest subnormal (a g of subnormals)."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-5.0, 5.0)), label="x")
    g = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-3.0, 3.0)), label="g")
    axis = (None if not shape else
            data.draw(st.sampled_from([(k,) for k in range(len(shape))] + [None]), label="axis"))
    prim = ops.REGISTRY[name]
    out = prim.forward(x, axis=axis)
    old = (_old_softmax_rule if name == "softmax" else _old_log_softmax_rule)(g, out, axis)
    p = np.exp(out) if name == "log_softmax" else out
    size = (p * (np.abs(g) + np.sum(np.abs(g) * p, axis=axis, keepdims=True))
            if name == "softmax" else np.abs(g) + p * np.sum(np.abs(g), axis=axis, keepdims=True))
    # (plus a few of the smallest subnormals: a subnormal g's products keep fewer digits)
    ulps = 4 * np.finfo(np.float64).eps * size + 4 * np.finfo(np.float64).smallest_subnormal
    (on_arrays,) = prim.vjp(g, out, x, axis=axis)
    v, w = Value(x), Value(x)
    apply(prim, v, axis=axis).backward(g)
    (recorded,) = gradients((apply(prim, w, axis=axis) * g).sum(), [w], create_graph=True)
    for new in (on_arrays, v.grad, recorded.data):
        assert np.all(np.abs(new - old) <= ulps), (new, old, ulps)


def reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    """How many elements each slice of a reduction over `axis` holds."""
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in ((axis,) if isinstance(axis, int) else axis))


@st.composite
def spread_case(draw: st.DrawFn) -> tuple[Any, Any, int, bool]:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    x = draw(arrays(shape))
    axis = draw_axis(draw, len(shape))
    ddof = draw(st.integers(0, max(reduced_count(shape, axis) - 1, 0)))
    return x, axis, ddof, draw(st.booleans())


@given(case=spread_case())
def test_var_and_std_forward_and_gradient(case: tuple[Any, Any, int, bool]) -> None:
    """numpy's var/std (same ddof), and d var/dx = 2(x − mean)/(n − ddof), written out."""
    x, axis, ddof, keepdims = case
    v = Value(x)
    var = v.var(axis, ddof, keepdims)
    same(var, np.var(x, axis=axis, ddof=ddof, keepdims=keepdims), rtol=1e-12)
    same(v.std(axis, ddof, keepdims), np.std(x, axis=axis, ddof=ddof, keepdims=keepdims),
         rtol=1e-12)
    upstream = np.random.default_rng(x.size).normal(size=np.shape(var.data))
    (g,) = gradients((var * upstream).sum() if np.ndim(var.data) else var * float(upstream),
                     [v])
    n = reduced_count(x.shape, axis)
    kept = np.reshape(upstream, np.mean(x, axis=axis, keepdims=True).shape)
    expected = 2.0 * (x - np.mean(x, axis=axis, keepdims=True)) / (n - ddof) * kept
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-9)


# PyTorch 2.13 float64 (binary_cross_entropy, reduction="none"), at the ends and inside
BCE_ENDS = [  # p, y, loss, d/dp, d/dy
    (0.3, 0.2, 0.5261345160161731, 0.4761904761904761, 0.8472978603872036),
    (1e-30, 0.5, 34.538776394910684, -500000001997.9014, 69.07755278982137),
    (0.0, 0.5, 50.0, -500000001997.9014, inf),
    (1.0, 0.4, 60.0, 600000002397.4817, -inf),
    (0.7, 1.0, 0.35667494393873245, -1.4285714285714286, -0.8472978603872034),
    (0.0, 1.0, 100.0, -1000000003995.8029, inf),
    (1.0, 0.0, 100.0, 1000000003995.8029, -inf),
    (0.0, 0.0, 0.0, 0.0, inf),
    (1e-300, 0.3, 30.0, -300000001198.74084, 690.7755278982137),
]


@pytest.mark.parametrize("tensor", [False, True])
def test_binary_cross_entropy_at_the_ends_is_pytorchs(tensor: bool) -> None:
    """log clamped at −100; d/dp = (p − y)/max(p(1 − p), 1e-12); d/dy unclamped."""
    for p, y, loss, dp, dy in BCE_ENDS:
        leaves = [Value(np.array([p]) if tensor else p), Value(np.array([y]) if tensor else y)]
        out = apply(ops.BINARY_CROSS_ENTROPY, *leaves)
        (out.sum() if tensor else out).backward()
        got = [float(np.reshape(t, -1)[0]) for t in (out.data, leaves[0].grad, leaves[1].grad)]
        for actual, expected, what in zip(got, (loss, dp, dy), ("loss", "d/dp", "d/dy"),
                                          strict=True):
            assert actual == pytest.approx(expected, rel=1e-12, abs=1e-300) or (
                math.isinf(expected) and actual == expected), f"{what} at p={p}, y={y}: {actual}"
