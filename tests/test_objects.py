"""Values as Python objects: pickling and copying graphs of any depth, numpy and number
conversions, construction-time checks of models, and `Module.load` on files that are not ours."""

from __future__ import annotations

import array
import copy
import math
import pickle
import zipfile
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Value, engine, ops
from tinygrad_edu.data import Array
from tinygrad_edu.nn import MLP, Layer, Neuron

# ---- pickle and deepcopy

Roundtrip = Callable[[Any], Any]
ROUNDTRIPS: list[Roundtrip] = [lambda x: pickle.loads(pickle.dumps(x)), copy.deepcopy]
IDS = ["pickle", "deepcopy"]
UNARY = ["exp", "tanh", "sigmoid", "relu", "softplus", "gelu", "abs", "neg", "square", "sum"]
BINARY = ["+", "-", "*", "/", "**"]


def build_graph(steps: list[tuple[str, int, int]], scalar: bool,
                between: Callable[[int, list[Value]], None] | None = None) -> list[Value]:
    """Leaves, then one node per step (an op on earlier nodes): every node, oldest first.
    `between(k, nodes)` is called before step k (and after the last, k = len(steps))."""
    rng = np.random.default_rng(0)
    nodes = [Value(float(rng.uniform(0.5, 2.0)) if scalar else rng.uniform(0.5, 2.0, 3),
                   label=f"leaf{i}") for i in range(3)]
    nodes.append(Value(1.5, requires_grad=False))  # a constant
    for k, (name, i, j) in enumerate([*steps, ("", 0, 0)]):
        if between is not None:
            between(k, nodes)
        if k == len(steps):
            break
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if name in BINARY:
            out = {"+": a + b, "-": a - b, "*": a * b, "/": a / b,
                   "**": abs(a) ** (b * 0.1)}[name]
        elif name == "square":
            out = a**2
        elif name == "neg":
            out = -a
        elif name == "sum":
            out = a.sum() if a.shape else a * 1.0
        else:
            out = getattr(a, name)()
        nodes.append(out)
    return nodes


def nodes_of(root: Value) -> list[Value]:
    return list(reversed(engine.topological_order(root, constants=True)))


def assert_same_graph(a: Value, b: Value) -> None:
    """The same structure, ops, params, data, gradients and labels, node by node."""
    na, nb = nodes_of(a), nodes_of(b)
    assert len(na) == len(nb)
    position = {id(n): i for i, n in enumerate(na)}
    position_b = {id(n): i for i, n in enumerate(nb)}
    for x, y in zip(na, nb, strict=True):
        assert x is not y
        assert x.op is y.op and x.label == y.label and x.requires_grad == y.requires_grad
        assert dict(x.params).keys() == dict(y.params).keys()
        assert [position[id(p)] for p in x.parents] == [position_b[id(p)] for p in y.parents]
        np.testing.assert_array_equal(x.data, y.data, strict=True)
        np.testing.assert_array_equal(x.grad, y.grad, strict=True)
        assert type(x.data) is type(y.data) and type(x.grad) is type(y.grad)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
@given(steps=st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 50),
                                st.integers(0, 50)), min_size=1, max_size=12),
       scalar=st.booleans(), backward_before=st.booleans())
def test_a_graph_comes_back_the_same_and_backpropagates_the_same(
        roundtrip: Roundtrip, steps: list[tuple[str, int, int]], scalar: bool,
        backward_before: bool) -> None:
    nodes = build_graph(steps, scalar)
    root = nodes[-1] if nodes[-1].shape == () else nodes[-1].sum()
    if not root.requires_grad:
        return
    if backward_before:
        root.backward()
    loaded = roundtrip(root)
    assert_same_graph(root, loaded)
    root.backward()
    loaded.backward()
    assert_same_graph(root, loaded)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_20000_step_graph_pickles_and_copies(roundtrip: Roundtrip) -> None:
    x = Value(np.array([1.0, 2.0]), label="x")
    y = x
    for _ in range(20_000):
        y = (y * 1.00001).tanh() + x * 0.5
    root = y.sum()
    loaded = roundtrip(root)
    loaded.backward()
    root.backward()
    new_x = nodes_of(loaded)[0]
    assert new_x.label == "x" and new_x is not x
    np.testing.assert_array_equal(new_x.grad, x.grad, strict=True)
    assert loaded.data == root.data


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_values_pickled_together_keep_sharing_their_nodes(roundtrip: Roundtrip) -> None:
    x = Value(2.0, label="x")
    y = (x * 2).tanh() + x ** Value(3.0)
    for together in ([y, x], [x, y]):
        loaded = roundtrip(together)
        new_y, new_x = loaded if together[0] is y else loaded[::-1]
        assert new_x in nodes_of(new_y)  # the same leaf, not a copy of it
        new_y.backward()
        y.backward()
        assert new_x.grad == x.grad
        x.zero_grad()


def backward_refused(root: Value) -> bool:
    try:
        root.backward()
    except RuntimeError as error:
        assert "changed after the graph was recorded" in str(error)
        return True
    return False


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
@given(steps=st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 50),
                                st.integers(0, 50)), min_size=2, max_size=10),
       scalar=st.booleans(), change=st.tuples(st.integers(0, 10), st.integers(0, 2),
                                              st.booleans()),
       split=st.integers(1, 9), older_first=st.booleans())
def test_a_copy_refuses_backward_where_the_original_does(
        roundtrip: Roundtrip, steps: list[tuple[str, int, int]], scalar: bool,
        change: tuple[int, int, bool], split: int, older_first: bool) -> None:
    """A leaf's data changes between two steps (rebound, or an array edited in place), and two
    roots, one made before the end, are copied together: a copy refuses backward() exactly
    where its original does, and backpropagates the same where it does not. (Before, every
    copy backpropagated the changed data through the graph recorded with the old: for
    y = w·w recorded at w = 2, then w.data = 3, it gave w.grad = 6 beside y = 4.)"""
    at, leaf, in_place = change

    def change_data(k: int, nodes: list[Value]) -> None:
        if k == min(at, len(steps)):
            if in_place and not scalar:
                cast(Array, nodes[leaf].data)[0] += 0.25
            else:
                nodes[leaf].data = nodes[leaf].data + 0.25

    nodes = build_graph(steps, scalar, change_data)
    roots = [node if node.shape == () else node.sum()
             for node in (nodes[3 + min(split, len(steps) - 1)], nodes[-1])]
    if not all(root.requires_grad for root in roots):
        return
    order = roots if older_first else roots[::-1]
    copies = roundtrip(order)
    for root, loaded in zip(order, copies, strict=True):
        assert backward_refused(loaded) == backward_refused(root)

    def leaves(roots: list[Value]) -> dict[str, Any]:  # (shared by both graphs: their grads)
        return {node.label: node.grad for root in roots for node in nodes_of(root)
                if node.label.startswith("leaf")}

    theirs, ours = leaves(order), leaves(copies)
    assert theirs.keys() == ours.keys()
    for label, grad in theirs.items():
        np.testing.assert_array_equal(ours[label], grad, strict=True)


def test_each_primitive_pickles_by_its_registry_name() -> None:
    for prim in ops.REGISTRY.values():
        assert pickle.loads(pickle.dumps(prim)) is prim
        assert copy.deepcopy(prim) is prim
    assert b"lambda" not in pickle.dumps(Value(2.0) * 2)


def test_a_model_pickles_and_computes_the_same() -> None:
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    loss = (model([1.0, -1.0]) - 1.0) ** 2
    loss.backward()
    for loaded in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert loaded([0.5, 0.25]).data == model([0.5, 0.25]).data
        for (name, p), (_, q) in zip(model.named_parameters(), loaded.named_parameters(),
                                     strict=True):
            np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


def test_copy_copy_is_a_new_node_of_the_same_graph() -> None:
    x = Value(2.0)
    y = x * 3.0
    z = copy.copy(y)
    assert z is not y and z.op is y.op and z.parents == y.parents and z.data == 6.0
    z.backward()
    assert x.grad == 3.0

# ---- conversions


def test_np_array_of_a_value_is_a_float64_array() -> None:
    v = Value([1.0, 2.0])
    array = np.array(v)
    assert array.dtype == np.float64 and array.tolist() == [1.0, 2.0]
    array[0] = 5.0
    assert cast(Array, v.data).tolist() == [1.0, 2.0]  # a copy
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


# ---- numpy's functions given a Value, `in`, format specs, numbers numpy keeps as objects

M = np.array([[1.0, -2.0, 3.0], [4.0, 0.5, -6.0]])
NumpyCall = Callable[[Any], Any]
# numpy's call on a Value, and the same computed by the Value's own operations
WITH_EQUIVALENTS: dict[str, tuple[NumpyCall, NumpyCall]] = {
    "sum": (lambda v: np.sum(v, axis=0, keepdims=True), lambda v: v.sum(axis=0, keepdims=True)),
    "mean": (lambda v: np.mean(v, 1), lambda v: v.mean(1)),
    "max": (np.max, lambda v: v.max()),
    "amin": (lambda v: np.amin(v, axis=0), lambda v: v.min(axis=0)),
    "var": (lambda v: np.var(v, ddof=1), lambda v: v.var(ddof=1)),
    "std": (lambda v: np.std(v, axis=1), lambda v: v.std(axis=1)),
    "clip": (lambda v: np.clip(v, -1.0, 2.0), lambda v: v.clip(-1.0, 2.0)),
    "clip, keywords": (lambda v: np.clip(v, max=2.0), lambda v: v.clip(max=2.0)),
    "reshape": (lambda v: np.reshape(v, (3, 2)), lambda v: v.reshape(3, 2)),
    "reshape, -1": (lambda v: np.reshape(v, -1), lambda v: v.reshape(-1)),
    "ravel": (np.ravel, lambda v: v.reshape(-1)),
    "transpose": (np.transpose, lambda v: v.T),
    "squeeze": (lambda v: np.squeeze(v[:1]), lambda v: v[0]),
    "expand_dims": (lambda v: np.expand_dims(v, 1), lambda v: v.unsqueeze(1)),
    "broadcast_to": (lambda v: np.broadcast_to(v[0], (2, 2, 3)),
                     lambda v: v[0].broadcast_to((2, 2, 3))),
    "concatenate": (lambda v: np.concatenate([v, M], axis=1),
                    lambda v: tinygrad_edu.concatenate([v, M], axis=1)),
    "stack": (lambda v: np.stack([v, v * 2.0]), lambda v: tinygrad_edu.stack([v, v * 2.0])),
    "where": (lambda v: np.where(M > 0, v, 0.0), lambda v: tinygrad_edu.where(M > 0, v, 0.0)),
    "dot, matrices": (lambda v: np.dot(v, M.T), lambda v: v @ M.T),
    "dot, vectors": (lambda v: np.dot(v[0], v[1]), lambda v: (v[0] * v[1]).sum()),
    "dot, a number": (lambda v: np.dot(2.0, v), lambda v: 2.0 * v),
}


@pytest.mark.parametrize("name", WITH_EQUIVALENTS)
def test_numpy_functions_with_an_equivalent_give_a_value_and_its_gradient(name: str) -> None:
    """`np.clip(v, ...)` and the like gave a plain array, and the gradient through it was
    silently lost (v.grad stayed 0); they now run the Value's own operation."""
    by_numpy, own = WITH_EQUIVALENTS[name]
    x, y = Value(M.copy()), Value(M.copy())
    out, expected = by_numpy(x), own(y)
    assert isinstance(out, Value) and out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected.data)
    upstream = np.random.default_rng(0).normal(size=out.shape)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    np.testing.assert_array_equal(x.grad, y.grad)
    assert np.any(x.grad != 0.0)


def test_numpy_functions_refuse_what_the_value_has_not() -> None:
    v = Value([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"np\.sum on a Value takes only a, axis, keepdims; "
                                        r"got out="):
        np.sum(v, out=np.empty(()))
    with pytest.raises(TypeError, match="dtype="):
        np.mean(v, dtype=np.float32)


def test_numpy_functions_take_a_default_given_as_it_is() -> None:
    """``dtype=None``, ``out=None``: numpy's defaults, given by name, ask for nothing the
    Value has not (they were refused as unknown parameters)."""
    v = Value([[1.0, 2.0], [3.0, 4.0]])
    total, mean = np.sum(v, axis=0, dtype=None, out=None), np.mean(v, out=None)
    assert isinstance(total, Value) and cast(Array, total.data).tolist() == [4.0, 6.0]
    assert isinstance(mean, Value) and mean.data == 2.5


@pytest.mark.parametrize("call", [np.linalg.norm, np.round, np.copy, np.cumsum,
                                  lambda v: np.histogram(v, bins=2)])
def test_a_numpy_function_without_an_equivalent_refuses_to_drop_the_gradient(
        call: NumpyCall) -> None:
    """Its numbers would carry no gradient; PyTorch refuses too. With no gradient to lose
    (no_grad, a constant) or a result of integers or booleans, numpy's result comes back."""
    v = Value([3.0, -4.0, 0.5])
    with pytest.raises(TypeError, match=r"np\.\S+ has no Value equivalent.*v\.data"):
        call(v)
    expected = call(v.data)
    with tinygrad_edu.no_grad():
        got = call(v)
    constant = call(Value([3.0, -4.0, 0.5], requires_grad=False))
    for result in (got, constant):
        for a, b in zip(_parts(result), _parts(expected), strict=True):
            np.testing.assert_array_equal(a, b)


def _parts(result: Any) -> tuple[Any, ...]:
    """A numpy result as a tuple (np.histogram gives two arrays)."""
    return result if isinstance(result, tuple) else (result,)


def test_numpy_functions_of_integer_or_boolean_results_run_on_the_data() -> None:
    v = Value([3.0, -4.0, 0.5])
    assert np.allclose(v, [3.0, -4.0, 0.5]) and np.array_equal(v, v)
    assert np.argsort(v).tolist() == [1, 2, 0] and np.argmax(v) == 0
    assert np.shape(Value(M)) == (2, 3) and np.ndim(v) == 1
    assert np.where(v)[0].tolist() == [0, 1, 2]  # (one argument: the indices)
    np.testing.assert_allclose(v, [3.0, -4.0, 0.5])


def test_in_compares_the_data_as_for_a_tensor() -> None:
    """`2.0 in Value([1, 2, 3])` was False (Python's fallback compares with ==, which is
    identity for Values)."""
    v = Value([[1.0, 2.0], [3.0, 4.0]])
    assert 2.0 in v and 4 in v and 5.0 not in v and Value(3.0) in v
    assert 2.0 in Value(2.0) and 1.0 not in Value(2.0)
    with pytest.raises(TypeError, match="looks for a number"):
        assert "a" in v


def test_a_format_spec_formats_the_number_held() -> None:
    """f"{loss:.4f}", as for a one-element tensor; it raised 'unsupported format string'."""
    assert f"{Value(2.0):.3f}" == "2.000" and f"{Value([[0.25]]):>7.1%}" == "  25.0%"
    assert f"{Value(2.0)}" == str(Value(2.0))
    with pytest.raises(ValueError, match=r"one element; this one has shape \(2,\)"):
        f"{Value([1.0, 2.0]):.2f}"


@pytest.mark.parametrize(("data", "expected"), [
    (Fraction(1, 4), 0.25), (Decimal("2.5"), 2.5), ([Fraction(1, 2), 2], [0.5, 2.0]),
    (range(3), [0.0, 1.0, 2.0]), (array.array("d", [1.5, 2.0]), [1.5, 2.0]),
    ([2**64], [2.0**64]), ([1, -(2**63) - 1], [1.0, -(2.0**63)]),
])
def test_numbers_numpy_keeps_as_objects_are_data(data: Any, expected: Any) -> None:
    """torch.tensor takes each of these; they were refused ("an array of dtype object")."""
    got = Value(data).data
    assert np.asarray(got).tolist() == expected


@pytest.mark.parametrize("data", [[None, 1], [2**64, None], [Fraction(1, 2), "a"]])
def test_objects_that_are_not_numbers_are_still_refused(data: Any) -> None:
    with pytest.raises(TypeError, match="numbers only"):
        Value(data)


def test_an_int_too_large_for_a_float_in_a_list_says_so() -> None:
    with pytest.raises(ValueError, match="too large for a float"):
        Value([1, 10**400])


def test_comparing_with_what_is_no_number_is_unsupported() -> None:
    with pytest.raises(TypeError, match="'<' not supported between instances of 'Value'"):
        assert Value([1.0, 2.0]) < "a"
    with pytest.raises(TypeError, match="a scalar Value cannot be iterated"):
        list(Value(2.0))


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


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=IDS)
def test_a_gradient_array_nodes_share_is_shared_by_none_in_the_copy(roundtrip: Roundtrip) -> None:
    """The fast pass gives y, h1 and h2 of y = h1 + h2 one gradient array, read-only (each
    node's own copy when read), so an edit never leaks; in a copy it was writeable, and
    ``h1.grad *= 0.5`` changed the copy's y.grad and h2.grad too."""
    a, b = Value([1.0, 2.0]), Value([3.0, 4.0])
    h1, h2 = a * 2.0, b * 3.0
    y = h1 + h2
    y.backward(np.ones(2))
    new_y, new_h1, new_h2 = roundtrip([y, h1, h2])
    new_h1.grad *= 0.5
    assert new_h1.grad.tolist() == [0.5, 0.5]
    for node in (new_y, new_h2, y, h1, h2):
        assert node.grad.tolist() == [1.0, 1.0]
