"""numpy's ufuncs given Values (`Value.__array_ufunc__`, `arrays.numpy_ufunc`).

``np.exp(v)`` is ``v.exp()``, with its gradient; ``array * v`` is ``v.__rmul__(array)``, as
before; a ufunc without a Value equivalent runs on the data where its result cannot carry a
gradient, else it is refused; numpy writing a result into an array (``out=``, ``array += v``)
is refused. Before, every ufunc given a Value failed with numpy's "operand 'Value' does not
support ufuncs (__array_ufunc__=None)".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_edu
from tinygrad_edu import Value, no_grad
from tinygrad_edu.engine import Primitive
from tinygrad_edu.functional import grad

# ufunc: (the Value's own operation, the domain drawn for it)
POSITIVE = st.floats(0.01, 100.0)
ANY = st.floats(-50.0, 50.0)
UNARY: dict[str, tuple[Callable[[Value], Value], Any]] = {
    "exp": (lambda v: v.exp(), ANY),
    "log": (lambda v: v.log(), POSITIVE),
    "sqrt": (lambda v: v.sqrt(), POSITIVE),
    "absolute": (lambda v: v.abs(), ANY),
    "tanh": (lambda v: v.tanh(), ANY),
    "sin": (lambda v: v.sin(), ANY),
    "cos": (lambda v: v.cos(), ANY),
    "log1p": (lambda v: v.log1p(), POSITIVE),
    "expm1": (lambda v: v.expm1(), ANY),
    "negative": (lambda v: -v, ANY),
    "positive": (lambda v: +v, ANY),
    "square": (lambda v: v**2, ANY),
    "reciprocal": (lambda v: 1.0 / v, POSITIVE),
}


def _same(x: Any, y: Any) -> bool:
    """Bit for bit: the same type (a float, or an array of one shape) and the same numbers."""
    if type(x) is not type(y):
        return False
    return bool(np.array_equal(x, y, equal_nan=True)) and np.shape(x) == np.shape(y)


def _run(op: Callable[[Value], Value], data: Any, upstream: Any) -> tuple[Any, Any, Any]:
    x = Value(data)
    y = op(x)
    y.backward(upstream if np.ndim(data) else None)
    return y.data, x.grad, y.op


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_ufunc_with_a_value_equivalent_is_that_operation_with_its_gradient(
        name: str, data: st.DataObject) -> None:
    ours, elements = UNARY[name]
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]))
    if shape:
        x = data.draw(arrays(np.float64, shape, elements=elements))
        upstream = data.draw(arrays(np.float64, shape, elements=st.floats(-2.0, 2.0)))
    else:
        x, upstream = data.draw(elements), None
    by_numpy = _run(getattr(np, name), x, upstream)
    by_value = _run(ours, x, upstream)
    assert _same(by_numpy[0], by_value[0]) and _same(by_numpy[1], by_value[1])
    assert by_numpy[2] is by_value[2]  # (the same primitive recorded)
    np.testing.assert_allclose(by_numpy[0], getattr(np, name)(x), rtol=1e-15)  # (numpy's)


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum])
def test_np_maximum_and_minimum_are_the_values_with_their_gradients(ufunc: np.ufunc) -> None:
    x = Value([1.0, -2.0, 3.0])
    y = ufunc(x, 0.0)
    y.sum().backward()
    assert isinstance(y, Value)
    np.testing.assert_array_equal(y.data, ufunc(np.array([1.0, -2.0, 3.0]), 0.0))
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0] if ufunc is np.maximum
                                  else [0.0, 1.0, 0.0])


OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a**b, "@": lambda a, b: a @ b,
}


@pytest.mark.parametrize("symbol", sorted(OPERATORS))
def test_an_array_on_the_left_of_an_operator_gives_the_values_reflected_operator(
        symbol: str) -> None:
    """Regression: ``array * v`` went to ``v.__rmul__(array)`` before, and must still."""
    op = OPERATORS[symbol]
    a = np.array([[0.5, 2.0], [1.5, 3.0]])
    results = []
    for left in (a, tinygrad_edu.engine.constant(a)):
        v = Value([[1.0, -0.5], [2.0, 0.25]])
        y = op(left, v)
        y.backward(np.ones(y.shape))
        results.append((y.data, v.grad, y.op))
    assert _same(results[0][0], results[1][0]) and _same(results[0][1], results[1][1])
    assert results[0][2] is results[1][2]


def test_a_numpy_number_on_the_left_gives_a_value() -> None:
    v = Value(3.0)
    y = np.float64(2.0) * v
    y.backward()
    assert isinstance(y, Value) and y.data == 6.0 and v.grad == 2.0


def test_an_array_compared_with_a_value() -> None:
    """``array == v`` compares the numbers, as ``v == array`` and ``array < v`` do (a Value
    with another Value: identity)."""
    a, v = np.array([1.0, 2.0]), Value([1.0, 2.0])
    for equal in (a == v, v == a, np.equal(a, v), np.equal(v, a)):
        np.testing.assert_array_equal(equal, [True, True])
    np.testing.assert_array_equal(a != v, [False, False])
    assert np.equal(v, v) is True and np.not_equal(v, Value([1.0, 2.0])) is True
    np.testing.assert_array_equal(a < v, [False, False])
    np.testing.assert_array_equal(np.array([0.0, 3.0]) <= v, [True, False])


def test_a_ufunc_whose_result_cannot_carry_a_gradient_runs_on_the_data() -> None:
    v = Value([1.0, math.nan, math.inf])
    np.testing.assert_array_equal(np.isnan(v), [False, True, False])
    np.testing.assert_array_equal(np.isfinite(v), [True, False, False])
    assert np.signbit(Value(-0.0)).item() is True and not np.signbit(Value(0.0)).item()


@pytest.mark.parametrize("call", [lambda v: np.floor(v), lambda v: np.arctan2(v, 1.0),
                                  lambda v: np.add.reduce(v), lambda v: np.multiply.outer(v, v),
                                  lambda v: np.array([1.0, 2.0]) // v],
                         ids=["floor", "arctan2", "add.reduce", "multiply.outer", "//"])
def test_a_ufunc_without_a_value_equivalent_is_refused_where_it_would_drop_the_gradient(
        call: Callable[[Value], Any]) -> None:
    with pytest.raises(TypeError, match=r"^np\.\w+(\.\w+)? has no Value equivalent: .*v\.data"):
        call(Value([1.0, 2.0]))
    with no_grad():  # (numbers without a gradient are what was asked for)
        assert isinstance(call(Value([1.0, 2.0])), np.ndarray | np.float64)
    assert isinstance(call(Value([1.0, 2.0], requires_grad=False)), np.ndarray | np.float64)


def test_numpy_writing_a_result_into_an_array_is_refused() -> None:
    a, v = np.array([1.0, 2.0]), Value([3.0, 4.0])
    before = a.copy()
    with pytest.raises(TypeError, match=r"np\.add with out= an array: .*`array = array \+ v`"):
        a += v
    with pytest.raises(TypeError, match=r"np\.exp with out= an array"):
        np.exp(v, out=a)
    np.testing.assert_array_equal(a, before)
    with pytest.raises(TypeError, match=r"np\.exp: out= is a Value"):
        np.exp(a, out=v)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"np\.add\.at changes its first argument in place"):
        np.add.at(v, [0], 1.0)


def test_keywords_numpy_would_use_are_refused_naming_them() -> None:
    with pytest.raises(TypeError, match=r"^np\.exp on a Value takes no keyword arguments; "
                                        r"got dtype=$"):
        np.exp(Value([1.0]), dtype=np.float32)
    with pytest.raises(TypeError, match=r"^np\.multiply on a Value takes no keyword "
                                        r"arguments; got where=$"):
        np.multiply(Value([1.0]), 2.0, where=np.array([True]))


def test_an_operand_no_operator_takes_is_named() -> None:
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for np\.add: 'Value' "
                                        r"and 'str'"):
        np.add(Value(1.0), "x")


def test_ufuncs_work_while_anomalies_are_detected() -> None:
    """The equivalents are looked up when called: detect_anomaly swaps Value's operators."""
    x = Value([0.5, 1.5])
    with tinygrad_edu.detect_anomaly():
        y = np.tanh(np.array([1.0, 2.0]) * x)
        y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 2.0] / np.cosh([0.5, 3.0]) ** 2, rtol=1e-12)


def test_a_rule_written_with_numpy_ufuncs_has_higher_derivatives() -> None:
    """A rule of np.exp gets Values under create_graph=True, where numpy refused them; now
    np.exp(x) is x.exp(), recorded. A ufunc without an equivalent is named."""
    my_exp = Primitive("my_exp", np.exp, lambda g, out, x: (g * np.exp(x),))
    assert grad(grad(lambda v: my_exp(v)))(0.5) == pytest.approx(math.exp(0.5), rel=1e-15)
    my_cbrt = Primitive("my_cbrt", np.cbrt, lambda g, out, x: (g / (3.0 * np.cbrt(x) ** 2),))
    assert grad(lambda v: my_cbrt(v))(8.0) == pytest.approx(1.0 / 12.0)
    with pytest.raises(TypeError, match=r"^np\.cbrt has no Value equivalent"):
        grad(grad(lambda v: my_cbrt(v)))(8.0)
