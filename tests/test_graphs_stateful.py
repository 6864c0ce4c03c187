"""Random computation graphs, built rule by rule, against central differences.

The machine keeps every graph as a recipe, a list of (op, operand indices), so the same graph
can be replayed from perturbed leaves: shared subexpressions, diamonds and `a * a` (one node
used twice) all arise by drawing the same node more than once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tinygrad_edu import Value

Node = Any  # a Value, or a float/array while replaying with raw numbers


def _sum_and_broadcast(x: Value) -> Value:
    return x.sum() * 0.5 + x * 0.0 if x.shape else x * 0.5


UNARY: dict[str, Callable[[Value], Value]] = {
    "exp": lambda x: (x.tanh() * 2.0).exp(),  # exp of an input clipped to (-2, 2)
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus(),
    "square": lambda x: x * x,
    "neg": lambda x: -x,
    "sum_broadcast": _sum_and_broadcast,
    "scale": lambda x: x * 0.7 + 0.1,
}
BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: (a * b).tanh(),  # bounded, so long products stay well scaled
}

SHAPES = [(), (3,), (2, 2)]
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class GraphMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shape: tuple[int, ...] | None = None
        self.leaves: list[Any] = []  # leaf data
        self.recipe: list[tuple[str, tuple[int, ...]]] = []  # ("leaf", (k,)) or (op, operands)

    @rule(shape=st.sampled_from(SHAPES), data=st.data())
    def add_leaf(self, shape: tuple[int, ...], data: st.DataObject) -> None:
        if self.shape is None:
            self.shape = shape
        size = int(np.prod(self.shape))
        numbers = data.draw(st.lists(st.floats(-1.5, 1.5), min_size=size, max_size=size))
        leaf = numbers[0] if self.shape == () else np.array(numbers).reshape(self.shape)
        self.recipe.append(("leaf", (len(self.leaves),)))
        self.leaves.append(leaf)

    @precondition(lambda self: bool(self.recipe))
    @rule(op=st.sampled_from(sorted(UNARY)), data=st.data())
    def unary(self, op: str, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.recipe) - 1), label="operand")
        self.recipe.append((op, (i,)))

    @precondition(lambda self: bool(self.recipe))
    @rule(op=st.sampled_from(sorted(BINARY)), data=st.data())
    def binary(self, op: str, data: st.DataObject) -> None:
        n = len(self.recipe)
        i = data.draw(st.integers(0, n - 1), label="left")
        j = data.draw(st.one_of(st.just(i), st.integers(0, n - 1)), label="right")  # a*a too
        self.recipe.append((op, (i, j)))

    def replay(self, leaves: list[Value]) -> list[Value]:
        nodes: list[Value] = []
        for op, args in self.recipe:
            if op == "leaf":
                nodes.append(leaves[args[0]])
            elif op in UNARY:
                nodes.append(UNARY[op](nodes[args[0]]))
            else:
                nodes.append(BINARY[op](nodes[args[0]], nodes[args[1]]))
        return nodes

    def loss(self, leaves: list[Value], weights: list[tuple[int, Any]]) -> Value:
        nodes = self.replay(leaves)
        total: Value = Value(0.0, requires_grad=False)
        for k, w in weights:
            total = total + (nodes[k] * w).sum()
        return total

    @precondition(lambda self: len(self.recipe) >= 2)
    @invariant()
    def gradients_match_central_differences(self) -> None:
        rng = np.random.default_rng(len(self.recipe))
        assert self.shape is not None
        picked = rng.choice(len(self.recipe), size=min(3, len(self.recipe)), replace=False)
        weights = [(int(k), rng.normal(size=self.shape)) for k in picked]
        leaves = [Value(d) for d in self.leaves]
        loss = self.loss(leaves, weights)
        if not loss.requires_grad:  # only constants were picked
            return
        loss.backward()
        eps = 1e-6
        for index, (leaf, data) in enumerate(zip(leaves, self.leaves, strict=True)):
            flat = np.array(data, dtype=np.float64).reshape(-1)
            numerical = np.zeros_like(flat)
            for e in range(flat.size):
                shifted = []
                for sign in (1.0, -1.0):
                    moved = flat.copy()
                    moved[e] += sign * eps
                    value = moved[0] if self.shape == () else moved.reshape(self.shape)
                    others = [Value(value if k == index else d) for k, d in enumerate(self.leaves)]
                    shifted.append(self.loss(others, weights).item())
                numerical[e] = (shifted[0] - shifted[1]) / (2 * eps)
            analytical = np.array(leaf.grad, dtype=np.float64).reshape(-1)
            np.testing.assert_allclose(analytical, numerical, rtol=1e-5, atol=1e-6)

        # gradients accumulate: a second backward() gives exactly twice the gradients
        first = [np.array(leaf.grad, dtype=np.float64) for leaf in leaves]
        loss.backward()
        for leaf, g in zip(leaves, first, strict=True):
            np.testing.assert_array_equal(np.array(leaf.grad, dtype=np.float64), 2 * g)


GraphMachine.TestCase.settings = settings(
    max_examples=80 if CI else 25,
    stateful_step_count=20 if CI else 12,
    deadline=None,
)
TestRandomGraphs = GraphMachine.TestCase
