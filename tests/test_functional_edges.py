"""Edges of the functional and mode APIs: `grad(f, argnums)`, `no_grad`/`enable_grad` and
`detect_anomaly`, compared with jax.grad, torch.func.grad and torch.no_grad."""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import grad as torch_grad

import tinygrad_edu
from tinygrad_edu import Value, detect_anomaly, enable_grad, grad, no_grad
from tinygrad_edu.data import Array


def cube_times(x: Any, y: Any) -> Any:
    """x·y³: d/dx = y³, d/dy = 3xy²."""
    return x * y * y * y


# ---- grad: argnums ---------------------------------------------------------------------------


@pytest.mark.parametrize("argnums", [(0, 0), (1, -1), [0, 1, 0]])
def test_grad_refuses_a_position_named_twice(argnums: Any) -> None:
    """As torch.func.grad ("argnums elements must be unique"). Before: the second mention
    took the Value made for the first as the user's own and gave Values, not floats."""
    with pytest.raises(ValueError, match=r"twice|distinct"):
        grad(cube_times, argnums=argnums)(2.0, 3.0)


def test_grad_refuses_a_negative_position_past_the_arguments() -> None:
    """argnums=-3 of two arguments: torch.func.grad's "Got argnum=-3, but only 2 positional
    inputs" (a bare IndexError from inside, before)."""
    with pytest.raises(TypeError, match=r"argnums=-3, but f was given 2 positional arguments"):
        grad(cube_times, argnums=-3)(2.0, 3.0)
    with pytest.raises(TypeError, match=r"keyword arguments are passed on"):
        grad(cube_times)(x=2.0, y=3.0)
    assert grad(cube_times, argnums=-2)(2.0, 3.0) == 27.0  # (negative ones count from the end)


@pytest.mark.parametrize("argnums", [True, 1.0, None, "0", (0, 1.5), ()])
def test_grad_refuses_argnums_that_name_no_position(argnums: Any) -> None:
    """When grad is called, as jax.grad checks argnums: a bool (True was position 1), a float,
    None, a string, an empty tuple (it gave (), torch.func.grad refuses it); the others
    raised Python's own errors from inside ("'float' object is not iterable")."""
    with pytest.raises((TypeError, ValueError), match="grad: argnums"):
        grad(cube_times, argnums=argnums)


def test_grad_takes_numpys_integers_as_positions() -> None:
    """As jax.grad (operator.index); np.int64(1) was refused as "not iterable"."""
    assert grad(cube_times, argnums=np.int64(1))(2.0, 3.0) == 54.0
    assert grad(cube_times, argnums=(np.int32(1), 0))(2.0, 3.0) == (54.0, 27.0)


def test_grad_refuses_what_is_no_function_when_it_is_made() -> None:
    """As jax.grad ("Expected a callable value"); before, only the call failed, far from it."""
    with pytest.raises(TypeError, match=r"grad: f must be a function; got 3 \(type int\)"):
        grad(3)  # type: ignore[arg-type]


# ---- grad: what f returns, what it is given ---------------------------------------------------


def test_a_gradient_is_a_constant_inside_no_grad() -> None:
    """grad(f)(w) of a Value w inside no_grad gave 0.0: the node made for w's position was
    made without recording, so f's result did not depend on it. As torch.func.grad, the
    outer no_grad only means the gradient carries no graph."""
    w = Value(3.0)
    with no_grad():
        g = grad(lambda x: x**3)(w)
        gg = grad(grad(lambda x: x**3))(w)
    assert isinstance(g, Value) and g.data == 27.0 and not g.requires_grad and g.parents == ()
    assert isinstance(gg, Value) and gg.data == 18.0 and not gg.requires_grad
    assert w.grad == 0.0 and tinygrad_edu.is_grad_enabled()
    assert cast(Value, grad(lambda x: x**3)(w)).requires_grad  # (outside: a graph, as before)
    their = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        theirs = torch_grad(lambda x: x**3)(their)
    assert theirs.item() == 27.0 and theirs.grad_fn is None


def test_gradients_of_several_arguments_are_arrays_of_their_own() -> None:
    """The rule of + hands one array to both operands: changing one gradient in place (as an
    update `g *= lr` does) changed the other (engine.gradients shares them too)."""
    ga, gb = grad(lambda a, b: (a + b).sum(), argnums=(0, 1))(np.zeros(3), np.zeros(3))
    ga *= 0.1
    assert gb.tolist() == [1.0, 1.0, 1.0]
    gc, gd = grad(lambda a, b: (a.reshape(2) + b).sum(), argnums=(0, 1))(
        np.zeros((1, 2)), np.zeros(2))
    gc[0, 0] = 7.0  # (a reshaped view of the other's array, before)
    assert gd.tolist() == [1.0, 1.0]


def test_f_returning_a_zero_dimensional_array_is_a_constant() -> None:
    """np.float64(2.0) was a constant (gradient 0, as jax.grad) but np.array(2.0) was refused."""
    assert grad(lambda x: np.array(2.0))(5.0) == 0.0
    np.testing.assert_array_equal(grad(lambda x: np.sum([1.0]))(np.ones(2)), [0.0, 0.0])


@pytest.mark.parametrize(("returned", "named"), [
    (lambda x: (x * x, 1.0), r"returned \(Value\(data=4\.0.*\(type tuple\); there is no has_aux"),
    (lambda x: None, r"it returned None \(type NoneType\)"),
    (lambda x: x.reshape(1), r"it returned shape \(1,\)"),
    (lambda x: x > 0, r"it returned True \(type bool\)"),
])
def test_f_returning_no_scalar_is_named(returned: Callable[[Any], Any], named: str) -> None:
    """A tuple (jax's has_aux is not there), None, shape (1,) and bool are refused with what
    was returned (for a tuple and None: its type's name only, "tuple", before)."""
    with pytest.raises(TypeError, match=r"f must return a scalar Value.*" + named):
        grad(returned)(2.0)


def test_an_argument_that_is_no_data_is_named_by_its_position() -> None:
    with pytest.raises(TypeError, match=r"^grad: argument 1: Value data must be a number.*'a'"):
        grad(lambda x, y: x * y, argnums=(0, 1))(2.0, "a")


def test_grad_keeps_the_name_and_qualified_name_of_f() -> None:
    """As torch.func.grad (functools.wraps): the repr named `grad.<locals>.gradient_of_f`."""
    def loss(x: Any) -> Any:
        """The loss."""
        return x * x

    g = grad(loss)
    assert (g.__name__, g.__qualname__, g.__doc__) == ("loss", loss.__qualname__, "The loss.")
    assert g.__wrapped__ is loss  # type: ignore[attr-defined]


def test_grad_leaves_the_users_values_and_arrays_alone() -> None:
    """A regression test: neither `.grad` of a Value given nor an array given changes."""
    w, a = Value([1.0, 2.0]), np.array([3.0, 4.0])
    w.grad = [5.0, 6.0]
    g = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(w, a)
    assert [cast(Array, cast(Value, v).data).tolist() for v in g] == [[3.0, 4.0], [1.0, 2.0]]
    assert w.grad.tolist() == [5.0, 6.0] and a.tolist() == [3.0, 4.0]


@settings(max_examples=25, deadline=None)
@given(st.floats(-2.0, 2.0), st.sampled_from(["sin", "tanh", "sigmoid", "softplus", "exp"]))
def test_third_derivatives_agree_with_torch_func(x: float, name: str) -> None:
    """A regression test: grad(grad(grad(f))) equals torch.func's, for smooth activations."""
    ours = grad(grad(grad(lambda v: getattr(v, name)())))(x)
    torch_f: Any = {"sin": torch.sin, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
               "softplus": torch.nn.functional.softplus, "exp": torch.exp}[name]
    theirs = torch_grad(torch_grad(torch_grad(torch_f)))(torch.tensor(x, dtype=torch.float64))
    assert ours == pytest.approx(theirs.item(), rel=1e-9, abs=1e-12)


# ---- no_grad and enable_grad ---------------------------------------------------------------


@pytest.mark.parametrize("mode", [no_grad, enable_grad])
def test_one_instance_entered_twice_restores_the_switch(mode: type[no_grad]) -> None:
    """`ctx = no_grad(); with ctx: with ctx: ...`: the second entry overwrote what the first
    had found, so after the outer block recording stayed off for good (training silently
    learned nothing). torch.no_grad has the same slip; Python's own reusable context
    managers (contextlib) do not."""
    ctx = mode()
    with no_grad():
        with ctx, ctx:
            pass
        assert not tinygrad_edu.is_grad_enabled()
    with ctx:
        with ctx:
            pass
        assert tinygrad_edu.is_grad_enabled() is (mode is enable_grad)
    assert tinygrad_edu.is_grad_enabled()
    assert (Value(2.0) * Value(3.0)).requires_grad


def test_one_instance_shared_by_threads_restores_each_threads_switch() -> None:
    """A module-level `NO_GRAD = no_grad()` used in two threads: each exit restores what its
    own thread's entry found (one thread's switch was restored to the other's state)."""
    shared = no_grad()
    entered, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with shared:
            entered.set()
            leave.wait(5)
        seen.append(tinygrad_edu.is_grad_enabled())

    thread = threading.Thread(target=other)
    with no_grad():  # this thread: off before it enters the shared one
        thread.start()
        assert entered.wait(5)
        with shared:
            leave.set()
            thread.join(5)
        assert not tinygrad_edu.is_grad_enabled()
    assert seen == [True] and tinygrad_edu.is_grad_enabled()


def test_exit_without_enter_is_named() -> None:
    with pytest.raises(RuntimeError, match="no_grad: __exit__ in a thread where"):
        no_grad().__exit__(None, None, None)
    with pytest.raises(RuntimeError, match=r"detect_anomaly: __exit__ without __enter__"):
        detect_anomaly().__exit__(None, None, None)
    with detect_anomaly(), pytest.raises(FloatingPointError):  # (it checked nothing, after)
        Value(-1.0).log()


@pytest.mark.parametrize("mode", [no_grad, enable_grad, detect_anomaly])
@pytest.mark.parametrize("argument", [False, 3, "x"])
def test_a_mode_given_an_argument_that_is_no_function_says_so(mode: Any, argument: Any) -> None:
    """`no_grad(False)` (read as torch.set_grad_enabled(False)) gave a "decorated" False,
    whose use failed far away ('bool' object is not callable, or no __enter__)."""
    name = mode.__name__
    with pytest.raises(TypeError, match=rf"^{name}\(\) takes no arguments.*got {argument!r}"):
        mode(argument)
    with pytest.raises(TypeError, match=rf"^{name}\(\) takes no arguments"):
        mode()(argument)


def test_async_functions_and_classes_are_refused() -> None:
    """An async function's body runs when awaited, after the decorator's block has closed:
    `@no_grad async def` recorded its graph silently. A class became a function."""
    async def infer(v: Value) -> bool:
        return (v * v).requires_grad

    async def stream(v: Value) -> AsyncGenerator[bool, None]:
        yield (v * v).requires_grad

    # what the decorated one did, silently: its body recorded (run by hand, without asyncio:
    # the session's browser fixture, Playwright's sync API, keeps an event loop running)
    coroutine = infer(Value(2.0))
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    assert finished.value.value is True
    for func in (infer, stream):
        with pytest.raises(TypeError, match="cannot decorate the async function"):
            no_grad()(func)
        with pytest.raises(TypeError, match="cannot decorate the async function"):
            detect_anomaly(func)

    class Model:
        pass

    with pytest.raises(TypeError, match="cannot decorate the class Model"):
        no_grad(Model)


def test_methods_static_and_class_methods_decorated() -> None:
    """A regression test: @no_grad on methods (bare and called), static and class methods."""
    class Net:
        @no_grad()
        def predict(self, v: Value) -> Value:
            """Predict."""
            return v * 2

        @no_grad
        def bare(self, v: Value) -> Value:
            return v * 2

        @staticmethod
        @no_grad()
        def static(v: Value) -> Value:
            return v * 2

        @classmethod
        @no_grad
        def klass(cls, v: Value) -> Value:
            return v * 2

    net, w = Net(), Value(1.0)
    assert not any(y.requires_grad for y in (net.predict(w), net.bare(w), Net.static(w),
                                              Net.klass(w)))
    assert (Net.predict.__name__, Net.predict.__doc__) == ("predict", "Predict.")
    assert (w * 2).requires_grad


# ---- detect_anomaly ----------------------------------------------------------------------------


def test_detect_anomaly_as_a_bare_decorator() -> None:
    """As no_grad: `@detect_anomaly` without parentheses ("takes no arguments", before)."""
    @detect_anomaly
    def take_log(v: Value) -> Value:
        return v.log()

    with pytest.raises(FloatingPointError, match="log gave nan"):
        take_log(Value(-1.0))
    assert math.isnan(cast(float, Value(-1.0).log().data))  # (off again after)


@pytest.mark.parametrize(("make", "named"), [
    (lambda: Value(math.nan, label="n") * 2.0, r"\* gave nan, from n \(a scalar, holding nan "
                                                r"already\), the constant 2\.0"),
    (lambda: Value([1.0, math.inf], label="t").exp(), r"exp gave inf, from t \(shape \(2,\), "
                                                       r"holding inf already\)"),
    (lambda: Value([math.nan, math.inf]).relu(), r"holding nan and inf already"),
])
def test_detect_anomaly_says_when_the_nan_came_in_with_an_operand(
        make: Callable[[], Value], named: str) -> None:
    """The op named is not where a nan began when an operand held it already (a nan in the
    data, say): "* gave nan, from n (a scalar)" sent the learner to look at the product."""
    with detect_anomaly(), pytest.raises(FloatingPointError, match=named):
        make()


def test_detect_anomaly_names_the_op_made_from_finite_operands_as_before() -> None:
    """A regression test: an op that makes the first nan from finite operands is named alone."""
    with detect_anomaly(), pytest.raises(FloatingPointError) as error:
        Value(np.array([4.0, -1.0]), label="x").sqrt()
    assert str(error.value) == "detect_anomaly: sqrt gave nan, from x (shape (2,))"


def test_grad_of_a_function_that_uses_no_grad_inside() -> None:
    """A regression test: a no_grad block inside f is a constant there (jax.lax.stop_gradient,
    torch.func.grad's 'inner no_grad is respected'), also when grad is itself inside no_grad."""
    def f(x: Any) -> Any:
        with no_grad():
            k = x * 3
        return x * k

    assert grad(f)(2.0) == 6.0
    with no_grad():
        assert grad(f)(2.0) == 6.0
        assert grad(grad(lambda x: x**3))(2.0) == 12.0
    arr = cast(Array, grad(lambda x: (x * x).sum())(np.array([1.0, 2.0], dtype=np.float32)))
    assert arr.dtype == np.float64 and arr.tolist() == [2.0, 4.0]


def test_gradients_gives_each_input_an_array_of_its_own() -> None:
    # a + b sends one array to both operands: editing one gradient changed the other
    from tinygrad_edu.engine import gradients

    a, b = Value(np.zeros(2)), Value(np.zeros(2))
    ga, gb = gradients((a + b).sum(), [a, b])
    ga *= 2.0
    assert gb.tolist() == [1.0, 1.0]
    first, second = gradients((a * 3.0).sum(), [a, a])  # (one input asked for twice)
    first += 1.0
    assert second.tolist() == [3.0, 3.0]


# ---- a number taken out of a Value inside grad's f -----------------------------------------

CUTS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("math.sin(x)", lambda x: math.sin(x), r"argument 0 with float\(\) \(math\.sin\(x\) .*\)"),
    ("x.item()", lambda x: x.item() ** 2, r"argument 0 with item\(\)"),
    ("Value(x.item())", lambda x: Value(math.exp(x.item())), r"argument 0 with item\(\)"),
    ("float(2 * x)", lambda x: Value(float(2 * x)) * 3.0,
     r"a Value computed from argument 0 with float\(\) \(.*\)"),
    ("int(x)", lambda x: int(x) * 1.0, r"argument 0 with int\(\)"),
    ("w * math.sin(x)", lambda x: Value(2.0) * math.sin(x),
     r"argument 0 with float\(\) \(.*\)"),
    ("x.numpy()", lambda x: float(np.sin(x.numpy())), r"argument 0 with numpy\(\)"),
    ("np.asarray(x)", lambda x: float(np.sin(np.asarray(x))), r"argument 0 with np\.array\(\)"),
    ("x.tolist()", lambda x: math.exp(x.tolist()), r"argument 0 with tolist\(\)"),
]


@pytest.mark.parametrize(("name", "f", "said"), CUTS, ids=[c[0] for c in CUTS])
@settings(max_examples=10, deadline=None)
@given(x=st.floats(0.1, 2.0))
def test_a_result_computed_from_the_arguments_number_is_refused_not_a_zero_gradient(
        name: str, f: Callable[[Any], Any], said: str, x: float) -> None:
    """``grad(lambda x: math.sin(x))`` gave 0.0: math.sin calls float(x), and f's result,
    computed from a plain number, depends on x through no operation (jax.grad raises there,
    a traced value having no number). Each way of taking the number out is named."""
    with pytest.raises(TypeError, match=r"^grad: f took the number out of " + said +
                       r", and its result depends on no argument.*would be 0\. Keep it a Value"):
        grad(f)(x)


def test_a_number_taken_out_of_a_tensor_argument_is_refused() -> None:
    with pytest.raises(TypeError, match=r"argument 1 with numpy\(\)"):
        grad(lambda w, x: float(np.sum(x.numpy() ** 2)), argnums=(0, 1))(np.ones(2), np.ones(3))


def _logs(x: Any) -> Any:
    print("x =", float(x))
    return 3 * x


def _prints_a_loss_of_both(x: Any, y: Any) -> Any:
    print("loss", float(x * y))
    return 2 * x


def _asserts(x: Any, y: Any) -> Any:
    assert not np.isnan(y).any()
    return (x * x).sum()


@pytest.mark.parametrize(("f", "args", "argnums", "expected"), [
    (lambda x: 2.0, (3.0,), 0, 0.0),  # a constant function (as jax.grad)
    (lambda x, y: x * 2, (1.0, 2.0), (0, 1), (2.0, 0.0)),  # an argument f does not use
    (lambda x, y: x * float(x), (3.0, 2.0), (0, 1), (3.0, 0.0)),  # the number a constant,
    # as torch's .item(), in a result with a graph
    (lambda x: x * x if float(x) > 0 else -x, (2.0,), 0, 4.0),  # control flow on the number
    (lambda x: x * x if x.data > 0 else 0.0, (-3.0,), 0, 0.0),  # micrograd's way to branch
    (lambda x: math.sin(x.data), (1.0,), 0, 0.0),  # (.data is not noted, for that reason)
    (lambda x: 1.0 if x else 0.0, (2.0,), 0, 0.0),  # a truth test decides, computes nothing
    (lambda x: (f"{x:.2f}", 2.0)[1], (2.0,), 0, 0.0),  # formatting shows, computes nothing
    (lambda x: x, (2.0,), 0, 1.0),  # the argument itself: a leaf, with a gradient
    (grad(_logs), (2.0,), 0, 0.0),  # a second derivative of a function that logs a number
    (grad(lambda x: x if x.data > 0 else -x), (2.0,), 0, 0.0),
    (_prints_a_loss_of_both, (3.0, 4.0), (0, 1), (2.0, 0.0)),
])
def test_a_number_taken_out_where_the_gradient_is_right_is_allowed(
        f: Callable[..., Any], args: tuple[float, ...], argnums: Any, expected: Any) -> None:
    assert grad(f, argnums=argnums)(*args) == expected


def test_a_numpy_function_that_reads_the_numbers_notes_nothing() -> None:
    """np.isnan(y) runs on the numbers, as the README says, and is no number taken out."""
    gx, gy = grad(_asserts, argnums=(0, 1))(np.ones(2), np.ones(2))
    assert gx.tolist() == [2.0, 2.0] and gy.tolist() == [0.0, 0.0]


def test_numbers_are_noted_only_while_f_runs_in_its_own_thread() -> None:
    """The note is put back as it was when f returns, and when it raises. It is kept per
    thread: two grads running at once each see their own f's numbers (one list for all
    threads let a refusal slip, and stayed on, noting every number after)."""
    from tinygrad_edu.data import note_numbers_taken

    def fails(x: Any) -> Any:
        float(x)
        raise RuntimeError("f failed")

    with pytest.raises(RuntimeError, match="f failed"):
        grad(fails)(1.0)
    assert note_numbers_taken(None) is None
    inside, a_done = threading.Barrier(2), threading.Event()
    out: dict[str, Any] = {}

    def a(x: Any) -> Any:
        inside.wait()
        return x * x

    def b(x: Any) -> Any:
        inside.wait()
        a_done.wait()
        return Value(math.sin(x))

    def run_b() -> None:
        try:
            out["b"] = grad(b)(1.0)
        except TypeError as error:
            out["b"] = error

    def run_a() -> None:
        out["a"] = grad(a)(2.0)
        a_done.set()

    first = threading.Thread(target=run_a)
    second = threading.Thread(target=run_b)
    first.start()
    second.start()
    first.join()
    second.join()
    assert out["a"] == 4.0 and isinstance(out["b"], TypeError)
    assert note_numbers_taken(None) is None
