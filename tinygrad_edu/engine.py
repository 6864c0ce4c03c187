"""The computation graph: `Value`, the primitives it is built from, and the backward pass.

A `Value` wraps a Python float (a scalar, as in micrograd) or a float64 numpy array (a tensor).
Every operation on Values is a `Primitive` from the derivative table in `tinygrad_edu.ops`; the
result remembers the primitive and its operands, and `backward()` walks that graph once, from
the root to the leaves, applying each primitive's vector-Jacobian product (its piece of the
chain rule).

Design notes, for the curious:

* A node points only to its operands, never back, and holds no closures: a graph is freed by
  reference counting the moment the last reference to its root goes.
* Nodes are numbered as they are created. An operand is always created before its result, so
  sorting the reachable nodes by that number, newest first, is a topological order: no
  recursion anywhere, and a chain of a million operations backpropagates like any other graph.
* One backward pass computes each node's gradient from scratch and then adds it to `.grad`;
  so gradients accumulate across calls exactly (twice `backward()` gives twice the gradients).

>>> from tinygrad_edu import Value
>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a
>>> c.backward()
>>> c.data, a.grad, b.grad
(-4.0, -2.0, 2.0)
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, TypeAlias, TypeVar

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]
Data: TypeAlias = "float | Array"
"""What a Value holds: a Python float for a scalar, a float64 array for a tensor."""

Operand: TypeAlias = "Value | float | int | Array | Sequence[Any]"
"""Anything an operator accepts on its other side: a Value, a number or array-like data."""

Rule = Callable[..., tuple[Any, ...]]
F = TypeVar("F", bound=Callable[..., Any])

_FLOAT_ERRORS = (ZeroDivisionError, OverflowError, ValueError)


class OpError(ValueError):
    """An operation was given operands it cannot work with (the message says which and why)."""


# --------------------------------------------------------------------------------------------
# Primitives: an operation together with its derivative
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation of the engine: its forward computation and its vector-Jacobian product.

    `forward(*datas, **params)` computes the result from floats or float64 arrays.
    `vjp(g, out, *inputs, **params)` returns one gradient per input (or None where an input gets
    no gradient), given the upstream gradient `g` and the result `out`. It is written in the
    operator algebra, so the same rule runs on raw floats/arrays (a fast first-order pass) and
    on Values (a recorded pass, for second and higher derivatives).

    The remaining fields describe the op to the graph pictures and to the test-suite:
    `label` is what a graph shows (`caption` formats it with the params), `elementwise` says
    the generic tests may feed it random broadcastable tensors, `domain` bounds each input's
    test values, `kinks` are the points where the derivative jumps (tested exactly there and
    avoided by the finite differences), `examples` lists params to test it with.
    A rule whose gradients are costly (matmul) sets `needs_mask` and receives
    ``needs=(bool, ...)``, saying which inputs need a gradient at all. `text` is the rule
    in words, as the step-by-step backprop pictures show it (``∂out/∂a = b``), with
    ``{param}`` placeholders.
    """

    name: str
    forward: Callable[..., Any]
    vjp: Rule
    label: str = ""
    elementwise: bool = False
    domain: tuple[tuple[float, float], ...] = ()
    kinks: tuple[float, ...] = ()
    examples: tuple[dict[str, Any], ...] = ({},)
    needs_mask: bool = False
    text: str = ""
    caption: Callable[[dict[str, Any]], str] | None = field(default=None, repr=False)

    def __call__(self, *args: Any, **params: Any) -> Any:
        """Apply to Values (recording a node) or to raw floats/arrays (just computing)."""
        for arg in args:
            if isinstance(arg, Value):
                return apply(self, *args, **params)
        return self.forward(*args, **params)

    def describe(self, params: dict[str, Any] | None) -> str:
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


def primitive(
    name: str,
    forward: Callable[..., Any],
    vjp: Rule,
    **info: Any,
) -> Primitive:
    """Declare a primitive and add it to `REGISTRY` (names are unique)."""
    if name in REGISTRY:
        raise ValueError(f"a primitive named {name!r} is already registered")
    prim = Primitive(name, forward, vjp, **info)
    REGISTRY[name] = prim
    return prim


# --------------------------------------------------------------------------------------------
# Recording switch
# --------------------------------------------------------------------------------------------

_grad_enabled = True


class no_grad:  # noqa: N801  (lower case, as torch.no_grad: it reads as a statement)
    """Record no graph inside: results have no parents and `requires_grad=False`.

    Works as a context manager and as a decorator (``@no_grad()`` or ``@no_grad``).

    >>> from tinygrad_edu import Value, no_grad
    >>> w = Value(3.0)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is not None:  # used bare, as @no_grad
            return cls()(func)
        return super().__new__(cls)

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _enable_grad:  # noqa: N801
    """Record a graph even inside `no_grad` (used while recording a backward pass)."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = True

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


# --------------------------------------------------------------------------------------------
# Converting user data
# --------------------------------------------------------------------------------------------


def _describe(data: object) -> str:
    text = repr(data)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} (type {type(data).__name__})"


def as_data(data: object, what: str = "Value data") -> Data:
    """Convert user data to a Python float (scalar) or a float64 array (tensor), or refuse it.

    >>> as_data(3), as_data([[1, 2]])
    (3.0, array([[1., 2.]]))
    """
    if type(data) is float:
        return data
    if isinstance(data, Value):
        raise TypeError(
            f"{what} must be a number, a (nested) list or a numpy array, not a Value; "
            "use value.data to copy its data, or use the Value itself"
        )
    if isinstance(data, bool | int | float | np.integer | np.floating | np.bool_):
        try:
            return float(data)
        except OverflowError:
            raise ValueError(f"{what}: {_describe(data)} is too large for a float") from None
    if isinstance(data, str | bytes) or data is None:
        raise TypeError(
            f"{what} must be a number, a (nested) list or a numpy array of numbers; "
            f"got {_describe(data)}"
        )
    if isinstance(data, np.ndarray | list | tuple):
        try:
            array = np.array(data)
        except ValueError as error:
            raise ValueError(
                f"{what} must be a rectangular (nested) list of numbers; got a ragged one: "
                f"{_describe(data)}"
            ) from error
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{what} must hold numbers only; got an array of dtype {array.dtype} "
                f"from {_describe(data)}"
            )
        array = array.astype(np.float64, copy=False)
        if array.ndim == 0:
            return float(array)
        return array
    raise TypeError(
        f"{what} must be a number, a (nested) list or a numpy array; got {_describe(data)}"
    )


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, a Value or a number (``()``)."""
    shape: tuple[int, ...] = getattr(x, "shape", ())
    return shape


# --------------------------------------------------------------------------------------------
# Value
# --------------------------------------------------------------------------------------------

_next_id = itertools.count().__next__


class Value:
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

    __slots__ = (
        "__weakref__",
        "_a",
        "_b",
        "_g",
        "_grad",
        "_id",
        "_more",
        "_params",
        "_prim",
        "data",
        "label",
        "requires_grad",
    )
    __array_ufunc__ = None  # numpy defers to Value's reflected operators (array * Value)

    data: Data
    label: str
    requires_grad: bool
    _grad: Any
    _prim: Primitive | None
    # the operands, kept in slots rather than a tuple (one object less per node for the
    # garbage collector to track): _a and _b for up to two, _more for all of three or more
    _a: Value | None
    _b: Value | None
    _more: tuple[Value, ...] | None
    _params: dict[str, Any] | None
    _id: int
    _g: Any

    def __init__(self, data: object, label: str = "", requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a string; got {_describe(label)}")
        _init_leaf(self, as_data(data), bool(requires_grad))
        self.label = label

    # ---- the gradient --------------------------------------------------------------------

    @property
    def grad(self) -> Any:
        """d(root)/d(self), summed over every `backward()` call since the last `zero_grad()`.

        A float for a scalar, an array of `self.shape` for a tensor; a Value after
        `backward(create_graph=True)`.
        """
        if self._grad is None:
            self._grad = 0.0 if type(self.data) is float else np.zeros_like(self.data)
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self.zero_grad()
        elif isinstance(value, Value):
            self._grad = value
        else:
            grad = as_data(value, "grad")
            if shape_of(grad) != self.shape:
                raise ValueError(f"grad must have shape {self.shape}; got {shape_of(grad)}")
            self._grad = grad

    def zero_grad(self) -> None:
        """Reset `.grad` to zero."""
        self._grad = 0.0 if type(self.data) is float else None

    # ---- shape and data ------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of `.data`; ``()`` for a scalar."""
        return shape_of(self.data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def item(self) -> float:
        """The single number this Value holds, as a Python float."""
        data: Any = self.data
        if type(data) is float:
            return data
        if data.size != 1:
            raise ValueError(f"item() needs a Value with one element; this one has shape "
                             f"{self.shape}")
        return float(data.reshape(()))

    def numpy(self) -> Array:
        """A copy of `.data` as a float64 array (0-d for a scalar)."""
        return np.array(self.data, dtype=np.float64)

    def __float__(self) -> float:
        return self.item()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"the truth value of a Value of shape {self.shape} is ambiguous; "
                             "use (v > 0).any() or (v > 0).all() on its comparisons")
        return bool(self.item() != 0.0)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar Value: it has no first axis")
        return self.shape[0]

    def __iter__(self) -> Iterator[Value]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        if type(self.data) is float:
            return f"Value(data={self.data!r}, grad={self._grad!r})"
        options: dict[str, Any] = {"threshold": 8, "edgeitems": 2, "precision": 4}
        data = np.array2string(np.asarray(self.data), separator=", ", **options).replace("\n", "")
        grad = self.grad if not isinstance(self._grad, Value) else self._grad.data
        grad_text = np.array2string(np.asarray(grad), separator=", ", **options)
        return f"Value(shape={self.shape}, data={data}, grad={grad_text.replace(chr(10), '')})"

    # micrograd's names for the graph structure, so its drawing code works unchanged
    @property
    def _op(self) -> str:
        return "" if self._prim is None else self._prim.describe(self._params)

    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    @property
    def op(self) -> Primitive | None:
        """The primitive that produced this Value, or None for a leaf."""
        return self._prim

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (`a*a` lists `a` twice)."""
        if self._more is not None:
            return self._more
        if self._b is not None:
            return (self._a, self._b)  # type: ignore[return-value]
        return () if self._a is None else (self._a,)

    @property
    def params(self) -> dict[str, Any]:
        """The non-differentiable arguments of the op (an axis, an exponent, ...)."""
        return dict(self._params or {})

    @property
    def is_leaf(self) -> bool:
        return self._prim is None

    # ---- arithmetic ------------------------------------------------------------------------

    # An operand of another type (a string, None, ...) gives NotImplemented, so Python says
    # "unsupported operand type(s)" (or lets that type's own reflected operator answer).
    def __add__(self, other: Operand) -> Value:
        return _binary(_ops.ADD, self, other)

    def __radd__(self, other: Operand) -> Value:
        return _reflected(_ops.ADD, other, self)

    def __sub__(self, other: Operand) -> Value:
        return _binary(_ops.SUB, self, other)

    def __rsub__(self, other: Operand) -> Value:
        return _reflected(_ops.SUB, other, self)

    def __mul__(self, other: Operand) -> Value:
        return _binary(_ops.MUL, self, other)

    def __rmul__(self, other: Operand) -> Value:
        return _reflected(_ops.MUL, other, self)

    def __truediv__(self, other: Operand) -> Value:
        return _binary(_ops.DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return _reflected(_ops.DIV, other, self)

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, bool | int | float | np.integer | np.floating):
            return apply(_ops.POW, self, exponent=float(exponent))
        return _binary(_ops.POWER, self, exponent)

    def __rpow__(self, base: Operand) -> Value:
        return _reflected(_ops.POWER, base, self)

    def __neg__(self) -> Value:
        return apply(_ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __matmul__(self, other: Operand) -> Value:
        return _binary(_ops.MATMUL, self, other)

    def __rmatmul__(self, other: Operand) -> Value:
        return _reflected(_ops.MATMUL, other, self)

    # comparisons look at the data and carry no gradient (as in PyTorch); == stays identity,
    # so Values can be dictionary keys and set members
    def __lt__(self, other: Operand) -> Any:
        return self.data < data_of(other)

    def __le__(self, other: Operand) -> Any:
        return self.data <= data_of(other)

    def __gt__(self, other: Operand) -> Any:
        return self.data > data_of(other)

    def __ge__(self, other: Operand) -> Any:
        return self.data >= data_of(other)

    __hash__ = object.__hash__

    # ---- elementwise functions -------------------------------------------------------------

    def exp(self) -> Value:
        """e ** self."""
        return apply(_ops.EXP, self)

    def log(self) -> Value:
        """Natural logarithm."""
        return apply(_ops.LOG, self)

    def sqrt(self) -> Value:
        """Square root."""
        return apply(_ops.SQRT, self)

    def abs(self) -> Value:
        """|self|; its derivative at 0 is taken to be 0."""
        return apply(_ops.ABS, self)

    __abs__ = abs

    # ---- activations (tinygrad_edu.activations) --------------------------------------------

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e⁻ˣ)."""
        return apply(_ops.SIGMOID, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return apply(_ops.TANH, self)

    def step(self) -> Value:
        """Heaviside step, 1 if x > 0 else 0 (no gradient)."""
        return _act.step(self)

    def relu(self) -> Value:
        """max(0, x)."""
        return apply(_ops.RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """x if x > 0 else negative_slope·x."""
        return _act.leaky_relu(self, negative_slope)

    def elu(self, alpha: float = 1.0) -> Value:
        """x if x > 0 else α(eˣ − 1)."""
        return _act.elu(self, alpha)

    def selu(self) -> Value:
        """λ·elu(x, α), self-normalising."""
        return _act.selu(self)

    def softplus(self) -> Value:
        """log(1 + eˣ)."""
        return _act.softplus(self)

    def silu(self) -> Value:
        """x·σ(x)."""
        return _act.silu(self)

    def gelu(self) -> Value:
        """x·Φ(x)."""
        return _act.gelu(self)

    # ---- reductions and shape ------------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Sum over `axis` (all axes when None), as `numpy.sum`."""
        return apply(_ops.SUM, self, axis=_ops.normalize_axis(axis, self.ndim, "sum"),
                     keepdims=bool(keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Mean over `axis` (all axes when None): the sum divided by the number of terms."""
        axes = _ops.normalize_axis(axis, self.ndim, "mean")
        count = self.size if axes is None else math.prod(self.shape[a] for a in axes)
        return self.sum(axes, keepdims) / float(count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Largest element over `axis`; tied maxima share the gradient evenly."""
        if self.size == 0:
            raise ValueError("max() of an empty Value: there is no maximum")
        return apply(_ops.MAX, self, axis=_ops.normalize_axis(axis, self.ndim, "max"),
                     keepdims=bool(keepdims))

    def reshape(self, *shape: Any) -> Value:
        """The same elements in a new shape (one dimension may be -1), as `numpy.reshape`."""
        one_sequence = len(shape) == 1 and isinstance(shape[0], tuple | list)
        target = tuple(shape[0]) if one_sequence else shape
        try:
            new_shape = np.empty(self.shape, dtype=np.bool_).reshape(target).shape
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"cannot reshape a Value of shape {self.shape} ({self.size} elements) "
                f"into shape {target}"
            ) from error
        return apply(_ops.RESHAPE, self, shape=new_shape)

    def transpose(self, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), as `numpy.transpose`."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], tuple | list)):
            axes = () if axes[0] is None else tuple(axes[0])
        perm = tuple(range(self.ndim))[::-1] if not axes else tuple(int(a) for a in axes)
        if sorted(a % self.ndim if self.ndim else a for a in perm) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {perm} are not a permutation of the {self.ndim} "
                             f"axes of a Value of shape {self.shape}")
        return apply(_ops.TRANSPOSE, self, axes=tuple(a % self.ndim for a in perm))

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Value:
        if type(self.data) is float:
            raise TypeError("a scalar Value cannot be indexed")
        index = _ops.normalize_index(index)
        data: Any = self.data
        try:
            data[index]
        except IndexError as error:
            raise IndexError(f"cannot index a Value of shape {self.shape} with {index!r}: "
                             f"{error}") from None
        return apply(_ops.GETITEM, self, index=index)

    # ---- backpropagation -----------------------------------------------------------------

    def backward(self, gradient: Any = None, *, create_graph: bool = False) -> None:
        """Add d(self)/d(node) to the `.grad` of every node of the graph that made `self`.

        A scalar root starts from gradient 1; a tensor root needs `gradient` of its shape.
        With ``create_graph=True`` the pass is recorded, so gradients are Values that can be
        differentiated again.
        """
        seed = initial_gradient(self, gradient, create_graph)
        run_backward(self, seed, create_graph=create_graph)


def data_of(x: Any) -> Any:
    """A Value's data; anything else as it is."""
    return x.data if isinstance(x, Value) else x


def constant(data: Any) -> Value:
    """Wrap an operand as a Value that needs no gradient (Values pass through).

    A float64 array is used as it is, not copied (as `torch.as_tensor` does): a batch of
    inputs costs nothing to wrap, but changing it in place before `backward()` changes the
    gradients computed from it.
    """
    kind = type(data)
    if kind is float or kind is int or (kind is np.ndarray and data.dtype == np.float64):
        value = _new_value(Value)
        _init_leaf(value, float(data) if kind is not np.ndarray or not data.ndim else data, False)
        return value
    if isinstance(data, Value):
        return data
    return Value(data, requires_grad=False)


# --------------------------------------------------------------------------------------------
# Recording a node
# --------------------------------------------------------------------------------------------


def _as_result(prim: Primitive, data: Any) -> Data:
    """A forward result as Value data: arrays stay float64 arrays, 0-d results become floats."""
    if type(data) is np.ndarray and data.ndim and data.dtype == np.float64:
        return data
    return as_data(data, f"the result of {prim.name}")


_new_value = object.__new__


def _init_leaf(value: Value, data: Data, requires_grad: bool) -> None:
    """Fill every slot of a new Value as a leaf (`_binary` does the same, inlined)."""
    value.data = data
    value._grad = 0.0 if type(data) is float else None
    value.label = ""
    value.requires_grad = requires_grad
    value._prim = None
    value._params = None
    value._a = value._b = value._more = None
    value._id = _next_id()
    value._g = None


def _new_node(prim: Primitive, data: Any, parents: tuple[Value, ...], params: Any) -> Value:
    """The result of `prim` on `parents`, recorded unless nothing in it needs a gradient."""
    out = _new_value(Value)
    _init_leaf(out, data if type(data) is float else _as_result(prim, data), False)
    if _grad_enabled and (parents[0].requires_grad or any(p.requires_grad for p in parents)):
        out.requires_grad = True
        out._prim = prim
        out._params = params
        out._a = parents[0]
        out._b = parents[1] if len(parents) > 1 else None
        out._more = parents if len(parents) > 2 else None
    return out


def _forward_failed(prim: Primitive, datas: Sequence[Any], params: dict[str, Any],
                    error: Exception) -> Any:
    """Finish a forward computation that Python floats refused, or explain a failure."""
    if isinstance(error, OpError):
        raise error
    if all(type(d) is float for d in datas) and isinstance(error, _FLOAT_ERRORS):
        # Python floats raise where IEEE arithmetic gives inf or nan (1/0, exp(1000), log(-1));
        # numpy follows IEEE, so the result matches the tensor path (and PyTorch)
        with np.errstate(all="ignore"):
            return float(prim.forward(*(np.float64(d) for d in datas), **params))
    shapes = " and ".join(str(shape_of(d)) for d in datas)
    raise ValueError(f"{prim.name}: cannot apply to operands of shapes {shapes}: {error}") from None


def apply(prim: Primitive, *args: Any, **params: Any) -> Value:
    """Apply a primitive to Values (or data, wrapped as constants) and record the result."""
    if len(args) == 1 and type(args[0]) is Value:
        parents: tuple[Value, ...] = args
        datas = [args[0].data]
    else:
        parents = tuple(a if isinstance(a, Value) else constant(a) for a in args)
        datas = [p.data for p in parents]
    try:
        data = prim.forward(*datas, **params)
    except (*_FLOAT_ERRORS, TypeError) as error:
        data = _forward_failed(prim, datas, params, error)
    return _new_node(prim, data, parents, params or None)


_OPERANDS = (Value, float, int, np.ndarray, np.number, np.bool_, list, tuple)


def _reflected(prim: Primitive, a: Any, b: Value) -> Value:
    """`a (op) b` for an `a` that is not a Value: `number * value`, say."""
    if not isinstance(a, _OPERANDS):
        return NotImplemented  # type: ignore[no-any-return]
    return _binary(prim, constant(a), b)


def _binary(prim: Primitive, a: Value, b: Any) -> Value:
    """`apply` for the arithmetic operators, inlined: the scalar training loop runs here."""
    if type(b) is not Value:
        if not isinstance(b, _OPERANDS):
            return NotImplemented  # type: ignore[no-any-return]
        b = constant(b)
    try:
        data = prim.forward(a.data, b.data)
    except _FLOAT_ERRORS as error:
        data = _forward_failed(prim, (a.data, b.data), {}, error)
    out = _new_value(Value)
    if type(data) is float:
        out._grad = 0.0
    else:
        data = _as_result(prim, data)
        out._grad = 0.0 if type(data) is float else None
    out.data = data
    out.label = ""
    out._id = _next_id()
    out._g = None
    if (a.requires_grad or b.requires_grad) and _grad_enabled:
        out.requires_grad = True
        out._prim = prim
        out._a = a
        out._b = b
    else:
        out.requires_grad = False
        out._prim = None
        out._a = out._b = None
    out._more = None
    out._params = None
    return out


# --------------------------------------------------------------------------------------------
# The backward pass
# --------------------------------------------------------------------------------------------

_PENDING = object()  # marks a node collected for the current pass (its `_g` slot)
_by_creation = attrgetter("_id")


def initial_gradient(root: Value, gradient: Any, create_graph: bool = False) -> Any:
    """The gradient a backward pass from `root` starts from, checked as `backward()` does."""
    if not root.requires_grad:
        raise ValueError(
            "backward() on a Value that does not require grad: it was made from constants only, "
            "or inside no_grad()"
        )
    if gradient is None:
        if root.shape != ():
            raise ValueError(
                f"backward() on a tensor of shape {root.shape} needs gradient=, an array of that "
                "shape (d(something)/d(root)); call .sum() first to backpropagate a scalar"
            )
        seed: Any = 1.0
    else:
        seed = gradient.data if isinstance(gradient, Value) else as_data(gradient, "gradient")
        if shape_of(seed) != root.shape:
            raise ValueError(
                f"backward(): gradient has shape {shape_of(seed)}, but the root has shape "
                f"{root.shape}; they must match"
            )
        if isinstance(seed, np.ndarray):
            seed = seed.copy()
    if create_graph:
        seed = gradient if isinstance(gradient, Value) else Value(seed, requires_grad=False)
    return seed


def _collect(root: Value) -> list[Value]:
    """The nodes `root` depends on that need a gradient, newest first, each marked _PENDING.

    Iterative; the mark (the `_g` slot, None between passes) doubles as the visited set.
    """
    root._g = pending = _PENDING
    order = [root]
    stack = [root]
    pop, push, add = stack.pop, stack.append, order.append
    while stack:  # depth first: the order comes out nearly sorted already
        node = pop()
        a = node._a
        if a is None:
            continue
        if node._more is not None:
            for parent in node._more:
                if parent._g is None and parent.requires_grad:
                    parent._g = pending
                    push(parent)
                    add(parent)
            continue
        if a._g is None and a.requires_grad:
            a._g = pending
            push(a)
            add(a)
        b = node._b
        if b is not None and b._g is None and b.requires_grad:
            b._g = pending
            push(b)
            add(b)
    order.sort(key=_by_creation, reverse=True)
    return order


def topological_order(root: Value) -> list[Value]:
    """Every node that `root` depends on and that requires grad, root first, leaves last.

    This is the order in which `backward()` visits them. Iterative: a graph of any depth is
    walked without recursion.
    """
    order = _collect(root)
    for node in order:
        node._g = None
    return order


def _fit(grad: Any, node: Value) -> Any:
    """Reduce a gradient to `node`'s shape: undo numpy broadcasting (the one central place)."""
    data = node.data
    if type(grad) is np.ndarray and type(data) is np.ndarray and grad.shape == data.shape:
        return grad
    return sum_to_shape(grad, shape_of(data))


def sum_to_shape(grad: Any, target: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient (array, float or Value) back down to shape `target`."""
    shape = shape_of(grad)
    if shape != target:
        if not target and not isinstance(grad, Value):
            return float(np.sum(grad))
        if type(grad) is float:
            return np.full(target, grad)
        lead = len(shape) - len(target)
        if lead:
            grad = grad.sum(axis=tuple(range(lead)))
        ones = tuple(i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
        if ones:
            grad = grad.sum(axis=ones, keepdims=True)
    elif not target and not isinstance(grad, Value) and type(grad) is not float:
        grad = float(grad)
    return grad


Hook = Callable[[Value, Any], None]


def run_backward(
    root: Value,
    seed: Any,
    *,
    create_graph: bool = False,
    capture: dict[int, Any] | None = None,
    hook: Hook | None = None,
) -> None:
    """Backpropagate `seed` from `root` through the graph, newest node first.

    By default each node's gradient for this pass is added to its `.grad`. With `capture`
    (a dict from `id(node)` to None) nothing is accumulated: the captured nodes' gradients are
    stored in the dict instead. `hook(node, grad)` is called as each node is processed, in the
    engine's order (the step-by-step pictures use it).
    """
    collecting = gc.isenabled()
    nodes: list[Value] = []
    try:
        gc.disable()  # the pass makes no reference cycles: nothing for the collector to find
        nodes = _collect(root)
        root._g = seed
        # IEEE results (inf, nan) without numpy's warnings, as Python floats give them
        with np.errstate(all="ignore"):
            if create_graph or capture is not None or hook is not None:
                with _enable_grad() if create_graph else contextlib.nullcontext():
                    _general_pass(nodes, create_graph, capture, hook)
            else:
                _fast_pass(nodes)
    finally:
        for node in nodes or [root]:
            node._g = None
        if collecting:
            gc.enable()


def _fast_pass(nodes: list[Value]) -> None:
    """The first-order pass on raw floats and arrays, accumulating into `.grad`.

    The general pass below does the same in a dozen lines; this one unrolls the binary
    operators, which are most of the nodes of a scalar network.
    """
    pending = _PENDING
    owned: set[int] = set()
    for node in nodes:
        g = node._g
        if g is pending:
            continue  # no gradient reached this node (it sits behind a step, say)
        node._g = None
        current = node._grad
        if current is not None:
            node._grad = current + g
        else:  # a tensor's first gradient (its `.grad` is None until then)
            node._grad = _accumulated(current, g, owned, node)
        prim = node._prim
        if prim is None:
            continue
        params = node._params
        a: Any = node._a
        b: Any = node._b
        if params is None and b is not None and node._more is None and not prim.needs_mask:
            try:
                ga, gb = prim.vjp(g, node.data, a.data, b.data)
            except _FLOAT_ERRORS:
                ga, gb = _vjp_ieee(prim, g, node.data, [a.data, b.data], None)
            q = a._g
            if q is not None and ga is not None:
                if type(ga) is not float or type(a.data) is not float:
                    ga = _fit(ga, a)
                a._g = ga if q is pending else q + ga
            q = b._g
            if q is not None and gb is not None:
                if type(gb) is not float or type(b.data) is not float:
                    gb = _fit(gb, b)
                b._g = gb if q is pending else q + gb
            continue
        if b is None:  # one operand: a unary function, a reduction, a reshape, ...
            try:
                (ga,) = prim.vjp(g, node.data, a.data, **(params or {}))
            except _FLOAT_ERRORS:
                (ga,) = _vjp_ieee(prim, g, node.data, [a.data], params)
            _send(ga, a)
            continue
        parents = node.parents
        grads = _raw_rule(prim, g, node, parents, _with_mask(prim, parents, params))
        for parent, pg in zip(parents, grads, strict=True):
            _send(pg, parent)


def _raw_rule(prim: Primitive, g: Any, node: Value, parents: tuple[Value, ...],
              params: dict[str, Any]) -> tuple[Any, ...]:
    """`prim`'s rule on raw data, with IEEE results where Python floats would raise."""
    datas = [p.data for p in parents]
    try:
        return prim.vjp(g, node.data, *datas, **params)
    except _FLOAT_ERRORS:
        return _vjp_ieee(prim, g, node.data, datas, params)


def _send(grad: Any, parent: Value) -> None:
    """Add a node's contribution to `parent`'s gradient for this pass.

    (The binary case of `_fast_pass` does the same inline.)
    """
    q = parent._g
    if q is None or grad is None:
        return  # the parent needs no gradient, or the rule gives it none
    if type(grad) is not float or type(parent.data) is not float:
        grad = _fit(grad, parent)
    parent._g = grad if q is _PENDING else q + grad


def _general_pass(nodes: list[Value], create_graph: bool, capture: dict[int, Any] | None,
                  hook: Hook | None) -> None:
    """The same pass, optionally recorded (Values all the way), captured or watched."""
    owned: set[int] = set()
    for node in nodes:
        g = node._g
        if g is _PENDING:
            continue
        node._g = None
        if hook is not None:
            hook(node, g)
        if capture is None:
            node._grad = _accumulated(node._grad, g, owned, node)
        elif id(node) in capture:
            capture[id(node)] = g
        prim = node._prim
        if prim is None:
            continue
        parents = node.parents
        params = _with_mask(prim, parents, node._params)
        if create_graph:
            grads = prim.vjp(g, node, *parents, **params)
        else:
            grads = _raw_rule(prim, g, node, parents, params)
        for parent, pg in zip(parents, grads, strict=True):
            _send(pg, parent)


def _with_mask(prim: Primitive, parents: tuple[Value, ...],
               params: dict[str, Any] | None) -> dict[str, Any]:
    if not prim.needs_mask:
        return params or {}
    return {**(params or {}), "needs": tuple(p._g is not None for p in parents)}


def _accumulated(current: Any, g: Any, owned: set[int], node: Value) -> Any:
    """`.grad` plus this pass's gradient.

    An in-place change to one node's `.grad` must never change another's. A tensor's first
    gradient is kept as it is when it is a fresh array no other node of this pass has kept
    (`owned` holds their ids). Otherwise a leaf (a parameter, whose gradient an optimizer
    or a learner may edit) gets a copy, and an intermediate node shares the array made
    read-only, so that an edit raises instead of silently changing both (and the large
    arrays of a batched network are not copied for nothing).
    """
    if current is None or (type(current) is float and current == 0.0 and type(g) is not float):
        if isinstance(g, Value) or type(g) is float:
            return g
        # (a fresh array owns its memory; views, like broadcast_to's read-only ones, do not)
        if type(g) is np.ndarray and g.base is None and id(g) not in owned:
            owned.add(id(g))
            return g
        if node._prim is None or type(g) is not np.ndarray or g.dtype != np.float64:
            g = np.array(g, dtype=np.float64)
            owned.add(id(g))
            return g
        g.flags.writeable = False
        return g
    return current + g


def _vjp_ieee(prim: Primitive, g: Any, out: Any, datas: list[Any],
              params: dict[str, Any] | None) -> tuple[Any, ...]:
    """Rerun a rule whose Python-float arithmetic raised, with IEEE semantics (inf/nan)."""
    with np.errstate(all="ignore"):
        grads = prim.vjp(np.float64(g), np.float64(out), *(np.float64(d) for d in datas),
                         **(params or {}))
    return tuple(None if pg is None else float(pg) for pg in grads)


# --------------------------------------------------------------------------------------------
# Functional gradients
# --------------------------------------------------------------------------------------------


def gradients(output: Value, inputs: Sequence[Value], *, create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, without touching any `.grad` (cf. torch.autograd.grad).

    >>> x = Value(3.0)
    >>> gradients(x ** 2, [x])
    [6.0]
    """
    capture: dict[int, Any] = {id(x): None for x in inputs}
    if output.requires_grad:
        seed = initial_gradient(output, None, create_graph)
        run_backward(output, seed, create_graph=create_graph, capture=capture)
    result = []
    for x in inputs:
        g = capture[id(x)]
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

    >>> from tinygrad_edu import grad
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
        with _enable_grad():
            out = f(*values)
        if not isinstance(out, Value) or out.shape != ():
            shape = out.shape if isinstance(out, Value) else type(out).__name__
            raise TypeError(f"grad: f must return a scalar Value; it returned {shape}")
        grads = gradients(out, [values[i] for i in positions], create_graph=nested)
        return grads[0] if isinstance(argnums, int) else tuple(grads)

    functools.update_wrapper(gradient_of_f, f, assigned=("__module__", "__name__", "__doc__"))
    return gradient_of_f


# the table and the activations are written in terms of Value, so they come last
from tinygrad_edu import activations as _act  # noqa: E402
from tinygrad_edu import ops as _ops  # noqa: E402
