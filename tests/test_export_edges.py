"""tinygrad_edu.export at its edges: modules listed twice, shared parameters, layers that do
not fit, and the gradients of what to_torch builds."""

from __future__ import annotations

import collections
import importlib
import io
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.activations import ACTIVATIONS
from tinygrad_edu.engine import Value
from tinygrad_edu.export import from_torch, to_onnx, to_torch
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.nn import MLP, Layer

torch: Any = importlib.import_module("torch")
onnxruntime: Any = importlib.import_module("onnxruntime")


def torch_out(net: Any, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(net(torch.tensor(X, dtype=torch.float64)).numpy())


def tied_mlp() -> MLP:
    """MLP(3 → 3 tanh → 3 tanh → 3 tanh → 1): layer 1 is layer 0, layer 2 shares only W."""
    model = MLP(3, [3, 3, 3, 1], activation="tanh", seed=0)
    model.layers[1] = model.layers[0]
    model.layers[2].W = model.layers[0].W
    return model


# ---- from_torch reads every module the Sequential runs ------------------------------------


def test_a_module_listed_twice_is_read_twice() -> None:
    # named_children() gives a module once: a reused activation lost its second use (the
    # last layers became linear) and a reused Linear its second layer, silently
    nn = torch.nn
    torch.manual_seed(0)
    act = nn.Tanh()
    net = nn.Sequential(nn.Linear(2, 4), act, nn.Linear(4, 4), act, nn.Linear(4, 1), act)
    model = from_torch(net.double())
    assert repr(model) == "MLP(2 → 4 tanh → 4 tanh → 1 tanh)"
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(model(X).data, torch_out(net, X), rtol=1e-12, atol=1e-12)
    linear = nn.Linear(3, 3)
    net = nn.Sequential(linear, nn.ReLU(), linear).double()
    model = from_torch(net)
    assert repr(model) == "MLP(3 → 3 relu → 3 identity)"
    assert model.layers[1].W is model.layers[0].W and model.layers[1].b is model.layers[0].b
    X = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_allclose(model(X).data, torch_out(net, X), rtol=1e-12, atol=1e-12)


def test_nested_sequentials_and_identities_are_read_as_pytorch_runs_them() -> None:
    nn = torch.nn
    torch.manual_seed(2)
    net = nn.Sequential(nn.Identity(), nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.ELU()),
                        nn.Sequential(nn.Linear(3, 1)), nn.Identity()).double()
    model = from_torch(net)
    assert repr(model) == "MLP(2 → 3 elu → 1 identity)"
    X = np.random.default_rng(2).normal(size=(4, 2))
    np.testing.assert_allclose(model(X).data, torch_out(net, X), rtol=1e-12, atol=1e-12)

    class Residual(torch.nn.Sequential):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            return x + super().forward(x)

    with pytest.raises(ValueError, match=r"from_torch: module 1 is Residual, a subclass of "
                                         r"torch.nn.Sequential that redefines forward"):
        from_torch(nn.Sequential(nn.Linear(2, 2), Residual(nn.Linear(2, 2))))


def test_an_activation_before_any_linear_is_named_as_such() -> None:
    # (the Softplus check ran first and spoke of overflow "in None")
    nn = torch.nn
    with pytest.raises(ValueError, match=r"module 0 of the Sequential is Softplus\(beta=1.0, "
                                         r"threshold=100.0\), which does not follow a Linear"):
        from_torch(nn.Sequential(nn.Softplus(threshold=100.0), nn.Linear(2, 2)))


# ---- shared parameters stay shared ---------------------------------------------------------


def test_to_torch_keeps_shared_parameters_shared_and_trains_as_we_do(tmp_path: Path) -> None:
    model = tied_mlp()
    net = to_torch(model)
    assert len(list(net.parameters())) == len(model.parameters()) == 5
    assert net[2].weight is net[0].weight and net[2].bias is net[0].bias
    assert net[4].weight is net[0].weight and net[4].bias is not net[0].bias
    # one SGD step on both: the tied weights move by the sum of their gradients, in both
    X = np.random.default_rng(3).normal(size=(6, 3))
    loss = (model(X) ** 2).mean()
    loss.backward()
    for p in model.parameters():
        p.data = p.data - 0.1 * p.grad
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    (net(torch.tensor(X)) ** 2).mean().backward()
    opt.step()
    np.testing.assert_allclose(torch_out(net, X), model(X).data, rtol=1e-12, atol=1e-12)
    # and back: the same ties in a new MLP, and into the tied model itself
    back = from_torch(net)
    assert back.layers[1].W is back.layers[0].W and back.layers[2].W is back.layers[0].W
    assert back.layers[2].b is not back.layers[0].b
    assert len(back.parameters()) == 5
    assert from_torch(net, tied_mlp()) is not None
    # an ONNX file stores a shared parameter once
    proto = to_onnx(model, tmp_path / "tied.onnx", dtype="float64")
    assert len(proto.graph.initializer) == 5
    session = onnxruntime.InferenceSession(str(tmp_path / "tied.onnx"),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": X})[0], model(X).data,
                               rtol=1e-12, atol=1e-12)


def test_from_torch_refuses_different_weights_for_one_shared_parameter() -> None:
    model = tied_mlp()
    before = [np.array(p.data) for p in model.parameters()]
    net = to_torch(MLP(3, [3, 3, 3, 1], activation="tanh", seed=1))  # nothing tied
    with pytest.raises(ValueError, match=r"from_torch: layer 0's W and layer 1's W of MLP\(.*\) "
                                         r"are the same parameter \(one Value\), but the weights "
                                         r"given for them differ"):
        from_torch(net, model)
    for p, old in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, old)


def test_from_torch_refuses_different_weights_for_one_shared_micrograd_parameter() -> None:
    # each scalar was written once per use, so the last layer's weights won, silently
    random.seed(0)
    micro = micrograd_nn.MLP(2, [2, 2, 1])
    micro.layers[1] = micro.layers[0]
    data = [p.data for p in micro.parameters()]
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2),
                              torch.nn.ReLU(), torch.nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"weight 0 of neuron 0 of layer 0 and weight 0 of "
                                         r"neuron 0 of layer 1 of .* are the same parameter"):
        from_torch(seq, micro)
    assert [p.data for p in micro.parameters()] == data
    seq[2] = seq[0]  # tied in PyTorch too: loads
    from_torch(seq, micro)
    assert micro.layers[0].neurons[1].w[0].data == float(seq[0].weight.detach()[1, 0])


# ---- a model whose layers were replaced by hand ---------------------------------------------


def replaced_layer() -> MLP:
    model = MLP(2, [3, 1], seed=0)
    model.layers[1] = Layer(5, 1, seed=0)
    return model


def wide_weight() -> Layer:
    layer = Layer(2, 3, seed=0)
    layer.W = Value(np.ones((2, 4)))
    return layer


def ragged_micrograd_layer() -> micrograd_nn.Layer:
    random.seed(0)
    layer = micrograd_nn.Layer(2, 2)
    layer.neurons[1] = micrograd_nn.Neuron(3)
    return layer


def no_layers() -> MLP:
    model = MLP(2, [1], seed=0)
    model.layers = []
    return model


@pytest.mark.parametrize("make, message", [
    (replaced_layer, r"^layer 1 takes 5 inputs, but the layer before it gives 3 outputs$"),
    (wide_weight, r"^layer 0 has a weight of shape \(2, 4\) and a bias of shape \(3,\); a dense "
     r"layer has \(nin, nout\) and \(nout,\)$"),
    (ragged_micrograd_layer, r"^micrograd layer 0 \(.*\): neuron 0 has 2 weights, neuron 1 3; "
     r"the neurons of a layer read the same inputs$"),
    (no_layers, r"^the model MLP\(2\) has no layers$"),
])
@pytest.mark.parametrize("export", ["to_torch", "to_onnx"])
def test_layers_that_do_not_fit_are_named(make: Any, message: str, export: str,
                                          tmp_path: Path) -> None:
    # to_torch built a Sequential that failed only when run (or an empty one), to_onnx failed
    # in ONNX's shape inference (or with an IndexError), micrograd's ragged neurons gave
    # numpy's "inhomogeneous shape"
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=message):
        to_torch(make()) if export == "to_torch" else to_onnx(make(), path)
    assert not path.exists()


# ---- gradients: what PyTorch trains is what we train -----------------------------------------


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "step"])
def test_to_torch_gives_our_gradients_at_the_kinks_too(name: str) -> None:
    # a random upstream gradient, and a sample whose pre-activations are exactly 0 (the kinks)
    model = MLP(3, [4, 2], activation=name, output_activation=name, seed=1)
    model.layers[0].b.data = np.zeros(4)
    rng = np.random.default_rng(5)
    X, G = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    X[0] = 0.0
    x = Value(X)
    model(x).backward(G)
    net = to_torch(model)
    xt = torch.tensor(X, requires_grad=True)
    net(xt).backward(torch.tensor(G))
    assert xt.grad is not None
    np.testing.assert_allclose(xt.grad.numpy(), x.grad, rtol=1e-12, atol=1e-15)
    for (label, ours), theirs in zip(model.named_parameters(), net.parameters(), strict=True):
        grad = theirs.grad.numpy()
        np.testing.assert_allclose(grad.T if grad.ndim == 2 else grad, ours.grad, rtol=1e-12,
                                   atol=1e-15, err_msg=label)


def test_a_state_dict_sorted_as_text_is_refused_not_shuffled() -> None:
    # 6 Linear layers of one width: sorted as text, "10" comes before "2" and the layers of
    # equal shape loaded in that order, silently
    nn = torch.nn
    torch.manual_seed(3)
    modules: list[Any] = []
    for _ in range(5):
        modules += [nn.Linear(4, 4), nn.Tanh()]
    net = nn.Sequential(*modules, nn.Linear(4, 4)).double()
    state = net.state_dict()
    model = MLP(4, [4] * 6, activation="tanh", seed=0)
    from_torch(state, model)  # in PyTorch's order: loads
    X = np.random.default_rng(3).normal(size=(3, 4))
    np.testing.assert_allclose(model(X).data, torch_out(net, X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"the state_dict lists 10.weight before 2.weight, out "
                                         r"of the order the layers run in \(was it sorted as "
                                         r"text\?\)"):
        from_torch(dict(sorted(state.items())), model)
    # names not numbered alike keep the order given (encoder runs first, decoder second)
    coder = {"encoder.weight": np.ones((3, 2)), "encoder.bias": np.zeros(3),
             "decoder.weight": np.ones((1, 3)), "decoder.bias": np.zeros(1)}
    assert from_torch(coder, MLP(2, [3, 1], seed=0))([1.0, 1.0]).data == 6.0


@pytest.mark.parametrize("names", ["named", "nested"])
def test_named_or_nested_layers_sorted_as_text_are_refused_not_shuffled(names: str) -> None:
    # fc1, fc10, fc2 (a Sequential of an OrderedDict) and 0, 10, 2.0 (a Sequential inside
    # one): the check compared only names of as many dotted parts, each part a number or
    # equal, and loaded these shuffled, silently
    nn = torch.nn
    torch.manual_seed(4)
    if names == "named":
        modules: dict[str, Any] = {}
        for i in range(1, 11):
            modules[f"fc{i}"], modules[f"act{i}"] = nn.Linear(2, 2), nn.Tanh()
        net = nn.Sequential(collections.OrderedDict(modules)).double()
        model = MLP(2, [2] * 10, activation="tanh", output_activation="tanh", seed=0)
    else:
        net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Sequential(nn.Linear(2, 2), nn.Tanh()),
                            *[nn.Identity() for _ in range(7)], nn.Linear(2, 2),
                            nn.Tanh()).double()
        model = MLP(2, [2, 2, 2], activation="tanh", output_activation="tanh", seed=0)
    X = np.random.default_rng(4).normal(size=(3, 2))
    from_torch(net.state_dict(), model)  # in PyTorch's order: loads
    np.testing.assert_allclose(model(X).data, torch_out(net, X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"lists (fc10|10)\.weight before (fc2|2\.0)\.weight"):
        from_torch(dict(sorted(net.state_dict().items())), model)


def test_frozen_parameters_stay_frozen_both_ways() -> None:
    # to_torch made every Parameter trainable, and from_torch every Value
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].W.requires_grad = False
    net = to_torch(model)
    assert [p.requires_grad for p in net.parameters()] == [False, True, True, True]
    back = from_torch(net)
    assert [p.requires_grad for p in back.parameters()] == [False, True, True, True]
    random.seed(0)
    micro = micrograd_nn.MLP(2, [2, 1])
    for neuron in micro.layers[1].neurons:
        neuron.b.requires_grad = False
    assert [p.requires_grad for p in to_torch(micro).parameters()] == [True, True, True, False]


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32"), "torch.float32",
                                   "float16", np.float16, 32])
def test_to_torch_takes_numpys_and_torchs_dtypes_by_name(dtype: Any) -> None:
    """np.float32 and torch.float32 were refused (only the strings were taken); a dtype of
    another name is refused, as before."""
    model = MLP(2, [3, 1], seed=0)
    if dtype in ("float16", np.float16, 32, "torch.float32"):
        with pytest.raises(ValueError, match=r"^to_torch: dtype must be 'float32' or 'float64'"):
            to_torch(model, dtype=dtype)
        return
    assert to_torch(model, dtype=dtype)[0].weight.dtype == torch.float32
    assert to_torch(model, dtype=torch.float32)[0].weight.dtype == torch.float32
    assert to_torch(model, dtype=torch.float64)[0].weight.dtype == torch.float64


# ---- what a torch Parameter cannot hold is refused, not untied ----------------------------


def test_a_weight_computed_from_another_layers_is_refused_both_ways() -> None:
    # a tied autoencoder's decoder (W.T) became a Parameter of its own in PyTorch: trained
    # there, the tie was lost silently; from_torch raised a bare KeyError of an object id
    model = MLP(3, [2, 3], activation="tanh", seed=0)
    model.layers[1].W = model.layers[0].W.T
    with pytest.raises(ValueError, match=r"layer 1's W is computed from other Values \(by "
                                         r"transpose\), not a parameter of its own"):
        to_torch(model)
    state = to_torch(MLP(3, [2, 3], activation="tanh", seed=1)).state_dict()
    with pytest.raises(ValueError, match=r"layer 1's W is computed .* no weights can be loaded"):
        from_torch(state, model)


def test_onnx_takes_a_computed_weight_as_the_numbers_it_holds(tmp_path: Path) -> None:
    model = MLP(3, [2, 3], activation="tanh", seed=0)
    model.layers[1].W = model.layers[0].W.T
    path = tmp_path / "tied.onnx"
    to_onnx(model, path, dtype="float64")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(session.run(None, {"input": X})[0], model(X).data,
                               rtol=1e-12, atol=1e-12)


def micrograd_mlp() -> Any:
    random.seed(0)
    return micrograd_nn.MLP(2, [3, 1])


def test_a_micrograd_layer_frozen_in_part_is_refused() -> None:
    # the frozen neuron trained in PyTorch: _frozen froze a weight only if all were
    model = micrograd_mlp()
    for p in [*model.layers[0].neurons[0].w, model.layers[0].neurons[0].b]:
        p.requires_grad = False
    with pytest.raises(ValueError, match=r"micrograd layer 0 has frozen weights .* beside "
                                         r"trainable ones"):
        to_torch(model)
    for p in model.layers[0].parameters():  # frozen as a whole: frozen there too
        p.requires_grad = False
    net = to_torch(model)
    assert not net[0].weight.requires_grad and not net[0].bias.requires_grad
    assert net[2].weight.requires_grad


def test_micrograd_values_tied_within_a_layer_or_across_parts_are_refused() -> None:
    model = micrograd_mlp()
    shared = model.layers[0].neurons[0].b
    for neuron in model.layers[0].neurons:
        neuron.b = shared
    with pytest.raises(ValueError, match="the bias of neuron 0 of micrograd layer 0 and the "
                                         "bias of neuron 1 of micrograd layer 0 are one Value"):
        to_torch(model)
    model = micrograd_mlp()
    model.layers[1].neurons[0].w[0] = model.layers[0].neurons[2].w[1]
    with pytest.raises(ValueError, match="weight 1 of neuron 2 of micrograd layer 0 and "
                                         "weight 0 of neuron 0 of micrograd layer 1 are one"):
        to_torch(model)


def test_whole_micrograd_layers_tied_stay_one_parameter() -> None:
    random.seed(0)
    model = micrograd_nn.MLP(2, [2, 2, 1])
    model.layers[1].neurons[0].b = model.layers[0].neurons[0].b  # (one bias of a layer's
    with pytest.raises(ValueError, match="are one Value"):  # two: refused)
        to_torch(model)
    random.seed(0)
    model = micrograd_nn.MLP(2, [2, 2, 1])
    for mine, theirs in zip(model.layers[1].neurons, model.layers[0].neurons, strict=True):
        mine.w, mine.b = list(theirs.w), theirs.b  # (layer 1's weights and biases: layer 0's)
    net = to_torch(model)
    assert net[2].weight is net[0].weight and net[2].bias is net[0].bias


def test_an_output_method_set_on_the_model_itself_is_refused() -> None:
    # the instance's forward is what runs; only the class was looked at: torch gave half
    model = MLP(2, [3, 1], seed=0)
    plain = model.forward
    model.forward = lambda x: plain(x) * 2.0  # type: ignore[method-assign]
    with pytest.raises(TypeError, match="the model has its own forward"):
        to_torch(model)
    linear = torch.nn.Linear(2, 1).double()
    original = linear.forward
    linear.forward = lambda x: original(x) * 2.0
    with pytest.raises(ValueError, match="with its own forward set on it"):
        from_torch(torch.nn.Sequential(linear))


# ---- from_torch: what a state_dict or a Sequential holds instead of weights -------------


@pytest.mark.parametrize(("entry", "error", "message"), [
    (torch.ones(3, 2, dtype=torch.complex64), TypeError, r"0.weight holds complex numbers"),
    ("abc", TypeError, r"0.weight must hold real numbers .* got 'abc' \(type str\)"),
    (None, TypeError, r"0.weight must hold real numbers .* got None"),
    ([[1.0, 2.0], [3.0]], TypeError, r"0.weight must hold real numbers"),
])
def test_a_state_dict_entry_that_holds_no_real_numbers_is_named(entry: Any, error: type,
                                                               message: str) -> None:
    # complex weights lost their imaginary part with only torch's warning; a string gave
    # numpy's "could not convert string to float", None "has shape ()"
    with pytest.raises(error, match=message):
        from_torch({"0.weight": entry, "0.bias": torch.zeros(3)}, MLP(2, [3]))


def test_a_lazy_or_meta_linear_is_refused_saying_why() -> None:
    with pytest.raises(ValueError, match="a lazy module whose weights are not made yet"):
        from_torch(torch.nn.Sequential(torch.nn.LazyLinear(3)))
    with pytest.raises(ValueError, match="on the 'meta' device"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3, device="meta")))


def test_a_state_dict_loads_into_a_model_with_an_activation_of_the_users() -> None:
    # a state_dict holds no activations, yet the model's own was refused, "to be exported"
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    model = MLP(2, [3, 1], activation=lambda v: v.tanh() * 2.0, seed=0)
    assert from_torch(net.state_dict(), model) is model
    np.testing.assert_array_equal(model.layers[0].W.data, net[0].weight.detach().numpy().T)
    with pytest.raises(ValueError, match="cannot be matched with the Sequential's activation "
                                         r"modules; load its weights alone"):
        from_torch(net, model)


@pytest.mark.parametrize("path", [3, None, b"model.onnx"])
def test_to_onnx_refuses_a_path_that_is_no_file_name(path: Any) -> None:
    # a file descriptor (3) was written to and closed: the program's own file, say
    with pytest.raises(TypeError, match=r"to_onnx: the path must be a str or a pathlib\.Path"):
        to_onnx(MLP(2, [1], seed=0), path)


def test_to_onnx_refuses_a_folder_and_writes_to_a_file_object(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a folder; give the name of a file in it"):
        to_onnx(MLP(2, [1], seed=0), tmp_path)
    with pytest.raises(FileNotFoundError, match=r"the folder .* does not exist"):
        to_onnx(MLP(2, [1], seed=0), tmp_path / "missing" / "model.onnx")
    buffer = io.BytesIO()
    to_onnx(MLP(2, [1], seed=0), buffer)
    assert buffer.getvalue()[:2] == b"\x08\x08"  # (ir_version 8, the first field written)


# ---- activation=Value.tanh: the fast executor's copy of the method -----------------------


def test_a_model_made_with_a_value_method_pickles_and_exports_in_either_mode() -> None:
    # pickle found NamedOperations.tanh, not the fast copy Value holds: a PicklingError; and
    # inside detect_anomaly (the methods as written) the copy was "a function of your own"
    from tinygrad_edu import detect_anomaly
    model = MLP(2, [3, 1], activation=Value.tanh, seed=0)
    again = pickle.loads(pickle.dumps(model))
    assert again.layers[0].activation is Value.tanh
    with detect_anomaly():
        assert isinstance(to_torch(model)[1], torch.nn.Tanh)
        inside = MLP(2, [3, 1], activation=Value.relu, seed=0)
        data = pickle.dumps(inside)
        outside = pickle.dumps(model)  # (made outside, pickled inside: Value.tanh is the
        # method as written here, not the fast copy the model holds)
    assert isinstance(to_torch(inside)[1], torch.nn.ReLU)
    assert isinstance(to_torch(pickle.loads(data))[1], torch.nn.ReLU)
    assert isinstance(to_torch(pickle.loads(outside))[1], torch.nn.Tanh)
