"""Edges of `Module`: which attributes are parameters, and saving and loading them."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.nn import MLP, Layer, Module, mse_loss
from tinygrad_edu.optim import SGD


class TwoHeads(Module):
    """A trunk and two heads kept in a dict, and a stack of blocks in a list of lists."""

    def __init__(self) -> None:
        self.trunk = Layer(2, 3, activation="tanh", seed=0)
        self.heads = {"left": Layer(3, 1, seed=1), "right": Layer(3, 1, seed=2)}
        self.blocks = [[Layer(3, 3, seed=3)]]

    def forward(self, x: Any) -> Value:
        h = self.blocks[0][0](self.trunk(x))
        return self.heads["left"](h) + self.heads["right"](h)


def test_layers_in_a_dict_or_a_nested_list_are_parameters() -> None:
    """Parameters in a dict (or a list of lists) were silently left out: the optimizer never
    trained them, and save() did not write them."""
    model = TwoHeads()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["trunk.W", "trunk.b", "heads.left.W", "heads.left.b", "heads.right.W",
                     "heads.right.b", "blocks.0.0.W", "blocks.0.0.b"]
    before = np.array(model.heads["right"].W.data)
    opt = SGD(model.parameters(), lr=0.1)
    mse_loss(model(np.ones((4, 2))), np.zeros(4)).backward()
    opt.step()
    assert not np.array_equal(model.heads["right"].W.data, before)


class Recorder(Module):
    """A model that keeps its last output to look at (as learners do, to draw its graph)."""

    def __init__(self) -> None:
        self.layer = Layer(2, 1, seed=0)
        self.last: Value | None = None

    def forward(self, x: Any) -> Value:
        self.last = self.layer(x)
        return self.last


def test_a_value_an_operation_made_is_not_a_parameter(tmp_path: Path) -> None:
    """An output kept as an attribute became a 'parameter' after the first forward pass: the
    optimizer refused it as no leaf, state_dict() grew, and a saved model could not be
    loaded into a fresh one ('unexpected parameters'). In PyTorch only leaves are."""
    model = Recorder()
    model(np.ones((3, 2)))
    assert [name for name, _ in model.named_parameters()] == ["layer.W", "layer.b"]
    SGD(model.parameters(), lr=0.1)
    model.save(tmp_path / "recorder.npz")
    Recorder().load(tmp_path / "recorder.npz")


def test_save_and_load_refuse_a_folder(tmp_path: Path) -> None:
    """save(folder) wrote folder.npz beside it (numpy appends the suffix), and load(folder)
    then failed with IsADirectoryError; a path ending in / wrote a hidden '.npz' in it."""
    model = MLP(2, [1], seed=0)
    folder = tmp_path / "runs"
    folder.mkdir()
    for path in (folder, str(folder), f"{folder}/"):
        with pytest.raises(ValueError, match=r"MLP\.save: '.*runs/?' is a folder; give the "
                                             r"name of a file in it, e\.g\. '.*runs/model\.npz'"):
            model.save(path)
        with pytest.raises(ValueError, match=r"MLP\.load: '.*runs/?' is a folder"):
            model.load(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["runs"]


@pytest.mark.parametrize("name", ["file", "allow_pickle"])
def test_parameters_named_like_numpy_savez_arguments_are_saved(tmp_path: Path,
                                                               name: str) -> None:
    """np.savez(path, **state) took a parameter named 'file' as its path argument (TypeError:
    multiple values) and one named 'allow_pickle' as its flag (silently not written)."""
    model, other = Module(), Module()
    setattr(model, name, Value([1.0, 2.0]))
    setattr(other, name, Value([0.0, 0.0]))
    model.save(tmp_path / "m")
    other.load(tmp_path / "m")
    np.testing.assert_array_equal(getattr(other, name).data, [1.0, 2.0])


def test_a_broken_npz_file_is_refused_without_leaving_it_open(tmp_path: Path) -> None:
    """np.load(path) on a file that starts like a zip but is none left the file open (a
    ResourceWarning when it was collected)."""
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"is not a readable \.npz file of parameters"):
            MLP(2, [1], seed=0).load(path)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_load_state_dict_of_no_mapping_says_what_it_takes() -> None:
    """A list of (name, array) pairs gave "unhashable type: 'list'"."""
    model = MLP(2, [1], seed=0)
    with pytest.raises(TypeError, match=r"takes a dict of arrays by parameter name .*got list"):
        model.load_state_dict(list(model.state_dict().items()))  # type: ignore[arg-type]


def test_a_reference_back_to_the_owner_is_walked_once() -> None:
    """A layer that keeps a reference to the model it belongs to (or a list that holds
    itself) made parameters() recurse until RecursionError; PyTorch walks each module once."""
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].owner = model  # type: ignore[attr-defined]
    loop: list[Any] = []
    loop.append(loop)
    model.loop = loop  # type: ignore[attr-defined]
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]


@pytest.mark.parametrize("heads", [{"a.b": 1.0, "a": {"b": 2.0}}, {1: 1.0, "1": 2.0}])
def test_two_parameters_of_one_dotted_name_are_refused(heads: dict[Any, Any]) -> None:
    """A dict key with a dot (or keys 1 and "1") gave two parameters one name: state_dict()
    kept one of them, so save() and load() lost the other without a word."""
    class Heads(Module):
        def __init__(self) -> None:
            self.heads = {key: Value([1.0]) if isinstance(item, float) else
                          {k: Value([2.0]) for k in item} for key, item in heads.items()}

    model = Heads()
    for reading in (model.named_parameters, model.state_dict, model.parameters):
        with pytest.raises(ValueError, match=r"two parameters of Heads are both named "
                                             r"'heads\.(a\.b|1)'"):
            reading()


@pytest.mark.parametrize("model", ["Layer", "MLP", "Neuron"])
def test_a_first_layers_weights_may_change_before_backward_with_a_numpy_batch(
        model: str) -> None:
    """``X @ W`` with a numpy batch X reads no data of W (its gradient is Xᵀ·g): the models
    took X as a constant Value, which W's rule reads for X's gradient, so W was watched and
    an edit of it refused backward(), where `X @ W` written out (and torch.nn.Linear) do
    not. A later layer's W, which the hidden layer's gradient reads, is still watched."""
    from tinygrad_edu.engine import gradients
    from tinygrad_edu.nn import Neuron

    X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    makers: dict[str, Any] = {"Layer": lambda: Layer(3, 2, seed=0),
                              "Neuron": lambda: Neuron(3, seed=0),
                              "MLP": lambda: MLP(3, [4, 2], seed=0)}
    net: Any = makers[model]()
    first = net.layers[0].W if model == "MLP" else net.weights if model == "Neuron" else net.W
    loss = (net(X) ** 2).sum()
    expected = gradients(loss, net.parameters())
    first.data[0] = 0.5  # (between the forward and backward: legal, nothing reads it)
    loss.backward()
    for p, g in zip(net.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, g)
    if model == "MLP":
        loss = (net(X) ** 2).sum()
        net.layers[1].W.data[0, 0] = 9.0
        with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
            loss.backward()


@pytest.mark.parametrize(("damage", "said"), [
    (lambda entry: entry[:-8], r"cannot be read \(EOF: reading array data"),
    (lambda entry: b"junk" + entry[4:], r"is no numpy array"),
])
def test_a_damaged_entry_is_named_with_numpys_reason(tmp_path: Path, damage: Any,
                                                     said: str) -> None:
    """An entry cut short was called one that "holds Python objects" (any ValueError of
    numpy's was taken for the refusal of an object array); one whose header is broken, which
    numpy gives as bytes, was refused by load_state_dict as a value of type bytes."""
    import zipfile

    MLP(3, [2], seed=0).save(tmp_path / "ok.npz")
    with zipfile.ZipFile(tmp_path / "ok.npz") as good, \
            zipfile.ZipFile(tmp_path / "bad.npz", "w") as bad:
        for name in good.namelist():
            entry = good.read(name)
            bad.writestr(name, damage(entry) if name == "layers.0.W.npy" else entry)
    with pytest.raises(ValueError, match=r"its entry 'layers\.0\.W' " + said):
        MLP(3, [2], seed=0).load(tmp_path / "bad.npz")


def test_an_entry_of_python_objects_is_named_so(tmp_path: Path) -> None:
    entries: dict[str, Any] = {"layers.0.W": np.array([object()], dtype=object)}
    np.savez(tmp_path / "objects.npz", **entries)
    with pytest.raises(ValueError, match=r"'layers\.0\.W' holds Python objects, not numbers"):
        MLP(3, [2], seed=0).load(tmp_path / "objects.npz")


def test_load_state_dict_takes_another_models_parameters() -> None:
    """``load_state_dict(dict(other.named_parameters()))``, Values as torch's state dicts hold
    tensors, was refused ("... not a Value; ... or use the Value itself"); their data is
    copied, not shared."""
    source, target = MLP(3, [4, 2], seed=0), MLP(3, [4, 2], seed=1)
    target.load_state_dict(dict(source.named_parameters()))
    for (name, theirs), (_, ours) in zip(source.named_parameters(), target.named_parameters(),
                                         strict=True):
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)
        assert not np.shares_memory(ours.data, theirs.data)


class TiedWeights(Module):
    """An encoder E and its tied decoder, the view E.T, made once."""

    def __init__(self, scale: float = 1.0) -> None:
        self.E = Value(np.arange(6.0).reshape(2, 3) / 10 * scale)
        self.D = self.E.T

    def forward(self, x: Any) -> Value:
        return cast(Value, ((x @ self.E) @ self.D).sum())


def test_load_state_dict_writes_in_place_so_a_tied_view_follows() -> None:
    """The weights were rebound, so a view made before (a tied decoder, E.T) kept showing the
    old ones: the next forward pass computed with them, silently (PyTorch's load_state_dict
    copies in place). A graph recorded before the load still refuses backward()."""
    model, source = TiedWeights(), TiedWeights(scale=3.0)
    before = model(np.ones((1, 2)))
    model.load_state_dict(source.state_dict())
    after = model(np.ones((1, 2)))
    assert after.data == source(np.ones((1, 2))).data
    after.backward()
    with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
        before.backward()
