"""Edges of tinygrad_edu.datasets and tinygrad_edu.idx: arguments that used to give silent
nonsense (inf or nan points, a wrong split size, images of two sizes) or a bare numpy error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn.datasets
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.datasets import (
    MNIST_FILES,
    DataLoader,
    load_mnist,
    logic_gate,
    make_circles,
    make_moons,
    make_spiral,
    train_test_split,
)
from tinygrad_edu.idx import read_idx, write_idx


@pytest.mark.parametrize(("make", "message"), [
    (lambda: make_moons(10, noise=float("inf")), "make_moons: noise .* got inf"),
    (lambda: make_circles(10, noise=float("inf")), "make_circles: noise .* got inf"),
    (lambda: make_spiral(10, noise=float("inf")), "make_spiral: noise .* got inf"),
    (lambda: make_moons(10, noise=True), "noise must be a non-negative number; got True"),
    (lambda: make_spiral(10, turns=float("inf")), "turns must be a positive number; got inf"),
    (lambda: make_spiral(10, turns=1e308), "turns must be a positive number; got 1e"),
    (lambda: make_spiral(10, turns=True), "turns must be a positive number; got True"),
    (lambda: make_moons(1000, noise=1e308, seed=0), "^make_moons: noise=1e[+]308 is too large"),
    (lambda: make_spiral(4, noise=1e308, seed=0), "^make_spiral: noise=1e[+]308 is too large"),
])
def test_noise_and_turns_that_give_no_finite_points_are_refused(make: Any, message: str) -> None:
    # (inf or nan points came back, silently; True was taken as 1)
    with pytest.raises(ValueError, match=message):
        make()


def test_noise_may_be_a_numpy_integer_as_a_python_one() -> None:
    # (np.int64(1) was refused while 1 was accepted)
    a = make_moons(20, noise=np.int64(1), seed=0)[0]  # type: ignore[arg-type]
    np.testing.assert_array_equal(a, make_moons(20, noise=1, seed=0)[0])


def test_a_gate_name_that_is_no_string_is_named_in_a_value_error() -> None:
    # (a list raised a bare "TypeError: unhashable type: 'list'")
    with pytest.raises(ValueError, match=r"unknown logic gate \['and'\]; known gates"):
        logic_gate(["and"])  # type: ignore[arg-type]


@given(n=st.integers(1, 120), factor=st.floats(0.05, 0.95))
@settings(max_examples=40, deadline=None)
def test_noiseless_points_are_scikit_learns(n: int, factor: float) -> None:
    """A regression test: the same points and labels as scikit-learn's, odd n included."""
    def rows(X: Any, y: Any) -> list[tuple[float, ...]]:
        rounded: list[list[float]] = np.column_stack([X, y]).round(9).tolist()
        return sorted(tuple(row) for row in rounded)
    X, y = make_moons(n, noise=0.0, seed=0)
    assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape == (n, 2)
    assert rows(X, y) == rows(*sklearn.datasets.make_moons(n, noise=0.0, shuffle=False))
    X, y = make_circles(n, noise=0.0, factor=factor, seed=0)
    theirs = sklearn.datasets.make_circles(n, noise=0.0, factor=factor, shuffle=False)
    assert rows(X, y) == rows(*theirs)


@pytest.mark.parametrize("fraction", [np.float32(0.3), np.float32(0.7), np.float16(0.3)])
def test_a_numpy_fraction_counts_as_the_number_it_shows(fraction: Any) -> None:
    # (float32(0.3) is 0.30000001...: ⌈0.30000001·10⌉ put 4 of 10 samples in the test part)
    X, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    parts = train_test_split(X, y, test_size=fraction, stratify=False, seed=0)
    assert len(parts.X_test) == round(float(fraction) * 10)


def test_labels_that_do_not_sort_are_named_when_stratifying() -> None:
    # (numpy's "'<' not supported between instances of 'NoneType' and 'int'", before)
    X, y = np.zeros((6, 2)), np.array([None, 1, None, 1, None, 1], dtype=object)
    with pytest.raises(ValueError, match=r"do not compare: \[None, 1, None, 1, None\] ... "
                                         r"\(pass stratify=False\)"):
        train_test_split(X, y, seed=0)
    assert len(train_test_split(X, y, stratify=False, seed=0).y_test) == 2


def _mnist_folder(folder: Path, train: tuple[int, ...], test: tuple[int, ...]) -> Path:
    for part, shape in (("X_train", train), ("X_test", test)):
        write_idx(folder / MNIST_FILES[part], np.zeros(shape, dtype=np.uint8))
        labels = np.arange(shape[0], dtype=np.uint8) % 10
        write_idx(folder / MNIST_FILES["y" + part[1:]], labels)
    return folder


@pytest.mark.parametrize("scale", ["unit", "standard", None])
def test_training_and_test_images_of_two_sizes_are_refused(tmp_path: Path, scale: Any) -> None:
    # (784 features for training and 1024 for testing, silently; or numpy's broadcast error)
    folder = _mnist_folder(tmp_path, (3, 28, 28), (2, 32, 32))
    with pytest.raises(ValueError, match=r"^load_mnist: the training and the test images differ "
                                         r"in size: \(28, 28\) and \(32, 32\) pixels"):
        load_mnist(folder, scale=scale)


def test_a_test_file_of_no_images_gives_no_rows(tmp_path: Path) -> None:
    # (numpy: "cannot reshape array of size 0 into shape (0,newaxis)")
    split = load_mnist(_mnist_folder(tmp_path, (3, 4, 5), (0, 4, 5)), scale=None)
    assert split.X_train.shape == (3, 20) and split.X_test.shape == (0, 20)
    assert split.y_test.shape == (0,) and split.y_test.dtype == np.int64


def test_an_idx_header_of_no_dimensions_is_refused_as_write_idx_refuses_it(
        tmp_path: Path) -> None:
    # (it was read as a 0-d array, which write_idx cannot write back)
    path = tmp_path / "scalar-idx0-ubyte"
    path.write_bytes(bytes([0, 0, 8, 0, 7]))
    with pytest.raises(ValueError, match="claims 0 dimensions; an IDX file has 1 to 8 here"):
        read_idx(path)
    with pytest.raises(ValueError, match="1 to 8 dimensions"):
        write_idx(path, np.uint8(7))


@pytest.mark.parametrize("call", [
    lambda: train_test_split(np.zeros((2, 2)), [[1], [0, 1]]),
    lambda: DataLoader((np.zeros((2, 2)), [[1], [0, 1]]), batch_size=1),
], ids=["train_test_split", "DataLoader"])
def test_a_ragged_array_is_named(call: Callable[[], object]) -> None:
    """numpy's "inhomogeneous shape" named neither the function nor the argument."""
    with pytest.raises(ValueError, match=r"^(train_test_split: y|DataLoader: array 1) must be an "
                                         r"array with one row per sample; got \[\[1\], \[0, 1\]\]"):
        call()
