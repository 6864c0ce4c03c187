"""`predict`, `accuracy`, `evaluate` and the decision-boundary grid for models of every kind:
micrograd's, which take one sample per call, and models whose output activation their
structure does not tell (a `Module` of one's own, a function), whose threshold their output's
graph tells, or nobody: then they ask for it, never guess."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value, no_grad
from tinygrad_edu.datasets import logic_gate, make_moons
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.nn import MLP, Layer, Module, binary_cross_entropy
from tinygrad_edu.optim import Adam
from tinygrad_edu.plots import grid_predictions
from tinygrad_edu.training import accuracy, evaluate, predict

# ---- micrograd's models: one sample per call


def _micrograd_mlp(seed: int, nouts: list[int]) -> micrograd_nn.MLP:
    random.seed(seed)
    return micrograd_nn.MLP(2, nouts)


def _row_by_row(model: Any, X: np.ndarray) -> np.ndarray:
    """The model's outputs, one call per sample, as micrograd's own programs make them."""
    outs = [model([Value(float(a)) for a in row]) for row in X]
    return np.array([[o.data for o in out] if isinstance(out, list) else [out.data]
                     for out in outs])


def test_the_repro_a_micrograd_model_is_classified_sample_by_sample() -> None:
    model = _micrograd_mlp(6, [4, 1])
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    assert predict(model, X).tolist() == [1, 1]  # ([0, 1] before: weight i times sample i)
    assert accuracy(model, X, [1, 1]) == 1.0  # (0.5)
    assert accuracy(model, np.vstack([X, X[:1]]), [1, 1, 1]) == 1.0  # (a ValueError: "takes
    # 2 inputs, one per weight; got 3", for 3 samples of 2 features)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("nouts", [[4, 1], [4, 3], [1]])
@pytest.mark.parametrize("samples", [1, 2, 3, 7])  # (2: as many samples as inputs)
def test_predict_accuracy_and_evaluate_of_a_micrograd_model_are_those_of_its_rows(
        seed: int, nouts: list[int], samples: int) -> None:
    model = _micrograd_mlp(seed, nouts)
    X = np.random.default_rng(seed).normal(size=(samples, 2))
    scores = _row_by_row(model, X)
    expected = scores.argmax(axis=1) if nouts[-1] > 1 else (scores[:, 0] > 0).astype(int)
    assert predict(model, X).tolist() == expected.tolist()
    assert predict(model, X.tolist()).tolist() == expected.tolist()
    assert int(predict(model, X[0])) == expected[0]  # (a 1-D X: one sample)
    assert accuracy(model, X, expected) == 1.0
    if nouts[-1] > 1:
        labels = np.arange(samples) % nouts[-1]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss, right = evaluate(model, X, labels)
        assert loss == pytest.approx(-log_p[np.arange(samples), labels].mean(), rel=1e-12)
        assert right == np.mean(expected == labels)


def test_a_micrograd_model_draws_the_boundary_of_its_own_classes() -> None:
    model = _micrograd_mlp(1, [4, 1])
    X, _ = make_moons(8, seed=0)
    xx, yy, classes, probability = grid_predictions(model, X, resolution=4)
    points = np.column_stack([xx.ravel(), yy.ravel()])  # (16 points for 2 inputs: refused)
    scores = _row_by_row(model, points)[:, 0]
    assert classes.ravel().tolist() == (scores > 0).astype(int).tolist()
    assert probability is not None


def test_a_micrograd_model_that_gives_odd_outputs_is_refused_by_name() -> None:
    class Ragged(micrograd_nn.Module):
        def __call__(self, x: list[float]) -> Any:
            return [Value(1.0)] * (1 if x[0] < 0.5 else 2)

    class Nothing(micrograd_nn.Module):
        def __call__(self, x: list[float]) -> Any:
            return None

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"^predict: Ragged gave 1 output for sample 0 but 2 "
                                         r"outputs for sample 1"):
        predict(Ragged(), X)
    with pytest.raises(ValueError, match=r"^predict: Nothing takes one sample at a time and "
                                         r"should give a number or a scalar Value.*for sample 0 "
                                         r"it gave type NoneType"):
        predict(Nothing(), X)


# ---- the threshold of a model whose structure does not tell it


class Net(Module):
    """The reported model: a layer of the library's, then a sigmoid in forward."""

    def __init__(self, end: Callable[[Value], Value] = Value.sigmoid) -> None:
        self.layers = [Layer(2, 4, "tanh", seed=0), Layer(4, 1, seed=1)]
        self.end = end

    def forward(self, x: Any) -> Value:
        for layer in self.layers:
            x = layer(x)
        return self.end(x)


def _set_and_gate(model: Any) -> Any:
    """`model`'s last layer made the logit x1 + x2 - 1.5 (the AND gate), through a first
    layer that passes its two inputs on."""
    first, last = model.layers
    np.asarray(first.W.data)[:] = 0.0
    np.asarray(first.W.data)[[0, 1], [0, 1]] = 0.1  # tanh(0.1 x) ≈ 0.1 x on {0, 1}
    np.asarray(first.b.data)[:] = 0.0
    np.asarray(last.W.data)[:] = 0.0
    np.asarray(last.W.data)[[0, 1], 0] = 10.0 / np.tanh(0.1)
    np.asarray(last.b.data)[:] = -15.0
    return model


def test_the_repro_a_module_ending_in_a_sigmoid_is_cut_at_one_half() -> None:
    X, y = logic_gate("xor")
    net = Net()
    opt = Adam(net.parameters(), lr=0.05)
    for _ in range(500):
        loss = binary_cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (np.round(np.ravel(net(X).data)) == y).all()
    assert predict(net, X).tolist() == y.tolist()  # ([1, 1, 1, 1] before: cut at 0)
    assert accuracy(net, X, y) == 1.0  # (0.5)
    with no_grad():  # (its graph is recorded for the look, even here)
        assert predict(net, X).tolist() == y.tolist()
    assert [int(predict(net, x)) for x in X] == y.tolist()
    net.zero_grad()
    predict(net, X)
    assert not any(np.any(p.grad) for p in net.parameters())  # (a look, not a backward pass)


@pytest.mark.parametrize(("end", "classes"), [
    (Value.sigmoid, [0, 0, 0, 1]),  # a probability: cut at 0.5
    (lambda v: v.sigmoid().reshape(-1), [0, 0, 0, 1]),  # (views are looked through)
    (lambda v: v.sigmoid()[:, 0], [0, 0, 0, 1]),
    (lambda v: v, [0, 0, 0, 1]),  # x @ W + b: a logit, cut at 0
    (lambda v: 2.0 * v.tanh(), [0, 0, 0, 1]),
    (Value.softplus, [0, 0, 0, 1]),  # cut at log 2
    (lambda v: v.step(), [0, 0, 0, 1]),
])
def test_the_last_operation_of_a_modules_output_tells_where_it_switches_class(
        end: Callable[[Value], Value], classes: list[int]) -> None:
    X, y = logic_gate("and")
    model = _set_and_gate(Net(end))
    assert predict(model, X).tolist() == classes == y.tolist()
    _, _, grid, probability = grid_predictions(model, X, resolution=5)
    logit = _set_and_gate(Net(lambda v: v))  # (the same logit, without an activation)
    assert grid.tolist() == grid_predictions(logit, X, resolution=5)[2].tolist()
    assert 0 < grid.sum() < grid.size  # (all 1 before, for a sigmoid)
    if end is Value.softplus:  # (no logit, no probability: the picture shades the classes)
        assert probability is None
    else:
        assert probability is not None and probability.min() >= 0.5


def test_a_sigmoid_output_is_drawn_with_its_own_probability() -> None:
    X, _ = logic_gate("and")
    model = _set_and_gate(Net())
    xx, yy, classes, probability = grid_predictions(model, X, resolution=3)
    p1 = model(np.column_stack([xx.ravel(), yy.ravel()])).data.reshape(xx.shape)
    assert probability is not None
    np.testing.assert_allclose(np.where(classes == 1, probability, 1.0 - probability), p1)


def test_a_subclass_of_mlp_with_a_forward_of_its_own_is_read_from_its_output() -> None:
    class Probabilities(MLP):
        def forward(self, x: Any) -> Value:
            return super().forward(x).sigmoid()

    X, y = logic_gate("and")
    model = Probabilities(2, [1], seed=0)
    np.asarray(model.layers[0].W.data)[:] = [[1.0], [1.0]]
    np.asarray(model.layers[0].b.data)[:] = [-1.5]
    assert predict(model, X).tolist() == y.tolist()  # ([1, 1, 1, 1]: its layers said logit)


def test_a_micrograd_model_of_ones_own_ending_in_a_sigmoid_is_cut_at_one_half() -> None:
    class Probability(micrograd_nn.MLP):
        def __call__(self, x: Any) -> Any:
            return super().__call__(x).sigmoid()

    random.seed(3)
    model = Probability(2, [4, 1])
    X = np.random.default_rng(0).normal(size=(6, 2))
    p = np.array([model(list(row)).data for row in X])
    assert predict(model, X).tolist() == (p > 0.5).astype(int).tolist()


def test_a_function_giving_a_value_is_read_from_its_graph_one_giving_numbers_is_a_logit(
        ) -> None:
    X, y = logic_gate("and")
    w = Value(np.array([1.0, 1.0]))
    assert predict(lambda X: (X @ w - 1.5).sigmoid(), X).tolist() == y.tolist()  # (all 1)
    assert predict(lambda X: X @ w - 1.5, X).tolist() == y.tolist()
    assert predict(lambda X: X.sum(axis=1) - 1.5, X).tolist() == y.tolist()  # (as documented)


def _frozen() -> Net:
    net = Net()
    for p in net.parameters():
        p.requires_grad = False
    return net


@pytest.mark.parametrize(("model", "message"), [
    (Net(Value.exp), r"the output of Net is made by 'exp' \(its last operation\)"),
    (Net(lambda v: 1.0 / (1.0 + (-v).exp())),  # (a sigmoid by hand: a probability)
     r"the output of Net is made by 'div' \(its last operation\)"),
    (lambda X: Value(X.sum(axis=1)), r"the output of <lambda> records no operation"),
    (_frozen(), r"the output of Net records no operation \(made under no_grad, or from "
                r"parameters that need no gradient\)"),
])
def test_an_output_whose_kind_is_unknown_asks_for_a_threshold(model: Any, message: str) -> None:
    X, y = logic_gate("and")
    for who, call in (("predict", lambda: predict(model, X)),
                      ("predict", lambda: accuracy(model, X, y)),
                      ("grid_predictions", lambda: grid_predictions(model, X, resolution=3))):
        with pytest.raises(ValueError, match=rf"^{who}: {message}.*pass threshold="):
            call()
    assert predict(model, X, threshold=0.5).shape == (4,)
    assert grid_predictions(model, X, resolution=3, threshold=0.5)[3] is None


def test_a_neuron_of_a_sigmoid_layer_is_cut_at_one_half() -> None:
    X, y = logic_gate("and")
    layer = Layer(2, 2, "sigmoid", seed=0)
    np.asarray(layer.W.data)[:, 1] = [1.0, 1.0]
    np.asarray(layer.b.data)[1] = -1.5
    assert predict(layer.neurons[1], X).tolist() == y.tolist()  # ([1, 1, 1, 1]: no activation
    # of its own, so it was taken for a logit)
