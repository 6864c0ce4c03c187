"""`tinygrad_edu.micrograd` at the edges: micrograd's own test programs through the switcher
(against micrograd and PyTorch), random expressions bit for bit, and inputs of a wrong size."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import micrograd.engine
import micrograd.nn
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu.engine import Primitive
from tinygrad_edu.micrograd import engine as ours_engine
from tinygrad_edu.micrograd import nn as ours_nn

LIBRARIES: dict[str, Any] = {"micrograd": micrograd.engine.Value, "ours": ours_engine.Value}


def torch_value(x: float) -> Any:
    """A float64 leaf tensor, as micrograd's test_engine.py makes its reference."""
    return torch.tensor([x], dtype=torch.float64, requires_grad=True)


def sanity_check(make: Callable[[float], Any]) -> tuple[float, float]:
    """micrograd's test_engine.py, `test_sanity_check`: (y, dy/dx)."""
    x = make(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return float(y.data.item() if hasattr(y.data, "item") else y.data), float(x.grad)


def more_ops(make: Callable[[float], Any]) -> tuple[float, float, float]:
    """micrograd's test_engine.py, `test_more_ops` (its in-place `+=` as PyTorch needs it)."""
    a, b = make(-4.0), make(2.0)
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
    return float(g.data.item() if hasattr(g.data, "item") else g.data), float(a.grad), \
        float(b.grad)


def test_micrograds_test_programs_run_unchanged_through_the_switcher() -> None:
    """Our numbers are PyTorch's float64 ones exactly; micrograd's up to the last digit (it
    divides as a * b**-1, and its `_prev` is a set, so the order in which it sums a
    gradient follows object ids: its own a.grad and b.grad change in the last digit from
    run to run)."""
    ours, theirs, reference = (sanity_check(make) for make in
                               (ours_engine.Value, micrograd.engine.Value, torch_value))
    assert ours == theirs == reference == (-20.0, 46.0)
    ours3, theirs3, reference3 = (more_ops(make) for make in
                                  (ours_engine.Value, micrograd.engine.Value, torch_value))
    assert ours3 == reference3
    assert ours3 == pytest.approx(theirs3, rel=1e-14)


# ---- random expressions, each leaf used once: micrograd's arithmetic, so the same bits
Tree = Any  # a leaf's index, or (operation, subtrees...)
UNARY = ["relu", "neg", "square", "cube", "inverse", "sqrt_of_square_plus_one"]
BINARY = ["add", "sub", "mul", "radd", "rsub", "rmul"]


def trees() -> st.SearchStrategy[Tree]:
    leaf = st.integers(0, 5)
    return st.recursive(
        leaf, lambda sub: st.one_of(
            st.tuples(st.sampled_from(UNARY), sub),
            st.tuples(st.sampled_from(BINARY), sub, sub)), max_leaves=8)


def evaluate(tree: Tree, leaf: Callable[[int], Any]) -> Any:
    """The expression, with micrograd's operators only (`**` with a number exponent); each
    occurrence of a leaf is a new Value, so no gradient is a sum whose order could differ."""
    if isinstance(tree, int):
        return leaf(tree)
    name, *subtrees = tree
    a, *rest = [evaluate(sub, leaf) for sub in subtrees]
    operations: dict[str, Callable[[], Any]] = {
        "relu": lambda: a.relu(), "neg": lambda: -a, "square": lambda: a**2,
        "cube": lambda: a**3, "inverse": lambda: (a * a + 1) ** -1,
        "sqrt_of_square_plus_one": lambda: (a * a + 0.5) ** 0.5,
        "add": lambda: a + rest[0], "sub": lambda: a - rest[0], "mul": lambda: a * rest[0],
        "radd": lambda: 2.5 + a, "rsub": lambda: 0.75 - a, "rmul": lambda: -1.25 * a}
    return operations[name]()


@given(tree=trees(), data=st.lists(st.floats(-3.0, 3.0), min_size=6, max_size=6))
def test_random_expressions_give_micrograds_values_and_gradients_bit_for_bit(
        tree: Tree, data: list[float]) -> None:
    results = {}
    for library, make in LIBRARIES.items():
        leaves: list[Any] = []

        def leaf(i: int, make: Any = make, leaves: list[Any] = leaves) -> Any:
            leaves.append(make(data[i]))
            return leaves[-1]

        out = evaluate(tree, leaf)
        out.backward()
        results[library] = [out.data] + [x.grad for x in leaves]
    assert [float(x) for x in results["ours"]] == [float(x) for x in results["micrograd"]]


# ---- wrong sizes


def test_a_neuron_given_the_wrong_number_of_inputs_says_how_many() -> None:
    """(It raised zip's "zip() argument 2 is shorter than argument 1", naming nothing.)"""
    random.seed(0)
    neuron = ours_nn.Neuron(3)
    for inputs in ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0]):
        with pytest.raises(ValueError, match=rf"ReLUNeuron\(3\) takes 3 inputs.*got {len(inputs)}"):
            neuron(inputs)
    with pytest.raises(ValueError, match=r"LinearNeuron\(3\) takes 3 inputs.*got 2"):
        ours_nn.MLP(3, [1])([1.0, 2.0])
    random.seed(0)
    theirs = micrograd.nn.Neuron(3)
    assert neuron(iter([1.0, 2.0, 3.0])).data == theirs(iter([1.0, 2.0, 3.0])).data


BATCH = np.array([[1.0, 2.0], [0.0, -1.0]])


@pytest.mark.parametrize(("batch", "given"), [
    (BATCH, r"ndarray of shape \(2, 2\)"),  # (as many samples as inputs: silently mixed)
    (np.vstack([BATCH, BATCH[:1]]), r"ndarray of shape \(3, 2\)"),  # ("got 3": 3 samples)
    (BATCH.tolist(), r"\[\[1.0, 2.0\], \[0.0, -1.0\]\] \(type list\)"),
    (ours_engine.Value(BATCH), r"Value of shape \(2, 2\)"),
    ([[1.0, 2.0], [3.0]], r"\[\[1.0, 2.0\], \[3.0\]\] \(type list\)"),
])
def test_a_neuron_given_a_batch_says_it_takes_one_sample(batch: Any, given: str) -> None:
    random.seed(6)
    model = ours_nn.MLP(2, [4, 1])
    with pytest.raises(ValueError, match=r"^ReLUNeuron\(2\) takes 2 inputs, one per weight: one "
                                         r"sample, a flat list of 2 numbers or scalar Values; "
                                         rf"got {given}, whose items are not all numbers \(a "
                                         r"batch .* one sample at a time"):
        model(batch)


def test_a_neuron_takes_one_sample_in_every_form_micrograd_users_give_it() -> None:
    random.seed(6)
    ours = ours_nn.MLP(2, [4, 3])
    random.seed(6)
    theirs = micrograd.nn.MLP(2, [4, 3])
    expected = [o.data for o in theirs([1.0, -2.0])]
    for sample in ([1.0, -2.0], (1, -2), np.array([1.0, -2.0]), [np.float32(1.0), np.int64(-2)],
                   [ours_engine.Value(1.0), -2.0], ours_engine.Value(np.array([1.0, -2.0]))):
        assert [o.data for o in ours(sample)] == expected, sample


def test_micrograds_way_of_adding_an_op_is_refused_with_the_way_that_works() -> None:
    """micrograd's lecture adds tanh as ``Value(t, (self,), 'tanh')`` with a `_backward`;
    the refusal says what to do instead (it said only that a hand-made Value is a leaf), and
    doing it works."""
    x = ours_engine.Value(0.5)
    with pytest.raises(TypeError, match=r"_op='tanh'.*methods already.*Primitive\(name, "):
        ours_engine.Value(0.25, (x,), "tanh")
    cube = Primitive("cube", lambda a: a**3, lambda g, out, a: (g * 3 * a**2,))
    y = cube(x)
    y.backward()
    assert (y.data, x.grad, y._op, y._prev) == (0.125, 0.75, "cube", {x})
    assert x.tanh()._op == "tanh" and x.exp()._op == "exp"


def test_a_nodes_backward_step_by_hand_is_refused_with_the_way_that_works() -> None:
    """micrograd's ``node._backward()`` (its backward pass one node at a time) is no node's
    here: it was a bare AttributeError; the message says what to call instead, and its
    recipe gives the node's shares."""
    x, w = ours_engine.Value(2.0), ours_engine.Value(-3.0)
    y = x * w
    with pytest.raises(AttributeError, match=r"made by mul\) has no _backward.*backward\(\)"):
        y._backward()
    assert not hasattr(y, "_backward") and not hasattr(x, "_backward")
    from tinygrad_edu.engine import REGISTRY

    assert y.op is not None
    shares = REGISTRY[y.op.name].vjp(1.0, y.data, *(p.data for p in y.parents))
    y.backward()
    assert list(shares) == [x.grad, w.grad]


def test_a_parameter_rebound_inside_no_grad_is_named_at_backward() -> None:
    """``w = w - lr * w.grad`` inside no_grad() rebinds w to a new constant: backward() then
    says so, and what to do instead (``w -= lr * w.grad`` there changes w in place, as
    PyTorch's does)."""
    from tinygrad_edu import Value, no_grad

    w = Value(np.array([1.0, 2.0]))
    (w * w).sum().backward()
    with no_grad():
        w = w - 0.1 * w.grad
    with pytest.raises(ValueError, match=r"w = w - lr \* w.grad.*w -= lr \* w.grad.*"
                                         r"w.data -= lr \* w.grad"):
        (w * w).sum().backward()


def test_a_copy_of_micrograds_value_is_one_and_rebinds_as_micrograds() -> None:
    """copy.copy gave the engine's Value, whose `-=` on a leaf needing a gradient is refused
    where micrograd's makes a new Value."""
    import copy

    from tinygrad_edu.micrograd.engine import Value

    p = Value(2.0, label="p")
    q = copy.copy(p)
    assert type(q) is Value and q.label == "p" and q.data == 2.0
    q -= 0.5
    assert (q.data, p.data) == (1.5, 2.0)
