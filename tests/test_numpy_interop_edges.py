"""numpy interoperability audit: numpy's functions given Values (arrays.py), indexing
(methods.py) and `.grad` (storage.py) at their edges, against numpy and PyTorch float64.

Each test pins a bug found by the audit and failed before its fix, unless marked
"regression" (it passed already and guards what the fix must keep).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Value

# ---- an index array changed after the forward pass ------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-4, 3), min_size=1, max_size=6),
       st.lists(st.integers(-4, 3), min_size=1, max_size=6))
def test_changing_an_index_array_after_the_forward_pass_keeps_the_gradient(
        first: list[int], later: list[int]) -> None:
    """The graph kept the user's own index array: filling it with other indices before
    `backward()` sent the gradient to those (a buffer reused in a loop gave [0, 0, 6] for
    [2, 2, 2]). The gradient must scatter-add to the indices used, as PyTorch's."""
    data = np.array([1.0, -2.0, 3.0, 0.5])
    index = np.array(first)
    x = Value(data.copy())
    y = x[index]
    index[: len(later)] = later[: len(index)]  # the same buffer, reused
    upstream = np.arange(1.0, len(first) + 1)
    y.backward(upstream)
    xt = torch.tensor(data, requires_grad=True)
    torch.autograd.backward(xt[torch.tensor(first)], torch.tensor(upstream))
    assert xt.grad is not None
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_changing_a_mask_after_the_forward_pass_keeps_the_gradient() -> None:
    x = Value([1.0, 2.0, 3.0])
    mask = np.array([True, False, False])
    y = x[:, None][mask]
    mask[:] = [False, True, True]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0])


def test_changing_an_index_values_data_after_the_forward_pass_keeps_the_gradient() -> None:
    """Regression: a Value's data as an index (converted to integers) is the graph's own."""
    x, index = Value([1.0, 2.0, 3.0]), Value([0.0, 0.0], requires_grad=False)
    y = x[index]
    np.asarray(index.data)[:] = 2.0  # (legal: no rule reads an index's data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 0.0])


def test_a_scalar_value_indexes_as_its_integer_as_a_tensor_value_does() -> None:
    """``x[Value([1.0])]`` worked but ``x[Value(1.0)]`` (an element of one, when iterating)
    said 'indices must be integers ... got 1.0'."""
    x = Value([[1.0, 2.0], [3.0, 4.0]])
    y = x[Value(1.0)] * 2.0 + x[Value(1.0), Value(0.0)]
    np.testing.assert_array_equal(y.data, [9.0, 11.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0], [4.0, 2.0]])
    with pytest.raises(TypeError, match="integers"):
        x[Value(0.5)]


# ---- numpy's functions that change an argument in place ----------------------------------

IN_PLACE: dict[str, Callable[[Any], Any]] = {
    "copyto": lambda v: np.copyto(v, np.zeros((2, 2))),
    "put": lambda v: np.put(v, [0], [9.0]),
    "putmask": lambda v: np.putmask(v, np.eye(2, dtype=bool), 0.0),
    "place": lambda v: np.place(v, np.array([[True, False], [False, False]]), [9.0]),
    "fill_diagonal": lambda v: np.fill_diagonal(v, 0.0),
}


@pytest.mark.parametrize("name", IN_PLACE)
def test_numpy_functions_that_change_a_value_in_place_are_refused(name: str) -> None:
    """They changed a copy of the data and returned None: the Value was silently left as it
    was (np.copyto(v, zeros) did nothing)."""
    before = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = Value(before.copy())
    with pytest.raises(TypeError, match=rf"np\.{name} changes its first argument in place.*"
                                        rf"np\.{name}\(v\.data"):
        IN_PLACE[name](v)
    np.testing.assert_array_equal(v.data, before)
    IN_PLACE[name](v.data)  # what the message suggests changes it
    assert not np.array_equal(v.data, before)


def test_a_value_as_out_is_refused_even_without_a_gradient() -> None:
    """``np.cumsum(a, out=v)`` with no gradient to lose filled a copy, left `v` unchanged
    and returned the copy."""
    v = Value(np.zeros(3))
    with tinygrad_edu.no_grad(), pytest.raises(TypeError, match="out= is a Value"):
        np.cumsum(np.ones(3), out=v)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="out= is a Value"):
        np.cumsum(np.ones(3), out=Value(np.zeros(3), requires_grad=False))  # type: ignore[call-overload]
    np.testing.assert_array_equal(v.data, np.zeros(3))


def test_a_value_given_as_the_source_of_an_in_place_function_still_works() -> None:
    """Regression: the Value is only read there (its numbers, as np.array(v) gives them)."""
    target = np.zeros(3)
    np.copyto(target, Value([1.0, 2.0, 3.0]))
    np.put(target, [0], Value([9.0]))
    np.testing.assert_array_equal(target, [9.0, 2.0, 3.0])


# ---- numpy's parameters mapped onto the Value's -------------------------------------------


def test_np_clip_given_a_bound_twice_is_refused_as_numpy_does() -> None:
    """``np.clip(v, 0, 4, min=1)`` silently clipped at 1 (numpy refuses both a_min and min)."""
    v = Value([0.0, 2.0, 5.0])
    with pytest.raises(ValueError):
        np.clip(v.data, 0.0, 4.0, min=1.0)
    with pytest.raises(TypeError, match=r"np\.clip: a_min= and min= are one parameter"):
        np.clip(v, 0.0, 4.0, min=1.0)


def test_an_extra_keyword_of_np_clip_is_named() -> None:
    """The refusal said 'got kwargs=' (numpy's **kwargs), not the keyword given."""
    with pytest.raises(TypeError, match=r"takes only a, a_min, a_max, min, max; got casting=$"):
        np.clip(Value([1.0, 2.0]), 0.0, 1.0, casting="unsafe")


@pytest.mark.parametrize("axis", [(0, 2), (0, -1), [1], (), 2, -3, (3, 0, -1)])
def test_np_expand_dims_takes_numpy_axes_and_keeps_the_gradient(axis: Any) -> None:
    """A tuple of axes was refused with 'unsqueeze: axis must be an int', a method the user
    did not call (numpy takes a tuple). (The int axes are regression cases.)"""
    data = np.arange(6.0).reshape(2, 3)
    x = Value(data.copy())
    y = np.expand_dims(x, axis)
    assert isinstance(y, Value) and y.shape == np.expand_dims(data, axis).shape
    upstream = np.arange(1.0, 7.0).reshape(y.shape)
    y.backward(upstream)
    xt = torch.tensor(data, requires_grad=True)
    torch.autograd.backward(torch.reshape(xt, y.shape), torch.tensor(upstream))
    assert xt.grad is not None
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


@pytest.mark.parametrize(("axis", "error", "message"), [
    ((0, 0), ValueError, r"np\.expand_dims .*repeats an axis"),
    (4, ValueError, r"np\.expand_dims .*axis 4 is out of range"),
    (1.0, TypeError, r"np\.expand_dims: axis must be an int or a tuple of ints"),
])
def test_np_expand_dims_refuses_bad_axes_naming_itself(axis: Any, error: type[Exception],
                                                      message: str) -> None:
    with pytest.raises(error, match=message):
        np.expand_dims(Value(np.zeros((2, 3))), axis)


# ---- .grad -------------------------------------------------------------------------------


def test_a_gradient_value_of_another_shape_is_refused() -> None:
    """``x.grad = Value(...)`` was stored whatever its shape, and backward() then added
    to it by broadcasting: [5.] + [3., 3.] gave [8., 8.]. PyTorch refuses the assignment."""
    x = Value([1.0, 2.0])
    with pytest.raises(ValueError, match=r"grad must have shape \(2,\); got \(1,\)"):
        x.grad = Value([5.0])
    with pytest.raises(ValueError, match=r"grad must have shape \(\); got \(2,\)"):
        Value(1.0).grad = Value([1.0, 2.0])
    x.grad = Value([5.0, 6.0], requires_grad=False)  # regression: the right shape is kept
    assert isinstance(x.grad, Value)


# ---- index errors name the Value's shape and the index given ----------------------------------


@pytest.mark.parametrize(("index", "error", "says"), [
    ([[0, 1], [0]], IndexError, "inhomogeneous"),  # a ragged list (numpy's bare ValueError)
    (slice(0.5, 2), TypeError, "slice indices must be integers"),  # (Python's bare TypeError)
    (0.5, TypeError, "indices must be integers"),
])
def test_a_bad_index_names_the_shape_and_the_index(index: Any, error: type[Exception],
                                                   says: str) -> None:
    with pytest.raises(error, match=r"cannot index a Value of shape \(2, 3\) with ") as raised:
        _ = Value(np.zeros((2, 3)))[index]
    assert says in str(raised.value)
