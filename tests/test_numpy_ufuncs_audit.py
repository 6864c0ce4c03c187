"""Audit of numpy's ufuncs given Values (`arrays.numpy_ufunc`): the edges.

A ufunc method that writes into an array (``np.add.at(array, i, v)``) or a ufunc with
``out=`` a float array must not write a Value's numbers there without their gradient (and,
when refused, must leave the array as it was); numpy scalars on either side of an operator
give a Value with its gradient.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, no_grad

AT: list[Callable[..., Any]] = [np.add.at, np.multiply.at, np.maximum.at, np.subtract.at]


@pytest.mark.parametrize("at", AT, ids=lambda f: f.__self__.__name__)
def test_ufunc_at_refuses_to_write_a_value_that_needs_a_gradient(at: Any) -> None:
    """Before: np.add.at(array, i, v) wrote v's numbers into the array, silently without
    their gradient (``array += v`` is refused)."""
    array = np.array([10.0, 20.0])
    v = Value([1.5, -2.5])
    with pytest.raises(TypeError, match=r"\.at would write .*v\.data"):
        at(array, [0, 1], v)
    assert array.tolist() == [10.0, 20.0]


@pytest.mark.parametrize("where", ["no_grad", "constant"])
def test_ufunc_at_writes_numbers_that_carry_no_gradient(where: str) -> None:
    """Regression test: a Value whose numbers carry no gradient is written as numbers."""
    array = np.zeros(2)
    if where == "no_grad":
        v = Value([1.5, -2.5])
        with no_grad():
            np.add.at(array, [0, 1], v)
    else:
        np.add.at(array, [0, 1], Value([1.5, -2.5], requires_grad=False))
    assert array.tolist() == [1.5, -2.5]


OUT_CALLS: dict[str, Callable[[Value, np.ndarray], Any]] = {
    "floor": lambda v, a: np.floor(v, out=a),
    "sign": lambda v, a: np.sign(v, out=a),
    "fabs": lambda v, a: np.fabs(v, out=(a,)),
    "add.reduce": lambda v, a: np.add.reduce(v, out=a[:1].reshape(())),
    "add.accumulate": lambda v, a: np.add.accumulate(v, out=a),
    "modf": lambda v, a: np.modf(v, out=(a, np.zeros(2))),
    "isnan into floats": lambda v, a: np.isnan(v, out=a),
}


@pytest.mark.parametrize("call", list(OUT_CALLS.values()), ids=list(OUT_CALLS))
def test_refused_out_array_is_left_as_it_was(call: Callable[[Value, np.ndarray], Any]) -> None:
    """Before: numpy wrote the numbers into the out= array, then the call was refused: the
    user's array changed although the call failed."""
    array = np.array([7.0, 8.0])
    with pytest.raises(TypeError, match=r"out= an array of float64 \(shape"):
        call(Value([1.5, -2.5]), array)
    assert array.tolist() == [7.0, 8.0]


def test_out_array_of_booleans_still_gets_its_answer() -> None:
    """Regression test: a result without a gradient (np.isnan) may go into out= an array."""
    flags = np.ones(2, dtype=bool)
    result = np.isnan(Value([1.5, np.nan]), out=flags)
    assert result is flags and flags.tolist() == [False, True]


def test_out_array_without_gradient_is_written() -> None:
    """Regression test: inside no_grad() numpy's numbers go into out= as they did."""
    array = np.zeros(2)
    with no_grad():
        np.floor(Value([1.5, -2.5]), out=array)
    assert array.tolist() == [1.0, -3.0]


SCALARS = [np.float64, np.float32, np.int64, np.bool_, np.float16, np.uint8]
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow,
}


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(SCALARS), name=st.sampled_from(sorted(OPERATORS)),
       number=st.integers(1, 3), data=st.floats(0.5, 4.0), tensor=st.booleans(),
       left=st.booleans())
def test_numpy_scalar_operator_value_is_a_value_with_its_gradient(
        kind: type, name: str, number: int, data: float, tensor: bool, left: bool) -> None:
    """Regression test: a numpy scalar on either side of an operator gives what a Python
    number gives there, a Value with the same numbers and gradient."""
    op = OPERATORS[name]
    scalar = kind(number)
    plain = float(scalar)
    given_ = Value([data, data + 1.0] if tensor else data)
    reference = Value([data, data + 1.0] if tensor else data)
    result = op(scalar, given_) if left else op(given_, scalar)
    expected = op(plain, reference) if left else op(reference, plain)
    assert isinstance(result, Value)
    np.testing.assert_allclose(result.data, expected.data, rtol=1e-12)
    result.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(given_.grad, reference.grad, rtol=1e-12)


def test_ufunc_edges_pinned() -> None:
    """Regression test: nan propagates through np.maximum as numpy's does; np.absolute's
    gradient at 0 is 0 (the README's convention); 1-D @ 1-D is a scalar Value."""
    x = Value([np.nan, 1.0, 0.0])
    assert np.isnan(np.maximum(x, 0.0).data[0]) and np.isnan(np.maximum(0.0, x).data[0])
    np.absolute(x).sum().backward()
    assert x.grad[2] == 0.0
    w = Value([1.0, 2.0])
    assert np.matmul(w, np.array([3.0, 4.0])).data == 11.0


def test_masked_array_times_value_keeps_the_gradient() -> None:
    """Before 17d0b0c, np.ma deferred to Value.__rmul__ (a Value); with __array_ufunc__ a
    method it read the Value's `_data` itself and gave a MaskedArray of numbers: the gradient
    was lost. On a Value, __array_ufunc__ reads None again (numpy finds it on the class)."""
    v = Value([1.0, 2.0])
    result = np.ma.array([3.0, 4.0]) * v
    assert isinstance(result, Value)
    result.sum().backward()
    assert v.grad.tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match=r"masked array .* 1 of its 2 entries masked"):
        np.ma.array([3.0, 4.0], mask=[False, True]) + v


OBJECT_CALLS: dict[str, Callable[[Value], Any]] = {
    "fmax dtype=object": lambda v: np.fmax(v, 0.0, dtype=object),
    "sign dtype='O'": lambda v: np.sign(v, dtype="O"),
    "remainder signature": lambda v: np.remainder(v, 1.0, signature="OO->O"),
    "add.accumulate": lambda v: np.add.accumulate(v, dtype=np.dtype(object)),
    "multiply.outer": lambda v: np.multiply.outer(v, v, dtype=object),
    "floor out=objects": lambda v: np.floor(v, out=np.empty(v.shape, dtype=object)),
}


@pytest.mark.parametrize("call", list(OBJECT_CALLS.values()), ids=list(OBJECT_CALLS))
def test_object_loop_is_refused_where_a_gradient_is_needed(call: Callable[[Value], Any]) -> None:
    """Before: numpy's object loop returned an object array of Python floats, which the check
    for float results let through: numbers silently without the gradient."""
    with pytest.raises(TypeError, match=r"object"):
        call(Value([1.5, -2.5]))


def test_object_loop_runs_where_no_gradient_is_needed() -> None:
    """Regression test: a Value that needs no gradient gives numpy's object array."""
    result = np.fmax(Value([1.5, -2.5], requires_grad=False), 0.0, dtype=object)
    assert result.dtype == object and result.tolist() == [1.5, 0.0]


@pytest.mark.parametrize("func", [np.cumsum, np.cumprod])
def test_a_numpy_function_giving_python_floats_in_an_object_array_is_refused(
        func: Callable[..., Any]) -> None:
    """``np.cumsum(v, dtype=object)`` gave an object array of Python floats, without the
    gradient (the check looked for float dtypes only); without a gradient it still runs."""
    with pytest.raises(TypeError, match=r"has no Value equivalent"):
        func(Value([1.5, -2.5]), dtype=object)
    assert func(Value([1.5, -2.5], requires_grad=False), dtype=object).dtype == object
