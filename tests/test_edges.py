"""Numbers at the edges: special values on both paths, power's special cases, nan gradients,
silent IEEE and `detect_anomaly`, empty input.

The reference is PyTorch float64 (not installed here: its semantics are stated at each test).
"Both paths" are a scalar Value (Python floats through `math`) and a one-element tensor (numpy).
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import ACTIVATIONS, Value, detect_anomaly, engine, grad, ops
from tinygrad_edu.data import Array
from tinygrad_edu.engine import Primitive, gradients
from tinygrad_edu.kernels import BCE_EPSILON
from tinygrad_edu.nn import (
    Perceptron,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
)
from tinygrad_edu.testing.op_info import OP_INFO

inf, nan = math.inf, math.nan
SPECIALS = (nan, inf, -inf, 0.0, -0.0, 1e308, -1e308, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0,
            -3.0, 1.5, 5e-324)
ELEMENTWISE = [(name, params) for name, info in OP_INFO.items() if info.elementwise
               for params in info.examples]
BINARY = {"add", "sub", "mul", "div", "pow", "pow_exponent_slope", "binary_cross_entropy",
          "bce_slope", "maximum", "minimum"}


def run(prim: Primitive, xs: tuple[float, ...], params: dict[str, Any], *, tensor: bool,
        backward: bool) -> tuple[float, ...]:
    """(result, gradient wrt each input) of `prim` at `xs`, on one path.

    `backward` runs `.backward()` (the fast executor), otherwise the reference pass.
    """
    leaves = [Value(np.array([x]) if tensor else x) for x in xs]
    out = engine.apply(prim, *leaves, **params)
    root = out.sum() if tensor else out
    if backward:
        root.backward()
        grads = [leaf.grad for leaf in leaves]
    else:
        grads = engine.gradients(root, leaves)
    return tuple(float(np.reshape(v, -1)[0]) for v in (out.data, *grads))


def same_ieee(a: float, b: float, *, signed_zero: bool) -> bool:
    """The same IEEE class (nan, ±inf, ±0), and equal to a few ulps otherwise (math and numpy
    may round exp, log, erfc... differently in the last place)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or a == 0.0 or b == 0.0:
        return a == b and (not signed_zero or math.copysign(1, a) == math.copysign(1, b))
    return math.isclose(a, b, rel_tol=1e-14)


# ---- scalar path == tensor path, at every special value, for every elementwise primitive


@pytest.mark.parametrize(("name", "params"), ELEMENTWISE)
@given(data=st.data())
def test_scalar_and_tensor_paths_give_the_same_ieee_result(name: str, params: dict[str, Any],
                                                            data: st.DataObject) -> None:
    prim = ops.REGISTRY[name]
    xs = tuple(data.draw(st.sampled_from(SPECIALS)) for _ in range(2 if name in BINARY else 1))
    scalar = run(prim, xs, params, tensor=False, backward=False)
    tensor = run(prim, xs, params, tensor=True, backward=False)
    fast_scalar = run(prim, xs, params, tensor=False, backward=True)
    where = f"{name}{params} at {xs}: scalar {scalar}, tensor {tensor}"
    assert same_ieee(scalar[0], tensor[0], signed_zero=True), where
    for s, t, f in zip(scalar[1:], tensor[1:], fast_scalar[1:], strict=True):
        # (a gradient's sign of zero may differ: so it may in PyTorch, where vs. a product)
        assert same_ieee(s, t, signed_zero=False), where
        assert same_ieee(s, f, signed_zero=False), f"{where}, backward() {fast_scalar}"


# ---- a nan input never gives a clean-looking gradient, unless it is PyTorch's value

NanGradient = Callable[[dict[str, Any]], float]
"""The gradient PyTorch gives at a nan input, from the op's params."""

# PyTorch's gradient at a nan input where it is a number: what the formula gives when it does
# not read the nan (neg: -1; sign: zeros_like; leaky_relu_backward: self > 0 ? g : g·slope;
# pow at exponent 0: zeros; exponent 1: 1·nan**0 = 1); step has no gradient anywhere (ours).
PYTORCH_AT_NAN: dict[str, NanGradient] = {
    "neg": lambda p: -1.0,
    "sign": lambda p: 0.0,
    "step": lambda p: 0.0,
    "relu": lambda p: 1.0,  # threshold_backward: nan <= 0 is False, so the gradient passes
    "leaky_relu": lambda p: p["negative_slope"],
    "pow_const": lambda p: {0.0: 0.0, 1.0: 1.0}.get(p["exponent"], nan),
    "clip": lambda p: 0.0,  # clamp_backward: g where min <= a <= max, False at nan
}


@pytest.mark.parametrize(("name", "params"), [(n, p) for n, p in ELEMENTWISE if n not in BINARY])
@pytest.mark.parametrize("tensor", [False, True])
def test_a_nan_input_gives_nan_or_pytorchs_gradient(name: str, params: dict[str, Any],
                                                    tensor: bool) -> None:
    rule: NanGradient = PYTORCH_AT_NAN.get(name, lambda p: nan)
    expected = rule(params)
    for backward in (False, True):
        _, g = run(ops.REGISTRY[name], (nan,), params, tensor=tensor, backward=backward)
        assert same_ieee(g, expected, signed_zero=False), f"{name}{params}: {g}, not {expected}"


@pytest.mark.parametrize("name", sorted(BINARY))
@given(other=st.sampled_from(SPECIALS), nan_first=st.booleans())
def test_a_nan_operand_gets_nan_or_pytorchs_gradient(name: str, other: float,
                                                     nan_first: bool) -> None:
    # PyTorch's formulas: add/sub pass ±g whatever the operands; mul sends the other operand
    # (d(a·b)/da = b); div sends 1/b to a; pow sends 0 to the base where the exponent is 0
    # (and 1 where it is 1: 1·nan**0); maximum and minimum send g to both (nan is neither
    # larger, smaller nor equal); every other gradient reads the nan and is nan
    xs = (nan, other) if nan_first else (other, nan)
    _, ga, gb = run(ops.REGISTRY[name], xs, {}, tensor=False, backward=True)
    a, b = xs
    pytorch = {
        "add": (1.0, 1.0), "sub": (1.0, -1.0), "mul": (b, a),
        "div": (1.0 / b if b else math.copysign(inf, b) if not math.isnan(b) else nan, nan),
        "pow": (0.0 if b == 0 else 1.0 if b == 1 else nan, nan),
        # pow's d/db, a^b·log(a) (PyTorch's a ** b * log(a)): both partials read both
        "pow_exponent_slope": (nan, nan),
        # (p − y)/max(p(1 − p), 1e-12) reads both; d/dy = log(1 − p) − log(p) reads p only
        "binary_cross_entropy": (nan, nan if nan_first else _log_odds_against(a)),
        # its slope's: d/dp = y/p² + (1 − y)/(1 − p)² reads both, but is 1/ε in the floor
        # (the slope there is (p − y)/ε); d/dy = −1/max(p(1 − p), ε) reads p only
        "bce_slope": (nan, nan) if nan_first else _bce_slope_partials_at_nan_target(a),
        "maximum": (1.0, 1.0), "minimum": (1.0, 1.0),
    }[name]
    if name in ("pow", "pow_exponent_slope") and nan_first is False and other == 1.0:
        pytorch = (nan, 0.0)  # 1**nan is 1 (IEEE), d/db = 1·log(1) = 0 (its own: 1·log²(1))
    if name == "mul" and math.isinf(b) and not nan_first:
        pytorch = (nan, a)
    assert same_ieee(ga, pytorch[0], signed_zero=False), (name, xs, ga, gb)
    assert same_ieee(gb, pytorch[1], signed_zero=False), (name, xs, ga, gb)


def _log_odds_against(p: float) -> float:
    with np.errstate(all="ignore"):
        return float(np.log(1.0 - np.float64(p)) - np.log(np.float64(p)))


def _bce_slope_partials_at_nan_target(p: float) -> tuple[float, float]:
    """bce_slope's derivatives at (p, nan): (1/ε, −1/ε) where p(1 − p) < ε, else (nan,
    −1/(p(1 − p)))."""
    pq = p * (1.0 - p)
    if pq < BCE_EPSILON:
        return 1.0 / BCE_EPSILON, -1.0 / BCE_EPSILON
    return nan, -1.0 / pq


@pytest.mark.parametrize("tensor", [False, True])
def test_relu_at_nan_backpropagates_pytorchs_gradient(tensor: bool) -> None:
    # PyTorch: relu's backward is threshold_backward(grad, result, 0): result <= 0 ? 0 : grad,
    # and nan <= 0 is False, so the gradient at nan is grad (1.0), never a clean 0.0
    for backward in (False, True):
        _, g = run(ops.REGISTRY["relu"], (nan,), {}, tensor=tensor, backward=backward)
        assert g == 1.0


# ---- power: both primitives agree with each other and with PyTorch on every special case


POWER_CASES = [  # base, exponent, a**b, d/da (PyTorch's pow_backward; see each note)
    (0.0, 0.0, 1.0, 0.0),  # 0**0 = 1; where(exponent == 0, 0, ...): 0, not 0·0**-1 = nan
    (nan, 0.0, 1.0, 0.0),  # nan**0 = 1 (IEEE), and the same where
    (5e-324, 0.0, 1.0, 0.0),  # 0·(5e-324)**-1 = 0·inf: the same where
    (0.0, -1.0, inf, -inf),  # -1·0**-2
    (-0.0, -1.0, -inf, -inf),  # pow(-0, odd negative) = -inf; -1·(-0)**-2 = -inf
    (0.0, -0.5, inf, -inf),
    (0.0, 2.0, 0.0, 0.0),
    (0.0, 0.5, 0.0, inf),  # 0.5·0**-0.5
    (-2.0, 3.0, -8.0, 12.0),  # negative base, integer exponent: real
    (-2.0, -2.0, 0.25, 0.25),
    (-2.0, 0.5, nan, nan),  # negative base, fraction: no real power
    # -inf to a fraction: C's pow, inf or 0 (a number exponent of ±0.5: see NUMBER_EXPONENT)
    (-inf, 0.5, inf, 0.0),  # 0.5·(-inf)**-0.5 = 0.5·0
    (-inf, 1.5, inf, inf),  # 1.5·(-inf)**0.5
    (-inf, -0.5, 0.0, -0.0),  # -0.5·(-inf)**-1.5 = -0.5·0
    (-0.0, 0.5, 0.0, inf),  # C's pow(-0.0, 0.5) = 0.0; 0.5·pow(-0.0, -0.5) = 0.5·inf
    (-inf, 2.0, inf, -inf),  # 2·(-inf)**1
    (-inf, 3.0, -inf, inf),
    (inf, 0.5, inf, 0.0),  # 0.5·inf**-0.5
    (inf, -1.0, 0.0, -0.0),
    (1.0, inf, 1.0, inf),  # inf·1**inf
]


# PyTorch's x ** c for a number c runs sqrt for 0.5 and rsqrt for -0.5 (its pow_backward, the
# same for c − 1): -0.0 and -inf give sqrt's -0.0 and nan, and 1/sqrt's -inf and nan
NUMBER_EXPONENT = {  # (base, exponent): (a**b, d/da), where they differ from POWER_CASES
    (-inf, 0.5): (nan, nan),  # sqrt(-inf); 0.5·rsqrt(-inf)
    (-inf, 1.5): (inf, nan),  # C's pow; 1.5·sqrt(-inf)
    (-inf, -0.5): (nan, -0.0),  # rsqrt(-inf); -0.5·(-inf)**-1.5 = -0.5·0
    (-0.0, 0.5): (-0.0, -inf),  # sqrt(-0.0); 0.5·rsqrt(-0.0)
}


@pytest.mark.parametrize(("a", "b", "value", "d_base"), POWER_CASES)
@pytest.mark.parametrize("tensor", [False, True])
@pytest.mark.parametrize("exponent_is_value", [False, True])
def test_power_special_cases(a: float, b: float, value: float, d_base: float, tensor: bool,
                             exponent_is_value: bool) -> None:
    if not exponent_is_value:
        value, d_base = next((pair for (x, y), pair in NUMBER_EXPONENT.items()
                              if repr(x) == repr(a) and y == b), (value, d_base))  # (-0.0 ≠ 0.0)
    base = Value(np.array([a]) if tensor else a)
    exponent = Value(np.array([b]) if tensor else b) if exponent_is_value else b
    out = base**exponent
    (out.sum() if tensor else out).backward()
    assert same_ieee(float(np.reshape(out.data, -1)[0]), value, signed_zero=True)
    assert same_ieee(float(np.reshape(base.grad, -1)[0]), d_base, signed_zero=False)


def test_zero_to_the_zero_has_base_gradient_zero_with_a_value_exponent() -> None:
    x, y = Value(0.0), Value(0.0)
    z = x**y
    z.backward()
    assert (z.data, x.grad, y.grad) == (1.0, 0.0, 0.0)  # PyTorch: 1, 0 and 0


@pytest.mark.parametrize("tensor", [False, True])
@pytest.mark.parametrize(("a", "b"), [(-2.0, 0.0), (3.0, -0.0), (-0.5, -0.0)])
def test_the_base_gradient_at_a_zero_value_exponent_is_plus_zero(a: float, b: float,
                                                                  tensor: bool) -> None:
    """b·a^(b−1) is −0.0 at b = ±0 with a negative base (or b = −0.0): PyTorch, and a number
    exponent, give +0.0; the mixed second derivative a^(b−1)·(1 + b·log a) stays."""
    x, y = Value(np.array([a]) if tensor else a), Value(np.array([b]) if tensor else b)
    out = x**y
    (out.sum() if tensor else out).backward(create_graph=True)
    d_base = x.grad
    assert same_ieee(float(np.reshape(d_base.data, -1)[0]), 0.0, signed_zero=True)
    y.zero_grad()
    (d_base.sum() if tensor else d_base).backward()
    assert same_ieee(float(np.reshape(y.grad, -1)[0]), 1.0 / a if a > 0 else math.nan,
                     signed_zero=True)


@given(a=st.sampled_from(SPECIALS), b=st.sampled_from(SPECIALS), tensor=st.booleans())
def test_both_power_primitives_agree(a: float, b: float, tensor: bool) -> None:
    results = []
    for exponent_is_value in (False, True):
        base = Value(np.array([a]) if tensor else a)
        exponent = Value(np.array([b]) if tensor else b) if exponent_is_value else b
        out = base**exponent
        (out.sum() if tensor else out).backward()
        results.append((float(np.reshape(out.data, -1)[0]), float(np.reshape(base.grad, -1)[0])))
    (v1, g1), (v2, g2) = results
    # (but where PyTorch's number exponent runs sqrt or rsqrt: at -0.0 and -inf, for b = ±0.5
    # in the value, and b − 1 = ±0.5 too in the slope: NUMBER_EXPONENT)
    half = a in (-inf, 0.0) and math.copysign(1.0, a) < 0.0
    assert (half and b in (0.5, -0.5)) or same_ieee(v1, v2, signed_zero=True), (a, b, results)
    assert (half and b in (0.5, -0.5, 1.5)) or same_ieee(g1, g2, signed_zero=False), (
        a, b, results)


# ---- silent IEEE, and detect_anomaly() for a learner who wants to be told


SILENT = """
import numpy as np
from tinygrad_edu import Value
x = Value(np.array([800.0, -1.0, 0.0, 1e308, -np.inf]))
results = [x.exp(), x.log(), x.sqrt(), x * 10.0, 1.0 / x, x**0.5, x - x * np.inf, x.tanh(),
           x.sigmoid(), x.softplus(), x.gelu(), x.elu(), x**Value(-0.5), x.mean(axis=0)]
assert results[0].data[0] == np.inf and np.isnan(results[1].data[1])
assert results[4].data[2] == np.inf and results[3].data[3] == np.inf
big = Value([1e308, 1e308])  # sums that overflow: the forward's, and a bias's gradient's
assert big.sum().data == np.inf and big.mean().data == np.inf
(big + Value(np.full((3, 2), 1e308))).backward(np.full((3, 2), 1e308))
assert big.grad.tolist() == [np.inf, np.inf]
print("ok")
"""


def test_the_tensor_forward_is_silent_ieee() -> None:
    # a fresh interpreter that turns every RuntimeWarning into an error (pytest's own warning
    # capture is entered before the package is imported, and would hide the package's filter)
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", SILENT],
                          capture_output=True, text=True, check=False)
    assert done.stdout == "ok\n", done.stderr
    user = subprocess.run([sys.executable, "-c", "import numpy as np, tinygrad_edu\n"
                           "np.log(np.array([-1.0]))"], capture_output=True, text=True, check=False)
    assert "RuntimeWarning" in user.stderr  # a learner's own numpy code still warns


LEARNERS_TEST = """
import numpy as np
from tinygrad_edu import Value

def test_special_values():
    for x in (Value(0.0), Value([0.0, -1.0, 1.0])):
        y = x.log() + x / 0.0 + x.sqrt() + (x * 1e308).exp()
        (y if y.shape == () else y.sum()).backward()
        assert np.isnan(np.sum(y.data))
"""


def test_a_learners_own_tests_see_no_warnings(tmp_path: Path) -> None:
    """pytest restores its warning filters after collecting a test file, dropping the one the
    package installs when imported; its plugin (tinygrad_edu.testing.pytest_plugin) gives
    pytest the same filter. A learner's test file, in a project of its own whose settings
    make every warning an error (a common strict setting)."""
    (tmp_path / "test_mine.py").write_text(LEARNERS_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "test_mine.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    assert "warning" not in done.stdout.lower(), done.stdout


def test_detect_anomaly_names_the_op_and_its_operands() -> None:
    x = Value(np.array([1.0, -1.0]), label="x")
    with detect_anomaly():
        y = x * 2.0  # finite: fine
        with pytest.raises(FloatingPointError, match=r"log gave nan, from x \(shape \(2,\)\)"):
            x.log()
        with pytest.raises(FloatingPointError, match=r"/ gave inf, from w \(a scalar\)"):
            Value(1.0, label="w") / 0.0
        with pytest.raises(FloatingPointError, match="exp gave inf"):
            (y * 1000.0).exp()
    assert (Value(1.0) / 0.0).data == inf  # off again: silent IEEE


def test_detect_anomaly_sees_a_float_operator_overflow() -> None:
    """Python floats overflow to inf without raising: the fused operators (fast.py) must give
    way to the checked reference inside detect_anomaly, and come back after it."""
    fused = Value.__mul__
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"\* gave inf, from w"):
        assert Value.__mul__ is fused.__wrapped__  # type: ignore[attr-defined]
        Value(1e308, label="w") * 10.0
    assert Value.__mul__ is fused
    assert (Value(1e308) * 10.0).data == inf  # off again: silent IEEE


def test_detect_anomaly_checks_a_recorded_backward_pass() -> None:
    x = Value(0.0, label="x")
    with detect_anomaly(), pytest.raises(FloatingPointError, match="gave"):
        grad(lambda v: v.sqrt())(x)


# ---- empty and degenerate input


def test_mean_of_nothing_is_nan_as_in_pytorch() -> None:
    m = Value(np.zeros(0)).mean()
    columns = Value(np.zeros((0, 3)))
    c = columns.mean(axis=0)
    m.backward()
    c.backward(np.ones(3))
    assert math.isnan(m.data) and np.isnan(c.data).all()
    assert columns.grad.shape == (0, 3)


def test_grad_of_a_constant_function_is_zero_as_in_jax() -> None:
    assert grad(lambda x: 5.0)(2.0) == 0.0
    assert grad(lambda x, y: 3)(2.0, 1.0) == 0.0
    np.testing.assert_array_equal(grad(lambda x: 5.0)(np.array([1.0, 2.0])), [0.0, 0.0])
    with pytest.raises(TypeError, match="scalar"):
        grad(lambda x: "text")(2.0)


@pytest.mark.parametrize("loss", [mse_loss, hinge_loss, binary_cross_entropy_with_logits])
def test_a_loss_on_zero_samples_is_a_clear_error(loss: Any) -> None:
    with pytest.raises(ValueError, match=f"{loss.__name__}: no samples"):
        loss(Value(np.zeros(0)), np.zeros(0))
    with pytest.raises(ValueError, match=f"{loss.__name__}: no samples"):
        loss(Value(np.zeros((0, 1))), np.zeros(0))


def test_cross_entropy_on_zero_samples_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cross_entropy: no samples"):
        cross_entropy(Value(np.zeros((0, 3))), np.zeros(0, dtype=int))


@pytest.mark.parametrize(("X", "y", "message"), [
    (np.zeros((0, 2)), np.zeros(0), "no samples"),
    ([[nan, 0.0], [1.0, 1.0]], [0, 1], "sample 0 of X holds a nan"),
    ([[0.0, 0.0], [1.0, -inf]], [0, 1], "sample 1 of X holds a nan or an infinity"),
])
def test_perceptron_fit_refuses_empty_or_non_finite_data(X: Any, y: Any, message: str) -> None:
    perceptron = Perceptron(2, seed=0)
    before = perceptron.weights.copy()
    with pytest.raises(ValueError, match=message):
        perceptron.fit(X, y)  # (it said converged=True)
    np.testing.assert_array_equal(perceptron.weights, before)


def test_detect_anomaly_sees_the_array_builders_and_is_off_after() -> None:
    from tinygrad_edu import stack, where

    x = Value([1.0, 2.0], label="x")
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match="stack"):
            stack([x, Value([inf, 0.0])])
        with pytest.raises(FloatingPointError, match="where"):
            where(np.array([True, False]), x, nan)
    assert np.isnan(cast(Array, where(np.array([True, False]), x, nan).data)[1])


# PyTorch's gradient at nan where it is a number: identity passes g; leaky_relu's backward is
# self > 0 ? g : g·slope; step has none (ours); relu: see
# test_relu_at_nan_backpropagates_pytorchs_gradient above
ACTIVATION_AT_NAN = {"identity": 1.0, "leaky_relu": 0.01, "step": 0.0}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_gives_one_ieee_result_on_both_paths(name: str) -> None:
    activation = ACTIVATIONS[name]
    for x in (*SPECIALS, 40.0, -40.0, 800.0, -800.0, 1e4, -1e4):
        results = []
        for tensor in (False, True):
            v = Value(np.array([x]) if tensor else x)
            out = activation(v)
            (out.sum() if tensor else out).backward()
            results.append((float(np.reshape(out.data, -1)[0]), float(np.reshape(v.grad, -1)[0])))
        (value, slope), (tensor_value, tensor_slope) = results
        assert same_ieee(value, tensor_value, signed_zero=True), (name, x, results)
        assert same_ieee(slope, tensor_slope, signed_zero=False), (name, x, results)
        if math.isnan(x) and name != "relu":
            assert same_ieee(slope, ACTIVATION_AT_NAN.get(name, nan), signed_zero=False), name


def test_detect_anomaly_checks_a_plain_backward_pass_for_nan() -> None:
    """As PyTorch's anomaly mode ("Function 'SqrtBackward0' returned nan values"): the rule
    that first sends a nan is named; an infinite gradient is a true one. (Only a recorded
    pass was checked: this one gave x.grad nan without a word.)"""
    x = Value(0.0, label="x")
    with detect_anomaly(), pytest.raises(FloatingPointError, match=(
            r"^detect_anomaly: the gradient rule of sqrt gave nan for its operand 0, x \(a "
            r"scalar\), from the gradient 0.0")):
        (x.sqrt() * 0.0).backward()
    t = Value([0.0, 4.0], label="t")
    with detect_anomaly():
        t.sqrt().sum().backward()  # (inf at 0: a true gradient)
        with pytest.raises(FloatingPointError, match="gradient rule of sqrt gave nan"):
            gradients((t.sqrt() * 0.0).sum(), [t])
    assert t.grad.tolist() == [math.inf, 0.25]
    (x.sqrt() * 0.0).backward()  # outside: silent IEEE, as before
    assert math.isnan(x.grad)


def test_detect_anomaly_as_a_decorator() -> None:
    @detect_anomaly()
    def forward(x: Value) -> Value:
        return (x - 1.0).log()

    assert forward(Value(2.0)).data == 0.0
    with pytest.raises(FloatingPointError, match="log gave"):
        forward(Value(1.0))
    assert Value(0.0).log().data == -inf  # off again


# ---- arguments that do not fit: refused with the shapes, never a silently wrong result


@pytest.mark.parametrize("axes", [(1, 2), (3, 0), (-3, 0), (1.7, 0), (True, 0), (0, 0)])
def test_transpose_refuses_axes_that_are_not_a_permutation(axes: tuple[Any, ...]) -> None:
    """Out-of-range axes wrapped around and float axes were truncated: `transpose(1, 2)` of a
    (2, 3) Value gave its (3, 2) transpose, where numpy and PyTorch refuse."""
    with pytest.raises((ValueError, TypeError), match=r"transpose: ax"):
        Value(np.ones((2, 3))).transpose(*axes)


def test_a_numpy_integer_index_is_an_int_in_the_graph() -> None:
    """A numpy integer was taken for a Value (it has a `.data` buffer) and kept as a
    memoryview: the graph did not pickle and its picture read '[<memory at 0x…>]'."""
    x = Value([[1.0, 2.0], [3.0, 4.0]])
    y = x[np.int64(1)]
    assert y.params["index"] == 1 and type(y.params["index"]) is int
    z = pickle.loads(pickle.dumps(y.sum()))
    z.backward()
    with pytest.raises(TypeError, match="indices must be integers"):
        x[np.float64(1.0)]


def test_a_step_of_zero_is_refused_with_the_shape() -> None:
    with pytest.raises(IndexError, match=r"shape \(3,\).*step cannot be zero"):
        Value([1.0, 2.0, 3.0])[::0]


def test_a_rule_giving_a_gradient_of_the_wrong_shape_is_named() -> None:
    """A rule that forgets to broadcast its share back (a row sum's `g` for a (3, 4) x) left
    x.grad of shape (3, 1), against the contract; PyTorch refuses such a backward. Both passes
    refuse it, naming the primitive."""
    rowsum = Primitive("rowsum", lambda x: x.sum(axis=1, keepdims=True),
                       lambda g, out, x: (g,))
    wide = Primitive("wide", lambda x: x.sum(axis=1, keepdims=True),
                     lambda g, out, x: (np.ones((3, 5)),))
    for prim in (rowsum, wide):
        x = Value(np.ones((3, 4)))
        message = rf"{prim.name}: a rule gave an operand of shape \(3, 4\) a gradient of shape"
        with pytest.raises(ValueError, match=message):
            prim(x).sum().backward()
        with pytest.raises(ValueError, match=message):
            gradients(prim(x).sum(), [x])
        np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


def test_a_rules_own_error_comes_out_of_both_passes_alike() -> None:
    """Only the shape refusal is renamed; an error the rule raises itself is passed on as it
    is, by `backward()` as by `gradients()`."""
    def refuse(g: Any, out: Any, x: Any) -> tuple[Any]:
        raise ValueError("the rule's own words")

    odd = Primitive("odd", lambda x: x * 2.0, refuse)
    for backpropagate in (lambda y, x: y.backward(), lambda y, x: gradients(y, [x])):
        x = Value(np.ones(3))
        with pytest.raises(ValueError, match=r"^the rule's own words$"):
            backpropagate(odd(x).sum(), x)
