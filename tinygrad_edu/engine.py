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
the tests prove gives exactly what `backpropagate` gives. Two extras close the file:
`detect_anomaly` (6) and pickling (7).

>>> from tinygrad_edu import Value
>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a
>>> c.backward()
>>> c.data, a.grad, b.grad
(-4.0, -2.0, 2.0)
"""

from __future__ import annotations

import functools
import itertools
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

import numpy as np

from tinygrad_edu import fast, kernels
from tinygrad_edu.data import Array, ArrayLike, Data, as_data, data_of, describe, shape_of
from tinygrad_edu.kernels import FLOAT_ERRORS, OpError

Operand: TypeAlias = "Value | float | int | Array | Sequence[Any]"
"""Anything an operator accepts on its other side: a Value, a number or array-like data."""

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["OpError", "Primitive", "Value", "apply", "backpropagate", "detect_anomaly", "grad",
           "gradients", "no_grad", "primitive", "sum_to_shape", "topological_order"]


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

_next_number = itertools.count().__next__  # creation numbers: an operand precedes its result
NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # the params of an op that has none


class Value(ArrayLike):
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

    __slots__ = ("__weakref__", "_all", "_first", "_grad", "_mark", "_number", "_second", "data",
                 "label", "op", "params", "requires_grad")
    __array_ufunc__ = None  # numpy defers to Value's reflected operators (array * Value)

    data: Data
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

    def __init__(self, data: object, label: str = "", requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a string; got {describe(label)}")
        _fill(self, as_data(data), bool(requires_grad))
        self.label = label

    @property
    def grad(self) -> Any:
        """d(root)/d(self), summed over every `backward()` call since the last `zero_grad()`.

        A float for a scalar, an array of `self.shape` for a tensor; a Value after
        `backward(create_graph=True)`.
        """
        if self._grad is None:
            if type(self.data) is float:
                return 0.0
            self._grad = np.zeros_like(self.data)  # kept, so an in-place edit sticks
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
        self._grad = 0.0 if type(self.data) is float else None

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
                fast.backward(self, seed, sum_to_shape, REGISTRY)

    # ---- elementwise functions and activations (see also tinygrad_edu.activations) ---------

    def exp(self) -> Value:
        """e ** self."""
        return apply(ops.EXP, self)

    def log(self) -> Value:
        """Natural logarithm."""
        return apply(ops.LOG, self)

    def sqrt(self) -> Value:
        """Square root."""
        return apply(ops.SQRT, self)

    def abs(self) -> Value:
        """|self|; its derivative at 0 is taken to be 0."""
        return apply(ops.ABS, self)

    __abs__ = abs

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e⁻ˣ)."""
        return apply(ops.SIGMOID, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return apply(ops.TANH, self)

    def step(self) -> Value:
        """Heaviside step, 1 if x > 0 else 0 (no gradient)."""
        return apply(ops.STEP, self)

    def relu(self) -> Value:
        """max(0, x)."""
        return apply(ops.RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """x if x > 0 else negative_slope·x."""
        return apply(ops.LEAKY_RELU, self, negative_slope=float(negative_slope))

    def elu(self, alpha: float = 1.0) -> Value:
        """x if x > 0 else α(eˣ − 1)."""
        return apply(ops.ELU, self, alpha=float(alpha))

    def selu(self) -> Value:
        """λ·elu(x, α), self-normalising (λ ≈ 1.0507, α ≈ 1.6733)."""
        return kernels.SELU_LAMBDA * self.elu(kernels.SELU_ALPHA)

    def softplus(self) -> Value:
        """log(1 + eˣ)."""
        return apply(ops.SOFTPLUS, self)

    def silu(self) -> Value:
        """x·σ(x)."""
        return self * self.sigmoid()

    def gelu(self) -> Value:
        """x·Φ(x), Φ the standard normal distribution function."""
        return self * apply(ops.NORMAL_CDF, self)

    # ---- reductions, shapes and indexing -----------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Sum over `axis` (all axes when None), as `numpy.sum`."""
        return apply(ops.SUM, self, axis=kernels.normalize_axis(axis, self.ndim, "sum"),
                     keepdims=bool(keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Mean over `axis` (all axes when None): the sum divided by the number of terms."""
        axes = kernels.normalize_axis(axis, self.ndim, "mean")
        count = self.size if axes is None else math.prod(self.shape[a] for a in axes)
        return self.sum(axes, keepdims) / float(count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Largest element over `axis`; tied maxima share the gradient evenly."""
        if self.size == 0:
            raise ValueError("max() of an empty Value: there is no maximum")
        return apply(ops.MAX, self, axis=kernels.normalize_axis(axis, self.ndim, "max"),
                     keepdims=bool(keepdims))

    def reshape(self, *shape: Any) -> Value:
        """The same elements in a new shape (one dimension may be -1), as `numpy.reshape`."""
        return apply(ops.RESHAPE, self, shape=kernels.reshape_target(self.shape, shape))

    def transpose(self, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), as `numpy.transpose`."""
        return apply(ops.TRANSPOSE, self, axes=kernels.permutation(self.shape, axes))

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Value:
        return apply(ops.GETITEM, self, index=kernels.checked_index(self.data, index))

    # ---- more functions, bounds, reductions and shapes (sin ... detach) ----------------------

    def sin(self) -> Value:
        """sin(x); d/dx = cos(x).

        >>> x = Value(0.0)
        >>> x.sin().backward()
        >>> x.grad
        1.0
        """
        return apply(ops.SIN, self)

    def cos(self) -> Value:
        """cos(x); d/dx = −sin(x).

        >>> Value([0.0, math.pi]).cos().data
        array([ 1., -1.])
        """
        return apply(ops.COS, self)

    def log1p(self) -> Value:
        """log(1 + x), exact for tiny x (where log(1 + x) rounds to 0); d/dx = 1/(1 + x).

        >>> Value(1e-20).log1p().data
        1e-20
        """
        return apply(ops.LOG1P, self)

    def expm1(self) -> Value:
        """eˣ − 1, exact for tiny x (where eˣ − 1 rounds to 0); d/dx = eˣ.

        >>> Value(1e-20).expm1().data
        1e-20
        """
        return apply(ops.EXPM1, self)

    def clip(self, min: float | None = None, max: float | None = None) -> Value:
        """x held within [min, max] (None: no bound on that side), as `torch.clamp`/`numpy.clip`.

        d/dx is 1 inside, 0 outside. Kink convention: exactly at a bound the derivative is
        1 (as PyTorch's clamp, whose mask is min ≤ x ≤ max); at nan it is 0 (PyTorch's).
        Refused: both bounds None, a nan bound, min > max (PyTorch and numpy give max there).

        >>> x = Value([-2.0, 0.0, 0.5, 1.0, 3.0])
        >>> x.clip(0.0, 1.0).sum().backward()
        >>> x.grad
        array([0., 1., 1., 1., 0.])
        """
        low, high = kernels.clip_bounds(min, max)
        return apply(ops.CLIP, self, min=low, max=high)

    clamp = clip

    def maximum(self, other: Operand) -> Value:
        """The larger of self and other, elementwise, broadcast (`tinygrad_edu.maximum`).

        Kink convention: where the two are equal the gradient is split evenly, ½ each (as
        `max` splits ties, and as PyTorch's maximum); where either is nan both get it whole.

        >>> a, b = Value([1.0, 2.0]), Value([3.0, 2.0])
        >>> a.maximum(b).sum().backward()
        >>> a.grad, b.grad
        (array([0. , 0.5]), array([1. , 0.5]))
        """
        return apply(ops.MAXIMUM, self, other)

    def minimum(self, other: Operand) -> Value:
        """The smaller of self and other, elementwise, broadcast; ties split the gradient ½/½.

        >>> a = Value([1.0, 2.0])
        >>> a.minimum(2.0).sum().backward()
        >>> a.grad
        array([1. , 0.5])
        """
        return apply(ops.MINIMUM, self, other)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Smallest element over `axis` (all axes when None), as `numpy.min`.

        Kink convention: tied minima share the gradient evenly (as `max`, and PyTorch's amin;
        PyTorch's ``min()`` of a whole tensor gives it all to one element).

        >>> x = Value([3.0, 1.0, 1.0])
        >>> x.min().backward()
        >>> x.grad
        array([0. , 0.5, 0.5])
        """
        if self.size == 0:
            raise ValueError("min() of an empty Value: there is no minimum")
        return apply(ops.MIN, self, axis=kernels.normalize_axis(axis, self.ndim, "min"),
                     keepdims=bool(keepdims))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the largest element, as `numpy.argmax`: of the flattened data (an int)
        when `axis` is None, else an integer array; the first one on ties (and a nan counts as
        the largest). An index has no gradient.

        >>> Value([[1.0, 5.0], [7.0, 2.0]]).argmax(), Value([[1.0, 5.0], [7.0, 2.0]]).argmax(1)
        (2, array([1, 0]))
        """
        return kernels.arg_extremum(self.data, axis, keepdims, "argmax")

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the smallest element, as `numpy.argmin` (see `argmax`).

        >>> Value([[1.0, 5.0], [7.0, 2.0]]).argmin(axis=0)
        array([0, 1])
        """
        return kernels.arg_extremum(self.data, axis, keepdims, "argmin")

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Value:
        """Drop axes of length 1: all of them, or those of `axis` (each must have length 1:
        an error, as in numpy, where PyTorch silently leaves a longer axis). A `reshape`.

        >>> Value([[1.0], [2.0]]).squeeze().shape
        (2,)
        """
        return apply(ops.RESHAPE, self, shape=kernels.squeezed_shape(self.shape, axis))

    def unsqueeze(self, axis: int) -> Value:
        """Insert an axis of length 1 at `axis` (−1: last), as PyTorch's. A `reshape`.

        >>> Value([1.0, 2.0]).unsqueeze(0).shape, Value([1.0, 2.0]).unsqueeze(-1).shape
        ((1, 2), (2, 1))
        """
        return apply(ops.RESHAPE, self, shape=kernels.unsqueezed_shape(self.shape, axis))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Value:
        """Merge the axes from `start_dim` to `end_dim` (included) into one, as PyTorch's (a
        scalar becomes shape (1,)). A `reshape`.

        >>> Value([[[1.0, 2.0]], [[3.0, 4.0]]]).flatten().shape
        (4,)
        >>> Value([[[1.0, 2.0]], [[3.0, 4.0]]]).flatten(1).shape
        (2, 2)
        """
        return apply(ops.RESHAPE, self,
                     shape=kernels.flattened_shape(self.shape, start_dim, end_dim))

    def broadcast_to(self, shape: int | tuple[int, ...]) -> Value:
        """self repeated to `shape` by numpy's broadcasting rules (`tinygrad_edu.broadcast_to`);
        the gradient is summed back over the copies.

        >>> x = Value([1.0, 2.0])
        >>> x.broadcast_to((3, 2)).sum().backward()
        >>> x.grad
        array([3., 3.])
        """
        return apply(ops.BROADCAST_TO, self, shape=kernels.broadcast_target(self.shape, shape))

    def detach(self) -> Value:
        """A new leaf with the same data, outside any graph: a constant (``requires_grad``
        False), as PyTorch's. A tensor's array is shared, not copied (as in PyTorch).

        >>> w = Value(3.0)
        >>> y = (w * w).detach() * w
        >>> y.backward()
        >>> y.data, w.grad
        (27.0, 9.0)
        """
        return _fill(Value.__new__(Value), self.data, False)

    # ---- (shape, ndim, size, item(), numpy(), len(), comparisons: see data.ArrayLike)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        if type(self.data) is float:
            return f"Value(data={self.data!r}, grad={self.grad!r}{label})"
        options: dict[str, Any] = {"threshold": 8, "edgeitems": 2, "precision": 4}
        data = np.array2string(np.asarray(self.data), separator=", ", **options)
        grad = self._grad.data if isinstance(self._grad, Value) else self.grad
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

    # ---- pickle and copy (see section 7) -----------------------------------------------------

    def __reduce_ex__(self, protocol: Any) -> Any:
        table = _tables_in_use.get(id(self))
        if table is None:
            table = _GraphTable(self)
        return _node_of, (table, table.index[id(self)])

    def __copy__(self) -> Value:
        """A new node with the same data, gradient, operation and operands."""
        copy = _fill(Value.__new__(Value), self.data, self.requires_grad, self.op, self.parents,
                     self.params)
        copy.label, copy._grad = self.label, self._grad
        return copy


# --------------------------------------------------------------------------------------------
# New Values
# --------------------------------------------------------------------------------------------


def _fill(value: Value, data: Data, requires_grad: bool, op: Primitive | None = None,
          parents: tuple[Value, ...] = (), params: Mapping[str, Any] = NO_PARAMS) -> Value:
    """Fill every slot of a new Value."""
    value.data = data
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
        return _fill(Value.__new__(Value), float(data), False)
    if kind is np.ndarray and data.dtype == np.float64 and data.ndim:
        return _fill(Value.__new__(Value), data, False)
    return data if isinstance(data, Value) else Value(data, requires_grad=False)


# --------------------------------------------------------------------------------------------
# 3. Applying a primitive: the forward pass, recorded
# --------------------------------------------------------------------------------------------


_unrolled = fast.Unrolled(Value, _next_number, is_grad_enabled, NO_PARAMS, REGISTRY)


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
    datas = [parent.data for parent in parents]
    try:
        data = prim.forward(*datas, **params)
    except (*FLOAT_ERRORS, TypeError) as error:
        data = _forward_failed(prim, datas, params, error)
    if type(data) is not float:
        data = _as_result(prim, data)
    if _grad_enabled and any(parent.requires_grad for parent in parents):
        return _fill(Value.__new__(Value), data, True, prim, parents, params)
    return _fill(Value.__new__(Value), data, False)


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
    with np.errstate(all="ignore"), enable_grad() if create_graph else no_grad():
        for node in topological_order(root):
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
    datas = [parent.data for parent in node.parents]
    try:
        return prim.vjp(g, node.data, *datas, **node.params)
    except FLOAT_ERRORS:
        shares = prim.vjp(np.float64(g), np.float64(node.data), *map(np.float64, datas),
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
        seed = gradient.data if isinstance(gradient, Value) else as_data(gradient, "gradient")
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
# 6. Finding the first nan or inf (opt-in)
# --------------------------------------------------------------------------------------------


class detect_anomaly:  # noqa: N801  (lower case, as torch.autograd.detect_anomaly)
    """Raise `FloatingPointError` at the first operation whose result holds nan or inf.

    Off by default (results are silent IEEE, as in PyTorch). Inside, every operation runs
    through the reference `apply`, which checks its result and names the op and its operands.
    A context manager and a decorator (``@detect_anomaly()``).

    >>> x = Value(-1.0, label="x")
    >>> with detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    FloatingPointError: detect_anomaly: log gave nan, from x (a scalar)
    """

    _depth = 0

    def __enter__(self) -> None:
        global apply, _operator
        if detect_anomaly._depth == 0:  # the checked reference replaces the fast copies
            apply, _operator = _checked_apply, _reference_operator
        detect_anomaly._depth += 1

    def __exit__(self, *exc: object) -> None:
        global apply, _operator
        detect_anomaly._depth -= 1
        if detect_anomaly._depth == 0:
            apply, _operator = _fast_apply, _fast_operator

    def __call__(self, func: F) -> F:
        """As a decorator: the function runs inside (as torch.autograd.detect_anomaly)."""
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _checked_apply(prim: Primitive, *args: Any, **params: Any) -> Value:
    """The reference `apply`, raising when the result holds nan or inf (detect_anomaly)."""
    out = _reference_apply(prim, *args, **params)
    data = out.data
    bad = (not math.isfinite(data)) if type(data) is float else not np.isfinite(data).all()
    if bad:
        kind = "nan" if np.isnan(data).any() else "inf"
        operands = ", ".join(_operand_text(arg) for arg in args)
        raise FloatingPointError(f"detect_anomaly: {prim.describe(params)} gave {kind}, from "
                                 f"{operands}")
    return out


def _operand_text(arg: Any) -> str:
    if not isinstance(arg, Value):
        return f"the constant {describe(arg)}"
    name = arg.label or "an unlabelled Value"
    shape = "a scalar" if arg.shape == () else f"shape {arg.shape}"
    made = f", made by {arg.op.name}" if arg.op is not None else ""
    return f"{name} ({shape}{made})"


_fast_apply, _fast_operator = apply, _operator
_reference_apply: Callable[..., Value] = apply.__wrapped__  # type: ignore[attr-defined]
_reference_operator: Callable[..., Value] = _operator.__wrapped__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# 7. Values as Python objects: a graph pickles (and deep-copies) as one flat table
# --------------------------------------------------------------------------------------------


class _GraphTable:
    """The nodes behind a Value, oldest first, for one `pickle.dumps` or `copy.deepcopy`.

    Pickling each node with its operands would recurse once per step of the graph; the table
    pickles as a flat list of rows instead, each naming its operands by their place in the
    list, so a graph of any depth works. A node already in another table in use (a shared
    leaf pickled with an earlier Value) is named as that Value, so sharing survives.
    """

    __slots__ = ("__weakref__", "index", "nodes")

    def __init__(self, value: Value) -> None:
        self.nodes = [node for node in reversed(topological_order(value, constants=True))
                      if node is value or id(node) not in _tables_in_use]
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        for node in self.nodes:
            _tables_in_use[id(node)] = self

    def __reduce__(self) -> Any:
        index = self.index
        rows = [(node.data, node._grad, node.label, node.requires_grad, node.op,
                 dict(node.params), tuple(index.get(id(p), p) for p in node.parents))
                for node in self.nodes]
        return _rebuild_graph, (rows,)


# a table lives as long as the pickler (or deepcopy) using it holds it
_tables_in_use: weakref.WeakValueDictionary[int, _GraphTable] = weakref.WeakValueDictionary()


def _rebuild_graph(rows: list[tuple[Any, ...]]) -> list[Value]:
    """The nodes of a pickled table, new, in the same order (so their creation numbers are)."""
    nodes: list[Value] = []
    for data, grad_, label, requires_grad, op, params, parents in rows:
        operands = tuple(nodes[p] if type(p) is int else p for p in parents)
        node = _fill(Value.__new__(Value), data, requires_grad, op, operands, params or NO_PARAMS)
        node.label, node._grad = label, grad_
        nodes.append(node)
    return nodes


def _node_of(table: list[Value] | _GraphTable, i: int) -> Value:
    return table.nodes[i] if isinstance(table, _GraphTable) else table[i]


# The table is written in terms of Value, so it is imported last: the one late import.
from tinygrad_edu import ops  # noqa: E402
