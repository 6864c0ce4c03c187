"""Audit of `grad(f)` and `detect_anomaly()` at their edges, against torch.func.grad,
torch.autograd.grad and torch.autograd.detect_anomaly: closures over an outer variable (the
mixed derivative), a gradient that depends on a parameter, anomaly mode across threads, the
infinities it names, where a backward nan began; and what it found outside functional.py and
anomaly.py (losses.py's fast cross_entropy unchecked, engine.gradients' inputs)."""

from __future__ import annotations

import copy
import math
import pickle
import threading
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import grad as torch_grad

from tinygrad_edu import Value, detect_anomaly, engine, grad, gradients, no_grad
from tinygrad_edu.data import Array
from tinygrad_edu.nn import cross_entropy

finite = st.floats(-3.0, 3.0, allow_nan=False)


def t64(x: Any) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# ---- grad: an inner gradient that closes over an outer variable ------------------------------


@settings(max_examples=30, deadline=None)
@given(finite, finite)
def test_an_inner_gradient_closing_over_the_outer_variable_is_differentiated(
        x: float, y: float) -> None:
    """d/dx [x · d/dy (x·y)] = d/dx x² = 2x, as torch.func.grad gives. The inner gradient was
    the number x was (its pass not recorded, since y was a number), so the outer saw a
    constant: x, not 2x."""
    assert grad(lambda a: a * grad(lambda b: a * b)(y))(x) == 2 * x
    ours = grad(lambda a: grad(lambda b: (a * b).sin())(y) * a)(x)
    theirs = torch_grad(lambda a: torch_grad(lambda b: (a * b).sin())(t64(y)) * a)(t64(x))
    assert ours == pytest.approx(theirs.item(), rel=1e-12, abs=1e-12)


def test_three_levels_and_a_second_derivative_through_a_closure() -> None:
    """d/dx d/dy d/dz (x·y·z²) at z = 1.5 is 2z = 3 (0, before); and the second derivative
    of x · d/dy exp(x·y) matches torch.func's."""
    assert grad(lambda x: grad(lambda y: grad(lambda z: x * y * z * z)(1.5))(0.5))(2.0) == 3.0
    ours = grad(grad(lambda x: x * grad(lambda y: (x * y).exp())(0.7)))(0.3)
    theirs = torch_grad(torch_grad(lambda x: x * torch_grad(lambda y: (x * y).exp())(
        t64(0.7))))(t64(0.3))
    assert ours == pytest.approx(theirs.item(), rel=1e-12)


def test_a_gradient_that_depends_on_a_closed_over_parameter_carries_its_graph() -> None:
    """A gradient penalty, ‖∂f/∂x‖², backpropagated to the parameter W that f closes over:
    torch.func.grad's gradient carries a grad_fn to W. Ours was a bare array, so the
    penalty had no gradient (and W's could not be asked for); now it is a Value, and W.grad
    matches torch's. The grad call itself leaves W.grad alone."""
    w = Value([1.0, -2.0], label="W")
    g = grad(lambda x: (w * x * x).sum())(np.array([0.5, 3.0]))
    assert isinstance(g, Value) and w.grad.tolist() == [0.0, 0.0]
    (g * g).sum().backward()
    tw = t64([1.0, -2.0]).requires_grad_()
    tg = torch_grad(lambda x: (tw * x * x).sum())(t64([0.5, 3.0]))
    (tg * tg).sum().backward()
    assert tw.grad is not None
    np.testing.assert_allclose(cast(Array, w.grad), tw.grad.numpy(), rtol=1e-15)
    # a Value passed as a keyword argument is closed over too
    k = Value(5.0)
    gk = grad(lambda x, scale: x * scale)(2.0, scale=k)
    assert isinstance(gk, Value) and gk.data == 5.0
    gk.backward()
    assert k.grad == 1.0
    # each gradient a Value where it depends on w, a number where it does not
    ga, gb = grad(lambda a, b: a * w[1] + b * b, argnums=(0, 1))(1.0, 2.0)
    assert isinstance(ga, Value) and ga.data == -2.0 and gb == 4.0


def test_gradients_that_do_not_depend_on_a_closed_over_value_stay_numbers() -> None:
    """A regression test: a Value made inside f, one needing no gradient, a closed-over one
    the gradient does not depend on, or a closure inside no_grad: numbers and arrays, as
    before, each array of its own."""
    w = Value(3.0)
    assert grad(lambda x: x * Value(2.0))(3.0) == 2.0
    assert grad(lambda x: x * Value(2.0, requires_grad=False))(3.0) == 2.0
    assert grad(lambda x: x * x + w * w)(3.0) == 6.0
    with no_grad():
        assert grad(lambda x: x * w)(3.0) == 3.0
    ga, gb = grad(lambda a, b: (a + b).sum() + w, argnums=(0, 1))(np.zeros(2), np.zeros(2))
    assert type(ga) is np.ndarray and type(gb) is np.ndarray
    ga *= 2.0
    assert gb.tolist() == [1.0, 1.0]


# ---- detect_anomaly ----------------------------------------------------------------------------


def test_a_thread_entering_while_another_leaves_stays_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Anomaly mode is one switch for all threads (as PyTorch's). A thread that entered while
    another's last exit was switching the checks off found them off: its block checked
    nothing, silently. Here the exit is held between its count and its switch."""
    route = engine.route_operations
    leaving, entered, left = threading.Event(), threading.Event(), threading.Event()
    seen: list[str] = []

    def held_route(through: Any, *rest: Any) -> None:
        if through is None and not leaving.is_set():
            leaving.set()
            entered.wait(0.3)  # (the other thread gets in here, unless it is kept out)
        route(through, *rest)

    def other() -> None:
        assert leaving.wait(5)
        with detect_anomaly():
            entered.set()
            left.wait(5)  # (the other block has ended)
            try:
                Value(-1.0).log()
                seen.append("unchecked")
            except FloatingPointError:
                seen.append("checked")

    monkeypatch.setattr(engine, "route_operations", held_route)
    thread = threading.Thread(target=other)
    thread.start()
    with detect_anomaly():
        pass
    left.set()
    thread.join(5)
    assert seen == ["checked"]
    assert detect_anomaly._depth == 0 and engine._check_shares is None
    assert engine.apply is engine._fast_routes[0]


def test_the_fast_routes_come_back_after_an_exception_inside() -> None:
    """A regression test: an error inside (nested) blocks restores the fast copies."""
    apply, operator, mul = engine.apply, engine._operator, Value.__mul__
    with pytest.raises(KeyError), detect_anomaly(), detect_anomaly():
        raise KeyError("inside")
    assert (engine.apply, engine._operator, Value.__mul__) == (apply, operator, mul)
    assert engine._check_shares is None and detect_anomaly._depth == 0
    assert (Value(1e308) * 10.0).data == math.inf  # (silent IEEE again)


@pytest.mark.parametrize(("make", "named"), [
    (lambda: Value(0.0, label="x").log(), r"log gave -inf, from x \(a scalar\)$"),
    (lambda: Value([0.0, 1.0], label="t").log(), r"log gave -inf, from t"),
    (lambda: Value([-1e308, 1e308]) * 10.0, r"\* gave inf and -inf, from"),
    (lambda: Value([-math.inf, 1.0], label="m") + 1.0, r"\+ gave -inf, from m \(shape \(2,\), "
                                                       r"holding -inf already\)"),
])
def test_detect_anomaly_names_a_negative_infinity_as_one(
        make: Callable[[], Value], named: str) -> None:
    """log(0) is -inf: the message said "log gave inf" (and "holding inf already" of an
    operand holding -inf), sending the learner to look for an overflow."""
    with detect_anomaly(), pytest.raises(FloatingPointError, match=named):
        make()


def test_a_nan_that_arrives_at_a_node_is_not_blamed_on_its_rule() -> None:
    """sqrt(h) − sqrt(h) at h = 0: the two shares, +inf and −inf, sum to nan at h; the
    message blamed the rule of the * that made h ("the gradient rule of * gave nan"), a rule
    that only passed on the nan it was given. (PyTorch's anomaly mode says nothing here.)"""
    x = Value(0.0, label="x")
    with detect_anomaly(), pytest.raises(FloatingPointError, match=(
            r"^detect_anomaly: the gradient arriving at h \(a scalar, made by mul\) holds nan "
            r"already: .*summed to nan")):
        h = x * 1.0
        h.label = "h"
        (h.sqrt() - h.sqrt()).backward()
    seeded = Value([1.0, 2.0], label="s")
    with detect_anomaly(), pytest.raises(FloatingPointError, match="the gradient given to"):
        (seeded * 2.0).backward(np.array([math.nan, 1.0]))


def test_an_anomaly_in_a_recorded_backward_pass_says_so() -> None:
    """grad(sqrt) of a Value at 0 records its backward pass, where 1/(2·sqrt(0)) is inf: the
    message named a "/" the learner never wrote ("/ gave inf, from an unlabelled Value");
    now it says it is in the recorded backward pass, in sqrt's rule."""
    with detect_anomaly(), pytest.raises(FloatingPointError, match=(
            r"^detect_anomaly: / gave inf in the recorded backward pass \(create_graph=True\), "
            r"in the gradient rule of sqrt at an unlabelled Value \(a scalar, made by sqrt\)")):
        grad(lambda v: v.sqrt())(Value(0.0))


def _numbers(a: float, b: list[float]) -> list[Any]:
    """Forward data and gradients (plain and recorded) of a small scalar and tensor graph."""
    x, t = Value(a), Value(b)
    y = (x * x - x / 3.0 + (x * 0.5).tanh()).sigmoid() * (t.exp() + 1.0).log().sum()
    y.backward()
    (gx,) = gradients(y, [x], create_graph=True)
    return [y.data, x.grad, t.grad.copy(), gx.data, grad(grad(lambda v: (v * v).sin()))(a)]


@settings(max_examples=25, deadline=None)
@given(finite, st.lists(finite, min_size=1, max_size=4))
def test_numbers_are_bit_identical_with_and_without_detect_anomaly(
        a: float, b: list[float]) -> None:
    """A regression test: the checked reference routes compute the same bits as the fast."""
    plain = _numbers(a, b)
    with detect_anomaly():
        checked = _numbers(a, b)
    assert [np.asarray(v).tobytes() for v in plain] == [np.asarray(v).tobytes() for v in checked]


def test_pictures_pickles_and_copies_inside_detect_anomaly() -> None:
    """A regression test: the same DOT text, and graphs that pickle and backpropagate."""
    from tinygrad_edu.viz import draw_graph

    def make() -> Value:
        a, b = Value(2.0, label="a"), Value([1.0, 2.0], label="b")
        y = (a * b).exp().sum()
        y.backward()
        return y

    outside = draw_graph(make()).source
    with detect_anomaly():
        assert draw_graph(make()).source == outside
        for twin in (pickle.loads(pickle.dumps(make())), copy.deepcopy(make())):
            twin.backward()
            assert twin.data == make().data


# ---- outside these modules: losses.py and engine.gradients ----------------------------------


def test_detect_anomaly_sees_the_fused_cross_entropy() -> None:
    with detect_anomaly(), pytest.raises(FloatingPointError, match="cross_entropy"):
        cross_entropy(Value([[math.inf, 0.0]]), np.array([1]))


def test_gradients_of_inputs_given_as_a_generator() -> None:
    a = Value(1.0)
    assert gradients(a * 3.0, (v for v in [a])) == [3.0]  # type: ignore[arg-type]


def test_gradients_refuses_an_input_that_requires_no_grad() -> None:
    a, c = Value(2.0), Value(5.0, requires_grad=False)
    with pytest.raises(ValueError, match=r"^gradients: input 0, .* does not require grad"):
        gradients(a * c, [c])


@pytest.mark.parametrize("call", [lambda a: gradients(3.0, [a]),  # type: ignore[arg-type]
                                  lambda a: gradients(a * 3.0, [1.0])])  # type: ignore[list-item]
def test_gradients_names_what_is_no_value(call: Callable[[Value], Any]) -> None:
    with pytest.raises(TypeError, match="gradients"):
        call(Value(1.0))


def test_gradients_of_a_tensor_output_names_itself() -> None:
    """It said "backward() on a tensor of shape (2,) needs gradient=": another function."""
    a = Value([1.0, 2.0])
    with pytest.raises(ValueError, match=r"^gradients: output must be a scalar Value; got one "
                                         r"of shape \(2,\): call \.sum\(\) first"):
        gradients(a * 2.0, [a])
