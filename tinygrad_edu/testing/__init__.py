"""Check gradients against finite differences: the toolkit the project's own tests use.

`numerical_grad` estimates derivatives by central differences, one element at a time,
``df/dx ≈ (f(x + ε) − f(x − ε)) / h`` with ``h = (x + ε) − (x − ε)``, the step really taken
(2ε, up to rounding). `gradcheck` compares them with the engine's and raises `GradcheckError`,
naming the input, the element, its value and both numbers, where they disagree. Both ways the
engine gives gradients are checked: `gradients()` (the reference pass) and `backward()` (the
fast executor users run). With ``order=2`` it checks second derivatives the same way: the
engine's recorded first derivative is itself differentiated and compared with finite
differences of it. `gradgradcheck` (as PyTorch's) goes further: the upstream gradient is itself
an input, so a rule that uses the raw data of its upstream gradient, and so cuts a recorded
backward pass, is caught even when the op stands alone.

Hypothesis strategies for random Values, shapes and points away from kinks live in
`tinygrad_edu.testing.strategies` (it needs the `hypothesis` package).

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.testing import gradcheck
>>> gradcheck(lambda x, y: (x * y).tanh(), 0.3, [1.0, -2.0])
True
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.arrays import concatenate
from tinygrad_edu.data import as_data, describe
from tinygrad_edu.engine import Value, enable_grad, gradients, no_grad, topological_order
from tinygrad_edu.kernels import is_number

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "numerical_grad"]


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with the numerical one (the message says where)."""


# ---- checking what the user gives -------------------------------------------------------------


def _check_steps(who: str, eps: Any, atol: Any = 0.0, rtol: Any = 0.0) -> None:
    """Refuse a step `eps` that is not a positive finite number, or a tolerance that is not a
    finite number ≥ 0 (a nan one would fail every check, a step of 0 divide by zero)."""
    for name, x, least in (("eps", eps, "> 0"), ("atol", atol, "≥ 0"), ("rtol", rtol, "≥ 0")):
        if not is_number(x) or not math.isfinite(x) or x < 0 or (x == 0 and name == "eps"):
            raise ValueError(f"{who}: {name} must be a finite number {least}; got {x!r}")


def _check_seed(who: str, seed: Any) -> None:
    """Refuse a `seed` that is not an int ≥ 0 (what numpy's generators take)."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"{who}: seed must be an int ≥ 0; got {describe(seed)}")
    if seed < 0:
        raise ValueError(f"{who}: seed must be an int ≥ 0; got {seed}")


def _check_f(who: str, f: Any, inputs: Sequence[Any]) -> None:
    """Refuse an `f` that is not callable, or that cannot take one argument per input (a
    bare TypeError from inside f would not say that the inputs are the cause)."""
    if not callable(f):
        raise TypeError(f"{who}: f must be a function of the inputs, as in {who}(f, *inputs); "
                        f"got {describe(f)}")
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):  # (no signature to read: a builtin, say)
        return
    try:
        signature.bind(*inputs)
    except TypeError as error:
        n = len(inputs)
        hint = ""
        if n == 1 and isinstance(inputs[0], tuple | list) and len(inputs[0]) > 1:
            hint = (f"; give the inputs one by one, {who}(f, x, y), not in one tuple or list "
                    f"as PyTorch's gradcheck takes them: {who}(f, (x, y)) gives f one input")
        raise TypeError(f"{who}: f cannot take the {n} input{'s' if n != 1 else ''} given "
                        f"(one Value per input): {error}{hint}") from None


def _where(i: int, index: tuple[int, ...], shape: tuple[int, ...]) -> str:
    """"element (1, 0) of input 2 (shape (3, 2))", or "input 0 (a scalar)"."""
    return f"element {index} of input {i} (shape {shape})" if shape else f"input {i} (a scalar)"


def _inputs(who: str, inputs: Sequence[Any]) -> list[Any]:
    """Each input's data (a float, or a float64 array: a copy), refused if not finite."""
    datas = []
    for i, x in enumerate(inputs):
        data = as_data(x.data if isinstance(x, Value) else x, f"{who}: input {i}")
        finite = math.isfinite(data) if type(data) is float else np.isfinite(data)
        if not np.all(finite):
            index = tuple(int(k) for k in np.argwhere(~finite)[0])
            value = float(np.asarray(data)[index])
            raise ValueError(f"{who}: {_where(i, index, np.shape(data))} is {value!r}: finite "
                             "differences need finite inputs")
        datas.append(data)
    return datas


def _output(who: str, out: Any) -> Any:
    """What f returned, if it is a Value, a number or an array of numbers."""
    if isinstance(out, Value) or is_number(out) or (
            isinstance(out, np.ndarray) and out.dtype.kind in "fiu"):
        return out
    hint = " (a missing `return`?)" if out is None else ""
    raise TypeError(f"{who}: f must return a Value or a number; it returned "
                    f"{describe(out)}{hint}")


# ---- central differences ----------------------------------------------------------------------


def _evaluate(who: str, f: Callable[..., Any], values: Sequence[Any]) -> float:
    """f at `values` (data, given to f as Values), with no graph recorded: a float."""
    with no_grad():  # (a check of second derivatives records inside f all the same)
        out = _output(who, f(*(Value(v) for v in values)))
    result = out.data if isinstance(out, Value) else out
    if type(result) is not float and np.shape(result) != ():
        raise ValueError(f"{who}: f must return a scalar; it returned shape {np.shape(result)}")
    return float(result)


def _step(who: str, x: float, eps: float, where: str) -> float:
    """(x + eps) − (x − eps), the step really taken; refused if rounding makes it 0."""
    step = (x + eps) - (x - eps)
    if step == 0.0:
        raise ValueError(
            f"{who}: eps={eps!r} is below the float spacing at {where}, where x = {x!r}: x + eps "
            "and x − eps are the same float, so no step is taken; use a larger eps, such as "
            f"{1e-6 * max(1.0, abs(x)):.1g}")
    return step


def _outputs(who: str, f: Callable[..., Any], values: Sequence[Any]) -> Any:
    """f at `values` (data, given to f as Values), with no graph recorded: a float64 array
    (0-d for a scalar result)."""
    with no_grad():
        out = _output(who, f(*(Value(v) for v in values)))
    return np.asarray(out.data if isinstance(out, Value) else out, dtype=np.float64)


def _shifted(who: str, f: Callable[..., Any], datas: list[Any], i: int, index: tuple[int, ...],
             x: float, upstream: Any = None) -> Any:
    """f with element `index` of input `i` set to `x` (a float; its output, an array, when
    there is an `upstream` gradient: see `_differences`)."""
    evaluate = _evaluate if upstream is None else _outputs
    if not index:
        return evaluate(who, f, [*datas[:i], x, *datas[i + 1:]])
    shifted = datas[i].copy()
    shifted[index] = x
    return evaluate(who, f, [*datas[:i], shifted, *datas[i + 1:]])


def _quotient(up: Any, down: Any, step: float, upstream: Any) -> float:
    """(up − down) / step; for outputs with an `upstream` gradient u, Σ (up − down)·u / step:
    each element differenced first, so that the rounding of a large one, which does not
    move, does not swamp a small one that does (as PyTorch's gradcheck differences)."""
    if upstream is None:
        return float((up - down) / step)  # (floats: inf − inf is nan, silently)
    with np.errstate(all="ignore"):
        return float(np.sum((up - down) * upstream) / step)


def _differences(who: str, f: Callable[..., Any], datas: list[Any], eps: float,
                 upstream: Any = None) -> list[Any]:
    """(f(x + eps) − f(x − eps)) / ((x + eps) − (x − eps)) for every element of every input:
    a float for a scalar input, an array of its shape otherwise. With an `upstream` gradient
    u of f's shape, f's outputs are differenced, then contracted with u (`_quotient`)."""
    slopes: list[Any] = []
    for i, data in enumerate(datas):
        if type(data) is float:
            step = _step(who, data, eps, _where(i, (), ()))
            up, down = (_shifted(who, f, datas, i, (), data + side, upstream)
                        for side in (eps, -eps))
            slopes.append(_quotient(up, down, step, upstream))
            continue
        slope = np.empty_like(data)
        for index in np.ndindex(data.shape):
            x = float(data[index])
            step = _step(who, x, eps, _where(i, index, data.shape))
            up, down = (_shifted(who, f, datas, i, index, x + side, upstream)
                        for side in (eps, -eps))
            slope[index] = _quotient(up, down, step, upstream)
        slopes.append(slope)
    return slopes


def numerical_grad(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6) -> list[Any]:
    """Central-difference estimate of the gradient of a scalar `f` for each input.

    ``∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / h``, h = (xᵢ + ε) − (xᵢ − ε), the step taken.
    `inputs` are finite numbers, arrays or Values; `f` receives Values and returns a scalar (a
    Value or a number). Each gradient has its input's shape (a float for a scalar input).

    >>> [round(g, 6) for g in numerical_grad(lambda x: x ** 3, 2.0)]  # d x³ = 3x² = 12
    [12.0]
    """
    _check_steps("numerical_grad", eps)
    _check_f("numerical_grad", f, inputs)
    datas = _inputs("numerical_grad", inputs)
    return _differences("numerical_grad", f, datas, eps)


# ---- the random upstream gradient -------------------------------------------------------------


def _random_upstream(rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
    """Random signs times sizes in [0.5, 0.9] ∪ [1.1, 1.5] (never 1, so a rule that ignores
    its upstream gradient is not right by luck), both signs present when there are two
    elements or more; a float for shape ()."""
    size = math.prod(shape)
    sizes = rng.uniform(0.5, 0.9, size) + np.where(rng.random(size) < 0.5, 0.6, 0.0)
    signs = np.where(rng.random(size) < 0.5, -1.0, 1.0)
    if size >= 2 and np.all(signs == signs[0]):
        signs[rng.integers(size)] *= -1.0
    upstream = (sizes * signs).reshape(shape)
    return float(upstream) if shape == () else upstream


def _upstreams(rng: np.random.Generator, shape: tuple[int, ...],
               ) -> tuple[list[tuple[Any, float]], Any]:
    """The upstream gradients to check with, each with the number its gradient is divided by,
    and the one the finite differences use. f with one output element is checked as f itself
    (divided by u), with two upstream gradients of opposite signs and different sizes; f with
    several, with one of mixed signs."""
    if math.prod(shape) != 1:
        upstream = _random_upstream(rng, shape)
        return [(upstream, 1.0)], upstream
    small, large = float(rng.uniform(0.5, 0.9)), -float(rng.uniform(1.1, 1.5))
    if shape == ():
        return [(small, small), (large, large)], 1.0
    return [(np.full(shape, small), small), (np.full(shape, large), large)], np.ones(shape)


def _contract(out: Any, upstream: Any) -> Any:
    """sum(out · upstream): the scalar whose gradient is the vector-Jacobian product."""
    if isinstance(out, Value):
        return out * float(upstream) if out.shape == () else (out * upstream).sum()
    return float(np.sum(np.asarray(out, dtype=np.float64) * upstream))


def _along(total_of: Any, xs: Sequence[Value], directions: list[Any]) -> Any:
    """Σ ⟨d total/d x, v⟩ over the inputs, recorded: a first derivative along `directions`."""
    terms = _along_terms(total_of, xs, directions)
    return terms.sum() if isinstance(terms, Value) else 0.0


def _along_terms(total_of: Any, xs: Sequence[Value], directions: list[Any]) -> Any:
    """The terms of `_along`'s sum, each input's gradient times its direction element by
    element, recorded: one flat Value (zeros for a constant total, whose derivatives are 0).
    Differenced term by term, a large term's rounding stays out of a small one's difference
    (see `_quotient`)."""
    if not isinstance(total_of, Value) or not total_of.requires_grad:
        return np.zeros(sum(int(np.size(v)) for v in directions))
    grads = gradients(total_of, list(xs), create_graph=True)
    terms = []
    for i, (g, x, v) in enumerate(zip(grads, xs, directions, strict=True)):
        _check_shape(g, x.shape, i, "first derivative", "gradients(create_graph=True)")
        terms.append(g * v if isinstance(g, Value) else Value(g * v, requires_grad=False))
    return concatenate([term.reshape(-1) for term in terms])


def _check_shape(grad: Any, shape: tuple[int, ...], i: int, what: str, how: str) -> None:
    """Refuse a gradient whose shape is not its input's (numpy broadcasting would hide it)."""
    found = grad.shape if isinstance(grad, Value) else np.shape(grad)
    if found != shape:
        raise GradcheckError(
            f"{what} of the wrong shape for input {i}: by {how} it has shape {found}, "
            f"but input {i} has shape {shape} (a rule returned a gradient of another shape)")


def _by_backward(root: Value, leaves: list[Value]) -> list[Any]:
    """The leaves' gradients by `root.backward()`, every other node's `.grad` left as it was
    (a model's parameters that f closes over, say: as PyTorch's gradcheck, which uses
    autograd.grad). `_grad` is what `.grad` reads: a tensor's None means "not made yet"."""
    own = {id(leaf) for leaf in leaves}
    saved = [(node, node._grad) for node in topological_order(root) if id(node) not in own]
    for leaf in leaves:
        leaf.zero_grad()
    try:
        root.backward()
        return [leaf.grad for leaf in leaves]
    finally:
        for node, grad in saved:
            node._grad = grad


# ---- the comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    """What a failure message says about the check: which, with what, in which units."""

    what: str  # "gradient" or "second derivative"
    tolerance: str  # "atol=..., rtol=..., eps=..."
    of_what: str  # what the two numbers are the derivatives of ("" for f itself)
    upstream_there: Any  # u, shown at the failing element when it has the input's shape


def _kink(a: float, left: float, right: float, noise: float, atol: float, rtol: float) -> str:
    """The side whose one-sided slope `a` matches when the slopes differ by more than f′′·eps
    and rounding (`noise`) explain, or ""."""
    if not all(map(math.isfinite, (a, left, right))) or abs(left - right) <= (
            0.1 * max(abs(left), abs(right)) + 4 * (atol + noise)):
        return ""

    def near(slope: float) -> bool:
        return abs(a - slope) <= atol + rtol * abs(slope) + noise

    if near(left) != near(right):
        return "left" if near(left) else "right"
    return ""


def _mismatch(who: str, target: Callable[..., Any], datas: list[Any], numerical: list[Any],
              i: int, index: tuple[int, ...], a: float, how: str, case: _Case, eps: float,
              atol: float, rtol: float, upstream: Any) -> str:
    """The message for a disagreement at element `index` of input `i` (`target` and
    `upstream` as `_differences` took them)."""
    shape = np.shape(datas[i])
    x = float(np.asarray(datas[i])[index])
    n = float(np.asarray(numerical[i])[index])
    up, middle, down = (_shifted(who, target, datas, i, index, x + side, upstream)
                        for side in (eps, 0.0, -eps))
    size = _size(up, middle, down, upstream)
    step = (x + eps) - (x - eps)
    where = f"at {_where(i, index, shape)}, where x = {x!r}"
    numbers = f"analytical {a!r} (by {how}), numerical {n!r}"
    if not math.isfinite(n):
        cause = (f"f is not finite at x ± eps (at x + eps it is {_shown(up)}, at x − eps "
                 f"{_shown(down)}: the step hit a pole, an overflow or left f's domain)"
                 if not (np.all(np.isfinite(up)) and np.all(np.isfinite(down))) else
                 f"the central difference overflows (f is about {size:.3g} here, over a step "
                 f"of {step!r})")
        return (f"{case.what} not checkable {where}: {cause}; {numbers}; check at points "
                f"farther than eps = {eps} from f's poles and the edges of its domain"
                f"{case.of_what}")
    hints = ""
    if case.upstream_there is not None and np.shape(case.upstream_there) == shape:
        hints += f", here u = {float(case.upstream_there[index])!r}"
    if abs(step - 2 * eps) > 1e-3 * 2 * eps:
        hints += (f"; x ± eps are {step:.4g} apart, not 2·eps = {2 * eps:.4g} (at this |x| "
                  "they round): the difference quotient loses precision, a larger eps helps")
    below, above = x - (x - eps), (x + eps) - x  # (one may round to 0 at a power of 2)
    left = _quotient(middle, down, below, upstream) if below else math.nan
    right = _quotient(up, middle, above, upstream) if above else math.nan
    noise = 4 * math.ulp(size) / eps  # (rounding of f)
    side = _kink(a, left, right, noise, atol, rtol)
    if not side and abs(a - n) <= noise:
        hints += (f"; f is about {size:.3g} here, so its rounding alone can "
                  f"move the central difference by ~{noise:.1g}, more than this disagreement: "
                  "the check cannot tell them apart without a larger eps or atol")
    if side:
        hints += (f"; f has a kink between x − eps and x + eps (slope {left:.6g} on the left, "
                  f"{right:.6g} on the right; the analytical value is the {side} one) and the "
                  "central difference mixes the two: check at points farther than eps from it "
                  "(testing.strategies.floats_away_from)")
    return f"{case.what} mismatch {where}: {numbers} ({case.tolerance}){case.of_what}{hints}"


def _size(up: Any, middle: Any, down: Any, upstream: Any) -> float:
    """The size of f at x − eps, x and x + eps (`_mismatch`): with an `upstream` gradient,
    of the elements of f that move, each times its u."""
    sizes = np.maximum(np.maximum(np.abs(up), np.abs(middle)), np.abs(down))
    if upstream is None:
        return float(sizes)
    moved = (up != down) | (up != middle)
    return float(np.max(sizes * np.abs(upstream), where=moved, initial=0.0))


def _shown(out: Any) -> str:
    """f's output in a message: a number; of an array, its elements that are not finite."""
    if np.ndim(out) == 0:
        return repr(float(out))
    bad = np.argwhere(~np.isfinite(out))
    if not len(bad):
        return "finite"
    shown = ", ".join(f"{float(out[tuple(i)])!r} at {tuple(int(k) for k in i)}"
                      for i in bad[:3])
    return f"{shown}{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}"


def _disagreements(analytical: Any, numerical: Any, atol: float, rtol: float) -> Any:
    """Where ``|a − n| ≤ atol + rtol·|n|`` fails; where n is infinite, where a is not the
    same infinity (the tolerance would be infinite there, and let any a through); everywhere
    n is nan (f is nan near x: nothing there checks a rule, and any rule that gives nan there
    would pass; PyTorch's gradcheck fails there too)."""
    with np.errstate(all="ignore"):
        close = np.abs(analytical - numerical) <= atol + rtol * np.abs(numerical)
    return ~np.where(np.isfinite(numerical), close, analytical == numerical)


def _check(who: str, f: Callable[..., Any], datas: list[Any], *, eps: float, atol: float,
           rtol: float, order: int, seed: int, terms: Callable[..., Any] | None = None) -> bool:
    """gradcheck on checked arguments; `who` names the checker in messages. `terms`: for a
    scalar f that is a sum, its terms (the finite differences take them one by one)."""
    rng = np.random.default_rng(seed)
    leaves = [Value(d) for d in datas]
    with enable_grad():
        out = _output(who, f(*leaves))
    for i, (before, leaf) in enumerate(zip(datas, leaves, strict=True)):
        if not np.array_equal(before, leaf.data, equal_nan=True):
            raise GradcheckError(f"f changed input {i} in place: its gradients cannot be checked")
    out_shape = out.shape if isinstance(out, Value) else np.shape(out)
    upstreams, reference = _upstreams(rng, out_shape)
    directions = [rng.normal(size=np.shape(d)) for d in datas] if order == 2 else []

    # what the finite differences differentiate: f, contracted with u after differencing, or
    # (order 2) the recorded derivative of ⟨f, u⟩ along the directions (once: the checked
    # number is linear in u, so one u serves every upstream gradient)
    def along(*xs: Value) -> Any:
        with enable_grad():
            return _along_terms(_contract(f(*xs), reference), xs, directions)

    target, weights = (along, 1.0) if order == 2 else (terms, 1.0) if terms else (f, reference)

    # the engine's gradients, both ways a user gets them: gradients(), and backward()
    engine: list[tuple[str, float, list[Any]]] = []
    with enable_grad():
        for upstream, scale in upstreams:
            root = _contract(out, upstream)
            if order == 2:
                root = _along(root, leaves, directions)
            if isinstance(root, Value) and root.requires_grad:
                engine.append(("gradients()", scale, gradients(root, leaves)))
                engine.append(("backward()", scale, _by_backward(root, leaves)))
            else:
                zeros = [np.zeros_like(d) if np.ndim(d) else 0.0 for d in datas]
                engine.append(("gradients()", scale, zeros))
    numerical = _differences(who, target, datas, eps, weights)

    what = "second derivative" if order == 2 else "gradient"
    for i, data in enumerate(datas):
        shape = np.shape(data)
        for how, _, analytical in engine:
            _check_shape(analytical[i], shape, i, what, how)
        scales = np.array([scale for _, scale, _ in engine]).reshape(-1, *(1,) * len(shape))
        analytical_i = np.array([grads[i] for _, _, grads in engine], dtype=np.float64) / scales
        bad = _disagreements(analytical_i, numerical[i], atol, rtol)
        if not np.any(bad):
            continue
        entry, *rest = (int(k) for k in np.argwhere(bad)[0])
        index = tuple(rest)
        how, scale, _ = engine[entry]
        message = _mismatch(who, target, datas, numerical, i, index,
                            float(analytical_i[entry][index]), how,
                            _case(what, upstreams, out_shape, order, seed, atol, rtol, eps),
                            eps, atol, rtol, weights)
        message += _unconnected(out, leaves[i], i, float(analytical_i[entry][index]))
        per_u = {u: float(grads[index])  # (each upstream gradient's, divided by it)
                 for (_, u, _), grads in zip(engine, analytical_i, strict=True)}
        values = np.array(list(per_u.values()))
        if not np.all(np.isclose(values, values[0], rtol=rtol, atol=atol, equal_nan=True)):
            # (f of one element, checked with two upstream gradients, whose results differ
            # by more than the tolerance, not by a rounding: the rule is not linear in g)
            others = ", ".join(f"{v!r} for u = {u!r}" for u, v in per_u.items() if u != scale)
            message += (f"; the analytical value is the engine's gradient for the upstream "
                        f"gradient u = {scale!r}, divided by u ({others}): a rule must be "
                        "linear in its upstream gradient g")
        raise GradcheckError(message)
    return True


def _unconnected(out: Any, leaf: Value, i: int, analytical: float) -> str:
    """Why the analytical value is 0, when f's result is not connected to input `i` in the
    engine's graph (f took its data out with .data, .item(), float(), ...), or ""."""
    if analytical != 0.0:
        return ""
    if not isinstance(out, Value):
        return (f"; f returned {describe(out)}, not a Value: the engine has no graph to "
                "differentiate (f computes with .data, .item() or float() somewhere?)")
    if out.requires_grad and any(node is leaf for node in topological_order(out)):
        return ""
    return (f"; f's result does not depend on input {i} in the engine's graph, so the "
            f"analytical value is 0: f uses input {i}'s numbers outside the graph (.data, "
            ".item(), float(), detach() or no_grad() inside f?)")


def _case(what: str, upstreams: list[tuple[Any, float]], out_shape: tuple[int, ...], order: int,
          seed: int, atol: float, rtol: float, eps: float) -> _Case:
    """What a failure message says the compared numbers are."""
    if len(upstreams) == 2:  # one output: its own derivative
        of_what = "" if order == 1 else (
            f"; both are of the recorded first derivative along random directions (seed={seed})")
    else:
        of_what = (f"; both are gradients of sum(f(...) · u), u a random upstream gradient "
                   f"(seed={seed}) of f's shape {out_shape}" if order == 1 else
                   f"; both are of the recorded first derivative of sum(f(...) · u) along random "
                   f"directions, u a random upstream gradient (seed={seed})")
    return _Case(what, f"tolerance atol={atol}, rtol={rtol}, eps={eps}", of_what,
                 upstreams[0][0] if len(upstreams) == 1 and out_shape else None)


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
    seed: int = 0,
) -> bool:
    """Compare the engine's gradients of `f` at `inputs` with central differences.

    `f` receives one Value per input. Every element of every input is checked:
    ``|analytical − numerical| ≤ atol + rtol·|numerical|``, a non-finite numerical value only
    against the same value, and each gradient must have its input's shape. A tensor result
    is contracted with a random upstream gradient `u` drawn from `seed` (both signs, sizes in
    [0.5, 1.5]), so a rule that misuses its upstream gradient is caught (the differences are
    taken element by element of the result, then contracted with u, as PyTorch's gradcheck
    takes them); a scalar result is checked as f′ itself, with two upstream gradients of
    opposite signs. Give a tensor-valued
    `f`: with ``f(x).sum()`` every op inside sees a constant upstream gradient of ones, which a
    rule that reorders or averages `g` passes. With ``order=2`` the first derivative the engine
    records is checked the same way. Returns True, or raises `GradcheckError`. The inputs
    come back unchanged, and so does the `.grad` of every Value `f` closes over.

    >>> gradcheck(lambda x: x.exp(), [0.5, 1.5], order=2)
    True
    """
    if not isinstance(order, int | np.integer) or isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2; got {order!r}")
    _check_steps("gradcheck", eps, atol, rtol)
    _check_seed("gradcheck", seed)
    _check_f("gradcheck", f, inputs)
    datas = _inputs("gradcheck", inputs)
    return _check("gradcheck", f, datas, eps=eps, atol=atol, rtol=rtol, order=order, seed=seed)


def gradgradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives of `f`, through its inputs and its upstream gradient.

    As PyTorch's `gradgradcheck`: the first derivative is recorded as a function of the
    inputs *and* of an upstream gradient `u` (a Value drawn from `seed`),
    ``h(x, u) = Σ ⟨gradients(⟨f(x), u⟩, x), v⟩`` for random directions `v`, and `gradcheck`
    compares the engine's gradients of `h` with central differences of it. ``∂h/∂u`` is the
    Jacobian-vector product, so a rule that uses the raw data of its upstream gradient (cutting
    the recorded pass) fails here, even for an op whose rule is linear in `u`. Give a
    tensor-valued `f`, not ``f(x).sum()`` (see `gradcheck`). In a failure message, the input
    after the last of `inputs` is `u`.

    >>> gradgradcheck(lambda x: x - 1.0, 3.0)
    True
    >>> gradgradcheck(lambda x, y: (x * y).tanh(), [0.5, 1.5], [2.0, -1.0])
    True
    """
    _check_steps("gradgradcheck", eps, atol, rtol)
    _check_seed("gradgradcheck", seed)
    _check_f("gradgradcheck", f, inputs)
    datas = _inputs("gradgradcheck", inputs)
    rng = np.random.default_rng(seed)
    with no_grad():
        probe = _output("gradgradcheck", f(*(Value(d, requires_grad=False) for d in datas)))
    upstream = _random_upstream(rng, np.shape(probe.data if isinstance(probe, Value) else probe))
    directions = [rng.normal(size=np.shape(d)) for d in datas]

    def contracted(xs: Sequence[Value], u: Value) -> Any:  # ⟨f(x), u⟩, recorded
        out = f(*xs)
        if not isinstance(out, Value) or not out.requires_grad:
            return 0.0  # f is constant: its derivatives are 0
        return (out * u).sum() if out.shape else out * u

    def first_derivative(*args: Value) -> Any:
        with enable_grad():
            return _along(contracted(args[:-1], args[-1]), args[:-1], directions)

    def its_terms(*args: Value) -> Any:  # (differenced one by one: see `_along_terms`)
        with enable_grad():
            return _along_terms(contracted(args[:-1], args[-1]), args[:-1], directions)

    try:
        return _check("gradgradcheck", first_derivative, [*datas, upstream], eps=eps,
                      atol=atol, rtol=rtol, order=1, seed=seed, terms=its_terms)
    except GradcheckError as error:
        raise GradcheckError(f"gradgradcheck (input {len(datas)} is the upstream gradient): "
                             f"{error}") from None
