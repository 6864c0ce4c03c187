"""The numbers behind the derivative table: forward computations and argument checks.

Each forward takes Python floats (a scalar Value's data) or float64 arrays (a tensor's) and
returns the same kind. Floats take the `math` path (fast, and exact where `math` is), arrays
the numpy one; both are stable over the whole float range. Nothing here knows about Values
or gradients: this module imports numpy only.

>>> sigmoid(0.0), sigmoid(np.array([-800.0, 800.0]))
(0.5, array([0., 1.]))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_erfc_array = np.frompyfunc(math.erfc, 1, 1)
_MINUS_INF = -math.inf

# Silent IEEE on both paths, as PyTorch: Python floats give inf and nan without a word (their
# exceptions are caught and the result recomputed in IEEE), so numpy's RuntimeWarnings
# (overflow, invalid value, divide by zero) raised inside this package are ignored too. A
# filter on our modules costs nothing until a warning is raised, unlike `np.errstate` around
# every operation; a learner's own numpy code still warns, and `detect_anomaly()` reports
# the first operation that produces nan or inf.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygrad_edu(\.|$)")


# numpy's floating-point error state: what np.errstate sets and resets, without its Python
# calls (numpy 2; numpy 1 keeps it in np.seterr)
try:
    from numpy._core import _ufunc_config
except ImportError:  # pragma: no cover  (numpy 1)
    _ufunc_config = None  # type: ignore[assignment]
_ERROR_STATE: Any = getattr(_ufunc_config, "_extobj_contextvar", None)
_make_extobj: Any = getattr(_ufunc_config, "_make_extobj", None)
if _make_extobj is None:  # pragma: no cover
    _ERROR_STATE = None


def ignore_float_errors() -> Any:
    """Turn numpy's floating-point errors off (IEEE inf and nan, silently, whatever
    ``np.seterr`` says) until `restore_float_errors` is given what this returns: what
    ``np.errstate(all="ignore")`` does, in a fifth of the time.

    >>> token = ignore_float_errors()
    >>> np.array([1e308]) * 10.0
    array([inf])
    >>> restore_float_errors(token)
    """
    return _ERROR_STATE.set(_make_extobj(all="ignore")) if _ERROR_STATE else \
        np.seterr(all="ignore")


def restore_float_errors(token: Any) -> None:
    """numpy's floating-point error state as it was before `ignore_float_errors`."""
    if _ERROR_STATE:
        _ERROR_STATE.reset(token)
    else:  # pragma: no cover  (numpy 1)
        np.seterr(**token)


# Python floats raise these where IEEE arithmetic gives inf or nan (1/0, exp(1000), log(-1))
FLOAT_ERRORS = (ZeroDivisionError, OverflowError, ValueError)
# numpy raises these there when the program asks it to (``np.seterr(all="raise")``, or
# warnings made errors by a filter set after the package's); the operation is then redone
# with numpy's errors off, so that a tensor gives its IEEE result as silently as a float
NUMPY_ALARMS = (FloatingPointError, RuntimeWarning)


def check_share_count(name: str, shares: Any, count: int) -> None:
    """A TypeError if the rule of `name` (a primitive of one's own, say) gave `shares` that are
    not a tuple (or list) of one gradient per operand of its `count`: both passes check so."""
    if isinstance(shares, tuple | list) and len(shares) == count:
        return
    given = (f"{len(shares)} gradients" if isinstance(shares, tuple | list) else
             f"a {type(shares).__name__}")
    raise TypeError(f"the rule of {name!r} gave {given} for its {count} operand"
                    f"{'' if count == 1 else 's'}: a rule returns a tuple of one gradient per "
                    "operand (None for one that gets none)")


def vjp_in_ieee(vjp: Callable[..., tuple[Any, ...]], g: Any, out: Any, datas: Sequence[Any],
                params: Mapping[str, Any]) -> tuple[Any, ...]:
    """Rerun a rule whose Python-float arithmetic raised, in numpy floats: its shares with
    IEEE results (inf, nan), each a float where it is one number, an array where an array
    operand made it one.

    >>> with np.errstate(divide="ignore"):
    ...     vjp_in_ieee(lambda g, out, a: (g / a,), 1.0, 0.0, [0.0], {})
    (inf,)
    >>> with np.errstate(divide="ignore"):
    ...     vjp_in_ieee(lambda g, out, a, b: (g / a * b, g * b), 1.0, 0.0, [0.0, np.ones(2)], {})
    (array([inf, inf]), array([1., 1.]))
    """
    shares = vjp(np.float64(g), np.float64(out), *map(np.float64, datas), **params)
    return tuple(share if share is None or np.ndim(share) else float(share) for share in shares)


def run_rule(name: str, vjp: Callable[..., tuple[Any, ...]], g: Any, out: Any,
             datas: Sequence[Any], params: Mapping[str, Any]) -> tuple[Any, ...]:
    """The rule `vjp` of the primitive `name` on raw data (the reference pass's every rule,
    the fast pass's rules of one's own): IEEE results where Python floats raise
    (`vjp_in_ieee`), and an array `g` given read-only, as other gradients may share it (+
    sends one array to both operands): a rule that writes into it (``g[x <= 0] = 0``) raises,
    saying so, where it would change them silently."""
    if type(g) is np.ndarray:
        g = g.view()
        g.flags.writeable = False
    try:
        try:
            return vjp(g, out, *datas, **params)
        except FLOAT_ERRORS:
            return vjp_in_ieee(vjp, g, out, datas, params)
    except ValueError as error:
        if "read-only" not in str(error):
            raise
        raise ValueError(
            f"the rule of {name!r} wrote into an array it was given (its gradient g, or an "
            "operand's data), which other gradients or the graph share: a rule computes new "
            "arrays, e.g. g * (x > 0), not g[x <= 0] = 0") from None


class OpError(ValueError):
    """An operation was given operands it cannot work with (the message says which and why)."""


class GradientShapeError(ValueError):
    """A rule gave an operand a gradient of a shape that is not the operand's, nor one
    broadcasting could have made of it (both backward passes add the rule's name)."""


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, a Value or a number (``()``)."""
    shape: tuple[int, ...] = getattr(x, "shape", ())
    return shape


def elementwise(scalar: Callable[[float], float],
                array: Callable[[Any], Any]) -> Callable[..., Any]:
    """One forward for floats (`scalar`, from `math`) and arrays (`array`, from numpy)."""
    return lambda x: scalar(x) if type(x) is float else array(x)


# ---- elementwise functions


def power_const(x: Any, *, exponent: float) -> Any:
    """x ** exponent for a number `exponent`, as PyTorch float64's: C's pow (IEEE 754: nan for a
    negative base to a fraction, inf or 0 for -inf), but at -0.0 and -inf to the power ±0.5,
    where PyTorch's sqrt and rsqrt give -0.0 and -inf, and nan.

    The slope ``exponent·x^(exponent−1)`` is this function's too, as PyTorch's is its pow's.
    """
    if type(x) is float:
        if (exponent == 0.5 or exponent == -0.5) and (
                x == _MINUS_INF or (x == 0.0 and math.copysign(1.0, x) < 0.0)):
            return math.nan if x == _MINUS_INF else -0.0 if exponent == 0.5 else _MINUS_INF
        return _float_power(x, exponent)
    result = np.power(x, exponent)  # (numpy's 0.5 is a square root: -0.0, and nan at -inf)
    if exponent == -0.5:
        at_minus_zero = (x == 0.0) & np.signbit(x)
        result = np.where(at_minus_zero, _MINUS_INF, np.where(x == _MINUS_INF, math.nan, result))
    return result


def power(a: Any, b: Any) -> Any:
    """a ** b, elementwise, as C's pow (IEEE 754), as PyTorch's for a tensor exponent: no
    square root at 0.5 (pow(-0.0, 0.5) is 0.0, pow(-inf, 0.5) inf)."""
    if type(a) is float and type(b) is float:
        return _float_power(a, b)
    result = np.power(a, b)
    if np.ndim(b) == 0 and float(b) == 0.5:  # (numpy takes a scalar 0.5 as a square root)
        result = np.where(np.asarray(a) == _MINUS_INF, math.inf, result) + 0.0
    return result


def _float_power(a: float, b: float) -> float:
    """C's pow of two floats: nan where Python's gives a complex number (a negative base to
    a fraction)."""
    result = a**b
    return math.nan if type(result) is complex else result


def pow_exponent_slope(a: Any, b: Any) -> Any:
    """∂(a ** b)/∂b = a^b·log(a), taken as 0 where a = 0 and b ≥ 0 (the pow rule's convention,
    as PyTorch's: a ** b is 0 or 1 there whatever b is near, and log(0) would make it nan);
    nan for a negative base. The same numbers as the pow rule's share of g = 1, computed as
    it computes them (the base read as 1 where the convention holds)."""
    at_zero = (np.asarray(a) == 0.0) & (np.asarray(b) >= 0.0)
    slope = np.where(at_zero, 0.0, power(a, b) * np.log(np.where(at_zero, 1.0, a)))
    return float(slope) if type(a) is float and type(b) is float else slope


def sigmoid(x: Any) -> Any:
    """1 / (1 + e⁻ˣ), through e^−|x| so that neither tail overflows."""
    if type(x) is float:
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_slope(x: Any) -> Any:
    """σ′(x) = σ(x)·σ(−x), accurate on both tails (1 − σ would round to 0 on the right)."""
    return sigmoid(x) * sigmoid(-x)


def sech2(x: Any) -> Any:
    """tanh′(x) = sech²(x) = 1 − tanh²(x), as 4·σ(2x)·σ(−2x): accurate where tanh rounds to ±1."""
    return 4.0 * sigmoid(2.0 * x) * sigmoid(-2.0 * x)


def softplus(x: Any) -> Any:
    """log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)."""
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def relu(x: Any) -> Any:
    """max(0, x)."""
    if type(x) is float:
        return 0.0 if x <= 0.0 else x
    return np.maximum(x, 0.0)


def leaky_relu(x: Any, *, negative_slope: float) -> Any:
    """x where x > 0, else negative_slope·x."""
    if type(x) is float:
        return x if x > 0.0 else negative_slope * x
    return np.where(x > 0.0, x, negative_slope * x)


def elu(x: Any, *, alpha: float) -> Any:
    """x where x > 0, else α(eˣ − 1)."""
    if type(x) is float:
        return x if x > 0.0 else alpha * math.expm1(x)
    # (min(0, x), not min(x, 0): numpy keeps the second operand of two equal zeros, and
    # elu(-0.0) is -0.0, as on floats)
    return np.where(x > 0.0, x, alpha * np.expm1(np.minimum(0.0, x)))


def step(x: Any) -> Any:
    """1 where x > 0, else 0."""
    if type(x) is float:
        return 1.0 if x > 0.0 else 0.0
    return (x > 0.0).astype(np.float64)


def sign(x: Any) -> Any:
    """−1, 0 or 1 (nan stays nan; the sign of -0.0 is 0.0, as numpy's)."""
    if type(x) is float:
        return 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 if x == 0.0 else x
    return np.sign(x)


def normal_cdf(x: Any) -> Any:
    """Φ(x) = erfc(−x/√2) / 2, the standard normal distribution function."""
    if type(x) is float:
        return 0.5 * math.erfc(-x / SQRT2)
    return 0.5 * np.asarray(_erfc_array(-np.asarray(x) / SQRT2), dtype=np.float64)


# ---- the softmax family and binary cross-entropy (issue #14, part 3b)

# PyTorch's floor under p·(1 − p) in the gradient of binary_cross_entropy: 1e-12 as a float32
BCE_EPSILON = 9.999999960041972e-13
LOG_FLOOR = -100.0  # binary_cross_entropy's logs are clamped here (as PyTorch's)


def logsumexp(x: Any, *, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """log Σ exp(x) over `axis`, as m + log Σ exp(x − m) with m the maximum, so exp never
    overflows. An infinite m is taken as 0 (all −inf gives −inf, a +inf gives inf, as
    PyTorch's), and an empty reduction gives −inf (the log of an empty sum)."""
    m = np.max(x, axis=axis, keepdims=True, initial=_MINUS_INF)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.reshape(out, reduced_shape(shape_of(x), axis))


def logsumexp_slope(x: Any, *, axis: tuple[int, ...] | None) -> Any:
    """d logsumexp/dx along `axis`: softmax(x), exp(x − m)/Σ exp(x − m) with m the maximum.
    Not exp(x − logsumexp(x)): logsumexp rounded near a large m loses the digits of
    log Σ exp(x − m) (at x = [1e16, 1e16] that gave [1, 1], not [0.5, 0.5], as PyTorch's
    does; jax's holds m constant too). In a row with a +inf, exp(x − logsumexp(x)), as
    PyTorch's: nan at +inf, 0 elsewhere (softmax's row is all nan)."""
    p = softmax(x, axis=axis)
    if np.any(x == math.inf):
        with np.errstate(invalid="ignore"):  # (inf − inf: nan)
            p = np.where(np.max(x, axis=axis, keepdims=True) == math.inf,
                         np.exp(x - logsumexp(x, axis=axis, keepdims=True)), p)
    return p


def _maximum(x: Any, axis: tuple[int, ...] | None) -> Any:
    """The maximum over `axis`, kept (−inf over no elements): np.maximum.reduce, or, along the
    rows of a matrix of a few columns (the logits of a few classes), the running maximum of
    its columns, the same numbers several times sooner (a reduction pays for every row)."""
    # (np.maximum.reduce and np.add.reduce are what np.max and np.sum call, without their
    # Python wrappers: the same numbers, a microsecond sooner on a small batch)
    if axis == (1,) and type(x) is np.ndarray and x.ndim == 2 and 0 < x.shape[1] <= 12:
        m = x[:, :1]
        for j in range(1, x.shape[1]):
            m = np.maximum(m, x[:, j:j + 1])
        return m
    return np.maximum.reduce(x, axis=axis, keepdims=True, initial=_MINUS_INF)


def _sum_of_exps(e: Any, axis: tuple[int, ...] | None) -> Any:
    """The sum over `axis` of exps `e` (no element −0.0), kept: np.add.reduce, or, along the
    rows of a matrix of 2 to 7 columns, its columns added in order: the same numbers (numpy
    adds fewer than 8 terms in order, from 0), twice as soon on a small batch."""
    if axis == (1,) and type(e) is np.ndarray and e.ndim == 2 and 1 < e.shape[1] < 8:
        s = e[:, :1] + e[:, 1:2]
        for j in range(2, e.shape[1]):
            s += e[:, j:j + 1]
        return s
    return np.add.reduce(e, axis=axis, keepdims=True)


def softmax(x: Any, *, axis: tuple[int, ...] | None) -> Any:
    """exp(x − m) / Σ exp(x − m) over `axis`, m the maximum (a row with an inf or all −inf
    is nan, as PyTorch's)."""
    e = np.exp(x - _maximum(x, axis))
    return e / _sum_of_exps(e, axis)


def softmax_complement(x: Any, *, axis: tuple[int, ...] | None) -> Any:
    """1 − softmax(x) along `axis` with no cancellation: with e = exp(x − m) and S = Σe,
    (S − e)/S, except where an element holds more than half of S, where it is (Σ of the other
    e's)/S. 1 − p would be 0 where p rounds to 1 (8.5e-18 at x = [40, 0, 0]). A row with an
    inf or all −inf is nan, as softmax's.

    At most one element of a slice holds more than half of S, even in floats: the maximum's e
    is exactly 1, any other e ≤ 1, and the rounded S ≥ 1 + e rounded ≥ 2e (rounding is
    monotone), so e > S/2 fails for all but one (and for all where the maximum is tied, S ≥ 2).
    """
    e = np.exp(x - _maximum(x, axis))
    s = _sum_of_exps(e, axis)
    complement = (s - e) / s
    sure = e > 0.5 * s  # (False at nan)
    if np.any(sure):
        # the sure element's complement is the sum of the others, added up without it
        others = np.add.reduce(np.where(sure, 0.0, e), axis=axis, keepdims=True)
        complement = np.where(sure, others / s, complement)
    # (a scalar as a numpy float, as softmax gives it: np.where returns a 0-d array)
    return complement[()] if np.ndim(complement) == 0 else complement


def log_softmax(x: Any, *, axis: tuple[int, ...] | None) -> Any:
    """(x − m) − log Σ exp(x − m) over `axis`, m the maximum (as PyTorch computes it)."""
    shifted = x - _maximum(x, axis)
    return shifted - np.log(_sum_of_exps(np.exp(shifted), axis))


def cross_entropy(z: Any, *, labels: Any, reduction: str) -> Any:
    """−log_softmax(z)[label] for each row of the logits `z` (batch, classes), integer
    `labels` (batch,), reduced by "mean", "sum" or "none": the same operations, in the same
    order, as `log_softmax`, the pick of each label, then the sum and its scaling."""
    return nll(log_softmax(z, axis=(1,)), labels=labels, reduction=reduction)


def nll(log_probs: Any, *, labels: Any, reduction: str) -> Any:
    """−log_probs[label] for each row of `log_probs` (batch, classes), reduced: the second
    half of `cross_entropy`, once its log_softmax is known."""
    picked = log_probs[np.arange(len(labels)), labels]
    if reduction == "none":
        return -picked
    total = float(np.add.reduce(picked))
    # (+ 0.0 and 0.0 − make a loss of 0 +0.0, as PyTorch's, not −0.0, which a log shows as
    # "-0.0000"; they change no other number)
    return total * (-1.0 / len(labels)) + 0.0 if reduction == "mean" else 0.0 - total


def binary_cross_entropy(p: Any, y: Any) -> Any:
    """−(y·log p + (1 − y)·log(1 − p)), each log clamped at −100 (as PyTorch's), so that a
    probability of exactly 0 or 1 gives a finite loss; log(1 − p) is computed as log1p(−p)."""
    if type(p) is float and type(y) is float:
        log_p = _clamped_log(math.log(p) if p > 0.0 else _MINUS_INF if p == 0.0 else math.nan)
        log_q = _clamped_log(math.log1p(-p) if p < 1.0 else _MINUS_INF if p == 1.0
                             else math.nan)
        return -(y * log_p + (1.0 - y) * log_q)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) is the point of the clamp
        logs = np.log(p), np.log1p(-np.asarray(p))
    clamped_p, clamped_q = (np.where(log < LOG_FLOOR, LOG_FLOOR, log) for log in logs)  # (nan
    return -(y * clamped_p + (1.0 - y) * clamped_q)  # stays nan)


def _clamped_log(log: float) -> float:
    return LOG_FLOOR if log < LOG_FLOOR else log


def bce_slope(p: Any, y: Any) -> Any:
    """d bce/dp = (p − y)/max(p(1 − p), ε), ε = `BCE_EPSILON` (PyTorch's rule): the floor
    keeps a sure wrong prediction's slope finite (±1e12, not ±inf) at p = 0 or 1. A nan p(1 − p)
    is not floored (nan stays nan); p outside [0, 1] makes it negative, so floored."""
    pq = p * (1.0 - p)
    if type(p) is float and type(y) is float:
        return (p - y) / (BCE_EPSILON if pq < BCE_EPSILON else pq)
    return (p - y) / np.where(pq < BCE_EPSILON, BCE_EPSILON, pq)


def reduced_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """`shape` without the reduced axes (what keepdims=False gives)."""
    return () if axis is None else tuple(n for i, n in enumerate(shape) if i not in axis)


def clip(x: Any, *, min: float | None, max: float | None) -> Any:
    """x held within [min, max] (a None bound is no bound); nan stays nan."""
    if type(x) is float:
        return min if min is not None and x < min else max if max is not None and x > max else x
    if min is not None:
        x = np.where(x < min, min, x)
    if max is not None:
        x = np.where(x > max, max, x)
    return x


def maximum(a: Any, b: Any) -> Any:
    """The larger of a and b, elementwise; nan if either is nan (b on a tie, as numpy's)."""
    if type(a) is float and type(b) is float:
        return a if a > b else b if a <= b else a if a != a else b
    return np.maximum(a, b)


def minimum(a: Any, b: Any) -> Any:
    """The smaller of a and b, elementwise; nan if either is nan (b on a tie, as numpy's)."""
    if type(a) is float and type(b) is float:
        return a if a < b else b if a >= b else a if a != a else b
    return np.minimum(a, b)

# ---- structural operations


def matmul(a: Any, b: Any) -> Any:
    """a @ b with numpy's rules, refusing operands that do not align with a clear message."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise OpError(
            f"matmul (@) needs operands with at least one dimension; got shapes {sa} and {sb} "
            "(use * to multiply by a scalar)"
        )
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != inner_b:
        raise OpError(
            f"matmul (@): shapes {sa} and {sb} do not align: the left operand's last axis has "
            f"length {sa[-1]}, the right operand's "
            f"{'only' if len(sb) == 1 else 'second-to-last'} axis has length {inner_b}"
        )
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise OpError(
            f"matmul (@): shapes {sa} and {sb}: the batch axes {sa[:-2]} and {sb[:-2]} "
            "(all but the last two) do not broadcast together"
        ) from None
    return np.matmul(a, b)


def scatter_add(g: Any, *into: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """A zero array of `shape` with `g` added at `index` (repeated indices add up); `into`,
    the indexed array when a rule names it (getitem's), is not read."""
    out = np.zeros(shape)
    if is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def where(a: Any, b: Any, *by: Any, cond: Any) -> Any:
    """`a` where `cond` holds, else `b`; a Python bool `cond` is a plain `if`. `by`, the
    operands `cond` was read from when a rule names them (relu's `a`), is not read."""
    if type(cond) is bool:
        return a if cond else b
    if type(cond) is np.ndarray and cond.dtype == np.bool_:  # a selection against +0.0
        if _is_plus_zero(b) and _is_tensor_shaped(a, cond.shape):
            return kept_or_zero(a, cond)
        if _is_plus_zero(a) and _is_tensor_shaped(b, cond.shape):
            return kept_or_zero(b, ~cond)
    return np.where(cond, a, b)


def _is_plus_zero(x: Any) -> bool:
    return type(x) is float and x == 0.0 and math.copysign(1.0, x) == 1.0


def _is_tensor_shaped(x: Any, shape: tuple[int, ...]) -> bool:
    return type(x) is np.ndarray and x.dtype == np.float64 and x.shape == shape


set_writeable: Callable[[np.ndarray[Any, Any], bool], None] = \
    np.ndarray.setflags  # type: ignore[assignment]
"""`set_writeable(array, flag)`: ``array.setflags(write=flag)`` in a third of the time (its
keyword parsing is most of the call; numpy's stubs declare the argument keyword-only)."""


def kept_or_zero(x: Any, keep: Any) -> Any:
    """x where `keep`, else +0.0: np.where(keep, x, 0.0) bit for bit (inf, nan and -0.0
    kept), computed as the integer product of x's bits and `keep` (1 or 0: all of x's bits,
    or none, which is +0.0). `x` a float64 array, `keep` a bool array of its shape; the
    result an array of its own. One multiplication, as quick as x * keep (which gives -0.0
    and nan where it should give +0.0); np.where is 6x slower on a large array, and on a
    small one about 4 us slower in a training step, where its code is not in the cache.

    >>> kept_or_zero(np.array([-2.0, -0.0, np.inf]), np.array([False, True, False]))
    array([ 0., -0.,  0.])
    """
    out = np.empty(x.shape)  # (an array of its own, not a view: a gradient kept as it is)
    np.multiply(x.view(np.int64), keep, out=out.view(np.int64))
    return out


def concatenate(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


def stack(*xs: Any, axis: int) -> Any:
    return np.stack(xs, axis=axis)


def kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as 1s (what keepdims=True gives)."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


# ---- argument checks, shared by Value's methods and the array-building functions


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """`axis` as a sorted tuple of non-negative axes (None means every axis).

    >>> normalize_axis(-1, 3, "sum"), normalize_axis(None, 3, "sum")
    ((2,), None)
    """
    if axis is None:
        return None
    if isinstance(axis, int | np.integer):
        axes: tuple[Any, ...] = (axis,)
    elif isinstance(axis, tuple | list):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints; got {axis!r}")
    result = []
    for a in axes:
        if not isinstance(a, int | np.integer) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints; got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a Value with {ndim} dimensions"
                             + (" (a scalar has none)" if ndim == 0 else ""))
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(result))


def single_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """The one axis a softmax runs over, as `normalize_axis` gives it (None for a scalar, whose
    axis 0 or -1 is the whole of it, as in PyTorch).

    >>> single_axis(-1, 2, "softmax"), single_axis(-1, 0, "softmax")
    ((1,), None)
    """
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be one int (the axis to normalise over); got {axis!r}")
    if ndim == 0 and axis in (0, -1):
        return None
    return normalize_axis(axis, ndim, op)


def is_number(x: Any) -> bool:
    """Whether `x` is a real number: an int or a float, Python's or numpy's, but not a bool
    (nor a Value, which would get no gradient where a plain number is asked for)."""
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def checked_number(x: Any, name: str, op: str) -> float:
    """`x`, the parameter `name` of `op` (leaky_relu's slope, elu's alpha), as a float.

    >>> checked_number(1, "alpha", "elu")
    1.0
    """
    if not is_number(x):
        raise TypeError(f"{op}: {name} must be a number; got {x!r} (type {type(x).__name__})")
    return float(x)


def checked_ddof(ddof: Any, count: int, op: str) -> float:
    """`ddof` as a float, once it is known to leave a positive divisor ``count − ddof``.

    >>> checked_ddof(1, 3, "var")
    1.0
    """
    if not is_number(ddof):
        raise TypeError(f"{op}: ddof must be a number (0 for the population variance, 1 for "
                        f"the sample variance); got {ddof!r}")
    if not ddof >= 0:
        raise ValueError(f"{op}: ddof must be at least 0; got {ddof!r}")
    if ddof >= count:
        raise ValueError(f"{op}: ddof={ddof!r} needs more than {ddof!r} elements in each "
                         f"reduction, and there are {count}: the divisor count − ddof must be "
                         "positive")
    return float(ddof)


def reshape_target(shape: tuple[int, ...], args: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape `reshape(*args)` asks for (one dimension may be -1), checked against `shape`.

    >>> reshape_target((2, 3), (-1,)), reshape_target((2, 3), ((3, 2),))
    ((6,), (3, 2))
    """
    target = tuple(_ints_of(args[0])) if len(args) == 1 and isinstance(
        args[0], tuple | list | np.ndarray) else args
    try:
        new_shape: tuple[int, ...] = np.empty(shape, dtype=np.bool_).reshape(target).shape
    except TypeError as error:
        raise TypeError(f"reshape: a shape is ints (one of them may be -1); got {target!r}"
                        ) from error
    except ValueError as error:
        raise ValueError(f"cannot reshape a Value of shape {shape} ({math.prod(shape)} "
                         f"elements) into shape {target}") from error
    return new_shape


def _ints_of(sequence: Any) -> Any:
    """A 1-D integer array as a tuple of ints (numpy takes one as a shape, or as axes);
    anything else as it is."""
    if isinstance(sequence, np.ndarray) and sequence.ndim == 1 and sequence.dtype.kind in "iu":
        return tuple(int(n) for n in sequence)
    return sequence


def permutation(shape: tuple[int, ...], axes: tuple[Any, ...]) -> tuple[int, ...]:
    """The axes `transpose(*axes)` asks for, as a permutation (reversed when none are given).

    >>> permutation((2, 3, 4), ()), permutation((2, 3, 4), ((0, -1, 1),))
    ((2, 1, 0), (0, 2, 1))
    """
    ndim = len(shape)
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], tuple | list | np.ndarray)):
        axes = () if axes[0] is None else tuple(_ints_of(axes[0]))
    if not axes:
        return tuple(range(ndim))[::-1]
    for a in axes:
        if not isinstance(a, int | np.integer) or isinstance(a, bool):
            raise TypeError(f"transpose: axes must be ints; got {axes!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"transpose: axis {a} is out of range for a Value of shape {shape}")
    perm = tuple(int(a) % ndim for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ValueError(f"transpose: axes {tuple(int(a) for a in axes)} are not a permutation "
                         f"of the {ndim} axes of a Value of shape {shape}")
    return perm


def swapped_axes(shape: tuple[int, ...], axis1: Any, axis2: Any) -> tuple[int, ...]:
    """The permutation of `shape`'s axes that exchanges `axis1` and `axis2` (`swapaxes`).

    >>> swapped_axes((2, 3, 4), 0, -1), swapped_axes((2, 3), 1, 1)
    ((2, 1, 0), (0, 1))
    """
    ndim = len(shape)
    picked = []
    for axis in (axis1, axis2):
        if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
            raise TypeError(f"swapaxes: axes must be ints; got {axis!r}")
        if not -ndim <= axis < ndim:
            raise ValueError(f"swapaxes: axis {axis} is out of range for a Value of shape "
                             f"{shape}")
        picked.append(int(axis) % ndim)
    order = list(range(ndim))
    a, b = picked
    order[a], order[b] = b, a
    return tuple(order)


# (the checks of clip, argmax/argmin and the shape methods: squeeze, unsqueeze, flatten,
# broadcast_to)


def clip_bounds(low: Any, high: Any) -> tuple[float | None, float | None]:
    """`clip`'s bounds as floats (or None), checked: a number each, one at least, min ≤ max.

    >>> clip_bounds(0, None)
    (0.0, None)
    """
    bounds = []
    for name, bound in (("min", low), ("max", high)):
        if bound is not None and not is_number(bound):
            raise TypeError(f"clip: {name} must be a number or None; got {bound!r} "
                            f"(type {type(bound).__name__})")
        try:
            value = None if bound is None else float(bound)
        except OverflowError:  # (an int past float64's range)
            raise ValueError(f"clip: {name} {str(bound)[:20]}... is too large for a "
                             "float") from None
        if value is not None and math.isnan(value):
            raise ValueError(f"clip: {name} is nan; a bound must be a number")
        bounds.append(value)
    low, high = bounds
    if low is None and high is None:
        raise ValueError("clip: give min, max or both (both are None)")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: min {low:g} is greater than max {high:g}")
    return low, high


def check_extremum_axes(shape: tuple[int, ...], axes: tuple[int, ...] | None, op: str) -> None:
    """Refuse `op` (max, min, argmax, argmin) over `axes` (all when None) of a Value of
    `shape` when one of them is empty: there is no largest of nothing. Empty other axes give
    an empty result, as in numpy and PyTorch.

    >>> check_extremum_axes((0, 3), (1,), "max")  # three maxima of nothing: none
    >>> check_extremum_axes((0, 3), (0,), "max")
    Traceback (most recent call last):
    ...
    ValueError: max() of an empty Value (shape (0, 3)) along axis 0: there is no largest element
    """
    empty = [a for a in (range(len(shape)) if axes is None else axes) if shape[a] == 0]
    if empty:
        where = "" if axes is None else f" along axis {empty[0]}"
        raise ValueError(f"{op}() of an empty Value (shape {shape}){where}: there is no "
                         f"{'smallest' if op.endswith('min') else 'largest'} element")


def arg_extremum(data: Any, axis: Any, keepdims: bool, op: str) -> Any:
    """numpy's `argmax`/`argmin` (`op`) of `data`: an int, or an integer array along `axis`.

    >>> arg_extremum(np.array([[1.0, 5.0], [7.0, 2.0]]), 1, False, "argmax")
    array([1, 0])
    """
    shape = shape_of(data)
    if axis is not None:
        if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
            raise TypeError(f"{op}: axis must be an int or None; got {axis!r}")
        (axis,) = normalize_axis(axis, len(shape), op) or (0,)
    check_extremum_axes(shape, None if axis is None else (axis,), op)
    find = np.argmax if op == "argmax" else np.argmin
    result = find(data, axis=axis, keepdims=bool(keepdims))
    return int(result) if np.ndim(result) == 0 else result


def squeezed_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """`shape` without its axes of length 1 (only those of `axis`, which must be 1, if given).

    >>> squeezed_shape((1, 3, 1), None), squeezed_shape((1, 3, 1), -1)
    ((3,), (1, 3))
    """
    if axis is None:
        return tuple(n for n in shape if n != 1)
    axes = normalize_axis(axis, len(shape), "squeeze") or ()
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of a Value of shape {shape} has length "
                             f"{shape[a]}, not 1 (numpy refuses this too; PyTorch ignores it)")
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def unsqueezed_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """`shape` with a new axis of length 1 at `axis` (−1 appends one).

    >>> unsqueezed_shape((2, 3), 0), unsqueezed_shape((2, 3), -1)
    ((1, 2, 3), (2, 3, 1))
    """
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"unsqueeze: axis must be an int; got {axis!r}")
    (a,) = normalize_axis(axis, len(shape) + 1, "unsqueeze (which counts the new axis)") or (0,)
    return (*shape[:a], 1, *shape[a:])


def flattened_shape(shape: tuple[int, ...], start_dim: Any, end_dim: Any) -> tuple[int, ...]:
    """`shape` with the axes from `start_dim` to `end_dim` (both included) merged into one.

    >>> flattened_shape((2, 3, 4), 0, -1), flattened_shape((2, 3, 4), 1, 2)
    ((24,), (2, 12))
    >>> flattened_shape((), 0, -1)  # a scalar, as in PyTorch
    (1,)
    """
    ndim = max(len(shape), 1)  # a scalar flattens to shape (1,), as in PyTorch
    places = []
    for name, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
            raise TypeError(f"flatten: {name} must be an int; got {dim!r}")
        if not -ndim <= dim < ndim:
            raise ValueError(f"flatten: {name} {dim} is out of range for a Value of shape {shape}")
        places.append(int(dim) % ndim)
    start, end = places
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"Value of shape {shape}")
    if not shape:
        return (1,)
    return (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])


def broadcast_target(shape: tuple[int, ...], target: Any) -> tuple[int, ...]:
    """`target` as a shape that `shape` broadcasts to under numpy's rules, or a clear error.

    >>> broadcast_target((3,), (2, 3)), broadcast_target((), 4)
    ((2, 3), (4,))
    """
    if isinstance(target, int | np.integer) and not isinstance(target, bool):
        target = (target,)
    target = _ints_of(target)
    if not isinstance(target, tuple | list) or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 0
            for n in target):
        raise TypeError(f"broadcast_to: shape must be a tuple of non-negative ints; got "
                        f"{target!r}")
    wanted = tuple(int(n) for n in target)
    try:
        fits = np.broadcast_shapes(shape, wanted) == wanted
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"broadcast_to: a Value of shape {shape} cannot be broadcast to shape "
                         f"{wanted} (matched from the last axis, each length must equal the "
                         "target's or be 1)")
    return wanted

def checked_index(data: Any, index: Any) -> Any:
    """`index` normalized (`normalize_index`), once it is known to fit `data`."""
    if type(data) is float:
        raise TypeError(f"a scalar Value cannot be indexed with {index!r}; only with (), ... "
                        "or None (a new axis), as a numpy scalar")
    given = index
    try:
        _refuse_mask_of_floats(index, data.shape)
        index = normalize_index(index)
        data[index]
    except (IndexError, ValueError) as error:  # (out of range; a step of 0, a ragged list)
        raise IndexError(f"cannot index a Value of shape {data.shape} with {given!r}: "
                         f"{error}") from None
    except TypeError as error:  # (a slice of floats, say; a float index says so itself)
        raise TypeError(f"cannot index a Value of shape {data.shape} with {given!r}: "
                        f"{error}") from None
    return index


def _refuse_mask_of_floats(index: Any, shape: tuple[int, ...]) -> None:
    """A TypeError for an index array of floats (a Value's data, as `NamedOperations.
    __getitem__` gives it), all 0 and 1, of the shape of the axes it indexes: a mask (``x[m]``
    with ``m = (x - 1).step()``), or the positions 0 and 1? Floats are taken as positions
    (`normalize_index`), so a mask would pick the wrong elements, silently."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(isinstance(p, int | slice) or p is None or p is Ellipsis for p in parts):
        return  # (the usual index: no array in it)
    arrays = [np.asarray(p) if isinstance(p, list | np.ndarray) else None for p in parts]

    def axes(part: Any, array: Any) -> int:  # how many axes of `shape` a part takes
        if part is None or part is Ellipsis:
            return 0
        return array.ndim if array is not None and array.dtype.kind == "b" else 1

    axis = 0
    for part, array in zip(parts, arrays, strict=True):
        if part is Ellipsis:
            axis = len(shape) - sum(axes(p, a) for p, a in zip(parts, arrays, strict=True)) + axis
            continue
        if array is not None and array.dtype.kind == "f" and array.ndim and \
                array.shape == shape[axis:axis + array.ndim] and \
                np.all((array == 0.0) | (array == 1.0)):
            raise TypeError("an index of floats, all 0 and 1, of the shape of the axes it "
                            "indexes: a mask, or positions? Floats are read as positions; "
                            "for a mask give bools (x[m.data > 0]), for positions integers "
                            "(x[m.data.astype(int)])")
        axis += axes(part, array)


def is_basic_index(index: Any) -> bool:
    """True when `index` only slices (no integer arrays), so no element is picked twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, int | slice) for p in parts)


def normalize_index(index: Any) -> Any:
    """Turn lists (and anything with a `.data`, like a Value) inside an index into int arrays."""
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if hasattr(part, "data") and not isinstance(part, np.ndarray | np.generic):  # a Value
        part = part.data
    if isinstance(part, bool | np.bool_):
        raise TypeError("a Value cannot be indexed with a single bool")
    if isinstance(part, np.integer):
        return int(part)
    if isinstance(part, float):
        raise TypeError(f"indices must be integers, slices or integer arrays; got {part!r}")
    if isinstance(part, list | np.ndarray):
        array = np.asarray(part)
        if array.dtype.kind == "f" and np.all(array == np.round(array)):
            # (whole numbers: a Value's data, always floats; exact as ints up to 2**53, and
            # inf, whole for np.round, would become the smallest intp)
            if not np.all(np.abs(array) <= 2.0**53):
                far = float(array[~(np.abs(array) <= 2.0**53)].flat[0])
                raise IndexError(f"an index must be a whole number of at most 2**53 in size; "
                                 f"got {far!r}")
            array = array.astype(np.intp)
        if array.dtype.kind not in "biu":
            raise TypeError(f"index arrays must hold integers or bools; got dtype {array.dtype}")
        return array
    return part
