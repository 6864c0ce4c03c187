"""Changed data (tinygrad_edu.changes): a graph refuses backward() through data changed after it
was recorded, by rebinding or in place; changes between steps stay legal."""

from __future__ import annotations

import contextlib
import copy
import pickle
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, changes, detect_anomaly, engine, no_grad
from tinygrad_edu.data import Array
from tinygrad_edu.engine import REGISTRY, backpropagate, gradients, topological_order
from tinygrad_edu.nn import MLP, mse_loss
from tinygrad_edu.optim import SGD, Adam

CHANGED = r"the data of x \(.*\) changed after the graph was recorded"


def test_an_element_edited_in_place_is_caught_at_backward() -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0], label="w")
    y = (x * w).sum()
    cast(Array, x.data)[0] = 100.0  # before: w.grad came out [100, 2] while y.data stayed 11
    with pytest.raises(RuntimeError, match=CHANGED + r".*shape \(2,\)|shape \(2,\)"):
        y.backward()
    assert w.grad.tolist() == [0.0, 0.0]  # nothing was accumulated


def test_a_rebound_scalar_is_caught_at_backward() -> None:
    x = Value(2.0, label="x")
    y = x * x
    x.data = 10.0  # before: x.grad came out 20
    with pytest.raises(RuntimeError, match=r"the data of x \(a scalar\) changed"):
        y.backward()


def test_the_message_says_how_to_fix_it() -> None:
    x = Value(2.0)
    y = x.exp()
    y.data = 1.0  # the result itself: exp's rule reads it
    with pytest.raises(RuntimeError) as info:
        y.backward()
    text = str(info.value)
    assert "an unlabelled Value (a scalar, made by exp)" in text
    assert "between steps" in text and "zero_grad()" in text and "forward pass again" in text


@pytest.mark.parametrize("edit", [
    lambda x: x.data.__setitem__(0, 5.0),
    lambda x: x.data.__iadd__(1.0),
    lambda x: np.add(x.data, 1.0, out=x.data),
    lambda x: np.copyto(np.asarray(x.data), 0.0),
    lambda x: setattr(x, "data", x.data * 2.0),
], ids=["item", "iadd without the setter", "out=", "np.asarray", "rebinding"])
def test_every_way_of_editing_an_array_is_caught(edit: Callable[[Value], Any]) -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    edit(x)
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_augmented_assignment_through_the_attribute_is_caught() -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    x.data += 1.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_a_change_between_two_operations_of_a_graph_is_caught() -> None:
    """x changes after y = x·w is recorded but before the rest of the graph: the shortcut
    (no change since the graph was begun) must look at its oldest operation, not its newest."""
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = x * w
    x.data = [10.0, 20.0]
    with pytest.raises(RuntimeError, match=CHANGED):
        (y * 2.0).sum().backward()


def test_a_handed_out_array_is_compared_bit_for_bit() -> None:
    """An array handed out by the getter is compared with its copy at backward(), by its bits:
    a nan left as it was is no change (though nan != nan), and 0.0 written over -0.0 is one
    (though 0.0 == -0.0)."""
    x, w = Value([np.nan, 1.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    _ = x.data
    y.backward()
    assert w.grad.tolist()[1] == 1.0
    x, w = Value([-0.0, 1.0], label="x"), Value([3.0, 4.0])
    y = (w / x).sum()
    cast(Array, x.data)[0] = 0.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_the_reference_pass_and_gradients_check_too() -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    cast(Array, x.data)[1] = 0.0
    with pytest.raises(RuntimeError, match=CHANGED):
        backpropagate(y, 1.0, lambda node, g: None)
    with pytest.raises(RuntimeError, match=CHANGED):
        gradients(y, [w])
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward(create_graph=True)


def test_an_old_reference_to_a_recorded_array_is_watched() -> None:
    """A reference held elsewhere may edit the array (between steps, say, as PyTorch's
    ``w.data`` may): it was made read-only, so `a -= lr * grad` on a kept `p.data` failed
    with numpy's message, for the parameters some rule reads and not for the others. An
    edit after a graph was recorded is seen at its backward(), as any other."""
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    held = cast(Array, x.data)
    y = (x * w).sum()  # using x: the array held stays writeable, compared with a copy
    held[0] = 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()
    (x * w).sum().backward()  # a graph recorded after the edit reads the new numbers
    assert w.grad.tolist() == [100.0, 2.0]


def test_kept_references_to_every_parameter_update_it_between_steps() -> None:
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    X, target = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([[1.0], [1.0], [0.0]])
    kept = {name: cast(Array, p.data) for name, p in model.named_parameters()}
    twin = copy.deepcopy(model)  # (updated through .data each step: the same numbers)
    for _ in range(3):
        for net in (model, twin):
            net.zero_grad()
            mse_loss(net(X), target).backward()
        for p in twin.parameters():
            p.data -= 0.1 * p.grad
        for name, array in kept.items():  # (layers.1.W, read by a rule, raised read-only)
            array -= 0.1 * dict(model.named_parameters())[name].grad
    for (name, p), (_, q) in zip(model.named_parameters(), twin.named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_an_array_held_across_an_update_is_watched_after_it() -> None:
    # the setter settles a handed-out array: still held (`held`), it stays writeable, as
    # PyTorch's w.data, and watched, so that an edit through it after a graph was recorded
    # is refused at that graph's backward() (it was sealed, then read-only to `held`)
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    (x * w).sum()  # read by a rule: watched
    held = cast(Array, x.data)
    x.data += 1.0  # an update: the same array, handed out, then set
    y = (x * w).sum()
    held[0] = 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()
    y = (x * w).sum()
    y.backward()
    assert w.grad.tolist() == [100.0, 3.0]


def test_reading_data_changes_nothing() -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    print(x.data, w.data, y.data, np.asarray(x), x.numpy(), x.shape, float(y))
    z = (x * w * 2.0).sum()  # x used again after being read
    y.backward()
    z.backward()
    assert w.grad.tolist() == [3.0, 6.0]


def test_a_second_backward_works_and_still_detects() -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    y.backward()
    y.backward()
    assert w.grad.tolist() == [2.0, 4.0]
    cast(Array, x.data)[0] = 7.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_changes_between_steps_are_legal_and_a_stale_graph_refuses() -> None:
    w = Value([1.0, -2.0], label="w")
    for _ in range(3):
        loss = (w * w).sum()
        w.zero_grad()
        loss.backward()
        w.data -= 0.1 * w.grad  # the manual update of the README and notebooks
        cast(Array, w.data)[0] += 0.0
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0]) * 0.8**3)
    with pytest.raises(RuntimeError, match="the data of w"):
        loss.backward()  # recorded before the last update


def test_a_scalar_micrograd_style_update_is_legal() -> None:
    ps = [Value(0.5), Value(-1.5)]
    for _ in range(2):
        loss = ps[0] * ps[1] + ps[0] ** 2
        for p in ps:
            p.grad = 0.0
        loss.backward()
        for p in ps:
            p.data += -0.1 * p.grad


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_optimizer_steps_are_legal_and_tell_a_stale_graph(optimizer: Any) -> None:
    model = MLP(2, [3, 1], seed=0)
    opt = optimizer(model.parameters(), lr=0.1)
    X, y = np.ones((4, 2)), np.zeros(4)
    for _ in range(3):
        loss = mse_loss(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        loss.backward()


def test_a_change_unrelated_to_the_graph_is_no_alarm() -> None:
    x, w, u = Value(1.0, label="x"), Value(2.0), Value(3.0, label="u")
    a = x * w
    u.data = 5.0  # changed after `a` was made, but used only after the change
    z = a + u * w
    z.backward()
    assert w.grad == 1.0 + 5.0


def test_changing_the_data_of_a_node_never_used_is_no_alarm() -> None:
    x, w = Value([1.0, 2.0]), Value([3.0, 4.0], requires_grad=False)
    y = (x * 2.0).sum()
    cast(Array, w.data)[0] = 9.0
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_a_constant_operand_is_covered() -> None:
    x, c = Value([1.0, 2.0]), Value([3.0, 4.0], requires_grad=False, label="x")
    y = (x * c).sum()
    cast(Array, c.data)[0] = 0.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_data_that_is_no_number_is_refused_at_once() -> None:
    x = Value([1.0, 2.0])
    with pytest.raises(TypeError, match=r"Value.data must be a number.*'abc'"):
        x.data = "abc"
    with pytest.raises(TypeError, match=r"Value\.data"):
        x.data = None
    assert cast(Array, x.data).tolist() == [1.0, 2.0]


def test_another_shape_is_refused_at_once_in_a_graph() -> None:
    x = Value([1.0, 2.0], label="x")
    y = x * 2.0
    with pytest.raises(ValueError, match=r"cannot change the shape of x from \(2,\) to \(3,\)"):
        x.data = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"from \(2,\) to \(\)"):
        y.data = 1.0
    c = Value([1.0, 2.0], requires_grad=False)  # data, in no graph: it may change shape
    c.data = [[1.0]]
    assert c.shape == (1, 1)


@pytest.mark.parametrize("backward", ["backward()", "gradients()"])
@pytest.mark.parametrize("minus", [False, True], ids=["add", "sub"])
def test_a_constant_given_another_shape_then_a_gradient_is_refused_not_summed_to_it(
        backward: str, minus: bool) -> None:
    # b is broadcast as (3,) when recorded; given shape (1,) and unfrozen, the pass would sum
    # its share to (1,): a gradient of nothing y computed. No rule of add or sub reads b, so
    # the new shape is stamped for itself.
    w = Value([1.0, 2.0, 3.0])
    b = Value([1.0, 1.0, 1.0], requires_grad=False, label="b")
    y = ((w - b) if minus else (w + b)).sum()
    b.data = [7.0]
    b.requires_grad = True
    with pytest.raises(RuntimeError, match=r"the data of b \(shape \(1,\)\) changed"):
        if backward == "backward()":  # (the fast pass)
            y.backward()
        else:  # (the reference pass)
            gradients(y, [w, b])
    assert b.grad.tolist() == [0.0] and w.grad.tolist() == [0.0, 0.0, 0.0]


def test_the_same_shape_and_ints_are_accepted() -> None:
    x = Value([1.0, 2.0])
    x.data = [3, 4]
    assert cast(Array, x.data).dtype == np.float64 and cast(Array, x.data).tolist() == [3.0, 4.0]
    s = Value(1.0)
    s.data = 2
    assert type(s.data) is float


def test_under_no_grad_nothing_is_recorded_and_nothing_refused() -> None:
    w = Value([1.0, 2.0])
    with no_grad():
        y = w * 2.0
    cast(Array, w.data)[0] = 5.0
    assert cast(Array, y.data).tolist() == [2.0, 4.0]


# ---- data no rule reads: a user's array used only where the derivative ignores it -----------


def _first_layer() -> tuple[Array, Value, Value]:
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])  # a batch: data, no Value
    return X, Value([[0.1, -0.2], [0.3, 0.4]], label="x"), Value([0.5, -0.5], label="b")


def _layer_loss(X: Array, W: Value, b: Value) -> Value:
    # matmul reads W only for X's gradient, which X does not need; add reads none
    z = cast(Value, X @ W) + b  # (a Value: numpy defers to Value's __rmatmul__)
    return (z * z).sum()


@pytest.mark.parametrize("edit", [
    lambda x: x.data.__setitem__(0, 5.0),
    lambda x: x.data.__iadd__(1.0),
    lambda x: np.add(x.data, 1.0, out=x.data),
    lambda x: setattr(x, "data", x.data * 2.0),
    lambda x: setattr(x, "data", x.data - 0.1 * np.ones(x.shape)),  # W.data -= lr * W.grad
], ids=["item", "iadd without the setter", "out=", "rebinding", "a step"])
@pytest.mark.parametrize("anomaly", [False, True], ids=["", "in detect_anomaly()"])
def test_data_no_rule_reads_may_change_before_backward(edit: Callable[[Value], Any],
                                                       anomaly: bool) -> None:
    X, W, b = _first_layer()
    old_W, old_b = Value(cast(Array, W.data).copy()), Value(cast(Array, b.data).copy())
    _layer_loss(X, old_W, old_b).backward()  # the gradients of the graph as recorded
    # in detect_anomaly(), the reference apply records the graph: it watches what the fast
    # copies watch
    with detect_anomaly() if anomaly else contextlib.nullcontext():
        loss = _layer_loss(X, W, b)
    edit(W)
    edit(b)
    assert cast(Array, W.data).tolist() != cast(Array, old_W.data).tolist() and \
        cast(Array, b.data).tolist() != cast(Array, old_b.data).tolist()
    assert [g.tolist() for g in engine.gradients(loss, [W, b])] == \
        [old_W.grad.tolist(), old_b.grad.tolist()]  # the reference pass
    loss.backward()  # the fast one
    assert W.grad.tolist() == old_W.grad.tolist() and b.grad.tolist() == old_b.grad.tolist()


READERS: dict[str, Callable[[Value], Value]] = {
    "X needs a gradient": lambda W: Value([[1.0, 2.0]]) @ W,
    "W * 2": lambda W: W * 2.0,
    "relu": lambda W: W.relu(),
    "the reference apply": lambda W: W * [[2.0, 1.0], [1.0, 2.0]],  # (a list: the long way)
    "maximum (reference apply)": lambda W: W.maximum(Value(0.0)),
    "W @ a Value": lambda W: W @ Value(np.eye(2)),
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_data_once_read_is_watched_again_in_every_graph(reader: Callable[[Value], Value]) -> None:
    X, W, b = _first_layer()
    unread = _layer_loss(X, W, b)
    cast(Array, W.data)[0, 0] = 7.0  # legal: no rule reads it yet
    read = reader(W).sum()
    cast(Array, W.data)[0, 1] = 8.0
    with pytest.raises(RuntimeError, match=CHANGED):
        read.backward()
    with pytest.raises(RuntimeError, match=CHANGED):  # watched for good: the older graph too
        unread.backward()
    cast(Array, b.data)[0] = 1.0  # still read by no rule
    fresh = _layer_loss(X, W, b)
    fresh.backward()


def test_an_array_held_before_its_data_is_read_is_watched_from_then_on() -> None:
    _, W, _ = _first_layer()
    held = cast(Array, W.data)  # handed out without a copy: no rule reads it...
    loss = (W * W).sum()  # ...until now: watched from here, with a copy
    held[0, 0] = 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()


def test_an_edit_through_a_view_of_a_leaf_is_seen_once_a_rule_reads_the_leaf() -> None:
    _, W, _ = _first_layer()
    flat = W.reshape(-1)  # its rule reads no data, but it is marked so: sealed, then viewed
    loss = flat.sum()
    cast(Array, flat.data)[0] = 100.0  # W's array, handed out with the view (a copy kept)...
    assert cast(Array, W.data)[0, 0] == 100.0
    with pytest.raises(RuntimeError, match="changed after the graph"):  # ...and the graph knows
        loss.backward()
    held = cast(Array, W.data)  # the same through the leaf's own array
    held[0, 0] = 1.0
    with pytest.raises(RuntimeError, match="changed after the graph"):
        loss.backward()
    flat.sum().backward()  # (a graph recorded after the edit reads the view's numbers as
    assert W.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]  # they are now: a view's rule reads none)


def test_a_constant_view_of_a_sealed_array_is_an_array_of_its_own() -> None:
    """`b.T` of a `b` that needs no gradient is a constant, not a result: a copy of the view
    (`changes.unaliased`), not b's array. An edit through it leaves b as it was, and a graph
    whose rule read it refuses backward()."""
    array = np.array([[0.2, 0.7], [1.3, 1.8]])
    a, b = Value(np.ones((2, 2))), Value(array, requires_grad=False)
    z = a * b  # mul's rule reads b: its array is sealed
    bt = b.T
    assert bt.op is None and not bt.requires_grad
    assert not np.shares_memory(bt._data, b._data)
    y = (z @ bt).sum()
    (before,) = gradients(y, [a])  # (nothing changed yet)
    np.testing.assert_allclose(before, (np.ones((2, 2)) @ array) * array)
    cast(Array, bt.data)[0, 0] += 1.0
    np.testing.assert_array_equal(b.data, array)
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        y.backward()


def test_a_view_made_before_its_base_was_sealed_is_still_watched() -> None:
    _, W, _ = _first_layer()
    with no_grad():
        flat = W.reshape(-1)  # a view of W's array while it is writeable (nothing recorded)
    flat.label = "x"  # (the name the error gives)
    loss = (flat * Value(np.ones(flat.shape))).sum()  # this factor's gradient reads flat's data
    (W * W).sum()  # W's array is sealed now, not the view made before
    cast(Array, flat.data)[0] = 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()


SHARERS: dict[str, Callable[[Value], Value]] = {"detach()": Value.detach, "copy.copy": copy.copy}


@pytest.mark.parametrize("share", SHARERS.values(), ids=SHARERS.keys())
def test_an_edit_through_a_value_sharing_the_array_is_seen_by_both(
        share: Callable[[Value], Value]) -> None:
    """`detach()` and `copy.copy` share the array: an edit through one changes the other's
    data. (Before, d.data[0] = 100 with d = x.detach() went unseen by the graph that read
    x: w.grad came out with the 100 in it.)"""
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    y = (x * w).sum()
    d = share(x)
    cast(Array, d.data)[0] = 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()
    x2 = Value([1.0, 2.0], label="x")
    d2 = share(x2)
    y2 = (d2 * w).sum()  # the other way: a graph reads the sharer, the original changes
    x2.data += 1.0
    with pytest.raises(RuntimeError, match=r"the data of .* changed after the graph"):
        y2.backward()
    x2.data = np.array([5.0, 6.0])  # rebinding gives x2 a new array: d2's stays as it was
    y3 = (d2 * w).sum()
    y3.backward()
    assert cast(Array, d2.data).tolist() == [2.0, 3.0] and w.grad.tolist() == [2.0, 3.0]


HOLDERS_OF_AN_ARRAY: dict[str, Callable[[Value], Value]] = {
    **SHARERS, "x[::-1].detach()": lambda x: x[::-1].detach()}


@pytest.mark.parametrize("share", HOLDERS_OF_AN_ARRAY.values(), ids=HOLDERS_OF_AN_ARRAY.keys())
@pytest.mark.parametrize("edited", ["after the rebinding", "before the rebinding"])
def test_an_array_rebound_away_is_still_watched_for_the_values_that_hold_it(
        share: Callable[[Value], Value], edited: str) -> None:
    """``old = x.data; x.data = new`` leaves x's old array with the Values that share it (a
    `detach()`, a copy) or a view of it (a detached view): an edit through `old` is one of
    their data, before the rebinding or after it. (Before, the rebinding let go of old's
    watch: w.grad came out [100, 2], the edited numbers, where the graph had read [1, 2].)"""
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    d = share(x)
    d.label = "d"
    y = (d * w).sum()
    old = cast(Array, x.data)
    if edited == "before the rebinding":
        old[0] = 100.0
    x.data = np.array([5.0, 6.0])
    if edited == "after the rebinding":
        old[0] = 100.0
    with pytest.raises(RuntimeError, match=r"the data of d \(.*\) changed after the graph"):
        y.backward()
    y2 = (d * w).sum()  # recorded after the edit: legal, with the numbers it read
    old[1] = 7.0  # and edited again after it: refused again
    with pytest.raises(RuntimeError, match=r"the data of d \(.*\) changed after the graph"):
        y2.backward()
    y3 = (d * w).sum()
    y3.backward()
    assert w.grad.tolist() == cast(Array, d.data).tolist() and \
        sorted(w.grad.tolist()) == [7.0, 100.0] and cast(Array, x.data).tolist() == [5.0, 6.0]


def test_a_scalar_rebound_to_an_array_is_watched() -> None:
    w, c = Value(2.0), Value(3.0, requires_grad=False, label="x")
    y = w * c  # two floats: the fused operator, which marks nothing (scalars are watched)
    c.data = [5.0, 6.0]  # data in no graph of its own: it may change shape
    cast(Array, c.data)[0] = 4.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def test_a_switched_on_requires_grad_does_not_unwatch_a_product() -> None:
    X, W, _ = _first_layer()
    data = Value(X, requires_grad=False)  # a Value, not a numpy batch: W is watched
    loss = (data @ W).sum()
    cast(Array, W.data)[0, 0] = 9.0
    data.requires_grad = True  # its gradient would read the changed W
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()


def test_a_copied_graph_watches_its_read_data() -> None:
    W = Value([1.0, 2.0], label="x")
    for copied in (copy.deepcopy((W * 2.0).sum()), pickle.loads(pickle.dumps((W * 2.0).sum()))):
        leaf = copied.parents[0].parents[0]
        cast(Array, leaf.data)[0] = 5.0
        with pytest.raises(RuntimeError, match=CHANGED):
            copied.backward()


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))],
                         ids=["deepcopy", "pickle"])
def test_a_copy_keeps_whether_its_data_is_read(copier: Callable[[Any], Any]) -> None:
    X, W, b = _first_layer()
    read = Value([1.0, 2.0], label="x")
    _ = read * 2.0
    W, b, read = copier((W, b, read))  # (one table: as a model's parameters are copied)
    loss = _layer_loss(X, W, b) + (read * 3.0).sum()
    cast(Array, W.data)[0, 0] = 5.0  # unread in the original: unread in the copy
    b.data -= 1.0
    loss.backward()
    cast(Array, read.data)[0] = 5.0
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()


def test_the_rules_left_unwatched_read_no_such_data() -> None:
    rng = np.random.default_rng(0)
    g, a, b, nan = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), \
        np.full((3, 3), np.nan)
    add = REGISTRY["add"].vjp
    assert [s.tolist() for s in add(g, a + b, a, b)] == [s.tolist() for s in add(g, nan, nan, nan)]
    matmul = REGISTRY["matmul"].vjp  # a's share reads b only, b's reads a only
    assert matmul(g, nan, nan, b)[0].tolist() == matmul(g, a @ b, a, b)[0].tolist()
    assert matmul(g, nan, a, nan)[1].tolist() == matmul(g, a @ b, a, b)[1].tolist()


# ---- random graphs, a random saved node changed in a random way ----------------------------

UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "square", "sum0", "reshape", "T", "X@", "@X",
         "*list"]
BINARY = ["add", "mul", "sub", "maximum", "matmulT"]


def _unary(name: str, a: Value) -> Value:
    if name == "square":
        return a**2
    if name == "neg":
        return -a
    if name == "sum0":
        return a.sum(axis=0, keepdims=True) + a * 0.0
    if name == "reshape":
        return a.reshape(-1).reshape(a.shape)
    if name == "T":
        return a.T.T
    if name == "*list":  # (a list operand: the reference `apply`)
        halves: list[list[float]] = np.full(a.shape, 0.5).tolist()
        return a * halves
    if name in ("X@", "@X"):  # a product with data (a numpy batch): not watched for it
        n = a.shape[0] if name == "X@" else a.shape[1]
        batch = np.linspace(-1.0, 1.0, n * n).reshape(n, n)
        return cast(Value, batch @ a) if name == "X@" else a @ batch
    return getattr(a, name)()  # type: ignore[no-any-return]


def _binary(name: str, a: Value, b: Value) -> Value:
    if name == "matmulT":
        return a @ b.T @ b * 0.1
    if name == "maximum":  # (two Values and no operator: the reference `apply`)
        return a.maximum(b)
    if name == "add":  # (one operation: each marks its operands its own way)
        return a + b
    return a * b if name == "mul" else a - b


EDITS = ["rebind", "item", "slice", "iadd attribute", "iadd array", "out="]


def _edit(node: Value, how: str) -> None:
    if type(node.data) is float or how == "rebind":  # (a float changes only so)
        node.data = node.data + 1.0
    elif how == "item":  # (the first element, whatever the node's number of axes)
        cast(Array, node.data)[(0,) * cast(Array, node.data).ndim] += 1.0
    elif how == "slice":  # (+ 1, not a map with a fixed point: 2x + 1 left -1 as it was)
        cast(Array, node.data)[...] = node.data + 1.0
    elif how == "iadd attribute":
        node.data += 1.0
    elif how == "iadd array":
        array = node.data
        array += 1.0
    else:
        np.add(cast(Array, node.data), 1.0, out=cast(Array, node.data))


def _leaves(draw: st.DrawFn, shape: tuple[int, ...]) -> list[Value]:
    size = max(1, int(np.prod(shape)))
    return [Value(np.linspace(0.1, 0.9, size).reshape(shape) * (i + 1) if shape else 0.3 * (i + 1),
                  label=f"l{i}", requires_grad=i == 0 or draw(st.booleans()))  # (X in X @ W)
            for i in range(draw(st.integers(1, 3)))]


def _grown(draw: st.DrawFn, leaves: list[Value]) -> tuple[Value, list[Value]]:
    """A random graph on `leaves` (of one shape): its root and its nodes, newest first."""
    shape = leaves[0].shape
    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(UNARY if shape else UNARY[:6]))
            nodes.append(_unary(name, draw(st.sampled_from(nodes))))
        else:
            name = draw(st.sampled_from(BINARY if shape else BINARY[:4]))
            nodes.append(_binary(name, draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))))
    root = nodes[-1].sum() if shape else nodes[-1] * 1.0
    assume(root.requires_grad)
    return root, topological_order(root, constants=True)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Value, list[Value]]:
    return _grown(draw, _leaves(draw, draw(st.sampled_from([(), (2, 2), (3, 2)]))))


def _read_by_a_rule(node: Value, nodes: list[Value]) -> bool:
    """Whether a gradient of the graph `nodes` depends on `node`'s data: a result (watched
    always), or an operand of a rule that reads it (mul, maximum, relu, a power, and matmul's
    for the other operand's gradient; add, sub, neg, reshape and transpose read none)."""
    if node.op is not None:
        return True
    for user in nodes:
        if user.op is None:
            continue
        name, parents = user.op.name, user.parents
        if name in ("mul", "maximum", "relu", "pow_const") and any(p is node for p in parents):
            return True
        if name == "matmul" and any(p is node and q.requires_grad
                                    for p, q in [parents, parents[::-1]]):
            return True
    return False


@settings(deadline=None)
@given(graphs(), st.data(), st.sampled_from(EDITS), st.booleans())
def test_any_change_to_any_saved_node_is_caught(graph: tuple[Value, list[Value]], data: Any,
                                                how: str, backward_first: bool) -> None:
    root, nodes = graph
    saved = [n for n in nodes if n is not root and _read_by_a_rule(n, nodes)]
    assume(saved)  # (the root's data: only its own rule reads it)
    leaves = [n for n in saved if n.op is None]  # (a result is always watched: a leaf, often)
    node = data.draw(st.sampled_from(leaves if leaves and data.draw(st.booleans()) else saved))
    if backward_first:
        root.backward()  # a second backward() must still detect
    try:
        _edit(node, how)
    except ValueError as error:  # or refuses it: a view of a sealed array is read-only, as
        # its base (a reshape's result made after a rule marked its operand as read, say, or
        # the constant `b.T` of a `b` that needs no gradient)
        assert node._data.base is not None and "read-only" in str(error)
        root.backward()  # (nothing changed)
        return
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        root.backward()
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        # (of a node that requires grad: a constant leaf, made with requires_grad=False, has
        # none to give, and gradients() says so first)
        engine.gradients(root, [next(n for n in reversed(nodes) if n.requires_grad)])


@settings(deadline=None)
@given(graphs(), st.data())
def test_reading_any_node_and_rebuilding_never_raises(graph: tuple[Value, list[Value]],
                                                       data: Any) -> None:
    root, nodes = graph
    for node in data.draw(st.lists(st.sampled_from(nodes), max_size=4)):
        _ = node.data  # handed out, not changed
    root.backward()
    root.backward()
    leaf = data.draw(st.sampled_from([n for n in nodes if n.op is None and n.requires_grad]))
    _edit(leaf, data.draw(st.sampled_from(EDITS)))  # a change between steps...
    fresh = (leaf * 2.0).sum() if leaf.shape else leaf * 2.0
    fresh.backward()  # ...and a graph recorded after it


@pytest.mark.parametrize("share", SHARERS.values(), ids=SHARERS.keys())
def test_an_edit_through_a_sharer_refuses_no_graph_made_after_it(
        share: Callable[[Value], Value]) -> None:
    x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
    d = share(x)
    cast(Array, d.data)[0] = 10.0  # handed out through d; settled when x is used again...
    y = (x * w).sum()  # ...here, before this graph: so it may backpropagate
    y.backward()
    assert w.grad.tolist() == [10.0, 2.0]
    x.data = np.array([5.0, 6.0])  # x's own array now: an edit of d's is no change of x's
    y = (x * w).sum()
    cast(Array, d.data)[1] = 20.0
    w.zero_grad()
    y.backward()
    assert w.grad.tolist() == [5.0, 6.0]


@settings(deadline=None)
@given(graphs(), st.data(), st.sampled_from(EDITS), st.sampled_from(["itself", *SHARERS]))
def test_no_edit_of_any_node_gives_a_wrong_gradient(graph: tuple[Value, list[Value]], data: Any,
                                                    how: str, through: str) -> None:
    """Edited data, read or not: backward() refuses, or gives the gradients of the graph as
    it was recorded (both passes); or the edit is refused (a view of a sealed array). The
    edit is made to the node itself, or through `detach()` or `copy.copy` of it, which share
    its array (rebound, such a sharer gets an array of its own: the node does not change)."""
    root, nodes = graph
    leaves = [n for n in nodes if n.op is None and n.requires_grad]
    expected = engine.gradients(root, leaves)
    users = [n for n in nodes if n.op is None]  # (a result is always watched: a leaf, often)
    node = data.draw(st.sampled_from(users if data.draw(st.booleans()) else nodes))
    if through != "itself":
        node = SHARERS[through](node)
    try:
        _edit(node, how)
    except ValueError as error:  # (a reshape's result, say, made after its operand was sealed)
        assert cast(Array, node._data).base is not None and "read-only" in str(error)
    try:
        got = engine.gradients(root, leaves)
    except RuntimeError as error:
        assert "changed after the graph was recorded" in str(error)
    else:
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    try:
        root.backward()
    except RuntimeError as error:
        assert "changed after the graph was recorded" in str(error)
    else:
        for leaf, e in zip(leaves, expected, strict=True):
            np.testing.assert_array_equal(leaf.grad, e)


@settings(deadline=None)
@given(st.data(), st.booleans(), st.sampled_from(["item", "slice", "iadd", "out="]))
def test_a_view_taken_while_the_array_was_writeable_gives_no_wrong_gradient(
        data: Any, read_before: bool, how: str) -> None:
    """A view of a leaf's array taken while the array could be written (handed out before
    any rule read it, or between steps) stays writeable when a graph seals the array (numpy
    does not reach a view made before): an edit through it after the graph was recorded is
    refused at backward(), or the gradients are those of the graph as recorded."""
    leaves = _leaves(data.draw, data.draw(st.sampled_from([(2, 2), (3, 2)])))
    if read_before:  # a step before: each leaf read by a rule, then handed out with a copy
        cast(Value, sum((leaf * leaf).sum() for leaf in leaves) * 1.0).backward()
    held = data.draw(st.sampled_from(leaves))
    view = cast(Array, held.data)[data.draw(st.sampled_from([0, slice(None, None, -1)]))]
    root, _ = _grown(data.draw, leaves)
    needing = [leaf for leaf in leaves if leaf.requires_grad]
    expected = engine.gradients(root, needing)
    if how == "item":
        view[(0,) * view.ndim] += 1.0
    elif how == "slice":
        view[...] = view * 2.0 + 1.0
    elif how == "iadd":
        view += 1.0
    else:
        np.add(view, 1.0, out=view)
    def by_backward() -> list[Any]:
        root.backward()
        return [leaf.grad for leaf in needing]

    def by_gradients() -> list[Any]:
        return engine.gradients(root, needing)

    for pass_ in (by_gradients, by_backward):
        for leaf in needing:
            leaf.zero_grad()
        try:
            got = pass_()
        except RuntimeError as error:
            assert "changed after the graph was recorded" in str(error)
        else:
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_array_equal(g, e)


# Operations whose result, a constant made from a Value that needs no gradient, is a view of
# its array in numpy (a reshape, a transpose, a slice, a broadcast)
CONSTANT_VIEWS: dict[str, Callable[[Value], Value]] = {
    "reshape": lambda v: v.reshape(2, 2), "T": lambda v: v.T, "slice": lambda v: v[::-1],
    "broadcast_to": lambda v: v.broadcast_to((3, 2, 2)), "squeeze": lambda v: v[None].squeeze(0),
}


def _constant_view(made: str, view: Callable[[Value], Value], leaf: Value) -> Value:
    if made == "no_grad":
        with no_grad():
            return view(leaf)
    return view(leaf.detach() if made == "detach" else leaf)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("made", ["requires_grad=False", "no_grad", "detach"])
@pytest.mark.parametrize("view", sorted(CONSTANT_VIEWS))
def test_a_constant_view_of_a_leaf_gives_the_recorded_gradients_after_the_leaf_is_edited(
        view: str, made: str, reference: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A constant made by a view of a leaf's array (``c = x.reshape(...)`` with x needing no
    gradient, or inside no_grad(), or of x.detach()) and read by a rule (``w * c``) keeps
    the numbers it was made with: an edit of x's array after the graph was recorded gives
    the gradients as recorded, or a refusal; never a gradient from the edited numbers (it
    gave w.grad from them, silently)."""
    if reference:  # the reference `apply` builds the constant (the fast copy is the default)
        monkeypatch.setattr(engine, "apply", engine.apply.__wrapped__)  # type: ignore[attr-defined]
    x = Value(np.linspace(0.1, 0.4, 4).reshape(2, 2), label="x",
              requires_grad=made != "requires_grad=False")
    w = Value(np.ones((2, 2)), label="w")
    c = _constant_view(made, CONSTANT_VIEWS[view], x)
    assert not c.requires_grad
    root = (w * c).sum()
    expected = gradients(root, [w])[0]
    cast(Array, x.data)[0, 0] += 1.0
    try:
        root.backward()
    except RuntimeError as error:
        assert "changed after the graph was recorded" in str(error)
    else:
        np.testing.assert_array_equal(w.grad, expected)
    assert not np.shares_memory(c.data, x.data)


# Recorded views: their result's array is a numpy view of their operand's (each reads the
# first two numbers of a 2×2 x, whichever way it views it)
RECORDED_VIEWS: dict[str, Callable[[Value], Value]] = {
    "T": lambda v: v.T, "reshape": lambda v: v.reshape(4), "row": lambda v: v[0],
    "slice": lambda v: v[:], "ellipsis": lambda v: v[...], "squeeze": lambda v: v[None].squeeze(0),
    "iteration": lambda v: next(iter(v)), "view of a view": lambda v: v.T[0],
}
# Changes of a 2×2 leaf x that reach the first two numbers of any view of it
CHANGES_OF_X: dict[str, Callable[[Value], object]] = {
    "an edit in place": lambda x: cast(Array, x.data).__setitem__((0, 0), 100.0),
    "+= 1": lambda x: cast(Array, x.data).__iadd__(1.0),
    "an SGD step": lambda x: _sgd_step(x),
}


def _sgd_step(x: Value) -> None:
    x.grad = np.ones((2, 2))
    SGD([x], lr=1.0).step()


@pytest.mark.parametrize("backward", ["backward()", "gradients()"])
@pytest.mark.parametrize("change", sorted(CHANGES_OF_X))
@pytest.mark.parametrize("view", sorted(RECORDED_VIEWS))
def test_a_detached_view_is_stale_when_the_viewed_value_changes(
        view: str, change: str, backward: str) -> None:
    """``d = x.T.detach()`` holds a view of x's array: a change of x is a change of d, and a
    graph that read d refuses backward() (it gave w.grad from x's new numbers, silently)."""
    x = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="x")
    d = RECORDED_VIEWS[view](x).detach()
    assert np.shares_memory(d.data, x.data)
    w = Value(np.ones(d.shape), label="w")
    root = (w * d).sum()  # mul's rule reads d
    CHANGES_OF_X[change](x)
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        if backward == "backward()":
            root.backward()
        else:
            gradients(root, [w])


def test_detached_views_made_each_step_are_not_kept_in_the_notes() -> None:
    x = Value(np.ones((3, 3)))
    for _ in range(1000):
        d = x.T.detach()
    assert d.shape == (3, 3) and max(map(len, changes._SHARED_VIEWS.values())) <= 2


# Values a graph reads, whose arrays nothing has sealed: a result, a deep copy of a leaf
OWNERS: dict[str, Callable[[Value], Value]] = {
    "exp result": lambda a: a.exp(), "mul result": lambda a: a * 2.0,
    "deep-copied leaf": lambda a: copy.deepcopy(a),
}


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("kept", [True, False], ids=["view kept", "view let go"])
@pytest.mark.parametrize("owner", sorted(OWNERS))
@pytest.mark.parametrize("view", sorted(RECORDED_VIEWS))
def test_an_edit_through_a_recorded_view_is_seen_by_a_graph_that_reads_the_viewed_value(
        view: str, owner: str, kept: bool, reference: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``v = x.T; v.data[0, 0] = 100`` writes x's array: a graph whose rule reads x refuses
    backward() (it gave gradients from the edited numbers, silently: only v, not x, was
    watched), whether v is kept or a temporary (``x.T.data[0, 0] = 100``)."""
    if reference:
        monkeypatch.setattr(engine, "apply", engine.apply.__wrapped__)  # type: ignore[attr-defined]
    a = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="a")
    x = OWNERS[owner](a)
    w = Value(np.ones((2, 2)), label="w")
    root = (w * x).sum()  # mul's rule reads x
    held = RECORDED_VIEWS[view](x) if kept else None
    cast(Array, (RECORDED_VIEWS[view](x) if held is None else held).data).flat[:2] = 100.0
    assert cast(Array, x.data)[0, 0] == 100.0
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        root.backward()
    assert w.grad.tolist() == np.zeros((2, 2)).tolist()


# Changes of a Value's numbers in place between steps (a view of its array sees them)
IN_PLACE_STEPS: dict[str, Callable[[Value], object]] = {
    "SGD step": lambda x: SGD([x], lr=0.5).step(),
    "+= 1": lambda x: cast(Array, x.data).__iadd__(1.0),
    "np.multiply(out=)": lambda x: np.multiply(x.data, 3.0, out=cast(Array, x.data)),
}


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("step", sorted(IN_PLACE_STEPS))
@pytest.mark.parametrize("view", sorted(RECORDED_VIEWS))
def test_a_recorded_view_reused_after_its_owner_changed_in_place(
        view: str, step: str, reference: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A view made once (``v = x.T``) and read by each step's graph: the graph recorded after
    x changed reads v's numbers as they are now, and backpropagates, with the gradients of a
    view made afresh (it was refused: v's node was made before the change, though its rule
    reads no number; PyTorch allows it). The graph recorded before still refuses, naming x."""
    if reference:
        monkeypatch.setattr(engine, "apply", engine.apply.__wrapped__)  # type: ignore[attr-defined]
    x = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="x")
    v = RECORDED_VIEWS[view](x)
    w = Value(np.linspace(1.0, 2.0, v.size).reshape(v.shape), label="w")
    before = (v * w * v).sum()
    x.grad = np.ones((2, 2))  # (for the SGD step)
    IN_PLACE_STEPS[step](x)
    after = (v * w * v).sum()
    x.zero_grad()
    after.backward()
    got = [cast(Array, x.grad).copy(), cast(Array, w.grad).copy()]
    x.zero_grad()
    w.zero_grad()
    afresh = RECORDED_VIEWS[view](x)
    (afresh * w * afresh).sum().backward()
    np.testing.assert_array_equal(got[0], x.grad)
    np.testing.assert_array_equal(got[1], w.grad)
    with pytest.raises(RuntimeError, match=r"the data of x \(shape \(2, 2\)\) changed"):
        before.backward()


@pytest.mark.parametrize("view", sorted(RECORDED_VIEWS))
def test_a_view_of_an_array_since_replaced_is_stale_for_a_graph_recorded_before(view: str) -> None:
    """``x.data = new``: a view made before still shows the old array (as in numpy and
    PyTorch), which the engine no longer watches: an edit through a reference to it would
    change the numbers a graph recorded before read, unseen, so such a graph refuses (the
    edit below made its gradient 100, with no error, for a while); a graph recorded after
    the rebinding backpropagates."""
    x = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="x")
    v = RECORDED_VIEWS[view](x)
    w = Value(np.full(v.shape, 2.0), label="w")
    before = (v * w).sum()
    old = cast(Array, x.data)
    x.data = np.zeros((2, 2))
    old[...] = 100.0
    with pytest.raises(RuntimeError, match=r"the data of x \(shape \(2, 2\)\) changed"):
        before.backward()
    after = (v * w).sum()
    after.backward()
    np.testing.assert_array_equal(w.grad, v.data)


OWN_ARRAYS: dict[str, Callable[[Value, Array], Any]] = {  # (the array: x.data)
    "w * x.data": lambda w, a: w * a, "x.data * w": lambda w, a: a * w,
    "as_strided": lambda w, a: w * np.lib.stride_tricks.as_strided(a, a.shape, a.strides),
    "sliding_window_view": lambda w, a: w * np.lib.stride_tricks.sliding_window_view(
        a, (1, 1))[:, :, 0, 0],
    "memoryview": lambda w, a: w * np.asarray(memoryview(cast(Any, a))),
    "w * x.data[0]": lambda w, a: w * a[0], "w * x.data.T": lambda w, a: w * a.T,
    "w.maximum(x.data)": lambda w, a: w.maximum(a),
    "w @ x.data": lambda w, a: w @ a, "x.data @ w": lambda w, a: a @ w,
}
OWN_ARRAY_EDITS: dict[str, Callable[[Value], None]] = {
    "in place": lambda x: cast(Array, x.data).__setitem__((0, 0), 100.0),
    "SGD step": lambda x: SGD([x], lr=1.0).step(),
    "rebound": lambda x: setattr(x, "data", x.data * 3.0),
}


# Ways a leaf comes by its array (each noted as one the user may hold: `changes.HOLDERS`)
OWN_ARRAY_LEAVES: dict[str, Callable[[Any], Value]] = {
    "made": lambda data: Value(data, label="x"),
    "given new data": lambda data: _given(Value(np.zeros((2, 2)), label="x"), data),
    "deep-copied": lambda data: copy.deepcopy(Value(data, label="x")),
    "unpickled": lambda data: pickle.loads(pickle.dumps(Value(data, label="x"))),
}


def _given(value: Value, data: Any) -> Value:
    value.data = data
    return value


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("read", [False, True], ids=["x read by no rule", "x read"])
@pytest.mark.parametrize("made", sorted(OWN_ARRAY_LEAVES))
@pytest.mark.parametrize("edit", sorted(OWN_ARRAY_EDITS))
@pytest.mark.parametrize("use", sorted(OWN_ARRAYS))
def test_a_values_own_array_given_as_an_operand_keeps_its_recorded_numbers(
        use: str, edit: str, made: str, read: bool, reference: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``w * x.data`` makes a constant of x's numbers: an edit of x after the graph was
    recorded (an optimizer's step) leaves the gradients as recorded (the constant held x's
    own array, so w.grad came from the edited numbers, silently)."""
    if reference:
        monkeypatch.setattr(engine, "apply", engine.apply.__wrapped__)  # type: ignore[attr-defined]
    x = OWN_ARRAY_LEAVES[made](np.array([[0.5, 1.0], [1.5, 2.0]]))
    x.grad = np.ones((2, 2))  # (for the SGD step)
    if read:
        (x * x).sum()
    w = Value(np.array([[1.0, 0.75], [2.0, 0.25]]), label="w")  # (each edit moves x past w)
    root = OWN_ARRAYS[use](w, cast(Array, x.data)).sum()
    (expected,) = gradients(root, [w])
    OWN_ARRAY_EDITS[edit](x)  # (a rebinding leaves the old array to the constant, untouched: a
    root.backward()  # setter that wrote into it would fail here)
    np.testing.assert_array_equal(w.grad, expected)


GRADIENT_EDITS: dict[str, Callable[[Array], object]] = {
    "item": lambda g: g.__setitem__((0, 0), 100.0),
    "*= (clipped by a scale)": lambda g: g.__imul__(3.0),
    "np.clip(out=)": lambda g: np.clip(g, -0.5, 0.5, out=g),
    "zeroed in place": lambda g: g.fill(0.0),
}
# Ways a tensor comes by its gradient array
GRADIENTS: dict[str, Callable[[Value], object]] = {
    "backward()": lambda x: (x * np.array([[2.0, 3.0], [4.0, 5.0]])).sum().backward(),
    "set": lambda x: setattr(x, "grad", np.array([[2.0, 3.0], [4.0, 5.0]])),
    "made at its first read, added to": lambda x: cast(Array, x.grad).__iadd__(1.5),
}


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("came", sorted(GRADIENTS))
@pytest.mark.parametrize("edit", sorted(GRADIENT_EDITS))
@pytest.mark.parametrize("use", sorted(OWN_ARRAYS))
def test_a_gradient_array_given_as_an_operand_keeps_its_recorded_numbers(
        use: str, edit: str, came: str, reference: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``w * x.grad`` makes a constant of x's gradient: that array edited in place afterwards
    (a gradient clipped or zeroed in place) leaves w's gradient as recorded (the constant held
    x's gradient array, so w.grad came from the edited numbers, silently; PyTorch raises)."""
    if reference:
        monkeypatch.setattr(engine, "apply", engine.apply.__wrapped__)  # type: ignore[attr-defined]
    x = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="x")
    GRADIENTS[came](x)
    w = Value(np.array([[1.0, 0.75], [2.0, 0.25]]), label="w")
    root = OWN_ARRAYS[use](w, cast(Array, x.grad)).sum()
    (expected,) = gradients(root, [w])
    GRADIENT_EDITS[edit](cast(Array, x.grad))
    root.backward()
    np.testing.assert_array_equal(w.grad, expected)


@pytest.mark.parametrize("made", ["detach()", "copy.copy"])
def test_an_edit_through_a_detached_recorded_view_is_seen(made: str) -> None:
    """``v.detach()`` of a recorded view ``v = x[0:2]`` holds v's array, a view of x's: an
    edit through it is an edit of x, refused at backward() of a graph that reads x (it was
    numpy's bare "assignment destination is read-only" for detach(), whose Value has no op
    to find x by: it is found through v, the Value it shares the array with)."""
    x, w = Value([1.0, 2.0, 3.0], label="x"), Value([1.0, 1.0], label="w")
    v = x[0:2]
    y = (v * w).sum()
    held = v.detach() if made == "detach()" else copy.copy(v)
    cast(Array, held.data)[0] = 100.0
    assert cast(Array, x.data)[0] == 100.0
    with pytest.raises(RuntimeError, match=r"changed after the graph was recorded"):
        y.backward()


def test_an_array_handed_out_stays_known_when_a_view_of_it_is_let_go() -> None:
    """x's array is noted as held by x, and by a view of x handed out after: the view let
    go, the array given back is still known as x's, and copied."""
    x, w = Value(np.array([[0.5, 1.0], [1.5, 2.0]])), Value(np.ones(2))
    (x * x).sum()  # (read: the view's getter hands x out with it)
    array = cast(Array, x.data)
    row = x[0]
    _ = row.data
    del row
    root = (w * array[1]).sum()
    cast(Array, x.data)[1, 0] = 100.0
    root.backward()
    assert w.grad.tolist() == [1.5, 2.0]


def test_a_users_array_given_as_an_operand_is_used_as_it_is() -> None:
    """Not a Value's array: not copied (as `torch.as_tensor`; a batch is not copied)."""
    batch = np.array([[1.0, 2.0]])
    w = Value(np.ones((2, 1)))
    _ = Value(batch).data  # (a Value made from it holds a copy, not this array)
    assert cast(Value, batch @ w).parents[0]._data is batch
    assert engine.constant(batch)._data is batch


def _viewed(values: list[Value]) -> list[Value]:
    """The Values of `values` whose arrays `changes` compares at each use (`viewed`)."""
    return [value for value in values
            if (entry := changes.HANDED_OUT.get(id(value))) is not None and
            entry[0]() is value and entry[2]]


@pytest.mark.parametrize("handed_out", [False, True], ids=["fresh", "handed out"])
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_nothing_but_a_view_makes_an_array_viewed(name: str, handed_out: bool) -> None:
    """Comparing an array at each use costs a copy's worth of time: only an array something
    outside the engine holds is compared so (a view, a reference), never one that only the
    engine's own frames held when it was sealed."""
    a = Value(np.linspace(0.1, 0.9, 6).reshape(3, 2), label="a")
    b = Value(np.linspace(1.1, 1.9, 6).reshape(3, 2), label="b")
    if handed_out:
        (a * b).sum().backward()
        _ = a.data, b.data  # handed out with a copy, settled at the next use...
        del _  # ...and no longer held
    root = (_unary(name, a) if name in UNARY else _binary(name, a, b)).sum()
    root.backward()
    sharers = [a.detach(), copy.copy(b)]  # (Values that share an array hold it, too)
    assert _viewed([a, b, *sharers]) == []
    held = cast(Array, a.data if handed_out else b.data)  # (the array, or a view of it, held)
    view = held[0]
    root = (_binary("mul", a, b) * 2.0).sum()
    assert _viewed([a, b]) == [a if handed_out else b]
    del held, view
    root = (_binary("mul", a, b) * 2.0).sum()  # compared once more, and let go
    assert _viewed([a, b]) == []
    root.backward()


def test_a_viewed_array_may_change_between_steps() -> None:
    """A view kept across steps (to watch a weight, say) may be used to change it between
    steps, as may `.data`; the next graph backpropagates with the new data."""
    W = Value(np.array([[1.0, 2.0], [3.0, 4.0]]), label="x")
    row = cast(Array, W.data)[0]  # (W unread yet: its own array, writeable)
    for step in range(3):
        loss = (W * W).sum()
        if step == 1:
            row[0] = 10.0  # after recording: refused...
            with pytest.raises(RuntimeError, match=CHANGED):
                loss.backward()
            loss = (W * W).sum()  # ...so the step records its graph again
        W.zero_grad()
        loss.backward()
        np.testing.assert_array_equal(W.grad, 2.0 * W.data)
        cast(Array, W.data)[1, 1] += 1.0  # between steps: legal
        row[1] += 1.0
    assert row.tolist() == cast(Array, W.data)[0].tolist() == [10.0, 5.0]


def test_a_fancy_index_is_a_copy_whose_numbers_stay_when_its_operand_changes() -> None:
    """``x[[0, 0]]`` is a copy (numpy's fancy indexing), not a view: x changed after a graph
    read it leaves its numbers, and the graph's gradients, as recorded."""
    x = Value(np.array([[0.5, 1.0], [1.5, 2.0]]), label="x")
    picked = x[[0, 0]]
    w = Value(np.full((2, 2), 2.0), label="w")
    root = (picked * w).sum()
    x.grad = np.ones((2, 2))
    SGD([x], lr=0.5).step()
    root.backward()
    np.testing.assert_array_equal(w.grad, [[0.5, 1.0], [0.5, 1.0]])


def test_an_array_handed_out_and_let_go_is_settled_at_backward() -> None:
    """Reading `.data` of a Value kept alive (a validation pass's output, say) kept a copy of
    its array until that Value was used again: every backward() compared them all (a
    training step 54x slower after 200 epochs), and their memory stayed held. An array the
    program still holds stays watched."""
    W = Value(np.ones((3, 2)))
    kept = []
    for _ in range(100):
        with no_grad():
            out = Value(np.ones((5, 3))) @ W
        np.asarray(out.data).argmax(1)  # (read once, let go)
        kept.append(out)
        (W * W).sum().backward()
    assert sum(ref() in kept for ref, _, _ in changes.HANDED_OUT.values()) == 0
    h = W * 2.0
    y = (h * h).sum()
    held = cast(Array, h.data)
    y.backward()
    held[0, 0] = 5.0  # (held through the backward pass: watched still)
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        y.backward()
    view = W.T
    y = (view * view).sum()
    held_view = np.asarray(view.data)
    y.backward()
    held_view[0, 0] = 7.0  # (a view held through the backward pass: writeable, watched)
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        y.backward()
    h = W * 2.0
    y = (h * h).sum()
    np.asarray(h.data).sum()
    y.backward()  # (let go: sealed)
    np.asarray(h.data)[0, 0] = 5.0  # (handed out again, edited)
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        y.backward()


def test_the_copies_of_values_gone_are_let_go_as_hand_outs_grow() -> None:
    """Values whose `.data` was read and which are gone kept their copies until a backward
    pass (7.8 MB after an inference loop that kept the arrays, say)."""
    W = Value(np.ones((3, 2)))
    with no_grad():
        outs = [Value(np.ones((5, 3))) @ W for _ in range(100)]
        arrays = [np.asarray(out.data) for out in outs]
        del outs  # (the arrays kept, their Values gone)
        blockers = [Value(1.0) for _ in range(300)]  # (where they were: no id reused)
        more = [Value(np.ones((5, 3))) @ W for _ in range(100)]
        for out in more:
            np.asarray(out.data).sum()
    assert sum(ref() is None for ref, _, _ in changes.HANDED_OUT.values()) < 50
    assert len(arrays) == len(more) == 100 and len(blockers) == 300


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda b: pickle.loads(pickle.dumps(b))],
                         ids=["deepcopy", "pickle"])
def test_an_array_copied_with_its_value_cannot_change_it_unseen(copy_of: Any) -> None:
    """A checkpoint of a Value and its array (``{"x": x, "x_array": x.data}``): the copy's
    array was writeable and unwatched, so an edit after a graph was recorded gave w2.grad
    [100, 2, 3], silently, where the original refuses."""
    x, w = Value([1.0, 2.0, 3.0], label="x"), Value([1.0, 1.0, 1.0])
    (x * w).sum().backward()  # (x read by a rule)
    bundle = copy_of({"x": x, "w": w, "x_array": x.data})
    x2, w2, array = bundle["x"], bundle["w"], bundle["x_array"]
    w2.zero_grad()
    y = (x2 * w2).sum()
    array[0] = 100.0  # (writeable, as the original's kept .data: watched)
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda b: pickle.loads(pickle.dumps(b))],
                         ids=["deepcopy", "pickle"])
def test_a_users_batch_copied_with_its_graph_stays_the_users(copy_of: Any) -> None:
    """The copy sealed every read node's array, a constant's too: the user's batch X, edited
    after backward() (legal in the original), raised numpy's read-only error in the copy."""
    X, W = np.arange(6.0).reshape(3, 2), Value(np.ones((2, 1)))
    loss = ((X @ W) * (X @ W)).sum()
    loss.backward()
    bundle = copy_of({"loss": loss, "X": X})
    bundle["X"] += 1.0
    assert bundle["X"].tolist() == (X + 1.0).tolist()


def test_a_kept_reference_stays_writeable_across_an_optimizer_step() -> None:
    """SGD's in-place step sealed the array again: a kept reference's clipping between steps
    raised numpy's read-only error (the same update by hand did not)."""
    w = Value([1.0, 2.0], label="x")
    kept = cast(Array, w.data)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    np.clip(kept, -1.5, 1.5, out=kept)
    assert cast(Array, w.data).tolist() == [0.8, 1.5]
    y = (w * w).sum()
    kept[0] = 0.5  # after the graph was recorded: refused at its backward()
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()


def _assign(x: Value) -> None:
    x.data -= 0.5


def _in_place(x: Value) -> None:
    with no_grad():
        x -= 0.5


UPDATES: dict[str, Callable[[Value], None]] = {
    "SGD": lambda x: SGD([x], lr=0.1).step(), "x.data -= ...": _assign,
    "no_grad(): x -= ...": _in_place}


@pytest.mark.parametrize("update", UPDATES.values(), ids=UPDATES.keys())
def test_a_view_made_after_the_hand_out_stays_watched_across_an_update(
        update: Callable[[Value], None]) -> None:
    """``v = x.data[0]``, then a legal update (an optimizer's step, ``x.data -= ...``, ``x -=``
    in no_grad): the update sealed x's array as it was handed out, unviewed, but v, made
    since, stayed writeable, and an edit through it after the next graph was recorded went
    unseen (w.grad [[101.9, 100.9], [0.9, 3.9]] for [[1.9, 0.9], [0.9, 3.9]]). Without a
    view kept, the update seals the array and watches nothing."""
    x, w = Value([[2.0, 1.0], [1.0, 4.0]], label="x"), Value(np.ones((2, 2)))
    (x * w).sum().backward()
    v = cast(Array, x.data)[0]
    update(x)
    y = (x * w).sum()
    v += 100.0
    with pytest.raises(RuntimeError, match=CHANGED):
        y.backward()
    z = Value([[2.0, 1.0], [1.0, 4.0]], label="z")
    (z * w).sum().backward()
    cast(Array, z.data)[0, 0] = 2.0  # (handed out, let go: no view kept)
    update(z)
    assert id(z) not in changes.HANDED_OUT and not z._data.flags.writeable  # type: ignore[union-attr]


@pytest.mark.parametrize("change", ["its own data", "an operand's"])
def test_a_copy_of_a_node_made_before_a_change_refuses_backward_as_the_node_does(
        change: str) -> None:
    """copy.copy(h) took a new creation number: a change made before the copy looked older
    than the copied node, and its backward went through the changed numbers (x.grad all 23.5,
    h's new data, for exp(x))."""
    x = Value([[3.0, 2.0], [1.0, 2.0]], label="x")
    h = x.exp()
    h.label = "h"
    if change == "its own data":
        h.data = np.full((2, 2), 23.5)
    else:
        x.data = np.full((2, 2), 16.5)  # (or an optimizer's step)
    for node in (h, copy.copy(h)):
        with pytest.raises(RuntimeError, match=r"the data of (x|h) \(.*\) changed after"):
            node.sum().backward()
    fresh = copy.copy(x.exp())  # (made after the change: no alarm)
    fresh.sum().backward()
    assert np.array_equal(cast(Array, x.grad), np.exp(np.full((2, 2), 16.5 if change ==
                                                      "an operand's" else x.data)))


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda y: pickle.loads(pickle.dumps(y))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_graph_refuses_an_edit_made_through_a_value_outside_it(
        copy_of: Callable[[Value], Value]) -> None:
    """``d = h.detach()`` shares h's array; an edit through d.data, d outside y's graph, was
    not compared when the graph was copied (only its own Values' hand-outs were), and the
    copy backpropagated through the edited numbers."""
    x, w = Value([[2.0, 4.0], [4.0, 4.0]], label="x"), Value([[3.0, 2.0], [3.0, 2.0]])
    h = x * w
    h.label = "h"
    y = (h * h).sum()
    d = h.detach()
    np.add(cast(Array, d.data), 1.0, out=cast(Array, d.data))
    with pytest.raises(RuntimeError, match=r"the data of h \(.*\) changed after"):
        copy_of(y).backward()
    with pytest.raises(RuntimeError, match=r"the data of h \(.*\) changed after"):
        y.backward()


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda y: pickle.loads(pickle.dumps(y))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_graph_reading_a_view_of_a_value_changed_then_rebound_refuses_backward(
        copy_of: Callable[[Value], Value]) -> None:
    """t = x.T read by y; x edited in place (y is stale), then rebound: the copy made t an
    array of its own (no view of x's new array), and the stamp, put on x, no longer reached
    it: the copy backpropagated through the edited numbers ([[14, 2], [2, 2]])."""
    x = Value([[2.0, 1.0], [1.0, 1.0]], label="x")
    y = (x.T * x.T).sum()
    cast(Array, x.data)[0, 0] = 7.0
    x.data = np.full((2, 2), 14.5)
    for graph in (y, copy_of(y)):
        with pytest.raises(RuntimeError, match=r"changed after the graph was recorded"):
            graph.backward()


def test_the_assignments_reference_count_holds_under_a_profiler() -> None:
    """A profiler that reads the setter's locals while changes.py is imported kept the probe's
    array alive: ASSIGNMENT_REFERENCES came out 2, and every ``x.data -= ...`` then missed one
    view (the silent case of the test above came back)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.setprofile(lambda frame, event, arg: frame.f_locals)\n"
        "from tinygrad_edu import Value, changes\n"
        "sys.setprofile(None)\n"
        "assert changes.ASSIGNMENT_REFERENCES <= 1, changes.ASSIGNMENT_REFERENCES\n"
        "x = Value([[1.0, 2.0], [3.0, 4.0]])\n"
        "(x * x).sum().backward()\n"
        "v = x.data[0]\n"
        "x.data -= 0.1 * x.grad\n"
        "loss = (x * x).sum()\n"
        "v[0] += 100.0\n"
        "try:\n"
        "    loss.backward()\n"
        "except RuntimeError:\n"
        "    print('refused')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stderr
