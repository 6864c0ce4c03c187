"""The engine: `Value`, the primitives it is built from, and backpropagation.

Read it top to bottom; it is micrograd's engine, grown to tensors and higher derivatives:
1. a `Primitive` is one operation and its derivative (the table of them is `ops.py`);
2. a `Value` holds data (a float, or a float64 array) and, when it was computed, the primitive
   that made it and its operands (`op`, `parents`, `params`);
3. `apply` runs a primitive forward and records the result: that is all an operator does;
4. `backpropagate` visits the graph newest node first, and turns the gradient arriving at each
   node into its operands' gradients with the node's rule: into `.grad` (`Value.backward`),
   captured (`gradients`), or as a function (`grad`, in functional.py).

Not required reading: `storage.py` (`.data` and `.grad` kept and checked), `grad_mode.py`
(`no_grad`), and `fast.py`, the faster copies that `backward()` and the operators run (the
tests prove they give exactly what this file gives).

>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a
>>> c.backward()
>>> c.data, a.grad, b.grad
(-4.0, -2.0, 2.0)
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal, TypeAlias, cast

import numpy as np

from tinygrad_edu import changes, fast, storage
from tinygrad_edu.data import (
    Array,
    ArrayLike,
    Data,
    as_data,
    check_flag,
    data_of,
    describe,
    forward_data,
)
from tinygrad_edu.grad_mode import enable_grad, is_grad_enabled, no_grad
from tinygrad_edu.kernels import (
    GradientShapeError,
    OpError,
    check_share_count,
    run_rule,
    shape_of,
)
from tinygrad_edu.methods import NamedOperations
from tinygrad_edu.storage import NO_GRADIENT_YET, Storage

Operand: TypeAlias = "Value | float | int | Array | Sequence[Any]"
"""Anything an operator accepts on its other side: a Value, a number or array-like data."""

__all__ = ["OpError", "Primitive", "Value", "apply", "backpropagate", "enable_grad", "gradients",
           "is_grad_enabled", "no_grad", "primitive", "sum_to_shape", "topological_order"]


# ---- 1. Primitives: an operation together with its derivative --------------------------------


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation: its forward computation and its vector-Jacobian product (its rule).

    ``forward(*datas, **params)`` computes on floats or float64 arrays. ``vjp(g, out,
    *inputs, **params)`` gives each input's gradient (or None) from the upstream gradient `g`
    and the result `out`, in the operator algebra: the same rule runs on raw data and on
    Values (a recorded pass, for higher derivatives); it computes new arrays (an array `g` is
    read-only: other gradients may share it). For the pictures: `label` (formatted
    by `caption`), `text` (the rule in words), `kinks`. With `needs_mask` both backward
    passes tell the rule which inputs need a gradient (``needs``, a tuple of bools).
    `reads_data` False: the rule needs the operands' shapes only, not their numbers (a
    view: reshape, transpose, getitem), so an operand changed after the node was made leaves
    its gradients right (`changes.check`).
    `reads_operands`: whose data the rule may read, so that a leaf a recorded node uses
    is watched for changes only where its numbers matter (`changes.first_read`): "all"
    (always safe), "none" (add, sub: g goes on as it is), or "for the other" (matmul: an
    operand is read only for the other's gradient, so none is beside plain data, a numpy
    batch, which has no gradient to compute, nor can be made to need one).

    >>> cube = Primitive("cube", lambda x: x**3, lambda g, out, x: (g * 3 * x**2,))
    >>> cube(2.0), cube(Value(2.0)).data
    (8.0, 8.0)
    """

    name: str
    forward: Callable[..., Any]
    vjp: Callable[..., tuple[Any, ...]]
    label: str = ""
    text: str = ""
    kinks: tuple[float, ...] = ()
    needs_mask: bool = False
    reads_data: bool = True
    reads_operands: Literal["all", "none", "for the other"] = "all"
    caption: Callable[[Mapping[str, Any]], str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.reads_operands not in ("all", "none", "for the other"):
            raise ValueError(f"Primitive {self.name!r}: reads_operands must be 'all', 'none' "
                             f"or 'for the other'; got {self.reads_operands!r}")

    def __call__(self, *args: Any, **params: Any) -> Any:
        """Apply to Values (recording a node) or to raw floats/arrays (just computing)."""
        for arg in args:
            if isinstance(arg, Value):
                return apply(self, *args, **params)
        return self.forward(*args, **params)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """A registered primitive pickles (and deep-copies) as its name: its rules are code."""
        if REGISTRY.get(self.name) is self:
            return _registered, (self.name,)
        return super().__reduce_ex__(protocol)

    def describe(self, params: Mapping[str, Any] | None) -> str:
        """The text a graph shows for this op, e.g. ``*``, ``**2`` or ``sum(axis=1)``."""
        if self.caption is not None:
            return self.caption(params or {})
        shown = {k: v for k, v in (params or {}).items() if not isinstance(v, np.ndarray)}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{self.label or self.name}({args})" if args else self.label or self.name


REGISTRY: dict[str, Primitive] = {}
"""Every primitive by name: the derivative table, as the tests and the graphs see it."""


def _registered(name: str) -> Primitive:
    return REGISTRY[name]  # (how a pickled primitive comes back)


def primitive(name: str, forward: Callable[..., Any], vjp: Callable[..., tuple[Any, ...]],
              **info: Any) -> Primitive:
    """Declare a primitive and add it to `REGISTRY` (names are unique)."""
    if name in REGISTRY:
        raise ValueError(f"a primitive named {name!r} is already registered")
    REGISTRY[name] = Primitive(name, forward, vjp, **info)
    return REGISTRY[name]


# ---- 2. Value ---------------------------------------------------------------------------------

NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # the params of an op that has none


def _numpy_ufunc(value: Value, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``array * v``, ``np.exp(v)``: numpy's ufuncs given a Value, run as
    `arrays.numpy_ufunc` says (Value's operator for ``array * v``, as Python would call it;
    the Value's own operation where it has one)."""
    return _arrays().numpy_ufunc(ufunc, method, inputs, kwargs)


class _NumpyUfuncs:
    """`Value.__array_ufunc__`: `_numpy_ufunc` where numpy looks for it (on the class), None
    on a Value. numpy.ma's operators look on the operand, and hand an operation to it only
    when that gives None (``masked * v`` is then ``v.__rmul__(masked)``); given the method,
    they read the Value's `_data` slot themselves and dropped its gradient."""

    def __get__(self, value: object, owner: type | None = None) -> Any:
        return _numpy_ufunc if value is None else None


class Value(NamedOperations, Storage, ArrayLike):
    """A scalar or tensor that records the operations applied to it, for backpropagation.

    ``Value(data, label="", requires_grad=True)``: `data` is a number (a scalar Value, whose
    `.data` and `.grad` are Python floats) or a (nested) list / numpy array (a tensor, whose
    `.data` and `.grad` are float64 arrays of one shape). Integers become floats.

    >>> x = Value([1.0, 2.0, 3.0], label="x")
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> y, x.grad
    (Value(data=14.0, grad=1.0), array([2., 4., 6.]))
    """

    __slots__ = ("__weakref__", "_changed", "_data", "_first", "_grad", "_label", "_mark",
                 "_number", "_requires_grad", "_second", "op", "params")
    __array_ufunc__ = _NumpyUfuncs()  # ``array * v``, ``np.exp(v)``: see `_NumpyUfuncs`

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.sum(v)``, ``np.concatenate([v, w])``: numpy's functions given a Value, run
        as `arrays.numpy_function` says (the Value's own operation, where it has one)."""
        return _arrays().numpy_function(func, args, kwargs)

    _data: Data  # `.data` (storage.py: checked when set, watched for in-place changes)
    _grad: Any  # `.grad`: 0.0 for a scalar, None for a tensor until a gradient arrives
    _label: str  # `.label` (checked when set)
    _requires_grad: bool  # `requires_grad`, read by the passes without the property's call
    op: Primitive | None  # the primitive that computed this Value; None for a leaf
    params: Mapping[str, Any]  # the op's other arguments (an axis, an exponent, ...)
    # The operands (`parents`) are in slots, not a tuple: a tuple per node doubles the objects
    # the garbage collector tracks (micrograd's demo step took 3x as long); 3+ operands are
    # all in `_second`, as a tuple, with `_first` None (no slot of their own: one slot less).
    _first: Value | None
    _second: Value | tuple[Value, ...] | None
    _number: int  # creation number: an operand is older than its result
    _mark: Any  # the fast executor's working slot (None between passes)
    # When `.data` last changed (tinygrad_edu.changes), unset until then; or UNREAD, for a
    # leaf whose data no recorded rule reads yet (one slot for both: a Value of 12 slots takes
    # 128 bytes, one of 13 takes 144: micrograd's demo step 5% faster, its backward 9%).
    _changed: int

    def __init__(self, data: object, label: str = "", requires_grad: bool = True) -> None:
        init_slots(self, as_data(data), check_flag(requires_grad, "requires_grad"))
        self.label = label
        self._changed = changes.UNREAD  # until a recorded rule may read it (apply)
        if type(self._data) is np.ndarray:  # (handed out as it is until then)
            changes.note_holder(self)

    @property
    def label(self) -> str:
        """The name the pictures show beside the Value (settable, a string; "" for none)."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a string; got {describe(label)}")
        self._label = label

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this Value: a leaf's flag (settable, as a parameter is
        frozen or unfrozen); a computed Value's is True, and stays so.

        >>> h = Value(2.0) * 3
        >>> h.requires_grad = False  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: requires_grad: cannot set it to False on an unlabelled Value (a scalar, ...
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:
        flag = check_flag(requires_grad, "requires_grad")
        if self.op is not None and not flag:  # (True: a computed Value requires grad already)
            raise RuntimeError(
                f"requires_grad: cannot set it to False on {changes.describe_value(self)}: only "
                "a leaf's flag can change (a Value made by Value(...), not computed), and "
                "backward() sends gradients through this one to its operands. For a constant "
                "with its data, use .detach() (as PyTorch's var.detach())")
        self._requires_grad = flag

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (`a*a` lists `a` twice)."""
        second = self._second
        if second is None:
            return () if self._first is None else (self._first,)
        if type(second) is tuple:
            return second
        return (self._first, second)  # type: ignore[return-value]

    # ---- the operators: each applies one primitive of the table (an operand of another
    # type, a string say, gives NotImplemented: Python says "unsupported operand type(s)")
    def __add__(self, other: Operand) -> Value: return _operator(ops.ADD, self, other)
    def __radd__(self, other: Operand) -> Value: return _operator(ops.ADD, other, self)
    def __sub__(self, other: Operand) -> Value: return _operator(ops.SUB, self, other)
    def __rsub__(self, other: Operand) -> Value: return _operator(ops.SUB, other, self)
    def __mul__(self, other: Operand) -> Value: return _operator(ops.MUL, self, other)
    def __rmul__(self, other: Operand) -> Value: return _operator(ops.MUL, other, self)
    def __truediv__(self, other: Operand) -> Value: return _operator(ops.DIV, self, other)
    def __rtruediv__(self, other: Operand) -> Value: return _operator(ops.DIV, other, self)
    def __rpow__(self, base: Operand) -> Value: return _operator(ops.POW, base, self)
    def __matmul__(self, other: Operand) -> Value: return _operator(ops.MATMUL, self, other)
    def __rmatmul__(self, other: Operand) -> Value: return _operator(ops.MATMUL, other, self)
    def __neg__(self) -> Value: return apply(ops.NEG, self)
    def __pos__(self) -> Value: return self
    # in place (``p -= lr * p.grad`` inside no_grad()): see `_in_place`
    def __iadd__(self, other: Operand) -> Any: return _in_place(self, "+=", other)
    def __isub__(self, other: Operand) -> Any: return _in_place(self, "-=", other)
    def __imul__(self, other: Operand) -> Any: return _in_place(self, "*=", other)
    def __itruediv__(self, other: Operand) -> Any: return _in_place(self, "/=", other)

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, bool | int | float | np.integer | np.floating):
            if type(exponent) is int and not -_LARGEST_INT <= exponent <= _LARGEST_INT:
                exponent = as_data(exponent, "the exponent of **")  # (raises: too large)
            return apply(ops.POW_CONST, self, exponent=float(exponent))
        return _operator(ops.POW, self, exponent)

    def backward(self, gradient: Any = None, *, create_graph: bool = False,
                 retain_graph: bool | None = None) -> None:
        """Add d(self)/d(node) to the `.grad` of every node of the graph that made `self`.

        A scalar root starts from gradient 1; a tensor root needs `gradient` of its shape.
        With ``create_graph=True`` the pass is recorded, so gradients are Values that can be
        differentiated again. `retain_graph` is PyTorch's, taken and not needed: the graph is
        always kept: a second backward() adds the same gradients again, as PyTorch's does
        with retain_graph=True (micrograd's also adds the inner nodes' gradients into the
        shares it sends on, so theirs grow faster: 18 for 12 through two products).
        """
        if create_graph is not False:
            create_graph = check_flag(create_graph, "backward(): create_graph")
        if retain_graph is not None:
            check_flag(retain_graph, "backward(): retain_graph")
        with _ONE_PASS_AT_A_TIME:
            if create_graph or _check_shares is not None or not fast.backward(
                    self, gradient, initial_gradient, sum_to_shape, REGISTRY, changes.check,
                    storage.recorded_gradients_given):
                # the reference pass: recorded, checked by detect_anomaly, adding to a
                # gradient a recorded pass left (see `accumulate`), or begun inside another
                # pass (a rule's); else the same pass,
                # `backpropagate(self, initial_gradient(...), accumulate)`, fast
                backpropagate(self, initial_gradient(self, gradient, create_graph), accumulate,
                              create_graph=create_graph)

    def apply(self, name: str, *others: Any, **params: Any) -> Value:
        """The table's primitive `name` applied to self (and `others`), recorded: what the
        named operations (``x.exp()``, ``x.sum(axis)``, ...: methods.py) do.

        >>> Value(2.0).apply("mul", 3.0).data
        6.0
        """
        return apply(REGISTRY[name], self, *others, **params)

    def detach(self) -> Value:
        """A new leaf with the same data (shared, not copied), outside any graph: a constant.

        >>> w = Value(3.0)
        >>> y = (w * w).detach() * w
        >>> y.backward()
        >>> y.data, w.grad
        (27.0, 9.0)
        """
        detached = init_slots(Value.__new__(Value), self._data, False)
        changes.share(self, detached)
        return detached

    def __copy__(self) -> Value:
        """A new node with the same data, gradient, operation and operands (pickle and
        deepcopy: pickling.py)."""
        cls = type(self)  # (micrograd's Value stays one)
        copy = init_slots(cls.__new__(cls), self._data, self._requires_grad, self.op,
                          self.parents, self.params)
        copy._label, copy._grad = self._label, self._grad
        copy._number = self._number  # (made when the original was: its operands or its own
        stamp = getattr(self, "_changed", 0)  # data changed since are changed for the copy
        if stamp > 0:  # too, as its stamp; else the copy's backward went through them)
            copy._changed = stamp
        changes.share(self, copy)
        return copy


_ONE_PASS_AT_A_TIME = threading.RLock()
"""Held by `Value.backward`: passes of other threads wait, as each adds to `.grad`s others
may share (a pass a rule begins, in its own thread, goes on: the reference pass)."""


@functools.cache
def _arrays() -> ModuleType:
    """arrays.py, what numpy's functions and ufuncs do given a Value (it imports this module:
    found at the first call, then kept; an import statement there cost ``X @ W`` 1 µs)."""
    from tinygrad_edu import arrays
    return arrays


def init_slots(value: Value, data: Data, requires_grad: bool, op: Primitive | None = None,
               parents: tuple[Value, ...] = (), params: Mapping[str, Any] = NO_PARAMS) -> Value:
    """Fill every slot of a new Value."""
    value._data = data
    value._label = ""
    value._requires_grad = requires_grad
    value.op = op
    value._first = parents[0] if 0 < len(parents) < 3 else None
    value._second = parents[1] if len(parents) == 2 else parents if len(parents) > 2 else None
    value.params = params or NO_PARAMS  # (a dict per node would slow the collector down)
    value._grad = NO_GRADIENT_YET if type(data) is float else None
    value._number = changes.tick()  # (the clock that also dates changes to data)
    value._mark = None
    return value


_LARGEST_INT = int(sys.float_info.max)  # (a larger int: `Value` says it is too large)


def constant(data: Any) -> Value:
    """`data` as a Value that needs no gradient (a Value passes through as it is).

    A float64 array is used as it is, not copied (as `torch.as_tensor` does): changing it in
    place before `backward()` changes the gradients computed from it. A Value's own array
    (``x.data``, or a view of it) is copied (`changes.operand`).
    """
    if type(data) is Value:
        return data
    if type(data) is float or (type(data) is int and -_LARGEST_INT <= data <= _LARGEST_INT):
        return init_slots(Value.__new__(Value), float(data), False)
    if type(data) is np.ndarray and data.dtype == np.float64 and data.ndim:
        return init_slots(Value.__new__(Value), changes.operand(data), False)
    return data if isinstance(data, Value) else Value(data, requires_grad=False)


# ---- 3. Applying a primitive: the forward pass, recorded --------------------------------------

_unrolled = fast.Unrolled(Value, changes.tick, NO_PARAMS, NO_GRADIENT_YET, REGISTRY,
                          changes.HANDED_OUT,
                          changes.seal, changes.first_read, changes.UNREAD,
                          changes.unaliased, changes.operand, sys.modules[__name__])


@_unrolled.apply  # the same, made fast (fast.py)
def apply(prim: Primitive, *args: Any, **params: Any) -> Value:
    """Compute `prim` on `args` (Values, or data taken as constants) and record the result.

    The result remembers `prim`, its operands and `params` when an operand needs a gradient
    (and recording is on); otherwise it is a constant.

    >>> from tinygrad_edu.ops import MUL
    >>> c = apply(MUL, Value(2.0), 3.0)
    >>> c.data, c.op.name, len(c.parents)
    (6.0, 'mul', 2)
    """
    parents = tuple(constant(arg) for arg in args)  # numbers and arrays become constants
    if changes.HANDED_OUT:  # arrays the user holds: compared, then sealed (see `changes`)
        changes.seal(*parents)
    recorded = is_grad_enabled() and any(parent._requires_grad for parent in parents)
    if recorded:
        for parent in operands_read(prim, args, parents):  # watched (see `changes`)
            changes.first_read(parent)
    data = forward_data(prim.name, prim.forward, [parent._data for parent in parents], params)
    if recorded:
        return init_slots(Value.__new__(Value), data, True, prim, parents, params)
    return init_slots(Value.__new__(Value), changes.unaliased(data), False)


def operands_read(prim: Primitive, args: Sequence[Any], parents: tuple[Value, ...]
                  ) -> tuple[Value, ...]:
    """The operands of a node `prim` records whose data its rule may read
    (`Primitive.reads_operands`), of `parents`, made of `args` (a Value given is its own
    parent; anything else became a constant, which is watched as it is)."""
    reads = prim.reads_operands
    if reads == "all":
        return parents
    if reads == "none":
        return ()
    given = [parent is arg for parent, arg in zip(parents, args, strict=True)]
    return tuple(parent for k, parent in enumerate(parents)
                 if given[k] and any(given[:k] + given[k + 1:]))


_OPERANDS = (Value, float, int, np.ndarray, np.number, np.bool_, list, tuple)


_IN_PLACE = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.true_divide}


def _in_place(value: Value, symbol: str, other: Any) -> Any:
    """``value -= other`` (and ``+=``, ``*=``, ``/=``), as PyTorch's in-place operators.

    Not recorded (inside no_grad(), where an update of parameters is written, or on a Value
    no gradient flows to or from): the data changes in place, and `value` stays the Value a
    model holds; a graph that read its old data refuses backward(), as after ``.data -=``.
    Recorded: ``value = value - other``, a new Value (Python's own fallback), as ``total +=
    term`` builds a sum; but refused on a leaf that needs a gradient, `other` none (a
    parameter updated outside no_grad(): the model's parameter would stay as it was, and one
    graph would grow across the steps), as PyTorch refuses it.

    >>> w = Value([1.0, 2.0])
    >>> with no_grad():
    ...     w -= 0.5 * np.ones(2)
    >>> w
    Value(shape=(2,), data=[0.5, 1.5], grad=[0., 0.])
    """
    gives_gradient = isinstance(other, Value) and other._requires_grad
    if (value._requires_grad or gives_gradient) and is_grad_enabled():
        if value.op is None and value._requires_grad and not gives_gradient:
            raise RuntimeError(
                f"`{symbol}` on {changes.describe_value(value)}, a leaf that needs a gradient, "
                "while recording (as PyTorch, refused: the Value would be replaced, not "
                f"changed). To update a parameter, change its data, `p.data {symbol} ...`, or "
                f"write the update inside `with no_grad():`, or use tinygrad_edu.optim; for a "
                f"new Value, write `x = x {symbol[0]} ...`")
        return NotImplemented
    operand = as_data(data_of(other), f"the operand of {symbol}")
    shape = np.broadcast_shapes(np.shape(value._data), np.shape(operand))
    if shape != np.shape(value._data):
        raise ValueError(f"`{symbol}` in place cannot change the shape of "
                         f"{changes.describe_value(value)} to {shape} (the operand's shape is "
                         f"{np.shape(operand)})")
    data = value._data
    if type(data) is np.ndarray and any(step == 0 and size > 1
                                        for step, size in zip(data.strides, data.shape,
                                                              strict=True)):
        raise ValueError(f"`{symbol}` in place on {changes.describe_value(value)}, whose "
                         "elements share memory (a broadcast, broadcast_to's say): a write "
                         "to one would be a write to the others; make it a Value of its own "
                         f"(x = x {symbol[0]} ...)")
    del data
    ufunc = _IN_PLACE[symbol]
    with np.errstate(all="ignore"):  # (IEEE results, silently, as the operators give)
        if type(value._data) is float:
            value.data = float(ufunc(value._data, operand))
        else:
            data = cast(Array, value.data)  # (handed out: `value.data -= ...`, written out)
            if not data.flags.writeable:  # (a view of an array a recorded graph reads, the
                # Value that owns it gone from the graph's sight: `x.T.detach()`, say)
                raise ValueError(
                    f"`{symbol}` in place on {changes.describe_value(value)}: its array is a "
                    "view of another Value's, which a recorded graph reads (sealed until "
                    "then); change that Value's data, or make this one a Value of its own "
                    f"(x = x {symbol[0]} ...)")
            ufunc(data, operand, out=data)
            del data  # (the setter counts the array's references: none of this frame's)
            value.data = value._data  # (its change in place noted, as after ``.data -=``)
    return value


@_unrolled.operator  # the same, made fast (fast.py)
def _operator(prim: Primitive, a: Any, b: Any) -> Value:
    """`apply` for an arithmetic operator; NotImplemented for an operand of another type."""
    if not (isinstance(a, _OPERANDS) and isinstance(b, _OPERANDS)):
        return NotImplemented  # type: ignore[no-any-return]
    return apply(prim, a, b)


# ---- 4. The backward pass ---------------------------------------------------------------------


def initial_gradient(root: Value, gradient: Any, create_graph: bool = False) -> Any:
    """The gradient a backward pass from `root` starts from: 1 for a scalar, or `gradient`."""
    if not root.requires_grad:
        raise ValueError("backward() on a Value that does not require grad: it was made from "
                         "constants only, or inside no_grad() (a gradient recorded with "
                         "create_graph=True is a constant where it depends on no Value that "
                         "requires grad, as that of x * 3 in x: its own derivative is then 0). "
                         "A parameter rebound inside no_grad(), `w = w - lr * w.grad`, is a "
                         "new Value, a constant: update it in place instead, `w -= lr * w.grad` "
                         "inside no_grad() or `w.data -= lr * w.grad`, or use an optimizer "
                         "(tinygrad_edu.optim)")
    if gradient is None and root.shape != ():
        raise ValueError(f"backward() on a tensor of shape {root.shape} needs gradient=, an "
                         "array of that shape (d(something)/d(root)); call .sum() first to "
                         "backpropagate a scalar")
    seed = 1.0 if gradient is None else as_data(data_of(gradient), "gradient")
    if shape_of(seed) != root.shape:
        raise ValueError(f"backward(): gradient has shape {shape_of(seed)}, but the root has "
                         f"shape {root.shape}; they must match")
    if create_graph:
        return gradient if isinstance(gradient, Value) else Value(seed, requires_grad=False)
    return seed  # (an array is a copy: as_data copies)


def topological_order(root: Value, *, constants: bool = False) -> list[Value]:
    """The nodes `root` depends on, root first, every node before its operands.

    Only nodes that require grad, unless `constants`. Operands are created before their
    results, so sorting by creation number, newest first, is a topological order: no
    recursion, and a chain of a million operations is walked like any other graph.
    """
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen and (constants or parent._requires_grad):
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=lambda node: node._number, reverse=True)


Visit = Callable[[Value, Any], None]


def backpropagate(root: Value, seed: Any, visit: Visit, *, create_graph: bool = False) -> None:
    """Send the gradient `seed` (d root / d root) back from `root` through the graph.

    Nodes are visited newest first, so when a node's turn comes every result computed from
    it has sent its share: `visit(node, grad)` gets its complete gradient for this pass, and
    the node's rule splits it among its operands. With `create_graph` the rules run on
    Values, recording the pass itself (for higher derivatives); otherwise on raw data.
    """
    grads = {root: seed}
    nodes = topological_order(root)
    changes.check(nodes)  # no node's data changed since it was recorded
    with np.errstate(all="ignore"), enable_grad() if create_graph else no_grad():
        for node in nodes:
            g = grads.pop(node, None)
            if g is None:
                continue  # no gradient reaches this node (it lies behind a step, say)
            visit(node, g)
            if node.op is None:
                continue  # a leaf
            if create_graph:
                shares = node.op.vjp(g, node, *node.parents, **rule_params(node))
            else:
                shares = rule_on_data(node.op, g, node)
            if _check_shares is not None:
                _check_shares(node, g, shares)
            check_share_count(node.op.name, shares, len(node.parents))
            for parent, share in zip(node.parents, shares, strict=True):
                if share is None or not parent._requires_grad:
                    continue
                try:
                    share = sum_to_shape(share, parent.shape)
                except GradientShapeError as error:
                    raise GradientShapeError(f"{node.op.name}: {error}") from None
                if parent in grads:
                    grads[parent] = grads[parent] + share
                elif type(share) is np.ndarray and share.base is not None:  # a view (stack's
                    # share, g[..., k]): copied, as the fast pass's `_own` copies it, so that
                    # the next rule reads it laid out alike (matmul rounds by the layout)
                    grads[parent] = np.array(share, dtype=np.float64)
                else:
                    grads[parent] = share


def rule_on_data(prim: Primitive, g: Any, node: Value) -> tuple[Any, ...]:
    """`prim`'s rule at `node`, on raw data: IEEE results (inf, nan) where Python floats raise,
    g read-only (`kernels.run_rule`)."""
    return run_rule(prim.name, prim.vjp, g, node._data, [parent._data for parent in node.parents],
                    rule_params(node))


def rule_params(node: Value) -> Mapping[str, Any]:
    """The params `node`'s rule takes: its own, and for a rule that asks (`needs_mask`) which
    operands need a gradient, ``needs``."""
    assert node.op is not None
    if not node.op.needs_mask:
        return node.params
    return {**node.params, "needs": tuple(parent._requires_grad for parent in node.parents)}


def _summed(grad: Any, axis: tuple[int, ...], keepdims: bool = False) -> Any:
    """`grad` (a Value or an array) summed over `axis`: for an array, np.add.reduce, which
    np.sum calls (the warning of an overflow is then this package's, and silent)."""
    if isinstance(grad, Value):
        return grad.sum(axis=axis, keepdims=keepdims)
    return np.add.reduce(grad, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient (a float, an array or a Value) back down to `shape`.

    numpy broadcasting copies an operand along new leading axes and along axes of length 1;
    the gradient of a copy is the sum over the copies.

    >>> sum_to_shape(np.ones((2, 3)), (3,)), sum_to_shape(np.ones((2, 3)), ())
    (array([2., 2., 2.]), 6.0)
    """
    if type(grad) is np.ndarray and grad.dtype != np.float64:  # (a rule of one's own's
        grad = grad.astype(np.float64)  # float32, say: made float64 before it is summed)
    from_shape = shape_of(grad)
    if from_shape != shape:
        if type(grad) is float:  # one number, for every element
            return np.full(shape, grad)
        lead = len(from_shape) - len(shape)
        if lead < 0 or any(m != n != 1 for n, m in zip(shape, from_shape[lead:], strict=True)):
            raise GradientShapeError(f"a rule gave an operand of shape {shape} a gradient of "
                                     f"shape {from_shape}, which is neither its shape nor one "
                                     "broadcasting could have made of it")
        if lead:  # the axes broadcasting put in front
            grad = _summed(grad, tuple(range(lead)))
        ones = tuple(i for i, n in enumerate(shape) if n == 1 and from_shape[lead + i] != 1)
        if ones:  # the axes of length 1 it stretched
            grad = _summed(grad, ones, keepdims=True)
    if not shape and type(grad) is not float and not isinstance(grad, Value):
        grad = float(grad)  # a scalar's gradient is a Python float
    return grad


def accumulate(node: Value, g: Any) -> None:
    """Add this pass's gradient to `node.grad` (what `backward()` does at every node).

    A gradient a recorded pass left (a Value) stays recorded when a plain pass adds to it,
    as PyTorch's does: its graph, plus this pass's share, a constant.
    """
    current = node._grad
    if current is None or current is NO_GRADIENT_YET:  # the first gradient: each node
        # owns its own array, or its own recorded Value (a scalar's as a tensor's)
        node._grad = np.array(g, dtype=np.float64) if type(g) is np.ndarray else \
            _own_gradient(g) if isinstance(g, Value) else g
    elif isinstance(current, Value) and not is_grad_enabled():
        with enable_grad():
            node._grad = current + g
    else:
        node._grad = current + g
    if isinstance(node._grad, Value):
        storage.note_recorded_gradient()


def _own_gradient(g: Value) -> Value:
    """A recorded gradient of a node's own, equal to `g` bit for bit and differentiable as it
    is, with an array of its own: a recorded pass sends one Value to several nodes (the
    operands of +; a node and its operand, through +; the seed and the root), and an edit of
    one's `.grad` (clipping, scaling) must not change another's, nor the caller's seed.

    A computed `g` is twinned: a node of its op, operands and params, dated as `g` is (a
    change of an operand since is seen as for `g`: changes.py), holding a copy of its array
    (a float, immutable, as it is); a picture shows the same graph. A constant is copied. A
    leaf that requires grad (a seed the caller gave) is multiplied by 1.0, an identity that
    keeps -0.0 and nan, recorded so that the gradient still depends on it (as PyTorch's copy
    of it).
    """
    data = g._data
    if type(data) is np.ndarray:
        data = data.copy()
    if g.op is not None:
        own = init_slots(Value.__new__(Value), data, g._requires_grad, g.op, g.parents,
                         g.params)
        own._number = g._number
        if hasattr(g, "_changed"):
            own._changed = g._changed
    elif not g._requires_grad:
        own = init_slots(Value.__new__(Value), data, False)
    else:
        return g * 1.0
    own.label = g.label
    return own


# ---- 5. Gradients, captured (and `grad`, the same as a function: functional.py) -----------


def gradients(output: Value, inputs: Sequence[Value], *, create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, without touching any `.grad` (cf. torch.autograd.grad).

    Every input must be a Value that requires grad (as torch.autograd.grad asks): a constant
    has no gradient to give.

    >>> x = Value(3.0)
    >>> gradients(x ** 2, [x])
    [6.0]
    """
    create_graph = check_flag(create_graph, "gradients: create_graph")
    if not isinstance(output, Value):
        raise TypeError(f"gradients: output must be a Value; got {describe(output)}")
    if output.shape != ():
        raise ValueError(f"gradients: output must be a scalar Value; got one of shape "
                         f"{output.shape}: call .sum() first (or take the Value you want)")
    if isinstance(inputs, Value) or not isinstance(inputs, Iterable):
        raise TypeError("gradients: inputs must be a list or tuple of Values; got "
                        f"{describe(inputs)}")
    inputs = list(inputs)  # (read twice below: a generator once)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradients: input {i} must be a Value; got {describe(x)}")
        if not x.requires_grad:
            raise ValueError(f"gradients: input {i}, {x!r}, does not require grad, so it has "
                             "no gradient (make it with requires_grad=True)")
    captured: dict[Value, Any] = dict.fromkeys(inputs)

    def capture(node: Value, g: Any) -> None:
        if node in captured:
            captured[node] = g

    if output.requires_grad:
        seed = initial_gradient(output, None, create_graph)
        backpropagate(output, seed, capture, create_graph=create_graph)
    result: list[Any] = []
    for x in inputs:
        g = captured[x]
        if g is None:
            g = 0.0 if x.shape == () else np.zeros(x.shape)
        elif type(g) is np.ndarray and (not g.flags.writeable or any(
                np.may_share_memory(g, h) for h in result if type(h) is np.ndarray)):
            g = g.copy()  # (a + b sends both one array, read-only: each input gets its own)
        if create_graph and not isinstance(g, Value):
            g = Value(g, requires_grad=False)
        result.append(g)
    return result


# ---- 6. The fast copies, and another route for every operation (anomaly.py) ------------------

_fast_routes = (apply, _operator)
_unrolled.fuse_operators()  # Value's + - * / on two floats, in one call each (fast.py)


_check_shares: Callable[[Value, Any, tuple[Any, ...]], None] | None = None
"""`detect_anomaly`'s check of each rule's shares, called as (node, its gradient, shares) by
`backpropagate`; while it is set, `backward()` runs that reference pass, not the fast one."""


def route_operations(through: Callable[..., Value] | None,
                     check_shares: Callable[[Value, Any, tuple[Any, ...]], None] | None = None,
                     ) -> None:
    """Send every operation through `through` (a wrapper of `apply.__wrapped__`, the
    reference), and every backward pass through the reference one with `check_shares`; or
    back through the fast copies when None."""
    global apply, _operator, _check_shares
    _check_shares = check_shares
    if through is None:
        apply, _operator = _fast_routes
    else:
        apply, _operator = through, _fast_routes[1].__wrapped__  # type: ignore[attr-defined]
    _unrolled.fuse_operators(through is None)


def method_forms(name: str) -> tuple[Any, ...]:
    """Value's method `name` in each form `Value` holds it: as written in its class, and the
    fast executor's copy (while anomalies are detected, the one written). A model made with
    ``activation=Value.tanh`` in one mode holds that form in the other too."""
    copy = _unrolled.fused_operators.get(name)
    return (getattr(Value, name, None),) if copy is None else (
        copy, copy.__wrapped__)  # type: ignore[attr-defined]


# The table is written in terms of Value, so it is imported last: the one late import.
from tinygrad_edu import ops  # noqa: E402
