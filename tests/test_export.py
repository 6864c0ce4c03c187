"""tinygrad_edu.export: to_torch, from_torch and to_onnx give our outputs back.

PyTorch, ONNX and ONNX Runtime are the optional `export` extra; `make` installs it, and
these tests import them outright: they fail, never skip, without it (tests/test_setup.py names
what is missing).
"""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ops import Tolerances  # tests/ is on sys.path (pytest)

from tinygrad_edu import export
from tinygrad_edu.activations import ACTIVATIONS
from tinygrad_edu.data import Array
from tinygrad_edu.datasets import make_moons
from tinygrad_edu.engine import Value
from tinygrad_edu.export import (
    ONNX_OPSET,
    ExportDependencyError,
    dense_layers,
    from_torch,
    to_onnx,
    to_torch,
)
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.micrograd.engine import Value as MicrogradValue
from tinygrad_edu.nn import MLP, Layer, Neuron, binary_cross_entropy_with_logits
from tinygrad_edu.optim import Adam

torch: Any = importlib.import_module("torch")
onnx: Any = importlib.import_module("onnx")
onnxruntime: Any = importlib.import_module("onnxruntime")

TORCH_ACTIVATIONS = [name for name in ACTIVATIONS if name != "step"]


FLOAT64: Tolerances = {"rtol": 1e-12, "atol": 1e-12}
FLOAT32: Tolerances = {"rtol": 1e-5, "atol": 1e-5}
# pre-activations across every region: tails, the kinks, tiny values, softplus's threshold
POINTS = np.array([-800.0, -50.0, -30.0, -5.0, -1.0, -1e-3, -1e-10, -0.0, 0.0, 1e-10, 1e-3,
                   1.0, 5.0, 25.0, 39.0, 45.0, 800.0])


def ours(model: Any, X: np.ndarray) -> np.ndarray:
    return np.asarray(model(X).data, dtype=np.float64)


def torch_out(net: Any, X: np.ndarray, dtype: Any = None) -> np.ndarray:
    with torch.no_grad():
        out = net(torch.tensor(X, dtype=dtype or torch.float64))
    return np.asarray(out.double().numpy())


def onnx_out(path: Path, X: np.ndarray, dtype: str) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": X.astype(dtype)})[0], dtype=np.float64)


def unit_layer(activation: str) -> Layer:
    """A layer computing activation(x) itself: W = 1, b = 0."""
    layer = Layer(1, 1, activation=activation, seed=0)
    layer.load_state_dict({"W": np.ones((1, 1)), "b": np.zeros(1)})
    return layer


def trained_moons_model() -> tuple[MLP, np.ndarray]:
    X, y = make_moons(100, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], activation="tanh", seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        loss = binary_cross_entropy_with_logits(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, X


# ---- PyTorch ----------------------------------------------------------------------------------


@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       hidden=st.sampled_from(TORCH_ACTIVATIONS), last=st.sampled_from(TORCH_ACTIVATIONS),
       seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.01, 1.0, 40.0]))
def test_to_torch_gives_our_float64_outputs(sizes: list[int], hidden: str, last: str,
                                            seed: int, scale: float) -> None:
    model = MLP(3, sizes, activation=hidden, output_activation=last, seed=seed)
    X = np.random.default_rng(seed).normal(scale=scale, size=(7, 3))
    net = to_torch(model)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    np.testing.assert_allclose(torch_out(net, X), ours(model, X), **FLOAT64)


@pytest.mark.parametrize("name", TORCH_ACTIVATIONS)
def test_each_activation_maps_to_its_torch_module_exactly(name: str) -> None:
    # (torch's exact GELU is x·(1 + erf(x/√2))/2, which cancels in the left tail: there it is
    # off by up to ~1e-16 absolute where ours, through erfc, stays accurate to a few ulps)
    layer = unit_layer(name)
    X = POINTS[:, None]
    np.testing.assert_allclose(torch_out(to_torch(layer), X), ours(layer, X), rtol=1e-14,
                               atol=1e-16 if name == "gelu" else 1e-300)


def test_to_torch_builds_linear_and_activation_modules_with_our_weights() -> None:
    model = MLP(2, [3, 4, 1], activation="elu", output_activation="sigmoid", seed=1)
    net = to_torch(model)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ELU", "Linear", "ELU", "Linear", "Sigmoid"]
    np.testing.assert_array_equal(net[0].weight.detach().numpy(),
                                  cast(Array, model.layers[0].W.data).T)
    np.testing.assert_array_equal(net[4].bias.detach().numpy(), model.layers[2].b.data)


def test_to_torch_float32_agrees_to_float32_precision() -> None:
    model, X = trained_moons_model()
    net = to_torch(model, dtype="float32")
    assert all(p.dtype == torch.float32 for p in net.parameters())
    np.testing.assert_allclose(torch_out(net, X, torch.float32), ours(model, X), **FLOAT32)


def test_to_torch_leaves_torchs_random_state_alone() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    to_torch(MLP(4, [16, 16, 1], seed=0))
    assert torch.equal(torch.rand(3), expected)


def test_to_torch_refuses_step_and_activations_of_ones_own() -> None:
    with pytest.raises(ValueError, match=r"layer 0 uses the activation 'step', which PyTorch"):
        to_torch(MLP(2, [3, 1], activation="step", seed=0))
    with pytest.raises(ValueError, match=r"a function of your own: it can be exported only by"):
        to_torch(MLP(2, [3, 1], activation=lambda v: v.relu() * 2, seed=0))
    with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64' .*; got 'half'"):
        to_torch(MLP(2, [1], seed=0), dtype="half")
    with pytest.raises(TypeError, match=r"got Neuron"):
        to_torch(Neuron(2, seed=0))  # type: ignore[arg-type]


def test_the_module_functions_count_as_their_names() -> None:
    from tinygrad_edu.activations import selu
    assert [type(m).__name__ for m in to_torch(MLP(2, [3, 1], activation=selu, seed=0))] == [
        "Linear", "SELU", "Linear"]


def test_from_torch_builds_our_mlp_from_a_sequential() -> None:
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.LeakyReLU(), nn.Linear(5, 4), nn.GELU(),
                        nn.Linear(4, 2), nn.Softplus()).double()
    model = from_torch(net)
    assert repr(model) == "MLP(3 → 5 leaky_relu → 4 gelu → 2 softplus)"
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(ours(model, X), torch_out(net, X), **FLOAT64)
    # a Linear straight after a Linear: the first has no activation
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1), nn.Tanh())
    assert repr(from_torch(net)) == "MLP(2 → 3 identity → 1 tanh)"


@pytest.mark.parametrize("name", TORCH_ACTIVATIONS)
def test_from_torch_inverts_to_torch(name: str) -> None:
    model = MLP(3, [4, 2], activation=name, output_activation=name, seed=3)
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model)
    for a, b in zip(back.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)  # bit for bit


def test_from_torch_loads_a_state_dict_into_a_model_given() -> None:
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    model = MLP(2, [6, 1], activation="tanh", seed=0)
    assert from_torch(net.state_dict(), model) is model
    np.testing.assert_array_equal(model.layers[0].W.data,
                                  net[0].weight.detach().double().numpy().T)  # float32 widened
    X = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_allclose(ours(model, X), torch_out(net, X, torch.float32), **FLOAT32)


def test_from_torch_loads_into_micrograds_mlp() -> None:
    random.seed(0)
    model = micrograd_nn.MLP(2, [4, 1])
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 1)).double()
    from_torch(net, model)
    x = [0.3, -1.2]
    score = model([MicrogradValue(v) for v in x])
    assert score.data == pytest.approx(float(torch_out(net, np.array([x]))[0, 0]), abs=1e-12)


@pytest.mark.parametrize("source, model, message", [
    ("sd", MLP(2, [5, 1], seed=0), r"layer 0 of MLP\(2 → 5 relu → 1 identity\) takes 2 inputs "
     r"to 5 outputs, but Linear layer 0 given takes 2 to 4 \(its weight has shape \(4, 2\)\)"),
    ("sd", MLP(2, [4, 4, 1], seed=0), r"has 3 layers, the weights given have 2 Linear layers"),
    ("sd", None, r"a state_dict holds weights but no activations; pass model="),
    ("seq", MLP(2, [4, 1], activation="tanh", seed=0), r"layer 0 of .* uses 'tanh', the "
     r"Sequential's uses 'relu'"),
    ({"0.weight": np.ones((3, 2))}, MLP(2, [3], seed=0), r"the state_dict has no 0.bias"),
    ({"0.weight": np.ones((3, 2)), "0.bias": np.ones(3), "1.running_mean": np.ones(3)},
     MLP(2, [3], seed=0), r"the state_dict entry '1.running_mean' is neither a weight nor"),
    ({"0.weight": np.ones(3), "0.bias": np.ones(3)}, MLP(2, [3], seed=0),
     r"0.weight has shape \(3,\) and 0.bias \(3,\); a Linear layer has \(nout, nin\)"),
    ({"0.weight": np.ones((3, 2)), "0.bias": np.ones(2)}, MLP(2, [3], seed=0),
     r"0.weight has shape \(3, 2\) and 0.bias \(2,\); a Linear layer has \(nout, nin\) and "
     r"\(nout,\)$"),
])
def test_from_torch_names_what_does_not_fit(source: Any, model: Any, message: str) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    source = net.state_dict() if source == "sd" else net if source == "seq" else source
    before = [p.data.copy() for p in model.parameters()] if model is not None else []
    with pytest.raises((ValueError, TypeError), match=message):
        from_torch(source, model)
    if model is not None:  # nothing was changed
        for p, old in zip(model.parameters(), before, strict=True):
            np.testing.assert_array_equal(p.data, old)


@pytest.mark.parametrize("modules, message", [
    (lambda nn: [nn.Linear(2, 2), nn.LeakyReLU(0.2)],
     r"LeakyReLU\(negative_slope=0.2\), but tinygrad_edu's 'leaky_relu' has negative_slope=0.01"),
    (lambda nn: [nn.Linear(2, 2), nn.GELU(approximate="tanh")], r"approximate='none'"),
    (lambda nn: [nn.Linear(2, 2), nn.Dropout()], r"module 1 of the Sequential is Dropout"),
    (lambda nn: [nn.ReLU(), nn.Linear(2, 2)], r"does not follow a Linear layer"),
    (lambda nn: [nn.Linear(2, 2), nn.ReLU(), nn.Tanh()], r"module 2 .* does not follow a Linear"),
    (lambda nn: [nn.Linear(2, 2, bias=False)], r"without a bias"),
    (lambda nn: [nn.Linear(2, 3), nn.Linear(2, 1)], r"Linear layer 1 takes 2 inputs but layer 0 "
     r"gives 3 outputs"),
    (lambda nn: [], r"has no Linear layer"),
    # Softplus is x itself above its threshold: below 20 that is another function, and above
    # log(max float) PyTorch's log1p(exp(x)) below the threshold overflows to inf
    (lambda nn: [nn.Linear(2, 2), nn.Softplus(threshold=0.0)],
     r"module 1 .* Softplus\(beta=1.0, threshold=0.0\): PyTorch's Softplus gives x itself above "
     r"its threshold .* a threshold from 20 \(PyTorch's default, off by at most 2.1e-9\) to "
     r"88.7228 is accepted; got 0.0"),
    (lambda nn: [nn.Linear(2, 2), nn.Softplus(threshold=19.9)], r"got 19.9"),
    (lambda nn: [nn.Linear(2, 2), nn.Softplus(threshold=100.0)],
     r"overflows to inf above 88.7228 in torch.float32"),
    (lambda nn: [nn.Linear(2, 2).double(), nn.Softplus(threshold=float("inf"))],
     r"overflows to inf above 709.783 in torch.float64; .* got inf"),
    (lambda nn: [nn.Linear(2, 2), nn.Softplus(beta=2.0)], r"'softplus' has beta=1.0"),
    # a subclass that computes its own output, or hooks, are not the module they extend
    (lambda nn: [Doubled(2, 2)], r"module 0 .* is Doubled, a subclass of torch.nn.Linear that "
     r"redefines forward: its outputs need not be Linear's, so it is refused"),
    (lambda nn: [nn.Linear(2, 2), Clipped()], r"module 1 .* is Clipped, a subclass of "
     r"torch.nn.ReLU that redefines forward"),
    (lambda nn: [hooked(nn.Linear(2, 2))], r"module 0 .* is Linear, a torch.nn.Linear with "
     r"forward hooks"),
])
def test_from_torch_refuses_a_sequential_it_cannot_hold(modules: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_torch(torch.nn.Sequential(*modules(torch.nn)))


class Doubled(torch.nn.Linear):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        return 2 * super().forward(x)


class Clipped(torch.nn.ReLU):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        return super().forward(x).clamp(max=1.0)


class Named(torch.nn.Linear):  # type: ignore[misc]
    """A subclass that leaves the computation alone."""


class NamedReLU(torch.nn.ReLU):  # type: ignore[misc]
    """A subclass that leaves the computation alone."""


def hooked(module: Any) -> Any:
    module.register_forward_hook(lambda module, inputs, output: output + 1)
    return module


def test_from_torch_accepts_subclasses_that_keep_the_computation() -> None:
    net = torch.nn.Sequential(Named(2, 3), NamedReLU(), torch.nn.Linear(3, 1)).double()
    model = from_torch(net)
    assert repr(model) == "MLP(2 → 3 relu → 1 identity)"
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(ours(model, X), torch_out(net, X), **FLOAT64)


def test_from_torch_refuses_a_sequential_that_computes_otherwise() -> None:
    class Residual(torch.nn.Sequential):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            return x + super().forward(x)

    with pytest.raises(ValueError, match=r"the Sequential given is Residual, a subclass of "
                                         r"torch.nn.Sequential that redefines forward"):
        from_torch(Residual(torch.nn.Linear(2, 2)))


def test_from_torch_softplus_thresholds_that_keep_softplus() -> None:
    # PyTorch's default 20 gives x above 20, off by at most log1p(e^-20) = 2.06e-9, as the
    # docstring says; 100 in float64 (below log(max float64)) and to_torch's 40 are exact
    X = np.array([[-30.0], [0.0], [19.9], [20.0 + 1e-9], [25.0], [39.0], [45.0], [150.0]])
    for threshold, tolerance in ((20.0, 2.1e-9), (40.0, 0.0), (100.0, 0.0)):
        net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Softplus(threshold=threshold))
        net = net.double()
        with torch.no_grad():
            net[0].weight.fill_(1.0)
            net[0].bias.fill_(0.0)
        model = from_torch(net)
        np.testing.assert_allclose(ours(model, X), torch_out(net, X), rtol=1e-15, atol=tolerance)
    assert float(np.log1p(np.exp(-20.0))) < 2.1e-9


def test_from_torch_refuses_other_sources() -> None:
    with pytest.raises(TypeError, match=r"got Linear \(for another Module, pass module"):
        from_torch(torch.nn.Linear(2, 2))


# ---- ONNX -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_to_onnx_gives_our_outputs_in_onnx_runtime(name: str, dtype: str,
                                                   tmp_path: Path) -> None:
    model = MLP(3, [6, 5, 2], activation=name, output_activation=name, seed=4)
    path = tmp_path / "model.onnx"
    if name == "gelu" and dtype == "float64":
        with pytest.raises(ValueError, match=r"gelu needs erf or erfc to float64's precision, .* "
                           r"dtype='float32'"):
            to_onnx(model, path, dtype=dtype)
        return
    to_onnx(model, path, dtype=dtype)
    X = np.random.default_rng(4).normal(scale=3.0, size=(9, 3))
    np.testing.assert_allclose(onnx_out(path, X, dtype), ours(model, X),
                               **(FLOAT64 if dtype == "float64" else FLOAT32))


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "gelu"])
def test_each_float64_onnx_activation_is_accurate_everywhere(name: str, tmp_path: Path) -> None:
    # elu's and softplus's compositions near 0 and in the tails, to a few ulps (a naive
    # exp(x) − 1 or log(1 + x) is off by ~1e-7 relative at x = -1e-10)
    layer = unit_layer(name)
    to_onnx(layer, tmp_path / "unit.onnx", dtype="float64")
    X = POINTS[:, None]
    np.testing.assert_allclose(onnx_out(tmp_path / "unit.onnx", X, "float64"), ours(layer, X),
                               rtol=1e-14, atol=1e-300)


FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32, 1.2e-38
# float32 inputs from ±1e-37 to ±1e4 (the contract's range), 0 and the tails included
FLOAT32_GRID = np.concatenate([-np.logspace(-37, 4, 600), [0.0], np.logspace(-37, 4, 600)]
                              ).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_float32_onnx_activation_is_within_2e_7_relative(name: str,
                                                               tmp_path: Path) -> None:
    # as to_onnx's docstring says: within 2e-7 relative of the exact value at the float32
    # input wherever that value is a normal float32 (float32's Sigmoid was 17% off at -15,
    # Elu gave 0 at -1e-8, 1 + Erf lost gelu below -5), and float32's rounding below
    layer = unit_layer(name)
    to_onnx(layer, tmp_path / "unit.onnx", dtype="float32")
    X = FLOAT32_GRID[:, None]
    got, exact = onnx_out(tmp_path / "unit.onnx", X, "float32"), ours(layer, X)
    normal = np.abs(exact) >= FLOAT32_TINY
    np.testing.assert_allclose(got[normal], exact[normal], rtol=2e-7, atol=0.0)
    np.testing.assert_allclose(got[~normal], exact[~normal], rtol=0.0, atol=FLOAT32_TINY)


def test_the_onnx_file_states_its_opset_and_shapes(tmp_path: Path) -> None:
    proto = to_onnx(MLP(2, [3, 1], seed=0), tmp_path / "m.onnx")
    loaded = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded == proto
    assert [(o.domain, o.version) for o in loaded.opset_import] == [("", ONNX_OPSET)]
    shape = [d.dim_param or d.dim_value for d in loaded.graph.input[0].type.tensor_type.shape.dim]
    assert loaded.graph.input[0].name == "input" and shape == ["batch", 2]
    assert loaded.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert "MLP(2 → 3 relu → 1 identity)" in loaded.doc_string


def test_to_onnx_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a function of your own"):
        to_onnx(MLP(2, [1], output_activation=abs, seed=0), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64' .*; got 'int8'"):
        to_onnx(MLP(2, [1], seed=0), tmp_path / "m.onnx", dtype="int8")
    assert not (tmp_path / "m.onnx").exists()


# ---- micrograd's MLP, and a trained model round trip ------------------------------------------


def test_micrograds_mlp_exports_too(tmp_path: Path) -> None:
    random.seed(2)
    model = micrograd_nn.MLP(3, [4, 4, 1])
    assert [layer.activation for layer in dense_layers(model)] == ["relu", "relu", "identity"]
    X = np.random.default_rng(2).normal(size=(5, 3))
    expected = np.array([[model([MicrogradValue(v) for v in row]).data] for row in X])
    np.testing.assert_allclose(torch_out(to_torch(model), X), expected, **FLOAT64)
    to_onnx(model, tmp_path / "m.onnx", dtype="float64")
    np.testing.assert_allclose(onnx_out(tmp_path / "m.onnx", X, "float64"), expected, **FLOAT64)


def test_a_trained_model_round_trips_with_equal_outputs(tmp_path: Path) -> None:
    model, X = trained_moons_model()
    net = to_torch(model)
    back = from_torch(net)
    to_onnx(back, tmp_path / "m64.onnx", dtype="float64")
    to_onnx(model, tmp_path / "m32.onnx", dtype="float32")
    expected = ours(model, X)
    np.testing.assert_array_equal(ours(back, X), expected)  # the same weights, bit for bit
    np.testing.assert_allclose(torch_out(net, X), expected, **FLOAT64)
    np.testing.assert_allclose(onnx_out(tmp_path / "m64.onnx", X, "float64"), expected, **FLOAT64)
    np.testing.assert_allclose(onnx_out(tmp_path / "m32.onnx", X, "float32"), expected, **FLOAT32)
    predictions = (expected[:, 0] > 0).astype(int)
    assert ((onnx_out(tmp_path / "m32.onnx", X, "float32")[:, 0] > 0) == predictions).all()


def test_a_micrograd_layer_whose_neurons_differ_is_refused(tmp_path: Path) -> None:
    random.seed(0)
    layer = micrograd_nn.Layer(2, 2)
    layer.neurons[1].nonlin = False
    message = (r"micrograd layer 0 \(Layer of \[ReLUNeuron\(2\), LinearNeuron\(2\)\]\) mixes "
               r"activations: neuron 0 is ReLU \(nonlin=True\), neuron 1 is linear "
               r"\(nonlin=False\); export writes one activation per layer")
    with pytest.raises(ValueError, match=message):
        to_torch(layer)
    model = micrograd_nn.MLP(2, [3, 1])
    model.layers[1].neurons[0].nonlin = True  # one neuron: still one activation
    model.layers[0].neurons[2].nonlin = False
    with pytest.raises(ValueError, match=r"micrograd layer 0 .* neuron 2 is linear"):
        to_onnx(model, tmp_path / "m.onnx")
    layer.neurons[0].nonlin = False  # all linear now: exported as such
    assert [d.activation for d in dense_layers(layer)] == ["identity"]


class Scaled(MLP):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 2.0


class Renamed(MLP):
    """A subclass that leaves the computation alone."""


class Shifted(Layer):
    def transform(self, x: Any) -> Any:
        return super().transform(x) + 1.0


class TanhNeuron(micrograd_nn.Neuron):
    def __call__(self, x: Any) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.tanh()


def test_our_subclasses_that_compute_otherwise_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"the model is Scaled, a subclass of "
                                        r"tinygrad_edu.nn.MLP that redefines forward: its "
                                        r"outputs need not be those of the MLP export writes"):
        to_torch(Scaled(2, [3, 1], seed=0))
    model = MLP(2, [3, 1], seed=0)
    model.layers[0] = Shifted(2, 3, activation="relu", seed=0)
    with pytest.raises(TypeError, match=r"layer 0 is Shifted, a subclass of "
                                        r"tinygrad_edu.nn.Layer that redefines transform"):
        to_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match=r"the model is Scaled"):
        from_torch(to_torch(MLP(2, [3, 1], seed=0)), Scaled(2, [3, 1], seed=0))
    random.seed(0)
    micro = micrograd_nn.Layer(2, 2)
    micro.neurons[1] = TanhNeuron(2)
    with pytest.raises(TypeError, match=r"neuron 1 of micrograd layer 0 is TanhNeuron, a "
                                        r"subclass of tinygrad_edu.micrograd.nn.Neuron that "
                                        r"redefines __call__"):
        dense_layers(micro)


def test_our_subclasses_that_keep_the_computation_export() -> None:
    model = Renamed(2, [3, 1], activation="tanh", seed=0)
    X = np.random.default_rng(0).normal(size=(4, 2))
    np.testing.assert_allclose(torch_out(to_torch(model), X), ours(model, X), **FLOAT64)


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if hasattr(Value, n)])
def test_value_methods_count_as_their_activation(name: str) -> None:
    # MLP(..., activation=Value.tanh) shows activation='tanh' and exports as tanh
    model = MLP(2, [3, 1], activation=getattr(Value, name), seed=0)
    assert f"3 {name}" in repr(model)
    assert dense_layers(model)[0].activation == name
    if name in TORCH_ACTIVATIONS:
        X = np.random.default_rng(0).normal(scale=3.0, size=(6, 2))
        np.testing.assert_allclose(torch_out(to_torch(model), X), ours(model, X), **FLOAT64)


# ---- without the extra ------------------------------------------------------------------------


@pytest.mark.parametrize("missing, call", [
    ("torch", lambda path: to_torch(MLP(2, [1], seed=0))),
    ("torch", lambda path: from_torch({})),
    ("onnx", lambda path: to_onnx(MLP(2, [1], seed=0), path)),
])
def test_a_missing_extra_says_how_to_install_it(missing: str, call: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import torch` now raises ImportError
    with pytest.raises(ExportDependencyError,
                       match=rf"needs the package '{missing}', which is not installed: pip "
                             r"install 'tinygrad_edu\[export\]'"):
        call(tmp_path / "m.onnx")
    assert export.EXPORT_INSTALL_HINT.endswith("or make, which installs it")
