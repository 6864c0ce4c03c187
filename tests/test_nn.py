"""tinygrad_edu.nn: Module, Neuron, Layer, MLP, and the lecture's end-to-end training tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, no_grad
from tinygrad_edu.activations import ACTIVATIONS, Activation
from tinygrad_edu.data import Array
from tinygrad_edu.datasets import logic_gate, make_moons, make_spiral
from tinygrad_edu.nn import (
    MLP,
    Layer,
    Module,
    Neuron,
    binary_cross_entropy_with_logits,
    hinge_loss,
    mse_loss,
)
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.testing import gradcheck

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def numerical_grads(f: Callable[[], float], params: list[Value], h: float = 1e-6) -> list[Any]:
    """Central differences (f(p + h) − f(p − h)) / 2h for every element of every parameter."""
    grads: list[Any] = []
    for p in params:
        if isinstance(p.data, float):
            original = p.data
            p.data = original + h
            up = f()
            p.data = original - h
            down = f()
            p.data = original
            grads.append((up - down) / (2 * h))
            continue
        g = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            original = cast(float, p.data[idx])  # (a numpy float64)
            p.data[idx] = original + h
            up = f()
            p.data[idx] = original - h
            down = f()
            p.data[idx] = original
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def accuracy(scores: Value, y: np.ndarray, threshold: float = 0.0) -> float:
    return float(np.mean((cast(Array, scores.data).reshape(-1) > threshold) == (y > threshold)))


sizes = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)
smooth = st.sampled_from(["tanh", "sigmoid", "softplus", "gelu", "identity", "silu"])

# --------------------------------------------------------------------------------------------
# Module: parameters, names, state
# --------------------------------------------------------------------------------------------


def test_nn_reexports_the_losses_and_the_perceptron() -> None:
    from tinygrad_edu import losses, nn, perceptron

    for module in (losses, perceptron):
        for name in module.__all__:
            assert name in nn.__all__ and getattr(nn, name) is getattr(module, name)


def test_named_parameters_use_dotted_names_in_definition_order() -> None:
    model = MLP(3, [4, 2], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(3, 4), (4,), (4, 2), (2,)]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2


def test_neuron_parameters_are_weights_then_bias() -> None:
    neuron = Neuron(3, seed=0)
    assert [name for name, _ in neuron.named_parameters()] == ["weights", "bias"]
    assert neuron.weights.shape == (3,)
    assert isinstance(neuron.bias.data, float)


def test_custom_module_finds_values_modules_and_lists_and_shares_once() -> None:
    class Net(Module):
        def __init__(self) -> None:
            self.scale = Value(2.0)
            self.blocks = [Layer(2, 2, seed=0), Layer(2, 1, seed=1)]
            self.again = self.blocks[0]  # shared: listed once
            self._private = Value(1.0)  # private: not a parameter

        def forward(self, x: Any) -> Value:
            return self.blocks[1](self.blocks[0](x)) * self.scale

    names = [name for name, _ in Net().named_parameters()]
    assert names == ["scale", "blocks.0.W", "blocks.0.b", "blocks.1.W", "blocks.1.b"]


def test_module_without_forward_says_so() -> None:
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        Module()([1.0])


def test_zero_grad_resets_every_parameter() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    model([1.0, 2.0]).backward()
    assert any(np.any(np.asarray(p.grad) != 0) for p in model.parameters())
    model.zero_grad()
    assert all(np.all(np.asarray(p.grad) == 0) for p in model.parameters())


@given(seed=seeds, nin=sizes, hidden=st.lists(sizes, min_size=0, max_size=3), nout=sizes)
@settings(max_examples=15)
def test_state_dict_round_trip_is_bit_exact(seed: int, nin: int, hidden: list[int],
                                            nout: int) -> None:
    source = MLP(nin, [*hidden, nout], seed=seed)
    target = MLP(nin, [*hidden, nout], seed=seed + 1)
    state = source.state_dict()
    target.load_state_dict(state)
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters(),
                                 strict=True):
        assert np.array_equal(np.asarray(a.data), np.asarray(b.data)), name
        assert np.asarray(a.data).tobytes() == np.asarray(b.data).tobytes()


def test_state_dict_is_a_copy() -> None:
    model = Layer(2, 2, seed=0)
    state = model.state_dict()
    state["W"][0, 0] = 123.0
    assert cast(Array, model.W.data)[0, 0] != 123.0


def test_neuron_state_dict_round_trips_a_scalar_bias(tmp_path: Path) -> None:
    a, b = Neuron(2, seed=0), Neuron(2, seed=1)
    a.save(tmp_path / "neuron.npz")
    b.load(tmp_path / "neuron.npz")
    assert b.bias.data == a.bias.data and isinstance(b.bias.data, float)
    assert np.array_equal(b.weights.data, a.weights.data)


def test_save_and_load_npz_round_trip(tmp_path: Path) -> None:
    model = MLP(2, [8, 8, 1], activation="tanh", seed=3)
    path = tmp_path / "weights.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:  # a plain npz, no pickled objects
        assert sorted(archive.files) == sorted(name for name, _ in model.named_parameters())
    copy = MLP(2, [8, 8, 1], activation="tanh", seed=4).load(path)
    X = np.random.default_rng(0).normal(size=(5, 2))
    assert np.array_equal(copy(X).data, model(X).data)


def test_save_appends_npz_like_numpy(tmp_path: Path) -> None:
    model = Layer(2, 1, seed=0)
    model.save(str(tmp_path / "w"))
    assert (tmp_path / "w.npz").exists()
    copy = Layer(2, 1, seed=1).load(str(tmp_path / "w"))  # the same path finds it again
    assert np.array_equal(copy.W.data, model.W.data)


def test_neurons_are_numbered_by_integers() -> None:
    with pytest.raises(TypeError, match="numbered 0 to 2; got 'a'"):
        Layer(2, 3)["a"]  # type: ignore[index]


def test_loading_another_architecture_names_the_mismatched_parameter(tmp_path: Path) -> None:
    MLP(2, [4, 1], seed=0).save(tmp_path / "small.npz")
    with pytest.raises(ValueError, match=r"'layers\.0\.W' has shape \(2, 5\).*\(2, 4\)"):
        MLP(2, [5, 1], seed=0).load(tmp_path / "small.npz")
    # a mismatch in a later layer: nothing was changed by the failed load, not even the
    # first layer, which fits (and whose weights, of another seed, differ)
    wider = MLP(2, [4, 3], seed=1)
    before = wider.state_dict()
    with pytest.raises(ValueError, match=r"'layers\.1\.W' has shape \(4, 3\).*\(4, 1\)"):
        wider.load(tmp_path / "small.npz")
    for name, value in wider.state_dict().items():
        assert np.array_equal(value, before[name]), name
    deeper = MLP(2, [4, 4, 1], seed=0)
    with pytest.raises(ValueError, match=r"missing parameters \['layers\.2\.W', 'layers\.2\.b'\]"):
        deeper.load(tmp_path / "small.npz")
    with pytest.raises(ValueError, match=r"unexpected parameters \['layers\.1\.W'"):
        MLP(2, [4], seed=0).load(tmp_path / "small.npz")


def test_a_weight_of_the_same_size_in_another_shape_is_refused() -> None:
    """A (3, 2) array for a (2, 3) weight (a transposed one, as PyTorch stores it) holds as
    many numbers; the shapes are compared, not the sizes."""
    model = MLP(2, [3, 1], seed=0)
    state = model.state_dict()
    state["layers.0.W"] = state["layers.0.W"].T
    with pytest.raises(ValueError, match=r"'layers\.0\.W' has shape \(2, 3\) here but \(3, 2\)"):
        model.load_state_dict(state)


# --------------------------------------------------------------------------------------------
# Construction, seeds, initialisation
# --------------------------------------------------------------------------------------------


@given(seed=seeds)
@settings(max_examples=10)
def test_same_seed_same_weights_other_seed_other_weights(seed: int) -> None:
    a, b, c = MLP(3, [5, 2], seed=seed), MLP(3, [5, 2], seed=seed), MLP(3, [5, 2], seed=seed + 1)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert np.array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data)
    assert cast(Array, Neuron(3, seed=seed).weights.data).tolist() == \
        cast(Array, Neuron(3, seed=seed).weights.data).tolist()


def test_initialisation_is_uniform_within_one_over_sqrt_nin() -> None:
    layer = Layer(100, 50, seed=0)
    bound = 1 / np.sqrt(100)
    assert np.all(np.abs(layer.W.data) <= bound) and np.all(np.abs(layer.b.data) <= bound)
    assert cast(Array, layer.W.data).std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    # a Neuron's too, its scalar bias included (over 50 seeds: one bias is one number)
    neurons = [Neuron(100, seed=seed) for seed in range(50)]
    assert all(np.all(np.abs(n.weights.data) <= bound) for n in neurons)
    biases = np.array([n.bias.data for n in neurons])
    assert np.all(np.abs(biases) <= bound) and np.abs(biases).max() > 0.8 * bound


def test_mlp_defaults_are_micrograds_relu_hidden_and_linear_output() -> None:
    model = MLP(2, [3, 3, 1])
    assert repr(model) == "MLP(2 → 3 relu → 3 relu → 1 identity)"
    assert [cast(Activation, layer.activation).name for layer in model.layers] == \
        ["relu", "relu", "identity"]
    with_output = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid")
    assert [cast(Activation, layer.activation).name for layer in with_output.layers] == \
        ["tanh", "sigmoid"]


def test_activation_by_callable() -> None:
    def cube(v: Value) -> Value:
        return v**3

    layer = Layer(1, 1, activation=cube, seed=0)
    x = [2.0]
    z = 2.0 * cast(Array, layer.W.data)[0, 0] + cast(Array, layer.b.data)[0]
    assert layer(x).data == pytest.approx(z**3)
    assert "cube" in repr(layer)


def test_unknown_activation_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'tanhh'.*identity.*relu.*tanh"):
        MLP(2, [3, 1], activation="tanhh")
    with pytest.raises(ValueError, match="known activations"):
        Neuron(2, activation="nope")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MLP(0, [1]), "nin .* must be a positive integer; got 0"),
        (lambda: MLP(2, []), "non-empty list of layer sizes"),
        (lambda: MLP(2, 3), "non-empty list of layer sizes.*got 3"),  # type: ignore[arg-type]
        (lambda: MLP(2, [3, 0]), "each layer size must be a positive integer; got 0"),
        (lambda: Layer(2, -1), "nout .* got -1"),
        (lambda: Neuron(2.5), "got 2.5"),  # type: ignore[arg-type]
    ],
)
def test_bad_sizes_are_refused(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --------------------------------------------------------------------------------------------
# Forward: one sample or a batch
# --------------------------------------------------------------------------------------------


def test_output_shapes_for_one_sample_and_a_batch() -> None:
    model = MLP(3, [4, 2], seed=0)
    assert model([1.0, 2.0, 3.0]).shape == (2,)
    assert model(np.ones(3)).shape == (2,)
    assert model(np.ones((7, 3))).shape == (7, 2)
    single = MLP(3, [4, 1], seed=0)
    out = single([1, 2, 3])
    assert out.shape == () and isinstance(out.data, float)
    assert single(np.ones((7, 3))).shape == (7, 1)
    assert Layer(3, 1, seed=0)([1, 2, 3]).shape == ()
    assert Neuron(3, seed=0)([1, 2, 3]).shape == ()
    assert Neuron(3, seed=0)(np.ones((4, 3))).shape == (4,)


def test_inputs_may_be_values_and_get_gradients() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    x = Value([0.5, -1.0])
    model(x).backward()
    assert x.grad.shape == (2,) and np.any(x.grad != 0)
    # micrograd style: a list of scalar Values
    a, b = Value(0.5), Value(-1.0)
    model.zero_grad()
    model([a, b]).backward()
    assert [a.grad, b.grad] == pytest.approx(x.grad.tolist())


@pytest.mark.parametrize(
    "model", [MLP(3, [4, 1], seed=0), Layer(3, 2, seed=0), Neuron(3, seed=0)], ids=repr
)
def test_wrong_number_of_features_names_expected_and_given(model: Module) -> None:
    with pytest.raises(ValueError, match="expects 3 input features; got 2"):
        model([1.0, 2.0])
    with pytest.raises(ValueError, match=r"expects 3 input features; got 4 .*\(5, 4\)"):
        model(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"one sample .* or a batch .*got an input of shape \(\)"):
        model(1.0)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 3\)"):
        model(np.ones((2, 2, 3)))
    with pytest.raises(TypeError, match="must hold numbers"):
        model(["a", "b", "c"])


def test_a_batched_forward_is_one_matrix_product_per_layer() -> None:
    model = MLP(2, [5, 5, 1], activation="tanh", seed=0)
    out = model(np.ones((10, 2)))
    ops: list[str] = []
    stack = [out]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.op is not None:
            ops.append(node.op.name)
        stack.extend(node.parents)
    # per layer: one matmul, one add, the activation (the linear output layer has none)
    assert sorted(ops) == ["add"] * 3 + ["matmul"] * 3 + ["tanh"] * 2


@given(seed=seeds, nin=sizes, hidden=st.lists(sizes, min_size=0, max_size=2), nout=sizes,
       batch=st.integers(1, 6), activation=smooth)
@settings(max_examples=20)
def test_batched_and_one_at_a_time_agree_in_outputs_and_gradients(
    seed: int, nin: int, hidden: list[int], nout: int, batch: int, activation: str
) -> None:
    model = MLP(nin, [*hidden, nout], activation=activation, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, nin))
    upstream = rng.normal(size=(batch, nout))

    batched = model(X)
    (batched * upstream).sum().backward()
    batched_grads = [np.array(p.grad) for p in model.parameters()]

    model.zero_grad()
    for row, weights in zip(X, upstream, strict=True):
        out = model(row)
        expected_shape = () if nout == 1 else (nout,)
        assert out.shape == expected_shape
        (out * (weights[0] if nout == 1 else weights)).sum().backward()
    outputs = np.array([np.atleast_1d(model(row).data) for row in X])
    np.testing.assert_allclose(batched.data, outputs, rtol=1e-12, atol=1e-12)
    for p, g in zip(model.parameters(), batched_grads, strict=True):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-12)


@given(seed=seeds, nin=sizes, hidden=st.lists(sizes, min_size=0, max_size=2), nout=sizes,
       activation=smooth)
@settings(max_examples=10)
def test_gradients_of_a_whole_mlp_match_central_differences(
    seed: int, nin: int, hidden: list[int], nout: int, activation: str
) -> None:
    model = MLP(nin, [*hidden, nout], activation=activation, output_activation="tanh",
                seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, nin))
    upstream = rng.normal(size=(3, nout))

    def loss() -> float:
        with no_grad():
            return float((model(X) * upstream).sum().data)

    (model(X) * upstream).sum().backward()
    numerical = numerical_grads(loss, model.parameters())
    for (name, p), g in zip(model.named_parameters(), numerical, strict=True):
        np.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-7, err_msg=name)


# --------------------------------------------------------------------------------------------
# A learner reaches neuron i of a layer
# --------------------------------------------------------------------------------------------


def test_neuron_view_shows_column_of_w_element_of_b_and_their_grads() -> None:
    layer = Layer(3, 4, activation="tanh", seed=0)
    layer(np.ones((2, 3))).sum().backward()
    assert len(layer.neurons) == 4
    for i, neuron in enumerate(layer.neurons):
        assert np.array_equal(neuron.weights.data, cast(Array, layer.W.data)[:, i])
        assert np.array_equal(neuron.weights.grad, layer.W.grad[:, i])
        assert neuron.bias.data == cast(Array, layer.b.data)[i] and \
            isinstance(neuron.bias.data, float)
        assert neuron.bias.grad == layer.b.grad[i] and isinstance(neuron.bias.grad, float)
    assert layer[-1].index == 3
    with pytest.raises(IndexError, match="neuron index 4 is out of range for a layer of 4"):
        layer[4]


def test_neuron_view_stays_live_and_writes_through() -> None:
    layer = Layer(2, 2, seed=0)
    neuron = layer[1]
    layer.zero_grad()
    layer([1.0, 2.0]).sum().backward()  # the grad array is created after the view
    assert neuron.weights.grad.tolist() == [1.0, 2.0]
    neuron.weights.data = [0.5, -0.5]
    neuron.bias.data = 3.0
    assert cast(Array, layer.W.data)[:, 1].tolist() == [0.5, -0.5] and \
        cast(Array, layer.b.data)[1] == 3.0
    assert neuron([2.0, 4.0]).data == pytest.approx(0.5 * 2 - 0.5 * 4 + 3.0)
    assert cast(Array, layer([2.0, 4.0]).data)[1] == pytest.approx(neuron([2.0, 4.0]).data)
    assert "grad" in repr(neuron.weights) and "neuron 1" in repr(neuron)


def test_neuron_view_refuses_data_of_another_shape_by_name() -> None:
    layer = Layer(3, 2, seed=0)
    before = cast(Array, layer.W.data).copy()
    with pytest.raises(ValueError, match=r"^W\[:, 0\]\.data: W\[:, 0\] has shape \(3,\), and "
                                         r"takes data of that shape \(or a number\); got shape "
                                         r"\(2,\)$"):  # (numpy's 'could not broadcast', before)
        layer[0].weights.data = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"^b\[1\]\.data: b\[1\] has shape \(\)"):
        layer[1].bias.data = [1.0, 2.0]
    with pytest.raises(TypeError, match=r"^W\[:, 1\]\.data must be a number"):
        layer[1].weights.data = "ab"
    assert np.array_equal(cast(Array, layer.W.data), before)
    layer[0].weights.data = 0.5  # (a number fills the part, as numpy's assignment does)
    assert cast(Array, layer.W.data)[:, 0].tolist() == [0.5, 0.5, 0.5]


def test_standalone_neuron_follows_the_lecture_formula() -> None:
    neuron = Neuron(2, activation="sigmoid", seed=0)
    x = np.array([0.3, -0.7])
    z = float(x @ neuron.weights.data + neuron.bias.data)
    out = neuron(x)
    assert out.data == pytest.approx(1 / (1 + np.exp(-z)))
    out.backward()
    s = out.data
    np.testing.assert_allclose(neuron.weights.grad, s * (1 - s) * x)


# --------------------------------------------------------------------------------------------
# XOR: the non-linearity is essential
# --------------------------------------------------------------------------------------------


def train_xor(model: MLP, steps: int = 500) -> float:
    return train_binary(model, *logic_gate("xor"), steps)


def train_binary(model: MLP, X: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Adam on binary cross-entropy; returns the training accuracy."""
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = binary_cross_entropy_with_logits(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(np.mean((cast(Array, model(X).data).reshape(-1) > 0) == (y == 1)))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_a_seeded_mlp_learns_xor_by_backprop(activation: str) -> None:
    assert train_xor(MLP(2, [4, 1], activation=activation, seed=0)) == 1.0


@pytest.mark.parametrize("hidden", [[], [4], [4, 4], [8, 8, 8]])
def test_a_purely_linear_mlp_cannot_learn_xor(hidden: list[int]) -> None:
    model = MLP(2, [*hidden, 1], activation="identity", seed=0)
    assert train_xor(model, steps=300) <= 0.75


@given(seed=seeds, hidden=st.lists(sizes, min_size=0, max_size=4))
@settings(max_examples=15)
def test_a_linear_mlp_of_any_depth_is_one_affine_map(seed: int, hidden: list[int]) -> None:
    """Stacked identity layers collapse to x @ A + c, and no affine map separates XOR."""
    model = MLP(2, [*hidden, 1], activation="identity", seed=seed)
    A, c = np.eye(2), np.zeros(2)
    for layer in model.layers:
        A, c = A @ layer.W.data, c @ layer.W.data + layer.b.data
    X, y = logic_gate("xor")
    np.testing.assert_allclose(model(X).data, X @ A + c, rtol=1e-9, atol=1e-12)
    # an affine score s satisfies s(0,0) + s(1,1) = s(0,1) + s(1,0): it cannot put both
    # class-1 points above a threshold and both class-0 points below it
    s = (X @ A + c).reshape(-1)
    assert s[0] + s[3] == pytest.approx(s[1] + s[2])
    assert np.mean((s > 0) == (y == 1)) <= 0.75


# --------------------------------------------------------------------------------------------
# End to end (kept to a second or two each)
# --------------------------------------------------------------------------------------------


def test_micrograd_demo_moons_svm_with_l2_reaches_100_percent() -> None:
    """micrograd's demo: MLP 2-16-16-1, max-margin loss + 1e-4·L2, 100 moons, SGD with a
    decaying learning rate, the whole batch at each step."""
    X, y = make_moons(100, noise=0.1, seed=0)
    targets = 2 * y - 1
    model = MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()
    opt = SGD(params, lr=1.0)
    steps = 100
    for k in range(steps):
        scores = model(X)
        l2 = sum(((p * p).sum() for p in params), Value(0.0))
        loss = hinge_loss(scores, targets) + 1e-4 * l2
        opt.zero_grad()
        loss.backward()
        opt.lr = 1.0 - 0.9 * k / steps
        opt.step()
    assert accuracy(model(X), targets) == 1.0


def test_spiral_needs_hidden_layers() -> None:
    X, y = make_spiral(100, seed=0)
    assert train_binary(MLP(2, [16, 16, 1], activation="tanh", seed=0), X, y, 300) >= 0.97
    assert train_binary(MLP(2, [1], seed=0), X, y, 300) < 0.70


def test_mse_regression_fits_a_line() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(50, 1))
    y = 3 * X[:, 0] - 0.5
    model = MLP(1, [1], seed=0)
    opt = SGD(model.parameters(), lr=0.5)
    for _ in range(200):
        loss = mse_loss(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert cast(Array, model.layers[0].W.data)[0, 0] == pytest.approx(3.0, abs=1e-6)
    assert cast(Array, model.layers[0].b.data)[0] == pytest.approx(-0.5, abs=1e-6)


def test_every_registered_activation_can_be_used_by_name() -> None:
    for name in ACTIVATIONS:
        out = MLP(2, [3, 1], activation=name, seed=0)(np.ones((2, 2)))
        assert out.shape == (2, 1) and np.all(np.isfinite(out.data)), name


def swapped_in(model: MLP, X: Any) -> Callable[..., Value]:
    """`model` as a function of its parameters (and nothing else): for `gradcheck`."""

    def f(*params: Value) -> Value:
        originals = [(layer.W, layer.b) for layer in model.layers]
        try:
            for layer, W, b in zip(model.layers, params[0::2], params[1::2], strict=True):
                layer.W, layer.b = W, b
            return model(X)
        finally:
            for layer, (W, b) in zip(model.layers, originals, strict=True):
                layer.W, layer.b = W, b

    return f


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "elu", "gelu"])
def test_a_whole_mlp_passes_the_toolkits_gradcheck(activation: str) -> None:
    model = MLP(3, [4, 4, 2], activation=activation, output_activation="sigmoid", seed=1)
    X = np.random.default_rng(1).normal(size=(5, 3))
    params = [p.data for p in model.parameters()]
    assert gradcheck(swapped_in(model, X), *params)
    # and with respect to the inputs
    assert gradcheck(lambda x: model(x), X)


def test_a_small_tanh_mlp_passes_gradcheck_of_second_derivatives() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=2)
    X = np.random.default_rng(2).normal(size=(4, 2))
    assert gradcheck(swapped_in(model, X), *[p.data for p in model.parameters()], order=2)
