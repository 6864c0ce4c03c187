"""The engine: `Value`, the primitives it is built from, and backpropagation.

Read it top to bottom; it is micrograd's engine, grown to tensors and higher derivatives:

1. A `Primitive` is one operation and its derivative (the table of them is `ops.py`).
2. A `Value` holds data (a Python float, or a float64 numpy array) and, when it was computed,
   the primitive that made it and its operands (`op`, `parents`, `params`).
3. `apply` runs a primitive forward and records the result: that is all an operator does.
4. `backpropagate` visits the graph from the root to the leaves, newest node first, and at
   each node turns the gradient that arrived into its operands' gradients with the node's rule.
5. `Value.backward`, `gradients` and `grad` are that pass, accumulated into `.grad`, captured,
   or wrapped as a function.

`Value.backward()` runs the same pass through a faster executor, `tinygrad_edu.fast`, which
the tests prove gives exactly what `backpropagate` gives. Beside it: `anomaly.py` (find the
first nan) and `pickling.py` (a graph as one flat table).

>>> from tinygrad_edu import Value
>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a
>>> c.backward()
>>> c.data, a.grad, b.grad
(-4.0, -2.0, 2.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

import numpy as np

from tinygrad_edu import changes, fast
from tinygrad_edu.data import Array, ArrayLike, Data, as_data, data_of, describe, shape_of
from tinygrad_edu.kernels import FLOAT_ERRORS, OpError
from tinygrad_edu.methods import NamedOperations

Operand: TypeAlias = "Value | float | int | Array | Sequence[Any]"
"""Anything an operator accepts on its other side: a Value, a number or array-like data."""

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["OpError", "Primitive", "Value", "apply", "backpropagate", "grad", "gradients",
           "no_grad", "primitive", "sum_to_shape", "topological_order"]


# --------------------------------------------------------------------------------------------
# 1. Primitives: an operation together with its derivative
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation: its forward computation and its vector-Jacobian product (its rule).

    ``forward(*datas, **params)`` computes the result from floats or float64 arrays.
    ``vjp(g, out, *inputs, **params)`` returns one gradient per input (None where an input
    gets none) from the upstream gradient `g` and the result `out`. It is written in the
    operator algebra, so the same rule runs on raw data (first derivatives) and on Values
    (a recorded pass, for second and higher derivatives).

    For the pictures: `label` is what a graph shows (`caption` formats it with the params),
    `text` the rule in words (``∂out/∂a = b``, with ``{param}`` placeholders), `kinks` the
    points where the derivative jumps. A rule whose gradients are costly (matmul) sets
    `needs_mask`; the fast executor then passes ``needs=(bool, ...)``, which inputs need one.

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
    caption: Callable[[Mapping[str, Any]], str] | None = field(default=None, repr=False)

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
        params = params or {}
        if self.caption is not None:
            return self.caption(params)
        shown = {k: v for k, v in params.items() if not isinstance(v, np.ndarray)}
        if not shown:
            return self.label or self.name
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{self.label or self.name}({args})"


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


# --------------------------------------------------------------------------------------------
# The recording switch
# --------------------------------------------------------------------------------------------

_grad_enabled = True


class no_grad:  # noqa: N801  (lower case, as torch.no_grad: it reads as a statement)
    """Record no graph inside: results have no parents and `requires_grad=False`.

    A context manager and a decorator (``@no_grad()`` or ``@no_grad``).

    >>> w = Value(3.0)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _enabled = False  # what recording is switched to inside

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is not None:  # used bare, as @no_grad
            return cls()(func)
        return super().__new__(cls)

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(no_grad):  # noqa: N801
    """Record a graph even inside `no_grad` (as torch.enable_grad; a recorded backward pass)."""

    _enabled = True


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


# --------------------------------------------------------------------------------------------
# 2. Value
# --------------------------------------------------------------------------------------------

_next_number = changes.tick  # creation numbers: an operand precedes its result
NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # the params of an op that has none


class Value(NamedOperations, ArrayLike):
    """A scalar or tensor that records the operations applied to it, for backpropagation.

    ``Value(data, label="", requires_grad=True)``: `data` is a number (a scalar Value, whose
    `.data` and `.grad` are Python floats) or a (nested) list / numpy array (a tensor, whose
    `.data` and `.grad` are float64 arrays of one shape). Integers become floats.

    >>> x = Value([1.0, 2.0, 3.0], label="x")
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> y
    Value(data=14.0, grad=1.0)
    >>> x.grad
    array([2., 4., 6.])
    """

    __slots__ = ("__weakref__", "_all", "_changed", "_data", "_first", "_grad", "_mark",
                 "_number", "_second", "label", "op", "params", "requires_grad")
    __array_ufunc__ = None  # numpy defers to Value's reflected operators (array * Value)

    _data: Data  # `.data`
    label: str
    requires_grad: bool
    op: Primitive | None  # the primitive that computed this Value; None for a leaf
    params: Mapping[str, Any]  # the op's other arguments (an axis, an exponent, ...)
    # Its operands (`parents`) are kept in slots, not in a tuple: a tuple per node doubles the
    # objects the garbage collector tracks, and micrograd's demo step took 3x as long.
    _first: Value | None
    _second: Value | None
    _all: tuple[Value, ...] | None  # all of them, for an op of three or more (stack, ...)
    _grad: Any  # `.grad`: 0.0 for a scalar, None for a tensor until a gradient arrives
    _number: int  # creation number
    _mark: Any  # the fast executor's working slot (None between passes)
    _changed: int  # when `.data` last changed (see tinygrad_edu.changes); unset until then

    def __init__(self, data: object, label: str = "", requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a string; got {describe(label)}")
        init_slots(self, as_data(data), bool(requires_grad))
        self.label = label

    @property
    def data(self) -> Data:
        """The number (a float) or the float64 array this Value holds.

        It may be changed, by assignment or in place, between training steps; a graph
        recorded before the change refuses `backward()` (see `tinygrad_edu.changes`).
        """
        data = self._data
        if type(data) is np.ndarray:
            changes.hand_out(self, data)
        return data

    @data.setter
    def data(self, value: object) -> None:
        if value is not self._data:  # (`x.data += 1` gives back the same array, changed)
            new = as_data(value, "Value.data")
            if shape_of(new) != self.shape and (self.op is not None or self.requires_grad):
                raise ValueError(
                    f"Value.data: cannot change the shape of {self.label or 'a Value'} from "
                    f"{self.shape} to {shape_of(new)}: a graph may use it; make a new Value")
            self._data = new
        changes.changed(self)

    @property
    def grad(self) -> Any:
        """d(root)/d(self), summed over every `backward()` call since the last `zero_grad()`.

        A float for a scalar, an array of `self.shape` for a tensor; a Value after
        `backward(create_graph=True)`.
        """
        if self._grad is None:
            if type(self._data) is float:
                return 0.0
            self._grad = np.zeros_like(self._data)  # kept, so an in-place edit sticks
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self.zero_grad()
            return
        if isinstance(value, Value):
            self._grad = value
            return
        grad = as_data(value, "grad")
        if shape_of(grad) != self.shape:
            raise ValueError(f"grad must have shape {self.shape}; got {shape_of(grad)}")
        self._grad = grad

    def zero_grad(self) -> None:
        """Reset `.grad` to zero."""
        self._grad = 0.0 if type(self._data) is float else None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (`a*a` lists `a` twice)."""
        if self._all is not None:
            return self._all
        if self._second is not None:
            return (self._first, self._second)  # type: ignore[return-value]
        return () if self._first is None else (self._first,)

    # ---- the operators: each applies one primitive of the table ----------------------------
    # (an operand of another type, a string say, gives NotImplemented: Python then says
    # "unsupported operand type(s)")

    def __add__(self, other: Operand) -> Value:
        return _operator(ops.ADD, self, other)

    def __radd__(self, other: Operand) -> Value:
        return _operator(ops.ADD, other, self)

    def __sub__(self, other: Operand) -> Value:
        return _operator(ops.SUB, self, other)

    def __rsub__(self, other: Operand) -> Value:
        return _operator(ops.SUB, other, self)

    def __mul__(self, other: Operand) -> Value:
        return _operator(ops.MUL, self, other)

    def __rmul__(self, other: Operand) -> Value:
        return _operator(ops.MUL, other, self)

    def __truediv__(self, other: Operand) -> Value:
        return _operator(ops.DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return _operator(ops.DIV, other, self)

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, bool | int | float | np.integer | np.floating):
            return apply(ops.POW_CONST, self, exponent=float(exponent))
        return _operator(ops.POW, self, exponent)

    def __rpow__(self, base: Operand) -> Value:
        return _operator(ops.POW, base, self)

    def __matmul__(self, other: Operand) -> Value:
        return _operator(ops.MATMUL, self, other)

    def __rmatmul__(self, other: Operand) -> Value:
        return _operator(ops.MATMUL, other, self)

    def __neg__(self) -> Value:
        return apply(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    # ---- the backward pass -----------------------------------------------------------------

    def backward(self, gradient: Any = None, *, create_graph: bool = False) -> None:
        """Add d(self)/d(node) to the `.grad` of every node of the graph that made `self`.

        A scalar root starts from gradient 1; a tensor root needs `gradient` of its shape.
        With ``create_graph=True`` the pass is recorded, so gradients are Values that can be
        differentiated again.
        """
        seed = initial_gradient(self, gradient, create_graph)
        if create_graph:
            backpropagate(self, seed, accumulate, create_graph=True)
        else:  # the same pass, `backpropagate(self, seed, accumulate)`, made fast
            with no_grad():
                fast.backward(self, seed, sum_to_shape, REGISTRY, changes.check)

    # ---- named operations (x.exp(), x.sum(axis), x.reshape(...)): methods.py --------------

    def apply(self, name: str, *others: Any, **params: Any) -> Value:
        """The table's primitive `name` applied to self (and `others`), recorded.

        >>> Value(2.0).apply("mul", 3.0).data  # what x.exp(), x.sum(axis)... do
        6.0
        """
        return apply(REGISTRY[name], self, *others, **params)

    def detach(self) -> Value:
        """A new leaf with the same data, outside any graph: a constant (``requires_grad``
        False), as PyTorch's. A tensor's array is shared, not copied (as in PyTorch).

        >>> w = Value(3.0)
        >>> y = (w * w).detach() * w
        >>> y.backward()
        >>> y.data, w.grad
        (27.0, 9.0)
        """
        return init_slots(Value.__new__(Value), self._data, False)

    # ---- (shape, ndim, size, item(), numpy(), len(), comparisons: see data.ArrayLike)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        if type(self._data) is float:
            return f"Value(data={self._data!r}, grad={self.grad!r}{label})"
        options: dict[str, Any] = {"threshold": 8, "edgeitems": 2, "precision": 4}
        data = np.array2string(np.asarray(self._data), separator=", ", **options)
        grad = self._grad._data if isinstance(self._grad, Value) else self.grad
        grad_text = np.array2string(np.asarray(grad), separator=", ", **options)
        return (f"Value(shape={self.shape}, data={data.replace(chr(10), '')}, "
                f"grad={grad_text.replace(chr(10), '')}{label})")

    # micrograd's names for the graph structure, so its drawing code works unchanged
    @property
    def _op(self) -> str:
        return "" if self.op is None else self.op.describe(self.params)

    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    # ---- copy (pickle and deepcopy: pickling.py) -----------------------------------------------

    def __copy__(self) -> Value:
        """A new node with the same data, gradient, operation and operands."""
        copy = init_slots(Value.__new__(Value), self._data, self.requires_grad, self.op,
                          self.parents, self.params)
        copy.label, copy._grad = self.label, self._grad
        return copy


# --------------------------------------------------------------------------------------------
# New Values
# --------------------------------------------------------------------------------------------


def init_slots(value: Value, data: Data, requires_grad: bool, op: Primitive | None = None,
               parents: tuple[Value, ...] = (), params: Mapping[str, Any] = NO_PARAMS) -> Value:
    """Fill every slot of a new Value."""
    value._data = data
    value.label = ""
    value.requires_grad = requires_grad
    value.op = op
    value._first = parents[0] if parents else None
    value._second = parents[1] if len(parents) == 2 else None
    value._all = parents if len(parents) > 2 else None
    value.params = params or NO_PARAMS  # (a dict per node would slow the collector down)
    value._grad = 0.0 if type(data) is float else None
    value._number = _next_number()
    value._mark = None
    return value


def constant(data: Any) -> Value:
    """`data` as a Value that needs no gradient (a Value passes through as it is).

    A float64 array is used as it is, not copied (as `torch.as_tensor` does): a batch of
    inputs costs nothing to wrap, but changing it in place before `backward()` changes the
    gradients computed from it.
    """
    kind = type(data)
    if kind is Value:
        return data  # type: ignore[no-any-return]
    if kind is float or kind is int:
        return init_slots(Value.__new__(Value), float(data), False)
    if kind is np.ndarray and data.dtype == np.float64 and data.ndim:
        return init_slots(Value.__new__(Value), data, False)
    return data if isinstance(data, Value) else Value(data, requires_grad=False)


# --------------------------------------------------------------------------------------------
# 3. Applying a primitive: the forward pass, recorded
# --------------------------------------------------------------------------------------------


_unrolled = fast.Unrolled(Value, _next_number, is_grad_enabled, NO_PARAMS, REGISTRY,
                          changes.HANDED_OUT, changes.seal)


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
    datas = [parent._data for parent in parents]
    try:
        data = prim.forward(*datas, **params)
    except (*FLOAT_ERRORS, TypeError) as error:
        data = _forward_failed(prim, datas, params, error)
    if type(data) is not float:
        data = _as_result(prim, data)
    if _grad_enabled and any(parent.requires_grad for parent in parents):
        return init_slots(Value.__new__(Value), data, True, prim, parents, params)
    return init_slots(Value.__new__(Value), data, False)


def _as_result(prim: Primitive, data: Any) -> Data:
    """A forward result as Value data: arrays stay float64 arrays, 0-d results become floats."""
    if type(data) is np.ndarray and data.ndim and data.dtype == np.float64:
        return data
    return as_data(data, f"the result of {prim.name}")


def _forward_failed(prim: Primitive, datas: Sequence[Any], params: Mapping[str, Any],
                    error: Exception) -> Any:
    """Finish a forward computation that Python floats refused, or explain a failure."""
    if isinstance(error, OpError):
        raise error
    if all(type(d) is float for d in datas) and isinstance(error, FLOAT_ERRORS):
        # numpy follows IEEE, so the result matches the tensor path (and PyTorch)
        with np.errstate(all="ignore"):
            return float(prim.forward(*map(np.float64, datas), **params))
    shapes = " and ".join(str(shape_of(d)) for d in datas)
    raise ValueError(f"{prim.name}: cannot apply to operands of shapes {shapes}: {error}") from None


_OPERANDS = (Value, float, int, np.ndarray, np.number, np.bool_, list, tuple)


@_unrolled.operator  # the same, made fast (fast.py)
def _operator(prim: Primitive, a: Any, b: Any) -> Value:
    """`apply` for an arithmetic operator; NotImplemented for an operand of another type."""
    if not (isinstance(a, _OPERANDS) and isinstance(b, _OPERANDS)):
        return NotImplemented  # type: ignore[no-any-return]
    return apply(prim, a, b)


# --------------------------------------------------------------------------------------------
# 4. The backward pass
# --------------------------------------------------------------------------------------------


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
            if parent not in seen and (constants or parent.requires_grad):
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=lambda node: node._number, reverse=True)


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient (a float, an array or a Value) back down to `shape`.

    numpy broadcasting copies an operand along new leading axes and along axes of length 1;
    the gradient of a copy is the sum over the copies.

    >>> sum_to_shape(np.ones((2, 3)), (3,)), sum_to_shape(np.ones((2, 3)), ())
    (array([2., 2., 2.]), 6.0)
    """
    from_shape = shape_of(grad)
    if from_shape != shape:
        if type(grad) is float:  # one number, for every element
            return np.full(shape, grad)
        lead = len(from_shape) - len(shape)
        if lead:  # the axes broadcasting put in front
            grad = grad.sum(axis=tuple(range(lead)))
        ones = tuple(i for i, n in enumerate(shape) if n == 1 and from_shape[lead + i] != 1)
        if ones:  # the axes of length 1 it stretched
            grad = grad.sum(axis=ones, keepdims=True)
    if not shape and type(grad) is not float and not isinstance(grad, Value):
        grad = float(grad)  # a scalar's gradient is a Python float
    return grad


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
                shares = node.op.vjp(g, node, *node.parents, **node.params)
            else:
                shares = rule_on_data(node.op, g, node)
            for parent, share in zip(node.parents, shares, strict=True):
                if share is None or not parent.requires_grad:
                    continue
                share = sum_to_shape(share, parent.shape)
                grads[parent] = grads[parent] + share if parent in grads else share


def rule_on_data(prim: Primitive, g: Any, node: Value) -> tuple[Any, ...]:
    """`prim`'s rule at `node`, on raw data: IEEE results (inf, nan) where Python floats raise."""
    datas = [parent._data for parent in node.parents]
    try:
        return prim.vjp(g, node._data, *datas, **node.params)
    except FLOAT_ERRORS:
        shares = prim.vjp(np.float64(g), np.float64(node._data), *map(np.float64, datas),
                          **node.params)
        return tuple(None if share is None else float(share) for share in shares)


def accumulate(node: Value, g: Any) -> None:
    """Add this pass's gradient to `node.grad` (what `backward()` does at every node)."""
    if node._grad is None:  # a tensor's first gradient; each node owns its own array
        node._grad = g.copy() if type(g) is np.ndarray else g
    else:
        node._grad = node._grad + g


def initial_gradient(root: Value, gradient: Any, create_graph: bool = False) -> Any:
    """The gradient a backward pass from `root` starts from, checked as `backward()` does."""
    if not root.requires_grad:
        raise ValueError("backward() on a Value that does not require grad: it was made from "
                         "constants only, or inside no_grad()")
    if gradient is None:
        if root.shape != ():
            raise ValueError(
                f"backward() on a tensor of shape {root.shape} needs gradient=, an array of that "
                "shape (d(something)/d(root)); call .sum() first to backpropagate a scalar")
        seed: Any = 1.0
    else:
        seed = gradient._data if isinstance(gradient, Value) else as_data(gradient, "gradient")
        if shape_of(seed) != root.shape:
            raise ValueError(f"backward(): gradient has shape {shape_of(seed)}, but the root "
                             f"has shape {root.shape}; they must match")
        if isinstance(seed, np.ndarray):
            seed = seed.copy()
    if create_graph:
        seed = gradient if isinstance(gradient, Value) else Value(seed, requires_grad=False)
    return seed


# --------------------------------------------------------------------------------------------
# 5. Functional gradients
# --------------------------------------------------------------------------------------------


def gradients(output: Value, inputs: Sequence[Value], *, create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, without touching any `.grad` (cf. torch.autograd.grad).

    >>> x = Value(3.0)
    >>> gradients(x ** 2, [x])
    [6.0]
    """
    captured: dict[Value, Any] = dict.fromkeys(inputs)

    def capture(node: Value, g: Any) -> None:
        if node in captured:
            captured[node] = g

    if output.requires_grad:
        seed = initial_gradient(output, None, create_graph)
        backpropagate(output, seed, capture, create_graph=create_graph)
    result = []
    for x in inputs:
        g = captured[x]
        if g is None:
            g = 0.0 if x.shape == () else np.zeros(x.shape)
        if create_graph and not isinstance(g, Value):
            g = Value(g, requires_grad=False)
        result.append(g)
    return result


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The function that computes the gradient of a scalar-valued `f` (as `jax.grad`).

    Given numbers or arrays it returns numbers or arrays; given Values (as happens when it is
    itself differentiated) it returns Values, so `grad(grad(f))` is the second derivative.

    >>> f = lambda x: x ** 3
    >>> grad(f)(2.0), grad(grad(f))(2.0)
    (12.0, 12.0)
    """
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def gradient_of_f(*args: Any) -> Any:
        if max(positions, default=-1) >= len(args):
            raise TypeError(f"grad: argnums={argnums} but the function got {len(args)} arguments")
        values = list(args)
        nested = False
        for i in positions:
            if isinstance(values[i], Value) and values[i].requires_grad:
                nested = True  # differentiating a gradient: keep the graph back to the input
            else:
                values[i] = Value(data_of(values[i]))
        with enable_grad():
            out = f(*values)
        if isinstance(out, int | float | np.integer | np.floating) and not isinstance(out, bool):
            out = constant(float(out))  # a constant function: its gradient is 0 (as jax.grad)
        if not isinstance(out, Value) or out.shape != ():
            shape = out.shape if isinstance(out, Value) else type(out).__name__
            raise TypeError(f"grad: f must return a scalar Value; it returned {shape}")
        grads = gradients(out, [values[i] for i in positions], create_graph=nested)
        return grads[0] if isinstance(argnums, int) else tuple(grads)

    functools.update_wrapper(gradient_of_f, f, assigned=("__module__", "__name__", "__doc__"))
    return gradient_of_f


# --------------------------------------------------------------------------------------------
# 6. Another route for every operation (detect_anomaly, in anomaly.py, checks each result)
# --------------------------------------------------------------------------------------------

_fast_routes = (apply, _operator)


def route_operations(through: Callable[..., Value] | None) -> None:
    """Send every operation through `through` (a wrapper of `apply.__wrapped__`, the
    reference), or back through the fast copies when None."""
    global apply, _operator
    if through is None:
        apply, _operator = _fast_routes
    else:
        apply, _operator = through, _fast_routes[1].__wrapped__  # type: ignore[attr-defined]
    for name, fused in _fused_operators.items():  # Value's operators: the fused or the reference
        setattr(Value, name, fused if through is None else fused.__wrapped__)  # type: ignore


# Value's arithmetic operators, fused for two floats (fast.py); each method of the class stays
# as the fused one's `__wrapped__`.
FUSED = {"__add__": ("add", False), "__radd__": ("add", True),
         "__sub__": ("sub", False), "__rsub__": ("sub", True),
         "__mul__": ("mul", False), "__rmul__": ("mul", True),
         "__truediv__": ("div", False), "__rtruediv__": ("div", True)}
"""The operators fused: method, primitive, reflected (``__rsub__(self, x)`` is ``x - self``)."""
_fused_operators: dict[str, Callable[[Value, Any], Any]] = {
    method: _unrolled.fused(name, reflected, getattr(Value, method))
    for method, (name, reflected) in FUSED.items()}
route_operations(None)  # (installs them)


# The table is written in terms of Value, so it is imported last: the one late import.
from tinygrad_edu import ops  # noqa: E402
