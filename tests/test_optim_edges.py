"""Edges of the optimizers: frozen parameters, PyTorch's exact arithmetic, wrong arguments.

Each test compares with torch.optim in float64 where PyTorch defines the answer.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from tinygrad_edu import Value
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam, Optimizer

torch: Any = importlib.import_module("torch")

SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.1}),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.99), "weight_decay": 0.1}),
]


def _ours(name: str) -> type[Optimizer]:
    return {"SGD": SGD, "Adam": Adam}[name]


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS)
def test_a_parameter_frozen_between_steps_is_left_as_pytorch_leaves_it(
        name: str, kwargs: dict[str, Any]) -> None:
    """Train a and b, freeze b (requires_grad=False) for three steps, unfreeze it: PyTorch
    skips b while it is frozen (its .grad is None after zero_grad()), so neither momentum,
    weight decay nor Adam's moments move it, and Adam's bias correction of b counts only the
    steps b took part in. Ours moved the frozen b on every step."""
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=(3,)), rng.normal(size=(2, 2))]
    scales = [rng.normal(size=(3,)), rng.normal(size=(2, 2))]
    ours = [Value(s.copy()) for s in starts]
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    opt = _ours(name)(ours, **kwargs)
    torch_opt = getattr(torch.optim, name)(theirs, **kwargs)
    frozen_data = np.zeros(0)
    for step in range(9):
        frozen = 3 <= step < 6
        ours[1].requires_grad = not frozen
        theirs[1].requires_grad_(not frozen)
        opt.zero_grad()
        torch_opt.zero_grad()
        sum(((c * p * p).sum() for c, p in zip(scales, ours, strict=True)), Value(0.0)).backward()
        sum((torch.tensor(c) * p * p).sum() for c, p in zip(scales, theirs, strict=True)).backward()
        opt.step()
        torch_opt.step()
        if step == 3:
            frozen_data = np.array(ours[1].data)
        if frozen:
            assert np.array_equal(ours[1].data, frozen_data)  # not moved at all
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("name", "kwargs"), [s for s in SETTINGS if "weight_decay" in s[1]])
def test_a_parameter_frozen_from_the_start_never_moves(name: str, kwargs: dict[str, Any]) -> None:
    """A frozen layer of a model (fine-tuning the rest) keeps its weights bit for bit; weight
    decay shrank them towards zero."""
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].W.requires_grad = False
    model.layers[0].b.requires_grad = False
    before = model.state_dict()
    opt = _ours(name)(model.parameters(), **kwargs)
    X = np.random.default_rng(1).normal(size=(8, 2))
    for _ in range(3):
        opt.zero_grad()
        (model(X) ** 2).mean().backward()
        opt.step()
    after = model.state_dict()
    assert np.array_equal(after["layers.0.W"], before["layers.0.W"])
    assert np.array_equal(after["layers.0.b"], before["layers.0.b"])
    assert not np.array_equal(after["layers.1.W"], before["layers.1.W"])


def test_a_gradient_given_to_a_frozen_parameter_is_used_as_pytorch_uses_it() -> None:
    """PyTorch steps any parameter that has a .grad, frozen or not; so do we (a regression
    test: the skip is for frozen parameters without a gradient only)."""
    ours = Value([1.0, 2.0], requires_grad=False)
    theirs = torch.tensor([1.0, 2.0], dtype=torch.float64)
    ours.grad = [0.5, -1.0]
    theirs.grad = torch.tensor([0.5, -1.0], dtype=torch.float64)
    opt, torch_opt = Adam([ours], lr=0.1), torch.optim.Adam([theirs], lr=0.1)
    opt.step()
    torch_opt.step()
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@given(beta1=st.sampled_from([0.0, 0.25, 0.5, 0.75, 0.875]), seed=st.integers(0, 2**32 - 1),
       lr=st.sampled_from([1e-3, 0.01, 0.1]))
@settings(max_examples=25, deadline=None)
def test_adams_first_moment_is_torchs_lerp_bit_for_bit(beta1: float, seed: int,
                                                       lr: float) -> None:
    """PyTorch computes Adam's m as lerp(m, g, 1 − β₁), m + (1 − β₁)·(g − m); ours computed
    β₁·m + (1 − β₁)·g, the same number on paper, rounded differently. Bit for bit over 40
    steps, tensors and scalars, where nothing else can differ: 1 − β₁ a power of two (so
    PyTorch's fused multiply-add rounds as ours), β₂ = 0 (so v = g², whose square root, |g|,
    every sqrt gets exactly) and gradients of few bits."""
    rng = np.random.default_rng(seed)
    shapes: list[tuple[int, ...]] = [(), (5,), (2, 3)]
    starts = [rng.integers(-64, 64, size=shape) / 16.0 for shape in shapes]
    ours = [Value(float(s) if s.ndim == 0 else s.copy()) for s in starts]
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    opt = Adam(ours, lr=lr, betas=(beta1, 0.0))
    torch_opt = torch.optim.Adam(theirs, lr=lr, betas=(beta1, 0.0))
    for _ in range(40):
        for p, t in zip(ours, theirs, strict=True):
            g = rng.integers(1, 64, size=p.shape) * rng.choice([-0.125, 0.125], size=p.shape)
            p.grad = float(g) if g.ndim == 0 else g
            t.grad = torch.tensor(g)
        opt.step()
        torch_opt.step()
        for p, t in zip(ours, theirs, strict=True):
            assert np.array_equal(np.asarray(p.data), t.detach().numpy())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (MLP(2, [1], seed=0), r"got MLP\(2 → 1 identity\) .*: pass model\.parameters\(\)"),
        (None, r"iterable of Values .*got None .*: pass a list of Values"),
        ({"w": Value(1.0)}, r"iterable of Values .*got \{'w': .*: pass a list of Values"),
    ],
)
def test_an_optimizer_given_no_list_of_values_says_what_to_pass(params: Any,
                                                                 message: str) -> None:
    """SGD(model, ...) said "'MLP' object is not iterable", SGD(None, ...) "'NoneType' object
    is not iterable", and a dict of parameters "parameter 0 is not a Value; got str"."""
    with pytest.raises(TypeError, match=message):
        SGD(params, lr=0.1)


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS)
@pytest.mark.parametrize("scalar", [False, True], ids=["tensor", "scalar"])
def test_a_step_is_ieee_arithmetic_whatever_numpy_is_told_to_do_on_errors(
        name: str, kwargs: dict[str, Any], scalar: bool) -> None:
    """Gradients that overflow (g·g in Adam, lr·g) give inf and nan, silently, as PyTorch's
    do and as the engine's operations do, also under ``np.seterr(all="raise")``: the step
    raised FloatingPointError there, halfway, with some moments updated and others not."""
    def run(errors: str) -> list[Any]:
        # (p − lr·g overflows at the first parameter, g·g at both)
        grads = [np.array([1.7e308, -1e-200, 3.0]), np.array([1e200, 2.0, -1e308])]
        starts = [np.array([-1.7e308, 1.0, 1.0]), np.ones(3)]
        params = [Value(float(x[0]) if scalar else x.copy()) for x in starts]
        opt = _ours(name)(params, **kwargs)
        with np.errstate(all=errors):  # type: ignore[arg-type]
            for _ in range(2):
                for p, g in zip(params, grads, strict=True):
                    p.grad = float(g[0]) if scalar else g.copy()
                opt.step()
        return [p.data for p in params]

    ignoring = run("ignore")
    if name == "SGD":
        assert not np.isfinite(np.asarray(ignoring[0])).all()
    raising = run("raise")
    for ours, expected in zip(raising, ignoring, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(expected), equal_nan=True)


# ---- an optimizer's state belongs to each parameter, not to a place in `params` ---------


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1)])
def test_taking_a_parameter_out_of_params_leaves_the_others_state(make: Any) -> None:
    # state was kept by position: b took a's momentum (moved by 9 on a zero gradient), and a
    # parameter appended gave a bare IndexError at the next step
    a, b = Value(np.array([1.0, 1.0])), Value(np.array([5.0, 5.0]))
    opt = make([a, b])
    a.grad, b.grad = np.array([100.0, 100.0]), np.zeros(2)
    opt.step()
    opt.params.remove(a)
    b.zero_grad()
    opt.step()
    np.testing.assert_array_equal(b.data, [5.0, 5.0])
    c = Value(np.ones(3))
    opt.params.append(c)
    c.grad = np.ones(3)
    opt.step()
    alone = make([Value(np.ones(3))])
    alone.params[0].grad = np.ones(3)
    alone.step()
    np.testing.assert_array_equal(c.data, alone.params[0].data)  # (a fresh state of its own)


@pytest.mark.parametrize(("make", "setting", "bad"), [
    (lambda ps: SGD(ps, lr=0.1), "momentum", "0.9"),
    (lambda ps: SGD(ps, lr=0.1), "momentum", -0.5),
    (lambda ps: SGD(ps, lr=0.1), "weight_decay", math.inf),
    (lambda ps: Adam(ps), "betas", (0.9, 1.0)),
    (lambda ps: Adam(ps), "eps", -1.0),
    (lambda ps: Adam(ps), "weight_decay", "0"),
])
def test_a_setting_changed_later_is_checked_as_the_constructor_checks_it(
        make: Any, setting: str, bad: Any) -> None:
    # only lr was: betas (0.9, 1.0) set later made every parameter nan at the next step
    opt = make([Value(np.ones(2))])
    before = getattr(opt, setting)
    with pytest.raises(ValueError, match=f"{type(opt).__name__}: {setting} must be"):
        setattr(opt, setting, bad)
    assert getattr(opt, setting) == before
    setattr(opt, setting, (0.5, 0.5) if setting == "betas" else 0.25)  # a good one is taken
    assert getattr(opt, setting) == ((0.5, 0.5) if setting == "betas" else 0.25)


def test_a_setting_never_set_is_no_attribute() -> None:
    """`_Setting` raised KeyError: hasattr(opt, "lr") was an error, not False."""
    class Plain(Optimizer):
        def _update(self) -> None:
            pass

    opt = Plain([Value(1.0)])
    assert not hasattr(opt, "lr") and getattr(opt, "lr", 0.01) == 0.01
    assert SGD.momentum.__doc__ == "The momentum factor, a finite number ≥ 0 (0: none)."
