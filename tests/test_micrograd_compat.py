"""`tinygrad_edu.micrograd` runs micrograd programs with only their imports changed.

The programs below are written from the descriptions of micrograd's own notebooks (the moons
demo: an MLP 2-16-16-1 trained with an SVM max-margin loss and L2; the graph-tracing one: a
neuron drawn from `_prev` and `_op`) and run twice: on micrograd itself (a dev dependency)
and on our layer, from the same `random.seed`. They must give micrograd's numbers.
"""

from __future__ import annotations

import random
from typing import Any

import micrograd.engine
import micrograd.nn
import pytest

import tinygrad_edu
import tinygrad_edu.micrograd.engine as ours_engine
import tinygrad_edu.micrograd.nn as ours_nn
from tinygrad_edu.datasets import make_moons

LIBRARIES = {"micrograd": (micrograd.engine, micrograd.nn), "ours": (ours_engine, ours_nn)}


def demo(library: str, steps: int) -> tuple[list[float], list[float], str, int]:
    """The moons demo's training loop: losses per step, final parameters, model, size."""
    engine, nn = LIBRARIES[library]
    X, y = make_moons(40, noise=0.1, seed=3)
    targets = [1.0 if label else -1.0 for label in y]
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    losses = []
    for k in range(steps):
        inputs = [list(map(engine.Value, row)) for row in X.tolist()]
        scores = list(map(model, inputs))
        margins = [(1 + -t * s).relu() for t, s in zip(targets, scores, strict=True)]
        data_loss = sum(margins) * (1.0 / len(margins))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        losses.append(total.data)
    return losses, [p.data for p in model.parameters()], repr(model), len(model.parameters())


def test_the_moons_demo_gives_micrograds_numbers() -> None:
    theirs, ours = demo("micrograd", 4), demo("ours", 4)
    assert ours[2] == theirs[2] and ours[3] == theirs[3] == 337
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12, abs=1e-15)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12, abs=1e-12)
    assert ours[0][-1] < ours[0][0]  # it learns


def trace(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """A drawing program's walk: every value and every edge, through `_prev` (as draw_dot)."""
    nodes: list[Any] = []
    edges: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        nodes.append(v)
        for child in v._prev:
            edges.append((child, v))
            stack.append(child)
    return nodes, edges


# micrograd's `_op` for ReLU is 'ReLU'; ours is the primitive's name, 'relu' (the one
# difference: every other `_op` is compared as it is, not lower-cased)
OP_NAMES_THAT_DIFFER = {"ReLU": "relu"}


@pytest.mark.parametrize("nonlin", [True, False])
def test_a_neurons_graph_is_traced_as_in_micrograd(nonlin: bool) -> None:
    pictures = {}
    for library, (engine, nn) in LIBRARIES.items():
        random.seed(7)
        neuron = nn.Neuron(2, nonlin=nonlin)
        x = [engine.Value(1.0), engine.Value(-2.0)]
        out = neuron(x)
        out.backward()
        nodes, edges = trace(out)
        ops = sorted(OP_NAMES_THAT_DIFFER.get(v._op, v._op) for v in nodes)
        values = sorted((v.data, v.grad) for v in nodes)
        pictures[library] = (repr(neuron), len(nodes), len(edges), ops, values)
    assert pictures["ours"] == pictures["micrograd"]


def test_random_seed_makes_runs_repeat() -> None:
    random.seed(5)
    first = [p.data for p in ours_nn.MLP(3, [4, 1]).parameters()]
    random.seed(5)
    second = [p.data for p in ours_nn.MLP(3, [4, 1]).parameters()]
    assert first == second


def test_a_layer_of_one_neuron_returns_it_alone() -> None:
    layer = ours_nn.Layer(2, 1, nonlin=False)
    assert isinstance(layer([1.0, 2.0]), tinygrad_edu.Value)
    assert len(ours_nn.Layer(2, 3)([1.0, 2.0])) == 3


def test_a_value_made_by_hand_is_a_leaf() -> None:
    v = ours_engine.Value(2.0, (), "")
    assert v._prev == set() and v._op == "" and v.grad == 0.0
    with pytest.raises(TypeError, match="leaf"):
        ours_engine.Value(2.0, (v,), "+")


def coerced(library: str) -> tuple[float, float, bool]:
    """micrograd's idiom for an operand, ``x if isinstance(x, Value) else Value(x)``, on a
    computed Value and on a number: the result's data, a gradient, and whether the computed
    one counts as a Value."""
    Value = LIBRARIES[library][0].Value

    def as_value(x: Any) -> Any:
        return x if isinstance(x, Value) else Value(x)

    a = Value(3.0)
    product = a * Value(2.0)
    out = as_value(product) - as_value(2.0)
    out.backward()
    return out.data, a.grad, isinstance(product, Value)


def test_a_computed_value_is_a_value_as_in_micrograd() -> None:
    """(It was not: `Value(computed)` then raised, in a program micrograd runs.)"""
    assert coerced("ours") == coerced("micrograd") == (4.0, 2.0, True)
    assert isinstance(ours_engine.Value(1.0).relu(), ours_engine.Value)
    assert not isinstance(1.0, ours_engine.Value)


def test_a_parameters_gradient_of_minus_zero_is_micrograds_zero_every_pass() -> None:
    """micrograd's grad starts at 0 and adds (0 + -0.0 is 0.0); ours showed -0.0 on the
    first pass (a Value's own .grad keeps the sign) and 0.0 after the layer's zero_grad."""
    seen = []
    for engine, nn in ((micrograd.engine, micrograd.nn), (ours_engine, ours_nn)):
        random.seed(0)
        neuron = nn.Neuron(2, nonlin=False)
        grads = []
        for step in range(2):
            if step:
                neuron.zero_grad()
            neuron([engine.Value(-0.0), engine.Value(1.0)]).backward()
            grads.append(repr(float(neuron.w[0].grad)))
        seen.append(grads)
    assert seen[1] == seen[0] == ["0.0", "0.0"]
