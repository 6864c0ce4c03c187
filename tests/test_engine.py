"""Value: construction, the public API, backward, higher order, memory, and bad input."""

from __future__ import annotations

import contextlib
import gc
import math
import re
import sys
import threading
import weakref
from collections.abc import Callable, Generator
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Value, concatenate, grad, gradients, no_grad, stack, where
from tinygrad_edu.data import Array
from tinygrad_edu.engine import backpropagate, topological_order
from tinygrad_edu.testing import gradcheck

# ---- construction ------------------------------------------------------------------------


def test_scalars_hold_python_floats() -> None:
    for data in (3, 3.0, np.float32(3.0), np.int64(3), True, np.array(3.0)):
        v = Value(data)
        assert type(v.data) is float and type(v.grad) is float
        assert v.grad == 0.0 and v.shape == () and v.ndim == 0 and v.size == 1
    assert Value(2).data == 2.0


def test_tensors_hold_float64_arrays() -> None:
    for data in ([[1, 2], [3, 4]], np.arange(4).reshape(2, 2), np.ones((2, 2), np.float32)):
        v = Value(data)
        assert isinstance(v.data, np.ndarray) and v.data.dtype == np.float64
        assert v.shape == (2, 2) and v.ndim == 2 and v.size == 4 and len(v) == 2
        assert v.grad.shape == (2, 2) and not v.grad.any()


def test_construction_copies_the_array() -> None:
    source = np.ones(3)
    v = Value(source)
    source[0] = 5.0
    assert cast(Array, v.data)[0] == 1.0


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        ("2.0", TypeError, "str"),
        (None, TypeError, "None"),
        ([1, [2, 3]], ValueError, "ragged"),
        ([[1, 2], [3]], ValueError, "ragged"),
        (np.array([1, "a"], dtype=object), TypeError, "object"),
        (["a", "b"], TypeError, "<U1"),
        (1 + 2j, TypeError, "complex"),
        (np.array([1 + 2j]), TypeError, "dtype complex128"),  # (not its real part, silently)
        ({1: 2}, TypeError, "dict"),
    ],
)
def test_bad_data_is_refused_with_a_clear_message(data: Any, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        Value(data)


def test_value_of_value_is_refused() -> None:
    with pytest.raises(TypeError, match=r"not a Value.*\.data"):
        Value(Value(1.0))


def test_labels_and_requires_grad() -> None:
    v = Value(1.0, label="w")
    assert v.label == "w" and v.requires_grad
    v.label = "w1"
    assert v.label == "w1"
    assert not Value(1.0, requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]
    numpy_false: Any = np.bool_(False)  # (a numpy bool is taken)
    assert not Value(1.0, requires_grad=numpy_false).requires_grad


@pytest.mark.parametrize("flag", ["no", "False", 0, 1, None, [True]])
def test_requires_grad_must_be_a_bool(flag: Any) -> None:
    """A string such as "no" is truthy: taken as a flag it would record the graph it
    refuses (PyTorch refuses anything but a bool too)."""
    with pytest.raises(TypeError, match=rf"requires_grad must be True or False; got "
                                        rf"{re.escape(repr(flag))} \(type "):
        Value(1.0, requires_grad=flag)


@pytest.mark.parametrize("tensor", [False, True])
def test_requires_grad_of_a_computed_value_cannot_be_switched_off(tensor: bool) -> None:
    """A computed Value sends its operands their gradients: switching it off dropped them
    silently (x.grad stayed 0); it raises, as PyTorch does, and the pass is unharmed."""
    x = Value([1.0, 2.0] if tensor else 1.5, label="x")
    w = Value([3.0, 4.0] if tensor else -2.0)
    h = x * 2.0
    h.label = "h"
    y = (h * w).sum()
    with pytest.raises(RuntimeError, match=r"requires_grad: cannot set it to False on h "
                                           r"\((shape \(2,\)|a scalar), made by mul\): only a "
                                           r"leaf's .*\.detach\(\)"):
        h.requires_grad = False
    h.requires_grad = True  # (it requires grad already: nothing changes)
    assert h.requires_grad and y.requires_grad
    y.backward()
    assert np.array_equal(x.grad, [6.0, 8.0] if tensor else -4.0)


def test_requires_grad_of_a_leaf_can_be_switched() -> None:
    """A leaf's flag changes both ways (a leaf made in no_grad(), then a parameter; a frozen
    parameter); a flag that is no bool is refused, as in the constructor."""
    with no_grad():
        w = Value([1.0, 2.0]) * 1.0  # a leaf: a constant, made with recording off
    assert w.op is None and not w.requires_grad
    w.requires_grad = True
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]
    v = Value(3.0)
    numpy_false: Any = np.bool_(False)  # (a numpy bool is taken)
    v.requires_grad = numpy_false
    assert v.requires_grad is False
    (v * Value(2.0)).backward()
    assert v.grad == 0.0
    with pytest.raises(TypeError, match=r"requires_grad must be True or False; got 'no' "):
        v.requires_grad = "no"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"requires_grad must be True or False; got 1 "):
        (v * w).requires_grad = 1  # type: ignore[assignment]
    assert not v.requires_grad


def test_retain_graph_is_taken_as_pytorchs_and_the_graph_kept() -> None:
    """`loss.backward(retain_graph=True)`, PyTorch's, gave "unexpected keyword argument"; the
    graph is always kept here, so the flag is taken (checked) and changes nothing."""
    x = Value(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward(retain_graph=False)
    assert x.grad == 8.0
    with pytest.raises(TypeError, match=r"backward\(\): retain_graph must be True or False; "
                                        r"got 'yes'"):
        y.backward(retain_graph="yes")  # type: ignore[arg-type]


def test_create_graph_must_be_a_bool() -> None:
    # a string was taken as True: "no" recorded the pass
    x = Value(2.0)
    with pytest.raises(TypeError, match=r"backward\(\): create_graph must be True or False; "
                                        r"got 'no' \(type str\)"):
        (x * x).backward(create_graph="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"gradients: create_graph must be True or False; got 1"):
        gradients(x * x, [x], create_graph=1)  # type: ignore[arg-type]
    assert x.grad == 0.0
    (x * x).backward(create_graph=np.bool_(True))  # type: ignore[arg-type]
    assert isinstance(x.grad, Value) and gradients(x * x, [x], create_graph=False) == [4.0]


def test_item_numpy_float_len_iter() -> None:
    s, t = Value(2.5), Value([[1.0, 2.0], [3.0, 4.0]])
    assert s.item() == 2.5 and float(s) == 2.5 and Value([7.0]).item() == 7.0
    assert isinstance(s.numpy(), np.ndarray) and s.numpy().shape == ()
    np.testing.assert_array_equal(t.numpy(), t.data)
    assert t.numpy() is not t.data
    rows = list(t)
    assert len(rows) == 2 and rows[1].data.tolist() == [3.0, 4.0]
    with pytest.raises(TypeError, match="scalar"):
        len(s)
    with pytest.raises(ValueError, match=r"one element.*\(2, 2\)"):
        t.item()


@pytest.mark.parametrize(("convert", "name", "of_one"), [
    (Value.item, "item()", -2.5), (float, "float()", -2.5), (int, "int()", -2),
    (round, "round()", -2), (math.floor, "math.floor()", -3), (math.ceil, "math.ceil()", -2),
    (math.trunc, "math.trunc()", -2), (math.exp, "float()", math.exp(-2.5))])
def test_a_conversion_of_many_numbers_names_itself(convert: Callable[[Value], Any], name: str,
                                                   of_one: float) -> None:
    assert convert(Value([-2.5])) == of_one  # (one number: as the number converts)
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} needs a Value with one "
                                         r"element; this one has shape \(2,\)$"):
        convert(Value([1.0, 2.0]))


def test_repr() -> None:
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, label="w")) == "Value(data=2.0, grad=0.0, label='w')"
    assert repr(Value([1.0], label="x")).endswith(", label='x')")
    text = repr(Value([1.0, 2.0]))
    assert text == "Value(shape=(2,), data=[1., 2.], grad=[0., 0.])"
    big = repr(Value(np.zeros((100, 100))))
    assert "shape=(100, 100)" in big and len(big) < 300 and "\n" not in big


# ---- micrograd's own numbers ---------------------------------------------------------------


def test_micrograd_sanity_check() -> None:
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0 and x.grad == 46.0


def micrograd_readme_program(value_cls: Any) -> tuple[float, float, float]:
    a = value_cls(-4.0)
    b = value_cls(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


def test_micrograd_readme_example() -> None:
    g, da, db = micrograd_readme_program(Value)
    assert f"{g:.4f} {da:.4f} {db:.4f}" == "24.7041 138.8338 645.5773"


def micrograd_more_ops_program(value_cls: Any) -> tuple[float, float, float]:
    a = value_cls(-4.0)
    b = value_cls(2.0)
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


@pytest.mark.parametrize("program", [micrograd_readme_program, micrograd_more_ops_program])
def test_same_numbers_as_micrograd_itself(program: Any) -> None:
    """micrograd's programs, run on micrograd and on tinygrad_edu, import changed only."""
    import micrograd.engine

    ours, theirs = program(Value), program(micrograd.engine.Value)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_micrograd_graph_attributes() -> None:
    """micrograd's drawing code reads `_prev` (a set of operands) and `_op` (a string)."""
    a = Value(2.0)
    b = a * a + 1
    assert b._op == "+" and len(b._prev) == 2
    assert next(iter(v for v in b._prev if v._op == "*"))._prev == {a}
    assert a._op == "" and a._prev == set()


# ---- backward -----------------------------------------------------------------------------


def test_a_value_used_twice_gets_both_contributions() -> None:
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0
    b = Value(3.0)
    (b + b + b).backward()
    assert b.grad == 3.0


def test_backward_twice_gives_exactly_twice_the_gradients() -> None:
    rng = np.random.default_rng(0)
    x = Value(rng.normal(size=(3, 4)))
    w = Value(rng.normal(size=(4, 2)))
    s = Value(0.7)
    h = ((x @ w).tanh() * s + s * s).relu()
    out = (h * h).sum() + s.exp()
    out.backward()
    once = [x.grad.copy(), w.grad.copy(), s.grad]
    out.backward()
    assert np.array_equal(x.grad, 2 * once[0]) and np.array_equal(w.grad, 2 * once[1])
    assert s.grad == 2 * once[2]
    x.zero_grad()
    assert not x.grad.any()


def test_zero_grad_on_scalar() -> None:
    a = Value(2.0)
    (a * 3).backward()
    a.zero_grad()
    assert a.grad == 0.0 and type(a.grad) is float
    assert math.copysign(1.0, a.grad) == 1.0 and repr(a) == "Value(data=2.0, grad=0.0)"


MINUS_ZERO_GRADIENTS: dict[str, Callable[[Any], Any]] = {
    "x * -0.0": lambda x: x * -0.0,
    "x * x at -0.0": lambda x: x * x,
    "-(x * 0.0)": lambda x: -(x * 0.0),
    "relu(x + 1) * -0.0": lambda x: (x + 1.0).relu() * -0.0,
}


@pytest.mark.parametrize("f", MINUS_ZERO_GRADIENTS.values(), ids=MINUS_ZERO_GRADIENTS.keys())
@pytest.mark.parametrize("passes", [1, 2])
def test_a_scalars_gradient_keeps_the_sign_of_a_zero_as_a_tensors_and_torchs(
        f: Callable[[Any], Any], passes: int) -> None:
    """A scalar's .grad started at 0.0 and added: 0.0 + -0.0 is 0.0, where a (1,) tensor's
    kept -0.0 (its first gradient is kept as it comes) and PyTorch's too; zero_grad() puts
    the scalar back where it began, and a gradient set to 0.0 by hand adds as micrograd's."""
    import torch
    start = -0.0 if f is MINUS_ZERO_GRADIENTS["x * x at -0.0"] else 2.0
    scalar, tensor = Value(start), Value([start])
    theirs = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    for _ in range(passes):
        scalar.zero_grad()
        theirs.grad = None
        f(scalar).backward()
        f(tensor).backward(np.ones(1))
        f(theirs).backward()
    assert theirs.grad is not None
    signs = {math.copysign(1.0, g) for g in (scalar.grad, float(tensor.grad[0]),
                                             theirs.grad.item())}
    assert scalar.grad == 0.0 and signs == {-1.0}
    assert repr(scalar) == f"Value(data={scalar.data!r}, grad=-0.0)"
    scalar.grad = 0.0  # (micrograd's zero_grad): 0.0 + -0.0 is 0.0 again
    f(scalar).backward()
    assert math.copysign(1.0, scalar.grad) == 1.0


def test_a_copy_of_a_scalar_shows_no_gradient_yet_and_keeps_the_next_exact() -> None:
    import copy
    import pickle
    x = Value(2.0)
    for copied in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x), copy.copy(x)):
        assert repr(copied) == "Value(data=2.0, grad=0.0)"
        (copied * -0.0).backward()
        assert math.copysign(1.0, copied.grad) == -1.0
    x.grad = 1.5  # (a gradient of its own travels as it is)
    assert pickle.loads(pickle.dumps(x)).grad == 1.5


def test_an_edit_to_one_gradient_never_changes_another() -> None:
    a, b = Value([1.0, 2.0]), Value([3.0, 4.0])
    c = a + b
    d = c * 1.0
    e = d + 0.0  # + passes its gradient through unchanged: one array for e, d and c
    e.backward(np.array([1.0, 1.0]))
    a.grad[0] = 100.0  # leaves (parameters) own their gradients
    b.grad *= 2.0
    assert a.grad.tolist() == [100.0, 1.0] and b.grad.tolist() == [2.0, 2.0]
    assert c.grad.tolist() == [1.0, 1.0] and d.grad.tolist() == [1.0, 1.0]
    d.grad[0] = 5.0  # a shared intermediate gradient, read, is its own: the edit sticks there
    assert d.grad.tolist() == [5.0, 1.0]
    assert e.grad.tolist() == [1.0, 1.0] and c.grad.tolist() == [1.0, 1.0]


def test_selecting_against_zero_keeps_inf_out_of_the_other_branch() -> None:
    x = Value([-1.0, 2.0])
    x.relu().backward(np.array([math.inf, 3.0]))
    assert x.grad.tolist() == [0.0, 3.0]
    y = Value([-1.0, 2.0])
    where(y > 0, 0.0, y).backward(np.array([5.0, math.inf]))
    assert y.grad.tolist() == [5.0, 0.0]


def test_tensor_root_needs_gradient_of_its_shape() -> None:
    x = Value([[1.0, 2.0]])
    y = x * 2
    with pytest.raises(ValueError, match=r"shape \(1, 2\).*gradient="):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\).*\(1, 2\)"):
        y.backward(np.ones(2))
    y.backward(np.array([[1.0, 3.0]]))
    assert x.grad.tolist() == [[2.0, 6.0]]


def test_backward_on_a_constant_is_refused() -> None:
    with pytest.raises(ValueError, match="does not require grad"):
        (Value(1.0, requires_grad=False) * 2).backward()


def test_backward_on_a_constant_gradient_says_why_it_is_one() -> None:
    """The gradient of x * 3 recorded with create_graph=True is 3, which depends on no Value
    that requires grad (its derivative is 0): a second backward() through it is refused,
    saying so, as PyTorch's. (relu's, a select by x's data, is a function of x: tested in
    tests/test_second_order_selects.py.)"""
    x = Value(2.0)
    (x * 3.0).backward(create_graph=True)
    with pytest.raises(ValueError, match=r"does not require grad: .*create_graph=True .* "
                                         r"as that of x \* 3 in x: its own derivative is then 0"):
        x.grad.backward()


def test_constants_get_no_gradient() -> None:
    c = Value(2.0, requires_grad=False)
    x = Value(3.0)
    (c * x).backward()
    assert c.grad == 0.0 and x.grad == 2.0


def test_step_blocks_the_gradient() -> None:
    x = Value(0.5)
    y = x.step() * 3 + x
    y.backward()
    assert x.grad == 1.0


def test_a_million_chained_operations_backpropagate() -> None:
    assert sys.getrecursionlimit() == 1000  # Python's default: the walk must not recurse
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0
    del y  # freeing the chain must not recurse either
    gc.collect()


def test_deep_chain_repr_and_order_do_not_recurse() -> None:
    y = Value(0.0)
    for _ in range(50_000):
        y = y + 1.0
    assert len(topological_order(y)) == 50_001
    assert repr(y) == "Value(data=50000.0, grad=0.0)"


def test_a_graph_is_freed_by_reference_counting() -> None:
    """No reference cycles per node: the graph goes when its last reference goes."""
    gc.disable()
    try:
        x = Value(np.ones(3))
        h = (x * 2.0).tanh()
        out = (h * h).sum()
        out.backward()
        refs = [weakref.ref(v) for v in (h, out)]
        del h, out
        assert all(r() is None for r in refs)
        assert x.grad.shape == (3,)  # the leaf, still referenced, keeps its gradient
    finally:
        gc.enable()


def test_training_loop_creates_no_garbage_cycles() -> None:
    gc.collect()
    gc.disable()
    try:
        w = Value(np.ones((4, 3)))
        for _ in range(5):
            loss = ((Value(np.ones((2, 4))) @ w).relu() ** 2).mean()
            w.zero_grad()
            loss.backward()
            w.data -= 0.1 * w.grad
        del loss
        assert gc.collect() == 0
    finally:
        gc.enable()


# ---- operators and broadcasting ------------------------------------------------------------


def test_operators_with_numbers_on_either_side() -> None:
    x = Value(2.0)
    results = [x + 1, 1 + x, x - 1, 1 - x, x * 3, 3 * x, x / 4, 4 / x, x**2, 2**x, -x, +x]
    assert [r.data for r in results] == [3.0, 3.0, 1.0, -1.0, 6.0, 6.0, 0.5, 2.0, 4.0, 4.0,
                                         -2.0, 2.0]


def test_numpy_arrays_on_the_left_defer_to_value() -> None:
    v = Value([1.0, 2.0])
    for out in (np.array([2.0, 3.0]) * v, np.float64(2.0) + v, np.eye(2) @ v):
        assert isinstance(out, Value)


def test_value_exponent_gets_its_own_gradient() -> None:
    a, b = Value(2.0), Value(3.0)
    (a**b).backward()
    assert a.grad == pytest.approx(12.0) and b.grad == pytest.approx(8 * math.log(2))
    z, e = Value(0.0), Value(2.0)
    (z**e).backward()
    assert z.grad == 0.0 and e.grad == 0.0  # not nan: 0 ** b has no slope in b


def test_ieee_results_instead_of_python_errors() -> None:
    assert (Value(1.0) / Value(0.0)).data == math.inf
    assert Value(0.0).log().data == -math.inf
    assert math.isnan(Value(-1.0).log().data) and math.isnan(Value(-1.0).sqrt().data)
    assert Value(1000.0).exp().data == math.inf
    assert math.isnan((Value(-8.0) ** (1 / 3)).data)
    x = Value(0.0)
    (x**0.5).backward()
    assert x.grad == math.inf


def test_comparisons_read_the_data_and_equality_is_identity() -> None:
    a, b = Value(1.0), Value(2.0)
    assert a < b and b > 1 and a <= 1.0 and b >= a
    assert (Value([1.0, 3.0]) > 2).tolist() == [False, True]
    # at a tie only <= and >= hold
    ties = Value([1.0, 2.0, 3.0])
    assert (ties > 2).tolist() == [False, False, True] and not Value(2.0) > 2
    assert (ties >= 2).tolist() == [False, True, True] and Value(2.0) >= 2
    assert (ties < 2).tolist() == [True, False, False] and not Value(2.0) < 2
    assert (ties <= 2).tolist() == [True, True, False] and Value(2.0) <= 2
    assert a != Value(1.0) and a == a
    assert len({a, b, a}) == 2


@given(st.data())
def test_broadcast_gradients_reduce_to_each_shape(data: st.DataObject) -> None:
    from tinygrad_edu.testing.strategies import arrays_away_from, broadcastable_shapes

    shapes = data.draw(broadcastable_shapes(3))
    xs = [data.draw(arrays_away_from(shape=s)) for s in shapes]
    values = [Value(x) for x in xs]
    out = (values[0] * values[1] - values[2]).exp()
    out.backward(np.ones(out.shape) if out.shape else None)
    for v, s in zip(values, shapes, strict=True):
        assert np.shape(v.grad) == s
    assert gradcheck(lambda a, b, c: (a * b - c).exp(), *xs)


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        Value(np.ones((2, 3))) + Value(np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*3.*4"):
        Value(np.ones((2, 3))) @ Value(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"at least one dimension.*\(\) and \(\)"):
        Value(2.0) @ Value(3.0)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        Value(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match=r"axis 2 is out of range.*2 dimensions"):
        Value(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(IndexError, match=r"shape \(3,\) with 5.*out of bounds"):
        Value(np.ones(3))[5]
    with pytest.raises(TypeError, match="scalar Value cannot be indexed"):
        Value(1.0)[0]
    with pytest.raises(ValueError, match=r"same shape.*\(2,\).*\(3,\)"):
        stack([Value(np.ones(2)), Value(np.ones(3))])
    with pytest.raises(ValueError, match="agree except along axis 0"):
        concatenate([Value(np.ones((2, 2))), Value(np.ones((2, 3)))])


def test_concatenate_and_where_check_shapes_before_numpy_does() -> None:
    """In their own words, naming every shape, not numpy's message from inside a primitive."""
    with pytest.raises(ValueError, match=r"^concatenate: shapes \[\(2, 3\), \(3, 3\)\] must agree "
                                         r"except along axis 1$"):  # (an axis before it differs)
        concatenate([Value(np.ones((2, 3))), Value(np.ones((3, 3)))], axis=1)
    with pytest.raises(ValueError, match=r"^concatenate: scalars have no axis to join along; "
                                         r"shapes \[\(\), \(\)\]$"):
        concatenate([Value(1.0), Value(2.0)])
    with pytest.raises(ValueError, match=r"^where: shapes \(3,\) \(condition\), \(2,\) and \(2,\) "
                                         r"do not broadcast together$"):
        where([True, False, True], Value([1.0, 2.0]), Value([3.0, 4.0]))


def test_matmul_shapes_follow_numpy() -> None:
    rng = np.random.default_rng(1)
    cases = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
             ((5, 2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4))]
    for left, right in cases:
        a, b = rng.normal(size=left), rng.normal(size=right)
        out = Value(a) @ Value(b)
        assert out.shape == np.matmul(a, b).shape
        np.testing.assert_allclose(out.data, a @ b)


def test_reductions_and_shapes() -> None:
    x = Value(np.arange(6.0).reshape(2, 3))
    assert x.sum().data == 15.0 and x.mean().data == 2.5 and x.max().data == 5.0
    assert cast(Array, x.sum(axis=0).data).tolist() == [3.0, 5.0, 7.0]
    assert x.mean(axis=1, keepdims=True).shape == (2, 1)
    assert cast(Array, x.max(axis=-1).data).tolist() == [2.0, 5.0]
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((-1,)).shape == (6,)
    assert x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert cast(Array, x[1].data).tolist() == [3.0, 4.0, 5.0] and x[:, 1:].shape == (2, 2)
    assert x[[0, 0]].shape == (2, 3)


def test_repeated_indices_accumulate() -> None:
    x = Value([1.0, 2.0, 3.0])
    x[[0, 2, 0, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    y = Value(np.ones((2, 3)))
    y[np.array([True, False])].sum().backward()
    assert y.grad.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]


def test_concatenate_stack_where() -> None:
    a, b = Value([1.0, 2.0]), Value([3.0])
    c = concatenate([a, b])
    (c * Value([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [3.0]
    s1, s2 = Value(1.0), Value(2.0)
    st_ = stack([s1, s2])
    (st_ * Value([5.0, 7.0])).sum().backward()
    assert (s1.grad, s2.grad) == (5.0, 7.0)
    x = Value([-1.0, 2.0])
    y = where(x > 0, x * 10, x * 0.5)
    y.sum().backward()
    assert cast(Array, y.data).tolist() == [-0.5, 20.0] and x.grad.tolist() == [0.5, 10.0]


# ---- no_grad, grad, create_graph ------------------------------------------------------------


def test_no_grad_records_nothing() -> None:
    w = Value(2.0)
    with no_grad():
        y = w * 3
        assert not tinygrad_edu.is_grad_enabled()
    assert tinygrad_edu.is_grad_enabled()
    assert not y.requires_grad and y.parents == ()

    @no_grad()
    def predict(v: Value) -> Value:
        return v * v

    @no_grad
    def predict_bare(v: Value) -> Value:
        return v * v

    assert not predict(w).requires_grad and not predict_bare(w).requires_grad
    assert (w * w).requires_grad


def test_a_decorated_generator_runs_its_body_inside() -> None:
    """As PyTorch's decorators: each stretch of a generator's body between yields runs
    inside the context (it ran outside: the context was left when the generator was made),
    and the caller's code between `next` calls outside; send, throw and return pass through."""
    w = Value(2.0)

    @no_grad()
    def squares() -> Generator[Value, Any, str]:
        got = yield w * w
        assert got == "sent" and not tinygrad_edu.is_grad_enabled()
        try:
            yield w * 3.0
        except KeyError:
            yield w * 4.0
        return "done"

    steps = squares()
    first = next(steps)
    assert not first.requires_grad and tinygrad_edu.is_grad_enabled()
    assert (w * w).requires_grad  # (the caller, between two steps: recorded)
    assert not steps.send("sent").requires_grad
    assert steps.throw(KeyError("k")).data == 8.0
    with pytest.raises(StopIteration) as stop:
        next(steps)
    assert stop.value.value == "done" and tinygrad_edu.is_grad_enabled()

    @tinygrad_edu.enable_grad()
    def recorded() -> Generator[Value, None, None]:
        yield w * w

    with no_grad():
        assert next(recorded()).requires_grad

    @tinygrad_edu.detect_anomaly()
    def anomalous() -> Generator[Value, None, None]:
        yield Value(-1.0).log()

    with pytest.raises(FloatingPointError, match="log gave nan"):
        next(anomalous())


def test_a_decorated_generator_closed_early_finishes_inside() -> None:
    """Closed before its end, a @no_grad generator runs its finally block inside the context
    too, as the rest of its body: what it computes there is not recorded."""
    w = Value(2.0)
    finished: list[Value] = []

    @no_grad()
    def squares() -> Generator[Value, None, None]:
        try:
            yield w * w
        finally:
            finished.append(w * 3.0)

    steps = squares()
    next(steps)
    steps.close()
    assert len(finished) == 1 and not finished[0].requires_grad
    assert tinygrad_edu.is_grad_enabled()


def test_no_grad_is_per_thread() -> None:
    """As PyTorch's grad mode: while another thread is inside no_grad this one records, and a
    third thread's no_grad block, begun and ended meanwhile, does not switch recording back
    on in the other."""
    inside, leave = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def in_no_grad() -> None:
        with no_grad():
            inside.set()
            leave.wait(5)
            seen["recording"] = tinygrad_edu.is_grad_enabled()
            seen["recorded"] = (Value(2.0) * Value(3.0)).requires_grad

    def briefly_in_no_grad() -> None:
        with no_grad():
            pass

    other = threading.Thread(target=in_no_grad)
    other.start()
    try:
        assert inside.wait(5)
        x = Value(2.0)
        recorded_here = tinygrad_edu.is_grad_enabled() and (x * x).requires_grad
        third = threading.Thread(target=briefly_in_no_grad)
        third.start()
        third.join()
    finally:
        leave.set()
        other.join()
    assert recorded_here and seen == {"recording": False, "recorded": False}
    assert tinygrad_edu.is_grad_enabled() and (x * x).requires_grad


def test_nested_detect_anomaly_checks_until_the_outer_block_ends() -> None:
    with tinygrad_edu.detect_anomaly():
        with tinygrad_edu.detect_anomaly():
            pass
        with pytest.raises(FloatingPointError, match="log gave nan"):
            Value(-1.0).log()  # (still inside the outer block)
    assert math.isnan(cast(float, Value(-1.0).log().data))  # outside: IEEE's nan, silently


def test_grad_composes() -> None:
    def f(x: Any) -> Any:
        return x**3

    assert grad(f)(2.0) == pytest.approx(12.0)
    assert grad(grad(f))(2.0) == pytest.approx(12.0)
    assert grad(grad(grad(f)))(2.0) == pytest.approx(6.0)
    tanh3 = grad(grad(grad(lambda x: x.tanh())))(0.5)
    t = math.tanh(0.5)
    assert tanh3 == pytest.approx(-2 * (1 - t * t) * (1 - 3 * t * t), rel=1e-12)


def test_grad_takes_each_position_as_a_variable_of_its_own() -> None:
    """As jax.grad and torch.func.grad: a Value that reaches f another way too (closed over by
    f, or given at another position) is not differentiated there. (The inner grad
    differentiated the Value itself, so the closure's use was added in: 2.0 for 1.0.)"""
    assert grad(lambda x: grad(lambda y: x * y)(x))(3.0) == 1.0  # (torch.func: 1.0)
    x = Value(2.0)
    assert [g.data for g in grad(lambda a, b: a * b * b, argnums=(0, 1))(x, x)] == [4.0, 8.0]

    def h(x: Any) -> Any:  # 2x·x: the second factor's derivative, then d/dx of it, 4x
        return grad(lambda a, b: a * b * b, argnums=1)(x, x)

    assert h(1.5) == cast(Value, h(Value(1.5))).data == 4.5  # (6.75 for the Value, before)
    assert grad(h)(1.5) == 6.0
    assert grad(lambda x, y: x * y)(2.0, y=3.0) == 3.0  # (keywords passed on, as jax.grad)
    g = Value(np.array([1.0, -2.0]))
    (same,) = grad(lambda a: (a * g).sum(), argnums=(0,))(g)  # (2g, before)
    assert cast(Array, cast(Value, same).data).tolist() == [1.0, -2.0]


def test_grad_with_several_arguments_and_arrays() -> None:
    f = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))
    gx, gy = f(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert gx.tolist() == [3.0, 4.0] and gy.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="scalar"):
        grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_create_graph_gives_differentiable_gradients() -> None:
    x = Value(1.5)
    y = x**4
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == pytest.approx(4 * 1.5**3)
    (dx,) = gradients(x.grad, [x])
    assert dx == pytest.approx(12 * 1.5**2)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")  # (torch's)
@pytest.mark.parametrize("how", ["backward()", "detect_anomaly()", "a Value given by hand"])
@pytest.mark.parametrize("tensor", [True, False], ids=["tensor", "scalar"])
def test_a_plain_pass_adds_to_a_recorded_gradient_and_keeps_it_recorded(
        tensor: bool, how: str) -> None:
    # PyTorch: x.grad = 3x² (recorded), += 2x (plain pass), stays recorded, so
    # d(x.grad · x)/dx = x.grad + 6x·x; the sum came out a constant, losing the 6x·x
    torch = pytest.importorskip("torch")
    start = [2.0, 3.0] if tensor else 2.0
    x = Value(start)
    if how == "a Value given by hand":
        x.grad = 3.0 * x**2
    else:
        (x**3).sum().backward(create_graph=True)
    with tinygrad_edu.detect_anomaly() if how == "detect_anomaly()" else contextlib.nullcontext():
        (x**2).sum().backward()
    assert isinstance(x.grad, Value) and x.grad.requires_grad
    (x.grad * x).sum().backward()
    t = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    (t**3).sum().backward(create_graph=True)
    (t**2).sum().backward()
    (t.grad * t).sum().backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.detach().numpy())


def _bits(x: Any) -> Any:
    return np.asarray(x, dtype=np.float64).view(np.int64).tolist()


@pytest.mark.parametrize("tensor", [True, False])
@pytest.mark.parametrize("computed", [False, True])
def test_create_graph_gives_each_node_a_gradient_of_its_own(tensor: bool, computed: bool) -> None:
    """A recorded pass sends one Value to several nodes (both operands of +; a node and its
    operand, through +): each node's .grad was that Value, so scaling one parameter's
    gradient scaled its neighbour's too. Each is a Value of its own now, its array no view
    of another's, and still differentiable: constant gradients (of (a + b).sum()) and
    computed ones (of ((x*x + w) * x).sum(), where dx = 3x² + w and dw = x)."""
    x = Value([1.0, 2.0] if tensor else 1.0, label="x")
    w = Value([3.0, -4.0] if tensor else 3.0, label="w")
    h = x * x if computed else x
    s = h + w
    y = (s * x if computed else s).sum()
    y.backward(create_graph=True)
    nodes = topological_order(y)
    grads = [node.grad for node in nodes]
    assert all(isinstance(g, Value) for g in grads)
    assert len({id(g) for g in grads}) == len(grads)
    arrays = [g._data for g in grads if type(g._data) is np.ndarray]
    assert len(arrays) == (len(grads) - 1 if tensor else 0)  # (y is a scalar)
    assert all(array.base is None for array in arrays)
    assert not any(np.may_share_memory(p, q) for i, p in enumerate(arrays) for q in arrays[:i])
    dx = 3 * np.square(x.data) + w.data if computed else np.ones_like(x.data)
    dw = x.data if computed else np.ones_like(w.data)
    if computed:  # still functions of x and w: L = Σ dw² + Σ dx³ has dL/dw = 3 dx²,
        # dL/dx = 2x + 18x dx²
        gw, gx = gradients((w.grad**2).sum() + (x.grad**3).sum(), [w, x])
        np.testing.assert_allclose(gw, 3 * dx**2, rtol=1e-14)
        np.testing.assert_allclose(gx, 2 * x.data + 18 * x.data * dx**2, rtol=1e-14)
    for p in (x, w):  # per-parameter scaling, in place
        p.grad.data *= 0.5
    assert np.array_equal(x.grad.data, 0.5 * dx) and np.array_equal(w.grad.data, 0.5 * dw)


@pytest.mark.parametrize("seed", ["constant", "leaf", "computed"])
def test_create_graph_does_not_alias_the_seed(seed: str) -> None:
    """backward(gradient=gv, create_graph=True) made gv itself the .grad of the root and of
    every node it reached unchanged (through +): an edit of gv afterwards changed them.
    Each gets its own copy, bit for bit (-0.0 and nan too), that still depends on gv as gv
    did: a Value that requires grad is recorded (d a.grad / d gv is 1, as in PyTorch), a
    computed one is dated as gv is (a change of its operand refuses both)."""
    a, b = Value([1.0, 2.0, 3.0]), Value([3.0, 4.0, 5.0])
    v = Value([1.0, -0.0, math.nan], requires_grad=seed != "constant")
    gv = v * 1.0 if seed == "computed" else v
    y = a + b
    y.backward(gv, create_graph=True)
    for node in (y, a, b):
        assert node.grad is not gv and _bits(node.grad.data) == _bits(gv.data)
        assert not np.may_share_memory(node.grad._data, gv._data)
    assert a.grad is not b.grad and not np.may_share_memory(a.grad._data, b.grad._data)
    if seed != "constant":
        (dv,) = gradients((a.grad * Value([2.0, 3.0, 4.0], requires_grad=False)).sum(), [v])
        assert dv.tolist() == [2.0, 3.0, 4.0]
    cast(Array, gv.data)[0] = 50.0
    assert a.grad.data[0] == y.grad.data[0] == b.grad.data[0] == 1.0


@pytest.mark.parametrize("change", ["the seed's operand rebound", "the seed edited in place"])
def test_a_gradient_copied_from_a_stale_seed_is_as_stale(change: str) -> None:
    """A computed seed whose data no longer fits its operand (the operand rebound, or the
    seed's array edited) refuses to be differentiated; the .grad copied from it must refuse
    too, not read its old numbers silently (exp's rule reads its result)."""
    v = Value([1.0, 2.0])
    gv = v.exp()
    if change == "the seed's operand rebound":
        v.data = [5.0, 5.0]
    else:
        cast(Array, gv.data)[0] = 7.0
    a = Value([3.0, 4.0])
    (a + 0.0).backward(gv, create_graph=True)  # (a.grad: a copy of gv, through +)
    for stale in (gv, a.grad):
        with pytest.raises(RuntimeError, match=r"changed after the graph was recorded"):
            gradients(stale.sum(), [v])


def test_create_graph_gives_scalars_gradients_of_their_own() -> None:
    """A scalar's .grad under create_graph is a Value of its own, as a tensor's."""
    a, b = Value(1.0), Value(2.0)
    gv = Value(-0.5)
    (a + b).backward(gv, create_graph=True)
    assert a.grad is not b.grad and a.grad is not gv and b.grad is not gv
    a.grad.data *= 2.0
    assert (a.grad.data, b.grad.data, gv.data) == (-1.0, -0.5, -0.5)


@pytest.mark.parametrize("shape", [(), (1,)], ids=["scalar", "(1,) tensor"])
def test_a_first_recorded_gradient_is_the_gradients_twin_with_no_constant_added(
        shape: tuple[int, ...]) -> None:
    """A scalar's first gradient under create_graph was recorded as −0.0 + g (the sentinel
    NO_GRADIENT_YET added, a constant a picture showed, whose data left the engine as that
    very object); it is g's twin now, as a tensor's: the same op and operands, the same bits
    (−0.0 kept), differentiable."""
    from tinygrad_edu.storage import NO_GRADIENT_YET
    x = Value(np.full(shape, 2.0) if shape else 2.0)
    y = x.exp() * -0.0
    (y.sum() if shape else y).backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Value) and g.op is not None and g.op.name == "mul"  # (no add)
    assert all(node._data is not NO_GRADIENT_YET for node in topological_order(g))
    assert math.copysign(1.0, float(np.ravel(g.data)[0])) == -1.0
    (second,) = gradients(g.sum() if shape else g, [x])  # d/dx of -0.0·e^x
    assert math.copysign(1.0, float(np.ravel(second)[0])) == -1.0


def test_gradients_does_not_touch_grad() -> None:
    x = Value([1.0, 2.0])
    (g,) = gradients((x * x).sum(), [x])
    assert g.tolist() == [2.0, 4.0] and not x.grad.any()


def test_second_derivative_of_a_small_network() -> None:
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    x = rng.normal(size=(5, 3))
    assert gradcheck(lambda a, b: ((x @ a).tanh() @ b).sigmoid().mean(), w1, w2, order=2,
                     atol=1e-6, rtol=1e-5)


def test_backward_gives_ieee_results_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Value([0.0, 1.0])
        x.sqrt().sum().backward()
        s = Value(0.0)
        s.sqrt().backward()
    assert x.grad.tolist() == [math.inf, 0.5] and s.grad == math.inf


def test_unsupported_operands_get_pythons_own_message() -> None:
    for bad in ("a", None, {1: 2}):
        with pytest.raises(TypeError, match="unsupported operand"):
            Value(1.0) + bad  # type: ignore[operator]
        with pytest.raises(TypeError, match="unsupported operand"):
            bad - Value(1.0)  # type: ignore[operator]


def test_truth_value_of_a_value() -> None:
    assert not Value(0.0) and Value(-2.0) and Value([3.0])
    with pytest.raises(ValueError, match=r"shape \(2,\) is ambiguous"):
        bool(Value([1.0, 2.0]))


def test_grad_of_a_value_that_needs_no_gradient() -> None:
    assert grad(lambda x: x**2)(Value(3.0, requires_grad=False)) == 6.0


@pytest.mark.parametrize("make", [
    lambda: Value(10**400),
    lambda: Value(2.0) * 10**400,  # (operands: int's OverflowError, from inside, before)
    lambda: 10**400 + Value(2.0),
    lambda: Value([1.0, 2.0]) - 10**400,
    lambda: Value(2.0) ** 10**400,
    lambda: (10**400) ** Value(2.0),
])
def test_a_number_too_large_for_a_float_is_refused(make: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="too large for a float"):
        make()


def test_an_interrupted_backward_leaves_the_engine_usable() -> None:
    x = Value(2.0)
    y = x * x

    def interrupt(node: Value, g: Any) -> None:
        raise KeyboardInterrupt

    import tinygrad_edu.fast

    with pytest.raises(KeyboardInterrupt):
        backpropagate(y, 1.0, interrupt)
    real_run = tinygrad_edu.fast._run
    tinygrad_edu.fast._run = lambda *args: interrupt(y, None)
    try:
        with pytest.raises(KeyboardInterrupt):
            y.backward()
    finally:
        tinygrad_edu.fast._run = real_run
    assert gc.isenabled()
    y.backward()
    assert x.grad == 4.0


def test_batched_matmul_names_the_batch_axes_that_disagree() -> None:
    with pytest.raises(ValueError, match=r"batch axes \(2,\) and \(3,\)"):
        Value(np.ones((2, 2, 3))) @ Value(np.ones((3, 3, 2)))


def test_a_float_axis_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match=r"axis must be an int or a tuple of ints; got 1\.0"):
        Value(np.ones((2, 3))).mean(axis=1.0)  # type: ignore[arg-type]


def test_setting_grad() -> None:
    s, t = Value(1.0), Value([1.0, 2.0])
    s.grad = None
    t.grad = None
    assert type(s.grad) is float and s.grad == 0.0 and t.grad.tolist() == [0.0, 0.0]
    s.grad = 3
    t.grad = [1, 2]
    assert s.grad == 3.0 and t.grad.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"grad must have shape \(2,\); got \(3,\)"):
        t.grad = [1.0, 2.0, 3.0]


@pytest.mark.parametrize("reads", ["ALL", "other", True, None])
def test_a_primitive_says_which_operands_its_rule_reads_in_words_it_knows(reads: Any) -> None:
    # (any other word read as "for the other": a one-operand rule's data went unwatched)
    from tinygrad_edu.engine import Primitive
    with pytest.raises(ValueError, match="reads_operands must be 'all', 'none' or 'for the "
                                         "other'; got " + re.escape(repr(reads))):
        Primitive("cube", lambda x: x**3, lambda g, out, x: (g * 3 * x**2,),
                  reads_operands=reads)
