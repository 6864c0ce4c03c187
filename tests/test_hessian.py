"""Second derivatives of random graphs: Hessian-vector products against finite differences.

A graph is a recipe of ops over scalar and tensor leaves (shared nodes, broadcasting between
(), (3,) and (2, 3), reductions, indexing, relu and friends). The engine's Hessian-vector
product, ``∇⟨∇L, v⟩`` from a recorded backward pass, must match the central difference of
the plain first derivative along `v`, ``(∇L(x + εv) − ∇L(x − εv)) / 2ε``; and the recorded
first derivative must equal the plain one. A rule that cuts the recorded pass (reading the
raw data of its upstream gradient) fails the first; a recorded path that differs from the
plain one fails the second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value, where
from tinygrad_edu.engine import gradients
from tinygrad_edu.testing.strategies import floats_away_from

SHAPES = [(), (3,), (2, 3)]
COND = np.array([[True, False, True], [False, False, True]])
KINK = 0.123
RAMP = np.array([0.0, 1e3, 2e3])  # no ties in a max, whose derivative jumps there


def _index(x: Value) -> Value:
    return x[[0, 0, 1]] if x.shape == (3,) else x[-1] if x.ndim else x


UNARY: dict[str, Callable[[Value], Value]] = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "exp": lambda x: (x.tanh() * 2.0).exp(),
    "square": lambda x: x * x,
    "neg": lambda x: -x,
    # kinks moved off 0, where a node like x - x would sit on them
    "relu": lambda x: (x + KINK).relu() + 0.1 * x,
    "abs": lambda x: (x + KINK).abs(),
    "leaky_relu": lambda x: (x + KINK).leaky_relu(0.2),
    "elu": lambda x: (x + KINK).elu(),
    "softplus": lambda x: x.softplus(),
    "log_sqrt": lambda x: (x * x + 1.0).log() + (x * x + 0.5).sqrt(),
    "cube": lambda x: x**3.0,
    "sum": lambda x: x.sum(),
    "sum_keepdims": lambda x: x.sum(-1, keepdims=True) * 0.5 if x.ndim else x,
    "mean_axis0": lambda x: x.mean(0) if x.ndim else x,
    # (the ramp taken off again: a node of size 2e3 would make sin(...) too curved for
    # finite differences)
    "max": lambda x: ((x + RAMP[: x.shape[-1]]).max(-1, keepdims=True) - RAMP[x.shape[-1] - 1]
                      if x.ndim else x),
    "index": _index,
    "transpose_back": lambda x: x.T.reshape(x.shape[::-1]).T if x.ndim == 2 else x,
    "softmax": lambda x: x.softmax() * 2.0,
    "log_softmax": lambda x: x.log_softmax(0),
    "logsumexp": lambda x: x.logsumexp(-1, keepdims=True) if x.ndim else x.logsumexp(),
    "var": lambda x: x.var(-1, ddof=1, keepdims=True) if x.ndim and x.shape[-1] > 1 else x * 0.5,
    # (a ramp keeps the slices far from constant, where std's derivative jumps)
    "std": lambda x: (x + RAMP[: x.shape[-1]]).std(-1) * 1e-3 if x.ndim else x.std(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: (2.0 * x).cos(),
    "log1p": lambda x: (x * x).log1p(),
    "expm1": lambda x: x.tanh().expm1(),
    "clip": lambda x: x.clip(-0.77, 0.91) + 0.1 * x,  # (bounds no node is likely to sit on)
    "min": lambda x: ((x - RAMP[: x.shape[-1]]).min(-1, keepdims=True) + RAMP[x.shape[-1] - 1]
                      if x.ndim else x),
}
BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: (a * b).tanh(),
    "div": lambda a, b: a / (b * b + 1.0),
    "pow": lambda a, b: (a * a + 0.5) ** b.tanh(),
    "where": lambda a, b: where(COND, a, b) if np.broadcast_shapes(a.shape, b.shape) == (2, 3)
    else a * b,
    "matmul": lambda a, b: (a @ b.T).sum(0) if a.shape == b.shape == (2, 3) else a + b,
    # (b moved, so that maximum(a, a) is no tie)
    "maximum": lambda a, b: a.maximum(0.5 * b + 0.0371) * a,
    "minimum": lambda a, b: a.minimum(0.5 * b - 0.0371) * b,
}

Recipe = list[tuple[str, tuple[int, ...]]]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Any], Recipe]:
    """Leaves (data) and a recipe: ("leaf", (k,)), (unary, (i,)) or (binary, (i, j))."""
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3))
    elements = floats_away_from((0.0,), low=-1.5, high=1.5, margin=0.05)
    leaves = [draw(hnp.arrays(np.float64, s, elements=elements)) if s else draw(elements)
              for s in shapes]
    recipe: Recipe = [("leaf", (k,)) for k in range(len(leaves))]
    for _ in range(draw(st.integers(1, 7))):
        n = len(recipe)
        if draw(st.booleans()):
            recipe.append((draw(st.sampled_from(sorted(UNARY))), (draw(st.integers(0, n - 1)),)))
        else:
            i = draw(st.integers(0, n - 1))
            j = i if draw(st.integers(0, 4)) == 0 else draw(st.integers(0, n - 1))  # a * a too
            recipe.append((draw(st.sampled_from(sorted(BINARY))), (i, j)))
    return leaves, recipe


def loss(recipe: Recipe, leaves: list[Value]) -> Value:
    """Σ over the nodes of sum(node² · w), w fixed: every node's upstream gradient varies."""
    nodes: list[Value] = []
    for op, args in recipe:
        if op == "leaf":
            nodes.append(leaves[args[0]])
        elif op in UNARY:
            nodes.append(UNARY[op](nodes[args[0]]))
        else:
            a, b = (nodes[k] for k in args)
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                b = b.sum()
            nodes.append(BINARY[op](a, b))
    rng = np.random.default_rng(len(recipe))
    total = (nodes[-1] * nodes[-1]).sum()
    for node in nodes[len(leaves):-1]:
        total = total + (node * node * rng.normal(size=node.shape)).sum()
    return total


def first_derivative(recipe: Recipe, datas: list[Any]) -> list[Any]:
    leaves = [Value(d) for d in datas]
    return [np.asarray(g, dtype=np.float64) for g in gradients(loss(recipe, leaves), leaves)]


@given(graph=graphs(), seed=st.integers(0, 2**16))
def test_hessian_vector_product_matches_differences_of_the_gradient(
        graph: tuple[list[Any], Recipe], seed: int) -> None:
    datas, recipe = graph
    rng = np.random.default_rng(seed)
    directions = [rng.normal(size=np.shape(d)) for d in datas]
    leaves = [Value(d) for d in datas]
    grads = gradients(loss(recipe, leaves), leaves, create_graph=True)
    along: Any = Value(0.0, requires_grad=False)
    for g, v in zip(grads, directions, strict=True):
        along = along + (g * v).sum()
    hvp = [np.asarray(h, dtype=np.float64) for h in gradients(along, leaves)]
    if along.requires_grad:  # and the same by backward(), the fast executor
        along.backward()
        for h, leaf in zip(hvp, leaves, strict=True):
            np.testing.assert_allclose(np.asarray(leaf.grad, dtype=np.float64), h, rtol=1e-12,
                                       atol=1e-12)
    eps = 1e-5
    up = first_derivative(recipe, [d + eps * v for d, v in zip(datas, directions, strict=True)])
    down = first_derivative(recipe, [d - eps * v for d, v in zip(datas, directions, strict=True)])
    for k, h in enumerate(hvp):
        numerical = (up[k] - down[k]) / (2 * eps)
        np.testing.assert_allclose(h, numerical, rtol=1e-4, atol=1e-5,
                                   err_msg=f"H·v, leaf {k}, recipe {recipe}")


@given(graph=graphs())
def test_recorded_first_derivative_equals_the_plain_one(graph: tuple[list[Any], Recipe]) -> None:
    datas, recipe = graph
    leaves = [Value(d) for d in datas]
    out = loss(recipe, leaves)
    recorded = gradients(out, leaves, create_graph=True)
    plain = gradients(out, leaves)
    for r, p in zip(recorded, plain, strict=True):
        assert isinstance(r, Value)
        np.testing.assert_allclose(r.data, p, rtol=1e-12, atol=1e-300)
