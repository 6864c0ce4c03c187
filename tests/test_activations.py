"""Every registered activation: gradients, kinks, second derivatives, stability, identities.

The cases are generated from `activations.ACTIVATIONS` (plus non-default parameters for
leaky_relu and elu), so a newly registered activation is tested the moment it is declared; the
tests that need a per-activation fact (a known value, the derivative at a kink, a
high-precision reference) fail until the fact is added here.

Accuracy is measured against references computed in 60-digit `decimal` arithmetic, with a
tolerance that scales with the size of the terms the true result is made of (near a root of
silu' the result is a difference of two terms, and only the terms' size is a fair yardstick).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from decimal import Decimal, localcontext
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu import activations as act
from tinygrad_edu.activations import (
    ACTIVATIONS,
    ALIASES,
    SELU_ALPHA,
    SELU_LAMBDA,
    Activation,
    activation_names,
    get_activation,
)
from tinygrad_edu.data import Array
from tinygrad_edu.engine import gradients
from tinygrad_edu.testing import gradcheck
from tinygrad_edu.testing.strategies import arrays_away_from, floats_away_from, shapes

# Central differences in float64 are good to ~1e-9 here: tight enough to catch a rule that is
# off by 0.1%, which gradcheck's default (learner-friendly) tolerances would let through.
TIGHT: dict[str, Any] = {"atol": 1e-7, "rtol": 1e-5}
TIGHT_2ND: dict[str, Any] = {"atol": 1e-6, "rtol": 1e-5}

EXTRA_PARAMS: dict[str, list[dict[str, float]]] = {
    "leaky_relu": [{"negative_slope": 0.2}],
    "elu": [{"alpha": 0.5}],
}

def cases() -> Iterator[Any]:
    """One pytest param per registered activation and parameter set."""
    for name in sorted(ACTIVATIONS):
        for params in [{}, *EXTRA_PARAMS.get(name, [])]:
            label = name + "".join(f"[{k}={v}]" for k, v in params.items())
            yield pytest.param(name, params, id=label)


CASES = list(cases())


def function(name: str, params: dict[str, float]) -> Callable[[Value], Value]:
    fn: Callable[..., Value] = ACTIVATIONS[name].function
    return lambda x: fn(x, **params)


def kinks(name: str) -> tuple[float, ...]:
    return ACTIVATIONS[name].kinks


# ---- high-precision references ----------------------------------------------------------------

PREC = 60
PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
Ref = list[tuple[Decimal, Decimal]]
"""[(f, scale), (f', scale), (f'', scale)]: exact values and the size of their terms."""


def _erfc(z: Decimal) -> Decimal:
    """erfc by its Taylor series (|z| < 3) or its continued fraction, to ~50 digits."""
    if z < 0:
        return 2 - _erfc(-z)
    if z < 3:
        term = total = z
        n = 0
        while True:
            n += 1
            term = -term * z * z / n
            total += term / (2 * n + 1)
            if abs(term) < Decimal(10) ** (-PREC - 5):
                return 1 - 2 / PI.sqrt() * total
    t = z
    for n in range(400, 0, -1):
        t = z + (Decimal(n) / 2) / t
    return (-z * z).exp() / PI.sqrt() / t


def _expm1(d: Decimal) -> Decimal:
    """eᵈ − 1 without cancellation for tiny d."""
    if abs(d) < Decimal("1e-12"):
        return d + d * d / 2 + d * d * d / 6
    return d.exp() - 1


def _sigmoids(d: Decimal) -> tuple[Decimal, Decimal]:
    """σ(d) and σ(−d), without cancellation."""
    t = (-abs(d)).exp()
    big, small = 1 / (1 + t), t / (1 + t)
    return (big, small) if d >= 0 else (small, big)


def _elu(d: Decimal, alpha: Decimal) -> Ref:
    if d > 0:
        return [(d, d), (Decimal(1), Decimal(1)), (Decimal(0), Decimal(0))]
    e, value = d.exp(), alpha * _expm1(d)
    return [(value, abs(value)), (alpha * e, alpha * e), (alpha * e, alpha * e)]


def reference(name: str, params: dict[str, float], x: float) -> Ref:
    """f, f', f'' at x (with the kink conventions of PRODUCT.md), to ~50 digits."""
    with localcontext() as ctx:
        ctx.prec = PREC
        d = Decimal(x)
        zero, one = Decimal(0), Decimal(1)
        s, s_neg = _sigmoids(d)
        ds = s * s_neg
        if name == "sigmoid":
            return [(s, s), (ds, ds), (ds * (s_neg - s), ds)]
        if name == "tanh":
            t = (-2 * abs(d)).exp()
            th = -_expm1(-2 * abs(d)) / (1 + t) * (1 if d >= 0 else -1)
            dth = 4 * t / (1 + t) ** 2
            return [(th, abs(th)), (dth, dth), (-2 * th * dth, 2 * dth)]
        if name == "step":
            return [(one if d > 0 else zero, one), (zero, zero), (zero, zero)]
        if name == "relu":
            return [(max(d, zero), abs(d)), (one if d > 0 else zero, one), (zero, zero)]
        if name == "leaky_relu":
            slope = Decimal(params.get("negative_slope", 0.01))
            k = one if d > 0 else slope
            return [(k * d, abs(k * d)), (k, k), (zero, zero)]
        if name == "elu":
            return _elu(d, Decimal(params.get("alpha", 1.0)))
        if name == "selu":
            lam = Decimal(SELU_LAMBDA)
            return [(lam * f, lam * sc) for f, sc in _elu(d, Decimal(SELU_ALPHA))]
        if name == "softplus":
            t = (-abs(d)).exp()
            log1p = t - t * t / 2 + t**3 / 3 if t < Decimal("1e-25") else (1 + t).ln()
            value = max(d, zero) + log1p
            return [(value, value), (s, s), (ds, ds)]
        if name == "silu":
            return [(d * s, abs(d * s)), (s + d * ds, s + abs(d) * ds),
                    (ds * (2 + d * (s_neg - s)), ds * (2 + abs(d)))]
        if name == "gelu":
            # rounding x/√2 and x² costs a relative ~x²·ε in any float implementation
            cond = 1 + d * d
            cdf = _erfc(-d / Decimal(2).sqrt()) / 2
            pdf = (-d * d / 2).exp() / (2 * PI).sqrt()
            return [(d * cdf, abs(d) * cdf * cond), (cdf + d * pdf, (cdf + abs(d) * pdf) * cond),
                    ((2 - d * d) * pdf, (2 + d * d) * pdf * cond)]
        if name == "identity":
            return [(d, abs(d)), (one, one), (zero, zero)]
    raise KeyError(f"no high-precision reference for activation {name!r}: add one to reference()")


ACCURACY = 1e-13  # relative to the size of the terms; float64's ε is 2.2e-16
UNDERFLOW = 1e-305  # results this small may be subnormal (fewer digits) or flushed to 0


def assert_accurate(got: Any, exact: Decimal, scale: Decimal, what: str) -> None:
    got = float(got)
    assert math.isfinite(got), f"{what}: got {got!r}, expected {float(exact)!r}"
    error = abs(Decimal(got) - exact)
    tolerance = Decimal(ACCURACY) * scale + Decimal(UNDERFLOW)
    assert error <= tolerance, (
        f"{what}: got {got!r}, expected {float(exact)!r} (error {float(error):.3g}, "
        f"tolerance {float(tolerance):.3g})"
    )


def first_and_second(f: Callable[[Value], Value], x: Any, weights: Any = 1.0) -> tuple[Any, Any]:
    """The engine's f'(x)·w and f''(x)·w, elementwise (x a float or an array)."""
    leaf = Value(x)
    out = f(leaf)
    loss = out * weights if out.shape == () else (out * weights).sum()
    (g,) = gradients(loss, [leaf], create_graph=True)
    (gg,) = gradients(g if g.shape == () else g.sum(), [leaf])
    return g.data, gg


def test_every_activation_has_a_reference() -> None:
    for name in ACTIVATIONS:
        for params in [{}, *EXTRA_PARAMS.get(name, [])]:
            assert len(reference(name, params, 0.5)) == 3


# ---- gradients against finite differences ---------------------------------------------------


@pytest.mark.parametrize(("name", "params"), CASES)
@given(data=st.data())
def test_gradient_on_scalars(name: str, params: dict[str, float], data: st.DataObject) -> None:
    x = data.draw(floats_away_from(kinks(name), low=-6.0, high=6.0, margin=1e-3), label="x")
    assert gradcheck(function(name, params), x, **TIGHT)


@pytest.mark.parametrize(("name", "params"), CASES)
@given(data=st.data())
def test_gradient_on_tensors(name: str, params: dict[str, float], data: st.DataObject) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3), label="shape")
    x = data.draw(arrays_away_from(kinks(name), shape=shape, low=-6.0, high=6.0, margin=1e-3),
                  label="x")
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream seed")
    f = function(name, params)
    assert f(Value(x)).shape == shape
    assert gradcheck(f, x, seed=seed, **TIGHT)


@pytest.mark.parametrize(("name", "params"), CASES)
@given(data=st.data())
def test_second_derivative(name: str, params: dict[str, float], data: st.DataObject) -> None:
    shape = data.draw(st.sampled_from([(), (3,), (2, 2)]), label="shape")
    x = data.draw(arrays_away_from(kinks(name), shape=shape, low=-6.0, high=6.0, margin=1e-3),
                  label="x")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    assert gradcheck(function(name, params), x, order=2, seed=seed, **TIGHT_2ND)


# ---- the kinks ------------------------------------------------------------------------------

# The derivative used exactly at a kink (PRODUCT.md's table).
AT_KINK: dict[str, Callable[[dict[str, float]], float]] = {
    "relu": lambda p: 0.0,
    "leaky_relu": lambda p: p.get("negative_slope", 0.01),
    "elu": lambda p: p.get("alpha", 1.0),
    "selu": lambda p: SELU_LAMBDA * SELU_ALPHA,
    "step": lambda p: 0.0,
}


@pytest.mark.parametrize(("name", "params"), [c for c in CASES if kinks(c.values[0])])
def test_derivative_exactly_at_the_kink(name: str, params: dict[str, float]) -> None:
    assert name in AT_KINK, f"{name} has a kink but no documented convention in AT_KINK"
    expected = AT_KINK[name](params)
    f = function(name, params)
    for kink in kinks(name):
        scalar = Value(kink)
        f(scalar).backward()
        assert scalar.grad == expected
        tensor = Value([kink, kink, kink])
        f(tensor).backward(np.array([1.0, 2.0, -3.0]))
        assert tensor.grad.tolist() == [expected, 2 * expected, -3 * expected]


def test_kink_conventions_are_the_documented_numbers() -> None:
    assert AT_KINK["relu"]({}) == 0.0
    assert AT_KINK["leaky_relu"]({}) == 0.01
    assert AT_KINK["elu"]({}) == 1.0
    assert AT_KINK["selu"]({}) == pytest.approx(1.7580993408473766, rel=1e-15, abs=0.0)


def test_smooth_activations_declare_no_kink() -> None:
    for name in ("sigmoid", "tanh", "softplus", "silu", "gelu", "identity"):
        assert kinks(name) == ()


extreme_floats = st.one_of(st.floats(-1e4, 1e4), st.floats(-50.0, 50.0),
                           st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 5e-324]))


@given(x=extreme_floats, upstream=st.floats(-10.0, 10.0))
def test_step_has_zero_gradient_everywhere(x: float, upstream: float) -> None:
    scalar = Value(x)
    (act.step(scalar) * upstream).backward()
    assert scalar.grad == 0.0
    tensor = Value([x, -x, 0.0])
    act.step(tensor).backward(np.full(3, upstream))
    assert tensor.grad.tolist() == [0.0, 0.0, 0.0]
    first, second = first_and_second(act.step, x)
    assert first == 0.0 and second == 0.0


# ---- monotonicity, known values, identities ---------------------------------------------------

NON_MONOTONE = {"silu", "gelu"}
"""Modern activations that dip below zero before rising: not among the lecture's."""
LECTURE = {"sigmoid", "tanh", "step", "relu", "leaky_relu", "elu", "selu"}


@pytest.mark.parametrize(("name", "params"), [c for c in CASES if c.values[0] not in NON_MONOTONE])
@given(xs=st.lists(extreme_floats, min_size=2, max_size=8))
def test_monotone_non_decreasing(name: str, params: dict[str, float], xs: list[float]) -> None:
    xs = sorted(xs)
    f = function(name, params)
    ys = np.asarray(f(Value(np.array(xs))).data)
    assert all(a <= b for a, b in itertools.pairwise(ys)), (xs, ys)
    scalars = [f(Value(x)).data for x in xs]
    assert all(a <= b for a, b in itertools.pairwise(scalars)), (xs, scalars)


@pytest.mark.parametrize("name", sorted(NON_MONOTONE))
def test_the_non_monotone_ones_really_dip(name: str) -> None:
    f = ACTIVATIONS[name]
    assert f(Value(-3.0)).data > f(Value(-1.0)).data  # -3 < -1 but f(-3) > f(-1)


def test_the_lecture_activations_are_registered_and_monotone() -> None:
    assert set(ACTIVATIONS) >= LECTURE
    assert not LECTURE & NON_MONOTONE


def test_lecture_requirement_differentiable_almost_everywhere() -> None:
    """Finitely many kinks, and a gradient everywhere else (checked by the tests above)."""
    for name, activation in ACTIVATIONS.items():
        assert len(activation.kinks) <= 1, name
        for x in (-2.5, -0.5, 0.7, 3.0):
            v = Value(x)
            activation(v).backward()
            assert math.isfinite(v.grad), name


SIGMA_1 = 1.0 / (1.0 + math.exp(-1.0))
KNOWN_VALUES: dict[str, list[tuple[float, dict[str, float], float]]] = {
    "sigmoid": [(0.0, {}, 0.5), (1.0, {}, SIGMA_1), (-1.0, {}, 1 - SIGMA_1)],
    "tanh": [(0.0, {}, 0.0), (1.0, {}, 0.7615941559557649), (-0.5, {}, -0.46211715726000974)],
    "step": [(0.0, {}, 0.0), (-1.0, {}, 0.0), (1e-300, {}, 1.0), (3.0, {}, 1.0)],
    "relu": [(-1.0, {}, 0.0), (0.0, {}, 0.0), (2.5, {}, 2.5)],
    "leaky_relu": [(-2.0, {}, -0.02), (3.0, {}, 3.0), (-2.0, {"negative_slope": 0.2}, -0.4)],
    "elu": [(-1.0, {}, math.exp(-1.0) - 1.0), (2.0, {}, 2.0), (0.0, {}, 0.0),
            (-1.0, {"alpha": 0.5}, 0.5 * (math.exp(-1.0) - 1.0))],
    "selu": [(1.0, {}, SELU_LAMBDA), (0.0, {}, 0.0),
             (-1.0, {}, SELU_LAMBDA * SELU_ALPHA * math.expm1(-1.0))],
    "softplus": [(0.0, {}, math.log(2.0)), (1.0, {}, math.log1p(math.e))],
    "silu": [(0.0, {}, 0.0), (1.0, {}, SIGMA_1)],
    "gelu": [(0.0, {}, 0.0), (1.0, {}, 0.8413447460685429), (-1.0, {}, -0.15865525393145707)],
    "identity": [(3.0, {}, 3.0), (-0.25, {}, -0.25)],
}


def test_every_activation_has_known_values() -> None:
    missing = set(ACTIVATIONS) - set(KNOWN_VALUES)
    assert not missing, f"add known values for: {sorted(missing)}"


@pytest.mark.parametrize(
    ("name", "x", "params", "expected"),
    [(n, x, p, e) for n, rows in KNOWN_VALUES.items() for x, p, e in rows],
)
def test_known_values(name: str, x: float, params: dict[str, float], expected: float) -> None:
    f = function(name, params)
    assert f(Value(x)).data == pytest.approx(expected, rel=1e-15, abs=0.0)
    assert cast(Array, f(Value([x])).data)[0] == pytest.approx(expected, rel=1e-15, abs=0.0)


def test_selu_constants_are_the_published_ones() -> None:
    """The nearest doubles to PRODUCT.md's 32-digit constants."""
    assert float("1.0507009873554804934193349852946") == SELU_LAMBDA
    assert float("1.6732632423543772848170429916717") == SELU_ALPHA


moderate = st.floats(-30.0, 30.0)
EPS = 2.220446049250313e-16


@given(x=moderate)
def test_tanh_is_a_rescaled_sigmoid(x: float) -> None:
    """tanh(x) = 2σ(2x) − 1 (the right side loses digits near 0: its terms are of size 1)."""
    assert act.tanh(Value(x)).data == pytest.approx(
        2 * act.sigmoid(Value(2 * x)).data - 1, rel=1e-14, abs=4 * EPS)


@given(x=extreme_floats)
def test_sigmoid_symmetry_and_derivative(x: float) -> None:
    assert act.sigmoid(Value(x)).data + act.sigmoid(Value(-x)).data == pytest.approx(1.0, abs=EPS)
    v = Value(x)
    act.sigmoid(v).backward()
    expected = act.sigmoid(Value(x)).data * act.sigmoid(Value(-x)).data
    assert v.grad == pytest.approx(expected, rel=1e-14, abs=1e-305)


@given(x=extreme_floats)
def test_softplus_derivative_is_sigmoid(x: float) -> None:
    v = Value(x)
    act.softplus(v).backward()
    assert v.grad == pytest.approx(act.sigmoid(Value(x)).data, rel=1e-15, abs=0.0)


@given(x=extreme_floats)
def test_selu_is_a_scaled_elu(x: float) -> None:
    s, e = Value(x), Value(x)
    out = act.selu(s)
    out.backward()
    ref = act.elu(e, SELU_ALPHA)
    ref.backward()
    assert out.data == pytest.approx(SELU_LAMBDA * ref.data, rel=1e-15, abs=0.0)
    assert s.grad == pytest.approx(SELU_LAMBDA * e.grad, rel=1e-15, abs=0.0)


@given(x=extreme_floats)
def test_silu_is_x_times_sigmoid(x: float) -> None:
    v = Value(x)
    out = act.silu(v)
    out.backward()
    s, s_neg = act.sigmoid(Value(x)).data, act.sigmoid(Value(-x)).data
    assert out.data == pytest.approx(x * s, rel=1e-15, abs=0.0)
    # silu' = σ(x) + x·σ(x)·σ(−x), compared relative to the size of its terms
    assert abs(v.grad - (s + x * s * s_neg)) <= 1e-14 * (s + abs(x) * s * s_neg) + 1e-305


@given(x=extreme_floats)
def test_gelu_is_x_times_normal_cdf(x: float) -> None:
    v = Value(x)
    out = act.gelu(v)
    out.backward()
    cdf = 0.5 * math.erfc(-x / math.sqrt(2.0))
    pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    assert out.data == pytest.approx(x * cdf, rel=1e-14, abs=1e-305)
    assert abs(v.grad - (cdf + x * pdf)) <= 1e-13 * (cdf + abs(x) * pdf) + 1e-305


@given(x=extreme_floats)
def test_relu_family_identities(x: float) -> None:
    assert act.relu(Value(x)).data - act.relu(Value(-x)).data == x
    assert act.leaky_relu(Value(x), 0.2).data == max(x, 0.2 * x)
    assert act.relu(Value(x)).data == max(x, 0.0)
    assert act.identity(Value(x)).data == x


# ---- scalar and tensor paths ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), CASES)
@given(data=st.data())
def test_scalar_and_tensor_paths_agree(name: str, params: dict[str, float],
                                       data: st.DataObject) -> None:
    """Python floats take `math`, arrays numpy: values and gradients agree element by element."""
    shape = data.draw(shapes(min_dims=1, max_dims=2), label="shape")
    x = data.draw(arrays_away_from(kinks(name), shape=shape, low=-50.0, high=50.0,
                                   margin=1e-6), label="x")
    upstream = np.random.default_rng(data.draw(st.integers(0, 1000))).normal(size=shape)
    f = function(name, params)
    tensor = Value(x)
    out = f(tensor)
    out.backward(upstream)
    for index in np.ndindex(shape):
        scalar = Value(float(x[index]))
        result = f(scalar)
        assert type(result.data) is float
        np.testing.assert_allclose(result.data, cast(Array, out.data)[index], rtol=1e-13,
                                   atol=1e-305)
        (result * float(upstream[index])).backward()
        np.testing.assert_allclose(scalar.grad, tensor.grad[index], rtol=1e-13, atol=1e-305)


# ---- extreme inputs ---------------------------------------------------------------------------

EXTREMES = sorted({s * m for m in (0.0, 1e-300, 1e-8, 0.5, 1.0, 2.0, 10.0, 20.0, 30.0, 37.0,
                                   38.0, 40.0, 100.0, 700.0, 709.0, 745.0, 1000.0, 1e4)
                   for s in (1.0, -1.0)})


@pytest.mark.parametrize(("name", "params"), CASES)
def test_extreme_values_are_finite_and_accurate(name: str, params: dict[str, float]) -> None:
    f = function(name, params)
    tensor_out = cast(Array, f(Value(np.array(EXTREMES))).data)
    for i, x in enumerate(EXTREMES):
        (exact, scale), _, _ = reference(name, params, x)
        assert_accurate(f(Value(x)).data, exact, scale, f"{name}({x!r}) on a scalar")
        assert_accurate(tensor_out[i], exact, scale, f"{name}({x!r}) in a tensor")


def check_gradients(name: str, params: dict[str, float], xs: list[float]) -> None:
    f = function(name, params)
    upstream = np.random.default_rng(0).uniform(0.5, 2.0, size=len(xs))
    tensor = Value(np.array(xs))
    f(tensor).backward(upstream)
    for i, x in enumerate(xs):
        _, (exact, scale), _ = reference(name, params, x)
        scalar = Value(x)
        f(scalar).backward()
        assert_accurate(scalar.grad, exact, scale, f"{name}'({x!r}) on a scalar")
        u = Decimal(float(upstream[i]))
        assert_accurate(tensor.grad[i], u * exact, u * scale, f"{name}'({x!r}) in a tensor")


def check_second_derivatives(name: str, params: dict[str, float], xs: list[float]) -> None:
    f = function(name, params)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=len(xs))
    _, tensor_second = first_and_second(f, np.array(xs), weights)
    for i, x in enumerate(xs):
        _, _, (exact, scale) = reference(name, params, x)
        _, second = first_and_second(f, x)
        assert_accurate(second, exact, scale, f"{name}''({x!r}) on a scalar")
        w = Decimal(float(weights[i]))
        assert_accurate(tensor_second[i], w * exact, w * scale, f"{name}''({x!r}) in a tensor")


@pytest.mark.parametrize(("name", "params"), CASES)
def test_extreme_gradients_are_finite_and_accurate(name: str, params: dict[str, float]) -> None:
    check_gradients(name, params, EXTREMES)


def smooth_points(name: str) -> list[float]:
    """The extreme points, less the kinks (no second derivative there)."""
    return [x for x in EXTREMES if x not in kinks(name)]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_extreme_second_derivatives_are_finite(name: str, params: dict[str, float]) -> None:
    f = function(name, params)
    weights = np.ones(len(EXTREMES))
    first, second = first_and_second(f, np.array(EXTREMES), weights)
    assert np.all(np.isfinite(first)) and np.all(np.isfinite(second))
    for x in EXTREMES:
        first_s, second_s = first_and_second(f, x)
        assert math.isfinite(first_s) and math.isfinite(second_s), (name, x)


@pytest.mark.parametrize(("name", "params"), CASES)
def test_extreme_second_derivatives_are_accurate(name: str, params: dict[str, float]) -> None:
    check_second_derivatives(name, params, smooth_points(name))


@pytest.mark.parametrize(("name", "params"), CASES)
@given(x=extreme_floats)
def test_random_inputs_values_accurate(name: str, params: dict[str, float], x: float) -> None:
    f = function(name, params)
    (exact, scale), _, _ = reference(name, params, x)
    assert_accurate(f(Value(x)).data, exact, scale, f"{name}({x!r})")
    assert_accurate(cast(Array, f(Value([x, x])).data)[1], exact, scale, f"{name}([{x!r}])")


@pytest.mark.parametrize(("name", "params"), CASES)
@given(x=extreme_floats)
@example(x=-40.0)  # where elu's rule once cancelled to 0 (out + α)
def test_random_inputs_gradients_accurate(name: str, params: dict[str, float], x: float) -> None:
    check_gradients(name, params, [x])
    if x not in kinks(name):
        check_second_derivatives(name, params, [x])


@pytest.mark.parametrize("name", ["elu", "selu"])
def test_elu_gradient_far_left_keeps_its_digits(name: str) -> None:
    """elu'(x) = α·eˣ for x < 0: at -40 that is 4.25e-18·α, not 0.

    A regression test: the rule once computed α·eˣ as out + α = α(eˣ − 1) + α, which cancels
    (elu'(-40) came out 0.0, elu'(-30) 9.35918e-14 instead of 9.357623e-14).
    """
    alpha = SELU_LAMBDA * SELU_ALPHA if name == "selu" else 1.0
    for x in (-40.0, -30.0, -20.0):
        v = Value(x)
        ACTIVATIONS[name](v).backward()
        assert v.grad == pytest.approx(alpha * math.exp(x), rel=1e-13, abs=0.0), (x, v.grad)


def test_issue_examples() -> None:
    """The stability examples of issue 3, one by one."""
    v = Value(-1000.0)
    out = act.sigmoid(v)
    out.backward()
    assert out.data == 0.0 and v.grad == 0.0
    softplus_40 = act.softplus(Value(-40.0)).data
    assert softplus_40 == pytest.approx(4.248354255291589e-18, rel=1e-14, abs=0.0)
    v = Value(1000.0)
    out = act.softplus(v)
    out.backward()
    assert out.data == 1000.0 and v.grad == 1.0
    v = Value(20.0)
    act.tanh(v).backward()
    assert v.grad == pytest.approx(4 * math.exp(-40.0), rel=1e-13, abs=0.0)
    v = Value(40.0)
    act.sigmoid(v).backward()
    assert v.grad == pytest.approx(math.exp(-40.0) / (1 + math.exp(-40.0)) ** 2, rel=1e-14, abs=0.0)
    assert act.gelu(Value(-10.0)).data == pytest.approx(-7.6198530241605e-23, rel=1e-12, abs=0.0)
    t = Value([-1000.0, -40.0, 1000.0])
    act.softplus(t).backward(np.ones(3))
    assert t.grad.tolist() == [0.0, pytest.approx(4.248354255291589e-18, rel=1e-14, abs=0.0), 1.0]


# ---- the lecture: why Rosenblatt needed his own rule -----------------------------------------


def train_neuron(activation: Callable[[Value], Value], epochs: int = 5) -> tuple[Any, Any]:
    """Gradient descent on the squared error of one neuron over the AND gate."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 0.0, 0.0, 1.0])
    w, b = Value([0.3, -0.2]), Value(0.1)
    start = (cast(Array, w.data).copy(), b.data)
    for _ in range(epochs):
        w.zero_grad()
        b.zero_grad()
        loss = ((activation(cast(Value, x @ w) + b) - y) ** 2).sum()
        loss.backward()
        w.data = w.data - 0.5 * w.grad
        b.data = b.data - 0.5 * b.grad
    return start, (w.data, b.data)


def test_gradient_descent_through_step_never_changes_the_weights() -> None:
    (w0, b0), (w1, b1) = train_neuron(act.step)
    assert w1.tolist() == w0.tolist() and b1 == b0  # the loss is not zero: the rule is blind
    (w0, b0), (w1, b1) = train_neuron(act.sigmoid)
    assert w1.tolist() != w0.tolist() and b1 != b0


# ---- get_activation and the Value methods ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_get_activation_by_name(name: str) -> None:
    assert get_activation(name) is ACTIVATIONS[name]
    assert get_activation(name.upper()) is ACTIVATIONS[name]
    assert isinstance(ACTIVATIONS[name], Activation) and ACTIVATIONS[name].name == name


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_get_activation_by_alias(alias: str) -> None:
    assert get_activation(alias) is ACTIVATIONS[ALIASES[alias]]


def test_get_activation_passes_callables_through_and_none_is_identity() -> None:
    def cube(v: Value) -> Value:
        return v * v * v

    assert get_activation(cube) is cube
    assert get_activation(None) is ACTIVATIONS["identity"]


def test_get_activation_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="relu2") as info:
        get_activation("relu2")
    for name in ACTIVATIONS:
        assert name in str(info.value)
    with pytest.raises(TypeError):
        get_activation(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: x.leaky_relu("x"), r"leaky_relu: negative_slope must be a number; got 'x' "
                                  r"\(type str\)"),
    (lambda x: act.leaky_relu(x, Value(0.5)),  # type: ignore[arg-type]
     r"leaky_relu: negative_slope must be a number; got Value\(data=0.5, grad=0.0\) "
     r"\(type Value\)"),
    (lambda x: x.elu(alpha=None), r"elu: alpha must be a number; got None \(type NoneType\)"),
    (lambda x: act.elu(x, True), r"elu: alpha must be a number; got True \(type bool\)"),
])
def test_a_parameter_that_is_not_a_number_is_refused(call: Callable[[Value], Value],
                                                      message: str) -> None:
    """(A Value parameter would get no gradient: refused, not silently made a number.)"""
    with pytest.raises(TypeError, match=f"^{message}$"):
        call(Value(-2.0))
    slope: Any = np.float32(0.5)  # numbers of any kind are taken
    alpha: Any = np.int64(1)
    assert Value(-2.0).leaky_relu(slope).data == -1.0
    assert Value(-2.0).elu(alpha).data == math.expm1(-2.0)


def test_activation_names_resolves_case_and_aliases_and_defaults_to_all_but_identity() -> None:
    assert activation_names(["TANH", "linear", *ALIASES]) == [
        "tanh", "identity", *ALIASES.values()]
    assert activation_names() == [name for name in ACTIVATIONS if name != "identity"]


def test_activation_names_lists_every_unknown_name_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown activations 'nope', 3; known activations: "
                                         r"elu, gelu, identity, leaky_relu"):
        activation_names(["relu", "nope", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no activation given; known activations"):
        activation_names([])
    with pytest.raises(TypeError, match="list of names"):
        activation_names("relu")  # type: ignore[arg-type]


METHOD_CASES = [c for c in CASES if c.values[0] != "identity"]


@pytest.mark.parametrize(("name", "params"), METHOD_CASES)
@given(data=st.data())
def test_value_methods_match_the_functions(name: str, params: dict[str, float],
                                           data: st.DataObject) -> None:
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]), label="shape")
    x = data.draw(arrays_away_from(kinks(name), shape=shape, low=-50.0, high=50.0), label="x")
    by_method, by_function = Value(x), Value(x)
    args = list(params.values())
    out_m = getattr(by_method, name)(*args)
    out_f = function(name, params)(by_function)
    np.testing.assert_array_equal(out_m.data, out_f.data)
    upstream = 1.0 if shape == () else np.linspace(-1.0, 2.0, int(np.prod(shape))).reshape(shape)
    out_m.backward(None if shape == () else upstream)
    out_f.backward(None if shape == () else upstream)
    np.testing.assert_array_equal(by_method.grad, by_function.grad)
