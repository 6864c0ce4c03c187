"""Edges of the recording switch (a thread that ends inside `no_grad`) and of the data a Value
accepts (numbers beyond float64's range, complex numbers, masked arrays, time spans, ...)."""

from __future__ import annotations

import contextlib
import decimal
import os
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, enable_grad, grad_mode, is_grad_enabled, no_grad

# ---- the recording switch: a thread's "off" goes when the thread ends --------------------


def run_in_thread(target: Callable[[], Any]) -> None:
    """Run `target` in a new thread and wait for that thread to end."""
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()


def recording_everywhere() -> bool:
    """True when no living thread is inside no_grad: the fast path's flag, this thread's
    switch, and an operation recorded here."""
    return grad_mode.enabled and is_grad_enabled() and (Value(2.0) * Value(3.0)).requires_grad


@contextlib.contextmanager
def a_thread_inside_no_grad() -> Iterator[None]:
    """A thread that enters no_grad and never leaves it, alive for the block, then ended."""
    inside, leave = threading.Event(), threading.Event()

    def stay_inside() -> None:
        no_grad().__enter__()  # (never exited)
        inside.set()
        leave.wait(10)

    thread = threading.Thread(target=stay_inside)
    thread.start()
    try:
        assert inside.wait(10)
        yield
    finally:
        leave.set()
        thread.join(10)


def enter_and_never_exit() -> None:
    no_grad().__enter__()


def switch_off_and_raise_past_it() -> None:
    try:
        grad_mode.switch(False)
        raise RuntimeError("never switched back")
    except RuntimeError:
        pass


SUSPENDED: list[Generator[int, None, None]] = []


def leave_a_generator_suspended_inside_no_grad() -> None:
    def numbers() -> Generator[int, None, None]:
        with no_grad():
            yield 1

    generator = numbers()
    next(generator)
    SUSPENDED.append(generator)  # (outlives the thread: still inside its no_grad block)


@pytest.mark.parametrize("target", [enter_and_never_exit, switch_off_and_raise_past_it,
                                    leave_a_generator_suspended_inside_no_grad])
def test_a_thread_that_ends_inside_no_grad_leaves_every_thread_recording(
        target: Callable[[], None]) -> None:
    assert recording_everywhere()
    run_in_thread(target)
    assert recording_everywhere()
    while SUSPENDED:  # (its no_grad was entered in the thread that ended, not in this one)
        with pytest.raises(RuntimeError, match="not entered"):
            SUSPENDED.pop().close()
    assert recording_everywhere()


def test_a_living_thread_inside_no_grad_keeps_the_flag_off_until_it_ends() -> None:
    with a_thread_inside_no_grad():
        assert not grad_mode.enabled  # (the fast copies ask for this thread's switch)
        assert is_grad_enabled() and (Value(2.0) * Value(3.0)).requires_grad
    assert recording_everywhere()


def test_a_thread_switched_back_on_is_not_taken_out_twice() -> None:
    """A thread that ends with its switch on again takes nothing back: another thread, still
    inside no_grad, keeps the flag off until it ends (then the flag is on)."""
    def toggle() -> None:
        for _ in range(3):
            with no_grad(), enable_grad(), no_grad():
                pass
        grad_mode.switch(False)
        grad_mode.switch(True)

    with a_thread_inside_no_grad():
        run_in_thread(toggle)
        assert not grad_mode.enabled and is_grad_enabled()
    assert recording_everywhere()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.booleans(), max_size=6), min_size=1, max_size=4))
def test_after_any_switches_in_threads_that_end_every_thread_records(
        switches: list[list[bool]]) -> None:
    """Threads switching on and off in any order, ending with their switch as it is left."""
    def run(ons: list[bool]) -> Callable[[], None]:
        def switches_then_ends() -> None:
            for on in ons:
                grad_mode.switch(on)
        return switches_then_ends

    threads = [threading.Thread(target=run(ons)) for ons in switches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert recording_everywhere()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_count_the_threads_left_behind() -> None:
    """After fork only the forking thread lives on: a thread of the parent inside no_grad
    does not keep the child's flag off."""
    with a_thread_inside_no_grad():
        pid = os.fork()
        if pid == 0:  # the child
            os._exit(0 if recording_everywhere() else 1)
        _, status = os.waitpid(pid, 0)
        assert not grad_mode.enabled  # (in the parent the thread lives on)
    assert os.waitstatus_to_exitcode(status) == 0
    assert recording_everywhere()


# ---- data: out of float64's range -------------------------------------------------------

LONG_DOUBLE_WIDER = float(np.finfo(np.longdouble).max) == float("inf")
wider = pytest.mark.skipif(not LONG_DOUBLE_WIDER,
                           reason="np.longdouble is float64 here: it cannot hold 1e400")


@wider
@pytest.mark.parametrize("make", [
    lambda: np.longdouble("1e400"),
    lambda: np.longdouble("-1e400"),
    lambda: np.array([1.0, np.longdouble("1e400")], dtype=np.longdouble),
    lambda: [[2.0], [np.longdouble("-1e4000")]],
], ids=["scalar", "negative", "array", "list"])
def test_a_long_double_beyond_float64_is_refused_not_inf(make: Callable[[], Any]) -> None:
    """As Value(10**400): an error naming the number, not a silent inf."""
    with pytest.raises(ValueError, match=r"e\+400.*too large|e\+4000.*too large"):
        Value(make())


@wider
def test_a_long_double_beyond_float64_is_refused_as_an_operand_and_as_data() -> None:
    v, big = Value([1.0, 2.0]), np.longdouble("1e400")
    with pytest.raises(ValueError, match="too large"):
        v * big  # type: ignore[operator]  # (refused: the point)
    with pytest.raises(ValueError, match="too large"):
        v.data = np.full(2, np.longdouble("1e400"))


def test_long_doubles_within_range_and_infinities_convert() -> None:
    """Regression: a long double that float64 holds (or rounds to 0), and ±inf, convert."""
    assert Value(np.longdouble("1.5")).data == 1.5
    assert Value(np.longdouble("1e-400")).data == 0.0
    assert Value(np.longdouble("-inf")).data == float("-inf")
    data = Value(np.array([np.inf, 2.0, np.nan], dtype=np.longdouble)).data
    assert isinstance(data, np.ndarray) and data.dtype == np.float64
    assert data[0] == np.inf and data[1] == 2.0 and np.isnan(data[2])


@pytest.mark.parametrize("given_data", [decimal.Decimal("1e400"), [decimal.Decimal("-1e400")]],
                         ids=["scalar", "list"])
def test_a_decimal_beyond_float64_is_refused_not_inf(given_data: Any) -> None:
    with pytest.raises(ValueError, match=r"1E\+400.*too large"):
        Value(given_data)


def test_infinite_decimals_stay_infinite() -> None:
    """Regression: Decimal('Infinity') is inf (as float() of it), in a list too."""
    assert Value(decimal.Decimal("-Infinity")).data == float("-inf")
    data = Value([decimal.Decimal("Infinity"), decimal.Decimal(1)]).data
    assert isinstance(data, np.ndarray) and data.tolist() == [np.inf, 1.0]


@example(1, 309)
@example(-17976931348623159, 292)  # (just beyond float64's largest)
@given(st.integers(-(10**20), 10**20), st.integers(-420, 420) | st.integers(280, 420))
def test_a_decimal_converts_to_its_float_or_is_refused_never_a_new_inf(
        mantissa: int, exponent: int) -> None:
    number = decimal.Decimal(mantissa).scaleb(exponent)
    try:
        data = Value(number).data
    except ValueError as error:
        assert "too large" in str(error)
        assert abs(number) > decimal.Decimal(np.finfo(np.float64).max)
    else:
        assert data == float(number) and np.isfinite(data)


def test_a_signaling_nan_decimal_is_named() -> None:
    with pytest.raises(ValueError, match=r"Decimal\('sNaN'\)"):
        Value(decimal.Decimal("sNaN"))


# ---- data: complex numbers, time spans, array-likes --------------------------------------

@pytest.mark.parametrize("given_data", [
    1 + 2j, np.complex128(1 + 2j), np.array([1 + 2j, 3]), [1 + 2j, 2.0],
    [np.complex64(1 + 1j)], 1 + 0j, np.array([1 + 0j]),
], ids=["complex", "np.complex128", "array", "list", "list of np.complex64",
        "no imaginary part", "array, no imaginary part"])
def test_complex_numbers_are_refused_with_what_to_pass(given_data: Any) -> None:
    """Never the imaginary part dropped in silence (numpy's cast would): a TypeError saying
    to pass the real parts or the magnitudes."""
    with pytest.raises(TypeError, match=r"complex.*\.real.*abs"):
        Value(given_data)


def test_a_complex_array_as_an_operand_is_refused() -> None:
    with pytest.raises(TypeError, match=r"complex.*\.real"):
        Value([1.0, 2.0]) + np.array([1 + 2j, 1])


def test_a_time_span_is_refused_with_how_to_get_a_number() -> None:
    """numpy counts np.timedelta64 an integer: float() of it was a bare TypeError."""
    with pytest.raises(TypeError, match=r"time span np\.timedelta64\(5,'s'\).*timedelta64\(1"):
        Value(np.timedelta64(5, "s"))
    with pytest.raises(TypeError, match="time span"):
        Value(1.0) + np.timedelta64(5, "s")  # type: ignore[operator]  # (refused)


def test_an_array_like_object_is_refused_with_np_asarray_named() -> None:
    class Series:  # (as a pandas Series: not a list, but has __array__)
        def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
            return np.array([1.0, 2.0])

    with pytest.raises(TypeError, match=r"type Series\).*np\.asarray"):
        Value(Series())


# ---- data: masked arrays and np.matrix ----------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True]),
    lambda: np.ma.masked_array([[1, 2], [3, 4]], mask=[[True, False], [False, True]]),
    lambda: np.ma.masked,
    lambda: [np.ma.masked_array([1.0, 2.0], mask=[True, False]), [3.0, 4.0]],
], ids=["1-d", "2-d ints", "np.ma.masked", "in a list"])
def test_a_masked_array_with_masked_entries_is_refused(make: Callable[[], Any]) -> None:
    """np.array() keeps the hidden numbers (np.ma.masked became 0.0): refused, saying how
    many entries are masked and what to pass instead."""
    with pytest.raises(ValueError, match=r"masked array.*masked.*\.filled.*\.compressed"):
        Value(make())


def test_a_masked_array_with_masked_entries_is_refused_as_an_operand_and_as_data() -> None:
    masked = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    with pytest.raises(ValueError, match=r"1 of its 2 entries masked"):
        Value([1.0, 1.0]) + masked
    v = Value([1.0, 1.0])
    with pytest.raises(ValueError, match="masked"):
        v.data = masked
    with pytest.raises(ValueError, match="masked"):
        Value(1.0) * np.ma.masked


def test_a_masked_array_with_no_masked_entry_is_its_data() -> None:
    """Regression: nothing hidden, nothing refused; the data is a plain float64 array."""
    data = Value(np.ma.masked_array([1, 2], mask=[False, False])).data
    assert isinstance(data, np.ndarray) and type(data) is np.ndarray
    assert data.dtype == np.float64 and data.tolist() == [1.0, 2.0]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_an_np_matrix_becomes_a_plain_array() -> None:
    """Regression: `*` of the Value is elementwise, not np.matrix's matrix product."""
    v = Value(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(v.data) is np.ndarray
    assert np.array(v * v).tolist() == [[1.0, 4.0], [9.0, 16.0]]
