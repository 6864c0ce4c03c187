"""Values as Python objects: numpy and number conversions, construction-time checks of models,
and the messages of `Module.load` on files that are not ours."""

from __future__ import annotations

import math
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.nn import MLP, Layer, Neuron

# ---- conversions


def test_np_array_of_a_value_is_a_float64_array() -> None:
    v = Value([1.0, 2.0])
    array = np.array(v)
    assert array.dtype == np.float64 and array.tolist() == [1.0, 2.0]
    array[0] = 5.0
    assert v.data.tolist() == [1.0, 2.0]  # a copy
    assert np.asarray(Value(2.5)).dtype == np.float64 and np.asarray(Value(2.5)).shape == ()
    assert np.array(Value([[1.0]]), dtype=np.float32).dtype == np.float32
    assert np.array([Value(1.0), Value(2.0)]).dtype == np.float64


def test_a_list_of_values_is_refused_as_data_not_silently_detached() -> None:
    with pytest.raises(TypeError, match="stack"):
        Value([Value(1.0), Value(2.0)])
    with pytest.raises(TypeError, match="stack"):
        Value([[1.0], [Value(2.0)]])


@pytest.mark.parametrize("x", [2.7, -2.7, 2.5, 3.5, -0.5, 7.0])
@pytest.mark.parametrize("wrap", [lambda x: Value(x), lambda x: Value([x]), lambda x: Value([[x]])])
def test_number_conversions_behave_as_for_a_float(x: float, wrap: object) -> None:
    v = wrap(x)  # type: ignore[operator]
    assert int(v) == int(x) and type(int(v)) is int
    assert round(v) == round(x) and type(round(v)) is int
    assert round(v, 1) == round(x, 1)
    assert math.floor(v) == math.floor(x) and math.ceil(v) == math.ceil(x)
    assert math.trunc(v) == math.trunc(x)


def test_number_conversions_of_many_elements_say_why_not() -> None:
    with pytest.raises(ValueError, match="one element"):
        int(Value([1.0, 2.0]))
    with pytest.raises(ValueError, match="one element"):
        math.floor(Value([1.0, 2.0]))


# ---- models check every argument at construction


@pytest.mark.parametrize("make", [
    lambda: MLP(2, [1], activation="relux"),  # one layer: the hidden activation is unused
    lambda: MLP(2, [3, 1], output_activation="tanhh"),
    lambda: Neuron(2, activation="sigmoidd"),
    lambda: Layer(2, 3, activation="nope"),
])
def test_an_unknown_activation_is_refused_at_construction(make: object) -> None:
    with pytest.raises(ValueError, match=r"unknown activation .*known activations"):
        make()  # type: ignore[operator]


def test_the_message_names_the_argument() -> None:
    with pytest.raises(ValueError, match="MLP: activation: unknown activation 'relux'"):
        MLP(2, [1], activation="relux")
    with pytest.raises(TypeError, match="Layer: activation: "):
        Layer(2, 3, activation=3)  # type: ignore[arg-type]


# ---- Module.load on a file that is not ours


def _files(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / name for name in
             ("pickle.npz", "objects.npz", "text.npz", "array.npy", "broken.npz")}
    files["pickle.npz"].write_bytes(pickle.dumps({"W": [1.0]}))
    np.savez(files["objects.npz"], W=np.array([{"x": 1}], dtype=object))
    files["text.npz"].write_text("hello")
    np.save(files["array.npy"], np.zeros(3))
    with zipfile.ZipFile(tmp_path / "full.zip", "w") as archive:
        archive.writestr("W.npy", b"\x93NUMPY" + b"\x00" * 100)
    files["broken.npz"].write_bytes((tmp_path / "full.zip").read_bytes()[:40])
    return files


@pytest.mark.parametrize(("name", "what"), [
    ("pickle.npz", "it is a Python pickle"),
    ("objects.npz", "its entry 'W' holds Python objects, not numbers"),
    ("text.npz", "it starts with b'hello'"),
    ("array.npy", "it is a single .npy array"),
    ("broken.npz", "not a readable .npz file"),
])
def test_load_says_what_the_file_is_not_and_never_suggests_pickle(tmp_path: Path, name: str,
                                                                  what: str) -> None:
    path = _files(tmp_path)[name]
    with pytest.raises(ValueError, match=r"MLP\.load: .* is not") as error:
        MLP(2, [1]).load(path)
    assert what in str(error.value)
    assert "pickle=" not in str(error.value) and "pickle.load" not in str(error.value)
