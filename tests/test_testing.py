"""The gradient-testing toolkit itself: it must pass right rules and catch wrong ones.

Wrong rules are built as local `Primitive`s (never `engine.primitive()`, which would add them
to the global registry that drives the other test modules).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tinygrad_edu import Value, grad
from tinygrad_edu.activations import ACTIVATIONS, Activation
from tinygrad_edu.data import Array, data_of
from tinygrad_edu.engine import Primitive
from tinygrad_edu.testing import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from tinygrad_edu.testing.strategies import (
    activations,
    arrays_away_from,
    broadcastable_shapes,
    floats_away_from,
    shapes,
    values,
)

TIGHT: dict[str, Any] = {"atol": 1e-7, "rtol": 1e-5}


def _exp(x: Any) -> Any:
    return math.exp(x) if type(x) is float else np.exp(x)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


GOOD_EXP = Primitive("good_exp", _exp, lambda g, out, a: (g * out,))
OFF_BY_A_THOUSANDTH = Primitive("bad_exp", _exp, lambda g, out, a: (g * out * 1.001,))
IGNORES_UPSTREAM = Primitive("blind_exp", _exp, lambda g, out, a: (out,))
# right to first order, but on Values the derivative is a detached constant: d²/dx² comes out 0
DETACHED = Primitive("detached_exp", _exp, lambda g, out, a: (g * _data(out),))


def wrong_at(flat: int) -> Primitive:
    """exp whose rule is 0.1% off at one element of a tensor (flat index `flat`)."""

    def vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
        factor = np.ones(np.shape(_data(a)))
        factor.flat[flat] = 1.001
        return (g * out * factor,)

    return Primitive("bad_exp_at_one_element", _exp, vjp)


MESSAGE = re.compile(
    r"(?P<what>gradient|second derivative) mismatch at (?P<where>.+?), where x = (?P<x>\S+): "
    r"analytical (?P<analytical>\S+) \(by (?P<how>gradients|backward)\(\)\), "
    r"numerical (?P<numerical>\S+) "
    r"\(tolerance atol=(?P<atol>\S+), rtol=(?P<rtol>[^,]+), eps=\S+\)"
)


def parse(error: pytest.ExceptionInfo[GradcheckError]) -> dict[str, str]:
    match = MESSAGE.search(str(error.value))
    assert match, f"unexpected message: {error.value}"
    return match.groupdict()


# ---- numerical_grad ---------------------------------------------------------------------------


def test_numerical_grad_of_known_derivatives_on_scalars() -> None:
    (g,) = numerical_grad(lambda x: x**3, 2.0)
    assert isinstance(g, float) and g == pytest.approx(12.0, abs=1e-6)
    (g,) = numerical_grad(lambda x: x.exp(), 0.5)
    assert g == pytest.approx(math.exp(0.5), abs=1e-8)
    (g,) = numerical_grad(lambda x: x.tanh(), 0.3)
    assert g == pytest.approx(1 - math.tanh(0.3) ** 2, abs=1e-8)


def test_numerical_grad_of_arrays_keeps_the_shapes() -> None:
    x = np.arange(6.0).reshape(2, 3) / 4
    (g,) = numerical_grad(lambda v: (v * v).sum(), x)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, 2 * x, atol=1e-7)


def test_numerical_grad_of_several_inputs() -> None:
    x, y, z = np.array([[1.0, -2.0, 0.5]]), np.array([0.25, 3.0, -1.0]), 1.5
    gx, gy, gz = numerical_grad(lambda a, b, c: (a * b * c).sum(), x, y, z)
    assert gx.shape == (1, 3) and gy.shape == (3,) and isinstance(gz, float)
    np.testing.assert_allclose(gx, [y * z], atol=1e-7)
    np.testing.assert_allclose(gy, x[0] * z, atol=1e-7)
    assert gz == pytest.approx(float(np.sum(x * y)), abs=1e-7)


def test_numerical_grad_accepts_values_and_leaves_them_alone() -> None:
    v = Value([1.0, 2.0])
    (g,) = numerical_grad(lambda a: (a * a * a).sum(), v)
    np.testing.assert_allclose(g, [3.0, 12.0], atol=1e-6)
    assert cast(Array, v.data).tolist() == [1.0, 2.0]


def test_numerical_grad_needs_a_scalar_f() -> None:
    with pytest.raises(ValueError, match="scalar"):
        numerical_grad(lambda v: v * 2, [1.0, 2.0])


# ---- gradcheck passes correct rules -------------------------------------------------------------


def test_gradcheck_passes_correct_rules() -> None:
    assert gradcheck(lambda x: GOOD_EXP(x), 0.5, **TIGHT) is True
    assert gradcheck(lambda x: GOOD_EXP(x), [[0.5, -1.0], [2.0, 0.0]], **TIGHT) is True
    assert gradcheck(lambda x, y: (x * y).tanh(), 0.3, [1.0, -2.0], **TIGHT) is True
    assert gradcheck(lambda x: GOOD_EXP(x).sum(), [0.5, -1.0], order=2,
                     atol=1e-6, rtol=1e-5) is True


# ---- and catches wrong ones ---------------------------------------------------------------------


def test_a_rule_off_by_a_thousandth_is_caught_on_a_scalar() -> None:
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda x: OFF_BY_A_THOUSANDTH(x), 0.5, **TIGHT)
    parts = parse(error)
    assert parts["what"] == "gradient"
    assert parts["where"] == "input 0 (a scalar)"
    assert float(parts["analytical"]) / float(parts["numerical"]) == pytest.approx(1.001, abs=1e-7)
    assert (parts["atol"], parts["rtol"]) == ("1e-07", "1e-05")


def test_the_message_names_the_input_and_the_element() -> None:
    bad = wrong_at(4)  # element (1, 1) of a (2, 3) tensor
    y = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda a, b: a * 2.0 + bad(b), 0.3, y, **TIGHT)
    parts = parse(error)
    assert parts["where"] == "element (1, 1) of input 1 (shape (2, 3))"
    assert float(parts["x"]) == y[1, 1]
    assert float(parts["analytical"]) / float(parts["numerical"]) == pytest.approx(1.001, abs=1e-7)
    assert "atol=1e-07" in str(error.value) and "rtol=1e-05" in str(error.value)


def test_the_learner_defaults_are_too_loose_for_a_thousandth() -> None:
    """Why the project's own tests pass tight tolerances (rtol=1e-3 lets 0.1% through)."""
    assert gradcheck(lambda x: OFF_BY_A_THOUSANDTH(x), 0.5) is True
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: OFF_BY_A_THOUSANDTH(x), 0.5, **TIGHT)


@pytest.mark.parametrize("data", [0.5, [0.5, -1.0, 2.0], [[0.1], [0.2]]])
def test_a_backward_that_ignores_the_upstream_gradient_is_caught(data: Any) -> None:
    with pytest.raises(GradcheckError, match="gradient mismatch"):
        gradcheck(lambda x: IGNORES_UPSTREAM(x), data, **TIGHT)
    # the default (learner-friendly) tolerances catch it too: it is no rounding error
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: IGNORES_UPSTREAM(x), data)


def test_a_wrong_second_derivative_is_caught_with_order_2() -> None:
    assert gradcheck(lambda x: DETACHED(x), 0.5, **TIGHT) is True  # first order is right
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda x: DETACHED(x), 0.5, order=2, atol=1e-6, rtol=1e-5)
    parts = parse(error)
    assert parts["what"] == "second derivative"
    assert parts["where"] == "input 0 (a scalar)"
    assert float(parts["analytical"]) == 0.0 and float(parts["numerical"]) != 0.0
    with pytest.raises(GradcheckError, match=r"second derivative mismatch at element \(\d+,\)"):
        gradcheck(lambda x: DETACHED(x), [0.5, 1.0], order=2, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("order", [0, 3])
def test_gradcheck_refuses_other_orders(order: int) -> None:
    with pytest.raises(ValueError, match="order"):
        gradcheck(lambda x: x.exp(), 0.5, order=order)


@pytest.mark.parametrize(("steps", "message"), [
    ({"eps": 0.0}, "eps must be a finite number > 0; got 0.0"),  # (it divided by zero)
    ({"eps": -1e-6}, "eps must be a finite number > 0; got -1e-06"),
    ({"eps": math.nan}, "eps must be a finite number > 0; got nan"),
    ({"eps": "1e-6"}, "eps must be a finite number > 0; got '1e-6'"),
    ({"atol": -1.0}, "atol must be a finite number ≥ 0; got -1.0"),
    ({"rtol": math.nan}, "rtol must be a finite number ≥ 0; got nan"),  # (failed every check)
])
def test_a_bad_step_or_tolerance_is_refused_by_its_checker(steps: dict[str, Any],
                                                           message: str) -> None:
    checkers: list[tuple[str, Any]] = [("gradcheck", gradcheck), ("gradgradcheck", gradgradcheck)]
    if list(steps) == ["eps"]:
        checkers.append(("numerical_grad", numerical_grad))
    for name, checker in checkers:
        with pytest.raises(ValueError, match=f"^{name}: {re.escape(message)}$"):
            checker(lambda x: x * x, 0.5, **steps)


def test_an_f_that_changes_its_input_in_place_is_caught() -> None:
    def doubling(x: Value) -> Value:
        x.data *= 2.0  # in place: the graph and the finite differences disagree
        return (x * x).sum()

    def zeroing_after_use(x: Value) -> Value:
        out = (x * x).sum()
        cast(Array, x.data)[...] = 0.0
        return out

    data = np.array([1.0, 2.0])
    for f in (doubling, zeroing_after_use):
        with pytest.raises(GradcheckError, match="changed input 0 in place"):
            gradcheck(f, data)
        assert data.tolist() == [1.0, 2.0]  # the caller's array is never touched


def test_gradcheck_leaves_value_inputs_unchanged() -> None:
    v = Value([0.5, -0.5])
    assert gradcheck(lambda x: x.tanh(), v, **TIGHT)
    assert cast(Array, v.data).tolist() == [0.5, -0.5]
    assert v.grad.tolist() == [0.0, 0.0]


# ---- the strategies -----------------------------------------------------------------------------


@given(shapes())
def test_shapes_are_shapes(shape: tuple[int, ...]) -> None:
    assert isinstance(shape, tuple) and len(shape) <= 3 and all(1 <= n <= 4 for n in shape)


def test_shapes_include_scalars_and_tensors() -> None:
    assert find(shapes(), lambda s: s == ()) == ()
    assert len(find(shapes(), lambda s: len(s) == 3)) == 3
    assert find(shapes(min_dims=1), lambda s: True) != ()


@given(broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes3: tuple[tuple[int, ...], ...]) -> None:
    assert len(shapes3) == 3
    result = np.broadcast_shapes(*shapes3)
    for shape in shapes3:
        assert np.broadcast_to(np.zeros(shape), result).shape == result


def test_broadcastable_shapes_really_broadcast_sometimes() -> None:
    a, b = find(broadcastable_shapes(2), lambda s: len(s[0]) >= 1 and s[0] != s[1]
                and np.broadcast_shapes(*s) not in s)
    assert np.broadcast_shapes(a, b) not in (a, b)


kink_lists = st.lists(st.floats(-2.5, 2.5), max_size=3)


@given(kinks=kink_lists, margin=st.sampled_from([1e-3, 1e-2, 0.1]), data=st.data())
def test_floats_away_from_keep_the_margin(kinks: list[float], margin: float,
                                          data: st.DataObject) -> None:
    x = data.draw(floats_away_from(kinks, low=-3.0, high=3.0, margin=margin))
    assert -3.0 <= x <= 3.0
    assert all(abs(x - k) >= margin for k in kinks), (x, kinks)


@given(kinks=kink_lists, margin=st.sampled_from([1e-3, 1e-2, 0.1, 0.3]))
def test_floats_away_from_gaps_end_the_margin_away(kinks: list[float], margin: float) -> None:
    # the edges of a gap were kink ± margin, rounded: 1.0 - 0.1 is 0.9, which is
    # 0.09999999999999998 from 1.0
    from tinygrad_edu.testing.strategies import _gaps
    for a, b in _gaps(kinks, -3.0, 3.0, margin):
        assert all(abs(edge - k) >= margin for edge in (a, b) for k in kinks), (a, b, kinks)


@pytest.mark.parametrize(("kink", "margin"), [(1e-3, 1e-3), (1.0, 0.1), (5e-324, 1e-3),
                                              (1e-3, 0.0), (1e300, 1e-3), (-2.0, 2.0)])
def test_floats_away_from_gaps_are_found_at_once_near_zero(kink: float, margin: float) -> None:
    # (kink 0.001, margin 0.001: one float at a time from 0.0 towards the kink would take
    # 2**60 steps, as a first version of the rounding did)
    from tinygrad_edu.testing.strategies import _gaps
    gaps = _gaps([kink], -3.0, 3.0, margin)
    assert all(abs(edge - kink) >= margin for gap in gaps for edge in gap)
    assert gaps and gaps[-1][1] == 3.0


@pytest.mark.parametrize("kinks", [(0.0,), (-1.0, 1.0), (0.5, -0.5, 2.0)])
def test_floats_away_from_cover_every_side_of_every_kink(kinks: tuple[float, ...]) -> None:
    strategy = floats_away_from(kinks, margin=1e-2)
    edges = [-3.0, *sorted(kinks), 3.0]
    for lo, hi in itertools.pairwise(edges):

        def between(v: float, lo: float = lo, hi: float = hi) -> bool:
            return lo < v < hi

        x = find(strategy, between)
        assert lo + 1e-2 <= x or lo == -3.0
        assert x <= hi - 1e-2 or hi == 3.0


def test_floats_away_from_refuses_an_impossible_request() -> None:
    with pytest.raises(ValueError, match="no room"):
        floats_away_from((0.0,), low=-0.001, high=0.001, margin=0.01)


@given(data=st.data())
def test_arrays_away_from_give_arrays_of_the_shape(data: st.DataObject) -> None:
    shape = data.draw(shapes())
    x = data.draw(arrays_away_from((0.0,), shape=shape, margin=0.1))
    if shape == ():
        assert isinstance(x, float) and abs(x) >= 0.1
    else:
        assert x.shape == shape and x.dtype == np.float64 and np.all(np.abs(x) >= 0.1)


@given(data=st.data())
def test_arrays_away_from_accept_a_shape_strategy(data: st.DataObject) -> None:
    x = data.draw(arrays_away_from(shape=st.just((2, 2)), low=1.0, high=2.0))
    assert x.shape == (2, 2) and np.all((x >= 1.0) & (x <= 2.0))


@given(scalar=values(), tensor=values(shape=(2, 3), low=-1.0, high=1.0, kinks=(0.0,),
                                       margin=0.25))
def test_values_are_scalars_or_tensors(scalar: Value, tensor: Value) -> None:
    assert isinstance(scalar, Value) and scalar.shape == () and type(scalar.data) is float
    assert -3.0 <= scalar.data <= 3.0 and scalar.requires_grad
    assert isinstance(tensor, Value) and tensor.shape == (2, 3)
    assert isinstance(tensor.data, np.ndarray)
    assert np.all(np.abs(tensor.data) >= 0.25) and np.all(np.abs(tensor.data) <= 1.0)


@given(activations())
def test_activations_strategy_draws_registered_ones(activation: Activation) -> None:
    assert ACTIVATIONS[activation.name] is activation


def test_activations_strategy_reaches_every_activation() -> None:
    for name in ACTIVATIONS:

        def named(a: Activation, name: str = name) -> bool:
            return a.name == name

        assert find(activations(), named).name == name


@pytest.mark.parametrize(("kinks", "low", "high"),
                         [((0.0,), 0.0, 1.0), ((-3.005,), -3.0, 3.0), ((1.0,), -1.0, 1.0)])
def test_floats_away_from_keeps_the_margin_at_the_ends_of_the_range(
        kinks: tuple[float, ...], low: float, high: float) -> None:
    strategy = floats_away_from(kinks, low=low, high=high, margin=1e-2)
    with pytest.raises(NoSuchExample):
        find(strategy, lambda x: any(abs(x - k) < 1e-2 * (1 - 1e-9) for k in kinks))


# ---- gradgradcheck: second derivatives with the upstream gradient as an input -------------------

# sub's rule, right to first order, but reading the raw data of its upstream gradient: a
# recorded backward pass is cut there (the bug of issue 10)
CUT_SUB = Primitive("sub", lambda a, b: a - b, lambda g, out, a, b: (data_of(g), -data_of(g)))
GOOD_SUB = Primitive("sub", lambda a, b: a - b, lambda g, out, a, b: (g, -g))


def test_a_cut_recorded_pass_gives_a_wrong_second_derivative() -> None:
    assert grad(grad(lambda x: GOOD_SUB(x, 1.0) ** 2))(3.0) == 2.0
    assert grad(grad(lambda x: CUT_SUB(x, 1.0) ** 2))(3.0) == 0.0


def test_gradgradcheck_catches_a_cut_recorded_pass() -> None:
    # gradcheck(order=2) of the op alone cannot see it: its rule is linear in g
    assert gradcheck(lambda x, y: CUT_SUB(x, y), 3.0, [1.0, 2.0], order=2, **TIGHT)
    with pytest.raises(GradcheckError, match="input 2 is the upstream gradient"):
        gradgradcheck(lambda x, y: CUT_SUB(x, y), 3.0, [1.0, 2.0], **TIGHT)
    with pytest.raises(GradcheckError, match="second derivative mismatch"):  # nor a real graph
        gradcheck(lambda x: (CUT_SUB(x, 1.0) ** 2), 3.0, order=2, **TIGHT)


def test_gradgradcheck_passes_correct_rules() -> None:
    assert gradgradcheck(lambda x, y: GOOD_SUB(x, y), 3.0, [1.0, 2.0], **TIGHT)
    assert gradgradcheck(lambda x: (x * x).tanh().sum(axis=0), [[0.5, -1.0], [2.0, 0.3]], **TIGHT)
    assert gradgradcheck(lambda x: x.relu(), [0.5, -1.0], **TIGHT)  # linear pieces: Hessian 0
    assert gradgradcheck(lambda x: x.step(), 0.5)  # no gradient at all


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    # right first derivative 3x², recorded with one x as a constant: 3x instead of 6x next
    odd = Primitive("cube", lambda x: x**3, lambda g, out, x: (g * 3.0 * x * data_of(x),))
    assert gradcheck(lambda v: odd(v), 0.5, **TIGHT)
    with pytest.raises(GradcheckError, match="mismatch at input 0"):
        gradgradcheck(lambda v: odd(v), 0.5, **TIGHT)
    with pytest.raises(GradcheckError) as error:  # (its message speaks of f, not of the
        gradgradcheck(lambda v: odd(v), [[0.5, 1.0, 2.0], [-1.0, 0.7, 1.5]], **TIGHT)  # terms
    assert "mismatch at element" in str(error.value) and "(6,)" not in str(error.value)  # the
    # finite differences take one by one: a shape (6,) and a u of it were named)


def test_a_scalar_functions_mismatch_shows_its_own_derivative() -> None:
    """For a scalar f the message shows df/dx itself (4x against 2x at 0.5: 2.0 vs 1.0), not
    its product with the random upstream number; for a tensor f it says what the numbers are."""
    square = Primitive("square", lambda x: x * x, lambda g, out, x: (g * 4.0 * x,))
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda x: square(x), 0.5)
    parts = parse(error)
    assert float(parts["analytical"]) == pytest.approx(2.0, rel=1e-12)
    assert float(parts["numerical"]) == pytest.approx(1.0, rel=1e-6)
    assert "upstream" not in str(error.value)
    with pytest.raises(GradcheckError, match=r"sum\(f\(\.\.\.\) · u\), u a random upstream"):
        gradcheck(lambda x: square(x), [0.5, 1.0])


# ---- what an audit found gradcheck let through (each test fails on the toolkit before) -------

RECIPROCAL_WRONG_SIGN = Primitive("recip_wrong_sign", lambda x: 1.0 / x,
                                  lambda g, out, x: (g / (x * x),))  # d(1/x) is −1/x²
LOG_TIMES_1000 = Primitive("log_x1000", lambda x: np.log(x), lambda g, out, x: (g * 1000.0 / x,))
EXP_NO_GRADIENT = Primitive("exp_no_gradient", lambda x: np.exp(x), lambda g, out, x: (g * 0.0,))
# right whenever its upstream gradient is positive (a scalar f's, always, before the fix)
ABS_UPSTREAM = Primitive("cube_abs_g", lambda x: x**3, lambda g, out, x: (abs(g) * 3 * x**2,))
NOT_FINITE = r"not checkable at .*: f is not finite at x ± eps"


@pytest.mark.parametrize(("f", "x"), [
    (lambda v: RECIPROCAL_WRONG_SIGN(v), 1e-6),  # x − eps is the pole
    (lambda v: LOG_TIMES_1000(v), 1e-6),  # x − eps is the edge of the domain
    (lambda v: v.log(), 5e-7),  # a right rule, but x − eps leaves the domain: not checkable
    (lambda v: EXP_NO_GRADIENT(v), math.log(np.finfo(float).max) - 5e-7),  # x + eps overflows
])
def test_where_f_is_not_finite_at_x_plus_or_minus_eps_the_check_fails(f: Any, x: float) -> None:
    """There the central difference is ±inf or nan, and ``|a − n| ≤ atol + rtol·|n|`` holds
    for any a (the tolerance is infinite): gradcheck passed any rule."""
    with pytest.raises(GradcheckError, match=rf"{NOT_FINITE}") as error:
        gradcheck(f, x)
    assert f"input 0 (a scalar), where x = {x!r}" in str(error.value)
    assert "a pole, an overflow or left f's domain" in str(error.value)
    with pytest.raises(GradcheckError, match=r"element \(0,\) of input 0 \(shape \(2,\)\), "
                       rf"where x = {re.escape(repr(x))}: f is not finite at x ± eps \(at x "
                       r"\+ eps it is .*(nan|inf) at \(0,\)"):
        gradcheck(f, [x, 1.0])  # (f's elements that are not finite, where: as the scalar's)


def test_a_non_finite_numerical_value_passes_only_against_the_same_infinity() -> None:
    """nan against nan passed, so any rule passed where f itself is nan (a wrong rule for
    sqrt, checked at -1); it is not checkable there, as PyTorch's gradcheck fails."""
    with pytest.raises(GradcheckError, match=NOT_FINITE):  # nan against nan
        gradcheck(lambda v: v * math.nan, [1.0, 2.0])
    wrong_sqrt = Primitive("wrong_sqrt", np.sqrt, lambda g, out, x: (g * 123.0 / out,))
    with pytest.raises(GradcheckError, match=NOT_FINITE):
        gradcheck(lambda v: wrong_sqrt(v), [-1.0, -4.0])
    with pytest.raises(GradcheckError, match=NOT_FINITE):  # nan against inf
        gradcheck(lambda v: v * math.inf, 1.0)


def record_upstream(seen: list[Any]) -> Primitive:
    """x², whose rule notes the upstream gradient it is given."""

    def vjp(g: Any, out: Any, x: Any) -> tuple[Any]:
        seen.append(np.array(data_of(g), dtype=np.float64))
        return (g * 2.0 * x,)

    return Primitive("square_noting_g", lambda x: x * x, vjp)


def test_the_upstream_gradients_have_both_signs_and_sizes_near_one() -> None:
    seen: list[Any] = []
    noting = record_upstream(seen)
    for seed in range(20):
        seen.clear()
        assert gradcheck(lambda v: noting(v), np.full(5, 0.5), seed=seed)
        for u in seen:
            assert np.all((np.abs(u) >= 0.5) & (np.abs(u) <= 1.5)), u
            assert np.any(u > 0) and np.any(u < 0), u
        seen.clear()  # two elements: still both signs
        assert gradcheck(lambda v: noting(v), [0.5, 1.0], seed=seed)
        assert all(np.any(u > 0) and np.any(u < 0) for u in seen)
        for one_element in (0.5, [0.5], [[0.5]]):  # checked with two of opposite signs
            seen.clear()
            assert gradcheck(lambda v: noting(v), one_element, seed=seed)
            sizes = sorted({float(u.flat[0]) for u in seen})
            assert len(sizes) == 2 and sizes[0] < 0 < sizes[1] and -sizes[0] != sizes[1]
            assert all(0.5 <= abs(u) <= 1.5 for u in sizes)


@pytest.mark.parametrize("x", [-1.3, [0.7], [0.5, -2.0, 1.5]])
def test_a_rule_right_only_for_a_positive_upstream_gradient_is_caught(x: Any) -> None:
    with pytest.raises(GradcheckError):
        gradcheck(lambda v: ABS_UPSTREAM(v), x)
    with pytest.raises(GradcheckError):  # f(x).sum(): a scalar f, its own derivative
        gradcheck(lambda v: ABS_UPSTREAM(v).sum(), x)
    with pytest.raises(GradcheckError, match="second derivative mismatch"):
        gradcheck(lambda v: ABS_UPSTREAM(v).sum(), x, order=2)


def test_a_scalar_f_failing_for_a_negative_upstream_gradient_says_so() -> None:
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda v: ABS_UPSTREAM(v), -1.3)
    parts = parse(error)  # f′ itself: 3x² = 5.07, and the rule's −5.07 (|u|·f′ / u, u < 0)
    assert float(parts["numerical"]) == pytest.approx(5.07, rel=1e-8)
    assert float(parts["analytical"]) == pytest.approx(-5.07, rel=1e-12)
    assert re.search(r"for the upstream gradient u = -[\d.]+, divided by u \([-\d.e]+ for u = "
                     r"[\d.]+(, [-\d.e]+ for u = -[\d.]+)*\): a rule must be linear in its "
                     r"upstream gradient", str(error.value))


def test_a_rule_wrong_by_a_factor_is_not_called_nonlinear_in_g() -> None:
    """g·3.1x² is linear in g: its results for two upstream gradients, each divided by its
    own, differ by a rounding, which added "a rule must be linear in its upstream gradient
    g" at 32 of 50 points (a learner sent after a bug they do not have)."""
    wrong = Primitive("cube_by_a_factor", lambda x: x**3, lambda g, out, x: (g * 3.1 * x**2,))
    hinted = 0
    for x in np.linspace(0.1, 3.0, 50):
        with pytest.raises(GradcheckError, match="gradient mismatch") as error:
            gradcheck(lambda v: wrong(v), float(x))
        hinted += "linear in its upstream gradient" in str(error.value)
    assert hinted == 0


def test_a_scalar_f_failing_for_the_first_upstream_gradient_says_it_divided() -> None:
    """A rule affine in g (g·f′ + 1) fails for the first, positive u: the analytical value
    shown, f′ + 1/u, is the engine's gradient divided by u, which only a negative u said."""
    affine = Primitive("affine_in_g", lambda x: x ** 3, lambda g, out, x: (g * 3 * x ** 2 + 1,))
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda v: affine(v), -1.3)
    assert re.search(r"for the upstream gradient u = 0\.\d+, divided by u \([-\d.e]+ for u = "
                     r"-[\d.]+.*\): a rule must be linear", str(error.value))


def test_a_rule_giving_nan_for_both_upstream_gradients_is_not_called_non_linear() -> None:
    """nan for each u is no disagreement between them (nan != nan said so)."""
    nan_rule = Primitive("nan_rule", lambda x: x ** 3, lambda g, out, x: (g * math.nan,))
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda v: nan_rule(v), 1.3)
    assert "analytical nan" in str(error.value) and "linear" not in str(error.value)


def test_the_tolerances_apply_to_the_derivative_itself() -> None:
    """atol applied to u·f′: with the one scalar u = 0.126 of seed 0 it was 8 times looser."""
    twice = Primitive("small_cube_twice", lambda x: 1e-5 * x**3,
                      lambda g, out, x: (g * 6e-5 * x**2,))
    with pytest.raises(GradcheckError) as error:  # off by 3e-5 > atol + rtol·3e-5
        gradcheck(lambda v: twice(v), 1.0)
    assert float(parse(error)["analytical"]) == pytest.approx(6e-5, rel=1e-12)
    tiny = Primitive("tiny_cube_twice", lambda x: 1e-7 * x**3,
                     lambda g, out, x: (g * 6e-7 * x**2,))
    with pytest.raises(GradcheckError):  # off by 3e-7 > 1e-7 + 1e-5·3e-7
        gradcheck(lambda v: tiny(v), 1.0, **TIGHT)
    # a tensor f: |u| ≥ 0.5, so atol is at most twice as loose on any element's gradient
    for seed in range(5):
        for flat in (0, 17, 49):
            def vjp(g: Any, out: Any, x: Any, flat: int = flat) -> tuple[Any]:
                wrong = np.ones(50)
                wrong[flat] = 2.0  # 7.5e-5 off at one element
                return (g * 3e-4 * x**2 * wrong,)

            one_wrong = Primitive("one_element_wrong", lambda x: 1e-4 * x**3, vjp)
            with pytest.raises(GradcheckError, match=rf"element \({flat},\) of input 0"):
                gradcheck(lambda v, p=one_wrong: p(v), np.full(50, 0.5), seed=seed)


def test_a_gradient_of_another_shape_than_its_input_fails() -> None:
    """numpy broadcasting compared a (3, 1) gradient with a (3, 4) input's as if it fit."""
    forgets_to_broadcast = Primitive("rowsum", lambda x: x.sum(axis=1, keepdims=True),
                                     lambda g, out, x: (g,))
    x = np.arange(12.0).reshape(3, 4) / 10
    for order in (1, 2):  # (the engine may refuse the rule first, at backward())
        with pytest.raises((GradcheckError, ValueError), match=r"\(3, 1\)") as error:
            gradcheck(lambda v: forgets_to_broadcast(v), x, order=order)
        assert "(3, 4)" in str(error.value)


def test_gradcheck_compares_shapes_not_broadcasts(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine whose gradients() gave a (3, 1) gradient for a (3, 4) input, of the right
    values broadcast (the gradient of a row sum is constant along a row), fails by shape."""
    from tinygrad_edu.engine import gradients

    def one_column(root: Any, leaves: Any, **options: Any) -> list[Any]:
        return [g[:, :1] for g in gradients(root, leaves, **options)]

    monkeypatch.setattr("tinygrad_edu.testing.gradients", one_column)
    with pytest.raises(GradcheckError, match=r"shape \(3, 1\), but input 0 has shape \(3, 4\)"):
        gradcheck(lambda v: v.sum(axis=1, keepdims=True), np.ones((3, 4)))


def test_gradcheck_leaves_the_grad_of_values_f_closes_over_alone() -> None:
    """As PyTorch's gradcheck: a model's parameters keep the `.grad` they had, exactly."""
    w, b, c = Value(2.0), Value([0.5, -0.5]), Value([1.0, 3.0])
    w.grad = 0.25
    c.grad = [0.1, 0.2]
    held = c.grad

    def f(x: Value) -> Value:
        return (x * w + b).tanh() * c

    assert gradcheck(f, [0.3, 0.7]) and gradcheck(f, [0.3, 0.7], order=2)
    assert gradgradcheck(f, [0.3, 0.7])
    assert w.grad == 0.25 and c.grad is held and held.tolist() == [0.1, 0.2]
    assert b._grad is None  # (a tensor's gradient not made yet stays so)


def test_the_message_shows_the_input_value_its_shape_and_the_upstream_there() -> None:
    square = Primitive("square", lambda x: x * x, lambda g, out, x: (g * 4.0 * x,))
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda v: square(v), [[0.5, 1.0], [-2.0, 1.5]])
    parts = parse(error)
    assert parts["where"] == "element (0, 0) of input 0 (shape (2, 2))" and parts["x"] == "0.5"
    shown = re.search(r"here u = (\S+)", str(error.value))
    assert shown, error.value  # the numerical value is u · 2x there
    assert float(parts["numerical"]) == pytest.approx(float(shown.group(1)) * 2 * 0.5, rel=1e-6)


def test_a_kink_between_x_minus_and_plus_eps_is_named() -> None:
    with pytest.raises(GradcheckError, match=r"kink between x − eps and x \+ eps") as error:
        gradcheck(lambda v: v.relu(), [1.0, 0.0])
    assert "slope 0 on the left" in str(error.value) and "the left one" in str(error.value)
    with pytest.raises(GradcheckError, match="the analytical value is the right one"):
        gradcheck(lambda v: v.relu(), 5e-7)  # a right rule, 5e-7 from the kink


CHECKERS: list[Any] = [gradcheck, gradgradcheck, numerical_grad]


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize("returned", [None, "1.0", [Value(1.0)]])
def test_an_f_that_returns_no_number_is_named(checker: Any, returned: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{checker.__name__}: f must return a Value or a "
                       rf"number; it returned {re.escape(repr(returned)[:20])}"):
        checker(lambda v: returned, 1.0)


@pytest.mark.parametrize("checker", [gradcheck, gradgradcheck])
@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (1.5, TypeError),
                                             (True, TypeError), ("0", TypeError)])
def test_a_bad_seed_is_refused_clearly(checker: Any, seed: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=rf"^{checker.__name__}: seed must be an int ≥ 0; got "):
        checker(lambda v: v * v, 1.0, seed=seed)


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_non_finite_input_is_refused_by_name(checker: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{checker.__name__}: element \(1,\) of input 1 "
                       r"\(shape \(2,\)\) is nan: finite differences need finite inputs"):
        checker(lambda a, b: (a * b).sum(), [1.0, 2.0], [1.0, math.nan])
    with pytest.raises(ValueError, match=r"input 0 \(a scalar\) is -inf"):
        checker(lambda a: a * a, Value(-math.inf))


def test_the_difference_is_divided_by_the_step_really_taken() -> None:
    """At 1e10, x ± 1e-6 round to floats 3.8e-6 apart: dividing by 2·eps gave d(2x)/dx = 3.8."""
    assert numerical_grad(lambda v: v * 1.0, 1e10) == [1.0]
    assert gradcheck(lambda v: v * 2.0, 1e10, **TIGHT)
    assert gradcheck(lambda v: v + 1.0, 1e10, **TIGHT) and gradcheck(lambda v: v - 1.0, -4e9)
    with pytest.raises(GradcheckError, match=r"x ± eps are 3\.815e-06 apart, not 2·eps = 2e-06"):
        gradcheck(lambda v: v * 3.0, 1e10)  # f's values round too: a larger eps is the cure


def test_a_disagreement_within_rounding_is_said_to_be_so() -> None:
    """x³ at 1e4 is about 1e12: its last bits alone move the difference quotient by ~500."""
    with pytest.raises(GradcheckError, match="rounding alone can move the central difference"):
        gradcheck(lambda v: v**3, 1e4, atol=1e-5, rtol=0.0)


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_step_below_the_float_spacing_is_refused(checker: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{checker.__name__}: eps=1e-17 is below the float "
                       r"spacing at element \(1,\) of input 0 \(shape \(2,\)\), where x = 2\.0: "
                       r"x \+ eps and x − eps are the same float.*use a larger eps"):
        checker(lambda v: (v * v).sum(), [1e-3, 2.0], eps=1e-17)


def test_gradcheck_works_inside_no_grad() -> None:
    from tinygrad_edu import no_grad

    with no_grad():
        assert gradcheck(lambda v: v.exp(), [0.5, 1.0], **TIGHT)
        assert gradcheck(lambda v: v.exp(), 0.5, order=2, atol=1e-6, rtol=1e-5)


def test_the_documented_examples_check_tensor_valued_f() -> None:
    """f ending in .sum() gives every op inside the same upstream gradient, ones: a rule that
    transposes or averages g passes. The examples do not teach it, and the docs say why."""
    from pathlib import Path

    for checker in (gradcheck, gradgradcheck):
        doc = checker.__doc__ or ""
        examples = [line for line in doc.splitlines() if line.lstrip().startswith(">>>")]
        assert examples and not any(".sum()" in line for line in examples), examples
        assert "``f(x).sum()``" in doc
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How the gradients are checked")[1].split("\n## ")[0]
    assert "not `cube(v).sum()`" in section and "a `g` of ones" in section
    assert not re.search(r"gradcheck\(lambda[^\n]*\.sum\(\)", section)


# ---- strategies: shapes as numpy takes them, margins that mean something ---------------------


@given(data=st.data())
def test_an_int_shape_is_a_shape_of_one_axis(data: st.DataObject) -> None:
    assert data.draw(arrays_away_from(shape=3)).shape == (3,)  # (as numpy's np.zeros(3))
    assert data.draw(values(shape=2)).shape == (2,)


@pytest.mark.parametrize("margin", [-0.5, math.nan, math.inf])
def test_a_margin_that_is_not_a_distance_is_refused(margin: float) -> None:
    with pytest.raises(ValueError, match="margin must be a finite number ≥ 0"):
        floats_away_from((0.0,), margin=margin)
    with pytest.raises(ValueError, match="margin must be a finite number ≥ 0"):
        arrays_away_from((0.0,), shape=(2,), margin=margin)


def test_the_strategies_say_a_margin_must_exceed_gradchecks_eps() -> None:
    import tinygrad_edu.testing.strategies as strategies

    for doc in (strategies.__doc__, floats_away_from.__doc__):
        assert doc and "eps" in doc and "margin" in doc


@pytest.mark.parametrize(("f", "x"), [(lambda x: x ** 3, [0.01, 100.0]),
                                      (lambda x: GOOD_EXP(x), [-3.0, 18.0])])
def test_outputs_of_very_different_sizes_are_differenced_one_by_one(f: Any, x: list[float],
                                                                    ) -> None:
    """Each output element is differenced before the upstream gradient sums them, as
    PyTorch's gradcheck does: the rounding of a large one that does not move (6.6e7 here)
    stays out of a small one's difference. (Before, ⟨f, u⟩ was differenced: x³ at 0.01 came
    out 0.000466 for 0.000406, and the message blamed eps.) A rule 0.1% off at the small
    element is still caught, at every order."""
    assert gradcheck(f, x) and gradcheck(f, x, order=2) and gradgradcheck(f, x)
    with pytest.raises(GradcheckError, match=r"mismatch at element \(0,\)"):
        gradcheck(lambda x: wrong_at(0)(x), [-3.0, 18.0], **TIGHT)
    with pytest.raises(GradcheckError, match=r"mismatch at element \(0,\)"):
        gradcheck(lambda x: wrong_at(0)(x), [-3.0, 18.0], order=2, **TIGHT)
