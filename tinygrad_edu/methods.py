"""Value's named operations: ``x.exp()``, ``x.relu()``, ``x.sum(axis)``, ``x.reshape(...)``...

Each applies one entry of the derivative table (`ops.py`) by its name, or composes a few;
`Value` (engine.py) inherits them and defines `apply` and the arithmetic operators.

>>> from tinygrad_edu import Value
>>> x = Value([[1.0, -2.0], [3.0, 4.0]])
>>> x.relu().sum(axis=0).data, x.T.reshape(-1).data
(array([4., 4.]), array([ 1.,  3., -2.,  4.]))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu import kernels

if TYPE_CHECKING:
    from tinygrad_edu.engine import Value

__all__ = ["NamedOperations"]


def _flag(keepdims: Any, op: str) -> bool:
    """`keepdims` as a bool: True, False (or an int, as numpy takes); anything else, such as a
    dtype given where numpy's ``sum(a, axis, dtype)`` has it, is refused rather than read as
    True."""
    if not isinstance(keepdims, bool | np.bool_ | int | np.integer):
        raise TypeError(f"{op}: keepdims must be True or False; got {keepdims!r} "
                        f"(type {type(keepdims).__name__})")
    return bool(keepdims)


class NamedOperations:
    """The named operations of a Value (a base class of `Value`)."""

    __slots__ = ()

    if TYPE_CHECKING:  # what these need from Value
        _data: Any  # (`.data`, without handing it out: see tinygrad_edu.changes)
        shape: tuple[int, ...]
        ndim: int
        size: int
        def apply(self, name: str, *others: Any, **params: Any) -> Value: ...
        def __mul__(self, other: Any) -> Value: ...
        def __rmul__(self, other: Any) -> Value: ...
        def __truediv__(self, other: Any) -> Value: ...
        def __sub__(self, other: Any) -> Value: ...

    # ---- elementwise functions and activations (see also tinygrad_edu.activations) ---------

    def exp(self) -> Value:
        """e ** self."""
        return self.apply("exp")

    def log(self) -> Value:
        """Natural logarithm."""
        return self.apply("log")

    def sqrt(self) -> Value:
        """Square root."""
        return self.apply("sqrt")

    def abs(self) -> Value:
        """|self|; its derivative at 0 is taken to be 0."""
        return self.apply("abs")

    __abs__ = abs

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e⁻ˣ)."""
        return self.apply("sigmoid")

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return self.apply("tanh")

    def step(self) -> Value:
        """Heaviside step, 1 if x > 0 else 0 (no gradient)."""
        return self.apply("step")

    def relu(self) -> Value:
        """max(0, x)."""
        return self.apply("relu")

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """x if x > 0 else negative_slope·x."""
        return self.apply("leaky_relu", negative_slope=kernels.checked_number(
            negative_slope, "negative_slope", "leaky_relu"))

    def elu(self, alpha: float = 1.0) -> Value:
        """x if x > 0 else α(eˣ − 1)."""
        return self.apply("elu", alpha=kernels.checked_number(alpha, "alpha", "elu"))

    def selu(self) -> Value:
        """λ·elu(x, α), self-normalising (λ ≈ 1.0507, α ≈ 1.6733)."""
        return kernels.SELU_LAMBDA * self.elu(kernels.SELU_ALPHA)

    def softplus(self) -> Value:
        """log(1 + eˣ)."""
        return self.apply("softplus")

    def silu(self) -> Value:
        """x·σ(x)."""
        return self * self.sigmoid()

    def gelu(self) -> Value:
        """x·Φ(x), Φ the standard normal distribution function."""
        return self * self.apply("normal_cdf")

    # ---- reductions, shapes and indexing -----------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Sum over `axis` (all axes when None), as `numpy.sum`."""
        return self.apply("sum", axis=kernels.normalize_axis(axis, self.ndim, "sum"),
                                     keepdims=_flag(keepdims, "sum"))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Mean over `axis` (all axes when None): the sum divided by the number of terms."""
        axes = kernels.normalize_axis(axis, self.ndim, "mean")
        count = self.size if axes is None else math.prod(self.shape[a] for a in axes)
        return self.sum(axes, _flag(keepdims, "mean")) / float(count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Largest element over `axis`; tied maxima share the gradient evenly."""
        axes = kernels.normalize_axis(axis, self.ndim, "max")
        kernels.check_extremum_axes(self.shape, axes, "max")
        return self.apply("max", axis=axes, keepdims=_flag(keepdims, "max"))

    # ---- the softmax family and the spread: var, std -----------------------------------------

    def logsumexp(self, axis: int | tuple[int, ...] | None = None,
                  keepdims: bool = False) -> Value:
        """log Σ exp(self) over `axis` (all axes when None), without overflow.

        Computed as m + log Σ exp(self − m), m the maximum; d/dx = softmax(x).

        >>> from tinygrad_edu import Value
        >>> round(Value([1e4, 1e4]).logsumexp().data, 6)  # 1e4 + log 2, where exp(1e4) = inf
        10000.693147
        """
        return self.apply("logsumexp", axis=kernels.normalize_axis(axis, self.ndim, "logsumexp"),
                          keepdims=_flag(keepdims, "logsumexp"))

    def softmax(self, axis: int = -1) -> Value:
        """exp(x) / Σ exp(x) along `axis` (the last by default): each slice sums to 1.

        The maximum is subtracted first, so logits of ±1e4 are fine; a slice holding +inf, nan
        or only −inf gives nan, as in PyTorch.

        >>> from tinygrad_edu import Value
        >>> Value([0.0, 0.0, 1e4]).softmax().data.tolist()
        [0.0, 0.0, 1.0]
        """
        return self.apply("softmax", axis=kernels.single_axis(axis, self.ndim, "softmax"))

    def log_softmax(self, axis: int = -1) -> Value:
        """log(softmax(x)) = x − logsumexp(x) along `axis`, exact where softmax underflows.

        >>> from tinygrad_edu import Value
        >>> Value([0.0, -1e4]).log_softmax().data.tolist()
        [0.0, -10000.0]
        """
        return self.apply("log_softmax", axis=kernels.single_axis(axis, self.ndim, "log_softmax"))

    def var(self, axis: int | tuple[int, ...] | None = None, ddof: float = 0,
            keepdims: bool = False) -> Value:
        """Variance over `axis`: Σ (x − mean)² / (n − ddof), a composition of sums.

        `ddof=0` (numpy's default) is the population variance; ``ddof=1`` is the sample
        variance, PyTorch's default (``torch.var(x)`` is ``x.var(ddof=1)``). ddof ≥ n raises.

        >>> from tinygrad_edu import Value
        >>> Value([1.0, 2.0, 3.0, 4.0]).var().data, Value([1.0, 2.0, 3.0, 4.0]).var(ddof=1).data
        (1.25, 1.6666666666666667)
        """
        return self._variance(axis, ddof, keepdims, "var")

    def _variance(self, axis: int | tuple[int, ...] | None, ddof: float, keepdims: bool,
                  who: str) -> Value:
        """`var`, its arguments checked in the name of `who` (var, or std)."""
        axes = kernels.normalize_axis(axis, self.ndim, who)
        count = self.size if axes is None else math.prod(self.shape[a] for a in axes)
        divisor = count - kernels.checked_ddof(ddof, count, who)
        keepdims = _flag(keepdims, who)
        # one element of each slice is subtracted first, a constant (the variance does not
        # change): more accurate, and a constant input gives a variance of exactly 0
        data = self._data
        if self.ndim:
            first = tuple(slice(0, 1) if axes is None or i in axes else slice(None)
                          for i in range(self.ndim))
            shift = data[first].copy()
            with np.errstate(over="ignore", invalid="ignore"):
                # (a slice whose finite elements the shift would overflow, such as 1e308 and
                # −1e308, is not shifted: its variance is then inf, as numpy's and PyTorch's)
                fits = np.isfinite(data - shift) | ~np.isfinite(data)
            shift[~np.all(fits, axis=axes, keepdims=True)] = 0.0
            shifted: Value = self - shift
        else:
            shifted = self - data
        centred = shifted - shifted.mean(axes, keepdims=True)
        return (centred * centred).sum(axes, keepdims) / float(divisor)

    def std(self, axis: int | tuple[int, ...] | None = None, ddof: float = 0,
            keepdims: bool = False) -> Value:
        """Standard deviation, √var(axis, ddof) (see `var` for ddof: numpy's default, 0).

        Where the variance is 0 (a constant slice) √ has no derivative: std there is the tip
        of a cone, like |x| at 0, and its gradient is taken to be 0 (as abs's convention and
        as PyTorch's std), not √'(0)·0 = nan.

        >>> from tinygrad_edu import Value
        >>> x = Value([2.0, 2.0, 2.0])
        >>> x.std().backward()
        >>> x.grad.tolist()
        [0.0, 0.0, 0.0]
        """
        variance = self._variance(axis, ddof, keepdims, "std")
        positive = variance._data != 0.0
        if np.all(positive):
            return variance.sqrt()
        cond = bool(positive) if np.ndim(positive) == 0 else positive
        return variance.apply("where", 1.0, cond=cond).sqrt().apply("where", 0.0, cond=cond)

    # ---- more functions, bounds, reductions and shapes (sin ... broadcast_to) ---------------

    def sin(self) -> Value:
        """sin(x); d/dx = cos(x).

        >>> from tinygrad_edu import Value
        >>> x = Value(0.0)
        >>> x.sin().backward()
        >>> x.grad
        1.0
        """
        return self.apply("sin")

    def cos(self) -> Value:
        """cos(x); d/dx = −sin(x).

        >>> from tinygrad_edu import Value
        >>> Value([0.0, math.pi]).cos().data
        array([ 1., -1.])
        """
        return self.apply("cos")

    def log1p(self) -> Value:
        """log(1 + x), exact for tiny x (where log(1 + x) rounds to 0); d/dx = 1/(1 + x).

        >>> from tinygrad_edu import Value
        >>> Value(1e-20).log1p().data
        1e-20
        """
        return self.apply("log1p")

    def expm1(self) -> Value:
        """eˣ − 1, exact for tiny x (where eˣ − 1 rounds to 0); d/dx = eˣ.

        >>> from tinygrad_edu import Value
        >>> Value(1e-20).expm1().data
        1e-20
        """
        return self.apply("expm1")

    def clip(self, min: float | None = None, max: float | None = None) -> Value:
        """x held within [min, max] (None: no bound on that side), as `torch.clamp`/`numpy.clip`.

        d/dx is 1 inside, 0 outside. Kink convention: exactly at a bound the derivative is
        1 (as PyTorch's clamp, whose mask is min ≤ x ≤ max); at nan it is 0 (PyTorch's).
        Refused: both bounds None, a nan bound, min > max (PyTorch and numpy give max there).

        >>> from tinygrad_edu import Value
        >>> x = Value([-2.0, 0.0, 0.5, 1.0, 3.0])
        >>> x.clip(0.0, 1.0).sum().backward()
        >>> x.grad
        array([0., 1., 1., 1., 0.])
        """
        low, high = kernels.clip_bounds(min, max)
        return self.apply("clip", min=low, max=high)

    clamp = clip

    def maximum(self, other: Any) -> Value:
        """The larger of self and other, elementwise, broadcast (`tinygrad_edu.maximum`).

        Kink convention: where the two are equal the gradient is split evenly, ½ each (as
        `max` splits ties, and as PyTorch's maximum); where either is nan both get it whole.

        >>> from tinygrad_edu import Value
        >>> a, b = Value([1.0, 2.0]), Value([3.0, 2.0])
        >>> a.maximum(b).sum().backward()
        >>> a.grad, b.grad
        (array([0. , 0.5]), array([1. , 0.5]))
        """
        return self.apply("maximum", other)

    def minimum(self, other: Any) -> Value:
        """The smaller of self and other, elementwise, broadcast; ties split the gradient ½/½.

        >>> from tinygrad_edu import Value
        >>> a = Value([1.0, 2.0])
        >>> a.minimum(2.0).sum().backward()
        >>> a.grad
        array([1. , 0.5])
        """
        return self.apply("minimum", other)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Smallest element over `axis` (all axes when None), as `numpy.min`.

        Kink convention: tied minima share the gradient evenly (as `max`, and PyTorch's amin
        and ``min()`` of a whole tensor; PyTorch's ``min(dim)`` gives it all to one element).

        >>> from tinygrad_edu import Value
        >>> x = Value([3.0, 1.0, 1.0])
        >>> x.min().backward()
        >>> x.grad
        array([0. , 0.5, 0.5])
        """
        axes = kernels.normalize_axis(axis, self.ndim, "min")
        kernels.check_extremum_axes(self.shape, axes, "min")
        return self.apply("min", axis=axes, keepdims=_flag(keepdims, "min"))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the largest element, as `numpy.argmax`: of the flattened data (an int)
        when `axis` is None, else an integer array; the first one on ties (and a nan counts as
        the largest). An index has no gradient.

        >>> from tinygrad_edu import Value
        >>> Value([[1.0, 5.0], [7.0, 2.0]]).argmax(), Value([[1.0, 5.0], [7.0, 2.0]]).argmax(1)
        (2, array([1, 0]))
        """
        return kernels.arg_extremum(self._data, axis, _flag(keepdims, "argmax"), "argmax")

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the smallest element, as `numpy.argmin` (see `argmax`).

        >>> from tinygrad_edu import Value
        >>> Value([[1.0, 5.0], [7.0, 2.0]]).argmin(axis=0)
        array([0, 1])
        """
        return kernels.arg_extremum(self._data, axis, _flag(keepdims, "argmin"), "argmin")

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Value:
        """Drop axes of length 1: all of them, or those of `axis` (each must have length 1:
        an error, as in numpy, where PyTorch silently leaves a longer axis). A `reshape`.

        >>> from tinygrad_edu import Value
        >>> Value([[1.0], [2.0]]).squeeze().shape
        (2,)
        """
        return self.apply("reshape", shape=kernels.squeezed_shape(self.shape, axis))

    def unsqueeze(self, axis: int) -> Value:
        """Insert an axis of length 1 at `axis` (−1: last), as PyTorch's. A `reshape`.

        >>> from tinygrad_edu import Value
        >>> Value([1.0, 2.0]).unsqueeze(0).shape, Value([1.0, 2.0]).unsqueeze(-1).shape
        ((1, 2), (2, 1))
        """
        return self.apply("reshape", shape=kernels.unsqueezed_shape(self.shape, axis))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Value:
        """Merge the axes from `start_dim` to `end_dim` (included) into one, as PyTorch's (a
        scalar becomes shape (1,)). A `reshape`.

        >>> from tinygrad_edu import Value
        >>> Value([[[1.0, 2.0]], [[3.0, 4.0]]]).flatten().shape
        (4,)
        >>> Value([[[1.0, 2.0]], [[3.0, 4.0]]]).flatten(1).shape
        (2, 2)
        """
        return self.apply("reshape",
                          shape=kernels.flattened_shape(self.shape, start_dim, end_dim))

    def broadcast_to(self, shape: int | tuple[int, ...]) -> Value:
        """self repeated to `shape` by numpy's broadcasting rules (`tinygrad_edu.broadcast_to`);
        the gradient is summed back over the copies.

        >>> from tinygrad_edu import Value
        >>> x = Value([1.0, 2.0])
        >>> x.broadcast_to((3, 2)).sum().backward()
        >>> x.grad
        array([3., 3.])
        """
        return self.apply("broadcast_to", shape=kernels.broadcast_target(self.shape, shape))

    def reshape(self, *shape: Any, order: str = "C") -> Value:
        """The same elements in a new shape (one dimension may be -1), as `numpy.reshape`, in
        its default order, "C" (the last axis changing fastest), as PyTorch's reshape."""
        if order != "C":
            raise ValueError(f"reshape: only order='C' (numpy's default, PyTorch's only one) "
                             f"is supported; got order={order!r}")
        return self.apply("reshape", shape=kernels.reshape_target(self.shape, shape))

    def transpose(self, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), as `numpy.transpose`."""
        return self.apply("transpose", axes=kernels.permutation(self.shape, axes))

    def swapaxes(self, axis1: int, axis2: int) -> Value:
        """Exchange two axes, as `numpy.swapaxes` and PyTorch's `swapaxes`. A `transpose`.

        >>> from tinygrad_edu import Value
        >>> Value([[[1.0, 2.0, 3.0]]]).swapaxes(0, -1).shape
        (3, 1, 1)
        """
        return self.apply("transpose", axes=kernels.swapped_axes(self.shape, axis1, axis2))

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Value:
        if type(self._data) is float:
            parts = index if isinstance(index, tuple) else (index,)
            if all(part is None or part is Ellipsis for part in parts) and \
                    sum(part is Ellipsis for part in parts) <= 1:
                # a scalar's only indices, as numpy's and PyTorch's: v[()] and v[...]
                # (itself), v[None] (shape (1,)), a new axis per None
                return self.reshape((1,) * parts.count(None))
        return self.apply("getitem", index=kernels.checked_index(self._data, _owned(index)))


def _owned(index: Any) -> Any:
    """`index` with its arrays copied, and a Value in it as a copy of its data (a scalar
    Value as a 0-d array, as an array Value): the graph keeps the index for backward, so a
    change to the user's array afterwards must not move where the gradient goes."""
    if isinstance(index, tuple):
        return tuple(_owned(part) for part in index)
    if isinstance(index, np.ndarray):
        return index.copy()
    if isinstance(index, NamedOperations):  # a Value
        return np.array(index._data)
    return index
