"""Pickling and deep-copying at the edges: gradients that are Values (after
``backward(create_graph=True)``) and micrograd's Values and models (`tinygrad_edu.micrograd`)."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.data import Array
from tinygrad_edu.micrograd import engine as micrograd_engine
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.optim import SGD

Roundtrip = Callable[[Any], Any]
ROUNDTRIPS: list[Roundtrip] = [lambda x: pickle.loads(pickle.dumps(x)), copy.deepcopy]
IDS = ["pickle", "deepcopy"]


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_gradient_that_is_a_value_comes_back_and_differentiates_again(
        roundtrip: Roundtrip) -> None:
    """After backward(create_graph=True), x.grad is a Value whose graph leads back to x.
    (Both raised RecursionError: the gradient's table named x, whose table was still being
    written.)"""
    x = Value(3.0, label="x")
    y = x * x * x
    y.backward(create_graph=True)
    new_x, new_y = roundtrip([x, y])
    first = new_x.grad
    assert isinstance(first, Value) and first.data == 27.0 and new_x.label == "x"
    assert new_x is not x and new_y.grad.data == 1.0
    new_x.zero_grad()
    first.backward()  # d/dx 3x² = 6x, into the copied x (not the original)
    assert new_x.grad == 18.0
    assert isinstance(x.grad, Value) and x.grad.data == 27.0  # the original is untouched


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_value_keyed_dict_of_second_order_gradients_comes_back(roundtrip: Roundtrip) -> None:
    w = Value(2.0, label="w")
    (w.tanh() * w).backward(create_graph=True)
    loaded = roundtrip({w: "weight"})
    (new_w,) = loaded
    assert loaded[new_w] == "weight" and new_w.label == "w"
    assert new_w.grad.data == pytest.approx(w.grad.data, rel=0, abs=0)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_micrograd_value_and_its_graph_come_back_as_micrograd_values(
        roundtrip: Roundtrip) -> None:
    """(A micrograd leaf raised "cannot pickle 'mappingproxy' object": the copyreg entry was
    for tinygrad_edu's Value only, and pickle looks a class up exactly.)"""
    a = micrograd_engine.Value(2.0, label="a")
    y = a * a + 1
    y.backward()
    new_y, new_a = roundtrip([y, a])
    assert type(new_a) is micrograd_engine.Value and new_a.label == "a"
    square = new_y.parents[0]
    assert len(square.parents) == 2 and all(p is new_a for p in square.parents)  # a*a
    assert (new_y.data, new_a.grad) == (5.0, 4.0)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_micrograd_model_comes_back_and_trains_the_same(roundtrip: Roundtrip) -> None:
    random.seed(3)
    model = micrograd_nn.MLP(2, [4, 1])
    loaded = roundtrip(model)
    assert repr(loaded) == repr(model)
    for m in (model, loaded):
        for _ in range(2):
            loss = (1 + -1.0 * m([micrograd_engine.Value(0.5), -1.5])).relu()
            m.zero_grad()
            loss.backward()
            for p in m.parameters():
                p.data -= 0.1 * p.grad
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    assert all(type(p) is micrograd_engine.Value for p in loaded.parameters())


def refuses_backward(root: Value) -> bool:
    try:
        root.backward()
    except RuntimeError as error:
        assert "changed after the graph was recorded" in str(error)
        return True
    return False


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
@pytest.mark.parametrize("together", [True, False], ids=["one-table", "two-tables"])
@pytest.mark.parametrize("holder", ["detach", "copy"])
def test_copies_of_values_sharing_an_array_are_watched_together(
        roundtrip: Roundtrip, together: bool, holder: str) -> None:
    """x.detach() (or copy.copy(x)) holds x's array: an in-place edit through x stamps the
    graph y that read the other, so y.backward() refuses. The copies share one array too, and
    must refuse as well. (They were not linked: y's copy backpropagated the edited data,
    w.grad = [100, 2], where y refused.) x is pickled on its own, or in a graph with the
    other holder (`first`), before y."""
    x = Value(np.array([1.0, 2.0]), label="x")
    w = Value(np.array([3.0, 4.0]), label="w")
    other = x.detach() if holder == "detach" else copy.copy(x)
    y = (other * w).sum()
    first = (x + other).sum() if together else x
    new_first, new_y = roundtrip([first, y])
    new_x = new_first.parents[0].parents[0] if together else new_first
    assert new_x.label == "x"
    cast(Array, new_x.data)[0] = 100.0
    cast(Array, x.data)[0] = 100.0
    assert refuses_backward(y) and refuses_backward(new_y)


VIEWS: dict[str, Callable[[Value], Value]] = {
    "T": lambda v: v.T, "reshape": lambda v: v.reshape(4), "row": lambda v: v[0],
    "slice": lambda v: v[::-1], "view of a view": lambda v: v.T[0],
}


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_graph_read_through_a_view_of_changed_data_refuses_in_the_copy_too(
        roundtrip: Roundtrip, view: str) -> None:
    """x changed in place after y read it through a view: y refuses backward(), and so must
    its copy (the copy of the view held an array of its own, not a view of the copy of x:
    its reader was not stale, and w.grad came from the changed numbers, silently)."""
    x = Value(np.array([[1.0, 2.0], [3.0, 4.0]]), label="x")
    v = VIEWS[view](x)
    w = Value(np.ones(v.shape), label="w")
    y = (v * w).sum()
    cast(Array, x.data)[0, 1] = 100.0
    copied = roundtrip(y)
    assert refuses_backward(y) and refuses_backward(copied)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_copied_view_shows_the_changes_of_the_copy_of_what_it_views(
        roundtrip: Roundtrip, view: str) -> None:
    """A view made once and read by every step's graph (`changes`: an optimizer changes x
    between steps) trains the same in a copy: the copy of the view is a view of the copy of
    x (it held the numbers x had when copied, and the copy stopped learning, silently)."""
    losses: list[list[float]] = []
    x = Value(np.array([[1.0, 2.0], [3.0, 4.0]]), label="x")
    for x_, v_ in [(x, VIEWS[view](x)), roundtrip((x, VIEWS[view](x)))]:
        optimizer = SGD([x_], lr=0.1)
        losses.append([])
        for _ in range(3):
            optimizer.zero_grad()
            loss = (v_ * v_).sum()
            loss.backward()
            optimizer.step()
            losses[-1].append(cast(float, loss.data))
        assert np.shares_memory(v_.data, x_.data)
    assert losses[0] == losses[1] and losses[0][0] > losses[0][2]
