"""The gradient-testing toolkit at its edges, as a learner meets them: the arguments of
gradcheck and friends, f's that leave the graph, strategies for max's kink (a tie) and bad
arguments to them, and the pytest plugin under ``-W error``.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.engine import Primitive
from tinygrad_edu.testing import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from tinygrad_edu.testing.strategies import arrays_away_from, floats_away_from, shapes, values

CHECKERS = [numerical_grad, gradcheck, gradgradcheck]
HALF_SQUARE = Primitive("half_square", lambda x: x * x, lambda g, out, x: (g * x,))  # 2x: wrong


# ---- what f is, and how many inputs it takes --------------------------------------------------


@pytest.mark.parametrize("checker", CHECKERS)
def test_an_f_that_is_not_callable_is_named(checker: Any) -> None:
    """gradcheck(x, f), the arguments swapped: it said "'Value' object is not callable"."""
    with pytest.raises(TypeError, match=rf"{checker.__name__}: f must be a function of the "
                       r"inputs, as in \w+\(f, \*inputs\); got Value\(data=2.0"):
        checker(Value(2.0), lambda v: v * v)


@pytest.mark.parametrize("checker", CHECKERS)
def test_inputs_in_one_tuple_as_pytorch_takes_them_are_explained(checker: Any) -> None:
    """PyTorch's gradcheck(f, (x, y)): here f got one input and raised "missing 1 required
    positional argument: 'y'" from inside the lambda."""
    with pytest.raises(TypeError, match=r"f cannot take the 1 input given .*'y'.*give the "
                       r"inputs one by one, \w+\(f, x, y\), not in one tuple"):
        checker(lambda x, y: (x * y).sum(), (1.0, 2.0))


@pytest.mark.parametrize("checker", CHECKERS)
def test_more_inputs_than_f_takes_are_named(checker: Any) -> None:
    with pytest.raises(TypeError, match=r"f cannot take the 2 inputs given \(one Value per "
                       r"input\): too many positional arguments"):
        checker(lambda x: x * 2.0, 1.0, 2.0)


def test_functions_of_any_signature_are_still_taken() -> None:
    """Primitives, *args, defaults and functions without a readable signature."""
    assert gradcheck(lambda *xs: xs[0] * xs[1], 1.0, 2.0)
    assert gradcheck(lambda x, k=3.0: x * k, 1.5)
    assert gradcheck(Value.exp, [0.5, 1.0])
    assert numerical_grad(abs, 2.0) == [pytest.approx(1.0)]  # (a builtin: no signature)


@pytest.mark.parametrize("order", [True, 2.0, np.float64(1.0), "2"])
def test_an_order_that_is_not_the_int_1_or_2_is_refused(order: Any) -> None:
    """order=True was read as 1, order=2.0 as 2."""
    with pytest.raises(ValueError, match=f"order must be 1 or 2; got {re.escape(repr(order))}"):
        gradcheck(lambda v: v * v, 1.0, order=order)
    assert gradcheck(lambda v: v * v, 1.0, order=np.int64(2))  # type: ignore[arg-type]


# ---- an f whose result leaves the engine's graph -----------------------------------------------


@pytest.mark.parametrize(("f", "says"), [
    (lambda v: float(v.data) ** 2, r"f returned 2\.25 \(type float\), not a Value: the engine "
     r"has no graph to differentiate"),
    (lambda v: np.float64(v.data) ** 2, r"f returned .*not a Value"),
    (lambda v: v.detach() * v.detach(), r"f's result does not depend on input 0 in the "
     r"engine's graph, so the analytical value is 0: .*detach\(\)"),
    (lambda v: Value(v.data ** 2), r"does not depend on input 0"),
])
def test_a_result_computed_outside_the_graph_is_said_to_be_so(f: Any, says: str) -> None:
    """Before, only "analytical 0.0, numerical 3.0": the learner looked for a wrong rule."""
    with pytest.raises(GradcheckError, match=rf"analytical 0\.0 .*numerical 3\.0.*{says}"):
        gradcheck(f, 1.5)


def test_the_graph_hint_names_the_input_left_out() -> None:
    with pytest.raises(GradcheckError, match=r"input 1 \(a scalar\).*does not depend on input "
                       r"1 in the engine's graph"):
        gradcheck(lambda x, y: x * float(y.data), 2.0, 3.0)
    with pytest.raises(GradcheckError) as error:  # a wrong rule: no word about the graph
        gradcheck(lambda v: HALF_SQUARE(v), 1.5)
    assert "graph" not in str(error.value)


# ---- strategies: max's kink is a tie -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_distinct_arrays_check_max_and_min_along_any_axis(data: st.DataObject) -> None:
    """With arrays_away_from(shape=...) Hypothesis draws ties ([0., 0., 0.]), where the
    central difference of max is 1/2 and its rule (ties split evenly) 1/3: a learner's test
    of max failed with no way to draw points away from that kink."""
    x = data.draw(arrays_away_from(shape=shapes(min_dims=1, max_dims=2, max_side=3),
                                   distinct=True))
    assert gradcheck(lambda v: v.max(), x)
    assert gradcheck(lambda v: v.min(axis=-1), x)
    assert gradcheck(lambda v: v.max(axis=0, keepdims=True), x, order=2)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_distinct_arrays_split_in_two_check_maximum(data: st.DataObject) -> None:
    x = data.draw(arrays_away_from(shape=st.tuples(st.just(2), st.integers(1, 4)),
                                   distinct=True))
    assert gradcheck(lambda a, b: a.maximum(b), x[0], x[1])


@settings(max_examples=60, deadline=None)
@given(kinks=st.lists(st.floats(-2.5, 2.5), max_size=3), margin=st.sampled_from([1e-3, 0.1]),
       shape=shapes(min_side=0, max_side=3, max_dims=2), data=st.data())
def test_distinct_elements_keep_the_margin_from_each_other_and_the_kinks(
        kinks: list[float], margin: float, shape: tuple[int, ...], data: st.DataObject) -> None:
    x = data.draw(arrays_away_from(kinks, shape=shape, margin=margin, distinct=True))
    assert np.shape(x) == shape
    flat = np.sort(np.ravel(x))
    assert np.all(np.diff(flat) >= margin * (1 - 1e-9)), flat
    assert all(np.all(np.abs(flat - k) >= margin * (1 - 1e-9)) for k in kinks)
    assert np.all((flat >= -3.0) & (flat <= 3.0))


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_distinct_values(data: st.DataObject) -> None:
    v = data.draw(values(shape=(2, 3), kinks=(0.0,), margin=0.25, distinct=True))
    flat = np.sort(np.ravel(v.data))
    assert np.all(np.diff(flat) >= 0.25 * (1 - 1e-9)) and np.all(np.abs(flat) >= 0.25)


def test_distinct_elements_that_do_not_fit_are_refused_clearly() -> None:
    strategy = arrays_away_from(shape=(700,), distinct=True)  # 699 gaps of 0.01 > 6
    with pytest.raises(ValueError, match=r"700 distinct elements \(shape \(700,\)\), at least "
                       r"0\.01 apart, do not fit in \[-3\.0, 3\.0\]"):
        find(strategy, lambda x: True)
    assert find(arrays_away_from(shape=(50,), distinct=True), lambda x: True).shape == (50,)
    with pytest.raises(TypeError, match="distinct must be True or False; got 'yes'"):
        arrays_away_from(shape=(2,), distinct="yes")  # type: ignore[arg-type]


# ---- strategies: bad arguments -----------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"kinks": 0.0}, TypeError, r"kinks must be a collection of numbers, such as \(0\.0,\); "
     r"got 0\.0 \(type float\)"),
    ({"kinks": "0"}, TypeError, "kinks must be a collection of numbers"),
    ({"kinks": (math.nan,)}, ValueError, "every kink must be a finite number; got nan"),
    ({"kinks": ("0",)}, ValueError, "every kink must be a finite number; got '0'"),
    ({"low": -math.inf}, ValueError, "low must be a finite number; got -inf"),
    ({"high": math.nan}, ValueError, "high must be a finite number; got nan"),
    ({"low": 3.0, "high": -3.0}, ValueError, r"low must be ≤ high; got low=3\.0, high=-3\.0"),
])
def test_floats_away_from_refuses_what_is_no_range_or_kink(kwargs: dict[str, Any],
                                                           error: type[Exception],
                                                           message: str) -> None:
    """A nan kink was dropped (points drawn at it), an infinite range drew inf, a single kink
    raised "'float' object is not iterable", a nan or reversed range said "no room"."""
    with pytest.raises(error, match=rf"floats_away_from: {message}"):
        floats_away_from(**kwargs)


def test_a_set_of_kinks_is_taken() -> None:
    strategy = floats_away_from({0.0, 1.0}, margin=0.5)
    assert 1.5 <= find(strategy, lambda x: x > 0) <= 3.0
    assert -3.0 <= find(strategy, lambda x: x < 0) <= -0.5


# ---- the pytest plugin under -W error -----------------------------------------------------------

LEARNERS_TESTS = '''
import numpy as np
import pytest
from tinygrad_edu import Value
from tinygrad_edu.engine import Primitive

AT_IMPORT = Value([0.0, 1.0]).log()  # (runs while pytest collects the file)


def test_ieee_results_are_silent():
    v = Value([0.0, 1.0]) / Value([0.0, 1.0])
    assert np.isnan(v.data[0]) and AT_IMPORT.data[0] == -np.inf


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_tests_own_mark_still_works_on_its_own_numpy_code():
    v = Value([0.0, 1.0]) / Value([0.0, 1.0])  # (the engine's: silent, as a float's)
    assert np.isnan(v.data[0])
    with pytest.raises(RuntimeWarning):
        np.array([0.0]) / np.array([0.0])
'''


@pytest.mark.parametrize("option", ["error::RuntimeWarning", "error"])
def test_a_learners_tests_see_no_warnings_under_minus_w_error(tmp_path: Path,
                                                              option: str) -> None:
    """The plugin's filter was in the ini options, which pytest's -W overrides: a tensor 0/0
    in a learner's test failed with RuntimeWarning under ``pytest -W error::RuntimeWarning``,
    the very case the plugin was written for."""
    (tmp_path / "test_mine.py").write_text(LEARNERS_TESTS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-W", option, "test_mine.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
