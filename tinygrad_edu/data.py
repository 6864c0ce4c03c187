"""What a Value holds: user data checked and converted, and the ways it behaves like an array.

A Value's data is a Python float (a scalar, as in micrograd) or a float64 numpy array (a
tensor). `as_data` turns what a user gives into one of those, or says clearly why it cannot.
`ArrayLike` gives a Value what it shares with a number and an array and that has nothing to
do with gradients: its shape, `item()`, `len()`, iteration, truth and comparisons.

>>> as_data(3), as_data([[1, 2]])
(3.0, array([[1., 2.]]))
"""

from __future__ import annotations

import decimal
import math
import numbers
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeAlias

import numpy as np

from tinygrad_edu.kernels import FLOAT_ERRORS, NUMPY_ALARMS, OpError, shape_of

Array = np.ndarray[Any, np.dtype[np.float64]]
Data: TypeAlias = "float | Array"
"""What a Value holds: a Python float for a scalar, a float64 array for a tensor."""
Labels = np.ndarray[Any, np.dtype[np.int64]]
"""Class indices 0, 1, 2, ..., one per sample."""

__all__ = ["Array", "ArrayLike", "Data", "Labels", "as_data", "class_indices", "data_of",
           "describe", "forward_data", "note_numbers_taken", "refuse_masked", "rows_of",
           "shape_of"]

_noting = threading.local()  # .taken: this thread's list of numbers taken out, while grad's f runs


def note_numbers_taken(taken: list[tuple[Any, str]] | None) -> list[tuple[Any, str]] | None:
    """Start noting in `taken` (or stop, given None), in this thread, each Value whose number
    is taken out (``float(x)``, ``x.item()``, ``x.numpy()``, ``np.array(x)``) with how; the
    list noted in before is returned. `grad` (functional.py) notes while its f runs: a
    gradient cannot pass through a plain number. Truth tests, comparisons, formatting and
    ``.data`` (micrograd's way to branch on a number) are not noted."""
    before: list[tuple[Any, str]] | None = getattr(_noting, "taken", None)
    _noting.taken = taken
    return before


def _taken(value: Any, how: str) -> None:
    """Note that `how` took the number out of `value` (see `note_numbers_taken`)."""
    taken = getattr(_noting, "taken", None)
    if taken is not None:
        taken.append((value, how))


class ArrayLike:
    """Shape, conversions and comparisons of anything with a `.data` (a Value).

    Comparisons look at the data and carry no gradient (as in PyTorch), ``==`` and ``!=``
    with a number or an array too; between two Values, ``==`` is identity (the hash is too),
    so Values can be dictionary keys, set members and found in lists, as micrograd's.
    """

    __slots__ = ()
    _data: Data
    data: Data  # (a Value's `.data` getter hands its array out: see tinygrad_edu.changes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of `.data`; ``()`` for a scalar."""
        return shape_of(self._data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def item(self) -> float:
        """The single number held, as a Python float."""
        return self._only_number("item()")

    def _only_number(self, what: str, *, taken: bool = True) -> float:
        """The single number held, for `what` (``item()``, ``float()``, ...), which names the
        conversion in the error for a Value of more numbers; `taken`: noted as taken out
        (see `note_numbers_taken`)."""
        if taken:
            _taken(self, what)
        if self.size != 1:
            raise ValueError(f"{what} needs a Value with one element; this one has shape "
                             f"{self.shape}")
        return float(np.reshape(self._data, ()))

    def numpy(self) -> Array:
        """A copy of `.data` as a float64 array (0-d for a scalar)."""
        _taken(self, "numpy()")
        return np.array(self._data, dtype=np.float64)

    def tolist(self) -> Any:
        """`.data` as Python numbers: (nested) lists of floats, or a float for a scalar (as
        ``tensor.tolist()``). Numbers carry no gradient.

        >>> from tinygrad_edu import Value
        >>> Value([[1, 2]]).tolist(), Value(3.0).tolist()
        ([[1.0, 2.0]], 3.0)
        """
        _taken(self, "tolist()")
        data = self._data
        return data.tolist() if type(data) is np.ndarray else float(data)

    def __float__(self) -> float:
        return self._only_number("float()")

    # a one-element Value converts as its number does (as a one-element torch tensor)
    def __int__(self) -> int:
        return int(self._only_number("int()"))

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(self._only_number("round()"), ndigits)

    def __floor__(self) -> int:
        return math.floor(self._only_number("math.floor()"))

    def __ceil__(self) -> int:
        return math.ceil(self._only_number("math.ceil()"))

    def __trunc__(self) -> int:
        return math.trunc(self._only_number("math.trunc()"))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """`np.array(value)`: the data as a float64 array (0-d for a scalar), not an object
        array of Values. It is a copy unless ``copy=False`` is asked of a tensor."""
        dtype = np.float64 if dtype is None else dtype
        _taken(self, "np.array()")
        if copy is not False:
            return np.array(self._data, dtype=dtype)
        if type(self._data) is not np.ndarray:
            raise ValueError("a scalar Value's data is a Python float: an array of it is a copy")
        return np.asarray(self.data, dtype=dtype)  # the Value's own array, handed out

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a format spec formats the number held (as a one-element torch
        tensor's does); without one, the Value shows itself as `str` does."""
        if not spec:
            return str(self)
        return format(self._only_number("a format spec", taken=False), spec)

    def __contains__(self, item: Any) -> bool:
        """``2.0 in v``: whether some element of `v` equals `item` (a number or a Value), as
        for a torch tensor (``==`` between two Values is identity, not this)."""
        data = data_of(item)
        if not isinstance(data, int | float | np.number | np.ndarray):
            raise TypeError(f"'in' looks for a number in a Value's data; got {describe(item)}")
        return bool(np.any(self._data == data))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"the truth value of a Value of shape {self.shape} is ambiguous; "
                             "use (v > 0).any() or (v > 0).all() on its comparisons")
        return bool(self._only_number("bool()", taken=False) != 0.0)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar Value: it has no first axis")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        if not self.shape:
            raise TypeError("a scalar Value cannot be iterated: it has no first axis")
        return (self[i] for i in range(len(self)))  # type: ignore[index]

    # comparisons with numbers, arrays or Values (anything else: Python's "not supported")
    def __lt__(self, other: Any) -> Any:
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data < other

    def __le__(self, other: Any) -> Any:
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data <= other

    def __gt__(self, other: Any) -> Any:
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data > other

    def __ge__(self, other: Any) -> Any:
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data >= other

    def __eq__(self, other: object) -> Any:
        """``v == 2``: the data compared, as by `<` (a bool, or an array of them); was
        identity, so ``Value(0.7).step() == 1`` was False while ``v <= 1`` compared."""
        if isinstance(other, ArrayLike):
            return self is other
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data == other

    def __ne__(self, other: object) -> Any:
        if isinstance(other, ArrayLike):
            return self is not other
        other = _comparable(other)
        return NotImplemented if other is NotImplemented else self._data != other

    __hash__ = object.__hash__  # (identity, as `==` between Values)


def _comparable(other: Any) -> Any:
    """What a Value's data is compared with: a Value's data, a number or an array of numbers
    (a list too); NotImplemented for anything else."""
    other = data_of(other)
    if isinstance(other, int | float | np.number) or (
            isinstance(other, np.ndarray | list | tuple)
            and np.asarray(other).dtype.kind in "biuf"):
        return other
    return NotImplemented


def data_of(x: Any) -> Any:
    """A Value's data; anything else as it is."""
    return x._data if isinstance(x, ArrayLike) else x


def check_flag(flag: object, name: str) -> bool:
    """`flag` (the switch `name`: requires_grad, create_graph, a picture's show_data, ...) as a
    bool, or a TypeError naming it: True or False (numpy's too), not a string taken for its
    truth.

    >>> check_flag("no", "legend")
    Traceback (most recent call last):
    ...
    TypeError: legend must be True or False; got 'no' (type str)
    """
    if type(flag) is not bool and not isinstance(flag, np.bool_):
        raise TypeError(f"{name} must be True or False; got {describe(flag)}")
    return bool(flag)


def describe(data: object) -> str:
    """`data` for an error message: its repr, shortened, and its type."""
    text = repr(data)
    return f"{text if len(text) <= 60 else text[:57] + '...'} (type {type(data).__name__})"


def rows_of(given: Any, who: str, what: str, *, numbers: bool = False) -> Any:
    """`given` as a numpy array (of float64 with `numbers`), or a ValueError from `who` that
    names `what` where numpy cannot make one: numpy's own ("inhomogeneous shape", "could not
    convert string to float") names neither.

    >>> rows_of([[1, 2], [3]], "fit", "X")
    Traceback (most recent call last):
    ...
    ValueError: fit: X must be an array with one row per sample; got [[1, 2], [3]] (type
    list), whose rows are not all of one shape
    """
    try:
        return np.asarray(given, dtype=np.float64 if numbers else None)
    except (TypeError, ValueError) as error:
        if numbers:
            raise ValueError(f"{who}: {what} must be an array of numbers, one row per sample; "
                             f"got {describe(given)}, which numpy cannot read as one (ragged "
                             "rows, or not numbers)") from None
        if isinstance(error, TypeError):
            raise  # (not a ragged list: numpy's own message says what)
        raise ValueError(f"{who}: {what} must be an array with one row per sample; got "
                         f"{describe(given)}, whose rows are not all of one shape") from None


def as_data(data: object, what: str = "Value data") -> Data:
    """Convert user data to a Python float (scalar) or a float64 array (tensor), or refuse it.

    Integers become floats. Strings, None, ragged lists and object arrays are refused with a
    message that says what was given; so are complex numbers (even with no imaginary part, as
    a float64 torch tensor refuses a Python complex), time spans, masked arrays with masked
    entries, and finite numbers beyond float64's range (a long double or a Decimal of 1e400,
    as the int 10**400): never a silently dropped part, mask or digit, nor an inf.
    """
    if type(data) is float:
        return data
    if isinstance(data, ArrayLike):
        raise TypeError(f"{what} must be a number, a (nested) list or a numpy array, not a "
                        "Value; use value.data to copy its data, or use the Value itself")
    if isinstance(data, complex | np.complexfloating):
        raise TypeError(_complex_refused(what, describe(data)))
    if isinstance(data, np.timedelta64):  # (numpy counts a time span an integer)
        raise TypeError(f"{what} must be a number, not the time span {describe(data)}; "
                        "divide it by a unit, e.g. span / np.timedelta64(1, 's') for seconds")
    if isinstance(data, numbers.Real | decimal.Decimal | np.bool_):  # (Fraction, np.float32...)
        try:
            number = float(data)
        except OverflowError:
            raise ValueError(f"{what}: {describe(data)} is too large for a float") from None
        except ValueError as error:  # (a signaling NaN Decimal)
            raise ValueError(f"{what}: cannot convert {describe(data)} to a float: {error}"
                             ) from None
        if math.isinf(number) and _finite(data):
            raise ValueError(f"{what}: {describe(data)} is too large for a float (float64 "
                             f"holds at most {np.finfo(np.float64).max:.6g})")
        return number
    if isinstance(data, str | bytes) or data is None:
        raise TypeError(f"{what} must be a number, a (nested) list or a numpy array of "
                        f"numbers; got {describe(data)}")
    if not isinstance(data, np.ndarray | Sequence):
        hint = ("; convert it with np.asarray(...) first" if hasattr(data, "__array__")
                and not isinstance(data, np.generic) else "")  # (an array-like: a pandas Series)
        raise TypeError(f"{what} must be a number, a (nested) list or a numpy array; "
                        f"got {describe(data)}{hint}")
    if isinstance(data, np.ma.MaskedArray):
        refuse_masked(data, what)
    elif isinstance(data, list | tuple):
        _check_items(data, what)
    try:
        array = np.array(data)  # (a masked array's data, an np.matrix's: a plain ndarray)
    except ValueError as error:
        raise ValueError(f"{what} must be a rectangular (nested) list of numbers; got a ragged "
                         f"one: {describe(data)}") from error
    given = array
    if array.dtype == object and not isinstance(data, np.ndarray) and all(
            isinstance(x, numbers.Real | decimal.Decimal) for x in array.flat):
        # numbers numpy keeps as objects: ints beyond int64, Fractions, Decimals
        try:
            array = np.array(data, dtype=np.float64)
        except OverflowError:
            raise ValueError(f"{what}: {describe(data)} holds a number too large for a float"
                             ) from None
        except ValueError as error:  # (a signaling NaN Decimal)
            raise ValueError(f"{what}: cannot convert {describe(data)} to floats: {error}"
                             ) from None
    if array.dtype.kind not in "biuf":
        given_text = f"an array of dtype {array.dtype} from {describe(data)}"
        if array.dtype.kind == "c":
            raise TypeError(_complex_refused(what, given_text))
        raise TypeError(f"{what} must hold numbers only; got {given_text}")
    array = array.astype(np.float64, copy=False)
    if given.dtype.kind == "O" or given.itemsize > 8:  # (Decimals, long doubles)
        _check_range(given, array, what, data)
    return float(array) if array.ndim == 0 else array


def _complex_refused(what: str, given: str) -> str:
    """The message refusing complex numbers (`given` describes them)."""
    return (f"{what} must hold real numbers; got complex numbers: {given}. Pass their real "
            "parts (z.real) or magnitudes (abs(z)), whichever you mean")


def _finite(number: object) -> bool:
    """True for a finite Decimal or numpy float (one that may lie beyond float64's range)."""
    if isinstance(number, decimal.Decimal):
        return number.is_finite()
    return isinstance(number, np.floating) and bool(np.isfinite(number))


def _check_range(given: np.ndarray[Any, Any], array: Array, what: str, data: object) -> None:
    """Refuse finite numbers of `given` (long doubles, Decimals) that became ±inf in `array`,
    their float64 conversion."""
    flat = given.reshape(-1)
    for k in np.flatnonzero(np.isinf(array)):
        if _finite(flat[k]):
            index = tuple(int(i) for i in np.unravel_index(k, given.shape))
            raise ValueError(f"{what}: {describe(data)} holds {flat[k]!r} at index {index}, "
                             "too large for a float (float64 holds at most "
                             f"{np.finfo(np.float64).max:.6g})")


def refuse_masked(data: np.ma.MaskedArray[Any, Any], what: str) -> None:
    """Refuse a masked array with a masked entry (np.array would keep the hidden number)."""
    masked = int(np.ma.getmaskarray(data).sum())
    if masked:
        raise ValueError(f"{what}: got a masked array (type {type(data).__name__}, shape "
                         f"{data.shape}) with {masked} of its {data.size} entries masked; a "
                         "Value has no mask: pass .filled(value) to fill them in, or "
                         ".compressed() to drop them (a 1-D array)")


def _check_items(data: list[Any] | tuple[Any, ...], what: str) -> None:
    """Refuse a (nested) list holding a Value (np.array would take its number, dropping its
    gradient) or a masked array with a masked entry (np.array would drop the mask)."""
    stack = [data]
    while stack:
        for item in stack.pop():
            if isinstance(item, ArrayLike):
                raise TypeError(f"{what} must hold numbers, not Values (that would drop their "
                                "gradients); use tinygrad_edu.stack([...]) to combine Values")
            if isinstance(item, np.ma.MaskedArray):
                refuse_masked(item, what)
            elif isinstance(item, list | tuple):
                stack.append(item)


def forward_data(name: str, forward: Callable[..., Any], datas: Sequence[Any],
                 params: Mapping[str, Any]) -> Data:
    """``forward(*datas, **params)`` as Value data, with IEEE results where floats raise.

    Python floats raise where numpy returns inf or nan (``1e308 * 10``, ``1 / 0.0``); the
    computation is then redone in numpy, so scalars give what tensors (and PyTorch) give.
    A failure is explained with the operands' shapes.

    >>> import operator
    >>> forward_data("div", operator.truediv, [1.0, 0.0], {})
    inf
    """
    try:
        data = forward(*datas, **params)
    except OpError:
        raise
    except NUMPY_ALARMS:
        with np.errstate(all="ignore"):
            data = forward(*datas, **params)
    except (*FLOAT_ERRORS, TypeError) as error:
        if not (all(type(d) is float for d in datas) and isinstance(error, FLOAT_ERRORS)):
            shapes = " and ".join(str(shape_of(d)) for d in datas)
            raise ValueError(f"{name}: cannot apply to operands of shapes {shapes}: {error}"
                             ) from None
        with np.errstate(all="ignore"):
            data = float(forward(*map(np.float64, datas), **params))
    if type(data) is float or (type(data) is np.ndarray and data.ndim
                               and data.dtype == np.float64):
        return data
    return as_data(data, f"the result of {name}")


_SIGNS_HINT = "; for labels ±1 (as for hinge_loss), pass y > 0: -1 is class 0"
"""How to turn labels -1/+1 into classes 0 and 1, for an error message."""


def class_indices(given: Any, who: str, what: str, *, n: int | None = None,
                  classes: int | None = None, renumber: str = "",
                  signs: bool = True) -> Labels:
    """`given` as int64 class indices 0, 1, 2, ..., one per sample, or a ValueError from `who`
    that shows the first label of `what` that is none, its index and the first labels.

    Class indices are bools, integers, floats that are whole numbers, or such numbers kept as
    objects (a pandas column, Decimals, Fractions), taken exactly (no float rounding), each
    ≥ 0 and < 2**63 (int64's range), and < `classes` when that is given. Refused: strings,
    complex numbers, times, nan, ±inf, 0.5, negatives. The shape is (n,) or (n, 1), any n when
    `n` is None; an empty array (of any dtype) is no labels. `renumber` is appended to the
    message for labels that are not indices (how to number them); `signs` adds, for labels
    that are all -1, 0 or 1 where there are two classes, how to make classes 0 and 1 of them.

    >>> class_indices([0, 2.0, True], "fit", "y").tolist()
    [0, 2, 1]
    >>> class_indices([1, -1, 1], "fit", "y")
    Traceback (most recent call last):
    ...
    ValueError: fit: y must be class indices 0, 1, 2, ... (whole numbers ≥ 0); got -1 at index
    1 in [1, -1, 1] of int64; for labels ±1 (as for hinge_loss), pass y > 0: -1 is class 0
    """
    data = data_of(given)
    try:
        array = np.asarray(data)
    except (TypeError, ValueError):  # (numpy's "inhomogeneous shape" names no labels)
        raise ValueError(f"{who}: {what} must be class indices 0, 1, 2, ... (whole numbers "
                         f"≥ 0); got {describe(data)}, which is no array (ragged?){renumber}"
                         ) from None
    rows = n if n is not None else (len(array) if array.ndim else -1)
    if array.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{who}: {what} must be one class per point, shape "
                         f"({'n' if n is None else n},); got shape {array.shape}"
                         f"{'' if array.ndim else ': ' + describe(data)}")
    flat = array.reshape(-1)
    if not flat.size:
        return np.zeros(0, dtype=np.int64)
    if flat.dtype.kind == "O":  # numbers numpy keeps as objects: a pandas column's, Decimals
        with suppress(TypeError, ValueError):
            inferred = np.asarray(flat.tolist())
            if inferred.shape == flat.shape and inferred.dtype.kind in "biuf":
                flat = inferred
    shown = f"{flat[:5].tolist()}{' ...' if len(flat) > 5 else ''} of {flat.dtype}"
    kind = flat.dtype.kind
    if kind not in "biufO":  # strings, complex numbers, times
        raise ValueError(f"{who}: {what} must be class indices 0, 1, 2, ... (whole numbers "
                         f"≥ 0); got {shown}{renumber}")
    whole, indices = _whole_numbers(flat)
    bad = ~whole | (indices < 0)
    large = whole & (indices >= 2**63)  # (int64 would wrap them round to negatives)
    if bad.any() or large.any():
        at = int(np.argmax(bad | large))
        label = repr(flat[at]) if kind == "O" else str(flat[at].item())
        if large[at]:
            raise ValueError(f"{who}: label {label} at index {at} of {what} is too large for a "
                             f"class index (int64 holds at most 2**63 - 1){renumber}")
        ones = signs and classes in (None, 2) and bool(whole.all()) and set(
            indices.tolist()) <= {-1, 0, 1}
        raise ValueError(f"{who}: {what} must be class indices 0, 1, 2, ... (whole numbers "
                         f"≥ 0); got {label} at index {at} in {shown}"
                         f"{_SIGNS_HINT if ones else renumber}")
    result: Labels = indices.astype(np.int64)
    if classes is not None and result.max() >= classes:
        raise ValueError(f"{who}: label {int(result.max())} in {what} is not one of the "
                         f"classes 0..{classes - 1} the model gives")
    return result


def _whole_numbers(flat: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, np.dtype[np.bool_]],
                                                        np.ndarray[Any, Any]]:
    """Which entries of the 1-D array `flat` are whole numbers, and their values, exact (0
    where an entry is not whole; objects, Decimals say, become Python ints)."""
    if flat.dtype.kind == "b":
        return np.ones(len(flat), dtype=bool), flat.astype(np.int64)
    if flat.dtype.kind in "iu":
        return np.ones(len(flat), dtype=bool), flat
    if flat.dtype.kind == "f":
        whole = np.isfinite(flat) & (flat == np.round(flat))
        return whole, np.where(whole, flat, 0)
    values = np.zeros(len(flat), dtype=object)
    whole = np.zeros(len(flat), dtype=bool)
    for k, x in enumerate(flat.tolist()):
        if isinstance(x, numbers.Real | decimal.Decimal):
            with suppress(ValueError, OverflowError, ArithmeticError):  # (nan, inf)
                values[k] = math.trunc(x)
                whole[k] = values[k] == x
    return whole, values
